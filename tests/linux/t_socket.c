/*
 * Sockets (issue 15 item 7), self-checking: t_socket SERVER-IP. The test
 * runner (tests/system/linux-net/run.py) keeps a TCP and a UDP echo server
 * on SERVER-IP port 7 (and nothing on port 1), and connects to our
 * listener on port 7070 when this program says it listens. Each check
 * prints "t_socket: ok NAME" or "t_socket: FAIL NAME: details"; the last
 * line counts the failures. Covered: socket's flags and errors, blocking
 * and non-blocking connect (EINPROGRESS, poll POLLOUT, SO_ERROR), send,
 * recv, sendto, recvfrom, sendmsg, recvmsg, read/write/readv/writev,
 * MSG_PEEK, MSG_DONTWAIT and EAGAIN, shutdown, getsockname/getpeername,
 * get/setsockopt, ECONNREFUSED, EPIPE with and without SIGPIPE, fork
 * sharing a socket, epoll, UDP (connected, MSG_TRUNC), bind/listen/accept4,
 * EFAULT in every call with a pointer, EMFILE and ENOBUFS.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

#define BAD ((void *)16) /* an address no process maps */

static int checks, failed;
static struct sockaddr_in server;

static void check(int ok, const char *name, const char *fmt, long a, long b)
{
	checks++;
	if (ok) {
		printf("t_socket: ok %s\n", name);
		return;
	}
	failed++;
	printf("t_socket: FAIL %s: ", name);
	printf(fmt, a, b);
	printf("\n");
}

/* r must be -1 with errno e */
static void check_err(long r, int e, const char *name)
{
	int got = errno;
	check(r == -1 && got == e, name, "result %ld errno %ld", r, r == -1 ? got : 0);
}

static struct sockaddr_in addr_of(in_addr_t ip, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = ip;
	return a;
}

static int tcp_to(int port, int flags)
{
	int s = socket(AF_INET, SOCK_STREAM | flags, 0);
	struct sockaddr_in a = server;
	a.sin_port = htons(port);
	if (connect(s, (struct sockaddr *)&a, sizeof(a)) && errno != EINPROGRESS) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* Read exactly n bytes (the echo may come in pieces). */
static long read_all(int s, char *buf, long n)
{
	long got = 0;
	while (got < n) {
		long r = read(s, buf + got, n - got);
		if (r <= 0)
			return r < 0 ? r : got;
		got += r;
	}
	return got;
}

static void socket_calls(void)
{
	int p[2];

	int u = socket(AF_UNIX, SOCK_STREAM, 0);
	check(u >= 0, "socket(AF_UNIX) (t_unix tests it)", "%ld errno %ld", u, errno);
	close(u);
	/* No IPv6 in Floo: busybox and libc fall back to AF_INET (docs/decisions.md) */
	check_err(socket(AF_INET6, SOCK_STREAM, 0), EAFNOSUPPORT, "socket(AF_INET6): EAFNOSUPPORT");
	check_err(socket(AF_INET6, SOCK_DGRAM, 0), EAFNOSUPPORT,
	          "socket(AF_INET6, DGRAM): EAFNOSUPPORT");
	check_err(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT,
	          "socket(STREAM, UDP): EPROTONOSUPPORT");
	check_err(socket(AF_INET, 99, 0), EINVAL, "socket(type 99): EINVAL");
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	check(s >= 0 && (fcntl(s, F_GETFL) & O_NONBLOCK) && fcntl(s, F_GETFD) == FD_CLOEXEC,
	      "SOCK_NONBLOCK | SOCK_CLOEXEC", "fd %ld flags %#lx", s, fcntl(s, F_GETFL));
	struct stat st;
	check(fstat(s, &st) == 0 && S_ISSOCK(st.st_mode), "fstat: S_IFSOCK", "mode %#lo %ld",
	      (long)st.st_mode, 0);
	int v = -1;
	socklen_t len = sizeof(v);
	check(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &len) == 0 && v == SOCK_STREAM && len == 4,
	      "SO_TYPE", "%ld len %ld", v, len);
	v = 1;
	check(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v)) == 0 &&
	          setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof(v)) == 0 &&
	          setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) == 0,
	      "SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY set", "errno %ld %ld", errno, 0);
	v = 0, len = sizeof(v);
	check(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v == 1, "TCP_NODELAY get",
	      "%ld %ld", v, 0);
	v = 32768;
	check(setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v)) == 0 &&
	          setsockopt(s, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v)) == 0,
	      "SO_RCVBUF, SO_SNDBUF accepted", "errno %ld %ld", errno, 0);
	check_err(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2), EINVAL,
	          "setsockopt optlen 2: EINVAL");
	check_err(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, BAD, 4), EFAULT, "setsockopt: EFAULT");
	check_err(getsockopt(s, SOL_SOCKET, SO_TYPE, BAD, &len), EFAULT,
	          "getsockopt optval: EFAULT");
	check_err(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, BAD), EFAULT, "getsockopt optlen: EFAULT");
	check_err(getsockopt(s, SOL_SOCKET, 12345, &v, &len), ENOPROTOOPT,
	          "getsockopt: ENOPROTOOPT");
	check_err(connect(s, BAD, sizeof(server)), EFAULT, "connect: EFAULT");
	check_err(bind(s, BAD, sizeof(server)), EFAULT, "bind: EFAULT");
	check_err(bind(s, (struct sockaddr *)&server, 8), EINVAL, "bind: short address EINVAL");
	struct sockaddr_in other = addr_of(inet_addr("192.0.2.1"), 0);
	check_err(bind(s, (struct sockaddr *)&other, sizeof(other)), EADDRNOTAVAIL,
	          "bind to an address not ours: EADDRNOTAVAIL");
	check_err(getpeername(s, (struct sockaddr *)&other, &len), ENOTCONN,
	          "getpeername: ENOTCONN");
	check_err(recv(s, &v, 1, 0), ENOTCONN, "recv unconnected: ENOTCONN");
	check_err(shutdown(s, SHUT_WR), ENOTCONN, "shutdown unconnected: ENOTCONN");
	check_err(shutdown(s, 7), EINVAL, "shutdown how 7: EINVAL");
	check_err(accept(s, NULL, NULL), EINVAL, "accept on a non-listener: EINVAL");
	close(s);
	pipe(p);
	check_err(connect(p[0], (struct sockaddr *)&server, sizeof(server)), ENOTSOCK,
	          "connect on a pipe: ENOTSOCK");
	check_err(send(p[1], "x", 1, 0), ENOTSOCK, "send on a pipe: ENOTSOCK");
	check_err(listen(99, 1), EBADF, "listen on a closed fd: EBADF");
	close(p[0]);
	close(p[1]);
	s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in lo = addr_of(htonl(INADDR_LOOPBACK), 7);
	check_err(connect(s, (struct sockaddr *)&lo, sizeof(lo)), ECONNREFUSED,
	          "connect to 127.0.0.1:7, nobody listens: ECONNREFUSED");
	close(s);
}

static void tcp_echo(void)
{
	char buf[70000], out[70000];
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);

	int s = tcp_to(7, 0);
	check(s >= 0, "blocking connect to the echo server", "errno %ld %ld", errno, 0);
	if (s < 0)
		return;
	struct timeval tv = {0, 300000};
	struct timespec t0, t1;
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long r0 = recv(s, buf, 1, 0);
	int e0 = errno;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	check(r0 == -1 && e0 == EAGAIN && ms >= 250, "SO_RCVTIMEO 300 ms on Floo: EAGAIN in time",
	      "result %ld after %ld ms", r0 == -1 ? -e0 : r0, ms);
	tv = (struct timeval){0, 0};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	check(getpeername(s, (struct sockaddr *)&a, &len) == 0 && len == sizeof(a) &&
	          a.sin_port == htons(7) && a.sin_addr.s_addr == server.sin_addr.s_addr,
	      "getpeername", "port %ld len %ld", ntohs(a.sin_port), len);
	len = sizeof(a);
	check(getsockname(s, (struct sockaddr *)&a, &len) == 0 && ntohs(a.sin_port) >= 1024 &&
	          a.sin_addr.s_addr != 0,
	      "getsockname: an ephemeral port, our address", "port %ld %ld", ntohs(a.sin_port), 0);
	check_err(getsockname(s, BAD, &len), EFAULT, "getsockname: EFAULT");
	check_err(connect(s, (struct sockaddr *)&server, sizeof(server)), EISCONN,
	          "connect again: EISCONN");
	check(send(s, "hello\n", 6, 0) == 6 && read_all(s, buf, 6) == 6 &&
	          !memcmp(buf, "hello\n", 6),
	      "send and read back", "%ld %ld", 0, 0);
	for (int i = 0; i < (int)sizeof(out); i++)
		out[i] = (char)(i * 7 + i / 256);
	long sent = 0;
	while (sent < (long)sizeof(out)) { /* more than the send ring: it waits for ACKs */
		long r = write(s, out + sent, sizeof(out) - sent);
		if (r <= 0)
			break;
		sent += r;
		long got = read_all(s, buf + sent - r, r);
		if (got != r)
			break;
	}
	check(sent == (long)sizeof(out) && !memcmp(buf, out, sizeof(out)),
	      "70,000 bytes echoed intact (write, read)", "sent %ld %ld", sent, 0);
	struct iovec wv[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}}, rv[2] = {{buf, 3}, {buf + 3, 3}};
	check(writev(s, wv, 3) == 6 && read_all(s, buf, 6) == 6 && !memcmp(buf, "abcdef", 6),
	      "writev", "%ld %ld", 0, 0);
	send(s, "uvwxyz", 6, 0);
	usleep(200000);
	check(recv(s, buf, 2, MSG_PEEK) == 2 && !memcmp(buf, "uv", 2), "MSG_PEEK", "%ld %ld", 0, 0);
	int n = -1;
	check(ioctl(s, FIONREAD, &n) == 0 && n == 6, "FIONREAD", "%ld %ld", n, 0);
	check(readv(s, rv, 2) == 6 && !memcmp(buf, "uvwxyz", 6), "readv", "%ld %ld", 0, 0);
	check_err(recv(s, buf, 1, MSG_DONTWAIT), EAGAIN, "MSG_DONTWAIT with nothing: EAGAIN");
	check(read(s, buf, 0) == 0, "a read of 0 bytes does not wait", "errno %ld %ld", errno, 0);
	check_err(send(s, BAD, 10, 0), EFAULT, "send: EFAULT");
	check_err(recv(s, BAD, 10, MSG_DONTWAIT), EFAULT, "recv into a bad buffer: EFAULT");
	/* musl's sendmsg reads the header itself: the system call, as a C library may make it */
	check_err(syscall(SYS_sendmsg, s, BAD, 0), EFAULT, "sendmsg: EFAULT");
	check_err(syscall(SYS_recvmsg, s, BAD, MSG_DONTWAIT), EFAULT, "recvmsg: EFAULT");
	struct msghdr m = {0};
	struct iovec iv = {"msg!", 4}, ir = {buf, sizeof(buf)};
	m.msg_iov = &iv, m.msg_iovlen = 1;
	check(sendmsg(s, &m, 0) == 4, "sendmsg", "%ld %ld", errno, 0);
	m.msg_iov = &ir;
	usleep(200000);
	check(recvmsg(s, &m, 0) == 4 && !memcmp(buf, "msg!", 4) && m.msg_flags == 0, "recvmsg",
	      "flags %ld %ld", m.msg_flags, 0);
	/* fork: the child writes on the shared socket, the parent reads the echo */
	pid_t c = fork();
	if (c == 0) {
		_exit(write(s, "child\n", 6) == 6 ? 0 : 1);
	}
	int st;
	waitpid(c, &st, 0);
	check(WIFEXITED(st) && !WEXITSTATUS(st) && read_all(s, buf, 6) == 6 &&
	          !memcmp(buf, "child\n", 6),
	      "fork: the child's write, the parent's read", "status %ld %ld", st, 0);
	/* epoll: readable once the echo is back */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 77}, got[2];
	epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	check(epoll_wait(ep, got, 2, 0) == 0, "epoll: nothing to read yet", "%ld %ld", 0, 0);
	send(s, "E", 1, 0);
	int r = epoll_wait(ep, got, 2, 5000);
	check(r == 1 && got[0].data.u32 == 77 && (got[0].events & EPOLLIN), "epoll: EPOLLIN",
	      "%ld events %#lx", r, got[0].events);
	recv(s, buf, 1, 0);
	close(ep);
	/* SO_LINGER {1, 2}: close waits for what was sent (at most 2 s), then says 0 */
	int g = tcp_to(7, 0);
	struct linger lg = {1, 2};
	check(setsockopt(g, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) == 0 &&
	          write(g, out, 20000) == 20000,
	      "SO_LINGER {1, 2} and 20,000 bytes", "errno %ld %ld", errno, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = close(g);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	check(r == 0 && ms < 2500, "close with SO_LINGER: 0 within the linger time",
	      "%ld after %ld ms", r, ms);
	/* shutdown(SHUT_WR): the echo server sees the end, closes, we read 0 */
	check(shutdown(s, SHUT_WR) == 0 && read(s, buf, 1) == 0, "shutdown(SHUT_WR): end of stream",
	      "%ld %ld", errno, 0);
	check_err(send(s, "x", 1, MSG_NOSIGNAL), EPIPE, "send after SHUT_WR, MSG_NOSIGNAL: EPIPE");
	c = fork();
	if (c == 0) {
		send(s, "x", 1, 0);
		_exit(0);
	}
	waitpid(c, &st, 0);
	check(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE, "send after SHUT_WR: SIGPIPE",
	      "status %#lx %ld", st, 0);
	signal(SIGPIPE, SIG_IGN);
	check_err(write(s, "x", 1), EPIPE, "write after SHUT_WR, SIGPIPE ignored: EPIPE");
	signal(SIGPIPE, SIG_DFL);
	check(close(s) == 0, "close", "%ld %ld", errno, 0);
}

static void nonblocking(void)
{
	errno = 0;
	int s = tcp_to(7, SOCK_NONBLOCK);
	int e = errno;
	struct pollfd pf = {s, POLLOUT, 0};

	check(s >= 0 && e == EINPROGRESS, "non-blocking connect: EINPROGRESS", "fd %ld errno %ld",
	      s, e);
	/* EALREADY while the handshake is under way; 0 if it is done already (a fast peer) */
	errno = 0;
	int again = connect(s, (struct sockaddr *)&server, sizeof(server)), e2 = errno;
	check(again == 0 || (again == -1 && e2 == EALREADY), "connect while connecting: EALREADY",
	      "result %ld errno %ld", again, e2);
	int r = poll(&pf, 1, 10000);
	check(r == 1 && (pf.revents & POLLOUT), "poll: POLLOUT once connected", "%ld revents %#lx",
	      r, pf.revents);
	int v = -1;
	socklen_t len = sizeof(v);
	check(getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &len) == 0 && v == 0, "SO_ERROR 0", "%ld %ld",
	      v, 0);
	if (again == 0)
		check_err(connect(s, (struct sockaddr *)&server, sizeof(server)), EISCONN,
		          "connect after completion (reported): EISCONN");
	else
		check(connect(s, (struct sockaddr *)&server, sizeof(server)) == 0,
		      "connect after completion: 0", "errno %ld %ld", errno, 0);
	check_err(recv(s, &v, 1, 0), EAGAIN, "O_NONBLOCK recv: EAGAIN");
	close(s);

	s = tcp_to(1, SOCK_NONBLOCK); /* nothing listens on port 1 */
	pf = (struct pollfd){s, POLLOUT, 0};
	r = poll(&pf, 1, 10000);
	v = -1;
	len = sizeof(v);
	getsockopt(s, SOL_SOCKET, SO_ERROR, &v, &len);
	check(r == 1 && (pf.revents & POLLERR) && v == ECONNREFUSED,
	      "non-blocking connect to a closed port: POLLERR, SO_ERROR ECONNREFUSED",
	      "revents %#lx so_error %ld", pf.revents, v);
	close(s);
	check(tcp_to(1, 0) == -1 && errno == ECONNREFUSED, "blocking connect: ECONNREFUSED",
	      "errno %ld %ld", errno, 0);
}

static void udp(void)
{
	char buf[2000];
	struct sockaddr_in from = {0};
	socklen_t len = sizeof(from);
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	check_err(send(u, "x", 1, 0), EDESTADDRREQ, "UDP send unconnected: EDESTADDRREQ");
	char big[1500] = {0};
	check_err(sendto(u, big, sizeof(big), 0, (struct sockaddr *)&server, sizeof(server)),
	          EMSGSIZE, "UDP 1500 bytes (no fragments here): EMSGSIZE");
	check(sendto(u, "ping", 4, 0, (struct sockaddr *)&server, sizeof(server)) == 4,
	      "UDP sendto", "errno %ld %ld", errno, 0);
	struct pollfd pf = {u, POLLIN, 0};
	poll(&pf, 1, 10000);
	long r = recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	check(r == 4 && !memcmp(buf, "ping", 4) && from.sin_port == htons(7) &&
	          from.sin_addr.s_addr == server.sin_addr.s_addr && len == sizeof(from),
	      "UDP recvfrom: the echo and its sender", "%ld port %ld", r, ntohs(from.sin_port));
	check(connect(u, (struct sockaddr *)&server, sizeof(server)) == 0 &&
	          send(u, "0123456789", 10, 0) == 10,
	      "UDP connect, send", "errno %ld %ld", errno, 0);
	poll(&pf, 1, 10000);
	struct msghdr m = {0};
	struct iovec iv = {buf, 4};
	m.msg_iov = &iv, m.msg_iovlen = 1;
	r = recvmsg(u, &m, 0);
	check(r == 4 && (m.msg_flags & MSG_TRUNC) && !memcmp(buf, "0123", 4),
	      "UDP recvmsg into 4 bytes: MSG_TRUNC", "%ld flags %#lx", r, m.msg_flags);
	check_err(recv(u, buf, 1, MSG_DONTWAIT), EAGAIN,
	          "UDP: the rest of a datagram is gone (EAGAIN)");
	check_err(recvfrom(u, buf, 1, MSG_DONTWAIT, BAD, &len), EFAULT, "recvfrom address: EFAULT");
	close(u);
}

static void listener(void)
{
	char buf[64];
	struct sockaddr_in a = addr_of(htonl(INADDR_ANY), 7070), peer = {0};
	socklen_t len = sizeof(peer);
	int l = socket(AF_INET, SOCK_STREAM, 0), v = 1;

	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
	check(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0, "bind, listen",
	      "errno %ld %ld", errno, 0);
	int l2 = socket(AF_INET, SOCK_STREAM, 0);
	check_err(bind(l2, (struct sockaddr *)&a, sizeof(a)), EADDRINUSE,
	          "bind a listening port: EADDRINUSE");
	close(l2);
	fcntl(l, F_SETFL, O_NONBLOCK);
	check_err(accept(l, NULL, NULL), EAGAIN, "accept with nobody: EAGAIN");
	check_err(syscall(SYS_accept4, l, NULL, NULL, 12345), EINVAL, "accept4 bad flags: EINVAL");
	check_err(accept(l, (struct sockaddr *)&peer, BAD), EFAULT, "accept addrlen: EFAULT");
	fcntl(l, F_SETFL, 0);
	printf("t_socket: listening on 7070\n");
	fflush(stdout);
	int c = accept4(l, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);
	check(c >= 0 && len == sizeof(peer) && peer.sin_family == AF_INET &&
	          fcntl(c, F_GETFD) == FD_CLOEXEC,
	      "accept4: the host's connection", "fd %ld errno %ld", c, errno);
	long r = read_all(c, buf, 20);
	check(r == 20 && !memcmp(buf, "hello from the host\n", 20), "read the host's line",
	      "%ld %ld", r, 0);
	check(write(c, "hello from hallows\n", 19) == 19, "write to the host", "%ld %ld", errno, 0);
	check(read(c, buf, 1) == 0, "the host closed: end of stream", "%ld %ld", errno, 0);
	close(c);
	/* The same listener on 0.0.0.0 serves the loopback too */
	struct sockaddr_in lo = addr_of(htonl(INADDR_LOOPBACK), 7070);
	int k = socket(AF_INET, SOCK_STREAM, 0);
	check(connect(k, (struct sockaddr *)&lo, sizeof(lo)) == 0, "connect 127.0.0.1:7070",
	      "errno %ld %ld", errno, 0);
	c = accept(l, (struct sockaddr *)&peer, &len);
	check(c >= 0 && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK) && write(k, "lo", 2) == 2 &&
	          read(c, buf, 2) == 2 && !memcmp(buf, "lo", 2),
	      "the 0.0.0.0 listener accepts from 127.0.0.1 as well", "fd %ld errno %ld", c, errno);
	close(k);
	close(c);
	close(l);
}

static void limits(void)
{
	int fds[70], n = 0, p[2], q[2], e;

	while (n < 70 && (fds[n] = socket(AF_INET, SOCK_DGRAM, 0)) >= 0)
		n++;
	e = errno;
	check(n < 70 && e == EMFILE, "sockets until the descriptor table is full: EMFILE",
	      "%ld errno %ld", n, e);
	while (n > 0)
		close(fds[--n]);
	pipe(p);
	pipe(q);
	pid_t c = fork();
	if (c == 0) { /* hold 40 sockets until the parent has tried */
		for (int i = 0; i < 40; i++)
			socket(AF_INET, SOCK_DGRAM, 0);
		write(p[1], "x", 1);
		read(q[0], &e, 1);
		_exit(0);
	}
	read(p[0], &e, 1);
	while (n < 70 && (fds[n] = socket(AF_INET, SOCK_DGRAM, 0)) >= 0)
		n++;
	e = errno;
	check(n < 40 && e == ENOBUFS, "sockets until the personality's table is full: ENOBUFS",
	      "%ld errno %ld", n, e);
	while (n > 0)
		close(fds[--n]);
	write(q[1], "y", 1);
	waitpid(c, NULL, 0);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	check(s >= 0, "a socket again once they are closed", "%ld errno %ld", s, errno);
	close(s);
}

int main(int argc, char **argv)
{
	server = addr_of(inet_addr(argc > 1 ? argv[1] : "10.0.2.2"), 7);
	setvbuf(stdout, NULL, _IONBF, 0);
	socket_calls();
	tcp_echo();
	nonblocking();
	udp();
	limits();
	if (argc <= 2 || strcmp(argv[2], "nolisten"))
		listener();
	printf("t_socket: %d checks, %d failed\n", checks, failed);
	return failed != 0;
}
