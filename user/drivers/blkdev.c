/* Checks and names shared by every block driver (include/blkdev.h). */
#include "blkdev.h"

/*
 * Whether r can be queued on d as far as the interface goes: a known
 * operation, at least one block, no block past the end, a buffer that
 * starts 4-byte aligned inside its first page. The overflow-safe order
 * matters: lba + nblocks may wrap.
 */
int blkdev_check(const struct blkdev *d, const struct blkdev_req *r)
{
	if (r->op == BLKDEV_FLUSH)
		return BLKDEV_OK;
	if (r->op != BLKDEV_READ && r->op != BLKDEV_WRITE && r->op != BLKDEV_WRITE_ZEROES)
		return BLKDEV_E_INVAL;
	if (r->op == BLKDEV_WRITE_ZEROES && !(d->flags & BLKDEV_HAS_WRITE_ZEROES))
		return BLKDEV_E_UNSUPPORTED;
	if (r->nblocks == 0)
		return BLKDEV_E_INVAL;
	if (r->lba >= d->nblocks || r->nblocks > d->nblocks - r->lba)
		return BLKDEV_E_RANGE;
	if (r->nblocks > d->max_blocks)
		return BLKDEV_E_INVAL;
	if (r->op != BLKDEV_WRITE_ZEROES &&
	    (!r->pages || r->offset >= BLKDEV_PAGE || (r->offset & 3)))
		return BLKDEV_E_INVAL;
	return BLKDEV_OK;
}

const char *blkdev_strerror(int err)
{
	switch (err) {
	case BLKDEV_OK:
		return "ok";
	case BLKDEV_E_RANGE:
		return "beyond the end of the device";
	case BLKDEV_E_INVAL:
		return "invalid request (length, buffer or operation)";
	case BLKDEV_E_BUSY:
		return "queue full";
	case BLKDEV_E_IO:
		return "device reported an I/O error";
	case BLKDEV_E_DEVICE:
		return "device misbehaved; reset";
	case BLKDEV_E_TIMEOUT:
		return "device timed out";
	case BLKDEV_E_UNSUPPORTED:
		return "operation not supported by the device";
	case BLKDEV_E_NOMEM:
		return "out of DMA memory";
	case BLKDEV_E_ABORTED:
		return "aborted by a controller reset";
	default:
		return "unknown error";
	}
}
