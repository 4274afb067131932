/* The virtio 1.x modern PCI transport (virtio 1.2 §4.1.4, §3.1.1). */
#include "virtio_pci.h"

#define PCI_STATUS         0x06
#define PCI_STATUS_CAPS    0x10
#define PCI_CAP_PTR        0x34
#define PCI_CAP_ID_MSIX    0x11
#define PCI_CAP_WALK_LIMIT 48 /* a looping list ends here */

static uint32_t cfg(struct virtio_pci *vp, uint32_t off, uint32_t width)
{
	hl_word_t v = 0;

	if (hl_pci_device_config_read(vp->dev, off, width, &v))
		return 0;
	return (uint32_t)v;
}

static inline uint8_t rd8(volatile uint8_t *p, uint32_t off)
{
	return *(volatile uint8_t *)(p + off);
}
static inline uint16_t rd16(volatile uint8_t *p, uint32_t off)
{
	return *(volatile uint16_t *)(p + off);
}
static inline uint32_t rd32(volatile uint8_t *p, uint32_t off)
{
	return *(volatile uint32_t *)(p + off);
}
static inline void wr8(volatile uint8_t *p, uint32_t off, uint8_t v)
{
	*(volatile uint8_t *)(p + off) = v;
}
static inline void wr16(volatile uint8_t *p, uint32_t off, uint16_t v)
{
	*(volatile uint16_t *)(p + off) = v;
}
static inline void wr32(volatile uint8_t *p, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(p + off) = v;
}
/* §4.1.3.1: 64-bit fields as two 32-bit writes, low first. */
static inline void wr64(volatile uint8_t *p, uint32_t off, uint64_t v)
{
	wr32(p, off, (uint32_t)v);
	wr32(p, off + 4, (uint32_t)(v >> 32));
}

/* Map one structure described by the virtio capability at config offset cap. */
static long map_struct(struct virtio_pci *vp, uint32_t cap, volatile uint8_t **va, uint32_t *len)
{
	uint32_t bar = cfg(vp, cap + VIRTIO_PCI_CAP_OFF_BAR, 1);
	uint32_t off = cfg(vp, cap + VIRTIO_PCI_CAP_OFF_OFFSET, 4);
	uint32_t n = cfg(vp, cap + VIRTIO_PCI_CAP_OFF_LENGTH, 4);

	if (bar > 5 || n == 0)
		return HL_ERR_RANGE;
	*len = n;
	return drv_map_bar(vp->dev, vp->bars, bar, off, n, va);
}

/* Walk the capability list; map the first structure of each kind (§4.1.4: the first is the
 * preferred one). */
long virtio_pci_open(struct virtio_pci *vp, hl_cptr_t dev)
{
	uint32_t clen = 0, ilen = 0;
	long err;

	*vp = (struct virtio_pci){.dev = dev};
	if (!(cfg(vp, PCI_STATUS, 2) & PCI_STATUS_CAPS))
		return HL_ERR_ILLEGAL_OP;
	uint32_t at = cfg(vp, PCI_CAP_PTR, 1) & 0xfc;
	for (int n = 0; n < PCI_CAP_WALK_LIMIT && at >= 0x40; n++, at = cfg(vp, at + 1, 1) & 0xfc) {
		uint32_t id = cfg(vp, at, 1);
		if (id == PCI_CAP_ID_MSIX) {
			vp->msix_entries = (uint16_t)((cfg(vp, at + 2, 2) & 0x7ff) + 1);
			continue;
		}
		if (id != VIRTIO_PCI_CAP_ID || cfg(vp, at + VIRTIO_PCI_CAP_OFF_LEN, 1) < 16)
			continue;
		switch (cfg(vp, at + VIRTIO_PCI_CAP_OFF_TYPE, 1)) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			err = vp->common ? 0 : map_struct(vp, at, &vp->common, &clen);
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG: /* 20 bytes: the multiplier follows */
			if (cfg(vp, at + VIRTIO_PCI_CAP_OFF_LEN, 1) < 20) {
				err = 0;
				break;
			}
			err = vp->notify ? 0 : map_struct(vp, at, &vp->notify, &vp->notify_len);
			if (!err)
				vp->notify_mult = cfg(vp, at + VIRTIO_PCI_CAP_OFF_NOTIFY_MULT, 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			err = vp->isr ? 0 : map_struct(vp, at, &vp->isr, &ilen);
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			err = vp->devcfg ? 0 : map_struct(vp, at, &vp->devcfg, &vp->devcfg_len);
			break;
		default:
			err = 0;
		}
		if (err)
			return err;
	}
	if (!vp->common || !vp->notify || clen < VIRTIO_COMMON_SIZE)
		return HL_ERR_ILLEGAL_OP;
	return HL_OK;
}

uint8_t virtio_pci_status(struct virtio_pci *vp)
{
	return rd8(vp->common, VIRTIO_COMMON_STATUS);
}

void virtio_pci_set_status(struct virtio_pci *vp, uint8_t bits)
{
	wr8(vp->common, VIRTIO_COMMON_STATUS, (uint8_t)(virtio_pci_status(vp) | bits));
}

bool virtio_pci_gone(struct virtio_pci *vp)
{
	return virtio_pci_status(vp) == 0xff;
}

bool virtio_pci_reset(struct virtio_pci *vp)
{
	wr8(vp->common, VIRTIO_COMMON_STATUS, 0);
	for (uint64_t end = drv_rdtsc() + drv_ms_to_tsc(1000); drv_rdtsc() < end;) {
		uint8_t s = virtio_pci_status(vp);
		if (s == 0) /* §4.1.4.3.2: reset done when 0 reads back */
			return true;
		if (s == 0xff)
			return false; /* the function is gone: it will not read 0 */
	}
	return false;
}

long virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted)
{
	uint64_t dev = 0;

	for (uint32_t sel = 0; sel < 2; sel++) {
		wr32(vp->common, VIRTIO_COMMON_DFSELECT, sel);
		dev |= (uint64_t)rd32(vp->common, VIRTIO_COMMON_DF) << (32 * sel);
	}
	if (!((dev >> VIRTIO_F_VERSION_1) & 1))
		return HL_ERR_ILLEGAL_OP; /* a legacy-only device */
	vp->features = dev & (wanted | 1ull << VIRTIO_F_VERSION_1);
	for (uint32_t sel = 0; sel < 2; sel++) {
		wr32(vp->common, VIRTIO_COMMON_GFSELECT, sel);
		wr32(vp->common, VIRTIO_COMMON_GF, (uint32_t)(vp->features >> (32 * sel)));
	}
	virtio_pci_set_status(vp, VIRTIO_STATUS_FEATURES_OK);
	if (!(virtio_pci_status(vp) & VIRTIO_STATUS_FEATURES_OK))
		return HL_ERR_ILLEGAL_OP;
	return HL_OK;
}

uint16_t virtio_pci_num_queues(struct virtio_pci *vp)
{
	return rd16(vp->common, VIRTIO_COMMON_NUMQ);
}

uint16_t virtio_pci_queue_max(struct virtio_pci *vp, uint16_t index)
{
	wr16(vp->common, VIRTIO_COMMON_Q_SELECT, index);
	return rd16(vp->common, VIRTIO_COMMON_Q_SIZE);
}

long virtio_pci_queue_enable(struct virtio_pci *vp, struct virtq *q, uint16_t msix)
{
	wr16(vp->common, VIRTIO_COMMON_Q_SELECT, q->index);
	wr16(vp->common, VIRTIO_COMMON_Q_SIZE, q->size);
	wr64(vp->common, VIRTIO_COMMON_Q_DESCLO, q->desc_pa);
	wr64(vp->common, VIRTIO_COMMON_Q_AVAILLO, q->avail_pa);
	wr64(vp->common, VIRTIO_COMMON_Q_USEDLO, q->used_pa);
	wr16(vp->common, VIRTIO_COMMON_Q_MSIX, msix);
	if (rd16(vp->common, VIRTIO_COMMON_Q_MSIX) != msix)
		return HL_ERR_RANGE; /* §4.1.5.1.2: the device could not take the vector */
	uint64_t noff = (uint64_t)rd16(vp->common, VIRTIO_COMMON_Q_NOFF) * vp->notify_mult;
	if (noff + 2 > vp->notify_len)
		return HL_ERR_RANGE; /* the device points outside its own notify structure */
	q->notify_off = (uint32_t)noff;
	wr16(vp->common, VIRTIO_COMMON_Q_ENABLE, 1);
	return HL_OK;
}

void virtio_pci_notify(struct virtio_pci *vp, const struct virtq *q)
{
	wr16(vp->notify, q->notify_off, q->index);
}

void virtio_pci_config(struct virtio_pci *vp, uint32_t off, void *buf, uint32_t len)
{
	uint8_t *out = buf;

	for (int tries = 0; tries < 100; tries++) {
		uint8_t gen = rd8(vp->common, VIRTIO_COMMON_CFGGEN);
		for (uint32_t i = 0; i < len; i++)
			out[i] =
			    off + i < vp->devcfg_len && vp->devcfg ? rd8(vp->devcfg, off + i) : 0;
		if (rd8(vp->common, VIRTIO_COMMON_CFGGEN) == gen)
			return;
	}
}

uint16_t virtio_pci_config16(struct virtio_pci *vp, uint32_t off)
{
	uint16_t v = 0;

	for (int tries = 0; tries < 100 && vp->devcfg && off + 2 <= vp->devcfg_len; tries++) {
		uint8_t gen = rd8(vp->common, VIRTIO_COMMON_CFGGEN);
		v = rd16(vp->devcfg, off);
		if (rd8(vp->common, VIRTIO_COMMON_CFGGEN) == gen)
			break;
	}
	return v;
}
