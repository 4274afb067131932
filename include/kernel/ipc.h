/*
 * Endpoints and notifications (kernel/ipc.c): the slow paths of send, call,
 * reply and receive, notification signal and wait, and their teardown. The
 * fastpaths that bypass them are in kernel/fastpath.c. All of it runs under
 * the BKL.
 */
#ifndef KERNEL_IPC_H
#define KERNEL_IPC_H

#include <kernel/object.h>

/* Send or call on the endpoint capability ep by t (t is the caller, current); returns an hl_err. */
int ipc_send(struct thread *t, struct slot *ep, bool call, bool block) __must_check;
/* Receive on ep: take a waiting sender, or block. Returns HL_OK or an hl_err; results are in t's
 * registers. */
int ipc_recv(struct thread *t, struct slot *ep) __must_check;
/*
 * Reply to the thread that called t: its message goes to the caller, which
 * is returned (runnable but in no queue; wake it with ipc_wake). NULL and
 * *err = HL_ERR_NO_REPLY if there is no caller.
 */
struct thread *ipc_reply(struct thread *t, int *err) __must_check;
/* Wake a replied-to caller c: run it at once if t no longer runs and it may (fastpath). */
void ipc_wake(struct thread *c, struct thread *t);
/* Send t's fault to its fault endpoint as a call. False if nobody can take it now or later. */
bool ipc_fault_send(struct thread *t) __must_check;
/*
 * Send the Linux system call in t's registers to its fault endpoint as a
 * call (t->linux_abi is set); with no fault endpoint t is stopped.
 */
void ipc_linux_send(struct thread *t);

/*
 * The message of a Linux call by src, into the receiver dst's registers
 * and IPC buffer (HL_LABEL_LINUX_SYSCALL, words in enum hl_linux_mr).
 * Shared by the general path and the fastpath so they cannot differ.
 */
static __always_inline void ipc_linux_message(const struct thread *src, struct thread *dst,
                                              uint64_t badge)
{
	struct hl_ipc_buffer *b = thread_ipcbuf(dst);

	dst->regs.rax = HL_OK;
	dst->regs.rdi = badge;
	dst->regs.rdx = src->regs.rax;
	dst->regs.r10 = src->regs.rdi;
	dst->regs.r8 = src->regs.rsi;
	dst->regs.r9 = src->regs.rdx;
	if (b) {
		b->mr[HL_LINUX_A3] = src->regs.r10;
		b->mr[HL_LINUX_A4] = src->regs.r8;
		b->mr[HL_LINUX_A5] = src->regs.r9;
		b->mr[HL_LINUX_RIP] = src->regs.rip;
		b->mr[HL_LINUX_RSP] = src->regs.rsp;
	}
	dst->regs.rsi = HL_MSGINFO(HL_LABEL_LINUX_SYSCALL, b ? HL_LINUX_WORDS : 4, 0);
}
/* Take t out of any IPC wait (suspend, destroy). */
void ipc_cancel(struct thread *t);
/* Wake every thread queued on ep (HL_ERR_DELETED; a fault sender re-runs its fault); ep is being
 * destroyed. */
void ipc_endpoint_destroy(struct endpoint *ep);

/* Signal n with the capability's badge (an unbadged capability signals bit 0). */
struct thread *ntfn_signal(struct notification *n,
                           uint64_t badge); /* the thread it woke, or NULL */
/* Wait on (block) or poll the notification capability s by t; returns an hl_err. */
int ntfn_wait(struct thread *t, struct slot *s, bool block) __must_check;
/* Wait on the notification capability s by t until TSC deadline (HL_SYS_WAIT); returns an
 * hl_err. */
int ntfn_wait_until(struct thread *t, struct slot *s, uint64_t deadline) __must_check;
/* t's timed wait reached its deadline (kernel/sched.c): off the notification, HL_ERR_TIMED_OUT,
 * runnable. */
void ntfn_timed_out(struct thread *t);
/* Unbind the notification bound to t, if any (t is being destroyed). */
void ntfn_unbind_thread(struct thread *t);
/* Wake n's waiters (HL_ERR_DELETED), drop its bound thread and IRQ; n is being destroyed. */
void ntfn_destroy(struct notification *n);

#endif
