/*
 * A Linux process holds no Hallows capability: the `syscall` instruction
 * with the registers of Hallows calls is a Linux call, answered with
 * Linux's results (the same as on Linux), and the Hallows debug console
 * (HL_SYS_DEBUG_PUTS = 9, slot 6) never prints the secret below.
 */
#include <stdio.h>

static long raw(long nr, long rdi, long rsi, long rdx, long r10, long r8, long r9)
{
	register long a3 __asm__("r10") = r10, a4 __asm__("r8") = r8, a5 __asm__("r9") = r9;
	__asm__ volatile("syscall"
	                 : "+a"(nr), "+D"(rdi), "+S"(rsi), "+d"(rdx), "+r"(a3), "+r"(a4), "+r"(a5)
	                 :
	                 : "rcx", "r11", "memory");
	return nr;
}

int main(void)
{
	static const char secret[] = "SECRET-THROUGH-HALLOWS-DEBUG-CAP\n";

	/* HL_SYS_NULL (0): Linux read of a closed descriptor. */
	printf("nr 0 (read fd 99): %ld\n", raw(0, 99, 0, 0, 0, 0, 0));
	/* HL_SYS_DEBUG_PUTS (9) on slot 6: Linux mmap(6, 34, prot = a pointer, flags 0) */
	printf("nr 9 (debug_puts regs): %ld\n",
	       raw(9, 6, sizeof(secret) - 1, (long)secret, 0, -1, 0));
	/* HL_SYS_CALL (1) on slot 1 (its thread) with a message info: Linux write(1, 0x50000, ...)
	 */
	printf("nr 1 (call regs): %ld\n", raw(1, 1, 0x50000, 4, 0, 0, 0));
	/* HL_SYS_RECV (4) on slot 3: Linux stat((char *)3, ...) */
	printf("nr 4 (recv regs): %ld\n", raw(4, 3, 0, 0, 0, 0, 0));
	/* HL_SYS_REPLY (5): Linux fstat(fd 5) of a closed descriptor */
	printf("nr 5 (reply regs): %ld\n", raw(5, 5, 0x1000, 0, 0, 0, 0));
	return 0;
}
