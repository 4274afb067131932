/*
 * Writes the ACPI fuzz seed corpus: the unit tests' good images (built by
 * tests/host/acpi/acpi_images.c) laid out at IMG_BASE with the RSDP first,
 * which is how acpi_fuzz.c maps its input. Usage: acpi_gen_seeds OUTDIR
 * (the committed corpus is tests/fuzz/acpi/corpus/acpi; `make fuzz-seeds-acpi`).
 */
#include <stdio.h>
#include <string.h>

#include "../../host/acpi/acpi_images.h"

static uint8_t buf[IMG_END];

/* Write buf[0..len) to dir/name; returns 0 or 1 on error. */
static int write_seed(const char *dir, const char *name, uint32_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct img_mem m = {buf, IMG_BASE, sizeof buf};
	static const uint8_t s5_pkg2[] = {
	    0x08, '\\', '_',  'S',  '5',  '_',  0x12, 0x40, 0x02, 0x02, 0x0A, 0x07, 0x0A,
	    0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	int err = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	err |= write_seed(argv[1], "good-v0-rsdt", img_build_good(&m, IMG_BASE, 0));
	err |= write_seed(argv[1], "good-v2-xsdt", img_build_good(&m, IMG_BASE, 2));
	/* v2 image whose DSDT uses \_S5 with a two-byte PkgLength. */
	img_build_good(&m, IMG_BASE, 2);
	img_dsdt(&m, IMG_BASE + IMG_DSDT, s5_pkg2, sizeof s5_pkg2);
	err |= write_seed(argv[1], "good-v2-s5-pkglen2", IMG_END);
	return err;
}
