/*
 * Host tests for lib/string.c's memory routines against the host libc's,
 * every length 0..300 at every source and destination alignment 0..15, and
 * overlapping moves both ways. lib/string.c is compiled here with its names
 * prefixed hl_ (mk/khost.mk) so both implementations live in one binary.
 */
#include "hl_string.h"
#include "ktharness.h"

#include <stdlib.h>
#include <string.h>

#define SPAN 400

static unsigned char a[SPAN + 64], b[SPAN + 64], want[SPAN + 64];

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 131u + i * 7u + (i >> 3));
}

/* regression: rep movsb made every copied byte one instruction under icount; the word copy
 * that replaced it must copy every length and alignment exactly and touch nothing else */
static void string_memcpy_every_length_and_alignment(void)
{
	for (size_t so = 0; so < 16; so++)
		for (size_t doff = 0; doff < 16; doff++)
			for (size_t n = 0; n <= 300; n++) {
				fill(a, sizeof(a), (unsigned)(n + so));
				fill(b, sizeof(b), 99);
				memcpy(want, b, sizeof(b));
				memcpy(want + doff, a + so, n);
				void *r = hl_memcpy(b + doff, a + so, n);
				if (r != b + doff || memcmp(b, want, sizeof(b))) {
					kt_fail(__FILE__, __LINE__, "memcpy n %zu src+%zu dst+%zu",
					        n, so, doff);
					return;
				}
			}
}

static void string_memset_every_length_and_alignment(void)
{
	static const int vals[] = {0, 0x5a, 0xff, 0x1234 /* only the low byte counts */};

	for (size_t v = 0; v < 4; v++)
		for (size_t off = 0; off < 16; off++)
			for (size_t n = 0; n <= 300; n++) {
				fill(b, sizeof(b), (unsigned)n);
				memcpy(want, b, sizeof(b));
				memset(want + off, vals[v], n);
				void *r = hl_memset(b + off, vals[v], n);
				if (r != b + off || memcmp(b, want, sizeof(b))) {
					kt_fail(__FILE__, __LINE__, "memset %#x n %zu off %zu",
					        vals[v], n, off);
					return;
				}
			}
}

static void string_memmove_overlapping_both_ways(void)
{
	for (size_t from = 0; from < 40; from++)
		for (size_t to = 0; to < 40; to++)
			for (size_t n = 0; n <= 300; n += (n < 40 ? 1 : 13)) {
				fill(b, sizeof(b), (unsigned)(from * 41 + to));
				memcpy(want, b, sizeof(b));
				memmove(want + to, want + from, n);
				void *r = hl_memmove(b + to, b + from, n);
				if (r != b + to || memcmp(b, want, sizeof(b))) {
					kt_fail(__FILE__, __LINE__, "memmove n %zu from %zu to %zu",
					        n, from, to);
					return;
				}
			}
}

static const struct kt_case cases[] = {
    KT(string_memcpy_every_length_and_alignment),
    KT(string_memset_every_length_and_alignment),
    KT(string_memmove_overlapping_both_ways),
};

int main(int argc, char **argv)
{
	return kt_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
