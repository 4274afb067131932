/*
 * Hallows Rings: single-producer single-consumer rings in memory shared
 * between two partitions (docs/rings.md). The layout below is shared ABI:
 * both ends map the same frames. Nothing in the shared part is trusted: the
 * geometry (entry count and size) comes from each side's own read-only
 * channel description, each side keeps its own index privately and only
 * reads the peer's, checking it (user/rt/ring.c).
 *
 *   offset  0  +-----------------------------+  cache line 0, written by the producer
 *              | head: u32 next index to fill|
 *         64   +-----------------------------+  cache line 1, written by the consumer
 *              | tail: u32 next index to read|
 *        128   +-----------------------------+  cache line 2, written by the producer
 *              | producer_sleeping: u32      |  (the ring was full; it waits for room)
 *        192   +-----------------------------+  cache line 3, written by the consumer
 *              | consumer_sleeping: u32      |  (the ring was empty; it waits for entries)
 *        256   +-----------------------------+
 *              | entry[0] ... entry[n - 1]   |  n = 2^k entries of entry_size = 2^j bytes;
 *              |                             |  index i lives in entry[i mod n]
 *              +-----------------------------+
 *
 * head and tail run freely (mod 2^32); head - tail is the number of filled
 * entries and is never above n on a healthy ring.
 */
#ifndef HALLOWS_RING_H
#define HALLOWS_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HL_RING_LINE         64
#define HL_RING_HEADER_BYTES 256
#define HL_RING_MIN_ENTRIES  2
#define HL_RING_MAX_ENTRIES  65536
#define HL_RING_MIN_ENTRY    8
#define HL_RING_MAX_ENTRY    4096

struct hl_ring_shared {
	_Alignas(HL_RING_LINE) _Atomic uint32_t head;              /* offset 0 */
	_Alignas(HL_RING_LINE) _Atomic uint32_t tail;              /* offset 64 */
	_Alignas(HL_RING_LINE) _Atomic uint32_t producer_sleeping; /* offset 128 */
	_Alignas(HL_RING_LINE) _Atomic uint32_t consumer_sleeping; /* offset 192 */
	_Alignas(HL_RING_LINE) uint8_t entries[];                  /* offset 256 */
};
_Static_assert(offsetof(struct hl_ring_shared, head) == 0, "ring ABI");
_Static_assert(offsetof(struct hl_ring_shared, tail) == 64, "ring ABI");
_Static_assert(offsetof(struct hl_ring_shared, producer_sleeping) == 128, "ring ABI");
_Static_assert(offsetof(struct hl_ring_shared, consumer_sleeping) == 192, "ring ABI");
_Static_assert(offsetof(struct hl_ring_shared, entries) == HL_RING_HEADER_BYTES, "ring ABI");

enum hl_ring_err {
	HL_RING_OK = 0,
	HL_RING_ERR_CORRUPT = -1, /* the peer's index is impossible: the ring is unusable */
	HL_RING_ERR_ARG = -2,     /* a bad geometry, or more entries than were reserved/peeked */
};

/* How an end sleeps and wakes its peer (a notification in ring 3; a futex on Linux). */
struct hl_ring_ops {
	void (*signal_peer)(void *peer); /* wake the other end */
	void (*wait)(void *own);         /* sleep until signalled (may return early) */
	void *peer, *own;                /* what the peer waits on; what this end waits on */
};

/* One end of a ring: private to the thread that uses it. */
struct hl_ring {
	struct hl_ring_shared *sh;
	uint32_t mask, entry_size; /* [I] from the trusted channel description */
	bool is_producer;          /* [I] */
	bool is_corrupt;           /* sticky once a bad peer index was seen */
	uint32_t mine;             /* producer: next index to fill; consumer: next to read */
	uint32_t pending;          /* entries reserved (producer) or peeked (consumer) */
	struct hl_ring_ops ops;
	uint64_t signals, sleeps; /* counters for tests and benchmarks */
};

/* Bytes of shared memory for n entries of size bytes. */
static inline size_t hl_ring_bytes(uint32_t n, uint32_t size)
{
	return HL_RING_HEADER_BYTES + (size_t)n * size;
}

/*
 * Attach an end to the shared memory mem[0, mem_bytes) holding a ring of
 * n entries of size bytes. The producer end zeroes the header when
 * `initialize` is set (the root task does it once when it creates the
 * channel). Returns HL_RING_OK or HL_RING_ERR_ARG.
 */
int hl_ring_attach(struct hl_ring *r, void *mem, size_t mem_bytes, uint32_t n, uint32_t size,
                   bool is_producer, const struct hl_ring_ops *ops, bool initialize);

/* Producer: room for up to `want` entries; returns how many (0..want) are reserved, or an error. */
long hl_ring_reserve(struct hl_ring *r, uint32_t want);
/* Producer: make the first n reserved entries visible with one release store; wakes a sleeping
 * consumer. */
int hl_ring_publish(struct hl_ring *r, uint32_t n);
/* Consumer: up to `want` filled entries; returns how many (0..want) are peeked, or an error. */
long hl_ring_peek(struct hl_ring *r, uint32_t want);
/* Consumer: hand the first n peeked entries back to the producer; wakes a sleeping producer. */
int hl_ring_release(struct hl_ring *r, uint32_t n);
/* Entry i (0-based) of the current reservation or peek; always inside the ring. */
void *hl_ring_entry(const struct hl_ring *r, uint32_t i);
/*
 * Block until the ring has an entry (consumer) or room (producer), using
 * the sleeping protocol: no lost wakeups, and the peer signals only when
 * this end announced that it sleeps. Returns HL_RING_OK or an error.
 */
int hl_ring_wait(struct hl_ring *r);

#endif
