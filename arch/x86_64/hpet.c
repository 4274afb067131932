/* HPET main counter: the reference clock for TSC calibration. */
#include <arch/apic.h>
#include <kernel/klog.h>
#include <kernel/vm.h>

#define HPET_CAP  0x00
#define HPET_CFG  0x10
#define HPET_MAIN 0xf0

static volatile uint64_t *hpet; /* [I] */
static uint64_t period_fs;      /* [I] femtoseconds per tick */

bool hpet_available(void)
{
	return hpet != NULL;
}

bool hpet_init(uint64_t phys)
{
	volatile uint64_t *regs = vm_map_mmio(phys, 0x400);

	if (!regs)
		return false;
	uint64_t cap = regs[HPET_CAP / 8];
	uint64_t fs = cap >> 32;
	if (fs == 0 || fs > 100000000) { /* spec: at most 100 ns per tick */
		pr_warn("hpet: implausible period %lu fs; ignored", fs);
		return false;
	}
	regs[HPET_CFG / 8] |= 1; /* ENABLE_CNF: counter runs */
	hpet = regs;
	period_fs = fs;
	pr_info("hpet: %lu.%03lu MHz, %s counter", 1000000000ul / fs, (1000000000000ul / fs) % 1000,
	        cap & (1u << 13) ? "64-bit" : "32-bit");
	return true;
}

uint64_t hpet_read_ns(void)
{
	uint64_t t = hpet[HPET_MAIN / 8];

	/* ticks * fs / 1e6 without 128-bit division: fs < 1e8, so no overflow. */
	return t / 1000000 * period_fs + t % 1000000 * period_fs / 1000000;
}
