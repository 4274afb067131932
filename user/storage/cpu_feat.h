/* CPUID and the vector state the OS saves, for the storage code's choice of
 * instructions (crc32c.c: crc32 and VPCLMULQDQ; store_write.c: the AVX copy).
 * x86-64 only; each user reads it once and keeps the answer. */
#ifndef STORE_CPU_FEAT_H
#define STORE_CPU_FEAT_H
#if defined(__x86_64__)
#include <stdint.h>

static inline void st_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	                 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	                 : "a"(leaf), "c"(sub));
}

/* AVX usable: CPUID has OSXSAVE and AVX, and XCR0 has the SSE and AVX states
 * (the kernel saves them: Hallows' arch/x86_64/cpu.c, Linux). */
static inline int st_avx_usable(void)
{
	uint32_t r[4], lo, hi;

	st_cpuid(1, 0, r);
	if (!((r[2] >> 27) & 1) || !((r[2] >> 28) & 1))
		return 0;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}
#endif
#endif
