/*
 * BBR congestion control (floo_config tcp_cc = FLOO_CC_BBR, SACK
 * connections), written from its published description: Cardwell et al.,
 * "BBR: Congestion-Based Congestion Control" (ACM Queue 2016),
 * draft-cardwell-iccrg-bbr-congestion-control (the v1 state machine) and
 * draft-cheng-iccrg-delivery-rate-estimation.
 *
 * The path is modelled by two numbers: the bottleneck bandwidth (the
 * maximum delivery rate sampled over the last 10 round trips) and the
 * round-trip propagation time (the minimum RTT of the last 10 s). The
 * sender paces at pacing_gain x bandwidth and keeps at most cwnd_gain x
 * BDP (+ an allowance for ACK aggregation) in flight. A random loss does
 * not change either estimate, so it does not cut the rate (a loss-based
 * control halves or x0.7s its window at each one).
 *
 * Rate samples: every transmission record (tcp_rack.c's txlog) carries
 * the connection's delivered bytes, delivered time and first sent time
 * when it left; an ACK's newest delivered record gives
 * rate = (delivered now - delivered then) / max(send interval, ACK
 * interval). Records sent while the application had nothing more to
 * send are marked application-limited; their samples may raise the
 * estimate, never lower it.
 *
 * States: STARTUP (gains 2.89 = 2/ln 2) until three rounds bring less
 * than 25% more bandwidth; DRAIN (pacing 1/2.89) until the flight is one
 * BDP; PROBE_BW cycling pacing gains 1.25, 0.75, 1 x 6 one min-RTT each
 * (cwnd gain 2); PROBE_RTT (cwnd 4 segments for 200 ms and a round)
 * when the min-RTT estimate is 10 s old.
 *
 * Loss recovery (RACK, SACK, RFC 6675) stays tcp_cc.c's: on entering it
 * the window is packet conservation for one round (cwnd = in flight +
 * delivered), then grows toward the target again; leaving it restores the
 * window from before (as Linux's BBR). Pacing: each transmission moves
 * the next allowed time by len / rate; a frame is at most about 1 ms of
 * data at the pacing rate (at least two segments), and up to 1 ms of
 * unused time is credited (the host's wake-up granularity), so a frame
 * or a few leave per pacing timer.
 */
#include "tcp_seg.h"

#define GAIN_UNIT    1000u
#define HIGH_GAIN    2885u /* 2/ln 2 */
#define DRAIN_GAIN   347u  /* 1/2.885 */
#define PBW_CWND     2000u
#define MIN_RTT_MS   10000u
#define PROBE_RTT_MS 200u
#define CYCLE_LEN    8u
#define CREDIT_NS    1000000ull /* pacing credit and frame size: 1 ms */

static const uint16_t cycle_gain[CYCLE_LEN] = {1250, 750, 1000, 1000, 1000, 1000, 1000, 1000};

static uint32_t now_us(const struct floo_tcp *c)
{
	return (uint32_t)(c->st->now_ns / 1000u);
}

static uint32_t u32max(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static uint32_t u32min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* RFC 6928's initial window: BBR starts from it as Linux does. */
static uint32_t init_cwnd(const struct floo_tcp *c)
{
	return u32min(10u * c->mss, u32max(2u * c->mss, 14600u));
}

void tcp_bbr_init(struct floo_tcp *c)
{
	struct tcp_bbr *b = &c->bbr;

	*b = (struct tcp_bbr){0};
	b->on = c->st->cfg.tcp_cc == FLOO_CC_BBR;
	/* Without SACK the connection keeps CUBIC: its initial window too
	 * (RFC 5681's, not RFC 6928's 10 segments). SACK is negotiated by
	 * the time the SYN options are parsed, before this runs. */
	if (!tcp_bbr_active(c))
		return;
	b->mode = BBR_STARTUP;
	b->min_rtt_us = UINT32_MAX;
	b->min_rtt_stamp_ms = c->st->now_ms;
	b->una_prev = c->snd_una;
	b->del_us = b->first_us = now_us(c);
	c->cwnd = init_cwnd(c);
}

static uint32_t pacing_gain(const struct tcp_bbr *b)
{
	switch (b->mode) {
	case BBR_STARTUP:
		return HIGH_GAIN;
	case BBR_DRAIN:
		return DRAIN_GAIN;
	case BBR_PROBE_BW:
		return cycle_gain[b->cycle_idx];
	default:
		return GAIN_UNIT;
	}
}

static uint32_t cwnd_gain(const struct tcp_bbr *b)
{
	switch (b->mode) {
	case BBR_STARTUP:
	case BBR_DRAIN:
		return HIGH_GAIN;
	case BBR_PROBE_BW:
		return PBW_CWND;
	default:
		return GAIN_UNIT;
	}
}

/* gain x BDP in bytes; the initial window while the model is empty. */
static uint32_t bdp(const struct floo_tcp *c, uint32_t gain)
{
	const struct tcp_bbr *b = &c->bbr;
	uint64_t v;

	if (!b->bw || b->min_rtt_us == UINT32_MAX)
		return (uint32_t)((uint64_t)init_cwnd(c) * gain / GAIN_UNIT);
	v = b->bw * b->min_rtt_us / 1000000u * gain / GAIN_UNIT;
	return v > 0x7fffffff ? 0x7fffffff : (uint32_t)v;
}

/* Is this connection paced (BBR with floo_config tcp_pacing on, a rate
 * known)? */
static bool paced(const struct floo_tcp *c)
{
	return c->bbr.on && c->bbr.pacing_rate && c->st->cfg.tcp_pacing == FLOO_PACING_ON;
}

uint32_t tcp_bbr_seg_cap(const struct floo_tcp *c, uint32_t maxseg)
{
	uint64_t cap;

	if (!paced(c))
		return maxseg;
	cap = c->bbr.pacing_rate * CREDIT_NS / 1000000000u;
	cap = cap / c->mss * c->mss;
	if (cap < 2u * c->mss)
		cap = 2u * c->mss;
	return cap < maxseg ? (uint32_t)cap : maxseg;
}

uint32_t tcp_bbr_target(const struct floo_tcp *c, uint32_t gain_milli)
{
	/* The allowance for ACK aggregation and delayed ACKs: three frames
	 * of the current size, two more segments in the probing phase. */
	uint32_t t = bdp(c, gain_milli) + 3u * tcp_bbr_seg_cap(c, FLOO_TSO_MAX / c->mss * c->mss);

	if (c->bbr.mode == BBR_PROBE_BW && c->bbr.cycle_idx == 0)
		t += 2u * c->mss;
	return t;
}

void tcp_bbr_sent(struct floo_tcp *c, struct tcp_txrec *r, uint32_t len)
{
	struct tcp_bbr *b = &c->bbr;
	uint64_t now = c->st->now_ns;

	if (!b->on)
		return;
	if (c->snd_max == c->snd_una) /* nothing in flight: a new sampling start */
		b->first_us = b->del_us = now_us(c);
	r->delivered = b->delivered;
	r->del_us = b->del_us;
	r->first_us = b->first_us;
	/* Application-limited: this send empties the queue below cwnd. */
	if (!seq_lt(r->end, tcp_fin_seq(c)) && tcp_flight(c) + len < c->cwnd)
		b->app_limited = u32max(b->delivered + tcp_flight(c) + len, 1);
	if (b->app_limited)
		r->ord |= TX_APPLIM;
	/* A retransmission of the anchor's data replaces it: a sample of
	 * the original would span the whole recovery. */
	if (!b->anchor_valid || ((r->ord & TX_RXT) && seq_lt(r->start, b->anchor.end) &&
	                         seq_gt(r->end, b->anchor.start))) {
		b->anchor = *r;
		b->anchor_valid = true;
	}
	if (!paced(c))
		return;
	if (b->pace_next_ns + CREDIT_NS < now)
		b->pace_next_ns = now - CREDIT_NS;
	b->pace_next_ns += (uint64_t)len * 1000000000u / b->pacing_rate;
}

/* May a frame leave now? Always when nothing is in flight: it follows
 * no frame of ours into a queue (without this a request/response
 * connection is paced at its own application-limited rate, and below it
 * in the 0.75 phase: bench-net's 64-byte round trips lost a third). */
bool tcp_bbr_pace_ok(struct floo_tcp *c)
{
	if (!paced(c) || c->st->now_ns >= c->bbr.pace_next_ns || c->snd_una == c->snd_max)
		return true;
	tcp_timer_set(c, &c->t_pace, c->bbr.pace_next_ns);
	return false;
}

/* The ACK's newest delivered transmission gives the rate sample. */
void tcp_bbr_rs_note(struct floo_tcp *c, const struct tcp_txrec *r, uint32_t rtt_us)
{
	struct tcp_bbr *b = &c->bbr;

	if (!b->on)
		return;
	if (b->rs_valid && (int32_t)(r->ord - b->rs_prior_ord) < 0)
		return;
	b->rs_valid = true;
	b->rs_prior_ord = r->ord;
	b->rs_prior_delivered = r->delivered;
	b->rs_prior_us = r->del_us;
	b->rs_send_elapsed = r->ts_us - r->first_us;
	b->rs_app_limited = (r->ord & TX_APPLIM) != 0;
	/* Karn: a retransmission's ACK may be the original's (one in the
	 * same poll as the resend made min_RTT 0 on the impaired path). */
	b->rs_rtt_us = (r->ord & TX_RXT) ? UINT32_MAX : rtt_us;
	b->first_us = r->ts_us;
}

static void enter_probe_bw(struct floo_tcp *c)
{
	struct tcp_bbr *b = &c->bbr;
	uint32_t r = c->st->plat.random32(c->st->plat.ctx) % (CYCLE_LEN - 1);

	b->mode = BBR_PROBE_BW;
	b->cycle_idx = (uint8_t)(r ? r + 1 : 0); /* any phase but 0.75 */
	b->cycle_us = now_us(c);
}

static void save_cwnd(struct floo_tcp *c)
{
	struct tcp_bbr *b = &c->bbr;

	if (!(c->flags & TF_RECOVERY) && b->mode != BBR_PROBE_RTT)
		b->prior_cwnd = c->cwnd;
	else
		b->prior_cwnd = u32max(b->prior_cwnd, c->cwnd);
}

static void restore_cwnd(struct floo_tcp *c)
{
	c->cwnd = u32max(c->cwnd, c->bbr.prior_cwnd);
}

/* The max filter: the per-round slots of the last 10 rounds. */
static void update_bw(struct floo_tcp *c, uint64_t sample)
{
	struct tcp_bbr *b = &c->bbr;
	uint64_t *slot = &b->bw_round[b->round_count % BBR_BW_ROUNDS];

	if (sample > *slot)
		*slot = sample;
	b->bw = 0;
	for (unsigned i = 0; i < BBR_BW_ROUNDS; i++)
		if (b->bw_round[i] > b->bw)
			b->bw = b->bw_round[i];
}

static void check_cycle_phase(struct floo_tcp *c, uint32_t inflight)
{
	struct tcp_bbr *b = &c->bbr;
	uint32_t g = cycle_gain[b->cycle_idx], now = now_us(c);
	bool next = now - b->cycle_us > b->min_rtt_us;

	if (b->mode != BBR_PROBE_BW)
		return;
	if (g > GAIN_UNIT)
		next = next && ((c->flags & TF_RECOVERY) || inflight >= bdp(c, g));
	else if (g < GAIN_UNIT)
		next = next || inflight <= bdp(c, GAIN_UNIT);
	if (next) {
		b->cycle_idx = (uint8_t)((b->cycle_idx + 1) % CYCLE_LEN);
		b->cycle_us = now;
	}
}

static void check_full_pipe(struct tcp_bbr *b)
{
	if (b->full_bw_reached || !b->round_start || b->rs_app_limited)
		return;
	if (b->bw >= b->full_bw + b->full_bw / 4) {
		b->full_bw = b->bw;
		b->full_bw_cnt = 0;
		return;
	}
	if (++b->full_bw_cnt >= 3)
		b->full_bw_reached = true;
}

static void update_min_rtt(struct floo_tcp *c, uint32_t inflight)
{
	struct tcp_bbr *b = &c->bbr;
	uint32_t now = c->st->now_ms;
	bool expired = now - b->min_rtt_stamp_ms > MIN_RTT_MS;

	if (b->rs_valid && b->rs_rtt_us != UINT32_MAX &&
	    (b->rs_rtt_us <= b->min_rtt_us || expired)) {
		b->min_rtt_us = b->rs_rtt_us;
		b->min_rtt_stamp_ms = now;
	}
	if (expired && b->mode != BBR_PROBE_RTT) {
		save_cwnd(c);
		b->mode = BBR_PROBE_RTT;
		b->probe_rtt_done_ms = 0;
	}
	if (b->mode != BBR_PROBE_RTT)
		return;
	/* The probe is not a bandwidth sample of the path. */
	b->app_limited = u32max(b->delivered + inflight, 1);
	if (!b->probe_rtt_done_ms && inflight <= 4u * c->mss) {
		b->probe_rtt_done_ms = (now + PROBE_RTT_MS) | 1u;
		b->probe_rtt_round_done = false;
		b->next_round_delivered = b->delivered;
	} else if (b->probe_rtt_done_ms) {
		if (b->round_start)
			b->probe_rtt_round_done = true;
		if (b->probe_rtt_round_done && (int32_t)(now - b->probe_rtt_done_ms) >= 0) {
			b->min_rtt_stamp_ms = now;
			restore_cwnd(c);
			if (b->full_bw_reached)
				enter_probe_bw(c);
			else
				b->mode = BBR_STARTUP;
		}
	}
}

static void set_pacing_rate(struct floo_tcp *c)
{
	struct tcp_bbr *b = &c->bbr;
	uint64_t rate;

	if (b->bw) {
		rate = b->bw * pacing_gain(b) / GAIN_UNIT;
	} else {
		/* No sample yet: the initial window per smoothed RTT. */
		uint64_t rtt = c->srtt8 ? (uint64_t)c->srtt8 * 125u : 1000u;

		rate = (uint64_t)c->cwnd * 1000000u / rtt * HIGH_GAIN / GAIN_UNIT;
	}
	if (b->full_bw_reached || rate > b->pacing_rate)
		b->pacing_rate = rate;
}

static void set_cwnd(struct floo_tcp *c, uint32_t inflight, uint32_t acked)
{
	struct tcp_bbr *b = &c->bbr;
	uint32_t target = tcp_bbr_target(c, cwnd_gain(b));

	if (b->conservation)
		c->cwnd = u32max(c->cwnd, inflight + acked);
	else if (b->full_bw_reached)
		c->cwnd = u32min(c->cwnd + acked, target);
	else if (c->cwnd < target || b->delivered < init_cwnd(c))
		c->cwnd += acked;
	if (c->cwnd < 4u * c->mss)
		c->cwnd = 4u * c->mss;
	if (b->mode == BBR_PROBE_RTT)
		c->cwnd = u32min(c->cwnd, 4u * c->mss);
}

void tcp_bbr_ack(struct floo_tcp *c)
{
	struct tcp_bbr *b = &c->bbr;
	uint32_t sacked = tcp_sb_bytes(c), now = now_us(c), acked, inflight;
	uint64_t sample = 0;

	if (b->una_prev == c->iss)
		b->una_prev++; /* the SYN is no data delivered */
	acked = (c->snd_una - b->una_prev) + sacked - b->sacked_prev;
	if ((int32_t)acked < 0)
		acked = 0; /* a shrinking scoreboard delivered nothing */
	b->una_prev = c->snd_una;
	b->sacked_prev = sacked;
	b->rs_acked = acked;
	b->delivered += acked;
	if (acked)
		b->del_us = now;
	if (b->app_limited && (int32_t)(b->delivered - b->app_limited) > 0)
		b->app_limited = 0;
	if (b->anchor_valid) {
		const struct tcp_txrec *a = &b->anchor;
		uint32_t e;

		if (seq_leq(a->end, c->snd_una) ||
		    (tcp_sb_sacked(c, a->start, &e) && seq_geq(e, a->end))) {
			if (!b->rs_valid)
				tcp_bbr_rs_note(c, a, now - a->ts_us);
			b->anchor_valid = false;
		}
	}
	inflight = tcp_rack_pipe(c);
	b->round_start = false;
	if (b->rs_valid) {
		uint32_t iv = u32max(b->rs_send_elapsed, now - b->rs_prior_us);
		uint32_t d = b->delivered - b->rs_prior_delivered;

		/* An interval shorter than min_RTT is ACK compression; one
		 * within a clock reading (the stack reads it once per poll)
		 * counts as 1 us. */
		if (!iv)
			iv = 1;
		if (d && (b->min_rtt_us == UINT32_MAX || iv >= b->min_rtt_us))
			sample = (uint64_t)d * 1000000u / iv;
		if ((int32_t)(b->rs_prior_delivered - b->next_round_delivered) >= 0) {
			b->next_round_delivered = b->delivered;
			b->round_count++;
			b->round_start = true;
			b->conservation = false;
			b->bw_round[b->round_count % BBR_BW_ROUNDS] = 0;
		}
		if (sample && (sample >= b->bw || !b->rs_app_limited))
			update_bw(c, sample);
	}
	if (b->round_start && !b->bw)
		update_bw(c, 0); /* the slot reset may have emptied the filter */
	check_cycle_phase(c, inflight);
	check_full_pipe(b);
	if (b->mode == BBR_STARTUP && b->full_bw_reached)
		b->mode = BBR_DRAIN;
	if (b->mode == BBR_DRAIN && inflight <= bdp(c, GAIN_UNIT))
		enter_probe_bw(c);
	update_min_rtt(c, inflight);
	set_pacing_rate(c);
	set_cwnd(c, inflight, acked);
	/* Application-limited: nothing queued to send and room in cwnd. */
	if (!seq_lt(c->snd_max, tcp_fin_seq(c)) && inflight < c->cwnd)
		b->app_limited = u32max(b->delivered + inflight, 1);
	b->rs_valid = false;
}

void tcp_bbr_enter_recovery(struct floo_tcp *c)
{
	struct tcp_bbr *b = &c->bbr;

	save_cwnd(c);
	b->conservation = true;
	b->next_round_delivered = b->delivered; /* conservation for a round */
	c->cwnd = tcp_rack_pipe(c) + u32max(b->rs_acked, c->mss);
}

void tcp_bbr_exit_recovery(struct floo_tcp *c)
{
	c->bbr.conservation = false;
	restore_cwnd(c);
}

void tcp_bbr_timeout(struct floo_tcp *c)
{
	save_cwnd(c);
	c->bbr.conservation = false;
	c->bbr.rto_restore = true;
}
