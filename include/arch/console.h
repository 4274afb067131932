/* The consoles behind klog (arch/x86_64/serial.c, arch/x86_64/fbcon.c). */
#ifndef ARCH_CONSOLE_H
#define ARCH_CONSOLE_H

#include <kernel/bootinfo.h>

/* Program COM1 for 115200 8N1, FIFOs on, and register it as a console. */
void serial_init(void);
/* Choose the screen from the boot info; PVH/BIOS without one gets VGA text at 0xb8000. */
void fbcon_init(const struct boot_fb *fb);
/* Move to an uncached MMIO mapping in the final kernel tables (called by vm_init before it
 * switches). */
void fbcon_remap(void);

/* The screen the kernel draws on, for the root task (kernel/root.c): its description and the
 * bytes of memory it spans from paddr; 0 when there is none (or it is no longer drawn). */
uint64_t fbcon_screen(struct boot_fb *out);
/* Device memory [pa, pa + len) was mapped into ring 3: when it covers the screen, the kernel
 * stops drawing its log there (the log stays on the serial console). */
void fbcon_claimed(uint64_t pa, uint64_t len);

#endif
