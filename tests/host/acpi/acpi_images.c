/*
 * ACPI table image builders (see acpi_images.h). Plain hosted C; values
 * follow what QEMU's q35/i440fx firmware tables contain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi_images.h"

const void *img_map(uint64_t phys, size_t len, void *ctx)
{
	struct img_mem *m = ctx;

	if (phys < m->base || phys - m->base > m->size || len > m->size - (phys - m->base))
		return NULL;
	return m->buf + (phys - m->base);
}

uint8_t *img_at(struct img_mem *m, uint64_t phys, size_t len)
{
	uint8_t *p = (uint8_t *)img_map(phys, len, m);

	if (p == NULL) {
		fprintf(stderr, "img_at: 0x%llx+%zu outside the fake memory\n",
		        (unsigned long long)phys, len);
		abort();
	}
	return p;
}

void img_put_bytes(struct img_mem *m, uint64_t phys, const void *p, size_t n)
{
	memcpy(img_at(m, phys, n), p, n);
}

/* Little-endian store of the low n bytes of v. */
static void put_le(struct img_mem *m, uint64_t phys, uint64_t v, size_t n)
{
	uint8_t *p = img_at(m, phys, n);

	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void img_put8(struct img_mem *m, uint64_t phys, uint8_t v)
{
	put_le(m, phys, v, 1);
}

void img_put16(struct img_mem *m, uint64_t phys, uint16_t v)
{
	put_le(m, phys, v, 2);
}

void img_put32(struct img_mem *m, uint64_t phys, uint32_t v)
{
	put_le(m, phys, v, 4);
}

void img_put64(struct img_mem *m, uint64_t phys, uint64_t v)
{
	put_le(m, phys, v, 8);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

void img_hdr(struct img_mem *m, uint64_t phys, const char *sig, uint32_t len, uint8_t rev)
{
	memset(img_at(m, phys, len < 36 ? 36 : len), 0, len < 36 ? 36 : len);
	img_put_bytes(m, phys, sig, 4);
	img_put32(m, phys + 4, len);
	img_put8(m, phys + 8, rev);
	img_put_bytes(m, phys + 10, "BOCHS ", 6);
	img_put_bytes(m, phys + 16, "BXPC    ", 8);
	img_put32(m, phys + 24, 1);
	img_put_bytes(m, phys + 28, "BXPC", 4);
	img_put32(m, phys + 32, 1);
}

void img_fix(struct img_mem *m, uint64_t phys)
{
	uint32_t len = *img_at(m, phys + 4, 1) | (uint32_t)*img_at(m, phys + 5, 1) << 8 |
	               (uint32_t)*img_at(m, phys + 6, 1) << 16 |
	               (uint32_t)*img_at(m, phys + 7, 1) << 24;
	uint8_t *p = img_at(m, phys, len);

	p[9] = 0;
	p[9] = (uint8_t)(0 - sum(p, len));
}

void img_rsdp(struct img_mem *m, uint64_t phys, uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	uint8_t *p = img_at(m, phys, 36);

	memset(p, 0, 36);
	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "BOCHS ", 6);
	p[15] = rev;
	img_put32(m, phys + 16, rsdt);
	p[8] = (uint8_t)(0 - sum(p, 20));
	if (rev >= 2) {
		img_put32(m, phys + 20, 36);
		img_put64(m, phys + 24, xsdt);
		p[32] = (uint8_t)(0 - sum(p, 36));
	}
}

void img_root(struct img_mem *m, uint64_t phys, const char *sig, const uint64_t *e, uint32_t n)
{
	uint32_t esz = strcmp(sig, "XSDT") == 0 ? 8 : 4;

	img_hdr(m, phys, sig, 36 + n * esz, 1);
	for (uint32_t i = 0; i < n; i++) {
		if (esz == 8)
			img_put64(m, phys + 36 + i * 8, e[i]);
		else
			img_put32(m, phys + 36 + i * 4, (uint32_t)e[i]);
	}
	img_fix(m, phys);
}

/* Append one MADT entry at *off and advance *off past it. */
static void madt_ent(struct img_mem *m, uint64_t phys, uint32_t *off, const uint8_t *e, uint8_t n)
{
	img_put_bytes(m, phys + *off, e, n);
	*off += n;
}

uint32_t img_madt(struct img_mem *m, uint64_t phys)
{
	static const uint8_t cpu0[] = {0, 8, 0, 0, 1, 0, 0, 0};
	static const uint8_t cpu1[] = {0, 8, 1, 1, 1, 0, 0, 0};
	static const uint8_t cpu2_off[] = {0, 8, 2, 2, 0, 0, 0, 0};
	static const uint8_t x2[] = {9, 16, 0, 0, 0x2C, 1, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0};
	static const uint8_t ioapic[] = {1, 12, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0, 0, 0};
	static const uint8_t nmi[] = {4, 6, 0xFF, 0, 0, 1};
	static const uint8_t iso_irq[5] = {0, 5, 9, 10, 11};
	uint32_t off = 44;

	img_hdr(m, phys, "APIC", 0, 1);
	img_put32(m, phys + 36, 0xFEE00000u);
	img_put32(m, phys + 40, 1); /* PCAT_COMPAT */
	madt_ent(m, phys, &off, cpu0, sizeof cpu0);
	madt_ent(m, phys, &off, cpu1, sizeof cpu1);
	madt_ent(m, phys, &off, cpu2_off, sizeof cpu2_off);
	madt_ent(m, phys, &off, x2, sizeof x2);
	madt_ent(m, phys, &off, ioapic, sizeof ioapic);
	for (int i = 0; i < 5; i++) {
		uint8_t iso[10] = {2, 10, 0, iso_irq[i], iso_irq[i], 0, 0, 0, 0, 0};

		if (i == 0)
			iso[4] = 2; /* IRQ0 -> GSI2 */
		else
			iso[8] = 0x0D; /* level, active high */
		madt_ent(m, phys, &off, iso, sizeof iso);
	}
	madt_ent(m, phys, &off, nmi, sizeof nmi);
	img_put32(m, phys + 4, off);
	img_fix(m, phys);
	return off;
}

void img_fadt(struct img_mem *m, uint64_t phys, uint32_t len, uint32_t dsdt, uint64_t xdsdt)
{
	img_hdr(m, phys, "FACP", len, len > 116 ? 3 : 1);
	img_put32(m, phys + 40, dsdt);
	img_put16(m, phys + 46, 9);       /* SCI_INT */
	img_put32(m, phys + 48, 0xB2);    /* SMI_CMD */
	img_put8(m, phys + 52, 0x02);     /* ACPI_ENABLE */
	img_put8(m, phys + 53, 0x03);     /* ACPI_DISABLE */
	img_put32(m, phys + 56, 0x600);   /* PM1a_EVT_BLK */
	img_put32(m, phys + 64, 0x604);   /* PM1a_CNT_BLK */
	img_put32(m, phys + 76, 0x608);   /* PM_TMR_BLK */
	img_put16(m, phys + 109, 0x0002); /* IAPC_BOOT_ARCH: 8042 */
	img_put32(m, phys + 112, 0x4A5u | (len > 116 ? 1u << 10 : 0));
	if (len >= 129) {
		img_put8(m, phys + 116, 1); /* RESET_REG: system I/O */
		img_put8(m, phys + 117, 8);
		img_put8(m, phys + 119, 1);
		img_put64(m, phys + 120, 0xCF9);
		img_put8(m, phys + 128, 0x0F); /* RESET_VALUE */
	}
	if (len >= 148)
		img_put64(m, phys + 140, xdsdt);
	img_fix(m, phys);
}

void img_dsdt(struct img_mem *m, uint64_t phys, const void *aml, uint32_t n)
{
	img_hdr(m, phys, "DSDT", 36 + n, 1);
	img_put_bytes(m, phys + 36, aml, n);
	img_fix(m, phys);
}

void img_hpet(struct img_mem *m, uint64_t phys, uint64_t base)
{
	img_hdr(m, phys, "HPET", 56, 1);
	img_put32(m, phys + 36, 0x8086A201u);
	img_put64(m, phys + 44, base); /* GAS: space 0 (memory) */
	img_put16(m, phys + 53, 0x80);
	img_fix(m, phys);
}

void img_mcfg(struct img_mem *m, uint64_t phys, uint32_t n)
{
	img_hdr(m, phys, "MCFG", 44 + 16 * n, 1);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t e = phys + 44 + 16 * i;

		img_put64(m, e, 0xB0000000u + (uint64_t)i * 0x10000000u);
		img_put16(m, e + 8, (uint16_t)i);
		img_put8(m, e + 10, 0);
		img_put8(m, e + 11, 255);
	}
	img_fix(m, phys);
}

const uint8_t img_good_aml[] = {
    0x08, '_',  'S',  '4',  '_',  0x0A, 0x04,             /* Name(_S4, 4): not _S5 */
    0x70, '_',  'S',  '5',  '_',  0x60,                   /* Store(_S5_, Local0): no NameOp */
    0x08, '_',  'S',  '5',  '_',  0x12, 0x08, 0x04,       /* Name(_S5, Package(4) */
    0x0A, 0x05, 0x0A, 0x06, 0x00, 0x00,                   /*   {5, 6, 0, 0}) */
    0x14, 0x08, '_',  'P',  'T',  'S',  0x01, 0xA3, 0xA3, /* Method(_PTS, 1) {Noop} */
};
const uint32_t img_good_aml_len = sizeof img_good_aml;

uint32_t img_build_good(struct img_mem *m, uint64_t base, uint8_t rev)
{
	uint64_t e[5] = {base + IMG_MADT, base + IMG_FADT, base + IMG_HPET, base + IMG_MCFG,
	                 base + IMG_WAET};

	memset(img_at(m, base, IMG_END), 0, IMG_END);
	img_madt(m, base + IMG_MADT);
	img_fadt(m, base + IMG_FADT, rev >= 2 ? 244 : 116, (uint32_t)(base + IMG_DSDT),
	         base + IMG_DSDT);
	img_dsdt(m, base + IMG_DSDT, img_good_aml, img_good_aml_len);
	img_hpet(m, base + IMG_HPET, 0xFED00000u);
	img_mcfg(m, base + IMG_MCFG, 1);
	img_hdr(m, base + IMG_WAET, "WAET", 40, 1);
	img_put32(m, base + IMG_WAET + 36, 2);
	img_fix(m, base + IMG_WAET);
	img_root(m, base + IMG_RSDT, "RSDT", e, 5);
	if (rev >= 2)
		img_root(m, base + IMG_XSDT, "XSDT", e, 5);
	img_rsdp(m, base + IMG_RSDP, rev, (uint32_t)(base + IMG_RSDT),
	         rev >= 2 ? base + IMG_XSDT : 0);
	return IMG_END;
}
