/* 4-level page-table walker: map, unmap, protect, lookup. */
#include <arch/paging.h>

static unsigned idx(vaddr_t va, int level)
{
	return (va >> (12 + 9 * level)) & 511;
}

static bool is_canonical(vaddr_t va)
{
	return ((int64_t)(va << 16) >> 16) == (int64_t)va;
}

/*
 * Walk from root down to the table at stop_level (0 = PT, 1 = PD),
 * allocating missing tables when create. Returns NULL if a table is missing
 * (or could not be allocated: *err says which), or a large page is in the way.
 */
static uint64_t *walk(const struct pt_env *e, paddr_t root, vaddr_t va, int stop_level, bool create, int *err)
{
	uint64_t *t = e->p2v(root, e->ctx);

	for (int level = 3; level > stop_level; level--) {
		uint64_t *pte = &t[idx(va, level)];
		if (!(*pte & PTE_P)) {
			if (!create) {
				*err = PT_ENOENT;
				return NULL;
			}
			paddr_t n = e->alloc(e->ctx);
			if (!n) {
				*err = PT_ENOMEM;
				return NULL;
			}
			/* Intermediate entries are permissive; leaves decide. */
			*pte = n | PTE_P | PTE_W | PTE_U;
		} else if (*pte & PTE_PS) {
			*err = create ? PT_EEXIST : PT_ENOENT;
			return NULL;
		}
		t = e->p2v(*pte & PTE_ADDR, e->ctx);
	}
	return t;
}

int pt_map(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t pa, size_t size, uint64_t flags)
{
	int err = PT_OK;
	int level = size == HUGE_SIZE ? 1 : 0;

	if ((size != PAGE_SIZE && size != HUGE_SIZE) || (va | pa) & (size - 1) || !is_canonical(va) ||
	    pa & ~PTE_ADDR)
		return PT_EINVAL;
	uint64_t *t = walk(e, root, va, level, true, &err);
	if (!t)
		return err;
	uint64_t *pte = &t[idx(va, level)];
	if (*pte & PTE_P)
		return PT_EEXIST;
	flags &= PTE_FLAGS & ~PTE_PS;
	*pte = pa | flags | PTE_P | (level ? PTE_PS : 0);
	return PT_OK;
}

/* Find the leaf entry for va: returns it and its level, or NULL. */
static uint64_t *find_leaf(const struct pt_env *e, paddr_t root, vaddr_t va, int *level)
{
	uint64_t *t = e->p2v(root, e->ctx);

	if (!is_canonical(va))
		return NULL;
	for (int l = 3; l >= 0; l--) {
		uint64_t *pte = &t[idx(va, l)];
		if (!(*pte & PTE_P))
			return NULL;
		if (l == 0 || (*pte & PTE_PS)) {
			if (l == 3)
				return NULL;
			*level = l;
			return pte;
		}
		t = e->p2v(*pte & PTE_ADDR, e->ctx);
	}
	return NULL;
}

static bool table_empty(const uint64_t *t)
{
	for (int i = 0; i < 512; i++)
		if (t[i] & PTE_P)
			return false;
	return true;
}

/* Free page tables below the top level that became empty on the path to va. */
static void prune(const struct pt_env *e, paddr_t root, vaddr_t va, int leaf_level)
{
	if (!e->free)
		return; /* tables owned elsewhere (user page-table capabilities) stay hooked in */
	for (int stop = leaf_level; stop < 3; stop++) {
		int err;
		/* Kernel-half top-level entries are shared by every address space: keep them. */
		if (stop == 2 && va >= 0xffff800000000000ull)
			return;
		uint64_t *parent = walk(e, root, va, stop + 1, false, &err);
		if (!parent)
			return;
		uint64_t *pte = &parent[idx(va, stop + 1)];
		if (!(*pte & PTE_P) || (*pte & PTE_PS))
			return;
		if (!table_empty(e->p2v(*pte & PTE_ADDR, e->ctx)))
			return;
		paddr_t child = *pte & PTE_ADDR;
		*pte = 0;
		if (e->free)
			e->free(child, e->ctx);
	}
}

int pt_unmap(const struct pt_env *e, paddr_t root, vaddr_t va, size_t *size, paddr_t *pa)
{
	int level;
	uint64_t *pte = find_leaf(e, root, va, &level);

	if (!pte)
		return PT_ENOENT;
	size_t sz = level == 0 ? PAGE_SIZE : level == 1 ? HUGE_SIZE : 1ul << 30;
	if (size)
		*size = sz;
	if (pa) /* bit 12 of a large-page entry is PAT, not address */
		*pa = *pte & PTE_ADDR & ~(uint64_t)(sz - 1);
	*pte = 0;
	prune(e, root, va, level);
	return PT_OK;
}

int pt_protect(const struct pt_env *e, paddr_t root, vaddr_t va, uint64_t flags)
{
	int level;
	uint64_t *pte = find_leaf(e, root, va, &level);

	if (!pte)
		return PT_ENOENT;
	flags &= PTE_FLAGS & ~PTE_PS;
	*pte = (*pte & PTE_ADDR) | flags | PTE_P | (level ? PTE_PS : 0);
	return PT_OK;
}

bool pt_lookup(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t *pa, uint64_t *flags, size_t *size)
{
	int level;
	uint64_t *pte = find_leaf(e, root, va, &level);

	if (!pte)
		return false;
	size_t sz = level == 0 ? PAGE_SIZE : level == 1 ? HUGE_SIZE : 1ul << 30;
	uint64_t base = *pte & PTE_ADDR & ~(uint64_t)(sz - 1);
	if (pa)
		*pa = base + (va & (sz - 1));
	if (flags)
		*flags = *pte & PTE_FLAGS;
	if (size)
		*size = sz;
	return true;
}
