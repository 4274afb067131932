/*
 * Host tests for lib/cpio.c: newc archives built here, then damaged in
 * every way a boot module can be. Archives under test are exact-size heap
 * copies so ASan catches any read past len.
 */
#include "images.h"
#include "ktharness.h"

#include <kernel/types.h>
#include <lib/cpio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t scratch[1 << 14];

struct file {
	const char *name;
	const char *data;
	uint32_t size;
};

/* Names of 1..4 and 12 characters cover every header+name padding case. */
static const struct file files[] = {
    {"init",
     "\x7f"
     "ELF....binary",
     13},
    {"etc/boot.conf", "# boot config\nsmp=on\n", 21},
    {"empty", "", 0},
    {"a", "1", 1},
    {"ab", "22", 2},
    {"abc", "333", 3},
    {"abcd", "4444", 4},
    {"dir/nested/file", "hello, world", 12},
};
#define NFILES ARRAY_SIZE(files)

static size_t data_end[NFILES + 1]; /* end of each entry's data; [NFILES]: the trailer's */

static void build(struct img *im, bool trailer)
{
	img_init(im, scratch, sizeof(scratch));
	for (size_t i = 0; i < NFILES; i++) {
		cpio_put(im, files[i].name, 0100644, files[i].data, files[i].size);
		data_end[i] = im->len - (4 - files[i].size % 4) % 4;
	}
	size_t at = im->len;
	if (trailer)
		cpio_put_trailer(im);
	data_end[NFILES] =
	    ALIGN_UP(at + 110 + 11, 4); /* an empty entry's data starts after the name padding */
}

static uint8_t *heap_copy(const struct img *im, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	memcpy(p, im->buf, len);
	return p;
}

static void cpio_valid_archive(void)
{
	struct img im;
	uint32_t n = 99;

	build(&im, true);
	uint8_t *a = heap_copy(&im, im.len);
	CHECK_EQ(cpio_validate(a, im.len, &n), CPIO_OK);
	CHECK_EQ(n, NFILES);
	size_t off = 0;
	struct cpio_entry e;
	for (size_t i = 0; i < NFILES; i++) {
		CHECK_EQ(cpio_next(a, im.len, &off, &e), CPIO_OK);
		CHECK_EQ(e.name_len, strlen(files[i].name));
		CHECK(!memcmp(e.name, files[i].name, e.name_len));
		CHECK_EQ(e.size, files[i].size);
		CHECK(!memcmp(e.data, files[i].data, e.size));
		CHECK_EQ(e.mode, 0100644);
		CHECK_EQ((uintptr_t)e.data % 4,
		         (uintptr_t)a % 4); /* data is 4-aligned in the archive */
		CHECK_EQ(off % 4, 0);
	}
	CHECK_EQ(cpio_next(a, im.len, &off, &e), CPIO_END);
	free(a);
}

static void cpio_find_files(void)
{
	struct img im;
	struct cpio_entry e;

	build(&im, true);
	uint8_t *a = heap_copy(&im, im.len);
	for (size_t i = 0; i < NFILES; i++) {
		CHECK_EQ(cpio_find(a, im.len, files[i].name, &e), CPIO_OK);
		CHECK_EQ(e.size, files[i].size);
		CHECK(!memcmp(e.data, files[i].data, e.size));
	}
	CHECK_EQ(cpio_find(a, im.len, "nope", &e), CPIO_END);
	CHECK_EQ(cpio_find(a, im.len, "abcde", &e), CPIO_END); /* no prefix matches */
	CHECK_EQ(cpio_find(a, im.len, "etc", &e), CPIO_END);
	CHECK_EQ(cpio_find(a, im.len, "", &e), CPIO_END);
	CHECK_EQ(cpio_find(a, im.len, "TRAILER!!!", &e), CPIO_END);
	free(a);
}

static void cpio_newc_crc_magic_and_hex_case(void)
{
	struct img im;
	uint32_t n;

	build(&im, true);
	memcpy(im.buf, "070702", 6); /* newc with checksum: same layout */
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_OK);
	memcpy(im.buf + 6 + 8 * 6, "0000000d", 8); /* lower-case hex for init's size 13 */
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_OK);
	CHECK_EQ(n, NFILES);
}

static void cpio_bad_magic(void)
{
	struct img im;
	uint32_t n;
	struct cpio_entry e;

	build(&im, true);
	im.buf[5] = '7'; /* "070707": the old binary-compatible format */
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_BAD_MAGIC);
	CHECK_EQ(n, 0);
	CHECK_EQ(cpio_find(im.buf, im.len, "init", &e), CPIO_BAD_MAGIC);
	build(&im, true);
	size_t second = data_end[0] + (4 - data_end[0] % 4) % 4;
	im.buf[second] = 'X';
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_BAD_MAGIC);
	CHECK_EQ(n, 1);
	CHECK_EQ(cpio_find(im.buf, im.len, "init", &e), CPIO_OK); /* found before the damage */
}

static void cpio_bad_hex_field(void)
{
	static const char bad[] = {'g', 'G', ' ', '-', 'x', '\0', (char)0xff};
	struct img im;
	uint32_t n;

	for (size_t field = 0; field < 13; field++)
		for (size_t k = 0; k < sizeof(bad); k++) {
			build(&im, true);
			im.buf[6 + 8 * field + (k % 8)] = (uint8_t)bad[k];
			CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_BAD_FIELD);
		}
}

static void cpio_bad_namesize(void)
{
	struct img im;
	uint32_t n;

	build(&im, true);
	memcpy(im.buf + 6 + 8 * 11, "00000000", 8); /* namesize 0 */
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_BAD_FIELD);
	build(&im, true);
	memcpy(im.buf + 6 + 8 * 11, "00001001", 8); /* namesize above 4096 */
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_BAD_FIELD);
	build(&im, true);
	im.buf[110 + 4] = 'x'; /* "init" not NUL-terminated within namesize */
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_BAD_FIELD);
	build(&im, true);
	memcpy(im.buf + 6 + 8 * 11, "00000004", 8); /* namesize one short: last byte is 't' */
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_BAD_FIELD);
}

static void cpio_missing_trailer_truncated(void)
{
	struct img im;
	uint32_t n;
	struct cpio_entry e;

	build(&im, false);
	uint8_t *a = heap_copy(&im, im.len);
	CHECK_EQ(cpio_validate(a, im.len, &n), CPIO_TRUNCATED);
	CHECK_EQ(n, NFILES);
	CHECK_EQ(cpio_find(a, im.len, "missing", &e), CPIO_TRUNCATED);
	CHECK_EQ(cpio_find(a, im.len, "abc", &e), CPIO_OK);
	free(a);
	CHECK_EQ(cpio_validate(NULL, 0, &n), CPIO_TRUNCATED);
	CHECK_EQ(n, 0);
}

/* Every prefix of the archive: a truncation error, only whole entries counted, no over-read. */
static void cpio_truncated_at_every_offset(void)
{
	struct img im;

	build(&im, true);
	for (size_t len = 0; len <= im.len && !kt_failed(); len++) {
		uint8_t *a = heap_copy(&im, len);
		uint32_t n = 0, want = 0;
		while (want < NFILES && data_end[want] <= len)
			want++;
		int st = cpio_validate(a, len, &n);
		if (len >= data_end[NFILES]) {
			CHECK_EQ(st, CPIO_OK);
		} else {
			CHECK_EQ((uint64_t)(int64_t)st, (uint64_t)(int64_t)CPIO_TRUNCATED);
		}
		CHECK_EQ(n, want);
		struct cpio_entry e;
		st = cpio_find(a, len, "dir/nested/file", &e);
		CHECK(st == (len >= data_end[NFILES - 1] ? CPIO_OK : CPIO_TRUNCATED));
		if (st == CPIO_OK)
			CHECK(e.data + e.size <= a + len);
		if (kt_failed())
			kt_fail(__FILE__, __LINE__, "at prefix length %zu", len);
		free(a);
	}
}

static void cpio_huge_sizes_no_overflow(void)
{
	struct img im;
	uint32_t n;

	build(&im, true);
	memcpy(im.buf + 6 + 8 * 6, "FFFFFFFF", 8);
	CHECK_EQ(cpio_validate(im.buf, im.len, &n), CPIO_TRUNCATED);
	build(&im, true);
	memcpy(im.buf + 6 + 8 * 11, "00001000", 8); /* 4096: allowed, but past the end */
	uint8_t *a = heap_copy(&im, 600);
	CHECK_EQ(cpio_validate(a, 600, &n), CPIO_TRUNCATED);
	free(a);

	size_t off = im.len + 1;
	struct cpio_entry e;
	CHECK_EQ(cpio_next(im.buf, im.len, &off, &e), CPIO_TRUNCATED);
	off = SIZE_MAX;
	CHECK_EQ(cpio_next(im.buf, im.len, &off, &e), CPIO_TRUNCATED);
}

static void cpio_strerror_all(void)
{
	CHECK_STR(cpio_strerror(CPIO_OK), "ok");
	CHECK(strstr(cpio_strerror(CPIO_TRUNCATED), "truncated") != NULL);
	CHECK(strstr(cpio_strerror(CPIO_BAD_MAGIC), "magic") != NULL);
	CHECK(cpio_strerror(CPIO_BAD_FIELD) != NULL);
	CHECK(cpio_strerror(CPIO_END) != NULL);
	CHECK(cpio_strerror(-1000) != NULL);
}

static const struct kt_case cases[] = {
    KT(cpio_valid_archive),
    KT(cpio_find_files),
    KT(cpio_newc_crc_magic_and_hex_case),
    KT(cpio_bad_magic),
    KT(cpio_bad_hex_field),
    KT(cpio_bad_namesize),
    KT(cpio_missing_trailer_truncated),
    KT(cpio_truncated_at_every_offset),
    KT(cpio_huge_sizes_no_overflow),
    KT(cpio_strerror_all),
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
