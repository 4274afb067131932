/* Normalizing the firmware memory map (kernel/memmap.c, host-tested). */
#ifndef KERNEL_MEMMAP_H
#define KERNEL_MEMMAP_H

#include <kernel/bootinfo.h>

/*
 * Turn a raw map (possibly unsorted, overlapping, with tiny or zero-length
 * entries) into sorted, disjoint, merged entries. Where entries overlap the
 * more restrictive type wins (bad > reserved > ACPI NVS > ACPI reclaim >
 * usable). Usable ranges are then shrunk to whole pages and dropped if
 * empty. Returns the number of output entries; *anomalies counts overlaps,
 * out-of-order and dropped entries so the caller can warn.
 */
uint32_t memmap_normalize(const struct boot_mmap_entry *in, uint32_t n, struct boot_mmap_entry *out,
                          uint32_t max, uint32_t *anomalies) __must_check;

const char *memmap_type_name(uint32_t type);

#endif
