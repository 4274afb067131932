/*
 * The Linux personality server, run as the root task of its boot module
 * (docs/linux.md). It reads etc/linux-run (one command per line: argv
 * words separated by spaces), and runs each command as a Linux process in
 * turn, framing its console output for the differential tests:
 *
 *   @@lx-begin <n> <command>
 *   ...the process's output...
 *   @@lx-end <n> exit=<code>[ nonl]
 *
 * A command may fork: the processes it makes are served together until
 * the last one has ended. Each process slot has its own memory capability
 * for its address space, page tables and thread (one revoke when it ends);
 * frames come from the server's pool and are shared copy-on-write.
 */
#include "lx.h"
#include "tty.h"

#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/string.h>

#define PAGE_HASH    4096u  /* per process: at most half of it in use */
#define MAX_FRAMES   32768u /* frames the server hands out (128 MiB) */
#define SUBPOOL_BITS 20     /* per process: its page tables, address space, thread */
#define MAX_OBJS     96
#define KEEP_OBJS    48 /* a slot keeps its objects for the next process up to this many */
#define HOT_PAGES    8
#define MAX_LINE     512
#define MAX_WORDS    32
#define NR_GETPID    39 /* the call the kernel may answer (lx_plat_answer) */

/* A page of a process: which frame, through which capability (a copy of the frame's). */
struct page {
	uint64_t vpn;   /* 0: free */
	uint32_t frame; /* index in plat.frames */
	uint16_t map;   /* the slot of the copy mapped in the process; 0: not mapped yet (a fork
	                   child's page: mapped when the child first touches it, page_map) */
	uint8_t cow;    /* shared with another process: mapped read-only until written */
	uint8_t prot;
};

/* The platform's side of one process: its objects and its pages. */
struct space {
	hl_cptr_t pool, thread, aspace, cspace, fault_cap;
	hl_word_t badge;         /* of fault_cap: the pid it was made for << 8 | slot + 1 */
	uint16_t objs[MAX_OBJS]; /* slots of objects from pool (freed with it) */
	uint32_t nobjs;
	struct page pages[PAGE_HASH];
	uint64_t used[PAGE_HASH / 64]; /* a bit per entry of pages[] in use: the walks over every
	                                  page (fork, exit, execve) skip the empty ones */
	uint32_t npages;
	uint64_t fs_base;
	bool answered; /* the kernel answers its thread's getpid (lx_plat_answer) */
	/* The page lx_plat_user found last, valid while pages_gen has not moved since. */
	struct {
		uint64_t gen, vpn;
		uint8_t *mem;
		uint8_t prot, cow;
	} upage;
	bool deferred; /* its thread waits in a call the server has not replied to (a pipe's,
	                  wait4's) */
	bool kept;     /* its objects outlived its last process, for the next one (space_reuse) */
	/* The last HOT_PAGES pages the fork children of process hot_parent in this slot touched
	 * first (handle_fault maps them; hot_next: the oldest): the next such child gets them
	 * mapped at once (lx_plat_fork). */
	uint32_t hot_parent, nhot, hot_next;
	uint64_t hot[HOT_PAGES];
	uint32_t cpu; /* the CPU its thread runs on (thread.set_affinity) */
};

/*
 * Frames are shared between processes (fork copies nothing until a write):
 * each has one capability, mapped in the server at LX_WINDOW + index pages,
 * and a count of the processes' mappings of it. A frame nobody maps goes
 * to a free list and is zeroed when it is handed out again (the kernel
 * only reuses pool memory once all of a pool's objects are gone).
 */
static struct {
	hl_cptr_t pool, ep;
	uint32_t slot_first, next_slot, slot_end;
	uint16_t free_slots[4096];
	uint32_t nfree;
	struct {
		uint16_t cap, refs;
	} frames[MAX_FRAMES];
	uint32_t nframes;
	uint32_t free_frames[MAX_FRAMES];
	uint32_t nfree_frames;
	hl_cptr_t subpools[LX_MAX_PROCS];
	uint64_t rng;
	int console_nl;     /* the last byte written to the console was a newline */
	bool trace;         /* "@trace" in etc/linux-run: log every call and fault */
	hl_cptr_t tty_ntfn; /* for COM1's interrupt (made before the pools take the memory) */
} plat;

static struct space spaces[LX_MAX_PROCS];
static struct space *cur;
static struct lx_proc *cur_proc;

/* An empty slot of the server's cspace (freed ones first); 0 when there is none. */
static hl_cptr_t slot_take(void)
{
	if (plat.nfree)
		return plat.free_slots[--plat.nfree];
	return plat.next_slot < plat.slot_end ? plat.next_slot++ : 0;
}

static void slot_free(hl_cptr_t s)
{
	hl_cspace_delete(HL_SLOT_CSPACE, s);
	plat.free_slots[plat.nfree++] = (uint16_t)s;
}

/* A fresh object from pool, in a new slot; 0 when out of either. */
static hl_cptr_t alloc_from(hl_cptr_t pool, uint32_t type, uint32_t bits)
{
	hl_cptr_t s = slot_take();

	if (s && hl_memory_retype(pool, type, bits, 1, s) != HL_OK) {
		slot_free(s);
		return 0;
	}
	return s;
}

/* An object of the process sp (freed with its pool when it ends). */
static hl_cptr_t space_alloc(struct space *sp, uint32_t type, uint32_t bits)
{
	if (sp->nobjs == MAX_OBJS)
		return 0;
	hl_cptr_t s = alloc_from(sp->pool, type, bits);
	if (s)
		sp->objs[sp->nobjs++] = (uint16_t)s;
	return s;
}

/* Page tables for va in as: from sp's pool, or from the server's own pool (sp NULL). */
/* The tables above va's entry of level `lowest` (1: a 4 KiB page's, 2: a 2 MiB page's) */
static long ensure_tables_to(struct space *sp, hl_cptr_t as, uint64_t va, int lowest)
{
	for (int level = 3; level >= lowest; level--) {
		hl_cptr_t pt = sp ? space_alloc(sp, HL_OBJ_PAGE_TABLE, 12)
		                  : alloc_from(plat.pool, HL_OBJ_PAGE_TABLE, 12);
		if (!pt)
			return HL_ERR_NO_MEMORY;
		long err = hl_aspace_map_table(as, pt, va, (hl_word_t)level);
		if (err == HL_ERR_ALREADY_MAPPED) {
			if (sp) /* the last object: hand it back */
				sp->nobjs--;
			slot_free(pt);
			continue;
		}
		if (err)
			return err;
	}
	return HL_OK;
}

static long ensure_tables(struct space *sp, hl_cptr_t as, uint64_t va)
{
	return ensure_tables_to(sp, as, va, 1);
}

static long map_in(struct space *sp, hl_cptr_t as, hl_cptr_t f, uint64_t va, uint32_t rights)
{
	long err = hl_aspace_map(as, f, va, rights);

	if (err == HL_ERR_NO_TABLE && (err = ensure_tables(sp, as, va)) == HL_OK)
		err = hl_aspace_map(as, f, va, rights);
	return err;
}

/* Moves at every change of any process's pages (added, dropped, moved in the hash, protected,
 * made copy-on-write or private): what struct space's upage remembers is then stale. */
static uint64_t pages_gen = 1;

static struct page *page_slot(struct space *sp, uint64_t va, bool insert)
{
	uint64_t vpn = va / LX_PAGE;

	/* A free entry's vpn is 0: page 0 is never mapped (bug page_zero_found_a_free_entry). */
	if (!vpn)
		return NULL;
	uint32_t h = (uint32_t)(vpn * 0x9e3779b97f4a7c15ull >> 52) % PAGE_HASH;

	for (uint32_t i = 0; i < PAGE_HASH; i++, h = (h + 1) % PAGE_HASH) {
		struct page *pg = &sp->pages[h];
		if (pg->vpn == vpn)
			return pg;
		if (!pg->vpn)
			return insert ? pg : NULL;
	}
	return NULL;
}

static uint32_t hl_rights(uint32_t prot)
{
	return HL_R_READ | (prot & LX_PROT_WRITE ? HL_R_WRITE : 0) |
	       (prot & LX_PROT_EXEC ? HL_R_EXEC : 0);
}

static void *frame_mem(uint32_t fr)
{
	return (void *)(LX_WINDOW + (uint64_t)fr * LX_PAGE);
}

/* The pool is used up: the largest memory capability the boot memory still gives. */
static bool more_memory(void)
{
	for (uint32_t bits = 26; bits >= 20; bits--) {
		hl_cptr_t m = rt_alloc(HL_OBJ_MEMORY, bits);
		if (m) {
			plat.pool = m; /* the old one keeps its frames and tables */
			return true;
		}
	}
	return false;
}

/* A frame nobody maps (refs 0), zeroed if zero; MAX_FRAMES when there is none. */
static uint32_t frame_take(bool zero)
{
	uint32_t fr;

	if (plat.nfree_frames) {
		fr = plat.free_frames[--plat.nfree_frames];
		if (zero)
			memset(frame_mem(fr), 0, LX_PAGE);
		return fr;
	}
	if (plat.nframes == MAX_FRAMES)
		return MAX_FRAMES;
	hl_cptr_t f = alloc_from(plat.pool, HL_OBJ_FRAME, 12);
	if (!f && more_memory())
		f = alloc_from(plat.pool, HL_OBJ_FRAME, 12);
	fr = plat.nframes;
	if (!f ||
	    map_in(NULL, HL_SLOT_ASPACE, f, (uint64_t)frame_mem(fr), HL_R_READ | HL_R_WRITE)) {
		if (f)
			slot_free(f);
		return MAX_FRAMES;
	}
	plat.frames[plat.nframes++].cap = (uint16_t)f;
	return fr;
}

/*
 * The server's heap (written files, epoll and socket tables: rt_malloc) in 2 MiB frames of the
 * pool, one capability slot per 2 MiB. rt_map_pages, the runtime's default, takes a slot per
 * 4 KiB page from the 128 the runtime keeps: a 128 KiB file used them up (ENOSPC), and then
 * the runtime handed out the server's own slots (bug heap_pages_used_up_the_runtime_slots).
 * Pages are never given back (rt_malloc keeps freed blocks on its lists); a run longer than
 * what is left of the current 2 MiB goes on in new frames mapped right after it when nothing
 * else took the addresses in between, else at the next 2 MiB boundary.
 */
#define HEAP_CHUNK (2ull << 20)
static uint64_t heap_va, heap_end; /* the free part of the mapped heap */

static bool heap_grow(uint64_t va)
{
	hl_cptr_t f = alloc_from(plat.pool, HL_OBJ_FRAME, 21);

	if (!f && more_memory())
		f = alloc_from(plat.pool, HL_OBJ_FRAME, 21);
	if (!f)
		return false;
	long err = hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE);
	if (err == HL_ERR_NO_TABLE && ensure_tables_to(NULL, HL_SLOT_ASPACE, va, 2) == HL_OK)
		err = hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE);
	if (err) {
		slot_free(f);
		return false;
	}
	return true;
}

static void *heap_pages(size_t n)
{
	uint64_t need = (uint64_t)n * LX_PAGE;

	if (heap_end - heap_va < need) {
		if (heap_end != rt_self.heap_next) /* the runtime mapped pages after ours */
			heap_va = heap_end =
			    (rt_self.heap_next + HEAP_CHUNK - 1) & ~(HEAP_CHUNK - 1);
		while (heap_end - heap_va < need) {
			if (heap_end + HEAP_CHUNK > rt_self.heap_end || !heap_grow(heap_end))
				return NULL;
			heap_end += HEAP_CHUNK;
			rt_self.heap_next = heap_end;
		}
	}
	void *p = (void *)heap_va;
	heap_va += need;
	return p;
}

static uint32_t frame_get(void)
{
	return frame_take(true);
}

static void frame_put(uint32_t fr)
{
	if (--plat.frames[fr].refs == 0)
		plat.free_frames[plat.nfree_frames++] = fr;
}

/* Map the page pg of sp, recorded but not mapped, in sp's space (a new copy of its frame's
 * capability; read-only while copy-on-write); 0 or -LX_ENOMEM. */
static int page_map(struct space *sp, struct page *pg)
{
	hl_cptr_t c = slot_take();
	uint32_t rights = hl_rights(pg->cow ? pg->prot & ~LX_PROT_WRITE : pg->prot);

	if (!c ||
	    hl_cspace_copy(HL_SLOT_CSPACE, c, plat.frames[pg->frame].cap, HL_R_ALL & ~HL_R_GRANT) ||
	    map_in(sp, sp->aspace, c, pg->vpn * LX_PAGE, rights)) {
		if (c)
			slot_free(c);
		return -LX_ENOMEM;
	}
	pg->map = (uint16_t)c;
	return 0;
}

static void used_mark(struct space *sp, const struct page *pg, bool on)
{
	uint32_t i = (uint32_t)(pg - sp->pages);

	if (on)
		sp->used[i / 64] |= 1ull << (i % 64);
	else
		sp->used[i / 64] &= ~(1ull << (i % 64));
}

/* Record frame fr at va in sp's space, and map it unless lazy (page_map then maps it at the
 * first touch); 0 or -LX_ENOMEM. */
static int page_add(struct space *sp, uint64_t va, uint32_t fr, uint32_t prot, bool cow, bool lazy)
{
	if (sp->npages >= PAGE_HASH / 2)
		return -LX_ENOMEM;
	pages_gen++;
	struct page *pg = page_slot(sp, va, true);
	*pg = (struct page){va / LX_PAGE, fr, 0, cow, (uint8_t)prot};
	if (!lazy && page_map(sp, pg)) {
		pg->vpn = 0; /* the last of its cluster: nothing moves */
		return -LX_ENOMEM;
	}
	used_mark(sp, pg, true);
	plat.frames[fr].refs++;
	sp->npages++;
	return 0;
}

/* Unmap the page pg of sp (the hash keeps no tombstones: the cluster after it moves up). */
static void page_drop(struct space *sp, struct page *pg)
{
	pages_gen++;
	if (pg->map)
		slot_free(pg->map);
	frame_put(pg->frame);
	pg->vpn = 0;
	used_mark(sp, pg, false);
	sp->npages--;
	uint32_t h = (uint32_t)(pg - sp->pages);
	for (uint32_t i = (h + 1) % PAGE_HASH; sp->pages[i].vpn; i = (i + 1) % PAGE_HASH) {
		struct page moved = sp->pages[i];
		sp->pages[i].vpn = 0;
		used_mark(sp, &sp->pages[i], false);
		struct page *to = page_slot(sp, moved.vpn * LX_PAGE, true);
		*to = moved;
		used_mark(sp, to, true);
	}
}

int lx_plat_map(uint64_t va, uint32_t prot)
{
	uint32_t fr = frame_get();

	if (fr == MAX_FRAMES)
		return -LX_ENOMEM;
	int err = page_add(cur, va, fr, prot, false, false);
	if (err)
		plat.free_frames[plat.nfree_frames++] = fr;
	return err;
}

int lx_plat_make_private(uint64_t va, uint32_t prot)
{
	struct page *pg = page_slot(cur, va, false);

	if (!pg || !pg->cow)
		return 0;
	if (plat.frames[pg->frame].refs == 1) { /* the others have let go of it */
		pg->cow = 0;
		pages_gen++;
		return pg->map && hl_aspace_protect(cur->aspace, pg->map, hl_rights(prot))
		           ? -LX_ENOMEM
		           : 0;
	}
	uint32_t fr = frame_get(), old = pg->frame;
	if (fr == MAX_FRAMES)
		return -LX_ENOMEM;
	memcpy(frame_mem(fr), frame_mem(old), LX_PAGE);
	plat.frames[old].refs++; /* kept while its mapping is replaced */
	page_drop(cur, pg);
	int err = page_add(cur, va, fr, prot, false, false);
	frame_put(old);
	if (err)
		plat.free_frames[plat.nfree_frames++] = fr;
	return err;
}

void *lx_plat_page(uint64_t va)
{
	struct page *pg = page_slot(cur, va, false);

	return pg ? frame_mem(pg->frame) : NULL;
}

void *lx_plat_user(uint64_t va, uint64_t len, uint32_t need)
{
	struct space *sp = cur;

	if (va >= LX_TOP || ((va ^ (va + len - 1)) & ~(LX_PAGE - 1)) || !len)
		return NULL;
	if (sp->upage.gen != pages_gen || sp->upage.vpn != va / LX_PAGE) {
		const struct page *pg = page_slot(sp, va, false);
		if (!pg)
			return NULL;
		sp->upage.gen = pages_gen, sp->upage.vpn = pg->vpn,
		sp->upage.mem = frame_mem(pg->frame);
		sp->upage.prot = pg->prot, sp->upage.cow = pg->cow;
	}
	/* The page's prot is its region's (lx_protect and lx_unmap keep them in step). */
	if ((sp->upage.prot & need) != need || (sp->upage.cow && (need & LX_PROT_WRITE)))
		return NULL;
	return sp->upage.mem + (va & (LX_PAGE - 1));
}

bool lx_plat_next_mapped(uint32_t *cursor, uint64_t *va)
{
	for (; *cursor < PAGE_HASH; (*cursor)++) {
		if (cur->pages[*cursor].vpn) {
			*va = cur->pages[(*cursor)++].vpn * LX_PAGE;
			return true;
		}
	}
	return false;
}

int lx_plat_is_mapped(uint64_t va)
{
	return page_slot(cur, va, false) != NULL;
}

/* Whether va lies in one of pm's MAP_SHARED anonymous regions */
static bool in_shared(const struct lx_proc *pm, uint64_t va)
{
	for (uint32_t i = 0; i < pm->nreg; i++)
		if (va >= pm->reg[i].start && va < pm->reg[i].end)
			return pm->reg[i].shared;
	return false;
}

int lx_plat_protect(uint64_t va, uint32_t prot)
{
	struct page *pg = page_slot(cur, va, false);

	if (!pg)
		return 0;
	pg->prot = (uint8_t)prot;
	/* A read-only page a fork shared as it was: writable now, it is copied at the first write
	 * (t_reuse, mprotect_writable_after_fork). */
	if ((prot & LX_PROT_WRITE) && plat.frames[pg->frame].refs > 1 &&
	    !(cur_proc && in_shared(lx_grp(cur_proc), va)))
		pg->cow = 1;
	pages_gen++;
	if (!pg->map)
		return 0; /* mapped with these rights when first touched */
	return hl_aspace_protect(cur->aspace, pg->map,
	                         hl_rights(pg->cow ? prot & ~LX_PROT_WRITE : prot))
	           ? -LX_ENOMEM
	           : 0;
}

void lx_plat_unmap(uint64_t va)
{
	struct page *pg = page_slot(cur, va, false);

	if (pg)
		page_drop(cur, pg);
}

int lx_plat_move(uint64_t from, uint64_t to)
{
	struct page *pg = page_slot(cur, from, false);

	if (!pg)
		return 0;
	uint32_t fr = pg->frame, prot = pg->prot, cow = pg->cow;
	plat.frames[fr].refs++; /* held while its record moves */
	page_drop(cur, pg);
	/* One page went, one comes: the hash has room. Mapped again at the first touch. */
	int err = page_add(cur, to, fr, prot, cow, true);
	frame_put(fr);
	return err;
}

/*
 * Delete the n slots in this thread's IPC buffer words 4.. with one
 * cspace.delete_list and free them; a slot the call did not get to is
 * deleted on its own (it never fails on the server's slots).
 */
static void slots_free_listed(uint32_t n)
{
	const struct hl_ipc_buffer *ib = hl_ipcbuf();
	hl_word_t done = 0;

	if (!n)
		return;
	long err = hl_cspace_delete_list(HL_SLOT_CSPACE, n, &done);
	for (uint32_t i = 0; i < n; i++) {
		hl_cptr_t s = (hl_cptr_t)ib->mr[4 + i];
		if (err && i >= done)
			hl_cspace_delete(HL_SLOT_CSPACE, s);
		plat.free_slots[plat.nfree++] = (uint16_t)s;
	}
}

/* Every page of the current process goes (exit, execve): no hash cluster moves up; the copies
 * of their frames' capabilities go HL_DELETE_LIST_MAX to a kernel call. */
void lx_plat_unmap_all(void)
{
	struct hl_ipc_buffer *ib = hl_ipcbuf();
	uint32_t n = 0;

	pages_gen++;
	for (uint32_t w = 0; w < PAGE_HASH / 64; w++) {
		for (uint64_t bits = cur->used[w]; bits; bits &= bits - 1) {
			struct page *pg = &cur->pages[w * 64 + (uint32_t)__builtin_ctzll(bits)];
			if (pg->map) {
				ib->mr[4 + n++] = pg->map;
				if (n == HL_DELETE_LIST_MAX)
					slots_free_listed(n), n = 0;
			}
			frame_put(pg->frame);
			pg->vpn = 0;
		}
		cur->used[w] = 0;
	}
	slots_free_listed(n);
	cur->npages = 0;
}

void lx_plat_switch(struct lx_proc *p)
{
	cur = &spaces[p->mm_idx]; /* a thread: its process's memory */
	cur_proc = p;
}

/*
 * Whether the kernel answers p's getpid itself, with no message to the
 * server (thread.set_linux_answer; docs/decisions.md, issue 15 speed):
 * never while calls are traced. The caller keeps it off while p has a
 * signal to take, which only a call to the server delivers.
 */
void lx_plat_answer(struct lx_proc *p, bool on)
{
	struct space *sp = &spaces[p->idx];

	on = on && !plat.trace;
	if (sp->answered != on && sp->thread &&
	    hl_thread_set_linux_answer(sp->thread, on, NR_GETPID, p->tgid) == HL_OK)
		sp->answered = on;
}

/* After p's call nr: the kernel answers getpid from the first one that reached the server on
 * (a process that never calls it, as most fork children, costs no call), never while a signal
 * waits. */
static void answer_after(struct lx_proc *p, uint64_t nr)
{
	lx_plat_answer(p, !lx_signal_ready(p) && (nr == NR_GETPID || spaces[p->idx].answered));
}

struct lx_proc *lx_plat_current(void)
{
	return cur_proc;
}

/* sp's Linux thread for p (its badge: pid << 8 | slot + 1) in cspace and aspace; 0 or
 * -LX_ENOMEM (lx_plat_release takes back what was made). */
static int thread_make(struct space *sp, const struct lx_proc *p, hl_cptr_t cspace,
                       hl_cptr_t aspace)
{
	sp->thread = space_alloc(sp, HL_OBJ_THREAD, 0);
	sp->fault_cap = slot_take();
	sp->badge = (hl_word_t)p->pid << 8 | (p->idx + 1);
	if (!sp->thread || !sp->fault_cap ||
	    hl_cspace_mint(HL_SLOT_CSPACE, sp->fault_cap, plat.ep, HL_R_WRITE, sp->badge) ||
	    hl_thread_configure(sp->thread, cspace, aspace, 0, 0) ||
	    hl_thread_set_fault_ep(sp->thread, sp->fault_cap) ||
	    hl_thread_set_linux(sp->thread, 1) || hl_thread_set_priority(sp->thread, 200))
		return -LX_ENOMEM;
	return 0;
}

/* The objects of sp go, its pool's room comes back. */
static void space_flush(struct space *sp)
{
	/* Their slots are then empty (the revoke deleted them), so no delete per slot. */
	bool gone = hl_cspace_revoke(HL_SLOT_CSPACE, sp->pool) == HL_OK;
	for (uint32_t i = 0; i < sp->nobjs; i++)
		if (gone)
			plat.free_slots[plat.nfree++] = sp->objs[i];
		else
			slot_free(sp->objs[i]);
	if (sp->fault_cap)
		slot_free(sp->fault_cap);
	sp->nobjs = 0, sp->thread = sp->fault_cap = 0;
	sp->aspace = sp->cspace = 0;
	sp->kept = false;
}

/*
 * sp empty again for a new process or thread: its pages are gone already
 * (lx_plat_release drops them all; none were ever added before), so only
 * the rest is cleared: the 64 KiB of pages[] would cost a fork some 8,000
 * instructions (every iteration of rep stosq counts, lib/string.c).
 */
static void space_reset(struct space *sp, hl_cptr_t pool)
{
	sp->pool = pool;
	sp->thread = sp->aspace = sp->cspace = sp->fault_cap = 0;
	sp->nobjs = 0;
	sp->fs_base = 0;
	sp->answered = false;
	sp->deferred = false;
	if (sp->npages) { /* never: a release left pages behind */
		struct space *was = cur;
		cur = sp;
		lx_plat_unmap_all();
		cur = was;
	}
}

/*
 * The objects a slot kept (lx_plat_release) for its next process: the
 * thread stopped, its registers, FPU state and CPU time as a new one's
 * (thread.reset at the release; its FS base stays, sp->fs_base says which);
 * the address space has no page mapped. Instead of a retype of each object
 * and a revoke of the pool per process (docs/decisions.md, issue 15
 * benchmarks). The fault endpoint keeps its badge: the slot's thread is the
 * same object, and what it sent for its last process went with the stop.
 */
static void space_reuse(struct space *sp)
{
	sp->kept = false;
	sp->deferred = false;
	sp->cpu = 0;
}

int lx_plat_spawn(struct lx_proc *p)
{
	struct space *sp = &spaces[p->idx];

	if (sp->kept) {
		space_reuse(sp);
		return 0;
	}
	space_reset(sp, plat.subpools[p->idx]);
	sp->aspace = space_alloc(sp, HL_OBJ_ASPACE, 12);
	sp->cspace = space_alloc(sp, HL_OBJ_CSPACE, 2);
	if (!sp->aspace || !sp->cspace)
		return -LX_ENOMEM; /* lx_plat_release takes back what was made */
	return thread_make(sp, p, sp->cspace, sp->aspace);
}

/*
 * The thread of t lives in its own slot's pool; its address space and cspace are its leader's.
 * The threads of a process spread over the CPUs (docs/decisions.md): the leader runs where
 * the server does (CPU 0), its n-th thread on CPU n modulo their number.
 */
int lx_plat_spawn_thread(struct lx_proc *t)
{
	struct space *sp = &spaces[t->idx], *ls = &spaces[lx_grp(t)->idx];
	uint32_t ncpus = lx_plat_ncpus();

	if (sp->kept)
		space_flush(sp); /* a process's objects: a thread needs only a thread */
	space_reset(sp, plat.subpools[t->idx]);
	sp->cpu = 0;
	int err = thread_make(sp, t, ls->cspace, ls->aspace);
	uint32_t cpu = (ls->cpu + lx_grp(t)->nthreads + 1) % ncpus;
	if (!err && cpu && hl_thread_set_affinity(sp->thread, cpu) == HL_OK)
		sp->cpu = cpu;
	return err;
}

uint32_t lx_plat_cpu_of(const struct lx_proc *p)
{
	return p->state == LX_PROC_LIVE ? spaces[p->idx].cpu : 0;
}

uint32_t lx_plat_ncpus(void)
{
	uint32_t n = rt_self.bi->ncpus;

	return n ? (n < 64 ? n : 64) : 1;
}

/* Whether page va is one of the n pages at[]. */
static bool page_among(uint64_t va, const uint64_t *at, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if ((at[i] & ~(LX_PAGE - 1)) == va)
			return true;
	return false;
}

/* A private copy of the parent's page pg for sp, mapped at once; 0 or -LX_ENOMEM. */
static int page_copy_to(struct space *sp, const struct page *pg)
{
	uint32_t fr = frame_take(false);

	if (fr == MAX_FRAMES)
		return -LX_ENOMEM;
	memcpy(frame_mem(fr), frame_mem(pg->frame), LX_PAGE);
	int err = page_add(sp, pg->vpn * LX_PAGE, fr, pg->prot, false, false);
	if (err)
		plat.free_frames[plat.nfree_frames++] = fr;
	return err;
}

/*
 * MAP_SHARED anonymous memory (docs/decisions.md, "Shared anonymous memory"): before a fork,
 * every page of the parent's shared regions gets a frame (recorded, mapped at the first
 * touch), and the child records the same frames, writable, never copy-on-write. The number
 * of shared regions, 0 when there is none (the common fork pays one scan of the regions), or
 * -LX_ENOMEM when their pages do not fit in the free memory.
 */
static int shared_populate(struct space *ps, const struct lx_proc *pm)
{
	uint64_t need = 0, total, free;
	int n = 0;

	for (uint32_t i = 0; i < pm->nreg; i++)
		if (pm->reg[i].shared) {
			n++;
			for (uint64_t va = pm->reg[i].start; va < pm->reg[i].end; va += LX_PAGE)
				need += !page_slot(ps, va, false);
		}
	lx_plat_mem(&total, &free);
	if (need * LX_PAGE > free)
		return -LX_ENOMEM;
	for (uint32_t i = 0; need && i < pm->nreg; i++)
		for (uint64_t va = pm->reg[i].start; pm->reg[i].shared && va < pm->reg[i].end;
		     va += LX_PAGE) {
			if (page_slot(ps, va, false))
				continue;
			uint32_t fr = frame_get();
			if (fr == MAX_FRAMES)
				return -LX_ENOMEM;
			int err = page_add(ps, va, fr, pm->reg[i].prot, false, true);
			if (err) {
				plat.free_frames[plat.nfree_frames++] = fr;
				return err;
			}
		}
	return n;
}

int lx_plat_fork(struct lx_proc *parent, struct lx_proc *child, uint64_t frame)
{
	struct space *ps = &spaces[lx_grp(parent)->idx], *cs = &spaces[child->idx];
	int err = lx_plat_spawn(child);
	uint64_t ret[2] = {0, 0}; /* the frame's return address and stack pointer */

	/*
	 * What both sides touch at once (docs/decisions.md, issue 15 benchmarks): the frame's
	 * page(s), the stack page it returns to and the TLS page are written by both, so the child
	 * gets a copy of each now and the parent's stay writable; the trampoline page and the
	 * code page it returns to are mapped for the child now. The other pages are recorded, not
	 * mapped: each is mapped when the child first touches it (handle_fault), so a child that
	 * execs or exits at once maps a handful.
	 */
	int nshared = err ? 0 : shared_populate(ps, lx_grp(parent));
	if (nshared < 0)
		return nshared;
	pages_gen++; /* the parent's writable pages become copy-on-write */
	(void)lx_copy_in(parent, ret, frame + 608, sizeof(ret)); /* the parent's own frame */
	const uint64_t copy[] = {frame, frame + 639, ret[1], spaces[parent->idx].fs_base};
	uint64_t now[2 + HOT_PAGES] = {LX_TRAMP, ret[0]};
	uint32_t nnow = 2;
	/* And those the last child of this parent in the slot touched first (its fault list). */
	if (cs->hot_parent != lx_grp(parent)->pid)
		cs->hot_parent = lx_grp(parent)->pid, cs->nhot = 0;
	for (uint32_t h = 0; h < cs->nhot; h++)
		now[nnow++] = cs->hot[h];
	uint64_t some = 0; /* a bit per page number modulo 64 of the pages above: most pass it */
	for (uint32_t h = 0; h < nnow; h++)
		some |= 1ull << (now[h] / LX_PAGE % 64);
	for (uint32_t h = 0; h < 4; h++)
		some |= 1ull << (copy[h] / LX_PAGE % 64);
	for (uint32_t w = 0; !err && w < PAGE_HASH / 64; w++)
		for (uint64_t bits = ps->used[w]; !err && bits; bits &= bits - 1) {
			struct page *pg = &ps->pages[w * 64 + (uint32_t)__builtin_ctzll(bits)];
			uint64_t va = pg->vpn * LX_PAGE;
			bool maybe = some >> (pg->vpn % 64) & 1;
			if (nshared &&
			    in_shared(lx_grp(parent), va)) { /* the same frame, writable */
				err = page_add(cs, va, pg->frame, pg->prot, false, true);
				continue;
			}
			if (maybe && (pg->prot & LX_PROT_WRITE) && page_among(va, copy, 4)) {
				err = page_copy_to(cs, pg);
				continue;
			}
			bool cow = pg->cow || (pg->prot & LX_PROT_WRITE);
			if (cow && !pg->cow) { /* the parent's writes fault from now on */
				pg->cow = 1;
				if (pg->map &&
				    hl_aspace_protect(ps->aspace, pg->map,
				                      hl_rights(pg->prot & ~LX_PROT_WRITE)))
					err = -LX_ENOMEM;
			}
			if (!err)
				err = page_add(cs, va, pg->frame, pg->prot, cow,
				               !maybe || !page_among(va, now, nnow));
		}
	if (!err) /* the forking thread's TLS */
		err = lx_plat_set_fs_of(child, spaces[parent->idx].fs_base);
	return err;
}

int lx_plat_set_regs(struct lx_proc *p, uint64_t rip, uint64_t rsp, uint64_t rdi, uint64_t rsi)
{
	return hl_thread_write_regs(spaces[p->idx].thread, rip, rsp, rdi, rsi) ? -LX_EFAULT : 0;
}

void lx_plat_resume(struct lx_proc *p)
{
	if (lx_grp(p)->stopped || spaces[p->idx].kept)
		return; /* a stopped process: SIGCONT resumes its threads (jobctl.c) */
	hl_thread_resume(spaces[p->idx].thread);
}

void lx_plat_suspend(struct lx_proc *p)
{
	/* A thread in a deferred wait (a pipe) would lose its call to the suspension (the
	 * kernel ends it): it waits again as a suspended thread whose call is made again. */
	if (spaces[p->idx].deferred) {
		struct lx_proc *was = lx_plat_current();
		lx_plat_switch(p); /* its restart record goes on its own stack */
		lx_plat_undefer(p);
		if (was && was->state == LX_PROC_LIVE)
			lx_plat_switch(was);
		return;
	}
	hl_thread_suspend(spaces[p->idx].thread);
}

/* A deferred reply finish_ready has for the serve loop's next reply to send with it
 * (HL_SYS_LINUX_REPLY_RECV); 0: none. */
static hl_cptr_t owed_thread;
static hl_word_t owed_value;

void lx_plat_release(struct lx_proc *p)
{
	struct space *sp = &spaces[p->idx], *was = cur;

	if (sp->thread && sp->thread == owed_thread)
		owed_thread = 0; /* its slot is about to be freed: nothing is owed to it now */
	if (sp->kept)
		return; /* released already */
	/* A process's slot keeps its address space (and page tables), cspace and thread for the
	 * next process of the slot (space_reuse): none of its pages stays mapped, and its thread
	 * is stopped with a new one's registers (thread.reset, which hands back its CPU time). A
	 * thread's slot, or one whose tables grew many, lets them go. */
	bool keep =
	    sp->aspace && sp->cspace && sp->thread && sp->fault_cap && sp->nobjs <= KEEP_OBJS;
	hl_word_t ns = 0;
	if (keep && hl_thread_reset(sp->thread, &ns) == HL_OK) {
		lx_grp(p)->cpu_gone_ns += ns; /* its CPU time stays its process's */
		sp->answered = false;         /* thread.reset turned the answer off */
	} else if (sp->thread) {
		keep = false;
		/* The thread whose call or fault is in hand waits for a reply that will not come
		 * (and the revoke deletes it); any other is stopped now. */
		if (p != lx_caller)
			hl_thread_suspend(sp->thread);
		lx_grp(p)->cpu_gone_ns += lx_plat_cpu_ns(p);
	}
	cur = sp;
	lx_plat_unmap_all();
	cur = was == sp ? NULL : was;
	if (keep) {
		sp->kept = true;
		return;
	}
	space_flush(sp);
}

int lx_plat_set_fs_of(struct lx_proc *p, uint64_t base)
{
	struct space *sp = &spaces[p->idx];

	if (sp->fs_base == base)
		return 0; /* a kept thread (space_reuse) that has it already */
	if (hl_thread_set_fs_base(sp->thread, base))
		return -LX_EPERM;
	sp->fs_base = base;
	return 0;
}

void lx_plat_mem(uint64_t *total, uint64_t *free)
{
	uint32_t used = plat.nframes - plat.nfree_frames;

	*total = (uint64_t)MAX_FRAMES * LX_PAGE;
	*free = (uint64_t)(MAX_FRAMES - used) * LX_PAGE;
}

uint64_t lx_plat_pages_of(const struct lx_proc *p)
{
	return p->state == LX_PROC_LIVE ? spaces[p->idx].npages : 0;
}

void lx_plat_console(const char *s, size_t n)
{
	for (size_t off = 0; off < n; off += 256)
		hl_debug_puts(HL_SLOT_DEBUG, s + off, n - off > 256 ? 256 : n - off);
	if (n)
		plat.console_nl = s[n - 1] == '\n';
}

void *lx_plat_alloc(size_t n)
{
	return rt_malloc(n);
}

void lx_plat_free(void *p)
{
	rt_free(p);
}

uint64_t lx_plat_nanotime(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t tsc = (uint64_t)hi << 32 | lo, hz = rt_self.bi->tsc_hz ? rt_self.bi->tsc_hz : 1;
	return tsc / hz * 1000000000ull + tsc % hz * 1000000000ull / hz;
}

/* xorshift64*, seeded from the TSC: AT_RANDOM and getrandom, not for cryptography. */
void lx_plat_random(void *buf, size_t n)
{
	uint8_t *b = buf;

	if (!plat.rng)
		plat.rng = lx_plat_nanotime() | 1;
	for (size_t i = 0; i < n; i++) {
		plat.rng ^= plat.rng >> 12, plat.rng ^= plat.rng << 25, plat.rng ^= plat.rng >> 27;
		b[i] = (uint8_t)((plat.rng * 0x2545f4914f6cdd1dull) >> 56);
	}
}

int lx_plat_set_fs(uint64_t base)
{
	return lx_plat_set_fs_of(cur_proc, base); /* the calling thread's */
}

uint64_t lx_plat_get_fs(void)
{
	return spaces[cur_proc->idx].fs_base;
}

/* A fault of the process: page in or copy on write, or end it with SIGSEGV (SIGKILL when
 * memory ran out). */
static bool handle_fault(struct lx_proc *p, const struct hl_msg *m)
{
	uint64_t err = m->w[HL_FAULT_ERROR], addr = m->w[HL_FAULT_ADDR];
	uint32_t need = err & 2 ? LX_PROT_WRITE : err & 16 ? LX_PROT_EXEC : LX_PROT_READ;

	if (plat.trace)
		rt_printf("linux: [%u] fault %lu error %#lx at %#lx rip %#lx\n", p->pid,
		          m->w[HL_FAULT_VECTOR], err, addr, m->w[HL_FAULT_RIP]);
	/* Not present, or a write to a present copy-on-write page. */
	int e = m->w[HL_FAULT_VECTOR] == 14 && (!(err & 1) || (err & 2)) ? lx_page_in(p, addr, need)
	                                                                 : -LX_EFAULT;
	struct page *pg = e ? NULL : page_slot(cur, addr, false);
	if (pg && !pg->map) { /* a fork child's page, touched for the first time */
		e = page_map(cur, pg);
		if (!e && cur->hot_parent == p->ppid) { /* its next sibling gets it at once */
			cur->hot[cur->hot_next++ % HOT_PAGES] = pg->vpn * LX_PAGE;
			cur->nhot += cur->nhot < HOT_PAGES;
		}
	}
	if (!e)
		return true;
	if (plat.trace)
		rt_printf("linux: pid %u: fault vector %lu error %#lx at %#lx (rip %#lx)%s\n",
		          p->pid, m->w[HL_FAULT_VECTOR], err, addr, m->w[HL_FAULT_RIP],
		          e == -LX_ENOMEM ? ": SIGKILL" : "");
	if (e == -LX_ENOMEM) { /* out of memory: SIGKILL, as the OOM killer */
		lx_proc_exit(p, 9);
		return false;
	}
	/* SIGSEGV, SIGFPE...: its handler runs, or it ends the process (signal.c). */
	return lx_signal_fault(p, m->w[HL_FAULT_VECTOR], err, addr, m->w[HL_FAULT_RIP]) == 0;
}

uint64_t lx_plat_cpu_ns(const struct lx_proc *p)
{
	hl_word_t ns = 0;

	return spaces[p->idx].thread && !spaces[p->idx].kept &&
	               hl_thread_read_cputime(spaces[p->idx].thread, &ns) == HL_OK
	           ? ns
	           : 0;
}

void lx_plat_read_gprs(struct lx_proc *p, uint64_t r[20])
{
	for (hl_word_t g = 0; g < 5; g++)
		hl_thread_read_gprs(spaces[p->idx].thread, g, &r[4 * g], &r[4 * g + 1],
		                    &r[4 * g + 2], &r[4 * g + 3]);
}

/*
 * The call of p cannot finish now (p->chan says what it waits for): stop
 * its thread without a reply, and point it at the trampoline that makes
 * the same call again (lx_tramp_restart) once lx_wake resumes it. The
 * trampoline finds the call's number, return address and stack pointer in
 * a record under the red zone of p's stack (once: a call made again from
 * the trampoline that blocks again keeps its record).
 */
static void block(struct lx_proc *p)
{
	uint64_t rec = p->call.rsp, rip_ret = LX_TRAMP + lx_tramp_off(LX_TRAMP_RESTART_RET);

	lx_plat_suspend(p);
	if (p->call.rip != rip_ret) {
		uint64_t r[3] = {p->call.nr, p->call.rip, p->call.rsp};
		rec = (p->call.rsp - 128 - sizeof(r)) & ~15ull;
		if (lx_copy_out(p, rec, r, sizeof(r))) {
			p->chan = NULL;
			rt_printf("linux: pid %u: no room on its stack to wait: SIGSEGV\n", p->pid);
			lx_proc_exit(p, 11);
			return;
		}
	}
	lx_plat_set_regs(p, LX_TRAMP + lx_tramp_off(LX_TRAMP_RESTART), rec, p->call.a[0],
	                 p->call.a[1]);
}

/* Deferred replies (docs/decisions.md, issue 15 benchmarks): a process waiting on a pipe keeps
 * waiting for the reply to its call, which the server sends (thread.linux_reply) once lx_wake
 * has let it finish the call again: no suspend, no restart trampoline, no second round trip. */
static struct lx_proc *ready[LX_MAX_PROCS];
static uint32_t nready;

/* Send the deferred reply r to sp's thread: with the serve loop's next reply when none is owed
 * yet, else now. */
static void linux_reply(const struct space *sp, int64_t r)
{
	if (owed_thread)
		hl_thread_linux_reply(sp->thread, (hl_word_t)r);
	else
		owed_thread = sp->thread, owed_value = (hl_word_t)r;
}

void lx_plat_wake(struct lx_proc *p)
{
	if (!spaces[p->idx].deferred) {
		lx_plat_resume(p);
		return;
	}
	for (uint32_t i = 0; i < nready; i++)
		if (ready[i] == p)
			return;
	ready[nready++] = p;
}

void lx_plat_undefer(struct lx_proc *p)
{
	struct space *sp = &spaces[p->idx];

	if (!sp->deferred)
		return;
	sp->deferred = false;
	block(p); /* suspended (the kernel ends the call with -EINTR), then as any wait */
}

/*
 * The pipe fast path may serve p's call (lx_pipe_fast): nothing to do at
 * its end. Calls are not traced, p's process is not stopped, and no signal
 * is ready to be taken nor a sigsuspend mask to put back (so the kernel's
 * getpid answer stays as it is: answer_after would not change it either;
 * a fork child that never called getpid takes the fast path too).
 */
static inline __attribute__((always_inline)) bool fast_ok(struct lx_proc *p)
{
	return !plat.trace && !lx_grp(p)->stopped && !p->in_sigsuspend &&
	       (!p->sigpending || !lx_signal_ready(p));
}

/* Finish the deferred calls lx_wake made ready, each in its process's context. */
static void finish_ready(void)
{
	while (nready) {
		struct lx_proc *q = ready[--nready], *was = cur_proc;
		struct space *sp = &spaces[q->idx];
		if (q->state != LX_PROC_LIVE || !sp->deferred || q->chan)
			continue; /* ended, interrupted, or waits again */
		lx_plat_switch(q);
		int64_t r =
		    q->call.nr <= 1 && fast_ok(q)
		        ? lx_pipe_fast(q, q->call.nr, q->call.a[0], q->call.a[1], q->call.a[2])
		        : LX_RET_SLOW;
		if (r != LX_RET_SLOW) {
			if (r != LX_RET_BLOCK) { /* else it waits again, still deferred */
				sp->deferred = false;
				linux_reply(sp, r);
			}
			if (was && was->state == LX_PROC_LIVE)
				lx_plat_switch(was);
			continue;
		}
		q->redirected = 0;
		r = lx_syscall(q, q->call.nr, q->call.a);
		if (q->state != LX_PROC_LIVE)
			r = LX_RET_GONE;
		else if (r != LX_RET_BLOCK && r != LX_RET_GONE && !q->redirected)
			r = lx_signal_deliver(q, r, false);
		if (plat.trace)
			rt_printf("linux: [%u] %lu finished = %ld\n", q->pid, q->call.nr, (long)r);
		if (r != LX_RET_BLOCK)
			sp->deferred = false;
		if (r != LX_RET_BLOCK && r != LX_RET_GONE) {
			answer_after(q, q->call.nr);
			hl_thread_linux_reply(sp->thread, (hl_word_t)r);
		}
		if (was && was->state == LX_PROC_LIVE)
			lx_plat_switch(was);
	}
}

static bool gettys_on;
static void gettys_poll(void);

/* Serve every process until none is left (with `@gettys`: for ever). */
static void serve(void)
{
	hl_word_t info = 0, badge;
	struct hl_msg m = {{0}};
	struct hl_ipc_buffer *ib = hl_ipcbuf();

	hl_syscall(HL_SYS_RECV, plat.ep, &info, &m, &badge);
	for (;;) {
		bool reply = false;
		/* The badge: pid << 8 | slot + 1 of the process the slot's thread was made for
		 * (space_reuse keeps it); a stale one names a slot whose thread is another. */
		uint32_t slot = (uint32_t)(badge & 0xff) - 1;
		struct lx_proc *p =
		    slot < LX_MAX_PROCS && spaces[slot].badge == badge ? &lx_procs[slot] : NULL;
		/* The pipe fast path first: the call's record is kept only for a wait (a call that
		 * ends here needs it for nothing after). */
		if (HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL && m.w[0] <= 1 && p &&
		    p->state == LX_PROC_LIVE && !p->chan && fast_ok(p)) {
			lx_plat_switch(p);
			int64_t r = lx_pipe_fast(p, m.w[0], m.w[1], m.w[2], m.w[3]);
			if (r == LX_RET_BLOCK) { /* no reply until it can go on (finish_ready) */
				p->call = (struct lx_call){
				    m.w[0],
				    {m.w[1], m.w[2], m.w[3], ib->mr[4], ib->mr[5], ib->mr[6]},
				    ib->mr[HL_LINUX_RIP],
				    ib->mr[HL_LINUX_RSP]};
				spaces[p->idx].deferred = true;
				goto served;
			}
			if (r != LX_RET_SLOW) { /* served: no signal, no trace, no answer to set */
				m.w[0] = (hl_word_t)r, reply = true;
				goto served;
			}
		}
		if (HL_MSG_LABEL(info) == 0) { /* the bound notification: the UART, the NIC */
			lx_tty_irq();
			lx_vt_irq(); /* or the keyboard */
			lx_net_poll();
			p = NULL;
		}
		if (p && p->state == LX_PROC_LIVE && !p->chan) {
			uint64_t t0 = rt_tsc(); /* p's system time from here (cputime.c) */
			lx_plat_switch(p);
			lx_caller = p;
			if (HL_MSG_LABEL(info) == HL_LABEL_LINUX_SYSCALL) {
				struct lx_call *c = &p->call;
				*c = (struct lx_call){
				    m.w[0],
				    {m.w[1], m.w[2], m.w[3], ib->mr[4], ib->mr[5], ib->mr[6]},
				    ib->mr[HL_LINUX_RIP],
				    ib->mr[HL_LINUX_RSP]};
				p->redirected = 0;
				/* Stopped while its last call was answered: this one waits, made
				 * again once SIGCONT resumes it (jobctl.c). */
				int64_t r = __builtin_expect(lx_grp(p)->stopped != 0, 0)
				                ? LX_RET_BLOCK
				                : lx_syscall(p, c->nr, c->a);
				if (p->state != LX_PROC_LIVE) /* a signal ended it meanwhile */
					r = LX_RET_GONE;
				else if (r != LX_RET_BLOCK && r != LX_RET_GONE && !p->redirected)
					r = lx_signal_deliver(p, r, false);
				if (plat.trace)
					rt_printf("linux: [%u] %lu(%#lx, %#lx, %#lx, %#lx) = %ld\n",
					          p->pid, c->nr, c->a[0], c->a[1], c->a[2], c->a[3],
					          (long)r);
				if (r != LX_RET_BLOCK && r != LX_RET_GONE)
					answer_after(p, c->nr);
				if (r == LX_RET_BLOCK && lx_chan_defers(p->chan))
					spaces[p->idx].deferred =
					    true; /* no reply until it can go on */
				else if (r == LX_RET_BLOCK)
					block(p);
				else if (r != LX_RET_GONE)
					m.w[0] = (hl_word_t)r, reply = true;
			} else if (HL_MSG_LABEL(info) == HL_LABEL_FAULT) {
				if (lx_grp(p)->stopped)
					lx_plat_suspend(p); /* the instruction faults again then */
				else
					reply = handle_fault(p, &m);
			}
			lx_caller = NULL;
			lx_cpu_charge(p, rt_tsc() - t0);
		} else if (HL_MSG_LABEL(info) == 0) {
			/* The bound notification: the badge holds its bits (< 256, so it names no
			 * live process: pid 0 is never given). */
			lx_timer_fire(badge);
		}
	served:
		finish_ready();
		if (gettys_on)
			gettys_poll(); /* a session to start on Enter, or one that ended */
		else if (!lx_proc_count())
			return;
		if (!reply) {
			if (owed_thread)
				hl_thread_linux_reply(owed_thread, owed_value);
			owed_thread = 0;
			hl_syscall(HL_SYS_RECV, plat.ep, &info, &m, &badge);
			continue;
		}
		info = HL_MSGINFO(0, 1, 0);
		if (owed_thread) { /* the deferred reply and this one in one call */
			m.w[1] = owed_thread, m.w[2] = owed_value, owed_thread = 0;
			long err = hl_syscall(HL_SYS_LINUX_REPLY_RECV, plat.ep, &info, &m, &badge);
			if (err == HL_OK)
				continue;
			/* That thread no longer waits: this reply only. */
			info = HL_MSGINFO(0, 1, 0);
		}
		hl_syscall(HL_SYS_REPLY_RECV, plat.ep, &info, &m, &badge);
	}
}

/* Run one command line: its exit status (128 + signal when killed), or -errno. With a session
 * (LX_TTY_CONSOLE or LX_TTY_SCREEN; -1: none), its first process is the leader of a session
 * with that tty as its controlling tty and as its descriptors 0-2. */
/* The words of line (cut at blanks, which become NULs) into argv, NULL after: how many. */
static uint32_t split_words(char *line, const char *argv[MAX_WORDS + 1])
{
	uint32_t argc = 0;

	for (char *s = line; *s && argc < MAX_WORDS;) {
		while (*s == ' ')
			*s++ = 0;
		if (*s)
			argv[argc++] = s;
		while (*s && *s != ' ')
			s++;
	}
	argv[argc] = NULL;
	return argc;
}

static int run(char *line, int session)
{
	const char *argv[MAX_WORDS + 1];
	int err = 0;

	if (line[0] == '!')
		line++; /* a command the differential test leaves out (Hallows only) */
	uint32_t argc = split_words(line, argv);
	if (!argc)
		return -LX_EINVAL;
	struct lx_proc *first = lx_proc_first(argv[0], argv, &err);
	if (!first)
		return err;
	if (session >= 0)
		lx_tty_session_on(session, first); /* before its first call is served */
	for (uint32_t fd = 0; session == LX_TTY_SCREEN && fd < 3; fd++)
		lx_fd_install(first, fd, lx_vt_ofd(), false);
	serve();
	if (session >= 0)
		lx_tty_session_on(session, NULL);
	int st = lx_proc_last_status();
	return st & 0x7f ? 128 + (st & 0x7f) : (st >> 8) & 0xff;
}

/*
 * The receive side of COM1 for the console tty: an I/O-port capability
 * for 0x3f8-0x3ff and IRQ 4's handler, from the root task's controls (the
 * server is the root task of its boot module) or handed over by the root
 * task (a partition with `console` in the manifest: its partition info
 * page names them). Once; false when they cannot be had.
 */
static bool console_input(void)
{
	static int state; /* 0: not tried, 1: attached, -1: failed */
	/* The timer's notification if there is one: a thread has one bound notification. */
	hl_cptr_t port = 0, irq = 0, ntfn = lx_timer_ntfn() ? lx_timer_ntfn() : plat.tty_ntfn;

	if (state)
		return state > 0;
	state = -1;
	if (rt_self.pi) {
		port = HL_PARTITION_SLOT_CONSOLE_PORT, irq = HL_PARTITION_SLOT_CONSOLE_IRQ;
	} else {
		port = rt_slot(), irq = rt_slot();
		if (port &&
		    hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0x3f8, 8, port) != HL_OK)
			port = 0;
		if (irq && hl_irq_control_get(HL_SLOT_IRQ_CONTROL, 4, irq) != HL_OK)
			irq = 0;
	}
	long err = !port || !irq || !ntfn ? HL_ERR_NO_MEMORY : lx_tty_attach(port, irq, ntfn);
	if (err) {
		rt_printf("linux: no console input (COM1's ports in slot %lu, IRQ 4 in slot %lu: "
		          "error %ld): no session\n",
		          (unsigned long)port, (unsigned long)irq, err);
		return false;
	}
	state = 1;
	return true;
}

/*
 * The keyboard and the screen for the screen's tty (vt.c), from the root
 * task's controls and the screen's page in the boot info. Once; false when
 * they cannot be had.
 */
static bool screen_input(void)
{
	hl_cptr_t ntfn = lx_timer_ntfn();

	if (!ntfn) { /* no timer thread: the console's notification, bound here if not yet */
		ntfn = plat.tty_ntfn;
		(void)hl_thread_bind_notification(HL_SLOT_THREAD, ntfn);
	}
	long err = lx_vt_attach(ntfn);
	if (err)
		rt_printf("linux: no screen tty (keyboard ports 0x60/0x64, IRQ 1 and the VGA text "
		          "page: error %ld): no session\n",
		          err);
	return !err;
}

/* Serve the UART and the keyboard until Enter is pressed on tty which (no process runs: only
 * their notifications come). */
static void wait_for_enter(int which)
{
	hl_word_t info = 0, badge;
	struct hl_msg m = {{0}};

	while (!lx_tty_take_enter_on(which)) {
		hl_syscall(HL_SYS_RECV, plat.ep, &info, &m, &badge);
		if (HL_MSG_LABEL(info) == 0) { /* the UART, the keyboard, the NIC, Floo's timers */
			lx_tty_irq();
			lx_vt_irq();
			lx_net_poll();
			lx_timer_fire(badge);
		}
	}
}

/*
 * `@console CMD` (once, at once) or `@getty CMD` (as a getty: after Enter
 * is pressed, so that what the rest of the system prints while it boots
 * does not run into the shell's prompt, and again each time it ends): CMD
 * as a session leader on the console tty. `@screen CMD` and `@screengetty
 * CMD` do the same on the screen's tty (the keyboard and the screen).
 */
static void console_session(char *cmd, bool again, int which)
{
	static char copy[MAX_LINE];
	const char *name = which == LX_TTY_SCREEN ? "screen" : "console";

	if (which == LX_TTY_SCREEN ? !screen_input() : !console_input())
		return;
	do {
		static const char hello[] =
		    "\r\nbusybox sh on Hallows: press Enter to start it\r\n";
		if (again && which == LX_TTY_SCREEN)
			lx_vt_draw(hello, sizeof(hello) - 1);
		if (again) {
			rt_printf("linux: busybox sh on this %s: press Enter to start it%s\n", name,
			          which == LX_TTY_SCREEN ? "" : " (Ctrl-a x leaves QEMU)");
			wait_for_enter(which);
		}
		strlcpy(copy, cmd, sizeof(copy));
		rt_printf("linux: %s session: %s\n", name, cmd);
		int code = run(copy, which);
		rt_printf("linux: %s session ended: exit=%d\n", name, code);
		if (code < 0)
			return; /* it could not start: no point in trying again */
	} while (again);
}

/*
 * `@gettys CMD`: a getty on the console and one on the screen at once
 * (`make run`: the serial port, and the keyboard and screen of a PC without
 * one). Each offers CMD, starts it as the leader of a session on its tty
 * when Enter is pressed there, and offers it again when that leader ends;
 * the server serves both sessions' processes together, for ever.
 */
static struct {
	char cmd[MAX_LINE];
	bool on[2];      /* per tty (LX_TTY_CONSOLE, LX_TTY_SCREEN): its getty runs */
	uint32_t pid[2]; /* its session's leader, 0: waiting for Enter */
} gt;

static const char *tty_name(int which)
{
	return which == LX_TTY_SCREEN ? "screen" : "console";
}

static void getty_offer(int which)
{
	static const char hello[] = "\r\nbusybox sh on Hallows: press Enter to start it\r\n";

	if (which == LX_TTY_SCREEN)
		lx_vt_draw(hello, sizeof(hello) - 1);
	rt_printf("linux: busybox sh on this %s: press Enter to start it%s\n", tty_name(which),
	          which == LX_TTY_SCREEN ? "" : " (Ctrl-a x leaves QEMU)");
	gt.pid[which] = 0;
}

/* Start CMD as the leader of a session on tty which: its pid, or 0. */
static uint32_t getty_start(int which)
{
	static char copy[MAX_LINE];
	const char *argv[MAX_WORDS + 1];
	int err = 0;

	strlcpy(copy, gt.cmd, sizeof(copy));
	uint32_t argc = split_words(copy, argv);
	struct lx_proc *first = argc ? lx_proc_first(argv[0], argv, &err) : NULL;
	if (!first) {
		rt_printf("linux: %s session: %s cannot start (%d)\n", tty_name(which), gt.cmd,
		          err);
		return 0;
	}
	rt_printf("linux: %s session: %s\n", tty_name(which), gt.cmd);
	lx_tty_session_on(which, first); /* before its first call is served */
	for (uint32_t fd = 0; which == LX_TTY_SCREEN && fd < 3; fd++)
		lx_fd_install(first, fd, lx_vt_ofd(), false);
	return first->pid;
}

static void gettys_poll(void)
{
	for (int w = 0; w < 2; w++) {
		if (!gt.on[w])
			continue;
		if (gt.pid[w]) {
			const struct lx_proc *q = lx_proc_by_pid(gt.pid[w]);
			if (q && q->state == LX_PROC_LIVE)
				continue;
			lx_tty_session_on(w, NULL);
			rt_printf("linux: %s session ended\n", tty_name(w));
			getty_offer(w);
		} else if (lx_tty_take_enter_on(w)) {
			gt.pid[w] = getty_start(w);
			if (!gt.pid[w])
				gt.on[w] = false; /* it could not start: no point in trying again */
		}
	}
}

static void gettys(const char *cmd)
{
	strlcpy(gt.cmd, cmd, sizeof(gt.cmd));
	gt.on[LX_TTY_CONSOLE] = console_input();
	gt.on[LX_TTY_SCREEN] = screen_input();
	if (!gt.on[LX_TTY_CONSOLE] && !gt.on[LX_TTY_SCREEN])
		return;
	for (int w = 0; w < 2; w++)
		if (gt.on[w])
			getty_offer(w);
	gettys_on = true;
	serve(); /* for ever */
}

static void exit_qemu(unsigned code)
{
	hl_cptr_t port = rt_slot();
	if (port && hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, code);
}

/* The memory: one pool per process slot for its objects, the rest for frames. */
static bool plat_init(void)
{
	plat.ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	plat.tty_ntfn = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	for (uint32_t i = 0; i < LX_MAX_PROCS; i++)
		if (!(plat.subpools[i] = rt_alloc(HL_OBJ_MEMORY, SUBPOOL_BITS)))
			return false;
	for (uint32_t bits = 28; bits >= 22 && !plat.pool; bits--)
		plat.pool = rt_alloc(HL_OBJ_MEMORY, bits);
	/* The rest of the slots are the server's: rt_slot keeps 128 (more_memory, exit_qemu). */
	plat.slot_first = plat.next_slot = (uint32_t)rt_self.next_slot + 128;
	plat.slot_end = rt_self.bi->cspace_bits < 12 ? 1u << rt_self.bi->cspace_bits : 4096u;
	rt_page_source = heap_pages;
	hl_word_t pa = 0, bits = 0, free = 0, live = 0;
	if (plat.pool)
		hl_memory_info(plat.pool, &pa, &bits, &free, &live);
	rt_printf("linux: frames from a pool of %lu KiB (%lu KiB free), slots %u-%u\n",
	          (1ul << bits) >> 10, free >> 10, plat.slot_first, plat.slot_end);
	return plat.ep && plat.pool;
}

/* The file tree linked into the program (mk/serve.mk), for a manifest partition, which sees no
 * boot module; the root-task build has none (weak: the address is 0). */
extern const uint8_t lx_archive[] __attribute__((weak));
extern const uint8_t lx_archive_end[] __attribute__((weak));

int main(struct rt *rt)
{
	const uint8_t *cpio = (const uint8_t *)rt->bi->initrd_vaddr;
	size_t cpio_len = rt->bi->initrd_size;
	struct cpio_entry e;
	static char script[8192];

	if (!cpio_len && lx_archive) {
		cpio = lx_archive;
		cpio_len = (size_t)(lx_archive_end - lx_archive);
	}
	(void)lx_timer_init(); /* before the pools take the memory; without it timed waits fail */
	(void)lx_net_init(cpio, cpio_len, lx_timer_ntfn()); /* the same; without it no network */
	lx_vt_prepare();                                    /* before the pools take the memory */
	if (!plat_init() || lx_fs_init(cpio, cpio_len)) {
		rt_printf("linux: cannot start: no memory, or a broken boot module\n");
		return 1;
	}
	if (cpio_find(cpio, cpio_len, "etc/linux-run", &e) || e.size >= sizeof(script)) {
		rt_printf("linux: no etc/linux-run (or longer than %zu bytes) in the boot module\n",
		          sizeof(script) - 1);
		return 1;
	}
	memcpy(script, e.data, e.size);
	uint32_t n = 0;
	bool want_exit = false;
	for (char *line = script, *next; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? (*next = 0, next + 1) : line + strlen(line);
		if (!line[0] || line[0] == '#')
			continue;
		if (!strcmp(line, "@trace")) { /* print every system call and fault from here on */
			plat.trace = true;
			continue;
		}
		if (!strcmp(line, "@unknown")) { /* the ENOSYS counts so far, then from zero */
			lx_report_unknown(true);
			continue;
		}
		if (!strcmp(line, "@exit")) { /* tests: leave QEMU at the end (isa-debug-exit) */
			want_exit = true;
			continue;
		}
		if (!strncmp(line, "@console ", 9) || !strncmp(line, "@getty ", 7)) {
			console_session(strchr(line, ' ') + 1, line[1] == 'g', LX_TTY_CONSOLE);
			continue;
		}
		if (!strncmp(line, "@gettys ", 8)) {
			gettys(line + 8);
			continue;
		}
		if (!strncmp(line, "@screen ", 8) || !strncmp(line, "@screengetty ", 13)) {
			console_session(strchr(line, ' ') + 1, line[7] == 'g', LX_TTY_SCREEN);
			continue;
		}
		n++;
		rt_printf("@@lx-begin %u %s\n", n, line);
		plat.console_nl = 1;
		int code = run(line, -1);
		rt_printf("%s@@lx-end %u exit=%d%s\n", plat.console_nl ? "" : "\n", n, code,
		          plat.console_nl ? "" : " nonl");
	}
	lx_report_unknown(false);
	lx_sock_report();
	rt_printf("linux: all %u commands done\n", n);
	if (want_exit)
		exit_qemu(0);
	return 0;
}
