/*
 * Orphaned process groups (issue 15, POSIX): when an exit orphans a
 * process group that has a stopped member, each member gets SIGHUP then
 * SIGCONT (a handler sees both; without one SIGHUP ends it); a group that
 * keeps a link (a member whose parent is in another group of the session)
 * is left stopped; SIGTSTP, SIGTTIN and SIGTTOU to a member of an orphaned
 * group are discarded.
 *
 * Each case runs in a new session made by a child (setsid), so that the
 * reaper a process goes to (init, or a subreaper on the host) is never in
 * the session. Processes report through a pipe.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "show.h"

static int out[2];
static volatile sig_atomic_t got_hup, got_cont;

static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

static void on_cont(int sig)
{
	(void)sig;
	got_cont = 1;
}

static void say(const char *s)
{
	write(out[1], s, strlen(s));
}

/* The stopped member: reports what it got once it runs again; then (orphaned) raises the stop
 * signals, with a watchdog child that would continue it if one stopped it. */
static void member(int handlers, int orphaned)
{
	if (handlers) {
		signal(SIGHUP, on_hup);
		signal(SIGCONT, on_cont);
	}
	raise(SIGSTOP);
	/* Linux runs both handlers before raise returns; the personality runs one handler per
	 * system call (signal.c), so one more call lets the second one in. */
	getppid();
	char line[96];
	snprintf(line, sizeof(line), "member: continued, hup %d cont %d\n", got_hup, got_cont);
	say(line);
	if (!orphaned || !handlers)
		_exit(0);
	got_cont = 0;
	pid_t w = fork();
	if (w == 0) {
		for (;;) {
			usleep(500000);
			kill(getppid(), SIGCONT);
		}
	}
	raise(SIGTSTP); /* orphaned now: discarded */
	raise(SIGTTIN);
	raise(SIGTTOU);
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	say(got_cont ? "member: a stop signal stopped it\n"
	             : "member: SIGTSTP, SIGTTIN, SIGTTOU discarded\n");
	_exit(0);
}

/*
 * In a new session: A makes group GA with member B (stopped), then A exits.
 * linked: another child of the session leader stays in GA, so GA keeps a
 * link and is not orphaned; the leader continues B itself later.
 */
static void scenario(int handlers, int linked)
{
	pid_t s = fork();
	if (s) {
		int st;
		waitpid(s, &st, 0);
		show_status("  session leader", st);
		return;
	}
	setsid();
	int gate[2];
	pipe(gate);
	pid_t a = fork();
	if (a == 0) { /* A: the group's leader, B's parent */
		setpgid(0, 0);
		pid_t b = fork();
		if (b == 0)
			member(handlers, !linked);
		int st;
		waitpid(b, &st, WUNTRACED); /* B is stopped */
		printf("  B stopped: %d\n", WIFSTOPPED(st));
		char c;
		read(gate[0], &c, 1); /* the leader is ready */
		_exit(0);
	}
	setpgid(a, a);
	pid_t d = 0;
	if (linked) { /* D: in GA, a child of the leader: GA keeps its link */
		d = fork();
		if (d == 0) {
			setpgid(0, a);
			pause();
			_exit(0);
		}
		setpgid(d, a);
	}
	write(gate[1], "x", 1);
	int st;
	waitpid(a, &st, 0);
	show_status("  A", st);
	if (linked) {
		usleep(200000); /* B would have had SIGHUP by now: it is still stopped */
		say("leader: B left stopped\n");
		kill(-a, SIGCONT);
		usleep(100000);
		kill(d, SIGKILL);
		waitpid(d, &st, 0);
	}
	_exit(0);
}

/* What the processes wrote to the pipe, once all writers are gone. */
static void drain(void)
{
	char buf[512];
	ssize_t n;
	close(out[1]);
	while ((n = read(out[0], buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		fputs(buf, stdout);
	}
	close(out[0]);
}

int main(void)
{
	/* The default actions whatever the caller left ignored: under `nohup` SIGHUP came in
	 * ignored on the host, and the orphaned member lived on (bug
	 * t_orphan_inherited_an_ignored_sighup) */
	static const int sigs[] = {SIGHUP, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU};
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], SIG_DFL);
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("orphaned, with handlers:\n");
	pipe(out);
	scenario(1, 0);
	drain();
	printf("orphaned, no handlers (SIGHUP ends it):\n");
	pipe(out);
	scenario(0, 0);
	drain();
	printf("not orphaned (a link stays):\n");
	pipe(out);
	scenario(1, 1);
	drain();
	return 0;
}
