/* The compaction core: the key map (latest offset of every key of the
 * section being cleaned) and the batch filter that keeps the latest
 * record per key. Pure functions over stored RecordBatch v2 bytes; the
 * driver (compact.c) reads and writes the store. docs/broker.md,
 * "Compaction". */
#include <lib/string.h>

#include "storage/crc32c.h"
#include "broker_int.h"

#define BATCH_HDR  61u
#define ATTR_CODEC 0x07
#define ATTR_TXN   0x10
#define ATTR_CTRL  0x20
#define ATTR_HORIZ 0x40 /* KIP-534: the base timestamp is the delete horizon */

/* Two independent 64-bit hashes of the key (128 bits, as Kafka keeps an
 * MD5 of each key): equal keys always match, a false match of different
 * keys is a 2^-128 event per pair. */
static void key_hash(const uint8_t *k, uint32_t n, uint64_t *h1, uint64_t *h2)
{
	uint64_t a = 0xcbf29ce484222325ull ^ n, c = 0x9e3779b97f4a7c15ull + n;

	for (uint32_t i = 0; i < n; i++) {
		a = (a ^ k[i]) * 0x100000001b3ull;
		c = (c + k[i]) * 0xff51afd7ed558ccdull;
		c ^= c >> 29;
	}
	a ^= a >> 33;
	a *= 0xc4ceb9fe1a85ec53ull;
	a ^= a >> 33;
	c ^= c >> 32;
	c *= 0x94d049bb133111ebull;
	c ^= c >> 31;
	*h1 = a | 1; /* never 0: 0 marks an empty slot */
	*h2 = c;
}

void compact_map_reset(struct cmap *m)
{
	memset(m->e, 0, (size_t)m->cap * sizeof(*m->e));
	m->n = 0;
	m->npid = 0;
	m->overflow = false;
}

static struct cmap_ent *map_slot(const struct cmap *m, uint64_t h1, uint64_t h2)
{
	uint32_t i = (uint32_t)(h1 >> 7) & (m->cap - 1);

	while (m->e[i].h1 && (m->e[i].h1 != h1 || m->e[i].h2 != h2))
		i = (i + 1) & (m->cap - 1);
	return &m->e[i];
}

bool compact_map_full(const struct cmap *m)
{
	return m->n >= m->cap / 4 * 3 || m->npid == CMAP_PIDS || m->overflow;
}

/* Latest offset of key in m, -1 when it is not there. */
static int64_t map_get(const struct cmap *m, const uint8_t *k, uint32_t n)
{
	uint64_t h1, h2;

	key_hash(k, n, &h1, &h2);
	const struct cmap_ent *e = map_slot(m, h1, h2);
	return e->h1 ? e->off : -1;
}

static void map_put(struct cmap *m, const uint8_t *k, uint32_t n, int64_t off)
{
	uint64_t h1, h2;

	key_hash(k, n, &h1, &h2);
	struct cmap_ent *e = map_slot(m, h1, h2);
	if (!e->h1) {
		/* One batch may hold more keys than the map has room for:
		 * past 7/8 a new key is not recorded (its older records then
		 * stay) and the map reads as full, which ends the pass at the
		 * last segment mapped before. An empty slot always remains. */
		if (m->n >= m->cap - m->cap / 8) {
			m->overflow = true;
			return;
		}
		e->h1 = h1;
		e->h2 = h2;
		m->n++;
	}
	e->off = off;
}

uint32_t compact_put_varint(uint8_t *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
	uint32_t n = 0;

	while (u >= 0x80) {
		p[n++] = (uint8_t)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (uint8_t)u;
	return n;
}

/* One record of a batch: its bytes [start, end), offset delta, timestamp
 * delta (and where that field lies), key and whether the value is null. */
struct crec {
	uint32_t start, end, ts_at, ts_end;
	int64_t tsd, od;
	const uint8_t *key;
	int32_t klen;
	bool tomb;
};

/* Parse the record at *at of batch h (total bytes); false when malformed. */
static bool rec_parse(const uint8_t *h, uint32_t total, uint32_t *at, struct crec *r)
{
	int64_t len, klen, vlen;
	uint32_t x;

	r->start = *at;
	if (!api_rec_varint(h, total, at, &len) || len < 1 || len > total - *at)
		return false;
	r->end = *at + (uint32_t)len;
	x = *at + 1; /* attributes */
	r->ts_at = x;
	if (!api_rec_varint(h, r->end, &x, &r->tsd))
		return false;
	r->ts_end = x;
	if (!api_rec_varint(h, r->end, &x, &r->od) || r->od < 0 ||
	    !api_rec_varint(h, r->end, &x, &klen) || klen < -1 || klen > r->end - x)
		return false;
	r->key = h + x;
	r->klen = (int32_t)klen;
	x += klen > 0 ? (uint32_t)klen : 0;
	if (!api_rec_varint(h, r->end, &x, &vlen) || vlen < -1 || vlen > r->end - x)
		return false;
	r->tomb = vlen < 0;
	*at = r->end;
	return true;
}

/* Batch header checks shared by both passes. */
static bool batch_ok(const uint8_t *h, uint32_t len)
{
	return len >= BATCH_HDR && h[16] == 2 && get_be32(h + 8) + 12 == len &&
	       get_be32(h + 17) == store_crc32c(0, h + 21, len - 21) &&
	       (int32_t)get_be32(h + 23) >= 0;
}

/* Batches whose records the compactor neither maps nor filters: control
 * batches (transaction markers, handled whole) and the data of a
 * transaction that is open or aborted (txs). Compressed batches are
 * decompressed when the platform has the codec (inflate). */
static bool batch_opaque(const uint8_t *h, int txs)
{
	return (h[22] & ATTR_CTRL) != 0 || ((h[22] & ATTR_TXN) && txs != CTX_ENDED);
}

/* Compressed batch h as an uncompressed one in cc->buf (its header, the
 * codec bits cleared, a fresh CRC); returns its length, 0 when there is
 * no codec or it cannot be decompressed within cc->cap (counted when
 * count: the filter's view, the batch is then kept whole). */
static uint32_t inflate(struct ccodec *cc, const uint8_t *h, uint32_t len, bool count)
{
	long n;

	if (!cc || !cc->decompress || !cc->compress || !cc->buf)
		return 0;
	n = cc->decompress(cc->ctx, h[22] & ATTR_CODEC, h + BATCH_HDR, len - BATCH_HDR,
	                   cc->buf + BATCH_HDR, cc->cap - BATCH_HDR);
	if (n < 0 || (uint64_t)n > cc->cap - BATCH_HDR) {
		if (count && n == BROKER_CODEC_TOO_LARGE)
			cc->too_large++;
		else if (count)
			cc->corrupt++;
		return 0;
	}
	memcpy(cc->buf, h, BATCH_HDR);
	cc->buf[22] &= (uint8_t)~ATTR_CODEC;
	put_be32(cc->buf + 8, BATCH_HDR - 12 + (uint32_t)n);
	put_be32(cc->buf + 17, store_crc32c(0, cc->buf + 21, BATCH_HDR - 21 + (uint32_t)n));
	return BATCH_HDR + (uint32_t)n;
}

/* Map the records of uncompressed batch h. */
static int map_records(struct cmap *m, const uint8_t *h, uint32_t len)
{
	uint32_t at = BATCH_HDR, nrec = get_be32(h + 57);
	int64_t base = (int64_t)get_be64(h);
	struct crec r;

	for (uint32_t i = 0; i < nrec; i++) {
		if (!rec_parse(h, len, &at, &r) || r.od > (int64_t)get_be32(h + 23))
			return KERR_CORRUPT;
		if (r.klen >= 0)
			map_put(m, r.key, (uint32_t)r.klen, base + r.od);
	}
	return at == len ? KERR_NONE : KERR_CORRUPT;
}

int compact_map_batch(struct cmap *m, const uint8_t *h, uint32_t len, int txs)
{
	int64_t base, pid;

	if (!batch_ok(h, len))
		return KERR_CORRUPT;
	base = (int64_t)get_be64(h);
	pid = (int64_t)get_be64(h + 43);
	if (!batch_opaque(h, txs) && !(h[22] & ATTR_CODEC)) {
		int err = map_records(m, h, len);
		if (err)
			return err;
	} else if (!batch_opaque(h, txs)) {
		/* A compressed batch that does not decode is kept whole by
		 * the filter: its keys, if mapped at all, stay with it. */
		uint32_t ilen = inflate(m->cc, h, len, false);
		if (ilen)
			(void)map_records(m, m->cc->buf, ilen);
	}
	/* every data batch of a producer counts for its last one (kept
	 * whole, filtered or emptied: its sequence state stays in the log) */
	if (pid >= 0 && !(h[22] & ATTR_CTRL)) {
		uint32_t i = 0;
		while (i < m->npid && m->pid[i] != pid)
			i++;
		if (i == m->npid && m->npid < CMAP_PIDS)
			m->pid[m->npid++] = pid;
		if (i < m->npid)
			m->pid_last[i] = base;
	}
	return KERR_NONE;
}

/* Does a later batch of producer pid follow base in the mapped section? */
static bool pid_superseded(const struct cmap *m, int64_t pid, int64_t base)
{
	for (uint32_t i = 0; i < m->npid; i++)
		if (m->pid[i] == pid)
			return m->pid_last[i] > base;
	return false;
}

/* out = h whole; a data batch of an ended transaction no longer
 * transactional (its marker may then go without the data looking open:
 * the partition state is rebuilt from the log). */
static void copy_whole(const uint8_t *h, uint32_t len, uint8_t *out, uint32_t *out_len)
{
	memcpy(out, h, len);
	if ((h[22] & (ATTR_TXN | ATTR_CTRL)) == ATTR_TXN) {
		out[22] &= (uint8_t)~ATTR_TXN;
		put_be32(out + 17, store_crc32c(0, out + 21, len - 21));
	}
	*out_len = len;
}

/* Compressed batch h: decompressed, filtered like an uncompressed one
 * and the survivors compressed again with the same codec (an emptied
 * batch is written uncompressed: a header alone). Kept whole when it
 * is unchanged or cannot be decoded or re-encoded within the bounds. */
static int filter_compressed(const struct cmap *m, const uint8_t *h, uint32_t len, int txs,
                             int64_t now, int64_t delete_retention_ms, uint8_t *out,
                             uint32_t out_cap, uint32_t *out_len)
{
	struct ccodec *cc = m->cc;
	uint32_t ilen = inflate(cc, h, len, true), fl;
	long z;

	if (!ilen)
		goto whole;
	if (compact_filter_batch(m, cc->buf, ilen, txs, now, delete_retention_ms, cc->zbuf, cc->cap,
	                         &fl)) {
		cc->corrupt++;
		goto whole;
	}
	if (!fl) {
		*out_len = 0; /* nothing stays */
		return KERR_NONE;
	}
	if (fl == ilen && !((cc->zbuf[22] ^ cc->buf[22]) & ATTR_HORIZ) &&
	    !memcmp(cc->zbuf + 23, cc->buf + 23, ilen - 23))
		goto whole; /* every record stays as it was */
	if (fl == BATCH_HDR) {
		memcpy(out, cc->zbuf, BATCH_HDR);
		*out_len = BATCH_HDR;
		return KERR_NONE;
	}
	z = cc->compress(cc->ctx, h[22] & ATTR_CODEC, cc->zbuf + BATCH_HDR, fl - BATCH_HDR,
	                 out + BATCH_HDR, out_cap - BATCH_HDR);
	if (z < 0 || (uint64_t)z > out_cap - BATCH_HDR) {
		cc->too_large++;
		goto whole;
	}
	memcpy(out, cc->zbuf, BATCH_HDR);
	out[22] |= (uint8_t)(h[22] & ATTR_CODEC);
	put_be32(out + 8, BATCH_HDR - 12 + (uint32_t)z);
	put_be32(out + 17, store_crc32c(0, out + 21, BATCH_HDR - 21 + (uint32_t)z));
	*out_len = BATCH_HDR + (uint32_t)z;
	cc->rewritten++;
	return KERR_NONE;
whole:
	copy_whole(h, len, out, out_len);
	return KERR_NONE;
}

int compact_filter_batch(const struct cmap *m, const uint8_t *h, uint32_t len, int txs, int64_t now,
                         int64_t delete_retention_ms, uint8_t *out, uint32_t out_cap,
                         uint32_t *out_len)
{
	uint32_t at = BATCH_HDR, nrec, kept = 0, o = BATCH_HDR, crc;
	int64_t base, first = (int64_t)get_be64(h + 27), horizon = -1, new_first;
	bool tombs = false, set_h, ctrl, txn;
	struct crec r;

	*out_len = 0;
	if (!batch_ok(h, len))
		return KERR_CORRUPT;
	if (len > out_cap)
		return KERR_TOO_LARGE;
	ctrl = (h[22] & ATTR_CTRL) != 0;
	txn = (h[22] & ATTR_TXN) != 0;
	if (h[22] & ATTR_HORIZ)
		horizon = first;
	if (ctrl && horizon >= 0)
		return now >= horizon ? KERR_NONE : (copy_whole(h, len, out, out_len), KERR_NONE);
	if (!ctrl && txn && txs == CTX_OPEN) {
		memcpy(out, h, len); /* not decided yet */
		*out_len = len;
		return KERR_NONE;
	}
	if (!ctrl && txn && txs == CTX_ABORTED) {
		int64_t pid = (int64_t)get_be64(h + 43);
		if (pid < 0 || pid_superseded(m, pid, (int64_t)get_be64(h)))
			return KERR_NONE; /* aborted data goes */
		/* the producer's last batch: kept empty (its sequence), plain */
		memcpy(out, h, BATCH_HDR);
		out[22] &= (uint8_t) ~(ATTR_TXN | ATTR_CODEC);
		put_be32(out + 8, BATCH_HDR - 12);
		put_be32(out + 57, 0);
		put_be32(out + 17, store_crc32c(0, out + 21, BATCH_HDR - 21));
		*out_len = BATCH_HDR;
		return KERR_NONE;
	}
	if (h[22] & ATTR_CODEC)
		return filter_compressed(m, h, len, txs, now, delete_retention_ms, out, out_cap,
		                         out_len);
	base = (int64_t)get_be64(h);
	nrec = get_be32(h + 57);
	if (h[22] & ATTR_HORIZ)
		horizon = first;
	/* first pass: which records stay, and is a tombstone among them */
	for (uint32_t i = 0; i < nrec; i++) {
		if (!rec_parse(h, len, &at, &r) || r.od > (int64_t)get_be32(h + 23))
			return KERR_CORRUPT;
		if (r.klen >= 0 && !ctrl) {
			int64_t latest = map_get(m, r.key, (uint32_t)r.klen);
			if (latest > base + r.od)
				continue;
			if (r.tomb && horizon >= 0 && now >= horizon)
				continue;
		}
		tombs = tombs || (r.tomb && r.klen >= 0 && !ctrl);
		kept++;
	}
	if (at != len)
		return KERR_CORRUPT;
	/* Nothing left: the batch goes, unless it is the last one of an
	 * idempotent producer (its sequence state is rebuilt from the log,
	 * so an empty batch keeps it, as Kafka does). */
	if (!kept &&
	    ((int64_t)get_be64(h + 43) < 0 || pid_superseded(m, (int64_t)get_be64(h + 43), base)))
		return KERR_NONE;
	/* A kept tombstone starts its delete.retention.ms now (KIP-534: the
	 * batch's base timestamp becomes the horizon, the records' timestamp
	 * deltas are rewritten against it; each may grow by 10 bytes). */
	/* A marker gets its horizon likewise and goes after it (Kafka
	 * removes markers after delete.retention.ms; the data of its
	 * transaction, in this pass's range before it, is no longer
	 * transactional or gone by then). */
	set_h = (tombs || ctrl) && horizon < 0 && (uint64_t)len + 10ull * (nrec + 1) <= out_cap;
	new_first =
	    set_h ? (delete_retention_ms > INT64_MAX - now ? INT64_MAX : now + delete_retention_ms)
	          : first;
	if (kept == nrec && !set_h) {
		copy_whole(h, len, out, out_len); /* unchanged */
		return KERR_NONE;
	}
	memcpy(out, h, BATCH_HDR);
	if (txn && !ctrl)
		out[22] &= (uint8_t)~ATTR_TXN;
	if (set_h) {
		out[22] |= ATTR_HORIZ;
		put_be64(out + 27, (uint64_t)new_first);
	}
	at = BATCH_HDR;
	for (uint32_t i = 0; i < nrec; i++) {
		bool keep = true;
		(void)rec_parse(h, len, &at, &r);
		if (r.klen >= 0 && !ctrl) {
			int64_t latest = map_get(m, r.key, (uint32_t)r.klen);
			keep = latest <= base + r.od && !(r.tomb && horizon >= 0 && now >= horizon);
		}
		if (!keep)
			continue;
		if (!set_h) {
			memcpy(out + o, h + r.start, r.end - r.start);
			o += r.end - r.start;
			continue;
		}
		/* length, attributes, the new timestamp delta, the rest */
		uint8_t ts[10];
		uint32_t tsn = compact_put_varint(ts, first + r.tsd - new_first);
		uint32_t body = 1 + tsn + (r.end - r.ts_end);
		o += compact_put_varint(out + o, (int64_t)body);
		out[o++] = h[r.ts_at - 1];
		memcpy(out + o, ts, tsn);
		o += tsn;
		memcpy(out + o, h + r.ts_end, r.end - r.ts_end);
		o += r.end - r.ts_end;
	}
	put_be32(out + 8, o - 12);
	put_be32(out + 57, kept);
	crc = store_crc32c(0, out + 21, o - 21);
	put_be32(out + 17, crc);
	*out_len = o;
	return KERR_NONE;
}
