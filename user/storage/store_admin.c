/* Topic administration on the log store: deleting a topic (its segments
 * go back to the free pool), adding partitions, and moving a partition's
 * log start (DeleteRecords). Deletion is crash-safe in three steps, each
 * durable before the next (docs/log-format.md, Deleting a topic). */
#include <lib/string.h>

#include "store_int.h"

void st_part_free(struct store *s, struct store_part *p)
{
	st_part_quiesce(s, p);
	st_set_dirty(s, p, false); /* its data goes with it */
	st_free(s, p->segs);
	st_free(s, p->idx);
	st_free(s, p->tail);
	memset(p, 0, sizeof(*p));
}

/* Steps 2 and 3 of a deletion: wipe the header block of every segment of
 * topic id and flush, so that no recovery can ever chain them again (the
 * slot may be reused by a new topic), then free the slot in the topic
 * table. On failure the topic stays "deleting" and the next open (or
 * store_finish) completes it. */
static int topic_wipe(struct store *s, uint32_t id)
{
	struct store_topic *t = &s->topics[id];

	for (uint32_t k = 0; k < t->nparts; k++) /* no write of its own in flight */
		st_part_quiesce(s, &t->parts[k]);
	for (uint32_t i = 0; i < s->nsegs; i++) {
		if (!s->segs[i].used || s->segs[i].topic != id)
			continue;
		memset(s->sb, 0, STORE_BLOCK);
		if (s->pl.write(s->pl.ctx, seg_blk(s, i), s->sb, 1))
			return STORE_EIO;
	}
	if (s->pl.flush(s->pl.ctx))
		return STORE_EIO;
	for (uint32_t i = 0; i < s->nsegs; i++)
		if (s->segs[i].used && s->segs[i].topic == id)
			s->segs[i].used = false;
	for (uint32_t k = 0; k < t->nparts; k++)
		st_part_free(s, &t->parts[k]);
	st_free(s, t->parts);
	t->parts = NULL;
	t->len = t->nparts = 0;
	t->deleting = false;
	st_log(s, "store: deleted topic", "", id);
	return st_sb_write(s);
}

/* Complete deletions a crash (or an I/O error) interrupted. */
int st_finish_deletes(struct store *s)
{
	for (uint32_t i = 0; i < s->ntopics; i++)
		if (s->topics[i].deleting) {
			int err = topic_wipe(s, i);
			if (err)
				return err;
		}
	return STORE_OK;
}

int store_topic_delete(struct store *s, uint32_t id)
{
	struct store_topic *t;

	if (id >= s->ntopics || !s->topics[id].len || s->topics[id].deleting)
		return STORE_EINVAL;
	t = &s->topics[id];
	/* Step 1: the topic is marked deleting in the superblock. From here
	 * on it is gone for clients, and a crash completes the deletion at
	 * the next open instead of leaving half a topic. */
	t->deleting = true;
	if (st_sb_write(s)) {
		t->deleting = false;
		return STORE_EIO;
	}
	return topic_wipe(s, id);
}

int store_topic_add_parts(struct store *s, uint32_t id, uint32_t count)
{
	struct store_topic *t;
	struct store_part *np, *old;
	uint32_t oldn;

	if (id >= s->ntopics || !s->topics[id].len || s->topics[id].deleting)
		return STORE_EINVAL;
	t = &s->topics[id];
	if (count <= t->nparts || count > STORE_MAX_PARTS)
		return STORE_EINVAL;
	np = st_alloc(s, count * sizeof(*np));
	if (!np)
		return STORE_ENOMEM;
	memcpy(np, t->parts, t->nparts * sizeof(*np));
	for (uint32_t k = t->nparts; k < count; k++) {
		np[k].topic = id;
		np[k].part = k;
	}
	old = t->parts;
	oldn = t->nparts;
	t->parts = np;
	t->nparts = count;
	if (st_sb_write(s)) {
		t->parts = old;
		t->nparts = oldn;
		st_free(s, np);
		return STORE_EIO;
	}
	st_free(s, old);
	return STORE_OK;
}

uint64_t store_part_bytes(const struct store *s, const struct store_part *p)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < p->nsegs; i++)
		n += s->segs[p->segs[i]].end_pos - STORE_BLOCK;
	return n;
}

bool store_part_oldest(const struct store *s, const struct store_part *p, uint64_t *bytes,
                       int64_t *max_ts)
{
	uint32_t slot;

	if (p->nsegs < 2)
		return false;
	slot = p->segs[0];
	*bytes = s->segs[slot].end_pos - STORE_BLOCK;
	*max_ts = -1;
	for (uint32_t i = 0; i < p->nidx && p->idx[i].seg == slot; i++)
		if (p->idx[i].max_ts > *max_ts)
			*max_ts = p->idx[i].max_ts;
	return true;
}

int store_part_drop_oldest(struct store *s, struct store_part *p)
{
	if (p->nsegs < 2)
		return STORE_EINVAL;
	return store_part_set_start(s, p, s->segs[p->segs[1]].base);
}

void store_part_pin(struct store_part *p)
{
	p->pinned = true;
}

uint32_t store_part_nsegs(const struct store_part *p)
{
	return p->nsegs;
}

uint64_t store_part_first_base(const struct store *s, const struct store_part *p)
{
	return p->nsegs ? s->segs[p->segs[0]].base : p->start_off;
}
