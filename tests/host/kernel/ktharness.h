/*
 * The host test harness: every host unit test (tests/host/) runs on it.
 *
 * Each test case runs in its own forked child so that a crash, a sanitizer
 * report, a leak or a hang in one case becomes one "not ok" TAP line and the
 * other cases still run. Checks print "# file:line: ..." diagnostics and let
 * the case continue; the case fails if any check failed.
 *
 * Cases come from a table given to kt_main (KT(fn) entries), from KT_CASE
 * definitions in any file of the binary, or from kt_add calls before
 * kt_main; all of them run, in that order of registration.
 */
#ifndef KTHARNESS_H
#define KTHARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kt_case {
	const char *name; /* printed as <kt_group>.<name> */
	void (*fn)(void);
};

/* A case; one that reproduces a fixed bug is named after the bug, with a "regression:" comment. */
#define KT(fn)                                                                                     \
	{                                                                                          \
#fn, fn                                                                            \
	}

/* Define and register a case: KT_CASE(name) { ... }, TAP name <kt_group>.<name>. */
#define KT_CASE(name)                                                                              \
	static void kt_case_##name(void);                                                          \
	__attribute__((constructor)) static void kt_reg_##name(void)                               \
	{                                                                                          \
		kt_add(#name, kt_case_##name);                                                     \
	}                                                                                          \
	static void kt_case_##name(void)

/* Register a case under a name of its own (before kt_main runs them). */
void kt_add(const char *name, void (*fn)(void));

void kt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A failed check with its condition and an explanation (printf format). */
void kt_fail_why(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			kt_fail(__FILE__, __LINE__, "check failed: %s", #c);                       \
	} while (0)

/* CHECK with a message: CHECK_MSG(c) or CHECK_MSG(c, "fmt", args...). */
#define CHECK_MSG(c, ...)                                                                          \
	do {                                                                                       \
		if (!(c))                                                                          \
			kt_fail_why(__FILE__, __LINE__, #c, " " __VA_ARGS__);                      \
	} while (0)

/* Compare two unsigned 64-bit values and print both on mismatch. */
#define CHECK_EQ(a, b)                                                                             \
	do {                                                                                       \
		uint64_t kt_a_ = (uint64_t)(a), kt_b_ = (uint64_t)(b);                             \
		if (kt_a_ != kt_b_)                                                                \
			kt_fail(__FILE__, __LINE__, "%s == %s: %#llx != %#llx", #a, #b,            \
			        (unsigned long long)kt_a_, (unsigned long long)kt_b_);             \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *kt_a_ = (a), *kt_b_ = (b);                                             \
		if (strcmp(kt_a_, kt_b_) != 0)                                                     \
			kt_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, kt_a_,   \
			        kt_b_);                                                            \
	} while (0)

/* True once any check of the current case failed (to stop long loops early). */
bool kt_failed(void);

/* Deterministic PRNG (xorshift64*), seeded per case so runs are repeatable. */
uint64_t kt_rand(void);
/* Uniform-ish value in [0, n); n > 0. */
uint64_t kt_below(uint64_t n);

/* The first part of each TAP name, "<group>.<case>"; "khost" unless a binary sets it. */
extern const char *kt_group;
/* A case still running after this many seconds is killed: 10 unless the
 * binary sets it or the environment has KT_CASE_SECONDS. */
extern unsigned kt_case_seconds;

/* Run the table's cases and the registered ones (or only those named in
 * argv, without forking); TAP on stdout. cases may be NULL when n is 0. */
int kt_main(const struct kt_case *cases, size_t n, int argc, char **argv);

#endif
