/* The log store's platform over the block-driver interface (store_blk.h). */
#include "store_blk.h"

#include <lib/prof.h>
#include <lib/string.h>

#define PAGE      4096u
#define RUN_INNER 0xffffffffu
#define WAIT_US   10000000u

static void sb_log(struct store_blk *sb, const char *what, const char *detail, long long v)
{
	if (sb->env.log)
		sb->env.log(sb->env.ctx, what, detail, v);
}

/* ---- the DMA arena: first-fit runs of whole pages ---- */

bool store_blk_in_arena(const struct store_blk *sb, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)sb->data;

	return a >= lo && len <= (size_t)sb->npages * PAGE &&
	       a - lo <= (size_t)sb->npages * PAGE - len;
}

/* Length of the free run at i, at most want pages. */
static uint32_t free_run(const struct store_blk *sb, uint32_t i, uint32_t want)
{
	uint32_t n = 0;

	while (n < want && i + n < sb->npages && sb->meta[i + n] == 0)
		n++;
	return n;
}

void *store_blk_alloc(void *ctx, size_t size)
{
	struct store_blk *sb = ctx;
	uint64_t want64 = size ? (size + PAGE - 1) / PAGE : 1;
	uint32_t want, i, scanned = 0;

	if (want64 > sb->npages)
		return NULL;
	want = (uint32_t)want64;
	for (i = sb->hint < sb->npages ? sb->hint : 0; scanned < sb->npages;) {
		uint32_t m = sb->meta[i], step;
		if (m == 0) {
			uint32_t n = free_run(sb, i, want);
			if (n == want) {
				sb->meta[i] = want;
				for (uint32_t k = 1; k < want; k++)
					sb->meta[i + k] = RUN_INNER;
				sb->hint = i + want;
				sb->stats.arena_used += want;
				if (sb->stats.arena_used > sb->stats.arena_peak)
					sb->stats.arena_peak = sb->stats.arena_used;
				return sb->data + (size_t)i * PAGE;
			}
			step = n;
		} else {
			step = m == RUN_INNER ? 1 : m;
		}
		scanned += step;
		i += step;
		if (i >= sb->npages)
			i = 0;
	}
	return NULL;
}

void store_blk_free(void *ctx, void *p)
{
	struct store_blk *sb = ctx;
	uintptr_t off = (uintptr_t)p - (uintptr_t)sb->data;
	uint32_t i, n;

	if (!p)
		return;
	if (!store_blk_in_arena(sb, p, 1) || off % PAGE || (n = sb->meta[off / PAGE]) == 0 ||
	    n == RUN_INNER) {
		sb_log(sb, "store_blk: free of a pointer the arena never gave", "", (long long)off);
		return;
	}
	i = (uint32_t)(off / PAGE);
	memset(&sb->meta[i], 0, (size_t)n * sizeof(sb->meta[0]));
	sb->stats.arena_used -= n;
	if (i < sb->hint)
		sb->hint = i;
}

/* ---- requests ---- */

/* The last request of an asynchronous write has ended. */
static void group_end(struct store_blk *sb, struct sblk_group *g)
{
	g->busy = false;
	sb->async_inflight--;
	sb->stats.async_done++;
	g->done(g->arg, !g->first_err);
}

static void data_done(struct blkdev_req *r)
{
	struct store_blk *sb = r->user;
	struct sblk_req *x = (struct sblk_req *)r; /* req is the first member */
	struct sblk_group *g = x->group;

	x->busy = false;
	sb->inflight--;
	if (r->status) {
		sb->stats.errors++;
		if (!g->first_err)
			g->first_err = r->status;
	}
	if (--g->pending == 0 && g->done)
		group_end(sb, g);
}

static void flush_done(struct blkdev_req *r)
{
	struct store_blk *sb = r->user;

	sb->flush_busy = false;
	sb->flush_done = true;
	sb->flush_ok = r->status == BLKDEV_OK;
	if (r->status)
		sb->stats.errors++;
}

/* Wait for at least one completion on the queue; 0 or a negative error. */
static int wait_some(struct store_blk *sb)
{
	PROF_ENTER(PROF_DISK_WAIT);
	uint64_t t0 = sb->env.ticks ? sb->env.ticks(sb->env.ctx) : 0;
	int n = blkdev_wait(sb->dev, sb->queue, sb->env.wait_us ? sb->env.wait_us : WAIT_US);
	PROF_LEAVE();

	if (sb->env.ticks)
		sb->stats.wait_ticks += sb->env.ticks(sb->env.ctx) - t0;

	if (n < 0) {
		sb_log(sb, "store_blk: wait failed", blkdev_strerror(n), n);
		return n;
	}
	return 0;
}

/* Wait until the requests of g have ended. */
static int drain(struct store_blk *sb, struct sblk_group *g)
{
	while (g->pending)
		if (wait_some(sb))
			return -1;
	return 0;
}

static struct sblk_req *free_slot(struct store_blk *sb)
{
	for (;;) {
		for (unsigned i = 0; i < STORE_BLK_QD; i++)
			if (!sb->reqs[i].busy)
				return &sb->reqs[i];
		if (wait_some(sb))
			return NULL;
	}
}

/* Submit one request of g for n device blocks at lba on the buffer at va. */
static int submit(struct store_blk *sb, struct sblk_group *g, uint8_t op, uint64_t lba, uint32_t n,
                  uint8_t *va)
{
	struct sblk_req *x = free_slot(sb);
	uintptr_t base = (uintptr_t)va & ~(uintptr_t)(PAGE - 1);
	uint32_t offset = (uint32_t)((uintptr_t)va - base);
	uint32_t len = n * sb->dev->block_size, npg = (offset + len + PAGE - 1) / PAGE;
	int err;

	if (!x)
		return -1;
	for (uint32_t k = 0; k < npg; k++)
		x->pages[k] = sb->env.pa(sb->env.ctx, (const void *)(base + (uintptr_t)k * PAGE)) &
		              ~(uint64_t)(PAGE - 1);
	x->req = (struct blkdev_req){.op = op,
	                             .lba = lba,
	                             .nblocks = n,
	                             .pages = x->pages,
	                             .offset = offset,
	                             .done = data_done,
	                             .user = sb};
	while ((err = blkdev_submit(sb->dev, sb->queue, &x->req)) == BLKDEV_E_BUSY)
		if (wait_some(sb))
			return -1;
	if (err) {
		sb_log(sb, "store_blk: submit refused", blkdev_strerror(err), (long long)lba);
		return -1;
	}
	x->busy = true;
	x->group = g;
	g->pending++;
	sb->stats.requests++;
	if (++sb->inflight > sb->stats.max_inflight)
		sb->stats.max_inflight = sb->inflight;
	return 0;
}

/* A buffer outside the arena goes through the bounce buffer, one request
 * at a time, and the copies are counted. */
static int bounced(struct store_blk *sb, struct sblk_group *g, bool write, uint64_t lba, uint32_t n,
                   uint8_t *buf)
{
	uint32_t len = n * sb->dev->block_size;

	if (write) {
		memcpy(sb->bounce, buf, len);
		sb->stats.bounce_write_bytes += len;
	}
	if (submit(sb, g, write ? BLKDEV_WRITE : BLKDEV_READ, lba, n, sb->bounce) || drain(sb, g))
		return -1;
	if (!write && !g->first_err) {
		memcpy(buf, sb->bounce, len);
		sb->stats.bounce_read_bytes += len;
	}
	return 0;
}

/* Submit the requests of count store blocks at blk from or into buf as
 * group g (a buffer outside the arena is bounced, synchronously); false
 * when the range is bad or a submission failed. */
static bool rw_submit(struct store_blk *sb, struct sblk_group *g, bool write, uint64_t blk,
                      uint8_t *buf, uint32_t count)
{
	uint64_t total = (uint64_t)count * STORE_BLOCK, lba = blk * sb->blk_ratio;
	uint64_t chunk = (uint64_t)sb->req_blocks * sb->dev->block_size;
	bool direct = store_blk_in_arena(sb, buf, (size_t)total);
	int err = 0;

	if (!count || blk + count < blk || (blk + count) * sb->blk_ratio > sb->dev->nblocks)
		return false;
	for (uint64_t off = 0; off < total && !err && !g->first_err; off += chunk) {
		uint32_t n =
		    (uint32_t)((total - off < chunk ? total - off : chunk) / sb->dev->block_size);
		uint64_t at = lba + off / sb->dev->block_size;
		err = direct ? submit(sb, g, write ? BLKDEV_WRITE : BLKDEV_READ, at, n, buf + off)
		             : bounced(sb, g, write, at, n, buf + off);
	}
	*(write ? &sb->stats.write_bytes : &sb->stats.read_bytes) += err ? 0 : total;
	return !err;
}

/* count store blocks at blk from or into buf, several requests in flight,
 * waited for. */
static int rw(struct store_blk *sb, bool write, uint64_t blk, uint8_t *buf, uint32_t count)
{
	struct sblk_group *g =
	    &sb->sync_group; /* not on the stack: a failed wait leaves it in use */
	bool ok;

	*g = (struct sblk_group){0};
	ok = rw_submit(sb, g, write, blk, buf, count);
	if (drain(sb, g))
		return -1;
	if (!ok || g->first_err) {
		sb_log(sb, write ? "store_blk: write failed" : "store_blk: read failed",
		       blkdev_strerror(g->first_err), (long long)blk);
		return -1;
	}
	return 0;
}

/* Asynchronous write: g's completion calls done(arg, ok). */
static int p_write_start(void *ctx, uint64_t blk, const void *buf, uint32_t count,
                         void (*done)(void *arg, bool ok), void *arg)
{
	struct store_blk *sb = ctx;
	struct sblk_group *g = NULL;
	bool ok;

	if (!store_blk_in_arena(sb, buf, (size_t)count * STORE_BLOCK)) { /* bounced: at once */
		sb->stats.writes++;
		done(arg, rw(sb, true, blk, (uint8_t *)(uintptr_t)buf, count) == 0);
		return 0;
	}
	for (unsigned i = 0; i < STORE_BLK_QD && !g; i++)
		if (!sb->groups[i].busy)
			g = &sb->groups[i];
	if (!g)
		return -1; /* the store has fewer writes in flight than groups */
	*g = (struct sblk_group){.busy = true, .pending = 1, .done = done, .arg = arg};
	sb->stats.writes++;
	sb->stats.async_writes++;
	if (++sb->async_inflight > sb->stats.max_async)
		sb->stats.max_async = sb->async_inflight;
	PROF_ENTER(PROF_DISK);
	/* pending starts at 1 so that no completion ends g while it is being submitted */
	ok = rw_submit(sb, g, true, blk, (uint8_t *)(uintptr_t)buf, count);
	PROF_LEAVE();
	if (!ok && !g->first_err)
		g->first_err = BLKDEV_E_IO;
	if (!ok)
		sb_log(sb, "store_blk: write submission failed", "", (long long)blk);
	if (--g->pending == 0) /* everything already ended (or nothing went out) */
		group_end(sb, g);
	return 0;
}

static int p_wait(void *ctx)
{
	struct store_blk *sb = ctx;

	return sb->async_inflight ? wait_some(sb) : 0;
}

static int p_read(void *ctx, uint64_t blk, void *buf, uint32_t count)
{
	struct store_blk *sb = ctx;

	int err;

	sb->stats.reads++;
	PROF_ENTER(PROF_DISK);
	err = rw(sb, false, blk, buf, count);
	PROF_LEAVE();
	return err;
}

static int p_write(void *ctx, uint64_t blk, const void *buf, uint32_t count)
{
	struct store_blk *sb = ctx;

	sb->stats.writes++;
	/* The device only reads a write's buffer; the cast drops const for
	 * the shared request path. */
	PROF_ENTER(PROF_DISK);
	int err = rw(sb, true, blk, (uint8_t *)(uintptr_t)buf, count);
	PROF_LEAVE();
	return err;
}

static void sync_done(struct blkdev_req *r)
{
	struct store_blk *sb = r->user;

	sb->sync_busy = false;
	sb->sync_ok = r->status == BLKDEV_OK;
	if (r->status)
		sb->stats.errors++;
}

/* Submit a flush on r; *busy is set until its completion clears it. */
static int flush_submit(struct store_blk *sb, struct blkdev_req *r, bool *busy,
                        void (*done)(struct blkdev_req *))
{
	int err;

	*r = (struct blkdev_req){.op = BLKDEV_FLUSH, .done = done, .user = sb};
	while ((err = blkdev_submit(sb->dev, sb->queue, r)) == BLKDEV_E_BUSY)
		if (wait_some(sb))
			return -1;
	if (err) {
		sb_log(sb, "store_blk: flush refused", blkdev_strerror(err), err);
		return -1;
	}
	*busy = true;
	sb->stats.flushes++;
	return 0;
}

/* Synchronous flush: everything completed before it is durable after it.
 * An asynchronous flush in flight is left alone (its result is collected
 * by store_blk_flush_result). */
static int p_flush(void *ctx)
{
	struct store_blk *sb = ctx;

	if (flush_submit(sb, &sb->sync_req, &sb->sync_busy, sync_done))
		return -1;
	while (sb->sync_busy)
		if (wait_some(sb))
			return -1;
	return sb->sync_ok ? 0 : -1;
}

static int p_flush_start(void *ctx)
{
	struct store_blk *sb = ctx;

	if (sb->flush_busy)
		return 0;
	return flush_submit(sb, &sb->flush_req, &sb->flush_busy, flush_done);
}

unsigned store_blk_poll(struct store_blk *sb)
{
	uint64_t done = sb->stats.async_done;

	if (sb->flush_busy || sb->async_inflight)
		(void)blkdev_poll(sb->dev, sb->queue, STORE_BLK_QD + 1);
	return (unsigned)(sb->stats.async_done - done);
}

bool store_blk_busy(const struct store_blk *sb)
{
	return sb->flush_busy || sb->async_inflight;
}

bool store_blk_flush_result(struct store_blk *sb, bool *ok)
{
	if (sb->flush_busy)
		(void)blkdev_poll(sb->dev, sb->queue, STORE_BLK_QD + 1);
	if (!sb->flush_done)
		return false;
	sb->flush_done = false;
	*ok = sb->flush_ok;
	return true;
}

static uint64_t p_now_ms(void *ctx)
{
	struct store_blk *sb = ctx;

	return sb->env.now_ms ? sb->env.now_ms(sb->env.ctx) : 0;
}

static void p_log(void *ctx, const char *what, const char *detail, long long v)
{
	sb_log(ctx, what, detail, v);
}

int store_blk_init(struct store_blk *sb, struct blkdev *dev, unsigned queue,
                   const struct store_blk_env *env)
{
	uint32_t bs = dev->block_size, total, meta_pages;

	memset(sb, 0, sizeof(*sb));
	if (!bs || bs > STORE_BLOCK || STORE_BLOCK % bs || queue >= dev->nqueues || !env->pa ||
	    ((uintptr_t)env->arena % PAGE) || env->arena_size / PAGE > 0x7fffffffu)
		return BLKDEV_E_INVAL;
	sb->dev = dev, sb->queue = queue, sb->env = *env;
	sb->blk_ratio = STORE_BLOCK / bs;
	sb->req_blocks =
	    STORE_BLK_REQ_BYTES / bs < dev->max_blocks ? STORE_BLK_REQ_BYTES / bs : dev->max_blocks;
	sb->req_blocks -= sb->req_blocks % sb->blk_ratio; /* whole store blocks per request */
	total = (uint32_t)(env->arena_size / PAGE);
	meta_pages = (total + PAGE / 4 - 1) / (PAGE / 4);
	if (!sb->req_blocks || total <= meta_pages + STORE_BLK_REQ_PAGES)
		return BLKDEV_E_INVAL;
	sb->meta = (uint32_t *)(void *)env->arena;
	memset(sb->meta, 0, (size_t)meta_pages * PAGE);
	sb->data = env->arena + (size_t)meta_pages * PAGE;
	sb->npages = total - meta_pages;
	sb->stats.arena_pages = sb->npages;
	if (!(sb->bounce = store_blk_alloc(sb, STORE_BLK_REQ_BYTES)))
		return BLKDEV_E_NOMEM;
	return 0;
}

void store_blk_fill_platform(struct store_blk *sb, struct store_platform *pl)
{
	*pl = (struct store_platform){
	    .ctx = sb,
	    .dev_blocks = sb->dev->nblocks / sb->blk_ratio,
	    .read = p_read,
	    .write = p_write,
	    .flush = p_flush,
	    .flush_start = p_flush_start,
	    .write_start = p_write_start,
	    .wait = p_wait,
	    .alloc = store_blk_alloc,
	    .free = store_blk_free,
	    .now_ms = p_now_ms,
	    .log = p_log,
	};
}
