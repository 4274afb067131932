/* Allocator for the kernel's own internal objects (kernel/kmalloc.c). */
#ifndef KERNEL_KMALLOC_H
#define KERNEL_KMALLOC_H

#include <kernel/types.h>

/* Zeroed memory of at least n bytes, 16-byte aligned, or NULL. Any context. */
void *kmalloc(size_t n) __must_check;
void kfree(void *p);
uint64_t kmalloc_live(void); /* objects allocated and not yet freed */

#endif
