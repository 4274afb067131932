/*
 * A Linux process's memory: the server's record of its mappings (sorted,
 * non-overlapping regions), demand paging and the checked copies between
 * the process and the server. Every address a process passes is checked
 * against this record before the server touches it (EFAULT otherwise);
 * the frames themselves come from the platform (main.c), which mirrors
 * each page in the server's own space (lx_plat_page).
 */
#include "lx.h"

#include <lib/string.h>

static uint64_t page_down(uint64_t x)
{
	return x & ~(LX_PAGE - 1);
}

struct lx_region *lx_region_at(struct lx_proc *p, uint64_t va)
{
	p = lx_grp(p); /* a thread: its process's memory */
	for (uint32_t i = 0; i < p->nreg; i++)
		if (va >= p->reg[i].start && va < p->reg[i].end)
			return &p->reg[i];
	return NULL;
}

/*
 * The mapped pages of [start, end) into *out (a static list, valid until the next call): page
 * by page for a small range, through the list of mapped pages for a large one (munmap(0,
 * 1 << 45) must not walk 2^33 pages). How many.
 */
static uint32_t mapped_pages(uint64_t start, uint64_t end, const uint64_t **out)
{
	static uint64_t found[LX_MAX_PAGES];
	uint32_t n = 0, cursor = 0;
	uint64_t va;

	if ((end - start) / LX_PAGE <= LX_MAX_PAGES) {
		for (va = start; va < end; va += LX_PAGE)
			if (lx_plat_is_mapped(va))
				found[n++] = va;
	} else {
		while (n < LX_MAX_PAGES && lx_plat_next_mapped(&cursor, &va))
			if (va >= start && va < end)
				found[n++] = va;
	}
	*out = found;
	return n;
}

/* Unmap (prot < 0) or re-protect every mapped page of [start, end). */
static int each_mapped(uint64_t start, uint64_t end, int64_t prot)
{
	const uint64_t *found;
	uint32_t n = mapped_pages(start, end, &found);

	for (uint32_t i = 0; i < n; i++) {
		if (prot < 0)
			lx_plat_unmap(found[i]);
		else if (lx_plat_protect(found[i], (uint32_t)prot))
			return -LX_ENOMEM;
	}
	return 0;
}

/* Cut r to [start, end) of itself, keeping its file view in step. */
static struct lx_region trimmed(const struct lx_region *r, uint64_t start, uint64_t end)
{
	struct lx_region t = *r;
	uint64_t skip = start - r->start;

	t.start = start, t.end = end;
	if (t.file) {
		t.file_len = skip < r->file_len ? r->file_len - skip : 0;
		t.file = t.file_len ? r->file + skip : NULL;
	}
	return t;
}

/*
 * Remove [start, end) from the record (the pages stay), splitting regions
 * that straddle it. Fails only when a split finds the record full.
 */
static int forget(struct lx_proc *p, uint64_t start, uint64_t end)
{
	p = lx_grp(p); /* a thread: its process's memory */
	struct lx_region out[LX_MAX_REGIONS];
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->nreg; i++) {
		const struct lx_region *r = &p->reg[i];
		if (r->end <= start || r->start >= end) {
			out[n++] = *r;
			continue;
		}
		if (r->start < start)
			out[n++] = trimmed(r, r->start, start);
		if (r->end > end && n == LX_MAX_REGIONS)
			return -LX_ENOMEM;
		if (r->end > end)
			out[n++] = trimmed(r, end, r->end);
	}
	memcpy(p->reg, out, n * sizeof(out[0]));
	p->nreg = n;
	return 0;
}

/* Put r into the sorted record (its range is free). */
static int insert(struct lx_proc *p, const struct lx_region *r)
{
	p = lx_grp(p); /* a thread: its process's memory */
	if (p->nreg == LX_MAX_REGIONS)
		return -LX_ENOMEM;
	uint32_t i = p->nreg;
	while (i > 0 && p->reg[i - 1].start > r->start) {
		p->reg[i] = p->reg[i - 1];
		i--;
	}
	p->reg[i] = *r;
	if (!r->file_len)
		p->reg[i].file = NULL;
	p->nreg++;
	return 0;
}

int lx_unmap(struct lx_proc *p, uint64_t start, uint64_t end)
{
	p = lx_grp(p); /* a thread: its process's memory */
	int err = forget(p, start, end);

	return err ? err : each_mapped(start, end, -1);
}

int lx_map(struct lx_proc *p, uint64_t start, uint64_t end, uint32_t prot, const uint8_t *file,
           uint64_t file_len)
{
	p = lx_grp(p); /* a thread: its process's memory */
	if (start >= end || start < LX_PAGE || end > LX_TOP || (start | end) & (LX_PAGE - 1))
		return -LX_EINVAL;
	int err = lx_unmap(p, start, end);
	if (err)
		return err;
	struct lx_region r = {start, end, prot, file, file_len, 0};
	return insert(p, &r);
}

int lx_protect(struct lx_proc *p, uint64_t start, uint64_t end, uint32_t prot)
{
	p = lx_grp(p); /* a thread: its process's memory */
	struct lx_region pieces[LX_MAX_REGIONS];
	uint32_t n = 0;

	/* Every page of the range must be mapped (Linux: ENOMEM otherwise). */
	for (uint64_t va = start; va < end;) {
		struct lx_region *r = lx_region_at(p, va);
		if (!r)
			return -LX_ENOMEM;
		uint64_t hi = r->end < end ? r->end : end;
		pieces[n] = trimmed(r, va, hi);
		pieces[n++].prot = prot;
		va = hi;
	}
	if (p->nreg + 2 > LX_MAX_REGIONS)
		return -LX_ENOMEM; /* the splits below cannot fail then */
	int err = forget(p, start, end);
	for (uint32_t i = 0; !err && i < n; i++)
		err = insert(p, &pieces[i]);
	return err ? err : each_mapped(start, end, prot);
}

uint64_t lx_find_gap(struct lx_proc *p, uint64_t len)
{
	p = lx_grp(p); /* a thread: its process's memory */
	uint64_t top = LX_MMAP_TOP;
	uint64_t floor = page_down(p->brk_start) + (1ull << 32); /* room for the heap */

	for (uint32_t n = 0; n <= p->nreg; n++) {
		/* The highest region below top decides the next candidate. */
		uint64_t cand = top - len, block = 0;
		for (uint32_t i = 0; i < p->nreg; i++)
			if (p->reg[i].start < top && p->reg[i].end > cand && p->reg[i].end > block)
				block = p->reg[i].end;
		if (!block)
			return cand >= floor && cand < top ? cand : 0;
		for (uint32_t i = 0; i < p->nreg; i++)
			if (p->reg[i].end == block && p->reg[i].start < top)
				top = p->reg[i].start;
		if (top < floor + len)
			return 0;
	}
	return 0;
}

int lx_page_in(struct lx_proc *p, uint64_t va, uint32_t need)
{
	struct lx_region *r = lx_region_at(p, va);
	uint64_t pg = page_down(va);

	if (!r || (r->prot & need) != need)
		return -LX_EFAULT;
	if (lx_plat_is_mapped(pg))
		return need & LX_PROT_WRITE ? lx_plat_make_private(pg, r->prot) : 0;
	if (lx_plat_map(pg, r->prot))
		return -LX_ENOMEM;
	uint64_t off = pg - r->start;
	if (r->file && off < r->file_len) {
		uint64_t n = r->file_len - off < LX_PAGE ? r->file_len - off : LX_PAGE;
		memcpy(lx_plat_page(pg), r->file + off, n);
	}
	return 0;
}

/* Check [va, va + len) page by page (paging it in): 0 or -LX_EFAULT. */
int lx_check(struct lx_proc *p, uint64_t va, uint64_t len, uint32_t need)
{
	if (!len)
		return 0;
	if (va >= LX_TOP || len > LX_TOP - va)
		return -LX_EFAULT;
	for (uint64_t pg = page_down(va); pg < va + len; pg += LX_PAGE) {
		if (lx_plat_user(pg, 1, need))
			continue; /* in memory with need already: one lookup, nothing to page in */
		int err = lx_page_in(p, pg, need);
		if (err)
			return -LX_EFAULT;
	}
	return 0;
}

/* Copy len bytes between the process at va and buf, page by page, after lx_check. */
static void copy_pages(uint64_t va, void *buf, uint64_t len, bool out)
{
	uint8_t *b = buf;

	while (len) {
		uint64_t in_page = LX_PAGE - (va & (LX_PAGE - 1)),
		         n = len < in_page ? len : in_page;
		uint8_t *pg = (uint8_t *)lx_plat_page(va) + (va & (LX_PAGE - 1));
		if (out)
			memcpy(pg, b, n);
		else
			memcpy(b, pg, n);
		va += n, b += n, len -= n;
	}
}

int lx_copy_in(struct lx_proc *p, void *dst, uint64_t src, uint64_t len)
{
	int err = lx_check(p, src, len, LX_PROT_READ);

	if (!err)
		copy_pages(src, dst, len, false);
	return err;
}

int lx_copy_out(struct lx_proc *p, uint64_t dst, const void *src, uint64_t len)
{
	int err = lx_check(p, dst, len, LX_PROT_WRITE);

	if (!err)
		copy_pages(dst, (void *)(uintptr_t)src, len, true);
	return err;
}

long lx_copy_str(struct lx_proc *p, char *dst, uint64_t src, uint64_t max)
{
	for (uint64_t i = 0; i < max; i++) {
		if (lx_check(p, src + i, 1, LX_PROT_READ))
			return -LX_EFAULT;
		dst[i] = *((const char *)lx_plat_page(src + i) + ((src + i) & (LX_PAGE - 1)));
		if (!dst[i])
			return (long)i;
	}
	return -LX_ENAMETOOLONG;
}

/* ---- mremap ---- */

#define MREMAP_MAYMOVE   1u
#define MREMAP_FIXED     2u
#define MREMAP_DONTUNMAP 4u

/*
 * What Linux would hold as one mapping (a vma) around [va, va + len): the regions from the one
 * holding va on, each starting where the last ended, with the same protection (Linux merges
 * such neighbours). Its end, or 0 when va is in no region or the range runs past it.
 */
static uint64_t span_end(struct lx_proc *p, uint64_t va, uint64_t len)
{
	const struct lx_region *r = lx_region_at(p, va);

	if (!r)
		return 0;
	uint64_t end = r->end;
	uint32_t prot = r->prot;
	for (const struct lx_region *n;
	     end - va < len && (n = lx_region_at(p, end)) && n->start == end && n->prot == prot;)
		end = n->end;
	return end - va >= len ? end : 0;
}

/* Linux's overcommit guess: one request for more than all the memory there is fails. */
static bool beyond_memory(uint64_t bytes)
{
	uint64_t total, free;

	lx_plat_mem(&total, &free);
	return bytes > total;
}

/*
 * Move the pages and records of [old, old + olen) to [to, to + nlen) (free or to be replaced;
 * it does not overlap the old range), growing the last piece when nlen > olen; the old range
 * goes from the record unless keep (MREMAP_DONTUNMAP: its pages still go).
 */
static int64_t move_range(struct lx_proc *p, uint64_t old, uint64_t olen, uint64_t to,
                          uint64_t nlen, bool keep)
{
	struct lx_region pieces[LX_MAX_REGIONS];
	uint32_t n = 0;
	uint64_t va;

	for (va = old; va < old + olen; n++) { /* span_end said: contiguous regions */
		const struct lx_region *r = lx_region_at(p, va);
		uint64_t hi = r->end < old + olen ? r->end : old + olen;
		pieces[n] = trimmed(r, va, hi);
		pieces[n].start += to - old, pieces[n].end += to - old;
		va = hi;
	}
	pieces[n - 1].end = to + nlen; /* grown: a file view goes on, the rest reads zero */
	/* forget() of the target and of the old range may split a region each. */
	if (p->nreg + n + 2 > LX_MAX_REGIONS)
		return -LX_ENOMEM;
	int err = lx_unmap(p, to, to + nlen);
	if (err)
		return err;
	const uint64_t *found;
	uint32_t nfound = mapped_pages(old, old + olen, &found);

	for (uint32_t i = 0; i < nfound; i++)
		if ((err = lx_plat_move(found[i], found[i] - old + to)))
			return err; /* not reached: a page goes for each that comes */
	if (!keep && (err = forget(p, old, old + olen)))
		return err;
	for (uint32_t i = 0; i < n && !err; i++)
		err = insert(p, &pieces[i]);
	return err ? err : (int64_t)to;
}

int64_t lx_remap(struct lx_proc *p, const uint64_t a[5])
{
	p = lx_grp(p); /* a thread: its process's memory */
	uint64_t old = a[0], olen = a[1], nlen = a[2], flags = a[3], to = a[4];

	/* Linux's order of checks (mm/mremap.c). */
	if (flags & ~(uint64_t)(MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP) ||
	    ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE)) ||
	    ((flags & MREMAP_DONTUNMAP) && (!(flags & MREMAP_MAYMOVE) || olen != nlen)) ||
	    (old & (LX_PAGE - 1)))
		return -LX_EINVAL;
	olen = (olen + LX_PAGE - 1) & ~(LX_PAGE - 1); /* wraps to 0 as PAGE_ALIGN does */
	nlen = (nlen + LX_PAGE - 1) & ~(LX_PAGE - 1);
	if (!nlen)
		return -LX_EINVAL;
	bool move = flags & (MREMAP_FIXED | MREMAP_DONTUNMAP);
	if (nlen > LX_TASK_SIZE ||
	    ((flags & MREMAP_FIXED) && (to > LX_TASK_SIZE - nlen || (to & (LX_PAGE - 1)) ||
	                                (to < old ? old - to < nlen : to - old < olen))))
		return -LX_EINVAL;
	if (!lx_region_at(p, old))
		return -LX_EFAULT; /* before the shrink too (Linux 6.18) */
	if (!olen)
		return -LX_EINVAL; /* old_len 0 duplicates a shared mapping: none is kept shared */
	if (olen > nlen) {         /* shrinking, moving or not: the tail goes first */
		if (olen > LX_TASK_SIZE - old)
			return -LX_EINVAL; /* munmap's check */
		int err = lx_unmap(p, old + nlen, old + olen);
		if (err)
			return err;
		if (!move)
			return (int64_t)old;
		olen = nlen;
	}
	if ((flags & MREMAP_FIXED) && (to < LX_PAGE || to + nlen > LX_TOP))
		return -LX_ENOMEM; /* outside what a process may map here (as mmap) */
	uint64_t end = span_end(p, old, olen);
	if (!end)
		return -LX_EFAULT;
	if (olen == nlen && !move)
		return (int64_t)old;
	const struct lx_region *r = lx_region_at(p, old);
	if (nlen > olen && (r->prot & LX_PROT_WRITE) && beyond_memory(nlen - olen))
		return -LX_ENOMEM;
	if (!move && old + olen == end && nlen - olen <= LX_TOP - end) {
		bool free = true; /* the range after, up to the new end, holds no region */
		for (uint32_t i = 0; free && i < p->nreg; i++)
			free = p->reg[i].end <= end || p->reg[i].start >= old + nlen;
		if (free) { /* grow in place: the last region reaches further */
			struct lx_region *last = lx_region_at(p, end - 1);
			last->end = old + nlen;
			return (int64_t)old;
		}
	}
	if (!(flags & MREMAP_MAYMOVE))
		return -LX_ENOMEM;
	if (!(flags & MREMAP_FIXED) && !(to = lx_find_gap(p, nlen)))
		return -LX_ENOMEM;
	return move_range(p, old, olen, to, nlen, flags & MREMAP_DONTUNMAP);
}
