/*
 * x86-64 4-level page tables (arch/x86_64/paging.c), host-tested with fake
 * memory: tables are reached only through env->p2v and allocated through
 * env->alloc.
 */
#ifndef ARCH_PAGING_H
#define ARCH_PAGING_H

#include <kernel/types.h>

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A   (1ull << 5)
#define PTE_D   (1ull << 6)
#define PTE_PS  (1ull << 7)
#define PTE_G   (1ull << 8)
#define PTE_NX  (1ull << 63)
/*
 * The PAT bit (memory type = PAT entry PAT*4 + PCD*2 + PWT) sits at bit 7
 * of a 4 KiB entry and bit 12 of a large one. pt_map, pt_protect and
 * pt_lookup take and report it as PTE_PAT, a bit the hardware ignores,
 * and store it where the level wants it.
 */
#define PTE_PAT       (1ull << 58)
#define PTE_PAT_4K    (1ull << 7)
#define PTE_PAT_LARGE (1ull << 12)
#define PTE_ADDR      0x000ffffffffff000ull
#define PTE_FLAGS     (~PTE_ADDR)

/*
 * Table levels: a table of level L is indexed by bits 12+9L..20+9L of the
 * address: 3 = PML4 (the root), 2 = PDPT, 1 = PD, 0 = PT.
 */
struct pt_env {
	void *(*p2v)(paddr_t pa, void *ctx);    /* table frame -> pointer */
	paddr_t (*alloc)(int level, void *ctx); /* a zeroed table frame for that level, or 0 */
	void (*free)(paddr_t pa, void *ctx);    /* give back an empty table */
	void *ctx;
	/*
	 * Optional: whether pa may be followed as a table of that level. A
	 * walk never goes through an entry this refuses (PT_EBADTABLE), so
	 * tables that ring 3 could have written are never trusted.
	 */
	bool (*table_ok)(paddr_t pa, int level, void *ctx);
};

enum pt_err {
	PT_OK = 0,
	PT_ENOMEM = -1,
	PT_EEXIST = -2,
	PT_ENOENT = -3,
	PT_EINVAL = -4,
	PT_EBADTABLE = -5
};

/*
 * Map va -> pa with size 4 KiB or 2 MiB and the given PTE flags (PTE_P is
 * implied). Fails with PT_EEXIST if anything is mapped there already,
 * PT_EINVAL on misalignment or a bad size, PT_ENOMEM if a table could not
 * be allocated (tables allocated so far stay, empty).
 */
int pt_map(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t pa, size_t size,
           uint64_t flags) __must_check;
/* Remove the mapping containing va; reports its size and frame. Frees empty tables if e->free is
 * set. */
int pt_unmap(const struct pt_env *e, paddr_t root, vaddr_t va, size_t *size,
             paddr_t *pa) __must_check;
/* pt_unmap, only when the address va translates to lies in the frame_size-aligned frame at frame
 * (one walk instead of pt_lookup's and pt_unmap's); PT_ENOENT otherwise, nothing changed. */
int pt_unmap_if(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t frame,
                size_t frame_size) __must_check;
/* Replace the flags of the mapping containing va (address kept). */
int pt_protect(const struct pt_env *e, paddr_t root, vaddr_t va, uint64_t flags) __must_check;
/*
 * The table of the given level (3 = the root itself ... 0 = PT) on the path to va,
 * without allocating: NULL with *err PT_ENOENT (a table is missing),
 * PT_EEXIST (a large page is in the way) or PT_EBADTABLE.
 */
uint64_t *pt_table(const struct pt_env *e, paddr_t root, vaddr_t va, int level, int *err);
/* Index of va's entry in a table of the given level (see pt_table). */
static inline unsigned pt_index(vaddr_t va, int level)
{
	return (va >> (12 + 9 * level)) & 511;
}
/* Translate va; false when unmapped. */
bool pt_lookup(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t *pa, uint64_t *flags,
               size_t *size);

#endif
