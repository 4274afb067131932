/*
 * select and pselect6 of the Linux personality, and the signal masks of
 * the waiting calls (pselect6, ppoll, epoll_pwait).
 *
 * select looks at the same readiness as poll (lx_ofd_ready): an fd is
 * readable on POLLIN, POLLHUP or POLLERR, writable on POLLOUT or POLLERR,
 * and nothing here has exceptional conditions (POLLPRI), as on Linux for
 * pipes, files, ttys and epoll instances. Like every blocking call here,
 * a wait has no effect before it blocks: the sets and the timeout are
 * written only when the call ends (ready, timed out, or interrupted).
 *
 * A temporary signal mask (pselect6, ppoll, epoll_pwait) uses
 * sigsuspend's state (in_sigsuspend, saved_mask): a handler it lets in
 * runs with the old mask saved in its frame; a call that ends any other
 * way puts the old mask back at once, so a signal only the temporary mask
 * let through stays pending (Linux's restore_saved_sigmask_unless).
 */
#include "lx.h"

#include <lib/string.h>

#define NS      1000000000ull
#define NFDBITS 64

enum { NR_select = 23, NR_ppoll = 271, NR_pselect6 = 270, NR_epoll_pwait = 281 };

/* POLLIN_SET and POLLOUT_SET of Linux's select, in poll's bits. */
#define IN_SET  (1u | 8u | 16u)
#define OUT_SET (4u | 8u)

int lx_sigmask_enter(struct lx_proc *p, uint64_t umask, uint64_t size)
{
	uint64_t mask;

	if (!umask)
		return 0;
	if (size != 8)
		return -LX_EINVAL;
	if (lx_copy_in(p, &mask, umask, 8))
		return -LX_EFAULT;
	if (!p->in_sigsuspend) { /* a call made again keeps the mask saved the first time */
		p->saved_mask = p->sigmask;
		p->in_sigsuspend = 1;
	}
	p->sigmask = mask & ~((1ull << 8) | (1ull << 18)); /* SIGKILL, SIGSTOP */
	return 0;
}

int64_t lx_sigmask_leave(struct lx_proc *p, int64_t r)
{
	uint64_t takeable = p->sigpending & ~(p->sigmask & ~((1ull << 8) | (1ull << 18)));

	if (r == LX_RET_BLOCK && p->in_sigsuspend && takeable) {
		p->chan = NULL; /* a signal the temporary mask lets in is pending: no wait */
		p->wake_at = 0;
		r = -LX_EINTR;
	}
	if (p->in_sigsuspend && r != -LX_EINTR && r != LX_RET_BLOCK) {
		p->sigmask = p->saved_mask;
		p->in_sigsuspend = 0;
	}
	return r;
}

/* The ns left of a wait that began with a timeout of total ns (deadline p->wake_at). */
static uint64_t time_left(const struct lx_proc *p, uint64_t total, bool waited)
{
	uint64_t now = lx_plat_nanotime();

	if (!waited)
		return total;
	return p->wake_at > now ? p->wake_at - now : 0;
}

/* Write the time left back as a timeval (usec) or timespec, as Linux does (errors ignored). */
static void write_left(struct lx_proc *p, uint64_t uaddr, uint64_t left, bool usec)
{
	int64_t t[2] = {(int64_t)(left / NS), (int64_t)(left % NS)};

	if (usec)
		t[1] /= 1000;
	(void)lx_copy_out(p, uaddr, t, sizeof(t));
}

/*
 * What the bits of one set ask for, and where they are: sets[k] of the n
 * fds, in (read), out (write), ex (except). 0, -EFAULT or -EBADF.
 */
struct fdsets {
	uint64_t in[1], out[1], ex[1];
};

static int sets_in(struct lx_proc *p, const uint64_t u[3], uint64_t n, struct fdsets *s)
{
	uint64_t *dst[3] = {s->in, s->out, s->ex};
	uint64_t bytes = (n + 7) / 8;

	memset(s, 0, sizeof(*s));
	for (int k = 0; k < 3; k++) {
		if (u[k] && bytes && lx_copy_in(p, dst[k], u[k], bytes))
			return -LX_EFAULT;
		if (n < NFDBITS)
			dst[k][0] &= (1ull << n) - 1;
	}
	uint64_t want = s->in[0] | s->out[0] | s->ex[0];
	for (uint32_t fd = 0; fd < n; fd++)
		if ((want >> fd & 1) && !lx_grp(p)->fd[fd].o)
			return -LX_EBADF; /* a closed descriptor in a set */
	return 0;
}

/*
 * select (usec: the timeout is a timeval) and pselect6 (a timespec, and
 * a signal mask in a[5]).
 */
static int64_t do_select(struct lx_proc *p, const uint64_t a[6], bool usec)
{
	int64_t n = (int32_t)a[0];
	uint64_t u[3] = {a[1], a[2], a[3]}, total = 0;
	int64_t ms = -1;
	struct fdsets want, got;

	if (n < 0)
		return -LX_EINVAL;
	if (n > LX_MAX_FDS) /* as Linux: bits past the descriptor table are not looked at */
		n = LX_MAX_FDS;
	if (a[4]) {
		int64_t t[2];
		if (lx_copy_in(p, t, a[4], sizeof(t)))
			return -LX_EFAULT;
		if (usec) { /* Linux folds whole seconds of tv_usec into tv_sec */
			int64_t us = t[1];
			t[0] += us / 1000000, t[1] = us % 1000000 * 1000;
		}
		if (t[0] < 0 || t[1] < 0 || t[1] >= (int64_t)NS)
			return -LX_EINVAL;
		total = (uint64_t)t[0] > 1000000000ull ? 1000000000ull * NS
		                                       : (uint64_t)t[0] * NS + (uint64_t)t[1];
		ms = (int64_t)((total + 999999) / 1000000); /* the timer counts milliseconds */
	}
	if (!usec && a[5]) { /* pselect6: {const sigset_t *ss; size_t ss_len} */
		uint64_t sig[2];
		if (lx_copy_in(p, sig, a[5], sizeof(sig)))
			return -LX_EFAULT;
		int err = lx_sigmask_enter(p, sig[0], sig[1]);
		if (err)
			return err;
	}
	int err = sets_in(p, u, (uint64_t)n, &want);
	if (err)
		return err;
	int64_t ready = 0;
	memset(&got, 0, sizeof(got));
	for (uint32_t fd = 0; fd < (uint64_t)n; fd++) {
		struct lx_ofd *o = lx_grp(p)->fd[fd].o;
		uint64_t b = 1ull << fd;
		if (!((want.in[0] | want.out[0]) & b))
			continue;
		uint16_t r = lx_ofd_ready(o);
		if ((want.in[0] & b) && (r & IN_SET))
			got.in[0] |= b, ready++;
		if ((want.out[0] & b) && (r & OUT_SET))
			got.out[0] |= b, ready++;
	}
	bool waited = lx_call_restarted(p) && p->wake_at;
	if (!ready) {
		int64_t r = lx_timer_wait(p, lx_poll_chan(), ms);
		if (r == LX_RET_BLOCK)
			return r;
	}
	uint64_t left = ms > 0 ? time_left(p, total, waited || !ready) : 0;
	p->wake_at = 0;
	uint64_t *out[3] = {got.in, got.out, got.ex};
	uint64_t bytes = ((uint64_t)n + 7) / 8;
	for (int k = 0; k < 3; k++)
		if (u[k] && bytes && lx_copy_out(p, u[k], out[k], bytes))
			return -LX_EFAULT;
	if (a[4] && total)
		write_left(p, a[4], left, usec);
	return ready;
}

void lx_select_interrupted(struct lx_proc *p, uint64_t left)
{
	const struct lx_call *c = &p->call;

	/* select and pselect6 write the time left back; ppoll too (musl passes a copy). */
	if (c->nr == NR_select && c->a[4])
		write_left(p, c->a[4], left, true);
	else if ((c->nr == NR_pselect6 && c->a[4]) || (c->nr == NR_ppoll && c->a[2]))
		write_left(p, c->nr == NR_ppoll ? c->a[2] : c->a[4], left, false);
}

int64_t lx_select_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case NR_select:
		return do_select(p, a, true);
	case NR_pselect6:
		return lx_sigmask_leave(p, do_select(p, a, false));
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
