/*
 * x86-64 4-level page tables (arch/x86_64/paging.c), host-tested with fake
 * memory: tables are reached only through env->p2v and allocated through
 * env->alloc.
 */
#ifndef ARCH_PAGING_H
#define ARCH_PAGING_H

#include <kernel/types.h>

#define PTE_P	(1ull << 0)
#define PTE_W	(1ull << 1)
#define PTE_U	(1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A	(1ull << 5)
#define PTE_D	(1ull << 6)
#define PTE_PS	(1ull << 7)
#define PTE_G	(1ull << 8)
#define PTE_NX	(1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define PTE_FLAGS (~PTE_ADDR)

struct pt_env {
	void *(*p2v)(paddr_t pa, void *ctx); /* table frame -> pointer */
	paddr_t (*alloc)(void *ctx); /* a zeroed table frame, or 0 */
	void (*free)(paddr_t pa, void *ctx); /* give back an empty table */
	void *ctx;
};

enum pt_err { PT_OK = 0, PT_ENOMEM = -1, PT_EEXIST = -2, PT_ENOENT = -3, PT_EINVAL = -4 };

/*
 * Map va -> pa with size 4 KiB or 2 MiB and the given PTE flags (PTE_P is
 * implied). Fails with PT_EEXIST if anything is mapped there already,
 * PT_EINVAL on misalignment or a bad size, PT_ENOMEM if a table could not
 * be allocated (tables allocated so far stay, empty).
 */
int pt_map(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t pa, size_t size, uint64_t flags)
	__must_check;
/* Remove the mapping containing va; reports its size and frame. Frees empty tables if e->free is set. */
int pt_unmap(const struct pt_env *e, paddr_t root, vaddr_t va, size_t *size, paddr_t *pa) __must_check;
/* Replace the flags of the mapping containing va (address kept). */
int pt_protect(const struct pt_env *e, paddr_t root, vaddr_t va, uint64_t flags) __must_check;
/* Translate va; false when unmapped. */
bool pt_lookup(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t *pa, uint64_t *flags, size_t *size);

#endif
