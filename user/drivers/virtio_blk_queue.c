/* virtio-blk request queues and configuration checks (virtio 1.2 §5.2); see virtio_blk_queue.h. */
#include "virtio_blk_queue.h"

const char *vblk_parse_config(const struct vblk_config *c, bool indirect, unsigned want_queues,
                              struct vblk_geometry *g)
{
	uint64_t f = c->features;
	uint32_t bs = 512, segs = indirect ? VBLK_MAX_SEGS : VBLK_DIRECT_SEGS;

	if ((f >> VIRTIO_BLK_F_BLK_SIZE) & 1) {
		bs = c->blk_size;
		if (bs < 512 || bs > 4096 || (bs & (bs - 1)))
			return "block size not a power of two in 512..4096";
	}
	if (c->capacity > (1ull << 63) / 512)
		return "capacity beyond 2^63 bytes";
	uint64_t nblocks = c->capacity / (bs / 512);
	if (nblocks == 0)
		return "capacity smaller than one block";
	if ((f >> VIRTIO_BLK_F_SEG_MAX) & 1) {
		if (c->seg_max == 0)
			return "seg_max 0";
		/* header and status take no data segment, so seg_max counts data pages */
		if (c->seg_max < segs)
			segs = c->seg_max;
	}
	if (((f >> VIRTIO_BLK_F_SIZE_MAX) & 1) && c->size_max < 4096)
		return "size_max below one page";
	uint16_t nq = 1;
	if ((f >> VIRTIO_BLK_F_MQ) & 1) {
		if (c->num_queues == 0)
			return "num_queues 0";
		nq = c->num_queues;
	}
	if (want_queues && nq > want_queues)
		nq = (uint16_t)want_queues;
	*g = (struct vblk_geometry){.nblocks = nblocks,
	                            .block_size = bs,
	                            .max_segs = segs,
	                            .nqueues = nq,
	                            .max_wz_sectors = c->max_wz_sectors,
	                            .flush = (f >> VIRTIO_BLK_F_FLUSH) & 1,
	                            .write_zeroes = ((f >> VIRTIO_BLK_F_WRITE_ZEROES) & 1) &&
	                                            c->max_wz_sectors >= bs / 512 &&
	                                            c->max_wz_seg >= 1};
	return 0;
}

int vblk_q_init(struct vblk_queue *vq, uint16_t index, uint16_t size, void *desc, uint64_t desc_pa,
                void *avail, uint64_t avail_pa, void *used, uint64_t used_pa, uint16_t depth,
                uint16_t max_segs, uint32_t block_size, bool indirect)
{
	if (depth == 0 || depth > VBLK_QD || max_segs == 0 ||
	    max_segs > (indirect ? VBLK_MAX_SEGS : VBLK_DIRECT_SEGS) || block_size == 0)
		return BLKDEV_E_INVAL;
	if (virtq_init(&vq->q, index, size, desc, desc_pa, avail, avail_pa, used, used_pa))
		return BLKDEV_E_INVAL;
	vq->depth = depth, vq->max_segs = max_segs, vq->block_size = block_size;
	vq->indirect = indirect, vq->fault = 0;
	vq->nfree = depth;
	for (uint16_t i = 0; i < depth; i++) {
		vq->free[i] = (uint8_t)(depth - 1 - i);
		vq->slot[i].req = 0;
	}
	return BLKDEV_OK;
}

/* The chain of r in segs: header, data pages, status (or the write-zeroes range); how many. */
static unsigned build(struct vblk_queue *vq, struct vblk_slot *s, const struct blkdev_req *r,
                      struct virtq_seg *segs, unsigned max)
{
	volatile struct virtio_blk_req_hdr *h =
	    (volatile struct virtio_blk_req_hdr *)(s->va + VBLK_SLOT_HDR);
	uint32_t len = r->nblocks * vq->block_size;
	unsigned n = 0;

	h->reserved = 0;
	h->sector = r->lba * (vq->block_size / 512);
	segs[n++] = (struct virtq_seg){s->pa + VBLK_SLOT_HDR, 16, false};
	switch (r->op) {
	case BLKDEV_FLUSH:
		h->type = VIRTIO_BLK_T_FLUSH, h->sector = 0;
		break;
	case BLKDEV_WRITE_ZEROES: {
		volatile struct virtio_blk_wz *z =
		    (volatile struct virtio_blk_wz *)(s->va + VBLK_SLOT_WZ);
		h->type = VIRTIO_BLK_T_WRITE_ZEROES, h->sector = 0;
		z->sector = r->lba * (vq->block_size / 512);
		z->num_sectors = r->nblocks * (vq->block_size / 512);
		z->flags = 0;
		segs[n++] = (struct virtq_seg){s->pa + VBLK_SLOT_WZ, 16, false};
		break;
	}
	default: {
		bool in = r->op == BLKDEV_READ;
		h->type = in ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
		uint32_t off = r->offset;
		for (unsigned p = 0; len; p++) {
			uint32_t chunk = BLKDEV_PAGE - off < len ? BLKDEV_PAGE - off : len;
			if (n + 1 >= max)
				return 0; /* more pages than the queue takes */
			segs[n++] = (struct virtq_seg){r->pages[p] + off, chunk, in};
			len -= chunk, off = 0;
		}
	}
	}
	s->va[VBLK_SLOT_STATUS] = VBLK_STATUS_NONE;
	segs[n++] = (struct virtq_seg){s->pa + VBLK_SLOT_STATUS, 1, true};
	return n;
}

int vblk_q_submit(struct vblk_queue *vq, struct blkdev_req *r)
{
	struct virtq_seg segs[VBLK_MAX_SEGS + 2];
	uint32_t wlen = 0;
	int err;

	if (vq->fault)
		return BLKDEV_E_DEVICE;
	if (r->op > BLKDEV_WRITE_ZEROES)
		return BLKDEV_E_INVAL;
	if (!vq->nfree)
		return BLKDEV_E_BUSY;
	struct vblk_slot *s = &vq->slot[vq->free[vq->nfree - 1]];
	unsigned n = build(vq, s, r, segs, (unsigned)vq->max_segs + 2);
	if (!n)
		return BLKDEV_E_INVAL;
	if (vq->indirect) {
		if (virtq_indirect_fill((volatile struct virtq_desc *)s->va, VBLK_MAX_SEGS + 2,
		                        segs, n, &wlen))
			return BLKDEV_E_INVAL;
		err = virtq_add_indirect(&vq->q, s->pa, n, wlen, s);
	} else {
		err = virtq_add(&vq->q, segs, n, s);
	}
	if (err == VIRTQ_ERR_FULL)
		return BLKDEV_E_BUSY;
	if (err)
		return err == VIRTQ_ERR_BROKEN ? BLKDEV_E_DEVICE : BLKDEV_E_INVAL;
	vq->nfree--;
	s->req = r;
	return BLKDEV_OK;
}

int vblk_status_to_err(uint8_t status, uint8_t op)
{
	switch (status) {
	case VIRTIO_BLK_S_OK:
		return BLKDEV_OK;
	case VIRTIO_BLK_S_IOERR:
		return BLKDEV_E_IO;
	case VIRTIO_BLK_S_UNSUPP:
		return op == BLKDEV_FLUSH || op == BLKDEV_WRITE_ZEROES ? BLKDEV_E_UNSUPPORTED
		                                                       : BLKDEV_E_IO;
	default:
		return 1;
	}
}

static void complete(struct vblk_queue *vq, struct vblk_slot *s, int status)
{
	struct blkdev_req *r = s->req;

	s->req = 0;
	vq->free[vq->nfree++] = (uint8_t)(s - vq->slot);
	r->status = status;
	if (r->done)
		r->done(r);
}

static int broken(struct vblk_queue *vq, const char *what)
{
	vq->fault = what;
	return BLKDEV_E_DEVICE;
}

int vblk_q_reap(struct vblk_queue *vq, unsigned max)
{
	int done = 0;

	if (vq->fault)
		return BLKDEV_E_DEVICE;
	while ((unsigned)done < max) {
		void *cookie = 0;
		uint32_t len = 0;
		int got = virtq_get(&vq->q, &cookie, &len);
		if (got == 0)
			break;
		if (got < 0)
			return broken(vq, virtq_fault_str(vq->q.fault));
		struct vblk_slot *s = cookie;
		/* virtq hands back only cookies it was given, but check: a slot of ours, in flight
		 */
		if (s < vq->slot || s >= vq->slot + vq->depth || !s->req)
			return broken(vq, "completion for a request not in flight");
		uint8_t st = s->va[VBLK_SLOT_STATUS]; /* read once */
		int err = vblk_status_to_err(st, s->req->op);
		if (err > 0) {
			static const char hex[] = "0123456789abcdef",
			                  msg[] = "status byte not OK, IOERR or UNSUPP: 0x";
			_Static_assert(sizeof(msg) + 2 <= sizeof(vq->fault_buf),
			               "the message fits");
			for (unsigned i = 0; i < sizeof(msg) - 1; i++)
				vq->fault_buf[i] = msg[i];
			vq->fault_buf[sizeof(msg) - 1] = hex[st >> 4];
			vq->fault_buf[sizeof(msg)] = hex[st & 15];
			vq->fault_buf[sizeof(msg) + 1] = 0;
			complete(vq, s, BLKDEV_E_DEVICE);
			return broken(vq, vq->fault_buf);
		}
		complete(vq, s, err);
		done++;
	}
	return done;
}

unsigned vblk_q_fail_all(struct vblk_queue *vq, int status)
{
	void *cookies[VIRTQ_MAX_SIZE];
	unsigned n = 0;

	virtq_drain(&vq->q, cookies, VIRTQ_MAX_SIZE);
	for (uint16_t i = 0; i < vq->depth; i++)
		if (vq->slot[i].req) {
			complete(vq, &vq->slot[i], status);
			n++;
		}
	return n;
}
