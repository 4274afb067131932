/*
 * Physical frame bookkeeping: one bit per 4 KiB frame (1 = in use).
 * Pure logic with no locking (kernel/pmm.c adds the lock); host-tested.
 */
#ifndef KERNEL_FRAMES_H
#define KERNEL_FRAMES_H

#include <kernel/types.h>

struct frame_map {
	uint64_t *bits;   /* [L] */
	uint64_t nframes; /* [I] frames covered, from physical 0 */
	uint64_t nfree;   /* [L] */
	uint64_t hint;    /* [L] where the next search starts */
};

/* Start with every frame in use; bits must hold nframes bits. */
void frames_init(struct frame_map *fm, uint64_t *bits, uint64_t nframes);
/* Mark [first, first+count) free / in use (clipped to the map). */
void frames_release_range(struct frame_map *fm, uint64_t first, uint64_t count);
void frames_reserve_range(struct frame_map *fm, uint64_t first, uint64_t count);
/* Allocate count contiguous frames aligned to align frames; false if none. */
bool frames_alloc(struct frame_map *fm, uint64_t count, uint64_t align,
                  uint64_t *first) __must_check;
/* Free frames from frames_alloc; returns false (and changes nothing) if any was already free. */
bool frames_free(struct frame_map *fm, uint64_t first, uint64_t count) __must_check;
bool frames_is_used(const struct frame_map *fm, uint64_t frame);

#endif
