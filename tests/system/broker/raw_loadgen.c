/* raw_loadgen: the broker-bound load generator of the loop scaling
 * benchmark (run_bench.py). Pipelined Produce v3 requests (acks=1) built
 * once from a valid record batch, CONNS connections (a thread each) spread
 * over the broker nodes that lead partitions of the topic (a --threads N
 * broker is N nodes), each sending to the partitions of its node it was
 * given: the client does little more than write(), so the broker, not
 * the client, is what is measured, and the client's parallelism and
 * request shape (PARTS_PER_REQUEST partitions) do not depend on N.
 *   raw_loadgen HOST PORT TOPIC SECONDS BATCH_RECORDS RECORD_BYTES
 *               PARTS_PER_REQUEST INFLIGHT CONNS
 * Prints "records=R seconds=S rps=X errors=E nodes=K conns=C". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "storage/crc32c.h"

#define MAX_NODES 64
#define MAX_PARTS 1024

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (!n)
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		if (!(b->p = realloc(b->p, b->cap)))
			exit(2);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void put8(struct buf *b, uint8_t v)
{
	put(b, &v, 1);
}
static void put16(struct buf *b, uint16_t v)
{
	v = htons(v);
	put(b, &v, 2);
}
static void put32(struct buf *b, uint32_t v)
{
	v = htonl(v);
	put(b, &v, 4);
}
static void put64(struct buf *b, uint64_t v)
{
	put32(b, (uint32_t)(v >> 32));
	put32(b, (uint32_t)v);
}
static void putstr(struct buf *b, const char *s)
{
	put16(b, (uint16_t)strlen(s));
	put(b, s, strlen(s));
}
static void putvar(struct buf *b, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0); /* zigzag */

	while (z >= 0x80) {
		put8(b, (uint8_t)(z | 0x80));
		z >>= 7;
	}
	put8(b, (uint8_t)z);
}
static void patch32(struct buf *b, size_t at, uint32_t v)
{
	v = htonl(v);
	memcpy(b->p + at, &v, 4);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A record batch v2 of n records of size bytes each (no key), CRC-32C
 * over attributes..end as the broker checks it. */
static void make_batch(struct buf *b, int n, int size)
{
	struct buf r = {0};
	uint8_t *val = calloc(1, (size_t)size);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	memset(val, 'v', (size_t)size);
	for (int i = 0; i < n; i++) {
		struct buf one = {0};
		put8(&one, 0);    /* attributes */
		putvar(&one, 0);  /* timestamp delta */
		putvar(&one, i);  /* offset delta */
		putvar(&one, -1); /* no key */
		putvar(&one, size);
		put(&one, val, (size_t)size);
		putvar(&one, 0); /* headers */
		putvar(&r, (int64_t)one.len);
		put(&r, one.p, one.len);
		free(one.p);
	}
	put64(b, 0);          /* base offset */
	put32(b, 0);          /* length, patched */
	put32(b, UINT32_MAX); /* partition leader epoch */
	put8(b, 2);           /* magic */
	put32(b, 0);          /* crc, patched */
	size_t crc_from = b->len;
	put16(b, 0);                 /* attributes */
	put32(b, (uint32_t)(n - 1)); /* last offset delta */
	put64(b, (uint64_t)ms);      /* first timestamp */
	put64(b, (uint64_t)ms);      /* max timestamp */
	put64(b, UINT64_MAX);        /* producer id -1 */
	put16(b, UINT16_MAX);        /* producer epoch -1 */
	put32(b, UINT32_MAX);        /* base sequence -1 */
	put32(b, (uint32_t)n);
	put(b, r.p, r.len);
	patch32(b, 8, (uint32_t)(b->len - 12));
	patch32(b, 17, store_crc32c(0, b->p + crc_from, b->len - crc_from));
	free(r.p);
	free(val);
}

static int dial(const char *host, int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("raw_loadgen: connect");
		exit(2);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w <= 0) {
			perror("raw_loadgen: write");
			exit(2);
		}
		p += w;
		n -= (size_t)w;
	}
}

/* One response frame into b (size prefix dropped). */
static void recv_frame(int fd, struct buf *b)
{
	uint8_t h[4];
	size_t got = 0, n;

	for (size_t k = 0; k < 4;) {
		ssize_t r = read(fd, h + k, 4 - k);
		if (r <= 0) {
			fprintf(stderr, "raw_loadgen: connection closed\n");
			exit(2);
		}
		k += (size_t)r;
	}
	n = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
	if (n < 4) {
		fprintf(stderr, "raw_loadgen: short response\n");
		exit(2);
	}
	b->len = 0;
	if (n > b->cap && !(b->p = realloc(b->p, b->cap = n)))
		exit(2);
	while (got < n) {
		ssize_t r = read(fd, b->p + got, n - got);
		if (r <= 0) {
			fprintf(stderr, "raw_loadgen: connection closed\n");
			exit(2);
		}
		got += (size_t)r;
	}
	b->len = n;
}

static uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

struct node {
	int id, port, nparts;
	int parts[MAX_PARTS];
	pthread_t thr;
	long records, errors;
};

#define MAX_CONNS 64

static const char *g_host, *g_topic;
static struct buf g_batch;
static int g_batch_records, g_per_req, g_inflight;
static double g_end;

/* Count partition errors in a Produce v3 response. */
static long produce_errors(const struct buf *r)
{
	size_t o = 4; /* correlation id */
	long errs = 0;
	uint32_t nt = rd32(r->p + o);

	o += 4;
	for (uint32_t t = 0; t < nt && o + 2 <= r->len; t++) {
		o += 2 + ((size_t)r->p[o] << 8 | r->p[o + 1]);
		uint32_t np = rd32(r->p + o);
		o += 4;
		for (uint32_t k = 0; k < np && o + 22 <= r->len; k++, o += 22)
			errs += (r->p[o + 4] | r->p[o + 5]) != 0;
	}
	return errs;
}

static void *node_main(void *arg)
{
	struct node *n = arg;
	int fd = dial(g_host, n->port), nreq = 0, out = 0, next = 0;
	struct buf *req = calloc((size_t)n->nparts, sizeof(*req)), resp = {0};

	if (!req || n->nparts < 1)
		exit(2);

	/* request i: partitions i, i+1, ... of this node's (wrapping) */
	for (int i = 0; i < n->nparts; i++) {
		struct buf *b = &req[nreq++];
		put32(b, 0);
		put16(b, 0); /* Produce */
		put16(b, 3);
		put32(b, (uint32_t)i);
		putstr(b, "raw_loadgen");
		put16(b, UINT16_MAX); /* no transactional id */
		put16(b, 1);          /* acks */
		put32(b, 30000);
		put32(b, 1);
		putstr(b, g_topic);
		put32(b, (uint32_t)g_per_req);
		for (int k = 0; k < g_per_req; k++) {
			put32(b, (uint32_t)n->parts[(i + k) % n->nparts]);
			put32(b, (uint32_t)g_batch.len);
			put(b, g_batch.p, g_batch.len);
		}
		patch32(b, 0, (uint32_t)(b->len - 4));
	}
	while (now_s() < g_end || out) {
		while (out < g_inflight && now_s() < g_end) {
			send_all(fd, req[next].p, req[next].len);
			next = (next + 1) % nreq;
			out++;
		}
		recv_frame(fd, &resp);
		n->errors += produce_errors(&resp);
		n->records += (long)g_per_req * g_batch_records;
		out--;
	}
	close(fd);
	for (int i = 0; i < nreq; i++)
		free(req[i].p);
	free(req);
	free(resp.p);
	return NULL;
}

/* Metadata v1 for the topic (auto-created): each partition's leader and
 * the nodes' ports. Returns the number of nodes with partitions. */
static int metadata(const char *host, int port, struct node *nodes)
{
	int fd = dial(host, port), nn = 0;
	struct buf q = {0}, r = {0};
	int ports[MAX_NODES] = {0}, ids[MAX_NODES];
	int nb;

	for (int attempt = 0; attempt < 50; attempt++) {
		q.len = 0;
		put32(&q, 0);
		put16(&q, 3);
		put16(&q, 1);
		put32(&q, 1);
		putstr(&q, "raw_loadgen");
		put32(&q, 1);
		putstr(&q, g_topic);
		patch32(&q, 0, (uint32_t)(q.len - 4));
		send_all(fd, q.p, q.len);
		recv_frame(fd, &r);
		size_t o = 4;
		nb = (int)rd32(r.p + o);
		o += 4;
		for (int i = 0; i < nb && i < MAX_NODES; i++) {
			ids[i] = (int)rd32(r.p + o);
			o += 4;
			o += 2 + ((size_t)r.p[o] << 8 | r.p[o + 1]);
			ports[i] = (int)rd32(r.p + o);
			o += 4;
			int16_t rl = (int16_t)(r.p[o] << 8 | r.p[o + 1]);
			o += 2 + (rl > 0 ? (size_t)rl : 0);
		}
		o += 4; /* controller */
		o += 4; /* one topic */
		int16_t terr = (int16_t)(r.p[o] << 8 | r.p[o + 1]);
		o += 2;
		o += 2 + ((size_t)r.p[o] << 8 | r.p[o + 1]);
		o += 1;
		uint32_t np = rd32(r.p + o);
		o += 4;
		if (terr || !np) {
			usleep(100000);
			continue;
		}
		for (uint32_t k = 0; k < np; k++) {
			o += 2;
			int idx = (int)rd32(r.p + o), leader = (int)rd32(r.p + o + 4);
			o += 8;
			o += 4 + 4 * (size_t)rd32(r.p + o);
			o += 4 + 4 * (size_t)rd32(r.p + o);
			for (int i = 0; i < nb; i++)
				if (ids[i] == leader) {
					if (!nodes[i].nparts)
						nn++;
					nodes[i].id = leader;
					nodes[i].port = ports[i];
					if (nodes[i].nparts < MAX_PARTS)
						nodes[i].parts[nodes[i].nparts++] = idx;
				}
		}
		break;
	}
	close(fd);
	free(q.p);
	free(r.p);
	return nn;
}

int main(int argc, char **argv)
{
	static struct node nodes[MAX_NODES], conns[MAX_CONNS];
	int with[MAX_NODES], nn = 0, nc;
	long records = 0, errors = 0;

	if (argc != 10 || (nc = atoi(argv[9])) < 1 || nc > MAX_CONNS) {
		fprintf(stderr, "usage: raw_loadgen HOST PORT TOPIC SECONDS BATCH_RECORDS "
		                "RECORD_BYTES PARTS_PER_REQUEST INFLIGHT CONNS\n");
		return 2;
	}
	g_host = argv[1];
	g_topic = argv[3];
	g_batch_records = atoi(argv[5]);
	g_per_req = atoi(argv[7]);
	g_inflight = atoi(argv[8]);
	make_batch(&g_batch, g_batch_records, atoi(argv[6]));
	if (!metadata(g_host, atoi(argv[2]), nodes)) {
		fprintf(stderr, "raw_loadgen: no partitions\n");
		return 2;
	}
	for (int i = 0; i < MAX_NODES; i++)
		if (nodes[i].nparts)
			with[nn++] = i;
	if (nc < nn)
		nc = nn;
	/* connection c goes to node c mod nn; a node's partitions are dealt
	 * out over its connections */
	for (int c = 0; c < nc; c++) {
		struct node *n = &nodes[with[c % nn]];
		int share = nc / nn + (c % nn < nc % nn), j = c / nn;
		conns[c].port = n->port;
		for (int k = j; k < n->nparts; k += share)
			conns[c].parts[conns[c].nparts++] = n->parts[k];
	}
	double t0 = now_s();
	g_end = t0 + atof(argv[4]);
	for (int c = 0; c < nc; c++)
		if (!conns[c].nparts || pthread_create(&conns[c].thr, NULL, node_main, &conns[c])) {
			fprintf(stderr, "raw_loadgen: connection %d has no partitions\n", c);
			return 2;
		}
	for (int c = 0; c < nc; c++) {
		pthread_join(conns[c].thr, NULL);
		records += conns[c].records;
		errors += conns[c].errors;
	}
	double s = now_s() - t0;
	printf("records=%ld seconds=%.3f rps=%.0f errors=%ld nodes=%d conns=%d\n", records, s,
	       (double)records / s, errors, nn, nc);
	free(g_batch.p);
	return errors ? 1 : 0;
}
