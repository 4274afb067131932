/*
 * Threads (issue 15): pthread_create/join (clone with CLONE_THREAD,
 * CLONE_SETTLS, CLONE_CHILD_CLEARTID), a mutex and condition variables,
 * thread-local storage, gettid/getpid, tgkill to one thread, per-thread
 * signal masks, one thread's exit against exit_group, the main thread's
 * pthread_exit, fork from a thread, and futex's results and error codes.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "show.h"

/* <linux/futex.h> (musl-gcc has no kernel headers) */
#define FUTEX_WAIT                0
#define FUTEX_WAKE                1
#define FUTEX_CMP_REQUEUE         4
#define FUTEX_WAIT_BITSET         9
#define FUTEX_WAKE_BITSET         10
#define FUTEX_PRIVATE_FLAG        128
#define FUTEX_WAIT_PRIVATE        (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY    0xffffffffu

#define NTHREADS 4
#define ROUNDS   20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static __thread long tls = 7;
static int queue[8], qlen, done_producing;
static volatile pid_t handler_tid;
static __thread pid_t my_tid; /* each thread's id, for the handler (no call in it) */
static volatile int handled;

static long sys_futex(void *addr, int op, uint32_t val, const struct timespec *ts, void *a2,
                      uint32_t v3)
{
	return syscall(SYS_futex, addr, op, val, ts, a2, v3);
}

static void *adder(void *arg)
{
	long id = (long)arg;
	tls = id * 100; /* each thread its own copy */
	for (int i = 0; i < ROUNDS; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
		if (i % 1000 == 0)
			sched_yield();
	}
	return (void *)(tls + (syscall(SYS_gettid) != getpid()));
}

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= 50; i++) {
		pthread_mutex_lock(&lock);
		while (qlen == 8)
			pthread_cond_wait(&cond, &lock);
		queue[qlen++] = i;
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
	}
	pthread_mutex_lock(&lock);
	done_producing = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *consumer(void *arg)
{
	long sum = 0;
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (!qlen && !done_producing)
			pthread_cond_wait(&cond, &lock);
		if (!qlen && done_producing) {
			pthread_mutex_unlock(&lock);
			return (void *)sum;
		}
		sum += queue[--qlen];
		pthread_cond_broadcast(&cond);
		pthread_mutex_unlock(&lock);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
	handler_tid = my_tid;
	handled++;
}

static volatile pid_t waiter_tid;

static void *waiter(void *arg)
{
	sigset_t none;
	(void)arg;
	sigemptyset(&none);
	my_tid = (pid_t)syscall(SYS_gettid);
	waiter_tid = my_tid;
	int r = sigsuspend(&none); /* until the signal tgkill sends this thread */
	return (void *)(long)(r < 0 && errno == EINTR && handler_tid == waiter_tid);
}

static void *exit_group_thread(void *arg)
{
	(void)arg;
	_exit(3); /* exit_group: the whole process, the main thread waiting in join too */
}

static void *late_thread(void *arg)
{
	(void)arg;
	struct timespec ts = {0, 20000000};
	nanosleep(&ts, NULL);
	printf("the last thread runs after the main thread's pthread_exit\n");
	fflush(stdout);
	exit(5);
}

static void *forker(void *arg)
{
	(void)arg;
	pid_t c = fork();
	if (c == 0)
		_exit(getpid() != getppid() ? 9 : 1);
	int st = 0;
	waitpid(c, &st, 0);
	return (void *)(long)(WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* A thread of the process waits in a read while another forks; the child wakes it. */
static int wake_pipe[2];

static void *blocked_reader(void *arg)
{
	char b = 0;

	(void)arg;
	return (void *)(long)(read(wake_pipe[0], &b, 1) == 1 && b == 'w');
}

static void fork_beside_blocked_thread(void)
{
	pthread_t r;
	void *ret = NULL;
	int st;

	pipe(wake_pipe);
	pthread_create(&r, NULL, blocked_reader, NULL);
	usleep(20000); /* it waits in its read by now (if not, the read finds the byte) */
	pid_t c = fork();
	if (c == 0) {
		write(wake_pipe[1], "w", 1);
		_exit(7);
	}
	waitpid(c, &st, 0);
	pthread_join(r, &ret);
	printf("fork beside a thread waiting in read: child %d, the thread woken by it %ld\n",
	       WIFEXITED(st) ? WEXITSTATUS(st) : -1, (long)ret);
	close(wake_pipe[0]), close(wake_pipe[1]);
}

int main(void)
{
	pthread_t t[NTHREADS];
	void *ret;
	long ok = 0;

	/* N threads incrementing under a mutex; each returns its own TLS copy. */
	for (long i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, adder, (void *)(i + 1));
	for (long i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], &ret);
		ok += (long)ret == (i + 1) * 100 + 1;
	}
	printf("mutex: counter %ld of %d, threads with their own tls and tid: %ld\n", counter,
	       NTHREADS * ROUNDS, ok);
	printf("main's tls still %ld\n", tls);

	/* Condition variables: one producer, two consumers, a bounded queue. */
	pthread_t p, c1, c2;
	void *s1, *s2;
	pthread_create(&c1, NULL, consumer, NULL);
	pthread_create(&c2, NULL, consumer, NULL);
	pthread_create(&p, NULL, producer, NULL);
	pthread_join(p, NULL);
	pthread_join(c1, &s1);
	pthread_join(c2, &s2);
	printf("condvar: consumed sum %ld (expected 1275)\n", (long)s1 + (long)s2);

	/* tgkill to one thread: its handler runs in that thread and its sigsuspend ends. */
	signal(SIGUSR1, on_usr1);
	sigset_t usr1;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL); /* main blocks it: only the thread may take it */
	pthread_t w;
	pthread_create(&w, NULL, waiter, NULL);
	while (!waiter_tid)
		sched_yield();
	struct timespec ms = {0, 10000000};
	nanosleep(&ms, NULL); /* let it reach sigsuspend */
	SHOW("tgkill to the thread", syscall(SYS_tgkill, getpid(), waiter_tid, SIGUSR1));
	pthread_join(w, &ret);
	printf("handler ran in the target thread, sigsuspend EINTR: %ld, handled %d\n", (long)ret,
	       handled);
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	/* pthread_join returns once the kernel cleared the tid, which Linux does before the
	 * thread is quite gone: tgkill may still find it for a moment (seen under load). */
	for (int i = 0; i < 200 && syscall(SYS_tgkill, getpid(), waiter_tid, 0) == 0; i++)
		nanosleep(&ms, NULL);
	SHOW("tgkill to an ended thread", syscall(SYS_tgkill, getpid(), waiter_tid, 0));
	SHOW("tgkill tid 0", syscall(SYS_tgkill, getpid(), 0, 0));
	SHOW("tgkill to myself, signal 0", syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), 0));
	SHOW("tgkill, wrong group", syscall(SYS_tgkill, getpid() + 100000, syscall(SYS_gettid), 0));

	/* futex: results and errors. */
	static uint32_t word = 5;
	struct timespec t20 = {0, 20000000}, bad_ts = {0, 1000000000};
	SHOW("futex wait, value differs", sys_futex(&word, FUTEX_WAIT, 6, NULL, NULL, 0));
	SHOW("futex wait private, times out",
	     sys_futex(&word, FUTEX_WAIT_PRIVATE, 5, &t20, NULL, 0));
	SHOW("futex wait, bad address", sys_futex((void *)8, FUTEX_WAIT, 0, NULL, NULL, 0));
	SHOW("futex wait, misaligned", sys_futex((char *)&word + 1, FUTEX_WAIT, 5, NULL, NULL, 0));
	SHOW("futex wait, bad timeout", sys_futex(&word, FUTEX_WAIT, 5, &bad_ts, NULL, 0));
	SHOW("futex wait, timeout pointer bad",
	     sys_futex(&word, FUTEX_WAIT, 5, (void *)8, NULL, 0));
	SHOW("futex wait_bitset, bitset 0", sys_futex(&word, FUTEX_WAIT_BITSET, 5, NULL, NULL, 0));
	struct timespec past = {0, 1};
	SHOW("futex wait_bitset, absolute time passed",
	     sys_futex(&word, FUTEX_WAIT_BITSET, 5, &past, NULL, ~0u));
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	now.tv_nsec += 20000000;
	if (now.tv_nsec >= 1000000000)
		now.tv_sec++, now.tv_nsec -= 1000000000;
	SHOW("futex wait_bitset, absolute 20 ms on",
	     sys_futex(&word, FUTEX_WAIT_BITSET_PRIVATE, 5, &now, NULL, FUTEX_BITSET_MATCH_ANY));
	SHOW("futex wake, nobody waits", sys_futex(&word, FUTEX_WAKE, 1, NULL, NULL, 0));
	SHOW("futex wake_bitset, bitset 0", sys_futex(&word, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0));
	SHOW("futex, unknown operation", sys_futex(&word, 99, 0, NULL, NULL, 0));
	SHOW("futex cmp_requeue, value differs",
	     sys_futex(&word, FUTEX_CMP_REQUEUE, 1, (void *)1, &word, 4));

	/* A thread calling exit_group ends the process while main waits in join. */
	pid_t c = fork();
	if (c == 0) {
		pthread_t x;
		pthread_create(&x, NULL, exit_group_thread, NULL);
		pthread_join(x, NULL);
		_exit(1);
	}
	int st;
	waitpid(c, &st, 0);
	show_status("a thread's _exit(3)", st);

	/* The main thread's pthread_exit: the process goes on until its last thread ends. */
	fflush(stdout);
	c = fork();
	if (c == 0) {
		pthread_t x;
		pthread_create(&x, NULL, late_thread, NULL);
		pthread_exit(NULL);
	}
	waitpid(c, &st, 0);
	show_status("main thread's pthread_exit", st);

	/* fork from a thread: a child of the process, with one thread. */
	pthread_t f;
	pthread_create(&f, NULL, forker, NULL);
	pthread_join(f, &ret);
	printf("fork from a thread: child status %ld\n", (long)ret);

	/* Many short threads, more than the table holds at once over time. */
	long total = 0;
	for (int round = 0; round < 40; round++) {
		pthread_t y;
		pthread_create(&y, NULL, adder, (void *)1L);
		pthread_join(y, &ret);
		total += (long)ret == 101;
	}
	printf("40 threads made and joined one after another: %ld\n", total);
	fork_beside_blocked_thread();
	return 0;
}
