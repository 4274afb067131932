/* Epoll transport: non-blocking POSIX sockets. Received bytes are handed
 * to the broker in the connection's input buffer; responses are sent with
 * sendmsg straight from the iovec the broker hands over (no copy). One
 * loop per shard (loop_main); requests for shard 0's control path go
 * through shard.c. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/bytes.h"
#include "loop.h"

#define IOV_CHUNK 512
#define MAX_INPUT (80u << 20) /* above the broker's largest request */

static void arm_out(struct hconn *h, bool want_out)
{
	if (want_out != h->out_armed && !h->proxy) {
		struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
		                         .data.ptr = h};
		epoll_ctl(h->L->epfd, EPOLL_CTL_MOD, h->fd, &ev);
		h->out_armed = want_out;
	}
}

/* Push as much of the pending iovec as the socket takes. */
static void try_send(struct hconn *h)
{
	struct iovec v[IOV_CHUNK];

	while (h->sending && !h->done) {
		int n = 0;
		for (uint32_t i = h->iov_i; i < h->niov && n < IOV_CHUNK; i++, n++) {
			size_t skip = i == h->iov_i ? h->iov_off : 0;
			v[n].iov_base = (char *)h->iov[i].base + skip;
			v[n].iov_len = h->iov[i].len - skip;
		}
		struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};
		ssize_t r = sendmsg(h->fd, &m, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0) {
			h->want_close = true;
			return;
		}
		size_t left = (size_t)r;
		while (h->iov_i < h->niov && left >= h->iov[h->iov_i].len - h->iov_off) {
			left -= h->iov[h->iov_i].len - h->iov_off;
			h->iov_i++;
			h->iov_off = 0;
		}
		h->iov_off += left;
		if (h->iov_i == h->niov)
			h->done = true;
	}
	arm_out(h, h->sending && !h->done);
}

static void start_send(struct hconn *h, const struct kiov *iov, uint32_t n)
{
	h->iov = iov;
	h->niov = n;
	h->iov_i = 0;
	h->iov_off = 0;
	h->sending = true;
	h->done = false;
	try_send(h);
}

static int t_send(void *ctx, void *conn, const struct kiov *iov, uint32_t n)
{
	struct hconn *h = conn;

	(void)ctx;
	if (h->proxy) { /* the control path's answer: copied, complete at once */
		if (h->remote)
			ctl_remote_answer(h->L, h, iov, n);
		else
			ctl_answer(h->L, iov, n, false);
		h->sending = h->done = true;
		return 0;
	}
	start_send(h, iov, n);
	return 0;
}

static void t_close(void *ctx, void *conn)
{
	(void)ctx;
	((struct hconn *)conn)->want_close = true;
}

void host_fill_broker_platform(struct broker_platform *pl)
{
	*pl = (struct broker_platform){
	    .alloc = host_alloc,
	    .free = host_free,
	    .now_ms = host_now_ms,
	    .log = host_log,
	    .send = t_send,
	    .close = t_close,
	    .wall_ms = host_epoch_ms,
	};
}

/* Report finished sends to the broker (which may start the next one); a
 * finished answer of the control path resumes the connection's input. */
static void complete_sends(struct broker *b, struct hconn *h)
{
	if (h->own) {
		if (h->sending && h->done) {
			free(h->own_buf);
			h->own_buf = NULL;
			h->own = h->sending = h->done = h->fwd_wait = false;
		}
		return;
	}
	while (h->sending && h->done && !h->want_close) {
		h->sending = false;
		h->done = false;
		broker_send_done(b, h->kc);
	}
}

static void conn_drop(struct hloop *L, int slot)
{
	struct hconn *h = L->conns[slot];

	epoll_ctl(L->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	close(h->fd);
	if (h->fwd_any)
		ctl_conn_closed(L, h);
	broker_conn_closed(L->sh->b, h->kc);
	free(h->own_buf);
	free(h->in);
	free(h);
	L->conns[slot] = NULL;
	while (L->hi > 0 && !L->conns[L->hi - 1])
		L->hi--;
}

/* The control path's answer to the request connection (slot, gen) had
 * forwarded: sent by the transport itself (the broker has nothing queued
 * for the connection, see feed); data NULL closes the connection. */
void loop_reply(struct hloop *L, uint32_t slot, uint32_t gen, uint8_t *data, size_t len)
{
	struct hconn *h = slot < MAX_CONNS ? L->conns[slot] : NULL;

	if (!h || h->gen != gen || h->want_close) {
		free(data);
		return;
	}
	if (!data) {
		h->want_close = true;
		return;
	}
	h->own = true;
	h->own_buf = data;
	h->own_iov = (struct kiov){data, len};
	start_send(h, &h->own_iov, 1);
}

/* The loop's control connection: a kconn without a socket through which
 * the control path hands requests to this loop's broker. */
struct hconn *proxy_open(struct hloop *L)
{
	struct hconn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->L = L;
	h->fd = -1;
	h->slot = -1;
	h->proxy = true;
	if (!(h->kc = broker_conn_open(L->sh->b, h))) {
		free(h);
		return NULL;
	}
	return h;
}

/* The broker dropped the control connection (a malformed request): a
 * fresh one for the next request. */
void proxy_reset(struct hloop *L)
{
	struct hconn *h = L->proxy;

	broker_conn_closed(L->sh->b, h->kc);
	h->sending = h->done = h->want_close = false;
	if (!(h->kc = broker_conn_open(L->sh->b, h))) {
		host_log(NULL, "loop: cannot reopen the control connection, shard", "", L->id);
		free(h);
		L->proxy = NULL;
	}
}

static void on_accept(struct hloop *L)
{
	for (;;) {
		int fd = accept4(L->sh->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1, slot = -1;
		if (fd < 0)
			return;
		for (int i = 0; i < MAX_CONNS && slot < 0; i++)
			if (!L->conns[i])
				slot = i;
		struct hconn *h = slot >= 0 ? calloc(1, sizeof(*h)) : NULL;
		if (!h || !(h->kc = broker_conn_open(L->sh->b, h))) {
			fprintf(stderr, "hallows-broker: connection refused (limit)\n");
			free(h);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		h->L = L;
		h->fd = fd;
		h->slot = slot;
		h->gen = ++L->gen;
		L->conns[slot] = h;
		if (slot >= L->hi)
			L->hi = slot + 1;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
		epoll_ctl(L->epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Bytes from off on that this loop's broker takes itself: whole frames
 * up to the first the control path answers (*ctl then), or everything
 * left (an incomplete or malformed frame: the broker waits or refuses). */
static size_t local_run(const struct hloop *L, const uint8_t *p, size_t len, bool *ctl)
{
	size_t run = 0;

	*ctl = false;
	while (len - run >= 6) {
		uint32_t sz = get_be32(p + run);
		if (sz < 8 || sz > MAX_INPUT || sz > len - run - 4)
			return len;
		if (!ctl_local_key(L, (int16_t)get_be16(p + run + 4))) {
			*ctl = true;
			return run;
		}
		run += 4 + sz;
	}
	return len;
}

/* Offer buffered input to the broker. With several loops, a request for
 * the control path (shard.c) waits until every earlier response of the
 * connection is sent, then goes there alone and pauses the input until
 * its answer is sent: responses keep the requests' order. */
static void feed(struct hloop *L, struct hconn *h)
{
	struct broker *b = L->sh->b;
	size_t off = 0;

	while (!h->fwd_wait && !h->want_close && off < h->in_len) {
		bool ctl;
		size_t run = local_run(L, h->in + off, h->in_len - off, &ctl);
		if (run) {
			size_t used = broker_conn_input(b, h->kc, h->in + off, run);
			off += used;
			if (used < run)
				break;
		}
		if (!ctl || h->sending || !broker_conn_idle(h->kc))
			break;
		size_t len = 4 + get_be32(h->in + off);
		ctl_submit(L, h, h->in + off, len);
		h->fwd_wait = h->fwd_any = true;
		off += len;
	}
	memmove(h->in, h->in + off, h->in_len - off);
	h->in_len -= off;
}

/* Read everything available and feed complete frames to the broker. The
 * buffer is bounded: a paused connection stops being read. */
static void on_readable(struct hloop *L, struct hconn *h)
{
	for (;;) {
		if (h->in_len >= MAX_INPUT)
			return;
		if (h->in_cap - h->in_len < 65536) {
			size_t nc = h->in_cap ? h->in_cap * 2 : 262144;
			uint8_t *n = realloc(h->in, nc);
			if (!n) {
				h->want_close = true;
				return;
			}
			h->in = n;
			h->in_cap = nc;
		}
		ssize_t r = read(h->fd, h->in + h->in_len, h->in_cap - h->in_len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			h->want_close = true;
			return;
		}
		h->in_len += (size_t)r;
		feed(L, h);
		if (h->want_close)
			return;
	}
	/* Shrink a buffer that grew for one large request. */
	if (h->in_cap > (4u << 20) && h->in_len < 262144) {
		uint8_t *n = realloc(h->in, 262144);
		if (n) {
			h->in = n;
			h->in_cap = 262144;
		}
	}
}

static int flush_marker, wake_marker; /* epoll tags of the eventfds */

/* One loop: its listening socket, connections, broker and store. */
void *loop_main(void *arg)
{
	struct hloop *L = arg;
	struct broker *b = L->sh->b;
	struct host_dev *d = &L->sh->dev;
	struct epoll_event evs[64];
	char name[16];
	bool ok;

	/* named for per-loop CPU accounting (run_bench.py reads /proc) */
	snprintf(name, sizeof(name), "loop%u", L->id);
	pthread_setname_np(pthread_self(), name);
	if (L->n > 1)
		ctl_turn(L); /* messages sent before the loops started */
	while (!atomic_load_explicit(L->stop, memory_order_relaxed)) {
		int n = epoll_wait(L->epfd, evs, 64, (int)broker_next_timeout_ms(b));
		for (int i = 0; i < n; i++) {
			struct hconn *h = evs[i].data.ptr;
			if (!h) {
				on_accept(L);
				continue;
			}
			if ((void *)h == &flush_marker) {
				if (host_flush_result(d, &ok))
					broker_flush_done(b, ok);
				continue;
			}
			if ((void *)h == &wake_marker) {
				uint64_t v;
				if (read(L->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
					perror("hallows-broker: wake eventfd");
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(L, h);
			if (evs[i].events & EPOLLOUT)
				try_send(h);
		}
		broker_poll(b);
		if (L->n > 1) {
			ctl_turn(L);
			if (L->proxy) {
				complete_sends(b, L->proxy);
				if (L->proxy->want_close) {
					ctl_answer(L, NULL, 0, true);
					proxy_reset(L);
				}
			}
			for (struct hconn *r = L->remote, *nx; r; r = nx) {
				nx = r->rnext;
				complete_sends(b, r);
				if (r->want_close)
					ctl_remote_gone(L, r);
			}
		}
		for (int i = 0; i < L->hi; i++) {
			struct hconn *h = L->conns[i];
			if (!h)
				continue;
			complete_sends(b, h);
			if (h->in_len >= 4 && !h->want_close) {
				feed(L, h);
				on_readable(L, h);
			}
			if (h->want_close)
				conn_drop(L, i);
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (L->conns[i])
			conn_drop(L, i);
	return NULL;
}

/* Register the loop's sockets and eventfds with a new epoll instance. */
int loop_setup(struct hloop *L)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	struct epoll_event fev = {.events = EPOLLIN, .data.ptr = &flush_marker};
	struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &wake_marker};

	L->epfd = epoll_create1(EPOLL_CLOEXEC);
	L->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (L->epfd < 0 || L->wake_fd < 0 || epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->sh->lfd, &ev) ||
	    epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->wake_fd, &wev) ||
	    (L->sh->dev.done_fd >= 0 &&
	     epoll_ctl(L->epfd, EPOLL_CTL_ADD, L->sh->dev.done_fd, &fev)))
		return -1;
	return 0;
}
