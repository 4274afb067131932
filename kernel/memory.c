/*
 * Memory capabilities (untyped memory) and retype: objects are carved
 * from a memory capability at its watermark, in order, each aligned to its
 * own size, and become children of the memory capability. The watermark
 * goes back to zero only when the capability has no children left.
 */
#include <kernel/invoke.h>
#include <kernel/layout.h>
#include <kernel/object.h>
#include <kernel/pcidev.h>
#include <lib/string.h>

#define RETYPE_MAX 256

static bool creatable(uint32_t type, bool device)
{
	if (device)
		return type == HL_OBJ_FRAME || type == HL_OBJ_MEMORY;
	return type == HL_OBJ_MEMORY || type == HL_OBJ_FRAME || type == HL_OBJ_ASPACE ||
	       type == HL_OBJ_PAGE_TABLE || type == HL_OBJ_THREAD || type == HL_OBJ_ENDPOINT ||
	       type == HL_OBJ_NOTIFICATION || type == HL_OBJ_CSPACE || type == HL_OBJ_SNAPSHOT;
}

static uint64_t memory_used(const struct slot *m)
{
	return m->first_child ? m->cap.badge : 0;
}

int decode_memory_retype(struct invocation *inv)
{
	struct slot *m = inv->target;
	uint64_t type = inv->arg[0], size_bits = inv->arg[1], count = inv->arg[2],
	         dst = inv->arg[3];
	bool device = m->cap.flags & CAP_F_DEVICE;

	if (!(m->cap.rights & HL_R_WRITE))
		return HL_ERR_NO_RIGHTS;
	if (type >= HL_OBJ_COUNT || !creatable((uint32_t)type, device) || count == 0 ||
	    count > RETYPE_MAX)
		return HL_ERR_INVALID_ARG;
	int bits = object_bits((uint32_t)type, (uint32_t)size_bits);
	if (bits < 0 || (uint64_t)bits > m->cap.size_bits ||
	    (type == HL_OBJ_MEMORY && (uint64_t)bits == m->cap.size_bits))
		return HL_ERR_INVALID_ARG;
	if (dst + count > (1ull << inv->cspace->bits) || dst + count < dst)
		return HL_ERR_INVALID_CAP;
	for (uint64_t i = 0; i < count; i++)
		if (inv->cspace->slots[dst + i].cap.type != HL_OBJ_NONE)
			return HL_ERR_SLOT_OCCUPIED;
	uint64_t start = ALIGN_UP(memory_used(m), 1ull << bits);
	if (start + (count << bits) > (1ull << m->cap.size_bits))
		return HL_ERR_NO_MEMORY;
	if (device && type == HL_OBJ_FRAME &&
	    pcidev_range_protected(m->cap.obj + start, count << bits))
		return HL_ERR_NO_RIGHTS; /* an MSI-X table or PBA page: message addresses are the
		                            kernel's */

	/* Nothing can fail from here on. */
	for (uint64_t i = 0; i < count; i++) {
		uint64_t pa = m->cap.obj + start + (i << bits);
		struct cap c = {.type = (uint8_t)type, .rights = HL_R_ALL, .flags = CAP_F_ORIGINAL};
		c.size_bits = (uint8_t)(type == HL_OBJ_CSPACE ? size_bits : (uint64_t)bits);
		if (type == HL_OBJ_MEMORY || type == HL_OBJ_FRAME) {
			c.obj = pa;
			c.flags |= device ? CAP_F_DEVICE : 0;
		} else {
			c.obj = (uint64_t)phys_to_virt(pa);
		}
		if (!device)
			memset(phys_to_virt(pa), 0, 1ull << bits);
		if (type != HL_OBJ_MEMORY && type != HL_OBJ_FRAME)
			object_init((uint32_t)type, (uint32_t)size_bits, phys_to_virt(pa));
		else
			object_count_adjust((uint32_t)type, 1);
		cap_insert(&inv->cspace->slots[dst + i], &c, m);
	}
	m->cap.badge = start + (count << bits);
	return HL_OK;
}

int decode_memory_info(struct invocation *inv)
{
	struct slot *m = inv->target;

	inv->res[0] = m->cap.obj;
	inv->res[1] = m->cap.size_bits;
	inv->res[2] = (1ull << m->cap.size_bits) - memory_used(m);
	inv->res[3] = object_live_count(); /* kernel-wide, for leak checks */
	return HL_OK;
}
