/*
 * The fuzzer's model of the capabilities it holds: the derivation tree as
 * docs/capabilities.md states it (copies and retyped objects are children;
 * delete hands the children to the first child naming the same object, or
 * to the parent; the last capability to an object destroys it, a cspace
 * empties its slots one after another, a thread drops the five slots it
 * holds). Written from the documented rules, kept in step with the kernel
 * only through the results of the calls (see ops.c).
 */
#include "scfuzz.h"
#include <lib/string.h>

struct model m;

void m_reset(void)
{
	memset(&m, 0, sizeof(m));
	for (int i = 0; i < (int)POOL; i++)
		m.s[i].parent = m.s[i].child = m.s[i].next = m.s[i].prev = m.s[i].obj =
		    m.s[i].map_as = -1;
	for (int i = 0; i < MOBJ; i++)
		m.o[i].rec = m.o[i].bound = -1;
	m.dying_head = -1;
	m.cs[0] = (struct mcs){true, false, WCS_BITS, -1, 0};
}

int m_pool(int cs, uint64_t idx)
{
	if (cs < 0 || cs >= MCS || !m.cs[cs].live || idx >= (1ull << m.cs[cs].bits))
		return -1;
	return m.cs[cs].base + (int)idx;
}

bool m_can_create(uint8_t type, uint8_t size_bits)
{
	int free_obj = 0, free_rec = 0;

	for (int i = 0; i < MOBJ && free_obj < 4; i++)
		free_obj += !m.o[i].live;
	if (type == HL_OBJ_CSPACE) {
		if (size_bits < 1 || size_bits > CHILD_MAX_BITS)
			return false;
		for (int i = 1; i < MCS; i++)
			free_rec += !m.cs[i].live;
	} else if (type == HL_OBJ_THREAD) {
		for (int i = 0; i < MTH; i++)
			free_rec += !m.th[i].live;
	} else if (type == HL_OBJ_SNAPSHOT) {
		for (int i = 0; i < MSN; i++)
			free_rec += !m.sn[i].live;
	} else {
		free_rec = 1;
	}
	return free_obj >= 4 && free_rec > 0;
}

static void clear_slot(int s)
{
	struct mslot *x = &m.s[s];

	memset(x, 0, sizeof(*x));
	x->parent = x->child = x->next = x->prev = x->obj = x->map_as = -1;
}

int m_new_obj(uint8_t type, uint8_t size_bits)
{
	int o = -1;

	for (int i = 0; i < MOBJ && o < 0; i++)
		if (!m.o[i].live)
			o = i;
	if (o < 0)
		return -1;
	m.o[o] = (struct mobj){type, 1, size_bits, -1, -1};
	if (type == HL_OBJ_CSPACE) {
		for (int c = 1; c < MCS; c++) {
			if (m.cs[c].live)
				continue;
			m.cs[c] =
			    (struct mcs){true, false, size_bits, (int16_t)o,
			                 (uint16_t)(POOL_CHILD + (c - 1) * (1u << CHILD_MAX_BITS))};
			for (int i = 0; i < (1 << size_bits); i++)
				clear_slot(m.cs[c].base + i);
			m.o[o].rec = (int16_t)c;
			return o;
		}
		m.o[o].live = 0;
		return -1;
	}
	if (type == HL_OBJ_THREAD) {
		for (int t = 0; t < MTH; t++) {
			if (m.th[t].live)
				continue;
			m.th[t] =
			    (struct mthread){true, (int16_t)o, (uint16_t)(POOL_HELD + t * HELD)};
			for (int i = 0; i < HELD; i++)
				clear_slot(m.th[t].held + i);
			m.o[o].rec = (int16_t)t;
			return o;
		}
		m.o[o].live = 0;
		return -1;
	}
	if (type == HL_OBJ_SNAPSHOT) {
		for (int n = 0; n < MSN; n++) {
			if (m.sn[n].live)
				continue;
			m.sn[n] = (struct msnap){true, (int16_t)o,
			                         (uint16_t)(POOL_SNAP + n * SNAP_HELD), 0, 0};
			for (int i = 0; i < SNAP_HELD; i++)
				clear_slot(m.sn[n].held + i);
			m.o[o].rec = (int16_t)n;
			return o;
		}
		m.o[o].live = 0;
		return -1;
	}
	return o;
}

static bool same_object(const struct mslot *a, const struct mslot *b)
{
	return a->type != HL_OBJ_NONE && a->type == b->type && a->obj == b->obj;
}

static void link_child(int c, int p)
{
	m.s[c].parent = (int16_t)p;
	m.s[c].prev = -1;
	m.s[c].next = p >= 0 ? m.s[p].child : -1;
	if (m.s[c].next >= 0)
		m.s[m.s[c].next].prev = (int16_t)c;
	if (p >= 0)
		m.s[p].child = (int16_t)c;
}

static void unlink_slot(int s)
{
	struct mslot *x = &m.s[s];

	if (x->prev >= 0)
		m.s[x->prev].next = x->next;
	else if (x->parent >= 0)
		m.s[x->parent].child = x->next;
	if (x->next >= 0)
		m.s[x->next].prev = x->prev;
	x->parent = x->next = x->prev = -1;
}

void m_insert(int dst, uint8_t type, int obj, uint8_t rights, uint64_t badge, int parent)
{
	clear_slot(dst);
	m.s[dst].type = type;
	m.s[dst].obj = (int16_t)obj;
	m.s[dst].rights = rights;
	m.s[dst].badge = badge;
	link_child(dst, parent);
}

void m_move(int dst, int src)
{
	struct mslot *d = &m.s[dst], *s = &m.s[src];

	*d = *s;
	if (s->prev >= 0)
		m.s[s->prev].next = (int16_t)dst;
	else if (s->parent >= 0)
		m.s[s->parent].child = (int16_t)dst;
	if (s->next >= 0)
		m.s[s->next].prev = (int16_t)dst;
	for (int c = d->child; c >= 0; c = m.s[c].next)
		m.s[c].parent = (int16_t)dst;
	clear_slot(src);
}

bool m_final(int s)
{
	const struct mslot *x = &m.s[s];

	if (x->ext || (x->parent >= 0 && same_object(&m.s[x->parent], x)))
		return false;
	for (int c = x->child; c >= 0; c = m.s[c].next)
		if (same_object(&m.s[c], x))
			return false;
	return true;
}

static void destroy_cspace(int c)
{
	if (m.cs[c].dying)
		return;
	m.cs[c].dying = true;
	m.dying_next[c] = m.dying_head;
	m.dying_head = (int16_t)c;
	if (m.busy)
		return;
	m.busy = true;
	while (m.dying_head >= 0) {
		int d = m.dying_head;
		m.dying_head = m.dying_next[d];
		for (int i = 0; i < (1 << m.cs[d].bits); i++)
			m_delete(m.cs[d].base + i);
		m.cs[d].live = false;
	}
	m.busy = false;
}

static void destroy_thread(int o)
{
	struct mthread *t = &m.th[m.o[o].rec];

	for (int i = 0; i < MOBJ; i++) /* its bound notification lets go of it */
		if (m.o[i].live && m.o[i].type == HL_OBJ_NOTIFICATION && m.o[i].bound == o)
			m.o[i].bound = -1;
	for (int k = 0; k < HELD; k++)
		m_delete(t->held + k);
	t->live = false;
}

/* The kernel's snapshot_destroy: its threads' copies go first, then its address spaces'. */
static void destroy_snapshot(int o)
{
	struct msnap *n = &m.sn[m.o[o].rec];

	for (int k = HL_SNAP_MAX_ASPACES; k < SNAP_HELD; k++)
		m_delete(n->held + k);
	for (int k = 0; k < HL_SNAP_MAX_ASPACES; k++)
		m_delete(n->held + k);
	n->live = false;
}

/* What the kernel's cap_cleanup does for a deleted capability (cap: a copy of the slot as it was).
 */
static void cleanup(const struct mslot *cap, bool final)
{
	if (!final)
		return;
	int o = cap->obj;
	if (o < 0 || !m.o[o].live)
		return;
	if (cap->type == HL_OBJ_THREAD)
		destroy_thread(o);
	else if (cap->type == HL_OBJ_CSPACE && m.o[o].rec >= 0)
		destroy_cspace(m.o[o].rec);
	else if (cap->type == HL_OBJ_SNAPSHOT && m.o[o].rec >= 0)
		destroy_snapshot(o);
	m.o[o].live = 0;
	m.o[o].bound = -1;
}

void m_delete(int s)
{
	struct mslot *x = &m.s[s];

	if (x->type == HL_OBJ_NONE)
		return;
	struct mslot cap = *x;
	bool final = m_final(s);
	int parent = x->parent, heir = -1;
	for (int c = x->child; c >= 0 && heir < 0; c = m.s[c].next)
		if (same_object(&m.s[c], &cap))
			heir = c;
	if (heir >= 0) {
		unlink_slot(heir);
		link_child(heir, parent);
	}
	while (x->child >= 0) {
		int c = x->child;
		unlink_slot(c);
		link_child(c, heir >= 0 ? heir : parent);
	}
	unlink_slot(s);
	clear_slot(s);
	cleanup(&cap, final);
}

void m_revoke(int s)
{
	for (int n = 0; m.s[s].child >= 0 && n < 100000; n++) {
		int leaf = m.s[s].child;
		while (m.s[leaf].child >= 0)
			leaf = m.s[leaf].child;
		m_delete(leaf);
	}
}

void m_hold(int th_obj, int k, int src)
{
	int dst = m.th[m.o[th_obj].rec].held + k;

	m_delete(dst);
	if (src >= 0)
		m_insert(dst, m.s[src].type, m.s[src].obj, m.s[src].rights, m.s[src].badge, src);
}

void m_snap_add(int sn_obj, int src)
{
	struct msnap *n = &m.sn[m.o[sn_obj].rec];
	int dst = m.s[src].type == HL_OBJ_ASPACE ? n->held + n->nas++
	                                         : n->held + HL_SNAP_MAX_ASPACES + n->nth++;

	m_insert(dst, m.s[src].type, m.s[src].obj, m.s[src].rights, m.s[src].badge, src);
}
