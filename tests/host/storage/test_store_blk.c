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
#include "storage/store_int.h" /* ndirty: the dirty partitions counted */
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
	bool lifo; /* complete the newest request first (out of order) */
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
		struct blkdev_req *r = f->q[f->lifo ? f->nq - 1 : 0];
		if (!f->lifo)
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

/* Every record [0, n) of topic "t" partition part is there, in order. */
static uint32_t verify_part(struct store *st, uint32_t part, uint32_t n)
{
	static uint8_t want[16384];
	struct store_part *p = store_part_get(st, (uint32_t)store_topic_find(st, "t", 1), part);
	struct store_read r;
	uint64_t off = 0;
	uint32_t good = 0;

	while (p && off < n && store_read(st, p, off, 1u << 20, &r) == 0 && r.n) {
		for (uint32_t k = 0; k < r.n && off < n; k++, off++) {
			uint32_t len = rec((uint32_t)off, want);
			good += r.len[k] == len && !memcmp(r.ptr[k], want, len);
		}
		off = r.next_offset;
		store_read_release(st, &r);
	}
	return good;
}

static uint32_t verify(struct store *st, uint32_t n)
{
	return verify_part(st, 0, n);
}

static void append_part(struct store *st, uint32_t part, uint32_t from, uint32_t to)
{
	static uint8_t buf[16384];
	struct store_part *p = store_part_get(st, (uint32_t)store_topic_find(st, "t", 1), part);

	for (uint32_t i = from; i < to; i++)
		CHECK(store_append(st, p, buf, rec(i, buf), 1, i) == 0);
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

static struct store_part *tp(struct store *st, uint32_t part)
{
	return store_part_get(st, (uint32_t)store_topic_find(st, "t", 1), part);
}

/* A store formatted on f holding topic "t" of parts partitions. */
static struct store *fresh(struct fakedev *f, struct store_blk **sb, struct store_platform *pl,
                           uint32_t parts)
{
	struct store *st = NULL;

	*sb = sb_new(f);
	store_blk_fill_platform(*sb, pl);
	CHECK(store_open(pl, STORE_FORMAT_BLANK, &st) == 0);
	CHECK(store_topic_create(st, "t", 1, parts) == 0);
	return st;
}

/* Open f again (recovery): partition k serves its n[k] records (as vfy checks them). */
static void reopen_verify(struct fakedev *f, const uint32_t *n, uint32_t parts,
                          uint32_t (*vfy)(struct store *, uint32_t, uint32_t))
{
	struct store_blk *sb = sb_new(f);
	struct store_platform pl;
	struct store *st = NULL;

	store_blk_fill_platform(sb, &pl);
	CHECK(store_open(&pl, 0, &st) == 0);
	for (uint32_t k = 0; k < parts; k++)
		CHECK(vfy(st, k, n[k]) == n[k]);
	store_close(st);
	free(sb);
}

/* Reap the device's completions and let the store collect them. */
static void settle(struct fakedev *f, struct store_blk *sb, struct store *st)
{
	while (f->nq) {
		(void)store_blk_poll(sb);
		(void)store_poll(st);
	}
	(void)store_poll(st);
}

/* Four partitions appended to between the writes, several writes in
 * flight, the device completing the newest first: the high watermark
 * moves only when a partition's write has completed, appends go on while
 * one is in flight (a fresh tail continuing the written partial block),
 * and every record is read back and recovered after a reopen. */
static void t_async_writes_out_of_order(void)
{
	struct fakedev *f = fd_new(64u << 20, 512, 64, 64);
	struct store_blk *sb;
	struct store_platform pl;
	struct store *st = fresh(f, &sb, &pl, 4);
	uint32_t n[4] = {0};

	f->lifo = true;
	CHECK(pl.write_start && pl.wait);
	for (uint32_t round = 0; round < 40; round++) {
		for (uint32_t k = 0; k < 4; k++) {
			uint32_t more = 3 + (round * 5 + k) % 11;
			append_part(st, k, n[k], n[k] + more);
			n[k] += more;
		}
		CHECK(store_write_pending(st) == 0);
		/* submitted (or waiting behind a write in flight), not completed:
		 * this round's records are not readable yet */
		CHECK(store_part_hwm(tp(st, 0)) < n[0]);
		CHECK(store_io_busy(st));
		if (round % 3 == 2)
			settle(f, sb, st);
		else if (round % 3 == 1)
			(void)store_blk_poll(sb); /* some complete, collected later */
	}
	CHECK(store_write_pending(st) == 0);
	settle(f, sb, st);
	CHECK(store_write_pending(st) == 0); /* what waited behind a write in flight */
	settle(f, sb, st);
	CHECK(!store_io_busy(st));
	CHECK(sb->stats.max_async >= 4);
	CHECK(sb->stats.async_writes == sb->stats.async_done);
	for (uint32_t k = 0; k < 4; k++) {
		CHECK(store_part_hwm(tp(st, k)) == n[k]);
		CHECK(verify_part(st, k, n[k]) == n[k]);
	}
	CHECK(store_flush(st) == 0);
	store_close(st);
	CHECK(sb->stats.arena_used == STORE_BLK_REQ_PAGES - 1); /* no tail buffer leaked */
	free(sb);
	reopen_verify(f, n, 4, verify_part);
	fd_del(f);
}

/* A flush requested while the writes holding the data are in flight is
 * not sent before they complete (a device flush covers only completed
 * writes); the image as it is when the flush completes holds every record
 * appended before the request. */
static void t_flush_waits_for_the_writes_it_covers(void)
{
	struct fakedev *f = fd_new(16u << 20, 4096, 16, 16);
	struct store_blk *sb;
	struct store_platform pl;
	struct store *st = fresh(f, &sb, &pl, 2);
	bool ok = false;
	static const uint32_t before[2] = {50, 30};

	append_part(st, 0, 0, 50);
	append_part(st, 1, 0, 30);
	uint64_t want = store_flush_next(st);
	unsigned flushes = f->flushes, queued;
	CHECK(store_write_pending(st) == 0);
	queued = f->nq;
	CHECK(queued >= 2);
	CHECK(store_flush_start(st) == 0);
	CHECK(store_flush_busy(st));
	CHECK(f->nq == queued);     /* no flush submitted behind the writes */
	append_part(st, 0, 50, 60); /* after the request: not waited for */
	CHECK(store_write_pending(st) == 0);
	CHECK(f->nq == queued);   /* partition 0 waits for its write in flight */
	(void)store_blk_poll(sb); /* the writes complete ... */
	CHECK(f->nq == 0 && f->flushes == flushes);
	CHECK(store_write_pending(st) == 0); /* ... the flush goes, and p0's next write */
	CHECK(f->nq == 2);
	while (!store_blk_flush_result(sb, &ok))
		;
	CHECK(ok);
	store_flush_done(st, true);
	CHECK(store_flush_gen(st) >= want);
	/* the device as a crash would leave it now (opened below: one arena) */
	struct fakedev *g = fd_new(16u << 20, 4096, 16, 16);
	memcpy(g->img, f->img, 16u << 20);
	settle(f, sb, st);
	CHECK(verify_part(st, 0, 60) == 60);
	store_close(st);
	free(sb);
	fd_del(f);
	reopen_verify(g, before, 2, verify_part);
	fd_del(g);
}

/* A write the device fails: reported once by store_write_pending
 * (STORE_EIO), nothing becomes readable, a requested flush is held back,
 * and the data is written again and served once the device recovers;
 * appends to the partition go on meanwhile. */
static void t_failed_write_is_kept_and_written_again(void)
{
	struct fakedev *f = fd_new(16u << 20, 4096, 16, 16);
	struct store_blk *sb;
	struct store_platform pl;
	struct store *st = fresh(f, &sb, &pl, 1);
	bool ok = false;

	append(st, 0, 40);
	f->fail_op = BLKDEV_WRITE;
	unsigned flushes = f->flushes;
	CHECK(store_write_pending(st) == 0);
	CHECK(store_flush_start(st) == 0);
	settle(f, sb, st);
	CHECK(store_write_pending(st) == STORE_EIO); /* failed; submitted again */
	CHECK(store_write_errors(st) >= 1);
	CHECK(store_part_hwm(tp(st, 0)) == 0);
	append(st, 40, 45);
	settle(f, sb, st);
	CHECK(store_write_pending(st) == STORE_EIO);
	CHECK(store_part_hwm(tp(st, 0)) == 0 && verify(st, 40) == 0);
	CHECK(f->flushes == flushes && store_flush_busy(st)); /* held back */
	f->fail_op = -1;
	settle(f, sb, st);
	CHECK(store_write_pending(st) == 0); /* the resubmitted write ended well */
	CHECK(store_part_hwm(tp(st, 0)) == 40);
	settle(f, sb, st);
	CHECK(store_write_pending(st) == 0); /* records 40..44 */
	settle(f, sb, st);
	while (!store_blk_flush_result(sb, &ok))
		;
	CHECK(ok && f->flushes > flushes);
	store_flush_done(st, true);
	CHECK(verify(st, 45) == 45);
	CHECK(store_part_hwm(tp(st, 0)) == 45);
	/* a synchronous flush waits for (and writes again) whatever is in flight */
	append(st, 45, 60);
	f->fail_op = BLKDEV_WRITE;
	CHECK(store_write_pending(st) == 0);
	(void)store_blk_poll(sb);
	f->fail_op = -1;
	CHECK(store_flush(st) == 0);
	CHECK(!store_io_busy(st) && verify(st, 60) == 60);
	store_close(st);
	CHECK(sb->stats.arena_used == STORE_BLK_REQ_PAGES - 1);
	free(sb);
	fd_del(f);
}

/* Batches larger than the tail buffer (librdkafka's batches reach 1 MB)
 * go out asynchronously from a scratch buffer of their own, mixed with
 * small ones, two partitions, completions newest first: all served and
 * recovered, no buffer leaked. */
#define BIG_MAX (700u * 1024u)
static uint32_t big_rec(uint32_t i, uint8_t *out)
{
	uint32_t len = i % 3 == 1 ? 300000u + (i * 7919u) % 400000u : 500u + i;

	for (uint32_t k = 0; k < len; k++)
		out[k] = (uint8_t)(i * 13u + k * 7u);
	return len;
}

static uint32_t big_verify(struct store *st, uint32_t part, uint32_t n)
{
	uint8_t *want = malloc(BIG_MAX);
	struct store_read r;
	uint64_t off = 0;
	uint32_t good = 0;

	while (off < n && store_read(st, tp(st, part), off, 1u << 20, &r) == 0 && r.n) {
		for (uint32_t k = 0; k < r.n && off < n; k++, off++) {
			uint32_t len = big_rec((uint32_t)off, want);
			good += r.len[k] == len && !memcmp(r.ptr[k], want, len);
		}
		off = r.next_offset;
		store_read_release(st, &r);
	}
	free(want);
	return good;
}

static void t_async_big_batches(void)
{
	struct fakedev *f = fd_new(64u << 20, 4096, 64, 64);
	struct store_blk *sb;
	struct store_platform pl;
	struct store *st = fresh(f, &sb, &pl, 2);
	uint8_t *buf = malloc(BIG_MAX);
	const uint32_t n = 30;
	static const uint32_t ns[2] = {30, 30};

	f->lifo = true;
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t k = 0; k < 2; k++)
			CHECK(store_append(st, tp(st, k), buf, big_rec(i, buf), 1, i) == 0);
		if (i % 4 == 3) {
			CHECK(store_write_pending(st) == 0);
			(void)store_blk_poll(sb);
		}
	}
	CHECK(sb->stats.async_writes > 0 && sb->stats.max_async >= 2);
	CHECK(store_write_pending(st) == 0);
	settle(f, sb, st);
	CHECK(store_write_pending(st) == 0);
	settle(f, sb, st);
	for (uint32_t k = 0; k < 2; k++)
		CHECK(store_part_hwm(tp(st, k)) == n && big_verify(st, k, n) == n);
	store_close(st);
	CHECK(sb->stats.arena_used == STORE_BLK_REQ_PAGES - 1);
	free(sb);
	reopen_verify(f, ns, 2, big_verify);
	free(buf);
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

/* store_write_pending visits the dirty partitions alone (it used to walk
 * every partition at every broker poll: about 2,600 instructions per
 * single-record produce with the benchmark's topics): partitions far
 * apart among 64 are written, one with a write in flight stays counted
 * until its next write goes, a deleted dirty partition leaves the count,
 * and a count too high is corrected by the pass that visits them all. */
static void t_write_pending_visits_dirty_partitions(void)
{
	struct fakedev *f = fd_new(128u << 20, 512, 64, 64);
	struct store_blk *sb;
	struct store_platform pl;
	struct store *st = fresh(f, &sb, &pl, 32);
	static uint8_t buf[13184];
	uint32_t n31 = 0;

	CHECK(store_topic_create(st, "u", 1, 4) == 1);
	append_part(st, 31, 0, 10);
	append_part(st, 5, 0, 7);
	n31 = 10;
	CHECK(st->ndirty == 2 && f->nq == 0);
	CHECK(store_write_pending(st) == 0);
	CHECK(tp(st, 31)->wslot && tp(st, 5)->wslot && st->ndirty == 0);
	settle(f, sb, st);
	CHECK(store_part_hwm(tp(st, 31)) == 10 && store_part_hwm(tp(st, 5)) == 7);
	/* a write in flight: the next appends wait behind it, still dirty */
	append_part(st, 31, n31, n31 + 5);
	n31 += 5;
	CHECK(store_write_pending(st) == 0 && tp(st, 31)->wslot && st->ndirty == 0);
	append_part(st, 31, n31, n31 + 5);
	n31 += 5;
	CHECK(store_write_pending(st) == 0 && tp(st, 31)->dirty && st->ndirty == 1);
	settle(f, sb, st);
	CHECK(!tp(st, 31)->wslot && store_write_pending(st) == 0 && tp(st, 31)->wslot &&
	      st->ndirty == 0);
	settle(f, sb, st);
	CHECK(store_part_hwm(tp(st, 31)) == n31 && verify_part(st, 31, n31) == n31);
	/* a dirty partition deleted with its topic leaves the count */
	int u = store_topic_find(st, "u", 1);
	CHECK(u >= 0);
	CHECK(store_append(st, store_part_get(st, (uint32_t)u, 2), buf, rec(0, buf), 1, 0) == 0);
	CHECK(st->ndirty == 1);
	CHECK(store_topic_delete(st, (uint32_t)u) == 0);
	CHECK(st->ndirty == 0);
	/* a count too high: the pass visits every partition and corrects it */
	st->ndirty += 3;
	append_part(st, 0, 0, 4);
	CHECK(store_write_pending(st) == 0 && tp(st, 0)->wslot && st->ndirty == 0);
	settle(f, sb, st);
	CHECK(store_part_hwm(tp(st, 0)) == 4 && verify_part(st, 0, 4) == 4);
	CHECK(store_flush(st) == 0);
	store_close(st);
	free(sb);
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
	kt_add("store_blk_async_writes_out_of_order", t_async_writes_out_of_order);
	kt_add("store_blk_flush_waits_for_the_writes_it_covers",
	       t_flush_waits_for_the_writes_it_covers);
	kt_add("store_blk_async_big_batches", t_async_big_batches);
	kt_add("store_blk_failed_write_is_kept_and_written_again",
	       t_failed_write_is_kept_and_written_again);
	kt_add("store_blk_write_pending_visits_dirty_partitions",
	       t_write_pending_visits_dirty_partitions);
	int rc = kt_main(NULL, 0, argc, argv);

	free(arena);
	return rc;
}
