/* Floo's timer heap (tcp_timer.c): expiry order, cancel and re-arm,
 * floo_next_deadline(), timers that fire at their deadline rather than on
 * a 10 ms scan, and an idle connection that sets no deadline at all. */
#include "harness.h"

#define MS_NS 1000000ull

/* Take the dirty list back (the connections are not real peers). */
static void undirty(struct floo_stack *st)
{
	while (st->tcp_dirty) {
		struct floo_tcp *c = st->tcp_dirty;

		st->tcp_dirty = c->dirty_next;
		c->flags &= (uint16_t)~TF_DIRTY;
	}
}

KT_CASE(timer_heap_expiry_order_cancel_and_rearm)
{
	enum { N = 48 };
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_stack *st = n->st;
	struct floo_tcp *c[N];
	uint64_t base = st->now_ns, want[N]; /* ms after base, 0 = never */
	uint32_t fired = 0, expected = 0;

	for (unsigned i = 0; i < N; i++) {
		c[i] = tcp_alloc(st);
		c[i]->state = TCP_ESTABLISHED;
		want[i] = 1 + (i * 37) % 97; /* distinct, in no order */
		tcp_timer_set(c[i], &c[i]->t_delack, base + want[i] * MS_NS);
		CHECK(tcp_timer_check(st));
	}
	CHECK(st->theap_n == N);
	for (unsigned i = 0; i < N; i += 6) { /* cancel: write 0, as the stack does */
		c[i]->t_delack = 0;
		want[i] = 0;
	}
	for (unsigned i = 1; i < N; i += 6) { /* re-arm later */
		want[i] += 50;
		tcp_timer_set(c[i], &c[i]->t_delack, base + want[i] * MS_NS);
	}
	for (unsigned i = 2; i < N; i += 6) { /* re-arm earlier */
		want[i] = want[i] > 3 ? want[i] - 3 : 1;
		tcp_timer_set(c[i], &c[i]->t_delack, base + want[i] * MS_NS);
	}
	tcp_destroy(c[3], 0); /* a freed slot leaves the heap */
	want[3] = 0;
	CHECK(c[3]->hpos == 0 && tcp_timer_check(st));
	for (unsigned i = 0; i < N; i++)
		expected += want[i] != 0;
	/* Step 1 ms at a time: exactly the connections due fire, each at
	 * its own millisecond, never a cancelled one. */
	for (uint64_t ms = 1; ms <= 160; ms++) {
		st->now_ns = base + ms * MS_NS;
		tcp_timer(st);
		CHECK(tcp_timer_check(st));
		for (unsigned i = 0; i < N; i++) {
			bool f = (c[i]->flags & TF_ACKNOW) != 0;

			CHECK(f == (want[i] && want[i] == ms));
			if (f) {
				CHECK(c[i]->t_delack == 0);
				c[i]->flags &= (uint16_t)~TF_ACKNOW;
				fired++;
			}
		}
		undirty(st);
	}
	CHECK(fired == expected);
	CHECK(st->theap_n == 0); /* every stale key went too */
	node_free(n);
}

KT_CASE(timer_next_deadline_follows_cleared_and_moved_timers)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_stack *st = n->st;
	struct floo_tcp *c = tcp_alloc(st);
	uint64_t now = st->now_ns;

	c->state = TCP_ESTABLISHED;
	CHECK(floo_next_deadline(st) == FLOO_NO_DEADLINE);
	tcp_timer_set(c, &c->t_rexmt, now + 200 * MS_NS);
	CHECK(floo_next_deadline(st) == now + 200 * MS_NS);
	tcp_timer_set(c, &c->t_tlp, now + 20 * MS_NS);
	CHECK(floo_next_deadline(st) == now + 20 * MS_NS);
	c->t_tlp = 0; /* cancelled: the stale key is corrected, no early wakeup */
	CHECK(floo_next_deadline(st) == now + 200 * MS_NS);
	tcp_timer_set(c, &c->t_rexmt, now + 500 * MS_NS); /* moved later */
	CHECK(floo_next_deadline(st) == now + 500 * MS_NS);
	CHECK(tcp_timer_check(st));
	c->t_rexmt = 0;
	CHECK(floo_next_deadline(st) == FLOO_NO_DEADLINE && st->theap_n == 0);
	/* ARP's table counts too: a pending resolution retries in 1 s. */
	arp_learn(st, IP_B, (const uint8_t[6]){2, 0, 0, 0, 0, 2}, true);
	CHECK(floo_next_deadline(st) > now && floo_next_deadline(st) != FLOO_NO_DEADLINE);
	node_free(n);
}

/* The delayed ACK goes 40 ms after the segment, not at the next 10 ms
 * scan after that (the old timer wheel's granularity). */
KT_CASE(timer_delayed_ack_fires_at_its_deadline_not_a_tick)
{
	struct raw r;
	uint8_t d[10] = {0};
	uint32_t seq = 0, ack = 0, plen = 0;
	uint8_t fl;
	uint16_t win = 0;

	CHECK(raw_open(&r, NULL, 0));
	drain(r.n);
	for (unsigned off = 0; off < 10; off++) { /* every phase of a 10 ms scan */
		uint64_t t0;

		t_now_ns += 1000000ull + 37000ull; /* 1.037 ms further each round */
		floo_poll(r.n->st);
		t0 = t_now_ns;
		raw_send(&r, r.snd, TH_ACK, d, sizeof(d));
		r.snd += sizeof(d);
		CHECK(r.n->txq.n == 0);
		CHECK(floo_next_deadline(r.n->st) == t0 + 40 * MS_NS);
		run_step(r.n, NULL, 39, 100);
		CHECK(r.n->txq.n == 0);
		run_step(r.n, NULL, 1, 100);
		CHECK(t_now_ns - t0 <= 40 * MS_NS + 100000);
		CHECK(raw_take(&r, &seq, &ack, &fl, &plen, &win) && ack == r.snd);
	}
	raw_close(&r);
}

/* A host sleeping until floo_next_deadline(): how often an idle
 * connection (HTTP keep-alive between requests) wakes it in 10 s. */
static unsigned idle_wakeups(struct node *n, uint64_t ms)
{
	uint64_t end = t_now_ns + ms * MS_NS;
	unsigned w = 0;

	for (;;) {
		uint64_t d = floo_next_deadline(n->st);

		if (d == FLOO_NO_DEADLINE || d > end)
			break;
		t_now_ns = d > t_now_ns ? d : t_now_ns;
		floo_poll(n->st);
		w++;
	}
	t_now_ns = end;
	return w;
}

KT_CASE(timer_idle_connection_wakes_nobody)
{
	struct raw r;
	uint8_t d[100] = {0};
	uint32_t seq = 0, ack = 0, plen = 0;
	uint8_t fl;
	uint16_t win = 0;

	CHECK(raw_open(&r, NULL, 0));
	raw_send(&r, r.snd, TH_ACK, d, sizeof(d)); /* a request ... */
	r.snd += sizeof(d);
	CHECK(floo_tcp_send(r.sa.c, d, 50, NULL) == 0); /* ... its answer */
	floo_poll(r.n->st);
	while (raw_take(&r, &seq, &ack, &fl, &plen, &win))
		r.rcv = seq + plen;
	raw_send(&r, r.snd, TH_ACK, NULL, 0); /* answer acknowledged */
	drain(r.n);
	CHECK(floo_tcp_state(r.sa.c) == 4);
	/* Nothing in flight, nothing owed, keep-alive off: no wakeup in 10 s
	 * (the 10 ms scan made a thousand). The ARP entry's 60 s lifetime is
	 * the only deadline left. */
	CHECK(idle_wakeups(r.n, 10000) == 0);
	CHECK(floo_next_deadline(r.n->st) == FLOO_NO_DEADLINE ||
	      floo_next_deadline(r.n->st) > t_now_ns + 45000 * MS_NS);
	CHECK(r.n->st->theap_n == 0);
	/* Keep-alive on: one wakeup when the idle time is over. */
	floo_poll(r.n->st); /* the stack's clock is read once per poll */
	floo_tcp_keepalive(r.sa.c, true);
	CHECK(tcp_timer_next(r.n->st) ==
	      t_now_ns + (uint64_t)r.n->st->cfg.tcp_keep_idle_ms * MS_NS);
	floo_tcp_keepalive(r.sa.c, false);
	CHECK(idle_wakeups(r.n, 1000) == 0);
	CHECK(r.n->txq.n == 0);
	raw_close(&r);
}
