/*
 * Split virtqueues (virtio 1.2 §2.7), driver side, without any platform
 * dependency: the rings live in memory the caller provides, and nothing
 * here touches a register, so tests/host/drivers drives it against a fake
 * device.
 *
 * Trust: the descriptor table and available ring are written only by the
 * driver, but they sit in DMA memory the device can write too. So the
 * driver keeps its own copy of every chain (head, length, writable bytes,
 * cookie) and never reads descriptors back. The used ring is the device's:
 * every index, id and length read from it is checked before use, and a
 * violation marks the queue broken (the caller resets the device).
 *
 *   desc  (16 * size bytes)   avail (4 + 2 * size)    used (4 + 8 * size)
 *   +------+------+----+      +-----+---+-------+     +-----+---+----------+
 *   | addr | len  |f|n |      |flags|idx|ring[] |     |flags|idx|{id,len}[]|
 *   +------+------+----+      +-----+---+-------+     +-----+---+----------+
 *    driver writes             driver writes           device writes
 */
#ifndef DRIVERS_VIRTQ_H
#define DRIVERS_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio_regs.h"

#define VIRTQ_MAX_SIZE 256 /* the descriptor table fills one 4 KiB page */

enum virtq_err {
	VIRTQ_OK = 0,
	VIRTQ_ERR_FULL = -1,    /* not enough free descriptors */
	VIRTQ_ERR_INVALID = -2, /* bad size, no segments, zero-length segment */
	VIRTQ_ERR_BROKEN = -3,  /* the device broke a rule (see virtq.fault) */
};

/* What the device did wrong, for the report (virtq.fault). */
enum virtq_fault {
	VIRTQ_FAULT_NONE = 0,
	VIRTQ_FAULT_IDX_JUMP, /* used.idx moved by more than the buffers in flight */
	VIRTQ_FAULT_BAD_ID,   /* id outside the table */
	VIRTQ_FAULT_NOT_HEAD, /* id not the head of a chain in flight (never posted, or returned
	                         twice) */
	VIRTQ_FAULT_BAD_LEN,  /* len larger than the chain's device-writable bytes */
};

struct virtq_seg {
	uint64_t paddr;
	uint32_t len;
	bool device_writes; /* the device writes this segment (receive) */
};

/* Driver-private state of one descriptor. */
struct virtq_slot {
	void *cookie;   /* the caller's, for a chain head in flight */
	uint32_t wlen;  /* head: device-writable bytes in the chain */
	uint16_t ndesc; /* head: descriptors in the chain (0: not a head in flight) */
	uint16_t next;  /* free list, or the next descriptor of the chain */
};

struct virtq {
	uint16_t size;  /* power of two, <= VIRTQ_MAX_SIZE */
	uint16_t index; /* the queue's number on the device */
	volatile struct virtq_desc *desc;
	volatile struct virtq_avail *avail;
	volatile struct virtq_used *used;
	uint64_t desc_pa, avail_pa, used_pa;
	uint16_t free_head, nfree;
	uint16_t avail_idx;  /* next avail.idx to publish */
	uint16_t last_used;  /* next used entry to consume */
	uint16_t inflight;   /* chains handed to the device, not yet returned */
	uint16_t pending;    /* added since the last publish */
	uint32_t notify_off; /* the transport's: where this queue is notified */
	enum virtq_fault fault;
	struct virtq_slot slot[VIRTQ_MAX_SIZE];
};

/* Bytes each part needs for a queue of size entries. */
size_t virtq_desc_bytes(uint16_t size);
size_t virtq_avail_bytes(uint16_t size);
size_t virtq_used_bytes(uint16_t size);

/* Set up an empty queue over zeroed ring memory; VIRTQ_ERR_INVALID for a bad size. */
int virtq_init(struct virtq *q, uint16_t index, uint16_t size, void *desc, uint64_t desc_pa,
               void *avail, uint64_t avail_pa, void *used, uint64_t used_pa)
    __attribute__((warn_unused_result));

/* Add one chain of n segments (driver-read first, then device-written); not visible to the device
 * before virtq_publish. */
int virtq_add(struct virtq *q, const struct virtq_seg *segs, unsigned n, void *cookie)
    __attribute__((warn_unused_result));

/*
 * Add one chain as a single descriptor naming an indirect table (§2.7.5.3,
 * VIRTIO_F_INDIRECT_DESC) at table_pa that holds ndesc descriptors, wlen
 * of whose bytes the device may write (the used length is checked against
 * it). The table is filled with virtq_indirect_fill and must stay the
 * caller's, unchanged, until the chain comes back.
 */
int virtq_add_indirect(struct virtq *q, uint64_t table_pa, unsigned ndesc, uint32_t wlen,
                       void *cookie) __attribute__((warn_unused_result));
/*
 * Add one device-writable buffer of len bytes at paddr as a chain of its
 * own (a receive buffer): what virtq_add does for one writable segment,
 * without the walk over segments.
 */
int virtq_add_writable(struct virtq *q, uint64_t paddr, uint32_t len, void *cookie)
    __attribute__((warn_unused_result));
/* Write segs as an indirect table (at most max entries); the device-writable bytes in *wlen. */
int virtq_indirect_fill(volatile struct virtq_desc *table, unsigned max,
                        const struct virtq_seg *segs, unsigned n, uint32_t *wlen)
    __attribute__((warn_unused_result));

/* The descriptor the next virtq_add will use as its chain's head (a key for per-chain driver data).
 */
static inline uint16_t virtq_next_head(const struct virtq *q)
{
	return q->free_head;
}

/* Make the chains added so far visible; true if the device asked to be notified. */
bool virtq_publish(struct virtq *q);

/*
 * Take the next used chain: 1 with *cookie and *len filled, 0 if none,
 * VIRTQ_ERR_BROKEN if the device wrote something invalid (the queue stays
 * broken until virtq_init).
 */
int virtq_get(struct virtq *q, void **cookie, uint32_t *len) __attribute__((warn_unused_result));

/* Used entries published by the device and not yet taken (0 if the index is invalid). */
uint16_t virtq_used_pending(const struct virtq *q);

/* Interrupt suppression (§2.7.7): off, or on with true if used entries are already pending. */
void virtq_irq_off(struct virtq *q);
bool virtq_irq_on(struct virtq *q);

/* After a device reset: hand back the cookies of every chain still in flight (at most max); returns
 * the count. */
unsigned virtq_drain(struct virtq *q, void **cookies, unsigned max);

const char *virtq_fault_str(enum virtq_fault f);

#endif
