/*
 * System-call entry from ring 3 (syscall_dispatch) and its fastpaths:
 *  - call and reply-and-receive when the partner already waits on this
 *    CPU, the message fits in registers, no capability moves and no budget
 *    or preemption upcall (kernel/upcall.c) is involved;
 *  - receive that blocks while a thread of the same priority waits in this
 *    CPU's run queue: that thread runs;
 *  - reply-and-receive with a Linux server's deferred reply first
 *    (HL_SYS_LINUX_REPLY_RECV);
 *  - yield to the next thread of the same priority on this CPU.
 * They do the same work as the general paths (kernel/ipc.c, kernel/sched.c)
 * and must stay equivalent to them, in a straight line: match, copy four
 * words, switch threads. Anything unusual falls back to the general path
 * before changing any state.
 */
#include <kernel/bkl.h>
#include <kernel/ipc.h>
#include <kernel/object.h>
#include <kernel/percpu.h>
#include <kernel/runq.h>
#include <kernel/syscall.h>

/* The endpoint behind slot cptr of t's cspace if it has the rights, else NULL. */
static __always_inline struct endpoint *ep_of(struct thread *t, hl_cptr_t cptr, uint8_t rights,
                                              uint64_t *badge)
{
	struct cspace *cs = thread_cspace(t);

	if (!cs || cptr >= (1ull << cs->bits))
		return NULL;
	struct cap *c = &cs->slots[cptr].cap;
	if (c->type != HL_OBJ_ENDPOINT || (c->rights & rights) != rights)
		return NULL;
	*badge = c->badge;
	return (struct endpoint *)c->obj;
}

static __always_inline bool simple_message(const struct thread *t)
{
	return HL_MSG_LEN(t->regs.rsi) <= 4 && HL_MSG_CAPS(t->regs.rsi) == 0 && !t->no_fastpath;
}

static __always_inline void copy_message(const struct thread *src, struct thread *dst,
                                         uint64_t badge)
{
	dst->regs.rax = HL_OK;
	dst->regs.rdi = badge;
	dst->regs.rsi = src->regs.rsi;
	dst->regs.rdx = src->regs.rdx;
	dst->regs.r10 = src->regs.r10;
	dst->regs.r8 = src->regs.r8;
	dst->regs.r9 = src->regs.r9;
}

/* HL_SYS_CALL to a receiver waiting on this CPU. Returns only if it does not apply. */
static __always_inline void fastpath_call(struct thread *t)
{
	uint64_t badge;
	struct endpoint *ep = ep_of(t, t->regs.rdi, HL_R_WRITE, &badge);

	if (!ep || !ep->receivers || !ep->head || !simple_message(t))
		return;
	struct thread *r = ep->head;
	/* A thread blocked in IPC runs on no CPU: its CPU let go of it in the kernel entry in which
	 * it blocked. */
	if (r->cpu != t->cpu || r->priority < t->priority || r->no_fastpath)
		return;
	/* Committed: the same effect as ipc_send(call) + deliver + switch. */
	ep->head = r->qnext;
	if (ep->head)
		ep->head->qprev = NULL;
	else
		ep->tail = NULL;
	r->qnext = r->qprev = NULL;
	r->queue = NULL;
	copy_message(t, r, badge);
	r->reply_to = t;
	t->replier = r;
	t->state = TS_BLOCKED_REPLY;
	r->state = TS_RUNNABLE;
	struct cpu *cpu = this_cpu();
	fast_switch(cpu, &rqs[cpu->index], t, r, false);
}

/* A receive by t would take a pending bound notification instead of waiting. */
static __always_inline bool ntfn_pending(const struct thread *t)
{
	return t->ntfn_slot.cap.type == HL_OBJ_NOTIFICATION &&
	       ((struct notification *)t->ntfn_slot.cap.obj)->word;
}

/* t waits as a receiver at the back of ep's queue, as ipc_recv() leaves it. */
static __always_inline void recv_wait(struct thread *t, struct endpoint *ep)
{
	t->state = TS_BLOCKED_RECV;
	ep->receivers = 1;
	t->qnext = NULL;
	t->qprev = ep->tail;
	if (ep->tail)
		ep->tail->qnext = t;
	else
		ep->head = t;
	ep->tail = t;
	t->queue = ep;
}

/*
 * HL_SYS_REPLY_RECV when the caller waits on this CPU and no sender is
 * queued; with also (HL_SYS_LINUX_REPLY_RECV), thread.linux_reply(r8) on
 * that thread first (checked by the caller; not above t's priority, on
 * this CPU).
 */
static __always_inline void fastpath_reply_recv(struct thread *t, struct thread *also)
{
	uint64_t badge;
	struct endpoint *ep = ep_of(t, t->regs.rdi, HL_R_READ, &badge);
	struct thread *c = t->reply_to;

	if (!ep || !c || (ep->head && !ep->receivers) || !simple_message(t))
		return;
	/* c below t's priority: a queued thread between them must run first (the general path
	 * picks). */
	if (c->state != TS_BLOCKED_REPLY || c->replier != t || c->cpu != t->cpu ||
	    c->priority < t->priority || c->no_fastpath || c->in_fault == IN_FAULT_HW)
		return;
	if (ntfn_pending(t))
		return;
	/* Committed: (end also's call,) reply to c, queue t as a receiver, run c. */
	if (also && thread_linux_reply(also, t->regs.r8) != HL_OK)
		__builtin_unreachable(); /* checked by fastpath_linux_reply_recv */
	t->reply_to = NULL;
	c->replier = NULL;
	if (c->in_fault == IN_FAULT_LINUX)
		c->regs.rax = t->regs.rdx, c->in_fault = IN_FAULT_NONE; /* as ipc_reply() */
	else
		copy_message(t, c, 0);
	c->state = TS_RUNNABLE;
	recv_wait(t, ep);
	struct cpu *cpu = this_cpu();
	fast_switch(cpu, &rqs[cpu->index], t, c, false);
}

/*
 * HL_SYS_RECV that blocks t (no sender queued, no notification pending)
 * while a thread of t's priority, and none above, waits in this CPU's run
 * queue: t waits on the endpoint as ipc_recv() leaves it, and the first of
 * those threads runs, as sched_exit_to_user() would pick it. A server that
 * has deferred its caller's reply and woken another thread (the Linux
 * personality's pipe waits) blocks this way. Returns only when this does
 * not apply.
 */
static __attribute__((noinline)) void fastpath_recv(struct thread *t)
{
	uint64_t badge;
	struct endpoint *ep = ep_of(t, t->regs.rdi, HL_R_READ, &badge);
	struct cpu *c = this_cpu();
	struct runq *q = &rqs[c->index];
	struct thread *next = q->head[t->priority];

	if (!ep || (ep->head && !ep->receivers) || !next || t->no_fastpath || next->no_fastpath ||
	    c->need_resched || !rq_none_above(q, t->priority))
		return;
	if (ntfn_pending(t))
		return;
	/* Committed: t joins the endpoint's receivers, next leaves the run queue and runs. */
	recv_wait(t, ep);
	rq_remove(q, next);
	fast_switch(c, q, t, next, false);
}

/*
 * HL_SYS_YIELD when t has no budget and the next thread of its priority on
 * this CPU has none either: t goes to the back of its queue and that thread
 * runs. Returns only when this does not apply (the general path then runs).
 */
static __always_inline void fastpath_yield(struct thread *t)
{
	struct cpu *c = this_cpu();
	struct runq *q = &rqs[c->index];
	struct thread *next = q->head[t->priority];

	if (!next || t->no_fastpath || next->no_fastpath || c->need_resched ||
	    !rq_none_above(q, t->priority))
		return;
	t->regs.rax = HL_OK;
	/* next leaves the head of the queue, t joins its tail: the count and the bitmap stay. */
	uint8_t p = t->priority;
	struct thread *after = next->qnext;
	next->qnext = NULL;
	next->queue = NULL;
	t->qnext = NULL;
	t->queue = q;
	if (after) {
		after->qprev = NULL;
		q->head[p] = after;
		t->qprev = q->tail[p];
		t->qprev->qnext = t;
	} else {
		q->head[p] = t;
		t->qprev = NULL;
	}
	q->tail[p] = t;
	fast_switch(c, q, t, next, true); /* t now waits at next's priority */
}

/*
 * HL_SYS_LINUX_REPLY_RECV: the thread in r10 waits in a Linux call on this
 * CPU at no higher priority than t (it is queued behind the caller that
 * runs next), the reply is one word: fastpath_reply_recv with it. Returns
 * only when this does not apply.
 */
static __attribute__((noinline)) void fastpath_linux_reply_recv(struct thread *t)
{
	struct cspace *cs = thread_cspace(t);

	if (HL_MSG_LEN(t->regs.rsi) > 1 || !cs || t->regs.r10 >= (1ull << cs->bits))
		return;
	const struct cap *c = &cs->slots[t->regs.r10].cap;
	struct thread *x = (struct thread *)c->obj;
	if (c->type != HL_OBJ_THREAD || !x->linux_abi || x->state != TS_BLOCKED_REPLY ||
	    x->in_fault != IN_FAULT_LINUX || x->cpu != t->cpu || x->priority > t->priority ||
	    x->on_cpu)
		return;
	fastpath_reply_recv(t, x);
}

/*
 * A Linux thread's `syscall` when the server waits on its fault endpoint on
 * this CPU: the same effect as ipc_linux_send() + deliver + switch, like
 * fastpath_call with the message taken from the caller's registers.
 */
static __always_inline void fastpath_linux(struct thread *t)
{
	const struct cap *fc = &t->fault_slot.cap;

	if (fc->type != HL_OBJ_ENDPOINT || t->no_fastpath)
		return;
	struct endpoint *ep = (struct endpoint *)fc->obj;
	struct thread *r = ep->head;
	if (!ep->receivers || !r || r->cpu != t->cpu || r->priority < t->priority || r->no_fastpath)
		return;
	/* Committed. */
	ep->head = r->qnext;
	if (ep->head)
		ep->head->qprev = NULL;
	else
		ep->tail = NULL;
	r->qnext = r->qprev = NULL;
	r->queue = NULL;
	t->in_fault = IN_FAULT_LINUX;
	ipc_linux_message(t, r, fc->badge);
	r->reply_to = t;
	t->replier = r;
	t->state = TS_BLOCKED_REPLY;
	r->state = TS_RUNNABLE;
	struct cpu *cpu = this_cpu();
	fast_switch(cpu, &rqs[cpu->index], t, r, false);
}

/* Every system call of a Linux thread goes to its server: it can invoke no capability. The one
 * exception is the answer its server left with thread.set_linux_answer: returned at once, through
 * the scheduler when it has something to do (a budget, an upcall, a reschedule). */
static __noreturn void linux_syscall(struct thread *t)
{
	if (t->cpu == cpu_index()) {
		if (t->linux_answer_on && t->regs.rax == t->linux_answer_nr) {
			t->regs.rax = t->linux_answer_val;
			if (!t->no_fastpath && !this_cpu()->need_resched)
				arch_return_to_user(t); /* t stays current: nothing to switch */
			sched_exit_to_user(); /* a budget, an upcall or another thread first */
		}
		fastpath_linux(t); /* returns only when it does not apply */
	}
	ipc_linux_send(t);
	sched_exit_to_user();
}

__noreturn void syscall_dispatch(struct thread *t)
{
	bkl_lock();
	/*
	 * t is where syscall_entry saved the registers, read before the lock:
	 * another CPU holding it may have destroyed t since (it then made a
	 * stand-in this CPU's current and may already have reused t's memory).
	 * The call is lost with the thread; nothing of t may be touched.
	 */
	if (this_cpu()->current != t)
		sched_exit_to_user();
	if (t->linux_abi)
		linux_syscall(t);
	/*
	 * Not for a thread moved to another CPU while it ran (its old CPU hands
	 * it over on the general path): the fastpaths queue and switch on this
	 * CPU only. Nor for the stand-in of a destroyed thread (its cpu is
	 * ~0, kernel/thread.c): it has no XSAVE area for fast_switch().
	 */
	if (t->cpu == cpu_index()) {
		if (t->regs.rax == HL_SYS_CALL)
			fastpath_call(t); /* returns only when it does not apply */
		else if (t->regs.rax == HL_SYS_REPLY_RECV)
			fastpath_reply_recv(t, NULL);
		else if (t->regs.rax == HL_SYS_YIELD)
			fastpath_yield(t);
		else if (t->regs.rax == HL_SYS_RECV) {
			if (rqs[t->cpu]
			        .head[t->priority]) /* a thread of t's priority is queued here */
				fastpath_recv(t);
		} else if (t->regs.rax == HL_SYS_LINUX_REPLY_RECV)
			fastpath_linux_reply_recv(t);
	}
	syscall_slow(t);
}
