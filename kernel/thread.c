/* Thread objects and their methods. */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/aspace.h>
#include <kernel/invoke.h>
#include <kernel/ipc.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/object.h>
#include <kernel/percpu.h>
#include <kernel/time.h>
#include <lib/string.h>

#define RFLAGS_IF    0x200ull
#define RFLAGS_FIXED 0x2ull

static uint64_t sane_rflags(uint64_t f)
{
	/* User code keeps only the arithmetic flags and DF; IF always on. */
	return (f & 0xcd5ull) | RFLAGS_IF | RFLAGS_FIXED;
}

void thread_init_object(struct thread *t)
{
	t->magic = THREAD_MAGIC;
	t->regs.rflags = RFLAGS_IF | RFLAGS_FIXED;
	t->priority = 100;
	t->cpu = cpu_index();
	t->full_restore = 1;
}

/* Per-CPU placeholders for a destroyed thread still on a CPU (never scheduled). */
static struct thread stand_in[MAX_CPUS];

/*
 * c's current thread was just replaced by a stand-in: wait until c can no
 * longer store into the old one. While c->in_user is 1, c runs (or is about
 * to run) that thread in ring 3, and its next system call saves registers
 * into the memory it read from current before this change: once the memory
 * is reused, that would write ring-3 values into another object
 * (isolation_faults found it: an endpoint's queue head of 1). The resched
 * IPI brings c into the kernel, which clears in_user before it waits for
 * the lock this CPU holds, so the wait is short and cannot deadlock.
 */
static void wait_off_thread(struct cpu *c)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* current's store before in_user's load */
	if (!c->in_user)
		return;
	arch_send_resched(c);
	while (c->in_user)
		cpu_relax();
}

/* Stop a thread wherever it is: run queue, IPC queue, reply wait. */
static void thread_stop(struct thread *t, enum thread_state st)
{
	ipc_cancel(t);
	sched_block(t, st);
}

void thread_halt(struct thread *t)
{
	thread_stop(t, TS_INACTIVE);
}

void thread_destroy(struct thread *t)
{
	thread_stop(t, TS_INACTIVE);
	ntfn_unbind_thread(t);
	cap_delete(&t->cspace_slot);
	cap_delete(&t->aspace_slot);
	cap_delete(&t->ipc_slot);
	cap_delete(&t->fault_slot);
	cap_delete(&t->ntfn_slot);
	upcall_clear(t);
	t->ipcbuf = NULL;
	t->magic = 0;
	/*
	 * If another CPU still runs it in ring 3, that CPU's next kernel entry
	 * must not save registers into this (soon reused) memory: point its
	 * current at a per-CPU stand-in, and make it enter soon.
	 */
	for (uint32_t i = 0; i < ncpus_online; i++) {
		if (cpus[i].current != t)
			continue;
		/*
		 * A CPU it belongs to in no case: the fastpaths (which also skip its
		 * missing XSAVE area) take only a thread on its own CPU.
		 */
		stand_in[i].cpu = ~0u;
		cpus[i].current = &stand_in[i];
		cpus[i].need_resched = true;
		if (&cpus[i] != this_cpu())
			wait_off_thread(&cpus[i]);
	}
}

/* Replace the copy a thread holds in slot dst by a copy of src (NULL: just drop it). */
static void hold_copy(struct slot *dst, struct slot *src)
{
	cap_delete(dst);
	if (src) {
		struct cap c = cap_derive(&src->cap);
		cap_insert(dst, &c, src);
	}
}

int decode_thread_configure(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;
	struct slot *cs, *as, *ipc = NULL;
	uint64_t ipc_va = inv->arg[3];
	int err = inv_cap(inv, 0, HL_OBJ_CSPACE, 0, &cs);

	if (!err)
		err = inv_cap(inv, 1, HL_OBJ_ASPACE, 0, &as);
	if (!err && inv->arg[2])
		err = inv_cap(inv, 2, HL_OBJ_FRAME, HL_R_READ | HL_R_WRITE, &ipc);
	if (err)
		return err;
	if (ipc && (ipc->cap.size_bits != 12 || (ipc_va & (PAGE_SIZE - 1)) || ipc_va >= USER_TOP))
		return HL_ERR_INVALID_ARG;
	/* The kernel writes the buffer through its map of RAM: device memory is not in it (a device
	 * frame here was a kernel page fault). */
	if (ipc && (ipc->cap.flags & CAP_F_DEVICE))
		return HL_ERR_INVALID_ARG;
	if (t == inv->caller)
		return HL_ERR_ILLEGAL_OP; /* a running thread keeps its spaces */
	hold_copy(&t->cspace_slot, cs);
	hold_copy(&t->aspace_slot, as);
	hold_copy(&t->ipc_slot, ipc);
	t->ipcbuf = ipc ? phys_to_virt(ipc->cap.obj) : NULL;
	if (ipc) { /* FS base -> the IPC buffer, whose tls word holds its own address */
		t->ipcbuf->tls = ipc_va;
		t->regs.fs_base = ipc_va;
	}
	return HL_OK;
}

int decode_thread_set_fault_ep(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;
	struct slot *ep;

	if (inv->arg[0] == 0) {
		hold_copy(&t->fault_slot, NULL);
		return HL_OK;
	}
	int err = inv_cap(inv, 0, HL_OBJ_ENDPOINT, HL_R_WRITE, &ep);
	if (err)
		return err;
	hold_copy(&t->fault_slot, ep);
	return HL_OK;
}

int decode_thread_write_regs(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	if (t == inv->caller)
		return HL_ERR_ILLEGAL_OP;
	if (inv->arg[0] >= USER_TOP || inv->arg[1] >= USER_TOP)
		return HL_ERR_INVALID_ARG;
	t->regs.rip = inv->arg[0];
	t->regs.rsp = inv->arg[1];
	t->regs.rdi = inv->arg[2];
	t->regs.rsi = inv->arg[3];
	t->regs.rflags = sane_rflags(t->regs.rflags);
	t->full_restore = 1;
	return HL_OK;
}

int decode_thread_read_regs(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	inv->res[0] = t->regs.rip;
	inv->res[1] = t->regs.rsp;
	inv->res[2] = t->regs.rflags;
	inv->res[3] = t->state;
	return HL_OK;
}

/* The CPU time the thread has used, in ns (user and kernel time together). */
int decode_thread_read_cputime(struct invocation *inv)
{
	inv->res[0] = sched_cpu_ns((const struct thread *)inv->target->cap.obj);
	return HL_OK;
}

/* Four of the saved general registers (group 0: rax rbx rcx rdx, 1: rsi rdi rbp rsp, 2: r8 r9
 * r10 r11, 3: r12 r13 r14 r15, 4: rip rflags fs_base state): those of the thread as it last
 * entered the kernel (exact for a stopped thread: faulted, suspended, blocked). */
int decode_thread_read_gprs(struct invocation *inv)
{
	const struct thread *t = (struct thread *)inv->target->cap.obj;
	const struct user_regs *r = &t->regs;
	const uint64_t g[5][4] = {{r->rax, r->rbx, r->rcx, r->rdx},
	                          {r->rsi, r->rdi, r->rbp, r->rsp},
	                          {r->r8, r->r9, r->r10, r->r11},
	                          {r->r12, r->r13, r->r14, r->r15},
	                          {r->rip, r->rflags, r->fs_base, t->state}};

	if (inv->arg[0] > 4)
		return HL_ERR_INVALID_ARG;
	for (int i = 0; i < 4; i++)
		inv->res[i] = g[inv->arg[0]][i];
	return HL_OK;
}

int decode_thread_resume(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	if (t->cspace_slot.cap.type != HL_OBJ_CSPACE || t->aspace_slot.cap.type != HL_OBJ_ASPACE)
		return HL_ERR_INVALID_ARG; /* not configured */
	if (t->state == TS_RUNNABLE || t->throttled)
		return HL_OK;
	if (t->state != TS_INACTIVE && t->state != TS_FAULTED)
		return HL_ERR_ILLEGAL_OP; /* blocked in IPC: it resumes when that ends */
	t->full_restore = 1;
	sched_make_runnable(t);
	return HL_OK;
}

/*
 * A thread running in ring 3 on another CPU leaves it only when that CPU
 * enters the kernel, and that entry saves its registers: until then the
 * call runs again (a preemption point), so that registers written after
 * suspend returns (thread.write_regs) are not overwritten by that save.
 */
int decode_thread_suspend(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	thread_stop(t, TS_INACTIVE);
	if (t->on_cpu && t->on_cpu != cpu_index() + 1)
		inv->restart = true;
	return HL_OK;
}

int decode_thread_set_priority(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	if (inv->arg[0] > 255)
		return HL_ERR_INVALID_ARG;
	if (inv->arg[0] > inv->caller->priority)
		return HL_ERR_NO_RIGHTS; /* no thread can raise another above itself */
	bool queued = t->state == TS_RUNNABLE && t->queue;
	if (queued)
		sched_remove(t);
	t->priority = (uint8_t)inv->arg[0];
	if (queued)
		sched_make_runnable(t);
	else
		sched_kick(t); /* running: its CPU picks again, wherever it is */
	return HL_OK;
}

/* Share of a CPU as budget/period, 0/0 meaning all of it: true when a/ap <= b/bp. */
static bool share_at_most(uint64_t a, uint64_t ap, uint64_t b, uint64_t bp)
{
	if (!bp)
		return true;           /* b is unlimited */
	return ap && a * bp <= b * ap; /* both at most 10^7: no overflow */
}

/*
 * Like priorities, CPU time is only handed down: a thread with a budget can
 * give no thread (itself included) a larger share than its own, so a
 * budgeted program cannot lift its own limit with its own thread capability.
 */
int decode_thread_set_budget(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;
	const struct thread *c = inv->caller;
	uint64_t budget = inv->arg[0], period = inv->arg[1];

	if ((budget == 0) != (period == 0) || budget > period || (period && period < 5) ||
	    period > 10000000)
		return HL_ERR_INVALID_ARG;
	if (!share_at_most(budget, period, c->budget_ns / 1000, c->period_ns / 1000))
		return HL_ERR_NO_RIGHTS;
	sched_set_budget(t, budget * 1000, period * 1000);
	return HL_OK;
}

int decode_thread_set_affinity(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;
	uint64_t cpu = inv->arg[0];

	if (cpu >= ncpus_online)
		return HL_ERR_RANGE;
	if (t->cpu != cpu)
		sched_migrate(t, (uint32_t)cpu);
	return HL_OK;
}

/*
 * A fault in ring 3: send it to the thread's fault endpoint as a call (the
 * handler's reply resumes the thread), or stop the thread with a report.
 */
void thread_fault(struct thread *t, uint64_t vector, uint64_t error, uint64_t addr)
{
	t->fault[0] = vector, t->fault[1] = error, t->fault[2] = addr, t->fault[3] = t->regs.rip;
	t->full_restore = 1;
	if (t->fault_slot.cap.type == HL_OBJ_ENDPOINT && ipc_fault_send(t))
		return;
	pr_warn("thread %p: unhandled fault vector %lu error %#lx addr %#lx at rip %#lx; stopped",
	        (void *)t, vector, error, addr, t->regs.rip);
	thread_stop(t, TS_FAULTED);
}

/*
 * Mark t as a Linux thread (enabled = 1) or not (0): from then on every
 * `syscall` it makes, whatever rax holds, is sent to its fault endpoint
 * as a Linux call (kernel/fastpath.c), never taken as a Hallows call.
 */
int decode_thread_set_linux(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	if (inv->arg[0] > 1)
		return HL_ERR_INVALID_ARG;
	t->linux_abi = (uint8_t)inv->arg[0];
	if (!t->linux_abi)
		t->linux_answer_on = 0; /* an answer belongs to the Linux entry only */
	return HL_OK;
}

/*
 * thread.linux_reply(value): end the Linux call t waits in (its server took
 * the message and did not reply: a deferred reply) with value in rax, as a
 * reply would. HL_ERR_NO_REPLY when t waits in no Linux call (not blocked
 * for a reply to one, or already answered), HL_ERR_ILLEGAL_OP for a thread
 * that is not a Linux one. The server need not be the thread that took the
 * call: the thread capability is the authority.
 */
int thread_linux_reply(struct thread *t, uint64_t value)
{
	if (!t->linux_abi)
		return HL_ERR_ILLEGAL_OP;
	if (t->state != TS_BLOCKED_REPLY || t->in_fault != IN_FAULT_LINUX)
		return HL_ERR_NO_REPLY;
	if (t->replier && t->replier->reply_to == t)
		t->replier->reply_to = NULL; /* the server had not taken another call yet */
	t->replier = NULL;
	t->in_fault = IN_FAULT_NONE;
	t->regs.rax = value;
	sched_make_runnable(t);
	return HL_OK;
}

int decode_thread_linux_reply(struct invocation *inv)
{
	return thread_linux_reply((struct thread *)inv->target->cap.obj, inv->arg[0]);
}

/*
 * thread.reset: stop the thread wherever it is (as thread.suspend) and set
 * its registers back to those of a new thread, for a server that reuses
 * its threads (the Linux personality's next process: nothing of the last
 * one may show). Every general register, rip, rsp and rflags zero (rflags
 * as write_regs makes it), the FPU, SSE and AVX state as a new thread's
 * (zeroed, so XRSTOR loads each component's initial state), its last fault,
 * its Linux answer off and its CPU-time count from 0; the result is the CPU
 * time it had (ns, as thread.read_cputime). Kept: its spaces, IPC buffer, FS
 * base, fault endpoint, notification, priority, budget, CPU and Linux mark.
 * HL_ERR_ILLEGAL_OP on the calling thread.
 */
int decode_thread_reset(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;
	uint64_t fs = t->regs.fs_base;

	if (t == inv->caller)
		return HL_ERR_ILLEGAL_OP;
	thread_stop(t, TS_INACTIVE);
	if (t->on_cpu && t->on_cpu != cpu_index() + 1) {
		inv->restart = true; /* as suspend: once it has left that CPU, its registers stay */
		return HL_OK;
	}
	memset(&t->regs, 0, sizeof(t->regs));
	t->regs.fs_base = fs;
	t->regs.rflags = sane_rflags(0);
	t->full_restore = 1;
	/* The legacy area and the XSAVE header: with XSTATE_BV 0 no other component is read. */
	memset(t->xsave, 0, 576);
	memset(t->fault, 0, sizeof(t->fault));
	t->in_fault = IN_FAULT_NONE;
	t->linux_answer_on = 0;
	inv->res[0] = sched_cpu_ns(t);
	t->cpu_tsc = 0;
	return HL_OK;
}

/*
 * thread.set_linux_answer(enabled, nr, value): while enabled (1), a `syscall`
 * of the Linux thread t with rax == nr returns value in rax at once, with no
 * message to its server (kernel/fastpath.c, linux_syscall); 0 turns it off
 * (nr and value are then ignored). The server's cache of a reply that
 * does not change, such as getpid's (docs/decisions.md, issue 15 speed).
 * t must be a Linux thread (thread.set_linux(1)).
 */
int decode_thread_set_linux_answer(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	if (inv->arg[0] > 1)
		return HL_ERR_INVALID_ARG;
	if (!t->linux_abi)
		return HL_ERR_ILLEGAL_OP;
	t->linux_answer_on = 0;
	t->linux_answer_nr = inv->arg[1];
	t->linux_answer_val = inv->arg[2];
	t->linux_answer_on = (uint8_t)inv->arg[0];
	return HL_OK;
}

/*
 * Set t's FS base (Linux arch_prctl(ARCH_SET_FS)). It is loaded whenever t
 * is switched to, so a server sets it while t waits for its reply; for the
 * calling thread it is loaded at once.
 */
int decode_thread_set_fs_base(struct invocation *inv)
{
	struct thread *t = (struct thread *)inv->target->cap.obj;

	if (inv->arg[0] >= USER_TOP)
		return HL_ERR_INVALID_ARG; /* a non-canonical base would fault in wrmsr */
	t->regs.fs_base = inv->arg[0];
	if (t == this_cpu()->current)
		arch_tls_load(t);
	return HL_OK;
}
