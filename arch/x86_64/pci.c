/* PCI: config space through ECAM (MCFG) or legacy ports, bus walk, BAR sizing. */
#include <arch/cpu.h>
#include <arch/iommu.h>
#include <arch/platform.h>
#include <kernel/bootinfo.h>
#include <kernel/klog.h>
#include <kernel/pci.h>
#include <kernel/spinlock.h>
#include <kernel/vm.h>
#include <lib/fmt.h>

static struct pci_dev devs[PCI_MAX_DEVS];
static uint32_t ndevs;
static volatile uint8_t *ecam; /* [I] segment 0 window, bus ecam_bus0 at offset 0 */
static uint8_t ecam_bus0, ecam_bus1;
static struct spinlock port_lock = SPINLOCK_INIT("pci_port");

static volatile void *ecam_addr(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	if (!ecam || bus < ecam_bus0 || bus > ecam_bus1 || off >= 4096)
		return NULL;
	return ecam + (((uint64_t)(bus - ecam_bus0) << 20) | (uint64_t)dev << 15 |
	               (uint64_t)fn << 12 | off);
}

static uint32_t hw_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	volatile uint32_t *p = ecam_addr(bus, dev, fn, off & ~3);

	if (p)
		return *p;
	if (off >= 256)
		return 0xffffffff;
	spin_lock(&port_lock);
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
	uint32_t v = inl(0xcfc);
	spin_unlock(&port_lock);
	return v;
}

static void hw_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
	volatile uint32_t *p = ecam_addr(bus, dev, fn, off & ~3);

	if (p) {
		*p = v;
		return;
	}
	if (off >= 256)
		return;
	spin_lock(&port_lock);
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc));
	outl(0xcfc, v);
	spin_unlock(&port_lock);
}

static const struct pci_cfg_ops hw_ops = {hw_read32, hw_write32};
static const struct pci_cfg_ops *cfg = &hw_ops; /* [I] but while a ktest swaps in a fake */

const struct pci_cfg_ops *pci_cfg_swap(const struct pci_cfg_ops *ops)
{
	const struct pci_cfg_ops *old = cfg;

	cfg = ops ? ops : &hw_ops;
	return old;
}

uint32_t pci_cfg_read32(const struct pci_dev *d, uint16_t off)
{
	return cfg->read32(d->bus, d->dev, d->fn, off);
}

void pci_cfg_write32(const struct pci_dev *d, uint16_t off, uint32_t v)
{
	cfg->write32(d->bus, d->dev, d->fn, off, v);
}

uint16_t pci_cfg_read16(const struct pci_dev *d, uint16_t off)
{
	return (uint16_t)(pci_cfg_read32(d, off & ~3) >> ((off & 2) * 8));
}

void pci_cfg_write16(const struct pci_dev *d, uint16_t off, uint16_t v)
{
	uint32_t w = pci_cfg_read32(d, off & ~3), sh = (off & 2) * 8;

	pci_cfg_write32(d, off & ~3, (w & ~(0xffffu << sh)) | (uint32_t)v << sh);
}

void pci_cfg_write8(const struct pci_dev *d, uint16_t off, uint8_t v)
{
	uint32_t w = pci_cfg_read32(d, off & ~3), sh = (off & 3) * 8;

	pci_cfg_write32(d, off & ~3, (w & ~(0xffu << sh)) | (uint32_t)v << sh);
}

uint8_t pci_cfg_read8(const struct pci_dev *d, uint16_t off)
{
	return (uint8_t)(pci_cfg_read32(d, off & ~3) >> ((off & 3) * 8));
}

/* Size BARs with decoding off, restoring the original values. */
static void size_bars(struct pci_dev *d)
{
	int nbars = (d->header & 0x7f) == 0 ? 6 : (d->header & 0x7f) == 1 ? 2 : 0;
	uint16_t cmd = pci_cfg_read16(d, 4);

	pci_cfg_write16(d, 4, cmd & ~3);
	for (int i = 0; i < nbars; i++) {
		uint16_t off = 0x10 + 4 * i;
		uint32_t orig = pci_cfg_read32(d, off);
		if (orig == 0xffffffff)
			continue; /* no device answers: not a BAR (an I/O BAR of 4 at 0xfffffffc) */
		pci_cfg_write32(d, off, 0xffffffff);
		uint32_t mask = pci_cfg_read32(d, off);
		pci_cfg_write32(d, off, orig);
		struct pci_bar *b = &d->bar[i];
		if (orig & 1) {
			b->io = true;
			b->base = orig & ~3u;
			b->size = mask & ~3u ? (uint16_t)(~(mask & ~3u) + 1) : 0;
			continue;
		}
		b->prefetch = orig & 8;
		b->is64 = ((orig >> 1) & 3) == 2;
		uint64_t base = orig & ~0xfu, m = mask & ~0xfu;
		if (b->is64 && i + 1 < nbars) {
			uint32_t hi = pci_cfg_read32(d, off + 4);
			if (hi == 0xffffffff) {
				i++; /* its upper half reads all-ones: no base we could map */
				continue;
			}
			pci_cfg_write32(d, off + 4, 0xffffffff);
			uint32_t mhi = pci_cfg_read32(d, off + 4);
			pci_cfg_write32(d, off + 4, hi);
			base |= (uint64_t)hi << 32;
			m |= (uint64_t)mhi << 32;
			b->size = m ? ~m + 1 : 0;
		} else {
			b->size = m ? (uint32_t)(~(uint32_t)m + 1) : 0;
		}
		b->base = base;
		if (b->is64)
			i++;
	}
	pci_cfg_write16(d, 4, cmd);
}

/*
 * Read function bus:dev.fn (id: its first dword) into *d. False when it
 * stopped answering (its ID reads all-ones after its BARs were sized): a
 * function that went away mid-scan is not listed, and nothing read from
 * it is kept.
 */
static bool read_fn(struct pci_dev *d, uint8_t bus, uint8_t dev, uint8_t fn, uint32_t id)
{
	*d = (struct pci_dev){.bus = bus, .dev = dev, .fn = fn};
	d->vendor = id & 0xffff, d->device = id >> 16;
	uint32_t cls = pci_cfg_read32(d, 8);
	d->revision = cls & 0xff, d->progif = cls >> 8, d->subclass = cls >> 16,
	d->class = cls >> 24;
	d->header = pci_cfg_read8(d, 0x0e);
	d->irq_line = pci_cfg_read8(d, 0x3c), d->irq_pin = pci_cfg_read8(d, 0x3d);
	size_bars(d);
	if (pci_cfg_read32(d, 0) == id)
		return true;
	pr_warn("pci: %02x:%02x.%x stopped answering while it was read; not listed", bus, dev, fn);
	return false;
}

/*
 * Breadth-first over buses from bus 0: bridges queue their secondary bus
 * (no recursion; each bus at most once). At most max functions go to out;
 * returns how many did.
 */
uint32_t pci_scan(struct pci_dev *out, uint32_t max)
{
	uint8_t queue[256];
	bool seen[256] = {false};
	uint32_t head = 0, tail = 0, n = 0;

	queue[tail++] = 0, seen[0] = true;
	while (head < tail) {
		uint8_t bus = queue[head++];
		for (uint8_t dev = 0; dev < 32; dev++) {
			for (uint8_t fn = 0; fn < 8; fn++) {
				struct pci_dev d;
				uint32_t id = cfg->read32(bus, dev, fn, 0);
				if ((id & 0xffff) == 0xffff || !read_fn(&d, bus, dev, fn, id)) {
					if (fn == 0)
						break;
					continue;
				}
				if (n == max) {
					pr_warn("pci: more than %u functions; rest ignored", max);
					return n;
				}
				out[n++] = d;
				if ((d.header & 0x7f) == 1) {
					uint8_t sec = (cfg->read32(bus, dev, fn, 0x18) >> 8) & 0xff;
					if (sec && !seen[sec] && tail < 256)
						seen[sec] = true, queue[tail++] = sec;
				}
				if (fn == 0 && !(d.header & 0x80))
					break;
			}
		}
	}
	return n;
}

static const char *class_name(uint8_t c, uint8_t s)
{
	static const char *names[] = {
	    "unclassified",  "storage", "network", "display", "multimedia", "memory",    "bridge",
	    "communication", "system",  "input",   "docking", "processor",  "serial bus"};
	if (c == 1 && s == 8)
		return "NVMe";
	if (c == 1 && s == 6)
		return "SATA";
	if (c == 6 && s == 4)
		return "PCI bridge";
	return c < ARRAY_SIZE(names) ? names[c] : "other";
}

static void print_table(void)
{
	kprintf("pci: %u functions (%s)\n", ndevs, ecam ? "ECAM" : "port I/O");
	kprintf("  BDF      VID:DID   class     kind          BARs\n");
	for (uint32_t i = 0; i < ndevs; i++) {
		const struct pci_dev *d = &devs[i];
		char line[256];
		int n =
		    snprintf(line, sizeof(line), "  %02x:%02x.%x  %04x:%04x %02x.%02x.%02x  %-13s",
		             d->bus, d->dev, d->fn, d->vendor, d->device, d->class, d->subclass,
		             d->progif, class_name(d->class, d->subclass));
		for (int b = 0; b < 6 && n < (int)sizeof(line) - 48; b++)
			if (d->bar[b].size)
				n += snprintf(line + n, sizeof(line) - n, " %d:%s %#lx[%#lx]", b,
				              d->bar[b].io ? "io" : "mem", d->bar[b].base,
				              d->bar[b].size);
		kprintf("%s\n", line);
	}
}

void pci_init(void)
{
	for (uint32_t i = 0; i < acpi.nmcfg; i++) {
		if (acpi.mcfg[i].segment != 0 || acpi.mcfg[i].bus_end < acpi.mcfg[i].bus_start)
			continue;
		uint64_t len = ((uint64_t)acpi.mcfg[i].bus_end - acpi.mcfg[i].bus_start + 1) << 20;
		ecam = vm_map_mmio(acpi.mcfg[i].base, len);
		ecam_bus0 = acpi.mcfg[i].bus_start, ecam_bus1 = acpi.mcfg[i].bus_end;
		break;
	}
	ndevs = pci_scan(devs, PCI_MAX_DEVS);
	print_table();
	if (bootinfo_cmdline_has(&boot_info, "noiommu"))
		pr_info("iommu: not used (noiommu on the command line)");
	else
		iommu_init();
}

bool pci_uses_ecam(void)
{
	return ecam != NULL;
}

uint32_t pci_count(void)
{
	return ndevs;
}

const struct pci_dev *pci_get(uint32_t i)
{
	return i < ndevs ? &devs[i] : NULL;
}

const struct pci_dev *pci_find(uint16_t vendor, uint16_t device, uint32_t idx)
{
	for (uint32_t i = 0; i < ndevs; i++)
		if ((vendor == 0xffff || devs[i].vendor == vendor) &&
		    (device == 0xffff || devs[i].device == device) && idx-- == 0)
			return &devs[i];
	return NULL;
}

const struct pci_dev *pci_find_class(uint8_t class, uint8_t subclass, uint32_t idx)
{
	for (uint32_t i = 0; i < ndevs; i++)
		if (devs[i].class == class && devs[i].subclass == subclass && idx-- == 0)
			return &devs[i];
	return NULL;
}

void *pci_bar_map(const struct pci_dev *d, int bar)
{
	if (bar < 0 || bar > 5 || d->bar[bar].io || !d->bar[bar].size)
		return NULL;
	return vm_map_mmio(d->bar[bar].base, d->bar[bar].size);
}
