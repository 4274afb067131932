/*
 * Partition windows (ARINC 653; docs/scheduling.md, "Partition windows";
 * ABI in include/uapi/hallows/window.h and docs/abi.md).
 *
 * Mechanism only: per CPU a table of windows in a repeating major frame,
 * installed by whoever holds the sched_control capability (the root task,
 * which takes the policy from the manifest), and a partition tag per
 * thread. On a CPU with a table, a tagged thread is in the run queue only
 * while its partition is the active one; otherwise it waits on the CPU's
 * parked list. At each window boundary (the one-shot timer is armed for
 * it: kernel/sched.c, sched_arm_timer) the CPU moves the threads between
 * the two (win_advance) and picks again; inside a window the ordinary
 * priorities, budgets, upcalls and IPC apply. Time no window covers goes
 * to the spare partition (or idles), and so does a window's time while its
 * owner has nothing runnable (win_lend; the owner's next wakeup takes it
 * back, win_reclaim). Untagged threads (the root task) run in every
 * window by priority. Everything here runs under the big kernel lock.
 */
#include <arch/cpu.h>
#include <hallows/window.h>
#include <kernel/invoke.h>
#include <kernel/layout.h>
#include <kernel/object.h>
#include <kernel/percpu.h>
#include <kernel/runq.h>
#include <kernel/thread.h>
#include <kernel/time.h>
#include <lib/string.h>

/* One CPU's frame in TSC ticks. [BKL] */
struct wtable {
	uint64_t epoch; /* TSC at which a frame starts (every frame_tsc after it) */
	uint64_t frame_tsc;
	uint32_t count;
	struct {
		uint64_t start, end; /* TSC offsets within the frame */
		uint8_t part;
	} w[HL_WINDOWS_MAX];
};

static struct wtable wtables[MAX_CPUS];

/* An expiry this close counts as due: the count-mode LAPIC timer can fire a little early. */
#define WIN_SLACK_NS 200

static uint64_t ns_tsc(uint64_t ns)
{
	return ns / 1000 * (tsc_hz / 1000000) + ns % 1000 * (tsc_hz / 1000000) / 1000;
}

void win_park(struct runq *q, struct thread *t)
{
	t->qnext = q->parked;
	t->qprev = NULL;
	q->parked = t;
	t->parked = 1;
}

bool win_unpark(struct thread *t)
{
	if (!t->parked)
		return false;
	for (struct thread **pp = &rqs[t->cpu].parked; *pp; pp = &(*pp)->qnext)
		if (*pp == t) {
			*pp = t->qnext;
			t->qnext = NULL;
			t->parked = 0;
			return true;
		}
	return false; /* not reached: a parked thread is on its CPU's list (sched_migrate) */
}

/*
 * After a change of q->win_active: queued threads the window no longer
 * allows go to the parked list, parked threads it allows to the run queue
 * (in the order they were parked). Cost: the threads of this CPU.
 */
static void repartition(struct runq *q)
{
	struct thread *out = NULL;

	for (int w = 3; w >= 0; w--)
		for (uint64_t bits = q->bitmap[w];
		     bits;) { /* the priorities queued before the walk */
			int b = 63 - __builtin_clzll(bits);
			bits &= ~(1ull << b);
			for (struct thread *t = q->head[w * 64 + b], *n; t; t = n) {
				n = t->qnext;
				if (!win_allows(q, t)) {
					rq_remove(q, t);
					t->qnext = out, out = t;
				}
			}
		}
	struct thread *in = NULL;
	for (struct thread **pp = &q->parked; *pp;) {
		struct thread *t = *pp;
		if (win_allows(q, t)) {
			*pp = t->qnext;
			t->parked = 0;
			t->qnext = in, in = t;
		} else {
			pp = &t->qnext;
		}
	}
	/* in is newest first: queue it oldest first. */
	struct thread *rev = NULL;
	while (in) {
		struct thread *n = in->qnext;
		in->qnext = rev, rev = in, in = n;
	}
	for (struct thread *n; rev; rev = n) {
		n = rev->qnext;
		rq_push(q, rev, false);
	}
	for (struct thread *n; out; out = n) {
		n = out->qnext;
		win_park(q, out);
	}
}

/* CPU cpu must pick again (its current thread may no longer be allowed). */
static void kick_cpu(uint32_t cpu)
{
	struct cpu *c = &cpus[cpu];

	c->need_resched = true;
	if (c != this_cpu())
		arch_send_resched(c);
}

/* Set q's owner and next boundary from the table for time now (TSC). */
static void locate(struct runq *q, const struct wtable *wt, uint64_t now)
{
	uint64_t since = now - wt->epoch, base = now - since % wt->frame_tsc;
	uint64_t pos = since % wt->frame_tsc, next = wt->frame_tsc;
	uint8_t owner = q->win_spare;

	for (uint32_t i = 0; i < wt->count; i++) {
		if (pos < wt->w[i].start) {
			next = wt->w[i].start; /* in the gap before window i */
			break;
		}
		if (pos < wt->w[i].end) {
			owner = wt->w[i].part;
			next = wt->w[i].end;
			break;
		}
	}
	q->win_owner = owner;
	q->win_next_tsc = base + next;
}

void win_advance(uint32_t cpu, uint64_t now)
{
	struct runq *q = &rqs[cpu];
	const struct wtable *wt = &wtables[cpu];
	uint8_t was = q->win_active;

	if (!q->win_on)
		return;
	/* A timer that fired a little early acts at the boundary it was armed for. */
	locate(q, wt, MAX(now, q->win_next_tsc));
	q->win_lent = 0;
	q->win_active = q->win_owner;
	if (q->win_active != was)
		repartition(q);
	kick_cpu(cpu);
}

/* Nothing of the owner is runnable on this CPU: the spare partition may use the window. */
bool win_lend(uint32_t cpu)
{
	struct runq *q = &rqs[cpu];

	if (!q->win_on || !q->win_spare || q->win_active == q->win_spare)
		return false;
	q->win_active = q->win_spare;
	q->win_lent = 1;
	repartition(q);
	return true;
}

void win_reclaim(uint32_t cpu)
{
	struct runq *q = &rqs[cpu];

	q->win_active = q->win_owner;
	q->win_lent = 0;
	repartition(q);
	kick_cpu(cpu);
}

uint64_t win_ns_left(const struct runq *q, uint64_t now)
{
	if (!q->win_on)
		return ~0ull;
	uint64_t d = q->win_next_tsc > now ? q->win_next_tsc - now : 0;
	return d / tsc_hz * 1000000000ull + d % tsc_hz * 1000000000ull / tsc_hz;
}

bool win_due(const struct runq *q, uint64_t now)
{
	return q->win_on && now + ns_tsc(WIN_SLACK_NS) >= q->win_next_tsc;
}

/*
 * Check a table the caller wrote: count, frame, every window inside the
 * frame, sorted, not overlapping, long enough, owned by a partition id.
 */
static int check_table(const struct hl_window_table *t)
{
	if (t->count > HL_WINDOWS_MAX || t->spare >= HL_PARTITION_IDS)
		return HL_ERR_INVALID_ARG;
	if (!t->count)
		return HL_OK;
	if (t->frame_ns < HL_WINDOW_MIN_NS || t->frame_ns > HL_FRAME_MAX_NS)
		return HL_ERR_RANGE;
	uint64_t end = 0;
	for (uint32_t i = 0; i < t->count; i++) {
		const struct hl_window *w = &t->w[i];
		if (!w->partition || w->partition >= HL_PARTITION_IDS || w->reserved)
			return HL_ERR_INVALID_ARG;
		if (w->length_ns < HL_WINDOW_MIN_NS || w->offset_ns < end ||
		    w->offset_ns > t->frame_ns || w->length_ns > t->frame_ns - w->offset_ns)
			return HL_ERR_RANGE; /* too short, overlapping, unsorted or past the frame
			                      */
		end = w->offset_ns + w->length_ns;
	}
	return HL_OK;
}

/*
 * sched_control.set_windows(cpu, table, start_tsc) -> epoch_tsc: install
 * the table in the 4 KiB frame `table` (read right) for CPU cpu, its frames
 * counted from start_tsc (0: now; a TSC value not in the future, so that
 * several CPUs can share one epoch). count 0 removes the CPU's windows.
 */
int decode_sched_control_set_windows(struct invocation *inv)
{
	uint64_t cpu = inv->arg[0], start = inv->arg[2], now = rdtsc();
	struct slot *frame;
	static struct hl_window_table tab; /* [BKL] the caller's table, copied once */

	if (cpu >= ncpus_online)
		return HL_ERR_RANGE;
	int err = inv_cap(inv, 1, HL_OBJ_FRAME, HL_R_READ, &frame);
	if (err)
		return err;
	if (frame->cap.size_bits != 12 || (frame->cap.flags & CAP_F_DEVICE))
		return HL_ERR_INVALID_ARG; /* read through the kernel's map of RAM */
	memcpy(&tab, phys_to_virt(frame->cap.obj), sizeof(tab)); /* one read: no second look */
	err = check_table(&tab);
	if (err)
		return err;
	if (start > now)
		return HL_ERR_RANGE;
	/* Committed. */
	struct runq *q = &rqs[cpu];
	struct wtable *wt = &wtables[cpu];
	memset(wt, 0, sizeof(*wt));
	wt->epoch = start ? start : now;
	wt->frame_tsc = MAX(ns_tsc(tab.frame_ns), 1ull);
	wt->count = tab.count;
	for (uint32_t i = 0; i < tab.count; i++) {
		wt->w[i].start = ns_tsc(tab.w[i].offset_ns);
		wt->w[i].end = ns_tsc(tab.w[i].offset_ns + tab.w[i].length_ns);
		wt->w[i].part = (uint8_t)tab.w[i].partition;
	}
	q->win_on = tab.count != 0;
	rq_update_timed(q);
	q->win_spare = (uint8_t)tab.spare;
	q->win_lent = 0;
	if (q->win_on) {
		locate(q, wt, now);
		q->win_active = q->win_owner;
	} else {
		q->win_active = q->win_owner = 0;
	}
	repartition(q);
	q->timer_deadline = 0; /* arm afresh for the first boundary */
	q->slice_armed = false;
	kick_cpu((uint32_t)cpu);
	inv->res[0] = wt->epoch;
	return HL_OK;
}

/*
 * sched_control.bind(thread, partition): tag the thread with a partition id
 * (1..255), or untag it (0). Takes effect at once wherever the thread is.
 */
int decode_sched_control_bind(struct invocation *inv)
{
	struct slot *ts;
	uint64_t part = inv->arg[1];

	if (part >= HL_PARTITION_IDS)
		return HL_ERR_INVALID_ARG;
	int err = inv_cap(inv, 0, HL_OBJ_THREAD, 0, &ts);
	if (err)
		return err;
	/* Committed. */
	struct thread *t = (struct thread *)ts->cap.obj;
	bool waiting = t->state == TS_RUNNABLE && !t->on_cpu && (t->queue || t->parked);
	if (waiting)
		sched_remove(t);
	t->part = (uint8_t)part;
	thread_update_fastpath(t);
	if (waiting)
		sched_make_runnable(t);
	else
		sched_kick(t);
	return HL_OK;
}
