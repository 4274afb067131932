/*
 * select and pselect6 (issue 15): fd_sets on pipes, files, /dev/null and
 * epoll instances, a wait woken by another process's write, timeouts and
 * the time written back, EBADF, EINVAL, EFAULT; pselect6's, ppoll's and
 * epoll_pwait's signal masks (a signal the mask lets in ends the wait with
 * EINTR and the handler runs; the old mask is back after the call).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static volatile int got;

static void on_usr1(int sig)
{
	got = sig;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void show_set(const char *label, const fd_set *s, int n)
{
	printf("%s:", label);
	for (int fd = 0; fd < n; fd++)
		if (FD_ISSET(fd, s))
			printf(" %d", fd);
	printf("\n");
}

/* The raw calls: musl's select and pselect pass a copy of the timeout (and check it
 * themselves); these show the kernel's checks and its write-back of the time left. */
static long raw_pselect6(int n, fd_set *r, fd_set *w, fd_set *e, struct timespec *ts,
                         const sigset_t *mask)
{
	long data[2] = {(long)mask, 8};
	return syscall(SYS_pselect6, n, r, w, e, ts, mask ? data : NULL);
}

int main(void)
{
	int p[2], q[2];
	fd_set r, w;
	struct timeval tv;

	pipe(p);
	pipe(q);
	int fd = open("/etc/hello.txt", O_RDONLY);
	int null = open("/dev/null", O_WRONLY);
	int top = null > fd ? null : fd;

	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(q[0], &r);
	FD_SET(fd, &r);
	FD_SET(p[1], &w);
	FD_SET(null, &w);
	tv = (struct timeval){0, 0};
	SHOW("select pipes, file, null", select(top + 1, &r, &w, NULL, &tv));
	show_set("  readable", &r, top + 1);
	show_set("  writable", &w, top + 1);
	printf("  zero timeout kept: %ld %ld\n", (long)tv.tv_sec, (long)tv.tv_usec);

	write(p[1], "x", 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	FD_SET(q[0], &r);
	FD_ZERO(&w);
	FD_SET(p[0], &w); /* the read end is never writable */
	SHOW("select data in one pipe", select(q[0] + 1, &r, &w, NULL, NULL));
	show_set("  readable", &r, q[0] + 1);
	show_set("  writable", &w, q[0] + 1);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	FD_ZERO(&w);
	FD_SET(p[1], &w);
	SHOW("select read and write of one fd: counted twice",
	     select(p[1] + 1, &r, &w, NULL, NULL));

	/* Timeouts: the time left is written back. */
	FD_ZERO(&r);
	FD_SET(q[0], &r);
	tv = (struct timeval){0, 50000};
	long long t0 = now_ms();
	SHOW("select times out", syscall(SYS_select, q[0] + 1, &r, NULL, NULL, &tv));
	long long dt = now_ms() - t0;
	printf("  waited 40-1000 ms: %d\n", dt >= 40 && dt < 1000);
	show_set("  readable", &r, q[0] + 1);
	printf("  timeout written back: %ld %ld\n", (long)tv.tv_sec, (long)tv.tv_usec);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct timeval){5, 0};
	SHOW("select ready at once", syscall(SYS_select, p[0] + 1, &r, NULL, NULL, &tv));
	printf("  time left 4-5 s: %d\n", tv.tv_sec == 4 || (tv.tv_sec == 5 && tv.tv_usec == 0));
	tv = (struct timeval){0, 1500000}; /* Linux folds whole seconds of tv_usec */
	SHOW("select tv_usec 1500000 (ready)", syscall(SYS_select, p[0] + 1, &r, NULL, NULL, &tv));

	/* A wait woken by a child's write. */
	pid_t c = fork();
	if (c == 0) {
		struct timespec d = {0, 30000000};
		nanosleep(&d, NULL);
		write(q[1], "y", 1);
		_exit(0);
	}
	FD_ZERO(&r);
	FD_SET(q[0], &r);
	SHOW("select woken by the child's write", select(q[0] + 1, &r, NULL, NULL, NULL));
	show_set("  readable", &r, q[0] + 1);
	int st;
	waitpid(c, &st, 0);

	/* End of file and an epoll instance. */
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1};
	epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev);
	FD_ZERO(&r);
	FD_SET(ep, &r);
	SHOW("select on an epoll fd with a ready pipe", select(ep + 1, &r, NULL, NULL, NULL));
	close(q[1]);
	char buf[4];
	read(q[0], buf, sizeof(buf));
	FD_ZERO(&r);
	FD_SET(q[0], &r);
	SHOW("select at end of file", select(q[0] + 1, &r, NULL, NULL, NULL));

	/* Errors. */
	FD_ZERO(&r);
	FD_SET(q[1], &r); /* closed */
	SHOW("select closed fd", select(q[1] + 1, &r, NULL, NULL, NULL));
	FD_ZERO(&r);
	SHOW("select nfds -1", syscall(SYS_select, -1, &r, NULL, NULL, NULL));
	tv = (struct timeval){-1, 0};
	SHOW("select tv_sec -1", syscall(SYS_select, 1, &r, NULL, NULL, &tv));
	tv = (struct timeval){0, -1};
	SHOW("select tv_usec -1", syscall(SYS_select, 1, &r, NULL, NULL, &tv));
	SHOW("select bad set pointer", syscall(SYS_select, 4, (fd_set *)8, NULL, NULL, NULL));
	SHOW("select bad timeout pointer",
	     syscall(SYS_select, 4, NULL, NULL, NULL, (struct timeval *)8));
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	SHOW("select nfds past the table (bits past it ignored)",
	     select(FD_SETSIZE, &r, NULL, NULL, NULL));
	struct timespec ts = {0, 1000000000};
	SHOW("pselect6 tv_nsec 1e9", raw_pselect6(1, &r, NULL, NULL, &ts, NULL));
	ts = (struct timespec){0, 20000000};
	FD_ZERO(&r);
	SHOW("pselect6 no sets: a sleep", raw_pselect6(0, NULL, NULL, NULL, &ts, NULL));
	printf("  timespec written back: %ld %ld\n", (long)ts.tv_sec, ts.tv_nsec);
	sigset_t any;
	sigemptyset(&any);
	long bad[2] = {(long)&any, 4};
	SHOW("pselect6 mask size 4", syscall(SYS_pselect6, 0, NULL, NULL, NULL, &ts, bad));

	/* Signal masks: SIGUSR1 blocked, let in by the call's mask. */
	struct sigaction sa = {.sa_handler = on_usr1};
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t block, none, now;
	sigemptyset(&block), sigaddset(&block, SIGUSR1), sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &block, NULL);
	raise(SIGUSR1);
	printf("blocked, pending: handler ran %d\n", got);
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	SHOW("pselect6 ready, with a mask that lets SIGUSR1 in",
	     raw_pselect6(p[0] + 1, &r, NULL, NULL, NULL, &none));
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("  handler ran %d, still blocked %d\n", got, sigismember(&now, SIGUSR1));
	read(p[0], buf, 1); /* p is empty now */
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	SHOW("pselect6 waiting, the pending SIGUSR1 let in",
	     raw_pselect6(p[0] + 1, &r, NULL, NULL, NULL, &none));
	sigprocmask(SIG_BLOCK, NULL, &now);
	printf("  handler ran %d, blocked again %d\n", got, sigismember(&now, SIGUSR1));
	got = 0;
	raise(SIGUSR1);
	struct pollfd pf = {.fd = p[0], .events = POLLIN};
	SHOW("ppoll with the mask", ppoll(&pf, 1, NULL, &none));
	printf("  handler ran %d\n", got);
	got = 0;
	raise(SIGUSR1);
	int ep2 = epoll_create1(0); /* nothing to watch: only the signal ends the wait */
	SHOW("epoll_pwait with the mask", epoll_pwait(ep2, &ev, 1, -1, &none));
	printf("  handler ran %d\n", got);
	got = 0;
	raise(SIGUSR1);
	ts = (struct timespec){0, 10000000};
	SHOW("ppoll with SIGUSR1 still blocked: times out", ppoll(&pf, 1, &ts, &block));
	printf("  handler ran %d\n", got);
	SHOW("ppoll mask size 4", syscall(SYS_ppoll, &pf, 1, NULL, &none, 4));
	SHOW("epoll_pwait mask size 4", syscall(SYS_epoll_pwait, ep, &ev, 1, 0, &none, 4));
	ts = (struct timespec){-1, 0};
	SHOW("ppoll tv_sec -1", ppoll(&pf, 1, &ts, NULL));
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	printf("unblocked: handler ran %d\n", got);

	/* A signal from another process ends a select with EINTR and the time left. */
	got = 0;
	c = fork();
	if (c == 0) {
		struct timespec d = {0, 30000000};
		nanosleep(&d, NULL);
		kill(getppid(), SIGUSR1);
		_exit(0);
	}
	FD_ZERO(&r);
	FD_SET(p[0], &r);
	tv = (struct timeval){10, 0};
	SHOW("select interrupted by a signal", syscall(SYS_select, p[0] + 1, &r, NULL, NULL, &tv));
	printf("  handler ran %d, time left 9-10 s %d\n", got,
	       tv.tv_sec == 9 || (tv.tv_sec == 10 && tv.tv_usec == 0));
	waitpid(c, &st, 0);
	return 0;
}
