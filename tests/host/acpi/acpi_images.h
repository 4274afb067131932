/*
 * Builders for ACPI table images in a fake physical memory, shared by the
 * host unit tests (acpi_test.c) and the fuzz seed generator
 * (tests/fuzz/acpi/acpi_gen_seeds.c) so the seeds are the tested images.
 */
#ifndef TESTS_ACPI_IMAGES_H
#define TESTS_ACPI_IMAGES_H

#include <stddef.h>
#include <stdint.h>

/* Where the good image's RSDP sits; its tables follow at these offsets. */
#define IMG_BASE 0x100000u
enum {
	IMG_RSDP = 0x000,
	IMG_RSDT = 0x040,
	IMG_XSDT = 0x080,
	IMG_MADT = 0x100,
	IMG_FADT = 0x200,
	IMG_DSDT = 0x300,
	IMG_HPET = 0x400,
	IMG_MCFG = 0x480,
	IMG_WAET = 0x500,
	IMG_END = 0x600,   /* good image length */
	IMG_SPARE = 0x800, /* free room for tests' extra tables */
};

/* Fake physical memory: phys [base, base + size) lives at buf. */
struct img_mem {
	uint8_t *buf;
	uint64_t base;
	size_t size;
};

/* acpi_map_fn over a struct img_mem: NULL for any range not wholly inside. */
const void *img_map(uint64_t phys, size_t len, void *ctx);
/* Writable pointer to phys..phys+len; aborts the program if out of range. */
uint8_t *img_at(struct img_mem *m, uint64_t phys, size_t len);
void img_put8(struct img_mem *m, uint64_t phys, uint8_t v);
void img_put16(struct img_mem *m, uint64_t phys, uint16_t v);
void img_put32(struct img_mem *m, uint64_t phys, uint32_t v);
void img_put64(struct img_mem *m, uint64_t phys, uint64_t v);
void img_put_bytes(struct img_mem *m, uint64_t phys, const void *p, size_t n);

/* Standard 36-byte header (checksum left 0: call img_fix after filling). */
void img_hdr(struct img_mem *m, uint64_t phys, const char *sig, uint32_t len, uint8_t rev);
/* Recompute the checksum of the table at phys over its header length. */
void img_fix(struct img_mem *m, uint64_t phys);
/* RSDP of revision rev (0 or 2) with both checksums right. */
void img_rsdp(struct img_mem *m, uint64_t phys, uint8_t rev, uint32_t rsdt, uint64_t xsdt);
/* RSDT ("RSDT", 4-byte entries) or XSDT ("XSDT", 8-byte entries). */
void img_root(struct img_mem *m, uint64_t phys, const char *sig, const uint64_t *e, uint32_t n);
/* QEMU-like MADT: 2 CPUs, 1 disabled, 1 x2APIC, 1 IOAPIC, 5 ISOs, 1 NMI. */
uint32_t img_madt(struct img_mem *m, uint64_t phys);
/* FADT of length len (116 = ACPI 1.0, 244 = ACPI 2+ with RESET_REG, X_DSDT). */
void img_fadt(struct img_mem *m, uint64_t phys, uint32_t len, uint32_t dsdt, uint64_t xdsdt);
/* DSDT whose body is aml[0..n). */
void img_dsdt(struct img_mem *m, uint64_t phys, const void *aml, uint32_t n);
void img_hpet(struct img_mem *m, uint64_t phys, uint64_t base);
/* MCFG with n entries: segment i, base 0xB0000000 + i * 256 MiB, buses 0..255. */
void img_mcfg(struct img_mem *m, uint64_t phys, uint32_t n);

/* AML of the good DSDT: Name(_S5, Package(4){5, 6, 0, 0}) among decoys. */
extern const uint8_t img_good_aml[];
extern const uint32_t img_good_aml_len;

/*
 * The good QEMU-like set at base: RSDP (rev 0: RSDT, 116-byte FADT; rev 2:
 * XSDT and RSDT, 244-byte FADT), MADT, FADT, DSDT with \_S5, HPET, MCFG,
 * WAET. Returns the image length (IMG_END).
 */
uint32_t img_build_good(struct img_mem *m, uint64_t base, uint8_t rev);

#endif
