/*
 * Time of the Linux personality: nanosleep and clock_nanosleep, the
 * timeouts of futex waits, alarm, setitimer and getitimer (ITIMER_REAL,
 * ITIMER_VIRTUAL, ITIMER_PROF).
 *
 * The server waits on its endpoint, and the kernel's timed wait
 * (HL_SYS_WAIT) is a wait on a notification, so a timer thread of the
 * server does the waiting: it sleeps until the earliest deadline of any
 * Linux thread (lx_timer_arm writes it and kicks the timer thread), then
 * signals bit 0 of the notification bound to the server's thread, so the
 * server's one wait on its endpoint also ends when time is up (a message
 * with label 0: main.c hands its bits to lx_timer_fire). The console's
 * UART interrupt signals bit 4 of the same notification (lx_timer_ntfn).
 * A sleeping Linux thread is blocked as any waiting call is (p->chan),
 * costs no CPU, and its call is made again when its time comes; the call
 * then sees the deadline has passed. (The first version drove the PIT from
 * ring 3, which only the root task may do.)
 *
 * ITIMER_VIRTUAL counts the process's user time, ITIMER_PROF its user and
 * system time (cputime.c). Their expiry is a CPU time, which no clock
 * wakes the server for: the timer thread wakes it when the time left could
 * have run out at the soonest (the CPU time left divided by the CPUs the
 * threads may run on), the server reads the process's CPU time then and
 * sends SIGVTALRM or SIGPROF, or looks again later. A process that
 * sleeps costs a look per interval left, no more.
 */
#include "lx.h"

#include <hallows/rt.h>
#include <lib/string.h>

#define NS          1000000000ull
#define REALTIME_AT 1767225600ull /* CLOCK_REALTIME at boot (sys.c's do_clock) */
#define SIGALRM     14
#define SIGVTALRM   26
#define SIGPROF     27

enum {
	NR_nanosleep = 35,
	NR_getitimer = 36,
	NR_alarm = 37,
	NR_setitimer = 38,
	NR_clock_nanosleep = 230,
};

static struct {
	hl_cptr_t ntfn;                 /* bound to the server's thread */
	hl_cptr_t fired;                /* a copy of it badged 1: what the timer thread signals */
	hl_cptr_t kick;                 /* the timer thread waits on it: a new deadline */
	volatile uint64_t deadline_tsc; /* 0: nothing to wait for */
	struct rt_thread th;
	bool ok;
} tm;

/* Wait until the deadline lx_timer_arm set (again when it changes), then tell the server. */
static void timer_main(void *unused)
{
	(void)unused;
	for (;;) {
		uint64_t d = tm.deadline_tsc;
		hl_word_t word = 0, info = 0;
		struct hl_msg m = {{0}};
		if (hl_wait(tm.kick, d ? d : HL_WAIT_FOREVER, &word) == HL_ERR_TIMED_OUT &&
		    tm.deadline_tsc == d) {
			tm.deadline_tsc = 0;
			hl_syscall(HL_SYS_SEND, tm.fired, &info, &m, NULL);
		}
	}
}

bool lx_timer_init(void)
{
	tm.ntfn = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	tm.kick = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	tm.fired = rt_slot();
	tm.ok = tm.ntfn && tm.kick && tm.fired &&
	        hl_cspace_mint(HL_SLOT_CSPACE, tm.fired, tm.ntfn, HL_R_WRITE, 1) == HL_OK &&
	        hl_thread_bind_notification(HL_SLOT_THREAD, tm.ntfn) == HL_OK &&
	        rt_thread_start(&tm.th, timer_main, NULL, 200) == 0;
	if (!tm.ok)
		rt_printf("linux: no timer thread: timed waits fail with ENOSYS\n");
	return tm.ok;
}

uint64_t lx_timer_ntfn(void)
{
	return tm.ok ? tm.ntfn : 0;
}

/* The earliest time anything waits for (0: nothing). */
static uint64_t earliest(void)
{
	uint64_t at = 0;

	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		const struct lx_proc *q = &lx_procs[i];
		if (q->state != LX_PROC_LIVE)
			continue;
		if (q->chan && q->wake_at && (!at || q->wake_at < at))
			at = q->wake_at;
		if (q->alarm_at && (!at || q->alarm_at < at))
			at = q->alarm_at;
		for (int w = 0; w < 2; w++)
			if (q->itv_at[w] && (!at || q->itv_look[w] < at))
				at = q->itv_look[w];
	}
	uint64_t net = lx_net_deadline(); /* Floo's timers (net.c) */
	return net && (!at || net < at) ? net : at;
}

void lx_timer_arm(void)
{
	uint64_t at = earliest(), now = lx_plat_nanotime();

	if (!tm.ok || !at)
		return;
	uint64_t d = rt_tsc() + (at > now ? rt_ns_to_tsc(at - now) : 0);
	if (tm.deadline_tsc && tm.deadline_tsc <= d)
		return; /* the timer thread wakes sooner and arms again from lx_timer_fire */
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	tm.deadline_tsc = d;
	hl_syscall(HL_SYS_SEND, tm.kick, &info, &m, NULL);
}

/* The CPU time ITIMER_VIRTUAL (w 0) or ITIMER_PROF (w 1) of process l counts, in ns. */
static uint64_t itv_cpu(struct lx_proc *l, int w)
{
	return lx_cpu_process_ns(l) + (w ? lx_cpu_process_sys_ns(l) : 0);
}

/* When to look at l's CPU time again: when the time left could have run out at the soonest. */
static void itv_schedule(struct lx_proc *l, int w, uint64_t cpu, uint64_t now)
{
	uint64_t left = l->itv_at[w] > cpu ? l->itv_at[w] - cpu : 0;

	left /= lx_plat_ncpus();
	l->itv_look[w] = now + (left < 1000000 ? 1000000 : left); /* 1 ms at least */
}

/* l's CPU-time timer w is due to be looked at: SIGVTALRM or SIGPROF if it ran out. */
static void itv_check(struct lx_proc *l, int w, uint64_t now)
{
	uint64_t cpu = itv_cpu(l, w);

	if (cpu >= l->itv_at[w]) {
		uint64_t next = l->itv_at[w] + l->itv_every[w];
		l->itv_at[w] = !l->itv_every[w] ? 0 : next > cpu ? next : cpu + l->itv_every[w];
		lx_signal_send(l, w ? SIGPROF : SIGVTALRM, 0);
	}
	if (l->state == LX_PROC_LIVE && l->itv_at[w])
		itv_schedule(l, w, cpu, now);
}

void lx_timer_fire(uint64_t bits)
{
	if (!tm.ok || !(bits & 1))
		return;
	uint64_t now = lx_plat_nanotime();
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		struct lx_proc *q = &lx_procs[i];
		if (q->state != LX_PROC_LIVE)
			continue;
		if (q->chan && q->wake_at && q->wake_at <= now) { /* its call sees the time is up */
			q->chan = NULL;
			lx_plat_resume(q);
		}
		if (q->alarm_at && q->alarm_at <= now) {
			q->alarm_at = q->alarm_every ? now + q->alarm_every : 0;
			lx_signal_send(q, SIGALRM, 0);
		}
		for (int w = 0; w < 2 && !q->grp; w++)
			if (q->state == LX_PROC_LIVE && q->itv_at[w] && q->itv_look[w] <= now)
				itv_check(q, w, now);
	}
	lx_timer_arm();
}

void lx_timer_interrupted(struct lx_proc *p)
{
	uint64_t now = lx_plat_nanotime(), left = p->wake_at > now ? p->wake_at - now : 0;
	int64_t ts[2] = {(int64_t)(left / NS), (int64_t)(left % NS)};

	/* nanosleep(req, rem), clock_nanosleep(clock, 0, req, rem): what was left of it */
	if (p->wake_at && p->call.nr == NR_nanosleep && p->call.a[1])
		(void)lx_copy_out(p, p->call.a[1], ts, sizeof(ts));
	if (p->wake_at && p->call.nr == NR_clock_nanosleep && !(p->call.a[1] & 1) && p->call.a[3])
		(void)lx_copy_out(p, p->call.a[3], ts, sizeof(ts));
	if (p->wake_at)
		lx_select_interrupted(p, left);
	p->wake_at = 0;
}

bool lx_timer_no_restart(const struct lx_proc *p)
{
	return p->call.nr == NR_nanosleep || p->call.nr == NR_clock_nanosleep ||
	       p->call.nr == 232 || p->call.nr == 281 || /* epoll_wait, epoll_pwait */
	       p->call.nr == 7 || p->call.nr == 271 ||   /* poll, ppoll */
	       p->call.nr == 23 || p->call.nr == 270 ||  /* select, pselect6 */
	       (p->call.nr == 202 && p->call.a[3] &&
	        ((p->call.a[1] & 127) == 0 || (p->call.a[1] & 127) == 9));
}

/* nanosleep and clock_nanosleep: the deadline, then the wait until it (restart: the same). */
static int64_t do_sleep(struct lx_proc *p, uint64_t clk, uint64_t flags, uint64_t ureq)
{
	int64_t ts[2];
	uint64_t now = lx_plat_nanotime();

	if (lx_call_restarted(p) && p->wake_at) {
		if (now >= p->wake_at) {
			p->wake_at = 0;
			return 0;
		}
		p->chan = &p->wake_at;
		lx_timer_arm();
		return LX_RET_BLOCK;
	}
	p->wake_at = 0;
	if (clk != 0 && clk != 1 && clk != 7 && clk != 11)
		return clk == 2 || clk == 3 || clk > 11 ? -LX_EINVAL : -95; /* EOPNOTSUPP */
	if (flags & ~1ull)
		return -LX_EINVAL;
	if (lx_copy_in(p, ts, ureq, sizeof(ts)))
		return -LX_EFAULT;
	if (ts[0] < 0 || ts[1] < 0 || ts[1] >= (int64_t)NS)
		return -LX_EINVAL;
	if (!tm.ok)
		return -LX_ENOSYS;
	uint64_t ns = (uint64_t)ts[0] > (1ull << 33) ? (1ull << 33) * NS : (uint64_t)ts[0] * NS;
	ns += (uint64_t)ts[1];
	if (flags & 1) { /* TIMER_ABSTIME: a time on that clock */
		uint64_t base = clk == 0 || clk == 11 ? REALTIME_AT * NS : 0;
		ns = ns > base ? ns - base : 0;
		if (ns <= now)
			return 0;
		p->wake_at = ns;
	} else {
		if (!ns)
			return 0;
		p->wake_at = now + ns;
	}
	p->chan = &p->wake_at;
	lx_timer_arm();
	return LX_RET_BLOCK;
}

int64_t lx_timer_wait(struct lx_proc *p, const void *chan, int64_t ms)
{
	if (!ms) {
		p->wake_at = 0;
		return 0;
	}
	if (ms > 0) { /* its deadline when first made, then until it passes */
		uint64_t now = lx_plat_nanotime();
		if (!lx_call_restarted(p) || !p->wake_at)
			p->wake_at = now + (uint64_t)ms * (NS / 1000);
		else if (now >= p->wake_at) {
			p->wake_at = 0;
			return 0;
		}
	}
	p->chan = chan;
	if (p->wake_at)
		lx_timer_arm();
	return LX_RET_BLOCK;
}

/* struct itimerval {interval, value}, each {tv_sec, tv_usec}, of timer which of l into v. */
static void itimer_get(struct lx_proc *l, uint64_t which, int64_t v[4])
{
	uint64_t at = which ? l->itv_at[which - 1] : l->alarm_at;
	uint64_t every = which ? l->itv_every[which - 1] : l->alarm_every;
	uint64_t now = which ? itv_cpu(l, (int)which - 1) : lx_plat_nanotime();
	uint64_t left = at > now ? at - now : 0;

	if (at && !left)
		left = 1000; /* due: Linux shows a microsecond at least */
	v[0] = (int64_t)(every / NS), v[1] = (int64_t)(every % NS / 1000);
	v[2] = (int64_t)(left / NS), v[3] = (int64_t)((left % NS + 999) / 1000);
	if (v[3] == 1000000)
		v[2]++, v[3] = 0;
}

static int64_t do_setitimer(struct lx_proc *p, uint64_t which, uint64_t unew, uint64_t uold)
{
	struct lx_proc *l = lx_grp(p);
	int64_t v[4], old[4];

	if (which > 2)
		return -LX_EINVAL;
	if (unew && lx_copy_in(p, v, unew, sizeof(v)))
		return -LX_EFAULT;
	if (unew &&
	    (v[0] < 0 || v[1] < 0 || v[1] >= 1000000 || v[2] < 0 || v[3] < 0 || v[3] >= 1000000))
		return -LX_EINVAL;
	itimer_get(l, which, old);
	if (uold && lx_copy_out(p, uold, old, sizeof(old)))
		return -LX_EFAULT;
	if (!unew)
		return 0;
	if (!tm.ok)
		return -LX_ENOSYS;
	uint64_t every = (uint64_t)v[0] * NS + (uint64_t)v[1] * 1000;
	uint64_t first = (uint64_t)v[2] * NS + (uint64_t)v[3] * 1000, now = lx_plat_nanotime();
	if (which == 0) {
		l->alarm_every = first ? every : 0;
		l->alarm_at = first ? now + first : 0;
	} else { /* a CPU time: from the process's count now */
		int w = (int)which - 1;
		uint64_t cpu = itv_cpu(l, w);
		l->itv_every[w] = first ? every : 0;
		l->itv_at[w] = first ? cpu + first : 0;
		if (first)
			itv_schedule(l, w, cpu, now);
	}
	lx_timer_arm();
	return 0;
}

int64_t lx_timer_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case NR_nanosleep:
		return do_sleep(p, 1, 0, a[0]);
	case NR_clock_nanosleep: {
		int64_t r = do_sleep(p, a[0], a[1], a[2]);
		return r == -LX_ENOSYS ? -LX_EINVAL : r;
	}
	case NR_alarm: {
		struct lx_proc *l = lx_grp(p);
		uint64_t now = lx_plat_nanotime(), left = l->alarm_at > now ? l->alarm_at - now : 0;
		uint64_t old = l->alarm_at ? (left + NS / 2) / NS : 0; /* rounded, as Linux */
		if (l->alarm_at && !old)
			old = 1;
		l->alarm_every = 0;
		l->alarm_at = a[0] ? now + (uint32_t)a[0] * NS : 0;
		lx_timer_arm();
		return (int64_t)old;
	}
	case NR_setitimer:
		return do_setitimer(p, a[0], a[1], a[2]);
	case NR_getitimer: {
		int64_t v[4];
		if (a[0] > 2)
			return -LX_EINVAL;
		itimer_get(lx_grp(p), a[0], v);
		return lx_copy_out(p, a[1], v, sizeof(v)) ? -LX_EFAULT : 0;
	}
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
