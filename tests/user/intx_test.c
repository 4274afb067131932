/*
 * Ring-3 suites "pci_intx_errors", "pci_intx" and "pci_intx_shared": PCI
 * INTx lines as IRQ handler capabilities (pci_device.intx, docs/devices.md,
 * "INTx"). QEMU's edu device raises its INTx pin (level, held until its
 * interrupt-acknowledge register is written) whenever its MSI is off; the
 * test boot places two of them four slots apart (00:03.0 and 00:07.0), so
 * that q35 wires both to the same PIRQ line and they share it.
 */
#include "utest.h"

#define EDU_VENDOR   0x1234
#define EDU_DEVICE   0x11e8
#define INTX_VA      0x530000000000ull /* a PML4 slot no other suite uses */
#define E_IRQ_STATUS 0x24
#define E_IRQ_RAISE  0x60
#define E_IRQ_ACK    0x64
#define QUIET_MS     50 /* how long "no signal" is watched for */

/* Index of the n-th function with vendor:device, or -1. */
static int nth_pci(uint16_t vendor, uint16_t device, int n)
{
	const struct hl_bootinfo *bi = rt_self.bi;

	for (uint32_t i = 0; i < bi->npci; i++)
		if (bi->pci[i].vendor == vendor && bi->pci[i].device == device && n-- == 0)
			return (int)i;
	return -1;
}

static hl_cptr_t issue(int idx)
{
	hl_cptr_t s = ut_slot();

	return idx >= 0 && hl_pci_control_issue(HL_SLOT_PCI_CONTROL, (hl_word_t)idx, s) == HL_OK
	           ? s
	           : 0;
}

struct edu {
	hl_cptr_t dev, irq, ntfn;
	volatile uint32_t *regs;
};

/* The n-th edu with its registers mapped (a page of its own each time), INTx-disable off. */
static bool edu_open(struct utest_ctx *t, struct edu *e, int n)
{
	static uint64_t opened;
	hl_cptr_t mem = ut_slot(), frame = ut_slot();
	uint64_t va = INTX_VA + opened++ * 4096;
	hl_word_t cmd = 0;

	*e = (struct edu){.dev = issue(nth_pci(EDU_VENDOR, EDU_DEVICE, n))};
	if (!e->dev) {
		rt_printf("        # no edu device %d (-device edu): skipped\n", n);
		return false;
	}
	if (!UCHECK(t, hl_pci_device_map_bar(e->dev, 0, mem) == HL_OK) ||
	    !UCHECK(t, hl_memory_retype(mem, HL_OBJ_FRAME, 12, 1, frame) == HL_OK) ||
	    !UCHECK(t, rt_ensure_tables(HL_SLOT_ASPACE, va) == HL_OK) ||
	    !UCHECK(t, hl_aspace_map(HL_SLOT_ASPACE, frame, va, HL_R_READ | HL_R_WRITE) == HL_OK) ||
	    !UCHECK(t, hl_pci_device_config_read(e->dev, 4, 2, &cmd) == HL_OK) ||
	    !UCHECK(t, hl_pci_device_config_write(e->dev, 4, 2, cmd & ~0x400ul) == HL_OK))
		return false;
	e->regs = (volatile uint32_t *)va;
	return true;
}

/* edu's INTx as an IRQ handler bound to a fresh notification. */
static bool edu_intx(struct utest_ctx *t, struct edu *e)
{
	e->irq = ut_slot();
	e->ntfn = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	return UCHECK(t, hl_pci_device_intx(e->dev, 0, e->irq) == HL_OK) &&
	       UCHECK(t, hl_irq_handler_set_notification(e->irq, e->ntfn) == HL_OK);
}

/* Cases of a suite share their slots until the suite ends: each gives its INTx handlers back. */
static void drop(hl_cptr_t irq)
{
	hl_cspace_delete(HL_SLOT_CSPACE, irq);
}

/* A signal on n within ms (consumed), or false. */
static bool signalled(hl_cptr_t n, uint64_t ms)
{
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(ms);;) {
		hl_word_t info = 0, badge = 0;
		struct hl_msg m = {{0}};
		if (hl_syscall(HL_SYS_POLL, n, &info, &m, &badge) == HL_OK)
			return true;
		if (ut_rdtsc() >= end)
			return false;
		hl_yield();
	}
}

UTEST(pci_intx_errors, intx_errors)
{
	struct edu e;

	if (!edu_open(t, &e, 0))
		return;
	hl_cptr_t s = ut_slot();
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, rt_self.bi->ncpus, s), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, 1u << 20), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, HL_SLOT_CSPACE), HL_ERR_SLOT_OCCUPIED);
	UEXPECT_ERR(t, hl_pci_device_intx(HL_SLOT_PCI_CONTROL, 0, s),
	            HL_ERR_ILLEGAL_OP); /* not a device capability */
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, s), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, ut_slot()),
	            HL_ERR_ILLEGAL_OP);                           /* one handler per function */
	UEXPECT_ERR(t, hl_irq_handler_ack(s), HL_ERR_ILLEGAL_OP); /* nothing bound yet */
	/* A function without an interrupt pin (config 0x3d = 0): QEMU's VGA. */
	hl_cptr_t vga = issue(nth_pci(0x1234, 0x1111, 0));
	if (vga)
		UEXPECT_ERR(t, hl_pci_device_intx(vga, 0, ut_slot()), HL_ERR_ILLEGAL_OP);
	else
		rt_printf("        # no VGA (1234:1111): the pin-less case skipped\n");
	drop(s);
}

/*
 * The GSI an owned INTx line arrives on cannot be taken as a raw line with
 * irq_control.get, and a raw line held that way cannot become a function's
 * INTx: only the functions wired to the line, through their own device
 * capabilities, hear it. Exactly one of q35's PIRQ inputs (GSI 16-23) is
 * refused while edu holds its INTx.
 */
UTEST(pci_intx_errors, owned_line_is_not_a_raw_irq)
{
	struct edu e;
	int refused = 0;
	hl_word_t line = 0;

	if (!edu_open(t, &e, 0))
		return;
	hl_cptr_t irq = ut_slot();
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, irq), HL_OK);
	for (hl_word_t g = 16; g < 24; g++) {
		hl_cptr_t s = ut_slot();
		long r = hl_irq_control_get(HL_SLOT_IRQ_CONTROL, g, s);
		if (r == HL_ERR_ILLEGAL_OP)
			refused++, line = g;
		else
			UEXPECT_ERR(t, r, HL_OK);
		hl_cspace_delete(HL_SLOT_CSPACE, s);
	}
	UEXPECT(t, refused == 1, "%d of GSIs 16-23 refused", refused);
	/* The other way round: the line held raw, the function's INTx refused. */
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, irq), HL_OK);
	hl_cptr_t raw = ut_slot();
	UEXPECT_ERR(t, hl_irq_control_get(HL_SLOT_IRQ_CONTROL, line, raw), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, ut_slot()), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, raw), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, irq), HL_OK);
	drop(irq);
}

/* The INTx handler is the device capability's child: revoking the device takes it away. */
UTEST(pci_intx_errors, revoking_the_device_takes_the_line)
{
	struct edu e;

	if (!edu_open(t, &e, 0))
		return;
	hl_cptr_t irq = ut_slot(), n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, irq), HL_OK);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(irq, n), HL_OK);
	hl_cspace_revoke(HL_SLOT_CSPACE, e.dev);
	UEXPECT_ERR(t, hl_irq_handler_ack(irq), HL_ERR_INVALID_CAP);
	hl_cptr_t again = ut_slot();
	UEXPECT_ERR(t, hl_pci_device_intx(e.dev, 0, again), HL_OK); /* the line is free again */
	drop(again);
}

/*
 * Level semantics: the line fires once and stays masked while the device
 * still asserts it; an ack before the device's cause is cleared lets it
 * fire again at once; clearing the cause, then the ack, leaves it quiet
 * until the device raises it again.
 */
UTEST(pci_intx, level_line_masked_until_acknowledged)
{
	struct edu e;

	if (!edu_open(t, &e, 0) || !edu_intx(t, &e))
		return;
	UEXPECT(t, !signalled(e.ntfn, QUIET_MS), "a signal before the device raised its pin");
	e.regs[E_IRQ_RAISE / 4] = 1;
	UEXPECT(t, signalled(e.ntfn, 2000), "no interrupt");
	UEXPECT(t, e.regs[E_IRQ_STATUS / 4] == 1);
	UEXPECT(t, !signalled(e.ntfn, QUIET_MS), "signalled again while masked");
	UEXPECT_ERR(t, hl_irq_handler_ack(e.irq), HL_OK); /* the pin is still high */
	UEXPECT(t, signalled(e.ntfn, 2000), "an ack with the pin high did not fire again");
	e.regs[E_IRQ_ACK / 4] = 1; /* the device drops its pin */
	UEXPECT_ERR(t, hl_irq_handler_ack(e.irq), HL_OK);
	UEXPECT(t, !signalled(e.ntfn, QUIET_MS), "signalled with the pin low");
	for (int round = 0; round < 3; round++) {
		e.regs[E_IRQ_RAISE / 4] = 0x100u << round;
		UEXPECT(t, signalled(e.ntfn, 2000), "round %d: no interrupt", round);
		e.regs[E_IRQ_ACK / 4] = 0x100u << round;
		UEXPECT_ERR(t, hl_irq_handler_ack(e.irq), HL_OK);
	}
	UEXPECT_ERR(t, hl_irq_handler_set_notification(e.irq, 0), HL_OK);
	e.regs[E_IRQ_RAISE / 4] = 1; /* unbound: the line stays masked, nothing is signalled */
	UEXPECT(t, !signalled(e.ntfn, QUIET_MS), "signalled through an unbound handler");
	e.regs[E_IRQ_ACK / 4] = 1;
	drop(e.irq);
}

static volatile uint64_t spins;
static volatile bool spin_stop;

static void spinner(void *arg)
{
	(void)arg;
	while (!spin_stop)
		spins++;
	for (;;)
		hl_yield();
}

/*
 * An interrupt nobody acknowledges does not storm: the device keeps its
 * level pin high and the handler never acks, yet a thread on the CPU the
 * line is routed to keeps running, and exactly one signal arrives. (If the
 * kernel did not mask the line, its IOAPIC would deliver it again after
 * every EOI and the CPU would run nothing else: this case, and the whole
 * run, would stop.)
 */
UTEST(pci_intx, unacknowledged_level_interrupt_does_not_storm)
{
	struct edu e;

	if (!edu_open(t, &e, 0) || !edu_intx(t, &e))
		return;
	spins = 0, spin_stop = false;
	hl_cptr_t th = ut_thread_new(t, spinner, NULL, 100);
	if (!UCHECK(t,
	            th && hl_thread_set_affinity(th, 0) == HL_OK && hl_thread_resume(th) == HL_OK))
		return;
	e.regs[E_IRQ_RAISE / 4] = 1;
	UEXPECT(t, signalled(e.ntfn, 2000), "no interrupt");
	uint64_t before = spins;
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(5000);
	     spins - before < 1000000 && ut_rdtsc() < end;)
		hl_yield();
	UEXPECT(t, spins - before >= 1000000, "the other thread ran %lu loops in 5 s",
	        spins - before);
	UEXPECT(t, !signalled(e.ntfn, QUIET_MS), "signalled again without an ack");
	spin_stop = true;
	hl_thread_suspend(th);
	e.regs[E_IRQ_ACK / 4] = 1;
	UEXPECT_ERR(t, hl_irq_handler_ack(e.irq), HL_OK);
	drop(e.irq);
}

/*
 * Two functions on one line (the two edus, four slots apart): a raise by
 * either signals both owners; the line stays masked until both have
 * acknowledged, so the owner whose device was quiet acks at once and the
 * other after clearing its device.
 */
UTEST(pci_intx_shared, both_owners_signalled_line_waits_for_both)
{
	struct edu a, b;

	if (!edu_open(t, &a, 0) || !edu_open(t, &b, 1))
		return;
	if (!edu_intx(t, &a) || !edu_intx(t, &b))
		return;
	a.regs[E_IRQ_RAISE / 4] = 1;
	UEXPECT(t, signalled(a.ntfn, 2000), "owner a not signalled");
	UEXPECT(t, signalled(b.ntfn, 2000), "owner b not signalled (shared line)");
	UEXPECT(t, b.regs[E_IRQ_STATUS / 4] == 0, "b's device raised nothing");
	UEXPECT_ERR(t, hl_irq_handler_ack(b.irq), HL_OK); /* b: not mine */
	UEXPECT(t, !signalled(b.ntfn, QUIET_MS), "unmasked while a is still pending");
	a.regs[E_IRQ_ACK / 4] = 1;
	UEXPECT_ERR(t, hl_irq_handler_ack(a.irq), HL_OK);
	UEXPECT(t, !signalled(a.ntfn, QUIET_MS) && !signalled(b.ntfn, 1), "signalled when quiet");
	b.regs[E_IRQ_RAISE / 4] = 2; /* now from the other device */
	UEXPECT(t, signalled(b.ntfn, 2000) && signalled(a.ntfn, 2000), "not both signalled");
	b.regs[E_IRQ_ACK / 4] = 2;
	UEXPECT_ERR(t, hl_irq_handler_ack(a.irq), HL_OK);
	UEXPECT_ERR(t, hl_irq_handler_ack(b.irq), HL_OK);
	/* One owner gone: the other keeps the line. */
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, a.irq), HL_OK);
	b.regs[E_IRQ_RAISE / 4] = 4;
	UEXPECT(t, signalled(b.ntfn, 2000), "the remaining owner not signalled");
	b.regs[E_IRQ_ACK / 4] = 4;
	UEXPECT_ERR(t, hl_irq_handler_ack(b.irq), HL_OK);
	drop(b.irq);
}
