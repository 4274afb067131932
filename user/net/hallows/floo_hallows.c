/*
 * Floo's platform on Hallows over a netdev (see floo_hallows.h). One
 * thread, one queue pair (pair 0 of the device).
 *
 *   Floo region (FH_VA_BASE):   stack | pbuf meta | pbufs ... | arena | tcp ...
 *                                                 ^ DMA pages, lent to the NIC's receive ring
 *   bounce buffers (drv_dma_page, 2 per page) -> the NIC's transmit ring
 *
 * The region's 2 MiB chunks are physically contiguous and the pbufs aligned
 * to their size from its start (user/net/stack.c), so a pbuf larger than a
 * page (floo_config.pbuf_size) is one contiguous DMA buffer too.
 */
#include "floo_hallows.h"

#include <lib/prof.h>
#include <lib/string.h>

#include "drivers/drv_env.h"

#define FH_VA_BASE  0x560000000000ull /* a PML4 slot of its own (drivers use 0x5400...) */
#define FH_BURST    64
#define FH_TX_BUF   2048u
#define FH_TX_BIG   0x11000u  /* a whole TSO frame: 14 + 65535 bytes, rounded to pages */
#define IDLE_MIN_NS 100000ull /* a timer this close: poll rather than sleep */

uint64_t floo_hallows_now_ns(const struct floo_hallows *h)
{
	return (uint64_t)(((unsigned __int128)(drv_rdtsc() - h->tsc0) * h->ns_mult) >> 32);
}

/* Physical address of p, which lies in Floo's region. */
static uint64_t fh_paddr(const struct floo_hallows *h, const uint8_t *p)
{
	size_t off = (size_t)(p - h->mem);

	return h->paddr[off / DRV_PAGE] + off % DRV_PAGE;
}

/*
 * Floo's region: 2 MiB frames fresh from the partition's memory (one
 * capability each, so a partition's few slots suffice), mapped for the
 * CPU at consecutive addresses and for the NIC's DMA. Returns 0 or HL_ERR_*.
 */
#define FH_CHUNK (2ull << 20)
static long fh_dma_region(struct floo_hallows *h, size_t bytes)
{
	size_t chunks = (bytes + FH_CHUNK - 1) / FH_CHUNK, per = FH_CHUNK / DRV_PAGE;
	long err;

	h->paddr = rt_calloc(chunks * per, sizeof(*h->paddr));
	if (!h->paddr)
		return HL_ERR_NO_MEMORY;
	h->mem = (uint8_t *)FH_VA_BASE;
	h->mem_size = chunks * FH_CHUNK;
	hl_cptr_t *frames = rt_calloc(chunks, sizeof(*frames));
	if (!frames)
		return HL_ERR_NO_MEMORY;
	/* every frame before any table: a 4 KiB object between two would cost 2 MiB of alignment */
	for (size_t i = 0; i < chunks; i++)
		if (!(frames[i] = rt_alloc(HL_OBJ_FRAME, 21)))
			return HL_ERR_NO_MEMORY;
	for (size_t i = 0; i < chunks; i++) {
		uint64_t va = FH_VA_BASE + i * FH_CHUNK;
		hl_cptr_t f = frames[i], dma = rt_slot();
		hl_word_t pa = 0;
		if (!dma)
			return HL_ERR_NO_MEMORY;
		for (int level = 3; level >= 2; level--) { /* a 2 MiB entry: no page table below */
			hl_cptr_t t = rt_alloc(HL_OBJ_PAGE_TABLE, 12);
			if (!t ||
			    hl_aspace_map_table(HL_SLOT_ASPACE, t, va, (hl_word_t)level) != HL_OK)
				hl_cspace_delete(HL_SLOT_CSPACE, t);
		}
		if ((err = hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE)) ||
		    (err = hl_frame_paddr(f, &pa)) ||
		    (err = hl_cspace_copy(HL_SLOT_CSPACE, dma, f, HL_R_READ | HL_R_WRITE)) ||
		    (err = hl_pci_device_dma_map(h->dev, dma)))
			return err;
		for (size_t p = 0; p < per; p++)
			h->paddr[i * per + p] = pa + p * DRV_PAGE;
	}
	rt_free(frames);
	return HL_OK;
}

/* The large bounce buffers: in the chunk after Floo's (physically contiguous within it). */
static void fh_tx_big(struct floo_hallows *h, uint8_t *chunk)
{
	for (int i = 0; i < FLOO_HALLOWS_TX_BIG; i++) {
		uint8_t *va = chunk + (size_t)i * FH_TX_BIG;
		h->txbig[i] =
		    (struct netdev_buf){.data = va, .paddr = fh_paddr(h, va), .cap = FH_TX_BIG};
		h->txbig_free[h->txbig_nfree++] = &h->txbig[i];
	}
}

/* The transmit bounce buffers, two per DMA page. Returns 0 or HL_ERR_*. */
static long fh_tx_bufs(struct floo_hallows *h)
{
	for (int i = 0; i < FLOO_HALLOWS_TX_BUFS; i += 2) {
		void *va;
		uint64_t pa;
		long err = drv_dma_page(h->dev, &va, &pa);
		if (err)
			return err;
		for (int j = 0; j < 2; j++) {
			h->txb[i + j] = (struct netdev_buf){.data = (uint8_t *)va + j * FH_TX_BUF,
			                                    .paddr = pa + (uint64_t)j * FH_TX_BUF,
			                                    .cap = FH_TX_BUF};
			h->tx_free[h->tx_nfree++] = &h->txb[i + j];
		}
	}
	return HL_OK;
}

/* A driver call failed: a device fault is recovered from before the next poll. */
static int fh_check(struct floo_hallows *h, int r)
{
	if (r == NETDEV_ERR_DEVICE)
		h->fault = true;
	return r < 0 ? 0 : r;
}

/* Lend free pbufs to the NIC until its ring or our descriptors run out. */
static void fh_rx_refill(struct floo_hallows *h)
{
	struct netdev_buf *post[FLOO_HALLOWS_RX_BUFS];
	int n = 0;

	while (h->rx_nfree > 0) {
		struct floo_pbuf *pb = floo_pbuf_alloc(h->st);
		if (!pb) {
			h->stats.rx_nopbuf++;
			break;
		}
		struct netdev_buf *b = h->rx_free[--h->rx_nfree];
		*b = (struct netdev_buf){.data = pb->base,
		                         .paddr = fh_paddr(h, pb->base),
		                         .cap = floo_pbuf_size(h->st),
		                         .user = pb};
		post[n++] = b;
	}
	int got = n ? fh_check(h, h->nd->ops->rx_post(h->nd, post, n)) : 0;
	for (int i = got; i < n; i++) {
		floo_pbuf_free(h->st, post[i]->user);
		h->rx_free[h->rx_nfree++] = post[i];
	}
}

/* A transmit buffer back to its free list (bounce buffer or by-reference piece). */
static void fh_tx_put(struct floo_hallows *h, struct netdev_buf *b)
{
	if (b >= h->txr && b < h->txr + FLOO_HALLOWS_TX_REFS)
		h->txr_free[h->txr_nfree++] = b;
	else if (b >= h->txbig && b < h->txbig + FLOO_HALLOWS_TX_BIG)
		h->txbig_free[h->txbig_nfree++] = b;
	else
		h->tx_free[h->tx_nfree++] = b;
}

/* Sent buffers back to the free lists. */
static void fh_tx_reclaim(struct floo_hallows *h)
{
	struct netdev_buf *done[FH_BURST];
	int n;

	while ((n = fh_check(h, h->nd->ops->tx_reclaim(h->nd, done, FH_BURST))) > 0)
		for (int i = 0; i < n; i++)
			fh_tx_put(h, done[i]);
}

/* floo_platform.rx_burst: the NIC's filled buffers are the pbufs Floo gets. */
static unsigned fh_rx_burst(void *ctx, struct floo_stack *st, struct floo_pbuf **out, unsigned max)
{
	struct floo_hallows *h = ctx;
	struct netdev_buf *got[FH_BURST];
	unsigned k = 0;
	int n = fh_check(h, h->nd->ops->rx_poll(h->nd, got, max < FH_BURST ? (int)max : FH_BURST));

	for (int i = 0; i < n; i++) {
		struct netdev_buf *b = got[i];
		struct floo_pbuf *pb = b->user;
		bool more = b->flags & NETDEV_BUF_MORE;

		if (h->rx_chain && (h->rx_head || more) && !(b->flags & NETDEV_BUF_DROPPED)) {
			/* a coalesced frame: its buffers chained, the first holding the headers */
			h->rx_free[h->rx_nfree++] = b;
			pb->data = b->data + b->off;
			pb->len = b->len;
			if (!h->rx_head) {
				if (b->flags & (NETDEV_BUF_CSUM_VALID | NETDEV_BUF_CSUM_NONE))
					pb->flags |= FLOO_PB_CSUM_OK;
				h->rx_head = pb;
			} else {
				h->rx_tail->frag = pb;
			}
			h->rx_tail = pb;
			if (more)
				continue;
			out[k++] = h->rx_head;
			h->rx_head = h->rx_tail = NULL;
			h->stats.rx_coalesced++;
			continue;
		}
		if (h->rx_head) { /* the device was reset inside a frame: drop what came of it */
			floo_pbuf_free(st, h->rx_head);
			h->rx_head = h->rx_tail = NULL;
		}
		bool whole =
		    !h->rx_in_frame && !(b->flags & (NETDEV_BUF_MORE | NETDEV_BUF_DROPPED));

		h->rx_in_frame = b->flags & NETDEV_BUF_MORE;
		h->rx_free[h->rx_nfree++] = b;
		if (!whole) { /* a frame over several buffers is larger than our MTU: not ours */
			h->stats.rx_multi_dropped += !(b->flags & NETDEV_BUF_DROPPED);
			floo_pbuf_free(st, pb);
			continue;
		}
		pb->data = b->data + b->off;
		pb->len = b->len;
		if (b->flags & (NETDEV_BUF_CSUM_VALID | NETDEV_BUF_CSUM_NONE))
			pb->flags |= FLOO_PB_CSUM_OK;
		out[k++] = pb;
	}
	h->stats.rx_frames += k;
	fh_rx_refill(h);
	return k;
}

/* The registered region holding [p, p + len), or NULL. */
static const struct floo_hallows_region *fh_region(const struct floo_hallows *h, const void *p,
                                                   uint32_t len)
{
	for (int i = 0; i < h->nregions; i++) {
		const struct floo_hallows_region *r = &h->region[i];
		const uint8_t *q = p;
		if (q >= r->base && len <= r->size && (size_t)(q - r->base) <= r->size - len)
			return r;
	}
	return NULL;
}

/* The first buffer of frame f: checksum request, and the segment size when the NIC segments. */
static void fh_tx_csum(struct floo_hallows *h, struct netdev_buf *b, const struct floo_txframe *f)
{
	b->flags |= f->csum_partial ? NETDEV_BUF_CSUM : 0;
	b->csum_start = f->csum_start;
	b->csum_offset = f->csum_offset;
	b->gso_size = 0;
	if (f->tso_mss) {
		b->flags |= NETDEV_BUF_TSO4;
		b->gso_size = f->tso_mss;
		h->stats.tx_tso_frames++;
	}
}

/* A free bounce buffer, emptied; NULL if none. */
static struct netdev_buf *fh_bounce(struct floo_hallows *h)
{
	if (!h->tx_nfree)
		return NULL;
	struct netdev_buf *b = h->tx_free[--h->tx_nfree];
	b->off = b->len = b->flags = 0;
	return b;
}

/* Copy frame f into one bounce buffer (a large one for a frame over 2 KiB): seg[0]. Returns 1, or 0
 * if it does not fit or none is free. */
static int fh_tx_copy(struct floo_hallows *h, const struct floo_txframe *f, struct netdev_buf **seg)
{
	uint64_t total = 0, region = 0;
	struct netdev_buf *b;
	uint32_t len = 0;

	for (unsigned i = 0; i < f->niov; i++)
		total += f->iov[i].len;
	if (total <= FH_TX_BUF) {
		b = fh_bounce(h);
	} else if (total <= 0xffffu && h->txbig_nfree) {
		b = h->txbig_free[--h->txbig_nfree];
		b->off = b->len = b->flags = 0;
		h->stats.tx_big_copies++;
	} else {
		return 0;
	}
	if (!b)
		return 0;
	for (unsigned i = 0; i < f->niov; i++) {
		if (f->iov[i].len > b->cap - len) {
			fh_tx_put(h, b);
			return 0;
		}
		memcpy(b->data + len, f->iov[i].base, f->iov[i].len);
		len += f->iov[i].len;
		if (i > 0 && fh_region(h, f->iov[i].base, f->iov[i].len))
			region += f->iov[i].len;
	}
	if (!len) {
		fh_tx_put(h, b);
		return 0;
	}
	b->len = (uint16_t)len;
	fh_tx_csum(h, b, f);
	h->stats.tx_copied_bytes += len;
	h->stats.tx_region_copied += region;
	seg[0] = b;
	return 1;
}

/*
 * Frame f as up to max buffers in seg[]: bytes of registered regions by
 * reference (cut where physical contiguity ends), everything else (the
 * headers in Floo's arena, small pieces) copied into bounce buffers.
 * Returns the buffer count, or 0 if it needs more buffers than max or
 * than are free (nothing taken then).
 */
static int fh_tx_build(struct floo_hallows *h, const struct floo_txframe *f,
                       struct netdev_buf **seg, int max)
{
	struct netdev_buf *cur = NULL;
	uint64_t copied = 0, ref = 0, rcopied = 0;
	int k = 0;

	for (unsigned i = 0; i < f->niov; i++) {
		const uint8_t *p = f->iov[i].base;
		uint32_t len = f->iov[i].len;
		const struct floo_hallows_region *r = i > 0 && len ? fh_region(h, p, len) : NULL;
		while (r && !r->copy && len) {
			size_t piece = r->contig - (size_t)(p - r->base) % r->contig;
			if (piece > len)
				piece = len;
			if (k == max || !h->txr_nfree)
				goto undo;
			struct netdev_buf *b = h->txr_free[--h->txr_nfree];
			*b = (struct netdev_buf){.data = (uint8_t *)(uintptr_t)p,
			                         .paddr = r->pa(r->ctx, p),
			                         .cap = (uint32_t)piece,
			                         .len = (uint16_t)piece};
			seg[k++] = b;
			cur = NULL;
			p += piece;
			len -= (uint32_t)piece;
			ref += piece;
		}
		/* copied: into the current bounce buffer, a piece too large for one over several
		 * (a TSO frame's) */
		while (len) {
			if (!cur || cur->len == FH_TX_BUF ||
			    (len <= FH_TX_BUF && len > FH_TX_BUF - cur->len)) {
				if (k == max || !(cur = fh_bounce(h)))
					goto undo;
				seg[k++] = cur;
			}
			uint32_t n = FH_TX_BUF - cur->len < len ? FH_TX_BUF - cur->len : len;
			memcpy(cur->data + cur->len, p, n);
			cur->len = (uint16_t)(cur->len + n);
			p += n;
			len -= n;
			copied += n;
			rcopied += r ? n : 0;
		}
	}
	if (!k)
		return 0;
	for (int j = 0; j < k; j++)
		seg[j]->flags = j + 1 < k ? NETDEV_BUF_MORE : 0;
	fh_tx_csum(h, seg[0], f);
	h->stats.tx_copied_bytes += copied;
	h->stats.tx_region_ref += ref;
	h->stats.tx_region_copied += rcopied;
	return k;
undo:
	while (k > 0)
		fh_tx_put(h, seg[--k]);
	return 0;
}

/* Hand q[0..n) (whole frames) to the NIC; buffers it does not take go back to the free lists.
 * Returns how many frames went. */
static unsigned fh_tx_flush(struct floo_hallows *h, struct netdev_buf **q, int n)
{
	int sent = n ? fh_check(h, h->nd->ops->tx(h->nd, q, n)) : 0;
	unsigned frames = 0, lost = 0;

	for (int i = 0; i < n; i++) {
		bool end = !(q[i]->flags & NETDEV_BUF_MORE);
		if (i < sent) {
			frames += end;
			continue;
		}
		lost += end;
		fh_tx_put(h, q[i]);
	}
	h->stats.tx_frames += frames;
	h->stats.tx_dropped += lost;
	h->stats.tx_ring_full += lost > 0;
	return frames;
}

/*
 * floo_platform.tx_burst: each frame built from bounce buffers and
 * by-reference pieces (or copied whole when it cannot be), then queued.
 */
static unsigned fh_tx_burst(void *ctx, const struct floo_txframe *f, unsigned n)
{
	struct floo_hallows *h = ctx;
	struct netdev_buf *q[FH_BURST];
	int max = h->nd->info.max_tx_segs ? h->nd->info.max_tx_segs : 1;
	unsigned sent = 0;
	int k = 0;

	if (max > FH_BURST)
		max = FH_BURST;
	fh_tx_reclaim(h);
	for (unsigned i = 0; i < n; i++) {
		if (k + max > FH_BURST)
			sent += fh_tx_flush(h, q, k), k = 0;
		int got = fh_tx_build(h, &f[i], q + k, max);
		if (!got)
			got = fh_tx_copy(h, &f[i], q + k);
		if (!got && k) { /* out of buffers: send what is queued, take back what is done */
			sent += fh_tx_flush(h, q, k), k = 0;
			fh_tx_reclaim(h);
			if (!(got = fh_tx_build(h, &f[i], q, max)))
				got = fh_tx_copy(h, &f[i], q);
		}
		if (!got) {
			h->stats.tx_dropped++;
			h->stats.tx_ring_full += !h->tx_nfree;
			continue;
		}
		k += got;
	}
	return sent + fh_tx_flush(h, q, k);
}

int floo_hallows_add_region(struct floo_hallows *h, const struct floo_hallows_region *r)
{
	if (h->nregions == FLOO_HALLOWS_REGIONS || !r->base || !r->size || !r->pa || !r->contig ||
	    (r->contig & (r->contig - 1)) || (uintptr_t)r->base % r->contig)
		return NETDEV_ERR_INVALID;
	h->region[h->nregions++] = *r;
	return 0;
}

static uint64_t fh_now(void *ctx)
{
	return floo_hallows_now_ns(ctx);
}

/* xorshift64*, seeded from the TSC and the MAC: not cryptographic (docs/net.md). */
static uint32_t fh_random(void *ctx)
{
	struct floo_hallows *h = ctx;

	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return (uint32_t)((h->rng * 2685821657736338717ull) >> 32);
}

static void fh_log(void *ctx, int level, const char *ev, uint64_t v)
{
	struct floo_hallows *h = ctx;

	if (level <= h->log_level)
		rt_printf("floo: %s %lu\n", ev, v);
}

void floo_hallows_idle(struct floo_hallows *h)
{
	floo_hallows_idle_for(h, FLOO_HALLOWS_NO_TIMER);
}

/*
 * Nothing to do: sleep on the NIC's notification until a frame comes or
 * the earlier of Floo's next timer and the application's (app_ns from now)
 * is due: the kernel's timed wait (HL_SYS_WAIT), so a partition needs no
 * timer device of its own. Nothing timed at all (no Floo deadline, no
 * application timer) sleeps until the next frame. Polled, it yields.
 */
static void fh_idle_for(struct floo_hallows *h, uint64_t app_ns);

void floo_hallows_idle_for(struct floo_hallows *h, uint64_t app_ns)
{
	PROF_CALL(PROF_IDLE, fh_idle_for(h, app_ns));
}

static void fh_idle_for(struct floo_hallows *h, uint64_t app_ns)
{
	h->stats.idle_calls++;
	if (h->mode != NETDEV_IRQ) {
		h->stats.yields++;
		(void)hl_yield();
		return;
	}
	/* Floo's next deadline: none while its connections have nothing
	 * armed (idle keep-alive connections included, docs/net.md). */
	uint64_t fd = floo_next_deadline(h->st), now = floo_hallows_now_ns(h);
	bool untimed = app_ns == FLOO_HALLOWS_NO_TIMER && fd == FLOO_NO_DEADLINE;
	uint64_t ns = fd == FLOO_NO_DEADLINE ? app_ns : fd > now ? fd - now : 0;

	if (ns > app_ns)
		ns = app_ns;
	if (!untimed && ns < IDLE_MIN_NS)
		return; /* due so soon that polling again is cheaper than sleeping */
	if (h->nd->ops->irq_arm(h->nd))
		return; /* work arrived meanwhile */
	/* ns * tsc_hz / 10^9 without overflow for any ns below 2^64 / 2^32 (136 years) */
	uint64_t deadline = untimed ? HL_WAIT_FOREVER
	                            : drv_rdtsc() + (ns / 1000000) * h->tsc_per_ms +
	                                  (ns % 1000000) * h->tsc_per_ms / 1000000;
	long err = hl_wait(h->nd->notify, deadline, NULL);
	h->stats.wakeups++;
	h->stats.timer_wakeups += err == HL_ERR_TIMED_OUT;
	h->stats.deep_sleeps += untimed;
}

/* After NETDEV_ERR_DEVICE: take every buffer back, restart the device, lend receive buffers again.
 */
static void fh_recover(struct floo_hallows *h)
{
	struct netdev_buf *b[FH_BURST];
	int n, reports = 0;

	h->stats.faults++;
	while ((n = h->nd->ops->rx_poll(h->nd, b, FH_BURST)) > 0 ||
	       (n == NETDEV_ERR_DEVICE && reports++ < 1))
		for (int i = 0; i < n; i++) {
			floo_pbuf_free(h->st, b[i]->user);
			h->rx_free[h->rx_nfree++] = b[i];
		}
	while ((n = h->nd->ops->tx_reclaim(h->nd, b, FH_BURST)) > 0 ||
	       (n == NETDEV_ERR_DEVICE && reports++ < 2))
		for (int i = 0; i < n; i++)
			fh_tx_put(h, b[i]);
	int err = h->nd->ops->start(h->nd, h->mode);
	rt_printf("floo: device fault %lu: %d receive and %d transmit buffers back, restart %s\n",
	          h->stats.faults, h->rx_nfree, h->tx_nfree, err ? "FAILED" : "ok");
	h->fault = false;
	h->rx_in_frame = false;
	floo_pbuf_free(h->st, h->rx_head); /* a coalesced frame cut short */
	h->rx_head = h->rx_tail = NULL;
	if (!err)
		fh_rx_refill(h);
}

unsigned floo_hallows_poll(struct floo_hallows *h)
{
	if (h->fault)
		fh_recover(h);
	PROF_CALL(PROF_DRV_TX, fh_tx_reclaim(h));
	return floo_poll(h->st);
}

int floo_hallows_init(struct floo_hallows *h, struct netdev *nd, hl_cptr_t dev,
                      enum netdev_mode mode, const struct floo_config *cfg, int log_level)
{
	struct floo_platform plat = {.ctx = h,
	                             .rx_burst = fh_rx_burst,
	                             .tx_burst = fh_tx_burst,
	                             .now_ns = fh_now,
	                             .random32 = fh_random,
	                             .log = fh_log};
	size_t size = floo_mem_size(cfg);
	long err;

	*h = (struct floo_hallows){.nd = nd, .dev = dev, .mode = mode, .log_level = log_level};
	h->tsc0 = drv_rdtsc();
	h->ns_mult =
	    (1000000000ull << 32) / (rt_self.bi->tsc_hz ? rt_self.bi->tsc_hz : 1000000000ull);
	h->tsc_per_ms = rt_self.bi->tsc_hz >= 1000 ? rt_self.bi->tsc_hz / 1000 : 1000000;
	h->rng = h->tsc0 ^ ((uint64_t)nd->info.mac[5] << 40) ^ 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < FLOO_HALLOWS_RX_BUFS; i++)
		h->rx_free[h->rx_nfree++] = &h->rxb[i];
	for (int i = 0; i < FLOO_HALLOWS_TX_REFS; i++)
		h->txr_free[h->txr_nfree++] = &h->txr[i];
	/* Floo's region, then one chunk for the large bounce buffers */
	size = (size + FH_CHUNK - 1) / FH_CHUNK * FH_CHUNK;
	if ((err = fh_dma_region(h, size + FH_CHUNK)) || (err = fh_tx_bufs(h)))
		return (int)err;
	h->mem_size = size;
	fh_tx_big(h, h->mem + size);
	nd->want |= NETDEV_OFF_RX_TSO4; /* chained into pbufs below */
	err = nd->ops->start(nd, mode);
	if (err == NETDEV_ERR_INVALID && mode == NETDEV_IRQ) {
		/* No interrupt the partition can hold (the driver said why): poll instead. */
		h->mode = NETDEV_POLLED;
		err = nd->ops->start(nd, NETDEV_POLLED);
	}
	if (err)
		return (int)err;
	/* The offloads are those start negotiated. */
	if (nd->info.offloads & NETDEV_OFF_TX_CSUM)
		plat.caps |= FLOO_CAP_TX_CSUM_L4;
	if (nd->info.offloads & NETDEV_OFF_RX_CSUM)
		plat.caps |= FLOO_CAP_RX_CSUM_OK;
	if ((nd->info.offloads & (NETDEV_OFF_TSO4 | NETDEV_OFF_TX_CSUM)) ==
	    (NETDEV_OFF_TSO4 | NETDEV_OFF_TX_CSUM)) {
		plat.caps |= FLOO_CAP_TX_TSO;
		h->tso = true;
	}
	if (nd->info.offloads & NETDEV_OFF_RX_TSO4) {
		plat.caps |= FLOO_CAP_RX_CHAIN;
		h->rx_chain = true;
	}
	h->st = floo_stack_init(h->mem, h->mem_size, cfg, &plat, nd->info.mac);
	if (!h->st)
		return NETDEV_ERR_INVALID;
	fh_rx_refill(h);
	return 0;
}
