/*
 * libFuzzer target: Identify data (controller, active namespace list,
 * namespace) is bytes the device writes. The input fills the three pages
 * the fake controller (tests/host/drivers/nvme_fake.c) returns; the driver
 * starts on them, and when it accepts them, every namespace it made must
 * be usable: a read and a write through it, then a shutdown.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nvme_fake.h"

static uint8_t pages[3][4096];

static void done(struct blkdev_req *r)
{
	++*(int *)r->user;
}

/* One request on queue 0, waited for; aborts on an impossible outcome. */
static void one(struct blkdev *d, uint8_t op, uint64_t lba, const uint64_t *buf)
{
	int completions = 0;
	struct blkdev_req r = {
	    .op = op, .lba = lba, .nblocks = 1, .pages = buf, .done = done, .user = &completions};

	if (blkdev_submit(d, 0, &r) != BLKDEV_OK)
		abort(); /* one block inside the namespace is always a valid request */
	while (!completions)
		if (blkdev_wait(d, 0, 1000000) < 0)
			break;
	if (completions > 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	memset(pages, 0, sizeof(pages));
	memcpy(pages, data, size < sizeof(pages) ? size : sizeof(pages));
	struct nvme_ctrl *c = nf_new(2);
	for (int i = 0; i < 3; i++)
		nf->identify[i] = pages[i];
	if (nvme_start(c, nf->regs, sizeof(nf->regs), &nf_env, 2, BLKDEV_POLLED) == BLKDEV_OK) {
		if (c->nns > NVME_MAX_NS || c->nio < 1 || c->nio > 2 || c->max_xfer < 4096)
			abort();
		uint64_t buf[2];
		void *va = nf_env.dma_page(0, &buf[0]);
		nf_env.dma_page(0, &buf[1]);
		for (unsigned i = 0; i < c->nns; i++) {
			struct blkdev *d = &c->ns[i].dev;
			if (d->block_size < 512 || d->block_size > 4096 || !d->nblocks ||
			    !d->max_blocks || strlen(d->name) >= sizeof(d->name) ||
			    strlen(c->model) > 40 || strlen(c->serial) > 20)
				abort();
			memset(va, 0x3c, 4096);
			one(d, BLKDEV_WRITE, d->nblocks - 1, buf);
			one(d, BLKDEV_READ, 0, buf);
		}
		nvme_stop(c);
	}
	nf_free(c);
	return 0;
}
