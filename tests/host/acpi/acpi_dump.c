/*
 * Parse a raw physical memory dump (starting at physical address 0, e.g.
 * from QEMU's "pmemsave 0 SIZE file") with the real parser: find the RSDP in
 * the BIOS areas, parse, and print what was found as "key value" lines for
 * qemu_tables.py to compare with what the machine was started with.
 * Usage: acpi_dump DUMPFILE
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "arch/acpi.h"
#include "acpi_images.h"

static void dump_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* Read the whole file into memory; exits on error. */
static struct img_mem load(const char *path)
{
	struct img_mem m = {NULL, 0, 0};
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		perror(path);
		exit(2);
	}
	m.size = (size_t)n;
	m.buf = malloc(m.size);
	if (m.buf == NULL || fread(m.buf, 1, m.size, f) != m.size) {
		perror(path);
		exit(2);
	}
	fclose(f);
	return m;
}

static void print_info(const struct acpi_info *o)
{
	printf("revision %u\nbad_tables %u\n", o->revision, o->bad_tables);
	printf("lapic 0x%llx\npcat %d\nncpus %u\n", (unsigned long long)o->lapic_phys, o->has_8259,
	       o->ncpus);
	for (uint32_t i = 0; i < o->ncpus; i++)
		printf("cpu%u %u\n", i, o->cpus[i].apic_id);
	printf("nioapics %u\n", o->nioapics);
	for (uint32_t i = 0; i < o->nioapics; i++)
		printf("ioapic%u 0x%llx %u\n", i, (unsigned long long)o->ioapics[i].phys,
		       o->ioapics[i].gsi_base);
	printf("nisos %u\n", o->nisos);
	for (uint32_t i = 0; i < o->nisos; i++)
		printf("iso%u %u %u 0x%x\n", i, o->isos[i].bus_irq, o->isos[i].gsi,
		       o->isos[i].flags);
	printf("fadt %d\nsci %u\nsmi_cmd 0x%x\nacpi_enable 0x%x\n", o->has_fadt, o->sci_irq,
	       o->smi_cmd, o->acpi_enable);
	printf("pm1a_cnt 0x%x\npm1b_cnt 0x%x\niapc_boot_arch 0x%x\n", o->pm1a_cnt, o->pm1b_cnt,
	       o->iapc_boot_arch);
	printf("reset %d %u 0x%llx 0x%x\n", o->reset_supported, o->reset_reg.space_id,
	       (unsigned long long)o->reset_reg.address, o->reset_value);
	printf("s5 %d %u %u\n", o->has_s5, o->s5_typa, o->s5_typb);
	printf("hpet %d 0x%llx\n", o->has_hpet, (unsigned long long)o->hpet_phys);
	printf("nmcfg %u\n", o->nmcfg);
	for (uint32_t i = 0; i < o->nmcfg; i++)
		printf("mcfg%u 0x%llx %u %u %u\n", i, (unsigned long long)o->mcfg[i].base,
		       o->mcfg[i].segment, o->mcfg[i].bus_start, o->mcfg[i].bus_end);
}

int main(int argc, char **argv)
{
	static struct acpi_info info;
	struct img_mem m;
	struct acpi_env env = {img_map, dump_log, NULL};
	uint64_t rsdp;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DUMPFILE\n", argv[0]);
		return 2;
	}
	m = load(argv[1]);
	env.ctx = &m;
	rsdp = acpi_find_rsdp_bios(&env);
	printf("rsdp 0x%llx\n", (unsigned long long)rsdp);
	if (rsdp == 0)
		return 1;
	printf("parse %d\n", acpi_parse(rsdp, &env, &info));
	print_info(&info);
	free(m.buf);
	return 0;
}
