/* SACK (RFC 2018), the RFC 6675 scoreboard and recovery, RACK-TLP
 * (RFC 8985): option parsing and generation, scoreboard rules, RACK's
 * reordering window and loss marking, the probe timer, and whole
 * connections recovering without a retransmission timeout. */
#include "harness.h"
#include "tcp_seg.h"

#define M  1000u   /* MSS of the hand-made connections */
#define B0 100000u /* their SND.UNA */

/* ---- option parsing ---- */

KT_CASE(sack_option_parse_valid_malformed_and_permitted)
{
	const uint8_t two[] = {1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40};
	const uint8_t odd[] = {5, 11, 0, 0, 0, 10, 0, 0, 0, 20, 0};
	const uint8_t empty[] = {5, 2};
	const uint8_t five[] = {5, 42};
	const uint8_t perm[] = {4, 2, 1, 1};
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	CHECK(tcp_parse_options(two, sizeof(two), &s) && s.nsack == 2);
	CHECK(s.sack[0].start == 10 && s.sack[0].end == 20);
	CHECK(s.sack[1].start == 30 && s.sack[1].end == 40);
	/* Malformed SACKs are ignored, the segment kept (as Linux does). */
	memset(&s, 0, sizeof(s));
	CHECK(tcp_parse_options(odd, sizeof(odd), &s) && s.nsack == 0);
	CHECK(tcp_parse_options(empty, sizeof(empty), &s) && s.nsack == 0);
	/* A length past the option space is malformed like any other. */
	CHECK(!tcp_parse_options(five, sizeof(five), &s));
	memset(&s, 0, sizeof(s));
	CHECK(tcp_parse_options(perm, sizeof(perm), &s) && s.sack_ok);
}

/* ---- the receiver: negotiation and blocks (RFC 2018 2 and 4) ---- */

static const uint8_t syn_sack[] = {4, 2, 1, 1};

/* SACK blocks of the segment the raw peer took last (0 without option). */
static unsigned taken_blocks(struct raw *r, struct tcp_range *b)
{
	const uint8_t *t = r->f + 34;
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	if (!tcp_parse_options(t + 20, (uint32_t)(t[12] >> 4) * 4 - 20, &s))
		return 99;
	memcpy(b, s.sack, sizeof(s.sack));
	return s.nsack;
}

static bool has_sack_permitted(const uint8_t *f)
{
	const uint8_t *t = f + 34;
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	return tcp_parse_options(t + 20, (uint32_t)(t[12] >> 4) * 4 - 20, &s) && s.sack_ok;
}

KT_CASE(sack_permitted_negotiated_only_when_offered)
{
	struct raw r;
	struct floo_tcp *c;

	CHECK(raw_open(&r, NULL, 0));
	c = r.sa.c;
	CHECK(c && !(c->flags & TF_SACK));
	raw_close(&r);
	CHECK(raw_open(&r, syn_sack, sizeof(syn_sack)));
	c = r.sa.c;
	CHECK(c && (c->flags & TF_SACK));
	raw_close(&r);
}

KT_CASE(sack_syn_ack_echoes_permitted_and_active_open_offers_it)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct app a;
	uint8_t f[2048];
	uint32_t len;
	bool seen = false;

	app_init(&a, 64);
	arp_learn(n->st, PEER, peer_mac, true);
	floo_tcp_connect(n->st, PEER, 80, app_cb, &a);
	floo_poll(n->st);
	while ((len = take(n, f)))
		if (len >= 54 && f[23] == 6 && f[34 + 13] == TH_SYN)
			seen = has_sack_permitted(f);
	CHECK(seen);
	app_fini(&a);
	node_free(n);
}

/* Out-of-order segments of 100 bytes at these offsets from r->snd; the
 * ACK each one triggers must list blocks exactly as want says. */
static void ooo_send(struct raw *r, uint32_t off)
{
	static uint8_t d[100];

	raw_send(r, r->snd + off, TH_ACK, d, 100);
}

static bool blocks_are(struct raw *r, unsigned n, const uint32_t *want)
{
	uint32_t seq, ack, plen, last = 0;
	struct tcp_range b[TCP_SACK_BLOCKS];
	unsigned got = 0;
	uint16_t win;
	uint8_t fl;

	while (raw_take(r, &seq, &ack, &fl, &plen, &win)) {
		got = taken_blocks(r, b);
		last = 1;
	}
	if (!last || got != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (b[i].start != r->snd + want[2 * i] || b[i].end != r->snd + want[2 * i + 1])
			return false;
	return true;
}

KT_CASE(sack_receiver_blocks_follow_rfc2018_rules)
{
	struct raw r;

	CHECK(raw_open(&r, syn_sack, sizeof(syn_sack)));
	drain(r.n);
	ooo_send(&r, 200); /* hole at 0..200 */
	CHECK(blocks_are(&r, 1, (uint32_t[]){200, 300}));
	ooo_send(&r, 500); /* the newest block first, then the older */
	CHECK(blocks_are(&r, 2, (uint32_t[]){500, 600, 200, 300}));
	ooo_send(&r, 800);
	CHECK(blocks_are(&r, 3, (uint32_t[]){800, 900, 500, 600, 200, 300}));
	ooo_send(&r, 300); /* joins 200..300: that run comes first */
	CHECK(blocks_are(&r, 3, (uint32_t[]){200, 400, 800, 900, 500, 600}));
	ooo_send(&r, 400); /* 200..600 now one run */
	CHECK(blocks_are(&r, 2, (uint32_t[]){200, 600, 800, 900}));
	ooo_send(&r, 500); /* a duplicate: D-SACK first (RFC 2883), then its run */
	CHECK(blocks_are(&r, 3, (uint32_t[]){500, 600, 200, 600, 800, 900}));
	ooo_send(&r, 0); /* fills the front: reported blocks go in order */
	CHECK(r.sa.rx_len == 100);
	ooo_send(&r, 100);
	CHECK(r.sa.rx_len == 600);
	drain(r.n);
	ooo_send(&r, 1000); /* 800..900 still queued, 1000 is the newest */
	CHECK(blocks_are(&r, 2, (uint32_t[]){1000, 1100, 800, 900}));
	CHECK(floo_pbuf_free_count(r.n->st) + r.sa.c->ooo_n == r.n->st->cfg.n_pbufs);
	raw_close(&r);
}

KT_CASE(sack_blocks_limited_to_the_option_space)
{
	struct raw r;
	uint8_t o[40];

	CHECK(raw_open(&r, syn_sack, sizeof(syn_sack)));
	drain(r.n);
	for (uint32_t i = 1; i <= 5; i++)
		ooo_send(&r, i * 200);
	/* Without timestamps four blocks fit in 40 bytes ... */
	CHECK(blocks_are(&r, 4, (uint32_t[]){1000, 1100, 800, 900, 600, 700, 400, 500}));
	/* ... beside them (12 bytes) three, with NOP, NOP, kind, length. */
	CHECK(tcp_sack_option(r.sa.c, o, 28) == 28 && o[0] == 1 && o[1] == 1 && o[2] == 5 &&
	      o[3] == 26);
	CHECK(get_be32(o + 4) == r.snd + 1000 && get_be32(o + 24) == r.snd + 700);
	CHECK(tcp_sack_option(r.sa.c, o, 11) == 0); /* not even one block */
	raw_close(&r);
}

/* ---- the sender's scoreboard (RFC 6675 with RFC 2018 blocks) ---- */

/* A connection slot of n's stack (so its timers use the stack's heap),
 * filled by hand; node_free() takes it with the stack's memory. */
static struct floo_tcp *fake_conn(struct node *n)
{
	struct floo_tcp *c = tcp_alloc(n->st);

	c->mss = M;
	c->flags = TF_SACK | TF_TS;
	c->state = TCP_ESTABLISHED;
	c->snd_una = c->snd_nxt = B0;
	c->snd_max = B0 + 20 * M;
	c->cwnd = 20 * M;
	c->srtt8 = 8 * 10; /* 10 ms */
	c->rto_ms = 200;
	return c;
}

/* Feed an ACK at B0 + ack*M carrying blocks (in MSS units). */
static uint32_t sb_ack(struct floo_tcp *c, uint32_t ack, unsigned n, const uint32_t *blk)
{
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.ack = B0 + ack * M;
	s.nsack = (uint8_t)n;
	for (unsigned i = 0; i < n; i++) {
		s.sack[i].start = B0 + blk[2 * i] * M;
		s.sack[i].end = B0 + blk[2 * i + 1] * M;
	}
	return tcp_sb_update(c, &s);
}

static bool sb_is(const struct floo_tcp *c, unsigned n, const uint32_t *want)
{
	if (c->sb_n != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (c->sb[i].start != B0 + want[2 * i] * M ||
		    c->sb[i].end != B0 + want[2 * i + 1] * M)
			return false;
	return true;
}

KT_CASE(sack_scoreboard_merges_clips_and_prunes)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	CHECK(sb_ack(c, 0, 1, (uint32_t[]){5, 6}) == M);
	CHECK(sb_ack(c, 0, 1, (uint32_t[]){2, 3}) == M);
	CHECK(sb_is(c, 2, (uint32_t[]){2, 3, 5, 6}));
	CHECK(sb_ack(c, 0, 1, (uint32_t[]){5, 6}) == 0);     /* nothing new */
	CHECK(sb_ack(c, 0, 1, (uint32_t[]){3, 5}) == 2 * M); /* bridges both */
	CHECK(sb_is(c, 1, (uint32_t[]){2, 6}));
	CHECK(sb_ack(c, 0, 1, (uint32_t[]){8, 25}) == 0); /* beyond SND.MAX */
	CHECK(sb_ack(c, 3, 1, (uint32_t[]){1, 3}) == 0);  /* at or below the ACK */
	CHECK(sb_ack(c, 0, 1, (uint32_t[]){7, 7}) == 0);  /* empty */
	CHECK(sb_ack(c, 0, 2, (uint32_t[]){10, 11, 12, 13}) == 2 * M);
	CHECK(sb_is(c, 3, (uint32_t[]){2, 6, 10, 11, 12, 13}));
	c->snd_una = B0 + 4 * M; /* cumulative ACK into the first range */
	tcp_sb_prune(c);
	CHECK(sb_is(c, 3, (uint32_t[]){4, 6, 10, 11, 12, 13}));
	c->snd_una = B0 + 11 * M;
	tcp_sb_prune(c);
	CHECK(sb_is(c, 1, (uint32_t[]){12, 13}));
	/* A full table drops a new disjoint block (only costs a resend). */
	c->snd_una = B0;
	c->sb_n = 0;
	c->snd_max = B0 + 100 * M;
	for (uint32_t i = 0; i < TCP_SB_MAX; i++)
		(void)sb_ack(c, 0, 1, (uint32_t[]){2 * i + 1, 2 * i + 2});
	CHECK(c->sb_n == TCP_SB_MAX);
	CHECK(sb_ack(c, 0, 1, (uint32_t[]){60, 61}) == 0 && c->sb_n == TCP_SB_MAX);
	CHECK(sb_ack(c, 0, 1, (uint32_t[]){2, 3}) == M && c->sb_n == TCP_SB_MAX - 1);
	node_free(n);
}

KT_CASE(sack_is_lost_by_dupthresh_segments_or_bytes)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	(void)sb_ack(c, 0, 1, (uint32_t[]){1, 2});
	CHECK(!tcp_sb_is_lost(c, B0));
	(void)sb_ack(c, 0, 1, (uint32_t[]){3, 4});
	CHECK(!tcp_sb_is_lost(c, B0)); /* two segments: 2 * SMSS, not more */
	(void)sb_ack(c, 0, 1, (uint32_t[]){5, 6});
	CHECK(tcp_sb_is_lost(c, B0));          /* three SACKed segments above */
	CHECK(!tcp_sb_is_lost(c, B0 + 2 * M)); /* only two above 2 */
	/* Bytes rule: one SACKed range of more than 2 * SMSS above. */
	c->sb_n = 0;
	(void)sb_ack(c, 0, 1, (uint32_t[]){8, 11});
	CHECK(tcp_sb_is_lost(c, B0 + 7 * M));
	node_free(n);
}

/* SetPipe() and NextSeg() of RFC 6675 (no RACK state yet): SND.UNA = 0,
 * SND.MAX = 10, SACKed 3, 5 and 7 (in MSS). Holes 0..3 (three SACKed
 * above: lost), 4 and 6 (not lost), 8..10 (above the highest SACK). */
KT_CASE(sack_pipe_and_next_segment_rules)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t seq, len;

	c->snd_max = B0 + 10 * M;
	(void)sb_ack(c, 0, 3, (uint32_t[]){3, 4, 5, 6, 7, 8});
	CHECK(tcp_rack_pipe(c) == 4 * M);
	CHECK(tcp_rack_next_hole(c, false, &seq, &len) && seq == B0 && len == M);
	c->flags |= TF_RECOVERY;
	c->high_rxt = B0 + 2 * M; /* 0..2 retransmitted: in flight again */
	CHECK(tcp_rack_pipe(c) == 6 * M);
	CHECK(tcp_rack_next_hole(c, false, &seq, &len) && seq == B0 + 2 * M && len == M);
	c->high_rxt = B0 + 3 * M;
	/* Rule 1 finds nothing; rule 3 takes the first hole below the
	 * highest SACK, never the tail above it. */
	CHECK(!tcp_rack_next_hole(c, false, &seq, &len));
	CHECK(tcp_rack_next_hole(c, true, &seq, &len) && seq == B0 + 4 * M && len == M);
	c->high_rxt = B0 + 7 * M;
	CHECK(!tcp_rack_next_hole(c, true, &seq, &len));
	node_free(n);
}

KT_CASE(sack_counting_rule_off_once_the_path_reorders)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t seq, len;

	c->snd_max = B0 + 10 * M;
	(void)sb_ack(c, 0, 3, (uint32_t[]){3, 4, 5, 6, 7, 8});
	CHECK(tcp_rack_next_hole(c, false, &seq, &len)); /* IsLost(0) */
	c->rack_reord = true;                            /* overtaken segments look lost by count */
	CHECK(!tcp_rack_next_hole(c, false, &seq, &len));
	CHECK(tcp_rack_pipe(c) == 7 * M); /* nothing counted lost */
	node_free(n);
}

/* ---- RACK (RFC 8985 6) ---- */

static void at_ms(struct floo_tcp *c, uint32_t ms)
{
	c->st->now_ns = 5000000000ull + (uint64_t)ms * 1000000ull;
}

/* Segments 0..k-1 of M bytes sent at 0, 1, ... ms. */
static void sent_one_per_ms(struct floo_tcp *c, uint32_t k)
{
	c->snd_max = B0;
	for (uint32_t i = 0; i < k; i++) {
		at_ms(c, i);
		tcp_txlog_add(c, B0 + i * M, M);
		c->snd_max += M;
	}
}

static void sack_at(struct floo_tcp *c, uint32_t ms, uint32_t from, uint32_t to)
{
	struct tcp_seg s;

	at_ms(c, ms);
	memset(&s, 0, sizeof(s));
	s.ack = c->snd_una;
	s.nsack = 1;
	s.sack[0].start = B0 + from * M;
	s.sack[0].end = B0 + to * M;
	(void)tcp_sb_update(c, &s);
	tcp_rack_update(c, c->snd_una, &s);
}

KT_CASE(rack_marks_lost_after_rtt_and_reordering_window)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t seq, len;

	sent_one_per_ms(c, 6);
	sack_at(c, 14, 4, 5); /* segment 4 (sent at 4 ms) delivered at 14 */
	CHECK(c->rack_valid && c->rack_rtt_us == 10000 && c->rack_min_rtt_us == 10000);
	/* No reordering seen, not in recovery, one SACKed segment: the
	 * window is min_RTT / 4 = 2.5 ms. Segment 0 is lost at 0 + 10 + 2.5. */
	CHECK(tcp_rack_reo_wnd_us(c) == 2500);
	CHECK(tcp_rack_detect(c)); /* at 14 ms: 0 and 1 (1 + 12.5 <= 14) */
	CHECK(tcp_rack_next_hole(c, false, &seq, &len) && seq == B0);
	at_ms(c, 12);
	CHECK(!tcp_rack_detect(c));                 /* at 12 ms nothing yet ... */
	CHECK(c->t_rack == c->st->now_ns + 500000); /* ... segment 0 at 12.5 */
	at_ms(c, 13);
	CHECK(tcp_rack_detect(c));
	/* Segment 5 was sent after the RACK segment: never lost by RACK. */
	at_ms(c, 1000);
	c->snd_una = B0 + 4 * M;
	tcp_sb_prune(c);
	CHECK(tcp_rack_pipe(c) == M);
	CHECK(!tcp_rack_detect(c));
	node_free(n);
}

KT_CASE(rack_reordering_window_zero_in_recovery_until_reordering_seen)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	sent_one_per_ms(c, 8);
	sack_at(c, 14, 4, 5);
	c->flags |= TF_RECOVERY;
	CHECK(tcp_rack_reo_wnd_us(c) == 0);
	/* Segment 2, an original, delivered below the highest SACK (5):
	 * the path reorders, and the window comes back even in recovery. */
	sack_at(c, 15, 2, 3);
	CHECK(c->rack_reord && tcp_rack_reo_wnd_us(c) == c->rack_min_rtt_us / 4);
	/* ... but never above SRTT. */
	c->srtt8 = 8 * 1; /* 1 ms */
	CHECK(tcp_rack_reo_wnd_us(c) == 1000);
	node_free(n);
}

KT_CASE(rack_finds_a_lost_retransmission)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t seq, len;

	sent_one_per_ms(c, 6);
	sack_at(c, 14, 1, 5);
	CHECK(tcp_rack_detect(c));
	c->flags |= TF_RECOVERY;
	at_ms(c, 20); /* segment 0 retransmitted at 20 ms */
	tcp_txlog_add(c, B0, M);
	c->high_rxt = B0 + M;
	CHECK(!tcp_rack_next_hole(c, false, &seq, &len)); /* in flight again */
	CHECK(tcp_rack_pipe(c) == 2 * M);                 /* it and segment 5 */
	at_ms(c, 21); /* segment 6, sent after the retransmission ... */
	tcp_txlog_add(c, B0 + 6 * M, M);
	c->snd_max += M;
	sack_at(c, 31, 6, 7); /* ... is delivered; the retransmission is not */
	at_ms(c, 40);
	CHECK(tcp_rack_detect(c));
	CHECK(tcp_rack_next_hole(c, false, &seq, &len) && seq == B0 && len == M);
	node_free(n);
}

/* Bug (issue 14 item 6, fifth pass): a piece whose transmission fell
 * off the 32-entry log was never judged by RACK, and with reordering
 * seen not by RFC 6675's count either: with BBR's flights of hundreds of
 * segments the holes at SND.UNA waited for the RTO. */
KT_CASE(rack_judges_a_transmission_that_fell_off_the_log)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t seq, len;

	sent_one_per_ms(c, TCP_TXLOG + 8); /* segments 0..7 fell off */
	c->rack_reord = true;              /* no counting rule: RACK alone */
	sack_at(c, TCP_TXLOG + 20, 8, TCP_TXLOG + 8);
	CHECK(c->rack_valid && c->txlog_n == TCP_TXLOG);
	/* RACK's segment (the last, sent at 39 ms) took 1 ms; segment 0 left
	 * before segment 8 (8 ms), so it is lost from 8 + RTT + window on. */
	at_ms(c, TCP_TXLOG + 20);
	CHECK(tcp_rack_detect(c));
	CHECK(tcp_rack_next_hole(c, false, &seq, &len) && seq == B0 && len == M);
	CHECK(tcp_rack_pipe(c) == 0);
	node_free(n);
}

/* Bug (issue 14 item 6, fifth pass): SACK blocks of an old ACK, one
 * overtaken by newer ones on a reordering path, were believed above that
 * ACK rather than above SND.UNA: ranges below SND.UNA sat in the
 * scoreboard, taking its slots and counting as SACKed bytes, until
 * SND.UNA moved again. */
KT_CASE(sack_blocks_of_an_old_ack_stay_out_of_the_scoreboard)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	c->snd_una = B0 + 5 * M;
	CHECK(sb_ack(c, 2, 2, (uint32_t[]){3, 4, 7, 8}) == M);
	CHECK(sb_is(c, 1, (uint32_t[]){7, 8}));
	CHECK(sb_ack(c, 2, 1, (uint32_t[]){4, 6}) == M); /* clipped at SND.UNA */
	CHECK(sb_is(c, 2, (uint32_t[]){5, 6, 7, 8}));
	CHECK(tcp_sb_bytes(c) == 2 * M);
	node_free(n);
}

/* ---- TLP (RFC 8985 7) ---- */

KT_CASE(tlp_probe_timeout_rules)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	at_ms(c, 0);
	c->t_rexmt = c->st->now_ns + 200000000ull;
	CHECK(tcp_pto_ms(c) == 20); /* 2 * SRTT */
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == c->st->now_ns + 20000000ull);
	c->snd_max = c->snd_una + M; /* one segment: + worst-case delayed ACK */
	CHECK(tcp_pto_ms(c) == 20 + TCP_WCDELACK_MS);
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == c->t_rexmt); /* never after the RTO */
	c->snd_max = c->snd_una + 20 * M;
	c->srtt8 = 4; /* 0.5 ms: the 2 ms floor */
	CHECK(tcp_pto_ms(c) == TCP_PTO_MIN_MS);
	c->snd_nxt = c->snd_max;
	c->flags |= TF_RECOVERY; /* the repair probe, once per silence */
	c->tlp_end = c->snd_max; /* (a loss probe out does not count) */
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == c->st->now_ns + (uint64_t)TCP_PTO_MIN_MS * 1000000u);
	c->rprobe_out = true;
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == 0);
	c->rprobe_out = false;
	c->flags &= (uint16_t)~TF_RECOVERY;
	c->tlp_end = c->snd_max; /* a probe is out: no second one */
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == 0);
	c->tlp_end = 0;
	c->srtt8 = 0; /* no RTT sample yet */
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == 0);
	c->srtt8 = 80;
	c->flags &= (uint16_t)~TF_SACK;
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == 0);
	c->flags |= TF_SACK;
	c->snd_max = c->snd_una;
	tcp_tlp_arm(c);
	CHECK(c->t_tlp == 0);
	node_free(n);
}

/* ---- whole connections ---- */

static uint32_t d_count, d_first, d_last, d_every_from;
static bool d_retx_too;
static uint32_t d_seen_seq[64], d_seen_n;

/* Drop A's data segments number d_first..d_last (1-based) and, with
 * d_retx_too, the first retransmission of each of them as well. */
static bool drop_some(struct node *from, uint8_t *f, uint32_t len)
{
	uint32_t seq, plen;
	uint8_t fl;

	(void)from;
	if (!frame_tcp(f, len, &seq, &plen, &fl) || !plen)
		return true;
	d_count++;
	if (d_count >= d_first && d_count <= d_last &&
	    (!d_every_from || (d_count - d_first) % d_every_from == 0)) {
		if (d_seen_n < 64)
			d_seen_seq[d_seen_n++] = seq;
		return false;
	}
	if (d_retx_too) {
		for (uint32_t i = 0; i < d_seen_n; i++) {
			if (d_seen_seq[i] == seq) {
				d_seen_seq[i] = 0; /* only the first resend */
				return false;
			}
		}
	}
	return true;
}

static void drops(uint32_t first, uint32_t last, uint32_t every, bool retx)
{
	d_count = d_seen_n = 0;
	d_first = first;
	d_last = last;
	d_every_from = every;
	d_retx_too = retx;
}

/* A connected pair (SACK on both sides), B receiving. */
static void sack_pair(struct node **a, struct node **b, struct app *ca, struct app *sa)
{
	*a = node_new(NULL, IP_A, 1);
	*b = node_new(NULL, IP_B, 2);
	node_link(*a, *b);
	app_init(ca, 1 << 20);
	app_init(sa, 1 << 20);
	floo_tcp_listen((*b)->st, 80, app_cb, sa);
	floo_tcp_connect((*a)->st, IP_B, 80, app_cb, ca);
	run_ms(*a, *b, 20);
}

static void send_and_run(struct node *a, struct node *b, struct app *ca, const uint8_t *data,
                         uint32_t len, uint32_t ms)
{
	floo_tcp_send(ca->c, data, len, NULL);
	run_step(a, b, ms, 500);
}

static uint8_t pattern[1 << 20];

static void fill(void)
{
	for (uint32_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 9));
}

/* The end of a two-node case: nothing of b's leaked, both apps and nodes freed. */
static void pair_done(struct node *a, struct node *b, struct app *ca, struct app *sa)
{
	CHECK_NO_LEAK(b);
	app_fini(ca);
	app_fini(sa);
	node_free(a);
	node_free(b);
}

KT_CASE(tcp_sack_recovers_many_losses_in_one_window_without_rto)
{
	struct node *a, *b;
	struct app ca, sa;

	fill();
	sack_pair(&a, &b, &ca, &sa);
	CHECK(ca.c && (ca.c->flags & TF_SACK));
	send_and_run(a, b, &ca, pattern, 200000, 100); /* open cwnd */
	drops(10, 30, 3, false);                       /* 7 losses in one window */
	a->filter = drop_some;
	send_and_run(a, b, &ca, pattern + 200000, 60000, 150);
	CHECK(sa.rx_len == 260000 && !memcmp(sa.rx, pattern, 260000));
	CHECK(d_seen_n == 7);
	CHECK(floo_stats(a->st)->tcp_timeouts == 0);
	/* Only what was lost went again (no go-back-N), besides a loss
	 * probe when the receiver delays its last ACK past the PTO. */
	CHECK(floo_stats(a->st)->tcp_fast_retrans >= 7 &&
	      floo_stats(a->st)->tcp_fast_retrans <= 7 + floo_stats(a->st)->tcp_loss_probes);
	pair_done(a, b, &ca, &sa);
}

/* After `first` bytes, `more` bytes of which the fifth segment and its
 * first retransmission are dropped; returns the bytes sent in all. */
static uint32_t lose_a_retransmission(struct node **a, struct node **b, struct app *ca,
                                      struct app *sa, uint32_t first, uint32_t more)
{
	fill();
	sack_pair(a, b, ca, sa);
	send_and_run(*a, *b, ca, pattern, first, 100);
	drops(5, 5, 0, true);
	(*a)->filter = drop_some;
	send_and_run(*a, *b, ca, pattern + first, more, 150);
	return first + more;
}

KT_CASE(tcp_lost_retransmission_found_by_rack_without_rto)
{
	struct node *a, *b;
	struct app ca, sa;
	uint32_t n = lose_a_retransmission(&a, &b, &ca, &sa, 200000, 40000);

	CHECK(sa.rx_len == n && !memcmp(sa.rx, pattern, n));
	CHECK(d_seen_n == 1 && d_seen_seq[0] == 0); /* both copies dropped */
	CHECK(floo_stats(a->st)->tcp_timeouts == 0);
	CHECK(floo_stats(a->st)->tcp_rack_lost >= 1);
	pair_done(a, b, &ca, &sa);
}

KT_CASE(tcp_tail_loss_recovered_by_probe_without_rto)
{
	struct node *a, *b;
	struct app ca, sa;

	fill();
	sack_pair(&a, &b, &ca, &sa);
	send_and_run(a, b, &ca, pattern, 100000, 100);
	drops(4, 5, 0, false); /* the last two of five: no ACK would come */
	a->filter = drop_some;
	send_and_run(a, b, &ca, pattern + 100000, 5 * ca.c->mss, 150);
	if (getenv("DBG"))
		fprintf(stderr,
		        "rx %u probes %llu rack %llu fast %llu to %llu valid %d min %u reord %d\n",
		        sa.rx_len, (unsigned long long)floo_stats(a->st)->tcp_loss_probes,
		        (unsigned long long)floo_stats(a->st)->tcp_rack_lost,
		        (unsigned long long)floo_stats(a->st)->tcp_fast_retrans,
		        (unsigned long long)floo_stats(a->st)->tcp_timeouts, ca.c->rack_valid,
		        ca.c->rack_min_rtt_us, ca.c->rack_reord);
	CHECK(sa.rx_len == 100000 + 5u * ca.c->mss && !memcmp(sa.rx, pattern, sa.rx_len));
	CHECK(floo_stats(a->st)->tcp_loss_probes >= 1);
	CHECK(floo_stats(a->st)->tcp_timeouts == 0);
	pair_done(a, b, &ca, &sa);
}

/* Bug (issue 14 item 6, fifth pass): a lost retransmission with nothing
 * sent after it (the application had no more; on the impaired echo, the
 * peer's data held in our window) left RACK no later delivery to judge
 * it by, and no probe was armed in recovery: the RTO (200 ms) repaired
 * it. Now the repair probe does, a PTO after the last ACK. */
KT_CASE(tcp_lost_retransmission_at_the_tail_repaired_by_probe_without_rto)
{
	struct node *a, *b;
	struct app ca, sa;
	/* The fifth of ten segments (1448 bytes each) and its first resend. */
	uint32_t n = lose_a_retransmission(&a, &b, &ca, &sa, 100000, 10 * 1448);

	CHECK(ca.c->mss == 1448);
	CHECK(sa.rx_len == n && !memcmp(sa.rx, pattern, n));
	CHECK(d_seen_n == 1 && d_seen_seq[0] == 0); /* both copies dropped */
	CHECK(floo_stats(a->st)->tcp_repair_probes >= 1);
	CHECK(floo_stats(a->st)->tcp_timeouts == 0);
	pair_done(a, b, &ca, &sa);
}

/* ---- D-SACK (RFC 2883) and the undo it allows (RFC 3708) ---- */

KT_CASE(dsack_reported_for_an_old_duplicate_then_dropped)
{
	struct raw r;
	static uint8_t d[300];
	struct tcp_range b[TCP_SACK_BLOCKS];
	uint32_t seq, ack, plen;
	uint16_t win;
	uint8_t fl;

	CHECK(raw_open(&r, syn_sack, sizeof(syn_sack)));
	raw_send(&r, r.snd, TH_ACK, d, 300);
	drain(r.n);
	raw_send(&r, r.snd + 100, TH_ACK, d, 100); /* all below RCV.NXT */
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && ack == r.snd + 300);
	CHECK(taken_blocks(&r, b) == 1 && b[0].start == r.snd + 100 && b[0].end == r.snd + 200);
	run_ms(r.n, NULL, 50); /* reported once: the next ACK has none */
	raw_send(&r, r.snd + 300, TH_ACK, d, 100);
	run_ms(r.n, NULL, 50);
	while (raw_take(&r, &seq, &ack, &fl, &plen, &win))
		CHECK(taken_blocks(&r, b) == 0);
	raw_close(&r);
}

KT_CASE(dsack_recognised_below_the_ack_or_inside_the_second_block)
{
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.ack = 5000;
	s.nsack = 1;
	s.sack[0] = (struct tcp_range){3000, 4000};
	CHECK(tcp_sack_is_dsack(&s));
	s.sack[0] = (struct tcp_range){6000, 7000};
	CHECK(!tcp_sack_is_dsack(&s));
	s.nsack = 2;
	s.sack[1] = (struct tcp_range){5500, 8000};
	CHECK(tcp_sack_is_dsack(&s)); /* an out-of-order duplicate */
	s.sack[1] = (struct tcp_range){9000, 9500};
	CHECK(!tcp_sack_is_dsack(&s));
}

/* Retransmit [seq, seq + M) as a SACK recovery would: RACK's log
 * remembers it, the undo counts it. */
static void resend(struct floo_tcp *c, uint32_t seq)
{
	tcp_txlog_add(c, seq, M);
	tcp_cc_rxt_sent(c);
}

static void dsack(struct floo_tcp *c, uint32_t start)
{
	struct tcp_range b = {start, start + M};

	tcp_cc_dsack(c, &b);
}

/* A loss response as enter_recovery makes it, from cwnd 20 M. */
static void reduce(struct floo_tcp *c)
{
	c->cwnd = 20 * M;
	c->ssthresh = 30 * M;
	tcp_cc_save_undo(c);
	c->cwnd = c->ssthresh = 10 * M;
	c->flags |= TF_RECOVERY;
	c->recover = c->snd_max;
}

KT_CASE(dsack_for_every_retransmission_undoes_the_reduction)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t mult;

	reduce(c);
	resend(c, B0);
	resend(c, B0 + M);
	mult = c->reo_mult;
	dsack(c, B0);
	CHECK(c->cwnd == 10 * M && c->reo_mult > mult); /* one of two */
	dsack(c, B0 + M);
	CHECK(c->cwnd == 20 * M && c->ssthresh == 30 * M);
	CHECK(floo_stats(n->st)->tcp_undos == 1);
	/* The episode ends with the undo (PRR kept the restored window shut
	 * until RecoveryPoint before), and a real loss found next may start
	 * a new one at once. */
	CHECK(!(c->flags & TF_RECOVERY) && c->recover == c->snd_una);
	/* After an RTO nothing is undone. */
	tcp_cc_save_undo(c);
	resend(c, B0 + 2 * M);
	tcp_cc_timeout(c);
	dsack(c, B0 + 2 * M);
	CHECK(c->cwnd == M && floo_stats(n->st)->tcp_undos == 1);
	node_free(n);
}

/* Bug: every D-SACK counted as one of our retransmissions coming back.
 * The impairing forwarder duplicates 2% of frames, and the receiver
 * reports each copy: a real loss episode was undone by a copy of a
 * segment never retransmitted, and the copies widened RACK's window. */
KT_CASE(dsack_of_a_network_duplicate_neither_undoes_nor_widens)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t mult = c->reo_mult;

	reduce(c);
	resend(c, B0);        /* the real loss */
	dsack(c, B0 + 5 * M); /* a copy the network made */
	CHECK(c->cwnd == 10 * M && (c->flags & TF_RECOVERY));
	CHECK(c->reo_mult == mult && !c->rack_reord);
	CHECK(floo_stats(n->st)->tcp_dsacks == 1 && floo_stats(n->st)->tcp_dsacks_ignored == 1);
	CHECK(floo_stats(n->st)->tcp_undos == 0);
	node_free(n);
}

/* Bug: a D-SACK for the previous episode's retransmission (it arrives a
 * round trip later, often after the next loss) undid the new one. Only
 * D-SACKs above SND.UNA at the reduction count (Linux's undo_marker). */
KT_CASE(dsack_from_an_earlier_episode_does_not_undo_this_one)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	reduce(c);
	resend(c, B0);
	c->snd_una = B0 + 10 * M; /* that episode ended; a new loss */
	c->flags &= (uint16_t)~TF_RECOVERY;
	reduce(c);
	resend(c, B0 + 10 * M);
	dsack(c, B0); /* the first episode's retransmission was spurious */
	CHECK(c->cwnd == 10 * M && floo_stats(n->st)->tcp_undos == 0);
	dsack(c, B0 + 10 * M); /* and so was this one's: undo */
	CHECK(c->cwnd == 20 * M && floo_stats(n->st)->tcp_undos == 1);
	node_free(n);
}

/* Bug: reordering was only seen when an original was delivered below
 * RACK.fack. In recovery, before reordering is seen, RACK's window is 0
 * and every overtaken segment is resent before its ACK can come back: the
 * original's delivery then belongs to a superseded transmission and was
 * never looked at, so each reordering started another spurious recovery
 * (seen: 40 recoveries before the first detection in a 4 MB echo). A
 * D-SACK for a retransmission RACK or RFC 6675 sent proves the original
 * arrived late (as Linux's tcp_sacktag_one); one the RTO sent does not
 * (the path may only have been slow). */
KT_CASE(rack_sees_reordering_in_a_dsacked_retransmission)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	struct tcp_seg s;

	c->rxtshift = 1; /* an RTO's go-back-N */
	tcp_txlog_add(c, B0, M);
	c->rxtshift = 0;
	dsack(c, B0);
	CHECK(!c->rack_reord);
	reduce(c);
	resend(c, B0 + M);
	CHECK(tcp_rack_reo_wnd_us(c) == 0); /* no reordering seen yet */
	memset(&s, 0, sizeof(s));           /* the peer's ACK: a D-SACK below it */
	c->snd_una = s.ack = B0 + 3 * M;
	s.nsack = 1;
	s.sack[0] = (struct tcp_range){B0 + M, B0 + 2 * M};
	(void)tcp_sb_update(c, &s);
	CHECK(c->rack_reord && floo_stats(n->st)->tcp_dsacks == 2);
	node_free(n);
}

/* RFC 8985 6.2 step 4: the reordering window widens by one step per
 * round trip with D-SACKs, not per D-SACK (a burst of them in one round
 * trip is one reordering event). */
KT_CASE(rack_reo_wnd_widens_once_per_round_trip)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t mult = c->reo_mult ? c->reo_mult : 1;

	c->snd_nxt = c->snd_max;
	reduce(c);
	for (uint32_t i = 0; i < 4; i++)
		resend(c, B0 + i * M);
	for (uint32_t i = 0; i < 3; i++)
		dsack(c, B0 + i * M);
	CHECK(c->reo_mult == mult + 1);
	c->snd_una = c->snd_max; /* a round trip later */
	c->snd_max = c->snd_nxt = c->snd_una + 10 * M;
	dsack(c, B0 + 3 * M);
	CHECK(c->reo_mult == mult + 2 && c->reo_persist == 16);
	node_free(n);
}

KT_CASE(rack_ignores_an_ack_for_the_original_of_a_retransmission)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	struct tcp_seg s;

	sent_one_per_ms(c, 4);
	at_ms(c, 50); /* segment 0 resent at 50 ms */
	tcp_txlog_add(c, B0, M);
	at_ms(c, 60);
	c->st->now_ms = (uint32_t)(c->st->now_ns / 1000000u);
	memset(&s, 0, sizeof(s));
	s.ack = B0 + M; /* delivers segment 0 ... */
	c->snd_una = B0 + M;
	s.has_ts = true;
	s.tsecr = c->st->now_ms - 60; /* ... but echoes the original's time */
	c->rack_min_rtt_us = 5000;
	c->rack_min_set = true;
	tcp_rack_update(c, B0, &s);
	/* No sample: not from the retransmission (the ACK was for the
	 * original), not from the original (resent: superseded). */
	CHECK(!c->rack_valid);
	/* Segment 1 resent at 70 ms; the ACK at 80 ms echoes that copy. */
	at_ms(c, 70);
	tcp_txlog_add(c, B0 + M, M);
	at_ms(c, 80);
	c->st->now_ms = (uint32_t)(c->st->now_ns / 1000000u);
	s.ack = B0 + 2 * M;
	c->snd_una = B0 + 2 * M;
	s.tsecr = c->st->now_ms - 10;
	tcp_rack_update(c, B0 + M, &s);
	CHECK(c->rack_valid && c->rack_rtt_us == 10000);
	node_free(n);
}

/* ---- PRR (RFC 6937) and CUBIC (RFC 9438) ---- */

static void clock_ms(struct floo_tcp *c, uint32_t ms)
{
	c->st->now_ns = 5000000000ull + (uint64_t)ms * 1000000ull;
	c->st->now_ms = (uint32_t)(c->st->now_ns / 1000000u);
}

/* SACK [B0 + M, B0 + to*M) and let the recovery code see the ACK. */
static void prr_sack(struct floo_tcp *c, uint32_t to)
{
	struct tcp_seg s;

	memset(&s, 0, sizeof(s));
	s.ack = c->snd_una;
	s.nsack = 1;
	s.sack[0].start = B0 + M;
	s.sack[0].end = B0 + to * M;
	(void)tcp_sb_update(c, &s);
	tcp_rack_update(c, c->snd_una, &s);
	tcp_cc_sack(c, M);
}

/* In recovery the old code held cwnd at ssthresh: with pipe above it
 * nothing left until enough was SACKed, then a burst. PRR lets out
 * ssthresh / RecoverFS of each delivery: the first new segment after the
 * third SACK (3 x 0.7 - 1 retransmission >= 1 segment). */
KT_CASE(prr_sends_in_proportion_to_deliveries_in_recovery)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	c->flags |= TF_RECOVERY;
	c->ssthresh = 14 * M; /* 0.7 of the 20-segment flight */
	c->cwnd = c->ssthresh;
	c->high_rxt = B0 + M; /* segment 0 was retransmitted ... */
	c->prr_out = M;       /* ... and counted as sent */
	c->prr_fs = 20 * M;
	c->prr_una = B0;
	prr_sack(c, 2);
	CHECK(tcp_rack_pipe(c) == 19 * M && c->cwnd == 19 * M); /* ceil(0.7 M) < M out */
	prr_sack(c, 3);
	CHECK(c->cwnd == tcp_rack_pipe(c) + 400); /* 1.4 M - M */
	prr_sack(c, 4);
	CHECK(c->prr_delivered == 3 * M);
	CHECK(c->cwnd == tcp_rack_pipe(c) + 1100); /* 2.1 M - M: one segment may go */
	CHECK(c->cwnd >= tcp_rack_pipe(c) + M);
	/* Below ssthresh the slow-start bound: at most what was delivered
	 * beyond what was sent, plus one MSS. */
	c->prr_out += 3 * M;
	prr_sack(c, 12); /* 8 more delivered: pipe 9 M < ssthresh */
	CHECK(tcp_rack_pipe(c) == 9 * M);
	CHECK(c->cwnd == 14 * M); /* min(ssthresh - pipe, 8 + 1): up to ssthresh */
	c->ssthresh = 30 * M;     /* (as after an undo) */
	prr_sack(c, 13);          /* 1 more: the bound max(12 - 4, 1) + 1 */
	CHECK(tcp_rack_pipe(c) == 8 * M && c->cwnd == 8 * M + 9 * M);
	node_free(n);
}

/* Bug: DeliveredData = deltaSND.UNA + deltaSACKed wrapped to 4 GB when the
 * scoreboard held fewer SACKed bytes than at the last ACK (seen in the
 * 4 MB impaired echo: cwnd 3,006,483,284 = 0.7 x 2^32 + a little, then
 * everything the peer's window allowed went out in one burst). */
KT_CASE(prr_delivered_data_never_negative_when_the_scoreboard_shrinks)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	c->flags |= TF_RECOVERY;
	c->ssthresh = 14 * M;
	c->cwnd = c->ssthresh;
	c->high_rxt = B0 + M;
	c->prr_out = M;
	c->prr_fs = 20 * M;
	c->prr_una = B0;
	c->prr_sacked = 5 * M; /* more than the scoreboard will hold */
	prr_sack(c, 2);
	CHECK(c->prr_delivered == 0 && c->prr_sacked == M);
	CHECK(c->cwnd <= 20 * M);
	prr_sack(c, 3); /* from here on deliveries count again */
	CHECK(c->prr_delivered == M && c->cwnd <= 20 * M);
	node_free(n);
}

KT_CASE(cubic_reduction_beta_and_fast_convergence)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	CHECK(tcp_cc_reduce(c) == 14 * M); /* 0.7 x 20 segments (Reno: 10) */
	CHECK(c->cub_wmax == 20 * M && c->cub_prior == 20 * M);
	c->cwnd = 10 * M; /* the next event below W_max: release some */
	(void)tcp_cc_reduce(c);
	CHECK(c->cub_wmax == 8500); /* 10 M x (1 + 0.7) / 2 */
	c->snd_max = B0 + 2 * M;
	CHECK(tcp_cc_reduce(c) == 2 * M); /* never below two segments */
	node_free(n);
}

KT_CASE(cubic_k_and_window_curve)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	/* K = cbrt(30 segments / 0.4) s = cbrt(75) s = 4.2172 s */
	CHECK(tcp_cubic_k_ms(30 * M, M) == 4217);
	c->cub_wmax = 100 * M;
	c->cub_k_ms = 4217;
	CHECK(tcp_cubic_w(c, 4217) == 100 * M);
	CHECK(tcp_cubic_w(c, 0) >= 69 * M && tcp_cubic_w(c, 0) <= 71 * M);
	CHECK(tcp_cubic_w(c, 2000) > tcp_cubic_w(c, 0) && tcp_cubic_w(c, 2000) < 100 * M);
	CHECK(tcp_cubic_w(c, 6000) > 100 * M); /* convex beyond K */
	node_free(n);
}

/* On a path of a few ms the cubic curve hardly moves in 20 RTTs; the
 * Reno-friendly W_est sets the pace: alpha = 3 x 0.3 / 1.7 = 0.53
 * segments per window (Reno grew one per window), and 1 once W_est
 * passes the window before the reduction. */
KT_CASE(cubic_reno_friendly_growth_on_a_short_path)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);
	uint32_t w0;

	c->srtt8 = 8 * 2; /* 2 ms */
	c->cwnd = 20 * M;
	c->snd_max = B0 + 20 * M;
	c->ssthresh = tcp_cc_reduce(c);
	c->cwnd = c->ssthresh;
	w0 = c->cwnd;
	for (uint32_t rtt = 0; rtt < 10; rtt++) {
		clock_ms(c, 100 + 2 * rtt);
		c->snd_max = c->snd_una + c->cwnd; /* cwnd limits the flight */
		for (uint32_t k = 0; k < c->cwnd / M; k++)
			tcp_cc_ack(c, M);
	}
	/* about 10 x 0.53 = 5.3 segments, not Reno's 10 */
	CHECK(c->cwnd >= w0 + 4 * M && c->cwnd <= w0 + 6 * M);
	for (uint32_t rtt = 10; rtt < 20; rtt++) { /* past cwnd_prior: alpha 1 */
		clock_ms(c, 100 + 2 * rtt);
		c->snd_max = c->snd_una + c->cwnd; /* cwnd limits the flight */
		for (uint32_t k = 0; k < c->cwnd / M; k++)
			tcp_cc_ack(c, M);
	}
	CHECK(c->cwnd >= w0 + 12 * M && c->cwnd <= w0 + 16 * M);
	node_free(n);
}

/* Bug: cwnd grew on every ACK whatever limited the flight. After an undo
 * back to slow start (ssthresh restored to its initial infinity) an echo
 * limited by its peer's window grew cwnd to megabytes (mean 8.8 MB at
 * new ACKs in one 4 MB echo), so that the next window opening let out
 * everything at once. As Linux's tcp_is_cwnd_limited: slow start grows
 * while cwnd is under twice the flight, congestion avoidance only when
 * the flight fills cwnd. */
KT_CASE(tcp_cwnd_grows_only_when_it_limits_the_flight)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_tcp *c = fake_conn(n);

	c->cwnd = 20 * M; /* slow start; 5 segments out */
	c->ssthresh = 0x7fffffff;
	c->snd_max = c->snd_una + 5 * M;
	for (uint32_t k = 0; k < 100; k++)
		tcp_cc_ack(c, M);
	CHECK(c->cwnd == 20 * M);
	c->snd_max = c->snd_una + 15 * M; /* 2 x flight > cwnd: grows */
	tcp_cc_ack(c, M);
	CHECK(c->cwnd == 21 * M);
	c->ssthresh = 10 * M; /* congestion avoidance */
	clock_ms(c, 100);
	c->snd_max = c->snd_una + 10 * M;
	for (uint32_t k = 0; k < 100; k++)
		tcp_cc_ack(c, M);
	CHECK(c->cwnd == 21 * M);
	c->snd_max = c->snd_una + 21 * M;
	for (uint32_t k = 0; k < 100; k++)
		tcp_cc_ack(c, M);
	CHECK(c->cwnd > 21 * M);
	node_free(n);
}
