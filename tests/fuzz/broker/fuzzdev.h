/* Copy-on-write RAM block device for the fuzz targets: reads fall back to
 * a template image (or zeroes), writes land in per-block overlays. */
#ifndef FUZZDEV_H
#define FUZZDEV_H
#include <stdlib.h>
#include <string.h>

#include "storage/store.h"

#define FD_BLOCKS (64u + 4u * 512u + 8u) /* smallest store geometry */

struct fdev {
	const uint8_t *tmpl; /* FD_BLOCKS * STORE_BLOCK bytes or NULL */
	uint8_t *blk[FD_BLOCKS];
};

static uint8_t *fd_block(struct fdev *d, uint64_t b)
{
	if (!d->blk[b]) {
		d->blk[b] = malloc(STORE_BLOCK);
		if (d->tmpl)
			memcpy(d->blk[b], d->tmpl + b * STORE_BLOCK, STORE_BLOCK);
		else
			memset(d->blk[b], 0, STORE_BLOCK);
	}
	return d->blk[b];
}

static int fd_read(void *ctx, uint64_t blk, void *buf, uint32_t count)
{
	struct fdev *d = ctx;

	if (blk + count > FD_BLOCKS)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		uint8_t *dst = (uint8_t *)buf + (size_t)i * STORE_BLOCK;
		if (d->blk[blk + i])
			memcpy(dst, d->blk[blk + i], STORE_BLOCK);
		else if (d->tmpl)
			memcpy(dst, d->tmpl + (blk + i) * STORE_BLOCK, STORE_BLOCK);
		else
			memset(dst, 0, STORE_BLOCK);
	}
	return 0;
}

static int fd_write(void *ctx, uint64_t blk, const void *buf, uint32_t count)
{
	struct fdev *d = ctx;

	if (blk + count > FD_BLOCKS)
		return -1;
	for (uint32_t i = 0; i < count; i++)
		memcpy(fd_block(d, blk + i), (const uint8_t *)buf + (size_t)i * STORE_BLOCK,
		       STORE_BLOCK);
	return 0;
}

static int fd_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

static void fd_reset(struct fdev *d)
{
	for (uint32_t i = 0; i < FD_BLOCKS; i++) {
		free(d->blk[i]);
		d->blk[i] = NULL;
	}
}

static void *fz_alloc(void *ctx, size_t n)
{
	void *p = NULL;

	(void)ctx;
	return posix_memalign(&p, 4096, n ? n : 1) ? NULL : p;
}

static void fz_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

static uint64_t fz_clock;

static uint64_t fz_now(void *ctx)
{
	(void)ctx;
	return fz_clock;
}

static void fz_log(void *ctx, const char *w, const char *d, long long v)
{
	(void)ctx;
	(void)w;
	(void)d;
	(void)v;
}

static struct store_platform fd_platform(struct fdev *d)
{
	return (struct store_platform){.ctx = d,
	                               .dev_blocks = FD_BLOCKS,
	                               .read = fd_read,
	                               .write = fd_write,
	                               .flush = fd_flush,
	                               .alloc = fz_alloc,
	                               .free = fz_free,
	                               .now_ms = fz_now,
	                               .log = fz_log};
}

/* One broker connection of a fuzz target: responses are not kept, but every referenced byte is
 * touched so ASan checks the iovec. (Used with kafka/broker.h.) */
#ifdef BROKER_H
struct fz_conn {
	struct kconn *kc;
	int pending, closed;
	size_t sent;
};

static __attribute__((unused)) int f_send(void *ctx, void *conn, const struct kiov *iov, uint32_t n)
{
	struct fz_conn *c = conn;

	(void)ctx;
	for (uint32_t i = 0; i < n; i++) {
		volatile uint8_t sink = 0;
		for (size_t k = 0; k < iov[i].len; k++)
			sink ^= ((const uint8_t *)iov[i].base)[k];
		c->sent += iov[i].len;
	}
	c->pending = 1;
	return 0;
}

static __attribute__((unused)) void f_close(void *ctx, void *conn)
{
	(void)ctx;
	((struct fz_conn *)conn)->closed = 1;
}
#endif

#endif
