/*
 * PCI device capabilities. The root task holds the PCI control capability
 * and issues one device capability per function; a partition given a
 * device capability drives that function and nothing else:
 *
 *   config space   read anything; write only the command register's
 *                  I/O, memory, bus-master and INTx-disable bits, the
 *                  status register (write 1 to clear), cache line size,
 *                  latency timer, interrupt line, and the device-specific
 *                  bytes 0x40-0xff outside the MSI and MSI-X structures.
 *                  BARs, the ROM address, MSI/MSI-X address and data and
 *                  the extended space (SR-IOV, ATS, ACS...) are the
 *                  kernel's: they could reach beyond the function.
 *   BARs           map_bar: a memory BAR of at least a page becomes a
 *                  device-memory capability (retyped into uncached frames;
 *                  the pages of an MSI-X table or PBA never become frames),
 *                  an I/O BAR an I/O-port capability. Both are children of
 *                  the device capability, so revoking it takes them away.
 *   interrupts     msi: an IRQ handler capability for MSI vector 0 or an
 *                  MSI-X table entry, aimed at a chosen CPU; the kernel
 *                  writes the message address and data.
 *                  intx: an IRQ handler capability for the function's
 *                  INTx pin, level-triggered, shared with the other
 *                  functions wired to the same line (kernel/irq.c).
 *   reset          function-level reset where the device offers it.
 *   DMA            dma_map: a frame the holder has becomes reachable by the
 *                  function's DMA at its own physical address (the
 *                  function's VT-d domain; without an IOMMU nothing is
 *                  confined and the record is kept all the same). Like a
 *                  CPU mapping, the frame capability holds it, and deleting
 *                  the capability removes it.
 *
 * Bridges (class 6) are never issued: their config space routes memory
 * and buses for everyone. Everything runs under the big kernel lock.
 */
#include <arch/arch.h>
#include <arch/iommu.h>
#include <kernel/invoke.h>
#include <kernel/irq.h>
#include <kernel/klog.h>
#include <kernel/pci.h>
#include <kernel/pcidev.h>
#include <kernel/percpu.h>
#include <kernel/vm.h>

#define CMD_ALLOWED    0x0407u /* I/O space, memory space, bus master, INTx disable */
#define CMD_BUS_MASTER 0x0004u
#define CAP_MSI        0x05
#define CAP_PCIE       0x10
#define CAP_MSIX       0x11

static struct pcidev state[PCI_MAX_DEVS]; /* [BKL] by pci_get() index */

bool pcidev_gone(const struct pci_dev *d)
{
	return pci_cfg_read16(d, 0) == 0xffff;
}

/*
 * Walk the capabilities list into s (at most 48 entries: a looping list,
 * or one read from a function that answers all-ones, cannot hang the
 * kernel).
 */
void pcidev_walk_caps(const struct pci_dev *d, struct pcidev *s)
{
	if (!(pci_cfg_read16(d, 6) & 0x10))
		return; /* no capabilities list */
	uint8_t off = pci_cfg_read8(d, 0x34) & 0xfc;
	for (int n = 0; n < 48 && off >= 0x40; n++, off = pci_cfg_read8(d, off + 1) & 0xfc) {
		uint8_t id = pci_cfg_read8(d, off);
		if (id == CAP_MSI && !s->msi)
			s->msi = off;
		else if (id == CAP_PCIE && !s->pcie)
			s->pcie = off;
		else if (id == CAP_MSIX && !s->msix) {
			uint32_t t = pci_cfg_read32(d, off + 4), p = pci_cfg_read32(d, off + 8);
			s->msix = off;
			s->msix_n = (uint16_t)((pci_cfg_read16(d, off + 2) & 0x7ff) + 1);
			s->msix_bir = t & 7, s->msix_off = t & ~7u;
			s->pba_bir = p & 7, s->pba_off = p & ~7u;
		}
	}
}

/*
 * The function's capabilities, read once at first use. Not while it reads
 * all-ones (absent, or still in a reset): what it would report then is
 * not its own, and it would be kept for good.
 */
static struct pcidev *probe(uint32_t idx)
{
	struct pcidev *s = &state[idx];
	const struct pci_dev *d = pci_get(idx);

	if (s->probed || pcidev_gone(d))
		return s;
	s->probed = true;
	pcidev_walk_caps(d, s);
	return s;
}

static uint32_t dev_index(const struct slot *target)
{
	return target->cap.aux;
}

int decode_pci_control_issue(struct invocation *inv)
{
	uint64_t idx = inv->arg[0];
	struct slot *d = cspace_slot(inv->cspace, inv->arg[1]);

	if (idx >= pci_count())
		return HL_ERR_RANGE;
	if (!d)
		return HL_ERR_INVALID_CAP;
	if (d->cap.type != HL_OBJ_NONE)
		return HL_ERR_SLOT_OCCUPIED;
	const struct pci_dev *dev = pci_get((uint32_t)idx);
	if (dev->class == 0x06 || (dev->header & 0x7f) != 0)
		return HL_ERR_ILLEGAL_OP; /* bridges stay the kernel's */
	if (iommu_attach((uint32_t)idx, dev->bus, (uint8_t)(dev->dev << 3 | dev->fn)))
		return HL_ERR_NO_MEMORY; /* no room for its translation tables */
	struct cap c = {.type = HL_OBJ_PCI_DEVICE,
	                .rights = HL_R_ALL,
	                .obj = (uint64_t)dev,
	                .aux = (uint32_t)idx};
	cap_insert(d, &c, inv->target);
	return HL_OK;
}

int decode_pci_device_info(struct invocation *inv)
{
	uint32_t idx = dev_index(inv->target);
	const struct pci_dev *d = pci_get(idx);
	const struct pcidev *s = probe(idx);

	inv->res[0] = d->vendor | (uint32_t)d->device << 16;
	inv->res[1] = (uint32_t)d->class << 16 | (uint32_t)d->subclass << 8 | d->progif;
	inv->res[2] = (uint32_t)d->bus << 8 | (uint32_t)d->dev << 3 | d->fn;
	inv->res[3] = (s->msi ? 1u : 0u) | (uint32_t)(s->msix ? s->msix_n : 0) << 16;
	return HL_OK;
}

static int check_access(uint64_t off, uint64_t width)
{
	if (width != 1 && width != 2 && width != 4)
		return HL_ERR_INVALID_ARG;
	if (off >= (pci_uses_ecam() ? 4096u : 256u))
		return HL_ERR_RANGE;
	if (off % width)
		return HL_ERR_INVALID_ARG;
	return HL_OK;
}

int decode_pci_device_config_read(struct invocation *inv)
{
	const struct pci_dev *d = pci_get(dev_index(inv->target));
	uint64_t off = inv->arg[0], width = inv->arg[1];
	int err = check_access(off, width);

	if (err)
		return err;
	uint32_t v = pci_cfg_read32(d, (uint16_t)(off & ~3ull)) >> ((off & 3) * 8);
	inv->res[0] = width == 4 ? v : v & ((1u << (8 * width)) - 1);
	return HL_OK;
}

static bool overlaps(uint64_t off, uint64_t width, uint64_t start, uint64_t len)
{
	return off < start + len && start < off + width;
}

/* Bytes [off, off+width) may be written by the holder (see the top of this file). */
static bool writable(const struct pcidev *s, uint64_t off, uint64_t width)
{
	if (overlaps(off, width, 0x04, 4))
		return off == 4 && width >= 2; /* command (and status): whole registers */
	if (off >= 0x0c && off + width <= 0x0e)
		return true;
	if (off == 0x3c && width == 1)
		return true;
	if (off < 0x40 || off + width > 0x100)
		return false;
	if (s->msi && overlaps(off, width, s->msi, 24))
		return false;
	if (s->msix && overlaps(off, width, s->msix, 12))
		return false;
	return true;
}

int decode_pci_device_config_write(struct invocation *inv)
{
	uint32_t idx = dev_index(inv->target);
	const struct pci_dev *d = pci_get(idx);
	uint64_t off = inv->arg[0], width = inv->arg[1], v = inv->arg[2];
	int err = check_access(off, width);

	if (err)
		return err;
	if (!writable(probe(idx), off, width))
		return HL_ERR_NO_RIGHTS;
	if (off == 4) { /* command: only the allowed bits change; status: as written (1 clears) */
		uint16_t cmd =
		    (uint16_t)((pci_cfg_read16(d, 4) & ~CMD_ALLOWED) | (v & CMD_ALLOWED));
		uint32_t status = width == 4 ? (uint32_t)(v >> 16) & 0xffff : 0;
		pci_cfg_write32(d, 4, cmd | status << 16);
	} else if (width == 4) {
		pci_cfg_write32(d, (uint16_t)off, (uint32_t)v);
	} else if (width == 2) {
		pci_cfg_write16(d, (uint16_t)off, (uint16_t)v);
	} else {
		pci_cfg_write8(d, (uint16_t)off, (uint8_t)v);
	}
	return HL_OK;
}

int decode_pci_device_bar(struct invocation *inv)
{
	const struct pci_dev *d = pci_get(dev_index(inv->target));
	uint64_t i = inv->arg[0];

	if (i > 5)
		return HL_ERR_RANGE;
	const struct pci_bar *b = &d->bar[i];
	inv->res[0] = b->base;
	inv->res[1] = b->size;
	inv->res[2] = (b->io ? HL_BAR_IO : 0) | (b->is64 ? HL_BAR_64 : 0) |
	              (b->prefetch ? HL_BAR_PREFETCH : 0);
	return HL_OK;
}

int decode_pci_device_map_bar(struct invocation *inv)
{
	const struct pci_dev *d = pci_get(dev_index(inv->target));
	uint64_t i = inv->arg[0];

	if (i > 5 || pcidev_gone(d))
		return HL_ERR_RANGE; /* no such BAR, or the function reads all-ones */
	struct slot *dst = cspace_slot(inv->cspace, inv->arg[1]);
	if (!dst)
		return HL_ERR_INVALID_CAP;
	if (dst->cap.type != HL_OBJ_NONE)
		return HL_ERR_SLOT_OCCUPIED;
	const struct pci_bar *b = &d->bar[i];
	if (!b->size || !b->base || (b->size & (b->size - 1)))
		return HL_ERR_RANGE; /* absent (or the upper half of a 64-bit BAR) */
	struct cap c = {.rights = HL_R_ALL};
	if (b->io) {
		if (b->base > 0xffff || b->size > 0x10000 - b->base)
			return HL_ERR_RANGE;
		c.type = HL_OBJ_IOPORT, c.rights = HL_R_READ | HL_R_WRITE, c.obj = b->base,
		c.aux = (uint32_t)b->size;
	} else {
		if (b->size < PAGE_SIZE || (b->base & (b->size - 1)))
			return HL_ERR_RANGE; /* a smaller BAR shares its page with others */
		c.type = HL_OBJ_MEMORY, c.flags = CAP_F_DEVICE, c.obj = b->base;
		c.size_bits = (uint8_t)(63 - __builtin_clzll(b->size));
	}
	cap_insert(dst, &c, inv->target);
	return HL_OK;
}

/* The physical range of a table that lives in a BAR, page-rounded. */
static bool in_bar_range(const struct pci_dev *d, uint8_t bir, uint32_t off, uint64_t bytes,
                         paddr_t pa, uint64_t size)
{
	if (bir > 5 || d->bar[bir].io || !d->bar[bir].size)
		return false;
	paddr_t lo = ALIGN_DOWN(d->bar[bir].base + off, PAGE_SIZE);
	paddr_t hi = ALIGN_UP(d->bar[bir].base + off + bytes, PAGE_SIZE);
	return pa < hi && lo < pa + size;
}

bool pcidev_range_protected(paddr_t pa, uint64_t size)
{
	for (uint32_t i = 0; i < pci_count(); i++) {
		const struct pcidev *s = probe(i);
		const struct pci_dev *d = pci_get(i);
		if (s->msix &&
		    (in_bar_range(d, s->msix_bir, s->msix_off, s->msix_n * 16ull, pa, size) ||
		     in_bar_range(d, s->pba_bir, s->pba_off, (s->msix_n + 63) / 64 * 8ull, pa,
		                  size)))
			return true;
	}
	return false;
}

/* Point MSI vector 0 or MSI-X entry `entry` at vector on CPU c (on), or turn it off. */
static void program(const struct pci_dev *d, struct pcidev *s, uint64_t entry, const struct cpu *c,
                    uint8_t vector, bool on)
{
	uint32_t addr = 0, data = 0;

	if (on)
		arch_msi_message((uint16_t)(d->bus << 8 | d->dev << 3 | d->fn), c, vector, &addr,
		                 &data);

	if (s->msix) {
		volatile uint32_t *e = &s->msix_table[entry * 4];
		e[3] = 1; /* masked while it changes */
		if (!on)
			return;
		e[0] = addr, e[1] = 0, e[2] = data;
		e[3] = 0;
		uint16_t ctl = pci_cfg_read16(d, s->msix + 2);
		pci_cfg_write16(
		    d, s->msix + 2,
		    (uint16_t)((ctl | 0x8000) & ~0x4000)); /* enable, no function mask */
		return;
	}
	uint16_t ctl = pci_cfg_read16(d, s->msi + 2);
	if (!on) {
		pci_cfg_write16(d, s->msi + 2, ctl & ~1u);
		return;
	}
	bool is64 = ctl & 0x80;
	pci_cfg_write32(d, s->msi + 4, addr);
	if (is64)
		pci_cfg_write32(d, s->msi + 8, 0);
	pci_cfg_write16(d, (uint16_t)(s->msi + (is64 ? 12 : 8)), (uint16_t)data);
	pci_cfg_write16(d, s->msi + 2, (uint16_t)((ctl & ~0x70u) | 1)); /* one vector, enabled */
}

int decode_pci_device_msi(struct invocation *inv)
{
	uint32_t idx = dev_index(inv->target);
	const struct pci_dev *d = pci_get(idx);
	struct pcidev *s = probe(idx);
	uint64_t entry = inv->arg[0], cpu = inv->arg[1];

	if (pcidev_gone(d))
		return HL_ERR_RANGE; /* nothing answers: no vector to program */
	struct slot *dst = cspace_slot(inv->cspace, inv->arg[2]);
	if (!s->msi && !s->msix)
		return HL_ERR_ILLEGAL_OP; /* no message-signalled interrupts */
	if (entry >= (s->msix ? MIN(s->msix_n, 64u) : 1u) || cpu >= ncpus_online)
		return HL_ERR_RANGE;
	if (!dst)
		return HL_ERR_INVALID_CAP;
	if (dst->cap.type != HL_OBJ_NONE)
		return HL_ERR_SLOT_OCCUPIED;
	if (s->msi_used & (1ull << entry))
		return HL_ERR_ILLEGAL_OP; /* one handler per vector */
	if (s->msix && !s->msix_table &&
	    (s->msix_bir > 5 || d->bar[s->msix_bir].io || !d->bar[s->msix_bir].size))
		return HL_ERR_RANGE; /* the table is not in a memory BAR */
	int irq = irq_msi_alloc();
	if (irq < 0)
		return HL_ERR_NO_MEMORY; /* no vector left */
	/* Nothing can fail from here on. */
	if (s->msix && !s->msix_table)
		s->msix_table =
		    vm_map_mmio(d->bar[s->msix_bir].base + s->msix_off, s->msix_n * 16ull);
	s->msi_used |= 1ull << entry;
	irq_msi_bind(irq, idx, (uint32_t)entry);
	program(d, s, entry, &cpus[cpu], (uint8_t)irq_vector(irq), true);
	struct cap c = {.type = HL_OBJ_IRQ_HANDLER, .rights = HL_R_ALL, .aux = (uint32_t)irq};
	cap_insert(dst, &c, inv->target);
	return HL_OK;
}

/*
 * An IRQ handler capability for the function's INTx pin (config 0x3d),
 * routed to the IOAPIC input the chipset wires it to (arch_pci_intx_gsi),
 * level-triggered, first delivered to CPU cpu (a line shared with
 * functions already holding it keeps its first owner's CPU). A function
 * whose pin or routing is unknown is refused, and the console says why.
 */
int decode_pci_device_intx(struct invocation *inv)
{
	uint32_t idx = dev_index(inv->target), gsi = 0;
	const struct pci_dev *d = pci_get(idx);
	uint64_t cpu = inv->arg[0];
	const char *why = "";

	if (cpu >= ncpus_online || pcidev_gone(d))
		return HL_ERR_RANGE;
	struct slot *dst = cspace_slot(inv->cspace, inv->arg[1]);
	if (!dst)
		return HL_ERR_INVALID_CAP;
	if (dst->cap.type != HL_OBJ_NONE)
		return HL_ERR_SLOT_OCCUPIED;
	int err = arch_pci_intx_gsi(d, pci_cfg_read8(d, 0x3d), &gsi, &why);
	if (err) {
		pr_info("pci %02x:%02x.%x: no INTx: %s", d->bus, d->dev, d->fn, why);
		return err;
	}
	err = irq_intx_check(idx, gsi);
	if (err)
		return err;
	/* Nothing can fail from here on. */
	int irq = irq_intx_claim(idx, gsi, &cpus[cpu]);
	struct cap c = {.type = HL_OBJ_IRQ_HANDLER,
	                .rights = HL_R_ALL,
	                .aux = (uint32_t)irq,
	                .obj = PCIDEV_INTX_OBJ(irq, idx)};
	cap_insert(dst, &c, inv->target);
	pr_debug("pci %02x:%02x.%x: INTx%c on GSI %u (irq %d)", d->bus, d->dev, d->fn,
	         'A' + pci_cfg_read8(d, 0x3d) - 1, gsi, irq);
	return HL_OK;
}

void pcidev_msi_release(uint32_t idx, uint32_t entry)
{
	struct pcidev *s = probe(idx);

	program(pci_get(idx), s, entry, NULL, 0, false);
	s->msi_used &= ~(1ull << entry);
}

/*
 * Function-level reset (PCIe FLR): bus mastering off, then the reset; the
 * caller waits 100 ms before using the function. HL_ERR_RANGE when the
 * function reads all-ones (absent or gone: no write reaches it),
 * HL_ERR_ILLEGAL_OP when it offers no FLR.
 */
int pcidev_flr(const struct pci_dev *d, const struct pcidev *s)
{
	if (pcidev_gone(d))
		return HL_ERR_RANGE;
	if (!s->pcie || !(pci_cfg_read32(d, s->pcie + 4) & (1u << 28)))
		return HL_ERR_ILLEGAL_OP; /* no FLR */
	pci_cfg_write16(d, 4, pci_cfg_read16(d, 4) & ~CMD_BUS_MASTER);
	pci_cfg_write16(d, s->pcie + 8, pci_cfg_read16(d, s->pcie + 8) | 0x8000);
	return HL_OK;
}

int decode_pci_device_reset(struct invocation *inv)
{
	uint32_t idx = dev_index(inv->target);

	return pcidev_flr(pci_get(idx), probe(idx));
}

/* The last capability to a function is gone: it may no longer reach memory. */
void pcidev_destroy(struct cap *c)
{
	const struct pci_dev *d = pci_get(c->aux);

	if (pcidev_gone(d))
		return; /* a read-modify-write would store all-ones' bits */
	pci_cfg_write16(d, 4, pci_cfg_read16(d, 4) & ~CMD_BUS_MASTER);
	pr_debug("pci %02x:%02x.%x: last capability deleted; bus mastering off", d->bus, d->dev,
	         d->fn);
}

/*
 * A frame capability's DMA mapping: data = paddr | FRAME_MAPPED | FRAME_DMA,
 * data2 = the function's index, badge = 0 (kernel/aspace.c's frame_unmap
 * calls pcidev_dma_unmap for it).
 */
int decode_pci_device_dma_map(struct invocation *inv)
{
	uint32_t idx = dev_index(inv->target);
	struct slot *f;
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, HL_R_READ, &f);

	if (err)
		return err;
	if (f->cap.data)
		return HL_ERR_ALREADY_MAPPED; /* one mapping per capability: map a copy */
	if (f->cap.flags & CAP_F_DEVICE)
		return HL_ERR_INVALID_ARG; /* device memory: peer-to-peer DMA is not offered */
	uint64_t size = 1ull << f->cap.size_bits;
	if (iommu_map(idx, f->cap.obj, f->cap.obj, size, f->cap.rights & HL_R_WRITE))
		return HL_ERR_NO_MEMORY;
	f->cap.data = f->cap.obj | FRAME_MAPPED | FRAME_DMA;
	f->cap.data2 = idx;
	return HL_OK;
}

void pcidev_dma_unmap(struct cap *c)
{
	iommu_unmap((uint32_t)c->data2, c->obj, 1ull << c->size_bits);
	c->data = c->data2 = c->badge = 0;
}

int decode_pci_device_dma_unmap(struct invocation *inv)
{
	struct slot *f;
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, 0, &f);

	if (err)
		return err;
	if (!(f->cap.data & FRAME_DMA) || f->cap.data2 != dev_index(inv->target))
		return HL_ERR_NOT_MAPPED; /* not mapped for this function's DMA */
	pcidev_dma_unmap(&f->cap);
	return HL_OK;
}
