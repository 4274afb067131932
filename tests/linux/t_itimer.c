/*
 * CPU-time interval timers and user time apart from system time (issue
 * 15): ITIMER_VIRTUAL (user time: SIGVTALRM) and ITIMER_PROF (user and
 * system time: SIGPROF), one-shot and periodic, getitimer's view of them,
 * sleeping that does not advance them, their errors, SIGVTALRM's default
 * action, no timers in a fork child; and getrusage and times telling
 * user time (computing) from system time (the kernel, or the
 * personality's server, copying for read; /proc/<pid>/stat: t_procfs).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

static volatile int vt, prof;
static volatile unsigned long sink;

static void on_vt(int sig)
{
	(void)sig;
	vt++;
}

static void on_prof(int sig)
{
	(void)sig;
	prof++;
}

static long cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long usage_us(int sys)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	struct timeval *t = sys ? &ru.ru_stime : &ru.ru_utime;
	return t->tv_sec * 1000000 + t->tv_usec;
}

/* Compute (with a system call now and then, where the personality takes signals) until
 * *flag reaches n or 5 s of CPU have gone. */
static void spin_until(volatile int *flag, int n)
{
	long start = cpu_ms();
	while (*flag < n && cpu_ms() - start < 5000)
		for (int i = 0; i < 20000; i++)
			sink += (unsigned long)i * 7;
}

static void show_itv(const char *what, int which)
{
	struct itimerval v;
	memset(&v, 0x5a, sizeof(v));
	if (getitimer(which, &v)) {
		printf("%s: getitimer failed\n", what);
		return;
	}
	printf("%s: interval %ld.%06ld, value %s\n", what, (long)v.it_interval.tv_sec,
	       (long)v.it_interval.tv_usec,
	       !v.it_value.tv_sec && !v.it_value.tv_usec ? "0" : "running");
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	signal(SIGVTALRM, on_vt);
	signal(SIGPROF, on_prof);
	show_itv("virtual at first", ITIMER_VIRTUAL);
	show_itv("prof at first", ITIMER_PROF);

	/* one-shot ITIMER_VIRTUAL of 30 ms */
	struct itimerval it = {{0, 0}, {0, 30000}}, old;
	long c0 = cpu_ms();
	SHOW("setitimer(ITIMER_VIRTUAL, 30 ms)", setitimer(ITIMER_VIRTUAL, &it, NULL));
	show_itv("virtual armed", ITIMER_VIRTUAL);
	getitimer(ITIMER_VIRTUAL, &old);
	printf("virtual left within 40 ms (Linux adds a tick): %d\n",
	       old.it_value.tv_sec == 0 && old.it_value.tv_usec > 0 &&
	           old.it_value.tv_usec <= 40000);
	spin_until(&vt, 1);
	long used = cpu_ms() - c0;
	printf("SIGVTALRM: %d, after 20 ms of CPU at least: %d\n", vt, used >= 20);
	show_itv("virtual after", ITIMER_VIRTUAL);

	/* periodic ITIMER_PROF of 10 ms: three signals */
	it = (struct itimerval){{0, 10000}, {0, 10000}};
	SHOW("setitimer(ITIMER_PROF, every 10 ms)", setitimer(ITIMER_PROF, &it, NULL));
	show_itv("prof armed", ITIMER_PROF);
	spin_until(&prof, 3);
	printf("SIGPROF: 3 or more %d\n", prof >= 3);
	it = (struct itimerval){{0, 0}, {0, 0}};
	memset(&old, 0, sizeof(old));
	SHOW("setitimer(ITIMER_PROF, off)", setitimer(ITIMER_PROF, &it, &old));
	printf("old prof interval %ld.%06ld\n", (long)old.it_interval.tv_sec,
	       (long)old.it_interval.tv_usec);
	show_itv("prof off", ITIMER_PROF);

	/* sleeping does not count: 50 ms of user time are not used up by 300 ms of sleep */
	vt = 0;
	it = (struct itimerval){{0, 0}, {0, 50000}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);
	struct timespec nap = {0, 300000000};
	nanosleep(&nap, NULL);
	getitimer(ITIMER_VIRTUAL, &old);
	printf("after a 300 ms sleep: SIGVTALRM %d, more than 30 ms left %d\n", vt,
	       old.it_value.tv_sec > 0 || old.it_value.tv_usec > 30000);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_VIRTUAL, &it, NULL);

	/* errors */
	it = (struct itimerval){{0, 0}, {0, 1000000}};
	SHOW("ITIMER_VIRTUAL tv_usec 1000000 (EINVAL)", setitimer(ITIMER_VIRTUAL, &it, NULL));
	it = (struct itimerval){{0, -1}, {0, 1000}};
	SHOW("ITIMER_PROF interval tv_usec -1 (EINVAL)", setitimer(ITIMER_PROF, &it, NULL));
	SHOW("ITIMER_PROF new at a bad address (EFAULT)",
	     setitimer(ITIMER_PROF, (struct itimerval *)8, NULL));
	SHOW("getitimer(ITIMER_VIRTUAL) to a bad address (EFAULT)",
	     getitimer(ITIMER_VIRTUAL, (struct itimerval *)8));
	SHOW("getitimer(3) (EINVAL)", getitimer(3, &old));

	/* a fork child has no timers; SIGVTALRM's default action ends a process */
	it = (struct itimerval){{1, 0}, {5, 0}};
	setitimer(ITIMER_PROF, &it, NULL);
	pid_t c = fork();
	if (c == 0) {
		show_itv("fork child's prof", ITIMER_PROF);
		signal(SIGVTALRM, SIG_DFL);
		it = (struct itimerval){{0, 0}, {0, 20000}};
		setitimer(ITIMER_VIRTUAL, &it, NULL);
		static volatile int never;
		spin_until(&never, 1);
		_exit(0);
	}
	int st;
	waitpid(c, &st, 0);
	show_status("child computing under ITIMER_VIRTUAL", st);
	it = (struct itimerval){{0, 0}, {0, 0}};
	setitimer(ITIMER_PROF, &it, NULL);

	/* user time from computing, system time from copying /dev/zero for read */
	long u0 = usage_us(0), s0 = usage_us(1);
	while (usage_us(0) - u0 < 40000)
		for (int i = 0; i < 200000; i++)
			sink += (unsigned long)i * 3;
	long du = usage_us(0) - u0, ds = usage_us(1) - s0;
	printf("computing: user time %d, more than system time %d\n", du >= 40000, du > ds);
	static char buf[1 << 18];
	int z = open("/dev/zero", O_RDONLY);
	u0 = usage_us(0), s0 = usage_us(1);
	for (int n = 0; n < 100000 && usage_us(1) - s0 < 40000; n++)
		read(z, buf, sizeof(buf));
	close(z);
	du = usage_us(0) - u0, ds = usage_us(1) - s0;
	printf("reading /dev/zero: system time %d, more than user time %d\n", ds >= 40000, ds > du);
	struct tms t;
	times(&t);
	printf("times: utime and stime over 0: %d %d\n", t.tms_utime > 0, t.tms_stime > 0);
	return 0;
}
