/* Partition data path: segment allocation, append into the block-aligned
 * tail buffer, writing out, flushing and reading whole frames back. */
#include <lib/string.h>

#include "crc32c.h"
#include "store_int.h"

/* Grow a u32 or struct array through the platform allocator. */
void *st_grow(struct store *s, void *old, uint32_t n, uint32_t *cap, size_t elem)
{
	uint32_t nc = *cap ? *cap * 2 : 16;
	void *p = st_alloc(s, (size_t)nc * elem);

	if (!p)
		return NULL;
	if (old)
		memcpy(p, old, (size_t)n * elem);
	st_free(s, old);
	*cap = nc;
	return p;
}

int st_part_push_seg(struct store *s, struct store_part *p, uint32_t slot)
{
	if (p->nsegs == p->segs_cap) {
		uint32_t *n = st_grow(s, p->segs, p->nsegs, &p->segs_cap, 4);
		if (!n)
			return STORE_ENOMEM;
		p->segs = n;
	}
	p->segs[p->nsegs++] = slot;
	return STORE_OK;
}

int st_idx_push(struct store *s, struct store_part *p, uint64_t base, int64_t ts, uint32_t seg,
                uint32_t pos, uint32_t count)
{
	if (p->nidx == p->idx_cap) {
		struct store_idx *n = st_grow(s, p->idx, p->nidx, &p->idx_cap, sizeof(*n));
		if (!n)
			return STORE_ENOMEM;
		p->idx = n;
	}
	p->idx[p->nidx++] = (struct store_idx){base, ts, seg, pos, count};
	return STORE_OK;
}

void st_encode_frame_hdr(uint8_t *h, uint32_t len, uint64_t base, int64_t ts, uint32_t count,
                         uint64_t seq)
{
	put_le32(h, FRAME_MAGIC);
	put_le32(h + 4, len);
	put_le64(h + 8, base);
	put_le64(h + 16, (uint64_t)ts);
	put_le32(h + 24, count);
	put_le32(h + 28, (uint32_t)seq);
	put_le32(h + 32, 0);
	put_le32(h + 36, 0);
}

/* Encode g's header block into b (STORE_BLOCK bytes). The CRC of bytes
 * 0..63 (the chain seed) is known before a compacted segment's end is;
 * a compacted segment's extra fields have their own CRC at 124. */
void st_encode_seg_hdr(const struct store *s, const struct store_seg *g, uint8_t *b)
{
	memset(b, 0, STORE_BLOCK);
	put_le64(b, SEG_MAGIC);
	put_le32(b + 12, g->topic);
	put_le32(b + 16, g->part);
	put_le32(b + 20, g->compacted ? SEG_F_COMPACTED : 0);
	put_le64(b + 24, g->seq);
	put_le64(b + 32, g->base);
	put_le64(b + 40, s->store_id);
	put_le32(b + 8, store_crc32c(0, b, SEG_HDR_CRC_LEN));
	if (g->compacted) {
		put_le64(b + 64, g->key);
		put_le64(b + 72, g->key_last);
		put_le64(b + 80, g->end_off);
		put_le32(b + 88, g->end_pos);
		put_le32(b + SEG_HDR_CRC2, store_crc32c(0, b, SEG_HDR_CRC2));
	}
}

/* Write the header block of segment slot; sets its CRC chain seed. */
int st_write_seg_hdr(struct store *s, uint32_t slot)
{
	struct store_seg *g = &s->segs[slot];

	st_encode_seg_hdr(s, g, s->sb);
	g->seed = get_le32(s->sb + 8);
	return s->pl.write(s->pl.ctx, seg_blk(s, slot), s->sb, 1) ? STORE_EIO : 0;
}

/* Take a segment away from its partition (always that partition's oldest)
 * so it can be reused; the log start moves to the next segment. */
static void seg_reclaim(struct store *s, uint32_t slot)
{
	struct store_seg *g = &s->segs[slot];
	struct store_part *p = st_part_any(s, g->topic, g->part);
	uint32_t drop = 0;

	while (drop < p->nidx && p->idx[drop].seg == slot)
		drop++;
	memmove(p->idx, p->idx + drop, (p->nidx - drop) * sizeof(*p->idx));
	p->nidx -= drop;
	memmove(p->segs, p->segs + 1, (p->nsegs - 1) * sizeof(*p->segs));
	p->nsegs--;
	p->start_off = s->segs[p->segs[0]].base;
	g->used = false;
	st_log(s, "store: reclaimed segment, new log start", "", (long long)p->start_off);
}

int store_part_set_start(struct store *s, struct store_part *p, uint64_t off)
{
	if (off < p->start_off || off > p->hwm)
		return STORE_ERANGE;
	/* Whole segments below the new start go back to the free pool (the
	 * active one stays). Their headers are left: until a segment is
	 * reused it still chains in front of the rest at recovery, and the
	 * caller re-applies the start it recorded (the broker's meta log). */
	while (p->nsegs > 1 && s->segs[p->segs[1]].base <= off)
		seg_reclaim(s, p->segs[0]);
	p->start_off = off;
	return STORE_OK;
}

/* A free slot, or the oldest segment that is not a partition's active one. */
static int seg_pick(struct store *s)
{
	int best = -1;

	for (uint32_t i = 0; i < s->nsegs; i++)
		if (!s->segs[i].used)
			return (int)i;
	for (uint32_t i = 0; i < s->nsegs; i++) {
		struct store_seg *g = &s->segs[i];
		struct store_part *p = st_part_any(s, g->topic, g->part);
		if (p->nsegs > 1 && p->segs[0] == i && !p->pinned &&
		    (best < 0 || g->seq < s->segs[best].seq))
			best = (int)i;
	}
	if (best >= 0)
		seg_reclaim(s, (uint32_t)best);
	return best;
}

/* Start a new active segment for p at its current end offset. */
static int seg_roll(struct store *s, struct store_part *p)
{
	int slot, err;

	if (p->nsegs && (err = st_write_out_sync(s, p)))
		return err;
	slot = seg_pick(s);
	if (slot < 0)
		return STORE_ENOSPC;
	s->segs[slot] = (struct store_seg){.used = true,
	                                   .topic = p->topic,
	                                   .part = p->part,
	                                   .seq = s->next_seq,
	                                   .base = p->end_off,
	                                   .end_pos = STORE_BLOCK,
	                                   .key = s->next_seq,
	                                   .key_last = s->next_seq};
	s->next_seq++;
	/* The header is made durable before any frame goes into the segment:
	 * a reused segment must never show its previous owner's header next
	 * to the new owner's frames after a crash (that would cut the old
	 * owner's chain). This also makes everything written before durable,
	 * so a gap between segments can only come from device corruption. */
	err = st_write_seg_hdr(s, (uint32_t)slot);
	if (!err && s->pl.flush(s->pl.ctx))
		err = STORE_EIO;
	if (err || (err = st_part_push_seg(s, p, (uint32_t)slot))) {
		s->segs[slot].used = false;
		return err;
	}
	if (p->nsegs == 1)
		p->start_off = p->end_off;
	p->last_crc = s->segs[slot].seed;
	p->tail_base = STORE_BLOCK;
	p->tail_used = 0;
	p->tail_clean = 0; /* the old segment's bytes are still in the buffer */
	return STORE_OK;
}

int store_part_roll(struct store *s, struct store_part *p)
{
	if (!p->nsegs || s->segs[p->segs[p->nsegs - 1]].end_pos == STORE_BLOCK)
		return STORE_OK;
	return seg_roll(s, p);
}

int store_append(struct store *s, struct store_part *p, const void *payload, uint32_t len,
                 uint32_t count, int64_t max_ts)
{
	return store_append_sum(s, p, payload, len, count, max_ts, len, 0);
}

int store_append_sum(struct store *s, struct store_part *p, const void *payload, uint32_t len,
                     uint32_t count, int64_t max_ts, uint32_t sum_from, uint32_t sum)
{
	return store_append_gather(s, p, payload, len, NULL, 0, len, count, max_ts, sum_from, sum);
}

/* store_crc32c continued over the gathered payload's bytes [0, n). */
static uint32_t gather_crc(uint32_t crc, const struct st_gather *g, uint32_t n)
{
	uint32_t h = n < g->head_len ? n : g->head_len;

	crc = store_crc32c(crc, g->head, h);
	return n > h ? store_iov_crc32c(crc, g->v, g->skip, n - h) : crc;
}

int store_append_gather(struct store *s, struct store_part *p, const void *head, uint32_t head_len,
                        const struct store_iov *v, size_t skip, uint32_t len, uint32_t count,
                        int64_t max_ts, uint32_t sum_from, uint32_t sum)
{
	uint32_t slot, pos, seg_bytes = s->seg_blocks * STORE_BLOCK;
	uint8_t hdr[FRAME_HDR];
	uint32_t old_crc;
	const struct st_gather g = {head, head_len, v, skip, len};
	int err;

	if (!len || len > STORE_MAX_PAYLOAD || !count || head_len > len || (head_len < len && !v))
		return STORE_EINVAL;
	if (!p->tail && !(p->tail = st_alloc(s, TAIL_CAP)))
		return STORE_ENOMEM;
	if (!p->nsegs || s->segs[p->segs[p->nsegs - 1]].end_pos + FRAME_HDR + len > seg_bytes)
		if ((err = seg_roll(s, p)))
			return err;
	slot = p->segs[p->nsegs - 1];
	pos = s->segs[slot].end_pos;
	st_encode_frame_hdr(hdr, len, p->end_off, max_ts, count, s->segs[slot].seq);
	old_crc = p->last_crc;
	p->last_crc = store_crc32c(p->last_crc, hdr, 32);
	/* the part whose CRC the caller knows is combined, not summed again (when that is cheaper)
	 */
	if (sum_from > len || len - sum_from < CRC32C_COMBINE_MIN)
		sum_from = len;
	p->last_crc = gather_crc(p->last_crc, &g, sum_from);
	if (sum_from < len)
		p->last_crc = store_crc32c_combine(p->last_crc, sum, len - sum_from);
	put_le32(hdr + 32, p->last_crc);
	if ((err = st_idx_push(s, p, p->end_off, max_ts, slot, pos, count)))
		return err;
	/* No room: wait for the partition's write in flight (one at a time),
	 * then hand the tail over and start a fresh one; a frame too big for
	 * even an empty tail goes out with the tail's contents from a scratch
	 * buffer of its own (st_write_big). Both asynchronous when the
	 * platform can. */
	p->last_append = ++s->append_ctr;
	if (p->tail_used + FRAME_HDR + len > TAIL_CAP - STORE_BLOCK) {
		if ((err = st_part_wait(s, p)))
			goto undo;
		if (FRAME_HDR + len <= TAIL_CAP - 2 * STORE_BLOCK && (err = st_write_out(s, p)))
			goto undo;
	}
	if (p->tail_used + FRAME_HDR + len <= TAIL_CAP - STORE_BLOCK) {
		if ((err = st_tail_own(s, p)))
			goto undo;
		st_copy_frame(s, p->tail + p->tail_used, hdr, &g);
		p->tail_used += FRAME_HDR + len;
		st_set_dirty(s, p, true);
	} else if ((err = st_write_big(s, p, hdr, &g, count))) {
		goto undo;
	}
	s->segs[slot].end_pos = pos + FRAME_HDR + len;
	p->end_off += count;
	if (!p->dirty && !p->wslot) { /* written synchronously (append_big) */
		p->hwm = p->end_off;
		p->wdone_ctr = p->last_append;
	}
	return STORE_OK;
undo:
	/* Nothing became visible; the chain CRC must not include the frame. */
	p->nidx--;
	p->last_crc = old_crc;
	st_log(s, "store: append failed", "", err);
	return err;
}
