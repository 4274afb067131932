/*
 * Builders for boot-loader images and cpio archives in host memory, shared
 * by the host tests and the fuzz seed generator. Nothing here is kernel code:
 * the layouts follow the PVH start_info, Multiboot2 and cpio newc specs.
 */
#ifndef KHOST_IMAGES_H
#define KHOST_IMAGES_H

#include <stddef.h>
#include <stdint.h>

/* A growable little-endian byte buffer (bounded: building past cap aborts). */
struct img {
	uint8_t *buf;
	size_t len, cap;
};

void img_init(struct img *im, uint8_t *buf, size_t cap);
void img_put(struct img *im, const void *p, size_t n);
void img_u8(struct img *im, uint8_t v);
void img_u16(struct img *im, uint16_t v);
void img_u32(struct img *im, uint32_t v);
void img_u64(struct img *im, uint64_t v);
void img_pad(struct img *im, size_t align);
void img_set16(struct img *im, size_t at, uint16_t v);
void img_set32(struct img *im, size_t at, uint32_t v);
void img_set64(struct img *im, size_t at, uint64_t v);

/* Multiboot2: mb2_begin, any tags, then mb2_finish (end tag + total_size). */
void mb2_begin(struct img *im);
/* A tag with a raw payload; returns the tag's offset. Tags are 8-byte aligned. */
size_t mb2_tag(struct img *im, uint32_t type, const void *payload, size_t n);
size_t mb2_string_tag(struct img *im, uint32_t type, const char *s);
size_t mb2_module_tag(struct img *im, uint32_t start, uint32_t end, const char *cmdline);
/* entries: n triples of (base, len, type). */
size_t mb2_mmap_tag(struct img *im, const uint64_t (*entries)[3], size_t n);
size_t mb2_fb_rgb_tag(struct img *im, uint64_t addr, uint32_t pitch, uint32_t w, uint32_t h,
                      uint8_t bpp);
size_t mb2_fb_text_tag(struct img *im, uint64_t addr, uint32_t w, uint32_t h);
void mb2_finish(struct img *im);

/*
 * PVH: a start_info at phys `at` (which is offset 0 of im), modules and
 * memmap placed after it in the same image. Strings too. Returns nothing;
 * the image is im->buf[0..len) standing for physical [at, at+len).
 */
struct pvh_module {
	uint64_t paddr, size;
	const char *cmdline; /* NULL = no cmdline */
};
void pvh_build(struct img *im, uint64_t at, uint32_t version, const char *cmdline,
               const struct pvh_module *mods, uint32_t nmods, const uint64_t (*mmap)[3],
               uint32_t nmmap, uint64_t rsdp);

/*
 * ELF64 x86-64 executable (ET_EXEC, little-endian) in an empty im: the 64-byte header,
 * n program headers at offset 64, then each segment's filesz bytes (a
 * pattern of its index and offset) at 16-byte aligned offsets, in order.
 * offsets[i] (if not NULL) receives segment i's file offset. Fields can
 * be damaged afterwards through the ELF_* offsets with img_set*.
 */
struct elf_seg {
	uint32_t type, flags;
	uint64_t vaddr, filesz, memsz;
};
#define ELF_OFF_CLASS     4
#define ELF_OFF_DATA      5
#define ELF_OFF_TYPE      16
#define ELF_OFF_MACHINE   18
#define ELF_OFF_ENTRY     24
#define ELF_OFF_PHOFF     32
#define ELF_OFF_PHENTSIZE 54
#define ELF_OFF_PHNUM     56
#define ELF_PH_SIZE       56
/* Offsets inside program header i. */
#define ELF_PH(i)     (64 + (size_t)(i)*ELF_PH_SIZE)
#define ELF_PH_OFFSET 8
#define ELF_PH_VADDR  16
#define ELF_PH_FILESZ 32
#define ELF_PH_MEMSZ  40
void elf_build(struct img *im, uint64_t entry, const struct elf_seg *segs, size_t n,
               uint64_t *offsets);

/* cpio newc: one entry (data may be NULL when size is 0) and the trailer. */
void cpio_put(struct img *im, const char *name, uint32_t mode, const void *data, uint32_t size);
void cpio_put_trailer(struct img *im);

#endif
