/*
 * IPv4 (RFC 791, RFC 1122 host requirements). A host never forwards, so
 * TTL is only set on output (64); received TTL is not checked. Options are
 * accepted and ignored.
 */
#include "floo_internal.h"

#include <lib/prof.h>

#define IP_TTL     64
#define IP_DF      0x4000
#define IP_MF      0x2000
#define IP_OFFMASK 0x1fff

bool ipv4_is_bcast(struct floo_stack *st, uint32_t dst)
{
	return dst == 0xffffffffu ||
	       (st->mask && st->ip && dst == ((st->ip & st->mask) | ~st->mask));
}

bool ipv4_is_local(struct floo_stack *st, uint32_t dst)
{
	return st->ip && dst == st->ip;
}

/* Source addresses no host may use: multicast, limited broadcast, 0/8
 * (except 0.0.0.0 from a DHCP client), loopback. */
static bool src_invalid(struct floo_stack *st, uint32_t src)
{
	uint32_t top = src >> 24;

	return top >= 224 || top == 127 || (top == 0 && src != 0) || ipv4_is_bcast(st, src);
}

/* Header sanity: version, lengths, checksum, addresses. Returns the header
 * length or 0 to drop; trims link padding off pb. */
static uint32_t ipv4_validate(struct floo_stack *st, struct floo_pbuf *pb)
{
	const uint8_t *h = pb->data;
	uint32_t hlen, total, have = pb->frag ? floo_pbuf_chain_len(pb) : pb->len;

	if (pb->len < 20 || (h[0] >> 4) != 4)
		return 0;
	hlen = (uint32_t)(h[0] & 0xf) * 4;
	total = get_be16(h + 2);
	if (hlen < 20 || hlen > pb->len || total < hlen || total > have)
		return 0;
	/* a coalesced frame: one whole TCP datagram, headers in its first buffer, no padding */
	if (pb->frag && (total != have || h[9] != IP_PROTO_TCP || hlen + 20 > pb->len ||
	                 (get_be16(h + 6) & (IP_MF | IP_OFFMASK))))
		return 0;
	if (floo_csum_fold(floo_csum_add(0, h, hlen)) != 0) {
		st->stats.drop_ip_csum++;
		return 0;
	}
	if (src_invalid(st, get_be32(h + 12)))
		return 0;
	if (!pb->frag)
		pb->len = total;
	return hlen;
}

/* True if dst is ours: our address, a broadcast, or anything while we are
 * unconfigured (DHCP offers may be unicast to the address being offered). */
static bool dst_accept(struct floo_stack *st, uint32_t dst)
{
	return !st->ip || ipv4_is_local(st, dst) || ipv4_is_bcast(st, dst);
}

/* Hand a reassembled datagram (in st->frag_out) to its protocol. TCP needs
 * its data in a pbuf; a segment that does not fit one is dropped. */
static void ipv4_deliver_reassembled(struct floo_stack *st, uint32_t total)
{
	uint8_t *ip = st->frag_out;
	uint32_t hlen = (uint32_t)(ip[0] & 0xf) * 4;
	struct floo_pbuf *pb = NULL;

	st->stats.frag_reassembled++;
	if (ip[9] == IP_PROTO_TCP) {
		pb = floo_pbuf_alloc(st);
		if (!pb || total > st->cfg.pbuf_size - FLOO_PBUF_HEADROOM) {
			floo_drop(st, &st->stats.drop_frag, "frag_tcp_too_big", pb);
			return;
		}
		memcpy(pb->data, ip, total);
		pb->len = total;
		ip = pb->data;
	}
	ipv4_deliver(st, pb, ip, ip + hlen, total - hlen);
}

/* Validate, reassemble if fragmented, and dispatch. */
void ipv4_input(struct floo_stack *st, struct floo_pbuf *pb)
{
	uint32_t hlen = ipv4_validate(st, pb);
	const uint8_t *h = pb->data;
	uint16_t frag;
	uint32_t total;

	if (!hlen) {
		floo_drop(st, &st->stats.drop_ip, "ip_malformed", pb);
		return;
	}
	if (!dst_accept(st, get_be32(h + 16))) {
		floo_drop(st, &st->stats.drop_ip, "ip_not_for_us", pb);
		return;
	}
	frag = get_be16(h + 6);
	if (frag & (IP_MF | IP_OFFMASK)) {
		total = ip_frag_input(st, h, hlen, pb->len);
		floo_pbuf_free(st, pb);
		if (total)
			ipv4_deliver_reassembled(st, total);
		return;
	}
	total = pb->frag ? get_be16(h + 2) : pb->len;
	ipv4_deliver(st, pb, h, pb->data + hlen, total - hlen);
}

/* Dispatch by protocol. pb (may be NULL for reassembled UDP/ICMP) is
 * consumed. */
void ipv4_deliver(struct floo_stack *st, struct floo_pbuf *pb, const uint8_t *ip, uint8_t *payload,
                  uint32_t len)
{
	bool csum_ok = pb && (pb->flags & FLOO_PB_CSUM_OK);

	switch (ip[9]) {
	case IP_PROTO_TCP:
		PROF_CALL(PROF_TCP_IN, tcp_input(st, pb, ip, payload, len));
		return;
	case IP_PROTO_UDP:
		udp_input(st, ip, payload, len, csum_ok);
		break;
	case IP_PROTO_ICMP:
		icmp_input(st, ip, payload, len);
		break;
	default:
		if (ipv4_is_local(st, get_be32(ip + 16)))
			icmp_send_error(st, 3, 2, ip, (uint32_t)(payload - ip) + len);
		st->stats.drop_ip++;
		floo_log(st, FLOO_LOG_DEBUG, "ip_proto_unreach", ip[9]);
		break;
	}
	floo_pbuf_free(st, pb);
}

/* Write an IPv4 header (no options, DF set) and return its length. */
uint32_t ipv4_header(struct floo_stack *st, uint8_t *h, uint32_t src, uint32_t dst, uint8_t proto,
                     uint32_t payload_len)
{
	h[0] = 0x45;
	h[1] = 0;
	put_be16(h + 2, (uint16_t)(20 + payload_len));
	put_be16(h + 4, st->ip_id++);
	put_be16(h + 6, IP_DF);
	h[8] = IP_TTL;
	h[9] = proto;
	put_be16(h + 10, 0);
	put_be32(h + 12, src);
	put_be32(h + 16, dst);
	put_be16(h + 10, floo_csum_fold(floo_csum_add(0, h, 20)));
	return 20;
}
