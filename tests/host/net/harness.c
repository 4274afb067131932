/* Fake platform for the Floo unit tests; the cases run on ktharness. */
#include "harness.h"

uint64_t t_now_ns = 1000000000ull;
uint32_t t_next_caps;
void q_push(struct fqueue *q, const uint8_t *f, uint32_t len)
{
	struct frame *fr;

	if (q->n == QMAX || len > sizeof(fr->b))
		return;
	fr = &q->f[(q->head + q->n) % QMAX];
	memcpy(fr->b, f, len);
	fr->len = len;
	fr->has_vh = false;
	q->n++;
}

/* floo_poll, then the timer heap's invariants (tcp_timer_check): every
 * test driven through the harness checks that no armed deadline is keyed
 * later than it is due. */
static unsigned poll_checked(struct floo_stack *st)
{
	unsigned n = floo_poll(st);

	if (!tcp_timer_check(st)) {
		fprintf(stderr, "harness: timer heap invariant broken\n");
		abort();
	}
	return n;
}

static unsigned fake_rx(void *ctx, struct floo_stack *st, struct floo_pbuf **out, unsigned max)
{
	struct node *n = ctx;
	unsigned k = 0;

	if (n->chain && max) {
		out[k++] = n->chain;
		n->chain = NULL;
	}
	if (n->pump_peer && n->peer && !n->in_pump) {
		n->in_pump = true;
		t_now_ns += 20000; /* sockets spin: let time pass */
		poll_checked(n->peer->st);
		n->in_pump = false;
	}
	while (k < max && n->rxq.n) {
		struct frame *fr = &n->rxq.f[n->rxq.head];
		struct floo_pbuf *pb = floo_pbuf_alloc(st);

		if (!pb)
			break;
		memcpy(pb->data, fr->b, fr->len);
		pb->len = fr->len;
		n->rxq.head = (n->rxq.head + 1) % QMAX;
		n->rxq.n--;
		/* What the TAP and virtio-net receive paths do with the header. */
		if (fr->has_vh && floo_vnet_rx(st, fr->vh, pb) < 0)
			continue;
		out[k++] = pb;
	}
	return k;
}

/* Deliver one frame through the node's filter to the peer or capture. */
static void wire(struct node *n, uint8_t *buf, uint32_t len)
{
	n->sent++;
	if (n->filter && !n->filter(n, buf, len))
		return;
	q_push(n->peer ? &n->peer->rxq : &n->txq, buf, len);
}

/* What a TSO NIC does: cut the payload into mss pieces, each with the
 * headers copied, lengths, sequence numbers and checksums fixed, and
 * FIN/PSH only on the last. */
static void nic_segment(struct node *n, const uint8_t *buf, uint32_t len, uint32_t hdr_len,
                        uint16_t mss)
{
	const uint8_t *ip = buf + 14;
	uint32_t ihl = (uint32_t)(ip[0] & 15) * 4, thl = hdr_len - 14 - ihl;
	uint32_t seq0 = get_be32(ip + ihl + 4), plen = len - hdr_len;
	uint8_t seg[2048];

	for (uint32_t off = 0; off < plen; off += mss) {
		uint32_t k = plen - off < mss ? plen - off : mss, sum;
		uint8_t *sip = seg + 14, *t = sip + ihl;

		memcpy(seg, buf, hdr_len);
		memcpy(seg + hdr_len, buf + hdr_len + off, k);
		put_be16(sip + 2, (uint16_t)(ihl + thl + k));
		put_be16(sip + 10, 0);
		put_be16(sip + 10, floo_csum_fold(floo_csum_add(0, sip, ihl)));
		put_be32(t + 4, seq0 + off);
		if (off + k < plen)
			t[13] &= (uint8_t) ~(TH_FIN | TH_PSH);
		put_be16(t + 16, 0);
		sum = floo_csum_pseudo(get_be32(sip + 12), get_be32(sip + 16), 6, thl + k);
		put_be16(t + 16, floo_csum_fold(floo_csum_add(sum, t, thl + k)));
		wire(n, seg, hdr_len + k);
	}
	n->tso_frames++;
}

/* What a virtio-net device does with a frame and its header (virtio 1.x,
 * 5.1.6.2): it sees only the encoded header bytes, not the stack's txframe,
 * so the tests cover the same translation the TAP and virtio-net drivers
 * use. Any header a device must refuse is a stack bug: abort. */
static void vdev_tx(struct node *n, const uint8_t raw[FLOO_VNET_HDR_LEN], uint8_t *buf,
                    uint32_t len)
{
	struct floo_vnet_hdr h;

	floo_vnet_decode(raw, &h);
	if (h.gso_type != FLOO_VNET_GSO_NONE) {
		const uint8_t *ip = buf + 14;
		uint32_t hl = 14 + (uint32_t)(ip[0] & 15) * 4;

		hl += (uint32_t)(ip[hl - 14 + 12] >> 4) * 4;
		if (!(n->caps & FLOO_CAP_TX_TSO) || h.gso_type != FLOO_VNET_GSO_TCPV4 ||
		    !(h.flags & FLOO_VNET_F_NEEDS_CSUM) || !h.gso_size || h.gso_size > 1460 ||
		    h.hdr_len != hl || len <= hl + h.gso_size)
			abort(); /* never offered, or a header a device refuses */
		nic_segment(n, buf, len, h.hdr_len, h.gso_size);
		return;
	}
	if (len > 1514)
		abort(); /* an oversize frame without TSO */
	if (h.flags & FLOO_VNET_F_NEEDS_CSUM) {
		/* Sum from csum_start to the end, store at csum_offset. */
		uint8_t *at = buf + h.csum_start + h.csum_offset;
		uint32_t sum;

		if (!(n->caps & FLOO_CAP_TX_CSUM_L4) ||
		    (uint32_t)h.csum_start + h.csum_offset + 2 > len)
			abort();
		sum = get_be16(at);
		put_be16(at, 0);
		sum = floo_csum_add(sum, buf + h.csum_start, len - h.csum_start);
		put_be16(at, floo_csum_fold(sum));
		n->offloaded++;
	}
	wire(n, buf, len);
}

static unsigned fake_tx(void *ctx, const struct floo_txframe *f, unsigned cnt)
{
	struct node *n = ctx;
	static uint8_t buf[70000];

	for (unsigned i = 0; i < cnt; i++) {
		struct floo_vnet_hdr h;
		uint8_t raw[FLOO_VNET_HDR_LEN];
		uint32_t len = 0;

		for (unsigned j = 0; j < f[i].niov; j++) {
			if (len + f[i].iov[j].len > sizeof(buf))
				abort(); /* a frame larger than any NIC takes */
			memcpy(buf + len, f[i].iov[j].base, f[i].iov[j].len);
			len += f[i].iov[j].len;
		}
		floo_vnet_tx(&f[i], &h);
		floo_vnet_encode(&h, raw);
		vdev_tx(n, raw, buf, len);
	}
	return cnt;
}

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return t_now_ns;
}

static uint32_t fake_random(void *ctx)
{
	struct node *n = ctx;

	return n->rnd++;
}

static void fake_log(void *ctx, int level, const char *ev, uint64_t v)
{
	(void)ctx;
	if (getenv("FLOO_TEST_LOG") && level <= FLOO_LOG_DEBUG)
		fprintf(stderr, "  log: %s %llu\n", ev, (unsigned long long)v);
}

struct node *node_new(const struct floo_config *cfg, uint32_t ip, uint8_t id)
{
	struct node *n = calloc(1, sizeof(*n));
	struct floo_config c = {0};
	struct floo_platform p = {0};
	size_t sz;

	if (cfg)
		c = *cfg;
	if (!c.n_pbufs)
		c.n_pbufs = 512;
	if (!c.n_tcp)
		c.n_tcp = 64;
	if (!c.n_frag)
		c.n_frag = 2;
	n->rxq.f = calloc(QMAX, sizeof(struct frame));
	n->txq.f = calloc(QMAX, sizeof(struct frame));
	memcpy(n->mac, (uint8_t[]){0x02, 0, 0, 0, 0, id}, 6);
	n->rnd = 1000u * id;
	p.ctx = n;
	p.caps = t_next_caps;
	n->caps = t_next_caps;
	p.rx_burst = fake_rx;
	p.tx_burst = fake_tx;
	p.now_ns = fake_now;
	p.random32 = fake_random;
	p.log = fake_log;
	sz = floo_mem_size(&c);
	n->mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	n->st = floo_stack_init(n->mem, sz, &c, &p, n->mac);
	if (!n->st)
		abort();
	if (ip)
		floo_set_ipv4(n->st, ip, 0xffffff00u, 0);
	floo_tx_flush(n->st);
	drain(n);
	return n;
}

void node_free(struct node *n)
{
	free(n->rxq.f);
	free(n->txq.f);
	free(n->mem);
	free(n);
}

void node_link(struct node *a, struct node *b)
{
	a->peer = b;
	b->peer = a;
}

void run_step(struct node *a, struct node *b, uint32_t ms, uint32_t step_us)
{
	uint64_t end = t_now_ns + (uint64_t)ms * 1000000u;

	while (t_now_ns < end) {
		t_now_ns += step_us * 1000ull;
		for (int k = 0; k < 8; k++) {
			unsigned got = poll_checked(a->st);

			if (b)
				got += poll_checked(b->st);
			if (!got && !a->rxq.n && (!b || !b->rxq.n))
				break;
		}
	}
}

void run_ms(struct node *a, struct node *b, uint32_t ms)
{
	run_step(a, b, ms, 250);
}

void inject(struct node *n, const uint8_t *f, uint32_t len)
{
	q_push(&n->rxq, f, len);
	poll_checked(n->st);
}

void inject_vnet(struct node *n, const struct floo_vnet_hdr *h, const uint8_t *f, uint32_t len)
{
	struct fqueue *q = &n->rxq;

	q_push(q, f, len);
	floo_vnet_encode(h, q->f[(q->head + q->n - 1) % QMAX].vh);
	q->f[(q->head + q->n - 1) % QMAX].has_vh = true;
	poll_checked(n->st);
}

void inject_chain(struct node *n, const uint8_t *f, uint32_t len, uint32_t piece, bool csum_ok)
{
	struct floo_pbuf *head = NULL, *tail = NULL;

	for (uint32_t off = 0; off < len; off += piece) {
		struct floo_pbuf *pb = floo_pbuf_alloc(n->st);
		uint32_t k = len - off < piece ? len - off : piece;

		if (!pb)
			abort();
		memcpy(pb->data, f + off, k);
		pb->len = k;
		if (tail)
			tail->frag = pb;
		else
			head = pb;
		tail = pb;
	}
	if (!head) /* len 0: no frame to inject */
		return;
	if (csum_ok)
		head->flags |= FLOO_PB_CSUM_OK;
	n->chain = head;
	floo_poll(n->st);
}

uint32_t take(struct node *n, uint8_t *buf)
{
	struct frame *fr;
	uint32_t len;

	if (!n->txq.n)
		return 0;
	fr = &n->txq.f[n->txq.head];
	len = fr->len;
	memcpy(buf, fr->b, len);
	n->txq.head = (n->txq.head + 1) % QMAX;
	n->txq.n--;
	return len;
}

void drain(struct node *n)
{
	n->txq.n = 0;
}

static uint32_t put_eth_ip(uint8_t *f, const uint8_t *dmac, uint32_t src, uint32_t dst,
                           uint8_t proto, uint32_t plen)
{
	uint8_t *h = f + 14;

	memcpy(f, dmac, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0, 0, 0x99}, 6);
	put_be16(f + 12, 0x0800);
	memset(h, 0, 20);
	h[0] = 0x45;
	put_be16(h + 2, (uint16_t)(20 + plen));
	put_be16(h + 4, 1);
	h[8] = 64;
	h[9] = proto;
	put_be32(h + 12, src);
	put_be32(h + 16, dst);
	put_be16(h + 10, floo_csum_fold(floo_csum_add(0, h, 20)));
	return 34;
}

uint32_t build_ip(uint8_t *f, const uint8_t *dmac, uint32_t src, uint32_t dst, uint8_t proto,
                  const uint8_t *payload, uint32_t plen)
{
	uint32_t o = put_eth_ip(f, dmac, src, dst, proto, plen);

	memcpy(f + o, payload, plen);
	return o + plen;
}

uint32_t build_udp(uint8_t *f, const uint8_t *dmac, uint32_t src, uint32_t dst, uint16_t sport,
                   uint16_t dport, const uint8_t *d, uint32_t n)
{
	uint32_t o = put_eth_ip(f, dmac, src, dst, 17, 8 + n), s;
	uint8_t *u = f + o;

	put_be16(u, sport);
	put_be16(u + 2, dport);
	put_be16(u + 4, (uint16_t)(8 + n));
	put_be16(u + 6, 0);
	memcpy(u + 8, d, n);
	s = floo_csum_pseudo(src, dst, 17, 8 + n);
	put_be16(u + 6, floo_csum_fold(floo_csum_add(s, u, 8 + n)));
	return o + 8 + n;
}

uint32_t build_tcp(uint8_t *f, const uint8_t *dmac, uint32_t src, uint32_t dst, uint16_t sport,
                   uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                   const uint8_t *opt, uint8_t optlen, const uint8_t *data, uint32_t dlen)
{
	uint32_t hl = 20u + optlen, o, s;
	uint8_t *t;

	o = put_eth_ip(f, dmac, src, dst, 6, hl + dlen);
	t = f + o;
	memset(t, 0, 20);
	put_be16(t, sport);
	put_be16(t + 2, dport);
	put_be32(t + 4, seq);
	put_be32(t + 8, ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = flags;
	put_be16(t + 14, win);
	if (optlen)
		memcpy(t + 20, opt, optlen);
	if (dlen)
		memcpy(t + hl, data, dlen);
	s = floo_csum_pseudo(src, dst, 6, hl + dlen);
	put_be16(t + 16, floo_csum_fold(floo_csum_add(s, t, hl + dlen)));
	return o + hl + dlen;
}

int main(int argc, char **argv)
{
	kt_group = "net-unit";
	return kt_main(NULL, 0, argc, argv);
}
