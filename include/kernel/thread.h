/*
 * Threads (kernel/thread.c) and the scheduler (kernel/sched.c).
 *
 * The kernel runs on one stack per CPU and keeps no kernel context per
 * thread: every entry from ring 3 saves the user registers into the
 * current thread's object, and every exit restores them from whichever
 * thread is current then. A blocked thread is only a state and a queue.
 */
#ifndef KERNEL_THREAD_H
#define KERNEL_THREAD_H

#include <kernel/cap.h>
#include <kernel/thread_layout.h>
#include <kernel/timeq.h>
#include <kernel/types.h>

/* Saved user registers; offsets are used by arch/x86_64/syscall.S. */
struct user_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;    /* 0 .. 48 */
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15; /* 56 .. 112 */
	uint64_t rip, rsp, rflags, fs_base;            /* 120 .. 144 */
};
#define UREGS_AT(f, off)                                                                           \
	_Static_assert(offsetof(struct user_regs, f) == (off), "syscall.S: user_regs." #f)
UREGS_AT(rax, R_RAX);
UREGS_AT(rbx, R_RBX);
UREGS_AT(rcx, R_RCX);
UREGS_AT(rdx, R_RDX);
UREGS_AT(rsi, R_RSI);
UREGS_AT(rdi, R_RDI);
UREGS_AT(rbp, R_RBP);
UREGS_AT(r8, R_R8);
UREGS_AT(r9, R_R9);
UREGS_AT(r10, R_R10);
UREGS_AT(r11, R_R11);
UREGS_AT(r12, R_R12);
UREGS_AT(r13, R_R13);
UREGS_AT(r14, R_R14);
UREGS_AT(r15, R_R15);
UREGS_AT(rip, R_RIP);
UREGS_AT(rsp, R_RSP);
UREGS_AT(rflags, R_RFLAGS);
UREGS_AT(fs_base, R_FS_BASE);
#undef UREGS_AT

enum thread_state {
	TS_INACTIVE = 0,  /* never resumed, or suspended */
	TS_RUNNABLE,      /* in a run queue or running */
	TS_BLOCKED_SEND,  /* queued on an endpoint to send (or call) */
	TS_BLOCKED_RECV,  /* queued on an endpoint to receive */
	TS_BLOCKED_REPLY, /* called and waits for the reply */
	TS_BLOCKED_NTFN,  /* waits on a notification */
	TS_FAULTED,       /* stopped after a fault nobody handles */
};

struct endpoint;
struct notification;

struct thread {
	struct user_regs regs;        /* [BKL] 0: see syscall.S */
	uint8_t full_restore;         /* [BKL] 152: return with iretq (all registers), not sysret */
	uint8_t state;                /* [BKL] enum thread_state */
	uint8_t priority;             /* [BKL] 0 (lowest) .. 255 */
	uint8_t is_call;              /* [BKL] blocked sender used call */
	uint32_t cpu;                 /* [BKL] CPU it runs on */
	struct thread *qnext, *qprev; /* [BKL] run-queue or endpoint/notification queue links */
	void *queue;                  /* [BKL] endpoint or notification it is queued on */
	struct thread *reply_to;      /* [BKL] caller waiting for this thread's reply */
	struct thread *replier;       /* [BKL] while blocked in call: who will reply */
	uint64_t badge;               /* [BKL] badge of the capability it sends through */
	uint64_t msginfo;             /* [BKL] pending message info while queued to send */
	struct slot cspace_slot, aspace_slot, ipc_slot, fault_slot,
	    ntfn_slot;                          /* [BKL] copies it holds */
	struct hl_ipc_buffer *ipcbuf;           /* [BKL] kernel view of its IPC buffer, or NULL */
	uint64_t budget_ns, period_ns;          /* [BKL] 0 = unlimited */
	uint64_t budget_left_ns, replenish_tsc; /* [BKL] */
	uint64_t run_start_tsc;                 /* [BKL] when it last started running */
	uint64_t fault[4]; /* [BKL] vector, error, address, rip of the last fault */
	uint32_t magic;    /* [I] */
	uint32_t on_cpu;   /* [BKL] 1 + index of the CPU running it (its current), 0 = none */
	uint32_t in_fault; /* [BKL] IN_FAULT_*: blocked in a fault call (fault[] is its message) or
	                      a Linux call (its registers are); its registers stay */
	uint8_t
	    throttled; /* [BKL] out of budget: on the throttled list of a CPU until replenished */
	uint8_t linux_abi;   /* [BKL] syscall.S: every `syscall` is a Linux call to its fault
	                        endpoint (thread.set_linux); read without the BKL on entry */
	uint8_t no_fastpath; /* [BKL] has a budget, upcalls or a partition: switches take the
	                        general path */
	uint8_t part;   /* [BKL] partition id for the windows (sched_control.bind), 0 = untagged */
	uint8_t parked; /* [BKL] runnable but outside its partition's window: on its CPU's parked
	                   list (kernel/window.c), in no run queue */
	/* Preemption upcalls (kernel/upcall.c); upcall_ns 0 = none. */
	struct slot upcall_slot;            /* [BKL] copy of the area's frame capability */
	struct hl_upcall_area *upcall_area; /* [BKL] kernel view of the area */
	uint64_t upcall_va, upcall_handler; /* [BKL] user addresses of the area and the handler */
	uint64_t upcall_ns, upcall_q_tsc;   /* [BKL] the quantum */
	uint64_t upcall_left_tsc;     /* [BKL] quantum left while off a CPU (0: due at once) */
	uint64_t upcall_deadline_tsc; /* [BKL] expiry while on a CPU */
	/* A timed notification wait (HL_SYS_WAIT): queued on the timer queue of CPU timeout_cpu
	 * while it waits with a deadline (timeout.queued). */
	struct timeq_node timeout; /* [BKL] */
	uint32_t timeout_cpu;      /* [BKL] */
	uint64_t cpu_tsc;          /* [BKL] TSC ticks it has run (user and kernel), to cpu_in_tsc */
	uint64_t cpu_in_tsc;       /* [BKL] when it last became current on a CPU */
	/* thread.set_linux_answer: a Linux `syscall` with rax == linux_answer_nr returns
	 * linux_answer_val at once, without a message to the server (kernel/fastpath.c). */
	uint8_t linux_answer_on;                    /* [BKL] */
	uint64_t linux_answer_nr, linux_answer_val; /* [BKL] */
	uint8_t xsave[] __aligned(64);              /* FPU/SSE/AVX state (XSAVE area) */
};
_Static_assert(offsetof(struct thread, regs) == 0, "syscall.S: the registers open struct thread");
_Static_assert(offsetof(struct thread, full_restore) == T_FULL_RESTORE,
               "syscall.S: thread.full_restore");
_Static_assert(offsetof(struct thread, linux_abi) == T_LINUX_ABI, "syscall.S: thread.linux_abi");

/* What a thread blocked in a call to its fault endpoint sent (thread.in_fault). */
enum { IN_FAULT_NONE = 0, IN_FAULT_HW = 1, IN_FAULT_LINUX = 2 };

#define THREAD_MAGIC    0x74687264 /* "thrd" */
#define THREAD_OBJ_BITS 13         /* 8 KiB: registers, bookkeeping and the XSAVE area */

static inline struct cspace *thread_cspace(struct thread *t)
{
	return t->cspace_slot.cap.type == HL_OBJ_CSPACE ? (struct cspace *)t->cspace_slot.cap.obj
	                                                : NULL;
}

/* Its IPC buffer; NULL once the frame capability it holds is gone (revoked with its memory). */
static inline struct hl_ipc_buffer *thread_ipcbuf(const struct thread *t)
{
	return t->ipc_slot.cap.type == HL_OBJ_FRAME ? t->ipcbuf : NULL;
}

/* Keep no_fastpath (one test on the fastpaths) in step with the budget, the upcalls and the
 * partition tag (a fastpath switch to a thread of another partition would run it outside its
 * window). */
static inline void thread_update_fastpath(struct thread *t)
{
	t->no_fastpath = t->budget_ns || t->upcall_ns || t->part;
}

/* The upcall area, or NULL when none is set or its frame capability is gone. */
static inline struct hl_upcall_area *thread_upcall_area(const struct thread *t)
{
	return t->upcall_ns && t->upcall_slot.cap.type == HL_OBJ_FRAME ? t->upcall_area : NULL;
}

/* t asked for its upcall when preempted while runnable (the area's on_preempt). */
static inline bool upcall_on_preempt(const struct thread *t)
{
	const struct hl_upcall_area *a = thread_upcall_area(t);
	return a && *(const volatile uint32_t *)&a->on_preempt;
}

/* kernel/upcall.c: deliver t's upcall as it returns to ring 3 (false: t faulted instead). */
bool upcall_deliver(struct thread *t, uint64_t expiry);
void upcall_clear(struct thread *t); /* upcalls off, the area's frame let go */

/* kernel/thread.c */
void thread_init_object(struct thread *t);
void thread_destroy(struct thread *t);
/* Stop t wherever it is (run queue, IPC queue, reply wait), as thread.suspend does. */
void thread_halt(struct thread *t);
void thread_fault(struct thread *t, uint64_t vector, uint64_t error, uint64_t addr);
/* thread.linux_reply(value) on t (also the fastpath's, kernel/fastpath.c): HL_OK or the error. */
int thread_linux_reply(struct thread *t, uint64_t value);

/* kernel/sched.c: run queues, the current thread, time accounting. */
void sched_init(void);
void sched_init_cpu(void);
void sched_make_runnable(struct thread *t); /* add to its CPU's queue; IPI if remote */
void sched_block(struct thread *t, enum thread_state st); /* take it off the run queue */
void sched_yield_current(void);
void sched_timer_tick(void);
/* Pick the next thread for this CPU (NULL = idle) and make it current. */
struct thread *sched_pick(void);
__noreturn void sched_exit_to_user(void); /* run the current thread, or idle */
void sched_switch_to(struct thread *t);   /* direct hand-off (IPC fastpath) */
/* cur (running here) just woke w: run w now if it is this CPU's and of cur's priority; cur next. */
void sched_handoff(struct thread *cur, struct thread *w);
void sched_remove(struct thread *t);
void sched_migrate(struct thread *t, uint32_t cpu);
void sched_kick(struct thread *t);
/* New budget and period in ns (0, 0 = unlimited), effective at once on whichever CPU runs t. */
void sched_set_budget(struct thread *t, uint64_t budget_ns, uint64_t period_ns);
/* The CPU time t has used, in ns: every switch in and out counts it (thread.read_cputime). */
uint64_t sched_cpu_ns(const struct thread *t);
uint32_t sched_runnable_count(uint32_t cpu);
/* t (blocked on a notification) times out at TSC deadline on its CPU's timer queue. */
void sched_timeout_add(struct thread *t, uint64_t deadline);
/* Take t (t->timeout.queued) off its timer queue. */
void sched_timeout_remove(struct thread *t);
/* Take t off its timer queue if it waits with a deadline (inline: one test on the wake path). */
static inline void sched_timeout_cancel(struct thread *t)
{
	if (t->timeout.queued)
		sched_timeout_remove(t);
}

#endif
