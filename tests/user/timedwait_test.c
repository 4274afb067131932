/*
 * Ring-3 suite "timedwait": HL_SYS_WAIT, a notification wait with a TSC
 * deadline (docs/abi.md, "Timed wait"). The deadline is never early (the
 * TSC read after the wake is at or past it), a signal first cancels it,
 * waits on two CPUs wake in deadline order, and a deadline left pending
 * by a suspend, a deleted thread or a deleted notification never fires
 * (the kernel panics if its timer queue names a thread that no longer
 * waits: ntfn_timed_out()).
 */
#include "utest.h"

#include <hallows/window.h>
#include <lib/string.h>

enum { ST_INACTIVE = 0, ST_NTFN = 5 };

static uint64_t ms(uint64_t n)
{
	return ut_ms_to_tsc(n);
}

/* Sleep the runner itself with the call under test, on a notification nobody signals. */
static void nap(struct utest_ctx *t, hl_cptr_t quiet, uint64_t tsc)
{
	uint64_t d = ut_rdtsc() + tsc;

	UEXPECT_ERR(t, hl_wait(quiet, d, NULL), HL_ERR_TIMED_OUT);
	UEXPECT(t, ut_rdtsc() >= d, "woke early");
}

/* Wait for thread tcb to block on a notification; false after a generous number of turns. */
static bool until_waiting(hl_cptr_t tcb)
{
	for (int i = 0; i < 20000 && ut_state_of(tcb) != ST_NTFN; i++)
		hl_yield();
	return ut_state_of(tcb) == ST_NTFN;
}

UTEST(timedwait, timeout_fires_not_early)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);

	if (!UCHECK(t, n))
		return;
	for (int i = 1; i <= 3; i++) {
		uint64_t t0 = ut_rdtsc(), d = t0 + ms(2 * (uint64_t)i);
		hl_word_t word = 77;
		UEXPECT_ERR(t, hl_wait(n, d, &word), HL_ERR_TIMED_OUT);
		uint64_t t1 = ut_rdtsc();
		UEXPECT(t, t1 >= d, "woke %lu ticks before the deadline", d - t1);
		UEXPECT(t, t1 - t0 < ms(5000), "a %d ms wait took %lu ms", 2 * i,
		        (t1 - t0) / ms(1));
		UEXPECT(t, word == 0);
	}
}

UTEST(timedwait, past_deadline_returns_at_once)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_word_t info = 0, word = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, n))
		return;
	UEXPECT_ERR(t, hl_wait(n, 0, NULL), HL_ERR_TIMED_OUT);
	UEXPECT_ERR(t, hl_wait(n, ut_rdtsc() - 1, NULL), HL_ERR_TIMED_OUT);
	/* Pending bits win over a past deadline. */
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, n, &info, &m, NULL), HL_OK);
	UEXPECT_ERR(t, hl_wait(n, 0, &word), HL_OK);
	UEXPECT(t, word == 1, "word %#lx", word);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_POLL, n, &info, &m, NULL), HL_ERR_WOULD_BLOCK);
}

UTEST(timedwait, bad_capabilities)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_cptr_t wo = ut_slot(), empty = ut_slot();

	if (!UCHECK(t, ep && n && wo && empty))
		return;
	UEXPECT_ERR(t, hl_wait(ep, 0, NULL), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_wait(HL_SLOT_THREAD, ut_rdtsc() + ms(1), NULL), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_wait(empty, ut_rdtsc() + ms(1), NULL), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_wait(1ull << 40, 0, NULL), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_cspace_mint(HL_SLOT_CSPACE, wo, n, HL_R_WRITE, 0), HL_OK);
	UEXPECT_ERR(t, hl_wait(wo, ut_rdtsc() + ms(1), NULL), HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, hl_wait(wo, 0, NULL), HL_ERR_NO_RIGHTS);
}

struct waiter {
	hl_cptr_t n, park;
	uint64_t deadline;
	volatile long err;
	volatile uint64_t woke, word;
	volatile uint32_t *seq, order;
	volatile int done;
};

/* Wait once with the deadline, record the outcome, then park for good (no deadline). */
static void waiter_fn(void *arg)
{
	struct waiter *w = arg;
	hl_word_t word = 0;

	w->err = hl_wait(w->n, w->deadline, &word);
	w->woke = ut_rdtsc();
	w->word = word;
	if (w->seq)
		w->order = __atomic_fetch_add(w->seq, 1, __ATOMIC_SEQ_CST);
	w->done = 1;
	if (w->park)
		hl_wait(w->park, HL_WAIT_FOREVER, NULL);
}

UTEST(timedwait, signal_before_deadline_cancels_it)
{
	static struct waiter w;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	w = (struct waiter){.n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	                    .park = ut_alloc(t, HL_OBJ_NOTIFICATION, 0)};
	w.deadline = ut_rdtsc() + ms(30);
	hl_cptr_t th = ut_thread(t, waiter_fn, &w, 100, NULL);
	if (!UCHECK(t, th && w.n && w.park) || !UCHECK(t, until_waiting(th)))
		return;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, w.n, &info, &m, NULL), HL_OK);
	for (int i = 0; i < 20000 && !w.done; i++)
		hl_yield();
	UEXPECT(t, w.done && w.err == HL_OK && w.word == 1, "done %d err %ld word %lu", w.done,
	        w.err, w.word);
	UEXPECT(t, w.woke < w.deadline, "the signal came after the deadline");
	/* Past the cancelled deadline the thread still waits on park: no stale timeout woke it. */
	if (!UCHECK(t, until_waiting(th)))
		return;
	nap(t, ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	    w.deadline > ut_rdtsc() ? w.deadline - ut_rdtsc() + ms(10) : ms(10));
	UEXPECT(t, ut_state_of(th) == ST_NTFN, "state %lu", ut_state_of(th));
}

UTEST(timedwait, huge_deadline_waits_for_the_signal)
{
	static struct waiter w;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	w = (struct waiter){.n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0), .deadline = ~0ull - 1};
	hl_cptr_t th = ut_thread(t, waiter_fn, &w, 100, NULL);
	if (!UCHECK(t, th && w.n) || !UCHECK(t, until_waiting(th)))
		return;
	nap(t, ut_alloc(t, HL_OBJ_NOTIFICATION, 0), ms(5));
	UEXPECT(t, !w.done && ut_state_of(th) == ST_NTFN);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, w.n, &info, &m, NULL), HL_OK);
	for (int i = 0; i < 20000 && !w.done; i++)
		hl_yield();
	UEXPECT(t, w.done && w.err == HL_OK, "done %d err %ld", w.done, w.err);
}

#define NW 8

/* Deadlines 8 ms apart, given out of order to threads alternating between CPUs 0 and 1. */
UTEST(timedwait, many_threads_wake_in_deadline_order_on_two_cpus)
{
	static struct waiter w[NW];
	static volatile uint32_t seq;
	static const int slot[NW] = {5, 2, 7, 0, 3, 6, 1, 4};
	hl_cptr_t th[NW];
	uint32_t cpus = rt_self.bi->ncpus >= 2 ? 2 : 1;
	uint64_t base = ut_rdtsc() + ms(40);
	hl_cptr_t quiet = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);

	seq = 0;
	for (int i = 0; i < NW; i++) {
		w[i] = (struct waiter){.n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
		                       .park = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
		                       .deadline = base + ms(8) * (uint64_t)slot[i],
		                       .seq = &seq};
		th[i] = ut_thread_new(t, waiter_fn, &w[i], 100);
		if (!UCHECK(t, th[i] && w[i].n && w[i].park))
			return;
		UEXPECT_ERR(t, hl_thread_set_affinity(th[i], (uint32_t)i % cpus), HL_OK);
		UEXPECT_ERR(t, hl_thread_resume(th[i]), HL_OK);
	}
	nap(t, quiet, base + ms(8) * NW + ms(20) - ut_rdtsc());
	for (int i = 0; i < 5000; i++) {
		int done = 0;
		for (int k = 0; k < NW; k++)
			done += w[k].done;
		if (done == NW)
			break;
		nap(t, quiet, ms(1));
	}
	for (int i = 0; i < NW; i++) {
		UEXPECT(t, w[i].done && w[i].err == HL_ERR_TIMED_OUT, "thread %d: done %d err %ld",
		        i, w[i].done, w[i].err);
		UEXPECT(t, w[i].woke >= w[i].deadline, "thread %d woke %lu ticks early", i,
		        w[i].deadline - w[i].woke);
		/* Deadline order among the threads of one CPU; across CPUs, by the TSC they read.
		 */
		for (int k = 0; k < NW; k++) {
			if (slot[k] <= slot[i])
				continue;
			if ((uint32_t)k % cpus == (uint32_t)i % cpus)
				UEXPECT(t, w[k].order > w[i].order, "slot %d woke after slot %d",
				        slot[i], slot[k]);
			UEXPECT(t, w[k].woke > w[i].deadline);
		}
	}
}

static void stopped_wait(struct utest_ctx *t, int how)
{
	static struct waiter w;

	w = (struct waiter){.n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	                    .park = ut_alloc(t, HL_OBJ_NOTIFICATION, 0)};
	w.deadline = ut_rdtsc() + ms(20);
	hl_cptr_t th = ut_thread(t, waiter_fn, &w, 100, NULL);
	if (!UCHECK(t, th && w.n && w.park) || !UCHECK(t, until_waiting(th)))
		return;
	if (how == 0) { /* suspended: the deadline is forgotten with the wait */
		UEXPECT_ERR(t, hl_thread_suspend(th), HL_OK);
	} else if (how == 1) { /* deleted: its memory may be reused at once */
		UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, th), HL_OK);
		hl_cptr_t again = ut_alloc(t, HL_OBJ_THREAD, 0);
		UEXPECT(t, again != 0);
	} else { /* the notification deleted: the wait ends with HL_ERR_DELETED */
		UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, w.n), HL_OK);
		for (int i = 0; i < 20000 && !w.done; i++)
			hl_yield();
		UEXPECT(t, w.done && w.err == HL_ERR_DELETED, "done %d err %ld", w.done, w.err);
		UEXPECT(t, until_waiting(th)); /* now on park, without a deadline */
	}
	nap(t, ut_alloc(t, HL_OBJ_NOTIFICATION, 0), ms(40));
	if (how == 0)
		UEXPECT(t, ut_state_of(th) == ST_INACTIVE && !w.done, "state %lu done %d",
		        ut_state_of(th), w.done);
	if (how == 2)
		UEXPECT(t, ut_state_of(th) == ST_NTFN, "state %lu", ut_state_of(th));
}

UTEST(timedwait, suspended_thread_keeps_no_timeout)
{
	stopped_wait(t, 0);
}

UTEST(timedwait, deleted_thread_with_pending_timeout)
{
	stopped_wait(t, 1);
}

UTEST(timedwait, revoked_notification_ends_the_wait)
{
	stopped_wait(t, 2);
}

/* user/rt's wrappers: a sleep lasts at least its length; a bounded wait sees a pending signal. */
UTEST(timedwait, rt_sleep_and_bounded_wait)
{
	hl_cptr_t saved = rt_self.alloc_from, n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_word_t info = 0, word = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, n))
		return;
	rt_self.alloc_from = t->mem; /* its notification goes with the suite's memory */
	for (uint64_t ns = 1000000; ns <= 4000000; ns *= 2) {
		uint64_t t0 = rt_tsc();
		UEXPECT_ERR(t, rt_sleep_ns(ns), HL_OK);
		UEXPECT(t, rt_tsc() - t0 >= rt_ns_to_tsc(ns), "%lu ns sleep ended early", ns);
	}
	rt_self.alloc_from = saved;
	/* no product overflows: a longer time is never fewer ticks (it saturates when the TSC runs
	 * at 1 GHz or more; Bochs' is slower) */
	UEXPECT(t, rt_ns_to_tsc(~0ull) >= rt_ns_to_tsc(~0ull / 3 * 2));
	UEXPECT(t, rt_deadline_ns(~0ull) < HL_WAIT_FOREVER); /* a deadline, not "none" */
	UEXPECT(t, rt_ns_to_tsc(1000000000ull) == rt_self.bi->tsc_hz / 1000 * 1000);
	UEXPECT_ERR(t, rt_wait_ns(n, 0, NULL), HL_ERR_TIMED_OUT);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, n, &info, &m, NULL), HL_OK);
	UEXPECT_ERR(t, rt_wait_ns(n, RT_FOREVER, &word), HL_OK);
	UEXPECT(t, word == 1);
}

/*
 * A deadline that falls outside the thread's partition window: the thread
 * wakes (runs) only in its next window. CPU 1 (the last) gets a 20 ms frame
 * whose first 5 ms belong to partition 1; the thread of partition 1 asks
 * for a deadline 8 ms into a frame.
 */
struct winwait {
	volatile uint64_t epoch, deadline, woke;
	volatile long err;
	volatile int done;
	hl_cptr_t n, park;
};

static void winwait_fn(void *arg)
{
	struct winwait *w = arg;
	uint64_t frame = ms(20), now;

	while (!w->epoch)
		__asm__ volatile("pause");
	now = ut_rdtsc();
	uint64_t k = now > w->epoch ? (now - w->epoch) / frame + 1 : 0;
	w->deadline = w->epoch + k * frame + ms(8);
	w->err = hl_wait(w->n, w->deadline, NULL);
	w->woke = ut_rdtsc();
	w->done = 1;
	hl_wait(w->park, HL_WAIT_FOREVER, NULL);
}

UTEST(timedwait, deadline_outside_the_window_wakes_in_the_next_window)
{
	static struct winwait w;
	hl_cptr_t f;
	struct hl_window_table *tab = ut_page(t, &f);
	uint32_t cpu = rt_self.bi->ncpus - 1;
	hl_word_t epoch = 0;

	if (cpu == 0)
		return; /* the runner would share the CPU with the windows: covered with 2 CPUs */
	w = (struct winwait){.n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	                     .park = ut_alloc(t, HL_OBJ_NOTIFICATION, 0)};
	hl_cptr_t th = ut_thread_new(t, winwait_fn, &w, 100),
	          quiet = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	if (!UCHECK(t, tab && th && w.n && w.park && quiet))
		return;
	memset(tab, 0, sizeof(*tab));
	tab->frame_ns = 20000000;
	tab->count = 1;
	tab->w[0] = (struct hl_window){.offset_ns = 0, .length_ns = 5000000, .partition = 1};
	UEXPECT_ERR(t, hl_thread_set_affinity(th, cpu), HL_OK);
	UEXPECT_ERR(t, hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, th, 1), HL_OK);
	UEXPECT_ERR(t, hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, cpu, f, 0, &epoch),
	            HL_OK);
	w.epoch = epoch;
	UEXPECT_ERR(t, hl_thread_resume(th), HL_OK);
	for (int i = 0; i < 400 && !w.done; i++)
		nap(t, quiet, ms(5));
	tab->count = 0; /* windows off again on that CPU */
	UEXPECT_ERR(t, hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, cpu, f, 0, &epoch),
	            HL_OK);
	if (!UCHECK(t, w.done, "the waiter never woke"))
		return;
	uint64_t into = (w.woke - w.epoch) % ms(20);
	UEXPECT(t, w.err == HL_ERR_TIMED_OUT, "err %ld", w.err);
	UEXPECT(t, w.woke >= w.deadline, "woke %lu ticks early", w.deadline - w.woke);
	UEXPECT(t, into < ms(5) + ms(1), "woke %lu us into the frame, outside its window",
	        into * 1000 / ms(1));
	UEXPECT(t, w.woke - w.deadline >= ms(11),
	        "woke %lu us after the deadline: before its window",
	        (w.woke - w.deadline) * 1000 / ms(1));
}
