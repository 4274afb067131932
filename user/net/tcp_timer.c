/*
 * TCP timers: retransmission (RFC 6298 estimator, exponential back-off),
 * delayed ACK, persist (zero-window probes), keep-alive, TIME_WAIT and the
 * FIN_WAIT_2 bound. Deadlines live in each connection; the connections
 * with any deadline sit in a binary min-heap (st->theap) keyed by a time
 * no later than their earliest one, so tcp_timer() visits only those due
 * and floo_next_deadline() tells a host how long it may sleep: an idle
 * connection with nothing armed costs no wakeup at all.
 *
 * Arming a deadline earlier than the key moves the connection up the heap
 * (tcp_timer_set, O(log n)); moving one later or clearing it costs
 * nothing: the stale key is corrected when it reaches the top (a visit
 * that finds nothing due re-keys the connection to its real deadline).
 */
#include "tcp.h"

#define MS(x) ((uint64_t)(x)*1000000ull)

static uint64_t key_of(const struct floo_stack *st, uint32_t i)
{
	return st->tcp[st->theap[i]].t_key;
}

static void heap_put(struct floo_stack *st, uint32_t i, uint32_t idx)
{
	st->theap[i] = idx;
	st->tcp[idx].hpos = i + 1;
}

static void sift_up(struct floo_stack *st, uint32_t i)
{
	uint32_t idx = st->theap[i];
	uint64_t k = st->tcp[idx].t_key;

	while (i > 0) {
		uint32_t up = (i - 1) / 2;

		if (key_of(st, up) <= k)
			break;
		heap_put(st, i, st->theap[up]);
		i = up;
	}
	heap_put(st, i, idx);
}

static void sift_down(struct floo_stack *st, uint32_t i)
{
	uint32_t idx = st->theap[i], n = st->theap_n;
	uint64_t k = st->tcp[idx].t_key;

	for (;;) {
		uint32_t l = 2 * i + 1, m;

		if (l >= n)
			break;
		m = l + 1 < n && key_of(st, l + 1) < key_of(st, l) ? l + 1 : l;
		if (key_of(st, m) >= k)
			break;
		heap_put(st, i, st->theap[m]);
		i = m;
	}
	heap_put(st, i, idx);
}

/* Key c at k (nonzero): insert, or move it either way. */
static void heap_key(struct floo_tcp *c, uint64_t k)
{
	struct floo_stack *st = c->st;
	uint64_t old = c->t_key;

	c->t_key = k;
	if (!c->hpos) {
		heap_put(st, st->theap_n++, c->idx);
		sift_up(st, c->hpos - 1);
	} else if (k < old) {
		sift_up(st, c->hpos - 1);
	} else if (k > old) {
		sift_down(st, c->hpos - 1);
	}
}

void tcp_timer_remove(struct floo_tcp *c)
{
	struct floo_stack *st = c->st;
	uint32_t i = c->hpos;

	if (!i)
		return;
	c->hpos = 0;
	c->t_key = 0;
	if (--i == --st->theap_n)
		return;
	heap_put(st, i, st->theap[st->theap_n]);
	sift_up(st, i);
	sift_down(st, st->tcp[st->theap[i]].hpos - 1);
}

void tcp_timer_set(struct floo_tcp *c, uint64_t *t, uint64_t at)
{
	*t = at;
	if (!c->hpos || at < c->t_key)
		heap_key(c, at);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return !a || (b && b < a) ? b : a;
}

uint64_t tcp_timer_min(const struct floo_tcp *c)
{
	uint64_t m = earliest(c->t_rexmt, c->t_delack);

	m = earliest(m, c->t_persist);
	m = earliest(m, c->t_keep);
	m = earliest(m, c->t_2msl);
	m = earliest(m, c->t_tlp);
	m = earliest(m, c->t_pace);
	return earliest(m, c->t_rack);
}

/* Re-key c to its real earliest deadline, or take it out. */
static void rekey(struct floo_tcp *c)
{
	uint64_t m = c->state == TCP_CLOSED ? 0 : tcp_timer_min(c);

	if (m)
		heap_key(c, m);
	else
		tcp_timer_remove(c);
}

uint64_t tcp_timer_next(struct floo_stack *st)
{
	/* Correct stale keys at the top (deadlines moved later or cleared);
	 * bounded, a stale key left costs one early wakeup at most. */
	for (unsigned n = 0; st->theap_n && n < 16; n++) {
		struct floo_tcp *c = &st->tcp[st->theap[0]];

		if (c->state != TCP_CLOSED && tcp_timer_min(c) == c->t_key)
			break;
		rekey(c);
	}
	return st->theap_n ? key_of(st, 0) : 0;
}

bool tcp_timer_check(const struct floo_stack *st)
{
	uint32_t in = 0;

	for (uint32_t i = 0; i < st->theap_n; i++) {
		const struct floo_tcp *c = &st->tcp[st->theap[i]];

		if (c->hpos != i + 1 || !c->t_key || (i && key_of(st, (i - 1) / 2) > c->t_key))
			return false;
	}
	for (uint32_t i = 0; i < st->cfg.n_tcp; i++) {
		const struct floo_tcp *c = &st->tcp[i];
		uint64_t m = tcp_timer_min(c);

		in += c->hpos != 0;
		if (c->state == TCP_CLOSED ? c->hpos != 0 : m && (!c->hpos || c->t_key > m))
			return false;
	}
	return in == st->theap_n;
}

/* RFC 6298 2.2/2.3 with srtt8 = 8*SRTT and rttvar4 = 4*RTTVAR. */
void tcp_rtt_sample(struct floo_tcp *c, uint32_t r)
{
	uint32_t rto;

	if (r > TCP_RTO_MAX_MS)
		return; /* bogus echo */
	if (!c->srtt8) {
		c->srtt8 = r * 8 + 1;
		c->rttvar4 = r * 2;
	} else {
		int32_t delta = (int32_t)r - (int32_t)(c->srtt8 / 8);
		uint32_t adelta = (uint32_t)(delta < 0 ? -delta : delta);

		c->srtt8 = (uint32_t)((int32_t)c->srtt8 + delta);
		c->rttvar4 = c->rttvar4 + adelta - c->rttvar4 / 4;
	}
	rto = c->srtt8 / 8 + (c->rttvar4 > 10 ? c->rttvar4 : 10);
	if (rto < c->st->cfg.tcp_rto_min_ms)
		rto = c->st->cfg.tcp_rto_min_ms;
	if (rto > TCP_RTO_MAX_MS)
		rto = TCP_RTO_MAX_MS;
	c->rto_ms = rto;
}

/* (Re)start the retransmission timer with the backed-off RTO. */
void tcp_arm_rexmt(struct floo_tcp *c)
{
	uint64_t ms = (uint64_t)c->rto_ms << c->rxtshift;

	if (ms > TCP_RTO_MAX_MS)
		ms = TCP_RTO_MAX_MS;
	tcp_timer_set(c, &c->t_rexmt, c->st->now_ns + MS(ms));
}

/* Enter (or restart) TIME_WAIT; the application is done with it. */
void tcp_enter_time_wait(struct floo_tcp *c)
{
	tcp_set_state(c, TCP_TIME_WAIT);
	tcp_timer_set(c, &c->t_2msl, c->st->now_ns + 2 * MS(c->st->cfg.tcp_msl_ms));
	c->t_rexmt = c->t_persist = c->t_keep = c->t_delack = 0;
	c->t_tlp = c->t_rack = 0;
	if (!(c->flags & TF_APP_GONE)) {
		tcp_event(c, FLOO_TCP_CLOSED, NULL, NULL, 0);
		c->flags |= TF_APP_GONE;
	}
}

/* A debug record of the state an RTO found (how the impaired-path RTOs
 * were understood: docs/net.md, Benchmarks): flight, how long the peer
 * had been silent, recovery, pipe and cwnd, RecoveryPoint and SND.NXT
 * (from SND.UNA), the peer's window, the queue, RACK's RTT and window,
 * then each remembered transmission (offset from SND.UNA, length, age) and SACKed range. */
static void rto_debug(struct floo_tcp *c)
{
	struct floo_stack *st = c->st;

	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_flight", c->snd_max - c->snd_una);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_silent_us", (st->now_ns - c->last_rx_ns) / 1000);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_recovery", !!(c->flags & TF_RECOVERY));
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_pipe", tcp_rack_pipe(c));
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_cwnd", c->cwnd);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_recover_at", c->recover - c->snd_una);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_nxt_at", c->snd_nxt - c->snd_una);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_snd_wnd", c->snd_wnd);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_sndq", c->sndq_bytes);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_rack_rtt_us", c->rack_rtt_us);
	floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_reo_wnd_us", tcp_rack_reo_wnd_us(c));
	if (c->bbr.on) {
		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_bbr_bw", c->bbr.bw);
		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_bbr_min_rtt_us", c->bbr.min_rtt_us);
		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_bbr_mode", c->bbr.mode);
	}
	for (unsigned i = 0; i < c->txlog_n; i++) {
		const struct tcp_txrec *r = &c->txlog[(c->txlog_head + i) % TCP_TXLOG];

		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_tx_at", r->start - c->snd_una);
		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_tx_len", r->end - r->start);
		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_tx_age_us",
		         (uint32_t)(st->now_ns / 1000) - r->ts_us);
	}
	for (unsigned i = 0; i < c->sb_n; i++) {
		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_sacked_at", c->sb[i].start - c->snd_una);
		floo_log(st, FLOO_LOG_DEBUG, "tcp_rto_sacked_len", c->sb[i].end - c->sb[i].start);
	}
}

/* RTO expiry (RFC 6298 5.4-5.7): back off, collapse cwnd, go back to
 * SND.UNA. Gives up after too many tries. */
static void rexmt_fire(struct floo_tcp *c)
{
	bool syn = c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD;

	c->t_rexmt = 0;
	c->t_tlp = c->t_rack = 0;
	c->tlp_end = 0;
	if (c->snd_una == c->snd_max && !syn)
		return;
	c->rxtshift++;
	c->st->stats.tcp_timeouts++;
	rto_debug(c);
	if (c->rxtshift > (syn ? TCP_SYN_RETRIES : TCP_DATA_RETRIES)) {
		c->st->stats.tcp_conn_drops++;
		tcp_destroy(c, FLOO_ETIMEDOUT);
		return;
	}
	if (syn && c->rxtshift == 1 && !c->srtt8)
		c->rto_ms = TCP_RTO_INIT_MS; /* RFC 6298 5.7 */
	tcp_cc_timeout(c);
	c->flags &= (uint16_t)~TF_RTT;
	c->snd_nxt = syn ? c->iss : c->snd_una;
	c->st->stats.tcp_retransmits++;
	tcp_arm_rexmt(c);
	tcp_mark_dirty(c);
}

/* Zero-window probe: an ACK carrying SND.UNA-1 makes the peer answer with
 * its current window (the probe is re-sent with back-off, never giving up
 * while the peer answers). */
static void persist_fire(struct floo_tcp *c)
{
	uint64_t ms = (uint64_t)(c->rto_ms < 200 ? 200 : c->rto_ms);

	c->st->stats.tcp_zwp_sent++;
	tcp_emit(c, c->snd_una - 1, 0, TH_ACK);
	if (c->rxtshift < 8)
		c->rxtshift++;
	ms <<= c->rxtshift;
	if (ms > TCP_RTO_MAX_MS)
		ms = TCP_RTO_MAX_MS;
	tcp_timer_set(c, &c->t_persist, c->st->now_ns + MS(ms));
}

/* Keep-alive probe or, after tcp_keep_cnt unanswered probes, abort. */
static void keep_fire(struct floo_tcp *c)
{
	struct floo_stack *st = c->st;

	if (c->state < TCP_ESTABLISHED || c->state == TCP_TIME_WAIT) {
		c->t_keep = 0;
		return;
	}
	if (c->keep_probes >= st->cfg.tcp_keep_cnt) {
		st->stats.tcp_conn_drops++;
		tcp_emit(c, c->snd_nxt, 0, TH_RST | TH_ACK);
		tcp_destroy(c, FLOO_ETIMEDOUT);
		return;
	}
	c->keep_probes++;
	st->stats.tcp_keepalives++;
	tcp_emit(c, c->snd_una - 1, 0, TH_ACK);
	tcp_timer_set(c, &c->t_keep, st->now_ns + MS(st->cfg.tcp_keep_intvl_ms));
}

/* TIME_WAIT ends; FIN_WAIT_2 ends after 2*MSL of peer silence. */
static void msl_fire(struct floo_tcp *c)
{
	uint64_t lim = 2 * MS(c->st->cfg.tcp_msl_ms);

	c->t_2msl = 0;
	if (c->state == TCP_FIN_WAIT_2 && c->st->now_ns - c->last_rx_ns < lim) {
		tcp_timer_set(c, &c->t_2msl, c->last_rx_ns + lim);
		return;
	}
	if (c->state == TCP_TIME_WAIT || c->state == TCP_FIN_WAIT_2)
		tcp_destroy(c, 0);
}

static bool due(uint64_t t, uint64_t now)
{
	return t && t <= now;
}

/* Run every due timer of c. */
static void conn_timers(struct floo_tcp *c, uint64_t now)
{
	if (due(c->t_delack, now)) {
		c->t_delack = 0;
		c->flags |= TF_ACKNOW;
		tcp_mark_dirty(c);
	}
	if (due(c->t_pace, now)) {
		c->t_pace = 0; /* BBR pacing: the next frame may leave */
		tcp_mark_dirty(c);
	}
	if (due(c->t_rack, now))
		tcp_rack_timer(c);
	if (due(c->t_tlp, now))
		tcp_tlp_fire(c);
	if (due(c->t_rexmt, now))
		rexmt_fire(c);
	if (c->state != TCP_CLOSED && due(c->t_persist, now))
		persist_fire(c);
	if (c->state != TCP_CLOSED && due(c->t_keep, now))
		keep_fire(c);
	if (c->state != TCP_CLOSED && due(c->t_2msl, now))
		msl_fire(c);
}

/* Run the due timers of the connections at the top of the heap. Every
 * visit re-keys the connection to a deadline after now (each timer
 * re-arms into the future), so the loop ends; the bound is a guard. */
void tcp_timer(struct floo_stack *st)
{
	uint64_t now = st->now_ns;

	for (uint32_t n = 0; st->theap_n && key_of(st, 0) <= now && n <= st->cfg.n_tcp; n++) {
		struct floo_tcp *c = &st->tcp[st->theap[0]];

		if (c->state != TCP_CLOSED)
			conn_timers(c, now);
		rekey(c);
	}
}
