/*
 * Single-CPU micro-benchmarks of the Linux guest: the icount check loop,
 * getpid, futex ping-pong and sched_yield switches. Each reports
 * instructions per operation (TSC delta under -icount shift=0).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lg_bench.h"

#define LG_WARMUP 200

/* Linux futex ABI numbers (musl ships no <linux/futex.h>). */
#define LG_FUTEX_WAIT    0
#define LG_FUTEX_WAKE    1
#define LG_FUTEX_PRIVATE 128

/*
 * Known loop: "dec; jnz" is exactly 2 instructions per iteration, so under
 * -icount shift=0 the delta must be 2 * iters plus a few instructions for
 * the rdtsc reads, plus whatever timer interrupts the kernel took meanwhile.
 */
int lg_bench_loop(long iters)
{
	long n = iters;
	uint64_t t0 = lg_rdtsc();

	__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n)::"cc");
	uint64_t t1 = lg_rdtsc();
	printf("VERIFY loop iters=%ld delta=%llu expected=%ld\n", iters,
	       (unsigned long long)(t1 - t0), 2 * iters);
	fflush(stdout);
	return 0;
}

/* TSC ticks for iters rounds of "mov $SYS_getpid,%eax; [syscall]; dec; jnz". */
static uint64_t getpid_loop(long iters, int with_syscall)
{
	long n = iters;
	uint64_t t0 = lg_rdtsc();

	if (with_syscall)
		__asm__ volatile("1: mov %1, %%eax\n\tsyscall\n\tdec %0\n\tjnz 1b"
		                 : "+r"(n)
		                 : "i"(SYS_getpid)
		                 : "rax", "rcx", "r11", "memory", "cc");
	else
		__asm__ volatile("1: mov %1, %%eax\n\tdec %0\n\tjnz 1b"
		                 : "+r"(n)
		                 : "i"(SYS_getpid)
		                 : "rax", "memory", "cc");
	return lg_rdtsc() - t0;
}

/*
 * Raw getpid: the loop with the syscall instruction minus the same loop
 * without it, per iteration: the syscall instruction, the whole kernel
 * entry/exit path and sysret, nothing of libc.
 */
int lg_bench_getpid(long iters)
{
	char extra[96];

	getpid_loop(LG_WARMUP, 1);
	uint64_t with = getpid_loop(iters, 1);
	uint64_t base = getpid_loop(iters, 0);
	snprintf(extra, sizeof(extra), "loop_baseline_per_iter=%.2f", (double)base / (double)iters);
	lg_report("syscall.linux.getpid_instructions",
	          ((double)with - (double)base) / (double)iters, iters, extra);
	return 0;
}

static int lg_futex_word;

static long lg_futex(int op, int val)
{
	return syscall(SYS_futex, &lg_futex_word, op | LG_FUTEX_PRIVATE, val, NULL, NULL, 0);
}

/* Wait until the futex word equals want (sleeping while it equals other). */
static void lg_futex_await(int want, int other)
{
	while (__atomic_load_n(&lg_futex_word, __ATOMIC_ACQUIRE) != want)
		lg_futex(LG_FUTEX_WAIT, other);
}

/* Partner thread: answer every 1 with a 0. */
static void *futex_partner(void *arg)
{
	long total = *(long *)arg;

	lg_pin_cpu(0);
	for (long i = 0; i < total; i++) {
		lg_futex_await(1, 0);
		__atomic_store_n(&lg_futex_word, 0, __ATOMIC_RELEASE);
		lg_futex(LG_FUTEX_WAKE, 1);
	}
	return NULL;
}

/* One round trip: store 1 + wake partner, then wait for its 0. */
static void futex_round(void)
{
	__atomic_store_n(&lg_futex_word, 1, __ATOMIC_RELEASE);
	lg_futex(LG_FUTEX_WAKE, 1);
	lg_futex_await(0, 1);
}

/* Two threads on CPU 0 ping-pong with FUTEX_WAIT/FUTEX_WAKE. */
int lg_bench_futex(long iters)
{
	const char *name = "ipc.linux.futex_roundtrip_instructions";
	long total = iters + LG_WARMUP;
	pthread_t th;
	int err;

	lg_futex_word = 0;
	if (lg_pin_cpu(0) != 0)
		return lg_fail(name, "sched_setaffinity");
	err = pthread_create(&th, NULL, futex_partner, &total);
	if (err != 0) {
		errno = err;
		return lg_fail(name, "pthread_create");
	}
	for (long i = 0; i < LG_WARMUP; i++)
		futex_round();
	uint64_t t0 = lg_rdtsc();
	for (long i = 0; i < iters; i++)
		futex_round();
	uint64_t t1 = lg_rdtsc();
	pthread_join(th, NULL);
	lg_report(name, (double)(t1 - t0) / (double)iters, iters, "cpus=1");
	return 0;
}

/*
 * sched_yield with nothing else runnable on the CPU: the syscall and a
 * trip through the scheduler that picks the caller again. Context for the
 * switch figure below (which adds the actual switch).
 */
int lg_bench_yield_alone(long iters)
{
	const char *name = "sched.linux.yield_noswitch_instructions";

	if (lg_pin_cpu(0) != 0)
		return lg_fail(name, "sched_setaffinity");
	for (long i = 0; i < LG_WARMUP; i++)
		sched_yield();
	uint64_t t0 = lg_rdtsc();
	for (long i = 0; i < iters; i++)
		sched_yield();
	uint64_t t1 = lg_rdtsc();
	lg_report(name, (double)(t1 - t0) / (double)iters, iters, "cpus=1");
	return 0;
}

struct yield_state {
	long target;   /* stop once this many switches were seen */
	long switches; /* yields after which the other thread ran */
	int last;      /* id of the thread that ran last */
	int go;
};

/* Yield until target switches happened; count hand-overs seen by id. */
static void yield_run(struct yield_state *st, int id)
{
	while (__atomic_load_n(&st->switches, __ATOMIC_RELAXED) < st->target) {
		sched_yield();
		if (__atomic_load_n(&st->last, __ATOMIC_RELAXED) != id) {
			__atomic_store_n(&st->last, id, __ATOMIC_RELAXED);
			__atomic_fetch_add(&st->switches, 1, __ATOMIC_RELAXED);
		}
	}
}

static void *yield_partner(void *arg)
{
	struct yield_state *st = arg;

	lg_pin_cpu(0);
	while (!__atomic_load_n(&st->go, __ATOMIC_ACQUIRE))
		sched_yield();
	yield_run(st, 1);
	return NULL;
}

/*
 * Two threads pinned to CPU 0 calling sched_yield. A switch is counted when
 * a thread returns from sched_yield and sees that the other one ran last,
 * so the figure is per actual switch, not per call.
 */
int lg_bench_yield(long iters)
{
	const char *name = "sched.linux.yield_switch_instructions";
	struct yield_state st = {.target = iters, .last = 0};
	char extra[64];
	pthread_t th;
	int err;

	if (lg_pin_cpu(0) != 0)
		return lg_fail(name, "sched_setaffinity");
	err = pthread_create(&th, NULL, yield_partner, &st);
	if (err != 0) {
		errno = err;
		return lg_fail(name, "pthread_create");
	}
	uint64_t t0 = lg_rdtsc();
	__atomic_store_n(&st.go, 1, __ATOMIC_RELEASE);
	yield_run(&st, 0);
	uint64_t t1 = lg_rdtsc();
	pthread_join(th, NULL);
	snprintf(extra, sizeof(extra), "switches=%ld cpus=1", st.switches);
	lg_report(name, (double)(t1 - t0) / (double)st.switches, iters, extra);
	return 0;
}
