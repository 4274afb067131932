/* PCI enumeration and configuration access (arch/x86_64/pci.c). */
#ifndef KERNEL_PCI_H
#define KERNEL_PCI_H

#include <kernel/types.h>

#define PCI_MAX_DEVS 128

struct pci_bar {
	uint64_t base, size; /* size 0 = unimplemented */
	bool io, is64, prefetch;
};

struct pci_dev {
	uint16_t seg;
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint8_t class, subclass, progif, revision, header;
	uint8_t irq_line, irq_pin;
	struct pci_bar bar[6];
};

/* Enumerate (ECAM when the MCFG allows, else ports 0xcf8/0xcfc) and print the table. */
void pci_init(void);
uint32_t pci_count(void);
const struct pci_dev *pci_get(uint32_t i);
/* The idx-th device matching vendor:device (0xffff = any) or class:subclass. */
const struct pci_dev *pci_find(uint16_t vendor, uint16_t device, uint32_t idx);
const struct pci_dev *pci_find_class(uint8_t class, uint8_t subclass, uint32_t idx);
uint32_t pci_cfg_read32(const struct pci_dev *d, uint16_t off);
void pci_cfg_write32(const struct pci_dev *d, uint16_t off, uint32_t v);
uint16_t pci_cfg_read16(const struct pci_dev *d, uint16_t off);
void pci_cfg_write16(const struct pci_dev *d, uint16_t off, uint16_t v);
uint8_t pci_cfg_read8(const struct pci_dev *d, uint16_t off);
/* A read-modify-write of the dword (config space has no byte stores through ports). */
void pci_cfg_write8(const struct pci_dev *d, uint16_t off, uint8_t v);
/*
 * How config space is reached: ECAM or ports (the hardware's), or a
 * ktest's fake. A function that is absent, or has gone, reads all-ones.
 */
struct pci_cfg_ops {
	uint32_t (*read32)(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
	void (*write32)(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v);
};
/* Use ops (NULL: the hardware's) for every config access; returns the previous ones. For ktests,
 * while nothing else touches config space. */
const struct pci_cfg_ops *pci_cfg_swap(const struct pci_cfg_ops *ops);
/* Walk the buses from bus 0 into out (at most max functions; pci_init keeps the result). */
uint32_t pci_scan(struct pci_dev *out, uint32_t max);
/* Map a memory BAR uncached; NULL for I/O or absent BARs. */
void *pci_bar_map(const struct pci_dev *d, int bar) __must_check;
bool pci_uses_ecam(void);

#endif
