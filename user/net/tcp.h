/*
 * TCP connection control block and the functions the tcp*.c files share.
 *
 * Fixed memory per connection: sizeof(struct floo_tcp) and cfg.tcp_sndq
 * send references (no send buffer: the application's memory is
 * referenced) plus, at most, cfg.tcp_rcv_pbufs received buffers held
 * for the application and FLOO_TCP_OOO_MAX out-of-order buffers.
 */
#ifndef FLOO_TCP_H
#define FLOO_TCP_H

#include "floo_internal.h"

#define FLOO_TCP_OOO_MAX   256
#define TCP_HLEN           20
#define TCP_MSS_DEFAULT    536
#define TCP_MSS_LOCAL      (FLOO_MTU - 40)
#define TCP_RTO_INIT_MS    1000
#define TCP_RTO_MAX_MS     60000
#define TCP_SYN_RETRIES    6
#define TCP_DATA_RETRIES   12
#define TCP_DELACK_MS      40
#define TCP_PERSIST_MIN_MS 200
#define TCP_PAWS_WINDOW    1 /* peer timestamp ticks PAWS tolerates */

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
#define TF_ACKNOW     0x0001 /* send an ACK at the next output */
#define TF_FIN_QUEUED 0x0002 /* application closed: FIN after the data */
#define TF_APP_GONE   0x0004 /* CLOSED delivered; no more events */
#define TF_WS         0x0008 /* window scaling negotiated */
#define TF_TS         0x0010 /* timestamps negotiated */
#define TF_KEEP       0x0020 /* keep-alive enabled */
#define TF_DIRTY      0x0040 /* on the dirty list */
#define TF_RTT        0x0080 /* timing rtt_seq (Karn) */
#define TF_RECOVERY   0x0100 /* NewReno fast recovery */
#define TF_PASSIVE    0x0200 /* created by a listener */
#define TF_WNDUPD     0x0400 /* window opened: advertise it */
#define TF_SACK       0x0800 /* SACK permitted both ways (RFC 2018) */
#define TF_SACK_OFFER 0x1000 /* the peer's SYN offered SACK (passive) */

#define TCP_SACK_BLOCKS 4  /* in one option: 4, or 3 beside timestamps */
#define TCP_SB_MAX      16 /* SACKed ranges the sender remembers */
#define TCP_DUPTHRESH   3  /* RFC 6675 DupThresh */

/* A range of sequence space [start, end). */
struct tcp_range {
	uint32_t start, end;
};

/* One transmission of [start, end) at ts_us (RACK's segment record). */
struct tcp_txrec {
	uint32_t start, end, ts_us;
	uint32_t ord; /* transmission order in steps of TX_ORD_STEP, | flags */
	/* Delivery-rate sampling (draft-cheng-iccrg-delivery-rate-estimation,
	 * BBR): the connection's delivered bytes, delivered time and first
	 * sent time (us) when this transmission left */
	uint32_t delivered, del_us, first_us;
};
#define TX_RXT       1u /* ord flag: a retransmission */
#define TX_DELIVERED 2u /* ord flag: its delivery was taken by RACK */
#define TX_APPLIM    4u /* ord flag: sent in an application-limited phase */
#define TX_ORD_STEP  8u
#define TCP_TXLOG    32 /* transmissions remembered, oldest dropped first */
#define TCP_RXH      16 /* retransmitted ranges remembered for D-SACKs */

/* BBR (tcp_bbr.c): modes of the state machine. */
enum { BBR_STARTUP, BBR_DRAIN, BBR_PROBE_BW, BBR_PROBE_RTT };
#define BBR_BW_ROUNDS 10 /* the max-bandwidth filter's window, round trips */

/* BBR's state per connection: delivery-rate sampling (C.delivered,
 * C.delivered_time, C.first_sent_time, C.app_limited), the rate sample
 * of the current ACK, the path model (windowed max bandwidth, min RTT)
 * and the state machine. Bandwidth in bytes per second, times in us. */
struct tcp_bbr {
	bool on;             /* BBR controls this connection */
	uint8_t mode;        /* BBR_* */
	uint8_t cycle_idx;   /* PROBE_BW gain cycle phase */
	uint8_t full_bw_cnt; /* rounds without 25% growth */
	bool full_bw_reached, round_start, conservation, rs_valid, rs_app_limited;
	bool probe_rtt_round_done, rto_restore;            /* rto_restore: after an RTO */
	uint32_t delivered, del_us, first_us, app_limited; /* app_limited: 0 none */
	uint32_t una_prev, sacked_prev;                    /* DeliveredData of an ACK */
	uint32_t rs_prior_delivered, rs_prior_us, rs_send_elapsed, rs_rtt_us, rs_acked;
	uint32_t rs_prior_ord;
	uint32_t next_round_delivered, round_count;
	uint64_t bw_round[BBR_BW_ROUNDS]; /* max sample per round, by round % 10 */
	uint64_t bw;                      /* the filter's output */
	uint64_t full_bw;
	uint64_t pacing_rate;
	uint32_t min_rtt_us, min_rtt_stamp_ms;
	uint32_t probe_rtt_done_ms; /* 0: not yet at the PROBE_RTT inflight */
	uint32_t cycle_us;          /* the current gain phase began */
	uint32_t prior_cwnd;        /* before recovery / PROBE_RTT */
	uint64_t pace_next_ns;      /* the next transmission's earliest time */
	/* A copy of one transmission's record per round trip: a sample even
	 * when the records in flight outnumber RACK's ring (TCP_TXLOG) */
	bool anchor_valid;
	struct tcp_txrec anchor;
};

/* One application buffer queued by reference. */
struct tcp_sref {
	const uint8_t *p;
	uint32_t len;
	void *cookie;
};

struct floo_tcp {
	struct floo_stack *st; /* [I] */
	uint32_t idx;          /* [I] slot index */
	uint16_t gen;          /* bumped at each free: stale pbuf owners */
	uint16_t flags;
	uint8_t state;
	uint8_t snd_wscale, rcv_wscale;
	uint8_t rxtshift; /* RTO back-offs so far */
	uint8_t dupacks;
	uint8_t keep_probes;
	uint8_t listener;  /* index of the parent listener (passive) */
	uint8_t acks_owed; /* full segments received since our last ACK */
	uint32_t lip, rip; /* host order */
	uint16_t lport, rport;
	uint32_t hnext; /* hash chain: index+1 */
	struct floo_tcp *dirty_next;
	floo_tcp_cb cb;
	void *user;

	/* send side (RFC 9293 names) */
	uint32_t iss, snd_una, snd_nxt, snd_max;
	uint32_t snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
	uint32_t snd_buf_seq; /* sequence number of sndq's first byte */
	uint32_t sndq_bytes;
	uint16_t mss; /* payload bytes per segment we send */
	uint16_t sndq_head, sndq_n;
	struct tcp_sref *sndq; /* [I] cfg.tcp_sndq entries, a ring */

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv;
	uint32_t rcv_held, rcv_held_pb; /* delivered, not yet released */
	struct floo_pbuf *ooo;          /* out of order, sorted by seq */
	uint32_t ooo_n;

	/* RFC 7323 */
	uint32_t ts_recent, last_ack_sent;

	/* RFC 6298, milliseconds; srtt and rttvar scaled by 8 and 4 */
	uint32_t srtt8, rttvar4, rto_ms;
	uint32_t rtt_seq, rtt_start_ms;

	/* RFC 5681 / 6582; recover is RFC 6675's RecoveryPoint with SACK */
	uint32_t cwnd, ssthresh, recover, bytes_acked;

	/* RFC 2018 receiver: blocks to report, most recent first */
	struct tcp_range rsack[TCP_SACK_BLOCKS];
	uint8_t rsack_n;
	bool has_dsack; /* RFC 2883: report dsack first, once */
	struct tcp_range dsack;
	/* RFC 6675 sender: scoreboard of SACKed ranges above SND.UNA,
	 * sorted and disjoint; HighRxt; SACK duplicate ACKs */
	uint8_t sb_n, sack_dupacks;
	struct tcp_range sb[TCP_SB_MAX];
	uint32_t high_rxt;
	/* RFC 8985 7: tail loss probe; tlp_end is TLP.end_seq (0: none) */
	uint32_t tlp_end;
	bool tlp_rxt; /* the probe was a retransmission */
	/* A repair probe is out (recovery or going back after an RTO, no
	 * ACK since): tcp_tlp_fire sends at most one per silence */
	bool rprobe_out;
	/* RFC 8985 6: RACK.xmit_ts/end_seq/rtt/min_RTT, reordering seen,
	 * and the transmissions of data not yet cumulatively acknowledged
	 * (a ring in time order, SACK connections only) */
	bool rack_valid, rack_reord, rack_min_set;
	uint8_t txlog_head, txlog_n;
	uint32_t rack_ts_us, rack_ord, rack_rtt_us, rack_min_rtt_us;
	uint32_t tx_ord;               /* next transmission's order */
	uint32_t rack_fack;            /* RACK.fack: highest end delivered */
	uint8_t reo_mult, reo_persist; /* RACK.reo_wnd_mult, _persist */
	bool dsack_round_set;          /* RACK.dsack_round is not None */
	uint32_t dsack_round;          /* widened once until SND.UNA passes it */
	/* The latest retransmitted ranges (a ring; rxh_rack: sent in a
	 * SACK recovery, not by the RTO or a probe): a D-SACK means one of
	 * them was spurious only if it covers one */
	uint8_t rxh_next, rxh_n;
	uint16_t rxh_rack;
	struct tcp_range rxh[TCP_RXH];
	/* Undo of a reduction that D-SACKs prove spurious (RFC 3708): the
	 * window before it and the retransmissions not yet reported as
	 * duplicates */
	bool undo_ok;
	uint16_t undo_rxt;
	uint32_t undo_cwnd, undo_ssthresh, undo_wmax;
	uint32_t undo_marker; /* SND.UNA when the reduction began */
	bool undo_ts_set;     /* undo_ts_ms: the first retransmission's time */
	uint32_t undo_ts_ms;
	/* RFC 6937 proportional rate reduction in SACK recovery: bytes
	 * delivered and sent since it began, FlightSize then (RecoverFS),
	 * and SND.UNA and the SACKed bytes at the last ACK (DeliveredData) */
	uint32_t prr_delivered, prr_out, prr_fs, prr_una, prr_sacked;
	uint32_t rec_start_ms; /* recovery began (tcp_recovery_ms) */
	/* RFC 9438 CUBIC: W_max and cwnd_prior at the last congestion event,
	 * the epoch's start (0: none yet) and K, the Reno-friendly W_est
	 * (bytes; ms) */
	uint32_t cub_wmax, cub_prior, cub_epoch_ms, cub_k_ms, cub_west;
	struct tcp_txrec txlog[TCP_TXLOG];
	struct tcp_bbr bbr; /* BBR's model and pacing (tcp_bbr.c) */

	/* timers: absolute ns deadlines, 0 = off. A deadline is armed with
	 * tcp_timer_set() (or cleared by writing 0): the connection sits in
	 * the stack's timer heap keyed no later than its earliest deadline. */
	uint64_t t_rexmt, t_delack, t_persist, t_keep, t_2msl, t_tlp, t_rack;
	uint64_t t_pace; /* BBR pacing: the next transmission may leave */
	uint64_t last_rx_ns;
	uint64_t t_key; /* heap key (valid while hpos) */
	uint32_t hpos;  /* position in st->theap + 1, 0 = not in it */
};

/* tcp.c */
struct floo_tcp *tcp_lookup(struct floo_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                            uint16_t rport);
struct floo_tcp *tcp_alloc(struct floo_stack *st);
void tcp_hash_insert(struct floo_tcp *c);
uint32_t tcp_new_iss(struct floo_stack *st, uint32_t lip, uint16_t lport, uint32_t rip,
                     uint16_t rport);
void tcp_event(struct floo_tcp *c, enum floo_tcp_event_type t, struct floo_pbuf *pb, void *cookie,
               int err);
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
/* Resend up to one MSS from seq; returns the payload bytes sent. */
uint32_t tcp_retransmit_one(struct floo_tcp *c, uint32_t seq);
/* Resend [seq, seq+len), len <= MSS; returns the payload bytes sent. */
uint32_t tcp_retransmit(struct floo_tcp *c, uint32_t seq, uint32_t len);
/* Reset in reply to a segment that has no connection. */
void tcp_send_rst_reply(struct floo_stack *st, const uint8_t *ip, const uint8_t *th,
                        uint32_t seglen);
uint32_t tcp_rcv_space(const struct floo_tcp *c);
uint32_t tcp_fin_seq(const struct floo_tcp *c);
bool tcp_fin_sent(const struct floo_tcp *c);

/* tcp_in.c helpers used elsewhere */
void tcp_set_state(struct floo_tcp *c, uint8_t state);

/* tcp_timer.c */
/* Arm deadline *t (one of c's t_* fields) at at (absolute ns, nonzero);
 * moving a deadline later or clearing it needs no call (the heap key is
 * corrected lazily). */
void tcp_timer_set(struct floo_tcp *c, uint64_t *t, uint64_t at);
/* Take c out of the timer heap (its slot is freed). */
void tcp_timer_remove(struct floo_tcp *c);
/* c's earliest armed deadline, 0 when none. */
uint64_t tcp_timer_min(const struct floo_tcp *c);
/* Self-check for tests: heap order, positions, and every connection
 * with a deadline keyed no later than it. Returns false on a breach. */
bool tcp_timer_check(const struct floo_stack *st);
void tcp_rtt_sample(struct floo_tcp *c, uint32_t rtt_ms);
void tcp_arm_rexmt(struct floo_tcp *c);
void tcp_enter_time_wait(struct floo_tcp *c);

/* tcp_cc.c */
void tcp_cc_init(struct floo_tcp *c);
void tcp_cc_ack(struct floo_tcp *c, uint32_t acked);
void tcp_cc_dupack(struct floo_tcp *c);
/* An ACK whose SACK blocks newly covered sacked bytes (SACK only). */
void tcp_cc_sack(struct floo_tcp *c, uint32_t sacked);
/* Losses detected (RACK timer): enter recovery or send what is lost. */
void tcp_cc_loss(struct floo_tcp *c);
/* Save the window before a loss response, for tcp_cc_dsack to undo. */
void tcp_cc_save_undo(struct floo_tcp *c);
/* A retransmission left (counted for the undo). */
void tcp_cc_rxt_sent(struct floo_tcp *c);
/* The peer reported block b as a duplicate (D-SACK, RFC 2883). */
void tcp_cc_dsack(struct floo_tcp *c, const struct tcp_range *b);
/* Which retransmissions does b cover? The count of remembered ones; *rack
 * learns whether one was sent in a SACK recovery (tcp_rack.c). */
unsigned tcp_rxh_covered(const struct floo_tcp *c, const struct tcp_range *b, bool *rack);
void tcp_cc_timeout(struct floo_tcp *c);
struct tcp_seg;
/* SND.UNA advanced: undo the reduction if the ACK's timestamp shows the
 * hole was filled by the original (tcp_cc.c). */
void tcp_cc_ts_undo(struct floo_tcp *c, const struct tcp_seg *s);
/* RFC 9438 4.6: a congestion event; returns ssthresh = beta * FlightSize
 * (at least 2 MSS) and records W_max for the cubic window. */
uint32_t tcp_cc_reduce(struct floo_tcp *c);
/* RFC 9438 4.2: K in ms for a window to regain of w bytes (tests). */
uint32_t tcp_cubic_k_ms(uint32_t w, uint16_t mss);
/* RFC 9438 eq. 1: W_cubic(t) in bytes, t ms into the epoch. */
uint32_t tcp_cubic_w(const struct floo_tcp *c, uint32_t t_ms);
uint32_t tcp_flight(const struct floo_tcp *c);
/* SACKed bytes above SND.UNA. */
uint32_t tcp_sb_bytes(const struct floo_tcp *c);
/* Is BBR in control (configured, and SACK for its rate samples)? */
static inline bool tcp_bbr_active(const struct floo_tcp *c)
{
	return c->bbr.on && (c->flags & TF_SACK);
}

/* tcp_bbr.c: BBR congestion control (SACK connections, floo_config
 * tcp_cc = FLOO_CC_BBR). */
void tcp_bbr_init(struct floo_tcp *c);
/* RACK took transmission r as newly delivered by this ACK. */
void tcp_bbr_rs_note(struct floo_tcp *c, const struct tcp_txrec *r, uint32_t rtt_us);
/* Per ACK, after RACK's update: the rate sample, the model, cwnd and the
 * pacing rate. */
void tcp_bbr_ack(struct floo_tcp *c);
/* Stamp a new transmission record with the sampling state; charge the
 * pacing budget with len bytes. */
void tcp_bbr_sent(struct floo_tcp *c, struct tcp_txrec *r, uint32_t len);
/* May a transmission leave now? If not, the pacing timer is armed. */
bool tcp_bbr_pace_ok(struct floo_tcp *c);
/* The largest frame pacing allows (about 1 ms at the pacing rate). */
uint32_t tcp_bbr_seg_cap(const struct floo_tcp *c, uint32_t maxseg);
void tcp_bbr_enter_recovery(struct floo_tcp *c);
void tcp_bbr_exit_recovery(struct floo_tcp *c);
void tcp_bbr_timeout(struct floo_tcp *c);
/* BDP-based target window for gain g (x1000) (tests). */
uint32_t tcp_bbr_target(const struct floo_tcp *c, uint32_t gain_milli);

/* tcp_out.c, for the loss probe: one new segment if the peer's window
 * allows (cwnd is not checked); false when none could go. */
bool tcp_send_new_one(struct floo_tcp *c);

/* tcp_rack.c: RFC 8985 tail loss probes (and time-based loss detection) */
#define TCP_WCDELACK_MS 200 /* worst-case delayed ACK (RFC 8985 7.2) */
#define TCP_PTO_MIN_MS  2   /* SRTT is kept in ms: no probe sooner (Linux: 2 jiffies) */
void tcp_tlp_arm(struct floo_tcp *c);
/* A cumulative ACK to ack arrived: end a probe episode it covers. */
void tcp_tlp_ack(struct floo_tcp *c, uint32_t ack);
void tcp_tlp_fire(struct floo_tcp *c);
void tcp_tlp_heard(struct floo_tcp *c);
uint32_t tcp_pto_ms(const struct floo_tcp *c);
/* Record a transmission of [seq, seq+len) now. */
void tcp_txlog_add(struct floo_tcp *c, uint32_t seq, uint32_t len);
/* RFC 8985 6.2 steps 1-3 for an ACK that moved SND.UNA from old_una
 * and carried the SACK blocks in s. */
struct tcp_seg;
void tcp_rack_update(struct floo_tcp *c, uint32_t old_una, const struct tcp_seg *s);
/* RFC 8985 6.2 step 5: is anything lost now? Arms the reordering timer
 * for segments that will be lost if no ACK comes first. */
bool tcp_rack_detect(struct floo_tcp *c);
void tcp_rack_timer(struct floo_tcp *c);
uint32_t tcp_rack_reo_wnd_us(const struct floo_tcp *c);
/* RFC 6675 SetPipe() with RACK's losses: unSACKed bytes not lost, the
 * retransmitted ones counted while their retransmission is not lost. */
uint32_t tcp_rack_pipe(struct floo_tcp *c);
/* NextSeg() rule 1 (lost: RFC 6675 IsLost above HighRxt, or RACK,
 * including lost retransmissions) or, with any, rule 3 (first hole below
 * the highest SACK not yet retransmitted); len <= MSS. */
bool tcp_rack_next_hole(struct floo_tcp *c, bool any, uint32_t *seq, uint32_t *len);

/* tcp_sack.c: RFC 2018 options and the RFC 6675 scoreboard */
struct tcp_seg;
/* Parse one SACK option body (len bytes after kind/len) into s. */
void tcp_sack_parse(struct tcp_seg *s, const uint8_t *o, uint32_t len);
/* The receiver queued out-of-order data [seq, end): report it first. */
void tcp_sack_rcv_note(struct floo_tcp *c, uint32_t seq, uint32_t end);
/* A duplicate [seq, end) arrived: the next ACK reports it (RFC 2883). */
void tcp_sack_dup(struct floo_tcp *c, uint32_t seq, uint32_t end);
/* Write the SACK option for an ACK into o (room bytes); returns length. */
uint8_t tcp_sack_option(struct floo_tcp *c, uint8_t *o, uint32_t room);
bool tcp_sack_is_dsack(const struct tcp_seg *s);
/* Merge the blocks of an acceptable ACK; returns bytes newly SACKed. */
uint32_t tcp_sb_update(struct floo_tcp *c, const struct tcp_seg *s);
/* Forget ranges at or below SND.UNA. */
void tcp_sb_prune(struct floo_tcp *c);
bool tcp_sb_is_lost(const struct floo_tcp *c, uint32_t seq);
/* Is seq SACKed? If so *end is the end of its range. */
bool tcp_sb_sacked(const struct floo_tcp *c, uint32_t seq, uint32_t *end);
#endif
