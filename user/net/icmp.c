/*
 * ICMP (RFC 792, RFC 1122 3.2.2): echo replies, and the errors a host
 * sends (port/protocol unreachable, reassembly time exceeded), rate
 * limited. Received errors are counted and otherwise ignored.
 */
#include "floo_internal.h"

#define ICMP_ECHO_REPLY    0
#define ICMP_UNREACH       3
#define ICMP_ECHO          8
#define ICMP_TIME_EXCEEDED 11
#define ICMP_TOKENS        50
#define ICMP_REFILL_NS     100000000ull /* 50 errors per 100 ms */

/* Build and queue an ICMP message: 8-byte header words then body. */
static void icmp_send(struct floo_stack *st, uint32_t dst, uint8_t type, uint8_t code,
                      uint32_t rest, const uint8_t *body, uint32_t blen)
{
	uint8_t *f, *m;
	struct floo_txframe *tx;
	uint32_t hl;
	const uint8_t *mac = eth_next_hop(st, dst);

	if (!mac)
		return;
	if (blen > FLOO_MTU - 28)
		blen = FLOO_MTU - 28;
	tx = floo_tx_frame(st, &f);
	eth_header(st, f, mac, ETH_P_IP);
	hl = ipv4_header(st, f + ETH_HLEN, st->ip, dst, IP_PROTO_ICMP, 8 + blen);
	m = f + ETH_HLEN + hl;
	m[0] = type;
	m[1] = code;
	put_be16(m + 2, 0);
	put_be32(m + 4, rest);
	memcpy(m + 8, body, blen);
	put_be16(m + 2, floo_csum_fold(floo_csum_add(0, m, 8 + blen)));
	tx->iov[0].len = ETH_HLEN + hl + 8 + blen;
}

/* Reply to echo requests addressed to us (not to broadcasts). */
void icmp_input(struct floo_stack *st, const uint8_t *ip, uint8_t *m, uint32_t len)
{
	if (len < 8 || floo_csum_fold(floo_csum_add(0, m, len)) != 0) {
		floo_drop(st, &st->stats.drop_icmp, "icmp_malformed", NULL);
		return;
	}
	if (m[0] == ICMP_ECHO && m[1] == 0 && ipv4_is_local(st, get_be32(ip + 16))) {
		st->stats.icmp_echo++;
		icmp_send(st, get_be32(ip + 12), ICMP_ECHO_REPLY, 0, get_be32(m + 4), m + 8,
		          len - 8);
		return;
	}
	floo_log(st, FLOO_LOG_DEBUG, "icmp_ignored", m[0]);
}

/* True if sending an error about this datagram is forbidden (RFC 1122
 * 3.2.2): it was an ICMP error, a broadcast, from a non-unicast source,
 * or a non-first fragment. */
static bool icmp_error_forbidden(struct floo_stack *st, const uint8_t *ip, uint32_t ip_len)
{
	uint32_t hlen = (uint32_t)(ip[0] & 0xf) * 4;
	uint32_t src = get_be32(ip + 12), dst = get_be32(ip + 16);

	if (!st->ip || !ipv4_is_local(st, dst) || src == 0 || ipv4_is_bcast(st, src) ||
	    (get_be16(ip + 6) & 0x1fff))
		return true;
	if (ip[9] == IP_PROTO_ICMP) {
		const uint8_t t = ip_len > hlen ? ip[hlen] : 0;

		return t != ICMP_ECHO && t != ICMP_ECHO_REPLY;
	}
	return false;
}

/* Send an error quoting the offending header and 8 payload bytes. */
void icmp_send_error(struct floo_stack *st, uint8_t type, uint8_t code, const uint8_t *ip,
                     uint32_t ip_len)
{
	uint32_t hlen = (uint32_t)(ip[0] & 0xf) * 4;
	uint32_t quote = hlen + 8 < ip_len ? hlen + 8 : ip_len;

	if (icmp_error_forbidden(st, ip, ip_len))
		return;
	if (st->now_ns >= st->icmp_refill_ns) {
		st->icmp_tokens = ICMP_TOKENS;
		st->icmp_refill_ns = st->now_ns + ICMP_REFILL_NS;
	}
	if (!st->icmp_tokens)
		return;
	st->icmp_tokens--;
	st->stats.icmp_errors_sent++;
	icmp_send(st, get_be32(ip + 12), type, code, 0, ip, quote);
}
