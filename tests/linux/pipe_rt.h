/*
 * The pipe round trip of the issue-15 benchmarks, shared by bench_getpid
 * (which measures it among its figures) and bench_pipe (the same alone,
 * for profiling): PIPE_RT_START() and PIPE_RT_STOP() run just around the
 * measured rounds (nothing unless the includer defines them).
 */
#ifndef TESTS_LINUX_PIPE_RT_H
#define TESTS_LINUX_PIPE_RT_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PIPE_RT_START
#define PIPE_RT_START()
#define PIPE_RT_STOP()
#endif

static uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Instructions per pipe round trip: the parent sends a byte, the child sends it back (unix:
 * through the two ends of an AF_UNIX stream socketpair instead of two pipes). */
static uint64_t pipe_roundtrip(long n, int unix_pair)
{
	int to[2], back[2];
	char b = 'x';

	if (unix_pair) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, to))
			return 0;
		back[0] = to[0], back[1] = to[1], to[1] = dup(back[0]), to[0] = dup(back[1]);
	} else if (pipe(to) || pipe(back)) {
		return 0;
	}
	pid_t c = fork();
	if (c == 0) {
		for (long i = 0; i < n + 1; i++)
			if (read(to[0], &b, 1) != 1 || write(back[1], &b, 1) != 1)
				_exit(1);
		_exit(0);
	}
	write(to[1], &b, 1); /* one round to start with: the child is running */
	read(back[0], &b, 1);
	PIPE_RT_START();
	uint64_t t0 = rdtsc();
	for (long i = 0; i < n; i++) {
		write(to[1], &b, 1);
		read(back[0], &b, 1);
	}
	uint64_t t = rdtsc() - t0;
	PIPE_RT_STOP();
	waitpid(c, NULL, 0);
	close(to[0]), close(to[1]), close(back[0]), close(back[1]);
	return t / n;
}

#endif
