/* Multiprocessor start-up and cross-CPU calls (arch/x86_64/smp.c). */
#ifndef KERNEL_SMP_H
#define KERNEL_SMP_H

#include <kernel/types.h>

/* Start every processor the MADT lists; returns the number online. */
uint32_t smp_init(void);
/* Run fn(arg) on CPU index cpu and wait for it; false on timeout or bad cpu. */
bool smp_call(uint32_t cpu, void (*fn)(void *), void *arg) __must_check;
/* Run fn(arg) on every online CPU (this one included); returns how many ran it. */
uint32_t smp_call_all(void (*fn)(void *), void *arg);
/* Stop every other CPU (panic): they halt with interrupts off. */
void smp_halt_others(void);
struct cpu;
/* First C code on an AP, from trampoline.S with c its per-CPU data: tables, APIC, then idle. */
__noreturn void smp_ap_entry(struct cpu *c);

#endif
