/*
 * libFuzzer target for arch/x86_64/acpi.c. The input is a fake physical
 * memory image: mapped at ACPI_FUZZ_BASE with the RSDP at its start (the
 * layout of the seeds, which are the unit tests' good images), and also
 * aliased into a fake BIOS (EBDA window at 0x9FC00 and 0xE0000-0xFFFFF) for
 * acpi_find_rsdp_bios, whose result, if any, is parsed too. Any crash,
 * sanitizer report or out-of-bounds read is a bug in the parser.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/acpi.h"

#define ACPI_FUZZ_BASE 0x100000u /* = IMG_BASE in tests/host/acpi/acpi_images.h */
#define FUZZ_EBDA      0x9FC00u
#define FUZZ_BIOS      0xE0000u
#define FUZZ_BIOS_LEN  0x20000u

struct fuzz_win {
	uint64_t phys;
	const uint8_t *p;
	size_t len;
};

struct fuzz_mem {
	struct fuzz_win win[4];
	int n;
};

/* acpi_map_fn: a range is readable only if it lies wholly inside one window. */
static const void *fuzz_map(uint64_t phys, size_t len, void *ctx)
{
	const struct fuzz_mem *m = ctx;

	for (int i = 0; i < m->n; i++) {
		const struct fuzz_win *w = &m->win[i];

		if (phys >= w->phys && phys - w->phys <= w->len && len <= w->len - (phys - w->phys))
			return w->p + (phys - w->phys);
	}
	return NULL;
}

static void fuzz_log(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

/*
 * The contract of acpi_parse on any input: counts within their arrays, \_S5
 * only through a FADT, and after a failure nothing but rsdp_phys and
 * bad_tables set. A violation traps, which libFuzzer reports as a crash.
 */
static void check_info(int rc, uint64_t rsdp, const struct acpi_info *o)
{
	if (o->ncpus > ACPI_MAX_CPUS || o->nioapics > ACPI_MAX_IOAPICS ||
	    o->nisos > ACPI_MAX_ISOS || o->nmcfg > ACPI_MAX_MCFG || o->rsdp_phys != rsdp)
		__builtin_trap();
	if ((o->has_s5 && !o->has_fadt) || (!o->has_fadt && o->dsdt_phys != 0) ||
	    (!o->has_madt && o->ncpus != 0) || (o->reset_supported && !o->has_fadt))
		__builtin_trap();
	/* Field by field: padding bytes are not part of the contract. */
	if (rc != 0 &&
	    (rc != -1 || o->revision != 0 || o->has_madt || o->lapic_phys != 0 || o->has_8259 ||
	     o->ncpus != 0 || o->nioapics != 0 || o->nisos != 0 || o->has_fadt || o->sci_irq != 0 ||
	     o->smi_cmd != 0 || o->acpi_enable != 0 || o->pm1a_cnt != 0 || o->pm1b_cnt != 0 ||
	     o->iapc_boot_arch != 0 || o->reset_supported || o->reset_value != 0 ||
	     o->reset_reg.address != 0 || o->has_s5 || o->s5_typa != 0 || o->s5_typb != 0 ||
	     o->has_hpet || o->hpet_phys != 0 || o->nmcfg != 0))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t bda_seg[2] = {0xC0, 0x9F}; /* EBDA segment 0x9FC0 */
	struct fuzz_mem direct = {{{ACPI_FUZZ_BASE, data, size}}, 1};
	struct fuzz_mem bios = {{{0x40E, bda_seg, sizeof bda_seg},
	                         {FUZZ_EBDA, data, size < 1024 ? size : 1024},
	                         {FUZZ_BIOS, data, size < FUZZ_BIOS_LEN ? size : FUZZ_BIOS_LEN},
	                         {ACPI_FUZZ_BASE, data, size}},
	                        4};
	struct acpi_env env = {fuzz_map, fuzz_log, &direct};
	static struct acpi_info info;
	uint64_t rsdp;

	check_info(acpi_parse(ACPI_FUZZ_BASE, &env, &info), ACPI_FUZZ_BASE, &info);
	env.ctx = &bios;
	rsdp = acpi_find_rsdp_bios(&env);
	if (rsdp != 0)
		check_info(acpi_parse(rsdp, &env, &info), rsdp, &info);
	return 0;
}
