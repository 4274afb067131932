/*
 * In-kernel tests. KTEST(suite, name) { ... } registers a case in the
 * .ktest linker section; the command line "ktest=all" or
 * "ktest=suite1,suite2" runs them after boot and prints KTAP on the
 * console; with "test-exit" QEMU then exits with the verdict.
 */
#ifndef KERNEL_KTEST_H
#define KERNEL_KTEST_H

#include <kernel/types.h>

struct ktest_ctx {
	const char *suite, *name;
	uint32_t failures;
	bool skipped;
	const char *skip_reason;
};

struct ktest {
	const char *suite;
	const char *name;
	void (*fn)(struct ktest_ctx *t);
};

#define KTEST(suite, name)                                                                         \
	static void ktest_##suite##_##name(struct ktest_ctx *t);                                   \
	static const struct ktest ktest_desc_##suite##_##name __section(".ktest")                  \
	    __used __aligned(8) = {#suite, #name, ktest_##suite##_##name};                         \
	static void ktest_##suite##_##name(struct ktest_ctx *t)

void ktest_fail(struct ktest_ctx *t, const char *file, int line, const char *cond, const char *fmt,
                ...) __attribute__((format(printf, 5, 6)));

/* Record a failure and continue. */
#define KEXPECT(t, cond, ...)                                                                      \
	((cond) ? (void)0 : ktest_fail((t), __FILE__, __LINE__, #cond, "" __VA_ARGS__))
/* Record a failure and end the test case (no hidden return: use as `if (!KCHECK(...)) return;`). */
#define KCHECK(t, cond, ...)                                                                       \
	((cond) ? true : (ktest_fail((t), __FILE__, __LINE__, #cond, "" __VA_ARGS__), false))
#define KSKIP(t, reason) ((t)->skipped = true, (t)->skip_reason = (reason))

/* Run the suites the command line selects; returns the number of failed cases. */
uint32_t ktest_run(const char *selection);

#endif
