/*
 * Random system calls with random arguments from a static Linux binary:
 * the personality must answer every one with a result (or end this
 * process with a signal, as Linux would) and keep serving the next
 * command. Calls that end or replace the process, or touch its own
 * mappings, are left out, as are writes (they would print noise).
 * Then socket calls, and mremap and pwritev on ground of their own.
 * Hallows only: the results differ from Linux's by design.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

/*
 * Socket calls only, on non-blocking sockets (AF_UNIX and AF_INET, the loopback included):
 * socket, socketpair, connect, accept4, sendto, recvfrom, sendmsg, recvmsg, shutdown, bind,
 * listen, getsockname, getpeername, setsockopt, getsockopt, close, with addresses, message headers
 * and SCM_RIGHTS control data that are half right (lengths, families, paths, descriptors
 * drawn at random). No call can wait: every socket is made SOCK_NONBLOCK.
 */
static void sockets(long calls, long *made, long *errors)
{
	static const long nrs[] = {41, 53, 42, 288, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 55, 3};
	uint8_t *m = (uint8_t *)scratch;

	for (int fd = 3; fd < 64; fd++) /* the first part's descriptors may block */
		close(fd);
	signal(SIGPIPE, SIG_IGN); /* a send to a peer that closed: EPIPE, not the end */
	for (long i = 0; i < calls; i++) {
		long nr = nrs[rnd() % (sizeof(nrs) / sizeof(nrs[0]))], a[6];
		for (int k = 0; k < 6; k++)
			a[k] = arg();
		a[0] = rnd() % 4 ? (long)(3 + rnd() % 24) : a[0]; /* mostly a descriptor of ours */
		for (int k = 0; k < 64; k++) /* a sockaddr: AF_UNIX or AF_INET, paths, loopback */
			m[k] = (uint8_t)rnd();
		m[0] = (uint8_t)(rnd() % 3), m[1] = 0;
		if (m[0] == 1 && rnd() % 2)
			m[2] = rnd() % 2 ? 0 : '/', m[3] = 't', m[4] = 'm', m[5] = 'p',
			m[6] = rnd() % 2 ? 0 : '/';
		if (m[0] == 2)
			m[4] = 127, m[2] = 0, m[3] = (uint8_t)(rnd() % 4);
		uint64_t *h = (uint64_t *)(scratch + 256), *iov = (uint64_t *)(scratch + 512),
		         *cm = (uint64_t *)(scratch + 1024);
		h[0] = rnd() % 2 ? (uint64_t)m : 0, h[1] = rnd() % 130; /* name, namelen */
		h[2] = (uint64_t)iov, h[3] = rnd() % 3, h[4] = (uint64_t)cm,
		h[5] = rnd() % 4 ? 0 : rnd() % 80;
		iov[0] = (uint64_t)(scratch + 4096), iov[1] = rnd() % 20000;
		iov[2] = (uint64_t)(scratch + 32768), iov[3] = rnd() % 300;
		cm[0] = rnd() % 40, cm[1] = 1 | (uint64_t)(rnd() % 3)
		                                    << 32; /* SOL_SOCKET, SCM_RIGHTS */
		for (int k = 0; k < 8; k++)
			((int32_t *)(cm + 2))[k] = (int32_t)(rnd() % 30) - 2;
		switch (nr) {
		case 41: /* socket */
		case 53: /* socketpair */
			a[0] = rnd() % 4 ? 1 + (long)(rnd() % 2) : a[0];
			a[1] =
			    (rnd() % 4 ? (long)(1 + rnd() % 5) : a[1]) | 04000; /* SOCK_NONBLOCK */
			a[2] = rnd() % 4 ? 0 : a[2];
			a[3] = (long)(scratch + 2048);
			break;
		case 288: /* accept4 */
			a[3] |= 04000;
			break;
		case 42: /* connect */
		case 49: /* bind */
		case 44: /* sendto */
			a[nr == 44 ? 4 : 1] = (long)m;
			a[nr == 44 ? 5 : 2] = (long)(rnd() % 120);
			if (nr == 44)
				a[3] |= 0x40; /* MSG_DONTWAIT */
			break;
		case 46:                              /* sendmsg */
		case 47:                              /* recvmsg */
			a[1] = (long)h, a[2] |= 0x40; /* MSG_DONTWAIT */
			break;
		case 45: /* recvfrom */
			a[3] |= 0x40;
			break;
		default:
			break;
		}
		long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		(*made)++;
		*errors += r == -1;
	}
}

/*
 * mremap with arguments half right, on two arenas of this process only (old ranges in the
 * first, MREMAP_FIXED targets in the second: the program's own mappings are never moved or
 * replaced), each made again before every call; what moved elsewhere is unmapped at once.
 * And pwritev and pwritev2 on a file of /tmp (writes to the console would print noise).
 */
static void memory(long calls, long *made, long *errors)
{
	const unsigned long pg = 4096, half = 256 * pg;
	char *arena =
	    mmap(NULL, 2 * half, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/tmp/scfuzz.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint64_t *iov = (uint64_t *)(scratch + 512);

	if (arena == MAP_FAILED)
		return;
	for (long i = 0; i < calls; i++) {
		long r, a[6];
		for (int k = 0; k < 6; k++)
			a[k] = arg();
		if (rnd() % 4 == 0) { /* pwritev (296), pwritev2 (328) */
			iov[0] = (uint64_t)(scratch + 4096), iov[1] = rnd() % 3000;
			iov[2] = (uint64_t)arg(), iov[3] = rnd() % 2 ? 0 : (uint64_t)arg();
			a[0] =
			    rnd() % 4 ? fd : 1000 + (long)(rnd() % 8); /* not the console: EBADF */
			a[1] = rnd() % 4 ? (long)iov : a[1];
			a[2] = rnd() % 4 ? (long)(rnd() % 3) : a[2];
			/* The file stays small (emptied before each call, offsets in 8 KiB or past
			 * the 16 MiB of written data, EFBIG): the server's heap, where written
			 * files live, has few pages (each takes one of the runtime's 128 capability
			 * slots). */
			a[3] = rnd() % 4  ? (long)(rnd() % 8192) - 2
			       : a[3] < 0 ? a[3]
			                  : a[3] | 1L << 40;
			if (ftruncate(fd, 0))
				continue;
			a[5] = rnd() % 2 ? (long)(rnd() % 0x80) : a[5];
			r = syscall(rnd() % 2 ? 296 : 328, a[0], a[1], a[2], a[3], a[4], a[5]);
		} else {
			if (mmap(arena, 2 * half, PROT_READ | PROT_WRITE,
			         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
				break;
			for (int k = 0; k < 8; k++) /* pages to move */
				arena[(rnd() % 512) * pg] = 1;
			if (rnd() % 4 == 0)
				mprotect(arena + (rnd() % 256) * pg, (rnd() % 8) * pg, PROT_READ);
			unsigned long off = (rnd() % 256) * pg, toff = (rnd() % 256) * pg,
			              old = (unsigned long)arena + off,
			              olen = rnd() % 4 ? (rnd() % 64) * pg : (unsigned long)a[1],
			              nlen = rnd() % 4 ? (rnd() % 300) * pg : (unsigned long)a[2],
			              flags = rnd() % 4 ? rnd() % 8 : (unsigned long)a[3],
			              to = (unsigned long)arena + half + toff;
			/* A length that could be taken stays in the arenas: a shrink unmaps the old
			 * range's tail, MREMAP_FIXED replaces the target (on Linux too); past the
			 * address space (overflows, EINVAL) anything goes. */
			if (olen < (1ul << 47) && olen > 2 * half - off)
				olen %= 2 * half - off + 1;
			if ((flags & 2) && nlen < (1ul << 47) && nlen > half - toff)
				nlen %= half - toff + 1;
			old += rnd() % 8 ? 0 : rnd() % pg;
			to += rnd() % 8 ? 0 : rnd() % pg;
			if (!(flags & 2) && rnd() % 2)
				to = (unsigned long)a[4]; /* not looked at without MREMAP_FIXED */
			r = syscall(25, old, olen, nlen, flags, to);
			if (r != -1 && ((unsigned long)r < (unsigned long)arena ||
			                (unsigned long)r >= (unsigned long)arena + 2 * half))
				munmap((void *)r,
				       (nlen + pg - 1) & ~(pg - 1)); /* moved elsewhere */
		}
		(*made)++;
		*errors += r == -1;
	}
	munmap(arena, 2 * half);
	close(fd);
	unlink("/tmp/scfuzz.dat");
}

int main(int argc, char **argv)
{
	long calls = argc > 1 ? strtol(argv[1], NULL, 10) : 20000, made = 0, errors = 0;

	static const long no_wait[2] = {0, 0};                       /* a timespec of 0 */
	static long zero[2];                                         /* a writable one */
	bool only_sockets = argc > 2 && !strcmp(argv[2], "sockets"); /* t_scfuzz N sockets */

	for (long i = 0; i < calls && !only_sockets; i++) {
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
			a[3] = 0;      /* epoll_wait, epoll_pwait */
		zero[0] = zero[1] = 0; /* select writes the time left back */
		if (nr == 35)
			a[0] = (long)zero; /* nanosleep */
		if (nr == 230)
			a[2] = (long)zero; /* clock_nanosleep */
		if (nr == 23 || nr == 270)
			a[4] = (long)zero; /* select, pselect6 */
		if (nr == 41 || nr == 53)
			a[1] |=
			    04000; /* socket, socketpair: a read of one would wait (as a pipe's) */
		long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
		made++;
		errors += r == -1;
	}
	sockets(only_sockets ? calls : calls / 4, &made, &errors);
	if (!only_sockets)
		memory(calls / 8, &made, &errors);
	printf("scfuzz: %ld calls made, %ld failed, the process survived\n", made, errors);
	return 0;
}
