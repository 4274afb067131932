/* TCP tests that drive one stack with hand-made segments: overlaps,
 * malformed headers, RFC 5961 checks, delayed ACKs, the MSS option. */
#include "harness.h"

KT_CASE(tcp_overlapping_and_out_of_order_segments)
{
	struct raw r;
	uint8_t d[400];
	uint32_t seq = 0, ack = 0, plen = 0;
	uint8_t fl;
	uint16_t win = 0;

	for (int i = 0; i < 400; i++)
		d[i] = (uint8_t)(i * 3 + 1);
	CHECK(raw_open(&r, NULL, 0));
	raw_send(&r, r.snd + 300, TH_ACK, d + 300, 100); /* ooo */
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && ack == r.snd);
	raw_send(&r, r.snd + 50, TH_ACK, d + 50, 100);   /* ooo, overlaps next */
	raw_send(&r, r.snd + 250, TH_ACK, d + 250, 100); /* overlaps both ooo */
	CHECK(r.sa.rx_len == 0);
	raw_send(&r, r.snd, TH_ACK, d, 100);             /* fills the front */
	raw_send(&r, r.snd + 150, TH_ACK, d + 150, 100); /* exactly the gap */
	CHECK(r.sa.rx_len == 400 && !memcmp(r.sa.rx, d, 400));
	raw_send(&r, r.snd, TH_ACK, d, 400);            /* full duplicate */
	raw_send(&r, r.snd + 390, TH_ACK, d + 390, 10); /* old tail */
	CHECK(r.sa.rx_len == 400);
	drain(r.n);
	run_ms(r.n, NULL, 50);
	while (raw_take(&r, &seq, &ack, &fl, &plen, &win))
		CHECK(ack == r.snd + 400);
	CHECK(floo_stats(r.n->st)->tcp_dup_segs >= 2);
	raw_close(&r);
}

KT_CASE(tcp_malformed_headers_dropped_without_reply)
{
	struct raw r;
	uint32_t n;

	CHECK(raw_open(&r, NULL, 0));
	drain(r.n);
	n = build_tcp(r.f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd, r.rcv, TH_ACK, 100, NULL, 0,
	              (const uint8_t *)"abcd", 4);
	r.f[34 + 12] = 0x40; /* data offset 4 words */
	inject(r.n, r.f, n);
	r.f[34 + 12] = 0xf0; /* data offset beyond the segment */
	inject(r.n, r.f, n);
	r.f[34 + 12] = 0x50;
	r.f[n - 1] ^= 0x55; /* checksum now wrong */
	inject(r.n, r.f, n);
	n = build_tcp(r.f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd, r.rcv, TH_ACK, 100,
	              (const uint8_t[]){2, 9, 0, 0}, 4, NULL, 0); /* bad option length */
	inject(r.n, r.f, n);
	n = build_tcp(r.f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd, r.rcv, TH_ACK, 100,
	              (const uint8_t[]){8, 3, 0, 0}, 4, NULL, 0); /* TS length 3 */
	inject(r.n, r.f, n);
	CHECK(floo_stats(r.n->st)->drop_tcp == 5);
	CHECK(floo_stats(r.n->st)->drop_tcp_csum == 1);
	CHECK(r.n->txq.n == 0 && r.sa.rx_len == 0);
	CHECK(floo_tcp_state(r.sa.c) == 4);
	raw_close(&r);
}

KT_CASE(tcp_rfc5961_rst_syn_and_ack_validation)
{
	struct raw r;
	uint32_t seq = 0, ack = 0, plen = 0;
	uint8_t fl;
	uint16_t win = 0;

	CHECK(raw_open(&r, NULL, 0));
	drain(r.n);
	raw_send(&r, r.snd + 1000, TH_RST, NULL, 0); /* in window, not exact */
	CHECK(floo_tcp_state(r.sa.c) == 4);
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && fl == TH_ACK && ack == r.snd);
	raw_send(&r, r.snd + 1000000, TH_RST, NULL, 0); /* outside: ignored */
	CHECK(r.n->txq.n == 0 && floo_tcp_state(r.sa.c) == 4);
	raw_send(&r, r.snd, TH_SYN, NULL, 0); /* SYN in ESTABLISHED */
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && fl == TH_ACK);
	CHECK(floo_tcp_state(r.sa.c) == 4);
	r.rcv += 5000; /* ACK for data never sent */
	raw_send(&r, r.snd, TH_ACK, "x", 1);
	r.rcv -= 5000;
	CHECK(r.sa.rx_len == 0 && floo_stats(r.n->st)->tcp_challenge_acks == 3);
	raw_send(&r, r.snd, TH_RST, NULL, 0); /* exact: resets */
	CHECK(r.sa.closed == 1 && r.sa.close_err == FLOO_ECONNRESET);
	CHECK(floo_tcp_count(r.n->st) == 0);
	CHECK_NO_LEAK(r.n);
	raw_close(&r);
}

KT_CASE(tcp_delayed_ack_timer_and_every_second_segment)
{
	struct raw r;
	uint8_t d[1460] = {0};
	uint32_t seq = 0, ack = 0, plen = 0;
	uint8_t fl;
	uint16_t win = 0;

	CHECK(raw_open(&r, NULL, 0));
	drain(r.n);
	raw_send(&r, r.snd, TH_ACK, d, 10);
	CHECK(r.n->txq.n == 0); /* delayed */
	run_ms(r.n, NULL, 30);
	CHECK(r.n->txq.n == 0);
	run_ms(r.n, NULL, 30);
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && ack == r.snd + 10);
	r.snd += 10;
	raw_send(&r, r.snd, TH_ACK, d, 1460);
	CHECK(r.n->txq.n == 0);
	raw_send(&r, r.snd + 1460, TH_ACK, d, 1460);
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && ack == r.snd + 2920);
	raw_close(&r);
}

KT_CASE(tcp_mss_option_limits_segments)
{
	struct raw r;
	static uint8_t big[4000];
	uint32_t seq = 0, ack = 0, plen = 0, total = 0;
	uint8_t fl;
	uint16_t win = 0;

	CHECK(raw_open(&r, (const uint8_t[]){2, 4, 0x02, 0x18}, 4)); /* MSS 536 */
	drain(r.n);
	floo_tcp_send(r.sa.c, big, 4000, NULL);
	floo_poll(r.n->st);
	while (raw_take(&r, &seq, &ack, &fl, &plen, &win)) {
		CHECK(plen <= 536);
		total += plen;
	}
	CHECK(total >= 536 && total <= 4 * 536); /* initial window */
	CHECK(r.sa.c->mss == 536 && !(r.sa.c->flags & (TF_TS | TF_WS)));
	raw_close(&r);
}

KT_CASE(tcp_rst_for_closed_port_and_backlog_limit)
{
	struct floo_config cfg = {.tcp_backlog = 4};
	struct node *n = node_new(&cfg, IP_A, 1);
	struct app sa;
	uint8_t f[2048];
	uint32_t len;

	app_init(&sa, 0);
	arp_learn(n->st, PEER, peer_mac, true);
	len = build_tcp(f, n->mac, PEER, IP_A, PPORT, 81, 777, 0, TH_SYN, 1000, NULL, 0, NULL, 0);
	inject(n, f, len);
	len = take(n, f);
	CHECK(len && f[34 + 13] == (TH_RST | TH_ACK) && get_be32(f + 34 + 8) == 778);
	len = build_tcp(f, n->mac, PEER, IP_A, PPORT, 81, 777, 0, TH_RST, 1000, NULL, 0, NULL, 0);
	inject(n, f, len);
	CHECK(take(n, f) == 0); /* never RST a RST */
	floo_tcp_listen(n->st, 80, app_cb, &sa);
	for (uint16_t p = 0; p < 10; p++) {
		len = build_tcp(f, n->mac, PEER, IP_A, (uint16_t)(PPORT + p), 80, 1, 0, TH_SYN,
		                1000, NULL, 0, NULL, 0);
		inject(n, f, len);
	}
	CHECK(floo_tcp_count(n->st) == 4);
	run_step(n, NULL, 200000, 5000); /* SYN-ACKs time out */
	CHECK(floo_tcp_count(n->st) == 0 && sa.accepted == 0 && sa.closed == 0);
	CHECK_NO_LEAK(n);
	app_fini(&sa);
	node_free(n);
}

KT_CASE(tcp_paws_drops_old_timestamp)
{
	struct raw r;
	uint8_t ts[12] = {1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0, 0};
	uint32_t n;

	CHECK(raw_open(&r, ts, 12));
	CHECK(r.sa.c->flags & TF_TS);
	drain(r.n);
	put_be32(ts + 4, 0x2000);
	n = build_tcp(r.f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd, r.rcv, TH_ACK, 1000, ts, 12,
	              (const uint8_t *)"new", 3);
	inject(r.n, r.f, n);
	CHECK(r.sa.rx_len == 3);
	put_be32(ts + 4, 0x1000); /* older than ts_recent */
	n = build_tcp(r.f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd + 3, r.rcv, TH_ACK, 1000, ts, 12,
	              (const uint8_t *)"old", 3);
	inject(r.n, r.f, n);
	CHECK(r.sa.rx_len == 3 && floo_stats(r.n->st)->tcp_dup_segs == 1);
	raw_close(&r);
}

KT_CASE(tcp_window_right_edge_trims_and_rejects)
{
	struct floo_config cfg = {.tcp_rcv_buf = 2000};
	struct raw r;
	uint8_t d[1460];
	uint32_t seq = 0, ack = 0, plen = 0;
	uint8_t fl;
	uint16_t win = 0;

	memset(d, 'w', sizeof(d));
	raw_cfg = &cfg;
	CHECK(raw_open(&r, NULL, 0));
	raw_cfg = NULL;
	r.sa.hold = true;
	drain(r.n);
	raw_send(&r, r.snd, TH_ACK, d, 1460);
	raw_send(&r, r.snd + 1460, TH_ACK, d, 1460); /* crosses the edge */
	CHECK(r.sa.rx_len == 2000);
	run_ms(r.n, NULL, 50);
	ack = 0;
	while (raw_take(&r, &seq, &ack, &fl, &plen, &win))
		;
	CHECK(ack == r.snd + 2000 && win == 0);
	raw_send(&r, r.snd + 2000, TH_ACK, d, 100); /* zero window: data dropped */
	CHECK(r.sa.rx_len == 2000);
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && ack == r.snd + 2000);
	raw_send(&r, r.snd + 5000, TH_ACK, d, 100); /* far beyond: ACK, drop */
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && ack == r.snd + 2000);
	app_release_all(&r.sa);
	run_ms(r.n, NULL, 50);
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && win >= 1460); /* update */
	CHECK_NO_LEAK(r.n);
	raw_close(&r);
}

/* Reproducer: after an RTO rewound SND.NXT, pure ACKs carried the old
 * sequence number; Linux drops such ACKs as stale, and under loss the
 * connection deadlocked (echo under 5% loss, zero window on both sides). */
KT_CASE(bug_pure_ack_after_rto_carries_snd_max)
{
	struct raw r;
	static uint8_t big[3 * 1460];
	uint8_t d[1460] = {0};
	uint32_t seq = 0, ack = 0, plen = 0, max_seq = 0;
	uint8_t fl;
	uint16_t win = 0;

	CHECK(raw_open(&r, NULL, 0));
	drain(r.n);
	floo_tcp_send(r.sa.c, big, sizeof(big), NULL);
	floo_poll(r.n->st);
	while (raw_take(&r, &seq, &ack, &fl, &plen, &win))
		if (seq + plen > max_seq)
			max_seq = seq + plen;
	run_ms(r.n, NULL, 300); /* RTO: resend from SND.UNA */
	CHECK(floo_stats(r.n->st)->tcp_timeouts >= 1);
	drain(r.n);
	raw_send(&r, r.snd, TH_ACK, d, 1460); /* data, acking nothing new */
	raw_send(&r, r.snd + 1460, TH_ACK, d, 1460);
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && plen == 0);
	CHECK(seq == max_seq && ack == r.snd + 2920);
	raw_close(&r);
}

/* Bug found through net-impair: new data sent just before a hole's
 * retransmission arrived after it, one timestamp tick older than the
 * TS.Recent the retransmission had set, and PAWS dropped it. */
static void ts_send(struct raw *r, uint32_t off, uint32_t tsval)
{
	static const uint8_t d[100];
	uint8_t o[12] = {1, 1, 8, 10};
	uint32_t n;

	put_be32(o + 4, tsval);
	put_be32(o + 8, 0);
	n = build_tcp(r->f, r->n->mac, PEER, IP_A, PPORT, 80, r->snd + off, r->rcv, TH_ACK, 65535,
	              o, 12, d, 100);
	inject(r->n, r->f, n);
}

KT_CASE(tcp_paws_tolerates_one_tick_of_reordering)
{
	static const uint8_t ts_syn[] = {1, 1, 8, 10, 0, 0, 0, 100, 0, 0, 0, 0};
	struct raw r;

	CHECK(raw_open(&r, ts_syn, sizeof(ts_syn)));
	ts_send(&r, 0, 200); /* in order: TS.Recent = 200 */
	CHECK(r.sa.rx_len == 100 && r.sa.c->ts_recent == 200);
	ts_send(&r, 300, 199); /* one tick older: still taken */
	CHECK(floo_stats(r.n->st)->tcp_ooo_segs == 1);
	ts_send(&r, 500, 198); /* two ticks: PAWS drops it */
	CHECK(floo_stats(r.n->st)->tcp_ooo_segs == 1 && floo_stats(r.n->st)->tcp_dup_segs == 1);
	raw_close(&r);
}

/* A sender that filled our window (a hole at RCV.NXT) sends pure ACKs with
 * SEG.SEQ = its SND.NXT = our right edge. RFC 9293's strict test (SEG.SEQ
 * < RCV.NXT + RCV.WND) threw their acknowledgments away: under loss, with
 * an echo holding its receive buffers, Floo's own sending stalled into an
 * RTO. Linux and BSD accept an empty segment at the edge; so do we. */
KT_CASE(tcp_pure_ack_at_right_window_edge_is_processed)
{
	struct raw r;
	static uint8_t d[500]; /* under the default MSS: one segment */
	uint32_t seq = 0, ack = 0, plen = 0, edge, una;
	uint8_t fl;
	uint16_t win = 0;

	CHECK(raw_open(&r, NULL, 0));
	drain(r.n);
	CHECK(floo_tcp_send(r.sa.c, d, sizeof(d), NULL) == 0);
	floo_poll(r.n->st);
	CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && plen == sizeof(d));
	/* A hole at RCV.NXT, data queued after it; the peer has sent up to
	 * the edge (not all of it shown). */
	edge = r.sa.c->rcv_adv;
	raw_send(&r, r.snd + 1, TH_ACK, d, 200);
	CHECK(r.sa.c->rcv_adv == edge && r.sa.c->ooo_n == 1);
	una = r.sa.c->snd_una;
	/* Beyond the edge: still unacceptable, the ACK in it not taken. */
	r.rcv += 250;
	raw_send(&r, edge + 1, TH_ACK, NULL, 0);
	CHECK(r.sa.c->snd_una == una && r.sa.sent == 0);
	/* At the edge: the acknowledgment counts. */
	r.rcv += 250;
	raw_send(&r, edge, TH_ACK, NULL, 0);
	CHECK(r.sa.c->snd_una == una + sizeof(d));
	CHECK(r.sa.sent == 1);
	raw_close(&r);
}

/* Send d[0..len) at r->snd as one coalesced frame over buffers of piece bytes (the NIC's
 * checksum verified), d's bytes before it already received: the application must then hold
 * d[0..rx_len + len) and the frame be acknowledged at once and once. Moves r->snd past it. */
static void coalesced_in_order(struct raw *r, uint8_t *f, const uint8_t *d, uint32_t len,
                               uint32_t piece)
{
	uint32_t seq = 0, ack = 0, plen = 0, acks = 0, had = r->sa.rx_len;
	uint32_t n = build_tcp(f, r->n->mac, PEER, IP_A, PPORT, 80, r->snd, r->rcv, TH_ACK | TH_PSH,
	                       65535, NULL, 0, d + had, len);
	uint8_t fl;
	uint16_t win = 0;

	inject_chain(r->n, f, n, piece, true);
	CHECK(r->sa.rx_len == had + len && !memcmp(r->sa.rx, d, had + len));
	while (raw_take(r, &seq, &ack, &fl, &plen, &win))
		acks += ack == r->snd + len;
	CHECK(acks == 1); /* at once, not after the delayed-ACK timer, and once */
	r->snd += len;
}

/* Receive coalescing (FLOO_CAP_RX_CHAIN): a TCP segment of 6,000 bytes over
 * four chained pbufs reaches the application whole and in order with one
 * ACK; a coalesced frame beyond a hole waits in the reorder queue piece by
 * piece; one without the NIC's checksum, or whose IP length disagrees with
 * its buffers, is dropped whole; no buffer leaks. */
KT_CASE(tcp_rx_coalesced_frame_split_into_pieces)
{
	static uint8_t d[12000], f[14000];
	struct raw r;
	uint32_t n;

	for (uint32_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 7 + i / 251);
	CHECK(raw_open(&r, NULL, 0));
	drain(r.n);
	coalesced_in_order(&r, f, d, 6000, 1900);
	CHECK(floo_stats(r.n->st)->tcp_rx_coalesced == 1);

	/* beyond a hole of 1,000 bytes: queued, then delivered after the hole fills */
	n = build_tcp(f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd + 1000, r.rcv, TH_ACK, 65535, NULL,
	              0, d + 7000, 5000);
	inject_chain(r.n, f, n, 1500, true);
	CHECK(r.sa.rx_len == 6000);
	raw_send(&r, r.snd, TH_ACK, d + 6000, 1000);
	CHECK(r.sa.rx_len == 12000 && !memcmp(r.sa.rx, d, 12000));
	r.snd += 6000;

	/* no checksum from the NIC, or an IP length that is not the chain's: dropped whole */
	uint64_t drops = floo_stats(r.n->st)->drop_tcp + floo_stats(r.n->st)->drop_ip;
	n = build_tcp(f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd, r.rcv, TH_ACK, 65535, NULL, 0, d,
	              3000);
	inject_chain(r.n, f, n, 1900, false);
	put_be16(f + 14 + 2, (uint16_t)(get_be16(f + 14 + 2) - 8)); /* claims 8 bytes less */
	put_be16(f + 14 + 10, 0);
	put_be16(f + 14 + 10, floo_csum_fold(floo_csum_add(0, f + 14, 20)));
	inject_chain(r.n, f, n, 1900, true);
	CHECK(r.sa.rx_len == 12000);
	CHECK(floo_stats(r.n->st)->drop_tcp + floo_stats(r.n->st)->drop_ip == drops + 2);
	app_release_all(&r.sa);
	drain(r.n);
	CHECK_NO_LEAK(r.n);
	raw_close(&r);
}

/* Page-sized buffers (floo_config.pbuf_size 4096, brokerd on virtio-net): a coalesced segment
 * of 12,000 bytes over three chained buffers of 4,000, and a segment of 3,000 bytes that fits
 * one buffer whole (more than a 2 KiB buffer holds), both reach the application whole and in
 * order, acknowledged at once; every buffer goes home. */
KT_CASE(tcp_rx_page_sized_buffers_carry_coalesced_and_large_segments)
{
	static uint8_t d[15000], f[16000];
	struct floo_config cfg = {.pbuf_size = 4096};
	struct raw r;
	uint32_t n;

	for (uint32_t i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(i * 13 + i / 241);
	raw_cfg = &cfg;
	CHECK(raw_open(&r, NULL, 0));
	raw_cfg = NULL;
	CHECK(floo_pbuf_size(r.n->st) == 4096);
	drain(r.n);
	coalesced_in_order(&r, f, d, 12000, 4000);
	CHECK(floo_stats(r.n->st)->tcp_rx_coalesced == 1);

	n = build_tcp(f, r.n->mac, PEER, IP_A, PPORT, 80, r.snd, r.rcv, TH_ACK | TH_PSH, 65535,
	              NULL, 0, d + 12000, 3000);
	CHECK(n > FLOO_PBUF_SIZE && n <= 4096 - FLOO_PBUF_HEADROOM);
	inject_chain(r.n, f, n, n, true); /* one buffer, no chain */
	CHECK(r.sa.rx_len == 15000 && !memcmp(r.sa.rx, d, 15000));
	CHECK(floo_stats(r.n->st)->tcp_rx_coalesced == 1);
	CHECK(floo_stats(r.n->st)->drop_eth == 0);
	r.snd += 3000;
	app_release_all(&r.sa);
	drain(r.n);
	CHECK_NO_LEAK(r.n);
	raw_close(&r);
}
