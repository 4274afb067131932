/* lib/string.c's memory routines as mk/khost.mk compiles them for string_test.c: under hl_ names,
 * beside the host libc's. */
#ifndef TESTS_HOST_KERNEL_HL_STRING_H
#define TESTS_HOST_KERNEL_HL_STRING_H

#include <stddef.h>

void *hl_memcpy(void *dst, const void *src, size_t n);
void *hl_memmove(void *dst, const void *src, size_t n);
void *hl_memset(void *dst, int c, size_t n);

#endif
