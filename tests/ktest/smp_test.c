/* ktest suite "smp": every CPU online, IPI function calls, per-CPU data. */
#include <arch/apic.h>
#include <arch/cpu.h>
#include <arch/platform.h>
#include <kernel/ktest.h>
#include <kernel/percpu.h>
#include <kernel/smp.h>
#include <kernel/spinlock.h>

static volatile uint32_t seen_apic[MAX_CPUS];
static volatile uint32_t hits;

static void report_in(void *arg)
{
	(void)arg;
	struct cpu *c = this_cpu();
	seen_apic[c->index] = lapic_id() + 1;
	__atomic_add_fetch(&hits, 1, __ATOMIC_SEQ_CST);
}

KTEST(smp, all_madt_cpus_online)
{
	uint32_t expect = acpi_ok && acpi.ncpus ? acpi.ncpus : 1;

	KEXPECT(t, ncpus_online == expect, "online %u, MADT %u", ncpus_online, expect);
	for (uint32_t i = 0; i < ncpus_online; i++)
		KEXPECT(t, cpus[i].online && cpus[i].self == &cpus[i], "cpu %u", i);
}

KTEST(smp, every_cpu_runs_function_by_ipi)
{
	hits = 0;
	for (uint32_t i = 0; i < MAX_CPUS; i++)
		seen_apic[i] = 0;
	uint32_t ran = smp_call_all(report_in, NULL);
	KEXPECT(t, ran == ncpus_online && hits == ncpus_online, "ran %u hits %u of %u", ran, hits,
	        ncpus_online);
	for (uint32_t i = 0; i < ncpus_online; i++)
		KEXPECT(t, seen_apic[i] == cpus[i].apic_id + 1,
		        "cpu %u reported APIC %u, expected %u", i, seen_apic[i] - 1,
		        cpus[i].apic_id);
}

KTEST(smp, call_to_offline_cpu_fails)
{
	KEXPECT(t, !smp_call(MAX_CPUS, report_in, NULL));
	KEXPECT(t, !smp_call(ncpus_online, report_in, NULL));
}

static struct spinlock shared_lock = SPINLOCK_INIT("ktest");
static volatile uint64_t shared_counter;

static void bump_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++) {
		spin_lock(&shared_lock);
		shared_counter++;
		spin_unlock(&shared_lock);
	}
}

KTEST(smp, spinlock_counts_exactly)
{
	shared_counter = 0;
	uint32_t ran = smp_call_all(bump_many, NULL);
	KEXPECT(t, shared_counter == 1000ul * ran, "counter %lu, expected %lu", shared_counter,
	        1000ul * ran);
	KEXPECT(t, !spin_held(&shared_lock));
}

extern const uint64_t tramp_gdt[], tramp_gdt_ptr[];

/*
 * The bug Bochs found: without the accessed bit, loading a segment after
 * paging is on makes the CPU write the descriptor, and the trampoline page
 * is mapped read-only (every AP triple-faulted; QEMU does not write it).
 */
KTEST(smp, trampoline_gdt_needs_no_accessed_bit_write)
{
	size_t n = (size_t)(tramp_gdt_ptr - tramp_gdt);

	KEXPECT(t, n == 4, "%zu descriptors", n);
	for (size_t i = 1; i < n; i++)
		KEXPECT(t, (tramp_gdt[i] >> 40 & 0x81) == 0x81,
		        "descriptor %zu: %#lx (present and accessed wanted)", i, tramp_gdt[i]);
}

/* The bug Bochs found: the BSP read its id through x2APIC MSRs before the APIC was in x2APIC mode
 * (#GP). */
KTEST(smp, x2apic_mode_is_on_before_ids_are_read)
{
	if (!lapic_is_x2apic()) {
		KSKIP(t, "xAPIC mode");
		return;
	}
	KEXPECT(t, rdmsr(MSR_APIC_BASE) & (1ull << 10), "IA32_APIC_BASE %#lx",
	        rdmsr(MSR_APIC_BASE));
	KEXPECT(t, lapic_id() == this_cpu()->apic_id, "read %u, recorded %u", lapic_id(),
	        this_cpu()->apic_id);
}
