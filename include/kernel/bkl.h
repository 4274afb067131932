/*
 * The big kernel lock. Every kernel entry from ring 3 (and the idle loop
 * when it finds work) takes it; leaving to ring 3 (in arch_return_to_user,
 * after the last read of the thread) or going idle drops it. Ring 0 runs
 * with interrupts off, so the lock is short-held and the kernel needs no
 * finer locking (seL4's choice for SMP). While a CPU waits for the lock it
 * still answers TLB shootdowns.
 *
 * A test-and-set lock whose last holder lets a waiting CPU go first: a CPU
 * that takes the lock again while others wait first spins (boundedly)
 * until one of them has had it. Plain test-and-set let a CPU whose thread
 * yields in a loop take the lock again and again while two others waited
 * for ever (thread_sched.migrating_a_yielding_thread hung on 4 CPUs: both
 * waiters spinning in bkl_lock_slow). A ticket lock would be strictly fair
 * but makes every waiter wait for a vCPU its host has descheduled, which
 * slowed the 4-CPU suites under TCG on 2 host cores by several times.
 */
#ifndef KERNEL_BKL_H
#define KERNEL_BKL_H

#include <kernel/percpu.h>
#include <kernel/types.h>

extern volatile uint32_t bkl_word;    /* 1 while held */
extern volatile uint32_t bkl_waiters; /* CPUs in bkl_lock_slow */
extern volatile int32_t bkl_owner;    /* index of the holding CPU, -1 = none */
extern volatile int32_t bkl_last;     /* index of the CPU that took it last */

void bkl_lock_slow(void);
void bkl_unlock_bad(void);
bool bkl_held(void);

/* Take the lock (interrupts must be off). Spins, answering TLB shootdowns, while another CPU holds
 * it. */
static __always_inline void bkl_lock(void)
{
	int32_t me = (int32_t)cpu_index();

	if ((bkl_waiters && bkl_last == me) || __atomic_exchange_n(&bkl_word, 1, __ATOMIC_ACQUIRE))
		bkl_lock_slow();
	bkl_owner = bkl_last = me;
}

static __always_inline void bkl_unlock(void)
{
	if (bkl_owner != (int32_t)cpu_index())
		bkl_unlock_bad();
	bkl_owner = -1;
	__atomic_store_n(&bkl_word, 0, __ATOMIC_RELEASE);
}

#endif
