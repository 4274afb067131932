/* GDT, TSS, IDT and trap dispatch; fatal-fault reports. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/power.h>
#include <kernel/smp.h>
#include <kernel/snapshot.h>
#include <kernel/bkl.h>
#include <kernel/thread.h>
#include <kernel/vm.h>
#include <lib/string.h>

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __packed;
_Static_assert(sizeof(struct tss) == 104, "TSS layout");

struct idt_entry {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, zero;
} __packed;

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __packed;

struct cpu_tables {
	uint64_t gdt[7];
	struct tss tss;
};

extern char isr_stubs[];

static struct idt_entry idt[256] __aligned(16);
static struct cpu_tables tables[MAX_CPUS];
static irq_handler_t handlers[256];
static struct fault_catch *catchers[MAX_CPUS];

static const char *const exc_names[32] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved",
    "#MF x87 error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD error",
    "#VE virtualization",
    "#CP control protection",
};

static void idt_set(int vec, int ist)
{
	uint64_t a = (uint64_t)isr_stubs + 16 * vec;

	idt[vec] = (struct idt_entry){
	    (uint16_t)a,         SEG_KCODE, (uint8_t)ist, 0x8e, (uint16_t)(a >> 16),
	    (uint32_t)(a >> 32), 0};
}

static void idt_build(void)
{
	for (int v = 0; v < 256; v++)
		idt_set(v, 0);
	idt_set(VEC_NMI, 1);
	idt_set(VEC_DF, 2);
	idt_set(VEC_MC, 3);
}

/* Per-CPU GDT with a TSS carrying three IST stacks (NMI, #DF, #MC). */
void trap_init_cpu(void)
{
	struct cpu *c = this_cpu();
	struct cpu_tables *t = &tables[c->index];

	if (c->index == 0)
		idt_build();
	t->gdt[0] = 0;
	t->gdt[1] = 0x00af9a000000ffff; /* kernel code, L */
	t->gdt[2] = 0x00cf92000000ffff; /* kernel data */
	t->gdt[3] = 0x00cff2000000ffff; /* user data, DPL 3 */
	t->gdt[4] = 0x00affa000000ffff; /* user code, L, DPL 3 */
	for (int i = 0; i < 3; i++) {
		vaddr_t top = vm_alloc_kstack(IST_SIZE);
		if (!top)
			panic("trap: no memory for IST stacks");
		t->tss.ist[i] = top;
	}
	t->tss.rsp[0] = c->kstack_top;
	t->tss.iomap_base = sizeof(struct tss);
	uint64_t base = (uint64_t)&t->tss, lim = sizeof(struct tss) - 1;
	t->gdt[5] =
	    (lim & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 | ((base >> 24) & 0xff) << 56;
	t->gdt[6] = base >> 32;
	c->tss = &t->tss;

	struct desc_ptr g = {sizeof(t->gdt) - 1, (uint64_t)t->gdt};
	struct desc_ptr i = {sizeof(idt) - 1, (uint64_t)idt};
	__asm__ volatile("lgdt %0\n\t"
	                 "pushq %1\n\t"
	                 "leaq 1f(%%rip), %%rax\n\t"
	                 "pushq %%rax\n\t"
	                 "lretq\n"
	                 "1:\n\t"
	                 "mov %2, %%ds\n\t"
	                 "mov %2, %%es\n\t"
	                 "mov %2, %%ss\n\t"
	                 "ltr %w3\n\t"
	                 "lidt %4"
	                 :
	                 : "m"(g), "i"((uint64_t)SEG_KCODE), "r"(SEG_KDATA), "r"(SEG_TSS), "m"(i)
	                 : "rax", "memory");
}

void irq_register(uint8_t vector, irq_handler_t h)
{
	handlers[vector] = h;
}

void fault_catch_arm(struct fault_catch *fc)
{
	catchers[cpu_index()] = fc;
}

void fault_catch_disarm(void)
{
	catchers[cpu_index()] = NULL;
}

static void dump_frame(const struct trap_frame *tf)
{
	const char *name =
	    tf->vector < 32 && exc_names[tf->vector] ? exc_names[tf->vector] : "interrupt";

	kprintf("\n*** FATAL: %s (vector %lu) on cpu %u, error code %#lx\n", name, tf->vector,
	        cpu_index(), tf->error);
	kprintf("RIP %04lx:%016lx RFLAGS %016lx CR2 %016lx\n", tf->cs, tf->rip, tf->rflags,
	        read_cr2());
	kprintf("RSP %04lx:%016lx CR3 %016lx\n", tf->ss, tf->rsp, read_cr3());
	kprintf("RAX %016lx RBX %016lx RCX %016lx RDX %016lx\n", tf->rax, tf->rbx, tf->rcx,
	        tf->rdx);
	kprintf("RSI %016lx RDI %016lx RBP %016lx R8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
	kprintf("R9  %016lx R10 %016lx R11 %016lx R12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
	kprintf("R13 %016lx R14 %016lx R15 %016lx\n", tf->r13, tf->r14, tf->r15);
}

/* An exception nobody handles: report it and stop the machine. */
static __noreturn void fatal_trap(struct trap_frame *tf)
{
	klog_panicking = true;
	dump_frame(tf);
	backtrace_from(tf->rip, tf->rbp);
	smp_halt_others();
	power_test_exit(3);
	for (;;)
		cpu_halt();
}

/* Save the interrupted user registers into the current thread. */
static struct thread *save_user(const struct trap_frame *tf)
{
	struct thread *t = this_cpu()->current;
	struct user_regs *r = &t->regs;

	r->rax = tf->rax, r->rbx = tf->rbx, r->rcx = tf->rcx, r->rdx = tf->rdx;
	r->rsi = tf->rsi, r->rdi = tf->rdi, r->rbp = tf->rbp;
	r->r8 = tf->r8, r->r9 = tf->r9, r->r10 = tf->r10, r->r11 = tf->r11;
	r->r12 = tf->r12, r->r13 = tf->r13, r->r14 = tf->r14, r->r15 = tf->r15;
	r->rip = tf->rip, r->rsp = tf->rsp, r->rflags = tf->rflags;
	t->full_restore = 1;
	return t;
}

/* Vectors handled without the big kernel lock: they touch only this CPU. */
static bool lockless(uint8_t v)
{
	return v == VEC_TLB || v == VEC_IPI_HALT || v == VEC_IPI_CALL || v == VEC_SPURIOUS ||
	       v == VEC_NMI;
}

/* A trap from ring 3: faults go to the thread's handler; then schedule. */
static __noreturn void user_trap(struct trap_frame *tf, uint8_t v)
{
	this_cpu()->in_user = 0; /* the registers are in tf, not in the thread (see struct cpu) */
	bkl_lock();
	struct thread *t = save_user(tf);
	int snap = v == VEC_PF ? snapshot_write_fault(t, read_cr2(), tf->error) : SNAP_FAULT_NONE;
	if (snap == SNAP_FAULT_OOM) {
		thread_fault(t, HL_FAULT_SNAPSHOT, HL_ERR_NO_MEMORY, read_cr2());
	} else if (snap == SNAP_FAULT_FIXED) {
		/* a snapshot's copy-on-write: the write runs again */
	} else if (v < 32) {
		thread_fault(t, v, tf->error, v == VEC_PF ? read_cr2() : 0);
	} else {
		if (handlers[v])
			handlers[v](tf);
		lapic_eoi();
	}
	sched_exit_to_user();
}

void trap_dispatch(struct trap_frame *tf)
{
	uint8_t v = (uint8_t)tf->vector;

	if ((tf->cs & 3) && !lockless(v))
		user_trap(tf, v);
	/*
	 * An NMI or machine check can hit the first instructions of
	 * syscall_entry, before swapgs: ring 0 with the user's GS. Fix GS so
	 * the report can use per-CPU data (all such traps end the machine).
	 */
	if (v < 32 && !(tf->cs & 3) && (int64_t)rdmsr(MSR_GS_BASE) >= 0)
		__asm__ volatile("swapgs");
	if (v < 32) {
		struct fault_catch *fc = catchers[cpu_index()];
		if (fc && v != VEC_NMI && v != VEC_MC && !(tf->cs & 3)) {
			catchers[cpu_index()] = NULL;
			fc->vector = v;
			fc->error = tf->error;
			fc->cr2 = read_cr2();
			if (tf->rflags & (1u << 9))
				irq_enable();
			fault_resume(fc, v + 1);
		}
		fatal_trap(tf);
	}
	/* In ring 0 interrupts are only on in the idle loop and boot code,
	 * neither of which holds the big kernel lock. */
	bool lock = !lockless(v) && !bkl_held();
	if (lock)
		bkl_lock();
	if (handlers[v])
		handlers[v](tf);
	else if (v != VEC_SPURIOUS)
		klog(KLOG_WARN, "trap: unexpected interrupt vector %u on cpu %u", v, cpu_index());
	if (v != VEC_SPURIOUS)
		lapic_eoi();
	if (lock)
		bkl_unlock();
}

/* SYSCALL/SYSRET: entry point, segments (STAR) and the flags masked on entry. */
void syscall_init_cpu(void)
{
	extern char syscall_entry[];

	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1); /* SCE */
	/* SYSRET: CS = 0x10 + 16 | 3 = SEG_UCODE, SS = 0x10 + 8 | 3 = SEG_UDATA. */
	wrmsr(MSR_STAR, (uint64_t)(SEG_KDATA) << 48 | (uint64_t)SEG_KCODE << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, 0x47700); /* IF TF DF AC NT IOPL cleared on entry */
}
