/*
 * The socket calls of the Linux personality (socket, socketpair, bind,
 * listen, accept/accept4, connect, send/sendto/sendmsg, recv/recvfrom/
 * recvmsg, shutdown, getsockopt, setsockopt, getsockname, getpeername,
 * and read/write/readv/writev, poll, epoll, fcntl(O_NONBLOCK),
 * ioctl(FIONREAD, FIONBIO) and fstat on sockets; docs/linux.md "Sockets"),
 * and AF_INET on Floo (net.c brings the NIC and the stack up). Sockets
 * whose both ends are ours (AF_UNIX, 127.0.0.0/8) go through unix.c.
 *
 * A socket is an open file description (LX_FD_SOCKET) pointing at a
 * struct lx_sock (sock.h). Floo's events (all inside lx_net_poll) fill it:
 * TCP data stays in the packet buffers it arrived in until read (a
 * floo_rxq: the unread buffers are the receive window), sent bytes are
 * copied into a ring that Floo sends by reference until acknowledged
 * (SO_SNDBUF), UDP datagrams are copied into a queue (SO_RCVBUF bytes). A
 * call that must wait blocks on its socket (p->chan; SO_RCVTIMEO and
 * SO_SNDTIMEO bound the wait) and is made again when an event changed the
 * socket; every change also wakes poll and epoll.
 *
 * Not served: AF_INET6 (EAFNOSUPPORT), SOCK_RAW (EPROTONOSUPPORT), a local
 * port chosen by bind before a connect over the NIC (Floo picks the
 * ephemeral port), ancillary data on AF_INET (sendmsg's control is
 * ignored, recvmsg's comes back empty).
 */
#include "sock.h"

#include <floo/floo.h>
#include <hallows/rt.h>
#include <lib/bytes.h>
#include <lib/string.h>

#define SND_RING     32768u /* bytes of a TCP socket's send ring (SO_SNDBUF) */
#define N_RINGS      32     /* TCP connections with a send ring at once (ENOBUFS beyond) */
#define N_DGRAMS     192    /* datagram buffers, all UDP sockets together */
#define UDP_RCVBUF   65536u /* bytes of datagrams queued per UDP socket (SO_RCVBUF) */
#define ARPQ_NS      3000000000ull
#define EPHEMERAL_LO 49152u
#define POLLIN       1u
#define POLLOUT      4u
#define POLLERR      8u
#define POLLHUP      16u
#define POLLRDHUP    0x2000u
#define SIGPIPE      13
#define SO_LINGER    13
#define SO_PEERCRED  17
#define SO_RCVTIMEO  20
#define SO_SNDTIMEO  21

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

struct lx_dgram {
	struct lx_dgram *next;
	uint32_t ip, len;
	uint16_t port;
	uint64_t at; /* ARP queue: when it was sent */
	uint8_t data[LX_SK_UDPMAX];
};

struct lx_sock lx_socks[LX_MAX_SOCKS];
/*
 * Memory of the sockets, in the program's image: the server's pools take
 * every other byte of a partition at start (main.c), so nothing here comes
 * from the heap once it runs.
 */
static uint8_t rings[N_RINGS][SND_RING];
static bool ring_used[N_RINGS];
static struct lx_dgram dgram_pool[N_DGRAMS];
static struct lx_dgram *dgram_free;
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

static struct lx_dgram *dgram_get(void)
{
	if (!dgram_ready) {
		for (uint32_t i = 0; i < N_DGRAMS; i++)
			dgram_pool[i].next = i + 1 < N_DGRAMS ? &dgram_pool[i + 1] : NULL;
		dgram_free = dgram_pool, dgram_ready = true;
	}
	struct lx_dgram *d = dgram_free;
	if (d)
		dgram_free = d->next;
	return d;
}

static void dgram_put(struct lx_dgram *d)
{
	d->next = dgram_free;
	dgram_free = d;
}
static struct {
	uint32_t afnosupport, unreach; /* socket() of another family; connects with no route */
} counts;

struct lx_uio lx_uio;

/* ---- sockets ---- */

struct lx_sock *lx_sk_new(uint8_t family, uint8_t type)
{
	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++)
		if (!lx_socks[i].used) {
			lx_socks[i] =
			    (struct lx_sock){.used = true, .family = family, .type = type};
			lx_socks[i].sndbuf = SND_RING, lx_socks[i].rcvbuf = UDP_RCVBUF;
			return &lx_socks[i];
		}
	return NULL;
}

static void dgrams_free(struct lx_dgram *d)
{
	while (d) {
		struct lx_dgram *next = d->next;
		dgram_put(d);
		d = next;
	}
}

static void rx_release(struct lx_sock *s)
{
	if (s->rxq.head)
		floo_rxq_release(lx_net_stack(), &s->rxq);
}

/* Everything of s goes (its Floo connection is gone or was never made). */
void lx_sk_free(struct lx_sock *s)
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

void lx_sk_notify(struct lx_sock *s)
{
	s->changed = false;
	s->stamp = ++lx_change_seq;
	lx_wake(s);
	lx_wake(lx_poll_chan());
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
		s->state = LX_SK_CONNECTED;
		break;
	case FLOO_TCP_DATA:
		if (s->orphan) {
			floo_tcp_release(lx_net_stack(), ev->pb);
			break;
		}
		floo_rxq_push(&s->rxq, ev->pb);
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
		else if (s->state == LX_SK_CONNECTING)
			s->err = LX_E_CONNREFUSED;
		s->state = LX_SK_CLOSED;
		if (s->orphan)
			lx_sk_free(s);
		break;
	}
}

/* A listener's events: an accepted connection gets a socket of its own at once. */
static void listen_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct lx_sock *ls = user, *s = NULL;

	if (ev->type != FLOO_TCP_ACCEPTED)
		return;
	if (ls->aq_n >= ls->backlog || !(s = lx_sk_new(LX_AF_INET, LX_SOCK_STREAM)) ||
	    !(s->sbuf = ring_get())) {
		if (s)
			*s = (struct lx_sock){0};
		floo_tcp_abort(c); /* its CLOSED comes here, and is not an ACCEPTED */
		return;
	}
	s->c = c, s->state = LX_SK_CONNECTED, s->bound = true;
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
	(void)st, (void)dst_port;
	lx_sk_udp_deliver(arg, src_ip, src_port, data, len);
}

void lx_sk_udp_deliver(struct lx_sock *s, uint32_t src_ip, uint16_t src_port, const uint8_t *data,
                       uint32_t len)
{
	struct lx_dgram *d;

	if (s->rport && (src_ip != s->rip || src_port != s->rport))
		return; /* a connected UDP socket takes only its peer's datagrams */
	if (len > LX_SK_UDPMAX || s->dq_bytes + len > s->rcvbuf || !(d = dgram_get()))
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
		struct lx_dgram *d = s->arpq[i];
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
		struct lx_sock *s = &lx_socks[i];
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
		if (lx_socks[i].used && lx_socks[i].arpq_n)
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
	bool linger0 = s->linger && s->linger_s <= 0; /* SO_LINGER {1, 0}: a reset */
	if (s->state == LX_SK_LISTEN) {
		if (s->floo_listen)
			floo_tcp_listen_close(st, s->lport);
		for (uint32_t i = 0; i < s->aq_n; i++) { /* never accepted: reset */
			struct lx_sock *a = s->aq[i];
			a->orphan = true;
			if (a->local) {
				lx_local_close(a, true);
				lx_sk_free(a);
			} else if (a->c)
				floo_tcp_abort(a->c); /* CLOSED frees it */
			else
				lx_sk_free(a);
		}
		s->aq_n = 0;
	}
	if (s->udp_bound && st)
		floo_udp_unbind(st, s->lport);
	if (s->local)
		lx_local_close(s, linger0);
	if (!s->c) {
		lx_sk_free(s);
	} else {
		/* Unread data: a reset, as Linux; else FIN after what is queued. CLOSED frees it.
		 */
		bool reset = s->rxq.bytes != 0 || linger0;
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
	if (s->local)
		return lx_local_ready(s);
	if (s->err)
		r |= POLLERR;
	if (s->type == LX_SOCK_DGRAM)
		return r | POLLOUT | (s->dq_head ? POLLIN : 0) |
		       (s->shut_rd ? POLLIN | POLLRDHUP : 0) |
		       (s->shut_rd && s->shut_wr ? POLLHUP : 0);
	switch (s->state) {
	case LX_SK_LISTEN:
		return r | (s->aq_n ? POLLIN : 0);
	case LX_SK_CONNECTING:
		return r;
	case LX_SK_NEW:
		return r | POLLOUT | POLLHUP; /* as Linux's TCP_CLOSE socket */
	default:
		break;
	}
	if (s->rxq.bytes || s->peer_fin || s->shut_rd || s->state == LX_SK_CLOSED)
		r |= POLLIN;
	if (s->peer_fin || s->shut_rd)
		r |= POLLRDHUP;
	if (s->state == LX_SK_CLOSED || (s->peer_fin && s->shut_wr))
		r |= POLLHUP;
	if (s->state == LX_SK_CLOSED || s->shut_wr ||
	    (s->s_len < SND_RING && s->c && floo_tcp_send_slots(s->c) >= 2))
		r |= POLLOUT;
	return r;
}

int lx_sock_stat(struct lx_proc *p, uint64_t ubuf, const struct lx_ofd *o)
{
	uint64_t st[18] = {0};

	st[0] = 8;                                  /* st_dev: sockfs's */
	st[1] = (uint64_t)(o->sock - lx_socks) + 1; /* st_ino */
	st[2] = 1, st[3] = 0140777, st[7] = 4096;   /* S_IFSOCK | 0777 */
	return lx_copy_out(p, ubuf, st, sizeof(st)) ? -LX_EFAULT : 0;
}

/* ---- arguments ---- */

static struct lx_ofd *sock_fd(struct lx_proc *p, uint64_t fd, int64_t *err)
{
	struct lx_ofd *o = fd < LX_MAX_FDS ? lx_grp(p)->fd[fd].o : NULL;

	*err = !o ? -LX_EBADF : o->kind != LX_FD_SOCKET || !o->sock ? -LX_E_NOTSOCK : 0;
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
	if (*family == LX_AF_UNSPEC)
		return 0;
	if (*family != LX_AF_INET)
		return -LX_E_AFNOSUPPORT;
	if (len < 16)
		return -LX_EINVAL;
	*port = get_be16(sa + 2);
	*ip = get_be32(sa + 4);
	return 0;
}

int lx_sk_put_addr(struct lx_proc *p, uint64_t ua, uint64_t ulen, const void *sa, int32_t full)
{
	int32_t len;

	if (!ua && !ulen)
		return 0;
	if (lx_copy_in(p, &len, ulen, 4))
		return -LX_EFAULT;
	if (len < 0)
		return -LX_EINVAL;
	uint32_t n = (uint32_t)len < (uint32_t)full ? (uint32_t)len : (uint32_t)full;
	if ((n && lx_copy_out(p, ua, sa, n)) || lx_copy_out(p, ulen, &full, 4))
		return -LX_EFAULT;
	return 0;
}

int lx_sk_put_in(struct lx_proc *p, uint64_t ua, uint64_t ulen, uint32_t ip, uint16_t port)
{
	uint8_t sa[16] = {0};

	put_le16(sa, LX_AF_INET);
	put_be16(sa + 2, port);
	put_be32(sa + 4, ip);
	return lx_sk_put_addr(p, ua, ulen, sa, sizeof(sa));
}

/* The address output of s checked before anything is taken (accept, recvfrom). */
static int check_addr_out(struct lx_proc *p, const struct lx_sock *s, uint64_t ua, uint64_t ulen)
{
	uint32_t max = s->family == LX_AF_UNIX ? 2 + LX_SK_UNPATH : 16;
	int32_t len;

	if (!ulen)
		return 0;
	if (lx_copy_in(p, &len, ulen, 4) || lx_check(p, ulen, 4, LX_PROT_WRITE))
		return -LX_EFAULT;
	if (len < 0)
		return -LX_EINVAL;
	return len && lx_check(p, ua, (uint32_t)len < max ? (uint32_t)len : max, LX_PROT_WRITE)
	           ? -LX_EFAULT
	           : 0;
}

static int uio_one(uint64_t base, uint64_t len)
{
	lx_uio.base[0] = base, lx_uio.len[0] = len, lx_uio.n = 1, lx_uio.total = len;
	return 0;
}

/* iovcnt struct iovec at iov, each checked for need: 0 or -errno. */
static int uio_vec(struct lx_proc *p, uint64_t iov, uint64_t cnt, uint32_t need)
{
	lx_uio.n = 0, lx_uio.total = 0;
	if (cnt > LX_UIO_MAX)
		return -LX_E_MSGSIZE;
	for (uint64_t i = 0; i < cnt; i++) {
		uint64_t v[2];
		if (lx_copy_in(p, v, iov + i * 16, 16))
			return -LX_EFAULT;
		if ((int64_t)v[1] < 0 || lx_uio.total + v[1] > 0x7ffff000ull)
			return -LX_EINVAL;
		if (v[1] && lx_check(p, v[0], v[1], need))
			return -LX_EFAULT;
		lx_uio.base[lx_uio.n] = v[0], lx_uio.len[lx_uio.n++] = v[1];
		lx_uio.total += v[1];
	}
	return 0;
}

/* Copy n bytes between the server's buf and the buffer list from offset off. */
int lx_uio_copy(struct lx_proc *p, uint64_t off, void *buf, uint64_t n, bool out)
{
	uint8_t *b = buf;

	for (uint32_t i = 0; i < lx_uio.n && n; i++) {
		if (off >= lx_uio.len[i]) {
			off -= lx_uio.len[i];
			continue;
		}
		uint64_t k = lx_uio.len[i] - off < n ? lx_uio.len[i] - off : n;
		int err = out ? lx_copy_out(p, lx_uio.base[i] + off, b, k)
		              : lx_copy_in(p, b, lx_uio.base[i] + off, k);
		if (err)
			return err;
		b += k, n -= k, off = 0;
	}
	return 0;
}

bool lx_sk_nonblocking(const struct lx_ofd *o, uint64_t flags)
{
	return (o->flags & LX_O_NONBLOCK) || (flags & LX_MSG_DONTWAIT);
}

int64_t lx_sk_wait(struct lx_proc *p, struct lx_sock *s, uint64_t timeo)
{
	if (!timeo) {
		p->chan = s;
		return LX_RET_BLOCK;
	}
	int64_t r = lx_timer_wait(p, s, (int64_t)((timeo + 999999) / 1000000));
	return r == LX_RET_BLOCK ? r : -LX_EAGAIN; /* SO_RCVTIMEO, SO_SNDTIMEO passed */
}

uint16_t lx_sk_free_port(uint8_t type, uint16_t want, bool reuse)
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
			const struct lx_sock *q = &lx_socks[i];
			taken = q->used && !q->orphan && q->family == LX_AF_INET &&
			        q->type == type && q->bound && q->lport == port &&
			        (type == LX_SOCK_DGRAM || !reuse || !q->reuse ||
			         q->state == LX_SK_LISTEN);
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
		if (!(s->lport = lx_sk_free_port(LX_SOCK_DGRAM, 0, false)))
			return -LX_E_ADDRINUSE;
		s->bound = true;
	}
	if (!s->udp_bound && st && (s->lip >> 24) != 127) {
		int r = floo_udp_bind(st, s->lport, udp_cb, s);
		if (r)
			return r == FLOO_EADDRINUSE ? -LX_E_ADDRINUSE : -LX_E_NOBUFS;
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

int64_t lx_sk_install(struct lx_proc *p, struct lx_sock *s, uint64_t flags)
{
	uint32_t fd = free_fd(p);

	if (fd == LX_MAX_FDS)
		return -LX_EMFILE;
	struct lx_ofd *o =
	    lx_ofd_new(LX_FD_SOCKET, 2 /* O_RDWR */ | (uint32_t)(flags & LX_O_NONBLOCK));
	if (!o)
		return -LX_E_NFILE;
	o->sock = s;
	lx_grp(p)->fd[fd] = (struct lx_fd){o, (flags & LX_O_CLOEXEC) != 0};
	return fd;
}

static int64_t do_socket(struct lx_proc *p, uint64_t domain, uint64_t type, uint64_t proto)
{
	uint64_t flags = type & (LX_O_NONBLOCK | LX_O_CLOEXEC),
	         t = type & ~(uint64_t)(LX_O_NONBLOCK | LX_O_CLOEXEC);

	if (domain != LX_AF_INET && domain != LX_AF_UNIX) {
		counts.afnosupport++;
		return -LX_E_AFNOSUPPORT; /* AF_INET6, AF_NETLINK...: not served */
	}
	if (free_fd(p) == LX_MAX_FDS)
		return -LX_EMFILE;
	if (domain == LX_AF_UNIX)
		return proto && proto != LX_AF_UNIX ? -LX_E_PROTONOSUPPORT
		                                    : lx_unix_socket(p, t, flags);
	if (t == LX_SOCK_RAW)
		return -LX_E_PROTONOSUPPORT;
	if (t != LX_SOCK_STREAM && t != LX_SOCK_DGRAM)
		return t > 10 ? -LX_EINVAL : -LX_E_SOCKTNOSUPPORT;
	if (proto && proto != (t == LX_SOCK_STREAM ? 6u : 17u))
		return -LX_E_PROTONOSUPPORT;
	struct lx_sock *s = lx_sk_new(LX_AF_INET, (uint8_t)t);
	if (!s)
		return -LX_E_NOBUFS;
	int64_t fd = lx_sk_install(p, s, flags);
	if (fd < 0)
		lx_sk_free(s);
	return fd;
}

static int64_t do_bind(struct lx_proc *p, struct lx_sock *s, uint64_t ua, uint64_t len)
{
	uint16_t family = 0, port = 0;
	uint32_t ip = 0;

	if (s->family == LX_AF_UNIX)
		return lx_unix_bind(p, s, ua, len);
	int err = get_addr(p, ua, len, &family, &ip, &port);
	if (err)
		return err;
	if (family != LX_AF_INET)
		return -LX_E_AFNOSUPPORT;
	if (s->bound || s->state != LX_SK_NEW)
		return -LX_EINVAL;
	if (ip && ip != lx_net_addr() && (ip >> 24) != 127)
		return -LX_E_ADDRNOTAVAIL;
	if (!(port = lx_sk_free_port(s->type, port, s->reuse)))
		return -LX_E_ADDRINUSE;
	s->lport = port, s->lip = ip, s->bound = true;
	if (s->type == LX_SOCK_DGRAM && (err = udp_bind(s))) {
		s->bound = false, s->lport = 0;
		return err;
	}
	return 0;
}

static uint32_t backlog_of(int64_t backlog)
{
	return backlog < 1 ? 1 : backlog > LX_SK_BACKLOG ? LX_SK_BACKLOG : (uint32_t)backlog;
}

/* A listener takes connections from Floo (unless bound to 127.0.0.0/8) and from loopback. */
static int64_t do_listen(struct lx_proc *p, struct lx_sock *s, int64_t backlog)
{
	struct floo_stack *st = lx_net_stack();

	if (s->type == LX_SOCK_DGRAM)
		return -LX_E_OPNOTSUPP;
	if (s->state == LX_SK_LISTEN) {
		s->backlog = backlog_of(backlog);
		return 0;
	}
	if (s->state != LX_SK_NEW)
		return -LX_EINVAL;
	if (s->family == LX_AF_UNIX && !s->name.len)
		return -LX_EINVAL; /* Linux: no listen on an unbound LX_AF_UNIX socket */
	if (s->family == LX_AF_INET && !s->bound &&
	    !(s->lport = lx_sk_free_port(LX_SOCK_STREAM, 0, false)))
		return -LX_E_ADDRINUSE;
	if (s->family == LX_AF_INET && st && (s->lip >> 24) != 127) {
		int r = floo_tcp_listen(st, s->lport, listen_cb, s);
		if (r)
			return r == FLOO_EADDRINUSE ? -LX_E_ADDRINUSE : -LX_E_NOBUFS;
		s->floo_listen = true;
	}
	s->bound = true;
	s->state = LX_SK_LISTEN;
	s->cred_pid = p->tgid;
	s->backlog = backlog_of(backlog);
	return 0;
}

/* A blocking connect waits (SO_SNDTIMEO passed: EINPROGRESS, as Linux). */
static int64_t connect_wait(struct lx_proc *p, struct lx_sock *s)
{
	int64_t r = lx_sk_wait(p, s, s->sndtimeo);

	return r == -LX_EAGAIN ? -LX_E_INPROGRESS : r;
}

/* connect on a TCP socket whose connection is under way or done. */
static int64_t connect_result(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s)
{
	if (s->state == LX_SK_CONNECTING)
		return o->flags & LX_O_NONBLOCK && !lx_call_restarted(p) ? -LX_E_ALREADY
		                                                         : connect_wait(p, s);
	if (s->err && (s->state == LX_SK_CLOSED)) {
		int err = s->err;
		s->err = 0, s->inprogress = false;
		return -err;
	}
	if (s->inprogress || lx_call_restarted(p)) {
		s->inprogress = false;
		return 0;
	}
	return -LX_E_ISCONN;
}

static int64_t tcp_connect(struct lx_proc *p, struct lx_ofd *o, uint32_t ip, uint16_t port)
{
	struct lx_sock *s = o->sock;
	struct floo_stack *st = lx_net_stack();

	if ((ip >> 24) == 127) { /* loopback: a listener of ours, at once */
		int64_t r = lx_loop_connect(p, o, ip, port);
		if (r || !(o->flags & LX_O_NONBLOCK))
			return r;
		s->inprogress = true;
		return -LX_E_INPROGRESS; /* as Linux's loopback: the next connect says 0 */
	}
	if (!st || !lx_net_ready() || !ip) {
		counts.unreach++;
		return -LX_E_NETUNREACH;
	}
	if (!port)
		return -LX_E_CONNREFUSED;
	if (!s->sbuf && !(s->sbuf = ring_get()))
		return -LX_E_NOBUFS;
	s->c = floo_tcp_connect(st, ip, port, tcp_cb, s);
	if (!s->c)
		return -LX_E_NOBUFS; /* no connection slot or ephemeral port */
	floo_tcp_addrs(s->c, &s->lip, &s->lport, &s->rip, &s->rport);
	s->bound = true;
	s->state = LX_SK_CONNECTING;
	if (s->keepalive)
		floo_tcp_keepalive(s->c, true);
	lx_net_poll(); /* the SYN goes out */
	s->inprogress = true;
	if (o->flags & LX_O_NONBLOCK) /* as Linux: even when the answer came at once */
		return -LX_E_INPROGRESS;
	return s->state != LX_SK_CONNECTING ? connect_result(p, o, s) : connect_wait(p, s);
}

static int64_t do_connect(struct lx_proc *p, struct lx_ofd *o, uint64_t ua, uint64_t len)
{
	struct lx_sock *s = o->sock;
	uint16_t family = 0, port = 0;
	uint32_t ip = 0;

	if (s->family == LX_AF_UNIX)
		return lx_unix_connect(p, o, ua, len);
	if (s->type == LX_SOCK_STREAM && s->state != LX_SK_NEW && s->state != LX_SK_LISTEN)
		return connect_result(p, o, s);
	int err = get_addr(p, ua, len, &family, &ip, &port);
	if (err)
		return err;
	if (s->type == LX_SOCK_DGRAM) {
		if (family == LX_AF_UNSPEC) { /* dissolve the association */
			s->rip = 0, s->rport = 0;
			return 0;
		}
		if (!port)
			return -LX_EINVAL; /* no datagram may go to port 0 */
		if ((ip >> 24) == 127 && !s->bound)
			s->lip = LX_LOOPBACK; /* the source a loopback route gives */
		if ((err = udp_bind(s)))
			return err;
		s->rip = ip, s->rport = port;
		return 0;
	}
	if (family != LX_AF_INET)
		return -LX_E_AFNOSUPPORT;
	if (s->state == LX_SK_LISTEN)
		return -LX_EINVAL;
	return tcp_connect(p, o, ip, port);
}

static int64_t do_accept(struct lx_proc *p, struct lx_ofd *o, uint64_t ua, uint64_t ulen,
                         uint64_t flags)
{
	struct lx_sock *s = o->sock;

	if (flags & ~(uint64_t)(LX_O_NONBLOCK | LX_O_CLOEXEC))
		return -LX_EINVAL;
	if (s->type == LX_SOCK_DGRAM)
		return -LX_E_OPNOTSUPP;
	if (s->state != LX_SK_LISTEN)
		return -LX_EINVAL;
	int err = check_addr_out(p, s, ua, ulen);
	if (err)
		return err;
	if (!s->aq_n)
		return o->flags & LX_O_NONBLOCK ? -LX_EAGAIN : lx_sk_wait(p, s, s->rcvtimeo);
	struct lx_sock *a = s->aq[0];
	int64_t fd = lx_sk_install(p, a, flags);
	if (fd < 0)
		return fd;
	s->aq_n--;
	for (uint32_t i = 0; i < s->aq_n; i++)
		s->aq[i] = s->aq[i + 1];
	if (s->family == LX_AF_UNIX) /* checked above */
		(void)lx_unix_put_name(p, ua, ulen, &a->pname, false);
	else
		(void)lx_sk_put_in(p, ua, ulen, a->rip, a->rport);
	lx_sk_notify(s); /* room in the backlog: a connect may wait for it */
	return fd;
}

/* The pending error, taken (Linux reports an error once). */
static int take_err(struct lx_sock *s)
{
	int e = s->err;

	s->err = 0;
	return -e;
}

int64_t lx_sk_epipe(struct lx_proc *p, uint64_t flags)
{
	if (!(flags & LX_MSG_NOSIGNAL))
		lx_signal_send(p, SIGPIPE, p->pid);
	return -LX_EPIPE;
}
static int64_t tcp_send(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, uint64_t flags)
{
	if (s->err && s->state == LX_SK_CLOSED)
		return take_err(s);
	if (s->shut_wr || s->state == LX_SK_CLOSED)
		return lx_sk_epipe(p, flags);
	if (s->state == LX_SK_CONNECTING)
		return lx_sk_nonblocking(o, flags) ? -LX_EAGAIN : lx_sk_wait(p, s, s->sndtimeo);
	if (s->state != LX_SK_CONNECTED || !s->c)
		return -LX_E_NOTCONN;
	if (!lx_uio.total)
		return 0;
	uint32_t room = SND_RING - s->s_len;
	if (!room || floo_tcp_send_slots(s->c) < 2)
		return lx_sk_nonblocking(o, flags) ? -LX_EAGAIN : lx_sk_wait(p, s, s->sndtimeo);
	uint32_t n = lx_uio.total < room ? (uint32_t)lx_uio.total : room;
	uint32_t tail = (s->s_head + s->s_len) % SND_RING;
	uint32_t first = SND_RING - tail < n ? SND_RING - tail : n;
	if (lx_uio_copy(p, 0, s->sbuf + tail, first, false) ||
	    lx_uio_copy(p, first, s->sbuf, n - first, false))
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
	static uint8_t buf[LX_SK_UDPMAX];
	struct floo_stack *st = lx_net_stack();
	uint16_t family = 0, port = s->rport;
	uint32_t ip = s->rip;
	int err;

	if (ua) {
		if ((err = get_addr(p, ua, alen, &family, &ip, &port)))
			return err;
		if (family != LX_AF_INET)
			return -LX_E_AFNOSUPPORT;
	}
	if (!port)
		return ua ? -LX_EINVAL : -LX_E_DESTADDRREQ;
	if (s->shut_wr)
		return -LX_EPIPE;
	if (lx_uio.total > LX_SK_UDPMAX)
		return -LX_E_MSGSIZE;
	if ((ip >> 24) == 127) {
		if (!s->bound)
			s->lip = LX_LOOPBACK;
		return (err = udp_bind(s)) ? err : lx_loop_udp_send(p, s, ip, port);
	}
	if (!st || !lx_net_ready() || !ip)
		return -LX_E_NETUNREACH;
	if ((err = udp_bind(s)))
		return err;
	if (lx_uio_copy(p, 0, buf, lx_uio.total, false))
		return -LX_EFAULT;
	int r = floo_udp_send(st, s->lport, ip, port, buf, (uint32_t)lx_uio.total);
	if (r == FLOO_EAGAIN && s->arpq_n < LX_SK_ARPQ) { /* ARP under way: held, as Linux does */
		struct lx_dgram *d = dgram_get();
		if (d) {
			d->ip = ip, d->len = (uint32_t)lx_uio.total, d->port = port;
			d->at = lx_plat_nanotime();
			memcpy(d->data, buf, lx_uio.total);
			s->arpq[s->arpq_n++] = d;
		}
	} else if (r && r != FLOO_EAGAIN) {
		return r == FLOO_EINVAL ? -LX_E_MSGSIZE : -LX_E_NETUNREACH;
	}
	lx_net_poll();
	return (int64_t)lx_uio.total;
}

/* A send of the buffer list to the socket (ctl: sendmsg's control): bytes, -errno or
 * LX_RET_BLOCK. */
static int64_t sock_send(struct lx_proc *p, struct lx_ofd *o, uint64_t flags, uint64_t ua,
                         uint64_t alen, uint64_t ctl, uint64_t ctl_len)
{
	struct lx_sock *s = o->sock;

	if (s->family == LX_AF_UNIX && s->type == LX_SOCK_STREAM && ua && alen)
		return s->state == LX_SK_CONNECTED ? -LX_E_ISCONN : -LX_E_OPNOTSUPP;
	if (s->local)
		return lx_local_send(p, o, s, flags, ua, alen, ctl, ctl_len);
	return s->type == LX_SOCK_STREAM ? tcp_send(p, o, s, flags) : udp_send(p, s, ua, alen);
}

/* floo_rxq_copy's way to the user's buffer list (ctx: the process). */
static int put_user(void *ctx, uint32_t at, const uint8_t *src, uint32_t len)
{
	return lx_uio_copy(ctx, at, (void *)src, len, true);
}

/* Receive into the buffer list; *mflags gets LX_MSG_TRUNC for a cut datagram; umsg: recvmsg's
 * header (SCM_RIGHTS), 0 for the other calls. */
static int64_t sock_recv(struct lx_proc *p, struct lx_ofd *o, uint64_t flags, uint64_t ua,
                         uint64_t ulen, uint32_t *mflags, uint64_t umsg)
{
	struct lx_sock *s = o->sock;
	int err = check_addr_out(p, s, ua, ulen);

	if (err)
		return err;
	if (s->local)
		return lx_local_recv(p, o, s, flags, ua, ulen, mflags, umsg);
	if (s->type == LX_SOCK_DGRAM) {
		struct lx_dgram *d = s->dq_head;
		if (!d) {
			if (s->err)
				return take_err(s);
			if (s->shut_rd)
				return 0;
			return lx_sk_nonblocking(o, flags) ? -LX_EAGAIN
			                                   : lx_sk_wait(p, s, s->rcvtimeo);
		}
		uint64_t n = d->len < lx_uio.total ? d->len : lx_uio.total;
		if (lx_uio_copy(p, 0, d->data, n, true))
			return -LX_EFAULT;
		(void)lx_sk_put_in(p, ua, ulen, d->ip, d->port);
		if (n < d->len)
			*mflags |= LX_MSG_TRUNC;
		uint32_t len = d->len;
		if (!(flags & LX_MSG_PEEK)) {
			s->dq_head = d->next;
			if (!s->dq_head)
				s->dq_tail = NULL;
			s->dq_bytes -= d->len;
			dgram_put(d);
		}
		return flags & LX_MSG_TRUNC ? len : (int64_t)n;
	}
	if (s->state == LX_SK_NEW || s->state == LX_SK_LISTEN)
		return -LX_E_NOTCONN;
	if (s->state == LX_SK_CONNECTING)
		return lx_sk_nonblocking(o, flags) ? -LX_EAGAIN : lx_sk_wait(p, s, s->rcvtimeo);
	if (!lx_uio.total)
		return 0; /* as Linux: a read of nothing does not wait */
	if (!s->rxq.bytes) {
		if (s->err)
			return take_err(s);
		if (s->peer_fin || s->shut_rd || s->state == LX_SK_CLOSED)
			return 0;
		return lx_sk_nonblocking(o, flags) ? -LX_EAGAIN : lx_sk_wait(p, s, s->rcvtimeo);
	}
	uint32_t want = lx_uio.total < s->rxq.bytes ? (uint32_t)lx_uio.total : s->rxq.bytes;
	uint32_t done = floo_rxq_copy(&s->rxq, want, put_user, p);
	if (!done)
		return -LX_EFAULT;
	if (flags & LX_MSG_PEEK)
		return done;
	floo_rxq_consume(lx_net_stack(), &s->rxq, done); /* what was read opens the window */
	if (ua)
		(void)lx_sk_put_in(p, ua, ulen, s->rip, s->rport);
	lx_net_poll(); /* the window opened */
	return (int64_t)done;
}

int64_t lx_sock_read(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len)
{
	uint32_t mflags = 0;

	uio_one(buf, len);
	if (len && lx_check(p, buf, len, LX_PROT_WRITE))
		return -LX_EFAULT;
	int64_t r = sock_recv(p, o, 0, 0, 0, &mflags, 0);
	if (r != LX_RET_BLOCK)
		p->wake_at = 0; /* a timed wait (SO_RCVTIMEO) is over */
	return r;
}

int64_t lx_sock_write(struct lx_proc *p, struct lx_ofd *o, uint64_t buf, uint64_t len)
{
	uio_one(buf, len);
	if (len && lx_check(p, buf, len, LX_PROT_READ))
		return -LX_EFAULT;
	int64_t r = sock_send(p, o, 0, 0, 0, 0, 0);
	if (r != LX_RET_BLOCK)
		p->wake_at = 0;
	return r;
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
		return sock_send(p, o, flags, m[0], (uint32_t)m[1], m[5] ? m[4] : 0, m[5]);
	/* msg_namelen is an int inside the header: the address goes out through it; the control
	 * message of a local socket (SCM_RIGHTS) and its length are lx_local_recv's */
	uint64_t zero = 0;
	if (lx_check(p, umsg + 40, 12, LX_PROT_WRITE))
		return -LX_EFAULT;
	int64_t r = sock_recv(p, o, flags, m[0], m[0] ? umsg + 8 : 0, &mflags, umsg);
	if (r < 0)
		return r;
	if ((!o->sock->local && lx_copy_out(p, umsg + 40, &zero, 8)) ||
	    lx_copy_out(p, umsg + 48, &mflags, 4))
		return -LX_EFAULT;
	return r;
}

/* The options that are not an int: SO_RCVTIMEO, SO_SNDTIMEO, SO_LINGER, SO_PEERCRED. */
static int64_t sockopt_struct(struct lx_proc *p, struct lx_sock *s, const uint64_t a[6], bool set)
{
	uint64_t name = a[2], uval = a[3];
	bool timeo = name == SO_RCVTIMEO || name == SO_SNDTIMEO || name == 66 || name == 67;
	uint32_t size = timeo ? 16 : name == SO_LINGER ? 8 : 12;
	uint64_t *t = name == SO_RCVTIMEO || name == 66 ? &s->rcvtimeo : &s->sndtimeo;
	int64_t v[2] = {0};
	int32_t len, w[3] = {0};

	if (set) {
		if (name == SO_PEERCRED)
			return -LX_E_NOPROTOOPT;
		if ((int32_t)a[4] < (int32_t)size)
			return -LX_EINVAL;
		if (lx_copy_in(p, timeo ? (void *)v : (void *)w, uval, size))
			return -LX_EFAULT;
		if (timeo && (v[1] < 0 || v[1] >= 1000000))
			return -LX_E_DOM;
		if (timeo) /* {0, 0}: no limit; a negative time: as short as can be */
			*t = v[0] < 0 ? 1 : (uint64_t)v[0] * 1000000000ull + (uint64_t)v[1] * 1000;
		else if ((s->linger = w[0] != 0))
			s->linger_s = w[1] < 0 ? 0 : w[1];
		return 0;
	}
	if (lx_copy_in(p, &len, a[4], 4))
		return -LX_EFAULT;
	if (len < 0)
		return -LX_EINVAL;
	if (timeo)
		v[0] = (int64_t)(*t / 1000000000ull), v[1] = (int64_t)(*t % 1000000000ull / 1000);
	else if (name == SO_LINGER)
		w[0] = s->linger, w[1] = s->linger_s;
	else if (s->family == LX_AF_UNIX && s->peer_pid) /* SO_PEERCRED: uid and gid 0 here */
		w[0] = (int32_t)s->peer_pid, w[1] = w[2] = 0;
	else
		w[0] = 0, w[1] = w[2] = -1;
	len = (uint32_t)len < size ? len : (int32_t)size;
	if (lx_copy_out(p, uval, timeo ? (void *)v : (void *)w, (uint32_t)len) ||
	    lx_copy_out(p, a[4], &len, 4))
		return -LX_EFAULT;
	return 0;
}

static int64_t do_sockopt(struct lx_proc *p, struct lx_sock *s, const uint64_t a[6], bool set)
{
	uint64_t level = a[1], name = a[2], uval = a[3];
	int32_t v = 0, len = 4;

	if (level == 1 && (name == SO_RCVTIMEO || name == SO_SNDTIMEO || name == 66 || name == 67 ||
	                   name == SO_LINGER || name == SO_PEERCRED))
		return sockopt_struct(p, s, a, set);
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
	if (level == 6 && s->type == LX_SOCK_STREAM && name == 1) { /* TCP_NODELAY */
		if (set)
			s->nodelay = v != 0; /* Floo sends at once anyway: it has no Nagle delay */
		v = s->nodelay;
	} else if (level != 1) { /* not SOL_SOCKET */
		return -LX_E_NOPROTOOPT;
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
		case 16: /* SO_PASSCRED: AF_UNIX receives carry SCM_CREDENTIALS (unix.c) */
			if (set)
				s->passcred = v != 0;
			v = s->passcred;
			break;
		case 7: /* SO_SNDBUF, SO_RCVBUF: kept, doubled as Linux shows them (at most */
		case 8: /* Linux's default wmem_max and rmem_max); the TCP ring (64 KiB) and
		         * Floo's receive window stay as they are; AF_UNIX: the datagram limit */
			if (set) {
				uint32_t b =
				    (uint32_t)v > LX_SK_WMEM ? 2 * LX_SK_WMEM : (uint32_t)v * 2;
				b = b < 4608u ? 4608u : b;
				*(name == 7 ? &s->sndbuf : &s->rcvbuf) = b;
			}
			v = (int32_t)(name == 7 ? s->sndbuf : s->rcvbuf);
			break;
		case 4: /* SO_ERROR */
			if (set)
				return -LX_E_NOPROTOOPT;
			v = -take_err(s);
			break;
		case 3:  /* SO_TYPE */
		case 39: /* SO_DOMAIN */
		case 38: /* SO_PROTOCOL */
		case 30: /* SO_ACCEPTCONN */
			if (set)
				return -LX_E_NOPROTOOPT;
			v = name == 3    ? s->type
			    : name == 39 ? s->family
			    : name == 38 ? (s->family == LX_AF_UNIX     ? 0
			                    : s->type == LX_SOCK_STREAM ? 6
			                                                : 17)
			                 : s->state == LX_SK_LISTEN;
			break;
		default:
			return -LX_E_NOPROTOOPT;
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
	if (s->family == LX_AF_UNIX || s->local) {
		if (s->family == LX_AF_INET && s->type != LX_SOCK_DGRAM &&
		    s->state != LX_SK_CONNECTED)
			return -LX_E_NOTCONN; /* LX_AF_UNIX: Linux says 0 even unconnected */
		lx_local_shutdown(s, how);
		return 0;
	}
	if (s->type == LX_SOCK_STREAM ? s->state != LX_SK_CONNECTED && s->state != LX_SK_CLOSED
	                              : !s->rport)
		return -LX_E_NOTCONN;
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
		v = (int32_t)(s->local                    ? lx_local_unread(s)
		              : s->type == LX_SOCK_STREAM ? s->rxq.bytes
		              : s->dq_head                ? s->dq_head->len
		                                          : 0);
		return lx_copy_out(p, arg, &v, 4) ? -LX_EFAULT : 0;
	case 0x5421: /* FIONBIO */
		if (lx_copy_in(p, &v, arg, 4))
			return -LX_EFAULT;
		o->flags = v ? o->flags | LX_O_NONBLOCK : o->flags & ~LX_O_NONBLOCK;
		return 0;
	default:
		return -LX_ENOTTY;
	}
}

static int64_t sock_call(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	struct lx_ofd *o = NULL;
	int64_t err = 0;

	*handled = true;
	if (nr == NR_socket)
		return do_socket(p, a[0], a[1], a[2]);
	if (nr == NR_socketpair) /* LX_AF_UNIX only, on Linux */
		return a[0] == LX_AF_UNIX   ? lx_unix_socketpair(p, a[1], a[2], a[3])
		       : a[0] == LX_AF_INET ? -LX_E_OPNOTSUPP
		                            : (counts.afnosupport++, -LX_E_AFNOSUPPORT);
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
		return sock_send(p, o, a[3], a[4], a[5], 0, 0);
	case NR_recvfrom:
		uio_one(a[1], a[2]);
		if ((int64_t)a[2] < 0)
			return -LX_EINVAL;
		if (a[2] && lx_check(p, a[1], a[2], LX_PROT_WRITE))
			return -LX_EFAULT;
		return sock_recv(p, o, a[3], a[4], a[5], &mflags, 0);
	case NR_sendmsg:
	case NR_recvmsg:
		return do_msg(p, o, a[1], a[2], nr == NR_sendmsg);
	case NR_shutdown:
		return do_shutdown(s, a[1]);
	case NR_bind:
		return do_bind(p, s, a[1], a[2]);
	case NR_listen:
		return do_listen(p, s, (int32_t)a[1]);
	case NR_getsockname:
		if (s->family == LX_AF_UNIX)
			return lx_unix_put_name(p, a[1], a[2], &s->name, false);
		return lx_sk_put_in(p, a[1], a[2], s->bound && !s->lip ? lx_net_addr() : s->lip,
		                    s->lport);
	case NR_getpeername:
		if (s->family == LX_AF_UNIX)
			return s->peer ? lx_unix_put_name(p, a[1], a[2], &s->pname, false)
			               : -LX_E_NOTCONN;
		if (s->type == LX_SOCK_STREAM
		        ? s->state != LX_SK_CONNECTED && s->state != LX_SK_CLOSED
		        : !s->rport)
			return -LX_E_NOTCONN;
		return lx_sk_put_in(p, a[1], a[2], s->rip, s->rport);
	case NR_setsockopt:
	case NR_getsockopt:
		return do_sockopt(p, s, a, nr == NR_setsockopt);
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}

int64_t lx_sock_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	int64_t r = sock_call(p, nr, a, handled);

	if (*handled && r != LX_RET_BLOCK)
		p->wake_at = 0; /* a timed wait (SO_RCVTIMEO, SO_SNDTIMEO) is over */
	return r;
}

int64_t lx_sock_linger(struct lx_proc *p, struct lx_ofd *o)
{
	struct lx_sock *s = o->sock;

	if (o->refs != 1 || !s || !s->linger || s->linger_s <= 0 || !s->c || s->rxq.bytes)
		return 0; /* no wait: not the last close, no SO_LINGER, or a reset */
	if (!s->shut_wr) {
		s->shut_wr = true;
		floo_tcp_close(s->c); /* FIN after what is queued */
		lx_net_poll();
	}
	if (!s->s_len || !s->c) {
		p->wake_at = 0;
		return 0;
	}
	int64_t r = lx_timer_wait(p, s, (int64_t)s->linger_s * 1000);
	return r == LX_RET_BLOCK ? r : 0; /* the time is up: the close goes on, as Linux's */
}

void lx_sock_report(void)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++)
		n += lx_socks[i].used;
	if (n || counts.afnosupport || counts.unreach)
		rt_printf("linux: sockets open %u of %u, other families refused %u, no route %u\n",
		          n, LX_MAX_SOCKS, counts.afnosupport, counts.unreach);
	lx_net_report();
}
