/*
 * The log store over the block-driver interface (user/storage/blk), on a
 * fake block device in memory: requests complete only when the caller
 * waits (so several are in flight), "physical" addresses are the
 * arena's virtual ones, and the device can be told to fail. ASan+UBSan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/blk/store_blk.h"
#include "tharness.h"

/* ---- the fake device ---- */

#define FD_MAXQ 64

struct fakedev {
	struct blkdev dev;
	uint8_t *img;
	struct blkdev_req *q[FD_MAXQ];
	unsigned nq;
	int fail_op; /* -1: none; else every request of this op fails */
	unsigned flushes, submits;
};

/* Move the request's bytes between the image and its pages. */
static void fd_do(struct fakedev *f, struct blkdev_req *r)
{
	uint32_t bs = f->dev.block_size, len = r->nblocks * bs, done = 0, off = r->offset;

	if ((int)r->op == f->fail_op) {
		r->status = BLKDEV_E_IO;
		return;
	}
	if (r->op == BLKDEV_FLUSH) {
		f->flushes++;
		r->status = 0;
		return;
	}
	for (uint32_t k = 0; done < len; k++) {
		uint8_t *page = (uint8_t *)(uintptr_t)r->pages[k];
		uint32_t n = 4096 - off < len - done ? 4096 - off : len - done;
		uint8_t *disk = f->img + r->lba * bs + done;
		if (r->op == BLKDEV_READ)
			memcpy(page + off, disk, n);
		else
			memcpy(disk, page + off, n);
		done += n, off = 0;
	}
	r->status = 0;
}

static int fd_submit(struct blkdev *d, unsigned q, struct blkdev_req *r)
{
	struct fakedev *f = (struct fakedev *)d;
	int err = blkdev_check(d, r);

	(void)q;
	if (err)
		return err;
	if (f->nq == d->queue_depth)
		return BLKDEV_E_BUSY;
	f->q[f->nq++] = r;
	f->submits++;
	return 0;
}

static int fd_poll(struct blkdev *d, unsigned q, unsigned max)
{
	struct fakedev *f = (struct fakedev *)d;
	unsigned n = 0;

	(void)q;
	while (f->nq && n < max) {
		struct blkdev_req *r = f->q[0];
		memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(struct blkdev_req *));
		f->nq--;
		fd_do(f, r);
		if (r->done)
			r->done(r);
		n++;
	}
	return (int)n;
}

static int fd_wait(struct blkdev *d, unsigned q, uint64_t timeout_us)
{
	(void)timeout_us;
	return fd_poll(d, q, FD_MAXQ);
}

static unsigned fd_inflight(struct blkdev *d, unsigned q)
{
	(void)q;
	return ((struct fakedev *)d)->nq;
}

static const struct blkdev_ops fd_ops = {fd_submit, fd_poll, fd_wait, fd_inflight};

static struct fakedev *fd_new(uint64_t bytes, uint32_t bs, uint32_t max_blocks, uint32_t depth)
{
	struct fakedev *f = calloc(1, sizeof(*f));

	f->img = calloc(1, bytes);
	f->dev = (struct blkdev){.ops = &fd_ops,
	                         .nblocks = bytes / bs,
	                         .block_size = bs,
	                         .max_blocks = max_blocks,
	                         .nqueues = 1,
	                         .queue_depth = depth,
	                         .flags = BLKDEV_HAS_VOLATILE_CACHE};
	f->fail_op = -1;
	return f;
}

static void fd_del(struct fakedev *f)
{
	free(f->img);
	free(f);
}

/* ---- the environment ---- */

#define ARENA (24u << 20)

static uint64_t env_pa(void *ctx, const void *va)
{
	(void)ctx;
	return (uint64_t)(uintptr_t)va;
}

static uint64_t env_ms(void *ctx)
{
	(void)ctx;
	return 1234;
}

static void env_log(void *ctx, const char *what, const char *detail, long long v)
{
	(void)ctx;
	fprintf(stderr, "log: %s %s %lld\n", what, detail, v);
}

static uint8_t *arena;

static struct store_blk *sb_new(struct fakedev *f)
{
	struct store_blk *sb = calloc(1, sizeof(*sb));
	struct store_blk_env env = {
	    .arena = arena, .arena_size = ARENA, .pa = env_pa, .now_ms = env_ms, .log = env_log};

	CHECK(store_blk_init(sb, &f->dev, 0, &env) == 0);
	return sb;
}

/* Payload i: a length and bytes that depend on i. */
static uint32_t rec(uint32_t i, uint8_t *out)
{
	uint32_t len = 100 + (i * 7919u) % 9000u;

	for (uint32_t k = 0; k < len; k++)
		out[k] = (uint8_t)(i * 31u + k);
	return len;
}

/* Every record [0, n) of topic "t" partition 0 is there, in order. */
static uint32_t verify(struct store *st, uint32_t n)
{
	static uint8_t want[16384];
	struct store_part *p = store_part_get(st, (uint32_t)store_topic_find(st, "t", 1), 0);
	struct store_read r;
	uint64_t off = 0;
	uint32_t good = 0;

	while (p && off < n && store_read(st, p, off, 1u << 20, &r) == 0 && r.n) {
		for (uint32_t k = 0; k < r.n; k++, off++) {
			uint32_t len = rec((uint32_t)off, want);
			good += r.len[k] == len && !memcmp(r.ptr[k], want, len);
		}
		off = r.next_offset;
		store_read_release(st, &r);
	}
	return good;
}

static void append(struct store *st, uint32_t from, uint32_t to)
{
	static uint8_t buf[16384];
	struct store_part *p = store_part_get(st, (uint32_t)store_topic_find(st, "t", 1), 0);

	for (uint32_t i = from; i < to; i++)
		CHECK(store_append(st, p, buf, rec(i, buf), 1, i) == 0);
}

/* Format, append 3000 records (~15 MB), flush, read back; reopen (recovery)
 * and find them all; nothing copied by the CPU on the read path. */
static void t_roundtrip_512b_blocks(void)
{
	struct fakedev *f = fd_new(64u << 20, 512, 64, 16);
	struct store_blk *sb = sb_new(f);
	struct store_platform pl;
	struct store *st;

	store_blk_fill_platform(sb, &pl);
	CHECK(store_open(&pl, STORE_FORMAT_BLANK, &st) == 0);
	CHECK(store_topic_create(st, "t", 1, 1) == 0);
	append(st, 0, 3000);
	CHECK(store_write_pending(st) == 0);
	CHECK(store_flush(st) == 0);
	CHECK(verify(st, 3000) == 3000);
	CHECK(sb->stats.max_inflight > 1);
	CHECK(sb->stats.read_bytes > 10u << 20);
	CHECK(sb->stats.bounce_read_bytes == 0 && sb->stats.bounce_write_bytes == 0);
	CHECK(f->flushes >= 1);
	store_close(st);
	CHECK(sb->stats.arena_used == STORE_BLK_REQ_PAGES - 1); /* only the bounce buffer */
	free(sb);

	sb = sb_new(f);
	store_blk_fill_platform(sb, &pl);
	CHECK(store_open(&pl, 0, &st) == 0);
	CHECK(verify(st, 3000) == 3000);
	CHECK(sb->stats.bounce_read_bytes == 0);
	store_close(st);
	free(sb);
	fd_del(f);
}

/* A read into memory outside the arena is bounced and counted. */
static void t_outside_arena_is_bounced_and_counted(void)
{
	struct fakedev *f = fd_new(16u << 20, 4096, 16, 4);
	struct store_blk *sb = sb_new(f);
	struct store_platform pl;
	uint8_t *heap = malloc(3 * STORE_BLOCK), *dma;

	store_blk_fill_platform(sb, &pl);
	memset(heap, 0x5a, 3 * STORE_BLOCK);
	CHECK(pl.write(pl.ctx, 100, heap, 3) == 0);
	CHECK(sb->stats.bounce_write_bytes == 3 * STORE_BLOCK);
	memset(heap, 0, 3 * STORE_BLOCK);
	CHECK(pl.read(pl.ctx, 100, heap, 3) == 0);
	CHECK(heap[0] == 0x5a && heap[3 * STORE_BLOCK - 1] == 0x5a);
	CHECK(sb->stats.bounce_read_bytes == 3 * STORE_BLOCK);
	dma = pl.alloc(pl.ctx, 3 * STORE_BLOCK);
	CHECK(dma && pl.read(pl.ctx, 100, dma, 3) == 0 && dma[5] == 0x5a);
	CHECK(sb->stats.bounce_read_bytes == 3 * STORE_BLOCK);
	pl.free(pl.ctx, dma);
	free(heap);
	free(sb);
	fd_del(f);
}

/* Device errors become store errors; bad frees and huge allocations are
 * refused; the asynchronous flush reports its end once. */
static void t_errors_and_async_flush(void)
{
	struct fakedev *f = fd_new(16u << 20, 4096, 16, 4);
	struct store_blk *sb = sb_new(f);
	struct store_platform pl;
	uint8_t *b;
	bool ok = false;

	store_blk_fill_platform(sb, &pl);
	b = pl.alloc(pl.ctx, 8 * STORE_BLOCK);
	CHECK(b != NULL);
	CHECK(pl.read(pl.ctx, pl.dev_blocks - 4, b, 8) != 0); /* past the end */
	f->fail_op = BLKDEV_READ;
	CHECK(pl.read(pl.ctx, 0, b, 8) != 0);
	CHECK(sb->stats.errors > 0);
	f->fail_op = -1;
	CHECK(pl.read(pl.ctx, 0, b, 8) == 0);
	CHECK(pl.alloc(pl.ctx, (size_t)ARENA * 2) == NULL);
	pl.free(pl.ctx, b + 4096); /* inside a run: refused, logged */
	pl.free(pl.ctx, (void *)&ok);
	CHECK(pl.flush_start(pl.ctx) == 0);
	CHECK(store_blk_flush_result(sb, &ok) && ok);
	CHECK(!store_blk_flush_result(sb, &ok));
	f->fail_op = BLKDEV_FLUSH;
	CHECK(pl.flush_start(pl.ctx) == 0);
	CHECK(store_blk_flush_result(sb, &ok) && !ok);
	CHECK(pl.flush(pl.ctx) != 0);
	pl.free(pl.ctx, b);
	CHECK(sb->stats.arena_used == STORE_BLK_REQ_PAGES - 1);
	free(sb);
	fd_del(f);
}

/* Block sizes that do not divide 4 KiB and tiny arenas are refused. */
static void t_init_refuses_bad_geometry(void)
{
	struct fakedev *f = fd_new(1u << 20, 4096, 16, 4);
	struct store_blk sb;
	struct store_blk_env env = {.arena = arena, .arena_size = 8 * 4096, .pa = env_pa};

	CHECK(store_blk_init(&sb, &f->dev, 0, &env) != 0);
	env.arena_size = ARENA;
	f->dev.block_size = 8192;
	CHECK(store_blk_init(&sb, &f->dev, 0, &env) != 0);
	f->dev.block_size = 4096;
	CHECK(store_blk_init(&sb, &f->dev, 1, &env) != 0); /* no such queue */
	CHECK(store_blk_init(&sb, &f->dev, 0, &env) == 0);
	fd_del(f);
}

int main(int argc, char **argv)
{
	kt_group = "brokerfl-unit";
	arena = aligned_alloc(4096, ARENA);
	kt_add("store_blk_roundtrip_512b_blocks_recovery_zero_copy_reads", t_roundtrip_512b_blocks);
	kt_add("store_blk_outside_arena_is_bounced_and_counted",
	       t_outside_arena_is_bounced_and_counted);
	kt_add("store_blk_errors_and_async_flush", t_errors_and_async_flush);
	kt_add("store_blk_init_refuses_bad_geometry", t_init_refuses_bad_geometry);
	int rc = kt_main(NULL, 0, argc, argv);

	free(arena);
	return rc;
}
