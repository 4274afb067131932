/*
 * What a ring-3 driver needs from its partition: DMA pages whose physical
 * addresses it knows, device registers mapped uncached, time. Hallows
 * implementation in drv_env.c over user/rt; nothing else in a driver calls
 * the kernel except through the PCI device capability it was given.
 */
#ifndef DRIVERS_DRV_ENV_H
#define DRIVERS_DRV_ENV_H

#include <hallows/rt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DRV_PAGE 4096u

/*
 * One 4 KiB page of DMA memory for the PCI function dev: a fresh, zeroed
 * RAM frame mapped write-back for the CPU and, through a copy of its
 * frame capability, for dev's DMA (pci_device.dma_map: required with an
 * IOMMU, recorded without). Two pages are never assumed contiguous: each
 * has its own paddr, which is also the device's address (identity I/O
 * addresses, docs/devices.md). Returns 0 or HL_ERR_*.
 */
long drv_dma_page(hl_cptr_t dev, void **va, uint64_t *paddr) __attribute__((warn_unused_result));

/* A device's BARs as the driver maps them (one per BAR, pages made into frames on demand). */
struct drv_bar {
	hl_cptr_t
	    first; /* 4 KiB device-memory capabilities: first .. first + npages - 1 (0: not yet) */
	uint32_t npages;
	uint64_t size;
	uint64_t va;        /* the BAR's base in the driver's window (pages mapped lazily) */
	uint64_t mapped[4]; /* bitmap of the first 256 pages already mapped */
};

/*
 * Map [off, off + len) of memory BAR `bar` of device `dev` uncached and
 * return its address in *va. Only the pages asked for become frames, so an
 * MSI-X table elsewhere in the BAR is never touched. Returns 0 or HL_ERR_*.
 */
long drv_map_bar(hl_cptr_t dev, struct drv_bar bars[6], unsigned bar, uint64_t off, uint64_t len,
                 volatile uint8_t **va) __attribute__((warn_unused_result));

/*
 * Map memory BAR `bar` from its first byte as far as the device capability
 * allows: page by page up to max bytes (and the driver's window of 1 MiB),
 * ending before the first page that does not become a frame (an MSI-X
 * table or PBA: docs/devices.md). Its address in *va, the bytes mapped in
 * *len. Returns 0, or HL_ERR_* when not even the first page maps.
 */
long drv_map_bar_prefix(hl_cptr_t dev, struct drv_bar bars[6], unsigned bar, uint64_t max,
                        volatile uint8_t **va, size_t *len) __attribute__((warn_unused_result));

uint64_t drv_rdtsc(void);
uint64_t drv_ms_to_tsc(uint64_t ms);

#endif
