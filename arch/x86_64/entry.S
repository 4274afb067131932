/*
 * Exception and interrupt entry.
 *
 * isr_stubs: 256 stubs, 16 bytes apart; stub n pushes a zero error code
 * when the CPU does not, then n, then jumps to trap_common.
 * trap_common: saves the general registers into a struct trap_frame
 * (include/arch/trap.h), calls void trap_dispatch(struct trap_frame *) with
 * the stack 16-byte aligned, restores and returns with iretq. GS is swapped
 * when the trap came from ring 3.
 *
 * int fault_catch(struct fault_catch *fc): like setjmp; returns 0, or
 * vector+1 when fault_resume() jumps back.
 * void fault_resume(struct fault_catch *fc, int val): like longjmp.
 */
	.text
	.altmacro
.macro isr vec
	.balign 16
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp trap_common
.endm

	.balign 16
	.global isr_stubs
isr_stubs:
	.set i, 0
	.rept 256
	isr %i
	.set i, i + 1
	.endr

trap_common:
	testb $3, 24(%rsp)		/* CS of the interrupted context */
	jz 1f
	swapgs
1:	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	movq %rsp, %rdi
	movq %rsp, %rbx
	andq $-16, %rsp
	call trap_dispatch
	movq %rbx, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	testb $3, 24(%rsp)
	jz 2f
	swapgs
2:	addq $16, %rsp
	iretq

	.global fault_catch
fault_catch:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)
	movq (%rsp), %rax
	movq %rax, 56(%rdi)
	xorl %eax, %eax
	ret

	.global fault_resume
fault_resume:
	movl %esi, %eax
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	jmp *56(%rdi)
