/*
 * virtio-net driver (virtio 1.2 §5.1): split virtqueues, one receive and
 * one transmit queue per queue pair (several with VIRTIO_NET_F_MQ, set
 * through the control queue), each ring part in a 4 KiB DMA page of its
 * own (so nothing relies on two frames being contiguous). Receive buffers
 * are the caller's, posted one descriptor each; the 12-byte virtio_net_hdr
 * lands at their start, so a received frame begins at off = 12. Transmit
 * chains are [header][caller's segments...], the header from the pair's
 * header page at the chain's head descriptor index.
 *
 * Each queue pair is a netdev handle of its own (virtio_net_pair), driven
 * by one thread; start and stop act on the whole device through pair 0.
 *
 * Everything the device writes is checked (virtq.c for the used rings,
 * virtio_net_hdr.c for receive headers); a violation stops the device's
 * DMA and returns NETDEV_ERR_DEVICE, after which rx_poll/tx_reclaim of
 * every pair hand back the buffers still posted, flagged
 * NETDEV_BUF_DROPPED, and start() brings the device up again.
 */
#include "virtio_net.h"
#include "virtio_pci.h"
#include <lib/string.h>

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

static bool vnet_link_up(struct netdev *nd);

static const uint64_t vnet_wanted =
    1ull << VIRTIO_NET_F_CSUM | 1ull << VIRTIO_NET_F_GUEST_CSUM | 1ull << VIRTIO_NET_F_MAC |
    1ull << VIRTIO_NET_F_STATUS | 1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_HOST_TSO4 |
    1ull << VIRTIO_NET_F_CTRL_VQ | 1ull << VIRTIO_NET_F_MQ | 1ull << VIRTIO_F_VERSION_1;

static struct vnet_pair *vpair(struct netdev *nd)
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
	vn->pair[0].nd.errors++;
	bool reset = vnet_quiesce(vn);
	rt_printf("virtio-net: %02x:%02x.%x: device fault: %s; device %s\n", vn->bdf >> 8,
	          (vn->bdf >> 3) & 31, vn->bdf & 7, what,
	          reset ? "reset" : "did not reset: bus mastering off");
	vn->state = VNET_FAULTED;
	for (int i = 0; i < vn->npairs; i++)
		vn->pair[i].fault_unreported = true;
	return NETDEV_ERR_DEVICE;
}

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
	vnet_fault(p->dev, what);
	p->fault_unreported = n > 0;
	return n > 0 ? n : NETDEV_ERR_DEVICE;
}

static int vnet_queue_pages(struct vnet_queue *vq)
{
	for (int i = 0; i < 3; i++)
		if (!vq->pages[i] && drv_dma_page(&vq->pages[i], &vq->pa[i]))
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
	if (vnet_queue_pages(vq))
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
			if (!s || hl_pci_device_msi(vn->vp.dev, (hl_word_t)(2 * i + j), 0, s) ||
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
			return vnet_fault(vn, virtq_fault_str(q->fault));
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
	    "%u queue pair%s (rx %u, tx %u each), mode %s, offloads%s%s%s%s\n",
	    vn->bdf >> 8, (vn->bdf >> 3) & 31, vn->bdf & 7, id, in->model, m[0], m[1], m[2], m[3],
	    m[4], m[5], vnet_link_up(&vn->pair[0].nd) ? "up" : "down", vn->npairs,
	    vn->npairs == 1 ? "" : "s", in->rx_slots, in->tx_slots,
	    vn->mode == NETDEV_IRQ ? "interrupt (MSI-X per queue)" : "polled",
	    o & NETDEV_OFF_TX_CSUM ? " tx-csum" : "", o & NETDEV_OFF_RX_CSUM ? " rx-csum" : "",
	    o & NETDEV_OFF_MRG_RX ? " mrg-rxbuf" : "", o & NETDEV_OFF_TSO4 ? " tso4" : "");
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
	                    : 0);
	for (int i = 1; i < vn->npairs; i++)
		vn->pair[i].nd.info = *in;
}

/* §3.1.1 device initialization, then §5.1.5: queues, DRIVER_OK, the number of pairs. Pair 0 only.
 */
static int vnet_start(struct netdev *nd, enum netdev_mode mode)
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
	virtio_pci_set_status(&vn->vp, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	if (virtio_pci_negotiate(&vn->vp, vnet_wanted))
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
	vnet_quiesce(vn);
	vn->state = VNET_STOPPED;
	return err;
}

static void vnet_stop(struct netdev *nd)
{
	struct vnet_pair *p = vpair(nd);

	if (p->index != 0)
		return;
	vnet_quiesce(p->dev);
	if (p->dev->state == VNET_RUNNING)
		p->dev->state = VNET_STOPPED;
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
		if (bufs[i]->cap < nd->info.rx_buf_min || bufs[i]->cap > 0xffff) {
			if (i == 0)
				return NETDEV_ERR_INVALID;
			break;
		}
		struct virtq_seg s = {
		    .paddr = bufs[i]->paddr, .len = bufs[i]->cap, .device_writes = true};
		if (virtq_add(&p->rx.q, &s, 1, bufs[i]))
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
	while (n < max) {
		void *c;
		uint32_t len;
		int got = virtq_get(&p->rx.q, &c, &len);
		if (got < 0)
			return vnet_fault_after(p, n, virtq_fault_str(p->rx.q.fault));
		if (got == 0)
			break;
		out[n] = c;
		if (!virtio_net_rx_fill(out[n], len,
		                        virtio_pci_has(&vn->vp, VIRTIO_NET_F_MRG_RXBUF),
		                        p->rx.q.size, &p->rx_more)) {
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

static bool vnet_link_up(struct netdev *nd)
{
	struct virtio_net *vn = vpair(nd)->dev;

	if (!virtio_pci_has(&vn->vp, VIRTIO_NET_F_STATUS))
		return true; /* §5.1.4: without STATUS the link is assumed up */
	return virtio_pci_config16(&vn->vp, VIRTIO_NET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP;
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

struct netdev *virtio_net_pair(struct netdev *nd, unsigned i)
{
	struct virtio_net *vn = vpair(nd)->dev;

	return i < vn->npairs ? &vn->pair[i].nd : NULL; /* also after a fault: to drain */
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
static int vnet_pages(struct virtio_net *vn)
{
	void *va;

	for (int i = 0; i < VIRTIO_NET_MAX_PAIRS; i++) {
		if (drv_dma_page(&va, &vn->pair[i].tx_hdr_pa))
			return NETDEV_ERR_NOMEM;
		vn->pair[i].tx_hdr = va;
	}
	if (drv_dma_page(&va, &vn->ctrl_buf_pa))
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
	if (vnet_pages(vn))
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
