/*
 * TCP input, second half: segments for synchronized connections
 * (RFC 9293 3.10.7.4) with RFC 5961 checks, RFC 7323 PAWS, and the
 * in-order/out-of-order receive path that hands buffers to the
 * application without copying.
 */
#include "tcp_seg.h"

#include <lib/prof.h>

void tcp_set_state(struct floo_tcp *c, uint8_t state)
{
	c->state = state;
}

/* RFC 5961 challenge ACK, rate limited stack-wide (100 per second). */
static void challenge_ack(struct floo_tcp *c)
{
	struct floo_stack *st = c->st;

	if (st->now_ns >= st->challenge_refill_ns) {
		st->challenge_tokens = 100;
		st->challenge_refill_ns = st->now_ns + 1000000000ull;
	}
	if (!st->challenge_tokens)
		return;
	st->challenge_tokens--;
	st->stats.tcp_challenge_acks++;
	c->flags |= TF_ACKNOW;
	tcp_mark_dirty(c);
}

static void ack_now(struct floo_tcp *c)
{
	c->flags |= TF_ACKNOW;
	tcp_mark_dirty(c);
}

/* RFC 9293 3.10.7.4 "first": is any of the segment inside the window?
 * Decision (as Linux's tcp_sequence and BSD's trimming): an empty segment
 * exactly at the right edge RCV.NXT + RCV.WND passes. A sender that has
 * filled our window (a hole at RCV.NXT, the rest queued) sends its pure
 * ACKs with SEG.SEQ = its SND.NXT = our right edge; the strict rule threw
 * their acknowledgments away and stalled our own sending into an RTO
 * (test tcp_pure_ack_at_right_window_edge_is_processed). */
static bool seq_acceptable(struct floo_tcp *c, struct tcp_seg *s)
{
	uint32_t wnd = seq_gt(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	uint32_t slen = s->len + !!(s->flags & TH_SYN) + !!(s->flags & TH_FIN);

	if (wnd == 0) {
		if (s->seq != c->rcv_nxt)
			return false;
		/* Zero window: keep ACK/RST/FIN processing, drop the data and
		 * say so with an ACK (the sender is probing). */
		if (s->len && !(s->flags & TH_RST))
			ack_now(c);
		s->len = 0;
		return true;
	}
	if (slen == 0)
		return seq_geq(s->seq, c->rcv_nxt) && seq_leq(s->seq, c->rcv_nxt + wnd);
	return (seq_geq(s->seq, c->rcv_nxt) && seq_lt(s->seq, c->rcv_nxt + wnd)) ||
	       (seq_geq(s->seq + slen - 1, c->rcv_nxt) &&
	        seq_lt(s->seq + slen - 1, c->rcv_nxt + wnd));
}

/* RFC 5961 3.2: exact-match RST resets, in-window RST is challenged. */
static void rst_input(struct floo_tcp *c, const struct tcp_seg *s)
{
	if (s->seq != c->rcv_nxt) {
		challenge_ack(c);
		return;
	}
	if (c->state == TCP_TIME_WAIT) {
		tcp_destroy(c, 0);
		return;
	}
	tcp_destroy(c, c->state == TCP_SYN_RCVD ? FLOO_ECONNREFUSED : FLOO_ECONNRESET);
}

/* Our FIN has been acknowledged: advance the closing states. Returns
 * false if the connection was freed. */
static bool fin_acked(struct floo_tcp *c)
{
	switch (c->state) {
	case TCP_FIN_WAIT_1:
		tcp_set_state(c, TCP_FIN_WAIT_2);
		/* Nobody will read a half-closed orphan forever (Linux's
		 * tcp_fin_timeout idea): bound FIN_WAIT_2 by 2*MSL. */
		tcp_timer_set(c, &c->t_2msl,
		              c->st->now_ns + 2ull * c->st->cfg.tcp_msl_ms * 1000000u);
		return true;
	case TCP_CLOSING:
		tcp_enter_time_wait(c);
		return true;
	case TCP_LAST_ACK:
		tcp_destroy(c, 0);
		return false;
	default:
		return true;
	}
}

/* Take an RTT sample from the timestamp echo or the timed segment. */
static void rtt_from_ack(struct floo_tcp *c, const struct tcp_seg *s)
{
	if ((c->flags & TF_TS) && s->has_ts && s->tsecr) {
		tcp_rtt_sample(c, c->st->now_ms - s->tsecr);
	} else if ((c->flags & TF_RTT) && seq_gt(s->ack, c->rtt_seq)) {
		tcp_rtt_sample(c, c->st->now_ms - c->rtt_start_ms);
		c->flags &= (uint16_t)~TF_RTT;
	}
}

/* An ACK that advances SND.UNA. Returns false if the connection died in
 * an application callback. */
static bool new_ack(struct floo_tcp *c, const struct tcp_seg *s)
{
	uint32_t acked = s->ack - c->snd_una, data;
	uint16_t gen = c->gen;

	rtt_from_ack(c, s);
	tcp_cc_ack(c, acked);
	if (c->snd_una == c->iss)
		acked--; /* the SYN */
	data = acked < c->sndq_bytes ? acked : c->sndq_bytes;
	c->snd_una = s->ack;
	tcp_sb_prune(c);
	if (c->flags & TF_SACK)
		tcp_cc_ts_undo(c, s);
	if (seq_lt(c->snd_nxt, c->snd_una))
		c->snd_nxt = c->snd_una;
	c->rxtshift = 0;
	if (c->snd_una == c->snd_max)
		c->t_rexmt = 0;
	else
		tcp_arm_rexmt(c);
	tcp_tlp_ack(c, s->ack);
	tcp_mark_dirty(c);
	tcp_sndq_ack(c, data);
	return c->gen == gen && c->state != TCP_CLOSED;
}

/* SND.WND update rule (RFC 9293 3.10.7.4, "fifth"). */
static void window_update(struct floo_tcp *c, const struct tcp_seg *s)
{
	uint32_t w;

	if (!(seq_lt(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && seq_leq(c->snd_wl2, s->ack))))
		return;
	w = s->wnd << c->snd_wscale;
	if (w && !c->snd_wnd) {
		c->t_persist = 0;
		tcp_mark_dirty(c);
	}
	c->snd_wnd = w;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	if (w > c->max_snd_wnd)
		c->max_snd_wnd = w;
}

/* SYN_RCVD + acceptable ACK: the connection is established. */
static bool establish(struct floo_tcp *c, const struct tcp_seg *s)
{
	struct tcp_listener *l = tcp_listener_of(c);
	uint16_t gen = c->gen;

	if (l && l->pending)
		l->pending--;
	if (c->flags & TF_RTT) {
		tcp_rtt_sample(c, c->st->now_ms - c->rtt_start_ms);
		c->flags &= (uint16_t)~TF_RTT;
	}
	tcp_set_state(c, (c->flags & TF_FIN_QUEUED) ? TCP_FIN_WAIT_1 : TCP_ESTABLISHED);
	c->snd_wnd = s->wnd << c->snd_wscale;
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->st->stats.tcp_accepts++;
	tcp_event(c, (c->flags & TF_PASSIVE) ? FLOO_TCP_ACCEPTED : FLOO_TCP_CONNECTED, NULL, NULL,
	          0);
	return c->gen == gen && c->state != TCP_CLOSED;
}

/* ACK processing ("fifth" step). Returns false to stop. */
static bool ack_input(struct floo_tcp *c, struct tcp_seg *s)
{
	uint32_t sacked, old_una = c->snd_una;
	bool dup;

	if (c->state == TCP_SYN_RCVD) {
		if (!seq_gt(s->ack, c->snd_una) || seq_gt(s->ack, c->snd_max)) {
			c->st->stats.tcp_resets_sent++;
			tcp_emit(c, s->ack, 0, TH_RST);
			return false;
		}
		if (!establish(c, s))
			return false;
	}
	if (seq_gt(s->ack, c->snd_max) || seq_lt(s->ack, c->snd_una - c->max_snd_wnd)) {
		challenge_ack(c); /* RFC 5961 5.2 */
		return false;
	}
	/* RFC 5681's duplicate ACK also requires an unchanged window; Linux
	 * receivers grow their window while the application reads, which
	 * would hide most duplicates, so the window is not compared. */
	dup = s->ack == c->snd_una && s->len == 0 && !(s->flags & (TH_SYN | TH_FIN)) &&
	      c->snd_max != c->snd_una;
	sacked = tcp_sb_update(c, s); /* before SND.UNA moves past blocks */
	if (seq_gt(s->ack, c->snd_una) && !new_ack(c, s))
		return false;
	window_update(c, s);
	if (dup)
		tcp_cc_dupack(c);
	else if (s->ack != c->snd_una || s->len || c->snd_max == c->snd_una)
		c->dupacks = 0;
	if (c->flags & TF_SACK) {
		tcp_rack_update(c, old_una, s);
		tcp_cc_sack(c, sacked);
	}
	if (tcp_fin_sent(c) && c->snd_una == c->snd_max)
		return fin_acked(c);
	return true;
}

/* PAWS (RFC 7323 5.3) and ts_recent update. False to drop. A segment
 * TCP_PAWS_WINDOW ticks older than TS.Recent still passes (as Linux):
 * on a reordering path a hole's retransmission, sent later, can arrive
 * before new data sent just before it, and raise TS.Recent past it;
 * PAWS guards against sequence wrap, which is far older than that. */
static bool paws_ok(struct floo_tcp *c, const struct tcp_seg *s)
{
	if (!(c->flags & TF_TS) || !s->has_ts || (s->flags & TH_RST))
		return true;
	if (seq_lt(s->tsval + TCP_PAWS_WINDOW, c->ts_recent))
		return false;
	if (seq_leq(s->seq, c->last_ack_sent))
		c->ts_recent = s->tsval;
	return true;
}

void tcp_segment(struct floo_tcp *c, struct floo_pbuf *pb, struct tcp_seg *s)
{
	struct floo_stack *st = c->st;

	if (c->state == TCP_SYN_RCVD && (s->flags & TH_SYN) && !(s->flags & TH_ACK) &&
	    s->seq == c->irs) {
		c->snd_nxt = c->iss; /* duplicate SYN: resend SYN-ACK */
		tcp_mark_dirty(c);
		goto drop;
	}
	if (!paws_ok(c, s)) {
		floo_log(st, FLOO_LOG_DEBUG, "tcp_paws_reject", s->tsval);
		st->stats.tcp_dup_segs++;
		if (!(s->flags & TH_RST))
			ack_now(c);
		goto drop;
	}
	if (!seq_acceptable(c, s)) {
		floo_log(st, FLOO_LOG_DEBUG, "tcp_unacceptable_seq_minus_rcv_nxt",
		         s->seq - c->rcv_nxt);
		st->stats.tcp_dup_segs++;
		if (s->len && seq_leq(s->seq + s->len, c->rcv_nxt))
			tcp_sack_dup(c, s->seq, s->seq + s->len); /* old copy */
		if (!(s->flags & TH_RST))
			ack_now(c);
		goto drop;
	}
	if (s->flags & TH_RST) {
		rst_input(c, s);
		goto drop;
	}
	if (s->flags & TH_SYN) {
		challenge_ack(c); /* RFC 5961 4.2 */
		goto drop;
	}
	if (!(s->flags & TH_ACK))
		goto drop;
	PROF_ENTER(PROF_TCP_ACK);
	bool acked_ok = ack_input(c, s);
	PROF_LEAVE();
	if (!acked_ok)
		goto drop;
	if (c->state == TCP_TIME_WAIT) {
		if (s->flags & TH_FIN) {
			tcp_enter_time_wait(c); /* restart 2*MSL */
			ack_now(c);
		}
		goto drop;
	}
	PROF_CALL(PROF_TCP_DATA, tcp_data(c, pb, s));
	return;
drop:
	floo_pbuf_free(st, pb);
}
