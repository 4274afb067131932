/*
 * The pipe round trip of bench_getpid (a byte to a child and back, two
 * processes) alone, for profiling: its measured rounds lie between
 * prof_start() and prof_stop(), where tools/pathprof.py opens and closes
 * its window (docs/linux.md, "Measured"). Prints the least of three runs of
 * 500 rounds in instructions (rdtsc counts instructions under -icount).
 * Kept apart from bench_getpid so that program's figures keep their layout.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

__attribute__((noinline)) void prof_start(void)
{
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void prof_stop(void)
{
	__asm__ volatile("" ::: "memory");
}

static uint64_t pipe_roundtrip(long n, int marked)
{
	int to[2], back[2];
	char b = 'x';

	if (pipe(to) || pipe(back))
		return 0;
	pid_t c = fork();
	if (c == 0) {
		for (long i = 0; i < n + 1; i++)
			if (read(to[0], &b, 1) != 1 || write(back[1], &b, 1) != 1)
				_exit(1);
		_exit(0);
	}
	write(to[1], &b, 1); /* one round to start with: the child is running */
	read(back[0], &b, 1);
	if (marked)
		prof_start();
	uint64_t t0 = rdtsc();
	for (long i = 0; i < n; i++) {
		write(to[1], &b, 1);
		read(back[0], &b, 1);
	}
	uint64_t t = rdtsc() - t0;
	if (marked)
		prof_stop();
	waitpid(c, NULL, 0);
	close(to[0]), close(to[1]), close(back[0]), close(back[1]);
	return t / n;
}

int main(void)
{
	uint64_t best = UINT64_MAX;

	pipe_roundtrip(20, 0); /* warm up */
	uint64_t marked = pipe_roundtrip(20, 1);
	for (int i = 0; i < 3; i++) {
		uint64_t r = pipe_roundtrip(500, 0);
		best = r && r < best ? r : best;
	}
	printf("BENCH lxabi.pipe_only %lu instructions rounds=500 (the marked 20: %lu)\n",
	       (unsigned long)best, (unsigned long)marked);
	return 0;
}
