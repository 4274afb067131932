/*
 * Shared helpers for the Linux-guest benchmark /init (static, musl or glibc).
 *
 * Every benchmark reads the TSC around many iterations. Under QEMU TCG with
 * -icount shift=0 the guest TSC advances one tick per executed guest
 * instruction (user and kernel, all vCPUs), so the deltas printed here are
 * instruction counts; under plain TCG they are host-clock ticks and mean
 * little. See docs/benchmarks.md.
 */
#ifndef LG_BENCH_H
#define LG_BENCH_H

#include <stdint.h>

/* Read the time-stamp counter (one instruction plus the shifts). */
static inline uint64_t lg_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

/* One benchmark: name on the command line, default iterations, runner. */
struct lg_bench {
	const char *name;
	long default_iters;
	/* Returns 0 and prints BENCH line(s), or -1 after printing why. */
	int (*run)(long iters);
};

/* Print "BENCH <name> <value> instructions iters=<n> <extra>". */
void lg_report(const char *name, double value, long iters, const char *extra);
/* Print "BENCH-ERROR <name> <what>: <strerror(errno)>" and return -1. */
int lg_fail(const char *name, const char *what);
/* Number of CPUs /init could use at start (before any pinning). */
int lg_online_cpus(void);
/* Pin the calling thread to one CPU; returns 0 or -1 (errno set). */
int lg_pin_cpu(int cpu);

int lg_bench_loop(long iters);
int lg_bench_getpid(long iters);
int lg_bench_futex(long iters);
int lg_bench_yield(long iters);
int lg_bench_yield_alone(long iters);
int lg_bench_pipe(long iters);
int lg_bench_pipe_xcpu(long iters);
int lg_bench_pipe_xcpu_ns(long iters);
int lg_bench_signal(long iters); /* lg_signal.c */
int lg_bench_ring(long iters);   /* lg_ring.c */
int lg_bench_ring_xcpu_ns(long iters);
int lg_bench_tail(long iters); /* lg_tail.c: TAIL lines, no BENCH line */
/* lg_tail.c's assembly: resume a context saved from a signal's ucontext (general registers in
 * gregset_t order, an FXSAVE image), clearing *unmask last; run fn(arg) on a fresh stack. */
void lg_tail_resume(const uint64_t *g, const void *fx, volatile int *unmask)
    __attribute__((noreturn));
void lg_tail_run_on(void *stack_top, void (*fn)(void *), void *arg) __attribute__((noreturn));
int lg_bench_nvme_qd1(long iters); /* lg_blk.c */
int lg_bench_nvme_qd32(long iters);
int lg_bench_vblk_qd1(long iters);
int lg_bench_vblk_qd32(long iters);
int lg_bench_ahci_qd1(long iters);
int lg_bench_ahci_qd32(long iters);
int lg_bench_vnet(long iters);   /* lg_net.c */
int lg_bench_e1000(long iters);  /* lg_net.c */
int lg_bench_e1000e(long iters); /* lg_net.c */
int lg_bench_serve(long iters);  /* lg_serve.c: until "stop" on the console */
int lg_bench_fork(long iters);   /* lg_fork.c: fork and copy-on-write beside Hallows snapshots */
int lg_bench_crc(long iters);    /* lg_crc.c: CRC-32C throughput (user/apps/crcbench) */

/* lg_blk.c helpers, also used by lg_net.c. */
struct lg_blk_mark {
	uint64_t tsc, mono, idle, timers;
};
/* Mount /proc and /sys, load /modules/<*> (once); 0 or -1 after BENCH-ERROR. */
int lg_blk_prepare(const char *name);
/* TSC, CLOCK_MONOTONIC, kernel idle time and timer interrupts now; 0 or -1. */
int lg_blk_take_mark(struct lg_blk_mark *m);
/* TSC ticks from a to b less the idle time; -1 if inconsistent. */
double lg_blk_busy(const struct lg_blk_mark *a, const struct lg_blk_mark *b);

#endif
