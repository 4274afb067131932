/*
 * Host unit-test harness for Floo: a fake platform with a manual clock,
 * frame queues between two stacks (with a per-frame filter to drop,
 * reorder or inspect), raw frame builders. The cases run on the host harness
 * (tests/host/kernel/ktharness.h): KT_CASE(name), CHECK.
 */
#ifndef NET_HARNESS_H
#define NET_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktharness.h"
#include "floo_internal.h"
#include "floo/floo_vnet.h"
#include "tcp.h"

#define QMAX 8192

struct frame {
	uint32_t len;
	bool has_vh; /* vh came with the frame (a virtio-net receive) */
	uint8_t vh[FLOO_VNET_HDR_LEN];
	uint8_t b[2048];
};

struct fqueue {
	struct frame *f;
	unsigned head, n;
};

struct node;
/* Return false to drop the frame (it may also be modified). */
typedef bool (*frame_filter)(struct node *from, uint8_t *f, uint32_t len);

struct node {
	struct floo_stack *st;
	void *mem;
	struct node *peer; /* frames go to peer->rxq, or to txq if NULL */
	struct fqueue rxq, txq;
	frame_filter filter;
	uint32_t rnd;        /* random32 returns rnd++ */
	uint32_t sent;       /* frames transmitted */
	uint32_t offloaded;  /* frames whose checksum the fake NIC did */
	uint32_t tso_frames; /* large frames the fake NIC segmented */
	uint32_t caps;
	uint8_t mac[6];
	bool pump_peer; /* rx_burst polls the peer first (sockets) */
	bool in_pump;
	struct floo_pbuf *chain; /* a coalesced frame rx_burst hands over first (inject_chain) */
};

extern uint64_t t_now_ns;
extern uint32_t t_next_caps; /* platform caps of the next node_new() */

/* Create a node with cfg (NULL: small defaults) and address ip/24. */
struct node *node_new(const struct floo_config *cfg, uint32_t ip, uint8_t id);
void node_free(struct node *n);
void node_link(struct node *a, struct node *b);
/* Advance the clock by ms, polling both nodes every step_us. */
void run_ms(struct node *a, struct node *b, uint32_t ms);
void run_step(struct node *a, struct node *b, uint32_t ms, uint32_t step_us);
void q_push(struct fqueue *q, const uint8_t *f, uint32_t len);
/* Deliver one raw frame to n now and poll. */
void inject(struct node *n, const uint8_t *f, uint32_t len);
/* The same, with a virtio-net header, through floo_vnet_rx() as a TAP or
 * virtio-net platform receives it. */
void inject_vnet(struct node *n, const struct floo_vnet_hdr *h, const uint8_t *f, uint32_t len);
/* Deliver frame f (any length) to n as a coalesced frame, the way a NIC with
 * receive coalescing does (FLOO_CAP_RX_CHAIN): pieces of at most piece bytes
 * chained over pbufs, checksum verified (csum_ok) or not; then poll. */
void inject_chain(struct node *n, const uint8_t *f, uint32_t len, uint32_t piece, bool csum_ok);
/* Pop the oldest captured frame of n (unlinked node); 0 if none. */
uint32_t take(struct node *n, uint8_t *buf);
void drain(struct node *n);

/* Frame builders (return length). ip_hdr: proto, payload length. */
uint32_t build_ip(uint8_t *f, const uint8_t *dmac, uint32_t src, uint32_t dst, uint8_t proto,
                  const uint8_t *payload, uint32_t plen);
uint32_t build_tcp(uint8_t *f, const uint8_t *dmac, uint32_t src, uint32_t dst, uint16_t sport,
                   uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t win,
                   const uint8_t *opt, uint8_t optlen, const uint8_t *data, uint32_t dlen);
uint32_t build_udp(uint8_t *f, const uint8_t *dmac, uint32_t src, uint32_t dst, uint16_t sport,
                   uint16_t dport, const uint8_t *d, uint32_t n);

#define IP(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define IP_A           IP(10, 0, 0, 1)
#define IP_B           IP(10, 0, 0, 2)

/* Every test ends by checking that all buffers went home. */
#define CHECK_NO_LEAK(n) CHECK(floo_pbuf_free_count((n)->st) == (n)->st->cfg.n_pbufs)

/* A recording TCP application for the tests. */
struct app {
	struct floo_tcp *c;
	int accepted, connected, peer_fin, closed, close_err, sent;
	uint8_t *rx;
	uint32_t rx_len, rx_cap;
	bool hold, close_on_fin, abort_on_data, echo;
	struct floo_pbuf *held[512];
	int nheld;
};
void app_init(struct app *a, uint32_t cap);
void app_fini(struct app *a);
void app_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev);
void app_release_all(struct app *a);
/* Is this frame a TCP segment with payload? Offsets into f. */
bool frame_tcp(const uint8_t *f, uint32_t len, uint32_t *seq, uint32_t *plen, uint8_t *flags);

/* A raw peer (raw.c): PEER:PPORT talks to IP_A:80 with hand-made
 * segments; raw_cfg (NULL: defaults) sizes the node raw_open makes. */
#define PEER  IP(10, 0, 0, 9)
#define PPORT 40000
/* A raw peer: our sequence numbers and what the stack told us. */
struct raw {
	struct node *n;
	struct app sa;
	uint32_t snd, rcv; /* next seq we send, next seq we expect */
	uint8_t f[2048];
};
extern const uint8_t peer_mac[6];
extern const struct floo_config *raw_cfg;
void raw_send(struct raw *r, uint32_t seq, uint8_t flags, const void *data, uint32_t len);
/* Parse the next captured segment; false if none. */
bool raw_take(struct raw *r, uint32_t *seq, uint32_t *ack, uint8_t *fl, uint32_t *plen,
              uint16_t *win);
/* Handshake with optional SYN options; leaves an ESTABLISHED connection. */
bool raw_open(struct raw *r, const uint8_t *opt, uint8_t optlen);
void raw_close(struct raw *r);

#endif
