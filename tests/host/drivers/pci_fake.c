/* The fake PCI function of pci_fake.h and the platform calls it answers. */
#include "pci_fake.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drv_env.h"
#include "e1000_regs.h"
#include "virtio_regs.h"

struct pci_fake *pf;
static uint32_t pf_id; /* vendor | device << 16, as the kernel read it at boot */
static uint16_t eeprom[64];

static void put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

void pf_new(uint16_t vendor, uint16_t device)
{
	pf = aligned_alloc(4096, sizeof(*pf));
	memset(pf, 0, sizeof(*pf));
	put16(pf->cfg, vendor), put16(pf->cfg + 2, device);
	pf_id = vendor | (uint32_t)device << 16;
}

/* One virtio capability at config offset at: structure type at [off, off + len) of BAR 0. */
static void virtio_cap(uint8_t at, uint8_t next, uint8_t type, uint32_t off, uint32_t len)
{
	uint8_t *c = pf->cfg + at;

	c[0] = VIRTIO_PCI_CAP_ID, c[1] = next, c[2] = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 20 : 16;
	c[3] = type, c[4] = 0;
	put32(c + VIRTIO_PCI_CAP_OFF_OFFSET, off), put32(c + VIRTIO_PCI_CAP_OFF_LENGTH, len);
	if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		put32(c + VIRTIO_PCI_CAP_OFF_NOTIFY_MULT, 4);
}

void pf_new_virtio(uint16_t device, uint16_t num_queues)
{
	pf_new(VIRTIO_PCI_VENDOR, device);
	put16(pf->cfg + 6, 0x10); /* status: a capabilities list */
	pf->cfg[0x34] = 0x40;
	virtio_cap(0x40, 0x54, VIRTIO_PCI_CAP_COMMON_CFG, 0, VIRTIO_COMMON_SIZE);
	virtio_cap(0x54, 0x68, VIRTIO_PCI_CAP_NOTIFY_CFG, 0x400, 0x400);
	virtio_cap(0x68, 0x7c, VIRTIO_PCI_CAP_ISR_CFG, 0x100, 4);
	virtio_cap(0x7c, 0, VIRTIO_PCI_CAP_DEVICE_CFG, 0x200, 0x100);
	/* Registers in memory: a select does not change what DF or Q_SIZE read, so each reads the
	 * same for every selector (DF: VERSION_1 in the high word, bit 0 in the low one). */
	put32(pf->bar + VIRTIO_COMMON_DF, 1);
	put16(pf->bar + VIRTIO_COMMON_NUMQ, num_queues);
	put16(pf->bar + VIRTIO_COMMON_Q_SIZE, 256);
	if (device == VIRTIO_PCI_DEVICE_BLK)
		put32(pf->bar + 0x200 + VIRTIO_BLK_CFG_CAPACITY, 2048);
	pf->refill = 0x1000;
}

/* The 82540EM's side: a reset ends at once, EERD reads complete, the link is up. */
static void e1000_model(void)
{
	uint8_t *r = pf->bar;
	uint32_t eerd = get32(r + E1000_EERD);

	put32(r + E1000_CTRL, get32(r + E1000_CTRL) & ~E1000_CTRL_RST);
	if (eerd & E1000_EERD_START)
		put32(r + E1000_EERD, (uint32_t)eeprom[(eerd >> 8) & 63] << 16 | 1u << 4);
	put32(r + E1000_STATUS, E1000_STATUS_LU | 1u);
}

void pf_new_e1000(void)
{
	uint16_t sum = 0;

	pf_new(E1000_VENDOR_INTEL, E1000_DEV_82540EM);
	memset(eeprom, 0, sizeof(eeprom));
	eeprom[0] = 0x5452, eeprom[1] = 0x1200, eeprom[2] = 0x5634; /* 52:54:00:12:34:56 */
	for (int i = 0; i < 63; i++)
		sum = (uint16_t)(sum + eeprom[i]);
	eeprom[63] = (uint16_t)(0xbaba - sum);
	pf->model = e1000_model;
	pf->refill = 0x100;
	e1000_model();
}

void pf_gone(bool cfg)
{
	pf->gone = true;
	pf->cfg_gone = cfg;
	memset(pf->bar, 0xff, sizeof(pf->bar));
}

static void *heap[16]; /* rt_calloc's blocks not yet freed */

void pf_free(void)
{
	for (unsigned i = 0; i < 16; i++)
		free(heap[i]), heap[i] = NULL;
	for (unsigned i = 0; i < pf->npages; i++)
		free(pf->pages[i]);
	free(pf);
	pf = NULL;
}

static void tick(void)
{
	pf->ticks++;
	if (pf->gone)
		memset(pf->bar, 0xff, pf->refill);
	else if (pf->model)
		pf->model();
}

/* ---- drv_env.h ---- */

uint64_t drv_rdtsc(void)
{
	tick();
	return pf->tsc += 10000;
}

uint64_t drv_ms_to_tsc(uint64_t ms)
{
	return ms * 1000000;
}

long drv_dma_page(hl_cptr_t dev, void **va, uint64_t *paddr)
{
	void *p = pf->npages < 64 ? aligned_alloc(4096, 4096) : NULL;

	if (!p)
		return HL_ERR_NO_MEMORY;
	memset(p, 0, 4096);
	pf->pages[pf->npages++] = p;
	*va = p, *paddr = (uint64_t)(uintptr_t)p;
	return HL_OK;
}

long drv_map_bar(hl_cptr_t dev, struct drv_bar bars[6], unsigned bar, uint64_t off, uint64_t len,
                 volatile uint8_t **va)
{
	if (bar != 0 || off > PF_BAR_SIZE || len > PF_BAR_SIZE - off)
		return HL_ERR_RANGE;
	*va = pf->bar + off;
	return HL_OK;
}

/* ---- hallows/rt.h ---- */

int pf_vlog(const char *fmt, va_list ap)
{
	printf("# ");
	return vprintf(fmt, ap);
}

int rt_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = pf_vlog(fmt, ap);
	va_end(ap);
	return n;
}

hl_cptr_t rt_slot(void)
{
	static hl_cptr_t next = 100;

	return next++;
}

hl_cptr_t rt_alloc(uint32_t type, uint32_t size_bits)
{
	return 0; /* no kernel objects here: interrupt mode is not available */
}

/* A driver keeps its state for good (there is no close): pf_free takes back what is left. */

void *rt_calloc(size_t n, size_t size)
{
	for (unsigned i = 0; i < 16; i++)
		if (!heap[i])
			return heap[i] = calloc(n, size);
	return NULL;
}

void rt_free(void *p)
{
	for (unsigned i = 0; p && i < 16; i++)
		if (heap[i] == p)
			heap[i] = NULL;
	free(p);
}

long hl_pci_device_info(hl_cptr_t obj, hl_word_t *id, hl_word_t *class, hl_word_t *bdf,
                        hl_word_t *msi)
{
	if (id)
		*id = pf_id;
	if (class)
		*class = 0;
	if (bdf)
		*bdf = 0;
	if (msi)
		*msi = 0;
	return HL_OK;
}

long hl_pci_device_config_read(hl_cptr_t obj, hl_word_t offset, hl_word_t width, hl_word_t *value)
{
	uint32_t v = 0;

	if (width != 1 && width != 2 && width != 4)
		return HL_ERR_INVALID_ARG;
	if (offset >= 4096)
		return HL_ERR_RANGE;
	if (pf->cfg_gone || offset + width > sizeof(pf->cfg))
		v = 0xffffffffu;
	else
		memcpy(&v, pf->cfg + offset, width);
	*value = width == 4 ? v : v & ((1u << (8 * width)) - 1);
	return HL_OK;
}

long hl_pci_device_config_write(hl_cptr_t obj, hl_word_t offset, hl_word_t width, hl_word_t value)
{
	if (width != 1 && width != 2 && width != 4)
		return HL_ERR_INVALID_ARG;
	if (!pf->cfg_gone && offset + width <= sizeof(pf->cfg))
		memcpy(pf->cfg + offset, &value, width);
	return HL_OK;
}

long hl_pci_device_msi(hl_cptr_t obj, hl_word_t vector, hl_word_t cpu, hl_word_t dst_slot)
{
	return HL_ERR_ILLEGAL_OP;
}

long hl_pci_device_intx(hl_cptr_t obj, hl_word_t cpu, hl_word_t dst_slot)
{
	return HL_ERR_ILLEGAL_OP;
}

long hl_irq_handler_set_notification(hl_cptr_t obj, hl_word_t ntfn)
{
	return HL_ERR_INVALID_CAP;
}

long hl_irq_handler_ack(hl_cptr_t obj)
{
	return HL_ERR_INVALID_CAP;
}
