/*
 * Ring-3 test framework: UTEST(suite, case) registers a case in the .utest
 * section; the runner (tests/user/main.c) is the root task of the test
 * boot module, prints KTAP like the in-kernel suites, checks for leaks
 * around every suite and ends QEMU through the isa-debug-exit port.
 *
 * Each suite gets a fresh memory capability (t->mem, carved from the boot
 * memory) that is revoked when the suite ends; objects a case needs come
 * from it through ut_alloc().
 */
#ifndef UTEST_H
#define UTEST_H

#include <hallows/rt.h>
#include <stdbool.h>

struct utest_ctx {
	const char *suite, *name;
	unsigned failures;
	hl_cptr_t mem; /* this suite's memory capability */
};

struct utest {
	const char *suite, *name;
	void (*fn)(struct utest_ctx *t);
};

#define UTEST(suite, name)                                                                         \
	static void ut_##suite##_##name(struct utest_ctx *t);                                      \
	static const struct utest ut_desc_##suite##_##name                                         \
	    __attribute__((section(".utest"), used, aligned(8))) = {#suite, #name,                 \
	                                                            ut_##suite##_##name};          \
	static void ut_##suite##_##name(struct utest_ctx *t)

void ut_fail(struct utest_ctx *t, const char *file, int line, const char *cond, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));
#define UEXPECT(t, cond, ...)                                                                      \
	((cond) ? (void)0 : ut_fail((t), __FILE__, __LINE__, #cond, "" __VA_ARGS__))
#define UCHECK(t, cond, ...)                                                                       \
	((cond) ? 1 : (ut_fail((t), __FILE__, __LINE__, #cond, "" __VA_ARGS__), 0))
/* An error-code expectation that prints both values. */
#define UEXPECT_ERR(t, expr, want)                                                                 \
	do {                                                                                       \
		long ut_e = (expr);                                                                \
		if (ut_e != (want))                                                                \
			ut_fail((t), __FILE__, __LINE__, #expr, "returned %ld, expected %ld",      \
			        ut_e, (long)(want));                                               \
	} while (0)

/* One object of the given type from the suite's memory, in a fresh slot (0 on failure). */
hl_cptr_t ut_alloc(struct utest_ctx *t, uint32_t type, uint32_t size_bits);
/* A fresh empty slot. */
hl_cptr_t ut_slot(void);
/* Map a fresh page from the suite's memory into the own address space; returns its address. */
void *ut_page(struct utest_ctx *t, hl_cptr_t *frame_out);
/* Start fn(arg) in a new thread of the own address space at the given priority. */
hl_cptr_t ut_thread(struct utest_ctx *t, void (*fn)(void *), void *arg, uint8_t prio,
                    struct hl_ipc_buffer **ipc);

static inline uint64_t ut_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* TSC ticks in ms milliseconds. */
static inline uint64_t ut_ms_to_tsc(uint64_t ms)
{
	return rt_self.bi->tsc_hz / 1000 * ms;
}

/* A thread's state as thread.read_regs reports it (kernel/thread.h's order), 99 if it cannot be
 * read. */
static inline hl_word_t ut_state_of(hl_cptr_t tcb)
{
	hl_word_t st = 99;

	hl_thread_read_regs(tcb, NULL, NULL, NULL, &st);
	return st;
}

/* A thread like ut_thread's, configured but not resumed (0 on failure). */
hl_cptr_t ut_thread_new(struct utest_ctx *t, void (*fn)(void *), void *arg, uint8_t prio);

#endif
