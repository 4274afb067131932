/* Shared by the kernel micro-benchmarks (kbench.c) and the ring benchmark (ring_bench.c). */
#ifndef KBENCH_H
#define KBENCH_H

#include <hallows/rt.h>

#define SHARED_VA 0x500000000ull /* the frame given to bench_spawn, in the spawned space */

static inline uint64_t bench_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

void bench_report(const char *name, uint64_t value);
/* A thread running fn(0) in a new address space with copies of this program's pages and
 * shared_frame at SHARED_VA. */
hl_cptr_t bench_spawn(void (*fn)(void *), uint8_t prio, uint32_t cpu, hl_cptr_t shared_frame);
void bench_ring(uint32_t ncpus);
/* MSI from QEMU's edu device to a waiting ring-3 thread (msi_bench.c); skipped without edu. */
void bench_msi(hl_cptr_t shared_frame, uint32_t rounds, uint32_t iters);

#endif
