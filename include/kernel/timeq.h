/*
 * A sorted timer queue (kernel/timeq.c): the timed waits of one CPU
 * (HL_SYS_WAIT, docs/abi.md), earliest first. Pure logic with no locking
 * (the scheduler holds the big kernel lock); host-tested
 * (tests/host/kernel/timeq_test.c).
 *
 * Cost: first and remove O(1); insert scans from the latest entry back, so
 * a deadline later than every queued one (the usual case: each waiter asks
 * for "now + a period") is O(1), and the worst case is O(n) in the timed
 * waiters queued on that CPU, which are bounded by the thread objects its
 * partitions' memory holds (docs/decisions.md, issue 14).
 */
#ifndef KERNEL_TIMEQ_H
#define KERNEL_TIMEQ_H

#include <kernel/types.h>

struct timeq_node {
	uint64_t when;                  /* TSC deadline */
	struct timeq_node *next, *prev; /* NULL at the ends */
	bool queued;
};

struct timeq {
	struct timeq_node *head, *tail; /* earliest, latest */
	uint32_t count;
};

/* Queue n (not queued) for when; among equal deadlines, after those queued before. */
void timeq_insert(struct timeq *q, struct timeq_node *n, uint64_t when);
/* Take n out of q (nothing if n is not queued). */
void timeq_remove(struct timeq *q, struct timeq_node *n);
/* The earliest node whose deadline is at or before now, taken out of q; NULL if none is due. */
struct timeq_node *timeq_pop_due(struct timeq *q, uint64_t now);

/* The earliest deadline, ~0 when q is empty. */
static inline uint64_t timeq_next(const struct timeq *q)
{
	return q->head ? q->head->when : ~0ull;
}

#endif
