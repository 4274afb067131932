/*
 * The root task (user/init): reads etc/manifest (docs/manifest.md), builds
 * the channels and partitions it describes, and starts every partition that
 * is complete. init.c reads and checks; partition.c builds.
 */
#ifndef INIT_H
#define INIT_H

#include <hallows/rt.h>
#include <lib/manifest.h>

#define INIT_MANIFEST "etc/manifest"
#define INIT_PRIORITY 200 /* the root task's own; partitions may not be above it */

/* What the root task made for one channel: its ring frames and one notification per end. */
struct init_channel {
	const struct manifest_channel *mc;
	hl_cptr_t
	    first_frame; /* ring frames are in slots first_frame .. first_frame + nframes - 1 */
	uint32_t nframes;
	hl_cptr_t ntfn_from, ntfn_to; /* what the producer / the consumer waits on */
};

/* A partition being built: its threads (resumed only once all partitions are built) and its slots.
 */
struct init_partition {
	struct manifest_partition *mp;
	hl_cptr_t first_slot, end_slot; /* every root slot it used: deleted if it is not started */
	hl_cptr_t *threads;             /* one per program */
	uint32_t share_bits;            /* each program's memory: 2^share_bits bytes */
	bool is_built;
	/* Everything made for it (kernel objects, pages, memory shares) is carved from this memory
	 * capability, kept across restarts: revoking it takes every byte back. */
	hl_cptr_t region;
	uint32_t restarts; /* times restarted after a crash */
	/* Its PCI functions: indices into the boot info's pci[], the manifest line each matched,
	 * and (once built) the root slot of the capability issued for it. */
	uint32_t ndev;
	uint8_t dev_index[HL_PARTINFO_MAX_DEVICES];
	uint16_t dev_line[HL_PARTINFO_MAX_DEVICES];
	hl_cptr_t dev_slot[HL_PARTINFO_MAX_DEVICES];
	/* The snapshot object of its `snapshot SIZE` (in its region; 0: none), made with its first
	 * program and given to each in HL_PARTITION_SLOT_SNAPSHOT. */
	hl_cptr_t snap;
	hl_cptr_t console_irq, console_port; /* with `console`: root slots of what it is given */
	/* With `screen`: root slots of the keyboard's ports 0x60 and 0x64, IRQ 1's handler, the
	 * CRT controller's ports 0x3d4-0x3d5, and the screen's frames (partinfo.h's
	 * hl_screen_end, with the slots in the root cspace). */
	hl_cptr_t screen_port[4];
	struct hl_screen_end screen;
};

struct init {
	const struct rt *rt;
	struct manifest m;
	struct init_channel *ch;   /* one per manifest channel, in order */
	struct init_partition *pt; /* one per manifest partition, in order */
	hl_cptr_t fault_ep;        /* every partition thread's faults arrive here (supervise.c) */
};

#define INIT_MAX_RESTARTS 8 /* a partition that crashes more often is left stopped */
/* The badge of partition i's control endpoint (fault badges stay below bit 62). */
#define INIT_CONTROL_BADGE(i) (1ull << 62 | (hl_word_t)(i))

/* Refuse partition p (not started) with a message; its channels and their other ends follow
 * (init.c). */
void init_refuse(struct init *in, struct manifest_partition *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The root task's page tables at its scratch mapping, made from its own memory (partition.c). */
bool init_scratch_ready(void);
/* Make the frames and notifications of every valid channel (partition.c). */
void init_make_channels(struct init *in);
/* Build partition i (all its programs, not yet running); false after it reported why not. */
bool init_build_partition(struct init *in, uint32_t i);
/* Delete everything built for partition i (nothing of it runs); its region is emptied, and kept
 * only for a restart. */
void init_unbuild_partition(struct init *in, uint32_t i, bool keep_region);
/* Resume every thread of built partition i and say so (init.c). */
void init_run(struct init *in, uint32_t i);
/* Wait for faults of partition threads and apply each partition's on-crash policy; never returns
 * (supervise.c). */
__attribute__((noreturn)) void init_supervise(struct init *in);
/* The CPU of program j of a partition allowed on `mask`: the j-th CPU of the mask, wrapping. */
uint32_t init_program_cpu(uint64_t mask, uint32_t j);
/* Give every valid partition the PCI functions its device lines match (init.c); a partition
 * whose lines cannot all be met is refused. */
void init_assign_devices(struct init *in);
/* Tag a thread of partition p for the windows when p runs on a CPU that has some (windows.c). */
long init_bind_thread(const struct init *in, const struct manifest_partition *p, hl_cptr_t tcb);
/* Install every valid window section as its CPU's window table, one epoch for all (windows.c). */
void init_install_windows(struct init *in);
/* Check that partition i's programs exist and are executables, before anything is made. */
bool init_check_programs(struct init *in, uint32_t i);

#endif
