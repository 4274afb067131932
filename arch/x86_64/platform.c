/*
 * Platform start-up (arch_platform_init, include/arch/arch.h) and the ACPI
 * discovery glue: maps tables through the direct map and logs what it found.
 */
#include <arch/apic.h>
#include <arch/arch.h>
#include <arch/platform.h>
#include <kernel/bootinfo.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/pmm.h>

struct acpi_info acpi;
bool acpi_ok;

/* Only ranges the memory map describes (or the first MiB) are readable. */
static const void *acpi_map(uint64_t phys, size_t len, void *ctx)
{
	(void)ctx;
	if (phys + len < phys)
		return NULL;
	if (phys + len <= 0x100000 || pmm_range_known(phys, len))
		return phys_to_virt(phys);
	return NULL;
}

static void acpi_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	vklog(KLOG_WARN, fmt, ap);
	va_end(ap);
}

void platform_acpi_init(void)
{
	struct acpi_env env = {acpi_map, acpi_log, NULL};
	uint64_t rsdp = boot_info.rsdp_phys;

	if (bootinfo_cmdline_has(&boot_info, "noacpi")) {
		pr_warn("acpi: disabled on the command line");
		return;
	}
	if (!rsdp)
		rsdp = acpi_find_rsdp_bios(&env);
	if (!rsdp) {
		pr_warn("acpi: no RSDP found; running without ACPI (one CPU, PIT, no power-off)");
		return;
	}
	if (acpi_parse(rsdp, &env, &acpi) != 0) {
		pr_warn("acpi: RSDP at %#lx unusable; running without ACPI", rsdp);
		return;
	}
	acpi_ok = true;
	pr_info(
	    "acpi: RSDP %#lx rev %u: %u cpus, %u ioapics, hpet %s, mcfg %u, fadt %s, %u bad tables",
	    rsdp, acpi.revision, acpi.ncpus, acpi.nioapics, acpi.has_hpet ? "yes" : "no",
	    acpi.nmcfg, acpi.has_fadt ? "yes" : "no", acpi.bad_tables);
}

void arch_platform_init(void)
{
	platform_acpi_init();
	pic_disable();
	lapic_init(acpi.lapic_phys);
	lapic_init_cpu(); /* x2APIC registers exist only once the mode is on */
	cpus[0].apic_id = lapic_id();
	ioapic_init();
	syscall_init_cpu();
	if (acpi.has_hpet && !bootinfo_cmdline_has(&boot_info, "nohpet"))
		hpet_init(acpi.hpet_phys);
	if (!hpet_available())
		pr_warn("hpet: not available; calibrating against the PIT");
	tsc_calibrate();
	pr_info("timer: LAPIC one-shot in %s mode",
	        lapic_timer_uses_deadline() ? "TSC-deadline" : "count");
}

void arch_platform_late_init(void)
{
	tsc_refine();
}
