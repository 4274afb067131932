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
	struct acpi_info info;
	uint64_t rsdp;

	if (acpi_parse(ACPI_FUZZ_BASE, &env, &info) == 0 && info.ncpus > ACPI_MAX_CPUS)
		__builtin_trap();
	env.ctx = &bios;
	rsdp = acpi_find_rsdp_bios(&env);
	if (rsdp != 0 && acpi_parse(rsdp, &env, &info) == 0 &&
	    (info.nioapics > ACPI_MAX_IOAPICS || info.nisos > ACPI_MAX_ISOS ||
	     info.nmcfg > ACPI_MAX_MCFG))
		__builtin_trap();
	return 0;
}
