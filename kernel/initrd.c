/* The boot module: found, validated and summarized (user space unpacks it later). */
#include <kernel/bootinfo.h>
#include <kernel/initrd.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/pmm.h>
#include <lib/cpio.h>

const uint8_t *initrd_data;
size_t initrd_size;

void initrd_check(void)
{
	if (boot_info.nmods == 0) {
		pr_warn("initrd: no boot module; continuing without user programs");
		return;
	}
	const struct boot_module *m = &boot_info.mods[0];
	size_t len = m->end - m->start;
	if (!pmm_range_known(m->start, len)) {
		pr_warn("initrd: module at %#lx+%#zx lies outside the memory map; ignored",
		        m->start, len);
		return;
	}
	uint32_t n;
	const uint8_t *p = phys_to_virt(m->start);
	int st = cpio_validate(p, len, &n);
	if (st != CPIO_OK) {
		pr_warn("initrd: corrupt cpio archive (%s after %u entries, %zu bytes); ignored",
		        cpio_strerror(st), n, len);
		return;
	}
	initrd_data = p;
	initrd_size = len;
	pr_info("initrd: %zu bytes, %u files", len, n);
}
