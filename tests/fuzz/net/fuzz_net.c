/*
 * libFuzzer targets for every Floo receive path. Built once per protocol
 * with -DFUZZ_PROTO=<n>. Inputs (see README.md):
 *   byte 0      flags: 1 fix IP checksum, 2 fix L4 checksum, 4 fix DHCP xid,
 *               8 TCP: acknowledge exactly what the stack sent last
 *   then        one or more records [u16 length][u8 clock step][bytes],
 *               each wrapped in the headers the target adds (vnet: the
 *               first 10 bytes are the virtio-net header of the frame).
 * After each input the stack is torn down and every buffer must be back
 * in the pool (a leak aborts), so any crash, sanitizer report or leak
 * is a finding.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef FUZZ_DEBUG
#include <stdio.h>
#endif

#include "floo_internal.h"
#include "tcp.h"
#include "floo/floo_vnet.h"

#define P_ETH  0
#define P_ARP  1
#define P_IPV4 2
#define P_ICMP 3
#define P_UDP  4
#define P_TCP  5
#define P_DHCP 6
#define P_VNET 7 /* a virtio-net header, then a TCP segment as for P_TCP */

#define MY_IP   0x0a000001u
#define PEER_IP 0x0a000009u

static uint64_t now_ns = 1000000000ull;
static uint32_t rnd;
static const uint8_t my_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 9};
static struct floo_pbuf *rxq[32];
static uint32_t last_tcp_next; /* seq after the stack's last TCP segment */
static unsigned rxn;

static unsigned f_rx(void *ctx, struct floo_stack *st, struct floo_pbuf **out, unsigned max)
{
	unsigned n = rxn < max ? rxn : max;

	(void)ctx, (void)st;
	/* an array of pointers. NOLINTNEXTLINE(bugprone-sizeof-expression) */
	memcpy(out, rxq, n * sizeof(out[0]));
	rxn = 0;
	return n;
}

/* Remember where the stack's last TCP segment ended (flag 8). */
static void note_tcp(const struct floo_txframe *f, uint32_t len)
{
	const uint8_t *b = f->iov[0].base, *t = b + 34;
	uint32_t thl;

	if (f->iov[0].len < 54 || b[23] != 6)
		return;
	thl = (uint32_t)(t[12] >> 4) * 4;
	last_tcp_next = get_be32(t + 4) + (len - 34 - thl) + !!(t[13] & 2) + !!(t[13] & 1);
}

static unsigned f_tx(void *ctx, const struct floo_txframe *f, unsigned n)
{
	(void)ctx;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = 0;

		for (unsigned j = 0; j < f[i].niov; j++)
			len += f[i].iov[j].len;
		/* Never an oversize frame, unless offered for segmentation. */
		if (len > 1514 && (!f[i].tso_mss || len > FLOO_TSO_MAX + 14 + 60 + 60))
			abort();
		if (f[i].tso_mss && (f[i].tso_mss > 1460 || !f[i].csum_partial))
			abort();
		note_tcp(&f[i], len);
	}
	return n;
}

static uint64_t f_now(void *ctx)
{
	(void)ctx;
	return now_ns;
}

static uint32_t f_rand(void *ctx)
{
	(void)ctx;
	return rnd++;
}

/* Echo application: exercises sends by reference and releases. */
static void app(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	(void)user;
	if (ev->type == FLOO_TCP_DATA) {
		floo_tcp_release(floo_tcp_stack(c), ev->pb);
		(void)floo_tcp_send(c, "response", 8, NULL);
	} else if (ev->type == FLOO_TCP_PEER_FIN) {
		floo_tcp_close(c);
	}
}

static void udp_app(struct floo_stack *st, void *arg, uint32_t src, uint16_t sp, uint16_t dp,
                    const uint8_t *d, uint32_t n)
{
	(void)arg;
	(void)floo_udp_send(st, dp, src, sp, d, n);
}

static struct floo_stack *make_stack(void **mem, uint32_t pbuf_size)
{
	struct floo_config cfg = {
	    .n_pbufs = 64, .n_tcp = 8, .n_frag = 1, .tcp_rcv_pbufs = 16, .pbuf_size = pbuf_size};
	struct floo_platform p = {
	    .rx_burst = f_rx, .tx_burst = f_tx, .now_ns = f_now, .random32 = f_rand};
	size_t sz = floo_mem_size(&cfg);
	struct floo_stack *st;

	if (FUZZ_PROTO == P_TCP || FUZZ_PROTO == P_VNET) /* offload paths too */
		p.caps = FLOO_CAP_TX_CSUM_L4 | FLOO_CAP_TX_TSO;

	*mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	st = floo_stack_init(*mem, sz, &cfg, &p, my_mac);
	if (!st)
		abort();
	rnd = 7;
	if (FUZZ_PROTO == P_DHCP) {
		floo_dhcp_start(st);
	} else {
		floo_set_ipv4(st, MY_IP, 0xffffff00u, 0x0a0000feu);
		arp_learn(st, PEER_IP, peer_mac, true);
	}
	floo_udp_bind(st, 7, udp_app, NULL);
	floo_tcp_listen(st, 80, app, NULL);
	return st;
}

/* Wrap payload p (n bytes) for the target into frame f; returns length. */
static uint32_t wrap(uint8_t *f, const uint8_t *p, uint32_t n, uint8_t flags)
{
	uint32_t o = 14, l4 = 0, sum;
	uint8_t proto = FUZZ_PROTO == P_ICMP                          ? 1
	                : FUZZ_PROTO == P_TCP || FUZZ_PROTO == P_VNET ? 6
	                                                              : 17;

	memcpy(f, my_mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put_be16(f + 12, FUZZ_PROTO == P_ARP ? 0x0806 : 0x0800);
	if (FUZZ_PROTO == P_ETH) {
		memcpy(f, p, n);
		return n;
	}
	if (FUZZ_PROTO == P_ARP || FUZZ_PROTO == P_IPV4) {
		memcpy(f + 14, p, n);
		if (FUZZ_PROTO == P_IPV4 && (flags & 1) && n >= 20) {
			uint32_t hl = (uint32_t)(f[14] & 15) * 4;

			if (hl >= 20 && hl <= n) {
				put_be16(f + 24, 0);
				put_be16(f + 24, floo_csum_fold(floo_csum_add(0, f + 14, hl)));
			}
		}
		return 14 + n;
	}
	/* ICMP / UDP / TCP / DHCP: valid IPv4 header, then the payload. */
	memset(f + o, 0, 20);
	f[o] = 0x45;
	put_be16(f + o + 2, (uint16_t)(20 + n));
	f[o + 8] = 64;
	f[o + 9] = proto;
	put_be32(f + o + 12, FUZZ_PROTO == P_DHCP ? 0x0a0000feu : PEER_IP);
	put_be32(f + o + 16, FUZZ_PROTO == P_DHCP ? 0xffffffffu : MY_IP);
	put_be16(f + o + 10, floo_csum_fold(floo_csum_add(0, f + o, 20)));
	o += 20;
	l4 = o;
	if (FUZZ_PROTO == P_DHCP) {
		put_be16(f + o, 67);
		put_be16(f + o + 2, 68);
		put_be16(f + o + 4, (uint16_t)(8 + n));
		put_be16(f + o + 6, 0); /* no checksum: allowed for UDP */
		memcpy(f + o + 8, p, n);
		if ((flags & 4) && n >= 34) {
			put_be32(f + o + 8 + 4, 7); /* the client's first xid */
			memcpy(f + o + 8 + 28, my_mac, 6);
		}
		put_be16(f + 16, (uint16_t)(28 + n));
		put_be16(f + 24, 0);
		put_be16(f + 24, floo_csum_fold(floo_csum_add(0, f + 14, 20)));
		return o + 8 + n;
	}
	memcpy(f + o, p, n);
	if ((flags & 8) && proto == 6 && n >= 20)
		put_be32(f + l4 + 8, last_tcp_next);
	if ((flags & 2) &&
	    ((proto == 6 && n >= 20) || (proto == 17 && n >= 8) || (proto == 1 && n >= 4))) {
		uint32_t off = proto == 6 ? 16 : proto == 17 ? 6 : 2;

		put_be16(f + l4 + off, 0);
		sum = proto == 1 ? 0 : floo_csum_pseudo(PEER_IP, MY_IP, proto, n);
		put_be16(f + l4 + off, floo_csum_fold(floo_csum_add(sum, f + l4, n)));
	}
	return o + n;
}

/* Frames held by the stack beyond the pool: TCP queues. */
static uint32_t held(struct floo_stack *st)
{
	uint32_t h = 0;

	for (uint32_t i = 0; i < st->cfg.n_tcp; i++)
		if (st->tcp[i].state != 0)
			h += st->tcp[i].ooo_n;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *mem;
	struct floo_stack *st;
	uint8_t flags;
	size_t i = 1;

	if (size < 1)
		return 0;
	/* flag 0x40: page-sized buffers (brokerd on virtio-net), frames beyond 2 KiB in one */
	st = make_stack(&mem, (data[0] & 0x40) ? 4096 : 0);
	last_tcp_next = 0;
	flags = data[0];
	while (i + 3 <= size) {
		uint32_t n = get_be16(data + i);
		uint8_t step = data[i + 2];
		struct floo_pbuf *pb;

		i += 3;
		if (n > size - i)
			n = (uint32_t)(size - i);
		if (n > ((data[0] & 0x40) ? 3900u : 1500u))
			n = (data[0] & 0x40) ? 3900u : 1500u;
		now_ns += (uint64_t)step * 4000000ull;
		pb = floo_pbuf_alloc(st);
		if (!pb)
			abort(); /* buffers leaked */
		if (FUZZ_PROTO == P_VNET) {
			/* The header the TAP or virtio-net device sent with it. */
			uint8_t vh[FLOO_VNET_HDR_LEN] = {0};

			memcpy(vh, data + i, n < sizeof(vh) ? n : sizeof(vh));
			pb->len = wrap(pb->data, data + i + (n < sizeof(vh) ? n : sizeof(vh)),
			               n < sizeof(vh) ? 0 : n - (uint32_t)sizeof(vh), flags);
			if (floo_vnet_rx(st, vh, pb) == 0)
				rxq[rxn++] = pb;
		} else {
			pb->len = wrap(pb->data, data + i, n, flags);
			rxq[rxn++] = pb;
		}
		floo_poll(st);
#ifdef FUZZ_DEBUG
		fprintf(stderr, "rec n=%u free=%u held=%u", n, floo_pbuf_free_count(st), held(st));
		for (uint32_t c = 0; c < st->cfg.n_tcp; c++)
			if (st->tcp[c].state)
				fprintf(stderr, " [%u st=%d held_pb=%u ooo=%u]", c,
				        st->tcp[c].state, st->tcp[c].rcv_held_pb, st->tcp[c].ooo_n);
		fprintf(stderr, "\n");
#endif
		i += n;
	}
	now_ns += 100000000000ull; /* let every timer run */
	floo_poll(st);
	if (floo_pbuf_free_count(st) + held(st) != st->cfg.n_pbufs)
		abort();
	for (uint32_t c = 0; c < st->cfg.n_tcp; c++)
		if (st->tcp[c].state != 0)
			floo_tcp_abort(&st->tcp[c]);
	if (floo_pbuf_free_count(st) != st->cfg.n_pbufs)
		abort();
	free(mem);
	return 0;
}
