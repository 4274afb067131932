/*
 * blktest's parts (blktest.c: environment, device, main; blk_io.c: the
 * request engine; blk_cases.c: the cases and the benchmark). Internal to
 * user/apps/blktest.
 */
#ifndef BLKTEST_H
#define BLKTEST_H

#include <hallows/rt.h>

#include "ahci.h"
#include "nvme.h"
#include "virtio_blk.h"

#define DMA_VA     0x600000000000ull /* DMA pages: rings, PRP lists, data buffers */
#define QD         32                /* requests in flight */
#define SLOT_PAGES 64                /* data pages per in-flight request */
#define WAIT_US    10000000u

struct slot {
	struct blkdev_req req;
	uint8_t *va;
	uint64_t pages[SLOT_PAGES + 1];
	bool busy, done;
};

/* The program's state: one instance, bt (blktest.c). */
enum bt_kind { BT_NVME, BT_AHCI, BT_VIRTIO_BLK };

struct blktest {
	hl_cptr_t dev;
	enum bt_kind kind;
	const char *drv; /* "nvme", "ahci", "virtio_blk": the prefix of the benchmark names */
	hl_cptr_t ntfn[NVME_MAX_IOQ + 1];
	uint64_t dma_next;
	uint64_t seed;
	bool irq, kill, bench, readonly;
	unsigned failed, ncase;
	uint64_t irq_wakeups;    /* interrupt mode: waits ended by an interrupt */
	unsigned planned_resets; /* controller resets the cases asked for */
	struct nvme_ctrl ctrl;
	struct ahci_hba ahci;
	struct virtio_blk vblk;
	struct slot slot[QD];
	uint64_t rng;
};
extern struct blktest bt;

struct run {
	struct blkdev *d;
	uint8_t op;
	uint64_t next, end; /* blocks still to cover, in order */
	unsigned random;    /* >0: that many requests at random places instead */
	uint32_t maxn;      /* blocks per request at most */
	uint64_t bytes, reqs, mismatched, first_bad;
	int err;
	struct slot *slots; /* depth of them; NULL: bt.slot */
	int queue;          /* every request on this queue; -1: spread over all */
	uint64_t rng;
};

static inline uint64_t bt_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* blktest.c: the driver's environment, reporting, randomness */
void *bt_dma_page(void *ctx, uint64_t *pa);
uint64_t bt_now_us(void *ctx);
/* One KTAP case line; fmt explains a failure. */
void bt_check(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
uint64_t bt_rnd(uint64_t *state);

/* blktest.c: the driver in use, whichever it is */
unsigned bt_resets(void);                          /* resets the driver did so far */
int bt_recover(struct blkdev *d, const char *why); /* reset the device under d */
bool bt_all_posted(struct blkdev *d);              /* the device finished every request in flight */

/* blk_io.c: slots, the pattern, runs of requests */
void bt_req_done(struct blkdev_req *r);
bool bt_alloc_slots(void);
void bt_fill(struct slot *s, uint32_t bs, uint64_t seed);
uint32_t bt_compare(const struct slot *s, uint32_t bs, bool zeros, uint64_t *bad);
int bt_run_io(struct run *r, unsigned depth);
int bt_one_on(struct blkdev *d, struct slot *s, const uint64_t *pages, uint8_t op, uint64_t lba,
              uint32_t n, uint32_t offset);
int bt_one(struct blkdev *d, uint8_t op, uint64_t lba, uint32_t n, uint32_t offset);

/* blk_cases.c: the cases, in the order main runs them, and the benchmark */
void bt_whole_device(struct blkdev *d, const char *suffix);
void bt_edges_and_random(struct blkdev *d);
void bt_largest_requests(struct blkdev *d);
void bt_bad_requests(struct blkdev *d);
void bt_queues_on_two_cpus(struct blkdev *d);
void bt_reset_in_flight(struct blkdev *d);
void bt_write_zeroes(struct blkdev *d);
void bt_flush(struct blkdev *d);
void bt_readonly_disk(struct blkdev *d);
void bt_device_errors(struct blkdev *d);
void bt_bench(struct blkdev *d);

#endif
