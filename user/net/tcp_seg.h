/* A parsed incoming TCP segment (tcp_in.c, tcp_input.c). */
#ifndef FLOO_TCP_SEG_H
#define FLOO_TCP_SEG_H

#include "tcp.h"

struct tcp_seg {
	uint32_t seq, ack, len, wnd;
	uint32_t tsval, tsecr;
	uint16_t mss;
	uint8_t flags, ws;
	bool has_mss, has_ws, has_ts, sack_ok;
	uint8_t nsack;
	bool piece; /* a piece of a coalesced frame: its caller arranges the ACK */
	struct tcp_range sack[TCP_SACK_BLOCKS];
	uint8_t *payload;
};

/* Parse options; false if malformed. */
bool tcp_parse_options(const uint8_t *o, uint32_t n, struct tcp_seg *s);
/* Synchronized-state processing (RFC 9293 3.10.7.4). Consumes pb. */
void tcp_segment(struct floo_tcp *c, struct floo_pbuf *pb, struct tcp_seg *s);
/* Deliver in-order payload and FIN; consumes pb (may be NULL). */
void tcp_data(struct floo_tcp *c, struct floo_pbuf *pb, struct tcp_seg *s);
/* Apply the peer's SYN options (MSS, window scale, timestamps). */
void tcp_syn_options(struct floo_tcp *c, const struct tcp_seg *s);

#endif
