/* The Hallows side of drv_env.h: DMA pages and BAR mappings from the partition's own capabilities.
 */
#include "drv_env.h"

/* Drivers map everything in a PML4 slot of their own. */
#define DRV_VA_BASE 0x540000000000ull
#define DRV_BAR_PAGES_MAX                                                                          \
	256u /* mapped BAR window per BAR: 1 MiB (virtio structures sit in the first pages) */

static uint64_t drv_va_next = DRV_VA_BASE;

static uint64_t drv_va_take(uint64_t bytes)
{
	uint64_t va = drv_va_next;

	drv_va_next +=
	    (bytes + DRV_PAGE - 1) / DRV_PAGE * DRV_PAGE + DRV_PAGE; /* and a guard page */
	return va;
}

long drv_dma_page(hl_cptr_t dev, void **va, uint64_t *paddr)
{
	hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12), dma = rt_slot();
	hl_word_t pa = 0;
	long err;

	if (!f || !dma)
		return HL_ERR_NO_MEMORY;
	uint64_t at = drv_va_take(DRV_PAGE);
	/* One mapping per frame capability: the CPU's on f, the device's on a copy. */
	if ((err = rt_map_frame(HL_SLOT_ASPACE, f, at, HL_R_READ | HL_R_WRITE)) ||
	    (err = hl_frame_paddr(f, &pa)) ||
	    (err = hl_cspace_copy(HL_SLOT_CSPACE, dma, f, HL_R_READ | HL_R_WRITE)) ||
	    (err = hl_pci_device_dma_map(dev, dma)))
		return err;
	*va = (void *)at;
	*paddr = pa;
	return HL_OK;
}

/* The BAR as 4 KiB device-memory capabilities, and a virtual window for it. */
static long drv_bar_split(hl_cptr_t dev, struct drv_bar *b, unsigned bar)
{
	hl_word_t base = 0, size = 0, flags = 0;
	hl_cptr_t mem = rt_slot();
	long err;

	if ((err = hl_pci_device_bar(dev, bar, &base, &size, &flags)))
		return err;
	if ((flags & HL_BAR_IO) || size < DRV_PAGE)
		return HL_ERR_INVALID_ARG;
	if ((err = hl_pci_device_map_bar(dev, bar, mem)))
		return err;
	uint32_t pages =
	    (uint32_t)(size / DRV_PAGE < DRV_BAR_PAGES_MAX ? size / DRV_PAGE : DRV_BAR_PAGES_MAX);
	hl_cptr_t first = mem;
	if (pages > 1) { /* a one-page BAR (AHCI's ABAR) is its own piece */
		first = rt_slot();
		for (uint32_t i = 1; i < pages; i++)
			if (!rt_slot())
				return HL_ERR_NO_MEMORY;
		if ((err = hl_memory_retype(mem, HL_OBJ_MEMORY, 12, pages, first)))
			return err;
	}
	b->first = first, b->npages = pages, b->size = size;
	b->va = drv_va_take((uint64_t)pages * DRV_PAGE);
	return HL_OK;
}

long drv_map_bar(hl_cptr_t dev, struct drv_bar bars[6], unsigned bar, uint64_t off, uint64_t len,
                 volatile uint8_t **va)
{
	struct drv_bar *b = &bars[bar < 6 ? bar : 0];
	long err;

	if (bar >= 6 || len == 0)
		return HL_ERR_INVALID_ARG;
	if (!b->first && (err = drv_bar_split(dev, b, bar)))
		return err;
	if (off >= (uint64_t)b->npages * DRV_PAGE || len > (uint64_t)b->npages * DRV_PAGE - off)
		return HL_ERR_RANGE;
	for (uint64_t p = off / DRV_PAGE; p <= (off + len - 1) / DRV_PAGE; p++) {
		if (b->mapped[p / 64] & (1ull << (p % 64)))
			continue;
		hl_cptr_t f = rt_slot();
		if (!f)
			return HL_ERR_NO_MEMORY;
		if ((err = hl_memory_retype(b->first + p, HL_OBJ_FRAME, 12, 1, f)) ||
		    (err = rt_map_frame(HL_SLOT_ASPACE, f, b->va + p * DRV_PAGE,
		                        HL_R_READ | HL_R_WRITE)))
			return err;
		b->mapped[p / 64] |= 1ull << (p % 64);
	}
	*va = (volatile uint8_t *)(b->va + off);
	return HL_OK;
}

long drv_map_bar_prefix(hl_cptr_t dev, struct drv_bar bars[6], unsigned bar, uint64_t max,
                        volatile uint8_t **va, size_t *len)
{
	volatile uint8_t *p;
	uint64_t n = 0;
	long err = HL_ERR_RANGE; /* a BAR of no whole page */

	*len = 0;
	if (bar >= 6 || max < DRV_PAGE)
		return HL_ERR_INVALID_ARG;
	if (!bars[bar].first && (err = drv_bar_split(dev, &bars[bar], bar)))
		return err;
	while (n < max / DRV_PAGE && n < bars[bar].npages &&
	       !(err = drv_map_bar(dev, bars, bar, n * DRV_PAGE, DRV_PAGE, &p)))
		n++;
	if (n == 0)
		return err;
	*va = (volatile uint8_t *)bars[bar].va;
	*len = n * DRV_PAGE;
	return HL_OK;
}

uint64_t drv_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

uint64_t drv_ms_to_tsc(uint64_t ms)
{
	return rt_self.bi->tsc_hz / 1000 * ms;
}
