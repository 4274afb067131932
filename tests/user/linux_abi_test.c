/*
 * Ring-3 suite "linux_abi": a thread marked with thread.set_linux sends
 * every `syscall` instruction to its fault endpoint as a call labelled
 * HL_LABEL_LINUX_SYSCALL (words: rax, rdi, rsi, rdx, r10, r8, r9, rip,
 * rsp); the reply's word 0 becomes its rax. Whatever rax holds, the call is
 * never a Hallows call: not HL_SYS_NULL (rax = 0, answered in the entry
 * code for other threads), not the debug console, not an invocation.
 */
#include "utest.h"

#include <lib/string.h>

enum { ST_INACTIVE = 0, ST_SEND = 2, ST_REPLY = 4, ST_FAULTED = 6 };

/*
 * lx_stub(rdi = pointer to 3 result words): three syscalls with the
 * registers of HL_SYS_NULL, HL_SYS_DEBUG_PUTS on the debug slot and
 * HL_SYS_CALL on the own thread slot; stores each rax, then ud2.
 */
__asm__(".pushsection .text\n"
        ".globl lx_stub, lx_after0, lx_done\n"
        "lx_stub: movq %rdi, %rbx\n"
        " xorl %eax, %eax\n movq $0x11, %rdi\n movq $0x22, %rsi\n movq $0x33, %rdx\n"
        " movq $0x44, %r10\n movq $0x55, %r8\n movq $0x66, %r9\n"
        " syscall\n"
        "lx_after0: movq %rax, (%rbx)\n"
        " movq $9, %rax\n movq $6, %rdi\n movq $5, %rsi\n leaq lx_secret(%rip), %rdx\n"
        " syscall\n movq %rax, 8(%rbx)\n"
        " movq $1, %rax\n movq $1, %rdi\n movq $0x50000, %rsi\n"
        " syscall\n movq %rax, 16(%rbx)\n"
        "lx_done: ud2\n"
        "lx_secret: .ascii \"LEAK!\"\n"
        ".popsection\n");
extern const char lx_stub[], lx_after0[], lx_done[];

static void never_called(void *arg)
{
	(void)arg;
}

/* What a test sets on its Linux thread before it runs: an answer (thread.set_linux_answer). */
struct lx_setup {
	int answer; /* 0: none, 1: an answer for nr, 2: one set and then turned off,
	               3: one set, then set_linux(0) and set_linux(1) */
	hl_word_t nr, value;
};

static long setup_answer(hl_cptr_t tcb, const struct lx_setup *s)
{
	long err = s && s->answer ? hl_thread_set_linux_answer(tcb, 1, s->nr, s->value) : HL_OK;

	if (!err && s && s->answer == 2)
		err = hl_thread_set_linux_answer(tcb, 0, 0, 0);
	if (!err && s && s->answer == 3)
		err =
		    hl_thread_set_linux(tcb, 0) ? HL_ERR_INVALID_ARG : hl_thread_set_linux(tcb, 1);
	return err;
}

/* A Linux-marked thread at lx_stub(results) with fault endpoint ep (0: none), set up as s says
 * (NULL: nothing more), resumed. */
static hl_cptr_t start_linux_as(struct utest_ctx *t, uint64_t *results, hl_cptr_t ep,
                                const struct lx_setup *s)
{
	hl_cptr_t tcb = ut_thread_new(t, never_called, NULL, 100);
	hl_word_t rsp = 0;

	if (!tcb)
		return 0;
	hl_thread_read_regs(tcb, NULL, &rsp, NULL, NULL);
	if (hl_thread_write_regs(tcb, (hl_word_t)lx_stub, rsp, (hl_word_t)results, 0) ||
	    (ep && hl_thread_set_fault_ep(tcb, ep)) || hl_thread_set_linux(tcb, 1) ||
	    setup_answer(tcb, s) || hl_thread_resume(tcb))
		return 0;
	return tcb;
}

static hl_cptr_t start_linux(struct utest_ctx *t, uint64_t *results, hl_cptr_t ep)
{
	return start_linux_as(t, results, ep, NULL);
}

static bool wait_state(hl_cptr_t tcb, hl_word_t st)
{
	for (int i = 0; i < 200 && ut_state_of(tcb) != st; i++)
		hl_yield();
	return ut_state_of(tcb) == st;
}

UTEST(linux_abi, syscall_arrives_with_registers_and_reply_sets_rax)
{
	static uint64_t res[3];
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = ep ? start_linux(t, res, ep) : 0;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	struct hl_ipc_buffer *ib = hl_ipcbuf();

	if (!UCHECK(t, tcb) || !UCHECK(t, wait_state(tcb, ST_SEND), "state %lu", ut_state_of(tcb)))
		return;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	UEXPECT(t,
	        HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL && HL_MSG_LEN(info) == HL_LINUX_WORDS,
	        "info %#lx", info);
	UEXPECT(t,
	        m.w[HL_LINUX_NR] == 0 && m.w[HL_LINUX_A0] == 0x11 && m.w[HL_LINUX_A1] == 0x22 &&
	            m.w[HL_LINUX_A2] == 0x33,
	        "words %#lx %#lx %#lx %#lx", m.w[0], m.w[1], m.w[2], m.w[3]);
	UEXPECT(t,
	        ib->mr[HL_LINUX_A3] == 0x44 && ib->mr[HL_LINUX_A4] == 0x55 &&
	            ib->mr[HL_LINUX_A5] == 0x66 && ib->mr[HL_LINUX_RIP] == (hl_word_t)lx_after0 &&
	            ib->mr[HL_LINUX_RSP] != 0,
	        "words 4.. %#lx %#lx %#lx rip %#lx", ib->mr[4], ib->mr[5], ib->mr[6], ib->mr[7]);
	UEXPECT(t, ut_state_of(tcb) == ST_REPLY, "state %lu", ut_state_of(tcb));
	for (int call = 0; call < 3; call++) {
		m.w[0] = 0x7770 + (hl_word_t)call;
		info = HL_MSGINFO(0, 1, 0);
		/* Reply and take the next call (the debug-console and invocation registers). */
		UEXPECT_ERR(t, hl_syscall(HL_SYS_REPLY_RECV, ep, &info, &m, NULL), HL_OK);
		hl_word_t want = call == 0 ? 9 : 1;
		if (call < 2)
			UEXPECT(t, HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL && m.w[0] == want,
			        "call %d: label %#lx nr %lu", call, HL_MSG_LABEL(info), m.w[0]);
	}
	/* The third reply resumed it into ud2: an ordinary fault message. */
	UEXPECT(t, HL_MSG_LABEL(info) == HL_LABEL_FAULT && m.w[HL_FAULT_RIP] == (hl_word_t)lx_done,
	        "label %#lx rip %#lx", HL_MSG_LABEL(info), m.w[HL_FAULT_RIP]);
	UEXPECT(t, res[0] == 0x7770 && res[1] == 0x7771 && res[2] == 0x7772,
	        "rax after the calls: %#lx %#lx %#lx", res[0], res[1], res[2]);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
}

UTEST(linux_abi, no_fault_endpoint_stops_the_thread)
{
	static uint64_t res[3] = {0xdead, 0xdead, 0xdead};
	hl_cptr_t tcb = start_linux(t, res, 0);

	if (!UCHECK(t, tcb))
		return;
	UEXPECT(t, wait_state(tcb, ST_FAULTED), "state %lu", ut_state_of(tcb));
	UEXPECT(t, res[0] == 0xdead, "the call returned %#lx", res[0]);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
}

UTEST(linux_abi, set_linux_and_set_fs_base_check_arguments)
{
	hl_cptr_t tcb = ut_thread_new(t, never_called, NULL, 100);

	if (!UCHECK(t, tcb))
		return;
	UEXPECT_ERR(t, hl_thread_set_linux(tcb, 2), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_thread_set_linux(tcb, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_fs_base(tcb, 0x800000000000ull), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_thread_set_fs_base(tcb, ~0ull), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_thread_set_fs_base(tcb, 0x7000000000ull), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_linux(HL_SLOT_CSPACE, 1), HL_ERR_ILLEGAL_OP);
}

/*
 * The three calls of lx_stub (rax 0, 9, 1) with the answer s set up: each
 * that reaches ep is answered 0x7770 + its index. Returns how many reached
 * it, the numbers in nrs[]; res[] gets the three results.
 */
static int serve_stub(struct utest_ctx *t, const struct lx_setup *s, uint64_t res[3],
                      hl_word_t nrs[3])
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0),
	          tcb = ep ? start_linux_as(t, res, ep, s) : 0;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	int n = 0;

	if (!UCHECK(t, tcb))
		return -1;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	while (HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL && n < 3) {
		nrs[n] = m.w[HL_LINUX_NR];
		m.w[0] = 0x7770 + (hl_word_t)n++;
		info = HL_MSGINFO(0, 1, 0);
		UEXPECT_ERR(t, hl_syscall(HL_SYS_REPLY_RECV, ep, &info, &m, NULL), HL_OK);
	}
	/* The last reply resumed it into ud2: an ordinary fault message. */
	UEXPECT(t, HL_MSG_LABEL(info) == HL_LABEL_FAULT && m.w[HL_FAULT_RIP] == (hl_word_t)lx_done,
	        "label %#lx rip %#lx", HL_MSG_LABEL(info), m.w[HL_FAULT_RIP]);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
	return n;
}

UTEST(linux_abi, set_linux_answer_returns_at_once_for_its_number_only)
{
	static uint64_t res[3];
	hl_word_t nrs[3] = {0};
	const struct lx_setup s = {1, 9, 0x4242};

	/* Call 9 never reaches the server: the kernel answers it; 0 and 1 do. */
	int n = serve_stub(t, &s, res, nrs);
	UEXPECT(t, n == 2 && nrs[0] == 0 && nrs[1] == 1, "%d calls reached the server: %lu %lu", n,
	        nrs[0], nrs[1]);
	UEXPECT(t, res[0] == 0x7770 && res[1] == 0x4242 && res[2] == 0x7771,
	        "rax after the calls: %#lx %#lx %#lx", res[0], res[1], res[2]);
}

UTEST(linux_abi, set_linux_answer_off_and_set_linux_0_send_the_call_again)
{
	for (int how = 2; how <= 3; how++) {
		static uint64_t res[3];
		hl_word_t nrs[3] = {0};
		const struct lx_setup s = {how, 9, 0x4242};
		int n = serve_stub(t, &s, res, nrs);
		UEXPECT(t, n == 3 && nrs[1] == 9,
		        "setup %d: %d calls reached the server, the second %lu", how, n, nrs[1]);
		UEXPECT(t, res[1] == 0x7771, "setup %d: call 9 returned %#lx", how, res[1]);
	}
}

UTEST(linux_abi, set_linux_answer_checks_arguments)
{
	hl_cptr_t tcb = ut_thread_new(t, never_called, NULL, 100);

	if (!UCHECK(t, tcb))
		return;
	UEXPECT_ERR(t, hl_thread_set_linux_answer(tcb, 1, 39, 7),
	            HL_ERR_ILLEGAL_OP); /* not Linux */
	UEXPECT_ERR(t, hl_thread_set_linux(tcb, 1), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_linux_answer(tcb, 2, 39, 7), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_thread_set_linux_answer(tcb, 1, 39, 7), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_linux_answer(tcb, 0, 0, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_linux_answer(HL_SLOT_CSPACE, 1, 39, 7), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_thread_set_linux(tcb, 0), HL_OK);
}

/* thread.linux_reply: the server takes a call, answers it later from its thread capability. */
UTEST(linux_abi, linux_reply_ends_a_call_the_server_did_not_answer)
{
	static uint64_t res[3];
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = ep ? start_linux(t, res, ep) : 0;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, tcb))
		return;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	UEXPECT(t, m.w[HL_LINUX_NR] == 0, "first call %lu", m.w[HL_LINUX_NR]);
	/* Deferred: no reply; the call ends from the thread capability. */
	UEXPECT_ERR(t, hl_thread_linux_reply(tcb, 0x5150), HL_OK);
	UEXPECT_ERR(t, hl_thread_linux_reply(tcb, 0x5151), HL_ERR_NO_REPLY); /* answered already */
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	UEXPECT(t, HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL && m.w[HL_LINUX_NR] == 9,
	        "label %#lx nr %lu", HL_MSG_LABEL(info), m.w[HL_LINUX_NR]);
	UEXPECT(t, res[0] == 0x5150, "the deferred call returned %#lx", res[0]);
	/* A thread suspended while it waits (a killed process): nothing to reply to. */
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
	UEXPECT_ERR(t, hl_thread_linux_reply(tcb, 0x5152), HL_ERR_NO_REPLY);
	UEXPECT(t, res[1] == 0, "the suspended call returned %#lx", res[1]);
}

UTEST(linux_abi, linux_reply_checks_the_thread)
{
	hl_cptr_t tcb = ut_thread_new(t, never_called, NULL, 100);

	if (!UCHECK(t, tcb))
		return;
	UEXPECT_ERR(t, hl_thread_linux_reply(tcb, 1), HL_ERR_ILLEGAL_OP); /* not a Linux thread */
	UEXPECT_ERR(t, hl_thread_set_linux(tcb, 1), HL_OK);
	UEXPECT_ERR(t, hl_thread_linux_reply(tcb, 1), HL_ERR_NO_REPLY); /* in no call */
	UEXPECT_ERR(t, hl_thread_linux_reply(HL_SLOT_CSPACE, 1), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_thread_set_linux(tcb, 0), HL_OK);
}

/*
 * HL_SYS_LINUX_REPLY_RECV: the server ends one Linux call it deferred
 * (thread.linux_reply on the thread in r10, value r8) and answers its
 * caller (rdx) in the same call, then receives the next message.
 */
UTEST(linux_abi, linux_reply_recv_ends_a_deferred_call_and_answers_the_caller)
{
	static uint64_t ra[3], rb[3];
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), a = ep ? start_linux(t, ra, ep) : 0;
	hl_word_t info = 0, badge = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, a))
		return;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK); /* a's first call */
	hl_cptr_t b = start_linux(t, rb, ep);
	if (!UCHECK(t, b))
		return;
	/* a's call is deferred: take b's first call (a keeps waiting for its reply). */
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	UEXPECT(t, ut_state_of(a) == ST_REPLY && ut_state_of(b) == ST_REPLY, "states %lu %lu",
	        ut_state_of(a), ut_state_of(b));
	m.w[0] = 0xb0b, m.w[1] = a, m.w[2] = 0xaaa;
	info = HL_MSGINFO(0, 1, 0);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_LINUX_REPLY_RECV, ep, &info, &m, &badge), HL_OK);
	/* Both went on to their second call (the debug-console registers): one is in hand (the
	 * scheduler decides whose), the other waits to be received. */
	UEXPECT(t, HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL && m.w[HL_LINUX_NR] == 9,
	        "label %#lx nr %lu", HL_MSG_LABEL(info), m.w[HL_LINUX_NR]);
	bool a_taken = ut_state_of(a) == ST_REPLY;
	UEXPECT(t, wait_state(a_taken ? b : a, ST_SEND) && ut_state_of(a_taken ? a : b) == ST_REPLY,
	        "states %lu %lu", ut_state_of(a), ut_state_of(b));
	UEXPECT(t, ra[0] == 0xaaa && rb[0] == 0xb0b, "a got %#lx, b got %#lx", ra[0], rb[0]);
	UEXPECT_ERR(t, hl_thread_suspend(a), HL_OK);
	UEXPECT_ERR(t, hl_thread_suspend(b), HL_OK);
}

/* Its errors come before anything is done: the deferred call still waits, no receive. */
UTEST(linux_abi, linux_reply_recv_checks_before_it_replies)
{
	static uint64_t res[3];
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = ep ? start_linux(t, res, ep) : 0;
	hl_cptr_t plain = ut_thread_new(t, never_called, NULL, 100);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, tcb && plain))
		return;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	struct {
		hl_cptr_t ep, thread;
		hl_word_t info;
		long err;
	} bad[] = {
	    {ep, tcb, HL_MSGINFO(0, 2, 0), HL_ERR_INVALID_ARG},  /* a reply of two words */
	    {ep, tcb, HL_MSGINFO(0, 1, 1), HL_ERR_INVALID_ARG},  /* with a capability */
	    {ep, ep, HL_MSGINFO(0, 1, 0), HL_ERR_WRONG_TYPE},    /* r10 not a thread */
	    {ep, 4000, HL_MSGINFO(0, 1, 0), HL_ERR_INVALID_CAP}, /* r10 out of range */
	    {ep, plain, HL_MSGINFO(0, 1, 0), HL_ERR_ILLEGAL_OP}, /* not a Linux thread */
	    {tcb, tcb, HL_MSGINFO(0, 1, 0), HL_ERR_WRONG_TYPE},  /* rdi not an endpoint */
	    {HL_SLOT_CSPACE, tcb, HL_MSGINFO(0, 1, 0), HL_ERR_WRONG_TYPE},
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		info = bad[i].info;
		m.w[0] = 1, m.w[1] = bad[i].thread, m.w[2] = 0x99;
		UEXPECT(t,
		        hl_syscall(HL_SYS_LINUX_REPLY_RECV, bad[i].ep, &info, &m, NULL) ==
		            bad[i].err,
		        "case %u: not refused with %ld", i, bad[i].err);
	}
	UEXPECT(t, ut_state_of(tcb) == ST_REPLY && res[0] == 0, "state %lu, rax %#lx",
	        ut_state_of(tcb), res[0]);
	/* Still deferred: the method ends it; then it is in no call (HL_ERR_NO_REPLY). */
	UEXPECT_ERR(t, hl_thread_linux_reply(tcb, 0x5150), HL_OK);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	UEXPECT(t, res[0] == 0x5150, "the deferred call returned %#lx", res[0]);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
	info = HL_MSGINFO(0, 1, 0);
	m.w[1] = tcb;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_LINUX_REPLY_RECV, ep, &info, &m, NULL), HL_ERR_NO_REPLY);
}

/*
 * thread.reset (the Linux personality reuses an ended process's thread for the next one):
 * rs_fill(rdi = 32 pattern bytes, rsi = AVX usable) puts the pattern in rbx, rbp, r12-r15,
 * xmm7 (and ymm3's upper half), then ud2; rs_dump(rdi = 96 bytes, rsi = AVX usable) stores
 * them back (rbx, rbp, r12-r15, xmm7, ymm3), then ud2.
 */
__asm__(".pushsection .text\n"
        ".globl rs_fill, rs_dump\n"
        "rs_fill: movq (%rdi), %rbx\n movq %rbx, %rbp\n movq %rbx, %r12\n movq %rbx, %r13\n"
        " movq %rbx, %r14\n movq %rbx, %r15\n movdqu (%rdi), %xmm7\n"
        " testq %rsi, %rsi\n jz 1f\n vmovdqu (%rdi), %ymm3\n"
        "1: ud2\n"
        "rs_dump: movq %rbx, (%rdi)\n movq %rbp, 8(%rdi)\n movq %r12, 16(%rdi)\n"
        " movq %r13, 24(%rdi)\n movq %r14, 32(%rdi)\n movq %r15, 40(%rdi)\n"
        " movdqu %xmm7, 48(%rdi)\n"
        " testq %rsi, %rsi\n jz 2f\n vmovdqu %ymm3, 64(%rdi)\n"
        "2: ud2\n"
        ".popsection\n");
extern const char rs_fill[], rs_dump[];

/* Whether the kernel lets threads use AVX (CPUID's AVX and OSXSAVE, XCR0's SSE and AVX). */
static bool avx_usable(void)
{
	uint32_t a, b, c, d, lo, hi;

	__asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return false;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

/* Run tcb from rip with rdi, rsi until its ud2: the fault message's rip, or 0. */
static hl_word_t run_to_ud2(struct utest_ctx *t, hl_cptr_t tcb, hl_cptr_t ep, const char *rip,
                            hl_word_t rsp, void *rdi, hl_word_t rsi)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	if (hl_thread_write_regs(tcb, (hl_word_t)rip, rsp, (hl_word_t)rdi, rsi) ||
	    hl_thread_resume(tcb) || hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL))
		return 0;
	UEXPECT(t, HL_MSG_LABEL(info) == HL_LABEL_FAULT && m.w[HL_FAULT_VECTOR] == 6,
	        "label %#lx vector %lu", HL_MSG_LABEL(info), m.w[HL_FAULT_VECTOR]);
	return m.w[HL_FAULT_RIP];
}

UTEST(linux_abi, reset_gives_a_stopped_thread_a_new_threads_registers)
{
	static uint64_t pat[4] = {0x5ec2e7, 0x5ec2e8, 0x5ec2e9, 0x5ec2ea}, out[12];
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	hl_cptr_t tcb = ep ? ut_thread_new(t, never_called, NULL, 100) : 0;
	hl_word_t rsp = 0, rip = 1, st = 1, g[4], ns = 1;
	bool avx = avx_usable();

	if (!UCHECK(t, tcb) || !UCHECK(t, hl_thread_set_fault_ep(tcb, ep) == HL_OK))
		return;
	hl_thread_read_regs(tcb, NULL, &rsp, NULL, NULL);
	UEXPECT(t, run_to_ud2(t, tcb, ep, rs_fill, rsp, pat, avx) != 0, "rs_fill did not fault");
	/* Waiting in its fault call: reset stops it there, and says what CPU time it had. */
	hl_word_t had = 0;
	UEXPECT_ERR(t, hl_thread_reset(tcb, &had), HL_OK);
	UEXPECT(t, had > 0, "CPU time before reset: %lu ns", had);
	hl_thread_read_regs(tcb, &rip, &rsp, NULL, &st);
	UEXPECT(t, rip == 0 && st == ST_INACTIVE, "rip %#lx state %lu after reset", rip, st);
	for (hl_word_t grp = 0; grp < 4; grp++) {
		UEXPECT_ERR(t, hl_thread_read_gprs(tcb, grp, &g[0], &g[1], &g[2], &g[3]), HL_OK);
		UEXPECT(t, !g[0] && !g[1] && !g[2] && !g[3], "group %lu: %#lx %#lx %#lx %#lx", grp,
		        g[0], g[1], g[2], g[3]);
	}
	UEXPECT_ERR(t, hl_thread_read_cputime(tcb, &ns), HL_OK);
	UEXPECT(t, ns == 0, "CPU time %lu ns after reset", ns);
	/* What the next run sees: zero, in the vector registers too. */
	memset(out, 0xa5, sizeof(out));
	UEXPECT(t, run_to_ud2(t, tcb, ep, rs_dump, (hl_word_t)&pat[0], out, avx) != 0,
	        "rs_dump did not fault"); /* (it touches no stack) */
	for (int i = 0; i < (avx ? 12 : 8); i++)
		UEXPECT(t, out[i] == 0, "word %d after reset: %#lx (AVX %d)", i, out[i], avx);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
}

UTEST(linux_abi, reset_ends_a_linux_call_and_turns_the_answer_off)
{
	static uint64_t res[3];
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = ep ? start_linux(t, res, ep) : 0;
	hl_word_t info = 0, st = 1;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, tcb))
		return;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_linux_answer(tcb, 1, 9, 0x4242), HL_OK);
	UEXPECT_ERR(t, hl_thread_reset(tcb, NULL), HL_OK); /* taken, not answered: the call goes */
	UEXPECT_ERR(t, hl_thread_linux_reply(tcb, 1), HL_ERR_NO_REPLY);
	hl_thread_read_regs(tcb, NULL, NULL, NULL, &st);
	UEXPECT(t, st == ST_INACTIVE, "state %lu after reset", st);
	/* Started again at lx_stub: its call 9 reaches the server (the answer is off). */
	hl_word_t rsp = 0;
	hl_thread_read_regs(tcb, NULL, &rsp, NULL, NULL);
	UEXPECT(t, rsp == 0, "rsp %#lx after reset", rsp);
	static uint64_t stack[512];
	UEXPECT_ERR(t,
	            hl_thread_write_regs(tcb, (hl_word_t)lx_stub, (hl_word_t)&stack[500],
	                                 (hl_word_t)res, 0),
	            HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	hl_word_t nrs[3] = {0};
	int n = 0;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	while (HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL && n < 3) {
		nrs[n++] = m.w[HL_LINUX_NR];
		m.w[0] = 0;
		info = HL_MSGINFO(0, 1, 0);
		UEXPECT_ERR(t, hl_syscall(HL_SYS_REPLY_RECV, ep, &info, &m, NULL), HL_OK);
	}
	UEXPECT(t, n == 3 && nrs[0] == 0 && nrs[1] == 9 && nrs[2] == 1, "%d calls: %lu %lu %lu", n,
	        nrs[0], nrs[1], nrs[2]);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
}

UTEST(linux_abi, reset_checks_the_thread)
{
	hl_cptr_t tcb = ut_thread_new(t, never_called, NULL, 100);
	hl_word_t st = 1;

	if (!UCHECK(t, tcb))
		return;
	UEXPECT_ERR(t, hl_thread_reset(HL_SLOT_THREAD, NULL), HL_ERR_ILLEGAL_OP); /* itself */
	UEXPECT_ERR(t, hl_thread_reset(HL_SLOT_CSPACE, NULL), HL_ERR_ILLEGAL_OP); /* not a thread */
	UEXPECT_ERR(t, hl_thread_reset(tcb, NULL), HL_OK); /* never run: nothing to stop */
	UEXPECT_ERR(t, hl_thread_reset(tcb, NULL), HL_OK);
	hl_cptr_t run = ut_thread_new(t, never_called, NULL, 1); /* below this test: not run */
	if (!UCHECK(t, run))
		return;
	UEXPECT_ERR(t, hl_thread_resume(run), HL_OK);
	UEXPECT_ERR(t, hl_thread_reset(run, NULL), HL_OK); /* runnable: stopped */
	hl_thread_read_regs(run, NULL, NULL, NULL, &st);
	UEXPECT(t, st == ST_INACTIVE, "state %lu of the runnable thread after reset", st);
}
