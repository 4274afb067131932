/*
 * AF_INET sockets of the Linux personality, on Floo (net.c brings the NIC
 * and the stack up): socket, bind, listen, accept/accept4, connect,
 * send/sendto/sendmsg, recv/recvfrom/recvmsg, shutdown, getsockopt,
 * setsockopt, getsockname, getpeername, and read/write/readv/writev, poll,
 * epoll, fcntl(O_NONBLOCK), ioctl(FIONREAD, FIONBIO) and fstat on them
 * (docs/linux.md "Sockets").
 *
 * A socket is an open file description (LX_FD_SOCKET) pointing at a
 * struct lx_sock. Floo's events (all inside lx_net_poll) fill it: TCP
 * data stays in the packet buffers it arrived in until read (the unread
 * buffers are the receive window), sent bytes are copied into a ring
 * that Floo sends by reference until acknowledged (SO_SNDBUF), UDP
 * datagrams are copied into a queue (SO_RCVBUF bytes). A call that must
 * wait blocks on its socket (p->chan) and is made again when an event
 * changed the socket; every change also wakes poll and epoll.
 *
 * Not served: AF_UNIX and AF_INET6 (EAFNOSUPPORT), SOCK_RAW
 * (EPROTONOSUPPORT), loopback (Floo has no loopback interface: 127.0.0.1
 * gives ENETUNREACH), a local port chosen by bind before connect (Floo
 * picks the ephemeral port), ancillary data (sendmsg's control is ignored,
 * recvmsg's comes back empty).
 */
#include "lx.h"

#include <floo/floo.h>
#include <hallows/rt.h>
#include <lib/bytes.h>
#include <lib/string.h>

#define LX_MAX_SOCKS 64
#define MAX_BACKLOG  16
#define SND_RING     32768u /* bytes of a TCP socket's send ring (SO_SNDBUF) */
#define N_RINGS      32     /* TCP connections with a send ring at once (ENOBUFS beyond) */
#define N_DGRAMS     192    /* datagram buffers, all UDP sockets together */
#define UDP_RCVBUF   65536u /* bytes of datagrams queued per UDP socket (SO_RCVBUF) */
#define UDP_MAX      1472u  /* Floo sends one frame per datagram: no fragments */
#define ARPQ         4      /* datagrams held per socket while ARP resolves (Linux: 3) */
#define ARPQ_NS      3000000000ull
#define UIO_MAX      1024u /* UIO_MAXIOV */
#define EPHEMERAL_LO 49152u
#define O_NONBLOCK   04000u
#define O_CLOEXEC    02000000u
#define AF_UNSPEC    0
#define AF_UNIX      1
#define AF_INET      2
#define SOCK_STREAM  1
#define SOCK_DGRAM   2
#define SOCK_RAW     3
#define MSG_PEEK     0x2u
#define MSG_TRUNC    0x20u
#define MSG_DONTWAIT 0x40u
#define MSG_NOSIGNAL 0x4000u
#define POLLIN       1u
#define POLLOUT      4u
#define POLLERR      8u
#define POLLHUP      16u
#define POLLRDHUP    0x2000u
#define SIGPIPE      13

enum {
	E_NFILE = 23,
	E_NOTSOCK = 88,
	E_DESTADDRREQ = 89,
	E_MSGSIZE = 90,
	E_NOPROTOOPT = 92,
	E_PROTONOSUPPORT = 93,
	E_SOCKTNOSUPPORT = 94,
	E_OPNOTSUPP = 95,
	E_AFNOSUPPORT = 97,
	E_ADDRINUSE = 98,
	E_ADDRNOTAVAIL = 99,
	E_NETUNREACH = 101,
	E_CONNRESET = 104,
	E_NOBUFS = 105,
	E_ISCONN = 106,
	E_NOTCONN = 107,
	E_CONNREFUSED = 111,
	E_ALREADY = 114,
	E_INPROGRESS = 115,
};

enum {
	NR_socket = 41,
	NR_connect = 42,
	NR_accept = 43,
	NR_sendto = 44,
	NR_recvfrom = 45,
	NR_sendmsg = 46,
	NR_recvmsg = 47,
	NR_shutdown = 48,
	NR_bind = 49,
	NR_listen = 50,
	NR_getsockname = 51,
	NR_getpeername = 52,
	NR_socketpair = 53,
	NR_setsockopt = 54,
	NR_getsockopt = 55,
	NR_accept4 = 288,
};

enum { S_NEW, S_LISTEN, S_CONNECTING, S_CONNECTED, S_CLOSED };

struct dgram {
	struct dgram *next;
	uint32_t ip, len;
	uint16_t port;
	uint64_t at; /* ARP queue: when it was sent */
	uint8_t data[UDP_MAX];
};

struct lx_sock {
	bool used;
	uint8_t type, state;
	bool orphan;   /* closed by the application: goes with Floo's CLOSED */
	bool peer_fin; /* TCP: the peer's FIN arrived */
	bool shut_rd, shut_wr;
	bool bound, udp_bound;
	bool reuse, keepalive, nodelay;
	bool inprogress; /* a non-blocking connect said EINPROGRESS: the next connect says 0 */
	bool changed;    /* an event since the last lx_sock_events */
	int err;         /* pending error (SO_ERROR), positive */
	uint32_t lip, rip;
	uint16_t lport, rport;
	struct floo_tcp *c;
	struct floo_pbuf *rx_head, *rx_tail;
	uint32_t rx_off, rx_bytes;
	uint8_t *sbuf; /* the send ring */
	uint32_t s_head, s_len;
	struct lx_sock *aq[MAX_BACKLOG]; /* accepted, not yet accept()ed */
	uint32_t aq_n, backlog;
	struct dgram *dq_head, *dq_tail;
	uint32_t dq_bytes;
	struct dgram *arpq[ARPQ];
	uint32_t arpq_n;
	uint32_t sndbuf, rcvbuf; /* as setsockopt last set them (doubled, as Linux) */
	uint64_t stamp;          /* lx_change_seq at its last change (epoll's edges) */
};

static struct lx_sock socks[LX_MAX_SOCKS];
/*
 * Memory of the sockets, in the program's image: the server's pools take
 * every other byte of a partition at start (main.c), so nothing here comes
 * from the heap once it runs.
 */
static uint8_t rings[N_RINGS][SND_RING];
static bool ring_used[N_RINGS];
static struct dgram dgram_pool[N_DGRAMS];
static struct dgram *dgram_free;
static bool dgram_ready;

static uint8_t *ring_get(void)
{
	for (uint32_t i = 0; i < N_RINGS; i++)
		if (!ring_used[i]) {
			ring_used[i] = true;
			return rings[i];
		}
	return NULL;
}

static void ring_put(uint8_t *r)
{
	ring_used[(r - rings[0]) / SND_RING] = false;
}

static struct dgram *dgram_get(void)
{
	if (!dgram_ready) {
		for (uint32_t i = 0; i < N_DGRAMS; i++)
			dgram_pool[i].next = i + 1 < N_DGRAMS ? &dgram_pool[i + 1] : NULL;
		dgram_free = dgram_pool, dgram_ready = true;
	}
	struct dgram *d = dgram_free;
	if (d)
		dgram_free = d->next;
	return d;
}

static void dgram_put(struct dgram *d)
{
	d->next = dgram_free;
	dgram_free = d;
}
static struct {
	uint32_t afnosupport, unreach; /* socket() of another family; connects with no route */
} counts;

/* A user buffer list: send and receive gather and scatter through it. */
static struct {
	uint64_t base[UIO_MAX], len[UIO_MAX];
	uint32_t n;
	uint64_t total;
} uio;

/* ---- sockets ---- */

static struct lx_sock *sock_new(uint8_t type)
{
	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++)
		if (!socks[i].used) {
			socks[i] = (struct lx_sock){.used = true, .type = type};
			socks[i].sndbuf = SND_RING, socks[i].rcvbuf = UDP_RCVBUF;
			return &socks[i];
		}
	return NULL;
}

static void dgrams_free(struct dgram *d)
{
	while (d) {
		struct dgram *next = d->next;
		dgram_put(d);
		d = next;
	}
}

static void rx_release(struct lx_sock *s)
{
	struct floo_stack *st = lx_net_stack();

	while (s->rx_head) {
		struct floo_pbuf *pb = s->rx_head;
		s->rx_head = pb->next;
		floo_tcp_release(st, pb);
	}
	s->rx_tail = NULL, s->rx_bytes = s->rx_off = 0;
}

/* Everything of s goes (its Floo connection is gone or was never made). */
static void sock_free(struct lx_sock *s)
{
	rx_release(s);
	dgrams_free(s->dq_head);
	for (uint32_t i = 0; i < s->arpq_n; i++)
		dgram_put(s->arpq[i]);
	if (s->sbuf)
		ring_put(s->sbuf);
	lx_wake(s); /* nothing should wait on it; if something does, it finds EBADF */
	*s = (struct lx_sock){0};
}

static void changed(struct lx_sock *s)
{
	s->changed = true;
}

/* Floo's events of a TCP connection (inside lx_net_poll, or synchronously from close). */
static void tcp_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct lx_sock *s = user;

	(void)c;
	changed(s);
	switch (ev->type) {
	case FLOO_TCP_CONNECTED:
	case FLOO_TCP_ACCEPTED:
		s->state = S_CONNECTED;
		break;
	case FLOO_TCP_DATA:
		if (s->orphan) {
			floo_tcp_release(lx_net_stack(), ev->pb);
			break;
		}
		ev->pb->next = NULL;
		if (s->rx_tail)
			s->rx_tail->next = ev->pb;
		else
			s->rx_head = ev->pb;
		s->rx_tail = ev->pb;
		s->rx_bytes += ev->pb->len;
		break;
	case FLOO_TCP_SENT: {
		uint32_t n = (uint32_t)(uintptr_t)ev->cookie;
		s->s_head = (s->s_head + n) % SND_RING;
		s->s_len -= n;
		break;
	}
	case FLOO_TCP_PEER_FIN:
		s->peer_fin = true;
		break;
	case FLOO_TCP_CLOSED:
		s->c = NULL;
		if (ev->err)
			s->err = -ev->err;
		else if (s->state == S_CONNECTING)
			s->err = E_CONNREFUSED;
		s->state = S_CLOSED;
		if (s->orphan)
			sock_free(s);
		break;
	}
}

/* A listener's events: an accepted connection gets a socket of its own at once. */
static void listen_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct lx_sock *ls = user, *s = NULL;

	if (ev->type != FLOO_TCP_ACCEPTED)
		return;
	if (ls->aq_n >= ls->backlog || !(s = sock_new(SOCK_STREAM)) || !(s->sbuf = ring_get())) {
		if (s)
			*s = (struct lx_sock){0};
		floo_tcp_abort(c); /* its CLOSED comes here, and is not an ACCEPTED */
		return;
	}
	s->c = c, s->state = S_CONNECTED, s->bound = true;
	s->reuse = ls->reuse, s->keepalive = ls->keepalive,
	s->nodelay = ls->nodelay; /* inherited */
	if (s->keepalive)
		floo_tcp_keepalive(c, true);
	floo_tcp_addrs(c, &s->lip, &s->lport, &s->rip, &s->rport);
	floo_tcp_set_user(c, tcp_cb, s);
	ls->aq[ls->aq_n++] = s;
	changed(ls);
}

/* Floo's UDP receive: a copy into the socket's queue (dropped beyond SO_RCVBUF). */
static void udp_cb(struct floo_stack *st, void *arg, uint32_t src_ip, uint16_t src_port,
                   uint16_t dst_port, const uint8_t *data, uint32_t len)
{
	struct lx_sock *s = arg;
	struct dgram *d;

	(void)st, (void)dst_port;
	if (s->rport && (src_ip != s->rip || src_port != s->rport))
		return; /* a connected UDP socket takes only its peer's datagrams */
	if (len > UDP_MAX || s->dq_bytes + len > s->rcvbuf || !(d = dgram_get()))
		return; /* dropped, as Linux drops beyond a full receive buffer */
	d->next = NULL, d->ip = src_ip, d->len = len, d->port = src_port;
	memcpy(d->data, data, len);
	if (s->dq_tail)
		s->dq_tail->next = d;
	else
		s->dq_head = d;
	s->dq_tail = d;
	s->dq_bytes += len;
	changed(s);
}

/* Datagrams waiting for ARP: sent once they can be, dropped after ARPQ_NS (as Linux's). */
static void arpq_retry(struct lx_sock *s, struct floo_stack *st)
{
	uint32_t keep = 0;
	uint64_t now = lx_plat_nanotime();

	for (uint32_t i = 0; i < s->arpq_n; i++) {
		struct dgram *d = s->arpq[i];
		int r = floo_udp_send(st, s->lport, d->ip, d->port, d->data, d->len);
		if (r == FLOO_EAGAIN && now - d->at < ARPQ_NS)
			s->arpq[keep++] = d;
		else
			dgram_put(d);
	}
	s->arpq_n = keep;
}

void lx_sock_events(void)
{
	bool any = false;
	struct floo_stack *st = lx_net_stack();

	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++) {
		struct lx_sock *s = &socks[i];
		if (s->used && s->arpq_n && st)
			arpq_retry(s, st);
		if (!s->used || !s->changed)
			continue;
		s->changed = false;
		s->stamp = ++lx_change_seq;
		lx_wake(s);
		any = true;
	}
	if (any)
		lx_wake(lx_poll_chan());
}

bool lx_sock_timed(void)
{
	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++)
		if (socks[i].used && socks[i].arpq_n)
			return true;
	return false;
}

uint64_t lx_sock_stamp(const struct lx_ofd *o)
{
	return o->sock ? o->sock->stamp : 0;
}

/* The last close of a socket's open file description. */
void lx_sock_close(struct lx_ofd *o)
{
	struct lx_sock *s = o->sock;
	struct floo_stack *st = lx_net_stack();

	o->sock = NULL;
	if (!s)
		return;
	if (s->state == S_LISTEN) {
		floo_tcp_listen_close(st, s->lport);
		for (uint32_t i = 0; i < s->aq_n; i++) { /* never accepted: reset */
			struct lx_sock *a = s->aq[i];
			a->orphan = true;
			if (a->c)
				floo_tcp_abort(a->c); /* CLOSED frees it */
			else
				sock_free(a);
		}
		s->aq_n = 0;
	}
	if (s->udp_bound && st)
		floo_udp_unbind(st, s->lport);
	if (!s->c) {
		sock_free(s);
	} else {
		/* Unread data: a reset, as Linux; else FIN after what is queued. CLOSED frees it.
		 */
		bool reset = s->rx_bytes != 0;
		struct floo_tcp *c = s->c;
		rx_release(s);
		s->orphan = true;
		if (reset)
			floo_tcp_abort(c);
		else
			floo_tcp_close(c);
	}
	lx_net_poll();
}

uint16_t lx_sock_ready(const struct lx_ofd *o)
{
	const struct lx_sock *s = o->sock;
	uint16_t r = 0;

	if (!s)
		return POLLERR;
	if (s->err)
		r |= POLLERR;
	if (s->type == SOCK_DGRAM)
		return r | POLLOUT | (s->dq_head ? POLLIN : 0) |
		       (s->shut_rd ? POLLIN | POLLRDHUP : 0) |
		       (s->shut_rd && s->shut_wr ? POLLHUP : 0);
	switch (s->state) {
	case S_LISTEN:
		return r | (s->aq_n ? POLLIN : 0);
	case S_CONNECTING:
		return r;
	case S_NEW:
		return r | POLLOUT | POLLHUP; /* as Linux's TCP_CLOSE socket */
	default:
		break;
	}
	if (s->rx_bytes || s->peer_fin || s->shut_rd || s->state == S_CLOSED)
		r |= POLLIN;
	if (s->peer_fin || s->shut_rd)
		r |= POLLRDHUP;
	if (s->state == S_CLOSED || (s->peer_fin && s->shut_wr))
		r |= POLLHUP;
	if (s->state == S_CLOSED || s->shut_wr ||
	    (s->s_len < SND_RING && s->c && floo_tcp_send_slots(s->c) >= 2))
		r |= POLLOUT;
	return r;
}

int lx_sock_stat(struct lx_proc *p, uint64_t ubuf, const struct lx_ofd *o)
{
	uint64_t st[18] = {0};

	st[0] = 8;                                /* st_dev: sockfs's */
	st[1] = (uint64_t)(o->sock - socks) + 1;  /* st_ino */
	st[2] = 1, st[3] = 0140777, st[7] = 4096; /* S_IFSOCK | 0777 */
	return lx_copy_out(p, ubuf, st, sizeof(st)) ? -LX_EFAULT : 0;
}

/* ---- arguments ---- */

static struct lx_ofd *sock_fd(struct lx_proc *p, uint64_t fd, int64_t *err)
{
	struct lx_ofd *o = fd < LX_MAX_FDS ? lx_grp(p)->fd[fd].o : NULL;

	*err = !o ? -LX_EBADF : o->kind != LX_FD_SOCKET || !o->sock ? -E_NOTSOCK : 0;
	return *err ? NULL : o;
}

/* A struct sockaddr_in at ua (len bytes): 0 and the address and port, or -errno. */
static int get_addr(struct lx_proc *p, uint64_t ua, uint64_t len, uint16_t *family, uint32_t *ip,
                    uint16_t *port)
{
	uint8_t sa[16] = {0};

	if (len < 2 || len > 128)
		return -LX_EINVAL;
	if (lx_copy_in(p, sa, ua, len < sizeof(sa) ? len : sizeof(sa)))
		return -LX_EFAULT;
	*family = get_le16(sa);
	if (*family == AF_UNSPEC)
		return 0;
	if (*family != AF_INET)
		return -E_AFNOSUPPORT;
	if (len < 16)
		return -LX_EINVAL;
	*port = get_be16(sa + 2);
	*ip = get_be32(sa + 4);
	return 0;
}

/* Write a struct sockaddr_in to ua (*ulen bytes at most) and its size to *ulen. */
static int put_addr(struct lx_proc *p, uint64_t ua, uint64_t ulen, uint32_t ip, uint16_t port)
{
	uint8_t sa[16] = {0};
	int32_t len;

	if (!ua && !ulen)
		return 0;
	if (lx_copy_in(p, &len, ulen, 4))
		return -LX_EFAULT;
	if (len < 0)
		return -LX_EINVAL;
	put_le16(sa, AF_INET);
	put_be16(sa + 2, port);
	put_be32(sa + 4, ip);
	uint32_t n = (uint32_t)len < sizeof(sa) ? (uint32_t)len : (uint32_t)sizeof(sa);
	int32_t full = sizeof(sa);
	if ((n && lx_copy_out(p, ua, sa, n)) || lx_copy_out(p, ulen, &full, 4))
		return -LX_EFAULT;
	return 0;
}

/* The same as put_addr, checked before anything is taken (accept, recvfrom). */
static int check_addr_out(struct lx_proc *p, uint64_t ua, uint64_t ulen)
{
	int32_t len;

	if (!ulen)
		return 0;
	if (lx_copy_in(p, &len, ulen, 4) || lx_check(p, ulen, 4, LX_PROT_WRITE))
		return -LX_EFAULT;
	if (len < 0)
		return -LX_EINVAL;
	return len && lx_check(p, ua, (uint32_t)len < 16 ? (uint32_t)len : 16, LX_PROT_WRITE)
	           ? -LX_EFAULT
	           : 0;
}

static int uio_one(uint64_t base, uint64_t len)
{
	uio.base[0] = base, uio.len[0] = len, uio.n = 1, uio.total = len;
	return 0;
}

/* iovcnt struct iovec at iov, each checked for need: 0 or -errno. */
static int uio_vec(struct lx_proc *p, uint64_t iov, uint64_t cnt, uint32_t need)
{
	uio.n = 0, uio.total = 0;
	if (cnt > UIO_MAX)
		return -E_MSGSIZE;
	for (uint64_t i = 0; i < cnt; i++) {
		uint64_t v[2];
		if (lx_copy_in(p, v, iov + i * 16, 16))
			return -LX_EFAULT;
		if ((int64_t)v[1] < 0 || uio.total + v[1] > 0x7ffff000ull)
			return -LX_EINVAL;
		if (v[1] && lx_check(p, v[0], v[1], need))
			return -LX_EFAULT;
		uio.base[uio.n] = v[0], uio.len[uio.n++] = v[1];
		uio.total += v[1];
	}
	return 0;
}

/* Copy n bytes between the server's buf and the buffer list from offset off. */
static int uio_copy(struct lx_proc *p, uint64_t off, void *buf, uint64_t n, bool out)
{
	uint8_t *b = buf;

	for (uint32_t i = 0; i < uio.n && n; i++) {
		if (off >= uio.len[i]) {
			off -= uio.len[i];
			continue;
		}
		uint64_t k = uio.len[i] - off < n ? uio.len[i] - off : n;
		int err = out ? lx_copy_out(p, uio.base[i] + off, b, k)
		              : lx_copy_in(p, b, uio.base[i] + off, k);
		if (err)
			return err;
		b += k, n -= k, off = 0;
	}
	return 0;
}

static bool nonblocking(const struct lx_ofd *o, uint64_t flags)
{
	return (o->flags & O_NONBLOCK) || (flags & MSG_DONTWAIT);
}

static int64_t wait_on(struct lx_proc *p, struct lx_sock *s)
{
	p->chan = s;
	return LX_RET_BLOCK;
}

/* A free port of ours for type (ephemeral from 49152), or 0. */
static uint16_t free_port(uint8_t type, uint16_t want, bool reuse)
{
	static uint16_t next = EPHEMERAL_LO;

	for (uint32_t tries = 0; tries < (want ? 1u : 65536u - EPHEMERAL_LO); tries++) {
		uint16_t port = want;
		if (!want) {
			port = next;
			next = next == 65535 ? EPHEMERAL_LO : (uint16_t)(next + 1);
		}
		bool taken = false;
		for (uint32_t i = 0; i < LX_MAX_SOCKS && !taken; i++) {
			const struct lx_sock *q = &socks[i];
			taken = q->used && !q->orphan && q->type == type && q->bound &&
			        q->lport == port &&
			        (type == SOCK_DGRAM || !reuse || !q->reuse || q->state == S_LISTEN);
		}
		if (!taken)
			return port;
	}
	return 0;
}

/* A UDP socket gets a port (autobind) and Floo's receive for it: 0 or -errno. */
static int udp_bind(struct lx_sock *s)
{
	struct floo_stack *st = lx_net_stack();

	if (!s->bound) {
		if (!(s->lport = free_port(SOCK_DGRAM, 0, false)))
			return -E_ADDRINUSE;
		s->bound = true;
	}
	if (!s->udp_bound && st) {
		int r = floo_udp_bind(st, s->lport, udp_cb, s);
		if (r)
			return r == FLOO_EADDRINUSE ? -E_ADDRINUSE : -E_NOBUFS;
		s->udp_bound = true;
	}
	return 0;
}

/* ---- the calls ---- */

/* p's lowest free descriptor, LX_MAX_FDS when there is none. */
static uint32_t free_fd(struct lx_proc *p)
{
	const struct lx_fd *fdt = lx_grp(p)->fd;
	uint32_t fd = 0;

	while (fd < LX_MAX_FDS && fdt[fd].o)
		fd++;
	return fd;
}

static int64_t do_socket(struct lx_proc *p, uint64_t domain, uint64_t type, uint64_t proto)
{
	uint64_t flags = type & (O_NONBLOCK | O_CLOEXEC),
	         t = type & ~(uint64_t)(O_NONBLOCK | O_CLOEXEC);

	if (domain != AF_INET) {
		counts.afnosupport++;
		return -E_AFNOSUPPORT; /* AF_UNIX, AF_INET6...: not served */
	}
	if (t == SOCK_RAW)
		return -E_PROTONOSUPPORT;
	if (t != SOCK_STREAM && t != SOCK_DGRAM)
		return t > 10 ? -LX_EINVAL : -E_SOCKTNOSUPPORT;
	if (proto && proto != (t == SOCK_STREAM ? 6u : 17u))
		return -E_PROTONOSUPPORT;
	struct lx_fd *fdt = lx_grp(p)->fd;
	uint32_t fd = free_fd(p);
	if (fd == LX_MAX_FDS)
		return -LX_EMFILE;
	struct lx_sock *s = sock_new((uint8_t)t);
	if (!s)
		return -E_NOBUFS;
	struct lx_ofd *o =
	    lx_ofd_new(LX_FD_SOCKET, 2 /* O_RDWR */ | (uint32_t)(flags & O_NONBLOCK));
	if (!o) {
		sock_free(s);
		return -E_NFILE;
	}
	o->sock = s;
	fdt[fd] = (struct lx_fd){o, (flags & O_CLOEXEC) != 0};
	return fd;
}

static int64_t do_bind(struct lx_proc *p, struct lx_sock *s, uint64_t ua, uint64_t len)
{
	uint16_t family = 0, port = 0;
	uint32_t ip = 0;
	int err = get_addr(p, ua, len, &family, &ip, &port);

	if (err)
		return err;
	if (family != AF_INET)
		return -E_AFNOSUPPORT;
	if (s->bound || s->state != S_NEW)
		return -LX_EINVAL;
	if (ip && ip != lx_net_addr())
		return -E_ADDRNOTAVAIL;
	if (!(port = free_port(s->type, port, s->reuse)))
		return -E_ADDRINUSE;
	s->lport = port, s->lip = ip, s->bound = true;
	if (s->type == SOCK_DGRAM && (err = udp_bind(s))) {
		s->bound = false, s->lport = 0;
		return err;
	}
	return 0;
}

static int64_t do_listen(struct lx_sock *s, int64_t backlog)
{
	struct floo_stack *st = lx_net_stack();

	if (s->type != SOCK_STREAM)
		return -E_OPNOTSUPP;
	if (s->state == S_LISTEN) {
		s->backlog = backlog < 1             ? 1
		             : backlog > MAX_BACKLOG ? MAX_BACKLOG
		                                     : (uint32_t)backlog;
		return 0;
	}
	if (s->state != S_NEW)
		return -LX_EINVAL;
	if (!s->bound && !(s->lport = free_port(SOCK_STREAM, 0, false)))
		return -E_ADDRINUSE;
	if (!st)
		return -E_ADDRNOTAVAIL; /* no network */
	int r = floo_tcp_listen(st, s->lport, listen_cb, s);
	if (r)
		return r == FLOO_EADDRINUSE ? -E_ADDRINUSE : -E_NOBUFS;
	s->bound = true;
	s->state = S_LISTEN;
	s->backlog = backlog < 1 ? 1 : backlog > MAX_BACKLOG ? MAX_BACKLOG : (uint32_t)backlog;
	return 0;
}

/* connect on a TCP socket whose connection is under way or done. */
static int64_t connect_result(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s)
{
	if (s->state == S_CONNECTING)
		return o->flags & O_NONBLOCK && !lx_call_restarted(p) ? -E_ALREADY : wait_on(p, s);
	if (s->err && (s->state == S_CLOSED)) {
		int err = s->err;
		s->err = 0, s->inprogress = false;
		return -err;
	}
	if (s->inprogress || lx_call_restarted(p)) {
		s->inprogress = false;
		return 0;
	}
	return -E_ISCONN;
}

static int64_t do_connect(struct lx_proc *p, struct lx_ofd *o, uint64_t ua, uint64_t len)
{
	struct lx_sock *s = o->sock;
	struct floo_stack *st = lx_net_stack();
	uint16_t family = 0, port = 0;
	uint32_t ip = 0;

	if (s->type == SOCK_STREAM && s->state != S_NEW && s->state != S_LISTEN)
		return connect_result(p, o, s);
	int err = get_addr(p, ua, len, &family, &ip, &port);
	if (err)
		return err;
	if (s->type == SOCK_DGRAM) {
		if (family == AF_UNSPEC) { /* dissolve the association */
			s->rip = 0, s->rport = 0;
			return 0;
		}
		if (!port)
			return -LX_EINVAL; /* no datagram may go to port 0 */
		if ((err = udp_bind(s)))
			return err;
		s->rip = ip, s->rport = port;
		return 0;
	}
	if (family != AF_INET)
		return -E_AFNOSUPPORT;
	if (s->state == S_LISTEN)
		return -LX_EINVAL;
	if (!st || !lx_net_ready() || !ip || (ip >> 24) == 127) {
		counts.unreach++;
		return -E_NETUNREACH;
	}
	if (!port)
		return -E_CONNREFUSED;
	if (!s->sbuf && !(s->sbuf = ring_get()))
		return -E_NOBUFS;
	s->c = floo_tcp_connect(st, ip, port, tcp_cb, s);
	if (!s->c)
		return -E_NOBUFS; /* no connection slot or ephemeral port */
	floo_tcp_addrs(s->c, &s->lip, &s->lport, &s->rip, &s->rport);
	s->bound = true;
	s->state = S_CONNECTING;
	if (s->keepalive)
		floo_tcp_keepalive(s->c, true);
	lx_net_poll(); /* the SYN goes out */
	s->inprogress = true;
	if (o->flags & O_NONBLOCK) /* as Linux: even when the answer came at once */
		return -E_INPROGRESS;
	return s->state != S_CONNECTING ? connect_result(p, o, s) : wait_on(p, s);
}

static int64_t do_accept(struct lx_proc *p, struct lx_ofd *o, uint64_t ua, uint64_t ulen,
                         uint64_t flags)
{
	struct lx_sock *s = o->sock;

	if (flags & ~(uint64_t)(O_NONBLOCK | O_CLOEXEC))
		return -LX_EINVAL;
	if (s->state != S_LISTEN)
		return -LX_EINVAL;
	int err = check_addr_out(p, ua, ulen);
	if (err)
		return err;
	if (!s->aq_n)
		return o->flags & O_NONBLOCK ? -LX_EAGAIN : wait_on(p, s);
	struct lx_fd *fdt = lx_grp(p)->fd;
	uint32_t fd = free_fd(p);
	if (fd == LX_MAX_FDS)
		return -LX_EMFILE;
	struct lx_ofd *n = lx_ofd_new(LX_FD_SOCKET, 2 | (uint32_t)(flags & O_NONBLOCK));
	if (!n)
		return -E_NFILE;
	struct lx_sock *a = s->aq[0];
	s->aq_n--;
	for (uint32_t i = 0; i < s->aq_n; i++)
		s->aq[i] = s->aq[i + 1];
	n->sock = a;
	fdt[fd] = (struct lx_fd){n, (flags & O_CLOEXEC) != 0};
	(void)put_addr(p, ua, ulen, a->rip, a->rport); /* checked above */
	return fd;
}

/* The pending error, taken (Linux reports an error once). */
static int take_err(struct lx_sock *s)
{
	int e = s->err;

	s->err = 0;
	return -e;
}

static int64_t epipe(struct lx_proc *p, uint64_t flags)
{
	if (!(flags & MSG_NOSIGNAL))
		lx_signal_send(p, SIGPIPE, p->pid);
	return -LX_EPIPE;
}

/* Send what the buffer list holds (flags: MSG_*): bytes taken, -errno or LX_RET_BLOCK. */
static int64_t tcp_send(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, uint64_t flags)
{
	if (s->err && s->state == S_CLOSED)
		return take_err(s);
	if (s->shut_wr || s->state == S_CLOSED)
		return epipe(p, flags);
	if (s->state == S_CONNECTING)
		return nonblocking(o, flags) ? -LX_EAGAIN : wait_on(p, s);
	if (s->state != S_CONNECTED || !s->c)
		return -E_NOTCONN;
	if (!uio.total)
		return 0;
	uint32_t room = SND_RING - s->s_len;
	if (!room || floo_tcp_send_slots(s->c) < 2)
		return nonblocking(o, flags) ? -LX_EAGAIN : wait_on(p, s);
	uint32_t n = uio.total < room ? (uint32_t)uio.total : room;
	uint32_t tail = (s->s_head + s->s_len) % SND_RING;
	uint32_t first = SND_RING - tail < n ? SND_RING - tail : n;
	if (uio_copy(p, 0, s->sbuf + tail, first, false) ||
	    uio_copy(p, first, s->sbuf, n - first, false))
		return -LX_EFAULT;
	s->s_len += n;
	(void)floo_tcp_send(s->c, s->sbuf + tail, first, (void *)(uintptr_t)first);
	if (n > first)
		(void)floo_tcp_send(s->c, s->sbuf, n - first, (void *)(uintptr_t)(n - first));
	lx_net_poll();
	return n;
}

static int64_t udp_send(struct lx_proc *p, struct lx_sock *s, uint64_t ua, uint64_t alen)
{
	static uint8_t buf[UDP_MAX];
	struct floo_stack *st = lx_net_stack();
	uint16_t family = 0, port = s->rport;
	uint32_t ip = s->rip;
	int err;

	if (ua) {
		if ((err = get_addr(p, ua, alen, &family, &ip, &port)))
			return err;
		if (family != AF_INET)
			return -E_AFNOSUPPORT;
	}
	if (!port)
		return ua ? -LX_EINVAL : -E_DESTADDRREQ;
	if (s->shut_wr)
		return -LX_EPIPE;
	if (uio.total > UDP_MAX)
		return -E_MSGSIZE;
	if (!st || !lx_net_ready() || (ip >> 24) == 127 || !ip)
		return -E_NETUNREACH;
	if ((err = udp_bind(s)))
		return err;
	if (uio_copy(p, 0, buf, uio.total, false))
		return -LX_EFAULT;
	int r = floo_udp_send(st, s->lport, ip, port, buf, (uint32_t)uio.total);
	if (r == FLOO_EAGAIN && s->arpq_n < ARPQ) { /* ARP under way: held, as Linux does */
		struct dgram *d = dgram_get();
		if (d) {
			d->ip = ip, d->len = (uint32_t)uio.total, d->port = port;
			d->at = lx_plat_nanotime();
			memcpy(d->data, buf, uio.total);
			s->arpq[s->arpq_n++] = d;
		}
	} else if (r && r != FLOO_EAGAIN) {
		return r == FLOO_EINVAL ? -E_MSGSIZE : -E_NETUNREACH;
	}
	lx_net_poll();
	return (int64_t)uio.total;
}

/* A send of the buffer list to the socket: bytes, -errno or LX_RET_BLOCK. */
static int64_t sock_send(struct lx_proc *p, struct lx_ofd *o, uint64_t flags, uint64_t ua,
                         uint64_t alen)
{
	struct lx_sock *s = o->sock;

	return s->type == SOCK_STREAM ? tcp_send(p, o, s, flags) : udp_send(p, s, ua, alen);
}

/* Receive into the buffer list; *mflags gets MSG_TRUNC for a cut datagram. */
static int64_t sock_recv(struct lx_proc *p, struct lx_ofd *o, uint64_t flags, uint64_t ua,
                         uint64_t ulen, uint32_t *mflags)
{
	struct lx_sock *s = o->sock;
	int err = check_addr_out(p, ua, ulen);

	if (err)
		return err;
	if (s->type == SOCK_DGRAM) {
		struct dgram *d = s->dq_head;
		if (!d) {
			if (s->err)
				return take_err(s);
			if (s->shut_rd)
				return 0;
			return nonblocking(o, flags) ? -LX_EAGAIN : wait_on(p, s);
		}
		uint64_t n = d->len < uio.total ? d->len : uio.total;
		if (uio_copy(p, 0, d->data, n, true))
			return -LX_EFAULT;
		(void)put_addr(p, ua, ulen, d->ip, d->port);
		if (n < d->len)
			*mflags |= MSG_TRUNC;
		uint32_t len = d->len;
		if (!(flags & MSG_PEEK)) {
			s->dq_head = d->next;
			if (!s->dq_head)
				s->dq_tail = NULL;
			s->dq_bytes -= d->len;
			dgram_put(d);
		}
		return flags & MSG_TRUNC ? len : (int64_t)n;
	}
	if (s->state == S_NEW || s->state == S_LISTEN)
		return -E_NOTCONN;
	if (s->state == S_CONNECTING)
		return nonblocking(o, flags) ? -LX_EAGAIN : wait_on(p, s);
	if (!uio.total)
		return 0; /* as Linux: a read of nothing does not wait */
	if (!s->rx_bytes) {
		if (s->err)
			return take_err(s);
		if (s->peer_fin || s->shut_rd || s->state == S_CLOSED)
			return 0;
		return nonblocking(o, flags) ? -LX_EAGAIN : wait_on(p, s);
	}
	uint64_t want = uio.total < s->rx_bytes ? uio.total : s->rx_bytes, done = 0;
	uint32_t off = s->rx_off;
	for (struct floo_pbuf *pb = s->rx_head; pb && done < want; pb = pb->next, off = 0) {
		uint64_t k = pb->len - off < want - done ? pb->len - off : want - done;
		if (uio_copy(p, done, pb->data + off, k, true))
			return done ? (int64_t)done : -LX_EFAULT;
		done += k;
	}
	if (flags & MSG_PEEK)
		return (int64_t)done;
	s->rx_bytes -= (uint32_t)done;
	for (uint64_t left = done; left && s->rx_head;) { /* the buffers read through go back */
		struct floo_pbuf *pb = s->rx_head;
		uint64_t k = pb->len - s->rx_off;
		if (left < k) {
			s->rx_off += (uint32_t)left;
			break;
		}
		left -= k;
		s->rx_off = 0;
		s->rx_head = pb->next;
		if (!s->rx_head)
			s->rx_tail = NULL;
		floo_tcp_release(lx_net_stack(), pb);
	}
	if (ua)
		(void)put_addr(p, ua, ulen, s->rip, s->rport);
	lx_net_poll(); /* the window opened */
	return (int64_t)done;
}

int64_t lx_sock_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len)
{
	uint32_t mflags = 0;

	uio_one(buf, len);
	if (len && lx_check(p, buf, len, LX_PROT_WRITE))
		return -LX_EFAULT;
	return sock_recv(p, o, 0, 0, 0, &mflags);
}

int64_t lx_sock_write(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len)
{
	uio_one(buf, len);
	if (len && lx_check(p, buf, len, LX_PROT_READ))
		return -LX_EFAULT;
	return sock_send(p, o, 0, 0, 0);
}

/* struct msghdr: name, namelen, iov, iovlen, control, controllen, flags (56 bytes). */
static int64_t do_msg(struct lx_proc *p, struct lx_ofd *o, uint64_t umsg, uint64_t flags, bool send)
{
	uint64_t m[7];
	uint32_t mflags = 0;

	if (lx_copy_in(p, m, umsg, sizeof(m)))
		return -LX_EFAULT;
	int err = uio_vec(p, m[2], m[3], send ? LX_PROT_READ : LX_PROT_WRITE);
	if (err)
		return err;
	if (send)
		return sock_send(p, o, flags, m[0], (uint32_t)m[1]);
	/* msg_namelen is an int inside the header: the address goes out through it */
	int64_t r = sock_recv(p, o, flags, m[0], m[0] ? umsg + 8 : 0, &mflags);
	if (r < 0)
		return r;
	uint64_t zero = 0;
	if (lx_copy_out(p, umsg + 40, &zero, 8) || lx_copy_out(p, umsg + 48, &mflags, 4))
		return -LX_EFAULT;
	return r;
}

static int64_t do_sockopt(struct lx_proc *p, struct lx_sock *s, const uint64_t a[6], bool set)
{
	uint64_t level = a[1], name = a[2], uval = a[3];
	int32_t v = 0, len = 4;

	if (set) {
		if ((int32_t)a[4] < 4)
			return -LX_EINVAL;
		if (lx_copy_in(p, &v, uval, 4))
			return -LX_EFAULT;
	} else {
		if (lx_copy_in(p, &len, a[4], 4))
			return -LX_EFAULT;
		if (len < 0)
			return -LX_EINVAL;
	}
	if (level == 6 && s->type == SOCK_STREAM && name == 1) { /* TCP_NODELAY */
		if (set)
			s->nodelay = v != 0; /* Floo sends at once anyway: it has no Nagle delay */
		v = s->nodelay;
	} else if (level != 1) { /* not SOL_SOCKET */
		return -E_NOPROTOOPT;
	} else {
		switch (name) {
		case 2: /* SO_REUSEADDR */
			if (set)
				s->reuse = v != 0;
			v = s->reuse;
			break;
		case 9: /* SO_KEEPALIVE */
			if (set) {
				s->keepalive = v != 0;
				if (s->c)
					floo_tcp_keepalive(s->c, s->keepalive);
			}
			v = s->keepalive;
			break;
		case 7: /* SO_SNDBUF, SO_RCVBUF: kept, doubled as Linux shows them; the */
		case 8: /* ring (64 KiB) and Floo's receive window stay as they are */
			if (set) {
				uint32_t b = v < 2048 ? 4608u : (uint32_t)v * 2;
				*(name == 7 ? &s->sndbuf : &s->rcvbuf) = b;
			}
			v = (int32_t)(name == 7 ? s->sndbuf : s->rcvbuf);
			break;
		case 4: /* SO_ERROR */
			if (set)
				return -E_NOPROTOOPT;
			v = -take_err(s);
			break;
		case 3:  /* SO_TYPE */
		case 39: /* SO_DOMAIN */
		case 38: /* SO_PROTOCOL */
		case 30: /* SO_ACCEPTCONN */
			if (set)
				return -E_NOPROTOOPT;
			v = name == 3    ? s->type
			    : name == 39 ? AF_INET
			    : name == 38 ? (s->type == SOCK_STREAM ? 6 : 17)
			                 : s->state == S_LISTEN;
			break;
		default:
			return -E_NOPROTOOPT;
		}
	}
	if (set)
		return 0;
	uint32_t n = (uint32_t)len < 4 ? (uint32_t)len : 4;
	len = (int32_t)n;
	if (lx_copy_out(p, uval, &v, n) || lx_copy_out(p, a[4], &len, 4))
		return -LX_EFAULT;
	return 0;
}

static int64_t do_shutdown(struct lx_sock *s, uint64_t how)
{
	if (how > 2)
		return -LX_EINVAL;
	if (s->type == SOCK_STREAM ? s->state != S_CONNECTED && s->state != S_CLOSED : !s->rport)
		return -E_NOTCONN;
	if (how != 1)
		s->shut_rd = true;
	if (how != 0 && !s->shut_wr) {
		s->shut_wr = true;
		if (s->c)
			floo_tcp_close(s->c); /* FIN after what is queued */
	}
	changed(s);
	lx_net_poll();
	return 0;
}

int64_t lx_sock_ioctl(struct lx_proc *p, struct lx_ofd *o, uint64_t cmd, uint64_t arg)
{
	const struct lx_sock *s = o->sock;
	int32_t v;

	switch (cmd) {
	case 0x541b: /* FIONREAD */
		v = (int32_t)(s->type == SOCK_STREAM ? s->rx_bytes
		              : s->dq_head           ? s->dq_head->len
		                                     : 0);
		return lx_copy_out(p, arg, &v, 4) ? -LX_EFAULT : 0;
	case 0x5421: /* FIONBIO */
		if (lx_copy_in(p, &v, arg, 4))
			return -LX_EFAULT;
		o->flags = v ? o->flags | O_NONBLOCK : o->flags & ~O_NONBLOCK;
		return 0;
	default:
		return -LX_ENOTTY;
	}
}

int64_t lx_sock_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	struct lx_ofd *o = NULL;
	int64_t err = 0;

	*handled = true;
	if (nr == NR_socket)
		return do_socket(p, a[0], a[1], a[2]);
	if (nr == NR_socketpair) /* AF_UNIX only on Linux, which is not served */
		return a[0] == AF_UNIX ? (counts.afnosupport++, -E_AFNOSUPPORT) : -E_OPNOTSUPP;
	if ((nr < NR_connect || nr > NR_getsockopt) && nr != NR_accept4) {
		*handled = false;
		return -LX_ENOSYS;
	}
	if (!(o = sock_fd(p, a[0], &err)))
		return err;
	struct lx_sock *s = o->sock;
	uint32_t mflags = 0;
	switch (nr) {
	case NR_connect:
		return do_connect(p, o, a[1], a[2]);
	case NR_accept:
	case NR_accept4:
		return do_accept(p, o, a[1], a[2], nr == NR_accept ? 0 : a[3]);
	case NR_sendto:
		uio_one(a[1], a[2]);
		if ((int64_t)a[2] < 0)
			return -LX_EINVAL;
		if (a[2] && lx_check(p, a[1], a[2], LX_PROT_READ))
			return -LX_EFAULT;
		return sock_send(p, o, a[3], a[4], a[5]);
	case NR_recvfrom:
		uio_one(a[1], a[2]);
		if ((int64_t)a[2] < 0)
			return -LX_EINVAL;
		if (a[2] && lx_check(p, a[1], a[2], LX_PROT_WRITE))
			return -LX_EFAULT;
		return sock_recv(p, o, a[3], a[4], a[5], &mflags);
	case NR_sendmsg:
	case NR_recvmsg:
		return do_msg(p, o, a[1], a[2], nr == NR_sendmsg);
	case NR_shutdown:
		return do_shutdown(s, a[1]);
	case NR_bind:
		return do_bind(p, s, a[1], a[2]);
	case NR_listen:
		return do_listen(s, (int32_t)a[1]);
	case NR_getsockname:
		return put_addr(p, a[1], a[2], s->bound && !s->lip ? lx_net_addr() : s->lip,
		                s->lport);
	case NR_getpeername:
		if (s->type == SOCK_STREAM ? s->state != S_CONNECTED && s->state != S_CLOSED
		                           : !s->rport)
			return -E_NOTCONN;
		return put_addr(p, a[1], a[2], s->rip, s->rport);
	case NR_setsockopt:
	case NR_getsockopt:
		return do_sockopt(p, s, a, nr == NR_setsockopt);
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}

void lx_sock_report(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++)
		n += socks[i].used;
	if (n || counts.afnosupport || counts.unreach)
		rt_printf("linux: sockets open %u of %u, other families refused %u, no route %u\n",
		          n, LX_MAX_SOCKS, counts.afnosupport, counts.unreach);
	lx_net_report();
}
