/*
 * DMA remapping (arch/x86_64/vtd.c, Intel VT-d): one translation domain per
 * PCI function (index as pci_get() numbers them), identity I/O addresses.
 * Without a usable unit every call succeeds and does nothing: device DMA
 * is then unconfined, which the kernel says at boot.
 */
#ifndef ARCH_IOMMU_H
#define ARCH_IOMMU_H

#include <kernel/types.h>

/* After PCI enumeration: find the unit, set up its root table, turn translation on. */
bool iommu_init(void);
bool iommu_enabled(void);
/* DMA faults logged since boot. */
uint64_t iommu_fault_count(void);
/* Give function idx (at bus, devfn) its empty domain, once; 0, or -1 when out of memory. */
int iommu_attach(uint32_t idx, uint8_t bus, uint8_t devfn);
/* Map [iova, iova+size) to pa in idx's domain, readable and (if write) writable; 0 or -1. */
int iommu_map(uint32_t idx, uint64_t iova, paddr_t pa, uint64_t size, bool write);
void iommu_unmap(uint32_t idx, uint64_t iova, uint64_t size);

/*
 * Interrupt remapping (vtd.c): one table entry per vector, index = vector
 * - VEC_IRQ_BASE. Without it the calls below fail or do nothing and
 * interrupts are sent in compatibility format.
 */
bool iommu_ir_enabled(void);
/* Point entry index at vector on apic_id (edge, or level), accepted only from source id sid (any
 * source if sid < 0); 0, or -1 without remapping or out of range. */
int iommu_irte_set(uint32_t index, uint8_t vector, uint32_t apic_id, bool level, int32_t sid);
void iommu_irte_clear(uint32_t index);
/* The source id of the IOAPIC with this MADT id, from the DMAR's device scopes; -1 if unnamed. */
int32_t iommu_ioapic_sid(uint8_t ioapic_id);

#endif
