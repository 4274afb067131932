/*
 * Time (issue 15): nanosleep and clock_nanosleep (relative, TIMER_ABSTIME)
 * sleep as long as asked, a signal interrupts a sleep (EINTR and the time
 * left), alarm and setitimer(ITIMER_REAL) deliver SIGALRM (once, and every
 * interval), getitimer, times, getrusage, and their error codes.
 * Durations are checked as ranges, so the output is the same on any host.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static volatile int alarms;

static void on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void range(const char *what, long long ms, long long lo, long long hi)
{
	printf("%s: %s\n", what, ms >= lo && ms < hi ? "in range" : "OUT OF RANGE");
	if (ms < lo || ms >= hi)
		printf("  (%lld ms, expected %lld..%lld)\n", ms, lo, hi);
}

int main(void)
{
	struct timespec req = {0, 100000000}, rem, bad = {0, 1000000000}, neg = {-1, 0};
	long long t0 = now_ms();

	SHOW("nanosleep 100 ms", nanosleep(&req, NULL));
	range("nanosleep slept 100 ms", now_ms() - t0, 100, 2000);
	SHOW("nanosleep, tv_nsec 1e9", nanosleep(&bad, NULL));
	SHOW("nanosleep, negative", nanosleep(&neg, NULL));
	SHOW("nanosleep, bad pointer", nanosleep((void *)8, NULL));
	struct timespec zero = {0, 0};
	SHOW("nanosleep 0", nanosleep(&zero, NULL));

	t0 = now_ms();
	req.tv_nsec = 60000000;
	SHOW("clock_nanosleep monotonic 60 ms", clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL));
	range("clock_nanosleep slept 60 ms", now_ms() - t0, 60, 2000);
	struct timespec at;
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_nsec += 80000000;
	if (at.tv_nsec >= 1000000000)
		at.tv_sec++, at.tv_nsec -= 1000000000;
	t0 = now_ms();
	SHOW("clock_nanosleep realtime, absolute 80 ms on",
	     clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL));
	range("absolute sleep slept 80 ms", now_ms() - t0, 70, 2000);
	at.tv_sec = 0, at.tv_nsec = 1; /* long ago on the monotonic clock */
	SHOW("clock_nanosleep, absolute time passed",
	     clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL));
	/* clock_nanosleep returns the error number itself */
	printf("clock_nanosleep, bad clock: %d\n", clock_nanosleep(99, 0, &req, NULL));
	printf("clock_nanosleep, thread cpu clock: %d\n",
	       clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL));
	printf("clock_nanosleep, tv_nsec 1e9: %d\n",
	       clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL));

	/* A signal ends a sleep: EINTR, and the time left. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {{0, 0}, {0, 50000}}, old;
	SHOW("setitimer 50 ms", setitimer(ITIMER_REAL, &it, NULL));
	req.tv_sec = 5, req.tv_nsec = 0;
	t0 = now_ms();
	SHOW("nanosleep 5 s, interrupted", nanosleep(&req, &rem));
	range("interrupted after 50 ms", now_ms() - t0, 40, 2500);
	printf("handler ran %d, time left between 2.5 and 5 s: %d\n", alarms,
	       rem.tv_sec >= 2 && rem.tv_sec < 5);

	/* SA_RESTART does not make a sleep start again. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = now_ms();
	SHOW("nanosleep 5 s under SA_RESTART, interrupted", nanosleep(&req, NULL));
	range("interrupted after 50 ms", now_ms() - t0, 40, 2500);

	/* poll and ppoll wait out their timeouts; a signal ends them with EINTR (SA_RESTART or not)
	 */
	t0 = now_ms();
	SHOW("poll, nothing, 60 ms", poll(NULL, 0, 60));
	range("poll waited 60 ms", now_ms() - t0, 60, 2000);
	struct timespec pts = {0, 60000000};
	t0 = now_ms();
	SHOW("ppoll, nothing, 60 ms", ppoll(NULL, 0, &pts, NULL));
	range("ppoll waited 60 ms", now_ms() - t0, 60, 2000);
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = now_ms();
	SHOW("poll 5 s under SA_RESTART, interrupted", poll(NULL, 0, 5000));
	range("interrupted after 50 ms", now_ms() - t0, 40, 2500);

	/* An interval timer: SIGALRM every 20 ms, taken in sigsuspend. */
	alarms = 0;
	struct itimerval every = {{0, 20000}, {0, 20000}};
	sigset_t none;
	sigemptyset(&none);
	t0 = now_ms();
	SHOW("setitimer every 20 ms", setitimer(ITIMER_REAL, &every, NULL));
	while (alarms < 3)
		sigsuspend(&none);
	range("three SIGALRMs 20 ms apart", now_ms() - t0, 55, 3000);
	SHOW("getitimer", getitimer(ITIMER_REAL, &old));
	printf("interval 20 ms: %d, value at most 20 ms: %d\n",
	       old.it_interval.tv_sec == 0 && old.it_interval.tv_usec == 20000,
	       old.it_value.tv_sec == 0 && old.it_value.tv_usec <= 20000);
	struct itimerval off = {{0, 0}, {0, 0}};
	SHOW("setitimer off", setitimer(ITIMER_REAL, &off, &old));
	printf("old interval 20 ms: %d\n", old.it_interval.tv_usec == 20000);
	SHOW("getitimer when off", getitimer(ITIMER_REAL, &old));
	printf("off: %d\n", !old.it_value.tv_sec && !old.it_value.tv_usec &&
	                        !old.it_interval.tv_sec && !old.it_interval.tv_usec);
	struct itimerval badit = {{0, 0}, {0, 1000000}};
	SHOW("setitimer, tv_usec 1e6", setitimer(ITIMER_REAL, &badit, NULL));
	SHOW("setitimer, which 7", setitimer(7, &it, NULL));
	SHOW("setitimer, bad pointer", setitimer(ITIMER_REAL, (void *)8, NULL));
	SHOW("getitimer, bad pointer", getitimer(ITIMER_REAL, (void *)8));
	SHOW("getitimer, which 7", getitimer(7, &old));

	/* alarm: the seconds left of the last one; pause until SIGALRM. */
	SHOW("alarm 10", alarm(10));
	SHOW("alarm 0 (10 were left)", alarm(0));
	alarms = 0;
	setitimer(ITIMER_REAL, &it, NULL);
	SHOW("pause until SIGALRM", pause());
	printf("alarms %d\n", alarms);
	alarm(1);
	SHOW("alarm 0 (1 was left)", alarm(0));

	/* times and getrusage */
	struct tms tm;
	printf("times: %d\n", times(&tm) != (clock_t)-1);
	SHOW("times, bad pointer", (long)times((void *)8));
	struct rusage ru;
	SHOW("getrusage self", getrusage(RUSAGE_SELF, &ru));
	SHOW("getrusage children", getrusage(RUSAGE_CHILDREN, &ru));
	SHOW("getrusage, who 5", getrusage(5, &ru));
	SHOW("getrusage, bad pointer", getrusage(RUSAGE_SELF, (void *)8));
	return 0;
}
