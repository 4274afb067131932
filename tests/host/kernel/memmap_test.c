/* Host tests for kernel/memmap.c: memory-map normalization. */
#include "ktharness.h"

#include <kernel/memmap.h>
#include <string.h>

#define E(b, l, t)                                                                                 \
	{                                                                                          \
		(b), (l), (t)                                                                      \
	}

static uint32_t norm(const struct boot_mmap_entry *in, uint32_t n, struct boot_mmap_entry *out,
                     uint32_t *anom)
{
	return memmap_normalize(in, n, out, BOOT_MAX_MMAP, anom);
}

/* Compare the output with the expected entries, printing the first mismatch. */
static void check_map(const struct boot_mmap_entry *got, uint32_t ngot,
                      const struct boot_mmap_entry *want, uint32_t nwant)
{
	CHECK_EQ(ngot, nwant);
	for (uint32_t i = 0; i < ngot && i < nwant; i++) {
		CHECK_EQ(got[i].base, want[i].base);
		CHECK_EQ(got[i].len, want[i].len);
		CHECK_EQ(got[i].type, want[i].type);
	}
}

/* Structural invariants every normalized map must satisfy. */
static void check_invariants(const struct boot_mmap_entry *o, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		CHECK(o[i].len != 0);
		CHECK(o[i].base + o[i].len > o[i].base);
		if (o[i].type == MEM_USABLE)
			CHECK(o[i].base % PAGE_SIZE == 0 && o[i].len % PAGE_SIZE == 0);
		if (i == 0)
			continue;
		CHECK(o[i - 1].base + o[i - 1].len <= o[i].base);
		if (o[i - 1].base + o[i - 1].len == o[i].base)
			CHECK(o[i - 1].type != o[i].type);
	}
}

static void memmap_empty_input(void)
{
	struct boot_mmap_entry out[4];
	uint32_t an = 99;

	CHECK_EQ(norm(NULL, 0, out, &an), 0);
	CHECK_EQ(an, 0);
}

static void memmap_clean_map_unchanged(void)
{
	const struct boot_mmap_entry in[] = {
	    E(0, 0x9f000, MEM_USABLE), E(0xf0000, 0x10000, MEM_RESERVED),
	    E(0x100000, 0x7ee0000, MEM_USABLE), E(0x7fe0000, 0x20000, MEM_ACPI_RECLAIM)};
	struct boot_mmap_entry out[8];
	uint32_t an;
	uint32_t n = norm(in, 4, out, &an);

	check_map(out, n, in, 4);
	CHECK_EQ(an, 0);
}

static void memmap_unsorted_input_sorted(void)
{
	const struct boot_mmap_entry in[] = {E(0x200000, 0x1000, MEM_RESERVED),
	                                     E(0x0, 0x1000, MEM_USABLE),
	                                     E(0x100000, 0x2000, MEM_USABLE)};
	const struct boot_mmap_entry want[] = {E(0x0, 0x1000, MEM_USABLE),
	                                       E(0x100000, 0x2000, MEM_USABLE),
	                                       E(0x200000, 0x1000, MEM_RESERVED)};
	struct boot_mmap_entry out[8];
	uint32_t an;
	uint32_t n = norm(in, 3, out, &an);

	check_map(out, n, want, 3);
	CHECK(an >= 1); /* out of order is an anomaly */
}

static void memmap_adjacent_same_type_merged(void)
{
	const struct boot_mmap_entry in[] = {
	    E(0x1000, 0x1000, MEM_USABLE), E(0x2000, 0x3000, MEM_USABLE),
	    E(0x5000, 0x1000, MEM_RESERVED), E(0x6000, 0x1000, MEM_RESERVED),
	    E(0x7000, 0x1000, MEM_USABLE)};
	const struct boot_mmap_entry want[] = {E(0x1000, 0x4000, MEM_USABLE),
	                                       E(0x5000, 0x2000, MEM_RESERVED),
	                                       E(0x7000, 0x1000, MEM_USABLE)};
	struct boot_mmap_entry out[8];
	uint32_t an;
	uint32_t n = norm(in, 5, out, &an);

	check_map(out, n, want, 3);
	CHECK_EQ(an, 0);
}

/* Every ordered pair of types overlapping: the higher rank must win. */
static void memmap_overlap_stronger_type_wins(void)
{
	static const uint32_t by_rank[] = {MEM_USABLE, MEM_ACPI_RECLAIM, MEM_ACPI_NVS, MEM_RESERVED,
	                                   MEM_BAD};

	for (int a = 0; a < 5; a++)
		for (int b = 0; b < 5; b++) {
			const struct boot_mmap_entry in[] = {E(0x0, 0x4000, by_rank[a]),
			                                     E(0x2000, 0x4000, by_rank[b])};
			struct boot_mmap_entry out[8];
			uint32_t an, n = norm(in, 2, out, &an);
			uint32_t mid = by_rank[a > b ? a : b];
			struct boot_mmap_entry want[3] = {E(0, 0x2000, by_rank[a]),
			                                  E(0x2000, 0x2000, mid),
			                                  E(0x4000, 0x2000, by_rank[b])};
			uint32_t nw = 3;
			/* Equal neighbours merge. */
			if (a == b) {
				want[0] = (struct boot_mmap_entry)E(0, 0x6000, mid);
				nw = 1;
			} else if (a > b) {
				want[0].len = 0x4000;
				want[1] = want[2];
				want[1].base = 0x4000;
				nw = 2;
			} else {
				want[1].len = 0x4000;
				nw = 2;
			}
			check_map(out, n, want, nw);
			CHECK(an >= 1);
		}
}

static void memmap_contained_reserved_splits_usable(void)
{
	const struct boot_mmap_entry in[] = {E(0x0, 0x10000, MEM_USABLE),
	                                     E(0x4000, 0x2000, MEM_ACPI_NVS)};
	const struct boot_mmap_entry want[] = {E(0x0, 0x4000, MEM_USABLE),
	                                       E(0x4000, 0x2000, MEM_ACPI_NVS),
	                                       E(0x6000, 0xa000, MEM_USABLE)};
	struct boot_mmap_entry out[8];
	uint32_t an, n = norm(in, 2, out, &an);

	check_map(out, n, want, 3);
	CHECK(an >= 1);
}

static void memmap_zero_length_and_wrapping_ignored(void)
{
	const struct boot_mmap_entry in[] = {E(0x1000, 0, MEM_BAD), E(0x1000, 0x2000, MEM_USABLE),
	                                     E(0xfffffffffffff000ull, 0x2000, MEM_BAD),
	                                     E(0x2000, UINT64_MAX, MEM_RESERVED)};
	const struct boot_mmap_entry want[] = {E(0x1000, 0x2000, MEM_USABLE)};
	struct boot_mmap_entry out[8];
	uint32_t an, n = norm(in, 4, out, &an);

	check_map(out, n, want, 1);
	CHECK(an >= 3);
}

static void memmap_tiny_usable_dropped(void)
{
	/* 0x800 bytes; 0x1800 bytes straddling pages; exactly one page unaligned = less than one
	 * page. */
	const struct boot_mmap_entry in[] = {
	    E(0x1000, 0x800, MEM_USABLE), E(0x10800, 0x1000, MEM_USABLE),
	    E(0x20800, 0x1800, MEM_USABLE), E(0x30000, 0x1000, MEM_RESERVED)};
	const struct boot_mmap_entry want[] = {E(0x21000, 0x1000, MEM_USABLE),
	                                       E(0x30000, 0x1000, MEM_RESERVED)};
	struct boot_mmap_entry out[8];
	uint32_t an, n = norm(in, 4, out, &an);

	check_map(out, n, want, 2);
	CHECK_EQ(an, 2);
}

static void memmap_usable_edges_aligned_inward(void)
{
	const struct boot_mmap_entry in[] = {E(0x100123, 0x5000, MEM_USABLE),
	                                     E(0x0, 0x800, MEM_ACPI_RECLAIM),
	                                     E(0x800, 0x3000, MEM_USABLE)};
	const struct boot_mmap_entry want[] = {E(0x0, 0x800, MEM_ACPI_RECLAIM),
	                                       E(0x1000, 0x2000, MEM_USABLE),
	                                       E(0x101000, 0x4000, MEM_USABLE)};
	struct boot_mmap_entry out[8];
	uint32_t an, n = norm(in, 3, out, &an);

	check_map(out, n, want, 3);
	/* Non-usable types keep their exact byte ranges. */
	CHECK_EQ(out[0].len, 0x800);
}

static void memmap_anomalies_counted(void)
{
	struct boot_mmap_entry out[8];
	uint32_t an;
	const struct boot_mmap_entry clean[] = {E(0, 0x1000, MEM_USABLE),
	                                        E(0x1000, 0x1000, MEM_RESERVED)};
	const struct boot_mmap_entry zero[] = {E(0, 0x1000, MEM_USABLE), E(0x5000, 0, MEM_USABLE)};
	const struct boot_mmap_entry overlap[] = {E(0, 0x2000, MEM_USABLE),
	                                          E(0x1000, 0x2000, MEM_USABLE)};
	const struct boot_mmap_entry order[] = {E(0x1000, 0x1000, MEM_USABLE),
	                                        E(0, 0x1000, MEM_RESERVED)};

	(void)norm(clean, 2, out, &an);
	CHECK_EQ(an, 0);
	(void)norm(zero, 2, out, &an);
	CHECK_EQ(an, 1);
	CHECK_EQ(norm(overlap, 2, out, &an), 1);
	CHECK_EQ(an, 1);
	CHECK_EQ(out[0].len, 0x3000);
	(void)norm(order, 2, out, &an);
	CHECK_EQ(an, 1);
}

static void memmap_output_capacity_limit(void)
{
	struct boot_mmap_entry in[10], out[10];
	uint32_t an;

	for (int i = 0; i < 10; i++)
		in[i] = (struct boot_mmap_entry)E(0x10000ull * i, 0x1000,
		                                  i % 2 ? MEM_RESERVED : MEM_USABLE);
	memset(out, 0xa5, sizeof(out));
	uint32_t n = memmap_normalize(in, 10, out, 4, &an);
	CHECK_EQ(n, 4);
	for (uint32_t i = 0; i < 4; i++)
		CHECK_EQ(out[i].base, in[i].base);
	CHECK(an >= 1);              /* the dropped tail is reported */
	for (int i = 4; i < 10; i++) /* never written past max */
		CHECK_EQ(out[i].base, 0xa5a5a5a5a5a5a5a5ull);
	CHECK_EQ(memmap_normalize(in, 10, out, 0, &an), 0);
	CHECK(an >= 1);
}

static void memmap_input_beyond_max_counted(void)
{
	static struct boot_mmap_entry in[BOOT_MAX_MMAP + 5], out[BOOT_MAX_MMAP];
	uint32_t an;

	for (uint32_t i = 0; i < BOOT_MAX_MMAP + 5; i++)
		in[i] = (struct boot_mmap_entry)E(0x2000ull * i, 0x1000, MEM_USABLE);
	uint32_t n = norm(in, BOOT_MAX_MMAP + 5, out, &an);
	CHECK_EQ(n, BOOT_MAX_MMAP);
	CHECK_EQ(an, 5);
	check_invariants(out, n);
}

/* A map as SeaBIOS reports it to QEMU -m 2G (plus the 64-bit hole reservation). */
static void memmap_qemu_e820(void)
{
	const struct boot_mmap_entry in[] = {
	    E(0x0, 0x9fc00, MEM_USABLE),          E(0x9fc00, 0x400, MEM_RESERVED),
	    E(0xf0000, 0x10000, MEM_RESERVED),    E(0x100000, 0x7fee0000, MEM_USABLE),
	    E(0x7ffe0000, 0x20000, MEM_RESERVED), E(0xfeffc000, 0x4000, MEM_RESERVED),
	    E(0xfffc0000, 0x40000, MEM_RESERVED), E(0xfd00000000ull, 0x300000000ull, MEM_RESERVED)};
	const struct boot_mmap_entry want[] = {
	    E(0x0, 0x9f000, MEM_USABLE),          E(0x9fc00, 0x400, MEM_RESERVED),
	    E(0xf0000, 0x10000, MEM_RESERVED),    E(0x100000, 0x7fee0000, MEM_USABLE),
	    E(0x7ffe0000, 0x20000, MEM_RESERVED), E(0xfeffc000, 0x4000, MEM_RESERVED),
	    E(0xfffc0000, 0x40000, MEM_RESERVED), E(0xfd00000000ull, 0x300000000ull, MEM_RESERVED)};
	struct boot_mmap_entry out[16];
	uint32_t an, n = norm(in, 8, out, &an);

	check_map(out, n, want, 8);
	CHECK_EQ(an, 0);
}

static void memmap_type_names(void)
{
	CHECK_STR(memmap_type_name(MEM_USABLE), "usable");
	CHECK_STR(memmap_type_name(MEM_BAD), "bad");
	CHECK_STR(memmap_type_name(0), "?");
	CHECK_STR(memmap_type_name(6), "?");
	CHECK_STR(memmap_type_name(UINT32_MAX), "?");
}

/*
 * Bug: the usable-range alignment computes ALIGN_UP(base) without an
 * overflow check, so a usable entry inside the last page of the address
 * space rounds its start up to 0 and becomes [0, 2^64 - 4096) usable.
 */
static void memmap_usable_in_last_page_not_widened(void)
{
	const struct boot_mmap_entry in[] = {E(0xfffffffffffff800ull, 0x700, MEM_USABLE)};
	struct boot_mmap_entry out[4];
	uint32_t an, n = norm(in, 1, out, &an);

	CHECK_EQ(n, 0);
	for (uint32_t i = 0; i < n; i++)
		kt_fail(__FILE__, __LINE__, "got entry %#llx+%#llx type %u",
		        (unsigned long long)out[i].base, (unsigned long long)out[i].len,
		        out[i].type);
}

#define ORACLE_UNITS 256 /* address range of the random test, in 256-byte units (16 pages) */
#define UNIT         256

static int oracle_rank(uint32_t t)
{
	static const int r[] = {-1, 0, 3, 1, 2, 4};
	return t <= MEM_BAD ? r[t] : 3;
}

/* Build the expected map from a per-unit "strongest type" array, as the spec says. */
static uint32_t oracle(const struct boot_mmap_entry *in, uint32_t n, struct boot_mmap_entry *want)
{
	uint32_t ty[ORACLE_UNITS] = {0}, nw = 0;

	for (uint32_t i = 0; i < n; i++)
		for (uint64_t u = in[i].base / UNIT; u < (in[i].base + in[i].len) / UNIT; u++)
			if (ty[u] == 0 || oracle_rank(in[i].type) > oracle_rank(ty[u]))
				ty[u] = in[i].type;
	for (uint32_t u = 0; u < ORACLE_UNITS;) {
		uint32_t v = u;
		while (v < ORACLE_UNITS && ty[v] == ty[u])
			v++;
		uint64_t b = (uint64_t)u * UNIT, e = (uint64_t)v * UNIT;
		if (ty[u] == MEM_USABLE) {
			b = ALIGN_UP(b, PAGE_SIZE);
			e = ALIGN_DOWN(e, PAGE_SIZE);
		}
		if (ty[u] != 0 && e > b)
			want[nw++] = (struct boot_mmap_entry)E(b, e - b, ty[u]);
		u = v;
	}
	return nw;
}

/* 10,000 random maps on a 64 KiB range against the brute-force oracle. */
static void memmap_random_against_oracle(void)
{
	static struct boot_mmap_entry in[16], out[BOOT_MAX_MMAP], want[ORACLE_UNITS];

	for (int iter = 0; iter < 10000 && !kt_failed(); iter++) {
		uint32_t n = (uint32_t)kt_below(13), an;
		bool clean = true;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t b = kt_below(ORACLE_UNITS), l = kt_below(ORACLE_UNITS - b + 1);
			if (kt_below(3) == 0) { /* page-granular entries are common in practice */
				b &= ~15ull;
				l &= ~15ull;
			}
			in[i] = (struct boot_mmap_entry)E(b * UNIT, l * UNIT,
			                                  1 + (uint32_t)kt_below(6));
			clean = clean && l != 0;
		}
		uint32_t ng = norm(in, n, out, &an), nw = oracle(in, n, want);
		check_invariants(out, ng);
		check_map(out, ng, want, nw);
		/* Any zero-length entry must be reported. */
		if (!clean)
			CHECK(an >= 1);
		if (kt_failed())
			kt_fail(__FILE__, __LINE__, "failing random map: iteration %d, %u entries",
			        iter, n);
	}
}

static const struct kt_case cases[] = {
    KT(memmap_empty_input),
    KT(memmap_clean_map_unchanged),
    KT(memmap_unsorted_input_sorted),
    KT(memmap_adjacent_same_type_merged),
    KT(memmap_overlap_stronger_type_wins),
    KT(memmap_contained_reserved_splits_usable),
    KT(memmap_zero_length_and_wrapping_ignored),
    KT(memmap_tiny_usable_dropped),
    KT(memmap_usable_edges_aligned_inward),
    KT(memmap_anomalies_counted),
    KT(memmap_output_capacity_limit),
    KT(memmap_input_beyond_max_counted),
    KT(memmap_qemu_e820),
    KT(memmap_type_names),
    KT(memmap_random_against_oracle),
    KT(memmap_usable_in_last_page_not_widened), /* regression: ALIGN_UP of a usable base in the last
                                                   page wraps to 0 (kernel/memmap.c) */
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
