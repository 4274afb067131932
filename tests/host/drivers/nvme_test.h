/* A tiny TAP harness for the block-driver host tests: NT_CASE registers, NT_EXPECT checks. */
#ifndef NVME_TEST_H
#define NVME_TEST_H

#include <stdio.h>

struct nt_case {
	const char *name;
	void (*fn)(void);
};

extern unsigned nt_failures, nt_case_failed;
void nt_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define NT_CASE(name)                                                                              \
	static void nt_##name(void);                                                               \
	static const struct nt_case nt_desc_##name                                                 \
	    __attribute__((section("nt_cases"), used, aligned(16))) = {#name, nt_##name};          \
	static void nt_##name(void)

#define NT_EXPECT(cond, ...)                                                                       \
	((cond) ? (void)0 : nt_fail(__FILE__, __LINE__, #cond, " " __VA_ARGS__))

extern const struct nt_case __start_nt_cases[], __stop_nt_cases[];

/* Run every registered case (all files), print TAP, return the exit status. */
static inline int nt_run_all(void)
{
	for (const struct nt_case *c = __start_nt_cases; c < __stop_nt_cases; c++) {
		nt_case_failed = 0;
		c->fn();
		printf("%s - blk-unit.%s\n", nt_case_failed ? "not ok" : "ok", c->name);
		nt_failures += nt_case_failed != 0;
	}
	return nt_failures ? 1 : 0;
}

#endif
