/*
 * Linux's preemption "upcall": a POSIX timer (timer_create, SIGEV_SIGNAL)
 * interrupting a loop, beside Hallows' preemption upcall
 * (user/apps/tailbench, upcall.hallows.*). The loop stores the TSC
 * continuously; the handler's first line reads it again (delivery: timer
 * interrupt, signal frame with the FPU state, handler) and its last line
 * once more, which the loop's first round after the handler compares with
 * (return: the restorer, rt_sigreturn, the kernel's exit). Under -icount
 * shift=0 TSC ticks are instructions.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lg_bench.h"

static volatile uint64_t lg_last_tsc, lg_handler_tsc, lg_leave_tsc, lg_deliver_sum;

static void lg_on_alarm(int sig)
{
	uint64_t now = lg_rdtsc();

	(void)sig;
	lg_deliver_sum += now - lg_last_tsc;
	lg_handler_tsc = now;
	lg_leave_tsc = lg_rdtsc();
}

/* iters signals 20 us apart (the quantum of the Hallows probe). */
int lg_bench_signal(long iters)
{
	struct sigaction sa;
	struct sigevent ev;
	timer_t tm;
	struct itimerspec its = {{0, 20000}, {0, 20000}};
	uint64_t seen = 0, resume_sum = 0;
	long samples = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lg_on_alarm;
	sigemptyset(&sa.sa_mask);
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_SIGNAL;
	ev.sigev_signo = SIGALRM;
	if (sigaction(SIGALRM, &sa, NULL) || timer_create(CLOCK_MONOTONIC, &ev, &tm))
		return lg_fail("upcall.linux.signal", "timer_create");
	if (timer_settime(tm, 0, &its, NULL))
		return lg_fail("upcall.linux.signal", "timer_settime");
	while (samples < iters) {
		if (lg_handler_tsc != seen) { /* first round after a handler */
			uint64_t t = lg_rdtsc();
			seen = lg_handler_tsc;
			resume_sum += t - lg_leave_tsc;
			samples++;
		}
		lg_last_tsc = lg_rdtsc();
	}
	timer_delete(tm);
	signal(SIGALRM, SIG_IGN);
	lg_report("upcall.linux.signal_delivery_instructions", (double)lg_deliver_sum / samples,
	          samples, "timer=timer_create_SIGALRM_every_20us");
	lg_report("upcall.linux.sigreturn_instructions", (double)resume_sum / samples, samples,
	          "from=handler_last_line_to_loop");
	return 0;
}
