/*
 * Capability-space methods. The invoked capability names the destination
 * capability space; source slots are in the caller's own space.
 */
#include <kernel/invoke.h>

#define REVOKE_BUDGET 256 /* deletions per pass before a preemption point */

/* The destination slot in the target cspace, empty; or an error. */
static int dest_slot(struct invocation *inv, uint64_t idx, struct slot **out)
{
	struct slot *d = cspace_slot((struct cspace *)inv->target->cap.obj, idx);

	if (!d)
		return HL_ERR_INVALID_CAP;
	if (d->cap.type != HL_OBJ_NONE)
		return HL_ERR_SLOT_OCCUPIED;
	*out = d;
	return HL_OK;
}

/* Types whose capabilities may be duplicated. Memory may not: its watermark lives in the
 * capability. */
static bool copyable(const struct cap *c)
{
	return c->type != HL_OBJ_MEMORY && c->type != HL_OBJ_IRQ_CONTROL &&
	       c->type != HL_OBJ_IOPORT_CONTROL && c->type != HL_OBJ_REPLY &&
	       c->type != HL_OBJ_PCI_CONTROL && c->type != HL_OBJ_SCHED_CONTROL;
}

/* arg 0: empty destination slot in the target cspace; arg 1: source slot in the caller's. */
static int dest_and_source(struct invocation *inv, struct slot **d, struct slot **src)
{
	int err = dest_slot(inv, inv->arg[0], d);

	return err ? err : cap_lookup(inv->cspace, inv->arg[1], HL_OBJ_NONE, 0, src);
}

static int derive(struct invocation *inv, bool mint)
{
	struct slot *d, *src;
	int err = dest_and_source(inv, &d, &src);

	if (err)
		return err;
	if (!copyable(&src->cap))
		return HL_ERR_ILLEGAL_OP;
	if (inv->arg[2] & ~(uint64_t)HL_R_ALL)
		return HL_ERR_INVALID_ARG;
	struct cap c = cap_derive(&src->cap);
	c.rights &= (uint8_t)inv->arg[2];
	if (mint) {
		if (c.type != HL_OBJ_ENDPOINT && c.type != HL_OBJ_NOTIFICATION)
			return HL_ERR_WRONG_TYPE;
		if (src->cap.badge)
			return HL_ERR_ILLEGAL_OP; /* badges are set once */
		c.badge = inv->arg[3];
	}
	cap_insert(d, &c, src);
	return HL_OK;
}

int decode_cspace_copy(struct invocation *inv)
{
	return derive(inv, false);
}

int decode_cspace_mint(struct invocation *inv)
{
	return derive(inv, true);
}

int decode_cspace_move(struct invocation *inv)
{
	struct slot *d, *src;
	int err = dest_and_source(inv, &d, &src);

	if (err)
		return err;
	cap_move(d, src);
	return HL_OK;
}

int decode_cspace_delete(struct invocation *inv)
{
	struct slot *s = cspace_slot((struct cspace *)inv->target->cap.obj, inv->arg[0]);

	if (!s)
		return HL_ERR_INVALID_CAP;
	if (s == inv->target)
		return HL_ERR_ILLEGAL_OP; /* the capability being invoked */
	cap_delete(s);
	return HL_OK;
}

/*
 * cspace.delete_list(count): cspace.delete of each slot in the caller's IPC
 * buffer words 4 .. 4 + count - 1, in order (the Linux server unmaps a
 * process's pages with one call). The list is read before anything is
 * deleted (the buffer's own frame may be on it). res[0]: the entries done.
 * An entry that cspace.delete would refuse stops the call with that error,
 * the entries before it done, none after it (res[0] names it). Deleting
 * the last capability of the caller or of the invoked cspace's own slot
 * also ends the call there (HL_ERR_INVALID_CAP if entries were left).
 */
int decode_cspace_delete_list(struct invocation *inv)
{
	struct cspace *cs = (struct cspace *)inv->target->cap.obj;
	const struct hl_ipc_buffer *b = thread_ipcbuf(inv->caller);
	uint64_t n = inv->arg[0];
	hl_cptr_t list[HL_DELETE_LIST_MAX];

	inv->res[0] = 0;
	if (n > HL_DELETE_LIST_MAX || (n && !b))
		return HL_ERR_INVALID_ARG;
	for (uint64_t i = 0; i < n; i++)
		list[i] = b->mr[4 + i];
	for (uint64_t i = 0; i < n; i++) {
		struct slot *s = cspace_slot(cs, list[i]);
		if (!s)
			return HL_ERR_INVALID_CAP;
		if (s == inv->target)
			return HL_ERR_ILLEGAL_OP; /* the capability being invoked */
		cap_delete(s);
		inv->res[0] = i + 1;
		if (inv->caller->magic != THREAD_MAGIC)
			return HL_OK; /* the caller deleted itself: nobody to tell */
		if (inv->target->cap.type != HL_OBJ_CSPACE ||
		    (struct cspace *)inv->target->cap.obj != cs)
			return i + 1 < n ? HL_ERR_INVALID_CAP
			                 : HL_OK; /* the invoked capability went */
	}
	return HL_OK;
}

int decode_cspace_revoke(struct invocation *inv)
{
	struct slot *s = cspace_slot((struct cspace *)inv->target->cap.obj, inv->arg[0]);

	if (!s || s->cap.type == HL_OBJ_NONE)
		return HL_ERR_INVALID_CAP;
	if (cap_revoke(s, REVOKE_BUDGET) != HL_OK) {
		inv->restart = true; /* preemption point: run the call again */
		return HL_OK;
	}
	if (s->cap.type == HL_OBJ_MEMORY)
		s->cap.badge = 0;
	return HL_OK;
}
