/* Group coordinator requests: FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat and LeaveGroup. Offsets are in group_offsets.c. */
#include <string.h>

#include "group.h"

struct join_req {
	struct kstr group, member, ptype;
	int32_t session_ms, rebalance_ms;
	uint32_t nprotos;
	struct kstr pname[KG_MAX_PROTOS];
	struct kbytes pmeta[KG_MAX_PROTOS];
};

/* Reply with just [throttle (if ver >= tv)] error_code. */
static int reply_err(struct broker *b, struct kconn *c, struct kreq *q, int16_t tv, int16_t err)
{
	struct kresp *r = resp_new(b, c, q->corr);

	if (!r)
		return -1;
	if (q->ver >= tv)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	resp_finish(r);
	resp_ready(b, r);
	return 0;
}

/* FindCoordinator v0-v2: this node coordinates every group. */
int api_find_coord(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr key;
	struct kresp *r;

	kr_str(&q->r, &key);
	if (q->ver >= 1 && kr_i8(&q->r) != 0 && !q->r.bad)
		return reply_err(b, c, q, 1, KERR_COORD_NA);
	if (q->r.bad || !(r = resp_new(b, c, q->corr)))
		return -1;
	if (q->ver >= 1)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, 0);
	if (q->ver >= 1)
		kw_str(&r->w, NULL, -1);
	kw_i32(&r->w, b->cfg.node_id);
	kw_str(&r->w, b->adv_host, (int32_t)strlen(b->adv_host));
	kw_i32(&r->w, b->cfg.adv_port);
	resp_finish(r);
	resp_ready(b, r);
	return 0;
}

/* Decode a JoinGroup request completely; false when malformed. */
static bool join_decode(struct kreq *q, struct join_req *j)
{
	struct kstr inst, name;
	struct kbytes meta;

	kr_str(&q->r, &j->group);
	j->session_ms = kr_i32(&q->r);
	j->rebalance_ms = q->ver >= 1 ? kr_i32(&q->r) : j->session_ms;
	kr_str(&q->r, &j->member);
	if (q->ver >= 5)
		kr_str(&q->r, &inst);
	kr_str(&q->r, &j->ptype);
	int32_t n = kr_array(&q->r, 6, false);
	j->nprotos = 0;
	for (int32_t i = 0; i < n && !q->r.bad; i++) {
		kr_str(&q->r, &name);
		kr_bytes(&q->r, &meta);
		if (j->nprotos < KG_MAX_PROTOS && name.len > 0 && name.len < (int32_t)KG_NAME &&
		    meta.len >= 0) {
			j->pname[j->nprotos] = name;
			j->pmeta[j->nprotos++] = meta;
		}
	}
	return !q->r.bad;
}

/* Copy the offered protocols into the member (replacing old ones). */
static bool member_set_protos(struct broker *b, struct kmember *m, const struct join_req *j)
{
	for (uint32_t k = 0; k < m->nprotos; k++)
		b_free(b, m->protos[k].meta);
	m->nprotos = 0;
	for (uint32_t k = 0; k < j->nprotos; k++) {
		struct kproto *p = &m->protos[k];
		p->meta = b_alloc(b, (size_t)j->pmeta[k].len + 1);
		if (!p->meta)
			return false;
		memcpy(p->name, j->pname[k].p, (size_t)j->pname[k].len);
		p->nlen = (uint32_t)j->pname[k].len;
		if (j->pmeta[k].len)
			memcpy(p->meta, j->pmeta[k].p, (size_t)j->pmeta[k].len);
		p->mlen = (uint32_t)j->pmeta[k].len;
		m->nprotos = k + 1;
	}
	m->session_ms = j->session_ms;
	m->rebalance_ms = j->rebalance_ms > 300000 ? 300000 : j->rebalance_ms;
	return true;
}

/* Append decimal v to buf at *n. */
static void put_dec(char *buf, uint32_t *n, uint32_t v)
{
	char t[10];
	int k = 0;

	do {
		t[k++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (k)
		buf[(*n)++] = t[--k];
}

/* A new member with a broker-chosen id "hallows-<seq>-<group seq>". */
static struct kmember *member_new(struct broker *b, struct kgroup *g)
{
	struct kmember *m;

	if (g->n >= KG_MAX_MEMBERS || !(m = b_alloc(b, sizeof(*m))))
		return NULL;
	memcpy(m->id, "hallows-", 8);
	m->idlen = 8;
	put_dec(m->id, &m->idlen, ++g->member_seq);
	m->id[m->idlen++] = '-';
	put_dec(m->id, &m->idlen, (uint32_t)g->gen);
	g->m[g->n++] = m;
	return m;
}

/* Validation of a join against the group; returns a Kafka error. */
static int16_t join_check(struct kgroup *g, const struct join_req *j, struct kmember **m)
{
	int i;

	if (j->session_ms < 1000 || j->session_ms > 1800000)
		return KERR_INVALID_SESSION;
	if (!j->nprotos || j->ptype.len <= 0 || j->ptype.len >= (int32_t)KG_NAME)
		return KERR_INCONSISTENT_PROTO;
	if (g->n && (g->ptlen != (uint32_t)j->ptype.len || memcmp(g->ptype, j->ptype.p, g->ptlen)))
		return KERR_INCONSISTENT_PROTO;
	*m = NULL;
	if (j->member.len > 0) {
		if ((i = group_member(g, &j->member)) < 0)
			return KERR_UNKNOWN_MEMBER;
		*m = g->m[i];
	}
	return KERR_NONE;
}

/* JoinGroup v0-v5: register (or re-register) the member and park the
 * response until the round completes (group_poll). */
int api_join(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct join_req j;
	struct kgroup *g;
	struct kmember *m = NULL;
	struct kresp *r;
	int16_t err;

	if (!join_decode(q, &j))
		return -1;
	if (!(r = resp_new(b, c, q->corr)))
		return -1;
	if (!(g = group_find(b, &j.group, true)))
		err = KERR_GROUP_ID;
	else if (!(err = join_check(g, &j, &m)) && !m && !(m = member_new(b, g)))
		err = KERR_COORD_NA;
	if (!err && !member_set_protos(b, m, &j))
		err = KERR_COORD_NA;
	if (err) {
		group_join_error(b, r, q->ver, err, NULL);
		return 0;
	}
	if (m->join) /* a duplicate join replaces the older parked one */
		group_join_error(b, m->join, m->join_ver, KERR_REBALANCING, m);
	memcpy(g->ptype, j.ptype.p, (size_t)j.ptype.len);
	g->ptlen = (uint32_t)j.ptype.len;
	m->clen = q->client.len > 0 ? (uint32_t)q->client.len : 0;
	if (m->clen > KG_NAME)
		m->clen = KG_NAME;
	if (m->clen)
		memcpy(m->client, q->client.p, m->clen);
	m->join = r;
	m->join_ver = q->ver;
	r->owner = &m->join;
	m->last_seen = b->pl.now_ms(b->pl.ctx);
	group_rebalance(b, g, m->last_seen);
	m->rejoined = true;
	return 0;
}

/* Store the leader's assignments; all decoded before any is kept. */
static bool sync_store(struct broker *b, struct kgroup *g, struct kr *r)
{
	int32_t n = kr_array(r, 6, false);
	struct kstr mid;
	struct kbytes a;

	for (int32_t i = 0; i < n && !r->bad; i++) {
		kr_str(r, &mid);
		kr_bytes(r, &a);
		int k = group_member(g, &mid);
		if (k < 0 || r->bad || a.len < 0)
			continue;
		struct kmember *m = g->m[k];
		b_free(b, m->assign);
		m->assign = b_alloc(b, (size_t)a.len + 1);
		m->alen = 0;
		if (m->assign && a.len) {
			memcpy(m->assign, a.p, (size_t)a.len);
			m->alen = (uint32_t)a.len;
		}
	}
	return !r->bad;
}

/* SyncGroup v0-v3: the leader's call distributes the assignments and
 * makes the group Stable; followers wait for it. */
int api_sync(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid, inst;
	struct kr scan;
	struct kgroup *g;
	struct kresp *r;
	int16_t err;
	int32_t gen;

	kr_str(&q->r, &gid);
	gen = kr_i32(&q->r);
	kr_str(&q->r, &mid);
	if (q->ver >= 3)
		kr_str(&q->r, &inst);
	scan = q->r;
	int32_t na = kr_array(&scan, 6, false);
	for (int32_t k = 0; k < na && !scan.bad; k++) {
		struct kbytes a;
		kr_str(&scan, &inst);
		kr_bytes(&scan, &a);
	}
	if (scan.bad || q->r.bad)
		return -1;
	g = group_find(b, &gid, false);
	err = (int16_t)group_check_member(g, &mid, gen);
	if (!err && g->state == G_PREPARING)
		err = KERR_REBALANCING;
	if (err)
		return reply_err(b, c, q, 1, err);
	struct kmember *m = g->m[group_member(g, &mid)];
	if (g->state == G_COMPLETING && (int32_t)group_member(g, &mid) == g->leader) {
		struct kr body = q->r;
		if (!sync_store(b, g, &body))
			return -1;
		g->state = G_STABLE;
	}
	if (!(r = resp_new(b, c, q->corr)))
		return -1;
	if (m->sync) /* duplicate sync: the older one loses */
		group_sync_reply(b, m, KERR_REBALANCING);
	m->sync = r;
	m->sync_ver = q->ver;
	r->owner = &m->sync;
	if (g->state == G_STABLE)
		for (uint32_t i = 0; i < g->n; i++)
			group_sync_reply(b, g->m[i], KERR_NONE);
	return 0;
}

/* Heartbeat v0-v3: keeps the session alive; 27 tells a member to rejoin. */
int api_heartbeat(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid, inst;
	struct kgroup *g;
	int32_t gen;
	int16_t err;
	int i;

	kr_str(&q->r, &gid);
	gen = kr_i32(&q->r);
	kr_str(&q->r, &mid);
	if (q->ver >= 3)
		kr_str(&q->r, &inst);
	if (q->r.bad)
		return -1;
	g = group_find(b, &gid, false);
	if (g && (i = group_member(g, &mid)) >= 0)
		g->m[i]->last_seen = b->pl.now_ms(b->pl.ctx);
	err = (int16_t)group_check_member(g, &mid, gen);
	/* no group: UNKNOWN_MEMBER. NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (err == KERR_ILLEGAL_GEN && g->state == G_PREPARING)
		err = KERR_REBALANCING;
	/* as above. NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (!err && g->state == G_PREPARING)
		err = KERR_REBALANCING;
	return reply_err(b, c, q, 1, err);
}

/* LeaveGroup v0-v1. librdkafka 2.0.2 reads only an int16 here even for
 * v1, so the v1 throttle field must be 0 (it parses as "no error"). */
int api_leave(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid;
	struct kgroup *g;
	int i = -1;

	kr_str(&q->r, &gid);
	kr_str(&q->r, &mid);
	if (q->r.bad)
		return -1;
	g = group_find(b, &gid, false);
	if (g)
		i = group_member(g, &mid);
	if (i >= 0) {
		group_remove(b, g, (uint32_t)i, KERR_UNKNOWN_MEMBER);
		if (g->n)
			group_rebalance(b, g, b->pl.now_ms(b->pl.ctx));
		else
			g->state = G_EMPTY;
	}
	return reply_err(b, c, q, 1, i >= 0 ? KERR_NONE : KERR_UNKNOWN_MEMBER);
}
