/*
 * floo-bench: the Linux side of the Floo benchmarks.
 *
 *   floo-bench server                 kernel-stack baseline: TCP echo on 7,
 *                                     HTTP GET /bytes/N on 80 (fork per conn)
 *   floo-bench rr HOST SECONDS SIZE   one connection, SIZE-byte ping-pong on
 *                                     port 7; prints rate and p50/p99 in us
 *   floo-bench bulk HOST BYTES        GET /bytes/BYTES on port 80; prints Mbit/s
 *
 * Output is one line of "key=value" pairs for the bench script.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(const char *host, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (s < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return s;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Request/response: latency of each round trip on one connection. */
static int run_rr(const char *host, double secs, int size)
{
	int s = dial(host, 7);
	char buf[65536];
	size_t cap = 1 << 22, n = 0;
	double *lat = malloc(cap * sizeof(double)), t0 = now_s(), end = t0 + secs;

	if (!lat) {
		close(s);
		return 1;
	}
	memset(buf, 'r', sizeof(buf));
	while (n < cap) {
		double t = now_s();
		int got = 0;

		if (t >= end)
			break;
		if (write(s, buf, (size_t)size) != size)
			goto fail;
		while (got < size) {
			ssize_t r = read(s, buf, (size_t)(size - got));

			if (r <= 0)
				goto fail;
			got += (int)r;
		}
		lat[n++] = (now_s() - t) * 1e6;
	}
	qsort(lat, n, sizeof(double), cmp_double);
	printf("rate=%.0f p50=%.1f p99=%.1f count=%zu\n", n / (now_s() - t0), lat[n / 2],
	       lat[(size_t)(n * 0.99)], n);
	free(lat);
	close(s);
	return 0;
fail:
	free(lat);
	close(s);
	return 1;
}

/* Bulk: time one GET /bytes/N including connection setup. */
static int run_bulk(const char *host, long long bytes)
{
	char req[128], buf[1 << 16];
	double t0 = now_s();
	int s = dial(host, 80);
	long long got = 0, body = -1;
	ssize_t r;

	snprintf(req, sizeof(req),
	         "GET /bytes/%lld HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n", bytes);
	if (write(s, req, strlen(req)) < 0)
		return 1;
	while ((r = read(s, buf, sizeof(buf))) > 0) {
		got += r;
		if (body < 0) {
			char *e = memmem(buf, (size_t)r, "\r\n\r\n", 4);

			if (e)
				body = got - r + (e + 4 - buf);
		}
		if (body >= 0 && got - body >= bytes)
			break;
	}
	close(s);
	if (body < 0 || got - body < bytes)
		return 1;
	printf("mbps=%.1f seconds=%.3f\n", bytes * 8 / 1e6 / (now_s() - t0), now_s() - t0);
	return 0;
}

static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 128) < 0) {
		perror("listen");
		exit(1);
	}
	return s;
}

static void serve_echo(int c)
{
	char buf[65536];
	ssize_t r;

	while ((r = read(c, buf, sizeof(buf))) > 0)
		if (write(c, buf, (size_t)r) != r)
			break;
}

static void serve_http(int c)
{
	static unsigned char pat[251 * 262];
	char req[4096], hdr[256];
	ssize_t r = read(c, req, sizeof(req) - 1);
	long long n = 0, off = 0;

	if (r <= 0)
		return;
	req[r] = 0;
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (unsigned char)(i % 251);
	sscanf(req, "GET /bytes/%lld", &n);
	snprintf(hdr, sizeof(hdr),
	         "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\nConnection: close\r\n\r\n", n);
	if (write(c, hdr, strlen(hdr)) < 0)
		return;
	while (off < n) {
		size_t k = n - off < 32768 ? (size_t)(n - off) : 32768;
		ssize_t w = write(c, pat + off % 251, k);

		if (w <= 0)
			return;
		off += w;
	}
}

/* FLOO_BENCH_CC names the congestion control of the connections (for
 * comparisons: a namespace may only default to the host's allowed ones). */
static void set_cc(int c)
{
	const char *cc = getenv("FLOO_BENCH_CC");

	if (cc && *cc && setsockopt(c, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)))
		perror("floo-bench: TCP_CONGESTION");
}

/* Kernel baseline server: fork a child per connection. */
static int run_server(void)
{
	int e = listen_on(7), h = listen_on(80);

	signal(SIGCHLD, SIG_IGN);
	if (fork() == 0) {
		for (;;) {
			int c = accept(h, NULL, NULL);

			if (c >= 0 && fork() == 0) {
				set_cc(c);
				serve_http(c);
				_exit(0);
			}
			close(c);
		}
	}
	for (;;) {
		int c = accept(e, NULL, NULL), one = 1;

		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		set_cc(c);
		if (fork() == 0) {
			serve_echo(c);
			_exit(0);
		}
		close(c);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "server"))
		return run_server();
	if (argc >= 5 && !strcmp(argv[1], "rr"))
		return run_rr(argv[2], atof(argv[3]), atoi(argv[4]));
	if (argc >= 4 && !strcmp(argv[1], "bulk"))
		return run_bulk(argv[2], atoll(argv[3]));
	fprintf(stderr, "usage: floo-bench server | rr HOST SECONDS SIZE | bulk HOST BYTES\n");
	return 2;
}
