/*
 * Threads of the Linux personality: clone(CLONE_THREAD) as musl's and
 * glibc's pthread_create make it, one thread's exit against exit_group,
 * and futexes.
 *
 * A thread is a slot of the process table with its own tid (p->pid), its
 * own Hallows thread (its own fault endpoint badge), registers, FS base,
 * signal mask and pending signals, and p->grp pointing at the leader's
 * slot, which holds what the group shares: the address space and its
 * mappings, the descriptors, the signal actions. getpid gives p->tgid.
 *
 * The new thread leaves through the fork trampoline (proc.c): its copy of
 * the parent's register frame goes on the stack clone was given, so the
 * parent can go on (and reuse its own stack) before the child has run.
 *
 * A futex wait blocks the thread on futex_chan with its key (the group and
 * the address) and bitset; a wake picks up to n such waiters and marks
 * them woken, so the call, made again by the restart trampoline, returns 0
 * without looking at the value again (Linux does not either). A timed wait
 * also sets p->wake_at (timer.c wakes it; the call then gives ETIMEDOUT).
 */
#include "lx.h"

#include <hallows/rt.h>
#include <lib/string.h>

#define CLONE_SETTLS         0x00080000u
#define CLONE_PARENT_SETTID  0x00100000u
#define CLONE_CHILD_CLEARTID 0x00200000u
#define CLONE_CHILD_SETTID   0x01000000u

#define FRAME       640 /* lx_tramp_fork's register frame: FXSAVE area, then the registers */
#define FRAME_RSP   616
#define NS          1000000000ull
#define REALTIME_AT 1767225600ull /* CLOCK_REALTIME at boot (sys.c's do_clock) */

enum {
	FUTEX_WAIT = 0,
	FUTEX_WAKE = 1,
	FUTEX_REQUEUE = 3,
	FUTEX_CMP_REQUEUE = 4,
	FUTEX_WAIT_BITSET = 9,
	FUTEX_WAKE_BITSET = 10,
	FUTEX_PRIVATE = 128,
	FUTEX_CLOCK_REALTIME = 256,
};

static const char futex_chan;

bool lx_call_restarted(const struct lx_proc *p)
{
	return p->call.rip == LX_TRAMP + lx_tramp_off(LX_TRAMP_RESTART_RET);
}

/* The slot of a thread goes: its Hallows thread and its pool, and its place in the group. */
static void drop_thread(struct lx_proc *t)
{
	struct lx_proc *l = lx_grp(t);

	lx_plat_release(t);
	t->chan = NULL;
	lx_proc_reap(t);
	if (t != l && l->nthreads)
		l->nthreads--;
}

int64_t lx_thread_clone(struct lx_proc *p, uint64_t frame)
{
	struct lx_proc *l = lx_grp(p), *t = lx_proc_new();
	uint8_t regs[FRAME];

	if (!t)
		return -LX_EAGAIN;
	uint64_t flags = p->fork_flags, stack = p->fork_stack, tid = t->pid;
	uint64_t cframe = ((stack - FRAME) & ~63ull); /* the child's copy, under its stack */
	t->grp = l;
	t->mm_idx = l->idx;
	t->tgid = l->pid;
	t->ppid = l->ppid, t->pgid = l->pgid, t->sid = l->sid;
	t->sigmask = p->sigmask;
	memcpy(t->comm, p->comm, sizeof(t->comm));
	int err = lx_plat_spawn_thread(t);
	if (!err && (lx_copy_in(p, regs, frame, FRAME) || stack < FRAME))
		err = -LX_EFAULT;
	memcpy(regs + FRAME_RSP, &stack, 8);
	if (!err && lx_copy_out(p, cframe, regs, FRAME))
		err = -LX_EFAULT;
	if (!err)
		err = lx_plat_set_regs(t, LX_TRAMP + lx_tramp_off(LX_TRAMP_RESUME), cframe, cframe,
		                       0);
	if (!err)
		err = lx_plat_set_fs_of(t, flags & CLONE_SETTLS ? p->fork_tls : lx_plat_get_fs());
	if (!err && (flags & CLONE_PARENT_SETTID))
		err = lx_copy_out(p, p->fork_ptid, &tid, 4);
	if (!err && (flags & CLONE_CHILD_SETTID))
		err = lx_copy_out(p, p->fork_ctid, &tid, 4);
	if (err) {
		lx_plat_release(t);
		lx_proc_reap(t);
		return err == -LX_EFAULT ? -LX_EFAULT : -LX_ENOMEM;
	}
	if (flags & CLONE_CHILD_CLEARTID)
		t->tid_address = p->fork_ctid;
	l->nthreads++;
	lx_plat_resume(t);
	return (int64_t)tid;
}

int64_t lx_thread_exit(struct lx_proc *p, int st)
{
	struct lx_proc *l = lx_grp(p);

	if (p->tid_address) { /* CLONE_CHILD_CLEARTID, set_tid_address: what pthread_join waits on
		               */
		uint32_t zero = 0;
		if (!lx_copy_out(p, p->tid_address, &zero, 4))
			lx_futex_wake(p, p->tid_address, 1, ~0u);
	}
	if (p == l) { /* the first thread ends; the process goes on with the others */
		if (!l->nthreads) {
			lx_proc_exit(l, st);
			return LX_RET_GONE;
		}
		lx_plat_suspend(l);
		l->thread_gone = 1;
		l->chan = NULL;
		l->wake_at = 0;
		l->wstatus = st;
		return LX_RET_GONE;
	}
	drop_thread(p);
	if (!l->nthreads && l->thread_gone)
		lx_proc_exit(l, st); /* the last thread: the process ends */
	return LX_RET_GONE;
}

void lx_thread_kill_others(struct lx_proc *p, struct lx_proc *keep)
{
	struct lx_proc *l = lx_grp(p);

	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		struct lx_proc *t = &lx_procs[i];
		if (t->state == LX_PROC_LIVE && t->grp == l && t != keep)
			drop_thread(t);
	}
}

uint32_t lx_futex_wake(struct lx_proc *p, uint64_t uaddr, uint32_t n, uint32_t bits)
{
	struct lx_proc *l = lx_grp(p);
	uint32_t woken = 0;

	for (uint32_t i = 0; i < LX_MAX_PROCS && woken < n; i++) {
		struct lx_proc *t = &lx_procs[i];
		if (t->state != LX_PROC_LIVE || t->chan != &futex_chan || lx_grp(t) != l ||
		    t->futex_key != uaddr || !(t->futex_bits & bits))
			continue;
		t->chan = NULL;
		t->futex_woken = 1;
		t->wake_at = 0;
		lx_plat_resume(t);
		woken++;
	}
	return woken;
}

/* Waiters on uaddr beyond the first nwake move to uaddr2 (at most nmove): woken + moved. */
static int64_t futex_requeue(struct lx_proc *p, uint64_t uaddr, uint32_t nwake, uint32_t nmove,
                             uint64_t uaddr2)
{
	struct lx_proc *l = lx_grp(p);
	uint32_t moved = 0, woken = lx_futex_wake(p, uaddr, nwake, ~0u);

	for (uint32_t i = 0; i < LX_MAX_PROCS && moved < nmove; i++) {
		struct lx_proc *t = &lx_procs[i];
		if (t->state == LX_PROC_LIVE && t->chan == &futex_chan && lx_grp(t) == l &&
		    t->futex_key == uaddr) {
			t->futex_key = uaddr2;
			moved++;
		}
	}
	return (int64_t)woken + moved;
}

/* The deadline of a wait from a timespec: relative (rel) or absolute on clock realtime or
 * monotonic; 0 with *err set when the timespec is bad. */
static uint64_t deadline(struct lx_proc *p, uint64_t uts, bool rel, bool realtime, int *err)
{
	int64_t ts[2];
	uint64_t now = lx_plat_nanotime();

	*err = 0;
	if (lx_copy_in(p, ts, uts, sizeof(ts))) {
		*err = -LX_EFAULT;
		return 0;
	}
	if (ts[0] < 0 || ts[1] < 0 || ts[1] >= (int64_t)NS) {
		*err = -LX_EINVAL;
		return 0;
	}
	uint64_t ns = (uint64_t)ts[0] > (1ull << 33) ? (1ull << 33) * NS : (uint64_t)ts[0] * NS;
	ns += (uint64_t)ts[1];
	if (rel)
		return now + ns;
	if (realtime)
		ns = ns > REALTIME_AT * NS ? ns - REALTIME_AT * NS : 1;
	return ns ? ns : 1;
}

static int64_t futex_wait(struct lx_proc *p, const uint64_t a[6], uint32_t cmd, uint32_t bits)
{
	uint64_t uaddr = a[0];

	if (lx_call_restarted(p) && p->futex_key == uaddr) { /* woken, timed out, or not yet */
		if (p->futex_woken) {
			p->futex_woken = 0;
			p->wake_at = 0;
			return 0;
		}
		if (p->wake_at && lx_plat_nanotime() >= p->wake_at) {
			p->wake_at = 0;
			return -LX_ETIMEDOUT;
		}
		p->chan = &futex_chan;
		lx_timer_arm();
		return LX_RET_BLOCK;
	}
	uint32_t val;
	int err = 0;
	p->futex_woken = 0;
	p->wake_at = 0;
	if (lx_copy_in(p, &val, uaddr, 4))
		return -LX_EFAULT;
	uint64_t at =
	    a[3] ? deadline(p, a[3], cmd == FUTEX_WAIT, a[1] & FUTEX_CLOCK_REALTIME, &err) : 0;
	if (err)
		return err;
	if (val != (uint32_t)a[2])
		return -LX_EAGAIN;
	if (at && at <= lx_plat_nanotime())
		return -LX_ETIMEDOUT;
	p->futex_key = uaddr;
	p->futex_bits = bits;
	p->wake_at = at;
	p->chan = &futex_chan;
	if (at)
		lx_timer_arm();
	return LX_RET_BLOCK;
}

static int64_t do_futex(struct lx_proc *p, const uint64_t a[6])
{
	uint32_t cmd = (uint32_t)a[1] & ~(uint32_t)(FUTEX_PRIVATE | FUTEX_CLOCK_REALTIME);
	uint32_t val3 = (uint32_t)a[5];

	if (a[0] & 3)
		return -LX_EINVAL;
	if (LX_ACCESS_BAD(a[0], 4))
		return -LX_EFAULT; /* bug futex_wake_kernel_half_succeeded: every op, as Linux */
	if ((a[1] & FUTEX_CLOCK_REALTIME) && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT)
		return -LX_ENOSYS; /* as Linux */
	switch (cmd) {
	case FUTEX_WAIT:
		return futex_wait(p, a, cmd, ~0u);
	case FUTEX_WAIT_BITSET:
		return val3 ? futex_wait(p, a, cmd, val3) : -LX_EINVAL;
	case FUTEX_WAKE:
		return lx_futex_wake(
		    p, a[0], (uint32_t)a[2] > INT32_MAX ? (uint32_t)INT32_MAX : (uint32_t)a[2],
		    ~0u);
	case FUTEX_WAKE_BITSET:
		return val3 ? (int64_t)lx_futex_wake(p, a[0], (uint32_t)a[2], val3) : -LX_EINVAL;
	case FUTEX_CMP_REQUEUE:
	case FUTEX_REQUEUE: {
		uint32_t cur;
		if ((int32_t)a[2] < 0 || (int32_t)a[3] < 0 || (a[4] & 3))
			return -LX_EINVAL;
		if (cmd == FUTEX_CMP_REQUEUE) {
			if (lx_copy_in(p, &cur, a[0], 4))
				return -LX_EFAULT;
			if (cur != val3)
				return -LX_EAGAIN;
		}
		return futex_requeue(p, a[0], (uint32_t)a[2], (uint32_t)a[3], a[4]);
	}
	default:
		return -LX_ENOSYS;
	}
}

/* sched_getaffinity: every CPU (the server places threads; sched_setaffinity is not served). */
static int64_t do_getaffinity(struct lx_proc *p, const uint64_t a[6])
{
	uint32_t n = lx_plat_ncpus();
	uint64_t mask = n >= 64 ? ~0ull : (1ull << n) - 1;

	if (a[0] && !lx_proc_by_pid((uint32_t)a[0]))
		return -LX_ESRCH;
	if (a[1] < 8 || (a[1] & 7))
		return -LX_EINVAL;
	return lx_copy_out(p, a[2], &mask, 8) ? -LX_EFAULT : 8;
}

/* getcpu(cpu, node, cache): the CPU the server put the thread on, node 0. */
static int64_t do_getcpu(struct lx_proc *p, const uint64_t a[6])
{
	uint32_t cpu = lx_plat_cpu_of(p), node = 0;

	if (a[0] && lx_copy_out(p, a[0], &cpu, 4))
		return -LX_EFAULT;
	return a[1] && lx_copy_out(p, a[1], &node, 4) ? -LX_EFAULT : 0;
}

int64_t lx_thread_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case 202: /* futex */
		return do_futex(p, a);
	case 204:
		return do_getaffinity(p, a);
	case 309:
		return do_getcpu(p, a);
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
