/*
 * Floo internals shared by the protocol files. Not part of the API.
 *
 * Ownership rule: every *_input() function takes ownership of the pbuf it is
 * given and either frees it, queues it, or hands it to the application.
 */
#ifndef FLOO_INTERNAL_H
#define FLOO_INTERNAL_H

#include "floo/floo.h"

#include <lib/bytes.h>
#include <lib/string.h>

#define FLOO_ARP_N      64
#define FLOO_UDP_N      16
#define FLOO_LISTEN_N   16
#define FLOO_TX_BATCH   64
#define FLOO_TX_SLOT    2048u
#define FLOO_RX_BATCH   32
#define FLOO_SOCK_N     8
#define FLOO_SOCK_BUF   16384u
#define FLOO_FRAG_BYTES 65536u
#define FLOO_MTU        1500u

#define ETH_HLEN      14
#define ETH_P_IP      0x0800
#define ETH_P_ARP     0x0806
#define IP_PROTO_ICMP 1
#define IP_PROTO_TCP  6
#define IP_PROTO_UDP  17

/* ---- byte order (lib/bytes.h) and checksums (util.c) ---- */

/* Partial one's complement sum (not folded) of len bytes. */
uint32_t floo_csum_add(uint32_t sum, const void *data, uint32_t len);
uint32_t floo_pbuf_chain_len(const struct floo_pbuf *pb);
uint16_t floo_csum_fold(uint32_t sum);
uint32_t floo_csum_add_at(uint32_t sum, const void *data, uint32_t len, uint32_t pos);
uint32_t floo_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len);

/* Sequence-number comparisons modulo 2^32. */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}
static inline bool seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}
static inline bool seq_gt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}
static inline bool seq_geq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) >= 0;
}

/* ---- the stack ---- */
struct arp_entry {
	uint32_t ip;
	uint8_t mac[6];
	uint8_t state; /* 0 free, 1 pending, 2 resolved, 3 stale (probing) */
	uint8_t tries;
	uint64_t expires_ns; /* resolved: stale after; pending: retry at */
};

struct udp_bind {
	uint16_t port;
	floo_udp_cb cb;
	void *arg;
};

struct tcp_listener {
	uint16_t port;
	uint16_t pending; /* half-open children */
	floo_tcp_cb cb;
	void *user;
};

struct ip_frag_slot;
struct floo_sock;
struct dhcp_state;

struct floo_stack {
	struct floo_platform plat;
	struct floo_config cfg;
	uint8_t mac[6];
	uint32_t ip, mask, gw; /* host order */
	uint64_t now_ns;       /* clock sampled once per poll */
	uint32_t now_ms;
	struct floo_stats stats;

	/* packet buffer pool */
	struct floo_pbuf *pb_meta;
	uint8_t *pb_mem;
	struct floo_pbuf *pb_free;
	uint32_t pb_nfree;

	/* transmit batch */
	uint8_t *tx_arena;
	struct floo_txframe tx[FLOO_TX_BATCH];
	unsigned tx_n;

	struct arp_entry arp[FLOO_ARP_N];
	struct udp_bind udp[FLOO_UDP_N];
	struct tcp_listener listen[FLOO_LISTEN_N];

	struct ip_frag_slot *frag;
	uint8_t *frag_out; /* reassembled datagram */
	uint16_t ip_id;

	/* TCP */
	struct floo_tcp *tcp; /* cfg.n_tcp slots */
	uint32_t *tcp_hash;   /* bucket heads, index+1 */
	uint32_t tcp_hash_mask;
	struct floo_tcp *tcp_free;
	uint32_t tcp_used;
	struct floo_tcp *tcp_dirty; /* connections with output pending */
	uint32_t iss_secret;
	uint16_t eph_next;
	uint32_t *theap; /* min-heap of connection indices by t_key */
	uint32_t theap_n;
	uint64_t misc_tick_ns;     /* next ARP/fragment/DHCP timer scan */
	uint32_t challenge_tokens; /* RFC 5961 rate limit */
	uint64_t challenge_refill_ns;
	uint32_t icmp_tokens;
	uint64_t icmp_refill_ns;

	struct floo_sock *socks;
	struct dhcp_state *dhcp;
};

/* logging/drops (stack.c) */
void floo_log(struct floo_stack *st, int level, const char *ev, uint64_t v);
void floo_drop(struct floo_stack *st, uint64_t *counter, const char *why, struct floo_pbuf *pb);

/* transmit (stack.c): reserve a frame whose iov[0] is an arena slot of
 * FLOO_TX_SLOT bytes; returns NULL when the batch cannot be flushed. */
struct floo_txframe *floo_tx_frame(struct floo_stack *st, uint8_t **buf);
void floo_tx_flush(struct floo_stack *st);

/* link layer */
void eth_input(struct floo_stack *st, struct floo_pbuf *pb);
const uint8_t *eth_next_hop(struct floo_stack *st, uint32_t dst_ip);
void eth_header(struct floo_stack *st, uint8_t *frame, const uint8_t *dst, uint16_t type);

void arp_input(struct floo_stack *st, struct floo_pbuf *pb);
const uint8_t *arp_lookup(struct floo_stack *st, uint32_t ip);
void arp_learn(struct floo_stack *st, uint32_t ip, const uint8_t *mac, bool create);
void arp_timer(struct floo_stack *st);
/* Earliest ARP deadline (absolute ns), 0 when none. */
uint64_t arp_next_ns(const struct floo_stack *st);

/* IPv4 */
void ipv4_input(struct floo_stack *st, struct floo_pbuf *pb);
/* Write a 20-byte IPv4 header at hdr; returns header length. */
uint32_t ipv4_header(struct floo_stack *st, uint8_t *hdr, uint32_t src, uint32_t dst, uint8_t proto,
                     uint32_t payload_len);
/* Deliver a parsed IPv4 payload to its protocol. ip points at the header. */
void ipv4_deliver(struct floo_stack *st, struct floo_pbuf *pb, const uint8_t *ip, uint8_t *payload,
                  uint32_t len);
bool ipv4_is_local(struct floo_stack *st, uint32_t dst);
bool ipv4_is_bcast(struct floo_stack *st, uint32_t dst);

void ip_frag_init(struct floo_stack *st, void *mem);
size_t ip_frag_mem_size(const struct floo_config *cfg);
/* Take a fragment; returns the reassembled length (datagram written to
 * st->frag_out, header included) or 0 when incomplete/invalid. */
uint32_t ip_frag_input(struct floo_stack *st, const uint8_t *ip, uint32_t hlen, uint32_t total);
void ip_frag_timer(struct floo_stack *st);
uint64_t ip_frag_next_ns(const struct floo_stack *st);

void icmp_input(struct floo_stack *st, const uint8_t *ip, uint8_t *icmp, uint32_t len);
/* Send a destination-unreachable / time-exceeded about datagram ip. */
void icmp_send_error(struct floo_stack *st, uint8_t type, uint8_t code, const uint8_t *ip,
                     uint32_t ip_len);

void udp_input(struct floo_stack *st, const uint8_t *ip, uint8_t *udp, uint32_t len, bool csum_ok);
int udp_send_from(struct floo_stack *st, uint32_t src_ip, uint16_t src_port, uint32_t dst_ip,
                  uint16_t dst_port, const void *data, uint32_t len);

/* TCP (tcp*.c) */
size_t tcp_mem_size(const struct floo_config *cfg);
void tcp_init(struct floo_stack *st, void *mem);
void tcp_input(struct floo_stack *st, struct floo_pbuf *pb, const uint8_t *ip, uint8_t *tcp,
               uint32_t len);
void tcp_timer(struct floo_stack *st);
/* Earliest heap key (absolute ns), 0 when no connection has a timer;
 * stale keys at the top are first corrected. */
uint64_t tcp_timer_next(struct floo_stack *st);
void tcp_flush_dirty(struct floo_stack *st);
/* Next hop ip just resolved: resend SYNs that could not leave. */
void tcp_arp_resolved(struct floo_stack *st, uint32_t ip);

/* DHCP */
size_t dhcp_mem_size(void);
void dhcp_init(struct floo_stack *st, void *mem);
void dhcp_input(struct floo_stack *st, const uint8_t *data, uint32_t len);
void dhcp_timer(struct floo_stack *st);
uint64_t dhcp_next_ns(const struct floo_stack *st);

/* sockets */
size_t sock_mem_size(void);
void sock_init(struct floo_stack *st, void *mem);

#endif
