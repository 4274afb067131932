/*
 * Host tests for lib/fmt.c, compared with the host libc printf. lib/fmt.c is
 * compiled with -Dvsnprintf=hl_vsnprintf -Dsnprintf=hl_snprintf (see
 * mk/khost.mk) so both implementations live in one binary.
 */
#include "ktharness.h"

#include <kernel/types.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* lib/fmt.h's declarations under the names lib/fmt.c is compiled with here. */
#define vsnprintf hl_vsnprintf
#define snprintf  hl_snprintf
#include <lib/fmt.h>
#undef vsnprintf
#undef snprintf

static char kbuf[512], lbuf[512];

static void same_check(const char *file, int line, const char *what, int kret, int lret)
{
	if (kret != lret || strcmp(kbuf, lbuf))
		kt_fail(file, line, "%s: kernel \"%s\" (%d), libc \"%s\" (%d)", what, kbuf, kret,
		        lbuf, lret);
}

/* Format with both and compare text and return value. */
#define SAME(...)                                                                                  \
	do {                                                                                       \
		int kr_ = hl_snprintf(kbuf, sizeof(kbuf), __VA_ARGS__);                            \
		int lr_ = snprintf(lbuf, sizeof(lbuf), __VA_ARGS__);                               \
		same_check(__FILE__, __LINE__, #__VA_ARGS__, kr_, lr_);                            \
	} while (0)

/* Kernel output against a fixed expectation (where libc differs or is undefined). */
#define KERNEL_IS(want, ...)                                                                       \
	do {                                                                                       \
		int kr_ = hl_snprintf(kbuf, sizeof(kbuf), __VA_ARGS__);                            \
		if (strcmp(kbuf, want) || kr_ != (int)strlen(want))                                \
			kt_fail(__FILE__, __LINE__, "%s: kernel \"%s\" (%d), want \"%s\"",         \
			        #__VA_ARGS__, kbuf, kr_, want);                                    \
	} while (0)

static void fmt_plain_text_and_percent(void)
{
	SAME("hello");
	KERNEL_IS("", "%s", "");
	SAME("100%% sure %%%%");
	SAME("%c%c%c", 'a', 'b', 0x7e);
	SAME("[%s]", "");
}

static void fmt_signed_decimal(void)
{
	static const int v[] = {0, 1, -1, 42, -42, 9, 10, INT_MAX, INT_MIN, 1000000, -999999};

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		SAME("%d", v[i]);
		SAME("%i", v[i]);
		SAME("%5d|", v[i]);
		SAME("%-5d|", v[i]);
		SAME("%05d|", v[i]);
		SAME("%012i|", v[i]);
		SAME("%1d|", v[i]);
	}
}

static void fmt_unsigned_hex_octal(void)
{
	static const unsigned v[] = {0, 1, 7, 8, 15, 16, 255, 0xdeadbeef, UINT_MAX, 01234567};

	for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
		SAME("%u %x %X %o", v[i], v[i], v[i], v[i]);
		SAME("%10u|%-10x|%010X|%3o", v[i], v[i], v[i], v[i]);
		SAME("%08x", v[i]);
	}
	SAME("%#x %#X", 0x1fu, 0xabcu);
	SAME("%#010x|%#06X|%#-8x|", 0x1234u, 0xabu, 0x5u);
	SAME("%#018lx", 0xffff800000001000ul);
}

/* The kernel prints "0x0" for %#x of 0 where C prints "0"; log lines rely on it. */
static void fmt_alt_hex_zero_prints_0x0(void)
{
	KERNEL_IS("0x0", "%#x", 0u);
	KERNEL_IS("0x00000000", "%#010x", 0u);
}

static void fmt_length_modifiers(void)
{
	SAME("%ld %lu %lx", -5L, 5UL, 0xffffffffffUL);
	SAME("%lld %llu %llx", LLONG_MIN, ULLONG_MAX, ULLONG_MAX);
	SAME("%lld|%20lld|%-20lld|%020lld", (long long)INT64_MIN, (long long)INT64_MIN,
	     (long long)INT64_MIN, (long long)INT64_MIN);
	SAME("%lld %lld", LLONG_MAX, -1LL);
	SAME("%zu %zx %zd", (size_t)SIZE_MAX, (size_t)0x1000, (ssize_t)-3);
	SAME("%hd %hu %hx", (short)-2, (unsigned short)65535, (unsigned short)0x8000);
	SAME("%hhd %hhu %hhx", (signed char)-128, (unsigned char)255, (unsigned char)0x7f);
	/* An int argument wider than the modifier is truncated like libc does (clang warns: on
	 * purpose). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat"
	SAME("%hd %hu %hhd %hhu %hhx", 70000, 70000, 300, 300, -1);
	SAME("%hhd %hd", -129, 32768);
#pragma GCC diagnostic pop
	SAME("%jd %ju", (intmax_t)INT64_MIN, (uintmax_t)UINT64_MAX);
}

static void fmt_strings_and_precision(void)
{
	SAME("%s|%10s|%-10s|", "abc", "abc", "abc");
	SAME("%.2s|%.0s|%.10s|", "abcdef", "abcdef", "abc");
	SAME("%8.3s|%-8.3s|", "abcdef", "abcdef");
	SAME("%.*s|%*s|%-*s|", 4, "abcdefgh", 6, "ab", 6, "ab");
	SAME("%1s|%2s|", "long string", "");
	const char *volatile nul = NULL;
	KERNEL_IS("(null)", "%s", nul);
	KERNEL_IS("    (null)|", "%10s|", nul);
}

static void fmt_pointer(void)
{
	char want[64];
	void *p = (void *)0xffff800012345678ull;

	snprintf(want, sizeof(want), "0x%016llx", (unsigned long long)(uintptr_t)p);
	KERNEL_IS(want, "%p", p);
	KERNEL_IS("0x0000000000000000", "%p", (void *)0);
	KERNEL_IS("[0x00000000000000ff]", "[%p]", (void *)0xff);
}

static void fmt_truncation(void)
{
	char buf[32];
	const char *full = "value=-12345 name=abcdef";

	for (size_t size = 0; size <= strlen(full) + 2; size++) {
		memset(buf, 'Z', sizeof(buf));
		int r = hl_snprintf(buf, size, "value=%d name=%s", -12345, "abcdef");
		CHECK_EQ(r, strlen(full));
		if (size) {
			size_t n = MIN(size - 1, strlen(full));
			CHECK(!memcmp(buf, full, n));
			CHECK_EQ(buf[n], 0);
			CHECK_EQ((uint8_t)buf[size], 'Z'); /* nothing past size */
		} else {
			CHECK_EQ((uint8_t)buf[0], 'Z');
		}
	}
	CHECK_EQ(hl_snprintf(NULL, 0, "%s%d", "abc", 12345), 8);
	CHECK_EQ(hl_snprintf(buf, 1, "%d", 7), 1);
	CHECK_EQ(buf[0], 0);
}

static int call_v(char *buf, size_t n, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	int r = hl_vsnprintf(buf, n, f, ap);
	va_end(ap);
	return r;
}

static void fmt_vsnprintf_and_odd_formats(void)
{
	char buf[32];

	CHECK_EQ(call_v(buf, sizeof(buf), "%d-%s", 5, "x"), 3);
	CHECK_STR(buf, "5-x");
	/* A lone trailing '%' must not run past the end of the format. */
	const char *volatile tail = "abc%";
	CHECK_EQ(call_v(buf, sizeof(buf), tail), 3);
	CHECK_STR(buf, "abc");
	const char *volatile unk = "a%qb";
	CHECK_EQ(call_v(buf, sizeof(buf), unk), 4);
	CHECK_STR(buf, "a%qb");
}

/* Random integer conversions with random flags and widths, against libc. */
static void fmt_random_against_libc(void)
{
	static const char *const conv[] = {"d",   "i",   "u",   "x",   "X",   "o",  "ld",
	                                   "lu",  "lx",  "lld", "llu", "llX", "hd", "hu",
	                                   "hhd", "hhu", "hhx", "zu",  "zx"};
	char f[32];

	for (int it = 0; it < 20000 && !kt_failed(); it++) {
		const char *c = conv[kt_below(ARRAY_SIZE(conv))];
		unsigned flag = (unsigned)kt_below(3), width = (unsigned)kt_below(24);
		snprintf(f, sizeof(f), "<%%%s%.0u%s>",
		         flag == 1   ? "-"
		         : flag == 2 ? "0"
		                     : "",
		         width, c);
		if (!width)
			snprintf(f, sizeof(f), "<%%%s%s>",
			         flag == 1   ? "-"
			         : flag == 2 ? "0"
			                     : "",
			         c);
		uint64_t v = kt_rand() >> kt_below(64);
		bool wide = c[0] == 'l' || c[0] == 'z';
		int kr, lr;
		/* The format is built at run time on purpose: it is what is being tested. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		if (wide) {
			kr = hl_snprintf(kbuf, sizeof(kbuf), f, (unsigned long long)v);
			lr = snprintf(lbuf, sizeof(lbuf), f, (unsigned long long)v);
		} else {
			kr = hl_snprintf(kbuf, sizeof(kbuf), f, (unsigned)v);
			lr = snprintf(lbuf, sizeof(lbuf), f, (unsigned)v);
		}
#pragma GCC diagnostic pop
		same_check(__FILE__, __LINE__, f, kr, lr);
	}
}

/*
 * Bug: put_str() tests s[len] before len < prec, so "%.4s" reads a fifth
 * byte; C allows an unterminated array when the precision covers it.
 */
static void fmt_precision_bounds_string_read(void)
{
	char unterminated[4] = {'w', 'x', 'y', 'z'};

	SAME("%.4s|%.3s", unterminated, unterminated);
}

/* Bug: '#' emits "0x" before the space padding: "%#8x" gives "0x    12". */
static void fmt_alt_hex_width_pads_before_prefix(void)
{
	SAME("%#8x|", 0x12u);
	SAME("%#8lX|", 0xabcul);
}

/* Bug: %c ignores its width and '-' flag. */
static void fmt_char_width(void)
{
	SAME("%3c|%-3c|", 'a', 'b');
}

static const struct kt_case cases[] = {
    KT(fmt_plain_text_and_percent),
    KT(fmt_signed_decimal),
    KT(fmt_unsigned_hex_octal),
    KT(fmt_alt_hex_zero_prints_0x0),
    KT(fmt_length_modifiers),
    KT(fmt_strings_and_precision),
    KT(fmt_pointer),
    KT(fmt_truncation),
    KT(fmt_vsnprintf_and_odd_formats),
    KT(fmt_random_against_libc),
    KT(fmt_precision_bounds_string_read), /* regression: %.Ns reads byte N of the string (lib/fmt.c
                                             put_str) */
    KT(fmt_alt_hex_width_pads_before_prefix), /* regression: "%#8x" puts 0x before the padding
                                                 (lib/fmt.c) */
    KT(fmt_char_width),                       /* regression: %c ignores width and '-' (lib/fmt.c) */
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
