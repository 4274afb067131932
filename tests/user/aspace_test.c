/*
 * Ring-3 suites "aspace_errors", "aspace" and "aspace_big": mapping frames
 * and page tables, protection, physical addresses, and a second address
 * space running its own code against a frame shared with the runner.
 */
#include "utest.h"

#define FRESH_VA  0x500000000000ull /* a PML4 slot nothing else uses */
#define KERNEL_VA 0xffff800000000000ull

enum { ST_SEND = 2 };

/* A copy of cap with the given rights, in a fresh slot. */
static hl_cptr_t copy_of(hl_cptr_t cap, uint32_t rights)
{
	hl_cptr_t s = ut_slot();

	return hl_cspace_copy(HL_SLOT_CSPACE, s, cap, rights) == HL_OK ? s : 0;
}

/* Page tables for va in address space as, from the suite memory (levels already there are skipped).
 */
static void tables_for(struct utest_ctx *t, hl_cptr_t as, uint64_t va)
{
	for (int level = 3; level >= 1; level--) {
		hl_cptr_t pt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
		if (hl_aspace_map_table(as, pt, va, (hl_word_t)level) != HL_OK)
			hl_cspace_delete(HL_SLOT_CSPACE, pt);
	}
}

/* ---- map ---- */

UTEST(aspace_errors, map_without_table)
{
	hl_cptr_t f = ut_alloc(t, HL_OBJ_FRAME, 12);

	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, f, FRESH_VA + (2ull << 39), HL_R_READ),
	            HL_ERR_NO_TABLE);
}

UTEST(aspace_errors, map_frame_already_mapped)
{
	hl_cptr_t f;
	void *p = ut_page(t, &f);

	if (!UCHECK(t, p))
		return;
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, f, (uint64_t)p + 4096, HL_R_READ),
	            HL_ERR_ALREADY_MAPPED);
}

UTEST(aspace_errors, map_address_occupied)
{
	void *p = ut_page(t, NULL);
	hl_cptr_t g = ut_alloc(t, HL_OBJ_FRAME, 12);

	if (!UCHECK(t, p))
		return;
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, (uint64_t)p, HL_R_READ),
	            HL_ERR_ALREADY_MAPPED);
}

UTEST(aspace_errors, map_bad_addresses_and_rights)
{
	void *p = ut_page(t, NULL);
	hl_cptr_t g = ut_alloc(t, HL_OBJ_FRAME, 12);
	uint64_t hole = (uint64_t)p + 4096; /* unmapped, its tables exist */

	if (!UCHECK(t, p))
		return;
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, hole + 8, HL_R_READ),
	            HL_ERR_INVALID_ARG); /* misaligned */
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, KERNEL_VA, HL_R_READ), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, 0x800000000000ull, HL_R_READ),
	            HL_ERR_INVALID_ARG); /* non-canonical */
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, 0, HL_R_READ),
	            HL_ERR_INVALID_ARG); /* page 0 */
	/* the last page below the kernel half: a syscall ending there would return to a
	 * non-canonical address */
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, HL_USER_MAP_TOP, HL_R_READ),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, 0x7ffffffff000ull, HL_R_READ | HL_R_EXEC),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, hole, HL_R_GRANT), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, hole, 0x10 | HL_R_READ),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, g, hole, HL_R_READ), HL_OK);
}

UTEST(aspace_errors, map_write_with_read_only_copy)
{
	void *p = ut_page(t, NULL);
	hl_cptr_t ro = copy_of(ut_alloc(t, HL_OBJ_FRAME, 12), HL_R_READ);

	if (!UCHECK(t, p && ro))
		return;
	UEXPECT_ERR(t,
	            hl_aspace_map(HL_SLOT_ASPACE, ro, (uint64_t)p + 4096, HL_R_READ | HL_R_WRITE),
	            HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, ro, (uint64_t)p + 4096, HL_R_READ | HL_R_EXEC),
	            HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, ro, (uint64_t)p + 4096, HL_R_READ), HL_OK);
}

UTEST(aspace_errors, map_cap_errors)
{
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), f = ut_alloc(t, HL_OBJ_FRAME, 12);
	void *p = ut_page(t, NULL);

	if (!UCHECK(t, p))
		return;
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, ep, (uint64_t)p + 4096, HL_R_READ),
	            HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, ut_slot(), (uint64_t)p + 4096, HL_R_READ),
	            HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_DEBUG, f, (uint64_t)p + 4096, HL_R_READ),
	            HL_ERR_ILLEGAL_OP); /* not an aspace */
	UEXPECT_ERR(t, hl_aspace_map(ut_slot(), f, (uint64_t)p + 4096, HL_R_READ),
	            HL_ERR_INVALID_CAP);
}

/* ---- unmap, protect ---- */

UTEST(aspace_errors, unmap_not_mapped)
{
	hl_cptr_t f = ut_alloc(t, HL_OBJ_FRAME, 12), g;

	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, f), HL_ERR_NOT_MAPPED);
	if (!UCHECK(t, ut_page(t, &g)))
		return;
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, g), HL_OK);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, g), HL_ERR_NOT_MAPPED);
}

UTEST(aspace_errors, unmap_through_another_aspace)
{
	hl_cptr_t g, other = ut_alloc(t, HL_OBJ_ASPACE, 0);

	if (!UCHECK(t, ut_page(t, &g) && other))
		return;
	UEXPECT_ERR(t, hl_aspace_unmap(other, g), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, HL_SLOT_DEBUG), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, ut_slot()), HL_ERR_INVALID_CAP);
}

UTEST(aspace_errors, protect_errors)
{
	hl_cptr_t f = ut_alloc(t, HL_OBJ_FRAME, 12), g, other = ut_alloc(t, HL_OBJ_ASPACE, 0);
	volatile uint64_t *p = ut_page(t, &g);

	if (!UCHECK(t, p && other))
		return;
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, f, HL_R_READ), HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t, hl_aspace_protect(other, g, HL_R_READ), HL_ERR_NOT_MAPPED);
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, g, 0x10), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, HL_SLOT_DEBUG, HL_R_READ),
	            HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, ut_slot(), HL_R_READ), HL_ERR_INVALID_CAP);
	/* A read-only copy cannot be made writable. */
	hl_cptr_t ro = copy_of(g, HL_R_READ);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, ro, (uint64_t)p + 4096, HL_R_READ), HL_OK);
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, ro, HL_R_READ | HL_R_WRITE),
	            HL_ERR_NO_RIGHTS);
}

/* ---- map_table ---- */

UTEST(aspace_errors, map_table_errors)
{
	hl_cptr_t pt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12), f = ut_alloc(t, HL_OBJ_FRAME, 12);
	hl_cptr_t pd = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12),
	          pdpt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);

	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, FRESH_VA, 0), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, FRESH_VA, 4), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, KERNEL_VA, 3), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, FRESH_VA, 1), HL_ERR_NO_TABLE);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, FRESH_VA, 2), HL_ERR_NO_TABLE);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, f, FRESH_VA, 3), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, ut_slot(), FRESH_VA, 3),
	            HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pdpt, FRESH_VA, 3), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pdpt, FRESH_VA + (1ull << 39), 3),
	            HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, FRESH_VA, 3),
	            HL_ERR_ALREADY_MAPPED); /* entry taken */
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pd, FRESH_VA, 2), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, FRESH_VA, 1), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, f, FRESH_VA, HL_R_READ | HL_R_WRITE), HL_OK);
	*(volatile uint64_t *)FRESH_VA = 5;
	UEXPECT(t, *(volatile uint64_t *)FRESH_VA == 5);
}

/* ---- behaviour ---- */

UTEST(aspace, two_mappings_share_a_frame)
{
	hl_cptr_t f;
	volatile uint64_t *p = ut_page(t, &f);
	hl_cptr_t c = copy_of(f, HL_R_READ);

	if (!UCHECK(t, p && c))
		return;
	volatile uint64_t *q = (volatile uint64_t *)((uint64_t)p + 4096);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, c, (uint64_t)q, HL_R_READ), HL_OK);
	p[3] = 0x1234;
	UEXPECT(t, q[3] == 0x1234, "read %#lx", q[3]);
}

UTEST(aspace, frame_paddr_inside_suite_memory)
{
	hl_cptr_t f = ut_alloc(t, HL_OBJ_FRAME, 12);
	hl_word_t pa = 1, mpa = 0, bits = 0;

	UEXPECT_ERR(t, hl_frame_paddr(f, &pa), HL_OK);
	UEXPECT_ERR(t, hl_memory_info(t->mem, &mpa, &bits, NULL, NULL), HL_OK);
	UEXPECT(t, pa % 4096 == 0 && pa >= mpa && pa + 4096 <= mpa + (1ull << bits),
	        "frame %#lx memory %#lx/%lu", pa, mpa, bits);
	hl_word_t pa2 = 0;
	UEXPECT_ERR(t, hl_frame_paddr(copy_of(f, HL_R_READ), &pa2), HL_OK);
	UEXPECT(t, pa2 == pa, "copy %#lx original %#lx", pa2, pa);
	UEXPECT_ERR(t, hl_frame_paddr(HL_SLOT_DEBUG, &pa2), HL_ERR_ILLEGAL_OP);
}

struct poker {
	volatile uint64_t *p;
	int write;
	volatile int done;
};

static void poke(void *arg)
{
	struct poker *k = arg;

	if (k->write)
		*k->p = 99;
	else
		(void)*k->p;
	k->done = 1;
}

/* Run poke on a thread with a fault endpoint; return the fault address, or ~0 if it did not fault.
 */
static hl_word_t poke_fault(struct utest_ctx *t, volatile uint64_t *p, int write)
{
	struct poker k = {p, write, 0};
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), tcb = ut_thread_new(t, poke, &k, 100);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, ep && tcb) || hl_thread_set_fault_ep(tcb, ep) || hl_thread_resume(tcb))
		return ~0ull;
	for (int i = 0; i < 200 && ut_state_of(tcb) != ST_SEND && !k.done; i++)
		hl_yield();
	if (k.done || ut_state_of(tcb) != ST_SEND)
		return ~0ull;
	hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL);
	hl_thread_suspend(tcb);
	return HL_MSG_LABEL(info) == HL_LABEL_FAULT && m.w[HL_FAULT_VECTOR] == 14
	           ? m.w[HL_FAULT_ADDR]
	           : ~0ull - 1;
}

UTEST(aspace, protect_read_only_then_write_faults)
{
	hl_cptr_t f;
	volatile uint64_t *p = ut_page(t, &f);

	if (!UCHECK(t, p))
		return;
	*p = 1;
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, f, HL_R_READ), HL_OK);
	hl_word_t a = poke_fault(t, p, 1);
	UEXPECT(t, a == (hl_word_t)p, "fault address %#lx", a);
	UEXPECT(t, *p == 1);
	UEXPECT(t, poke_fault(t, p, 0) == ~0ull, "reading a read-only page faulted");
	UEXPECT_ERR(t, hl_aspace_protect(HL_SLOT_ASPACE, f, HL_R_READ | HL_R_WRITE), HL_OK);
	UEXPECT(t, poke_fault(t, p, 1) == ~0ull, "writing after protect back faulted");
	UEXPECT(t, *p == 99);
}

UTEST(aspace, unmap_and_delete_remove_the_mapping)
{
	hl_cptr_t f;
	volatile uint64_t *p = ut_page(t, &f);
	hl_cptr_t c = copy_of(f, HL_R_READ);
	volatile uint64_t *q = (volatile uint64_t *)((uint64_t)p + 4096);

	if (!UCHECK(t, p && c))
		return;
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, c, (uint64_t)q, HL_R_READ), HL_OK);
	(void)*q; /* in the TLB now */
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, c), HL_OK);
	UEXPECT(t, poke_fault(t, q, 0) == (hl_word_t)q, "read after delete did not fault");
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, f), HL_OK);
	UEXPECT(t, poke_fault(t, p, 0) == (hl_word_t)p, "read after unmap did not fault");
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, f, (uint64_t)p, HL_R_READ),
	            HL_OK); /* the address is free again */
}

/*
 * A second address space runs a code blob that counts in a frame shared
 * with the runner:  movabs $0x401000, %rax; 1: lock incq (%rax); jmp 1b
 */
UTEST(aspace, child_space_counts_in_shared_frame)
{
	static const uint8_t blob[] = {0x48, 0xb8, 0x00, 0x10, 0x40,
	                               0,    0,    0,    0,    0, /* movabs $0x401000, %rax */
	                               0xf0, 0x48, 0xff, 0x00,    /* lock incq (%rax) */
	                               0xeb, 0xfa};               /* jmp back to the lock incq */
	hl_cptr_t as = ut_alloc(t, HL_OBJ_ASPACE, 0), code, data;
	uint8_t *cp = ut_page(t, &code);
	volatile uint64_t *dp = ut_page(t, &data);
	hl_cptr_t tcb = ut_alloc(t, HL_OBJ_THREAD, 0);

	if (!UCHECK(t, as && cp && dp && tcb))
		return;
	for (unsigned i = 0; i < sizeof(blob); i++)
		cp[i] = blob[i];
	tables_for(t, as, 0x400000);
	UEXPECT_ERR(t,
	            hl_aspace_map(as, copy_of(code, HL_R_READ | HL_R_EXEC), 0x400000,
	                          HL_R_READ | HL_R_EXEC),
	            HL_OK);
	UEXPECT_ERR(t,
	            hl_aspace_map(as, copy_of(data, HL_R_READ | HL_R_WRITE), 0x401000,
	                          HL_R_READ | HL_R_WRITE),
	            HL_OK);
	UEXPECT_ERR(t, hl_thread_configure(tcb, HL_SLOT_CSPACE, as, 0, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_write_regs(tcb, 0x400000, 0x403000, 0, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_priority(tcb, 100), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	for (int i = 0; i < 100 && *dp < 1000; i++)
		hl_yield();
	UEXPECT(t, *dp >= 1000, "counter %lu", *dp);
	UEXPECT_ERR(t, hl_thread_suspend(tcb), HL_OK);
	uint64_t c = *dp;
	hl_yield();
	UEXPECT(t, *dp == c);
}

/* ---- 2 MiB frames (their own suite: one takes half the suite memory) ---- */

UTEST(aspace_big, map_2mib_frame)
{
	hl_cptr_t big = ut_alloc(t, HL_OBJ_FRAME, 21), pdpt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	hl_cptr_t pd = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	hl_word_t pa = 0;
	uint64_t va = FRESH_VA + (1ull << 30);

	if (!UCHECK(t, big && pdpt && pd))
		return;
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pdpt, va, 3), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, big, va, HL_R_READ | HL_R_WRITE),
	            HL_ERR_NO_TABLE);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pd, va, 2), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, big, va + 4096, HL_R_READ | HL_R_WRITE),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, big, va, HL_R_READ | HL_R_WRITE), HL_OK);
	volatile uint64_t *p = (volatile uint64_t *)va;
	p[0] = 1;
	p[(1 << 21) / 8 - 1] = 2; /* the last word */
	UEXPECT(t, p[0] == 1 && p[(1 << 21) / 8 - 1] == 2);
	UEXPECT_ERR(t, hl_frame_paddr(big, &pa), HL_OK);
	UEXPECT(t, pa % (1u << 21) == 0, "paddr %#lx", pa);
	/* A page table cannot go where the 2 MiB page is. */
	hl_cptr_t pt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, va, 1), HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, big), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, va, 1), HL_OK);
}

/*
 * Bug fixed: unmapping the last page under a user page table unhooked that
 * table (and empty parents) from the address space although its capability
 * still said mapped: the next map there failed with NO_TABLE and map_table
 * with ALREADY_MAPPED until the table capabilities were deleted.
 */
UTEST(aspace, unmap_last_page_keeps_page_tables)
{
	hl_cptr_t f = ut_alloc(t, HL_OBJ_FRAME, 12);
	uint64_t va = FRESH_VA + (3ull << 39);

	tables_for(t, HL_SLOT_ASPACE, va);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE), HL_OK);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, f), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, f, va + 4096, HL_R_READ | HL_R_WRITE), HL_OK);
	*(volatile uint64_t *)(va + 4096) = 3;
	UEXPECT(t, *(volatile uint64_t *)(va + 4096) == 3);
}
