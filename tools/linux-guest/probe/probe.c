/*
 * Firmware-overhead and icount probe: a tiny 32-bit PVH kernel.
 *
 * QEMU loads it exactly like the Linux vmlinux and the Hallows kernel
 * (-kernel ELF with a XEN_ELFNOTE_PHYS32_ENTRY note, via SeaBIOS and the
 * PVH option ROM). Its first instruction is rdtsc, so under -icount shift=0
 * the value printed is the number of guest instructions executed from reset
 * to kernel entry (firmware + option ROM). It then times loops of a known
 * instruction count, with interrupts off, to check that a TSC tick is one
 * instruction, and leaves through isa-debug-exit (iobase 0xf4).
 *
 * Serial output (COM1), all numbers in hex:
 *   PROBE entry_tsc=0x...
 *   PROBE loop kind=<k> per_iter=<instructions> iters=0x... delta=0x...
 *   PROBE done
 * Entry contract (PVH): 32-bit protected mode, paging off, flat segments,
 * no stack; ebx points at the start info (unused).
 */
#include <stdint.h>

#define COM1                     0x3f8
#define DEBUG_EXIT_PORT          0xf4
#define XEN_ELFNOTE_PHYS32_ENTRY 18

uint32_t probe_entry_tsc[2];
static uint8_t probe_stack[4096] __attribute__((aligned(16)));
uint8_t *const probe_stack_top = probe_stack + sizeof(probe_stack);

extern char probe_entry[];                          /* the assembly below */
static void probe_main(void) __attribute__((used)); /* called from it */

/* First instruction: rdtsc. Then a stack, then C. */
__asm__(".section .text.entry,\"ax\"\n"
        ".globl probe_entry\n"
        "probe_entry:\n"
        "  rdtsc\n"
        "  mov %eax, probe_entry_tsc\n"
        "  mov %edx, probe_entry_tsc+4\n"
        "  mov probe_stack_top, %esp\n"
        "  call probe_main\n"
        "1: cli\n hlt\n jmp 1b\n"
        ".previous\n");

struct probe_note {
	uint32_t namesz, descsz, type;
	char name[4];
	uint32_t desc;
};

__attribute__((section(".note.Xen"), used,
               aligned(4))) static const struct probe_note probe_pvh_note = {
    4, 4, XEN_ELFNOTE_PHYS32_ENTRY, "Xen", (uint32_t)probe_entry};

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Write one byte to COM1 once the transmit holding register is empty. */
static void putc_serial(char c)
{
	for (int i = 0; i < 100000 && !(inb(COM1 + 5) & 0x20); i++)
		;
	outb(COM1, (uint8_t)c);
}

static void puts_serial(const char *s)
{
	while (*s)
		putc_serial(*s++);
}

/* Print v as 0x followed by 16 hex digits (no 64-bit division needed). */
static void puthex(uint64_t v)
{
	puts_serial("0x");
	for (int shift = 60; shift >= 0; shift -= 4)
		putc_serial("0123456789abcdef"[(v >> shift) & 0xf]);
}

/* TSC delta over "dec; jnz" x iters: 2 instructions per iteration. */
static uint64_t loop2(uint32_t iters)
{
	uint32_t lo0, hi0, lo1, hi1;

	__asm__ volatile("rdtsc\n\tmov %%eax, %0\n\tmov %%edx, %1\n\t"
	                 "mov %4, %%ecx\n"
	                 "1: dec %%ecx\n\tjnz 1b\n\trdtsc"
	                 : "=&r"(lo0), "=&r"(hi0), "=&a"(lo1), "=&d"(hi1)
	                 : "r"(iters)
	                 : "ecx", "cc");
	return (((uint64_t)hi1 << 32) | lo1) - (((uint64_t)hi0 << 32) | lo0);
}

/* Same with five nops, a load and a multiply: 9 instructions per iteration. */
static uint64_t loop9(uint32_t iters)
{
	uint32_t lo0, hi0, lo1, hi1, scratch = 3;

	__asm__ volatile("rdtsc\n\tmov %%eax, %0\n\tmov %%edx, %1\n\t"
	                 "mov %5, %%ecx\n"
	                 "1: nop\n\tnop\n\tnop\n\tnop\n\tnop\n\t"
	                 "mov %4, %%eax\n\timul %%eax, %%eax\n\t"
	                 "dec %%ecx\n\tjnz 1b\n\trdtsc"
	                 : "=&r"(lo0), "=&r"(hi0), "=&a"(lo1), "=&d"(hi1)
	                 : "m"(scratch), "r"(iters)
	                 : "ecx", "cc");
	return (((uint64_t)hi1 << 32) | lo1) - (((uint64_t)hi0 << 32) | lo0);
}

static void report_loop(const char *kind, const char *per, uint32_t iters, uint64_t delta)
{
	puts_serial("PROBE loop kind=");
	puts_serial(kind);
	puts_serial(" per_iter=");
	puts_serial(per);
	puts_serial(" iters=");
	puthex(iters);
	puts_serial(" delta=");
	puthex(delta);
	puts_serial("\n");
}

/* Called once from probe_entry with interrupts off; never returns. */
static void probe_main(void)
{
	static const uint32_t counts[] = {1, 1000, 1000000};

	puts_serial("PROBE entry_tsc=");
	puthex(((uint64_t)probe_entry_tsc[1] << 32) | probe_entry_tsc[0]);
	puts_serial("\n");
	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		report_loop("dec-jnz", "2", counts[i], loop2(counts[i]));
		report_loop("nop5-load-imul-dec-jnz", "9", counts[i], loop9(counts[i]));
	}
	puts_serial("PROBE done\n");
	outb(DEBUG_EXIT_PORT, 0);
}
