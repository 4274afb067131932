/* Ring-3 suite "rt": the runtime's allocator (pages from the runner's own memory, which outlives
 * suites). */
#include "utest.h"
#include <lib/string.h>

UTEST(rt, malloc_small_and_free_reuses)
{
	void *a = rt_malloc(24), *b = rt_malloc(24);

	UEXPECT(t, a && b && a != b && ((uintptr_t)a & 15) == 0);
	memset(a, 1, 24);
	rt_free(a);
	UEXPECT(t, rt_malloc(20) == a, "a freed block of the same class comes back");
	rt_free(b);
}

UTEST(rt, calloc_zeroes_and_checks_overflow)
{
	uint8_t *z = rt_calloc(10, 10);

	UEXPECT(t, z && z[0] == 0 && z[99] == 0);
	UEXPECT(t, rt_calloc((size_t)1 << 62, 16) == NULL, "overflow caught");
	rt_free(z);
}

/* Bug fixed: a 3-page block was taken for size class 3 when freed. */
UTEST(rt, malloc_large_uses_pages)
{
	uint8_t *p = rt_malloc(10000);

	if (!UCHECK(t, p != NULL))
		return;
	p[0] = 1, p[9999] = 2; /* both ends are mapped */
	rt_free(p);
	UEXPECT(t, rt_malloc(10000) == p, "a freed run of the same size comes back");
}
