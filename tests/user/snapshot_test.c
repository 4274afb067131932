/*
 * Snapshots (kernel/snapshot.c, docs/snapshots.md): take, write, restore and
 * compare byte for byte; threads' registers and FPU state; threads blocked
 * in IPC; capabilities deleted since; other CPUs; bad input.
 *
 * The root task (this runner) cannot be snapshotted, so each case builds a
 * child address space running a small position-independent blob (below)
 * that writes a pattern into its pages. The runner maps the same frames in
 * its own address space and checks them there: a snapshot keeps the live
 * frames in place and saves the old contents aside.
 */
#include "utest.h"
#include <lib/string.h>

/*
 * The child's program; rdi = its parameter page (struct params):
 *   mode 1 first receives on the endpoint ep (result and word 0 stored),
 *   mode 2 first calls it (result and the reply's word 0 stored),
 *   then every run writes count words at base, stride bytes apart, with
 *   value, value + 1, ...; adds value to xmm0 and rbx (stored), counts
 *   done, and spins counting spins.
 */
__asm__(".pushsection .text\n"
        ".globl snap_blob\n"
        "snap_blob:\n"
        "	mov %rdi, %r12\n"
        "	mov $4, %eax\n" /* mode 1: HL_SYS_RECV */
        "	cmpq $1, 56(%r12)\n"
        "	je 5f\n"
        "	mov $1, %eax\n" /* mode 2: HL_SYS_CALL */
        "	cmpq $2, 56(%r12)\n"
        "	jne 1f\n"
        "5:	mov 64(%r12), %rdi\n"
        "	xor %esi, %esi\n"
        "	syscall\n"
        "	mov %rax, 72(%r12)\n"
        "	mov %rdx, 80(%r12)\n"
        "1:	mov (%r12), %rax\n"
        "	mov 8(%r12), %rcx\n"
        "	mov 16(%r12), %r8\n"
        "	mov 24(%r12), %rdx\n"
        "2:	test %rcx, %rcx\n"
        "	jz 3f\n"
        "	mov %rdx, (%rax)\n"
        "	add %r8, %rax\n"
        "	inc %rdx\n"
        "	dec %rcx\n"
        "	jmp 2b\n"
        "3:	movq %xmm0, %rax\n"
        "	add 24(%r12), %rax\n"
        "	movq %rax, %xmm0\n"
        "	mov %rax, 40(%r12)\n"
        "	add 24(%r12), %rbx\n"
        "	mov %rbx, 48(%r12)\n"
        "	lock incq 32(%r12)\n"
        "4:	incq 88(%r12)\n"
        "	pause\n"
        "	jmp 4b\n"
        ".globl snap_blob_end\n"
        "snap_blob_end:\n"
        ".popsection\n");
extern const uint8_t snap_blob[], snap_blob_end[];

struct params {
	uint64_t base, count, stride, value, done, xmm, rbx, mode, ep, recv_err, recv_word, spins;
};

#define CODE_VA   0x400000ull
#define PARAMS_VA 0x401000ull
#define DATA_VA   0x1000000ull  /* the 4 KiB pages */
#define HUGE_VA   0x40000000ull /* the 2 MiB page */
#define ROOT_HUGE 0x580000000000ull
#define NPAGES    128

enum { ST_INACTIVE = 0, ST_RUNNABLE = 1, ST_SEND = 2, ST_RECV = 3, ST_REPLY = 4, ST_FAULTED = 6 };

struct child {
	hl_cptr_t as, tcb, snap;
	volatile struct params *p;       /* the runner's view of the parameter page */
	volatile uint64_t *page[NPAGES]; /* 512 words each */
	hl_cptr_t frame[NPAGES];
	volatile uint64_t *huge; /* the runner's view of the 2 MiB page, or NULL */
};

static hl_cptr_t copy_of(hl_cptr_t cap, uint32_t rights)
{
	hl_cptr_t s = ut_slot();

	return hl_cspace_copy(HL_SLOT_CSPACE, s, cap, rights) == HL_OK ? s : 0;
}

/* Page tables for va in as at levels top..1 (those already there are skipped). */
static void tables_for(struct utest_ctx *t, hl_cptr_t as, uint64_t va, int top, int bottom)
{
	for (int level = top; level >= bottom; level--) {
		hl_cptr_t pt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
		if (hl_aspace_map_table(as, pt, va, (hl_word_t)level) != HL_OK)
			hl_cspace_delete(HL_SLOT_CSPACE, pt);
	}
}

/* The contents of word i (8 bytes: the checks below cover every byte, eight at a time). */
static uint64_t pattern(uint64_t i, uint64_t seed)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull ^ seed;
	return x ^ x >> 29;
}

/* The child: its address space, code, parameters, npages 4 KiB pages (and a 2 MiB page with huge)
 * filled with pattern(seed), a thread configured but not started, a snapshot of snap_bits. */
static bool child_make(struct utest_ctx *t, struct child *c, unsigned npages, bool huge,
                       uint32_t snap_bits, uint64_t seed)
{
	hl_cptr_t codef, pf;
	uint8_t *code;

	memset(c, 0, sizeof(*c));
	c->as = ut_alloc(t, HL_OBJ_ASPACE, 0);
	code = ut_page(t, &codef);
	c->p = ut_page(t, &pf);
	c->tcb = ut_alloc(t, HL_OBJ_THREAD, 0);
	if (!UCHECK(t, c->as && code && c->p && c->tcb))
		return false;
	memcpy(code, snap_blob, (size_t)(snap_blob_end - snap_blob));
	tables_for(t, c->as, CODE_VA, 3, 1);
	tables_for(t, c->as, DATA_VA, 2, 1);
	bool ok = hl_aspace_map(c->as, copy_of(codef, HL_R_READ | HL_R_EXEC), CODE_VA,
	                        HL_R_READ | HL_R_EXEC) == HL_OK &&
	          hl_aspace_map(c->as, copy_of(pf, HL_R_READ | HL_R_WRITE), PARAMS_VA,
	                        HL_R_READ | HL_R_WRITE) == HL_OK;
	for (unsigned i = 0; ok && i < npages; i++) {
		c->page[i] = ut_page(t, &c->frame[i]);
		ok = c->page[i] &&
		     hl_aspace_map(c->as, copy_of(c->frame[i], HL_R_READ | HL_R_WRITE),
		                   DATA_VA + i * 4096ull, HL_R_READ | HL_R_WRITE) == HL_OK;
		for (unsigned w = 0; ok && w < 512; w++)
			c->page[i][w] = pattern(i * 512ull + w, seed);
	}
	if (ok && huge) {
		hl_cptr_t big = ut_alloc(t, HL_OBJ_FRAME, 21);
		tables_for(t, HL_SLOT_ASPACE, ROOT_HUGE, 3, 2);
		tables_for(t, c->as, HUGE_VA, 2, 2);
		ok = big &&
		     hl_aspace_map(HL_SLOT_ASPACE, big, ROOT_HUGE, HL_R_READ | HL_R_WRITE) ==
		         HL_OK &&
		     hl_aspace_map(c->as, copy_of(big, HL_R_READ | HL_R_WRITE), HUGE_VA,
		                   HL_R_READ | HL_R_WRITE) == HL_OK;
		c->huge = (volatile uint64_t *)ROOT_HUGE;
		for (uint64_t w = 0; ok && w < (2u << 20) / 8; w++)
			c->huge[w] = pattern(w, seed ^ 0x55);
	}
	ok = ok && hl_thread_configure(c->tcb, HL_SLOT_CSPACE, c->as, 0, 0) == HL_OK &&
	     hl_thread_set_priority(c->tcb, 100) == HL_OK;
	if (ok && snap_bits) {
		c->snap = ut_alloc(t, HL_OBJ_SNAPSHOT, snap_bits);
		ok = c->snap && hl_snapshot_add(c->snap, c->as) == HL_OK &&
		     hl_snapshot_add(c->snap, c->tcb) == HL_OK;
	}
	return UCHECK(t, ok, "child setup");
}

/* Wait (yielding, at most 20 s) until cond holds. */
#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		uint64_t wf_end = ut_rdtsc() + ut_ms_to_tsc(20000);                                \
		while (!(cond) && ut_rdtsc() < wf_end)                                             \
			hl_yield();                                                                \
		(cond);                                                                            \
	})

/* (Re)start the child's program: write count words from base, stride apart, starting at value. */
static bool child_run(struct utest_ctx *t, struct child *c, uint64_t base, uint64_t count,
                      uint64_t stride, uint64_t value)
{
	uint64_t done = c->p->done;

	hl_thread_suspend(c->tcb);
	c->p->base = base, c->p->count = count, c->p->stride = stride, c->p->value = value;
	UEXPECT_ERR(t, hl_thread_write_regs(c->tcb, CODE_VA, PARAMS_VA + 4096, PARAMS_VA, 0),
	            HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(c->tcb), HL_OK);
	if (c->p->mode == 1 || c->p->mode == 2)
		return true; /* it waits for a message (or a reply) first */
	return UCHECK(t, WAIT_FOR(c->p->done == done + 1), "the child did not finish its run");
}

/* Every byte of the first n pages (and the 2 MiB page) holds the pattern of seed. */
static bool pages_hold(struct child *c, unsigned n, uint64_t seed, unsigned *bad_page)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned w = 0; w < 512; w++)
			if (c->page[i][w] != pattern(i * 512ull + w, seed)) {
				*bad_page = i;
				return false;
			}
	for (uint64_t w = 0; c->huge && w < (2u << 20) / 8; w++)
		if (c->huge[w] != pattern(w, seed ^ 0x55)) {
			*bad_page = 100000 + (unsigned)(w >> 9);
			return false;
		}
	return true;
}

/* ---- memory ---- */

UTEST(snapshot_big, write_everything_then_restore_byte_for_byte)
{
	struct child c;
	unsigned bad = 0;
	hl_word_t state, used, free0, copies;

	if (!child_make(t, &c, NPAGES, true, 22, 1))
		return;
	/* A first run, before the snapshot, touches nothing of the data. */
	if (!child_run(t, &c, DATA_VA, 0, 8, 1))
		return;
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_info(c.snap, &state, &used, &free0, &copies), HL_OK);
	UEXPECT(t, state == HL_SNAP_TAKEN && used == 0 && copies == 0, "state %lu used %lu", state,
	        used);
	UEXPECT(t, ut_state_of(c.tcb) == ST_RUNNABLE, "a running thread runs on after take");
	/* Every word of every 4 KiB page, then of the 2 MiB page. */
	if (!child_run(t, &c, DATA_VA, NPAGES * 512, 8, 7) ||
	    !child_run(t, &c, HUGE_VA, (2u << 20) / 8, 8, 9))
		return;
	UEXPECT(t, c.page[NPAGES - 1][511] != pattern((NPAGES - 1) * 512ull + 511, 1),
	        "the child wrote nothing");
	UEXPECT_ERR(t, hl_snapshot_info(c.snap, &state, &used, NULL, &copies), HL_OK);
	/* The pages, the parameter page and the 2 MiB page (512 pages of the pool). */
	UEXPECT(t, copies == NPAGES + 2 && used == NPAGES + 1 + 512, "copies %lu used %lu", copies,
	        used);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, pages_hold(&c, NPAGES, 1, &bad), "page %u differs after restore", bad);
	UEXPECT(t, c.p->done == 1, "the parameter page is back too (done %lu)", c.p->done);
	/* Restored again after more writes: the same records bring the same contents back. */
	if (!child_run(t, &c, DATA_VA + 4096, 3, 4096 * 5, 3))
		return;
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, pages_hold(&c, NPAGES, 1, &bad), "page %u differs after the second restore",
	        bad);
	UEXPECT_ERR(t, hl_snapshot_discard(c.snap), HL_OK);
	hl_thread_suspend(c.tcb);
}

UTEST(snapshot, cost_follows_pages_written)
{
	struct child c;
	unsigned bad = 0;
	hl_word_t used, copies;

	if (!child_make(t, &c, NPAGES, false, 22, 2) || !child_run(t, &c, DATA_VA, 0, 8, 1))
		return;
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	/* One word in every 8th page: 16 pages copied, plus the parameter page. */
	if (!child_run(t, &c, DATA_VA + 96, NPAGES / 8, 8 * 4096, 5))
		return;
	UEXPECT_ERR(t, hl_snapshot_info(c.snap, NULL, &used, NULL, &copies), HL_OK);
	UEXPECT(t, copies == NPAGES / 8 + 1 && used == copies, "copies %lu used %lu", copies, used);
	UEXPECT(t, c.page[8][12] != pattern(8 * 512 + 12, 2) &&
	               c.page[9][12] == pattern(9 * 512 + 12, 2));
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, pages_hold(&c, NPAGES, 2, &bad), "page %u differs", bad);
	/* Discard keeps what was written since; a new take starts from there. */
	if (!child_run(t, &c, DATA_VA, 4, 4096, 11))
		return;
	UEXPECT_ERR(t, hl_snapshot_discard(c.snap), HL_OK);
	UEXPECT(t, *c.page[3] == 14, "written after restore, kept by discard");
	UEXPECT_ERR(t, hl_snapshot_info(c.snap, NULL, &used, NULL, &copies), HL_OK);
	UEXPECT(t, used == 0, "discard frees the pool (%lu used)", used);
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	if (!child_run(t, &c, DATA_VA, 4, 4096, 40))
		return;
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, *c.page[3] == 14, "the second snapshot's contents");
	hl_thread_suspend(c.tcb);
}

UTEST(snapshot, excluded_range_is_not_restored)
{
	struct child c;
	unsigned bad = 0;

	if (!child_make(t, &c, 8, false, 18, 3))
		return;
	UEXPECT_ERR(t, hl_snapshot_exclude(c.snap, DATA_VA + 4 * 4096, 4 * 4096), HL_OK);
	if (!child_run(t, &c, DATA_VA, 0, 8, 1))
		return;
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	if (!child_run(t, &c, DATA_VA, 8, 4096, 20))
		return;
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, pages_hold(&c, 4, 3, &bad), "page %u differs", bad);
	for (unsigned i = 4; i < 8; i++)
		UEXPECT(t, *c.page[i] == 20 + i, "excluded page %u kept its write", i);
	hl_thread_suspend(c.tcb);
}

/* ---- threads ---- */

UTEST(snapshot_threads, registers_and_fpu_state_come_back)
{
	struct child c;

	if (!child_make(t, &c, 1, false, 18, 4) || !child_run(t, &c, DATA_VA, 0, 8, 5))
		return;
	hl_thread_suspend(c.tcb);
	UEXPECT(t, c.p->xmm == 5 && c.p->rbx == 5);
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	UEXPECT(t, ut_state_of(c.tcb) == ST_INACTIVE, "a suspended thread stays suspended");
	if (!child_run(t, &c, DATA_VA, 0, 8, 7))
		return;
	UEXPECT(t, c.p->xmm == 12 && c.p->rbx == 12);
	UEXPECT_ERR(t, hl_thread_set_priority(c.tcb, 60), HL_OK); /* not part of the snapshot */
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, ut_state_of(c.tcb) == ST_INACTIVE, "back to suspended, as taken");
	UEXPECT(t, c.p->xmm == 5 && c.p->rbx == 5 && c.p->done == 1, "xmm %lu rbx %lu", c.p->xmm,
	        c.p->rbx);
	/* The next run starts from the restored xmm0 and rbx (5 + 100), not from 12. */
	UEXPECT_ERR(t, hl_thread_set_priority(c.tcb, 100), HL_OK);
	if (!child_run(t, &c, DATA_VA, 0, 8, 100))
		return;
	UEXPECT(t, c.p->xmm == 105 && c.p->rbx == 105, "xmm %lu rbx %lu", c.p->xmm, c.p->rbx);
	hl_thread_suspend(c.tcb);
}

UTEST(snapshot_threads, blocked_in_ipc_receives_again)
{
	struct child c;
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	struct hl_msg m = {{0}};

	if (!UCHECK(t, ep) || !child_make(t, &c, 1, false, 18, 5))
		return;
	c.p->mode = 1, c.p->ep = ep;
	child_run(t, &c, DATA_VA, 1, 8, 1);
	UEXPECT(t, WAIT_FOR(ut_state_of(c.tcb) == ST_RECV), "state %lu", ut_state_of(c.tcb));
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	UEXPECT(t, WAIT_FOR(ut_state_of(c.tcb) == ST_RECV), "blocked again after take");
	m.w[0] = 11;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, ep, &(hl_word_t){HL_MSGINFO(0, 1, 0)}, &m, NULL),
	            HL_OK);
	UEXPECT(t, WAIT_FOR(c.p->done == 1) && c.p->recv_word == 11, "word %lu", c.p->recv_word);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, c.p->done == 0 && c.p->recv_word == 0);
	/* Restored to make its receive again: it takes the next message. */
	UEXPECT(t, WAIT_FOR(ut_state_of(c.tcb) == ST_RECV), "state %lu", ut_state_of(c.tcb));
	m.w[0] = 22;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_SEND, ep, &(hl_word_t){HL_MSGINFO(0, 1, 0)}, &m, NULL),
	            HL_OK);
	UEXPECT(t, WAIT_FOR(c.p->done == 1) && c.p->recv_word == 22, "word %lu", c.p->recv_word);
	/* A capability deleted since the snapshot is not brought back: the receive fails. */
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, ep), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, WAIT_FOR(c.p->done == 1), "it ran on");
	UEXPECT(t, c.p->recv_err == HL_ERR_INVALID_CAP, "receive returned %lu", c.p->recv_err);
	hl_thread_suspend(c.tcb);
}

/*
 * Bug (issue 18, crash recovery): a caller waiting for its reply has rax = HL_OK (0) since its call
 * was received; saved "before the system call" with that rax, the restored thread made system
 * call 0 (null) instead of its call and ran on as if it had been answered.
 */
UTEST(snapshot_threads, blocked_in_reply_wait_calls_again)
{
	struct child c;
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	if (!UCHECK(t, ep) || !child_make(t, &c, 1, false, 18, 7))
		return;
	c.p->mode = 2, c.p->ep = ep;
	child_run(t, &c, DATA_VA, 1, 8, 1);
	UEXPECT(t, WAIT_FOR(ut_state_of(c.tcb) == ST_SEND), "state %lu", ut_state_of(c.tcb));
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	UEXPECT(t, ut_state_of(c.tcb) == ST_REPLY, "waits for the reply: %lu", ut_state_of(c.tcb));
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	m.w[0] = 11;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_REPLY, 0, &(hl_word_t){HL_MSGINFO(0, 1, 0)}, &m, NULL),
	            HL_OK);
	UEXPECT(t, WAIT_FOR(c.p->done == 1) && c.p->recv_word == 11, "word %lu", c.p->recv_word);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	/* Restored to make its call again: it waits for a receiver, and takes the second answer. */
	UEXPECT(t, WAIT_FOR(ut_state_of(c.tcb) == ST_SEND), "calls again: state %lu, done %lu",
	        ut_state_of(c.tcb), c.p->done);
	if (ut_state_of(c.tcb) != ST_SEND) {
		hl_thread_suspend(c.tcb);
		return;
	}
	UEXPECT(t, c.p->done == 0 && c.p->recv_word == 0);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, NULL), HL_OK);
	m.w[0] = 22;
	UEXPECT_ERR(t, hl_syscall(HL_SYS_REPLY, 0, &(hl_word_t){HL_MSGINFO(0, 1, 0)}, &m, NULL),
	            HL_OK);
	UEXPECT(t, WAIT_FOR(c.p->done == 1) && c.p->recv_word == 22 && c.p->recv_err == HL_OK,
	        "word %lu, result %lu", c.p->recv_word, c.p->recv_err);
	hl_thread_suspend(c.tcb);
}

/* thread.read_gprs (used by the replay runtime to record a crash): the saved registers of a stopped
 * thread, four at a time. */
UTEST(snapshot_threads, read_gprs_of_a_stopped_thread)
{
	struct child c;
	hl_word_t w[4] = {0}, regs[5][4] = {{0}};

	if (!child_make(t, &c, 1, false, 18, 9) || !child_run(t, &c, DATA_VA, 1, 8, 5))
		return;
	UEXPECT_ERR(t, hl_thread_suspend(c.tcb), HL_OK);
	for (hl_word_t g = 0; g < 5; g++)
		UEXPECT_ERR(t,
		            hl_thread_read_gprs(c.tcb, g, &regs[g][0], &regs[g][1], &regs[g][2],
		                                &regs[g][3]),
		            HL_OK);
	UEXPECT(t, regs[0][1] == c.p->rbx, "rbx %lu, the child stored %lu", regs[0][1], c.p->rbx);
	UEXPECT(t, regs[3][0] == PARAMS_VA, "r12 %#lx", regs[3][0]);
	UEXPECT(t, regs[1][3] == PARAMS_VA + 4096, "rsp %#lx", regs[1][3]);
	UEXPECT(t, regs[4][0] > CODE_VA && regs[4][0] < CODE_VA + 4096, "rip %#lx", regs[4][0]);
	UEXPECT(t, regs[4][3] == ST_INACTIVE, "state %lu", regs[4][3]);
	UEXPECT_ERR(t, hl_thread_read_gprs(c.tcb, 5, &w[0], &w[1], &w[2], &w[3]),
	            HL_ERR_INVALID_ARG);
}

UTEST(snapshot_threads, thread_on_another_cpu)
{
	struct child c;
	unsigned bad = 0;

	if (!child_make(t, &c, 16, false, 19, 6))
		return;
	hl_word_t cpu = rt_self.bi->ncpus > 1 ? 1 : 0;
	UEXPECT_ERR(t, hl_thread_set_affinity(c.tcb, cpu), HL_OK);
	if (!child_run(t, &c, DATA_VA, 0, 8, 1))
		return;
	uint64_t s0 = c.p->spins;
	UEXPECT(t, WAIT_FOR(c.p->spins > s0 + 100), "it spins");
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK); /* while it runs there */
	s0 = c.p->spins;
	UEXPECT(t, WAIT_FOR(c.p->spins > s0 + 100), "it runs on after take");
	if (!child_run(t, &c, DATA_VA, 16 * 512, 8, 3))
		return;
	s0 = c.p->spins;
	UEXPECT(t, WAIT_FOR(c.p->spins > s0 + 100), "it spins");
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK); /* while it runs there */
	UEXPECT(t, pages_hold(&c, 16, 6, &bad), "page %u differs", bad);
	UEXPECT(t, c.p->done == 1, "done %lu", c.p->done);
	UEXPECT(t, ut_state_of(c.tcb) == ST_RUNNABLE, "runnable, as taken: %lu",
	        ut_state_of(c.tcb));
	s0 = c.p->spins;
	UEXPECT(t, WAIT_FOR(c.p->spins > s0 + 100), "it runs on after restore");
	hl_thread_suspend(c.tcb);
}

/*
 * Bug (found in review): two threads writing one page after take. Both fault; the first lifts the
 * protection, and the second, finding nothing left to lift (or using a stale read-only TLB entry
 * of its CPU), was handed its write as a real fault: the thread stopped. At -smp 4 the two run on
 * CPUs 1 and 2, each spinning on its own counter in the same page, through 60 takes.
 */
UTEST(snapshot_threads, two_threads_writing_one_page_after_take_never_fault)
{
	struct child c;
	hl_cptr_t tcb2 = ut_alloc(t, HL_OBJ_THREAD, 0);

	if (!UCHECK(t, tcb2) || !child_make(t, &c, 1, false, 19, 8))
		return;
	volatile struct params *p2 = (volatile struct params *)((volatile uint8_t *)c.p + 2048);
	uint32_t ncpus = rt_self.bi->ncpus;
	if (!UCHECK(t,
	            hl_thread_configure(tcb2, HL_SLOT_CSPACE, c.as, 0, 0) == HL_OK &&
	                hl_thread_set_priority(tcb2, 100) == HL_OK &&
	                hl_snapshot_add(c.snap, tcb2) == HL_OK,
	            "second thread"))
		return;
	UEXPECT_ERR(t, hl_thread_set_affinity(c.tcb, ncpus > 1 ? 1 : 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_set_affinity(tcb2, ncpus > 2 ? 2 : 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_write_regs(c.tcb, CODE_VA, PARAMS_VA + 4096, PARAMS_VA, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_write_regs(tcb2, CODE_VA, PARAMS_VA + 4096, PARAMS_VA + 2048, 0),
	            HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(c.tcb), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(tcb2), HL_OK);
	for (int round = 0; round < 60; round++) {
		UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
		uint64_t a = c.p->spins, b = p2->spins;
		if (!UCHECK(t,
		            WAIT_FOR((c.p->spins > a + 50 && p2->spins > b + 50) ||
		                     ut_state_of(c.tcb) == ST_FAULTED ||
		                     ut_state_of(tcb2) == ST_FAULTED),
		            "round %d: the threads did not run on", round) ||
		    !UCHECK(t, ut_state_of(c.tcb) != ST_FAULTED && ut_state_of(tcb2) != ST_FAULTED,
		            "round %d: a write after take was delivered as a fault", round))
			break;
		UEXPECT_ERR(t, hl_snapshot_discard(c.snap), HL_OK);
	}
	hl_thread_suspend(c.tcb);
	hl_thread_suspend(tcb2);
}

/* ---- bad input ---- */

UTEST(snapshot_errors, out_of_memory_mid_copy_on_write_faults_and_restores)
{
	struct child c;
	unsigned bad = 0;
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0);
	hl_word_t info = 0, badge, freep;
	struct hl_msg m = {{0}};

	/* 2^18 bytes: 64 pages, about 30 of them for copies. */
	if (!UCHECK(t, ep) || !child_make(t, &c, 64, false, 18, 7) ||
	    !child_run(t, &c, DATA_VA, 0, 8, 1))
		return;
	UEXPECT_ERR(t, hl_thread_set_fault_ep(c.tcb, ep), HL_OK);
	hl_thread_suspend(c.tcb); /* so that it writes nothing before the run below */
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_info(c.snap, NULL, NULL, &freep, NULL), HL_OK);
	c.p->base = DATA_VA, c.p->count = 64, c.p->stride = 4096, c.p->value = 50;
	UEXPECT_ERR(t, hl_thread_write_regs(c.tcb, CODE_VA, PARAMS_VA + 4096, PARAMS_VA, 0), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(c.tcb), HL_OK);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, ep, &info, &m, &badge), HL_OK);
	UEXPECT(t,
	        HL_MSG_LABEL(info) == HL_LABEL_FAULT && m.w[HL_FAULT_VECTOR] == HL_FAULT_SNAPSHOT &&
	            m.w[HL_FAULT_ERROR] == HL_ERR_NO_MEMORY,
	        "label %#lx vector %#lx error %lu", HL_MSG_LABEL(info), m.w[0], m.w[1]);
	/* The pages before the pool was full were written, the one that faulted was not. */
	uint64_t first_unwritten = freep;
	UEXPECT(t, m.w[HL_FAULT_ADDR] == DATA_VA + first_unwritten * 4096, "fault at %#lx",
	        m.w[HL_FAULT_ADDR]);
	UEXPECT(t, *c.page[first_unwritten - 1] == 50 + first_unwritten - 1);
	UEXPECT(t, c.page[first_unwritten][0] == pattern(first_unwritten * 512, 7));
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_OK);
	UEXPECT(t, pages_hold(&c, 64, 7, &bad), "page %u differs", bad);
	UEXPECT(t, ut_state_of(c.tcb) == ST_INACTIVE, "suspended, as taken: %lu",
	        ut_state_of(c.tcb));
	hl_thread_suspend(c.tcb);
}

UTEST(snapshot_errors, bad_arguments_and_states)
{
	struct child c, d;
	hl_cptr_t ep = ut_alloc(t, HL_OBJ_ENDPOINT, 0), s2;

	if (!child_make(t, &c, 1, false, 18, 8) || !child_make(t, &d, 1, false, 0, 8))
		return;
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_SNAPSHOT, 17, 1, ut_slot()),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_memory_retype(t->mem, HL_OBJ_SNAPSHOT, 41, 1, ut_slot()),
	            HL_ERR_INVALID_ARG);
	s2 = ut_alloc(t, HL_OBJ_SNAPSHOT, 18);
	UEXPECT_ERR(t, hl_snapshot_take(s2), HL_ERR_INVALID_ARG);               /* covers nothing */
	UEXPECT_ERR(t, hl_snapshot_add(s2, HL_SLOT_ASPACE), HL_ERR_ILLEGAL_OP); /* the root task */
	UEXPECT_ERR(t, hl_snapshot_add(s2, HL_SLOT_THREAD), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_snapshot_add(s2, ep), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_snapshot_add(s2, ut_slot()), HL_ERR_INVALID_CAP);
	UEXPECT_ERR(t, hl_snapshot_add(s2, c.tcb),
	            HL_ERR_INVALID_ARG); /* its space is not covered */
	UEXPECT_ERR(t, hl_snapshot_add(c.snap, c.as), HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_snapshot_add(c.snap, d.tcb),
	            HL_ERR_INVALID_ARG); /* another partition's */
	UEXPECT_ERR(t, hl_snapshot_exclude(c.snap, 0x1001, 4096), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_snapshot_exclude(c.snap, 0x1000, 0), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_snapshot_exclude(c.snap, 0x7ffffffff000ull, 8192), HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_ERR_ILLEGAL_OP); /* never taken */
	UEXPECT_ERR(t, hl_snapshot_discard(c.snap), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_snapshot_add(c.snap, c.tcb), HL_ERR_ILLEGAL_OP);
	UEXPECT_ERR(t, hl_snapshot_exclude(c.snap, 0x1000, 4096), HL_ERR_ILLEGAL_OP);
	/* A second snapshot of a space that has one taken. */
	UEXPECT_ERR(t, hl_snapshot_add(s2, c.as), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_take(s2), HL_ERR_ALREADY_MAPPED);
	UEXPECT_ERR(t, hl_snapshot_discard(c.snap), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_ERR_ILLEGAL_OP); /* discarded */
	UEXPECT_ERR(t, hl_snapshot_take(s2), HL_OK);                    /* free again */
	UEXPECT_ERR(t, hl_snapshot_discard(s2), HL_OK);
	/* A snapshot's own thread cannot take or restore it: there is nothing here to test that
	 * from (the root task is never covered); the kernel refuses with HL_ERR_ILLEGAL_OP. */
}

UTEST(snapshot_errors, restore_after_pages_unmapped_or_memory_revoked)
{
	struct child c;
	unsigned bad = 0;

	if (!child_make(t, &c, 4, false, 18, 9) || !child_run(t, &c, DATA_VA, 0, 8, 1))
		return;
	UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
	if (!child_run(t, &c, DATA_VA, 4, 4096, 30))
		return;
	hl_thread_suspend(c.tcb);
	/* A saved page unmapped since (the child's copy of its frame capability revoked): refused,
	 * and nothing changed. */
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, c.frame[2]), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_ERR_DELETED);
	UEXPECT(t, *c.page[1] == 31, "untouched: page 1 keeps its write");
	/* The space's capability revoked (the snapshot's copy goes with it): refused too. */
	UEXPECT_ERR(t, hl_cspace_revoke(HL_SLOT_CSPACE, c.as), HL_OK);
	UEXPECT_ERR(t, hl_cspace_delete(HL_SLOT_CSPACE, c.as), HL_OK);
	UEXPECT_ERR(t, hl_snapshot_restore(c.snap), HL_ERR_DELETED);
	UEXPECT(t, *c.page[0] == 30, "untouched");
	UEXPECT(t, !pages_hold(&c, 1, 9, &bad));
}

/*
 * Bug (found in review): restore copies 64 pages a pass and lets go of the kernel lock between
 * passes; a saved page unmapped by another thread between two passes ended the restore with
 * DELETED and the memory half restored. Now a restore changes nothing (the page was gone before
 * it started: DELETED) or restores every page that is still mapped. A thread on CPU 1 revokes a
 * page the moment the restore starts; whoever wins the lock, the memory is all or nothing.
 */
static struct {
	volatile int go, done;
	hl_cptr_t frame;
} race;

static void revoke_on_go(void *arg)
{
	(void)arg;
	for (;;) {
		while (!race.go)
			__asm__ volatile("pause");
		race.go = 0;
		hl_cspace_revoke(HL_SLOT_CSPACE, race.frame);
		race.done = 1;
	}
}

#define RACE_PAGES 100 /* 101 records with the parameter page: two passes */

UTEST(snapshot_errors, page_unmapped_between_restore_passes_never_half_restores)
{
	if (rt_self.bi->ncpus < 2)
		return; /* needs a second CPU to race with */
	hl_cptr_t th = ut_thread_new(t, revoke_on_go, NULL, 100);
	if (!UCHECK(t, th, "no thread"))
		return;
	UEXPECT_ERR(t, hl_thread_set_affinity(th, 1), HL_OK);
	UEXPECT_ERR(t, hl_thread_resume(th), HL_OK);
	unsigned whole = 0, refused = 0;
	for (unsigned round = 0; round < 4; round++) {
		struct child c;
		unsigned bad = 0;
		if (!child_make(t, &c, RACE_PAGES, false, 20, 40 + round) ||
		    !child_run(t, &c, DATA_VA, 0, 8, 1))
			break;
		UEXPECT_ERR(t, hl_snapshot_take(c.snap), HL_OK);
		if (!child_run(t, &c, DATA_VA, RACE_PAGES, 4096, 1000)) /* one word of each page */
			break;
		hl_thread_suspend(c.tcb);
		race.frame = c.frame[RACE_PAGES - 1], race.done = 0, race.go = 1;
		long err = hl_snapshot_restore(c.snap);
		while (!race.done)
			hl_yield();
		if (err == HL_OK) { /* every page still mapped holds the snapshot's contents */
			whole++;
			UEXPECT(t, pages_hold(&c, RACE_PAGES - 1, 40 + round, &bad),
			        "round %u: page %u not restored", round, bad);
		} else { /* nothing changed */
			refused++;
			UEXPECT_ERR(t, err, HL_ERR_DELETED);
			for (unsigned i = 0; i < RACE_PAGES - 1; i++)
				if (*c.page[i] != 1000 + i) {
					UEXPECT(t, false,
					        "round %u: page %u changed by a refused restore",
					        round, i);
					break;
				}
		}
		hl_snapshot_discard(c.snap);
	}
	hl_thread_suspend(th);
	rt_printf("        # %u whole restores, %u refused\n", whole, refused);
}
