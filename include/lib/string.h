/*
 * String and memory routines: the one way to get memcpy and friends in the
 * kernel, lib/, ring 3 and the hosted builds. Include this header and call
 * them by their standard names; never <string.h> in code that also builds
 * freestanding, never __builtin_memcpy or a library's own alias.
 *
 * lib/string.c defines them for the kernel and ring 3; a hosted build links
 * the C library's. In freestanding code outside the kernel the mem*
 * calls go to the compiler's builtins, so that a copy of a known size is a
 * few moves as in hosted code (-ffreestanding turns that off) and any other
 * is still a call to lib/string.c. The kernel keeps plain calls: its code
 * does not touch SIMD registers and its instruction counts
 * (make bench-kbench) are measured with them.
 */
#ifndef LIB_STRING_H
#define LIB_STRING_H

#include <stddef.h>

#if __STDC_HOSTED__
#include <string.h> /* the C library's (sanitizers intercept it); it has no strlcpy */
size_t strlcpy(char *dst, const char *src, size_t size);
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
size_t strlcpy(char *dst, const char *src, size_t size);
#endif

#if !__STDC_HOSTED__ && !defined(__code_model_kernel__) && !defined(LIB_STRING_IMPL)
/* Object-like, so that an argument with commas in braces (a compound literal) is passed whole. */
#define memcpy  __builtin_memcpy
#define memmove __builtin_memmove
#define memset  __builtin_memset
#define memcmp  __builtin_memcmp
#endif

#endif
