/*
 * The big kernel lock. Every kernel entry from ring 3 (and the idle loop
 * when it finds work) takes it; leaving to ring 3 or going idle drops it.
 * Ring 0 runs with interrupts off, so the lock is short-held and the
 * kernel needs no finer locking (seL4's choice for SMP). While a CPU waits
 * for the lock it still answers TLB shootdowns.
 */
#ifndef KERNEL_BKL_H
#define KERNEL_BKL_H

#include <kernel/types.h>

void bkl_lock(void);
void bkl_unlock(void);
bool bkl_held(void);

#endif
