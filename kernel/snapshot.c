/*
 * Snapshots: copy-on-write checkpoints of threads and address spaces
 * (docs/snapshots.md).
 *
 * take stops the covered threads, saves their registers and XSAVE areas
 * into the object, and write-protects each covered address space at the
 * top level only: the W bit of its present user PML4 entries (x86 ANDs W
 * down the walk). The first write below such an entry faults; the fault
 * pushes the protection one level down (the child's entries lose W, a
 * leaf that was writable gets PTE_SNAP), level by level, and at the leaf
 * copies the page into the snapshot's pool before making it writable
 * again. The live page keeps its physical frame (its capability, DMA
 * address and sharing stay what they were): the snapshot keeps the old
 * contents, an undo record. restore copies every record back and puts the
 * saved contexts back; the pages stay writable, so a second restore of the
 * same snapshot copies the same records again. discard forgets the records;
 * protection left in the tables is lifted lazily by the next write fault.
 * take costs one entry per present top-level entry; faults, restore and
 * discard cost per page written.
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/invoke.h>
#include <kernel/ipc.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/snapshot.h>
#include <kernel/vm.h>
#include <lib/string.h>

#define XS_BYTES ((1ul << THREAD_OBJ_BITS) - offsetof(struct thread, xsave))
#define CTX_XS   256 /* offset of the XSAVE copy in a context */
_Static_assert(CTX_XS >= sizeof(struct user_regs) && CTX_XS % 64 == 0, "snapshot context layout");
_Static_assert(CTX_XS + XS_BYTES <= SNAP_CTX_PAGES * PAGE_SIZE && XS_BYTES % 8 == 0,
               "snapshot context size");
_Static_assert(sizeof(struct snapshot) <= PAGE_SIZE, "snapshot header is one page");

static uint8_t *ctx_of(struct snapshot *s, uint32_t i)
{
	return (uint8_t *)s + (1 + (uint64_t)i * SNAP_CTX_PAGES) * PAGE_SIZE;
}

/* Pages of the hash and the record array for an object of 2^bits bytes. */
static void meta_pages(uint32_t bits, uint64_t *hash_pages, uint64_t *rec_pages)
{
	uint64_t pages = 1ull << (bits - 12);

	*hash_pages = (2 * pages * sizeof(uint32_t) + PAGE_SIZE - 1) / PAGE_SIZE;
	*rec_pages = (pages * sizeof(struct snap_rec) + PAGE_SIZE - 1) / PAGE_SIZE;
}

void snapshot_init(struct snapshot *s, uint32_t bits)
{
	uint64_t hp, rp, pages = 1ull << (bits - 12);

	meta_pages(bits, &hp, &rp);
	s->magic = SNAP_MAGIC;
	s->bits = bits;
	s->hash = (uint32_t *)((uint8_t *)s + SNAP_META_FIRST * PAGE_SIZE);
	s->hash_mask = 2 * pages - 1;
	s->rec = (struct snap_rec *)((uint8_t *)s + (SNAP_META_FIRST + hp) * PAGE_SIZE);
	s->pool = virt_to_phys(s) + (SNAP_META_FIRST + hp + rp) * PAGE_SIZE;
	s->pool_pages = pages - (SNAP_META_FIRST + hp + rp);
}

static struct thread *th(const struct snapshot *s, uint32_t i)
{
	return s->th_slot[i].cap.type == HL_OBJ_THREAD ? (struct thread *)s->th_slot[i].cap.obj
	                                               : NULL;
}

static struct aspace *as_of(const struct snapshot *s, uint32_t i)
{
	return s->as_slot[i].cap.type == HL_OBJ_ASPACE ? (struct aspace *)s->as_slot[i].cap.obj
	                                               : NULL;
}

/* The aspace recorded at take is still that object (not destroyed, its memory not reused). */
static struct aspace *as_alive(const struct snapshot *s, uint32_t i)
{
	struct aspace *as = s->as_ptr[i];

	return as && as->magic == ASPACE_MAGIC && as->id == s->as_id[i] ? as : NULL;
}

static int as_index(const struct snapshot *s, const struct aspace *as)
{
	for (uint32_t i = 0; i < s->nas; i++)
		if (as_of(s, i) == as)
			return (int)i;
	return -1;
}

/* Everything it holds is still there, and the caller is none of its threads. */
static int check_held(const struct snapshot *s, const struct thread *caller)
{
	if (!s->nas)
		return HL_ERR_INVALID_ARG;
	for (uint32_t i = 0; i < s->nas; i++)
		if (!as_of(s, i))
			return HL_ERR_DELETED;
	for (uint32_t i = 0; i < s->nthreads; i++) {
		const struct thread *t = th(s, i);
		if (!t)
			return HL_ERR_DELETED;
		if (t == caller)
			return HL_ERR_ILLEGAL_OP;
	}
	return HL_OK;
}

/* ---- the record table ---- */

static uint64_t hash_pa(const struct snapshot *s, paddr_t live)
{
	return ((live >> 12) * 0x9e3779b97f4a7c15ull >> 20) & s->hash_mask;
}

static struct snap_rec *rec_find(struct snapshot *s, paddr_t live)
{
	for (uint64_t h = hash_pa(s, live), n = 0; n <= s->hash_mask;
	     h = (h + 1) & s->hash_mask, n++) {
		uint32_t e = s->hash[h];
		if (!e)
			return NULL;
		if ((s->rec[e - 1].live & ~1ull) == live)
			return &s->rec[e - 1];
	}
	return NULL;
}

/* Save the page (4 KiB or 2 MiB) at live; the caller checked there is room. */
static void rec_add(struct snapshot *s, paddr_t live, uint64_t size, uint64_t where)
{
	uint64_t h = hash_pa(s, live);

	while (s->hash[h])
		h = (h + 1) & s->hash_mask;
	struct snap_rec *r = &s->rec[s->nrec];
	r->live = live | (size == HUGE_SIZE);
	r->save = s->pool + s->pool_used * PAGE_SIZE;
	r->where = where;
	copy_words(phys_to_virt(r->save), phys_to_virt(live), size / 8);
	s->pool_used += size / PAGE_SIZE;
	s->hash[h] = (uint32_t)++s->nrec;
}

static bool room_for(const struct snapshot *s, uint64_t size)
{
	return s->pool_pages - s->pool_used >= size / PAGE_SIZE;
}

static void rec_clear(struct snapshot *s)
{
	for (uint64_t i = 0; i < s->nrec; i++) {
		uint64_t h = hash_pa(s, s->rec[i].live & ~1ull);
		while (s->hash[h]) { /* clear the whole probe run: every entry of it goes */
			s->hash[h] = 0;
			h = (h + 1) & s->hash_mask;
		}
	}
	s->nrec = 0;
	s->pool_used = 0;
}

/* ---- the write fault ---- */

static unsigned pidx(uint64_t va, int level)
{
	return (va >> (12 + 9 * level)) & 511;
}

/* Push the protection one level down: the entries of the table at level (0 = PT) lose W. */
static void push_down(uint64_t *t, int level)
{
	for (int i = 0; i < 512; i++) {
		uint64_t e = t[i];
		if (!(e & PTE_P) || !(e & PTE_W))
			continue;
		if (level == 0 || (e & PTE_PS))
			t[i] = (e & ~PTE_W) | PTE_SNAP;
		else
			t[i] = e & ~PTE_W;
	}
}

static bool excluded(const struct snapshot *s, uint64_t va, uint64_t size)
{
	for (uint32_t i = 0; i < s->nexcl; i++)
		if (va < s->excl_hi[i] && va + size > s->excl_lo[i])
			return true;
	return false;
}

int snapshot_write_fault(struct thread *t, uint64_t va, uint64_t err)
{
	if ((err & 7) != 7 || va >= USER_TOP || t->aspace_slot.cap.type != HL_OBJ_ASPACE)
		return SNAP_FAULT_NONE; /* only writes from ring 3 to present pages */
	struct aspace *as = (struct aspace *)t->aspace_slot.cap.obj;
	uint64_t *tbl = as->pml4, *e = NULL;
	bool fixed = false;
	int level;

	for (level = 3; level >= 0; level--) {
		e = &tbl[pidx(va, level)];
		if (!(*e & PTE_P))
			return SNAP_FAULT_NONE;
		if (level == 0 || (*e & PTE_PS))
			break;
		paddr_t child = *e & PTE_ADDR;
		if (!aspace_table_owned(as, child, level))
			return SNAP_FAULT_NONE;
		tbl = phys_to_virt(child);
		if (!(*e & PTE_W)) {
			push_down(tbl, level - 1);
			*e |= PTE_W;
			fixed = true;
		}
	}
	if (level < 0 || level > 1 || !(*e & PTE_SNAP)) {
		/* Every entry on the path now allows the write: either this fault lifted the
		 * protection, or another CPU did and this one used a stale read-only TLB entry
		 * (a spurious fault, SDM 4.10.4.3): the write runs again either way. */
		bool allowed = (*e & (PTE_W | PTE_U)) == (PTE_W | PTE_U) && !(err & 8);
		if (fixed || allowed)
			arch_tlb_flush_page(va);
		return fixed || allowed ? SNAP_FAULT_FIXED : SNAP_FAULT_NONE;
	}
	uint64_t size = level ? HUGE_SIZE : PAGE_SIZE;
	paddr_t live = *e & PTE_ADDR & ~(size - 1);
	uint64_t base = va & ~(size - 1);
	struct snapshot *s = as->snap;
	int ai = s && s->state == HL_SNAP_TAKEN ? as_index(s, as) : -1;
	/* Device memory (uncached or write-combining) is never saved. */
	bool ram = !(*e & (PTE_PCD | PTE_PWT | (level ? PTE_PAT_LARGE : PTE_PAT_4K)));
	if (ai >= 0 && ram && !excluded(s, base, size) && !rec_find(s, live)) {
		if (!room_for(s, size))
			return SNAP_FAULT_OOM; /* the page stays protected and unwritten */
		rec_add(s, live, size, base | (uint64_t)ai);
		s->copies++;
	}
	*e = (*e & ~PTE_SNAP) | PTE_W;
	arch_tlb_flush_page(va);
	return SNAP_FAULT_FIXED;
}

uint64_t snapshot_leaf_flags(const struct aspace *as, uint64_t flags)
{
	if (as->snap && as->snap->state == HL_SNAP_TAKEN && (flags & PTE_W))
		return (flags & ~PTE_W) | PTE_SNAP;
	return flags;
}

/* ---- methods ---- */

static void hold(struct slot *dst, struct slot *src)
{
	struct cap c = cap_derive(&src->cap);

	cap_insert(dst, &c, src);
}

int decode_snapshot_add(struct invocation *inv)
{
	struct snapshot *s = (struct snapshot *)inv->target->cap.obj;
	struct slot *o = cspace_slot(inv->cspace, inv->arg[0]);

	if (!o || o->cap.type == HL_OBJ_NONE)
		return HL_ERR_INVALID_CAP;
	if (s->state != HL_SNAP_IDLE)
		return HL_ERR_ILLEGAL_OP;
	if (o->cap.type == HL_OBJ_ASPACE) {
		struct aspace *as = (struct aspace *)o->cap.obj;
		if (as->no_snapshot)
			return HL_ERR_ILLEGAL_OP; /* the root task */
		if (as_index(s, as) >= 0)
			return HL_ERR_ALREADY_MAPPED;
		if (s->nas == HL_SNAP_MAX_ASPACES)
			return HL_ERR_RANGE;
		hold(&s->as_slot[s->nas++], o);
		return HL_OK;
	}
	if (o->cap.type != HL_OBJ_THREAD)
		return HL_ERR_WRONG_TYPE;
	struct thread *t = (struct thread *)o->cap.obj;
	if (t->aspace_slot.cap.type != HL_OBJ_ASPACE)
		return HL_ERR_INVALID_ARG; /* not configured */
	if (as_index(s, (struct aspace *)t->aspace_slot.cap.obj) < 0)
		return HL_ERR_INVALID_ARG; /* its address space is not covered (another partition's)
		                            */
	for (uint32_t i = 0; i < s->nthreads; i++)
		if (th(s, i) == t)
			return HL_ERR_ALREADY_MAPPED;
	if (s->nthreads == HL_SNAP_MAX_THREADS)
		return HL_ERR_RANGE;
	hold(&s->th_slot[s->nthreads++], o);
	return HL_OK;
}

int decode_snapshot_exclude(struct invocation *inv)
{
	struct snapshot *s = (struct snapshot *)inv->target->cap.obj;
	uint64_t va = inv->arg[0], size = inv->arg[1];

	if (s->state != HL_SNAP_IDLE)
		return HL_ERR_ILLEGAL_OP;
	if (!size || (va | size) & (PAGE_SIZE - 1) || va >= USER_TOP || size > USER_TOP - va)
		return HL_ERR_INVALID_ARG;
	if (s->nexcl == HL_SNAP_MAX_EXCLUDE)
		return HL_ERR_RANGE;
	s->excl_lo[s->nexcl] = va;
	s->excl_hi[s->nexcl++] = va + size;
	return HL_OK;
}

/*
 * Stop every covered thread that is runnable (flagging it to run again);
 * true when one still runs on another CPU (its registers are not saved
 * until that CPU enters the kernel: the caller runs the call again).
 */
static bool stop_runnable(struct snapshot *s, uint8_t *was_run)
{
	bool busy = false;

	for (uint32_t i = 0; i < s->nthreads; i++) {
		struct thread *t = th(s, i);
		if (t->state == TS_RUNNABLE) {
			was_run[i] = 1;
			sched_block(t, TS_INACTIVE);
		}
		if (t->on_cpu && t->on_cpu != cpu_index() + 1)
			busy = true;
	}
	return busy;
}

static bool blocked_in_call(uint8_t state)
{
	return state == TS_BLOCKED_SEND || state == TS_BLOCKED_RECV || state == TS_BLOCKED_REPLY ||
	       state == TS_BLOCKED_NTFN;
}

/* Save thread i's context. One blocked in a system call is saved to make that call again. */
static void save_ctx(struct snapshot *s, uint32_t i)
{
	struct thread *t = th(s, i);
	struct user_regs *r = (struct user_regs *)ctx_of(s, i);

	*r = t->regs;
	s->th_state[i] = s->th_run[i] ? TS_RUNNABLE : t->state; /* take stopped it for the save */
	if (blocked_in_call(t->state) && t->in_fault != IN_FAULT_HW) {
		r->rip -= 2;
		if (r->rax == HL_SYS_REPLY_RECV && t->in_fault == IN_FAULT_NONE)
			r->rax = HL_SYS_RECV; /* the reply went out before the snapshot */
		/* A caller waiting for its reply had rax set to the send's result when its call
		 * was received: the system call to make again is the call. */
		if (t->state == TS_BLOCKED_REPLY && t->in_fault == IN_FAULT_NONE)
			r->rax = HL_SYS_CALL;
	}
	if (arch_fpu_kept())
		copy_words(ctx_of(s, i) + CTX_XS, t->xsave, XS_BYTES / 8);
}

/* Resume the threads flagged in run[] (and clear the flags). */
static void run_flagged(struct snapshot *s)
{
	for (uint32_t i = 0; i < s->nthreads; i++) {
		struct thread *t = th(s, i);
		if (s->th_run[i] && t && t->state == TS_INACTIVE) {
			t->full_restore = 1;
			sched_make_runnable(t);
		}
		s->th_run[i] = 0;
	}
}

int decode_snapshot_take(struct invocation *inv)
{
	struct snapshot *s = (struct snapshot *)inv->target->cap.obj;
	int err = check_held(s, inv->caller);

	if (err)
		return err;
	if (s->state == HL_SNAP_TAKEN)
		return HL_ERR_ILLEGAL_OP;
	uint64_t ipc_pages = 0;
	for (uint32_t i = 0; i < s->nthreads; i++)
		ipc_pages += thread_ipcbuf(th(s, i)) != NULL;
	if (s->pool_pages < ipc_pages)
		return HL_ERR_NO_MEMORY;
	for (uint32_t i = 0; i < s->nas; i++) {
		const struct aspace *as = as_of(s, i);
		if (as->snap && as->snap != s)
			return HL_ERR_ALREADY_MAPPED; /* another snapshot is taken of it */
	}
	/* Nothing fails from here on (a restart comes back here). */
	s->state = HL_SNAP_TAKING;
	if (stop_runnable(s, s->th_run)) {
		inv->restart = true;
		return HL_OK;
	}
	rec_clear(s);
	s->copies = 0;
	for (uint32_t i = 0; i < s->nthreads; i++) {
		struct thread *t = th(s, i);
		save_ctx(s, i);
		if (thread_ipcbuf(t) && !rec_find(s, t->ipc_slot.cap.obj))
			rec_add(s, t->ipc_slot.cap.obj, PAGE_SIZE, SNAP_REC_IPC | i);
	}
	for (uint32_t i = 0; i < s->nas; i++) {
		struct aspace *as = as_of(s, i);
		for (int j = 0; j < 256; j++)
			if (as->pml4[j] & PTE_P)
				as->pml4[j] &= ~PTE_W;
		as->snap = s;
		s->as_ptr[i] = as;
		s->as_id[i] = as->id;
		aspace_flush_all(as);
	}
	s->state = HL_SNAP_TAKEN;
	run_flagged(s);
	return HL_OK;
}

/* A saved page is still where it was saved from (nothing unmapped or revoked since). */
static bool rec_in_place(struct snapshot *s, const struct snap_rec *r)
{
	paddr_t live = r->live & ~1ull;

	if (r->where & SNAP_REC_IPC) {
		const struct thread *t = th(s, (uint32_t)(r->where & 0xff));
		return t && thread_ipcbuf(t) && t->ipc_slot.cap.obj == live;
	}
	struct aspace *as = as_of(s, (uint32_t)(r->where & 0xfff));
	paddr_t pa;
	uint64_t size = (r->live & 1) ? HUGE_SIZE : PAGE_SIZE;
	return as && aspace_lookup(as, r->where & ~0xfffull, &pa, NULL) &&
	       ALIGN_DOWN(pa, size) == live;
}

static bool records_in_place(struct snapshot *s)
{
	for (uint64_t i = 0; i < s->nrec; i++)
		if (!rec_in_place(s, &s->rec[i]))
			return false;
	return true;
}

/*
 * Restore copies RESTORE_CHUNK pages per pass under the kernel lock, then runs the call again (a
 * preemption point, as cspace.revoke): the lock is never held for more than about 60,000
 * instructions of copying (a 2 MiB page, one record, about 260,000). Every pass stops the covered
 * threads again (one resumed in between must not run on half-restored memory) and checks the
 * records it copies that the first pass did not check under the same lock.
 */
#define RESTORE_CHUNK 64

int decode_snapshot_restore(struct invocation *inv)
{
	struct snapshot *s = (struct snapshot *)inv->target->cap.obj;
	int err = check_held(s, inv->caller);

	if (err)
		return err;
	if (s->state != HL_SNAP_TAKEN) {
		s->restore_next = 0, s->restoring = 0;
		return HL_ERR_ILLEGAL_OP; /* never taken, or discarded (also between two passes) */
	}
	bool first = !s->restoring;
	if (first && !records_in_place(s))
		return HL_ERR_DELETED;
	/* Stop them all, wherever they are (IPC queues too), then wait until none is on a CPU. */
	bool busy = false;
	for (uint32_t i = 0; i < s->nthreads; i++) {
		struct thread *t = th(s, i);
		thread_halt(t);
		if (t->on_cpu && t->on_cpu != cpu_index() + 1)
			busy = true;
	}
	if (busy) { /* stopped for good: the restore that runs again resumes them as taken */
		inv->restart = true;
		return HL_OK;
	}
	s->restoring = 1;
	for (uint64_t budget = RESTORE_CHUNK; s->restore_next < s->nrec && budget;) {
		const struct snap_rec *r = &s->rec[s->restore_next];
		if (!first && !rec_in_place(s, r)) {
			/* Unmapped by another thread between two passes: that page is no longer the
			 * partition's (its frame may be someone else's now), so it is not written
			 * and the restore goes on, as if the unmap had come right after a whole
			 * restore: never half restored. */
			s->restore_next++;
			continue;
		}
		uint64_t pages = (r->live & 1) ? HUGE_SIZE / PAGE_SIZE : 1;
		copy_words(phys_to_virt(r->live & ~1ull), phys_to_virt(r->save),
		           pages * PAGE_SIZE / 8);
		budget = budget > pages ? budget - pages : 0;
		s->restore_next++;
	}
	if (s->restore_next < s->nrec) {
		inv->restart = true; /* a preemption point between chunks */
		return HL_OK;
	}
	s->restore_next = 0, s->restoring = 0;
	for (uint32_t i = 0; i < s->nthreads; i++) {
		struct thread *t = th(s, i);
		t->regs = *(struct user_regs *)ctx_of(s, i);
		if (arch_fpu_kept())
			copy_words(t->xsave, ctx_of(s, i) + CTX_XS, XS_BYTES / 8);
		t->full_restore = 1;
		t->in_fault = IN_FAULT_NONE;
		uint8_t st = s->th_state[i];
		if (st == TS_RUNNABLE || blocked_in_call(st))
			sched_make_runnable(t);
		else
			t->state = st == TS_FAULTED ? TS_FAULTED : TS_INACTIVE;
	}
	return HL_OK;
}

/* Forget the records; the address spaces' protection is lifted lazily by their next write faults.
 */
static void let_go(struct snapshot *s)
{
	if (s->state == HL_SNAP_TAKING)
		run_flagged(s);
	for (uint32_t i = 0; i < HL_SNAP_MAX_ASPACES; i++) {
		struct aspace *as = as_alive(s, i);
		if (as && as->snap == s)
			as->snap = NULL;
		s->as_ptr[i] = NULL;
	}
	rec_clear(s);
	s->restore_next = 0, s->restoring = 0;
	s->state = HL_SNAP_IDLE;
}

int decode_snapshot_discard(struct invocation *inv)
{
	struct snapshot *s = (struct snapshot *)inv->target->cap.obj;

	if (s->state == HL_SNAP_IDLE)
		return HL_ERR_ILLEGAL_OP;
	let_go(s);
	return HL_OK;
}

int decode_snapshot_info(struct invocation *inv)
{
	const struct snapshot *s = (const struct snapshot *)inv->target->cap.obj;

	inv->res[0] = s->state;
	inv->res[1] = s->pool_used;
	inv->res[2] = s->pool_pages - s->pool_used;
	inv->res[3] = s->copies;
	return HL_OK;
}

void snapshot_destroy(struct snapshot *s)
{
	let_go(s);
	for (uint32_t i = 0; i < HL_SNAP_MAX_THREADS; i++)
		cap_delete(&s->th_slot[i]);
	for (uint32_t i = 0; i < HL_SNAP_MAX_ASPACES; i++)
		cap_delete(&s->as_slot[i]);
	s->magic = 0;
}

const char *snapshot_check(const struct snapshot *s)
{
	if (s->magic != SNAP_MAGIC)
		return "bad magic";
	if (s->state > HL_SNAP_TAKEN || s->nas > HL_SNAP_MAX_ASPACES ||
	    s->nthreads > HL_SNAP_MAX_THREADS || s->nexcl > HL_SNAP_MAX_EXCLUDE)
		return "counts out of range";
	if (s->pool_used > s->pool_pages || s->nrec > s->pool_used)
		return "more pages used than the pool holds";
	if (s->restore_next > s->nrec || (s->restore_next && !s->restoring))
		return "a restore's cursor past its records";
	uint64_t used = 0;
	for (uint64_t i = 0; i < s->nrec; i++) {
		const struct snap_rec *r = &s->rec[i];
		uint64_t pages = (r->live & 1) ? 512 : 1;
		if (r->save != s->pool + used * PAGE_SIZE)
			return "a record's copy is not where the pool put it";
		used += pages;
		if (rec_find((struct snapshot *)s, r->live & ~1ull) != r)
			return "a record is not found through the hash";
	}
	if (used != s->pool_used)
		return "pool pages used differ from the records";
	for (uint32_t i = 0; i < HL_SNAP_MAX_ASPACES; i++) {
		struct aspace *as = as_alive(s, i);
		if (s->state == HL_SNAP_TAKEN && i < s->nas && as && as_of(s, i) == as &&
		    as->snap != s)
			return "a covered address space does not point back";
	}
	return NULL;
}
