/* BBR (tcp_bbr.c) against a simulated path: a sender driven by cwnd and
 * pacing, a FIFO bottleneck of a given rate, a fixed propagation RTT,
 * losses repaired a round trip later; ACKs go through the real SACK
 * scoreboard, RACK's update (the rate samples) and tcp_bbr_ack. Each
 * case checks what BBR does and CUBIC does not: the rate model, its
 * filters, the state machine and pacing. */
#include "harness.h"
#include "tcp_seg.h"

#define M     1000u
#define B0    100000u
#define NSEG  60000u
#define STEP  10u /* us per simulation step */
#define T0_NS 5000000000ull

struct sim {
	struct node *n;
	struct floo_tcp *c;
	uint64_t now_us, link_free_us;
	uint32_t rate;    /* bottleneck, bytes per second */
	uint32_t rtt_us;  /* propagation round trip */
	uint32_t loss;    /* every loss-th original segment is lost (0: none) */
	uint32_t app_gap; /* us between application writes (0: bulk) */
	uint64_t app_next_us;
	uint32_t nsent, una_idx;
	uint32_t fifo[NSEG], fh, fn;
	uint64_t ack_at[NSEG];
	bool delivered[NSEG], lost[NSEG];
	uint64_t rxt_at[NSEG];
	uint32_t nlost;
};

static struct sim S;

static void sim_init(uint32_t rate, uint32_t rtt_us)
{
	struct floo_config cfg;

	memset(&S, 0, sizeof(S));
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_pbufs = 256;
	cfg.n_tcp = 4;
	cfg.tcp_cc = FLOO_CC_BBR;
	cfg.tcp_pacing = FLOO_PACING_ON;
	S.n = node_new(&cfg, IP_A, 1);
	S.c = tcp_alloc(S.n->st);
	S.c->mss = M;
	S.c->flags = TF_SACK | TF_TS;
	S.c->state = TCP_ESTABLISHED;
	S.c->iss = B0 - 1;
	S.c->snd_una = S.c->snd_nxt = S.c->snd_max = B0;
	S.c->snd_buf_seq = B0;
	S.c->sndq_bytes = 1u << 30;
	S.c->srtt8 = 8 * (rtt_us / 1000);
	S.c->rto_ms = 200;
	S.n->st->now_ns = T0_NS;
	tcp_cc_init(S.c);
	S.rate = rate;
	S.rtt_us = rtt_us;
}

static void sim_fini(void)
{
	node_free(S.n);
}

static void set_now(uint64_t us)
{
	S.now_us = us;
	S.n->st->now_ns = T0_NS + us * 1000u;
	S.n->st->now_ms = (uint32_t)(S.n->st->now_ns / 1000000u);
}

/* Put segment i (seq B0 + i*M) through the bottleneck now. */
static void transmit(uint32_t i)
{
	uint64_t start = S.link_free_us > S.now_us ? S.link_free_us : S.now_us;

	tcp_txlog_add(S.c, B0 + i * M, M);
	S.link_free_us = start + (uint64_t)M * 1000000u / S.rate;
	if (S.loss && !S.lost[i] && i % S.loss == S.loss - 1) {
		S.lost[i] = true; /* repaired a round trip (and a bit) later */
		S.rxt_at[i] = S.now_us + S.rtt_us + S.rtt_us / 4;
		S.nlost++;
		return;
	}
	S.ack_at[i] = S.link_free_us + S.rtt_us;
	S.fifo[(S.fh + S.fn++) % NSEG] = i;
}

static void ack_one(uint32_t i)
{
	struct tcp_seg s;
	uint32_t old = S.c->snd_una, lo = i, hi = i + 1;

	S.delivered[i] = true;
	while (S.una_idx < S.nsent && S.delivered[S.una_idx])
		S.una_idx++;
	memset(&s, 0, sizeof(s));
	s.ack = B0 + S.una_idx * M;
	if (i >= S.una_idx) {
		while (lo > S.una_idx && S.delivered[lo - 1])
			lo--;
		while (hi < S.nsent && S.delivered[hi])
			hi++;
		s.nsack = 1;
		s.sack[0].start = B0 + lo * M;
		s.sack[0].end = B0 + hi * M;
	}
	(void)tcp_sb_update(S.c, &s);
	S.c->snd_una = s.ack;
	if (seq_lt(S.c->snd_nxt, S.c->snd_una))
		S.c->snd_nxt = S.c->snd_una;
	tcp_sb_prune(S.c);
	tcp_rack_update(S.c, old, &s);
	tcp_bbr_ack(S.c);
}

/* Run the path for ms milliseconds. */
static void sim_run(uint32_t ms)
{
	uint64_t end = S.now_us + (uint64_t)ms * 1000u;

	while (S.now_us < end) {
		set_now(S.now_us + STEP);
		while (S.fn && S.ack_at[S.fifo[S.fh]] <= S.now_us) {
			uint32_t i = S.fifo[S.fh];

			S.fh = (S.fh + 1) % NSEG;
			S.fn--;
			ack_one(i);
		}
		for (uint32_t i = S.una_idx; i < S.nsent; i++)
			if (S.lost[i] && S.rxt_at[i] && S.rxt_at[i] <= S.now_us) {
				S.rxt_at[i] = 0;
				transmit(i);
			}
		while (S.nsent < NSEG && tcp_rack_pipe(S.c) + M <= S.c->cwnd &&
		       (!S.app_gap || S.app_next_us <= S.now_us) && tcp_bbr_pace_ok(S.c)) {
			if (S.app_gap) { /* the application wrote just this */
				S.c->sndq_bytes = S.c->snd_max + M - S.c->snd_buf_seq;
				S.app_next_us = S.now_us + S.app_gap;
			} else {
				S.c->sndq_bytes = 1u << 30;
			}
			transmit(S.nsent++);
			S.c->snd_max += M;
			S.c->snd_nxt = S.c->snd_max;
		}
	}
}

static bool near(uint64_t v, uint64_t want, unsigned pct)
{
	return v * 100 >= want * (100 - pct) && v * 100 <= want * (100 + pct);
}

#define RATE 2000000u /* 2 MB/s: 2 segments per ms */
#define RTT  4000u    /* BDP 8 segments */

KT_CASE(bbr_estimates_bottleneck_rate_and_min_rtt)
{
	sim_init(RATE, RTT);
	CHECK(S.c->bbr.on && tcp_bbr_active(S.c));
	sim_run(300);
	CHECK(near(S.c->bbr.bw, RATE, 10));
	CHECK(S.c->bbr.min_rtt_us >= RTT && S.c->bbr.min_rtt_us <= RTT + 1100);
	CHECK(S.c->bbr.mode == BBR_PROBE_BW);
	/* cwnd is 2 BDP plus the aggregation allowance, not grown by loss-free
	 * ACKs without bound as a loss-based window would be */
	CHECK(S.c->cwnd <= tcp_bbr_target(S.c, 2000) && S.c->cwnd >= 2 * 8 * M);
	sim_fini();
}

KT_CASE(bbr_startup_exits_after_three_rounds_without_growth)
{
	uint32_t rounds = 0;

	sim_init(RATE, RTT);
	while (!S.c->bbr.full_bw_reached && S.now_us < 200000) {
		sim_run(1);
		if (S.c->bbr.round_start)
			rounds++;
	}
	CHECK(S.c->bbr.full_bw_reached);
	/* Doubling from 10 segments meets the 8-segment BDP at once, then
	 * three rounds without 25% growth: not before round 4, soon after. */
	CHECK(S.c->bbr.round_count >= 4 && S.c->bbr.round_count <= 9);
	CHECK(S.c->bbr.full_bw_cnt == 3);
	CHECK(S.c->bbr.mode == BBR_DRAIN || S.c->bbr.mode == BBR_PROBE_BW);
	sim_run(50);
	CHECK(S.c->bbr.mode == BBR_PROBE_BW); /* the queue drained */
	(void)rounds;
	sim_fini();
}

KT_CASE(bbr_bandwidth_filter_is_a_max_over_ten_rounds)
{
	uint32_t r0;

	sim_init(RATE, RTT);
	sim_run(300);
	CHECK(near(S.c->bbr.bw, RATE, 10));
	S.rate = RATE / 2; /* the bottleneck halves */
	r0 = S.c->bbr.round_count;
	while (S.c->bbr.round_count < r0 + 6 && S.now_us < 2000000)
		sim_run(1);
	CHECK(near(S.c->bbr.bw, RATE, 10)); /* the old max holds */
	while (S.c->bbr.round_count < r0 + 13 && S.now_us < 2000000)
		sim_run(1);
	CHECK(near(S.c->bbr.bw, RATE / 2, 15)); /* ten rounds later it is gone */
	sim_fini();
}

KT_CASE(bbr_min_rtt_expires_into_probe_rtt)
{
	uint64_t t;
	bool seen = false, small = true;

	sim_init(RATE, RTT);
	sim_run(300);
	CHECK(S.c->bbr.min_rtt_us < RTT + 1100);
	S.rtt_us = 2 * RTT; /* the path lengthens: no lower sample comes */
	t = S.now_us;
	while (S.now_us - t < 10500000 && !seen) {
		sim_run(10);
		seen = S.c->bbr.mode == BBR_PROBE_RTT;
	}
	CHECK(seen);
	CHECK(S.now_us - t >= 9700000); /* 10 s after the last minimum */
	t = S.now_us;
	while (S.c->bbr.mode == BBR_PROBE_RTT && S.now_us - t < 1000000) {
		sim_run(1);
		if (S.c->bbr.mode == BBR_PROBE_RTT && S.c->cwnd > 4 * M)
			small = false;
	}
	CHECK(small); /* 4 segments while probing */
	CHECK(S.c->bbr.mode == BBR_PROBE_BW);
	CHECK(S.now_us - t >= 200000 && S.now_us - t < 300000);
	CHECK(S.c->bbr.min_rtt_us >= 2 * RTT); /* the new path's */
	sim_fini();
}

KT_CASE(bbr_pacing_spreads_a_window_over_the_rtt)
{
	struct floo_tcp *c;
	uint64_t first = 0, last = 0;
	uint32_t sent = 0, win;

	sim_init(RATE, RTT);
	sim_run(300);
	c = S.c;
	/* Pacing near the bottleneck rate: a window's worth of frames leaves
	 * over about a round trip, not in one burst. */
	CHECK(near(c->bbr.pacing_rate, RATE, 30));
	win = 16 * M; /* the PROBE_BW window: 2 BDP */
	set_now(S.now_us + 100000);
	for (uint32_t k = 0; k < 100000 && sent < win; k++) {
		set_now(S.now_us + STEP);
		if (tcp_bbr_pace_ok(c)) {
			struct tcp_txrec r = {0};

			tcp_bbr_sent(c, &r, M);
			if (!sent)
				first = S.now_us;
			last = S.now_us;
			sent += M;
		} else {
			CHECK(c->t_pace == c->bbr.pace_next_ns);
		}
	}
	CHECK(sent == win);
	/* 1 ms of credit goes at once, the rest at the pacing rate */
	CHECK(last - first >=
	      (uint64_t)(win - M) * 1000000u / c->bbr.pacing_rate - 1000 - 2 * STEP);
	CHECK(last - first >= RTT);                /* one burst would be 0 */
	CHECK(tcp_bbr_seg_cap(c, 64000) <= 4 * M); /* frames of ~1 ms */
	sim_fini();
}

KT_CASE(bbr_random_loss_does_not_cut_the_rate)
{
	uint64_t bw;
	uint32_t cwnd;

	sim_init(RATE, RTT);
	sim_run(300);
	bw = S.c->bbr.bw;
	cwnd = S.c->cwnd;
	S.loss = 20; /* 5% of the segments */
	sim_run(400);
	CHECK(S.nlost >= 20);
	CHECK(near(S.c->bbr.bw, bw, 10));
	CHECK(S.c->bbr.pacing_rate * 10 >= bw * 7);
	CHECK(S.c->cwnd * 10 >= cwnd * 9); /* CUBIC: x0.7 per loss event */
	/* and the path stayed full: ~2 segments per ms delivered */
	CHECK(S.una_idx >= 600 * 2 * 90 / 100);
	sim_fini();
}

KT_CASE(bbr_app_limited_samples_do_not_lower_the_estimate)
{
	sim_init(RATE, RTT);
	sim_run(300);
	CHECK(near(S.c->bbr.bw, RATE, 10));
	S.app_gap = 2000; /* the application writes a quarter of the rate */
	sim_run(40 * RTT / 1000);
	CHECK(S.c->bbr.app_limited != 0);
	CHECK(near(S.c->bbr.bw, RATE, 10)); /* 40 rounds: the filter would have aged out */
	sim_fini();
}

KT_CASE(bbr_recovery_conserves_packets_then_restores_the_window)
{
	uint32_t cwnd, pipe;

	sim_init(RATE, RTT);
	sim_run(300);
	cwnd = S.c->cwnd;
	S.c->flags |= TF_RECOVERY;
	S.c->bbr.rs_acked = M;
	tcp_bbr_enter_recovery(S.c);
	pipe = tcp_rack_pipe(S.c);
	CHECK(S.c->cwnd == pipe + M);
	CHECK(S.c->bbr.conservation && S.c->bbr.prior_cwnd == cwnd);
	S.c->flags &= (uint16_t)~TF_RECOVERY;
	S.c->cwnd = 4 * M;
	tcp_bbr_exit_recovery(S.c);
	CHECK(S.c->cwnd == cwnd && !S.c->bbr.conservation);
	sim_fini();
}

KT_CASE(bbr_by_default_and_off_without_sack)
{
	struct floo_config cfg;

	floo_config_default(&cfg);
	CHECK(cfg.tcp_cc == FLOO_CC_BBR);
	sim_init(RATE, RTT);
	S.c->flags &= (uint16_t)~TF_SACK;
	CHECK(!tcp_bbr_active(S.c));
	sim_fini();
}

/* ---- a whole connection over the harness link, BBR on both ends ---- */

static uint32_t drop_n;

static bool drop_every_17th(struct node *from, uint8_t *f, uint32_t len)
{
	uint32_t seq, plen;
	uint8_t fl;

	(void)from;
	if (!frame_tcp(f, len, &seq, &plen, &fl) || !plen)
		return true;
	return ++drop_n % 17 != 0;
}

KT_CASE(bbr_connection_transfers_intact_through_losses_with_pacing)
{
	static uint8_t data[600000];
	struct floo_config cfg;
	struct node *a, *b;
	struct app ca, sa;

	for (uint32_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 13 + (i >> 10));
	memset(&cfg, 0, sizeof(cfg));
	cfg.n_pbufs = 1024;
	cfg.n_tcp = 8;
	cfg.tcp_cc = FLOO_CC_BBR;
	cfg.tcp_pacing = FLOO_PACING_ON;
	a = node_new(&cfg, IP_A, 1);
	b = node_new(&cfg, IP_B, 2);
	node_link(a, b);
	app_init(&ca, 1 << 20);
	app_init(&sa, 1 << 20);
	floo_tcp_listen(b->st, 80, app_cb, &sa);
	floo_tcp_connect(a->st, IP_B, 80, app_cb, &ca);
	run_ms(a, b, 20);
	CHECK(ca.c && tcp_bbr_active(ca.c));
	drop_n = 0;
	a->filter = drop_every_17th;
	for (uint32_t off = 0; off < sizeof(data); off += 100000) {
		floo_tcp_send(ca.c, data + off, 100000, NULL);
		run_step(a, b, 60, 100);
	}
	run_step(a, b, 500, 100);
	CHECK(sa.rx_len == sizeof(data) && !memcmp(sa.rx, data, sizeof(data)));
	CHECK(drop_n >= 17 * 10);
	CHECK(ca.c->bbr.pacing_rate > 0 && ca.c->bbr.bw > 0);
	CHECK(floo_stats(a->st)->tcp_recoveries > 0);
	CHECK(tcp_timer_check(a->st));
	CHECK_NO_LEAK(b);
	app_fini(&ca);
	app_fini(&sa);
	node_free(a);
	node_free(b);
}
