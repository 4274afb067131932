/*
 * void _start(struct hl_bootinfo *bi)  -- ring-3 entry of programs.
 * The root task enters with %rdi = boot info and %rsp = top of its stack
 * minus 8 (as after a call). Calls rt_start(bi), which never returns.
 */
	.text
	.global _start
_start:
	xorl %ebp, %ebp
	andq $-16, %rsp
	call rt_start
	ud2
	.section .note.GNU-stack, "", @progbits
