/*
 * Spinlocks with holder assertions. spin_lock() disables interrupts and
 * restores them on unlock; taking a lock this CPU already holds, or
 * releasing one it does not hold, is a kernel bug and panics.
 */
#ifndef KERNEL_SPINLOCK_H
#define KERNEL_SPINLOCK_H

#include <kernel/types.h>

struct spinlock {
	volatile uint32_t locked; /* [a] 0 free, 1 held */
	int32_t holder;           /* [L] CPU index of the holder, -1 when free */
	uint64_t saved_flags;     /* [L] holder's RFLAGS before spin_lock */
	const char *name;         /* [I] */
};

#define SPINLOCK_INIT(n)                                                                           \
	{                                                                                          \
		0, -1, 0, n                                                                        \
	}

void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
bool spin_held(const struct spinlock *l);

#endif
