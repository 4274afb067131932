/* Group coordinator: membership and the rebalance state machine
 * (Empty -> PreparingRebalance -> CompletingRebalance -> Stable), with
 * JoinGroup and SyncGroup parked until the round completes. */
#include <lib/string.h>

#include "group.h"

#define KG_MAX_GROUPS 1024u

struct kgroup *group_find(struct broker *b, const struct kstr *id, bool create)
{
	struct kgroup *g;
	uint32_t count = 0;

	if (id->len <= 0 || id->len >= (int32_t)sizeof(g->id))
		return NULL;
	for (g = b->groups; g; g = g->next, count++)
		if (g->idlen == (uint32_t)id->len && !memcmp(g->id, id->p, g->idlen))
			return g;
	if (!create || count >= KG_MAX_GROUPS || !(g = broker_alloc(b, sizeof(*g))))
		return NULL;
	memcpy(g->id, id->p, (size_t)id->len);
	g->idlen = (uint32_t)id->len;
	g->leader = -1;
	g->next = b->groups;
	b->groups = g;
	group_touch(b);
	return g;
}

int group_member(const struct kgroup *g, const struct kstr *id)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->m[i]->idlen == (uint32_t)id->len && id->len > 0 &&
		    !memcmp(g->m[i]->id, id->p, g->m[i]->idlen))
			return (int)i;
	return -1;
}

int group_instance(const struct kgroup *g, const struct kstr *inst)
{
	if (!g || inst->len <= 0)
		return -1;
	for (uint32_t i = 0; i < g->n; i++)
		if (g->m[i]->ilen == (uint32_t)inst->len &&
		    !memcmp(g->m[i]->inst, inst->p, g->m[i]->ilen))
			return (int)i;
	return -1;
}

int16_t group_check_instance(const struct kgroup *g, const struct kstr *mid,
                             const struct kstr *inst)
{
	int i = group_instance(g, inst);

	if (i < 0)
		return KERR_NONE;
	if (g->m[i]->idlen != (uint32_t)mid->len || memcmp(g->m[i]->id, mid->p, g->m[i]->idlen))
		return KERR_FENCED_INSTANCE;
	return KERR_NONE;
}

/* Common generation/member check for Heartbeat, SyncGroup, OffsetCommit. */
int group_check_member(struct kgroup *g, const struct kstr *mid, int32_t gen)
{
	if (!g || group_member(g, mid) < 0)
		return KERR_UNKNOWN_MEMBER;
	if (gen != g->gen)
		return KERR_ILLEGAL_GEN;
	return KERR_NONE;
}

/* Finish a parked join with an error (member gone, replaced, bad round). */
void group_join_error(struct broker *b, struct kresp *r, int16_t ver, int16_t err,
                      const struct kmember *m)
{
	if (!r)
		return;
	r->owner = NULL;
	if (ver >= 2)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	kw_i32(&r->w, -1);
	if (ver >= 7) {
		kw_str(&r->w, NULL, -1); /* protocol type */
		kw_str(&r->w, NULL, -1); /* protocol name */
	} else
		kw_str(&r->w, "", 0);
	kw_str(&r->w, "", 0);
	if (ver >= 9)
		kw_i8(&r->w, 0); /* skip assignment */
	kw_str(&r->w, m ? m->id : "", m ? (int32_t)m->idlen : 0);
	kw_array(&r->w, 0);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
}

/* Finish a parked SyncGroup with an assignment (or an error). */
void group_sync_reply(struct broker *b, const struct kgroup *g, struct kmember *m, int16_t err)
{
	struct kresp *r = m->sync;

	if (!r)
		return;
	m->sync = NULL;
	r->owner = NULL;
	if (m->sync_ver >= 1)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	if (m->sync_ver >= 5) {
		kw_str(&r->w, err ? NULL : g->ptype, err ? -1 : (int32_t)g->ptlen);
		kw_str(&r->w, err ? NULL : g->proto, err ? -1 : (int32_t)g->plen);
	}
	kw_bytes(&r->w, m->assign, err ? 0 : (int32_t)m->alen);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
}

static void member_free(struct broker *b, struct kmember *m)
{
	for (uint32_t k = 0; k < m->nprotos; k++)
		broker_free(b, m->protos[k].meta);
	broker_free(b, m->assign);
	broker_free(b, m);
}

/* Remove member i, answering whatever it had parked with err. */
void group_remove(struct broker *b, struct kgroup *g, uint32_t i, int16_t err)
{
	struct kmember *m = g->m[i];

	if (m->join) {
		m->join->owner = NULL;
		group_join_error(b, m->join, m->join_ver, err, m);
	}
	group_sync_reply(b, g, m, err);
	member_free(b, m);
	group_touch(b);
	g->m[i] = g->m[--g->n];
	if (g->leader == (int32_t)i)
		g->leader = -1;
	else if (g->leader == (int32_t)g->n)
		g->leader = (int32_t)i;
}

/* Enter PreparingRebalance: members learn of it from Heartbeat (27) and
 * rejoin; parked SyncGroups of the old round are failed the same way. */
void group_rebalance(struct broker *b, struct kgroup *g, uint64_t now)
{
	uint32_t wait = 0;

	if (g->state == G_PREPARING)
		return;
	for (uint32_t i = 0; i < g->n; i++) {
		group_sync_reply(b, g, g->m[i], KERR_REBALANCING);
		if ((uint32_t)g->m[i]->rebalance_ms > wait)
			wait = (uint32_t)g->m[i]->rebalance_ms;
		g->m[i]->rejoined = false;
	}
	g->min_complete = now + (g->state == G_EMPTY ? b->cfg.group_initial_ms : 0);
	g->deadline = g->min_complete + wait;
	g->state = G_PREPARING;
	group_touch(b);
}

/* Protocol that every member supports, in the leader's order. */
static const struct kproto *pick_protocol(const struct kgroup *g)
{
	const struct kmember *l = g->m[g->leader];

	for (uint32_t k = 0; k < l->nprotos; k++) {
		bool all = true;
		for (uint32_t i = 0; i < g->n && all; i++) {
			bool has = false;
			for (uint32_t j = 0; j < g->m[i]->nprotos; j++)
				has |= g->m[i]->protos[j].nlen == l->protos[k].nlen &&
				       !memcmp(g->m[i]->protos[j].name, l->protos[k].name,
				               l->protos[k].nlen);
			all = has;
		}
		if (all)
			return &l->protos[k];
	}
	return NULL;
}

/* The member's metadata for the chosen protocol. */
static const struct kproto *member_proto(const struct kmember *m, const struct kgroup *g)
{
	for (uint32_t j = 0; j < m->nprotos; j++)
		if (m->protos[j].nlen == g->plen && !memcmp(m->protos[j].name, g->proto, g->plen))
			return &m->protos[j];
	return &m->protos[0];
}

int group_member_ptr(const struct kgroup *g, const struct kmember *m)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (g->m[i] == m)
			return (int)i;
	return -1;
}

/* JoinGroup response for member i of a completed round (or a static
 * member's rejoin without one). */
void group_join_reply(struct broker *b, struct kgroup *g, uint32_t i)
{
	struct kmember *m = g->m[i], *l = g->m[g->leader];
	struct kresp *r = m->join;
	bool leader = (int32_t)i == g->leader;

	m->join = NULL; /* its session runs from here */
	r->owner = NULL;
	group_touch(b);
	if (m->join_ver >= 2)
		kw_i32(&r->w, 0);
	kw_i16(&r->w, 0);
	kw_i32(&r->w, g->gen);
	if (m->join_ver >= 7)
		kw_str(&r->w, g->ptype, (int32_t)g->ptlen);
	kw_str(&r->w, g->proto, (int32_t)g->plen);
	kw_str(&r->w, l->id, (int32_t)l->idlen);
	if (m->join_ver >= 9)
		kw_i8(&r->w, 0); /* skip assignment: the leader assigns */
	kw_str(&r->w, m->id, (int32_t)m->idlen);
	kw_array(&r->w, leader ? (int32_t)g->n : 0);
	for (uint32_t k = 0; leader && k < g->n; k++) {
		const struct kproto *p = member_proto(g->m[k], g);
		const struct kmember *o = g->m[k];
		kw_str(&r->w, o->id, (int32_t)o->idlen);
		if (m->join_ver >= 5)
			kw_str(&r->w, o->ilen ? o->inst : NULL, o->ilen ? (int32_t)o->ilen : -1);
		kw_bytes(&r->w, p->meta, (int32_t)p->mlen);
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
}

/* End the join phase: drop members that did not rejoin, bump the
 * generation, choose leader and protocol, answer every parked join. */
static void group_complete(struct broker *b, struct kgroup *g, uint64_t now)
{
	const struct kproto *p;

	for (uint32_t i = g->n; i-- > 0;)
		if (!g->m[i]->rejoined)
			group_remove(b, g, i, KERR_UNKNOWN_MEMBER);
	if (!g->n) {
		g->state = G_EMPTY;
		g->gen++;
		return;
	}
	if (g->leader < 0)
		g->leader = 0;
	if (!(p = pick_protocol(g))) {
		for (uint32_t i = g->n; i-- > 0;)
			group_remove(b, g, i, KERR_INCONSISTENT_PROTO);
		g->state = G_EMPTY;
		return;
	}
	memcpy(g->proto, p->name, p->nlen);
	g->plen = p->nlen;
	g->gen++;
	g->state = G_COMPLETING;
	for (uint32_t i = 0; i < g->n; i++) {
		g->m[i]->last_seen = now;
		g->m[i]->rejoined = false;
		broker_free(b, g->m[i]->assign);
		g->m[i]->assign = NULL;
		g->m[i]->alen = 0;
		if (g->m[i]->join)
			group_join_reply(b, g, i);
	}
	broker_log(b, "group: rebalance complete, generation", "", g->gen);
}

/* True when every member has rejoined the current round. */
static bool all_rejoined(const struct kgroup *g)
{
	for (uint32_t i = 0; i < g->n; i++)
		if (!g->m[i]->rejoined)
			return false;
	return true;
}

/* Something may be due earlier than group_poll last found: a member added, removed or out of
 * a join (its session runs), a round started. */
void group_touch(struct broker *b)
{
	b->group_due = 0;
}

/* When g has something timed to do: a member's session expiry, the end of a join round (called by
 * group_poll after it emptied a group without members). */
static uint64_t group_due(const struct kgroup *g)
{
	uint64_t due = UINT64_MAX;

	for (uint32_t i = 0; i < g->n; i++) {
		const struct kmember *m = g->m[i];
		if (m->join || m->session_ms < 0) /* a negative timeout never ends (group_poll) */
			continue;
		uint64_t t = m->last_seen + (uint64_t)m->session_ms + 1;
		if (t < due)
			due = t;
	}
	if (g->state == G_PREPARING) {
		/* before everyone rejoined only the deadline ends it; a join touches */
		uint64_t t = all_rejoined(g) ? g->min_complete : g->deadline;
		if (t < due)
			due = t;
	}
	return due;
}

/* Timers: session expiry and completion of join rounds; nothing before b->group_due. */
void group_poll(struct broker *b, uint64_t now)
{
	uint64_t due = UINT64_MAX;

	if (!b->groups || now < b->group_due)
		return;
	for (struct kgroup *g = b->groups; g; g = g->next) {
		for (uint32_t i = g->n; i-- > 0;) {
			struct kmember *m = g->m[i];
			if (m->join || now - m->last_seen <= (uint64_t)m->session_ms)
				continue;
			broker_log(b, "group: member session expired", "", (long long)i);
			group_remove(b, g, i, KERR_UNKNOWN_MEMBER);
			if (g->state != G_PREPARING)
				group_rebalance(b, g, now);
		}
		if (g->state == G_PREPARING &&
		    ((all_rejoined(g) && now >= g->min_complete) || now >= g->deadline))
			group_complete(b, g, now);
		if (g->state != G_EMPTY && !g->n)
			g->state = G_EMPTY;
		uint64_t t = group_due(g);
		if (t < due)
			due = t;
	}
	b->group_due = due;
}

/* Groups waiting to complete a round are re-checked every 10 ms. */
uint32_t group_next_timeout(const struct broker *b, uint64_t now)
{
	(void)now;
	for (const struct kgroup *g = b->groups; g; g = g->next)
		if (g->state == G_PREPARING)
			return 10;
	return 100;
}

void group_destroy_all(struct broker *b)
{
	while (b->groups) {
		struct kgroup *g = b->groups;
		b->groups = g->next;
		for (uint32_t i = 0; i < g->n; i++)
			member_free(b, g->m[i]);
		group_offs_free(b, g);
		broker_free(b, g);
	}
}
