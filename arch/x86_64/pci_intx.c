/*
 * PCI INTx routing: which IOAPIC input (GSI) a function's interrupt pin
 * reaches.
 *
 * ACPI's answer is _PRT, but the kernel reads no AML beyond \_S5
 * (acpi_aml.c is a byte scan, not an interpreter), and QEMU's _PRT is a
 * method that picks one of two packages by \PICF and names link devices
 * whose _CRS are methods too. So the route is derived from the chipset,
 * for the one chipset known here, and any other gets a clear refusal
 * (the driver then runs polled):
 *
 *   Intel ICH9 as QEMU's q35 machine models it (host bridge 8086:29c0
 *   with QEMU's subsystem vendor 1af4, LPC bridge 8086:2918 at 00:1f.0).
 *   - In APIC mode PIRQ[A-H] drive IOAPIC inputs 16-23 (ICH9 datasheet,
 *     "APIC interrupt mapping"; QEMU's ich9_pirq_to_gsi).
 *   - Bus 0, devices 25-31: INT[A-D] go to the PIRQ named by the device's
 *     Interrupt Route register in the chipset configuration space (RCBA,
 *     LPC config 0xf0, bit 0 enable): D31IR 0x3140, D29IR 0x3144, D28IR
 *     0x3146, D27IR 0x3148, D26IR 0x314c, D25IR 0x3150; 4 bits per pin
 *     (INTA in bits 2:0), value 0-7 = PIRQA-H. Device 30 is the DMI-to-PCI
 *     bridge (never issued).
 *   - Bus 0, devices 0-24: not the real chipset's (the MCH's own
 *     functions live there); QEMU wires INT(pin) of device s to
 *     PIRQ[E + (s + pin) % 4], the same table its _PRT gives.
 *   - Functions behind a bridge (bus > 0): not derived (a root port's
 *     swizzle is the board's), refused.
 */
#include <arch/arch.h>
#include <kernel/klog.h>
#include <kernel/pci.h>
#include <kernel/vm.h>
#include <hallows/abi.h>

#define ICH9_LPC_DEV   0x1f
#define ICH9_LPC_RCBA  0xf0
#define ICH9_CC_DIR    0x3140 /* first Device Interrupt Route register */
#define PIRQ_GSI_BASE  16
#define QEMU_SUBSYS_VD 0x1af4

static volatile uint16_t *dir_regs; /* [BKL] RCBA + 0x3140, mapped at first use */

/* The function at 00:dev.fn, or NULL. */
static const struct pci_dev *bus0(uint8_t dev, uint8_t fn)
{
	for (uint32_t i = 0; i < pci_count(); i++) {
		const struct pci_dev *d = pci_get(i);
		if (d->bus == 0 && d->dev == dev && d->fn == fn)
			return d;
	}
	return NULL;
}

/* True on QEMU's q35: the Q35 host bridge with QEMU's subsystem vendor and ICH9's LPC bridge. */
static bool is_qemu_q35(void)
{
	const struct pci_dev *host = bus0(0, 0), *lpc = bus0(ICH9_LPC_DEV, 0);

	return host && lpc && host->vendor == 0x8086 && host->device == 0x29c0 &&
	       (pci_cfg_read32(host, 0x2c) & 0xffff) == QEMU_SUBSYS_VD && lpc->vendor == 0x8086 &&
	       lpc->device == 0x2918;
}

/* The Interrupt Route register of bus-0 device 25-31 (not 30), or -1 if RCBA is off. */
static int ich9_dir(uint8_t dev)
{
	static const uint16_t off[7] = {0x10, 0x0c, 0x08, 0x06, 0x04, 0x02, 0x00}; /* D25..D31 */

	if (!dir_regs) {
		uint32_t rcba = pci_cfg_read32(bus0(ICH9_LPC_DEV, 0), ICH9_LPC_RCBA);
		if (!(rcba & 1))
			return -1;
		dir_regs = vm_map_mmio((rcba & ~0x3fffu) + ICH9_CC_DIR, 0x14);
		if (!dir_regs)
			return -1;
	}
	return dir_regs[off[dev - 25] / 2];
}

int arch_pci_intx_gsi(const struct pci_dev *d, uint32_t pin, uint32_t *gsi, const char **why)
{
	uint32_t pirq;

	if (pin == 0 || pin > 4) {
		*why = pin == 0 ? "the function has no interrupt pin"
		                : "interrupt pin register out of range (not 1-4)";
		return pin == 0 ? HL_ERR_ILLEGAL_OP : HL_ERR_RANGE;
	}
	if (!is_qemu_q35()) {
		*why = "INTx routing unknown on this chipset (derived for QEMU q35/ICH9 only; no "
		       "_PRT evaluation)";
		return HL_ERR_ILLEGAL_OP;
	}
	if (d->bus != 0) {
		*why = "INTx routing behind a bridge is not derived";
		return HL_ERR_ILLEGAL_OP;
	}
	if (d->dev >= 25) {
		int dir = d->dev == 30 ? -1 : ich9_dir(d->dev);
		if (dir < 0) {
			*why = "ICH9 chipset configuration space (RCBA) not enabled";
			return HL_ERR_ILLEGAL_OP;
		}
		pirq = ((uint32_t)dir >> (4 * (pin - 1))) & 7;
	} else {
		pirq = 4 + (d->dev + pin - 1) % 4;
	}
	*gsi = PIRQ_GSI_BASE + pirq;
	if (!arch_gsi_valid(*gsi)) {
		*why = "the PIRQ's IOAPIC input does not exist";
		return HL_ERR_RANGE;
	}
	return HL_OK;
}
