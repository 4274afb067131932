/*
 * TCP input, first half: header validation, options, demultiplexing,
 * LISTEN and SYN_SENT (RFC 9293 3.10.7.1-3.10.7.3).
 */
#include "tcp_seg.h"

bool tcp_parse_options(const uint8_t *o, uint32_t n, struct tcp_seg *s)
{
	uint32_t i = 0;

	while (i < n) {
		uint8_t kind = o[i], len;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || (len = o[i + 1]) < 2 || i + len > n)
			return false;
		if (kind == 2 && len == 4) {
			s->has_mss = true;
			s->mss = get_be16(o + i + 2);
		} else if (kind == 3 && len == 3) {
			s->has_ws = true;
			s->ws = o[i + 2];
		} else if (kind == 8 && len == 10) {
			s->has_ts = true;
			s->tsval = get_be32(o + i + 2);
			s->tsecr = get_be32(o + i + 6);
		} else if (kind == 4 && len == 2) {
			s->sack_ok = true; /* RFC 2018 2 */
		} else if (kind == 5) {
			tcp_sack_parse(s, o + i + 2, len - 2u);
		} else if ((kind == 2 || kind == 3 || kind == 8)) {
			return false;
		}
		i += len;
	}
	return true;
}

/* Shift so that the receive buffer fits the 16-bit window field. */
static uint8_t our_wscale(const struct floo_stack *st)
{
	uint8_t s = 0;

	while (s < 14 && (st->cfg.tcp_rcv_buf >> s) > 65535)
		s++;
	return s;
}

void tcp_syn_options(struct floo_tcp *c, const struct tcp_seg *s)
{
	uint16_t mss = s->has_mss ? s->mss : TCP_MSS_DEFAULT;

	if (mss > TCP_MSS_LOCAL)
		mss = TCP_MSS_LOCAL;
	if (mss < 64)
		mss = 64; /* a tiny MSS is a resource attack; clamp */
	c->flags &= (uint16_t) ~(TF_WS | TF_TS | TF_SACK);
	if (s->sack_ok) /* we offer it on every SYN and echo it on SYN-ACKs */
		c->flags |= TF_SACK;
	c->snd_wscale = c->rcv_wscale = 0;
	if (s->has_ws) {
		c->flags |= TF_WS;
		c->snd_wscale = s->ws > 14 ? 14 : s->ws;
		c->rcv_wscale = our_wscale(c->st);
	}
	if (s->has_ts) {
		c->flags |= TF_TS;
		c->ts_recent = s->tsval;
		mss -= 12;
	}
	c->mss = mss;
}

/* A SYN for a listening port: create a SYN_RCVD child. */
static void listen_input(struct floo_stack *st, struct tcp_listener *l, const uint8_t *ip,
                         const uint8_t *th, const struct tcp_seg *s)
{
	struct floo_tcp *c;

	if (l->pending >= st->cfg.tcp_backlog || !(c = tcp_alloc(st))) {
		floo_drop(st, &st->stats.drop_tcp, "tcp_backlog_full", NULL);
		return;
	}
	c->lip = get_be32(ip + 16);
	c->rip = get_be32(ip + 12);
	c->lport = get_be16(th + 2);
	c->rport = get_be16(th);
	c->flags |= TF_PASSIVE;
	c->listener = (uint8_t)(l - st->listen);
	c->cb = l->cb;
	c->user = l->user;
	c->irs = s->seq;
	c->rcv_nxt = c->rcv_adv = s->seq + 1;
	tcp_syn_options(c, s);
	c->snd_wnd = c->max_snd_wnd = s->wnd;
	c->snd_wl1 = s->seq;
	c->iss = tcp_new_iss(st, c->lip, c->lport, c->rip, c->rport);
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_wl2 = c->iss;
	c->snd_buf_seq = c->iss + 1;
	tcp_cc_init(c);
	tcp_hash_insert(c);
	tcp_set_state(c, TCP_SYN_RCVD);
	l->pending++;
	tcp_mark_dirty(c);
}

/* SYN_SENT: our SYN is out; expect SYN-ACK (or SYN: simultaneous open). */
static void syn_sent_input(struct floo_tcp *c, const uint8_t *ip, const uint8_t *th,
                           struct tcp_seg *s)
{
	bool ack_ok = (s->flags & TH_ACK) && seq_gt(s->ack, c->iss) && seq_leq(s->ack, c->snd_max);

	if ((s->flags & TH_ACK) && !ack_ok) {
		tcp_send_rst_reply(c->st, ip, th, s->len);
		return;
	}
	if (s->flags & TH_RST) {
		if (ack_ok)
			tcp_destroy(c, FLOO_ECONNREFUSED);
		return;
	}
	if (!(s->flags & TH_SYN))
		return;
	c->irs = s->seq;
	c->rcv_nxt = c->rcv_adv = s->seq + 1;
	tcp_syn_options(c, s);
	tcp_cc_init(c);                       /* the MSS is known only now */
	c->snd_wnd = c->max_snd_wnd = s->wnd; /* never scaled in a SYN */
	c->snd_wl1 = s->seq;
	c->snd_wl2 = s->ack;
	c->flags |= TF_ACKNOW;
	tcp_mark_dirty(c);
	if (!ack_ok) {
		/* Simultaneous open: answer with SYN-ACK on the same ISS. */
		c->snd_nxt = c->iss;
		tcp_set_state(c, TCP_SYN_RCVD);
		return;
	}
	c->snd_una = s->ack;
	if (c->flags & TF_RTT) {
		tcp_rtt_sample(c, c->st->now_ms - c->rtt_start_ms);
		c->flags &= (uint16_t)~TF_RTT;
	}
	c->t_rexmt = 0;
	c->rxtshift = 0;
	tcp_set_state(c, TCP_ESTABLISHED);
	tcp_event(c, FLOO_TCP_CONNECTED, NULL, NULL, 0);
}

/* Header length, checksum and options; false to drop. */
static bool tcp_parse(struct floo_stack *st, struct floo_pbuf *pb, const uint8_t *ip, uint8_t *th,
                      uint32_t len, struct tcp_seg *s)
{
	uint32_t hl;

	if (len < TCP_HLEN || (hl = (uint32_t)(th[12] >> 4) * 4) < TCP_HLEN || hl > len)
		return false;
	if (pb->frag && th + hl > pb->data + pb->len)
		return false; /* a coalesced frame's headers are all in its first buffer */
	if (!(pb->flags & FLOO_PB_CSUM_OK)) {
		if (pb->frag) /* coalesced: only with the NIC's checksum */
			return false;
		uint32_t sum =
		    floo_csum_pseudo(get_be32(ip + 12), get_be32(ip + 16), IP_PROTO_TCP, len);

		if (floo_csum_fold(floo_csum_add(sum, th, len)) != 0) {
			st->stats.drop_tcp_csum++;
			return false;
		}
	}
	memset(s, 0, sizeof(*s));
	s->seq = get_be32(th + 4);
	s->ack = get_be32(th + 8);
	s->flags = th[13] & 0x3f;
	s->wnd = get_be16(th + 14);
	s->payload = th + hl;
	s->len = len - hl;
	return tcp_parse_options(th + TCP_HLEN, hl - TCP_HLEN, s);
}

static struct tcp_listener *find_listener(struct floo_stack *st, uint16_t port)
{
	for (unsigned i = 0; i < FLOO_LISTEN_N; i++)
		if (st->listen[i].cb && st->listen[i].port == port)
			return &st->listen[i];
	return NULL;
}

/* Entry from IPv4: validate, find the connection, run the state machine.
 * pb (holding the whole datagram) is consumed. */
void tcp_input(struct floo_stack *st, struct floo_pbuf *pb, const uint8_t *ip, uint8_t *th,
               uint32_t len)
{
	struct tcp_seg s;
	struct floo_tcp *c;
	struct tcp_listener *l;
	uint32_t dst = get_be32(ip + 16);

	if (!pb || !ipv4_is_local(st, dst) || !tcp_parse(st, pb, ip, th, len, &s)) {
		floo_drop(st, &st->stats.drop_tcp, "tcp_malformed", pb);
		return;
	}
	c = tcp_lookup(st, dst, get_be16(th + 2), get_be32(ip + 12), get_be16(th));
	/* the listener matters only without a connection or in TIME_WAIT: not looked up (16
	 * slots) for every segment of an established one */
	l = !c || c->state == TCP_TIME_WAIT ? find_listener(st, get_be16(th + 2)) : NULL;
	if (c && c->state == TCP_TIME_WAIT && l &&
	    (s.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN && seq_gt(s.seq, c->rcv_nxt)) {
		/* New incarnation from TIME_WAIT (RFC 9293 3.6.1 / RFC 6191). */
		tcp_destroy(c, 0);
		c = NULL;
	}
	if (!c) {
		if (l && (s.flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN) {
			listen_input(st, l, ip, th, &s);
			floo_pbuf_free(st, pb);
			return;
		}
		tcp_send_rst_reply(st, ip, th, s.len + !!(s.flags & TH_SYN) + !!(s.flags & TH_FIN));
		floo_drop(st, &st->stats.drop_tcp, "tcp_no_conn", pb);
		return;
	}
	c->last_rx_ns = st->now_ns;
	if (c->flags & TF_KEEP) {
		c->keep_probes = 0;
		tcp_timer_set(c, &c->t_keep,
		              st->now_ns + (uint64_t)st->cfg.tcp_keep_idle_ms * 1000000u);
	}
	if (c->state == TCP_SYN_SENT) {
		syn_sent_input(c, ip, th, &s);
		floo_pbuf_free(st, pb);
		return;
	}
	tcp_segment(c, pb, &s);
}
