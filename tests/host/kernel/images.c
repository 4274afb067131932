/* Image builders for host tests and seeds (see images.h). */
#include "images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void img_init(struct img *im, uint8_t *buf, size_t cap)
{
	im->buf = buf;
	im->len = 0;
	im->cap = cap;
	memset(buf, 0, cap);
}

void img_put(struct img *im, const void *p, size_t n)
{
	if (n > im->cap - im->len) {
		fprintf(stderr, "images: builder overflow (%zu + %zu > %zu)\n", im->len, n,
		        im->cap);
		abort();
	}
	if (n)
		memcpy(im->buf + im->len, p, n);
	im->len += n;
}

void img_u8(struct img *im, uint8_t v)
{
	img_put(im, &v, 1);
}

void img_u16(struct img *im, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	img_put(im, b, 2);
}

void img_u32(struct img *im, uint32_t v)
{
	img_u16(im, (uint16_t)v);
	img_u16(im, (uint16_t)(v >> 16));
}

void img_u64(struct img *im, uint64_t v)
{
	img_u32(im, (uint32_t)v);
	img_u32(im, (uint32_t)(v >> 32));
}

void img_pad(struct img *im, size_t align)
{
	while (im->len % align)
		img_u8(im, 0);
}

void img_set32(struct img *im, size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		im->buf[at + i] = (uint8_t)(v >> (8 * i));
}

void img_set16(struct img *im, size_t at, uint16_t v)
{
	im->buf[at] = (uint8_t)v;
	im->buf[at + 1] = (uint8_t)(v >> 8);
}

void img_set64(struct img *im, size_t at, uint64_t v)
{
	img_set32(im, at, (uint32_t)v);
	img_set32(im, at + 4, (uint32_t)(v >> 32));
}

void mb2_begin(struct img *im)
{
	img_u32(im, 0); /* total_size, set by mb2_finish */
	img_u32(im, 0); /* reserved */
}

size_t mb2_tag(struct img *im, uint32_t type, const void *payload, size_t n)
{
	size_t at;

	img_pad(im, 8);
	at = im->len;
	img_u32(im, type);
	img_u32(im, (uint32_t)(8 + n));
	img_put(im, payload, n);
	return at;
}

size_t mb2_string_tag(struct img *im, uint32_t type, const char *s)
{
	return mb2_tag(im, type, s, strlen(s) + 1);
}

size_t mb2_module_tag(struct img *im, uint32_t start, uint32_t end, const char *cmdline)
{
	uint8_t p[8 + 256];
	size_t n = strlen(cmdline) + 1;

	if (n > 256)
		abort();
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(start >> (8 * i));
		p[4 + i] = (uint8_t)(end >> (8 * i));
	}
	memcpy(p + 8, cmdline, n);
	return mb2_tag(im, 3, p, 8 + n);
}

size_t mb2_mmap_tag(struct img *im, const uint64_t (*entries)[3], size_t n)
{
	size_t at;

	img_pad(im, 8);
	at = im->len;
	img_u32(im, 6);
	img_u32(im, (uint32_t)(16 + 24 * n));
	img_u32(im, 24); /* entry_size */
	img_u32(im, 0);  /* entry_version */
	for (size_t i = 0; i < n; i++) {
		img_u64(im, entries[i][0]);
		img_u64(im, entries[i][1]);
		img_u32(im, (uint32_t)entries[i][2]);
		img_u32(im, 0);
	}
	return at;
}

/* The framebuffer tag's common part (32 bytes with GRUB's 16-bit reserved field). */
static size_t mb2_fb_common(struct img *im, uint32_t size, uint64_t addr, uint32_t pitch,
                            uint32_t w, uint32_t h, uint8_t bpp, uint8_t type)
{
	size_t at;

	img_pad(im, 8);
	at = im->len;
	img_u32(im, 8);
	img_u32(im, size);
	img_u64(im, addr);
	img_u32(im, pitch);
	img_u32(im, w);
	img_u32(im, h);
	img_u8(im, bpp);
	img_u8(im, type);
	img_u16(im, 0);
	return at;
}

size_t mb2_fb_rgb_tag(struct img *im, uint64_t addr, uint32_t pitch, uint32_t w, uint32_t h,
                      uint8_t bpp)
{
	size_t at = mb2_fb_common(im, 38, addr, pitch, w, h, bpp, 1);
	const uint8_t rgb[6] = {16, 8, 8, 8, 0, 8}; /* red pos/size, green, blue */

	img_put(im, rgb, 6);
	return at;
}

size_t mb2_fb_text_tag(struct img *im, uint64_t addr, uint32_t w, uint32_t h)
{
	return mb2_fb_common(im, 32, addr, w * 2, w, h, 16, 2);
}

void mb2_finish(struct img *im)
{
	img_pad(im, 8);
	img_u32(im, 0);
	img_u32(im, 8);
	img_set32(im, 0, (uint32_t)im->len);
}

/* Append a NUL-terminated string; returns its physical address. */
static uint64_t pvh_str(struct img *im, uint64_t at, const char *s)
{
	uint64_t pa = at + im->len;

	img_put(im, s, strlen(s) + 1);
	return pa;
}

void pvh_build(struct img *im, uint64_t at, uint32_t version, const char *cmdline,
               const struct pvh_module *mods, uint32_t nmods, const uint64_t (*mmap)[3],
               uint32_t nmmap, uint64_t rsdp)
{
	uint64_t mods_pa, mmap_pa, cmd_pa, mod_cmd[64] = {0};

	if (nmods > 64)
		abort();
	im->len = 56; /* start_info first; filled in below */
	cmd_pa = cmdline ? pvh_str(im, at, cmdline) : 0;
	for (uint32_t i = 0; i < nmods; i++)
		mod_cmd[i] = mods[i].cmdline ? pvh_str(im, at, mods[i].cmdline) : 0;
	img_pad(im, 8);
	mods_pa = at + im->len;
	for (uint32_t i = 0; i < nmods; i++) {
		img_u64(im, mods[i].paddr);
		img_u64(im, mods[i].size);
		img_u64(im, mod_cmd[i]);
		img_u64(im, 0);
	}
	mmap_pa = at + im->len;
	for (uint32_t i = 0; i < nmmap; i++) {
		img_u64(im, mmap[i][0]);
		img_u64(im, mmap[i][1]);
		img_u32(im, (uint32_t)mmap[i][2]);
		img_u32(im, 0);
	}
	size_t end = im->len;
	im->len = 0;
	img_u32(im, 0x336ec578);
	img_u32(im, version);
	img_u32(im, 0); /* flags */
	img_u32(im, nmods);
	img_u64(im, nmods ? mods_pa : 0);
	img_u64(im, cmd_pa);
	img_u64(im, rsdp);
	img_u64(im, nmmap ? mmap_pa : 0);
	img_u32(im, nmmap);
	img_u32(im, 0);
	im->len = end;
}

/* One newc header: 6-byte magic and 13 8-digit hex fields. */
static void cpio_header(struct img *im, uint32_t mode, uint32_t size, uint32_t namesize)
{
	const uint32_t f[13] = {1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, namesize, 0};
	char h[8 + 1];

	img_put(im, "070701", 6);
	for (int i = 0; i < 13; i++) {
		snprintf(h, sizeof(h), "%08X", f[i]);
		img_put(im, h, 8);
	}
}

void cpio_put(struct img *im, const char *name, uint32_t mode, const void *data, uint32_t size)
{
	uint32_t nsz = (uint32_t)strlen(name) + 1;

	cpio_header(im, mode, size, nsz);
	img_put(im, name, nsz);
	img_pad(im, 4);
	img_put(im, data, size);
	img_pad(im, 4);
}

void cpio_put_trailer(struct img *im)
{
	cpio_put(im, "TRAILER!!!", 0, NULL, 0);
}

/* ELF64 header (System V gABI): e_ident, then type, machine, version, entry, phoff, ... */
static void elf_header(struct img *im, uint64_t entry, uint16_t phnum)
{
	static const uint8_t ident[16] = {0x7f,           'E',        'L', 'F',
	                                  2 /* 64-bit */, 1 /* LE */, 1 /* version */};

	img_put(im, ident, sizeof(ident));
	img_u16(im, 2);  /* ET_EXEC */
	img_u16(im, 62); /* EM_X86_64 */
	img_u32(im, 1);
	img_u64(im, entry);
	img_u64(im, 64); /* phoff */
	img_u64(im, 0);  /* shoff */
	img_u32(im, 0);  /* flags */
	img_u16(im, 64); /* ehsize */
	img_u16(im, ELF_PH_SIZE);
	img_u16(im, phnum);
	img_u16(im, 64); /* shentsize */
	img_u16(im, 0);  /* shnum */
	img_u16(im, 0);  /* shstrndx */
}

void elf_build(struct img *im, uint64_t entry, const struct elf_seg *segs, size_t n,
               uint64_t *offsets)
{
	size_t off = ELF_PH(n);

	elf_header(im, entry, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		off = (off + 15) & ~(size_t)15;
		img_u32(im, segs[i].type);
		img_u32(im, segs[i].flags);
		img_u64(im, off);
		img_u64(im, segs[i].vaddr);
		img_u64(im, segs[i].vaddr); /* paddr */
		img_u64(im, segs[i].filesz);
		img_u64(im, segs[i].memsz);
		img_u64(im, 4096); /* align */
		if (offsets)
			offsets[i] = off;
		off += segs[i].filesz;
	}
	for (size_t i = 0; i < n; i++) {
		img_pad(im, 16);
		for (uint64_t j = 0; j < segs[i].filesz; j++)
			img_u8(im, (uint8_t)(i * 16 + j));
	}
}
