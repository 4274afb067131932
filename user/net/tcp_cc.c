/*
 * Congestion control: slow start and congestion avoidance (RFC 5681),
 * fast retransmit and NewReno fast recovery (RFC 6582), or with SACK the
 * conservative loss recovery of RFC 6675 (scoreboard in tcp_sack.c, the
 * transmit loop in tcp_out.c), limited transmit (RFC 3042, in tcp_out.c)
 * and early retransmit (RFC 5827). Byte counting in congestion avoidance
 * (RFC 3465, L = 1 SMSS in slow start). Congestion avoidance and the
 * reduction at a congestion event are CUBIC's (RFC 9438: beta 0.7, C 0.4,
 * fast convergence, the Reno-friendly region), as Linux's default; on a
 * path of a few milliseconds the Reno-friendly estimate W_est mostly
 * decides, and the gentler reduction (0.7 instead of Reno's 0.5) keeps
 * the window of a lossy path larger. In SACK recovery the window
 * follows proportional rate reduction (RFC 6937, with the slow-start
 * reduction bound): every ACK lets out new or repaired data in proportion
 * to what it delivered, so the ACK clock keeps running through a
 * recovery and a lost retransmission is found by RACK, not the RTO.
 */
#include "tcp_seg.h"

uint32_t tcp_flight(const struct floo_tcp *c)
{
	return c->snd_max - c->snd_una;
}

/* Initial window per RFC 5681 3.1. */
void tcp_cc_init(struct floo_tcp *c)
{
	uint32_t m = c->mss ? c->mss : TCP_MSS_DEFAULT;

	c->cwnd = m > 2190 ? 2 * m : (m > 1095 ? 3 * m : 4 * m);
	c->ssthresh = 0x7fffffff;
	c->recover = c->iss;
	tcp_bbr_init(c);
}

/* Recovery ends (full ACK or RTO): count the time spent in it. */
static void recovery_done(struct floo_tcp *c)
{
	c->st->stats.tcp_recovery_ms += (uint32_t)(c->st->now_ms - c->rec_start_ms);
	c->flags &= (uint16_t)~TF_RECOVERY;
}

/* RFC 9438 constants: beta_cubic = 7/10, C = 4/10 segments per s^3. */
#define CUB_BETA_NUM 7u
#define CUB_BETA_DEN 10u

static uint32_t icbrt(uint64_t x)
{
	uint32_t lo = 0, hi = 2097152; /* 2^21: its cube passes 2^63 */

	while (lo < hi) {
		uint32_t m = (lo + hi + 1) / 2;

		if ((uint64_t)m * m * m <= x)
			lo = m;
		else
			hi = m - 1;
	}
	return lo;
}

/* K = cbrt((W_max - cwnd_epoch) / C) seconds, W in segments: in ms,
 * cbrt(w / mss / 0.4 * 10^9). */
uint32_t tcp_cubic_k_ms(uint32_t w, uint16_t mss)
{
	return icbrt((uint64_t)w * 2500000000ull / (mss ? mss : 1));
}

/* W_cubic(t) = C (t - K)^3 + W_max; in bytes, t and K in ms: the cube in
 * ms^3 times 0.4 / 10^9 segments. Clamped to [1 MSS, 2^31). */
uint32_t tcp_cubic_w(const struct floo_tcp *c, uint32_t t_ms)
{
	int64_t d = (int64_t)t_ms - (int64_t)c->cub_k_ms, w;

	if (d > 100000)
		d = 100000; /* 100 s past K: far beyond any window */
	if (d < -100000)
		d = -100000;
	w = (int64_t)c->cub_wmax + d * d * d * 4 * (int64_t)c->mss / 10000000000LL;
	if (w < (int64_t)c->mss)
		w = c->mss;
	return w > 0x7fffffff ? 0x7fffffff : (uint32_t)w;
}

uint32_t tcp_cc_reduce(struct floo_tcp *c)
{
	uint32_t h = (uint32_t)((uint64_t)tcp_flight(c) * CUB_BETA_NUM / CUB_BETA_DEN);

	/* 4.7 fast convergence: a W_max lower than the last one releases
	 * bandwidth to newer flows. */
	if (c->cub_wmax && c->cwnd < c->cub_wmax)
		c->cub_wmax = (uint32_t)((uint64_t)c->cwnd * (CUB_BETA_DEN + CUB_BETA_NUM) /
		                         (2 * CUB_BETA_DEN));
	else
		c->cub_wmax = c->cwnd;
	c->cub_prior = c->cwnd;
	c->cub_epoch_ms = 0;
	return h > 2u * c->mss ? h : 2u * c->mss;
}

/* RFC 9438 4.2-4.5 on an ACK of acked bytes in congestion avoidance. */
static void cubic_ack(struct floo_tcp *c, uint32_t acked)
{
	uint32_t now = c->st->now_ms, t, target, wc, rtt = c->srtt8 / 8;
	uint64_t alpha_num = 3 * (CUB_BETA_DEN - CUB_BETA_NUM),
	         alpha_den = CUB_BETA_DEN + CUB_BETA_NUM;

	if (!c->cub_epoch_ms) {
		c->cub_epoch_ms = now ? now : 1;
		if (c->cub_wmax <= c->cwnd) {
			c->cub_wmax = c->cwnd; /* no W_max above: the curve starts here */
			c->cub_k_ms = 0;
		} else {
			c->cub_k_ms = tcp_cubic_k_ms(c->cub_wmax - c->cwnd, c->mss);
		}
		c->cub_west = c->cwnd;
	}
	t = now - c->cub_epoch_ms;
	/* 4.3 Reno-friendly: W_est grows alpha_cubic segments per window
	 * acknowledged; alpha_cubic = 3 (1 - beta) / (1 + beta) until W_est
	 * reaches cwnd_prior, then 1. */
	if (c->cub_west >= c->cub_prior)
		alpha_num = alpha_den = 1;
	c->cub_west += (uint32_t)((uint64_t)acked * c->mss * alpha_num / alpha_den / c->cwnd);
	wc = tcp_cubic_w(c, t);
	if (wc < c->cub_west) {
		if (c->cwnd < c->cub_west)
			c->cwnd = c->cub_west;
		return;
	}
	/* 4.4/4.5: toward W_cubic(t + RTT), at most 1.5 cwnd, by
	 * (target - cwnd) / cwnd segments per segment acknowledged. */
	target = tcp_cubic_w(c, t + rtt);
	if (target > c->cwnd + c->cwnd / 2)
		target = c->cwnd + c->cwnd / 2;
	if (target <= c->cwnd)
		return;
	c->bytes_acked += (uint32_t)((uint64_t)(target - c->cwnd) * acked / c->cwnd);
	if (c->bytes_acked >= c->mss) {
		c->cwnd += c->bytes_acked - c->bytes_acked % c->mss;
		c->bytes_acked %= c->mss;
	}
}

/* New data acknowledged (before SND.UNA moves): grow cwnd, or handle a
 * partial / full ACK during fast recovery. */
void tcp_cc_ack(struct floo_tcp *c, uint32_t acked)
{
	uint32_t ack = c->snd_una + acked;

	if (tcp_bbr_active(c)) {
		/* BBR sets cwnd per ACK (tcp_bbr_ack); here recovery ends. */
		if ((c->flags & TF_RECOVERY) && seq_geq(ack, c->recover)) {
			tcp_bbr_exit_recovery(c);
			recovery_done(c);
			c->dupacks = c->sack_dupacks = 0;
		} else if (c->bbr.rto_restore && seq_geq(ack, c->recover)) {
			tcp_bbr_exit_recovery(c);
			c->bbr.rto_restore = false;
		}
		if (!(c->flags & TF_RECOVERY))
			c->dupacks = c->sack_dupacks = 0;
		c->st->stats.tcp_cwnd_sum += c->cwnd;
		c->st->stats.tcp_cwnd_acks++;
		return;
	}
	if (c->flags & TF_RECOVERY) {
		if (seq_geq(ack, c->recover)) {
			/* Full ACK: leave recovery (RFC 6582 3.2 step 3). With
			 * SACK, pipe paced the recovery and no burst is owed:
			 * the window is ssthresh (as RFC 6937 ends). */
			uint32_t fl = c->snd_max - ack;

			c->cwnd = c->ssthresh < fl + c->mss ? c->ssthresh : fl + c->mss;
			if (c->flags & TF_SACK)
				c->cwnd = c->ssthresh;
			recovery_done(c);
			c->dupacks = c->sack_dupacks = 0;
		} else if (!(c->flags & TF_SACK)) {
			/* Partial ACK: retransmit the next hole, deflate. */
			tcp_retransmit_one(c, ack);
			c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
			c->cwnd += c->mss;
		}
		return;
	}
	c->dupacks = c->sack_dupacks = 0;
	c->st->stats.tcp_cwnd_sum += c->cwnd;
	c->st->stats.tcp_cwnd_acks++;
	if (c->cwnd < c->ssthresh) {
		if (c->cwnd < 2 * tcp_flight(c))
			c->cwnd += acked < c->mss ? acked : c->mss;
		return;
	}
	if (tcp_flight(c) + c->mss >= c->cwnd)
		cubic_ack(c, acked);
}

/* Duplicate ACKs needed: 3, or fewer when less than four segments are
 * out and nothing new can be sent (early retransmit, RFC 5827). */
static unsigned dup_thresh(const struct floo_tcp *c)
{
	uint32_t oseg = (tcp_flight(c) + c->mss - 1) / c->mss;

	if (oseg >= 2 && oseg < 4 && !seq_lt(c->snd_nxt, tcp_fin_seq(c)))
		return oseg - 1;
	return 3;
}

/* SACKed bytes above SND.UNA (the scoreboard is at most TCP_SB_MAX
 * ranges). */
uint32_t tcp_sb_bytes(const struct floo_tcp *c)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < c->sb_n; i++)
		n += c->sb[i].end - c->sb[i].start;
	return n;
}

/* RFC 6937 3 "On every ACK during fast recovery": DeliveredData =
 * change in SND.UNA + change in SACKed bytes; then
 * cwnd = pipe + sndcnt, where sndcnt is the proportional share of
 * ssthresh / RecoverFS while pipe > ssthresh, else what brings pipe up
 * to ssthresh, bounded by slow start (PRR-SSRB: the larger of
 * prr_delivered - prr_out and DeliveredData, plus one MSS). */
static void prr_ack(struct floo_tcp *c)
{
	uint32_t sacked = tcp_sb_bytes(c), pipe = tcp_rack_pipe(c), sndcnt;
	uint32_t delivered = (c->snd_una - c->prr_una) + sacked - c->prr_sacked;

	/* The scoreboard can shrink without SND.UNA moving (a block the
	 * full table forgot, a peer reneging): nothing was delivered, and
	 * the difference must not wrap to 4 GB (it made cwnd 0.7 x 2^32). */
	if ((int32_t)delivered < 0)
		delivered = 0;
	c->prr_una = c->snd_una;
	c->prr_sacked = sacked;
	c->prr_delivered += delivered;
	if (pipe > c->ssthresh) {
		uint64_t want =
		    ((uint64_t)c->prr_delivered * c->ssthresh + c->prr_fs - 1) / c->prr_fs;

		sndcnt = want > c->prr_out ? (uint32_t)(want - c->prr_out) : 0;
	} else {
		uint32_t lim = c->prr_delivered > c->prr_out ? c->prr_delivered - c->prr_out : 0;

		if (lim < delivered)
			lim = delivered;
		lim += c->mss;
		sndcnt = c->ssthresh - pipe < lim ? c->ssthresh - pipe : lim;
	}
	c->cwnd = pipe + sndcnt;
}

/* Enter fast recovery: RFC 6675 5 step 4 with SACK (cwnd = ssthresh,
 * the first hole at once, then whatever pipe allows), else RFC 6582
 * (retransmit, inflate by the three duplicates). */
static void enter_recovery(struct floo_tcp *c)
{
	tcp_cc_save_undo(c);
	/* RFC 8985 6.2 step 4: the widened reordering window lasts 16
	 * recoveries without a D-SACK. */
	if (c->reo_persist && !--c->reo_persist)
		c->reo_mult = 1;
	if (!tcp_bbr_active(c))
		c->ssthresh = tcp_cc_reduce(c);
	c->recover = c->snd_max;
	c->flags |= TF_RECOVERY;
	c->st->stats.tcp_recoveries++;
	c->rec_start_ms = c->st->now_ms;
	c->flags &= (uint16_t)~TF_RTT;
	c->high_rxt = c->snd_una;
	if (tcp_bbr_active(c)) {
		/* BBR: packet conservation for a round, no reduction. */
		tcp_bbr_enter_recovery(c);
		c->high_rxt = c->snd_una + tcp_retransmit_one(c, c->snd_una);
	} else if (c->flags & TF_SACK) {
		/* RFC 6937: PRR starts (RecoverFS = FlightSize); the first hole
		 * goes at once (RFC 6675 4.3) and counts in prr_out. */
		c->prr_delivered = c->prr_out = 0;
		c->prr_fs = tcp_flight(c);
		c->prr_una = c->snd_una;
		c->prr_sacked = tcp_sb_bytes(c);
		c->cwnd = c->ssthresh;
		c->high_rxt = c->snd_una + tcp_retransmit_one(c, c->snd_una);
		prr_ack(c);
	} else {
		(void)tcp_retransmit_one(c, c->snd_una);
		c->cwnd = c->ssthresh + 3u * c->mss;
	}
	tcp_arm_rexmt(c);
	tcp_tlp_arm(c); /* the repair probe (tcp_rack.c), not RFC 8985's TLP */
	tcp_mark_dirty(c);
}

/* A duplicate ACK: fast retransmit at the threshold (RFC 5681 3.2, with
 * the RFC 6582 guard against repeated recovery), inflation afterwards
 * (not with SACK: pipe counts what left the network). */
void tcp_cc_dupack(struct floo_tcp *c)
{
	unsigned thresh = dup_thresh(c);

	if (c->flags & TF_RECOVERY) {
		if (!(c->flags & TF_SACK))
			c->cwnd += c->mss;
		tcp_mark_dirty(c);
		return;
	}
	if (++c->dupacks < thresh) {
		tcp_mark_dirty(c); /* limited transmit */
		return;
	}
	if (c->dupacks > thresh || (c->flags & TF_SACK && c->rack_reord))
		return; /* with SACK on a reordering path RACK decides */
	/* recover holds SND.MAX at the last loss event: RFC 6582's "ACK
	 * covers more than recover" is snd_una >= it here. */
	if (!seq_geq(c->snd_una, c->recover))
		return;
	enter_recovery(c);
}

/* After the scoreboard took an ACK's blocks (RFC 6675 5 step C): an ACK
 * that SACKs new data counts as a duplicate whether or not it carries
 * data (an echo's ACKs do); recovery starts at DupThresh of them or as
 * soon as IsLost(HighACK + 1). In recovery, output runs the loop. */
void tcp_cc_sack(struct floo_tcp *c, uint32_t sacked)
{
	bool rack;

	if (tcp_bbr_active(c))
		tcp_bbr_ack(c);
	rack = tcp_rack_detect(c); /* also arms the reordering timer */
	tcp_tlp_heard(c);
	if (c->flags & TF_RECOVERY) {
		if (!tcp_bbr_active(c))
			prr_ack(c);
		tcp_mark_dirty(c);
		return;
	}
	if (sacked && c->sack_dupacks < 255)
		c->sack_dupacks++;
	if (c->snd_una == c->snd_max || !seq_geq(c->snd_una, c->recover))
		return;
	if (rack || (!c->rack_reord &&
	             (c->sack_dupacks >= dup_thresh(c) || tcp_sb_is_lost(c, c->snd_una)))) {
		if (rack)
			c->st->stats.tcp_rack_lost++;
		enter_recovery(c);
	}
}

void tcp_cc_loss(struct floo_tcp *c)
{
	if (c->flags & TF_RECOVERY)
		tcp_mark_dirty(c);
	else if (c->snd_una != c->snd_max && seq_geq(c->snd_una, c->recover))
		enter_recovery(c);
}

void tcp_cc_save_undo(struct floo_tcp *c)
{
	c->undo_cwnd = c->cwnd;
	c->undo_ssthresh = c->ssthresh;
	c->undo_wmax = c->cub_wmax;
	c->undo_rxt = 0;
	c->undo_marker = c->snd_una;
	c->undo_ts_set = false;
	c->undo_ok = true;
}

void tcp_cc_rxt_sent(struct floo_tcp *c)
{
	if (!c->undo_ok)
		return;
	if (!c->undo_ts_set) {
		c->undo_ts_ms = c->st->now_ms; /* the episode's first */
		c->undo_ts_set = true;
	}
	if (c->undo_rxt < UINT16_MAX)
		c->undo_rxt++;
}

/* The window before the reduction is restored: it was spurious. */
static void undo(struct floo_tcp *c)
{
	if (c->cwnd < c->undo_cwnd)
		c->cwnd = c->undo_cwnd;
	if (c->ssthresh < c->undo_ssthresh)
		c->ssthresh = c->undo_ssthresh;
	c->undo_ok = false;
	c->cub_wmax = c->undo_wmax; /* the cubic curve as before the event */
	c->cub_prior = c->undo_cwnd;
	c->cub_epoch_ms = 0;
	c->bbr.conservation = false;
	c->st->stats.tcp_undos++;
	/* The episode was reordering, not loss: leave it (as Linux's
	 * tcp_try_to_open), or PRR would keep the restored window shut until
	 * the old RecoveryPoint; a real loss RACK finds later starts a new
	 * one at once (no RFC 6582 guard for an undone episode). */
	if (c->flags & TF_RECOVERY) {
		recovery_done(c);
		c->recover = c->snd_una;
		c->dupacks = c->sack_dupacks = 0;
	}
	tcp_mark_dirty(c);
}

/* Is a retransmission of this episode neither acknowledged nor SACKed?
 * Unknown (more than the remembered ones) counts as yes. */
static bool rxt_outstanding(const struct floo_tcp *c)
{
	if (c->undo_rxt > c->rxh_n)
		return true;
	for (unsigned i = 0; i < c->rxh_n; i++) {
		const struct tcp_range *r = &c->rxh[i];
		uint32_t e;

		if (!seq_geq(r->start, c->undo_marker) || !seq_gt(r->end, c->snd_una))
			continue;
		if (!tcp_sb_sacked(c, seq_gt(r->start, c->snd_una) ? r->start : c->snd_una, &e) ||
		    seq_lt(e, r->end))
			return true;
	}
	return false;
}

/* Timestamp undo (Linux's tcp_packet_delayed and tcp_try_undo_partial,
 * RFC 3522's idea): SND.UNA moved past the episode's first hole and the
 * ACK echoes a timestamp older than our first retransmission, so the
 * original filled the hole: it was late, not lost. The path reorders;
 * once no retransmission of the episode is outstanding the reduction is
 * undone, a round trip before the D-SACKs of the retransmissions would
 * say so (and even when a retransmission is lost, which D-SACKs never
 * report). Timestamps are in ms: an original sent in the same ms as the
 * first retransmission proves nothing. */
void tcp_cc_ts_undo(struct floo_tcp *c, const struct tcp_seg *s)
{
	if (!(c->flags & TF_TS) || !s->has_ts || !c->undo_ok || !c->undo_ts_set || !c->undo_rxt ||
	    c->rxtshift || !seq_gt(c->snd_una, c->undo_marker) ||
	    (int32_t)(s->tsecr - c->undo_ts_ms) >= 0)
		return;
	c->rack_reord = true;
	if (!rxt_outstanding(c))
		undo(c);
}

/* RFC 2883's D-SACK reports data that arrived twice: one of our
 * retransmissions (the original was not lost), or a copy the network made
 * (nothing to learn: counted, ignored). For a retransmission:
 * - the path delayed the original past it: reordering is seen (as Linux's
 *   tcp_sacktag_one for a D-SACKed retransmission) when RACK or RFC 6675
 *   sent it; else RACK, whose window is zero in recovery until it sees
 *   reordering, resends every overtaken segment before its ACK can come
 *   and never sees an original delivered out of order;
 * - RACK's reordering window widens by one step, at most once per round
 *   trip (RFC 8985 6.2 step 4, RACK.dsack_round), kept 16 recoveries;
 * - once every retransmission since the reduction came back as a
 *   duplicate, the loss response was spurious: the window before it is
 *   restored (RFC 3708 detection, as Linux's undo). Only D-SACKs above
 *   SND.UNA at the reduction count (Linux's undo_marker): an earlier
 *   episode's do not undo this one. */
void tcp_cc_dsack(struct floo_tcp *c, const struct tcp_range *b)
{
	bool rack;
	unsigned n;

	c->st->stats.tcp_dsacks++;
	n = tcp_rxh_covered(c, b, &rack);
	if (!n) {
		c->st->stats.tcp_dsacks_ignored++;
		return;
	}
	if (rack)
		c->rack_reord = true;
	if (c->dsack_round_set && seq_geq(c->snd_una, c->dsack_round))
		c->dsack_round_set = false;
	if (!c->dsack_round_set) {
		if (c->reo_mult < 255) /* RFC 8985 sets no bound below SRTT; Linux 255 */
			c->reo_mult = (uint8_t)(c->reo_mult ? c->reo_mult + 1 : 2);
		c->dsack_round = c->snd_nxt;
		c->dsack_round_set = true;
	}
	c->reo_persist = 16;
	if (c->tlp_end && c->tlp_rxt && seq_gt(b->end, c->tlp_end - c->mss) &&
	    seq_lt(b->start, c->tlp_end))
		c->tlp_rxt = false; /* the probe was the duplicate: no loss */
	if (!c->undo_ok || !c->undo_rxt || !seq_gt(b->end, c->undo_marker))
		return;
	c->undo_rxt = (uint16_t)(c->undo_rxt > n ? c->undo_rxt - n : 0);
	if (!c->undo_rxt)
		undo(c);
}

/* RTO: loss window of one segment (RFC 5681 3.1 eq. 4). */
void tcp_cc_timeout(struct floo_tcp *c)
{
	c->undo_ok = false;
	if (tcp_bbr_active(c))
		tcp_bbr_timeout(c); /* the window returns when the loss is repaired */
	else
		c->ssthresh = tcp_cc_reduce(c);
	c->cwnd = c->mss;
	c->bytes_acked = 0;
	c->dupacks = c->sack_dupacks = 0;
	c->recover = c->snd_max;
	if (c->flags & TF_RECOVERY) {
		c->st->stats.tcp_rto_in_recovery++;
		recovery_done(c);
	}
}
