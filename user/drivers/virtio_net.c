/*
 * virtio-net driver (virtio 1.2 §5.1): one receive and one transmit split
 * virtqueue, each ring part in a 4 KiB DMA page of its own (so nothing
 * relies on two frames being contiguous). Receive buffers are the caller's,
 * posted one descriptor each; the 12-byte virtio_net_hdr lands at their
 * start, so a received frame begins at off = 12. Transmit chains are
 * [header][caller's segments...], the header from a driver page indexed by
 * the chain's head descriptor.
 *
 * Everything the device writes is checked (virtq.c for the used ring; here
 * the header's num_buffers and lengths); a violation resets the device and
 * returns NETDEV_ERR_DEVICE, after which rx_poll/tx_reclaim hand back every
 * buffer still posted, flagged NETDEV_BUF_DROPPED, and start() brings it up again.
 */
#include "virtio_net.h"
#include "virtio_pci.h"
#include <lib/string.h>

#define VNET_QSIZE     256 /* at most; the device may offer fewer */
#define VNET_MAX_SEGS  VIRTIO_NET_MAX_SEGS
#define VNET_HDR       ((uint16_t)sizeof(struct virtio_net_hdr))
#define VNET_FRAME_MAX VIRTIO_NET_FRAME_MAX
#define VNET_HDR_SLOT  16 /* bytes per transmit header in the header page */
#define VNET_MSIX_RX   0
#define VNET_MSIX_TX   1

enum vnet_state { VNET_STOPPED, VNET_RUNNING, VNET_FAULTED };

struct vnet_queue {
	struct virtq q;
	void *pages[3]; /* desc, avail, used */
	uint64_t pa[3];
};

static bool vnet_link_up(struct netdev *nd);

struct virtio_net {
	struct netdev nd;
	struct virtio_pci vp;
	uint16_t bdf;
	enum vnet_state state;
	enum netdev_mode mode;
	struct vnet_queue rx, tx;
	uint8_t *tx_hdr; /* VNET_HDR_SLOT bytes per descriptor index */
	uint64_t tx_hdr_pa;
	struct netdev_buf *tx_bufs[VNET_QSIZE][VNET_MAX_SEGS]; /* by chain head */
	uint8_t tx_nbufs[VNET_QSIZE];
	uint16_t rx_more;      /* buffers still to come of the frame being received */
	bool fault_unreported; /* a fault seen by a call that had buffers to hand back first */
	hl_cptr_t irq[2];
};

static const uint64_t vnet_wanted = 1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM |
                                    1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS |
                                    1ull << VIRTIO_NET_F_MRG_RXBUF |
                                    1ull << VIRTIO_NET_F_HOST_TSO4 | 1ull << VIRTIO_F_VERSION_1;

static struct virtio_net *vnet(struct netdev *nd)
{
	return nd->priv;
}

bool virtio_net_matches(uint16_t vendor, uint16_t device)
{
	return vendor == VIRTIO_PCI_VENDOR &&
	       (device == VIRTIO_PCI_DEVICE_NET || device == VIRTIO_PCI_DEVICE_NET_TRANS);
}

/*
 * No more DMA from the device: a virtio reset, and bus mastering off in case
 * the device ignores the reset (start() turns it on again). Returns whether
 * the reset completed.
 */
static bool vnet_quiesce(struct virtio_net *vn)
{
	hl_word_t cmd = 0;
	bool reset = virtio_pci_reset(&vn->vp);

	if (hl_pci_device_config_read(vn->vp.dev, 4, 2, &cmd) == HL_OK)
		(void)hl_pci_device_config_write(vn->vp.dev, 4, 2, cmd & ~(hl_word_t)0x4);
	return reset;
}

/* The device broke a rule: say what, stop its DMA, and keep the buffers for draining. */
static int vnet_fault(struct virtio_net *vn, const char *what)
{
	vn->nd.errors++;
	bool reset = vnet_quiesce(vn);
	rt_printf("virtio-net: %02x:%02x.%x: device fault: %s; device %s\n", vn->bdf >> 8,
	          (vn->bdf >> 3) & 31, vn->bdf & 7, what,
	          reset ? "reset" : "did not reset: bus mastering off");
	vn->state = VNET_FAULTED;
	vn->fault_unreported = true;
	return NETDEV_ERR_DEVICE;
}

/*
 * rx_poll and tx_reclaim after a fault: NETDEV_ERR_DEVICE once (unless the
 * call that saw the fault reported it), then the buffers still lent, dropped.
 */
static bool vnet_report_fault(struct virtio_net *vn)
{
	bool report = vn->state == VNET_FAULTED && vn->fault_unreported;

	vn->fault_unreported = false;
	return report;
}

/* The fault seen after n buffers were taken: hand those back now and report the fault next time. */
static int vnet_fault_after(struct virtio_net *vn, int n, const char *what)
{
	vnet_fault(vn, what);
	vn->fault_unreported = n > 0;
	return n > 0 ? n : NETDEV_ERR_DEVICE;
}

static int vnet_queue_pages(struct vnet_queue *vq)
{
	for (int i = 0; i < 3; i++)
		if (!vq->pages[i] && drv_dma_page(&vq->pages[i], &vq->pa[i]))
			return NETDEV_ERR_NOMEM;
	return NETDEV_OK;
}

/* Set up queue index (0 rx, 1 tx) on fresh rings and hand it to the device. */
static int vnet_queue_setup(struct virtio_net *vn, struct vnet_queue *vq, uint16_t index,
                            uint16_t msix)
{
	uint16_t max = virtio_pci_queue_max(&vn->vp, index), size = VNET_QSIZE;

	if (max == 0)
		return NETDEV_ERR_NODEV;
	while (size > max)
		size /= 2;
	if (vnet_queue_pages(vq))
		return NETDEV_ERR_NOMEM;
	for (int i = 0; i < 3; i++)
		memset(vq->pages[i], 0, DRV_PAGE);
	if (virtq_init(&vq->q, index, size, vq->pages[0], vq->pa[0], vq->pages[1], vq->pa[1],
	               vq->pages[2], vq->pa[2]))
		return NETDEV_ERR_NODEV; /* a size that is no power of two */
	if (vn->mode == NETDEV_POLLED)
		virtq_irq_off(&vq->q);
	return virtio_pci_queue_enable(&vn->vp, &vq->q, msix) ? NETDEV_ERR_NODEV : NETDEV_OK;
}

/* Interrupt mode: an MSI-X entry per queue, both signalling nd.notify (made once, kept for
 * restarts). */
static int vnet_irq_setup(struct virtio_net *vn)
{
	if (vn->irq[0])
		return NETDEV_OK;
	if (vn->vp.msix_entries < 2)
		return NETDEV_ERR_NODEV;
	vn->nd.notify = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	if (!vn->nd.notify)
		return NETDEV_ERR_NOMEM;
	for (int i = 0; i < 2; i++) {
		hl_cptr_t s = rt_slot();
		if (!s || hl_pci_device_msi(vn->vp.dev, (hl_word_t)i, 0, s) ||
		    hl_irq_handler_set_notification(s, vn->nd.notify))
			return NETDEV_ERR_NODEV;
		vn->irq[i] = s;
	}
	return NETDEV_OK;
}

/* The report at start (issue 13 item 7): where, what, MAC, link, queues, mode, offloads. */
static void vnet_report(struct virtio_net *vn)
{
	const uint8_t *m = vn->nd.info.mac;
	uint32_t o = vn->nd.info.offloads;
	hl_word_t id = 0;

	hl_pci_device_config_read(vn->vp.dev, 2, 2, &id);
	rt_printf(
	    "virtio-net: %02x:%02x.%x 1af4:%04lx %s, mac %02x:%02x:%02x:%02x:%02x:%02x, link %s, "
	    "%u queue pair (rx %u, tx %u), mode %s, offloads%s%s%s%s\n",
	    vn->bdf >> 8, (vn->bdf >> 3) & 31, vn->bdf & 7, id, vn->nd.info.model, m[0], m[1], m[2],
	    m[3], m[4], m[5], vnet_link_up(&vn->nd) ? "up" : "down", vn->nd.info.queue_pairs,
	    vn->rx.q.size, vn->tx.q.size,
	    vn->mode == NETDEV_IRQ ? "interrupt (MSI-X per queue)" : "polled",
	    o & NETDEV_OFF_TX_CSUM ? " tx-csum" : "", o & NETDEV_OFF_RX_CSUM ? " rx-csum" : "",
	    o & NETDEV_OFF_MRG_RX ? " mrg-rxbuf" : "", o & NETDEV_OFF_TSO4 ? " tso4" : "");
}

/* §3.1.1 device initialization, then §5.1.5: queues, DRIVER_OK. */
static int vnet_start(struct netdev *nd, enum netdev_mode mode)
{
	struct virtio_net *vn = vnet(nd);
	hl_word_t cmd = 0;
	int err;

	if (mode != NETDEV_POLLED && mode != NETDEV_IRQ)
		return NETDEV_ERR_INVALID;
	if (vn->state == VNET_RUNNING || vn->rx.q.inflight || vn->tx.q.inflight)
		return NETDEV_ERR_STATE; /* running, or buffers not yet handed back after a fault */
	vn->mode = mode;
	vn->fault_unreported = false;
	if (!virtio_pci_reset(&vn->vp))
		return NETDEV_ERR_NODEV;
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if (virtio_pci_negotiate(&vn->vp, vnet_wanted))
		goto fail;
	if (mode == NETDEV_IRQ && (err = vnet_irq_setup(vn)))
		goto fail_err;
	uint16_t none = VIRTIO_MSI_NO_VECTOR;
	if ((err = vnet_queue_setup(vn, &vn->rx, 0, mode == NETDEV_IRQ ? VNET_MSIX_RX : none)) ||
	    (err = vnet_queue_setup(vn, &vn->tx, 1, mode == NETDEV_IRQ ? VNET_MSIX_TX : none)))
		goto fail_err;
	/* Memory space and bus mastering: the device's DMA and its MSI-X messages. */
	if (hl_pci_device_config_read(vn->vp.dev, 4, 2, &cmd) ||
	    hl_pci_device_config_write(vn->vp.dev, 4, 2, cmd | 0x6))
		goto fail;
	vn->rx_more = 0;
	vn->nd.info.rx_slots = vn->rx.q.size;
	vn->nd.info.tx_slots = vn->tx.q.size;
	vn->nd.info.offloads =
	    (virtio_pci_has(&vn->vp, VIRTIO_NET_F_CSUM) ? NETDEV_OFF_TX_CSUM : 0) |
	    (virtio_pci_has(&vn->vp, VIRTIO_NET_F_GUEST_CSUM) ? NETDEV_OFF_RX_CSUM : 0) |
	    (virtio_pci_has(&vn->vp, VIRTIO_NET_F_MRG_RXBUF) ? NETDEV_OFF_MRG_RX : 0) |
	    (virtio_pci_has(&vn->vp, VIRTIO_NET_F_HOST_TSO4) &&
	             virtio_pci_has(&vn->vp, VIRTIO_NET_F_CSUM)
	         ? NETDEV_OFF_TSO4
	         : 0);
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_DRIVER_OK);
	vn->state = VNET_RUNNING;
	vnet_report(vn);
	return NETDEV_OK;
fail:
	err = NETDEV_ERR_NODEV;
fail_err:
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_FAILED);
	vn->state = VNET_STOPPED;
	return err;
}

static void vnet_stop(struct netdev *nd)
{
	struct virtio_net *vn = vnet(nd);

	vnet_quiesce(vn);
	if (vn->state == VNET_RUNNING)
		vn->state = VNET_STOPPED;
}

static int vnet_rx_post(struct netdev *nd, struct netdev_buf **bufs, int n)
{
	struct virtio_net *vn = vnet(nd);
	int i;

	if (vn->state != VNET_RUNNING)
		return vn->state == VNET_FAULTED ? NETDEV_ERR_DEVICE : NETDEV_ERR_STATE;
	for (i = 0; i < n; i++) {
		if (bufs[i]->cap < nd->info.rx_buf_min || bufs[i]->cap > 0xffff) {
			if (i == 0)
				return NETDEV_ERR_INVALID;
			break;
		}
		struct virtq_seg s = {
		    .paddr = bufs[i]->paddr, .len = bufs[i]->cap, .device_writes = true};
		if (virtq_add(&vn->rx.q, &s, 1, bufs[i]))
			break;
	}
	if (virtq_publish(&vn->rx.q))
		virtio_pci_notify(&vn->vp, &vn->rx.q);
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
	struct virtio_net *vn = vnet(nd);
	int n = 0;

	if (vnet_report_fault(vn))
		return NETDEV_ERR_DEVICE;
	if (vn->state == VNET_FAULTED || vn->state == VNET_STOPPED)
		return vnet_drain(&vn->rx, out, max);
	if (vn->mode == NETDEV_IRQ) /* polling now: no interrupts until irq_arm */
		virtq_irq_off(&vn->rx.q);
	while (n < max) {
		void *c;
		uint32_t len;
		int got = virtq_get(&vn->rx.q, &c, &len);
		if (got < 0)
			return vnet_fault_after(vn, n, virtq_fault_str(vn->rx.q.fault));
		if (got == 0)
			break;
		out[n] = c;
		if (!virtio_net_rx_fill(out[n], len,
		                        virtio_pci_has(&vn->vp, VIRTIO_NET_F_MRG_RXBUF),
		                        vn->rx.q.size, &vn->rx_more)) {
			out[n]->flags = NETDEV_BUF_DROPPED, out[n]->len = 0; /* back too, unused */
			return vnet_fault_after(
			    vn, n + 1,
			    "receive header: length, num_buffers or checksum offsets out of range");
		}
		n++;
	}
	return n;
}

/* Queue one frame of k buffers; false if the ring is full. */
static bool vnet_tx_one(struct virtio_net *vn, struct netdev_buf **bufs, int k)
{
	struct virtq_seg s[1 + VNET_MAX_SEGS];
	uint16_t head = virtq_next_head(&vn->tx.q);
	struct virtio_net_hdr *h = (struct virtio_net_hdr *)(vn->tx_hdr + head * VNET_HDR_SLOT);

	virtio_net_tx_hdr(h, bufs[0]);
	s[0] = (struct virtq_seg){.paddr = vn->tx_hdr_pa + head * VNET_HDR_SLOT, .len = VNET_HDR};
	for (int i = 0; i < k; i++)
		s[1 + i] =
		    (struct virtq_seg){.paddr = bufs[i]->paddr + bufs[i]->off, .len = bufs[i]->len};
	if (virtq_add(&vn->tx.q, s, (unsigned)(1 + k), &vn->tx_nbufs[head]))
		return false;
	for (int i = 0; i < k; i++)
		vn->tx_bufs[head][i] = bufs[i];
	vn->tx_nbufs[head] = (uint8_t)k;
	return true;
}

static int vnet_tx(struct netdev *nd, struct netdev_buf **bufs, int n)
{
	struct virtio_net *vn = vnet(nd);
	int done = 0;

	if (vn->state != VNET_RUNNING)
		return vn->state == VNET_FAULTED ? NETDEV_ERR_DEVICE : NETDEV_ERR_STATE;
	while (done < n) {
		int k =
		    virtio_net_tx_frame(bufs + done, n - done, VNET_MAX_SEGS, nd->info.offloads);
		if (k < 0) {
			if (done == 0)
				return k;
			break;
		}
		if (!vnet_tx_one(vn, bufs + done, k))
			break;
		done += k;
	}
	if (virtq_publish(&vn->tx.q))
		virtio_pci_notify(&vn->vp, &vn->tx.q);
	return done;
}

/* Copy the buffers of the transmit chain whose cookie is c into out; returns how many. */
static int vnet_tx_done(struct virtio_net *vn, void *c, struct netdev_buf **out, uint16_t flags)
{
	size_t head = (size_t)((uint8_t *)c - vn->tx_nbufs);
	int k = vn->tx_nbufs[head];

	for (int i = 0; i < k; i++) {
		out[i] = vn->tx_bufs[head][i];
		out[i]->flags |= flags;
	}
	vn->tx_nbufs[head] = 0;
	return k;
}

static int vnet_tx_reclaim(struct netdev *nd, struct netdev_buf **out, int max)
{
	struct virtio_net *vn = vnet(nd);
	int n = 0;

	if (max < VNET_MAX_SEGS)
		return NETDEV_ERR_INVALID;
	if (vnet_report_fault(vn))
		return NETDEV_ERR_DEVICE;
	if (vn->state != VNET_RUNNING) { /* chains in flight at the reset come back dropped */
		void *c[VNET_QSIZE];
		unsigned got = virtq_drain(&vn->tx.q, c, (unsigned)(max / VNET_MAX_SEGS));
		for (unsigned i = 0; i < got; i++)
			n += vnet_tx_done(vn, c[i], out + n, NETDEV_BUF_DROPPED);
		return n;
	}
	if (vn->mode == NETDEV_IRQ)
		virtq_irq_off(&vn->tx.q);
	while (n + VNET_MAX_SEGS <= max) {
		void *c;
		uint32_t len;
		int got = virtq_get(&vn->tx.q, &c, &len);
		if (got < 0)
			return vnet_fault_after(vn, n, virtq_fault_str(vn->tx.q.fault));
		if (got == 0)
			break;
		n += vnet_tx_done(vn, c, out + n, 0);
	}
	return n;
}

static bool vnet_link_up(struct netdev *nd)
{
	struct virtio_net *vn = vnet(nd);

	if (!virtio_pci_has(&vn->vp, VIRTIO_NET_F_STATUS))
		return true; /* §5.1.4: without STATUS the link is assumed up */
	return virtio_pci_config16(&vn->vp, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP;
}

static bool vnet_irq_arm(struct netdev *nd)
{
	struct virtio_net *vn = vnet(nd);
	bool rx = virtq_irq_on(&vn->rx.q), tx = virtq_irq_on(&vn->tx.q);

	return rx || tx || vn->state != VNET_RUNNING;
}

bool virtio_net_inject_fault(struct netdev *nd, enum virtio_net_fault kind)
{
	struct virtq *q = &vnet(nd)->rx.q;

	if (kind == VIRTIO_NET_FAULT_USED_IDX) {
		q->used->idx = (uint16_t)(q->last_used + q->size + 1);
		return true;
	}
	if (virtq_used_pending(q) < 2)
		return false;
	q->used->ring[(uint16_t)(q->last_used + 1) & (q->size - 1)].id = 0xffff;
	return true;
}

static const struct netdev_ops virtio_net_ops = {
    .start = vnet_start,
    .stop = vnet_stop,
    .rx_post = vnet_rx_post,
    .rx_poll = vnet_rx_poll,
    .tx = vnet_tx,
    .tx_reclaim = vnet_tx_reclaim,
    .link_up = vnet_link_up,
    .irq_arm = vnet_irq_arm,
};

/* Without VIRTIO_NET_F_MAC (§5.1.5): a random locally administered unicast address. */
static void vnet_random_mac(uint8_t mac[6])
{
	uint64_t t = drv_rdtsc() * 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(t >> (8 * i + 8));
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

struct netdev *virtio_net_open(hl_cptr_t dev, uint16_t bdf, int *err)
{
	struct virtio_net *vn = rt_calloc(1, sizeof(*vn));
	void *hdr;

	*err = NETDEV_ERR_NOMEM;
	if (!vn)
		return NULL;
	if (drv_dma_page(&hdr, &vn->tx_hdr_pa))
		goto fail; /* the page, if made, stays with the partition: drv_env has no free */
	vn->tx_hdr = hdr;
	vn->bdf = bdf;
	*err = NETDEV_ERR_NODEV;
	if (virtio_pci_open(&vn->vp, dev) || !vn->vp.devcfg || !virtio_pci_reset(&vn->vp))
		goto fail;
	/* The features decide what the configuration holds: negotiated here to read it, again by
	 * start(). */
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if (virtio_pci_negotiate(&vn->vp, vnet_wanted))
		goto fail_reset;
	vn->nd.ops = &virtio_net_ops;
	vn->nd.priv = vn;
	vn->nd.info.model = "virtio-net (virtio 1.x modern PCI)";
	if (virtio_pci_has(&vn->vp, VIRTIO_NET_F_MAC))
		virtio_pci_config(&vn->vp, VIRTIO_NET_CFG_MAC, vn->nd.info.mac, 6);
	else
		vnet_random_mac(vn->nd.info.mac);
	vn->nd.info.mtu = 1500;
	vn->nd.info.rx_buf_min = VNET_HDR + VNET_FRAME_MAX;
	vn->nd.info.max_tx_segs = VNET_MAX_SEGS;
	vn->nd.info.queue_pairs = 1;
	virtio_pci_reset(&vn->vp);
	*err = NETDEV_OK;
	return &vn->nd;
fail_reset:
	virtio_pci_reset(&vn->vp);
fail:
	rt_free(vn);
	return NULL;
}
