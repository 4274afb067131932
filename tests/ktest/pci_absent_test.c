/*
 * ktest suite "pci" (continued): a function that is absent or answers
 * all-ones. A fake config-space accessor (pci_cfg_swap) stands in for one
 * function, or for the whole bus while pci_scan walks it; ktests run at
 * boot before the root task, when nothing else touches config space.
 */
#include <kernel/invoke.h>
#include <kernel/ktest.h>
#include <kernel/pci.h>
#include <kernel/pcidev.h>
#include <lib/string.h>

/* One fake function at bus:dev.fn; every other function reads all-ones (or the hardware's). */
struct fake_fn {
	uint8_t bus, dev, fn;
	uint32_t cfg[64];       /* its first 256 bytes */
	uint32_t wmask[64];     /* bits a write changes (a BAR's address bits) */
	int32_t reads_left;     /* reads it answers before it is gone (-1: it stays) */
	bool hw_elsewhere;      /* other functions: the hardware's accessor, not all-ones */
	uint32_t reads, writes; /* accesses that reached this function */
};

static struct fake_fn fk;
static const struct pci_cfg_ops *hw;

static bool is_fake(uint8_t bus, uint8_t dev, uint8_t fn)
{
	return bus == fk.bus && dev == fk.dev && fn == fk.fn;
}

static uint32_t fake_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
	if (!is_fake(bus, dev, fn))
		return fk.hw_elsewhere ? hw->read32(bus, dev, fn, off) : 0xffffffff;
	fk.reads++;
	if (fk.reads_left == 0 || off >= 256)
		return 0xffffffff;
	if (fk.reads_left > 0)
		fk.reads_left--;
	return fk.cfg[off / 4];
}

static void fake_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
	if (!is_fake(bus, dev, fn)) {
		if (fk.hw_elsewhere)
			hw->write32(bus, dev, fn, off, v);
		return;
	}
	fk.writes++;
	if (fk.reads_left != 0 && off < 256)
		fk.cfg[off / 4] = (v & fk.wmask[off / 4]) | (fk.cfg[off / 4] & ~fk.wmask[off / 4]);
}

static const struct pci_cfg_ops fake_ops = {fake_read32, fake_write32};

/* A fresh fake at bus:dev.fn with every register all-ones; swapped in. */
static void fake_begin(uint8_t bus, uint8_t dev, uint8_t fn)
{
	memset(&fk, 0, sizeof(fk));
	memset(fk.cfg, 0xff, sizeof(fk.cfg));
	fk.bus = bus, fk.dev = dev, fk.fn = fn, fk.reads_left = -1;
	hw = pci_cfg_swap(&fake_ops);
}

static void fake_end(void)
{
	pci_cfg_swap(hw);
}

/* A storage controller, header type 0, BAR0 stuck at all-ones, BAR1 16 KiB of memory, BAR2/3 a
 * 64-bit BAR whose upper half reads all-ones. */
static void fake_nvme_like(void)
{
	memset(fk.cfg, 0, sizeof(fk.cfg));
	fk.cfg[0] = 0x56781234, fk.cfg[2] = 0x01080200, fk.cfg[3] = 0;
	fk.cfg[4] = 0xffffffff;
	fk.cfg[5] = 0xfebf0000, fk.wmask[5] = 0xffffc000;
	fk.cfg[6] = 0x0000000c, fk.wmask[6] = 0xfff00000;
	fk.cfg[7] = 0xffffffff;
	fk.wmask[1] = 0xffff;
}

KTEST(pci, scan_of_all_ones_bus_lists_nothing)
{
	struct pci_dev out[4];

	fake_begin(0xff, 0x1f, 7); /* nowhere on bus 0: every function there reads all-ones */
	uint32_t n = pci_scan(out, 4);
	fake_end();
	KEXPECT(t, n == 0, "%u functions listed", n);
}

KTEST(pci, all_ones_bar_is_not_sized)
{
	struct pci_dev out[2];

	fake_begin(0, 0, 0);
	fake_nvme_like();
	uint32_t n = pci_scan(out, 2);
	fake_end();
	if (!KCHECK(t, n == 1, "%u functions listed", n))
		return;
	KEXPECT(t, out[0].vendor == 0x1234 && out[0].device == 0x5678 && out[0].class == 1);
	KEXPECT(t, out[0].bar[0].size == 0 && !out[0].bar[0].io,
	        "all-ones BAR0: %s size %#lx at %#lx", out[0].bar[0].io ? "io" : "mem",
	        out[0].bar[0].size, out[0].bar[0].base);
	KEXPECT(t, out[0].bar[1].size == 0x4000 && out[0].bar[1].base == 0xfebf0000,
	        "BAR1 size %#lx at %#lx", out[0].bar[1].size, out[0].bar[1].base);
	KEXPECT(t, out[0].bar[2].size == 0 && out[0].bar[3].size == 0,
	        "64-bit BAR2 with an all-ones upper half: size %#lx at %#lx", out[0].bar[2].size,
	        out[0].bar[2].base);
	KEXPECT(t, fk.cfg[5] == 0xfebf0000, "BAR1 restored: %#x", fk.cfg[5]);
}

/* The function answers its ID, then goes (surprise removal mid-scan): not listed at all. */
KTEST(pci, function_gone_mid_scan_is_not_listed)
{
	struct pci_dev out[2];

	fake_begin(0, 0, 0);
	fake_nvme_like();
	fk.reads_left = 3;
	uint32_t n = pci_scan(out, 2);
	fake_end();
	KEXPECT(t, n == 0, "%u functions listed", n);
}

/* A capabilities walk over all-ones (pointer 0xfc, next 0xfc, id 0xff) ends within its bound. */
KTEST(pci, caps_walk_of_all_ones_terminates)
{
	struct pci_dev d = {.bus = 0xff, .dev = 0x1f, .fn = 7};
	struct pcidev s = {0};

	fake_begin(0xff, 0x1f, 7);
	pcidev_walk_caps(&d, &s);
	uint32_t reads = fk.reads;
	fake_end();
	KEXPECT(t, !s.msi && !s.msix && !s.pcie, "msi %#x msix %#x pcie %#x", s.msi, s.msix,
	        s.pcie);
	KEXPECT(t, reads > 48 && reads <= 2 + 48 * 2, "%u config reads", reads);
}

/* An MSI-X capability pointing at itself: found once, the walk ends; its all-ones table BIR is
 * kept as read (decode_pci_device_msi refuses a BIR above 5). */
KTEST(pci, caps_walk_of_looping_list_terminates)
{
	struct pci_dev d = {.bus = 0xff, .dev = 0x1f, .fn = 7};
	struct pcidev s = {0};

	fake_begin(0xff, 0x1f, 7);
	memset(fk.cfg, 0, sizeof(fk.cfg));
	fk.cfg[1] = 0x00100000; /* status: capabilities list */
	fk.cfg[0x34 / 4] = 0x40;
	fk.cfg[0x40 / 4] = 0x07ff4011; /* MSI-X, next 0x40, 2048 entries */
	fk.cfg[0x44 / 4] = 0xffffffff, fk.cfg[0x48 / 4] = 0xffffffff;
	pcidev_walk_caps(&d, &s);
	uint32_t reads = fk.reads;
	fake_end();
	KEXPECT(t, s.msix == 0x40 && s.msix_n == 2048 && s.msix_bir == 7, "msix %#x n %u bir %u",
	        s.msix, s.msix_n, s.msix_bir);
	KEXPECT(t, reads <= 2 + 48 * 2 + 3, "%u config reads", reads);
}

/* FLR of a function that has gone since its PCIe capability was read: an error, nothing written.
 */
KTEST(pci, flr_of_all_ones_function_fails)
{
	struct pci_dev d = {.bus = 0xff, .dev = 0x1f, .fn = 7};
	struct pcidev s = {.probed = true, .pcie = 0x40};

	fake_begin(0xff, 0x1f, 7);
	int err = pcidev_flr(&d, &s);
	uint32_t writes = fk.writes;
	fake_end();
	KEXPECT(t, err == HL_ERR_RANGE, "FLR returned %d", err);
	KEXPECT(t, writes == 0, "%u config writes", writes);
}

/* The first function the root task could hand out (not a bridge), or pci_count(). */
static uint32_t first_endpoint(void)
{
	uint32_t i = 0;

	while (i < pci_count() && (pci_get(i)->class == 0x06 || (pci_get(i)->header & 0x7f) != 0))
		i++;
	return i;
}

/*
 * A real function's capability, its function now reading all-ones (the
 * root task matched it, then it went): each operation that would reach
 * the device is refused with HL_ERR_RANGE before it looks at a slot, and
 * nothing is written to the function.
 */
KTEST(pci, capability_ops_refuse_a_gone_function)
{
	uint32_t idx = first_endpoint();

	if (idx == pci_count()) {
		KSKIP(t, "no PCI endpoint");
		return;
	}
	const struct pci_dev *d = pci_get(idx);
	struct slot target = {0};
	struct invocation inv = {.target = &target, .arg = {0, 0, 1}};
	target.cap.type = HL_OBJ_PCI_DEVICE, target.cap.aux = idx, target.cap.obj = (uint64_t)d;

	fake_begin(d->bus, d->dev, d->fn);
	fk.hw_elsewhere = true;
	int bar = decode_pci_device_map_bar(&inv);
	int msi = decode_pci_device_msi(&inv);
	int intx = decode_pci_device_intx(&inv);
	int reset = decode_pci_device_reset(&inv);
	uint32_t writes = fk.writes;
	fake_end();
	KEXPECT(t, bar == HL_ERR_RANGE, "map_bar %d", bar);
	KEXPECT(t, msi == HL_ERR_RANGE, "msi %d", msi);
	KEXPECT(t, intx == HL_ERR_RANGE, "intx %d", intx);
	KEXPECT(t, reset == HL_ERR_RANGE, "reset %d", reset);
	KEXPECT(t, writes == 0, "%u config writes", writes);
}
