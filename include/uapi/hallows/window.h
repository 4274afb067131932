/*
 * Partition time windows (ARINC 653; docs/scheduling.md, "Partition
 * windows"; docs/abi.md). The root task writes one CPU's major frame into
 * a 4 KiB frame as struct hl_window_table and installs it with
 * sched_control.set_windows(cpu, table, start_tsc); sched_control.bind
 * tags a thread with a partition id. A tagged thread on a CPU with
 * windows runs only inside the windows of its partition (by priority
 * among the partition's threads), or in time the table gives to the
 * spare partition; untagged threads (the root task) are not confined.
 */
#ifndef HALLOWS_WINDOW_H
#define HALLOWS_WINDOW_H

#include <stdint.h>

#define HL_WINDOWS_MAX   32             /* windows in one CPU's frame */
#define HL_WINDOW_MIN_NS 5000ull        /* shortest window (and gap: none shorter) */
#define HL_FRAME_MAX_NS  10000000000ull /* longest major frame: 10 s */
#define HL_PARTITION_IDS 256            /* partition ids are 1..255; 0 = untagged */

struct hl_window {
	uint64_t offset_ns; /* 0: start within the frame */
	uint64_t length_ns; /* 8: >= HL_WINDOW_MIN_NS */
	uint32_t partition; /* 16: owner, 1..255 */
	uint32_t reserved;  /* 20: 0 */
};

struct hl_window_table {
	uint64_t frame_ns; /* 0: the major frame, <= HL_FRAME_MAX_NS; windows repeat with it */
	uint32_t count;    /* 8: windows below, 0 = no windows on this CPU (everything runs) */
	/*
	 * 12: the partition that gets the frame's time no window covers, and a
	 * window's time its owner leaves unused (nothing of it runnable); 0: the
	 * CPU idles then (only untagged threads run).
	 */
	uint32_t spare;
	struct hl_window w[HL_WINDOWS_MAX]; /* 16: sorted by offset, no overlap, inside the frame */
};

#endif
