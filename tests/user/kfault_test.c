/*
 * Ring-3 suite "isolation_faults": the four ways a program with only the
 * capabilities every program has could break isolation (issue 10), each
 * tried exactly as it was found. Every case is named after its fault.
 *
 * 1. one page-table object hooked in twice (through a copy of its
 *    capability), so that a frame of the program's own became a page table;
 * 2. the same aliasing across levels in a fresh address space, which made
 *    the kernel follow an entry the program wrote (a #GP in ring 0);
 * 3. set_budget(0, 0) on a throttled thread: replenish() looped for ever
 *    with the big kernel lock held, hanging every CPU;
 * 4. a budget set on a thread running on another CPU was not enforced
 *    until that thread next entered the kernel.
 */
#include "utest.h"

#define VA_A    0x510000000000ull              /* PML4 slots no other suite uses: one per case, */
#define SLOT(k) (VA_A + ((uint64_t)(k) << 39)) /* as a suite's tables stay until it ends */
#define GIB     (1ull << 30)
#define MIB2    (1ull << 21)

enum { ST_INACTIVE = 0 };

/* A copy of cap in a fresh slot (0 on failure). */
static hl_cptr_t copy_of(hl_cptr_t cap)
{
	hl_cptr_t s = ut_slot();

	return hl_cspace_copy(HL_SLOT_CSPACE, s, cap, HL_R_ALL) == HL_OK ? s : 0;
}

/*
 * Fault 1 as found: P hooked as the PT of A, then its copy P2 as the PD of
 * B, would let frame X mapped at A hold the entries of B's 2 MiB region.
 * Every further hook of the same table, through any capability to it, at
 * any place or level, must be refused.
 */
UTEST(isolation_faults, page_table_hooked_twice_through_a_copy)
{
	hl_cptr_t pdpt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12),
	          pd = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	hl_cptr_t p = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12), x = ut_alloc(t, HL_OBJ_FRAME, 12);
	hl_cptr_t p2 = copy_of(p);
	uint64_t b = VA_A + GIB;

	if (!UCHECK(t, pdpt && pd && p && x && p2))
		return;
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pdpt, VA_A, 3), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pd, VA_A, 2), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, p, VA_A, 1), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, p2, b, 2),
	            HL_ERR_ALREADY_MAPPED); /* the fault */
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, p2, VA_A + MIB2, 1),
	            HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, p2, VA_A + 2 * (1ull << 39), 3),
	            HL_ERR_ALREADY_MAPPED);
	hl_cptr_t p3 = copy_of(p2); /* a copy of a copy, and one moved to another slot */
	hl_cptr_t moved = ut_slot();
	UEXPECT_ERR(t, hl_cspace_move(HL_SLOT_CSPACE, moved, p3), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, moved, VA_A + MIB2, 1),
	            HL_ERR_ALREADY_MAPPED);
	/* X maps at A through P: its page stays a frame, never a table of B. */
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, x, VA_A, HL_R_READ | HL_R_WRITE), HL_OK);
	volatile uint64_t *xp = (volatile uint64_t *)VA_A;
	xp[0] = 0x1234;
	UEXPECT(t, xp[0] == 0x1234);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, x), HL_OK);
}

/*
 * Deleting the capability that hooked a table unhooks it and empties it:
 * hooked again through a remaining copy, it brings back none of the
 * mappings it held (they could outlive their frames).
 */
UTEST(isolation_faults, a_table_unhooked_through_one_capability_comes_back_empty)
{
	hl_cptr_t pdpt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12),
	          pd = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	hl_cptr_t p = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12), x = ut_alloc(t, HL_OBJ_FRAME, 12);
	hl_cptr_t y = ut_alloc(t, HL_OBJ_FRAME, 12);
	hl_cptr_t p2 = copy_of(p);
	uint64_t va = SLOT(4), b = va + MIB2;

	if (!UCHECK(t, pdpt && pd && p && x && y && p2))
		return;
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pdpt, va, 3), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pd, va, 2), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, p, va, 1), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, x, va, HL_R_READ | HL_R_WRITE), HL_OK);
	*(volatile uint64_t *)va = 77;
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, p),
	            HL_OK); /* unhooks P; P2 keeps the object */
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, y, va, HL_R_READ), HL_ERR_NO_TABLE);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, p2, b, 1), HL_OK);
	/* X's old entry would sit at index 0: the place is free, so Y maps there. */
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, y, b, HL_R_READ), HL_OK);
	UEXPECT(t, *(volatile uint64_t *)b == 0, "the frame mapped is y (zeroed), not x");
	/* X still records its old mapping; unmapping it finds nothing there and forgets it. */
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, x, b + 4096, HL_R_READ),
	            HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_aspace_unmap(HL_SLOT_ASPACE, x), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, x, b + 4096, HL_R_READ), HL_OK);
	UEXPECT(t, *(volatile uint64_t *)(b + 4096) == 77);
}

/*
 * Fault 2 as found: T3 hooked as the PDPT of 0 in a fresh address space,
 * T2 as its PD, then a copy of T3 as the PT of 0 (accepted), so frame F
 * mapped at 0x1000 became the directory of 1-2 GiB; a value written into F
 * then sent the kernel's walk to "direct map + that value" (#GP).
 */
UTEST(isolation_faults, page_table_hooked_at_two_levels_in_a_fresh_aspace)
{
	hl_cptr_t as = ut_alloc(t, HL_OBJ_ASPACE, 13), t3 = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	hl_cptr_t t2 = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12), f = ut_alloc(t, HL_OBJ_FRAME, 12);
	hl_cptr_t g = ut_alloc(t, HL_OBJ_FRAME, 12), mine = copy_of(f);
	hl_cptr_t c = copy_of(t3);

	if (!UCHECK(t, as && t3 && t2 && f && g && mine && c))
		return;
	UEXPECT_ERR(t, hl_aspace_map_table(as, t3, 0, 3), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(as, t2, 0, 2), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(as, c, 0, 1), HL_ERR_ALREADY_MAPPED); /* the fault */
	UEXPECT_ERR(t, hl_aspace_map(as, f, 0x1000, HL_R_READ | HL_R_WRITE), HL_ERR_NO_TABLE);
	/* The rest of the sequence, through the program's own mapping of F: harmless now. */
	hl_cptr_t pdpt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12),
	          pd = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	hl_cptr_t pt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
	uint64_t own = SLOT(8);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pdpt, own, 3), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pd, own, 2), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map_table(HL_SLOT_ASPACE, pt, own, 1), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(HL_SLOT_ASPACE, mine, own, HL_R_READ | HL_R_WRITE), HL_OK);
	*(volatile uint64_t *)own = 0x000ffffffffff007ull;
	UEXPECT_ERR(t, hl_aspace_map(as, g, 0x40000000, HL_R_READ | HL_R_WRITE), HL_ERR_NO_TABLE);
	/* And a table of the own address space cannot be hooked into the fresh one either. */
	hl_cptr_t pt_copy = copy_of(pt);
	UEXPECT_ERR(t, hl_aspace_map_table(as, pt_copy, 0, 1), HL_ERR_ALREADY_MAPPED);
}

struct spinner {
	volatile uint64_t count;
	volatile int stop;
	uint64_t deadline;
};

static void spin(void *arg)
{
	struct spinner *s = arg;

	while (!s->stop && ut_rdtsc() < s->deadline)
		s->count++;
}

/*
 * Fault 3 as found: a spinning thread with a small budget is throttled,
 * then set_budget(T, 0, 0) is accepted, leaves it on the throttled list
 * with a period of 0, and the next replenish() loops for ever. Now T is
 * taken off the list and runs unlimited.
 */
UTEST(isolation_faults, zero_budget_on_a_throttled_thread)
{
	static struct spinner s; /* not on the stack: a thread that is late to stop must not write
	                            into the next case */

	s = (struct spinner){0, 0, ut_rdtsc() + ut_ms_to_tsc(5000)};
	hl_cptr_t tcb = ut_thread_new(t, spin, &s, 100);

	if (!UCHECK(t, tcb))
		return;
	hl_thread_set_affinity(tcb, 0);
	UEXPECT_ERR(t, hl_thread_set_budget(tcb, 2000, 1000000),
	            HL_OK); /* then throttled for about a second */
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	bool throttled = false;
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(500); !throttled && ut_rdtsc() < end;) {
		hl_yield();
		throttled = ut_state_of(tcb) == ST_INACTIVE; /* resumed, not suspended: throttled */
	}
	UEXPECT(t, throttled, "the thread was never seen throttled (count %lu)", s.count);
	UEXPECT_ERR(t, hl_thread_set_budget(tcb, 0, 0), HL_OK); /* the fault */
	UEXPECT(t, ut_state_of(tcb) != ST_INACTIVE, "still throttled after the budget was lifted");
	uint64_t c1 = s.count;
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(200); ut_rdtsc() < end;)
		hl_yield(); /* the timer fires and replenishes meanwhile: the kernel must go on */
	UEXPECT(t, s.count > c1, "the thread no longer runs");
	s.stop = 1;
	hl_thread_suspend(tcb);
}

/* Adds up the TSC time it runs: steps shorter than gap are running, longer ones are time taken from
 * it. */
struct runtime {
	volatile uint64_t ran;
	volatile int stop;
	uint64_t gap;
};

static void spin_timed(void *arg)
{
	struct runtime *r = arg;
	uint64_t prev = ut_rdtsc();

	while (!r->stop) {
		uint64_t now = ut_rdtsc();
		if (now - prev < r->gap)
			r->ran += now - prev;
		prev = now;
	}
}

/* Percent of the next ms milliseconds that r's thread ran. */
static uint64_t share_pct(struct runtime *r, uint64_t ms)
{
	uint64_t r0 = r->ran, t0 = ut_rdtsc();

	while (ut_rdtsc() - t0 < ut_ms_to_tsc(ms))
		;
	return (r->ran - r0) * 100 / (ut_rdtsc() - t0);
}

/*
 * Fault 4 as found: set_budget on a thread that computes without system
 * calls on another CPU neither interrupted that CPU nor armed its timer;
 * the thread kept its whole CPU. With 1 ms in 100 ms it gets ~1% now. The
 * share is measured in TSC time, as the kernel charges budgets, so time
 * the host takes from QEMU lowers the unbudgeted share but can never
 * raise the budgeted one.
 */
UTEST(isolation_faults, budget_reaches_a_thread_running_on_another_cpu)
{
	static struct runtime r; /* not on the stack: see zero_budget_on_a_throttled_thread */

	r = (struct runtime){0, 0, rt_self.bi->tsc_hz / 50000}; /* 20 us */

	if (rt_self.bi->ncpus < 2)
		return; /* needs a second CPU */
	hl_cptr_t tcb = ut_thread_new(t, spin_timed, &r, 100);
	if (!UCHECK(t, tcb))
		return;
	hl_thread_set_affinity(tcb, 1);
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(500); !r.ran && ut_rdtsc() < end;)
		;
	uint64_t free_pct = share_pct(&r, 100);
	UEXPECT_ERR(t, hl_thread_set_budget(tcb, 1000, 100000), HL_OK); /* the fault */
	uint64_t budget_pct = share_pct(&r, 300);
	UEXPECT(t, budget_pct < 10, "ran %lu%% unbudgeted, %lu%% with 1 ms in 100 ms", free_pct,
	        budget_pct);
	rt_printf("        # spinner: ran %lu%% of the time unbudgeted, %lu%% with a 1%% budget\n",
	          free_pct, budget_pct);
	r.stop = 1;
	hl_thread_suspend(tcb);
}

/*
 * Bug found while fixing fault 1: a mapping remembered only the low 16
 * bits of its address space's id, so from the 65,536th address space on,
 * deleting a frame capability no longer removed the frame's mapping (the
 * address space looked dead): the entry outlived the frame, whose memory
 * could then be retyped into kernel objects. Makes 65,536 address spaces
 * (16 at a time from a 128 KiB memory capability), then checks that
 * deleting a mapped frame's capability frees its place.
 */
UTEST(isolation_faults, frame_unmapped_after_65536_address_spaces)
{
	hl_cptr_t mem = ut_alloc(t, HL_OBJ_MEMORY, 17), first = ut_slot();

	for (int i = 1; i < 16; i++)
		ut_slot(); /* slots first .. first + 15 */
	if (!UCHECK(t, mem))
		return;
	for (int round = 0; round < 4096; round++) {
		long e1 = hl_memory_retype(mem, HL_OBJ_ASPACE, 13, 16, first),
		     e2 = hl_cspace_revoke(HL_SLOT_CSPACE, mem);
		if (!UCHECK(t, e1 == HL_OK && e2 == HL_OK, "round %d: retype %ld, revoke %ld",
		            round, e1, e2))
			return;
	}
	hl_cptr_t as = ut_alloc(t, HL_OBJ_ASPACE, 13), f = ut_alloc(t, HL_OBJ_FRAME, 12),
	          g = ut_alloc(t, HL_OBJ_FRAME, 12);
	if (!UCHECK(t, as && f && g))
		return;
	for (int level = 3; level >= 1; level--)
		UEXPECT_ERR(t,
		            hl_aspace_map_table(as, ut_alloc(t, HL_OBJ_PAGE_TABLE, 12), 0x400000,
		                                (hl_word_t)level),
		            HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(as, f, 0x400000, HL_R_READ | HL_R_WRITE), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, f), HL_OK);
	UEXPECT_ERR(t, hl_aspace_map(as, g, 0x400000, HL_R_READ),
	            HL_OK); /* the place is free again */
}

struct self_budget {
	hl_cptr_t self; /* a copy of the thread's own capability */
	volatile long lift, raise, lower, same;
	volatile int done;
};

static void try_own_budget(void *arg)
{
	struct self_budget *b = arg;

	b->lift = hl_thread_set_budget(b->self, 0, 0);
	b->raise = hl_thread_set_budget(b->self, 5000, 10000);
	b->lower = hl_thread_set_budget(b->self, 500, 10000);
	b->same = hl_thread_set_budget(b->self, 500, 10000);
	b->done = 1;
	for (;;)
		hl_yield();
}

/*
 * Found by the audit of every decode (docs/capabilities.md): every program
 * holds its own thread capabilities, and set_budget checked nothing about
 * the caller, so a budgeted thread could lift its own budget. CPU time is
 * now handed down like priorities: no larger share than the caller's own.
 */
UTEST(isolation_faults, budgeted_thread_cannot_lift_its_own_budget)
{
	static struct self_budget b; /* not on the stack: see zero_budget_on_a_throttled_thread */

	b = (struct self_budget){0, 99, 99, 99, 99, 0};
	hl_cptr_t tcb = ut_thread_new(t, try_own_budget, &b, 100);

	if (!UCHECK(t, tcb))
		return;
	b.self = copy_of(tcb);
	UEXPECT_ERR(t, hl_thread_set_budget(tcb, 1000, 10000), HL_OK); /* 10% */
	UEXPECT_ERR(t, hl_thread_resume(tcb), HL_OK);
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(1000); !b.done && ut_rdtsc() < end;)
		hl_yield();
	UEXPECT(t, b.done, "the thread did not finish");
	UEXPECT_ERR(t, b.lift, HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, b.raise, HL_ERR_NO_RIGHTS);
	UEXPECT_ERR(t, b.lower, HL_OK); /* 5%: less is always allowed */
	UEXPECT_ERR(t, b.same, HL_OK);
	UEXPECT_ERR(t, hl_thread_set_budget(tcb, 0, 0), HL_OK); /* the unlimited runner may */
	hl_thread_suspend(tcb);
}

static volatile uint64_t victim_turns;

/* Enters the kernel as often as it can: each entry saves its registers into its thread. */
static void victim(void *arg)
{
	(void)arg;
	for (;;) {
		victim_turns++;
		hl_yield();
	}
}

static void victim_entry(void)
{
	victim(NULL);
}

/*
 * Found by the syscall fuzzer on 4 CPUs (an endpoint's queue head of 1, a
 * page-table entry of 1): syscall_entry saves the registers into the
 * current thread before it takes the kernel lock. A thread destroyed by
 * another CPU meanwhile (its memory reused at once, the lock being unfair)
 * was then used as a thread anyway: the system call's result landed in
 * whatever object the memory had become. Each round destroys a thread that
 * runs system calls on CPU 1, makes its 8 KiB into notifications at once,
 * and checks that none of them has a signal.
 */
UTEST(isolation_faults, thread_destroyed_on_another_cpu_writes_nothing_into_reused_memory)
{
	static uint8_t stack[4096] __attribute__((aligned(16)));
	hl_cptr_t ipcf, mem = ut_alloc(t, HL_OBJ_MEMORY, 13);
	struct hl_ipc_buffer *buf = ut_page(t, &ipcf);
	hl_cptr_t first = ut_slot(); /* then first + 1 .. first + nntfn - 1 */
	const unsigned nntfn = 8;    /* the registers lie in the first 256 bytes of a thread */
	int bad = 0, rounds = 0;

	if (rt_self.bi->ncpus < 2)
		return; /* needs a second CPU */
	for (unsigned i = 1; i < nntfn; i++)
		ut_slot();
	if (!UCHECK(t, mem && buf))
		return;
	for (; rounds < 300 && !bad; rounds++) {
		UEXPECT_ERR(t, hl_memory_retype(mem, HL_OBJ_THREAD, 0, 1, first), HL_OK);
		uint64_t seen = victim_turns;
		if (hl_thread_configure(first, HL_SLOT_CSPACE, HL_SLOT_ASPACE, ipcf,
		                        (hl_word_t)buf) ||
		    hl_thread_write_regs(first, (hl_word_t)victim_entry,
		                         (hl_word_t)(stack + sizeof(stack) - 8), 0, 0) ||
		    hl_thread_set_priority(first, 100) || hl_thread_set_affinity(first, 1) ||
		    hl_thread_resume(first)) {
			UEXPECT(t, false, "round %d: the thread was not started", rounds);
			return;
		}
		for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(1000);
		     victim_turns < seen + 2 && ut_rdtsc() < end;)
			;
		UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, mem), HL_OK);
		UEXPECT_ERR(t, hl_memory_retype(mem, HL_OBJ_NOTIFICATION, 0, nntfn, first), HL_OK);
		for (unsigned i = 0; i < nntfn; i++) {
			hl_word_t info = 0, word = 0;
			struct hl_msg msg = {{0}};
			long e = hl_syscall(HL_SYS_POLL, first + i, &info, &msg, &word);
			if (e != HL_ERR_WOULD_BLOCK) {
				UEXPECT(t, false,
				        "round %d: notification %u of the reused memory: %ld, %#lx",
				        rounds, i, e, (unsigned long)word);
				bad = 1;
			}
		}
		UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, mem), HL_OK);
	}
	rt_printf("        # %d rounds\n", rounds);
}
