/*
 * e1000/e1000e descriptor rings without the device: what the driver
 * writes into the legacy receive ring and the transmit ring (context and
 * extended data descriptors), and the checks of what the device writes
 * back. No platform calls: host-tested against a fake device
 * (tests/host/drivers) and fuzzed. The caller (e1000.c) writes RDT/TDT
 * from ->tail after adding. See docs/drivers.md.
 */
#ifndef DRIVERS_E1000_RING_H
#define DRIVERS_E1000_RING_H

#include <drivers/netdev.h>

#include "e1000_regs.h"

#define E1000_RING_MAX  256 /* descriptors per ring: one 4 KiB page */
#define E1000_MAX_SEGS  8   /* caller's buffers per transmitted frame */
#define E1000_FRAME_MAX 1514

enum e1000_fault {
	E1000_FAULT_NONE = 0,
	E1000_FAULT_RX_STRAY,  /* descriptor done set on a receive slot not posted */
	E1000_FAULT_RX_NO_EOP, /* a frame continued past its buffer (cannot happen with 2 KiB) */
	E1000_FAULT_RX_LENGTH, /* length 0 or beyond the buffer */
	E1000_FAULT_TX_STRAY,  /* descriptor done set on a transmit slot not in flight */
};

const char *e1000_fault_str(enum e1000_fault f);

struct e1000_rx_ring {
	volatile struct e1000_rx_desc *desc;
	uint16_t size;     /* power of two, 8 .. E1000_RING_MAX */
	uint16_t next;     /* the oldest posted slot (the next the device completes) */
	uint16_t tail;     /* the first slot not posted: RDT */
	uint16_t inflight; /* posted, at most size - 1 */
	uint16_t buf_size; /* RCTL.BSIZE: the device writes up to this many bytes per buffer */
	enum e1000_fault fault;
	uint64_t bad_frames; /* frames the device flagged (CRC, symbol...): buffer reposted */
	struct netdev_buf *buf[E1000_RING_MAX];
};

struct e1000_tx_ring {
	volatile struct e1000_tx_desc *desc;
	uint16_t size, next, tail, inflight; /* as above, in descriptors (context ones included) */
	enum e1000_fault fault;
	bool ctx_valid; /* the context last given to the device (css, cso) */
	uint8_t ctx_css, ctx_cso;
	struct netdev_buf *buf[E1000_RING_MAX]; /* NULL for context descriptors */
	/* Frames summed by the CPU: the seed to put back at field_at - 1 of the buffer at this
	 * slot. */
	uint16_t seed[E1000_RING_MAX], field_at[E1000_RING_MAX];
};

/* Fresh rings on zeroed descriptor memory; false if size is no power of two in range. */
bool e1000_rx_init(struct e1000_rx_ring *r, volatile struct e1000_rx_desc *desc, uint16_t size,
                   uint16_t buf_size);
bool e1000_tx_init(struct e1000_tx_ring *r, volatile struct e1000_tx_desc *desc, uint16_t size);

/* Post an empty buffer; false if the ring is full or the buffer smaller than buf_size. */
bool e1000_rx_add(struct e1000_rx_ring *r, struct netdev_buf *b);

/*
 * The next received buffer into *out (off, len, flags filled): 1, 0 when
 * nothing is done, -1 when the device broke a rule (r->fault says which;
 * the ring is then left as it was, for e1000_rx_drain). A frame the
 * device flagged as bad is not returned: its buffer is posted again.
 */
int e1000_rx_get(struct e1000_rx_ring *r, struct netdev_buf **out);

/* Device done on a posted slot? (interrupt mode: work pending) */
bool e1000_rx_pending(const struct e1000_rx_ring *r);

/* After a reset: up to max posted buffers back, flagged NETDEV_BUF_DROPPED. */
int e1000_rx_drain(struct e1000_rx_ring *r, struct netdev_buf **out, int max);

/*
 * The frame starting at bufs[0] (of n): its buffer count, or
 * NETDEV_ERR_INVALID: no end within n or E1000_MAX_SEGS buffers, an empty
 * buffer, off + len beyond cap, more than E1000_FRAME_MAX bytes, TSO, a
 * checksum request without tx_csum or with the start or the field past
 * byte 255 (the context descriptor's 8-bit fields) or outside the frame.
 */
int e1000_tx_frame(struct netdev_buf *const *bufs, int n, bool tx_csum);

/*
 * Descriptors the checked frame of k buffers needs: one per buffer, and a
 * context descriptor before it when the device sums it (hw_csum, a
 * checksum request) with other offsets than the last frame.
 */
int e1000_tx_need(const struct e1000_tx_ring *r, struct netdev_buf *const *bufs, int k,
                  bool hw_csum);

/*
 * Queue a checked frame of k buffers; false if the ring has no room. A
 * checksum request the device is not to do (!hw_csum) is done here by the
 * CPU (e1000_soft_csum); the field's seed is put back when the buffer is
 * returned (when the field lies in the first buffer), so the caller finds
 * its frame as it left it, as with the device's offload.
 */
bool e1000_tx_add(struct e1000_tx_ring *r, struct netdev_buf *const *bufs, int k, bool hw_csum);

/* The next sent buffer into *out: 1, 0, or -1 (r->fault). Context descriptors are skipped. */
int e1000_tx_get(struct e1000_tx_ring *r, struct netdev_buf **out);

bool e1000_tx_pending(const struct e1000_tx_ring *r);

/* After a reset: up to max buffers in flight back, flagged NETDEV_BUF_DROPPED. */
int e1000_tx_drain(struct e1000_tx_ring *r, struct netdev_buf **out, int max);

/*
 * The one's complement sum a checksum request asks for, computed by the
 * CPU (for a device that offloads only TCP and UDP): sums the frame from
 * csum_start, with the field's seed, and stores the result in the field.
 */
void e1000_soft_csum(struct netdev_buf *const *bufs, int k);

/*
 * Whether a checksum request is one a device that recognises only TCP and
 * UDP (QEMU's 82574 model: it ignores the context's offsets) computes
 * right: untagged IPv4 or IPv6 (no extension headers) carrying TCP or UDP,
 * with csum_start at the L4 header and csum_offset its checksum field, all
 * headers in the first buffer.
 */
bool e1000_csum_l4_hw(struct netdev_buf *const *bufs, int k);

#endif
