/*
 * Host unit tests (ASan + UBSan) of the NVMe queue logic in
 * user/drivers/nvme_queue.c against a fake controller that consumes the
 * submission ring and writes completion entries as a device would, or as
 * a broken one would. Prints TAP: "ok - blk-unit.<case>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme.h"
#include "ktharness.h"

/* ---- the fake controller ---- */

struct fake {
	struct nvme_qpair qp;
	struct nvme_sqe sq[NVME_QDEPTH];
	struct nvme_cqe cq[NVME_QDEPTH];
	uint32_t sq_db, cq_db;
	uint16_t head; /* device's submission head */
	uint16_t cq_tail;
	uint8_t phase;
	uint16_t depth;
	struct nvme_sqe fetched[1024];
	unsigned nfetched;
};

static void fake_init(struct fake *f, uint16_t depth)
{
	memset(f, 0, sizeof(*f));
	f->depth = depth;
	f->phase = 1;
	nvme_qp_init(&f->qp, 1, depth, f->sq, 0x10000, f->cq, 0x20000, &f->sq_db, &f->cq_db);
}

/* Take every entry up to the tail doorbell, as the device does after a doorbell write. */
static void fake_fetch(struct fake *f)
{
	while (f->head != f->sq_db) {
		if (f->nfetched < 1024)
			f->fetched[f->nfetched++] = f->sq[f->head];
		f->head = (uint16_t)((f->head + 1) % f->depth);
	}
}

/* Post a completion entry; the raw fields let a test write nonsense. */
static void fake_post_raw(struct fake *f, uint16_t cid, uint16_t sqid, uint16_t sqhd, uint16_t sf,
                          uint8_t phase)
{
	struct nvme_cqe *e = &f->cq[f->cq_tail];

	e->dw0 = 0xc0de;
	e->sqhd = sqhd, e->sqid = sqid, e->cid = cid;
	e->status = (uint16_t)(sf << 1 | phase);
	if (++f->cq_tail == f->depth)
		f->cq_tail = 0, f->phase ^= 1;
}

static void fake_complete(struct fake *f, uint16_t cid, uint16_t sf)
{
	fake_post_raw(f, cid, 1, f->head, sf, f->phase);
}

/* ---- requests ---- */

struct treq {
	struct blkdev_req r;
	int completions;
};

static void treq_done(struct blkdev_req *r)
{
	((struct treq *)r->user)->completions++;
}

static uint16_t submit(struct fake *f, struct treq *t, uint8_t opcode)
{
	uint16_t cid = 0xffff;

	t->r.done = treq_done, t->r.user = t, t->r.status = 12345;
	CHECK_MSG(nvme_qp_get_cmd(&f->qp, &t->r, &cid) == 0);
	struct nvme_sqe e = {.opcode = opcode, .cid = cid, .nsid = 1};
	int err = nvme_qp_submit(&f->qp, &e);
	CHECK_MSG(err == 0, "submit: %d", err);
	return cid;
}

/* ---- cases ---- */

/* Many commands through a ring of 8: the tail doorbell follows the tail and wraps; every entry
 * arrives in order. */
KT_CASE(sq_tail_and_head_wrap)
{
	struct fake f;
	struct treq t[7];

	fake_init(&f, 8);
	for (unsigned round = 0; round < 40; round++) {
		unsigned n = 1 + round % 7;
		uint16_t cid[7];
		memset(t, 0, sizeof(t));
		for (unsigned i = 0; i < n; i++)
			cid[i] = submit(&f, &t[i], (uint8_t)i);
		CHECK_MSG(f.sq_db == f.qp.sq_tail, "doorbell %u tail %u", f.sq_db, f.qp.sq_tail);
		unsigned before = f.nfetched;
		fake_fetch(&f);
		CHECK_MSG(f.nfetched == before + n);
		for (unsigned i = 0; i < n; i++) {
			CHECK_MSG(f.fetched[before + i].cid == cid[i] &&
			          f.fetched[before + i].opcode == i);
			fake_complete(&f, cid[i], 0);
		}
		int got = nvme_qp_reap(&f.qp, 64);
		CHECK_MSG(got == (int)n, "round %u: reaped %d of %u", round, got, n);
		CHECK_MSG(f.qp.sq_head == f.head && f.qp.inflight == 0);
		for (unsigned i = 0; i < n; i++)
			CHECK_MSG(t[i].completions == 1 && t[i].r.status == 0,
			          "round %u req %u: %d completions, status %d", round, i,
			          t[i].completions, t[i].r.status);
	}
}

/* depth-1 commands at most; and a ring whose head the device has not moved is full even with free
 * ids. */
KT_CASE(full_queue_is_busy)
{
	struct fake f;
	struct treq t[8];
	uint16_t cid, c[7];

	fake_init(&f, 8);
	for (unsigned i = 0; i < 7; i++)
		c[i] = submit(&f, &t[i], 1);
	CHECK_MSG(nvme_qp_get_cmd(&f.qp, &t[7].r, &cid) == BLKDEV_E_BUSY);
	/* The device completes all 7 but reports the head where it was: nothing consumed yet. */
	for (unsigned i = 0; i < 7; i++)
		fake_post_raw(&f, c[i], 1, 0, 0, 1);
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 7);
	CHECK_MSG(nvme_qp_get_cmd(&f.qp, &t[7].r, &cid) == 0);
	struct nvme_sqe e = {.cid = cid};
	CHECK_MSG(nvme_qp_submit(&f.qp, &e) == BLKDEV_E_BUSY);
	nvme_qp_put_cmd(&f.qp, cid);
	CHECK_MSG(f.qp.inflight == 0);
}

/* Three passes round the completion ring: the phase flips at each wrap and the head doorbell
 * follows. */
KT_CASE(cq_phase_across_wrap)
{
	struct fake f;
	struct treq t;

	fake_init(&f, 4);
	for (unsigned i = 0; i < 12; i++) {
		memset(&t, 0, sizeof(t));
		uint16_t cid = submit(&f, &t, 2);
		fake_fetch(&f);
		CHECK_MSG(nvme_qp_reap(&f.qp, 64) ==
		          0); /* nothing posted yet: old entries are not new */
		fake_complete(&f, cid, 0);
		CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 1 && t.completions == 1, "completion %u", i);
		CHECK_MSG(f.cq_db == f.qp.cq_head && f.qp.cq_head == (i + 1) % 4);
		CHECK_MSG(f.qp.phase == (uint8_t)(1 ^ ((i + 1) / 4 % 2)), "phase %u after %u",
		          f.qp.phase, i + 1);
	}
}

/* Completions out of order reach the request whose id they carry, with its status. */
KT_CASE(cid_matching_out_of_order)
{
	struct fake f;
	struct treq t[5];
	uint16_t c[5];

	fake_init(&f, 16);
	memset(t, 0, sizeof(t));
	for (unsigned i = 0; i < 5; i++)
		c[i] = submit(&f, &t[i], 2);
	fake_fetch(&f);
	fake_complete(&f, c[3], 0);
	fake_complete(&f, c[0], NVME_SC_LBA_RANGE);
	fake_complete(&f, c[4], 0x81);          /* generic: capacity exceeded */
	CHECK_MSG(nvme_qp_reap(&f.qp, 2) == 2); /* max is honoured */
	CHECK_MSG(t[3].completions == 1 && t[3].r.status == BLKDEV_OK);
	CHECK_MSG(t[0].completions == 1 && t[0].r.status == BLKDEV_E_RANGE);
	CHECK_MSG(t[4].completions == 0);
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 1 && t[4].r.status == BLKDEV_E_IO);
	CHECK_MSG(t[1].completions == 0 && t[2].completions == 0 && f.qp.inflight == 2);
	fake_complete(&f, c[2], 1u << 8 | 0x02); /* command specific type */
	fake_complete(&f, c[1], 0);
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 2 && t[2].r.status == BLKDEV_E_IO &&
	          t[1].r.status == BLKDEV_OK);
	CHECK_MSG(f.qp.inflight == 0 && f.qp.nfree == 15);
}

/* Run one bad completion after one good request in flight: the pair breaks, nothing completes
 * wrongly. */
static void expect_rejected(struct fake *f, struct treq *t, const char *what)
{
	CHECK_MSG(nvme_qp_reap(&f->qp, 64) == BLKDEV_E_DEVICE, "%s accepted", what);
	CHECK_MSG(f->qp.fault != 0, "%s: no fault recorded", what);
	CHECK_MSG(t->completions == 0, "%s completed a request", what);
	CHECK_MSG(nvme_qp_reap(&f->qp, 64) == BLKDEV_E_DEVICE, "%s: broken pair reaped again",
	          what);
	nvme_qp_fail_all(&f->qp, BLKDEV_E_ABORTED);
	CHECK_MSG(t->completions == 1 && t->r.status == BLKDEV_E_ABORTED && f->qp.inflight == 0);
}

KT_CASE(unknown_command_id_is_rejected)
{
	struct fake f;
	struct treq t = {0};
	fake_init(&f, 8);
	uint16_t cid = submit(&f, &t, 2);
	fake_fetch(&f);
	fake_complete(&f, (uint16_t)((cid + 1) & 0xff) | (cid & 0xff00),
	              0); /* an index never handed out */
	expect_rejected(&f, &t, "unknown id");
	fake_init(&f, 8);
	memset(&t, 0, sizeof(t));
	submit(&f, &t, 2);
	fake_fetch(&f);
	fake_complete(&f, 200, 0); /* beyond the ids the ring has */
	expect_rejected(&f, &t, "id beyond the ring");
}

KT_CASE(duplicate_command_id_is_rejected)
{
	struct fake f;
	struct treq a = {0}, b = {0};
	fake_init(&f, 8);
	uint16_t ca = submit(&f, &a, 2);
	submit(&f, &b, 2);
	fake_fetch(&f);
	fake_complete(&f, ca, 0);
	fake_complete(&f, ca, 0);
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == BLKDEV_E_DEVICE);
	CHECK_MSG(a.completions == 1 && b.completions == 0, "a %d b %d", a.completions,
	          b.completions);
	nvme_qp_fail_all(&f.qp, BLKDEV_E_ABORTED);
	CHECK_MSG(a.completions == 1 && b.completions == 1 && b.r.status == BLKDEV_E_ABORTED);
}

/* An id whose slot was reused: the old generation's completion must not complete the new request.
 */
KT_CASE(stale_command_id_is_rejected)
{
	struct fake f;
	struct treq a = {0}, b = {0};
	fake_init(&f, 8);
	uint16_t ca = submit(&f, &a, 2);
	fake_fetch(&f);
	fake_complete(&f, ca, 0);
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 1);
	uint16_t cb = submit(&f, &b, 2);
	CHECK_MSG((cb & 0xff) == (ca & 0xff) && cb != ca,
	          "slot reused with a new generation: %#x %#x", ca, cb);
	fake_fetch(&f);
	fake_complete(&f, ca, 0);
	expect_rejected(&f, &b, "stale id");
}

KT_CASE(sq_head_beyond_the_queue_is_rejected)
{
	struct fake f;
	struct treq t = {0};
	fake_init(&f, 8);
	uint16_t cid = submit(&f, &t, 2);
	fake_fetch(&f);
	fake_post_raw(&f, cid, 1, 8, 0, 1);
	expect_rejected(&f, &t, "head == depth");
	fake_init(&f, 8);
	memset(&t, 0, sizeof(t));
	cid = submit(&f, &t, 2);
	fake_fetch(&f);
	fake_post_raw(&f, cid, 1, 0xffff, 0, 1);
	expect_rejected(&f, &t, "head 0xffff");
}

/* A head inside the ring but past the tail would free entries the device has not read. */
KT_CASE(sq_head_past_the_tail_is_rejected)
{
	struct fake f;
	struct treq t = {0};
	fake_init(&f, 8);
	uint16_t cid = submit(&f, &t, 2); /* tail 1 */
	fake_fetch(&f);
	fake_post_raw(&f, cid, 1, 5, 0, 1);
	expect_rejected(&f, &t, "head 5 with tail 1");
}

KT_CASE(completion_for_another_queue_is_rejected)
{
	struct fake f;
	struct treq t = {0};
	fake_init(&f, 8);
	uint16_t cid = submit(&f, &t, 2);
	fake_fetch(&f);
	fake_post_raw(&f, cid, 2, f.head, 0, 1);
	expect_rejected(&f, &t, "sqid 2 on queue 1");
}

/* After a wrap, an entry written with the old phase is not new: it completes nothing (the wait
 * times out). */
KT_CASE(completion_without_a_phase_flip_is_not_taken)
{
	struct fake f;
	struct treq t = {0};

	fake_init(&f, 4);
	for (unsigned i = 0; i < 4; i++) { /* one pass: the next entries carry phase 0 */
		memset(&t, 0, sizeof(t));
		uint16_t cid = submit(&f, &t, 2);
		fake_fetch(&f);
		fake_complete(&f, cid, 0);
		CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 1);
	}
	memset(&t, 0, sizeof(t));
	uint16_t cid = submit(&f, &t, 2);
	fake_fetch(&f);
	fake_post_raw(&f, cid, 1, f.head, 0, 1); /* phase 1 again: the device did not flip */
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 0 && t.completions == 0 && f.qp.inflight == 1);
	CHECK_MSG(f.qp.fault == 0);
	nvme_qp_fail_all(&f.qp, BLKDEV_E_TIMEOUT);
	CHECK_MSG(t.completions == 1 && t.r.status == BLKDEV_E_TIMEOUT);
}

/* A reset empties both rings and every id; the pair then works from entry 0 with phase 1. */
KT_CASE(clear_after_reset_starts_over)
{
	struct fake f;
	struct treq t = {0};

	fake_init(&f, 8);
	submit(&f, &t, 2);
	fake_fetch(&f);
	fake_post_raw(&f, 0x77, 1, f.head, 0, 1);
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == BLKDEV_E_DEVICE);
	nvme_qp_fail_all(&f.qp, BLKDEV_E_ABORTED);
	nvme_qp_clear(&f.qp);
	uint16_t qd = f.depth;
	memset(f.cq, 0, sizeof(f.cq));
	f.head = 0, f.cq_tail = 0, f.phase = 1, f.sq_db = 0, f.depth = qd;
	memset(&t, 0, sizeof(t));
	uint16_t cid = submit(&f, &t, 2);
	fake_fetch(&f);
	fake_complete(&f, cid, 0);
	CHECK_MSG(nvme_qp_reap(&f.qp, 64) == 1 && t.completions == 1 && t.r.status == 0);
	CHECK_MSG(f.qp.nfree == 7 && f.qp.fault == 0);
}

int main(int argc, char **argv)
{
	kt_group = "blk-unit";
	return kt_main(NULL, 0, argc, argv);
}
