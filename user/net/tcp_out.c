/*
 * TCP output: segment construction (headers, options, gather lists over
 * the application's buffers, checksum or offload) and the send policy.
 * Nagle's algorithm is not used: appliances write whole messages.
 */
#include "tcp.h"

#define OUT_BURST 64 /* segments per tcp_output() call */

/* Fields of one outgoing segment. */
struct seg_out {
	uint32_t lip, rip, seq, ack;
	uint16_t lport, rport, win;
	uint8_t flags, optlen;
	uint8_t opt[40];
};

/* Fill the TCP header and options at t; returns header length. */
static uint32_t put_header(uint8_t *t, const struct seg_out *s)
{
	uint32_t hl = TCP_HLEN + s->optlen;

	put_be16(t, s->lport);
	put_be16(t + 2, s->rport);
	put_be32(t + 4, s->seq);
	put_be32(t + 8, s->ack);
	t[12] = (uint8_t)((hl / 4) << 4);
	t[13] = s->flags;
	put_be16(t + 14, s->win);
	put_be16(t + 16, 0);
	put_be16(t + 18, 0);
	memcpy(t + TCP_HLEN, s->opt, s->optlen);
	return hl;
}

/* Finish a frame: IP header, TCP header, checksum (or offload request).
 * iov[1..] already hold payload pieces of plen bytes. */
static bool seg_send(struct floo_stack *st, struct floo_txframe *tx, uint8_t *f,
                     const struct seg_out *s, uint32_t plen)
{
	uint8_t *t = f + ETH_HLEN + 20;
	uint32_t hl = put_header(t, s), sum, pos;

	ipv4_header(st, f + ETH_HLEN, s->lip, s->rip, IP_PROTO_TCP, hl + plen);
	sum = floo_csum_pseudo(s->lip, s->rip, IP_PROTO_TCP, hl + plen);
	tx->iov[0].len = ETH_HLEN + 20 + hl;
	if (st->plat.caps & FLOO_CAP_TX_CSUM_L4) {
		put_be16(t + 16, (uint16_t)~floo_csum_fold(sum));
		tx->csum_partial = true;
		tx->csum_start = ETH_HLEN + 20;
		tx->csum_offset = 16;
		return true;
	}
	sum = floo_csum_add(sum, t, hl);
	pos = hl;
	for (unsigned i = 1; i < tx->niov; i++) {
		sum = floo_csum_add_at(sum, tx->iov[i].base, tx->iov[i].len, pos);
		pos += tx->iov[i].len;
	}
	put_be16(t + 16, floo_csum_fold(sum));
	return true;
}

/* Options for our SYN or SYN-ACK: MSS, window scale, SACK permitted,
 * timestamps. */
static uint8_t syn_options(struct floo_tcp *c, uint8_t *o)
{
	uint8_t n = 0;
	bool active = c->state == TCP_SYN_SENT;

	o[n++] = 2;
	o[n++] = 4;
	put_be16(o + n, TCP_MSS_LOCAL);
	n += 2;
	if (active || (c->flags & TF_WS)) {
		o[n++] = 1;
		o[n++] = 3;
		o[n++] = 3;
		o[n++] = c->rcv_wscale;
	}
	if (active || (c->flags & TF_SACK)) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 4; /* SACK permitted (RFC 2018 2) */
		o[n++] = 2;
	}
	if (active || (c->flags & TF_TS)) {
		o[n++] = 1;
		o[n++] = 1;
		o[n++] = 8;
		o[n++] = 10;
		put_be32(o + n, c->st->now_ms);
		put_be32(o + n + 4, c->ts_recent);
		n += 8;
	}
	return n;
}

/* Receive space left: buffer minus what the application and the
 * out-of-order queue hold. */
uint32_t tcp_rcv_space(const struct floo_tcp *c)
{
	uint32_t used = c->rcv_held + c->ooo_n * c->mss;
	uint32_t buf = c->st->cfg.tcp_rcv_buf;

	if (c->rcv_held_pb + c->ooo_n >= c->st->cfg.tcp_rcv_pbufs)
		return 0;
	return used >= buf ? 0 : buf - used;
}

/* Window to advertise, never shrinking the right edge already offered. */
static uint16_t adv_window(struct floo_tcp *c, bool syn)
{
	uint32_t w = tcp_rcv_space(c), edge;
	uint8_t sh = (c->flags & TF_WS) ? c->rcv_wscale : 0;

	if (syn) {
		w = w > 65535 ? 65535 : w;
		if (seq_gt(c->rcv_nxt + w, c->rcv_adv))
			c->rcv_adv = c->rcv_nxt + w;
		return (uint16_t)w;
	}
	if (seq_gt(c->rcv_adv, c->rcv_nxt) && c->rcv_adv - c->rcv_nxt > w)
		w = c->rcv_adv - c->rcv_nxt;
	if ((w >> sh) > 65535)
		w = 65535u << sh;
	w = (w >> sh) << sh;
	edge = c->rcv_nxt + w;
	if (seq_gt(edge, c->rcv_adv))
		c->rcv_adv = edge;
	return (uint16_t)(w >> sh);
}

static bool can_tso(const struct floo_tcp *c)
{
	uint32_t caps = c->st->plat.caps;

	return (caps & FLOO_CAP_TX_TSO) && (caps & FLOO_CAP_TX_CSUM_L4);
}

/* Gather [seq, seq+len) from the reference queue into tx->iov[1..].
 * Returns the bytes gathered (less than len when iovs run out). */
static uint32_t gather(struct floo_tcp *c, struct floo_txframe *tx, uint32_t seq, uint32_t len)
{
	uint32_t off = seq - c->snd_buf_seq, got = 0;

	for (unsigned i = 0; i < c->sndq_n && got < len; i++) {
		const struct tcp_sref *r = &c->sndq[(c->sndq_head + i) % c->st->cfg.tcp_sndq];
		uint32_t n;

		if (off >= r->len) {
			off -= r->len;
			continue;
		}
		if (tx->niov == FLOO_TX_MAX_IOV)
			break;
		n = r->len - off;
		if (n > len - got)
			n = len - got;
		tx->iov[tx->niov].base = r->p + off;
		tx->iov[tx->niov].len = n;
		tx->niov++;
		got += n;
		off = 0;
	}
	return got;
}

/* Send one segment of this connection; returns payload bytes sent, or
 * -1 if nothing could go out (next hop unresolved). */
static int32_t emit(struct floo_tcp *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	struct floo_stack *st = c->st;
	struct seg_out s = {.lip = c->lip,
	                    .rip = c->rip,
	                    .seq = seq,
	                    .lport = c->lport,
	                    .rport = c->rport,
	                    .flags = flags};
	struct floo_txframe *tx;
	const uint8_t *mac = eth_next_hop(st, c->rip);
	uint32_t seg_max = c->mss, want = len;
	uint8_t *f, sack_len = 0;

	if (!mac)
		return -1;
	tx = floo_tx_frame(st, &f);
	eth_header(st, f, mac, ETH_P_IP);
	if (flags & TH_SYN) {
		s.optlen = syn_options(c, s.opt);
	} else if (c->flags & TF_TS) {
		s.opt[0] = s.opt[1] = 1;
		s.opt[2] = 8;
		s.opt[3] = 10;
		put_be32(s.opt + 4, st->now_ms);
		put_be32(s.opt + 8, c->ts_recent);
		s.optlen = 12;
	}
	if ((flags & (TH_ACK | TH_SYN | TH_RST)) == TH_ACK) {
		sack_len = tcp_sack_option(c, s.opt + s.optlen, sizeof(s.opt) - s.optlen);
		s.optlen = (uint8_t)(s.optlen + sack_len);
		seg_max -= sack_len; /* the frame must still fit the MTU */
	}
	if (len > seg_max && !can_tso(c))
		len = seg_max;
	if (len)
		len = gather(c, tx, seq, len);
	if (len && !(flags & (TH_SYN | TH_RST)))
		tcp_txlog_add(c, seq, len); /* RACK's record of it */
	/* Cut short (by SACK blocks or the gather list): the FIN (and PSH)
	 * belong after the last byte, which this frame no longer carries.
	 * A TSO NIC keeps FIN on its last segment, so a stale FIN here ends
	 * the stream early at the peer. */
	if (len < want)
		s.flags &= (uint8_t) ~(TH_FIN | TH_PSH);
	if (len > seg_max)
		tx->tso_mss = (uint16_t)seg_max; /* only with FLOO_CAP_TX_TSO */
	if (flags & TH_ACK) {
		s.ack = c->rcv_nxt;
		c->last_ack_sent = c->rcv_nxt;
		c->flags &= (uint16_t) ~(TF_ACKNOW | TF_WNDUPD);
		c->acks_owed = 0;
		c->t_delack = 0;
	}
	if (!(flags & TH_RST))
		s.win = adv_window(c, flags & TH_SYN);
	seg_send(st, tx, f, &s, len);
	return (int32_t)len;
}

void tcp_emit(struct floo_tcp *c, uint32_t seq, uint32_t len, uint8_t flags)
{
	(void)emit(c, seq, len, flags);
}

uint32_t tcp_fin_seq(const struct floo_tcp *c)
{
	return c->snd_buf_seq + c->sndq_bytes;
}

bool tcp_fin_sent(const struct floo_tcp *c)
{
	return (c->flags & TF_FIN_QUEUED) && seq_gt(c->snd_max, tcp_fin_seq(c));
}

/* Account for a transmitted range [snd_nxt, snd_nxt+n): advance, start
 * RTT timing on new data (Karn), keep the retransmit timer running. */
static void sent_range(struct floo_tcp *c, uint32_t n)
{
	if (c->snd_nxt == c->snd_max && !(c->flags & TF_RTT) && !(c->flags & TF_TS)) {
		c->flags |= TF_RTT;
		c->rtt_seq = c->snd_nxt;
		c->rtt_start_ms = c->st->now_ms;
	}
	c->snd_nxt += n;
	if (seq_gt(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	if (!c->t_rexmt)
		tcp_arm_rexmt(c);
	c->t_persist = 0;
}

/* Largest segment we hand the platform: one MSS, or a whole number of
 * them up to FLOO_TSO_MAX when the NIC segments. */
static uint32_t max_segment(const struct floo_tcp *c)
{
	if (can_tso(c))
		return FLOO_TSO_MAX / c->mss * c->mss;
	return c->mss;
}

/* Going back to SND.UNA after a timeout, step over what the peer has
 * SACKed (RFC 6675 5.1); returns the bytes up to the next SACKed range. */
static uint32_t skip_sacked(struct floo_tcp *c, uint32_t end)
{
	uint32_t e;

	while (seq_lt(c->snd_nxt, end) && tcp_sb_sacked(c, c->snd_nxt, &e))
		c->snd_nxt = seq_lt(e, end) ? e : end;
	for (unsigned i = 0; i < c->sb_n; i++)
		if (seq_gt(c->sb[i].start, c->snd_nxt))
			return c->sb[i].start - c->snd_nxt;
	return UINT32_MAX;
}

/* The next data segment allowed by the windows; false when none. In SACK
 * recovery the caller has checked cwnd against pipe: only the peer's
 * window and one MSS limit it. */
static bool next_segment(struct floo_tcp *c, uint32_t *len, uint8_t *flags, bool recovery)
{
	uint32_t end = tcp_fin_seq(c), win, flight, avail, n, maxseg, gap, dups;

	win = recovery ? UINT32_MAX : c->cwnd;
	/* Limited transmit (RFC 3042; RFC 6675 5 step C for SACK): the first
	 * two duplicate ACKs each let one new segment out, so small windows
	 * still reach three. With SACK an ACK carrying data counts too. */
	dups = c->dupacks > c->sack_dupacks ? c->dupacks : c->sack_dupacks;
	if (!(c->flags & TF_RECOVERY) && dups && dups < TCP_DUPTHRESH)
		win += dups * c->mss;
	if (c->snd_wnd < win)
		win = c->snd_wnd;
	gap = c->sb_n ? skip_sacked(c, end) : UINT32_MAX;
	flight = c->snd_nxt - c->snd_una;
	*flags = TH_ACK;
	if (seq_lt(c->snd_nxt, end)) {
		avail = end - c->snd_nxt;
		n = win > flight ? win - flight : 0;
		if (n > avail)
			n = avail;
		maxseg = recovery ? c->mss : tcp_bbr_seg_cap(c, max_segment(c));
		if (maxseg > gap)
			maxseg = gap;
		if (n > maxseg)
			n = maxseg;
		else if (n > c->mss && n < avail)
			n -= n % c->mss; /* whole segments; the tail waits */
		/* Sender SWS avoidance: no runts while data is in flight. */
		if (!n || (n < c->mss && n < avail && flight))
			return false;
		if (n == avail) {
			*flags |= TH_PSH;
			if (c->flags & TF_FIN_QUEUED)
				*flags |= TH_FIN;
		}
		*len = n;
		return true;
	}
	if ((c->flags & TF_FIN_QUEUED) && c->snd_nxt == end) {
		*len = 0;
		*flags |= TH_FIN;
		return true;
	}
	return false;
}

/* Send the next new segment the windows allow; false when none went. */
static bool send_new(struct floo_tcp *c, bool recovery)
{
	uint32_t len;
	uint8_t fl;
	int32_t n;

	if ((!recovery && !tcp_bbr_pace_ok(c)) || !next_segment(c, &len, &fl, recovery))
		return false;
	n = emit(c, c->snd_nxt, len, fl);
	if (n < 0)
		return false;
	if ((uint32_t)n < len)
		fl &= (uint8_t)~TH_FIN;
	sent_range(c, (uint32_t)n + ((fl & TH_FIN) ? 1 : 0));
	return true;
}

bool tcp_send_new_one(struct floo_tcp *c)
{
	return send_new(c, true);
}

/* RFC 6675 5 step C: while cwnd - pipe >= 1 SMSS, send NextSeg(): a lost
 * hole above HighRxt (rule 1), new data (rule 2), any hole below the
 * highest SACK (rule 3). Rule 4 (rescue) is left to the loss probe. */
static void sack_recovery_output(struct floo_tcp *c)
{
	uint32_t pipe = tcp_rack_pipe(c);

	for (int i = 0; i < OUT_BURST && c->cwnd >= pipe + c->mss && tcp_bbr_pace_ok(c); i++) {
		uint32_t seq, len, n, max = c->snd_max;

		if (!tcp_rack_next_hole(c, false, &seq, &len)) {
			if (send_new(c, true)) {
				pipe += c->snd_max - max;
				continue;
			}
			if (!tcp_rack_next_hole(c, true, &seq, &len))
				return;
		}
		n = tcp_retransmit(c, seq, len);
		if (!n)
			return;
		pipe += n;
		if (seq_gt(seq + n, c->high_rxt))
			c->high_rxt = seq + n;
	}
}

/* Handshake segments: SYN (active) or SYN-ACK (passive). */
static void output_syn(struct floo_tcp *c)
{
	uint8_t fl = c->state == TCP_SYN_SENT ? TH_SYN : TH_SYN | TH_ACK;

	if (c->snd_nxt != c->iss) {
		if (c->flags & TF_ACKNOW)
			(void)emit(c, c->snd_nxt, 0, TH_ACK);
		return;
	}
	if (c->rxtshift == 0 && !(c->flags & TF_RTT)) {
		c->flags |= TF_RTT; /* time the handshake (Karn: first try only) */
		c->rtt_seq = c->iss;
		c->rtt_start_ms = c->st->now_ms;
	}
	if (emit(c, c->iss, 0, fl) < 0 && c->t_rexmt)
		return;
	c->snd_nxt = c->iss + 1;
	if (seq_gt(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	if (!c->t_rexmt)
		tcp_arm_rexmt(c);
}

/* Send whatever the windows allow, then a pure ACK if one is owed. */
void tcp_output(struct floo_tcp *c)
{
	if (c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) {
		output_syn(c);
		return;
	}
	if (c->state == TCP_CLOSED || c->state == TCP_TIME_WAIT) {
		if (c->state == TCP_TIME_WAIT && (c->flags & TF_ACKNOW))
			(void)emit(c, c->snd_max, 0, TH_ACK);
		return;
	}
	if ((c->flags & (TF_SACK | TF_RECOVERY)) == (TF_SACK | TF_RECOVERY))
		sack_recovery_output(c);
	else if (send_new(c, false)) {
		for (int i = 1; i < OUT_BURST && send_new(c, false); i++)
			;
		tcp_tlp_arm(c); /* RFC 8985 7.2: after new data */
	}
	/* A pure ACK carries SND.MAX, not a rewound SND.NXT: a peer that has
	 * seen our later data treats an older sequence number as a stale
	 * duplicate and ignores the acknowledgment in it. */
	if (c->flags & (TF_ACKNOW | TF_WNDUPD))
		(void)emit(c, c->snd_max, 0, TH_ACK);
	if (seq_lt(c->snd_nxt, tcp_fin_seq(c)) && c->snd_wnd == 0 && c->snd_una == c->snd_nxt &&
	    !c->t_persist) {
		uint32_t ms = c->rto_ms < TCP_PERSIST_MIN_MS ? TCP_PERSIST_MIN_MS : c->rto_ms;

		c->t_rexmt = 0;
		tcp_timer_set(c, &c->t_persist, c->st->now_ns + (uint64_t)ms * 1000000u);
	}
}

/* Resend [seq, seq+len) (fast retransmit, partial ACK, SACK hole), with
 * the FIN if it falls at its end. */
uint32_t tcp_retransmit(struct floo_tcp *c, uint32_t seq, uint32_t len)
{
	uint32_t end = tcp_fin_seq(c);
	uint8_t fl = TH_ACK;
	int32_t n;

	if (!seq_lt(seq, end))
		len = 0;
	else if (len > end - seq)
		len = end - seq;
	if (len > c->mss)
		len = c->mss;
	if (tcp_fin_sent(c) && seq + len == end)
		fl |= TH_FIN;
	if (!len && !(fl & TH_FIN))
		return 0;
	c->st->stats.tcp_fast_retrans++;
	n = emit(c, seq, len, fl);
	if (n > 0 || (fl & TH_FIN))
		tcp_cc_rxt_sent(c);
	return n < 0 ? 0 : (uint32_t)n;
}

uint32_t tcp_retransmit_one(struct floo_tcp *c, uint32_t seq)
{
	return tcp_retransmit(c, seq, c->mss);
}

void tcp_send_ack_now(struct floo_tcp *c)
{
	(void)emit(c, c->snd_max, 0, TH_ACK);
}

void tcp_mark_dirty(struct floo_tcp *c)
{
	if (c->flags & TF_DIRTY)
		return;
	c->flags |= TF_DIRTY;
	c->dirty_next = c->st->tcp_dirty;
	c->st->tcp_dirty = c;
}

/* End of a poll iteration: output for every connection touched. */
void tcp_flush_dirty(struct floo_stack *st)
{
	while (st->tcp_dirty) {
		struct floo_tcp *c = st->tcp_dirty;

		st->tcp_dirty = c->dirty_next;
		c->flags &= (uint16_t)~TF_DIRTY;
		tcp_output(c);
	}
}

/* RST for a segment without a connection (RFC 9293 3.10.7.1). */
void tcp_send_rst_reply(struct floo_stack *st, const uint8_t *ip, const uint8_t *th,
                        uint32_t seglen)
{
	struct seg_out s = {.lip = get_be32(ip + 16),
	                    .rip = get_be32(ip + 12),
	                    .lport = get_be16(th + 2),
	                    .rport = get_be16(th)};
	struct floo_txframe *tx;
	const uint8_t *mac;
	uint8_t *f;

	if (th[13] & TH_RST)
		return;
	if (th[13] & TH_ACK) {
		s.seq = get_be32(th + 8);
		s.flags = TH_RST;
	} else {
		s.ack = get_be32(th + 4) + seglen;
		s.flags = TH_RST | TH_ACK;
	}
	if (!(mac = eth_next_hop(st, s.rip)))
		return;
	tx = floo_tx_frame(st, &f);
	eth_header(st, f, mac, ETH_P_IP);
	st->stats.tcp_resets_sent++;
	seg_send(st, tx, f, &s, 0);
}

/* A SYN dropped for want of ARP would otherwise wait a whole initial RTO
 * (1 s); resend it as soon as the next hop is known. */
void tcp_arp_resolved(struct floo_stack *st, uint32_t ip)
{
	for (uint32_t i = 0; i < st->cfg.n_tcp; i++) {
		struct floo_tcp *c = &st->tcp[i];

		if ((c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD) && c->rxtshift == 0 &&
		    (c->rip == ip || st->gw == ip)) {
			c->snd_nxt = c->iss;
			tcp_mark_dirty(c);
		}
	}
}
