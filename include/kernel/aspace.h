/* Address spaces, frames and page tables (kernel/aspace.c). */
#ifndef KERNEL_ASPACE_H
#define KERNEL_ASPACE_H

#include <kernel/object.h>

#define USER_TOP     0x0000800000000000ull /* first address above the user half */
#define USER_MAP_TOP HL_USER_MAP_TOP       /* mappings end below; see user_range() */

/* Once, after the frame allocator and the direct map: the per-page page-table records (8 bytes a
 * page). */
void aspace_hooks_init(void);
void aspace_init(struct aspace *as);
/* PTE flags of a user mapping with these rights: device memory uncached, or write-combining with
 * wc (PTE_PAT: PAT entry 4); wc is ignored for RAM. */
uint64_t aspace_pte_flags(uint32_t rights, bool device, bool wc);
/* Translate a user address of as through the tables it owns: false when unmapped (flags: the
 * PTE's). */
bool aspace_lookup(struct aspace *as, vaddr_t va, paddr_t *pa, uint64_t *flags);
/*
 * pa is a page table that as has hooked in at level (3 = PDPT, 2 = PD,
 * 1 = PT), through aspace.map_table or the root task's boot mappings.
 */
bool aspace_table_owned(const struct aspace *as, paddr_t pa, int level);
/* A page-table capability is deleted: unhook the table from its address space. */
void pt_cap_destroy(struct cap *cap);
/* A frame capability is deleted: unmap the frame where the capability mapped it. */
void frame_cap_destroy(struct cap *cap);
/* Shoot down every CPU's translations of as and mark it dead (its object is being destroyed). */
void aspace_destroy(struct aspace *as, const struct cap *cap);
/* Make every CPU that may cache translations of as drop them (TLB shootdown). */
void aspace_flush_all(struct aspace *as);
/* Kernel-internal mapping for the root task at boot (no capabilities); its tables are recorded as
 * hooked in as. */
int aspace_map_boot(struct aspace *as, uint64_t va, paddr_t pa, uint64_t pte_flags,
                    paddr_t (*alloc)(void)) __must_check;

/* A table made by aspace_map_boot goes back to the kernel: forget its record. */
void aspace_forget_boot_table(paddr_t pa);

#endif
