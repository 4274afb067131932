/*
 * The pipe round trip of bench_getpid (a byte to a child and back, two
 * processes) alone, for profiling: its measured rounds lie between
 * prof_start() and prof_stop(), where tools/pathprof.py opens and closes
 * its window (docs/linux.md, "Measured"). Prints the least of three runs of
 * 500 rounds in instructions (rdtsc counts instructions under -icount).
 * (bench_getpid itself stays as it was: its figures depend on its layout.)
 */
#include <stdint.h>
#include <stdio.h>

__attribute__((noinline)) void prof_start(void)
{
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void prof_stop(void)
{
	__asm__ volatile("" ::: "memory");
}

static int marked; /* the rounds of this run call the marks */
#define PIPE_RT_START()                                                                            \
	do {                                                                                       \
		if (marked)                                                                        \
			prof_start();                                                              \
	} while (0)
#define PIPE_RT_STOP()                                                                             \
	do {                                                                                       \
		if (marked)                                                                        \
			prof_stop();                                                               \
	} while (0)
#include "pipe_rt.h"

int main(void)
{
	uint64_t best = UINT64_MAX;

	pipe_roundtrip(20, 0); /* warm up */
	marked = 1;
	uint64_t in_marks = pipe_roundtrip(20, 0);
	marked = 0;
	for (int i = 0; i < 3; i++) {
		uint64_t r = pipe_roundtrip(500, 0);
		best = r && r < best ? r : best;
	}
	printf("BENCH lxabi.pipe_only %lu instructions rounds=500 (the marked 20: %lu)\n",
	       (unsigned long)best, (unsigned long)in_marks);
	return 0;
}
