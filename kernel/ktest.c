/* KTAP runner for the .ktest section. */
#include <kernel/klog.h>
#include <kernel/ktest.h>
#include <lib/fmt.h>
#include <lib/string.h>
#include <stdarg.h>

extern const struct ktest __ktest_start[], __ktest_end[];

void ktest_fail(struct ktest_ctx *t, const char *file, int line, const char *cond, const char *fmt,
                ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("        # %s:%d: expected %s%s%s\n", file, line, cond, buf[0] ? ": " : "", buf);
	t->failures++;
}

/* Is suite named in the comma-separated selection ("all" selects everything)? */
static bool selected(const char *sel, const char *suite)
{
	size_t n = strlen(suite);

	if (!strcmp(sel, "all"))
		return true;
	for (const char *p = sel; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !strncmp(p, suite, n))
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* Distinct suites in section order (cases of a suite are contiguous per file). */
static uint32_t list_suites(const char *sel, const char **out, uint32_t max)
{
	uint32_t n = 0;

	for (const struct ktest *k = __ktest_start; k < __ktest_end; k++) {
		if (!selected(sel, k->suite))
			continue;
		bool dup = false;
		for (uint32_t i = 0; i < n && !dup; i++)
			dup = !strcmp(out[i], k->suite);
		if (!dup && n < max)
			out[n++] = k->suite;
	}
	return n;
}

static uint32_t run_suite(const char *suite, uint32_t num)
{
	uint32_t ncases = 0, i = 0, failed = 0;

	for (const struct ktest *k = __ktest_start; k < __ktest_end; k++)
		ncases += !strcmp(k->suite, suite);
	kprintf("    KTAP version 1\n    # Subtest: %s\n    1..%u\n", suite, ncases);
	for (const struct ktest *k = __ktest_start; k < __ktest_end; k++) {
		if (strcmp(k->suite, suite))
			continue;
		struct ktest_ctx t = {k->suite, k->name, 0, false, NULL};
		k->fn(&t);
		i++;
		if (t.skipped && !t.failures)
			kprintf("    ok %u %s # SKIP %s\n", i, k->name, t.skip_reason);
		else
			kprintf("    %s %u %s\n", t.failures ? "not ok" : "ok", i, k->name);
		failed += t.failures != 0;
	}
	kprintf("%s %u %s\n", failed ? "not ok" : "ok", num, suite);
	return failed;
}

uint32_t ktest_run(const char *sel)
{
	const char *suites[64];
	uint32_t n = list_suites(sel, suites, 64), failed = 0;

	kprintf("KTAP version 1\n1..%u\n", n);
	for (uint32_t i = 0; i < n; i++)
		failed += run_suite(suites[i], i + 1);
	kprintf("# ktest: %u suites, %u failed cases\n", n, failed);
	return failed;
}
