/*
 * Stack object: memory layout, the polling loop and the transmit batch.
 *
 * Memory region (each part 64-byte aligned):
 *   struct floo_stack | pbuf metadata | pad | pbuf buffers (cfg.pbuf_size each)
 *   | tx arena (FLOO_TX_BATCH x FLOO_TX_SLOT) | reassembly slots
 *   | TCP connections + hash | DHCP state | socket table
 */
#include "floo_internal.h"

#include <lib/prof.h>

#define ALIGN64(x) (((x) + 63u) & ~(size_t)63u)
#define TICK_NS    10000000ull /* ARP/fragment/DHCP scan at most every 10 ms */

/* Defaults sized for a few thousand connections on a hosted demo. */
void floo_config_default(struct floo_config *cfg)
{
	cfg->n_pbufs = 8192;
	cfg->n_tcp = 4096;
	cfg->tcp_rcv_buf = 65535;
	cfg->tcp_rcv_pbufs = 64;
	cfg->tcp_msl_ms = 30000;
	cfg->tcp_rto_min_ms = 200;
	cfg->tcp_keep_idle_ms = 7200000;
	cfg->tcp_keep_intvl_ms = 75000;
	cfg->tcp_keep_cnt = 9;
	cfg->tcp_backlog = 512;
	cfg->n_frag = 4;
	cfg->tcp_sndq = 16;
	cfg->tcp_cc = FLOO_CC_BBR;
	cfg->tcp_pacing = FLOO_PACING_OFF;
	cfg->pbuf_size = FLOO_PBUF_SIZE;
}

/* Replace zero fields by defaults. */
static void config_fill(struct floo_config *out, const struct floo_config *in)
{
	struct floo_config d;
	uint32_t *o = (uint32_t *)out;
	const uint32_t *dv = (const uint32_t *)&d;

	floo_config_default(&d);
	*out = *in;
	_Static_assert(sizeof(struct floo_config) % 4 == 0, "u32 fields only");
	for (size_t i = 0; i < sizeof(*out) / 4; i++)
		if (!o[i])
			o[i] = dv[i];
	if (out->tcp_sndq > FLOO_TCP_SNDQ_MAX)
		out->tcp_sndq = FLOO_TCP_SNDQ_MAX;
}

/* Bytes of memory floo_stack_init() needs for cfg. */
size_t floo_mem_size(const struct floo_config *in)
{
	struct floo_config c;

	config_fill(&c, in);
	return ALIGN64(sizeof(struct floo_stack)) + ALIGN64(c.n_pbufs * sizeof(struct floo_pbuf)) +
	       c.pbuf_size + (size_t)c.n_pbufs * c.pbuf_size +
	       (size_t)FLOO_TX_BATCH * FLOO_TX_SLOT + ip_frag_mem_size(&c) +
	       ALIGN64(tcp_mem_size(&c)) + ALIGN64(dhcp_mem_size()) + ALIGN64(sock_mem_size());
}

/*
 * Carve the pbuf pool out of mem; returns the first byte after it. The
 * buffers start a multiple of their size from the region's start, so in a
 * page-aligned region no buffer of up to a page crosses a page, and a larger
 * one crosses no boundary of a region chunk its size divides: a platform
 * whose region is DMA memory lends pbufs to its NIC as receive buffers
 * (user/net/hallows: 2 MiB chunks, physically contiguous).
 */
static uint8_t *pool_init(struct floo_stack *st, uint8_t *p)
{
	uint32_t n = st->cfg.n_pbufs, size = st->cfg.pbuf_size;
	size_t off;

	st->pb_meta = (struct floo_pbuf *)p;
	p += ALIGN64(n * sizeof(struct floo_pbuf));
	off = (size_t)(p - (uint8_t *)st);
	p += (size - off % size) % size;
	st->pb_mem = p;
	p += (size_t)n * size;
	st->pb_free = NULL;
	st->pb_nfree = 0;
	for (uint32_t i = n; i-- > 0;) {
		struct floo_pbuf *pb = &st->pb_meta[i];

		pb->base = st->pb_mem + (size_t)i * size;
		pb->flags = 0;
		floo_pbuf_free(st, pb);
	}
	return p;
}

/* Build a stack in mem. Returns NULL if size is too small or the platform
 * lacks a mandatory operation. */
struct floo_stack *floo_stack_init(void *mem, size_t size, const struct floo_config *cfg,
                                   const struct floo_platform *plat, const uint8_t mac[6])
{
	struct floo_stack *st = mem;
	uint8_t *p = mem;

	uint32_t pbs = cfg->pbuf_size ? cfg->pbuf_size : FLOO_PBUF_SIZE;

	if (!mem || pbs < FLOO_PBUF_SIZE || pbs > FLOO_PBUF_SIZE_MAX || (pbs & (pbs - 1)) ||
	    size < floo_mem_size(cfg) || !plat->rx_burst || !plat->tx_burst || !plat->now_ns ||
	    !plat->random32)
		return NULL;
	memset(st, 0, sizeof(*st));
	config_fill(&st->cfg, cfg);
	st->plat = *plat;
	memcpy(st->mac, mac, 6);
	p += ALIGN64(sizeof(*st));
	p = pool_init(st, p);
	st->tx_arena = p;
	p += (size_t)FLOO_TX_BATCH * FLOO_TX_SLOT;
	ip_frag_init(st, p);
	p += ip_frag_mem_size(&st->cfg);
	st->now_ns = plat->now_ns(plat->ctx);
	st->now_ms = (uint32_t)(st->now_ns / 1000000u);
	tcp_init(st, p);
	p += ALIGN64(tcp_mem_size(&st->cfg));
	dhcp_init(st, p);
	p += ALIGN64(dhcp_mem_size());
	sock_init(st, p);
	st->ip_id = (uint16_t)plat->random32(plat->ctx);
	st->misc_tick_ns = st->now_ns + TICK_NS;
	return st;
}

void floo_set_ipv4(struct floo_stack *st, uint32_t addr, uint32_t mask, uint32_t gw)
{
	st->ip = addr;
	st->mask = mask;
	st->gw = gw;
	if (addr)
		floo_arp_announce(st);
}

uint32_t floo_get_ipv4(const struct floo_stack *st)
{
	return st->ip;
}

const struct floo_stats *floo_stats(const struct floo_stack *st)
{
	return &st->stats;
}

void floo_log(struct floo_stack *st, int level, const char *ev, uint64_t v)
{
	if (st->plat.log)
		st->plat.log(st->plat.ctx, level, ev, v);
}

/* Count, log at debug level and free a dropped packet (pb may be NULL). */
void floo_drop(struct floo_stack *st, uint64_t *counter, const char *why, struct floo_pbuf *pb)
{
	(*counter)++;
	floo_log(st, FLOO_LOG_DEBUG, why, pb ? pb->len : 0);
	floo_pbuf_free(st, pb);
}

/* Reserve the next frame of the transmit batch; *buf gets its arena slot
 * (FLOO_TX_SLOT bytes) which the caller fills and registers as iov[0]. */
struct floo_txframe *floo_tx_frame(struct floo_stack *st, uint8_t **buf)
{
	struct floo_txframe *f;

	if (st->tx_n == FLOO_TX_BATCH)
		floo_tx_flush(st);
	f = &st->tx[st->tx_n];
	*buf = st->tx_arena + (size_t)st->tx_n * FLOO_TX_SLOT;
	st->tx_n++;
	memset(f, 0, sizeof(*f));
	f->iov[0].base = *buf;
	f->niov = 1;
	return f;
}

/* Hand the batch to the platform. */
void floo_tx_flush(struct floo_stack *st)
{
	unsigned n = st->tx_n, sent;

	if (!n)
		return;
	PROF_ENTER(PROF_DRV_TX);
	sent = st->plat.tx_burst(st->plat.ctx, st->tx, n);
	PROF_LEAVE();
	if (sent > n)
		sent = n;
	st->stats.tx_frames += sent;
	st->stats.tx_dropped += n - sent;
	st->tx_n = 0;
}

/* Sample the clock once per iteration; everything in it sees one time. */
static void clock_update(struct floo_stack *st)
{
	uint64_t t = st->plat.now_ns(st->plat.ctx);

	if (t > st->now_ns)
		st->now_ns = t;
	st->now_ms = (uint32_t)(st->now_ns / 1000000u);
}

/* One run-to-completion iteration: receive a batch, process every frame,
 * run due timers, emit pending TCP output and flush transmits. */
unsigned floo_poll(struct floo_stack *st)
{
	struct floo_pbuf *rx[FLOO_RX_BATCH];
	unsigned n;

	clock_update(st);
	PROF_ENTER(PROF_DRV_RX);
	n = st->plat.rx_burst(st->plat.ctx, st, rx, FLOO_RX_BATCH);
	PROF_LEAVE();
	if (n > FLOO_RX_BATCH)
		n = FLOO_RX_BATCH;
	for (unsigned i = 0; i < n; i++) {
		st->stats.rx_frames++;
		PROF_CALL(PROF_FLOO_IN, eth_input(st, rx[i]));
	}
	PROF_CALL(PROF_TIMERS, tcp_timer(st));
	if (st->now_ns >= st->misc_tick_ns) {
		PROF_ENTER(PROF_TIMERS);
		st->misc_tick_ns = st->now_ns + TICK_NS;
		arp_timer(st);
		ip_frag_timer(st);
		dhcp_timer(st);
		PROF_LEAVE();
	}
	PROF_CALL(PROF_TCP_OUT, tcp_flush_dirty(st));
	floo_tx_flush(st);
	return n;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a || (b && b < a) ? b : a;
}

/* The earliest deadline of any timer: TCP's from the heap, and the small
 * ARP/fragment/DHCP tables scanned (their scan in floo_poll is brought
 * forward to it, so a host sleeping until then finds it due). */
uint64_t floo_next_deadline(struct floo_stack *st)
{
	uint64_t misc = earliest(arp_next_ns(st), ip_frag_next_ns(st));
	uint64_t d;

	misc = earliest(misc, dhcp_next_ns(st));
	if (misc && misc < st->misc_tick_ns)
		st->misc_tick_ns = misc;
	d = earliest(tcp_timer_next(st), misc);
	return d ? d : FLOO_NO_DEADLINE;
}

/* Time until the next deadline, bounded by max_ns. */
uint64_t floo_next_timer_ns(struct floo_stack *st, uint64_t max_ns)
{
	uint64_t now = st->plat.now_ns(st->plat.ctx);
	uint64_t t = floo_next_deadline(st);
	uint64_t d = t > now ? t - now : 0;

	return d < max_ns ? d : max_ns;
}
