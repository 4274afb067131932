/*
 * ACPI table parsing: RSDP, XSDT/RSDT, MADT, FADT (+ \_S5 from the DSDT),
 * HPET, MCFG and DMAR (its DRHD units), read directly from physical memory.
 *
 * The parser is pure: it reaches memory only through the caller's map
 * function, so host tests feed it table images (good and corrupted) and the
 * kernel feeds it the direct map. Every table's signature, length and
 * checksum is validated before any field is used; a malformed table is
 * reported through the log callback, counted in acpi_info.bad_tables, and
 * ignored, never trusted.
 */
#ifndef ARCH_ACPI_H
#define ARCH_ACPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ACPI_MAX_CPUS    64
#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_ISOS    24
#define ACPI_MAX_MCFG    4
#define ACPI_MAX_DRHD    4

/* Generic Address Structure (ACPI 6.x, 5.2.3.2). */
struct acpi_gas {
	uint8_t space_id; /* 0 = system memory, 1 = system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
};

struct acpi_cpu {
	uint32_t apic_id;
	uint32_t uid;
	bool x2apic; /* came from a type-9 (x2APIC) entry */
};

struct acpi_ioapic {
	uint8_t id;
	uint64_t phys;
	uint32_t gsi_base;
};

/* Interrupt source override: ISA IRQ bus_irq arrives on GSI gsi. */
struct acpi_iso {
	uint8_t bus_irq;
	uint32_t gsi;
	uint16_t flags; /* MPS INTI flags: polarity bits 0-1, trigger bits 2-3 */
};

struct acpi_mcfg {
	uint64_t base;
	uint16_t segment;
	uint8_t bus_start;
	uint8_t bus_end;
};

/* DMA remapping hardware unit (DMAR DRHD, Intel VT-d 3.0 section 8.3). */
struct acpi_drhd {
	uint64_t base; /* register page */
	uint16_t segment;
	bool include_all; /* covers every device of its segment not named by another unit */
};

/* An IOAPIC a DRHD's device scope names (type 3): its MADT id and PCI source id (bus:dev.fn of
 * the messages it sends, which interrupt remapping validates). */
struct acpi_ioapic_sid {
	uint8_t id;
	uint16_t sid;
};

struct acpi_info {
	uint64_t rsdp_phys;
	uint8_t revision;    /* RSDP revision: 0 = RSDT only, 2+ = XSDT */
	uint32_t bad_tables; /* tables rejected (checksum, length, layout) */

	bool has_madt;
	uint64_t lapic_phys;
	bool has_8259;  /* MADT flags bit 0 (PCAT_COMPAT) */
	uint32_t ncpus; /* enabled (or online-capable) processors */
	struct acpi_cpu cpus[ACPI_MAX_CPUS];
	uint32_t nioapics;
	struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
	uint32_t nisos;
	struct acpi_iso isos[ACPI_MAX_ISOS];

	bool has_fadt;
	uint64_t dsdt_phys;
	uint16_t sci_irq;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint32_t pm1a_cnt; /* I/O port of PM1a control block (0 = none) */
	uint32_t pm1b_cnt;
	uint16_t iapc_boot_arch; /* bit 1: 8042 present */
	bool reset_supported;    /* FADT flags bit 10 and a usable reset_reg */
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	bool has_s5;              /* \_S5 found in the DSDT */
	uint8_t s5_typa, s5_typb; /* SLP_TYPa/b values for soft-off */

	bool has_hpet;
	uint64_t hpet_phys;

	uint32_t nmcfg;
	struct acpi_mcfg mcfg[ACPI_MAX_MCFG];

	bool has_dmar;
	uint8_t dmar_haw; /* host address width in bits */
	uint32_t ndrhd;
	struct acpi_drhd drhd[ACPI_MAX_DRHD];
	uint32_t nioapic_sids;
	struct acpi_ioapic_sid ioapic_sid[ACPI_MAX_IOAPICS];
};

/*
 * Returns a pointer to len readable bytes at physical address phys, or NULL
 * if that range is not readable (outside RAM/firmware, or not mapped).
 * Pointers it returns must stay valid until acpi_parse/acpi_find_rsdp_bios
 * returns (the parser holds the root table while it maps the others), and
 * need not be aligned (fields are read byte-wise).
 */
typedef const void *(*acpi_map_fn)(uint64_t phys, size_t len, void *ctx);
/* printf-like reporting of problems (malformed tables and the like). */
typedef void (*acpi_log_fn)(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct acpi_env {
	acpi_map_fn map;
	acpi_log_fn log;
	void *ctx;
};

/*
 * Search the BIOS areas for the RSDP: the first KiB of the EBDA (segment at
 * physical 0x40E) and 0xE0000-0xFFFFF, on 16-byte boundaries, with checksum
 * (and extended checksum for revision >= 2). Returns its physical address,
 * or 0 if none is found.
 */
uint64_t acpi_find_rsdp_bios(const struct acpi_env *env);

/*
 * Parse every table reachable from the RSDP at rsdp_phys into *out (zeroed
 * first). Returns 0 on success (some tables may still have been rejected:
 * see bad_tables), or -1 if the RSDP itself or its root table is unusable,
 * in which case *out holds only rsdp_phys and bad_tables.
 */
int acpi_parse(uint64_t rsdp_phys, const struct acpi_env *env, struct acpi_info *out)
    __attribute__((warn_unused_result));

#endif
