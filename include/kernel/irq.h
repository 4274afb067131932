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

struct cpu;

#define IRQ_ISA_COUNT 24
#define IRQ_MSI_FIRST 32  /* vector 64 */
#define IRQ_COUNT     206 /* vectors up to 0xed; 0xee and above are the kernel's own */

/* A free message-signalled IRQ, claimed (its handler registered), or -1 when none is left. */
int irq_msi_alloc(void);
/* Record which PCI function (pci_get() index) and MSI-X entry (or MSI vector 0) raises irq. */
void irq_msi_bind(int irq, uint32_t dev, uint32_t entry);
/*
 * PCI INTx (kernel/pcidev.c): may function dev (pci_get() index) own an
 * INTx handler on GSI gsi? HL_OK, or HL_ERR_RANGE (no such GSI),
 * HL_ERR_ILLEGAL_OP (the function has one already, or the GSI is held as
 * an ISA line), HL_ERR_NO_MEMORY (no line, owner or vector left).
 */
int irq_intx_check(uint32_t dev, uint32_t gsi) __attribute__((warn_unused_result));
/* After irq_intx_check() said HL_OK: make dev an owner of gsi's line (routed to CPU c the first
 * time, masked until an owner binds a notification). Returns the IRQ number. Cannot fail. */
int irq_intx_claim(uint32_t dev, uint32_t gsi, const struct cpu *c);
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
