/*
 * Ring-3 suite "ring": Hallows Rings (user/rt/ring.c) in a frame shared by
 * two threads, the consumer pinned to CPU 1 when there is one, woken by
 * notifications through the sleeping protocol (docs/rings.md).
 */
#include "utest.h"

#define RING_MSGS    100000u
#define RING_ENTRIES 16
#define RING_ENTRY   64

struct ring_run {
	struct hl_ring cons;
	volatile uint64_t received, bad, first_bad;
	volatile long error;
	volatile int done;
};

static void ring_consumer(void *arg)
{
	struct ring_run *s = arg;
	uint64_t next = 0;

	while (next < RING_MSGS) {
		long k = hl_ring_peek(&s->cons, 16);
		if (k == 0)
			k = hl_ring_wait(&s->cons);
		if (k < 0) {
			s->error = k;
			break;
		}
		for (long i = 0; i < k; i++) {
			const uint64_t *e = hl_ring_entry(&s->cons, (uint32_t)i);
			if (e[0] != next + (uint64_t)i || e[7] != ~e[0]) {
				if (!s->bad)
					s->first_bad = next + (uint64_t)i;
				s->bad++;
			}
		}
		hl_ring_release(&s->cons, (uint32_t)k);
		next += (uint64_t)k;
		s->received = next;
	}
	s->done = 1;
}

/* 100,000 messages in batches of up to 8, each checked in order by the consumer on the other CPU.
 */
UTEST(ring, hundred_thousand_messages_across_cpus)
{
	static struct ring_run s;
	hl_cptr_t np = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	          nc = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	void *mem = ut_page(t, NULL);
	struct hl_ring prod;
	struct hl_ring_ops pops = rt_ring_ops(np, nc), cops = rt_ring_ops(nc, np);

	if (!UCHECK(t, np && nc && mem))
		return;
	s = (struct ring_run){0};
	UEXPECT_ERR(t,
	            hl_ring_attach(&prod, mem, 4096, RING_ENTRIES, RING_ENTRY, true, &pops, true),
	            HL_RING_OK);
	UEXPECT_ERR(
	    t, hl_ring_attach(&s.cons, mem, 4096, RING_ENTRIES, RING_ENTRY, false, &cops, false),
	    HL_RING_OK);
	hl_cptr_t tcb = ut_thread_new(t, ring_consumer, &s, 100);
	if (!UCHECK(t, tcb))
		return;
	uint32_t cpu = rt_self.bi->ncpus > 1 ? 1 : 0;
	UEXPECT_ERR(t, hl_thread_set_affinity(tcb, cpu), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);

	uint64_t next = 0, t0 = ut_rdtsc();
	while (next < RING_MSGS) {
		long k = hl_ring_reserve(&prod, 8);
		if (k == 0)
			k = hl_ring_wait(&prod);
		if (!UCHECK(t, k >= 0, "producer: ring error %ld after %lu", k, next))
			break;
		uint32_t n =
		    (uint32_t)(RING_MSGS - next < (uint64_t)k ? RING_MSGS - next : (uint64_t)k);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t *e = hl_ring_entry(&prod, i);
			e[0] = next + i, e[7] = ~(next + i);
		}
		hl_ring_publish(&prod, n);
		next += n;
	}
	for (uint64_t deadline = ut_rdtsc() + 10 * rt_self.bi->tsc_hz;
	     !s.done && ut_rdtsc() < deadline;)
		hl_yield();
	UEXPECT(t, s.done, "the consumer is still waiting after %lu messages", s.received);
	UEXPECT(t, s.received == RING_MSGS, "received %lu", s.received);
	UEXPECT(t, s.bad == 0, "%lu out of order, first at %lu", s.bad, s.first_bad);
	UEXPECT(t, s.error == 0, "consumer: ring error %ld", s.error);
	UEXPECT(t, prod.sleeps + s.cons.sleeps > 0,
	        "nobody ever slept: the wakeup path was not run");
	UEXPECT(t, prod.signals + s.cons.signals > 0);
	rt_printf("        # %u messages, cpu 0 -> cpu %u: producer slept %lu, consumer slept %lu "
	          "times, %lu ms\n",
	          RING_MSGS, cpu, prod.sleeps, s.cons.sleeps,
	          (ut_rdtsc() - t0) / (rt_self.bi->tsc_hz / 1000));
	hl_thread_suspend(tcb);
}

/* A peer that writes a head beyond the ring: the consumer reports it and touches nothing. */
UTEST(ring, corrupt_head_reported_without_a_fault)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	struct hl_ring_shared *sh = ut_page(t, NULL);
	struct hl_ring c;
	struct hl_ring_ops ops = rt_ring_ops(n, n);

	if (!UCHECK(t, n && sh))
		return;
	UEXPECT_ERR(t, hl_ring_attach(&c, sh, 4096, 8, 64, false, &ops, true), HL_RING_OK);
	atomic_store(&sh->head, 0x7fffffffu);
	UEXPECT_ERR(t, hl_ring_peek(&c, 8), HL_RING_ERR_CORRUPT);
	UEXPECT_ERR(t, hl_ring_wait(&c), HL_RING_ERR_CORRUPT); /* no sleep on a corrupt ring */
	UEXPECT(t, hl_ring_entry(&c, 0) == NULL);
}

UTEST(ring, attach_refuses_memory_too_small)
{
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	void *mem = ut_page(t, NULL);
	struct hl_ring r;
	struct hl_ring_ops ops = rt_ring_ops(n, n);

	UEXPECT_ERR(t, hl_ring_attach(&r, mem, 4096, 64, 64, true, &ops, true),
	            HL_RING_ERR_ARG); /* 4352 bytes */
	UEXPECT_ERR(t, hl_ring_attach(&r, mem, 4096, 32, 64, true, &ops, true), HL_RING_OK);
}
