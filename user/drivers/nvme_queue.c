/*
 * NVMe queue pairs: filling the submission ring, reaping the completion
 * ring, command identifiers and PRP lists (NVMe 1.4, 4.1-4.6). Nothing
 * here touches a controller register but the two doorbells, so host tests
 * drive it against a fake controller.
 *
 *   submission ring (depth entries)        completion ring (depth entries)
 *   +----+----+----+----+----+             +----+----+----+----+----+
 *   |    |cmd |cmd |    |    |             |old |new |new |old |old |
 *   +----+----+----+----+----+             +----+----+----+----+----+
 *        ^sq_head   ^sq_tail                    ^cq_head       phase bit tells new from old
 *
 * At most depth-1 commands are in flight, so the completion ring (as deep
 * as the submission ring) never overflows.
 */
#include "nvme.h"

void nvme_qp_init(struct nvme_qpair *qp, uint16_t qid, uint16_t depth, void *sq, uint64_t sq_pa,
                  void *cq, uint64_t cq_pa, volatile uint32_t *sq_db, volatile uint32_t *cq_db)
{
	qp->qid = qid;
	qp->depth = depth <= NVME_QDEPTH ? depth : NVME_QDEPTH;
	qp->sq = sq, qp->sq_pa = sq_pa;
	qp->cq = cq, qp->cq_pa = cq_pa;
	qp->sq_db = sq_db, qp->cq_db = cq_db;
	for (unsigned i = 0; i < NVME_MAX_CMDS; i++)
		qp->cmd[i].gen = 0;
	nvme_qp_clear(qp);
}

/* Empty both rings and every command id (after a controller reset; nothing may be in flight). */
void nvme_qp_clear(struct nvme_qpair *qp)
{
	for (unsigned i = 0; i < qp->depth; i++) {
		qp->cq[i] = (struct nvme_cqe){0};
		qp->sq[i] = (struct nvme_sqe){0};
	}
	qp->sq_tail = qp->sq_head = qp->cq_head = 0;
	qp->phase = 1;
	qp->inflight = 0;
	qp->nfree = 0;
	for (unsigned i = qp->depth - 1; i-- > 0;) {
		qp->cmd[i].busy = qp->cmd[i].done = 0;
		qp->cmd[i].req = 0;
		qp->free[qp->nfree++] = (uint8_t)i;
	}
	qp->fault = 0;
}

/* A free command id for req (NULL: the driver's own command); BLKDEV_E_BUSY when all are in use. */
int nvme_qp_get_cmd(struct nvme_qpair *qp, struct blkdev_req *req, uint16_t *cid)
{
	if (qp->nfree == 0)
		return BLKDEV_E_BUSY;
	uint8_t i = qp->free[--qp->nfree];
	struct nvme_cmd *c = &qp->cmd[i];
	c->busy = 1, c->done = 0, c->req = req;
	c->gen++;
	c->status = 0, c->dw0 = 0;
	*cid = (uint16_t)(i | c->gen << 8);
	qp->inflight++;
	return BLKDEV_OK;
}

/* Return cid (valid and busy: the caller got it from nvme_qp_get_cmd) to the free list. */
void nvme_qp_put_cmd(struct nvme_qpair *qp, uint16_t cid)
{
	struct nvme_cmd *c = &qp->cmd[cid & 0xff];

	c->busy = 0, c->req = 0;
	qp->free[qp->nfree++] = (uint8_t)(cid & 0xff);
	qp->inflight--;
}

/* Copy e into the next submission entry and ring the tail doorbell; BLKDEV_E_BUSY when the ring is
 * full. */
int nvme_qp_submit(struct nvme_qpair *qp, const struct nvme_sqe *e)
{
	uint16_t next = (uint16_t)((qp->sq_tail + 1) % qp->depth);

	if (next == qp->sq_head)
		return BLKDEV_E_BUSY;
	qp->sq[qp->sq_tail] = *e;
	/* The entry must be in memory before the device sees the new tail (x86 keeps stores in
	 * order). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	qp->sq_tail = next;
	*qp->sq_db = next;
	return BLKDEV_OK;
}

/* Map a completion's status field (4.6.1, phase bit included) to an interface result. */
int nvme_status_to_err(uint16_t status)
{
	uint16_t sct = NVME_CQE_SCT(status), sc = NVME_CQE_SC(status);

	if (sct == NVME_SCT_GENERIC && sc == NVME_SC_SUCCESS)
		return BLKDEV_OK;
	if (sct == NVME_SCT_GENERIC && sc == NVME_SC_LBA_RANGE)
		return BLKDEV_E_RANGE;
	return BLKDEV_E_IO;
}

/* Steps from a to b going forward round a ring of n entries. */
static unsigned ring_dist(unsigned a, unsigned b, unsigned n)
{
	return (b + n - a) % n;
}

/*
 * Check one completion entry against the driver's state: the queue id,
 * a head pointer inside the ring that moved only over submitted entries,
 * and a command id that is in flight now (not free, not already done,
 * of the current generation). Returns NULL or what is wrong.
 */
static const char *cqe_invalid(const struct nvme_qpair *qp, const struct nvme_cqe *e)
{
	unsigned i = e->cid & 0xff;

	if (e->sqid != qp->qid)
		return "completion names another submission queue";
	if (e->sqhd >= qp->depth)
		return "submission queue head beyond the queue";
	if (ring_dist(qp->sq_head, e->sqhd, qp->depth) >
	    ring_dist(qp->sq_head, qp->sq_tail, qp->depth))
		return "submission queue head past the tail";
	if (i >= (unsigned)qp->depth - 1 || !qp->cmd[i].busy)
		return "unknown command id";
	if (qp->cmd[i].done || qp->cmd[i].gen != e->cid >> 8)
		return "duplicate or stale command id";
	return 0;
}

/* Record one validated completion: an I/O request completes (its id is freed first); an own command
 * is marked done. */
static void complete(struct nvme_qpair *qp, const struct nvme_cqe *e)
{
	struct nvme_cmd *c = &qp->cmd[e->cid & 0xff];
	struct blkdev_req *r = c->req;

	c->status = e->status & 0xfffe;
	c->dw0 = e->dw0;
	c->done = 1;
	if (!r)
		return;
	nvme_qp_put_cmd(qp, e->cid);
	r->status = nvme_status_to_err(e->status);
	if (r->done)
		r->done(r);
}

/*
 * Take up to max new completion entries (those whose phase tag matches),
 * validating each before use, then ring the head doorbell. Returns how
 * many completed, or BLKDEV_E_DEVICE if the device wrote nonsense: the
 * pair is then broken (qp->fault says why) and takes nothing more until
 * the controller is reset; the bad entry completes nothing.
 */
int nvme_qp_reap(struct nvme_qpair *qp, unsigned max)
{
	int n = 0;

	if (qp->fault)
		return BLKDEV_E_DEVICE;
	while ((unsigned)n < max) {
		volatile struct nvme_cqe *v = &qp->cq[qp->cq_head];
		if (NVME_CQE_PHASE(v->status) != qp->phase)
			break;
		/* Read the rest of the entry only after its phase tag. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		struct nvme_cqe e = {v->dw0, v->dw1, v->sqhd, v->sqid, v->cid, v->status};
		const char *bad = cqe_invalid(qp, &e);
		if (bad) {
			qp->fault = bad;
			break;
		}
		qp->sq_head = e.sqhd;
		if (++qp->cq_head == qp->depth)
			qp->cq_head = 0, qp->phase ^= 1;
		complete(qp, &e);
		n++;
	}
	if (n)
		*qp->cq_db = qp->cq_head;
	return qp->fault ? BLKDEV_E_DEVICE : n;
}

/* Fail every command in flight with status (after a reset); own commands are marked done with an
 * error. */
void nvme_qp_fail_all(struct nvme_qpair *qp, int status)
{
	for (unsigned i = 0; i + 1 < qp->depth; i++) {
		struct nvme_cmd *c = &qp->cmd[i];
		if (!c->busy || c->done)
			continue;
		c->status = 0xfffe; /* not a success, whatever the reader decodes */
		c->done = 1;
		struct blkdev_req *r = c->req;
		if (!r)
			continue;
		nvme_qp_put_cmd(qp, (uint16_t)(i | c->gen << 8));
		r->status = status;
		if (r->done)
			r->done(r);
	}
}

/*
 * PRPs for len bytes starting at offset in pages[0] (4.3): PRP1 is the
 * first byte; a transfer that ends in the second page puts that page in
 * PRP2; a longer one puts in PRP2 the address of a list of the remaining
 * pages, whose last entry chains to the next list page when more follow.
 * Returns BLKDEV_E_INVAL for a zero length, a misaligned offset, a page
 * address that is not page-aligned, or more pages than list_pages can hold.
 */
int nvme_prp_build(const uint64_t *pages, uint32_t offset, uint32_t len, uint64_t *const *list,
                   const uint64_t *list_pa, unsigned list_pages, uint64_t *prp1, uint64_t *prp2)
{
	if (len == 0 || offset >= NVME_PAGE || (offset & 3))
		return BLKDEV_E_INVAL;
	uint64_t npages = ((uint64_t)offset + len + NVME_PAGE - 1) / NVME_PAGE;
	if (npages > (uint64_t)list_pages * (NVME_PRPS_PER_PAGE - 1) + 1)
		return BLKDEV_E_INVAL;
	for (uint64_t p = 0; p < npages;
	     p++) /* 4.3: every entry but the first names a whole page */
		if (pages[p] & (NVME_PAGE - 1))
			return BLKDEV_E_INVAL;
	*prp1 = pages[0] + offset;
	*prp2 = 0;
	if (npages == 2)
		*prp2 = pages[1];
	if (npages <= 2)
		return BLKDEV_OK;
	*prp2 = list_pa[0];
	unsigned lp = 0, slot = 0;
	for (uint64_t p = 1; p < npages; p++) {
		if (slot == NVME_PRPS_PER_PAGE - 1 && p + 1 < npages) {
			list[lp][slot] = list_pa[lp + 1];
			lp++, slot = 0;
		}
		list[lp][slot++] = pages[p];
	}
	return BLKDEV_OK;
}
