/*
 * Kernel invariant checks (kernel/invariants.c) for fuzzing runs: enabled
 * by the kernel command-line word "checkinv", run at the entry of every
 * system call but HL_SYS_NULL (so after every earlier call, on any CPU),
 * and panic with the name of the invariant that failed. Without the word
 * they cost nothing: syscall_entry calls syscall_dispatch through a
 * pointer, and only the word points it at the checks.
 */
#ifndef KERNEL_INVARIANTS_H
#define KERNEL_INVARIANTS_H

#include <kernel/types.h>

struct thread;
struct cspace;
struct aspace;
struct slot;

/* [I] What syscall_entry calls (arch/x86_64/syscall.S): syscall_dispatch, or the checks and then
 * it. */
extern void (*syscall_dispatch_fn)(struct thread *t);

/* At boot, before any CPU enters ring 3: turn the checks on (the command line has "checkinv"). */
void inv_init(bool enable);

/*
 * Everything below for a system call of t on the slot it invokes (NULL
 * for calls on no slot): the run queues, t's cspace and held slots, t's
 * address space and an invoked address space. BKL held.
 */
void inv_check_syscall(struct thread *t, const struct slot *target);

/* Run queues and throttled lists of every online CPU. */
void inv_check_runqueues(void);
/* The derivation-tree links of every slot of cs. */
void inv_check_cspace(const struct cspace *cs);
/* The page tables of a user address space (see the comment in invariants.c). */
void inv_check_aspace(const struct aspace *as);

#endif
