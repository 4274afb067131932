/*
 * Capabilities, capability spaces and the derivation tree (kernel/cap.c).
 *
 * A capability space (cspace) is an array of 2^bits slots. A slot holds one
 * capability (type, rights, object, badge and per-type words) and the
 * slot's place in the derivation tree: a capability made from another
 * (copy, mint, or an object retyped from memory) is its child. Revoking a
 * slot deletes all its descendants; deleting the last capability to an
 * object destroys the object.
 *
 * Locking: everything here runs under the big kernel lock (include/kernel/bkl.h).
 */
#ifndef KERNEL_CAP_H
#define KERNEL_CAP_H

#include <hallows/abi.h>
#include <kernel/types.h>

struct cap {
	uint8_t type;      /* enum hl_obj; HL_OBJ_NONE = empty slot */
	uint8_t rights;    /* HL_R_* */
	uint8_t size_bits; /* memory, frames, cspaces */
	uint8_t flags;     /* CAP_F_* */
	uint32_t aux;      /* per type: I/O port count, IRQ number */
	uint64_t obj; /* kernel pointer to the object, or a physical address (memory, frames), or a
	                 port base */
	uint64_t badge; /* endpoints/notifications: badge; memory: watermark (bytes used); frames,
	                   page tables: id of the mapping's aspace */
	uint64_t data;  /* frames: mapped vaddr | 1; page tables: vaddr | level << 1 | 1; 0 = not
	                   mapped */
	uint64_t data2; /* frames, page tables: struct aspace * of the mapping */
};

#define CAP_F_DEVICE 1 /* memory/frame: device memory (no zeroing, uncached) */
/* Frame capability's data word: the address it is mapped at, and these. */
#define FRAME_MAPPED   1ull /* mapped (in data2's address space, or for DMA) */
#define FRAME_DMA      2ull /* for the DMA of PCI function data2 (kernel/pcidev.c) */
#define FRAME_WC       4ull /* mapped write-combining (HL_MAP_WC, device memory only) */
#define CAP_F_ORIGINAL 2    /* the capability made when the object was created */
#define CAP_F_BINDING                                                                              \
	4 /* notification: the copy its bound thread holds; the binding ends with it */

struct slot {
	struct cap cap;
	struct slot *parent, *first_child, *next, *prev; /* derivation tree */
};
_Static_assert(sizeof(struct slot) == 72, "slot layout");

struct cspace {
	uint32_t bits; /* [I] 2^bits slots */
	uint32_t pad;  /* [BKL] 1 once destroyed */
	struct cspace
	    *next_dying;     /* [BKL] on the list of cspaces being destroyed (kernel/object.c) */
	struct slot slots[]; /* [BKL] */
};
_Static_assert(sizeof(struct cspace) == 16, "cspace_bytes() counts a 16-byte header");

/* Bytes of a cspace object with 2^bits slots. */
static inline uint64_t cspace_bytes(uint32_t bits)
{
	return 16 + ((uint64_t)sizeof(struct slot) << bits);
}

/* The slot at index cptr of cs, or NULL if out of range. */
struct slot *cspace_slot(struct cspace *cs, hl_cptr_t cptr);
/* Look up a capability of the given type (HL_OBJ_NONE = any non-empty) needing rights. */
int cap_lookup(struct cspace *cs, hl_cptr_t cptr, uint8_t type, uint8_t rights,
               struct slot **out) __must_check;

/* A copy of c for a new slot: not the original, and without the mapping c records
 * (kernel/aspace.c). */
struct cap cap_derive(const struct cap *c);
/* Place cap in the empty slot dst as a child of parent (NULL: a root of the tree). */
void cap_insert(struct slot *dst, const struct cap *cap, struct slot *parent);
/* Move the capability in src to the empty slot dst, keeping its tree position. */
void cap_move(struct slot *dst, struct slot *src);
/*
 * Empty a slot. Its children are handed to its parent. If it held the last
 * capability to an object, the object is destroyed (object_destroy()).
 */
void cap_delete(struct slot *s);
/*
 * Delete every descendant of s. Returns HL_OK when done, or -1 when it
 * stopped at a preemption point (the caller restarts the system call).
 */
int cap_revoke(struct slot *s, uint32_t budget) __must_check;
bool cap_is_final(const struct slot *s);
bool cap_same_object(const struct cap *a, const struct cap *b);

/*
 * Per-type cleanup of a deleted capability (kernel/object.c): mappings made
 * through this capability are removed; if it was the last capability to
 * its object (final), the object is torn down.
 */
void cap_cleanup(struct cap *cap, bool final);

#endif
