/* Produce (RecordBatch v2 stored verbatim, offsets assigned here) and
 * ListOffsets. Every request is fully decoded before anything changes. */
#include <lib/prof.h>
#include <lib/string.h>

#include "storage/crc32c.h"
#include "broker_int.h"

#define BATCH_HDR 61u

/* A position in a records blob, which is either in the request buffer (one piece) or
 * still in the receive buffers it arrived in (kr_init_gather: several pieces). */
struct rcur {
	const struct store_iov *v;
	size_t skip;   /* into v[0] */
	uint32_t left; /* bytes from here to the blob's end */
};

static struct rcur rc_init(const struct kbytes *rec, struct store_iov *one)
{
	if (rec->p) {
		*one = (struct store_iov){rec->p, (size_t)rec->len};
		return (struct rcur){one, 0, (uint32_t)rec->len};
	}
	return (struct rcur){rec->v, rec->skip, (uint32_t)rec->len};
}

/* Step over n bytes (n <= left); a cursor at the end stays on its last piece. */
static void rc_step(struct rcur *c, uint32_t n)
{
	size_t k = c->skip + n;

	c->left -= n;
	if (!c->left)
		return; /* at the end (a blob's last batch): no walk over its pieces */
	while (c->left && k >= c->v->len)
		k -= c->v->len, c->v++;
	c->skip = k;
}

/* The batch header at c (left >= BATCH_HDR): in place when in one piece, else copied to buf. */
static const uint8_t *rc_header(const struct rcur *c, uint8_t buf[BATCH_HDR])
{
	if (c->v->len - c->skip >= BATCH_HDR)
		return (const uint8_t *)c->v->base + c->skip;
	store_iov_copy(buf, c->v, c->skip, BATCH_HDR);
	return buf;
}

/* store_crc32c of the batch at c whose header (possibly changed, or a copy) is h: bytes 21 on;
 * one pass when the batch lies in one piece as it is. */
static uint32_t rc_batch_crc(const struct rcur *c, const uint8_t *h, uint32_t total)
{
	const uint8_t *at = (const uint8_t *)c->v->base + c->skip;
	struct rcur d = *c;

	if (h == at && total <= c->v->len - c->skip)
		return store_crc32c(0, h + 21, total - 21);
	rc_step(&d, BATCH_HDR);
	return store_iov_crc32c(store_crc32c(0, h + 21, BATCH_HDR - 21), d.v, d.skip,
	                        total - BATCH_HDR);
}

/* Validate one records blob of concatenated v2 batches. Returns a Kafka
 * error code; on success *count is the number of offsets the blob takes. */
static int rec_check(const struct kbytes *rec, uint32_t *count, int64_t *max_ts)
{
	struct store_iov one;
	struct rcur c = rc_init(rec, &one);
	uint8_t buf[BATCH_HDR];
	const uint8_t *h;

	*count = 0;
	*max_ts = -1;
	if (c.left < BATCH_HDR)
		return KERR_CORRUPT;
	while (c.left) {
		uint32_t total;
		int32_t lod;
		if (c.left < BATCH_HDR)
			return KERR_CORRUPT;
		h = rc_header(&c, buf);
		total = get_be32(h + 8) + 12;
		if (total < BATCH_HDR || total > c.left || total - 12 > 0x7fffffffu)
			return KERR_CORRUPT;
		if (total > STORE_MAX_PAYLOAD)
			return KERR_TOO_LARGE;
		if (h[16] != 2 || (h[22] & 7) > 4)
			return KERR_CORRUPT;
		if (get_be32(h + 17) != rc_batch_crc(&c, h, total))
			return KERR_CORRUPT;
		/* control batches are the broker's own; a transactional batch
		 * needs a producer id */
		if ((h[22] & 0x20) || ((h[22] & 0x10) && (int64_t)get_be64(h + 43) < 0))
			return KERR_INVALID_RECORD;
		lod = (int32_t)get_be32(h + 23);
		if (lod < 0 || (uint64_t)*count + (uint32_t)lod + 1 > 0x7fffffffu)
			return KERR_CORRUPT;
		*count += (uint32_t)lod + 1;
		if ((int64_t)get_be64(h + 35) > *max_ts)
			*max_ts = (int64_t)get_be64(h + 35);
		rc_step(&c, total);
	}
	return KERR_NONE;
}

int api_batch_check(const uint8_t *p, uint32_t len, uint32_t *count, int64_t *max_ts)
{
	const struct kbytes rec = {.p = (uint8_t *)(uintptr_t)p, .len = (int32_t)len};

	return rec_check(&rec, count, max_ts);
}

/* MESSAGE_TOO_LARGE when a batch of a checked blob is longer than the
 * topic's max.message.bytes (Kafka counts the whole batch). */
static int16_t batch_max_ok(const struct kbytes *rec, int32_t max)
{
	struct store_iov one;
	uint8_t buf[BATCH_HDR];

	for (struct rcur c = rc_init(rec, &one); c.left;) {
		const uint8_t *h = rc_header(&c, buf);
		if (get_be32(h + 8) + 12 > (uint32_t)max)
			return KERR_TOO_LARGE;
		rc_step(&c, get_be32(h + 8) + 12);
	}
	return KERR_NONE;
}

/* Append every batch of a checked blob; returns a Kafka error code and
 * the base offset of the first batch. The bytes are copied once, from the
 * blob (request buffer or receive buffers) into the store; each batch's
 * header is set on a copy: BaseOffset and PartitionLeaderEpoch (outside
 * the batch CRC), and with append_time >= 0 (message.timestamp.type=
 * LogAppendTime) the LogAppendTime attribute (bit 3) and the broker's time
 * as MaxTimestamp with a new CRC (both are covered by it), as Kafka does. */
static int16_t produce_append(struct broker *b, struct store_part *p, const struct kbytes *rec,
                              int64_t append_time, int64_t *base)
{
	struct store_iov one;
	struct rcur c = rc_init(rec, &one), d;
	uint8_t h[BATCH_HDR];

	*base = (int64_t)store_part_end(p);
	while (c.left) {
		const uint8_t *src = rc_header(&c, h);
		if (src != h)
			memcpy(h, src, BATCH_HDR); /* changed below: a copy */
		uint32_t total = get_be32(h + 8) + 12;
		uint32_t n = get_be32(h + 23) + 1;
		int err;
		put_be64(h, store_part_end(p));
		memset(h + 12, 0, 4);
		if (append_time >= 0) {
			h[22] |= 0x08;
			put_be64(h + 35, (uint64_t)append_time);
			put_be32(h + 17, rc_batch_crc(&c, h, total));
		}
		d = c;
		rc_step(&d, BATCH_HDR);
		PROF_ENTER(PROF_STORE);
		/* the batch CRC (bytes 21 on) was checked by rec_check or set above: the store's
		 * frame CRC combines it */
		err = store_append_gather(b->st, p, h, BATCH_HDR, d.v, d.skip, total, n,
		                          (int64_t)get_be64(h + 35), 21, get_be32(h + 17));
		PROF_LEAVE();
		if (err) {
			broker_log(b, "broker: append failed", "", err);
			return err == STORE_EINVAL ? KERR_TOO_LARGE : KERR_STORAGE;
		}
		rc_step(&c, total);
	}
	b->data_arrived = true;
	return KERR_NONE;
}

/* Append a checked blob, applying the idempotence rules when its batch
 * carries a producer id: such a blob must be exactly one batch (as Kafka
 * requires for magic 2); a retry of one of the producer's last batches
 * is answered with the original base offset and not stored again. The
 * rules read the batch header only (a copy: the blob may be gathered). */
static int16_t produce_idem(struct broker *b, struct store_part *p, uint32_t t, uint32_t k,
                            const struct kbytes *rec, int64_t append_time, int64_t *base)
{
	struct store_iov one;
	struct rcur c = rc_init(rec, &one);
	uint8_t h[BATCH_HDR];
	int64_t dup;
	int16_t err;

	const uint8_t *src = rc_header(&c, h);
	if (src != h)
		memcpy(h, src, BATCH_HDR); /* a copy: kept past the append */
	if (!prod_batch_is_idempotent(h))
		return produce_append(b, p, rec, append_time, base);
	if (get_be32(h + 8) + 12 != (uint32_t)rec->len)
		return KERR_INVALID_RECORD;
	if ((err = txn_produce_check(b, t, k, h)) || (err = prod_check(b, t, k, h, &dup)))
		return err;
	if (dup >= 0) {
		*base = dup;
		broker_log(b, "broker: duplicate idempotent batch, original offset", "", dup);
		return KERR_NONE;
	}
	if (!(err = produce_append(b, p, rec, append_time, base))) {
		prod_update(b, t, k, h, *base);
		txn_part_batch(b, t, k, h, BATCH_HDR, *base); /* a client's batch: header only */
	}
	return err;
}

/* Decode-only pass over the topic data; false when malformed. */
static bool produce_decode_at(struct kr *rp)
{
	struct kr r = *rp;

	int32_t nt = kr_array(&r, r.flex ? 3 : 6, false);
	struct kstr s;
	struct kbytes rec;

	for (int32_t t = 0; t < nt && !r.bad; t++) {
		kr_str(&r, &s);
		int32_t np = kr_array(&r, r.flex ? 5 : 8, false);
		for (int32_t k = 0; k < np && !r.bad; k++) {
			(void)kr_i32(&r);
			kr_bytes(&r, &rec);
			kr_tags(&r);
		}
		kr_tags(&r);
	}
	kr_tags(&r);
	rp->arena_full = r.arena_full;
	return !r.bad && r.off == r.n;
}

/* One partition of a produce: checks, append, response entry. */
static bool produce_part(struct broker *b, struct kresp *r, struct kreq *q, int tid, int16_t acks)
{
	int32_t idx = kr_i32(&q->r);
	struct kbytes rec;
	struct store_part *p = NULL;
	int64_t base = -1, ts, append_time = -1;
	uint32_t count;
	int16_t err;

	kr_bytes(&q->r, &rec);
	kr_tags(&q->r);
	if (tid < 0)
		err = (int16_t)-tid;
	else if (!(p = store_part_get(b->st, (uint32_t)tid, (uint32_t)idx)))
		err = KERR_UNKNOWN_TP;
	else if (!broker_leads(b, (uint32_t)tid, (uint32_t)idx))
		err = KERR_NOT_LEADER;
	else if (acks != 0 && acks != 1 && acks != -1)
		err = KERR_INVALID_ACKS;
	else if (rec.len <= 0)
		err = KERR_CORRUPT;
	else if (!(err = (int16_t)rec_check(&rec, &count, &ts)) &&
	         !(err = batch_max_ok(&rec, b->tconf[tid].max_msg))) {
		if (b->tconf[tid].append_time)
			append_time = (int64_t)(b->pl.wall_ms ? b->pl.wall_ms(b->pl.ctx)
			                                      : b->pl.now_ms(b->pl.ctx));
		err = produce_idem(b, p, (uint32_t)tid, (uint32_t)idx, &rec, append_time, &base);
	}
	if (err) {
		base = -1;
		broker_log(b, "broker: produce rejected, error", "", err);
	}
	if (r) {
		kw_i32(&r->w, idx);
		kw_i16(&r->w, err);
		kw_i64(&r->w, base);
		kw_i64(&r->w, err ? -1 : append_time); /* log_append_time */
		if (q->ver >= 5)
			kw_i64(&r->w, p ? (int64_t)store_part_start(p) : -1);
		if (q->ver >= 8) {
			kw_array(&r->w, 0);      /* record errors */
			kw_str(&r->w, NULL, -1); /* error message */
		}
		kw_tags(&r->w);
	}
	return err == KERR_NONE;
}

/* Produce v3-v9. acks=0 sends nothing back; acks=-1 answers only after
 * the next device flush has completed (see docs/broker.md). */
int api_produce(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr txn, name;
	int16_t acks;
	struct kresp *r = NULL;
	bool stored = false;

	kr_str(&q->r, &txn);
	acks = kr_i16(&q->r);
	(void)kr_i32(&q->r);
	if (q->r.bad || !produce_decode_at(&q->r))
		return -1;
	if (acks != 0 && !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	int32_t nt = kr_array(&q->r, q->r.flex ? 3 : 6, false);
	if (r)
		kw_array(&r->w, nt);
	for (int32_t t = 0; t < nt; t++) {
		kr_str(&q->r, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(&q->r, q->r.flex ? 5 : 8, false);
		if (r) {
			kw_str(&r->w, name.p, name.len);
			kw_array(&r->w, np);
		}
		for (int32_t k = 0; k < np; k++)
			stored |= produce_part(b, r, q, tid, acks);
		kr_tags(&q->r);
		if (r)
			kw_tags(&r->w);
	}
	if (!r)
		return 0;
	kw_i32(&r->w, 0);
	kw_tags(&r->w);
	broker_resp_finish(r);
	if (acks == -1 && stored) {
		r->state = R_WAIT_FLUSH;
		r->flush_gen = store_flush_next(b->st);
		b->wait_flush++;
	} else if (stored) {
		r->state = R_WAIT_WRITE; /* acks=1: after the write-out */
		b->wait_write++;
	} else {
		broker_resp_ready(b, r);
	}
	return 0;
}

/* Signed (zig-zag) varint of a record, at most 10 bytes, within [*at, n);
 * false when truncated or too long. */
bool api_rec_varint(const uint8_t *p, uint32_t n, uint32_t *at, int64_t *v)
{
	uint64_t u = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		if (*at >= n)
			return false;
		uint8_t c = p[(*at)++];
		u |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
			return true;
		}
	}
	return false;
}

/* In the stored batch h (total bytes), the first record whose timestamp
 * reaches ts (ts < 0: the one with the largest timestamp). Uncompressed
 * batches are searched record by record; in a compressed one, or a
 * LogAppendTime one, every record is taken to have the batch's
 * MaxTimestamp (Kafka would decompress; docs/broker.md). */
static int64_t batch_find_ts(const uint8_t *h, uint32_t total, int64_t ts, int64_t *rts)
{
	int64_t base = (int64_t)get_be64(h), first = (int64_t)get_be64(h + 27);
	int64_t max = (int64_t)get_be64(h + 35), best = -1;
	uint32_t nrec = get_be32(h + 57), at = BATCH_HDR;

	*rts = max;
	if ((h[22] & 7) || (h[22] & 0x08))
		return ts < 0 ? base + (int64_t)get_be32(h + 23) : base;
	for (uint32_t i = 0; i < nrec; i++) {
		int64_t len, tsd, od;
		uint32_t start;
		if (!api_rec_varint(h, total, &at, &len) || len < 0 || len > total - at)
			break;
		start = at;
		at++; /* attributes */
		if (!api_rec_varint(h, total, &at, &tsd) || !api_rec_varint(h, total, &at, &od))
			break;
		if (ts >= 0 && first + tsd >= ts) {
			*rts = first + tsd;
			return base + od;
		}
		if (ts < 0 && first + tsd == max && best < 0)
			best = base + od;
		at = start + (uint32_t)len;
	}
	return best >= 0 ? best : base;
}

/* Offset (and timestamp) for ListOffsets by time: the store finds the
 * first batch whose MaxTimestamp reaches ts, the record is found inside
 * it. The partition's high watermark when none; -1 on a read failure. */
static int64_t list_in_batch(struct broker *b, struct store_part *p, int64_t base, int64_t ts,
                             int64_t *rts)
{
	struct store_read rd;
	int64_t off = base;

	if (store_read(b->st, p, (uint64_t)base, 1, &rd) != STORE_OK)
		return -1;
	if (rd.n && rd.len[0] >= BATCH_HDR && rd.ptr[0][16] == 2)
		off = batch_find_ts(rd.ptr[0], rd.len[0], ts, rts);
	store_read_release(b->st, &rd);
	if (off < (int64_t)store_part_start(p))
		off = (int64_t)store_part_start(p);
	return off;
}

static int64_t list_by_time(struct broker *b, struct store_part *p, int64_t ts, int64_t *rts)
{
	int64_t base = store_offset_for_time(p, ts);

	*rts = -1;
	if (base < 0)
		return (int64_t)store_part_hwm(p);
	return list_in_batch(b, p, base, ts, rts);
}

static int64_t list_max_ts(struct broker *b, struct store_part *p, int64_t *rts)
{
	int64_t base = store_offset_max_time(p, rts);

	if (base < 0) {
		*rts = -1;
		return -1;
	}
	return list_in_batch(b, p, base, -1, rts);
}

/* Offset answer for one ListOffsets partition: -2 earliest, -1 latest,
 * -3 (v7+) the record with the largest timestamp, else the first record
 * whose timestamp reaches ts (store_offset_for_time). */
static void list_one(struct broker *b, struct kresp *r, int16_t ver, int tid, int32_t idx,
                     int64_t ts, bool committed)
{
	struct store_part *p = NULL;
	int64_t off = -1, rts = -1;
	int16_t err = KERR_NONE;

	if (tid < 0)
		err = (int16_t)-tid;
	else if (!(p = store_part_get(b->st, (uint32_t)tid, (uint32_t)idx)))
		err = KERR_UNKNOWN_TP;
	else if (!broker_leads(b, (uint32_t)tid, (uint32_t)idx))
		err = KERR_NOT_LEADER;
	else if (ts == -2)
		off = (int64_t)store_part_start(p);
	else if (ts == -1 && committed) /* read_committed: the last stable offset */
		off = txn_lso(b, (uint32_t)tid, (uint32_t)idx, (int64_t)store_part_hwm(p));
	else if (ts == -1)
		off = (int64_t)store_part_hwm(p);
	else if (ts == -3 && ver >= 7)
		off = list_max_ts(b, p, &rts);
	else if (ts < 0)
		err = KERR_INVALID_REQUEST;
	else if ((off = list_by_time(b, p, ts, &rts)) < 0)
		err = KERR_STORAGE;
	else if (off == (int64_t)store_part_hwm(p))
		off = -1, rts = -1; /* no record reaches ts: Kafka answers -1 */
	kw_i32(&r->w, idx);
	kw_i16(&r->w, err);
	kw_i64(&r->w, err ? -1 : rts);
	kw_i64(&r->w, err ? -1 : off);
	if (ver >= 4)
		kw_i32(&r->w, off >= 0 ? 0 : -1); /* leader epoch */
	kw_tags(&r->w);
}

/* ListOffsets v1-v7 (v2+ isolation level: latest is the LSO for
 * read_committed). */
int api_list_offsets(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr name;
	struct kresp *r = broker_resp_new(b, c, q->corr);
	bool committed = false;

	if (!r)
		return -1;
	(void)kr_i32(&q->r);
	if (q->ver >= 2) {
		committed = kr_i8(&q->r) == 1;
		kw_i32(&r->w, 0);
	}
	int32_t nt = kr_array(&q->r, q->r.flex ? 3 : 6, false);
	kw_array(&r->w, nt);
	for (int32_t t = 0; t < nt && !q->r.bad; t++) {
		kr_str(&q->r, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(&q->r, 12, false);
		kw_str(&r->w, name.p, name.len);
		kw_array(&r->w, np);
		for (int32_t k = 0; k < np && !q->r.bad; k++) {
			int32_t idx = kr_i32(&q->r);
			if (q->ver >= 4)
				(void)kr_i32(&q->r); /* current leader epoch */
			int64_t ts = kr_i64(&q->r);
			kr_tags(&q->r);
			if (!q->r.bad)
				list_one(b, r, q->ver, tid, idx, ts, committed);
		}
		kr_tags(&q->r);
		kw_tags(&r->w);
	}
	kr_tags(&q->r);
	if (q->r.bad)
		return -1;
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}
