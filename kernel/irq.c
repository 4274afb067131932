/*
 * IRQ and I/O-port capabilities. An IRQ handler capability delivers its
 * interrupt as a signal on a bound notification; an ISA line stays masked
 * until the handler acknowledges it, a message-signalled one (MSI, MSI-X:
 * edge-triggered, from kernel/pcidev.c) needs no acknowledgement (ack
 * succeeds and does nothing). I/O-port capabilities cover a port range;
 * in and out are kernel invocations (no I/O bitmap is exposed).
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/bkl.h>
#include <kernel/invoke.h>
#include <kernel/ipc.h>
#include <kernel/irq.h>
#include <kernel/object.h>
#include <kernel/pcidev.h>
#include <kernel/percpu.h>

#define NIRQ IRQ_ISA_COUNT /* lines irq_control.get hands out */

struct irq_state {
	bool claimed; /* an IRQ handler capability exists */
	bool
	    msi; /* message-signalled: from PCI function dev, MSI-X entry (or MSI vector 0) entry */
	uint32_t dev, entry;
	struct notification *ntfn; /* [BKL] */
};

static struct irq_state irqs[IRQ_COUNT]; /* [BKL] */

static void irq_arrived(struct trap_frame *tf)
{
	uint32_t irq = (uint32_t)tf->vector - VEC_IRQ_BASE;

	if (irq >= IRQ_COUNT || !irqs[irq].ntfn)
		return;
	if (!irqs[irq].msi)
		arch_irq_mask(irq, true); /* masked until acknowledged */
	ntfn_signal(irqs[irq].ntfn, 1ull << (irq % 64));
}

int irq_msi_alloc(void)
{
	for (int irq = IRQ_MSI_FIRST; irq < IRQ_COUNT; irq++)
		if (!irqs[irq].claimed) {
			irqs[irq] = (struct irq_state){.claimed = true, .msi = true};
			irq_register((uint8_t)irq_vector(irq), irq_arrived);
			return irq;
		}
	return -1;
}

void irq_msi_bind(int irq, uint32_t dev, uint32_t entry)
{
	irqs[irq].dev = dev;
	irqs[irq].entry = entry;
}

int decode_irq_control_get(struct invocation *inv)
{
	uint64_t irq = inv->arg[0];
	struct slot *d = cspace_slot(inv->cspace, inv->arg[1]);

	if (irq >= NIRQ)
		return HL_ERR_RANGE;
	if (!d)
		return HL_ERR_INVALID_CAP;
	if (d->cap.type != HL_OBJ_NONE)
		return HL_ERR_SLOT_OCCUPIED;
	if (irqs[irq].claimed)
		return HL_ERR_ILLEGAL_OP; /* one handler per line */
	struct cap c = {.type = HL_OBJ_IRQ_HANDLER,
	                .rights = HL_R_ALL,
	                .aux = (uint32_t)irq,
	                .flags = CAP_F_ORIGINAL};
	cap_insert(d, &c, inv->target);
	irqs[irq].claimed = true;
	irq_register((uint8_t)(VEC_IRQ_BASE + irq), irq_arrived);
	return HL_OK;
}

int decode_irq_handler_set_notification(struct invocation *inv)
{
	uint32_t irq = inv->target->cap.aux;
	struct slot *n;

	if (inv->arg[0] == 0) {
		irqs[irq].ntfn = NULL;
		return HL_OK;
	}
	int err = inv_cap(inv, 0, HL_OBJ_NOTIFICATION, HL_R_WRITE, &n);
	if (err)
		return err;
	/* Routing only programs the line's own pin (a message goes where pcidev aimed it); an IRQ
	 * no interrupt controller has cannot be bound. */
	if (!irqs[irq].msi && !arch_irq_route(irq, &cpus[0]))
		return HL_ERR_RANGE;
	irqs[irq].ntfn = (struct notification *)n->cap.obj;
	irqs[irq].ntfn->irq = (int32_t)irq;
	return HL_OK;
}

int decode_irq_handler_ack(struct invocation *inv)
{
	uint32_t irq = inv->target->cap.aux;

	if (!irqs[irq].ntfn)
		return HL_ERR_ILLEGAL_OP;
	if (!irqs[irq].msi)
		arch_irq_mask(irq, false);
	return HL_OK;
}

void irq_handler_destroy(struct cap *c)
{
	uint32_t irq = c->aux;

	if (irq >= IRQ_COUNT)
		return;
	if (irqs[irq].msi) {
		pcidev_msi_release(irqs[irq].dev, irqs[irq].entry);
		arch_msi_free(irq_vector((int)irq));
	} else
		arch_irq_mask(irq, true);
	irqs[irq] = (struct irq_state){0};
}

void irq_unbind_ntfn(struct notification *n)
{
	for (int i = 0; i < IRQ_COUNT; i++)
		if (irqs[i].ntfn == n)
			irqs[i].ntfn = NULL;
}

int decode_ioport_control_issue(struct invocation *inv)
{
	uint64_t base = inv->arg[0], count = inv->arg[1];
	struct slot *d = cspace_slot(inv->cspace, inv->arg[2]);

	if (count == 0 || base > 0xffff || count > 0x10000 - base) /* no wrap-around */
		return HL_ERR_RANGE;
	if (!d)
		return HL_ERR_INVALID_CAP;
	if (d->cap.type != HL_OBJ_NONE)
		return HL_ERR_SLOT_OCCUPIED;
	struct cap c = {.type = HL_OBJ_IOPORT,
	                .rights = HL_R_READ | HL_R_WRITE,
	                .obj = base,
	                .aux = (uint32_t)count};
	cap_insert(d, &c, inv->target);
	return HL_OK;
}

/* Port and width must lie inside the capability's range; width 1, 2 or 4. */
static int port_ok(const struct invocation *inv, uint64_t port, uint64_t width)
{
	const struct cap *c = &inv->target->cap;

	if (width != 1 && width != 2 && width != 4)
		return HL_ERR_INVALID_ARG;
	if (port < c->obj || port - c->obj >= c->aux ||
	    width > c->aux - (port - c->obj)) /* no wrap-around */
		return HL_ERR_RANGE;
	return HL_OK;
}

int decode_ioport_in(struct invocation *inv)
{
	uint64_t port = inv->arg[0], width = inv->arg[1];
	int err = port_ok(inv, port, width);

	if (err)
		return err;
	if (!(inv->target->cap.rights & HL_R_READ))
		return HL_ERR_NO_RIGHTS;
	inv->res[0] = width == 1   ? inb((uint16_t)port)
	              : width == 2 ? inw((uint16_t)port)
	                           : inl((uint16_t)port);
	return HL_OK;
}

int decode_ioport_out(struct invocation *inv)
{
	uint64_t port = inv->arg[0], width = inv->arg[1], v = inv->arg[2];
	int err = port_ok(inv, port, width);

	if (err)
		return err;
	if (!(inv->target->cap.rights & HL_R_WRITE))
		return HL_ERR_NO_RIGHTS;
	if (width == 1)
		outb((uint16_t)port, (uint8_t)v);
	else if (width == 2)
		outw((uint16_t)port, (uint16_t)v);
	else
		outl((uint16_t)port, (uint32_t)v);
	return HL_OK;
}
