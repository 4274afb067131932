/*
 * Signals: handlers with siginfo, masks and pending signals, SIGCHLD,
 * interrupted calls (EINTR, SA_RESTART), sigsuspend, default actions
 * (SIGTERM, SIGPIPE), ignored SIGPIPE (EPIPE), kill's errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show.h"

static volatile int got, got_sig, from_self, chld;

static void on_usr(int sig, siginfo_t *si, void *uc)
{
	got++;
	got_sig = sig;
	from_self = si->si_pid == getpid() && si->si_signo == sig && uc != NULL;
}

static void on_usr2(int sig)
{
	got++;
	got_sig = sig;
}

static void on_chld(int sig)
{
	(void)sig;
	chld++;
}

static void handle(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigaction(sig, &sa, NULL);
}

/*
 * The kernel answers getpid without the server while no signal is pending
 * (docs/decisions.md, issue 15 speed): a signal sent meanwhile by another
 * process or by the timer must still be taken at the next getpid, and a
 * child's getpid must answer its own pid.
 */
static void getpid_spin(void)
{
	int pfd[2], go[2], st;
	pid_t me = getpid(), c, seen = 0;
	long i;
	char b = 0;

	got = 0;
	handle(SIGUSR2, on_usr2, 0);
	pipe(pfd);
	pipe(go);
	if ((c = fork()) == 0) {
		pid_t mine = (pid_t)syscall(SYS_getpid);
		write(pfd[1], &mine, sizeof(mine));
		read(go[0], &b, 1); /* the parent spins from now on */
		kill(me, SIGUSR2);
		_exit(0);
	}
	write(go[1], &b, 1);
	for (i = 0; i < 20000000 && !got; i++)
		syscall(SYS_getpid);
	int taken = got; /* the read below would take it too */
	read(pfd[0], &seen, sizeof(seen));
	waitpid(c, &st, 0);
	printf("getpid spin: signal from a child taken %d, child's getpid right %d, parent's %d\n",
	       taken, seen == c, (pid_t)syscall(SYS_getpid) == me);
	got = 0;
	handle(SIGALRM, on_usr2, 0);
	alarm(1);
	for (i = 0; i < 50000000 && !got; i++)
		syscall(SYS_getpid);
	printf("getpid spin: alarm taken %d\n", got);
	close(pfd[0]), close(pfd[1]), close(go[0]), close(go[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_usr;
	sa.sa_flags = SA_SIGINFO;
	SHOW("sigaction", sigaction(SIGUSR1, &sa, NULL));
	double keep = 1.5; /* an SSE register value the handler must not change */
	SHOW("kill self", kill(getpid(), SIGUSR1));
	printf("handler ran %d times, signal %d, siginfo right %d, float kept %d\n", got, got_sig,
	       from_self, keep * 2 == 3.0);

	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, &old);
	kill(getpid(), SIGUSR1);
	sigset_t pend;
	sigpending(&pend);
	printf("blocked: ran %d times, pending %d\n", got, sigismember(&pend, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	printf("unblocked: ran %d times\n", got);

	/* SIGCHLD when a child ends. */
	handle(SIGCHLD, on_chld, 0);
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	int st;
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	printf("SIGCHLD seen: %d\n", chld >= 1);
	handle(SIGCHLD, SIG_DFL, 0);

	/*
	 * A read of an empty pipe interrupted by a signal: EINTR without
	 * SA_RESTART. The child signals until the parent says it is done (a
	 * signal before the read only runs the handler).
	 */
	int pfd[2], done[2];
	pipe(pfd);
	pipe2(done, O_NONBLOCK);
	handle(SIGUSR2, on_usr2, 0);
	pid_t parent = getpid();
	char buf[8];
	if ((c = fork()) == 0) {
		while (read(done[0], buf, 1) != 1) {
			kill(parent, SIGUSR2);
			sched_yield();
		}
		_exit(0);
	}
	SHOW("read interrupted", read(pfd[0], buf, sizeof(buf)));
	write(done[1], "d", 1);
	waitpid(c, &st, 0);

	/* With SA_RESTART the read goes on and gets what the child writes after its signals. */
	handle(SIGUSR2, on_usr2, SA_RESTART);
	int before = got;
	if ((c = fork()) == 0) {
		for (int i = 0; i < 200; i++) {
			kill(parent, SIGUSR2);
			sched_yield();
		}
		write(pfd[1], "late", 4);
		_exit(0);
	}
	SHOW("read restarted", read(pfd[0], buf, sizeof(buf)));
	printf("handler ran during it: %d\n", got > before);
	waitpid(c, &st, 0);

	/* sigsuspend: wait with SIGUSR1 unblocked. */
	sigprocmask(SIG_BLOCK, &set, &old);
	if ((c = fork()) == 0) {
		kill(parent, SIGUSR1);
		_exit(0);
	}
	before = got;
	sigset_t none;
	sigemptyset(&none);
	SHOW("sigsuspend", sigsuspend(&none));
	printf("handler ran in sigsuspend: %d\n", got == before + 1);
	sigset_t now;
	sigprocmask(SIG_SETMASK, NULL, &now);
	printf("mask back after sigsuspend: %d\n", sigismember(&now, SIGUSR1));
	sigprocmask(SIG_SETMASK, &old, NULL);
	waitpid(c, &st, 0);

	/* Default actions. */
	if ((c = fork()) == 0) {
		kill(getpid(), SIGTERM);
		_exit(0);
	}
	waitpid(c, &st, 0);
	show_status("SIGTERM to itself", st);
	close(pfd[0]);
	if ((c = fork()) == 0) {
		write(pfd[1], "x", 1);
		_exit(0);
	}
	waitpid(c, &st, 0);
	show_status("write to a pipe nobody reads", st);
	signal(SIGPIPE, SIG_IGN);
	SHOW("write with SIGPIPE ignored", write(pfd[1], "x", 1));
	if ((c = fork()) == 0) { /* a child blocked in a read, killed */
		int q[2];
		pipe(q);
		read(q[0], buf, 1);
		_exit(0);
	}
	SHOW("kill a waiting child", kill(c, SIGKILL));
	waitpid(c, &st, 0);
	show_status("killed child", st);
	SHOW("kill no such process", kill(99999, SIGTERM));
	SHOW("kill bad signal", kill(getpid(), 99));
	SHOW("kill signal 0", kill(getpid(), 0));
	SHOW("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL));
	getpid_spin();
	return 0;
}
