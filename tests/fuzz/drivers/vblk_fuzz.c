/*
 * libFuzzer target: what a virtio-blk device writes. The input is a
 * script: each round submits some requests (read, write, flush,
 * write-zeroes), then the device writes arbitrary used entries (id, len),
 * an arbitrary used index and arbitrary status bytes, and the driver
 * reaps. Invariants: no memory error, every request completes exactly
 * once and only while submitted, requests in flight are accounted for, a
 * broken queue stays broken until failed and set up again. A prefix of
 * the input is also read as a device configuration (vblk_parse_config).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio_blk_queue.h"

#define QSIZE 8

struct freq {
	struct blkdev_req r;
	int completions;
	bool submitted;
};

static void done(struct blkdev_req *r)
{
	struct freq *f = r->user;

	if (!f->submitted || f->completions)
		abort();
	f->completions++;
	f->submitted = false;
}

static uint8_t mem[3 + VBLK_QD][4096] __attribute__((aligned(4096)));
static uint64_t pages[4] = {0x100000, 0x200000, 0x300000, 0x400000};

static void config(const uint8_t *data, size_t size)
{
	struct vblk_config c;
	struct vblk_geometry g;

	if (size < sizeof(c))
		return;
	memcpy(&c, data, sizeof(c));
	if (vblk_parse_config(&c, data[0] & 1, data[1] % 9, &g))
		return;
	if (g.nblocks == 0 || g.block_size < 512 || g.block_size > 4096 || g.max_segs == 0 ||
	    g.max_segs > VBLK_MAX_SEGS || g.nqueues == 0 ||
	    (data[1] % 9 && g.nqueues > data[1] % 9))
		abort();
}

static bool reset(struct vblk_queue *vq, bool indirect)
{
	memset(mem, 0, sizeof(mem));
	for (int s = 0; s < VBLK_QD; s++)
		vq->slot[s].va = mem[3 + s], vq->slot[s].pa = 0x10000000ull + 4096ull * (uint64_t)s;
	return vblk_q_init(vq, 0, QSIZE, mem[0], 0x1000, mem[1], 0x2000, mem[2], 0x3000, VBLK_QD,
	                   indirect ? 4 : 2, 512, indirect) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vblk_queue vq;
	static struct freq req[64];
	unsigned nreq = 0;
	size_t pos = 1;

	config(data, size);
	if (size < 1)
		return 0;
	memset(req, 0, sizeof(req));
	if (!reset(&vq, data[0] & 1))
		abort();
	volatile struct virtq_used *used = vq.q.used;
	while (pos + 3 <= size) {
		unsigned nsub = data[pos] & 7, nused = data[pos] >> 5;
		uint8_t status = data[pos + 1], idx_bump = data[pos + 2];
		pos += 3;
		for (unsigned i = 0; i < nsub && nreq < 64; i++) {
			struct freq *f = &req[nreq];
			f->r = (struct blkdev_req){.op = (uint8_t)(i % 4),
			                           .lba = i,
			                           .nblocks = 1 + i % 9,
			                           .pages = pages,
			                           .offset = (i % 8) * 512,
			                           .done = done,
			                           .user = f};
			if (vblk_q_submit(&vq, &f->r))
				break;
			f->submitted = true;
			nreq++;
		}
		virtq_publish(&vq.q);
		for (int s = 0; s < VBLK_QD; s++)
			mem[3 + s][VBLK_SLOT_STATUS] = status;
		for (unsigned i = 0; i < nused && pos + 8 <= size; i++, pos += 8) {
			uint32_t id, len;
			memcpy(&id, data + pos, 4), memcpy(&len, data + pos + 4, 4);
			used->ring[(used->idx + i) % QSIZE].id = id % 32;
			used->ring[(used->idx + i) % QSIZE].len = len % 8192;
		}
		used->idx = (uint16_t)(used->idx + (idx_bump & 15));
		int n = vblk_q_reap(&vq, VBLK_QD);
		if (n < 0 && !vq.fault)
			abort();
		unsigned live = 0;
		for (unsigned i = 0; i < nreq; i++)
			live += req[i].submitted;
		if (live != vblk_q_inflight(&vq))
			abort();
		if (vq.fault) {
			if (vblk_q_reap(&vq, VBLK_QD) != BLKDEV_E_DEVICE)
				abort();
			vblk_q_fail_all(&vq, BLKDEV_E_ABORTED);
			for (unsigned i = 0; i < nreq; i++)
				if (req[i].submitted)
					abort();
			if (!reset(&vq, data[0] & 1))
				abort();
			used = vq.q.used;
		}
	}
	return 0;
}
