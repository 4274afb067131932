/*
 * virtio-blk request queues (virtio 1.2 §5.2.6) without any platform
 * dependency: building requests into a split virtqueue, completing them
 * from the used ring with every byte the device wrote checked, and the
 * checks of the device's configuration. Host-tested (tests/host/drivers)
 * and fuzzed (tests/fuzz/drivers); the device bring-up is virtio_blk.c.
 *
 * Each in-flight request owns one slot: a 4 KiB DMA page holding its
 * indirect descriptor table (VIRTIO_F_INDIRECT_DESC) at 0, its request
 * header at VBLK_SLOT_HDR, the write-zeroes range after it and the status
 * byte the device writes at VBLK_SLOT_STATUS. Without indirect
 * descriptors the chain goes straight into the ring.
 */
#ifndef DRIVERS_VIRTIO_BLK_QUEUE_H
#define DRIVERS_VIRTIO_BLK_QUEUE_H

#include "blkdev.h"
#include "virtq.h"

#define VBLK_QD          32  /* requests in flight per queue */
#define VBLK_MAX_SEGS    128 /* data pages per request (indirect) */
#define VBLK_DIRECT_SEGS 6   /* data pages per request without indirect descriptors */
#define VBLK_SLOT_HDR    3072
#define VBLK_SLOT_WZ     (VBLK_SLOT_HDR + 16)
#define VBLK_SLOT_STATUS (VBLK_SLOT_HDR + 32)
#define VBLK_STATUS_NONE 0xee /* written before submission: a device that never wrote it shows */

_Static_assert((VBLK_MAX_SEGS + 2) * 16 <= VBLK_SLOT_HDR, "indirect table fits below the header");

struct vblk_slot {
	volatile uint8_t *va; /* the slot's DMA page */
	uint64_t pa;
	struct blkdev_req *req; /* in flight, or NULL */
};

/* One request queue. Single-threaded: one caller at a time. */
struct vblk_queue {
	struct virtq q;
	struct vblk_slot slot[VBLK_QD];
	uint8_t free[VBLK_QD];
	uint16_t nfree;
	uint16_t depth;    /* slots in use: at most VBLK_QD */
	uint16_t max_segs; /* data descriptors per request */
	uint32_t block_size;
	bool indirect;
	const char *fault; /* what the device did wrong, once broken */
	char fault_buf[64];
};

/* The device's configuration as read (§5.2.4), and what the driver makes of it. */
struct vblk_config {
	uint64_t features; /* negotiated */
	uint64_t capacity; /* 512-byte sectors */
	uint32_t size_max, seg_max, blk_size;
	uint16_t num_queues;
	uint32_t max_wz_sectors, max_wz_seg;
	uint8_t writeback;
};
struct vblk_geometry {
	uint64_t nblocks;
	uint32_t block_size;
	uint32_t max_segs; /* data pages per request */
	uint16_t nqueues;
	uint32_t max_wz_sectors; /* write-zeroes per request, 512-byte sectors */
	bool write_zeroes, flush;
};

/*
 * Check the configuration against the negotiated features and turn it
 * into a geometry: block size a power of two in 512..4096, capacity a
 * whole number of blocks (a partial last block is not used) and not 0,
 * a segment limit of at least one page (size_max below 4096 is refused),
 * queues limited to want. Returns 0 or a description of what is wrong.
 */
const char *vblk_parse_config(const struct vblk_config *c, bool indirect, unsigned want_queues,
                              struct vblk_geometry *g);

/* Zero state over slots whose va/pa are set; ring memory as virtq_init wants. */
int vblk_q_init(struct vblk_queue *vq, uint16_t index, uint16_t size, void *desc, uint64_t desc_pa,
                void *avail, uint64_t avail_pa, void *used, uint64_t used_pa, uint16_t depth,
                uint16_t max_segs, uint32_t block_size, bool indirect)
    __attribute__((warn_unused_result));
/*
 * Put r (already checked with blkdev_check) on the ring; the caller
 * publishes and notifies. 0, BLKDEV_E_BUSY (no slot or descriptors),
 * BLKDEV_E_INVAL (more pages than max_segs) or BLKDEV_E_DEVICE (broken).
 */
int vblk_q_submit(struct vblk_queue *vq, struct blkdev_req *r) __attribute__((warn_unused_result));
/*
 * Complete up to max finished requests; how many, or BLKDEV_E_DEVICE when
 * the device wrote nonsense (vq->fault says what; the request it named,
 * if any, completes with BLKDEV_E_DEVICE and the queue stays broken).
 */
int vblk_q_reap(struct vblk_queue *vq, unsigned max);
/* After the device was reset: complete everything in flight with status; how many. */
unsigned vblk_q_fail_all(struct vblk_queue *vq, int status);
static inline unsigned vblk_q_inflight(const struct vblk_queue *vq)
{
	return (unsigned)(vq->depth - vq->nfree);
}
/* The request's status byte as an enum blkdev_err; 1 for a value the specification lacks. */
int vblk_status_to_err(uint8_t status, uint8_t op);

#endif
