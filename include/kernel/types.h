/* Scalar types used across the kernel. */
#ifndef KERNEL_TYPES_H
#define KERNEL_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t; /* physical address */
typedef uint64_t vaddr_t; /* kernel virtual address */

#define PAGE_SIZE  4096ul
#define PAGE_SHIFT 12
#define HUGE_SIZE  (2ul << 20)

#define ALIGN_UP(x, a)   (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a)-1))
#define ARRAY_SIZE(a)    (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)        ((a) < (b) ? (a) : (b))
#define MAX(a, b)        ((a) > (b) ? (a) : (b))

#define __packed     __attribute__((packed))
#define __aligned(n) __attribute__((aligned(n)))
#define __noreturn   __attribute__((noreturn))
#ifndef __always_inline /* glibc defines it too (host tests) */
#define __always_inline inline __attribute__((always_inline))
#endif
#define __must_check __attribute__((warn_unused_result))
#define __section(s) __attribute__((section(s)))
#define __used       __attribute__((used))

#endif
