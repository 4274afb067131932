/*
 * Ring 3 <-> ring 0 transitions.
 *
 * syscall_entry: LSTAR target. The CPU has put the user RIP in %rcx and
 * RFLAGS in %r11, cleared IF (FMASK), and left %rsp as the user's.
 *   HL_SYS_NULL is answered here: count it in gs:40 and return, except
 *   for a thread with linux_abi set (rax = 0 is Linux's read).
 *   Otherwise every user register is saved into the current thread
 *   (struct user_regs at offset 0 of struct thread, gs:24), the per-CPU
 *   kernel stack (gs:16) is loaded, and
 *       void syscall_dispatch(struct thread *t)
 *   runs; it never returns (it leaves through sched_exit_to_user). It is
 *   called through syscall_dispatch_fn, which the command-line word
 *   "checkinv" points at the invariant checks (kernel/invariants.c): an
 *   indirect call is one instruction like a direct one, so the checks cost
 *   nothing without the word.
 *
 * void arch_return_to_user(struct thread *t): restore t's registers and
 * enter ring 3: with sysretq when t entered through syscall (RCX and R11
 * are then lost, as the ABI allows), otherwise with iretq restoring every
 * register. Called with the big kernel lock held; it sets gs:48 (in_user)
 * and releases the lock only after its last read of t: another CPU that
 * takes the lock may destroy t and reuse its memory at once
 * (kernel/thread.c, thread_destroy, waits for in_user to fall back to 0
 * before it lets that happen). x86 never moves a store before an earlier
 * load, so the plain stores below are a release. sysretq needs a canonical RIP: a saved RIP is always below
 * USER_TOP (thread_write_regs checks, the CPU gives canonical ones) and the
 * return address of a syscall is canonical because the page under USER_TOP
 * is never mapped (kernel/aspace.c, user_range()). Interrupts are enabled by the restored
 * RFLAGS. Never returns.
 */
#include <arch/trap.h>
#include <kernel/thread_layout.h>

/* Load the registers both exits restore from the thread at %rax. */
.macro restore_common
	movq R_RBX(%rax), %rbx
	movq R_RDX(%rax), %rdx
	movq R_RSI(%rax), %rsi
	movq R_RDI(%rax), %rdi
	movq R_RBP(%rax), %rbp
	movq R_R8(%rax), %r8
	movq R_R9(%rax), %r9
	movq R_R10(%rax), %r10
	movq R_R12(%rax), %r12
	movq R_R13(%rax), %r13
	movq R_R14(%rax), %r14
	movq R_R15(%rax), %r15
.endm

/* Leaving for ring 3 with every read of the thread done (see arch_return_to_user). */
.macro leave_kernel
	movl $1, %gs:48
	movl $-1, bkl_owner(%rip)
	movl $0, bkl_word(%rip)
.endm

	.text
	.global syscall_entry
	.balign 16
syscall_entry:
	testq %rax, %rax
	jnz 1f
	swapgs				/* HL_SYS_NULL: a real entry, counted */
	movq %gs:24, %rax		/* ... unless the thread is a Linux one (0 = read) */
	cmpb $0, T_LINUX_ABI(%rax)
	jne 3f
	xorl %eax, %eax
	incq %gs:40
	swapgs
	sysretq
3:	xorl %eax, %eax
	jmp 4f
1:	swapgs
4:	movq %rax, %gs:32
	movq %gs:24, %rax
	movq %rbx, R_RBX(%rax)
	movq %rdx, R_RDX(%rax)
	movq %rsi, R_RSI(%rax)
	movq %rdi, R_RDI(%rax)
	movq %rbp, R_RBP(%rax)
	movq %r8, R_R8(%rax)
	movq %r9, R_R9(%rax)
	movq %r10, R_R10(%rax)
	movq %r12, R_R12(%rax)
	movq %r13, R_R13(%rax)
	movq %r14, R_R14(%rax)
	movq %r15, R_R15(%rax)
	movq %rcx, R_RIP(%rax)
	movq %r11, R_RFLAGS(%rax)
	movq %rsp, R_RSP(%rax)
	movq %gs:32, %rcx
	movq %rcx, R_RAX(%rax)
	movb $0, T_FULL_RESTORE(%rax)
	incq %gs:40
	movl $0, %gs:48			/* in_user: done with the thread's memory until the lock */
	movq %gs:16, %rsp
	xorl %ebp, %ebp
	movq %rax, %rdi
	call *syscall_dispatch_fn(%rip)
	ud2

	.global arch_return_to_user
arch_return_to_user:
	movq %rdi, %rax
	cmpb $0, T_FULL_RESTORE(%rax)
	jne 2f
	movq R_RIP(%rax), %rcx
	movq R_RFLAGS(%rax), %r11
	restore_common
	movq R_RSP(%rax), %rsp
	movq R_RAX(%rax), %rax
	leave_kernel
	swapgs
	sysretq

2:	/* Full restore through an iret frame on the kernel stack. */
	movq %gs:16, %rsp
	pushq $(SEG_UDATA | 3)
	pushq R_RSP(%rax)
	pushq R_RFLAGS(%rax)
	pushq $(SEG_UCODE | 3)
	pushq R_RIP(%rax)
	restore_common
	movq R_RCX(%rax), %rcx
	movq R_R11(%rax), %r11
	movq R_RAX(%rax), %rax
	leave_kernel
	swapgs
	iretq
