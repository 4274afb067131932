/*
 * virtio-blk bring-up and the blkdev operations (virtio 1.2 §3.1.1,
 * §5.2.5): open through the modern PCI transport, features, configuration,
 * queues, MSI-X, the report at start, and the reset that follows a fault.
 * The request path and the checks of what the device writes are
 * virtio_blk_queue.c.
 */
#include <lib/string.h>
#include <virtio_blk.h>

#define LOG(vb, ...) (vb)->env->log((vb)->env->ctx, __VA_ARGS__)

static const uint64_t vblk_wanted =
    1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_RO |
    1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_MQ |
    1ull << VIRTIO_BLK_F_WRITE_ZEROES | 1ull << VIRTIO_F_INDIRECT_DESC |
    1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_ACCESS_PLATFORM;

bool virtio_blk_matches(uint16_t vendor, uint16_t device)
{
	return vendor == VIRTIO_PCI_VENDOR &&
	       (device == VIRTIO_PCI_DEVICE_BLK || device == VIRTIO_PCI_DEVICE_BLK_TRANS);
}

static uint32_t cfg32(struct virtio_blk *vb, uint32_t off)
{
	uint32_t v = 0;

	virtio_pci_config(&vb->vp, off, &v, 4);
	return v;
}

static void bus_master(struct virtio_blk *vb, bool on)
{
	hl_word_t cmd = 0;

	if (hl_pci_device_config_read(vb->vp.dev, 4, 2, &cmd) == HL_OK)
		(void)hl_pci_device_config_write(vb->vp.dev, 4, 2,
		                                 on ? cmd | 0x6 : cmd & ~(hl_word_t)0x4);
}

/* Fresh rings for queue i, handed to the device. */
static int queue_setup(struct virtio_blk *vb, unsigned i)
{
	struct vblk_queue *vq = &vb->q[i];
	uint16_t max = virtio_pci_queue_max(&vb->vp, (uint16_t)i), size = VIRTQ_MAX_SIZE;
	bool indirect = virtio_pci_has(&vb->vp, VIRTIO_F_INDIRECT_DESC);

	if (max == 0)
		return BLKDEV_E_UNSUPPORTED;
	while (size > max)
		size /= 2;
	for (int p = 0; p < 3; p++) {
		if (!vb->ring[i][p] &&
		    !(vb->ring[i][p] = vb->env->dma_page(vb->env->ctx, &vb->ring_pa[i][p])))
			return BLKDEV_E_NOMEM;
		memset(vb->ring[i][p], 0, BLKDEV_PAGE);
	}
	/* Without indirect descriptors every request takes max_segs + 2 ring entries. */
	uint16_t depth = VBLK_QD;
	if (!indirect && (unsigned)size / (vb->geo.max_segs + 2) < depth)
		depth = (uint16_t)(size / (vb->geo.max_segs + 2));
	if (depth == 0)
		return BLKDEV_E_UNSUPPORTED;
	for (unsigned s = 0; s < depth; s++)
		if (!vq->slot[s].va &&
		    !(vq->slot[s].va = vb->env->dma_page(vb->env->ctx, &vq->slot[s].pa)))
			return BLKDEV_E_NOMEM;
	if (vblk_q_init(vq, (uint16_t)i, size, vb->ring[i][0], vb->ring_pa[i][0], vb->ring[i][1],
	                vb->ring_pa[i][1], vb->ring[i][2], vb->ring_pa[i][2], depth,
	                (uint16_t)vb->geo.max_segs, vb->geo.block_size, indirect))
		return BLKDEV_E_UNSUPPORTED; /* a queue size that is no power of two */
	uint16_t msix = VIRTIO_MSI_NO_VECTOR;
	if (vb->mode == BLKDEV_INTERRUPT) {
		int err = vb->env->irq_bind(vb->env->ctx, i, i);
		if (err)
			return err;
		msix = (uint16_t)i;
	} else {
		virtq_irq_off(&vq->q);
	}
	return virtio_pci_queue_enable(&vb->vp, &vq->q, msix) ? BLKDEV_E_UNSUPPORTED : BLKDEV_OK;
}

/* §3.1.1 from the reset to DRIVER_OK, with the geometry known. */
static int bring_up(struct virtio_blk *vb)
{
	int err;

	bus_master(vb, true);
	if (!virtio_pci_reset(&vb->vp))
		return BLKDEV_E_TIMEOUT;
	virtio_pci_set_status(&vb->vp, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if (virtio_pci_negotiate(&vb->vp, vblk_wanted))
		return BLKDEV_E_UNSUPPORTED;
	for (unsigned i = 0; i < vb->nq; i++)
		if ((err = queue_setup(vb, i)))
			return err;
	virtio_pci_set_status(&vb->vp, VIRTIO_STATUS_DRIVER_OK);
	if (virtio_pci_status(&vb->vp) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
		return BLKDEV_E_DEVICE;
	return BLKDEV_OK;
}

int virtio_blk_start(struct virtio_blk *vb, hl_cptr_t dev, uint16_t bdf,
                     const struct blkdev_env *env, unsigned want_queues, enum blkdev_mode mode)
{
	hl_word_t id = 0;
	struct vblk_config c = {0};
	const char *bad;

	memset(vb, 0, sizeof(*vb));
	vb->env = env, vb->bdf = bdf, vb->mode = (uint8_t)mode;
	if (virtio_pci_open(&vb->vp, dev)) {
		LOG(vb, "virtio-blk: %02x:%02x.%x: no modern virtio capabilities\n", bdf >> 8,
		    (bdf >> 3) & 31, bdf & 7);
		return BLKDEV_E_UNSUPPORTED;
	}
	hl_pci_device_config_read(dev, 2, 2, &id);
	vb->device_id = (uint16_t)id;
	bus_master(vb, true);
	if (!virtio_pci_reset(&vb->vp))
		return BLKDEV_E_TIMEOUT;
	virtio_pci_set_status(&vb->vp, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if (virtio_pci_negotiate(&vb->vp, vblk_wanted)) {
		virtio_pci_set_status(&vb->vp, VIRTIO_STATUS_FAILED);
		LOG(vb, "virtio-blk: features refused (VERSION_1 required)\n");
		return BLKDEV_E_UNSUPPORTED;
	}
	c.features = vb->vp.features;
	virtio_pci_config(&vb->vp, VIRTIO_BLK_CFG_CAPACITY, &c.capacity, 8);
	c.size_max = cfg32(vb, VIRTIO_BLK_CFG_SIZE_MAX);
	c.seg_max = cfg32(vb, VIRTIO_BLK_CFG_SEG_MAX);
	c.blk_size = cfg32(vb, VIRTIO_BLK_CFG_BLK_SIZE);
	c.num_queues = virtio_pci_config16(&vb->vp, VIRTIO_BLK_CFG_NUMQ);
	c.max_wz_sectors = cfg32(vb, VIRTIO_BLK_CFG_MAX_WZ);
	c.max_wz_seg = cfg32(vb, VIRTIO_BLK_CFG_MAX_WZSEG);
	virtio_pci_config(&vb->vp, VIRTIO_BLK_CFG_WRITEBACK, &c.writeback, 1);
	/* In interrupt mode one MSI-X entry per queue. */
	if (mode == BLKDEV_INTERRUPT && want_queues > vb->vp.msix_entries)
		want_queues = vb->vp.msix_entries;
	if (want_queues > VBLK_MAX_Q)
		want_queues = VBLK_MAX_Q;
	if (want_queues == 0)
		return BLKDEV_E_UNSUPPORTED;
	if ((bad = vblk_parse_config(&c, virtio_pci_has(&vb->vp, VIRTIO_F_INDIRECT_DESC),
	                             want_queues, &vb->geo))) {
		virtio_pci_set_status(&vb->vp, VIRTIO_STATUS_FAILED);
		LOG(vb, "virtio-blk: %02x:%02x.%x: bad configuration: %s\n", bdf >> 8,
		    (bdf >> 3) & 31, bdf & 7, bad);
		return BLKDEV_E_DEVICE;
	}
	vb->nq = vb->geo.nqueues;
	vb->ro = virtio_pci_has(&vb->vp, VIRTIO_BLK_F_RO);
	int err = bring_up(vb);
	if (err) {
		virtio_pci_reset(&vb->vp);
		LOG(vb, "virtio-blk: start failed: %s\n", blkdev_strerror(err));
		return err;
	}
	struct blkdev *d = &vb->dev;
	d->ops = &virtio_blk_ops, d->priv = vb;
	memcpy(d->name, "vblk0", 6);
	d->nblocks = vb->geo.nblocks, d->block_size = vb->geo.block_size;
	d->max_blocks = (uint32_t)((uint64_t)(vb->geo.max_segs - 1) * BLKDEV_PAGE / d->block_size);
	if (d->max_blocks == 0)
		d->max_blocks = 1; /* one page, started at offset 0 */
	d->nqueues = vb->nq, d->queue_depth = vb->q[0].depth;
	d->flags = (vb->geo.write_zeroes ? BLKDEV_HAS_WRITE_ZEROES : 0) |
	           (vb->geo.flush ? BLKDEV_HAS_VOLATILE_CACHE : 0);
	d->mode = (uint8_t)mode;
	LOG(vb,
	    "virtio-blk: %02x:%02x.%x 1af4:%04x virtio-blk (virtio 1.x modern PCI), %lu blocks of "
	    "%u "
	    "bytes (%lu MiB)%s, up to %u blocks per request, %u queue%s of %u requests (%s), "
	    "mode %s%s%s\n",
	    bdf >> 8, (bdf >> 3) & 31, bdf & 7, vb->device_id, (unsigned long)d->nblocks,
	    d->block_size, (unsigned long)(d->nblocks * d->block_size >> 20),
	    vb->ro ? ", read-only" : "", d->max_blocks, vb->nq, vb->nq == 1 ? "" : "s",
	    d->queue_depth, vb->q[0].indirect ? "indirect descriptors" : "direct chains",
	    mode == BLKDEV_INTERRUPT ? "interrupt (MSI-X per queue)" : "polled",
	    vb->geo.flush ? ", flush" : "", vb->geo.write_zeroes ? ", write-zeroes" : "");
	return BLKDEV_OK;
}

int virtio_blk_stop(struct virtio_blk *vb)
{
	bool ok = virtio_pci_reset(&vb->vp);

	bus_master(vb, false);
	for (unsigned i = 0; i < vb->nq; i++)
		vblk_q_fail_all(&vb->q[i], BLKDEV_E_ABORTED);
	vb->dead = true;
	return ok ? BLKDEV_OK : BLKDEV_E_TIMEOUT;
}

int virtio_blk_recover(struct virtio_blk *vb, const char *why)
{
	unsigned failed = 0;
	bool reset = virtio_pci_reset(&vb->vp);

	if (!reset)
		bus_master(vb, false); /* a device that ignores the reset stops its DMA this way */
	for (unsigned i = 0; i < vb->nq; i++)
		failed += vblk_q_fail_all(&vb->q[i], BLKDEV_E_ABORTED);
	vb->resets++;
	LOG(vb, "virtio-blk: %02x:%02x.%x: %s; device reset, %u requests aborted\n", vb->bdf >> 8,
	    (vb->bdf >> 3) & 31, vb->bdf & 7, why, failed);
	int err = bring_up(vb);
	vb->dead = err != BLKDEV_OK;
	if (err)
		LOG(vb, "virtio-blk: the device did not come back: %s\n", blkdev_strerror(err));
	return err;
}

static int vb_submit(struct blkdev *d, unsigned q, struct blkdev_req *r)
{
	struct virtio_blk *vb = d->priv;
	int err;

	if (vb->dead)
		return BLKDEV_E_DEVICE;
	if (q >= vb->nq)
		return BLKDEV_E_INVAL;
	if ((err = blkdev_check(d, r)))
		return err;
	if (r->op == BLKDEV_WRITE_ZEROES &&
	    (uint64_t)r->nblocks * (d->block_size / 512) > vb->geo.max_wz_sectors)
		return BLKDEV_E_INVAL;
	if (r->op == BLKDEV_FLUSH && !vb->geo.flush) {
		/* §5.2.6.2: without VIRTIO_BLK_F_FLUSH the device writes through; nothing to do */
		r->status = BLKDEV_OK;
		if (r->done)
			r->done(r);
		return BLKDEV_OK;
	}
	if ((err = vblk_q_submit(&vb->q[q], r)))
		return err;
	if (virtq_publish(&vb->q[q].q))
		virtio_pci_notify(&vb->vp, &vb->q[q].q);
	return BLKDEV_OK;
}

static int vb_poll(struct blkdev *d, unsigned q, unsigned max)
{
	struct virtio_blk *vb = d->priv;

	if (vb->dead)
		return BLKDEV_E_DEVICE;
	if (q >= vb->nq)
		return BLKDEV_E_INVAL;
	int n = vblk_q_reap(&vb->q[q], max);
	if (n == BLKDEV_E_DEVICE) {
		virtio_blk_recover(vb, vb->q[q].fault);
		return BLKDEV_E_DEVICE;
	}
	return n;
}

static int vb_wait(struct blkdev *d, unsigned q, uint64_t timeout_us)
{
	struct virtio_blk *vb = d->priv;
	uint64_t end = vb->env->now_us(vb->env->ctx) + timeout_us;

	for (;;) {
		int n = vb_poll(d, q, VBLK_QD);
		if (n != 0)
			return n;
		if (!vblk_q_inflight(&vb->q[q]))
			return 0;
		uint64_t now = vb->env->now_us(vb->env->ctx);
		if (now > end)
			break;
		/* Interrupts stay enabled in interrupt mode; a completion between the poll and
		 * the wait has already signalled the notification, so the wait returns. */
		if (vb->mode == BLKDEV_INTERRUPT && vb->env->irq_wait(vb->env->ctx, q, end - now))
			break;
	}
	if (vb_poll(d, q, VBLK_QD) > 0)
		return 1;
	virtio_blk_recover(vb, "no completion in time");
	return BLKDEV_E_TIMEOUT;
}

static unsigned vb_inflight(struct blkdev *d, unsigned q)
{
	struct virtio_blk *vb = d->priv;

	return q < vb->nq ? vblk_q_inflight(&vb->q[q]) : 0;
}

const struct blkdev_ops virtio_blk_ops = {
    .submit = vb_submit,
    .poll = vb_poll,
    .wait = vb_wait,
    .inflight = vb_inflight,
};
