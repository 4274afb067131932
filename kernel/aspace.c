/*
 * Address spaces, frames and page tables as capability-managed objects.
 *
 * User page tables are objects too (HL_OBJ_PAGE_TABLE), retyped from
 * memory and inserted with aspace.map_table, so every byte of a partition's
 * page tables is charged to its memory. A frame or table capability
 * remembers where it is mapped (one mapping per capability) together with
 * the address space's id, so unmapping after the address space is gone (or
 * its memory reused) touches nothing.
 *
 * A page table is hooked in at one place at most, whatever capability
 * names it: that is the table object's own state, kept in hooks[] below
 * (the object is the whole 4 KiB table, with no room for it). Every walk of
 * a user address space goes only through tables hooks[] vouches for at
 * that level, so an entry the kernel did not write is never followed.
 * Unhooking a table empties it: what was mapped through it can never come
 * back by hooking it in again.
 */
#include <arch/console.h>
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/invoke.h>
#include <kernel/layout.h>
#include <kernel/klog.h>
#include <kernel/panic.h>
#include <kernel/pcidev.h>
#include <kernel/percpu.h>
#include <kernel/pmm.h>
#include <kernel/snapshot.h>
#include <kernel/vm.h>
#include <lib/string.h>

static uint64_t next_id = 1; /* [BKL] */

/*
 * One word per physical page: id << 2 | level for a page hooked in as a
 * user page table (level as in aspace.map_table: 3 = PDPT, 2 = PD, 1 = PT)
 * by the address space with that id; 0 for any other page.
 */
static uint64_t *hooks;     /* [BKL] */
static uint64_t hook_pages; /* [I] pages hooks[] covers, from physical 0 */

void aspace_hooks_init(void)
{
	uint64_t bytes = ALIGN_UP(pmm_frame_count() * sizeof(uint64_t), PAGE_SIZE);
	paddr_t pa = pmm_alloc_pages(bytes / PAGE_SIZE, 1);

	if (!pa)
		panic("aspace: no room for the page-table records (%lu bytes)", bytes);
	hooks = phys_to_virt(pa);
	memset(hooks, 0, bytes);
	hook_pages = pmm_frame_count();
}

/* The record of a page that can be a page table (pmm's frames all lie below hook_pages). */
static uint64_t *hook_of(paddr_t pa)
{
	kassert(pa / PAGE_SIZE < hook_pages);
	return &hooks[pa / PAGE_SIZE];
}

static uint64_t hook_word(const struct aspace *as, uint64_t level)
{
	return as->id << 2 | level;
}

bool aspace_table_owned(const struct aspace *as, paddr_t pa, int level)
{
	uint64_t pfn = pa / PAGE_SIZE;

	return pfn < hook_pages && level >= 1 && level <= 3 &&
	       hooks[pfn] == hook_word(as, (uint64_t)level);
}

static void *hhdm(paddr_t pa, void *ctx)
{
	(void)ctx;
	return phys_to_virt(pa);
}

static paddr_t no_alloc(int level, void *ctx)
{
	(void)level, (void)ctx;
	return 0;
}

/* pt_env levels count from the PT (0); hooks[] from the PT's entry (1). */
static bool table_ok(paddr_t pa, int level, void *ctx)
{
	return aspace_table_owned(ctx, pa, level + 1);
}

/* Walks of as's user half: never allocating, only through tables hooked in as. */
static struct pt_env uenv(struct aspace *as)
{
	return (struct pt_env){hhdm, no_alloc, NULL, as, table_ok};
}

bool aspace_lookup(struct aspace *as, vaddr_t va, paddr_t *pa, uint64_t *flags)
{
	struct pt_env env = uenv(as);

	return pt_lookup(&env, as->root, va, pa, flags, NULL);
}

void aspace_init(struct aspace *as)
{
	memcpy(&as->pml4[256], (uint64_t *)phys_to_virt(kernel_pml4) + 256, 256 * sizeof(uint64_t));
	as->magic = ASPACE_MAGIC;
	as->id = next_id++;
	as->root = virt_to_phys(as->pml4);
	as->cr3 = arch_aspace_tag(as->root, as->id);
}

void aspace_flush_all(struct aspace *as)
{
	arch_tlb_shootdown(as, false);
}

/* The address space a frame or table capability's mapping is in still exists (never for a DMA
 * mapping). */
static bool alive(const struct cap *c)
{
	if (c->type == HL_OBJ_FRAME && (c->data & FRAME_DMA))
		return false;
	struct aspace *as = (struct aspace *)c->data2;
	return as && as->magic == ASPACE_MAGIC && as->id == c->badge;
}

/*
 * PTE flags for a user mapping: device memory uncached (PAT entry 3) or,
 * asked with HL_MAP_WC, write-combining (entry 4, programmed at boot on
 * every CPU: cpu_enable_protections).
 */
uint64_t aspace_pte_flags(uint32_t rights, bool device, bool wc)
{
	uint64_t f = PTE_U;

	if (rights & HL_R_WRITE)
		f |= PTE_W;
	if (!(rights & HL_R_EXEC))
		f |= PTE_NX;
	if (device && wc)
		f |= PTE_PAT;
	else if (device)
		f |= PTE_PCD | PTE_PWT;
	return f;
}

/*
 * User mappings lie in [PAGE_SIZE, USER_MAP_TOP): the first page stays
 * unmapped for null pointers, the last page below USER_TOP so that a
 * syscall instruction can never end at USER_TOP (its return address would
 * be non-canonical, which sysret must not be given).
 */
static bool user_range(uint64_t va, uint64_t size)
{
	return va >= PAGE_SIZE && va + size <= USER_MAP_TOP && va + size > va;
}

int decode_aspace_map(struct invocation *inv)
{
	struct aspace *as = (struct aspace *)inv->target->cap.obj;
	struct slot *f;
	uint64_t va = inv->arg[1], rights = inv->arg[2] & ~(uint64_t)HL_MAP_WC;
	bool wc = inv->arg[2] & HL_MAP_WC, device;
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, 0, &f);

	if (err)
		return err;
	uint64_t size = 1ull << f->cap.size_bits;
	if (f->cap.data)
		return HL_ERR_ALREADY_MAPPED;
	if ((va & (size - 1)) || !user_range(va, size) ||
	    (rights & ~(uint64_t)(HL_R_READ | HL_R_WRITE | HL_R_EXEC)))
		return HL_ERR_INVALID_ARG;
	device = f->cap.flags & CAP_F_DEVICE;
	if (wc && (!device || !cpu_feat.pat))
		return HL_ERR_INVALID_ARG; /* write-combining is for device memory */
	if ((rights & f->cap.rights) != rights)
		return HL_ERR_NO_RIGHTS;
	/* With a non-allocating walk, a missing table fails before any change. */
	struct pt_env env = uenv(as);
	err = pt_map(&env, as->root, va, f->cap.obj, size,
	             snapshot_leaf_flags(as, aspace_pte_flags((uint32_t)rights, device, wc)));
	if (err == PT_ENOMEM)
		return HL_ERR_NO_TABLE;
	if (err == PT_EEXIST)
		return HL_ERR_ALREADY_MAPPED;
	if (err == PT_EBADTABLE)
		pr_err("aspace %lu: an entry on the path to %#lx leads to no table of its own",
		       as->id, va);
	if (err)
		return HL_ERR_INVALID_ARG;
	f->cap.data = va | FRAME_MAPPED | (wc ? FRAME_WC : 0);
	f->cap.data2 = (uint64_t)as;
	f->cap.badge = as->id;
	if (device) /* the screen's new owner: the kernel stops drawing there */
		fbcon_claimed(f->cap.obj, size);
	return HL_OK;
}

/* Remove the mapping recorded in a frame capability, if it is still there. */
static void frame_unmap(struct cap *c)
{
	if (!c->data)
		return;
	if (c->data & FRAME_DMA) {
		pcidev_dma_unmap(c);
		return;
	}
	if (alive(c)) {
		struct aspace *as = (struct aspace *)c->data2;
		struct pt_env env = uenv(as);
		uint64_t va = c->data & 0x0000fffffffff000ull;
		if (pt_unmap_if(&env, as->root, va, c->obj, 1ull << c->size_bits) == PT_OK)
			aspace_flush_all(as);
	}
	c->data = c->data2 = c->badge = 0;
}

int decode_aspace_unmap(struct invocation *inv)
{
	struct slot *f;
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, 0, &f);

	if (err)
		return err;
	if (!f->cap.data)
		return HL_ERR_NOT_MAPPED;
	if ((struct aspace *)f->cap.data2 != (struct aspace *)inv->target->cap.obj)
		return HL_ERR_INVALID_ARG;
	frame_unmap(&f->cap);
	return HL_OK;
}

/* From now on no snapshot may add this address space (the manifest's `snapshot refuse`). One
 * already taken of it is ILLEGAL_OP: refuse before the address space is handed out. */
int decode_aspace_refuse_snapshots(struct invocation *inv)
{
	struct aspace *as = (struct aspace *)inv->target->cap.obj;

	if (as->snap)
		return HL_ERR_ILLEGAL_OP;
	as->no_snapshot = 1;
	return HL_OK;
}

int decode_aspace_protect(struct invocation *inv)
{
	struct slot *f;
	uint64_t rights = inv->arg[1];
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, 0, &f);

	if (err)
		return err;
	if (!f->cap.data || !alive(&f->cap) ||
	    (struct aspace *)f->cap.data2 != (struct aspace *)inv->target->cap.obj)
		return HL_ERR_NOT_MAPPED;
	if (rights & ~(uint64_t)(HL_R_READ | HL_R_WRITE | HL_R_EXEC))
		return HL_ERR_INVALID_ARG;
	if ((rights & f->cap.rights) != rights)
		return HL_ERR_NO_RIGHTS;
	struct aspace *as = (struct aspace *)f->cap.data2;
	struct pt_env env = uenv(as);
	uint64_t va = f->cap.data & 0x0000fffffffff000ull;
	uint64_t flags =
	    aspace_pte_flags((uint32_t)rights, f->cap.flags & CAP_F_DEVICE, f->cap.data & FRAME_WC);
	if (pt_protect(&env, as->root, va, snapshot_leaf_flags(as, flags)))
		return HL_ERR_NOT_MAPPED;
	aspace_flush_all(as);
	return HL_OK;
}

/*
 * The entry in as that holds (or would hold) the table of the given level
 * (3 = PDPT, 2 = PD, 1 = PT) for va, or NULL with the error: the tables
 * above are missing (HL_ERR_NO_TABLE) or a large page is in the way.
 */
static uint64_t *table_entry(struct aspace *as, uint64_t va, uint64_t level, int *err)
{
	struct pt_env env = uenv(as);
	int pt_err;
	uint64_t *t = pt_table(&env, as->root, va, (int)level, &pt_err);

	*err = pt_err == PT_ENOENT   ? HL_ERR_NO_TABLE
	       : pt_err == PT_EEXIST ? HL_ERR_ALREADY_MAPPED
	                             : HL_ERR_INVALID_ARG;
	return t ? &t[pt_index(va, (int)level)] : NULL;
}

/* Table levels: 3 = PDPT (in the PML4), 2 = PD, 1 = PT. */
int decode_aspace_map_table(struct invocation *inv)
{
	struct aspace *as = (struct aspace *)inv->target->cap.obj;
	struct slot *t;
	uint64_t va = inv->arg[1], level = inv->arg[2];
	int err = inv_cap(inv, 0, HL_OBJ_PAGE_TABLE, 0, &t);

	if (err)
		return err;
	paddr_t pa = virt_to_phys((void *)t->cap.obj);
	/* The table's own state, not the capability's: a copy of a hooked table's capability is
	 * refused too. */
	if (t->cap.data || *hook_of(pa))
		return HL_ERR_ALREADY_MAPPED;
	if (level < 1 || level > 3 || va >= USER_TOP)
		return HL_ERR_INVALID_ARG;
	uint64_t *e = table_entry(as, va, level, &err);
	if (!e)
		return err;
	if (*e & PTE_P)
		return HL_ERR_ALREADY_MAPPED;
	/* Nothing can fail from here on. */
	*hook_of(pa) = hook_word(as, level);
	*e = pa | PTE_P | PTE_W | PTE_U;
	t->cap.data = (va & ~((1ull << (12 + 9 * level)) - 1)) | level << 1 | 1;
	t->cap.data2 = (uint64_t)as;
	t->cap.badge = as->id;
	return HL_OK;
}

/*
 * Unhook the table that the capability c hooked in, wherever it is now:
 * its entry is cleared if its address space still holds it there, and the
 * table is emptied, so hooking it in again later brings back none of the
 * mappings it held. Tables below it stay hooked to their (now unreachable)
 * place until their own capabilities unhook them.
 */
void pt_cap_destroy(struct cap *c)
{
	if (!c->data)
		return;
	paddr_t pa = virt_to_phys((void *)c->obj);
	if (alive(c)) {
		struct aspace *as = (struct aspace *)c->data2;
		uint64_t level = (c->data >> 1) & 3, va = c->data & 0x0000fffffffff000ull;
		int err;
		uint64_t *e = table_entry(as, va, level, &err);
		if (e && (*e & PTE_P) && (*e & PTE_ADDR) == pa) {
			*e = 0;
			aspace_flush_all(
			    as); /* no CPU walks the table any more: now it may change */
		}
	}
	memset((void *)c->obj, 0, PAGE_SIZE);
	*hook_of(pa) = 0;
	c->data = c->data2 = c->badge = 0;
}

void frame_cap_destroy(struct cap *c)
{
	frame_unmap(c);
}

/* No CPU may keep this top-level table loaded once its memory can be reused. */
void aspace_destroy(struct aspace *as, const struct cap *cap)
{
	(void)cap;
	arch_tlb_shootdown(as, true);
	as->magic = 0;
}

int decode_frame_paddr(struct invocation *inv)
{
	inv->res[0] = inv->target->cap.obj;
	return HL_OK;
}

static paddr_t (*boot_alloc_fn)(void);

/* A table for the root task's address space: kernel memory, recorded as hooked like a page-table
 * object. */
static paddr_t boot_alloc(int level, void *ctx)
{
	paddr_t pa = boot_alloc_fn();
	if (pa) {
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
		*hook_of(pa) = hook_word(ctx, (uint64_t)level + 1);
	}
	return pa;
}

int aspace_map_boot(struct aspace *as, uint64_t va, paddr_t pa, uint64_t flags,
                    paddr_t (*alloc)(void))
{
	struct pt_env env = {hhdm, boot_alloc, NULL, as, table_ok};

	boot_alloc_fn = alloc;
	return pt_map(&env, as->root, va, pa, PAGE_SIZE, flags | PTE_U);
}

void aspace_forget_boot_table(paddr_t pa)
{
	*hook_of(pa) = 0;
}
