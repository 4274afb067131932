/*
 * Host tests of the NVMe controller layer (user/drivers/nvme.c) against a
 * fake controller: a register file in memory and a model that runs
 * whenever the driver reads the clock (every polling loop does), taking
 * admin and I/O commands from the rings, moving data through PRPs to a
 * memory disk, and misbehaving on request: wrong completions, silence,
 * never ready, fatal status, garbage Identify data. Physical addresses are
 * the host addresses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme.h"
#include "nvme_fake.h"
#include "ktharness.h"

/* ---- I/O helpers ---- */

struct io {
	struct blkdev_req r;
	uint64_t pages[40];
	uint8_t *va[40];
	int completions;
};

static void io_done(struct blkdev_req *r)
{
	((struct io *)r->user)->completions++;
}

static void io_setup(struct io *io)
{
	memset(io, 0, sizeof(*io));
	for (unsigned i = 0; i < 40; i++)
		io->va[i] = nf_env.dma_page(0, &io->pages[i]);
	io->r.pages = io->pages, io->r.done = io_done, io->r.user = io;
}

/* Submit on queue q and wait; the request's status or the wait's error. */
static int io_run(struct blkdev *d, unsigned q, struct io *io, uint8_t op, uint64_t lba, uint32_t n,
                  uint32_t off)
{
	io->r.op = op, io->r.lba = lba, io->r.nblocks = n, io->r.offset = off, io->completions = 0;
	int err = blkdev_submit(d, q, &io->r);
	if (err)
		return err;
	while (!io->completions) {
		int got = blkdev_wait(d, q, 1000000);
		if (got < 0)
			return io->completions ? io->r.status : got;
	}
	return io->r.status;
}

static void fill(struct io *io, uint32_t len, uint32_t off, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		io->va[(off + i) / 4096][(off + i) % 4096] = (uint8_t)(seed + i * 7 + i / 512);
}

static bool same(struct io *io, uint32_t len, uint32_t off, uint8_t seed)
{
	for (uint32_t i = 0; i < len; i++)
		if (io->va[(off + i) / 4096][(off + i) % 4096] != (uint8_t)(seed + i * 7 + i / 512))
			return false;
	return true;
}

/* ---- cases ---- */

KT_CASE(ctrl_start_identifies_and_grants_queues)
{
	struct nvme_ctrl *c = nf_new(2);

	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 4, BLKDEV_POLLED) == 0);
	CHECK_MSG(c->nns == 1 && c->ns[0].nsid == 1 && c->ns[0].dev.nblocks == DISK_BLOCKS);
	CHECK_MSG(c->ns[0].dev.block_size == 512 && c->nio == 2 && c->ns[0].dev.nqueues == 2,
	          "nio %u", c->nio);
	CHECK_MSG(c->ns[0].dev.max_blocks == 31 * 8, "max %u",
	          c->ns[0].dev.max_blocks); /* MDTS 5: 32 pages, less one */
	CHECK_MSG(!strcmp(c->model, "Fake NVMe") && !strcmp(c->serial, "FAKE0001") &&
	          !strcmp(c->ns[0].dev.name, "nvme0n1"));
	CHECK_MSG(c->ns[0].dev.flags == (BLKDEV_HAS_WRITE_ZEROES | BLKDEV_HAS_VOLATILE_CACHE));
	CHECK_MSG(nvme_stop(c) == 0 && (nf_r32(NVME_REG_CSTS) & NVME_CSTS_RDY) == 0);
	nf_free(c);
}

KT_CASE(ctrl_read_write_flush_zeroes_through_prps)
{
	struct nvme_ctrl *c = nf_new(2);
	struct io io;

	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 2, BLKDEV_INTERRUPT) == 0);
	struct blkdev *d = &c->ns[0].dev;
	io_setup(&io);
	uint32_t n = d->max_blocks, len = n * 512;
	fill(&io, len, 1024, 3);
	CHECK_MSG(io_run(d, 1, &io, BLKDEV_WRITE, 100, n, 1024) == 0);
	CHECK_MSG(!memcmp(nf->disk + 100 * 512, io.va[0] + 1024, 512), "first block on the disk");
	for (unsigned i = 0; i < 40; i++)
		memset(io.va[i], 0, 4096);
	CHECK_MSG(io_run(d, 0, &io, BLKDEV_READ, 100, n, 1024) == 0 && same(&io, len, 1024, 3));
	CHECK_MSG(io_run(d, 0, &io, BLKDEV_FLUSH, 0, 0, 0) == 0);
	CHECK_MSG(io_run(d, 1, &io, BLKDEV_WRITE_ZEROES, 101, 2, 0) == 0);
	CHECK_MSG(nf->disk[101 * 512] == 0 && nf->disk[102 * 512 + 511] == 0 &&
	          nf->disk[103 * 512] != 0);
	CHECK_MSG(io_run(d, 0, &io, BLKDEV_READ, DISK_BLOCKS - 1, 2, 0) ==
	          BLKDEV_E_RANGE); /* refused before the device */
	CHECK_MSG(c->resets == 0);
	nvme_stop(c);
	nf_free(c);
}

/* A device that writes nonsense: the request is not completed by it, the controller is reset, I/O
 * works again. */
static void nonsense_resets(enum inject what, const char *name)
{
	struct nvme_ctrl *c = nf_new(1);
	struct io io;

	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) == 0);
	struct blkdev *d = &c->ns[0].dev;
	io_setup(&io);
	nf->inject = what;
	fill(&io, 4096, 0, 9);
	int err = io_run(d, 0, &io, BLKDEV_WRITE, 8, 8, 0);
	CHECK_MSG(err == BLKDEV_E_ABORTED && io.completions == 1, "%s: %d, %d completions", name,
	          err, io.completions);
	CHECK_MSG(c->resets == 1 && c->nio == 1, "%s: resets %u", name, c->resets);
	CHECK_MSG(io_run(d, 0, &io, BLKDEV_WRITE, 8, 8, 0) == 0, "%s: no I/O after the reset",
	          name);
	for (unsigned i = 0; i < 40; i++)
		memset(io.va[i], 0, 4096);
	CHECK_MSG(io_run(d, 0, &io, BLKDEV_READ, 8, 8, 0) == 0 && same(&io, 4096, 0, 9), "%s",
	          name);
	nvme_stop(c);
	nf_free(c);
}

KT_CASE(ctrl_unknown_cid_resets_and_works_again)
{
	nonsense_resets(I_UNKNOWN_CID, "unknown cid");
}

KT_CASE(ctrl_head_beyond_queue_resets_and_works_again)
{
	nonsense_resets(I_HEAD_BEYOND, "head beyond the queue");
}

KT_CASE(ctrl_wrong_sqid_resets_and_works_again)
{
	nonsense_resets(I_WRONG_SQID, "wrong sqid");
}

KT_CASE(ctrl_silent_device_times_out_and_resets)
{
	nonsense_resets(I_SILENT, "silent");
}

/* The device's own LBA-range error reaches the request as BLKDEV_E_RANGE, without a reset. */
KT_CASE(ctrl_device_error_status_reaches_the_request)
{
	struct nvme_ctrl *c = nf_new(1);
	struct io io;

	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) == 0);
	io_setup(&io);
	nf->inject = I_LBA_RANGE;
	CHECK_MSG(io_run(&c->ns[0].dev, 0, &io, BLKDEV_READ, 0, 1, 0) == BLKDEV_E_RANGE &&
	          c->resets == 0);
	CHECK_MSG(io_run(&c->ns[0].dev, 0, &io, BLKDEV_READ, 0, 1, 0) == 0);
	nvme_stop(c);
	nf_free(c);
}

KT_CASE(ctrl_never_ready_fails_start_cleanly)
{
	struct nvme_ctrl *c = nf_new(1);

	nf->never_ready = true;
	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) ==
	          BLKDEV_E_TIMEOUT);
	CHECK_MSG(nf->clock >= 500000, "gave up after %lu us, before CAP.TO",
	          (unsigned long)nf->clock);
	nf_free(c);
}

KT_CASE(ctrl_fatal_status_fails_start_cleanly)
{
	struct nvme_ctrl *c = nf_new(1);

	nf->fatal = true;
	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) < 0);
	nf_free(c);
}

KT_CASE(ctrl_missing_device_is_unsupported)
{
	struct nvme_ctrl *c = nf_new(1);

	memset(nf->regs, 0xff, sizeof(nf->regs)); /* a function that does not decode: all ones */
	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) ==
	          BLKDEV_E_UNSUPPORTED);
	CHECK_MSG(nvme_start(c, nf->regs, 0x1000, &nf_env, 1, BLKDEV_POLLED) ==
	          BLKDEV_E_INVAL); /* no doorbells mapped */
	nf_free(c);
}

/*
 * Surprise removal: the controller stops answering (registers all-ones,
 * nothing taken from the rings) with a write in flight. The wait ends at
 * its timeout, the reset finds the function gone at once, the request is
 * aborted, and the controller is dead (nio 0): every later call fails
 * with BLKDEV_E_DEVICE without waiting.
 */
KT_CASE(ctrl_surprise_removal_mid_run_is_reported)
{
	struct nvme_ctrl *c = nf_new(1);
	struct io io;

	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) == 0);
	struct blkdev *d = &c->ns[0].dev;
	io_setup(&io);
	fill(&io, 4096, 0, 4);
	CHECK_MSG(io_run(d, 0, &io, BLKDEV_WRITE, 8, 8, 0) == 0);
	nf->gone = true;
	memset(nf->regs, 0xff, sizeof(nf->regs));
	uint64_t t0 = nf->clock;
	int err = io_run(d, 0, &io, BLKDEV_WRITE, 8, 8, 0);
	CHECK_MSG(err == BLKDEV_E_ABORTED && io.completions == 1, "write: %d, %u completions", err,
	          io.completions);
	CHECK_MSG(nf->clock - t0 <= 1000000 + 1000, "gave up after %lu us",
	          (unsigned long)(nf->clock - t0));
	CHECK_MSG(c->nio == 0 && d->nqueues == 0, "nio %u", c->nio);
	t0 = nf->clock;
	CHECK_MSG(blkdev_submit(d, 0, &io.r) == BLKDEV_E_DEVICE);
	CHECK_MSG(blkdev_poll(d, 0, 8) == BLKDEV_E_DEVICE);
	CHECK_MSG(blkdev_wait(d, 0, 1000000) == BLKDEV_E_DEVICE);
	CHECK_MSG(nvme_stop(c) == BLKDEV_E_DEVICE);
	CHECK_MSG(nf->clock - t0 <= 1000, "%lu us after the controller died",
	          (unsigned long)(nf->clock - t0));
	nf_free(c);
}

/* Garbage Identify data: non-printing serial bytes, an unordered namespace list, a format beyond
 * NLBAF. */
KT_CASE(ctrl_garbage_identify_is_bounded)
{
	struct nvme_ctrl *c = nf_new(1);

	nf->garbage_identify = true;
	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) == 0);
	CHECK_MSG(!strcmp(c->serial, "BAD??"), "serial '%s'", c->serial);
	CHECK_MSG(c->nns == 1 && c->ns[0].nsid == 1, "namespaces %u",
	          c->nns); /* 3 skipped (format), list cut at 2 */
	nvme_stop(c);
	nf_free(c);
}

/* CAP.DSTRD = 2: doorbells 16 bytes apart; the driver must ring the tails where the controller
 * looks. */
KT_CASE(ctrl_doorbell_stride_from_cap)
{
	struct nvme_ctrl *c = nf_new(2);
	struct io io;
	uint64_t cap;

	memcpy(&cap, nf->regs + NVME_REG_CAP, 8);
	cap |= 2ull << 32;
	memcpy(nf->regs + NVME_REG_CAP, &cap, 8);
	nf->stride = 16;
	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 2, BLKDEV_POLLED) == 0 &&
	          c->db_stride == 16);
	io_setup(&io);
	fill(&io, 512, 0, 5);
	CHECK_MSG(io_run(&c->ns[0].dev, 1, &io, BLKDEV_WRITE, 7, 1, 0) == 0);
	CHECK_MSG(!memcmp(nf->disk + 7 * 512, io.va[0], 512));
	CHECK_MSG(nf_r32(NVME_REG_DBS + 2 * 2 * 16) == 1,
	          "queue 2's tail doorbell"); /* queue index 1 is qid 2 */
	CHECK_MSG(nf_r32(NVME_REG_DBS + (2 * 2 + 1) * 16) == 1, "queue 2's head doorbell");
	nvme_stop(c);
	nf_free(c);
}

/* NVMe 1.0 has no active namespace list: namespaces 1 .. NN are tried, inactive and unusable ones
 * skipped. */
KT_CASE(ctrl_nvme_1_0_namespaces_without_the_active_list)
{
	struct nvme_ctrl *c = nf_new(1);

	nf->nvme_1_0 = true;
	nf_w32(NVME_REG_VS, 0x10000);
	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) == 0);
	CHECK_MSG(c->nns == 1 && c->ns[0].nsid == 1, "namespaces %u",
	          c->nns);            /* 2, 4 size 0; 3 bad format */
	nf_w32(NVME_REG_VS, 0x10400); /* a 1.4 controller that refuses the list is an error */
	CHECK_MSG(nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 1, BLKDEV_POLLED) ==
	          BLKDEV_E_IO);
	nf_free(c);
}
