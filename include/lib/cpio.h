/*
 * cpio "newc" archives (the boot module format). Parsing is bounds-checked
 * for untrusted input; lib/cpio.c is host-tested and fuzzed.
 */
#ifndef LIB_CPIO_H
#define LIB_CPIO_H

#include <stddef.h>
#include <stdint.h>

struct cpio_entry {
	const char *name; /* not NUL-terminated: name_len bytes */
	size_t name_len;
	const uint8_t *data;
	size_t size;
	uint32_t mode;
};

enum cpio_status {
	CPIO_OK = 0,
	CPIO_END = 1,
	CPIO_BAD_MAGIC = -1,
	CPIO_TRUNCATED = -2,
	CPIO_BAD_FIELD = -3
};

/*
 * Read the entry at *off in buf[0..len). On CPIO_OK fills *e and advances
 * *off to the next entry; CPIO_END at the "TRAILER!!!" entry; an error
 * otherwise (nothing past the error is trusted).
 */
int cpio_next(const uint8_t *buf, size_t len, size_t *off, struct cpio_entry *e)
    __attribute__((warn_unused_result));
/* Validate a whole archive: counts entries, returns CPIO_OK (trailer found) or the error. */
int cpio_validate(const uint8_t *buf, size_t len, uint32_t *nentries)
    __attribute__((warn_unused_result));
/* Find a file by name; returns CPIO_OK and fills *e, or CPIO_END if absent, or an error. */
int cpio_find(const uint8_t *buf, size_t len, const char *name, struct cpio_entry *e)
    __attribute__((warn_unused_result));
const char *cpio_strerror(int status);

#endif
