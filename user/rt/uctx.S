/*
 * User contexts and the preemption-upcall entry (user/rt/include/hallows/uctx.h).
 *
 * struct uctx: 18 words rax rbx rcx rdx rsi rdi rbp r8..r15 rip rsp rflags at 0..136
 * (the order of struct hl_upcall_area), then the FXSAVE image at UCTX_FPU (160).
 *
 * __noreturn void uctx_resume(const struct uctx *c, volatile uint32_t *unmask)
 *   Loads c's x87/SSE state and every register and jumps to c->rip with
 *   c->rflags, without a system call. Stores 0 to *unmask (when not NULL)
 *   as late as it can: after it, only registers and the 24 bytes it wrote
 *   just below c's red zone (c->rsp - 152 .. c->rsp - 128) are used, so an
 *   upcall arriving there saves a context that this same function resumes
 *   correctly later.
 *
 * void uctx_fpu_save(void *fxsave_image)  -- fxsave64 of the current state.
 *
 * int uctx_save(struct uctx *c)  -- like setjmp: returns 0; returns 1 again
 *   when uctx_resume(c) runs later (only the callee-saved registers, rsp,
 *   rflags and the x87/SSE state are kept, as the ABI allows).
 *
 * __noreturn void uctx_run_on(void *stack_top, void (*fn)(void *), void *arg)
 *   calls fn(arg) on another stack.
 *
 * uctx_start: where uctx_make() starts a context: calls %rsi(%rdi), then
 *   %rbx (the exit function, which must not return).
 *
 * rt_upcall_entry: the handler thread.set_upcall names (rt_upcall_setup).
 *   The kernel enters with %rdi = the upcall page (struct rt_upcall_page),
 *   %rsp = its handler_sp (16-byte aligned), FPU state live. Saves that
 *   state into page->cur's FXSAVE image (when page->cur is set), then calls
 *   page->fn(page), which must not return.
 */
#define UCTX_RAX    0
#define UCTX_RBX    8
#define UCTX_RCX    16
#define UCTX_RDX    24
#define UCTX_RSI    32
#define UCTX_RDI    40
#define UCTX_RBP    48
#define UCTX_R8     56
#define UCTX_R15    112
#define UCTX_RIP    120
#define UCTX_RSP    128
#define UCTX_RFLAGS 136
#define UCTX_FPU    160
#define PAGE_FN     192	/* struct rt_upcall_page.fn */
#define PAGE_CUR    200	/* struct rt_upcall_page.cur */

	.text
	.global uctx_resume
	.balign 16
uctx_resume:
	fxrstor64 UCTX_FPU(%rdi)
	movq UCTX_RSP(%rdi), %rax
	subq $152, %rax			/* slots under the 128-byte red zone */
	movq UCTX_RAX(%rdi), %rcx
	movq %rcx, 0(%rax)
	movq UCTX_RFLAGS(%rdi), %rcx
	movq %rcx, 8(%rax)
	movq UCTX_RIP(%rdi), %rcx
	movq %rcx, 16(%rax)
	movq %rax, %rsp
	movq %rsi, %rax
	movq UCTX_RBX(%rdi), %rbx
	movq UCTX_RCX(%rdi), %rcx
	movq UCTX_RDX(%rdi), %rdx
	movq UCTX_RSI(%rdi), %rsi
	movq UCTX_RBP(%rdi), %rbp
	movq UCTX_R8(%rdi), %r8
	movq UCTX_R8+8(%rdi), %r9
	movq UCTX_R8+16(%rdi), %r10
	movq UCTX_R8+24(%rdi), %r11
	movq UCTX_R8+32(%rdi), %r12
	movq UCTX_R8+40(%rdi), %r13
	movq UCTX_R8+48(%rdi), %r14
	movq UCTX_R15(%rdi), %r15
	movq UCTX_RDI(%rdi), %rdi
	testq %rax, %rax
	jz 1f
	movl $0, (%rax)			/* unmask: upcalls may come from here on */
1:	popq %rax
	popfq
	retq $128

	.global uctx_fpu_save
uctx_fpu_save:
	fxsave64 (%rdi)
	ret

	.global uctx_save
uctx_save:
	movq %rbx, UCTX_RBX(%rdi)
	movq %rbp, UCTX_RBP(%rdi)
	movq %r12, UCTX_R8+32(%rdi)
	movq %r13, UCTX_R8+40(%rdi)
	movq %r14, UCTX_R8+48(%rdi)
	movq %r15, UCTX_R15(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, UCTX_RSP(%rdi)
	movq (%rsp), %rax
	movq %rax, UCTX_RIP(%rdi)
	movq $1, UCTX_RAX(%rdi)
	pushfq
	popq %rax
	movq %rax, UCTX_RFLAGS(%rdi)
	fxsave64 UCTX_FPU(%rdi)
	xorl %eax, %eax
	ret

	.global uctx_run_on
uctx_run_on:
	movq %rdi, %rsp
	movq %rdx, %rdi
	call *%rsi
	ud2

	.global uctx_start
uctx_start:
	call *%rsi
	call *%rbx
	ud2

	.global rt_upcall_entry
	.balign 16
rt_upcall_entry:
	movq PAGE_CUR(%rdi), %rax
	testq %rax, %rax
	jz 1f
	fxsave64 UCTX_FPU(%rax)
1:	call *PAGE_FN(%rdi)
	ud2
	.section .note.GNU-stack, "", @progbits
