/*
 * ktest suite "irq": interrupt routing through the arch interface. Only
 * routes that fail are tried: a route that succeeds would unmask a real
 * line with no handler behind it.
 */
#include <arch/arch.h>
#include <arch/platform.h>
#include <kernel/irq.h>
#include <kernel/ktest.h>
#include <kernel/pci.h>

/*
 * Bug fixed: irq_handler.set_notification ignored a failed route and bound
 * the notification to a line that never arrives; it now relies on
 * arch_irq_route() saying so, and returns HL_ERR_RANGE.
 */
KTEST(irq, route_fails_for_a_line_no_ioapic_has)
{
	KEXPECT(t, !arch_irq_route(200, &cpus[0]), "GSI 200 is beyond every IOAPIC here");
	KEXPECT(t, !arch_irq_route(1000, &cpus[0]), "not a line at all");
	if (!acpi_ok)
		KEXPECT(t, !arch_irq_route(1, &cpus[0]), "without ACPI there is no IOAPIC");
}

/* PCI INTx routing refuses what it cannot stand behind: pins outside 1-4, GSIs no IOAPIC has. */
KTEST(irq, intx_bad_pin_and_gsi_refused)
{
	const struct pci_dev *d = pci_get(0);
	const char *why = NULL;
	uint32_t gsi = 12345;

	if (!KCHECK(t, d != NULL))
		return;
	KEXPECT(t, arch_pci_intx_gsi(d, 0, &gsi, &why) == HL_ERR_ILLEGAL_OP && why,
	        "pin 0 means no pin");
	KEXPECT(t, arch_pci_intx_gsi(d, 5, &gsi, &why) == HL_ERR_RANGE, "pin 5");
	KEXPECT(t, arch_pci_intx_gsi(d, 0xff, &gsi, &why) == HL_ERR_RANGE, "pin 0xff");
	KEXPECT(t, gsi == 12345, "a refused route wrote the GSI");
	KEXPECT(t, !arch_gsi_valid(1000) && !arch_gsi_route_level(1000, 0x50, &cpus[0]),
	        "GSI 1000");
	KEXPECT(t, irq_intx_check(0, 1000) == HL_ERR_RANGE);
	KEXPECT(t, irq_intx_check(0, 0xffffffffu) == HL_ERR_RANGE);
}

/*
 * On QEMU's q35 a bus-0 function in slots 0-24 reaches PIRQ E-H by
 * (slot + pin - 1) % 4, i.e. GSI 20-23; on any other chipset (pc: PIIX3)
 * the kernel says it does not know, rather than guess.
 */
KTEST(irq, intx_route_q35_or_refused)
{
	for (uint32_t i = 0; i < pci_count(); i++) {
		const struct pci_dev *d = pci_get(i);
		uint8_t pin = pci_cfg_read8(d, 0x3d);
		const char *why = NULL;
		uint32_t gsi = 0;
		if (pin < 1 || pin > 4 || d->bus != 0 || d->dev >= 25)
			continue;
		int err = arch_pci_intx_gsi(d, pin, &gsi, &why);
		if (pci_get(0)->device == 0x29c0) /* q35's host bridge */
			KEXPECT(t, err == HL_OK && gsi == 20 + (d->dev + pin - 1u) % 4,
			        "%02x.%x pin %u: err %d gsi %u", d->dev, d->fn, pin, err, gsi);
		else
			KEXPECT(t, err == HL_ERR_ILLEGAL_OP && why, "%02x.%x: err %d", d->dev,
			        d->fn, err);
	}
}

/*
 * q35's own functions at 00:1f.x (LPC, AHCI, SMBus) route through ICH9's
 * D31IR register in the chipset configuration space; QEMU resets it to
 * 0x3210 (INTA-INTD to PIRQ A-D, GSI 16-19) and the firmware leaves it.
 */
KTEST(irq, intx_route_ich9_device_31)
{
	int seen = 0;

	if (pci_get(0)->device != 0x29c0) {
		KSKIP(t, "not q35");
		return;
	}
	for (uint32_t i = 0; i < pci_count(); i++) {
		const struct pci_dev *d = pci_get(i);
		uint8_t pin = pci_cfg_read8(d, 0x3d);
		const char *why = NULL;
		uint32_t gsi = 0;
		if (d->bus != 0 || d->dev != 31 || pin < 1 || pin > 4)
			continue;
		int err = arch_pci_intx_gsi(d, pin, &gsi, &why);
		KEXPECT(t, err == HL_OK && gsi == 15u + pin, "1f.%x pin %u: err %d (%s) gsi %u",
		        d->fn, pin, err, err ? why : "", gsi);
		seen++;
	}
	KEXPECT(t, seen > 0, "no function with a pin at 00:1f");
}
