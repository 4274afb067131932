/*
 * The block-driver interface (docs/drivers.md, "Block"): every block
 * driver fills the same operations table, so the log store and the broker
 * use any disk unchanged. Freestanding C; no allocation behind the
 * caller's back.
 *
 * A driver exposes one struct blkdev per namespace (or disk). Requests go
 * to one of the device's nqueues queues (one per CPU where the device
 * allows; a queue is used by one thread at a time, so per-CPU queues need
 * no lock). Data moves by DMA between the device and pages the caller
 * owns, named by their physical addresses; the driver never copies it.
 *
 *   submit(q, req) ... submit(q, req)     several requests in flight
 *   poll(q, max) / wait(q, timeout)       completions: req->status set,
 *                                         req->done(req) called if set
 */
#ifndef BLKDEV_H
#define BLKDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Results: 0 or a negative code. A request's status holds one of these too. */
enum blkdev_err {
	BLKDEV_OK = 0,
	BLKDEV_E_RANGE = -1, /* blocks beyond the end of the device */
	BLKDEV_E_INVAL =
	    -2,             /* zero length, misaligned buffer, bigger than max_blocks, unknown op */
	BLKDEV_E_BUSY = -3, /* the queue is full: reap completions first */
	BLKDEV_E_IO = -4,   /* the device reported an error for this request */
	BLKDEV_E_DEVICE =
	    -5, /* the device wrote nonsense or failed: it was reset, in-flight requests failed */
	BLKDEV_E_TIMEOUT = -6,     /* the device did not answer in time */
	BLKDEV_E_UNSUPPORTED = -7, /* the device lacks the operation (e.g. write-zeroes) */
	BLKDEV_E_NOMEM = -8,       /* the environment gave no DMA memory */
	BLKDEV_E_ABORTED = -9,     /* failed because the device was reset while it was in flight */
};

enum blkdev_op { BLKDEV_READ = 0, BLKDEV_WRITE = 1, BLKDEV_FLUSH = 2, BLKDEV_WRITE_ZEROES = 3 };

/* Completion modes, chosen by the caller when the driver starts. */
enum blkdev_mode { BLKDEV_POLLED = 0, BLKDEV_INTERRUPT = 1 };

/* blkdev.flags */
#define BLKDEV_HAS_WRITE_ZEROES   1u
#define BLKDEV_HAS_VOLATILE_CACHE 2u /* writes need a flush to be durable */

#define BLKDEV_PAGE 4096u

/*
 * One request. The buffer is len = nblocks * block_size bytes starting at
 * byte `offset` (4-byte aligned, below 4096) of pages[0] and running on
 * through pages[1], pages[2], ... (physical addresses of 4 KiB pages, each
 * page-aligned). Flush ignores lba, nblocks and the buffer; write-zeroes
 * ignores the buffer. The request belongs to the driver from a successful
 * submit until its completion.
 */
struct blkdev_req {
	uint8_t op; /* enum blkdev_op */
	uint64_t lba;
	uint32_t nblocks;
	const uint64_t *pages;
	uint32_t offset;
	int status;                         /* set at completion: BLKDEV_OK or an enum blkdev_err */
	void (*done)(struct blkdev_req *r); /* called at completion, may be NULL */
	void *user;
};

struct blkdev;

struct blkdev_ops {
	/* Queue r on queue q; 0 or an error (nothing was queued then). */
	int (*submit)(struct blkdev *d, unsigned q, struct blkdev_req *r);
	/* Complete up to max finished requests of queue q without blocking; returns how many, or an
	 * error. */
	int (*poll)(struct blkdev *d, unsigned q, unsigned max);
	/*
	 * Wait until at least one request of queue q completes (spinning in
	 * polled mode, on the queue's interrupt otherwise), then complete what
	 * is finished; returns how many (0 only when nothing is in flight),
	 * BLKDEV_E_TIMEOUT (the device was reset and what was in flight
	 * failed with BLKDEV_E_ABORTED), or an error.
	 */
	int (*wait)(struct blkdev *d, unsigned q, uint64_t timeout_us);
	/* Requests in flight on queue q. */
	unsigned (*inflight)(struct blkdev *d, unsigned q);
};

struct blkdev {
	const struct blkdev_ops *ops;
	void *priv;    /* the driver's */
	char name[24]; /* e.g. "nvme0n1" */
	uint64_t nblocks;
	uint32_t block_size;
	uint32_t max_blocks;  /* largest request */
	uint32_t nqueues;     /* queues 0 .. nqueues-1 */
	uint32_t queue_depth; /* requests in flight per queue at most */
	uint32_t flags;       /* BLKDEV_HAS_* */
	uint8_t mode;         /* enum blkdev_mode */
};

/*
 * What a block driver needs from its partition, shared by every block
 * driver so one implementation (user/apps/blktest, the log store) serves
 * them all and host tests can fake it.
 */
struct blkdev_env {
	void *ctx;
	/* One zeroed 4 KiB page for DMA: its address here, its physical address in *pa; NULL when
	 * out of memory. */
	void *(*dma_page)(void *ctx, uint64_t *pa);
	uint64_t (*now_us)(void *ctx);
	/* Route MSI-X table entry `vector` (or MSI, vector 0) to `cpu` (interrupt mode only); 0 or
	 * a negative error. */
	int (*irq_bind)(void *ctx, unsigned vector, unsigned cpu);
	/* Block until `vector` fired since the last wait (or timeout_us passed: BLKDEV_E_TIMEOUT);
	 * 0 when it fired. */
	int (*irq_wait)(void *ctx, unsigned vector, uint64_t timeout_us);
	void (*log)(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
};

static inline int blkdev_submit(struct blkdev *d, unsigned q, struct blkdev_req *r)
{
	return d->ops->submit(d, q, r);
}

static inline int blkdev_poll(struct blkdev *d, unsigned q, unsigned max)
{
	return d->ops->poll(d, q, max);
}

static inline int blkdev_wait(struct blkdev *d, unsigned q, uint64_t timeout_us)
{
	return d->ops->wait(d, q, timeout_us);
}

/* Checks every driver makes before queueing: returns 0 or BLKDEV_E_RANGE / BLKDEV_E_INVAL. */
int blkdev_check(const struct blkdev *d, const struct blkdev_req *r);
const char *blkdev_strerror(int err);

#endif
