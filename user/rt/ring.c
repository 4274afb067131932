/*
 * Hallows Rings (include/uapi/hallows/ring.h, docs/rings.md): one end of a
 * single-producer single-consumer ring in memory shared with a peer that
 * is not trusted. Freestanding: built into user/rt and, unchanged, into
 * the host tests (ASan+UBSan, and ThreadSanitizer for the stress test).
 *
 * Containment. Each end keeps its own index privately (r->mine) and only
 * reads the peer's. Entry addresses come from the private index masked by
 * the private geometry, so nothing the peer writes can move an access out
 * of the ring. The peer's index is checked on every read: the distance
 * between the two must be at most the entry count; otherwise the ring is
 * marked corrupt (sticky) and every call returns HL_RING_ERR_CORRUPT. A
 * peer that writes plausible but wrong indices can only make this end see
 * stale or garbage entries, never memory outside the ring; a consumer that
 * needs stable contents copies an entry out before it validates it.
 *
 * Ordering (the proof sketch docs/rings.md draws):
 * - Entries: the producer fills entries, then stores head with release;
 *   the consumer loads head with acquire, then reads them. Symmetrically
 *   the consumer finishes reading, then stores tail with release; the
 *   producer loads tail with acquire before it reuses those entries.
 * - Sleeping (no lost wakeup): the sleeper stores its flag = 1, then a
 *   seq_cst fence, then loads the peer's index once more and only sleeps if
 *   there is still nothing to do. The waker stores its index, then a
 *   seq_cst fence, then loads the flag. Two seq_cst fences are totally
 *   ordered, so at least one side sees the other's store: either the
 *   sleeper sees the new index and does not sleep, or the waker sees the
 *   flag and signals. The waker takes the flag with an exchange to 0, so a
 *   sleep costs at most one signal. A notification keeps a signal that
 *   arrives before the wait, so a signal between the sleeper's check and its
 *   wait is not lost either; a stale one makes a later wait return early,
 *   which callers tolerate (they loop on the condition).
 */
#include <hallows/ring.h>

int hl_ring_attach(struct hl_ring *r, void *mem, size_t mem_bytes, uint32_t n, uint32_t size,
                   bool is_producer, const struct hl_ring_ops *ops, bool initialize)
{
	if (!r || !mem || ((uintptr_t)mem & (HL_RING_LINE - 1)) || n < HL_RING_MIN_ENTRIES ||
	    n > HL_RING_MAX_ENTRIES || (n & (n - 1)) || size < HL_RING_MIN_ENTRY ||
	    size > HL_RING_MAX_ENTRY || (size & (size - 1)) || mem_bytes < hl_ring_bytes(n, size) ||
	    !ops || !ops->signal_peer || !ops->wait)
		return HL_RING_ERR_ARG;
	struct hl_ring_shared *sh = mem;
	if (initialize) {
		atomic_store_explicit(&sh->head, 0, memory_order_relaxed);
		atomic_store_explicit(&sh->tail, 0, memory_order_relaxed);
		atomic_store_explicit(&sh->producer_sleeping, 0, memory_order_relaxed);
		atomic_store_explicit(&sh->consumer_sleeping, 0, memory_order_relaxed);
	}
	*r = (struct hl_ring){
	    .sh = sh, .mask = n - 1, .entry_size = size, .is_producer = is_producer, .ops = *ops};
	/* Our own index as we left it (0 on a fresh ring); only we write it. */
	r->mine = atomic_load_explicit(is_producer ? &sh->head : &sh->tail, memory_order_relaxed);
	return HL_RING_OK;
}

/*
 * Entries this end can take now: room for the producer, filled entries for
 * the consumer. Loads the peer's index with acquire (see the top comment).
 */
static long ready(struct hl_ring *r)
{
	uint32_t n = r->mask + 1, dist;

	if (r->is_corrupt)
		return HL_RING_ERR_CORRUPT;
	if (r->is_producer)
		dist = r->mine - atomic_load_explicit(&r->sh->tail, memory_order_acquire);
	else
		dist = atomic_load_explicit(&r->sh->head, memory_order_acquire) - r->mine;
	if (dist > n) {
		r->is_corrupt = true;
		return HL_RING_ERR_CORRUPT;
	}
	return r->is_producer ? (long)(n - dist) : (long)dist;
}

static long take(struct hl_ring *r, uint32_t want, bool producer)
{
	if (r->is_producer != producer)
		return HL_RING_ERR_ARG;
	long k = ready(r);
	if (k < 0)
		return k;
	r->pending = (uint32_t)k < want ? (uint32_t)k : want;
	return r->pending;
}

long hl_ring_reserve(struct hl_ring *r, uint32_t want)
{
	return take(r, want, true);
}

long hl_ring_peek(struct hl_ring *r, uint32_t want)
{
	return take(r, want, false);
}

void *hl_ring_entry(const struct hl_ring *r, uint32_t i)
{
	if (i >= r->pending)
		return NULL;
	return r->sh->entries + (size_t)((r->mine + i) & r->mask) * r->entry_size;
}

/* After our index moved: wake the peer if it announced that it sleeps (see the top comment). */
static void wake_peer(struct hl_ring *r, _Atomic uint32_t *peer_sleeping)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(peer_sleeping, memory_order_relaxed) &&
	    atomic_exchange_explicit(peer_sleeping, 0, memory_order_relaxed)) {
		r->signals++;
		r->ops.signal_peer(r->ops.peer);
	}
}

/* Advance our own index by n of the pending entries: one release store. */
static int advance(struct hl_ring *r, uint32_t n, bool producer)
{
	if (r->is_producer != producer || n > r->pending)
		return HL_RING_ERR_ARG;
	if (r->is_corrupt)
		return HL_RING_ERR_CORRUPT;
	if (!n)
		return HL_RING_OK;
	r->mine += n;
	r->pending -= n;
	atomic_store_explicit(producer ? &r->sh->head : &r->sh->tail, r->mine,
	                      memory_order_release);
	wake_peer(r, producer ? &r->sh->consumer_sleeping : &r->sh->producer_sleeping);
	return HL_RING_OK;
}

int hl_ring_publish(struct hl_ring *r, uint32_t n)
{
	return advance(r, n, true);
}

int hl_ring_release(struct hl_ring *r, uint32_t n)
{
	return advance(r, n, false);
}

int hl_ring_wait(struct hl_ring *r)
{
	_Atomic uint32_t *flag =
	    r->is_producer ? &r->sh->producer_sleeping : &r->sh->consumer_sleeping;
	long k = ready(r);

	if (k)
		return k < 0 ? (int)k : HL_RING_OK;
	atomic_store_explicit(flag, 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	k = ready(r);
	if (!k) {
		r->sleeps++;
		r->ops.wait(r->ops.own);
	}
	atomic_store_explicit(flag, 0, memory_order_relaxed);
	return k < 0 ? (int)k : HL_RING_OK;
}
