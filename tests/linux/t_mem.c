/* brk, mmap, munmap and mprotect: results that match Linux's (addresses are not printed). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static long raw(long nr, long a, long b, long c, long d, long e, long f)
{
	return syscall(nr, a, b, c, d, e, f);
}

/*
 * MAP_SHARED | MAP_ANONYMOUS is shared with fork children, both ways, for pages touched before
 * the fork and after it, and by a grandchild; MAP_PRIVATE is not (bug
 * map_shared_anonymous_was_copied_at_fork: the personality gave the child a copy).
 */
static void shared_anonymous(void)
{
	volatile int *sh =
	    mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile int *pv =
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int st;

	sh[0] = 1;
	pv[0] = 1;
	pid_t c = fork();
	if (c == 0) {
		sh[0] = 42;    /* a page the parent touched */
		sh[1024] = 43; /* one nobody touched */
		pv[0] = 2;
		time_t t0 = time(NULL); /* the parent writes it after the fork; 3 s at most */
		while (sh[2048] != 7 && time(NULL) - t0 < 3)
			sched_yield();
		if (fork() == 0) {
			sh[2049] = 44;
			_exit(0);
		}
		wait(&st);
		_exit(0);
	}
	sh[2048] = 7;
	waitpid(c, &st, 0);
	printf("MAP_SHARED after fork: %d %d %d, MAP_PRIVATE %d\n", sh[0], sh[1024], sh[2049],
	       pv[0]);
	mprotect((void *)sh, 4096, PROT_READ);
	mprotect((void *)sh, 4096, PROT_READ | PROT_WRITE);
	if ((c = fork()) == 0) {
		sh[1] = 45;
		_exit(0);
	}
	waitpid(c, &st, 0);
	printf("MAP_SHARED after mprotect: %d\n", sh[1]);
	munmap((void *)sh, 3 * 4096);
	munmap((void *)pv, 4096);
}

int main(void)
{
	uintptr_t b0 = (uintptr_t)raw(SYS_brk, 0, 0, 0, 0, 0, 0);
	uintptr_t b1 = (uintptr_t)raw(SYS_brk, (long)(b0 + 100000), 0, 0, 0, 0, 0);
	printf("brk grows: %d\n", b1 == b0 + 100000);
	memset((void *)b0, 0x5a, 100000);
	printf("heap written: %d\n", ((unsigned char *)b0)[99999] == 0x5a);
	uintptr_t b2 = (uintptr_t)raw(SYS_brk, (long)b0, 0, 0, 0, 0, 0);
	printf("brk shrinks: %d\n", b2 == b0);

	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("mmap 1 MiB: %d, zeroed: %d\n", m != MAP_FAILED, m[4096 * 100] == 0);
	for (int i = 0; i < 1 << 20; i += 4096)
		m[i] = (char)i;
	printf("written: %d\n", m[4096 * 7] == (char)(4096 * 7));
	printf("munmap half: %d\n", munmap(m + (1 << 19), 1 << 19));
	printf("mprotect read-only: %d\n", mprotect(m, 4096, PROT_READ));
	printf("still readable: %d\n", m[0] == 0);
	SHOW("mmap len 0", (long)mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
	SHOW("mmap no type", (long)mmap(NULL, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0));
	SHOW("munmap unaligned", munmap(m + 1, 4096));
	SHOW("mmap bad fd", (long)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 77, 0));
	char *h = NULL;
	for (int i = 0; i < 64; i++) { /* malloc through brk and mmap */
		char *x = malloc(4096 * (i + 1));
		if (!x)
			return 1;
		memset(x, i, 4096 * (i + 1));
		free(h);
		h = x;
	}
	printf("malloc churn: ok\n");
	free(h);
	shared_anonymous();
	return 0;
}
