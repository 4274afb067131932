/*
 * e1000/e1000e descriptor rings (see e1000_ring.h): legacy receive
 * descriptors, one caller's buffer each; transmit as extended data
 * descriptors, one per caller's buffer, preceded by a TCP/IP context
 * descriptor when a checksum request's offsets differ from the last one
 * the device was given. Every descriptor is written with RS, so the device
 * sets DD on each as it finishes it, in ring order.
 *
 * What the device writes back is read once per field and checked: DD on a
 * slot the driver did not hand over, a length of 0 or beyond the buffer,
 * a frame without end-of-packet (impossible with 2 KiB buffers and long
 * packets off) make the call fail with the ring unchanged, so that the
 * caller resets the device and drains the buffers.
 */
#include "e1000_ring.h"

#include <stddef.h>

static bool ring_size_ok(uint16_t size)
{
	return size >= 8 && size <= E1000_RING_MAX && (size & (size - 1)) == 0;
}

const char *e1000_fault_str(enum e1000_fault f)
{
	switch (f) {
	case E1000_FAULT_RX_STRAY:
		return "receive descriptor done on a slot never posted";
	case E1000_FAULT_RX_NO_EOP:
		return "received frame without end of packet (longer than its buffer)";
	case E1000_FAULT_RX_LENGTH:
		return "receive length 0 or beyond the buffer";
	case E1000_FAULT_TX_STRAY:
		return "transmit descriptor done on a slot not in flight";
	case E1000_FAULT_NONE:
		break;
	}
	return "none";
}

bool e1000_rx_init(struct e1000_rx_ring *r, volatile struct e1000_rx_desc *desc, uint16_t size,
                   uint16_t buf_size)
{
	if (!ring_size_ok(size))
		return false;
	r->desc = desc, r->size = size, r->buf_size = buf_size;
	r->next = r->tail = r->inflight = 0;
	r->fault = E1000_FAULT_NONE;
	for (uint16_t i = 0; i < size; i++) {
		desc[i].addr = 0, desc[i].length = 0, desc[i].status = 0, desc[i].errors = 0;
		r->buf[i] = NULL;
	}
	return true;
}

bool e1000_rx_add(struct e1000_rx_ring *r, struct netdev_buf *b)
{
	if (r->inflight >= r->size - 1 || b->cap < r->buf_size)
		return false;
	volatile struct e1000_rx_desc *d = &r->desc[r->tail];
	d->addr = b->paddr;
	d->length = 0, d->csum = 0, d->errors = 0, d->special = 0;
	d->status = 0;
	r->buf[r->tail] = b;
	r->tail = (uint16_t)((r->tail + 1) & (r->size - 1));
	r->inflight++;
	return true;
}

static int rx_fault(struct e1000_rx_ring *r, enum e1000_fault f)
{
	r->fault = f;
	return -1;
}

/* Receive checksum status (8254x §3.2.9): valid only when computed and free of errors. */
static uint16_t rx_csum_flags(uint8_t status, uint8_t errors)
{
	if ((status & E1000_RXD_IXSM) || !(status & E1000_RXD_TCPCS) ||
	    (errors & (E1000_RXE_TCPE | E1000_RXE_IPE)))
		return 0;
	return NETDEV_BUF_CSUM_VALID;
}

int e1000_rx_get(struct e1000_rx_ring *r, struct netdev_buf **out)
{
	for (uint16_t tries = 0; tries < r->size; tries++) {
		if (r->desc[r->tail].status & E1000_RXD_DD)
			return rx_fault(r, E1000_FAULT_RX_STRAY);
		if (r->inflight == 0)
			return 0;
		volatile struct e1000_rx_desc *d = &r->desc[r->next];
		uint8_t status = d->status;
		if (!(status & E1000_RXD_DD))
			return 0;
		__asm__ volatile(
		    "" ::
		        : "memory"); /* the other fields after DD (x86 keeps load order) */
		uint16_t len = d->length;
		uint8_t errors = d->errors;
		struct netdev_buf *b = r->buf[r->next];
		if (!(status & E1000_RXD_EOP))
			return rx_fault(r, E1000_FAULT_RX_NO_EOP);
		if (len == 0 || len > r->buf_size || len > b->cap)
			return rx_fault(r, E1000_FAULT_RX_LENGTH);
		d->status = 0;
		r->buf[r->next] = NULL;
		r->next = (uint16_t)((r->next + 1) & (r->size - 1));
		r->inflight--;
		if (errors &
		    E1000_RXE_FRAME) { /* a damaged frame: the buffer goes back to the device */
			r->bad_frames++;
			e1000_rx_add(r, b); /* a slot was just freed */
			continue;
		}
		b->off = 0, b->len = len;
		b->flags = rx_csum_flags(status, errors);
		b->csum_start = 0, b->csum_offset = 0;
		*out = b;
		return 1;
	}
	return 0;
}

bool e1000_rx_pending(const struct e1000_rx_ring *r)
{
	return (r->inflight && (r->desc[r->next].status & E1000_RXD_DD)) ||
	       (r->desc[r->tail].status & E1000_RXD_DD);
}

int e1000_rx_drain(struct e1000_rx_ring *r, struct netdev_buf **out, int max)
{
	int n = 0;

	while (n < max && r->inflight) {
		struct netdev_buf *b = r->buf[r->next];
		r->desc[r->next].status = 0;
		r->buf[r->next] = NULL;
		r->next = (uint16_t)((r->next + 1) & (r->size - 1));
		r->inflight--;
		b->off = 0, b->len = 0, b->flags = NETDEV_BUF_DROPPED;
		out[n++] = b;
	}
	if (!r->inflight && r->desc)
		r->desc[r->tail].status =
		    0; /* a stray DD the device left there (none before init) */
	return n;
}

bool e1000_tx_init(struct e1000_tx_ring *r, volatile struct e1000_tx_desc *desc, uint16_t size)
{
	if (!ring_size_ok(size))
		return false;
	r->desc = desc, r->size = size;
	r->next = r->tail = r->inflight = 0;
	r->fault = E1000_FAULT_NONE;
	r->ctx_valid = false;
	for (uint16_t i = 0; i < size; i++) {
		desc[i].addr = 0, desc[i].lower = 0, desc[i].upper = 0;
		r->buf[i] = NULL;
		r->field_at[i] = 0;
	}
	return true;
}

int e1000_tx_frame(struct netdev_buf *const *bufs, int n, bool tx_csum)
{
	uint32_t bytes = 0;
	int k = 0;

	do {
		if (k == n || k == E1000_MAX_SEGS || bufs[k]->len == 0 ||
		    (uint32_t)bufs[k]->off + bufs[k]->len > bufs[k]->cap)
			return NETDEV_ERR_INVALID;
		bytes += bufs[k]->len;
	} while (bufs[k++]->flags & NETDEV_BUF_MORE);
	const struct netdev_buf *b = bufs[0];
	if (bytes > E1000_FRAME_MAX || (b->flags & NETDEV_BUF_TSO4))
		return NETDEV_ERR_INVALID;
	if (b->flags & NETDEV_BUF_CSUM) {
		uint32_t field = (uint32_t)b->csum_start + b->csum_offset;
		if (!tx_csum || b->csum_start > 255 || field > 255 || field + 2 > bytes)
			return NETDEV_ERR_INVALID;
	}
	return k;
}

static bool tx_ctx_change(const struct e1000_tx_ring *r, const struct netdev_buf *b, bool hw)
{
	return hw && (b->flags & NETDEV_BUF_CSUM) &&
	       (!r->ctx_valid || r->ctx_css != b->csum_start ||
	        r->ctx_cso != (uint8_t)(b->csum_start + b->csum_offset));
}

int e1000_tx_need(const struct e1000_tx_ring *r, struct netdev_buf *const *bufs, int k,
                  bool hw_csum)
{
	return k + (tx_ctx_change(r, bufs[0], hw_csum) ? 1 : 0);
}

static void tx_put(struct e1000_tx_ring *r, uint64_t addr, uint32_t lower, uint32_t upper,
                   struct netdev_buf *b)
{
	volatile struct e1000_tx_desc *d = &r->desc[r->tail];

	d->addr = addr, d->lower = lower, d->upper = upper;
	r->buf[r->tail] = b;
	r->tail = (uint16_t)((r->tail + 1) & (r->size - 1));
	r->inflight++;
}

bool e1000_tx_add(struct e1000_tx_ring *r, struct netdev_buf *const *bufs, int k, bool hw_csum)
{
	const struct netdev_buf *b = bufs[0];
	bool csum = hw_csum && (b->flags & NETDEV_BUF_CSUM);

	if (e1000_tx_need(r, bufs, k, hw_csum) > r->size - 1 - r->inflight)
		return false;
	if (tx_ctx_change(r, b, hw_csum)) {
		uint8_t css = (uint8_t)b->csum_start,
		        cso = (uint8_t)(b->csum_start + b->csum_offset);
		/* TUCSE 0: to the end of the packet; no IP header checksum, no segmentation. */
		tx_put(r, E1000_TXC_TUCSS(css) | E1000_TXC_TUCSO(cso),
		       E1000_TXD_CMD_DEXT | E1000_TXD_CMD_RS, 0, NULL);
		r->ctx_valid = true, r->ctx_css = css, r->ctx_cso = cso;
	}
	if (!hw_csum && (b->flags & NETDEV_BUF_CSUM)) {
		uint32_t field = (uint32_t)b->csum_start + b->csum_offset;
		const uint8_t *p = b->data + b->off + field;
		bool first = field + 2 <= b->len;
		r->seed[r->tail] = first ? (uint16_t)(p[0] << 8 | p[1]) : 0;
		r->field_at[r->tail] = first ? (uint16_t)(field + 1) : 0;
		e1000_soft_csum(bufs, k);
	}
	for (int i = 0; i < k; i++) {
		uint32_t cmd = E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_D | E1000_TXD_CMD_IFCS |
		               E1000_TXD_CMD_RS | (i == k - 1 ? E1000_TXD_CMD_EOP : 0);
		tx_put(r, bufs[i]->paddr + bufs[i]->off, cmd | bufs[i]->len,
		       csum ? E1000_TXD_POPTS_TXSM : 0, bufs[i]);
	}
	return true;
}

/* Retire the oldest transmit slot: its buffer (NULL for a context), the seed put back. */
static struct netdev_buf *tx_retire(struct e1000_tx_ring *r)
{
	uint16_t i = r->next;
	struct netdev_buf *b = r->buf[i];

	if (b && r->field_at[i]) {
		uint8_t *p = b->data + b->off + r->field_at[i] - 1;
		p[0] = (uint8_t)(r->seed[i] >> 8), p[1] = (uint8_t)r->seed[i];
	}
	r->field_at[i] = 0;
	r->desc[i].upper = 0;
	r->buf[i] = NULL;
	r->next = (uint16_t)((i + 1) & (r->size - 1));
	r->inflight--;
	return b;
}

int e1000_tx_get(struct e1000_tx_ring *r, struct netdev_buf **out)
{
	for (;;) {
		if (r->desc[r->tail].upper & E1000_TXD_STA_DD) {
			r->fault = E1000_FAULT_TX_STRAY;
			return -1;
		}
		if (r->inflight == 0)
			return 0;
		if (!(r->desc[r->next].upper & E1000_TXD_STA_DD))
			return 0;
		struct netdev_buf *b = tx_retire(r);
		if (b) {
			*out = b;
			return 1;
		}
	}
}

bool e1000_tx_pending(const struct e1000_tx_ring *r)
{
	return (r->inflight && (r->desc[r->next].upper & E1000_TXD_STA_DD)) ||
	       (r->desc[r->tail].upper & E1000_TXD_STA_DD);
}

int e1000_tx_drain(struct e1000_tx_ring *r, struct netdev_buf **out, int max)
{
	int n = 0;

	while (n < max && r->inflight) {
		struct netdev_buf *b = tx_retire(r);
		if (b) {
			b->flags |= NETDEV_BUF_DROPPED;
			out[n++] = b;
		}
	}
	if (!r->inflight && r->desc) {
		r->desc[r->tail].upper = 0;
		r->ctx_valid = false;
	}
	return n;
}

/* The frame's byte at offset at (across its buffers), or NULL past its end. */
static uint8_t *frame_byte(struct netdev_buf *const *bufs, int k, uint32_t at)
{
	for (int i = 0; i < k; i++) {
		if (at < bufs[i]->len)
			return bufs[i]->data + bufs[i]->off + at;
		at -= bufs[i]->len;
	}
	return NULL;
}

void e1000_soft_csum(struct netdev_buf *const *bufs, int k)
{
	const struct netdev_buf *f = bufs[0];
	uint32_t sum = 0, pos = 0, field = (uint32_t)f->csum_start + f->csum_offset;

	for (int i = 0; i < k; i++) {
		const uint8_t *p = bufs[i]->data + bufs[i]->off;
		for (uint32_t j = 0; j < bufs[i]->len; j++, pos++)
			if (pos >= f->csum_start) /* even offsets from the start are high bytes */
				sum += (uint32_t)p[j] << ((pos - f->csum_start) & 1 ? 0 : 8);
	}
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	uint16_t c = (uint16_t)~sum;
	uint8_t *hi = frame_byte(bufs, k, field), *lo = frame_byte(bufs, k, field + 1);
	if (hi && lo)
		*hi = (uint8_t)(c >> 8), *lo = (uint8_t)c;
}

bool e1000_csum_l4_hw(struct netdev_buf *const *bufs, int k)
{
	const struct netdev_buf *b = bufs[0];
	const uint8_t *p = b->data + b->off;
	uint32_t l4, proto;

	(void)k;
	if (b->len < 14 + 20)
		return false;
	if (p[12] == 0x08 && p[13] == 0x00 && (p[14] >> 4) == 4) {
		l4 = 14 + (p[14] & 15u) * 4, proto = p[23];
	} else if (p[12] == 0x86 && p[13] == 0xdd && b->len >= 14 + 40) {
		l4 = 14 + 40, proto = p[20];
	} else {
		return false;
	}
	uint32_t field = proto == 6 ? 16 : proto == 17 ? 6 : 0;
	return field && b->csum_start == l4 && b->csum_offset == field && l4 + field + 2 <= b->len;
}
