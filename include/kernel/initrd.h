/* The boot module (kernel/initrd.c). */
#ifndef KERNEL_INITRD_H
#define KERNEL_INITRD_H

#include <kernel/types.h>

extern const uint8_t *initrd_data; /* [I] the cpio archive in the direct map, or NULL */
extern size_t initrd_size;         /* [I] */

/* Find the boot module in the boot info and check it is a whole cpio archive; warn if not. */
void initrd_check(void);

#endif
