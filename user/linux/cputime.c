/*
 * CPU time of the Linux personality: times, getrusage, wait4's rusage,
 * /proc/<pid>/stat and the CPU-time clocks (CLOCK_PROCESS_CPUTIME_ID,
 * CLOCK_THREAD_CPUTIME_ID: sys.c's clock_gettime), and what ITIMER_VIRTUAL
 * and ITIMER_PROF count (timer.c).
 *
 * User time is the kernel's count of each Linux thread's run time
 * (thread.read_cputime: every switch in and out counts, so the time is the
 * TSC's, exact to the switch). A Linux thread does not run while the server
 * serves its call or its fault: that time is the server thread's, and is
 * what Linux calls system time. The server counts it itself, with the TSC
 * read before and after it serves each message of a thread (main.c's
 * serve, lx_cpu_charge): two rdtsc a call, no kernel call. A process's time
 * is that of its threads alive and gone (cpu_gone_ns: main.c's
 * lx_plat_release adds a thread's user time when it goes; the system time
 * is added to the process as it is counted); its children's once it has
 * waited for them (proc.c).
 */
#include "lx.h"

#include <hallows/rt.h>

#define NS 1000000000ull

enum { NR_getrusage = 98, NR_times = 100 };

static uint64_t ns_of_tsc(uint64_t tsc)
{
	uint64_t hz = rt_self.bi->tsc_hz ? rt_self.bi->tsc_hz : 1;

	return tsc / hz * NS + tsc % hz * NS / hz;
}

uint64_t lx_cpu_process_ns(struct lx_proc *p)
{
	struct lx_proc *l = lx_grp(p);
	uint64_t ns = l->cpu_gone_ns;

	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		if (lx_procs[i].state == LX_PROC_LIVE && lx_grp(&lx_procs[i]) == l)
			ns += lx_plat_cpu_ns(&lx_procs[i]);
	return ns;
}

uint64_t lx_cpu_process_sys_ns(struct lx_proc *p)
{
	return ns_of_tsc(lx_grp(p)->sys_proc_tsc);
}

uint64_t lx_cpu_thread_sys_ns(const struct lx_proc *p)
{
	return ns_of_tsc(p->sys_tsc);
}

uint64_t lx_cpu_children_sys_ns(struct lx_proc *p)
{
	return ns_of_tsc(lx_grp(p)->sys_children_tsc);
}

void lx_cpu_charge(struct lx_proc *p, uint64_t tsc)
{
	if (p->state == LX_PROC_FREE)
		return; /* ended and reaped while served */
	p->sys_tsc += tsc;
	lx_grp(p)->sys_proc_tsc += tsc;
}

void lx_cpu_of_child(const struct lx_proc *c, uint64_t *user, uint64_t *sys)
{
	*user = c->cpu_gone_ns + c->cpu_children_ns;
	*sys = ns_of_tsc(c->sys_proc_tsc + c->sys_children_tsc);
}

void lx_cpu_reaped(struct lx_proc *p, const struct lx_proc *c)
{
	struct lx_proc *l = lx_grp(p);

	l->cpu_children_ns += c->cpu_gone_ns + c->cpu_children_ns; /* RUSAGE_CHILDREN, cutime */
	l->sys_children_tsc += c->sys_proc_tsc + c->sys_children_tsc;
}

/* A struct timeval of ns into tv. */
static void timeval(uint64_t ns, uint64_t tv[2])
{
	tv[0] = ns / NS, tv[1] = ns % NS / 1000;
}

int64_t lx_cpu_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case NR_times: { /* clock ticks of 10 ms: utime, stime, cutime, cstime */
		struct lx_proc *l = lx_grp(p);
		uint64_t tms[4] = {
		    lx_cpu_process_ns(p) / (NS / 100), lx_cpu_process_sys_ns(p) / (NS / 100),
		    l->cpu_children_ns / (NS / 100), lx_cpu_children_sys_ns(p) / (NS / 100)};
		uint64_t ticks = lx_plat_nanotime() / (NS / 100);
		return a[0] && lx_copy_out(p, a[0], tms, sizeof(tms)) ? -LX_EFAULT : (int64_t)ticks;
	}
	case NR_getrusage: { /* ru_utime, ru_stime, then the counters (0) */
		int64_t who = (int64_t)a[0];
		if (who != 0 && who != -1 && who != 1) /* RUSAGE_SELF, _CHILDREN, _THREAD */
			return -LX_EINVAL;
		struct lx_proc *l = lx_grp(p);
		uint64_t user = who == 0    ? lx_cpu_process_ns(p)
		                : who == -1 ? l->cpu_children_ns
		                            : lx_plat_cpu_ns(p);
		uint64_t sys = who == 0    ? lx_cpu_process_sys_ns(p)
		               : who == -1 ? lx_cpu_children_sys_ns(p)
		                           : lx_cpu_thread_sys_ns(p);
		uint64_t ru[18] = {0};
		timeval(user, &ru[0]);
		timeval(sys, &ru[2]);
		return lx_copy_out(p, a[1], ru, sizeof(ru)) ? -LX_EFAULT : 0;
	}
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
