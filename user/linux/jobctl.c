/*
 * Job control of the Linux personality: stopping and continuing processes
 * (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGCONT) and what a parent's wait
 * and SIGCHLD see of it (CLD_STOPPED, CLD_CONTINUED).
 *
 * A stop acts on the whole process (its leader's slot holds `stopped`):
 * every thread of it is suspended at once, except the one whose call the
 * server is answering (lx_caller), which gets its answer and stops at its
 * next call or fault (main.c). A stopped thread keeps its state: one that
 * waits in a call (p->chan) waits on; lx_plat_resume leaves the threads of
 * a stopped process alone, so a wake while stopped only clears p->chan.
 * SIGCONT resumes every thread that is not waiting (its call, if any, is
 * made again through the restart trampoline).
 *
 * Orphaned process groups (POSIX, Linux's kill_orphaned_pgrp): a group is
 * orphaned when no member has a parent in another group of the same
 * session (the server, pid 1, is init: it counts as no parent). When an
 * exit orphans a group that has a stopped member, every member gets SIGHUP
 * then SIGCONT; SIGTSTP, SIGTTIN and SIGTTOU whose default action would
 * stop a member of an orphaned group are discarded (signal.c), and the tty
 * gives EIO where it would send SIGTTIN or SIGTTOU (tty.c).
 */
#include "lx.h"

#define SIGCHLD       17
#define SIGCONT       18
#define SIGSTOP       19
#define SIGTSTP       20
#define SIGTTIN       21
#define SIGTTOU       22
#define SA_NOCLDSTOP  1u
#define CLD_STOPPED   5
#define CLD_CONTINUED 6

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

#define STOP_SIGNALS (bit(SIGSTOP) | bit(SIGTSTP) | bit(SIGTTIN) | bit(SIGTTOU))

struct lx_proc *lx_caller;

bool lx_job_is_stop(int sig)
{
	return sig >= SIGSTOP && sig <= SIGTTOU;
}

/* Tell l's parent (SIGCHLD with code, unless it asked for SA_NOCLDSTOP) and wake its waits. */
static void tell_parent(struct lx_proc *l, int code, int status)
{
	struct lx_proc *par = lx_proc_by_pid(l->ppid);

	if (!par || par->state != LX_PROC_LIVE || l->ppid == 1)
		return;
	lx_wake(par); /* a wait4 in progress sees the report */
	if (par->sigactions[SIGCHLD][1] & SA_NOCLDSTOP)
		return;
	par->sigchld_pid = l->pid;
	par->sigchld_code = (uint32_t)code;
	par->sigchld_status = status;
	lx_signal_send(par, SIGCHLD, l->pid);
}

/* The next live thread of process l from slot *i on (l itself included), or NULL. */
static struct lx_proc *next_thread(struct lx_proc *l, uint32_t *i)
{
	for (; *i < LX_MAX_PROCS; (*i)++)
		if (lx_procs[*i].state == LX_PROC_LIVE && lx_grp(&lx_procs[*i]) == l)
			return &lx_procs[(*i)++];
	return NULL;
}

/* A process has stopped since the server started (lx_job_links). */
static bool stops_seen;

void lx_job_stop(struct lx_proc *q, int sig)
{
	struct lx_proc *l = lx_grp(q);

	struct lx_proc *t;
	uint32_t i = 0;

	while ((t = next_thread(l, &i)))
		t->sigpending &= ~bit(SIGCONT);
	if (l->stopped)
		return;
	stops_seen = true;
	l->stopped = (uint32_t)sig;
	l->report = LX_REPORT_STOP;
	for (i = 0; (t = next_thread(l, &i));)
		if (t != lx_caller)
			lx_plat_suspend(t);
	tell_parent(l, CLD_STOPPED, sig);
}

void lx_job_continue(struct lx_proc *q)
{
	struct lx_proc *l = lx_grp(q);

	struct lx_proc *t;
	uint32_t i = 0;

	while ((t = next_thread(l, &i)))
		t->sigpending &= ~STOP_SIGNALS;
	if (!l->stopped)
		return;
	l->stopped = 0;
	l->report = LX_REPORT_CONT;
	for (i = 0; (t = next_thread(l, &i));)
		if (!t->chan && t != lx_caller)
			lx_plat_resume(t);
	tell_parent(l, CLD_CONTINUED, SIGCONT);
	/* The signals sent while it was stopped act now (a fatal one ends it, a handler's
	 * interrupts a wait), as a stopped thread takes them when it runs again. */
	for (i = 0; (t = next_thread(l, &i));) {
		uint64_t pending = t->sigpending & ~(t->sigmask & ~(bit(9) | bit(SIGSTOP)));
		for (int sig = 1; pending && sig <= 64; sig++) {
			if (!(pending & bit(sig)) || sig == SIGCONT || t->state != LX_PROC_LIVE)
				continue;
			t->sigpending &= ~bit(sig);
			lx_signal_send(t, sig, t->sigsender);
		}
	}
}

/* ---- orphaned process groups ---- */

/* Group pgid has no member whose parent is in another group of the same session. */
static bool pgrp_orphaned(uint32_t pgid)
{
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		const struct lx_proc *q = &lx_procs[i];
		if (q->state != LX_PROC_LIVE || q->grp || q->pgid != pgid || q->ppid == 1)
			continue;
		const struct lx_proc *par = lx_proc_by_pid(q->ppid);
		if (par && par->state == LX_PROC_LIVE && par->pgid != pgid && par->sid == q->sid)
			return false;
	}
	return true;
}

bool lx_job_orphaned(struct lx_proc *p)
{
	return pgrp_orphaned(lx_grp(p)->pgid);
}

void lx_job_links(struct lx_proc *p, struct lx_links *o)
{
	o->n = 0;
	/* Only a group with a stopped member is signalled once orphaned (and nothing on the way
	 * out of lx_proc_exit stops one): until a process has ever stopped, the common case,
	 * there is nothing to find, and the group walks below (about 400 instructions of every
	 * exit) are skipped. */
	if (!stops_seen)
		return;
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) { /* its own group, its children's */
		const struct lx_proc *q = &lx_procs[i];
		if (q->state != LX_PROC_LIVE || q->grp || (q != p && q->ppid != p->pid))
			continue;
		bool seen = false;
		for (uint32_t k = 0; k < o->n; k++)
			seen = seen || o->pgid[k] == q->pgid;
		if (!seen && !pgrp_orphaned(q->pgid))
			o->pgid[o->n++] = q->pgid;
	}
}

void lx_job_orphans(const struct lx_links *o)
{
	for (uint32_t k = 0; k < o->n; k++) {
		uint32_t pgid = o->pgid[k], members[LX_MAX_PROCS], n = 0;
		bool stopped = false;
		if (!pgrp_orphaned(pgid))
			continue;
		for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
			struct lx_proc *q = &lx_procs[i];
			if (q->state == LX_PROC_LIVE && !q->grp && q->pgid == pgid) {
				members[n++] = q->pid;
				stopped = stopped || q->stopped;
			}
		}
		for (int sig = 1; stopped && sig <= SIGCONT;
		     sig += SIGCONT - 1) /* SIGHUP, SIGCONT */
			for (uint32_t m = 0; m < n; m++) {
				struct lx_proc *q = lx_proc_by_pid(members[m]);
				if (q && q->state == LX_PROC_LIVE)
					lx_signal_send(q, sig, 0);
			}
	}
}
