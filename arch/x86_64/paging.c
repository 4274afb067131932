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
 * The table that a present, non-large entry of a level-`level` table points
 * to, or NULL (*err = PT_EBADTABLE) when the environment does not vouch
 * for it as a table of level - 1.
 */
static uint64_t *follow(const struct pt_env *e, uint64_t pte, int level, int *err)
{
	paddr_t pa = pte & PTE_ADDR;

	if (e->table_ok && !e->table_ok(pa, level - 1, e->ctx)) {
		*err = PT_EBADTABLE;
		return NULL;
	}
	return e->p2v(pa, e->ctx);
}

/*
 * Walk from root down to the table at stop_level (0 = PT, 1 = PD),
 * allocating missing tables when create. Returns NULL if a table is missing
 * (or could not be allocated: *err says which), a large page is in the way
 * (PT_EEXIST), or an entry leads to a table the environment refuses.
 */
static uint64_t *walk(const struct pt_env *e, paddr_t root, vaddr_t va, int stop_level, bool create,
                      int *err)
{
	uint64_t *t = e->p2v(root, e->ctx);

	for (int level = 3; level > stop_level && t; level--) {
		uint64_t *pte = &t[idx(va, level)];
		if (!(*pte & PTE_P)) {
			if (!create) {
				*err = PT_ENOENT;
				return NULL;
			}
			paddr_t n = e->alloc(level - 1, e->ctx);
			if (!n) {
				*err = PT_ENOMEM;
				return NULL;
			}
			/* Intermediate entries are permissive; leaves decide. */
			*pte = n | PTE_P | PTE_W | PTE_U;
		} else if (*pte & PTE_PS) {
			*err = PT_EEXIST;
			return NULL;
		}
		t = follow(e, *pte, level, err);
	}
	return t;
}

uint64_t *pt_table(const struct pt_env *e, paddr_t root, vaddr_t va, int level, int *err)
{
	*err = PT_OK;
	if (level < 0 || level > 3 || !is_canonical(va)) {
		*err = PT_EINVAL;
		return NULL;
	}
	return walk(e, root, va, level, false, err);
}

/*
 * The flag bits of a leaf entry at level: the caller's flags without PS
 * (a 4 KiB request never becomes a large page), PS for a large page, and
 * PTE_PAT moved to the PAT bit of the level.
 */
static uint64_t leaf_bits(uint64_t flags, int level)
{
	bool pat = flags & PTE_PAT;

	flags &= PTE_FLAGS & ~(PTE_PS | PTE_PAT);
	if (level == 0)
		return flags | PTE_P | (pat ? PTE_PAT_4K : 0);
	return flags | PTE_P | PTE_PS | (pat ? PTE_PAT_LARGE : 0);
}

int pt_map(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t pa, size_t size,
           uint64_t flags)
{
	int err = PT_OK;
	int level = size == HUGE_SIZE ? 1 : 0;

	if ((size != PAGE_SIZE && size != HUGE_SIZE) || (va | pa) & (size - 1) ||
	    !is_canonical(va) || pa & ~PTE_ADDR)
		return PT_EINVAL;
	uint64_t *t = walk(e, root, va, level, true, &err);
	if (!t)
		return err;
	uint64_t *pte = &t[idx(va, level)];
	if (*pte & PTE_P)
		return PT_EEXIST;
	*pte = pa | leaf_bits(flags, level);
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
		int err;
		t = follow(e, *pte, l, &err);
		if (!t)
			return NULL;
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
		const uint64_t *child_table = follow(e, *pte, stop + 1, &err);
		if (!child_table || !table_empty(child_table))
			return;
		paddr_t child = *pte & PTE_ADDR;
		*pte = 0;
		if (e->free)
			e->free(child, e->ctx);
	}
}

/* Clear the leaf pte of level that maps va, report its size and frame, prune empty tables. */
static void unmap_leaf(const struct pt_env *e, paddr_t root, vaddr_t va, uint64_t *pte, int level,
                       size_t *size, paddr_t *pa)
{
	size_t sz = level == 0 ? PAGE_SIZE : level == 1 ? HUGE_SIZE : 1ul << 30;

	if (size)
		*size = sz;
	if (pa) /* bit 12 of a large-page entry is PAT, not address */
		*pa = *pte & PTE_ADDR & ~(uint64_t)(sz - 1);
	*pte = 0;
	prune(e, root, va, level);
}

int pt_unmap(const struct pt_env *e, paddr_t root, vaddr_t va, size_t *size, paddr_t *pa)
{
	int level;
	uint64_t *pte = find_leaf(e, root, va, &level);

	if (!pte)
		return PT_ENOENT;
	unmap_leaf(e, root, va, pte, level, size, pa);
	return PT_OK;
}

int pt_unmap_if(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t frame, size_t frame_size)
{
	int level;
	uint64_t *pte = find_leaf(e, root, va, &level);

	if (!pte)
		return PT_ENOENT;
	size_t sz = level == 0 ? PAGE_SIZE : level == 1 ? HUGE_SIZE : 1ul << 30;
	paddr_t pa = (*pte & PTE_ADDR & ~(uint64_t)(sz - 1)) + (va & (sz - 1));
	if ((pa & ~(uint64_t)(frame_size - 1)) != frame)
		return PT_ENOENT;
	unmap_leaf(e, root, va, pte, level, NULL, NULL);
	return PT_OK;
}

int pt_protect(const struct pt_env *e, paddr_t root, vaddr_t va, uint64_t flags)
{
	int level;
	uint64_t *pte = find_leaf(e, root, va, &level);

	if (!pte)
		return PT_ENOENT;
	*pte = (*pte & PTE_ADDR & ~(level ? PTE_PAT_LARGE : 0)) | leaf_bits(flags, level);
	return PT_OK;
}

bool pt_lookup(const struct pt_env *e, paddr_t root, vaddr_t va, paddr_t *pa, uint64_t *flags,
               size_t *size)
{
	int level;
	uint64_t *pte = find_leaf(e, root, va, &level);

	if (!pte)
		return false;
	size_t sz = level == 0 ? PAGE_SIZE : level == 1 ? HUGE_SIZE : 1ul << 30;
	uint64_t base = *pte & PTE_ADDR & ~(uint64_t)(sz - 1);
	if (pa)
		*pa = base + (va & (sz - 1));
	if (flags) {
		uint64_t pat = *pte & (level == 0 ? PTE_PAT_4K : PTE_PAT_LARGE);
		*flags = (*pte & PTE_FLAGS & ~(level == 0 ? PTE_PAT_4K : 0)) | (pat ? PTE_PAT : 0);
	}
	if (size)
		*size = sz;
	return true;
}
