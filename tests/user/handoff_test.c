/*
 * Ring-3 suite "handoff": a notification signal with HL_LABEL_HANDOFF runs
 * the woken thread at once when it is on the sender's CPU with the sender's
 * priority, and the sender runs next, before other threads of its priority
 * (docs/scheduling.md, "Hand-off"). Without the label the sender goes on.
 *
 * Three threads of the runner's priority on its CPU log their turns: b
 * waits on a notification, a signals it, c is queued behind a. With
 * hand-off the log reads "bac"; without, "acb".
 */
#include "utest.h"

enum { ST_NTFN = 5 };

struct ho {
	hl_cptr_t n, done, park;
	bool handoff;
	char log[4];
	volatile uint32_t len;
};

static void ho_log(struct ho *h, char who)
{
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	h->log[h->len] = who;
	if (++h->len == 3)
		hl_syscall(HL_SYS_SEND, h->done, &info, &m, NULL);
	for (;;)
		hl_syscall(HL_SYS_RECV, h->park, &info, &m, NULL); /* park */
}

static void ho_b(void *arg)
{
	struct ho *h = arg;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_RECV, h->n, &info, &m, NULL);
	ho_log(h, 'b');
}

static void ho_a(void *arg)
{
	struct ho *h = arg;
	hl_word_t info = h->handoff ? HL_MSGINFO(HL_LABEL_HANDOFF, 0, 0) : 0;
	struct hl_msg m = {{0}};

	hl_syscall(HL_SYS_SEND, h->n, &info, &m, NULL);
	ho_log(h, 'a');
}

static void ho_c(void *arg)
{
	ho_log(arg, 'c');
}

static void run_order(struct utest_ctx *t, bool handoff, const char *want)
{
	static struct ho h;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	h = (struct ho){.handoff = handoff};
	h.n = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	h.done = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	h.park = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_cptr_t b = ut_thread(t, ho_b, &h, 100, NULL);
	for (int i = 0; i < 2000 && ut_state_of(b) != ST_NTFN; i++)
		hl_yield();
	if (!UCHECK(t, ut_state_of(b) == ST_NTFN, "b never waited (state %lu)", ut_state_of(b)))
		return;
	hl_cptr_t a = ut_thread_new(t, ho_a, &h, 100);
	hl_cptr_t c = ut_thread_new(t, ho_c, &h, 100);
	if (!UCHECK(t, a && c))
		return;
	hl_thread_resume(a); /* queued: a, then c */
	hl_thread_resume(c);
	hl_syscall(HL_SYS_RECV, h.done, &info, &m,
	           NULL); /* a, b and c all log, then the last signals */
	h.log[3] = 0;
	UEXPECT(t, h.len == 3 && h.log[0] == want[0] && h.log[1] == want[1] && h.log[2] == want[2],
	        "order %s, expected %s", h.log, want);
	hl_thread_suspend(a);
	hl_thread_suspend(b);
	hl_thread_suspend(c);
}

UTEST(handoff, woken_peer_runs_at_once_and_the_sender_next)
{
	run_order(t, true, "bac");
}

UTEST(handoff, without_the_label_the_sender_goes_on)
{
	run_order(t, false, "acb");
}
