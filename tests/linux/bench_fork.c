/*
 * fork + _exit + wait of bench_getpid alone, for profiling: its measured
 * rounds lie between prof_start() and prof_stop(), where tools/pathprof.py
 * opens and closes its window (docs/linux.md, "Measured"). Prints the least
 * of three runs of 30 rounds in instructions (rdtsc counts instructions
 * under -icount), as bench_getpid counts them.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

__attribute__((noinline)) void prof_start(void)
{
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void prof_stop(void)
{
	__asm__ volatile("" ::: "memory");
}

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t fork_wait(long n, int marked)
{
	uint64_t t0 = rdtsc();

	if (marked)
		prof_start();
	for (long i = 0; i < n; i++) {
		pid_t c = fork();
		if (c == 0)
			_exit(0);
		if (waitpid(c, NULL, 0) != c)
			return 0;
	}
	if (marked)
		prof_stop();
	return (rdtsc() - t0) / n;
}

int main(void)
{
	uint64_t best = UINT64_MAX;

	fork_wait(10, 0); /* warm up */
	uint64_t in_marks = fork_wait(10, 1);
	for (int i = 0; i < 3; i++) {
		uint64_t r = fork_wait(30, 0);
		best = r && r < best ? r : best;
	}
	printf("BENCH lxabi.fork_only %lu instructions rounds=30 (the marked 10: %lu)\n",
	       (unsigned long)best, (unsigned long)in_marks);
	return best == UINT64_MAX;
}
