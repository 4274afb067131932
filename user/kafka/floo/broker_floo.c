/* The broker's transport over Floo's TCP event API (broker_floo.h). */
#include "broker_floo.h"

#include <lib/bytes.h>
#include <lib/prof.h>
#include <lib/string.h>

#define IN_MIN    65536u
#define IN_SHRINK (4u << 20) /* shrink a buffer this large when a small request follows */
#define INFLIGHT  32u        /* responses per connection sent but not yet acknowledged */

/* A response handed to Floo: references still out, and whether the broker
 * has moved on (broker_send_hold) and waits for broker_send_release. */
struct fresp {
	void *token;
	uint32_t refs;
	bool held;
};

/* One client connection. Lock legend: single-threaded, everything [L] the
 * loop's; fields marked [cb] are also written by Floo callbacks, which run
 * inside floo_poll() or inside floo_tcp_abort(), on the same thread. */
struct fconn {
	struct bfloo *t;
	struct floo_tcp *c; /* [cb] NULL once Floo reported CLOSED */
	struct kconn *kc;
	uint32_t slot;
	uint8_t *in; /* [cb] request bytes not yet consumed by the broker */
	uint32_t in_len, in_cap;
	struct floo_pbuf *held, *held_tail; /* [cb] DATA buffers waiting for room */
	const struct kiov *iov;             /* the response being queued */
	uint32_t niov, iov_i;
	size_t iov_off;
	struct fresp q[INFLIGHT]; /* [cb] oldest first; the last is the one being queued */
	uint32_t qhead, qn;
	bool sending, want_close, closing;
	bool peer_fin, closed; /* [cb] */
};

struct bfloo {
	struct floo_stack *st;
	struct broker *b;
	const struct broker_platform *pl;
	struct bfloo_config cfg;
	struct fconn **conns; /* cfg.max_conns slots */
	uint32_t nconns;
	struct bfloo_stats stats;
};

static void *t_alloc(struct bfloo *t, size_t n)
{
	return t->pl->alloc(t->pl->ctx, n);
}

static void t_free(struct bfloo *t, void *p)
{
	if (p)
		t->pl->free(t->pl->ctx, p);
}

/* Where the first request not yet whole in the input ends (each request is its 4-byte length and
 * what follows), the bytes being those buffered and then pb's; 0 when that is not known yet. A
 * client may pipeline: the requests buffered whole are stepped over (8 at most: beyond, 0), so the
 * buffer grows once to hold them and the next, not again (copying them) as that one arrives. */
static uint64_t front_request(const struct fconn *f, const struct floo_pbuf *pb)
{
	uint64_t off = 0;
	uint8_t h[4];

	for (int n = 0; off + 4 <= f->in_len; n++) {
		uint64_t end = off + 4 + get_be32(f->in + off);
		if (end > f->in_len)
			return end;
		if (n == 8)
			return 0;
		off = end;
	}
	uint32_t have = (uint32_t)(f->in_len - off);
	if (have + pb->len < 4)
		return 0;
	for (uint32_t i = 0; i < 4; i++)
		h[i] = i < have ? f->in[off + i] : pb->data[i - have];
	return off + 4 + get_be32(h);
}

/* Make room for need more input bytes, and for the whole front request (hint) when it fits the
 * limit: a large request grows the buffer once, not by doubling with a copy at each step. 0, or
 * -1 when the buffer may not grow that far (the caller holds the data) or memory ran out
 * (rx_oom). */
static int in_reserve(struct fconn *f, uint32_t need, uint64_t hint)
{
	struct bfloo *t = f->t;
	uint64_t want = (uint64_t)f->in_len + need, cap = f->in_cap ? f->in_cap : IN_MIN;
	uint8_t *n;

	if (want <= f->in_cap)
		return 0;
	if (want > t->cfg.max_input)
		return -1;
	if (hint > want && hint <= t->cfg.max_input)
		want = hint;
	while (cap < want)
		cap *= 2;
	if (cap > t->cfg.max_input)
		cap = t->cfg.max_input;
	if (!(n = t_alloc(t, cap))) {
		t->stats.rx_oom++;
		f->want_close = true;
		return -1;
	}
	if (f->in_len)
		memcpy(n, f->in, f->in_len);
	t->stats.rx_grown += f->in_len;
	t_free(t, f->in);
	f->in = n;
	f->in_cap = (uint32_t)cap;
	return 0;
}

/* A large buffer goes back once the request at its front is small (hint, 0 while unknown): a
 * client that streams large requests keeps its buffer instead of having it shrunk after each
 * request and grown again for the next (an allocation and the partial request copied, each
 * time; at most max_input per connection either way). */
static void in_shrink(struct fconn *f, uint64_t hint)
{
	if (f->in_cap < IN_SHRINK || f->in_len >= IN_MIN / 2 || !hint || hint > IN_MIN / 2)
		return;
	uint8_t *n = t_alloc(f->t, IN_MIN);
	if (n) {
		memcpy(n, f->in, f->in_len);
		t_free(f->t, f->in);
		f->in = n, f->in_cap = IN_MIN;
	}
}

/* Copy a DATA buffer into the input buffer and hand it back to Floo;
 * false when there is no room (the caller holds it). */
static bool absorb(struct fconn *f, struct floo_pbuf *pb)
{
	uint64_t hint = front_request(f, pb);

	PROF_ENTER(PROF_RX_COPY);
	in_shrink(f, hint);
	if (in_reserve(f, pb->len, hint)) {
		PROF_LEAVE();
		return false;
	}
	memcpy(f->in + f->in_len, pb->data, pb->len);
	f->in_len += pb->len;
	f->t->stats.rx_copied += pb->len;
	floo_tcp_release(f->t->st, pb);
	PROF_LEAVE();
	return true;
}

static void hold(struct fconn *f, struct floo_pbuf *pb)
{
	pb->next = NULL;
	if (f->held_tail)
		f->held_tail->next = pb;
	else
		f->held = pb;
	f->held_tail = pb;
	f->t->stats.rx_held++;
}

/* Move held buffers into the input buffer while they fit, in order. */
static void drain_held(struct fconn *f)
{
	while (f->held && !f->want_close) {
		struct floo_pbuf *pb = f->held, *next = pb->next;
		if (!absorb(f, pb))
			return;
		f->held = next;
		if (!next)
			f->held_tail = NULL;
	}
}

static void release_held(struct fconn *f)
{
	while (f->held) {
		struct floo_pbuf *pb = f->held;
		f->held = pb->next;
		floo_tcp_release(f->t->st, pb);
	}
	f->held_tail = NULL;
}

/* Floo events of one connection. Only buffers and flags change here: the
 * broker is called from bfloo_service(). */
static void conn_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct fconn *f = user;

	(void)c;
	switch (ev->type) {
	case FLOO_TCP_DATA:
		f->t->stats.rx_bytes += ev->pb->len;
		if (f->held || !absorb(f, ev->pb))
			hold(f, ev->pb);
		break;
	case FLOO_TCP_SENT: /* acknowledged in order: the oldest with references */
		for (uint32_t i = 0; i < f->qn; i++) {
			struct fresp *r = &f->q[(f->qhead + i) % INFLIGHT];
			if (r->refs) {
				r->refs--;
				break;
			}
		}
		break;
	case FLOO_TCP_PEER_FIN:
		f->peer_fin = true;
		break;
	case FLOO_TCP_CLOSED:
		f->c = NULL;
		f->closed = true;
		for (uint32_t i = 0; i < INFLIGHT; i++)
			f->q[i].refs = 0; /* every reference was returned before CLOSED */
		release_held(f);
		break;
	default:
		break;
	}
}

/* Listener: a new connection gets a slot and a broker connection, or a
 * reset when the table is full or memory ran out. */
static void listen_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct bfloo *t = user;
	struct fconn *f = NULL;
	uint32_t slot = 0;

	if (ev->type != FLOO_TCP_ACCEPTED)
		return;
	while (slot < t->cfg.max_conns && t->conns[slot])
		slot++;
	if (slot < t->cfg.max_conns && (f = t_alloc(t, sizeof(*f)))) {
		memset(f, 0, sizeof(*f));
		f->t = t, f->c = c, f->slot = slot;
		if (!(f->kc = broker_conn_open(t->b, f))) {
			t_free(t, f);
			f = NULL;
		}
	}
	if (!f) {
		t->stats.refused++;
		t->pl->log(t->pl->ctx, "bfloo: connection refused", "(table full or no memory)",
		           (long long)t->nconns);
		floo_tcp_abort(c);
		return;
	}
	t->conns[slot] = f;
	t->nconns++;
	t->stats.accepted++;
	floo_tcp_set_user(c, conn_cb, f);
}

/* Queue as much of the pending response as Floo has reference slots for. */
static void push(struct fconn *f)
{
	struct bfloo *t = f->t;

	while (f->sending && f->c && f->iov_i < f->niov && floo_tcp_send_slots(f->c) > 0) {
		const struct kiov *v = &f->iov[f->iov_i];
		size_t left = v->len - f->iov_off;
		uint32_t piece = left > 0x40000000u ? 0x40000000u : (uint32_t)left;
		int err;

		if (piece) {
			err = floo_tcp_send(f->c, (const uint8_t *)v->base + f->iov_off, piece, f);
			if (err == FLOO_EAGAIN)
				break;
			if (err) {
				f->want_close = true;
				return;
			}
			f->q[(f->qhead + f->qn - 1) % INFLIGHT].refs++;
			t->stats.tx_refs++;
			t->stats.tx_bytes += piece;
		}
		f->iov_off += piece;
		if (f->iov_off == v->len)
			f->iov_i++, f->iov_off = 0;
	}
	if (f->sending && f->iov_i < f->niov)
		t->stats.tx_slot_waits++;
}

static int t_send(void *ctx, void *conn, const struct kiov *iov, uint32_t n)
{
	struct fconn *f = conn;

	(void)ctx;
	if (!f->c || f->want_close || f->qn == INFLIGHT)
		return -1;
	f->q[(f->qhead + f->qn++) % INFLIGHT] = (struct fresp){0};
	f->iov = iov, f->niov = n, f->iov_i = 0, f->iov_off = 0;
	f->sending = true;
	push(f);
	return 0;
}

static void t_close(void *ctx, void *conn)
{
	(void)ctx;
	((struct fconn *)conn)->want_close = true;
}

void bfloo_fill_platform(struct broker_platform *pl)
{
	pl->send = t_send;
	pl->close = t_close;
}

/* Offer the buffered input to the broker and keep what it left. */
static void feed(struct fconn *f)
{
	size_t used;

	if (!f->in_len || f->want_close || f->closed)
		return;
	PROF_ENTER(PROF_KAFKA);
	used = broker_conn_input(f->t->b, f->kc, f->in, f->in_len);
	PROF_LEAVE();
	if (used > f->in_len)
		used = f->in_len;
	/* Only what follows a consumed request moves: with nothing consumed (a request still
	 * arriving) the whole buffer used to be copied onto itself at every segment, which
	 * made a large request cost its size times its segment count in copies. */
	if (used && used < f->in_len) {
		memmove(f->in, f->in + used, f->in_len - used);
		f->t->stats.rx_moved += f->in_len - used;
	}
	f->in_len -= (uint32_t)used;
}

/* Give acknowledged responses back to the broker, and let it go on to the
 * next response as soon as the current one is queued whole: its memory
 * stays held (broker_send_hold) until Floo no longer references it, so
 * pipelined requests are not paced by the client's delayed ACKs. */
static void complete(struct fconn *f)
{
	struct broker *b = f->t->b;

	for (;;) {
		while (f->qn && f->q[f->qhead].held && !f->q[f->qhead].refs) {
			void *token = f->q[f->qhead].token;
			f->qhead = (f->qhead + 1) % INFLIGHT, f->qn--;
			broker_send_release(b, f->kc, token);
		}
		if (!f->sending || f->want_close || !f->c || f->iov_i < f->niov)
			return;
		struct fresp *cur = &f->q[(f->qhead + f->qn - 1) % INFLIGHT];
		if (!cur->refs) { /* acknowledged already, or nothing to send */
			f->qn--;
			f->sending = false;
			broker_send_done(b, f->kc);
			continue;
		}
		if (f->qn == INFLIGHT)
			return; /* wait for acknowledgments */
		cur->held = true;
		f->sending = false;
		f->t->stats.tx_early++;
		cur->token = broker_send_hold(b, f->kc); /* may queue the next: t_send */
	}
}

static void conn_free(struct bfloo *t, struct fconn *f)
{
	broker_conn_closed(t->b, f->kc);
	release_held(f);
	t_free(t, f->in);
	t->conns[f->slot] = NULL;
	t->nconns--;
	t->stats.closed++;
	t_free(t, f);
}

/* Close what should close: the broker's request (or a transport error)
 * resets the connection at once, which returns Floo's references to the
 * broker's buffers; a client's FIN closes gracefully once the response
 * in progress is out. Returns true when f was freed. */
static bool settle(struct bfloo *t, struct fconn *f)
{
	if (f->want_close && f->c && !f->closed) {
		t->stats.aborted++;
		floo_tcp_abort(f->c); /* SENT for every reference, then CLOSED */
	} else if (f->peer_fin && !f->closing && f->c && !f->sending) {
		f->closing = true;
		floo_tcp_close(f->c);
	}
	if (!f->closed)
		return false;
	conn_free(t, f);
	return true;
}

/*
 * Slots are taken lowest first, so the scans stop after the last
 * connection instead of walking every slot (max_conns) twice per loop
 * iteration: connections only arrive inside floo_poll, never during this.
 */
void bfloo_service(struct bfloo *t)
{
	PROF_ENTER(PROF_SERVICE);
	for (uint32_t i = 0, left = t->nconns; i < t->cfg.max_conns && left; i++)
		if (t->conns[i]) {
			left--;
			feed(t->conns[i]);
			drain_held(t->conns[i]);
		}
	PROF_CALL(PROF_KAFKA, broker_poll(t->b));
	for (uint32_t i = 0, left = t->nconns; i < t->cfg.max_conns && left; i++) {
		struct fconn *f = t->conns[i];
		if (!f)
			continue;
		left--;
		PROF_ENTER(PROF_TX_APP);
		push(f);
		complete(f);
		PROF_LEAVE();
		/* input the broker paused while responses were queued */
		feed(f);
		drain_held(f);
		settle(t, f);
	}
	PROF_LEAVE();
}

struct bfloo *bfloo_create(struct floo_stack *st, struct broker *b,
                           const struct broker_platform *pl, const struct bfloo_config *cfg)
{
	struct bfloo *t = pl->alloc(pl->ctx, sizeof(*t));

	if (!t)
		return NULL;
	memset(t, 0, sizeof(*t));
	t->st = st, t->b = b, t->pl = pl, t->cfg = *cfg;
	if (t->cfg.max_input < IN_MIN)
		t->cfg.max_input = IN_MIN;
	if (!t->cfg.max_conns)
		goto fail;
	t->conns = t_alloc(t, (size_t)t->cfg.max_conns * sizeof(struct fconn *));
	if (!t->conns)
		goto fail;
	memset(t->conns, 0, (size_t)t->cfg.max_conns * sizeof(struct fconn *));
	if (floo_tcp_listen(st, cfg->port, listen_cb, t))
		goto fail_conns;
	return t;
fail_conns:
	t_free(t, t->conns);
fail:
	t_free(t, t);
	return NULL;
}

void bfloo_destroy(struct bfloo *t)
{
	floo_tcp_listen_close(t->st, t->cfg.port);
	for (uint32_t i = 0; i < t->cfg.max_conns; i++) {
		struct fconn *f = t->conns[i];
		if (!f)
			continue;
		if (f->c)
			floo_tcp_abort(f->c);
		conn_free(t, f);
	}
	t_free(t, t->conns);
	t_free(t, t);
}

const struct bfloo_stats *bfloo_stats(const struct bfloo *t)
{
	return &t->stats;
}

uint32_t bfloo_conn_count(const struct bfloo *t)
{
	return t->nconns;
}
