/*
 * Threads of one process on more than one CPU (issue 15): the personality
 * spreads a process's threads over the CPUs, and this checks the calls that
 * cross between them: a counter under a mutex taken by 4 threads (futex
 * waits and wakes between CPUs), a condition-variable ping-pong between two
 * threads on different CPUs, tgkill to a thread on another CPU, a thread's
 * exit and its join (CLONE_CHILD_CLEARTID's wake), and getcpu and
 * sched_getaffinity. Run on -smp 2 by `make test-linux` (tests/linux/run-smp)
 * and, as any test program, under Linux by hand: the output does not depend
 * on the number of CPUs, except the "cpus" line the boot's expectations check.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NTHREADS 4
#define ROUNDS   20000
#define PINGS    2000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn, cpu_of[NTHREADS];
static volatile sig_atomic_t got_usr1;
static volatile int usr1_ready;

static int cpu_now(void)
{
	unsigned cpu = ~0u;

	return syscall(SYS_getcpu, &cpu, NULL, NULL) ? -1 : (int)cpu;
}

static void *adder(void *arg)
{
	int i = (int)(long)arg;

	cpu_of[i] = cpu_now();
	for (int k = 0; k < ROUNDS; k++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return (void *)(long)(i + 100);
}

/* Player 0 or 1: wait for its turn, hand it over. */
static void *player(void *arg)
{
	int me = (int)(long)arg;

	for (int k = 0; k < PINGS; k++) {
		pthread_mutex_lock(&lock);
		while (turn != me)
			pthread_cond_wait(&cond, &lock);
		turn = !me;
		pthread_cond_signal(&cond);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1 = 1;
}

/* Waits (making calls, where signals are taken) until SIGUSR1 has come. */
static void *target(void *arg)
{
	(void)arg;
	usr1_ready = 1;
	while (!got_usr1)
		sched_yield();
	return (void *)(long)cpu_now();
}

int main(void)
{
	pthread_t t[NTHREADS];
	void *ret;
	int ok = 1;

	setvbuf(stdout, NULL, _IONBF, 0);
	cpu_set_t set;
	CPU_ZERO(&set);
	long n = sched_getaffinity(0, sizeof(set), &set) ? -1 : CPU_COUNT(&set);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, adder, (void *)(long)i))
			return 1;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], &ret);
		ok &= ret == (void *)(long)(i + 100);
	}
	printf("mutex counter: %ld of %d, joins %s\n", counter, NTHREADS * ROUNDS,
	       ok ? "ok" : "WRONG");
	int distinct = 0;
	for (int i = 0; i < NTHREADS; i++) {
		int seen = 0;
		for (int k = 0; k < i; k++)
			seen |= cpu_of[k] == cpu_of[i];
		distinct += !seen && cpu_of[i] >= 0;
	}
	/* Hallows only (the boot checks it): how many CPUs the threads ran on. */
	printf("cpus: %ld online, the adders ran on %d\n", n, distinct);

	pthread_t a, b;
	turn = 0;
	pthread_create(&a, NULL, player, (void *)0L);
	pthread_create(&b, NULL, player, (void *)1L);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("condvar ping-pong: %d rounds, turn %d\n", PINGS, turn);

	signal(SIGUSR1, on_usr1);
	pthread_t c;
	pthread_create(&c, NULL, target, NULL);
	while (!usr1_ready)
		sched_yield();
	int e = pthread_kill(c, SIGUSR1);
	pthread_join(c, &ret);
	printf("tgkill to a thread: %d, handled %d\n", e, (int)got_usr1);
	unsigned cpu = ~0u;
	long r = syscall(SYS_getcpu, &cpu, NULL, NULL);
	printf("getcpu: %ld, a cpu %s\n", r, (long)cpu < n ? "in the set" : "OUT OF THE SET");
	return 0;
}
