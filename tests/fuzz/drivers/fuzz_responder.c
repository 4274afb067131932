/*
 * libFuzzer target: netecho's responder on any received frame. Input:
 *   byte 0   flags: 1 checksum trusted (as with NETDEV_BUF_CSUM_VALID),
 *            2 checksum offload, 4 fix the IPv4 and ICMP checksums first
 *            (so the fuzzer gets past them)
 *   rest     the frame, in a buffer of exactly its size.
 * Checked: no read or write outside the frame (ASan), a reply never longer
 * than the request, and an echo reply whose checksums are right.
 */
#include <stdlib.h>
#include <string.h>

#include "responder.h"

static void fix_checksums(uint8_t *f, size_t len)
{
	if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
		return;
	uint8_t *ip = f + 14;
	size_t ihl = (size_t)(ip[0] & 15) * 4, tot = (size_t)(ip[2] << 8 | ip[3]);
	if (ihl < 20 || 14 + ihl > len)
		return;
	ip[10] = ip[11] = 0;
	uint16_t c = responder_cksum(ip, (uint32_t)ihl);
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	if (tot >= ihl + 4 && 14 + tot <= len) {
		uint8_t *icmp = ip + ihl;
		icmp[2] = icmp[3] = 0;
		c = responder_cksum(icmp, (uint32_t)(tot - ihl));
		icmp[2] = (uint8_t)(c >> 8), icmp[3] = (uint8_t)c;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 + 65535)
		return 0;
	struct responder r = {.mac = {0x52, 0x54, 0, 0x12, 0x34, 0x56}, .ip = {198, 18, 0, 2}};
	uint16_t len = (uint16_t)(size - 1), out = 0;
	uint8_t *f = malloc(len ? len : 1);
	struct responder_csum cs;

	memcpy(f, data + 1, len);
	r.csum_offload = data[0] & 2;
	if (data[0] & 4)
		fix_checksums(f, len);
	enum responder_verdict v = responder_reply(&r, f, len, data[0] & 1, &out, &cs);
	if (v != RESP_DROP && (out > len || out < 42))
		abort();
	if (v == RESP_ECHO_REPLY) {
		const uint8_t *ip = f + 14;
		if (responder_cksum(ip, (uint32_t)(ip[0] & 15) * 4) != 0)
			abort(); /* the IP header checksum we wrote */
		if (!r.csum_offload && !(data[0] & 1) &&
		    responder_cksum(f + cs.start, (uint32_t)(out - cs.start)) != 0)
			abort(); /* the ICMP checksum of a reply to a request whose checksum was
			            right */
	}
	if (r.arp + r.echo + r.dropped != 1)
		abort();
	free(f);
	return 0;
}
