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

bool ioapic_route_isa(uint8_t isa_irq, uint8_t vector, uint32_t apic_id)
{
	uint32_t gsi = isa_irq, flags = 0;

	for (uint32_t i = 0; i < acpi.nisos; i++)
		if (acpi.isos[i].bus_irq == isa_irq)
			gsi = acpi.isos[i].gsi, flags = acpi.isos[i].flags;
	for (uint32_t i = 0; i < nioapics; i++) {
		struct ioapic *io = &ioapics[i];
		if (gsi < io->gsi_base || gsi >= io->gsi_base + io->count)
			continue;
		uint32_t lo = vector;
		if ((flags & 3) == 3)
			lo |= 1u << 13; /* active low */
		if (((flags >> 2) & 3) == 3)
			lo |= 1u << 15; /* level triggered */
		ioapic_write_rte(io, gsi - io->gsi_base, lo, apic_id);
		return true;
	}
	return false;
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

/* Mask or unmask the pin an ISA IRQ (after overrides) arrives on. */
void ioapic_mask_isa(uint8_t isa_irq, bool masked)
{
	uint32_t gsi = isa_irq;

	for (uint32_t i = 0; i < acpi.nisos; i++)
		if (acpi.isos[i].bus_irq == isa_irq)
			gsi = acpi.isos[i].gsi;
	for (uint32_t i = 0; i < nioapics; i++) {
		struct ioapic *io = &ioapics[i];
		if (gsi < io->gsi_base || gsi >= io->gsi_base + io->count)
			continue;
		uint32_t reg = 0x10 + 2 * (gsi - io->gsi_base);
		uint32_t lo = io_rd(io, reg);
		io_wr(io, reg, masked ? lo | 1u << 16 : lo & ~(1u << 16));
	}
}
