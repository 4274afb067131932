/*
 * epoll of the Linux personality: epoll_create, epoll_create1, epoll_ctl,
 * epoll_wait and epoll_pwait on pipes, devices and other epoll instances
 * (regular files and directories are refused with EPERM, as on Linux).
 *
 * An instance is an open file description (LX_FD_EPOLL) holding its
 * interest list; readiness is what poll sees (lx_ofd_ready). Level-
 * triggered by default; EPOLLET reports an entry when one of its events
 * has become ready since the last report (an approximation of Linux's
 * "on every wake-up": more data into a pipe that was already readable is
 * not a new edge here); EPOLLONESHOT disables an entry once reported,
 * until EPOLL_CTL_MOD. A wait blocks as poll does (woken whenever a pipe
 * changes), with a timeout through timer.c.
 */
#include "lx.h"

#include <lib/string.h>

#define MAX_EPOLLS   16
#define MAX_WATCH    64
#define EPOLLIN      0x001u
#define EPOLLOUT     0x004u
#define EPOLLERR     0x008u
#define EPOLLHUP     0x010u
#define EPOLLRDNORM  0x040u
#define EPOLLWRNORM  0x100u
#define EPOLLONESHOT (1u << 30)
#define EPOLLET      (1u << 31)
#define O_CLOEXEC    02000000u

enum {
	NR_epoll_create = 213,
	NR_epoll_wait = 232,
	NR_epoll_ctl = 233,
	NR_epoll_pwait = 281,
	NR_epoll_create1 = 291
};
enum { CTL_ADD = 1, CTL_DEL = 2, CTL_MOD = 3 };

struct watch {
	struct lx_ofd *o; /* NULL: a free entry */
	int32_t fd;
	uint32_t events;
	uint64_t data;
	uint64_t stamp; /* EPOLLET: the file's change (lx_change_seq) last reported */
	uint64_t order; /* on the ready list since (0: not ready at the last look) */
	bool off;       /* EPOLLONESHOT, reported */
};

struct lx_epoll {
	struct watch w[MAX_WATCH];
	bool used;
};

static struct lx_epoll epolls[MAX_EPOLLS];

/* The events of w ready now (EPOLLERR and EPOLLHUP always count). */
static uint32_t ready_of(const struct watch *w)
{
	uint32_t r = lx_ofd_ready(w->o);

	r |= (r & EPOLLIN ? EPOLLRDNORM : 0) | (r & EPOLLOUT ? EPOLLWRNORM : 0);
	return r & (w->events | EPOLLERR | EPOLLHUP);
}

static uint64_t stamp_of(const struct watch *w)
{
	return w->o->pipe                   ? w->o->pipe->stamp
	       : w->o->kind == LX_FD_SOCKET ? lx_sock_stamp(w->o)
	                                    : 0;
}

/* What w reports now (an edge for EPOLLET: its file changed since the last report). */
static uint32_t report(struct watch *w)
{
	if (!w->o || w->off)
		return 0;
	if (!w->o->refs) { /* its file went with its last descriptor: so does the entry */
		w->o = NULL;
		return 0;
	}
	uint32_t r = ready_of(w);
	if ((w->events & EPOLLET) && w->stamp == stamp_of(w) + 1)
		r = 0;
	if (!r)
		w->order = 0;
	else if (!w->order) /* it joins the ready list when its file last changed */
		w->order = stamp_of(w);
	return r;
}

/* w was reported: to the end of the ready list, or off it (EPOLLET, EPOLLONESHOT). */
static void reported(struct watch *w)
{
	w->stamp = stamp_of(w) + 1;
	w->order = ++lx_change_seq;
	if (w->events & EPOLLONESHOT)
		w->off = true;
}

bool lx_epoll_ready(const struct lx_ofd *f)
{
	for (uint32_t i = 0; i < MAX_WATCH; i++)
		if (report(&f->ep->w[i]))
			return true;
	return false;
}

void lx_epoll_free(struct lx_ofd *f)
{
	f->ep->used = false;
}

static int64_t do_create(struct lx_proc *p, uint64_t flags)
{
	struct lx_epoll *ep = NULL;

	if (flags & ~(uint64_t)O_CLOEXEC)
		return -LX_EINVAL;
	for (uint32_t i = 0; !ep && i < MAX_EPOLLS; i++)
		ep = epolls[i].used ? NULL : &epolls[i];
	if (!ep)
		return -23; /* ENFILE */
	for (uint32_t fd = 0; fd < LX_MAX_FDS; fd++) {
		if (lx_grp(p)->fd[fd].o)
			continue;
		struct lx_ofd *o = lx_ofd_new(LX_FD_EPOLL, 2 /* O_RDWR */);
		if (!o)
			return -23;
		memset(ep, 0, sizeof(*ep));
		ep->used = true;
		o->ep = ep;
		lx_grp(p)->fd[fd] = (struct lx_fd){o, (flags & O_CLOEXEC) != 0};
		return fd;
	}
	return -LX_EMFILE;
}

static struct lx_ofd *fd_of(struct lx_proc *p, uint64_t fd)
{
	return fd < LX_MAX_FDS ? lx_grp(p)->fd[fd].o : NULL;
}

static int64_t do_ctl(struct lx_proc *p, const uint64_t a[6])
{
	struct lx_ofd *e = fd_of(p, a[0]), *t = fd_of(p, a[2]);
	uint32_t op = (uint32_t)a[1];
	uint8_t ev[12]; /* struct epoll_event, packed: events, data */

	if (!e || !t)
		return -LX_EBADF;
	if (op != CTL_DEL && lx_copy_in(p, ev, a[3], sizeof(ev)))
		return -LX_EFAULT;
	if (e->kind != LX_FD_EPOLL || e == t || (op < CTL_ADD || op > CTL_MOD))
		return -LX_EINVAL;
	if (t->kind == LX_FD_FILE || t->kind == LX_FD_DIR || t->kind == LX_FD_PROC ||
	    t->kind == LX_FD_PROCDIR)
		return -LX_EPERM; /* always ready: Linux will not watch them */
	struct watch *w = NULL, *free = NULL;
	for (uint32_t i = 0; i < MAX_WATCH; i++) {
		struct watch *x = &e->ep->w[i];
		report(x); /* drops entries whose file has gone */
		if (x->o == t && x->fd == (int32_t)a[2])
			w = x;
		else if (!x->o && !free)
			free = x;
	}
	if (op == CTL_ADD && w)
		return -LX_EEXIST;
	if (op != CTL_ADD && !w)
		return -LX_ENOENT;
	if (op == CTL_DEL) {
		w->o = NULL;
		return 0;
	}
	if (!w && !free)
		return -LX_ENOSPC; /* as max_user_watches */
	w = w ? w : free;
	uint32_t events;
	memcpy(&events, ev, 4);
	*w = (struct watch){.o = t, .fd = (int32_t)a[2], .events = events};
	memcpy(&w->data, ev + 4, 8);
	return 0;
}

static int64_t do_wait(struct lx_proc *p, uint64_t epfd, uint64_t uev, int64_t max, int64_t ms)
{
	struct lx_ofd *e = fd_of(p, epfd);

	if (!e)
		return -LX_EBADF;
	if (e->kind != LX_FD_EPOLL || max <= 0 || max > INT32_MAX / 12)
		return -LX_EINVAL;
	if (uev >= LX_TOP || (uint64_t)max * 12 > LX_TOP - uev)
		return -LX_EFAULT; /* Linux's access_ok: not user memory at all */
	int64_t n = 0;
	struct watch *w = e->ep->w;
	uint32_t ready[MAX_WATCH], nready = 0;
	for (uint32_t i = 0; i < MAX_WATCH; i++) /* the ready list, in its order */
		if (report(&w[i])) {
			uint32_t k = nready++;
			for (; k && w[ready[k - 1]].order > w[i].order; k--)
				ready[k] = ready[k - 1];
			ready[k] = i;
		}
	for (uint32_t k = 0; k < nready && n < max; k++) {
		struct watch *x = &w[ready[k]];
		uint32_t r = report(x);
		uint8_t ev[12];
		memcpy(ev, &r, 4);
		memcpy(ev + 4, &x->data, 8);
		if (lx_copy_out(p, uev + (uint64_t)n * 12, ev, sizeof(ev)))
			return n ? n : -LX_EFAULT; /* as Linux: the event stays to be reported */
		reported(x);
		n++;
	}
	return n ? (p->wake_at = 0, n) : lx_timer_wait(p, lx_poll_chan(), ms);
}

int64_t lx_epoll_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case NR_epoll_create:
		return (int32_t)a[0] <= 0 ? -LX_EINVAL : do_create(p, 0);
	case NR_epoll_create1:
		return do_create(p, a[0]);
	case NR_epoll_ctl:
		return do_ctl(p, a);
	case NR_epoll_wait:
		return do_wait(p, a[0], a[1], (int32_t)a[2], (int32_t)a[3]);
	case NR_epoll_pwait: { /* with its signal mask (select.c) */
		int err = lx_sigmask_enter(p, a[4], a[5]);
		return err ? err
		           : lx_sigmask_leave(p,
		                              do_wait(p, a[0], a[1], (int32_t)a[2], (int32_t)a[3]));
	}
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
