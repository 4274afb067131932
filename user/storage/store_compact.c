/* Replacing closed segments of a partition by one compacted segment
 * (docs/log-format.md, "Compacted segments"). The new segment goes to a
 * free slot: its frames are written and flushed, then its header (the
 * switch: it names the segments it replaces), flushed; only then do the
 * old headers get wiped. A crash before the header is durable leaves the
 * old segments; after it, recovery drops the replaced ones. */
#include <lib/string.h>

#include "crc32c.h"
#include "store_int.h"

#define RW_BUF (STORE_MAX_PAYLOAD + FRAME_HDR + 2u * STORE_BLOCK)

struct store_rewrite {
	uint32_t topic, part;
	uint32_t slot;         /* the new segment */
	uint64_t seq;          /* its sequence number */
	uint64_t first_seq, n; /* the replaced segments: first's seq, count */
	uint64_t *seqs;        /* their sequence numbers, in order */
	uint64_t end_off;      /* end offset of the last replaced segment */
	uint64_t next;         /* lowest base offset the next frame may have */
	uint32_t crc;          /* chain CRC so far */
	uint8_t *buf;          /* bytes [buf_pos, buf_pos + used) of the segment */
	uint32_t buf_pos, used, end_pos;
	struct store_idx *idx; /* index entries of the new segment */
	uint32_t nidx, idx_cap;
};

int store_part_seg_info(const struct store *s, const struct store_part *p, uint32_t i,
                        struct store_seg_info *out)
{
	const struct store_seg *g;

	if (i >= p->nsegs)
		return STORE_ERANGE;
	g = &s->segs[p->segs[i]];
	out->base = g->base;
	out->end = i + 1 < p->nsegs ? s->segs[p->segs[i + 1]].base : p->end_off;
	out->bytes = g->end_pos - STORE_BLOCK;
	out->seq = g->seq;
	out->compacted = g->compacted;
	out->active = i + 1 == p->nsegs;
	out->max_ts = out->first_ts = -1;
	out->frames = 0;
	/* the index is in offset order: binary search for the segment */
	uint32_t lo = 0, hi = p->nidx;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p->idx[mid].base < g->base)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t k = lo; k < p->nidx && p->idx[k].seg == p->segs[i]; k++) {
		if (!out->frames++)
			out->first_ts = p->idx[k].max_ts;
		if (p->idx[k].max_ts > out->max_ts)
			out->max_ts = p->idx[k].max_ts;
	}
	return STORE_OK;
}

/* Position in p's segment list of the replaced segments, or -1 when they
 * are no longer there, in order and closed (retention, deletion, reuse
 * or a record deletion changed the partition since the rewrite began). */
static int rw_locate(const struct store *s, const struct store_rewrite *rw,
                     const struct store_part *p)
{
	for (uint32_t i = 0; p && i < p->nsegs; i++) {
		if (s->segs[p->segs[i]].seq != rw->first_seq)
			continue;
		if (i + rw->n >= p->nsegs)
			return -1;
		for (uint32_t k = 0; k < rw->n; k++)
			if (s->segs[p->segs[i + k]].seq != rw->seqs[k])
				return -1;
		return (int)i;
	}
	return -1;
}

static bool rw_valid(const struct store *s, const struct store_rewrite *rw)
{
	const struct store_seg *g = &s->segs[rw->slot];

	return g->used && g->seq == rw->seq &&
	       rw_locate(s, rw, st_part_any((struct store *)s, rw->topic, rw->part)) >= 0;
}

static void rw_free(struct store *s, struct store_rewrite *rw)
{
	st_free(s, rw->buf);
	st_free(s, rw->idx);
	st_free(s, rw->seqs);
	st_free(s, rw);
}

void store_rewrite_abort(struct store *s, struct store_rewrite *rw)
{
	if (!rw)
		return;
	if (s->segs[rw->slot].used && s->segs[rw->slot].seq == rw->seq)
		s->segs[rw->slot].used = false; /* no header was written */
	rw_free(s, rw);
}

int store_rewrite_begin(struct store *s, struct store_part *p, uint32_t first, uint32_t n,
                        struct store_rewrite **out)
{
	struct store_rewrite *rw;
	const struct store_seg *f;
	int slot = -1;

	*out = NULL;
	if (!n || first + n >= p->nsegs) /* the active segment is never replaced */
		return STORE_EINVAL;
	for (uint32_t i = 0; i < s->nsegs && slot < 0; i++)
		if (!s->segs[i].used)
			slot = (int)i;
	if (slot < 0)
		return STORE_ENOSPC;
	rw = st_alloc(s, sizeof(*rw));
	if (!rw)
		return STORE_ENOMEM;
	memset(rw, 0, sizeof(*rw));
	rw->buf = st_alloc(s, RW_BUF);
	rw->seqs = st_alloc(s, (size_t)n * sizeof(*rw->seqs));
	if (!rw->buf || !rw->seqs) {
		rw_free(s, rw);
		return STORE_ENOMEM;
	}
	f = &s->segs[p->segs[first]];
	rw->topic = p->topic;
	rw->part = p->part;
	rw->slot = (uint32_t)slot;
	rw->seq = s->next_seq++;
	rw->first_seq = f->seq;
	rw->n = n;
	for (uint32_t k = 0; k < n; k++)
		rw->seqs[k] = s->segs[p->segs[first + k]].seq;
	rw->end_off = s->segs[p->segs[first + n]].base;
	rw->next = f->base;
	rw->buf_pos = rw->end_pos = STORE_BLOCK;
	s->segs[slot] = (struct store_seg){.used = true,
	                                   .topic = p->topic,
	                                   .part = p->part,
	                                   .seq = rw->seq,
	                                   .base = f->base,
	                                   .end_pos = STORE_BLOCK,
	                                   .key = f->key,
	                                   .key_last = s->segs[p->segs[first + n - 1]].key_last,
	                                   .end_off = rw->end_off,
	                                   .compacted = true};
	/* The chain seed covers only the fields known now. */
	st_encode_seg_hdr(s, &s->segs[slot], s->sb);
	s->segs[slot].seed = rw->crc = get_le32(s->sb + 8);
	*out = rw;
	return STORE_OK;
}

/* Write the whole blocks of the buffer (all of it, zero-padded, when
 * last) and keep the partial block at its front. */
static int rw_write(struct store *s, struct store_rewrite *rw, bool last)
{
	uint32_t full = rw->used / STORE_BLOCK * STORE_BLOCK;
	uint32_t nblk = last ? (rw->used + STORE_BLOCK - 1) / STORE_BLOCK : full / STORE_BLOCK;

	if (!nblk)
		return STORE_OK;
	if (last)
		memset(rw->buf + rw->used, 0, nblk * STORE_BLOCK - rw->used);
	if (s->pl.write(s->pl.ctx, seg_blk(s, rw->slot) + rw->buf_pos / STORE_BLOCK, rw->buf, nblk))
		return STORE_EIO;
	if (full < rw->used)
		memmove(rw->buf, rw->buf + full, rw->used - full);
	rw->buf_pos += full;
	rw->used -= full;
	return STORE_OK;
}

int store_rewrite_add(struct store *s, struct store_rewrite *rw, const void *payload, uint32_t len,
                      uint64_t base, uint32_t count, int64_t max_ts)
{
	uint8_t hdr[FRAME_HDR];
	int err;

	if (!len || len > STORE_MAX_PAYLOAD || !count || base < rw->next ||
	    base + count > rw->end_off)
		return STORE_EINVAL;
	if ((uint64_t)rw->end_pos + FRAME_HDR + len > (uint64_t)s->seg_blocks * STORE_BLOCK)
		return STORE_ENOSPC;
	if (!rw_valid(s, rw))
		return STORE_ERANGE;
	if (rw->used + FRAME_HDR + len > RW_BUF - STORE_BLOCK && (err = rw_write(s, rw, false)))
		return err;
	if (rw->nidx == rw->idx_cap) {
		struct store_idx *n = st_grow(s, rw->idx, rw->nidx, &rw->idx_cap, sizeof(*n));
		if (!n)
			return STORE_ENOMEM;
		rw->idx = n;
	}
	st_encode_frame_hdr(hdr, len, base, max_ts, count, rw->seq);
	rw->crc = store_crc32c(rw->crc, hdr, 32);
	rw->crc = store_crc32c(rw->crc, payload, len);
	put_le32(hdr + 32, rw->crc);
	memcpy(rw->buf + rw->used, hdr, FRAME_HDR);
	memcpy(rw->buf + rw->used + FRAME_HDR, payload, len);
	rw->idx[rw->nidx++] = (struct store_idx){base, max_ts, rw->slot, rw->end_pos, count};
	rw->used += FRAME_HDR + len;
	rw->end_pos += FRAME_HDR + len;
	rw->next = base + count;
	return STORE_OK;
}

/* Swap the new segment in for the replaced ones in p's lists. */
static int rw_splice(struct store *s, struct store_rewrite *rw, struct store_part *p, uint32_t at)
{
	uint32_t i0 = 0, i1, keep;
	int err = STORE_OK;
	uint64_t lo = s->segs[p->segs[at]].base;

	while (i0 < p->nidx && p->idx[i0].base < lo)
		i0++;
	i1 = i0;
	while (i1 < p->nidx && p->idx[i1].base < rw->end_off)
		i1++;
	keep = p->nidx - (i1 - i0);
	while (keep + rw->nidx > p->idx_cap) {
		struct store_idx *n = st_grow(s, p->idx, p->nidx, &p->idx_cap, sizeof(*n));
		if (!n)
			return STORE_ENOMEM;
		p->idx = n;
	}
	memmove(p->idx + i0 + rw->nidx, p->idx + i1, (p->nidx - i1) * sizeof(*p->idx));
	if (rw->nidx)
		memcpy(p->idx + i0, rw->idx, rw->nidx * sizeof(*p->idx));
	p->nidx = keep + rw->nidx;
	/* The old headers are wiped, not flushed: recovery drops replaced
	 * segments whose header survives. */
	memset(s->sb, 0, STORE_BLOCK);
	for (uint32_t k = 0; k < rw->n; k++) {
		s->segs[p->segs[at + k]].used = false;
		if (s->pl.write(s->pl.ctx, seg_blk(s, p->segs[at + k]), s->sb, 1))
			err = STORE_EIO;
	}
	p->segs[at] = rw->slot;
	memmove(p->segs + at + 1, p->segs + at + rw->n, (p->nsegs - at - rw->n) * sizeof(*p->segs));
	p->nsegs -= (uint32_t)rw->n - 1;
	return err;
}

int store_rewrite_commit(struct store *s, struct store_rewrite *rw)
{
	struct store_part *p = st_part_any(s, rw->topic, rw->part);
	struct store_seg *g = &s->segs[rw->slot];
	int at, err;

	if (!rw_valid(s, rw)) {
		store_rewrite_abort(s, rw);
		return STORE_ERANGE;
	}
	at = rw_locate(s, rw, p);
	/* 1. the frames, durable before the switch */
	if ((err = rw_write(s, rw, true)) || (s->pl.flush(s->pl.ctx) && (err = STORE_EIO)))
		goto fail;
	/* 2. the switch: the header naming the replaced segments */
	g->end_pos = rw->end_pos;
	st_encode_seg_hdr(s, g, s->sb);
	if (s->pl.write(s->pl.ctx, seg_blk(s, rw->slot), s->sb, 1) || s->pl.flush(s->pl.ctx)) {
		err = STORE_EIO;
		goto fail;
	}
	/* 3. in memory (a failed wipe is harmless: see rw_splice) */
	err = rw_splice(s, rw, p, (uint32_t)at);
	if (err == STORE_ENOMEM)
		goto fail;
	rw_free(s, rw);
	return err;
fail:
	/* Not switched in memory. If the header reached the device the next
	 * open takes the new segment, which holds the same latest values. */
	st_log(s, "store: compaction rewrite failed", "", err);
	store_rewrite_abort(s, rw);
	return err;
}
