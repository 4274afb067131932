/* ktest suite "boot": boot info, command line, consoles, initrd. */
#include <arch/platform.h>
#include <kernel/bootinfo.h>
#include <kernel/ktest.h>
#include <kernel/pmm.h>
#include <lib/string.h>

KTEST(boot, info_normalized)
{
	KEXPECT(t, boot_info.kind == BOOT_PVH || boot_info.kind == BOOT_MB2);
	KEXPECT(t, boot_info.nmmap > 0 && pmm_nmap > 0);
	KEXPECT(t, pmm_total_usable() > 1000, "only %lu usable frames", pmm_total_usable());
	for (uint32_t i = 1; i < pmm_nmap; i++)
		KEXPECT(t, pmm_map[i].base >= pmm_map[i - 1].base + pmm_map[i - 1].len,
		        "map not sorted/disjoint");
}

KTEST(boot, cmdline_parsing)
{
	char v[64];

	KEXPECT(t, bootinfo_cmdline_get(&boot_info, "ktest", v, sizeof(v)), "ktest= missing");
	KEXPECT(t, !bootinfo_cmdline_has(&boot_info, "kt"));
	KEXPECT(t, !bootinfo_cmdline_get(&boot_info, "no-such-key", v, sizeof(v)));
}

KTEST(boot, acpi_tables_found)
{
	if (bootinfo_cmdline_has(&boot_info, "noacpi") || !acpi_ok) {
		KSKIP(t, "booted without ACPI");
		return;
	}
	KEXPECT(t, acpi.has_madt && acpi.ncpus >= 1 && acpi.nioapics >= 1);
	KEXPECT(t, acpi.has_fadt);
	KEXPECT(t, acpi.bad_tables == 0, "%u bad tables", acpi.bad_tables);
}
