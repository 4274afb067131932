/*
 * libFuzzer target: completion entries written by a device are outside
 * bytes. The input is a script: each round submits some commands, then
 * the device writes arbitrary 16-byte entries (any id, head, queue id,
 * phase, status) into the completion ring, and the driver reaps. The
 * invariants: no memory error, every request completes at most once and
 * only while in flight, ids in flight plus free ids always equal the
 * ring's, a broken pair stays broken until cleared.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nvme.h"

#define DEPTH 8

static struct nvme_sqe sq[DEPTH];
static struct nvme_cqe cq[DEPTH];
static uint32_t sq_db, cq_db;

struct freq {
	struct blkdev_req r;
	int completions;
	bool submitted;
};

static void done(struct blkdev_req *r)
{
	struct freq *f = r->user;

	if (!f->submitted || f->completions)
		abort(); /* completed twice, or never submitted */
	f->completions++;
	f->submitted = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nvme_qpair qp;
	struct freq req[64];
	unsigned nreq = 0;
	size_t pos = 0;

	memset(sq, 0, sizeof(sq));
	memset(cq, 0, sizeof(cq));
	memset(req, 0, sizeof(req));
	nvme_qp_init(&qp, 1, DEPTH, sq, 0x1000, cq, 0x2000, &sq_db, &cq_db);
	while (pos + 2 <= size) {
		unsigned nsub = data[pos] & 7, nwrite = data[pos] >> 5,
		         slot = data[pos + 1] % DEPTH;
		pos += 2;
		for (unsigned i = 0; i < nsub && nreq < 64; i++) {
			struct freq *f = &req[nreq];
			uint16_t cid;
			f->r.done = done, f->r.user = f;
			if (nvme_qp_get_cmd(&qp, &f->r, &cid))
				break;
			struct nvme_sqe e = {.cid = cid};
			if (nvme_qp_submit(&qp, &e)) {
				nvme_qp_put_cmd(&qp, cid);
				break;
			}
			f->submitted = true;
			nreq++;
		}
		for (unsigned i = 0; i < nwrite && pos + 16 <= size; i++, pos += 16)
			memcpy(&cq[(slot + i) % DEPTH], data + pos,
			       16); /* whatever the device writes, wherever */
		int n = nvme_qp_reap(&qp, DEPTH);
		if (n < 0 && !qp.fault)
			abort();
		if (qp.inflight + qp.nfree != DEPTH - 1)
			abort();
		if (qp.fault) {
			if (nvme_qp_reap(&qp, DEPTH) != BLKDEV_E_DEVICE)
				abort();
			nvme_qp_fail_all(&qp, BLKDEV_E_ABORTED);
			if (qp.inflight != 0)
				abort();
			nvme_qp_clear(&qp);
		}
	}
	return 0;
}
