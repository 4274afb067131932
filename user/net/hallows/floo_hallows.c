/*
 * Floo's platform on Hallows over a netdev (see floo_hallows.h). One
 * thread, one queue pair (pair 0 of the device).
 *
 *   Floo region (DMA pages, FH_VA_BASE):   stack | pbuf meta | pbufs ... | arena | tcp ...
 *                                                              ^ lent to the NIC's receive ring
 *   bounce buffers (drv_dma_page, 2 per page) -> the NIC's transmit ring
 */
#include "floo_hallows.h"

#include <lib/string.h>

#include "../../drivers/drv_env.h"

#define FH_VA_BASE  0x560000000000ull /* a PML4 slot of its own (drivers use 0x5400...) */
#define FH_BURST    64
#define FH_TX_BUF   2048u
#define PIT_HZ      1193182u
#define PIT_IRQ     0
#define IDLE_MAX_NS 50000000ull /* the PIT counts 16 bits: at most 54.9 ms */
#define IDLE_MIN_NS 100000ull   /* a timer this close: poll rather than sleep */

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
 * Floo's region: pages fresh from the partition's memory, each mapped for
 * the CPU at consecutive addresses and for the NIC's DMA (as drv_dma_page
 * does one page at a time). Returns 0 or HL_ERR_*.
 */
static long fh_dma_region(struct floo_hallows *h, size_t bytes)
{
	size_t pages = (bytes + DRV_PAGE - 1) / DRV_PAGE;
	long err;

	h->paddr = rt_calloc(pages, sizeof(*h->paddr));
	if (!h->paddr)
		return HL_ERR_NO_MEMORY;
	h->mem = (uint8_t *)FH_VA_BASE;
	h->mem_size = pages * DRV_PAGE;
	for (size_t i = 0; i < pages; i++) {
		hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12), dma = rt_slot();
		hl_word_t pa = 0;
		if (!f || !dma)
			return HL_ERR_NO_MEMORY;
		if ((err = rt_map_frame(HL_SLOT_ASPACE, f, FH_VA_BASE + i * DRV_PAGE,
		                        HL_R_READ | HL_R_WRITE)) ||
		    (err = hl_frame_paddr(f, &pa)) ||
		    (err = hl_cspace_copy(HL_SLOT_CSPACE, dma, f, HL_R_READ | HL_R_WRITE)) ||
		    (err = hl_pci_device_dma_map(h->dev, dma)))
			return err;
		h->paddr[i] = pa;
	}
	return HL_OK;
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
		                         .cap = FLOO_PBUF_SIZE,
		                         .user = pb};
		post[n++] = b;
	}
	int got = n ? fh_check(h, h->nd->ops->rx_post(h->nd, post, n)) : 0;
	for (int i = got; i < n; i++) {
		floo_pbuf_free(h->st, post[i]->user);
		h->rx_free[h->rx_nfree++] = post[i];
	}
}

/* Sent bounce buffers back to the free list. */
static void fh_tx_reclaim(struct floo_hallows *h)
{
	struct netdev_buf *done[FH_BURST];
	int n;

	while ((n = fh_check(h, h->nd->ops->tx_reclaim(h->nd, done, FH_BURST))) > 0)
		for (int i = 0; i < n; i++)
			h->tx_free[h->tx_nfree++] = done[i];
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

/* Copy frame f into bounce buffer b; false if it does not fit. */
static bool fh_tx_copy(struct floo_hallows *h, const struct floo_txframe *f, struct netdev_buf *b)
{
	uint32_t len = 0;

	for (unsigned i = 0; i < f->niov; i++) {
		if (f->iov[i].len > FH_TX_BUF - len)
			return false;
		memcpy(b->data + len, f->iov[i].base, f->iov[i].len);
		len += f->iov[i].len;
	}
	b->off = 0;
	b->len = (uint16_t)len;
	b->flags = f->csum_partial ? NETDEV_BUF_CSUM : 0;
	b->csum_start = f->csum_start;
	b->csum_offset = f->csum_offset;
	h->stats.tx_copied_bytes += len;
	return len > 0;
}

/* Hand q[0..n) to the NIC; those it does not take go back to the free list. Returns how many went.
 */
static unsigned fh_tx_flush(struct floo_hallows *h, struct netdev_buf **q, int n)
{
	int sent = n ? fh_check(h, h->nd->ops->tx(h->nd, q, n)) : 0;

	for (int i = sent; i < n; i++)
		h->tx_free[h->tx_nfree++] = q[i];
	h->stats.tx_frames += (uint64_t)sent;
	h->stats.tx_dropped += (uint64_t)(n - sent);
	h->stats.tx_ring_full += sent < n;
	return (unsigned)sent;
}

/* floo_platform.tx_burst: each frame copied into a bounce buffer, then queued. */
static unsigned fh_tx_burst(void *ctx, const struct floo_txframe *f, unsigned n)
{
	struct floo_hallows *h = ctx;
	struct netdev_buf *q[FH_BURST];
	unsigned sent = 0;
	int k = 0;

	fh_tx_reclaim(h);
	for (unsigned i = 0; i < n; i++) {
		if (!h->tx_nfree) {
			sent += fh_tx_flush(h, q, k), k = 0;
			fh_tx_reclaim(h);
		}
		if (!h->tx_nfree) {
			h->stats.tx_dropped += n - i;
			h->stats.tx_ring_full++;
			break;
		}
		struct netdev_buf *b = h->tx_free[--h->tx_nfree];
		if (!fh_tx_copy(h, &f[i], b)) {
			h->tx_free[h->tx_nfree++] = b;
			h->stats.tx_dropped++;
			continue;
		}
		q[k++] = b;
		if (k == FH_BURST)
			sent += fh_tx_flush(h, q, k), k = 0;
	}
	return sent + fh_tx_flush(h, q, k);
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

/*
 * The idle timer: PIT channel 0 (ports 0x40-0x43) one-shot on ISA IRQ 0,
 * signalling the NIC's notification. Without it (another owner, no port
 * or IRQ control) the idle loop yields instead of sleeping.
 */
static void fh_timer_init(struct floo_hallows *h)
{
	hl_cptr_t ports = rt_slot(), irq = rt_slot();

	if (h->mode != NETDEV_IRQ || !ports || !irq ||
	    hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0x40, 4, ports) != HL_OK ||
	    hl_irq_control_get(HL_SLOT_IRQ_CONTROL, PIT_IRQ, irq) != HL_OK ||
	    hl_irq_handler_set_notification(irq, h->nd->notify) != HL_OK ||
	    hl_irq_handler_ack(irq) != HL_OK) {
		rt_printf("floo: no idle timer (PIT on IRQ 0): idle by yielding\n");
		return;
	}
	h->pit_ports = ports;
	h->pit_irq = irq;
}

/* One interrupt from the PIT in ns (mode 0: interrupt on terminal count). */
static void fh_timer_arm(struct floo_hallows *h, uint64_t ns)
{
	uint64_t count = ns * PIT_HZ / 1000000000ull;

	count = count < 2 ? 2 : count > 0xffff ? 0xffff : count;
	(void)hl_ioport_out(h->pit_ports, 0x43, 1, 0x30); /* channel 0, lo/hi byte, mode 0 */
	(void)hl_ioport_out(h->pit_ports, 0x40, 1, count & 0xff);
	(void)hl_ioport_out(h->pit_ports, 0x40, 1, count >> 8);
}

void floo_hallows_idle(struct floo_hallows *h)
{
	hl_word_t info = 0, badge = 0;
	struct hl_msg m = {{0}};

	if (!h->pit_irq) {
		hl_syscall(HL_SYS_YIELD, 0, &info, &m, &badge);
		return;
	}
	uint64_t ns = floo_next_timer_ns(h->st, IDLE_MAX_NS);
	if (ns < IDLE_MIN_NS)
		return;
	fh_timer_arm(h, ns);
	if (h->nd->ops->irq_arm(h->nd))
		return; /* work arrived meanwhile */
	hl_syscall(HL_SYS_RECV, h->nd->notify, &info, &m, &badge);
	h->stats.wakeups++;
	if (badge & (1ull << PIT_IRQ)) {
		h->stats.timer_wakeups++;
		(void)hl_irq_handler_ack(h->pit_irq);
	}
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
			h->tx_free[h->tx_nfree++] = b[i];
	int err = h->nd->ops->start(h->nd, h->mode);
	rt_printf("floo: device fault %lu: %d receive and %d transmit buffers back, restart %s\n",
	          h->stats.faults, h->rx_nfree, h->tx_nfree, err ? "FAILED" : "ok");
	h->fault = false;
	h->rx_in_frame = false;
	if (!err)
		fh_rx_refill(h);
}

unsigned floo_hallows_poll(struct floo_hallows *h)
{
	if (h->fault)
		fh_recover(h);
	fh_tx_reclaim(h);
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
	h->rng = h->tsc0 ^ ((uint64_t)nd->info.mac[5] << 40) ^ 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < FLOO_HALLOWS_RX_BUFS; i++)
		h->rx_free[h->rx_nfree++] = &h->rxb[i];
	if ((err = fh_dma_region(h, size)) || (err = fh_tx_bufs(h)) ||
	    (err = nd->ops->start(nd, mode)))
		return (int)err;
	/* The offloads are those start negotiated. */
	if (nd->info.offloads & NETDEV_OFF_TX_CSUM)
		plat.caps |= FLOO_CAP_TX_CSUM_L4;
	if (nd->info.offloads & NETDEV_OFF_RX_CSUM)
		plat.caps |= FLOO_CAP_RX_CSUM_OK;
	h->st = floo_stack_init(h->mem, h->mem_size, cfg, &plat, nd->info.mac);
	if (!h->st)
		return NETDEV_ERR_INVALID;
	fh_timer_init(h);
	fh_rx_refill(h);
	return 0;
}
