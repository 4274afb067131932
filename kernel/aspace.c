/*
 * Address spaces, frames and page tables as capability-managed objects.
 *
 * User page tables are objects too (HL_OBJ_PAGE_TABLE), retyped from
 * memory and inserted with aspace.map_table, so every byte of a partition's
 * page tables is charged to its memory. A frame or table capability
 * remembers where it is mapped (one mapping per capability) together with
 * the address space's id, so unmapping after the address space is gone (or
 * its memory reused) touches nothing.
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/invoke.h>
#include <kernel/layout.h>
#include <kernel/percpu.h>
#include <kernel/vm.h>
#include <lib/string.h>

static uint64_t next_id = 1; /* [BKL] */

static void *hhdm(paddr_t pa, void *ctx)
{
	(void)ctx;
	return phys_to_virt(pa);
}

static paddr_t no_alloc(void *ctx)
{
	(void)ctx;
	return 0;
}

/* Walks never allocate: missing tables are the caller's to provide. */
static const struct pt_env uenv = { hhdm, no_alloc, NULL, NULL };

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

static bool alive(const struct cap *c)
{
	struct aspace *as = (struct aspace *)c->data2;
	return as && as->magic == ASPACE_MAGIC && as->id == (c->data >> 48);
}

static uint64_t pte_flags(uint32_t rights, bool device)
{
	uint64_t f = PTE_U;

	if (rights & HL_R_WRITE)
		f |= PTE_W;
	if (!(rights & HL_R_EXEC))
		f |= PTE_NX;
	if (device)
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
	uint64_t va = inv->arg[1], rights = inv->arg[2];
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, 0, &f);

	if (err)
		return err;
	uint64_t size = 1ull << f->cap.size_bits;
	if (f->cap.data)
		return HL_ERR_ALREADY_MAPPED;
	if ((va & (size - 1)) || !user_range(va, size) || (rights & ~(uint64_t)(HL_R_READ | HL_R_WRITE | HL_R_EXEC)))
		return HL_ERR_INVALID_ARG;
	if ((rights & f->cap.rights) != rights)
		return HL_ERR_NO_RIGHTS;
	/* With a non-allocating walk, a missing table fails before any change. */
	err = pt_map(&uenv, as->root, va, f->cap.obj, size,
		     pte_flags((uint32_t)rights, f->cap.flags & CAP_F_DEVICE));
	if (err == PT_ENOMEM)
		return HL_ERR_NO_TABLE;
	if (err == PT_EEXIST)
		return HL_ERR_ALREADY_MAPPED;
	if (err)
		return HL_ERR_INVALID_ARG;
	f->cap.data = va | 1 | as->id << 48;
	f->cap.data2 = (uint64_t)as;
	return HL_OK;
}

/* Remove the mapping recorded in a frame capability, if it is still there. */
static void frame_unmap(struct cap *c)
{
	if (!c->data)
		return;
	if (alive(c)) {
		struct aspace *as = (struct aspace *)c->data2;
		uint64_t va = c->data & 0x0000fffffffff000ull;
		paddr_t pa;
		if (pt_lookup(&uenv, as->root, va, &pa, NULL, NULL) && ALIGN_DOWN(pa, 1ull << c->size_bits) == c->obj &&
		    pt_unmap(&uenv, as->root, va, NULL, NULL) == PT_OK)
			aspace_flush_all(as);
	}
	c->data = c->data2 = 0;
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

int decode_aspace_protect(struct invocation *inv)
{
	struct slot *f;
	uint64_t rights = inv->arg[1];
	int err = inv_cap(inv, 0, HL_OBJ_FRAME, 0, &f);

	if (err)
		return err;
	if (!f->cap.data || !alive(&f->cap) || (struct aspace *)f->cap.data2 != (struct aspace *)inv->target->cap.obj)
		return HL_ERR_NOT_MAPPED;
	if (rights & ~(uint64_t)(HL_R_READ | HL_R_WRITE | HL_R_EXEC))
		return HL_ERR_INVALID_ARG;
	if ((rights & f->cap.rights) != rights)
		return HL_ERR_NO_RIGHTS;
	struct aspace *as = (struct aspace *)f->cap.data2;
	uint64_t va = f->cap.data & 0x0000fffffffff000ull;
	if (pt_protect(&uenv, as->root, va, pte_flags((uint32_t)rights, f->cap.flags & CAP_F_DEVICE)))
		return HL_ERR_NOT_MAPPED;
	aspace_flush_all(as);
	return HL_OK;
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
	if (t->cap.data)
		return HL_ERR_ALREADY_MAPPED;
	if (level < 1 || level > 3 || va >= USER_TOP)
		return HL_ERR_INVALID_ARG;
	uint64_t *table = as->pml4;
	for (uint64_t l = 4; l > level + 1; l--) {
		uint64_t e = table[(va >> (12 + 9 * (l - 1))) & 511];
		if (!(e & PTE_P))
			return HL_ERR_NO_TABLE;
		if (e & PTE_PS)
			return HL_ERR_ALREADY_MAPPED;
		table = phys_to_virt(e & PTE_ADDR);
	}
	uint64_t *e = &table[(va >> (12 + 9 * level)) & 511];
	if (*e & PTE_P)
		return HL_ERR_ALREADY_MAPPED;
	*e = virt_to_phys((void *)t->cap.obj) | PTE_P | PTE_W | PTE_U;
	t->cap.data = (va & ~((1ull << (12 + 9 * level)) - 1)) | level << 1 | 1 | as->id << 48;
	t->cap.data2 = (uint64_t)as;
	return HL_OK;
}

/* Unhook a page table from its address space (its entries die with it). */
void pt_cap_destroy(struct cap *c)
{
	if (!c->data)
		return;
	if (alive(c)) {
		struct aspace *as = (struct aspace *)c->data2;
		uint64_t level = (c->data >> 1) & 3, va = c->data & 0x0000fffffffff000ull;
		uint64_t *table = as->pml4;
		for (uint64_t l = 4; l > level + 1 && table; l--) {
			uint64_t e = table[(va >> (12 + 9 * (l - 1))) & 511];
			table = (e & PTE_P) && !(e & PTE_PS) ? phys_to_virt(e & PTE_ADDR) : NULL;
		}
		if (table) {
			uint64_t *e = &table[(va >> (12 + 9 * level)) & 511];
			if ((*e & PTE_ADDR) == virt_to_phys((void *)c->obj)) {
				*e = 0;
				aspace_flush_all(as);
			}
		}
	}
	c->data = c->data2 = 0;
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

static paddr_t boot_alloc(void *ctx)
{
	(void)ctx;
	paddr_t pa = boot_alloc_fn();
	if (pa)
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

int aspace_map_boot(struct aspace *as, uint64_t va, paddr_t pa, uint64_t flags, paddr_t (*alloc)(void))
{
	struct pt_env env = { hhdm, boot_alloc, NULL, NULL };

	boot_alloc_fn = alloc;
	return pt_map(&env, as->root, va, pa, PAGE_SIZE, flags | PTE_U);
}
