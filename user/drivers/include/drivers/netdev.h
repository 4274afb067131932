/*
 * The network-device interface: one operations table that every NIC driver
 * fills (virtio-net today; e1000/e1000e next), so the stack above (Floo, the
 * test responder) drives any of them unchanged. See docs/drivers.md.
 *
 * Buffers belong to the caller. It posts empty receive buffers and hands
 * frames to transmit as lists of buffers; the driver gives every buffer back
 * (filled, sent, or dropped after a device fault) through rx_poll and
 * tx_reclaim, never copying payload bytes. A buffer is DMA memory: the
 * caller supplies its virtual and device-visible (physical) address.
 *
 * A frame that spans several buffers (scatter-gather transmit; mergeable
 * receive buffers) is a run of consecutive buffers in the array, each but
 * the last carrying NETDEV_BUF_MORE.
 *
 * Freestanding C11: no libc, no kernel headers.
 */
#ifndef DRIVERS_NETDEV_H
#define DRIVERS_NETDEV_H

#include <stdbool.h>
#include <stdint.h>

/* Results: 0 or a negative value. */
enum netdev_err {
	NETDEV_OK = 0,
	NETDEV_ERR_FULL = -1,    /* no room in the ring now: reclaim, then retry */
	NETDEV_ERR_INVALID = -2, /* bad argument (too many segments, buffer too small, bad mode) */
	NETDEV_ERR_DEVICE =
	    -3, /* the device broke a rule; the driver reset it (see netdev_ops.start) */
	NETDEV_ERR_NODEV = -4, /* not a device this driver handles, or it did not answer */
	NETDEV_ERR_NOMEM = -5, /* no memory for rings or mappings */
	NETDEV_ERR_STATE = -6, /* not started, or started twice */
};

/*
 * netdev_buf.flags
 *   MORE        the frame continues in the next buffer
 *   CSUM        tx: the device computes the L4 checksum (csum_start, csum_offset)
 *   CSUM_VALID  rx: the device checked the L4 checksum
 *   CSUM_NONE   rx: the checksum is left partial (csum_start, csum_offset), as from a local sender
 *   TSO4        tx: the device cuts a large TCPv4 frame into gso_size segments (NETDEV_OFF_TSO4)
 *   DROPPED     returned unused: the device was reset
 */
#define NETDEV_BUF_MORE       0x1u
#define NETDEV_BUF_CSUM       0x2u
#define NETDEV_BUF_CSUM_VALID 0x4u
#define NETDEV_BUF_CSUM_NONE  0x8u
#define NETDEV_BUF_TSO4       0x10u
#define NETDEV_BUF_DROPPED    0x20u

/*
 * One DMA buffer. The caller fills data, paddr, cap (and for transmit off,
 * len, flags); the driver fills off, len and flags on receive. Bytes
 * [data + off, data + off + len) are the frame's part in this buffer.
 */
struct netdev_buf {
	uint8_t *data;  /* virtual address of the buffer */
	uint64_t paddr; /* the address the device uses for data[0] */
	uint32_t cap;   /* bytes available at data (receive: must be >= rx_buf_min) */
	uint16_t off, len;
	uint16_t flags;                   /* NETDEV_BUF_* */
	uint16_t csum_start, csum_offset; /* NETDEV_BUF_CSUM: from the frame's first byte */
	uint16_t gso_size;                /* NETDEV_BUF_TSO4: MSS */
	void *user;                       /* the caller's; untouched */
};

/* netdev_info.offloads */
#define NETDEV_OFF_TX_CSUM 0x1u
#define NETDEV_OFF_RX_CSUM 0x2u
#define NETDEV_OFF_TSO4    0x4u
#define NETDEV_OFF_MRG_RX  0x8u /* a received frame may span several buffers */
/* rx: TCP/IPv4 frames of up to 64 KiB, the sender's segments coalesced (virtio-net GUEST_TSO4),
 * over several buffers; only when the caller asks for it in netdev.want before start (it must
 * take such frames whole) */
#define NETDEV_OFF_RX_TSO4 0x10u

enum netdev_mode {
	NETDEV_POLLED = 0, /* no interrupts: the caller calls rx_poll / tx_reclaim */
	NETDEV_IRQ = 1,    /* interrupts to notify(): wait on it after irq_arm returns false */
};

struct netdev_info {
	const char *model; /* "virtio-net (modern PCI)" */
	uint8_t mac[6];
	uint16_t mtu;      /* largest IP datagram: 1500 unless the device says otherwise */
	uint32_t offloads; /* NETDEV_OFF_* negotiated */
	uint16_t rx_slots, tx_slots; /* ring capacity in buffers */
	uint16_t
	    rx_buf_min; /* smallest receive buffer that holds a full frame, header room included */
	uint16_t max_tx_segs; /* most buffers in one transmitted frame */
	uint16_t queue_pairs;
};

struct netdev;

struct netdev_ops {
	/* Reset the device and bring it up in mode; again after NETDEV_ERR_DEVICE. */
	int (*start)(struct netdev *nd, enum netdev_mode mode);
	/* Reset the device (it stops all DMA); buffers still posted come back NETDEV_BUF_DROPPED.
	 */
	void (*stop)(struct netdev *nd);
	/* Post n empty receive buffers; returns how many were taken (< n when the ring is full) or
	 * an error. */
	int (*rx_post)(struct netdev *nd, struct netdev_buf **bufs, int n);
	/* Up to max received buffers into out; returns the count or an error. */
	int (*rx_poll)(struct netdev *nd, struct netdev_buf **out, int max);
	/*
	 * Queue frames for sending: bufs[0..n) with NETDEV_BUF_MORE joining
	 * buffers of one frame. Returns the number of buffers taken (always a
	 * whole number of frames; fewer when the ring is full) or an error.
	 */
	int (*tx)(struct netdev *nd, struct netdev_buf **bufs, int n);
	/* Up to max sent buffers back into out; returns the count or an error. */
	int (*tx_reclaim)(struct netdev *nd, struct netdev_buf **out, int max);
	/* Link up? (re-read from the device) */
	bool (*link_up)(struct netdev *nd);
	/*
	 * Interrupt mode: ask for an interrupt on the next completion. Returns
	 * true if work is already pending (do not sleep: poll again), false if
	 * the caller may wait on the notification in notify.
	 */
	bool (*irq_arm)(struct netdev *nd);
};

/* A device handle: the ops table, what the device offers, and the driver's state. */
struct netdev {
	const struct netdev_ops *ops;
	struct netdev_info info;
	uint64_t notify; /* interrupt mode: the notification capability to wait on */
	uint64_t errors; /* device faults seen (each reset the device) */
	void *priv;      /* the driver's */
	uint32_t want;   /* offloads the caller takes beyond the defaults (NETDEV_OFF_RX_TSO4) */
};

#endif
