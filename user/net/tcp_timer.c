/*
 * TCP timers: retransmission (RFC 6298 estimator, exponential back-off),
 * delayed ACK, persist (zero-window probes), keep-alive, TIME_WAIT and the
 * FIN_WAIT_2 bound. Deadlines live in each connection; tcp_timer() scans
 * the table every 10 ms tick.
 */
#include "tcp.h"

#define MS(x) ((uint64_t)(x)*1000000ull)

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
	c->t_rexmt = c->st->now_ns + MS(ms);
}

/* Enter (or restart) TIME_WAIT; the application is done with it. */
void tcp_enter_time_wait(struct floo_tcp *c)
{
	tcp_set_state(c, TCP_TIME_WAIT);
	c->t_2msl = c->st->now_ns + 2 * MS(c->st->cfg.tcp_msl_ms);
	c->t_rexmt = c->t_persist = c->t_keep = c->t_delack = 0;
	c->t_tlp = c->t_rack = 0;
	if (!(c->flags & TF_APP_GONE)) {
		tcp_event(c, FLOO_TCP_CLOSED, NULL, NULL, 0);
		c->flags |= TF_APP_GONE;
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
	floo_log(c->st, FLOO_LOG_DEBUG, "tcp_rto_flight", c->snd_max - c->snd_una);
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
	c->t_persist = c->st->now_ns + MS(ms);
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
	c->t_keep = st->now_ns + MS(st->cfg.tcp_keep_intvl_ms);
}

/* TIME_WAIT ends; FIN_WAIT_2 ends after 2*MSL of peer silence. */
static void msl_fire(struct floo_tcp *c)
{
	uint64_t lim = 2 * MS(c->st->cfg.tcp_msl_ms);

	c->t_2msl = 0;
	if (c->state == TCP_FIN_WAIT_2 && c->st->now_ns - c->last_rx_ns < lim) {
		c->t_2msl = c->last_rx_ns + lim;
		return;
	}
	if (c->state == TCP_TIME_WAIT || c->state == TCP_FIN_WAIT_2)
		tcp_destroy(c, 0);
}

static bool due(uint64_t t, uint64_t now)
{
	return t && t <= now;
}

/* Run every due timer of every connection. */
void tcp_timer(struct floo_stack *st)
{
	uint64_t now = st->now_ns;

	for (uint32_t i = 0; i < st->cfg.n_tcp; i++) {
		struct floo_tcp *c = &st->tcp[i];

		if (c->state == TCP_CLOSED)
			continue;
		if (due(c->t_delack, now)) {
			c->t_delack = 0;
			c->flags |= TF_ACKNOW;
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
}
