/*
 * Blocking socket-like interface over the event API, for simple
 * single-threaded programs. Each call runs floo_poll() until it can finish
 * or its timeout passes. Sends copy into a per-socket ring (FLOO_SOCK_BUF
 * bytes) that TCP references; receives copy out of the buffers held for
 * the socket. FLOO_SOCK_N sockets live in the stack's region.
 */
#include "tcp.h"

#define ACCEPTQ 8

struct floo_sock {
	struct floo_stack *st;
	struct floo_tcp *c;
	bool used, listening, connected, peer_fin, dead, user_closed;
	int err;
	uint16_t port;
	uint8_t aq_n;
	struct floo_sock *acceptq[ACCEPTQ];
	struct floo_rxq rx;
	uint32_t s_head, s_len;
	uint8_t sbuf[FLOO_SOCK_BUF];
};

size_t sock_mem_size(void)
{
	return FLOO_SOCK_N * sizeof(struct floo_sock);
}

void sock_init(struct floo_stack *st, void *mem)
{
	st->socks = mem;
	for (unsigned i = 0; i < FLOO_SOCK_N; i++)
		st->socks[i].used = false;
}

static struct floo_sock *sock_alloc(struct floo_stack *st)
{
	for (unsigned i = 0; i < FLOO_SOCK_N; i++) {
		struct floo_sock *s = &st->socks[i];

		if (!s->used) {
			memset(s, 0, sizeof(*s) - FLOO_SOCK_BUF);
			s->used = true;
			s->st = st;
			return s;
		}
	}
	return NULL;
}

/* Event handler of a connected socket. */
static void sock_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct floo_sock *s = user;

	(void)c;
	switch (ev->type) {
	case FLOO_TCP_CONNECTED:
	case FLOO_TCP_ACCEPTED:
		s->connected = true;
		break;
	case FLOO_TCP_DATA:
		if (s->user_closed) {
			floo_tcp_release(s->st, ev->pb);
			break;
		}
		floo_rxq_push(&s->rx, ev->pb);
		break;
	case FLOO_TCP_SENT:
		s->s_head = (s->s_head + (uint32_t)(uintptr_t)ev->cookie) % FLOO_SOCK_BUF;
		s->s_len -= (uint32_t)(uintptr_t)ev->cookie;
		break;
	case FLOO_TCP_PEER_FIN:
		s->peer_fin = true;
		break;
	case FLOO_TCP_CLOSED:
		s->dead = true;
		s->err = ev->err;
		s->c = NULL;
		if (s->user_closed)
			s->used = false;
		break;
	}
}

/* Listener: every accepted connection gets its own socket at once. */
static void listen_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct floo_sock *ls = user, *s;

	if (ev->type != FLOO_TCP_ACCEPTED)
		return;
	if (ls->aq_n == ACCEPTQ || !(s = sock_alloc(ls->st))) {
		floo_tcp_abort(c);
		return;
	}
	s->c = c;
	s->connected = true;
	floo_tcp_set_user(c, sock_cb, s);
	ls->acceptq[ls->aq_n++] = s;
}

/* Poll until done(s) or timeout; returns done(s). */
static bool wait_for(struct floo_sock *s, bool (*done)(struct floo_sock *), uint32_t timeout_ms)
{
	struct floo_stack *st = s->st;
	uint64_t end = st->plat.now_ns(st->plat.ctx) + timeout_ms * 1000000ull;

	while (!done(s)) {
		if (st->plat.now_ns(st->plat.ctx) >= end)
			return false;
		floo_poll(st);
	}
	return true;
}

static bool is_connected_or_dead(struct floo_sock *s)
{
	return s->connected || s->dead;
}

struct floo_sock *floo_sock_connect(struct floo_stack *st, uint32_t ip, uint16_t port,
                                    uint32_t timeout_ms)
{
	struct floo_sock *s = sock_alloc(st);

	if (!s)
		return NULL;
	s->c = floo_tcp_connect(st, ip, port, sock_cb, s);
	if (!s->c || !wait_for(s, is_connected_or_dead, timeout_ms) || s->dead) {
		floo_sock_close(s);
		return NULL;
	}
	return s;
}

struct floo_sock *floo_sock_listen(struct floo_stack *st, uint16_t port)
{
	struct floo_sock *s = sock_alloc(st);

	if (!s)
		return NULL;
	if (floo_tcp_listen(st, port, listen_cb, s) < 0) {
		s->used = false;
		return NULL;
	}
	s->listening = true;
	s->port = port;
	return s;
}

static bool has_pending(struct floo_sock *s)
{
	return s->aq_n > 0;
}

struct floo_sock *floo_sock_accept(struct floo_sock *ls, uint32_t timeout_ms)
{
	struct floo_sock *s;

	if (!ls->listening || !wait_for(ls, has_pending, timeout_ms))
		return NULL;
	s = ls->acceptq[0];
	ls->aq_n--;
	for (unsigned i = 0; i < ls->aq_n; i++)
		ls->acceptq[i] = ls->acceptq[i + 1];
	return s;
}

static bool has_room(struct floo_sock *s)
{
	return s->dead || (s->s_len < FLOO_SOCK_BUF && s->c && floo_tcp_send_slots(s->c) > 0);
}

/* Copy into the ring and queue references; returns bytes queued. */
int floo_sock_send(struct floo_sock *s, const void *buf, uint32_t len, uint32_t timeout_ms)
{
	const uint8_t *p = buf;
	uint32_t done = 0;

	while (done < len) {
		uint32_t tail, n;

		if (!wait_for(s, has_room, timeout_ms))
			return done ? (int)done : FLOO_EAGAIN;
		if (s->dead)
			return done ? (int)done : (s->err ? s->err : FLOO_ENOTCONN);
		tail = (s->s_head + s->s_len) % FLOO_SOCK_BUF;
		n = FLOO_SOCK_BUF - s->s_len;
		if (n > FLOO_SOCK_BUF - tail)
			n = FLOO_SOCK_BUF - tail;
		if (n > len - done)
			n = len - done;
		memcpy(s->sbuf + tail, p + done, n);
		if (floo_tcp_send(s->c, s->sbuf + tail, n, (void *)(uintptr_t)n) < 0)
			return done ? (int)done : FLOO_ENOTCONN;
		s->s_len += n;
		done += n;
	}
	return (int)done;
}

static bool readable(struct floo_sock *s)
{
	return s->rx.head || s->peer_fin || s->dead;
}

static int put_mem(void *ctx, uint32_t at, const uint8_t *src, uint32_t len)
{
	memcpy((uint8_t *)ctx + at, src, len);
	return 0;
}

int floo_sock_recv(struct floo_sock *s, void *buf, uint32_t len, uint32_t timeout_ms)
{
	uint8_t *out = buf;
	uint32_t got = 0;

	if (!wait_for(s, readable, timeout_ms))
		return FLOO_EAGAIN;
	got = floo_rxq_copy(&s->rx, len, put_mem, out);
	floo_rxq_consume(s->st, &s->rx, got);
	if (got)
		return (int)got;
	if (s->dead && s->err)
		return s->err;
	return 0;
}

/* Graceful close; the slot is reused once TCP no longer references it. */
void floo_sock_close(struct floo_sock *s)
{
	if (!s || !s->used)
		return;
	if (s->listening) {
		floo_tcp_listen_close(s->st, s->port);
		while (s->aq_n) /* accepted but never taken: close them too */
			floo_sock_close(s->acceptq[--s->aq_n]);
		s->used = false;
		return;
	}
	floo_rxq_release(s->st, &s->rx);
	s->user_closed = true;
	if (!s->c || s->dead) {
		s->used = false;
		return;
	}
	floo_tcp_close(s->c);
}
