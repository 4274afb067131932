/*
 * Run queues and the short thread switch, shared by the scheduler
 * (kernel/sched.c) and the system-call fastpaths (kernel/fastpath.c).
 * Everything here runs under the big kernel lock.
 */
#ifndef KERNEL_RUNQ_H
#define KERNEL_RUNQ_H

#include <arch/cpu.h>
#include <kernel/aspace.h>
#include <kernel/bkl.h>
#include <kernel/percpu.h>
#include <kernel/thread.h>
#include <kernel/vm.h>

#define SLICE_NS 2000000 /* round-robin slice between equal priorities */

/* A queued thread runs on no CPU (on_cpu 0): a CPU queues the thread it leaves only after letting go of it. */
struct runq {
	struct thread *head[256], *tail[256]; /* per priority, linked through qnext/qprev */
	uint64_t bitmap[4]; /* priorities with a queued thread */
	uint32_t count;
	uint64_t timer_deadline; /* TSC the one-shot timer is armed for, 0 = none */
	struct thread *throttled; /* out of budget, waiting for replenishment (qnext list) */
};

extern struct runq rqs[MAX_CPUS]; /* indexed by CPU */
extern uint64_t slice_tsc; /* [I] SLICE_NS in TSC ticks */

/* Arm this CPU's timer for the slice, budget or replenishment t (running next) needs, if any. */
void sched_arm_timer(struct cpu *c, struct thread *t);
__noreturn void arch_return_to_user(struct thread *t);

/* Highest priority with a queued thread, -1 if none. */
static __always_inline int rq_top(const struct runq *q)
{
	for (int w = 3; w >= 0; w--)
		if (q->bitmap[w])
			return w * 64 + 63 - __builtin_clzll(q->bitmap[w]);
	return -1;
}

/* No thread of a priority above p is queued. */
static __always_inline bool rq_none_above(const struct runq *q, uint8_t p)
{
	if (q->bitmap[p / 64] & (~1ull << (p % 64)))
		return false;
	switch (p / 64) {
	case 0:
		return !(q->bitmap[1] | q->bitmap[2] | q->bitmap[3]);
	case 1:
		return !(q->bitmap[2] | q->bitmap[3]);
	case 2:
		return !q->bitmap[3];
	default:
		return true;
	}
}

/* A one-shot timer is armed and due within a slice from now. */
static __always_inline bool slice_timer_pending(const struct runq *q)
{
	uint64_t now = rdtsc();
	return q->timer_deadline > now && q->timer_deadline <= now + slice_tsc;
}

/* Load as (or the kernel tables for NULL) on this CPU. */
static __always_inline void load_aspace(struct cpu *c, struct aspace *as)
{
	paddr_t root = as ? as->root : kernel_pml4;

	c->loaded_aspace = as;
	if (read_cr3() != root)
		write_cr3(root);
}

/*
 * Leave the kernel from the running thread from (a live thread, blocked or
 * queued) into to (runnable, unqueued, on no CPU, without a budget) on
 * this CPU (c, its run queue q): the scheduler's run() without the cases
 * that cannot arise. rival: a thread of to's priority is known to be
 * queued here (false: look).
 */
static __always_inline __noreturn void fast_switch(struct cpu *c, struct runq *q, struct thread *from, struct thread *to,
						   bool rival)
{
	c->current = to;
	c->need_resched = false;
	to->on_cpu = c->index + 1;
	from->on_cpu = 0;
	if (cpu_feat.xsave)
		__asm__ volatile("xsave64 %0\n\txrstor64 %1"
				 : "+m"(*from->xsave)
				 : "m"(*to->xsave), "a"(~0u), "d"(~0u)
				 : "memory");
	wrmsr(MSR_FS_BASE, to->regs.fs_base);
	load_aspace(c, to->aspace_slot.cap.type == HL_OBJ_ASPACE ? (struct aspace *)to->aspace_slot.cap.obj : NULL);
	/* A round-robin slice timer already pending serves (sched_arm_timer's common case, inline). */
	if (q->throttled || ((rival || q->head[to->priority]) && !slice_timer_pending(q)))
		sched_arm_timer(c, to);
	bkl_unlock();
	arch_return_to_user(to);
}

#endif
