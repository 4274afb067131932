/*
 * Host tests for the user-level scheduler's policies (user/rt/usched.c)
 * under ASan+UBSan: FCFS order, processor sharing's rotation, the queue's
 * bookkeeping under random operations, and a discrete-time simulation of
 * one server showing what each policy does to short requests stuck behind
 * a long one (the effect bench-tail measures on Hallows).
 */
#include "ktharness.h"

#include <hallows/usched.h>
#include <stdlib.h>
#include <string.h>

static struct usched_task *tasks(int n)
{
	return calloc((size_t)n, sizeof(struct usched_task));
}

static void fcfs_runs_in_arrival_order(void)
{
	struct usched s;
	struct usched_task *t = tasks(3);

	usched_init(&s, USCHED_FCFS);
	for (int i = 0; i < 3; i++)
		usched_submit(&s, &t[i]);
	CHECK(usched_pick(&s) == &t[0]);
	CHECK(usched_preempted(&s) == &t[0]); /* FCFS: an upcall changes nothing */
	CHECK(usched_pick(&s) == &t[0]);      /* something runs: pick keeps it */
	CHECK(usched_done(&s) == &t[0]);
	CHECK(usched_pick(&s) == &t[1]);
	CHECK(usched_done(&s) == &t[1]);
	CHECK(usched_pick(&s) == &t[2]);
	CHECK(usched_done(&s) == &t[2]);
	CHECK(usched_pick(&s) == NULL);
	CHECK_EQ(s.preemptions, 0);
	CHECK_EQ(s.completions, 3);
	free(t);
}

static void ps_rotates_on_preemption(void)
{
	struct usched s;
	struct usched_task *t = tasks(3);

	usched_init(&s, USCHED_PS);
	for (int i = 0; i < 3; i++)
		usched_submit(&s, &t[i]);
	CHECK(usched_pick(&s) == &t[0]);
	CHECK(usched_preempted(&s) == &t[1]);
	CHECK(usched_preempted(&s) == &t[2]);
	CHECK(usched_preempted(&s) == &t[0]);
	CHECK(usched_done(&s) == &t[0]);
	CHECK(usched_pick(&s) == &t[1]);
	CHECK_EQ(t[0].preempted, 1);
	CHECK_EQ(t[1].preempted, 1);
	CHECK_EQ(s.preemptions, 3);
	CHECK_EQ(s.queued, 1);
	free(t);
}

static void fb_runs_fresh_tasks_before_preempted_ones(void)
{
	struct usched s;
	struct usched_task *t = tasks(4);

	usched_init(&s, USCHED_FB);
	usched_submit(&s, &t[0]);
	usched_submit(&s, &t[1]);
	CHECK(usched_pick(&s) == &t[0]);
	CHECK(usched_preempted(&s) == &t[1]); /* t0 to the second queue */
	usched_submit(&s, &t[2]);             /* arrives after t0 was preempted ... */
	CHECK(usched_preempted(&s) == &t[2]); /* ... and still runs before it */
	usched_submit(&s, &t[3]);
	CHECK(usched_done(&s) == &t[2]);
	CHECK(usched_pick(&s) == &t[3]);
	CHECK(usched_done(&s) == &t[3]);
	CHECK(usched_pick(&s) == &t[0]); /* then the preempted ones, in turn */
	CHECK(usched_preempted(&s) == &t[1]);
	CHECK(usched_preempted(&s) == &t[0]);
	CHECK(usched_done(&s) == &t[0]);
	CHECK(usched_pick(&s) == &t[1]);
	CHECK(usched_preempted(&s) == &t[1]); /* alone: runs on */
	CHECK_EQ(s.queued, 0);
	CHECK_EQ(s.preemptions, 4);
	free(t);
}

static void ps_alone_runs_on(void)
{
	struct usched s;
	struct usched_task t = {0};

	usched_init(&s, USCHED_PS);
	CHECK(usched_preempted(&s) == NULL); /* nothing at all */
	usched_submit(&s, &t);
	CHECK(usched_preempted(&s) == &t); /* nothing ran: the head is picked */
	CHECK(usched_preempted(&s) == &t); /* nobody waits: it runs on */
	CHECK_EQ(s.preemptions, 0);
	CHECK(usched_done(&s) == &t);
	CHECK(usched_done(&s) == NULL);
	CHECK_EQ(s.completions, 1);
}

/* Random operations: every task is in exactly one place (queue, cur, done), queued counts the
 * queue. */
static void random_operations_lose_nothing(void)
{
	enum { N = 64 };
	struct usched_task *t = tasks(N);
	int where[N]; /* 0 new, 1 queued or running, 2 done */

	for (int pol = 0; pol < 3; pol++) {
		struct usched s;
		int submitted = 0;
		memset(where, 0, sizeof(where));
		memset(t, 0, N * sizeof(*t));
		usched_init(&s, (enum usched_policy)pol);
		for (int step = 0; step < 5000 && !kt_failed(); step++) {
			switch (kt_below(4)) {
			case 0:
				if (submitted < N) {
					usched_submit(&s, &t[submitted]);
					where[submitted++] = 1;
				}
				break;
			case 1:
				usched_pick(&s);
				break;
			case 2:
				usched_preempted(&s);
				break;
			default: {
				struct usched_task *d = usched_done(&s);
				if (d) {
					CHECK_EQ(where[d - t], 1);
					where[d - t] = 2;
				}
			}
			}
			uint32_t n = 0;
			for (struct usched_task *q = s.head; q && n <= N; q = q->next, n++)
				CHECK(q != s.cur && where[q - t] == 1);
			for (struct usched_task *q = s.bg_head; q && n <= N; q = q->next, n++)
				CHECK(q != s.cur && where[q - t] == 1 && q->preempted > 0);
			CHECK_EQ(n, s.queued);
			int live = 0, done = 0;
			for (int i = 0; i < submitted; i++)
				live += where[i] == 1, done += where[i] == 2;
			CHECK_EQ((uint64_t)live, s.queued + (s.cur != NULL));
			CHECK_EQ((uint64_t)done, s.completions);
		}
	}
	free(t);
}

/*
 * One server, time in ns, an upcall every q ns of running (q 0: none):
 * run the tasks (arrival, work) through the library and return each
 * task's completion time in done[].
 */
static void simulate(enum usched_policy pol, uint64_t q, int n, const uint64_t *arrive,
                     const uint64_t *work, uint64_t *done)
{
	struct usched s;
	struct usched_task *t = tasks(n);
	uint64_t *left = calloc((size_t)n, sizeof(uint64_t)), now = 0;
	int next = 0, finished = 0;

	usched_init(&s, pol);
	for (int i = 0; i < n; i++)
		left[i] = work[i];
	while (finished < n && !kt_failed()) {
		while (next < n && arrive[next] <= now)
			usched_submit(&s, &t[next++]);
		struct usched_task *c = usched_pick(&s);
		if (!c) {
			now = arrive[next]; /* idle until the next arrival */
			continue;
		}
		int i = (int)(c - t);
		uint64_t slice = q && left[i] > q ? q : left[i];
		now += slice;
		left[i] -= slice;
		while (next < n && arrive[next] <= now)
			usched_submit(&s, &t[next++]);
		if (!left[i]) {
			usched_done(&s);
			done[i] = now;
			finished++;
		} else {
			usched_preempted(&s);
		}
	}
	free(left);
	free(t);
}

static void ps_frees_short_tasks_stuck_behind_a_long_one(void)
{
	enum { N = 11 };
	uint64_t arrive[N], work[N], fcfs[N], ps[N], fb[N];

	arrive[0] = 0, work[0] = 500000; /* one 500 us request, then ten of 0.5 us */
	for (int i = 1; i < N; i++)
		arrive[i] = 1000 * (uint64_t)i, work[i] = 500;
	simulate(USCHED_FCFS, 5000, N, arrive, work, fcfs);
	simulate(USCHED_PS, 5000, N, arrive, work, ps);
	simulate(USCHED_FB, 5000, N, arrive, work, fb);
	uint64_t fcfs_worst = 0, ps_worst = 0, fb_worst = 0;
	for (int i = 1; i < N; i++) {
		fcfs_worst = fcfs[i] - arrive[i] > fcfs_worst ? fcfs[i] - arrive[i] : fcfs_worst;
		ps_worst = ps[i] - arrive[i] > ps_worst ? ps[i] - arrive[i] : ps_worst;
		fb_worst = fb[i] - arrive[i] > fb_worst ? fb[i] - arrive[i] : fb_worst;
	}
	CHECK(fcfs_worst >= 490000); /* every short one waits for the long one */
	CHECK(ps_worst <= 11000);    /* at most about two quanta */
	CHECK(fb_worst <= ps_worst); /* a fresh task never waits behind a preempted one */
	CHECK_EQ(fb[0], 505000);
	CHECK_EQ(fcfs[0], 500000);     /* FCFS: the long one first, undisturbed */
	CHECK_EQ(ps[0], 505000);       /* PS: it ends last, when all the work is done */
	CHECK_EQ(fcfs[N - 1], 505000); /* the same work, reordered: both end at the same time */
}

int main(int argc, char **argv)
{
	kt_group = "usched-host";
	static const struct kt_case cases[] = {
	    KT(fcfs_runs_in_arrival_order),
	    KT(ps_rotates_on_preemption),
	    KT(ps_alone_runs_on),
	    KT(fb_runs_fresh_tasks_before_preempted_ones),
	    KT(random_operations_lose_nothing),
	    KT(ps_frees_short_tasks_stuck_behind_a_long_one),
	};
	return kt_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
