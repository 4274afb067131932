/*
 * glibc 2.36 has no strlcpy, and lib/string.c cannot be linked on the host
 * (inline asm, and it would replace libc's memcpy under ASan). This copy has
 * exactly the semantics of lib/string.c's strlcpy - including reading the
 * whole source with strlen() - so sanitizers see the same reads the kernel does.
 */
#include <lib/string.h>

size_t strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t m = n < size - 1 ? n : size - 1;
		memcpy(dst, src, m);
		dst[m] = 0;
	}
	return n;
}
