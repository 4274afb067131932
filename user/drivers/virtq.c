/*
 * Split virtqueues, driver side (virtio 1.2 §2.7). See virtq.h for the
 * trust rules: descriptors are written from private state and never read
 * back; what the device writes in the used ring is checked before use.
 */
#include "virtq.h"

/* Ordering with the device (x86: compiler barriers plus a full fence where a store must precede a
 * load). */
#define virtq_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define virtq_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define virtq_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)

size_t virtq_desc_bytes(uint16_t size)
{
	return 16u * size;
}

size_t virtq_avail_bytes(uint16_t size)
{
	return 6u + 2u * size; /* flags, idx, ring[size], used_event */
}

size_t virtq_used_bytes(uint16_t size)
{
	return 6u + 8u * size; /* flags, idx, ring[size], avail_event */
}

int virtq_init(struct virtq *q, uint16_t index, uint16_t size, void *desc, uint64_t desc_pa,
               void *avail, uint64_t avail_pa, void *used, uint64_t used_pa)
{
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)) || !desc || !avail || !used)
		return VIRTQ_ERR_INVALID;
	q->size = size, q->index = index;
	q->desc = desc, q->avail = avail, q->used = used;
	q->desc_pa = desc_pa, q->avail_pa = avail_pa, q->used_pa = used_pa;
	q->avail_idx = 0, q->last_used = 0, q->inflight = 0, q->pending = 0;
	q->fault = VIRTQ_FAULT_NONE;
	q->avail->flags = 0, q->avail->idx = 0;
	q->used->flags = 0, q->used->idx = 0;
	for (uint16_t i = 0; i < size; i++)
		q->slot[i] = (struct virtq_slot){.next = (uint16_t)(i + 1)};
	q->free_head = 0, q->nfree = size;
	return VIRTQ_OK;
}

int virtq_add(struct virtq *q, const struct virtq_seg *segs, unsigned n, void *cookie)
{
	uint32_t wlen = 0;

	if (q->fault)
		return VIRTQ_ERR_BROKEN;
	if (n == 0)
		return VIRTQ_ERR_INVALID;
	for (unsigned i = 0; i < n; i++) {
		if (segs[i].len == 0 ||
		    (i > 0 && segs[i - 1].device_writes && !segs[i].device_writes))
			return VIRTQ_ERR_INVALID; /* §2.7.4.2: readable descriptors before writable
			                             ones */
		wlen += segs[i].device_writes ? segs[i].len : 0;
	}
	if (n > q->nfree)
		return VIRTQ_ERR_FULL;
	/* Nothing can fail from here. */
	uint16_t head = q->free_head, d = head;
	for (unsigned i = 0; i < n; i++) {
		uint16_t next = q->slot[d].next;
		q->desc[d].addr = segs[i].paddr;
		q->desc[d].len = segs[i].len;
		q->desc[d].flags = (uint16_t)((segs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
		                              (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		q->desc[d].next = i + 1 < n ? next : 0;
		if (i + 1 < n)
			d = next;
		else
			q->free_head = next;
	}
	q->nfree = (uint16_t)(q->nfree - n);
	q->slot[head].cookie = cookie;
	q->slot[head].wlen = wlen;
	q->slot[head].ndesc = (uint16_t)n;
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	q->pending++;
	q->inflight++;
	return VIRTQ_OK;
}

int virtq_indirect_fill(volatile struct virtq_desc *table, unsigned max,
                        const struct virtq_seg *segs, unsigned n, uint32_t *wlen)
{
	uint32_t w = 0;

	if (n == 0 || n > max)
		return VIRTQ_ERR_INVALID;
	for (unsigned i = 0; i < n; i++) {
		if (segs[i].len == 0 ||
		    (i > 0 && segs[i - 1].device_writes && !segs[i].device_writes))
			return VIRTQ_ERR_INVALID;
		w += segs[i].device_writes ? segs[i].len : 0;
	}
	for (unsigned i = 0; i < n; i++) {
		table[i].addr = segs[i].paddr;
		table[i].len = segs[i].len;
		table[i].flags = (uint16_t)((segs[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
		                            (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		table[i].next = i + 1 < n ? (uint16_t)(i + 1) : 0;
	}
	*wlen = w;
	return VIRTQ_OK;
}

/* A chain of one descriptor (checked by the caller): onto the available ring, unpublished. */
static int virtq_add_one(struct virtq *q, uint64_t addr, uint32_t len, uint16_t flags,
                         uint32_t wlen, void *cookie)
{
	if (q->nfree == 0)
		return VIRTQ_ERR_FULL;
	uint16_t head = q->free_head;
	q->free_head = q->slot[head].next;
	q->desc[head].addr = addr;
	q->desc[head].len = len;
	q->desc[head].flags = flags;
	q->desc[head].next = 0;
	q->nfree--;
	q->slot[head].cookie = cookie;
	q->slot[head].wlen = wlen;
	q->slot[head].ndesc = 1;
	q->avail->ring[q->avail_idx & (q->size - 1)] = head;
	q->avail_idx++;
	q->pending++;
	q->inflight++;
	return VIRTQ_OK;
}

int virtq_add_indirect(struct virtq *q, uint64_t table_pa, unsigned ndesc, uint32_t wlen,
                       void *cookie)
{
	if (q->fault)
		return VIRTQ_ERR_BROKEN;
	if (ndesc == 0 || ndesc > 0xffffu / 16)
		return VIRTQ_ERR_INVALID;
	return virtq_add_one(q, table_pa, (uint32_t)ndesc * 16u, VIRTQ_DESC_F_INDIRECT, wlen,
	                     cookie);
}

int virtq_add_writable(struct virtq *q, uint64_t paddr, uint32_t len, void *cookie)
{
	if (q->fault)
		return VIRTQ_ERR_BROKEN;
	if (len == 0)
		return VIRTQ_ERR_INVALID;
	return virtq_add_one(q, paddr, len, VIRTQ_DESC_F_WRITE, len, cookie);
}

bool virtq_publish(struct virtq *q)
{
	if (!q->pending)
		return false;
	virtq_wmb(); /* ring entries and descriptors before the index */
	q->avail->idx = q->avail_idx;
	q->pending = 0;
	virtq_mb(); /* the index before reading the device's flags */
	return !(q->used->flags & VIRTQ_USED_F_NO_NOTIFY);
}

uint16_t virtq_used_pending(const struct virtq *q)
{
	uint16_t n = (uint16_t)(q->used->idx - q->last_used);

	return n <= q->inflight ? n : 0;
}

static int virtq_broken(struct virtq *q, enum virtq_fault f)
{
	q->fault = f;
	return VIRTQ_ERR_BROKEN;
}

/* Put the chain that starts at head back on the free list. */
static void virtq_free_chain(struct virtq *q, uint16_t head)
{
	uint16_t tail = head, n = q->slot[head].ndesc;

	for (uint16_t i = 1; i < n; i++)
		tail = q->slot[tail].next;
	q->slot[tail].next = q->free_head;
	q->free_head = head;
	q->nfree = (uint16_t)(q->nfree + n);
	q->slot[head].ndesc = 0;
	q->slot[head].cookie = NULL;
	q->inflight--;
}

int virtq_get(struct virtq *q, void **cookie, uint32_t *len)
{
	if (q->fault)
		return VIRTQ_ERR_BROKEN;
	uint16_t ready = (uint16_t)(q->used->idx - q->last_used);
	if (ready == 0)
		return 0;
	if (ready > q->inflight)
		return virtq_broken(q, VIRTQ_FAULT_IDX_JUMP);
	virtq_rmb(); /* the index before the entry it covers */
	const volatile struct virtq_used_elem *e = &q->used->ring[q->last_used & (q->size - 1)];
	uint32_t id = e->id, n = e->len; /* read once: the device may change them again */
	if (id >= q->size)
		return virtq_broken(q, VIRTQ_FAULT_BAD_ID);
	if (q->slot[id].ndesc == 0)
		return virtq_broken(q, VIRTQ_FAULT_NOT_HEAD);
	if (n > q->slot[id].wlen)
		return virtq_broken(q, VIRTQ_FAULT_BAD_LEN);
	*cookie = q->slot[id].cookie;
	*len = n;
	virtq_free_chain(q, (uint16_t)id);
	q->last_used++;
	return 1;
}

void virtq_irq_off(struct virtq *q)
{
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
}

bool virtq_irq_on(struct virtq *q)
{
	q->avail->flags = 0;
	virtq_mb(); /* the flag before the index: else a completion in between would be missed */
	return q->used->idx != q->last_used;
}

unsigned virtq_drain(struct virtq *q, void **cookies, unsigned max)
{
	unsigned got = 0;

	for (uint16_t i = 0; i < q->size && got < max; i++)
		if (q->slot[i].ndesc) {
			cookies[got++] = q->slot[i].cookie;
			virtq_free_chain(q, i);
		}
	return got;
}

const char *virtq_fault_str(enum virtq_fault f)
{
	switch (f) {
	case VIRTQ_FAULT_NONE:
		return "none";
	case VIRTQ_FAULT_IDX_JUMP:
		return "used index jumped past the buffers in flight";
	case VIRTQ_FAULT_BAD_ID:
		return "used id outside the descriptor table";
	case VIRTQ_FAULT_NOT_HEAD:
		return "used id not a chain in flight";
	case VIRTQ_FAULT_BAD_LEN:
		return "used length larger than the buffer";
	}
	return "?";
}
