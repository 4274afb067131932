/*
 * RACK-TLP (RFC 8985) on SACK connections.
 *
 * RACK (section 6): a segment is lost when a segment sent after it has
 * been delivered and it is still unacknowledged a reordering window after
 * one RTT: time decides, not counts of duplicate ACKs, so lost
 * retransmissions and losses among few segments are found without an RTO.
 * Transmissions are kept in txlog, a ring in time order (TCP_TXLOG of
 * them; an octet whose transmission fell off the ring is judged as sent
 * with the oldest remembered one, which it preceded). Each D-SACK widens the
 * reordering window by min_RTT/4 for the next 16 recoveries.
 *
 * TLP (section 7): when the last segments of a flight are lost no ACK
 * ever comes, and an RTO (200 ms at least) would be the only way out. A
 * probe timeout of two smoothed RTTs sends one segment (new data, else
 * the last one again) so that the peer's ACK starts recovery.
 *
 * Repair probe (a departure from 7.2, which arms no probe in recovery):
 * while losses are being repaired (SACK recovery, or going back after an
 * RTO) the same timeout after the last ACK resends the last segment,
 * once per silence. A retransmission that is lost when nothing
 * sent after it can be delivered (the peer's window is full of our held
 * data, or the application has nothing more) leaves RACK nothing to
 * judge it by, and only the RTO (200 ms at least) would find it.
 */
#include "tcp_seg.h"

static uint32_t now_us(const struct floo_tcp *c)
{
	return (uint32_t)(c->st->now_ns / 1000u);
}

/* RACK_sent_after(): transmissions are numbered in the order they left,
 * which is exact where timestamps tie (the clock is read once per poll
 * iteration, and a TSO frame is many segments at one time). */
static bool sent_after(uint32_t ord1, uint32_t ord2)
{
	return (int32_t)(ord1 - ord2) > 0;
}

static bool is_rxt(const struct tcp_txrec *r)
{
	return r->ord & TX_RXT;
}

static struct tcp_txrec *txrec(struct floo_tcp *c, unsigned i)
{
	return &c->txlog[(c->txlog_head + i) % TCP_TXLOG];
}

/* Remember a retransmission for the D-SACKs that may report it: sent in
 * a SACK recovery (RACK or RFC 6675 judged it lost) or not (RTO, probe). */
static void rxh_add(struct floo_tcp *c, uint32_t seq, uint32_t len)
{
	uint16_t bit = (uint16_t)(1u << c->rxh_next);

	c->rxh[c->rxh_next] = (struct tcp_range){seq, seq + len};
	if ((c->flags & TF_RECOVERY) && !c->rxtshift)
		c->rxh_rack |= bit;
	else
		c->rxh_rack &= (uint16_t)~bit;
	c->rxh_next = (uint8_t)((c->rxh_next + 1) % TCP_RXH);
	if (c->rxh_n < TCP_RXH)
		c->rxh_n++;
}

unsigned tcp_rxh_covered(const struct floo_tcp *c, const struct tcp_range *b, bool *rack)
{
	unsigned n = 0;

	*rack = false;
	for (unsigned i = 0; i < c->rxh_n; i++) {
		const struct tcp_range *r = &c->rxh[i];

		if (seq_lt(r->start, b->end) && seq_gt(r->end, b->start)) {
			n++;
			*rack |= (c->rxh_rack >> i) & 1u;
		}
	}
	return n;
}

void tcp_txlog_add(struct floo_tcp *c, uint32_t seq, uint32_t len)
{
	struct tcp_txrec *r;

	if (!(c->flags & TF_SACK) || !len)
		return;
	while (c->txlog_n && seq_leq(txrec(c, 0)->end, c->snd_una)) {
		c->txlog_head = (uint8_t)((c->txlog_head + 1) % TCP_TXLOG);
		c->txlog_n--;
	}
	if (c->txlog_n == TCP_TXLOG) {
		c->txlog_head = (uint8_t)((c->txlog_head + 1) % TCP_TXLOG);
		c->txlog_n--;
	}
	if (c->flags & TF_RECOVERY)
		c->prr_out += len; /* RFC 6937 prr_out */
	if (seq_lt(seq, c->snd_max))
		rxh_add(c, seq, len);
	r = txrec(c, c->txlog_n++);
	r->start = seq;
	r->end = seq + len;
	r->ts_us = now_us(c);
	r->ord = c->tx_ord + (seq_lt(seq, c->snd_max) ? TX_RXT : 0u);
	c->tx_ord += TX_ORD_STEP;
	tcp_bbr_sent(c, r, len); /* rate-sampling state, pacing */
}

/* The latest transmission of octet x; NULL when none is remembered. */
static const struct tcp_txrec *latest(struct floo_tcp *c, uint32_t x)
{
	for (unsigned i = c->txlog_n; i-- > 0;) {
		const struct tcp_txrec *r = txrec(c, i);

		if (seq_geq(x, r->start) && seq_lt(x, r->end))
			return r;
	}
	return NULL;
}

/* Where the remembered transmissions change after x (for a gap). */
static uint32_t next_rec_start(struct floo_tcp *c, uint32_t x, uint32_t lim)
{
	for (unsigned i = 0; i < c->txlog_n; i++) {
		uint32_t st = txrec(c, i)->start;

		if (seq_gt(st, x) && seq_lt(st, lim))
			lim = st;
	}
	return lim;
}

/* Step 2: was this ACK (echoing tsecr, if any) for an earlier copy of
 * retransmission r? Its timestamp echo is older than r, or it came
 * sooner than min_RTT after r. */
static bool for_original(const struct floo_tcp *c, const struct tcp_txrec *r, uint32_t rtt,
                         const struct tcp_seg *s)
{
	uint32_t sent_ms = c->st->now_ms - rtt / 1000u;

	if (!is_rxt(r))
		return false;
	if ((c->flags & TF_TS) && s->has_ts && (int32_t)(s->tsecr - sent_ms) < 0)
		return true;
	return c->rack_min_set && rtt < c->rack_min_rtt_us;
}

/* Was transmission i of [start, end) resent later (in part)? Then its
 * segment's xmit_ts is the later one's, not its own. */
static bool superseded(struct floo_tcp *c, unsigned i)
{
	const struct tcp_txrec *r = txrec(c, i);

	for (unsigned j = i + 1; j < c->txlog_n; j++) {
		const struct tcp_txrec *q = txrec(c, j);

		if (seq_lt(q->start, r->end) && seq_gt(q->end, r->start))
			return true;
	}
	return false;
}

/* Does r overlap what this ACK delivered: [old_una, SND.UNA) or one of
 * its SACK blocks? */
static bool delivered_by(const struct floo_tcp *c, const struct tcp_txrec *r, uint32_t old_una,
                         const struct tcp_seg *s)
{
	if (seq_lt(r->start, c->snd_una) && seq_gt(r->end, old_una))
		return true;
	for (uint8_t i = 0; i < s->nsack; i++)
		if (seq_lt(r->start, s->sack[i].end) && seq_gt(r->end, s->sack[i].start))
			return true;
	return false;
}

/* Steps 1-3 over the transmissions this ACK newly delivered, oldest
 * first (originals go in sequence order): RACK.rtt and min_RTT, the
 * most recently sent delivered one, and RACK.fack with the reordering
 * it reveals. Each transmission counts once (TX_DELIVERED). */
void tcp_rack_update(struct floo_tcp *c, uint32_t old_una, const struct tcp_seg *s)
{
	uint32_t now = now_us(c);

	if (!(c->flags & TF_SACK))
		return;
	for (unsigned i = 0; i < c->txlog_n; i++) {
		struct tcp_txrec *r = txrec(c, i);
		uint32_t rtt = now - r->ts_us;

		if ((r->ord & TX_DELIVERED) || !delivered_by(c, r, old_una, s))
			continue;
		r->ord |= TX_DELIVERED;
		if (superseded(c, i) || for_original(c, r, rtt, s))
			continue;
		tcp_bbr_rs_note(c, r, rtt);
		if (!c->rack_min_set || rtt < c->rack_min_rtt_us) {
			c->rack_min_rtt_us = rtt;
			c->rack_min_set = true;
		}
		/* Step 3: an original delivered below what was already
		 * delivered was overtaken: the path reorders. */
		if (!c->rack_valid || seq_gt(r->end, c->rack_fack))
			c->rack_fack = r->end;
		else if (!is_rxt(r) && seq_lt(r->end, c->rack_fack))
			c->rack_reord = true;
		if (!c->rack_valid || sent_after(r->ord, c->rack_ord)) {
			c->rack_valid = true;
			c->rack_ts_us = r->ts_us;
			c->rack_ord = r->ord;
			c->rack_rtt_us = rtt;
		}
	}
}

/* Step 4: no window while nothing reorders and loss is already certain
 * (recovery, or DupThresh segments SACKed); else min_RTT / 4, at most
 * SRTT. */
uint32_t tcp_rack_reo_wnd_us(const struct floo_tcp *c)
{
	uint32_t w = c->rack_min_rtt_us / 4 * (c->reo_mult ? c->reo_mult : 1);
	uint32_t srtt_us = c->srtt8 / 8 * 1000u;

	if (!c->rack_reord &&
	    ((c->flags & TF_RECOVERY) || c->rxtshift || tcp_sb_is_lost(c, c->snd_una)))
		return 0;
	return w < srtt_us || !srtt_us ? w : srtt_us;
}

/* Is transmission r lost by step 5? Else *wait (if any) learns how long
 * until it would be. */
static bool rack_lost(const struct floo_tcp *c, const struct tcp_txrec *r, uint32_t reo,
                      int32_t *wait)
{
	int32_t rem;

	if (!r || !c->rack_valid || !sent_after(c->rack_ord, r->ord))
		return false;
	rem = (int32_t)(r->ts_us + c->rack_rtt_us + reo - now_us(c));
	if (rem <= 0)
		return true;
	if (wait && (!*wait || rem < *wait))
		*wait = rem;
	return false;
}

/* One unSACKed piece of [SND.UNA, SND.MAX) with a single latest
 * transmission: below_hi, retransmitted in this recovery; final, above
 * the highest SACK; lost by RFC 6675 (never-retransmitted octets below
 * the highest SACK) or by RACK. */
struct piece {
	uint32_t start, end;
	bool lost, below_hi, final;
};

static bool next_piece(struct floo_tcp *c, uint32_t *cur, uint32_t reo, int32_t *wait,
                       struct piece *p)
{
	struct tcp_txrec oldest, *old = &oldest;
	const struct tcp_txrec *r;
	uint32_t e, hole_end = c->snd_max;
	bool rl;

	while (seq_lt(*cur, c->snd_max) && tcp_sb_sacked(c, *cur, &e))
		*cur = e;
	if (!seq_lt(*cur, c->snd_max))
		return false;
	p->final = true;
	for (unsigned i = 0; i < c->sb_n; i++) {
		if (seq_gt(c->sb[i].start, *cur)) {
			hole_end = c->sb[i].start;
			p->final = false;
			break;
		}
	}
	r = latest(c, *cur);
	if (!r && c->txlog_n) {
		/* Its transmission fell off the ring, which drops the oldest
		 * first: it left no later than the oldest remembered one. */
		*old = *txrec(c, 0);
		old->start = *cur;
		old->end = next_rec_start(c, *cur, hole_end);
		old->ord = (old->ord & ~(TX_ORD_STEP - 1u)) - TX_ORD_STEP;
		r = old;
	}
	p->start = *cur;
	p->end =
	    r ? (seq_lt(r->end, hole_end) ? r->end : hole_end) : next_rec_start(c, *cur, hole_end);
	p->below_hi = (c->flags & TF_RECOVERY) && seq_lt(*cur, c->high_rxt);
	if (p->below_hi && seq_gt(p->end, c->high_rxt))
		p->end = c->high_rxt;
	rl = rack_lost(c, r, reo, wait);
	/* Once the path is seen to reorder, only time decides (RACK), as
	 * Linux does: counting SACKed segments misreads overtaken ones. */
	p->lost = rl || (!p->below_hi && !p->final && !c->rack_reord && tcp_sb_is_lost(c, *cur));
	*cur = p->end;
	return true;
}

uint32_t tcp_rack_pipe(struct floo_tcp *c)
{
	uint32_t pipe = 0, cur = c->snd_una, reo = tcp_rack_reo_wnd_us(c);
	struct piece p;

	while (next_piece(c, &cur, reo, NULL, &p))
		if (!p.lost)
			pipe += p.end - p.start;
	return pipe;
}

bool tcp_rack_next_hole(struct floo_tcp *c, bool any, uint32_t *seq, uint32_t *len)
{
	uint32_t cur = c->snd_una, reo = tcp_rack_reo_wnd_us(c);
	bool have3 = false;
	struct piece p, p3 = {0};

	while (next_piece(c, &cur, reo, NULL, &p)) {
		if (p.lost) {
			p3 = p;
			have3 = true;
			break;
		}
		if (any && !have3 && !p.below_hi && !p.final) {
			p3 = p;
			have3 = true;
		}
	}
	if (!have3 || (!any && !p3.lost))
		return false;
	*seq = p3.start;
	*len = p3.end - p3.start < c->mss ? p3.end - p3.start : c->mss;
	return true;
}

bool tcp_rack_detect(struct floo_tcp *c)
{
	uint32_t cur = c->snd_una, reo = tcp_rack_reo_wnd_us(c);
	int32_t wait = 0;
	struct piece p;
	bool lost = false;

	c->t_rack = 0;
	if (!(c->flags & TF_SACK) || !c->rack_valid)
		return false;
	/* Nothing SACKed and the RACK segment an original: everything sent
	 * before it is an original of lower sequence, already acknowledged
	 * (the common, loss-free case costs no scan). */
	if (!c->sb_n && !(c->rack_ord & TX_RXT) && !(c->flags & TF_RECOVERY))
		return false;
	while (!lost && next_piece(c, &cur, reo, &wait, &p))
		lost = p.lost;
	if (!lost && wait > 0)
		tcp_timer_set(c, &c->t_rack, c->st->now_ns + (uint64_t)wait * 1000u);
	return lost;
}

void tcp_rack_timer(struct floo_tcp *c)
{
	c->t_rack = 0;
	if (tcp_rack_detect(c)) {
		c->st->stats.tcp_rack_lost++;
		tcp_cc_loss(c);
	}
}

/* RFC 8985 7.2: PTO = 2 * SRTT, plus the worst-case delayed ACK when a
 * single segment is out (its ACK may be delayed), never below 2 ms (SRTT
 * is kept in milliseconds; timers fire at their deadline, no tick). */
uint32_t tcp_pto_ms(const struct floo_tcp *c)
{
	uint32_t pto = c->srtt8 / 4;

	if (c->snd_max - c->snd_una <= c->mss)
		pto += TCP_WCDELACK_MS;
	return pto < TCP_PTO_MIN_MS ? TCP_PTO_MIN_MS : pto;
}

/* Are losses being repaired: SACK recovery, or SND.NXT gone back after
 * an RTO? */
static bool repairing(const struct floo_tcp *c)
{
	return (c->flags & TF_RECOVERY) || c->snd_nxt != c->snd_max;
}

/* Arm the probe timer (RFC 8985 7.2): only with SACK, an RTT sample,
 * data outstanding, no back-off under way and no probe out (while
 * repairing, no repair probe out). It never fires after the RTO would
 * have. */
void tcp_tlp_arm(struct floo_tcp *c)
{
	uint64_t at;

	c->t_tlp = 0;
	if (!(c->flags & TF_SACK) || !c->srtt8 || c->snd_una == c->snd_max || c->rxtshift ||
	    c->state < TCP_ESTABLISHED || (repairing(c) ? c->rprobe_out : c->tlp_end != 0))
		return;
	at = c->st->now_ns + (uint64_t)tcp_pto_ms(c) * 1000000ull;
	if (c->t_rexmt && c->t_rexmt < at)
		at = c->t_rexmt;
	tcp_timer_set(c, &c->t_tlp, at);
}

/* RFC 8985 7.4: the episode ends when the probe is acknowledged. A probe
 * that was a retransmission repaired a loss unless a D-SACK said the
 * original arrived (tcp_cc_dsack clears tlp_rxt): then the window is
 * halved, as fast recovery would. */
void tcp_tlp_ack(struct floo_tcp *c, uint32_t ack)
{
	if (c->tlp_end && seq_geq(ack, c->tlp_end)) {
		if (c->tlp_rxt && !(c->flags & TF_RECOVERY)) {
			tcp_cc_save_undo(c);
			c->undo_rxt = 1; /* the probe */
			c->ssthresh = tcp_cc_reduce(c);
			c->cwnd = c->ssthresh;
		}
		c->tlp_end = 0;
	}
	tcp_tlp_arm(c);
}

/* The repair probe, whatever cwnd says (as RFC 8985's probe): the
 * highest unSACKed segment, and the last segment when that is another.
 * The first, sent after every outstanding retransmission, is either the
 * lost retransmission itself or, SACKed, lets RACK judge them (a D-SACK
 * gives RACK nothing: RACK.xmit_ts advances only with newly delivered
 * data). The second covers the peer that holds everything and whose ACK
 * was lost: a wholly old segment Linux answers at most twice a second
 * (tcp_invalid_ratelimit), one ending at SND.MAX always. The RTO keeps
 * running: it still guards the repair. */
static void repair_probe(struct floo_tcp *c)
{
	uint32_t fin = tcp_fin_sent(c) ? 1u : 0u, top = c->snd_max - fin, hi = top, lo = c->snd_una,
	         len, n;

	if (c->rprobe_out || c->rxtshift)
		return;
	/* The scoreboard is sorted: the highest hole ends at the last
	 * block's start when that block reaches SND.MAX. */
	for (unsigned i = c->sb_n; i-- > 0;) {
		if (seq_lt(c->sb[i].start, hi) && seq_geq(c->sb[i].end, hi)) {
			hi = c->sb[i].start;
		} else if (seq_lt(c->sb[i].end, hi)) {
			lo = c->sb[i].end;
			break;
		}
	}
	n = 0;
	if (seq_lt(lo, c->snd_una))
		lo = c->snd_una;
	if (seq_gt(hi, lo) && hi != top) {
		len = hi - lo < c->mss ? hi - lo : c->mss;
		n = tcp_retransmit(c, hi - len, len);
	}
	len = top - c->snd_una < c->mss ? top - c->snd_una : c->mss;
	n += tcp_retransmit(c, top - len, len);
	if (!n && !fin)
		return;
	c->st->stats.tcp_loss_probes++;
	c->st->stats.tcp_repair_probes++;
	c->rprobe_out = true;
}

/* An ACK arrived: the peer is not silent, a new repair probe may be
 * armed; in recovery (where tcp_tlp_ack runs only on cumulative ACKs)
 * the timer restarts from this ACK. */
void tcp_tlp_heard(struct floo_tcp *c)
{
	c->rprobe_out = false;
	if ((c->flags & TF_RECOVERY) || !c->t_tlp)
		tcp_tlp_arm(c);
}

/* PTO expiry (RFC 8985 7.3): new data if the window allows, else the
 * last segment sent; then the RTO guards the probe. While repairing,
 * the repair probe instead. */
void tcp_tlp_fire(struct floo_tcp *c)
{
	uint32_t fin = tcp_fin_sent(c) ? 1u : 0u, len, n;

	c->t_tlp = 0;
	if (c->snd_una == c->snd_max)
		return;
	if (repairing(c)) {
		repair_probe(c);
		return;
	}
	c->st->stats.tcp_loss_probes++;
	c->tlp_rxt = false;
	if (!tcp_send_new_one(c)) {
		len = c->snd_max - fin - c->snd_una;
		if (len > c->mss)
			len = c->mss;
		n = tcp_retransmit(c, c->snd_max - fin - len, len);
		if (!n && !fin)
			return;
		c->tlp_rxt = true;
	}
	c->tlp_end = c->snd_max;
	tcp_arm_rexmt(c);
}
