/*
 * /init of the Linux benchmark guest.
 *
 * Reads the TSC as its very first action and prints the ready line
 *   LINUX-GUEST-READY tsc=<n> boottime_ns=<n> monotonic_ns=<n>
 * then runs the benchmarks named in argv (kernel command line after "--"),
 * each "name" or "name=iterations", prints "BENCH ..." lines, prints
 * "LINUX-GUEST-DONE" and powers the machine off so QEMU exits. Run as a
 * normal process (pid != 1) it skips the power-off, for debugging on a host.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#include "lg_bench.h"

static const struct lg_bench lg_benches[] = {
    {"loop", 10000000, lg_bench_loop},
    {"getpid", 200000, lg_bench_getpid},
    {"futex", 20000, lg_bench_futex},
    {"yield", 50000, lg_bench_yield},
    {"yield_alone", 50000, lg_bench_yield_alone},
    {"pipe", 20000, lg_bench_pipe},
    {"pipe_xcpu", 10000, lg_bench_pipe_xcpu},
    {"pipe_xcpu_ns", 2000, lg_bench_pipe_xcpu_ns},
    {"signal", 200, lg_bench_signal},
    {"ring", 20000, lg_bench_ring},
    {"ring_xcpu_ns", 20000, lg_bench_ring_xcpu_ns},
    {"tail", 10000, lg_bench_tail},
    {"nvme_qd1", 2000, lg_bench_nvme_qd1},
    {"nvme_qd32", 2000, lg_bench_nvme_qd32},
    {"vblk_qd1", 2000, lg_bench_vblk_qd1},
    {"vblk_qd32", 2000, lg_bench_vblk_qd32},
    {"ahci_qd1", 2000, lg_bench_ahci_qd1},
    {"ahci_qd32", 2000, lg_bench_ahci_qd32},
    {"vnet", 2000, lg_bench_vnet},
    {"e1000", 2000, lg_bench_e1000},
    {"e1000e", 2000, lg_bench_e1000e},
    {"serve", 1, lg_bench_serve},
    {"fork", 1, lg_bench_fork},
    {"crc", 1, lg_bench_crc},
};

void lg_report(const char *name, double value, long iters, const char *extra)
{
	printf("BENCH %s %.1f instructions iters=%ld%s%s\n", name, value, iters,
	       extra && *extra ? " " : "", extra ? extra : "");
	fflush(stdout);
}

int lg_fail(const char *name, const char *what)
{
	printf("BENCH-ERROR %s %s: %s\n", name, what, strerror(errno));
	fflush(stdout);
	return -1;
}

/* CPUs /init may use, saved before any benchmark pins itself. */
static cpu_set_t lg_all_cpus;

int lg_online_cpus(void)
{
	return CPU_COUNT(&lg_all_cpus);
}

int lg_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/*
 * Stop the VM for the idle cross-check (QEMU with -device pvpanic
 * -action panic=pause): the TSC is read into esi:edi four instructions
 * before the pvpanic "panicked" write, so the paused VM's registers plus
 * QEMU's executed-instruction counter tell how far TSC and instruction
 * count have drifted apart. Returns only if the write did not pause.
 */
static int pvpanic_stop(void)
{
	if (ioperm(0x505, 1, 1) != 0)
		return lg_fail("pvpanic_stop", "ioperm");
	__asm__ volatile("rdtsc\n\tmov %%eax, %%esi\n\tmov %%edx, %%edi\n\t"
	                 "mov $0x505, %%dx\n\tmov $1, %%al\n\toutb %%al, %%dx" ::
	                     : "rax", "rdx", "rsi", "rdi", "memory");
	printf("BENCH-ERROR pvpanic_stop VM did not pause\n");
	return -1;
}

/* Nanoseconds of one clock, or 0 if it cannot be read. */
static unsigned long long clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) != 0)
		return 0;
	return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

/* Run one "name[=iters]" argument; returns 0 or -1. */
static int run_arg(const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);

	for (size_t i = 0; i < sizeof(lg_benches) / sizeof(lg_benches[0]); i++) {
		const struct lg_bench *b = &lg_benches[i];
		long iters = b->default_iters;

		if (strlen(b->name) != len || strncmp(b->name, arg, len) != 0)
			continue;
		if (eq) {
			char *end;
			iters = strtol(eq + 1, &end, 10);
			if (*end != '\0' || iters <= 0 || iters > 100000000) {
				printf("BENCH-ERROR %s bad iteration count\n", arg);
				return -1;
			}
		}
		int rc = b->run(iters);
		/* Undo the pinning the benchmark did to itself. */
		sched_setaffinity(0, sizeof(lg_all_cpus), &lg_all_cpus);
		return rc;
	}
	printf("BENCH-ERROR %s unknown benchmark\n", arg);
	return -1;
}

int main(int argc, char **argv)
{
	uint64_t tsc = lg_rdtsc();
	unsigned long long boot_ns = clock_ns(CLOCK_BOOTTIME);
	unsigned long long mono_ns = clock_ns(CLOCK_MONOTONIC);
	int failed = 0;

	if (sched_getaffinity(0, sizeof(lg_all_cpus), &lg_all_cpus) != 0)
		CPU_SET(0, &lg_all_cpus);
	printf("LINUX-GUEST-READY tsc=%llu boottime_ns=%llu monotonic_ns=%llu\n",
	       (unsigned long long)tsc, boot_ns, mono_ns);
	fflush(stdout);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "pvpanic_stop") == 0)
			failed += pvpanic_stop() != 0;
		else if (run_arg(argv[i]) != 0)
			failed++;
	}
	printf("LINUX-GUEST-DONE failed=%d tsc=%llu\n", failed, (unsigned long long)lg_rdtsc());
	fflush(stdout);
	if (getpid() == 1) {
		sync();
		reboot(RB_POWER_OFF);
		/* Power-off failed: returning from pid 1 panics, and panic=-1 plus
		 * -no-reboot makes QEMU exit anyway. */
	}
	return failed ? 1 : 0;
}
