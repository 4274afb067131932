/*
 * ACPI table parser: RSDP -> XSDT/RSDT -> MADT, FADT (+ DSDT \_S5), HPET,
 * MCFG. Interface and contract: include/arch/acpi.h; notes: docs/acpi.md.
 *
 * Every byte comes from firmware, so nothing here trusts it: a table is used
 * only after its header was mapped, its length bounded and the whole table
 * mapped and checksummed; every field read is bounds-checked against that
 * validated length. Fields are read byte-wise (little-endian) because ACPI
 * tables are not aligned and UBSan (rightly) rejects misaligned struct
 * access. Pure freestanding C: no libc, no allocation, no recursion, every
 * loop bounded by a validated length or a constant.
 */
#include <lib/bytes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/acpi.h"
#include "acpi_aml.h"

#define ACPI_HDR_LEN        36u        /* standard System Description Table header */
#define ACPI_TABLE_MAX      (1u << 20) /* no sane table is larger than 1 MiB */
#define ACPI_ROOT_MAX       256u       /* root entries looked at */
#define ACPI_RSDP_V1_LEN    20u
#define ACPI_RSDP_V2_LEN    36u
#define ACPI_RSDP_MAX_LEN   4096u  /* bound on the RSDP's own length field */
#define ACPI_EBDA_PTR       0x40Eu /* BDA word: EBDA segment */
#define ACPI_EBDA_SCAN      1024u
#define ACPI_BIOS_LO        0xE0000u
#define ACPI_BIOS_LEN       0x20000u
#define ACPI_MADT_HDR_LEN   44u
#define ACPI_FADT_V1_LEN    116u /* ACPI 1.0 FADT; anything shorter is corrupt */
#define ACPI_FADT_RESET_END 129u /* RESET_REG (116..127) + RESET_VALUE (128) */
#define ACPI_FADT_XDSDT_END 148u /* X_DSDT at 140..147 */
#define ACPI_FADT_RESET_SUP (1u << 10)
#define ACPI_HPET_LEN       56u
#define ACPI_MCFG_HDR_LEN   44u
#define ACPI_MCFG_ENTRY_LEN 16u

/* Report through the caller's log callback, if it gave one. */
#define acpi_log(env, ...)                                                                         \
	do {                                                                                       \
		if ((env)->log != NULL)                                                            \
			(env)->log((env)->ctx, __VA_ARGS__);                                       \
	} while (0)

/* State of one acpi_parse() call. */
struct acpi_ctx {
	const struct acpi_env *env;
	struct acpi_info *out;
	uint64_t dsdt32;    /* FADT's 32-bit DSDT, fallback when X_DSDT is unusable */
	bool seen_mcfg;     /* first valid MCFG wins */
	uint32_t cpus_drop; /* entries lost to the fixed array caps */
	uint32_t ioapic_drop;
	uint32_t iso_drop;
};

static bool bytes_eq(const uint8_t *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)s[i])
			return false;
	return true;
}

/* ACPI checksums: all bytes of the structure sum to 0 mod 256. */
static uint8_t byte_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* Printable copy of a 4-byte signature for log lines (non-ASCII -> '?'). */
static void sig_name(char name[5], const uint8_t *p)
{
	for (int i = 0; i < 4; i++)
		name[i] = (p != NULL && p[i] >= 0x20 && p[i] < 0x7F) ? (char)p[i] : '?';
	name[4] = '\0';
}

/* Map [phys, phys + len) through the caller, refusing ranges that wrap. */
static const uint8_t *map_range(const struct acpi_env *env, uint64_t phys, size_t len)
{
	if (len == 0 || phys + len < phys)
		return NULL;
	return env->map(phys, len, env->ctx);
}

static void gas_read(struct acpi_gas *g, const uint8_t *p)
{
	g->space_id = p[0];
	g->bit_width = p[1];
	g->bit_offset = p[2];
	g->access_size = p[3];
	g->address = get_le64(p + 4);
}

/*
 * Check the RSDP at phys: signature, checksum over the first 20 bytes and,
 * for revision >= 2, the extended checksum over its own length (36 bytes to
 * 4 KiB). Returns the mapped RSDP (36 readable bytes when revision >= 2, else
 * 20) or NULL after logging why it is unusable.
 */
static const uint8_t *rsdp_check(const struct acpi_env *env, uint64_t phys)
{
	const uint8_t *p = map_range(env, phys, ACPI_RSDP_V1_LEN);
	const char *why = NULL;

	if (p == NULL)
		why = "not mappable";
	else if (!bytes_eq(p, "RSD PTR ", 8))
		why = "bad signature";
	else if (byte_sum(p, ACPI_RSDP_V1_LEN) != 0)
		why = "bad checksum";
	else if (p[15] >= 2) {
		const uint8_t *x = map_range(env, phys, ACPI_RSDP_V2_LEN);
		uint32_t len = x != NULL ? get_le32(x + 20) : 0;

		if (x == NULL)
			why = "v2 part not mappable";
		else if (len < ACPI_RSDP_V2_LEN || len > ACPI_RSDP_MAX_LEN)
			why = "bad v2 length";
		else if ((p = map_range(env, phys, len)) == NULL)
			why = "v2 length not mappable";
		else if (byte_sum(p, len) != 0)
			why = "bad extended checksum";
	}
	if (why != NULL) {
		acpi_log(env, "acpi: RSDP at 0x%llx rejected: %s\n", (unsigned long long)phys, why);
		return NULL;
	}
	return p;
}

/* Scan [base, base + len) on 16-byte boundaries for a valid RSDP; 0 if none. */
static uint64_t rsdp_scan(const struct acpi_env *env, uint64_t base, uint32_t len)
{
	const uint8_t *p = map_range(env, base, len);

	if (p == NULL) {
		acpi_log(env, "acpi: BIOS area 0x%llx+%u not mappable\n", (unsigned long long)base,
		         len);
		return 0;
	}
	for (uint32_t off = 0; off + 8 <= len; off += 16)
		if (bytes_eq(p + off, "RSD PTR ", 8) && rsdp_check(env, base + off) != NULL)
			return base + off;
	return 0;
}

uint64_t acpi_find_rsdp_bios(const struct acpi_env *env)
{
	const uint8_t *w;
	uint64_t found = 0;

	if (env == NULL || env->map == NULL)
		return 0;
	w = map_range(env, ACPI_EBDA_PTR, 2);
	if (w != NULL) {
		uint64_t ebda = (uint64_t)get_le16(w) << 4;

		/* An EBDA lives between the BDA and the 640 KiB hole, or nowhere. */
		if (ebda > 0x400 && ebda < 0xA0000) {
			uint64_t room = 0xA0000 - ebda;

			found = rsdp_scan(env, ebda,
			                  room < ACPI_EBDA_SCAN ? (uint32_t)room : ACPI_EBDA_SCAN);
		}
	}
	if (found == 0)
		found = rsdp_scan(env, ACPI_BIOS_LO, ACPI_BIOS_LEN);
	return found;
}

/*
 * Map and validate the table at phys: header mappable, signature equal to
 * sig (when sig is not NULL), 36 <= length <= 1 MiB, whole table mappable,
 * checksum zero. Returns the table and its length, or NULL after logging and
 * counting a bad table.
 */
static const uint8_t *table_load(struct acpi_ctx *c, uint64_t phys, const char *sig,
                                 uint32_t *len_out)
{
	const uint8_t *h = phys != 0 ? map_range(c->env, phys, ACPI_HDR_LEN) : NULL;
	const uint8_t *t = NULL;
	const char *why = NULL;
	uint32_t len = h != NULL ? get_le32(h + 4) : 0;
	char name[5];

	if (phys == 0)
		why = "null address";
	else if (h == NULL)
		why = "header not mappable";
	else if (sig != NULL && !bytes_eq(h, sig, 4))
		why = "unexpected signature";
	else if (len < ACPI_HDR_LEN || len > ACPI_TABLE_MAX)
		why = "bad length";
	else if ((t = map_range(c->env, phys, len)) == NULL)
		why = "length runs past mappable memory";
	else if (byte_sum(t, len) != 0)
		why = "bad checksum";
	if (why != NULL) {
		sig_name(name, h != NULL ? h : (const uint8_t *)sig);
		acpi_log(c->env, "acpi: table %s at 0x%llx (length %u) rejected: %s\n", name,
		         (unsigned long long)phys, len, why);
		c->out->bad_tables++;
		return NULL;
	}
	*len_out = len;
	return t;
}

/* A table that passed table_load() but whose own layout is wrong. */
static void table_bad(struct acpi_ctx *c, const char *sig, const char *why)
{
	acpi_log(c->env, "acpi: %s rejected: %s\n", sig, why);
	c->out->bad_tables++;
}

/* Record a processor once (firmware may list one APIC ID twice); cap at ACPI_MAX_CPUS. */
static void madt_add_cpu(struct acpi_ctx *c, uint32_t apic_id, uint32_t uid, bool x2apic)
{
	struct acpi_info *o = c->out;

	for (uint32_t i = 0; i < o->ncpus; i++) {
		if (o->cpus[i].apic_id == apic_id) {
			acpi_log(c->env, "acpi: MADT lists APIC ID %u twice, ignored\n", apic_id);
			return;
		}
	}
	if (o->ncpus >= ACPI_MAX_CPUS) {
		c->cpus_drop++;
		return;
	}
	o->cpus[o->ncpus].apic_id = apic_id;
	o->cpus[o->ncpus].uid = uid;
	o->cpus[o->ncpus].x2apic = x2apic;
	o->ncpus++;
}

static void madt_add_ioapic(struct acpi_ctx *c, const uint8_t *e)
{
	struct acpi_info *o = c->out;

	if (o->nioapics >= ACPI_MAX_IOAPICS) {
		c->ioapic_drop++;
		return;
	}
	o->ioapics[o->nioapics].id = e[2];
	o->ioapics[o->nioapics].phys = get_le32(e + 4);
	o->ioapics[o->nioapics].gsi_base = get_le32(e + 8);
	o->nioapics++;
}

static void madt_add_iso(struct acpi_ctx *c, const uint8_t *e)
{
	struct acpi_info *o = c->out;

	if (o->nisos >= ACPI_MAX_ISOS) {
		c->iso_drop++;
		return;
	}
	o->isos[o->nisos].bus_irq = e[3];
	o->isos[o->nisos].gsi = get_le32(e + 4);
	o->isos[o->nisos].flags = get_le16(e + 8);
	o->nisos++;
}

/*
 * Use one MADT entry e of elen bytes (elen >= 2 and inside the table).
 * Returns false if the entry is too short for its type. Processors count
 * when enabled (flags bit 0) or online-capable (bit 1); other types are
 * skipped.
 */
static bool madt_entry(struct acpi_ctx *c, const uint8_t *e, uint8_t elen)
{
	switch (e[0]) {
	case 0: /* processor local APIC */
		if (elen < 8)
			return false;
		if (get_le32(e + 4) & 3u)
			madt_add_cpu(c, e[3], e[2], false);
		return true;
	case 1: /* I/O APIC */
		if (elen < 12)
			return false;
		madt_add_ioapic(c, e);
		return true;
	case 2: /* interrupt source override */
		if (elen < 10)
			return false;
		madt_add_iso(c, e);
		return true;
	case 5: /* local APIC address override */
		if (elen < 12)
			return false;
		c->out->lapic_phys = get_le64(e + 4);
		return true;
	case 9: /* processor local x2APIC */
		if (elen < 16)
			return false;
		if (get_le32(e + 8) & 3u)
			madt_add_cpu(c, get_le32(e + 4), get_le32(e + 12), true);
		return true;
	default:
		return true;
	}
}

/*
 * Parse a validated MADT. Entries are walked while their length fits; a
 * zero or overflowing entry length ends the walk (the entries before it are
 * kept) and, like a too-short entry, counts the table as bad.
 */
static void madt_parse(struct acpi_ctx *c, const uint8_t *t, uint32_t len)
{
	struct acpi_info *o = c->out;
	bool bad = false;
	uint32_t off = ACPI_MADT_HDR_LEN;

	if (len < ACPI_MADT_HDR_LEN) {
		table_bad(c, "MADT", "shorter than its fixed part");
		return;
	}
	o->has_madt = true;
	o->lapic_phys = get_le32(t + 36);
	o->has_8259 = (get_le32(t + 40) & 1u) != 0;
	/* Bounded: off grows by at least 2 per step and len <= 1 MiB. */
	while (off < len) {
		uint8_t elen = len - off >= 2 ? t[off + 1] : 0;

		if (elen < 2 || elen > len - off) {
			acpi_log(c->env, "acpi: MADT entry at offset %u has bad length %u\n", off,
			         elen);
			bad = true;
			break;
		}
		if (!madt_entry(c, t + off, elen)) {
			acpi_log(c->env, "acpi: MADT entry type %u too short (%u)\n", t[off], elen);
			bad = true;
		}
		off += elen;
	}
	if (c->cpus_drop + c->ioapic_drop + c->iso_drop != 0)
		acpi_log(c->env, "acpi: MADT: dropped %u CPUs, %u IOAPICs, %u ISOs over the caps\n",
		         c->cpus_drop, c->ioapic_drop, c->iso_drop);
	if (bad)
		table_bad(c, "MADT", "malformed entries (entries before them kept)");
}

/* PM1x control block from an X_ GAS when the 32-bit field is empty: I/O space only. */
static uint32_t fadt_x_port(const uint8_t *t, uint32_t len, uint32_t off)
{
	struct acpi_gas g;

	if (len < off + 12)
		return 0;
	gas_read(&g, t + off);
	return (g.space_id == 1 && g.address <= 0xFFFF) ? (uint32_t)g.address : 0;
}

/*
 * Parse a validated FADT. Fields past ACPI 1.0's 116 bytes (RESET_REG,
 * X_DSDT, X_PM1x_CNT_BLK) are used only when the table is long enough to
 * hold them; X_DSDT wins over DSDT when present and nonzero.
 */
static void fadt_parse(struct acpi_ctx *c, const uint8_t *t, uint32_t len)
{
	struct acpi_info *o = c->out;
	uint32_t flags;

	if (len < ACPI_FADT_V1_LEN) {
		table_bad(c, "FADT", "shorter than ACPI 1.0's 116 bytes");
		return;
	}
	o->has_fadt = true;
	c->dsdt32 = get_le32(t + 40);
	o->dsdt_phys = c->dsdt32;
	if (len >= ACPI_FADT_XDSDT_END && get_le64(t + 140) != 0)
		o->dsdt_phys = get_le64(t + 140);
	o->sci_irq = get_le16(t + 46);
	o->smi_cmd = get_le32(t + 48);
	o->acpi_enable = t[52];
	o->pm1a_cnt = get_le32(t + 64);
	o->pm1b_cnt = get_le32(t + 68);
	if (o->pm1a_cnt == 0)
		o->pm1a_cnt = fadt_x_port(t, len, 172);
	if (o->pm1b_cnt == 0)
		o->pm1b_cnt = fadt_x_port(t, len, 184);
	o->iapc_boot_arch = get_le16(t + 109);
	flags = get_le32(t + 112);
	if ((flags & ACPI_FADT_RESET_SUP) && len >= ACPI_FADT_RESET_END) {
		gas_read(&o->reset_reg, t + 116);
		o->reset_value = t[128];
		/* Usable: memory, I/O or PCI config space at a nonzero address. */
		o->reset_supported = o->reset_reg.address != 0 && o->reset_reg.space_id <= 2;
		if (!o->reset_supported)
			acpi_log(c->env, "acpi: FADT RESET_REG unusable (space %u)\n",
			         o->reset_reg.space_id);
	}
}

static void hpet_parse(struct acpi_ctx *c, const uint8_t *t, uint32_t len)
{
	struct acpi_gas g;

	if (len < ACPI_HPET_LEN) {
		table_bad(c, "HPET", "too short");
		return;
	}
	gas_read(&g, t + 40);
	if (g.space_id != 0 || g.address == 0) {
		table_bad(c, "HPET", "base address not in memory space");
		return;
	}
	c->out->has_hpet = true;
	c->out->hpet_phys = g.address;
}

/* Parse a validated MCFG: 16-byte allocations after a 44-byte header, capped. */
static void mcfg_parse(struct acpi_ctx *c, const uint8_t *t, uint32_t len)
{
	struct acpi_info *o = c->out;
	uint32_t n, dropped = 0;

	if (len < ACPI_MCFG_HDR_LEN) {
		table_bad(c, "MCFG", "too short");
		return;
	}
	c->seen_mcfg = true;
	n = (len - ACPI_MCFG_HDR_LEN) / ACPI_MCFG_ENTRY_LEN;
	if ((len - ACPI_MCFG_HDR_LEN) % ACPI_MCFG_ENTRY_LEN != 0)
		acpi_log(c->env, "acpi: MCFG has %u trailing bytes, ignored\n",
		         (len - ACPI_MCFG_HDR_LEN) % ACPI_MCFG_ENTRY_LEN);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = t + ACPI_MCFG_HDR_LEN + i * ACPI_MCFG_ENTRY_LEN;
		struct acpi_mcfg *m;

		if (get_le64(e) == 0 || e[10] > e[11]) {
			acpi_log(c->env, "acpi: MCFG entry %u invalid, ignored\n", i);
			continue;
		}
		if (o->nmcfg >= ACPI_MAX_MCFG) {
			dropped++;
			continue;
		}
		m = &o->mcfg[o->nmcfg];
		m->base = get_le64(e);
		m->segment = get_le16(e + 8);
		m->bus_start = e[10];
		m->bus_end = e[11];
		o->nmcfg++;
	}
	if (dropped != 0)
		acpi_log(c->env, "acpi: MCFG: dropped %u entries over the cap of %u\n", dropped,
		         (unsigned)ACPI_MAX_MCFG);
}

#define ACPI_DMAR_HDR_LEN  48u /* header, host address width, flags, reserved */
#define ACPI_DMAR_DRHD_LEN 16u /* a DRHD without device scopes */

/*
 * The device scopes of a DRHD (VT-d 3.0 section 8.3.1): only IOAPICs (type
 * 3) are kept, with their source id, for interrupt remapping; the units in
 * use cover all PCI devices, so PCI scopes are not needed. A path of more
 * than one hop (an IOAPIC behind a bridge) would need the bridge's
 * secondary bus: not taken. A scope whose length is short or runs past the
 * structure ends the walk.
 */
static void dmar_scopes(struct acpi_ctx *c, const uint8_t *e, uint16_t elen)
{
	struct acpi_info *o = c->out;

	for (uint32_t off = ACPI_DMAR_DRHD_LEN; off + 6 <= elen;) {
		const uint8_t *s = e + off;
		if (s[1] < 6 || s[1] > elen - off) {
			acpi_log(c->env, "acpi: DMAR device scope of length %u, scopes ended\n",
			         s[1]);
			return;
		}
		if (s[0] == 3 && s[1] == 8 && o->nioapic_sids < ACPI_MAX_IOAPICS)
			o->ioapic_sid[o->nioapic_sids++] = (struct acpi_ioapic_sid){
			    s[4], (uint16_t)(s[5] << 8 | (s[6] & 31) << 3 | (s[7] & 7))};
		off += s[1];
	}
}

/* One DRHD structure and its IOAPIC scopes. */
static void dmar_drhd(struct acpi_ctx *c, const uint8_t *e, uint16_t elen)
{
	struct acpi_info *o = c->out;

	if (elen < ACPI_DMAR_DRHD_LEN || get_le64(e + 8) == 0 || (get_le64(e + 8) & 0xfff)) {
		acpi_log(c->env, "acpi: DMAR DRHD invalid, ignored\n");
		return;
	}
	if (o->ndrhd >= ACPI_MAX_DRHD) {
		acpi_log(c->env, "acpi: DMAR: more than %u remapping units, rest ignored\n",
		         (unsigned)ACPI_MAX_DRHD);
		return;
	}
	o->drhd[o->ndrhd++] = (struct acpi_drhd){get_le64(e + 8), get_le16(e + 6), e[4] & 1};
	dmar_scopes(c, e, elen);
}

/* The remapping structures: each starts with type and length; a length that runs past the table
 * ends the walk. */
static void dmar_parse(struct acpi_ctx *c, const uint8_t *t, uint32_t len)
{
	if (len < ACPI_DMAR_HDR_LEN) {
		table_bad(c, "DMAR", "too short");
		return;
	}
	c->out->has_dmar = true;
	c->out->dmar_haw = (uint8_t)(t[36] + 1);
	for (uint32_t off = ACPI_DMAR_HDR_LEN; off + 4 <= len;) {
		uint16_t type = get_le16(t + off), elen = get_le16(t + off + 2);
		if (elen < 4 || elen > len - off) {
			acpi_log(c->env, "acpi: DMAR structure at %u has length %u, walk ended\n",
			         off, elen);
			return;
		}
		if (type == 0)
			dmar_drhd(c, t + off, elen);
		off += elen;
	}
}

/* Load the DSDT the FADT named (X_DSDT, else the 32-bit DSDT) and find \_S5. */
static void dsdt_parse(struct acpi_ctx *c)
{
	uint32_t len = 0;
	const uint8_t *t = table_load(c, c->out->dsdt_phys, "DSDT", &len);
	const char *why;

	if (t == NULL && c->dsdt32 != 0 && c->dsdt32 != c->out->dsdt_phys) {
		acpi_log(c->env, "acpi: X_DSDT unusable, trying 32-bit DSDT\n");
		c->out->dsdt_phys = c->dsdt32;
		t = table_load(c, c->dsdt32, "DSDT", &len);
	}
	if (t == NULL)
		return;
	why = acpi_aml_find_s5(t + ACPI_HDR_LEN, len - ACPI_HDR_LEN, &c->out->s5_typa,
	                       &c->out->s5_typb);
	c->out->has_s5 = why == NULL;
	if (why != NULL)
		acpi_log(c->env, "acpi: no usable \\_S5 in the DSDT (%s): no soft-off\n", why);
}

/* Whether a valid table of t's kind was already used (the first one wins). */
static bool table_seen(const struct acpi_ctx *c, const uint8_t *t)
{
	if (bytes_eq(t, "APIC", 4))
		return c->out->has_madt;
	if (bytes_eq(t, "FACP", 4))
		return c->out->has_fadt;
	if (bytes_eq(t, "HPET", 4))
		return c->out->has_hpet;
	if (bytes_eq(t, "MCFG", 4))
		return c->seen_mcfg;
	if (bytes_eq(t, "DMAR", 4))
		return c->out->has_dmar;
	return false;
}

/* Validate the table at phys and hand it to its parser; other kinds are ignored. */
static void table_parse(struct acpi_ctx *c, uint64_t phys)
{
	uint32_t len = 0;
	const uint8_t *t = table_load(c, phys, NULL, &len);
	char name[5];

	if (t == NULL)
		return;
	if (table_seen(c, t)) {
		sig_name(name, t);
		acpi_log(c->env, "acpi: duplicate %s at 0x%llx ignored\n", name,
		         (unsigned long long)phys);
		return;
	}
	if (bytes_eq(t, "APIC", 4))
		madt_parse(c, t, len);
	else if (bytes_eq(t, "FACP", 4))
		fadt_parse(c, t, len);
	else if (bytes_eq(t, "HPET", 4))
		hpet_parse(c, t, len);
	else if (bytes_eq(t, "MCFG", 4))
		mcfg_parse(c, t, len);
	else if (bytes_eq(t, "DMAR", 4))
		dmar_parse(c, t, len);
}

/* Walk the root table's entries (4 bytes each in an RSDT, 8 in an XSDT). */
static void root_walk(struct acpi_ctx *c, const uint8_t *root, uint32_t len, uint32_t esz)
{
	uint32_t n = (len - ACPI_HDR_LEN) / esz;

	if (n > ACPI_ROOT_MAX) {
		acpi_log(c->env, "acpi: root table has %u entries, using the first %u\n", n,
		         (unsigned)ACPI_ROOT_MAX);
		n = ACPI_ROOT_MAX;
	}
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = root + ACPI_HDR_LEN + i * esz;

		table_parse(c, esz == 8 ? get_le64(e) : get_le32(e));
	}
}

int acpi_parse(uint64_t rsdp_phys, const struct acpi_env *env, struct acpi_info *out)
{
	struct acpi_ctx c = {.env = env, .out = out};
	const uint8_t *rsdp, *root = NULL;
	uint32_t root_len = 0, esz = 8;
	uint64_t xsdt;

	*out = (struct acpi_info){0};
	out->rsdp_phys = rsdp_phys;
	if (env == NULL || env->map == NULL)
		return -1;
	rsdp = rsdp_check(env, rsdp_phys);
	if (rsdp == NULL) {
		out->bad_tables++;
		return -1;
	}
	xsdt = rsdp[15] >= 2 ? get_le64(rsdp + 24) : 0;
	if (xsdt != 0)
		root = table_load(&c, xsdt, "XSDT", &root_len);
	if (root == NULL && get_le32(rsdp + 16) != 0) {
		esz = 4;
		root = table_load(&c, get_le32(rsdp + 16), "RSDT", &root_len);
	}
	if (root == NULL) {
		acpi_log(env, "acpi: no usable XSDT or RSDT\n");
		return -1;
	}
	out->revision = rsdp[15];
	root_walk(&c, root, root_len, esz);
	if (out->has_fadt && out->dsdt_phys != 0)
		dsdt_parse(&c);
	return 0;
}
