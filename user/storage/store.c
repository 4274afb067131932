/* Log store: superblock (two copies), topic table, segment table, open,
 * format and close. Partition data paths live in store_part.c and
 * recovery in store_recover.c. */
#include <lib/string.h>

#include "crc32c.h"
#include "store_int.h"

void *st_alloc(struct store *s, size_t n)
{
	void *p = s->pl.alloc(s->pl.ctx, n);
	if (p)
		memset(p, 0, n);
	return p;
}

void st_free(struct store *s, void *p)
{
	if (p)
		s->pl.free(s->pl.ctx, p);
}

void st_log(struct store *s, const char *what, const char *d, long long v)
{
	if (s->pl.log)
		s->pl.log(s->pl.ctx, what, d, v);
}

/* Serialise the superblock into s->sb with its CRC over the whole copy. */
static void sb_encode(struct store *s)
{
	uint8_t *b = s->sb;

	memset(b, 0, SB_BYTES);
	put_le64(b, SB_MAGIC);
	put_le32(b + 8, 1);
	put_le64(b + 16, s->gen);
	put_le64(b + 24, s->pl.dev_blocks);
	put_le32(b + 32, s->seg_blocks);
	put_le32(b + 36, s->nsegs);
	put_le32(b + 40, s->ntopics);
	put_le32(b + 44, SEG_BASE_BLK);
	put_le64(b + 48, s->store_id);
	for (uint32_t i = 0; i < s->ntopics; i++) {
		uint8_t *e = b + SB_TOPIC_OFF + i * SB_TOPIC_SIZE;
		e[0] = (uint8_t)s->topics[i].len;
		memcpy(e + 1, s->topics[i].name, s->topics[i].len);
		e[250] = s->topics[i].deleting ? 1 : 0;
		put_le32(e + 252, s->topics[i].nparts);
	}
	put_le32(b + 12, store_crc32c(0, b, SB_BYTES));
}

/* Write the next superblock generation to both copies, one after the
 * other with a flush after each: a torn or lost write can only damage the
 * copy being written while the other holds the previous or the new state. */
int st_sb_write(struct store *s)
{
	s->gen++;
	sb_encode(s);
	for (uint32_t k = 0; k < 2; k++) {
		uint32_t copy = (uint32_t)((s->gen + k) & 1);
		if (s->pl.write(s->pl.ctx, copy * SB_BLOCKS, s->sb, SB_BLOCKS) ||
		    s->pl.flush(s->pl.ctx))
			return STORE_EIO;
	}
	return STORE_OK;
}

/* Read copy i into s->sb; returns its generation or 0 when invalid. */
static uint64_t sb_read_copy(struct store *s, uint32_t i, bool *blank)
{
	uint8_t *b = s->sb;
	uint32_t crc;

	if (s->pl.read(s->pl.ctx, i * SB_BLOCKS, b, SB_BLOCKS))
		return 0;
	for (uint32_t k = 0; k < STORE_BLOCK; k++)
		if (b[k])
			*blank = false;
	crc = get_le32(b + 12);
	put_le32(b + 12, 0);
	if (get_le64(b) != SB_MAGIC || store_crc32c(0, b, SB_BYTES) != crc)
		return 0;
	put_le32(b + 12, crc);
	return get_le64(b + 16);
}

/* Validate geometry and load the topic table from s->sb. */
static int sb_decode(struct store *s)
{
	const uint8_t *b = s->sb;

	s->gen = get_le64(b + 16);
	s->seg_blocks = get_le32(b + 32);
	s->nsegs = get_le32(b + 36);
	s->ntopics = get_le32(b + 40);
	s->store_id = get_le64(b + 48);
	s->st.opened_blocks = get_le64(b + 24);
	if (get_le64(b + 24) > s->pl.dev_blocks || s->seg_blocks < 512 ||
	    get_le32(b + 44) != SEG_BASE_BLK || s->ntopics > STORE_MAX_TOPICS ||
	    SEG_BASE_BLK + (uint64_t)s->nsegs * s->seg_blocks > s->pl.dev_blocks)
		return STORE_ECORRUPT;
	for (uint32_t i = 0; i < s->ntopics; i++) {
		const uint8_t *e = b + SB_TOPIC_OFF + i * SB_TOPIC_SIZE;
		struct store_topic *t = &s->topics[i];
		t->len = e[0];
		t->nparts = get_le32(e + 252);
		t->deleting = e[250] == 1;
		if (t->len == 0 && t->nparts == 0 && e[250] == 0)
			continue; /* free slot */
		if (t->len == 0 || t->len > STORE_NAME_MAX || t->nparts == 0 ||
		    t->nparts > STORE_MAX_PARTS || e[250] > 1)
			return STORE_ECORRUPT;
		memcpy(t->name, e + 1, t->len);
	}
	return STORE_OK;
}

/* Fresh geometry: segments of 2..8 MiB, about 128 of them when possible. */
static int store_format(struct store *s)
{
	uint64_t avail = s->pl.dev_blocks - SEG_BASE_BLK;
	uint64_t sb = avail / 128;

	if (s->pl.dev_blocks < SEG_BASE_BLK + 4 * 512)
		return STORE_EINVAL;
	if (sb < 512)
		sb = 512;
	if (sb > 2048)
		sb = 2048;
	s->seg_blocks = (uint32_t)sb;
	s->nsegs = (uint32_t)(avail / sb);
	s->store_id = s->pl.now_ms(s->pl.ctx) ^ (s->pl.dev_blocks << 40) ^ 0x9e3779b97f4a7c15ull;
	s->ntopics = 0;
	s->gen = 0;
	s->st.opened_blocks = s->pl.dev_blocks;
	st_log(s, "store: formatting, segments", "", s->nsegs);
	return st_sb_write(s);
}

/* Pick the newest valid superblock copy; format a blank device if allowed. */
static int store_load_sb(struct store *s, uint32_t flags)
{
	bool blank = true;
	uint64_t g0 = sb_read_copy(s, 0, &blank);
	uint64_t g1 = sb_read_copy(s, 1, &blank);

	if (flags & STORE_FORMAT_FORCE)
		return store_format(s);
	if (!g0 && !g1) {
		if (blank && (flags & STORE_FORMAT_BLANK))
			return store_format(s);
		st_log(s, "store: no valid superblock", "", 0);
		return STORE_ECORRUPT;
	}
	if (g0 > g1 && sb_read_copy(s, 0, &blank) != g0)
		return STORE_EIO;
	if (g1 >= g0 && sb_read_copy(s, 1, &blank) != g1)
		return STORE_EIO;
	return sb_decode(s);
}

int store_open(const struct store_platform *plat, uint32_t flags, struct store **out)
{
	struct store *s = plat->alloc(plat->ctx, sizeof(*s));
	int err = STORE_ENOMEM;

	if (!s)
		return STORE_ENOMEM;
	memset(s, 0, sizeof(*s));
	s->pl = *plat;
	s->sb = st_alloc(s, SB_BYTES);
	s->topics = st_alloc(s, STORE_MAX_TOPICS * sizeof(*s->topics));
	if (!s->sb || !s->topics)
		goto fail;
	err = store_load_sb(s, flags);
	if (err)
		goto fail;
	s->segs = st_alloc(s, (size_t)s->nsegs * sizeof(*s->segs));
	err = STORE_ENOMEM;
	if (!s->segs)
		goto fail;
	for (uint32_t i = 0; i < s->ntopics; i++) {
		if (!s->topics[i].nparts)
			continue; /* free slot */
		s->topics[i].parts = st_alloc(s, s->topics[i].nparts * sizeof(struct store_part));
		if (!s->topics[i].parts)
			goto fail;
		for (uint32_t k = 0; k < s->topics[i].nparts; k++) {
			s->topics[i].parts[k].topic = i;
			s->topics[i].parts[k].part = k;
		}
	}
	err = store_recover(s);
	if (!err)
		err = st_finish_deletes(s);
	if (err)
		goto fail;
	s->ready = true;
	*out = s;
	return STORE_OK;
fail:
	store_close(s);
	return err;
}

/* Free everything; flushes pending data first when the store is healthy. */
void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->ready) {
		int e = store_flush(s); /* writes out (and waits for) everything first */
		if (e)
			st_log(s, "store: close could not flush", "", e);
	}
	for (uint32_t i = 0; s->topics && i < s->ntopics; i++) {
		for (uint32_t k = 0; s->topics[i].parts && k < s->topics[i].nparts; k++)
			st_part_free(s, &s->topics[i].parts[k]);
		st_free(s, s->topics[i].parts);
	}
	st_free(s, s->topics);
	while (s->nspare)
		st_free(s, s->spare[--s->nspare]);
	st_free(s, s->segs);
	st_free(s, s->sb);
	s->pl.free(s->pl.ctx, s);
}

void store_get_stats(const struct store *s, struct store_stats *st)
{
	*st = s->st;
	st->segments = s->nsegs;
	st->seg_blocks = s->seg_blocks;
	st->segments_used = 0;
	for (uint32_t i = 0; i < s->nsegs; i++)
		st->segments_used += s->segs[i].used;
}

uint32_t store_topic_count(const struct store *s)
{
	return s->ntopics;
}

const char *store_topic_name(const struct store *s, uint32_t id, uint32_t *len)
{
	*len = s->topics[id].len;
	return s->topics[id].name;
}

uint32_t store_topic_parts(const struct store *s, uint32_t id)
{
	return id < s->ntopics && !s->topics[id].deleting ? s->topics[id].nparts : 0;
}

int store_topic_find(const struct store *s, const char *name, uint32_t len)
{
	for (uint32_t i = 0; i < s->ntopics; i++)
		if (s->topics[i].len == len && !s->topics[i].deleting &&
		    !memcmp(s->topics[i].name, name, len))
			return (int)i;
	return -1;
}

/* The id the next store_topic_create will use (a free slot or a new one),
 * or -1 when the table is full. */
int store_topic_next_id(const struct store *s)
{
	for (uint32_t i = 0; i < s->ntopics; i++)
		if (!s->topics[i].len)
			return (int)i;
	return s->ntopics < STORE_MAX_TOPICS ? (int)s->ntopics : -1;
}

/* Add a topic and persist the topic table before it can receive data. */
int store_topic_create(struct store *s, const char *name, uint32_t len, uint32_t parts)
{
	struct store_topic *t;
	int id = store_topic_next_id(s);
	bool grow;

	if (!len || len > STORE_NAME_MAX || !parts || parts > STORE_MAX_PARTS)
		return STORE_EINVAL;
	for (uint32_t i = 0; i < s->ntopics; i++)
		if (s->topics[i].len == len && !memcmp(s->topics[i].name, name, len))
			return STORE_EINVAL; /* live, or still being deleted */
	if (id < 0)
		return STORE_EFULL;
	t = &s->topics[id];
	grow = (uint32_t)id == s->ntopics;
	t->parts = st_alloc(s, parts * sizeof(struct store_part));
	if (!t->parts)
		return STORE_ENOMEM;
	memcpy(t->name, name, len);
	t->len = len;
	t->nparts = parts;
	for (uint32_t k = 0; k < parts; k++) {
		t->parts[k].topic = (uint32_t)id;
		t->parts[k].part = k;
	}
	if (grow)
		s->ntopics++;
	if (st_sb_write(s)) {
		if (grow)
			s->ntopics--;
		st_free(s, t->parts);
		t->parts = NULL;
		t->len = t->nparts = 0;
		return STORE_EIO;
	}
	return id;
}

/* A partition of a live or deleting topic (recovery and deletion). */
struct store_part *st_part_any(struct store *s, uint32_t topic, uint32_t part)
{
	if (topic >= s->ntopics || part >= s->topics[topic].nparts)
		return NULL;
	return &s->topics[topic].parts[part];
}

struct store_part *store_part_get(struct store *s, uint32_t topic, uint32_t part)
{
	if (topic >= s->ntopics || s->topics[topic].deleting)
		return NULL;
	return st_part_any(s, topic, part);
}
