/* TCP tests between two stacks over the fake wire. */
#include "harness.h"

static uint8_t src[2 * 1024 * 1024];

static void fill_src(void)
{
	for (uint32_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 131 + (i >> 11));
}

/* Pair of nodes with B listening on 80 and A connected to it. */
struct pair {
	struct node *a, *b;
	struct app ca, sa;
};

static void pair_up(struct pair *p, const struct floo_config *cfg)
{
	fill_src();
	p->a = node_new(cfg, IP_A, 1);
	p->b = node_new(cfg, IP_B, 2);
	node_link(p->a, p->b);
	app_init(&p->ca, sizeof(src));
	app_init(&p->sa, sizeof(src));
	floo_tcp_listen(p->b->st, 80, app_cb, &p->sa);
	floo_tcp_connect(p->a->st, IP_B, 80, app_cb, &p->ca);
	run_ms(p->a, p->b, 20);
}

static void pair_down(struct pair *p)
{
	app_fini(&p->ca);
	app_fini(&p->sa);
	node_free(p->a);
	node_free(p->b);
}

/* Queue len bytes of src from A in refs of chunk bytes, as space allows,
 * running the wire until all is acknowledged or ms pass. */
static void push(struct pair *p, uint32_t len, uint32_t chunk, uint32_t ms)
{
	uint32_t off = 0;

	for (uint32_t t = 0; t < ms && p->ca.c && (off < len || floo_tcp_unacked(p->ca.c)); t++) {
		while (off < len && p->ca.c && floo_tcp_send_slots(p->ca.c)) {
			uint32_t n = len - off < chunk ? len - off : chunk;

			if (floo_tcp_send(p->ca.c, src + off, n, NULL) < 0)
				break;
			off += n;
		}
		run_ms(p->a, p->b, 1);
	}
}

KT_CASE(tcp_handshake_transfer_close_time_wait)
{
	struct pair p;
	struct floo_tcp *ca;

	pair_up(&p, NULL);
	CHECK(p.ca.connected == 1 && p.sa.accepted == 1);
	CHECK(floo_tcp_state(p.ca.c) == 4 && floo_tcp_state(p.sa.c) == 4);
	push(&p, 300000, 7000, 2000);
	CHECK(p.sa.rx_len == 300000 && !memcmp(p.sa.rx, src, 300000));
	CHECK(p.ca.sent == (300000 + 6999) / 7000);
	ca = p.ca.c;
	p.sa.close_on_fin = true;
	floo_tcp_close(ca);
	run_ms(p.a, p.b, 50);
	CHECK(p.sa.peer_fin == 1 && p.sa.closed == 1 && p.ca.closed == 1);
	CHECK(floo_tcp_state(ca) == 10); /* TIME_WAIT on the active closer */
	CHECK(floo_tcp_count(p.b->st) == 0);
	run_step(p.a, p.b, 61000, 5000);
	CHECK(floo_tcp_count(p.a->st) == 0);
	CHECK_NO_LEAK(p.a);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

/* Move a fresh active connection's sequence space to just below 2^32. */
static void iss_near_wrap(struct floo_tcp *c, uint32_t iss)
{
	c->iss = c->snd_una = c->snd_nxt = c->snd_max = c->recover = iss;
	c->snd_buf_seq = iss + 1;
}

KT_CASE(tcp_sequence_numbers_wrap_around)
{
	struct pair p;
	struct floo_tcp *c;

	fill_src();
	p.a = node_new(NULL, IP_A, 1);
	p.b = node_new(NULL, IP_B, 2);
	node_link(p.a, p.b);
	app_init(&p.ca, sizeof(src));
	app_init(&p.sa, sizeof(src));
	floo_tcp_listen(p.b->st, 80, app_cb, &p.sa);
	arp_learn(p.a->st, IP_B, p.b->mac, true);
	c = floo_tcp_connect(p.a->st, IP_B, 80, app_cb, &p.ca);
	iss_near_wrap(c, 0xffff0000u);
	run_ms(p.a, p.b, 20);
	CHECK(p.ca.connected == 1);
	uint32_t lip = 0, rip = 0; /* floo_tcp_addrs: what getsockname/getpeername report */
	uint16_t lport = 0, rport = 0;
	floo_tcp_addrs(c, &lip, &lport, &rip, &rport);
	CHECK(lip == IP_A && rip == IP_B && rport == 80 && lport == c->lport && lport != 0);
	push(&p, 500000, 9000, 2000);
	CHECK(seq_lt(c->snd_una, 0x10000000u) && c->snd_una < 0xffff0000u);
	CHECK(p.sa.rx_len == 500000 && !memcmp(p.sa.rx, src, 500000));
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

/* Filter state for loss/reordering on A's data segments. */
static uint32_t f_count, f_drop_every, f_drop_once_at, f_reorder_every;
static uint8_t f_stash[2048];
static uint32_t f_stash_len;

static bool lossy(struct node *from, uint8_t *f, uint32_t len)
{
	uint32_t seq, plen;
	uint8_t fl;

	if (!frame_tcp(f, len, &seq, &plen, &fl) || !plen)
		return true;
	f_count++;
	if (f_drop_once_at && f_count == f_drop_once_at)
		return false;
	if (f_drop_every && f_count % f_drop_every == 0)
		return false;
	if (f_reorder_every && f_count % f_reorder_every == 0 && !f_stash_len) {
		memcpy(f_stash, f, len);
		f_stash_len = len;
		return false;
	}
	if (f_stash_len) {
		/* deliver this one first, then the stashed one */
		q_push(&from->peer->rxq, f, len);
		q_push(&from->peer->rxq, f_stash, f_stash_len);
		f_stash_len = 0;
		return false;
	}
	return true;
}

static void lossy_reset(void)
{
	f_count = f_drop_every = f_drop_once_at = f_reorder_every = 0;
	f_stash_len = 0;
}

KT_CASE(tcp_fast_retransmit_single_loss_no_timeout)
{
	struct pair p;

	pair_up(&p, NULL);
	lossy_reset();
	f_drop_once_at = 40;
	p.a->filter = lossy;
	push(&p, 1000000, 16000, 3000);
	CHECK(p.sa.rx_len == 1000000 && !memcmp(p.sa.rx, src, 1000000));
	CHECK(floo_stats(p.a->st)->tcp_fast_retrans >= 1);
	CHECK(floo_stats(p.a->st)->tcp_timeouts == 0);
	/* RACK needs one segment delivered after the lost one (the fake
	 * wire's RTT is zero), NewReno three */
	CHECK(floo_stats(p.b->st)->tcp_ooo_segs >= 1);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

KT_CASE(tcp_loss_and_reordering_newreno)
{
	struct pair p;

	pair_up(&p, NULL);
	lossy_reset();
	f_drop_every = 23;
	f_reorder_every = 7;
	p.a->filter = lossy;
	push(&p, 2000000, 16000, 60000);
	CHECK(p.sa.rx_len == 2000000 && !memcmp(p.sa.rx, src, 2000000));
	CHECK(floo_stats(p.a->st)->tcp_fast_retrans >= 10);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

static uint64_t tx_times[64];
static unsigned n_tx_times;

static bool drop_all_data(struct node *from, uint8_t *f, uint32_t len)
{
	uint32_t seq, plen;
	uint8_t fl;

	(void)from;
	if (!frame_tcp(f, len, &seq, &plen, &fl))
		return true; /* ARP passes */
	if (plen && n_tx_times < 64)
		tx_times[n_tx_times++] = t_now_ns;
	return false;
}

KT_CASE(tcp_rto_exponential_backoff_then_timeout)
{
	struct pair p;

	pair_up(&p, NULL);
	n_tx_times = 0;
	p.a->filter = drop_all_data;
	floo_tcp_send(p.ca.c, src, 1000, NULL);
	run_step(p.a, p.b, 600000, 2000);
	if (getenv("DBG")) {
		fprintf(stderr, "ntx %u closed %d err %d state %d\n", n_tx_times, p.ca.closed,
		        p.ca.close_err, p.ca.c->state);
		for (unsigned i = 0; i < n_tx_times; i++)
			fprintf(stderr, " %llu", (unsigned long long)(tx_times[i] / 1000000));
		fprintf(stderr, "\n");
	}
	CHECK(p.ca.closed == 1 && p.ca.close_err == FLOO_ETIMEDOUT);
	/* first send, one tail loss probe (RFC 8985), 12 retransmissions */
	CHECK(n_tx_times == 14 && floo_stats(p.a->st)->tcp_loss_probes == 1);
	CHECK(tx_times[1] - tx_times[0] <= tx_times[2] - tx_times[1] + 20000000ull);
	for (unsigned i = 3; i < 9 && i < n_tx_times; i++) {
		uint64_t d1 = tx_times[i - 1] - tx_times[i - 2];
		uint64_t d2 = tx_times[i] - tx_times[i - 1];

		if (d1 < 30000000000ull) /* below the 60 s cap */
			CHECK(d2 >= 2 * d1 - 20000000ull && d2 <= 2 * d1 + 20000000ull);
	}
	CHECK(tx_times[n_tx_times - 1] - tx_times[n_tx_times - 2] <= 61000000000ull);
	CHECK(p.ca.sent == 1); /* the reference came back */
	CHECK_NO_LEAK(p.a);
	pair_down(&p);
}

KT_CASE(tcp_connect_refused_and_syn_timeout)
{
	struct node *a = node_new(NULL, IP_A, 1), *b = node_new(NULL, IP_B, 2);
	struct app ca;

	node_link(a, b);
	app_init(&ca, 0);
	floo_tcp_connect(a->st, IP_B, 81, app_cb, &ca);
	run_ms(a, b, 20);
	CHECK(ca.closed == 1 && ca.close_err == FLOO_ECONNREFUSED);
	a->filter = drop_all_data; /* drops everything: SYNs too */
	ca.closed = 0;
	floo_tcp_connect(a->st, IP_B, 81, app_cb, &ca);
	run_step(a, b, 200000, 5000);
	CHECK(ca.closed == 1 && ca.close_err == FLOO_ETIMEDOUT);
	CHECK(floo_tcp_count(a->st) == 0);
	app_fini(&ca);
	node_free(a);
	node_free(b);
}

KT_CASE(tcp_simultaneous_open)
{
	struct node *a = node_new(NULL, IP_A, 1), *b = node_new(NULL, IP_B, 2);
	struct app ca, cb;

	node_link(a, b);
	arp_learn(a->st, IP_B, b->mac, true);
	arp_learn(b->st, IP_A, a->mac, true);
	app_init(&ca, 100);
	app_init(&cb, 100);
	a->st->eph_next = 5000;
	b->st->eph_next = 6000;
	floo_tcp_connect(a->st, IP_B, 6000, app_cb, &ca);
	floo_tcp_connect(b->st, IP_A, 5000, app_cb, &cb);
	/* Both SYNs are on the wire before either side sees the other's. */
	floo_tcp_send(ca.c ? ca.c : &a->st->tcp[0], "ping", 4, NULL);
	run_ms(a, b, 50);
	CHECK(ca.connected == 1 && cb.connected == 1);
	CHECK(floo_tcp_state(ca.c) == 4 && floo_tcp_state(cb.c) == 4);
	CHECK(cb.rx_len == 4 && !memcmp(cb.rx, "ping", 4));
	/* Simultaneous close: both FINs cross, both go CLOSING -> TIME_WAIT. */
	floo_tcp_close(ca.c);
	floo_tcp_close(cb.c);
	run_ms(a, b, 50);
	CHECK(floo_tcp_state(ca.c) == 10 && floo_tcp_state(cb.c) == 10);
	CHECK(ca.closed == 1 && cb.closed == 1 && ca.close_err == 0);
	CHECK_NO_LEAK(a);
	CHECK_NO_LEAK(b);
	app_fini(&ca);
	app_fini(&cb);
	node_free(a);
	node_free(b);
}

KT_CASE(tcp_zero_window_probe_and_reopen)
{
	struct floo_config cfg = {.tcp_rcv_buf = 8192, .tcp_rcv_pbufs = 32};
	struct pair p;

	pair_up(&p, &cfg);
	p.sa.hold = true;
	push(&p, 100000, 10000, 2000);
	CHECK(p.sa.rx_len <= 8192 + 1460);
	CHECK(p.ca.c->snd_wnd == 0);
	CHECK(floo_stats(p.a->st)->tcp_zwp_sent >= 2);
	CHECK(floo_tcp_state(p.ca.c) == 4);
	p.sa.hold = false;
	app_release_all(&p.sa);
	push(&p, 0, 1, 5000);
	CHECK(p.sa.rx_len == 100000 && !memcmp(p.sa.rx, src, 100000));
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

/* The same with the held buffers handed back as one list (floo_tcp_release_list, as the
 * broker's transport does after a request decoded in them): the window reopens, every byte
 * arrives, no buffer or receive accounting is lost. */
KT_CASE(tcp_release_list_reopens_window)
{
	struct floo_config cfg = {.tcp_rcv_buf = 8192, .tcp_rcv_pbufs = 32};
	struct pair p;

	pair_up(&p, &cfg);
	p.sa.hold = true;
	push(&p, 100000, 10000, 2000);
	CHECK(p.ca.c->snd_wnd == 0 && p.sa.nheld > 1);
	CHECK(p.sa.c->rcv_held_pb == (uint32_t)p.sa.nheld);
	p.sa.hold = false;
	for (int i = 0; i + 1 < p.sa.nheld; i++)
		p.sa.held[i]->next = p.sa.held[i + 1];
	p.sa.held[p.sa.nheld - 1]->next = NULL;
	floo_tcp_release_list(p.b->st, p.sa.held[0]);
	p.sa.nheld = 0;
	CHECK(p.sa.c->rcv_held == 0 && p.sa.c->rcv_held_pb == 0);
	push(&p, 0, 1, 5000);
	CHECK(p.sa.rx_len == 100000 && !memcmp(p.sa.rx, src, 100000));
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

KT_CASE(tcp_window_scaling_and_timestamps_negotiated)
{
	struct floo_config cfg = {.tcp_rcv_buf = 262144, .tcp_rcv_pbufs = 256, .n_pbufs = 1024};
	struct pair p;

	pair_up(&p, &cfg);
	CHECK((p.ca.c->flags & TF_WS) && (p.sa.c->flags & TF_WS));
	CHECK((p.ca.c->flags & TF_TS) && (p.sa.c->flags & TF_TS));
	CHECK(p.sa.c->rcv_wscale == 3 && p.ca.c->snd_wscale == 3);
	CHECK(p.ca.c->mss == 1460 - 12);
	push(&p, 2000000, 60000, 3000);
	CHECK(p.sa.rx_len == 2000000 && !memcmp(p.sa.rx, src, 2000000));
	CHECK(p.ca.c->max_snd_wnd > 65535);
	CHECK(p.ca.c->srtt8 > 0);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

static bool drop_b_to_a(struct node *from, uint8_t *f, uint32_t len)
{
	(void)from, (void)f, (void)len;
	return false;
}

KT_CASE(tcp_keepalive_detects_dead_peer)
{
	struct floo_config cfg = {
	    .tcp_keep_idle_ms = 1000, .tcp_keep_intvl_ms = 500, .tcp_keep_cnt = 3};
	struct pair p;

	pair_up(&p, &cfg);
	floo_tcp_keepalive(p.ca.c, true);
	run_ms(p.a, p.b, 3000); /* the peer answers: nothing happens */
	CHECK(p.ca.closed == 0 && floo_stats(p.a->st)->tcp_keepalives >= 1);
	p.b->filter = drop_b_to_a;
	run_step(p.a, p.b, 5000, 1000);
	CHECK(p.ca.closed == 1 && p.ca.close_err == FLOO_ETIMEDOUT);
	pair_down(&p);
}

KT_CASE(tcp_abort_from_data_callback)
{
	struct pair p;

	pair_up(&p, NULL);
	p.sa.abort_on_data = true;
	floo_tcp_send(p.ca.c, src, 5000, NULL);
	run_ms(p.a, p.b, 20);
	CHECK(p.sa.closed == 1 && p.sa.close_err == FLOO_ECONNRESET);
	CHECK(p.ca.closed == 1 && p.ca.close_err == FLOO_ECONNRESET);
	CHECK(floo_tcp_count(p.a->st) == 0 && floo_tcp_count(p.b->st) == 0);
	CHECK_NO_LEAK(p.a);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

KT_CASE(tcp_zero_copy_echo_by_reference)
{
	struct pair p;

	pair_up(&p, NULL);
	p.sa.echo = true;
	push(&p, 200000, 5000, 2000);
	run_ms(p.a, p.b, 50);
	if (getenv("DBG"))
		fprintf(stderr, "echo rx %u sa rx %u\n", p.ca.rx_len, p.sa.rx_len);
	CHECK(p.ca.rx_len == 200000 && !memcmp(p.ca.rx, src, 200000));
	floo_tcp_close(p.ca.c);
	p.sa.close_on_fin = true;
	run_ms(p.a, p.b, 50);
	CHECK_NO_LEAK(p.a);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

KT_CASE(tcp_many_concurrent_connections)
{
	struct floo_config cfg = {.n_tcp = 1100, .n_pbufs = 4096};
	struct node *a = node_new(&cfg, IP_A, 1), *b = node_new(&cfg, IP_B, 2);
	static struct app ca[1000];
	struct app sa;
	int ok = 0;

	node_link(a, b);
	app_init(&sa, 1 << 20);
	floo_tcp_listen(b->st, 80, app_cb, &sa);
	arp_learn(a->st, IP_B, b->mac, true);
	for (int i = 0; i < 1000; i++) {
		app_init(&ca[i], 0);
		floo_tcp_connect(a->st, IP_B, 80, app_cb, &ca[i]);
	}
	run_step(a, b, 1500, 1000); /* backlog 512: the rest retry their SYN */
	for (int i = 0; i < 1000; i++)
		if (ca[i].connected && floo_tcp_send(ca[i].c, "0123456789", 10, NULL) == 0)
			ok++;
	run_ms(a, b, 100);
	CHECK(ok == 1000 && sa.accepted == 1000 && sa.rx_len == 10000);
	CHECK(floo_tcp_count(b->st) == 1000);
	for (int i = 0; i < 1000; i++)
		app_fini(&ca[i]);
	CHECK_NO_LEAK(b);
	app_fini(&sa);
	node_free(a);
	node_free(b);
}

/* Event echo server for the socket test. */
KT_CASE(sock_blocking_client_against_event_server)
{
	struct node *a = node_new(NULL, IP_A, 1), *b = node_new(NULL, IP_B, 2);
	struct app sa;
	struct floo_sock *s;
	static uint8_t back[50000];
	int got = 0, r;

	fill_src();
	node_link(a, b);
	a->pump_peer = true;
	app_init(&sa, 100000);
	sa.echo = true;
	sa.close_on_fin = true;
	floo_tcp_listen(b->st, 7, app_cb, &sa);
	arp_learn(a->st, IP_B, b->mac, true);
	arp_learn(b->st, IP_A, a->mac, true);
	s = floo_sock_connect(a->st, IP_B, 7, 1000);
	CHECK(s != NULL);
	if (s) {
		CHECK(floo_sock_send(s, src, 50000, 1000) == 50000);
		while (got < 50000 && (r = floo_sock_recv(s, back + got, 50000 - got, 1000)) > 0)
			got += r;
		CHECK(got == 50000 && !memcmp(back, src, 50000));
		floo_sock_close(s);
	}
	for (int i = 0; i < 200; i++) {
		floo_poll(a->st);
		floo_poll(b->st);
		t_now_ns += 1000000;
	}
	CHECK(sa.closed == 1);
	CHECK_NO_LEAK(a);
	CHECK_NO_LEAK(b);
	app_fini(&sa);
	node_free(a);
	node_free(b);
}

/* Deterministic impairment of every TCP frame in both directions. */
static uint32_t imp_rng = 12345;
static struct fqueue *imp_held_q;
static uint8_t imp_held[2048];
static uint32_t imp_held_len;

static uint32_t imp_next(void)
{
	imp_rng = imp_rng * 1103515245u + 12345u;
	return (imp_rng >> 16) % 100;
}

static bool impair(struct node *from, uint8_t *f, uint32_t len)
{
	struct fqueue *q = &from->peer->rxq;
	uint32_t seq, plen;
	uint8_t fl;

	if (!frame_tcp(f, len, &seq, &plen, &fl))
		return true;
	if (imp_next() < 5)
		return false;
	if (!imp_held_len && imp_next() < 5) {
		memcpy(imp_held, f, len);
		imp_held_len = len;
		imp_held_q = q;
		return false;
	}
	q_push(q, f, len);
	if (imp_next() < 2)
		q_push(q, f, len);
	if (imp_held_len) {
		q_push(imp_held_q, imp_held, imp_held_len);
		imp_held_len = 0;
	}
	return false;
}

KT_CASE(tcp_echo_under_loss_duplication_reordering_both_ways)
{
	struct pair p;

	uint64_t t0 = t_now_ns;

	pair_up(&p, NULL);
	p.sa.echo = true;
	p.sa.close_on_fin = true;
	p.a->filter = impair;
	p.b->filter = impair;
	push(&p, 1000000, 8000, 120000);
	for (int i = 0; i < 120 && p.ca.rx_len < 1000000; i++)
		run_step(p.a, p.b, 1000, 500);
	CHECK(p.ca.rx_len == 1000000 && !memcmp(p.ca.rx, src, 1000000));
	floo_tcp_close(p.ca.c);
	for (int i = 0; i < 120 && !p.sa.closed; i++)
		run_step(p.a, p.b, 1000, 500);
	if (getenv("DBG"))
		fprintf(stderr,
		        "rx %u closed %d/%d state %d/%d; A fast %llu to %llu; B fast %llu to %llu "
		        "t=%llu ms\n",
		        p.ca.rx_len, p.ca.closed, p.sa.closed, p.ca.c->state, p.sa.c->state,
		        (unsigned long long)floo_stats(p.a->st)->tcp_fast_retrans,
		        (unsigned long long)floo_stats(p.a->st)->tcp_timeouts,
		        (unsigned long long)floo_stats(p.b->st)->tcp_fast_retrans,
		        (unsigned long long)floo_stats(p.b->st)->tcp_timeouts,
		        (unsigned long long)((t_now_ns - t0) / 1000000));
	CHECK(p.sa.closed == 1 && p.ca.closed == 1);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

KT_CASE(tcp_checksum_offload_hook)
{
	struct pair p;

	t_next_caps = FLOO_CAP_TX_CSUM_L4;
	fill_src();
	p.a = node_new(NULL, IP_A, 1);
	t_next_caps = 0;
	p.b = node_new(NULL, IP_B, 2);
	node_link(p.a, p.b);
	app_init(&p.ca, sizeof(src));
	app_init(&p.sa, sizeof(src));
	floo_tcp_listen(p.b->st, 80, app_cb, &p.sa);
	floo_tcp_connect(p.a->st, IP_B, 80, app_cb, &p.ca);
	run_ms(p.a, p.b, 20);
	push(&p, 100000, 3333, 2000);
	/* B verifies every checksum in software: nothing may be dropped. */
	CHECK(p.sa.rx_len == 100000 && !memcmp(p.sa.rx, src, 100000));
	CHECK(p.a->offloaded > 60 && floo_stats(p.b->st)->drop_tcp_csum == 0);
	CHECK(p.b->offloaded == 0);
	pair_down(&p);
}

KT_CASE(sock_blocking_server_accept_recv_send)
{
	struct node *a = node_new(NULL, IP_A, 1), *b = node_new(NULL, IP_B, 2);
	struct app cb;
	struct floo_sock *ls, *s;
	uint8_t buf[3000];
	int got = 0, r;

	fill_src();
	node_link(a, b);
	a->pump_peer = true;
	app_init(&cb, 10000);
	arp_learn(a->st, IP_B, b->mac, true);
	arp_learn(b->st, IP_A, a->mac, true);
	ls = floo_sock_listen(a->st, 8080);
	CHECK(ls != NULL && floo_sock_listen(a->st, 8080) == NULL);
	CHECK(floo_sock_accept(ls, 50) == NULL); /* times out: nobody yet */
	floo_tcp_connect(b->st, IP_A, 8080, app_cb, &cb);
	s = floo_sock_accept(ls, 1000);
	CHECK(s != NULL);
	if (s) {
		floo_tcp_send(cb.c, src, 3000, NULL);
		while (got < 3000 &&
		       (r = floo_sock_recv(s, buf + got, 3000 - (uint32_t)got, 1000)) > 0)
			got += r;
		CHECK(got == 3000 && !memcmp(buf, src, 3000));
		CHECK(floo_sock_send(s, "reply", 5, 1000) == 5);
		floo_tcp_close(cb.c);
		CHECK(floo_sock_recv(s, buf, sizeof(buf), 1000) == 0); /* EOF */
		floo_sock_close(s);
	}
	floo_sock_close(ls);
	for (int i = 0; i < 100; i++) {
		floo_poll(a->st);
		floo_poll(b->st);
		t_now_ns += 1000000;
	}
	CHECK(cb.rx_len == 5 && !memcmp(cb.rx, "reply", 5));
	CHECK(cb.closed == 1 && cb.close_err == 0);
	CHECK_NO_LEAK(a);
	CHECK_NO_LEAK(b);
	app_fini(&cb);
	node_free(a);
	node_free(b);
}

KT_CASE(tcp_early_retransmit_small_flight)
{
	struct pair p;

	pair_up(&p, NULL);
	lossy_reset();
	f_drop_once_at = 1; /* first of three segments, nothing more to send */
	p.a->filter = lossy;
	floo_tcp_send(p.ca.c, src, 3 * p.ca.c->mss, NULL);
	run_ms(p.a, p.b, 100); /* far less than the 200 ms minimum RTO */
	if (getenv("DBG"))
		fprintf(stderr, "rx %u fast %llu to %llu ooo %llu count %u mss %u\n", p.sa.rx_len,
		        (unsigned long long)floo_stats(p.a->st)->tcp_fast_retrans,
		        (unsigned long long)floo_stats(p.a->st)->tcp_timeouts,
		        (unsigned long long)floo_stats(p.b->st)->tcp_ooo_segs, f_count,
		        p.ca.c->mss);
	CHECK(p.sa.rx_len == 3u * p.ca.c->mss && !memcmp(p.sa.rx, src, p.sa.rx_len));
	CHECK(floo_stats(p.a->st)->tcp_fast_retrans == 1);
	CHECK(floo_stats(p.a->st)->tcp_timeouts == 0);
	pair_down(&p);
}

KT_CASE(tcp_segmentation_offload)
{
	struct pair p;

	t_next_caps = FLOO_CAP_TX_CSUM_L4 | FLOO_CAP_TX_TSO;
	fill_src();
	p.a = node_new(NULL, IP_A, 1);
	t_next_caps = 0;
	p.b = node_new(NULL, IP_B, 2);
	node_link(p.a, p.b);
	app_init(&p.ca, sizeof(src));
	app_init(&p.sa, sizeof(src));
	floo_tcp_listen(p.b->st, 80, app_cb, &p.sa);
	floo_tcp_connect(p.a->st, IP_B, 80, app_cb, &p.ca);
	run_ms(p.a, p.b, 20);
	lossy_reset();
	f_drop_every = 50; /* losses inside super-segments too */
	p.a->filter = lossy;
	push(&p, 1500000, 40000, 5000);
	CHECK(p.sa.rx_len == 1500000 && !memcmp(p.sa.rx, src, 1500000));
	CHECK(p.a->tso_frames > 10);
	CHECK(floo_stats(p.b->st)->drop_tcp_csum == 0);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

/* Bug: a frame cut short by the gather list (FLOO_TX_MAX_IOV pieces) kept
 * the FIN decided for the whole remaining range. A TSO NIC puts that FIN
 * on its last segment, so the peer saw the stream end early: floo-demo's
 * echo (one reference per received 1448-byte buffer) lost the tail of a
 * 4 MB nc transfer with checksum and segmentation offload on. */
static void fin_after_many_refs(uint32_t caps, uint32_t ref_len)
{
	struct pair p;
	uint32_t total = 0;

	t_next_caps = caps;
	fill_src();
	p.a = node_new(NULL, IP_A, 1);
	t_next_caps = 0;
	p.b = node_new(NULL, IP_B, 2);
	node_link(p.a, p.b);
	app_init(&p.ca, sizeof(src));
	app_init(&p.sa, sizeof(src));
	floo_tcp_listen(p.b->st, 80, app_cb, &p.sa);
	floo_tcp_connect(p.a->st, IP_B, 80, app_cb, &p.ca);
	run_ms(p.a, p.b, 20);
	/* Open the congestion window first: the whole queue, FIN included,
	 * must be sendable at once, as in the echo's tail. */
	push(&p, 200000, 1448, 2000);
	total = p.sa.rx_len;
	CHECK(total == 200000 && p.ca.c->cwnd > 16 * ref_len);
	while (floo_tcp_send_slots(p.ca.c)) {
		CHECK(floo_tcp_send(p.ca.c, src + total, ref_len, NULL) == 0);
		total += ref_len;
	}
	CHECK(total - 200000 > (FLOO_TX_MAX_IOV - 1) * ref_len); /* > one frame */
	floo_tcp_close(p.ca.c); /* the FIN is queued with all the data */
	p.sa.close_on_fin = true;
	run_ms(p.a, p.b, 200);
	CHECK(p.sa.peer_fin == 1);
	CHECK(p.sa.rx_len == total && !memcmp(p.sa.rx, src, total));
	CHECK(p.ca.closed == 1 && p.sa.closed == 1);
	CHECK_NO_LEAK(p.b);
	pair_down(&p);
}

KT_CASE(tcp_fin_on_tso_frame_cut_short_by_gather_list)
{
	fin_after_many_refs(FLOO_CAP_TX_CSUM_L4 | FLOO_CAP_TX_TSO, 1448);
}

KT_CASE(tcp_fin_on_segment_cut_short_by_gather_list)
{
	fin_after_many_refs(0, 100); /* 16 refs of 100 bytes: one MSS needs 15 */
}

KT_CASE(tcp_send_reference_queue_sized_by_config)
{
	struct floo_config cfg = {.tcp_sndq = 40};
	struct pair p;
	unsigned n = 0;

	pair_up(&p, &cfg);
	CHECK(floo_tcp_send_slots(p.ca.c) == 40);
	while (floo_tcp_send(p.ca.c, src + n * 100, 100, NULL) == 0)
		n++;
	CHECK(n == 40 && floo_tcp_send_slots(p.ca.c) == 0);
	run_ms(p.a, p.b, 50);
	CHECK(p.sa.rx_len == 4000 && !memcmp(p.sa.rx, src, 4000));
	CHECK(p.ca.sent == 40 && floo_tcp_send_slots(p.ca.c) == 40);
	pair_down(&p);
	cfg.tcp_sndq = 100000; /* clamped */
	CHECK(floo_mem_size(&cfg) ==
	      floo_mem_size(&(struct floo_config){.tcp_sndq = FLOO_TCP_SNDQ_MAX}));
	pair_up(&p, NULL);
	CHECK(floo_tcp_send_slots(p.ca.c) == 16); /* the default */
	pair_down(&p);
}
