/*
 * Host unit tests (ASan + UBSan) of the virtio-blk request queues
 * (user/drivers/virtio_blk_queue.c) against a fake device that walks the
 * indirect tables as a device does, moves data to and from a RAM disk and
 * writes status bytes and used entries, correctly or as a broken device
 * would; and of the configuration checks. Physical addresses are the host
 * addresses (the fake dereferences them).
 */
#include <stdlib.h>
#include <string.h>

#include "ktharness.h"
#include "virtio_blk_queue.h"

#define QSIZE  16
#define DISK_B (64 * 512)

struct vfake {
	struct vblk_queue vq;
	void *ring[3];
	uint8_t disk[DISK_B];
	uint16_t seen;        /* avail entries consumed */
	uint16_t used;        /* used entries written */
	uint8_t force_status; /* 0xff: the right one */
	uint32_t last_type;
};

static void *page(void)
{
	void *p = aligned_alloc(4096, 4096);

	memset(p, 0, 4096);
	return p;
}

static void vf_init(struct vfake *f, bool indirect, uint16_t max_segs, uint32_t bs)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 3; i++)
		f->ring[i] = page();
	for (int s = 0; s < VBLK_QD; s++) {
		f->vq.slot[s].va = page();
		f->vq.slot[s].pa = (uint64_t)(uintptr_t)f->vq.slot[s].va;
	}
	f->force_status = 0xff;
	CHECK_MSG(vblk_q_init(&f->vq, 0, QSIZE, f->ring[0], (uintptr_t)f->ring[0], f->ring[1],
	                      (uintptr_t)f->ring[1], f->ring[2], (uintptr_t)f->ring[2], VBLK_QD,
	                      max_segs, bs, indirect) == 0);
}

static void vf_free(struct vfake *f)
{
	for (int i = 0; i < 3; i++)
		free(f->ring[i]);
	for (int s = 0; s < VBLK_QD; s++)
		free((void *)f->vq.slot[s].va);
}

static void vf_push_used(struct vfake *f, uint32_t id, uint32_t len)
{
	volatile struct virtq_used *u = f->vq.q.used;

	u->ring[f->used % QSIZE].id = id;
	u->ring[f->used % QSIZE].len = len;
	f->used++;
	u->idx = f->used;
}

/* Serve the oldest request the driver published; false if none. Out of order via which. */
static bool vf_serve_one(struct vfake *f, unsigned which)
{
	volatile struct virtq_avail *a = f->vq.q.avail;

	virtq_publish(&f->vq.q); /* the device layer's part (virtio_blk.c) */
	if (f->seen == a->idx)
		return false;
	uint16_t pos = (uint16_t)(f->seen + which);
	uint16_t head = a->ring[pos % QSIZE];
	if (which) { /* swap so the skipped one is served later */
		uint16_t first = a->ring[f->seen % QSIZE];
		a->ring[f->seen % QSIZE] = head, a->ring[pos % QSIZE] = first;
	}
	f->seen++;
	volatile struct virtq_desc *d = &f->vq.q.desc[head], *base = f->vq.q.desc;
	unsigned at = head, k = 0;
	if (d->flags & VIRTQ_DESC_F_INDIRECT)
		base = (volatile struct virtq_desc *)(uintptr_t)d->addr, at = 0;
	/* walk: header, data..., status */
	volatile struct virtq_desc *e[VBLK_MAX_SEGS + 2] = {0};
	while (k < VBLK_MAX_SEGS + 2) {
		volatile struct virtq_desc *x = &base[at];
		e[k++] = x;
		if (!(x->flags & VIRTQ_DESC_F_NEXT))
			break;
		at = x->next;
	}
	if (k < 2)
		return false; /* not a request: header and status at least */
	struct virtio_blk_req_hdr *h = (void *)(uintptr_t)e[0]->addr;
	f->last_type = h->type;
	uint64_t off = h->sector * 512;
	uint32_t written = 1;
	uint8_t st = VIRTIO_BLK_S_OK;
	for (unsigned i = 1; i + 1 < k; i++) {
		void *buf = (void *)(uintptr_t)e[i]->addr;
		uint32_t len = e[i]->len;
		if (h->type == VIRTIO_BLK_T_WRITE_ZEROES) {
			struct virtio_blk_wz *z = buf;
			if ((z->sector + z->num_sectors) * 512 <= DISK_B)
				memset(f->disk + z->sector * 512, 0, z->num_sectors * 512);
			continue;
		}
		if (off + len > DISK_B) {
			st = VIRTIO_BLK_S_IOERR;
			break;
		}
		if (h->type == VIRTIO_BLK_T_IN)
			memcpy(buf, f->disk + off, len), written += len;
		else
			memcpy(f->disk + off, buf, len);
		off += len;
	}
	*(uint8_t *)(uintptr_t)e[k - 1]->addr = f->force_status != 0xff ? f->force_status : st;
	vf_push_used(f, head, written);
	return true;
}

static uint64_t bufpages[VBLK_MAX_SEGS + 1];
static uint8_t *bufmem;

static void buf_init(void)
{
	if (!bufmem)
		bufmem = aligned_alloc(4096, 4096 * (VBLK_MAX_SEGS + 1));
	for (unsigned p = 0; p <= VBLK_MAX_SEGS; p++) /* backwards: not contiguous in order */
		bufpages[p] = (uintptr_t)(bufmem + 4096 * (VBLK_MAX_SEGS - p));
}

static int ndone;
static void on_done(struct blkdev_req *r)
{
	(void)r;
	ndone++;
}

static struct blkdev_req rq(uint8_t op, uint64_t lba, uint32_t n, uint32_t off)
{
	return (struct blkdev_req){
	    .op = op, .lba = lba, .nblocks = n, .pages = bufpages, .offset = off, .done = on_done};
}

KT_CASE(vblk_write_then_read_through_indirect_tables)
{
	static struct vfake f;

	buf_init();
	vf_init(&f, true, 8, 512);
	uint8_t *p0 = (uint8_t *)(uintptr_t)bufpages[0], *p1 = (uint8_t *)(uintptr_t)bufpages[1];
	for (unsigned i = 0; i < 4096; i++)
		p0[i] = (uint8_t)(i * 7), p1[i] = (uint8_t)(i * 13);
	struct blkdev_req w =
	    rq(BLKDEV_WRITE, 3, 9, 3584); /* 512 bytes in page 0, 4096 in page 1 */
	ndone = 0;
	CHECK_MSG(vblk_q_submit(&f.vq, &w) == 0);
	CHECK_MSG(vblk_q_inflight(&f.vq) == 1);
	CHECK_MSG(vblk_q_reap(&f.vq, 8) == 0, "nothing served yet");
	CHECK_MSG(vf_serve_one(&f, 0));
	CHECK_MSG(f.last_type == VIRTIO_BLK_T_OUT);
	CHECK_MSG(vblk_q_reap(&f.vq, 8) == 1 && ndone == 1 && w.status == 0);
	CHECK_MSG(!memcmp(f.disk + 3 * 512, p0 + 3584, 512) && !memcmp(f.disk + 4 * 512, p1, 4096));
	memset(p0, 0, 4096), memset(p1, 0, 4096);
	struct blkdev_req r = rq(BLKDEV_READ, 3, 9, 3584);
	CHECK_MSG(vblk_q_submit(&f.vq, &r) == 0 && vf_serve_one(&f, 0));
	CHECK_MSG(vblk_q_reap(&f.vq, 8) == 1 && r.status == 0);
	CHECK_MSG(!memcmp(f.disk + 3 * 512, p0 + 3584, 512) && !memcmp(f.disk + 4 * 512, p1, 4096));
	CHECK_MSG(vblk_q_inflight(&f.vq) == 0);
	vf_free(&f);
}

KT_CASE(vblk_direct_chains_and_out_of_order_completion)
{
	static struct vfake f;
	struct blkdev_req r[5];

	buf_init();
	vf_init(&f, false, 2, 512);
	ndone = 0;
	for (int i = 0; i < 5; i++) {
		r[i] = rq(BLKDEV_READ, (uint64_t)i, 1, 0);
		CHECK_MSG(vblk_q_submit(&f.vq, &r[i]) == 0, "request %d", i);
	}
	/* 5 chains of 3 descriptors in a ring of 16: another of 3 does not fit */
	struct blkdev_req big = rq(BLKDEV_READ, 0, 2, 512);
	CHECK_MSG(vblk_q_submit(&f.vq, &big) == BLKDEV_E_BUSY);
	struct blkdev_req huge = rq(BLKDEV_READ, 0, 17, 0); /* 3 pages: more than max_segs */
	CHECK_MSG(vblk_q_submit(&f.vq, &huge) == BLKDEV_E_INVAL);
	CHECK_MSG(vf_serve_one(&f, 2) && vf_serve_one(&f, 0) && vf_serve_one(&f, 1) &&
	          vf_serve_one(&f, 0) && vf_serve_one(&f, 0));
	CHECK_MSG(vblk_q_reap(&f.vq, 2) == 2 && vblk_q_reap(&f.vq, 8) == 3 && ndone == 5);
	CHECK_MSG(vblk_q_submit(&f.vq, &big) == 0, "room again");
	for (int i = 0; i < 5; i++)
		CHECK_MSG(r[i].status == 0);
	vf_free(&f);
}

KT_CASE(vblk_flush_write_zeroes_and_device_status)
{
	static struct vfake f;

	buf_init();
	vf_init(&f, true, 8, 512);
	memset(f.disk, 0xab, DISK_B);
	struct blkdev_req z = rq(BLKDEV_WRITE_ZEROES, 10, 4, 0), fl = rq(BLKDEV_FLUSH, 0, 0, 0);
	CHECK_MSG(vblk_q_submit(&f.vq, &z) == 0 && vf_serve_one(&f, 0));
	CHECK_MSG(f.last_type == VIRTIO_BLK_T_WRITE_ZEROES);
	CHECK_MSG(vblk_q_reap(&f.vq, 8) == 1 && z.status == 0);
	CHECK_MSG(f.disk[10 * 512] == 0 && f.disk[14 * 512 - 1] == 0 && f.disk[14 * 512] == 0xab &&
	          f.disk[10 * 512 - 1] == 0xab);
	CHECK_MSG(vblk_q_submit(&f.vq, &fl) == 0 && vf_serve_one(&f, 0));
	CHECK_MSG(f.last_type == VIRTIO_BLK_T_FLUSH && vblk_q_reap(&f.vq, 8) == 1 &&
	          fl.status == 0);
	f.force_status = VIRTIO_BLK_S_IOERR;
	struct blkdev_req r = rq(BLKDEV_READ, 0, 1, 0);
	CHECK_MSG(vblk_q_submit(&f.vq, &r) == 0 && vf_serve_one(&f, 0));
	CHECK_MSG(vblk_q_reap(&f.vq, 8) == 1 && r.status == BLKDEV_E_IO,
	          "an I/O error is the request's");
	f.force_status = VIRTIO_BLK_S_UNSUPP;
	CHECK_MSG(vblk_q_submit(&f.vq, &fl) == 0 && vf_serve_one(&f, 0));
	CHECK_MSG(vblk_q_reap(&f.vq, 8) == 1 && fl.status == BLKDEV_E_UNSUPPORTED);
	CHECK_MSG(!f.vq.fault, "device errors are not faults");
	vf_free(&f);
}

KT_CASE(vblk_status_byte_out_of_range_breaks_the_queue)
{
	static struct vfake f;

	buf_init();
	vf_init(&f, true, 8, 512);
	struct blkdev_req a = rq(BLKDEV_READ, 0, 1, 0), b = rq(BLKDEV_READ, 1, 1, 0);
	ndone = 0;
	CHECK_MSG(vblk_q_submit(&f.vq, &a) == 0 && vblk_q_submit(&f.vq, &b) == 0);
	f.force_status = 7;
	CHECK_MSG(vf_serve_one(&f, 0));
	CHECK_MSG(vblk_q_reap(&f.vq, 8) == BLKDEV_E_DEVICE && f.vq.fault);
	CHECK_MSG(a.status == BLKDEV_E_DEVICE && ndone == 1);
	CHECK_MSG(vblk_q_submit(&f.vq, &a) == BLKDEV_E_DEVICE, "broken until reset");
	CHECK_MSG(vblk_q_fail_all(&f.vq, BLKDEV_E_ABORTED) == 1 && b.status == BLKDEV_E_ABORTED);
	CHECK_MSG(vblk_q_inflight(&f.vq) == 0 && ndone == 2);
	vf_free(&f);
}

/* What a broken device writes into the used ring. */
KT_CASE(vblk_bad_used_entries_break_the_queue)
{
	static struct vfake f;
	const struct {
		uint32_t id, len;
		uint16_t extra_idx;
	} bad[] = {
	    {QSIZE + 3, 1, 0}, /* id outside the table */
	    {5, 1, 0},         /* a descriptor not in flight */
	    {0, 4096 * 9, 0},  /* longer than the chain's writable bytes */
	    {0, 1, 5},         /* used index jumped past what is in flight */
	};

	buf_init();
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vf_init(&f, true, 8, 512);
		struct blkdev_req r = rq(BLKDEV_READ, 0, 1, 0);
		ndone = 0;
		CHECK_MSG(vblk_q_submit(&f.vq, &r) == 0);
		vf_push_used(&f, bad[i].id, bad[i].len);
		f.used = (uint16_t)(f.used + bad[i].extra_idx);
		f.vq.q.used->idx = f.used;
		CHECK_MSG(vblk_q_reap(&f.vq, 8) == BLKDEV_E_DEVICE, "case %u", i);
		CHECK_MSG(f.vq.fault != NULL && ndone == 0, "case %u", i);
		CHECK_MSG(vblk_q_fail_all(&f.vq, BLKDEV_E_ABORTED) == 1 &&
		          r.status == BLKDEV_E_ABORTED);
		vf_free(&f);
	}
}

KT_CASE(vblk_queue_full_is_busy)
{
	static struct vfake f;
	static struct blkdev_req r[VBLK_QD + 1];

	buf_init();
	vf_init(&f, true, 8, 512);
	/* ring of 16 entries, 32 slots: the ring fills first */
	int err = 0;
	unsigned n = 0;
	for (; n < VBLK_QD + 1 && !err; n++) {
		r[n] = rq(BLKDEV_READ, n, 1, 0);
		err = vblk_q_submit(&f.vq, &r[n]);
	}
	CHECK_MSG(err == BLKDEV_E_BUSY && n == QSIZE + 1 && vblk_q_inflight(&f.vq) == QSIZE);
	vf_free(&f);
}

KT_CASE(vblk_config_checks)
{
	struct vblk_geometry g;
	uint64_t all = 1ull << VIRTIO_BLK_F_BLK_SIZE | 1ull << VIRTIO_BLK_F_SEG_MAX |
	               1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_MQ |
	               1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	struct vblk_config c = {.features = all,
	                        .capacity = 16384,
	                        .size_max = 1u << 20,
	                        .seg_max = 254,
	                        .blk_size = 4096,
	                        .num_queues = 4,
	                        .max_wz_sectors = 1u << 20,
	                        .max_wz_seg = 1};

	CHECK_MSG(!vblk_parse_config(&c, true, 2, &g));
	CHECK_MSG(g.nblocks == 2048 && g.block_size == 4096 && g.max_segs == VBLK_MAX_SEGS &&
	          g.nqueues == 2 && g.flush && g.write_zeroes);
	CHECK_MSG(!vblk_parse_config(&c, false, 8, &g) && g.max_segs == VBLK_DIRECT_SEGS &&
	          g.nqueues == 4);
	struct vblk_config b = c;
	b.blk_size = 1000;
	CHECK_MSG(vblk_parse_config(&b, true, 2, &g), "block size not a power of two");
	b.blk_size = 8192;
	CHECK_MSG(vblk_parse_config(&b, true, 2, &g), "block size above 4096");
	b = c, b.capacity = 7;
	CHECK_MSG(vblk_parse_config(&b, true, 2, &g), "less than one 4 KiB block");
	b = c, b.capacity = ~0ull;
	CHECK_MSG(vblk_parse_config(&b, true, 2, &g), "capacity overflows bytes");
	b = c, b.seg_max = 0;
	CHECK_MSG(vblk_parse_config(&b, true, 2, &g), "seg_max 0");
	b = c, b.seg_max = 3;
	CHECK_MSG(!vblk_parse_config(&b, true, 2, &g) && g.max_segs == 3);
	b = c, b.size_max = 512;
	CHECK_MSG(vblk_parse_config(&b, true, 2, &g), "size_max below a page");
	b = c, b.num_queues = 0;
	CHECK_MSG(vblk_parse_config(&b, true, 2, &g), "num_queues 0");
	b = c, b.features = 0, b.blk_size = 3; /* fields of features not offered are ignored */
	CHECK_MSG(!vblk_parse_config(&b, true, 2, &g) && g.block_size == 512 && g.nqueues == 1 &&
	          !g.flush && !g.write_zeroes && g.nblocks == 16384);
	b = c, b.max_wz_sectors = 0;
	CHECK_MSG(!vblk_parse_config(&b, true, 2, &g) && !g.write_zeroes);
	CHECK_MSG(vblk_status_to_err(0, BLKDEV_READ) == 0 &&
	          vblk_status_to_err(1, BLKDEV_READ) == BLKDEV_E_IO &&
	          vblk_status_to_err(2, BLKDEV_READ) == BLKDEV_E_IO &&
	          vblk_status_to_err(2, BLKDEV_FLUSH) == BLKDEV_E_UNSUPPORTED &&
	          vblk_status_to_err(3, BLKDEV_READ) > 0 &&
	          vblk_status_to_err(0xff, BLKDEV_WRITE) > 0);
}
