/*
 * Processes: fork (copy-on-write memory, shared descriptors), vfork, execve
 * (ELF, "#!" script, /proc/self/exe), exit status encoding, wait4/waitid
 * and their errors, getppid, process groups and sessions.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show.h"

static int data_var = 5;
static char big[3 * 4096];

static void status(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		printf("%s: killed by signal %d\n", what, WTERMSIG(st));
	else
		printf("%s: status %#x\n", what, st);
}

/*
 * fork maps the child's pages at its first touch (docs/decisions.md, issue
 * 15 benchmarks): the child reads the parent's bytes, its writes stay its
 * own (copy-on-write after the lazy map), a grandchild forked before the
 * child touched most pages sees the same, and the parent's pages stay its
 * own and writable.
 */
static char expect(int i)
{
	return (char)(i * 7 + 1);
}

static void lazy_fork(void)
{
	enum { SIZE = 8 * 4096 };
	char *buf = malloc(SIZE);
	int st, pfd[2];
	long bad = -1, mine = 0;

	for (int i = 0; i < SIZE; i++)
		buf[i] = expect(i);
	pipe(pfd);
	pid_t c = fork();
	if (c == 0) {
		long wrong = buf[3 * 4096 + 1] != expect(3 * 4096 + 1); /* one page read */
		buf[3 * 4096] = 'c';                                    /* and written */
		pid_t g = fork();
		if (g == 0) { /* every page: most never mapped in its parent either */
			long gw = 0;
			for (int i = 0; i < SIZE; i += 512)
				gw += buf[i] != (i == 3 * 4096 ? 'c' : expect(i));
			buf[5 * 4096] = 'g';
			_exit(gw ? 1 : buf[5 * 4096] == 'g' ? 0 : 2);
		}
		int gst;
		waitpid(g, &gst, 0);
		for (int i = 0; i < SIZE; i += 512)
			wrong += buf[i] != (i == 3 * 4096 ? 'c' : expect(i));
		write(pfd[1], &wrong, sizeof(wrong));
		_exit(WIFEXITED(gst) ? WEXITSTATUS(gst) : 3);
	}
	read(pfd[0], &bad, sizeof(bad));
	waitpid(c, &st, 0);
	for (int i = 0; i < SIZE; i++)
		mine += buf[i] != expect(i);
	buf[0] = 'p';
	printf("lazy fork: child's pages right %d, parent's kept %d, parent writes %d\n", bad == 0,
	       mine == 0, buf[0] == 'p');
	status("lazy fork: child (grandchild's status)", st);
	close(pfd[0]), close(pfd[1]);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "child")) { /* run by execve below */
		printf("exec'd child: argc %d argv[2] %s env %s\n", argc, argc > 2 ? argv[2] : "-",
		       getenv("LXTEST") ? getenv("LXTEST") : "(none)");
		return 42;
	}
	setvbuf(stdout, NULL, _IONBF, 0); /* children print while the parent waits */
	int st = 0;
	SHOW("wait4 without children", waitpid(-1, &st, 0));
	SHOW("wait4 WNOHANG without children", waitpid(-1, &st, WNOHANG));
	SHOW("wait4 bad options", waitpid(-1, &st, 0x4000));

	/* fork: the child sees a copy; its writes do not reach the parent. */
	memset(big, 'p', sizeof(big));
	long sum = 0;
	pid_t me = getpid(), c = fork();
	if (c == 0) {
		data_var = 99;
		memset(big, 'c', sizeof(big));
		printf("child: ppid is parent %d, data %d, big %c\n", getppid() == me, data_var,
		       big[5000]);
		_exit(7);
	}
	pid_t w = waitpid(c, &st, 0);
	printf("fork returned a pid: %d\n", c > 0 && c != me);
	printf("waitpid returned the child: %d\n", w == c);
	status("child", st);
	for (unsigned i = 0; i < sizeof(big); i++)
		sum += big[i] == 'p';
	printf("parent data %d, big untouched %d\n", data_var, sum == (long)sizeof(big));
	SHOW("wait again", waitpid(c, &st, 0));

	/* Several children, reaped in any order; WNOHANG while one runs. */
	int pfd[2];
	SHOW("pipe", pipe(pfd));
	for (int i = 0; i < 3; i++) {
		if (fork() == 0) {
			if (i == 2) { /* waits until the parent writes */
				char b;
				close(pfd[1]);
				read(pfd[0], &b, 1);
			}
			_exit(10 + i);
		}
	}
	int codes = 0;
	for (int i = 0; i < 2; i++) {
		waitpid(-1, &st, 0);
		codes += WEXITSTATUS(st);
	}
	SHOW("WNOHANG with a running child", waitpid(-1, &st, WNOHANG));
	write(pfd[1], "x", 1);
	close(pfd[0]);
	close(pfd[1]);
	waitpid(-1, &st, 0);
	codes += WEXITSTATUS(st);
	printf("exit codes add up to %d\n", codes);

	/* A child killed by a fault: signal status. */
	if ((c = fork()) == 0) {
		volatile uintptr_t bad = 8;
		*(volatile int *)bad = 1;
		_exit(0);
	}
	waitpid(c, &st, 0);
	status("faulting child", st);

	/* waitid */
	if ((c = fork()) == 0)
		_exit(3);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	SHOW("waitid", waitid(P_PID, (id_t)c, &si, WEXITED));
	printf("waitid: signo %d code %d status %d pid ok %d\n", si.si_signo, si.si_code,
	       si.si_status, si.si_pid == c);
	SHOW("waitid no WEXITED", waitid(P_ALL, 0, &si, WNOHANG));
	SHOW("waitid ECHILD", waitid(P_ALL, 0, &si, WEXITED));

	/* vfork + execve of this program: argv, envp, exit code. */
	fflush(stdout);
	c = vfork(); // NOLINT(clang-analyzer-security.insecureAPI.vfork): vfork is under test
	if (c == 0) {
		char *av[] = {argv[0], "child", "two", NULL}, *ev[] = {"LXTEST=yes", NULL};
		execve(argv[0], av, ev);
		_exit(127);
	}
	waitpid(c, &st, 0);
	status("vfork+execve", st);

	/* execve errors come back to the caller. */
	char *av[] = {"x", NULL};
	SHOW("execve missing", execve("/bin/missing", av, NULL));
	SHOW("execve a directory", execve("/etc", av, NULL));
	SHOW("execve not executable", execve("/etc/words", av, NULL));
	SHOW("execve bad path pointer", syscall(SYS_execve, 8, av, NULL));
	SHOW("execve bad argv", syscall(SYS_execve, argv[0], 8, NULL));

	/* A "#!" script run through busybox sh. */
	fflush(stdout);
	if ((c = fork()) == 0) {
		char *sv[] = {"/etc/script.sh", "arg1", NULL}, *ev[] = {"PATH=/bin", NULL};
		execve("/etc/script.sh", sv, ev);
		_exit(127);
	}
	waitpid(c, &st, 0);
	status("script", st);

	/* Groups and sessions. */
	SHOW("setsid", setsid() == getpid());
	SHOW("getsid is own pid", getsid(0) == getpid());
	SHOW("getpgrp is own pid", getpgrp() == getpid());
	SHOW("setsid again (a group leader)", setsid());
	pipe(pfd);
	if ((c = fork()) == 0) {
		char b;
		close(pfd[1]);
		read(pfd[0], &b, 1); /* until the parent has looked */
		printf("child in its own group: %d\n", getpgrp() == getpid());
		fflush(stdout);
		_exit(0);
	}
	close(pfd[0]);
	SHOW("setpgid child", setpgid(c, c));
	SHOW("getpgid child", getpgid(c) == c);
	SHOW("getsid child", getsid(c) == getpid());
	close(pfd[1]);
	waitpid(c, &st, 0);
	SHOW("setpgid no such", setpgid(99999, 0));
	SHOW("setpgid negative", setpgid(0, -1));
	SHOW("getpgid no such", getpgid(99999));
	SHOW("waitpid no such child", waitpid(99999, &st, 0));
	if ((c = fork()) == 0)
		_exit(0);
	SHOW("wait4 bad status pointer", syscall(SYS_wait4, c, (void *)8, 0, 0));
	waitpid(c, &st, 0);
	lazy_fork();
	return 0;
}
