/* The big kernel lock (the TLB shootdown it answers while spinning is arch_tlb_shootdown,
 * arch/x86_64/tlb.c). */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <kernel/bkl.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>

volatile uint32_t bkl_word;
volatile int32_t bkl_owner = -1;

/* The lock was taken: spin until it is ours, answering TLB shootdowns meanwhile. */
void bkl_lock_slow(void)
{
	kassert(!(read_rflags() & (1u << 9)));
	do {
		while (__atomic_load_n(&bkl_word, __ATOMIC_RELAXED)) {
			arch_tlb_poll();
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
