/*
 * What the issue-15 test programs print, shared by them (each is its own
 * static binary): a call's result and errno on one line, and a wait status.
 */
#ifndef TESTS_LINUX_SHOW_H
#define TESTS_LINUX_SHOW_H

#include <errno.h>
#include <stdio.h>
#include <sys/wait.h>

#define SHOW(label, expr)                                                                          \
	do {                                                                                       \
		errno = 0;                                                                         \
		long r_ = (long)(expr);                                                            \
		printf("%s: %ld errno %d\n", label, r_, r_ < 0 ? errno : 0);                       \
	} while (0)

static inline void show_status(const char *what, int st)
{
	if (WIFEXITED(st))
		printf("%s: exited %d\n", what, WEXITSTATUS(st));
	else
		printf("%s: killed by signal %d\n", what, WTERMSIG(st));
}

#endif
