/*
 * TCP receive path: in-order data goes to the application in the buffer
 * it arrived in; out-of-order segments wait (bounded) in a sorted queue;
 * overlaps are trimmed when the data becomes in-order. Delayed ACKs: every
 * second full segment is acknowledged at once, otherwise within 40 ms;
 * anything out of order or filling a hole is acknowledged immediately.
 */
#include "tcp_seg.h"

/* Process the peer's FIN (in order). */
static void fin_input(struct floo_tcp *c)
{
	c->rcv_nxt++;
	c->flags |= TF_ACKNOW;
	tcp_mark_dirty(c);
	switch (c->state) {
	case TCP_ESTABLISHED:
		tcp_set_state(c, TCP_CLOSE_WAIT);
		break;
	case TCP_FIN_WAIT_1:
		if (tcp_fin_sent(c) && c->snd_una == c->snd_max) {
			tcp_enter_time_wait(c);
			return;
		}
		tcp_set_state(c, TCP_CLOSING);
		break;
	case TCP_FIN_WAIT_2:
		tcp_event(c, FLOO_TCP_PEER_FIN, NULL, NULL, 0);
		if (c->state == TCP_FIN_WAIT_2)
			tcp_enter_time_wait(c);
		return;
	default:
		return;
	}
	tcp_event(c, FLOO_TCP_PEER_FIN, NULL, NULL, 0);
}

/* Hand len in-order bytes at pb->data to the application. */
static void deliver(struct floo_tcp *c, struct floo_pbuf *pb)
{
	pb->owner = c->idx + 1;
	pb->owner_gen = c->gen;
	pb->next = NULL;
	c->rcv_held += pb->len;
	c->rcv_held_pb++;
	c->rcv_nxt += pb->len;
	tcp_event(c, FLOO_TCP_DATA, pb, NULL, 0);
}

/* Trim a queued segment so it starts at rcv_nxt; false if nothing new. */
static bool trim_front(struct floo_tcp *c, struct floo_pbuf *pb)
{
	uint32_t end = pb->seq + pb->len;

	if (seq_lt(end, c->rcv_nxt) || (end == c->rcv_nxt && !(pb->flags & FLOO_PB_FIN)))
		return false;
	if (seq_lt(pb->seq, c->rcv_nxt)) {
		uint32_t d = c->rcv_nxt - pb->seq;

		pb->data += d;
		pb->len -= d;
		pb->seq = c->rcv_nxt;
	}
	return true;
}

/* Deliver pb (at rcv_nxt) and then whatever the ooo queue now allows.
 * Stops if the application closed the connection meanwhile. */
static void deliver_chain(struct floo_tcp *c, struct floo_pbuf *pb)
{
	uint16_t gen = c->gen;

	while (pb) {
		bool fin = pb->flags & FLOO_PB_FIN;

		if (pb->len)
			deliver(c, pb);
		else
			floo_pbuf_free(c->st, pb);
		if (c->gen != gen || c->state == TCP_CLOSED)
			return;
		if (fin) {
			fin_input(c);
			return;
		}
		pb = NULL;
		while (c->ooo && seq_leq(c->ooo->seq, c->rcv_nxt)) {
			struct floo_pbuf *q = c->ooo;

			c->ooo = q->next;
			c->ooo_n--;
			if (trim_front(c, q)) {
				pb = q;
				break;
			}
			floo_pbuf_free(c->st, q);
		}
	}
}

/* Insert a segment beyond rcv_nxt into the sorted queue, unless it is
 * fully covered by one already there or the queue is full. */
static void ooo_insert(struct floo_tcp *c, struct floo_pbuf *pb)
{
	struct floo_pbuf **pp = &c->ooo;

	c->st->stats.tcp_ooo_segs++;
	while (*pp && seq_leq((*pp)->seq, pb->seq)) {
		struct floo_pbuf *q = *pp;

		if (seq_geq(q->seq + q->len, pb->seq + pb->len) &&
		    (q->flags & FLOO_PB_FIN) >= (pb->flags & FLOO_PB_FIN)) {
			tcp_sack_dup(c, pb->seq, pb->seq + pb->len);
			floo_pbuf_free(c->st, pb);
			return;
		}
		pp = &q->next;
	}
	if (c->ooo_n >= FLOO_TCP_OOO_MAX || c->rcv_held_pb + c->ooo_n >= c->st->cfg.tcp_rcv_pbufs) {
		floo_log(c->st, FLOO_LOG_DEBUG, "tcp_ooo_full_seq_minus_rcv_nxt",
		         pb->seq - c->rcv_nxt);
		floo_drop(c->st, &c->st->stats.drop_tcp, "tcp_ooo_full", pb);
		return;
	}
	pb->next = *pp;
	*pp = pb;
	c->ooo_n++;
}

/* Arrange the ACK for in-order data: immediately for every second full
 * segment (RFC 5681 4.2), else by the delayed-ACK timer. */
static void schedule_ack(struct floo_tcp *c, uint32_t len, bool had_ooo)
{
	if (len >= c->mss)
		c->acks_owed++;
	if (had_ooo || c->acks_owed >= 2 || (c->flags & TF_ACKNOW)) {
		c->flags |= TF_ACKNOW;
		tcp_mark_dirty(c);
	} else if (!c->t_delack) {
		tcp_timer_set(c, &c->t_delack, c->st->now_ns + TCP_DELACK_MS * 1000000ull);
	}
}

static void data_coalesced(struct floo_tcp *c, struct floo_pbuf *pb, const struct tcp_seg *s);

/* Receive payload and FIN of an acceptable segment ("seventh"/"eighth"). */
void tcp_data(struct floo_tcp *c, struct floo_pbuf *pb, struct tcp_seg *s)
{
	uint32_t edge = c->rcv_adv, len;
	bool had_ooo = c->ooo != NULL;

	if ((c->state != TCP_ESTABLISHED && c->state != TCP_FIN_WAIT_1 &&
	     c->state != TCP_FIN_WAIT_2) ||
	    (!s->len && !(s->flags & TH_FIN))) {
		floo_pbuf_free(c->st, pb);
		return;
	}
	if (pb->frag && !s->piece) {
		data_coalesced(c, pb, s);
		return;
	}
	pb->data = s->payload;
	pb->len = s->len;
	pb->seq = s->seq;
	pb->flags = (s->flags & TH_FIN) ? FLOO_PB_FIN : 0;
	if (seq_gt(pb->seq + pb->len, edge)) {
		pb->len = seq_gt(edge, pb->seq) ? edge - pb->seq : 0;
		pb->flags = 0; /* FIN beyond the window is not accepted */
	}
	if (seq_gt(pb->seq, c->rcv_nxt)) {
		uint32_t seq = pb->seq, end = pb->seq + pb->len;

		/* One duplicate ACK per out-of-order segment, not one per batch:
		 * the sender's fast retransmit counts them (RFC 5681 4.2). */
		ooo_insert(c, pb);
		if (c->flags & TF_SACK)
			tcp_sack_rcv_note(c, seq, end);
		tcp_send_ack_now(c);
		return;
	}
	if (!trim_front(c, pb)) {
		c->st->stats.tcp_dup_segs++;
		tcp_sack_dup(c, pb->seq, pb->seq + pb->len);
		c->flags |= TF_ACKNOW;
		tcp_mark_dirty(c);
		floo_pbuf_free(c->st, pb);
		return;
	}
	if (pb->len && c->rcv_held_pb >= c->st->cfg.tcp_rcv_pbufs) {
		floo_drop(c->st, &c->st->stats.drop_nobuf, "tcp_rcv_full", pb);
		return;
	}
	len = pb->len;
	if (!s->piece)
		schedule_ack(c, len, had_ooo);
	deliver_chain(c, pb);
}

/*
 * A coalesced frame (receive offload, FLOO_CAP_RX_CHAIN): the segment's
 * payload starts in its first buffer after the headers and goes on in the
 * chained ones. Each buffer becomes a segment of its own (sequence number,
 * FIN on the last) through tcp_data, so windows, duplicates, reordering and
 * the application's buffers work as for any segment; the ACK is arranged
 * once for the whole, at once for two full segments or more, as for two
 * segments received (RFC 5681 4.2).
 */
static void data_coalesced(struct floo_tcp *c, struct floo_pbuf *pb, const struct tcp_seg *s)
{
	struct tcp_seg ps = *s;
	uint16_t gen = c->gen;
	bool had_ooo = c->ooo != NULL;
	uint32_t left = s->len, first = (uint32_t)(pb->data + pb->len - s->payload);

	c->st->stats.tcp_rx_coalesced++;
	ps.piece = true;
	ps.len = first < left ? first : left;
	while (pb) {
		struct floo_pbuf *more = pb->frag;

		pb->frag = NULL;
		left -= ps.len;
		ps.flags = left ? (uint8_t)(s->flags & ~(TH_FIN | TH_PSH)) : s->flags;
		tcp_data(c, pb, &ps);
		if (c->gen != gen || c->state == TCP_CLOSED) {
			floo_pbuf_free(c->st, more);
			return;
		}
		pb = more;
		if (pb) {
			ps.seq += ps.len;
			ps.payload = pb->data;
			ps.len = pb->len < left ? pb->len : left;
		}
	}
	if (s->len >= 2u * c->mss)
		c->acks_owed++;
	schedule_ack(c, s->len, had_ooo);
}
