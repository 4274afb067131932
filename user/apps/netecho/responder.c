/* ARP (RFC 826) and ICMP echo (RFC 792) replies, made in the request's own buffer. */
#include "responder.h"

#include <lib/bytes.h>

#define ETH_HLEN      14
#define ETH_P_ARP     0x0806
#define ETH_P_IP      0x0800
#define ARP_LEN       28
#define IP_PROTO_ICMP 1
#define ICMP_ECHO     8
#define ICMP_REPLY    0

static void copy(uint8_t *d, const uint8_t *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		d[i] = s[i];
}

static bool same(const uint8_t *a, const uint8_t *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

uint16_t responder_cksum(const uint8_t *p, uint32_t n)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i + 1 < n; i += 2)
		sum += get_be16(p + i);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* RFC 826: a request (op 1) for our address, Ethernet/IPv4 sizes. */
static enum responder_verdict arp_reply(struct responder *r, uint8_t *f, uint16_t len,
                                        uint16_t *out_len)
{
	uint8_t *a = f + ETH_HLEN;

	if (len < ETH_HLEN + ARP_LEN || get_be16(a) != 1 || get_be16(a + 2) != ETH_P_IP ||
	    a[4] != 6 || a[5] != 4 || get_be16(a + 6) != 1 || !same(a + 24, r->ip, 4))
		return RESP_DROP;
	copy(a + 18, a + 8, 10); /* target = the sender (hardware and protocol address) */
	copy(a + 8, r->mac, 6);
	copy(a + 14, r->ip, 4);
	put_be16(a + 6, 2);
	copy(f, a + 18, 6); /* to the requester */
	copy(f + 6, r->mac, 6);
	*out_len = ETH_HLEN + ARP_LEN;
	r->arp++;
	return RESP_ARP_REPLY;
}

/* RFC 791 header checks, then RFC 792 echo -> echo reply with the same identifier, sequence and
 * data. */
static enum responder_verdict echo_reply(struct responder *r, uint8_t *f, uint16_t len,
                                         bool trusted, uint16_t *out_len,
                                         struct responder_csum *csum)
{
	uint8_t *ip = f + ETH_HLEN;
	if (len < ETH_HLEN + 20 || ip[0] >> 4 != 4)
		return RESP_DROP;
	uint16_t ihl = (uint16_t)((ip[0] & 15) * 4), tot = get_be16(ip + 2);
	if (ihl < 20 || tot < ihl + 8 || tot > len - ETH_HLEN || ip[9] != IP_PROTO_ICMP ||
	    !same(ip + 16, r->ip, 4) || (get_be16(ip + 6) & 0x3fff) ||
	    responder_cksum(ip, ihl) != 0)
		return RESP_DROP; /* fragments (MF or an offset) are not reassembled here */
	uint8_t *icmp = ip + ihl;
	uint16_t ilen = (uint16_t)(tot - ihl);
	if (icmp[0] != ICMP_ECHO || icmp[1] != 0 || (!trusted && responder_cksum(icmp, ilen) != 0))
		return RESP_DROP;
	uint8_t tmp[6];
	copy(tmp, f + 6, 6), copy(f, tmp, 6), copy(f + 6, r->mac, 6);
	copy(tmp, ip + 12, 4), copy(ip + 16, tmp, 4), copy(ip + 12, r->ip, 4);
	ip[8] = 64; /* TTL */
	put_be16(ip + 10, 0), put_be16(ip + 10, responder_cksum(ip, ihl));
	icmp[0] = ICMP_REPLY;
	put_be16(icmp + 2, 0);
	csum->needed = r->csum_offload;
	csum->start = (uint16_t)(ETH_HLEN + ihl), csum->offset = 2;
	if (!r->csum_offload) /* ICMP has no pseudo-header: with offload the field stays 0 and the
	                         device sums */
		put_be16(icmp + 2, responder_cksum(icmp, ilen));
	*out_len = (uint16_t)(ETH_HLEN + tot);
	r->echo++;
	return RESP_ECHO_REPLY;
}

enum responder_verdict responder_reply(struct responder *r, uint8_t *frame, uint16_t len,
                                       bool csum_trusted, uint16_t *out_len,
                                       struct responder_csum *csum)
{
	static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	enum responder_verdict v = RESP_DROP;

	csum->needed = false;
	if (len >= ETH_HLEN && (same(frame, r->mac, 6) || same(frame, bcast, 6))) {
		if (get_be16(frame + 12) == ETH_P_ARP)
			v = arp_reply(r, frame, len, out_len);
		else if (get_be16(frame + 12) == ETH_P_IP && same(frame, r->mac, 6))
			v = echo_reply(r, frame, len, csum_trusted, out_len, csum);
	}
	if (v == RESP_DROP)
		r->dropped++;
	return v;
}

bool responder_parse_ip(const char *s, uint32_t n, uint8_t ip[4])
{
	uint32_t part = 0, v = 0, digits = 0;

	for (uint32_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (digits == 0 || v > 255 || part > 3)
				return false;
			ip[part++] = (uint8_t)v;
			v = 0, digits = 0;
		} else if (s[i] >= '0' && s[i] <= '9' && digits < 3) {
			v = v * 10 + (uint32_t)(s[i] - '0');
			digits++;
		} else {
			return false;
		}
	}
	return part == 4;
}
