/* Test-and-test-and-set spinlocks with holder tracking. */
#include <arch/cpu.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/spinlock.h>

/* Returns true when this CPU holds l. */
bool spin_held(const struct spinlock *l)
{
	return l->locked && l->holder == (int32_t)cpu_index();
}

void spin_lock(struct spinlock *l)
{
	uint64_t flags = read_rflags();

	irq_disable();
	if (spin_held(l))
		panic("spinlock %s: recursive acquire on cpu %u", l->name, cpu_index());
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
	l->holder = (int32_t)cpu_index();
	l->saved_flags = flags;
}

void spin_unlock(struct spinlock *l)
{
	if (!spin_held(l))
		panic("spinlock %s: released by cpu %u which does not hold it", l->name,
		      cpu_index());
	uint64_t flags = l->saved_flags;
	l->holder = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	if (flags & (1u << 9))
		irq_enable();
}
