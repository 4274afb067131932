/*
 * System-call dispatch (entered from arch/x86_64/syscall.S with the user
 * registers saved in the current thread). Results go back into the saved
 * registers; sched_exit_to_user() then runs whichever thread is current.
 */
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/aspace.h>
#include <kernel/bkl.h>
#include <kernel/invoke.h>
#include <kernel/ipc.h>
#include <kernel/klog.h>
#include <kernel/percpu.h>
#include <kernel/syscall.h>

int invoke_method(struct invocation *inv, uint64_t label, uint64_t len)
{
	uint8_t type = inv->target->cap.type;
	const struct method *m = type < HL_OBJ_COUNT && label < KERNEL_METHOD_LABELS
	                             ? kernel_method_at[type][label]
	                             : NULL;

	if (!m)
		return HL_ERR_ILLEGAL_OP;
	if (len < m->nargs)
		return HL_ERR_INVALID_ARG;
	return m->decode(inv);
}

/* Invoke a kernel object: arguments from registers and the IPC buffer, results to registers. */
static void do_invoke(struct thread *t, struct slot *target)
{
	struct invocation inv = {.caller = t, .cspace = thread_cspace(t), .target = target};
	uint64_t info = t->regs.rsi, len = HL_MSG_LEN(info);

	inv.arg[0] = t->regs.rdx, inv.arg[1] = t->regs.r10, inv.arg[2] = t->regs.r8,
	inv.arg[3] = t->regs.r9;
	if (len > 4 && thread_ipcbuf(t))
		inv.arg[4] = thread_ipcbuf(t)->mr[4], inv.arg[5] = thread_ipcbuf(t)->mr[5];
	int err = invoke_method(&inv, HL_MSG_LABEL(info), len);
	if (inv.restart) {
		t->regs.rip -= 2; /* run the syscall instruction again after a preemption point */
		return;
	}
	if (t->magic != THREAD_MAGIC)
		return; /* the caller deleted itself */
	t->regs.rax = (uint64_t)err;
	t->regs.rdx = inv.res[0], t->regs.r10 = inv.res[1], t->regs.r8 = inv.res[2],
	t->regs.r9 = inv.res[3];
}

/* HL_SYS_DEBUG_PUTS: at most 256 bytes from the caller's memory to the console. */
static int debug_puts(struct thread *t)
{
	char buf[257];
	uint64_t len = t->regs.rsi, src = t->regs.rdx;
	struct fault_catch fc;

	if (len > 256)
		len = 256;
	if (src >= USER_TOP || src + len > USER_TOP || src + len < src)
		return HL_ERR_INVALID_ARG;
	if (fault_catch(&fc) != 0) {
		clac();
		return HL_ERR_INVALID_ARG; /* unmapped user memory */
	}
	fault_catch_arm(&fc);
	stac();
	for (uint64_t i = 0; i < len; i++)
		buf[i] = ((volatile const char *)src)[i];
	clac();
	fault_catch_disarm();
	console_write(buf, len);
	return HL_OK;
}

static void set_err(struct thread *t, int err)
{
	if (err != HL_OK || t->state == TS_RUNNABLE)
		t->regs.rax = (uint64_t)err;
}

/* Every system call the fastpaths (kernel/fastpath.c) do not take; called with the BKL held. */
/*
 * HL_SYS_LINUX_REPLY_RECV's first part: thread.linux_reply(r8) on the thread
 * capability in r10. The reply to t's caller that follows is one word at
 * most (HL_ERR_INVALID_ARG otherwise); on an error nothing is done.
 */
static int linux_reply_first(struct thread *t)
{
	struct slot *ts;

	if (HL_MSG_LEN(t->regs.rsi) > 1 || HL_MSG_CAPS(t->regs.rsi))
		return HL_ERR_INVALID_ARG;
	int err = cap_lookup(thread_cspace(t), t->regs.r10, HL_OBJ_THREAD, 0, &ts);
	return err ? err : thread_linux_reply((struct thread *)ts->cap.obj, t->regs.r8);
}

__noreturn void syscall_slow(struct thread *t)
{
	struct slot *s = NULL;
	struct cspace *cs = thread_cspace(t);
	uint64_t nr = t->regs.rax;
	int err = HL_OK;

	if (t->magic != THREAD_MAGIC)
		sched_exit_to_user(); /* a destroyed thread's stand-in (kernel/thread.c): no call */
	if (nr != HL_SYS_YIELD && nr != HL_SYS_REPLY && nr < HL_SYS_COUNT) {
		err = cap_lookup(cs, t->regs.rdi, HL_OBJ_NONE, 0, &s);
		if (err) {
			t->regs.rax = (uint64_t)err;
			sched_exit_to_user();
		}
	}
	switch (nr) {
	case HL_SYS_CALL:
		if (s->cap.type == HL_OBJ_ENDPOINT)
			set_err(t, ipc_send(t, s, true, true));
		else
			do_invoke(t, s);
		break;
	case HL_SYS_SEND:
	case HL_SYS_NBSEND:
		if (s->cap.type == HL_OBJ_ENDPOINT)
			set_err(t, ipc_send(t, s, false, nr == HL_SYS_SEND));
		else if (s->cap.type == HL_OBJ_NOTIFICATION && (s->cap.rights & HL_R_WRITE)) {
			struct thread *w = ntfn_signal((void *)s->cap.obj, s->cap.badge);
			t->regs.rax = HL_OK;
			if (w && HL_MSG_LABEL(t->regs.rsi) == HL_LABEL_HANDOFF)
				sched_handoff(t, w); /* returns only if it does not apply */
		} else
			t->regs.rax = s->cap.type == HL_OBJ_NOTIFICATION ? HL_ERR_NO_RIGHTS
			                                                 : HL_ERR_WRONG_TYPE;
		break;
	case HL_SYS_RECV:
	case HL_SYS_POLL:
		if (s->cap.type == HL_OBJ_ENDPOINT && nr == HL_SYS_RECV)
			set_err(t, ipc_recv(t, s));
		else if (s->cap.type == HL_OBJ_NOTIFICATION)
			set_err(t, ntfn_wait(t, s, nr == HL_SYS_RECV));
		else
			t->regs.rax = HL_ERR_WRONG_TYPE;
		break;
	case HL_SYS_WAIT:
		if (s->cap.type == HL_OBJ_NOTIFICATION)
			set_err(t, ntfn_wait_until(t, s, t->regs.rdx));
		else
			t->regs.rax = HL_ERR_WRONG_TYPE;
		break;
	case HL_SYS_REPLY: {
		struct thread *c = ipc_reply(t, &err);
		t->regs.rax = (uint64_t)err;
		ipc_wake(c, t);
		break;
	}
	case HL_SYS_LINUX_REPLY_RECV:
	case HL_SYS_REPLY_RECV: {
		if (s->cap.type != HL_OBJ_ENDPOINT) {
			t->regs.rax = HL_ERR_WRONG_TYPE;
			break;
		}
		if (nr == HL_SYS_LINUX_REPLY_RECV && (err = linux_reply_first(t)) != HL_OK) {
			t->regs.rax = (uint64_t)err; /* nothing done */
			break;
		}
		struct thread *c = ipc_reply(t, &err);
		set_err(t, ipc_recv(t, s));
		ipc_wake(c, t);
		break;
	}
	case HL_SYS_YIELD:
		t->regs.rax = HL_OK;
		sched_yield_current();
		break;
	case HL_SYS_DEBUG_PUTS:
		t->regs.rax =
		    s->cap.type == HL_OBJ_DEBUG ? (uint64_t)debug_puts(t) : HL_ERR_WRONG_TYPE;
		break;
	default:
		t->regs.rax = HL_ERR_ILLEGAL_OP;
	}
	sched_exit_to_user();
}
