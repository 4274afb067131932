/* PCI device capabilities (kernel/pcidev.c). */
#ifndef KERNEL_PCIDEV_H
#define KERNEL_PCIDEV_H

#include <kernel/cap.h>

/* [pa, pa+size) touches a page of an MSI-X table or PBA: never a frame for ring 3. */
bool pcidev_range_protected(paddr_t pa, uint64_t size);
/*
 * An INTx IRQ handler capability's obj word: the function (pci_get() index)
 * and the IRQ, so that capabilities of different owners of one shared line
 * are different objects (cap_same_object compares obj).
 */
#define PCIDEV_INTX_OBJ(irq, idx) (1ull << 63 | (uint64_t)(uint32_t)(irq) << 32 | (uint32_t)(idx))
/* Turn off MSI-X entry (or MSI vector 0) entry of function idx; it may be handed out again. */
void pcidev_msi_release(uint32_t idx, uint32_t entry);
/* Remove the DMA mapping a frame capability records (FRAME_DMA). */
void pcidev_dma_unmap(struct cap *c);
/* The last capability to a function is deleted: bus mastering off. */
void pcidev_destroy(struct cap *c);

#endif
