/*
 * The manifest's time windows (docs/manifest.md, "Time windows"): the root
 * task binds every thread of a partition that runs on a CPU with windows
 * to the partition's id (its place in the manifest, from 1), and installs
 * each valid "window cpu N" section as that CPU's window table
 * (sched_control.set_windows, docs/abi.md) before any partition runs. All
 * CPUs share one epoch, so frames of equal length start together.
 */
#include <hallows/window.h>
#include <lib/string.h>

#include "init.h"

/* The table page, kept mapped here (beside partition.c's scratch page, in the same page table). */
#define TABLE_VA 0x180010000ull

/* Does partition p run on a CPU that has a window section? */
static bool windowed(const struct init *in, const struct manifest_partition *p)
{
	for (const struct manifest_window *w = in->m.windows; w; w = w->next)
		if (p->cpus >> w->cpu & 1)
			return true;
	return false;
}

long init_bind_thread(const struct init *in, const struct manifest_partition *p, hl_cptr_t tcb)
{
	if (!windowed(in, p))
		return HL_OK; /* untagged: no window applies, and the IPC fastpaths stay open */
	return hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, tcb, manifest_partition_id(&in->m, p));
}

/* One CPU's table from its section (valid: sorted, inside the frame, partitions resolved). */
static void fill(const struct init *in, const struct manifest_window *w, struct hl_window_table *t)
{
	uint32_t i = 0;

	memset(t, 0, sizeof(*t));
	t->frame_ns = w->frame_us * 1000;
	t->spare = w->spare ? manifest_partition_id(&in->m, w->spare) : 0;
	for (const struct manifest_slot *s = w->slots; s && i < HL_WINDOWS_MAX; s = s->next, i++)
		t->w[i] = (struct hl_window){.offset_ns = s->offset_us * 1000,
		                             .length_ns = s->length_us * 1000,
		                             .partition = manifest_partition_id(&in->m, s->part)};
	t->count = i;
}

void init_install_windows(struct init *in)
{
	static struct hl_window_table *t;
	static hl_cptr_t frame;
	uint64_t epoch = 0;

	if (!in->m.windows)
		return;
	if (!frame) {
		frame = rt_alloc(HL_OBJ_FRAME, 12);
		if (frame &&
		    rt_map_frame(HL_SLOT_ASPACE, frame, TABLE_VA, HL_R_READ | HL_R_WRITE) == HL_OK)
			t = (struct hl_window_table *)TABLE_VA;
	}
	if (!t) {
		rt_printf("init: out of memory for the window tables; no windows installed\n");
		return;
	}
	for (const struct manifest_window *w = in->m.windows; w; w = w->next) {
		if (!w->is_valid) {
			rt_printf("init: windows of cpu %u (%s:%u) not installed: see the errors "
			          "above\n",
			          w->cpu, INIT_MANIFEST, w->line);
			continue;
		}
		fill(in, w, t);
		hl_word_t got = 0;
		long err =
		    hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, w->cpu, frame, epoch, &got);
		if (err) {
			rt_printf(
			    "init: windows of cpu %u (%s:%u) refused by the kernel: error %ld\n",
			    w->cpu, INIT_MANIFEST, w->line, err);
			continue;
		}
		epoch = got; /* the first CPU's epoch for all */
		rt_printf("init: windows on cpu %u: frame %luus, %u slot%s, spare %s\n", w->cpu,
		          w->frame_us, t->count, t->count == 1 ? "" : "s",
		          w->spare ? w->spare->name : "idle");
	}
}
