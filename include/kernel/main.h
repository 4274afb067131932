/* The boot sequence (kernel/main.c). */
#ifndef KERNEL_MAIN_H
#define KERNEL_MAIN_H

#include <kernel/types.h>

/* From boot.S on the BSP, in the higher half on the boot stack: kind says PVH or Multiboot2, info
 * is the physical address of its boot information. */
__noreturn void kmain(uint32_t kind, uint64_t info);
/* Every CPU ends here: the scheduler runs threads, or idles with hlt. */
__noreturn void cpu_idle_loop(void);

#endif
