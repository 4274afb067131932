/*
 * Ring-3 suite "ring": Hallows Rings (user/rt/ring.c) in a frame shared by
 * two threads, the producer on CPU 0 and the consumer on CPU 1 when there
 * is one, woken by notifications through the sleeping protocol
 * (docs/rings.md). The runner watches: a run that makes no progress for
 * RING_STALL_S seconds while both ends sleep is a lost wakeup; the runner
 * then signals both notifications itself (counted, and the case fails), and
 * gives up after RING_GIVE_UP_S, so a kernel that loses a wakeup fails the
 * case instead of hanging the suite.
 */
#include "utest.h"

#define RING_MSGS      100000u
#define RING_ENTRIES   256 /* 256 + 256 * 8 bytes: one page */
#define RING_ENTRY     8
#define RING_STALL_S   5
#define RING_GIVE_UP_S 60

struct ring_run {
	struct hl_ring prod, cons;
	volatile uint64_t sent, received, bad, first_bad;
	volatile long error;
	volatile int prod_done, cons_done;
};

static void ring_consumer(void *arg)
{
	struct ring_run *s = arg;
	uint64_t next = 0;

	while (next < RING_MSGS) {
		long k = hl_ring_peek(&s->cons, 64);
		if (k == 0)
			k = hl_ring_wait(&s->cons);
		if (k < 0) {
			s->error = k;
			break;
		}
		for (long i = 0; i < k; i++) {
			const uint64_t *e = hl_ring_entry(&s->cons, (uint32_t)i);
			if (e[0] != next + (uint64_t)i) {
				if (!s->bad)
					s->first_bad = next + (uint64_t)i;
				s->bad++;
			}
		}
		hl_ring_release(&s->cons, (uint32_t)k);
		next += (uint64_t)k;
		s->received = next;
	}
	s->cons_done = 1;
}

/* Batches of up to 32. */
static void ring_producer(void *arg)
{
	struct ring_run *s = arg;
	uint64_t next = 0;

	while (next < RING_MSGS) {
		long k = hl_ring_reserve(&s->prod, 32);
		if (k == 0)
			k = hl_ring_wait(&s->prod);
		if (k < 0) {
			s->error = k;
			break;
		}
		uint32_t n =
		    (uint32_t)(RING_MSGS - next < (uint64_t)k ? RING_MSGS - next : (uint64_t)k);
		for (uint32_t i = 0; i < n; i++) {
			uint64_t *e = hl_ring_entry(&s->prod, i);
			e[0] = next + i;
		}
		hl_ring_publish(&s->prod, n);
		next += n;
		s->sent = next;
	}
	s->prod_done = 1;
}

static void signal_ntfn(hl_cptr_t n)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_SEND, n, &info, &m, NULL);
}

/*
 * Wait for both ends, yielding (the runner shares CPU 0 with the producer).
 * Returns how many times it had to wake a stalled run itself.
 */
static unsigned watch(struct ring_run *s, hl_cptr_t np, hl_cptr_t nc, uint64_t *ms)
{
	uint64_t hz = rt_self.bi->tsc_hz, t0 = ut_rdtsc(), last = t0, seen = 0;
	unsigned kicks = 0;

	while (!(s->prod_done && s->cons_done) && ut_rdtsc() - t0 < RING_GIVE_UP_S * hz) {
		hl_yield();
		uint64_t now = ut_rdtsc(), progress = s->sent + s->received;
		if (progress != seen) {
			seen = progress, last = now;
		} else if (now - last > RING_STALL_S * hz) {
			rt_printf("        # stalled at %lu sent, %lu received: waking both ends\n",
			          s->sent, s->received);
			signal_ntfn(np), signal_ntfn(nc);
			kicks++, last = now;
		}
	}
	*ms = (ut_rdtsc() - t0) / (hz / 1000);
	return kicks;
}

/* 100,000 messages from CPU 0 to CPU 1, every one checked in order by the consumer. */
UTEST(ring, hundred_thousand_messages_across_cpus)
{
	static struct ring_run s;
	hl_cptr_t np = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	          nc = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	void *mem = ut_page(t, NULL);
	struct hl_ring_ops pops = rt_ring_ops(np, nc), cops = rt_ring_ops(nc, np);
	uint32_t cpu = rt_self.bi->ncpus > 1 ? 1 : 0;
	uint64_t ms;

	if (!UCHECK(t, np && nc && mem))
		return;
	s = (struct ring_run){0};
	UEXPECT_ERR(t,
	            hl_ring_attach(&s.prod, mem, 4096, RING_ENTRIES, RING_ENTRY, true, &pops, true),
	            HL_RING_OK);
	UEXPECT_ERR(
	    t, hl_ring_attach(&s.cons, mem, 4096, RING_ENTRIES, RING_ENTRY, false, &cops, false),
	    HL_RING_OK);
	hl_cptr_t ct = ut_thread_new(t, ring_consumer, &s, 100),
	          pt = ut_thread_new(t, ring_producer, &s, 100);
	if (!UCHECK(t, ct && pt))
		return;
	UEXPECT_ERR(t, hl_thread_set_affinity(ct, cpu), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_affinity(pt, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(ct), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(pt), HL_OK);
	unsigned kicks = watch(&s, np, nc, &ms);
	hl_thread_suspend(pt);
	hl_thread_suspend(ct);
	UEXPECT(t, s.prod_done && s.cons_done, "gave up after %u s: %lu sent, %lu received",
	        RING_GIVE_UP_S, s.sent, s.received);
	UEXPECT(t, kicks == 0, "%u lost wakeups: both ends slept with work waiting", kicks);
	UEXPECT(t, s.received == RING_MSGS, "received %lu", s.received);
	UEXPECT(t, s.bad == 0, "%lu out of order, first at %lu", s.bad, s.first_bad);
	UEXPECT(t, s.error == 0, "ring error %ld", s.error);
	UEXPECT(t, s.prod.sleeps + s.cons.sleeps > 0,
	        "nobody ever slept: the wakeup path was not run");
	rt_printf("        # %u messages, cpu 0 -> cpu %u: producer slept %lu, consumer slept %lu "
	          "times, %lu "
	          "ms\n",
	          RING_MSGS, cpu, s.prod.sleeps, s.cons.sleeps, ms);
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
