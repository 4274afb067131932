/* Physical memory manager: frames from the boot memory map (kernel/pmm.c). */
#ifndef KERNEL_PMM_H
#define KERNEL_PMM_H

#include <kernel/bootinfo.h>

/* Normalized memory map, filled by pmm_init(). */
extern struct boot_mmap_entry pmm_map[BOOT_MAX_MMAP];
extern uint32_t pmm_nmap;

/*
 * Build the frame map. Never hands out: the first MiB, the kernel image,
 * boot modules, the loader's info structure, ACPI or reserved ranges.
 */
void pmm_init(const struct boot_info *bi);
/* n contiguous frames aligned to align_pages frames; 0 when out of memory. */
paddr_t pmm_alloc_pages(size_t n, size_t align_pages) __must_check;
static inline paddr_t pmm_alloc(void)
{
	return pmm_alloc_pages(1, 1);
}
void pmm_free_pages(paddr_t pa, size_t n);
uint64_t pmm_free_count(void);
uint64_t pmm_total_usable(void);
/* Frames the allocator covers, from physical 0 up to the end of the last usable range. */
uint64_t pmm_frame_count(void);
/* True when [pa, pa+len) lies inside an entry of the memory map. */
bool pmm_range_known(paddr_t pa, size_t len);

#endif
