/*
 * epoll (issue 15): epoll_create/create1, epoll_ctl ADD/MOD/DEL,
 * epoll_wait/epoll_pwait on pipes, level-triggered, EPOLLET, EPOLLONESHOT,
 * EPOLLHUP, timeouts, a wait woken by another process's write, and the
 * error codes (EINVAL, EBADF, EEXIST, ENOENT, EPERM, EFAULT).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void show_wait(const char *label, int ep, int timeout)
{
	struct epoll_event ev[4];
	int n = epoll_wait(ep, ev, 4, timeout);
	printf("%s: %d", label, n);
	for (int i = 0; i < n; i++)
		printf(" [events %#x data %llu]", ev[i].events, (unsigned long long)ev[i].data.u64);
	printf("\n");
}

int main(void)
{
	int p[2], q[2];
	char c;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 1111};

	int ep = epoll_create1(0);
	printf("epoll_create1: %s\n", ep >= 0 ? "a descriptor" : "failed");
	SHOW("epoll_create1 bad flags", epoll_create1(12345));
	SHOW("epoll_create size 0", epoll_create(0));
	int ep2 = epoll_create1(EPOLL_CLOEXEC);
	SHOW("epoll_create1 CLOEXEC, FD_CLOEXEC set", fcntl(ep2, F_GETFD));
	pipe(p);
	pipe(q);

	SHOW("ctl add read end", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	show_wait("nothing yet", ep, 0);
	write(p[1], "ab", 2);
	show_wait("data in the pipe", ep, 0);
	show_wait("level-triggered: still", ep, 0);
	read(p[0], &c, 1);
	read(p[0], &c, 1);
	show_wait("all read", ep, 0);

	ev.events = EPOLLOUT, ev.data.u64 = 2222;
	SHOW("ctl add write end", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev));
	show_wait("write end writable", ep, 0);
	SHOW("ctl del write end", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
	SHOW("ctl del again", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL));
	SHOW("ctl add again", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
	SHOW("ctl mod not added", epoll_ctl(ep, EPOLL_CTL_MOD, q[0], &ev));
	SHOW("ctl add closed descriptor", epoll_ctl(ep, EPOLL_CTL_ADD, 99, &ev));
	SHOW("ctl add itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev));
	SHOW("ctl on a pipe, not an epoll", epoll_ctl(p[0], EPOLL_CTL_ADD, q[0], &ev));
	int f = open("/etc/words", O_RDONLY);
	SHOW("ctl add a regular file", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev));
	SHOW("ctl bad event pointer", epoll_ctl(ep, EPOLL_CTL_ADD, q[0], (void *)8));
	SHOW("ctl op 99", epoll_ctl(ep, 99, q[0], &ev));
	struct epoll_event out[2];
	SHOW("wait maxevents 0", epoll_wait(ep, out, 0, 0));
	SHOW("wait bad events pointer", epoll_wait(ep, (void *)8, 2, 0));
	SHOW("wait kernel events pointer", epoll_wait(ep, (void *)-64, 2, 5000));
	SHOW("wait on a pipe", epoll_wait(p[0], out, 2, 0));
	SHOW("wait closed descriptor", epoll_wait(98, out, 2, 0));
	SHOW("read an epoll descriptor", read(ep, &c, 1));

	/* EPOLLET: once per change; EPOLLONESHOT: once until MOD */
	ev.events = EPOLLIN | EPOLLET, ev.data.u64 = 3333;
	SHOW("ctl mod to EPOLLET", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	write(p[1], "x", 1);
	show_wait("edge", ep, 0);
	show_wait("no new edge", ep, 0);
	read(p[0], &c, 1);
	write(p[1], "y", 1);
	show_wait("read, written again: an edge", ep, 0);
	read(p[0], &c, 1);
	ev.events = EPOLLIN | EPOLLONESHOT, ev.data.u64 = 4444;
	SHOW("ctl mod to EPOLLONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	write(p[1], "z", 1);
	show_wait("oneshot", ep, 0);
	show_wait("oneshot, disabled", ep, 0);
	SHOW("ctl mod re-arms", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
	show_wait("oneshot again", ep, 0);
	read(p[0], &c, 1);

	/* two ready, maxevents 1; then EPOLLHUP when the writer goes */
	ev.events = EPOLLIN, ev.data.u64 = 5555;
	epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev);
	ev.events = EPOLLIN, ev.data.u64 = 6666;
	epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
	write(p[1], "1", 1);
	write(q[1], "2", 1);
	SHOW("two ready, maxevents 1", epoll_wait(ep, out, 1, 0));
	show_wait("both", ep, 0);
	SHOW("wait bad events pointer, events ready", epoll_wait(ep, (void *)8, 2, 0));
	read(p[0], &c, 1);
	read(q[0], &c, 1);
	close(q[1]);
	show_wait("writer closed: EPOLLHUP", ep, 0);
	epoll_ctl(ep, EPOLL_CTL_DEL, q[0], NULL);

	/* a timeout, and a wait another process ends */
	long long t0 = now_ms();
	show_wait("timeout 50 ms", ep, 50);
	long long dt = now_ms() - t0;
	printf("waited 50 ms: %s\n", dt >= 50 && dt < 3000 ? "in range" : "OUT OF RANGE");
	fflush(stdout);
	pid_t k = fork();
	if (k == 0) {
		struct timespec ts = {0, 30000000};
		nanosleep(&ts, NULL);
		write(p[1], "w", 1);
		_exit(0);
	}
	show_wait("woken by the child's write", ep, -1);
	waitpid(k, NULL, 0);
	sigset_t none;
	sigemptyset(&none);
	SHOW("epoll_pwait", epoll_pwait(ep, out, 2, 0, &none));
	close(ep);
	SHOW("wait after close", epoll_wait(ep, out, 2, 0));
	return 0;
}
