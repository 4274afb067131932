/* Group administration: ListGroups v0-4, DescribeGroups v0-5,
 * DeleteGroups v0-2 and OffsetDelete v0. Deletions are logged in the
 * metadata log (META_GROUP_DEL, META_OFFS_DEL) and answered once durable,
 * like commits. */
#include <lib/string.h>

#include "group.h"

/* Authorized-operations bits (Kafka AclOperation codes): READ 3,
 * DELETE 6, DESCRIBE 8; no ACLs here, so all of them. */
#define GROUP_OPS ((1 << 3) | (1 << 6) | (1 << 8))

static const char *const state_name[] = {
    [G_EMPTY] = "Empty",
    [G_PREPARING] = "PreparingRebalance",
    [G_COMPLETING] = "CompletingRebalance",
    [G_STABLE] = "Stable",
};

/* v4 states filter: true when g's state is listed (or no filter). */
static bool state_wanted(const struct kgroup *g, struct kr f, int32_t nf)
{
	struct kstr s;
	const char *st = state_name[g->state];

	if (nf <= 0)
		return true;
	for (int32_t i = 0; i < nf; i++) {
		kr_str(&f, &s);
		if (s.len == (int32_t)strlen(st) && !memcmp(s.p, st, (size_t)s.len))
			return true;
	}
	return false;
}

/* ListGroups v0-v4 (v3+ flexible, v4 filters by state and shows it). */
int api_list_groups(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kresp *r;
	struct kr filt = q->r;
	struct kstr s;
	uint32_t n = 0;
	int32_t nf = 0;

	if (q->ver >= 4) {
		nf = kr_admin_array(&q->r, 1);
		filt = q->r;
		for (int32_t i = 0; i < nf; i++)
			kr_str(&q->r, &s);
	}
	kr_tags(&q->r);
	/* librdkafka 2.0.2 sends ListGroups v4 with one stray 0x00 after the
	 * body's tag buffer (seen on the wire); Kafka ignores trailing bytes,
	 * so in flexible versions they are tolerated here. */
	if (q->r.bad || (!q->r.flex && q->r.off != q->r.n) || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (q->ver >= 1)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, KERR_NONE);
	for (struct kgroup *g = b->groups; g; g = g->next)
		n += state_wanted(g, filt, nf);
	kw_array(&r->w, (int32_t)n);
	for (struct kgroup *g = b->groups; g; g = g->next) {
		if (!state_wanted(g, filt, nf))
			continue;
		kw_str(&r->w, g->id, (int32_t)g->idlen);
		kw_str(&r->w, g->ptype, (int32_t)g->ptlen);
		if (q->ver >= 4)
			kw_str(&r->w, state_name[g->state], (int32_t)strlen(state_name[g->state]));
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* Metadata bytes of member m for the group's chosen protocol. */
static const struct kproto *chosen(const struct kgroup *g, const struct kmember *m)
{
	for (uint32_t k = 0; k < m->nprotos; k++)
		if (m->protos[k].nlen == g->plen && !memcmp(m->protos[k].name, g->proto, g->plen))
			return &m->protos[k];
	return NULL;
}

/* One DescribeGroups entry. As Kafka does, member metadata and
 * assignments are shown only while the group is Stable; an unknown
 * group is reported as "Dead" with no error. */
static void describe_group(struct broker *b, struct kresp *r, int16_t ver, const struct kstr *id,
                           bool ops)
{
	struct kgroup *g = group_find(b, id, false);
	bool stable = g && g->state == G_STABLE;
	const char *st = g ? state_name[g->state] : "Dead";

	kw_i16(&r->w, id->len > 0 ? KERR_NONE : KERR_GROUP_ID);
	kw_str(&r->w, id->p, id->len);
	kw_str(&r->w, st, (int32_t)strlen(st));
	kw_str(&r->w, g ? g->ptype : "", g ? (int32_t)g->ptlen : 0);
	kw_str(&r->w, g && g->state != G_EMPTY ? g->proto : "",
	       g && g->state != G_EMPTY ? (int32_t)g->plen : 0);
	kw_array(&r->w, g ? (int32_t)g->n : 0);
	for (uint32_t i = 0; g && i < g->n; i++) {
		const struct kmember *m = g->m[i];
		const struct kproto *p = stable ? chosen(g, m) : NULL;
		kw_str(&r->w, m->id, (int32_t)m->idlen);
		if (ver >= 4)
			kw_str(&r->w, m->ilen ? m->inst : NULL, m->ilen ? (int32_t)m->ilen : -1);
		kw_str(&r->w, m->client, (int32_t)m->clen);
		kw_str(&r->w, "", 0); /* the transport does not name peers */
		kw_bytes(&r->w, p ? p->meta : NULL, p ? (int32_t)p->mlen : 0);
		kw_bytes(&r->w, stable ? m->assign : NULL, stable ? (int32_t)m->alen : 0);
		kw_tags(&r->w);
	}
	if (ver >= 3)
		kw_i32(&r->w, ops ? GROUP_OPS : INT32_MIN);
	kw_tags(&r->w);
}

int api_describe_groups(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kstr id;
	struct kresp *r;
	int32_t n = kr_admin_array(&scan, scan.flex ? 1 : 2);
	bool ops = false;

	for (int32_t i = 0; i < n && !scan.bad; i++)
		kr_str(&scan, &id);
	if (q->ver >= 3)
		ops = kr_i8(&scan) != 0;
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (q->ver >= 1)
		kw_i32(&r->w, 0);
	n = kr_array(&q->r, 1, false);
	kw_array(&r->w, n);
	for (int32_t i = 0; i < n; i++) {
		kr_str(&q->r, &id);
		describe_group(b, r, q->ver, &id, ops);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* Unlink and free group g (it has no members). */
static void group_delete(struct broker *b, struct kgroup *g)
{
	for (struct kgroup **pp = &b->groups; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	group_offs_free(b, g);
	broker_free(b, g);
}

/* Log a group deletion; true when it is in the log. */
static bool log_group_del(struct broker *b, const struct kgroup *g)
{
	struct kw w;

	kw_init(&w, &b->al);
	kw_i32(&w, META_GROUP_DEL);
	kw_str(&w, g->id, (int32_t)g->idlen);
	return meta_append(b, &w);
}

int api_delete_groups(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kstr id;
	struct kresp *r;
	int32_t n = kr_admin_array(&scan, scan.flex ? 1 : 2);
	bool logged = false;

	for (int32_t i = 0; i < n && !scan.bad; i++)
		kr_str(&scan, &id);
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kw_i32(&r->w, 0);
	n = kr_array(&q->r, 1, false);
	kw_array(&r->w, n);
	for (int32_t i = 0; i < n; i++) {
		kr_str(&q->r, &id);
		struct kgroup *g = group_find(b, &id, false);
		int16_t err = KERR_NONE;
		if (id.len <= 0)
			err = KERR_GROUP_ID;
		else if (!g)
			err = KERR_GROUP_NOT_FOUND;
		else if (g->n)
			err = KERR_NON_EMPTY_GROUP;
		else if (!log_group_del(b, g))
			err = KERR_STORAGE;
		if (!err) {
			group_delete(b, g);
			logged = true;
		}
		kw_str(&r->w, id.p, id.len);
		kw_i16(&r->w, err);
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	if (logged)
		broker_resp_wait_flush(b, r);
	else
		broker_resp_ready(b, r);
	return 0;
}

/* Does a member of g subscribe to topic (consumer protocol metadata:
 * version int16, topics [STRING], ...)? Undecodable metadata counts as
 * subscribed, the safe answer. */
static bool group_subscribed(const struct kgroup *g, const struct kstr *topic)
{
	for (uint32_t i = 0; i < g->n; i++) {
		const struct kmember *m = g->m[i];
		struct kr r;
		struct kstr s;
		if (!m->nprotos)
			continue;
		kr_init(&r, m->protos[0].meta, m->protos[0].mlen);
		(void)kr_i16(&r);
		int32_t n = kr_array(&r, 2, false);
		if (r.bad)
			return true;
		for (int32_t k = 0; k < n; k++) {
			kr_str(&r, &s);
			if (r.bad || (s.len == topic->len && !memcmp(s.p, topic->p, (size_t)s.len)))
				return true;
		}
	}
	return false;
}

/* Remove the committed offset of (t, p) from g; true when there was one. */
static bool offs_remove(struct broker *b, struct kgroup *g, uint32_t t, uint32_t p)
{
	for (uint32_t i = 0; i < g->noffs; i++)
		if (g->offs[i].topic == t && g->offs[i].part == p) {
			broker_free(b, g->offs[i].meta);
			g->offs[i] = g->offs[--g->noffs];
			return true;
		}
	return false;
}

/* One topic of an OffsetDelete: remove, log and answer each partition;
 * returns how many offsets were removed. */
static int32_t od_topic(struct broker *b, struct kr *q, struct kresp *r, struct kgroup *g,
                        struct kw *log)
{
	struct kstr name;
	int32_t removed = 0;

	kr_str(q, &name);
	int tid = topic_lookup(b, &name, false);
	bool sub = tid >= 0 && group_subscribed(g, &name);
	int32_t np = kr_array(q, 4, false);
	kw_str(&r->w, name.p, name.len);
	kw_i32(&r->w, np);
	for (int32_t k = 0; k < np; k++) {
		int32_t idx = kr_i32(q);
		int16_t err = tid < 0 ? (int16_t)-tid
		              : !store_part_get(b->st, (uint32_t)tid, (uint32_t)idx)
		                  ? KERR_UNKNOWN_TP
		              : sub ? KERR_GROUP_SUBSCRIBED
		                    : 0;
		if (!err && offs_remove(b, g, (uint32_t)tid, (uint32_t)idx)) {
			kw_i32(log, tid);
			kw_i32(log, idx);
			removed++;
		}
		kw_i32(&r->w, idx);
		kw_i16(&r->w, err);
	}
	return removed;
}

/* OffsetDelete v0: group-level errors first (unknown group; a non-empty
 * group of another protocol type), then per partition (unknown topic,
 * topic a member subscribes to). */
int api_offset_delete(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kstr gid, name;
	struct kresp *r;
	struct kgroup *g;
	struct kw log;
	int32_t nlog = 0, n;
	int16_t gerr = KERR_NONE;

	kr_str(&scan, &gid);
	n = kr_admin_array(&scan, 6);
	for (int32_t i = 0; i < n && !scan.bad; i++) {
		kr_str(&scan, &name);
		int32_t np = kr_array(&scan, 4, false);
		for (int32_t k = 0; k < np; k++)
			(void)kr_i32(&scan);
	}
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kr_str(&q->r, &gid);
	g = group_find(b, &gid, false);
	if (gid.len <= 0)
		gerr = KERR_GROUP_ID;
	else if (!g)
		gerr = KERR_GROUP_NOT_FOUND;
	else if (g->n && (g->ptlen != 8 || memcmp(g->ptype, "consumer", 8)))
		gerr = KERR_NON_EMPTY_GROUP;
	kw_i16(&r->w, gerr);
	kw_i32(&r->w, 0);
	n = gerr ? 0 : kr_array(&q->r, 6, false);
	kw_i32(&r->w, n);
	kw_init(&log, &b->al);
	kw_i32(&log, META_OFFS_DEL);
	kw_str(&log, g ? g->id : "", g ? (int32_t)g->idlen : 0);
	kw_i32(&log, 0);
	for (int32_t i = 0; i < n; i++)
		nlog += od_topic(b, &q->r, r, g, &log);
	broker_resp_finish(r);
	kw_patch32(&log, 6 + (g ? g->idlen : 0), nlog);
	if (nlog && meta_append(b, &log)) {
		broker_resp_wait_flush(b, r);
		return 0;
	}
	if (!nlog)
		kw_free(&log);
	broker_resp_ready(b, r);
	return 0;
}

/* A topic id is gone (deleted, or reused by a new topic): every group
 * forgets its offsets there. */
void group_drop_topic(struct broker *b, uint32_t topic)
{
	for (struct kgroup *g = b->groups; g; g = g->next)
		for (uint32_t i = 0; i < g->noffs;)
			if (g->offs[i].topic == topic) {
				broker_free(b, g->offs[i].meta);
				g->offs[i] = g->offs[--g->noffs];
			} else {
				i++;
			}
}

/* Replay of META_GROUP_DEL and META_OFFS_DEL records. */
void group_meta_apply(struct broker *b, int32_t magic, struct kr *r, uint64_t rec_off)
{
	struct kstr gid;
	struct kgroup *g;

	kr_str(r, &gid);
	if (r->bad || !(g = group_find(b, &gid, false)))
		return;
	if (magic == META_GROUP_DEL) {
		if (!g->n)
			group_delete(b, g);
		return;
	}
	int32_t n = kr_array(r, 8, false);
	for (int32_t i = 0; i < n && !r->bad; i++) {
		int32_t t = kr_i32(r), k = kr_i32(r);
		if (!r->bad && t >= 0 && !meta_stale(b, t, rec_off))
			(void)offs_remove(b, g, (uint32_t)t, (uint32_t)k);
	}
}
