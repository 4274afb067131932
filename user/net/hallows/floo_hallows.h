/*
 * Floo on Hallows: struct floo_platform over a NIC driver's netdev
 * operations (user/drivers/include/drivers/netdev.h), with clock and
 * memory from the partition's own capabilities and the kernel's timed
 * wait (HL_SYS_WAIT) as the idle timer. See
 * docs/net.md "Floo on Hallows".
 *
 * Receive is zero-copy: Floo's region is DMA memory (2 MiB frames, a few
 * capability slots), and its packet buffers are lent to the NIC as receive
 * buffers; a received frame goes up the stack in the buffer the device
 * wrote. Transmit copies the headers (Floo's arena, reused once tx_burst
 * returns) and any send data outside registered regions into DMA bounce
 * buffers; send data inside a region registered with
 * floo_hallows_add_region goes to the NIC by reference. Bytes copied and
 * referenced are counted.
 *
 * TSO: when the NIC segments TCP (NETDEV_OFF_TSO4 with transmit checksum
 * offload), Floo hands it frames of up to FLOO_TSO_MAX payload bytes, one
 * header and one pass through Floo and the driver for up to 44 segments.
 * Such a frame whose pieces do not fit the driver's buffers per frame is
 * copied whole into one of FLOO_HALLOWS_TX_BIG large bounce buffers.
 *
 * Receive coalescing: when the NIC hands over the sender's TCP segments
 * coalesced (NETDEV_OFF_RX_TSO4: frames of up to 64 KiB over several
 * receive buffers) the buffers of one frame reach Floo as one chain of
 * pbufs (frag, FLOO_CAP_RX_CHAIN), still zero-copy: one pass through the
 * IP and TCP input for up to 44 segments.
 *
 * Run to completion: floo_hallows_poll() in a loop; floo_hallows_idle()
 * when a poll found nothing, which (interrupt mode) arms the NIC and waits
 * on its notification, woken by the next frame or at Floo's next timer.
 */
#ifndef FLOO_HALLOWS_H
#define FLOO_HALLOWS_H

#include <drivers/netdev.h>
#include <floo/floo.h>
#include <hallows/rt.h>

#define FLOO_HALLOWS_TX_BUFS 256 /* bounce buffers, 2 KiB each */
#define FLOO_HALLOWS_RX_BUFS 256 /* most pbufs lent to the NIC at once */
#define FLOO_HALLOWS_TX_REFS 512 /* descriptors for bytes sent by reference */
#define FLOO_HALLOWS_REGIONS 4
#define FLOO_HALLOWS_TX_BIG  16 /* bounce buffers for a whole TSO frame (68 KiB each) */

/*
 * Memory the NIC may read by reference (floo_hallows_add_region): mapped
 * for the NIC's DMA by its owner, physically contiguous in runs of contig
 * bytes (a power of two, from base), pa(ctx, va) the device address of a
 * byte. Send data Floo references from such a region goes to the NIC by
 * physical address instead of through a bounce buffer; the bytes sent each
 * way are counted (tx_region_ref, tx_region_copied).
 */
struct floo_hallows_region {
	const uint8_t *base;
	size_t size, contig;
	uint64_t (*pa)(void *ctx, const void *va);
	void *ctx;
	bool copy; /* copy its bytes all the same, counted in tx_region_copied (for comparison) */
};

struct floo_hallows_stats {
	uint64_t rx_frames, rx_multi_dropped, rx_nopbuf;
	uint64_t tx_frames, tx_copied_bytes, tx_dropped, tx_ring_full;
	uint64_t rx_copied_bytes; /* stays 0: receive hands the DMA buffer itself to Floo */
	uint64_t faults, wakeups, timer_wakeups; /* sleeps ended; of them, by their deadline */
	uint64_t deep_sleeps;   /* sleeps without a timer (nothing timed: until the next frame) */
	uint64_t idle_calls;    /* floo_hallows_idle_for calls: sleeps, yields and early returns */
	uint64_t yields;        /* idle turns given up instead of sleeping (polled mode) */
	uint64_t tx_region_ref; /* bytes of registered regions sent by reference */
	uint64_t tx_region_copied; /* bytes of registered regions copied (fallback; in
	                              tx_copied_bytes) */
	uint64_t tx_tso_frames;    /* frames the NIC segmented (TSO) */
	uint64_t tx_big_copies;    /* TSO frames copied whole into a large bounce buffer */
	uint64_t rx_coalesced;     /* received frames over several buffers, chained for Floo */
};

struct floo_hallows {
	/* [I] set by floo_hallows_init */
	struct netdev *nd;
	hl_cptr_t dev; /* the NIC's pci_device capability (DMA mappings) */
	enum netdev_mode mode;
	struct floo_stack *st;
	uint8_t *mem; /* Floo's region: contiguous virtual addresses */
	size_t mem_size;
	uint64_t *paddr; /* each pbuf page's physical address (DMA-mapped); 0 for the others */
	uint64_t tsc0, ns_mult; /* now_ns = (tsc - tsc0) * ns_mult >> 32 */
	uint64_t tsc_per_ms;    /* for the idle wait's TSC deadline */
	int log_level;
	/* the state of the data path */
	uint64_t rng;
	struct netdev_buf rxb[FLOO_HALLOWS_RX_BUFS];
	struct netdev_buf *rx_free[FLOO_HALLOWS_RX_BUFS];
	int rx_nfree;
	bool rx_in_frame; /* the last buffer received said NETDEV_BUF_MORE */
	bool rx_chain;    /* the NIC coalesces received TCP segments: frames are chained pbufs */
	struct floo_pbuf *rx_head, *rx_tail; /* a coalesced frame still arriving */
	struct netdev_buf txb[FLOO_HALLOWS_TX_BUFS];
	struct netdev_buf *tx_free[FLOO_HALLOWS_TX_BUFS];
	int tx_nfree;
	struct netdev_buf txr[FLOO_HALLOWS_TX_REFS]; /* by-reference pieces */
	struct netdev_buf *txr_free[FLOO_HALLOWS_TX_REFS];
	int txr_nfree;
	struct netdev_buf txbig[FLOO_HALLOWS_TX_BIG]; /* whole TSO frames (after Floo's region) */
	struct netdev_buf *txbig_free[FLOO_HALLOWS_TX_BIG];
	int txbig_nfree;
	bool tso; /* the NIC segments: Floo sends frames of up to FLOO_TSO_MAX payload bytes */
	struct floo_hallows_region region[FLOO_HALLOWS_REGIONS];
	int nregions;
	bool fault; /* the driver reported NETDEV_ERR_DEVICE: recover before the next poll */
	struct floo_hallows_stats stats;
};

/*
 * Bring nd (already opened, not started) up in mode, make Floo's region of
 * DMA memory for cfg, start the stack with nd's MAC and lend the NIC its
 * receive buffers. Interrupt mode refused by the driver (NETDEV_ERR_INVALID:
 * no MSI and no INTx line the kernel can route) falls back to polled;
 * h->mode says which. Returns 0, a kernel error as it came (a positive
 * HL_ERR_*) or a negative NETDEV_ERR_* (docs/errors.md).
 */
int floo_hallows_init(struct floo_hallows *h, struct netdev *nd, hl_cptr_t dev,
                      enum netdev_mode mode, const struct floo_config *cfg, int log_level)
    __attribute__((warn_unused_result));

/*
 * Send Floo's references into r by physical address from now on (r is
 * copied). The bytes must stay unchanged until Floo reports the send
 * acknowledged (FLOO_TCP_SENT), as for any send by reference. Returns 0 or
 * NETDEV_ERR_INVALID (bad region, or no room for another).
 */
int floo_hallows_add_region(struct floo_hallows *h, const struct floo_hallows_region *r);

/* One round: recover from a device fault if one was seen, then floo_poll. Returns frames received.
 */
unsigned floo_hallows_poll(struct floo_hallows *h);

/*
 * Nothing to do: in interrupt mode arm the NIC and wait on its
 * notification until a frame comes or Floo's next timer is due (the
 * kernel's timed wait); polled, give up the CPU's turn and return.
 */
void floo_hallows_idle(struct floo_hallows *h);

/*
 * The same for an application with timers of its own: app_ns until its
 * next one, FLOO_HALLOWS_NO_TIMER if it has none. The sleep ends at the
 * earlier of Floo's and the application's timers; with nothing timed (no
 * TCP connection in Floo and FLOO_HALLOWS_NO_TIMER) it lasts until the
 * next frame (counted in deep_sleeps). A timer due within 100 us returns
 * at once (poll again).
 */
#define FLOO_HALLOWS_NO_TIMER UINT64_MAX
void floo_hallows_idle_for(struct floo_hallows *h, uint64_t app_ns);

uint64_t floo_hallows_now_ns(const struct floo_hallows *h);

#endif
