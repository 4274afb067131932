/*
 * The root task: the kernel's last act of boot. It loads "init" from the
 * boot module, builds its address space, capability space and thread from
 * frames the kernel keeps, then hands over every other free frame as
 * memory capabilities (minus a small reserve for the kernel's own stacks
 * and tables). From here on all memory is allocated by ring 3.
 */
#include <arch/console.h>
#include <arch/iommu.h>
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/bootinfo.h>
#include <kernel/klog.h>
#include <kernel/initrd.h>
#include <kernel/layout.h>
#include <kernel/object.h>
#include <kernel/panic.h>
#include <kernel/pci.h>
#include <kernel/percpu.h>
#include <kernel/pmm.h>
#include <kernel/root.h>
#include <kernel/time.h>
#include <lib/cpio.h>
#include <lib/elf.h>
#include <lib/string.h>

#define ROOT_CSPACE_BITS     12
#define ROOT_STACK_PAGES     16
#define KERNEL_RESERVE_PAGES 2048 /* 8 MiB kept by the kernel */

static struct cspace *root_cs;
static struct aspace *root_as;
static struct hl_bootinfo *bootinfo;

static paddr_t zalloc(void)
{
	paddr_t pa = pmm_alloc();

	if (!pa)
		panic("root: out of memory building the root task");
	memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

static void *zalloc_obj(uint32_t bits)
{
	size_t pages = ((1ull << bits) + PAGE_SIZE - 1) / PAGE_SIZE;
	paddr_t pa = pmm_alloc_pages(pages, pages);

	if (!pa)
		panic("root: out of memory for a %u-bit object", bits);
	memset(phys_to_virt(pa), 0, pages * PAGE_SIZE);
	return phys_to_virt(pa);
}

static void map_page(uint64_t va, paddr_t pa, uint64_t flags)
{
	if (aspace_map_boot(root_as, va, pa, flags, zalloc))
		panic("root: cannot map %#lx", va);
}

static void put_cap(uint32_t slot, struct cap c)
{
	c.flags |= CAP_F_ORIGINAL;
	cap_insert(&root_cs->slots[slot], &c, NULL);
}

static void load_segments(const uint8_t *file, const struct elf_image *img)
{
	for (uint32_t i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];
		uint64_t flags =
		    (s->flags & ELF_PF_W ? PTE_W : 0) | (s->flags & ELF_PF_X ? 0 : PTE_NX);
		for (uint64_t va = ALIGN_DOWN(s->vaddr, PAGE_SIZE); va < s->vaddr + s->memsz;
		     va += PAGE_SIZE) {
			paddr_t pa = zalloc();
			uint8_t *page = phys_to_virt(pa);
			/* Copy the part of [vaddr, vaddr+filesz) that falls in this page. */
			uint64_t lo = MAX(va, s->vaddr),
			         hi = MIN(va + PAGE_SIZE, s->vaddr + s->filesz);
			if (hi > lo)
				memcpy(page + (lo - va), file + s->offset + (lo - s->vaddr),
				       hi - lo);
			map_page(va, pa, flags);
		}
	}
}

/* A memory capability of 2^bits bytes at pa (RAM, or device memory) in slot, in the boot info. */
static void give_memory(uint32_t slot, uint64_t pa, uint32_t bits, bool device)
{
	put_cap(slot, (struct cap){.type = HL_OBJ_MEMORY,
	                           .rights = HL_R_ALL,
	                           .flags = device ? CAP_F_DEVICE : 0,
	                           .size_bits = (uint8_t)bits,
	                           .obj = pa});
	bootinfo->mem[bootinfo->nmem++] =
	    (struct hl_bootinfo_mem){pa, (uint8_t)bits, device, 0, slot};
}

/* Give ring 3 the free memory as power-of-two memory capabilities. */
static uint32_t hand_over_memory(uint32_t slot)
{
	for (uint32_t bits = 30; bits >= 12 && bootinfo->nmem < HL_BOOTINFO_MAX_MEM; bits--) {
		uint64_t pages = 1ull << (bits - 12);
		while (pmm_free_count() >= pages + KERNEL_RESERVE_PAGES &&
		       bootinfo->nmem < HL_BOOTINFO_MAX_MEM && slot < (1u << ROOT_CSPACE_BITS)) {
			paddr_t pa = pmm_alloc_pages(pages, pages);
			if (!pa)
				break;
			give_memory(slot++, pa, bits, false);
		}
	}
	return slot;
}

/*
 * The screen (VGA text under BIOS, the firmware framebuffer under UEFI) as
 * device memory, for a screen console in ring 3 (the Linux personality's
 * second tty): aligned power-of-two blocks covering its pages, described
 * in bootinfo->screen. A framebuffer inside a PCI memory BAR (its video
 * memory) is widened to 2 MiB boundaries within the BAR, so that ring 3
 * maps it with a few large pages instead of a capability per 4 KiB. The
 * kernel stops drawing there once any of it is mapped (fbcon_claimed).
 */
static uint32_t hand_over_screen(uint32_t slot)
{
	struct boot_fb f;
	uint64_t len = fbcon_screen(&f), big = 2ull << 20;
	uint64_t pa = f.phys & ~0xfffull, end = (f.phys + len + 0xfff) & ~0xfffull;
	uint32_t first = bootinfo->nmem;

	if (!len)
		return slot;
	for (uint32_t i = 0; f.kind == FB_RGB && i < pci_count(); i++)
		for (int b = 0; b < 6; b++) {
			const struct pci_bar *bar = &pci_get(i)->bar[b];
			if (bar->io || !bar->size || pa < bar->base || end > bar->base + bar->size)
				continue;
			pa = MAX(ALIGN_DOWN(pa, big), bar->base);
			end = MIN(ALIGN_UP(end, big), bar->base + bar->size);
		}
	while (pa < end) {
		uint32_t bits = 12;
		while (bits < 30 && !(pa & ((1ull << (bits + 1)) - 1)) &&
		       pa + (1ull << (bits + 1)) <= end)
			bits++;
		if (bootinfo->nmem >= HL_BOOTINFO_MAX_MEM || slot >= (1u << ROOT_CSPACE_BITS)) {
			pr_warn("root: no room to hand the screen over");
			bootinfo->nmem = first; /* the caps placed stay, unnamed: harmless */
			return slot;
		}
		give_memory(slot++, pa, bits, true);
		pa += 1ull << bits;
	}
	bootinfo->screen = (struct hl_bootinfo_screen){
	    .paddr = f.phys,
	    .kind = f.kind == FB_EGA_TEXT ? HL_SCREEN_TEXT : HL_SCREEN_RGB,
	    .width = f.width,
	    .height = f.height,
	    .pitch = f.pitch,
	    .bpp = f.bpp,
	    .red_pos = f.red_pos,
	    .red_size = f.red_size,
	    .green_pos = f.green_pos,
	    .green_size = f.green_size,
	    .blue_pos = f.blue_pos,
	    .blue_size = f.blue_size};
	return slot;
}

/*
 * The PCI functions, in the order pci_control.issue numbers them. Device
 * memory is no longer handed over raw: it comes through the device
 * capabilities the root task issues (pci_device.map_bar).
 */
static void describe_pci(void)
{
	for (uint32_t i = 0; i < pci_count() && i < HL_BOOTINFO_MAX_PCI; i++) {
		const struct pci_dev *d = pci_get(i);
		bootinfo->pci[i] =
		    (struct hl_bootinfo_pci){d->vendor,
		                             d->device,
		                             d->class,
		                             d->subclass,
		                             d->progif,
		                             d->revision,
		                             (uint16_t)(d->bus << 8 | d->dev << 3 | d->fn),
		                             0};
		bootinfo->npci = i + 1;
	}
	/* Bug fixed: the warning hung off the interrupt-remapping test, so VT-d without
	 * remapping said no IOMMU was in use (test-user: utest-smp1, utest-iommu). */
	if (iommu_enabled())
		bootinfo->flags |= HL_BOOTINFO_F_IOMMU;
	else if (pci_count())
		pr_warn("pci: no IOMMU in use: the DMA of a device handed to a partition can reach "
		        "all memory");
	if (iommu_ir_enabled())
		bootinfo->flags |= HL_BOOTINFO_F_INTREMAP;
}

static void map_stack_ipc_info(struct thread *t)
{
	for (int i = 1; i <= ROOT_STACK_PAGES; i++)
		map_page(HL_ROOT_STACK_TOP - i * PAGE_SIZE, zalloc(), PTE_W | PTE_NX);
	paddr_t ipc = zalloc(), info = zalloc();
	map_page(HL_ROOT_IPCBUF, ipc, PTE_W | PTE_NX);
	map_page(HL_BOOTINFO_VADDR, info, PTE_NX);
	for (uint64_t off = 0; off < initrd_size; off += PAGE_SIZE)
		map_page(HL_INITRD_VADDR + off, virt_to_phys(initrd_data) + off, PTE_NX);
	bootinfo = phys_to_virt(info);
	cap_insert(&t->ipc_slot,
	           &(struct cap){.type = HL_OBJ_FRAME,
	                         .rights = HL_R_READ | HL_R_WRITE,
	                         .size_bits = 12,
	                         .obj = ipc},
	           NULL);
	t->ipcbuf = phys_to_virt(ipc);
	t->ipcbuf->tls = HL_ROOT_IPCBUF;
	t->regs.fs_base = HL_ROOT_IPCBUF;
	put_cap(
	    HL_SLOT_BOOTINFO_FRAME,
	    (struct cap){.type = HL_OBJ_FRAME, .rights = HL_R_READ, .size_bits = 12, .obj = info});
}

/* Build and start the root task; false (with a warning) if there is no usable init. */
bool root_task_start(void)
{
	struct cpio_entry e;
	struct elf_image img;

	if (!initrd_data || cpio_find(initrd_data, initrd_size, "init", &e) != CPIO_OK) {
		pr_warn("root: no \"init\" in the boot module; no user programs");
		return false;
	}
	int err = elf_parse(e.data, e.size, USER_MAP_TOP, &img);
	if (err) {
		pr_warn("root: init is not loadable: %s", elf_strerror(err));
		return false;
	}
	root_cs = zalloc_obj(object_bits(HL_OBJ_CSPACE, ROOT_CSPACE_BITS));
	root_cs->bits = ROOT_CSPACE_BITS;
	root_as = zalloc_obj(ASPACE_OBJ_BITS);
	aspace_init(root_as);
	root_as->no_snapshot = 1;
	struct thread *t = zalloc_obj(THREAD_OBJ_BITS);
	thread_init_object(t);
	load_segments(e.data, &img);
	map_stack_ipc_info(t);

	put_cap(HL_SLOT_THREAD,
	        (struct cap){.type = HL_OBJ_THREAD, .rights = HL_R_ALL, .obj = (uint64_t)t});
	put_cap(HL_SLOT_CSPACE, (struct cap){.type = HL_OBJ_CSPACE,
	                                     .rights = HL_R_ALL,
	                                     .size_bits = ROOT_CSPACE_BITS,
	                                     .obj = (uint64_t)root_cs});
	put_cap(HL_SLOT_ASPACE,
	        (struct cap){.type = HL_OBJ_ASPACE, .rights = HL_R_ALL, .obj = (uint64_t)root_as});
	put_cap(HL_SLOT_IRQ_CONTROL, (struct cap){.type = HL_OBJ_IRQ_CONTROL, .rights = HL_R_ALL});
	put_cap(HL_SLOT_IOPORT_CONTROL,
	        (struct cap){.type = HL_OBJ_IOPORT_CONTROL, .rights = HL_R_ALL});
	put_cap(HL_SLOT_DEBUG, (struct cap){.type = HL_OBJ_DEBUG, .rights = HL_R_ALL});
	put_cap(HL_SLOT_PCI_CONTROL, (struct cap){.type = HL_OBJ_PCI_CONTROL, .rights = HL_R_ALL});
	put_cap(HL_SLOT_SCHED_CONTROL,
	        (struct cap){.type = HL_OBJ_SCHED_CONTROL, .rights = HL_R_ALL});
	cap_insert(&t->cspace_slot, &root_cs->slots[HL_SLOT_CSPACE].cap,
	           &root_cs->slots[HL_SLOT_CSPACE]);
	cap_insert(&t->aspace_slot, &root_cs->slots[HL_SLOT_ASPACE].cap,
	           &root_cs->slots[HL_SLOT_ASPACE]);
	t->cspace_slot.cap.flags &= ~CAP_F_ORIGINAL;
	t->aspace_slot.cap.flags &= ~CAP_F_ORIGINAL;

	uint32_t slot = hand_over_memory(HL_SLOT_FIRST_FREE_FIXED);
	slot = hand_over_screen(slot);
	describe_pci();
	bootinfo->magic = HL_BOOTINFO_MAGIC;
	bootinfo->ncpus = ncpus_online;
	bootinfo->cspace_bits = ROOT_CSPACE_BITS;
	bootinfo->first_free_slot = slot;
	bootinfo->initrd_vaddr = HL_INITRD_VADDR;
	bootinfo->initrd_size = initrd_size;
	bootinfo->tsc_hz = tsc_hz;

	t->regs.rip = img.entry;
	t->regs.rsp = HL_ROOT_STACK_TOP - 8;
	t->regs.rdi = HL_BOOTINFO_VADDR;
	t->priority = 200;
	t->cpu = 0;
	sched_make_runnable(t);
	pr_info("root: init started (%u segments, entry %#lx), %u memory capabilities, %lu MiB "
	        "kept by the kernel",
	        img.nsegs, img.entry, bootinfo->nmem, pmm_free_count() * PAGE_SIZE >> 20);
	return true;
}
