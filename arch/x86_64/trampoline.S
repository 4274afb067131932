/*
 * Application-processor start-up code, copied to physical TRAMP_PHYS
 * (a page below 1 MiB) and entered in real mode by the startup IPI with
 * CS:IP = TRAMP_PHYS>>4 : 0. It goes real -> protected -> long mode with
 * the kernel's page tables (whose top level must be below 4 GiB; the
 * trampoline page is identity mapped while APs start) and jumps to
 *     void smp_ap_entry(struct cpu *c)
 * on the stack given in the parameter block, which smp.c fills before each
 * start: at offset TR_PARAMS, cr3 (8), stack (8), cpu (8), entry (8),
 * efer (8).
 */
#define TRAMP_PHYS 0x8000
#define ABS(x) (TRAMP_PHYS + (x) - tramp_start)

	.section .rodata
	.global tramp_start, tramp_end, tramp_gdt, tramp_gdt_ptr
	.balign 16
	.code16
tramp_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl ABS(tramp_gdt_ptr)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $ABS(tramp32)

	.code32
tramp32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl ABS(tramp_params), %eax	/* cr3 (low 32 bits) */
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	movl ABS(tramp_params + 32), %eax	/* EFER: LME | NXE as on the BSP */
	xorl %edx, %edx
	wrmsr
	movl %cr0, %eax
	orl $0x80010001, %eax
	movl %eax, %cr0
	ljmpl $0x18, $ABS(tramp64)

	.code64
tramp64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movq ABS(tramp_params + 8), %rsp
	movq ABS(tramp_params + 16), %rdi
	movq ABS(tramp_params + 24), %rax
	xorl %ebp, %ebp
	jmp *%rax

	.balign 8
	/*
	 * Accessed bits preset: the CPU would otherwise write them when
	 * loading 0x18 after paging is on, and the trampoline page is mapped
	 * read-only (a #PF, then a triple fault, on CPUs that check).
	 */
tramp_gdt:
	.quad 0
	.quad 0x00cf9b000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf93000000ffff	/* 0x10: data */
	.quad 0x00af9b000000ffff	/* 0x18: 64-bit code */
tramp_gdt_ptr:
	.short tramp_gdt_ptr - tramp_gdt - 1
	.long ABS(tramp_gdt)
	.balign 8
	.global tramp_params
tramp_params:
	.skip 40
tramp_end:
