/*
 * virtio-net bring-up (virtio 1.2 §3.1.1, §5.1.5): open, feature
 * negotiation, queues for each pair and the control queue, MSI-X, the
 * number of queue pairs, the report at start, and stopping the device's
 * DMA when it breaks a rule. The data path is virtio_net.c.
 */
#include "virtio_net_int.h"
#include <lib/string.h>

static const uint64_t vnet_wanted =
    1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM | 1ull << VIRTIO_NET_F_MAC |
    1ull << VIRTIO_NET_F_STATUS | 1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_HOST_TSO4 |
    1ull << VIRTIO_NET_F_CTRL_VQ | 1ull << VIRTIO_NET_F_MQ | 1ull << VIRTIO_F_VERSION_1 |
    1ull << VIRTIO_F_ACCESS_PLATFORM; /* DMA through the platform's IOMMU (identity addresses) */

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
bool virtio_net_quiesce(struct virtio_net *vn)
{
	hl_word_t cmd = 0;
	bool reset = virtio_pci_reset(&vn->vp);

	if (hl_pci_device_config_read(vn->vp.dev, 4, 2, &cmd) == HL_OK)
		(void)hl_pci_device_config_write(vn->vp.dev, 4, 2, cmd & ~(hl_word_t)0x4);
	return reset;
}

/* The device broke a rule: say what, stop its DMA, and keep the buffers for draining. */
int virtio_net_fault(struct virtio_net *vn, const char *what)
{
	vn->pair[0].nd.errors++;
	bool reset = virtio_net_quiesce(vn);
	rt_printf("virtio-net: %02x:%02x.%x: device fault: %s; device %s\n", vn->bdf >> 8,
	          (vn->bdf >> 3) & 31, vn->bdf & 7, what,
	          reset ? "reset" : "did not reset: bus mastering off");
	vn->state = VNET_FAULTED;
	for (int i = 0; i < vn->npairs; i++)
		vn->pair[i].fault_unreported = true;
	return NETDEV_ERR_DEVICE;
}

static int vnet_queue_pages(struct virtio_net *vn, struct vnet_queue *vq)
{
	for (int i = 0; i < 3; i++)
		if (!vq->pages[i] && drv_dma_page(vn->vp.dev, &vq->pages[i], &vq->pa[i]))
			return NETDEV_ERR_NOMEM;
	return NETDEV_OK;
}

/* Set up queue index on fresh rings of at most size entries and hand it to the device. */
static int vnet_queue_setup(struct virtio_net *vn, struct vnet_queue *vq, uint16_t index,
                            uint16_t size, uint16_t msix)
{
	uint16_t max = virtio_pci_queue_max(&vn->vp, index);

	if (max == 0)
		return NETDEV_ERR_NODEV;
	while (size > max)
		size /= 2;
	if (vnet_queue_pages(vn, vq))
		return NETDEV_ERR_NOMEM;
	for (int i = 0; i < 3; i++)
		memset(vq->pages[i], 0, DRV_PAGE);
	if (virtq_init(&vq->q, index, size, vq->pages[0], vq->pa[0], vq->pages[1], vq->pa[1],
	               vq->pages[2], vq->pa[2]))
		return NETDEV_ERR_NODEV; /* a size that is no power of two */
	if (vn->mode == NETDEV_POLLED || msix == VIRTIO_MSI_NO_VECTOR)
		virtq_irq_off(&vq->q);
	return virtio_pci_queue_enable(&vn->vp, &vq->q, msix) ? NETDEV_ERR_NODEV : NETDEV_OK;
}

/*
 * Interrupt mode: MSI-X entries 2i and 2i + 1 for pair i's queues, all
 * signalling one notification (every pair's nd.notify); made once, kept
 * for restarts.
 */
static int vnet_irq_setup(struct virtio_net *vn)
{
	hl_cptr_t ntfn = vn->pair[0].nd.notify;

	if (!ntfn && !(ntfn = rt_alloc(HL_OBJ_NOTIFICATION, 0)))
		return NETDEV_ERR_NOMEM;
	for (int i = 0; i < vn->npairs; i++) {
		struct vnet_pair *p = &vn->pair[i];
		p->nd.notify = ntfn;
		for (int j = 0; j < 2 && !p->irq[j]; j++) {
			hl_cptr_t s = rt_slot();
			if (!s ||
			    hl_pci_device_msi(vn->vp.dev, 2 * (hl_word_t)i + (hl_word_t)j, 0, s) ||
			    hl_irq_handler_set_notification(s, ntfn))
				return NETDEV_ERR_NODEV;
			p->irq[j] = s;
		}
	}
	return NETDEV_OK;
}

/*
 * §5.1.6.5.5: tell the device how many queue pairs to use, through the
 * control queue (polled: one command, at most 1 s).
 */
static int vnet_set_pairs(struct virtio_net *vn, uint16_t pairs)
{
	struct virtq *q = &vn->ctrl.q;
	struct virtq_seg s[3] = {{vn->ctrl_buf_pa, 2, false},
	                         {vn->ctrl_buf_pa + 2, 2, false},
	                         {vn->ctrl_buf_pa + 4, 1, true}};
	void *c;
	uint32_t len;

	vn->ctrl_buf[0] = VNET_CTRL_MQ, vn->ctrl_buf[1] = VNET_CTRL_MQ_VQ_PAIRS_SET;
	vn->ctrl_buf[2] = (uint8_t)pairs, vn->ctrl_buf[3] = (uint8_t)(pairs >> 8);
	vn->ctrl_buf[4] = 0xff;
	if (virtq_add(q, s, 3, vn->ctrl_buf))
		return NETDEV_ERR_NODEV;
	if (virtq_publish(q))
		virtio_pci_notify(&vn->vp, q);
	for (uint64_t end = drv_rdtsc() + drv_ms_to_tsc(1000); drv_rdtsc() < end;) {
		int got = virtq_get(q, &c, &len);
		if (got < 0)
			return virtio_net_fault(vn, virtq_fault_str(q->fault));
		if (got == 1)
			return len == 1 && vn->ctrl_buf[4] == VNET_CTRL_OK ? NETDEV_OK
			                                                   : NETDEV_ERR_NODEV;
	}
	return NETDEV_ERR_NODEV;
}

/* The report at start (issue 13 item 7): where, what, MAC, link, queues, mode, offloads. */
static void vnet_report(struct virtio_net *vn)
{
	const struct netdev_info *in = &vn->pair[0].nd.info;
	const uint8_t *m = in->mac;
	uint32_t o = in->offloads;
	hl_word_t id = 0;

	hl_pci_device_config_read(vn->vp.dev, 2, 2, &id);
	rt_printf(
	    "virtio-net: %02x:%02x.%x 1af4:%04lx %s, mac %02x:%02x:%02x:%02x:%02x:%02x, link %s, "
	    "%u queue pair%s (rx %u, tx %u each), mode %s, offloads%s%s%s%s%s\n",
	    vn->bdf >> 8, (vn->bdf >> 3) & 31, vn->bdf & 7, id, in->model, m[0], m[1], m[2], m[3],
	    m[4], m[5], virtio_net_link_up(&vn->pair[0].nd) ? "up" : "down", vn->npairs,
	    vn->npairs == 1 ? "" : "s", in->rx_slots, in->tx_slots,
	    vn->mode == NETDEV_IRQ ? "interrupt (MSI-X per queue)" : "polled",
	    o & NETDEV_OFF_TX_CSUM ? " tx-csum" : "", o & NETDEV_OFF_RX_CSUM ? " rx-csum" : "",
	    o & NETDEV_OFF_MRG_RX ? " mrg-rxbuf" : "", o & NETDEV_OFF_TSO4 ? " tso4" : "",
	    o & NETDEV_OFF_RX_TSO4 ? " rx-tso4" : "");
}

/* Pairs to use: what the device offers (MQ), what fits, and in interrupt mode two MSI-X entries
 * each. */
static uint16_t vnet_pairs_wanted(struct virtio_net *vn)
{
	uint16_t n = 1;

	if (virtio_pci_has(&vn->vp, VIRTIO_NET_F_MQ) &&
	    virtio_pci_has(&vn->vp, VIRTIO_NET_F_CTRL_VQ))
		n = vn->max_pairs < VIRTIO_NET_MAX_PAIRS ? vn->max_pairs : VIRTIO_NET_MAX_PAIRS;
	if (vn->mode == NETDEV_IRQ && n > vn->vp.msix_entries / 2)
		n = (uint16_t)(vn->vp.msix_entries / 2);
	return n ? n : 1;
}

/* Each pair's queues, then the control queue (MQ). */
static int vnet_queues_setup(struct virtio_net *vn)
{
	int err;

	for (uint16_t i = 0; i < vn->npairs; i++) {
		struct vnet_pair *p = &vn->pair[i];
		bool irq = vn->mode == NETDEV_IRQ;
		if ((err = vnet_queue_setup(vn, &p->rx, (uint16_t)(2 * i), VNET_QSIZE,
		                            irq ? (uint16_t)(2 * i) : VIRTIO_MSI_NO_VECTOR)) ||
		    (err = vnet_queue_setup(vn, &p->tx, (uint16_t)(2 * i + 1), VNET_QSIZE,
		                            irq ? (uint16_t)(2 * i + 1) : VIRTIO_MSI_NO_VECTOR)))
			return err;
		p->rx_more = 0;
	}
	if (!virtio_pci_has(&vn->vp, VIRTIO_NET_F_CTRL_VQ))
		return NETDEV_OK;
	return vnet_queue_setup(vn, &vn->ctrl, (uint16_t)(2 * vn->max_pairs), VNET_CTRL_SIZE,
	                        VIRTIO_MSI_NO_VECTOR);
}

/* What every pair's handle says after a start. */
static void vnet_publish_info(struct virtio_net *vn)
{
	struct netdev_info *in = &vn->pair[0].nd.info;

	in->rx_slots = vn->pair[0].rx.q.size;
	in->tx_slots = vn->pair[0].tx.q.size;
	in->queue_pairs = vn->npairs;
	in->offloads = (virtio_pci_has(&vn->vp, VIRTIO_NET_F_CSUM) ? NETDEV_OFF_TX_CSUM : 0) |
	               (virtio_pci_has(&vn->vp, VIRTIO_NET_F_GUEST_CSUM) ? NETDEV_OFF_RX_CSUM : 0) |
	               (virtio_pci_has(&vn->vp, VIRTIO_NET_F_MRG_RXBUF) ? NETDEV_OFF_MRG_RX : 0) |
	               (virtio_pci_has(&vn->vp, VIRTIO_NET_F_HOST_TSO4) &&
	                        virtio_pci_has(&vn->vp, VIRTIO_NET_F_CSUM)
	                    ? NETDEV_OFF_TSO4
	                    : 0) |
	               (virtio_pci_has(&vn->vp, VIRTIO_NET_F_GUEST_TSO4) &&
	                        virtio_pci_has(&vn->vp, VIRTIO_NET_F_MRG_RXBUF)
	                    ? NETDEV_OFF_RX_TSO4
	                    : 0);
	for (int i = 1; i < vn->npairs; i++)
		vn->pair[i].nd.info = *in;
}

/* §3.1.1 device initialization, then §5.1.5: queues, DRIVER_OK, the number of pairs. Pair 0 only.
 */
int virtio_net_start(struct netdev *nd, enum netdev_mode mode)
{
	struct vnet_pair *p0 = vpair(nd);
	struct virtio_net *vn = p0->dev;
	hl_word_t cmd = 0;
	int err;

	if (mode != NETDEV_POLLED && mode != NETDEV_IRQ)
		return NETDEV_ERR_INVALID;
	if (p0->index != 0 || vn->state == VNET_RUNNING)
		return NETDEV_ERR_STATE;
	for (int i = 0; i < VIRTIO_NET_MAX_PAIRS; i++)
		if (vn->pair[i].rx.q.inflight || vn->pair[i].tx.q.inflight)
			return NETDEV_ERR_STATE; /* buffers not yet handed back after a fault */
	vn->mode = mode;
	if (!virtio_pci_reset(&vn->vp))
		return NETDEV_ERR_NODEV;
	/* large received frames only for a caller that takes them, and only over mergeable buffers
	 * with checksum offload (§5.1.3.1: GUEST_TSO4 needs GUEST_CSUM), as open negotiated */
	uint64_t wanted = vnet_wanted;
	if ((nd->want & NETDEV_OFF_RX_TSO4) && virtio_pci_has(&vn->vp, VIRTIO_NET_F_MRG_RXBUF) &&
	    virtio_pci_has(&vn->vp, VIRTIO_NET_F_GUEST_CSUM))
		wanted |= 1ull << VIRTIO_NET_F_GUEST_TSO4;
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if (virtio_pci_negotiate(&vn->vp, wanted))
		goto fail;
	vn->npairs = vnet_pairs_wanted(vn);
	for (int i = 0; i < VIRTIO_NET_MAX_PAIRS; i++)
		vn->pair[i].fault_unreported = false;
	if ((mode == NETDEV_IRQ && (err = vnet_irq_setup(vn))) || (err = vnet_queues_setup(vn)))
		goto fail_err;
	/* Memory space and bus mastering: the device's DMA and its MSI-X messages. */
	if (hl_pci_device_config_read(vn->vp.dev, 4, 2, &cmd) ||
	    hl_pci_device_config_write(vn->vp.dev, 4, 2, cmd | 0x6))
		goto fail;
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_DRIVER_OK);
	if (virtio_pci_has(&vn->vp, VIRTIO_NET_F_MQ) && (err = vnet_set_pairs(vn, vn->npairs)))
		goto fail_err;
	vnet_publish_info(vn);
	vn->state = VNET_RUNNING;
	vnet_report(vn);
	return NETDEV_OK;
fail:
	err = NETDEV_ERR_NODEV;
fail_err:
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_FAILED);
	virtio_net_quiesce(vn);
	vn->state = VNET_STOPPED;
	return err;
}

void virtio_net_stop(struct netdev *nd)
{
	struct vnet_pair *p = vpair(nd);

	if (p->index != 0)
		return;
	virtio_net_quiesce(p->dev);
	if (p->dev->state == VNET_RUNNING)
		p->dev->state = VNET_STOPPED;
}

bool virtio_net_link_up(struct netdev *nd)
{
	struct virtio_net *vn = vpair(nd)->dev;

	if (virtio_pci_gone(&vn->vp))
		return false; /* the configuration would read all-ones: "up" */
	if (!virtio_pci_has(&vn->vp, VIRTIO_NET_F_STATUS))
		return true; /* §5.1.4: without STATUS the link is assumed up */
	return virtio_pci_config16(&vn->vp, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP;
}

/* Without VIRTIO_NET_F_MAC (§5.1.5): a random locally administered unicast address. */
static void vnet_random_mac(uint8_t mac[6])
{
	uint64_t t = drv_rdtsc() * 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(t >> (8 * i + 8));
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
}

/* DMA pages every pair and the control queue need whatever the mode: transmit headers, the command.
 */
static int vnet_pages(struct virtio_net *vn, hl_cptr_t dev)
{
	void *va;

	for (int i = 0; i < VIRTIO_NET_MAX_PAIRS; i++) {
		if (drv_dma_page(dev, &va, &vn->pair[i].tx_hdr_pa))
			return NETDEV_ERR_NOMEM;
		vn->pair[i].tx_hdr = va;
	}
	if (drv_dma_page(dev, &va, &vn->ctrl_buf_pa))
		return NETDEV_ERR_NOMEM;
	vn->ctrl_buf = va;
	return NETDEV_OK;
}

/* The handles' fixed part: ops, the device, and what start() does not change. */
static void vnet_handles(struct virtio_net *vn)
{
	struct netdev_info *in = &vn->pair[0].nd.info;

	in->model = "virtio-net (virtio 1.x modern PCI)";
	if (virtio_pci_has(&vn->vp, VIRTIO_NET_F_MAC))
		virtio_pci_config(&vn->vp, VIRTIO_NET_CFG_MAC, in->mac, 6);
	else
		vnet_random_mac(in->mac);
	in->mtu = 1500;
	in->rx_buf_min = VNET_HDR + VNET_FRAME_MAX;
	in->max_tx_segs = VNET_MAX_SEGS;
	in->queue_pairs = 1;
	for (uint16_t i = 0; i < VIRTIO_NET_MAX_PAIRS; i++) {
		struct vnet_pair *p = &vn->pair[i];
		p->nd.ops = &virtio_net_ops;
		p->nd.priv = p;
		p->dev = vn;
		p->index = i;
		if (i)
			p->nd.info = *in;
	}
}

struct netdev *virtio_net_open(hl_cptr_t dev, uint16_t bdf, int *err)
{
	struct virtio_net *vn = rt_calloc(1, sizeof(*vn));

	*err = NETDEV_ERR_NOMEM;
	if (!vn)
		return NULL;
	if (vnet_pages(vn, dev))
		goto fail; /* pages made stay with the partition: drv_env has no free */
	vn->bdf = bdf;
	*err = NETDEV_ERR_NODEV;
	if (virtio_pci_open(&vn->vp, dev) || !vn->vp.devcfg || !virtio_pci_reset(&vn->vp))
		goto fail;
	/* The features decide what the configuration holds: negotiated here to read it, again by
	 * start(). */
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if (virtio_pci_negotiate(&vn->vp, vnet_wanted))
		goto fail_reset;
	vn->max_pairs = virtio_pci_has(&vn->vp, VIRTIO_NET_F_MQ)
	                    ? virtio_pci_config16(&vn->vp, VIRTIO_NET_CFG_MAXPAIRS)
	                    : 1;
	if (vn->max_pairs == 0 || vn->max_pairs > 0x8000)
		goto fail_reset; /* §5.1.4: 1 to 0x8000 */
	vnet_handles(vn);
	virtio_pci_reset(&vn->vp);
	*err = NETDEV_OK;
	return &vn->pair[0].nd;
fail_reset:
	virtio_pci_reset(&vn->vp);
fail:
	rt_free(vn);
	return NULL;
}
