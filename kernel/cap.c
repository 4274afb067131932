/* Capability slots and the derivation tree. Runs under the big kernel lock. */
#include <kernel/cap.h>
#include <kernel/panic.h>
#include <lib/string.h>

struct slot *cspace_slot(struct cspace *cs, hl_cptr_t cptr)
{
	if (!cs || cptr >= (1ull << cs->bits))
		return NULL;
	return &cs->slots[cptr];
}

int cap_lookup(struct cspace *cs, hl_cptr_t cptr, uint8_t type, uint8_t rights, struct slot **out)
{
	struct slot *s = cspace_slot(cs, cptr);

	if (!s || s->cap.type == HL_OBJ_NONE)
		return HL_ERR_INVALID_CAP;
	if (type != HL_OBJ_NONE && s->cap.type != type)
		return HL_ERR_WRONG_TYPE;
	if ((s->cap.rights & rights) != rights)
		return HL_ERR_NO_RIGHTS;
	*out = s;
	return HL_OK;
}

/* Memory capabilities name (address, size): a smaller one can start where its parent does. */
bool cap_same_object(const struct cap *a, const struct cap *b)
{
	return a->type == b->type && a->obj == b->obj && a->type != HL_OBJ_NONE &&
	       (a->type != HL_OBJ_MEMORY || a->size_bits == b->size_bits);
}

/* [BKL] changes with every change to the derivation tree (cap_revoke's resumption). */
static uint64_t tree_epoch;

static void link_child(struct slot *child, struct slot *parent)
{
	tree_epoch++;
	child->parent = parent;
	child->prev = NULL;
	child->next = parent ? parent->first_child : NULL;
	if (child->next)
		child->next->prev = child;
	if (parent)
		parent->first_child = child;
}

static void unlink(struct slot *s)
{
	tree_epoch++;
	if (s->prev)
		s->prev->next = s->next;
	else if (s->parent)
		s->parent->first_child = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->parent = s->next = s->prev = NULL;
}

struct cap cap_derive(const struct cap *c)
{
	struct cap d = *c;

	d.flags &= ~CAP_F_ORIGINAL;
	if (d.type == HL_OBJ_FRAME || d.type == HL_OBJ_PAGE_TABLE)
		d.data = d.data2 = d.badge = 0; /* a copy starts unmapped */
	return d;
}

void cap_insert(struct slot *dst, const struct cap *cap, struct slot *parent)
{
	kassert(dst->cap.type == HL_OBJ_NONE);
	dst->cap = *cap;
	dst->first_child = NULL;
	link_child(dst, parent);
}

void cap_move(struct slot *dst, struct slot *src)
{
	kassert(dst->cap.type == HL_OBJ_NONE && src != dst);
	tree_epoch++;
	*dst = *src;
	if (src->prev)
		src->prev->next = dst;
	else if (src->parent)
		src->parent->first_child = dst;
	if (src->next)
		src->next->prev = dst;
	for (struct slot *c = dst->first_child; c; c = c->next)
		c->parent = dst;
	memset(src, 0, sizeof(*src));
}

/*
 * True when no other capability in the tree names s's object. Copies of a
 * capability are its children or its parent (an object created from
 * memory has the memory capability as parent, which names another object).
 */
bool cap_is_final(const struct slot *s)
{
	if (s->parent && cap_same_object(&s->parent->cap, &s->cap))
		return false;
	for (const struct slot *c = s->first_child; c; c = c->next)
		if (cap_same_object(&c->cap, &s->cap))
			return false;
	return true;
}

void cap_delete(struct slot *s)
{
	if (s->cap.type == HL_OBJ_NONE)
		return;
	struct cap cap = s->cap;
	bool final = cap_is_final(s);
	struct slot *parent = s->parent, *heir = NULL;
	/*
	 * The first child naming the same object takes s's place and adopts the
	 * other children; without one they go to the parent (or become roots).
	 * So every capability to an object stays in one subtree below its
	 * first one, which cap_is_final() relies on (handing sibling copies to
	 * the parent made the next of them look final while the others still
	 * named the object).
	 */
	for (struct slot *c = s->first_child; c && !heir; c = c->next)
		if (cap_same_object(&c->cap, &cap))
			heir = c;
	if (heir) {
		unlink(heir);
		link_child(heir, parent);
	}
	while (s->first_child) {
		struct slot *c = s->first_child;
		unlink(c);
		link_child(c, heir ? heir : parent);
	}
	unlink(s);
	memset(s, 0, sizeof(*s));
	cap_cleanup(&cap, final);
}

/*
 * Delete leaves, children first, so nothing is re-parented. The next leaf
 * is looked for from the parent of the last one, and a pass that ran out of
 * budget leaves that place for the next one if the tree has not changed in
 * between (tree_epoch): each slot is walked through once, so a chain of
 * depth D costs D steps, not D^2 / 2 under the big kernel lock (bug
 * revoke_of_a_deep_chain_was_quadratic). The parent is in s's subtree; if
 * a deletion emptied it (its cspace destroyed), it has no parent left and
 * the walk starts again from s.
 */
int cap_revoke(struct slot *s, uint32_t budget)
{
	static struct {
		struct slot *s, *cur;
		uint64_t epoch;
	} resume; /* [BKL] */
	struct slot *cur = resume.s == s && resume.epoch == tree_epoch ? resume.cur : s;

	resume.s = NULL;
	while (s->first_child) {
		if (budget-- == 0) {
			resume.s = s, resume.cur = cur, resume.epoch = tree_epoch;
			return -1;
		}
		if (cur == s || !cur->parent)
			cur = s->first_child;
		for (uint32_t depth = 0; cur->first_child && depth < 1000000; depth++)
			cur = cur->first_child;
		struct slot *up = cur->parent;
		cap_delete(cur);
		cur = up ? up : s;
	}
	return HL_OK;
}
