/*
 * CPU time of the Linux personality: times, getrusage and the CPU-time
 * clocks (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID: sys.c's
 * clock_gettime) from the kernel's count of each thread's run time
 * (thread.read_cputime: every switch in and out counts, so the time is
 * the TSC's, exact to the switch). The kernel does not tell user time from
 * system time: both go into the user fields (tms_utime, ru_utime), and the
 * system fields stay 0. A process's time is that of its threads alive and
 * gone (cpu_gone_ns: main.c's lx_plat_release adds a thread's when it
 * goes); its children's counts once it has waited for them (proc.c).
 */
#include "lx.h"

#define NS 1000000000ull

enum { NR_getrusage = 98, NR_times = 100 };

uint64_t lx_cpu_process_ns(struct lx_proc *p)
{
	struct lx_proc *l = lx_grp(p);
	uint64_t ns = l->cpu_gone_ns;

	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		if (lx_procs[i].state == LX_PROC_LIVE && lx_grp(&lx_procs[i]) == l)
			ns += lx_plat_cpu_ns(&lx_procs[i]);
	return ns;
}

int64_t lx_cpu_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case NR_times: { /* clock ticks of 10 ms: utime, stime, cutime, cstime */
		uint64_t tms[4] = {lx_cpu_process_ns(p) / (NS / 100), 0,
		                   lx_grp(p)->cpu_children_ns / (NS / 100), 0};
		uint64_t ticks = lx_plat_nanotime() / (NS / 100);
		return a[0] && lx_copy_out(p, a[0], tms, sizeof(tms)) ? -LX_EFAULT : (int64_t)ticks;
	}
	case NR_getrusage: { /* ru_utime, then ru_stime (0) and the counters (0) */
		int64_t who = (int64_t)a[0];
		if (who != 0 && who != -1 && who != 1) /* RUSAGE_SELF, _CHILDREN, _THREAD */
			return -LX_EINVAL;
		uint64_t ns = who == 0    ? lx_cpu_process_ns(p)
		              : who == -1 ? lx_grp(p)->cpu_children_ns
		                          : lx_plat_cpu_ns(p);
		uint64_t ru[18] = {ns / NS, ns % NS / 1000};
		return lx_copy_out(p, a[1], ru, sizeof(ru)) ? -LX_EFAULT : 0;
	}
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
