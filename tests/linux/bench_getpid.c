/*
 * The cost of Linux system calls, in instructions (rdtsc counts
 * instructions under QEMU's -icount shift=0): one getpid (rounds of
 * "mov $SYS_getpid, %eax; syscall; dec; jnz" minus the same rounds without
 * the syscall), a one-byte pipe round trip between two processes,
 * fork+_exit+wait and fork+execve+wait of this program (which exits at
 * once when run as "bench_getpid exit"), a 4 KiB pread of a cached file
 * (this program's own file) and busybox sh running /etc/bench1000.sh, a
 * script of 1,000 commands (the whole run). The same binary runs on the
 * Hallows personality and as /init of the Linux guest (docs/linux.md,
 * "Measured"); the least disturbed of several runs counts.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/reboot.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pipe_rt.h"

static uint64_t rounds(long n, int with_syscall)
{
	uint64_t t0 = rdtsc();

	if (with_syscall)
		__asm__ volatile("1: mov %1, %%eax\n\tsyscall\n\tdec %0\n\tjnz 1b"
		                 : "+r"(n)
		                 : "i"(SYS_getpid)
		                 : "rax", "rcx", "r11", "memory", "cc");
	else
		__asm__ volatile("1: mov %1, %%eax\n\tdec %0\n\tjnz 1b"
		                 : "+r"(n)
		                 : "i"(SYS_getpid)
		                 : "rax", "memory", "cc");
	return rdtsc() - t0;
}

/* Instructions per fork + child exit (or execve of self) + wait. */
static uint64_t fork_wait(long n, const char *self)
{
	uint64_t t0 = rdtsc();

	for (long i = 0; i < n; i++) {
		pid_t c = fork();
		if (c == 0) {
			if (self) {
				char *av[] = {(char *)self, "exit", NULL};
				execve(self, av, NULL);
			}
			_exit(0);
		}
		waitpid(c, NULL, 0);
	}
	return (rdtsc() - t0) / n;
}

/* Instructions per 4 KiB pread of a file already in memory (page cache or the personality's
 * file tree). */
static uint64_t file_read(long n, const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY);

	if (fd < 0 || pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		return 0;
	uint64_t t0 = rdtsc();
	for (long i = 0; i < n; i++)
		if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return 0;
	uint64_t t = rdtsc() - t0;
	close(fd);
	return t / n;
}

/* Instructions for busybox sh to run the 1,000-command script, start to wait's end. */
static uint64_t script_1000(void)
{
	uint64_t t0 = rdtsc();
	int st = -1;
	pid_t c = fork();

	if (c == 0) {
		char *av[] = {"sh", "/etc/bench1000.sh", NULL};
		execve("/bin/busybox", av, NULL);
		_exit(127);
	}
	if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
		return 0;
	return rdtsc() - t0;
}

static uint64_t least(uint64_t a, uint64_t b)
{
	return a && a < b ? a : b;
}

int main(int argc, char **argv)
{
	const long n = 20000;

	if (argc > 1 && !strcmp(argv[1], "exit"))
		return 0; /* the program fork+execve runs */

	rounds(200, 1); /* warm up: page in the code, fill caches */
	uint64_t best = UINT64_MAX;
	for (int i = 0; i < 5; i++) { /* the least disturbed of five runs */
		uint64_t with = rounds(n, 1), without = rounds(n, 0);
		uint64_t per = with > without ? (with - without) / n : 0;
		best = per < best ? per : best;
	}
	struct utsname u;
	const char *sys = uname(&u) == 0 && strstr(u.release, "hallows") ? "hallows" : "linux";
	uint64_t pipe_rt = UINT64_MAX, fork_exit = UINT64_MAX, fork_exec = UINT64_MAX;
	uint64_t unix_rt = UINT64_MAX;
	uint64_t rd = UINT64_MAX;
	for (int i = 0; i < 3; i++) {
		pipe_rt = least(pipe_roundtrip(500, 0), pipe_rt);
		unix_rt = least(pipe_roundtrip(500, 1), unix_rt);
		fork_exit = least(fork_wait(30, NULL), fork_exit);
		fork_exec = least(fork_wait(10, argv[0]), fork_exec);
		rd = least(file_read(2000, argv[0]), rd);
	}
	uint64_t script = script_1000();
	printf("BENCH lxabi.%s.getpid_instructions %lu instructions calls=%ld\n"
	       "BENCH lxabi.%s.pipe_roundtrip_instructions %lu instructions rounds=500\n"
	       "BENCH lxabi.%s.fork_exit_wait_instructions %lu instructions rounds=30\n"
	       "BENCH lxabi.%s.fork_execve_wait_instructions %lu instructions rounds=10\n",
	       sys, (unsigned long)best, n, sys, (unsigned long)pipe_rt, sys,
	       (unsigned long)fork_exit, sys, (unsigned long)fork_exec);
	if (unix_rt && unix_rt != UINT64_MAX)
		printf("BENCH lxabi.%s.unix_roundtrip_instructions %lu instructions rounds=500\n",
		       sys, (unsigned long)unix_rt);
	if (rd && rd != UINT64_MAX)
		printf("BENCH lxabi.%s.file_read_4k_instructions %lu instructions reads=2000\n",
		       sys, (unsigned long)rd);
	if (script)
		printf("BENCH lxabi.%s.busybox_script_1000_instructions %lu instructions "
		       "commands=1000\n",
		       sys, (unsigned long)script);
	fflush(stdout);
	if (getpid() == 1)
		reboot(RB_POWER_OFF); /* as the Linux guest's /init */
	return 0;
}
