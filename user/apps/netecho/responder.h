/*
 * A tiny ARP and ICMP echo responder (not Floo): it turns a received
 * Ethernet frame, in place, into the reply to send, or says to drop it.
 * Pure and freestanding, so tests/host/drivers tests and fuzzes it.
 */
#ifndef NETECHO_RESPONDER_H
#define NETECHO_RESPONDER_H

#include <stdbool.h>
#include <stdint.h>

struct responder {
	uint8_t mac[6];
	uint8_t ip[4];
	bool csum_offload; /* leave the ICMP checksum to the device (see responder_reply) */
	uint64_t arp, echo, dropped; /* replies made; frames not answered */
};

enum responder_verdict {
	RESP_DROP = 0,
	RESP_ARP_REPLY = 1,
	RESP_ECHO_REPLY = 2,
};

/* The reply's checksum request for the device (csum_offload): where to start summing and where to
 * store. */
struct responder_csum {
	bool needed;
	uint16_t start, offset;
};

/*
 * Look at frame[0..len) (checksums verified unless csum_trusted); if it is
 * an ARP request for r->ip or an echo request to it, rewrite it into the
 * reply and set *out_len. Never reads or writes outside frame[0..len).
 */
enum responder_verdict responder_reply(struct responder *r, uint8_t *frame, uint16_t len,
                                       bool csum_trusted, uint16_t *out_len,
                                       struct responder_csum *csum);

/* The Internet checksum (RFC 1071) of n bytes, folded and complemented. */
uint16_t responder_cksum(const uint8_t *p, uint32_t n);

/* "a.b.c.d" -> ip; false if malformed. */
bool responder_parse_ip(const char *s, uint32_t n, uint8_t ip[4]);

#endif
