/*
 * libFuzzer target for lib/bootconf.c: the input is an etc/boot.conf,
 * split into lines as the root task (user/init/init.c) does. Each line is
 * handed over as its own exact-size heap copy, so a read outside [s, end)
 * is an ASan report. Program lines must have a NUL-terminated, non-empty
 * name made of the line's bytes, and options within their documented ranges.
 */
#include <lib/bootconf.h>
#include <stdlib.h>
#include <string.h>

static void check_prog(const char *line, size_t len, const struct bootconf_prog *p)
{
	size_t n = strnlen(p->name, sizeof(p->name));

	if (n == 0 || n >= sizeof(p->name) || n > len)
		abort();
	if (!memmem(line, len, p->name, n) || memchr(p->name, ' ', n) || memchr(p->name, '\t', n) ||
	    memchr(p->name, '\n', n))
		abort();
	if (p->priority >= BOOTCONF_PRIORITY_LIMIT || p->mem_kib < BOOTCONF_MIN_MEM_KIB)
		abort();
}

static void one_line(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	struct bootconf_prog p;

	memcpy(copy, s, len);
	memset(&p, 0x5a, sizeof(p));
	int r = bootconf_parse_line(copy, copy + len, &p);
	if (r == 1)
		check_prog(copy, len, &p);
	else if (r != 0 && r != -1)
		abort();
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size;

	while (s < end) {
		const char *nl = s;
		while (nl < end && *nl != '\n')
			nl++;
		one_line(s, (size_t)(nl - s));
		s = nl + (nl < end); /* never past end, even after a last line without '\n' */
	}
	return 0;
}
