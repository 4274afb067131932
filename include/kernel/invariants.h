/*
 * Kernel invariant checks (kernel/invariants.c) for fuzzing runs: enabled
 * by the kernel command-line word "checkinv", run after every system call
 * that takes the general path (syscall_slow), and panic with the name of
 * the invariant that failed. Without the word they cost one predictable
 * branch on the general path and nothing on the fastpaths.
 */
#ifndef KERNEL_INVARIANTS_H
#define KERNEL_INVARIANTS_H

#include <kernel/types.h>

struct thread;
struct cspace;
struct aspace;
struct slot;

extern bool inv_enabled; /* [I] set at boot from the command line */

/*
 * Everything below, after a system call of t (which may have destroyed
 * itself) on the slot it invoked (NULL for calls on no slot): the run
 * queues, t's cspace, t's address space and an invoked address space.
 * BKL held.
 */
void inv_check_syscall(struct thread *t, const struct slot *target);

/* Run queues and throttled lists of every online CPU. */
void inv_check_runqueues(void);
/* The derivation-tree links of every slot of cs. */
void inv_check_cspace(const struct cspace *cs);
/* The page tables of a user address space (see the comment in invariants.c). */
void inv_check_aspace(const struct aspace *as);

#endif
