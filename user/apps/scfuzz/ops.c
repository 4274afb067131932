/*
 * The driver: one thread that makes the round's system calls, picked
 * from weighted operations on what the model says it holds, so most calls
 * are valid and reach the kernel's real work; a share are made invalid on
 * purpose (one argument broken in a way the ABI names) and must be refused
 * with that error. Every call's (operation, result) goes into a hash: with
 * one CPU under -icount the run is deterministic and the hash repeats.
 *
 * The driver never blocks: it invokes methods only on slots whose model
 * type has them (an endpoint invoked by mistake would be an IPC call), and
 * talks to endpoints and notifications only with non-blocking sends and
 * polls. Blocking is the victims' part (victim.c).
 */
#include "scfuzz.h"

enum op {
	OP_RETYPE,
	OP_COPY,
	OP_MINT,
	OP_MOVE,
	OP_DELETE,
	OP_REVOKE,
	OP_MAP_TABLE,
	OP_MAP,
	OP_UNMAP,
	OP_PROTECT,
	OP_SPAWN,
	OP_PRIO,
	OP_BUDGET,
	OP_AFFINITY,
	OP_SUSPEND,
	OP_RESUME,
	OP_CONFIGURE,
	OP_BIND,
	OP_FAULT_EP,
	OP_SIGNAL,
	OP_POLL,
	OP_INFO,
	OP_PADDR,
	OP_READ_REGS,
	OP_YIELD,
	OP_INVALID,
	OP_SNAPSHOT,
	OP_WAIT,
	OP_LINUX_ANSWER,
	OP_DELETE_LIST,
	OP_COUNT
};
_Static_assert(OP_COUNT <= 32, "fuzz_stats per_op");

const char *const op_names[32] = {"retype",  "copy",      "mint",   "move",         "delete",
                                  "revoke",  "map_table", "map",    "unmap",        "protect",
                                  "spawn",   "priority",  "budget", "affinity",     "suspend",
                                  "resume",  "configure", "bind",   "fault_ep",     "signal",
                                  "poll",    "info",      "paddr",  "read_regs",    "yield",
                                  "invalid", "snapshot",  "wait",   "linux_answer", "delete_list"};

static const uint8_t weight[OP_COUNT] = {
    [OP_RETYPE] = 14,      [OP_COPY] = 10,       [OP_MINT] = 3,      [OP_MOVE] = 5,
    [OP_DELETE] = 7,       [OP_REVOKE] = 3,      [OP_MAP_TABLE] = 9, [OP_MAP] = 9,
    [OP_UNMAP] = 4,        [OP_PROTECT] = 3,     [OP_SPAWN] = 3,     [OP_PRIO] = 3,
    [OP_BUDGET] = 5,       [OP_AFFINITY] = 4,    [OP_SUSPEND] = 2,   [OP_RESUME] = 3,
    [OP_CONFIGURE] = 2,    [OP_BIND] = 2,        [OP_FAULT_EP] = 1,  [OP_SIGNAL] = 3,
    [OP_POLL] = 2,         [OP_INFO] = 1,        [OP_PADDR] = 2,     [OP_READ_REGS] = 1,
    [OP_YIELD] = 1,        [OP_INVALID] = 8,     [OP_SNAPSHOT] = 4,  [OP_WAIT] = 2,
    [OP_LINUX_ANSWER] = 1, [OP_DELETE_LIST] = 3,
};

static struct driver_arg *A;
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(fz_next(&rng) % n) : 0;
}

/* Count and hash one call's result. */
static long rec(int op, long err)
{
	A->st.calls++;
	A->st.per_op[op]++;
	if (err == HL_OK) {
		A->st.ok++;
		A->st.per_op_ok[op]++;
	}
	A->st.hash = (A->st.hash ^ (uint64_t)(op << 8 | (int)err)) * 0x100000001b3ull;
	if (A->trace)
		rt_printf("# scfuzz: call %lu: %s -> %ld\n", A->st.calls, op_names[op], err);
	return err;
}

static bool protected_slot(int cs, uint64_t i)
{
	return cs == 0 && i < W_FIRST_FREE;
}

/* A random slot of model cspace cs whose type is in mask (bit per type; 0 = any); -1 if none. */
static int pick(int cs, uint32_t mask, bool mutable_only)
{
	uint32_t n = 1u << m.cs[cs].bits, start = rnd(n);

	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = (start + k) % n;
		const struct mslot *s = &m.s[m.cs[cs].base + i];
		if (s->type == HL_OBJ_NONE || (mask && !(mask >> s->type & 1)) ||
		    (mutable_only && protected_slot(cs, i)))
			continue;
		return (int)i;
	}
	return -1;
}

/* count consecutive empty slots of cs (not the fixed ones); -1 if none. */
static int pick_empty(int cs, uint32_t count)
{
	uint32_t n = 1u << m.cs[cs].bits, start = rnd(n);

	for (uint32_t k = 0; k < n; k++) {
		uint32_t i = (start + k) % n, j = 0;
		for (; j < count && i + j < n; j++)
			if (m.s[m.cs[cs].base + i + j].type != HL_OBJ_NONE ||
			    protected_slot(cs, i + j))
				break;
		if (j == count)
			return (int)i;
	}
	return -1;
}

#define T(x) (1u << HL_OBJ_##x)

static const struct mslot *W(int i)
{
	return &m.s[m.cs[0].base + i];
}

/* A slot of the driver's cspace naming a cspace (itself mostly) and the model cspace it names. */
static int pick_cs(int *cs)
{
	int i = rnd(4) ? W_SELF : pick(0, T(CSPACE), false);

	if (i < 0)
		i = W_SELF;
	int o = W(i)->obj, c = o >= 0 ? m.o[o].rec : -1;
	if (c < 0 || !m.cs[c].live || m.cs[c].dying)
		return -1;
	*cs = c;
	return i;
}

static int pool0(int i)
{
	return m.cs[0].base + i;
}

/* ---- memory and capabilities ---- */

static const uint8_t retype_types[] = {
    HL_OBJ_FRAME,        HL_OBJ_FRAME,        HL_OBJ_FRAME,  HL_OBJ_PAGE_TABLE, HL_OBJ_PAGE_TABLE,
    HL_OBJ_PAGE_TABLE,   HL_OBJ_ASPACE,       HL_OBJ_THREAD, HL_OBJ_ENDPOINT,   HL_OBJ_ENDPOINT,
    HL_OBJ_NOTIFICATION, HL_OBJ_NOTIFICATION, HL_OBJ_CSPACE, HL_OBJ_MEMORY};

static uint8_t size_for(uint8_t type)
{
	switch (type) {
	case HL_OBJ_FRAME:
		return rnd(16) ? 12 : 21;
	case HL_OBJ_CSPACE:
		return (uint8_t)(1 + rnd(CHILD_MAX_BITS));
	case HL_OBJ_MEMORY:
		return (uint8_t)(12 + rnd(8));
	default:
		return 0;
	}
}

/* Retype count objects from memory slot mem into free slots; returns the first slot or -1. */
static int retype(int mem, uint8_t type, uint8_t bits, uint32_t count)
{
	int dst = pick_empty(0, count);

	for (uint32_t i = 0; i < count; i++)
		if (!m_can_create(type, bits))
			return -1;
	if (dst < 0 || mem < 0)
		return -1;
	if (rec(OP_RETYPE, hl_memory_retype((hl_cptr_t)mem, type, bits, count, (hl_cptr_t)dst)) !=
	    HL_OK)
		return -1;
	for (uint32_t i = 0; i < count; i++)
		m_insert(pool0(dst + (int)i), type, m_new_obj(type, bits), HL_R_ALL, 0, pool0(mem));
	return dst;
}

static int any_memory(void)
{
	return rnd(3) ? W_MEM : pick(0, T(MEMORY), false);
}

static void op_retype(void)
{
	uint8_t type = retype_types[rnd(sizeof(retype_types))];
	uint32_t count = type == HL_OBJ_THREAD || type == HL_OBJ_CSPACE ? 1 : 1 + rnd(3);

	retype(any_memory(), type, size_for(type), count);
}

static void op_copy(bool mint)
{
	int cs, tgt = pick_cs(&cs);
	int src = pick(0, mint ? T(ENDPOINT) | T(NOTIFICATION) : ~T(MEMORY) & ~1u, false);
	int dst = tgt >= 0 ? pick_empty(cs, 1) : -1;

	if (src < 0 || dst < 0 || src == W_DONE)
		return; /* the done notification stays the controller's alone */
	uint8_t rights = rnd(8) ? HL_R_ALL : (uint8_t)rnd(16);
	uint64_t badge = mint ? 1 + rnd(1u << 20) : 0;
	long err =
	    mint ? hl_cspace_mint((hl_cptr_t)tgt, (hl_cptr_t)dst, (hl_cptr_t)src, rights, badge)
	         : hl_cspace_copy((hl_cptr_t)tgt, (hl_cptr_t)dst, (hl_cptr_t)src, rights);
	if (rec(mint ? OP_MINT : OP_COPY, err) != HL_OK)
		return;
	const struct mslot *s = W(src);
	m_insert(m_pool(cs, (uint64_t)dst), s->type, s->obj, s->rights & rights,
	         mint ? badge : s->badge, pool0(src));
}

static void op_move(void)
{
	int cs, tgt = pick_cs(&cs);
	int src = pick(0, 0, true);
	int dst = tgt >= 0 ? pick_empty(cs, 1) : -1;

	if (src < 0 || dst < 0 || src == W_MEM)
		return;
	if (rec(OP_MOVE, hl_cspace_move((hl_cptr_t)tgt, (hl_cptr_t)dst, (hl_cptr_t)src)) == HL_OK)
		m_move(m_pool(cs, (uint64_t)dst), pool0(src));
}

static void op_delete_revoke(bool revoke)
{
	int cs, tgt = pick_cs(&cs);
	int s = tgt >= 0 ? pick(cs, 0, !revoke) : -1;

	if (s < 0 || (cs == 0 && s == W_MEM && !revoke))
		return;
	if (m_pool(cs, (uint64_t)s) == pool0(tgt))
		return; /* the capability being invoked: refused (ILLEGAL_OP) */
	if (revoke) {
		if (rec(OP_REVOKE, hl_cspace_revoke((hl_cptr_t)tgt, (hl_cptr_t)s)) == HL_OK)
			m_revoke(m_pool(cs, (uint64_t)s));
	} else if (rec(OP_DELETE, hl_cspace_delete((hl_cptr_t)tgt, (hl_cptr_t)s)) == HL_OK) {
		m_delete(m_pool(cs, (uint64_t)s));
	}
}

/*
 * cspace.delete_list of 1 to 4 different slots of one cspace; one time in
 * four one entry is bad (past the cspace's end, or the invoked capability
 * itself), or the count is over the limit. The model deletes the entries
 * the kernel says it did.
 */
static void op_delete_list(void)
{
	int cs, tgt = pick_cs(&cs), n = 1 + (int)rnd(4), k = 0;
	hl_cptr_t list[4];
	hl_word_t done = 0, count;

	if (tgt < 0)
		return;
	for (int tries = 0; tries < 8 && k < n; tries++) {
		int s = pick(cs, 0, true);
		bool again =
		    s < 0 || (cs == 0 && s == W_MEM) || m_pool(cs, (uint64_t)s) == pool0(tgt);
		for (int j = 0; j < k && !again; j++)
			again = list[j] == (hl_cptr_t)s;
		if (!again)
			list[k++] = (hl_cptr_t)s;
	}
	if (!k)
		return;
	count = (hl_word_t)k;
	if (!rnd(4)) {
		uint32_t how = rnd(3), at = rnd((uint32_t)k);
		if (how == 0)
			list[at] = (hl_cptr_t)(1ull << m.cs[cs].bits) + rnd(8); /* past the end */
		else if (how == 1 && cs == 0)
			list[at] = (hl_cptr_t)tgt; /* the capability being invoked */
		else
			count = HL_DELETE_LIST_MAX + 1 + rnd(4); /* over the limit: nothing done */
	}
	for (int j = 0; j < k; j++)
		hl_ipcbuf()->mr[4 + j] = list[j];
	rec(OP_DELETE_LIST, hl_cspace_delete_list((hl_cptr_t)tgt, count, &done));
	for (hl_word_t j = 0; j < done && j < (hl_word_t)k; j++) {
		int p = m_pool(cs, list[j]); /* -1 once an entry took the cspace with it */
		if (p >= 0)
			m_delete(p);
	}
}

/* ---- address spaces ---- */

/* A grid in the fuzz region: few distinct places, so tables and frames meet often. */
static uint64_t grid_va(int level)
{
	uint64_t va = FZ_BASE + ((uint64_t)rnd(4) << 39);

	if (level <= 2)
		va += (uint64_t)rnd(4) << 30;
	if (level <= 1)
		va += (uint64_t)rnd(4) << 21;
	if (level <= 0)
		va += (uint64_t)rnd(16) << 12;
	return va;
}

/* The driver-cspace slot of a hooked table of the given level in address-space object as, or -1. */
static int find_hook(int as, int level)
{
	uint32_t n = 1u << WCS_BITS, start = rnd(n);

	for (uint32_t k = 0; k < n; k++) {
		const struct mslot *s = W((start + k) % n);
		if (s->type == HL_OBJ_PAGE_TABLE && s->mapped && s->map_as == as &&
		    s->map_level == level)
			return (int)((start + k) % n);
	}
	return -1;
}

static int pick_aspace(void)
{
	int a = rnd(2) ? W_OWN_AS : pick(0, T(ASPACE), false);
	return a < 0 ? W_OWN_AS : a;
}

static long map_table(int as, int pt, uint64_t va, int level)
{
	long err = rec(OP_MAP_TABLE,
	               hl_aspace_map_table((hl_cptr_t)as, (hl_cptr_t)pt, va, (hl_word_t)level));
	if (err == HL_OK) {
		struct mslot *s = &m.s[pool0(pt)];
		s->mapped = 1, s->map_as = W(as)->obj, s->map_level = (uint8_t)level;
		s->map_va = va & ~((1ull << (12 + 9 * level)) - 1);
	}
	return err;
}

/* Another capability to the same page table holds a hook (known fault 1 when hooked again). */
static bool hooked_elsewhere(int pt)
{
	for (int i = 0; i < (int)POOL; i++)
		if (i != pool0(pt) && m.s[i].type == HL_OBJ_PAGE_TABLE &&
		    m.s[i].obj == W(pt)->obj && m.s[i].mapped)
			return true;
	return false;
}

static void op_map_table(void)
{
	int as = pick_aspace(), level = 1 + (int)rnd(3);
	int pt = pick(0, T(PAGE_TABLE), false);

	if (pt < 0 || (A->avoid_known && hooked_elsewhere(pt)))
		return;
	uint64_t va = grid_va(level);
	int parent = level < 3 ? find_hook(W(as)->obj, level + 1) : -1;
	if (parent >= 0 && rnd(4))
		va = W(parent)->map_va + ((uint64_t)rnd(4) << (12 + 9 * level));
	map_table(as, pt, va, level);
}

static void wr_add(uint64_t va)
{
	uint32_t n = fz_nwr;

	if (n < 64) {
		fz_wr_va[n] = va;
		fz_nwr = n + 1;
	} else {
		fz_wr_va[rnd(64)] = va;
	}
}

static void wr_remove(uint64_t va)
{
	for (uint32_t i = 0; i < fz_nwr; i++)
		if (fz_wr_va[i] == va)
			fz_wr_va[i] = 0; /* writers skip 0 */
}

static long map_frame(int as, int f, uint64_t va, uint32_t rights, int op)
{
	long err = rec(op, hl_aspace_map((hl_cptr_t)as, (hl_cptr_t)f, va, rights));
	if (err == HL_OK) {
		struct mslot *s = &m.s[pool0(f)];
		s->mapped = 1, s->map_as = W(as)->obj, s->map_va = va;
	}
	return err;
}

static void op_map(void)
{
	int as = pick_aspace(), f = pick(0, T(FRAME), false);

	if (f < 0)
		return;
	bool big = m.o[W(f)->obj].size_bits == 21;
	int hook = find_hook(W(as)->obj, big ? 2 : 1);
	uint64_t va = hook >= 0 ? W(hook)->map_va + ((uint64_t)rnd(big ? 8 : 32) << (big ? 21 : 12))
	                        : grid_va(big ? 1 : 0);
	uint32_t rights = (uint32_t[]){HL_R_READ | HL_R_WRITE, HL_R_READ | HL_R_WRITE, HL_R_READ,
	                               HL_R_READ | HL_R_EXEC, HL_R_ALL & 7}[rnd(5)];
	if (map_frame(as, f, va, rights, OP_MAP) == HL_OK && as == W_OWN_AS &&
	    (rights & HL_R_WRITE) && !big && (W(f)->rights & HL_R_WRITE))
		wr_add(va);
}

static void op_unmap_protect(bool protect)
{
	int f = pick(0, T(FRAME), false); /* mapped or not (NOT_MAPPED) */

	if (f < 0)
		return;
	int as = W_OWN_AS;
	for (int i = 0; i < (1 << WCS_BITS); i++)
		if (W(i)->type == HL_OBJ_ASPACE && W(i)->obj == W(f)->map_as)
			as = i;
	if (protect) {
		uint32_t rights = rnd(2) ? HL_R_READ : HL_R_READ | HL_R_WRITE;
		if (rec(OP_PROTECT, hl_aspace_protect((hl_cptr_t)as, (hl_cptr_t)f, rights)) ==
		        HL_OK &&
		    !(rights & HL_R_WRITE))
			wr_remove(W(f)->map_va);
		return;
	}
	if (rec(OP_UNMAP, hl_aspace_unmap((hl_cptr_t)as, (hl_cptr_t)f)) == HL_OK) {
		wr_remove(W(f)->map_va);
		m.s[pool0(f)].mapped = 0;
	}
}

/* ---- threads ---- */

static void configure(int th, int cs, int as, int ipc, uint64_t ipc_va)
{
	long err = hl_thread_configure((hl_cptr_t)th, (hl_cptr_t)cs, (hl_cptr_t)as, (hl_cptr_t)ipc,
	                               ipc_va);

	if (rec(OP_CONFIGURE, err) != HL_OK)
		return;
	int o = W(th)->obj;
	m_hold(o, HELD_CSPACE, pool0(cs));
	m_hold(o, HELD_ASPACE, pool0(as));
	m_hold(o, HELD_IPC, ipc ? pool0(ipc) : -1);
}

/* A level-1 table in the own address space for the victims' stacks: found, or built from three new
 * ones. */
static int own_pt(void)
{
	int pt = find_hook(W(W_OWN_AS)->obj, 1);

	if (pt >= 0)
		return pt;
	int first = retype(W_MEM, HL_OBJ_PAGE_TABLE, 0, 3);
	if (first < 0)
		return -1;
	uint64_t va = grid_va(1);
	for (int level = 3; level >= 1; level--)
		if (map_table(W_OWN_AS, first + 3 - level, va, level) == HL_OK && level == 1)
			return first + 2;
	return find_hook(W(W_OWN_AS)->obj, 1);
}

/* A new thread running victim_entry on a stack in the fuzz region, in the own address space. */
static void op_spawn(void)
{
	int th = retype(any_memory(), HL_OBJ_THREAD, 0, 1);
	int fr = th >= 0 ? retype(any_memory(), HL_OBJ_FRAME, 12, 2) : -1;
	int pt = fr >= 0 ? own_pt() : -1;

	if (pt < 0)
		return;
	uint64_t base = W(pt)->map_va, stack = base + ((uint64_t)rnd(256) << 13),
	         ipc = stack + 4096;
	if (map_frame(W_OWN_AS, fr, stack, HL_R_READ | HL_R_WRITE, OP_SPAWN) ||
	    map_frame(W_OWN_AS, fr + 1, ipc, HL_R_READ | HL_R_WRITE, OP_SPAWN))
		return;
	int cs, cs_slot = rnd(5) ? W_SELF : pick_cs(&cs);
	if (cs_slot < 0)
		cs_slot = W_SELF;
	configure(th, cs_slot, rnd(20) ? W_OWN_AS : pick_aspace(), fr + 1, ipc);
	int c = m.o[W(cs_slot)->obj].rec;
	uint64_t mode = rnd(5) | (uint64_t)(1u << m.cs[c < 0 ? 0 : c].bits) << 8 |
	                (uint64_t)(c > 0 ? 0 : W_FIRST_FREE) << 24;
	rec(OP_SPAWN, hl_thread_write_regs((hl_cptr_t)th, (hl_word_t)victim_entry, stack + 4096 - 8,
	                                   mode, fz_next(&rng)));
	rec(OP_PRIO, hl_thread_set_priority((hl_cptr_t)th, rnd(10) ? 1 + rnd(89) : 90));
	rec(OP_AFFINITY, hl_thread_set_affinity((hl_cptr_t)th, rnd(A->ncpus)));
	if (rec(OP_RESUME, hl_thread_resume((hl_cptr_t)th)) == HL_OK)
		A->st.spawned++;
}

static int pick_thread(void)
{
	return pick(0, T(THREAD), false);
}

static int last_budgeted = -1; /* the slot of the thread given the last budget (op_thread) */

static void op_budget(int th)
{
	static const uint16_t tiny[][2] = {{5, 5},     {1, 5},    {5, 10},
	                                   {10, 1000}, {1, 1000}, {50, 100}};
	uint64_t b, p;

	switch (rnd(4)) {
	case 0:
		if (A->avoid_known)
			return; /* known fault 3 */
		b = p = 0;      /* no budget: also taken by a thread waiting for replenishment */
		break;
	case 1: {
		uint32_t k = rnd(sizeof(tiny) / sizeof(tiny[0]));
		b = tiny[k][0], p = tiny[k][1];
		break;
	}
	default:
		p = 5 + rnd(20000);
		b = 1 + rnd((uint32_t)p);
	}
	if (rec(OP_BUDGET, hl_thread_set_budget((hl_cptr_t)th, b, p)) == HL_OK && b)
		last_budgeted = th;
}

static void op_thread(enum op op)
{
	int th = pick_thread();

	/* Sequences on one thread: a budget, then (often) another budget, priority or CPU while it
	 * is throttled. */
	if (last_budgeted >= 0 && W(last_budgeted)->type == HL_OBJ_THREAD && rnd(2))
		th = last_budgeted;
	if (th < 0)
		return;
	switch (op) {
	case OP_PRIO:
		rec(op, hl_thread_set_priority((hl_cptr_t)th, rnd(91)));
		break;
	case OP_BUDGET:
		op_budget(th);
		break;
	case OP_AFFINITY:
		rec(op, hl_thread_set_affinity((hl_cptr_t)th, rnd(A->ncpus)));
		break;
	case OP_SUSPEND: /* or reset: stopped as by suspend, with a new thread's registers (a
	                    victim resumed after it runs from 0 and faults) */
		rec(op, rnd(4) ? hl_thread_suspend((hl_cptr_t)th)
		               : hl_thread_reset((hl_cptr_t)th, NULL));
		break;
	case OP_RESUME:
		rec(op, hl_thread_resume((hl_cptr_t)th));
		break;
	case OP_READ_REGS: {
		hl_word_t w[4];
		unsigned how = rnd(3);
		if (how == 0)
			rec(op, hl_thread_read_regs((hl_cptr_t)th, NULL, NULL, NULL, NULL));
		else if (how == 1)
			rec(op, hl_thread_read_cputime((hl_cptr_t)th, &w[0]));
		else /* groups 0-4, and 5.. refused */
			rec(op,
			    hl_thread_read_gprs((hl_cptr_t)th, rnd(7), &w[0], &w[1], &w[2], &w[3]));
		break;
	}
	case OP_CONFIGURE: {
		int cs, cs_slot = pick_cs(&cs), ipc = pick(0, T(FRAME), false);
		if (cs_slot >= 0)
			configure(th, cs_slot, pick_aspace(), ipc >= 0 && rnd(2) ? ipc : 0,
			          ipc >= 0 && W(ipc)->mapped ? W(ipc)->map_va : grid_va(0));
		break;
	}
	case OP_LINUX_ANSWER: /* the driver makes no Linux thread: ILLEGAL_OP, or INVALID_ARG */
		if (rnd(2))
			rec(op,
			    hl_thread_set_linux_answer((hl_cptr_t)th, rnd(3),
			                               rnd(2) ? 39 : fz_next(&rng), fz_next(&rng)));
		else if (rnd(2)) /* and no Linux call to end: ILLEGAL_OP */
			rec(op, hl_thread_linux_reply((hl_cptr_t)th, fz_next(&rng)));
		else { /* the same with a reply-and-receive: refused before it replies or waits */
			hl_word_t info = rnd(4) ? HL_MSGINFO(0, 1, 0) : HL_MSGINFO(0, 2, 0);
			struct hl_msg msg = {
			    {fz_next(&rng), rnd(4) ? (hl_word_t)th : rnd(64), fz_next(&rng), 0}};
			int ep = pick(0, T(ENDPOINT), false);
			rec(op, hl_syscall(HL_SYS_LINUX_REPLY_RECV,
			                   ep >= 0 ? (hl_cptr_t)ep : rnd(64), &info, &msg, NULL));
		}
		break;
	case OP_FAULT_EP: {
		int ep = rnd(4) ? pick(0, T(ENDPOINT), false) : 0;
		if (ep >= 0 &&
		    rec(op, hl_thread_set_fault_ep((hl_cptr_t)th, (hl_cptr_t)ep)) == HL_OK)
			m_hold(W(th)->obj, HELD_FAULT, ep ? pool0(ep) : -1);
		break;
	}
	case OP_BIND: {
		int n = rnd(4) ? pick(0, T(NOTIFICATION), false) : 0;
		if (n < 0 ||
		    rec(op, hl_thread_bind_notification((hl_cptr_t)th, (hl_cptr_t)n)) != HL_OK)
			break;
		int o = W(th)->obj;
		for (int i = 0; i < MOBJ; i++)
			if (m.o[i].live && m.o[i].type == HL_OBJ_NOTIFICATION && m.o[i].bound == o)
				m.o[i].bound = -1;
		m_hold(o, HELD_NTFN, n ? pool0(n) : -1);
		if (n)
			m.o[W(n)->obj].bound = (int16_t)o;
		break;
	}
	default:
		break;
	}
}

/* ---- IPC objects and queries ---- */

static void op_misc(enum op op)
{
	hl_word_t info = 0, v = 0;
	struct hl_msg msg = {{0}};
	int s;

	switch (op) {
	case OP_SIGNAL:
		s = pick(0, T(ENDPOINT) | T(NOTIFICATION), false);
		if (s >= 0)
			rec(op, hl_syscall(HL_SYS_NBSEND, (hl_cptr_t)s, &info, &msg, NULL));
		break;
	case OP_POLL:
		s = pick(0, T(NOTIFICATION), false);
		if (s >= 0)
			rec(op, hl_syscall(HL_SYS_POLL, (hl_cptr_t)s, &info, &msg, NULL));
		break;
	case OP_WAIT:
		/* A timed wait that ends soon: a deadline passed already, or a few microseconds
		 * ahead (a victim's signal may come first). */
		s = pick(0, T(NOTIFICATION), false);
		if (s >= 0)
			rec(op, hl_wait((hl_cptr_t)s, rnd(2) ? 0 : fz_rdtsc() + rnd(20000), NULL));
		break;
	case OP_INFO:
		s = pick(0, T(MEMORY), false);
		if (s >= 0)
			rec(op, hl_memory_info((hl_cptr_t)s, NULL, NULL, NULL, NULL));
		break;
	case OP_PADDR:
		s = pick(0, T(FRAME), false);
		if (s >= 0 && rec(op, hl_frame_paddr((hl_cptr_t)s, &v)) == HL_OK && fz_nval < 16)
			fz_wr_val[fz_nval++] =
			    v | 7; /* present, writable, user: a page-table entry */
		break;
	default:
		rec(OP_YIELD, hl_yield());
	}
}

/* A call broken in one argument; the kernel must refuse it with exactly the named error. */
static void op_invalid(void)
{
	int any = pick(0, ~T(ENDPOINT) & ~1u, false), th = pick_thread(),
	    f = pick(0, T(FRAME), false);
	int pt = pick(0, T(PAGE_TABLE), false);
	long err = -1, want = -1;

	switch (rnd(10)) {
	case 0:
		want = HL_ERR_INVALID_CAP, err = hl_thread_resume((1u << WCS_BITS) + rnd(1000));
		break;
	case 1:
		want = HL_ERR_INVALID_ARG, err = hl_memory_retype(W_MEM, HL_OBJ_FRAME, 13, 1, 0);
		break;
	case 2:
		if (th < 0)
			return;
		want = HL_ERR_INVALID_ARG,
		err = hl_thread_set_budget((hl_cptr_t)th, 10 + rnd(10), 5 + rnd(5));
		break;
	case 3:
		if (th < 0)
			return;
		want = HL_ERR_RANGE,
		err = hl_thread_set_affinity((hl_cptr_t)th, A->ncpus + rnd(60));
		break;
	case 4:
		if (th < 0)
			return;
		want = HL_ERR_NO_RIGHTS, err = hl_thread_set_priority((hl_cptr_t)th, 91 + rnd(165));
		break;
	case 5:
		if (pt < 0 || m.s[pool0(pt)].mapped || hooked_elsewhere(pt))
			return; /* a hooked table is refused first (ALREADY_MAPPED), through any
			           capability */
		want = HL_ERR_INVALID_ARG,
		err = hl_aspace_map_table(W_OWN_AS, (hl_cptr_t)pt, grid_va(1), rnd(2) ? 0 : 4);
		break;
	case 6:
		if (f < 0 || m.s[pool0(f)].mapped)
			return;
		want = HL_ERR_INVALID_ARG,
		err = hl_aspace_map(W_OWN_AS, (hl_cptr_t)f, grid_va(0) + 8, HL_R_READ);
		break;
	case 7:
		/* Only endpoints and notifications take a badge (memory is refused earlier:
		 * ILLEGAL_OP). */
		if (any < 0 || W(any)->type == HL_OBJ_NOTIFICATION || W(any)->type == HL_OBJ_MEMORY)
			return;
		want = m.s[pool0(0)].type != HL_OBJ_NONE ? HL_ERR_SLOT_OCCUPIED : HL_ERR_WRONG_TYPE;
		err = hl_cspace_mint(W_SELF, 0, (hl_cptr_t)any, HL_R_ALL, 1);
		break;
	case 8: /* a timed wait on anything but a notification */
		if (any < 0 || W(any)->type == HL_OBJ_NOTIFICATION)
			return;
		want = HL_ERR_WRONG_TYPE,
		err = hl_wait((hl_cptr_t)any, fz_rdtsc() + rnd(1000), NULL);
		break;
	default:
		want =
		    m.s[pool0(0)].type != HL_OBJ_NONE ? HL_ERR_SLOT_OCCUPIED : HL_ERR_INVALID_ARG;
		err = hl_cspace_copy(W_SELF, 0, W_DONE, 0x10 | rnd(16));
	}
	rec(OP_INVALID, err);
	A->st.invalid++;
	if (err == want) {
		A->st.invalid_refused++;
	} else {
		rt_printf("# scfuzz: round %u: invalid call %lu accepted or refused wrongly: error "
		          "%ld, expected %ld\n",
		          A->round, A->st.invalid, err, want);
		if (err == HL_OK)
			rt_printf("# scfuzz: the model may be out of step from here on\n");
	}
}

/*
 * Snapshots (kernel/snapshot.c): make one, add address spaces and threads
 * (the driver's own space is the root task's and is refused), exclude a
 * range, take, restore, discard; an address space refuses snapshots
 * (aspace.refuse_snapshots). Only add changes capabilities: the
 * snapshot holds a copy, a child of the one added.
 */
static void op_snapshot(void)
{
	int s = pick(0, T(SNAPSHOT), false);

	if (s < 0 || !rnd(8)) {
		retype(any_memory(), HL_OBJ_SNAPSHOT, 18, 1);
		return;
	}
	int o = W(s)->obj;
	switch (rnd(10)) {
	case 8: { /* an address space refusing snapshots from now on (snapshot add: ILLEGAL_OP) */
		int x = pick(0, T(ASPACE), false);
		if (x >= 0)
			rec(OP_SNAPSHOT, hl_aspace_refuse_snapshots((hl_cptr_t)x));
		break;
	}
	case 0:
	case 1:
	case 2: {
		int x = pick(0, T(ASPACE) | T(THREAD), false);
		if (x >= 0 &&
		    rec(OP_SNAPSHOT, hl_snapshot_add((hl_cptr_t)s, (hl_cptr_t)x)) == HL_OK)
			m_snap_add(o, pool0(x));
		break;
	}
	case 3:
		rec(OP_SNAPSHOT,
		    hl_snapshot_exclude((hl_cptr_t)s, grid_va(rnd(3)), 4096ull << rnd(10)));
		break;
	case 4:
	case 5:
		rec(OP_SNAPSHOT, hl_snapshot_take((hl_cptr_t)s));
		break;
	case 6:
		rec(OP_SNAPSHOT, hl_snapshot_restore((hl_cptr_t)s));
		break;
	case 7:
		rec(OP_SNAPSHOT, hl_snapshot_discard((hl_cptr_t)s));
		break;
	default:
		rec(OP_SNAPSHOT, hl_snapshot_info((hl_cptr_t)s, NULL, NULL, NULL, NULL));
	}
}

static enum op choose(void)
{
	static uint32_t total;

	if (!total)
		for (int i = 0; i < OP_COUNT; i++)
			total += weight[i];
	uint32_t r = rnd(total);
	for (int i = 0; i < OP_COUNT; i++) {
		if (r < weight[i])
			return (enum op)i;
		r -= weight[i];
	}
	return OP_YIELD;
}

static void step(void)
{
	enum op op = choose();

	switch (op) {
	case OP_RETYPE:
		op_retype();
		break;
	case OP_COPY:
	case OP_MINT:
		op_copy(op == OP_MINT);
		break;
	case OP_MOVE:
		op_move();
		break;
	case OP_DELETE:
	case OP_REVOKE:
		op_delete_revoke(op == OP_REVOKE);
		break;
	case OP_DELETE_LIST:
		op_delete_list();
		break;
	case OP_MAP_TABLE:
		op_map_table();
		break;
	case OP_MAP:
		op_map();
		break;
	case OP_UNMAP:
	case OP_PROTECT:
		op_unmap_protect(op == OP_PROTECT);
		break;
	case OP_SPAWN:
		op_spawn();
		break;
	case OP_PRIO:
	case OP_BUDGET:
	case OP_AFFINITY:
	case OP_SUSPEND:
	case OP_RESUME:
	case OP_CONFIGURE:
	case OP_BIND:
	case OP_FAULT_EP:
	case OP_READ_REGS:
	case OP_LINUX_ANSWER:
		op_thread(op);
		break;
	case OP_INVALID:
		op_invalid();
		break;
	case OP_SNAPSHOT:
		op_snapshot();
		break;
	default:
		op_misc(op);
	}
}

/* The model at the start of a round: the four capabilities the controller put in the driver's
 * cspace. */
static void model_start(void)
{
	m_reset();
	int wcs = m_new_obj(HL_OBJ_ENDPOINT, 0); /* then made the cspace object of model cspace 0 */
	m.o[wcs].type = HL_OBJ_CSPACE;
	m.o[wcs].rec = 0;
	m.cs[0].obj = (int16_t)wcs;
	int as = m_new_obj(HL_OBJ_ASPACE, 0), done = m_new_obj(HL_OBJ_ENDPOINT, 0);
	int mem = m_new_obj(HL_OBJ_MEMORY, 0), debug = m_new_obj(HL_OBJ_DEBUG, 0);
	m_insert(pool0(W_SELF), HL_OBJ_CSPACE, wcs, HL_R_ALL, 0, -1);
	m_insert(pool0(W_OWN_AS), HL_OBJ_ASPACE, as, HL_R_ALL, 0, -1);
	m_insert(pool0(W_MEM), HL_OBJ_MEMORY, mem, HL_R_ALL, 0, -1);
	m_insert(pool0(W_DONE), HL_OBJ_ENDPOINT, done, HL_R_WRITE, 0, -1);
	m_insert(pool0(W_DEBUG), HL_OBJ_DEBUG, debug, HL_R_ALL, 0, -1);
	for (int i = W_SELF; i < W_FIRST_FREE; i++)
		m.s[pool0(i)].ext = i != W_MEM && m.s[pool0(i)].type !=
		                                      HL_OBJ_NONE; /* copies of the controller's */
	fz_nwr = fz_nval = 0;
}

/*
 * The driver thread's body for one round: a.calls calls, then a call to
 * the controller, which never replies: the driver waits for the reply off
 * every CPU until the controller suspends it (main.c, wait_round).
 */
void driver_main(struct driver_arg *a)
{
	A = a;
	rng = a->seed | 1;
	last_budgeted = -1;
	model_start();
	while (a->st.calls < a->calls)
		step();
	a->finished = 1;
	for (;;) {
		hl_word_t info = HL_MSGINFO(DONE_LABEL, 0, 0);
		struct hl_msg msg = {{0}};
		hl_syscall(HL_SYS_CALL, a->done, &info, &msg, NULL);
	}
}
