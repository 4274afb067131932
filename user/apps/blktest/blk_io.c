/* blktest's request engine: slots of DMA pages, the pattern, runs of requests with many in flight.
 */
#include <lib/string.h>

#include "blk_pattern.h"
#include "blktest.h"

/* ---- requests ---- */

void bt_req_done(struct blkdev_req *r)
{
	((struct slot *)r->user)->done = true;
}

bool bt_alloc_slots(void)
{
	for (unsigned i = 0; i < QD; i++) {
		struct slot *s = &bt.slot[i];
		for (unsigned p = 0; p <= SLOT_PAGES; p++) {
			uint8_t *va = bt_dma_page(0, &s->pages[p]);
			if (!va)
				return false;
			if (p == 0)
				s->va = va;
		}
		s->req.pages = s->pages, s->req.done = bt_req_done, s->req.user = s;
	}
	return true;
}

void bt_fill(struct slot *s, uint32_t bs, uint64_t seed)
{
	uint64_t *w = (uint64_t *)(s->va + s->req.offset);

	for (uint32_t b = 0; b < s->req.nblocks; b++)
		for (uint32_t i = 0; i < bs / 8; i++)
			*w++ = blk_pattern(seed, s->req.lba + b, i);
}

/* Blocks of the slot's buffer that differ from the pattern (or from zeros); the first bad block in
 * *bad. */
uint32_t bt_compare(const struct slot *s, uint32_t bs, bool zeros, uint64_t *bad)
{
	const uint64_t *w = (const uint64_t *)(s->va + s->req.offset);
	uint32_t wrong = 0;

	for (uint32_t b = 0; b < s->req.nblocks; b++) {
		bool ok = true;
		for (uint32_t i = 0; i < bs / 8; i++, w++)
			ok &= *w == (zeros ? 0 : blk_pattern(bt.seed, s->req.lba + b, i));
		if (!ok && !wrong++)
			*bad = s->req.lba + b;
	}
	return wrong;
}

/* Next request of the run into s, or false when the run has no more to do. */
static bool next_request(struct run *r, struct slot *s)
{
	struct blkdev *d = r->d;
	uint32_t bs = d->block_size, cap = (SLOT_PAGES * 4096 - 4096) / bs;
	uint32_t maxn = r->maxn < cap ? r->maxn : cap;
	uint32_t n = 1 + (uint32_t)(bt_rnd(&r->rng) % maxn);

	if (r->random) {
		r->random--;
		if (n > d->nblocks)
			n = (uint32_t)d->nblocks;
		s->req.lba = bt_rnd(&r->rng) % (d->nblocks - n + 1);
	} else {
		if (r->next >= r->end)
			return false;
		if (n > r->end - r->next)
			n = (uint32_t)(r->end - r->next);
		s->req.lba = r->next;
		r->next += n;
	}
	s->req.op = r->op, s->req.nblocks = n;
	s->req.offset =
	    (uint32_t)(bt_rnd(&r->rng) % (4096 / bs)) * bs; /* buffers starting mid-page too */
	if (r->op == BLKDEV_WRITE)
		bt_fill(s, bs, bt.seed);
	return true;
}

/* Complete the slot's request: a read is compared with the pattern. */
static void finish(struct run *r, struct slot *s)
{
	s->busy = s->done = false;
	if (s->req.status) {
		if (!r->err)
			r->err = s->req.status;
		return;
	}
	r->reqs++;
	r->bytes += (uint64_t)s->req.nblocks * r->d->block_size;
	if (r->op == BLKDEV_READ)
		r->mismatched += bt_compare(s, r->d->block_size, false, &r->first_bad);
}

/* Run r with up to depth requests in flight, spread over every queue. */
int bt_run_io(struct run *r, unsigned depth)
{
	struct blkdev *d = r->d;
	struct slot *slots = r->slots ? r->slots : bt.slot;
	bool more = true;

	if (!r->rng)
		r->rng = bt.seed * 2654435761u + 88172645463325252ull + r->next;
	for (;;) {
		unsigned busy = 0;
		for (unsigned i = 0; i < depth; i++) {
			struct slot *s = &slots[i];
			if (s->done)
				finish(r, s);
			if (!s->busy && more && !r->err && (more = next_request(r, s))) {
				unsigned q = r->queue >= 0 ? (unsigned)r->queue
				                           : i % (d->nqueues ? d->nqueues : 1u);
				int err = blkdev_submit(d, q, &s->req);
				if (err)
					return err;
				s->busy = true;
			}
			busy += s->busy;
		}
		if (!busy)
			return r->err;
		for (unsigned q = 0; q < d->nqueues; q++)
			if ((r->queue < 0 || (unsigned)r->queue == q) && d->ops->inflight(d, q)) {
				int n = blkdev_wait(d, q, WAIT_US);
				if (n < 0)
					return n;
			}
	}
}

/* One request on slot s with its buffer in pages, waited for; its status (or the submit error). */
int bt_one_on(struct blkdev *d, struct slot *s, const uint64_t *pages, uint8_t op, uint64_t lba,
              uint32_t n, uint32_t offset)
{
	int err;

	s->req = (struct blkdev_req){.op = op,
	                             .lba = lba,
	                             .nblocks = n,
	                             .pages = pages,
	                             .offset = offset,
	                             .done = bt_req_done,
	                             .user = s};
	s->done = false;
	if ((err = blkdev_submit(d, 0, &s->req)))
		return err;
	while (!s->done)
		if ((err = blkdev_wait(d, 0, WAIT_US)) < 0)
			return err;
	s->done = false;
	return s->req.status;
}

int bt_one(struct blkdev *d, uint8_t op, uint64_t lba, uint32_t n, uint32_t offset)
{
	return bt_one_on(d, &bt.slot[0], bt.slot[0].pages, op, lba, n, offset);
}
