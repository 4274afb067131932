/*
 * Building partitions from the manifest (init.h). Each program of a
 * partition gets its own capability space of 2^PROG_CSPACE_BITS slots and
 * address space, one thread, an equal power-of-two share of the
 * partition's memory, its boot info page and its partition info page
 * (docs/abi.md):
 *
 *   child cspace slot   holds
 *   1 2 3               its thread, cspace, aspace (HL_SLOT_THREAD...)
 *   4, 5                IRQ 4's handler and COM1's I/O ports, with `console` in the manifest
 *   6                   the debug console
 *   7                   the root task's control endpoint, with `control` in the manifest
 *   8                   the partition's snapshot object, with `snapshot SIZE` in the manifest
 *   10                  its memory capability (PROG_MEM_SLOT)
 *   11 + 2e, 12 + 2e    channel end e: own notification (wait), peer's (signal)
 *   11 + 2c + d         device d (c channel ends): a copy of its pci_device capability
 *
 * Everything made for a partition comes from consecutive root slots
 * [first_slot, end_slot), so a partition that cannot be finished is taken
 * apart by revoking and deleting those slots, newest first. The memory of
 * all of it (kernel objects, pages, memory shares) is carved from the
 * partition's own region, a memory capability the root task keeps: a
 * partition stopped after a crash gives back every byte when the region is
 * revoked, and is rebuilt in the same memory.
 */
#include "init.h"

#include <lib/cpio.h>
#include <lib/elf.h>
#include <lib/string.h>

/* 4096 slots: a ring-3 driver takes slots for its DMA pages (webd, brokerd need
 * a few thousand); the kernel allows at most 12 bits. */
#define PROG_CSPACE_BITS 12
#define PROG_STACK_PAGES 8
#define PROG_MEM_SLOT    HL_SLOT_FIRST_FREE_FIXED
#define PROG_CHAN_SLOT   (PROG_MEM_SLOT + 1)
#define SCRATCH_VA       0x180000000ull

bool init_scratch_ready(void)
{
	return rt_ensure_tables(HL_SLOT_ASPACE, SCRATCH_VA) == HL_OK;
}

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
	static uint8_t page[4096];

	for (uint32_t i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];
		uint32_t rights = HL_R_READ | (s->flags & ELF_PF_W ? HL_R_WRITE : 0) |
		                  (s->flags & ELF_PF_X ? HL_R_EXEC : 0);
		for (uint64_t va = s->vaddr & ~4095ull; va < s->vaddr + s->memsz; va += 4096) {
			uint64_t lo = va > s->vaddr ? va : s->vaddr;
			uint64_t hi =
			    va + 4096 < s->vaddr + s->filesz ? va + 4096 : s->vaddr + s->filesz;
			memset(page, 0, sizeof(page));
			if (hi > lo)
				memcpy(page + (lo - va), file + s->offset + (lo - s->vaddr),
				       hi - lo);
			hl_cptr_t f = filled_frame(page, sizeof(page));
			long err = f ? rt_map_frame(as, f, va, rights) : HL_ERR_NO_MEMORY;
			if (err)
				return err;
		}
	}
	return HL_OK;
}

/* The program's file in the boot module, parsed; false (reported) when it is missing or not an
 * executable. */
static bool find_program(struct init *in, struct manifest_partition *p, const char *path,
                         struct cpio_entry *e, struct elf_image *img)
{
	const struct hl_bootinfo *bi = in->rt->bi;

	if (cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size, path, e) != CPIO_OK) {
		init_refuse(in, p, "program %s is not in the boot module", path);
		return false;
	}
	int err = elf_parse(e->data, e->size, HL_USER_MAP_TOP, img);
	if (err) {
		init_refuse(in, p, "program %s: %s", path, elf_strerror(err));
		return false;
	}
	return true;
}

bool init_check_programs(struct init *in, uint32_t i)
{
	struct manifest_partition *p = in->pt[i].mp;
	struct cpio_entry e;
	struct elf_image img;

	for (const struct manifest_program *g = p->programs; g; g = g->next)
		if (!find_program(in, p, g->argv[0], &e, &img))
			return false;
	return true;
}

void init_make_channels(struct init *in)
{
	for (uint32_t i = 0; i < in->m.nchannels; i++) {
		struct init_channel *ic = &in->ch[i];
		const struct manifest_channel *c = ic->mc;
		if (!c->is_valid)
			continue;
		ic->nframes = manifest_ring_bytes(c) / 4096;
		for (uint32_t f = 0; f < ic->nframes; f++) {
			hl_cptr_t s =
			    rt_alloc(HL_OBJ_FRAME, 12); /* zeroed by the kernel: head = tail = 0 */
			if (!f)
				ic->first_frame = s;
			if (!s || s != ic->first_frame + f) {
				init_refuse(in, c->from, "its channel %s: no memory for the ring",
				            c->name);
				break;
			}
		}
		ic->ntfn_from = rt_alloc(HL_OBJ_NOTIFICATION, 0);
		ic->ntfn_to = rt_alloc(HL_OBJ_NOTIFICATION, 0);
		if (c->is_valid && (!ic->ntfn_from || !ic->ntfn_to))
			init_refuse(in, c->from, "its channel %s: no memory for the notifications",
			            c->name);
	}
}

/* The channel ends of partition p: filled into pi->ch, their channels into ends[]. */
static bool channel_ends(struct init *in, struct manifest_partition *p, struct hl_partinfo *pi,
                         struct init_channel **ends)
{
	pi->nchannels = 0;
	for (uint32_t i = 0; i < in->m.nchannels; i++) {
		const struct manifest_channel *c = in->ch[i].mc;
		if (!c->is_valid || (c->from != p && c->to != p))
			continue;
		if (pi->nchannels == HL_PARTINFO_MAX_CHANNELS) {
			init_refuse(in, p, "more than %u channel ends", HL_PARTINFO_MAX_CHANNELS);
			return false;
		}
		struct hl_channel_end *e = &pi->ch[pi->nchannels];
		strlcpy(e->name, c->name, sizeof(e->name));
		e->is_producer = c->from == p;
		e->entries = c->entries, e->entry_size = c->entry_size,
		e->ring_bytes = manifest_ring_bytes(c);
		e->ring_vaddr = HL_CHANNEL_VADDR + pi->nchannels * HL_CHANNEL_STRIDE;
		e->own_ntfn = PROG_CHAN_SLOT + 2 * pi->nchannels, e->peer_ntfn = e->own_ntfn + 1;
		ends[pi->nchannels++] = &in->ch[i];
	}
	return true;
}

/* argv, then "key=value" per config entry, each NUL-terminated; false when they do not fit. */
static bool put_strings(const struct manifest_partition *p, const struct manifest_program *g,
                        struct hl_partinfo *pi)
{
	uint32_t off = 0, cap = sizeof(pi->strings);

	pi->argc = g->argc, pi->nconfig = p->nconfig;
	for (uint32_t a = 0; a < g->argc; a++) {
		size_t n = strlen(g->argv[a]) + 1;
		if (n > cap - off)
			return false;
		memcpy(pi->strings + off, g->argv[a], n);
		off += (uint32_t)n;
	}
	for (const struct manifest_config *c = p->config; c; c = c->next) {
		size_t k = strlen(c->key), v = strlen(c->value);
		if (k + v + 2 > cap - off)
			return false;
		memcpy(pi->strings + off, c->key, k);
		pi->strings[off + k] = '=';
		memcpy(pi->strings + off + k + 1, c->value, v + 1);
		off += (uint32_t)(k + v + 2);
	}
	pi->strings_bytes = off;
	return true;
}

/* Map every channel end's ring into as (through copies of the ring frames) and give it the
 * notifications. */
static bool give_channels(hl_cptr_t cs, hl_cptr_t as, const struct hl_partinfo *pi,
                          struct init_channel **ends)
{
	for (uint32_t e = 0; e < pi->nchannels; e++) {
		const struct init_channel *ic = ends[e];
		for (uint32_t f = 0; f < ic->nframes; f++) {
			hl_cptr_t copy = rt_slot();
			if (!copy ||
			    hl_cspace_copy(HL_SLOT_CSPACE, copy, ic->first_frame + f,
			                   HL_R_READ | HL_R_WRITE) ||
			    rt_map_frame(as, copy, pi->ch[e].ring_vaddr + f * 4096ull,
			                 HL_R_READ | HL_R_WRITE))
				return false;
		}
		hl_cptr_t own = pi->ch[e].is_producer ? ic->ntfn_from : ic->ntfn_to;
		hl_cptr_t peer = pi->ch[e].is_producer ? ic->ntfn_to : ic->ntfn_from;
		if (hl_cspace_copy(cs, pi->ch[e].own_ntfn, own, HL_R_READ) ||
		    hl_cspace_copy(cs, pi->ch[e].peer_ntfn, peer, HL_R_WRITE))
			return false;
	}
	return true;
}

static const struct init_partition *part_of(const struct init *in,
                                            const struct manifest_partition *p)
{
	uint32_t i = 0;

	while (in->pt[i].mp != p)
		i++;
	return &in->pt[i];
}

/* Copies of the partition's device capabilities, at the slots the info page names. */
static bool give_devices(const struct init_partition *ip, hl_cptr_t cs,
                         const struct hl_partinfo *pi)
{
	for (uint32_t d = 0; d < pi->ndevices; d++)
		if (hl_cspace_copy(cs, pi->dev[d].slot, ip->dev_slot[d], HL_R_ALL))
			return false;
	return true;
}

/* Issue the partition's PCI functions into root slots and describe them in pi (after its channel
 * ends). */
static bool issue_devices(struct init *in, struct init_partition *ip, struct hl_partinfo *pi)
{
	const struct hl_bootinfo *bi = in->rt->bi;

	pi->ndevices = ip->ndev;
	for (uint32_t d = 0; d < ip->ndev; d++) {
		const struct hl_bootinfo_pci *f = &bi->pci[ip->dev_index[d]];
		hl_cptr_t s = rt_slot();
		long err = s ? hl_pci_control_issue(HL_SLOT_PCI_CONTROL, ip->dev_index[d], s)
		             : HL_ERR_NO_MEMORY;
		if (err) {
			init_refuse(in, ip->mp, "device %02x:%02x.%x: not issued (error %ld)",
			            f->bdf >> 8, (f->bdf >> 3) & 31, f->bdf & 7, err);
			return false;
		}
		ip->dev_slot[d] = s;
		pi->dev[d] = (struct hl_device_end){
		    .slot = PROG_CHAN_SLOT + 2 * pi->nchannels + d,
		    .vendor = f->vendor,
		    .device = f->device,
		    .class_code = f->class,
		    .subclass = f->subclass,
		    .prog_if = f->progif,
		    .revision = f->revision,
		    .bdf = f->bdf,
		    .manifest_line = ip->dev_line[d],
		};
	}
	return true;
}

/*
 * The manifest's snapshot declarations for program as (docs/manifest.md, "Snapshots"):
 * `snapshot refuse` forbids snapshots of its address space; `snapshot SIZE` makes the partition's
 * snapshot object with the first program (in its region: charged to it), excludes the declared
 * rings and ranges, covers each program's address space and gives each a copy. HL_OK or HL_ERR_*.
 */
static long apply_snapshot(struct init_partition *ip, hl_cptr_t cs, hl_cptr_t as,
                           const struct hl_partinfo *pi, uint32_t j)
{
	const struct manifest_partition *p = ip->mp;
	long err;

	if (p->snap_refuse)
		return hl_aspace_refuse_snapshots(as);
	if (!p->snap_kib)
		return HL_OK;
	if (j == 0) {
		uint32_t bits = 10;
		while ((1ull << bits) < p->snap_kib * 1024)
			bits++;
		if (!(ip->snap = rt_alloc(HL_OBJ_SNAPSHOT, bits)))
			return HL_ERR_NO_MEMORY;
		for (const struct manifest_snap_exclude *x = p->snap_excludes; x; x = x->next) {
			uint64_t va = x->vaddr, size = x->size;
			for (uint32_t e = 0; x->channel && e < pi->nchannels; e++)
				if (!strcmp(pi->ch[e].name, x->channel->name))
					va = pi->ch[e].ring_vaddr,
					size = ((uint64_t)pi->ch[e].ring_bytes + 4095) & ~4095ull;
			if ((err = hl_snapshot_exclude(ip->snap, va, size)))
				return err;
		}
		rt_printf("init: partition %s: snapshot of %llu KiB, %u exclusions (line %u)\n",
		          p->name, (unsigned long long)p->snap_kib, p->nsnap_excludes,
		          p->snap_line);
	}
	if ((err = hl_snapshot_add(ip->snap, as)))
		return err;
	return hl_cspace_copy(cs, HL_PARTITION_SLOT_SNAPSHOT, ip->snap, HL_R_ALL);
}

/* `console`: COM1's I/O ports and IRQ 4's handler into root slots (one partition can have them). */
static bool issue_console(struct init *in, struct init_partition *ip)
{
	hl_cptr_t port = rt_slot(), irq = rt_slot();
	long err = !port || !irq ? HL_ERR_NO_MEMORY
	                         : hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0x3f8, 8, port);

	if (!err)
		err = hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 4, irq);
	if (err) {
		init_refuse(in, ip->mp, "console: COM1's ports and IRQ 4 not issued (error %ld)",
		            err);
		return false;
	}
	ip->console_port = port, ip->console_irq = irq;
	return true;
}

/*
 * `screen`: the PS/2 keyboard (ports 0x60 and 0x64, IRQ 1), the CRT controller's cursor
 * ports (0x3d4-0x3d5) and the screen the kernel drew its log on (the boot info's `screen`):
 * frames made from the device-memory blocks the kernel handed over for it (2 MiB ones in
 * blocks that large). They are made in the partition's root slots, so taking it apart
 * deletes them and the blocks can be retyped again for a restart. The kernel stops drawing
 * once the partition maps one.
 */
static bool issue_screen(struct init *in, struct init_partition *ip)
{
	const struct hl_bootinfo *bi = in->rt->bi;
	const struct hl_bootinfo_screen *g = &bi->screen;
	static const uint16_t base[4] = {0x60, 0x64, 0, 0x3d4}, count[4] = {1, 1, 0, 2};
	uint64_t len = (uint64_t)g->pitch * g->height;
	struct hl_screen_end *se = &ip->screen;
	long err = HL_OK;

	memset(se, 0, sizeof(*se));
	for (int k = 0; k < 4 && !err; k++) {
		hl_cptr_t s = ip->screen_port[k] = rt_slot();
		err = !s ? HL_ERR_NO_MEMORY
		      : k == 2
		          ? hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 1, s)
		          : hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, base[k], count[k], s);
	}
	for (uint32_t i = 0; !err && g->kind && i < bi->nmem; i++) { /* in address order */
		const struct hl_bootinfo_mem *m = &bi->mem[i];
		if (!m->is_device || m->paddr + (1ull << m->size_bits) <= g->paddr ||
		    m->paddr >= g->paddr + len)
			continue; /* not the screen's */
		uint32_t bits = m->size_bits >= 21 ? 21 : 12;
		if (!se->nframes)
			se->paddr = m->paddr;
		for (uint64_t off = 0; !err && off < 1ull << m->size_bits; off += 1ull << bits) {
			hl_cptr_t s = rt_slot();
			if (se->nframes == HL_PARTINFO_MAX_SCREEN_FRAMES || !s)
				err = HL_ERR_NO_MEMORY;
			else
				err = hl_memory_retype(m->slot, HL_OBJ_FRAME, bits, 1, s);
			if (!err && !se->nframes)
				se->first_frame = (uint32_t)s;
			else if (!err && s != se->first_frame + se->nframes)
				err = HL_ERR_INVALID_ARG; /* root slots not consecutive */
			if (!err)
				se->frame_bits[se->nframes++] = (uint8_t)bits;
		}
	}
	if (err)
		init_refuse(in, ip->mp,
		            "screen: the keyboard, IRQ 1 and the screen not issued (error %ld)",
		            err);
	return !err;
}

/* Into program j's cspace: the keyboard's and the screen's capabilities (the first program
 * only), described in pi and bi. */
static bool give_screen(struct init *in, const struct init_partition *ip, hl_cptr_t cs,
                        struct hl_bootinfo *bi, struct hl_partinfo *pi)
{
	struct hl_screen_end *se = &pi->screen;
	uint32_t *port[4] = {&se->kbd_data, &se->kbd_status, &se->kbd_irq, &se->crtc};

	*se = ip->screen;
	for (int k = 0; k < 4; k++) {
		*port[k] = bi->first_free_slot++;
		if (hl_cspace_copy(cs, *port[k], ip->screen_port[k], HL_R_ALL))
			return false;
	}
	se->first_frame = bi->first_free_slot;
	for (uint32_t i = 0; i < se->nframes; i++)
		if (hl_cspace_copy(cs, bi->first_free_slot++, ip->screen.first_frame + i, HL_R_ALL))
			return false;
	bi->screen = in->rt->bi->screen;
	return true;
}

/* The CPU of program j: the j-th set bit of the mask, wrapping around. */
uint32_t init_program_cpu(uint64_t mask, uint32_t j)
{
	uint32_t n = 0;

	for (uint64_t m = mask; m; m &= m - 1)
		n++;
	if (!n)
		return 0; /* no CPU in the mask (the parser refuses one): CPU 0 */
	for (j %= n;; mask &= mask - 1, j--)
		if (!j)
			return (uint32_t)__builtin_ctzll(mask);
}

/* One program of partition p: spaces, memory share, pages, capabilities, a configured thread (not
 * resumed). */
static bool build_program(struct init *in, struct manifest_partition *p,
                          const struct manifest_program *g, uint32_t j, uint32_t share_bits,
                          struct hl_partinfo *pi, struct init_channel **ends, hl_cptr_t *thread)
{
	struct cpio_entry e;
	struct elf_image img;

	if (!find_program(in, p, g->argv[0], &e, &img))
		return false;
	hl_cptr_t cs = rt_alloc(HL_OBJ_CSPACE, PROG_CSPACE_BITS), as = rt_alloc(HL_OBJ_ASPACE, 0);
	hl_cptr_t tcb = rt_alloc(HL_OBJ_THREAD, 0), ipc = rt_alloc(HL_OBJ_FRAME, 12);
	hl_cptr_t mem = rt_alloc(HL_OBJ_MEMORY, share_bits);
	if (!cs || !as || !tcb || !ipc || !mem)
		return init_refuse(in, p, "out of memory for program %s", g->argv[0]), false;
	if (load_elf(as, e.data, &img))
		return init_refuse(in, p, "cannot map the segments of program %s", g->argv[0]),
		       false;
	for (int i = 1; i <= PROG_STACK_PAGES; i++)
		if (rt_map_frame(as, filled_frame(NULL, 0), HL_ROOT_STACK_TOP - i * 4096ull,
		                 HL_R_READ | HL_R_WRITE))
			return init_refuse(in, p, "cannot map the stack of program %s", g->argv[0]),
			       false;

	const struct hl_bootinfo *rbi = in->rt->bi;
	struct hl_bootinfo bi = {.magic = HL_BOOTINFO_MAGIC,
	                         .ncpus = rbi->ncpus,
	                         .cspace_bits = PROG_CSPACE_BITS,
	                         .first_free_slot =
	                             PROG_CHAN_SLOT + 2 * pi->nchannels + pi->ndevices,
	                         .nmem = 1,
	                         .tsc_hz = rbi->tsc_hz};
	hl_word_t paddr = 0;
	hl_memory_info(mem, &paddr, NULL, NULL, NULL);
	bi.mem[0] = (struct hl_bootinfo_mem){paddr, (uint8_t)share_bits, 0, 0, PROG_MEM_SLOT};
	pi->program_index = j;
	if (!put_strings(p, g, pi))
		return init_refuse(in, p, "the arguments and config of program %s exceed %u bytes",
		                   g->argv[0], (unsigned)sizeof(pi->strings)),
		       false;
	memset(&pi->screen, 0, sizeof(pi->screen));
	if (p->screen && j == 0 && !give_screen(in, part_of(in, p), cs, &bi, pi))
		return init_refuse(in, p, "cannot give the screen to program %s", g->argv[0]),
		       false;
	hl_cptr_t info = filled_frame(&bi, sizeof(bi)), pinfo = filled_frame(pi, sizeof(*pi));
	if (!info || !pinfo || rt_map_frame(as, info, HL_BOOTINFO_VADDR, HL_R_READ) ||
	    rt_map_frame(as, pinfo, HL_PARTINFO_VADDR, HL_R_READ) ||
	    rt_map_frame(as, ipc, HL_ROOT_IPCBUF, HL_R_READ | HL_R_WRITE))
		return init_refuse(in, p, "cannot map the info pages of program %s", g->argv[0]),
		       false;
	if (hl_cspace_copy(cs, HL_SLOT_THREAD, tcb, HL_R_ALL) ||
	    hl_cspace_copy(cs, HL_SLOT_CSPACE, cs, HL_R_ALL) ||
	    hl_cspace_copy(cs, HL_SLOT_ASPACE, as, HL_R_ALL) ||
	    hl_cspace_copy(cs, HL_SLOT_DEBUG, HL_SLOT_DEBUG, HL_R_ALL) ||
	    hl_cspace_move(cs, PROG_MEM_SLOT, mem) || !give_channels(cs, as, pi, ends) ||
	    (p->control && hl_cspace_mint(cs, HL_PARTITION_SLOT_CONTROL, in->fault_ep, HL_R_WRITE,
	                                  INIT_CONTROL_BADGE(part_of(in, p) - in->pt))) ||
	    !give_devices(part_of(in, p), cs, pi) ||
	    (p->console && (hl_cspace_copy(cs, HL_PARTITION_SLOT_CONSOLE_IRQ,
	                                   part_of(in, p)->console_irq, HL_R_ALL) ||
	                    hl_cspace_copy(cs, HL_PARTITION_SLOT_CONSOLE_PORT,
	                                   part_of(in, p)->console_port, HL_R_ALL))))
		return init_refuse(in, p, "cannot fill the capability space of program %s",
		                   g->argv[0]),
		       false;

	long r = apply_snapshot(&in->pt[part_of(in, p) - in->pt], cs, as, pi, j);
	if (r)
		return init_refuse(in, p,
		                   "cannot apply the snapshot declarations to program %s "
		                   "(error %ld)",
		                   g->argv[0], r),
		       false;
	uint32_t cpu = init_program_cpu(p->cpus, j);
	const struct init_partition *ip = part_of(in, p);
	hl_cptr_t fault = rt_slot();
	hl_word_t badge = (hl_word_t)ip->restarts << 16 | (hl_word_t)(ip - in->pt + 1) << 8 | j;
	r = fault ? hl_cspace_mint(HL_SLOT_CSPACE, fault, in->fault_ep, HL_R_WRITE, badge)
	          : HL_ERR_NO_MEMORY;
	if (!r)
		r = hl_thread_set_fault_ep(tcb, fault);
	if (r)
		return init_refuse(in, p, "cannot give program %s its fault endpoint (error %ld)",
		                   g->argv[0], r),
		       false;
	if ((r = hl_thread_configure(tcb, cs, as, ipc, HL_ROOT_IPCBUF)) ||
	    (r = hl_thread_write_regs(tcb, img.entry, HL_ROOT_STACK_TOP - 8, HL_BOOTINFO_VADDR,
	                              HL_PARTINFO_VADDR)) ||
	    (r = hl_thread_set_priority(tcb, p->priority)) ||
	    (r = hl_thread_set_affinity(tcb, cpu)) || (r = init_bind_thread(in, p, tcb)) ||
	    (p->period_us && (r = hl_thread_set_budget(tcb, p->budget_us, p->period_us))))
		return init_refuse(in, p, "cannot set up the thread of program %s (error %ld)",
		                   g->argv[0], r),
		       false;
	*thread = tcb;
	return true;
}

/* Bytes of objects and pages a program needs beside its memory share (a generous estimate). */
static uint64_t program_overhead(const struct elf_image *img)
{
	uint64_t pages = PROG_STACK_PAGES + 4 + 16; /* stack, info pages and IPC buffer, tables */

	for (uint32_t i = 0; i < img->nsegs; i++)
		pages += (img->segs[i].memsz + 8191) / 4096;
	/* its cspace (72-byte slots, rounded up to a power of two), address space and thread */
	return pages * 4096 + (128ull << PROG_CSPACE_BITS) + 2 * 8192;
}

/* The partition's region: its memory shares (mem_bits) plus what its programs need around them. */
static bool make_region(struct init *in, struct init_partition *ip, uint32_t mem_bits,
                        uint32_t share_bits)
{
	struct manifest_partition *p = ip->mp;
	uint64_t need =
	    (1ull << mem_bits) + (1ull << share_bits); /* + alignment of the first share */
	need += 2 * p->snap_kib * 1024;                /* its snapshot, aligned to its size */
	struct cpio_entry e;
	struct elf_image img;
	uint32_t bits = 12;

	for (const struct manifest_program *g = p->programs; g; g = g->next) {
		if (!find_program(in, p, g->argv[0], &e, &img))
			return false;
		need += program_overhead(&img);
	}
	while ((1ull << bits) < need)
		bits++;
	ip->region = rt_alloc(HL_OBJ_MEMORY, bits);
	if (!ip->region)
		init_refuse(in, p, "no memory for its %lu KiB region", (1ul << bits) >> 10);
	return ip->region != 0;
}

bool init_build_partition(struct init *in, uint32_t i)
{
	static struct hl_partinfo pi;
	static struct init_channel *ends[HL_PARTINFO_MAX_CHANNELS];
	struct init_partition *ip = &in->pt[i];
	struct manifest_partition *p = ip->mp;
	uint32_t mem_bits = 10, k = 0, j = 0;

	while ((1ull << mem_bits) < p->mem_kib * 1024)
		mem_bits++;
	while ((1u << k) < p->nprograms)
		k++;
	if (mem_bits - k < 16)
		return init_refuse(in, p, "%luK split among %u programs leaves less than 64K each",
		                   p->mem_kib, p->nprograms),
		       false;
	if (!ip->region && !make_region(in, ip, mem_bits, mem_bits - k))
		return false;
	memset(&pi, 0, sizeof(pi));
	pi.magic = HL_PARTINFO_MAGIC, pi.nprograms = p->nprograms, pi.restarts = ip->restarts;
	strlcpy(pi.name, p->name, sizeof(pi.name));
	if (!channel_ends(in, p, &pi, ends))
		return false;
	if (!ip->threads)
		ip->threads = rt_calloc(p->nprograms, sizeof(*ip->threads));
	if (!ip->threads)
		return init_refuse(in, p, "out of memory"), false;
	ip->first_slot = rt_self.next_slot;
	ip->share_bits = mem_bits - k;
	bool ok = issue_devices(in, ip, &pi) && (!p->console || issue_console(in, ip)) &&
	          (!p->screen || issue_screen(in, ip));
	rt_self.alloc_from = ip->region;
	for (const struct manifest_program *g = p->programs; g && ok; g = g->next, j++)
		if (!build_program(in, p, g, j, mem_bits - k, &pi, ends, &ip->threads[j]))
			ok = false;
	rt_self.alloc_from = 0;
	if (!ok) {
		ip->end_slot = rt_self.next_slot;
		ip->is_built = true;
		init_unbuild_partition(in, i, false);
		return false;
	}
	ip->end_slot = rt_self.next_slot;
	ip->is_built = true;
	return true;
}

void init_unbuild_partition(struct init *in, uint32_t i, bool keep_region)
{
	struct init_partition *ip = &in->pt[i];

	for (hl_cptr_t s = ip->end_slot; s-- > ip->first_slot;) {
		hl_cspace_revoke(HL_SLOT_CSPACE,
		                 s); /* the copies inside its cspaces, and the mappings */
		hl_cspace_delete(HL_SLOT_CSPACE, s);
	}
	if (ip->region) {
		hl_cspace_revoke(HL_SLOT_CSPACE,
		                 ip->region); /* whatever is left; the watermark resets */
		if (!keep_region) {
			hl_cspace_delete(HL_SLOT_CSPACE, ip->region);
			ip->region = 0;
		}
	}
	ip->is_built = false;
	rt_printf("init: partition %s taken apart: nothing of it runs\n", ip->mp->name);
}
