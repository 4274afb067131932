/*
 * Host tests for user/rt/ring.c (Hallows Rings) under ASan+UBSan: geometry
 * checks, batched produce/consume with wrap-around, the sleeping protocol
 * step by step (single-threaded, with counting stand-ins for the
 * notification), and a peer that corrupts the indices: the other end must
 * report HL_RING_ERR_CORRUPT and never touch memory outside the ring. The
 * ring sits in an exact-size heap block so any stray access is an ASan report.
 */
#include "ktharness.h"

#include <hallows/ring.h>
#include <stdlib.h>
#include <string.h>

struct counts {
	int signals, waits;
	struct hl_ring *peer_to_fill; /* wait(): publish one entry from here, as if the peer ran */
};

static void count_signal(void *ctx)
{
	((struct counts *)ctx)->signals++;
}

static void count_wait(void *ctx)
{
	((struct counts *)ctx)->waits++;
}

static struct counts pc, cc; /* producer's and consumer's stand-ins */
/* Each stand-in counts what its end does: its own signals and its own waits. */
static const struct hl_ring_ops pops = {count_signal, count_wait, &pc, &pc},
                                cops = {count_signal, count_wait, &cc, &cc};

/* An exact-size, 64-byte aligned ring of n entries of size bytes, both ends attached. */
static void *make(uint32_t n, uint32_t size, struct hl_ring *p, struct hl_ring *c)
{
	size_t bytes = hl_ring_bytes(n, size);
	void *mem = aligned_alloc(64, (bytes + 63) & ~(size_t)63);

	memset(&pc, 0, sizeof(pc));
	memset(&cc, 0, sizeof(cc));
	memset(mem, 0xa5, bytes);
	CHECK_EQ(hl_ring_attach(p, mem, bytes, n, size, true, &pops, true), HL_RING_OK);
	CHECK_EQ(hl_ring_attach(c, mem, bytes, n, size, false, &cops, false), HL_RING_OK);
	return mem;
}

static void attach_checks_geometry(void)
{
	static _Alignas(64) uint8_t mem[HL_RING_HEADER_BYTES + 4 * 4096];
	struct hl_ring r;
	const struct hl_ring_ops none = {NULL, count_wait, NULL, NULL};

	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 4, 4096, true, &pops, true), HL_RING_OK);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 2, 8, false, &cops, true), HL_RING_OK);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem) - 1, 4, 4096, true, &pops, true),
	         HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem + 8, sizeof(mem) - 8, 2, 8, true, &pops, true),
	         HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, NULL, sizeof(mem), 2, 8, true, &pops, true), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 1, 8, true, &pops, true), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 3, 8, true, &pops, true), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 131072, 8, true, &pops, true),
	         HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 4, 4, true, &pops, true), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 4, 24, true, &pops, true), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 4, 8192, true, &pops, true), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 4, 8, true, &none, true), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_attach(&r, mem, sizeof(mem), 4, 8, true, NULL, true), HL_RING_ERR_ARG);
}

static void batches_wrap_around_in_order(void)
{
	struct hl_ring p, c;
	void *mem = make(8, 16, &p, &c);
	uint64_t next_put = 0, next_get = 0;

	for (int round = 0; round < 2000 && !kt_failed(); round++) {
		uint32_t want = (uint32_t)kt_below(11);
		long k = hl_ring_reserve(&p, want);
		CHECK(k >= 0 && k <= want && k <= 8);
		for (long i = 0; i < k; i++)
			memcpy(hl_ring_entry(&p, (uint32_t)i), &(uint64_t){next_put + (uint64_t)i},
			       8);
		uint32_t pub = k ? (uint32_t)kt_below((uint64_t)k + 1) : 0;
		CHECK_EQ(hl_ring_publish(&p, pub), HL_RING_OK);
		next_put += pub;
		long g = hl_ring_peek(&c, (uint32_t)kt_below(11));
		CHECK(g >= 0 && (uint64_t)g <= next_put - next_get);
		for (long i = 0; i < g; i++) {
			uint64_t v;
			memcpy(&v, hl_ring_entry(&c, (uint32_t)i), 8);
			CHECK_EQ(v, next_get + (uint64_t)i);
		}
		uint32_t rel = g ? (uint32_t)kt_below((uint64_t)g + 1) : 0;
		CHECK_EQ(hl_ring_release(&c, rel), HL_RING_OK);
		next_get += rel;
	}
	CHECK(next_get > 1000); /* it really went round many times */
	free(mem);
}

static void full_and_empty(void)
{
	struct hl_ring p, c;
	void *mem = make(4, 8, &p, &c);

	CHECK_EQ(hl_ring_peek(&c, 4), 0);
	CHECK_EQ(hl_ring_reserve(&p, 100), 4);
	CHECK_EQ(hl_ring_publish(&p, 4), HL_RING_OK);
	CHECK_EQ(hl_ring_reserve(&p, 1), 0);
	CHECK_EQ(hl_ring_peek(&c, 100), 4);
	CHECK_EQ(hl_ring_release(&c, 1), HL_RING_OK);
	CHECK_EQ(hl_ring_reserve(&p, 4), 1);
	free(mem);
}

static void misuse_is_refused(void)
{
	struct hl_ring p, c;
	void *mem = make(4, 8, &p, &c);

	CHECK_EQ(hl_ring_reserve(&p, 2), 2);
	CHECK(hl_ring_entry(&p, 1) != NULL);
	CHECK(hl_ring_entry(&p, 2) == NULL);
	CHECK_EQ(hl_ring_publish(&p, 3), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_publish(&p, 2), HL_RING_OK);
	CHECK_EQ(hl_ring_publish(&p, 1), HL_RING_ERR_ARG); /* nothing reserved any more */
	CHECK_EQ(hl_ring_peek(&p, 1), HL_RING_ERR_ARG);    /* wrong end */
	CHECK_EQ(hl_ring_reserve(&c, 1), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_release(&c, 1), HL_RING_ERR_ARG); /* nothing peeked */
	CHECK_EQ(hl_ring_publish(&c, 0), HL_RING_ERR_ARG);
	CHECK_EQ(hl_ring_peek(&c, 1), 1);
	CHECK_EQ(hl_ring_release(&c, 2), HL_RING_ERR_ARG);
	free(mem);
}

/* The consumer sleeps only on an empty ring, and the producer signals only a sleeping consumer,
 * once. */
static void producer_signals_only_a_sleeping_consumer(void)
{
	struct hl_ring p, c;
	void *mem = make(4, 8, &p, &c);
	struct hl_ring_shared *sh = mem;

	CHECK_EQ(hl_ring_reserve(&p, 1), 1);
	CHECK_EQ(hl_ring_publish(&p, 1), HL_RING_OK);
	CHECK_EQ(pc.signals, 0); /* nobody sleeps */
	CHECK_EQ(hl_ring_wait(&c), HL_RING_OK);
	CHECK_EQ(cc.waits, 0); /* an entry is there: no sleep */
	CHECK_EQ(hl_ring_peek(&c, 4), 1);
	CHECK_EQ(hl_ring_release(&c, 1), HL_RING_OK);
	CHECK_EQ(hl_ring_wait(&c), HL_RING_OK);
	CHECK_EQ(cc.waits, 1); /* empty: it slept */
	CHECK_EQ(c.sleeps, 1);
	CHECK_EQ(atomic_load(&sh->consumer_sleeping), 0); /* cleared on waking */
	/* As if the consumer were asleep now: the flag is up. */
	atomic_store(&sh->consumer_sleeping, 1);
	CHECK_EQ(hl_ring_reserve(&p, 2), 2);
	CHECK_EQ(hl_ring_publish(&p, 1), HL_RING_OK);
	CHECK_EQ(pc.signals, 1);
	CHECK_EQ(atomic_load(&sh->consumer_sleeping), 0); /* taken by the signal */
	CHECK_EQ(hl_ring_publish(&p, 1), HL_RING_OK);
	CHECK_EQ(pc.signals, 1); /* one sleep, one signal */
	CHECK_EQ(p.signals, 1);
	free(mem);
}

static void consumer_signals_only_a_sleeping_producer(void)
{
	struct hl_ring p, c;
	void *mem = make(2, 8, &p, &c);
	struct hl_ring_shared *sh = mem;

	CHECK_EQ(hl_ring_wait(&p), HL_RING_OK);
	CHECK_EQ(pc.waits, 0); /* room: no sleep */
	CHECK_EQ(hl_ring_reserve(&p, 2), 2);
	CHECK_EQ(hl_ring_publish(&p, 2), HL_RING_OK);
	CHECK_EQ(hl_ring_wait(&p), HL_RING_OK);
	CHECK_EQ(pc.waits, 1); /* full: it slept */
	CHECK_EQ(hl_ring_peek(&c, 2), 2);
	CHECK_EQ(hl_ring_release(&c, 1), HL_RING_OK);
	CHECK_EQ(cc.signals, 0); /* the producer is not marked asleep */
	atomic_store(&sh->producer_sleeping, 1);
	CHECK_EQ(hl_ring_release(&c, 1), HL_RING_OK);
	CHECK_EQ(cc.signals, 1);
	free(mem);
}

/* A producer index that jumps past the consumer by more than the ring: corrupt, and it stays so. */
static void corrupt_head_is_reported(void)
{
	struct hl_ring p, c;
	void *mem = make(8, 8, &p, &c);
	struct hl_ring_shared *sh = mem;

	atomic_store(&sh->head, 9);
	CHECK_EQ(hl_ring_peek(&c, 1), HL_RING_ERR_CORRUPT);
	atomic_store(&sh->head, 1);
	CHECK_EQ(hl_ring_peek(&c, 1), HL_RING_ERR_CORRUPT); /* sticky */
	CHECK_EQ(hl_ring_release(&c, 0), HL_RING_ERR_CORRUPT);
	CHECK_EQ(hl_ring_wait(&c), HL_RING_ERR_CORRUPT);
	CHECK_EQ(cc.waits, 0);
	CHECK(hl_ring_entry(&c, 0) == NULL);
	free(mem);
	mem = make(8, 8, &p, &c);
	sh = mem;
	atomic_store(&sh->head, 0xffffffffu); /* behind the consumer */
	CHECK_EQ(hl_ring_peek(&c, 1), HL_RING_ERR_CORRUPT);
	free(mem);
	mem = make(8, 8, &p, &c);
	sh = mem;
	atomic_store(&sh->head, 8); /* exactly full is fine */
	CHECK_EQ(hl_ring_peek(&c, 100), 8);
	free(mem);
}

static void corrupt_tail_is_reported(void)
{
	struct hl_ring p, c;
	void *mem = make(8, 8, &p, &c);
	struct hl_ring_shared *sh = mem;

	CHECK_EQ(hl_ring_reserve(&p, 3), 3);
	CHECK_EQ(hl_ring_publish(&p, 3), HL_RING_OK);
	atomic_store(&sh->tail, 4); /* the consumer claims more than was published */
	CHECK_EQ(hl_ring_reserve(&p, 1), HL_RING_ERR_CORRUPT);
	CHECK_EQ(hl_ring_publish(&p, 0), HL_RING_ERR_CORRUPT); /* sticky */
	CHECK_EQ(hl_ring_wait(&p), HL_RING_ERR_CORRUPT);
	free(mem);
	mem = make(8, 8, &p, &c);
	sh = mem;
	atomic_store(&sh->tail, 0x80000000u);
	CHECK_EQ(hl_ring_reserve(&p, 1), HL_RING_ERR_CORRUPT);
	free(mem);
}

/* A peer writing random indices: every entry this end is given lies inside the ring. */
static void random_peer_indices_stay_inside(void)
{
	struct hl_ring p, c;

	for (int iter = 0; iter < 20000 && !kt_failed(); iter++) {
		uint32_t n = 1u << (1 + kt_below(6)), size = 8u << kt_below(4);
		uint8_t *mem = make(n, size, &p, &c);
		struct hl_ring_shared *sh = (struct hl_ring_shared *)mem;
		uint32_t v = (uint32_t)kt_rand();
		atomic_store(&sh->head, v & 1 ? v : v % (2 * n));
		atomic_store(&sh->tail, v & 2 ? (uint32_t)kt_rand() : (uint32_t)kt_below(2 * n));
		c.mine = atomic_load(&sh->tail);
		p.mine = (uint32_t)kt_rand();
		long k = hl_ring_peek(&c, n);
		for (long i = 0; i < k; i++) {
			uint8_t *e = hl_ring_entry(&c, (uint32_t)i);
			CHECK(e >= mem + HL_RING_HEADER_BYTES &&
			      e + size <= mem + hl_ring_bytes(n, size));
			memset(e, 1, size);
		}
		k = hl_ring_reserve(&p, n);
		for (long i = 0; i < k; i++) {
			uint8_t *e = hl_ring_entry(&p, (uint32_t)i);
			CHECK(e >= mem + HL_RING_HEADER_BYTES &&
			      e + size <= mem + hl_ring_bytes(n, size));
			memset(e, 2, size);
		}
		free(mem);
	}
}

int main(int argc, char **argv)
{
	static const struct kt_case cases[] = {
	    KT(attach_checks_geometry),
	    KT(batches_wrap_around_in_order),
	    KT(full_and_empty),
	    KT(misuse_is_refused),
	    KT(producer_signals_only_a_sleeping_consumer),
	    KT(consumer_signals_only_a_sleeping_producer),
	    KT(corrupt_head_is_reported),
	    KT(corrupt_tail_is_reported),
	    KT(random_peer_indices_stay_inside),
	};
	return kt_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
