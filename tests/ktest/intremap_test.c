/*
 * ktest suite "intremap": VT-d interrupt remapping against QEMU's edu
 * device (boot scenario intremap: -device intel-iommu,intremap=on -device
 * edu). edu's MSI is a message QEMU sends with edu's requester id, so the
 * unit checks it against the source id of the remapping entry it names:
 * through the entry arch_msi_message made for edu it arrives; through an
 * entry made for another function, or a cleared one, it is dropped. Ring 3
 * can never aim a message itself (the MSI registers are the kernel's), so
 * the cases program edu's MSI registers from here.
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/iommu.h>
#include <arch/trap.h>
#include <kernel/irq.h>
#include <kernel/ktest.h>
#include <kernel/pci.h>
#include <kernel/percpu.h>
#include <kernel/time.h>

#define EDU_RAISE 0x60
#define EDU_ACK   0x64

static volatile uint32_t arrived;

static void on_vector(struct trap_frame *tf)
{
	(void)tf;
	arrived++;
}

struct edu {
	const struct pci_dev *d;
	volatile uint32_t *regs;
	uint8_t msi;    /* MSI capability offset */
	uint8_t vector; /* the test's vector: the last MSI one, free at boot */
	uint16_t sid;
};

/* edu with its BAR mapped, bus mastering on and the test's vector handled; false (skipped) without
 * remapping or edu. */
static bool edu_setup(struct ktest_ctx *t, struct edu *e)
{
	if (!iommu_ir_enabled() || !(e->d = pci_find(0x1234, 0x11e8, 0))) {
		KSKIP(t, "needs interrupt remapping and edu (-device intel-iommu,intremap=on "
		         "-device edu)");
		return false;
	}
	e->msi = 0;
	for (uint8_t off = pci_cfg_read16(e->d, 0x34) & 0xfc, n = 0; off && n < 48; n++) {
		if ((pci_cfg_read16(e->d, off) & 0xff) == 0x05) {
			e->msi = off;
			break;
		}
		off = (uint8_t)(pci_cfg_read16(e->d, off) >> 8) & 0xfc;
	}
	e->regs = pci_bar_map(e->d, 0);
	if (!KCHECK(t, e->msi != 0 && e->regs != NULL))
		return false;
	e->sid = (uint16_t)(e->d->bus << 8 | e->d->dev << 3 | e->d->fn);
	e->vector = (uint8_t)irq_vector(IRQ_COUNT - 1);
	irq_register(e->vector, on_vector);
	pci_cfg_write16(e->d, 4, pci_cfg_read16(e->d, 4) | 0x6); /* memory space, bus master */
	return true;
}

static void edu_teardown(struct edu *e)
{
	pci_cfg_write16(e->d, e->msi + 2, pci_cfg_read16(e->d, e->msi + 2) & ~1u);
	pci_cfg_write16(e->d, 4, pci_cfg_read16(e->d, 4) & ~0x4u);
	iommu_irte_clear(e->vector - VEC_IRQ_BASE);
	irq_register(e->vector, NULL);
}

/* edu's MSI address and data (one vector), enabled. */
static void edu_msi(struct edu *e, uint32_t addr, uint32_t data)
{
	uint16_t ctl = pci_cfg_read16(e->d, e->msi + 2);
	bool is64 = ctl & 0x80;

	pci_cfg_write16(e->d, e->msi + 2, ctl & ~1u);
	pci_cfg_write32(e->d, e->msi + 4, addr);
	if (is64)
		pci_cfg_write32(e->d, e->msi + 8, 0);
	pci_cfg_write16(e->d, (uint16_t)(e->msi + (is64 ? 12 : 8)), (uint16_t)data);
	pci_cfg_write16(e->d, e->msi + 2, (uint16_t)((ctl & ~0x70u) | 1));
}

/* Make edu raise its interrupt; true if the vector arrived within 100 ms. */
static bool edu_raise(struct edu *e)
{
	arrived = 0;
	e->regs[EDU_RAISE / 4] = 1;
	for (uint64_t end = rdtsc() + tsc_hz / 10; !arrived && rdtsc() < end;)
		__asm__ volatile("pause");
	e->regs[EDU_ACK / 4] = 1;
	return arrived != 0;
}

/* The remappable-format address naming entry index (no subhandle). */
static uint32_t remappable(uint32_t index)
{
	return 0xfee00000u | (index & 0x7fff) << 5 | 1u << 4 | ((index >> 15) & 1) << 2;
}

KTEST(intremap, message_through_its_own_entry_arrives)
{
	struct edu e;
	uint32_t addr = 0, data = 0;

	if (!edu_setup(t, &e))
		return;
	arch_msi_message(e.sid, &cpus[0], e.vector, &addr, &data);
	KEXPECT(t, addr == remappable(e.vector - VEC_IRQ_BASE) && data == 0,
	        "not remappable format: %#x/%#x", addr, data);
	edu_msi(&e, addr, data);
	KEXPECT(t, edu_raise(&e), "edu's message through its own entry did not arrive");
	edu_teardown(&e);
}

KTEST(intremap, message_naming_another_functions_entry_is_dropped)
{
	struct edu e;
	uint32_t index;

	if (!edu_setup(t, &e))
		return;
	index = e.vector - VEC_IRQ_BASE;
	/* The same vector and CPU, but the entry belongs to 01:00.0 (or 00:00.1 if edu is there).
	 */
	uint16_t other = e.sid == 0x0100 ? 0x0001 : 0x0100;
	KEXPECT(t, iommu_irte_set(index, e.vector, cpus[0].apic_id, false, other) == 0, "set");
	edu_msi(&e, remappable(index), 0);
	KEXPECT(t, !edu_raise(&e), "edu raised a vector whose entry names %04x", other);
	/* The same entry for edu's own source id: now it arrives, so only the id stopped it. */
	KEXPECT(t, iommu_irte_set(index, e.vector, cpus[0].apic_id, false, e.sid) == 0, "set");
	KEXPECT(t, edu_raise(&e), "edu's message did not arrive through its own entry");
	edu_teardown(&e);
}

KTEST(intremap, message_naming_a_cleared_entry_is_dropped)
{
	struct edu e;
	uint32_t addr = 0, data = 0;

	if (!edu_setup(t, &e))
		return;
	arch_msi_message(e.sid, &cpus[0], e.vector, &addr, &data);
	edu_msi(&e, addr, data);
	KEXPECT(t, edu_raise(&e), "edu's message did not arrive");
	arch_msi_free(e.vector); /* what deleting the IRQ handler capability does */
	KEXPECT(t, !edu_raise(&e), "a message through a cleared entry arrived");
	edu_teardown(&e);
}
