/*
 * User contexts and preemption upcalls in ring 3 (user/rt/uctx.S, user/rt/upcall.c).
 *
 * A struct uctx is a whole user context: every general register, rip, rsp,
 * rflags and the x87/SSE state (FXSAVE image). uctx_resume() switches to
 * one without a system call. A thread with an upcall (thread.set_upcall,
 * docs/scheduling.md) is entered at rt_upcall_entry when its quantum runs
 * out: that saves the FPU state into page->cur (the context that was
 * running, if the program keeps it there) and calls page->fn(page) on the
 * handler stack with upcalls masked; page->a holds the interrupted
 * registers. The handler picks a context and resumes it with
 * uctx_resume(c, &page->a.masked), which unmasks as its last step.
 * AVX upper halves are not saved: code run under upcalls uses SSE at most.
 */
#ifndef HALLOWS_UCTX_H
#define HALLOWS_UCTX_H

#include <hallows/abi.h>

struct uctx {
	hl_word_t rax, rbx, rcx, rdx, rsi, rdi, rbp;    /* 0 .. 48 */
	hl_word_t r8, r9, r10, r11, r12, r13, r14, r15; /* 56 .. 112 */
	hl_word_t rip, rsp, rflags;                     /* 120 .. 136 */
	hl_word_t pad[2];
	uint8_t fpu[512] __attribute__((aligned(16))); /* 160: FXSAVE image */
};
_Static_assert(__builtin_offsetof(struct uctx, rip) == 120, "uctx.S: uctx layout");
_Static_assert(__builtin_offsetof(struct uctx, rflags) == 136, "uctx.S: uctx layout");
_Static_assert(__builtin_offsetof(struct uctx, fpu) == 160, "uctx.S: uctx layout");

/* The upcall page: the kernel's area, then the runtime's words. */
struct rt_upcall_page {
	struct hl_upcall_area a;                 /* 0: written by the kernel */
	void (*fn)(struct rt_upcall_page *page); /* 192: the handler; must not return */
	struct uctx *cur;                        /* 200: where the entry saves the FPU state */
	void *user;                              /* 208: for the handler */
};
_Static_assert(__builtin_offsetof(struct rt_upcall_page, fn) == 192, "uctx.S: upcall page");
_Static_assert(__builtin_offsetof(struct rt_upcall_page, cur) == 200, "uctx.S: upcall page");

__attribute__((noreturn)) void uctx_resume(const struct uctx *c, volatile uint32_t *unmask);
void uctx_fpu_save(void *fxsave_image);
/* Like setjmp: 0 now, 1 when c is resumed (callee-saved registers, rsp, flags, x87/SSE kept). */
__attribute__((returns_twice)) int uctx_save(struct uctx *c);
/* Call fn(arg) on the stack ending at stack_top (16-byte aligned); fn must not return. */
__attribute__((noreturn)) void uctx_run_on(void *stack_top, void (*fn)(void *), void *arg);
void rt_upcall_entry(void); /* entry points in uctx.S, not called from C */
void uctx_start(void);

/* Make c start fn(arg) on the stack ending at stack_top; when fn returns, exit() runs there. */
void uctx_make(struct uctx *c, void *stack_top, void (*fn)(void *), void *arg, void (*exit)(void));
/* c takes the interrupted registers from the upcall area (the FPU state is already in c when
 * c was page->cur). */
void uctx_from_area(struct uctx *c, const struct hl_upcall_area *a);

/*
 * Give thread tcb upcalls every quantum_ns (>= HL_UPCALL_MIN_NS) into page,
 * a page mapped read-write at its own address whose frame capability is
 * frame; the handler fn runs on the stack ending at stack_top (page->cur and
 * page->user are the caller's to set, before or after). Returns the
 * error of thread.set_upcall.
 */
long rt_upcall_attach(hl_cptr_t tcb, hl_cptr_t frame, struct rt_upcall_page *page, void *stack_top,
                      void (*fn)(struct rt_upcall_page *), uint64_t quantum_ns);

#endif
