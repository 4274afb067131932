/*
 * Formatted output for the kernel and ring 3 (lib/fmt.c).
 * Supports %d %i %u %x %X %o %p %s %c %% with flags '-', '0', width,
 * precision (for %s), and the length modifiers l, ll, z, h, hh.
 */
#ifndef LIB_FMT_H
#define LIB_FMT_H

#include <stdarg.h>
#include <stddef.h>

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
