/* TCP event interface: the calls an application makes. */
#include "tcp.h"

int floo_tcp_listen(struct floo_stack *st, uint16_t port, floo_tcp_cb cb, void *user)
{
	struct tcp_listener *freel = NULL;

	if (!port || !cb)
		return FLOO_EINVAL;
	for (unsigned i = 0; i < FLOO_LISTEN_N; i++) {
		if (st->listen[i].cb && st->listen[i].port == port)
			return FLOO_EADDRINUSE;
		if (!st->listen[i].cb && !freel)
			freel = &st->listen[i];
	}
	if (!freel)
		return FLOO_ENOMEM;
	freel->port = port;
	freel->cb = cb;
	freel->user = user;
	freel->pending = 0;
	return 0;
}

void floo_tcp_listen_close(struct floo_stack *st, uint16_t port)
{
	for (unsigned i = 0; i < FLOO_LISTEN_N; i++) {
		struct tcp_listener *l = &st->listen[i];

		if (!l->cb || l->port != port)
			continue;
		for (uint32_t j = 0; j < st->cfg.n_tcp; j++) {
			struct floo_tcp *c = &st->tcp[j];

			if (c->state == TCP_SYN_RCVD && (c->flags & TF_PASSIVE) && c->listener == i)
				floo_tcp_abort(c);
		}
		l->cb = NULL;
		l->pending = 0;
	}
}

/* Pick a free ephemeral port for the destination. */
static uint16_t eph_port(struct floo_stack *st, uint32_t dip, uint16_t dport)
{
	for (unsigned tries = 0; tries < 16384; tries++) {
		uint16_t p = st->eph_next;

		st->eph_next = (uint16_t)(p == 65535 ? 49152 : p + 1);
		if (!tcp_lookup(st, st->ip, p, dip, dport))
			return p;
	}
	return 0;
}

/* Active open: SYN_SENT now, CONNECTED or CLOSED(err) later. */
struct floo_tcp *floo_tcp_connect(struct floo_stack *st, uint32_t dst_ip, uint16_t dst_port,
                                  floo_tcp_cb cb, void *user)
{
	struct floo_tcp *c;
	uint16_t lport;

	if (!st->ip || !cb || !dst_port)
		return NULL;
	lport = eph_port(st, dst_ip, dst_port);
	if (!lport || !(c = tcp_alloc(st)))
		return NULL;
	c->lip = st->ip;
	c->lport = lport;
	c->rip = dst_ip;
	c->rport = dst_port;
	c->cb = cb;
	c->user = user;
	c->iss = tcp_new_iss(st, c->lip, lport, dst_ip, dst_port);
	c->snd_una = c->snd_nxt = c->snd_max = c->iss;
	c->snd_buf_seq = c->iss + 1;
	c->mss = TCP_MSS_DEFAULT;
	tcp_cc_init(c);
	tcp_hash_insert(c);
	tcp_set_state(c, TCP_SYN_SENT);
	tcp_mark_dirty(c);
	return c;
}

void floo_tcp_set_user(struct floo_tcp *c, floo_tcp_cb cb, void *user)
{
	c->cb = cb;
	c->user = user;
}

static bool can_send(const struct floo_tcp *c)
{
	if (c->flags & (TF_FIN_QUEUED | TF_APP_GONE))
		return false;
	return c->state == TCP_ESTABLISHED || c->state == TCP_CLOSE_WAIT ||
	       c->state == TCP_SYN_SENT || c->state == TCP_SYN_RCVD;
}

int floo_tcp_send(struct floo_tcp *c, const void *data, uint32_t len, void *cookie)
{
	struct tcp_sref *r;

	if (!can_send(c))
		return FLOO_ENOTCONN;
	if (!len || len > 0x40000000u)
		return FLOO_EINVAL;
	if (c->sndq_n == c->st->cfg.tcp_sndq)
		return FLOO_EAGAIN;
	r = &c->sndq[(c->sndq_head + c->sndq_n) % c->st->cfg.tcp_sndq];
	r->p = data;
	r->len = len;
	r->cookie = cookie;
	c->sndq_n++;
	c->sndq_bytes += len;
	tcp_mark_dirty(c);
	return 0;
}

unsigned floo_tcp_send_slots(const struct floo_tcp *c)
{
	return can_send(c) ? c->st->cfg.tcp_sndq - c->sndq_n : 0;
}

uint32_t floo_tcp_unacked(const struct floo_tcp *c)
{
	return c->sndq_bytes;
}

/* Hand back a DATA buffer. The owner field survives the connection: a
 * stale generation means the connection is gone and only the buffer is
 * freed. Opening the window by a full segment or half the buffer is
 * advertised at once (receiver SWS avoidance, RFC 9293 3.8.6.2.2). */
void floo_tcp_release(struct floo_stack *st, struct floo_pbuf *pb)
{
	struct floo_tcp *c;
	uint32_t before;

	if (!pb)
		return;
	if (pb->owner && pb->owner <= st->cfg.n_tcp) {
		c = &st->tcp[pb->owner - 1];
		if (c->gen == pb->owner_gen && c->state != TCP_CLOSED) {
			before = tcp_rcv_space(c);
			c->rcv_held -= pb->len;
			c->rcv_held_pb--;
			if (before < c->mss ||
			    tcp_rcv_space(c) - before >= st->cfg.tcp_rcv_buf / 2) {
				c->flags |= TF_WNDUPD;
				tcp_mark_dirty(c);
			}
		}
	}
	floo_pbuf_free(st, pb);
}

void floo_tcp_release_list(struct floo_stack *st, struct floo_pbuf *pb)
{
	struct floo_tcp *c = NULL;
	uint32_t bytes = 0, n = 0, before;

	if (pb && pb->owner && pb->owner <= st->cfg.n_tcp) {
		c = &st->tcp[pb->owner - 1];
		if (c->gen != pb->owner_gen || c->state == TCP_CLOSED)
			c = NULL;
	}
	while (pb) {
		struct floo_pbuf *next = pb->next;
		if (c && pb->owner == (uint32_t)(c - st->tcp) + 1 && pb->owner_gen == c->gen) {
			bytes += pb->len;
			n++;
			floo_pbuf_free(st, pb);
		} else {
			floo_tcp_release(st, pb); /* another connection's (not expected) */
		}
		pb = next;
	}
	if (!n)
		return;
	before = tcp_rcv_space(c);
	c->rcv_held -= bytes;
	c->rcv_held_pb -= n;
	if (before < c->mss || tcp_rcv_space(c) - before >= st->cfg.tcp_rcv_buf / 2) {
		c->flags |= TF_WNDUPD;
		tcp_mark_dirty(c);
	}
}

void floo_rxq_push(struct floo_rxq *q, struct floo_pbuf *pb)
{
	pb->next = NULL;
	if (q->tail)
		q->tail->next = pb;
	else
		q->head = pb;
	q->tail = pb;
	q->bytes += pb->len;
}

uint32_t floo_rxq_copy(const struct floo_rxq *q, uint32_t n,
                       int (*put)(void *ctx, uint32_t at, const uint8_t *src, uint32_t len),
                       void *ctx)
{
	uint32_t done = 0, off = q->off;

	if (n > q->bytes)
		n = q->bytes;
	for (const struct floo_pbuf *pb = q->head; pb && done < n; pb = pb->next, off = 0) {
		uint32_t k = pb->len - off < n - done ? pb->len - off : n - done;
		if (put(ctx, done, pb->data + off, k))
			break;
		done += k;
	}
	return done;
}

void floo_rxq_consume(struct floo_stack *st, struct floo_rxq *q, uint32_t n)
{
	if (n > q->bytes)
		n = q->bytes;
	q->bytes -= n;
	while (n && q->head) {
		struct floo_pbuf *pb = q->head;
		uint32_t k = pb->len - q->off;
		if (n < k) {
			q->off += n;
			return;
		}
		n -= k;
		q->off = 0;
		q->head = pb->next;
		if (!q->head)
			q->tail = NULL;
		floo_tcp_release(st, pb);
	}
}

void floo_rxq_release(struct floo_stack *st, struct floo_rxq *q)
{
	while (q->head) {
		struct floo_pbuf *pb = q->head;
		q->head = pb->next;
		floo_tcp_release(st, pb);
	}
	*q = (struct floo_rxq){0};
}

/* Graceful close: FIN once the queued data is out. */
void floo_tcp_close(struct floo_tcp *c)
{
	switch (c->state) {
	case TCP_SYN_SENT:
		tcp_destroy(c, 0);
		return;
	case TCP_SYN_RCVD:
	case TCP_ESTABLISHED:
		c->flags |= TF_FIN_QUEUED;
		if (c->state == TCP_ESTABLISHED)
			tcp_set_state(c, TCP_FIN_WAIT_1);
		break;
	case TCP_CLOSE_WAIT:
		c->flags |= TF_FIN_QUEUED;
		tcp_set_state(c, TCP_LAST_ACK);
		break;
	default:
		return;
	}
	tcp_mark_dirty(c);
}

/* Abort: RST to the peer, references returned, CLOSED(ECONNRESET). */
void floo_tcp_abort(struct floo_tcp *c)
{
	if (c->state == TCP_CLOSED)
		return;
	if (c->state != TCP_SYN_SENT && c->state != TCP_TIME_WAIT) {
		c->st->stats.tcp_resets_sent++;
		tcp_emit(c, c->snd_nxt, 0, TH_RST | TH_ACK);
	}
	tcp_destroy(c, FLOO_ECONNRESET);
}

void floo_tcp_keepalive(struct floo_tcp *c, bool on)
{
	if (on) {
		c->flags |= TF_KEEP;
		tcp_timer_set(c, &c->t_keep,
		              c->st->now_ns + (uint64_t)c->st->cfg.tcp_keep_idle_ms * 1000000u);
	} else {
		c->flags &= (uint16_t)~TF_KEEP;
		c->t_keep = 0;
	}
}

struct floo_stack *floo_tcp_stack(const struct floo_tcp *c)
{
	return c->st;
}

int floo_tcp_state(const struct floo_tcp *c)
{
	return c->state;
}

const char *floo_tcp_state_name(int s)
{
	static const char *const names[] = {"CLOSED",      "LISTEN",     "SYN_SENT",   "SYN_RCVD",
	                                    "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "CLOSE_WAIT",
	                                    "CLOSING",     "LAST_ACK",   "TIME_WAIT"};

	return s >= 0 && s <= TCP_TIME_WAIT ? names[s] : "?";
}

uint32_t floo_tcp_count(const struct floo_stack *st)
{
	return st->tcp_used;
}

void floo_tcp_addrs(const struct floo_tcp *c, uint32_t *lip, uint16_t *lport, uint32_t *rip,
                    uint16_t *rport)
{
	*lip = c->lip;
	*lport = c->lport;
	*rip = c->rip;
	*rport = c->rport;
}
