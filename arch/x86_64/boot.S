/*
 * Boot entry: PVH and Multiboot2 into long mode.
 *
 * void boot_pvh(void)  32-bit protected mode, paging off, %ebx = physical
 *                      address of struct hvm_start_info (PVH ABI).
 * void boot_mb2(void)  32-bit protected mode, paging off, %eax = 0x36d76289,
 *                      %ebx = physical address of the Multiboot2 info.
 *
 * Both build boot page tables that map the first 4 GiB three times
 * (identity, HHDM_BASE and, for the first GiB, KERNEL_VBASE) with 2 MiB
 * pages, enter long mode, move to the higher half and call
 *     void kmain(uint32_t boot_kind, uint64_t info_phys)
 * on the boot stack. kmain never returns. The identity map is dropped once
 * vm_init() builds the final kernel page tables.
 */
#include <kernel/layout.h>

#define V2P(x) ((x) - KERNEL_VBASE)
#define MB2_MAGIC  0xe85250d6
#define MB2_BOOTED 0x36d76289

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long 0				/* i386 */
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + (mb2_header_end - mb2_header))
	.balign 8			/* entry address tag (type 3) */
	.short 3, 0
	.long 12
	.long V2P(boot_mb2)
	.balign 8			/* console flags (type 4): EGA text ok */
	.short 4, 1
	.long 12
	.long 2
	.balign 8			/* end tag */
	.short 0, 0
	.long 8
mb2_header_end:

	/* PVH entry note: XEN_ELFNOTE_PHYS32_ENTRY (18). */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 8, 18
	.asciz "Xen"
	.balign 4
	.quad V2P(boot_pvh)
	.balign 4

	.section .text.boot, "ax"
	.code32
	.global boot_pvh
boot_pvh:
	movl $1, V2P(boot_kind)
	movl %ebx, V2P(boot_info_phys)
	jmp boot_common32

	.global boot_mb2
boot_mb2:
	cmpl $MB2_BOOTED, %eax
	jne boot_fail32
	movl $2, V2P(boot_kind)
	movl %ebx, V2P(boot_info_phys)

boot_common32:
	cli
	cld
	rdtsc				/* kernel entry time, for the boot benchmark */
	movl %eax, V2P(boot_entry_tsc)
	movl %edx, V2P(boot_entry_tsc) + 4
	movl $V2P(boot_stack_top), %esp
	/* Long mode present? Remember CPUID 0x80000001 EDX (NX = bit 20) in %ebp. */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb boot_fail32
	movl $0x80000001, %eax
	cpuid
	testl $(1 << 29), %edx
	jz boot_fail32
	movl %edx, %ebp

	/* Zero the seven boot page-table pages. */
	movl $V2P(boot_pml4), %edi
	movl $(7 * 4096 / 4), %ecx
	xorl %eax, %eax
	rep stosl

	/* 2048 PD entries: identity 2 MiB pages for 0..4 GiB (P|W|PS). */
	movl $V2P(boot_pd), %edi
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax
	movl %eax, (%edi, %ecx, 8)
	incl %ecx
	cmpl $2048, %ecx
	jb 1b

	movl $V2P(boot_pdpt_lo), %edi
	movl $(V2P(boot_pd) + 3), %eax
	movl %eax, 0(%edi)
	addl $4096, %eax
	movl %eax, 8(%edi)
	addl $4096, %eax
	movl %eax, 16(%edi)
	addl $4096, %eax
	movl %eax, 24(%edi)
	movl $V2P(boot_pdpt_hi), %edi
	movl $(V2P(boot_pd) + 3), 510 * 8(%edi)
	movl $V2P(boot_pml4), %edi
	movl $(V2P(boot_pdpt_lo) + 3), 0(%edi)
	movl $(V2P(boot_pdpt_lo) + 3), 256 * 8(%edi)
	movl $(V2P(boot_pdpt_hi) + 3), 511 * 8(%edi)
	movl %edi, %cr3

	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx		/* EFER: LME, and NXE when CPUID says NX */
	rdmsr
	orl $0x100, %eax
	testl $(1 << 20), %ebp
	jz 2f
	orl $0x800, %eax
2:	wrmsr
	movl %cr0, %eax
	orl $0x80010001, %eax		/* PG | WP | PE */
	movl %eax, %cr0
	lgdt V2P(boot_gdt_ptr)
	ljmp $0x08, $V2P(boot_long64)

boot_fail32:
	/* No long mode or a bad loader: say so on COM1 and stop. */
	movl $V2P(boot_fail_msg), %esi
3:	lodsb
	testb %al, %al
	jz 4f
	movw $0x3f8, %dx
	outb %al, %dx
	jmp 3b
4:	cli
	hlt
	jmp 4b

	.code64
boot_long64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $boot_high64, %rax
	jmp *%rax

	.section .rodata.boot, "a"
boot_fail_msg:
	.asciz "hallows: fatal: CPU lacks long mode or unknown boot loader\r\n"
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00209a0000000000	/* 0x08: 64-bit code */
	.quad 0x0000920000000000	/* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long V2P(boot_gdt)

	.text
boot_high64:
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	movl boot_kind(%rip), %edi
	movl boot_info_phys(%rip), %esi
	call kmain
5:	cli
	hlt
	jmp 5b

	.data
	.global boot_kind, boot_info_phys, boot_entry_tsc
boot_kind:	.long 0
boot_info_phys:	.long 0
	.balign 8
boot_entry_tsc:	.quad 0

	/* Boot page tables and the boot stack, page aligned. */
	.section .bss.boot, "aw", @nobits
	.balign 4096
	.global boot_pml4
boot_pml4:	.skip 4096
boot_pdpt_lo:	.skip 4096
boot_pdpt_hi:	.skip 4096
boot_pd:	.skip 4 * 4096
	.global boot_stack_guard, boot_stack_top
boot_stack_guard:
	.skip 4096			/* unmapped by vm_init() */
boot_stack:
	.skip KSTACK_SIZE
boot_stack_top:
