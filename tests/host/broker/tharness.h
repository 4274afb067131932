/* A RAM block device with crash/fault injection for the broker-area host
 * tests, which run on the host harness (ktharness.h: CHECK, kt_add). */
#ifndef THARNESS_H
#define THARNESS_H
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ktharness.h"
#include "storage/store.h"

/* RAM device. `cur` is what reads see; `dur` is what survived the last
 * flush. Writes since the flush are logged so a crash can keep any prefix
 * of them, tearing the next one. */
struct wlog {
	uint64_t blk;
	uint32_t count;
	uint8_t *data;
};

struct memdev {
	uint64_t blocks;
	uint8_t *cur, *dur;
	struct wlog *log;
	uint32_t nlog, cap;
	uint32_t writes, flushes;
	int fail_writes_after; /* -1: never */
	int fail_flush;
};

static __attribute__((unused)) int md_read(void *ctx, uint64_t blk, void *buf, uint32_t count)
{
	struct memdev *d = ctx;

	if (blk + count > d->blocks)
		return -1;
	memcpy(buf, d->cur + blk * STORE_BLOCK, (size_t)count * STORE_BLOCK);
	return 0;
}

static __attribute__((unused)) int md_write(void *ctx, uint64_t blk, const void *buf,
                                            uint32_t count)
{
	struct memdev *d = ctx;
	size_t n = (size_t)count * STORE_BLOCK;

	if (blk + count > d->blocks)
		return -1;
	if (d->fail_writes_after >= 0 && d->writes >= (uint32_t)d->fail_writes_after)
		return -1;
	d->writes++;
	memcpy(d->cur + blk * STORE_BLOCK, buf, n);
	if (d->nlog == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->log = realloc(d->log, d->cap * sizeof(*d->log));
	}
	d->log[d->nlog].blk = blk;
	d->log[d->nlog].count = count;
	d->log[d->nlog].data = malloc(n);
	memcpy(d->log[d->nlog++].data, buf, n);
	return 0;
}

static __attribute__((unused)) void md_drop_log(struct memdev *d)
{
	for (uint32_t i = 0; i < d->nlog; i++)
		free(d->log[i].data);
	d->nlog = 0;
}

static __attribute__((unused)) int md_flush(void *ctx)
{
	struct memdev *d = ctx;

	if (d->fail_flush)
		return -1;
	memcpy(d->dur, d->cur, d->blocks * STORE_BLOCK);
	md_drop_log(d);
	d->flushes++;
	return 0;
}

/* Crash: keep the first `keep` unflushed writes, then `tear` bytes of the
 * next one (0 = none); everything else is lost. */
static __attribute__((unused)) void md_crash(struct memdev *d, uint32_t keep, uint32_t tear)
{
	for (uint32_t i = 0; i < d->nlog && i <= keep; i++) {
		size_t n = (size_t)d->log[i].count * STORE_BLOCK;
		if (i == keep)
			n = tear < n ? tear : n;
		memcpy(d->dur + d->log[i].blk * STORE_BLOCK, d->log[i].data, n);
	}
	memcpy(d->cur, d->dur, d->blocks * STORE_BLOCK);
	md_drop_log(d);
}

/* Crash that keeps every unflushed write except those to blocks with
 * (blk - base) % mod == 0: models the device reordering writes. */
static __attribute__((unused)) void md_crash_skip(struct memdev *d, uint64_t base, uint64_t mod)
{
	for (uint32_t i = 0; i < d->nlog; i++) {
		if (d->log[i].blk >= base && (d->log[i].blk - base) % mod == 0)
			continue;
		memcpy(d->dur + d->log[i].blk * STORE_BLOCK, d->log[i].data,
		       (size_t)d->log[i].count * STORE_BLOCK);
	}
	memcpy(d->cur, d->dur, d->blocks * STORE_BLOCK);
	md_drop_log(d);
}

/* Crash that keeps a pseudo-random subset of the unflushed writes (in any
 * order, as a device may reorder them) and tears one of them. */
static __attribute__((unused)) void md_crash_random(struct memdev *d, uint32_t *seed)
{
	uint32_t tear_at = d->nlog ? *seed % d->nlog : 0;

	for (uint32_t i = 0; i < d->nlog; i++) {
		size_t n = (size_t)d->log[i].count * STORE_BLOCK;
		*seed = *seed * 1103515245u + 12345u;
		if ((*seed >> 16) & 1)
			continue;
		if (i == tear_at)
			n = (*seed >> 8) % n;
		memcpy(d->dur + d->log[i].blk * STORE_BLOCK, d->log[i].data, n);
	}
	memcpy(d->cur, d->dur, d->blocks * STORE_BLOCK);
	md_drop_log(d);
}

static __attribute__((unused)) struct memdev *md_new(uint64_t bytes)
{
	struct memdev *d = calloc(1, sizeof(*d));

	d->blocks = bytes / STORE_BLOCK;
	d->cur = calloc(1, bytes);
	d->dur = calloc(1, bytes);
	d->fail_writes_after = -1;
	return d;
}

static __attribute__((unused)) void md_free(struct memdev *d)
{
	md_drop_log(d);
	free(d->log);
	free(d->cur);
	free(d->dur);
	free(d);
}

static __attribute__((unused)) void *t_alloc(void *ctx, size_t n)
{
	void *p = NULL;

	(void)ctx;
	if (posix_memalign(&p, 4096, n ? n : 1))
		return NULL;
	return p;
}

static __attribute__((unused)) void t_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static uint64_t t_clock;

static __attribute__((unused)) uint64_t t_now(void *ctx)
{
	(void)ctx;
	return t_clock;
}

static __attribute__((unused)) void t_log(void *ctx, const char *what, const char *detail,
                                          long long v)
{
	(void)ctx;
	fprintf(stderr, "  log: %s %s %lld\n", what, detail, v);
}

static __attribute__((unused)) struct store_platform md_platform(struct memdev *d)
{
	return (struct store_platform){
	    .ctx = d,
	    .dev_blocks = d->blocks,
	    .read = md_read,
	    .write = md_write,
	    .flush = md_flush,
	    .alloc = t_alloc,
	    .free = t_free,
	    .now_ms = t_now,
	    .log = t_log,
	};
}

#endif
