/*
 * Containment (Hallows only: Linux as root has no such limits here): a
 * fork bomb stops at EAGAIN and every child is reaped; a memory hog is
 * killed (SIGKILL) when the personality's memory for it runs out; both
 * times the next child still runs. A hog growing by mremap ends the same
 * way (or with ENOMEM), and one mremap asking for more than all the
 * memory gets ENOMEM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int pfd[2], n = 0, reaped = 0, st;
	pid_t c;

	setvbuf(stdout, NULL, _IONBF, 0);
	pipe(pfd);
	for (;;) {
		c = fork();
		if (c == 0) { /* waits until the parent closes the pipe */
			char b;
			close(pfd[1]);
			read(pfd[0], &b, 1);
			_exit(0);
		}
		if (c < 0)
			break;
		if (++n > 10000)
			break;
	}
	int err = errno;
	close(pfd[1]);
	while (wait(&st) > 0)
		reaped++;
	printf("limits: fork bomb stopped by %s, all %d children reaped: %d\n",
	       err == EAGAIN ? "EAGAIN" : strerror(err), n, reaped == n);

	if ((c = fork()) == 0) {
		for (size_t i = 0;; i++) {
			char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (m == MAP_FAILED)
				_exit(2);
			memset(m, 1, 1 << 20); /* touch every page */
		}
	}
	waitpid(c, &st, 0);
	int hog = WIFSIGNALED(st) ? WTERMSIG(st) : -WEXITSTATUS(st);
	if ((c = fork()) == 0)
		_exit(7);
	waitpid(c, &st, 0);
	printf("limits: memory hog killed by signal %d, the next child %s\n", hog,
	       WIFEXITED(st) && WEXITSTATUS(st) == 7 ? "runs" : "failed");

	/* The same hog growing one mapping by mremap (moving it when it must). */
	if ((c = fork()) == 0) {
		size_t len = 1 << 20;
		char *m =
		    mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		for (;;) {
			memset(m + len - (1 << 20), 1, 1 << 20);
			char *n = mremap(m, len, len + (1 << 20), MREMAP_MAYMOVE);
			if (n == MAP_FAILED)
				_exit(errno == ENOMEM ? 3 : 2);
			m = n, len += 1 << 20;
		}
	}
	waitpid(c, &st, 0);
	hog = WIFSIGNALED(st) ? WTERMSIG(st) : -WEXITSTATUS(st);
	char *one = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *r = mremap(one, 4096, 1ul << 40, MREMAP_MAYMOVE); /* more than all the memory */
	printf("limits: mremap hog %s %d, one of 1 TiB: %s\n",
	       hog > 0 ? "killed by signal" : "stopped by exit", hog < 0 ? -hog : hog,
	       r == MAP_FAILED && errno == ENOMEM ? "ENOMEM" : "mapped");
	return 0;
}
