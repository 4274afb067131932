/* Host tests for kernel/timeq.c: the sorted queue of timed waits. */
#include "ktharness.h"

#include <kernel/timeq.h>
#include <string.h>

#define N 64

static struct timeq q;
static struct timeq_node nodes[N];

static void reset(void)
{
	memset(&q, 0, sizeof(q));
	memset(nodes, 0, sizeof(nodes));
}

/* The queue's links agree both ways, it is sorted, and count matches. */
static void check_shape(void)
{
	uint32_t n = 0;
	struct timeq_node *prev = NULL;

	for (struct timeq_node *x = q.head; x; prev = x, x = x->next) {
		CHECK(x->prev == prev);
		CHECK(x->queued);
		if (prev)
			CHECK(prev->when <= x->when);
		if (++n > N)
			break;
	}
	CHECK(q.tail == prev);
	CHECK_EQ(n, q.count);
}

static void timeq_empty_has_no_deadline(void)
{
	reset();
	CHECK_EQ(timeq_next(&q), ~0ull);
	CHECK(timeq_pop_due(&q, ~0ull) == NULL);
	timeq_remove(&q, &nodes[0]); /* not queued: nothing happens */
	CHECK_EQ(q.count, 0);
}

static void timeq_pops_in_deadline_order(void)
{
	static const uint64_t when[] = {50, 10, 40, 10, 30, 60, 20, 5};

	reset();
	for (unsigned i = 0; i < ARRAY_SIZE(when); i++)
		timeq_insert(&q, &nodes[i], when[i]);
	check_shape();
	CHECK_EQ(timeq_next(&q), 5);
	CHECK(timeq_pop_due(&q, 4) == NULL); /* not due: never early */
	CHECK(timeq_pop_due(&q, 5) == &nodes[7]);
	CHECK(timeq_pop_due(&q, 10) == &nodes[1]); /* equal deadlines: first queued first */
	CHECK(timeq_pop_due(&q, 10) == &nodes[3]);
	CHECK(timeq_pop_due(&q, 19) == NULL);
	CHECK(timeq_pop_due(&q, 100) == &nodes[6]);
	CHECK(!nodes[6].queued);
	check_shape();
	CHECK_EQ(q.count, 4);
}

static void timeq_remove_head_middle_tail(void)
{
	reset();
	for (unsigned i = 0; i < 5; i++)
		timeq_insert(&q, &nodes[i], 100 + i);
	timeq_remove(&q, &nodes[0]);
	timeq_remove(&q, &nodes[2]);
	timeq_remove(&q, &nodes[4]);
	timeq_remove(&q, &nodes[4]); /* twice: nothing the second time */
	check_shape();
	CHECK_EQ(q.count, 2);
	CHECK(q.head == &nodes[1] && q.tail == &nodes[3]);
	timeq_insert(&q, &nodes[0], 102); /* requeue between */
	check_shape();
	CHECK(nodes[1].next == &nodes[0] && nodes[0].next == &nodes[3]);
}

static void timeq_huge_deadlines_sort_last(void)
{
	reset();
	timeq_insert(&q, &nodes[0], ~0ull);
	timeq_insert(&q, &nodes[1], 0);
	timeq_insert(&q, &nodes[2], ~0ull - 1);
	check_shape();
	CHECK(timeq_pop_due(&q, 0) == &nodes[1]);
	CHECK(timeq_pop_due(&q, ~0ull - 2) == NULL);
	CHECK(timeq_pop_due(&q, ~0ull) == &nodes[2]);
	CHECK(timeq_pop_due(&q, ~0ull) == &nodes[0]);
	CHECK(q.head == NULL && q.tail == NULL);
}

/* xorshift64: a fixed sequence, so a failure repeats. */
static uint64_t rnd_state = 14;
static uint64_t rnd(uint64_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state % n;
}

/* Random inserts, removes and pops against a shadow of deadlines. */
static void timeq_random_against_shadow(void)
{
	uint64_t shadow[N] = {0};
	bool in[N] = {false};

	reset();
	for (int step = 0; step < 20000; step++) {
		unsigned i = (unsigned)rnd(N);
		int op = (int)rnd(3);
		if (op == 0 && !in[i]) {
			shadow[i] = rnd(1000);
			timeq_insert(&q, &nodes[i], shadow[i]);
			in[i] = true;
		} else if (op == 1) {
			timeq_remove(&q, &nodes[i]);
			in[i] = false;
		} else {
			uint64_t now = rnd(1000), min = ~0ull;
			for (unsigned k = 0; k < N; k++)
				if (in[k] && shadow[k] < min)
					min = shadow[k];
			CHECK_EQ(timeq_next(&q), min);
			struct timeq_node *x = timeq_pop_due(&q, now);
			CHECK((x != NULL) == (min <= now));
			if (x) {
				unsigned k = (unsigned)(x - nodes);
				CHECK(in[k] && shadow[k] == min);
				in[k] = false;
			}
		}
		if (step % 97 == 0)
			check_shape();
	}
	check_shape();
}

static const struct kt_case cases[] = {
    KT(timeq_empty_has_no_deadline),   KT(timeq_pops_in_deadline_order),
    KT(timeq_remove_head_middle_tail), KT(timeq_huge_deadlines_sort_last),
    KT(timeq_random_against_shadow),
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
