/* The fake NVMe controller of nvme_fake.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme_fake.h"

struct nvme_fake *nf;

uint32_t nf_r32(unsigned off)
{
	uint32_t v;
	memcpy(&v, nf->regs + off, 4);
	return v;
}

void nf_w32(unsigned off, uint32_t v)
{
	memcpy(nf->regs + off, &v, 4);
}

static void post(struct fq *cq, struct fq *sq, unsigned sqid, uint16_t cid, uint16_t sc,
                 uint32_t dw0)
{
	struct nvme_cqe *e = (struct nvme_cqe *)(uintptr_t)cq->base + cq->tail;

	e->dw0 = dw0, e->dw1 = 0;
	e->sqhd = sq->head, e->sqid = (uint16_t)sqid, e->cid = cid;
	if (nf->inject == I_UNKNOWN_CID && sqid)
		e->cid = cid ^ 0x20, nf->inject = I_NONE;
	else if (nf->inject == I_HEAD_BEYOND && sqid)
		e->sqhd = (uint16_t)(sq->size + 3), nf->inject = I_NONE;
	else if (nf->inject == I_WRONG_SQID && sqid)
		e->sqid = 3, nf->inject = I_NONE;
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

	nf->admin_cmds++;
	switch (e->opcode) {
	case NVME_ADMIN_IDENTIFY: {
		unsigned cns = e->cdw10 & 0xff, which = cns == NVME_CNS_CONTROLLER     ? 0
		                                        : cns == NVME_CNS_ACTIVE_NSIDS ? 1
		                                                                       : 2;
		memset(buf, 0, 4096);
		if (cns > NVME_CNS_ACTIVE_NSIDS)
			return NVME_SC_INVALID_FIELD;
		if (nf->identify[which]) { /* fuzzing: whatever bytes the input says, for every
			                      namespace alike */
			memcpy(buf, nf->identify[which], 4096);
			return 0;
		}
		if ((e->cdw10 & 0xff) == NVME_CNS_CONTROLLER) {
			put_ascii(buf + NVME_IDC_SN,
			          nf->garbage_identify ? "BAD\x01\x7f" : "FAKE0001", 20);
			put_ascii(buf + NVME_IDC_MN, "Fake NVMe", 40);
			put_ascii(buf + NVME_IDC_FR, "1.0", 8);
			buf[NVME_IDC_MDTS] = 5;
			buf[NVME_IDC_SQES] = 0x66, buf[NVME_IDC_CQES] = 0x44;
			buf[NVME_IDC_NN] = 4;
			buf[NVME_IDC_ONCS] = NVME_ONCS_WRITE_ZEROES;
			buf[NVME_IDC_VWC] = 1;
		} else if ((e->cdw10 & 0xff) == NVME_CNS_ACTIVE_NSIDS && nf->nvme_1_0) {
			return NVME_SC_INVALID_FIELD; /* CNS 02h came with NVMe 1.1 */
		} else if ((e->cdw10 & 0xff) == NVME_CNS_ACTIVE_NSIDS) {
			uint32_t ids[] = {1, 3, 2, 9}; /* garbage: 2 after 3, 9 beyond NN */
			memcpy(buf, ids, nf->garbage_identify ? sizeof(ids) : 4);
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
	}
	case NVME_ADMIN_SET_FEATURES:
		*dw0 = (nf->grant - 1) | (nf->grant - 1) << 16;
		return 0;
	case NVME_ADMIN_CREATE_CQ:
	case NVME_ADMIN_CREATE_SQ: {
		unsigned q = e->cdw10 & 0xffff;
		if (q == 0 || q > nf->grant)
			return 0x101; /* invalid queue identifier */
		struct fq *f = e->opcode == NVME_ADMIN_CREATE_CQ ? &nf->cq[q] : &nf->sq[q];
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

	nf->io_cmds++;
	if (nf->inject == I_LBA_RANGE) {
		nf->inject = I_NONE;
		return NVME_SC_LBA_RANGE;
	}
	if (e->opcode == NVME_CMD_FLUSH)
		return 0;
	if (e->nsid != 1 || lba + n > DISK_BLOCKS)
		return NVME_SC_LBA_RANGE;
	uint8_t *d = nf->disk + lba * 512;
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
	if (nf->gone)
		return; /* nothing answers, nothing is taken from the rings */
	uint32_t cc = nf_r32(NVME_REG_CC), csts = nf_r32(NVME_REG_CSTS);

	if ((cc & NVME_CC_EN) && !(csts & NVME_CSTS_RDY) && !nf->never_ready) {
		uint32_t aqa = nf_r32(NVME_REG_AQA);
		uint64_t asq, acq;
		memcpy(&asq, nf->regs + NVME_REG_ASQ, 8);
		memcpy(&acq, nf->regs + NVME_REG_ACQ, 8);
		memset(nf->sq, 0, sizeof(nf->sq));
		memset(nf->cq, 0, sizeof(nf->cq));
		nf->sq[0] = (struct fq){.base = asq, .size = (uint16_t)((aqa & 0xfff) + 1)};
		nf->cq[0] =
		    (struct fq){.base = acq, .size = (uint16_t)((aqa >> 16) + 1), .phase = 1};
		memset(nf->regs + NVME_REG_DBS, 0, 8 * nf->stride);
		csts |= NVME_CSTS_RDY | (nf->fatal ? NVME_CSTS_CFS : 0);
	}
	if (!(cc & NVME_CC_EN)) {
		csts &= ~(NVME_CSTS_RDY | NVME_CSTS_CFS);
		if (nf->inject == I_SILENT) /* a reset brings a hung device back */
			nf->inject = I_NONE;
	}
	if ((cc >> 14 & 3) == 1)
		csts = (csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_DONE;
	nf_w32(NVME_REG_CSTS, csts);
	if (!(csts & NVME_CSTS_RDY) || nf->fatal)
		return;
	for (unsigned q = 0; q < 4; q++) {
		struct fq *sq = &nf->sq[q];
		if (!sq->base)
			continue;
		uint32_t tail = nf_r32(NVME_REG_DBS + 2 * q * nf->stride);
		while (sq->head != tail && tail < sq->size) {
			struct nvme_sqe e = ((struct nvme_sqe *)(uintptr_t)sq->base)[sq->head];
			sq->head = (uint16_t)((sq->head + 1) % sq->size);
			uint32_t dw0 = 0;
			uint16_t sc = q ? io_cmd(&e) : admin_cmd(&e, &dw0);
			if (q && nf->inject == I_SILENT)
				continue;
			post(&nf->cq[q ? sq->cqid : 0], sq, q, e.cid, sc, dw0);
		}
	}
}

/* ---- the environment ---- */

static void *env_dma_page(void *ctx, uint64_t *pa)
{
	void *p = aligned_alloc(4096, 4096);

	if (!p || nf->npages == MAX_PAGES) {
		free(p);
		return 0;
	}
	memset(p, 0, 4096);
	nf->pages[nf->npages++] = p;
	*pa = (uint64_t)(uintptr_t)p;
	return p;
}

static uint64_t env_now(void *ctx)
{
	fake_step();
	return nf->clock += 100;
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

const struct blkdev_env nf_env = {0, env_dma_page, env_now, env_irq_bind, env_irq_wait, env_log};

struct nvme_ctrl *nf_new(unsigned grant)
{
	nf = aligned_alloc(4096, sizeof(*nf));
	memset(nf, 0, sizeof(*nf));
	nf->grant = grant;
	nf->stride = 4;
	uint64_t cap = 63 | 1ull << 16 | 1ull << 24 |
	               1ull << 37; /* MQES 64, CQR, TO 500 ms, NVM command set */
	memcpy(nf->regs + NVME_REG_CAP, &cap, 8);
	nf_w32(NVME_REG_VS, 0x10400);
	return calloc(1, sizeof(struct nvme_ctrl));
}

void nf_free(struct nvme_ctrl *c)
{
	for (unsigned i = 0; i < nf->npages; i++)
		free(nf->pages[i]);
	free(nf);
	free(c);
}
