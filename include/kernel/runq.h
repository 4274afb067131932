/*
 * Run queues and the short thread switch, shared by the scheduler
 * (kernel/sched.c) and the system-call fastpaths (kernel/fastpath.c).
 * Everything here runs under the big kernel lock.
 */
#ifndef KERNEL_RUNQ_H
#define KERNEL_RUNQ_H

#include <arch/arch.h>
#include <kernel/aspace.h>
#include <kernel/bkl.h>
#include <kernel/percpu.h>
#include <kernel/thread.h>
#include <kernel/vm.h>

#define SLICE_NS 2000000 /* round-robin slice between equal priorities */

/* A queued thread runs on no CPU (on_cpu 0): a CPU queues the thread it leaves only after letting
 * go of it. */
struct runq {
	struct thread *head[256], *tail[256]; /* per priority, linked through qnext/qprev */
	uint64_t bitmap[4];                   /* priorities with a queued thread */
	uint32_t count;
	uint16_t top1; /* highest priority with a queued thread, plus one (0: none); kept by
	                  rq_push/rq_remove */
	/*
	 * The timer below is due within a slice of when it was armed and no
	 * thread waits for replenishment; false once it fires, or once a thread
	 * is throttled (so slice_armed implies !throttled). One that is due but
	 * not yet taken (interrupts are off in the kernel) fires on return to
	 * ring 3, so it still serves. In count's padding.
	 */
	bool slice_armed;
	uint64_t timer_deadline;  /* TSC the one-shot timer is armed for, 0 = none */
	struct thread *throttled; /* out of budget, waiting for replenishment (qnext list) */
	/*
	 * TSC of an upcall expiry the one-shot timer is armed for, when that is
	 * before timer_deadline (0 = none). Cleared whenever the timer fires
	 * or is re-armed for timer_deadline.
	 */
	uint64_t upcall_deadline;
	/*
	 * Partition windows (kernel/window.c). win_on: this CPU has a window
	 * table; then a thread with a partition tag may be queued or run only
	 * when its tag is win_active (win_allows()). win_owner: the partition
	 * the frame gives the present time (a window's owner, or the spare in
	 * a gap; 0 = nobody); win_active differs from it only while the spare
	 * partition borrows a window its owner leaves unused (win_lent).
	 * win_next_tsc: the next window boundary. parked: runnable tagged
	 * threads of this CPU outside their windows (qnext list).
	 */
	uint8_t win_on, win_active, win_owner, win_spare, win_lent;
	/* The timer serves windows or timed waits here as well (win_on, or timeouts not empty):
	 * one test for both on the way out (leave(), sched_arm_timer()); rq_update_timed(). */
	uint8_t timed;
	uint64_t win_next_tsc;
	struct thread *parked;
	/* Threads in a timed notification wait on this CPU, earliest deadline first
	 * (thread.timeout; kernel/timeq.c). */
	struct timeq timeouts;
};

extern struct runq rqs[MAX_CPUS]; /* indexed by CPU */
extern uint64_t slice_tsc;        /* [I] SLICE_NS in TSC ticks */

/* Keep q->timed in step with win_on and the timer queue. */
static __always_inline void rq_update_timed(struct runq *q)
{
	q->timed = q->win_on || q->timeouts.head;
}

/* t may be queued or run on the CPU of q now (its partition's window, or no windows). */
static __always_inline bool win_allows(const struct runq *q, const struct thread *t)
{
	return !q->win_on || !t->part || t->part == q->win_active;
}

/* sched.c: queue t (runnable, allowed, in no queue) on q, at the back or the front. */
void rq_push(struct runq *q, struct thread *t, bool front);
/* sched.c: take t out of q's run queue. */
void rq_remove(struct runq *q, struct thread *t);
/* window.c: t (runnable, in no queue) waits on q's parked list for its window. */
void win_park(struct runq *q, struct thread *t);
/* window.c: take t off the parked list of its CPU; false if it was not there. */
bool win_unpark(struct thread *t);
/*
 * window.c: the window boundary of CPU cpu is due (now, TSC): move to the
 * window the frame gives now, re-sort the queues and ask the CPU to pick.
 */
void win_advance(uint32_t cpu, uint64_t now);
/* window.c: the boundary is due at TSC now (within the timer's slack). */
bool win_due(const struct runq *q, uint64_t now);
/* window.c: nothing runnable here in the owner's window: let the spare partition use it (false:
 * there is none, or it has it already). */
bool win_lend(uint32_t cpu);
/* window.c: t of a partition that owns the present window woke while the spare borrowed it. */
void win_reclaim(uint32_t cpu);
/* Nanoseconds until this CPU's next window boundary (0: due), for the timer; ~0 without windows. */
uint64_t win_ns_left(const struct runq *q, uint64_t now);

/* Arm this CPU's timer for the slice, budget or replenishment t (running next) needs, if any. */
void sched_arm_timer(struct cpu *c, struct thread *t);
/* Restore t's registers, release the big kernel lock (held on entry) after the last read of t,
 * enter ring 3 (arch/x86_64/syscall.S). */
__noreturn void arch_return_to_user(struct thread *t);

/* Highest priority with a queued thread, -1 if none, from the bitmap (rq_remove keeps top1 with
 * it). */
static __always_inline int rq_scan_top(const struct runq *q)
{
	for (int w = 3; w >= 0; w--)
		if (q->bitmap[w])
			return w * 64 + 63 - __builtin_clzll(q->bitmap[w]);
	return -1;
}

/* Highest priority with a queued thread, -1 if none. */
static __always_inline int rq_top(const struct runq *q)
{
	return (int)q->top1 - 1;
}

/* No thread of a priority above p is queued. */
static __always_inline bool rq_none_above(const struct runq *q, uint8_t p)
{
	return q->top1 <= p + 1u;
}

/*
 * Leave the kernel from the running thread from (a live thread, blocked or
 * queued) into to (runnable, unqueued, on no CPU, without a budget) on
 * this CPU (c, its run queue q): the scheduler's switch_in() and leave() without the cases
 * that cannot arise. rival: a thread of to's priority is known to be
 * queued here (false: look).
 */
static __always_inline __noreturn void
fast_switch(struct cpu *c, struct runq *q, struct thread *from, struct thread *to, bool rival)
{
	uint64_t now = rdtsc(); /* CPU time: from's run ends, to's begins */
	from->cpu_tsc += now - from->cpu_in_tsc;
	to->cpu_in_tsc = now;
	c->current = to;
	c->need_resched = false;
	to->on_cpu = c->index + 1;
	from->on_cpu = 0;
	arch_fpu_switch(from, to);
	arch_tls_load(to);
	if (to->aspace_slot.cap.type == HL_OBJ_ASPACE) {
		struct aspace *as = (struct aspace *)to->aspace_slot.cap.obj;
		if (!as)
			__builtin_unreachable(); /* a capability to an object always has the object
			                          */
		arch_aspace_load(c, as);
	} else {
		arch_aspace_load(c, NULL);
	}
	/*
	 * A round-robin slice timer already pending serves (sched_arm_timer's
	 * common case, inline); one is pending only when no thread is throttled.
	 */
	if (rival || q->head[to->priority] ? !q->slice_armed : q->throttled != NULL)
		sched_arm_timer(c, to);
	arch_return_to_user(to); /* drops the lock after its last read of to */
}

#endif
