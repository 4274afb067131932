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
			KEXPECT(t, (bar->size & (bar->size - 1)) == 0,
			        "%02x:%02x.%x BAR%d size %#lx", d->bus, d->dev, d->fn, b,
			        bar->size);
			KEXPECT(t, bar->base % bar->size == 0 || bar->base == 0, "BAR%d misaligned",
			        b);
		}
	}
}

/* The first display controller's memory BAR 0 (its video memory), or NULL. */
static const struct pci_dev *display_with_vram(void)
{
	const struct pci_dev *d = pci_find_class(0x03, 0x00, 0);

	if (!d || d->bar[0].io || d->bar[0].size < 0x10000 || !d->bar[0].base)
		return NULL;
	return d;
}

/*
 * A mapped BAR reaches the device: the last word of the display's video
 * memory (off screen) keeps two patterns written through the mapping, and
 * on QEMU's and Bochs' standard VGA (1234:1111) the register BAR answers
 * with the Bochs display interface's id (0xb0c0-0xb0c5, at 0x500).
 */
KTEST(pci, bar_map_reads_device)
{
	const struct pci_dev *d = display_with_vram();

	if (!d) {
		KSKIP(t, "no display controller with video memory");
		return;
	}
	volatile uint32_t *vram = pci_bar_map(d, 0);
	if (!KCHECK(t, vram != NULL))
		return;
	volatile uint32_t *last = vram + d->bar[0].size / 4 - 1;
	uint32_t saved = *last;
	*last = 0x5aa5c33c;
	KEXPECT(t, *last == 0x5aa5c33c, "read %#x", *last);
	*last = ~0x5aa5c33cu;
	KEXPECT(t, *last == ~0x5aa5c33cu, "read %#x", *last);
	*last = saved;

	if (d->vendor == 0x1234 && d->device == 0x1111 && !d->bar[2].io &&
	    d->bar[2].size >= 0x1000) {
		volatile uint16_t *regs = pci_bar_map(d, 2);
		if (!KCHECK(t, regs != NULL))
			return;
		uint16_t id = regs[0x500 / 2];
		KEXPECT(t, (id & 0xfff0) == 0xb0c0, "dispi id %#x", id);
	}
}
