/*
 * Per-CPU data, reached through the GS base (gs:0 holds a self pointer).
 * Offsets are fixed for assembly: see the static asserts in kernel/percpu.c.
 */
#ifndef KERNEL_PERCPU_H
#define KERNEL_PERCPU_H

#include <arch/cpu.h>
#include <kernel/types.h>

#define MAX_CPUS   64
#define PCID_COUNT 256 /* PCIDs in use: 0 for the kernel tables, 1-255 shared by address spaces */

struct thread;
struct aspace;

struct cpu {
	struct cpu *self;       /* [I] 0: gs:0 */
	uint32_t index;         /* [I] 8: dense CPU number, 0 = BSP */
	uint32_t apic_id;       /* [I] 12 */
	uint64_t kstack_top;    /* [I] 16 */
	struct thread *current; /* [c] 24: the thread whose registers user mode holds */
	uint64_t scratch;       /* [c] 32: syscall entry scratch */
	uint64_t nsyscalls;     /* [c] 40: system calls entered on this CPU */
	/*
	 * [a] 48: 1 from the last read of current's registers on the way out to
	 * ring 3 (arch_return_to_user) until the next kernel entry from ring 3
	 * has saved them (syscall_entry) or entered the trap path (user_trap).
	 * While it is 1 this CPU may still store into current's memory, so
	 * thread_destroy waits for 0 before the thread's memory can be reused.
	 */
	volatile uint32_t in_user;
	volatile bool online; /* [a] set once the CPU runs kernel code */
	uint32_t irq_depth;   /* [c] */
	void *tss;            /* [I] */
	/* Cross-CPU call mailbox, see smp_call(). */
	void (*volatile call_fn)(void *arg); /* [a] */
	void *volatile call_arg;             /* [a] */
	volatile uint32_t call_done;         /* [a] */
	volatile uint64_t ipi_count;         /* [a] IPIs handled */
	volatile uint64_t timer_ticks;       /* [a] LAPIC timer interrupts */
	struct aspace *loaded_aspace;        /* [c] address space in CR3 (NULL = kernel only) */
	volatile uint32_t flush_req;         /* [a] TLB shootdown requested, cleared when done */
	volatile bool need_resched;          /* [a] */
	/* [BKL] pcid_owner[p]: id of the address space whose translations PCID p may hold here (0:
	 * none). */
	uint64_t pcid_owner[PCID_COUNT];
};

extern struct cpu cpus[MAX_CPUS];
extern uint32_t ncpus_online;

static inline struct cpu *this_cpu(void)
{
	return gs_self();
}

/*
 * Not volatile: kernel code never changes CPU (no kernel preemption), so
 * repeated reads may be merged. percpu_init_cpu() is the first call on
 * each CPU, before anything asks.
 */
static inline uint32_t cpu_index(void)
{
	return gs_cpu_index(); /* this_cpu()->index in one load */
}

void percpu_init_cpu(struct cpu *c);

#endif
