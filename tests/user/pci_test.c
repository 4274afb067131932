/*
 * Ring-3 suites "pci_errors" and "pci": PCI device capabilities. The
 * control capability issues one capability per function (never a bridge);
 * config writes reach only what the function owns; BARs become device
 * memory or I/O-port capabilities; MSI and MSI-X vectors arrive as
 * notification signals. QEMU's `edu` device (`-device edu`, 1234:11e8) is
 * the device under test where present: its ID register, its factorial
 * unit, its interrupt and its DMA engine; q35's e1000e supplies an MSI-X
 * table that must never become a frame.
 */
#include "utest.h"
#include <hallows/uctx.h>

#define EDU_VENDOR    0x1234
#define EDU_DEVICE    0x11e8
#define EDU_VA        0x520000000000ull /* a PML4 slot no other suite uses */
#define EDU_DMA_BUF   0x40000           /* the device's own 4 KiB buffer */
#define EDU_DMA_WORDS 512
#define EDU_DMA_LIMIT (1ull << 28) /* edu's default DMA mask: addresses above are clamped */

enum {
	E_ID = 0x00,
	E_LIVE = 0x04,
	E_FACT = 0x08,
	E_STATUS = 0x20,
	E_IRQ_STATUS = 0x24,
	E_IRQ_RAISE = 0x60,
	E_IRQ_ACK = 0x64,
	E_DMA_SRC = 0x80,
	E_DMA_DST = 0x88,
	E_DMA_COUNT = 0x90,
	E_DMA_CMD = 0x98
};

/* Index (as pci_control.issue takes it) of the n-th function with vendor:device, or -1. */
static int find_pci(uint16_t vendor, uint16_t device)
{
	const struct hl_bootinfo *bi = rt_self.bi;

	for (uint32_t i = 0; i < bi->npci; i++)
		if (bi->pci[i].vendor == vendor && bi->pci[i].device == device)
			return (int)i;
	return -1;
}

/* A copy of cap in a fresh slot (a frame mapped for the CPU needs one to be mapped for DMA too). */
static hl_cptr_t copy_of(hl_cptr_t cap)
{
	hl_cptr_t s = ut_slot();

	return hl_cspace_copy(HL_SLOT_CSPACE, s, cap, HL_R_ALL) == HL_OK ? s : 0;
}

static bool iommu_on(void)
{
	return rt_self.bi->flags & HL_BOOTINFO_F_IOMMU;
}

static hl_cptr_t issue(int idx)
{
	hl_cptr_t s = ut_slot();

	return idx >= 0 && hl_pci_control_issue(HL_SLOT_PCI_CONTROL, (hl_word_t)idx, s) == HL_OK
	           ? s
	           : 0;
}

UTEST(pci_errors, issue_errors)
{
	const struct hl_bootinfo *bi = rt_self.bi;
	hl_cptr_t s = ut_slot();

	UEXPECT(t, bi->npci > 0, "no PCI functions described");
	UEXPECT_ERR(t, hl_pci_control_issue(HL_SLOT_PCI_CONTROL, bi->npci, s), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_pci_control_issue(HL_SLOT_PCI_CONTROL, 0, HL_SLOT_CSPACE),
	            HL_ERR_SLOT_OCCUPIED);
	UEXPECT_ERR(t, hl_pci_control_issue(HL_SLOT_PCI_CONTROL, 0, 1u << 20), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_pci_control_issue(HL_SLOT_DEBUG, 0, s),
	            HL_ERR_ILLEGAL_OP);         /* not the control capability */
	for (uint32_t i = 0; i < bi->npci; i++) /* q35's host bridge and LPC bridge: the kernel's */
		if (bi->pci[i].class == 0x06)
			UEXPECT_ERR(t, hl_pci_control_issue(HL_SLOT_PCI_CONTROL, i, s),
			            HL_ERR_ILLEGAL_OP);
	/* The control capability itself cannot be copied. */
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, s, HL_SLOT_PCI_CONTROL, HL_R_ALL),
	            HL_ERR_ILLEGAL_OP);
}

UTEST(pci, info_matches_the_boot_info)
{
	const struct hl_bootinfo *bi = rt_self.bi;

	for (uint32_t i = 0; i < bi->npci; i++) {
		if (bi->pci[i].class == 0x06)
			continue;
		hl_cptr_t d = issue((int)i);
		hl_word_t id = 0, cls = 0, bdf = 0, msi = 0, vend = 0;
		if (!UCHECK(t, d, "function %u", i))
			continue;
		UEXPECT_ERR(t, hl_pci_device_info(d, &id, &cls, &bdf, &msi), HL_OK);
		UEXPECT(t, id == (bi->pci[i].vendor | (hl_word_t)bi->pci[i].device << 16),
		        "id %#lx", id);
		UEXPECT(t, cls >> 16 == bi->pci[i].class && bdf == bi->pci[i].bdf);
		UEXPECT_ERR(t, hl_pci_device_config_read(d, 0, 2, &vend), HL_OK);
		UEXPECT(t, vend == bi->pci[i].vendor);
	}
}

/* A capability to the first function that is not a bridge (every q35 machine has one). */
static hl_cptr_t any_device(void)
{
	const struct hl_bootinfo *bi = rt_self.bi;

	for (uint32_t i = 0; i < bi->npci; i++)
		if (bi->pci[i].class != 0x06)
			return issue((int)i);
	return 0;
}

UTEST(pci_errors, config_access_errors)
{
	hl_cptr_t d = any_device();
	hl_word_t v;

	if (!UCHECK(t, d))
		return;
	UEXPECT_ERR(t, hl_pci_device_config_read(d, 0, 3, &v), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_pci_device_config_read(d, 2, 4, &v), HL_ERR_INVALID_ARG); /* misaligned */
	UEXPECT_ERR(t, hl_pci_device_config_read(d, 4096, 1, &v), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 0x10, 4, 0), HL_ERR_NO_RIGHTS); /* BAR 0 */
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 0x24, 4, 0), HL_ERR_NO_RIGHTS); /* BAR 5 */
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 0x30, 4, 0), HL_ERR_NO_RIGHTS); /* ROM */
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 0x00, 2, 0), HL_ERR_NO_RIGHTS); /* vendor */
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 0x05, 1, 0),
	            HL_ERR_NO_RIGHTS); /* half a command register */
	bool ecam =
	    hl_pci_device_config_read(d, 0x100, 4, &v) == HL_OK; /* Bochs has no ECAM: 256 bytes */
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 0x100, 4, 0),
	            ecam ? HL_ERR_NO_RIGHTS : HL_ERR_RANGE); /* extended space */
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 0x10, 3, 0), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_pci_device_bar(d, 6, NULL, NULL, NULL), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_pci_device_map_bar(d, 6, ut_slot()), HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_pci_device_map_bar(d, 0, HL_SLOT_CSPACE), HL_ERR_SLOT_OCCUPIED);
	hl_word_t msi = 0;
	hl_pci_device_info(d, NULL, NULL, NULL, &msi);
	UEXPECT_ERR(t, hl_pci_device_msi(d, 0, 1u << 20, ut_slot()),
	            msi ? HL_ERR_RANGE : HL_ERR_ILLEGAL_OP); /* no such CPU */
}

/* The command register keeps the bits the holder may not change (e.g. SERR#), whatever it writes.
 */
UTEST(pci, command_register_is_masked)
{
	hl_cptr_t d = any_device();
	hl_word_t before = 0, after = 0;

	if (!UCHECK(t, d))
		return;
	hl_pci_device_config_read(d, 4, 2, &before);
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 4, 2, before ^ 0x0100),
	            HL_OK); /* flip SERR# enable */
	hl_pci_device_config_read(d, 4, 2, &after);
	UEXPECT(t, (after & 0x0100) == (before & 0x0100), "SERR# changed: %#lx -> %#lx", before,
	        after);
	UEXPECT_ERR(t, hl_pci_device_config_write(d, 4, 2, before), HL_OK);
}

struct edu {
	hl_cptr_t dev;
	volatile uint32_t *regs;
};

/* The edu device mapped near EDU_VA, a page of its own each time (its BAR 0 is 1 MiB: the first
 * page is all the registers). */
static bool edu_open(struct utest_ctx *t, struct edu *e)
{
	static uint64_t opened;
	hl_cptr_t mem = ut_slot(), frame = ut_slot();
	uint64_t va = EDU_VA + opened++ * 4096;

	e->dev = issue(find_pci(EDU_VENDOR, EDU_DEVICE));
	if (!e->dev) {
		rt_printf("        # no edu device (-device edu): skipped\n");
		return false;
	}
	if (!UCHECK(t, hl_pci_device_map_bar(e->dev, 0, mem) == HL_OK) ||
	    !UCHECK(t, hl_memory_retype(mem, HL_OBJ_FRAME, 12, 1, frame) == HL_OK) ||
	    !UCHECK(t, rt_ensure_tables(HL_SLOT_ASPACE, va) == HL_OK) ||
	    !UCHECK(t, hl_aspace_map(HL_SLOT_ASPACE, frame, va, HL_R_READ | HL_R_WRITE) == HL_OK))
		return false;
	e->regs = (volatile uint32_t *)va;
	return true;
}

/*
 * A frame of device memory (here the edu device's BAR 0) is no IPC buffer
 * and no upcall area: the kernel writes both through its map of RAM.
 * Bug fixed: thread.configure accepted it and wrote the buffer's tls word
 * through that map.
 */
UTEST(pci, device_frame_is_no_ipc_buffer_or_upcall_area)
{
	hl_cptr_t mem = ut_slot(), frame = ut_slot();
	hl_cptr_t dev = issue(find_pci(EDU_VENDOR, EDU_DEVICE));
	uint64_t va = EDU_VA + 0x100000;

	if (!dev) {
		rt_printf("        # no edu device (-device edu): skipped\n");
		return;
	}
	if (!UCHECK(t, hl_pci_device_map_bar(dev, 0, mem) == HL_OK) ||
	    !UCHECK(t, hl_memory_retype(mem, HL_OBJ_FRAME, 12, 1, frame) == HL_OK) ||
	    !UCHECK(t, rt_ensure_tables(HL_SLOT_ASPACE, va) == HL_OK) ||
	    !UCHECK(t, hl_aspace_map(HL_SLOT_ASPACE, frame, va, HL_R_READ | HL_R_WRITE) == HL_OK))
		return;
	hl_cptr_t tcb = ut_alloc(t, HL_OBJ_THREAD, 0);
	UEXPECT_ERR(t, hl_thread_configure(tcb, HL_SLOT_CSPACE, HL_SLOT_ASPACE, frame, va),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(
	    t, hl_thread_set_upcall(HL_SLOT_THREAD, frame, va, (hl_word_t)rt_upcall_entry, 100000),
	    HL_ERR_INVALID_ARG);
	hl_aspace_unmap(HL_SLOT_ASPACE, frame);
}

UTEST(pci, edu_registers_through_a_mapped_bar)
{
	struct edu e;

	if (!edu_open(t, &e))
		return;
	UEXPECT(t, e.regs[E_ID / 4] == 0x010000ed, "id %#x", e.regs[E_ID / 4]);
	e.regs[E_LIVE / 4] = 0x12345678;
	UEXPECT(t, e.regs[E_LIVE / 4] == ~0x12345678u);
	e.regs[E_FACT / 4] = 10;
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(1000);
	     (e.regs[E_STATUS / 4] & 1) && ut_rdtsc() < end;)
		;
	UEXPECT(t, e.regs[E_FACT / 4] == 3628800, "10! = %u", e.regs[E_FACT / 4]);
	hl_word_t base = 0, size = 0, flags = 0;
	UEXPECT_ERR(t, hl_pci_device_bar(e.dev, 0, &base, &size, &flags), HL_OK);
	UEXPECT(t, size == 1u << 20 && !(flags & HL_BAR_IO), "BAR 0: %#lx bytes, flags %lu", size,
	        flags);
}

/*
 * HL_MAP_WC: a frame of device memory (edu's BAR 0) maps write-combining
 * and still reaches the device (a write, fenced, then read back; the PTE's
 * type is checked by ktest pat.wc_device_mapping_has_the_wc_type_...);
 * aspace.protect keeps the mapping working.
 */
UTEST(pci, device_frame_maps_write_combining)
{
	hl_cptr_t mem = ut_slot(), frame = ut_slot();
	hl_cptr_t dev = issue(find_pci(EDU_VENDOR, EDU_DEVICE));
	uint64_t va = EDU_VA + 0x180000;

	if (!dev) {
		rt_printf("        # no edu device (-device edu): skipped\n");
		return;
	}
	if (!UCHECK(t, hl_pci_device_map_bar(dev, 0, mem) == HL_OK) ||
	    !UCHECK(t, hl_memory_retype(mem, HL_OBJ_FRAME, 12, 1, frame) == HL_OK) ||
	    !UCHECK(t, rt_ensure_tables(HL_SLOT_ASPACE, va) == HL_OK))
		return;
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, frame, va, HL_R_READ | HL_R_WRITE | HL_MAP_WC),
	            HL_OK);
	volatile uint32_t *regs = (volatile uint32_t *)va;
	UEXPECT(t, regs[E_ID / 4] == 0x010000ed, "id %#x", regs[E_ID / 4]);
	regs[E_LIVE / 4] = 0x0f0f1234;
	__asm__ volatile("sfence" ::: "memory");
	UEXPECT(t, regs[E_LIVE / 4] == ~0x0f0f1234u, "liveness %#x", regs[E_LIVE / 4]);
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, frame, HL_R_READ | HL_R_WRITE), HL_OK);
	regs[E_LIVE / 4] = 0x1234;
	__asm__ volatile("sfence" ::: "memory");
	UEXPECT(t, regs[E_LIVE / 4] == ~0x1234u, "liveness after protect %#x", regs[E_LIVE / 4]);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, frame), HL_OK);
}

/* Write-combining is for device memory: a RAM frame asked for it is refused, and so is an unknown
 * mapping flag. */
UTEST(pci_errors, write_combining_refused_for_ram)
{
	hl_cptr_t f;
	void *p = ut_page(t, &f);
	uint64_t va = EDU_VA + 0x181000;

	if (!UCHECK(t, p != NULL) || !UCHECK(t, rt_ensure_tables(HL_SLOT_ASPACE, va) == HL_OK))
		return;
	hl_cptr_t c = copy_of(f);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, c, va, HL_R_READ | HL_R_WRITE | HL_MAP_WC),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, c, va, HL_R_READ | (HL_MAP_WC << 1)),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, c, va, HL_R_READ), HL_OK); /* plain: fine */
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, c), HL_OK);
}

/* Wait up to ms for a signal on n; returns its bits, 0 on timeout. */
static hl_word_t wait_signal(hl_cptr_t n, uint64_t ms)
{
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(ms); ut_rdtsc() < end;) {
		hl_word_t info = 0;
		struct hl_msg m = {{0}};
		hl_word_t badge = 0;
		if (hl_syscall(HL_SYS_POLL, n, &info, &m, &badge) == HL_OK)
			return badge ? badge : 1;
		hl_yield();
	}
	return 0;
}

UTEST(pci, edu_msi_arrives_as_a_signal)
{
	struct edu e;
	hl_cptr_t irq = ut_slot(), n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);

	if (!edu_open(t, &e))
		return;
	hl_word_t msi = 0;
	hl_pci_device_info(e.dev, NULL, NULL, NULL, &msi);
	UEXPECT(t, (msi & 0xffff) == 1, "edu offers MSI: %#lx", msi);
	UEXPECT_ERR(t, hl_pci_device_msi(e.dev, 1, 0, ut_slot()),
	            HL_ERR_RANGE); /* MSI: vector 0 only */
	UEXPECT_ERR(t, hl_pci_device_msi(e.dev, 0, 0, irq), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_msi(e.dev, 0, 0, ut_slot()),
	            HL_ERR_ILLEGAL_OP); /* one handler per vector */
	UEXPECT_ERR(t, hl_irq_handler_set_notification(irq, n), HL_OK);
	hl_word_t cmd = 0; /* a message is a memory write of the device's: bus mastering on */
	hl_pci_device_config_read(e.dev, 4, 2, &cmd);
	UEXPECT_ERR(t, hl_pci_device_config_write(e.dev, 4, 2, cmd | 0x4), HL_OK);
	for (int round = 0; round < 3; round++) {
		e.regs[E_IRQ_RAISE / 4] = 0x100u << round;
		hl_word_t got = wait_signal(n, 1000);
		UEXPECT(t, got != 0, "round %d: no interrupt", round);
		UEXPECT(t, e.regs[E_IRQ_STATUS / 4] == 0x100u << round);
		e.regs[E_IRQ_ACK / 4] = 0x100u << round;
		UEXPECT_ERR(t, hl_irq_handler_ack(irq), HL_OK);
	}
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, irq), HL_OK); /* the vector is free again */
	UEXPECT_ERR(t, hl_pci_device_msi(e.dev, 0, rt_self.bi->ncpus - 1, irq), HL_OK);
	UEXPECT_ERR(t, hl_irq_handler_set_notification(irq, n), HL_OK);
	e.regs[E_IRQ_RAISE / 4] = 1; /* now to the last CPU */
	UEXPECT(t, wait_signal(n, 1000) != 0, "no interrupt on CPU %u", rt_self.bi->ncpus - 1);
	e.regs[E_IRQ_ACK / 4] = 1;
	hl_pci_device_config_write(e.dev, 4, 2, cmd);
}

/* A frame below edu's 28-bit DMA limit, or 0. */
static hl_cptr_t low_frame(struct utest_ctx *t, hl_word_t *pa, void **va)
{
	for (int i = 0; i < 16; i++) {
		hl_cptr_t f;
		void *p = ut_page(t, &f);
		if (p && hl_frame_paddr(f, pa) == HL_OK && *pa + 4096 <= EDU_DMA_LIMIT) {
			*va = p;
			return f;
		}
	}
	return 0;
}

static bool edu_dma(struct edu *e, uint64_t src, uint64_t dst, uint32_t len, uint32_t cmd)
{
	e->regs[E_DMA_SRC / 4] = (uint32_t)src, e->regs[E_DMA_SRC / 4 + 1] = (uint32_t)(src >> 32);
	e->regs[E_DMA_DST / 4] = (uint32_t)dst, e->regs[E_DMA_DST / 4 + 1] = (uint32_t)(dst >> 32);
	e->regs[E_DMA_COUNT / 4] = len;
	e->regs[E_DMA_CMD / 4] = cmd | 1;
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(1000); ut_rdtsc() < end;)
		if (!(e->regs[E_DMA_CMD / 4] & 1))
			return true;
	return false;
}

/* The owner's DMA memory, both ways through the device's buffer, with bus mastering turned on
 * through the capability. */
UTEST(pci, edu_dma_into_own_memory)
{
	struct edu e;
	hl_word_t pa_in = 0, pa_out = 0, cmd = 0;
	void *in, *out;

	if (!edu_open(t, &e))
		return;
	hl_cptr_t fi = low_frame(t, &pa_in, &in), fo = low_frame(t, &pa_out, &out);
	if (!fi || !fo) {
		rt_printf("        # no suite memory below 256 MiB for edu's DMA: skipped\n");
		return;
	}
	hl_cptr_t di = copy_of(fi), dout = copy_of(fo);
	UEXPECT_ERR(t, hl_pci_device_dma_map(e.dev, di), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_dma_map(e.dev, dout), HL_OK);
	hl_pci_device_config_read(e.dev, 4, 2, &cmd);
	UEXPECT_ERR(t, hl_pci_device_config_write(e.dev, 4, 2, cmd | 0x4), HL_OK);
	/* Not the whole 4 KiB buffer: QEMU 7.2's edu refuses a transfer that ends at its last byte
	 * (and stops). */
	for (int i = 0; i < EDU_DMA_WORDS; i++)
		((volatile uint32_t *)in)[i] = 0x9e000000u + (uint32_t)i;
	UEXPECT(t, edu_dma(&e, pa_in, EDU_DMA_BUF, EDU_DMA_WORDS * 4, 0),
	        "RAM -> edu did not finish");
	UEXPECT(t, edu_dma(&e, EDU_DMA_BUF, pa_out, EDU_DMA_WORDS * 4, 2),
	        "edu -> RAM did not finish");
	int bad = 0;
	for (int i = 0; i < EDU_DMA_WORDS; i++)
		bad += ((volatile uint32_t *)out)[i] != 0x9e000000u + (uint32_t)i;
	UEXPECT(t, bad == 0, "%d words differ after the round trip", bad);
	UEXPECT_ERR(t, hl_pci_device_dma_unmap(e.dev, di), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_dma_unmap(e.dev, di), HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t, hl_pci_device_config_write(e.dev, 4, 2, cmd), HL_OK);
}

UTEST(pci_errors, dma_map_errors)
{
	hl_cptr_t d = any_device(), e = any_device(), f, n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	void *p = ut_page(t, &f);

	if (!UCHECK(t, d && e && p && n))
		return;
	hl_cptr_t c = copy_of(f);
	UEXPECT_ERR(t, hl_pci_device_dma_map(d, n), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_pci_device_dma_map(d, ut_slot()), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_pci_device_dma_map(d, f),
	            HL_ERR_ALREADY_MAPPED); /* mapped for the CPU: use a copy */
	UEXPECT_ERR(t, hl_pci_device_dma_unmap(d, c), HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t, hl_pci_device_dma_map(d, c), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_dma_map(d, c), HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, c, (uint64_t)p + 4096, HL_R_READ),
	            HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, c),
	            HL_ERR_INVALID_ARG); /* not a CPU mapping */
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, c, HL_R_READ), HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, c),
	            HL_OK); /* deleting the capability unmaps it */
	(void)e;
}

/*
 * With VT-d (HL_BOOTINFO_F_IOMMU), a DMA outside the frames mapped for the
 * function is blocked: the target keeps its bytes, and the kernel logs the
 * fault with the device and the address (the test runner checks the log).
 * The same after dma_unmap, and after the capability that mapped a frame
 * is deleted.
 */
UTEST(pci, edu_dma_outside_its_domain_is_blocked)
{
	struct edu e;
	hl_word_t pa = 0, cmd = 0;
	void *va;

	if (!iommu_on()) {
		rt_printf("        # no IOMMU: device DMA is not confined here; skipped\n");
		return;
	}
	if (!edu_open(t, &e))
		return;
	hl_cptr_t f = low_frame(t, &pa, &va);
	if (!f) {
		rt_printf("        # no suite memory below 256 MiB for edu's DMA: skipped\n");
		return;
	}
	volatile uint32_t *w = va;
	hl_pci_device_config_read(e.dev, 4, 2, &cmd);
	hl_pci_device_config_write(e.dev, 4, 2, cmd | 0x4);
	for (int round = 0; round < 3; round++) {
		hl_cptr_t c = copy_of(f);
		if (round > 0) { /* mapped, then taken away again */
			UEXPECT_ERR(t, hl_pci_device_dma_map(e.dev, c), HL_OK);
			if (round == 1)
				UEXPECT_ERR(t, hl_pci_device_dma_unmap(e.dev, c), HL_OK);
			else
				UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, c), HL_OK);
		}
		for (int i = 0; i < EDU_DMA_WORDS; i++)
			w[i] = 0x5a5a0000u + (uint32_t)i;
		edu_dma(&e, EDU_DMA_BUF, pa, EDU_DMA_WORDS * 4, 2); /* edu -> RAM: must not land */
		int changed = 0;
		for (int i = 0; i < EDU_DMA_WORDS; i++)
			changed += w[i] != 0x5a5a0000u + (uint32_t)i;
		UEXPECT(t, changed == 0, "round %d: %d words written by a blocked DMA", round,
		        changed);
	}
	hl_pci_device_config_write(e.dev, 4, 2, cmd);
}

#define E1000E_DEVICE 0x10d3

/* Let edu write the word at offset off of its buffer to the interrupt address addr; false if the
 * DMA did not finish. */
static bool edu_forge(struct edu *e, uint32_t off, uint32_t addr)
{
	return edu_dma(e, EDU_DMA_BUF + off, addr, 4, 2);
}

/*
 * With VT-d interrupt remapping (HL_BOOTINFO_F_INTREMAP), edu (run with
 * dma_mask=0xffffffff so that its DMA reaches 0xfee00000) writes messages
 * into the interrupt range by DMA: in remappable format, one naming each
 * of the 256 remapping entries, then in compatibility format, one for each
 * MSI vector, to CPU 0. Judged: edu's own vector arrives through its own
 * entry (the entry pcidev made holds the right vector and CPU, and the
 * DMA reached the interrupt range). Printed, not judged: whether e1000e's
 * vector, bound to a notification, was raised. Real VT-d drops both kinds
 * of forgery (source-id check, CFI clear); QEMU 7.2 checks neither for a
 * DMA write (its DMA carries no requester id, and its model has no CFI
 * check), so here they get through: docs/devices.md, "Interrupt
 * remapping". The source-id check itself is tested where QEMU applies it,
 * on edu's own MSI: ktest suite intremap (boot scenario intremap).
 */
UTEST(pci, edu_dma_into_the_interrupt_range)
{
	struct edu e;
	hl_word_t pa = 0, cmd = 0;
	void *va;

	if (!(rt_self.bi->flags & HL_BOOTINFO_F_INTREMAP)) {
		rt_printf("        # no interrupt remapping: a device can forge interrupts here; "
		          "skipped\n");
		return;
	}
	int nic = find_pci(0x8086, E1000E_DEVICE);
	if (!edu_open(t, &e) || nic < 0) {
		rt_printf("        # needs edu and e1000e: skipped\n");
		return;
	}
	hl_cptr_t nicdev = issue(nic), nic_irq = ut_slot(), edu_irq = ut_slot();
	hl_cptr_t n_nic = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_cptr_t n_edu = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_cptr_t f = low_frame(t, &pa, &va);
	/* MSI-X entry 2: msix_table_never_becomes_a_frame keeps entry 0. */
	if (!UCHECK(t, nicdev && f) ||
	    !UCHECK(t, hl_pci_device_msi(nicdev, 2, 0, nic_irq) == HL_OK) ||
	    !UCHECK(t, hl_irq_handler_set_notification(nic_irq, n_nic) == HL_OK) ||
	    !UCHECK(t, hl_pci_device_msi(e.dev, 0, 0, edu_irq) == HL_OK) ||
	    !UCHECK(t, hl_irq_handler_set_notification(edu_irq, n_edu) == HL_OK))
		return;
	hl_cptr_t c = copy_of(f);
	UEXPECT_ERR(t, hl_pci_device_dma_map(e.dev, c), HL_OK);
	hl_pci_device_config_read(e.dev, 4, 2, &cmd);
	hl_pci_device_config_write(e.dev, 4, 2, cmd | 0x4);
	volatile uint32_t *w = va; /* word v = v: the data of a compatibility-format message */
	for (uint32_t v = 0; v < 256; v++)
		w[v] = v;
	UEXPECT(t, edu_dma(&e, pa, EDU_DMA_BUF, 1024, 0), "RAM -> edu did not finish");
	int stuck = 0;
	for (uint32_t i = 0; i < 256; i++) /* remappable format, handle i, no subhandle */
		stuck += !edu_forge(&e, 0, 0xfee00000u | i << 5 | 1u << 4);
	hl_word_t own = wait_signal(n_edu, 200), forged = wait_signal(n_nic, 200);
	UEXPECT(t, stuck == 0, "%d forging DMAs did not finish", stuck);
	UEXPECT(t, own != 0,
	        "edu's own remapping entry never fired: its DMA did not reach the "
	        "interrupt range (run edu with dma_mask=0xffffffff)");
	rt_printf("        # remappable-format forgeries by DMA: e1000e's vector %s (real VT-d "
	          "checks the source id; QEMU 7.2's DMA carries none)\n",
	          forged ? "raised" : "not raised");
	for (uint32_t v = 0x40; v < 0xee; v++) /* compatibility format, vector v, APIC id 0 */
		stuck += !edu_forge(&e, v * 4, 0xfee00000u);
	forged = wait_signal(n_nic, 200);
	UEXPECT(t, stuck == 0, "%d forging DMAs did not finish", stuck);
	rt_printf("        # compatibility-format forgeries by DMA: e1000e's vector %s (real VT-d "
	          "with CFI clear blocks them; QEMU 7.2 has no CFI check)\n",
	          forged ? "raised" : "not raised");
	hl_pci_device_config_write(e.dev, 4, 2, cmd);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, nic_irq), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, edu_irq), HL_OK);
}

/* e1000e keeps its MSI-X table in BAR 3: no page of it becomes a frame, the rest of the BAR does.
 */
UTEST(pci, msix_table_never_becomes_a_frame)
{
	hl_cptr_t d = issue(find_pci(0x8086, 0x10d3));
	hl_word_t msi = 0, base = 0, size = 0, table = 0;

	if (!d) {
		rt_printf("        # no e1000e: skipped\n");
		return;
	}
	hl_pci_device_info(d, NULL, NULL, NULL, &msi);
	UEXPECT(t, msi >> 16 > 0, "e1000e offers MSI-X: %#lx", msi);
	/* Find the MSI-X capability and its table's BAR and offset. */
	hl_word_t off = 0, id = 0;
	hl_pci_device_config_read(d, 0x34, 1, &off);
	for (int n = 0; n < 48 && off >= 0x40; n++) {
		hl_pci_device_config_read(d, off, 1, &id);
		if (id == 0x11)
			break;
		hl_pci_device_config_read(d, off + 1, 1, &off);
	}
	if (!UCHECK(t, id == 0x11, "no MSI-X capability found"))
		return;
	UEXPECT_ERR(t, hl_pci_device_config_write(d, off + 2, 2, 0x8000),
	            HL_ERR_NO_RIGHTS); /* MSI-X control */
	hl_word_t pba = 0;
	hl_pci_device_config_read(d, off + 4, 4, &table);
	hl_pci_device_config_read(d, off + 8, 4, &pba);
	hl_cptr_t mem = ut_slot();
	UEXPECT_ERR(t, hl_pci_device_bar(d, table & 7, &base, &size, NULL), HL_OK);
	UEXPECT_ERR(t, hl_pci_device_map_bar(d, table & 7, mem), HL_OK);
	uint64_t page = (table & ~7ull) / 4096, pages = size / 4096;
	/* Step over the pages before the table with 4 KiB memory capabilities, then ask for the
	 * table's page as a frame. */
	hl_cptr_t first = ut_slot();
	for (uint64_t i = 1; i < pages && i < 64; i++)
		ut_slot();
	UEXPECT_ERR(t, hl_memory_retype(mem, HL_OBJ_MEMORY, 12, pages < 64 ? pages : 64, first),
	            HL_OK);
	UEXPECT_ERR(t, hl_memory_retype(first + page, HL_OBJ_FRAME, 12, 1, ut_slot()),
	            HL_ERR_NO_RIGHTS);
	if ((pba & 7) == (table & 7)) /* the PBA in the same BAR: its page is protected too */
		UEXPECT_ERR(
		    t,
		    hl_memory_retype(first + (pba & ~7ull) / 4096, HL_OBJ_FRAME, 12, 1, ut_slot()),
		    HL_ERR_NO_RIGHTS);
	for (uint64_t q = 0; q < pages && q < 64;
	     q++) /* and any other page of the BAR is an ordinary device frame */
		if (q != page && !((pba & 7) == (table & 7) && q == (pba & ~7ull) / 4096)) {
			UEXPECT_ERR(t, hl_memory_retype(first + q, HL_OBJ_FRAME, 12, 1, ut_slot()),
			            HL_OK);
			break;
		}
	/* An MSI-X vector programmed by the kernel instead. */
	UEXPECT_ERR(t, hl_pci_device_msi(d, 0, 0, ut_slot()), HL_OK);
}
