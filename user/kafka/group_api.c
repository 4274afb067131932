/* Group coordinator requests: FindCoordinator, JoinGroup, SyncGroup,
 * Heartbeat and LeaveGroup. Offsets are in group_offsets.c. */
#include <lib/string.h>

#include "group.h"

struct join_req {
	struct kstr group, member, ptype, inst;
	int32_t session_ms, rebalance_ms;
	uint32_t nprotos;
	struct kstr pname[KG_MAX_PROTOS];
	struct kbytes pmeta[KG_MAX_PROTOS];
};

/* Reply with just [throttle (if ver >= tv)] error_code [tags]. */
static int reply_err(struct broker *b, struct kconn *c, struct kreq *q, int16_t tv, int16_t err)
{
	struct kresp *r = broker_resp_new(b, c, q->corr);

	if (!r)
		return -1;
	if (q->ver >= tv)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* One coordinator answer: this node for groups (key type 0) and
 * transactional ids (key type 1); other types are invalid. */
static void coord_entry(struct broker *b, struct kresp *r, int16_t ver, int8_t type)
{
	int16_t err = type == 0 || type == 1 ? KERR_NONE : KERR_INVALID_REQUEST;

	if (ver < 4) {
		kw_i16(&r->w, err);
		if (ver >= 1)
			kw_str(&r->w, NULL, -1);
	}
	kw_i32(&r->w, err ? -1 : b->cfg.node_id);
	kw_str(&r->w, err ? "" : b->adv_host, err ? 0 : (int32_t)strlen(b->adv_host));
	kw_i32(&r->w, err ? -1 : b->cfg.adv_port);
	if (ver >= 4) {
		kw_i16(&r->w, err);
		kw_str(&r->w, NULL, -1);
		kw_tags(&r->w);
	}
}

/* FindCoordinator v0-v4 (v4: a batch of keys, KIP-699). */
int api_find_coord(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr key;
	struct kresp *r;
	int8_t type = 0;
	int32_t n = 1;
	struct kr scan;

	if (q->ver < 4)
		kr_str(&q->r, &key);
	if (q->ver >= 1)
		type = kr_i8(&q->r);
	if (q->ver >= 4) {
		n = kr_admin_array(&q->r, 1);
		scan = q->r;
		for (int32_t i = 0; i < n; i++)
			kr_str(&q->r, &key);
	}
	kr_tags(&q->r);
	if (q->r.bad || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (q->ver >= 1)
		kw_i32(&r->w, 0);
	if (q->ver < 4) {
		coord_entry(b, r, q->ver, type);
	} else {
		kw_array(&r->w, n);
		for (int32_t i = 0; i < n; i++) {
			kr_str(&scan, &key);
			kw_str(&r->w, key.p, key.len);
			coord_entry(b, r, q->ver, type);
		}
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* Decode a JoinGroup request (v0-v9) completely; false when malformed. */
static bool join_decode(struct kreq *q, struct join_req *j)
{
	struct kstr name, reason;
	struct kbytes meta;

	kr_str(&q->r, &j->group);
	j->session_ms = kr_i32(&q->r);
	j->rebalance_ms = q->ver >= 1 ? kr_i32(&q->r) : j->session_ms;
	kr_str(&q->r, &j->member);
	j->inst = (struct kstr){NULL, -1};
	if (q->ver >= 5)
		kr_str(&q->r, &j->inst);
	kr_str(&q->r, &j->ptype);
	int32_t n = kr_array(&q->r, q->r.flex ? 2 : 6, false);
	j->nprotos = 0;
	for (int32_t i = 0; i < n && !q->r.bad; i++) {
		kr_str(&q->r, &name);
		kr_bytes(&q->r, &meta);
		kr_tags(&q->r);
		if (j->nprotos < KG_MAX_PROTOS && name.len > 0 && name.len < (int32_t)KG_NAME &&
		    meta.len >= 0) {
			j->pname[j->nprotos] = name;
			j->pmeta[j->nprotos++] = meta;
		}
	}
	if (q->ver >= 8)
		kr_str(&q->r, &reason);
	kr_tags(&q->r);
	return !q->r.bad;
}

/* Copy the offered protocols into the member (replacing old ones). */
static bool member_set_protos(struct broker *b, struct kmember *m, const struct join_req *j)
{
	for (uint32_t k = 0; k < m->nprotos; k++)
		broker_free(b, m->protos[k].meta);
	m->nprotos = 0;
	for (uint32_t k = 0; k < j->nprotos; k++) {
		struct kproto *p = &m->protos[k];
		p->meta = broker_alloc(b, (size_t)j->pmeta[k].len + 1);
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

/* Give m a fresh id of Kafka's form "<client.id>-<uuid>" (a random
 * version-4 UUID in its 36-character text form). */
static void member_set_id(struct broker *b, struct kmember *m, const struct kstr *client)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t u[16];
	uint32_t n = 0;

	for (int i = 0; i < 2; i++) {
		uint64_t v = broker_random(b);
		for (int k = 0; k < 8; k++)
			u[8 * i + k] = (uint8_t)(v >> (8 * k));
	}
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	if (client->len > 0) {
		n = client->len < (int32_t)KG_NAME ? (uint32_t)client->len : KG_NAME;
		memcpy(m->id, client->p, n);
	}
	m->id[n++] = '-';
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			m->id[n++] = '-';
		m->id[n++] = hex[u[i] >> 4];
		m->id[n++] = hex[u[i] & 15];
	}
	m->idlen = n;
}

/* A new member (static when inst is given). */
static struct kmember *member_new(struct broker *b, struct kgroup *g, const struct kstr *client,
                                  const struct kstr *inst)
{
	struct kmember *m;

	if (g->n >= KG_MAX_MEMBERS || !(m = broker_alloc(b, sizeof(*m))))
		return NULL;
	member_set_id(b, m, client);
	if (inst->len > 0) {
		memcpy(m->inst, inst->p, (size_t)inst->len);
		m->ilen = (uint32_t)inst->len;
	}
	g->m[g->n++] = m;
	return m;
}

/* Validation of a join against the group; returns a Kafka error. A
 * static member (group.instance.id) that comes back without a member id
 * is found by its instance id (*rejoin set): it gets a new member id and
 * the old one is fenced (KIP-345). */
static int16_t join_check(struct kgroup *g, const struct join_req *j, struct kmember **m,
                          bool *rejoin)
{
	int i, k;

	*m = NULL;
	*rejoin = false;
	if (j->session_ms < 1000 || j->session_ms > 1800000)
		return KERR_INVALID_SESSION;
	if (!j->nprotos || j->ptype.len <= 0 || j->ptype.len >= (int32_t)KG_NAME)
		return KERR_INCONSISTENT_PROTO;
	if (g->n && (g->ptlen != (uint32_t)j->ptype.len || memcmp(g->ptype, j->ptype.p, g->ptlen)))
		return KERR_INCONSISTENT_PROTO;
	if (j->inst.len >= (int32_t)KG_NAME)
		return KERR_INVALID_REQUEST;
	k = group_instance(g, &j->inst);
	if (j->member.len > 0) {
		if (group_check_instance(g, &j->member, &j->inst))
			return KERR_FENCED_INSTANCE;
		if ((i = group_member(g, &j->member)) < 0)
			return KERR_UNKNOWN_MEMBER;
		if (j->inst.len > 0 && g->m[i]->ilen == 0)
			return KERR_FENCED_INSTANCE; /* a dynamic member cannot turn static */
		*m = g->m[i];
	} else if (k >= 0) {
		*m = g->m[k];
		*rejoin = true;
	}
	return KERR_NONE;
}

/* True when m offers, for the group's current protocol, exactly the
 * metadata of j (a static member restarting with the same subscription). */
static bool static_same(const struct kgroup *g, const struct kmember *m, const struct join_req *j)
{
	for (uint32_t k = 0; k < m->nprotos; k++)
		if (m->protos[k].nlen == g->plen && !memcmp(m->protos[k].name, g->proto, g->plen))
			for (uint32_t i = 0; i < j->nprotos; i++)
				if (j->pname[i].len == (int32_t)g->plen &&
				    !memcmp(j->pname[i].p, g->proto, g->plen))
					return j->pmeta[i].len == (int32_t)m->protos[k].mlen &&
					       (!j->pmeta[i].len ||
					        !memcmp(j->pmeta[i].p, m->protos[k].meta,
					                m->protos[k].mlen));
	return false;
}

/* JoinGroup v0-v9: register (or re-register) the member and park the
 * response until the round completes (group_poll). A static follower
 * rejoining a Stable group with the same subscription is answered at
 * once, without a rebalance, and keeps its assignment. */
int api_join(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct join_req j;
	struct kgroup *g;
	struct kmember *m = NULL;
	struct kresp *r;
	int16_t err;
	bool rejoin = false, quiet = false;

	if (!join_decode(q, &j))
		return -1;
	if (!(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (!(g = group_find(b, &j.group, true)))
		err = KERR_GROUP_ID;
	else if (!(err = join_check(g, &j, &m, &rejoin)) && !m &&
	         !(m = member_new(b, g, &q->client, &j.inst)))
		err = KERR_COORD_NA;
	if (!err && rejoin) {
		/* the old incarnation's parked requests are fenced */
		if (m->join)
			group_join_error(b, m->join, m->join_ver, KERR_FENCED_INSTANCE, m);
		group_sync_reply(b, g, m, KERR_FENCED_INSTANCE);
		quiet = g->state == G_STABLE && g->leader >= 0 && g->m[g->leader] != m &&
		        static_same(g, m, &j);
		member_set_id(b, m, &q->client);
		broker_log(b, "group: static member rejoined, rebalance", "", !quiet);
	}
	if (!err && !member_set_protos(b, m, &j))
		err = KERR_COORD_NA;
	if (err) {
		group_join_error(b, r, q->ver, err, NULL);
		return 0;
	}
	if (m->join) /* a duplicate join replaces the older parked one */
		group_join_error(b, m->join, m->join_ver, KERR_REBALANCING, m);
	if (quiet) {
		m->join = r;
		m->join_ver = q->ver;
		m->last_seen = b->pl.now_ms(b->pl.ctx);
		group_join_reply(b, g, (uint32_t)group_member_ptr(g, m));
		return 0;
	}
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
	group_touch(b); /* the round may now end at its earliest */
	return 0;
}

/* Store the leader's assignments; all decoded before any is kept. */
static bool sync_store(struct broker *b, struct kgroup *g, struct kr *r)
{
	int32_t n = kr_array(r, r->flex ? 3 : 6, false);
	struct kstr mid;
	struct kbytes a;

	for (int32_t i = 0; i < n && !r->bad; i++) {
		kr_str(r, &mid);
		kr_bytes(r, &a);
		kr_tags(r);
		int k = group_member(g, &mid);
		if (k < 0 || r->bad || a.len < 0)
			continue;
		struct kmember *m = g->m[k];
		broker_free(b, m->assign);
		m->assign = broker_alloc(b, (size_t)a.len + 1);
		m->alen = 0;
		if (m->assign && a.len) {
			memcpy(m->assign, a.p, (size_t)a.len);
			m->alen = (uint32_t)a.len;
		}
	}
	return !r->bad;
}

/* SyncGroup error answer: throttle, error, [protocol type and name],
 * empty assignment. */
static int sync_err(struct broker *b, struct kconn *c, struct kreq *q, int16_t err)
{
	struct kresp *r = broker_resp_new(b, c, q->corr);

	if (!r)
		return -1;
	if (q->ver >= 1)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	if (q->ver >= 5) {
		kw_str(&r->w, NULL, -1);
		kw_str(&r->w, NULL, -1);
	}
	kw_bytes(&r->w, NULL, 0);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* A given protocol type or name (SyncGroup v5+) must be the group's. */
static bool proto_matches(const struct kstr *s, const char *v, uint32_t n)
{
	return s->len < 0 || ((uint32_t)s->len == n && !memcmp(s->p, v, n));
}

/* SyncGroup v0-v5: the leader's call distributes the assignments and
 * makes the group Stable; followers wait for it. */
int api_sync(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid, inst = {NULL, -1}, ptype = {NULL, -1}, pname = {NULL, -1}, s;
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
	if (q->ver >= 5) {
		kr_str(&q->r, &ptype);
		kr_str(&q->r, &pname);
	}
	scan = q->r;
	int32_t na = kr_array(&scan, scan.flex ? 3 : 6, false);
	for (int32_t k = 0; k < na && !scan.bad; k++) {
		struct kbytes a;
		kr_str(&scan, &s);
		kr_bytes(&scan, &a);
		kr_tags(&scan);
	}
	kr_tags(&scan);
	if (scan.bad || q->r.bad)
		return -1;
	g = group_find(b, &gid, false);
	err = (int16_t)group_check_member(g, &mid, gen);
	if (g && group_check_instance(g, &mid, &inst))
		err = KERR_FENCED_INSTANCE;
	if (!g) /* group_check_member said UNKNOWN_MEMBER */
		return sync_err(b, c, q, err);
	if (!err && g->state == G_PREPARING)
		err = KERR_REBALANCING;
	if (!err && (!proto_matches(&ptype, g->ptype, g->ptlen) ||
	             (g->state != G_EMPTY && !proto_matches(&pname, g->proto, g->plen))))
		err = KERR_INCONSISTENT_PROTO;
	if (err)
		return sync_err(b, c, q, err);
	struct kmember *m = g->m[group_member(g, &mid)];
	if (g->state == G_COMPLETING && (int32_t)group_member(g, &mid) == g->leader) {
		struct kr body = q->r;
		if (!sync_store(b, g, &body))
			return -1;
		g->state = G_STABLE;
	}
	if (!(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (m->sync) /* duplicate sync: the older one loses */
		group_sync_reply(b, g, m, KERR_REBALANCING);
	m->sync = r;
	m->sync_ver = q->ver;
	r->owner = &m->sync;
	if (g->state == G_STABLE)
		for (uint32_t i = 0; i < g->n; i++)
			group_sync_reply(b, g, g->m[i], KERR_NONE);
	return 0;
}

/* Heartbeat v0-v4: keeps the session alive; 27 tells a member to rejoin. */
int api_heartbeat(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid, inst = {NULL, -1};
	struct kgroup *g;
	int32_t gen;
	int16_t err;
	int i;

	kr_str(&q->r, &gid);
	gen = kr_i32(&q->r);
	kr_str(&q->r, &mid);
	if (q->ver >= 3)
		kr_str(&q->r, &inst);
	kr_tags(&q->r);
	if (q->r.bad)
		return -1;
	g = group_find(b, &gid, false);
	if (g && group_check_instance(g, &mid, &inst))
		return reply_err(b, c, q, 1, KERR_FENCED_INSTANCE);
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

/* Remove one leaving member (by member id, or for a static member by
 * instance id, KIP-345); returns a Kafka error. */
static int16_t leave_one(struct broker *b, struct kgroup *g, const struct kstr *mid,
                         const struct kstr *inst)
{
	int i;

	if (inst->len > 0) {
		if ((i = group_instance(g, inst)) < 0)
			return KERR_UNKNOWN_MEMBER;
		if (mid->len > 0 && group_check_instance(g, mid, inst))
			return KERR_FENCED_INSTANCE;
	} else if (!g || (i = group_member(g, mid)) < 0) {
		return KERR_UNKNOWN_MEMBER;
	}
	group_remove(b, g, (uint32_t)i, KERR_UNKNOWN_MEMBER);
	if (g->n)
		group_rebalance(b, g, b->pl.now_ms(b->pl.ctx));
	else
		g->state = G_EMPTY;
	return KERR_NONE;
}

/* LeaveGroup v0-v5 (v3+: a batch of members, each by member id or
 * group.instance.id). librdkafka 2.0.2 reads only an int16 here even
 * for v1, so the v1 throttle field must be 0 (it parses as "no error"). */
int api_leave(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr gid, mid, inst = {NULL, -1}, reason;
	struct kgroup *g;
	struct kresp *r;
	struct kr scan;
	int32_t n = 1;

	kr_str(&q->r, &gid);
	if (q->ver < 3) {
		kr_str(&q->r, &mid);
	} else {
		n = kr_admin_array(&q->r, 2);
		scan = q->r;
		for (int32_t i = 0; i < n && !q->r.bad; i++) {
			kr_str(&q->r, &mid);
			kr_str(&q->r, &inst);
			if (q->ver >= 5)
				kr_str(&q->r, &reason);
			kr_tags(&q->r);
		}
	}
	kr_tags(&q->r);
	if (q->r.bad)
		return -1;
	g = group_find(b, &gid, false);
	if (q->ver < 3)
		return reply_err(b, c, q, 1, leave_one(b, g, &mid, &inst));
	if (!(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kw_i32(&r->w, 0);
	kw_i16(&r->w, g ? KERR_NONE : KERR_GROUP_NOT_FOUND);
	kw_array(&r->w, n);
	for (int32_t i = 0; i < n; i++) {
		kr_str(&scan, &mid);
		kr_str(&scan, &inst);
		if (q->ver >= 5)
			kr_str(&scan, &reason);
		kr_tags(&scan);
		kw_str(&r->w, mid.p, mid.len);
		kw_str(&r->w, inst.p, inst.len);
		kw_i16(&r->w, g ? leave_one(b, g, &mid, &inst) : KERR_UNKNOWN_MEMBER);
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}
