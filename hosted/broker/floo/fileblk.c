/*
 * A block driver over a file, for running the appliance loop
 * (user/kafka/floo/broker_appl.c) on Linux: the blkdev interface with
 * 512-byte blocks, requests carried out at submit (pread, pwrite,
 * fdatasync) and completed when the caller polls or waits, so the store
 * sees several in flight. "Physical" addresses are virtual ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileblk.h"

static int fb_do(struct fileblk *f, struct blkdev_req *r)
{
	uint32_t bs = f->dev.block_size, len = r->nblocks * bs, done = 0, off = r->offset;

	if (r->op == BLKDEV_FLUSH)
		return fdatasync(f->fd) ? BLKDEV_E_IO : BLKDEV_OK;
	if (r->op != BLKDEV_READ && r->op != BLKDEV_WRITE)
		return BLKDEV_E_UNSUPPORTED;
	for (uint32_t k = 0; done < len; k++) {
		uint8_t *page = (uint8_t *)(uintptr_t)r->pages[k] + off;
		size_t n = 4096 - off < len - done ? 4096 - off : len - done;
		off_t at = (off_t)(r->lba * bs + done);
		ssize_t got =
		    r->op == BLKDEV_READ ? pread(f->fd, page, n, at) : pwrite(f->fd, page, n, at);
		if (got < 0 && errno == EINTR) {
			k--;
			continue;
		}
		if (got != (ssize_t)n)
			return BLKDEV_E_IO;
		done += (uint32_t)n, off = 0;
	}
	return BLKDEV_OK;
}

static int fb_submit(struct blkdev *d, unsigned q, struct blkdev_req *r)
{
	struct fileblk *f = (struct fileblk *)d;
	int err = blkdev_check(d, r);

	(void)q;
	if (err)
		return err;
	if (f->nq == d->queue_depth)
		return BLKDEV_E_BUSY;
	r->status = fb_do(f, r);
	f->q[f->nq++] = r;
	return BLKDEV_OK;
}

static int fb_poll(struct blkdev *d, unsigned q, unsigned max)
{
	struct fileblk *f = (struct fileblk *)d;
	unsigned n = 0;

	(void)q;
	while (f->nq && n < max) {
		struct blkdev_req *r = f->q[0];
		memmove(f->q, f->q + 1, (f->nq - 1) * sizeof(struct blkdev_req *));
		f->nq--;
		if (r->done)
			r->done(r);
		n++;
	}
	return (int)n;
}

static int fb_wait(struct blkdev *d, unsigned q, uint64_t timeout_us)
{
	(void)timeout_us;
	return fb_poll(d, q, FILEBLK_QD);
}

static unsigned fb_inflight(struct blkdev *d, unsigned q)
{
	(void)q;
	return ((struct fileblk *)d)->nq;
}

static const struct blkdev_ops fb_ops = {fb_submit, fb_poll, fb_wait, fb_inflight};

int fileblk_open(struct fileblk *f, const char *path, uint64_t create_size)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (f->fd < 0 || fstat(f->fd, &st))
		return -1;
	if (st.st_size == 0 && ftruncate(f->fd, (off_t)create_size))
		return -1;
	if (fstat(f->fd, &st))
		return -1;
	f->dev = (struct blkdev){.ops = &fb_ops,
	                         .nblocks = (uint64_t)st.st_size / 512,
	                         .block_size = 512,
	                         .max_blocks = 256,
	                         .nqueues = 1,
	                         .queue_depth = FILEBLK_QD,
	                         .flags = BLKDEV_HAS_VOLATILE_CACHE};
	memcpy(f->dev.name, "file0", 6);
	return 0;
}
