/*
 * ELF64 executables (x86-64, static, ET_EXEC): header and PT_LOAD segment
 * validation for the loaders of the kernel (root task) and the root task
 * (other programs). Untrusted input: every offset and size is checked.
 * lib/elf.c; host-tested and fuzzed.
 */
#ifndef LIB_ELF_H
#define LIB_ELF_H

#include <stddef.h>
#include <stdint.h>

#define ELF_MAX_SEGMENTS 16
#define ELF_PF_X         1
#define ELF_PF_W         2
#define ELF_PF_R         4

struct elf_segment {
	uint64_t vaddr, memsz;   /* where it goes; memsz >= filesz, the rest is zeroed */
	uint64_t offset, filesz; /* its bytes in the file */
	uint32_t flags;          /* ELF_PF_* */
};

struct elf_image {
	uint64_t entry;
	uint32_t nsegs;
	struct elf_segment segs[ELF_MAX_SEGMENTS];
};

enum elf_err {
	ELF_OK = 0,
	ELF_ETRUNC = -1,   /* file shorter than a header or segment says */
	ELF_EFORMAT = -2,  /* not ELF64 little-endian x86-64 executable */
	ELF_ESEGMENT = -3, /* a segment is malformed, overlaps another, or leaves the user range */
	ELF_ETOOMANY = -4,
};

/*
 * Parse buf[0..len) into *img. Segments must lie below user_top, be
 * non-overlapping, have filesz <= memsz, and the entry point must be inside
 * an executable segment.
 */
int elf_parse(const uint8_t *buf, size_t len, uint64_t user_top, struct elf_image *img)
    __attribute__((warn_unused_result));
const char *elf_strerror(int err);

#endif
