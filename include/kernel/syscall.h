/*
 * System-call entry (kernel/fastpath.c) and the general path
 * (kernel/syscall.c). HL_SYS_NULL never gets here: arch/x86_64/syscall.S
 * answers it.
 */
#ifndef KERNEL_SYSCALL_H
#define KERNEL_SYSCALL_H

#include <kernel/thread.h>

/* Every system call but HL_SYS_NULL, from syscall_entry (syscall.S) with interrupts off. */
__noreturn void syscall_dispatch(struct thread *t);
/* Every system call the fastpaths do not take; BKL held. */
__noreturn void syscall_slow(struct thread *t);

#endif
