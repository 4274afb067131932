/*
 * The socket layer of the Linux personality, shared by socket.c (the calls,
 * AF_INET on Floo) and unix.c (sockets that never leave the personality:
 * AF_UNIX and the loopback net 127.0.0.0/8). Private to these two files.
 *
 * A socket is an open file description (LX_FD_SOCKET) pointing at a
 * struct lx_sock. A "local" socket (s->local) moves its bytes through a
 * ring of the personality, never through Floo:
 *
 *     writer --send--> [ peer's ring ] --recv--> reader
 *
 * Each local socket owns the ring it receives into (lx_sk_ring: one per
 * socket slot, in the program's image). A stream writes bytes into its
 * peer's ring; a datagram or seqpacket socket writes a record (length,
 * sender's address, bytes) into its destination's ring. A writer that
 * finds no room waits on the ring's owner; every change of a ring wakes
 * its owner and the owner's peer (lx_sk_notify), and every poll and epoll.
 */
#ifndef USER_LINUX_SOCK_H
#define USER_LINUX_SOCK_H

#include <floo/floo.h>

#include "lx.h"

#define LX_MAX_SOCKS  64
#define LX_SK_BACKLOG 16
#define LX_SK_ARPQ    4            /* datagrams held per socket while ARP resolves (Linux: 3) */
#define LX_SK_UDPMAX  1472u        /* Floo sends one frame per datagram: no fragments */
#define LX_SK_LBUF    16384u       /* bytes of a local socket's receive ring, at first */
#define LX_SK_LMAX    (512u << 10) /* ... a big one lent for a datagram up to SO_SNDBUF - 32 */
#define LX_SK_NBIG    4            /* big rings, lent while a socket holds a big record */
#define LX_SK_WMEM    212992u      /* Linux's wmem_default and wmem_max (SO_SNDBUF) */
#define LX_SK_CMARKS  8            /* writers' credentials marked in a stream's ring */
#define LX_SK_UNPATH  108          /* sizeof sockaddr_un.sun_path */
#define LX_SK_RIGHTS  8            /* SCM_RIGHTS messages in flight to one socket */
#define LX_SK_RFDS    16           /* descriptors in one of them (Linux: 253) */

#define LX_AF_UNSPEC      0
#define LX_AF_UNIX        1
#define LX_AF_INET        2
#define LX_SOCK_STREAM    1
#define LX_SOCK_DGRAM     2
#define LX_SOCK_RAW       3
#define LX_SOCK_SEQPACKET 5
#define LX_MSG_PEEK       0x2u
#define LX_MSG_TRUNC      0x20u
#define LX_MSG_DONTWAIT   0x40u
#define LX_MSG_NOSIGNAL   0x4000u
#define LX_MSG_CTRUNC     0x8u
#define LX_O_NONBLOCK     04000u
#define LX_O_CLOEXEC      02000000u
#define LX_LOOPBACK       0x7f000001u /* 127.0.0.1 */

enum {
	LX_E_NFILE = 23,
	LX_E_DOM = 33,
	LX_E_NOTSOCK = 88,
	LX_E_DESTADDRREQ = 89,
	LX_E_MSGSIZE = 90,
	LX_E_PROTOTYPE = 91,
	LX_E_NOPROTOOPT = 92,
	LX_E_PROTONOSUPPORT = 93,
	LX_E_SOCKTNOSUPPORT = 94,
	LX_E_OPNOTSUPP = 95,
	LX_E_AFNOSUPPORT = 97,
	LX_E_ADDRINUSE = 98,
	LX_E_ADDRNOTAVAIL = 99,
	LX_E_NETUNREACH = 101,
	LX_E_CONNRESET = 104,
	LX_E_NOBUFS = 105,
	LX_E_ISCONN = 106,
	LX_E_NOTCONN = 107,
	LX_E_CONNREFUSED = 111,
	LX_E_ALREADY = 114,
	LX_E_INPROGRESS = 115,
};

enum { LX_SK_NEW, LX_SK_LISTEN, LX_SK_CONNECTING, LX_SK_CONNECTED, LX_SK_CLOSED };

struct lx_dgram;

/* A local socket's receive ring (unix.c). */
struct lx_sk_ring {
	uint32_t head, len;
	uint64_t taken; /* bytes read from it so far: where SCM_RIGHTS attach */
};

/* Descriptors in flight (SCM_RIGHTS): given with the byte at position at of the ring. */
struct lx_sk_rights {
	uint64_t at;
	uint32_t n;
	struct lx_ofd *o[LX_SK_RFDS];
};

/* The credentials a message carries (SCM_CREDENTIALS: struct ucred), from stream position at. */
struct lx_sk_cred {
	uint64_t at;
	uint32_t pid, uid, gid;
};

/* An AF_UNIX name: a path (NUL-terminated), an abstract name (len bytes from a NUL), none. */
struct lx_sk_name {
	uint8_t len; /* bytes of sun_path as getsockname gives them back; 0: unnamed */
	char path[LX_SK_UNPATH + 1];
};

struct lx_sock {
	bool used;
	uint8_t family, type, state;
	bool orphan;   /* closed by the application: goes with Floo's CLOSED */
	bool peer_fin; /* the peer's FIN arrived (local: the peer shut down or closed) */
	bool shut_rd, shut_wr;
	bool bound, udp_bound;
	bool reuse, keepalive, nodelay;
	bool inprogress;  /* a non-blocking connect said EINPROGRESS: the next connect says 0 */
	bool changed;     /* an event since the last lx_sock_events */
	bool local;       /* its bytes go through a ring of ours (AF_UNIX, loopback) */
	bool floo_listen; /* a TCP listener Floo knows (not bound to 127.0.0.0/8) */
	bool linger;      /* SO_LINGER on, for linger_s seconds */
	int32_t linger_s;
	int err; /* pending error (SO_ERROR), positive */
	uint32_t lip, rip;
	uint16_t lport, rport;
	uint64_t rcvtimeo, sndtimeo; /* SO_RCVTIMEO, SO_SNDTIMEO in ns (0: none) */
	struct floo_tcp *c;
	struct floo_rxq rxq; /* TCP on Floo: what arrived, not yet read */
	uint8_t *sbuf;       /* the send ring */
	uint32_t s_head, s_len;
	struct lx_sock *aq[LX_SK_BACKLOG]; /* accepted, not yet accept()ed */
	uint32_t aq_n, backlog;
	struct lx_dgram *dq_head, *dq_tail;
	uint32_t dq_bytes;
	struct lx_dgram *arpq[LX_SK_ARPQ];
	uint32_t arpq_n;
	uint32_t sndbuf, rcvbuf; /* as setsockopt last set them (doubled, as Linux) */
	uint64_t stamp;          /* lx_change_seq at its last change (epoll's edges) */
	/* local sockets (unix.c) */
	struct lx_sock
	    *peer; /* the other end (stream, seqpacket, connected dgram); NULL once gone */
	struct lx_sk_ring ring;
	struct lx_sk_name name, pname; /* AF_UNIX: our name and the peer's */
	const struct lx_file *inode;   /* AF_UNIX bound to a path: the socket file, held */
	uint32_t cred_pid, peer_pid;   /* SO_PEERCRED: ours when connecting, the peer's */
	struct lx_sk_rights rights[LX_SK_RIGHTS];
	uint32_t n_rights;
	uint8_t *big;  /* a big ring lent for a big record (NULL: its static 16 KiB one) */
	uint32_t cap;  /* its size */
	bool passcred; /* SO_PASSCRED: receives say who sent (SCM_CREDENTIALS) */
	/* A stream's writers: where each one's bytes begin (a read never joins two of them for
	 * a reader with SO_PASSCRED, as Linux). */
	struct lx_sk_cred cmark[LX_SK_CMARKS];
	uint32_t n_cmarks;
	/* A blocking stream send that waits for room with snd_done bytes already sent, by the
	 * thread snd_pid: the call made again goes on from there (Linux sends it all). */
	uint64_t snd_done;
	uint32_t snd_pid;
};

extern struct lx_sock lx_socks[LX_MAX_SOCKS];

/* The user's buffer list of the call being served: sends gather from it, receives scatter. */
#define LX_UIO_MAX 1024u /* UIO_MAXIOV */
struct lx_uio {
	uint64_t base[LX_UIO_MAX], len[LX_UIO_MAX];
	uint32_t n;
	uint64_t total;
};
extern struct lx_uio lx_uio;
/* Copy n bytes between buf and the buffer list from offset off (out: to the user). */
int lx_uio_copy(struct lx_proc *p, uint64_t off, void *buf, uint64_t n, bool out);

/* ---- socket.c, for unix.c ---- */
struct lx_sock *lx_sk_new(uint8_t family, uint8_t type);
void lx_sk_free(struct lx_sock *s);
/* A new descriptor of p for s (flags: O_NONBLOCK, O_CLOEXEC): fd or -errno. */
int64_t lx_sk_install(struct lx_proc *p, struct lx_sock *s, uint64_t flags);
/* p waits for s to change, for at most timeo ns (0: no limit): LX_RET_BLOCK, or -EAGAIN once
 * the time is up. */
int64_t lx_sk_wait(struct lx_proc *p, struct lx_sock *s, uint64_t timeo);
/* s changed: wake its waiters and every poll now. */
void lx_sk_notify(struct lx_sock *s);
int64_t lx_sk_epipe(struct lx_proc *p, uint64_t flags);
bool lx_sk_nonblocking(const struct lx_ofd *o, uint64_t flags);
/* A free port of ours for type (ephemeral from 49152 when want is 0), or 0. */
uint16_t lx_sk_free_port(uint8_t type, uint16_t want, bool reuse);
/* Queue a datagram of len bytes from ip:port on s (dropped when it does not fit). */
void lx_sk_udp_deliver(struct lx_sock *s, uint32_t ip, uint16_t port, const uint8_t *data,
                       uint32_t len);
/* Write full bytes of an address sa to ua (*ulen bytes at most) and full to *ulen: 0, -errno. */
int lx_sk_put_addr(struct lx_proc *p, uint64_t ua, uint64_t ulen, const void *sa, int32_t full);
/* Write a struct sockaddr_in to ua (*ulen bytes at most) and its size to *ulen. */
int lx_sk_put_in(struct lx_proc *p, uint64_t ua, uint64_t ulen, uint32_t ip, uint16_t port);

/* ---- unix.c: local sockets ---- */
int64_t lx_unix_socket(struct lx_proc *p, uint64_t type, uint64_t flags);
int64_t lx_unix_socketpair(struct lx_proc *p, uint64_t type, uint64_t proto, uint64_t usv);
int64_t lx_unix_bind(struct lx_proc *p, struct lx_sock *s, uint64_t ua, uint64_t len);
int64_t lx_unix_connect(struct lx_proc *p, struct lx_ofd *o, uint64_t ua, uint64_t len);
/* Write n as a struct sockaddr_un (sender: of a received message, where no name is length 0). */
int lx_unix_put_name(struct lx_proc *p, uint64_t ua, uint64_t ulen, const struct lx_sk_name *n,
                     bool sender);
/* A TCP connect to 127.0.0.0/8: connected at once to a listener of ours, or -errno. */
int64_t lx_loop_connect(struct lx_proc *p, struct lx_ofd *o, uint32_t ip, uint16_t port);
/* A UDP datagram to 127.0.0.0/8 from s (bound): bytes, or -errno. */
int64_t lx_loop_udp_send(struct lx_proc *p, struct lx_sock *s, uint32_t ip, uint16_t port);
/* Send and receive of a local socket over the buffer list; ctl: the msghdr's control buffer
 * (address and length, 0 for none), SCM_RIGHTS. */
int64_t lx_local_send(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, uint64_t flags,
                      uint64_t ua, uint64_t alen, uint64_t ctl, uint64_t ctl_len);
int64_t lx_local_recv(struct lx_proc *p, struct lx_ofd *o, struct lx_sock *s, uint64_t flags,
                      uint64_t ua, uint64_t ulen, uint32_t *mflags, uint64_t umsg);
uint16_t lx_local_ready(const struct lx_sock *s);
uint32_t lx_local_unread(const struct lx_sock *s); /* FIONREAD */
void lx_local_shutdown(struct lx_sock *s, uint64_t how);
/* The last close of a local socket (reset: RST to a loopback TCP peer). */
void lx_local_close(struct lx_sock *s, bool reset);

#endif
