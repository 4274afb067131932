/*
 * void _start(struct hl_bootinfo *bi, struct hl_partinfo *pi)  -- ring-3 entry of programs.
 * A program enters with %rdi = boot info, %rsi = its partition info page
 * (HL_PARTINFO_VADDR) when the root task started it from the manifest
 * (anything else otherwise: rt_start checks), and %rsp = top of its stack
 * minus 8 (as after a call). Calls rt_start(bi, pi), which never returns.
 */
	.text
	.global _start
_start:
	xorl %ebp, %ebp
	andq $-16, %rsp
	call rt_start
	ud2
	.section .note.GNU-stack, "", @progbits
