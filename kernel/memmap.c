/* Memory-map normalization: pure logic, no allocation, bounded loops. */
#include <kernel/memmap.h>

#define MAX_POINTS (2 * BOOT_MAX_MMAP)

/* Higher rank wins an overlap. */
static int rank(uint32_t type)
{
	switch (type) {
	case MEM_USABLE:
		return 0;
	case MEM_ACPI_RECLAIM:
		return 1;
	case MEM_ACPI_NVS:
		return 2;
	case MEM_BAD:
		return 4;
	default:
		return 3;
	}
}

const char *memmap_type_name(uint32_t type)
{
	static const char *names[] = {"?", "usable", "reserved", "ACPI data", "ACPI NVS", "bad"};

	return type < ARRAY_SIZE(names) ? names[type] : "?";
}

/* Sorted unique boundary points of all non-empty entries; returns the count. */
static uint32_t collect_points(const struct boot_mmap_entry *in, uint32_t n, uint64_t *pts)
{
	uint32_t np = 0;

	for (uint32_t i = 0; i < n && i < BOOT_MAX_MMAP; i++) {
		if (in[i].len == 0 || in[i].base + in[i].len < in[i].base)
			continue;
		pts[np++] = in[i].base;
		pts[np++] = in[i].base + in[i].len;
	}
	for (uint32_t i = 1; i < np; i++) { /* insertion sort */
		uint64_t v = pts[i];
		uint32_t j = i;
		while (j > 0 && pts[j - 1] > v) {
			pts[j] = pts[j - 1];
			j--;
		}
		pts[j] = v;
	}
	uint32_t u = 0;
	for (uint32_t i = 0; i < np; i++)
		if (u == 0 || pts[u - 1] != pts[i])
			pts[u++] = pts[i];
	return u;
}

/* Type covering [a, b) by the strongest entry, or 0 if nothing covers it. */
static uint32_t type_at(const struct boot_mmap_entry *in, uint32_t n, uint64_t a, uint64_t b)
{
	uint32_t best = 0;

	for (uint32_t i = 0; i < n && i < BOOT_MAX_MMAP; i++) {
		const struct boot_mmap_entry *e = &in[i];
		if (e->len == 0 || e->base > a || e->base + e->len < b ||
		    e->base + e->len < e->base)
			continue;
		if (best == 0 || rank(e->type) > rank(best))
			best = e->type;
	}
	return best;
}

static uint32_t count_anomalies(const struct boot_mmap_entry *in, uint32_t n)
{
	uint32_t a = 0;

	for (uint32_t i = 0; i < n && i < BOOT_MAX_MMAP; i++) {
		if (in[i].len == 0 || in[i].base + in[i].len < in[i].base)
			a++;
		if (i > 0 && in[i].base < in[i - 1].base)
			a++;
		for (uint32_t j = 0; j < i; j++)
			if (in[i].len && in[j].len && in[i].base < in[j].base + in[j].len &&
			    in[j].base < in[i].base + in[i].len)
				a++;
	}
	if (n > BOOT_MAX_MMAP)
		a += n - BOOT_MAX_MMAP;
	return a;
}

uint32_t memmap_normalize(const struct boot_mmap_entry *in, uint32_t n, struct boot_mmap_entry *out,
                          uint32_t max, uint32_t *anomalies)
{
	uint64_t pts[MAX_POINTS];
	uint32_t np = collect_points(in, n, pts), nout = 0;

	*anomalies = count_anomalies(in, n);
	for (uint32_t i = 0; i + 1 < np; i++) {
		uint32_t t = type_at(in, n, pts[i], pts[i + 1]);
		if (t == 0)
			continue;
		struct boot_mmap_entry *last = nout ? &out[nout - 1] : NULL;
		if (last && last->type == t && last->base + last->len == pts[i]) {
			last->len += pts[i + 1] - pts[i];
			continue;
		}
		if (nout == max) {
			(*anomalies)++;
			break;
		}
		out[nout++] = (struct boot_mmap_entry){pts[i], pts[i + 1] - pts[i], t};
	}
	/* Usable memory in whole pages only. */
	uint32_t k = 0;
	for (uint32_t i = 0; i < nout; i++) {
		struct boot_mmap_entry e = out[i];
		if (e.type == MEM_USABLE) {
			uint64_t s = ALIGN_UP(e.base, PAGE_SIZE),
			         end = ALIGN_DOWN(e.base + e.len, PAGE_SIZE);
			if (s < e.base || end <= s) { /* s wraps for a base in the last page */
				(*anomalies)++;
				continue;
			}
			e.base = s;
			e.len = end - s;
		}
		out[k++] = e;
	}
	return k;
}
