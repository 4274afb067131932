/* Reboot and power-off through ACPI, with the 8042 reset as fallback. */
#include <arch/cpu.h>
#include <arch/platform.h>
#include <kernel/bootinfo.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/pci.h>
#include <kernel/power.h>
#include <kernel/time.h>

#define SLP_EN (1u << 13)
#define SCI_EN 1u

void power_test_exit(int code)
{
	if (!bootinfo_cmdline_has(&boot_info, "test-exit"))
		return;
	kprintf("hallows: test-exit %d\n",
	        code); /* the verdict where no isa-debug-exit device is (Bochs) */
	outb(0xf4, (uint8_t)code);
}

/* Write the FADT reset register (system I/O, memory or PCI config space). */
static void acpi_reset(void)
{
	const struct acpi_gas *r = &acpi.reset_reg;

	if (!acpi.reset_supported)
		return;
	if (r->space_id == 1) {
		outb((uint16_t)r->address, acpi.reset_value);
	} else if (r->space_id == 0) {
		volatile uint8_t *p = phys_to_virt(r->address);
		*p = acpi.reset_value;
	} else if (r->space_id == 2) {
		/* PCI config space of bus 0: device in bits 32-47, function 16-31, offset 0-15. */
		uint32_t dev = (r->address >> 32) & 0x1f, fn = (r->address >> 16) & 7,
		         off = r->address & 0xff;
		outl(0xcf8, 0x80000000u | dev << 11 | fn << 8 | (off & 0xfc));
		outb(0xcfc + (off & 3), acpi.reset_value);
	}
	time_udelay(100000);
}

__noreturn void power_reboot(void)
{
	pr_info("power: rebooting");
	irq_disable();
	acpi_reset();
	for (int i = 0; i < 100000 && (inb(0x64) & 2); i++)
		cpu_relax();
	outb(0x64, 0xfe); /* 8042: pulse the reset line */
	time_udelay(100000);
	struct {
		uint16_t limit;
		uint64_t base;
	} __packed null_idt = {0, 0};
	__asm__ volatile("lidt %0; int3" ::"m"(null_idt)); /* triple fault */
	for (;;)
		cpu_halt();
}

/* Enter S5 with the \_S5 values; switches ACPI mode on first when needed. */
__noreturn void power_off(void)
{
	pr_info("power: powering off");
	irq_disable();
	if (acpi.has_s5 && acpi.pm1a_cnt) {
		if (!(inw((uint16_t)acpi.pm1a_cnt) & SCI_EN) && acpi.smi_cmd && acpi.acpi_enable) {
			outb((uint16_t)acpi.smi_cmd, acpi.acpi_enable);
			for (int i = 0; i < 300 && !(inw((uint16_t)acpi.pm1a_cnt) & SCI_EN); i++)
				time_udelay(1000);
		}
		outw((uint16_t)acpi.pm1a_cnt, (uint16_t)(acpi.s5_typa << 10 | SLP_EN));
		if (acpi.pm1b_cnt)
			outw((uint16_t)acpi.pm1b_cnt, (uint16_t)(acpi.s5_typb << 10 | SLP_EN));
		time_udelay(100000);
	}
	pr_err("power: power-off failed (no usable \\_S5); halting");
	for (;;)
		cpu_halt();
}
