/*
 * The log store's platform over the block-driver interface (blkdev.h):
 * any block driver (NVMe today) carries the Gringotts store unchanged.
 * Freestanding; see docs/log-format.md, "Store over a block device".
 *
 * Memory: every buffer the store allocates comes from one DMA arena the
 * partition hands over (mapped, and mapped for the device's DMA), so the
 * disk reads and writes the store's own buffers: a fetch serves stored
 * bytes from the very pages the disk's DMA filled, and a NIC can send
 * them by reference. A buffer outside the arena would be bounced through
 * a copy: bounce_read_bytes counts the bytes the CPU copied on the read
 * path (expected: zero).
 *
 * I/O: a store read or write is cut into requests of at most
 * STORE_BLK_REQ_BYTES, up to STORE_BLK_QD of them in flight on one queue.
 * Reads and synchronous writes wait for their own requests only; an
 * asynchronous write (write_start) returns once submitted, and its
 * completion reaches the store from store_blk_poll() (or from a wait the
 * store makes). A flush is a BLKDEV_FLUSH; flush_start submits one and
 * returns, and the owner collects its end with store_blk_flush_result().
 *
 * Single-threaded: one caller (the partition's loop) uses one queue.
 */
#ifndef STORE_BLK_H
#define STORE_BLK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/store.h"
#include "blkdev.h"

#define STORE_BLK_QD        16u
#define STORE_BLK_REQ_BYTES (256u * 1024u)
#define STORE_BLK_REQ_PAGES (STORE_BLK_REQ_BYTES / 4096u + 1u)

/* What the partition provides. The arena is page aligned; pa() returns
 * the physical address of the byte at va (inside the arena). */
struct store_blk_env {
	void *ctx;
	uint8_t *arena;
	size_t arena_size;
	uint64_t (*pa)(void *ctx, const void *va);
	uint64_t (*now_ms)(void *ctx); /* also seeds the store id at format */
	void (*log)(void *ctx, const char *what, const char *detail, long long v);
	uint64_t wait_us; /* per completion wait; 0: 10 s */
	/* optional: a cycle counter; the time spent waiting for completions is then
	 * summed in stats.wait_ticks (a benchmark leaves it out of the CPU's work) */
	uint64_t (*ticks)(void *ctx);
};

struct store_blk_stats {
	uint64_t reads, writes, flushes;  /* store calls */
	uint64_t requests;                /* blkdev requests submitted */
	uint64_t read_bytes, write_bytes; /* moved by the device's DMA */
	uint64_t bounce_read_bytes;       /* read payload copied by the CPU */
	uint64_t bounce_write_bytes;      /* written bytes copied by the CPU */
	uint32_t max_inflight;            /* most requests in flight at once */
	uint64_t errors;                  /* requests that failed */
	uint32_t arena_pages, arena_used; /* pages; arena_used now */
	uint32_t arena_peak;
	uint64_t wait_ticks;   /* env.ticks spent waiting for completions */
	uint64_t async_writes; /* asynchronous store writes submitted */
	uint64_t async_done;   /* ... and completed (ok or not) */
	uint32_t max_async;    /* most asynchronous writes in flight at once */
};

/* The requests of one store read or write: done when the last ends. */
struct sblk_group {
	uint32_t pending;
	int first_err;
	bool busy;                        /* an asynchronous write's group in use */
	void (*done)(void *arg, bool ok); /* asynchronous: the store's completion */
	void *arg;
};

struct sblk_req {
	struct blkdev_req req;
	uint64_t pages[STORE_BLK_REQ_PAGES];
	struct sblk_group *group;
	bool busy;
};

struct store_blk {
	struct blkdev *dev;
	unsigned queue;
	struct store_blk_env env;
	uint32_t blk_ratio;  /* device blocks per STORE_BLOCK */
	uint32_t req_blocks; /* device blocks per request at most */
	uint8_t *data;       /* first allocatable page of the arena */
	uint32_t npages;
	uint32_t *meta; /* per page: 0 free, run length at a run's start, ~0 inside */
	uint32_t hint;
	uint8_t *bounce; /* one request's worth, for buffers outside the arena */
	uint32_t inflight;
	uint32_t async_inflight; /* asynchronous writes (groups) in flight */
	struct sblk_req reqs[STORE_BLK_QD];
	struct sblk_group groups[STORE_BLK_QD];
	struct sblk_group sync_group; /* the read or synchronous write being waited for */
	struct blkdev_req flush_req;  /* asynchronous (flush_start) */
	bool flush_busy, flush_done, flush_ok;
	struct blkdev_req sync_req; /* synchronous (flush) */
	bool sync_busy, sync_ok;
	struct store_blk_stats stats;
};

/* 0, or BLKDEV_E_INVAL (block size does not divide 4 KiB, arena too small). */
int store_blk_init(struct store_blk *sb, struct blkdev *dev, unsigned queue,
                   const struct store_blk_env *env) __attribute__((warn_unused_result));
void store_blk_fill_platform(struct store_blk *sb, struct store_platform *pl);
/* Reap completions without blocking; true once when an asynchronous flush
 * has ended (*ok: it succeeded): pass it on to store_flush_done() or
 * broker_flush_done(). */
bool store_blk_flush_result(struct store_blk *sb, bool *ok);
/* Reap completions without blocking (asynchronous writes and flush);
 * returns how many asynchronous writes ended: the owner then lets the
 * store collect them (store_poll, or the broker's next poll). */
unsigned store_blk_poll(struct store_blk *sb);
/* Requests or a flush in flight: the owner keeps polling the disk. */
bool store_blk_busy(const struct store_blk *sb);
/* The store's allocator, also usable by the partition for DMA buffers. */
void *store_blk_alloc(void *ctx, size_t size);
void store_blk_free(void *ctx, void *p);
bool store_blk_in_arena(const struct store_blk *sb, const void *p, size_t len);

#endif
