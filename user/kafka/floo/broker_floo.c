/* The broker's transport over Floo's TCP event API (broker_floo.h). */
#include "broker_floo.h"

#include <lib/bytes.h>
#include <lib/prof.h>
#include <lib/string.h>

#define IN_MIN      65536u
#define IN_SHRINK   (4u << 20) /* shrink a buffer this large when a small request follows */
#define INFLIGHT    32u        /* responses per connection sent but not yet acknowledged */
#define GATHER_MIN  8192u      /* requests this large may be read where they arrived */
#define GATHER_SCAN 64         /* whole requests stepped over to find the one arriving */

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
	/* [cb] the request being gathered (decoded where it lies, not copied): its
	 * buffers, from g_skip in the first; g_have of its g_need bytes are in */
	struct floo_pbuf *g_head, *g_tail;
	uint32_t g_n, g_skip, g_iov_cap;
	uint64_t g_have, g_need;
	struct store_iov *g_iov; /* the pieces handed to the broker */
	bool gathering;
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

/* The first request not yet whole in the input followed by pb's bytes from from (each request
 * is its 4-byte length and what follows): its start and end in those bytes; false when not
 * known yet (its size field not in, or more than GATHER_SCAN whole requests before it). A large
 * request grows the buffer once to hold it (and those before), not again (copying them) as it
 * arrives. */
static bool front_request(const struct fconn *f, const struct floo_pbuf *pb, uint32_t from,
                          uint64_t *start, uint64_t *end)
{
	uint64_t off = 0, total = (uint64_t)f->in_len + pb->len - from;

	for (int n = 0; n < GATHER_SCAN && off + 4 <= total; n++) {
		uint32_t len = 0;
		for (uint64_t i = off; i < off + 4; i++)
			len =
			    len << 8 | (i < f->in_len ? f->in[i] : pb->data[from + i - f->in_len]);
		if (off + 4 + len > total) {
			*start = off, *end = off + 4 + len;
			return true;
		}
		off += 4 + (uint64_t)len;
	}
	return false;
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

/* Start gathering the request of need bytes at pos in pb (the bytes before go to the input
 * buffer): a large Produce request with its size and API key in pb, when the input buffer can
 * take it whole should it have to be copied after all. */
static bool gather_start(struct fconn *f, struct floo_pbuf *pb, uint32_t from, uint32_t pos,
                         uint64_t need)
{
	const uint8_t *h = pb->data + from + pos;

	if (need < GATHER_MIN || need > f->t->cfg.gather_bytes || need > f->t->cfg.max_input ||
	    pb->len - from - pos < 6 || get_be16(h + 4) != 0 /* Produce */ ||
	    in_reserve(f, pos + (uint32_t)need, 0))
		return false;
	memcpy(f->in + f->in_len, pb->data + from, pos);
	f->in_len += pos;
	f->t->stats.rx_copied += pos;
	pb->next = NULL;
	f->g_head = f->g_tail = pb;
	f->g_n = 1;
	f->g_skip = from + pos;
	f->g_have = pb->len - from - pos;
	f->g_need = need;
	f->gathering = true;
	return true;
}

/* Copy a DATA buffer (its bytes from from) into the input buffer and hand
 * it back to Floo, or begin gathering a large request that starts in it
 * (may_gather); false when there is no room (the caller holds it). */
static bool absorb_from(struct fconn *f, struct floo_pbuf *pb, uint32_t from, bool may_gather)
{
	uint64_t start = 0, end = 0;
	bool known = front_request(f, pb, from, &start, &end);
	uint32_t n = pb->len - from;

	PROF_ENTER(PROF_RX_COPY);
	if (may_gather && known && start >= f->in_len &&
	    gather_start(f, pb, from, (uint32_t)(start - f->in_len), end - start)) {
		PROF_LEAVE();
		return true;
	}
	in_shrink(f, known ? end : 0);
	if (in_reserve(f, n, known ? end : 0)) {
		PROF_LEAVE();
		return false;
	}
	memcpy(f->in + f->in_len, pb->data + from, n);
	f->in_len += n;
	f->t->stats.rx_copied += n;
	floo_tcp_release(f->t->st, pb);
	PROF_LEAVE();
	return true;
}

/* A DATA buffer in order: onto the request being gathered, or absorbed; false when it has to
 * wait (held): no room, or the request being gathered is whole (what follows it is taken once
 * the broker has it). */
static bool take(struct fconn *f, struct floo_pbuf *pb)
{
	if (!f->gathering)
		return absorb_from(f, pb, 0, true);
	if (f->g_have >= f->g_need)
		return false;
	pb->next = NULL;
	f->g_tail->next = pb;
	f->g_tail = pb;
	f->g_n++;
	f->g_have += pb->len;
	return true;
}

static void gather_release(struct fconn *f)
{
	floo_tcp_release_list(f->t->st, f->g_head);
	f->g_head = f->g_tail = NULL;
	f->gathering = false;
}

/* Give up gathering: the buffers' bytes are copied into the input buffer (room for the request
 * was reserved; the bytes after it may have to wait, held). */
static void gather_flatten(struct fconn *f)
{
	struct floo_pbuf *pb = f->g_head;
	uint32_t from = f->g_skip;

	f->g_head = f->g_tail = NULL;
	f->gathering = false;
	f->t->stats.rx_gather_copied++;
	while (pb) {
		struct floo_pbuf *next = pb->next;
		if (f->held || !absorb_from(f, pb, from, false))
			hold(f, pb); /* not the first: from is 0 */
		pb = next, from = 0;
	}
}

/* Move held buffers into the input buffer while they fit, in order. */
static void drain_held(struct fconn *f)
{
	while (f->held && !f->want_close) {
		struct floo_pbuf *pb = f->held, *next = pb->next;
		if (!take(f, pb))
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
		if (f->held || !take(f, ev->pb))
			hold(f, ev->pb);
		else if (f->gathering && f->g_have < f->g_need && f->g_n >= f->t->cfg.gather_pbufs)
			gather_flatten(f); /* Floo's window would close before the request is in */
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
		gather_release(f);
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

/* The gathered request to the broker once it is whole and the input buffer holds nothing before
 * it; what its last buffer holds after it is taken as newly arrived. */
static void feed_gathered(struct fconn *f)
{
	struct bfloo *t = f->t;
	uint32_t i = 0;
	int rc;

	if (!f->gathering || f->g_have < f->g_need || f->in_len || f->want_close || f->closed)
		return;
	if (f->g_n > f->g_iov_cap) {
		uint32_t cap = f->g_n < 64 ? 64 : f->g_n * 2;
		struct store_iov *v = t_alloc(t, cap * sizeof(*v));
		if (!v) {
			gather_flatten(f);
			return;
		}
		t_free(t, f->g_iov);
		f->g_iov = v, f->g_iov_cap = cap;
	}
	for (struct floo_pbuf *pb = f->g_head; pb; pb = pb->next)
		f->g_iov[i++] = (struct store_iov){pb->data, pb->len};
	PROF_ENTER(PROF_KAFKA);
	rc = broker_conn_input_gather(t->b, f->kc, f->g_iov, f->g_skip, (uint32_t)f->g_need);
	PROF_LEAVE();
	if (rc == BROKER_GATHER_LATER)
		return;
	if (rc == BROKER_GATHER_COPY) {
		gather_flatten(f);
		return;
	}
	t->stats.rx_gathered += f->g_need;
	struct floo_pbuf *last = f->g_tail;
	uint32_t rest = (uint32_t)(f->g_have - f->g_need);
	if (rest &&
	    last) { /* keep the last buffer (the list's tail): the next request begins in it */
		struct floo_pbuf **pp = &f->g_head;
		while (*pp && *pp != last)
			pp = &(*pp)->next;
		*pp = NULL;
	}
	gather_release(f);
	if (rest && last && !absorb_from(f, last, last->len - rest, true))
		floo_tcp_release(t->st, last); /* out of memory: the connection is closing */
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
	gather_release(f);
	t_free(t, f->g_iov);
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
			feed_gathered(t->conns[i]);
			drain_held(t->conns[i]);
		}
	PROF_CALL(PROF_BPOLL, broker_poll(t->b));
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
		feed_gathered(f);
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
