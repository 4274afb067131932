/*
 * virtio-net (virtio 1.2 §5.1) over the modern PCI transport, behind the
 * netdev interface (include/drivers/netdev.h). One queue pair, split
 * virtqueues, checksum offload both ways, mergeable receive buffers,
 * polled or MSI-X mode. See docs/drivers.md.
 */
#ifndef DRIVERS_VIRTIO_NET_H
#define DRIVERS_VIRTIO_NET_H

#include <drivers/netdev.h>
#include <hallows/abi.h>

/* True for a PCI ID this driver handles (the transitional ID is checked for modern capabilities at
 * open). */
bool virtio_net_matches(uint16_t vendor, uint16_t device);

/*
 * Open the function behind pci_device capability dev (bdf for the report):
 * map its structures, read MAC and link. The device stays reset until
 * ops->start. Returns the handle, or NULL with *err set (NETDEV_ERR_*).
 */
struct netdev *virtio_net_open(hl_cptr_t dev, uint16_t bdf, int *err);

#define VIRTIO_NET_MAX_PAIRS 4 /* queue pairs used at most (VIRTIO_NET_F_MQ) */

/*
 * After a start: the handle of queue pair i (0 is the handle open
 * returned), for i < info.queue_pairs (still valid after a fault, to take
 * the buffers back); NULL otherwise. Each pair has
 * its own rings and buffers and is driven by one thread; start and stop
 * are pair 0's (NETDEV_ERR_STATE elsewhere). In interrupt mode every pair
 * signals the same notification.
 */
struct netdev *virtio_net_pair(struct netdev *nd, unsigned i);

#define VIRTIO_NET_MAX_SEGS  8            /* caller's buffers per transmitted frame */
#define VIRTIO_NET_FRAME_MAX 1514         /* Ethernet header + 1500 (no VLAN, no TSO) */
#define VIRTIO_NET_TSO_MAX   (14 + 65535) /* Ethernet header + the largest IPv4 datagram */

/*
 * The frame to transmit that starts at bufs[0] (of n): its buffer count,
 * or NETDEV_ERR_INVALID for a caller's mistake: no end within n or
 * max_segs buffers, an empty buffer or one whose off + len passes its cap,
 * more than VIRTIO_NET_FRAME_MAX bytes (VIRTIO_NET_TSO_MAX with TSO), an
 * offload the device does not have (offloads: NETDEV_OFF_*), a checksum
 * field outside the frame, TSO without a checksum request or gso_size.
 * Pure: host-tested.
 */
int virtio_net_tx_frame(struct netdev_buf *const *bufs, int n, int max_segs, uint32_t offloads);

struct virtio_net_hdr;
/* The virtio_net_hdr for a checked frame whose first buffer is first (checksum and TSO requests).
 */
void virtio_net_tx_hdr(struct virtio_net_hdr *h, const struct netdev_buf *first);

/*
 * A used receive buffer b of len bytes (len <= b->cap, checked by the
 * virtqueue): fill off, len, flags and checksum offsets from the
 * virtio_net_hdr at its start, or take it as a continuation buffer while
 * *more buffers of a merged frame are due. False if the device wrote
 * nonsense: a length under the header, num_buffers 0 or above the ring
 * size, checksum offsets outside the frame. Pure: host-tested.
 */
bool virtio_net_rx_fill(struct netdev_buf *b, uint32_t len, bool mrg_rxbuf, uint16_t ring_size,
                        uint16_t *more);

/*
 * Tests only: write into the receive ring's used ring what a broken device
 * might. USED_IDX: an index past the buffers in flight (the next rx_poll
 * reports NETDEV_ERR_DEVICE). SECOND_ID: an id outside the table in the
 * second used entry, so the rx_poll that meets it has taken a good buffer
 * first (it hands that back, and the next call reports the fault); false
 * while fewer than two entries are waiting (try again).
 */
enum virtio_net_fault { VIRTIO_NET_FAULT_USED_IDX, VIRTIO_NET_FAULT_SECOND_ID };
bool virtio_net_inject_fault(struct netdev *nd, enum virtio_net_fault kind);

#endif
