/*
 * The root task. It holds every initial capability, reads the system
 * manifest etc/manifest from the boot module (docs/manifest.md; parsed and
 * checked by lib/manifest.c), reports every error as etc/manifest:LINE,
 * then builds the channels and the valid partitions and starts them. A
 * partition is started only complete: one with an error, or whose channel
 * peer is not started, or that cannot be built, is not started at all
 * (its threads never run and everything made for it is deleted), and the
 * others start. Building is partition.c; the ABI a program sees is in
 * docs/abi.md.
 */
#include "init.h"

#include <lib/cpio.h>
#include <lib/fmt.h>
#include <lib/string.h>

#define ARENA_BYTES 65536
#define INIT_RESERVE_KIB                                                                           \
	4096 /* kept for the root task's own objects (spaces, frames, page tables) */

static uint8_t arena_mem[ARENA_BYTES];

/*
 * A partition refused at start time takes its channels with it, and they
 * the partitions at their other ends: the manifest parser's rule, applied
 * again to refusals the parser could not foresee. Each round refuses
 * something, so it ends.
 */
static void spread(struct init *in)
{
	for (bool changed = true; changed;) {
		changed = false;
		for (struct manifest_channel *c = in->m.channels; c; c = c->next) {
			struct manifest_partition *ends[2] = {c->from, c->to};
			for (int i = 0; i < 2; i++) {
				if (!ends[i] || ends[i]->is_valid == c->is_valid)
					continue;
				if (c->is_valid)
					rt_printf("init: channel %s not set up: partition %s is "
					          "not started\n",
					          c->name, ends[i]->name);
				else
					rt_printf("init: partition %s not started: its channel %s "
					          "is not set up\n",
					          ends[i]->name, c->name);
				c->is_valid = ends[i]->is_valid = false;
				changed = true;
			}
		}
	}
}

void init_refuse(struct init *in, struct manifest_partition *p, const char *fmt, ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rt_printf("init: partition %s not started: %s\n", p->name, buf);
	p->is_valid = false;
	spread(in);
}

static uint64_t ram_kib(const struct hl_bootinfo *bi)
{
	uint64_t ram = 0;

	for (uint32_t i = 0; i < bi->nmem; i++)
		if (!bi->mem[i].is_device)
			ram += 1ull << bi->mem[i].size_bits;
	return ram >> 10;
}

/* Parse and report. False when nothing can start. */
static bool read_manifest(struct init *in, const struct cpio_entry *file)
{
	const struct hl_bootinfo *bi = in->rt->bi;
	uint64_t kib = ram_kib(bi);
	struct manifest_limits lim = {kib > INIT_RESERVE_KIB ? kib - INIT_RESERVE_KIB : 1,
	                              bi->ncpus, INIT_PRIORITY};
	struct manifest_arena arena = {arena_mem, sizeof(arena_mem), 0};
	enum manifest_status st =
	    manifest_parse((const char *)file->data, file->size, &lim, &arena, &in->m);

	if (st == MANIFEST_ARENA_FULL) {
		rt_printf("init: %s: too large for the root task's %u KiB arena; nothing started\n",
		          INIT_MANIFEST, ARENA_BYTES >> 10);
		return false;
	}
	for (const struct manifest_error *e = in->m.errors; e; e = e->next)
		rt_printf("init: %s:%u: %s\n", INIT_MANIFEST, e->line, e->msg);
	for (const struct manifest_partition *p = in->m.partitions; p; p = p->next)
		if (!p->is_valid)
			rt_printf("init: partition %s (%s:%u) not started: see the errors above\n",
			          p->name, INIT_MANIFEST, p->line);
	in->ch = rt_calloc(in->m.nchannels + 1, sizeof(*in->ch));
	in->pt = rt_calloc(in->m.npartitions + 1, sizeof(*in->pt));
	if (!in->ch || !in->pt) {
		rt_printf("init: out of memory for the manifest's %u partitions; nothing started\n",
		          in->m.npartitions);
		return false;
	}
	uint32_t i = 0;
	for (struct manifest_channel *c = in->m.channels; c; c = c->next)
		in->ch[i++].mc = c;
	i = 0;
	for (struct manifest_partition *p = in->m.partitions; p; p = p->next)
		in->pt[i++].mp = p;
	return true;
}

static const char *device_text(const struct manifest_device *d, char *buf, size_t n)
{
	if (d->kind == MANIFEST_DEV_ID)
		snprintf(buf, n, "pci %04x:%04x count %u", d->vendor, d->device, d->count);
	else if (d->kind == MANIFEST_DEV_CLASS)
		snprintf(buf, n, "class %02x:%02x:%02x (%u bytes matched) count %u", d->class_code,
		         d->subclass, d->prog_if, d->class_bytes, d->count);
	else
		snprintf(buf, n, "at %02x:%02x.%x", d->bus, d->dev, d->fn);
	return buf;
}

/* Function f matches device line d (bridges never: their config space routes for every device). */
static bool device_matches(const struct manifest_device *d, const struct hl_bootinfo_pci *f)
{
	if (f->class == 6)
		return false;
	if (d->kind == MANIFEST_DEV_ID)
		return f->vendor == d->vendor && f->device == d->device;
	if (d->kind == MANIFEST_DEV_CLASS)
		return f->class == d->class_code &&
		       (d->class_bytes < 2 || f->subclass == d->subclass) &&
		       (d->class_bytes < 3 || f->progif == d->prog_if);
	return f->bdf == (uint16_t)(d->bus << 8 | d->dev << 3 | d->fn);
}

/*
 * In manifest order, each device line takes the first `count` functions it
 * matches that no earlier line (of any partition) took. A line left short
 * refuses its partition, whose functions stay unassigned.
 */
void init_assign_devices(struct init *in)
{
	const struct hl_bootinfo *bi = in->rt->bi;
	bool taken[HL_BOOTINFO_MAX_PCI] = {false};
	uint32_t npci = bi->npci < HL_BOOTINFO_MAX_PCI ? bi->npci : HL_BOOTINFO_MAX_PCI;
	char buf[80];

	for (uint32_t i = 0; i < in->m.npartitions; i++) {
		struct init_partition *ip = &in->pt[i];
		struct manifest_partition *p = ip->mp;
		bool mine[HL_BOOTINFO_MAX_PCI] = {false};
		for (const struct manifest_device *d = p->devices; d && p->is_valid; d = d->next) {
			uint32_t found = 0;
			for (uint32_t f = 0; f < npci && found < d->count; f++) {
				if (taken[f] || mine[f] || !device_matches(d, &bi->pci[f]))
					continue;
				if (ip->ndev == HL_PARTINFO_MAX_DEVICES) {
					init_refuse(in, p, "more than %u devices",
					            HL_PARTINFO_MAX_DEVICES);
					break;
				}
				mine[f] = true;
				ip->dev_line[ip->ndev] = (uint16_t)d->line;
				ip->dev_index[ip->ndev++] = (uint8_t)f;
				found++;
			}
			if (p->is_valid && found < d->count)
				init_refuse(in, p, "%s:%u: device %s: %u of %u found%s",
				            INIT_MANIFEST, d->line,
				            device_text(d, buf, sizeof(buf)), found, d->count,
				            found ? "" : " (or all taken by partitions before it)");
		}
		if (!p->is_valid) {
			ip->ndev = 0;
			continue;
		}
		for (uint32_t f = 0; f < npci; f++)
			taken[f] |= mine[f];
	}
}

/* Resume every thread of a built, valid partition and say so. */
void init_run(struct init *in, uint32_t i)
{
	struct init_partition *ip = &in->pt[i];
	struct manifest_partition *p = ip->mp;
	uint32_t nch = 0;

	uint32_t j = 0;
	for (const struct manifest_program *g = p->programs; g; g = g->next, j++) {
		long err = hl_thread_resume(ip->threads[j]);
		if (err) {
			rt_printf("init: partition %s: cannot resume program %s (error %ld)\n",
			          p->name, g->argv[0], err);
			return;
		}
		rt_printf("init: started %s (priority %u, cpu %u, %lu KiB)\n", g->argv[0],
		          p->priority, init_program_cpu(p->cpus, j), (1ul << ip->share_bits) >> 10);
	}
	for (const struct manifest_channel *c = in->m.channels; c; c = c->next)
		nch += c->is_valid && (c->from == p || c->to == p);
	rt_printf(
	    "init: partition %s running: %u program%s, %lu KiB, %u channel end%s, on crash: %s\n",
	    p->name, p->nprograms, p->nprograms == 1 ? "" : "s", p->mem_kib, nch,
	    nch == 1 ? "" : "s", p->restart == MANIFEST_RESTART_RESTART ? "restart" : "stop");
	for (uint32_t d = 0; d < ip->ndev; d++) {
		const struct hl_bootinfo_pci *f = &in->rt->bi->pci[ip->dev_index[d]];
		rt_printf(
		    "init: partition %s: device %02x:%02x.%x (%04x:%04x, class %02x:%02x:%02x) "
		    "from %s:%u\n",
		    p->name, f->bdf >> 8, (f->bdf >> 3) & 31, f->bdf & 7, f->vendor, f->device,
		    f->class, f->subclass, f->progif, INIT_MANIFEST, ip->dev_line[d]);
	}
}

int main(struct rt *rt)
{
	static struct init in;
	const struct hl_bootinfo *bi = rt->bi;
	struct cpio_entry file;

	in.rt = rt;
	rt_printf("init: root task running in ring 3: %u cpus, %u memory capabilities (%lu MiB), "
	          "boot module %lu bytes\n",
	          bi->ncpus, bi->nmem, ram_kib(bi) >> 10, bi->initrd_size);
	hl_thread_set_priority(HL_SLOT_THREAD, INIT_PRIORITY);
	if (cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size, INIT_MANIFEST, &file) !=
	    CPIO_OK) {
		rt_printf("init: no %s; nothing to start\n", INIT_MANIFEST);
		return 0;
	}
	if (!read_manifest(&in, &file))
		return 0;
	in.fault_ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	if (!in.fault_ep || !init_scratch_ready()) {
		rt_printf("init: out of memory before the first partition; nothing started\n");
		return 0;
	}
	for (uint32_t i = 0; i < in.m.npartitions; i++)
		if (in.pt[i].mp->is_valid)
			init_check_programs(&in, i);
	init_assign_devices(&in);
	init_make_channels(&in);
	for (uint32_t i = 0; i < in.m.npartitions; i++)
		if (in.pt[i].mp->is_valid)
			init_build_partition(&in, i);
	/* A later refusal may have taken down a partition built earlier: delete it before anything
	 * runs. */
	for (uint32_t i = 0; i < in.m.npartitions; i++)
		if (in.pt[i].is_built && !in.pt[i].mp->is_valid)
			init_unbuild_partition(&in, i, false);
	init_install_windows(&in); /* before anything runs: no partition starts outside its time */
	bool any = false;
	for (uint32_t i = 0; i < in.m.npartitions; i++)
		if (in.pt[i].is_built)
			init_run(&in, i), any = true;
	if (any)
		init_supervise(&in);
	return 0;
}
