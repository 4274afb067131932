/* Big kernel lock and TLB shootdown. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/aspace.h>
#include <kernel/bkl.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/vm.h>

volatile uint32_t bkl_word;
volatile int32_t bkl_owner = -1;

static struct aspace *volatile dying; /* [BKL] address space being destroyed */

/* Drop cached translations; leave an address space that is going away. */
static void flush_local_ack(void)
{
	struct cpu *c = this_cpu();

	if (dying && c->loaded_aspace == dying) {
		c->loaded_aspace = NULL;
		write_cr3(kernel_pml4); /* its user code now faults into the kernel */
		c->need_resched = true;
	} else {
		write_cr3(read_cr3());
	}
	__atomic_store_n(&c->flush_req, 0, __ATOMIC_RELEASE);
}

/* The lock was taken: spin until it is ours, answering TLB shootdowns meanwhile. */
void bkl_lock_slow(void)
{
	kassert(!(read_rflags() & (1u << 9)));
	do {
		while (__atomic_load_n(&bkl_word, __ATOMIC_RELAXED)) {
			if (this_cpu()->flush_req)
				flush_local_ack();
			cpu_relax();
		}
	} while (__atomic_exchange_n(&bkl_word, 1, __ATOMIC_ACQUIRE));
}

void bkl_unlock_bad(void)
{
	panic("bkl_unlock on cpu %u: the lock is held by cpu %d", cpu_index(), (int)bkl_owner);
}

bool bkl_held(void)
{
	return bkl_word && bkl_owner == (int32_t)cpu_index();
}

static void tlb_ipi(struct trap_frame *tf)
{
	(void)tf;
	flush_local_ack();
}

/*
 * Make every CPU that has as loaded drop its translations; waits for them.
 * Called with the BKL held, so the others are in ring 3, idle, or waiting
 * for the lock (where they poll flush_req). A CPU that keeps translations
 * of as under its PCID without having it loaded forgets that it does: its
 * next load of as flushes the PCID (see load_aspace()).
 */
void tlb_shootdown(struct aspace *as, bool destroy)
{
	static bool registered;
	struct cpu *me = this_cpu();

	dying = destroy ? as : NULL;
	if (!registered) {
		irq_register(VEC_TLB, tlb_ipi);
		registered = true;
	}
	uint32_t pcid = as->cr3 & 0xfff;
	for (uint32_t i = 0; i < ncpus_online; i++) {
		struct cpu *c = &cpus[i];
		if (pcid && c->pcid_owner[pcid] == as->id && c->loaded_aspace != as)
			c->pcid_owner[pcid] = 0;
		if (c == me || c->loaded_aspace != as)
			continue;
		__atomic_store_n(&c->flush_req, 1, __ATOMIC_RELEASE);
		lapic_send_ipi(c->apic_id, VEC_TLB);
	}
	if (me->loaded_aspace == as) {
		__atomic_store_n(&me->flush_req, 1, __ATOMIC_RELEASE);
		flush_local_ack();
	}
	for (uint32_t i = 0; i < ncpus_online; i++)
		for (uint64_t spin = 0; cpus[i].flush_req && spin < 1000000000ull; spin++)
			cpu_relax();
	dying = NULL;
}
