/* ktest suite "pci": enumeration and config-space access. */
#include <kernel/ktest.h>
#include <kernel/pci.h>

KTEST(pci, host_bridge_found)
{
	const struct pci_dev *d = pci_get(0);

	if (!KCHECK(t, pci_count() > 0 && d))
		return;
	KEXPECT(t, d->bus == 0 && d->dev == 0 && d->fn == 0);
	KEXPECT(t, d->class == 6 && d->subclass == 0, "class %02x.%02x", d->class, d->subclass);
}

KTEST(pci, config_reads_consistent)
{
	for (uint32_t i = 0; i < pci_count(); i++) {
		const struct pci_dev *d = pci_get(i);
		uint32_t id = pci_cfg_read32(d, 0);
		KEXPECT(t, (id & 0xffff) == d->vendor && id >> 16 == d->device);
		KEXPECT(t, pci_cfg_read16(d, 2) == d->device);
		KEXPECT(t, pci_cfg_read8(d, 0x0b) == d->class);
	}
}

KTEST(pci, find_by_class_and_id)
{
	const struct pci_dev *d = pci_get(pci_count() - 1);

	KEXPECT(t, pci_find(d->vendor, d->device, 0) != NULL);
	KEXPECT(t, pci_find_class(d->class, d->subclass, 0) != NULL);
	KEXPECT(t, pci_find(0xffff, 0xffff, pci_count()) == NULL);
}

KTEST(pci, bars_are_sane)
{
	for (uint32_t i = 0; i < pci_count(); i++) {
		const struct pci_dev *d = pci_get(i);
		for (int b = 0; b < 6; b++) {
			const struct pci_bar *bar = &d->bar[b];
			if (!bar->size)
				continue;
			KEXPECT(t, (bar->size & (bar->size - 1)) == 0, "%02x:%02x.%x BAR%d size %#lx", d->bus,
				d->dev, d->fn, b, bar->size);
			KEXPECT(t, bar->base % bar->size == 0 || bar->base == 0, "BAR%d misaligned", b);
		}
	}
}

KTEST(pci, bar_map_reads_device)
{
	/* The first memory BAR of a display or network device must be mappable. */
	for (uint32_t i = 0; i < pci_count(); i++) {
		const struct pci_dev *d = pci_get(i);
		for (int b = 0; b < 6; b++) {
			if (d->bar[b].io || !d->bar[b].size || !d->bar[b].base)
				continue;
			volatile uint32_t *p = pci_bar_map(d, b);
			KEXPECT(t, p != NULL);
			if (p)
				(void)p[0];
			return;
		}
	}
	KSKIP(t, "no memory BAR to map");
}
