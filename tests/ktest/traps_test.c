/* ktest suite "traps": exceptions are caught, reported and survivable in tests. */
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/ktest.h>
#include <kernel/layout.h>

extern char boot_stack_guard[];

static int catch_read(volatile uint64_t *p, struct fault_catch *fc)
{
	int r = fault_catch(fc);

	if (r == 0) {
		fault_catch_arm(fc);
		(void)*p;
		fault_catch_disarm();
	}
	return r;
}

KTEST(traps, page_fault_caught_and_reported)
{
	struct fault_catch fc;
	int r = catch_read((volatile uint64_t *)0xffffc0fffff00008ul, &fc); /* unmapped */

	KEXPECT(t, r == VEC_PF + 1, "r=%d", r);
	KEXPECT(t, fc.cr2 == 0xffffc0fffff00008ul, "cr2=%#lx", fc.cr2);
	KEXPECT(t, (fc.error & 1) == 0, "not-present fault expected, error %#lx", fc.error);
}

KTEST(traps, guard_page_faults)
{
	struct fault_catch fc;
	int r = catch_read((volatile uint64_t *)boot_stack_guard, &fc);

	KEXPECT(t, r == VEC_PF + 1 && fc.cr2 == (uint64_t)boot_stack_guard);
}

KTEST(traps, write_to_text_faults)
{
	extern char __text_start[];
	struct fault_catch fc;
	int r = fault_catch(&fc);

	if (r == 0) {
		fault_catch_arm(&fc);
		*(volatile char *)__text_start = 0;
		fault_catch_disarm();
	}
	KEXPECT(t, r == VEC_PF + 1 && (fc.error & 3) == 3, "r=%d err=%#lx", r, fc.error);
}

KTEST(traps, invalid_opcode_caught)
{
	struct fault_catch fc;
	int r = fault_catch(&fc);

	if (r == 0) {
		fault_catch_arm(&fc);
		__asm__ volatile("ud2");
		fault_catch_disarm();
	}
	KEXPECT(t, r == 6 + 1, "r=%d", r);
}

KTEST(traps, divide_error_caught)
{
	struct fault_catch fc;
	volatile uint64_t zero = 0;
	int r = fault_catch(&fc);

	if (r == 0) {
		fault_catch_arm(&fc);
		uint64_t lo = 1, hi = 0;
		__asm__ volatile("divq %2" : "+a"(lo), "+d"(hi) : "r"(zero));
		fault_catch_disarm();
	}
	KEXPECT(t, r == 0 + 1, "r=%d", r);
}

KTEST(traps, interrupts_still_work_after_faults)
{
	KEXPECT(t, read_rflags() & (1u << 9), "IF lost after a caught fault");
}

/* The bug Bochs found: stac and clac are #UD without SMAP; the helpers must leave RFLAGS.AC alone
 * there. */
KTEST(traps, user_access_helpers_without_smap_do_nothing)
{
	bool smap = cpu_feat.smap;

	cpu_feat.smap = false;
	stac();
	bool ac = read_rflags() & (1u << 18);
	clac();
	cpu_feat.smap = smap;
	KEXPECT(t, !ac, "stac ran with SMAP treated as absent");
	if (smap) {
		stac();
		ac = read_rflags() & (1u << 18);
		clac();
		KEXPECT(t, ac && !(read_rflags() & (1u << 18)), "stac/clac with SMAP");
	}
}
