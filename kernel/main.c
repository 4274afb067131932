/*
 * kmain: the boot sequence after boot.S, on the BSP.
 *
 *   console -> boot info -> CPU features -> memory (PMM, kernel tables,
 *   kmalloc) -> traps -> ACPI -> interrupt controllers -> clocks ->
 *   other CPUs -> PCI -> boot module -> "hallows: ready" -> tests / idle
 */
#include <arch/arch.h>
#include <arch/console.h>
#include <arch/cpu.h>
#include <arch/trap.h>
#include <kernel/aspace.h>
#include <kernel/bkl.h>
#include <kernel/bootinfo.h>
#include <kernel/invariants.h>
#include <kernel/initrd.h>
#include <kernel/klog.h>
#include <kernel/ktest.h>
#include <kernel/layout.h>
#include <kernel/main.h>
#include <kernel/panic.h>
#include <kernel/pci.h>
#include <kernel/percpu.h>
#include <kernel/pmm.h>
#include <kernel/power.h>
#include <kernel/root.h>
#include <kernel/smp.h>
#include <kernel/thread.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <lib/cpio.h>
#include <lib/string.h>

extern char boot_stack_top[];

extern uint64_t boot_entry_tsc;
struct boot_info boot_info;
uint64_t boot_ready_tsc;

/* Loader structures live in low memory, identity/HHDM-mapped by boot.S. */
static const void *boot_map(uint64_t phys, size_t len)
{
	if (phys + len < phys || phys + len > (4ul << 30))
		return NULL;
	return phys_to_virt(phys);
}

__noreturn void cpu_idle_loop(void)
{
	irq_disable();
	bkl_lock();
	sched_exit_to_user();
}

static void early_init(uint32_t kind, uint64_t info)
{
	tsc_boot = rdtsc();
	cpus[0].index = 0;
	cpus[0].kstack_top = (uint64_t)boot_stack_top;
	percpu_init_cpu(&cpus[0]);
	serial_init();
	kprintf("\nhallows: booting\n");
	if (bootinfo_parse(kind, info, boot_map, &boot_info) != 0)
		panic("boot: unusable boot information from the loader (kind %u at %#lx)", kind,
		      info);
	fbcon_init(&boot_info.fb);
	if (boot_info.warnings)
		pr_warn("boot: %u malformed or dropped boot-info entries", boot_info.warnings);
	if (bootinfo_cmdline_has(&boot_info, "debug"))
		klog_threshold = KLOG_DEBUG;
	pr_info("boot: via %s%s, cmdline \"%s\"", kind == BOOT_PVH ? "PVH" : "Multiboot2",
	        boot_info.efi ? " (UEFI)" : "", boot_info.cmdline);
	if (boot_info.loader[0])
		pr_info("boot: loader \"%s\"", boot_info.loader);
	cpu_features_init();
	inv_init(bootinfo_cmdline_has(&boot_info, "checkinv")); /* kernel/invariants.c */
	if (bootinfo_cmdline_has(&boot_info, "nopcid"))
		cpu_feat.pcid = false; /* every address-space switch flushes, as without PCID */
	cpu_enable_protections();
	cpu_features_log();
}

/*
 * Deliberate failures for the test runner, which must tell them apart:
 * "pf" a kernel page fault (fatal report + backtrace), "panic" a panic,
 * "hang" a silent hang with interrupts off.
 */
static __attribute__((noinline)) void crash_test(const char *what)
{
	pr_warn("crashtest: %s", what);
	if (!strcmp(what, "pf"))
		(void)*(volatile uint64_t *)(MMIO_BASE + MMIO_SIZE - PAGE_SIZE);
	else if (!strcmp(what, "panic"))
		panic("crashtest requested a panic");
	else if (!strcmp(what, "hang"))
		for (irq_disable();;)
			cpu_halt();
}

__noreturn void kmain(uint32_t kind, uint64_t info)
{
	early_init(kind, info);
	pmm_init(&boot_info);
	vm_init();
	aspace_hooks_init();
	trap_init_cpu();
	arch_platform_init();
	sched_init_cpu();
	cpus[0].online = true;
	uint32_t n = smp_init();
	kprintf("hallows: cpus online: %u\n", n);
	pci_init();
	initrd_check();
	arch_platform_late_init();
	sched_init();
	irq_enable();
	boot_ready_tsc = rdtsc();
	kprintf("hallows: ready\n");
	if (bootinfo_cmdline_has(&boot_info, "bench-boot"))
		kprintf("bench: boot tsc entry=%lu ready=%lu\n", boot_entry_tsc, boot_ready_tsc);

	char sel[128];
	if (bootinfo_cmdline_get(&boot_info, "crashtest", sel, sizeof(sel)))
		crash_test(sel);
	if (bootinfo_cmdline_get(&boot_info, "ktest", sel, sizeof(sel))) {
		uint32_t failed = ktest_run(sel);
		power_test_exit(failed ? 1 : 0);
	}
	if (bootinfo_cmdline_has(&boot_info, "poweroff"))
		power_off();
	if (bootinfo_cmdline_has(&boot_info, "reboot"))
		power_reboot();
	bool root = !bootinfo_cmdline_has(&boot_info, "noroot") && root_task_start();
	if (!root && bootinfo_cmdline_has(&boot_info, "test-exit"))
		power_test_exit(0); /* nothing more will run; with a root task, it ends the test */
	cpu_idle_loop();
}
