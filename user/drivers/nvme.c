/*
 * NVMe controller: reset and enable (NVMe 1.4, 7.6.1), the admin queue,
 * Identify, Set Features Number of Queues, I/O queue pairs, and the block
 * interface (include/blkdev.h) over them. The rings themselves are in
 * nvme_queue.c. Admin commands are always polled; I/O completions are
 * polled or come through one MSI-X vector per queue, as the caller chose.
 */
#include "nvme.h"

#include <lib/bytes.h>

#define ADMIN_TIMEOUT_US 5000000u
#define LOG(c, ...)      (c)->env->log((c)->env->ctx, __VA_ARGS__)

static uint32_t rd32(const struct nvme_ctrl *c, uint32_t off)
{
	return *(const volatile uint32_t *)(c->regs + off);
}

static void wr32(struct nvme_ctrl *c, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(c->regs + off) = v;
}

/* 64-bit registers as two 32-bit halves, low first (3.1: the host may access them so). */
static uint64_t rd64(const struct nvme_ctrl *c, uint32_t off)
{
	return rd32(c, off) | (uint64_t)rd32(c, off + 4) << 32;
}

static void wr64(struct nvme_ctrl *c, uint32_t off, uint64_t v)
{
	wr32(c, off, (uint32_t)v);
	wr32(c, off + 4, (uint32_t)(v >> 32));
}

/* Wait until CSTS & mask == want, for CAP.TO; BLKDEV_E_DEVICE if the controller reports a fatal
 * status. */
static int wait_csts(struct nvme_ctrl *c, uint32_t mask, uint32_t want)
{
	uint64_t end = c->env->now_us(c->env->ctx) + (uint64_t)c->ready_timeout_ms * 1000;

	for (;;) {
		uint32_t s = rd32(c, NVME_REG_CSTS);
		if (s == 0xffffffffu)
			return BLKDEV_E_DEVICE; /* the function is gone or not decoding */
		if ((s & mask) == want)
			return BLKDEV_OK;
		if ((s & NVME_CSTS_CFS) && want)
			return BLKDEV_E_DEVICE;
		if (c->env->now_us(c->env->ctx) > end)
			return BLKDEV_E_TIMEOUT;
	}
}

/* The doorbell of queue y (sq: tail doorbell, else head doorbell), or NULL if it lies outside the
 * mapped registers. */
static volatile uint32_t *doorbell(struct nvme_ctrl *c, unsigned y, bool sq)
{
	size_t off = NVME_REG_DBS + (2 * (size_t)y + (sq ? 0 : 1)) * c->db_stride;

	return off + 4 <= c->regs_len ? (volatile uint32_t *)(c->regs + off) : 0;
}

/* Ring pages for queue pair qp (allocated once, kept across resets) and its command ids' PRP list
 * pages. */
static int qp_alloc(struct nvme_ctrl *c, struct nvme_qpair *qp, unsigned qid, bool prp_lists)
{
	uint64_t sq_pa, cq_pa;
	void *sq = c->env->dma_page(c->env->ctx, &sq_pa),
	     *cq = c->env->dma_page(c->env->ctx, &cq_pa);
	volatile uint32_t *sdb = doorbell(c, qid, true), *cdb = doorbell(c, qid, false);

	if (!sq || !cq)
		return BLKDEV_E_NOMEM;
	if (!sdb || !cdb)
		return BLKDEV_E_INVAL;
	unsigned depth = NVME_CAP_MQES(c->cap) < NVME_QDEPTH ? NVME_CAP_MQES(c->cap) : NVME_QDEPTH;
	nvme_qp_init(qp, (uint16_t)qid, (uint16_t)depth, sq, sq_pa, cq, cq_pa, sdb, cdb);
	for (unsigned i = 0; prp_lists && i + 1 < depth; i++)
		for (unsigned p = 0; p < NVME_PRP_LIST_PAGES; p++)
			if (!(qp->cmd[i].prp_list[p] =
			          c->env->dma_page(c->env->ctx, &qp->cmd[i].prp_list_pa[p])))
				return BLKDEV_E_NOMEM;
	return BLKDEV_OK;
}

/* Run one admin command to completion (polled); its completion DW0 in *dw0. 0, BLKDEV_E_IO,
 * _TIMEOUT or _DEVICE. */
static int admin(struct nvme_ctrl *c, struct nvme_sqe *e, uint32_t *dw0)
{
	struct nvme_qpair *q = &c->admin;
	uint16_t cid;
	int err = nvme_qp_get_cmd(q, 0, &cid);

	if (err)
		return err;
	e->cid = cid;
	if ((err = nvme_qp_submit(q, e))) {
		nvme_qp_put_cmd(q, cid);
		return err;
	}
	struct nvme_cmd *cmd = &q->cmd[cid & 0xff];
	uint64_t end = c->env->now_us(c->env->ctx) + ADMIN_TIMEOUT_US;
	while (!cmd->done) {
		if ((err = nvme_qp_reap(q, NVME_QDEPTH)) < 0)
			return err; /* the id stays taken: only a reset clears a broken pair */
		if (!cmd->done && c->env->now_us(c->env->ctx) > end)
			return BLKDEV_E_TIMEOUT;
	}
	uint16_t status = cmd->status;
	if (dw0)
		*dw0 = cmd->dw0;
	nvme_qp_put_cmd(q, cid);
	if (status) {
		LOG(c, "nvme: admin opcode %#x failed: status type %u code %#x\n", e->opcode,
		    NVME_CQE_SCT(status), NVME_CQE_SC(status));
		return BLKDEV_E_IO;
	}
	return BLKDEV_OK;
}

static int identify(struct nvme_ctrl *c, uint32_t cns, uint32_t nsid)
{
	struct nvme_sqe e = {
	    .opcode = NVME_ADMIN_IDENTIFY, .nsid = nsid, .prp1 = c->scratch_pa, .cdw10 = cns};

	return admin(c, &e, 0);
}

/* Disable (CC.EN = 0, wait for CSTS.RDY = 0), program the admin queue, enable, wait for ready
 * (7.6.1). */
static int enable(struct nvme_ctrl *c)
{
	int err;

	if (rd32(c, NVME_REG_CC) & NVME_CC_EN)
		wr32(c, NVME_REG_CC, rd32(c, NVME_REG_CC) & ~NVME_CC_EN);
	if ((err = wait_csts(c, NVME_CSTS_RDY, 0)))
		return err;
	nvme_qp_clear(&c->admin);
	wr32(c, NVME_REG_AQA, NVME_AQA(c->admin.depth, c->admin.depth));
	wr64(c, NVME_REG_ASQ, c->admin.sq_pa);
	wr64(c, NVME_REG_ACQ, c->admin.cq_pa);
	wr32(c, NVME_REG_CC,
	     NVME_CC_CSS_NVM | NVME_CC_MPS(12) | NVME_CC_AMS_RR | NVME_CC_IOSQES(NVME_SQES_LOG2) |
	         NVME_CC_IOCQES(NVME_CQES_LOG2) | NVME_CC_EN);
	return wait_csts(c, NVME_CSTS_RDY, NVME_CSTS_RDY);
}

/* Copy an ASCII identify field without its trailing spaces. */
static void copy_ascii(char *dst, const uint8_t *src, unsigned n)
{
	unsigned end = n;

	while (end > 0 && (src[end - 1] == ' ' || src[end - 1] == 0))
		end--;
	for (unsigned i = 0; i < end; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[end] = 0;
}

/* Identify controller (5.15.2.2): names, transfer limit, optional commands, entry sizes. */
static int identify_controller(struct nvme_ctrl *c)
{
	const uint8_t *d = c->scratch;
	int err = identify(c, NVME_CNS_CONTROLLER, 0);

	if (err)
		return err;
	copy_ascii(c->serial, d + NVME_IDC_SN, 20);
	copy_ascii(c->model, d + NVME_IDC_MN, 40);
	copy_ascii(c->firmware, d + NVME_IDC_FR, 8);
	uint32_t mdts = d[NVME_IDC_MDTS], pages = NVME_MAX_XFER_PAGES;
	if (mdts && mdts < 20 && (1u << mdts) << NVME_CAP_MPSMIN(c->cap) < pages)
		pages = (1u << mdts) << NVME_CAP_MPSMIN(c->cap);
	/* One page less than the PRPs allow: a buffer that starts mid-page spans one more page. */
	c->max_xfer = (pages - 1) * NVME_PAGE;
	c->oncs = (uint16_t)(d[NVME_IDC_ONCS] | d[NVME_IDC_ONCS + 1] << 8);
	c->vwc = d[NVME_IDC_VWC] & 1;
	c->nn = get_le32(d + NVME_IDC_NN);
	if ((d[NVME_IDC_SQES] & 0xf) > NVME_SQES_LOG2 ||
	    (d[NVME_IDC_CQES] & 0xf) > NVME_CQES_LOG2) {
		LOG(c, "nvme: controller needs queue entries larger than 64/16 bytes\n");
		return BLKDEV_E_UNSUPPORTED;
	}
	return BLKDEV_OK;
}

/* Fill namespace slot k from Identify namespace (5.15.2.1); skips (returns 1) an inactive or
 * unusable one. */
static int identify_namespace(struct nvme_ctrl *c, uint32_t nsid, unsigned k)
{
	const uint8_t *d = c->scratch;
	int err = identify(c, NVME_CNS_NAMESPACE, nsid);

	if (err)
		return err;
	uint64_t nsze = get_le32(d + NVME_IDN_NSZE) | (uint64_t)get_le32(d + NVME_IDN_NSZE + 4)
	                                                  << 32;
	unsigned fmt = d[NVME_IDN_FLBAS] & 0xf;
	if (nsze == 0 || fmt > d[NVME_IDN_NLBAF])
		return 1;
	uint32_t lbaf = get_le32(d + NVME_IDN_LBAF + 4 * fmt), lbads = (lbaf >> 16) & 0xff;
	if (lbaf & 0xffff || lbads < 9 ||
	    lbads > 12) { /* metadata in line, or blocks beyond a page: not handled */
		LOG(c,
		    "nvme: namespace %u: format %u (%u-byte blocks, %u metadata bytes) not "
		    "supported; skipped\n",
		    nsid, fmt, lbads < 32 ? 1u << lbads : 0, lbaf & 0xffff);
		return 1;
	}
	struct nvme_ns *ns = &c->ns[k];
	ns->nsid = nsid, ns->ctrl = c;
	struct blkdev *b = &ns->dev;
	b->ops = &nvme_blkdev_ops, b->priv = ns;
	b->nblocks = nsze, b->block_size = 1u << lbads;
	b->max_blocks = c->max_xfer >> lbads;
	if (b->max_blocks > 0x10000) /* NLB is 16 bits, 0's based */
		b->max_blocks = 0x10000;
	b->flags = (c->oncs & NVME_ONCS_WRITE_ZEROES ? BLKDEV_HAS_WRITE_ZEROES : 0) |
	           (c->vwc ? BLKDEV_HAS_VOLATILE_CACHE : 0);
	b->mode = c->mode;
	return 0;
}

/* Every active namespace: the active-NSID list (CNS 02h), up to NVME_MAX_NS of them. */
static int identify_namespaces(struct nvme_ctrl *c)
{
	uint32_t ids[NVME_MAX_NS];
	unsigned n = 0;
	int err = identify(c, NVME_CNS_ACTIVE_NSIDS, 0);
	const uint8_t *d = c->scratch;

	if (err == BLKDEV_E_IO && rd32(c, NVME_REG_VS) < 0x10100) {
		/* Before NVMe 1.1 there is no active list: try 1 .. NN; an inactive one reads as
		 * size 0. */
		for (uint32_t id = 1; id <= c->nn && n < NVME_MAX_NS; id++)
			ids[n++] = id;
	} else if (err) {
		return err;
	}
	for (unsigned i = 0; i < 1024 && n < NVME_MAX_NS && err == 0; i++) {
		uint32_t id = get_le32(d + 4 * i);
		if (id == 0)
			break;
		if (id > c->nn || (n && id <= ids[n - 1])) {
			LOG(c,
			    "nvme: active namespace list out of order or beyond NN (%u); ignored "
			    "from there\n",
			    id);
			break;
		}
		ids[n++] = id;
	}
	c->nns = 0;
	for (unsigned i = 0; i < n; i++) {
		if ((err = identify_namespace(c, ids[i], c->nns)) < 0)
			return err;
		if (err == 0) {
			struct blkdev *b = &c->ns[c->nns].dev;
			unsigned len = 0;
			for (const char *s = "nvme0n"; *s;)
				b->name[len++] = *s++;
			if (ids[i] >= 10)
				b->name[len++] = (char)('0' + ids[i] / 10 % 10);
			b->name[len++] = (char)('0' + ids[i] % 10);
			b->name[len] = 0;
			c->nns++;
		}
	}
	return BLKDEV_OK;
}

/* Set Features Number of Queues (5.21.1.7): ask for want pairs, keep what is granted (both counts,
 * 0's based). */
static int set_queue_count(struct nvme_ctrl *c)
{
	uint32_t want = c->want_queues - 1, got = 0;
	struct nvme_sqe e = {.opcode = NVME_ADMIN_SET_FEATURES,
	                     .cdw10 = NVME_FEAT_NUM_QUEUES,
	                     .cdw11 = want | want << 16};
	int err = admin(c, &e, &got);

	if (err)
		return err;
	unsigned nsq = (got & 0xffff) + 1, ncq = (got >> 16) + 1;
	c->nio = nsq < ncq ? nsq : ncq;
	if (c->nio > c->want_queues)
		c->nio = c->want_queues;
	return BLKDEV_OK;
}

/* Create I/O completion then submission queue qid (5.3, 5.4), the completion queue on MSI-X entry
 * qid if interrupts. */
static int create_io_queue(struct nvme_ctrl *c, struct nvme_qpair *qp)
{
	uint32_t size = (uint32_t)(qp->depth - 1) << 16 | qp->qid;
	bool irq = c->mode == BLKDEV_INTERRUPT;
	struct nvme_sqe cq = {.opcode = NVME_ADMIN_CREATE_CQ,
	                      .prp1 = qp->cq_pa,
	                      .cdw10 = size,
	                      .cdw11 = NVME_CQ_PC | (irq ? NVME_CQ_IEN | qp->qid << 16 : 0)};
	struct nvme_sqe sq = {.opcode = NVME_ADMIN_CREATE_SQ,
	                      .prp1 = qp->sq_pa,
	                      .cdw10 = size,
	                      .cdw11 = NVME_SQ_PC | (uint32_t)qp->qid << 16};
	int err;

	nvme_qp_clear(qp);
	qp->vector = qp->qid;
	if ((err = admin(c, &cq, 0)))
		return err;
	return admin(c, &sq, 0);
}

/* Enable, then the I/O queues again: the part of start-up a recovery repeats. */
static int bring_up(struct nvme_ctrl *c, bool first)
{
	unsigned before = c->nio;
	int err;

	if ((err = enable(c)) || (err = set_queue_count(c)))
		return err;
	if (!first && c->nio > before) /* rings exist only for the pairs granted at start */
		c->nio = before;
	for (unsigned i = 0; i < c->nio; i++) {
		struct nvme_qpair *qp = &c->io[i];
		if (first && (err = qp_alloc(c, qp, i + 1, true)))
			return err;
		if (first && c->mode == BLKDEV_INTERRUPT &&
		    (err = c->env->irq_bind(c->env->ctx, i + 1, i)))
			return err;
		if ((err = create_io_queue(c, qp)))
			return err;
	}
	return BLKDEV_OK;
}

/* What every namespace's block device says about the queues (after start and after a recovery). */
static void publish_queues(struct nvme_ctrl *c)
{
	for (unsigned i = 0; i < c->nns; i++) {
		c->ns[i].dev.nqueues = c->nio;
		c->ns[i].dev.queue_depth = c->nio ? c->io[0].depth - 1u : 0;
	}
}

static void report(struct nvme_ctrl *c)
{
	LOG(c, "nvme: %s, serial %s, firmware %s, NVMe %u.%u, max transfer %u KiB, %s%s\n",
	    c->model, c->serial, c->firmware, rd32(c, NVME_REG_VS) >> 16,
	    (rd32(c, NVME_REG_VS) >> 8) & 0xff, c->max_xfer >> 10,
	    c->oncs & NVME_ONCS_WRITE_ZEROES ? "write-zeroes" : "no write-zeroes",
	    c->vwc ? ", volatile write cache" : "");
	for (unsigned i = 0; i < c->nns; i++)
		LOG(c, "nvme: %s: namespace %u, %lu blocks of %u bytes (%lu MiB)\n",
		    c->ns[i].dev.name, c->ns[i].nsid, (unsigned long)c->ns[i].dev.nblocks,
		    c->ns[i].dev.block_size,
		    (unsigned long)(c->ns[i].dev.nblocks * c->ns[i].dev.block_size >> 20));
	LOG(c, "nvme: %u I/O queue pairs of %u entries, %s, doorbell stride %u\n", c->nio,
	    c->io[0].depth,
	    c->mode == BLKDEV_INTERRUPT ? "MSI-X interrupts (one vector per queue)" : "polled",
	    c->db_stride);
}

int nvme_start(struct nvme_ctrl *c, volatile void *regs, size_t regs_len,
               const struct blkdev_env *env, unsigned want_queues, enum blkdev_mode mode)
{
	int err;

	*c = (struct nvme_ctrl){
	    .env = env, .regs = regs, .regs_len = regs_len, .mode = (uint8_t)mode};
	if (regs_len < NVME_REG_DBS + 8)
		return BLKDEV_E_INVAL;
	c->cap = rd64(c, NVME_REG_CAP);
	if (c->cap == ~0ull || !NVME_CAP_CSS_NVM(c->cap) || NVME_CAP_MPSMIN(c->cap) != 0) {
		LOG(c, "nvme: CAP %#lx: no NVM command set or no 4 KiB pages\n",
		    (unsigned long)c->cap);
		return BLKDEV_E_UNSUPPORTED;
	}
	c->db_stride = 4u << NVME_CAP_DSTRD(c->cap);
	c->ready_timeout_ms = (NVME_CAP_TO(c->cap) ? NVME_CAP_TO(c->cap) : 1) * 500;
	c->want_queues = want_queues < 1              ? 1
	                 : want_queues > NVME_MAX_IOQ ? NVME_MAX_IOQ
	                                              : want_queues;
	if (!(c->scratch = env->dma_page(env->ctx, &c->scratch_pa)))
		return BLKDEV_E_NOMEM;
	if ((err = qp_alloc(c, &c->admin, 0, false)) || (err = enable(c)) ||
	    (err = identify_controller(c)) || (err = identify_namespaces(c)) ||
	    (err = bring_up(c, true)))
		goto fail;
	publish_queues(c);
	report(c);
	return BLKDEV_OK;
fail:
	LOG(c, "nvme: start failed: %s (CSTS %#x)\n", blkdev_strerror(err), rd32(c, NVME_REG_CSTS));
	wr32(c, NVME_REG_CC, 0);
	return err;
}

static void fail_everything(struct nvme_ctrl *c)
{
	nvme_qp_fail_all(&c->admin, BLKDEV_E_ABORTED);
	for (unsigned i = 0; i < c->nio; i++)
		nvme_qp_fail_all(&c->io[i], BLKDEV_E_ABORTED);
}

int nvme_recover(struct nvme_ctrl *c, const char *why)
{
	c->resets++;
	LOG(c, "nvme: %s; resetting the controller (reset %u)\n", why, c->resets);
	wr32(c, NVME_REG_CC, rd32(c, NVME_REG_CC) & ~NVME_CC_EN);
	int err = wait_csts(c, NVME_CSTS_RDY, 0); /* no DMA to our pages after this */
	fail_everything(c);
	if (err || (err = bring_up(c, false))) {
		LOG(c, "nvme: the controller did not come back: %s\n", blkdev_strerror(err));
		c->nio = 0; /* every later submit fails */
		publish_queues(c);
		return err;
	}
	publish_queues(c);
	return BLKDEV_OK;
}

int nvme_stop(struct nvme_ctrl *c)
{
	wr32(c, NVME_REG_CC, (rd32(c, NVME_REG_CC) & ~(3u << 14)) | NVME_CC_SHN_NORMAL);
	int err = wait_csts(c, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_DONE);
	wr32(c, NVME_REG_CC, 0);
	if (!err)
		err = wait_csts(c, NVME_CSTS_RDY, 0);
	fail_everything(c);
	c->nio = 0;
	publish_queues(c);
	return err;
}

/* ---- the block interface ---- */

static const uint8_t op_code[] = {
    [BLKDEV_READ] = NVME_CMD_READ,
    [BLKDEV_WRITE] = NVME_CMD_WRITE,
    [BLKDEV_FLUSH] = NVME_CMD_FLUSH,
    [BLKDEV_WRITE_ZEROES] = NVME_CMD_WRITE_ZEROES,
};

static int ns_submit(struct blkdev *d, unsigned q, struct blkdev_req *r)
{
	struct nvme_ns *ns = d->priv;
	struct nvme_ctrl *c = ns->ctrl;
	int err = blkdev_check(d, r);
	uint16_t cid;

	if (err)
		return err;
	if (q >= c->nio)
		return c->nio ? BLKDEV_E_INVAL : BLKDEV_E_DEVICE;
	struct nvme_qpair *qp = &c->io[q];
	if (qp->fault)
		return BLKDEV_E_DEVICE;
	if ((err = nvme_qp_get_cmd(qp, r, &cid)))
		return err;
	struct nvme_sqe e = {.opcode = op_code[r->op], .cid = cid, .nsid = ns->nsid};
	if (r->op != BLKDEV_FLUSH) {
		e.cdw10 = (uint32_t)r->lba, e.cdw11 = (uint32_t)(r->lba >> 32),
		e.cdw12 = r->nblocks - 1;
	}
	if (r->op == BLKDEV_READ || r->op == BLKDEV_WRITE) {
		struct nvme_cmd *cmd = &qp->cmd[cid & 0xff];
		err = nvme_prp_build(r->pages, r->offset, r->nblocks * d->block_size, cmd->prp_list,
		                     cmd->prp_list_pa, NVME_PRP_LIST_PAGES, &e.prp1, &e.prp2);
	}
	if (err || (err = nvme_qp_submit(qp, &e))) {
		nvme_qp_put_cmd(qp, cid);
		return err;
	}
	return BLKDEV_OK;
}

/* Reap queue q; a device fault resets the controller and is reported to this caller. */
static int ns_poll(struct blkdev *d, unsigned q, unsigned max)
{
	struct nvme_ctrl *c = ((struct nvme_ns *)d->priv)->ctrl;

	if (q >= c->nio)
		return c->nio ? BLKDEV_E_INVAL : BLKDEV_E_DEVICE;
	int n = nvme_qp_reap(&c->io[q], max);
	if (n == BLKDEV_E_DEVICE) {
		nvme_recover(c, c->io[q].fault);
		return BLKDEV_E_DEVICE;
	}
	return n;
}

static int ns_wait(struct blkdev *d, unsigned q, uint64_t timeout_us)
{
	struct nvme_ctrl *c = ((struct nvme_ns *)d->priv)->ctrl;
	uint64_t end = c->env->now_us(c->env->ctx) + timeout_us;

	for (;;) {
		int n = ns_poll(d, q, NVME_QDEPTH);
		if (n != 0)
			return n;
		if (c->io[q].inflight == 0)
			return 0;
		uint64_t now = c->env->now_us(c->env->ctx);
		if (now > end)
			break;
		if (c->mode == BLKDEV_INTERRUPT &&
		    c->env->irq_wait(c->env->ctx, c->io[q].vector, end - now))
			break;
	}
	if (ns_poll(d, q, NVME_QDEPTH) > 0)
		return 1;
	uint32_t csts = rd32(c, NVME_REG_CSTS);
	nvme_recover(c, csts == 0xffffffffu    ? "registers read all-ones: the function is gone"
	                : csts & NVME_CSTS_CFS ? "controller fatal status"
	                                       : "no completion in time");
	return BLKDEV_E_TIMEOUT;
}

static unsigned ns_inflight(struct blkdev *d, unsigned q)
{
	struct nvme_ctrl *c = ((struct nvme_ns *)d->priv)->ctrl;

	return q < c->nio ? c->io[q].inflight : 0;
}

const struct blkdev_ops nvme_blkdev_ops = {
    .submit = ns_submit,
    .poll = ns_poll,
    .wait = ns_wait,
    .inflight = ns_inflight,
};
