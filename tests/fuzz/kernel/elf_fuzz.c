/*
 * libFuzzer target for lib/elf.c: the input is a program file. It is parsed
 * against three user_tops (2^32, the real 2^47, 2^64 - 1); whenever the
 * parse succeeds its output must keep the contract of include/lib/elf.h:
 * every segment inside the file and below user_top, filesz <= memsz, no two
 * segments sharing a page, the entry inside an executable segment, and the
 * segments exactly the PT_LOAD headers with memsz != 0, in file order.
 * A smaller user_top only adds constraints, so success there implies
 * success with the larger ones.
 */
#include <lib/elf.h>
#include <stdlib.h>

static uint64_t rd(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Each segment alone: inside the file, inside [4096, top), filesz <= memsz. */
static void check_segment(const struct elf_segment *s, size_t size, uint64_t top)
{
	if (!s->memsz || s->filesz > s->memsz || s->offset > size || s->filesz > size - s->offset)
		abort();
	if (s->vaddr < 4096 || s->vaddr >= top || s->memsz > top - s->vaddr)
		abort();
}

/* The segments must be the PT_LOAD headers with memsz != 0, fields unchanged. */
static void check_against_headers(const uint8_t *data, const struct elf_image *img)
{
	uint64_t phoff = rd(data + 32, 8), phnum = rd(data + 56, 2);
	uint32_t k = 0;

	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = data + phoff + i * 56;
		if (rd(ph, 4) != 1 || rd(ph + 40, 8) == 0)
			continue;
		if (k >= img->nsegs)
			abort();
		const struct elf_segment *s = &img->segs[k++];
		if (s->flags != rd(ph + 4, 4) || s->offset != rd(ph + 8, 8) ||
		    s->vaddr != rd(ph + 16, 8) || s->filesz != rd(ph + 32, 8) ||
		    s->memsz != rd(ph + 40, 8))
			abort();
	}
	if (k != img->nsegs)
		abort();
}

static void check_image(const uint8_t *data, size_t size, uint64_t top, const struct elf_image *img)
{
	int in_x = 0;

	if (img->nsegs == 0 || img->nsegs > ELF_MAX_SEGMENTS)
		abort();
	for (uint32_t i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];
		check_segment(s, size, top);
		for (uint32_t j = 0; j < i; j++) {
			const struct elf_segment *o = &img->segs[j];
			/* Last page numbers: vaddr + memsz - 1 cannot wrap after check_segment. */
			if (s->vaddr >> 12 <= (o->vaddr + o->memsz - 1) >> 12 &&
			    o->vaddr >> 12 <= (s->vaddr + s->memsz - 1) >> 12)
				abort();
		}
		if ((s->flags & ELF_PF_X) && img->entry >= s->vaddr &&
		    img->entry - s->vaddr < s->memsz)
			in_x = 1;
	}
	if (!in_x || img->entry != rd(data + 24, 8))
		abort();
	check_against_headers(data, img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t tops[] = {1ull << 32, 0x800000000000ull, ~0ull};
	int ok_before = 0;

	for (size_t t = 0; t < sizeof(tops) / sizeof(tops[0]); t++) {
		struct elf_image img;
		int err = elf_parse(data, size, tops[t], &img);
		if (err != ELF_OK && err != ELF_ETRUNC && err != ELF_EFORMAT &&
		    err != ELF_ESEGMENT && err != ELF_ETOOMANY)
			abort();
		if (!elf_strerror(err))
			abort();
		if (ok_before && err != ELF_OK)
			abort();
		if (err == ELF_OK) {
			check_image(data, size, tops[t], &img);
			ok_before = 1;
		}
	}
	return 0;
}
