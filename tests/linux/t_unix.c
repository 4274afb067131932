/*
 * Sockets that stay inside one system (issue 15 item 7), compared byte for
 * byte with Linux by the differential test: AF_UNIX stream, datagram and
 * seqpacket sockets (socketpair; names in the file system as socket
 * inodes, abstract and autobound; connect/accept, getsockname and
 * getpeername, shutdown, end of file, EPIPE and SIGPIPE, non-blocking,
 * poll and epoll, SCM_RIGHTS, SO_PEERCRED, the errors), TCP and UDP on the
 * loopback net 127.0.0.1 between two processes, SO_RCVTIMEO, SO_SNDTIMEO
 * and SO_LINGER (l_linger 0 resets). Only what Linux prints the same way
 * every time is printed: no port numbers, no pids, no buffer sizes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

#define PATH "/tmp/t_unix.sock"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static socklen_t un_addr(struct sockaddr_un *a, const char *path, size_t n)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	memcpy(a->sun_path, path, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
}

static void show_name(const char *label, int (*get)(int, struct sockaddr *, socklen_t *), int s)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	memset(&a, 0x55, sizeof(a));
	int r = get(s, (struct sockaddr *)&a, &len);
	printf("%s: %d errno %d len %u family %d", label, r, r ? errno : 0, len, a.sun_family);
	if (!r && len > 2)
		printf(" path %s%s", a.sun_path[0] ? "" : "@",
		       a.sun_path[0] ? a.sun_path : "(abstract)");
	printf("\n");
}

static void show_read(const char *label, int s, size_t want)
{
	char buf[64] = {0};
	errno = 0;
	long n = read(s, buf, want);
	printf("%s: %ld errno %d '%s'\n", label, n, n < 0 ? errno : 0, n > 0 ? buf : "");
}

static void show_poll(const char *label, int s, short events)
{
	struct pollfd p = {.fd = s, .events = events};
	int n = poll(&p, 1, 0);
	printf("%s: %d revents %#x\n", label, n, p.revents);
}

/* ioctl FIONREAD's count, or getsockopt's int of SOL_SOCKET option what. */
static int int_of(int s, int what)
{
	int v = -1;
	socklen_t l = sizeof(v);

	if (what == FIONREAD)
		ioctl(s, FIONREAD, &v);
	else
		getsockopt(s, SOL_SOCKET, what, &v, &l);
	return v;
}

static void stream_path(void)
{
	struct sockaddr_un a;
	struct stat st;
	socklen_t len = un_addr(&a, PATH, sizeof(PATH));

	unlink(PATH);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	SHOW("listen before bind", listen(l, 4));
	SHOW("bind path", bind(l, (struct sockaddr *)&a, len));
	SHOW("bind again", bind(l, (struct sockaddr *)&a, len));
	SHOW("stat of the path", stat(PATH, &st));
	printf("it is a socket: %d\n", S_ISSOCK(st.st_mode));
	int l2 = socket(AF_UNIX, SOCK_STREAM, 0);
	SHOW("bind to the same path: EADDRINUSE", bind(l2, (struct sockaddr *)&a, len));
	SHOW("connect before listen: ECONNREFUSED", connect(l2, (struct sockaddr *)&a, len));
	close(l2);
	SHOW("listen", listen(l, 4));
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	show_poll("fresh socket", c, POLLIN | POLLOUT);
	show_poll("listener, nothing queued", l, POLLIN);
	SHOW("connect", connect(c, (struct sockaddr *)&a, len));
	SHOW("connect again: EISCONN", connect(c, (struct sockaddr *)&a, len));
	show_poll("listener, a connection queued", l, POLLIN);
	struct sockaddr_un pa;
	socklen_t plen = sizeof(pa);
	int s = accept(l, (struct sockaddr *)&pa, &plen);
	printf("accept: %s, address length %u\n", s >= 0 ? "a descriptor" : "failed", plen);
	show_name("getsockname of the client", getsockname, c);
	show_name("getpeername of the client", getpeername, c);
	show_name("getsockname of the accepted", getsockname, s);
	show_name("getpeername of the accepted", getpeername, s);
	show_name("getsockname of the listener", getsockname, l);
	show_name("getpeername of the listener", getpeername, l);

	struct ucred cr;
	socklen_t crl = sizeof(cr);
	SHOW("SO_PEERCRED", getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cr, &crl));
	printf("peer credentials: pid ours %d uid ours %d gid ours %d len %u\n", cr.pid == getpid(),
	       cr.uid == getuid(), cr.gid == getgid(), crl);
	int v;
	socklen_t vl = sizeof(v);
	getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl);
	printf("SO_TYPE %d", v);
	getsockopt(s, SOL_SOCKET, SO_DOMAIN, &v, &vl);
	printf(" SO_DOMAIN %d", v);
	getsockopt(l, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl);
	printf(" SO_ACCEPTCONN %d\n", v);

	show_poll("accepted, nothing sent", s, POLLIN | POLLOUT);
	SHOW("write hello", write(c, "hello", 5));
	show_poll("accepted, hello sent", s, POLLIN | POLLOUT);
	show_read("read", s, 64);
	SHOW("recv MSG_DONTWAIT on empty", recv(s, &v, 1, MSG_DONTWAIT));
	SHOW("shutdown SHUT_WR", shutdown(c, SHUT_WR));
	show_poll("accepted after the peer's SHUT_WR", s, POLLIN | POLLOUT | POLLRDHUP);
	show_read("read after SHUT_WR: end of file", s, 64);
	SHOW("write after SHUT_WR: EPIPE", send(c, "x", 1, MSG_NOSIGNAL));
	SHOW("the other way still goes", write(s, "back", 4));
	show_read("read", c, 64);
	close(s);
	show_poll("client after the peer's close", c, POLLIN | POLLOUT);
	show_read("read after the peer's close", c, 64);
	signal(SIGPIPE, SIG_IGN);
	close(c);

	int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	(void)connect(c2, (struct sockaddr *)&a, len);
	s = accept(l, NULL, NULL);
	close(s);
	SHOW("write to a closed peer: EPIPE", write(c2, "x", 1));
	signal(SIGPIPE, SIG_DFL);
	pid_t pid = fork();
	if (!pid) {
		write(c2, "x", 1);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	show_status("a child writing to a closed peer", status);
	close(c2);

	c2 = socket(AF_UNIX, SOCK_STREAM, 0);
	(void)connect(c2, (struct sockaddr *)&a, len);
	s = accept(l, NULL, NULL);
	write(c2, "unread", 6);
	close(s); /* with unread data: the peer hears ECONNRESET */
	show_read("read after a close with unread data", c2, 64);
	close(c2);

	close(l);
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	SHOW("connect to a closed listener's path", connect(c, (struct sockaddr *)&a, len));
	SHOW("unlink", unlink(PATH));
	SHOW("stat after unlink", stat(PATH, &st));
	SHOW("connect to no path: ENOENT", connect(c, (struct sockaddr *)&a, len));
	len = un_addr(&a, "/etc/passwd", sizeof("/etc/passwd"));
	SHOW("connect to a file: ECONNREFUSED", connect(c, (struct sockaddr *)&a, len));
	SHOW("recv unconnected: EINVAL", recv(c, &v, 1, 0));
	SHOW("send unconnected: ENOTCONN", send(c, "x", 1, 0));
	SHOW("shutdown unconnected: 0 on AF_UNIX", shutdown(c, SHUT_RDWR));
	SHOW("getpeername unconnected: ENOTCONN", getpeername(c, (struct sockaddr *)&a, &len));
	a.sun_family = AF_INET;
	SHOW("bind another family: EINVAL", bind(c, (struct sockaddr *)&a, len));
	SHOW("bind too short: EINVAL", bind(c, (struct sockaddr *)&a, 1));
	close(c);
}

static void abstract_names(void)
{
	struct sockaddr_un a;
	socklen_t len = un_addr(&a, "\0t_unix_abstract", 16);

	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	SHOW("bind abstract", bind(l, (struct sockaddr *)&a, len));
	show_name("getsockname abstract", getsockname, l);
	int l2 = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	SHOW("bind abstract again: EADDRINUSE", bind(l2, (struct sockaddr *)&a, len));
	listen(l, 2);
	int c = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0);
	SHOW("connect abstract, non-blocking: at once", connect(c, (struct sockaddr *)&a, len));
	int d = socket(AF_UNIX, SOCK_STREAM, 0);
	SHOW("stream to an abstract seqpacket: ECONNREFUSED",
	     connect(d, (struct sockaddr *)&a, len));
	int s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	SHOW("accept4 CLOEXEC", fcntl(s, F_GETFD));
	SHOW("send 3", send(c, "abc", 3, 0));
	SHOW("send 2", send(c, "de", 2, 0));
	show_read("seqpacket: a record", s, 64);
	show_read("seqpacket: cut to 1", s, 1);
	SHOW("the rest is gone: EAGAIN", recv(s, &d, 1, MSG_DONTWAIT));
	close(c);
	show_read("seqpacket after close: end of file", s, 64);
	close(s);
	SHOW("autobind", bind(l2, (struct sockaddr *)&a, sizeof(sa_family_t)));
	socklen_t alen = sizeof(a);
	getsockname(l2, (struct sockaddr *)&a, &alen);
	printf("autobound: length %u, abstract %d\n", alen, a.sun_path[0] == 0);
	close(l), close(l2), close(d);
}

static void pairs(void)
{
	int sv[2];
	char buf[16];
	struct iovec iov = {buf, sizeof(buf)};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

	SHOW("socketpair AF_INET: EOPNOTSUPP", socketpair(AF_INET, SOCK_STREAM, 0, sv));
	SHOW("socketpair bad type", socketpair(AF_UNIX, 42, 0, sv));
	SHOW("socketpair bad protocol", socketpair(AF_UNIX, SOCK_STREAM, 7, sv));
	int *volatile badp = (int *)16;
	SHOW("socketpair EFAULT", socketpair(AF_UNIX, SOCK_STREAM, 0, badp));
	SHOW("socketpair stream", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
	write(sv[0], "one", 3);
	write(sv[0], "two", 3);
	show_read("stream: bytes run together", sv[1], 64);
	write(sv[1], "back", 4);
	SHOW("FIONREAD", int_of(sv[0], FIONREAD));
	show_read("the other way", sv[0], 64);
	struct ucred cr;
	socklen_t crl = sizeof(cr);
	getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &cr, &crl);
	printf("socketpair SO_PEERCRED pid ours: %d\n", cr.pid == getpid());
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	long total = 0, r;
	static char big[4096];
	while ((r = write(sv[0], big, sizeof(big))) > 0)
		total += r;
	printf("filled: %s errno %d\n", total > 0 && r < 0 ? "yes" : "no", errno);
	show_poll("full: not writable", sv[0], POLLOUT);
	fcntl(sv[0], F_SETFL, 0);
	struct timeval tv = {0, 200000}, got;
	socklen_t tl = sizeof(got);
	SHOW("SO_SNDTIMEO 200 ms", setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)));
	getsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &got, &tl);
	printf("SO_SNDTIMEO reads back %ld.%06ld len %u\n", (long)got.tv_sec, (long)got.tv_usec,
	       tl);
	long long t0 = now_ms();
	SHOW("blocking write to a full socket: EAGAIN after the timeout", write(sv[0], big, 1));
	long long dt = now_ms() - t0;
	printf("it waited about the timeout: %d\n", dt >= 150 && dt < 5000);
	close(sv[0]), close(sv[1]);

	SHOW("socketpair dgram", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
	send(sv[0], "ab", 2, 0);
	send(sv[0], "cde", 3, 0);
	SHOW("FIONREAD: the next datagram", int_of(sv[1], FIONREAD));
	show_read("dgram: one", sv[1], 64);
	iov.iov_len = 1;
	SHOW("recvmsg cut to 1", recvmsg(sv[1], &m, 0));
	printf("msg_flags MSG_TRUNC: %d\n", (m.msg_flags & MSG_TRUNC) != 0);
	SHOW("SO_TYPE dgram", int_of(sv[0], SO_TYPE));
	tv = (struct timeval){0, 100000};
	setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t0 = now_ms();
	SHOW("recv with SO_RCVTIMEO 100 ms: EAGAIN", recv(sv[1], buf, 1, 0));
	dt = now_ms() - t0;
	printf("it waited about the timeout: %d\n", dt >= 70 && dt < 5000);
	tv = (struct timeval){0, 1000000};
	SHOW("SO_RCVTIMEO usec 1000000: EDOM",
	     setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)));
	SHOW("SO_RCVTIMEO short: EINVAL", setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, 8));
	close(sv[1]);
	SHOW("dgram to a closed peer", send(sv[0], "x", 1, 0));
	SHOW("and again", send(sv[0], "x", 1, 0));
	close(sv[0]);
}

/* A pipe's read end goes through a socketpair; the received descriptor reads the pipe. */
static void rights(void)
{
	int sv[2], p[2];
	char c = 'r', cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = {&c, 1};
	struct msghdr m = {.msg_iov = &iov,
	                   .msg_iovlen = 1,
	                   .msg_control = cbuf,
	                   .msg_controllen = CMSG_SPACE(sizeof(int))};
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pipe(p);
	h->cmsg_level = SOL_SOCKET, h->cmsg_type = SCM_RIGHTS, h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &p[0], sizeof(int));
	SHOW("sendmsg SCM_RIGHTS", sendmsg(sv[0], &m, 0));
	close(p[0]);
	write(p[1], "through", 7);
	memset(cbuf, 0, sizeof(cbuf));
	m.msg_controllen = sizeof(cbuf);
	c = 0;
	SHOW("recvmsg", recvmsg(sv[1], &m, 0));
	h = CMSG_FIRSTHDR(&m);
	printf("byte %c controllen %zu level %d type %d len %zu\n", c, (size_t)m.msg_controllen,
	       h ? h->cmsg_level : -1, h ? h->cmsg_type : -1, h ? (size_t)h->cmsg_len : 0);
	int fd = -1;
	if (h)
		memcpy(&fd, CMSG_DATA(h), sizeof(int));
	show_read("read through the received descriptor", fd, 64);
	close(fd);
	int bad = 999;
	m.msg_controllen = CMSG_SPACE(sizeof(int));
	h = CMSG_FIRSTHDR(&m);
	h->cmsg_level = SOL_SOCKET, h->cmsg_type = SCM_RIGHTS, h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &bad, sizeof(int));
	SHOW("sendmsg SCM_RIGHTS of a closed descriptor: EBADF", sendmsg(sv[0], &m, 0));
	close(sv[0]), close(sv[1]), close(p[1]);
}

/* epoll and select on a socketpair, and waits ended by another process. */
static void readiness(void)
{
	int sv[2], st;
	char c = 0;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = 5}, got[2];
	fd_set rs;
	struct timeval tv = {0, 0};

	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	int ep = epoll_create1(0);
	epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev);
	SHOW("epoll: nothing yet", epoll_wait(ep, got, 2, 0));
	pid_t pid = fork();
	if (!pid) {
		usleep(100000);
		write(sv[0], "e", 1);
		_exit(0);
	}
	int n = epoll_wait(ep, got, 2, 5000);
	printf("epoll: a write of another process: %d events %#x data %u\n", n, got[0].events,
	       got[0].data.u32);
	SHOW("epoll edge-triggered: not again", epoll_wait(ep, got, 2, 0));
	waitpid(pid, &st, 0);
	FD_ZERO(&rs);
	FD_SET(sv[1], &rs);
	SHOW("select: readable", select(sv[1] + 1, &rs, NULL, NULL, &tv));
	read(sv[1], &c, 1);
	pid = fork();
	if (!pid) /* blocks in read until the parent writes */
		_exit(read(sv[1], &c, 1) == 1 && c == 'w' ? 0 : 1);
	usleep(100000);
	write(sv[0], "w", 1);
	waitpid(pid, &st, 0);
	show_status("a reader blocked until another process wrote", st);
	close(ep), close(sv[0]), close(sv[1]);
}

static void dgram_names(void)
{
	struct sockaddr_un a, from;
	socklen_t len = un_addr(&a, PATH, sizeof(PATH)), fl = sizeof(from);
	char buf[16] = {0};

	unlink(PATH);
	int r = socket(AF_UNIX, SOCK_DGRAM, 0), w = socket(AF_UNIX, SOCK_DGRAM, 0);
	(void)bind(r, (struct sockaddr *)&a, len);
	SHOW("sendto a path", sendto(w, "dg", 2, 0, (struct sockaddr *)&a, len));
	SHOW("recvfrom", recvfrom(r, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl));
	printf("'%s' from an unnamed sender: length %u\n", buf, fl);
	SHOW("send unconnected: ENOTCONN", send(w, "x", 1, 0));
	int e = socket(AF_UNIX, SOCK_STREAM, 0);
	SHOW("listen on dgram: EOPNOTSUPP", listen(r, 1));
	SHOW("sendto a stream socket's path", sendto(e, "x", 1, 0, (struct sockaddr *)&a, len));
	SHOW("stream connect to a dgram path: EPROTOTYPE", connect(e, (struct sockaddr *)&a, len));
	close(e), close(r), close(w);
	unlink(PATH);
}

/* TCP between two processes on 127.0.0.1 (the child connects, the parent serves). */
static void loop_tcp(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	char buf[16] = {0};

	int l = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("bind 127.0.0.1:0", bind(l, (struct sockaddr *)&a, len));
	SHOW("listen", listen(l, 4));
	getsockname(l, (struct sockaddr *)&a, &len);
	pid_t pid = fork();
	if (!pid) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&a, sizeof(a)) || write(c, "ping", 4) != 4 ||
		    read(c, buf, 4) != 4 || memcmp(buf, "pong", 4))
			_exit(1);
		_exit(read(c, buf, 1) == 0 ? 0 : 2);
	}
	int s = accept(l, NULL, NULL);
	show_read("loopback: the child's", s, 4);
	SHOW("reply", write(s, "pong", 4));
	struct sockaddr_in p = {0};
	socklen_t pl = sizeof(p);
	getpeername(s, (struct sockaddr *)&p, &pl);
	int peer_lo = p.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	getsockname(s, (struct sockaddr *)&p, &pl);
	printf("peer 127.0.0.1: %d, our port: %d\n", peer_lo, p.sin_port == a.sin_port);
	close(s);
	int status;
	waitpid(pid, &status, 0);
	show_status("loopback client", status);

	int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	SHOW("non-blocking connect: EINPROGRESS", connect(c, (struct sockaddr *)&a, sizeof(a)));
	struct pollfd pf = {c, POLLOUT, 0};
	SHOW("poll POLLOUT", poll(&pf, 1, 2000));
	int v = -1;
	socklen_t vl = 4;
	getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &vl);
	printf("SO_ERROR %d\n", v);
	s = accept(l, NULL, NULL);
	struct linger lg = {1, 0}, lgot;
	socklen_t ll = sizeof(lgot);
	SHOW("SO_LINGER {1, 0}", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	getsockopt(s, SOL_SOCKET, SO_LINGER, &lgot, &ll);
	printf("SO_LINGER reads back {%d, %d} len %u\n", lgot.l_onoff, lgot.l_linger, ll);
	close(s); /* a reset */
	fcntl(c, F_SETFL, 0);
	show_read("read after the peer's reset", c, 4);
	close(c);

	int unused = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in u = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	(void)bind(unused, (struct sockaddr *)&u, sizeof(u));
	socklen_t ul = sizeof(u);
	getsockname(unused, (struct sockaddr *)&u, &ul);
	c = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("connect to a port nobody listens on: ECONNREFUSED",
	     connect(c, (struct sockaddr *)&u, sizeof(u)));
	close(c), close(unused), close(l);

	l = socket(AF_INET, SOCK_STREAM, 0); /* 0.0.0.0 serves loopback too */
	a.sin_addr.s_addr = htonl(INADDR_ANY), a.sin_port = 0;
	(void)bind(l, (struct sockaddr *)&a, sizeof(a));
	listen(l, 1);
	len = sizeof(a);
	getsockname(l, (struct sockaddr *)&a, &len);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(AF_INET, SOCK_STREAM, 0);
	SHOW("connect 127.0.0.1 to a listener on 0.0.0.0",
	     connect(c, (struct sockaddr *)&a, sizeof(a)));
	close(c), close(l);
}

static void loop_udp(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
	                   w = {0}, from = {0};
	socklen_t len = sizeof(a), fl = sizeof(from);
	char buf[16] = {0};

	int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
	SHOW("udp bind 127.0.0.1:0", bind(r, (struct sockaddr *)&a, len));
	getsockname(r, (struct sockaddr *)&a, &len);
	SHOW("udp sendto 127.0.0.1", sendto(s, "udp!", 4, 0, (struct sockaddr *)&a, sizeof(a)));
	SHOW("udp recvfrom", recvfrom(r, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl));
	len = sizeof(w);
	getsockname(s, (struct sockaddr *)&w, &len);
	printf("'%s' from 127.0.0.1: %d, the sender's port: %d\n", buf,
	       from.sin_addr.s_addr == htonl(INADDR_LOOPBACK), from.sin_port == w.sin_port);
	close(r);
	SHOW("udp connect to the closed port", connect(s, (struct sockaddr *)&a, sizeof(a)));
	SHOW("send", send(s, "x", 1, 0));
	SHOW("then ECONNREFUSED", recv(s, buf, 1, MSG_DONTWAIT));
	close(s);
}

/* A message of n bytes: byte i is i * 7 + salt (mod 256). */
static char big_out[400000], big_in[400000];

static void pattern(size_t n, int salt)
{
	for (size_t i = 0; i < n; i++)
		big_out[i] = (char)(i * 7 + (size_t)salt);
}

static int matches(size_t n, int salt)
{
	for (size_t i = 0; i < n; i++)
		if (big_in[i] != (char)(i * 7 + (size_t)salt))
			return 0;
	return 1;
}

/* Messages above the 16 KiB a ring starts with: a stream send of any length completes
 * (blocking) and the reader joins the pieces; datagrams and records up to SO_SNDBUF - 32. */
static void big_messages(void)
{
	int sv[2], st;
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pattern(300000, 1);
	pid_t c = fork();
	if (c == 0) {
		close(sv[0]);
		long w = write(sv[1], big_out, 300000);
		printf("stream: one write of 300000 bytes wrote %ld\n", w);
		_exit(0);
	}
	close(sv[1]);
	size_t got = 0;
	long r, reads = 0;
	while ((r = read(sv[0], big_in + got, sizeof(big_in) - got)) > 0)
		got += (size_t)r, reads++;
	waitpid(c, &st, 0);
	/* how many reads it takes depends on when the reader runs (on Linux too): not printed */
	printf("stream: read %zu bytes in %s, in order %d\n", got, reads ? "reads" : "none",
	       matches(300000, 1));
	close(sv[0]);

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
	r = send(sv[0], big_out, 300000, 0);
	printf("stream non-blocking: a part went %d\n", r > 0 && r < 300000);
	close(sv[0]);
	close(sv[1]);

	int sndbuf = 0;
	socklen_t l = sizeof(sndbuf);
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &l);
	printf("dgram SO_SNDBUF: %d\n", sndbuf);
	pattern(100000, 2);
	SHOW("dgram send 100000", send(sv[0], big_out, 100000, 0));
	memset(big_in, 0, 100000);
	SHOW("dgram recv", recv(sv[1], big_in, sizeof(big_in), 0));
	printf("  same bytes %d\n", matches(100000, 2));
	SHOW("dgram send SO_SNDBUF - 32", send(sv[0], big_out, (size_t)sndbuf - 32, 0));
	SHOW("dgram recv it, truncated to 10", recv(sv[1], big_in, 10, MSG_TRUNC));
	SHOW("dgram send SO_SNDBUF - 31: EMSGSIZE", send(sv[0], big_out, (size_t)sndbuf - 31, 0));
	int small = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	SHOW("after SO_SNDBUF 4096: 8160", send(sv[0], big_out, 8160, 0));
	SHOW("8161: EMSGSIZE", send(sv[0], big_out, 8161, 0));
	SHOW("recv", recv(sv[1], big_in, sizeof(big_in), 0));
	close(sv[0]);
	close(sv[1]);

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
	pattern(150000, 3);
	SHOW("seqpacket send 150000", send(sv[0], big_out, 150000, 0));
	SHOW("seqpacket send 5", send(sv[0], "small", 5, 0));
	memset(big_in, 0, 150000);
	SHOW("seqpacket recv", recv(sv[1], big_in, sizeof(big_in), 0));
	printf("  same bytes %d\n", matches(150000, 3));
	SHOW("seqpacket recv the next", recv(sv[1], big_in, sizeof(big_in), 0));
	close(sv[0]);
	close(sv[1]);
}

/* A recvmsg's SCM_CREDENTIALS, if any: the pid compared with want; -1: none. */
static int creds_of(int s, char *buf, size_t n, pid_t want, long *got)
{
	union {
		char b[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr h;
	} u;
	struct iovec v = {buf, n};
	struct msghdr m = {
	    .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
	*got = recvmsg(s, &m, 0);
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);
	if (!h || h->cmsg_type != SCM_CREDENTIALS || h->cmsg_len != CMSG_LEN(sizeof(struct ucred)))
		return -1;
	struct ucred cr;
	memcpy(&cr, CMSG_DATA(h), sizeof(cr));
	return cr.pid == want && cr.uid == 0 && cr.gid == 0;
}

static long send_creds(int s, const char *msg, pid_t pid, uid_t uid, size_t clen)
{
	union {
		char b[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr h;
	} u;
	struct ucred cr = {pid, uid, 0};
	struct iovec v = {(void *)msg, strlen(msg)};
	struct msghdr m = {
	    .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof(u.b)};
	u.h.cmsg_level = SOL_SOCKET, u.h.cmsg_type = SCM_CREDENTIALS, u.h.cmsg_len = clen;
	memcpy(CMSG_DATA(&u.h), &cr, sizeof(cr));
	return sendmsg(s, &m, 0);
}

/* SO_PASSCRED and SCM_CREDENTIALS (everyone is root: any existing pid may be sent). */
static void credentials(void)
{
	int sv[2], on = 1, v = -1, st;
	socklen_t l = sizeof(v);
	char buf[64];
	long got;

	socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
	getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &l);
	printf("SO_PASSCRED at first: %d\n", v);
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	getsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &v, &l);
	printf("SO_PASSCRED set: %d\n", v);
	send(sv[0], "plain", 5, 0);
	int ok = creds_of(sv[1], buf, sizeof(buf), getpid(), &got);
	printf("dgram without SCM_CREDENTIALS: %ld bytes, credentials of the sender %d\n", got, ok);
	SHOW("send own credentials", send_creds(sv[0], "mine", getpid(), 0, CMSG_LEN(12)));
	ok = creds_of(sv[1], buf, sizeof(buf), getpid(), &got);
	printf("  received: %ld bytes, the same %d\n", got, ok);
	pid_t c = fork();
	if (c == 0) {
		char b;
		read(sv[1], &b, 0);
		pause();
		_exit(0);
	}
	SHOW("send another process's pid (root may)", send_creds(sv[0], "his", c, 0, CMSG_LEN(12)));
	ok = creds_of(sv[1], buf, sizeof(buf), c, &got);
	printf("  received: %ld bytes, its pid %d\n", got, ok);
	kill(c, SIGKILL);
	waitpid(c, &st, 0);
	SHOW("send the pid of no process: ESRCH", send_creds(sv[0], "x", c, 0, CMSG_LEN(12)));
	SHOW("send uid -1: EINVAL", send_creds(sv[0], "x", getpid(), (uid_t)-1, CMSG_LEN(12)));
	SHOW("cmsg_len short: EINVAL", send_creds(sv[0], "x", getpid(), 0, CMSG_LEN(8)));
	close(sv[0]);
	close(sv[1]);

	/* A stream reader with SO_PASSCRED never joins two writers' bytes in one read. */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on));
	write(sv[0], "parent", 6);
	if ((c = fork()) == 0) {
		write(sv[0], "child", 5);
		_exit(0);
	}
	waitpid(c, &st, 0);
	write(sv[0], "again", 5);
	memset(buf, 0, sizeof(buf));
	ok = creds_of(sv[1], buf, sizeof(buf), getpid(), &got);
	printf("stream read 1: '%.*s' parent's %d\n", (int)got, buf, ok);
	ok = creds_of(sv[1], buf, sizeof(buf), c, &got);
	printf("stream read 2: '%.*s' child's %d\n", (int)got, buf, ok);
	ok = creds_of(sv[1], buf, sizeof(buf), getpid(), &got);
	printf("stream read 3: '%.*s' parent's %d\n", (int)got, buf, ok);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	stream_path();
	abstract_names();
	pairs();
	rights();
	readiness();
	dgram_names();
	loop_tcp();
	loop_udp();
	big_messages();
	credentials();
	return 0;
}
