/* Codec unit tests: CRC-32C, reader bounds, writer with external
 * references, RecordBatch v2 validation. */
#include "tharness.h"
#include "kafka/broker_int.h"
#include "storage/crc32c.h"

/* The kcat batch from the protocol notes (§6.3), BaseOffset 0. */
static const uint8_t example_batch[81] = {
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x45, 0,    0,
    0,    0,    2,    0x96, 0xb7, 0xad, 0xf3, 0,    0,    0,    0,    0,    0,    0,
    0,    0x01, 0xa2, 0x01, 0x4f, 0xae, 0x8a, 0,    0,    0x01, 0xa2, 0x01, 0x4f, 0xae,
    0x8a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0,    0,    0,    1,    0x26, 0,    0,    0,    0x04, 'k',  '1',  0x0a, 'h',
    'e',  'l',  'l',  'o',  0x02, 0x04, 'h',  '1',  0x04, 'v',  '1',
};

static const struct kalloc al = {NULL, t_alloc, t_free};

static void t_crc32c(void)
{
	CHECK(store_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(store_crc32c(store_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
	CHECK(store_crc32c(0, example_batch + 21, 60) == 0x96b7adf3u);
	CHECK(store_crc32c(0, "", 0) == 0);
	CHECK(store_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
}

/* buf[0..n) from a linear congruential generator seeded with x */
static void fill_lcg(uint8_t *buf, size_t n, uint32_t x)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
}

/* store_crc32c against the tables at offsets below noff and lengths from `from` to `to` (every
 * one to 700, every 37th after), from a running CRC that varies; false at the first difference */
static bool crc_agrees(const uint8_t *buf, size_t noff, size_t from, size_t to)
{
	for (size_t off = 0; off < noff; off++)
		for (size_t n = from; n + off <= to; n += (n < 700 ? 1 : 37)) {
			uint32_t seed = (uint32_t)(n * 2654435761u) ^ (uint32_t)off;
			if (store_crc32c(seed, buf + off, n) != store_crc32c_sw(seed, buf + off, n))
				return false;
		}
	return true;
}

/* regression: the table CRC was most of the produce path's instructions; the crc32
 * instruction that replaced it must agree with the tables at every length and offset,
 * chained or not */
static void t_crc32c_hw_matches_tables(void)
{
	static uint8_t buf[600];

	fill_lcg(buf, sizeof(buf), 12345);
	CHECK(crc_agrees(buf, 9, 0, 520) || !"crc32c: hardware and tables differ");
	CHECK(store_crc32c(store_crc32c(0, buf, 13), buf + 13, 400) ==
	      store_crc32c_sw(0, buf, 413));
}

/* store_crc32c sums 256 bytes a loop trip, then 64, then 8, then the tail: it must agree with
 * the tables at every length from below one long trip to several past it, at every alignment,
 * from any running CRC, and chained */
static void t_crc32c_long_trips_match_tables(void)
{
	static uint8_t buf[4400];

	fill_lcg(buf, sizeof(buf), 4242);
	CHECK(crc_agrees(buf, 17, 248, 4300) || !"crc32c: the long trips and the tables differ");
	static uint8_t ones[1024], zeros[1024];
	for (size_t i = 0; i < sizeof(ones); i++)
		ones[i] = 0xff;
	CHECK(store_crc32c(0, ones, sizeof(ones)) == store_crc32c_sw(0, ones, sizeof(ones)));
	CHECK(store_crc32c(~0u, zeros, sizeof(zeros)) ==
	      store_crc32c_sw(~0u, zeros, sizeof(zeros)));
	CHECK(store_crc32c(store_crc32c(0, buf, 1000), buf + 1000, 3000) ==
	      store_crc32c_sw(0, buf, 4000));
}

/* x^e mod P from the combine's squares (reflected: x^0 is the top bit) */
static uint32_t xpow(uint64_t e)
{
	uint32_t r = 1u << 31;

	for (unsigned k = 0; e; e >>= 1, k++)
		if (e & 1)
			r = store_crc32c_mulmod(store_crc32c_x2k(k), r);
	return r;
}

/* The 256-bit fold's constants are {x^(D+31), x^(D-33)} mod P for its fold distances D: one
 * wrong bit and every buffer from CRC32C_FOLD_MIN up sums wrong on CPUs with VPCLMULQDQ */
static void t_crc32c_fold_constants_are_powers(void)
{
	for (unsigned i = 0; i < 9; i++) {
		uint64_t d = i < 8 ? 2048 - 256 * i : 128;
		CHECK_EQ(store_crc32c_fold_k(i, 0), xpow(d + 31));
		CHECK_EQ(store_crc32c_fold_k(i, 1), xpow(d - 33));
	}
	CHECK_EQ(store_crc32c_fold_k(9, 0), 0);
}

/* From CRC32C_FOLD_MIN bytes store_crc32c folds 256 bytes a loop trip when the CPU has
 * VPCLMULQDQ (then 32, then 16, then crc32 over the tail): the tables and the crc32 instruction
 * must agree with it at every length around each step, at every alignment, from any running
 * CRC, chained, over all-ones and all-zero lanes */
static void t_crc32c_fold_matches_tables(void)
{
	static uint8_t buf[5000], ones[4096], zeros[4096];

	if (!store_crc32c_folds())
		fprintf(stderr, "# this CPU has no VPCLMULQDQ: store_crc32c does not fold here\n");
	fill_lcg(buf, sizeof(buf), 777);
	CHECK(crc_agrees(buf, 33, CRC32C_FOLD_MIN - 8, 4900) ||
	      !"crc32c: the fold and the tables differ");
	for (size_t n = CRC32C_FOLD_MIN; n < 1400; n += 13)
		CHECK_EQ(store_crc32c(n, buf + 5, n), store_crc32c_insn(n, buf + 5, n));
	memset(ones, 0xff, sizeof(ones));
	CHECK_EQ(store_crc32c(0, ones, sizeof(ones)), store_crc32c_sw(0, ones, sizeof(ones)));
	CHECK_EQ(store_crc32c(~0u, zeros, sizeof(zeros)),
	         store_crc32c_sw(~0u, zeros, sizeof(zeros)));
	CHECK_EQ(store_crc32c(store_crc32c(0, buf, 700), buf + 700, 4000),
	         store_crc32c_sw(0, buf, 4700));
}

/* store_crc32c_insn is the crc32 loop at every length (long trips included where the CPU folds) */
static void t_crc32c_insn_matches_tables(void)
{
	static uint8_t buf[2200];

	fill_lcg(buf, sizeof(buf), 31337);
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n + off <= 2100; n += 7)
			CHECK_EQ(store_crc32c_insn((uint32_t)n, buf + off, n),
			         store_crc32c_sw((uint32_t)n, buf + off, n));
}

/* store_crc32c_combine: the CRC of A then B from the CRCs of A and B, at every length to 600 and
 * at large ones, chained or not; its table is x^(2^k), each entry the square of the one before,
 * repeating after 31 */
static void t_crc32c_combine_matches_one_pass(void)
{
	static uint8_t buf[70000];
	static const size_t big[] = {16384, 16405, 65535, 65536, 69999};

	fill_lcg(buf, sizeof(buf), 777);
	CHECK(store_crc32c_x2k(0) == 1u << 30);
	for (unsigned k = 0; k < 40; k++)
		CHECK(store_crc32c_x2k(k + 1) ==
		      store_crc32c_mulmod(store_crc32c_x2k(k), store_crc32c_x2k(k)));
	for (size_t n = 0; n <= 600; n++)
		for (size_t a = 0; a < 3; a++) {
			uint32_t seed = (uint32_t)(n * 40503u + a),
			         ca = store_crc32c(seed, buf, a * 7);
			if (store_crc32c_combine(ca, store_crc32c(0, buf + 100, n), n) !=
			    store_crc32c(ca, buf + 100, n)) {
				CHECK(!"crc32c: combine differs from one pass");
				return;
			}
		}
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		uint32_t ca = store_crc32c(0, "hallows", 7);
		CHECK(store_crc32c_combine(ca, store_crc32c(0, buf, big[i]), big[i]) ==
		      store_crc32c(ca, buf, big[i]));
	}
}

static void t_reader_bounds(void)
{
	const uint8_t s1[] = {0, 5, 'a', 'b'}; /* string claims 5, has 2 */
	const uint8_t arr[] = {0x7f, 0xff, 0xff, 0xff, 0};
	const uint8_t var[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	const uint8_t neg[] = {0xff, 0xfe};
	struct kr r;
	struct kstr s;
	struct kbytes b;

	kr_init(&r, s1, sizeof(s1));
	CHECK(!kr_str(&r, &s) && r.bad && s.len == 0);
	CHECK(kr_i32(&r) == 0); /* stays bad, yields zero */
	kr_init(&r, arr, sizeof(arr));
	CHECK(kr_array(&r, 1, false) == 0 && r.bad);
	kr_init(&r, arr, 4);
	(void)kr_i32(&r);
	kr_init(&r, (const uint8_t[]){0xff, 0xff, 0xff, 0xff}, 4);
	CHECK(kr_array(&r, 1, true) == -1 && !r.bad);
	kr_init(&r, (const uint8_t[]){0xff, 0xff, 0xff, 0xff}, 4);
	CHECK(kr_array(&r, 1, false) == 0 && r.bad);
	kr_init(&r, var, sizeof(var));
	(void)kr_uvarint(&r);
	CHECK(r.bad);
	kr_init(&r, neg, sizeof(neg));
	CHECK(!kr_str(&r, &s));
	kr_init(&r, (const uint8_t[]){0xff, 0xff, 0xff, 0xff}, 4);
	CHECK(kr_bytes(&r, &b) && b.len == -1);
	kr_init(&r, (const uint8_t[]){0x03, 'h', 'i', 0x00}, 4);
	CHECK(kr_cstr(&r, &s) && s.len == 2 && !memcmp(s.p, "hi", 2));
	kr_skip_tags(&r);
	CHECK(!r.bad && r.off == 4);
}

static void t_writer_ext(void)
{
	struct kw w;
	const char ext[] = "EXTERNAL";

	kw_init(&w, &al);
	kw_i32(&w, 0);
	kw_i16(&w, -2);
	CHECK(kw_ext(&w, ext, 8));
	kw_str(&w, "ab", 2);
	kw_str(&w, NULL, -1);
	kw_uvarint(&w, 300);
	kw_patch32(&w, 0, (int32_t)(kw_total(&w) - 4));
	CHECK(w.len == 4 + 2 + 4 + 2 + 2 && kw_total(&w) == w.len + 8u);
	CHECK(w.ext[0].at == 6 && w.ext[0].len == 8);
	CHECK(get_be32(w.buf) == kw_total(&w) - 4);
	CHECK(w.buf[w.len - 2] == 0xac && w.buf[w.len - 1] == 0x02);
	for (uint32_t i = 0; i < KW_MAX_EXT - 1; i++)
		CHECK(kw_ext(&w, ext, 1));
	CHECK(!kw_ext(&w, ext, 1)); /* full: refuses rather than overflows */
	kw_free(&w);
}

static void t_batch_check(void)
{
	uint8_t b[200];
	uint32_t count;
	int64_t ts;

	memcpy(b, example_batch, 81);
	CHECK(api_batch_check(b, 81, &count, &ts) == 0 && count == 1);
	CHECK(ts == 0x1a2014fae8a);
	memcpy(b + 81, example_batch, 81);
	CHECK(api_batch_check(b, 162, &count, &ts) == 0 && count == 2);
	CHECK(api_batch_check(b, 161, &count, &ts) == KERR_CORRUPT);
	CHECK(api_batch_check(b, 60, &count, &ts) == KERR_CORRUPT);
	b[70] ^= 1;
	CHECK(api_batch_check(b, 81, &count, &ts) == KERR_CORRUPT);
	b[70] ^= 1;
	b[16] = 1; /* magic */
	CHECK(api_batch_check(b, 81, &count, &ts) == KERR_CORRUPT);
	b[16] = 2;
	b[11] = 0x30; /* BatchLength beyond the blob */
	CHECK(api_batch_check(b, 81, &count, &ts) == KERR_CORRUPT);
	b[11] = 0x45;
	b[0] = 0x55; /* BaseOffset and epoch are outside the CRC */
	b[13] = 7;
	CHECK(api_batch_check(b, 81, &count, &ts) == 0);
	b[22] = 5; /* codec 5 does not exist (attributes are CRC-covered) */
	CHECK(api_batch_check(b, 81, &count, &ts) == KERR_CORRUPT);
}

static void t_topic_names(void)
{
	struct kstr ok = {"a.B_c-9", 7}, dot = {".", 1}, dd = {"..", 2};
	struct kstr slash = {"a/b", 3}, empty = {"", 0}, null = {NULL, -1};
	char longn[260];

	memset(longn, 'x', sizeof(longn));
	struct kstr l249 = {longn, 249}, l250 = {longn, 250};
	CHECK(topic_name_valid(&ok) && topic_name_valid(&l249));
	CHECK(!topic_name_valid(&dot) && !topic_name_valid(&dd));
	CHECK(!topic_name_valid(&slash) && !topic_name_valid(&empty));
	CHECK(!topic_name_valid(&null) && !topic_name_valid(&l250));
}

/* Bug compact_string_too_long_kept_its_length: a COMPACT_STRING longer than 32,767 bytes marked
 * the reader bad but left its length with no bytes (a NULL string the response writer copied). */
static void t_compact_string_too_long(void)
{
	const uint8_t in[] = {0x81, 0x80, 0x02, 'a', 'b'}; /* uvarint 32769: 32,768 bytes */
	struct kr r;
	struct kstr s;

	kr_init(&r, in, sizeof(in));
	r.flex = true;
	CHECK(!kr_str(&r, &s));
	CHECK(r.bad && s.p == NULL && s.len <= 0);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("codec_crc32c_check_values", t_crc32c);
	kt_add("codec_compact_string_too_long_kept_its_length", t_compact_string_too_long);
	kt_add("codec_crc32c_hw_matches_tables", t_crc32c_hw_matches_tables);
	kt_add("codec_crc32c_long_trips_match_tables", t_crc32c_long_trips_match_tables);
	kt_add("codec_crc32c_combine_matches_one_pass", t_crc32c_combine_matches_one_pass);
	kt_add("codec_crc32c_fold_constants_are_powers", t_crc32c_fold_constants_are_powers);
	kt_add("codec_crc32c_fold_matches_tables", t_crc32c_fold_matches_tables);
	kt_add("codec_crc32c_insn_matches_tables", t_crc32c_insn_matches_tables);
	kt_add("codec_reader_bounds", t_reader_bounds);
	kt_add("codec_writer_external_refs", t_writer_ext);
	kt_add("codec_batch_check", t_batch_check);
	kt_add("codec_topic_names", t_topic_names);
	return kt_main(NULL, 0, argc, argv);
}
