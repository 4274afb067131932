/*
 * The architecture interface under the portable kernel. kernel/ and
 * include/kernel/ reach the machine only through these operations and the
 * plain instruction wrappers of arch/cpu.h (interrupt flag, pause, halt,
 * TSC, port I/O for I/O-port capabilities); they never touch CR3, an MSR,
 * XSAVE or an interrupt controller themselves. The operations on the
 * fastpaths are inline here, so the kernel's instruction counts do not
 * change; the others live in arch/x86_64/ (file named at each).
 *
 *   per-CPU data    arch_percpu_install
 *   address space   arch_aspace_tag, arch_aspace_load
 *   thread state    arch_fpu_switch, arch_fpu_kept, arch_fpu_save, arch_fpu_restore, arch_tls_load
 *   cross-CPU       arch_send_resched, arch_tlb_shootdown, arch_tlb_poll
 *   interrupts      arch_irq_route, arch_irq_mask, arch_timer_oneshot_ns, arch_wait_for_interrupt
 *   platform        arch_platform_init, arch_platform_late_init
 *
 * Unless said otherwise: ring 0, interrupts off, the BKL held.
 */
#ifndef ARCH_ARCH_H
#define ARCH_ARCH_H

#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/object.h>
#include <kernel/percpu.h>
#include <kernel/thread.h>
#include <kernel/vm.h>

/* ---- per-CPU data ---- */

/* Make c this CPU's per-CPU area (GS base; user GS base 0). Once per CPU, BKL not needed. */
static inline void arch_percpu_install(struct cpu *c)
{
	wrmsr(MSR_GS_BASE, (uint64_t)c);
	wrmsr(MSR_KERNEL_GS_BASE, 0);
}

/* ---- address spaces ---- */

/*
 * What loading the address space with top-level table root and unique id
 * puts in the MMU: on x86-64 the CR3 value, root | PCID (a PCID from 1 to
 * PCID_COUNT - 1 chosen by id, or none without PCID).
 */
static inline uint64_t arch_aspace_tag(paddr_t root, uint64_t id)
{
	return root | (cpu_feat.pcid ? id % (PCID_COUNT - 1) + 1 : 0);
}

/*
 * Load as (or the kernel tables for NULL) on this CPU c. With PCID, the
 * translations as left under its PCID are kept when this CPU still holds
 * them for as (no shootdown since, no other address space on that PCID).
 */
static __always_inline void arch_aspace_load(struct cpu *c, struct aspace *as)
{
	uint64_t cr3 = as ? as->cr3 : kernel_pml4;

	c->loaded_aspace = as;
	if (read_cr3() == cr3)
		return;
	if (cr3 & 0xfff) { /* only with PCID; the kernel tables have PCID 0 */
		uint64_t *owner = &c->pcid_owner[cr3 & 0xfff];
		/* only as has a PCID. NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		if (*owner == as->id)
			cr3 |= CR3_NOFLUSH;
		else
			*owner = as->id; /* the load below flushes the PCID */
	}
	write_cr3(cr3);
}

/* ---- thread state: the kernel itself never touches FPU state (eager switching with XSAVE) ---- */

/* Save from's FPU/SSE/AVX state and load to's, in one go (the fastpaths). */
static __always_inline void arch_fpu_switch(struct thread *from, struct thread *to)
{
	if (cpu_feat.xsave)
		__asm__ volatile("xsave64 %0\n\txrstor64 %1"
		                 : "+m"(*from->xsave)
		                 : "m"(*to->xsave), "a"(~0u), "d"(~0u)
		                 : "memory");
}

/* Threads have FPU state of their own to save and restore (XSAVE); else they share none and the two
 * below are not called. */
static __always_inline bool arch_fpu_kept(void)
{
	return cpu_feat.xsave;
}

/* Save t's FPU/SSE/AVX state into its XSAVE area (only when arch_fpu_kept()). */
static __always_inline void arch_fpu_save(struct thread *t)
{
	__asm__ volatile("xsave64 %0" : "+m"(*t->xsave) : "a"(~0u), "d"(~0u) : "memory");
}

/* Load t's FPU/SSE/AVX state from its XSAVE area (only when arch_fpu_kept()). */
static __always_inline void arch_fpu_restore(struct thread *t)
{
	__asm__ volatile("xrstor64 %0" : : "m"(*t->xsave), "a"(~0u), "d"(~0u) : "memory");
}

/* Load t's thread-pointer register (FS base: its IPC buffer, see hl_ipcbuf()). */
static __always_inline void arch_tls_load(struct thread *t)
{
	wrmsr(MSR_FS_BASE, t->regs.fs_base);
}

/* ---- cross-CPU ---- */

/* Interrupt CPU c (not this one) so that it looks at need_resched. */
static inline void arch_send_resched(const struct cpu *c)
{
	lapic_send_ipi(c->apic_id, VEC_RESCHED);
}

/*
 * Make every CPU that has as loaded drop its translations, and wait for
 * them; with destroy, they also leave as (it is going away), and none keeps
 * its translations under a PCID. BKL held (arch/x86_64/tlb.c).
 */
void arch_tlb_shootdown(struct aspace *as, bool destroy);
extern struct aspace
    *volatile arch_tlb_dying; /* [BKL] the address space a shootdown destroys, or NULL */

/* Answer a shootdown addressed to this CPU: drop cached translations; leave an address space that
 * is going away. */
static __always_inline void arch_tlb_ack(void)
{
	struct cpu *c = this_cpu();

	if (arch_tlb_dying && c->loaded_aspace == arch_tlb_dying) {
		c->loaded_aspace = NULL;
		write_cr3(kernel_pml4); /* its user code now faults into the kernel */
		c->need_resched = true;
	} else {
		write_cr3(read_cr3());
	}
	__atomic_store_n(&c->flush_req, 0, __ATOMIC_RELEASE);
}

/* Drop this CPU's translation of one address (a fault has just relaxed its entries). */
static __always_inline void arch_tlb_flush_page(vaddr_t va)
{
	invlpg(va);
}

/* While spinning for the BKL: answer a pending shootdown, whose sender holds the lock and waits. */
static __always_inline void arch_tlb_poll(void)
{
	if (this_cpu()->flush_req)
		arch_tlb_ack();
}

/* ---- interrupts ---- */

/*
 * Deliver device interrupt line irq (an ISA IRQ, after the firmware's
 * overrides) as vector VEC_IRQ_BASE + irq to CPU c. False if no interrupt
 * controller has the line (arch/x86_64/ioapic.c).
 */
bool arch_irq_route(uint32_t irq, const struct cpu *c) __must_check;
/* Mask or unmask line irq (arch/x86_64/ioapic.c). */
void arch_irq_mask(uint32_t irq, bool masked);
/* The GSI ISA line irq arrives on (after the firmware's overrides). */
uint32_t arch_isa_irq_gsi(uint32_t irq);
/* An interrupt controller has input gsi. */
bool arch_gsi_valid(uint32_t gsi);
/*
 * Program GSI gsi as a PCI INTx line (level-triggered, active low) arriving
 * as vector on CPU c, left masked. False if no interrupt controller has it.
 */
bool arch_gsi_route_level(uint32_t gsi, uint32_t vector, const struct cpu *c) __must_check;
/* Mask or unmask GSI gsi. */
void arch_gsi_mask(uint32_t gsi, bool masked);
/*
 * Which GSI PCI function d's interrupt pin (1-4 = INTA-INTD, from config
 * 0x3d) reaches (arch/x86_64/pci_intx.c). HL_OK and *gsi, or an HL_ERR_*
 * and *why (a constant string) when the pin is not valid or the platform's
 * routing is not known.
 */
struct pci_dev;
int arch_pci_intx_gsi(const struct pci_dev *d, uint32_t pin, uint32_t *gsi,
                      const char **why) __must_check;
/*
 * The message address and data that make the MSI or MSI-X write of the PCI
 * function at source id sid (bus << 8 | devfn) arrive as vector on CPU c
 * (fixed, edge). With VT-d interrupt remapping the message names the
 * vector's remapping entry, which only sid may use (arch/x86_64/vtd.c).
 */
void arch_msi_message(uint16_t sid, const struct cpu *c, uint32_t vector, uint32_t *addr,
                      uint32_t *data);
/* The message for vector is off for good: its remapping entry goes (arch/x86_64/vtd.c). */
void arch_msi_free(uint32_t vector);
/* This CPU's one-shot timer (vector VEC_TIMER) in ns from now (arch/x86_64/apic.c). */
void arch_timer_oneshot_ns(uint64_t ns);

/* Idle until an interrupt arrives and has been handled; interrupts off before and after. */
static __always_inline void arch_wait_for_interrupt(void)
{
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}

/* ---- platform (arch/x86_64/platform.c) ---- */

/*
 * On the BSP after the kernel tables and traps: firmware tables (ACPI), the
 * interrupt controllers (legacy PIC masked, local APIC, IOAPICs), system-call
 * entry, the clocks (TSC calibrated against HPET or PIT) and the timer.
 */
void arch_platform_init(void);
/* On the BSP once the other CPUs are up, before "ready": refine the clock calibration. */
void arch_platform_late_init(void);

#endif
