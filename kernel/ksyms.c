/*
 * Kernel symbol lookup for backtraces. The table is generated from the
 * first link by tools/gensyms.py and linked into .ksyms in the second link
 * (placed after all code, so code addresses do not move).
 */
#include <kernel/ksyms.h>

struct ksym {
	uint64_t addr;
	const char *name;
};

extern const struct ksym ksyms_table[] __attribute__((weak));
extern const uint64_t ksyms_count __attribute__((weak));

/* Name of the function containing addr and the offset into it, or NULL. */
const char *ksyms_lookup(uint64_t addr, uint64_t *offset)
{
	if (!&ksyms_count || !ksyms_count)
		return NULL;
	uint64_t lo = 0, hi = ksyms_count;
	while (hi - lo > 1) {
		uint64_t mid = (lo + hi) / 2;
		if (ksyms_table[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (ksyms_table[lo].addr > addr)
		return NULL;
	*offset = addr - ksyms_table[lo].addr;
	return ksyms_table[lo].name;
}
