/*
 * Host tests for lib/elf.c, the ELF64 parser of the kernel's and the root
 * task's program loaders. Images come from elf_build (images.c) and are
 * parsed from exact-size heap copies, so ASan catches any read past len.
 */
#include "images.h"
#include "ktharness.h"

#include <kernel/types.h>
#include <lib/elf.h>
#include <stdlib.h>
#include <string.h>

#define TOP     0x800000000000ull /* USER_TOP of both callers */
#define RX      (ELF_PF_R | ELF_PF_X)
#define RW      (ELF_PF_R | ELF_PF_W)
#define PT_LOAD 1

static uint8_t scratch[1 << 16];

/* A typical static executable: text, read-only data, data + bss. */
static const struct elf_seg three[] = {
    {PT_LOAD, RX, 0x400000, 0x1234, 0x1234},
    {PT_LOAD, ELF_PF_R, 0x402000, 0x300, 0x300},
    {PT_LOAD, RW, 0x403010, 0x100, 0x3000},
};

static int parse_len(const struct img *im, size_t len, uint64_t top, struct elf_image *out)
{
	uint8_t *copy = malloc(len ? len : 1);

	memcpy(copy, im->buf, len);
	memset(out, 0xa5, sizeof(*out));
	int r = elf_parse(copy, len, top, out);
	free(copy);
	return r;
}

static int parse(const struct img *im, struct elf_image *out)
{
	return parse_len(im, im->len, TOP, out);
}

static void build(struct img *im, uint64_t entry, const struct elf_seg *segs, size_t n,
                  uint64_t *offsets)
{
	img_init(im, scratch, sizeof(scratch));
	elf_build(im, entry, segs, n, offsets);
}

/* Build segs and expect err from elf_parse. */
static void expect(int line, uint64_t entry, const struct elf_seg *segs, size_t n, int err)
{
	struct img im;
	struct elf_image out;

	build(&im, entry, segs, n, NULL);
	int r = parse(&im, &out);
	if (r != err)
		kt_fail(__FILE__, line, "elf_parse: %d (%s), want %d (%s)", r, elf_strerror(r), err,
		        elf_strerror(err));
}
#define EXPECT(entry, segs, err) expect(__LINE__, entry, segs, ARRAY_SIZE(segs), err)

static void elf_valid_three_segments(void)
{
	struct img im;
	struct elf_image out;
	uint64_t off[3];

	build(&im, 0x400100, three, 3, off);
	CHECK_EQ(parse(&im, &out), ELF_OK);
	CHECK_EQ(out.entry, 0x400100);
	CHECK_EQ(out.nsegs, 3);
	for (size_t i = 0; i < 3; i++) {
		CHECK_EQ(out.segs[i].vaddr, three[i].vaddr);
		CHECK_EQ(out.segs[i].memsz, three[i].memsz);
		CHECK_EQ(out.segs[i].filesz, three[i].filesz);
		CHECK_EQ(out.segs[i].offset, off[i]);
		CHECK_EQ(out.segs[i].flags, three[i].flags);
		CHECK_EQ(im.buf[off[i] + 1], i * 16 + 1); /* elf_build's pattern */
	}
	CHECK_EQ(off[0], ELF_PH(3) + 8); /* after the headers, 16-byte aligned */
	CHECK_EQ(off[2] + three[2].filesz, im.len);
}

static void elf_valid_two_segments_entry_edges(void)
{
	static const struct elf_seg two[] = {
	    {PT_LOAD, RW, 0x1000, 0x10, 0x10},
	    {PT_LOAD, ELF_PF_X, 0x7fffffffe000, 0x20, 0x2000},
	};
	struct img im;
	struct elf_image out;

	/* Lowest page allowed, a segment ending exactly at user_top, entry at
	 * the first and last byte of the X segment (in its bss part: memsz counts). */
	EXPECT(0x7fffffffe000, two, ELF_OK);
	EXPECT(0x7fffffffffff, two, ELF_OK);
	build(&im, 0x7fffffffffff, two, 2, NULL);
	CHECK_EQ(parse(&im, &out), ELF_OK);
	CHECK_EQ(out.nsegs, 2);
	CHECK_EQ(out.segs[1].vaddr + out.segs[1].memsz, TOP);
	CHECK_EQ(out.segs[1].flags, ELF_PF_X);
}

/* Damage one header field of a valid image; expect ELF_EFORMAT. */
static void expect_format(int line, size_t at, int width, uint64_t v)
{
	struct img im;
	struct elf_image out;

	build(&im, 0x400100, three, 3, NULL);
	if (width == 1)
		im.buf[at] = (uint8_t)v;
	else
		img_set16(&im, at, (uint16_t)v);
	int r = parse(&im, &out);
	if (r != ELF_EFORMAT)
		kt_fail(__FILE__, line, "byte %zu = %#llx: %d, want ELF_EFORMAT", at,
		        (unsigned long long)v, r);
	CHECK_EQ(out.nsegs, 0);
}

static void elf_bad_header_fields(void)
{
	for (size_t i = 0; i < 4; i++)
		expect_format(__LINE__, i, 1,
		              (uint8_t)("\x7f"
		                        "ELF"[i] ^
		                        0x20));
	expect_format(__LINE__, ELF_OFF_CLASS, 1, 1); /* ELFCLASS32 */
	expect_format(__LINE__, ELF_OFF_CLASS, 1, 0);
	expect_format(__LINE__, ELF_OFF_CLASS, 1, 3);
	expect_format(__LINE__, ELF_OFF_DATA, 1, 2); /* big-endian */
	expect_format(__LINE__, ELF_OFF_DATA, 1, 0);
	expect_format(__LINE__, ELF_OFF_TYPE, 2, 3);      /* ET_DYN */
	expect_format(__LINE__, ELF_OFF_TYPE, 2, 1);      /* ET_REL */
	expect_format(__LINE__, ELF_OFF_TYPE, 2, 4);      /* ET_CORE */
	expect_format(__LINE__, ELF_OFF_TYPE, 2, 0x0200); /* ET_EXEC big-endian */
	expect_format(__LINE__, ELF_OFF_MACHINE, 2, 3);   /* EM_386 */
	expect_format(__LINE__, ELF_OFF_MACHINE, 2, 183); /* EM_AARCH64 */
	expect_format(__LINE__, ELF_OFF_MACHINE, 2, 0x3e00);
	expect_format(__LINE__, ELF_OFF_PHENTSIZE, 2, 32); /* ELF32's */
	expect_format(__LINE__, ELF_OFF_PHENTSIZE, 2, 0);
	expect_format(__LINE__, ELF_OFF_PHENTSIZE, 2, 57);
	expect_format(__LINE__, ELF_OFF_PHENTSIZE, 2, 64);
}

static void check_trunc_range(size_t from, size_t to)
{
	struct img im;
	struct elf_image out;

	build(&im, 0x400100, three, 3, NULL);
	for (size_t len = from; len < to; len++) {
		int r = parse_len(&im, len, TOP, &out);
		if (r != ELF_ETRUNC)
			kt_fail(__FILE__, __LINE__, "length %zu of %zu: %d, want ELF_ETRUNC", len,
			        im.len, r);
	}
	CHECK_EQ(parse_len(&im, im.len, TOP, &out), ELF_OK);
}

static void elf_header_truncated_at_every_length(void)
{
	check_trunc_range(0, 64);
}

static void elf_phdrs_truncated_at_every_length(void)
{
	check_trunc_range(64, ELF_PH(3));
}

static void elf_segment_data_truncated_at_every_length(void)
{
	struct img im;

	build(&im, 0x400100, three, 3, NULL);
	check_trunc_range(ELF_PH(3), im.len);
}

/* Offsets and counts chosen so that offset + size would wrap. */
static void elf_huge_offsets_no_overflow(void)
{
	struct img im;
	struct elf_image out;
	static const uint64_t phoffs[] = {0xffffffffffffffffull, 0xfffffffffffffff0ull, 1ull << 63};

	for (size_t i = 0; i < ARRAY_SIZE(phoffs); i++) {
		build(&im, 0x400100, three, 3, NULL);
		img_set64(&im, ELF_OFF_PHOFF, phoffs[i]);
		CHECK_EQ(parse(&im, &out), ELF_ETRUNC);
	}
	build(&im, 0x400100, three, 3, NULL);
	img_set16(&im, ELF_OFF_PHNUM, 0xffff);
	CHECK_EQ(parse(&im, &out), ELF_ETRUNC);
	build(&im, 0x400100, three, 3, NULL);
	img_set64(&im, ELF_OFF_PHOFF, im.len); /* no room for even one */
	CHECK_EQ(parse(&im, &out), ELF_ETRUNC);
	for (size_t i = 0; i < ARRAY_SIZE(phoffs); i++) {
		build(&im, 0x400100, three, 3, NULL);
		img_set64(&im, ELF_PH(1) + ELF_PH_OFFSET, phoffs[i]);
		CHECK_EQ(parse(&im, &out), ELF_ETRUNC);
		build(&im, 0x400100, three, 3, NULL);
		img_set64(&im, ELF_PH(1) + ELF_PH_OFFSET, 16);
		img_set64(&im, ELF_PH(1) + ELF_PH_FILESZ, phoffs[i]);
		img_set64(&im, ELF_PH(1) + ELF_PH_MEMSZ, phoffs[i]);
		CHECK_EQ(parse(&im, &out), ELF_ETRUNC);
	}
}

static void elf_filesz_above_memsz(void)
{
	const struct elf_seg s[] = {{PT_LOAD, RX, 0x400000, 0x101, 0x100}};
	const struct elf_seg eq[] = {{PT_LOAD, RX, 0x400000, 0x100, 0x100}};

	EXPECT(0x400000, s, ELF_ESEGMENT);
	EXPECT(0x400000, eq, ELF_OK);
}

static void elf_segment_below_4096(void)
{
	const struct elf_seg at0[] = {{PT_LOAD, RX, 0, 0x10, 0x10}};
	const struct elf_seg at4095[] = {{PT_LOAD, RX, 0xfff, 0x10, 0x10}};
	const struct elf_seg at4096[] = {{PT_LOAD, RX, 0x1000, 0x10, 0x10}};
	const struct elf_seg second[] = {three[0], {PT_LOAD, RW, 0x800, 0x10, 0x10}};

	EXPECT(0x10, at0, ELF_ESEGMENT);
	EXPECT(0x1000, at4095, ELF_ESEGMENT);
	EXPECT(0x1000, at4096, ELF_OK);
	EXPECT(0x400000, second, ELF_ESEGMENT);
}

static void elf_segment_beyond_user_top(void)
{
	const struct elf_seg at_top[] = {three[0], {PT_LOAD, RW, TOP, 0, 0x10}};
	const struct elf_seg past[] = {three[0], {PT_LOAD, RW, TOP - 0x1000, 0, 0x1001}};
	const struct elf_seg high[] = {three[0], {PT_LOAD, RW, 0xffff800000000000ull, 0, 0x1000}};
	const struct elf_seg ends_at_top[] = {three[0], {PT_LOAD, RW, TOP - 0x1000, 0, 0x1000}};
	struct img im;
	struct elf_image out;

	EXPECT(0x400000, at_top, ELF_ESEGMENT);
	EXPECT(0x400000, past, ELF_ESEGMENT);
	EXPECT(0x400000, high, ELF_ESEGMENT);
	EXPECT(0x400000, ends_at_top, ELF_OK);
	/* The same image against a lower top. */
	build(&im, 0x400000, three, 3, NULL);
	CHECK_EQ(parse_len(&im, im.len, 0x406010, &out), ELF_OK);
	CHECK_EQ(parse_len(&im, im.len, 0x40600f, &out), ELF_ESEGMENT);
	CHECK_EQ(parse_len(&im, im.len, 0, &out), ELF_ESEGMENT);
}

static void elf_memsz_wraps(void)
{
	const struct elf_seg w1[] = {three[0], {PT_LOAD, RW, 0x600000, 0, 0xffffffffffffffffull}};
	const struct elf_seg w2[] = {three[0], {PT_LOAD, RW, 0x600000, 0, 0ull - 0x600000}};
	const struct elf_seg w3[] = {three[0], {PT_LOAD, RW, 0x600000, 0, 0ull - 0x5ff000}};

	EXPECT(0x400000, w1, ELF_ESEGMENT);
	EXPECT(0x400000, w2, ELF_ESEGMENT);
	EXPECT(0x400000, w3, ELF_ESEGMENT);
}

static void elf_overlap_page_granularity(void)
{
	const struct elf_seg same_page[] = {{PT_LOAD, RX, 0x400000, 0x10, 0x800},
	                                    {PT_LOAD, RW, 0x400900, 0, 0x10}};
	const struct elf_seg touching[] = {{PT_LOAD, RX, 0x400000, 0x10, 0x800},
	                                   {PT_LOAD, RW, 0x401000, 0, 0x10}};
	const struct elf_seg ends_in[] = {{PT_LOAD, RX, 0x402000, 0x10, 0x10},
	                                  {PT_LOAD, RW, 0x400000, 0, 0x2001}};
	const struct elf_seg ends_before[] = {{PT_LOAD, RX, 0x402000, 0x10, 0x10},
	                                      {PT_LOAD, RW, 0x400000, 0, 0x2000}};
	const struct elf_seg inside[] = {{PT_LOAD, RX, 0x400000, 0x10, 0x10000},
	                                 {PT_LOAD, RW, 0x405000, 0, 0x10}};
	const struct elf_seg contains[] = {{PT_LOAD, RX, 0x405000, 0x10, 0x10},
	                                   {PT_LOAD, RW, 0x400000, 0, 0x10000}};
	const struct elf_seg same[] = {{PT_LOAD, RX, 0x400000, 0x10, 0x10},
	                               {PT_LOAD, RX, 0x400000, 0x10, 0x10}};
	const struct elf_seg third[] = {
	    three[0], three[1], three[2], {PT_LOAD, RW, 0x401ff0, 0, 0x10}};

	EXPECT(0x400000, same_page, ELF_ESEGMENT);
	EXPECT(0x400000, touching, ELF_OK);
	EXPECT(0x402000, ends_in, ELF_ESEGMENT);
	EXPECT(0x402000, ends_before, ELF_OK);
	EXPECT(0x400000, inside, ELF_ESEGMENT);
	EXPECT(0x405000, contains, ELF_ESEGMENT);
	EXPECT(0x400000, same, ELF_ESEGMENT);
	EXPECT(0x400000, third, ELF_ESEGMENT);
}

static void elf_entry_outside_executable_segment(void)
{
	const struct elf_seg no_x[] = {{PT_LOAD, RW, 0x400000, 0x10, 0x10}};
	const struct elf_seg none[] = {{4, ELF_PF_R, 0x400000, 0x10, 0x10}};

	EXPECT(0x403010, three, ELF_ESEGMENT); /* in the data segment */
	EXPECT(0x402000, three, ELF_ESEGMENT); /* in the rodata segment */
	EXPECT(0x401234, three, ELF_ESEGMENT); /* one past the text segment */
	EXPECT(0x3fffff, three, ELF_ESEGMENT); /* one before */
	EXPECT(0, three, ELF_ESEGMENT);
	EXPECT(0xffffffffffffffffull, three, ELF_ESEGMENT);
	EXPECT(0x401233, three, ELF_OK);
	EXPECT(0x400000, no_x, ELF_ESEGMENT);
	EXPECT(0x400000, none, ELF_ESEGMENT); /* no loadable segment at all */
}

static void elf_too_many_segments(void)
{
	struct elf_seg s[ELF_MAX_SEGMENTS + 1];
	struct img im;
	struct elf_image out;

	for (size_t i = 0; i < ARRAY_SIZE(s); i++)
		s[i] = (struct elf_seg){PT_LOAD, RX, 0x400000 + i * 0x1000, 0x8, 0x1000};
	build(&im, 0x400000, s, ELF_MAX_SEGMENTS, NULL);
	CHECK_EQ(parse(&im, &out), ELF_OK);
	CHECK_EQ(out.nsegs, ELF_MAX_SEGMENTS);
	CHECK_EQ(out.segs[ELF_MAX_SEGMENTS - 1].vaddr, 0x400000 + (ELF_MAX_SEGMENTS - 1) * 0x1000);
	build(&im, 0x400000, s, ELF_MAX_SEGMENTS + 1, NULL);
	CHECK_EQ(parse(&im, &out), ELF_ETOOMANY);
}

/* PT_NULL, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_PHDR, PT_TLS, GNU_STACK with values a PT_LOAD may not
 * have. */
static void elf_non_load_headers_ignored(void)
{
	static const uint32_t types[] = {0, 2, 3, 4, 6, 7, 0x6474e551, 0x6474e552, 0xffffffff};
	struct elf_seg s[ARRAY_SIZE(types) + ELF_MAX_SEGMENTS];
	struct img im;
	struct elf_image out;
	size_t n = 0;

	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		s[n++] = (struct elf_seg){types[i], RX, 0, 0x20,
		                          0x10}; /* below 4096 and filesz > memsz */
		if (i < ELF_MAX_SEGMENTS)
			s[n++] = (struct elf_seg){PT_LOAD, RX, 0x400000 + i * 0x1000, 0x8, 0x10};
	}
	build(&im, 0x400000, s, n, NULL);
	img_set64(&im, ELF_PH(0) + ELF_PH_OFFSET, 0xffffffffffff0000ull); /* past the end */
	CHECK_EQ(parse(&im, &out), ELF_OK);
	CHECK_EQ(out.nsegs, ARRAY_SIZE(types));
	for (uint32_t i = 0; i < out.nsegs; i++)
		CHECK_EQ(out.segs[i].vaddr, 0x400000 + i * 0x1000);
}

/* memsz 0: nothing to map, so not checked for place or overlap, and not counted. */
static void elf_zero_memsz_segments_ignored(void)
{
	struct elf_seg s[ELF_MAX_SEGMENTS + 3];
	struct img im;
	struct elf_image out;

	for (size_t i = 0; i < ELF_MAX_SEGMENTS; i++)
		s[i] = (struct elf_seg){PT_LOAD, RX, 0x400000 + i * 0x1000, 0x8, 0x1000};
	s[ELF_MAX_SEGMENTS] = (struct elf_seg){PT_LOAD, RW, 0, 0, 0};
	s[ELF_MAX_SEGMENTS + 1] = (struct elf_seg){PT_LOAD, RW, 0x400000, 0, 0};
	s[ELF_MAX_SEGMENTS + 2] = (struct elf_seg){PT_LOAD, RW, TOP + 0x1000, 0, 0};
	build(&im, 0x400000, s, ARRAY_SIZE(s), NULL);
	CHECK_EQ(parse(&im, &out), ELF_OK);
	CHECK_EQ(out.nsegs, ELF_MAX_SEGMENTS);
	for (uint32_t i = 0; i < out.nsegs; i++)
		CHECK(out.segs[i].memsz != 0);
}

/*
 * With a user_top near 2^64 (the parameter allows any), the page-rounded
 * end vaddr + memsz + 4095 wrapped to 0, so two segments sharing the last
 * pages were not seen to overlap.
 */
static void elf_overlap_check_wraps_near_top(void)
{
	const struct elf_seg s[] = {
	    {PT_LOAD, RX, 0xffffffffffffe000ull, 0x10, 0x1800},
	    {PT_LOAD, RW, 0xfffffffffffff900ull, 0, 0x100},
	};
	const struct elf_seg apart[] = {
	    {PT_LOAD, RX, 0xffffffffffffe000ull, 0x10, 0x1000},
	    {PT_LOAD, RW, 0xfffffffffffff900ull, 0, 0x100},
	};
	struct img im;
	struct elf_image out;

	build(&im, 0xffffffffffffe000ull, s, 2, NULL);
	CHECK_EQ(parse_len(&im, im.len, 0xffffffffffffffffull, &out), ELF_ESEGMENT);
	build(&im, 0xffffffffffffe000ull, apart, 2, NULL);
	CHECK_EQ(parse_len(&im, im.len, 0xffffffffffffffffull, &out), ELF_OK);
	CHECK_EQ(out.nsegs, 2);
}

static void elf_strerror_all(void)
{
	CHECK_STR(elf_strerror(ELF_OK), "ok");
	CHECK(strstr(elf_strerror(ELF_ETRUNC), "truncated") != NULL);
	CHECK(strstr(elf_strerror(ELF_EFORMAT), "ELF64") != NULL);
	CHECK(strstr(elf_strerror(ELF_ESEGMENT), "segment") != NULL);
	CHECK(strstr(elf_strerror(ELF_ETOOMANY), "many") != NULL);
}

static const struct kt_case cases[] = {
    KT(elf_valid_three_segments),
    KT(elf_valid_two_segments_entry_edges),
    KT(elf_bad_header_fields),
    KT(elf_header_truncated_at_every_length),
    KT(elf_phdrs_truncated_at_every_length),
    KT(elf_segment_data_truncated_at_every_length),
    KT(elf_huge_offsets_no_overflow),
    KT(elf_filesz_above_memsz),
    KT(elf_segment_below_4096),
    KT(elf_segment_beyond_user_top),
    KT(elf_memsz_wraps),
    KT(elf_overlap_page_granularity),
    KT(elf_entry_outside_executable_segment),
    KT(elf_too_many_segments),
    KT(elf_non_load_headers_ignored),
    KT(elf_zero_memsz_segments_ignored),
    KT(elf_overlap_check_wraps_near_top),
    KT(elf_strerror_all),
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
