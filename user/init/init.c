/*
 * The root task. It holds every initial capability and starts the
 * programs that etc/boot.conf (in the boot module) lists, each in its own
 * address space and capability space with its own memory:
 *
 *     # comment
 *     program NAME [priority P] [cpu C] [memory KIB]
 *
 * (lib/bootconf.c parses it). NAME is a file in the boot module (an ELF64
 * executable built against user/rt). The program gets a capability space of 2^PROG_CSPACE_BITS
 * slots holding its thread, spaces, the debug console and one memory
 * capability, and a boot-info page describing them (docs/abi.md).
 */
#include <hallows/rt.h>
#include <lib/bootconf.h>
#include <lib/cpio.h>
#include <lib/elf.h>
#include <lib/string.h>

#define PROG_CSPACE_BITS 8
#define PROG_STACK_PAGES 8
#define PROG_MEM_SLOT	 HL_SLOT_FIRST_FREE_FIXED
#define SCRATCH_VA	 0x180000000ull

/* A fresh frame with its contents written through a temporary mapping in our own space. */
static hl_cptr_t filled_frame(const void *src, size_t len)
{
	hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);

	if (!f || rt_map_frame(HL_SLOT_ASPACE, f, SCRATCH_VA, HL_R_READ | HL_R_WRITE))
		return 0;
	memset((void *)SCRATCH_VA, 0, 4096);
	if (len)
		memcpy((void *)SCRATCH_VA, src, len);
	hl_aspace_unmap(HL_SLOT_ASPACE, f);
	return f;
}

static long load_elf(hl_cptr_t as, const uint8_t *file, const struct elf_image *img)
{
	for (uint32_t i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];
		uint32_t rights = HL_R_READ | (s->flags & ELF_PF_W ? HL_R_WRITE : 0) | (s->flags & ELF_PF_X ? HL_R_EXEC : 0);
		for (uint64_t va = s->vaddr & ~4095ull; va < s->vaddr + s->memsz; va += 4096) {
			uint64_t lo = va > s->vaddr ? va : s->vaddr;
			uint64_t hi = va + 4096 < s->vaddr + s->filesz ? va + 4096 : s->vaddr + s->filesz;
			uint8_t page[4096];
			memset(page, 0, sizeof(page));
			if (hi > lo)
				memcpy(page + (lo - va), file + s->offset + (lo - s->vaddr), hi - lo);
			hl_cptr_t f = filled_frame(page, sizeof(page));
			long err = f ? rt_map_frame(as, f, va, rights) : HL_ERR_NO_MEMORY;
			if (err)
				return err;
		}
	}
	return HL_OK;
}

/* Give the child a copy of one of our capabilities at slot dst. */
static long give(hl_cptr_t cs, hl_cptr_t dst, hl_cptr_t src)
{
	return hl_cspace_copy(cs, dst, src, HL_R_ALL);
}

static long start(const struct bootconf_prog *p, const struct rt *rt)
{
	struct cpio_entry e;
	struct elf_image img;
	const uint8_t *initrd = (const uint8_t *)rt->bi->initrd_vaddr;

	if (cpio_find(initrd, rt->bi->initrd_size, p->name, &e) != CPIO_OK)
		return rt_printf("init: %s: not in the boot module\n", p->name), -1;
	int err = elf_parse(e.data, e.size, HL_USER_MAP_TOP, &img);
	if (err)
		return rt_printf("init: %s: %s\n", p->name, elf_strerror(err)), -1;

	hl_cptr_t cs = rt_alloc(HL_OBJ_CSPACE, PROG_CSPACE_BITS), as = rt_alloc(HL_OBJ_ASPACE, 0);
	hl_cptr_t tcb = rt_alloc(HL_OBJ_THREAD, 0), ipc = rt_alloc(HL_OBJ_FRAME, 12);
	uint32_t mem_bits = 12;
	while ((1ull << mem_bits) < (uint64_t)p->mem_kib * 1024)
		mem_bits++;
	hl_cptr_t mem = rt_alloc(HL_OBJ_MEMORY, mem_bits);
	if (!cs || !as || !tcb || !ipc || !mem)
		return rt_printf("init: %s: out of memory\n", p->name), -1;
	if (load_elf(as, e.data, &img))
		return rt_printf("init: %s: cannot map its segments\n", p->name), -1;
	for (int i = 1; i <= PROG_STACK_PAGES; i++)
		if (rt_map_frame(as, filled_frame(NULL, 0), HL_ROOT_STACK_TOP - i * 4096ull, HL_R_READ | HL_R_WRITE))
			return -1;

	/* Its boot info: one memory capability, the rest of the cspace free. */
	struct hl_bootinfo bi = { .magic = HL_BOOTINFO_MAGIC, .ncpus = rt->bi->ncpus, .cspace_bits = PROG_CSPACE_BITS,
				  .first_free_slot = PROG_MEM_SLOT + 1, .nmem = 1, .tsc_hz = rt->bi->tsc_hz };
	hl_word_t paddr;
	hl_memory_info(mem, &paddr, NULL, NULL, NULL);
	bi.mem[0] = (struct hl_bootinfo_mem){ paddr, (uint8_t)mem_bits, 0, 0, PROG_MEM_SLOT };
	hl_cptr_t info = filled_frame(&bi, sizeof(bi));
	if (!info || rt_map_frame(as, info, HL_BOOTINFO_VADDR, HL_R_READ) ||
	    rt_map_frame(as, ipc, HL_ROOT_IPCBUF, HL_R_READ | HL_R_WRITE))
		return -1;

	if (give(cs, HL_SLOT_THREAD, tcb) || give(cs, HL_SLOT_CSPACE, cs) || give(cs, HL_SLOT_ASPACE, as) ||
	    give(cs, HL_SLOT_DEBUG, HL_SLOT_DEBUG) || hl_cspace_move(cs, PROG_MEM_SLOT, mem))
		return rt_printf("init: %s: cannot fill its capability space\n", p->name), -1;
	long r;
	if ((r = hl_thread_configure(tcb, cs, as, ipc, HL_ROOT_IPCBUF)) ||
	    (r = hl_thread_write_regs(tcb, img.entry, HL_ROOT_STACK_TOP - 8, HL_BOOTINFO_VADDR, 0)) ||
	    (r = hl_thread_set_priority(tcb, p->priority)) || (r = hl_thread_set_affinity(tcb, p->cpu)) ||
	    (r = hl_thread_resume(tcb)))
		return rt_printf("init: %s: cannot start its thread (error %ld)\n", p->name, r), -1;
	rt_printf("init: started %s (priority %u, cpu %u, %u KiB)\n", p->name, p->priority, p->cpu, p->mem_kib);
	return 0;
}

int main(struct rt *rt)
{
	const struct hl_bootinfo *bi = rt->bi;
	struct cpio_entry conf;
	uint64_t ram = 0;

	for (uint32_t i = 0; i < bi->nmem; i++)
		if (!bi->mem[i].is_device)
			ram += 1ull << bi->mem[i].size_bits;
	rt_printf("init: root task running in ring 3: %u cpus, %u memory capabilities (%lu MiB), boot module %lu bytes\n",
		  bi->ncpus, bi->nmem, ram >> 20, bi->initrd_size);
	if (cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size, "etc/boot.conf", &conf) != CPIO_OK) {
		rt_printf("init: no etc/boot.conf; nothing to start\n");
		return 0;
	}
	const char *s = (const char *)conf.data, *end = s + conf.size;
	for (int line = 1; s < end; line++) {
		const char *nl = s;
		while (nl < end && *nl != '\n')
			nl++;
		struct bootconf_prog p;
		int r = bootconf_parse_line(s, nl, &p);
		if (r < 0)
			rt_printf("init: etc/boot.conf:%d: not understood; skipped\n", line);
		else if (r > 0 && p.cpu >= bi->ncpus)
			rt_printf("init: etc/boot.conf:%d: cpu %u does not exist; skipped\n", line, p.cpu);
		else if (r > 0)
			start(&p, rt);
		s = nl + (nl < end); /* not past end after a last line without '\n' */
	}
	return 0;
}
