/*
 * Ring-3 suite "windows" (make test-windows; docs/scheduling.md, "Partition
 * windows"): threads tagged with partitions spin on CPU 1 under a window
 * table and record, from the TSC, every stretch of time they ran; the
 * suite then checks each stretch against the table. Run under TCG with
 * -icount shift=0 (one instruction per TSC tick), so the time a switch
 * takes is an instruction count and the checks can be tight. Needs two
 * CPUs: the runner waits on CPU 0, blocked, and everything measured runs
 * on CPU 1.
 *
 *   confined     two partitions with windows, a third with none: each runs
 *                only inside its own windows, the third never; every window
 *                starts with its partition running within SWITCH_MAX_NS.
 *   spare        a background partition gets the frame's gaps and, once
 *                the owner of a window blocks for good, that window too;
 *                never another partition's window.
 *   misbehaving  a third partition spins at a high priority, faults in a
 *                loop and floods IPC (notification signals and endpoint
 *                sends to threads of the other two) in its window: the other
 *                partitions' windows start as before, and the threads its
 *                IPC wakes run only in their own windows.
 *   inside       a budget, preemption upcalls and IPC within one
 *                partition: all work, all inside its windows (a spinner
 *                with 100 us in every 500 us, an IPC client with the same
 *                budget calling a server, a spinner of lower priority
 *                with an upcall every 20 us in the time they leave).
 *
 * The case prints BENCH lines (window-switch cost and jitter) that
 * tools/bench_windows.py collects for make bench.
 */
#include "../utest.h"

#include <hallows/uctx.h>
#include <hallows/window.h>
#include <lib/string.h>

#define WCPU          1
#define MAXRUNS       2048
#define GAP_NS        1500  /* a stamp this much after the last: the thread was off the CPU */
#define SWITCH_MAX_NS 20000 /* a window's first instruction at most this late */
#define EARLY_NS      300   /* a boundary acted on this early (the timer's slack, rounding) */
#define OVERRUN_NS    3000  /* a thread's last stamp at most this far past its window */
#define FRAMES        8     /* frames each case records */
#define MAX(a, b)     ((a) > (b) ? (a) : (b))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))

struct rec {
	const char *name;
	uint8_t part;
	bool overflow;
	volatile uint32_t n;
	uint64_t until;    /* stop at this TSC */
	uint64_t block_at; /* spare case: block for good at this TSC (0: never) */
	hl_cptr_t wait;    /* what event recorders wait on, or block_at blocks on */
	uint64_t s[MAXRUNS], e[MAXRUNS];
};

struct wcase {
	struct utest_ctx *t;
	struct hl_window_table *tab;
	hl_cptr_t tab_frame, done;
	uint64_t epoch, frame, gap;
	uint64_t ws[HL_WINDOWS_MAX], we[HL_WINDOWS_MAX]; /* windows in TSC ticks */
	uint32_t count;                                  /* windows (the table is cleared after) */
	volatile uint32_t ndone;
	hl_cptr_t threads[16];
	uint32_t nthreads;
};

static uint64_t ns_tsc(uint64_t ns)
{
	uint64_t hz = rt_self.bi->tsc_hz;

	return ns / 1000 * (hz / 1000000) + ns % 1000 * (hz / 1000000) / 1000;
}

static uint64_t tsc_ns(uint64_t ticks)
{
	uint64_t hz = rt_self.bi->tsc_hz;

	return ticks / hz * 1000000000ull + ticks % hz * 1000000000ull / hz;
}

static struct wcase wc;

static void add_run(struct rec *r, uint64_t s, uint64_t e)
{
	if (r->n == MAXRUNS) {
		r->overflow = true;
		return;
	}
	r->s[r->n] = s, r->e[r->n] = e;
	r->n++;
}

static void finished(void)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	__atomic_add_fetch(&wc.ndone, 1, __ATOMIC_SEQ_CST);
	hl_syscall(HL_SYS_SEND, wc.done, &info, &m, NULL);
}

/* Spin until r->until, recording every stretch of time on the CPU. */
static void spinner(void *arg)
{
	struct rec *r = arg;
	uint64_t gap = wc.gap, first = ut_rdtsc(), last = first;

	for (;;) {
		uint64_t now = ut_rdtsc();
		if (now - last > gap) {
			add_run(r, first, last);
			first = now;
		}
		last = now;
		if (now >= r->until)
			break;
		if (r->block_at && now >= r->block_at) {
			hl_word_t info = 0;
			struct hl_msg m = {{0}};
			add_run(r, first, last);
			finished();
			for (;;)
				hl_syscall(HL_SYS_RECV, r->wait, &info, &m,
				           NULL); /* nobody signals */
		}
	}
	add_run(r, first, last);
	finished();
}

/* Wait on r->wait (a notification or an endpoint) for ever; record when each wait ends. */
static void waker(void *arg)
{
	struct rec *r = arg;

	for (;;) {
		hl_word_t info = 0;
		struct hl_msg m = {{0}};
		hl_syscall(HL_SYS_RECV, r->wait, &info, &m, NULL);
		uint64_t now = ut_rdtsc();
		add_run(r, now, now);
	}
}

/*
 * The first arming of the LAPIC timer calibrates it (arch/x86_64/apic.c,
 * about 10 ms with interrupts off on that CPU): let a table arm it once on
 * CPU WCPU before anything is measured.
 */
/* Signals the notification arg once CPU WCPU has armed its timer for a window boundary. */
static void nothing(void *arg)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	hl_yield(); /* in the kernel's scheduler with the table installed: the timer is armed */
	hl_syscall(HL_SYS_SEND, (hl_cptr_t)arg, &info, &m, NULL);
}

static void warm_up(struct utest_ctx *t)
{
	static bool done;
	hl_cptr_t f;
	struct hl_window_table *w;
	hl_word_t epoch;

	if (done)
		return;
	w = ut_page(t, &f);
	if (!w)
		return;
	memset(w, 0, sizeof(*w));
	w->frame_ns = 1000000, w->count = 1;
	w->w[0] = (struct hl_window){.offset_ns = 0, .length_ns = 500000, .partition = 1};
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_cptr_t th = ut_thread_new(t, nothing, (void *)n, 50);
	if (n && th && !hl_thread_set_affinity(th, WCPU) &&
	    hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, WCPU, f, 0, &epoch) == HL_OK &&
	    !hl_thread_resume(th)) {
		/* Blocked, not spinning: under -icount a spinning CPU 0 can keep CPU 1 from
		 * running. */
		hl_word_t info = 0;
		struct hl_msg m = {{0}};
		hl_syscall(HL_SYS_RECV, n, &info, &m, NULL);
	}
	w->count = 0;
	hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, WCPU, f, 0, &epoch);
	done = true;
}

/* A fresh case: an empty table of frame_ns with the given spare partition. */
static bool case_init(struct utest_ctx *t, uint64_t frame_ns, uint32_t spare)
{
	if (!UCHECK(t, rt_self.bi->ncpus >= 2, "the windows suite needs two CPUs"))
		return false;
	memset(&wc, 0, sizeof(wc));
	wc.t = t;
	warm_up(t);
	wc.tab = ut_page(t, &wc.tab_frame);
	wc.done = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	wc.gap = ns_tsc(GAP_NS);
	if (!UCHECK(t, wc.tab && wc.done, "out of memory"))
		return false;
	memset(wc.tab, 0, sizeof(*wc.tab));
	wc.tab->frame_ns = frame_ns;
	wc.tab->spare = spare;
	wc.frame = ns_tsc(frame_ns);
	return true;
}

static void add_window(uint64_t off_ns, uint64_t len_ns, uint32_t part)
{
	uint32_t i = wc.tab->count++;

	wc.count = wc.tab->count;
	wc.tab->w[i] =
	    (struct hl_window){.offset_ns = off_ns, .length_ns = len_ns, .partition = part};
	wc.ws[i] = ns_tsc(off_ns);
	wc.we[i] = ns_tsc(off_ns + len_ns);
}

/* A thread of partition part (0: untagged) on CPU WCPU, not yet resumed. */
static hl_cptr_t wthread(void (*fn)(void *), void *arg, uint8_t prio, uint8_t part)
{
	hl_cptr_t th = ut_thread_new(wc.t, fn, arg, prio);

	if (!th || hl_thread_set_affinity(th, WCPU) ||
	    hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, th, part))
		return 0;
	if (wc.nthreads < 16)
		wc.threads[wc.nthreads++] = th;
	return th;
}

static struct rec *new_rec(struct rec *r, const char *name, uint8_t part)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->part = part;
	return r;
}

/* Install the table (epoch now), start the threads, wait for want spinners to finish. */
static bool run_case(uint32_t want)
{
	hl_word_t epoch = 0;
	struct utest_ctx *t = wc.t;

	if (!UCHECK(t, hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, WCPU, wc.tab_frame, 0,
	                                            &epoch) == HL_OK))
		return false;
	wc.epoch = epoch;
	for (uint32_t i = 0; i < wc.nthreads; i++)
		UEXPECT_ERR(t, hl_thread_resume(wc.threads[i]), HL_OK);
	while (wc.ndone < want) {
		hl_word_t info = 0;
		struct hl_msg m = {{0}};
		hl_syscall(HL_SYS_RECV, wc.done, &info, &m, NULL);
	}
	for (uint32_t i = 0; i < wc.nthreads; i++)
		hl_thread_suspend(wc.threads[i]);
	wc.tab->count = 0;
	UEXPECT_ERR(
	    t, hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, WCPU, wc.tab_frame, 0, &epoch),
	    HL_OK);
	return true;
}

/* Start and end (TSC) of frame k's window i. */
static uint64_t wstart(uint64_t k, uint32_t i)
{
	return wc.epoch + k * wc.frame + wc.ws[i];
}

static uint64_t wend(uint64_t k, uint32_t i)
{
	return wc.epoch + k * wc.frame + wc.we[i];
}

/*
 * May partition part run at TSC time x? Its windows, the gaps when it is
 * the spare, and (lent_after) the windows of partition lent_from after
 * that time. Returns the end of the stretch it may run in (0: it may not).
 */
static uint64_t allowed_until(uint8_t part, uint64_t x, uint8_t lent_from, uint64_t lent_after)
{
	uint64_t early = ns_tsc(EARLY_NS);

	if (x + early < wc.epoch)
		return 0;
	uint64_t k = (x + early - wc.epoch) / wc.frame;
	for (uint64_t kk = k ? k - 1 : 0; kk <= k + 1; kk++) {
		uint64_t gap_from = wc.epoch + kk * wc.frame;
		for (uint32_t i = 0; i <= wc.count; i++) {
			bool last = i == wc.count;
			uint64_t s = last ? 0 : wstart(kk, i), e = last ? 0 : wend(kk, i);
			uint64_t gap_to = last ? wc.epoch + (kk + 1) * wc.frame : s;
			/* the gap before window i (or before the next frame) */
			if (wc.tab->spare == part && gap_to > gap_from && x + early >= gap_from &&
			    x < gap_to)
				return gap_to;
			if (last)
				break;
			uint8_t owner = (uint8_t)wc.tab->w[i].partition;
			bool mine = owner == part || (owner == lent_from && lent_after &&
			                              x >= lent_after && wc.tab->spare == part);
			if (mine && x + early >= s && x < e)
				return e;
			gap_from = e;
		}
	}
	return 0;
}

/* Every stretch r ran lies in a stretch it may run in. Returns the violations. */
static uint32_t check_inside(struct rec *r, uint8_t lent_from, uint64_t lent_after)
{
	uint32_t bad = 0;
	uint64_t over = ns_tsc(OVERRUN_NS);

	UEXPECT(wc.t, !r->overflow, "%s: more than %d stretches", r->name, MAXRUNS);
	for (uint32_t j = 0; j < r->n; j++) {
		/* A run may cross from one stretch into the next it may use (a gap into a lent
		 * window): the switch between them is shorter than GAP_NS. */
		uint64_t until = allowed_until(r->part, r->s[j], lent_from, lent_after);
		for (int hop = 0; hop < 8 && until && r->e[j] > until + over; hop++)
			until = allowed_until(r->part, until, lent_from, lent_after);
		if (until && r->e[j] <= until + over)
			continue;
		if (bad++ < 3)
			ut_fail(
			    wc.t, __FILE__, __LINE__, "inside its windows",
			    ": %s ran %lu..%lu ns into the frame (frame %lu), window ends %s%lu",
			    r->name, tsc_ns((r->s[j] - wc.epoch) % wc.frame),
			    tsc_ns((r->s[j] - wc.epoch) % wc.frame + r->e[j] - r->s[j]),
			    (r->s[j] - wc.epoch) / wc.frame, until ? "at +" : "(none) ",
			    until ? tsc_ns(until - r->s[j]) : 0);
	}
	return bad;
}

struct lateness {
	uint64_t n, max, min, sum;
	uint64_t v[64];
};

/*
 * For every whole frame k in [1, FRAMES-1): how long after the start of
 * window i the first stretch of any of recs began (the switch's cost, in
 * TSC ticks = instructions under -icount). A window without any is a
 * failure (the partition lost its window).
 */
static void window_lateness(uint32_t i, struct rec **recs, uint32_t nrec, struct lateness *l)
{
	for (uint64_t k = 1; k + 1 < FRAMES; k++) {
		uint64_t s = wstart(k, i), e = wend(k, i), first = ~0ull;
		for (uint32_t r = 0; r < nrec; r++)
			for (uint32_t j = 0; j < recs[r]->n; j++)
				if (recs[r]->s[j] + ns_tsc(EARLY_NS) >= s && recs[r]->s[j] < e &&
				    recs[r]->s[j] < first)
					first = recs[r]->s[j];
		if (!UCHECK(wc.t, first != ~0ull, "window %u of frame %lu: its partition never ran",
		            i, k))
			continue;
		uint64_t late = first > s ? first - s : 0;
		UEXPECT(wc.t, late <= ns_tsc(SWITCH_MAX_NS),
		        "window %u of frame %lu: first ran %lu ns late", i, k, tsc_ns(late));
		if (l->n < 64)
			l->v[l->n] = late;
		l->n++, l->sum += late;
		l->max = late > l->max ? late : l->max;
		l->min = l->n == 1 || late < l->min ? late : l->min;
	}
}

static uint64_t median(struct lateness *l)
{
	uint64_t n = l->n < 64 ? l->n : 64;

	for (uint64_t i = 1; i < n; i++)
		for (uint64_t j = i; j > 0 && l->v[j - 1] > l->v[j]; j--) {
			uint64_t x = l->v[j];
			l->v[j] = l->v[j - 1], l->v[j - 1] = x;
		}
	return n ? l->v[n / 2] : 0;
}

static void bench(const char *what, struct lateness *l)
{
	rt_printf("BENCH windows.%s.switch_instructions %lu instructions\n", what, median(l));
	rt_printf("BENCH windows.%s.switch_jitter_instructions %lu instructions\n", what,
	          l->n ? l->max - l->min : 0);
	rt_printf("BENCH windows.%s.switch_max_instructions %lu instructions\n", what, l->max);
}

/* TSC ticks r ran within [s, e). */
static uint64_t overlap(const struct rec *r, uint64_t s, uint64_t e)
{
	uint64_t sum = 0;

	for (uint32_t j = 0; j < r->n; j++) {
		uint64_t a = MAX(r->s[j], s), b = MIN(r->e[j], e);
		sum += b > a ? b - a : 0;
	}
	return sum;
}

static uint64_t busy_ns(const struct rec *r)
{
	uint64_t sum = 0;

	for (uint32_t j = 0; j < r->n; j++)
		sum += r->e[j] - r->s[j];
	return tsc_ns(sum);
}

/* ---- the cases (they run in the reverse order of their definition) ---- */

static struct rec ra, rb, rc, rd, rx, ry;

/* A 1 ms window for partition 1, 1 ms for 2 after a 0.5 ms gap, nothing for 3; spare: idle. */
UTEST(windows, confined)
{
	if (!case_init(t, 4000000, 0))
		return;
	add_window(0, 1000000, 1);
	add_window(1500000, 1000000, 2);
	uint64_t until = ut_rdtsc() + wc.frame * (FRAMES + 1);
	new_rec(&ra, "a", 1)->until = until;
	new_rec(&rb, "b", 2)->until = until;
	new_rec(&rc, "c (no window)", 3)->until = until;
	if (!UCHECK(t,
	            wthread(spinner, &ra, 40, 1) && wthread(spinner, &rb, 40, 2) &&
	                wthread(spinner, &rc, 40, 3),
	            "threads"))
		return;
	if (!run_case(2))
		return;
	UEXPECT(t, check_inside(&ra, 0, 0) == 0);
	UEXPECT(t, check_inside(&rb, 0, 0) == 0);
	UEXPECT(t, rc.n == 0, "a partition without a window ran (%u stretches)", rc.n);
	struct lateness l = {0};
	struct rec *a[] = {&ra}, *b[] = {&rb};
	window_lateness(0, a, 1, &l);
	window_lateness(1, b, 1, &l);
	/* Each got nearly its window: 1 ms of 4 per frame. */
	uint64_t share_a = busy_ns(&ra), share_b = busy_ns(&rb);
	UEXPECT(t, share_a > (FRAMES - 1) * 900000ull && share_b > (FRAMES - 1) * 900000ull,
	        "ran %lu and %lu ns", share_a, share_b);
	bench("idle", &l);
}

/* Spare partition 4 spins in the gaps, and in partition 1's window once 1 blocks for good. */
UTEST(windows, spare)
{
	if (!case_init(t, 3000000, 4))
		return;
	add_window(0, 1000000, 1);
	add_window(1500000, 1000000, 2);
	uint64_t now = ut_rdtsc(), until = now + wc.frame * (FRAMES + 1);
	new_rec(&ra, "a (blocks)", 1)->until = until;
	ra.block_at = now + wc.frame * 3;
	ra.wait = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	new_rec(&rb, "b", 2)->until = until;
	new_rec(&rd, "spare", 4)->until = until;
	if (!UCHECK(t,
	            ra.wait && wthread(spinner, &ra, 40, 1) && wthread(spinner, &rb, 40, 2) &&
	                wthread(spinner, &rd, 40, 4),
	            "threads"))
		return;
	if (!run_case(3))
		return;
	uint64_t blocked = ra.n ? ra.e[ra.n - 1] : 0;
	UEXPECT(t, check_inside(&ra, 0, 0) == 0);
	UEXPECT(t, check_inside(&rb, 0, 0) == 0);
	UEXPECT(t, check_inside(&rd, 1, blocked) == 0);
	/* The spare used partition 1's window after it blocked, and the gaps. */
	uint64_t in_a_after = 0, in_gaps = 0;
	for (uint64_t k = 0; k <= FRAMES; k++) {
		in_a_after += overlap(&rd, MAX(wstart(k, 0), blocked), wend(k, 0));
		in_gaps += overlap(&rd, wend(k, 0), wstart(k, 1)) +
		           overlap(&rd, wend(k, 1), wstart(k + 1, 0));
	}
	UEXPECT(t, tsc_ns(in_a_after) > 2 * 900000ull, "spare in the lent window: %lu ns",
	        tsc_ns(in_a_after));
	UEXPECT(t, tsc_ns(in_gaps) > (FRAMES - 1) * 900000ull, "spare in the gaps: %lu ns",
	        tsc_ns(in_gaps));
	struct lateness l = {0};
	struct rec *b[] = {&rb};
	window_lateness(1, b, 1, &l);
	bench("spare", &l);
}

/* ---- a misbehaving partition ---- */

static hl_cptr_t flood_ntfn, flood_ep, fault_ep, faulter_tcb;

static void c_spin(void *arg)
{
	(void)arg;
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static void c_fault(void *arg)
{
	(void)arg;
	__asm__ volatile("1: ud2\n\tjmp 1b");
}

/* Skips the faulter's ud2 and replies, for ever: a partition faulting as fast as it can. */
static void c_fault_handler(void *arg)
{
	(void)arg;
	hl_word_t info = 0, rip = 0, rsp = 0;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_RECV, fault_ep, &info, &m, NULL);
	for (;;) {
		rip = m.w[HL_FAULT_RIP];
		hl_thread_read_regs(faulter_tcb, NULL, &rsp, NULL, NULL);
		hl_thread_write_regs(faulter_tcb, rip + 2, rsp, 0, 0);
		info = 0;
		hl_syscall(HL_SYS_REPLY_RECV, fault_ep, &info, &m, NULL);
	}
}

/* Signals partition 2's notification and sends to partition 1's endpoint without pause. */
static void c_flood(void *arg)
{
	(void)arg;
	for (;;) {
		hl_word_t info = 0;
		struct hl_msg m = {{0}};
		hl_syscall(HL_SYS_SEND, flood_ntfn, &info, &m, NULL);
		info = HL_MSGINFO(0, 1, 0);
		hl_syscall(HL_SYS_NBSEND, flood_ep, &info, &m, NULL);
	}
}

UTEST(windows, misbehaving)
{
	if (!case_init(t, 3000000, 0))
		return;
	add_window(0, 1000000, 1);
	add_window(1000000, 1000000, 2);
	add_window(2000000, 1000000, 3);
	uint64_t until = ut_rdtsc() + wc.frame * (FRAMES + 1);
	flood_ntfn = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	flood_ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	fault_ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	new_rec(&ra, "a", 1)->until = until;
	new_rec(&rb, "b", 2)->until = until;
	new_rec(&rx, "a woken by c", 1)->wait = flood_ep;
	new_rec(&ry, "b woken by c", 2)->wait = flood_ntfn;
	faulter_tcb = wthread(c_fault, NULL, 90, 3);
	if (!UCHECK(t, flood_ntfn && flood_ep && fault_ep && faulter_tcb, "objects") ||
	    !UCHECK(t, hl_thread_set_fault_ep(faulter_tcb, fault_ep) == HL_OK))
		return;
	if (!UCHECK(t,
	            wthread(spinner, &ra, 40, 1) && wthread(spinner, &rb, 40, 2) &&
	                wthread(waker, &rx, 60, 1) && wthread(waker, &ry, 60, 2) &&
	                wthread(c_spin, NULL, 90, 3) && wthread(c_fault_handler, NULL, 90, 3) &&
	                wthread(c_flood, NULL, 90, 3),
	            "threads"))
		return;
	if (!run_case(2))
		return;
	UEXPECT(t, check_inside(&ra, 0, 0) == 0);
	UEXPECT(t, check_inside(&rb, 0, 0) == 0);
	UEXPECT(t, check_inside(&rx, 0, 0) == 0);
	UEXPECT(t, check_inside(&ry, 0, 0) == 0);
	UEXPECT(t, rx.n >= FRAMES - 1 && ry.n >= FRAMES - 1, "the flood woke a %u and b %u times",
	        rx.n, ry.n);
	struct lateness l = {0};
	struct rec *a[] = {&ra, &rx}, *b[] = {&rb, &ry};
	window_lateness(0, a, 2, &l);
	window_lateness(1, b, 2, &l);
	bench("misbehaving", &l);
}

/* ---- budgets, upcalls and IPC inside a window ---- */

struct upc {
	struct uctx ctx;
	struct rec *r;
};

static void upcall_handler(struct rt_upcall_page *p)
{
	struct upc *u = p->user;
	uint64_t now = ut_rdtsc();

	add_run(u->r, now, now);
	uctx_from_area(&u->ctx, &p->a);
	uctx_resume(&u->ctx, &p->a.masked);
}

static hl_cptr_t ipc_ep;
static struct rec rs;

static void ipc_server(void *arg)
{
	(void)arg;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_RECV, ipc_ep, &info, &m, NULL);
	for (;;) {
		info = HL_MSGINFO(0, 1, 0);
		m.w[0]++;
		hl_syscall(HL_SYS_REPLY_RECV, ipc_ep, &info, &m, NULL);
	}
}

/* Calls the server until r->until, recording each round trip's end. */
static void ipc_client(void *arg)
{
	struct rec *r = arg;

	for (uint64_t i = 0;; i++) {
		hl_word_t info = HL_MSGINFO(0, 1, 0);
		struct hl_msg m = {{i}};
		if (hl_syscall(HL_SYS_CALL, ipc_ep, &info, &m, NULL) != HL_OK || m.w[0] != i + 1)
			r->overflow = true; /* reported as a failure */
		uint64_t now = ut_rdtsc();
		if (i % 16 == 0)
			add_run(r, now, now);
		if (now >= r->until)
			break;
	}
	finished();
}

UTEST(windows, inside)
{
	static struct upc u;
	static struct rec ru;

	if (!case_init(t, 2000000, 0))
		return;
	add_window(0, 1000000, 1);
	uint64_t until = ut_rdtsc() + wc.frame * (FRAMES + 1);
	new_rec(&ra, "budgeted", 1)->until = until;
	new_rec(&rb, "upcalled", 1)->until = until;
	new_rec(&ru, "upcall handler", 1);
	new_rec(&rs, "ipc client", 1)->until = until;
	ipc_ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	hl_cptr_t page_frame;
	struct rt_upcall_page *page = ut_page(t, &page_frame);
	uint8_t *stack = ut_page(t, NULL);
	hl_cptr_t bud = wthread(spinner, &ra, 50, 1), up = wthread(spinner, &rb, 45, 1);
	hl_cptr_t server = wthread(ipc_server, NULL, 40, 1),
	          client = wthread(ipc_client, &rs, 40, 1);
	if (!UCHECK(t, ipc_ep && page && stack && bud && up && server && client, "objects"))
		return;
	u.r = &ru;
	page->user = &u;
	page->cur = &u.ctx;
	UEXPECT_ERR(t, hl_thread_set_budget(bud, 100, 500), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_budget(up, 200, 500), HL_OK); /* leaves time for the IPC */
	UEXPECT_ERR(t, rt_upcall_attach(up, page_frame, page, stack + 4096, upcall_handler, 20000),
	            HL_OK);
	if (!run_case(3))
		return;
	UEXPECT(t, check_inside(&ra, 0, 0) == 0);
	UEXPECT(t, check_inside(&rb, 0, 0) == 0);
	UEXPECT(t, check_inside(&ru, 0, 0) == 0);
	UEXPECT(t, !rs.overflow, "an IPC round trip failed");
	rs.overflow = false;
	UEXPECT(t, check_inside(&rs, 0, 0) == 0);
	UEXPECT(t, rs.n >= 16, "IPC: %u round trips recorded", rs.n * 16);
	UEXPECT(t, ru.n >= 16, "upcalls: %u", ru.n);
	/*
	 * The budget, 100 us in every 500 us: the thread ran in every window, and
	 * no more than the budget allows over the whole run (plus one budget: a
	 * budget left unused while parked is still there at the next window; see
	 * docs/scheduling.md).
	 */
	for (uint64_t k = 1; k + 1 < FRAMES; k++) {
		uint64_t used = tsc_ns(overlap(&ra, wstart(k, 0), wend(k, 0)));
		UEXPECT(t, used > 50000, "frame %lu: the budgeted thread ran %lu ns", k, used);
	}
	uint64_t span = ra.n ? tsc_ns(ra.e[ra.n - 1] - ra.s[0]) : 0;
	UEXPECT(t, busy_ns(&ra) <= span / 5 + 100000 + 20000,
	        "the budgeted thread ran %lu ns in %lu ns", busy_ns(&ra), span);
}
