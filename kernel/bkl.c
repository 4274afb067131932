/* The big kernel lock (the TLB shootdown it answers while spinning is arch_tlb_shootdown,
 * arch/x86_64/tlb.c). */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <kernel/bkl.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>

volatile uint32_t bkl_word, bkl_waiters;
volatile int32_t bkl_owner = -1, bkl_last = -1;

/* How long the last holder lets waiters go first (a waiter's vCPU may be descheduled by its host).
 */
#define BKL_POLITE_SPINS 4096

/*
 * The lock is taken, or we held it last and others wait: let one of them have it first, then spin
 * until it is ours, answering TLB shootdowns meanwhile.
 */
void bkl_lock_slow(void)
{
	int32_t me = (int32_t)cpu_index();

	kassert(!(read_rflags() & (1u << 9)));
	__atomic_fetch_add(&bkl_waiters, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < BKL_POLITE_SPINS && bkl_last == me && bkl_waiters > 1; i++) {
		arch_tlb_poll();
		cpu_relax();
	}
	do {
		while (__atomic_load_n(&bkl_word, __ATOMIC_RELAXED)) {
			arch_tlb_poll();
			cpu_relax();
		}
	} while (__atomic_exchange_n(&bkl_word, 1, __ATOMIC_ACQUIRE));
	__atomic_fetch_sub(&bkl_waiters, 1, __ATOMIC_RELAXED);
}

void bkl_unlock_bad(void)
{
	panic("bkl_unlock on cpu %u: the lock is held by cpu %d", cpu_index(), (int)bkl_owner);
}

bool bkl_held(void)
{
	return bkl_word && bkl_owner == (int32_t)cpu_index();
}
