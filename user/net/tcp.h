/*
 * TCP connection control block and the functions the tcp*.c files share.
 *
 * Fixed memory per connection: sizeof(struct floo_tcp) (about 600 bytes:
 * FLOO_TCP_SNDQ send references, no send buffer: the application's memory
 * is referenced) plus, at most, cfg.tcp_rcv_pbufs received buffers held
 * for the application and FLOO_TCP_OOO_MAX out-of-order buffers.
 */
#ifndef FLOO_TCP_H
#define FLOO_TCP_H

#include "floo_internal.h"

#define FLOO_TCP_SNDQ 16
#define FLOO_TCP_OOO_MAX 32
#define TCP_HLEN 20
#define TCP_MSS_DEFAULT 536
#define TCP_MSS_LOCAL (FLOO_MTU - 40)
#define TCP_RTO_INIT_MS 1000
#define TCP_RTO_MAX_MS 60000
#define TCP_SYN_RETRIES 6
#define TCP_DATA_RETRIES 12
#define TCP_DELACK_MS 40
#define TCP_PERSIST_MIN_MS 200

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

enum tcp_state {
	TCP_CLOSED,
	TCP_LISTEN,
	TCP_SYN_SENT,
	TCP_SYN_RCVD,
	TCP_ESTABLISHED,
	TCP_FIN_WAIT_1,
	TCP_FIN_WAIT_2,
	TCP_CLOSE_WAIT,
	TCP_CLOSING,
	TCP_LAST_ACK,
	TCP_TIME_WAIT,
};

/* connection flags */
#define TF_ACKNOW 0x0001     /* send an ACK at the next output */
#define TF_FIN_QUEUED 0x0002 /* application closed: FIN after the data */
#define TF_APP_GONE 0x0004   /* CLOSED delivered; no more events */
#define TF_WS 0x0008	     /* window scaling negotiated */
#define TF_TS 0x0010	     /* timestamps negotiated */
#define TF_KEEP 0x0020	     /* keep-alive enabled */
#define TF_DIRTY 0x0040	     /* on the dirty list */
#define TF_RTT 0x0080	     /* timing rtt_seq (Karn) */
#define TF_RECOVERY 0x0100   /* NewReno fast recovery */
#define TF_PASSIVE 0x0200    /* created by a listener */
#define TF_WNDUPD 0x0400     /* window opened: advertise it */

/* One application buffer queued by reference. */
struct tcp_sref {
	const uint8_t *p;
	uint32_t len;
	void *cookie;
};

struct floo_tcp {
	struct floo_stack *st; /* [I] */
	uint32_t idx;	       /* [I] slot index */
	uint16_t gen;	       /* bumped at each free: stale pbuf owners */
	uint16_t flags;
	uint8_t state;
	uint8_t snd_wscale, rcv_wscale;
	uint8_t rxtshift;   /* RTO back-offs so far */
	uint8_t dupacks;
	uint8_t keep_probes;
	uint8_t listener;   /* index of the parent listener (passive) */
	uint8_t acks_owed;  /* full segments received since our last ACK */
	uint32_t lip, rip;  /* host order */
	uint16_t lport, rport;
	uint32_t hnext;	    /* hash chain: index+1 */
	struct floo_tcp *dirty_next;
	floo_tcp_cb cb;
	void *user;

	/* send side (RFC 9293 names) */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint32_t snd_buf_seq; /* sequence number of sndq's first byte */
	uint32_t sndq_bytes;
	uint16_t mss;	      /* payload bytes per segment we send */
	uint8_t sndq_head, sndq_n;
	struct tcp_sref sndq[FLOO_TCP_SNDQ];

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv;
	uint32_t rcv_held, rcv_held_pb; /* delivered, not yet released */
	struct floo_pbuf *ooo;		/* out of order, sorted by seq */
	uint32_t ooo_n;

	/* RFC 7323 */
	uint32_t ts_recent, last_ack_sent;

	/* RFC 6298, milliseconds; srtt and rttvar scaled by 8 and 4 */
	uint32_t srtt8, rttvar4, rto_ms;
	uint32_t rtt_seq, rtt_start_ms;

	/* RFC 5681 / 6582 */
	uint32_t cwnd, ssthresh, recover, bytes_acked;

	/* timers: absolute ns deadlines, 0 = off */
	uint64_t t_rexmt, t_delack, t_persist, t_keep, t_2msl;
	uint64_t last_rx_ns;
};

/* tcp.c */
struct floo_tcp *tcp_lookup(struct floo_stack *st, uint32_t lip, uint16_t lport,
			    uint32_t rip, uint16_t rport);
struct floo_tcp *tcp_alloc(struct floo_stack *st);
void tcp_hash_insert(struct floo_tcp *c);
uint32_t tcp_new_iss(struct floo_stack *st, uint32_t lip, uint16_t lport,
		     uint32_t rip, uint16_t rport);
void tcp_event(struct floo_tcp *c, enum floo_tcp_event_type t,
	       struct floo_pbuf *pb, void *cookie, int err);
/* Tear down: return references, notify CLOSED(err), free the slot. */
void tcp_destroy(struct floo_tcp *c, int err);
/* Drop acknowledged bytes from the reference queue (SENT events). */
void tcp_sndq_ack(struct floo_tcp *c, uint32_t bytes);
struct tcp_listener *tcp_listener_of(struct floo_tcp *c);

/* tcp_out.c */
void tcp_mark_dirty(struct floo_tcp *c);
void tcp_output(struct floo_tcp *c);
/* Send one segment [seq, seq+len) of the send queue with flags. */
void tcp_emit(struct floo_tcp *c, uint32_t seq, uint32_t len, uint8_t flags);
void tcp_send_ack_now(struct floo_tcp *c);
void tcp_retransmit_one(struct floo_tcp *c, uint32_t seq);
/* Reset in reply to a segment that has no connection. */
void tcp_send_rst_reply(struct floo_stack *st, const uint8_t *ip,
			const uint8_t *th, uint32_t seglen);
uint32_t tcp_rcv_space(const struct floo_tcp *c);
uint32_t tcp_fin_seq(const struct floo_tcp *c);
bool tcp_fin_sent(const struct floo_tcp *c);

/* tcp_in.c helpers used elsewhere */
void tcp_set_state(struct floo_tcp *c, uint8_t state);

/* tcp_timer.c */
void tcp_rtt_sample(struct floo_tcp *c, uint32_t rtt_ms);
void tcp_arm_rexmt(struct floo_tcp *c);
void tcp_enter_time_wait(struct floo_tcp *c);

/* tcp_cc.c */
void tcp_cc_init(struct floo_tcp *c);
void tcp_cc_ack(struct floo_tcp *c, uint32_t acked);
void tcp_cc_dupack(struct floo_tcp *c);
void tcp_cc_timeout(struct floo_tcp *c);
uint32_t tcp_flight(const struct floo_tcp *c);

#endif
