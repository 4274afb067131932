/* Object sizes, creation and destruction by type. */
#include <kernel/aspace.h>
#include <kernel/ipc.h>
#include <kernel/irq.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/object.h>
#include <kernel/pcidev.h>
#include <kernel/snapshot.h>
#include <kernel/vm.h>
#include <lib/string.h>

static uint64_t live[HL_OBJ_COUNT]; /* [BKL] objects alive per type */

int object_bits(uint32_t type, uint32_t size_bits)
{
	switch (type) {
	case HL_OBJ_MEMORY:
		return size_bits >= 12 && size_bits <= 47 ? (int)size_bits : -1;
	case HL_OBJ_FRAME:
		return size_bits == 12 || size_bits == 21 ? (int)size_bits : -1;
	case HL_OBJ_ASPACE:
		return ASPACE_OBJ_BITS;
	case HL_OBJ_PAGE_TABLE:
		return 12;
	case HL_OBJ_THREAD:
		return THREAD_OBJ_BITS;
	case HL_OBJ_ENDPOINT:
	case HL_OBJ_NOTIFICATION:
		return 6;
	case HL_OBJ_SNAPSHOT:
		return size_bits >= HL_SNAP_MIN_BITS && size_bits <= HL_SNAP_MAX_BITS
		           ? (int)size_bits
		           : -1;
	case HL_OBJ_CSPACE: {
		if (size_bits < 1 || size_bits > 12)
			return -1;
		int b = 6;
		while ((1ull << b) < cspace_bytes(size_bits))
			b++;
		return b;
	}
	default:
		return -1;
	}
}

void object_init(uint32_t type, uint32_t size_bits, void *p)
{
	switch (type) {
	case HL_OBJ_CSPACE:
		((struct cspace *)p)->bits = size_bits;
		break;
	case HL_OBJ_THREAD:
		thread_init_object(p);
		break;
	case HL_OBJ_NOTIFICATION:
		((struct notification *)p)->irq = -1;
		break;
	case HL_OBJ_ASPACE:
		aspace_init(p);
		break;
	case HL_OBJ_SNAPSHOT:
		snapshot_init(p, size_bits);
		break;
	}
	live[type]++;
}

void object_count_adjust(uint32_t type, int delta)
{
	live[type] += delta;
}

uint64_t object_live_count(void)
{
	uint64_t n = 0;

	for (int i = 0; i < HL_OBJ_COUNT; i++)
		n += live[i];
	return n;
}

/*
 * Empty a cspace that is going away. Its slots may hold the last
 * capability to other cspaces (which may hold more): those join a list and
 * are emptied by the outermost call, one after another, so a chain of any
 * length never nests deeper than one level (it used to recurse once per
 * link and overflow the kernel stack).
 */
static void cspace_destroy(struct cspace *cs)
{
	static struct cspace *dying; /* [BKL] */
	static bool busy;            /* [BKL] an outer call is emptying the list */

	if (cs->pad) { /* destroyed before: the derivation tree is broken; never loop on it */
		pr_warn("cspace %p destroyed twice; ignored", (void *)cs);
		return;
	}
	cs->pad = 1;
	cs->next_dying = dying;
	dying = cs;
	if (busy)
		return;
	busy = true;
	while (dying) {
		cs = dying;
		dying = cs->next_dying;
		for (uint64_t i = 0; i < (1ull << cs->bits); i++)
			cap_delete(&cs->slots[i]);
	}
	busy = false;
}

void cap_cleanup(struct cap *cap, bool final)
{
	if (cap->type == HL_OBJ_FRAME)
		frame_cap_destroy(cap); /* each frame capability holds its own mapping */
	else if (cap->type == HL_OBJ_PAGE_TABLE)
		pt_cap_destroy(cap);
	else if (cap->type == HL_OBJ_NOTIFICATION && (cap->flags & CAP_F_BINDING))
		((struct notification *)cap->obj)->bound =
		    NULL; /* however the bound thread's copy went (a revoke) */
	if (!final)
		return;
	switch (cap->type) {
	case HL_OBJ_THREAD:
		thread_destroy((struct thread *)cap->obj);
		break;
	case HL_OBJ_ENDPOINT:
		ipc_endpoint_destroy((struct endpoint *)cap->obj);
		break;
	case HL_OBJ_NOTIFICATION:
		ntfn_destroy((struct notification *)cap->obj);
		break;
	case HL_OBJ_CSPACE:
		cspace_destroy((struct cspace *)cap->obj);
		break;
	case HL_OBJ_ASPACE:
		aspace_destroy((struct aspace *)cap->obj, cap);
		break;
	case HL_OBJ_IRQ_HANDLER:
		irq_handler_destroy(cap);
		break;
	case HL_OBJ_PCI_DEVICE:
		pcidev_destroy(cap);
		break;
	case HL_OBJ_SNAPSHOT:
		snapshot_destroy((struct snapshot *)cap->obj);
		break;
	default:
		break;
	}
	if (cap->type < HL_OBJ_COUNT && live[cap->type])
		live[cap->type]--;
}
