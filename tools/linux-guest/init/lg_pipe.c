/*
 * Pipe ping-pong between two processes: the parent writes one byte into
 * pipe A and reads it back from pipe B; the child echoes A into B. One
 * round trip = two writes, two reads, two wake-ups. Same CPU (-smp 1) or
 * parent on CPU 0 and child on CPU 1 (-smp 2).
 */
#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>
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

/* Run the ping-pong with the child on child_cpu; report under name. */
static int pipe_bench(const char *name, long iters, int child_cpu,
		      const char *extra)
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
	uint64_t t0 = lg_rdtsc();
	bad |= pipe_rounds(a[1], b[0], iters);
	uint64_t t1 = lg_rdtsc();
	int saved = errno;
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
	waitpid(pid, &status, 0);
	errno = saved;
	if (bad != 0)
		return lg_fail(name, "read/write");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("BENCH-ERROR %s child status %d\n", name, status);
		return -1;
	}
	lg_report(name, (double)(t1 - t0) / (double)iters, iters, extra);
	return 0;
}

int lg_bench_pipe(long iters)
{
	return pipe_bench("ipc.linux.pipe_roundtrip_instructions", iters, 0,
			  "cpus=1");
}

/*
 * Cross-CPU variant. Under icount the TSC counts instructions of both vCPUs
 * (QEMU runs them round-robin on one host thread), so the figure is the sum
 * over both CPUs, including idle-entry/exit and the wake-up IPIs.
 */
int lg_bench_pipe_xcpu(long iters)
{
	const char *name = "ipc.linux.pipe_roundtrip_xcpu_instructions";

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		printf("BENCH-ERROR %s needs 2 online CPUs (boot with -smp 2)\n",
		       name);
		return -1;
	}
	return pipe_bench(name, iters, 1, "cpus=2");
}
