/*
 * A small host test harness for kernel logic (tests/host/kernel).
 *
 * Each test case runs in its own forked child so that a crash, a sanitizer
 * report, a leak or a hang in one case becomes one "not ok" TAP line and the
 * other cases still run. Checks print "# file:line: ..." diagnostics and let
 * the case continue; the case fails if any check failed.
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

void kt_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			kt_fail(__FILE__, __LINE__, "check failed: %s", #c);                       \
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

/* Run every case (or only those named in argv, without forking); TAP on stdout. */
int kt_main(const struct kt_case *cases, size_t n, int argc, char **argv);

#endif
