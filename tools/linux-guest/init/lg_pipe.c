/*
 * Pipe ping-pong between two processes: the parent writes one byte into
 * pipe A and reads it back from pipe B; the child echoes A into B. One
 * round trip = two writes, two reads, two wake-ups. Same CPU (-smp 1) or
 * parent on CPU 0 and child on CPU 1 (-smp 2).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lg_bench.h"

#define LG_PIPE_WARMUP 200

/* Child: echo total bytes from rd to wr on cpu, then exit. */
static void pipe_child(int rd, int wr, long total, int cpu)
{
	char c;

	if (lg_pin_cpu(cpu) != 0)
		_exit(2);
	for (long i = 0; i < total; i++)
		if (read(rd, &c, 1) != 1 || write(wr, &c, 1) != 1)
			_exit(3);
	_exit(0);
}

/* Parent side: n round trips; returns 0 or -1. */
static int pipe_rounds(int wr, int rd, long n)
{
	char c = 'x';

	for (long i = 0; i < n; i++)
		if (write(wr, &c, 1) != 1 || read(rd, &c, 1) != 1)
			return -1;
	return 0;
}

/* CLOCK_MONOTONIC in ns (for the wall-clock variant). */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Run the ping-pong with the child on child_cpu; report under name, per
 * round trip, in TSC ticks (instructions under icount) or, with wall set,
 * in CLOCK_MONOTONIC nanoseconds.
 */
static int pipe_bench(const char *name, long iters, int child_cpu, const char *extra, int wall)
{
	int a[2], b[2], status = 0;
	pid_t pid;

	if (lg_pin_cpu(0) != 0)
		return lg_fail(name, "sched_setaffinity cpu 0");
	if (pipe(a) != 0 || pipe(b) != 0)
		return lg_fail(name, "pipe");
	pid = fork();
	if (pid < 0)
		return lg_fail(name, "fork");
	if (pid == 0)
		pipe_child(a[0], b[1], iters + LG_PIPE_WARMUP, child_cpu);
	int bad = pipe_rounds(a[1], b[0], LG_PIPE_WARMUP);
	uint64_t t0 = wall ? mono_ns() : lg_rdtsc();
	bad |= pipe_rounds(a[1], b[0], iters);
	uint64_t t1 = wall ? mono_ns() : lg_rdtsc();
	int saved = errno;
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	waitpid(pid, &status, 0);
	errno = saved;
	if (bad != 0)
		return lg_fail(name, "read/write");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("BENCH-ERROR %s child status %d\n", name, status);
		return -1;
	}
	if (wall)
		printf("BENCH %s %.1f ns iters=%ld %s\n", name, (double)(t1 - t0) / (double)iters,
		       iters, extra);
	else
		lg_report(name, (double)(t1 - t0) / (double)iters, iters, extra);
	fflush(stdout);
	return 0;
}

int lg_bench_pipe(long iters)
{
	return pipe_bench("ipc.linux.pipe_roundtrip_instructions", iters, 0, "cpus=1", 0);
}

/*
 * Cross-CPU variant. Under icount the TSC counts instructions of both vCPUs
 * (QEMU runs them round-robin on one host thread), so the figure is the sum
 * over both CPUs, including idle-entry/exit and the wake-up IPIs.
 */
static int pipe_xcpu(const char *name, long iters, int wall)
{
	if (lg_online_cpus() < 2) {
		printf("BENCH-ERROR %s needs 2 online CPUs (boot with -smp 2)\n", name);
		return -1;
	}
	return pipe_bench(name, iters, 1, "cpus=2", wall);
}

int lg_bench_pipe_xcpu(long iters)
{
	return pipe_xcpu("ipc.linux.pipe_roundtrip_xcpu_instructions", iters, 0);
}

/*
 * Wall-clock variant for plain TCG: QEMU 7.2 cannot boot a 2-vCPU Linux
 * under -icount (see docs/benchmarks.md), so the cross-CPU figure is
 * nanoseconds of guest CLOCK_MONOTONIC, which follows the host clock.
 */
int lg_bench_pipe_xcpu_ns(long iters)
{
	return pipe_xcpu("ipc.linux.pipe_roundtrip_xcpu_ns", iters, 1);
}
