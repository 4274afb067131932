/* Log compaction (issue 17): the compaction core on hand-built
 * RecordBatch v2 bytes (keys kept and dropped, offsets kept, tombstones
 * and their delete horizon, empty results, idempotent producers' last
 * batches, huge keys, malformed batches), the store's crash-safe segment
 * switch (a crash at every write of it), and the broker's compactor end
 * to end: produce keyed records, let it compact, fetch from offset 0 and
 * compare with the last value per key, across restarts and crashes. */
#include "broker/codec.h"
#include "tbroker.h"
#include "storage/crc32c.h"

#define MB  (1024u * 1024u)
#define DRT 5000 /* delete.retention.ms used below */

/* ---- building batches ---- */

struct rec {
	const char *key; /* NULL: no key */
	uint32_t klen;   /* 0: strlen(key) */
	const char *val; /* NULL: tombstone */
	int64_t tsd;
};

/* Batch at base with n records at offset deltas 0..n-1 (lod = n-1+extra);
 * returns its length. */
static uint32_t mk_batch(uint8_t *b, int64_t base, int64_t ts, const struct rec *r, uint32_t n,
                         int64_t pid, uint32_t extra)
{
	uint32_t o = 61;

	memset(b, 0, 61);
	put_be64(b, (uint64_t)base);
	b[16] = 2;
	put_be32(b + 23, n - 1 + extra);
	put_be64(b + 27, (uint64_t)ts);
	put_be64(b + 35, (uint64_t)(ts + r[n - 1].tsd));
	put_be64(b + 43, (uint64_t)pid);
	put_be16(b + 51, pid >= 0 ? 0 : 0xffff);
	put_be32(b + 53, pid >= 0 ? 0 : 0xffffffffu);
	put_be32(b + 57, n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t body[300000];
		uint32_t m = 0,
		         kl = r[i].key ? (r[i].klen ? r[i].klen : (uint32_t)strlen(r[i].key)) : 0;
		body[m++] = 0;
		m += compact_put_varint(body + m, r[i].tsd);
		m += compact_put_varint(body + m, i);
		m += compact_put_varint(body + m, r[i].key ? (int64_t)kl : -1);
		if (r[i].key) {
			memcpy(body + m, r[i].key, kl);
			m += kl;
		}
		m += compact_put_varint(body + m, r[i].val ? (int64_t)strlen(r[i].val) : -1);
		if (r[i].val) {
			memcpy(body + m, r[i].val, strlen(r[i].val));
			m += (uint32_t)strlen(r[i].val);
		}
		body[m++] = 0; /* no headers */
		o += compact_put_varint(b + o, m);
		memcpy(b + o, body, m);
		o += m;
	}
	put_be32(b + 8, o - 12);
	put_be32(b + 17, store_crc32c(0, b + 21, o - 21));
	return o;
}

/* Records of a batch: offsets, keys (as strings), values (NULL for a
 * tombstone) and timestamps, after checking its CRC. */
struct got {
	int64_t off, ts;
	char key[64];
	char val[64];
	bool tomb;
};

static uint32_t rd_vi(const uint8_t *p, uint32_t *at, int64_t *v)
{
	CHECK(api_rec_varint(p, *at + 10, at, v));
	return 0;
}

static uint32_t parse_batch(const uint8_t *b, uint32_t len, struct got *g, uint32_t max)
{
	uint32_t n = get_be32(b + 57), at = 61;

	CHECK(len >= 61 && get_be32(b + 8) + 12 == len);
	CHECK(get_be32(b + 17) == store_crc32c(0, b + 21, len - 21));
	for (uint32_t i = 0; i < n && i < max; i++) {
		int64_t l, tsd, od, kl, vl;
		rd_vi(b, &at, &l);
		uint32_t end = at + (uint32_t)l;
		at++;
		rd_vi(b, &at, &tsd);
		rd_vi(b, &at, &od);
		rd_vi(b, &at, &kl);
		memset(&g[i], 0, sizeof(g[i]));
		g[i].off = (int64_t)get_be64(b) + od;
		g[i].ts = (int64_t)get_be64(b + 27) + tsd;
		memcpy(g[i].key, b + at, kl > 0 ? (size_t)(kl < 63 ? kl : 63) : 0);
		at += kl > 0 ? (uint32_t)kl : 0;
		rd_vi(b, &at, &vl);
		g[i].tomb = vl < 0;
		if (vl > 0)
			memcpy(g[i].val, b + at, (size_t)(vl < 63 ? vl : 63));
		CHECK(od <= (int64_t)get_be32(b + 23));
		at = end;
	}
	CHECK(at == len || n > max);
	return n;
}

static struct cmap *map_new(void)
{
	struct cmap *m = calloc(1, sizeof(*m));
	m->cap = 1024;
	m->e = calloc(m->cap, sizeof(*m->e));
	return m;
}

static void map_free(struct cmap *m)
{
	free(m->e);
	free(m);
}

/* ---- the core ---- */

static void t_core_keeps_latest(void)
{
	static uint8_t b1[4096], b2[4096], out[1u << 20];
	const struct rec r1[] = {{"a", 0, "a1", 0}, {"b", 0, "b1", 1}, {"c", 0, "c1", 2}};
	const struct rec r2[] = {{"a", 0, "a2", 0}, {NULL, 0, "nokey", 1}, {"c", 0, "c2", 2}};
	uint32_t l1 = mk_batch(b1, 100, 5000, r1, 3, -1, 0);
	uint32_t l2 = mk_batch(b2, 103, 6000, r2, 3, -1, 2); /* lod 4: offsets 103..107 */
	struct cmap *m = map_new();
	struct got g[8] = {{0}};
	uint32_t ol;

	CHECK(compact_map_batch(m, b1, l1, CTX_ENDED) == 0 &&
	      compact_map_batch(m, b2, l2, CTX_ENDED) == 0);
	CHECK(m->n == 3);
	CHECK(compact_filter_batch(m, b1, l1, CTX_ENDED, 10000, DRT, out, sizeof(out), &ol) == 0);
	CHECK(ol > 61 && ol < l1);
	CHECK(parse_batch(out, ol, g, 8) == 1);
	CHECK(g[0].off == 101 && !strcmp(g[0].key, "b") && !strcmp(g[0].val, "b1"));
	CHECK(g[0].ts == 5001);
	CHECK(get_be64(out) == 100 && get_be32(out + 23) == 2); /* base and lod kept */
	/* the newer batch is kept whole: the same bytes */
	CHECK(compact_filter_batch(m, b2, l2, CTX_ENDED, 10000, DRT, out, sizeof(out), &ol) == 0);
	CHECK(ol == l2 && !memcmp(out, b2, l2));
	map_free(m);
}

static void t_core_tombstones(void)
{
	static uint8_t b1[4096], b2[4096], out[1u << 20], out2[1u << 20];
	const struct rec r1[] = {{"k", 0, "v1", 0}, {"x", 0, "x1", 7}};
	const struct rec r2[] = {{"k", 0, NULL, 3}};
	uint32_t l1 = mk_batch(b1, 0, 1000, r1, 2, -1, 0);
	uint32_t l2 = mk_batch(b2, 2, 2000, r2, 1, -1, 0);
	struct cmap *m = map_new();
	struct got g[4] = {{0}};
	uint32_t ol, ol2;

	CHECK(compact_map_batch(m, b1, l1, CTX_ENDED) == 0 &&
	      compact_map_batch(m, b2, l2, CTX_ENDED) == 0);
	CHECK(compact_filter_batch(m, b1, l1, CTX_ENDED, 50000, DRT, out, sizeof(out), &ol) == 0);
	CHECK(parse_batch(out, ol, g, 4) == 1 && !strcmp(g[0].key, "x") && g[0].ts == 1007);
	/* the tombstone stays, with its horizon: now + delete.retention.ms */
	CHECK(compact_filter_batch(m, b2, l2, CTX_ENDED, 50000, DRT, out, sizeof(out), &ol) == 0);
	CHECK(out[22] & 0x40);
	CHECK((int64_t)get_be64(out + 27) == 50000 + DRT);
	CHECK(parse_batch(out, ol, g, 4) == 1 && g[0].tomb && g[0].off == 2);
	CHECK(g[0].ts == 2003); /* its own timestamp unchanged */
	CHECK((int64_t)get_be64(out + 35) == 2003);
	/* a later pass before the horizon keeps it unchanged ... */
	compact_map_reset(m);
	CHECK(compact_map_batch(m, out, ol, CTX_ENDED) == 0);
	CHECK(compact_filter_batch(m, out, ol, CTX_ENDED, 50000 + DRT - 1, DRT, out2, sizeof(out2),
	                           &ol2) == 0);
	CHECK(ol2 == ol && !memcmp(out2, out, ol));
	/* ... and drops it (the whole batch) once the horizon is past */
	CHECK(compact_filter_batch(m, out, ol, CTX_ENDED, 50000 + DRT, DRT, out2, sizeof(out2),
	                           &ol2) == 0);
	CHECK(ol2 == 0);
	map_free(m);
}

static void t_core_empty_and_producer_state(void)
{
	static uint8_t b1[4096], b2[4096], b3[4096], out[1u << 20];
	const struct rec r[] = {{"k", 0, "v", 0}};
	uint32_t l1 = mk_batch(b1, 0, 1000, r, 1, 7, 0);  /* producer 7 */
	uint32_t l2 = mk_batch(b2, 1, 1000, r, 1, 7, 0);  /* producer 7 again */
	uint32_t l3 = mk_batch(b3, 2, 1000, r, 1, -1, 0); /* no producer: the latest */
	struct cmap *m = map_new();
	uint32_t ol;

	CHECK(!compact_map_batch(m, b1, l1, CTX_ENDED) &&
	      !compact_map_batch(m, b2, l2, CTX_ENDED) && !compact_map_batch(m, b3, l3, CTX_ENDED));
	/* superseded and not the producer's last batch: gone */
	CHECK(compact_filter_batch(m, b1, l1, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) == 0 &&
	      ol == 0);
	/* the producer's last batch stays as an empty batch (sequence state) */
	CHECK(compact_filter_batch(m, b2, l2, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) == 0 &&
	      ol == 61);
	CHECK(get_be32(out + 57) == 0 && get_be64(out) == 1 && get_be32(out + 23) == 0);
	CHECK((int64_t)get_be64(out + 43) == 7 &&
	      get_be32(out + 17) == store_crc32c(0, out + 21, 40));
	map_free(m);
}

static void t_core_huge_key(void)
{
	static uint8_t b1[600000], b2[600000], out[1u << 20];
	static char key[250001];
	struct cmap *m = map_new();
	uint32_t ol;

	memset(key, 'q', 250000);
	const struct rec r1[] = {{key, 250000, "old", 0}};
	const struct rec r2[] = {{key, 250000, "new", 0}, {key, 249999, "other", 1}};
	uint32_t l1 = mk_batch(b1, 0, 1, r1, 1, -1, 0), l2 = mk_batch(b2, 1, 1, r2, 2, -1, 0);
	CHECK(!compact_map_batch(m, b1, l1, CTX_ENDED) &&
	      !compact_map_batch(m, b2, l2, CTX_ENDED) && m->n == 2);
	CHECK(compact_filter_batch(m, b1, l1, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) == 0 &&
	      ol == 0);
	CHECK(compact_filter_batch(m, b2, l2, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) == 0 &&
	      ol == l2);
	map_free(m);
}

/* A batch with more keys than the map holds: the map reads as full,
 * keys past its room are not recorded, and their records stay. */
static void t_core_map_overflow(void)
{
	static uint8_t b[8192], out[1u << 20];
	static char keys[40][16];
	struct rec r[40];
	struct cmap *m = map_new();
	uint32_t ol;

	free(m->e);
	m->cap = 16;
	m->e = calloc(m->cap, sizeof(*m->e));
	for (int i = 0; i < 40; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		r[i] = (struct rec){keys[i], 0, "v", 0};
	}
	uint32_t l = mk_batch(b, 0, 1, r, 40, -1, 0);
	CHECK(compact_map_batch(m, b, l, CTX_ENDED) == 0);
	CHECK(compact_map_full(m) && m->n == 14);
	CHECK(compact_filter_batch(m, b, l, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) == 0 &&
	      ol == l);
	map_free(m);
}

static void t_core_malformed(void)
{
	static uint8_t b[4096], bad[4096], out[1u << 20];
	const struct rec r[] = {{"a", 0, "1", 0}, {"b", 0, "2", 1}};
	uint32_t l = mk_batch(b, 0, 1, r, 2, -1, 0), ol = 1;
	struct cmap *m = map_new();

	/* a flipped bit anywhere in the CRC range */
	for (uint32_t i = 21; i < l; i++) {
		memcpy(bad, b, l);
		bad[i] ^= 0x10;
		CHECK(compact_map_batch(m, bad, l, CTX_ENDED) == KERR_CORRUPT);
		CHECK(compact_filter_batch(m, bad, l, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) ==
		      KERR_CORRUPT);
	}
	/* record bytes that do not parse, under a valid CRC */
	memcpy(bad, b, l);
	bad[61] = 0x7f; /* record length past the end */
	put_be32(bad + 17, store_crc32c(0, bad + 21, l - 21));
	CHECK(compact_map_batch(m, bad, l, CTX_ENDED) == KERR_CORRUPT);
	CHECK(compact_filter_batch(m, bad, l, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) ==
	      KERR_CORRUPT);
	/* truncated, and a record count beyond the records */
	CHECK(compact_map_batch(m, b, l - 1, CTX_ENDED) == KERR_CORRUPT);
	memcpy(bad, b, l);
	put_be32(bad + 57, 3);
	put_be32(bad + 17, store_crc32c(0, bad + 21, l - 21));
	CHECK(compact_map_batch(m, bad, l, CTX_ENDED) == KERR_CORRUPT);
	map_free(m);
}

/* ---- compressed batches (the hosted codecs, hosted/broker/codec.c) ---- */

static const char *const codec_name[] = {"none", "gzip", "snappy", "lz4", "zstd"};

/* Plain batch b (len) with its records compressed by codec into z. */
static uint32_t zbatch(const uint8_t *b, uint32_t len, int codec, uint8_t *z, uint32_t cap)
{
	long n = host_compress(NULL, codec, b + 61, len - 61, z + 61, cap - 61);

	CHECK(n > 0);
	memcpy(z, b, 61);
	z[22] |= (uint8_t)codec;
	put_be32(z + 8, 61 + (uint32_t)n - 12);
	put_be32(z + 17, store_crc32c(0, z + 21, 61 + (uint32_t)n - 21));
	return 61 + (uint32_t)n;
}

/* Compressed batch z (CRC checked) as a plain one in b. */
static uint32_t unzbatch(const uint8_t *z, uint32_t len, uint8_t *b, uint32_t cap)
{
	long n;

	CHECK(get_be32(z + 17) == store_crc32c(0, z + 21, len - 21));
	n = host_decompress(NULL, z[22] & 7, z + 61, len - 61, b + 61, cap - 61);
	CHECK(n >= 0);
	if (n < 0)
		n = 0;
	memcpy(b, z, 61);
	b[22] &= (uint8_t)~7;
	put_be32(b + 8, 61 + (uint32_t)n - 12);
	put_be32(b + 17, store_crc32c(0, b + 21, 61 + (uint32_t)n - 21));
	return 61 + (uint32_t)n;
}

static struct ccodec *cc_new(uint32_t cap)
{
	struct ccodec *cc = calloc(1, sizeof(*cc));

	cc->decompress = host_decompress;
	cc->compress = host_compress;
	cc->cap = cap;
	cc->buf = malloc(cap);
	cc->zbuf = malloc(cap);
	return cc;
}

static void cc_free(struct ccodec *cc)
{
	free(cc->buf);
	free(cc->zbuf);
	free(cc);
}

/* Batch z with the compressed bytes p (n) as its records, CRC valid. */
static uint32_t with_payload(uint8_t *z, const uint8_t *hdr, int codec, const void *p, uint32_t n)
{
	memcpy(z, hdr, 61);
	z[22] = (uint8_t)((z[22] & ~7) | codec);
	memcpy(z + 61, p, n);
	put_be32(z + 8, 61 + n - 12);
	put_be32(z + 17, store_crc32c(0, z + 21, 61 + n - 21));
	return 61 + n;
}

/* Each codec: the records of a compressed batch are mapped and filtered
 * like plain ones, the survivors written with the same codec under the
 * original header (base offset, last offset delta, timestamps, producer
 * id, epoch, base sequence) with their offsets, and a valid CRC; a batch
 * whose records all stay is kept byte for byte; an emptied last batch of
 * a producer stays as a plain header. Snappy in the xerial framing
 * (Java clients) is read too and written raw (as librdkafka does). */
static void t_core_compressed_each_codec(void)
{
	static uint8_t b1[4096], b2[4096], b3[4096], z1[8192], z2[8192], out[1u << 20], pl[8192];
	const struct rec r1[] = {
	    {"a", 0, "a1", 0}, {"b", 0, "b1", 1}, {"c", 0, "c1", 2}, {"a", 0, "a1b", 3}};
	const struct rec r2[] = {{"b", 0, "b2", 0}, {"d", 0, "d2", 1}};
	const struct rec r3[] = {{"b", 0, "b3", 0}, {"d", 0, NULL, 1}};
	uint32_t l1 = mk_batch(b1, 100, 5000, r1, 4, 77, 1); /* offsets 100..104 */
	uint32_t l2 = mk_batch(b2, 105, 6000, r2, 2, 77, 0);
	uint32_t l3 = mk_batch(b3, 200, 7000, r3, 2, -1, 0);
	struct got g[8];
	uint32_t ol, lz1, lz2;

	put_be16(b1 + 51, 3); /* epoch 3, base sequence 10 */
	put_be32(b1 + 53, 10);
	for (int codec = 1; codec <= 4; codec++) {
		struct cmap *m = map_new();
		struct ccodec *cc = cc_new(1u << 20);
		m->cc = cc;
		lz1 = zbatch(b1, l1, codec, z1, sizeof(z1));
		if (codec == HCODEC_SNAPPY) {
			/* xerial framing, two blocks */
			static uint8_t x[8192];
			uint32_t half = (l1 - 61) / 2, xo = 16;
			memcpy(x, "\x82SNAPPY\0\0\0\0\1\0\0\0\1", 16);
			for (int part = 0; part < 2; part++) {
				uint32_t from = part ? half : 0, n = part ? l1 - 61 - half : half;
				long zn = host_compress(NULL, HCODEC_SNAPPY, b1 + 61 + from, n,
				                        x + xo + 4, sizeof(x) - xo - 4);
				CHECK(zn > 0);
				put_be32(x + xo, (uint32_t)zn);
				xo += 4 + (uint32_t)zn;
			}
			lz1 = with_payload(z1, b1, HCODEC_SNAPPY, x, xo);
		}
		lz2 = zbatch(b2, l2, codec, z2, sizeof(z2));
		CHECK(compact_map_batch(m, z1, lz1, CTX_ENDED) == 0 &&
		      compact_map_batch(m, z2, lz2, CTX_ENDED) == 0);
		CHECK(m->n == 4);
		CHECK(compact_filter_batch(m, z1, lz1, CTX_ENDED, 10000, DRT, out, sizeof(out),
		                           &ol) == 0);
		CHECK(ol > 61 && (out[22] & 7) == codec && cc->rewritten == 1);
		CHECK(!memcmp(out, z1, 8) && !memcmp(out + 23, z1 + 23, 57 - 23));
		CHECK(get_be32(out + 57) == 2);
		uint32_t pn = unzbatch(out, ol, pl, sizeof(pl));
		CHECK(parse_batch(pl, pn, g, 8) == 2);
		CHECK(g[0].off == 102 && !strcmp(g[0].key, "c") && !strcmp(g[0].val, "c1") &&
		      g[0].ts == 5002);
		CHECK(g[1].off == 103 && !strcmp(g[1].key, "a") && !strcmp(g[1].val, "a1b") &&
		      g[1].ts == 5003);
		/* every record of z2 stays: the same bytes */
		CHECK(compact_filter_batch(m, z2, lz2, CTX_ENDED, 10000, DRT, out, sizeof(out),
		                           &ol) == 0);
		CHECK(ol == lz2 && !memcmp(out, z2, lz2));
		/* b3 supersedes both of z2's keys: the producer's last batch
		 * stays empty, a plain header */
		CHECK(compact_map_batch(m, b3, l3, CTX_ENDED) == 0);
		CHECK(compact_filter_batch(m, z2, lz2, CTX_ENDED, 10000, DRT, out, sizeof(out),
		                           &ol) == 0);
		CHECK(ol == 61 && (out[22] & 7) == 0 && get_be32(out + 57) == 0 &&
		      get_be64(out) == 105 && get_be32(out + 23) == 1 &&
		      get_be32(out + 17) == store_crc32c(0, out + 21, 61 - 21));
		CHECK(cc->corrupt == 0 && cc->too_large == 0);
		fprintf(stderr, "  %s: %u bytes in, %u out\n", codec_name[codec], lz1, ol);
		cc_free(cc);
		map_free(m);
	}
}

/* Compressed batches that cannot be decoded are kept whole and counted,
 * never mapped: garbage, a truncated stream, records that do not parse
 * once decompressed, a batch decompressing past the bound, and no codec
 * at all (Hallows brokerd, the Floo-hosted broker). */
static void t_core_compressed_corrupt_kept_whole(void)
{
	static uint8_t b[4096], z[8192], bad[8192], out[1u << 20];
	const struct rec r[] = {{"a", 0, "1", 0}, {"b", 0, "2", 1}, {"a", 0, "3", 2}};
	const uint8_t junk_recs[] = {0x7f, 0, 2, 4, 6};
	uint32_t l = mk_batch(b, 0, 1, r, 3, -1, 0), ol, lz, lb;
	uint64_t want_corrupt = 0;

	for (int codec = 1; codec <= 4; codec++) {
		struct cmap *m = map_new();
		struct ccodec *cc = cc_new(1u << 20);
		m->cc = cc;
		lz = zbatch(b, l, codec, z, sizeof(z));
		for (int kind = 0; kind < 3; kind++) {
			if (kind == 0) /* not compressed data at all */
				lb = with_payload(bad, b, codec, "this is not compressed data", 27);
			else if (kind == 1) /* the stream cut short */
				lb = with_payload(bad, z, codec, z + 61, lz - 61 - 3);
			else { /* decodes, but the records do not parse */
				long n = host_compress(NULL, codec, junk_recs, sizeof(junk_recs),
				                       bad + 61, sizeof(bad) - 61);
				CHECK(n > 0);
				lb = with_payload(bad, b, codec, bad + 61, (uint32_t)n);
			}
			compact_map_reset(m);
			CHECK(compact_map_batch(m, bad, lb, CTX_ENDED) == 0);
			CHECK(kind == 2 || m->n == 0);
			CHECK(compact_filter_batch(m, bad, lb, CTX_ENDED, 9, DRT, out, sizeof(out),
			                           &ol) == 0);
			CHECK(ol == lb && !memcmp(out, bad, lb));
			CHECK(cc->corrupt == ++want_corrupt - 3u * (uint64_t)(codec - 1));
		}
		want_corrupt = 3u * (uint64_t)codec;
		cc_free(cc);
		/* decompressing past the bound (a small cap): kept, counted */
		cc = cc_new(64 + 8);
		m->cc = cc;
		compact_map_reset(m);
		CHECK(compact_map_batch(m, z, lz, CTX_ENDED) == 0 && m->n == 0);
		CHECK(compact_filter_batch(m, z, lz, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) ==
		      0);
		CHECK(ol == lz && !memcmp(out, z, lz) && cc->too_large == 1 && cc->corrupt == 0);
		cc_free(cc);
		/* no codec: whole, as before */
		m->cc = NULL;
		compact_map_reset(m);
		CHECK(compact_map_batch(m, z, lz, CTX_ENDED) == 0 && m->n == 0);
		CHECK(compact_filter_batch(m, z, lz, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) ==
		      0);
		CHECK(ol == lz && !memcmp(out, z, lz));
		map_free(m);
	}
}

/* Transactions (issue 17): data of an ended transaction is compacted
 * by key and loses its transactional bit, aborted data goes (the
 * producer's last batch kept empty), open data stays whole and its keys
 * supersede nothing, and a marker gets a delete horizon and goes after
 * it. */
static uint32_t mk_txn(uint8_t *b, int64_t base, const struct rec *r, uint32_t n, int64_t pid)
{
	uint32_t l = mk_batch(b, base, 5000, r, n, pid, 0);

	b[22] |= 0x10;
	put_be32(b + 17, store_crc32c(0, b + 21, l - 21));
	return l;
}

static void t_core_transactions(void)
{
	static uint8_t bc[4096], ba[4096], bo[4096], bp[4096], bm[4096], out[1u << 20],
	    out2[1u << 20];
	const struct rec rc[] = {{"a", 0, "c1", 0}, {"b", 0, "c2", 1}};
	const struct rec ra[] = {{"b", 0, "aborted", 0}};
	const struct rec ro[] = {{"a", 0, "open", 0}};
	const struct rec rp[] = {{"b", 0, "p", 0}};
	uint32_t lc = mk_txn(bc, 10, rc, 2, 7), la = mk_txn(ba, 12, ra, 1, 7);
	uint32_t lo = mk_txn(bo, 14, ro, 1, 8), lp = mk_batch(bp, 15, 5000, rp, 1, -1, 0), ol;
	struct got g[4] = {{0}};
	struct cmap *m = map_new();

	CHECK(!compact_map_batch(m, bc, lc, CTX_ENDED) &&
	      !compact_map_batch(m, ba, la, CTX_ABORTED) &&
	      !compact_map_batch(m, bo, lo, CTX_OPEN) && !compact_map_batch(m, bp, lp, CTX_ENDED));
	/* committed: "b" superseded by the plain batch, "a" stays (the open
	 * transaction's "a" does not count), no longer transactional */
	CHECK(compact_filter_batch(m, bc, lc, CTX_ENDED, 9, DRT, out, sizeof(out), &ol) == 0);
	CHECK(ol > 61 && !(out[22] & 0x10) && parse_batch(out, ol, g, 4) == 1);
	CHECK(!strcmp(g[0].key, "a") && !strcmp(g[0].val, "c1") && g[0].off == 10);
	/* aborted: the producer's last batch, kept empty and plain */
	CHECK(compact_filter_batch(m, ba, la, CTX_ABORTED, 9, DRT, out, sizeof(out), &ol) == 0);
	CHECK(ol == 61 && !(out[22] & 0x10) && get_be32(out + 57) == 0 && get_be64(out) == 12 &&
	      get_be64(out + 43) == 7 && get_be32(out + 17) == store_crc32c(0, out + 21, 61 - 21));
	/* an aborted batch followed by another of its producer goes */
	CHECK(compact_filter_batch(m, bc, lc, CTX_ABORTED, 9, DRT, out, sizeof(out), &ol) == 0 &&
	      ol == 0);
	/* open: whole, transactional */
	CHECK(compact_filter_batch(m, bo, lo, CTX_OPEN, 9, DRT, out, sizeof(out), &ol) == 0);
	CHECK(ol == lo && !memcmp(out, bo, lo));
	/* a marker: horizon set (bit 6, base timestamp now + DRT, the
	 * record's timestamp kept), kept until it, then gone */
	const struct rec rm[] = {{"\0\0\0\0", 4, "\0\0\0\0\0\0", 0}};
	uint32_t lm = mk_batch(bm, 13, 5000, rm, 1, 7, 0);
	bm[22] |= 0x30;
	put_be32(bm + 17, store_crc32c(0, bm + 21, lm - 21));
	CHECK(compact_filter_batch(m, bm, lm, CTX_ENDED, 9000, DRT, out, sizeof(out), &ol) == 0);
	CHECK(ol >= lm && (out[22] & 0x70) == 0x70 && (int64_t)get_be64(out + 27) == 9000 + DRT);
	CHECK(parse_batch(out, ol, g, 4) == 1 && g[0].ts == 5000 && g[0].off == 13);
	uint32_t ol2;
	CHECK(compact_filter_batch(m, out, ol, CTX_ENDED, 9000 + DRT - 1, DRT, out2, sizeof(out2),
	                           &ol2) == 0 &&
	      ol2 == ol && !memcmp(out, out2, ol));
	CHECK(compact_filter_batch(m, out, ol, CTX_ENDED, 9000 + DRT, DRT, out2, sizeof(out2),
	                           &ol2) == 0 &&
	      ol2 == 0);
	map_free(m);
}

/* ---- the store's rewrite ---- */

static struct store *st_open(struct memdev *d, uint32_t flags)
{
	struct store_platform pl = md_platform(d);
	struct store *s = NULL;

	CHECK(store_open(&pl, flags, &s) == STORE_OK);
	return s;
}

/* Offsets [0, n) as 1-offset payloads of len bytes holding their offset. */
static void st_fill(struct store *s, struct store_part *p, uint32_t n, uint32_t len)
{
	static uint8_t buf[1u << 20];

	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = store_part_end(p);
		memset(buf, (int)(off & 0xff), len);
		put_le64(buf, off);
		CHECK(store_append(s, p, buf, len, 1, (int64_t)off) == STORE_OK);
	}
	CHECK(store_write_pending(s) == 0 && store_flush(s) == 0);
}

/* Every payload readable from 0 to the end, in order, each holding its
 * offset; returns how many. */
static uint32_t st_check(struct store *s, struct store_part *p)
{
	uint64_t off = store_part_start(p), prev = 0;
	uint32_t n = 0;
	bool first = true;

	while (off < store_part_hwm(p)) {
		struct store_read rd;
		CHECK(store_read(s, p, off, 1u << 20, &rd) == 0 && rd.n);
		if (!rd.n)
			break;
		for (uint32_t i = 0; i < rd.n; i++) {
			uint64_t o = get_le64(rd.ptr[i]);
			CHECK(first || o > prev);
			prev = o;
			first = false;
			n++;
		}
		off = rd.next_offset;
		store_read_release(s, &rd);
	}
	return n;
}

/* A rewrite keeping every 4th payload of the two oldest segments;
 * offsets keep their gaps, reads skip them, the freed slots are reused
 * by later segments (whose stale tails must not cut the log at
 * recovery), and all of it survives a reopen. */
static void t_store_rewrite_gaps_and_reuse(void)
{
	struct memdev *d = md_new(32u * MB);
	struct store *s = st_open(d, STORE_FORMAT_BLANK);
	struct store_rewrite *rw;
	struct store_read rd;
	struct store_part *p;

	CHECK(store_topic_create(s, "t", 1, 1) == 0);
	p = store_part_get(s, 0, 0);
	for (int k = 0; k < 3; k++) {
		st_fill(s, p, 16, 60000);
		CHECK(store_part_roll(s, p) == 0);
	}
	CHECK(store_part_nsegs(p) == 4);
	uint64_t end = store_part_end(p);
	CHECK(store_rewrite_begin(s, p, 0, 2, &rw) == 0);
	for (uint64_t off = 0; off < 32; off += 4) {
		struct store_read r1;
		CHECK(store_read(s, p, off, 1, &r1) == 0 && r1.n == 1);
		CHECK(store_rewrite_add(s, rw, r1.ptr[0], r1.len[0], off, 1, (int64_t)off) == 0);
		store_read_release(s, &r1);
	}
	/* not in offset order: refused */
	CHECK(store_rewrite_add(s, rw, "x", 1, 3, 1, 0) == STORE_EINVAL);
	CHECK(store_rewrite_commit(s, rw) == 0);
	CHECK(store_part_nsegs(p) == 3 && store_part_end(p) == end);
	CHECK(st_check(s, p) == 8 + 16 + 0);
	/* offset 5 lies in a gap: the read starts at 8 */
	CHECK(store_read(s, p, 5, 1, &rd) == 0 && rd.n == 1 && get_le64(rd.ptr[0]) == 8);
	store_read_release(s, &rd);
	/* short segments in the freed slots (stale frames behind them) */
	for (int k = 0; k < 2; k++) {
		st_fill(s, p, 1, 100);
		CHECK(store_part_roll(s, p) == 0);
	}
	st_fill(s, p, 1, 100);
	end = store_part_end(p);
	uint32_t n = st_check(s, p);
	store_close(s);
	s = st_open(d, 0);
	p = store_part_get(s, 0, 0);
	CHECK(store_part_end(p) == end);
	CHECK(st_check(s, p) == n);
	store_close(s);
	md_free(d);
}

/* ---- the broker ---- */

static bool answer(struct env *e, int32_t corr, struct kr *r)
{
	for (int i = 0; i < 4; i++)
		pump(e);
	return resp_next(e, 0, corr, r);
}

static void put_s(struct kw *w, const char *s)
{
	kw_str(w, s, (int32_t)strlen(s));
}

/* CreateTopics v4 of a compacted one-partition topic. */
static int16_t create_compacted(struct env *e, int32_t corr, const char *name, const char *ratio)
{
	static const char *const kv[][2] = {{"cleanup.policy", "compact"},
	                                    {"segment.ms", "1000"},
	                                    {"delete.retention.ms", "5000"},
	                                    {"min.cleanable.dirty.ratio", NULL}};
	struct kw w;
	struct kr r;
	struct kstr s;
	int16_t err = -100;

	req_begin(&w, API_CREATE_TOPICS, 4, corr);
	kw_i32(&w, 1);
	put_s(&w, name);
	kw_i32(&w, 1);
	kw_i16(&w, 1);
	kw_i32(&w, 0);
	kw_i32(&w, 4);
	for (int i = 0; i < 4; i++) {
		put_s(&w, kv[i][0]);
		put_s(&w, kv[i][1] ? kv[i][1] : ratio);
	}
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	if (answer(e, corr, &r)) {
		CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 1);
		kr_str(&r, &s);
		err = kr_i16(&r);
	}
	return err;
}

static int16_t produce_raw(struct env *e, int32_t corr, const char *topic, const uint8_t *b,
                           uint32_t len)
{
	struct kw w;
	struct kr r;
	int16_t err = -100;
	int64_t base;

	req_begin(&w, API_PRODUCE, 7, corr);
	kw_str(&w, NULL, -1);
	kw_i16(&w, -1);
	kw_i32(&w, 30000);
	kw_i32(&w, 1);
	put_s(&w, topic);
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	kw_bytes(&w, b, (int32_t)len);
	req_send(e, 0, &w);
	if (answer(e, corr, &r))
		produce_resp(&r, &err, &base);
	return err;
}

#define NKEYS 40

static uint32_t ctrl_seen;     /* control batches (markers) consume_all passed */
static uint32_t zbatches_seen; /* compressed batches consume_all passed */
static uint32_t round1_seen;   /* records of round 1 (value "r1-...") */
/* produce_rounds compresses the batches of odd rounds with this codec */
static int round_codec;

/* What a consumer reading from offset 0 sees: the last value per key
 * (empty string: tombstone or never), checking every record's offset
 * grows and the fetches cover [0, hwm). Returns records seen. */
static uint32_t consume_all(struct env *e, int32_t *corr, const char *topic, char last[NKEYS][64],
                            uint32_t *tombs)
{
	static struct got g[4096];
	int64_t off = 0, prev = -1, hwm = 0;
	uint32_t seen = 0;

	memset(last, 0, NKEYS * 64);
	ctrl_seen = zbatches_seen = round1_seen = 0;
	if (tombs)
		*tombs = 0;
	for (int round = 0; round < 1000; round++) {
		struct kr r;
		int16_t err;
		fetch_req(e, 0, ++*corr, topic, off, 0);
		if (!answer(e, *corr, &r))
			break;
		struct kbytes rec = fetch_resp(&r, &err, &hwm);
		CHECK(err == 0);
		if (err || rec.len <= 0)
			break;
		for (int32_t at = 0; at + 61 <= rec.len;) {
			const uint8_t *b = rec.p + at;
			uint32_t len = get_be32(b + 8) + 12;
			static uint8_t plain[1u << 20];
			uint32_t n = 0;
			if (b[22] & 7) {
				uint32_t pl = unzbatch(b, len, plain, sizeof(plain));
				n = parse_batch(plain, pl, g, 4096);
				zbatches_seen++;
			} else if (!(b[22] & 0x20))
				n = parse_batch(b, len, g, 4096);
			ctrl_seen += (b[22] & 0x20) != 0;
			for (uint32_t i = 0; i < n; i++) {
				CHECK(g[i].off > prev);
				prev = g[i].off;
				if (g[i].off < off)
					continue;
				int k = atoi(g[i].key + 1);
				CHECK(k >= 0 && k < NKEYS);
				snprintf(last[k], 64, "%s", g[i].tomb ? "" : g[i].val);
				round1_seen += !strncmp(g[i].val, "r1-", 3);
				seen++;
				if (tombs)
					*tombs += g[i].tomb;
			}
			off = (int64_t)get_be64(b) + get_be32(b + 23) + 1;
			at += (int32_t)len;
		}
		if (off >= hwm)
			break;
	}
	CHECK(off >= hwm);
	return seen;
}

/* Produce rounds of keyed batches: key k<i> gets value "r<round>-<i>";
 * every 7th key gets a tombstone in the last round. The clock moves on
 * so that segment.ms rolls a segment after each round. */
static uint32_t produce_rounds(struct env *e, int32_t *corr, const char *topic, int rounds,
                               char want[NKEYS][64], bool skip7)
{
	static uint8_t b[1u << 20];
	static char keys[NKEYS][16], vals[NKEYS][32];
	uint32_t n = 0;

	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < NKEYS; i += 4) {
			struct rec r[4];
			uint32_t m = 0;
			for (int j = 0; j < 4; j++) {
				bool tomb = !skip7 && round == rounds - 1 && (i + j) % 7 == 0;
				if (skip7 && (i + j) % 7 == 0)
					continue;
				snprintf(keys[i + j], 16, "k%d", i + j);
				snprintf(vals[i + j], 32, "r%d-%d-%d", round, i + j, skip7);
				r[m++] = (struct rec){keys[i + j], 0, tomb ? NULL : vals[i + j], j};
				snprintf(want[i + j], 64, "%s", tomb ? "" : vals[i + j]);
			}
			uint32_t l = mk_batch(b, 0, (int64_t)t_clock, r, m, -1, 0);
			if (round_codec && round % 2) {
				static uint8_t z[1u << 20];
				l = zbatch(b, l, round_codec, z, sizeof(z));
				memcpy(b, z, l);
			}
			CHECK(produce_raw(e, ++*corr, topic, b, l) == 0);
			n += m;
		}
		t_clock += 1500;
		for (int i = 0; i < 3; i++)
			pump(e);
	}
	return n;
}

/* Run the broker's loop until its compactor is idle again (a bounded
 * number of turns; the clock moves 50 ms a turn). */
static void run_compactor(struct env *e)
{
	for (int i = 0; i < 400; i++) {
		t_clock += 50;
		pump(e);
		if (i > 10 && !compact_busy(e->b) && i % 10 == 0)
			break;
	}
}

static void check_same(char a[NKEYS][64], char b[NKEYS][64])
{
	for (int i = 0; i < NKEYS; i++) {
		if (strcmp(a[i], b[i]))
			fprintf(stderr, "  key k%d: got '%s' want '%s'\n", i, a[i], b[i]);
		CHECK(!strcmp(a[i], b[i]));
	}
}

static void t_broker_compacts(void)
{
	struct env *e;
	static char want[NKEYS][64], got[NKEYS][64];
	int32_t corr = 0;
	uint32_t produced, seen, tombs;
	struct store_seg_info si;

	env_dev_bytes = 64u * MB;
	e = env_new();
	CHECK(create_compacted(e, ++corr, "cmp", "0.01") == 0);
	produced = produce_rounds(e, &corr, "cmp", 6, want, false);
	uint64_t end = store_part_end(tpart(e, "cmp", 0));
	run_compactor(e);
	struct store_part *p = tpart(e, "cmp", 0);
	CHECK(store_part_seg_info(e->st, p, 0, &si) == 0 && si.compacted);
	CHECK(store_part_nsegs(p) <= 3);
	CHECK(store_part_end(p) == end && store_part_start(p) == 0);
	seen = consume_all(e, &corr, "cmp", got, &tombs);
	check_same(got, want);
	CHECK(tombs == 6); /* kept until delete.retention.ms has passed */
	/* at most one record per key in the closed segments and one round
	 * in the active one */
	fprintf(stderr, "  produced %u records, %u left after compaction\n", produced, seen);
	CHECK(seen <= 2 * NKEYS && seen < produced / 2);
	env_restart(e);
	CHECK(store_part_end(tpart(e, "cmp", 0)) == end);
	CHECK(consume_all(e, &corr, "cmp", got, NULL) == seen);
	check_same(got, want);
	/* tombstones go once delete.retention.ms has passed since the
	 * compaction that first kept them */
	t_clock += 6000;
	produce_rounds(e, &corr, "cmp", 1, want, true);
	run_compactor(e);
	t_clock += 1500;
	run_compactor(e);
	consume_all(e, &corr, "cmp", got, &tombs);
	check_same(got, want);
	CHECK(tombs == 0);
	/* segments freed by compaction were reused by new ones: all of it
	 * must come back after a restart */
	for (int i = 0; i < 4; i++) {
		produce_rounds(e, &corr, "cmp", 3, want, false);
		run_compactor(e);
	}
	end = store_part_end(tpart(e, "cmp", 0));
	env_restart(e);
	CHECK(store_part_end(tpart(e, "cmp", 0)) == end);
	consume_all(e, &corr, "cmp", got, NULL);
	check_same(got, want);
	env_free(e);
	env_dev_bytes = 0;
}

/* Producers that compress (each codec; odd rounds compressed, even ones
 * plain): the broker's compactor decompresses, drops what later rounds
 * supersede and writes the rest with the same codec; consumers see the
 * last value per key, and nothing of round 1 (compressed, superseded
 * by round 2), before and after a restart. */
static void t_broker_compacts_compressed(void)
{
	static char want[NKEYS][64], got[NKEYS][64];
	int32_t corr = 0;

	env_decompress = host_decompress;
	env_compress = host_compress;
	env_dev_bytes = 64u * MB;
	for (int codec = 1; codec <= 4; codec++) {
		struct env *e = env_new();
		round_codec = codec;
		CHECK(create_compacted(e, ++corr, "zc", "0.01") == 0);
		/* no pass while producing: all of it is there first */
		uint32_t *ppm = &e->b->tconf[store_topic_find(e->st, "zc", 2)].dirty_ppm;
		*ppm = 2000000;
		uint32_t produced = produce_rounds(e, &corr, "zc", 4, want, false);
		consume_all(e, &corr, "zc", got, NULL);
		CHECK(round1_seen == NKEYS && zbatches_seen == 2 * NKEYS / 4);
		*ppm = 10000;
		run_compactor(e);
		struct store_seg_info si;
		CHECK(store_part_seg_info(e->st, tpart(e, "zc", 0), 0, &si) == 0 && si.compacted);
		uint32_t seen = consume_all(e, &corr, "zc", got, NULL);
		check_same(got, want);
		fprintf(stderr, "  %s: produced %u records, %u left, %u compressed batches\n",
		        codec_name[codec], produced, seen, zbatches_seen);
		CHECK(round1_seen == 0 && zbatches_seen > 0 && seen < produced / 2);
		env_restart(e);
		CHECK(consume_all(e, &corr, "zc", got, NULL) == seen);
		check_same(got, want);
		env_free(e);
	}
	round_codec = 0;
	env_decompress = NULL;
	env_compress = NULL;
	env_dev_bytes = 0;
}

/* A committed and an aborted transaction over keys k0-k3, then plain
 * records for k0 and k1 (producer id pid, epoch): what consumers must
 * see in want (the aborted values never). */
static void produce_txns(struct env *e, int32_t *corr, const char *topic, char want[NKEYS][64])
{
	static uint8_t b[4096];
	static const char *const keys[] = {"k0", "k1", "k2", "k3"};
	static char vals[2][4][32];
	struct rec r[4];
	int64_t pid = -1, base;
	int16_t epoch = -1;

	CHECK(tb_init_pid(e, ++*corr, 1, "ctx", 60000, &pid, &epoch) == 0);
	for (int t = 0; t < 2; t++) {
		for (int i = 0; i < 4; i++) {
			snprintf(vals[t][i], 32, "%s-%d", t ? "aborted" : "c", i);
			r[i] = (struct rec){keys[i], 0, vals[t][i], i};
			if (!t)
				snprintf(want[i], 64, "%s", vals[t][i]);
		}
		CHECK(add_part(e, ++*corr, "ctx", pid, epoch, topic, 0) == 0);
		uint32_t l = mk_batch(b, 0, (int64_t)t_clock, r, 4, pid, 0);
		put_be16(b + 51, (uint16_t)epoch);
		put_be32(b + 53, (uint32_t)(4 * t));
		b[22] |= 0x10;
		put_be32(b + 17, store_crc32c(0, b + 21, l - 21));
		CHECK(tb_produce(e, ++*corr, topic, 0, b, l, &base) == 0);
		CHECK(end_txn(e, ++*corr, "ctx", pid, epoch, !t) == 0);
		t_clock += 1500;
	}
	for (int i = 0; i < 2; i++) {
		r[i] = (struct rec){keys[i], 0, i ? "p-1" : "p-0", i};
		snprintf(want[i], 64, "%s", i ? "p-1" : "p-0");
	}
	uint32_t l = mk_batch(b, 0, (int64_t)t_clock, r, 2, -1, 0);
	CHECK(produce_raw(e, ++*corr, topic, b, l) == 0);
	t_clock += 1500;
}

/* Plain records for k4..k39 ("<tag>-<i>"), then the clock past
 * segment.ms: a segment closes. */
static void fill_rest(struct env *e, int32_t *corr, const char *topic, char want[NKEYS][64],
                      int tag)
{
	static uint8_t b[8192];
	static char keys[NKEYS][16], vals[NKEYS][32];
	struct rec r[NKEYS];

	for (int i = 4; i < NKEYS; i++) {
		snprintf(keys[i], 16, "k%d", i);
		snprintf(vals[i], 32, "f%d-%d", tag, i);
		snprintf(want[i], 64, "%s", vals[i]);
		r[i - 4] = (struct rec){keys[i], 0, vals[i], i - 4};
	}
	CHECK(produce_raw(e, ++*corr, topic, b,
	                  mk_batch(b, 0, (int64_t)t_clock, r, NKEYS - 4, -1, 0)) == 0);
	t_clock += 1500;
	for (int i = 0; i < 3; i++)
		pump(e);
}

/* Transactions in a compacted topic: before compaction a consumer that
 * ignores the aborted list would see the aborted values; after it the
 * aborted data is gone, the committed data is compacted by key, nothing
 * looks open after a restart (LSO = high watermark), and the two markers
 * go once delete.retention.ms has passed. */
static void t_broker_compacts_transactions(void)
{
	static char want[NKEYS][64], got[NKEYS][64];
	struct env *e;
	int32_t corr = 0;
	struct fres f;

	env_dev_bytes = 64u * MB;
	fetch_aborted_ok = true;
	e = env_new();
	CHECK(create_compacted(e, ++corr, "ctx", "0.01") == 0);
	e->b->tconf[store_topic_find(e->st, "ctx", 3)].dirty_ppm = 2000000; /* no pass yet */
	produce_txns(e, &corr, "ctx", want);
	fill_rest(e, &corr, "ctx", want, 0);
	consume_all(e, &corr, "ctx", got, NULL);
	CHECK(!strcmp(got[2], "aborted-2") && ctrl_seen == 2); /* not filtered by this reader */
	e->b->tconf[store_topic_find(e->st, "ctx", 3)].dirty_ppm = 10000;
	run_compactor(e);
	consume_all(e, &corr, "ctx", got, NULL);
	check_same(got, want);
	CHECK(ctrl_seen == 2); /* markers kept until their horizon */
	env_restart(e);
	f = fetch_iso(e, ++corr, "ctx", 0, 0, 1);
	CHECK(f.err == 0 && f.lso == f.hwm && f.naborted == 0);
	consume_all(e, &corr, "ctx", got, NULL);
	check_same(got, want);
	/* past delete.retention.ms a later pass drops the markers */
	t_clock += 6000;
	fill_rest(e, &corr, "ctx", want, 1);
	run_compactor(e);
	fill_rest(e, &corr, "ctx", want, 2);
	run_compactor(e);
	consume_all(e, &corr, "ctx", got, NULL);
	check_same(got, want);
	CHECK(ctrl_seen == 0);
	env_restart(e);
	f = fetch_iso(e, ++corr, "ctx", 0, 0, 1);
	CHECK(f.err == 0 && f.lso == f.hwm);
	consume_all(e, &corr, "ctx", got, NULL);
	check_same(got, want);
	env_free(e);
	env_dev_bytes = 0;
	fetch_aborted_ok = false;
}

/* A stored batch the compactor cannot parse stops the pass: the
 * partition is left exactly as it was. */
static void t_broker_malformed_on_disk_left_alone(void)
{
	static uint8_t b[4096];
	static char want[NKEYS][64];
	const struct rec r[] = {{"k1", 0, "v", 0}};
	struct env *e;
	int32_t corr = 0;
	struct store_read rd;

	env_dev_bytes = 64u * MB;
	e = env_new();
	CHECK(create_compacted(e, ++corr, "bad", "0.01") == 0);
	produce_rounds(e, &corr, "bad", 2, want, false);
	/* a batch whose CRC does not match, appended behind the broker */
	struct store_part *p = tpart(e, "bad", 0);
	uint64_t at = store_part_end(p);
	uint32_t l = mk_batch(b, (int64_t)at, (int64_t)t_clock, r, 1, -1, 0);
	b[l - 1] ^= 1;
	CHECK(store_append(e->st, p, b, l, 1, (int64_t)t_clock) == 0);
	t_clock += 1500;
	pump(e);
	produce_rounds(e, &corr, "bad", 2, want, false);
	run_compactor(e);
	p = tpart(e, "bad", 0);
	CHECK(store_read(e->st, p, at, 1, &rd) == 0 && rd.n == 1);
	CHECK(rd.n == 1 && rd.len[0] == l && !memcmp(rd.ptr[0], b, l));
	store_read_release(e->st, &rd);
	env_free(e);
	env_dev_bytes = 0;
}

#define CRASH_DEV (32u * MB)

/* A crash at every write of a compaction (the device failing from the
 * k-th write on, keeping all or none of the unflushed writes), then a
 * restart on the same device: every key's latest value and every
 * offset's order survive, and both outcomes (old segments, compacted
 * ones) occur. The log starts with a committed and an aborted
 * transaction: whichever segments survive, nothing looks open (LSO =
 * high watermark) and both markers are there. Odd rounds are compressed
 * (lz4): their rewrite is part of every crash point. */
static void t_broker_crash_at_every_step(void)
{
	static char want[NKEYS][64], got[NKEYS][64];
	struct env *e;
	int32_t corr = 0;
	uint32_t old_seen = 0, new_seen = 0, z_old = 0, z_new = 0;
	uint64_t end;
	struct memdev *img;
	uint64_t clock0;

	env_dev_bytes = CRASH_DEV;
	env_decompress = host_decompress;
	env_compress = host_compress;
	round_codec = HCODEC_LZ4;
	e = env_new();
	CHECK(create_compacted(e, ++corr, "cr", "0.01") == 0);
	/* no pass while producing (in memory only: the log says 0.01) */
	e->b->tconf[store_topic_find(e->st, "cr", 2)].dirty_ppm = 2000000;
	fetch_aborted_ok = true;
	produce_txns(e, &corr, "cr", want); /* a committed and an aborted one first */
	produce_rounds(e, &corr, "cr", 4, want, false);
	CHECK(store_part_nsegs(tpart(e, "cr", 0)) >= 4);
	end = store_part_end(tpart(e, "cr", 0));
	consume_all(e, &corr, "cr", got, NULL);
	CHECK(round1_seen == NKEYS && zbatches_seen == 2 * NKEYS / 4);
	CHECK(store_flush(e->st) == 0);
	img = md_new(CRASH_DEV);
	memcpy(img->dur, e->d->dur, CRASH_DEV);
	clock0 = t_clock;
	env_free(e);
	for (int k = 0; k < 24; k++) {
		for (int keep = 0; keep < 2; keep++) {
			e = calloc(1, sizeof(*e));
			e->d = md_new(CRASH_DEV);
			memcpy(e->d->cur, img->dur, CRASH_DEV);
			memcpy(e->d->dur, img->dur, CRASH_DEV);
			t_clock = clock0;
			env_open(e);
			e->d->fail_writes_after = (int)e->d->writes + k;
			run_compactor(e);
			e->d->fail_writes_after = -1;
			md_crash(e->d, keep ? e->d->nlog : 0, 0);
			/* the in-memory state is stale: drop it unflushed */
			e->d->fail_writes_after = 0;
			broker_destroy(e->b);
			store_close(e->st);
			e->d->fail_writes_after = -1;
			env_open(e);
			/* what the crash left: no pass while reading it */
			e->b->tconf[store_topic_find(e->st, "cr", 2)].dirty_ppm = 2000000;
			struct store_part *p = tpart(e, "cr", 0);
			CHECK(store_part_end(p) == end);
			struct store_seg_info si;
			CHECK(store_part_seg_info(e->st, p, 0, &si) == 0);
			if (si.compacted)
				new_seen++;
			else
				old_seen++;
			consume_all(e, &corr, "cr", got, NULL);
			check_same(got, want);
			CHECK(ctrl_seen == 2); /* the markers stay (horizon not reached) */
			/* round 1 (lz4, superseded by round 2): whole in its old
			 * segment or gone from its compacted one, never half */
			CHECK(zbatches_seen > 0 && (round1_seen == 0 || round1_seen == NKEYS));
			z_old += round1_seen == NKEYS;
			z_new += round1_seen == 0;
			/* nothing looks open, whichever segments survived */
			struct fres f = fetch_iso(e, ++corr, "cr", 0, 0, 1);
			CHECK(f.err == 0 && f.lso == f.hwm);
			env_free(e);
		}
	}
	fetch_aborted_ok = false;
	round_codec = 0;
	env_decompress = NULL;
	env_compress = NULL;
	fprintf(stderr,
	        "  crash outcomes: old segments %u, compacted %u; lz4 round kept %u, gone %u\n",
	        old_seen, new_seen, z_old, z_new);
	CHECK(old_seen > 0 && new_seen > 0 && z_old > 0 && z_new > 0);
	md_free(img);
	env_dev_bytes = 0;
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("compact_core_keeps_latest_per_key_and_offsets", t_core_keeps_latest);
	kt_add("compact_core_tombstones_delete_horizon", t_core_tombstones);
	kt_add("compact_core_empty_result_and_producer_last_batch",
	       t_core_empty_and_producer_state);
	kt_add("compact_core_huge_keys", t_core_huge_key);
	kt_add("compact_core_map_overflow_keeps_records", t_core_map_overflow);
	kt_add("compact_core_malformed_batches_refused", t_core_malformed);
	kt_add("compact_core_transactions_aborted_gone_committed_compacted_markers_expire",
	       t_core_transactions);
	kt_add("compact_core_compressed_batches_each_codec", t_core_compressed_each_codec);
	kt_add("compact_core_compressed_corrupt_or_too_large_kept_whole",
	       t_core_compressed_corrupt_kept_whole);
	kt_add("compact_store_rewrite_gaps_and_slot_reuse", t_store_rewrite_gaps_and_reuse);
	kt_add("compact_broker_last_value_per_key_across_restart", t_broker_compacts);
	kt_add("compact_broker_compressed_batches_each_codec", t_broker_compacts_compressed);
	kt_add("compact_broker_transactions_read_committed_and_restart",
	       t_broker_compacts_transactions);
	kt_add("compact_broker_malformed_on_disk_left_alone",
	       t_broker_malformed_on_disk_left_alone);
	kt_add("compact_broker_crash_at_every_step", t_broker_crash_at_every_step);
	return kt_main(NULL, 0, argc, argv);
}
