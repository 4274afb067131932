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
#include "nvme_test.h"

#define DISK_BLOCKS 2048
#define MAX_PAGES   4096

enum inject { I_NONE, I_UNKNOWN_CID, I_HEAD_BEYOND, I_SILENT, I_LBA_RANGE, I_WRONG_SQID };

struct fq {
	uint64_t base;
	uint16_t size, head, tail;
	uint8_t phase;
	uint16_t cqid;
};

static struct fake_ctrl {
	uint8_t regs[0x2000] __attribute__((aligned(4096)));
	struct fq sq[4], cq[4];
	uint8_t disk[DISK_BLOCKS * 512];
	unsigned grant; /* I/O queue pairs granted */
	bool never_ready, fatal, garbage_identify, nvme_1_0;
	enum inject inject;
	uint64_t clock;
	void *pages[MAX_PAGES];
	unsigned npages;
	unsigned admin_cmds, io_cmds;
	unsigned stride; /* doorbell stride in bytes: 4 << CAP.DSTRD */
} * fk;

static uint32_t r32(unsigned off)
{
	uint32_t v;
	memcpy(&v, fk->regs + off, 4);
	return v;
}

static void w32(unsigned off, uint32_t v)
{
	memcpy(fk->regs + off, &v, 4);
}

static void post(struct fq *cq, struct fq *sq, unsigned sqid, uint16_t cid, uint16_t sc,
                 uint32_t dw0)
{
	struct nvme_cqe *e = (struct nvme_cqe *)(uintptr_t)cq->base + cq->tail;

	e->dw0 = dw0, e->dw1 = 0;
	e->sqhd = sq->head, e->sqid = (uint16_t)sqid, e->cid = cid;
	if (fk->inject == I_UNKNOWN_CID && sqid)
		e->cid = cid ^ 0x20, fk->inject = I_NONE;
	else if (fk->inject == I_HEAD_BEYOND && sqid)
		e->sqhd = (uint16_t)(sq->size + 3), fk->inject = I_NONE;
	else if (fk->inject == I_WRONG_SQID && sqid)
		e->sqid = 3, fk->inject = I_NONE;
	e->status = (uint16_t)(sc << 1 | cq->phase);
	if (++cq->tail == cq->size)
		cq->tail = 0, cq->phase ^= 1;
}

static void put_ascii(uint8_t *d, const char *s, unsigned n)
{
	memset(d, ' ', n);
	memcpy(d, s, strlen(s));
}

static uint16_t admin_cmd(const struct nvme_sqe *e, uint32_t *dw0)
{
	uint8_t *buf = (uint8_t *)(uintptr_t)e->prp1;

	fk->admin_cmds++;
	switch (e->opcode) {
	case NVME_ADMIN_IDENTIFY:
		memset(buf, 0, 4096);
		if ((e->cdw10 & 0xff) == NVME_CNS_CONTROLLER) {
			put_ascii(buf + NVME_IDC_SN,
			          fk->garbage_identify ? "BAD\x01\x7f" : "FAKE0001", 20);
			put_ascii(buf + NVME_IDC_MN, "Fake NVMe", 40);
			put_ascii(buf + NVME_IDC_FR, "1.0", 8);
			buf[NVME_IDC_MDTS] = 5;
			buf[NVME_IDC_SQES] = 0x66, buf[NVME_IDC_CQES] = 0x44;
			buf[NVME_IDC_NN] = 4;
			buf[NVME_IDC_ONCS] = NVME_ONCS_WRITE_ZEROES;
			buf[NVME_IDC_VWC] = 1;
		} else if ((e->cdw10 & 0xff) == NVME_CNS_ACTIVE_NSIDS && fk->nvme_1_0) {
			return NVME_SC_INVALID_FIELD; /* CNS 02h came with NVMe 1.1 */
		} else if ((e->cdw10 & 0xff) == NVME_CNS_ACTIVE_NSIDS) {
			uint32_t ids[] = {1, 3, 2, 9}; /* garbage: 2 after 3, 9 beyond NN */
			memcpy(buf, ids, fk->garbage_identify ? sizeof(ids) : 4);
		} else if (e->nsid == 1) {
			uint64_t nsze = DISK_BLOCKS;
			memcpy(buf + NVME_IDN_NSZE, &nsze, 8);
			buf[NVME_IDN_LBAF + 2] = 9;
		} else if (e->nsid == 3) { /* format index beyond NLBAF */
			uint64_t nsze = 100;
			memcpy(buf + NVME_IDN_NSZE, &nsze, 8);
			buf[NVME_IDN_FLBAS] = 5;
		}
		return 0;
	case NVME_ADMIN_SET_FEATURES:
		*dw0 = (fk->grant - 1) | (fk->grant - 1) << 16;
		return 0;
	case NVME_ADMIN_CREATE_CQ:
	case NVME_ADMIN_CREATE_SQ: {
		unsigned q = e->cdw10 & 0xffff;
		if (q == 0 || q > fk->grant)
			return 0x101; /* invalid queue identifier */
		struct fq *f = e->opcode == NVME_ADMIN_CREATE_CQ ? &fk->cq[q] : &fk->sq[q];
		*f = (struct fq){.base = e->prp1,
		                 .size = (uint16_t)((e->cdw10 >> 16) + 1),
		                 .phase = 1,
		                 .cqid = (uint16_t)(e->cdw11 >> 16)};
		return 0;
	}
	default:
		return NVME_SC_INVALID_FIELD;
	}
}

/* Copy between the memory disk and the PRP-described buffer (4.3), as a controller walks it. */
static void dma(const struct nvme_sqe *e, uint8_t *disk, uint32_t len, bool to_host)
{
	uint32_t done = 0, off = (uint32_t)(e->prp1 & 4095), npages = (off + len + 4095) / 4096;
	uint64_t *list = (uint64_t *)(uintptr_t)e->prp2;
	unsigned idx = 0;

	for (uint32_t p = 0; p < npages; p++) {
		uint64_t pa;
		if (p == 0)
			pa = e->prp1;
		else if (npages == 2)
			pa = e->prp2;
		else {
			if (idx == 511 && p < npages - 1)
				list = (uint64_t *)(uintptr_t)list[511], idx = 0;
			pa = list[idx++];
		}
		uint32_t n = 4096 - (uint32_t)(pa & 4095);
		if (n > len - done)
			n = len - done;
		uint8_t *host = (uint8_t *)(uintptr_t)pa;
		if (to_host)
			memcpy(host, disk + done, n);
		else
			memcpy(disk + done, host, n);
		done += n;
	}
}

static uint16_t io_cmd(const struct nvme_sqe *e)
{
	uint64_t lba = e->cdw10 | (uint64_t)e->cdw11 << 32;
	uint32_t n = (e->cdw12 & 0xffff) + 1;

	fk->io_cmds++;
	if (fk->inject == I_LBA_RANGE) {
		fk->inject = I_NONE;
		return NVME_SC_LBA_RANGE;
	}
	if (e->opcode == NVME_CMD_FLUSH)
		return 0;
	if (e->nsid != 1 || lba + n > DISK_BLOCKS)
		return NVME_SC_LBA_RANGE;
	uint8_t *d = fk->disk + lba * 512;
	if (e->opcode == NVME_CMD_READ)
		dma(e, d, n * 512, true);
	else if (e->opcode == NVME_CMD_WRITE)
		dma(e, d, n * 512, false);
	else if (e->opcode == NVME_CMD_WRITE_ZEROES)
		memset(d, 0, n * 512);
	else
		return NVME_SC_INVALID_FIELD;
	return 0;
}

/* The controller's side: state changes of CC, then every doorbell. */
static void fake_step(void)
{
	uint32_t cc = r32(NVME_REG_CC), csts = r32(NVME_REG_CSTS);

	if ((cc & NVME_CC_EN) && !(csts & NVME_CSTS_RDY) && !fk->never_ready) {
		uint32_t aqa = r32(NVME_REG_AQA);
		uint64_t asq, acq;
		memcpy(&asq, fk->regs + NVME_REG_ASQ, 8);
		memcpy(&acq, fk->regs + NVME_REG_ACQ, 8);
		memset(fk->sq, 0, sizeof(fk->sq));
		memset(fk->cq, 0, sizeof(fk->cq));
		fk->sq[0] = (struct fq){.base = asq, .size = (uint16_t)((aqa & 0xfff) + 1)};
		fk->cq[0] =
		    (struct fq){.base = acq, .size = (uint16_t)((aqa >> 16) + 1), .phase = 1};
		memset(fk->regs + NVME_REG_DBS, 0, 8 * fk->stride);
		csts |= NVME_CSTS_RDY | (fk->fatal ? NVME_CSTS_CFS : 0);
	}
	if (!(cc & NVME_CC_EN)) {
		csts &= ~(NVME_CSTS_RDY | NVME_CSTS_CFS);
		if (fk->inject == I_SILENT) /* a reset brings a hung device back */
			fk->inject = I_NONE;
	}
	if ((cc >> 14 & 3) == 1)
		csts = (csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_DONE;
	w32(NVME_REG_CSTS, csts);
	if (!(csts & NVME_CSTS_RDY) || fk->fatal)
		return;
	for (unsigned q = 0; q < 4; q++) {
		struct fq *sq = &fk->sq[q];
		if (!sq->base)
			continue;
		uint32_t tail = r32(NVME_REG_DBS + 2 * q * fk->stride);
		while (sq->head != tail && tail < sq->size) {
			struct nvme_sqe e = ((struct nvme_sqe *)(uintptr_t)sq->base)[sq->head];
			sq->head = (uint16_t)((sq->head + 1) % sq->size);
			uint32_t dw0 = 0;
			uint16_t sc = q ? io_cmd(&e) : admin_cmd(&e, &dw0);
			if (q && fk->inject == I_SILENT)
				continue;
			post(&fk->cq[q ? sq->cqid : 0], sq, q, e.cid, sc, dw0);
		}
	}
}

/* ---- the environment ---- */

static void *env_dma_page(void *ctx, uint64_t *pa)
{
	void *p = aligned_alloc(4096, 4096);

	if (!p || fk->npages == MAX_PAGES) {
		free(p);
		return 0;
	}
	memset(p, 0, 4096);
	fk->pages[fk->npages++] = p;
	*pa = (uint64_t)(uintptr_t)p;
	return p;
}

static uint64_t env_now(void *ctx)
{
	fake_step();
	return fk->clock += 100;
}

static int env_irq_bind(void *ctx, unsigned v, unsigned cpu)
{
	return 0;
}

static int env_irq_wait(void *ctx, unsigned v, uint64_t timeout)
{
	fake_step();
	return 0;
}

static void env_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static const struct nvme_env env = {0, env_dma_page, env_now, env_irq_bind, env_irq_wait, env_log};

static struct nvme_ctrl *fake_new(unsigned grant)
{
	fk = aligned_alloc(4096, sizeof(*fk));
	memset(fk, 0, sizeof(*fk));
	fk->grant = grant;
	fk->stride = 4;
	uint64_t cap = 63 | 1ull << 16 | 1ull << 24 |
	               1ull << 37; /* MQES 64, CQR, TO 500 ms, NVM command set */
	memcpy(fk->regs + NVME_REG_CAP, &cap, 8);
	w32(NVME_REG_VS, 0x10400);
	return calloc(1, sizeof(struct nvme_ctrl));
}

static void fake_free(struct nvme_ctrl *c)
{
	for (unsigned i = 0; i < fk->npages; i++)
		free(fk->pages[i]);
	free(fk);
	free(c);
}

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
		io->va[i] = env_dma_page(0, &io->pages[i]);
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

NT_CASE(ctrl_start_identifies_and_grants_queues)
{
	struct nvme_ctrl *c = fake_new(2);

	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 4, BLKDEV_POLLED) == 0);
	NT_EXPECT(c->nns == 1 && c->ns[0].nsid == 1 && c->ns[0].dev.nblocks == DISK_BLOCKS);
	NT_EXPECT(c->ns[0].dev.block_size == 512 && c->nio == 2 && c->ns[0].dev.nqueues == 2,
	          "nio %u", c->nio);
	NT_EXPECT(c->ns[0].dev.max_blocks == 31 * 8, "max %u",
	          c->ns[0].dev.max_blocks); /* MDTS 5: 32 pages, less one */
	NT_EXPECT(!strcmp(c->model, "Fake NVMe") && !strcmp(c->serial, "FAKE0001") &&
	          !strcmp(c->ns[0].dev.name, "nvme0n1"));
	NT_EXPECT(c->ns[0].dev.flags == (BLKDEV_HAS_WRITE_ZEROES | BLKDEV_HAS_VOLATILE_CACHE));
	NT_EXPECT(nvme_stop(c) == 0 && (r32(NVME_REG_CSTS) & NVME_CSTS_RDY) == 0);
	fake_free(c);
}

NT_CASE(ctrl_read_write_flush_zeroes_through_prps)
{
	struct nvme_ctrl *c = fake_new(2);
	struct io io;

	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 2, BLKDEV_INTERRUPT) == 0);
	struct blkdev *d = &c->ns[0].dev;
	io_setup(&io);
	uint32_t n = d->max_blocks, len = n * 512;
	fill(&io, len, 1024, 3);
	NT_EXPECT(io_run(d, 1, &io, BLKDEV_WRITE, 100, n, 1024) == 0);
	NT_EXPECT(!memcmp(fk->disk + 100 * 512, io.va[0] + 1024, 512), "first block on the disk");
	for (unsigned i = 0; i < 40; i++)
		memset(io.va[i], 0, 4096);
	NT_EXPECT(io_run(d, 0, &io, BLKDEV_READ, 100, n, 1024) == 0 && same(&io, len, 1024, 3));
	NT_EXPECT(io_run(d, 0, &io, BLKDEV_FLUSH, 0, 0, 0) == 0);
	NT_EXPECT(io_run(d, 1, &io, BLKDEV_WRITE_ZEROES, 101, 2, 0) == 0);
	NT_EXPECT(fk->disk[101 * 512] == 0 && fk->disk[102 * 512 + 511] == 0 &&
	          fk->disk[103 * 512] != 0);
	NT_EXPECT(io_run(d, 0, &io, BLKDEV_READ, DISK_BLOCKS - 1, 2, 0) ==
	          BLKDEV_E_RANGE); /* refused before the device */
	NT_EXPECT(c->resets == 0);
	nvme_stop(c);
	fake_free(c);
}

/* A device that writes nonsense: the request is not completed by it, the controller is reset, I/O
 * works again. */
static void nonsense_resets(enum inject what, const char *name)
{
	struct nvme_ctrl *c = fake_new(1);
	struct io io;

	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) == 0);
	struct blkdev *d = &c->ns[0].dev;
	io_setup(&io);
	fk->inject = what;
	fill(&io, 4096, 0, 9);
	int err = io_run(d, 0, &io, BLKDEV_WRITE, 8, 8, 0);
	NT_EXPECT(err == BLKDEV_E_ABORTED && io.completions == 1, "%s: %d, %d completions", name,
	          err, io.completions);
	NT_EXPECT(c->resets == 1 && c->nio == 1, "%s: resets %u", name, c->resets);
	NT_EXPECT(io_run(d, 0, &io, BLKDEV_WRITE, 8, 8, 0) == 0, "%s: no I/O after the reset",
	          name);
	for (unsigned i = 0; i < 40; i++)
		memset(io.va[i], 0, 4096);
	NT_EXPECT(io_run(d, 0, &io, BLKDEV_READ, 8, 8, 0) == 0 && same(&io, 4096, 0, 9), "%s",
	          name);
	nvme_stop(c);
	fake_free(c);
}

NT_CASE(ctrl_unknown_cid_resets_and_works_again)
{
	nonsense_resets(I_UNKNOWN_CID, "unknown cid");
}

NT_CASE(ctrl_head_beyond_queue_resets_and_works_again)
{
	nonsense_resets(I_HEAD_BEYOND, "head beyond the queue");
}

NT_CASE(ctrl_wrong_sqid_resets_and_works_again)
{
	nonsense_resets(I_WRONG_SQID, "wrong sqid");
}

NT_CASE(ctrl_silent_device_times_out_and_resets)
{
	nonsense_resets(I_SILENT, "silent");
}

/* The device's own LBA-range error reaches the request as BLKDEV_E_RANGE, without a reset. */
NT_CASE(ctrl_device_error_status_reaches_the_request)
{
	struct nvme_ctrl *c = fake_new(1);
	struct io io;

	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) == 0);
	io_setup(&io);
	fk->inject = I_LBA_RANGE;
	NT_EXPECT(io_run(&c->ns[0].dev, 0, &io, BLKDEV_READ, 0, 1, 0) == BLKDEV_E_RANGE &&
	          c->resets == 0);
	NT_EXPECT(io_run(&c->ns[0].dev, 0, &io, BLKDEV_READ, 0, 1, 0) == 0);
	nvme_stop(c);
	fake_free(c);
}

NT_CASE(ctrl_never_ready_fails_start_cleanly)
{
	struct nvme_ctrl *c = fake_new(1);

	fk->never_ready = true;
	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) ==
	          BLKDEV_E_TIMEOUT);
	NT_EXPECT(fk->clock >= 500000, "gave up after %lu us, before CAP.TO",
	          (unsigned long)fk->clock);
	fake_free(c);
}

NT_CASE(ctrl_fatal_status_fails_start_cleanly)
{
	struct nvme_ctrl *c = fake_new(1);

	fk->fatal = true;
	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) < 0);
	fake_free(c);
}

NT_CASE(ctrl_missing_device_is_unsupported)
{
	struct nvme_ctrl *c = fake_new(1);

	memset(fk->regs, 0xff, sizeof(fk->regs)); /* a function that does not decode: all ones */
	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) ==
	          BLKDEV_E_UNSUPPORTED);
	NT_EXPECT(nvme_start(c, fk->regs, 0x1000, &env, 1, BLKDEV_POLLED) ==
	          BLKDEV_E_INVAL); /* no doorbells mapped */
	fake_free(c);
}

/* Garbage Identify data: non-printing serial bytes, an unordered namespace list, a format beyond
 * NLBAF. */
NT_CASE(ctrl_garbage_identify_is_bounded)
{
	struct nvme_ctrl *c = fake_new(1);

	fk->garbage_identify = true;
	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) == 0);
	NT_EXPECT(!strcmp(c->serial, "BAD??"), "serial '%s'", c->serial);
	NT_EXPECT(c->nns == 1 && c->ns[0].nsid == 1, "namespaces %u",
	          c->nns); /* 3 skipped (format), list cut at 2 */
	nvme_stop(c);
	fake_free(c);
}

/* CAP.DSTRD = 2: doorbells 16 bytes apart; the driver must ring the tails where the controller
 * looks. */
NT_CASE(ctrl_doorbell_stride_from_cap)
{
	struct nvme_ctrl *c = fake_new(2);
	struct io io;
	uint64_t cap;

	memcpy(&cap, fk->regs + NVME_REG_CAP, 8);
	cap |= 2ull << 32;
	memcpy(fk->regs + NVME_REG_CAP, &cap, 8);
	fk->stride = 16;
	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 2, BLKDEV_POLLED) == 0 &&
	          c->db_stride == 16);
	io_setup(&io);
	fill(&io, 512, 0, 5);
	NT_EXPECT(io_run(&c->ns[0].dev, 1, &io, BLKDEV_WRITE, 7, 1, 0) == 0);
	NT_EXPECT(!memcmp(fk->disk + 7 * 512, io.va[0], 512));
	NT_EXPECT(r32(NVME_REG_DBS + 2 * 2 * 16) == 1,
	          "queue 2's tail doorbell"); /* queue index 1 is qid 2 */
	NT_EXPECT(r32(NVME_REG_DBS + (2 * 2 + 1) * 16) == 1, "queue 2's head doorbell");
	nvme_stop(c);
	fake_free(c);
}

/* NVMe 1.0 has no active namespace list: namespaces 1 .. NN are tried, inactive and unusable ones
 * skipped. */
NT_CASE(ctrl_nvme_1_0_namespaces_without_the_active_list)
{
	struct nvme_ctrl *c = fake_new(1);

	fk->nvme_1_0 = true;
	w32(NVME_REG_VS, 0x10000);
	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) == 0);
	NT_EXPECT(c->nns == 1 && c->ns[0].nsid == 1, "namespaces %u",
	          c->nns);         /* 2, 4 size 0; 3 bad format */
	w32(NVME_REG_VS, 0x10400); /* a 1.4 controller that refuses the list is an error */
	NT_EXPECT(nvme_start(c, fk->regs, sizeof(fk->regs), &env, 1, BLKDEV_POLLED) == BLKDEV_E_IO);
	fake_free(c);
}
