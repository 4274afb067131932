/*
 * Ring-3 suite "window_errors": every error of sched_control.set_windows
 * and sched_control.bind (kernel/window.c, docs/abi.md), and that a
 * rejected table changes nothing: a tagged thread keeps running on a CPU
 * whose table was refused. The timing of windows is checked under -icount
 * by the separate suite in tests/user/windows/ (make test-windows).
 */
#include "utest.h"

#include <hallows/window.h>
#include <lib/string.h>

/* A table page of the suite's memory (RW mapping, its frame capability in *f). */
static struct hl_window_table *table(struct utest_ctx *t, hl_cptr_t *f)
{
	struct hl_window_table *w = ut_page(t, f);

	if (w)
		memset(w, 0, sizeof(*w));
	return w;
}

static long install(hl_cptr_t f, uint64_t cpu)
{
	hl_word_t epoch = 0;

	return hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, cpu, f, 0, &epoch);
}

/* Two windows of partitions 1 and 2 in a 1 ms frame. */
static void two(struct hl_window_table *w)
{
	memset(w, 0, sizeof(*w));
	w->frame_ns = 1000000;
	w->count = 2;
	w->w[0] = (struct hl_window){.offset_ns = 0, .length_ns = 400000, .partition = 1};
	w->w[1] = (struct hl_window){.offset_ns = 500000, .length_ns = 400000, .partition = 2};
}

UTEST(window_errors, table_rules)
{
	hl_cptr_t f;
	struct hl_window_table *w = table(t, &f);
	uint32_t last = rt_self.bi->ncpus - 1;

	if (!UCHECK(t, w, "out of memory"))
		return;
	two(w);
	UEXPECT_ERR(t, install(f, rt_self.bi->ncpus), HL_ERR_RANGE); /* no such CPU */
	UEXPECT_ERR(t, install(HL_SLOT_ASPACE, last), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, install(0x7fff, last), HL_ERR_INVALID_CAP);
	w->w[1].offset_ns = 300000; /* overlaps window 0 */
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	two(w);
	w->w[1].length_ns = 600000; /* ends past the frame */
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	two(w);
	w->w[1].offset_ns = 2000000; /* starts past the frame */
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	two(w);
	w->w[0].offset_ns = 500000, w->w[1].offset_ns = 0; /* not sorted */
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	two(w);
	w->w[0].length_ns = HL_WINDOW_MIN_NS - 1; /* too short */
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	two(w);
	w->w[0].length_ns = ~0ull; /* offset + length would wrap */
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	two(w);
	w->frame_ns = HL_FRAME_MAX_NS + 1;
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	two(w);
	w->w[0].partition = 0; /* owned by nobody */
	UEXPECT_ERR(t, install(f, last), HL_ERR_INVALID_ARG);
	two(w);
	w->w[0].partition = HL_PARTITION_IDS;
	UEXPECT_ERR(t, install(f, last), HL_ERR_INVALID_ARG);
	two(w);
	w->spare = HL_PARTITION_IDS;
	UEXPECT_ERR(t, install(f, last), HL_ERR_INVALID_ARG);
	two(w);
	w->count = HL_WINDOWS_MAX + 1;
	UEXPECT_ERR(t, install(f, last), HL_ERR_INVALID_ARG);
	two(w);
	w->w[0].reserved = 1;
	UEXPECT_ERR(t, install(f, last), HL_ERR_INVALID_ARG);
	two(w);
	hl_word_t epoch = 0;
	UEXPECT_ERR(t,
	            hl_sched_control_set_windows(HL_SLOT_SCHED_CONTROL, last, f,
	                                         ut_rdtsc() + ut_ms_to_tsc(1000), &epoch),
	            HL_ERR_RANGE); /* an epoch in the future */
	/* A valid table, then none again. */
	UEXPECT_ERR(t, install(f, last), HL_OK);
	w->count = 0;
	UEXPECT_ERR(t, install(f, last), HL_OK);
}

UTEST(window_errors, rights_and_types)
{
	hl_cptr_t f, ro = ut_slot(), tcb = ut_alloc(t, HL_OBJ_THREAD, 0);
	struct hl_window_table *w = table(t, &f);

	if (!UCHECK(t, w && ro && tcb, "out of memory"))
		return;
	two(w);
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, ro, f, HL_R_WRITE), HL_OK); /* no read */
	UEXPECT_ERR(t, install(ro, 0), HL_ERR_NO_RIGHTS);
	/* Only the root task's original: sched_control cannot be copied. */
	hl_cptr_t cp = ut_slot();
	UEXPECT_ERR(t, hl_cspace_copy(HL_SLOT_CSPACE, cp, HL_SLOT_SCHED_CONTROL, HL_R_ALL),
	            HL_ERR_ILLEGAL_OP);
	/* bind: partition ids 0..255, a thread capability. */
	UEXPECT_ERR(t, hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, tcb, HL_PARTITION_IDS),
	            HL_ERR_INVALID_ARG);
	UEXPECT_ERR(t, hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, f, 1), HL_ERR_WRONG_TYPE);
	UEXPECT_ERR(t, hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, tcb, 7), HL_OK);
	UEXPECT_ERR(t, hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, tcb, 0), HL_OK);
	/* The methods need the sched_control object itself. */
	UEXPECT_ERR(t, hl_sched_control_bind(HL_SLOT_PCI_CONTROL, tcb, 1), HL_ERR_ILLEGAL_OP);
}

static void spin_count(void *arg)
{
	volatile uint64_t *n = arg;

	for (;;)
		(*n)++;
}

/* A refused table leaves the CPU as it was: a tagged thread keeps running there. */
UTEST(window_errors, refused_table_changes_nothing)
{
	static volatile uint64_t n;
	hl_cptr_t f;
	struct hl_window_table *w = table(t, &f);
	uint32_t last = rt_self.bi->ncpus - 1;
	hl_cptr_t th = ut_thread_new(t, spin_count, (void *)&n, 100);

	if (!UCHECK(t, w && th, "out of memory"))
		return;
	UEXPECT_ERR(t, hl_thread_set_affinity(th, last), HL_OK);
	UEXPECT_ERR(t, hl_sched_control_bind(HL_SLOT_SCHED_CONTROL, th, 3), HL_OK);
	two(w);
	w->w[1].offset_ns = 100000; /* overlap: refused */
	UEXPECT_ERR(t, install(f, last), HL_ERR_RANGE);
	n = 0;
	UEXPECT_ERR(t, hl_thread_resume(th), HL_OK);
	/* Same priority as the runner: at -smp 1 the yields let it run. */
	for (uint64_t end = ut_rdtsc() + ut_ms_to_tsc(2000); n < 1000 && ut_rdtsc() < end;)
		hl_yield();
	UEXPECT(t, n >= 1000, "a thread of partition 3 did not run (n = %lu)", (uint64_t)n);
	hl_thread_suspend(th);
}
