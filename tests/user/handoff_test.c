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

#include <lib/string.h>

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

/* One round of the three threads; false when it could not be set up. Leaves the order in h->log. */
static bool one_order(struct utest_ctx *t, struct ho *hp, bool handoff)
{
	static struct ho h; /* not on the stack: the threads outlive a failed round */
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
		return false;
	hl_cptr_t a = ut_thread_new(t, ho_a, &h, 100);
	hl_cptr_t c = ut_thread_new(t, ho_c, &h, 100);
	if (!UCHECK(t, a && c))
		return false;
	hl_thread_resume(a); /* queued: a, then c */
	hl_thread_resume(c);
	hl_syscall(HL_SYS_RECV, h.done, &info, &m,
	           NULL); /* a, b and c all log, then the last signals */
	h.log[3] = 0;
	hl_thread_suspend(a);
	hl_thread_suspend(b);
	hl_thread_suspend(c);
	*hp = h;
	return true;
}

/*
 * Up to three rounds: the round-robin slice timer ending a thread's turn at
 * an unlucky moment changes the order once in a while on a loaded host
 * ("abc" for "acb" once); a broken hand-off (or its absence) changes it
 * every time.
 */
static void run_order(struct utest_ctx *t, bool handoff, const char *want)
{
	struct ho h;
	char seen[3][4] = {{0}};

	for (int round = 0; round < 3; round++) {
		if (!one_order(t, &h, handoff))
			return;
		memcpy(seen[round], h.log, 4);
		if (h.len == 3 && !memcmp(h.log, want, 3))
			return;
	}
	UEXPECT(t, false, "orders %s, %s, %s; expected %s", seen[0], seen[1], seen[2], want);
}

UTEST(handoff, woken_peer_runs_at_once_and_the_sender_next)
{
	run_order(t, true, "bac");
}

UTEST(handoff, without_the_label_the_sender_goes_on)
{
	run_order(t, false, "acb");
}

/*
 * The same through a Hallows Ring (rt_ring_ops_handoff): a consumer asleep
 * on an empty ring, a producer of its priority on its CPU publishes one
 * entry. With hand-off the consumer takes it before the producer goes on
 * ("cp"); without, the producer goes on first ("pc").
 */
struct rho {
	struct ho h;
	struct hl_ring prod, cons;
	void *mem;
};

static void rho_consumer(void *arg)
{
	struct rho *r = arg;

	while (hl_ring_peek(&r->cons, 1) <= 0)
		hl_ring_wait(&r->cons);
	hl_ring_release(&r->cons, 1);
	ho_log(&r->h, 'c');
}

static void rho_producer(void *arg)
{
	struct rho *r = arg;

	if (hl_ring_reserve(&r->prod, 1) == 1) {
		*(uint64_t *)hl_ring_entry(&r->prod, 0) = 42;
		hl_ring_publish(&r->prod, 1);
	}
	ho_log(&r->h, 'p');
}

static void ring_order(struct utest_ctx *t, bool handoff, const char *want)
{
	static struct rho r;
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	r = (struct rho){0};
	r.h.done = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	r.h.park = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	hl_cptr_t np = ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
	          nc = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	r.mem = ut_page(t, NULL);
	struct hl_ring_ops pops = handoff ? rt_ring_ops_handoff(np, nc) : rt_ring_ops(np, nc),
	                   cops = rt_ring_ops(nc, np);
	size_t bytes = hl_ring_bytes(8, 8);
	if (!UCHECK(t, r.mem &&
	                   hl_ring_attach(&r.prod, r.mem, bytes, 8, 8, true, &pops, true) ==
	                       HL_RING_OK &&
	                   hl_ring_attach(&r.cons, r.mem, bytes, 8, 8, false, &cops, false) ==
	                       HL_RING_OK))
		return;
	hl_cptr_t c = ut_thread(t, rho_consumer, &r, 100, NULL);
	for (int i = 0; i < 2000 && ut_state_of(c) != ST_NTFN; i++)
		hl_yield();
	if (!UCHECK(t, ut_state_of(c) == ST_NTFN, "consumer never slept (state %lu)",
	            ut_state_of(c)))
		return;
	r.h.len = 1; /* two loggers: the second signals done */
	hl_cptr_t p = ut_thread(t, rho_producer, &r, 100, NULL);
	hl_syscall(HL_SYS_RECV, r.h.done, &info, &m, NULL);
	r.h.log[3] = 0;
	UEXPECT(t, r.h.log[1] == want[0] && r.h.log[2] == want[1], "order %s, expected %s",
	        r.h.log + 1, want);
	hl_thread_suspend(p);
	hl_thread_suspend(c);
}

UTEST(handoff, ring_consumer_runs_at_once_with_handoff_ops)
{
	ring_order(t, true, "cp");
}

UTEST(handoff, ring_producer_goes_on_without)
{
	ring_order(t, false, "pc");
}
