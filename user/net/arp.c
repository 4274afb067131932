/*
 * ARP (RFC 826) for IPv4 over Ethernet: a small cache with timeouts,
 * request retries and gratuitous announcements. Frames whose next hop is
 * unresolved are dropped (the request goes out instead); TCP retransmission
 * and the peers' own ARP traffic recover, which keeps the stack free of a
 * pending-packet queue.
 */
#include "floo_internal.h"

#define ARP_LEN      28
#define ARP_TTL_NS   (60ull * 1000000000ull)
#define ARP_RETRY_NS (1000000000ull)
#define ARP_TRIES    3

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Emit one ARP packet. */
static void arp_send(struct floo_stack *st, uint16_t op, const uint8_t *eth_dst, const uint8_t *tha,
                     uint32_t tpa)
{
	uint8_t *f;
	struct floo_txframe *tx = floo_tx_frame(st, &f);
	uint8_t *a = f + ETH_HLEN;

	eth_header(st, f, eth_dst, ETH_P_ARP);
	put_be16(a, 1);
	put_be16(a + 2, ETH_P_IP);
	a[4] = 6;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, st->mac, 6);
	put_be32(a + 14, st->ip);
	memcpy(a + 18, tha, 6);
	put_be32(a + 24, tpa);
	memset(a + ARP_LEN, 0, 60 - ETH_HLEN - ARP_LEN);
	tx->iov[0].len = 60; /* minimum frame size without FCS */
}

/* Find the entry for ip, or NULL. */
static struct arp_entry *arp_find(struct floo_stack *st, uint32_t ip)
{
	for (unsigned i = 0; i < FLOO_ARP_N; i++)
		if (st->arp[i].state && st->arp[i].ip == ip)
			return &st->arp[i];
	return NULL;
}

/* Pick a slot for a new entry: a free one, else the one expiring first. */
static struct arp_entry *arp_slot(struct floo_stack *st)
{
	struct arp_entry *best = &st->arp[0];

	for (unsigned i = 0; i < FLOO_ARP_N; i++) {
		if (!st->arp[i].state)
			return &st->arp[i];
		if (st->arp[i].expires_ns < best->expires_ns)
			best = &st->arp[i];
	}
	return best;
}

/* Record ip -> mac. Updates an existing entry always; creates one only
 * when create is set (we are the target), per RFC 826's merge rule. */
void arp_learn(struct floo_stack *st, uint32_t ip, const uint8_t *mac, bool create)
{
	struct arp_entry *e = arp_find(st, ip);
	bool was_pending = e && e->state == 1;

	if (!e) {
		if (!create)
			return;
		e = arp_slot(st);
	}
	e->ip = ip;
	memcpy(e->mac, mac, 6);
	e->state = 2;
	e->tries = 0;
	e->expires_ns = st->now_ns + ARP_TTL_NS;
	if (was_pending)
		tcp_arp_resolved(st, ip);
}

/* MAC for ip, or NULL after starting resolution. */
const uint8_t *arp_lookup(struct floo_stack *st, uint32_t ip)
{
	struct arp_entry *e = arp_find(st, ip);
	static const uint8_t zero[6];

	if (e && e->state >= 2)
		return e->mac;
	if (!e) {
		e = arp_slot(st);
		e->ip = ip;
		e->state = 1;
		e->tries = 1;
		e->expires_ns = st->now_ns + ARP_RETRY_NS;
		st->stats.arp_requests++;
		arp_send(st, 1, bcast, zero, ip);
	}
	return NULL;
}

/* Validate and process a request or reply. */
void arp_input(struct floo_stack *st, struct floo_pbuf *pb)
{
	const uint8_t *a = pb->data;
	uint32_t spa, tpa;
	uint16_t op;

	if (pb->len < ARP_LEN || get_be16(a) != 1 || get_be16(a + 2) != ETH_P_IP || a[4] != 6 ||
	    a[5] != 4) {
		floo_drop(st, &st->stats.drop_arp, "arp_malformed", pb);
		return;
	}
	op = get_be16(a + 6);
	spa = get_be32(a + 14);
	tpa = get_be32(a + 24);
	if ((a[8] & 1) || spa == 0 || (op != 1 && op != 2)) {
		floo_drop(st, &st->stats.drop_arp, "arp_bad_sender", pb);
		return;
	}
	arp_learn(st, spa, a + 8, st->ip && tpa == st->ip);
	if (op == 1 && st->ip && tpa == st->ip) {
		st->stats.arp_replies++;
		arp_send(st, 2, a + 8, a + 8, spa);
	}
	floo_pbuf_free(st, pb);
}

/* Gratuitous ARP: a request for our own address (RFC 5227 announcement). */
void floo_arp_announce(struct floo_stack *st)
{
	static const uint8_t zero[6];

	if (st->ip)
		arp_send(st, 1, bcast, zero, st->ip);
}

uint64_t arp_next_ns(const struct floo_stack *st)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < FLOO_ARP_N; i++)
		if (st->arp[i].state && (!m || st->arp[i].expires_ns < m))
			m = st->arp[i].expires_ns;
	return m;
}

/* Expire stale entries and retry pending requests. */
void arp_timer(struct floo_stack *st)
{
	static const uint8_t zero[6];

	for (unsigned i = 0; i < FLOO_ARP_N; i++) {
		struct arp_entry *e = &st->arp[i];

		if (!e->state || st->now_ns < e->expires_ns)
			continue;
		if (e->state == 2) {
			/* Stale: keep using it while a unicast probe refreshes it. */
			e->state = 3;
			e->expires_ns = st->now_ns + ARP_TRIES * ARP_RETRY_NS;
			arp_send(st, 1, e->mac, zero, e->ip);
			continue;
		}
		if (e->state == 3 || e->tries >= ARP_TRIES) {
			e->state = 0;
			continue;
		}
		e->tries++;
		e->expires_ns = st->now_ns + ARP_RETRY_NS;
		arp_send(st, 1, bcast, zero, e->ip);
	}
}
