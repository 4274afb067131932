/*
 * Registers of a thread suspended while it runs on another CPU.
 *
 * Bug fixed: thread.suspend of a thread running in ring 3 on another CPU
 * returned at once; that CPU saved the thread's registers only when the
 * interrupt brought it into the kernel, over the ones thread.write_regs
 * had written meanwhile, and the thread went on where it was (found while
 * writing the system-call fuzzer, user/apps/scfuzz). suspend now returns
 * only once the thread has left that CPU.
 */
#include "utest.h"

struct remote {
	volatile uint64_t count;
	volatile int landed;
};

static void spin_remote(void *arg)
{
	struct remote *r = arg;

	for (;;)
		r->count++;
}

/* Where write_regs sends the suspended thread: rdi = the struct remote. */
static void land(struct remote *r)
{
	r->landed = 1;
	for (;;)
		__asm__ volatile("pause");
}

static uint64_t ms_tsc(uint64_t ms)
{
	return rt_self.bi->tsc_hz / 1000 * ms;
}

UTEST(suspend_remote, write_regs_after_suspending_a_thread_running_on_another_cpu)
{
	if (rt_self.bi->ncpus < 2)
		return; /* nothing to check on one CPU */
	for (int round = 0; round < 10; round++) {
		static struct remote r;
		r = (struct remote){0, 0};
		uint8_t *stack = ut_page(t, NULL);
		hl_cptr_t tcb = ut_thread_new(t, spin_remote, &r, 10);
		if (!UCHECK(t, stack && tcb) ||
		    !UCHECK(t, hl_thread_set_affinity(tcb, 1) == HL_OK) ||
		    !UCHECK(t, hl_thread_resume(tcb) == HL_OK))
			return;
		for (uint64_t end = ut_rdtsc() + ms_tsc(1000); r.count < 1000 && ut_rdtsc() < end;)
			;
		UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
		UEXPECT_ERR(t,
		            hl_thread_write_regs(tcb, (hl_word_t)land,
		                                 (hl_word_t)(stack + 4096 - 8), (hl_word_t)&r, 0),
		            HL_OK);
		UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
		for (uint64_t end = ut_rdtsc() + ms_tsc(1000); !r.landed && ut_rdtsc() < end;)
			;
		hl_word_t rip = 0;
		hl_thread_read_regs(tcb, &rip, NULL, NULL, NULL);
		UEXPECT(
		    t, r.landed,
		    "round %d: the thread went on where it was suspended (rip %#lx, land at %p)",
		    round, rip, (void *)land);
		hl_thread_suspend(tcb);
		if (!r.landed)
			return;
	}
}
