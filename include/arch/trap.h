/* Trap frames, the IDT and interrupt dispatch (arch/x86_64/trap.c, entry.S). */
#ifndef ARCH_TRAP_H
#define ARCH_TRAP_H

#ifndef __ASSEMBLER__
#include <kernel/types.h>

/* Layout pushed by entry.S; offsets in bytes are used by the assembly. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8; /* 0 .. 56 */
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;    /* 64 .. 112 */
	uint64_t vector, error;                        /* 120, 128 */
	uint64_t rip, cs, rflags, rsp, ss;             /* 136 .. 168: pushed by the CPU */
};
_Static_assert(sizeof(struct trap_frame) == 176, "entry.S frame layout");
#endif

#define SEG_KCODE 0x08
#define SEG_KDATA 0x10
#define SEG_UDATA 0x18
#define SEG_UCODE 0x20
#define SEG_TSS   0x28

#define VEC_NMI         2
#define VEC_DF          8
#define VEC_PF          14
#define VEC_MC          18
#define VEC_IRQ_BASE    32   /* IOAPIC GSIs start here */
#define VEC_IOMMU_FAULT 0xee /* VT-d fault events (arch/x86_64/vtd.c) */
#define VEC_TIMER       0xf0
#define VEC_IPI_CALL    0xf1
#define VEC_IPI_HALT    0xf2
#define VEC_TLB         0xf3
#define VEC_RESCHED     0xf4
#define VEC_SPURIOUS    0xff

#ifndef __ASSEMBLER__
typedef void (*irq_handler_t)(struct trap_frame *tf);

/* Load this CPU's GDT, TSS (with IST stacks) and the shared IDT. */
void trap_init_cpu(void);
void irq_register(uint8_t vector, irq_handler_t h);
/* Every interrupt and exception, from trap_common (entry.S) with tf on the stack. */
void trap_dispatch(struct trap_frame *tf);
/* SYSCALL/SYSRET on this CPU: entry point, segments (STAR) and the flags masked on entry. */
void syscall_init_cpu(void);

/*
 * Recoverable kernel faults for tests: while armed on this CPU, an
 * exception resumes at the fault_catch() call site with its return value
 * set to vector + 1 instead of panicking.
 */
struct fault_catch {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip; /* offsets used by entry.S */
	uint64_t vector, error, cr2;
};
/* entry.S (fault_catch, fault_resume) saves and restores at these offsets. */
_Static_assert(__builtin_offsetof(struct fault_catch, rbx) == 0, "entry.S: fault_catch.rbx");
_Static_assert(__builtin_offsetof(struct fault_catch, r15) == 40, "entry.S: fault_catch.r15");
_Static_assert(__builtin_offsetof(struct fault_catch, rsp) == 48, "entry.S: fault_catch.rsp");
_Static_assert(__builtin_offsetof(struct fault_catch, rip) == 56, "entry.S: fault_catch.rip");
int fault_catch(struct fault_catch *fc); /* 0 when armed, vector+1 after a fault */
void fault_catch_arm(struct fault_catch *fc);
void fault_catch_disarm(void);
/* Resume at the armed fault_catch() call site, which returns val (entry.S). */
__noreturn void fault_resume(struct fault_catch *fc, int val);
#endif

#endif
