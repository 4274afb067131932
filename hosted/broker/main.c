/* hallows-broker: the broker core and log store as a Linux program.
 *   hallows-broker --listen HOST:PORT --data PATH [--advertise HOST:PORT]
 *                  [--partitions N] [--size BYTES] [--flush-ms N]
 *                  [--group-delay-ms N] [--no-auto-create] [--threads N]
 *                  [--crash-at POINT]
 * PATH is a block device or a file; a missing file is created sparse at
 * --size (default 4 GiB) and formatted. --threads N (default: the online
 * cores) runs N event loops, each on its own region of PATH and port
 * PORT + i (docs/broker.md, "One event loop per core"). */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "loop.h"

#define DEFAULT_SIZE (4ull << 30)

struct opts {
	const char *listen, *data, *advertise, *crash_at;
	uint32_t parts, flush_ms, group_ms, threads;
	uint64_t size;
	bool no_auto_create;
};

static int usage(void)
{
	fprintf(stderr, "usage: hallows-broker --listen HOST:PORT --data PATH "
	                "[--advertise HOST:PORT] [--partitions N] [--size BYTES] "
	                "[--flush-ms N] [--group-delay-ms N] [--no-auto-create] "
	                "[--threads N] [--crash-at POINT]\n");
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
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	*o = (struct opts){.parts = 4,
	                   .flush_ms = 1000,
	                   .group_ms = 500,
	                   .size = DEFAULT_SIZE,
	                   .threads = cores < 1            ? 1
	                              : cores > MAX_SHARDS ? MAX_SHARDS
	                                                   : (uint32_t)cores};
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
		else if (!strcmp(a, "--threads"))
			o->threads = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--crash-at"))
			o->crash_at = v;
		else
			return -1;
	}
	if (!o->listen || !o->data || o->parts < 1 || o->parts > STORE_MAX_PARTS ||
	    o->threads < 1 || o->threads > MAX_SHARDS)
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
	char ps[16];
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
		if (fd >= 0)
			close(fd);
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

/* One listening socket per shard on consecutive ports from *port (0: a
 * free run of n ports, tried a few times). */
static int listen_all(const char *host, int *port, struct host_shard *sh, uint32_t n)
{
	for (int attempt = 0; attempt < (*port ? 1 : 50); attempt++) {
		int base = *port;
		uint32_t i;
		for (i = 0; i < n; i++) {
			int p = base ? base + (int)i : 0;
			if (p > 65535 || (sh[i].lfd = listen_on(host, &p)) < 0)
				break;
			if (!i)
				base = p;
		}
		if (i == n) {
			*port = base;
			return 0;
		}
		while (i--)
			close(sh[i].lfd);
	}
	return -1;
}

/* Open shard i's store on its region of dev and check the region is the
 * one the store was formatted on (same --threads). */
static int open_shard(struct host_shard *s, const struct host_dev *dev, uint32_t i, uint32_t n)
{
	struct store_platform spl;
	struct store_stats ss;
	int rc;

	s->id = i;
	host_dev_region(&s->dev, dev, i, n);
	if (host_flusher_start(&s->dev)) {
		perror("hallows-broker: flusher thread");
		return -1;
	}
	host_fill_store_platform(&spl, &s->dev);
	if ((rc = store_open(&spl, STORE_FORMAT_BLANK, &s->st))) {
		fprintf(stderr, "hallows-broker: cannot open store %u (%d)%s\n", i, rc,
		        n > 1 || i ? " (was it written with another --threads?)" : "");
		return -1;
	}
	store_get_stats(s->st, &ss);
	if (ss.opened_blocks != s->dev.blocks) {
		fprintf(stderr,
		        "hallows-broker: the store of region %u was formatted on %llu blocks, the "
		        "region has %llu: written with another --threads (or a resized file)\n",
		        i, (unsigned long long)ss.opened_blocks, (unsigned long long)s->dev.blocks);
		return -1;
	}
	return 0;
}

static void close_shards(struct host_shard *sh, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		host_flusher_stop(&sh[i].dev);
		if (sh[i].b)
			broker_destroy(sh[i].b);
		if (sh[i].st)
			store_close(sh[i].st);
		if (sh[i].lfd >= 0)
			close(sh[i].lfd);
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct host_dev dev;
	struct broker_platform bpl;
	struct host_shard sh[MAX_SHARDS];
	char lhost[256], ahost[256];
	int lport, aport, rc = 1;
	sigset_t set;

	if (parse_opts(argc, argv, &o) || split_hostport(o.listen, lhost, sizeof(lhost), &lport))
		return usage();
	snprintf(ahost, sizeof(ahost), "%s", lhost);
	aport = lport;
	if (o.advertise && split_hostport(o.advertise, ahost, sizeof(ahost), &aport))
		return usage();
	/* SIGINT/SIGTERM are taken by host_serve's sigwait: blocked in every
	 * thread, which inherit the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (host_dev_open(&dev, o.data, o.size))
		return 1;
	memset(sh, 0, sizeof(sh));
	for (uint32_t i = 0; i < o.threads; i++)
		sh[i].lfd = -1;
	for (uint32_t i = 0; i < o.threads; i++)
		if (open_shard(&sh[i], &dev, i, o.threads))
			goto out;
	if (listen_all(lhost, &lport, sh, o.threads)) {
		perror("hallows-broker: listen");
		goto out;
	}
	if (!o.advertise)
		aport = lport;
	host_fill_broker_platform(&bpl);
	bpl.decompress = host_decompress; /* the compactor's codecs (codec.c) */
	bpl.compress = host_compress;
	crash_at = o.crash_at;
	if (crash_at)
		bpl.fault = crash_fault;
	for (uint32_t i = 0; i < o.threads; i++) {
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
		    .shards = o.threads,
		    .shard = i,
		};
		struct broker_platform spl = bpl;
		spl.ctx = &sh[i];
		if (o.threads > 1)
			spl.shard_send = ctl_shard_send;
		if (!(sh[i].b = broker_create(&spl, &cfg, sh[i].st)))
			goto out;
	}
	printf("hallows-broker: listening on %s:%d advertised %s:%d data %s%s threads %u\n", lhost,
	       lport, ahost, aport, o.data, dev.direct ? " (O_DIRECT)" : "", o.threads);
	fflush(stdout);
	rc = host_serve(sh, o.threads);
out:
	close_shards(sh, o.threads);
	close(dev.fd);
	fprintf(stderr, "hallows-broker: stopped\n");
	return rc;
}
