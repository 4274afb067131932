/* IOAPICs from the MADT: redirection entries for ISA IRQs and GSIs. */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/platform.h>
#include <kernel/klog.h>
#include <kernel/vm.h>

struct ioapic {
	volatile uint32_t *regs;  /* [I] index at 0, data at 0x10 */
	uint32_t gsi_base, count; /* [I] */
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
		uint32_t pin = gsi - io->gsi_base;
		io_wr(io, 0x11 + 2 * pin, apic_id << 24);
		io_wr(io, 0x10 + 2 * pin, lo);
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
