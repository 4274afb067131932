/*
 * Stopping and continuing processes (issue 15): SIGSTOP, SIGTSTP and
 * SIGCONT with Linux's semantics; waitpid WUNTRACED/WCONTINUED and waitid
 * WSTOPPED/WCONTINUED; SIGCHLD with CLD_STOPPED/CLD_CONTINUED (and
 * SA_NOCLDSTOP); a stopped process makes no progress (a computing one, and
 * one whose wait ends while it is stopped); SIGCONT's handler runs after
 * it continues; a handled or ignored SIGTSTP does not stop; a blocked one
 * stops once unblocked; a fatal signal (but SIGKILL) waits until the stopped
 * process continues.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static volatile int chld_code[8], chld_status[8], nchld;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	if (nchld < 8)
		chld_code[nchld] = si->si_code, chld_status[nchld] = si->si_status;
	nchld++;
}

static int out[2]; /* children write here what they did */

static void on_cont(int sig)
{
	(void)sig;
	write(out[1], "C", 1);
}

static void on_tstp(int sig)
{
	(void)sig;
	write(out[1], "T", 1);
}

static void pause_ms(int ms)
{
	struct timespec d = {0, ms * 1000000L};
	nanosleep(&d, NULL);
}

/* What the children wrote so far (non-blocking), as a string. */
static const char *drain(void)
{
	static char buf[256];
	int n = (int)read(out[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* What the children write within ms (at least one byte, or nothing when the time runs out). */
static const char *await(int ms)
{
	struct pollfd pf = {.fd = out[0], .events = POLLIN};
	poll(&pf, 1, ms);
	pause_ms(10); /* the rest of a write of several bytes */
	return drain();
}

static void show_wait(const char *what, pid_t c, int options)
{
	int st = 0;
	pid_t r = waitpid(c, &st, options);
	printf("%s: %s", what, r == c ? "the child" : r == 0 ? "nothing" : "error");
	if (r == c && WIFSTOPPED(st))
		printf(", stopped by %d", WSTOPSIG(st));
	else if (r == c && WIFCONTINUED(st))
		printf(", continued");
	else if (r == c && WIFEXITED(st))
		printf(", exited %d", WEXITSTATUS(st));
	else if (r == c && WIFSIGNALED(st))
		printf(", killed by %d", WTERMSIG(st));
	printf("\n");
}

static pid_t child(void (*body)(void))
{
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		/* Its own process group, with the parent in another one of the session: not an
		 * orphaned group, whose SIGTSTP Linux would discard. */
		setpgid(0, 0);
		body();
		_exit(7);
	}
	setpgid(c, c); /* as shells do: in both, so no signal comes before it */
	return c;
}

static int in[2];

static void stop_self(void)
{
	char c;
	raise(SIGSTOP);
	write(out[1], "after stop", 10);
	read(in[0], &c, 1); /* exits only once the parent has seen it continued */
}

static void computing(void)
{
	for (;;) {
		write(out[1], ".", 1);
		pause_ms(5);
	}
}

static void cont_handler(void)
{
	signal(SIGCONT, on_cont);
	write(out[1], "R", 1); /* ready */
	for (;;)
		pause();
}

static void tstp_handled(void)
{
	signal(SIGTSTP, on_tstp);
	raise(SIGTSTP);
	signal(SIGTSTP, SIG_IGN);
	raise(SIGTSTP);
	write(out[1], "not stopped", 11);
}

static void tstp_blocked(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGTSTP);
	sigprocmask(SIG_BLOCK, &s, NULL);
	raise(SIGTSTP);
	write(out[1], "a", 1);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	write(out[1], "b", 1);
}

static void reader(void)
{
	char c;
	read(in[0], &c, 1);
	write(out[1], "r", 1);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* the output so far, should a step hang */
	struct sigaction sa = {.sa_sigaction = on_chld, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigaction(SIGCHLD, &sa, NULL);
	pipe(out);
	pipe(in);
	fcntl(out[0], F_SETFL, O_NONBLOCK);

	pid_t c = child(stop_self);
	show_wait("WUNTRACED", c, WUNTRACED);
	printf("  it wrote: '%s'\n", drain());
	show_wait("WUNTRACED again (reported once), WNOHANG", c, WUNTRACED | WNOHANG);
	SHOW("kill SIGCONT", kill(c, SIGCONT));
	show_wait("WCONTINUED", c, WCONTINUED);
	write(in[1], "g", 1);
	show_wait("exit", c, 0);
	printf("  it wrote: '%s'\n", drain());
	/* (The later ones may merge: SIGCHLD does not queue.) */
	printf("first SIGCHLD: code %d status %d\n", chld_code[0], chld_status[0]);

	/* waitid's view, and its errors. */
	c = child(computing);
	kill(c, SIGTSTP);
	siginfo_t si;
	memset(&si, 0, sizeof(si));
	SHOW("waitid WSTOPPED", waitid(P_PID, (id_t)c, &si, WSTOPPED));
	printf("  si_code %d si_status %d right pid %d\n", si.si_code, si.si_status,
	       si.si_pid == c);
	drain();
	pause_ms(60);
	printf("stopped: wrote nothing meanwhile: '%s'\n", drain());
	memset(&si, 0, sizeof(si));
	SHOW("waitid WSTOPPED|WNOHANG, nothing new",
	     waitid(P_PID, (id_t)c, &si, WSTOPPED | WNOHANG));
	printf("  si_pid %d\n", si.si_pid);
	SHOW("waitid no options", waitid(P_PID, (id_t)c, &si, 0));
	kill(c, SIGCONT);
	memset(&si, 0, sizeof(si));
	SHOW("waitid WCONTINUED", waitid(P_PID, (id_t)c, &si, WCONTINUED));
	printf("  si_code %d si_status %d\n", si.si_code, si.si_status);
	printf("continued: writes again: %d\n", strlen(await(5000)) > 0);
	kill(c, SIGSTOP);
	show_wait("stopped again", c, WUNTRACED);
	kill(c, SIGTERM);
	pause_ms(20);
	show_wait("SIGTERM waits while it is stopped", c, WNOHANG);
	kill(c, SIGCONT);
	show_wait("then ends it once continued", c, 0);
	drain(); /* the dots it wrote after "writes again" (how many depends on the host's load) */

	/* SIGCONT's handler runs once the process goes on; SA_NOCLDSTOP. */
	sa.sa_flags |= SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	nchld = 0;
	c = child(cont_handler);
	printf("ready: '%s'\n", await(5000));
	kill(c, SIGSTOP);
	show_wait("stopped", c, WUNTRACED);
	printf("  nothing yet: '%s'\n", drain());
	kill(c, SIGCONT);
	printf("SIGCONT handler ran: '%s'\n", await(5000));
	kill(c, SIGCONT); /* not stopped: the handler runs all the same */
	printf("SIGCONT to a running process: '%s'\n", await(5000));
	kill(c, SIGKILL);
	show_wait("SIGKILL", c, 0);
	printf("SA_NOCLDSTOP: SIGCHLD for the stop and continue: %d\n", nchld > 1);

	c = child(tstp_handled);
	show_wait("SIGTSTP handled, then ignored", c, WUNTRACED);
	printf("  it wrote: '%s'\n", drain());

	c = child(tstp_blocked);
	show_wait("SIGTSTP blocked, then unblocked", c, WUNTRACED);
	printf("  it wrote: '%s'\n", drain());
	kill(c, SIGCONT);
	show_wait("continued", c, 0);
	printf("  then: '%s'\n", drain());

	/* A wait that ends while the process is stopped goes on only after SIGCONT. */
	c = child(reader);
	pause_ms(20);
	kill(c, SIGSTOP);
	show_wait("reader stopped", c, WUNTRACED);
	write(in[1], "x", 1);
	pause_ms(50);
	printf("  the read's data came, it stays stopped: '%s'\n", drain());
	kill(c, SIGCONT);
	show_wait("reader continued", c, 0);
	printf("  then: '%s'\n", drain());
	return 0;
}
