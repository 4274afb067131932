/*
 * Sockets that never leave the personality (sock.h draws the rings):
 * AF_UNIX (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET; socketpair; names in
 * the root file system as socket inodes, in the abstract namespace, or
 * autobound; SCM_RIGHTS; SO_PEERCRED) and the loopback net 127.0.0.0/8 of
 * AF_INET (TCP connections to a listener of ours, UDP datagrams to a
 * socket of ours). Both process sides are processes of this personality,
 * so a send is one copy into the receiver's ring and a wake-up.
 *
 * Linux's rules kept here (net/unix/af_unix.c): connect completes at once
 * (no EINPROGRESS) and waits only for room in the listener's backlog; a
 * close with unread data, or of a connection never accepted, gives the
 * peer ECONNRESET; a datagram socket connected to a socket that closed
 * gets ECONNREFUSED once, then ENOTCONN; a datagram to a socket connected
 * elsewhere is refused (EPERM); SHUT_RD of one end is SHUT_WR of the other.
 */
#include "sock.h"

#include <hallows/rt.h>
#include <lib/string.h>

#define S_IFMT          0170000u
#define S_IFSOCK        0140000u
#define LX_ETOOMANYREFS 109
#define LX_ECONNREFUSED LX_E_CONNREFUSED
/* A record's head: length (4), name length (1), 3 spare, the sender's pid, uid, gid (4 each). */
#define HDR             20u
#define SOL_SOCKET      1
#define SCM_RIGHTS      1
#define SCM_CREDENTIALS 2
#define LX_ESRCH        3
#define CMSG_CLOEXEC    0x40000000u

static uint8_t bufs[LX_MAX_SOCKS][LX_SK_LBUF]; /* the receive ring of socket slot i */

/* ---- rings ---- */

static uint8_t *ring_of(const struct lx_sock *s)
{
	return s->big ? s->big : bufs[s - lx_socks];
}

static uint32_t cap_of(const struct lx_sock *s)
{
	return s->big ? s->cap : LX_SK_LBUF;
}

static uint32_t room(const struct lx_sock *s)
{
	return cap_of(s) - s->ring.len;
}

/* n bytes into s's ring at its tail (from the user's buffer list at off when src is NULL). */
static int ring_put(struct lx_proc *p, struct lx_sock *s, const void *src, uint64_t off, uint32_t n)
{
	uint8_t *r = ring_of(s);
	uint32_t cap = cap_of(s), tail = (s->ring.head + s->ring.len) % cap;
	uint32_t first = cap - tail < n ? cap - tail : n;

	if (src) {
		memcpy(r + tail, src, first);
		memcpy(r, (const uint8_t *)src + first, n - first);
	} else if (lx_uio_copy(p, off, r + tail, first, false) ||
	           lx_uio_copy(p, off + first, r, n - first, false)) {
		return -LX_EFAULT;
	}
	s->ring.len += n;
	return 0;
}

/* n bytes from skip bytes into s's ring: into dst, or to the user's buffer list at off. */
static int ring_get(struct lx_proc *p, const struct lx_sock *s, uint32_t skip, void *dst,
                    uint64_t off, uint32_t n)
{
	const uint8_t *r = ring_of(s);
	uint32_t cap = cap_of(s), at = (s->ring.head + skip) % cap;
	uint32_t first = cap - at < n ? cap - at : n;

	if (dst) {
		memcpy(dst, r + at, first);
		memcpy((uint8_t *)dst + first, r, n - first);
		return 0;
	}
	return lx_uio_copy(p, off, (void *)(r + at), first, true) ||
	               lx_uio_copy(p, off + first, (void *)r, n - first, true)
	           ? -LX_EFAULT
	           : 0;
}

static void ring_drop(struct lx_sock *s, uint32_t n)
{
	s->ring.head = (s->ring.head + n) % cap_of(s);
	s->ring.len -= n;
	s->ring.taken += n;
}

/*
 * Rings for records above 16 KiB (up to SO_SNDBUF - 32 bytes): a few big ones, lent to a
 * socket while it holds such a record, back when its ring is empty or it closes. The heap
 * is no place for them: each of its pages takes one of the server's last capability slots
 * for good.
 */
static uint8_t big_rings[LX_SK_NBIG][LX_SK_LMAX];
static const struct lx_sock *big_owner[LX_SK_NBIG];

/* s's ring holds need bytes at least: 0, or -ENOBUFS when no big ring is free. */
static int ring_grow(struct lx_sock *s, uint64_t need)
{
	if (need <= cap_of(s))
		return 0;
	for (uint32_t i = 0; need <= LX_SK_LMAX && i < LX_SK_NBIG; i++) {
		if (big_owner[i])
			continue;
		big_owner[i] = s;
		ring_get(NULL, s, 0, big_rings[i], 0, s->ring.len);
		s->big = big_rings[i], s->cap = LX_SK_LMAX, s->ring.head = 0;
		return 0;
	}
	return -LX_E_NOBUFS;
}

/* s's big ring goes back (its ring is empty, or s closes). */
static void ring_shrink(struct lx_sock *s)
{
	if (!s->big)
		return;
	big_owner[(s->big - big_rings[0]) / LX_SK_LMAX] = NULL;
	s->big = NULL, s->ring.head = 0;
}

/* The descriptors of s's first SCM_RIGHTS message go back (read without taking them). */
static void rights_drop(struct lx_sock *s)
{
	for (uint32_t i = 0; i < s->rights[0].n; i++)
		lx_ofd_put(s->rights[0].o[i]);
	s->n_rights--;
	memmove(&s->rights[0], &s->rights[1], s->n_rights * sizeof(s->rights[0]));
}

/* ---- names ---- */

/*
 * A struct sockaddr_un at ua (len bytes) into n: 0 (n->len 0: no name, autobind), or
 * -errno. Linux takes a path up to its first NUL within len.
 */
static int get_name(struct lx_proc *p, uint64_t ua, uint64_t len, struct lx_sk_name *n)
{
	uint8_t sa[2 + LX_SK_UNPATH];

	*n = (struct lx_sk_name){0};
	if (len < 2 || len > sizeof(sa))
		return -LX_EINVAL;
	if (lx_copy_in(p, sa, ua, len))
		return -LX_EFAULT;
	if (sa[0] != LX_AF_UNIX || sa[1])
		return -LX_EINVAL;
	uint32_t k = (uint32_t)len - 2;
	if (k && sa[2] == 0) { /* abstract: every byte counts */
		memcpy(n->path, sa + 2, k);
		n->len = (uint8_t)k;
		return 0;
	}
	uint32_t l = 0;
	while (l < k && sa[2 + l])
		l++;
	memcpy(n->path, sa + 2, l);
	n->path[l] = 0;
	n->len = l ? (uint8_t)(l + 1) : 0;
	return 0;
}

int lx_unix_put_name(struct lx_proc *p, uint64_t ua, uint64_t ulen, const struct lx_sk_name *n,
                     bool sender)
{
	uint8_t sa[2 + LX_SK_UNPATH + 1] = {LX_AF_UNIX};

	memcpy(sa + 2, n->path, n->len);
	/* recvfrom: an unnamed sender is length 0 (getsockname: 2) */
	return lx_sk_put_addr(p, ua, ulen, sa, sender && !n->len ? 0 : 2 + n->len);
}

/* The absolute path of a name's path (relative to p's working directory). */
static int full_path(struct lx_proc *p, const struct lx_sk_name *n, char *out, size_t cap)
{
	if (n->path[0] == '/') {
		if (strlen(n->path) >= cap)
			return -LX_ENAMETOOLONG;
		memcpy(out, n->path, strlen(n->path) + 1);
		return 0;
	}
	return lx_cwd_join(p, n->path, out, cap);
}

/*
 * The socket named n of type (0: any): it, or NULL with *err. As Linux, a path of a socket of
 * another type is EPROTOTYPE, an abstract name of another type is not found (ECONNREFUSED).
 */
static struct lx_sock *find_named(struct lx_proc *p, const struct lx_sk_name *n, uint8_t type,
                                  int *err)
{
	const struct lx_file *f = NULL;
	char path[512];

	*err = -LX_ECONNREFUSED;
	if (n->path[0]) {
		if ((*err = full_path(p, n, path, sizeof(path))))
			return NULL;
		if (!(f = lx_fs_lookup(path))) {
			*err = -LX_ENOENT;
			return NULL;
		}
		*err = -LX_ECONNREFUSED;
		if ((f->mode & S_IFMT) != S_IFSOCK)
			return NULL;
	}
	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++) {
		struct lx_sock *q = &lx_socks[i];
		if (!q->used || q->family != LX_AF_UNIX || !q->name.len)
			continue;
		if (f ? q->inode != f
		      : q->inode || q->name.len != n->len || memcmp(q->name.path, n->path, n->len))
			continue;
		if (!type || q->type == type)
			return q;
		*err = f ? -LX_E_PROTOTYPE : -LX_ECONNREFUSED;
		return NULL;
	}
	return NULL;
}

/* Linux's autobind: an abstract name of five hexadecimal digits. */
static void autobind(struct lx_sock *s)
{
	static uint32_t next = 0x1000;
	int err;

	for (uint32_t tries = 0; tries < 0x100000; tries++) {
		uint32_t v = next++ & 0xfffff;
		struct lx_sk_name n = {.len = 6};
		for (int d = 0; d < 5; d++)
			n.path[1 + d] = "0123456789abcdef"[(v >> (16 - 4 * d)) & 15];
		if (!find_named(NULL, &n, 0, &err)) {
			s->name = n;
			return;
		}
	}
}

int64_t lx_unix_bind(struct lx_proc *p, struct lx_sock *s, uint64_t ua, uint64_t len)
{
	struct lx_sk_name n;
	int err = get_name(p, ua, len, &n);
	char path[512];
	const struct lx_file *f;

	if (err)
		return err;
	if (s->name.len && !n.path[0])
		return -LX_EINVAL; /* a path is made first (EADDRINUSE before EINVAL), as Linux */
	if (!n.len) {
		autobind(s);
		return 0;
	}
	if (!n.path[0]) {
		if (find_named(p, &n, 0, &err))
			return -LX_E_ADDRINUSE;
		s->name = n;
		return 0;
	}
	if ((err = full_path(p, &n, path, sizeof(path))))
		return err;
	/* The socket inode: 0755 (the mode after the default umask 022) */
	err = lx_fs_create(path, S_IFSOCK | 0755, &f);
	if (err)
		return err == -LX_EEXIST ? -LX_E_ADDRINUSE : err;
	if (s->name.len) {
		(void)lx_fs_unlink(path, false);
		return -LX_EINVAL;
	}
	lx_fs_hold(f); /* the slot stays ours while the socket lives, even unlinked */
	s->inode = f;
	s->name = n;
	return 0;
}

int64_t lx_unix_socket(struct lx_proc *p, uint64_t type, uint64_t flags)
{
	if (type != LX_SOCK_STREAM && type != LX_SOCK_DGRAM && type != LX_SOCK_SEQPACKET)
		return type == LX_SOCK_RAW || type == 4 || type == 10 ? -LX_E_SOCKTNOSUPPORT
		                                                      : -LX_EINVAL;
	struct lx_sock *s = lx_sk_new(LX_AF_UNIX, (uint8_t)type);
	if (!s)
		return -LX_E_NOBUFS;
	s->local = true;
	s->cred_pid = p->tgid;
	s->sndbuf = LX_SK_WMEM; /* Linux's wmem_default (a datagram: up to 32 bytes less) */
	int64_t fd = lx_sk_install(p, s, flags);
	if (fd < 0)
		lx_sk_free(s);
	return fd;
}

/* a and b become the two ends of one connection. */
static void join(struct lx_sock *a, struct lx_sock *b)
{
	a->peer = b, b->peer = a;
	a->peer_pid = b->cred_pid, b->peer_pid = a->cred_pid;
	a->pname = b->name, b->pname = a->name;
	if (a->type != LX_SOCK_DGRAM)
		a->state = b->state = LX_SK_CONNECTED;
}

int64_t lx_unix_socketpair(struct lx_proc *p, uint64_t type, uint64_t proto, uint64_t usv)
{
	uint64_t flags = type & (LX_O_NONBLOCK | LX_O_CLOEXEC);
	int32_t sv[2];

	type &= ~(uint64_t)(LX_O_NONBLOCK | LX_O_CLOEXEC);
	if (proto && proto != LX_AF_UNIX)
		return -LX_E_PROTONOSUPPORT;
	if (lx_check(p, usv, sizeof(sv), LX_PROT_WRITE))
		return -LX_EFAULT;
	int64_t a = lx_unix_socket(p, type, flags);
	if (a < 0)
		return a;
	int64_t b = lx_unix_socket(p, type, flags);
	if (b < 0) {
		lx_ofd_put(lx_grp(p)->fd[a].o);
		lx_grp(p)->fd[a].o = NULL;
		return b;
	}
	join(lx_grp(p)->fd[a].o->sock, lx_grp(p)->fd[b].o->sock);
	sv[0] = (int32_t)a, sv[1] = (int32_t)b;
	(void)lx_copy_out(p, usv, sv, sizeof(sv)); /* checked above */
	return 0;
}

/*
 * A connection to listener l: a socket of the same family for the server's side, queued
 * for accept and joined to s. 0, or LX_RET_BLOCK / -EAGAIN while the backlog is full.
 */
static int64_t enqueue(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, struct lx_sock *l)
{
	if (l->aq_n >= l->backlog)
		return o->flags & LX_O_NONBLOCK ? -LX_EAGAIN : lx_sk_wait(p, l, s->sndtimeo);
	struct lx_sock *a = lx_sk_new(l->family, l->type);
	if (!a)
		return -LX_E_NOBUFS;
	a->local = true, a->bound = true;
	a->name = l->name, a->cred_pid = l->cred_pid, a->sndbuf = l->sndbuf;
	a->passcred = l->passcred;
	a->reuse = l->reuse, a->keepalive = l->keepalive, a->nodelay = l->nodelay;
	s->cred_pid = p->tgid;
	join(s, a);
	l->aq[l->aq_n++] = a;
	lx_sk_notify(l);
	return 0;
}

int64_t lx_unix_connect(struct lx_proc *p, struct lx_ofd *o, uint64_t ua, uint64_t len)
{
	struct lx_sock *s = o->sock;
	struct lx_sk_name n;
	int err;

	if (s->type == LX_SOCK_DGRAM && len >= 2) { /* AF_UNSPEC: dissolve the association */
		uint16_t fam = 0;
		if (lx_copy_in(p, &fam, ua, 2))
			return -LX_EFAULT;
		if (fam == LX_AF_UNSPEC) {
			s->peer = NULL, s->peer_fin = false;
			return 0;
		}
	}
	if ((err = get_name(p, ua, len, &n)))
		return err;
	if (s->type != LX_SOCK_DGRAM && s->state == LX_SK_CONNECTED)
		return -LX_E_ISCONN;
	if (s->state == LX_SK_LISTEN)
		return -LX_EINVAL;
	if (!n.len)
		return -LX_EINVAL;
	struct lx_sock *t = find_named(p, &n, s->type, &err);
	if (!t)
		return err;
	if (s->type == LX_SOCK_DGRAM) {
		if (t->peer && t->peer != s)
			return -LX_EPERM;
		s->peer = t, s->peer_fin = false;
		s->pname = t->name, s->peer_pid = t->cred_pid;
		return 0;
	}
	if (t->state != LX_SK_LISTEN)
		return -LX_ECONNREFUSED;
	return enqueue(p, o, s, t);
}

int64_t lx_loop_connect(struct lx_proc *p, struct lx_ofd *o, uint32_t ip, uint16_t port)
{
	struct lx_sock *s = o->sock, *l = NULL;

	for (uint32_t i = 0; i < LX_MAX_SOCKS && !l; i++) {
		struct lx_sock *q = &lx_socks[i];
		if (q->used && q->family == LX_AF_INET && q->type == LX_SOCK_STREAM &&
		    q->state == LX_SK_LISTEN && q->lport == port && (!q->lip || q->lip == ip))
			l = q;
	}
	if (!l || !port)
		return -LX_ECONNREFUSED;
	if (!s->bound && !(s->lport = lx_sk_free_port(LX_SOCK_STREAM, 0, false)))
		return -LX_E_ADDRNOTAVAIL;
	int64_t r = enqueue(p, o, s, l);
	if (r)
		return r == -LX_EAGAIN ? -LX_ECONNREFUSED : r;
	struct lx_sock *a = s->peer;
	s->local = true, s->bound = true;
	s->lip = LX_LOOPBACK, s->rip = ip, s->rport = port;
	a->lip = ip, a->lport = port, a->rip = LX_LOOPBACK, a->rport = s->lport;
	return 0;
}

int64_t lx_loop_udp_send(struct lx_proc *p, struct lx_sock *s, uint32_t ip, uint16_t port)
{
	static uint8_t buf[LX_SK_UDPMAX];
	struct lx_sock *t = NULL;

	for (uint32_t i = 0; i < LX_MAX_SOCKS && !t; i++) {
		struct lx_sock *q = &lx_socks[i];
		if (q->used && !q->orphan && q->family == LX_AF_INET && q->type == LX_SOCK_DGRAM &&
		    q->bound && q->lport == port && (!q->lip || q->lip == ip))
			t = q;
	}
	if (lx_uio_copy(p, 0, buf, lx_uio.total, false))
		return -LX_EFAULT;
	if (!t) { /* Linux's ICMP port unreachable: a connected socket hears of it */
		if (s->rport) {
			s->err = LX_ECONNREFUSED;
			lx_sk_notify(s);
		}
		return (int64_t)lx_uio.total;
	}
	lx_sk_udp_deliver(t, s->lip ? s->lip : LX_LOOPBACK, s->lport, buf, (uint32_t)lx_uio.total);
	lx_sk_notify(t);
	return (int64_t)lx_uio.total;
}

/* ---- control messages: SCM_RIGHTS, SCM_CREDENTIALS ---- */

/*
 * The control buffer of a sendmsg (ctl, len bytes): SCM_RIGHTS as descriptors of p taken into
 * r, SCM_CREDENTIALS into c (which holds p's own until then). 0, or -errno with nothing taken.
 * Every process here is root (uid 0), which Linux lets send any pid that exists, any uid and
 * gid (CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID): ESRCH for a pid of nobody, EINVAL for -1.
 */
static int ctl_in(struct lx_proc *p, uint64_t ctl, uint64_t len, struct lx_sk_rights *r,
                  struct lx_sk_cred *c)
{
	r->n = 0;
	if (len > 4096)
		return -LX_E_NOBUFS; /* as Linux beyond its optmem_max */
	for (uint64_t off = 0; off + 16 <= len;) {
		uint64_t h[2]; /* cmsg_len; cmsg_level, cmsg_type */
		if (lx_copy_in(p, h, ctl + off, 16))
			return -LX_EFAULT;
		uint64_t clen = h[0];
		uint32_t type = (uint32_t)(h[1] >> 32);
		if (clen < 16 || clen > len - off)
			return -LX_EINVAL;
		off += (clen + 7) & ~7ull;
		if ((uint32_t)h[1] != SOL_SOCKET)
			continue; /* Linux skips other levels */
		if (type == SCM_CREDENTIALS) {
			uint32_t u[3]; /* pid, uid, gid */
			if (clen != 16 + sizeof(u))
				return -LX_EINVAL;
			if (lx_copy_in(p, u, ctl + off - ((clen + 7) & ~7ull) + 16, sizeof(u)))
				return -LX_EFAULT;
			if (!lx_proc_by_pid(u[0]))
				return -LX_ESRCH;
			if (u[1] == ~0u || u[2] == ~0u)
				return -LX_EINVAL;
			c->pid = u[0], c->uid = u[1], c->gid = u[2];
			continue;
		}
		if (type != SCM_RIGHTS)
			return -LX_EINVAL;
		uint32_t k = (uint32_t)(clen - 16) / 4;
		if (r->n + k > LX_SK_RFDS)
			return -LX_ETOOMANYREFS;
		for (uint32_t i = 0; i < k; i++) {
			int32_t fd;
			if (lx_copy_in(p, &fd, ctl + off - ((clen + 7) & ~7ull) + 16 + 4 * i, 4))
				return -LX_EFAULT;
			if (fd < 0 || fd >= LX_MAX_FDS || !lx_grp(p)->fd[fd].o)
				return -LX_EBADF;
			r->o[r->n++] = lx_grp(p)->fd[fd].o;
		}
	}
	for (uint32_t i = 0; i < r->n; i++)
		r->o[i]->refs++;
	return 0;
}

/*
 * The control messages of a receive, written to the msghdr at umsg as Linux's put_cmsg does
 * (MSG_CTRUNC for what does not fit): the sender's credentials c when s has SO_PASSCRED, then,
 * if give, s's first SCM_RIGHTS message as descriptors of p (those that do not fit are
 * closed). The control length is written back.
 */
static int ctl_out(struct lx_proc *p, struct lx_sock *s, uint64_t umsg, uint64_t flags,
                   uint32_t *mflags, const struct lx_sk_cred *c, bool give)
{
	uint64_t m[2], used = 0; /* msg_control, msg_controllen */

	if (lx_copy_in(p, m, umsg + 32, 16))
		return -LX_EFAULT;
	if (c && s->passcred) {
		uint64_t h[2] = {16 + 12, SOL_SOCKET | (uint64_t)SCM_CREDENTIALS << 32};
		uint32_t u[3] = {c->pid, c->uid, c->gid};
		if (m[1] < 16) {
			*mflags |= LX_MSG_CTRUNC;
		} else {
			uint64_t fit = m[1] < 28 ? m[1] : 28;
			if (fit < 28)
				*mflags |= LX_MSG_CTRUNC;
			if (lx_copy_out(p, m[0], h, 16) || lx_copy_out(p, m[0] + 16, u, fit - 16))
				return -LX_EFAULT;
			used = m[1] < 32 ? m[1] : 32;
		}
	}
	const struct lx_sk_rights *r = &s->rights[0];
	if (give) {
		int32_t fds[LX_SK_RFDS];
		uint32_t k = 0;
		uint64_t left = m[1] - used, cap = left >= 16 ? (left - 16) / 4 : 0;
		for (uint32_t fd = 0; fd < LX_MAX_FDS && k < r->n && k < cap; fd++) {
			if (lx_grp(p)->fd[fd].o)
				continue;
			lx_grp(p)->fd[fd] = (struct lx_fd){r->o[k], (flags & CMSG_CLOEXEC) != 0};
			fds[k++] =
			    (int32_t)fd; /* the message's reference is now the descriptor's */
		}
		if (k < r->n)
			*mflags |= LX_MSG_CTRUNC;
		for (uint32_t i = k; i < r->n; i++)
			lx_ofd_put(r->o[i]);
		s->n_rights--;
		memmove(&s->rights[0], &s->rights[1], s->n_rights * sizeof(s->rights[0]));
		if (k) {
			uint64_t h[2] = {16 + 4ull * k, SOL_SOCKET | (uint64_t)SCM_RIGHTS << 32};
			if (lx_copy_out(p, m[0] + used, h, 16) ||
			    lx_copy_out(p, m[0] + used + 16, fds, 4ull * k))
				return -LX_EFAULT;
			uint64_t space = (h[0] + 7) & ~7ull;
			used += space < left ? space : left;
		}
	}
	return lx_copy_out(p, umsg + 40, &used, 8) ? -LX_EFAULT : 0;
}

/* A stream's reader took bytes: the writers' marks wholly before them go. */
static void cmarks_taken(struct lx_sock *s)
{
	while (s->n_cmarks > 1 && s->cmark[1].at <= s->ring.taken) {
		s->n_cmarks--;
		memmove(&s->cmark[0], &s->cmark[1], s->n_cmarks * sizeof(s->cmark[0]));
	}
}

/* ---- send and receive ---- */

/* Where a send of s goes: its peer or the named socket, or NULL with *err. */
static struct lx_sock *dest(struct lx_proc *p, struct lx_sock *s, uint64_t ua, uint64_t alen,
                            int *err)
{
	struct lx_sk_name n;
	struct lx_sock *t;

	if (s->type != LX_SOCK_DGRAM || !ua) {
		t = s->peer;
		if (!t)
			*err = s->type == LX_SOCK_DGRAM && s->peer_fin ? -LX_ECONNREFUSED
			       : s->state == LX_SK_NEW || s->state == LX_SK_LISTEN ? -LX_E_NOTCONN
			                                                           : -LX_EPIPE;
		if (!t && s->type == LX_SOCK_DGRAM)
			s->peer_fin = false; /* ECONNREFUSED once, then ENOTCONN */
		return t;
	}
	if ((*err = get_name(p, ua, alen, &n)))
		return NULL;
	if (!(t = find_named(p, &n, LX_SOCK_DGRAM, err)))
		return NULL;
	if (t->peer && t->peer != s) {
		*err = -LX_EPERM;
		return NULL;
	}
	return t;
}

int64_t lx_local_send(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, uint64_t flags,
                      uint64_t ua, uint64_t alen, uint64_t ctl, uint64_t ctl_len)
{
	bool rec = s->type != LX_SOCK_STREAM;
	int err = 0;
	/* A blocking stream send made again after a wait for room goes on where it was. */
	uint64_t done = !rec && s->snd_pid == p->pid && lx_call_restarted(p) ? s->snd_done : 0;

	s->snd_pid = 0;
	if (s->err && s->family == LX_AF_INET) {
		int e = s->err;
		s->err = 0;
		return -e;
	}
	if (s->shut_wr)
		return done ? (int64_t)done : lx_sk_epipe(p, flags);
	struct lx_sock *t = dest(p, s, ua, alen, &err);
	if (!t)
		return done ? (int64_t)done : err == -LX_EPIPE ? lx_sk_epipe(p, flags) : err;
	if (s->type != LX_SOCK_DGRAM && t->shut_rd)
		return done ? (int64_t)done : lx_sk_epipe(p, flags);
	uint64_t hdr = rec ? HDR + s->name.len : 0;
	/* Linux: a datagram (seqpacket record) up to SO_SNDBUF - 32 bytes; a stream, any. */
	if (rec && lx_uio.total + 32 > s->sndbuf)
		return -LX_E_MSGSIZE;
	if (!rec && !lx_uio.total)
		return 0;
	if (rec && (err = ring_grow(t, hdr + lx_uio.total)))
		return err;
	struct lx_sk_cred c = {t->ring.taken + t->ring.len, p->tgid, 0, 0};
	const struct lx_sk_cred *last = t->n_cmarks ? &t->cmark[t->n_cmarks - 1] : NULL;
	struct lx_sk_rights r = {.at = c.at};
	if (ctl_len && s->family == LX_AF_UNIX && !done) {
		if (t->n_rights == LX_SK_RIGHTS)
			return -LX_ETOOMANYREFS;
		if ((err = ctl_in(p, ctl, ctl_len, &r, &c)))
			return err;
	}
	bool mark =
	    !rec && (!last || last->pid != c.pid || last->uid != c.uid || last->gid != c.gid);
	if (room(t) < (rec ? hdr + lx_uio.total : 1) || (mark && t->n_cmarks == LX_SK_CMARKS)) {
		for (uint32_t i = 0; i < r.n; i++)
			lx_ofd_put(r.o[i]);
		if (lx_sk_nonblocking(o, flags))
			return done ? (int64_t)done : -LX_EAGAIN;
		int64_t w = lx_sk_wait(p, t, s->sndtimeo);
		if (w == LX_RET_BLOCK && done)
			s->snd_pid = p->pid, s->snd_done = done;
		return w == LX_RET_BLOCK || !done ? w : (int64_t)done;
	}
	uint32_t n =
	    rec ? (uint32_t)lx_uio.total
	        : (uint32_t)(lx_uio.total - done < room(t) ? lx_uio.total - done : room(t));
	uint32_t save = t->ring.len;
	if (rec) {
		uint8_t h[HDR] = {(uint8_t)n, (uint8_t)(n >> 8), (uint8_t)(n >> 16),
		                  (uint8_t)(n >> 24), s->name.len};
		memcpy(h + 8, &c.pid, 4), memcpy(h + 12, &c.uid, 4), memcpy(h + 16, &c.gid, 4);
		ring_put(p, t, h, 0, HDR);
		ring_put(p, t, s->name.path, 0, s->name.len);
	}
	if (ring_put(p, t, NULL, done, n)) {
		t->ring.len = save;
		for (uint32_t i = 0; i < r.n; i++)
			lx_ofd_put(r.o[i]);
		return done ? (int64_t)done : -LX_EFAULT;
	}
	if (r.n)
		t->rights[t->n_rights++] = r;
	if (mark)
		t->cmark[t->n_cmarks++] = c;
	lx_sk_notify(t);
	done += n;
	if (!rec && done < lx_uio.total && !lx_sk_nonblocking(o, flags)) {
		int64_t w = lx_sk_wait(p, t, s->sndtimeo); /* the rest, once the reader reads */
		if (w != LX_RET_BLOCK)
			return (int64_t)done; /* SO_SNDTIMEO passed: what went */
		s->snd_pid = p->pid, s->snd_done = done;
		return w;
	}
	return rec ? n : (int64_t)done;
}

/* The empty ring of s: 0 (end of file), -errno, or a wait. */
static int64_t recv_empty(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, uint64_t flags)
{
	if (s->err) {
		int e = s->err;
		s->err = 0;
		return -e;
	}
	if (s->shut_rd || (s->type != LX_SOCK_DGRAM && s->peer_fin))
		return 0;
	if (s->type != LX_SOCK_DGRAM && !s->peer && s->state == LX_SK_CONNECTED)
		return 0;
	return lx_sk_nonblocking(o, flags) ? -LX_EAGAIN : lx_sk_wait(p, s, s->rcvtimeo);
}

int64_t lx_local_recv(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, uint64_t flags,
                      uint64_t ua, uint64_t ulen, uint32_t *mflags, uint64_t umsg)
{
	bool rec = s->type != LX_SOCK_STREAM;
	uint8_t h[HDR] = {0};
	struct lx_sk_name from = {0};

	if (s->type != LX_SOCK_DGRAM && (s->state == LX_SK_NEW || s->state == LX_SK_LISTEN))
		return s->family == LX_AF_UNIX ? -LX_EINVAL : -LX_E_NOTCONN;
	if (!rec && !lx_uio.total)
		return 0;
	if (!s->ring.len)
		return recv_empty(p, o, s, flags);
	uint32_t skip = 0, len = s->ring.len;
	struct lx_sk_cred c = s->n_cmarks ? s->cmark[0] : (struct lx_sk_cred){0};
	if (rec) {
		ring_get(p, s, 0, h, 0, HDR);
		from.len = h[4];
		ring_get(p, s, HDR, from.path, 0, from.len);
		skip = HDR + from.len;
		len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
		      (uint32_t)h[3] << 24;
		memcpy(&c.pid, h + 8, 4), memcpy(&c.uid, h + 12, 4), memcpy(&c.gid, h + 16, 4);
	} else if (s->passcred && s->n_cmarks > 1 && s->cmark[1].at - s->ring.taken < len) {
		len = (uint32_t)(s->cmark[1].at - s->ring.taken); /* never two writers' bytes */
	}
	if (!rec && s->n_rights && s->rights[0].at > s->ring.taken &&
	    s->rights[0].at - s->ring.taken < len) {
		len = (uint32_t)(s->rights[0].at - s->ring.taken); /* not past the next message */
	} else if (!rec && s->n_rights > 1 && s->rights[0].at == s->ring.taken &&
	           s->rights[1].at - s->ring.taken < len) {
		len = (uint32_t)(s->rights[1].at - s->ring.taken);
	}
	uint32_t n = lx_uio.total < len ? (uint32_t)lx_uio.total : len;
	if (ring_get(p, s, skip, NULL, 0, n))
		return -LX_EFAULT;
	if (rec && n < len)
		*mflags |= LX_MSG_TRUNC;
	if (ua && s->family == LX_AF_UNIX)
		(void)lx_unix_put_name(p, ua, ulen, rec ? &from : &s->pname, true); /* checked */
	else if (ua)
		(void)lx_sk_put_in(p, ua, ulen, s->rip, s->rport);
	bool given = !(flags & LX_MSG_PEEK) && s->n_rights && s->rights[0].at == s->ring.taken;
	if (umsg) {
		int err = ctl_out(p, s, umsg, flags, mflags, &c, given);
		if (err)
			return err;
	} else if (given) {
		rights_drop(s); /* read(): Linux closes them */
	}
	if (flags & LX_MSG_PEEK)
		return rec && (flags & LX_MSG_TRUNC) ? len : n;
	ring_drop(s, rec ? skip + len : n);
	cmarks_taken(s);
	if (!s->ring.len)
		ring_shrink(s);
	lx_sk_notify(s);
	if (s->peer)
		lx_sk_notify(s->peer); /* its POLLOUT */
	return rec && (flags & LX_MSG_TRUNC) ? len : n;
}

uint32_t lx_local_unread(const struct lx_sock *s)
{
	uint8_t h[HDR];

	if (s->type == LX_SOCK_STREAM || !s->ring.len)
		return s->type == LX_SOCK_STREAM ? s->ring.len : 0;
	ring_get(NULL, s, 0, h, 0, HDR);
	return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

uint16_t lx_local_ready(const struct lx_sock *s)
{
	uint16_t r = s->err ? 8 : 0; /* POLLERR */

	if (s->state == LX_SK_LISTEN)
		return r | (s->aq_n ? 1 : 0);
	if (s->type == LX_SOCK_DGRAM)
		return r | (s->ring.len || s->shut_rd ? 1 : 0) | (s->shut_rd ? 0x2000 : 0) |
		       (s->shut_rd && s->shut_wr ? 16 : 0) |
		       (!s->peer || room(s->peer) > HDR + s->name.len ? 4 : 0);
	if (s->state == LX_SK_NEW)
		return r | 4 | 16; /* POLLOUT | POLLHUP, as Linux's fresh socket */
	bool gone = !s->peer, rdhup = s->peer_fin || s->shut_rd || gone;
	r |= (s->ring.len || rdhup ? 1 : 0) | (rdhup ? 0x2000 : 0);
	if (gone || (s->peer_fin && s->shut_wr))
		r |= 16;
	if (gone || s->shut_wr || room(s->peer) > (s->type == LX_SOCK_STREAM ? 0 : HDR))
		r |= 4;
	return r;
}

void lx_local_shutdown(struct lx_sock *s, uint64_t how)
{
	struct lx_sock *t = s->type != LX_SOCK_DGRAM || s->family == LX_AF_UNIX ? s->peer : NULL;

	if (how != 1)
		s->shut_rd = true;
	if (how != 0)
		s->shut_wr = true;
	if (t && s->family == LX_AF_UNIX && how != 1)
		t->shut_wr = true; /* SHUT_RD here is SHUT_WR there */
	if (t && how != 0)
		t->peer_fin = true;
	lx_sk_notify(s);
	if (t)
		lx_sk_notify(t);
}

void lx_local_close(struct lx_sock *s, bool reset)
{
	reset = reset || s->ring.len;
	while (s->n_rights)
		rights_drop(s);
	s->ring = (struct lx_sk_ring){0};
	s->n_cmarks = 0;
	ring_shrink(s);
	for (uint32_t i = 0; i < LX_MAX_SOCKS; i++) {
		struct lx_sock *q = &lx_socks[i];
		if (!q->used || q->peer != s)
			continue;
		q->peer = NULL;
		q->peer_fin = true;
		if (reset && q->type != LX_SOCK_DGRAM)
			q->err = LX_E_CONNRESET;
		lx_sk_notify(q);
	}
	if (s->inode)
		lx_fs_release(s->inode);
	s->inode = NULL;
}
