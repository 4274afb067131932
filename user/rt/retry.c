/* Retry: a request under a snapshot, rolled back if it faults (hallows/retry.h). */
#include <hallows/retry.h>
#include <hallows/syscall.h>

#define RT_GUARD_DONE    0x6e0d /* the worker's call on its endpoint when fn returned */
#define MAIN_STACK_PAGES 8      /* user/init/partition.c: the main thread's stack below the top */

static void worker_entry(struct rt_guard *g)
{
	g->fn(g->arg);
	for (;;) { /* the guard never replies: it suspends the worker */
		hl_word_t info = HL_MSGINFO(RT_GUARD_DONE, 0, 0);
		struct hl_msg m = {{0}};
		hl_syscall(HL_SYS_CALL, g->ep, &info, &m, NULL);
	}
}

/* The calling thread's stack: the main thread's, or a runtime thread's (rt_thread_start: 4 pages
 * below its boot block, a guard page on either side). */
static void stack_of_caller(uint64_t *lo, uint64_t *hi)
{
	uint64_t sp = (uint64_t)__builtin_frame_address(0);

	if (sp < HL_ROOT_STACK_TOP && sp >= HL_ROOT_STACK_TOP - MAIN_STACK_PAGES * 4096ull) {
		*lo = HL_ROOT_STACK_TOP - MAIN_STACK_PAGES * 4096ull, *hi = HL_ROOT_STACK_TOP;
		return;
	}
	*lo = (sp & ~4095ull) - 4 * 4096ull;
	*hi = (sp & ~4095ull) + 4 * 4096ull;
}

static long guard_setup(struct rt_guard *g, bool own_snapshot)
{
	uint64_t lo, hi;
	long err;

	g->ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	g->tcb = rt_alloc(HL_OBJ_THREAD, 0);
	g->stack = rt_map_pages(RT_GUARD_STACK_PAGES);
	if (!g->snap || !g->ep || !g->tcb || !g->stack)
		return HL_ERR_NO_MEMORY;
	/* The worker's IPC buffer (its page is saved at take: the kernel writes it directly). */
	hl_cptr_t ipc = rt_alloc(HL_OBJ_FRAME, 12);
	uint64_t ipc_va = rt_self.heap_next;
	if (!ipc || rt_map_frame(HL_SLOT_ASPACE, ipc, ipc_va, HL_R_READ | HL_R_WRITE) != HL_OK)
		return HL_ERR_NO_MEMORY;
	rt_self.heap_next += 2 * 4096;
	stack_of_caller(&lo, &hi);
	if ((err = hl_thread_configure(g->tcb, HL_SLOT_CSPACE, HL_SLOT_ASPACE, ipc, ipc_va)) ||
	    (err = hl_thread_set_fault_ep(g->tcb, g->ep)) ||
	    (own_snapshot && (err = hl_snapshot_add(g->snap, HL_SLOT_ASPACE))) ||
	    (err = hl_snapshot_add(g->snap, g->tcb)) ||
	    (err = hl_snapshot_exclude(g->snap, lo, hi - lo)) ||
	    (err = hl_snapshot_exclude(g->snap, (uint64_t)hl_ipcbuf() & ~4095ull, 4096)))
		return err;
	return HL_OK;
}

long rt_guard_init(struct rt_guard *g, uint32_t snap_bits)
{
	g->snap = rt_alloc(HL_OBJ_SNAPSHOT, snap_bits);
	return guard_setup(g, true);
}

long rt_guard_init_manifest(struct rt_guard *g)
{
	hl_word_t state = 0;

	if (hl_snapshot_info(HL_PARTITION_SLOT_SNAPSHOT, &state, NULL, NULL, NULL))
		return HL_ERR_INVALID_CAP;
	g->snap = HL_PARTITION_SLOT_SNAPSHOT;
	return guard_setup(g, false);
}

long rt_guard_run(struct rt_guard *g, void (*fn)(void *), void *arg)
{
	hl_word_t info = 0, badge = 0;
	struct hl_msg m = {{0}};
	long err;

	g->fn = fn, g->arg = arg;
	uint64_t sp = ((uint64_t)g->stack + RT_GUARD_STACK_PAGES * 4096ull - 16) & ~15ull;
	if ((err =
	         hl_thread_write_regs(g->tcb, (hl_word_t)worker_entry, sp - 8, (hl_word_t)g, 0)) ||
	    (err = hl_snapshot_take(g->snap)))
		return -err;
	if ((err = hl_thread_resume(g->tcb))) {
		hl_snapshot_discard(g->snap);
		return -err;
	}
	err = hl_syscall(HL_SYS_RECV, g->ep, &info, &m, &badge);
	hl_thread_suspend(g->tcb);
	if (!err && HL_MSG_LABEL(info) == RT_GUARD_DONE) {
		hl_snapshot_discard(g->snap);
		return RT_GUARD_OK;
	}
	for (int i = 0; i < 4; i++)
		g->fault[i] = m.w[i];
	if (err || HL_MSG_LABEL(info) != HL_LABEL_FAULT) {
		hl_snapshot_discard(g->snap);
		return -(err ? err : HL_ERR_ILLEGAL_OP);
	}
	err = hl_snapshot_restore(g->snap);
	hl_snapshot_discard(g->snap);
	return err ? -err : RT_GUARD_FAULTED;
}
