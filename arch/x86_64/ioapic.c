/* IOAPICs from the MADT: redirection entries for ISA IRQs and GSIs. */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/iommu.h>
#include <arch/platform.h>
#include <arch/trap.h>
#include <kernel/klog.h>
#include <kernel/vm.h>

struct ioapic {
	volatile uint32_t *regs;  /* [I] index at 0, data at 0x10 */
	uint32_t gsi_base, count; /* [I] */
	uint8_t id;               /* [I] MADT id: names the IOAPIC's source id for remapping */
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static uint32_t nioapics;

static uint32_t io_rd(struct ioapic *io, uint32_t reg)
{
	io->regs[0] = reg;
	return io->regs[4];
}

static void io_wr(struct ioapic *io, uint32_t reg, uint32_t v)
{
	io->regs[0] = reg;
	io->regs[4] = v;
}

void ioapic_init(void)
{
	for (uint32_t i = 0; i < acpi.nioapics; i++) {
		struct ioapic *io = &ioapics[nioapics];
		io->regs = vm_map_mmio(acpi.ioapics[i].phys, 0x20);
		if (!io->regs)
			continue;
		io->gsi_base = acpi.ioapics[i].gsi_base;
		io->id = acpi.ioapics[i].id;
		io->count = ((io_rd(io, 1) >> 16) & 0xff) + 1;
		for (uint32_t p = 0; p < io->count; p++) /* everything masked */
			io_wr(io, 0x10 + 2 * p, 1u << 16);
		pr_info("ioapic: id %u at %#lx, GSIs %u-%u", acpi.ioapics[i].id,
		        acpi.ioapics[i].phys, io->gsi_base, io->gsi_base + io->count - 1);
		nioapics++;
	}
	if (!nioapics)
		pr_warn("ioapic: none found; external interrupts unavailable");
}

/*
 * Write pin's redirection entry: lo holds vector, polarity, trigger and
 * mask (bits 0-7, 13, 15, 16), apic_id the destination. With VT-d
 * interrupt remapping on, the entry is written in remappable format
 * (VT-d 5.1.5.1): it names the remapping entry of its vector, which holds
 * vector, trigger and destination and accepts the message only from this
 * IOAPIC's source id; an entry that cannot be set up stays masked. The
 * only place here that knows about remapping.
 */
static void ioapic_write_rte(struct ioapic *io, uint32_t pin, uint32_t lo, uint32_t apic_id)
{
	uint32_t hi = apic_id << 24;

	if (iommu_ir_enabled()) {
		uint32_t vector = lo & 0xff, index = vector - VEC_IRQ_BASE;
		if (iommu_irte_set(index, (uint8_t)vector, apic_id, lo & (1u << 15),
		                   iommu_ioapic_sid(io->id)) != 0)
			lo |= 1u << 16;
		hi = (index & 0x7fff) << 17 | 1u << 16; /* handle[14:0], remappable format */
		lo = (lo & 0x1a0ffu) | ((index >> 15) & 1) << 11;
	}
	io_wr(io, 0x10 + 2 * pin, 1u << 16); /* masked while the halves disagree */
	io_wr(io, 0x11 + 2 * pin, hi);
	io_wr(io, 0x10 + 2 * pin, lo);
}

/* The IOAPIC whose inputs include gsi, or NULL. */
static struct ioapic *ioapic_of(uint32_t gsi)
{
	for (uint32_t i = 0; i < nioapics; i++)
		if (gsi >= ioapics[i].gsi_base && gsi - ioapics[i].gsi_base < ioapics[i].count)
			return &ioapics[i];
	return NULL;
}

/*
 * The one place a redirection entry is written: GSI gsi arrives as vector on
 * CPU apic_id, fixed delivery, physical destination, with the trigger mode
 * and polarity given; masked as asked. False if no IOAPIC has the GSI.
 * (Interrupt remapping is ioapic_write_rte's business.)
 */
bool ioapic_program(uint32_t gsi, uint8_t vector, uint32_t apic_id, bool level, bool active_low,
                    bool masked)
{
	struct ioapic *io = ioapic_of(gsi);

	if (!io)
		return false;
	uint32_t lo =
	    vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0) | (masked ? 1u << 16 : 0);
	ioapic_write_rte(io, gsi - io->gsi_base, lo, apic_id);
	return true;
}

bool ioapic_has_gsi(uint32_t gsi)
{
	return ioapic_of(gsi) != NULL;
}

/* The GSI an ISA IRQ arrives on, and its MPS INTI flags (0 = bus default), after overrides. */
static uint32_t isa_gsi(uint8_t isa_irq, uint32_t *flags)
{
	uint32_t gsi = isa_irq;

	*flags = 0;
	for (uint32_t i = 0; i < acpi.nisos; i++)
		if (acpi.isos[i].bus_irq == isa_irq)
			gsi = acpi.isos[i].gsi, *flags = acpi.isos[i].flags;
	return gsi;
}

bool ioapic_route_isa(uint8_t isa_irq, uint8_t vector, uint32_t apic_id)
{
	uint32_t flags, gsi = isa_gsi(isa_irq, &flags);

	return ioapic_program(gsi, vector, apic_id, ((flags >> 2) & 3) == 3, (flags & 3) == 3,
	                      false);
}

bool arch_irq_route(uint32_t irq, const struct cpu *c)
{
	return irq < 256 - VEC_IRQ_BASE &&
	       ioapic_route_isa((uint8_t)irq, (uint8_t)(VEC_IRQ_BASE + irq), c->apic_id);
}

void arch_irq_mask(uint32_t irq, bool masked)
{
	if (irq <= 0xff)
		ioapic_mask_isa((uint8_t)irq, masked);
}

/* Mask or unmask GSI gsi's pin (nothing if no IOAPIC has it). */
void ioapic_mask_gsi(uint32_t gsi, bool masked)
{
	struct ioapic *io = ioapic_of(gsi);

	if (!io)
		return;
	uint32_t reg = 0x10 + 2 * (gsi - io->gsi_base);
	uint32_t lo = io_rd(io, reg);
	io_wr(io, reg, masked ? lo | 1u << 16 : lo & ~(1u << 16));
}

/* Mask or unmask the pin an ISA IRQ (after overrides) arrives on. */
void ioapic_mask_isa(uint8_t isa_irq, bool masked)
{
	uint32_t flags;

	ioapic_mask_gsi(isa_gsi(isa_irq, &flags), masked);
}

uint32_t arch_isa_irq_gsi(uint32_t irq)
{
	uint32_t flags;

	return irq <= 0xff ? isa_gsi((uint8_t)irq, &flags) : irq;
}

bool arch_gsi_route_level(uint32_t gsi, uint32_t vector, const struct cpu *c)
{
	/* PCI INTx: level-triggered, active low (PCI Local Bus 2.2.6); masked until bound. */
	return vector <= 0xff && ioapic_program(gsi, (uint8_t)vector, c->apic_id, true, true, true);
}

bool arch_gsi_valid(uint32_t gsi)
{
	return ioapic_has_gsi(gsi);
}

void arch_gsi_mask(uint32_t gsi, bool masked)
{
	ioapic_mask_gsi(gsi, masked);
}
