/*
 * Host unit tests for arch/x86_64/acpi.c: table images are built in a fake
 * physical memory (acpi_images.c) and parsed through a map callback that
 * returns NULL outside it. Cases run under the host harness
 * (tests/host/kernel/ktharness.h: a fork each, CHECK records and goes on),
 * one TAP line per case: "ok - acpi.<case>".
 * Set ACPI_TEST_VERBOSE=1 to see the parser's log lines as TAP comments.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/acpi.h"
#include "acpi_images.h"
#include "ktharness.h"

#define G   IMG_BASE
#define MEM (IMG_BASE + 0x10000u) /* fake memory covers phys 0 .. MEM */

static uint8_t mem_buf[MEM];
static struct img_mem M = {mem_buf, 0, sizeof mem_buf};
static unsigned log_count;
static char log_last[256];
static bool verbose;
static struct acpi_info info;

static void test_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	va_start(ap, fmt);
	vsnprintf(log_last, sizeof log_last, fmt, ap);
	va_end(ap);
	log_count++;
	if (verbose)
		printf("# log: %s", log_last);
}

static const struct acpi_env env = {img_map, test_log, &M};

static int parse(void)
{
	return acpi_parse(G, &env, &info);
}

/* Rewrite the RSDT at G+IMG_RSDT with n entries and point a rev-0 RSDP at it. */
static void set_rsdt(const uint64_t *e, uint32_t n)
{
	img_root(&M, G + IMG_RSDT, "RSDT", e, n);
	img_rsdp(&M, G, 0, G + IMG_RSDT, 0);
}

/* Everything the good image holds, as acpi_parse must report it. */
static bool check_good(uint8_t rev, uint64_t rsdp)
{
	const struct acpi_info *o = &info;

	CHECK(o->rsdp_phys == rsdp && o->revision == rev && o->bad_tables == 0);
	CHECK(o->has_madt && o->lapic_phys == 0xFEE00000u && o->has_8259);
	CHECK(o->ncpus == 3);
	CHECK(o->cpus[0].apic_id == 0 && o->cpus[0].uid == 0 && !o->cpus[0].x2apic);
	CHECK(o->cpus[1].apic_id == 1 && o->cpus[1].uid == 1 && !o->cpus[1].x2apic);
	CHECK(o->cpus[2].apic_id == 300 && o->cpus[2].uid == 3 && o->cpus[2].x2apic);
	CHECK(o->nioapics == 1 && o->ioapics[0].id == 0 && o->ioapics[0].phys == 0xFEC00000u);
	CHECK(o->ioapics[0].gsi_base == 0);
	CHECK(o->nisos == 5 && o->isos[0].bus_irq == 0 && o->isos[0].gsi == 2);
	CHECK(o->isos[0].flags == 0 && o->isos[4].bus_irq == 11 && o->isos[4].gsi == 11);
	CHECK(o->isos[4].flags == 0x0D);
	CHECK(o->has_fadt && o->dsdt_phys == G + IMG_DSDT && o->sci_irq == 9);
	CHECK(o->smi_cmd == 0xB2 && o->acpi_enable == 2 && o->pm1a_cnt == 0x604);
	CHECK(o->pm1b_cnt == 0 && o->iapc_boot_arch == 2);
	CHECK(o->has_s5 && o->s5_typa == 5 && o->s5_typb == 6);
	CHECK(o->has_hpet && o->hpet_phys == 0xFED00000u);
	CHECK(o->nmcfg == 1 && o->mcfg[0].base == 0xB0000000u && o->mcfg[0].segment == 0);
	CHECK(o->mcfg[0].bus_start == 0 && o->mcfg[0].bus_end == 255);
	return !kt_failed();
}

static void case_qemu_v0_rsdt(void)
{
	img_build_good(&M, G, 0);
	CHECK(parse() == 0);
	CHECK(check_good(0, G));
	CHECK(!info.reset_supported);
}

static void case_qemu_v2_xsdt(void)
{
	img_build_good(&M, G, 2);
	memset(img_at(&M, G + IMG_RSDT, 0x40), 0, 0x40); /* the XSDT must be the one used */
	CHECK(parse() == 0);
	CHECK(check_good(2, G));
	CHECK(info.reset_supported && info.reset_reg.space_id == 1);
	CHECK(info.reset_reg.address == 0xCF9 && info.reset_value == 0x0F);
}

static void case_v2_zero_xsdt_uses_rsdt(void)
{
	img_build_good(&M, G, 2);
	img_rsdp(&M, G, 2, G + IMG_RSDT, 0);
	CHECK(parse() == 0);
	CHECK(check_good(2, G));
}

static void case_rsdp_bad_checksum(void)
{
	img_build_good(&M, G, 0);
	mem_buf[G + 10] ^= 0x20; /* OEMID byte */
	CHECK(parse() == -1);
	CHECK(info.rsdp_phys == G && info.bad_tables == 1 && !info.has_madt && log_count > 0);
	img_build_good(&M, G, 0);
	mem_buf[G] = 'X'; /* signature */
	CHECK(parse() == -1);
}

static void case_rsdp_bad_ext_checksum(void)
{
	img_build_good(&M, G, 2);
	mem_buf[G + 33] = 0x55; /* reserved byte: only the extended checksum covers it */
	CHECK(parse() == -1 && info.bad_tables == 1 && !info.has_fadt);
}

static void case_rsdp_bad_ext_length(void)
{
	static const uint32_t lens[] = {20, 35, 0x100000u, 0xFFFFFFFFu};

	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		uint8_t s = 0;

		img_build_good(&M, G, 2);
		img_put32(&M, G + 20, lens[i]);
		mem_buf[G + 32] = 0;
		for (int k = 0; k < 36; k++)
			s = (uint8_t)(s + mem_buf[G + k]);
		mem_buf[G + 32] = (uint8_t)(0 - s);
		CHECK(parse() == -1);
	}
	CHECK(acpi_parse(0xFFFFFFFFFFFFFFF0ull, &env, &info) == -1); /* wraps */
	CHECK(acpi_parse(0x7FF000000000ull, &env, &info) == -1);     /* unmapped */
}

static void case_table_bad_checksum(void)
{
	img_build_good(&M, G, 2);
	mem_buf[G + IMG_HPET + 44] ^= 1;
	CHECK(parse() == 0);
	CHECK(info.bad_tables == 1 && !info.has_hpet);
	CHECK(info.has_madt && info.ncpus == 3 && info.has_fadt && info.has_s5 && info.nmcfg == 1);
}

static void case_table_len_short(void)
{
	img_build_good(&M, G, 0);
	img_put32(&M, G + IMG_HPET + 4, 20);
	CHECK(parse() == 0 && info.bad_tables == 1 && !info.has_hpet && info.has_madt);
	img_build_good(&M, G, 0);
	img_put32(&M, G + IMG_MCFG + 4, 0x7FFFFFFFu); /* over the 1 MiB cap */
	CHECK(parse() == 0 && info.bad_tables == 1 && info.nmcfg == 0 && info.has_hpet);
}

static void case_table_len_past_memory(void)
{
	uint64_t tail = MEM - 64;
	uint64_t e[3] = {G + IMG_MADT, tail, MEM - 8};

	img_build_good(&M, G, 0);
	img_hdr(&M, tail, "SSDT", 64, 1);
	img_put32(&M, tail + 4, 0x1000); /* runs past the end of memory */
	set_rsdt(e, 3);
	CHECK(parse() == 0 && info.bad_tables == 2 && info.has_madt && log_count >= 2);
}

static void case_root_entry_null_or_unmapped(void)
{
	uint64_t e[4] = {0, G + IMG_MADT, 0xDEAD0000u, G + IMG_HPET};

	img_build_good(&M, G, 0);
	set_rsdt(e, 4);
	CHECK(parse() == 0 && info.bad_tables == 2 && info.has_madt && info.has_hpet);
	CHECK(!info.has_fadt && !info.has_s5);
}

static void case_madt_entry_len_zero(void)
{
	img_build_good(&M, G, 0);
	mem_buf[G + IMG_MADT + 44 + 24 + 1] = 0; /* the x2APIC entry */
	img_fix(&M, G + IMG_MADT);
	CHECK(parse() == 0 && info.has_madt && info.bad_tables == 1);
	CHECK(info.ncpus == 2 && info.nioapics == 0 && info.nisos == 0);
}

static void case_madt_entry_past_end(void)
{
	uint32_t len = img_madt(&M, G + IMG_MADT);

	img_build_good(&M, G, 0);
	mem_buf[G + IMG_MADT + len - 6 + 1] = 7; /* last entry (NMI, 6 bytes) claims 7 */
	img_fix(&M, G + IMG_MADT);
	CHECK(parse() == 0 && info.bad_tables == 1 && info.ncpus == 3 && info.nisos == 5);
	img_build_good(&M, G, 0);
	mem_buf[G + IMG_MADT + len - 6 + 1] = 1; /* shorter than an entry header */
	img_fix(&M, G + IMG_MADT);
	CHECK(parse() == 0 && info.bad_tables == 1 && info.nioapics == 1);
}

/* Custom MADT at G+IMG_SPARE from raw entry bytes, listed alone in the RSDT. */
static void madt_custom(const uint8_t *ents, uint32_t n)
{
	uint64_t e[1] = {G + IMG_SPARE};

	img_build_good(&M, G, 0);
	img_hdr(&M, G + IMG_SPARE, "APIC", 44 + n, 1);
	img_put32(&M, G + IMG_SPARE + 36, 0xFEE00000u);
	img_put_bytes(&M, G + IMG_SPARE + 44, ents, n);
	img_fix(&M, G + IMG_SPARE);
	set_rsdt(e, 1);
}

static void case_madt_short_entry_and_dup(void)
{
	static const uint8_t ents[] = {
	    0,    4,  7, 7,             /* LAPIC entry too short: skipped, counted bad */
	    0,    8,  0, 0, 1, 0, 0, 0, /* CPU 0 */
	    9,    16, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, /* x2APIC ID 0 again */
	    0,    8,  5, 5, 2, 0, 0, 0,                         /* online-capable: counted */
	    0x7F, 3,  0,                                        /* unknown type: skipped */
	};

	madt_custom(ents, sizeof ents);
	CHECK(parse() == 0 && info.has_madt && !info.has_8259 && info.bad_tables == 1);
	CHECK(info.ncpus == 2 && info.cpus[0].apic_id == 0 && !info.cpus[0].x2apic);
	CHECK(info.cpus[1].apic_id == 5 && info.cpus[1].uid == 5);
}

static void case_madt_caps_and_override(void)
{
	static uint8_t ents[70 * 8 + 10 * 12 + 30 * 10 + 12];
	uint32_t off = 0;

	memset(ents, 0, sizeof ents);
	for (int i = 0; i < 70; i++, off += 8) {
		uint8_t e[8] = {0, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0};
		memcpy(ents + off, e, 8);
	}
	for (int i = 0; i < 10; i++, off += 12) {
		uint8_t e[12] = {1,    12,   (uint8_t)i,        0, 0, 0,
		                 0xC0, 0xFE, (uint8_t)(24 * i), 0, 0, 0};
		memcpy(ents + off, e, 12);
	}
	for (int i = 0; i < 30; i++, off += 10) {
		uint8_t e[10] = {2, 10, 0, (uint8_t)i, (uint8_t)(i + 1), 0, 0, 0, 5, 0};
		memcpy(ents + off, e, 10);
	}
	uint8_t ov[12] = {5, 12, 0, 0, 0, 0, 0xE0, 0xFE, 1, 0, 0, 0};
	memcpy(ents + off, ov, 12);
	madt_custom(ents, sizeof ents);
	CHECK(parse() == 0 && info.bad_tables == 0);
	CHECK(info.ncpus == ACPI_MAX_CPUS && info.cpus[63].apic_id == 63);
	CHECK(info.nioapics == ACPI_MAX_IOAPICS && info.ioapics[7].gsi_base == 168);
	CHECK(info.nisos == ACPI_MAX_ISOS && info.isos[23].gsi == 24 && info.isos[23].flags == 5);
	CHECK(info.lapic_phys == 0x1FEE00000ull && strstr(log_last, "dropped") != NULL);
}

static void case_madt_too_short(void)
{
	img_build_good(&M, G, 0);
	img_put32(&M, G + IMG_MADT + 4, 40);
	img_fix(&M, G + IMG_MADT);
	CHECK(parse() == 0 && !info.has_madt && info.ncpus == 0 && info.bad_tables == 1);
}

static void case_fadt_short_no_xdsdt_reset(void)
{
	img_build_good(&M, G, 2);
	img_fadt(&M, G + IMG_FADT, 244, G + IMG_DSDT, 0xBAD000u);
	img_put32(&M, G + IMG_FADT + 4, 116); /* ACPI 1.0 length, reset flag still set */
	img_fix(&M, G + IMG_FADT);
	CHECK(parse() == 0 && info.has_fadt && info.bad_tables == 0);
	CHECK(info.dsdt_phys == G + IMG_DSDT && info.has_s5 && !info.reset_supported);
	img_put32(&M, G + IMG_FADT + 4, 132); /* RESET_REG fits, X_DSDT does not */
	img_fix(&M, G + IMG_FADT);
	CHECK(parse() == 0 && info.dsdt_phys == G + IMG_DSDT && info.reset_supported);
	img_put32(&M, G + IMG_FADT + 4, 100); /* shorter than ACPI 1.0 */
	img_fix(&M, G + IMG_FADT);
	CHECK(parse() == 0 && !info.has_fadt && !info.has_s5 && info.bad_tables == 1);
}

static void case_fadt_xdsdt(void)
{
	img_build_good(&M, G, 2);
	img_fadt(&M, G + IMG_FADT, 244, G + IMG_SPARE, G + IMG_DSDT); /* DSDT32 is junk */
	CHECK(parse() == 0 && info.dsdt_phys == G + IMG_DSDT && info.has_s5);
	CHECK(info.bad_tables == 0);
	img_fadt(&M, G + IMG_FADT, 244, G + IMG_DSDT, 0xDEAD00000000ull); /* X_DSDT bad */
	CHECK(parse() == 0 && info.dsdt_phys == G + IMG_DSDT && info.has_s5);
	CHECK(info.bad_tables == 1);
}

static void case_fadt_pm1_x_gas_and_reset(void)
{
	img_build_good(&M, G, 2);
	img_put32(&M, G + IMG_FADT + 64, 0);
	img_put8(&M, G + IMG_FADT + 172, 1); /* X_PM1a_CNT_BLK: I/O */
	img_put64(&M, G + IMG_FADT + 176, 0x404);
	img_put64(&M, G + IMG_FADT + 120, 0); /* RESET_REG address 0 */
	img_fix(&M, G + IMG_FADT);
	CHECK(parse() == 0 && info.pm1a_cnt == 0x404 && !info.reset_supported);
}

static void case_dsdt_no_s5(void)
{
	static const uint8_t aml[] = {0x08, '_', 'S', '4', '_', 0x0A, 4, 0x10, 3, '_', 'S', '5'};

	img_build_good(&M, G, 0);
	img_dsdt(&M, G + IMG_DSDT, aml, sizeof aml);
	CHECK(parse() == 0 && info.has_fadt && !info.has_s5 && info.bad_tables == 0);
	img_dsdt(&M, G + IMG_DSDT, img_good_aml, img_good_aml_len);
	mem_buf[G + IMG_DSDT + 40] ^= 0xFF; /* bad DSDT checksum */
	CHECK(parse() == 0 && info.has_fadt && !info.has_s5 && info.bad_tables == 1);
	img_dsdt(&M, G + IMG_DSDT, img_good_aml, img_good_aml_len);
	memcpy(mem_buf + G + IMG_DSDT, "SSDT", 4); /* wrong signature */
	img_fix(&M, G + IMG_DSDT);
	CHECK(parse() == 0 && !info.has_s5 && info.bad_tables == 1);
}

struct s5_case {
	uint8_t aml[48];
	uint32_t len;
	int a, b; /* expected, or -1 for "no \_S5" */
};

#define S5 0x08, '_', 'S', '5', '_'

static const struct s5_case s5_good[] = {
    {{S5, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x06, 0x00, 0x00}, 14, 5, 6},
    {{S5, 0x12, 0x06, 0x04, 0x00, 0x01, 0x00, 0x00}, 12, 0, 1},
    {{0x08, '\\', '_', 'S', '5', '_', 0x12, 0x06, 0x02, 0x0A, 0x07, 0x0A, 0x03}, 13, 7, 3},
    {{S5, 0x12, 0x04, 0x02, 0x05, 0x06}, 10, 5, 6},
    {{S5, 0x12, 0x0A, 0x02, 0x0B, 0x04, 0x00, 0x0C, 0x02, 0, 0, 0}, 16, 4, 2},
    /* two-byte PkgLength (0x12 = 18 bytes) */
    {{S5, 0x12, 0x42, 0x01, 0x0E, 0x0A, 0x03, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 24, 3, 1},
    /* decoys first: Name(_S5, 5) is not a package; then the real one */
    {{S5, 0x0A, 0x05, S5, 0x12, 0x04, 0x02, 0x00, 0x00}, 17, 0, 0},
};

static const struct s5_case s5_bad[] = {
    {{S5, 0x12, 0x20, 0x04, 0x0A, 0x05, 0x0A, 0x06}, 12, -1, -1}, /* past table end */
    {{S5, 0x12, 0xC0}, 7, -1, -1},                                /* 4-byte PkgLength cut short */
    {{S5, 0x12}, 6, -1, -1},                                      /* no PkgLength */
    {{S5}, 5, -1, -1},                                            /* nothing after the name */
    {{S5, 0x12, 0x04, 0x01, 0x0A, 0x05}, 10, -1, -1},             /* one element */
    {{S5, 0x12, 0x05, 0x02, 0x0D, 'a', 0}, 11, -1, -1},           /* string element */
    {{S5, 0x12, 0x07, 0x02, 0x0B, 0x00, 0x01, 0x0A, 0x01}, 13, -1, -1}, /* 0x100 */
    {{S5, 0x12, 0x05, 0x02, 0x0A, 0x05, 0x0A, 0x06}, 12, -1, -1},       /* ends mid-element */
    {{S5, 0x12, 0x01, 0x02, 0x00, 0x00}, 10, -1, -1},                   /* PkgLength too small */
    {{0x70, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0, 0}, 10, -1, -1},   /* no NameOp */
};

/* Parse the good image with each AML body in cases[] and compare \_S5. */
static bool run_s5(const struct s5_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		img_build_good(&M, G, 0);
		img_dsdt(&M, G + IMG_DSDT, cases[i].aml, cases[i].len);
		if (parse() != 0 || info.bad_tables != 0 || info.has_s5 != (cases[i].a >= 0) ||
		    (info.has_s5 && (info.s5_typa != cases[i].a || info.s5_typb != cases[i].b))) {
			printf("# _S5 case %zu: has_s5=%d a=%u b=%u\n", i, info.has_s5,
			       info.s5_typa, info.s5_typb);
			return false;
		}
	}
	return true;
}

static void case_s5_encodings(void)
{
	CHECK(run_s5(s5_good, sizeof s5_good / sizeof s5_good[0]));
}

static void case_s5_truncated_or_malformed(void)
{
	CHECK(run_s5(s5_bad, sizeof s5_bad / sizeof s5_bad[0]));
}

static void case_mcfg_overflow(void)
{
	img_build_good(&M, G, 0);
	img_mcfg(&M, G + IMG_SPARE, 7);
	img_put8(&M, G + IMG_SPARE + 44 + 16 + 10, 9); /* entry 1: start bus > end bus */
	img_put8(&M, G + IMG_SPARE + 44 + 16 + 11, 3);
	img_fix(&M, G + IMG_SPARE);
	uint64_t e[2] = {G + IMG_SPARE, G + IMG_MCFG};
	set_rsdt(e, 2);
	CHECK(parse() == 0 && info.nmcfg == ACPI_MAX_MCFG && info.bad_tables == 0);
	CHECK(info.mcfg[0].segment == 0 && info.mcfg[1].segment == 2);
	CHECK(info.mcfg[3].segment == 4 && info.mcfg[3].base == 0xF0000000u);
	img_mcfg(&M, G + IMG_SPARE, 1);
	img_put32(&M, G + IMG_SPARE + 4, 44 + 16 + 5); /* trailing partial entry */
	img_fix(&M, G + IMG_SPARE);
	CHECK(parse() == 0 && info.nmcfg == 1 && info.bad_tables == 0);
}

/* A DMAR with two DRHD units (one INCLUDE_PCI_ALL), an RMRR, a bad unit, and a structure whose
 * length runs past the table. */
static void case_dmar_units(void)
{
	uint64_t d = G + IMG_SPARE;

	img_build_good(&M, G, 0);
	img_hdr(&M, d, "DMAR", 48 + 24 + 16 + 32 + 16, 1);
	img_put8(&M, d + 36, 38); /* host address width 39 bits */
	img_put16(&M, d + 48, 0),
	    img_put16(&M, d + 50, 24); /* DRHD with one device scope: IOAPIC 2 at f0:1f.7 */
	img_put8(&M, d + 52, 0), img_put16(&M, d + 54, 0), img_put64(&M, d + 56, 0xFED91000u);
	img_put8(&M, d + 64, 3), img_put8(&M, d + 65, 8), img_put8(&M, d + 68, 2);
	img_put8(&M, d + 69, 0xf0), img_put8(&M, d + 70, 0x1f), img_put8(&M, d + 71, 7);
	img_put16(&M, d + 72, 0), img_put16(&M, d + 74, 16); /* DRHD, INCLUDE_PCI_ALL */
	img_put8(&M, d + 76, 1), img_put16(&M, d + 78, 0), img_put64(&M, d + 80, 0xFED90000u);
	img_put16(&M, d + 88, 1), img_put16(&M, d + 90, 32); /* RMRR: skipped */
	img_put16(&M, d + 120, 0),
	    img_put16(&M, d + 122, 16); /* DRHD with an unaligned base: refused */
	img_put64(&M, d + 128, 0xFED90800u);
	img_fix(&M, d);
	uint64_t e[2] = {d, G + IMG_MCFG};
	set_rsdt(e, 2);
	CHECK(parse() == 0 && info.has_dmar && info.dmar_haw == 39 && info.bad_tables == 0);
	CHECK(info.ndrhd == 2 && info.drhd[0].base == 0xFED91000u && !info.drhd[0].include_all);
	CHECK(info.drhd[1].base == 0xFED90000u && info.drhd[1].include_all &&
	      info.drhd[1].segment == 0);
	CHECK(info.nioapic_sids == 1 && info.ioapic_sid[0].id == 2 &&
	      info.ioapic_sid[0].sid == 0xf0ff);
	img_put8(&M, d + 65, 9); /* a scope running past its DRHD: not taken, the unit still is */
	img_fix(&M, d);
	CHECK(parse() == 0 && info.ndrhd == 2 && info.nioapic_sids == 0);
	img_put8(&M, d + 65, 8), img_put8(&M, d + 64, 1); /* a PCI endpoint scope: not an IOAPIC */
	img_fix(&M, d);
	CHECK(parse() == 0 && info.ndrhd == 2 && info.nioapic_sids == 0);
	img_put16(&M, d + 74, 200); /* runs past the table: the walk ends there */
	img_fix(&M, d);
	CHECK(parse() == 0 && info.has_dmar && info.ndrhd == 1);
	img_put32(&M, d + 4, 40); /* shorter than a DMAR header */
	img_fix(&M, d);
	CHECK(parse() == 0 && !info.has_dmar && info.bad_tables == 1);
}

static void case_xsdt_unmappable(void)
{
	img_build_good(&M, G, 2);
	img_rsdp(&M, G, 2, G + IMG_RSDT, 0xFFFF00000000ull);
	CHECK(parse() == 0 && info.bad_tables == 1 && info.has_madt && info.has_s5);
	img_rsdp(&M, G, 2, 0, 0xFFFF00000000ull);
	CHECK(parse() == -1 && info.bad_tables == 1 && !info.has_madt);
	img_rsdp(&M, G, 0, G + IMG_MADT, 0); /* root is not an RSDT */
	CHECK(parse() == -1 && info.bad_tables == 1);
}

static void case_duplicates_first_valid_wins(void)
{
	img_build_good(&M, G, 0);
	img_hpet(&M, G + IMG_SPARE, 0xFED10000u);
	img_hpet(&M, G + IMG_SPARE + 0x40, 0xFED20000u);
	mem_buf[G + IMG_SPARE + 50] ^= 1; /* first HPET invalid */
	img_mcfg(&M, G + IMG_SPARE + 0x80, 2);
	uint64_t e[6] = {G + IMG_SPARE, G + IMG_SPARE + 0x40, G + IMG_MADT,
	                 G + IMG_HPET,  G + IMG_MCFG,         G + IMG_SPARE + 0x80};
	set_rsdt(e, 6);
	CHECK(parse() == 0 && info.bad_tables == 1);
	CHECK(info.hpet_phys == 0xFED20000u && info.nmcfg == 1 && info.ncpus == 3);
}

static void case_hpet_not_memory(void)
{
	img_build_good(&M, G, 0);
	img_put8(&M, G + IMG_HPET + 40, 1);
	img_fix(&M, G + IMG_HPET);
	CHECK(parse() == 0 && !info.has_hpet && info.bad_tables == 1);
}

static void case_root_entry_cap(void)
{
	static uint64_t e[300];

	img_build_good(&M, G, 0);
	for (int i = 0; i < 300; i++)
		e[i] = G + IMG_WAET;
	e[299] = G + IMG_MADT; /* beyond the cap: never looked at */
	img_root(&M, G + IMG_SPARE, "RSDT", e, 300);
	img_rsdp(&M, G, 0, G + IMG_SPARE, 0);
	CHECK(parse() == 0 && !info.has_madt && info.bad_tables == 0);
}

static void case_env_without_log_or_map(void)
{
	struct acpi_env quiet = {img_map, NULL, &M};
	struct acpi_env nomap = {NULL, NULL, &M};

	img_build_good(&M, G, 2);
	mem_buf[G + IMG_HPET + 44] ^= 1;
	CHECK(acpi_parse(G, &quiet, &info) == 0 && info.bad_tables == 1 && log_count == 0);
	CHECK(acpi_parse(G, &nomap, &info) == -1 && acpi_find_rsdp_bios(&nomap) == 0);
	CHECK(acpi_find_rsdp_bios(NULL) == 0 && acpi_parse(G, NULL, &info) == -1);
}

/* Copy the good RSDP (pointing at the tables at G) to phys. */
static void rsdp_to(uint64_t phys, uint8_t rev)
{
	img_rsdp(&M, phys, rev, G + IMG_RSDT, rev >= 2 ? G + IMG_XSDT : 0);
}

static void case_bios_scan_ebda(void)
{
	img_build_good(&M, G, 2);
	img_put16(&M, 0x40E, 0x9FC0);
	rsdp_to(0x9FC00 + 0x40, 2);
	rsdp_to(0xE0000, 0); /* also in the BIOS area: the EBDA comes first */
	CHECK(acpi_find_rsdp_bios(&env) == 0x9FC40);
	CHECK(acpi_parse(0x9FC40, &env, &info) == 0 && info.revision == 2 && info.has_s5);
}

static void case_bios_scan_e0000(void)
{
	img_build_good(&M, G, 0);
	img_put16(&M, 0x40E, 0x9FC0); /* EBDA present but empty */
	rsdp_to(0xE0000, 0);
	mem_buf[0xE0000 + 12] ^= 1; /* bad checksum: skipped */
	rsdp_to(0xE1000, 2);
	mem_buf[0xE1000 + 34] ^= 1; /* bad extended checksum: skipped */
	rsdp_to(0xE2008, 0);        /* not 16-byte aligned: skipped */
	rsdp_to(0xFFFF0, 0);        /* last paragraph of the area */
	CHECK(acpi_find_rsdp_bios(&env) == 0xFFFF0);
	rsdp_to(0xF5A10, 0);
	CHECK(acpi_find_rsdp_bios(&env) == 0xF5A10);
	img_put16(&M, 0x40E, 0); /* no EBDA at all */
	CHECK(acpi_find_rsdp_bios(&env) == 0xF5A10);
	CHECK(acpi_parse(0xF5A10, &env, &info) == 0 && check_good(0, 0xF5A10));
}

static void case_bios_scan_not_found(void)
{
	struct img_mem low = {mem_buf, 0, 0x500}; /* BDA only: BIOS area unmapped */
	struct acpi_env lowenv = {img_map, test_log, &low};

	img_build_good(&M, G, 0);
	img_put16(&M, 0x40E, 0x9FC0);
	rsdp_to(0xE2008, 0);
	memcpy(mem_buf + 0xE3000, "RSD PTR ", 8);
	CHECK(acpi_find_rsdp_bios(&env) == 0);
	img_put16(&M, 0x40E, 0xFFFF); /* EBDA pointer into the BIOS area: ignored */
	CHECK(acpi_find_rsdp_bios(&env) == 0);
	CHECK(acpi_find_rsdp_bios(&lowenv) == 0 && log_count > 0);
}

#define T(n)                                                                                       \
	{                                                                                          \
#n, case_##n                                                                       \
	}
static const struct kt_case cases[] = {
    T(qemu_v0_rsdt),
    T(qemu_v2_xsdt),
    T(v2_zero_xsdt_uses_rsdt),
    T(rsdp_bad_checksum),
    T(rsdp_bad_ext_checksum),
    T(rsdp_bad_ext_length),
    T(table_bad_checksum),
    T(table_len_short),
    T(table_len_past_memory),
    T(root_entry_null_or_unmapped),
    T(madt_entry_len_zero),
    T(madt_entry_past_end),
    T(madt_short_entry_and_dup),
    T(madt_caps_and_override),
    T(madt_too_short),
    T(fadt_short_no_xdsdt_reset),
    T(fadt_xdsdt),
    T(fadt_pm1_x_gas_and_reset),
    T(dsdt_no_s5),
    T(s5_encodings),
    T(s5_truncated_or_malformed),
    T(mcfg_overflow),
    T(dmar_units),
    T(xsdt_unmappable),
    T(duplicates_first_valid_wins),
    T(hpet_not_memory),
    T(root_entry_cap),
    T(env_without_log_or_map),
    T(bios_scan_ebda),
    T(bios_scan_e0000),
    T(bios_scan_not_found),
};

int main(int argc, char **argv)
{
	size_t n = sizeof cases / sizeof cases[0];

	verbose = getenv("ACPI_TEST_VERBOSE") != NULL;
	memset(&info, 0xA5,
	       sizeof info); /* acpi_parse must zero it (each case runs in a fork of this) */
	kt_group = "acpi";
	if (argc < 2)
		printf("1..%zu\n", n);
	return kt_main(cases, n, argc, argv);
}
