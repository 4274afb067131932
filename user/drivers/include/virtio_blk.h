/*
 * The virtio-blk driver (user/drivers/virtio_blk.c, virtio_blk_queue.c):
 * virtio 1.x over the modern PCI transport (virtio_pci.c, shared with
 * virtio-net), one struct blkdev for the disk, one request queue per CPU
 * where the device has VIRTIO_BLK_F_MQ, polled or MSI-X per queue.
 * DMA pages, time, interrupts and the console come through struct
 * blkdev_env (blkdev.h); the PCI device capability through the transport.
 */
#ifndef VIRTIO_BLK_H
#define VIRTIO_BLK_H

#include "blkdev.h"
#include "virtio_blk_queue.h" /* user/drivers/ */
#include "virtio_pci.h"

#define VBLK_MAX_Q 8

struct virtio_blk {
	struct blkdev dev;
	const struct blkdev_env *env;
	struct virtio_pci vp;
	uint16_t bdf, device_id;
	uint8_t mode;
	bool ro;
	struct vblk_geometry geo;
	struct vblk_queue q[VBLK_MAX_Q];
	void *ring[VBLK_MAX_Q][3]; /* desc, avail, used: one page each, kept across resets */
	uint64_t ring_pa[VBLK_MAX_Q][3];
	unsigned nq;
	unsigned resets;
	bool dead; /* a reset failed: every call reports BLKDEV_E_DEVICE */
};

/* Whether vendor:device is a virtio-blk function this driver takes. */
bool virtio_blk_matches(uint16_t vendor, uint16_t device);

/*
 * Open the function behind dev (its capability; bdf for messages), reset
 * it, negotiate, read the configuration, set up to want_queues queues in
 * the given mode (MSI-X entry i for queue i), print the device. 0 or a
 * negative enum blkdev_err.
 */
int virtio_blk_start(struct virtio_blk *vb, hl_cptr_t dev, uint16_t bdf,
                     const struct blkdev_env *env, unsigned want_queues, enum blkdev_mode mode)
    __attribute__((warn_unused_result));
/* Reset the device: requests in flight fail with BLKDEV_E_ABORTED. */
int virtio_blk_stop(struct virtio_blk *vb);
/* Reset after a fault or timeout: fail what is in flight, bring the queues back. */
int virtio_blk_recover(struct virtio_blk *vb, const char *why);

extern const struct blkdev_ops virtio_blk_ops;

#endif
