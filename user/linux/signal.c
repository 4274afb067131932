/*
 * Signals of the Linux personality: rt_sigaction state (kept in struct
 * lx_proc), sending (kill, tgkill, SIGCHLD, SIGPIPE), default actions,
 * and delivery to a handler when a system call ends or when a blocked call
 * is interrupted (EINTR, or made again after the handler with SA_RESTART).
 *
 * The server sees only a thread's argument registers, so a handler is
 * entered through the trampoline page (proc.c): the server lays out the
 * frame Linux would (return address = sa_restorer, ucontext, siginfo, FPU
 * state) below the red zone and fills what it knows (rip, rsp, rdi, rsi,
 * the old mask, siginfo); lx_tramp_sig stores the other registers and the
 * FPU state into it and calls the handler; rt_sigreturn sends the thread
 * to lx_tramp_sigret, which loads every register back from the ucontext.
 * Signals reach a process only at its system calls (and while it waits in
 * one): a process that loops without calls gets them at its next call,
 * except SIGKILL and default actions that end or stop it (jobctl.c), which
 * act at once. A fault the server cannot page in runs the handler of its
 * signal from the fault (lx_signal_fault), with the registers read from
 * the faulted thread. A handler with SA_ONSTACK runs on the thread's
 * alternate stack (sigaltstack) when it is not on it already; the frame's
 * uc_stack holds the stack as it was, which rt_sigreturn sets again.
 */
#include "lx.h"

#include <hallows/rt.h>
#include <lib/string.h>

#define SIG_DFL       0
#define SIG_IGN       1
#define SA_NODEFER    0x40000000u
#define SA_RESETHAND  0x80000000u
#define SA_RESTART    0x10000000u
#define SA_ONSTACK    0x08000000u
#define SS_ONSTACK    1u
#define SS_DISABLE    2u
#define SS_AUTODISARM (1u << 31)
#define MINSIGSTKSZ   2048u
#define SIGKILL       9
#define SIGSTOP       19
#define SIGCHLD       17
#define FRAME_BYTES   1100 /* pretcode, ucontext, siginfo, 64-aligned FPU area */
#define UC            8    /* frame offsets: the ucontext */
#define GREG(i)       (48 + 8 * (i))
#define INFO          312
#define MASK          304
#define UC_STACK      (UC + 16) /* uc_stack: ss_sp, ss_flags, ss_size */
enum { R_RDI = 8, R_RSI = 9, R_RAX = 13, R_RSP = 15, R_RIP = 16, R_EFL = 17, R_TRAPNO = 20 };

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

/* Signals whose default action is to do nothing (SIGCHLD, SIGCONT, SIGURG, SIGWINCH); SIGCONT
 * continues a stopped process when it is sent, whatever its action (jobctl.c). */
static bool default_ignored(int sig)
{
	return sig == SIGCHLD || sig == 18 || sig == 23 || sig == 28 || sig > 31;
}

static uint64_t blockable(uint64_t mask)
{
	return mask & ~(bit(SIGKILL) | bit(SIGSTOP));
}

/* The lowest pending signal p would take now, or 0. */
static int next_signal(const struct lx_proc *p)
{
	uint64_t ready = p->sigpending & ~blockable(p->sigmask);

	return ready ? __builtin_ctzll(ready) + 1 : 0;
}

bool lx_signal_ready(const struct lx_proc *p)
{
	return next_signal(p) != 0;
}

/* Where the interrupted call returns: its own rip and rsp, or those in its restart record. */
static int call_site(struct lx_proc *p, uint64_t *rip, uint64_t *rsp)
{
	uint64_t rec[3];

	*rip = p->call.rip, *rsp = p->call.rsp;
	if (p->call.rip != LX_TRAMP + lx_tramp_off(LX_TRAMP_RESTART_RET))
		return 0;
	if (lx_copy_in(p, rec, p->call.rsp, sizeof(rec)))
		return -LX_EFAULT;
	*rip = rec[1], *rsp = rec[2];
	return 0;
}

/* ---- the alternate signal stack (sigaltstack), as Linux's kernel/signal.c keeps it ---- */

/* sp is within p's alternate stack (its top included). */
static bool in_altstack(const struct lx_proc *p, uint64_t sp)
{
	return sp > p->ss_sp && sp - p->ss_sp <= p->ss_size;
}

/* p runs on it (with SS_AUTODISARM it cannot: the stack was disarmed on the way in). */
static bool on_altstack(const struct lx_proc *p, uint64_t sp)
{
	return !(p->ss_flags & SS_AUTODISARM) && in_altstack(p, sp);
}

/* What ss_flags sigaltstack reports for a thread at sp (SS_AUTODISARM added apart). */
static uint32_t altstack_state(const struct lx_proc *p, uint64_t sp)
{
	return !p->ss_size ? SS_DISABLE : on_altstack(p, sp) ? SS_ONSTACK : 0;
}

/* Set p's alternate stack from a stack_t {ss_sp, ss_flags, ss_size} while p is at sp. */
static int altstack_set(struct lx_proc *p, const uint64_t ss[3], uint64_t sp)
{
	uint32_t flags = (uint32_t)ss[1], mode = flags & ~SS_AUTODISARM;

	if (on_altstack(p, sp))
		return -LX_EPERM;
	if (mode != SS_DISABLE && mode != SS_ONSTACK && mode != 0)
		return -LX_EINVAL;
	if (mode != SS_DISABLE && ss[2] < MINSIGSTKSZ)
		return -LX_ENOMEM;
	p->ss_sp = mode == SS_DISABLE ? 0 : ss[0];
	p->ss_size = mode == SS_DISABLE ? 0 : ss[2];
	p->ss_flags = flags;
	return 0;
}

/* sigaltstack(ss, old): the old state first, then the new one, then the old one out. */
static int64_t do_sigaltstack(struct lx_proc *p, uint64_t uss, uint64_t uold)
{
	uint64_t ss[3],
	    old[3] = {p->ss_sp, altstack_state(p, p->call.rsp) | (p->ss_flags & SS_AUTODISARM),
	              p->ss_size};

	if (uss && lx_copy_in(p, ss, uss, sizeof(ss)))
		return -LX_EFAULT;
	int err = uss ? altstack_set(p, ss, p->call.rsp) : 0;
	if (!err && uold && lx_copy_out(p, uold, old, sizeof(old)))
		err = -LX_EFAULT;
	return err;
}

/*
 * Enter the handler of sig in p (current): lay out the frame and send the
 * thread to the trampoline. interrupted: the call was waiting (its thread
 * is stopped, rax -EINTR); restart it after the handler when SA_RESTART.
 */
/* The frame of a handler of sig under g[R_RSP]: registers g (those the server knows; the
 * trampoline stores the others), siginfo si (its first 32 bytes). */
static int push_frame(struct lx_proc *p, int sig, const uint64_t g[23], const uint8_t si[32])
{
	uint64_t *act = lx_grp(p)->sigactions[sig];
	uint8_t f[INFO + 128];
	uint64_t sp = g[R_RSP] - 128; /* below the red zone, or at the alternate stack's top */
	bool nested = on_altstack(p, g[R_RSP]), entering = false;
	if ((act[1] & SA_ONSTACK) && altstack_state(p, sp) == 0)
		sp = p->ss_sp + p->ss_size, entering = true;
	uint64_t frame = ((sp - FRAME_BYTES) & ~15ull) - 8; /* (rsp + 8) % 16 == 0 */
	uint64_t oldmask = p->in_sigsuspend ? p->saved_mask : p->sigmask;
	uint64_t uc_stack[3] = {p->ss_sp, p->ss_flags | (p->ss_size ? 0 : SS_DISABLE), p->ss_size};

	if ((nested || entering) && !in_altstack(p, frame))
		return -LX_EFAULT; /* it would overflow the alternate stack: SIGSEGV, as Linux */
	memset(f, 0, sizeof(f));
	memcpy(f, &act[2], 8); /* the return address: sa_restorer */
	memcpy(f + UC_STACK, uc_stack, sizeof(uc_stack));
	memcpy(f + GREG(0), g, 23 * sizeof(g[0]));
	memcpy(f + MASK, &oldmask, 8);
	memcpy(f + INFO, si, 32);
	if (lx_copy_out(p, frame, f, sizeof(f)) || lx_check(p, frame, FRAME_BYTES, LX_PROT_WRITE))
		return -LX_EFAULT;
	if (p->ss_flags & SS_AUTODISARM) /* off until rt_sigreturn sets uc_stack again */
		p->ss_sp = p->ss_size = 0, p->ss_flags = SS_DISABLE;
	p->sigmask = blockable(oldmask | act[3] | (act[1] & SA_NODEFER ? 0 : bit(sig)));
	p->in_sigsuspend = 0;
	uint64_t handler = act[0];
	if (act[1] & SA_RESETHAND) /* (after reading the handler: it used to jump to 0) */
		memset(act, 0, 4 * sizeof(act[0]));
	return lx_plat_set_regs(p, LX_TRAMP + lx_tramp_off(LX_TRAMP_SIG), frame, frame, handler);
}

static int enter_handler(struct lx_proc *p, int sig, bool interrupted)
{
	uint64_t *act = lx_grp(p)->sigactions[sig], rip, rsp, g[23] = {0};
	uint8_t si[32] = {0};

	if (call_site(p, &rip, &rsp))
		return -LX_EFAULT;
	g[R_RDI] = p->call.a[0], g[R_RSI] = p->call.a[1];
	g[R_RSP] = rsp, g[R_RIP] = rip, g[R_EFL] = 0x202;
	if (interrupted && (act[1] & SA_RESTART) && !p->in_sigsuspend && !lx_timer_no_restart(p)) {
		g[R_RIP] = rip - 2; /* the syscall instruction again, with rax = its number */
		g[R_TRAPNO] = p->call.nr + 1;
	}
	int32_t head[4] = {sig, 0, sig == SIGCHLD ? p->sigchld_code : 0, 0};
	uint32_t who[3] = {sig == SIGCHLD ? p->sigchld_pid : p->sigsender, 0,
	                   (uint32_t)(sig == SIGCHLD ? p->sigchld_status : 0)};
	memcpy(si, head, sizeof(head));
	memcpy(si + 16, who, sizeof(who));
	return push_frame(p, sig, g, si);
}

/* The signal and si_code Linux gives for a fault (x86 traps.c, fault.c). */
static int fault_signal(struct lx_proc *p, uint64_t vector, uint64_t addr, int *code)
{
	switch (vector) {
	case 0:            /* #DE */
		*code = 1; /* FPE_INTDIV */
		return 8;  /* SIGFPE */
	case 16:
	case 19:           /* x87, SIMD floating point */
		*code = 0; /* the cause is in the FPU state */
		return 8;
	case 1:                                 /* #DB: single step (TF) */
	case 3:                                 /* int3 */
		*code = vector == 1 ? 2 : 0x80; /* TRAP_TRACE, SI_KERNEL */
		return 5;                       /* SIGTRAP */
	case 6:                                 /* #UD */
		*code = 2;                      /* ILL_ILLOPN */
		return 4;                       /* SIGILL */
	case 17:                                /* #AC */
		*code = 1;                      /* BUS_ADRALN */
		return 7;                       /* SIGBUS */
	case 14:
		*code = lx_region_at(p, addr) ? 2 : 1; /* SEGV_ACCERR, SEGV_MAPERR */
		return 11;
	default:              /* #GP and the rest */
		*code = 0x80; /* SI_KERNEL */
		return 11;
	}
}

int64_t lx_signal_fault(struct lx_proc *p, uint64_t vector, uint64_t err, uint64_t addr,
                        uint64_t rip)
{
	int code, sig = fault_signal(p, vector, addr, &code);
	uint64_t h = lx_grp(p)->sigactions[sig][0], r[20], g[23] = {0};
	uint8_t si[32] = {0};

	/* Blocked or ignored: Linux forces the default action (force_sig_fault). */
	if (h == SIG_DFL || h == SIG_IGN || (p->sigmask & bit(sig))) {
		lx_proc_exit(p, sig);
		return LX_RET_GONE;
	}
	lx_plat_read_gprs(p, r);
	g[R_RDI] = r[5], g[R_RSI] = r[4], g[R_RSP] = r[7], g[R_RIP] = rip, g[R_EFL] = r[17];
	g[19] = err;                                                                  /* REG_ERR */
	g[22] = vector == 14 ? addr : 0;                                              /* REG_CR2 */
	uint64_t where = vector == 14 ? addr : vector == 13 || vector == 3 ? 0 : rip; /* si_addr */
	int32_t head[4] = {sig, 0, code, 0};
	memcpy(si, head, sizeof(head));
	memcpy(si + 16, &where, 8);
	p->sigpending &= ~bit(sig);
	if (push_frame(p, sig, g, si)) {
		lx_proc_exit(p, 11); /* no room for the frame: SIGSEGV, as Linux does */
		return LX_RET_GONE;
	}
	return 0;
}

/*
 * p's call ends with result r (or was interrupted): act on the pending
 * signals it takes now. r, or LX_RET_GONE when a signal ended p.
 */
int64_t lx_signal_deliver(struct lx_proc *p, int64_t r, bool interrupted)
{
	int sig;

	while ((sig = next_signal(p))) {
		uint64_t h = lx_grp(p)->sigactions[sig][0];
		p->sigpending &= ~bit(sig);
		if (h == SIG_IGN || (h == SIG_DFL && default_ignored(sig)))
			continue;
		if (h == SIG_DFL && lx_job_is_stop(sig)) {
			if (sig == SIGSTOP || !lx_job_orphaned(p))
				lx_job_stop(p, sig); /* p stops once this call is answered */
			continue; /* (an orphaned group's SIGTSTP, SIGTTIN, SIGTTOU: discarded) */
		}
		if (h == SIG_DFL) {
			lx_proc_exit(p, sig);
			return LX_RET_GONE;
		}
		if (enter_handler(p, sig, interrupted)) {
			lx_proc_exit(p, 11); /* no room for the frame: SIGSEGV, as Linux does */
			return LX_RET_GONE;
		}
		return r; /* one handler at a time; the rest at the next call */
	}
	if (p->in_sigsuspend) { /* nothing to run: the mask before it again */
		p->sigmask = p->saved_mask;
		p->in_sigsuspend = 0;
	}
	return r;
}

/* Which thread of process q takes a signal sent to the process: one that does not block it. */
static struct lx_proc *pick_thread(struct lx_proc *q, int sig)
{
	struct lx_proc *any = q->thread_gone ? NULL : q;

	if (any && !(blockable(q->sigmask) & bit(sig)))
		return q;
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		struct lx_proc *t = &lx_procs[i];
		if (t->state != LX_PROC_LIVE || t->grp != q)
			continue;
		if (!(blockable(t->sigmask) & bit(sig)))
			return t;
		any = any ? any : t;
	}
	return any ? any : q;
}

void lx_signal_send(struct lx_proc *q, int sig, uint32_t from)
{
	if (q->state != LX_PROC_LIVE || sig < 1 || sig > 64)
		return;
	uint64_t h = lx_grp(q)->sigactions[sig][0];
	if (sig == SIGKILL) {
		lx_proc_exit(q, SIGKILL);
		return;
	}
	if (sig == 18) /* SIGCONT: the process goes on, even when it ignores or blocks it */
		lx_job_continue(q);
	else if (lx_job_is_stop(sig)) /* a stop signal takes back a pending SIGCONT */
		q->sigpending &= ~bit(18), lx_grp(q)->sigpending &= ~bit(18);
	if (h == SIG_IGN || (h == SIG_DFL && default_ignored(sig)))
		return;
	if (!q->grp && q->nthreads) /* sent to a process of several threads */
		q = pick_thread(q, sig);
	q->sigpending |= bit(sig);
	q->sigsender = from;
	if (blockable(q->sigmask) & bit(sig))
		return;           /* pending until unblocked */
	lx_plat_answer(q, false); /* its next call must reach the server, which delivers */
	if (lx_grp(q)->stopped)
		return; /* taken once SIGCONT resumes it (lx_job_continue), as on Linux */
	if (h == SIG_DFL && lx_job_is_stop(sig)) {
		q->sigpending &= ~bit(sig);
		if (sig == SIGSTOP || !lx_job_orphaned(q)) /* else discarded, as Linux */
			lx_job_stop(q, sig);
		return;
	}
	if (h == SIG_DFL) {
		lx_proc_exit(q, sig);
		return;
	}
	if (q->chan) { /* waiting in a call: interrupt it */
		struct lx_proc *was = lx_plat_current();
		q->chan = NULL;
		lx_plat_switch(q);
		lx_plat_undefer(q);
		lx_timer_interrupted(q);
		int64_t r = lx_signal_deliver(q, 0, true);
		if (was && was->state == LX_PROC_LIVE)
			lx_plat_switch(was);
		if (r != LX_RET_GONE)
			lx_plat_resume(q);
	}
}

/* rt_sigreturn: every register back from the ucontext at rsp (after the handler's ret). */
static int64_t do_sigreturn(struct lx_proc *p)
{
	uint64_t uc = p->call.rsp, mask, trapno, ss[3], efl;

	if (lx_copy_in(p, &mask, uc + MASK - UC, 8) ||
	    lx_copy_in(p, &trapno, uc + GREG(R_TRAPNO) - UC, 8) ||
	    lx_copy_in(p, ss, uc + UC_STACK - UC, sizeof(ss)) ||
	    lx_copy_in(p, &efl, uc + GREG(R_EFL) - UC, 8)) {
		lx_proc_exit(p, 11);
		return LX_RET_GONE;
	}
	p->sigmask = blockable(mask);
	(void)altstack_set(p, ss, uc); /* uc_stack back; its errors are ignored, as Linux's */
	/* Only the flags Linux takes from a signal frame (FIX_EFLAGS: AC OF DF TF SF ZF AF PF
	 * CF RF); the trampoline's popfq would let NT and ID through (bug
	 * sigreturn_let_nt_through; IOPL and IF it cannot change in ring 3). */
	efl = (efl & 0x50dd5) | 0x202;
	if (lx_copy_out(p, uc + GREG(R_EFL) - UC, &efl, 8)) {
		lx_proc_exit(p, 11);
		return LX_RET_GONE;
	}
	if (trapno) { /* SA_RESTART: the call is made again with its number in rax */
		uint64_t nr = trapno - 1, zero = 0;
		if (lx_copy_out(p, uc + GREG(R_RAX) - UC, &nr, 8) ||
		    lx_copy_out(p, uc + GREG(R_TRAPNO) - UC, &zero, 8)) {
			lx_proc_exit(p, 11);
			return LX_RET_GONE;
		}
	}
	p->redirected = 1;
	if (lx_plat_set_regs(p, LX_TRAMP + lx_tramp_off(LX_TRAMP_SIGRET), uc, uc, 0)) {
		lx_proc_exit(p, 11);
		return LX_RET_GONE;
	}
	return 0; /* rax comes from the ucontext */
}

/* kill (a process or group: leaders only) and tkill/tgkill (one: the thread with that id). */
static int64_t do_kill(struct lx_proc *p, int64_t pid, int64_t sig, bool one)
{
	bool found = false, self = false;
	struct lx_proc *me = one ? p : lx_grp(p);

	if (sig < 0 || sig > 64)
		return -LX_EINVAL;
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++) {
		struct lx_proc *q = &lx_procs[i];
		if (q->state == LX_PROC_FREE || (!one && q->grp))
			continue;
		bool hit = (one || pid > 0) ? q->pid == (uint64_t)pid
		           : pid == 0       ? q->pgid == lx_grp(p)->pgid
		           : pid == -1      ? q != me
		                            : q->pgid == (uint64_t)-pid;
		if (!hit)
			continue;
		found = true;
		if (q == me)
			self = true;
		else if (sig)
			lx_signal_send(q, (int)sig, p->tgid);
	}
	if (self && sig)
		lx_signal_send(me, (int)sig, p->tgid); /* itself last: it may end it */
	return found ? 0 : -LX_ESRCH;
}

int64_t lx_signal_syscall(struct lx_proc *p, uint64_t nr, const uint64_t a[6], bool *handled)
{
	*handled = true;
	switch (nr) {
	case 15: /* rt_sigreturn */
		return do_sigreturn(p);
	case 62: /* kill */
		return do_kill(p, (int32_t)a[0], (int32_t)a[1], false);
	case 200: /* tkill */
		return (int32_t)a[0] <= 0 ? -LX_EINVAL
		                          : do_kill(p, (int32_t)a[0], (int32_t)a[1], true);
	case 234: { /* tgkill */
		if ((int32_t)a[0] <= 0 || (int32_t)a[1] <= 0)
			return -LX_EINVAL;
		struct lx_proc *t = lx_proc_by_pid((uint32_t)a[1]);
		if (!t || t->state != LX_PROC_LIVE || t->tgid != (uint32_t)a[0])
			return -LX_ESRCH; /* no such thread in that process */
		return do_kill(p, (int32_t)a[1], (int32_t)a[2], true);
	}
	case 131: /* sigaltstack */
		return do_sigaltstack(p, a[0], a[1]);
	case 127: { /* rt_sigpending */
		uint64_t set = p->sigpending & blockable(p->sigmask);
		if (a[1] > 8)
			return -LX_EINVAL;
		return lx_copy_out(p, a[0], &set, a[1]) ? -LX_EFAULT : 0;
	}
	case 34:    /* pause */
	case 130: { /* rt_sigsuspend: wait with a mask until a signal is taken */
		uint64_t mask = p->sigmask;
		if (nr == 130 && a[1] != 8)
			return -LX_EINVAL;
		if (nr == 130 && lx_copy_in(p, &mask, a[0], 8))
			return -LX_EFAULT;
		if (!p->in_sigsuspend) {
			p->saved_mask = p->sigmask;
			p->in_sigsuspend = 1;
		}
		p->sigmask = blockable(mask);
		if (next_signal(p))
			return -LX_EINTR; /* the delivery after the call runs the handler */
		p->chan = &p->sigpending;
		return LX_RET_BLOCK;
	}
	default:
		*handled = false;
		return -LX_ENOSYS;
	}
}
