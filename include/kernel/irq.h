/*
 * IRQ handler and I/O port capabilities (kernel/irq.c): device interrupts
 * delivered as notification signals, port I/O on behalf of ring 3.
 */
#ifndef KERNEL_IRQ_H
#define KERNEL_IRQ_H

#include <kernel/object.h>

/* The IRQ handler capability cap is deleted: mask its IRQ and release it. */
void irq_handler_destroy(struct cap *cap);
/* Stop delivering any IRQ to n (n is being destroyed). */
void irq_unbind_ntfn(struct notification *n);

#endif
