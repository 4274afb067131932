/* ELF64 parsing with bounds checks; no allocation, bounded loops. */
#include <lib/bytes.h>
#include <lib/elf.h>

static int check_header(const uint8_t *b, size_t len)
{
	if (len < 64)
		return ELF_ETRUNC;
	if (b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' || b[4] != 2 /* 64-bit */ ||
	    b[5] != 1 /* little endian */ || get_le16(b + 16) != 2 /* ET_EXEC */ ||
	    get_le16(b + 18) != 62 /* x86-64 */)
		return ELF_EFORMAT;
	if (get_le16(b + 54) != 56) /* program header entry size */
		return ELF_EFORMAT;
	return ELF_OK;
}

static int add_segment(struct elf_image *img, const uint8_t *ph, size_t len, uint64_t user_top)
{
	struct elf_segment s = {
	    .flags = (uint32_t)get_le32(ph + 4),
	    .offset = get_le64(ph + 8),
	    .vaddr = get_le64(ph + 16),
	    .filesz = get_le64(ph + 32),
	    .memsz = get_le64(ph + 40),
	};
	if (s.filesz > s.memsz || s.offset > len || s.filesz > len - s.offset)
		return s.filesz > s.memsz ? ELF_ESEGMENT : ELF_ETRUNC;
	if (s.memsz == 0)
		return ELF_OK;
	if (s.vaddr < 4096 || s.vaddr >= user_top || s.memsz > user_top - s.vaddr)
		return ELF_ESEGMENT;
	for (uint32_t i = 0; i < img->nsegs; i++) {
		const struct elf_segment *o = &img->segs[i];
		/*
		 * Overlap at page granularity: segments get their own pages.
		 * Compared as first and last page numbers: rounding the end up
		 * would wrap when user_top is near 2^64.
		 */
		uint64_t a0 = s.vaddr >> 12, a1 = (s.vaddr + s.memsz - 1) >> 12;
		uint64_t b0 = o->vaddr >> 12, b1 = (o->vaddr + o->memsz - 1) >> 12;
		if (a0 <= b1 && b0 <= a1)
			return ELF_ESEGMENT;
	}
	if (img->nsegs == ELF_MAX_SEGMENTS)
		return ELF_ETOOMANY;
	img->segs[img->nsegs++] = s;
	return ELF_OK;
}

int elf_parse(const uint8_t *buf, size_t len, uint64_t user_top, struct elf_image *img)
{
	int err = check_header(buf, len);

	img->nsegs = 0;
	if (err)
		return err;
	img->entry = get_le64(buf + 24);
	uint64_t phoff = get_le64(buf + 32), phnum = get_le16(buf + 56);
	if (phoff > len || phnum * 56 > len - phoff)
		return ELF_ETRUNC;
	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = buf + phoff + i * 56;
		if (get_le32(ph) != 1) /* PT_LOAD only */
			continue;
		err = add_segment(img, ph, len, user_top);
		if (err)
			return err;
	}
	for (uint32_t i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];
		if ((s->flags & ELF_PF_X) && img->entry >= s->vaddr &&
		    img->entry < s->vaddr + s->memsz)
			return ELF_OK;
	}
	return ELF_ESEGMENT;
}

const char *elf_strerror(int err)
{
	switch (err) {
	case ELF_OK:
		return "ok";
	case ELF_ETRUNC:
		return "truncated";
	case ELF_EFORMAT:
		return "not an x86-64 ELF64 executable";
	case ELF_ESEGMENT:
		return "bad segment or entry point";
	default:
		return "too many segments";
	}
}
