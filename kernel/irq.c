/*
 * IRQ and I/O-port capabilities. An IRQ handler capability delivers its
 * interrupt as a signal on a bound notification; an ISA line stays masked
 * until the handler acknowledges it, a message-signalled one (MSI, MSI-X:
 * edge-triggered, from kernel/pcidev.c) needs no acknowledgement (ack
 * succeeds and does nothing), and a PCI INTx line (level-triggered, maybe
 * shared by several functions, from pci_device.intx) is masked when it
 * fires until every owner it signalled has acknowledged. I/O-port
 * capabilities cover a port range; in and out are kernel invocations (no
 * I/O bitmap is exposed).
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
#include <kernel/panic.h>
#include <kernel/percpu.h>

#define NIRQ            IRQ_ISA_COUNT /* lines irq_control.get hands out */
#define INTX_LINES      16            /* GSIs in use as PCI INTx lines at once */
#define INTX_MAX_OWNERS 8             /* functions sharing one line */

/*
 * A PCI INTx line: one GSI, one vector, shared by the functions whose pins
 * reach it. Level-triggered: when it fires it is masked and every owner
 * with a notification is signalled and marked pending; it is unmasked once
 * no owner is pending (each has cleared its device's cause and called
 * irq_handler.ack), so a line nobody acknowledges stays quiet.
 */
struct intx_owner {
	bool used;
	bool pending;              /* signalled, not yet acknowledged */
	uint32_t dev;              /* pci_get() index */
	struct notification *ntfn; /* [BKL] */
};

struct intx_line {
	bool used;
	uint32_t gsi;
	int irq;
	struct intx_owner owners[INTX_MAX_OWNERS];
};

struct irq_state {
	bool claimed; /* an IRQ handler capability exists */
	bool
	    msi; /* message-signalled: from PCI function dev, MSI-X entry (or MSI vector 0) entry */
	uint32_t dev, entry;
	struct intx_line *line;    /* a PCI INTx line, or NULL */
	struct notification *ntfn; /* [BKL] ISA lines and messages */
};

static struct irq_state irqs[IRQ_COUNT];        /* [BKL] */
static struct intx_line intx_lines[INTX_LINES]; /* [BKL] */

/* The line is unmasked exactly when some owner can hear it and none is pending. */
static void intx_update_mask(struct intx_line *l)
{
	bool bound = false, pending = false;

	for (int i = 0; i < INTX_MAX_OWNERS; i++)
		if (l->owners[i].used && l->owners[i].ntfn) {
			bound = true;
			pending |= l->owners[i].pending;
		}
	arch_gsi_mask(l->gsi, !bound || pending);
}

static void intx_arrived(struct intx_line *l)
{
	arch_gsi_mask(l->gsi, true); /* level: quiet until every owner has acknowledged */
	for (int i = 0; i < INTX_MAX_OWNERS; i++) {
		struct intx_owner *o = &l->owners[i];
		if (o->used && o->ntfn) {
			o->pending = true;
			ntfn_signal(o->ntfn, 1ull << (l->irq % 64));
		}
	}
}

static void irq_arrived(struct trap_frame *tf)
{
	uint32_t irq = (uint32_t)tf->vector - VEC_IRQ_BASE;

	if (irq >= IRQ_COUNT)
		return;
	if (irqs[irq].line) {
		intx_arrived(irqs[irq].line);
		return;
	}
	if (!irqs[irq].ntfn)
		return;
	if (!irqs[irq].msi)
		arch_irq_mask(irq, true); /* masked until acknowledged */
	ntfn_signal(irqs[irq].ntfn, 1ull << (irq % 64));
}

/* A free vector-backed IRQ (IRQ_MSI_FIRST..), or -1. Changes nothing. */
static int irq_free_vector(void)
{
	for (int irq = IRQ_MSI_FIRST; irq < IRQ_COUNT; irq++)
		if (!irqs[irq].claimed)
			return irq;
	return -1;
}

int irq_msi_alloc(void)
{
	int irq = irq_free_vector();

	if (irq < 0)
		return -1;
	irqs[irq] = (struct irq_state){.claimed = true, .msi = true};
	irq_register((uint8_t)irq_vector(irq), irq_arrived);
	return irq;
}

void irq_msi_bind(int irq, uint32_t dev, uint32_t entry)
{
	irqs[irq].dev = dev;
	irqs[irq].entry = entry;
}

static struct intx_line *intx_find(uint32_t gsi)
{
	for (int i = 0; i < INTX_LINES; i++)
		if (intx_lines[i].used && intx_lines[i].gsi == gsi)
			return &intx_lines[i];
	return NULL;
}

static struct intx_owner *intx_owner_of(struct intx_line *l, uint32_t dev)
{
	for (int i = 0; i < INTX_MAX_OWNERS; i++)
		if (l->owners[i].used && l->owners[i].dev == dev)
			return &l->owners[i];
	return NULL;
}

/* An ISA line handed out by irq_control.get arrives on gsi. */
static bool isa_line_uses(uint32_t gsi)
{
	for (uint32_t irq = 0; irq < NIRQ; irq++)
		if (irqs[irq].claimed && arch_isa_irq_gsi(irq) == gsi)
			return true;
	return false;
}

int irq_intx_check(uint32_t dev, uint32_t gsi)
{
	struct intx_line *l = intx_find(gsi);

	if (!arch_gsi_valid(gsi))
		return HL_ERR_RANGE;
	if (isa_line_uses(gsi))
		return HL_ERR_ILLEGAL_OP; /* the GSI is held as a raw line */
	if (l) {
		if (intx_owner_of(l, dev))
			return HL_ERR_ILLEGAL_OP; /* one handler per function */
		for (int i = 0; i < INTX_MAX_OWNERS; i++)
			if (!l->owners[i].used)
				return HL_OK;
		return HL_ERR_NO_MEMORY; /* too many functions share the line */
	}
	for (int i = 0; i < INTX_LINES; i++)
		if (!intx_lines[i].used)
			return irq_free_vector() < 0 ? HL_ERR_NO_MEMORY : HL_OK;
	return HL_ERR_NO_MEMORY;
}

int irq_intx_claim(uint32_t dev, uint32_t gsi, const struct cpu *c)
{
	struct intx_line *l = intx_find(gsi);

	if (!l) {
		for (l = intx_lines; l->used; l++)
			;
		int irq = irq_free_vector();
		*l = (struct intx_line){.used = true, .gsi = gsi, .irq = irq};
		irqs[irq] = (struct irq_state){.claimed = true, .line = l};
		irq_register((uint8_t)irq_vector(irq), irq_arrived);
		/* irq_intx_check() found the GSI; the entry stays masked until an owner binds. */
		bool routed = arch_gsi_route_level(gsi, irq_vector(irq), c);
		kassert(routed);
	}
	struct intx_owner *o = l->owners;
	while (o->used)
		o++;
	*o = (struct intx_owner){.used = true, .dev = dev};
	return l->irq;
}

/* The INTx owner an IRQ handler capability stands for, or NULL (an ISA line or a message). */
static struct intx_owner *cap_owner(const struct cap *c)
{
	struct intx_line *l = c->aux < IRQ_COUNT ? irqs[c->aux].line : NULL;

	return l ? intx_owner_of(l, (uint32_t)c->obj) : NULL;
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
	if (irqs[irq].claimed || intx_find(arch_isa_irq_gsi((uint32_t)irq)))
		return HL_ERR_ILLEGAL_OP; /* one handler per line; a PCI INTx line is its owners' */
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
	struct intx_owner *o = cap_owner(&inv->target->cap);
	struct slot *n;

	if (inv->arg[0] == 0) {
		if (o) {
			o->ntfn = NULL, o->pending = false;
			intx_update_mask(irqs[irq].line);
		} else {
			irqs[irq].ntfn = NULL;
		}
		return HL_OK;
	}
	int err = inv_cap(inv, 0, HL_OBJ_NOTIFICATION, HL_R_WRITE, &n);
	if (err)
		return err;
	struct notification *ntfn = (struct notification *)n->cap.obj;
	if (o) { /* the line was routed when it was claimed */
		o->ntfn = ntfn, o->pending = false;
		ntfn->irq = (int32_t)irq;
		intx_update_mask(irqs[irq].line);
		return HL_OK;
	}
	/* Routing only programs the line's own pin (a message goes where pcidev aimed it); an IRQ
	 * no interrupt controller has cannot be bound. */
	if (!irqs[irq].msi && !arch_irq_route(irq, &cpus[0]))
		return HL_ERR_RANGE;
	irqs[irq].ntfn = ntfn;
	irqs[irq].ntfn->irq = (int32_t)irq;
	return HL_OK;
}

int decode_irq_handler_ack(struct invocation *inv)
{
	uint32_t irq = inv->target->cap.aux;
	struct intx_owner *o = cap_owner(&inv->target->cap);

	if (o) {
		if (!o->ntfn)
			return HL_ERR_ILLEGAL_OP;
		o->pending = false;
		intx_update_mask(irqs[irq].line);
		return HL_OK;
	}
	if (!irqs[irq].ntfn)
		return HL_ERR_ILLEGAL_OP;
	if (!irqs[irq].msi)
		arch_irq_mask(irq, false);
	return HL_OK;
}

void irq_handler_destroy(struct cap *c)
{
	uint32_t irq = c->aux;
	struct intx_owner *o = cap_owner(c);

	if (irq >= IRQ_COUNT)
		return;
	if (o) {
		struct intx_line *l = irqs[irq].line;
		*o = (struct intx_owner){0};
		for (int i = 0; i < INTX_MAX_OWNERS; i++)
			if (l->owners[i].used) {
				intx_update_mask(l);
				return;
			}
		arch_gsi_mask(l->gsi, true); /* the last owner is gone: line and vector free */
		*l = (struct intx_line){0};
		irqs[irq] = (struct irq_state){0};
		return;
	}
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
	for (int i = 0; i < INTX_LINES; i++) {
		struct intx_line *l = &intx_lines[i];
		bool changed = false;
		for (int k = 0; l->used && k < INTX_MAX_OWNERS; k++)
			if (l->owners[k].used && l->owners[k].ntfn == n) {
				l->owners[k].ntfn = NULL, l->owners[k].pending = false;
				changed = true;
			}
		if (changed)
			intx_update_mask(l);
	}
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
