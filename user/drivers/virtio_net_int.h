/*
 * virtio-net driver internals shared by virtio_net.c (the data path: the
 * netdev operations on a queue pair) and virtio_net_dev.c (bring-up: open,
 * start, stop, queues, interrupts, the control queue). Not for callers:
 * they use virtio_net.h and the netdev interface.
 */
#ifndef DRIVERS_VIRTIO_NET_INT_H
#define DRIVERS_VIRTIO_NET_INT_H

#include "virtio_net.h"
#include "virtio_pci.h"

#define VNET_QSIZE                256 /* at most; the device may offer fewer */
#define VNET_MAX_SEGS             VIRTIO_NET_MAX_SEGS
#define VNET_HDR                  ((uint16_t)sizeof(struct virtio_net_hdr))
#define VNET_FRAME_MAX            VIRTIO_NET_FRAME_MAX
#define VNET_HDR_SLOT             16 /* bytes per transmit header in the header page */
#define VNET_CTRL_SIZE            16 /* control queue entries (one command at a time) */
#define VNET_CTRL_MQ              4  /* §5.1.6.5.5: class VIRTIO_NET_CTRL_MQ */
#define VNET_CTRL_MQ_VQ_PAIRS_SET 0
#define VNET_CTRL_OK              0

enum vnet_state { VNET_STOPPED, VNET_RUNNING, VNET_FAULTED };

struct vnet_queue {
	struct virtq q;
	void *pages[3]; /* desc, avail, used */
	uint64_t pa[3];
};

struct virtio_net;

/* One queue pair: a netdev handle of its own. */
struct vnet_pair {
	struct netdev nd;
	struct virtio_net *dev;
	uint16_t index; /* receive queue 2 * index, transmit queue 2 * index + 1 */
	struct vnet_queue rx, tx;
	uint8_t *tx_hdr; /* VNET_HDR_SLOT bytes per descriptor index */
	uint64_t tx_hdr_pa;
	struct netdev_buf *tx_bufs[VNET_QSIZE][VNET_MAX_SEGS]; /* by chain head */
	uint8_t tx_nbufs[VNET_QSIZE];
	uint16_t rx_more;      /* buffers still to come of the frame being received */
	bool fault_unreported; /* a fault this pair's caller has not been told of */
	hl_cptr_t irq[2];
};

struct virtio_net {
	struct virtio_pci vp;
	uint16_t bdf;
	enum vnet_state state;
	enum netdev_mode mode;
	uint16_t npairs, max_pairs; /* in use; the device's max_virtqueue_pairs */
	struct vnet_queue ctrl;     /* with MQ: at queue index 2 * max_pairs */
	uint8_t *ctrl_buf;          /* the command being sent: class, command, data, ack */
	uint64_t ctrl_buf_pa;
	struct vnet_pair pair[VIRTIO_NET_MAX_PAIRS];
};

static inline struct vnet_pair *vpair(struct netdev *nd)
{
	return nd->priv;
}

/* virtio_net_dev.c */
extern const struct netdev_ops virtio_net_ops;
int virtio_net_start(struct netdev *nd, enum netdev_mode mode);
void virtio_net_stop(struct netdev *nd);
bool virtio_net_link_up(struct netdev *nd);
/* No more DMA from the device (reset, bus mastering off); whether the reset completed. */
bool virtio_net_quiesce(struct virtio_net *vn);
/* The device broke a rule: report what, stop its DMA, tell every pair; NETDEV_ERR_DEVICE. */
int virtio_net_fault(struct virtio_net *vn, const char *what);

#endif
