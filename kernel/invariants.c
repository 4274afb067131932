/*
 * Kernel invariant checks for fuzzing runs (command-line word "checkinv").
 *
 * With the word, syscall_entry calls inv_syscall_dispatch() instead of
 * syscall_dispatch(): the checks run at the entry of every system call but
 * HL_SYS_NULL, fastpath ones included, under the big kernel lock, so the
 * state seen is the state after every earlier call on any CPU (and after
 * the interrupts between them). Without the word nothing here runs and
 * the entry costs what it did (an indirect call instead of a direct one:
 * one instruction either way). Each failed check panics with "invariant:"
 * and the name of the invariant, so a fuzzer run that breaks one ends as a
 * panic with a readable reason instead of a later, unrelated crash or hang.
 *
 * Every walk is bounded: a list longer than its bound is itself reported
 * as a broken invariant (a cycle, or a count that lies).
 */
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/invariants.h>
#include <kernel/layout.h>
#include <kernel/object.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/pmm.h>
#include <kernel/runq.h>
#include <kernel/snapshot.h>
#include <kernel/syscall.h>

static void inv_syscall_dispatch(struct thread *t);

void (*syscall_dispatch_fn)(struct thread *t) = syscall_dispatch;

#define INV(cond, ...)                                                                             \
	do {                                                                                       \
		if (!(cond))                                                                       \
			panic("invariant: " __VA_ARGS__);                                          \
	} while (0)

#define MAX_WALK   (1u << 20) /* no list or chain in the kernel is longer */
#define MAX_TABLES 512 /* page-table pages remembered per address space for the alias check */

/* One priority list of a run queue: links both ways, every thread runnable and queued here. Returns
 * its length. */
static uint32_t check_prio_list(const struct runq *q, uint32_t cpu, uint32_t p)
{
	const struct thread *prev = NULL;
	uint32_t n = 0;

	for (const struct thread *t = q->head[p]; t; prev = t, t = t->qnext) {
		INV(++n <= q->count,
		    "run queue of cpu %u, priority %u: longer than its count %u (a cycle?)", cpu, p,
		    q->count);
		INV(t->magic == THREAD_MAGIC,
		    "run queue of cpu %u, priority %u: %p is not a live thread", cpu, p,
		    (const void *)t);
		INV(t->state == TS_RUNNABLE,
		    "run queue of cpu %u: thread %p is queued but not runnable (state %u)", cpu,
		    (const void *)t, t->state);
		INV(t->queue == q,
		    "run queue of cpu %u: thread %p is linked here but its queue is %p", cpu,
		    (const void *)t, t->queue);
		INV(t->cpu == cpu, "run queue of cpu %u: thread %p belongs to cpu %u", cpu,
		    (const void *)t, t->cpu);
		INV(t->priority == p, "run queue of cpu %u: thread %p of priority %u is in list %u",
		    cpu, (const void *)t, t->priority, p);
		INV(t->qprev == prev,
		    "run queue of cpu %u, priority %u: thread %p's back link is broken", cpu, p,
		    (const void *)t);
		INV(t->on_cpu == 0, "run queue of cpu %u: thread %p is queued while cpu %u runs it",
		    cpu, (const void *)t, t->on_cpu - 1);
		INV(!t->throttled, "run queue of cpu %u: thread %p is queued and throttled", cpu,
		    (const void *)t);
	}
	INV(q->tail[p] == prev, "run queue of cpu %u, priority %u: tail is not the last thread",
	    cpu, p);
	return n;
}

/* The throttled list of a CPU: live threads marked throttled, in no run queue, with a budget and a
 * period. */
static void check_throttled(const struct runq *q, uint32_t cpu)
{
	uint32_t n = 0;

	for (const struct thread *t = q->throttled; t; t = t->qnext) {
		INV(++n <= MAX_WALK, "throttled list of cpu %u: endless (a cycle)", cpu);
		INV(t->magic == THREAD_MAGIC, "throttled list of cpu %u: %p is not a live thread",
		    cpu, (const void *)t);
		INV(t->throttled, "throttled list of cpu %u: thread %p is not marked throttled",
		    cpu, (const void *)t);
		INV(!t->queue, "throttled list of cpu %u: thread %p is also in a queue", cpu,
		    (const void *)t);
		INV(t->state != TS_RUNNABLE, "throttled list of cpu %u: thread %p is runnable", cpu,
		    (const void *)t);
		INV(t->budget_ns && t->period_ns,
		    "throttled list of cpu %u: thread %p has budget %lu ns, period %lu ns", cpu,
		    (const void *)t, t->budget_ns, t->period_ns);
		INV(t->on_cpu == 0, "throttled list of cpu %u: thread %p still runs on cpu %u", cpu,
		    (const void *)t, t->on_cpu - 1);
	}
	INV(!q->throttled || !q->slice_armed,
	    "cpu %u: slice timer marked armed while threads are throttled", cpu);
}

/*
 * The timer queue of a CPU (timed waits, HL_SYS_WAIT): links agree both
 * ways, deadlines ascend, the count is the length, and every entry is a
 * live thread of this queue still waiting on a notification.
 */
static void check_timeouts(const struct runq *q, uint32_t cpu)
{
	const struct timeq_node *prev = NULL;
	uint32_t n = 0;

	for (const struct timeq_node *x = q->timeouts.head; x; prev = x, x = x->next) {
		const struct thread *t =
		    (const struct thread *)((const char *)x - offsetof(struct thread, timeout));
		INV(++n <= q->timeouts.count, "timer queue of cpu %u: longer than its count %u",
		    cpu, q->timeouts.count);
		INV(x->prev == prev && x->queued, "timer queue of cpu %u: broken links at %p", cpu,
		    (const void *)t);
		INV(!prev || prev->when <= x->when, "timer queue of cpu %u: not sorted at %p", cpu,
		    (const void *)t);
		INV(t->magic == THREAD_MAGIC, "timer queue of cpu %u: %p is not a live thread", cpu,
		    (const void *)t);
		INV(t->state == TS_BLOCKED_NTFN && t->queue,
		    "timer queue of cpu %u: thread %p does not wait on a notification (state %u)",
		    cpu, (const void *)t, t->state);
		INV(t->timeout_cpu == cpu, "timer queue of cpu %u: thread %p says cpu %u", cpu,
		    (const void *)t, t->timeout_cpu);
	}
	INV(q->timeouts.tail == prev && n == q->timeouts.count,
	    "timer queue of cpu %u: tail or count (%u, %u walked) wrong", cpu, q->timeouts.count,
	    n);
	INV(q->timed == (q->win_on || q->timeouts.head),
	    "cpu %u: timed %u, but windows %u and %u timed waits", cpu, q->timed, q->win_on, n);
}

void inv_check_runqueues(void)
{
	for (uint32_t cpu = 0; cpu < ncpus_online; cpu++) {
		const struct runq *q = &rqs[cpu];
		uint32_t total = 0;
		for (uint32_t p = 0; p < 256; p++) {
			bool bit = (q->bitmap[p / 64] >> (p % 64)) & 1;
			INV(!q->head[p] == !q->tail[p],
			    "run queue of cpu %u, priority %u: head %p, tail %p", cpu, p,
			    (const void *)q->head[p], (const void *)q->tail[p]);
			INV(bit == (q->head[p] != NULL),
			    "run queue of cpu %u: bitmap bit %u is %u but the list is %s", cpu, p,
			    bit, q->head[p] ? "not empty" : "empty");
			if (q->head[p])
				total += check_prio_list(q, cpu, p);
		}
		INV(total == q->count, "run queue of cpu %u: count %u but %u threads queued", cpu,
		    q->count, total);
		INV(q->top1 == rq_scan_top(q) + 1,
		    "run queue of cpu %u: top1 %u, highest queued priority %d", cpu, q->top1,
		    rq_scan_top(q));
		const struct thread *cur = cpus[cpu].current;
		INV(!cur || cur->magic != THREAD_MAGIC || !cur->queue || cur->queue != q,
		    "cpu %u: its current thread %p is in its run queue", cpu, (const void *)cur);
		check_throttled(q, cpu);
		check_timeouts(q, cpu);
	}
}

/* One slot's place in the derivation tree: links agree both ways, children point back, ancestors
 * end. */
static void check_slot(const struct slot *s)
{
	if (s->cap.type == HL_OBJ_NONE) {
		INV(!s->parent && !s->first_child && !s->next && !s->prev,
		    "empty slot %p keeps tree links", (const void *)s);
		return;
	}
	INV(s->cap.type < HL_OBJ_COUNT, "slot %p holds type %u", (const void *)s, s->cap.type);
	if (s->prev)
		INV(s->prev->next == s && s->prev->parent == s->parent,
		    "slot %p: its previous sibling %p does not link back or has another parent",
		    (const void *)s, (const void *)s->prev);
	else if (s->parent)
		INV(s->parent->first_child == s,
		    "slot %p: first in its sibling list, but its parent %p starts with %p",
		    (const void *)s, (const void *)s->parent, (const void *)s->parent->first_child);
	if (s->next)
		INV(s->next->prev == s, "slot %p: its next sibling %p does not link back",
		    (const void *)s, (const void *)s->next);
	const struct slot *prev = NULL;
	uint32_t n = 0;
	for (const struct slot *c = s->first_child; c; prev = c, c = c->next) {
		INV(++n <= MAX_WALK, "slot %p: endless child list (a cycle)", (const void *)s);
		INV(c->parent == s, "slot %p: child %p names %p as its parent", (const void *)s,
		    (const void *)c, (const void *)c->parent);
		INV(c->prev == prev, "slot %p: child %p's back link is broken", (const void *)s,
		    (const void *)c);
		INV(c->cap.type != HL_OBJ_NONE, "slot %p: child %p is empty", (const void *)s,
		    (const void *)c);
	}
	n = 0;
	for (const struct slot *a = s->parent; a; a = a->parent) {
		INV(++n <= MAX_WALK, "slot %p: endless chain of parents (a cycle)",
		    (const void *)s);
		INV(a->cap.type != HL_OBJ_NONE, "slot %p: ancestor %p is empty", (const void *)s,
		    (const void *)a);
	}
}

void inv_check_cspace(const struct cspace *cs)
{
	if (!cs || cs->pad)
		return; /* none, or being destroyed */
	for (uint64_t i = 0; i < (1ull << cs->bits); i++)
		check_slot(&cs->slots[i]);
}

/*
 * The page tables of a user address space: every present non-leaf entry of
 * the user half points to a page-table object hooked at exactly that place
 * (the kernel's per-page record says as hooked it at that level:
 * aspace_table_owned), at RAM the boot map knows, and no page-table page is
 * reached at two places (the record names the address space and level, not
 * the index, so two entries of one level naming one table need the second
 * check). An alias would let ring 3 write page-table entries through a
 * frame, or make the kernel's walk follow entries it never wrote.
 */
struct table_walk {
	paddr_t seen[MAX_TABLES];
	uint32_t nseen;
};

/*
 * e is the entry at index idx of the table at physical address where (the
 * place is printed too: an entry no kernel path writes points at whoever
 * wrote it, by its offset in that page).
 */
static void check_table_entry(const struct aspace *as, struct table_walk *w, uint64_t e, int level,
                              paddr_t where, uint32_t idx)
{
	paddr_t pa = e & PTE_ADDR;

	INV(pmm_range_known(pa, PAGE_SIZE),
	    "address space %p: a level-%d entry %#lx points outside RAM", (const void *)as, level,
	    e);
	INV(aspace_table_owned(as, pa, level),
	    "address space %p: entry %#lx (index %u of the table at %#lx) points to a page the "
	    "address space did not hook as a level-%d table",
	    (const void *)as, e, idx, where, level);
	for (uint32_t i = 0; i < w->nseen; i++)
		INV(w->seen[i] != pa,
		    "address space %p: page-table page %#lx is hooked at two places",
		    (const void *)as, pa);
	INV(pa != as->root, "address space %p: its top-level table is hooked below itself",
	    (const void *)as);
	if (w->nseen < MAX_TABLES)
		w->seen[w->nseen++] = pa;
}

void inv_check_aspace(const struct aspace *as)
{
	static struct table_walk w; /* [BKL] 4 KiB: too big for the kernel stack */

	if (!as || as->magic != ASPACE_MAGIC)
		return;
	INV(!as->snap || as->snap->magic == SNAP_MAGIC,
	    "address space %p names a snapshot that is gone (%p)", (const void *)as,
	    (const void *)as->snap);
	w.nseen = 0;
	for (uint32_t i4 = 0; i4 < 256; i4++) { /* the user half */
		uint64_t e4 = as->pml4[i4];
		if (!(e4 & PTE_P))
			continue;
		INV(!(e4 & PTE_PS), "address space %p: a large-page bit in top-level entry %u",
		    (const void *)as, i4);
		check_table_entry(as, &w, e4, 3, as->root, i4);
		const uint64_t *pdpt = phys_to_virt(e4 & PTE_ADDR);
		for (uint32_t i3 = 0; i3 < 512; i3++) {
			uint64_t e3 = pdpt[i3];
			if (!(e3 & PTE_P) || (e3 & PTE_PS))
				continue;
			check_table_entry(as, &w, e3, 2, e4 & PTE_ADDR, i3);
			const uint64_t *pd = phys_to_virt(e3 & PTE_ADDR);
			for (uint32_t i2 = 0; i2 < 512; i2++)
				if ((pd[i2] & PTE_P) && !(pd[i2] & PTE_PS))
					check_table_entry(as, &w, pd[i2], 1, e3 & PTE_ADDR, i2);
		}
	}
}

void inv_check_syscall(struct thread *t, const struct slot *target)
{
	inv_check_runqueues();
	if (t->magic == THREAD_MAGIC) { /* not a destroyed thread's stand-in (kernel/thread.c) */
		inv_check_cspace(thread_cspace(t));
		const struct slot *held[] = {&t->cspace_slot, &t->aspace_slot, &t->ipc_slot,
		                             &t->fault_slot, &t->ntfn_slot};
		for (unsigned i = 0; i < sizeof(held) / sizeof(held[0]); i++)
			check_slot(held[i]);
		INV(!t->linux_answer_on || t->linux_abi,
		    "thread %p: a Linux answer (thread.set_linux_answer) on a thread that is not a "
		    "Linux one",
		    (void *)t);
		/*
		 * Page tables change only through address-space methods and the
		 * deletions that cspace and memory methods make (revoke, delete):
		 * the walks, the costly part, run for those calls only.
		 */
		uint8_t type = target ? target->cap.type : HL_OBJ_NONE;
		bool tables =
		    type == HL_OBJ_ASPACE || type == HL_OBJ_CSPACE || type == HL_OBJ_MEMORY;
		if (tables && t->aspace_slot.cap.type == HL_OBJ_ASPACE)
			inv_check_aspace((const struct aspace *)t->aspace_slot.cap.obj);
		if (type == HL_OBJ_ASPACE)
			inv_check_aspace((const struct aspace *)target->cap.obj);
		if (type == HL_OBJ_THREAD) { /* suspend and reset leave no call behind */
			const struct thread *tt = (const struct thread *)target->cap.obj;
			INV(tt->state != TS_INACTIVE ||
			        (!tt->replier && tt->in_fault == IN_FAULT_NONE),
			    "thread %p: stopped, yet waits for a reply (in_fault %u)",
			    (const void *)tt, tt->in_fault);
		}
		if (type == HL_OBJ_SNAPSHOT) {
			const char *why = snapshot_check((const struct snapshot *)target->cap.obj);
			INV(!why, "snapshot %p: %s", (const void *)target->cap.obj, why ? why : "");
		}
	}
}

/* syscall_entry's target with "checkinv": the checks, then the system call as usual. */
static void inv_syscall_dispatch(struct thread *t)
{
	bkl_lock();
	if (this_cpu()->current != t) /* destroyed while this CPU waited: see syscall_dispatch */
		sched_exit_to_user();
	inv_check_syscall(t, cspace_slot(thread_cspace(t), t->regs.rdi));
	bkl_unlock();
	syscall_dispatch(t);
}

void inv_init(bool enable)
{
	if (enable)
		syscall_dispatch_fn = inv_syscall_dispatch;
}
