/*
 * virtio-net driver (virtio 1.2 §5.1), the data path: the netdev
 * operations on one queue pair. Receive buffers are the caller's, posted
 * one descriptor each; the 12-byte virtio_net_hdr lands at their start, so
 * a received frame begins at off = 12. Transmit chains are [header]
 * [caller's segments...], the header from the pair's header page at the
 * chain's head descriptor index. Each ring part is a 4 KiB DMA page of its
 * own (nothing relies on two frames being contiguous).
 *
 * Everything the device writes is checked (virtq.c for the used rings,
 * virtio_net_hdr.c for receive headers); a violation stops the device's
 * DMA and returns NETDEV_ERR_DEVICE, after which rx_poll/tx_reclaim of
 * every pair hand back the buffers still posted, flagged
 * NETDEV_BUF_DROPPED, and start() (virtio_net_dev.c) brings the device up
 * again.
 */
#include "virtio_net_int.h"

/*
 * rx_poll and tx_reclaim after a fault: NETDEV_ERR_DEVICE once per pair
 * (unless the call that saw the fault reported it), then the buffers still
 * lent, dropped.
 */
static bool vnet_report_fault(struct vnet_pair *p)
{
	bool report = p->dev->state == VNET_FAULTED && p->fault_unreported;

	p->fault_unreported = false;
	return report;
}

/* The fault seen after n buffers were taken: hand those back now and report the fault next time. */
static int vnet_fault_after(struct vnet_pair *p, int n, const char *what)
{
	virtio_net_fault(p->dev, what);
	p->fault_unreported = n > 0;
	return n > 0 ? n : NETDEV_ERR_DEVICE;
}

static int vnet_not_running(struct vnet_pair *p)
{
	return p->dev->state == VNET_FAULTED ? NETDEV_ERR_DEVICE : NETDEV_ERR_STATE;
}

static int vnet_rx_post(struct netdev *nd, struct netdev_buf **bufs, int n)
{
	struct vnet_pair *p = vpair(nd);
	int i;

	if (p->dev->state != VNET_RUNNING || p->index >= p->dev->npairs)
		return vnet_not_running(p);
	for (i = 0; i < n; i++) {
		struct netdev_buf *b = bufs[i];
		if (b->cap < nd->info.rx_buf_min || b->cap > 0xffff) {
			if (i == 0)
				return NETDEV_ERR_INVALID;
			break;
		}
		if (virtq_add_writable(&p->rx.q, b->paddr, b->cap, b))
			break;
	}
	if (virtq_publish(&p->rx.q))
		virtio_pci_notify(&p->dev->vp, &p->rx.q);
	return i;
}

/* After a reset: the buffers still posted on vq go back to the caller, flagged dropped. */
static int vnet_drain(struct vnet_queue *vq, struct netdev_buf **out, int max)
{
	void *c[VNET_QSIZE];
	unsigned n = virtq_drain(&vq->q, c, (unsigned)(max < VNET_QSIZE ? max : VNET_QSIZE));

	for (unsigned i = 0; i < n; i++) {
		out[i] = c[i];
		out[i]->len = 0, out[i]->off = 0;
		out[i]->flags = NETDEV_BUF_DROPPED;
	}
	return (int)n;
}

static int vnet_rx_poll(struct netdev *nd, struct netdev_buf **out, int max)
{
	struct vnet_pair *p = vpair(nd);
	struct virtio_net *vn = p->dev;
	int n = 0;

	if (vnet_report_fault(p))
		return NETDEV_ERR_DEVICE;
	if (vn->state != VNET_RUNNING || p->index >= vn->npairs)
		return vnet_drain(&p->rx, out, max);
	if (vn->mode == NETDEV_IRQ) /* polling now: no interrupts until irq_arm */
		virtq_irq_off(&p->rx.q);
	bool mrg = virtio_pci_has(&vn->vp, VIRTIO_NET_F_MRG_RXBUF);
	while (n < max) {
		void *c;
		uint32_t len;
		int got = virtq_get(&p->rx.q, &c, &len);
		if (got < 0)
			return vnet_fault_after(p, n, virtq_fault_str(p->rx.q.fault));
		if (got == 0)
			break;
		out[n] = c;
		if (!virtio_net_rx_fill(out[n], len, mrg, p->rx.q.size, &p->rx_more)) {
			out[n]->flags = NETDEV_BUF_DROPPED, out[n]->len = 0; /* back too, unused */
			return vnet_fault_after(
			    p, n + 1,
			    "receive header: length, num_buffers or checksum offsets out of range");
		}
		n++;
	}
	return n;
}

/* Queue one frame of k buffers; false if the ring is full. */
static bool vnet_tx_one(struct vnet_pair *p, struct netdev_buf **bufs, int k)
{
	struct virtq_seg s[1 + VNET_MAX_SEGS];
	uint16_t head = virtq_next_head(&p->tx.q);

	/* A full ring has no free head: its index would put the header past the header page. */
	if (p->tx.q.nfree < 1 + k)
		return false;
	struct virtio_net_hdr *h = (struct virtio_net_hdr *)(p->tx_hdr + head * VNET_HDR_SLOT);
	virtio_net_tx_hdr(h, bufs[0]);
	s[0] = (struct virtq_seg){.paddr = p->tx_hdr_pa + head * VNET_HDR_SLOT, .len = VNET_HDR};
	for (int i = 0; i < k; i++)
		s[1 + i] =
		    (struct virtq_seg){.paddr = bufs[i]->paddr + bufs[i]->off, .len = bufs[i]->len};
	if (virtq_add(&p->tx.q, s, (unsigned)(1 + k), &p->tx_nbufs[head]))
		return false;
	for (int i = 0; i < k; i++)
		p->tx_bufs[head][i] = bufs[i];
	p->tx_nbufs[head] = (uint8_t)k;
	return true;
}

static int vnet_tx(struct netdev *nd, struct netdev_buf **bufs, int n)
{
	struct vnet_pair *p = vpair(nd);
	int done = 0;

	if (p->dev->state != VNET_RUNNING || p->index >= p->dev->npairs)
		return vnet_not_running(p);
	while (done < n) {
		int k =
		    virtio_net_tx_frame(bufs + done, n - done, VNET_MAX_SEGS, nd->info.offloads);
		if (k < 0) {
			if (done == 0)
				return k;
			break;
		}
		if (!vnet_tx_one(p, bufs + done, k))
			break;
		done += k;
	}
	if (virtq_publish(&p->tx.q))
		virtio_pci_notify(&p->dev->vp, &p->tx.q);
	return done;
}

/* Copy the buffers of the transmit chain whose cookie is c into out; returns how many. */
static int vnet_tx_done(struct vnet_pair *p, void *c, struct netdev_buf **out, uint16_t flags)
{
	size_t head = (size_t)((uint8_t *)c - p->tx_nbufs);
	int k = p->tx_nbufs[head];

	for (int i = 0; i < k; i++) {
		out[i] = p->tx_bufs[head][i];
		out[i]->flags |= flags;
	}
	p->tx_nbufs[head] = 0;
	return k;
}

static int vnet_tx_reclaim(struct netdev *nd, struct netdev_buf **out, int max)
{
	struct vnet_pair *p = vpair(nd);
	int n = 0;

	if (max < VNET_MAX_SEGS)
		return NETDEV_ERR_INVALID;
	if (vnet_report_fault(p))
		return NETDEV_ERR_DEVICE;
	if (p->dev->state != VNET_RUNNING || p->index >= p->dev->npairs) {
		void *c[VNET_QSIZE]; /* chains in flight at the reset come back dropped */
		unsigned got = virtq_drain(&p->tx.q, c, (unsigned)(max / VNET_MAX_SEGS));
		for (unsigned i = 0; i < got; i++)
			n += vnet_tx_done(p, c[i], out + n, NETDEV_BUF_DROPPED);
		return n;
	}
	if (p->dev->mode == NETDEV_IRQ)
		virtq_irq_off(&p->tx.q);
	while (n + VNET_MAX_SEGS <= max) {
		void *c;
		uint32_t len;
		int got = virtq_get(&p->tx.q, &c, &len);
		if (got < 0)
			return vnet_fault_after(p, n, virtq_fault_str(p->tx.q.fault));
		if (got == 0)
			break;
		n += vnet_tx_done(p, c, out + n, 0);
	}
	return n;
}

static bool vnet_irq_arm(struct netdev *nd)
{
	struct vnet_pair *p = vpair(nd);

	if (p->dev->state != VNET_RUNNING || p->index >= p->dev->npairs)
		return true;
	bool rx = virtq_irq_on(&p->rx.q), tx = virtq_irq_on(&p->tx.q);
	return rx || tx;
}

bool virtio_net_inject_fault(struct netdev *nd, enum virtio_net_fault kind)
{
	struct virtq *q = &vpair(nd)->rx.q;

	if (kind == VIRTIO_NET_FAULT_USED_IDX) {
		q->used->idx = (uint16_t)(q->last_used + q->size + 1);
		return true;
	}
	if (virtq_used_pending(q) < 2)
		return false;
	q->used->ring[(uint16_t)(q->last_used + 1) & (q->size - 1)].id = 0xffff;
	return true;
}

const struct netdev_ops virtio_net_ops = {
    .start = virtio_net_start,
    .stop = virtio_net_stop,
    .rx_post = vnet_rx_post,
    .rx_poll = vnet_rx_poll,
    .tx = vnet_tx,
    .tx_reclaim = vnet_tx_reclaim,
    .link_up = virtio_net_link_up,
    .irq_arm = vnet_irq_arm,
};

struct netdev *virtio_net_pair(struct netdev *nd, unsigned i)
{
	struct virtio_net *vn = vpair(nd)->dev;

	return i < vn->npairs ? &vn->pair[i].nd : NULL; /* also after a fault: to drain */
}
