/* Reading frames back, flushing, and the small partition accessors. */
#include <lib/string.h>

#include "store_int.h"

uint64_t store_part_start(const struct store_part *p)
{
	return p->start_off;
}

uint64_t store_part_end(const struct store_part *p)
{
	return p->end_off;
}

uint64_t store_part_hwm(const struct store_part *p)
{
	return p->hwm;
}

uint64_t store_flush_gen(const struct store *s)
{
	return s->flush_gen;
}

uint64_t store_unflushed_bytes(const struct store *s)
{
	return s->unflushed;
}

/* Index of the last frame whose base offset is <= off (nidx > 0). */
static uint32_t idx_find(const struct store_part *p, uint64_t off)
{
	uint32_t lo = 0, hi = p->nidx;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->idx[mid].base <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* End byte position of frame i inside its segment. */
static uint32_t frame_end(const struct store *s, const struct store_part *p, uint32_t i)
{
	if (i + 1 < p->nidx && p->idx[i + 1].seg == p->idx[i].seg)
		return p->idx[i + 1].pos;
	return s->segs[p->idx[i].seg].end_pos;
}

/* Offset following frame i. */
static uint64_t frame_next(const struct store_part *p, uint32_t i)
{
	return i + 1 < p->nidx ? p->idx[i + 1].base : p->end_off;
}

/* Read whole frames [first, last] of one segment with one device read and
 * point the caller at their payloads inside the block buffer. */
static int read_frames(struct store *s, const struct store_part *p, uint32_t first, uint32_t last,
                       struct store_read *out)
{
	uint32_t start = p->idx[first].pos, end = frame_end(s, p, last);
	uint32_t b0 = start / STORE_BLOCK;
	uint32_t nblk = (end + STORE_BLOCK - 1) / STORE_BLOCK - b0;
	uint8_t *buf = s->pl.alloc(s->pl.ctx, (size_t)nblk * STORE_BLOCK);

	if (!buf)
		return STORE_ENOMEM;
	if (s->pl.read(s->pl.ctx, seg_blk(s, p->idx[first].seg) + b0, buf, nblk)) {
		s->pl.free(s->pl.ctx, buf);
		return STORE_EIO;
	}
	out->buf = buf;
	for (uint32_t i = first; i <= last; i++) {
		const uint8_t *h = buf + (p->idx[i].pos - b0 * STORE_BLOCK);
		uint32_t len = frame_end(s, p, i) - p->idx[i].pos - FRAME_HDR;
		/* The index came from these bytes; a mismatch means the
		 * device changed under us. Serve nothing rather than junk. */
		if (get_le32(h) != FRAME_MAGIC || get_le32(h + 4) != len ||
		    get_le64(h + 8) != p->idx[i].base) {
			store_read_release(s, out);
			st_log(s, "store: frame mismatch on read at offset", "",
			       (long long)p->idx[i].base);
			return STORE_ECORRUPT;
		}
		out->ptr[out->n] = h + FRAME_HDR;
		out->len[out->n++] = len;
	}
	out->next_offset = frame_next(p, last);
	return STORE_OK;
}

int store_read(struct store *s, struct store_part *p, uint64_t offset, uint32_t max_bytes,
               struct store_read *out)
{
	return store_read_fit(s, p, offset, max_bytes, true, out);
}

int store_read_fit(struct store *s, struct store_part *p, uint64_t offset, uint32_t max_bytes,
                   bool min_one, struct store_read *out)
{
	uint32_t first, last, bytes;

	out->buf = NULL;
	out->n = 0;
	out->next_offset = offset;
	if (offset < p->start_off || offset > p->hwm)
		return STORE_ERANGE;
	if (offset == p->hwm || !p->nidx)
		return STORE_OK;
	first = idx_find(p, offset);
	/* In a compacted log the offset may fall in a gap: the next frame. */
	if (offset >= p->idx[first].base + p->idx[first].count) {
		if (first + 1 == p->nidx || p->idx[first + 1].base >= p->hwm)
			return STORE_OK;
		first++;
	}
	last = first;
	/* max_bytes counts payload bytes (the Kafka record bytes served) */
	bytes = frame_end(s, p, first) - p->idx[first].pos - FRAME_HDR;
	if (!min_one && bytes > max_bytes)
		return STORE_OK;
	while (last + 1 < p->nidx && last + 1 - first < STORE_READ_MAX &&
	       p->idx[last + 1].seg == p->idx[first].seg && p->idx[last + 1].base < p->hwm) {
		uint32_t fl = frame_end(s, p, last + 1) - p->idx[last + 1].pos - FRAME_HDR;
		if (bytes + fl > max_bytes)
			break;
		bytes += fl;
		last++;
	}
	return read_frames(s, p, first, last, out);
}

void store_read_release(struct store *s, struct store_read *r)
{
	if (r->buf)
		s->pl.free(s->pl.ctx, r->buf);
	r->buf = NULL;
	r->n = 0;
}

int64_t store_offset_for_time(const struct store_part *p, int64_t ts)
{
	for (uint32_t i = 0; i < p->nidx; i++)
		if (p->idx[i].max_ts >= ts && p->idx[i].base < p->hwm)
			return (int64_t)p->idx[i].base;
	return -1;
}

int64_t store_offset_max_time(const struct store_part *p, int64_t *ts)
{
	int64_t best = -1;

	*ts = -1;
	for (uint32_t i = 0; i < p->nidx; i++)
		if (p->idx[i].base < p->hwm &&
		    (i + 1 == p->nidx || p->idx[i + 1].base > p->start_off) &&
		    (best < 0 || p->idx[i].max_ts > *ts)) {
			best = (int64_t)p->idx[i].base;
			*ts = p->idx[i].max_ts;
		}
	return best;
}

/* Barrier: everything written so far is durable when this returns 0. */
int store_flush(struct store *s)
{
	uint64_t id = ++s->flush_started;

	if (st_write_sync_all(s) || s->pl.flush(s->pl.ctx))
		return STORE_EIO;
	s->unflushed = 0;
	s->flush_pending = 0; /* this one covers a requested one */
	if (id > s->flush_gen)
		s->flush_gen = id;
	return STORE_OK;
}

int store_flush_start(struct store *s)
{
	if (!s->pl.flush_start)
		return store_flush(s);
	if (s->flush_inflight || s->flush_pending)
		return STORE_OK;
	/* submitted by st_flush_try once the data appended so far is written */
	s->flush_pending = ++s->flush_started;
	s->flush_need = s->append_ctr;
	s->unflushed = 0; /* what was appended so far is covered by this one */
	return st_flush_try(s);
}

void store_flush_done(struct store *s, bool ok)
{
	if (ok && s->flush_inflight > s->flush_gen)
		s->flush_gen = s->flush_inflight;
	s->flush_inflight = 0;
}

bool store_flush_busy(const struct store *s)
{
	return s->flush_inflight != 0 || s->flush_pending != 0;
}

uint64_t store_flush_next(const struct store *s)
{
	return s->flush_started + 1;
}
