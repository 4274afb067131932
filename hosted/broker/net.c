/* Epoll transport: non-blocking POSIX sockets. Received bytes are handed
 * to the broker in the connection's input buffer; responses are sent with
 * sendmsg straight from the iovec the broker hands over (no copy). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hosted.h"

#define MAX_CONNS 1024
#define IOV_CHUNK 512
#define MAX_INPUT (80u << 20) /* above the broker's largest request */

struct hconn {
	int fd;
	struct kconn *kc;
	uint8_t *in;
	size_t in_len, in_cap;
	const struct kiov *iov;
	uint32_t niov, iov_i;
	size_t iov_off;
	bool sending, done, want_close, out_armed;
};

static struct hconn *conns[MAX_CONNS];
static int epfd;
static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
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
	bool want_out = h->sending && !h->done;
	if (want_out != h->out_armed) {
		struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
		                         .data.ptr = h};
		epoll_ctl(epfd, EPOLL_CTL_MOD, h->fd, &ev);
		h->out_armed = want_out;
	}
}

static int t_send(void *ctx, void *conn, const struct kiov *iov, uint32_t n)
{
	struct hconn *h = conn;

	(void)ctx;
	h->iov = iov;
	h->niov = n;
	h->iov_i = 0;
	h->iov_off = 0;
	h->sending = true;
	h->done = false;
	try_send(h);
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

/* Report finished sends to the broker (which may start the next one). */
static void complete_sends(struct broker *b, struct hconn *h)
{
	while (h->sending && h->done && !h->want_close) {
		h->sending = false;
		h->done = false;
		broker_send_done(b, h->kc);
	}
}

static void conn_drop(struct broker *b, int slot)
{
	struct hconn *h = conns[slot];

	epoll_ctl(epfd, EPOLL_CTL_DEL, h->fd, NULL);
	close(h->fd);
	broker_conn_closed(b, h->kc);
	free(h->in);
	free(h);
	conns[slot] = NULL;
}

static void on_accept(struct broker *b, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1, slot = -1;
		if (fd < 0)
			return;
		for (int i = 0; i < MAX_CONNS && slot < 0; i++)
			if (!conns[i])
				slot = i;
		struct hconn *h = slot >= 0 ? calloc(1, sizeof(*h)) : NULL;
		if (!h || !(h->kc = broker_conn_open(b, h))) {
			fprintf(stderr, "hallows-broker: connection refused (limit)\n");
			free(h);
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		h->fd = fd;
		conns[slot] = h;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = h};
		epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Offer buffered input again (after the broker paused it). */
static void feed(struct broker *b, struct hconn *h)
{
	size_t used = broker_conn_input(b, h->kc, h->in, h->in_len);

	memmove(h->in, h->in + used, h->in_len - used);
	h->in_len -= used;
}

/* Read everything available and feed complete frames to the broker. The
 * buffer is bounded: a paused connection stops being read. */
static void on_readable(struct broker *b, struct hconn *h)
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
		feed(b, h);
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

static int flush_marker; /* epoll tag of the flusher's eventfd */

int host_serve(int lfd, struct broker *b, struct host_dev *d)
{
	struct epoll_event evs[64], ev = {.events = EPOLLIN, .data.ptr = NULL};
	struct epoll_event fev = {.events = EPOLLIN, .data.ptr = &flush_marker};
	bool ok;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) ||
	    (d->done_fd >= 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, d->done_fd, &fev)))
		return 1;
	while (!stop_flag) {
		int n = epoll_wait(epfd, evs, 64, (int)broker_next_timeout_ms(b));
		for (int i = 0; i < n; i++) {
			struct hconn *h = evs[i].data.ptr;
			if (!h) {
				on_accept(b, lfd);
				continue;
			}
			if ((void *)h == &flush_marker) {
				if (host_flush_result(d, &ok))
					broker_flush_done(b, ok);
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				on_readable(b, h);
			if (evs[i].events & EPOLLOUT)
				try_send(h);
		}
		broker_poll(b);
		for (int i = 0; i < MAX_CONNS; i++) {
			if (!conns[i])
				continue;
			complete_sends(b, conns[i]);
			if (conns[i]->in_len >= 4 && !conns[i]->want_close) {
				feed(b, conns[i]);
				on_readable(b, conns[i]);
			}
			if (conns[i]->want_close)
				conn_drop(b, i);
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i])
			conn_drop(b, i);
	return 0;
}
