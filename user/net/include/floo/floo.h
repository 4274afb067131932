/*
 * Floo: a user-level TCP/IP stack (Ethernet, ARP, IPv4, ICMP, UDP, TCP,
 * DHCP client). Single-threaded, run to completion: the owner calls
 * floo_poll() in a loop; all callbacks run inside floo_poll().
 *
 * Memory: floo_mem_size(cfg) bytes handed to floo_stack_init(); nothing else
 * is ever allocated. See docs/net.md for the per-connection budget.
 */
#ifndef FLOO_H
#define FLOO_H

#include "floo_platform.h"

#define FLOO_PBUF_SIZE     2048u /* bytes per packet buffer: the default (floo_config.pbuf_size) */
#define FLOO_PBUF_SIZE_MAX 16384u
#define FLOO_PBUF_HEADROOM 64u

/* A packet buffer. Received TCP data is handed to the application in the
 * very buffer it arrived in: data/len describe the payload. */
struct floo_pbuf {
	struct floo_pbuf *next; /* queue link, owned by whoever holds it */
	uint8_t *data;          /* first valid byte */
	uint32_t len;           /* valid bytes */
	uint32_t seq;           /* TCP: sequence number of data[0] */
	uint16_t flags;         /* FLOO_PB_* */
	uint16_t owner_gen;     /* TCP receive accounting, see tcp.c */
	uint32_t owner;         /* TCP connection index + 1, or 0 */
	uint8_t *base;          /* start of the buffer */
	/* Receive coalescing (FLOO_CAP_RX_CHAIN): the rest of a TCP/IPv4 frame
	 * larger than one buffer, in order; the first buffer holds every header.
	 * Floo splits such a frame into one DATA buffer per piece; freeing the
	 * first frees the chain. NULL otherwise. */
	struct floo_pbuf *frag;
};

#define FLOO_PB_FIN     0x1u    /* TCP: a FIN follows this segment's data */
#define FLOO_PB_CSUM_OK 0x2u    /* NIC verified the L4 checksum */
#define FLOO_PB_INPOOL  0x8000u /* internal: buffer is free */

#define FLOO_TCP_SNDQ_MAX 1024u

/* Sizing of the stack; zero fields take defaults (floo_config_default). */
struct floo_config {
	uint32_t n_pbufs;        /* packet buffers in the pool */
	uint32_t n_tcp;          /* TCP connection slots */
	uint32_t tcp_rcv_buf;    /* receive window per connection, bytes */
	uint32_t tcp_rcv_pbufs;  /* max buffers held per connection */
	uint32_t tcp_msl_ms;     /* maximum segment lifetime (TIME_WAIT=2*MSL) */
	uint32_t tcp_rto_min_ms; /* lower bound of the RTO */
	uint32_t tcp_keep_idle_ms;
	uint32_t tcp_keep_intvl_ms;
	uint32_t tcp_keep_cnt;
	uint32_t tcp_backlog; /* half-open connections per listener */
	uint32_t n_frag;      /* IPv4 reassembly slots (64 KiB each) */
	uint32_t tcp_sndq;    /* send references per connection (<= 1024) */
	uint32_t tcp_cc;      /* congestion control: FLOO_CC_CUBIC or FLOO_CC_BBR */
	uint32_t tcp_pacing;  /* BBR's pacing: FLOO_PACING_ON or _OFF (the default) */
	/* bytes per packet buffer: a power of two from FLOO_PBUF_SIZE (the
	 * default) to FLOO_PBUF_SIZE_MAX; larger buffers for a platform whose NIC
	 * fills them whole (coalesced receive over mergeable buffers) mean fewer
	 * buffers per byte received. floo_stack_init refuses any other size. */
	uint32_t pbuf_size;
};
#define FLOO_CC_CUBIC   1u /* loss-based: RFC 9438; without SACK always */
#define FLOO_CC_BBR     2u /* model-based: BBR (SACK connections; the default) */
#define FLOO_PACING_ON  1u /* BBR spreads each window over the RTT */
#define FLOO_PACING_OFF 2u /* BBR sends what cwnd allows at once (as CUBIC) */

void floo_config_default(struct floo_config *cfg);
size_t floo_mem_size(const struct floo_config *cfg);

/* Create a stack in mem (floo_mem_size bytes, 64-byte aligned). */
struct floo_stack *floo_stack_init(void *mem, size_t size, const struct floo_config *cfg,
                                   const struct floo_platform *plat, const uint8_t mac[6]);
/* Static IPv4 configuration; addresses in host byte order. gw may be 0. */
void floo_set_ipv4(struct floo_stack *st, uint32_t addr, uint32_t mask, uint32_t gw);
uint32_t floo_get_ipv4(const struct floo_stack *st);
/* Receive a batch, process it, run timers, flush transmits.
 * Returns the number of frames received. */
unsigned floo_poll(struct floo_stack *st);
/* The next timer's deadline (absolute, the platform's now_ns clock), or
 * FLOO_NO_DEADLINE when nothing is timed: a host may sleep until then or
 * until a frame arrives. Idle TCP connections with no timer armed (no
 * data in flight, no delayed ACK, keep-alive off) add none. */
#define FLOO_NO_DEADLINE UINT64_MAX
uint64_t floo_next_deadline(struct floo_stack *st);
/* Nanoseconds until floo_next_deadline(), capped at max_ns. */
uint64_t floo_next_timer_ns(struct floo_stack *st, uint64_t max_ns);

/* Packet buffers. */
struct floo_pbuf *floo_pbuf_alloc(struct floo_stack *st);
void floo_pbuf_free(struct floo_stack *st, struct floo_pbuf *pb);
uint32_t floo_pbuf_free_count(const struct floo_stack *st);
uint32_t floo_config_pbufs(const struct floo_stack *st);
/* Bytes per packet buffer (floo_config.pbuf_size); data starts FLOO_PBUF_HEADROOM in. */
uint32_t floo_pbuf_size(const struct floo_stack *st);

/* Counters (also logged at debug level when a packet is dropped). */
struct floo_stats {
	uint64_t rx_frames, tx_frames, tx_dropped;
	uint64_t drop_eth, drop_arp, drop_ip, drop_ip_csum, drop_frag;
	uint64_t drop_icmp, drop_udp, drop_udp_csum, drop_tcp, drop_tcp_csum;
	uint64_t drop_nobuf, drop_noroute;
	uint64_t arp_requests, arp_replies, icmp_echo, icmp_errors_sent;
	uint64_t frag_reassembled, frag_timeouts;
	uint64_t tcp_accepts, tcp_resets_sent, tcp_retransmits, tcp_fast_retrans;
	uint64_t tcp_timeouts, tcp_challenge_acks, tcp_ooo_segs, tcp_dup_segs;
	uint64_t tcp_rx_coalesced; /* coalesced frames received (FLOO_CAP_RX_CHAIN) */
	uint64_t tcp_zwp_sent, tcp_keepalives, tcp_conn_drops;
	uint64_t drop_vnet; /* received virtio-net headers refused */
	uint64_t tcp_loss_probes, tcp_rack_lost, tcp_dsacks, tcp_undos;
	uint64_t tcp_dsacks_ignored; /* of no retransmission we remember */
	/* probes sent while repairing (recovery, or going back after an
	 * RTO) after a PTO of silence: a lost retransmission at the tail */
	uint64_t tcp_repair_probes;
	/* loss recovery: episodes entered, milliseconds spent in them, RTOs
	 * that ended one; cwnd summed at each new ACK (mean = sum / acks) */
	uint64_t tcp_recoveries, tcp_recovery_ms, tcp_rto_in_recovery;
	uint64_t tcp_cwnd_sum, tcp_cwnd_acks;
};
const struct floo_stats *floo_stats(const struct floo_stack *st);

/* ---- ARP ---- */
void floo_arp_announce(struct floo_stack *st); /* gratuitous ARP */

/* ---- UDP ---- */
/* data/len: payload; src addresses in host order. The buffer is only
 * valid during the call. */
typedef void (*floo_udp_cb)(struct floo_stack *st, void *arg, uint32_t src_ip, uint16_t src_port,
                            uint16_t dst_port, const uint8_t *data, uint32_t len);
int floo_udp_bind(struct floo_stack *st, uint16_t port, floo_udp_cb cb, void *arg);
void floo_udp_unbind(struct floo_stack *st, uint16_t port);
/* Copies data into a frame; returns 0 or a negative FLOO_E*. */
int floo_udp_send(struct floo_stack *st, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port,
                  const void *data, uint32_t len);

/* ---- TCP, event interface ---- */
struct floo_tcp;

enum floo_tcp_event_type {
	FLOO_TCP_ACCEPTED,  /* passive open completed (listener's callback) */
	FLOO_TCP_CONNECTED, /* active open completed */
	FLOO_TCP_DATA,      /* pbuf holds in-order data; release it later */
	FLOO_TCP_SENT,      /* a send reference is no longer needed */
	FLOO_TCP_PEER_FIN,  /* peer closed its side; no more DATA */
	FLOO_TCP_CLOSED,    /* last event; err is 0 or FLOO_E* */
};

struct floo_tcp_event {
	enum floo_tcp_event_type type;
	struct floo_pbuf *pb; /* DATA */
	void *cookie;         /* SENT */
	int err;              /* CLOSED */
};

typedef void (*floo_tcp_cb)(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev);

#define FLOO_EAGAIN       (-11)
#define FLOO_EINVAL       (-22)
#define FLOO_ENOMEM       (-12)
#define FLOO_ENOTCONN     (-107)
#define FLOO_ECONNRESET   (-104)
#define FLOO_ETIMEDOUT    (-110)
#define FLOO_ECONNREFUSED (-111)
#define FLOO_EADDRINUSE   (-98)

int floo_tcp_listen(struct floo_stack *st, uint16_t port, floo_tcp_cb cb, void *user);
/* Stop listening; half-open connections of the port are reset. */
void floo_tcp_listen_close(struct floo_stack *st, uint16_t port);
struct floo_tcp *floo_tcp_connect(struct floo_stack *st, uint32_t dst_ip, uint16_t dst_port,
                                  floo_tcp_cb cb, void *user);
void floo_tcp_set_user(struct floo_tcp *c, floo_tcp_cb cb, void *user);
/* Queue len bytes at data by reference; SENT(cookie) fires once the peer
 * acknowledged them (or the connection died). FLOO_EAGAIN when the
 * reference queue is full. */
int floo_tcp_send(struct floo_tcp *c, const void *data, uint32_t len, void *cookie);
/* Free slots in the reference queue, and bytes queued but not acked. */
unsigned floo_tcp_send_slots(const struct floo_tcp *c);
uint32_t floo_tcp_unacked(const struct floo_tcp *c);
/* Hand a DATA buffer back: frees it and opens the receive window. */
void floo_tcp_release(struct floo_stack *st, struct floo_pbuf *pb);
/* floo_tcp_release of every DATA buffer of a list linked by next (one connection's, in any
 * order): the receive window's accounting once for all. */
void floo_tcp_release_list(struct floo_stack *st, struct floo_pbuf *pb);
/*
 * A socket layer's queue of received DATA buffers, read from the front
 * (user/net/socket.c and the Linux personality's sockets share it). The
 * buffers stay held until consumed, so the unread bytes are the receive
 * window. Zero-initialised is empty.
 */
struct floo_rxq {
	struct floo_pbuf *head, *tail;
	uint32_t off;   /* bytes of head already read */
	uint32_t bytes; /* unread bytes in all */
};
void floo_rxq_push(struct floo_rxq *q, struct floo_pbuf *pb);
/* Hand up to n unread bytes from the front to put (at: their offset from the front), run by
 * run, without consuming them: the bytes put took, stopping at put's first non-zero result. */
uint32_t floo_rxq_copy(const struct floo_rxq *q, uint32_t n,
                       int (*put)(void *ctx, uint32_t at, const uint8_t *src, uint32_t len),
                       void *ctx);
/* The first n unread bytes are read: buffers read through go back (floo_tcp_release). */
void floo_rxq_consume(struct floo_stack *st, struct floo_rxq *q, uint32_t n);
/* Every buffer goes back; the queue is empty. */
void floo_rxq_release(struct floo_stack *st, struct floo_rxq *q);
/* Send FIN after queued data (graceful). */
void floo_tcp_close(struct floo_tcp *c);
/* Send RST and drop the connection now. */
void floo_tcp_abort(struct floo_tcp *c);
/* Enable keep-alive probes with the stack's configured timings. */
void floo_tcp_keepalive(struct floo_tcp *c, bool on);
int floo_tcp_state(const struct floo_tcp *c);
struct floo_stack *floo_tcp_stack(const struct floo_tcp *c);
const char *floo_tcp_state_name(int state);
uint32_t floo_tcp_count(const struct floo_stack *st);
/* The connection's local and remote addresses and ports (host byte order). */
void floo_tcp_addrs(const struct floo_tcp *c, uint32_t *lip, uint16_t *lport, uint32_t *rip,
                    uint16_t *rport);

/* ---- DHCP client ---- */
/* Start DHCP (DISCOVER); the address is applied when ACKed. */
void floo_dhcp_start(struct floo_stack *st);
bool floo_dhcp_bound(const struct floo_stack *st);

/* ---- blocking socket-like interface (socket.c) ----
 * For simple single-threaded programs: each call runs floo_poll() until it
 * can complete or timeout_ms passes. */
struct floo_sock;
struct floo_sock *floo_sock_connect(struct floo_stack *st, uint32_t ip, uint16_t port,
                                    uint32_t timeout_ms);
struct floo_sock *floo_sock_listen(struct floo_stack *st, uint16_t port);
struct floo_sock *floo_sock_accept(struct floo_sock *ls, uint32_t timeout_ms);
/* Copying send/recv; recv returns 0 at end of stream, <0 FLOO_E*. */
int floo_sock_send(struct floo_sock *s, const void *buf, uint32_t len, uint32_t timeout_ms);
int floo_sock_recv(struct floo_sock *s, void *buf, uint32_t len, uint32_t timeout_ms);
void floo_sock_close(struct floo_sock *s);

#endif
