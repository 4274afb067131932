/*
 * Ring-3 test runner: the root task of the test boot module. Runs every
 * UTEST suite (KTAP), checks that each suite gave back all its memory and
 * kernel objects, and leaves QEMU through the isa-debug-exit port with
 * 0 (all passed) or 1 (failures).
 */
#include "utest.h"
#include <lib/fmt.h>
#include <lib/string.h>

extern const struct utest __utest_start[], __utest_end[];

#define SUITE_MEM_BITS 22 /* 4 MiB of memory per suite */

static hl_cptr_t suite_parent; /* boot memory capability suites are carved from */
static hl_cptr_t suite_mem_slot;

void ut_fail(struct utest_ctx *t, const char *file, int line, const char *cond, const char *fmt,
             ...)
{
	char buf[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	rt_printf("        # %s:%d: expected %s%s%s\n", file, line, cond, buf[0] ? ": " : "", buf);
	t->failures++;
}

hl_cptr_t ut_slot(void)
{
	return rt_slot();
}

hl_cptr_t ut_alloc(struct utest_ctx *t, uint32_t type, uint32_t size_bits)
{
	hl_cptr_t s = rt_slot();

	if (s && hl_memory_retype(t->mem, type, size_bits, 1, s) == HL_OK)
		return s;
	return 0;
}

void *ut_page(struct utest_ctx *t, hl_cptr_t *frame_out)
{
	static uint64_t next = 0x300000000ull;
	hl_cptr_t f = ut_alloc(t, HL_OBJ_FRAME, 12);
	uint64_t va = next;

	next += 2 * 4096;
	if (!f)
		return NULL;
	long err = hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE);
	if (err == HL_ERR_NO_TABLE) {
		for (int level = 3; level >= 1; level--) {
			hl_cptr_t pt = ut_alloc(t, HL_OBJ_PAGE_TABLE, 12);
			if (hl_aspace_map_table(HL_SLOT_ASPACE, pt, va, (hl_word_t)level) != HL_OK)
				hl_cspace_delete(HL_SLOT_CSPACE, pt);
		}
		err = hl_aspace_map(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE);
	}
	if (err)
		return NULL;
	if (frame_out)
		*frame_out = f;
	return (void *)va;
}

struct ut_boot {
	void (*fn)(void *);
	void *arg;
	hl_cptr_t tcb;
};

static void ut_entry(struct ut_boot *b)
{
	b->fn(b->arg);
	for (;;)
		hl_thread_suspend(b->tcb);
}

hl_cptr_t ut_thread(struct utest_ctx *t, void (*fn)(void *), void *arg, uint8_t prio,
                    struct hl_ipc_buffer **ipc)
{
	hl_cptr_t ipcf;
	uint8_t *stack = ut_page(t, NULL);
	struct hl_ipc_buffer *buf = ut_page(t, &ipcf);
	hl_cptr_t tcb = ut_alloc(t, HL_OBJ_THREAD, 0);

	if (!stack || !buf || !tcb) {
		rt_printf("        # ut_thread: out of memory (stack %p ipc %p tcb %lu)\n", stack,
		          (void *)buf, tcb);
		return 0;
	}
	struct ut_boot *b = (struct ut_boot *)(stack + 4096) - 1;
	b->fn = fn, b->arg = arg, b->tcb = tcb;
	long e1 = hl_thread_configure(tcb, HL_SLOT_CSPACE, HL_SLOT_ASPACE, ipcf, (hl_word_t)buf);
	long e2 = e1 ? 0
	             : hl_thread_write_regs(tcb, (hl_word_t)ut_entry, ((uint64_t)b & ~15ull) - 8,
	                                    (hl_word_t)b, 0);
	long e3 = e1 || e2 ? 0 : hl_thread_set_priority(tcb, prio);
	long e4 = e1 || e2 || e3 ? 0 : hl_thread_resume(tcb);
	if (e1 || e2 || e3 || e4) {
		rt_printf("        # ut_thread: configure %ld write_regs %ld set_priority %ld "
		          "resume %ld\n",
		          e1, e2, e3, e4);
		return 0;
	}
	if (ipc)
		*ipc = buf;
	return tcb;
}

/* A fresh memory capability for one suite: 4 MiB, 16 MiB for the snapshot suites (a snapshot object
 * of 4 MiB beside a 2 MiB page and the pages it covers). */
static hl_cptr_t suite_memory(const char *suite)
{
	uint32_t bits = strncmp(suite, "snapshot", 8) ? SUITE_MEM_BITS : 24;

	if (!suite_mem_slot)
		suite_mem_slot = rt_slot();
	if (hl_memory_retype(suite_parent, HL_OBJ_MEMORY, bits, 1, suite_mem_slot) != HL_OK)
		return 0;
	return suite_mem_slot;
}

static unsigned run_suite(const char *suite, unsigned num)
{
	unsigned ncases = 0, i = 0, failed = 0;
	hl_word_t free0, live0, live1, free1;

	for (const struct utest *u = __utest_start; u < __utest_end; u++)
		ncases += !strcmp(u->suite, suite);
	rt_printf("    KTAP version 1\n    # Subtest: %s\n    1..%u\n", suite, ncases + 1);
	hl_memory_info(suite_parent, NULL, NULL, &free0, &live0);
	hl_cptr_t mem = suite_memory(suite);
	hl_cptr_t first_slot = rt_self.next_slot;
	for (const struct utest *u = __utest_start; u < __utest_end; u++) {
		if (strcmp(u->suite, suite))
			continue;
		struct utest_ctx t = {u->suite, u->name, 0, mem};
		u->fn(&t);
		rt_printf("    %s %u %s\n", t.failures ? "not ok" : "ok", ++i, u->name);
		failed += t.failures != 0;
	}
	/* Empty the slots the suite used, then revoke its memory: every object made from it must
	 * go. */
	for (hl_cptr_t s = rt_self.next_slot;
	     s-- > first_slot;) /* newest first: threads before their stacks */
		hl_cspace_delete(HL_SLOT_CSPACE, s);
	rt_self.next_slot = first_slot;
	hl_cspace_revoke(HL_SLOT_CSPACE, suite_parent);
	hl_memory_info(suite_parent, NULL, NULL, &free1, &live1);
	bool clean = free1 == free0 + 0 && live1 == live0;
	if (!clean)
		rt_printf("        # leak: free %lu -> %lu bytes, live objects %lu -> %lu\n", free0,
		          free1, live0, live1);
	rt_printf("    %s %u no_leaks\n", clean ? "ok" : "not ok", ++i);
	failed += !clean;
	rt_printf("%s %u %s\n", failed ? "not ok" : "ok", num, suite);
	return failed;
}

static void exit_qemu(unsigned code)
{
	hl_cptr_t port = rt_slot();

	if (hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, code);
}

int main(struct rt *rt)
{
	const char *suites[64];
	unsigned n = 0, failed = 0;

	for (uint32_t i = 0; i < rt->bi->nmem && !suite_parent; i++)
		if (!rt->bi->mem[i].is_device && rt->bi->mem[i].size_bits > SUITE_MEM_BITS)
			suite_parent = rt->bi->mem[i].slot;
	for (const struct utest *u = __utest_start; u < __utest_end; u++) {
		bool dup = false;
		for (unsigned i = 0; i < n && !dup; i++)
			dup = !strcmp(suites[i], u->suite);
		if (!dup && n < 64)
			suites[n++] = u->suite;
	}
	/* Test threads run at or below TEST_PRIO; the runner sits at it too. */
	hl_thread_set_priority(HL_SLOT_THREAD, 100);
	rt_printf("KTAP version 1\n1..%u\n", n);
	for (unsigned i = 0; i < n; i++)
		failed += run_suite(suites[i], i + 1);
	rt_printf("# utest: %u suites, %u failed cases\n", n, failed);
	exit_qemu(failed ? 1 : 0);
	return 0;
}

/*
 * Like ut_thread but not resumed: the caller may change affinity, budget,
 * spaces or the fault endpoint first, then hl_thread_resume() it.
 */
hl_cptr_t ut_thread_new(struct utest_ctx *t, void (*fn)(void *), void *arg, uint8_t prio)
{
	hl_cptr_t ipcf, tcb;
	uint8_t *stack = ut_page(t, NULL);
	struct hl_ipc_buffer *buf = ut_page(t, &ipcf);

	if (!stack || !buf || !(tcb = ut_alloc(t, HL_OBJ_THREAD, 0)))
		return 0;
	struct ut_boot *b = (struct ut_boot *)(stack + 4096) - 1;
	b->fn = fn, b->arg = arg, b->tcb = tcb;
	if (hl_thread_configure(tcb, HL_SLOT_CSPACE, HL_SLOT_ASPACE, ipcf, (hl_word_t)buf) ||
	    hl_thread_write_regs(tcb, (hl_word_t)ut_entry, ((uint64_t)b & ~15ull) - 8, (hl_word_t)b,
	                         0) ||
	    hl_thread_set_priority(tcb, prio))
		return 0;
	return tcb;
}
