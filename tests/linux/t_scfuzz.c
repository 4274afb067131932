/*
 * Random system calls with random arguments from a static Linux binary:
 * the personality must answer every one with a result (or end this
 * process with a signal, as Linux would) and keep serving the next
 * command. Calls that end or replace the process, or touch its own
 * mappings, are left out, as are writes (they would print noise).
 * Hallows only: the results differ from Linux's by design.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dull;
}

static char scratch[1 << 16];

/* An argument: small number, flags-like, a pointer into scratch, a wild pointer, or anything. */
static long arg(void)
{
	switch (rnd() % 6) {
	case 0:
		return (long)(rnd() % 8);
	case 1:
		return (long)(rnd() % 4096) - 100;
	case 2:
		return (long)(scratch + rnd() % (sizeof(scratch) - 512));
	case 3:
		return (long)(rnd() & 0x7ffffffff000ull);
	case 4:
		return -(long)(rnd() % 200);
	default:
		return (long)rnd();
	}
}

static int skipped(long nr)
{
	/* write, close, mmap..brk, rt_sigreturn, pwrite, writev, mremap, dup2, clone, fork, vfork,
	 * execve, exit, kill, ptrace, reboot, tkill, exit_group, tgkill, dup3, pwritev,
	 * process_vm_writev, execveat, clone3; pipe and pipe2 (a read of its own empty pipe
	 * waits forever, on Linux too), pause and rt_sigsuspend (wait forever for a signal),
	 * alarm and setitimer (SIGALRM's default action ends the process, on Linux too) */
	static const long no[] = {1,   3,   9,   10,  11,  12,  15,  18,  20,  22,  25,
	                          33,  34,  37,  38,  56,  57,  58,  59,  60,  62,  101,
	                          130, 169, 200, 231, 234, 292, 293, 296, 311, 322, 435};
	for (unsigned i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		if (no[i] == nr)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? strtol(argv[1], NULL, 10) : 20000, made = 0, errors = 0;

	static const long no_wait[2] = {0, 0}; /* a timespec of 0 */

	for (long i = 0; i < calls; i++) {
		long nr = (long)(rnd() % 520), a[6];
		for (int k = 0; k < 6; k++) /* drawn for skipped calls too: one sequence */
			a[k] = arg();
		if (skipped(nr))
			continue;
		/* Waits as long as they are told (hours), on Linux too: the timeout is 0. */
		if (nr == 7)
			a[2] = 0; /* poll */
		if (nr == 271)
			a[2] = (long)no_wait; /* ppoll */
		if (nr == 232 || nr == 281)
			a[3] = 0; /* epoll_wait, epoll_pwait */
		long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		made++;
		errors += r == -1;
	}
	printf("scfuzz: %ld calls made, %ld failed, the process survived\n", made, errors);
	return 0;
}
