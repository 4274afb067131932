/*
 * Host tests for arch/x86_64/paging.c against fake physical memory: a pool
 * of 4 KiB-aligned host pages standing for physical frames at POOL_PHYS.
 */
#include "ktharness.h"

#include <arch/paging.h>
#include <stdlib.h>
#include <string.h>

#define POOL_PAGES 64
#define POOL_PHYS  0x40000000ull /* fake physical address of pool page 0 */

struct pool {
	uint8_t *mem;
	bool used[POOL_PAGES];
	int level[POOL_PAGES]; /* level a table was allocated for, -1 = none */
	unsigned in_use;
	int fail_after; /* allocations left before alloc fails; < 0 = never */
};

static struct pool pool;

static void *fake_p2v(paddr_t pa, void *ctx)
{
	struct pool *p = ctx;
	uint64_t i = (pa - POOL_PHYS) / PAGE_SIZE;

	/* A table pointer outside the pool is a walker bug: stop right here. */
	if (pa < POOL_PHYS || i >= POOL_PAGES || pa % PAGE_SIZE || !p->used[i]) {
		kt_fail(__FILE__, __LINE__, "p2v of bad table address %#llx",
		        (unsigned long long)pa);
		abort();
	}
	return p->mem + i * PAGE_SIZE;
}

static paddr_t fake_alloc(int level, void *ctx)
{
	struct pool *p = ctx;

	if (p->fail_after == 0)
		return 0;
	if (p->fail_after > 0)
		p->fail_after--;
	for (unsigned i = 0; i < POOL_PAGES; i++)
		if (!p->used[i]) {
			p->used[i] = true;
			p->level[i] = level;
			p->in_use++;
			/* Dirty then zero, like a real frame being handed out. */
			memset(p->mem + i * PAGE_SIZE, 0, PAGE_SIZE);
			return POOL_PHYS + i * PAGE_SIZE;
		}
	return 0;
}

static void fake_free(paddr_t pa, void *ctx)
{
	struct pool *p = ctx;
	uint64_t *t = fake_p2v(pa, ctx);

	for (int i = 0; i < 512; i++)
		if (t[i] & PTE_P)
			kt_fail(__FILE__, __LINE__, "freed table %#llx still has entry %d",
			        (unsigned long long)pa, i);
	memset(t, 0xdb, PAGE_SIZE); /* a use after free shows up as garbage entries */
	p->used[(pa - POOL_PHYS) / PAGE_SIZE] = false;
	p->in_use--;
}

static const struct pt_env env = {fake_p2v, fake_alloc, fake_free, &pool, NULL};

/* Vouches only for pool pages that fake_alloc handed out as tables of that level. */
static bool fake_table_ok(paddr_t pa, int level, void *ctx)
{
	struct pool *p = ctx;
	uint64_t i = (pa - POOL_PHYS) / PAGE_SIZE;

	return pa >= POOL_PHYS && i < POOL_PAGES && p->used[i] && p->level[i] == level;
}

static const struct pt_env checked_env = {fake_p2v, fake_alloc, fake_free, &pool, fake_table_ok};
static paddr_t root;

/* Fresh pool with an empty top-level table. */
static void setup(void)
{
	if (!pool.mem) {
		pool.mem = aligned_alloc(PAGE_SIZE, POOL_PAGES * PAGE_SIZE);
		CHECK(pool.mem != NULL);
	}
	memset(pool.mem, 0xdb, POOL_PAGES * PAGE_SIZE);
	memset(pool.used, 0, sizeof(pool.used));
	pool.in_use = 0;
	pool.fail_after = -1;
	root = fake_alloc(3, &pool);
}

static void teardown(void)
{
	free(pool.mem);
	pool.mem = NULL;
}

static void check_maps(vaddr_t va, paddr_t want_pa, size_t want_size, uint64_t want_flags)
{
	paddr_t pa = 0;
	uint64_t fl = 0;
	size_t sz = 0;

	CHECK(pt_lookup(&env, root, va, &pa, &fl, &sz));
	CHECK_EQ(pa, want_pa);
	CHECK_EQ(sz, want_size);
	CHECK_EQ(fl & ~(PTE_A | PTE_D), want_flags);
}

static void paging_map_lookup_4k(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x12345000, PAGE_SIZE, PTE_W), PT_OK);
	check_maps(0x400000, 0x12345000, PAGE_SIZE, PTE_P | PTE_W);
	check_maps(0x400abc, 0x12345abc, PAGE_SIZE, PTE_P | PTE_W);
	CHECK(!pt_lookup(&env, root, 0x401000, NULL, NULL, NULL));
	CHECK(!pt_lookup(&env, root, 0x3ff000, NULL, NULL, NULL));
	CHECK_EQ(pool.in_use, 4);                                 /* root + PDPT + PD + PT */
	CHECK(pt_lookup(&env, root, 0x400fff, NULL, NULL, NULL)); /* NULL outputs allowed */
	teardown();
}

static void paging_map_lookup_2m(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x40000000, 0x80000000, HUGE_SIZE, PTE_W | PTE_NX), PT_OK);
	check_maps(0x40000000, 0x80000000, HUGE_SIZE, PTE_P | PTE_W | PTE_NX | PTE_PS);
	check_maps(0x401fffff, 0x801fffff, HUGE_SIZE, PTE_P | PTE_W | PTE_NX | PTE_PS);
	CHECK(!pt_lookup(&env, root, 0x40200000, NULL, NULL, NULL));
	CHECK_EQ(pool.in_use, 3); /* no PT for a large page */
	teardown();
}

static void paging_flags_preserved(void)
{
	static const uint64_t sets[] = {0,       PTE_W,
	                                PTE_NX,  PTE_U,
	                                PTE_PCD, PTE_PWT | PTE_PCD,
	                                PTE_G,   PTE_W | PTE_U | PTE_NX | PTE_PCD};

	setup();
	for (unsigned i = 0; i < ARRAY_SIZE(sets); i++) {
		vaddr_t va = 0x10000000 + i * PAGE_SIZE, hva = 0x20000000 + i * HUGE_SIZE;
		CHECK_EQ(pt_map(&env, root, va, 0x1000ull * (i + 1), PAGE_SIZE, sets[i]), PT_OK);
		CHECK_EQ(pt_map(&env, root, hva, HUGE_SIZE * (i + 1), HUGE_SIZE, sets[i]), PT_OK);
		check_maps(va, 0x1000ull * (i + 1), PAGE_SIZE, sets[i] | PTE_P);
		check_maps(hva, HUGE_SIZE * (i + 1), HUGE_SIZE, sets[i] | PTE_P | PTE_PS);
	}
	/* PS passed by the caller must not turn a 4 KiB leaf into a large page. */
	CHECK_EQ(pt_map(&env, root, 0x30000000, 0x5000, PAGE_SIZE, PTE_PS | PTE_W), PT_OK);
	check_maps(0x30000000, 0x5000, PAGE_SIZE, PTE_P | PTE_W);
	teardown();
}

static void paging_eexist_double_map(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x1000, PAGE_SIZE, PTE_W), PT_OK);
	unsigned used = pool.in_use;
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x2000, PAGE_SIZE, 0), PT_EEXIST);
	check_maps(0x400000, 0x1000, PAGE_SIZE, PTE_P | PTE_W);
	/* A 2 MiB page over a page table that holds a 4 KiB page. */
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x200000, HUGE_SIZE, 0), PT_EEXIST);
	CHECK_EQ(pt_map(&env, root, 0x600000, 0x200000, HUGE_SIZE, 0), PT_OK);
	CHECK_EQ(pt_map(&env, root, 0x600000, 0x400000, HUGE_SIZE, 0), PT_EEXIST);
	check_maps(0x600000, 0x200000, HUGE_SIZE, PTE_P | PTE_PS);
	CHECK_EQ(pool.in_use, used);
	teardown();
}

static void paging_eexist_4k_under_2m(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x600000, 0x200000, HUGE_SIZE, PTE_W), PT_OK);
	unsigned used = pool.in_use;
	CHECK_EQ(pt_map(&env, root, 0x600000, 0x5000, PAGE_SIZE, PTE_W), PT_EEXIST);
	CHECK_EQ(pt_map(&env, root, 0x7ff000, 0x5000, PAGE_SIZE, PTE_W), PT_EEXIST);
	CHECK_EQ(pool.in_use, used); /* no PT allocated under the large page */
	check_maps(0x7ff000, 0x3ff000, HUGE_SIZE, PTE_P | PTE_W | PTE_PS);
	teardown();
}

static void paging_einval(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x400800, 0x1000, PAGE_SIZE, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x1800, PAGE_SIZE, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x401000, 0x200000, HUGE_SIZE, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x201000, HUGE_SIZE, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x1000, 8192, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x40000000, 0x40000000, 1ul << 30, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x1000, 0, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x0000800000000000ull, 0x1000, PAGE_SIZE, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0xffff7ffffffff000ull, 0x1000, PAGE_SIZE, 0), PT_EINVAL);
	CHECK_EQ(pt_map(&env, root, 0x400000, 1ull << 52, PAGE_SIZE, 0), PT_EINVAL);
	CHECK_EQ(pool.in_use, 1); /* validation happens before any allocation */
	teardown();
}

/* Allocation failing at each level: error, nothing mapped, and recovery. */
static void paging_enomem_consistent(void)
{
	for (int fail = 0; fail < 3; fail++) {
		setup();
		pool.fail_after = fail;
		CHECK_EQ(pt_map(&env, root, 0xffff800000403000ull, 0x7000, PAGE_SIZE, PTE_W),
		         PT_ENOMEM);
		CHECK(!pt_lookup(&env, root, 0xffff800000403000ull, NULL, NULL, NULL));
		CHECK_EQ(pool.in_use, 1 + (unsigned)fail); /* the tables made so far stay, empty */
		pool.fail_after = -1;
		CHECK_EQ(pt_map(&env, root, 0xffff800000403000ull, 0x7000, PAGE_SIZE, PTE_W),
		         PT_OK);
		CHECK_EQ(pool.in_use, 4); /* the partial tables were reused */
		check_maps(0xffff800000403000ull, 0x7000, PAGE_SIZE, PTE_P | PTE_W);
		size_t sz;
		paddr_t pa;
		CHECK_EQ(pt_unmap(&env, root, 0xffff800000403000ull, &sz, &pa), PT_OK);
		/* PD and PT go; the kernel-half PDPT stays: top-level kernel entries are shared. */
		CHECK_EQ(pool.in_use, 2);
		teardown();
	}
	/* Large page: two tables needed. */
	setup();
	pool.fail_after = 1;
	CHECK_EQ(pt_map(&env, root, 0x40000000, 0x40000000, HUGE_SIZE, 0), PT_ENOMEM);
	pool.fail_after = -1;
	CHECK_EQ(pt_map(&env, root, 0x40000000, 0x40000000, HUGE_SIZE, 0), PT_OK);
	CHECK_EQ(pool.in_use, 3);
	teardown();
}

static void paging_unmap_returns_size_and_frees_tables(void)
{
	size_t sz = 0;
	paddr_t pa = 0;

	setup();
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x9000, PAGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pt_map(&env, root, 0x401000, 0xa000, PAGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pt_map(&env, root, 0x40000000, 0xc000, PAGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pool.in_use, 6); /* root, PDPT, and a PD and a PT for each GiB */
	CHECK_EQ(pt_unmap(&env, root, 0x400123, &sz, &pa), PT_OK);
	CHECK_EQ(sz, PAGE_SIZE);
	CHECK_EQ(pa, 0x9000);
	CHECK_EQ(pool.in_use, 6); /* the PT still holds 0x401000 */
	CHECK(!pt_lookup(&env, root, 0x400000, NULL, NULL, NULL));
	check_maps(0x401000, 0xa000, PAGE_SIZE, PTE_P | PTE_W);
	CHECK_EQ(pt_unmap(&env, root, 0x401000, &sz, &pa), PT_OK);
	CHECK_EQ(pool.in_use, 4); /* its PT and PD freed; the PDPT still holds the other GiB */
	check_maps(0x40000000, 0xc000, PAGE_SIZE, PTE_P | PTE_W);
	CHECK_EQ(pt_unmap(&env, root, 0x40000000, &sz, &pa), PT_OK);
	CHECK_EQ(pa, 0xc000);
	CHECK_EQ(pool.in_use, 1); /* back to the bare root */
	CHECK_EQ(pt_unmap(&env, root, 0x400000, &sz, &pa), PT_ENOENT);
	CHECK_EQ(pt_unmap(&env, root, 0x0000800000000000ull, NULL, NULL), PT_ENOENT);
	teardown();
}

static void paging_unmap_2m_reports_size_and_frame(void)
{
	size_t sz = 0;
	paddr_t pa = 0;

	setup();
	CHECK_EQ(pt_map(&env, root, 0x800000, 0xc00000, HUGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pt_unmap(&env, root, 0x9fffff, &sz, &pa), PT_OK);
	CHECK_EQ(sz, HUGE_SIZE);
	CHECK_EQ(pa, 0xc00000);
	CHECK(!pt_lookup(&env, root, 0x800000, NULL, NULL, NULL));
	CHECK_EQ(pt_unmap(&env, root, 0x800000, &sz, &pa), PT_ENOENT);
	teardown();
}

/*
 * Bug: prune() starts at the PD entry for every leaf; after a 2 MiB unmap
 * that entry is the (now zero) leaf itself, so it returns at once and the
 * empty PD and PDPT are never freed (page-table frames leak).
 */
static void paging_unmap_2m_frees_empty_tables(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x800000, 0xc00000, HUGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pool.in_use, 3);
	CHECK_EQ(pt_unmap(&env, root, 0x800000, NULL, NULL), PT_OK);
	CHECK_EQ(pool.in_use, 1);
	teardown();
}

/* pt_unmap_if (frame_unmap's one walk): only the mapping of the given frame goes. */
static void paging_unmap_if_only_that_frame(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x9000, PAGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pt_map(&env, root, 0x800000, 0xc00000, HUGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pool.in_use, 4);
	/* Another frame at va: nothing changes. */
	CHECK_EQ(pt_unmap_if(&env, root, 0x400000, 0xa000, PAGE_SIZE), PT_ENOENT);
	check_maps(0x400000, 0x9000, PAGE_SIZE, PTE_P | PTE_W);
	/* Nothing mapped there, or a non-canonical address. */
	CHECK_EQ(pt_unmap_if(&env, root, 0x401000, 0x9000, PAGE_SIZE), PT_ENOENT);
	CHECK_EQ(pt_unmap_if(&env, root, 0x0000800000000000ull, 0x9000, PAGE_SIZE), PT_ENOENT);
	/* A 4 KiB frame inside a 2 MiB mapping: its own page's translation decides. */
	CHECK_EQ(pt_unmap_if(&env, root, 0x801000, 0xc00000, PAGE_SIZE), PT_ENOENT);
	check_maps(0x800000, 0xc00000, HUGE_SIZE, PTE_P | PTE_W | PTE_PS);
	CHECK_EQ(pt_unmap_if(&env, root, 0x800000, 0xc00000, HUGE_SIZE), PT_OK);
	CHECK(!pt_lookup(&env, root, 0x800000, NULL, NULL, NULL));
	CHECK_EQ(pool.in_use, 4); /* the tables of 0x400000 stay */
	CHECK_EQ(pt_unmap_if(&env, root, 0x400000, 0x9000, PAGE_SIZE), PT_OK);
	CHECK(!pt_lookup(&env, root, 0x400000, NULL, NULL, NULL));
	CHECK_EQ(pool.in_use, 1); /* empty tables pruned as pt_unmap does */
	teardown();
}

static void paging_protect_changes_flags(void)
{
	setup();
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x9000, PAGE_SIZE, PTE_W | PTE_U), PT_OK);
	CHECK_EQ(pt_protect(&env, root, 0x400800, PTE_NX), PT_OK);
	check_maps(0x400000, 0x9000, PAGE_SIZE, PTE_P | PTE_NX);
	CHECK_EQ(pt_map(&env, root, 0xa00000, 0x1e00000, HUGE_SIZE, PTE_W), PT_OK);
	CHECK_EQ(pt_protect(&env, root, 0xa00000, PTE_PCD | PTE_NX), PT_OK);
	check_maps(0xa00000, 0x1e00000, HUGE_SIZE, PTE_P | PTE_PS | PTE_PCD | PTE_NX);
	/* Address bits in flags are ignored. */
	CHECK_EQ(pt_protect(&env, root, 0x400000, PTE_W | 0x123000), PT_OK);
	check_maps(0x400000, 0x9000, PAGE_SIZE, PTE_P | PTE_W);
	CHECK_EQ(pt_protect(&env, root, 0x402000, PTE_W), PT_ENOENT);
	CHECK_EQ(pt_protect(&env, root, 0xffff900000000000ull, PTE_W), PT_ENOENT);
	teardown();
}

/* PTE_PAT lands on bit 7 of a 4 KiB entry and bit 12 of a large one, survives protect, and is
 * never taken for an address or a large-page bit. */
static void paging_pat_bit_per_level(void)
{
	int err;

	setup();
	CHECK_EQ(pt_map(&env, root, 0x400000, 0x9000, PAGE_SIZE, PTE_W | PTE_PAT), PT_OK);
	uint64_t *pt = pt_table(&env, root, 0x400000, 0, &err);
	CHECK(pt != NULL);
	CHECK_EQ(pt[0] & (PTE_PAT_4K | PTE_PAT_LARGE | PTE_PAT | PTE_ADDR), PTE_PAT_4K | 0x9000);
	check_maps(0x400000, 0x9000, PAGE_SIZE, PTE_P | PTE_W | PTE_PAT);
	CHECK_EQ(pt_protect(&env, root, 0x400000, PTE_PAT | PTE_NX), PT_OK);
	check_maps(0x400000, 0x9000, PAGE_SIZE, PTE_P | PTE_NX | PTE_PAT);
	CHECK_EQ(pt_protect(&env, root, 0x400000, PTE_W), PT_OK);
	CHECK_EQ(pt[0] & (PTE_PAT_4K | PTE_PAT), 0);
	CHECK_EQ(pt_map(&env, root, 0xa00000, 0x1e00000, HUGE_SIZE, PTE_PAT | PTE_PCD), PT_OK);
	uint64_t *pd = pt_table(&env, root, 0xa00000, 1, &err);
	CHECK(pd != NULL);
	CHECK_EQ(pd[5] & ~(PTE_A | PTE_D),
	         0x1e00000 | PTE_PAT_LARGE | PTE_PS | PTE_PCD | PTE_P); /* PAT is not address */
	check_maps(0xa01234, 0x1e01234, HUGE_SIZE, PTE_P | PTE_PS | PTE_PCD | PTE_PAT);
	CHECK_EQ(pt_protect(&env, root, 0xa00000, PTE_W), PT_OK);
	check_maps(0xa00000, 0x1e00000, HUGE_SIZE, PTE_P | PTE_PS | PTE_W);
	size_t sz;
	paddr_t pa;
	CHECK_EQ(pt_protect(&env, root, 0xa00000, PTE_PAT), PT_OK);
	CHECK_EQ(pt_unmap(&env, root, 0xa00000, &sz, &pa), PT_OK);
	CHECK_EQ(pa, 0x1e00000);
	teardown();
}

static void paging_lookup_unmapped(void)
{
	paddr_t pa = 77;

	setup();
	CHECK(!pt_lookup(&env, root, 0, &pa, NULL, NULL));
	CHECK(!pt_lookup(&env, root, 0xffffffff80000000ull, &pa, NULL, NULL));
	CHECK(!pt_lookup(&env, root, 0x0000800000000000ull, &pa, NULL, NULL));
	CHECK_EQ(pa, 77);
	CHECK_EQ(pool.in_use, 1); /* lookups never allocate */
	teardown();
}

static void paging_kernel_and_low_half(void)
{
	uint64_t *pml4;

	setup();
	CHECK_EQ(pt_map(&env, root, 0x1000, 0x1000, PAGE_SIZE, PTE_W | PTE_U), PT_OK);
	CHECK_EQ(pt_map(&env, root, 0xffff800000000000ull, 0x0, HUGE_SIZE, PTE_W | PTE_G), PT_OK);
	CHECK_EQ(pt_map(&env, root, 0xffffffff80000000ull, 0x200000, HUGE_SIZE, PTE_G), PT_OK);
	CHECK_EQ(pt_map(&env, root, 0xffffffffffe00000ull, 0x400000, HUGE_SIZE, PTE_G), PT_OK);
	check_maps(0x1234, 0x1234, PAGE_SIZE, PTE_P | PTE_W | PTE_U);
	check_maps(0xffff800000001234ull, 0x1234, HUGE_SIZE, PTE_P | PTE_W | PTE_G | PTE_PS);
	check_maps(0xffffffff80123456ull, 0x323456, HUGE_SIZE, PTE_P | PTE_G | PTE_PS);
	check_maps(0xffffffffffffffffull, 0x5fffff, HUGE_SIZE, PTE_P | PTE_G | PTE_PS);
	pml4 = fake_p2v(root, &pool);
	CHECK(pml4[0] & PTE_P);
	CHECK(pml4[256] & PTE_P);
	CHECK(pml4[511] & PTE_P);
	for (int i = 0; i < 512; i++)
		if (i != 0 && i != 256 && i != 511)
			CHECK(!(pml4[i] & PTE_P));
	teardown();
}

/* A 1 GiB page made by hand (pt_map cannot make one): walkers must respect it. */
static void paging_1g_page_respected(void)
{
	size_t sz;
	paddr_t pa;

	setup();
	CHECK_EQ(pt_map(&env, root, 0x200000000ull, 0x1000, PAGE_SIZE, 0), PT_OK);
	uint64_t *pml4 = fake_p2v(root, &pool);
	uint64_t *pdpt = fake_p2v(pml4[0] & PTE_ADDR, &pool);
	pdpt[3] = 0x80000000ull | PTE_P | PTE_W | PTE_PS;
	check_maps(0xc0012345ull, 0x80012345ull, 1ul << 30, PTE_P | PTE_W | PTE_PS);
	unsigned used = pool.in_use;
	CHECK_EQ(pt_map(&env, root, 0xc0000000ull, 0x1000, PAGE_SIZE, 0), PT_EEXIST);
	CHECK_EQ(pt_map(&env, root, 0xc0200000ull, 0x200000, HUGE_SIZE, 0), PT_EEXIST);
	CHECK_EQ(pool.in_use, used);
	CHECK_EQ(pt_unmap(&env, root, 0xc0000000ull, &sz, &pa), PT_OK);
	CHECK_EQ(sz, 1ul << 30);
	CHECK_EQ(pa, 0x80000000ull);
	teardown();
}

/* Random map/unmap of 4 KiB and 2 MiB pages in a small window, against a shadow. */
static void paging_random_against_shadow(void)
{
	enum { SLOTS = 8, PER = 512 }; /* 8 x 2 MiB = 16 MiB window around the 512 GiB line */
	static uint64_t shadow[SLOTS]
	                      [PER]; /* 0 = unmapped, else pa|1; a 2 MiB page: [0] only, pa|3 */
	const vaddr_t base = 0x7fffc00000ull;

	setup();
	memset(shadow, 0, sizeof(shadow));
	for (int it = 0; it < 3000 && !kt_failed(); it++) {
		unsigned s = (unsigned)kt_below(SLOTS), p = (unsigned)kt_below(PER);
		bool huge = kt_below(4) == 0, slot_used = false, slot_huge = shadow[s][0] & 2;
		for (unsigned i = 0; i < PER; i++)
			slot_used |= shadow[s][i] != 0;
		vaddr_t va = base + s * HUGE_SIZE + p * PAGE_SIZE; /* unmap: any address inside */
		paddr_t pa = huge ? kt_below(64) * HUGE_SIZE : kt_below(1 << 20) * PAGE_SIZE;
		if (kt_below(2)) {
			int want =
			    (huge ? slot_used : (slot_huge || shadow[s][p])) ? PT_EEXIST : PT_OK;
			CHECK_EQ(pt_map(&env, root, huge ? ALIGN_DOWN(va, HUGE_SIZE) : va, pa,
			                huge ? HUGE_SIZE : PAGE_SIZE, PTE_W),
			         want);
			if (want == PT_OK)
				shadow[s][huge ? 0 : p] = pa | 1 | (huge ? 2 : 0);
		} else {
			size_t sz;
			paddr_t got;
			unsigned k = slot_huge ? 0 : p;
			int want = shadow[s][k] ? PT_OK : PT_ENOENT;
			CHECK_EQ(pt_unmap(&env, root, va, &sz, &got), want);
			if (want == PT_OK) {
				CHECK_EQ(got, shadow[s][k] & ~3ull);
				CHECK_EQ(sz, slot_huge ? HUGE_SIZE : PAGE_SIZE);
			}
			shadow[s][k] = 0;
		}
	}
	for (unsigned s = 0; s < SLOTS; s++)
		for (unsigned p = 0; p < PER; p++) {
			paddr_t pa;
			vaddr_t va = base + s * HUGE_SIZE + p * PAGE_SIZE;
			uint64_t e =
			    (shadow[s][0] & 2) ? shadow[s][0] + p * PAGE_SIZE : shadow[s][p];
			CHECK_EQ(pt_lookup(&env, root, va, &pa, NULL, NULL), e != 0);
			if (e)
				CHECK_EQ(pa, e & ~3ull);
			if (e && pt_unmap(&env, root, va, NULL, NULL) != PT_OK)
				CHECK(0);
			if (e && (shadow[s][0] & 2))
				shadow[s][0] = 0;
		}
	/* Table freeing is checked by the dedicated cases, not here. */
	teardown();
}

/*
 * isolation fault 2 (issue 10): walks followed any present entry, so an
 * entry that ring 3 wrote through an aliased table sent the kernel to
 * "direct map + whatever was written". With table_ok set, a walk goes only
 * through tables the environment vouches for, at the level it vouches for.
 */
static void paging_walk_never_follows_an_unvouched_entry(void)
{
	paddr_t pa;
	int err;

	setup();
	CHECK_EQ(pt_map(&checked_env, root, 0x400000, 0x9000, PAGE_SIZE, PTE_W), PT_OK);
	CHECK(pt_lookup(&checked_env, root, 0x400000, &pa, NULL, NULL) && pa == 0x9000);
	uint64_t *pml4 = fake_p2v(root, &pool);
	uint64_t *pdpt = fake_p2v(pml4[0] & PTE_ADDR, &pool);
	uint64_t *pd = fake_p2v(pdpt[0] & PTE_ADDR, &pool);
	paddr_t pt = pd[2] & PTE_ADDR;
	/* A pool page that is no table (a "frame") written as a PD entry: */
	paddr_t frame = fake_alloc(-1, &pool);
	pd[3] = frame | PTE_P | PTE_W | PTE_U;
	CHECK(!pt_lookup(&checked_env, root, 0x600000, &pa, NULL, NULL));
	CHECK_EQ(pt_map(&checked_env, root, 0x600000, 0x5000, PAGE_SIZE, PTE_W), PT_EBADTABLE);
	CHECK_EQ(pt_unmap(&checked_env, root, 0x600000, NULL, NULL), PT_ENOENT);
	CHECK(pt_table(&checked_env, root, 0x600000, 0, &err) == NULL && err == PT_EBADTABLE);
	/* A real table, but of another level (a PT hooked in as a PDPT): refused too. */
	pml4[1] = pt | PTE_P | PTE_W | PTE_U;
	CHECK(!pt_lookup(&checked_env, root, 0x8000400000ull, &pa, NULL, NULL));
	CHECK(pt_table(&checked_env, root, 0x8000400000ull, 1, &err) == NULL &&
	      err == PT_EBADTABLE);
	/* The vouched path still works, and pt_table finds its tables. */
	CHECK(pt_table(&checked_env, root, 0x400000, 0, &err) == fake_p2v(pt, &pool) &&
	      err == PT_OK);
	CHECK(pt_table(&checked_env, root, 0x400000, 3, &err) == pml4);
	CHECK(pt_table(&checked_env, root, 0x400000, 4, &err) == NULL && err == PT_EINVAL);
	CHECK(pt_table(&checked_env, root, 0x800000, 0, &err) == NULL && err == PT_ENOENT);
	teardown();
}

static const struct kt_case cases[] = {
    KT(paging_map_lookup_4k),
    KT(paging_map_lookup_2m),
    KT(paging_flags_preserved),
    KT(paging_eexist_double_map),
    KT(paging_eexist_4k_under_2m),
    KT(paging_einval),
    KT(paging_enomem_consistent),
    KT(paging_unmap_returns_size_and_frees_tables),
    KT(paging_unmap_2m_reports_size_and_frame),
    KT(paging_unmap_if_only_that_frame),
    KT(paging_unmap_2m_frees_empty_tables), /* regression: prune() stops at the zeroed 2 MiB leaf
                                               and never frees the empty PD/PDPT
                                               (arch/x86_64/paging.c) */
    KT(paging_protect_changes_flags),
    KT(paging_pat_bit_per_level),
    KT(paging_lookup_unmapped),
    KT(paging_kernel_and_low_half),
    KT(paging_1g_page_respected),
    KT(paging_random_against_shadow),
    KT(paging_walk_never_follows_an_unvouched_entry),
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
