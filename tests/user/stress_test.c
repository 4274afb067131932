/*
 * Ring-3 suite "stress": a random system-call stressor. One thread per CPU
 * (pinned with affinity) makes UT_STRESS_CALLS system calls in total with
 * random numbers, capability slots (empty and out-of-range ones included),
 * labels, lengths, message words, IPC-buffer words and capability-transfer
 * slots, from a deterministic PRNG (xorshift64*, fixed seeds).
 *
 * The threads live in a child capability space that holds copies of a few
 * objects (endpoints, notifications, frames, a child address space, page
 * tables, two victim threads, a small memory capability, the child cspace
 * itself), so random deletes, revokes, retypes, moves and thread methods
 * hit only those, never the runner's own slots. A pump thread per CPU, below
 * the stressor there, takes it out of IPC waits nobody will end (suspend
 * and resume) so the run cannot stall; a budgeted watchdog notices the end
 * and enforces the time limit. The checks are: the kernel survives, the watchdog sees
 * every stressor finish within the time limit, a normal IPC round trip
 * works afterwards, and the suite's leak check finds every object freed.
 */
#include "utest.h"

#ifndef UT_STRESS_CALLS
#define UT_STRESS_CALLS 1000000 /* total over all CPUs */
#endif
#define CHILD_BITS      6 /* 64 slots; slots up to 72 are tried (out of range) */
#define MAX_STRESS      8
#define LIMIT_MS        90000 /* the whole run must finish within this */
#define WATCH_PERIOD_US 1000  /* the watchdog looks once a period... */
#define WATCH_BUDGET_US 100   /* ...and may run this long in it */

enum {
	C_SELF = 1,
	C_EP = 2,
	C_NTFN = 5,
	C_AS = 7,
	C_FRAME = 8,
	C_VICTIM = 11,
	C_MEM = 13,
	C_PT = 14,
	C_COUNT = 16
};

struct stressor {
	uint64_t seed;
	uint64_t calls;
	volatile uint64_t done;
	volatile int finished;
	hl_cptr_t tcb;
};

struct stress {
	struct stressor s[MAX_STRESS];
	struct pump {
		struct stress *st;
		unsigned cpu;
	} pumps[MAX_STRESS];
	unsigned n;
	volatile int all_done;
	hl_cptr_t victims[2];
	hl_cptr_t done_ntfn; /* the watchdog signals the runner through it */
	volatile int timed_out;
	volatile uint64_t kicks;
};

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

/* A word that is often small (slots, sizes, rights, labels) and sometimes anything. */
static hl_word_t rand_word(uint64_t *x)
{
	uint64_t r = next_rand(x);

	switch (r & 7) {
	case 0:
		return next_rand(x);
	case 1:
		return (r >> 8) & 0xffff;
	case 2:
		return 0x300000000ull + ((r >> 8) & 0xfffff000); /* near the suite's mappings */
	default:
		return (r >> 8) % 73;
	}
}

static void stress_loop(void *arg)
{
	struct stressor *s = arg;
	struct hl_ipc_buffer *ipc = hl_ipcbuf();
	uint64_t x = s->seed;

	for (uint64_t i = 0; i < s->calls; i++) {
		uint64_t r = next_rand(&x);
		long nr = (r & 15) < 12 ? (long)(r & 15) : (long)(r >> 4) % 16;
		hl_cptr_t slot = (r >> 8) & 1 ? (r >> 9) % 73 : rand_word(&x);
		hl_word_t label = (r >> 16) & 1 ? (r >> 17) % 16 : rand_word(&x);
		hl_word_t info = HL_MSGINFO(label, (r >> 24) & 0x7f, (r >> 31) & 3);
		struct hl_msg m = {{rand_word(&x), rand_word(&x), rand_word(&x), rand_word(&x)}};

		if (nr == HL_SYS_DEBUG_PUTS)
			nr = HL_SYS_NULL; /* slot numbers could name nothing printable; keep the log
			                     readable */
		ipc->mr[4] = rand_word(&x), ipc->mr[5] = rand_word(&x);
		ipc->send_cap = (r >> 40) % 73;
		ipc->recv_slot = (r >> 48) % 70;
		hl_syscall(nr, slot, &info, &m, NULL);
		s->done = i + 1;
	}
	s->finished = 1;
	for (;;)
		__asm__ volatile("pause"); /* until the watchdog suspends it; no system calls that
		                              slow the others */
}

/* Victims spin without system calls at priority 0: they run only on a CPU with nothing else to do.
 */
static void victim_loop(void *arg)
{
	(void)arg;
	for (;;)
		__asm__ volatile("pause");
}

/* Kick stressor i out of an IPC wait: suspend and resume (it returns from the call). */
static bool kick_if_blocked(struct stress *st, unsigned i)
{
	hl_word_t state = 0;

	hl_thread_read_regs(st->s[i].tcb, NULL, NULL, NULL, &state);
	if (st->s[i].finished || state < 2 || state > 5)
		return false;
	hl_thread_suspend(st->s[i].tcb);
	hl_thread_resume(st->s[i].tcb);
	__atomic_fetch_add(&st->kicks, 1, __ATOMIC_RELAXED);
	return true;
}

/* One per CPU below the stressor: it runs exactly when the stressor there blocks, and kicks it. */
static void pump(void *arg)
{
	struct pump *p = arg;

	while (!p->st->all_done && !p->st->s[p->cpu].finished)
		if (!kick_if_blocked(p->st, p->cpu))
			hl_yield();
}

/*
 * Once a period: finished stressors are suspended, blocked ones kicked out
 * of their wait. It runs above the stressors with a small budget, so it
 * neither starves the CPU-0 stressor nor hammers the kernel lock.
 */
static void watchdog(void *arg)
{
	struct stress *st = arg;
	uint64_t period = rt_self.bi->tsc_hz / 1000 * WATCH_PERIOD_US / 1000,
	         end = ut_rdtsc() + rt_self.bi->tsc_hz / 1000 * LIMIT_MS;

	for (;;) {
		unsigned finished = 0;
		for (unsigned i = 0; i < st->n; i++) {
			if (st->s[i].finished) {
				hl_thread_suspend(st->s[i].tcb);
				finished++;
			} else {
				kick_if_blocked(st, i); /* in case its pump is starved */
			}
		}
		if (finished == st->n || ut_rdtsc() > end) {
			st->timed_out = finished != st->n;
			break;
		}
		/* Spin to the end of this period: the budget throttles us, the CPU-0 stressor runs.
		 */
		for (uint64_t until = ut_rdtsc() + period; ut_rdtsc() < until;)
			__asm__ volatile("pause");
	}
	for (unsigned i = 0; i < 2; i++)
		hl_thread_suspend(st->victims[i]);
	st->all_done = 1; /* the pumps return */
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	hl_syscall(HL_SYS_SEND, st->done_ntfn, &info, &m, NULL);
}

/* Fill the child cspace: copies of a few objects, a memory capability moved in. */
static bool populate(struct utest_ctx *t, hl_cptr_t cs)
{
	bool ok = hl_cspace_copy(cs, C_SELF, cs, HL_R_ALL) == HL_OK;

	for (int i = 0; i < 3; i++)
		ok &= hl_cspace_copy(cs, C_EP + i, ut_alloc(t, HL_OBJ_ENDPOINT, 0), HL_R_ALL) ==
		      HL_OK;
	for (int i = 0; i < 2; i++)
		ok &= hl_cspace_copy(cs, C_NTFN + i, ut_alloc(t, HL_OBJ_NOTIFICATION, 0),
		                     HL_R_ALL) == HL_OK;
	ok &= hl_cspace_copy(cs, C_AS, ut_alloc(t, HL_OBJ_ASPACE, 0), HL_R_ALL) == HL_OK;
	for (int i = 0; i < 3; i++)
		ok &= hl_cspace_copy(cs, C_FRAME + i, ut_alloc(t, HL_OBJ_FRAME, 12), HL_R_ALL) ==
		      HL_OK;
	hl_cptr_t mem = ut_alloc(t, HL_OBJ_MEMORY, 16);
	ok &= mem && hl_cspace_move(cs, C_MEM, mem) == HL_OK;
	for (int i = 0; i < 2; i++)
		ok &= hl_cspace_copy(cs, C_PT + i, ut_alloc(t, HL_OBJ_PAGE_TABLE, 12), HL_R_ALL) ==
		      HL_OK;
	return ok;
}

/* A thread on the runner's address space whose capability space is cs. */
static hl_cptr_t child_thread(struct utest_ctx *t, hl_cptr_t cs, void (*fn)(void *), void *arg,
                              uint32_t cpu, uint8_t prio)
{
	hl_cptr_t tcb = ut_thread_new(t, fn, arg, prio);
	hl_word_t rip = 0, rsp = 0;

	if (!tcb)
		return 0;
	hl_thread_read_regs(tcb, &rip, &rsp, NULL, NULL);
	/* Its own cspace, and a fresh IPC buffer (configure replaces the one ut_thread_new gave
	 * it). */
	hl_cptr_t ipcf = 0;
	struct hl_ipc_buffer *ipc = ut_page(t, &ipcf);
	if (!ipc || hl_thread_configure(tcb, cs, HL_SLOT_ASPACE, ipcf, (hl_word_t)ipc) ||
	    hl_thread_set_affinity(tcb, cpu))
		return 0;
	return tcb;
}

UTEST(stress, random_syscalls_on_every_cpu)
{
	static struct stress st;
	uint32_t ncpus = rt_self.bi->ncpus < MAX_STRESS ? rt_self.bi->ncpus : MAX_STRESS;
	hl_cptr_t cs = ut_alloc(t, HL_OBJ_CSPACE, CHILD_BITS);

	if (!UCHECK(t, cs && populate(t, cs)))
		return;
	st.n = ncpus;
	st.done_ntfn = ut_alloc(t, HL_OBJ_NOTIFICATION, 0);
	for (int i = 0; i < 2; i++) {
		st.victims[i] = child_thread(t, cs, victim_loop, NULL, 0, 0);
		if (!UCHECK(t, st.victims[i]) ||
		    !UCHECK(t, hl_cspace_copy(cs, C_VICTIM + i, st.victims[i], HL_R_ALL) == HL_OK))
			return;
		hl_thread_resume(st.victims[i]);
	}
	for (uint32_t i = 0; i < ncpus; i++) {
		st.s[i] = (struct stressor){0x9e3779b97f4a7c15ull * (i + 1),
		                            UT_STRESS_CALLS / ncpus, 0, 0, 0};
		st.s[i].tcb = child_thread(t, cs, stress_loop, &st.s[i], i, 50);
		st.pumps[i] = (struct pump){&st, i};
		hl_cptr_t p = ut_thread_new(t, pump, &st.pumps[i], 1);
		if (!UCHECK(t, st.s[i].tcb && p, "stressor %u", i) ||
		    !UCHECK(t, hl_thread_set_affinity(p, i) == HL_OK))
			return;
		hl_thread_resume(p);
	}
	hl_cptr_t wd = ut_thread_new(t, watchdog, &st, 60);
	if (!UCHECK(t, wd) ||
	    !UCHECK(t, hl_thread_set_budget(wd, WATCH_BUDGET_US, WATCH_PERIOD_US) == HL_OK))
		return;
	uint64_t t0 = ut_rdtsc();
	for (uint32_t i = 0; i < ncpus; i++)
		hl_thread_resume(st.s[i].tcb);
	hl_thread_resume(wd);
	hl_word_t info = 0;
	struct hl_msg m = {{0}};
	UEXPECT_ERR(t, hl_syscall(HL_SYS_RECV, st.done_ntfn, &info, &m, NULL), HL_OK);
	uint64_t ms = (ut_rdtsc() - t0) / (rt_self.bi->tsc_hz / 1000), total = 0;
	for (uint32_t i = 0; i < ncpus; i++)
		total += st.s[i].done;
	UEXPECT(t, !st.timed_out, "only %lu of %u calls in %lu ms", total, UT_STRESS_CALLS, ms);
	rt_printf(
	    "        # %lu random system calls on %u cpus in %lu ms (%lu per second), %lu kicks\n",
	    total, ncpus, ms, ms ? total * 1000 / ms : 0, st.kicks);
	/* The kernel still works: a notification round trip. */
	hl_syscall(HL_SYS_SEND, st.done_ntfn, &info, &m, NULL);
	UEXPECT_ERR(t, hl_syscall(HL_SYS_POLL, st.done_ntfn, &info, &m, NULL), HL_OK);
}
