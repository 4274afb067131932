/* hallows-broker: the broker core and log store as a Linux program.
 *   hallows-broker --listen HOST:PORT --data PATH [--advertise HOST:PORT]
 *                  [--partitions N] [--size BYTES] [--flush-ms N]
 *                  [--group-delay-ms N] [--no-auto-create] [--crash-at POINT]
 * PATH is a block device or a file; a missing file is created sparse at
 * --size (default 4 GiB) and formatted. */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hosted.h"

#define DEFAULT_SIZE (4ull << 30)

struct opts {
	const char *listen, *data, *advertise, *crash_at;
	uint32_t parts, flush_ms, group_ms;
	uint64_t size;
	bool no_auto_create;
};

static int usage(void)
{
	fprintf(stderr, "usage: hallows-broker --listen HOST:PORT --data PATH "
	                "[--advertise HOST:PORT] [--partitions N] [--size BYTES] "
	                "[--flush-ms N] [--group-delay-ms N] [--no-auto-create] "
	                "[--crash-at POINT]\n");
	return 2;
}

/* Split "host:port" (last colon) into host and port. */
static int split_hostport(const char *s, char *host, size_t hl, int *port)
{
	const char *c = strrchr(s, ':');
	char *end;
	long p;

	if (!c || (size_t)(c - s) >= hl || c == s)
		return -1;
	memcpy(host, s, (size_t)(c - s));
	host[c - s] = 0;
	p = strtol(c + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.parts = 4, .flush_ms = 1000, .group_ms = 500, .size = DEFAULT_SIZE};
	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-auto-create")) {
			o->no_auto_create = true;
			i--;
			continue;
		}
		if (!v)
			return -1;
		if (!strcmp(a, "--listen"))
			o->listen = v;
		else if (!strcmp(a, "--data"))
			o->data = v;
		else if (!strcmp(a, "--advertise"))
			o->advertise = v;
		else if (!strcmp(a, "--partitions"))
			o->parts = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--size"))
			o->size = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--flush-ms"))
			o->flush_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--group-delay-ms"))
			o->group_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--crash-at"))
			o->crash_at = v;
		else
			return -1;
	}
	if (!o->listen || !o->data || o->parts < 1 || o->parts > STORE_MAX_PARTS)
		return -1;
	return 0;
}

/* Crash tests (--crash-at POINT): the broker kills itself with SIGKILL
 * when it reaches the named point of a multi-step operation, leaving on
 * disk exactly what a kill -9 there leaves. */
static const char *crash_at;

static void crash_fault(void *ctx, const char *point)
{
	(void)ctx;
	if (crash_at && !strcmp(point, crash_at)) {
		fprintf(stderr, "hallows-broker: --crash-at %s reached, killing myself\n", point);
		fflush(stderr);
		raise(SIGKILL);
	}
}

/* Bound, listening, non-blocking socket; *port gets the actual port. */
static int listen_on(const char *host, int *port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
	                *ai;
	char ps[8];
	int fd, one = 1;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	snprintf(ps, sizeof(ps), "%d", *port);
	if (getaddrinfo(host, ps, &hints, &ai))
		return -1;
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128) ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl)) {
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	/* getsockname() filled ss */
	/* NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult) */
	*port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
	                                      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct host_dev dev;
	struct store_platform spl;
	struct broker_platform bpl;
	struct store *st;
	struct broker *b;
	char lhost[256], ahost[256];
	int lport, aport, lfd, rc;

	if (parse_opts(argc, argv, &o) || split_hostport(o.listen, lhost, sizeof(lhost), &lport))
		return usage();
	if (host_dev_open(&dev, o.data, o.size))
		return 1;
	if (host_flusher_start(&dev)) {
		perror("hallows-broker: flusher thread");
		return 1;
	}
	host_fill_store_platform(&spl, &dev);
	if ((rc = store_open(&spl, STORE_FORMAT_BLANK, &st))) {
		fprintf(stderr, "hallows-broker: cannot open store (%d)\n", rc);
		return 1;
	}
	if ((lfd = listen_on(lhost, &lport)) < 0) {
		perror("hallows-broker: listen");
		return 1;
	}
	snprintf(ahost, sizeof(ahost), "%s", lhost);
	aport = lport;
	if (o.advertise && split_hostport(o.advertise, ahost, sizeof(ahost), &aport))
		return usage();
	struct broker_config cfg = {
	    .adv_host = ahost,
	    .adv_port = aport,
	    .node_id = 1,
	    .default_parts = o.parts,
	    .flush_ms = o.flush_ms,
	    .flush_bytes = 16u << 20,
	    .group_initial_ms = o.group_ms,
	    .max_request = 64u << 20,
	    .no_auto_create = o.no_auto_create,
	};
	host_fill_broker_platform(&bpl);
	crash_at = o.crash_at;
	if (crash_at)
		bpl.fault = crash_fault;
	if (!(b = broker_create(&bpl, &cfg, st)))
		return 1;
	printf("hallows-broker: listening on %s:%d advertised %s:%d data %s%s\n", lhost, lport,
	       ahost, aport, o.data, dev.direct ? " (O_DIRECT)" : "");
	fflush(stdout);
	rc = host_serve(lfd, b, &dev);
	host_flusher_stop();
	broker_destroy(b);
	store_close(st);
	close(dev.fd);
	fprintf(stderr, "hallows-broker: stopped\n");
	return rc;
}
