/*
 * e1000 (82540EM) and e1000e (82574L) driver: bring-up and the netdev
 * operations over the rings of e1000_ring.c. One receive and one transmit
 * ring of 256 descriptors, each ring a DMA page of its own; receive
 * buffers are the caller's, 2 KiB or more (RCTL.BSIZE 2048, long packets
 * off), the frame at off 0 (the CRC stripped).
 *
 * Interrupts: MSI-X or MSI where the function offers them (the 82574; the
 * kernel prefers MSI-X), every cause to table entry 0 (IVAR); otherwise
 * the function's INTx pin (the 82540EM), a level-triggered line the
 * kernel masks when it fires until the driver acknowledges it. Either is
 * bound to the handle's notification. The causes stay set in ICR while
 * the caller polls, so the device sends no further message (and an INTx
 * line stays asserted but masked); irq_arm clears them (the line drops),
 * acknowledges an INTx line (unmasking it) and then looks at the rings,
 * so a frame that lands in between is either seen there or interrupts
 * again.
 *
 * A device that breaks a rule (e1000_ring.h: faults) is stopped at once
 * (receive and transmit disabled, reset, bus mastering off), the call
 * returns NETDEV_ERR_DEVICE, and rx_poll / tx_reclaim then hand back every
 * buffer still lent, flagged NETDEV_BUF_DROPPED; start() brings it up again.
 */
#include "e1000.h"
#include "drv_env.h"
#include "e1000_ring.h"
#include <lib/string.h>

#define E1000_QSIZE 256

struct e1000_model {
	uint16_t device;
	const char *name;
	uint32_t eerd_done;  /* EERD done bit */
	unsigned eerd_shift; /* EERD address field */
	bool csum_l4_only;   /* checksum offload for TCP and UDP only (QEMU's 82574 model) */
};

static const struct e1000_model e1000_models[] = {
    {E1000_DEV_82540EM, "e1000 (Intel 82540EM)", 1u << 4, 8, false},
    {E1000_DEV_82574L, "e1000e (Intel 82574L)", 1u << 1, 2, true},
};

enum e1000_state { E1000_STOPPED, E1000_RUNNING, E1000_FAULTED };

struct e1000 {
	struct netdev nd;
	hl_cptr_t dev;
	uint16_t bdf;
	const struct e1000_model *model;
	struct drv_bar bars[6];
	volatile uint8_t *regs;
	enum e1000_state state;
	enum netdev_mode mode;
	bool fault_unreported; /* a fault the caller has not been told of */
	bool has_irq;          /* MSI or MSI-X offered */
	bool intx;             /* interrupt mode on the INTx pin (irq needs an ack) */
	hl_cptr_t irq;
	uint32_t ims;
	void *rx_page, *tx_page;
	uint64_t rx_pa, tx_pa;
	struct e1000_rx_ring rx;
	struct e1000_tx_ring tx;
};

static struct e1000 *e1k(struct netdev *nd)
{
	return nd->priv;
}

static uint32_t rd32(struct e1000 *e, uint32_t reg)
{
	return *(volatile uint32_t *)(e->regs + reg);
}

static void wr32(struct e1000 *e, uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(e->regs + reg) = v;
}

static void spin_us(uint64_t us)
{
	uint64_t end = drv_rdtsc() + drv_ms_to_tsc(1) * us / 1000;

	while (drv_rdtsc() < end)
		;
}

bool e1000_matches(uint16_t vendor, uint16_t device)
{
	if (vendor != E1000_VENDOR_INTEL)
		return false;
	for (unsigned i = 0; i < sizeof(e1000_models) / sizeof(e1000_models[0]); i++)
		if (e1000_models[i].device == device)
			return true;
	return false;
}

static void e1000_bus_master(struct e1000 *e, bool on)
{
	hl_word_t cmd = 0;

	if (hl_pci_device_config_read(e->dev, 4, 2, &cmd) == HL_OK)
		(void)hl_pci_device_config_write(e->dev, 4, 2,
		                                 on ? cmd | 0x6 : (cmd | 0x2) & ~(hl_word_t)0x4);
}

/* No more DMA: interrupts masked, receive and transmit off, a reset, bus mastering off. */
static void e1000_quiesce(struct e1000 *e)
{
	wr32(e, E1000_IMC, 0xffffffffu);
	wr32(e, E1000_RCTL, 0);
	wr32(e, E1000_TCTL, 0);
	wr32(e, E1000_CTRL, rd32(e, E1000_CTRL) | E1000_CTRL_RST);
	spin_us(10);
	wr32(e, E1000_IMC, 0xffffffffu);
	e1000_bus_master(e, false);
}

static const char *e1000_short(const struct e1000 *e)
{
	return e->model->device == E1000_DEV_82574L ? "e1000e" : "e1000";
}

static int e1000_fault(struct e1000 *e, const char *what)
{
	e->nd.errors++;
	e1000_quiesce(e);
	rt_printf("%s: %02x:%02x.%x: device fault: %s; device reset\n", e1000_short(e), e->bdf >> 8,
	          (e->bdf >> 3) & 31, e->bdf & 7, what);
	e->state = E1000_FAULTED;
	e->fault_unreported = true;
	return NETDEV_ERR_DEVICE;
}

/* rx_poll / tx_reclaim after a fault: NETDEV_ERR_DEVICE once, unless the call that saw it said so.
 */
static bool e1000_report_fault(struct e1000 *e)
{
	bool report = e->state == E1000_FAULTED && e->fault_unreported;

	e->fault_unreported = false;
	return report;
}

/* The fault seen after n buffers were taken: hand those back now, report the fault next time. */
static int e1000_fault_after(struct e1000 *e, int n, const char *what)
{
	e1000_fault(e, what);
	e->fault_unreported = n > 0;
	return n > 0 ? n : NETDEV_ERR_DEVICE;
}

static int e1000_not_running(struct e1000 *e)
{
	return e->state == E1000_FAULTED ? NETDEV_ERR_DEVICE : NETDEV_ERR_STATE;
}

/* STATUS reads all-ones: the function is gone (its reserved bits read 0 otherwise). */
static bool e1000_gone(struct e1000 *e)
{
	return rd32(e, E1000_STATUS) == 0xffffffffu;
}

static bool e1000_link_up(struct netdev *nd)
{
	uint32_t status = rd32(e1k(nd), E1000_STATUS);

	return status != 0xffffffffu && (status & E1000_STATUS_LU);
}

/*
 * Interrupt mode: MSI-X entry 0 (or MSI), else the INTx pin, bound to the
 * handle's notification; made once. NETDEV_ERR_INVALID when the function
 * has no message-signalled interrupts and the kernel cannot route its pin.
 */
static int e1000_irq_setup(struct e1000 *e)
{
	if (!e->nd.notify && !(e->nd.notify = rt_alloc(HL_OBJ_NOTIFICATION, 0)))
		return NETDEV_ERR_NOMEM;
	if (e->irq)
		return NETDEV_OK;
	hl_cptr_t s = rt_slot();
	if (!s)
		return NETDEV_ERR_NOMEM;
	if (!e->has_irq) {
		long err = hl_pci_device_intx(e->dev, 0, s);
		if (err) {
			rt_printf(
			    "%s: %02x:%02x.%x: interrupt mode needs MSI, MSI-X or a routed INTx "
			    "line (pci_device.intx: error %ld): use polled mode\n",
			    e1000_short(e), e->bdf >> 8, (e->bdf >> 3) & 31, e->bdf & 7, err);
			return NETDEV_ERR_INVALID;
		}
		e->intx = true;
	} else if (hl_pci_device_msi(e->dev, 0, 0, s)) {
		return NETDEV_ERR_NODEV;
	}
	if (hl_irq_handler_set_notification(s, e->nd.notify))
		return NETDEV_ERR_NODEV;
	e->irq = s;
	return NETDEV_OK;
}

/* INTx: the line is the device's only if INTx-disable (command bit 10) is clear. */
static void e1000_intx_enable(struct e1000 *e)
{
	hl_word_t cmd = 0;

	if (hl_pci_device_config_read(e->dev, 4, 2, &cmd) == HL_OK && (cmd & 0x400))
		(void)hl_pci_device_config_write(e->dev, 4, 2, cmd & ~(hl_word_t)0x400);
}

static void e1000_report(struct e1000 *e)
{
	const uint8_t *m = e->nd.info.mac;

	rt_printf("%s: %02x:%02x.%x 8086:%04x %s, mac %02x:%02x:%02x:%02x:%02x:%02x, link %s, 1 "
	          "queue pair (rx %u, tx %u), mode %s, offloads tx-csum rx-csum\n",
	          e1000_short(e), e->bdf >> 8, (e->bdf >> 3) & 31, e->bdf & 7, e->model->device,
	          e->model->name, m[0], m[1], m[2], m[3], m[4], m[5],
	          e1000_link_up(&e->nd) ? "up" : "down", e->nd.info.rx_slots, e->nd.info.tx_slots,
	          e->mode != NETDEV_IRQ ? "polled"
	          : e->intx             ? "interrupt (INTx, level-triggered)"
	                                : "interrupt (MSI-X/MSI)");
}

static void e1000_rings_on(struct e1000 *e)
{
	wr32(e, E1000_RDBAL, (uint32_t)e->rx_pa);
	wr32(e, E1000_RDBAH, (uint32_t)(e->rx_pa >> 32));
	wr32(e, E1000_RDLEN, E1000_QSIZE * (uint32_t)sizeof(struct e1000_rx_desc));
	wr32(e, E1000_RDH, 0);
	wr32(e, E1000_RDT, 0);
	wr32(e, E1000_RDTR, 0);
	wr32(e, E1000_RXCSUM, E1000_RXCSUM_IPOFLD | E1000_RXCSUM_TUOFLD);
	wr32(e, E1000_TDBAL, (uint32_t)e->tx_pa);
	wr32(e, E1000_TDBAH, (uint32_t)(e->tx_pa >> 32));
	wr32(e, E1000_TDLEN, E1000_QSIZE * (uint32_t)sizeof(struct e1000_tx_desc));
	wr32(e, E1000_TDH, 0);
	wr32(e, E1000_TDT, 0);
	wr32(e, E1000_TIDV, 0);
	wr32(e, E1000_TIPG, E1000_TIPG_COPPER);
	wr32(e, E1000_TCTL, E1000_TCTL_EN | E1000_TCTL_PSP | E1000_TCTL_CT | E1000_TCTL_COLD);
	wr32(e, E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_BAM | E1000_RCTL_SECRC);
}

static int e1000_start(struct netdev *nd, enum netdev_mode mode)
{
	struct e1000 *e = e1k(nd);
	const uint8_t *m = nd->info.mac;
	int err;

	if (mode != NETDEV_POLLED && mode != NETDEV_IRQ)
		return NETDEV_ERR_INVALID;
	if (e->state == E1000_RUNNING || e->rx.inflight || e->tx.inflight)
		return NETDEV_ERR_STATE; /* running, or buffers not yet handed back after a fault */
	e->mode = mode;
	e1000_quiesce(e);
	if (e1000_gone(e))
		return NETDEV_ERR_NODEV;
	uint64_t end = drv_rdtsc() + drv_ms_to_tsc(10);
	while ((rd32(e, E1000_CTRL) & E1000_CTRL_RST) && drv_rdtsc() < end)
		;
	if (rd32(e, E1000_CTRL) & E1000_CTRL_RST)
		return NETDEV_ERR_NODEV;
	(void)rd32(e, E1000_ICR);
	wr32(e, E1000_CTRL,
	     (rd32(e, E1000_CTRL) | E1000_CTRL_SLU | E1000_CTRL_ASDE) &
	         ~(E1000_CTRL_LRST | E1000_CTRL_PHY_RST | E1000_CTRL_ILOS | E1000_CTRL_VME));
	wr32(e, E1000_RAL0,
	     (uint32_t)m[0] | (uint32_t)m[1] << 8 | (uint32_t)m[2] << 16 | (uint32_t)m[3] << 24);
	wr32(e, E1000_RAH0, (uint32_t)m[4] | (uint32_t)m[5] << 8 | E1000_RAH_AV);
	for (uint32_t i = 0; i < 128; i++)
		wr32(e, E1000_MTA + 4 * i, 0);
	memset(e->rx_page, 0, DRV_PAGE);
	memset(e->tx_page, 0, DRV_PAGE);
	if (!e1000_rx_init(&e->rx, e->rx_page, E1000_QSIZE, E1000_RCTL_BSIZE) ||
	    !e1000_tx_init(&e->tx, e->tx_page, E1000_QSIZE))
		return NETDEV_ERR_NODEV;
	e->ims = 0;
	if (mode == NETDEV_IRQ) {
		if ((err = e1000_irq_setup(e)))
			return err;
		e->ims = E1000_INT_TXDW | E1000_INT_LSC | E1000_INT_RXT0;
		if (e->model->device == E1000_DEV_82574L) {
			wr32(e, E1000_IVAR,
			     E1000_IVAR_ENTRY(0) << E1000_IVAR_RXQ0_SHIFT |
			         E1000_IVAR_ENTRY(0) << E1000_IVAR_TXQ0_SHIFT |
			         E1000_IVAR_ENTRY(0) << E1000_IVAR_OTHER_SHIFT);
			e->ims |= E1000_INT_RXQ0 | E1000_INT_TXQ0 | E1000_INT_OTHER;
		}
		wr32(e, E1000_ITR, 0);
		if (e->intx)
			e1000_intx_enable(e);
	}
	e1000_bus_master(e, true);
	e1000_rings_on(e);
	if (e->ims)
		wr32(e, E1000_IMS, e->ims);
	/* The link comes up after auto-negotiation: wait for it a little, report either way. */
	for (end = drv_rdtsc() + drv_ms_to_tsc(1000); !e1000_link_up(nd) && drv_rdtsc() < end;)
		;
	nd->info.rx_slots = (uint16_t)(e->rx.size - 1);
	nd->info.tx_slots = (uint16_t)(e->tx.size - 1);
	e->fault_unreported = false;
	e->state = E1000_RUNNING;
	e1000_report(e);
	return NETDEV_OK;
}

static void e1000_stop(struct netdev *nd)
{
	struct e1000 *e = e1k(nd);

	e1000_quiesce(e);
	if (e->state == E1000_RUNNING)
		e->state = E1000_STOPPED;
}

static int e1000_rx_post(struct netdev *nd, struct netdev_buf **bufs, int n)
{
	struct e1000 *e = e1k(nd);
	int i;

	if (e->state != E1000_RUNNING)
		return e1000_not_running(e);
	for (i = 0; i < n; i++) {
		if (bufs[i]->cap < nd->info.rx_buf_min) {
			if (i == 0)
				return NETDEV_ERR_INVALID;
			break;
		}
		if (!e1000_rx_add(&e->rx, bufs[i]))
			break;
	}
	if (i)
		wr32(e, E1000_RDT, e->rx.tail);
	return i;
}

static int e1000_rx_poll(struct netdev *nd, struct netdev_buf **out, int max)
{
	struct e1000 *e = e1k(nd);
	uint16_t tail = e->rx.tail;
	int n = 0;

	if (e1000_report_fault(e))
		return NETDEV_ERR_DEVICE;
	if (e->state != E1000_RUNNING)
		return e1000_rx_drain(&e->rx, out, max);
	while (n < max) {
		int got = e1000_rx_get(&e->rx, &out[n]);
		if (got < 0)
			return e1000_fault_after(e, n, e1000_fault_str(e->rx.fault));
		if (got == 0)
			break;
		n++;
	}
	if (e->rx.tail != tail) /* damaged frames' buffers posted again */
		wr32(e, E1000_RDT, e->rx.tail);
	return n;
}

static int e1000_tx(struct netdev *nd, struct netdev_buf **bufs, int n)
{
	struct e1000 *e = e1k(nd);
	int done = 0;

	if (e->state != E1000_RUNNING)
		return e1000_not_running(e);
	while (done < n) {
		struct netdev_buf **f = bufs + done;
		int k = e1000_tx_frame(f, n - done, true);
		if (k < 0) {
			if (done == 0)
				return k;
			break;
		}
		bool hw = !(f[0]->flags & NETDEV_BUF_CSUM) || !e->model->csum_l4_only ||
		          e1000_csum_l4_hw(f, k);
		if (e1000_tx_need(&e->tx, f, k, hw) > e->tx.size - 1 - e->tx.inflight)
			break;
		e1000_tx_add(&e->tx, f, k, hw);
		done += k;
	}
	if (done)
		wr32(e, E1000_TDT, e->tx.tail);
	return done;
}

static int e1000_tx_reclaim(struct netdev *nd, struct netdev_buf **out, int max)
{
	struct e1000 *e = e1k(nd);
	int n = 0;

	if (max < E1000_MAX_SEGS)
		return NETDEV_ERR_INVALID;
	if (e1000_report_fault(e))
		return NETDEV_ERR_DEVICE;
	if (e->state != E1000_RUNNING)
		return e1000_tx_drain(&e->tx, out, max);
	while (n < max) {
		int got = e1000_tx_get(&e->tx, &out[n]);
		if (got < 0)
			return e1000_fault_after(e, n, e1000_fault_str(e->tx.fault));
		if (got == 0)
			break;
		n++;
	}
	return n;
}

static bool e1000_irq_arm(struct netdev *nd)
{
	struct e1000 *e = e1k(nd);

	if (e->state != E1000_RUNNING || e->mode != NETDEV_IRQ)
		return true;
	wr32(e, E1000_ICR, 0xffffffffu); /* the causes seen: a new one sends a new message */
	wr32(e, E1000_IMS, e->ims);
	if (e->intx) /* the line has dropped with the causes: let it through again */
		(void)hl_irq_handler_ack(e->irq);
	return e1000_rx_pending(&e->rx) || e1000_tx_pending(&e->tx);
}

static const struct netdev_ops e1000_ops = {
    .start = e1000_start,
    .stop = e1000_stop,
    .rx_post = e1000_rx_post,
    .rx_poll = e1000_rx_poll,
    .tx = e1000_tx,
    .tx_reclaim = e1000_tx_reclaim,
    .link_up = e1000_link_up,
    .irq_arm = e1000_irq_arm,
};

bool e1000_raise_irq(struct netdev *nd)
{
	struct e1000 *e = e1k(nd);

	if (e->state != E1000_RUNNING || e->mode != NETDEV_IRQ)
		return false;
	/* Under MSI-X the 82574 signals queue causes (IVAR), not the legacy ones. */
	wr32(e, E1000_ICS,
	     E1000_INT_TXDW | (e->model->device == E1000_DEV_82574L ? E1000_INT_TXQ0 : 0));
	return true;
}

bool e1000_inject_fault(struct netdev *nd, enum e1000_inject kind)
{
	struct e1000 *e = e1k(nd);
	struct e1000_rx_ring *r = &e->rx;

	if (e->state != E1000_RUNNING)
		return false;
	if (kind == E1000_INJECT_STRAY) {
		r->desc[r->tail].status = E1000_RXD_DD | E1000_RXD_EOP;
		return true;
	}
	if (!r->inflight || !(r->desc[r->next].status & E1000_RXD_DD))
		return false;
	r->desc[r->next].length = (uint16_t)(r->buf_size + 1);
	return true;
}

/* One EEPROM word through EERD, or -1 if the read does not complete within 10 ms. */
static int32_t e1000_eeprom(struct e1000 *e, unsigned word)
{
	wr32(e, E1000_EERD, E1000_EERD_START | word << e->model->eerd_shift);
	for (uint64_t end = drv_rdtsc() + drv_ms_to_tsc(10); drv_rdtsc() < end;) {
		uint32_t v = rd32(e, E1000_EERD);
		if (v & e->model->eerd_done)
			return (int32_t)(v >> 16);
	}
	return -1;
}

static bool mac_ok(const uint8_t m[6])
{
	return !(m[0] & 1) && (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

/*
 * The MAC address: EEPROM words 0-2 when words 0-0x3f sum to 0xbaba (8254x
 * §5.6.1), else RAL0/RAH0 if marked valid, else a random locally
 * administered one. Returns where it came from.
 */
static const char *e1000_read_mac(struct e1000 *e, uint8_t mac[6])
{
	uint16_t sum = 0, w[3] = {0, 0, 0};
	bool eeprom = true;

	for (unsigned i = 0; i < 0x40 && eeprom; i++) {
		int32_t v = e1000_eeprom(e, i);
		eeprom = v >= 0;
		sum = (uint16_t)(sum + (uint16_t)v);
		if (i < 3)
			w[i] = (uint16_t)v;
	}
	for (int i = 0; i < 3; i++)
		mac[2 * i] = (uint8_t)w[i], mac[2 * i + 1] = (uint8_t)(w[i] >> 8);
	if (eeprom && sum == 0xbaba && mac_ok(mac))
		return "EEPROM";
	uint32_t lo = rd32(e, E1000_RAL0), hi = rd32(e, E1000_RAH0);
	for (int i = 0; i < 4; i++)
		mac[i] = (uint8_t)(lo >> (8 * i));
	mac[4] = (uint8_t)hi, mac[5] = (uint8_t)(hi >> 8);
	if ((hi & E1000_RAH_AV) && mac_ok(mac))
		return "RAL0";
	uint64_t t = drv_rdtsc() * 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)(t >> (8 * i + 8));
	mac[0] = (uint8_t)((mac[0] & 0xfc) | 0x02);
	return "random";
}

struct netdev *e1000_open(hl_cptr_t dev, uint16_t bdf, int *err)
{
	struct e1000 *e = rt_calloc(1, sizeof(*e));
	hl_word_t id = 0, msi = 0;

	*err = NETDEV_ERR_NOMEM;
	if (!e)
		return NULL;
	e->dev = dev, e->bdf = bdf;
	*err = NETDEV_ERR_NODEV;
	if (hl_pci_device_info(dev, &id, NULL, NULL, &msi) || (id & 0xffff) != E1000_VENDOR_INTEL)
		goto fail;
	for (unsigned i = 0; i < sizeof(e1000_models) / sizeof(e1000_models[0]); i++)
		if (e1000_models[i].device == (uint16_t)(id >> 16))
			e->model = &e1000_models[i];
	if (!e->model || drv_map_bar(dev, e->bars, 0, 0, E1000_BAR0_SZ, &e->regs))
		goto fail;
	if (e1000_gone(e)) { /* pci_device.info names what answered at boot */
		rt_printf("e1000: %02x:%02x.%x: registers read all-ones: the function is gone\n",
		          bdf >> 8, (bdf >> 3) & 31, bdf & 7);
		goto fail;
	}
	*err = NETDEV_ERR_NOMEM;
	if (drv_dma_page(dev, &e->rx_page, &e->rx_pa) || drv_dma_page(dev, &e->tx_page, &e->tx_pa))
		goto fail; /* pages made stay with the partition: drv_env has no free */
	e->has_irq = msi != 0;
	e1000_bus_master(e, false); /* memory space on, no DMA until start */
	e1000_quiesce(e);
	const char *from = e1000_read_mac(e, e->nd.info.mac);
	e->nd.ops = &e1000_ops;
	e->nd.priv = e;
	e->nd.info.model = e->model->name;
	e->nd.info.mtu = 1500;
	e->nd.info.offloads = NETDEV_OFF_TX_CSUM | NETDEV_OFF_RX_CSUM;
	e->nd.info.rx_slots = e->nd.info.tx_slots = E1000_QSIZE - 1;
	e->nd.info.rx_buf_min = E1000_RCTL_BSIZE;
	e->nd.info.max_tx_segs = E1000_MAX_SEGS;
	e->nd.info.queue_pairs = 1;
	if (from[0] != 'E')
		rt_printf("%s: %02x:%02x.%x: MAC address from %s\n", e1000_short(e), bdf >> 8,
		          (bdf >> 3) & 31, bdf & 7, from);
	*err = NETDEV_OK;
	return &e->nd;
fail:
	rt_free(e);
	return NULL;
}
