/*
 * Running a user-level scheduler (user/rt/include/hallows/usched.h) in ring 3:
 * tasks are user contexts, the scheduler runs on its own stack with upcalls
 * masked, and a preemption upcall (docs/scheduling.md) brings it back every
 * quantum. One scheduler per address space (its state is static).
 */
#include <hallows/rt.h>
#include <hallows/usched.h>

static struct {
	struct usched *s;
	struct rt_upcall_page *page;
	void *stack_top;
	hl_cptr_t tcb;
	bool upcalls;
	bool (*idle)(struct usched *s, void *arg);
	void *arg;
	struct uctx exit_ctx; /* where usched_run returns */
} R;

/* Start or resume t; upcalls are unmasked as it resumes. */
__attribute__((noreturn)) static void dispatch(struct usched_task *t);

/* The scheduler: let arrivals in, run the next task; leave when idle() says so. */
__attribute__((noreturn)) static void schedule(void *unused)
{
	(void)unused;
	for (;;) {
		if (!R.idle(R.s, R.arg)) {
			if (R.upcalls)
				hl_thread_set_upcall(R.tcb, 0, 0, 0, 0);
			uctx_resume(&R.exit_ctx, NULL);
		}
		struct usched_task *t = usched_pick(R.s);
		if (t)
			dispatch(t);
	}
}

/* A task's function returned (on its own stack): mask, account, back to the scheduler. */
static void task_exit(void)
{
	R.page->a.masked = 1;
	R.page->cur = NULL;
	usched_done(R.s);
	uctx_run_on(R.stack_top, schedule, NULL);
}

static void dispatch(struct usched_task *t)
{
	R.page->cur = &t->ctx;
	if (!t->started) {
		t->started = true;
		uctx_make(&t->ctx, t->stack_top, t->fn, t->arg, task_exit);
	}
	uctx_resume(&t->ctx, &R.page->a.masked);
}

/* The upcall: on the scheduler's stack, masked, the FPU state already in page->cur. */
static void on_upcall(struct rt_upcall_page *page)
{
	struct usched_task *t = R.s->cur;

	if (t)
		uctx_from_area(&t->ctx, &page->a);
	page->a.pending = 0;
	R.idle(R.s, R.arg); /* let arrivals in before the policy decides */
	t = usched_preempted(R.s);
	if (t)
		dispatch(t);
	schedule(NULL);
}

long usched_run(struct usched *s, hl_cptr_t tcb, hl_cptr_t frame, struct rt_upcall_page *page,
                void *stack_top, uint64_t quantum_ns, bool (*idle)(struct usched *s, void *arg),
                void *arg)
{
	R.s = s, R.page = page, R.stack_top = (void *)((uintptr_t)stack_top & ~(uintptr_t)15);
	R.tcb = tcb, R.idle = idle, R.arg = arg, R.upcalls = quantum_ns != 0;
	if (uctx_save(&R.exit_ctx))
		return 0;   /* back from schedule(): idle() returned false */
	page->a.masked = 1; /* the scheduler runs masked */
	page->cur = NULL;
	if (R.upcalls) {
		long err = rt_upcall_attach(tcb, frame, page, R.stack_top, on_upcall, quantum_ns);
		if (err)
			return err;
		page->a.masked = 1; /* rt_upcall_attach cleared it */
	}
	uctx_run_on(R.stack_top, schedule, NULL);
}
