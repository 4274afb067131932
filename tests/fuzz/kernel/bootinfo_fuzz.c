/*
 * libFuzzer target for the boot-information parsers. The input is a fake
 * physical memory image starting at physical 0: it is parsed as Multiboot2
 * info and as a PVH start_info at 0, the resulting maps go through
 * memmap_normalize, and the input is also decoded directly as raw map
 * entries. Normalized maps are checked against the spec's invariants.
 */
#include <kernel/bootinfo.h>
#include <kernel/memmap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t *mem;
static size_t mem_size;

static const void *fuzz_map(uint64_t phys, size_t len)
{
	if (phys > mem_size || len > mem_size - phys)
		return NULL;
	return mem + phys;
}

/* True if some valid input entry of this type contains byte address a. */
static int covered(const struct boot_mmap_entry *in, uint32_t n, uint64_t a, uint32_t type)
{
	for (uint32_t i = 0; i < n && i < BOOT_MAX_MMAP; i++)
		if (in[i].type == type && in[i].len && in[i].base + in[i].len > in[i].base &&
		    a >= in[i].base && a - in[i].base < in[i].len)
			return 1;
	return 0;
}

/* Report a broken invariant with the entry at fault, then crash for libFuzzer. */
static void bad_entry(const char *why, const struct boot_mmap_entry *e)
{
	fprintf(stderr, "memmap invariant broken: %s: base %#llx len %#llx type %u\n", why,
	        (unsigned long long)e->base, (unsigned long long)e->len, e->type);
	abort();
}

/* Normalize and check: sorted, disjoint, merged, page-aligned usable, inside the input. */
static void check_normalize(const struct boot_mmap_entry *in, uint32_t n, uint32_t max)
{
	static struct boot_mmap_entry out[BOOT_MAX_MMAP];
	uint32_t an;

	if (max > BOOT_MAX_MMAP)
		max = BOOT_MAX_MMAP;
	uint32_t k = memmap_normalize(in, n, out, max, &an);
	if (k > max)
		abort();
	for (uint32_t i = 0; i < k; i++) {
		const struct boot_mmap_entry *e = &out[i];
		if (!e->len || e->base + e->len < e->base)
			bad_entry("empty or wrapping", e);
		if (e->type == MEM_USABLE && ((e->base | e->len) & (PAGE_SIZE - 1)))
			bad_entry("usable not page-aligned", e);
		if (!covered(in, n, e->base, e->type) ||
		    !covered(in, n, e->base + e->len - 1, e->type))
			bad_entry("not covered by an input entry of its type", e);
		if (i && out[i - 1].base + out[i - 1].len > e->base)
			bad_entry("overlaps or out of order", e);
		if (i && out[i - 1].base + out[i - 1].len == e->base && out[i - 1].type == e->type)
			bad_entry("not merged with its neighbour", e);
	}
}

static void check_info(const struct boot_info *bi)
{
	char val[32];

	if (bi->nmmap > BOOT_MAX_MMAP || bi->nmods > BOOT_MAX_MODS)
		abort();
	if (strnlen(bi->cmdline, sizeof(bi->cmdline)) == sizeof(bi->cmdline) ||
	    strnlen(bi->loader, sizeof(bi->loader)) == sizeof(bi->loader))
		abort();
	for (uint32_t i = 0; i < bi->nmods; i++)
		if (bi->mods[i].end < bi->mods[i].start ||
		    strnlen(bi->mods[i].cmdline, sizeof(bi->mods[i].cmdline)) ==
		        sizeof(bi->mods[i].cmdline))
			abort();
	for (uint32_t i = 0; i < bi->nmmap; i++)
		if (bi->mmap[i].type < MEM_USABLE || bi->mmap[i].type > MEM_BAD)
			abort();
	(void)bootinfo_cmdline_has(bi, "quiet");
	if (bootinfo_cmdline_get(bi, "console", val, sizeof(val)) &&
	    strnlen(val, sizeof(val)) == sizeof(val))
		abort();
	check_normalize(bi->mmap, bi->nmmap, BOOT_MAX_MMAP);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct boot_info bi;
	static struct boot_mmap_entry raw[BOOT_MAX_MMAP + 32];

	mem = data;
	mem_size = size;
	if (bootinfo_parse(BOOT_MB2, 0, fuzz_map, &bi) == 0)
		check_info(&bi);
	if (bootinfo_parse(BOOT_PVH, 0, fuzz_map, &bi) == 0)
		check_info(&bi);

	/* The input as raw 20-byte (base, len, type) records; byte 0 picks the output capacity. */
	uint32_t n = 0;
	for (size_t off = 1; off + 20 <= size && n < BOOT_MAX_MMAP + 32; off += 20, n++) {
		raw[n].base = rd64(data + off);
		raw[n].len = rd64(data + off + 8);
		raw[n].type = data[off + 16] % 7;
	}
	if (size)
		check_normalize(raw, n, 1 + data[0] % BOOT_MAX_MMAP);
	mem = NULL;
	return 0;
}
