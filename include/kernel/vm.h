/* The kernel's own address space (arch/x86_64/vm.c). */
#ifndef KERNEL_VM_H
#define KERNEL_VM_H

#include <kernel/types.h>

extern paddr_t kernel_pml4;

/* Build the final kernel page tables (HHDM, W^X image, guard page) and switch. */
void vm_init(void);
/* Map device memory uncached in the MMIO window; NULL if out of space. */
void *vm_map_mmio(paddr_t pa, size_t len) __must_check;
/* A kernel stack with an unmapped guard page below; returns its top or 0. */
vaddr_t vm_alloc_kstack(size_t size);
/* Flags of the kernel mapping of va, or 0 if unmapped (tests, diagnostics). */
uint64_t vm_kernel_flags(vaddr_t va);

struct pt_env;
/* The page-table environment of the kernel tables (HHDM access, PMM frames). */
const struct pt_env *vm_kernel_env(void);

#endif
