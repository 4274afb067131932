/* PCI device capabilities (kernel/pcidev.c). */
#ifndef KERNEL_PCIDEV_H
#define KERNEL_PCIDEV_H

#include <kernel/cap.h>
#include <kernel/pci.h>

/* What the kernel learns of a function's capabilities list, once, at first use. */
struct pcidev {
	bool probed;
	uint8_t msi, msix, pcie; /* config offsets of the structures, 0 = absent */
	uint16_t msix_n;         /* MSI-X table entries */
	uint8_t msix_bir, pba_bir;
	uint32_t msix_off, pba_off;
	volatile uint32_t *msix_table; /* kernel mapping, once an entry is used */
	uint64_t msi_used; /* MSI-X entries (0-63) or MSI vector 0 with an IRQ handler */
};

/* The function answers all-ones (vendor 0xffff): absent, removed, or not yet back from a reset. */
bool pcidev_gone(const struct pci_dev *d);
/* Record the MSI, MSI-X and PCIe structures of d's capabilities list in s (bounded walk). */
void pcidev_walk_caps(const struct pci_dev *d, struct pcidev *s);
/* Function-level reset; HL_OK, HL_ERR_RANGE (the function reads all-ones), HL_ERR_ILLEGAL_OP (no
 * FLR). */
int pcidev_flr(const struct pci_dev *d, const struct pcidev *s) __must_check;

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
