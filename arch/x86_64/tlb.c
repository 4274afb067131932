/*
 * TLB shootdown by IPI (arch_tlb_shootdown, include/arch/arch.h). The
 * sender holds the BKL, so every other CPU is in ring 3, idle, or spinning
 * for the lock, where it polls flush_req (arch_tlb_poll()).
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/percpu.h>
#include <kernel/vm.h>

struct aspace *volatile arch_tlb_dying;

/* Out of line here: called from two places, and the shootdown's loops stay short. */
static __attribute__((noinline)) void flush_local_ack(void)
{
	arch_tlb_ack();
}

static void tlb_ipi(struct trap_frame *tf)
{
	(void)tf;
	flush_local_ack();
}

/*
 * A CPU that keeps translations of as under its PCID without having it
 * loaded forgets that it does: its next load of as flushes the PCID (see
 * arch_aspace_load()).
 */
void arch_tlb_shootdown(struct aspace *as, bool destroy)
{
	static bool registered;
	struct cpu *me = this_cpu();

	arch_tlb_dying = destroy ? as : NULL;
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
	arch_tlb_dying = NULL;
}
