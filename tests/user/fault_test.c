/*
 * Ring-3 suite "fault": CPU exceptions in ring 3 become fault messages on
 * the thread's fault endpoint (label HL_LABEL_FAULT; words vector, error
 * code, address, rip). The handler either stops the thread or fixes the
 * cause and replies, which resumes it. Without a fault endpoint the thread
 * stops in state TS_FAULTED and the kernel carries on.
 *
 * The faulting code is assembly (below) so the compiler cannot turn the
 * faults into something else, and each faulting instruction has a label
 * the handler can compare the reported rip with.
 */
#include "utest.h"

enum { ST_INACTIVE = 0, ST_SEND = 2, ST_REPLY = 4, ST_FAULTED = 6 };
enum { V_DE = 0, V_UD = 6, V_GP = 13, V_PF = 14 };

__asm__(
    ".pushsection .text\n"
    ".globl ft_null, ft_null_after\n"
    "ft_null: movq 0, %rax\n"
    "ft_null_after: ud2\n"
    ".globl ft_write, ft_write_after\n"
    "ft_write: movq $1, (%rdi)\n"
    "ft_write_after: ud2\n"
    ".globl ft_div, ft_div_insn\n"
    "ft_div: xorl %eax, %eax\n xorl %edx, %edx\n xorl %ecx, %ecx\n"
    "ft_div_insn: divl %ecx\n ud2\n"
    ".globl ft_ud\n"
    "ft_ud: ud2\n"
    ".globl ft_hlt\n"
    "ft_hlt: hlt\n ud2\n"
    ".globl ft_cli\n"
    "ft_cli: cli\n ud2\n"
    ".globl ft_out, ft_out_insn\n"
    "ft_out: movw $0x80, %dx\n movb $0, %al\n"
    "ft_out_insn: outb %al, %dx\n ud2\n"
    ".globl ft_in, ft_in_insn\n"
    "ft_in: movw $0x3fd, %dx\n"
    "ft_in_insn: inb %dx, %al\n ud2\n"
    ".globl ft_stack\n"
    "ft_stack: pushq %rax\n jmp ft_stack\n"
    /* Registers survive a fault that the handler fixes and replies to. */
    ".globl ft_regs, ft_regs_load, ft_regs_ok, ft_regs_bad\n"
    "ft_regs: movq $0x1111, %rax\n movq $0x2222, %rbx\n movq $0x4444, %rsi\n movq $0x5555, %rdx\n"
    " movq $0x6666, %r8\n movq $0x7777, %r9\n movq $0x8888, %r10\n movq $0x9999, %r12\n"
    " movq $0xaaaa, %r13\n movq $0xbbbb, %r14\n movq $0xcccc, %r15\n movq $0xdddd, %rbp\n"
    "ft_regs_load: movq (%rdi), %rcx\n"
    " cmpq $0x4242, %rcx\n jne ft_regs_bad\n"
    " cmpq $0x1111, %rax\n jne ft_regs_bad\n cmpq $0x2222, %rbx\n jne ft_regs_bad\n"
    " cmpq $0x4444, %rsi\n jne ft_regs_bad\n cmpq $0x5555, %rdx\n jne ft_regs_bad\n"
    " cmpq $0x6666, %r8\n jne ft_regs_bad\n cmpq $0x7777, %r9\n jne ft_regs_bad\n"
    " cmpq $0x8888, %r10\n jne ft_regs_bad\n cmpq $0x9999, %r12\n jne ft_regs_bad\n"
    " cmpq $0xaaaa, %r13\n jne ft_regs_bad\n cmpq $0xbbbb, %r14\n jne ft_regs_bad\n"
    " cmpq $0xcccc, %r15\n jne ft_regs_bad\n cmpq $0xdddd, %rbp\n jne ft_regs_bad\n"
    "ft_regs_ok: ud2\n"
    "ft_regs_bad: ud2\n"
    ".popsection\n");

extern const char ft_null[], ft_null_after[], ft_write[], ft_write_after[], ft_div[], ft_div_insn[],
    ft_ud[], ft_hlt[], ft_cli[], ft_out[], ft_out_insn[], ft_in[], ft_in_insn[], ft_stack[],
    ft_regs[], ft_regs_load[], ft_regs_ok[], ft_regs_bad[];

struct fault_msg {
	long err;
	hl_word_t label, vec, error, addr, rip;
};

static void never_called(void *arg)
{
	(void)arg;
}

/*
 * A thread that starts at the assembly stub rip with rdi = arg, on its own
 * stack, with fault endpoint ep (0: none); resumed. Returns the TCB.
 */
static hl_cptr_t start_at(struct utest_ctx *t, const char *rip, hl_word_t arg, hl_cptr_t ep,
                          uint8_t prio)
{
	hl_cptr_t tcb = ut_thread_new(t, never_called, NULL, prio);
	hl_word_t rsp = 0;

	if (!tcb)
		return 0;
	hl_thread_read_regs(tcb, NULL, &rsp, NULL, NULL);
	if (hl_thread_write_regs(tcb, (hl_word_t)rip, rsp, arg, 0) ||
	    (ep && hl_thread_set_fault_ep(tcb, ep)) || hl_thread_resume(tcb))
		return 0;
	return tcb;
}

/* Receive one message on ep. The sender must already be queued (or be sure to come). */
static struct fault_msg receive(hl_cptr_t ep)
{
	struct fault_msg f = {0};
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	f.err = hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL);
	f.label = HL_MSG_LABEL(info);
	f.vec = m.w[HL_FAULT_VECTOR], f.error = m.w[HL_FAULT_ERROR], f.addr = m.w[HL_FAULT_ADDR],
	f.rip = m.w[HL_FAULT_RIP];
	return f;
}

/* Let the thread run until it waits on its fault endpoint (bounded), then take the fault. */
static struct fault_msg take_fault(struct utest_ctx *t, hl_cptr_t tcb, hl_cptr_t ep)
{
	for (int i = 0; i < 200 && ut_state_of(tcb) != ST_SEND; i++)
		hl_yield();
	if (!UCHECK(t, ut_state_of(tcb) == ST_SEND, "thread state %lu: no fault queued",
	            ut_state_of(tcb))) {
		struct fault_msg none = {-1, 0, 0, 0, 0, 0};
		return none;
	}
	return receive(ep);
}

static void reply_empty(void)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_REPLY, 0, &info, &m, NULL);
}

/* Run the stub on a fresh thread, take its fault, check vector and rip, then stop the thread. */
static struct fault_msg fault_and_stop(struct utest_ctx *t, const char *stub, hl_word_t arg,
                                       hl_word_t vec, const char *rip)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = start_at(t, stub, arg, ep, 100);
	struct fault_msg f = {-1, 0, 0, 0, 0, 0};

	if (!UCHECK(t, tcb && ep))
		return f;
	f = take_fault(t, tcb, ep);
	UEXPECT(t, f.err == HL_OK && f.label == HL_LABEL_FAULT, "err %ld label %#lx", f.err,
	        f.label);
	UEXPECT(t, f.vec == vec && f.rip == (hl_word_t)rip,
	        "vector %lu (want %lu) rip %#lx (want %p)", f.vec, vec, f.rip, (const void *)rip);
	UEXPECT(t, ut_state_of(tcb) == ST_REPLY, "state %lu", ut_state_of(tcb));
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
	UEXPECT(t, ut_state_of(tcb) == ST_INACTIVE);
	return f;
}

UTEST(fault, null_dereference_is_page_fault)
{
	struct fault_msg f = fault_and_stop(t, ft_null, 0, V_PF, ft_null);

	UEXPECT(t, f.addr == 0 && (f.error & 4) && !(f.error & 1), "addr %#lx error %#lx", f.addr,
	        f.error);
}

UTEST(fault, write_to_read_only_page)
{
	hl_cptr_t frame;
	volatile uint64_t *p = ut_page(t, &frame);

	if (!UCHECK(t, p))
		return;
	*p = 7;
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, frame, HL_R_READ), HL_OK);
	struct fault_msg f = fault_and_stop(t, ft_write, (hl_word_t)p, V_PF, ft_write);
	UEXPECT(t, f.addr == (hl_word_t)p && (f.error & 7) == 7, "addr %#lx error %#lx", f.addr,
	        f.error);
	UEXPECT(t, *p == 7, "the page changed to %lu", *p);
}

UTEST(fault, divide_by_zero)
{
	fault_and_stop(t, ft_div, 0, V_DE, ft_div_insn);
}

UTEST(fault, undefined_instruction)
{
	fault_and_stop(t, ft_ud, 0, V_UD, ft_ud);
}

UTEST(fault, hlt_is_general_protection)
{
	fault_and_stop(t, ft_hlt, 0, V_GP, ft_hlt);
}

UTEST(fault, cli_is_general_protection)
{
	fault_and_stop(t, ft_cli, 0, V_GP, ft_cli);
}

UTEST(fault, outb_without_iopl_is_general_protection)
{
	fault_and_stop(t, ft_out, 0, V_GP, ft_out_insn);
}

UTEST(fault, inb_without_iopl_is_general_protection)
{
	fault_and_stop(t, ft_in, 0, V_GP, ft_in_insn);
}

/* Pushing forever runs into the unmapped page below the thread's stack page. */
UTEST(fault, stack_overflow_hits_guard_page)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = start_at(t, ft_stack, 0, ep, 100);
	hl_word_t rsp = 0;

	if (!UCHECK(t, tcb && ep))
		return;
	struct fault_msg f = take_fault(t, tcb, ep);
	hl_thread_read_regs(tcb, NULL, &rsp, NULL, NULL);
	UEXPECT(t, f.vec == V_PF && f.rip == (hl_word_t)ft_stack, "vector %lu rip %#lx", f.vec,
	        f.rip);
	UEXPECT(t, f.addr % 4096 == 4096 - 8 && rsp % 4096 == 0 && f.addr == rsp - 8,
	        "addr %#lx rsp %#lx", f.addr, rsp);
	hl_thread_suspend(tcb);
}

/* The handler skips the faulting instruction with write_regs and replies: the thread goes on after
 * it. */
UTEST(fault, fix_by_write_regs_and_reply)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = start_at(t, ft_null, 0, ep, 100);
	hl_word_t rsp = 0;

	if (!UCHECK(t, tcb && ep))
		return;
	struct fault_msg f = take_fault(t, tcb, ep);
	UEXPECT(t, f.vec == V_PF && f.rip == (hl_word_t)ft_null);
	hl_thread_read_regs(tcb, NULL, &rsp, NULL, NULL);
	UEXPECT_ERR(t, hl_thread_write_regs(tcb, (hl_word_t)ft_null_after, rsp, 0, 0), HL_OK);
	reply_empty();
	f = take_fault(t, tcb, ep); /* the ud2 after the load */
	UEXPECT(t, f.vec == V_UD && f.rip == (hl_word_t)ft_null_after, "vector %lu rip %#lx", f.vec,
	        f.rip);
	hl_thread_suspend(tcb);
}

/*
 * A thread loads from an unmapped page; the handler maps a frame there and
 * replies (with reply, or with reply-and-receive that also takes the next
 * fault): the load runs again with every register as it was, so the stub
 * reaches its ud2 at ft_regs_ok.
 */
static void fix_by_mapping(struct utest_ctx *t, bool reply_recv)
{
	hl_cptr_t frame, copy = ut_slot(), ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	volatile uint64_t *p = ut_page(t, &frame);

	if (!UCHECK(t, p && ep))
		return;
	p[1] = 0x4242;                      /* the stub loads from hole + 8 */
	uint64_t hole = (uint64_t)p + 4096; /* ut_page leaves the next page unmapped */
	hl_cptr_t tcb = start_at(t, ft_regs, hole + 8, ep, 100);
	if (!UCHECK(t, tcb))
		return;
	struct fault_msg f = take_fault(t, tcb, ep);
	UEXPECT(t,
	        f.label == HL_LABEL_FAULT && f.vec == V_PF && f.addr == hole + 8 &&
	            f.rip == (hl_word_t)ft_regs_load,
	        "label %#lx vector %lu addr %#lx rip %#lx", f.label, f.vec, f.addr, f.rip);
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, copy, frame, HL_R_READ), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, copy, hole, HL_R_READ), HL_OK);
	if (reply_recv) { /* a simple message to a thread on this CPU: fastpath material */
		hl_word_t info = HL_MSGINFO(0, 4, 0), badge;
		struct hl_msg m = {{1, 2, 3, 4}};
		f.err = hl_syscall(HL_SYS_REPLY_RECV, ep, &info, &m, &badge);
		f.label = HL_MSG_LABEL(info);
		f.vec = m.w[HL_FAULT_VECTOR], f.rip = m.w[HL_FAULT_RIP];
	} else {
		reply_empty();
		f = take_fault(t, tcb, ep);
	}
	UEXPECT(t,
	        f.err == HL_OK && f.label == HL_LABEL_FAULT && f.vec == V_UD &&
	            f.rip == (hl_word_t)ft_regs_ok,
	        "err %ld label %#lx vector %lu rip %#lx (ok %p bad %p)", f.err, f.label, f.vec,
	        f.rip, (const void *)ft_regs_ok, (const void *)ft_regs_bad);
	hl_thread_suspend(tcb);
}

/*
 * Bug fixed: a fault message taken by a handler that was not yet waiting
 * carried the thread's registers instead of vector, error, address and rip.
 * Bug fixed: the handler's reply overwrote the faulting thread's rax, rdi,
 * rsi, rdx, r8, r9 and r10 with the reply message.
 */
UTEST(fault, fix_by_mapping_reruns_instruction_with_registers_intact)
{
	fix_by_mapping(t, false);
}

/*
 * Bug fixed: a handler answering with reply-and-receive went through the
 * IPC fastpath, which wrote the reply message into the faulting thread's
 * registers (the slow path had been fixed, the fastpath not).
 */
UTEST(fault, reply_recv_fastpath_keeps_registers)
{
	fix_by_mapping(t, true);
}

/* The handler already waits when the fault happens: the message goes straight to it. */
UTEST(fault, waiting_handler_gets_fault_at_once)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = start_at(t, ft_ud, 0, ep, 50);

	if (!UCHECK(t, tcb && ep))
		return;
	struct fault_msg f = receive(ep); /* the lower-priority thread runs only now */
	UEXPECT(t,
	        f.err == HL_OK && f.label == HL_LABEL_FAULT && f.vec == V_UD &&
	            f.rip == (hl_word_t)ft_ud,
	        "err %ld label %#lx vector %lu rip %#lx", f.err, f.label, f.vec, f.rip);
	hl_thread_suspend(tcb);
}

UTEST(fault, stopped_thread_cannot_be_replied_to)
{
	fault_and_stop(t, ft_ud, 0, V_UD, ft_ud);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	UEXPECT_ERR(t, hl_syscall(HL_SYS_REPLY, 0, &info, &m, NULL), HL_ERR_NO_REPLY);
}

/* No fault endpoint: the thread stops in TS_FAULTED (the kernel logs a warning) and all else goes
 * on. */
UTEST(fault, no_handler_stops_the_thread)
{
	hl_cptr_t tcb = start_at(t, ft_ud, 0, 0, 100);
	hl_word_t rip = 0;

	if (!UCHECK(t, tcb))
		return;
	for (int i = 0; i < 200 && ut_state_of(tcb) != ST_FAULTED; i++)
		hl_yield();
	UEXPECT(t, ut_state_of(tcb) == ST_FAULTED, "state %lu", ut_state_of(tcb));
	hl_thread_read_regs(tcb, &rip, NULL, NULL, NULL);
	UEXPECT(t, rip == (hl_word_t)ft_ud, "rip %#lx", rip);
	/* Resumed, it runs the same instruction and stops again. */
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	for (int i = 0; i < 200 && ut_state_of(tcb) != ST_FAULTED; i++)
		hl_yield();
	UEXPECT(t, ut_state_of(tcb) == ST_FAULTED, "state %lu", ut_state_of(tcb));
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, tcb), HL_OK);
}
