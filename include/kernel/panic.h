/* Fatal errors and invariants. */
#ifndef KERNEL_PANIC_H
#define KERNEL_PANIC_H

#include <kernel/types.h>

__noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__noreturn void kassert_fail(const char *expr, const char *file, int line, const char *func);
/* Print a symbolized backtrace starting from frame pointer rbp. */
void backtrace_from(uint64_t rip, uint64_t rbp);

#define kassert(e) ((e) ? (void)0 : kassert_fail(#e, __FILE__, __LINE__, __func__))

#endif
