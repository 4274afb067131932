/* OffsetCommit v2-v7 and OffsetFetch v1-v5. Committed offsets are kept in
 * memory per group (not persisted; see docs/broker.md). */
#include <string.h>

#include "group.h"

#define KG_MAX_OFFS 65536u

/* Slot for (topic, part) in g, created when missing; NULL when full. */
static struct koff *off_slot(struct broker *b, struct kgroup *g, uint32_t t,
			     uint32_t p, bool create)
{
	for (uint32_t i = 0; i < g->noffs; i++)
		if (g->offs[i].topic == t && g->offs[i].part == p)
			return &g->offs[i];
	if (!create || g->noffs >= KG_MAX_OFFS)
		return NULL;
	if (g->noffs == g->offs_cap) {
		uint32_t nc = g->offs_cap ? g->offs_cap * 2 : 16;
		struct koff *n = b_alloc(b, nc * sizeof(*n));
		if (!n)
			return NULL;
		if (g->offs)
			memcpy(n, g->offs, g->noffs * sizeof(*n));
		b_free(b, g->offs);
		g->offs = n;
		g->offs_cap = nc;
	}
	g->offs[g->noffs] = (struct koff){ t, p, -1 };
	return &g->offs[g->noffs++];
}

/* Decode-only walk over the commit's topics; false when malformed. */
static bool commit_decode(struct kr r, int16_t ver)
{
	int32_t nt = kr_array(&r, 6, false);
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
		}
	}
	return !r.bad;
}

/* Group-level check: standalone commits (generation -1, no member) are
 * accepted; otherwise the member and generation must be current. As in
 * Kafka, members may still commit for the old generation while the group
 * prepares a rebalance (eager revoke commits), not while it completes. */
static int16_t commit_check(struct kgroup *g, const struct kstr *mid,
			    int32_t gen)
{
	int16_t err;

	if (gen == -1 && mid->len <= 0)
		return g ? KERR_NONE : KERR_COORD_NA;
	err = (int16_t)group_check_member(g, mid, gen);
	if (!err && g->state == G_COMPLETING)
		return KERR_REBALANCING;
	return err;
}

int api_offset_commit(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid, inst, name;
	struct kgroup *g;
	struct kresp *r;
	int16_t gerr;
	int32_t gen;

	kr_str(&q->r, &gid);
	gen = kr_i32(&q->r);
	kr_str(&q->r, &mid);
	if (q->ver >= 7)
		kr_str(&q->r, &inst);
	if (q->ver <= 4)
		(void)kr_i64(&q->r);
	if (q->r.bad || !commit_decode(q->r, q->ver) || !(r = resp_new(b, c, q->corr)))
		return -1;
	g = group_find(b, &gid, gen == -1 && mid.len <= 0);
	gerr = commit_check(g, &mid, gen);
	if (q->ver >= 3)
		kw_i32(&r->w, 0);
	int32_t nt = kr_array(&q->r, 6, false);
	kw_i32(&r->w, nt);
	for (int32_t t = 0; t < nt; t++) {
		kr_str(&q->r, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(&q->r, 14, false);
		kw_str(&r->w, name.p, name.len);
		kw_i32(&r->w, np);
		for (int32_t k = 0; k < np; k++) {
			int32_t idx = kr_i32(&q->r);
			int64_t off = kr_i64(&q->r);
			if (q->ver >= 6)
				(void)kr_i32(&q->r);
			kr_str(&q->r, &inst);
			int16_t err = gerr;
			struct koff *o = NULL;
			if (!err && (tid < 0 || !store_part_get(b->st, (uint32_t)tid, (uint32_t)idx)))
				err = KERR_UNKNOWN_TP;
			if (!err && !(o = off_slot(b, g, (uint32_t)tid, (uint32_t)idx, true)))
				err = KERR_COORD_NA;
			if (o)
				o->off = off;
			kw_i32(&r->w, idx);
			kw_i16(&r->w, err);
		}
	}
	resp_finish(r);
	resp_ready(b, r);
	return 0;
}

/* One OffsetFetch partition entry. */
static void ofetch_part(struct kresp *r, int16_t ver, int64_t off, int32_t idx,
			int16_t err)
{
	kw_i32(&r->w, idx);
	kw_i64(&r->w, off);
	if (ver >= 5)
		kw_i32(&r->w, -1);
	kw_str(&r->w, "", 0);
	kw_i16(&r->w, err);
}

/* All committed offsets of g (topics = null), grouped by topic. */
static void ofetch_all(struct broker *b, struct kresp *r, struct kgroup *g,
		       int16_t ver)
{
	uint32_t nt = 0, ntop = store_topic_count(b->st), len;
	uint32_t at = r->w.len;

	kw_i32(&r->w, 0);
	for (uint32_t t = 0; g && t < ntop; t++) {
		uint32_t np = 0, npat;
		for (uint32_t i = 0; i < g->noffs; i++)
			np += g->offs[i].topic == t;
		if (!np)
			continue;
		const char *name = store_topic_name(b->st, t, &len);
		kw_str(&r->w, name, (int32_t)len);
		npat = r->w.len;
		kw_i32(&r->w, (int32_t)np);
		for (uint32_t i = 0; i < g->noffs; i++)
			if (g->offs[i].topic == t)
				ofetch_part(r, ver, g->offs[i].off,
					    (int32_t)g->offs[i].part, 0);
		(void)npat;
		nt++;
	}
	kw_patch32(&r->w, at, (int32_t)nt);
}

int api_offset_fetch(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, name;
	struct kr scan;
	struct kresp *r;
	struct kgroup *g;

	kr_str(&q->r, &gid);
	scan = q->r;
	int32_t nt = kr_array(&scan, 6, q->ver >= 2);
	for (int32_t t = 0; t < nt && !scan.bad; t++) {
		kr_str(&scan, &name);
		int32_t np = kr_array(&scan, 4, false);
		for (int32_t k = 0; k < np; k++)
			(void)kr_i32(&scan);
	}
	if (q->r.bad || scan.bad || !(r = resp_new(b, c, q->corr)))
		return -1;
	g = group_find(b, &gid, false);
	if (q->ver >= 3)
		kw_i32(&r->w, 0);
	nt = kr_array(&q->r, 6, q->ver >= 2);
	if (nt < 0)
		ofetch_all(b, r, g, q->ver);
	else
		kw_i32(&r->w, nt);
	for (int32_t t = 0; t < nt; t++) {
		kr_str(&q->r, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(&q->r, 4, false);
		kw_str(&r->w, name.p, name.len);
		kw_i32(&r->w, np);
		for (int32_t k = 0; k < np; k++) {
			int32_t idx = kr_i32(&q->r);
			struct koff *o = g && tid >= 0 ?
				off_slot(b, g, (uint32_t)tid, (uint32_t)idx, false) : NULL;
			ofetch_part(r, q->ver, o ? o->off : -1, idx,
				    tid < 0 ? (int16_t)-tid : 0);
		}
	}
	if (q->ver >= 2)
		kw_i16(&r->w, 0);
	resp_finish(r);
	resp_ready(b, r);
	return 0;
}
