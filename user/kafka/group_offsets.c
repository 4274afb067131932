/* OffsetCommit v2-v8 and OffsetFetch v1-v7. Committed offsets live in
 * memory per group and are logged to the internal partition
 * __hallows_offsets (one record per commit request), replayed at start;
 * a commit is answered once its record is durable. */
#include <lib/string.h>

#include "group.h"

#define KG_MAX_OFFS 65536u

/* Slot for (topic, part) in g, created when missing; NULL when full. */
static struct koff *off_slot(struct broker *b, struct kgroup *g, uint32_t t, uint32_t p,
                             bool create)
{
	for (uint32_t i = 0; i < g->noffs; i++)
		if (g->offs[i].topic == t && g->offs[i].part == p)
			return &g->offs[i];
	if (!create || g->noffs >= KG_MAX_OFFS)
		return NULL;
	if (g->noffs == g->offs_cap) {
		uint32_t nc = g->offs_cap ? g->offs_cap * 2 : 16;
		struct koff *n = broker_alloc(b, nc * sizeof(*n));
		if (!n)
			return NULL;
		if (g->offs)
			memcpy(n, g->offs, g->noffs * sizeof(*n));
		broker_free(b, g->offs);
		g->offs = n;
		g->offs_cap = nc;
	}
	g->offs[g->noffs] = (struct koff){t, p, -1, NULL, 0};
	return &g->offs[g->noffs++];
}

/* Store offset and a copy of the commit metadata in o; false (o left as
 * it was) when memory for the metadata is missing. */
static bool off_set(struct broker *b, struct koff *o, int64_t off, const struct kstr *meta)
{
	char *m = NULL;
	uint32_t n = meta->len > 0 ? (uint32_t)meta->len : 0;

	if (n && !(m = broker_alloc(b, n)))
		return false;
	if (n)
		memcpy(m, meta->p, n);
	broker_free(b, o->meta);
	o->meta = m;
	o->meta_len = n;
	o->off = off;
	return true;
}

/* Free every committed offset of g and its metadata. */
void group_offs_free(struct broker *b, struct kgroup *g)
{
	for (uint32_t i = 0; i < g->noffs; i++)
		broker_free(b, g->offs[i].meta);
	broker_free(b, g->offs);
	g->offs = NULL;
	g->noffs = g->offs_cap = 0;
}

/* Decode-only walk over the commit's topics; false when malformed. */
static bool commit_decode(struct kr r, int16_t ver)
{
	int32_t nt = kr_array(&r, r.flex ? 3 : 6, false);
	struct kstr s;

	for (int32_t t = 0; t < nt && !r.bad; t++) {
		kr_str(&r, &s);
		int32_t np = kr_array(&r, 14, false);
		for (int32_t k = 0; k < np && !r.bad; k++) {
			(void)kr_i32(&r);
			(void)kr_i64(&r);
			if (ver >= 6)
				(void)kr_i32(&r);
			kr_str(&r, &s);
			kr_tags(&r);
		}
		kr_tags(&r);
	}
	kr_tags(&r);
	return !r.bad;
}

/* Group-level check: standalone commits (generation -1, no member) are
 * accepted; otherwise the member and generation must be current. As in
 * Kafka, members may still commit for the old generation while the group
 * prepares a rebalance (eager revoke commits), not while it completes. */
static int16_t commit_check(struct kgroup *g, const struct kstr *mid, int32_t gen)
{
	int16_t err;

	if (gen == -1 && mid->len <= 0)
		return g ? KERR_NONE : KERR_COORD_NA;
	err = (int16_t)group_check_member(g, mid, gen);
	if (!err && g->state == G_COMPLETING)
		return KERR_REBALANCING;
	return err;
}

/* Commit log record: "HOC2", group STRING, count int32, then count
 * entries of topic id int32, partition int32, offset int64, metadata
 * STRING (OFFLOG_MAGIC in broker_int.h; transactions write them too).
 * "HOC1" records (no metadata) from earlier versions are still replayed. */

/* Start a commit log record for group g in w. */
static void offlog_begin(struct broker *b, struct kw *w, const struct kgroup *g)
{
	kw_init(w, &b->al);
	kw_i32(w, OFFLOG_MAGIC);
	kw_str(w, g->id, (int32_t)g->idlen);
	kw_i32(w, 0);
}

/* Append the record if it holds entries; true when it was stored. */
static bool offlog_end(struct broker *b, struct kw *w, int32_t n)
{
	struct store_part *p = b->offsets_part;
	bool ok = false;

	kw_patch32(w, 6 + (uint32_t)get_be16(w->buf + 4), n);
	if (n && p && !w->oom) {
		ok = store_append(b->st, p, w->buf, w->len, 1, (int64_t)b->pl.now_ms(b->pl.ctx)) ==
		     STORE_OK;
		if (!ok)
			broker_log(b, "group: could not log offset commit", "", n);
	}
	kw_free(w);
	return ok;
}

struct commit_ctx {
	int16_t ver, gerr;
	struct kgroup *g;
	struct kw *log;
};

/* One partition of a commit: validate, apply, log, answer. */
static int32_t commit_part(struct broker *b, struct kr *rd, struct kresp *r, int tid, void *ctx)
{
	const struct commit_ctx *cc = ctx;
	struct kgroup *g = cc->g;
	struct kw *log = cc->log;
	struct kstr meta;
	int32_t idx = kr_i32(rd);
	int64_t off = kr_i64(rd);
	int16_t err = cc->gerr;
	struct koff *o = NULL;

	if (cc->ver >= 6)
		(void)kr_i32(rd);
	kr_str(rd, &meta);
	kr_tags(rd);
	if (!err && (tid < 0 || !store_part_get(b->st, (uint32_t)tid, (uint32_t)idx)))
		err = KERR_UNKNOWN_TP;
	if (!err && meta.len > (int32_t)KG_META_MAX)
		err = KERR_META_TOO_LARGE;
	if (!err && (!(o = off_slot(b, g, (uint32_t)tid, (uint32_t)idx, true)) ||
	             !off_set(b, o, off, &meta))) {
		o = NULL;
		err = KERR_COORD_NA;
	}
	if (o) {
		kw_i32(log, tid);
		kw_i32(log, idx);
		kw_i64(log, off);
		kw_str(log, o->meta, (int32_t)o->meta_len);
	}
	kw_i32(&r->w, idx);
	kw_i16(&r->w, err);
	kw_tags(&r->w);
	return o ? 1 : 0;
}

int api_offset_commit(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid, inst = {NULL, -1};
	struct kgroup *g;
	struct kresp *r;
	struct kw log;
	int16_t gerr;
	int32_t gen, logged = 0;

	kr_str(&q->r, &gid);
	gen = kr_i32(&q->r);
	kr_str(&q->r, &mid);
	if (q->ver >= 7)
		kr_str(&q->r, &inst);
	if (q->ver <= 4)
		(void)kr_i64(&q->r);
	if (q->r.bad || !commit_decode(q->r, q->ver) || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	g = group_find(b, &gid, gen == -1 && mid.len <= 0);
	gerr = commit_check(g, &mid, gen);
	if (g && group_check_instance(g, &mid, &inst))
		gerr = KERR_FENCED_INSTANCE;
	if (q->ver >= 3)
		kw_i32(&r->w, 0);
	if (g)
		offlog_begin(b, &log, g);
	else
		kw_init(&log, &b->al);
	struct commit_ctx cc = {q->ver, gerr, g, &log};
	logged = api_each_topic_part(b, &q->r, r, q->r.flex ? 3 : 6, 14, commit_part, &cc);
	kw_tags(&r->w);
	broker_resp_finish(r);
	if (g && offlog_end(b, &log, logged)) {
		/* answered once the commit record is durable, like acks=-1 */
		r->state = R_WAIT_FLUSH;
		r->flush_gen = store_flush_next(b->st);
		b->wait_flush++;
		return 0;
	}
	if (!g)
		kw_free(&log);
	broker_resp_ready(b, r);
	return 0;
}

/* Apply one commit log record (replay); malformed records, and entries
 * for a topic id created again later in the log, are skipped. */
void group_offlog_apply(struct broker *b, const uint8_t *p, uint32_t len, uint64_t rec_off)
{
	struct kr r;
	struct kstr gid, meta = {NULL, 0};
	struct kgroup *g;
	int32_t magic;

	kr_init(&r, p, len);
	magic = kr_i32(&r);
	if ((magic != OFFLOG_MAGIC && magic != OFFLOG_MAGIC_V1) || !kr_str(&r, &gid) ||
	    !(g = group_find(b, &gid, true)))
		return;
	int32_t n = kr_array(&r, magic == OFFLOG_MAGIC ? 18 : 16, false);
	for (int32_t i = 0; i < n && !r.bad; i++) {
		int32_t t = kr_i32(&r), k = kr_i32(&r);
		int64_t off = kr_i64(&r);
		struct koff *o;
		if (magic == OFFLOG_MAGIC)
			kr_str(&r, &meta);
		if (!r.bad && t >= 0 && !meta_stale(b, t, rec_off) &&
		    store_part_get(b->st, (uint32_t)t, (uint32_t)k) &&
		    (o = off_slot(b, g, (uint32_t)t, (uint32_t)k, true)) &&
		    !off_set(b, o, off, &meta))
			broker_log(b, "group: no memory replaying a commit", "", off);
	}
}

/* One OffsetFetch partition entry (o NULL: nothing committed). */
static void ofetch_part(struct kresp *r, int16_t ver, const struct koff *o, int32_t idx,
                        int16_t err)
{
	kw_i32(&r->w, idx);
	kw_i64(&r->w, o ? o->off : -1);
	if (ver >= 5)
		kw_i32(&r->w, -1);
	kw_str(&r->w, o ? o->meta : "", o ? (int32_t)o->meta_len : 0);
	kw_i16(&r->w, err);
	kw_tags(&r->w);
}

/* All committed offsets of g (topics = null), grouped by topic. */
static void ofetch_all(struct broker *b, struct kresp *r, struct kgroup *g, int16_t ver)
{
	uint32_t nt = 0, ntop = store_topic_count(b->st), len;

	for (uint32_t t = 0; g && t < ntop; t++)
		for (uint32_t i = 0; i < g->noffs; i++)
			if (g->offs[i].topic == t) {
				nt++;
				break;
			}
	kw_array(&r->w, (int32_t)nt);
	for (uint32_t t = 0; g && t < ntop; t++) {
		uint32_t np = 0;
		for (uint32_t i = 0; i < g->noffs; i++)
			np += g->offs[i].topic == t;
		if (!np)
			continue;
		const char *name = store_topic_name(b->st, t, &len);
		kw_str(&r->w, name, (int32_t)len);
		kw_array(&r->w, (int32_t)np);
		for (uint32_t i = 0; i < g->noffs; i++)
			if (g->offs[i].topic == t)
				ofetch_part(r, ver, &g->offs[i], (int32_t)g->offs[i].part, 0);
		kw_tags(&r->w);
	}
}

int api_offset_fetch(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, name;
	struct kr scan;
	struct kresp *r;
	struct kgroup *g;

	kr_str(&q->r, &gid);
	scan = q->r;
	int32_t nt = kr_array(&scan, scan.flex ? 3 : 6, q->ver >= 2);
	for (int32_t t = 0; t < nt && !scan.bad; t++) {
		kr_str(&scan, &name);
		int32_t np = kr_array(&scan, 4, false);
		for (int32_t k = 0; k < np; k++)
			(void)kr_i32(&scan);
		kr_tags(&scan);
	}
	if (q->ver >= 7)
		(void)kr_i8(&scan); /* require stable: nothing is ever pending */
	kr_tags(&scan);
	if (q->r.bad || scan.bad || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	g = group_find(b, &gid, false);
	if (q->ver >= 3)
		kw_i32(&r->w, 0);
	nt = kr_array(&q->r, q->r.flex ? 3 : 6, q->ver >= 2);
	if (nt < 0)
		ofetch_all(b, r, g, q->ver);
	else
		kw_array(&r->w, nt);
	for (int32_t t = 0; t < nt; t++) {
		kr_str(&q->r, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(&q->r, 4, false);
		kw_str(&r->w, name.p, name.len);
		kw_array(&r->w, np);
		for (int32_t k = 0; k < np; k++) {
			int32_t idx = kr_i32(&q->r);
			struct koff *o = g && tid >= 0
			                     ? off_slot(b, g, (uint32_t)tid, (uint32_t)idx, false)
			                     : NULL;
			ofetch_part(r, q->ver, o, idx, tid < 0 ? (int16_t)-tid : 0);
		}
		kr_tags(&q->r);
		kw_tags(&r->w);
	}
	if (q->ver >= 2)
		kw_i16(&r->w, 0);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* Restate every committed offset as HOC2 records of at most about
 * 512 KiB each (the metadata log snapshot); false if one was not stored. */
bool group_offlog_snapshot(struct broker *b)
{
	for (struct kgroup *g = b->groups; g; g = g->next) {
		uint32_t i = 0;
		while (i < g->noffs) {
			struct kw w;
			int32_t n = 0;
			offlog_begin(b, &w, g);
			for (; i < g->noffs && w.len < (512u << 10); i++, n++) {
				kw_i32(&w, (int32_t)g->offs[i].topic);
				kw_i32(&w, (int32_t)g->offs[i].part);
				kw_i64(&w, g->offs[i].off);
				kw_str(&w, g->offs[i].meta, (int32_t)g->offs[i].meta_len);
			}
			if (!offlog_end(b, &w, n))
				return false;
		}
	}
	return true;
}
