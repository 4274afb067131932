/*
 * IRQ handler and I/O port capabilities (kernel/irq.c): device interrupts
 * delivered as notification signals, port I/O on behalf of ring 3.
 * Interrupt lines and message-signalled vectors are IRQ handler
 * capabilities. IRQ numbers: 0-23 the ISA/IOAPIC lines,
 * IRQ_MSI_FIRST.. the vectors handed to MSI and MSI-X (kernel/pcidev.c);
 * IRQ n arrives on CPU vector VEC_IRQ_BASE + n.
 */
#ifndef KERNEL_IRQ_H
#define KERNEL_IRQ_H

#include <kernel/object.h>

#define IRQ_ISA_COUNT 24
#define IRQ_MSI_FIRST 32  /* vector 64 */
#define IRQ_COUNT     206 /* vectors up to 0xed; 0xee and above are the kernel's own */

/* A free message-signalled IRQ, claimed (its handler registered), or -1 when none is left. */
int irq_msi_alloc(void);
/* Record which PCI function (pci_get() index) and MSI-X entry (or MSI vector 0) raises irq. */
void irq_msi_bind(int irq, uint32_t dev, uint32_t entry);
/* The CPU vector IRQ irq arrives on. */
static inline uint32_t irq_vector(int irq)
{
	return 32u + (uint32_t)irq;
}
/* The last capability to an IRQ handler is gone: mask the line or turn the message off, free it. */
void irq_handler_destroy(struct cap *c);
/* A notification is destroyed: no IRQ signals it any more. */
void irq_unbind_ntfn(struct notification *n);

#endif
