/*
 * Tiny test harness for tests/host/drivers: DT(name) registers a case;
 * DCHECK records a failure with file and line and goes on. main.c runs
 * every case (or the one named on the command line) and prints one TAP
 * line per case: "ok - drivers-unit: name".
 */
#ifndef DTEST_H
#define DTEST_H

#include <stdbool.h>
#include <stdio.h>

struct dt_case {
	const char *name;
	void (*fn)(void);
};

extern int dt_failed; /* failures in the running case */

#define DT(name)                                                                                   \
	static void dt_##name(void);                                                               \
	static const struct dt_case dt_case_##name                                                 \
	    __attribute__((used, section("dt_cases"), aligned(16))) = {#name, dt_##name};          \
	static void dt_##name(void)

#define DCHECK(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			dt_failed++;                                                               \
			printf("#   %s:%d: %s failed", __FILE__, __LINE__, #cond);                 \
			printf(" " __VA_ARGS__);                                                   \
			printf("\n");                                                              \
		}                                                                                  \
	} while (0)

#endif
