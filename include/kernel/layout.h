/*
 * The kernel's virtual memory map (x86-64, 4-level paging, 48-bit).
 *
 *   0x0000000000000000 +-----------------------------+
 *                      | user space (ring 3), up to  |
 *                      | HL_USER_MAP_TOP             |
 *   0x00007fffffffffff +-----------------------------+
 *                      | non-canonical hole          |
 *   0xffff800000000000 +-----------------------------+ HHDM_BASE
 *                      | direct map of all physical  |
 *                      | memory, NX, 2 MiB pages     |
 *   0xffffc00000000000 +-----------------------------+ MMIO_BASE
 *                      | device memory (UC), 4 KiB   |
 *   0xffffe00000000000 +-----------------------------+ KSTACK_BASE
 *                      | kernel stacks, each with an |
 *                      | unmapped guard page below   |
 *   0xffffffff80000000 +-----------------------------+ KERNEL_VBASE
 *                      | kernel image (text RX,      |
 *                      | rodata R, data/bss RW+NX)   |
 *   0xffffffffffffffff +-----------------------------+
 *
 * The image is loaded at physical KERNEL_PBASE (2 MiB); its virtual address
 * is KERNEL_VBASE + physical.
 */
#ifndef KERNEL_LAYOUT_H
#define KERNEL_LAYOUT_H

#define HHDM_BASE    0xffff800000000000
#define MMIO_BASE    0xffffc00000000000
#define MMIO_SIZE    0x0000010000000000
#define KSTACK_BASE  0xffffe00000000000
#define KERNEL_VBASE 0xffffffff80000000
#define KERNEL_PBASE 0x200000

#define KSTACK_SIZE  (16 * 1024)	/* per kernel stack, plus one guard page */
#define IST_SIZE     (8 * 1024)

#ifndef __ASSEMBLER__
#include <kernel/types.h>
static inline void *phys_to_virt(paddr_t p)
{
	return (void *)(p + HHDM_BASE);
}
static inline paddr_t virt_to_phys(const void *v)
{
	vaddr_t a = (vaddr_t)v;
	return a >= KERNEL_VBASE ? a - KERNEL_VBASE : a - HHDM_BASE;
}
#endif

#endif
