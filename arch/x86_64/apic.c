/* Local APIC in xAPIC (MMIO) or x2APIC (MSR) mode, the legacy PIC, IPIs and the timer. */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/klog.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/time.h>
#include <kernel/vm.h>

#define REG_ID           0x20
#define REG_EOI          0xb0
#define REG_SVR          0xf0
#define REG_ICR_LO       0x300
#define REG_ICR_HI       0x310
#define REG_LVT_TMR      0x320
#define REG_TMR_INIT     0x380
#define REG_TMR_CUR      0x390
#define REG_TMR_DIV      0x3e0
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_X2     (1ull << 10)

static volatile uint32_t *xapic; /* [I] MMIO registers when not x2APIC */
static bool x2;                  /* [I] */
static uint64_t apic_timer_hz;   /* [I] APIC count-mode frequency (no TSC deadline) */

static uint32_t rd(uint32_t reg)
{
	return x2 ? (uint32_t)rdmsr(0x800 + (reg >> 4)) : xapic[reg / 4];
}

static void wr(uint32_t reg, uint32_t v)
{
	if (x2)
		wrmsr(0x800 + (reg >> 4), v);
	else
		xapic[reg / 4] = v;
}

void pic_disable(void)
{
	/* Remap to 0x20/0x28 first so stray legacy IRQs cannot look like exceptions. */
	outb(0x20, 0x11), outb(0xa0, 0x11);
	outb(0x21, 0x20), outb(0xa1, 0x28);
	outb(0x21, 4), outb(0xa1, 2);
	outb(0x21, 1), outb(0xa1, 1);
	outb(0x21, 0xff), outb(0xa1, 0xff);
}

bool lapic_is_x2apic(void)
{
	return x2;
}

void lapic_init(uint64_t phys)
{
	x2 = cpu_feat.x2apic;
	if (!x2) {
		xapic = vm_map_mmio(phys ? phys : 0xfee00000, PAGE_SIZE);
		if (!xapic)
			panic("apic: cannot map the local APIC");
	}
	pr_info("apic: local APIC in %s mode", x2 ? "x2APIC" : "xAPIC");
}

void lapic_init_cpu(void)
{
	uint64_t base = rdmsr(MSR_APIC_BASE) | APIC_BASE_ENABLE;

	/* Disabled -> xAPIC -> x2APIC: the SDM allows no direct step from disabled. */
	wrmsr(MSR_APIC_BASE, base);
	if (x2)
		wrmsr(MSR_APIC_BASE, base | APIC_BASE_X2);
	wr(REG_SVR, 0x100 | VEC_SPURIOUS);
	wr(REG_LVT_TMR, 1u << 16); /* masked until armed */
}

uint32_t lapic_id(void)
{
	return x2 ? rd(REG_ID) : rd(REG_ID) >> 24;
}

void lapic_eoi(void)
{
	wr(REG_EOI, 0);
}

static void send_icr(uint32_t apic_id, uint32_t lo)
{
	if (x2) {
		wrmsr(0x830, (uint64_t)apic_id << 32 | lo);
		return;
	}
	wr(REG_ICR_HI, apic_id << 24);
	wr(REG_ICR_LO, lo);
	for (int i = 0; i < 1000000 && (rd(REG_ICR_LO) & (1u << 12)); i++)
		cpu_relax();
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
	send_icr(apic_id, vector | (1u << 14));
}

void lapic_send_init(uint32_t apic_id)
{
	send_icr(apic_id, 0x500 | (1u << 14) | (1u << 15)); /* INIT, assert, level */
}

void lapic_send_sipi(uint32_t apic_id, uint8_t page)
{
	send_icr(apic_id, 0x600 | page | (1u << 14));
}

bool lapic_timer_uses_deadline(void)
{
	return cpu_feat.tsc_deadline && tsc_hz;
}

/* Calibrate the APIC count mode against the TSC (only without TSC deadline). */
static void apic_timer_calibrate(void)
{
	wr(REG_TMR_DIV, 0xb); /* divide by 1 */
	wr(REG_LVT_TMR, 1u << 16);
	wr(REG_TMR_INIT, 0xffffffff);
	time_udelay(10000);
	uint32_t used = 0xffffffff - rd(REG_TMR_CUR);
	wr(REG_TMR_INIT, 0);
	apic_timer_hz = (uint64_t)used * 100;
	pr_info("apic: timer count mode at %lu kHz", apic_timer_hz / 1000);
}

void arch_timer_oneshot_ns(uint64_t ns)
{
	if (lapic_timer_uses_deadline()) {
		wr(REG_LVT_TMR, VEC_TIMER | (2u << 17)); /* TSC-deadline mode */
		__asm__ volatile("mfence" ::: "memory");
		wrmsr(MSR_TSC_DEADLINE, rdtsc() + ns * (tsc_hz / 1000) / 1000000 + 1);
		return;
	}
	if (!apic_timer_hz)
		apic_timer_calibrate();
	uint64_t count = ns * (apic_timer_hz / 1000) / 1000000;
	wr(REG_TMR_DIV, 0xb);
	wr(REG_LVT_TMR, VEC_TIMER);
	wr(REG_TMR_INIT, (uint32_t)MAX(MIN(count, 0xffffffffull), 1ull));
}
