/* UDP (RFC 768): bound ports with callbacks; sends copy into one frame. */
#include "floo_internal.h"

#define UDP_HLEN         8
#define DHCP_CLIENT_PORT 68

/* Validate length and checksum, then hand the payload to the bound port,
 * or answer port unreachable. */
void udp_input(struct floo_stack *st, const uint8_t *ip, uint8_t *u, uint32_t len, bool csum_ok)
{
	uint32_t src = get_be32(ip + 12), dst = get_be32(ip + 16);
	uint16_t ulen, dport;

	if (len < UDP_HLEN || (ulen = get_be16(u + 4)) < UDP_HLEN || ulen > len) {
		floo_drop(st, &st->stats.drop_udp, "udp_malformed", NULL);
		return;
	}
	if (!csum_ok && get_be16(u + 6) != 0) {
		uint32_t s = floo_csum_pseudo(src, dst, IP_PROTO_UDP, ulen);

		if (floo_csum_fold(floo_csum_add(s, u, ulen)) != 0) {
			floo_drop(st, &st->stats.drop_udp_csum, "udp_csum", NULL);
			return;
		}
	}
	dport = get_be16(u + 2);
	if (dport == DHCP_CLIENT_PORT && st->dhcp) {
		dhcp_input(st, u + UDP_HLEN, ulen - UDP_HLEN);
		return;
	}
	for (unsigned i = 0; i < FLOO_UDP_N; i++) {
		struct udp_bind *b = &st->udp[i];

		if (b->cb && b->port == dport) {
			b->cb(st, b->arg, src, get_be16(u), dport, u + UDP_HLEN, ulen - UDP_HLEN);
			return;
		}
	}
	icmp_send_error(st, 3, 3, ip, (uint32_t)(u - ip) + len);
	floo_drop(st, &st->stats.drop_udp, "udp_no_port", NULL);
}

int floo_udp_bind(struct floo_stack *st, uint16_t port, floo_udp_cb cb, void *arg)
{
	struct udp_bind *freeb = NULL;

	if (!port || !cb)
		return FLOO_EINVAL;
	for (unsigned i = 0; i < FLOO_UDP_N; i++) {
		if (st->udp[i].cb && st->udp[i].port == port)
			return FLOO_EADDRINUSE;
		if (!st->udp[i].cb && !freeb)
			freeb = &st->udp[i];
	}
	if (!freeb)
		return FLOO_ENOMEM;
	freeb->port = port;
	freeb->cb = cb;
	freeb->arg = arg;
	return 0;
}

void floo_udp_unbind(struct floo_stack *st, uint16_t port)
{
	for (unsigned i = 0; i < FLOO_UDP_N; i++)
		if (st->udp[i].cb && st->udp[i].port == port)
			st->udp[i].cb = NULL;
}

/* Build one UDP datagram from src_ip (0 allowed for DHCP). */
int udp_send_from(struct floo_stack *st, uint32_t src_ip, uint16_t src_port, uint32_t dst_ip,
                  uint16_t dst_port, const void *data, uint32_t len)
{
	uint8_t *f, *u;
	struct floo_txframe *tx;
	uint32_t hl, sum;
	const uint8_t *mac;

	if (len > FLOO_MTU - 20 - UDP_HLEN)
		return FLOO_EINVAL;
	if (!(mac = eth_next_hop(st, dst_ip)))
		return FLOO_EAGAIN;
	tx = floo_tx_frame(st, &f);
	eth_header(st, f, mac, ETH_P_IP);
	hl = ipv4_header(st, f + ETH_HLEN, src_ip, dst_ip, IP_PROTO_UDP, UDP_HLEN + len);
	u = f + ETH_HLEN + hl;
	put_be16(u, src_port);
	put_be16(u + 2, dst_port);
	put_be16(u + 4, (uint16_t)(UDP_HLEN + len));
	put_be16(u + 6, 0);
	memcpy(u + UDP_HLEN, data, len);
	sum = floo_csum_pseudo(src_ip, dst_ip, IP_PROTO_UDP, UDP_HLEN + len);
	sum = floo_csum_fold(floo_csum_add(sum, u, UDP_HLEN + len));
	put_be16(u + 6, sum ? (uint16_t)sum : 0xffff);
	tx->iov[0].len = ETH_HLEN + hl + UDP_HLEN + len;
	return 0;
}

int floo_udp_send(struct floo_stack *st, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port,
                  const void *data, uint32_t len)
{
	if (!st->ip)
		return FLOO_ENOTCONN;
	return udp_send_from(st, st->ip, src_port, dst_ip, dst_port, data, len);
}
