/*
 * The scheduler: per-CPU run queues with 256 fixed priorities and round
 * robin within a priority; a budget and period per thread; tickless (the
 * LAPIC one-shot timer is armed only when a slice or a budget must end or
 * a throttled thread must come back). The running thread is not in the
 * queue. Everything runs under the big kernel lock.
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/aspace.h>
#include <kernel/bkl.h>
#include <kernel/ipc.h>
#include <kernel/klog.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/runq.h>
#include <kernel/thread.h>
#include <kernel/time.h>
#include <kernel/vm.h>

struct runq rqs[MAX_CPUS];

/* Eager FPU switching with XSAVE: the kernel itself never touches FPU state. */
static inline void fpu_switch(struct thread *from, struct thread *to)
{
	if (!arch_fpu_kept())
		return;
	if (from && from->magic == THREAD_MAGIC)
		arch_fpu_save(from);
	if (to)
		arch_fpu_restore(to);
}

static uint64_t ns_to_tsc(uint64_t ns)
{
	return ns / 1000 * (tsc_hz / 1000000) + ns % 1000 * (tsc_hz / 1000000) / 1000;
}

/* Without overflow for any tick count (ticks * 10^9 overflows after a few seconds). */
static uint64_t tsc_to_ns(uint64_t ticks)
{
	return ticks / tsc_hz * 1000000000ull + ticks % tsc_hz * 1000000000ull / tsc_hz;
}

void rq_push(struct runq *q, struct thread *t, bool front)
{
	uint8_t p = t->priority;

	t->qnext = t->qprev = NULL;
	if (!q->head[p]) {
		q->head[p] = q->tail[p] = t;
	} else if (front) {
		t->qnext = q->head[p];
		q->head[p]->qprev = t;
		q->head[p] = t;
	} else {
		t->qprev = q->tail[p];
		q->tail[p]->qnext = t;
		q->tail[p] = t;
	}
	q->bitmap[p / 64] |= 1ull << (p % 64);
	if (q->top1 <= p)
		q->top1 = p + 1;
	q->count++;
	t->queue = q;
}

void rq_remove(struct runq *q, struct thread *t)
{
	uint8_t p = t->priority;

	if (t->qprev)
		t->qprev->qnext = t->qnext;
	else
		q->head[p] = t->qnext;
	if (t->qnext)
		t->qnext->qprev = t->qprev;
	else
		q->tail[p] = t->qprev;
	if (!q->head[p]) {
		q->bitmap[p / 64] &= ~(1ull << (p % 64));
		if (q->top1 == p + 1)
			q->top1 = (uint16_t)(rq_scan_top(q) + 1);
	}
	t->qnext = t->qprev = NULL;
	t->queue = NULL;
	q->count--;
}

uint32_t sched_runnable_count(uint32_t cpu)
{
	return rqs[cpu].count;
}

void sched_remove(struct thread *t)
{
	if (!t->queue && !t->throttled && !t->parked)
		return; /* in no queue (this also covers a destroyed thread's stand-in, whose cpu is
		           ~0) */
	if (win_unpark(t))
		return;
	struct runq *q = &rqs[t->cpu];

	if (t->queue == q) {
		rq_remove(q, t);
		return;
	}
	/* A throttled thread waits on the list of the CPU it ran on, which set_affinity may have
	 * changed since. */
	for (uint32_t i = 0; i < ncpus_online && t->throttled; i++)
		for (struct thread **pp = &rqs[i].throttled; *pp; pp = &(*pp)->qnext)
			if (*pp == t) {
				*pp = t->qnext;
				t->qnext = NULL;
				t->throttled = 0; /* resume must be able to run it */
				return;
			}
}

void sched_make_runnable(struct thread *t)
{
	t->state = TS_RUNNABLE;
	struct cpu *c = &cpus[t->cpu];
	if (t->on_cpu)
		return; /* still on a CPU: it stays, or handoff() queues it when that CPU leaves it
		         */
	struct runq *q = &rqs[t->cpu];
	if (!win_allows(q, t)) { /* outside its partition's window */
		win_park(q, t);
		if (q->win_lent && t->part == q->win_owner)
			win_reclaim(t->cpu); /* the spare borrowed its window: back to the owner */
		return;
	}
	rq_push(q, t, false);
	if (c == this_cpu()) {
		if (!c->current || t->priority > c->current->priority)
			c->need_resched = true;
	} else if (!c->current || t->priority > c->current->priority) {
		c->need_resched = true;
		arch_send_resched(c);
	}
}

/* Make the CPU currently running t (if any) pick again at once. */
void sched_kick(struct thread *t)
{
	if (!t->on_cpu)
		return;
	struct cpu *c = &cpus[t->on_cpu - 1];
	c->need_resched = true;
	if (c != this_cpu())
		arch_send_resched(c);
}

void sched_block(struct thread *t, enum thread_state st)
{
	sched_remove(t);
	t->state = (uint8_t)st;
	sched_kick(t);
}

/*
 * t moves to CPU cpu. If a CPU still runs it, that CPU hands it over when
 * it leaves it (handoff()); otherwise it is queued there now.
 */
void sched_migrate(struct thread *t, uint32_t cpu)
{
	if (t->state == TS_RUNNABLE && (t->queue || t->parked))
		sched_remove(t);
	t->cpu = cpu;
	if (t->on_cpu)
		sched_kick(t);
	else if (t->state == TS_RUNNABLE)
		sched_make_runnable(t);
}

/* prev just left this CPU: if it was moved to another CPU meanwhile, queue it there. */
static inline void handoff(struct cpu *c, struct thread *prev)
{
	if (!prev || prev == c->current || prev->on_cpu != c->index + 1)
		return;
	prev->on_cpu = 0;
	if (prev->magic == THREAD_MAGIC && prev->state == TS_RUNNABLE && !prev->queue &&
	    !prev->parked && (prev->cpu != c->index || cpus[prev->cpu].current != prev))
		sched_make_runnable(prev);
}

void sched_yield_current(void)
{
	this_cpu()->need_resched = true;
}

uint64_t sched_cpu_ns(const struct thread *t)
{
	uint64_t ticks = t->cpu_tsc;

	if (t->on_cpu && cpus[t->on_cpu - 1].current == t) /* running now: this run too */
		ticks += rdtsc() - t->cpu_in_tsc;
	return tsc_to_ns(ticks);
}

/* Charge the running thread for the time since it started; throttle it when its budget is gone. */
static void charge(struct cpu *c)
{
	struct thread *t = c->current;
	uint64_t now = rdtsc();

	if (!t || !t->budget_ns)
		return;
	uint64_t used = now - t->run_start_tsc;
	t->run_start_tsc = now;
	uint64_t left = ns_to_tsc(t->budget_left_ns);
	if (used < left) {
		t->budget_left_ns -= MIN(tsc_to_ns(used), t->budget_left_ns);
		return;
	}
	t->budget_left_ns = 0;
	if (t->state == TS_RUNNABLE) {
		/* Out of budget: off the CPU until its period comes round. */
		t->qnext = rqs[c->index].throttled;
		rqs[c->index].throttled = t;
		rqs[c->index].slice_armed =
		    false; /* the next arming also covers the replenishment */
		t->queue = NULL;
		c->need_resched = true;
		t->state = TS_INACTIVE; /* marked runnable again on replenishment */
		t->throttled = 1;
	}
}

/*
 * Bring back throttled threads whose period has come round. The next
 * period start is computed, not stepped to: a loop adding periods ran for
 * ever with a period of 0 (isolation fault 3 of issue 10).
 */
static void replenish(struct cpu *c)
{
	uint64_t now = rdtsc();
	struct thread **pp = &rqs[c->index].throttled;

	while (*pp) {
		struct thread *t = *pp;
		if (t->replenish_tsc > now) {
			pp = &t->qnext;
			continue;
		}
		*pp = t->qnext;
		t->budget_left_ns = t->budget_ns;
		uint64_t period = MAX(ns_to_tsc(t->period_ns), 1ull);
		t->replenish_tsc += ((now - t->replenish_tsc) / period + 1) * period;
		t->throttled = 0;
		sched_make_runnable(t);
	}
}

/*
 * Give t a new budget and period (0, 0: unlimited), applied at once
 * wherever t is: a new period starts now with the whole budget; a
 * throttled thread leaves the throttled list and may run; the CPU running
 * t (this one or another) picks again, so its timer is armed for the new
 * budget before t goes on (a thread running on another CPU used to keep
 * its whole CPU until it next entered the kernel).
 */
void sched_set_budget(struct thread *t, uint64_t budget_ns, uint64_t period_ns)
{
	bool was_throttled = t->throttled;

	if (was_throttled)
		sched_remove(t);
	t->budget_ns = budget_ns;
	t->period_ns = period_ns;
	thread_update_fastpath(t);
	t->budget_left_ns = budget_ns;
	t->run_start_tsc = rdtsc(); /* a running thread is charged from now */
	t->replenish_tsc = t->run_start_tsc + ns_to_tsc(period_ns);
	if (was_throttled)
		sched_make_runnable(t);
	else
		sched_kick(t);
}

uint64_t slice_tsc;

/*
 * A timed wait far ahead is re-armed at least this often: the LAPIC
 * one-shot cannot hold any distance (ns * ticks per ns overflows, the
 * count register has 32 bits), and an early interrupt only re-arms.
 */
#define TIMEOUT_ARM_MAX_NS 1000000000ull

/*
 * t (just blocked on a notification by HL_SYS_WAIT) times out at TSC
 * deadline: queued on the timer queue of its own CPU, whose timer that CPU
 * arms when it next leaves the kernel (sched_arm_timer); another CPU is
 * asked to pick again so that it does.
 */
void sched_timeout_add(struct thread *t, uint64_t deadline)
{
	struct runq *q = &rqs[t->cpu];

	t->timeout_cpu = t->cpu;
	timeq_insert(&q->timeouts, &t->timeout, deadline);
	rq_update_timed(q);
	if (t->cpu != cpu_index())
		arch_send_resched(&cpus[t->cpu]);
}

void sched_timeout_remove(struct thread *t)
{
	struct runq *q = &rqs[t->timeout_cpu];

	timeq_remove(&q->timeouts, &t->timeout);
	rq_update_timed(q);
}

/*
 * Wake the timed waits of this CPU whose deadline has come (never one
 * early), from the timer interrupt: the timer is armed for the earliest
 * deadline (sched_arm_timer), so no other path needs to look.
 */
static void expire_timeouts(struct cpu *c)
{
	struct runq *q = &rqs[c->index];
	struct timeq_node *n;

	if (!q->timeouts.head)
		return;
	uint64_t now = rdtsc();
	while ((n = timeq_pop_due(&q->timeouts, now)))
		ntfn_timed_out((struct thread *)((char *)n - offsetof(struct thread, timeout)));
	rq_update_timed(q);
}

/* Arm the one-shot timer for the nearest of: slice end, budget end, replenishment. */
void sched_arm_timer(struct cpu *c, struct thread *t)
{
	uint64_t ns = ~0ull;
	struct runq *q = &rqs[c->index];

	if (t && !t->budget_ns && !q->throttled &&
	    !q->timed) { /* the common case: at most a round-robin slice */
		if (!q->head[t->priority] || q->slice_armed)
			return;
		q->timer_deadline = rdtsc() + slice_tsc;
		q->slice_armed = true;
		q->upcall_deadline = 0;
		arch_timer_oneshot_ns(SLICE_NS);
		return;
	}

	if (t && q->head[t->priority])
		ns = SLICE_NS;
	if (t && t->budget_ns)
		ns = MIN(ns, MAX(t->budget_left_ns, 1000ull));
	for (struct thread *x = q->throttled; x; x = x->qnext) {
		uint64_t now = rdtsc(),
		         d = x->replenish_tsc > now ? tsc_to_ns(x->replenish_tsc - now) : 0;
		ns = MIN(ns, MAX(d, 1000ull));
	}
	if (q->timed) { /* one test for both on an idle CPU's way to hlt */
		if (q->win_on)
			ns = MIN(ns,
			         win_ns_left(q, rdtsc())); /* the next window boundary, exactly */
		if (q->timeouts
		        .head) { /* the earliest timed wait, exactly (no floor: never early) */
			uint64_t now = rdtsc(), d = timeq_next(&q->timeouts);
			ns = MIN(ns, d > now ? MIN(tsc_to_ns(d - now), TIMEOUT_ARM_MAX_NS) : 0);
		}
	}
	if (ns == ~0ull)
		return;
	/* A timer already due sooner serves as well: re-arming costs MMIO writes. */
	uint64_t now = rdtsc(), deadline = now + ns_to_tsc(ns);
	if (q->timer_deadline > now && q->timer_deadline <= deadline) {
		q->slice_armed |= ns <= SLICE_NS && !q->throttled; /* due sooner than now + ns */
		return;
	}
	q->timer_deadline = deadline;
	q->slice_armed = ns <= SLICE_NS && !q->throttled;
	q->upcall_deadline = 0;
	arch_timer_oneshot_ns(ns);
}

/* ---- preemption upcalls (kernel/upcall.c) ---- */

/* An expiry this close counts as due: the count-mode LAPIC timer can fire a little early. */
static uint64_t upcall_slack_tsc;

/*
 * t, which has upcalls, leaves this CPU: keep what is left of its quantum,
 * none if it was preempted while runnable and asked to hear of it.
 */
static __attribute__((noinline, cold)) void upcall_leave(struct thread *t, uint64_t now)
{
	t->upcall_left_tsc = t->upcall_deadline_tsc > now ? t->upcall_deadline_tsc - now : 0;
	if (t->state == TS_RUNNABLE && upcall_on_preempt(t))
		t->upcall_left_tsc = 0;
}

/*
 * t (with upcalls) is about to return to ring 3 on this CPU; was_current:
 * it was already running here. Deliver its upcall if its quantum is used
 * up and start a new one. False when t faulted instead.
 */
static __attribute__((noinline, cold)) bool upcall_enter(struct thread *t, bool was_current,
                                                         uint64_t now)
{
	uint64_t left = was_current
	                    ? (t->upcall_deadline_tsc > now ? t->upcall_deadline_tsc - now : 0)
	                    : t->upcall_left_tsc;

	if (left <= upcall_slack_tsc) {
		if (!upcall_deliver(t, was_current ? t->upcall_deadline_tsc : now))
			return false;
		left = t->upcall_q_tsc;
	}
	t->upcall_deadline_tsc = now + left;
	return true;
}

/* Arm the one-shot timer for t's upcall unless it is armed or the scheduler's timer comes first. */
static __attribute__((noinline, cold)) void upcall_arm(struct runq *q, struct thread *t,
                                                       uint64_t now)
{
	uint64_t d = t->upcall_deadline_tsc;

	if (q->upcall_deadline == d || (q->timer_deadline > now && q->timer_deadline <= d))
		return; /* that timer's interrupt leads back here through switch_in() */
	q->upcall_deadline = d;
	arch_timer_oneshot_ns(d > now ? tsc_to_ns(d - now) : 0);
}

void sched_timer_tick(void)
{
	struct cpu *c = this_cpu();

	charge(c);
	replenish(c);
	expire_timeouts(c);
	c->need_resched = true;
}

struct thread *sched_pick(void)
{
	struct cpu *c = this_cpu();
	struct runq *q = &rqs[c->index];
	struct thread *cur = c->current;

	charge(c);
	replenish(c);
	if (q->win_on) {
		uint64_t now = rdtsc();
		if (win_due(q, now))
			win_advance(c->index, now);
	}
	bool cur_ok = cur && cur->state == TS_RUNNABLE && cur->cpu == c->index;
	if (cur_ok && !win_allows(q, cur)) {
		win_park(q, cur); /* its window is over; handoff() leaves it parked */
		cur_ok = false;
	}
	int top = rq_top(q);
	if (cur_ok && !c->need_resched)
		return cur;
	if (cur_ok && (top < 0 || top < cur->priority))
		return cur; /* nothing better: keep running */
	if (cur_ok)
		rq_push(q, cur, false);
	c->need_resched = false;
	if (top < 0 && !cur_ok && q->win_on && win_lend(c->index))
		top = rq_top(q); /* the owner has nothing to run: the spare partition may */
	if (top < 0 && !cur_ok)
		return NULL;
	struct thread *next = q->head[rq_top(q)];
	rq_remove(q, next);
	return next;
}

/*
 * Inlined into both callers (sched_exit_to_user, sched_switch_to), as the one run() was: out of
 * line they cost every switch a call (the IPC round trip went from 383 to 391 instructions, a
 * notification wake from 499 to 578); the upcall helpers above stay out of line.
 *
 * Make next current on this CPU (FPU, TLS, address space) and deliver its
 * preemption upcall if one is due. False when that delivery failed: next
 * has faulted instead and this CPU must pick again (sched_exit_to_user()).
 */
static __always_inline bool switch_in(struct cpu *c, struct thread *next)
{
	struct thread *prev = c->current;
	uint64_t now = 0;

	c->current = next;
	next->on_cpu = c->index + 1;
	if ((prev && prev->upcall_ns) || next->upcall_ns)
		now = rdtsc();
	if (prev && prev != next && prev->magic == THREAD_MAGIC && prev->upcall_ns)
		upcall_leave(prev, now);
	if (prev != next) {
		uint64_t t = rdtsc(); /* CPU time: prev's run ends, next's begins */
		if (prev && prev->magic == THREAD_MAGIC)
			prev->cpu_tsc += t - prev->cpu_in_tsc;
		next->cpu_in_tsc = t;
		if (prev && prev->on_cpu == c->index + 1)
			handoff(c, prev);
		fpu_switch(prev, next);
		arch_tls_load(next);
		arch_aspace_load(c, next->aspace_slot.cap.type == HL_OBJ_ASPACE
		                        ? (struct aspace *)next->aspace_slot.cap.obj
		                        : NULL);
		if (next->budget_ns)
			next->run_start_tsc = rdtsc(); /* charged from now */
	}
	return !next->upcall_ns || upcall_enter(next, prev == next, now);
}

/* Leave the kernel into next, current on this CPU since switch_in(). */
static __always_inline __noreturn void leave(struct cpu *c, struct thread *next)
{
	/* The timer matters only with competition for the CPU, a budget or an upcall. */
	struct runq *q = &rqs[c->index];
	if (q->count || q->throttled || next->budget_ns || q->timed)
		sched_arm_timer(c, next);
	if (next->upcall_ns)
		upcall_arm(q, next, rdtsc());
	if (bkl_owner != (int32_t)c->index)
		bkl_unlock_bad();
	arch_return_to_user(next); /* drops the lock after its last read of next */
}

void sched_switch_to(struct thread *t)
{
	struct cpu *c = this_cpu();
	struct thread *cur = c->current;

	if (!win_allows(&rqs[c->index], t)) {
		/* IPC to a thread outside its window: it waits for it (parked), this CPU picks. */
		if (!t->queue && !t->parked && !t->on_cpu)
			sched_make_runnable(t);
		sched_exit_to_user();
	}
	if (cur && cur->state == TS_RUNNABLE && cur != t)
		rq_push(&rqs[c->index], cur, true);
	if (t->queue)
		rq_remove(&rqs[t->cpu], t);
	c->need_resched = false;
	if (switch_in(c, t))
		leave(c, t);
	sched_exit_to_user(); /* t faulted delivering its upcall: pick again */
}

/*
 * Hand-off (HL_LABEL_HANDOFF): cur, running on this CPU, has just made w
 * runnable. If w belongs to this CPU, runs nowhere and has cur's priority,
 * w runs at once and cur waits at the front of its queue, so it runs next;
 * otherwise nothing changes and this returns. A higher w preempts cur
 * anyway; a lower one does not jump a runnable higher thread.
 */
void sched_handoff(struct thread *cur, struct thread *w)
{
	struct cpu *c = this_cpu();

	if (c->current != cur || cur->cpu != c->index || cur->state != TS_RUNNABLE ||
	    w->cpu != c->index || w->on_cpu || w->state != TS_RUNNABLE ||
	    w->priority != cur->priority || !w->queue)
		return;
	sched_switch_to(w);
}

/* Leave the kernel: run the chosen thread, or idle until one is runnable. */
__noreturn void sched_exit_to_user(void)
{
	struct cpu *c = this_cpu();

	for (;;) {
		struct thread *next = sched_pick();
		if (next && switch_in(c, next))
			leave(c, next);
		if (next)
			continue; /* it faulted delivering its upcall: pick again */
		struct thread *prev = c->current;
		if (prev && prev->magic == THREAD_MAGIC && prev->upcall_ns)
			upcall_leave(prev, rdtsc());
		fpu_switch(prev,
		           NULL); /* it may run here again after the idle time: keep its state */
		if (prev && prev->magic == THREAD_MAGIC)
			prev->cpu_tsc += rdtsc() - prev->cpu_in_tsc;
		c->current = NULL;
		handoff(c, prev);
		arch_aspace_load(c, NULL);
		sched_arm_timer(c, NULL);
		bkl_unlock();
		arch_wait_for_interrupt();
		bkl_lock();
	}
}

static void resched_ipi(struct trap_frame *tf)
{
	(void)tf;
	this_cpu()->need_resched = true;
}

static void timer_irq(struct trap_frame *tf)
{
	struct runq *q = &rqs[cpu_index()];

	(void)tf;
	this_cpu()->timer_ticks++;
	if (q->upcall_deadline) {
		/* Armed for an upcall expiry: the scheduler's deadline, if any, may still be ahead.
		 */
		uint64_t now = rdtsc();
		q->upcall_deadline = 0;
		if (!q->timer_deadline)
			return; /* switch_in() delivers the upcall */
		if (now + upcall_slack_tsc < q->timer_deadline) {
			arch_timer_oneshot_ns(tsc_to_ns(q->timer_deadline - now));
			return;
		}
	}
	rqs[cpu_index()].timer_deadline = 0;
	rqs[cpu_index()].slice_armed = false;
	sched_timer_tick();
}

/* Once the TSC frequency is final (after tsc_refine). */
void sched_init(void)
{
	slice_tsc = ns_to_tsc(SLICE_NS);
	upcall_slack_tsc = ns_to_tsc(200);
}

void sched_init_cpu(void)
{
	irq_register(VEC_RESCHED, resched_ipi);
	irq_register(VEC_TIMER, timer_irq);
}
