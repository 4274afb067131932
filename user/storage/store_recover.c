/* Recovery at open: find every segment from its header block, chain each
 * partition's segments by offset, scan frames to the last valid one and
 * cut off a torn or corrupt tail. Rebuilds the in-memory offset index. */
#include <lib/string.h>

#include "crc32c.h"
#include "store_int.h"

#define SCAN_BUF (2u * 1024u * 1024u)

/* A sliding window over one segment's bytes. */
struct scan {
	uint8_t *buf;
	uint32_t slot, wstart, wlen, seg_bytes;
};

/* Make segment bytes [pos, pos+n) available in the window. */
static const uint8_t *scan_get(struct store *s, struct scan *sc, uint32_t pos, uint32_t n)
{
	if ((uint64_t)pos + n > sc->seg_bytes)
		return NULL;
	if (pos < sc->wstart || pos + n > sc->wstart + sc->wlen) {
		sc->wstart = pos / STORE_BLOCK * STORE_BLOCK;
		sc->wlen = sc->seg_bytes - sc->wstart;
		if (sc->wlen > SCAN_BUF)
			sc->wlen = SCAN_BUF;
		if (s->pl.read(s->pl.ctx, seg_blk(s, sc->slot) + sc->wstart / STORE_BLOCK, sc->buf,
		               sc->wlen / STORE_BLOCK))
			return NULL;
		if (pos + n > sc->wstart + sc->wlen)
			return NULL;
	}
	return sc->buf + (pos - sc->wstart);
}

/* Validate the header block of slot; fills the segment table entry. */
static void seg_load_hdr(struct store *s, uint32_t slot)
{
	uint8_t *b = s->sb;
	struct store_seg *g = &s->segs[slot];
	uint32_t crc, flags;

	g->used = false;
	if (s->pl.read(s->pl.ctx, seg_blk(s, slot), b, 1))
		return;
	crc = get_le32(b + 8);
	put_le32(b + 8, 0);
	flags = get_le32(b + 20);
	if (get_le64(b) != SEG_MAGIC || get_le64(b + 40) != s->store_id ||
	    (flags & ~SEG_F_COMPACTED) || store_crc32c(0, b, SEG_HDR_CRC_LEN) != crc ||
	    !st_part_any(s, get_le32(b + 12), get_le32(b + 16)))
		return;
	put_le32(b + 8, crc);
	if (flags && store_crc32c(0, b, SEG_HDR_CRC2) != get_le32(b + SEG_HDR_CRC2))
		return;
	*g = (struct store_seg){.used = true,
	                        .topic = get_le32(b + 12),
	                        .part = get_le32(b + 16),
	                        .seq = get_le64(b + 24),
	                        .base = get_le64(b + 32),
	                        .end_pos = STORE_BLOCK,
	                        .seed = crc,
	                        .key = get_le64(b + 24),
	                        .key_last = get_le64(b + 24)};
	if (flags) {
		g->compacted = true;
		g->key = get_le64(b + 64);
		g->key_last = get_le64(b + 72);
		g->end_off = get_le64(b + 80);
		g->end_pos = get_le32(b + 88);
		/* A compacted segment replaces older segments only, covers a
		 * non-empty range and declares an end inside itself. */
		if (g->key > g->key_last || g->key_last >= g->seq || g->end_off < g->base ||
		    g->end_pos < STORE_BLOCK || g->end_pos > s->seg_blocks * STORE_BLOCK) {
			g->used = false;
			return;
		}
	}
	if (g->seq >= s->next_seq)
		s->next_seq = g->seq + 1;
}

/* Check the frame at pos; returns its total size or 0 when it is not the
 * valid continuation of the chain (torn, corrupt, stale or end). */
static uint32_t frame_check(struct store *s, struct scan *sc, struct store_part *p, uint32_t pos,
                            uint32_t *crc)
{
	const struct store_seg *g = &s->segs[sc->slot];
	const uint8_t *h = scan_get(s, sc, pos, FRAME_HDR);
	uint32_t len, c;
	uint64_t base;

	if (!h || get_le32(h) != FRAME_MAGIC)
		return 0;
	len = get_le32(h + 4);
	base = get_le64(h + 8);
	if (len == 0 || len > STORE_MAX_PAYLOAD || get_le32(h + 24) == 0 ||
	    get_le32(h + 28) != (uint32_t)g->seq)
		return 0;
	/* Frames follow each other without gaps, except in a compacted
	 * segment: there offsets only increase, inside its declared end. */
	if (g->compacted ? base < p->end_off || base + get_le32(h + 24) > g->end_off ||
	                       (uint64_t)pos + FRAME_HDR + len > g->end_pos
	                 : base != p->end_off)
		return 0;
	h = scan_get(s, sc, pos, FRAME_HDR + len);
	if (!h)
		return 0;
	c = store_crc32c(p->last_crc, h, 32);
	c = store_crc32c(c, h + FRAME_HDR, len);
	if (c != get_le32(h + 32))
		return 0;
	*crc = c;
	return FRAME_HDR + len;
}

/* Scan one segment of p from its first frame; false if it stopped on
 * something other than clean zeroes (a cut tail). */
static int scan_seg(struct store *s, struct scan *sc, struct store_part *p, bool *cut)
{
	uint32_t pos = STORE_BLOCK, n, crc = 0;
	const uint8_t *h;
	int err;

	sc->wstart = sc->wlen = 0;
	p->last_crc = s->segs[sc->slot].seed;
	while ((n = frame_check(s, sc, p, pos, &crc))) {
		h = scan_get(s, sc, pos, FRAME_HDR);
		err = st_idx_push(s, p, get_le64(h + 8), (int64_t)get_le64(h + 16), sc->slot, pos,
		                  get_le32(h + 24));
		if (err)
			return err;
		p->end_off = get_le64(h + 8) + get_le32(h + 24);
		p->last_crc = crc;
		pos += n;
		s->st.recovered_batches++;
	}
	if (s->segs[sc->slot].compacted) {
		/* Written whole and flushed before its header: anything but
		 * its declared end is damage. */
		*cut = pos != s->segs[sc->slot].end_pos;
		if (!*cut)
			p->end_off = s->segs[sc->slot].end_off;
		s->segs[sc->slot].end_pos = pos;
		return STORE_OK;
	}
	s->segs[sc->slot].end_pos = pos;
	h = scan_get(s, sc, pos, 4);
	*cut = h && get_le32(h) != 0;
	return STORE_OK;
}

/* Order p's segments by key (allocation order = offset order). */
static void sort_segs(struct store *s, struct store_part *p)
{
	for (uint32_t i = 1; i < p->nsegs; i++)
		for (uint32_t j = i; j > 0 && s->segs[p->segs[j - 1]].key > s->segs[p->segs[j]].key;
		     j--) {
			uint32_t t = p->segs[j];
			p->segs[j] = p->segs[j - 1];
			p->segs[j - 1] = t;
		}
}

/* Forget segments [from, nsegs) of p and wipe their headers so a later
 * recovery can never chain them again. */
static int drop_segs(struct store *s, struct store_part *p, uint32_t from)
{
	for (uint32_t i = from; i < p->nsegs; i++) {
		memset(s->sb, 0, STORE_BLOCK);
		if (s->pl.write(s->pl.ctx, seg_blk(s, p->segs[i]), s->sb, 1))
			return STORE_EIO;
		s->segs[p->segs[i]].used = false;
		st_log(s, "store: dropped unchained segment of partition", "", (long long)p->part);
	}
	p->nsegs = from;
	return s->pl.flush(s->pl.ctx) ? STORE_EIO : STORE_OK;
}

/* Load the partial last block of the active segment into the tail buffer. */
static int load_tail(struct store *s, struct scan *sc, struct store_part *p)
{
	uint32_t end = s->segs[sc->slot].end_pos;
	const uint8_t *b;

	if (!p->tail && !(p->tail = st_alloc(s, TAIL_CAP)))
		return STORE_ENOMEM;
	p->tail_base = end / STORE_BLOCK * STORE_BLOCK;
	p->tail_used = end - p->tail_base;
	p->tail_clean = 0;
	b = scan_get(s, sc, p->tail_base, p->tail_used);
	if (!b)
		return STORE_EIO;
	memcpy(p->tail, b, p->tail_used);
	return STORE_OK;
}

/* True when a compacted segment of p replaced the segment in slot. */
static bool superseded(const struct store *s, const struct store_part *p, uint32_t slot)
{
	const struct store_seg *g = &s->segs[slot];

	for (uint32_t i = 0; i < p->nsegs; i++) {
		const struct store_seg *c = &s->segs[p->segs[i]];
		if (c->compacted && c->seq > g->seq && g->key >= c->key && g->key <= c->key_last)
			return true;
	}
	return false;
}

/* Forget the segments a compaction switch replaced (its new segment's
 * header was durable, the old headers may not have been wiped yet). */
static int drop_superseded(struct store *s, struct store_part *p)
{
	uint32_t keep = 0;
	bool wiped = false;

	/* Decide first (superseded() reads the whole list), then drop. */
	for (uint32_t i = 0; i < p->nsegs; i++)
		if (superseded(s, p, p->segs[i]))
			s->segs[p->segs[i]].used = false;
	for (uint32_t i = 0; i < p->nsegs; i++) {
		uint32_t slot = p->segs[i];
		if (s->segs[slot].used) {
			p->segs[keep++] = slot;
			continue;
		}
		memset(s->sb, 0, STORE_BLOCK);
		if (s->pl.write(s->pl.ctx, seg_blk(s, slot), s->sb, 1))
			return STORE_EIO;
		st_log(s, "store: dropped segment replaced by compaction, partition", "",
		       (long long)p->part);
		wiped = true;
	}
	p->nsegs = keep;
	return wiped && s->pl.flush(s->pl.ctx) ? STORE_EIO : STORE_OK;
}

/* Rebuild one partition from its segments. */
static int recover_part(struct store *s, struct scan *sc, struct store_part *p)
{
	bool cut = false;
	int err;

	if ((err = drop_superseded(s, p)))
		return err;
	sort_segs(s, p);
	for (uint32_t i = 0; i < p->nsegs; i++) {
		struct store_seg *g = &s->segs[p->segs[i]];
		if (i == 0)
			p->start_off = p->end_off = g->base;
		if (g->base != p->end_off || (i > 0 && cut))
			return drop_segs(s, p, i);
		sc->slot = p->segs[i];
		if ((err = scan_seg(s, sc, p, &cut)))
			return err;
		if (cut) {
			s->st.truncated_bytes++;
			st_log(s, "store: cut torn/corrupt tail at offset", "",
			       (long long)p->end_off);
		}
	}
	p->hwm = p->end_off;
	if (!p->nsegs)
		return STORE_OK;
	sc->slot = p->segs[p->nsegs - 1];
	return load_tail(s, sc, p);
}

int store_recover(struct store *s)
{
	struct scan sc = {.seg_bytes = s->seg_blocks * STORE_BLOCK};
	int err = STORE_OK;

	for (uint32_t i = 0; i < s->nsegs; i++) {
		seg_load_hdr(s, i);
		if (s->segs[i].used &&
		    (err =
		         st_part_push_seg(s, st_part_any(s, s->segs[i].topic, s->segs[i].part), i)))
			return err;
	}
	sc.buf = s->pl.alloc(s->pl.ctx, SCAN_BUF); /* no need to zero */
	if (!sc.buf)
		return STORE_ENOMEM;
	for (uint32_t t = 0; t < s->ntopics && !err; t++)
		for (uint32_t k = 0; k < s->topics[t].nparts && !err; k++)
			err = recover_part(s, &sc, &s->topics[t].parts[k]);
	st_free(s, sc.buf);
	return err;
}
