/* netecho's responder (user/apps/netecho/responder.c): ARP and echo replies made in place, and what
 * it drops. */
#include <stdlib.h>
#include <string.h>

#include "ktharness.h"
#include "responder.h"

static const uint8_t our_mac[6] = {0x52, 0x54, 0, 0x12, 0x34, 0x56},
                     peer_mac[6] = {2, 0, 0, 0, 0, 1};
static const uint8_t our_ip[4] = {198, 18, 0, 2}, peer_ip[4] = {198, 18, 0, 1};

static struct responder resp(void)
{
	struct responder r = {0};
	memcpy(r.mac, our_mac, 6);
	memcpy(r.ip, our_ip, 4);
	return r;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static uint16_t arp_request(uint8_t *f, const uint8_t *target)
{
	memset(f, 0xff, 6), memcpy(f + 6, peer_mac, 6), put16(f + 12, 0x0806);
	uint8_t *a = f + 14;
	put16(a, 1), put16(a + 2, 0x0800), a[4] = 6, a[5] = 4, put16(a + 6, 1);
	memcpy(a + 8, peer_mac, 6), memcpy(a + 14, peer_ip, 4), memset(a + 18, 0, 6),
	    memcpy(a + 24, target, 4);
	return 42;
}

/* An echo request with `data` payload bytes, checksums right. */
static uint16_t echo_request(uint8_t *f, uint16_t data)
{
	memcpy(f, our_mac, 6), memcpy(f + 6, peer_mac, 6), put16(f + 12, 0x0800);
	uint8_t *ip = f + 14, *icmp = ip + 20;
	memset(ip, 0, 20);
	ip[0] = 0x45, put16(ip + 2, (uint16_t)(20 + 8 + data)), put16(ip + 4, 0x1234),
	put16(ip + 6, 0x4000);
	ip[8] = 63, ip[9] = 1, memcpy(ip + 12, peer_ip, 4), memcpy(ip + 16, our_ip, 4);
	put16(ip + 10, responder_cksum(ip, 20));
	icmp[0] = 8, icmp[1] = 0, put16(icmp + 2, 0), put16(icmp + 4, 0x4242), put16(icmp + 6, 7);
	for (uint16_t i = 0; i < data; i++)
		icmp[8 + i] = (uint8_t)(i * 7);
	put16(icmp + 2, responder_cksum(icmp, 8u + data));
	return (uint16_t)(14 + 20 + 8 + data);
}

KT_CASE(responder_answers_an_arp_request_for_its_address)
{
	struct responder r = resp();
	uint8_t f[64];
	uint16_t len = arp_request(f, our_ip), out = 0;
	struct responder_csum cs;

	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_ARP_REPLY && out == 42);
	CHECK_MSG(!memcmp(f, peer_mac, 6) && !memcmp(f + 6, our_mac, 6), "Ethernet addresses");
	CHECK_MSG(f[20] == 0 && f[21] == 2, "op reply");
	CHECK_MSG(!memcmp(f + 22, our_mac, 6) && !memcmp(f + 28, our_ip, 4), "sender = us");
	CHECK_MSG(!memcmp(f + 32, peer_mac, 6) && !memcmp(f + 38, peer_ip, 4),
	          "target = the requester");
	CHECK_MSG(r.arp == 1 && r.dropped == 0);
}

KT_CASE(responder_ignores_arp_for_another_address_or_a_reply)
{
	struct responder r = resp();
	uint8_t f[64], other[4] = {198, 18, 0, 3};
	uint16_t out;
	struct responder_csum cs;

	CHECK_MSG(responder_reply(&r, f, arp_request(f, other), false, &out, &cs) == RESP_DROP);
	arp_request(f, our_ip);
	f[21] = 2; /* a reply, not a request */
	CHECK_MSG(responder_reply(&r, f, 42, false, &out, &cs) == RESP_DROP);
	CHECK_MSG(r.arp == 0 && r.dropped == 2);
}

static bool valid_echo_reply(const uint8_t *f, uint16_t data)
{
	const uint8_t *ip = f + 14, *icmp = ip + 20;
	bool payload = true;

	for (uint16_t i = 0; i < data; i++)
		payload &= icmp[8 + i] == (uint8_t)(i * 7);
	return !memcmp(f, peer_mac, 6) && !memcmp(f + 6, our_mac, 6) &&
	       !memcmp(ip + 12, our_ip, 4) && !memcmp(ip + 16, peer_ip, 4) &&
	       responder_cksum(ip, 20) == 0 && icmp[0] == 0 && icmp[4] == 0x42 && icmp[7] == 7 &&
	       payload && responder_cksum(icmp, 8u + data) == 0;
}

KT_CASE(responder_answers_echo_at_every_size_up_to_1472)
{
	static const uint16_t sizes[] = {0, 1, 56, 1000, 1471, 1472};
	uint8_t *f = malloc(1514);

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct responder r = resp();
		uint16_t out = 0, len = echo_request(f, sizes[i]);
		struct responder_csum cs;
		CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_ECHO_REPLY &&
		              out == len,
		          "size %u", sizes[i]);
		CHECK_MSG(valid_echo_reply(f, sizes[i]) && !cs.needed, "size %u", sizes[i]);
	}
	free(f);
}

KT_CASE(responder_echo_reply_trims_ethernet_padding)
{
	struct responder r = resp();
	uint8_t f[60] = {0};
	uint16_t out = 0;
	struct responder_csum cs;

	echo_request(f, 0); /* 42 bytes, padded to 60 on the wire */
	CHECK_MSG(responder_reply(&r, f, 60, false, &out, &cs) == RESP_ECHO_REPLY && out == 42,
	          "out %u", out);
}

KT_CASE(responder_leaves_the_icmp_checksum_to_the_device_with_offload)
{
	struct responder r = resp();
	uint8_t f[200];
	uint16_t out, len = echo_request(f, 100);
	struct responder_csum cs;

	r.csum_offload = true;
	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_ECHO_REPLY);
	CHECK_MSG(cs.needed && cs.start == 34 && cs.offset == 2 && f[36] == 0 && f[37] == 0);
	uint16_t sum =
	    responder_cksum(f + cs.start, (uint32_t)(out - cs.start)); /* what the device stores */
	put16(f + cs.start + cs.offset, sum);
	CHECK_MSG(valid_echo_reply(f, 100));
}

KT_CASE(responder_drops_bad_echo_requests)
{
	struct responder r = resp();
	uint8_t f[200];
	uint16_t out, len;
	struct responder_csum cs;

	len = echo_request(f, 20), f[14 + 10] ^= 1; /* IP header checksum */
	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_DROP);
	len = echo_request(f, 20), f[42] ^= 1; /* ICMP checksum */
	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_DROP);
	len = echo_request(f, 20), f[42] ^= 1;
	CHECK_MSG(responder_reply(&r, f, len, true, &out, &cs) == RESP_ECHO_REPLY,
	          "checksum trusted: the device checked it");
	len = echo_request(f, 20);
	CHECK_MSG(responder_reply(&r, f, (uint16_t)(len - 1), false, &out, &cs) == RESP_DROP,
	          "IP length beyond the frame");
	len = echo_request(f, 20), put16(f + 14 + 6, 0x2000), put16(f + 24, 0),
	put16(f + 24, responder_cksum(f + 14, 20));
	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_DROP,
	          "a first fragment (MF)");
	len = echo_request(f, 20), memcpy(f, peer_mac, 6);
	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_DROP, "not our MAC");
	len = echo_request(f, 20), f[14] = 0x44;
	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_DROP, "IHL 4");
	len = echo_request(f, 20), f[34] = 0, put16(f + 36, 0),
	put16(f + 36, responder_cksum(f + 34, 28));
	CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_DROP,
	          "an echo reply is not answered");
	CHECK_MSG(r.echo == 1 && r.dropped == 7, "echo %lu dropped %lu", (unsigned long)r.echo,
	          (unsigned long)r.dropped);
}

/* Every truncation of a valid request, in a buffer of exactly that size: ASan sees any read past
 * it. */
KT_CASE(responder_reads_nothing_past_a_truncated_frame)
{
	uint8_t full[1514];
	uint16_t n = echo_request(full, 1472), out;
	struct responder_csum cs;

	for (uint16_t len = 0; len <= n; len++) {
		struct responder r = resp();
		uint8_t *f = malloc(len ? len : 1);
		memcpy(f, full, len);
		enum responder_verdict v = responder_reply(&r, f, len, false, &out, &cs);
		CHECK_MSG(v == (len == n ? RESP_ECHO_REPLY : RESP_DROP), "len %u", len);
		free(f);
	}
	arp_request(full, our_ip);
	for (uint16_t len = 0; len < 42; len++) {
		struct responder r = resp();
		uint8_t *f = malloc(len ? len : 1);
		memcpy(f, full, len);
		CHECK_MSG(responder_reply(&r, f, len, false, &out, &cs) == RESP_DROP, "arp len %u",
		          len);
		free(f);
	}
}

KT_CASE(responder_parse_ip)
{
	uint8_t ip[4];

	CHECK_MSG(responder_parse_ip("198.18.0.2", 10, ip) && ip[0] == 198 && ip[3] == 2);
	CHECK_MSG(!responder_parse_ip("198.18.0", 8, ip));
	CHECK_MSG(!responder_parse_ip("198.18.0.256", 12, ip));
	CHECK_MSG(!responder_parse_ip("1.2.3.4.5", 9, ip));
	CHECK_MSG(!responder_parse_ip("1..3.4", 6, ip));
	CHECK_MSG(!responder_parse_ip("1.2.3.4x", 8, ip));
	CHECK_MSG(!responder_parse_ip("", 0, ip));
	CHECK_MSG(!responder_parse_ip("0001.2.3.4", 10, ip));
}
