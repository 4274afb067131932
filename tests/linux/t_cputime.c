/*
 * CPU time (issue 15): CLOCK_PROCESS_CPUTIME_ID and CLOCK_THREAD_CPUTIME_ID,
 * times and getrusage (RUSAGE_SELF, RUSAGE_THREAD, RUSAGE_CHILDREN) and
 * wait4's rusage count the time a process computes, not the time it
 * sleeps; a child's time counts for its parent once waited for. Each
 * process spins until its own CPU clock says 100 ms (the host may be
 * loaded): what is checked is how the counts agree, never a wall time.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static long long ns_of(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long tv_ns(struct timeval tv)
{
	return tv.tv_sec * 1000000000LL + tv.tv_usec * 1000LL;
}

/* Spin until the process has used ms more of CPU time; the wall time it took. */
static long long burn(int ms)
{
	long long end = ns_of(CLOCK_PROCESS_CPUTIME_ID) + ms * 1000000LL;
	long long t0 = ns_of(CLOCK_MONOTONIC);
	volatile unsigned long x = 0;
	while (ns_of(CLOCK_PROCESS_CPUTIME_ID) < end)
		for (int i = 0; i < 10000; i++)
			x += (unsigned long)i;
	return ns_of(CLOCK_MONOTONIC) - t0;
}

int main(void)
{
	long hz = sysconf(_SC_CLK_TCK);
	long long p0 = ns_of(CLOCK_PROCESS_CPUTIME_ID), th0 = ns_of(CLOCK_THREAD_CPUTIME_ID);
	long long wall = burn(100);
	long long p1 = ns_of(CLOCK_PROCESS_CPUTIME_ID), th1 = ns_of(CLOCK_THREAD_CPUTIME_ID);
	printf("process clock grew 100 ms or more: %d\n", p1 - p0 >= 100000000);
	printf("  no more than the wall time: %d\n", p1 - p0 <= wall + 20000000);
	printf("thread clock grew as much (one thread): %d\n",
	       th1 - th0 >= 90000000 && th1 - th0 <= p1 - p0 + 10000000);
	struct tms tm;
	times(&tm);
	/* (each field is rounded down on its own) */
	printf("times: utime + stime >= 8 ticks: %d\n", tm.tms_utime + tm.tms_stime >= hz / 10 - 2);
	printf("  children: 0 so far: %d\n", tm.tms_cutime + tm.tms_cstime == 0);
	struct rusage ru;
	SHOW("getrusage self", getrusage(RUSAGE_SELF, &ru));
	printf("  utime + stime >= 100 ms: %d\n",
	       tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime) >= 100000000);
	SHOW("getrusage thread", getrusage(RUSAGE_THREAD, &ru));
	printf("  utime + stime >= 90 ms: %d\n",
	       tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime) >= 90000000);

	/* Sleeping does not count. */
	long long s0 = ns_of(CLOCK_PROCESS_CPUTIME_ID);
	struct timespec d = {0, 200000000};
	nanosleep(&d, NULL);
	printf("a 200 ms sleep took under 50 ms of CPU: %d\n",
	       ns_of(CLOCK_PROCESS_CPUTIME_ID) - s0 < 50000000);

	/* A child's time: its own clock, then its parent's children count once waited for. */
	fflush(stdout);
	pid_t c = fork();
	if (c == 0) {
		long long cp = ns_of(CLOCK_PROCESS_CPUTIME_ID);
		printf("child's clock starts near 0: %d\n", cp < 50000000);
		fflush(stdout);
		burn(100);
		_exit(0);
	}
	int st;
	struct rusage cru;
	wait4(c, &st, 0, &cru);
	show_status("child", st);
	printf("wait4's rusage: >= 100 ms: %d\n",
	       tv_ns(cru.ru_utime) + tv_ns(cru.ru_stime) >= 100000000);
	getrusage(RUSAGE_CHILDREN, &ru);
	printf("getrusage children >= 100 ms: %d\n",
	       tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime) >= 100000000);
	times(&tm);
	printf("times: cutime + cstime >= 8 ticks: %d\n",
	       tm.tms_cutime + tm.tms_cstime >= hz / 10 - 2);
	printf("the parent's own clock did not take the child's: %d\n",
	       ns_of(CLOCK_PROCESS_CPUTIME_ID) - p1 < 90000000);
	return 0;
}
