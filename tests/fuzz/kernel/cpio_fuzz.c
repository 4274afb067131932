/*
 * libFuzzer target for lib/cpio.c: the input is a boot module. Checks that
 * every entry handed out lies inside the input and that cpio_validate,
 * cpio_next and cpio_find agree with each other.
 */
#include <lib/cpio.h>
#include <stdlib.h>
#include <string.h>

/* Walk with cpio_next; abort on any entry outside the buffer. Returns the final status. */
static int walk(const uint8_t *data, size_t size, uint32_t *count, struct cpio_entry *first)
{
	size_t off = 0;
	struct cpio_entry e;

	*count = 0;
	for (;;) {
		size_t prev = off;
		int st = cpio_next(data, size, &off, &e);
		if (st != CPIO_OK && st != CPIO_END)
			return st;
		const uint8_t *name = (const uint8_t *)e.name;
		if (name < data || e.name_len >= size || name + e.name_len >= data + size ||
		    name[e.name_len] != 0)
			abort();
		if (e.data < data || e.size > size || e.data + e.size > data + size)
			abort();
		if (st == CPIO_END)
			return st;
		if (off <= prev)
			abort(); /* no progress would mean an endless loop */
		if ((*count)++ == 0)
			*first = e;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t n = 0, walked;
	struct cpio_entry first = {0}, e;
	int st = cpio_validate(data, size, &n);
	int wst = walk(data, size, &walked, &first);

	if (walked != n || (wst == CPIO_END ? CPIO_OK : wst) != st)
		abort();
	if (walked && first.name_len < 256 && !memchr(first.name, 0, first.name_len)) {
		char name[256];
		memcpy(name, first.name, first.name_len);
		name[first.name_len] = 0;
		/* The first entry is the first match for its own name. */
		if (cpio_find(data, size, name, &e) != CPIO_OK || e.data != first.data ||
		    e.size != first.size)
			abort();
	}
	(void)cpio_find(data, size, "init", &e);
	(void)cpio_strerror(st);
	return 0;
}
