/* A raw TCP peer for the tests that drive one stack with hand-made
 * segments (test_tcp_raw.c, test_sack.c). */
#include "harness.h"

const uint8_t peer_mac[6] = {2, 0, 0, 0, 0, 9};

void raw_send(struct raw *r, uint32_t seq, uint8_t flags, const void *data, uint32_t len)
{
	uint32_t n = build_tcp(r->f, r->n->mac, PEER, IP_A, PPORT, 80, seq, r->rcv, flags, 65535,
	                       NULL, 0, data, len);

	inject(r->n, r->f, n);
}

/* Parse the next captured segment; false if none. */
bool raw_take(struct raw *r, uint32_t *seq, uint32_t *ack, uint8_t *fl, uint32_t *plen,
              uint16_t *win)
{
	uint32_t len = take(r->n, r->f);
	const uint8_t *t = r->f + 34;

	if (!len)
		return false;
	*seq = get_be32(t + 4);
	*ack = get_be32(t + 8);
	*fl = t[13];
	*win = get_be16(t + 14);
	*plen = len - 34 - (uint32_t)(t[12] >> 4) * 4;
	return true;
}

const struct floo_config *raw_cfg;

/* Handshake with optional SYN options; leaves an ESTABLISHED connection. */
bool raw_open(struct raw *r, const uint8_t *opt, uint8_t optlen)
{
	uint32_t seq, ack, plen, n;
	uint8_t fl;
	uint16_t win;

	r->n = node_new(raw_cfg, IP_A, 1);
	app_init(&r->sa, 1 << 16);
	arp_learn(r->n->st, PEER, peer_mac, true);
	floo_tcp_listen(r->n->st, 80, app_cb, &r->sa);
	r->snd = 1000;
	n = build_tcp(r->f, r->n->mac, PEER, IP_A, PPORT, 80, r->snd, 0, TH_SYN, 65535, opt, optlen,
	              NULL, 0);
	inject(r->n, r->f, n);
	if (!raw_take(r, &seq, &ack, &fl, &plen, &win) || fl != (TH_SYN | TH_ACK) ||
	    ack != r->snd + 1)
		return false;
	r->snd++;
	r->rcv = seq + 1;
	raw_send(r, r->snd, TH_ACK, NULL, 0);
	return r->sa.accepted == 1;
}

void raw_close(struct raw *r)
{
	app_fini(&r->sa);
	node_free(r->n);
}
