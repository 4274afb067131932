/*
 * Synchronous IPC on endpoints and asynchronous notifications.
 *
 * A message is the message info word, up to HL_MSG_MAX words (0..3 in
 * registers, the rest in the IPC buffers) and optionally one capability.
 * Senders and receivers wait in the endpoint's queue; a call leaves the
 * caller blocked until the receiver replies (the receiver's reply_to).
 * When the partner is waiting on the same CPU, the kernel switches to it
 * directly (no trip through the run queue): the fastpath.
 */
#include <arch/cpu.h>
#include <kernel/invoke.h>
#include <kernel/ipc.h>
#include <kernel/irq.h>
#include <kernel/klog.h>
#include <kernel/object.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <lib/string.h>

static bool ntfn_take(struct thread *t);
static void ntfn_unqueue(struct notification *n, struct thread *t);

static void q_push(struct thread **head, struct thread **tail, struct thread *t, void *owner)
{
	t->qnext = NULL;
	t->qprev = *tail;
	if (*tail)
		(*tail)->qnext = t;
	else
		*head = t;
	*tail = t;
	t->queue = owner;
}

static void q_remove(struct thread **head, struct thread **tail, struct thread *t)
{
	if (t->qprev)
		t->qprev->qnext = t->qnext;
	else
		*head = t->qnext;
	if (t->qnext)
		t->qnext->qprev = t->qprev;
	else
		*tail = t->qprev;
	t->qnext = t->qprev = NULL;
	t->queue = NULL;
}

/* Give the receiver dst a capability from src's IPC buffer, if both sides agree. */
static uint64_t transfer_cap(struct thread *src, struct thread *dst, bool grant)
{
	struct slot *from, *to;
	struct cspace *scs = thread_cspace(src), *dcs = thread_cspace(dst);
	struct hl_ipc_buffer *sb = thread_ipcbuf(src), *db = thread_ipcbuf(dst);

	if (!grant || !sb || !db || !db->recv_slot)
		return 0;
	if (cap_lookup(scs, sb->send_cap, HL_OBJ_NONE, 0, &from) != HL_OK)
		return 0;
	to = cspace_slot(dcs, db->recv_slot);
	if (!to || to->cap.type != HL_OBJ_NONE || from->cap.type == HL_OBJ_MEMORY)
		return 0;
	struct cap c = cap_derive(&from->cap);
	cap_insert(to, &c, from);
	db->recv_badge = c.badge;
	return 1;
}

/* Copy the message of src (its saved registers and IPC buffer) into dst's return registers. */
static void transfer(struct thread *src, struct thread *dst, uint64_t info, uint64_t badge,
                     bool grant)
{
	uint64_t len = HL_MSG_LEN(info);

	if (src->in_fault == IN_FAULT_LINUX) {
		ipc_linux_message(src, dst, badge);
		return;
	}
	if (len > HL_MSG_MAX)
		len = HL_MSG_MAX;
	if (len > 4 && (!thread_ipcbuf(src) || !thread_ipcbuf(dst)))
		len = 4;
	const uint64_t *w =
	    src->in_fault ? src->fault : NULL; /* a fault message is not in its registers */
	dst->regs.rdx = w ? w[0] : src->regs.rdx;
	dst->regs.r10 = w ? w[1] : src->regs.r10;
	dst->regs.r8 = w ? w[2] : src->regs.r8;
	dst->regs.r9 = w ? w[3] : src->regs.r9;
	if (len > 4)
		memcpy(&dst->ipcbuf->mr[4], &src->ipcbuf->mr[4], (len - 4) * sizeof(uint64_t));
	uint64_t caps = HL_MSG_CAPS(info) ? transfer_cap(src, dst, grant) : 0;
	dst->regs.rsi = HL_MSGINFO(HL_MSG_LABEL(info), len, caps);
	dst->regs.rdi = badge;
	dst->regs.rax = HL_OK;
}

/* A sender s was matched with receiver r: deliver and settle both. */
static void deliver(struct thread *s, struct thread *r, uint64_t info, uint64_t badge, bool grant,
                    bool call)
{
	transfer(s, r, info, badge, grant);
	if (call) {
		r->reply_to = s;
		s->replier = r;
		sched_block(s, TS_BLOCKED_REPLY);
	} else if (s->state != TS_RUNNABLE) {
		s->regs.rax = HL_OK;
		sched_make_runnable(s);
	}
}

/* Send or call on the endpoint capability ep by t (t is the caller, current). */
int ipc_send(struct thread *t, struct slot *ep_slot, bool call, bool block)
{
	struct endpoint *ep = (struct endpoint *)ep_slot->cap.obj;
	uint64_t info = t->regs.rsi, badge = ep_slot->cap.badge;
	bool grant = ep_slot->cap.rights & HL_R_GRANT;

	if (!(ep_slot->cap.rights & HL_R_WRITE))
		return HL_ERR_NO_RIGHTS;
	if (ep->receivers && ep->head) {
		struct thread *r = ep->head;
		q_remove(&ep->head, &ep->tail, r);
		deliver(t, r, info, badge, grant, call);
		r->state = TS_RUNNABLE;
		if (r->cpu == t->cpu && r->priority >= t->priority && call) {
			t->regs.rax = HL_OK;
			sched_switch_to(r); /* fastpath: does not return */
		}
		sched_make_runnable(r);
		return HL_OK;
	}
	if (!block)
		return HL_OK; /* nobody listening: the message is dropped */
	t->badge = badge;
	t->msginfo = info | (uint64_t)grant << 62;
	t->is_call = call;
	ep->receivers = 0;
	sched_block(t, TS_BLOCKED_SEND);
	q_push(&ep->head, &ep->tail, t, ep);
	return HL_OK;
}

/* Receive on ep: take a waiting sender, or block. Returns HL_OK; results are in t's registers. */
int ipc_recv(struct thread *t, struct slot *ep_slot)
{
	struct endpoint *ep = (struct endpoint *)ep_slot->cap.obj;
	if (!(ep_slot->cap.rights & HL_R_READ))
		return HL_ERR_NO_RIGHTS;
	if (ntfn_take(t))
		return HL_OK;
	if (!ep->receivers && ep->head) {
		struct thread *s = ep->head;
		q_remove(&ep->head, &ep->tail, s);
		uint64_t info = s->msginfo & ~(3ull << 62);
		deliver(s, t, info, s->badge, (s->msginfo >> 62) & 1, s->is_call);
		return HL_OK;
	}
	ep->receivers = 1;
	sched_block(t, TS_BLOCKED_RECV);
	q_push(&ep->head, &ep->tail, t, ep);
	return HL_OK;
}

/*
 * Reply to the thread that called t: its message goes to the caller, which
 * is returned (runnable but in no queue; the caller of this function
 * wakes it with ipc_wake). *err is HL_ERR_NO_REPLY if there is no caller.
 */
struct thread *ipc_reply(struct thread *t, int *err)
{
	struct thread *c = t->reply_to;

	*err = HL_OK;
	if (!c) {
		*err = HL_ERR_NO_REPLY;
		return NULL;
	}
	t->reply_to = NULL;
	if (c->state != TS_BLOCKED_REPLY || c->replier != t)
		return NULL; /* the caller went away meanwhile */
	c->replier = NULL;
	if (c->in_fault == IN_FAULT_LINUX) /* word 0 is the Linux result */
		c->regs.rax = t->regs.rdx;
	if (c->in_fault) /* a fault reply resumes the thread as it was */
		c->in_fault = 0;
	else
		transfer(t, c, t->regs.rsi, 0, true);
	c->state = TS_RUNNABLE;
	return c;
}

/* Wake a replied-to caller: run it at once if t no longer runs and it may (fastpath). */
void ipc_wake(struct thread *c, struct thread *t)
{
	if (!c)
		return;
	if (t->state != TS_RUNNABLE && c->cpu == t->cpu && c->priority >= t->priority &&
	    t == this_cpu()->current)
		sched_switch_to(c);
	sched_make_runnable(c);
}

/* Call t's fault endpoint with a message of kind IN_FAULT_HW or IN_FAULT_LINUX. */
static void fault_call(struct thread *t, uint32_t kind, uint64_t info)
{
	struct slot *ep = &t->fault_slot;
	struct endpoint *e = (struct endpoint *)ep->cap.obj;

	t->in_fault = kind; /* the message words come from t->fault[] or its registers */
	if (e->receivers && e->head) {
		struct thread *r = e->head;
		q_remove(&e->head, &e->tail, r);
		deliver(t, r, info, ep->cap.badge, false, true);
		sched_make_runnable(r);
	} else {
		t->badge = ep->cap.badge;
		t->msginfo = info;
		t->is_call = 1;
		e->receivers = 0;
		sched_block(t, TS_BLOCKED_SEND);
		q_push(&e->head, &e->tail, t, e);
	}
}

/* Send t's fault to its fault endpoint as a call. False if nobody can take it now or later. */
bool ipc_fault_send(struct thread *t)
{
	fault_call(t, IN_FAULT_HW, HL_MSGINFO(HL_LABEL_FAULT, 4, 0));
	return true;
}

void ipc_linux_send(struct thread *t)
{
	if (t->fault_slot.cap.type != HL_OBJ_ENDPOINT) {
		pr_warn(
		    "thread %p: Linux system call %lu at rip %#lx with no fault endpoint; stopped",
		    (void *)t, t->regs.rax, t->regs.rip);
		sched_block(t, TS_FAULTED);
		return;
	}
	fault_call(t, IN_FAULT_LINUX, HL_MSGINFO(HL_LABEL_LINUX_SYSCALL, HL_LINUX_WORDS, 0));
}

/* Take t out of any IPC wait (suspend, destroy). */
void ipc_cancel(struct thread *t)
{
	if (t->state == TS_BLOCKED_SEND || t->state == TS_BLOCKED_RECV) {
		struct endpoint *ep = t->queue;
		q_remove(&ep->head, &ep->tail, t);
	} else if (t->state == TS_BLOCKED_NTFN) {
		ntfn_unqueue(t->queue, t);
	}
	if (t->replier && t->replier->reply_to == t)
		t->replier->reply_to = NULL;
	t->replier = NULL;
	if (t->reply_to && t->reply_to->replier == t)
		t->reply_to->replier =
		    NULL; /* its caller stays blocked until suspended or deleted */
	t->reply_to = NULL;
	if (t->in_fault == IN_FAULT_LINUX && t->state == TS_BLOCKED_REPLY)
		t->regs.rax = (uint64_t)-4; /* taken but never answered: -EINTR */
	else if (t->in_fault == IN_FAULT_LINUX)
		t->regs.rip -= 2; /* never taken: make the call again when resumed */
	t->in_fault = 0;
}

void ipc_endpoint_destroy(struct endpoint *ep)
{
	while (ep->head) {
		struct thread *t = ep->head;
		q_remove(&ep->head, &ep->tail, t);
		if (t->in_fault == IN_FAULT_LINUX)
			t->regs.rip -= 2; /* the syscall instruction again: stopped, no endpoint */
		if (t->in_fault)
			t->in_fault = 0; /* it runs the faulting instruction again */
		else
			t->regs.rax = HL_ERR_DELETED;
		sched_make_runnable(t);
	}
}

/* ---- notifications ---- */

/* t leaves n's queue of waiters, and its timer queue if it waited with a deadline. */
static void ntfn_unqueue(struct notification *n, struct thread *t)
{
	q_remove(&n->head, &n->tail, t);
	sched_timeout_cancel(t);
}

static void ntfn_deliver(struct thread *t, uint64_t word)
{
	t->regs.rax = HL_OK;
	t->regs.rdi = word;
	t->regs.rsi = HL_MSGINFO(0, 0, 0);
}

/* Signal n with the capability's badge (an unbadged capability signals bit 0); returns the thread
 * woken, if any. */
struct thread *ntfn_signal(struct notification *n, uint64_t badge)
{
	uint64_t bits = badge ? badge : 1;

	if (n->head) {
		struct thread *t = n->head;
		q_remove(&n->head, &n->tail, t);
		ntfn_deliver(t, n->word | bits);
		n->word = 0;
		sched_make_runnable(t);
		/* Its deadline goes last, where only t is live: one test on the wake path (earlier,
		 * the call kept more registers alive: 6 instructions more per signal). */
		sched_timeout_cancel(t);
		return t;
	}
	n->word |= bits;
	struct thread *b = n->bound;
	if (b && b->state == TS_BLOCKED_RECV) {
		struct endpoint *ep = b->queue;
		q_remove(&ep->head, &ep->tail, b);
		ntfn_deliver(b, n->word);
		n->word = 0;
		sched_make_runnable(b);
		return b;
	}
	return NULL;
}

int ntfn_wait(struct thread *t, struct slot *s, bool block)
{
	struct notification *n = (struct notification *)s->cap.obj;

	if (!(s->cap.rights & HL_R_READ))
		return HL_ERR_NO_RIGHTS;
	if (n->word) {
		ntfn_deliver(t, n->word);
		n->word = 0;
		return HL_OK;
	}
	if (!block)
		return HL_ERR_WOULD_BLOCK;
	sched_block(t, TS_BLOCKED_NTFN);
	q_push(&n->head, &n->tail, t, n);
	return HL_OK;
}

/*
 * HL_SYS_WAIT: as a blocking ntfn_wait, until TSC deadline at the latest.
 * A deadline already passed with nothing pending returns HL_ERR_TIMED_OUT
 * at once; HL_WAIT_FOREVER is a plain wait.
 */
int ntfn_wait_until(struct thread *t, struct slot *s, uint64_t deadline)
{
	struct notification *n = (struct notification *)s->cap.obj;

	if (deadline == HL_WAIT_FOREVER || !(s->cap.rights & HL_R_READ) || n->word)
		return ntfn_wait(t, s, true);
	if (deadline <= rdtsc())
		return HL_ERR_TIMED_OUT;
	sched_block(t, TS_BLOCKED_NTFN);
	q_push(&n->head, &n->tail, t, n);
	sched_timeout_add(t, deadline);
	return HL_OK;
}

void ntfn_timed_out(struct thread *t)
{
	if (t->state != TS_BLOCKED_NTFN)
		panic("thread %p timed out in state %u", (void *)t, t->state);
	q_remove(&((struct notification *)t->queue)->head, &((struct notification *)t->queue)->tail,
	         t);
	t->regs.rax = HL_ERR_TIMED_OUT;
	t->regs.rdi = 0;
	sched_make_runnable(t);
}

/* A pending bound notification satisfies a receive at once. */
static bool ntfn_take(struct thread *t)
{
	struct notification *n =
	    t->ntfn_slot.cap.type == HL_OBJ_NOTIFICATION ? (void *)t->ntfn_slot.cap.obj : NULL;

	if (!n || !n->word)
		return false;
	ntfn_deliver(t, n->word);
	n->word = 0;
	return true;
}

void ntfn_unbind_thread(struct thread *t)
{
	if (t->ntfn_slot.cap.type == HL_OBJ_NOTIFICATION) {
		struct notification *n = (void *)t->ntfn_slot.cap.obj;
		if (n->bound == t)
			n->bound = NULL;
	}
}

void ntfn_destroy(struct notification *n)
{
	while (n->head) {
		struct thread *t = n->head;
		ntfn_unqueue(n, t);
		t->regs.rax = HL_ERR_DELETED;
		sched_make_runnable(t);
	}
	if (n->bound && n->bound->ntfn_slot.cap.obj == (uint64_t)n)
		n->bound = NULL;
	irq_unbind_ntfn(n);
}

int decode_thread_bind_notification(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;
	struct slot *ns;

	if (inv->arg[0] == 0) {
		ntfn_unbind_thread(t);
		cap_delete(&t->ntfn_slot);
		return HL_OK;
	}
	int err = inv_cap(inv, 0, HL_OBJ_NOTIFICATION, HL_R_READ, &ns);
	if (err)
		return err;
	struct notification *n = (void *)ns->cap.obj;
	if (n->bound && n->bound != t)
		return HL_ERR_ILLEGAL_OP;
	ntfn_unbind_thread(t);
	cap_delete(&t->ntfn_slot);
	struct cap c = ns->cap;
	c.flags = (c.flags & ~CAP_F_ORIGINAL) | CAP_F_BINDING;
	cap_insert(&t->ntfn_slot, &c, ns);
	n->bound = t;
	return HL_OK;
}
