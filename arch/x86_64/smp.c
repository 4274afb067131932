/* AP start-up (INIT-SIPI-SIPI), per-CPU bring-up and IPI function calls. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/paging.h>
#include <arch/platform.h>
#include <arch/trap.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/main.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/pmm.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <lib/string.h>

#define TRAMP_PHYS 0x8000

extern char tramp_start[], tramp_end[], tramp_params[];

/* Serializes smp_call(). Not a spinlock: waiting must keep interrupts on so
 * that two CPUs calling each other still answer each other's IPIs. */
static volatile uint32_t call_busy;

static void ipi_call_handler(struct trap_frame *tf)
{
	struct cpu *c = this_cpu();
	(void)tf;
	c->ipi_count++;
	void (*fn)(void *) = c->call_fn;
	if (fn) {
		c->call_fn = NULL;
		fn(c->call_arg);
		__atomic_store_n(&c->call_done, 1, __ATOMIC_RELEASE);
	}
}

static void ipi_halt_handler(struct trap_frame *tf)
{
	(void)tf;
	irq_disable();
	for (;;)
		cpu_halt();
}

/* First C code on an AP: per-CPU state, tables, APIC; then idle. */
__noreturn void smp_ap_entry(struct cpu *c)
{
	percpu_init_cpu(c);
	cpu_enable_protections();
	trap_init_cpu();
	lapic_init_cpu();
	syscall_init_cpu();
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
	cpu_idle_loop();
}

static void tramp_param(int slot, uint64_t v)
{
	uint64_t *p = phys_to_virt(TRAMP_PHYS + (tramp_params - tramp_start));
	p[slot] = v;
}

static bool wait_online(struct cpu *c, uint64_t us)
{
	for (uint64_t t = 0; t < us; t += 100) {
		if (__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
			return true;
		time_udelay(100);
	}
	return false;
}

/* INIT, then up to two SIPIs, as the MP specification's start-up sequence. */
static bool start_ap(struct cpu *c)
{
	vaddr_t stack = vm_alloc_kstack(KSTACK_SIZE);

	if (!stack)
		return false;
	c->kstack_top = stack;
	tramp_param(1, stack);
	tramp_param(2, (uint64_t)c);
	lapic_send_init(c->apic_id);
	time_udelay(10000);
	for (int i = 0; i < 2; i++) {
		lapic_send_sipi(c->apic_id, TRAMP_PHYS >> 12);
		if (wait_online(c, i == 0 ? 1000 : 1000000))
			return true;
	}
	return false;
}

static bool tramp_map(bool map)
{
	if (map)
		return pt_map(vm_kernel_env(), kernel_pml4, TRAMP_PHYS, TRAMP_PHYS, PAGE_SIZE, 0) ==
		       PT_OK;
	return pt_unmap(vm_kernel_env(), kernel_pml4, TRAMP_PHYS, NULL, NULL) == PT_OK;
}

uint32_t smp_init(void)
{
	uint32_t bsp = lapic_id(), n = 1;

	irq_register(VEC_IPI_CALL, ipi_call_handler);
	irq_register(VEC_IPI_HALT, ipi_halt_handler);
	if (!acpi.ncpus || kernel_pml4 >= (4ul << 30) || !pmm_range_known(TRAMP_PHYS, PAGE_SIZE) ||
	    !tramp_map(true)) {
		pr_warn("smp: cannot start other processors (no MADT or no trampoline page)");
		return ncpus_online = 1;
	}
	memcpy(phys_to_virt(TRAMP_PHYS), tramp_start, tramp_end - tramp_start);
	tramp_param(0, kernel_pml4);
	tramp_param(3, (uint64_t)smp_ap_entry);
	tramp_param(4, rdmsr(MSR_EFER));
	for (uint32_t i = 0; i < acpi.ncpus && n < MAX_CPUS; i++) {
		if (acpi.cpus[i].apic_id == bsp)
			continue;
		struct cpu *c = &cpus[n];
		c->index = n;
		c->apic_id = acpi.cpus[i].apic_id;
		if (start_ap(c))
			n++;
		else
			pr_warn("smp: cpu with APIC id %u did not start", c->apic_id);
	}
	if (!tramp_map(false))
		pr_warn("smp: trampoline unmap failed");
	ncpus_online = n;
	return n;
}

bool smp_call(uint32_t cpu, void (*fn)(void *), void *arg)
{
	if (cpu >= ncpus_online || !cpus[cpu].online)
		return false;
	if (cpu == cpu_index()) {
		fn(arg);
		return true;
	}
	struct cpu *c = &cpus[cpu];
	while (__atomic_exchange_n(&call_busy, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
	c->call_done = 0;
	c->call_arg = arg;
	__atomic_store_n(&c->call_fn, fn, __ATOMIC_RELEASE);
	lapic_send_ipi(c->apic_id, VEC_IPI_CALL);
	bool done = false;
	for (uint64_t spin = 0; spin < 2000000000ull && !done; spin++) {
		done = __atomic_load_n(&c->call_done, __ATOMIC_ACQUIRE);
		cpu_relax();
	}
	__atomic_store_n(&call_busy, 0, __ATOMIC_RELEASE);
	return done;
}

uint32_t smp_call_all(void (*fn)(void *), void *arg)
{
	uint32_t ran = 0;

	for (uint32_t i = 0; i < ncpus_online; i++)
		if (smp_call(i, fn, arg))
			ran++;
	return ran;
}

void smp_halt_others(void)
{
	for (uint32_t i = 0; i < ncpus_online; i++)
		if (cpus[i].online && i != cpu_index())
			lapic_send_ipi(cpus[i].apic_id, VEC_IPI_HALT);
}
