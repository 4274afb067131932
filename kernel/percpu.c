/* Per-CPU data areas and their GS-base setup. */
#include <arch/arch.h>
#include <kernel/percpu.h>
#include <stddef.h>

_Static_assert(offsetof(struct cpu, self) == 0, "gs:0 must be the self pointer");
_Static_assert(offsetof(struct cpu, index) == 8, "asm uses gs:8");
_Static_assert(offsetof(struct cpu, kstack_top) == 16, "asm uses gs:16");
_Static_assert(offsetof(struct cpu, current) == 24, "asm uses gs:24");
_Static_assert(offsetof(struct cpu, scratch) == 32, "asm uses gs:32");
_Static_assert(offsetof(struct cpu, nsyscalls) == 40, "asm uses gs:40");
_Static_assert(offsetof(struct cpu, in_user) == 48, "asm uses gs:48");

struct cpu cpus[MAX_CPUS];
uint32_t ncpus_online;

/* Point this CPU's GS base at c. Runs once per CPU, interrupts off. */
void percpu_init_cpu(struct cpu *c)
{
	c->self = c;
	arch_percpu_install(c);
}
