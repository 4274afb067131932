/*
 * fork beside Hallows snapshots (docs/snapshots.md, user/apps/snapbench):
 * a process with 64 MiB, 256 MiB or 1 GiB of resident anonymous memory in
 * 4 KiB pages (MADV_NOHUGEPAGE, like the Hallows child's 4 KiB frames)
 * forks; the parent times fork() itself, the child writes one word in 1%
 * or 10% of the pages (every 100th / 10th: each a copy-on-write fault),
 * then the same words again (no faults), and reports the difference per
 * page. Argument: "fork" (iterations unused).
 *
 *   BENCH fork.linux.fork_<size>_instructions
 *   BENCH fork.linux.cow_fault_<size>_<pct>_per_page_instructions
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg_bench.h"

static uint64_t write_every(volatile uint8_t *p, size_t pages, size_t every)
{
	uint64_t t0 = lg_rdtsc();
	for (size_t i = 0; i < pages; i += every)
		p[i * 4096 + 64] = (uint8_t)i;
	return lg_rdtsc() - t0;
}

static int fork_one(const char *size_name, size_t bytes)
{
	char name[96];
	size_t pages = bytes / 4096;
	volatile uint8_t *p =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return lg_fail("fork", "mmap");
	madvise((void *)p, bytes, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < pages; i++) /* resident, every page its own */
		p[i * 4096] = 1;
	static const struct {
		const char *name;
		size_t every; /* 0: fork alone */
	} fr[] = {{"0pct", 0}, {"1pct", 100}, {"10pct", 10}};
	for (int f = 0; f < 3; f++) {
		int fds[2];
		if (pipe(fds))
			return lg_fail("fork", "pipe");
		uint64_t t0 = lg_rdtsc();
		pid_t pid = fork();
		uint64_t t1 = lg_rdtsc();
		if (pid < 0)
			return lg_fail("fork", "fork");
		if (pid == 0) {
			uint64_t per = 0;
			if (fr[f].every) {
				uint64_t cow = write_every(p, pages, fr[f].every);
				uint64_t plain = write_every(p, pages, fr[f].every);
				per = (cow - plain) / (pages / fr[f].every);
			}
			if (write(fds[1], &per, sizeof(per)) != sizeof(per))
				_exit(1);
			_exit(0);
		}
		uint64_t per = 0;
		int st = 0;
		ssize_t got = read(fds[0], &per, sizeof(per));
		waitpid(pid, &st, 0);
		close(fds[0]), close(fds[1]);
		if (got != sizeof(per) || !WIFEXITED(st) || WEXITSTATUS(st))
			return lg_fail("fork", "child");
		if (f == 0) {
			snprintf(name, sizeof(name), "fork.linux.fork_%s_instructions", size_name);
			lg_report(name, (double)(t1 - t0), 1, "");
		} else {
			snprintf(name, sizeof(name),
			         "fork.linux.cow_fault_%s_%s_per_page_instructions", size_name,
			         fr[f].name);
			lg_report(name, (double)per, (long)(pages / fr[f].every), "");
		}
	}
	munmap((void *)p, bytes);
	return 0;
}

int lg_bench_fork(long iters)
{
	(void)iters;
	if (fork_one("64mib", 64ul << 20) || fork_one("256mib", 256ul << 20) ||
	    fork_one("1gib", 1ul << 30))
		return -1;
	return 0;
}
