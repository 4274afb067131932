/* Host test harness: one forked child per case, TAP lines on stdout. */
#include "ktharness.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KT_MAX_DIAG  20   /* diagnostics printed per case, to keep the log readable */
#define KT_MAX_CASES 1024 /* cases of one binary */

const char *kt_group = "khost";
unsigned kt_case_seconds = 10; /* a hung case is killed by SIGALRM */
static struct kt_case kt_cases[KT_MAX_CASES];
static size_t kt_ncases;
static unsigned kt_nfail;
static uint64_t kt_state;

void kt_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (kt_nfail++ >= KT_MAX_DIAG)
		return;
	printf("# %s:%d: ", file, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void kt_fail_why(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	if (kt_nfail++ >= KT_MAX_DIAG)
		return;
	printf("# %s:%d: check failed: %s", file, line, cond);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void kt_add(const char *name, void (*fn)(void))
{
	if (kt_ncases == KT_MAX_CASES) {
		fprintf(stderr, "ktharness: more than %d cases\n", KT_MAX_CASES);
		exit(2);
	}
	kt_cases[kt_ncases++] = (struct kt_case){name, fn};
}

bool kt_failed(void)
{
	return kt_nfail != 0;
}

uint64_t kt_rand(void)
{
	kt_state ^= kt_state >> 12;
	kt_state ^= kt_state << 25;
	kt_state ^= kt_state >> 27;
	return kt_state * 0x2545f4914f6cdd1dull;
}

uint64_t kt_below(uint64_t n)
{
	return kt_rand() % n;
}

/* Seed from the case name so each case sees its own fixed sequence. */
static void kt_seed(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
	kt_state = h | 1;
}

/* Runs in the child: exit status 0 means every check passed. */
static void kt_run_child(const struct kt_case *c)
{
	kt_nfail = 0;
	kt_seed(c->name);
	alarm(kt_case_seconds);
	c->fn();
	fflush(stdout);
	exit(kt_nfail ? 1 : 0); /* exit(), not _exit(): LeakSanitizer checks here */
}

/* Fork one case and report it; returns true when it passed. */
static bool kt_run_case(const struct kt_case *c)
{
	int st = 0;

	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		kt_run_child(c);
	if (waitpid(pid, &st, 0) < 0) {
		perror("waitpid");
		exit(2);
	}
	bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (ok) {
		printf("ok - %s.%s\n", kt_group, c->name);
	} else {
		if (WIFSIGNALED(st))
			printf("# killed by signal %d (%s)\n", WTERMSIG(st),
			       strsignal(WTERMSIG(st)));
		else if (WEXITSTATUS(st) != 1)
			printf("# exit status %d (sanitizer report on stderr?)\n", WEXITSTATUS(st));
		printf("not ok - %s.%s\n", kt_group, c->name);
	}
	fflush(stdout);
	return ok;
}

/* Run the named cases in this process (debugging), or every case forked. */
static void kt_run_list(const struct kt_case *cases, size_t n, int argc, char **argv)
{
	if (argc <= 1) {
		for (size_t i = 0; i < n; i++)
			kt_run_case(&cases[i]);
		return;
	}
	for (int a = 1; a < argc; a++)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(argv[a], cases[i].name)) {
				kt_nfail = 0;
				kt_seed(cases[i].name);
				cases[i].fn();
				printf("%s - %s.%s\n", kt_nfail ? "not ok" : "ok", kt_group,
				       cases[i].name);
			}
}

int kt_main(const struct kt_case *cases, size_t n, int argc, char **argv)
{
	const char *secs = getenv("KT_CASE_SECONDS");

	if (secs && atoi(secs) > 0)
		kt_case_seconds = (unsigned)atoi(secs);
	kt_run_list(cases, n, argc, argv);
	kt_run_list(kt_cases, kt_ncases, argc, argv);
	return 0;
}
