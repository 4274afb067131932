/*
 * scfuzz: a structured system-call fuzzer for the Hallows kernel, run as
 * the root task of its own boot module (build/kfuzz/NAME.cpio, mk/kfuzz.mk).
 *
 * Design
 *  - Rounds. The controller (this file, the root thread) carves a round
 *    parent memory capability once; each round retypes from it a memory
 *    capability R (8 MiB) and the driver's cspace W (256 slots), puts four
 *    capabilities into W (W itself, the shared address space, R, the done
 *    notification) and starts the driver thread on W. After the round it
 *    stops the driver, revokes the round parent (everything the round made
 *    goes: objects, threads, mappings, page tables) and checks that
 *    memory.info reports the free bytes and kernel-wide live-object count
 *    of before the round; the next round's retype of the same sizes is the
 *    second half of the memory check (and is repeated once after the last).
 *  - The driver (ops.c) makes random *sequences* of calls chosen from a
 *    model (model.c) of what it holds, so most calls are valid: retype of
 *    every object type (frames 4 KiB and 2 MiB, address spaces, page
 *    tables, threads, endpoints, notifications, cspaces, memory), copy,
 *    mint, move, delete and revoke across its cspace and child cspaces
 *    (copies of copies, moves between cspaces), page tables hooked at every
 *    level into the shared and fresh address spaces (copies included, the
 *    same table at several places), frames mapped, unmapped and protected,
 *    threads started (victim.c) and given priorities, budgets (0/0 and
 *    tiny ones included) and CPUs while they spin, block in IPC or on
 *    notifications, and objects deleted while threads wait on them. One
 *    call in about twelve is broken on purpose and must be refused with the
 *    error the ABI names.
 *  - Checks. The kernel's own invariant checks (command-line word
 *    "checkinv", kernel/invariants.c) run after every call; a panic, a
 *    hang (the runner's time limit), a driver fault, a leak or a wrongly
 *    handled invalid call ends the run as a failure (exit code 1 through
 *    isa-debug-exit, or no exit at all).
 *  - Replay. The seed is printed first; "seed=N calls=M" in the boot
 *    module's file scfuzz.args (written by make) replays it: on one CPU
 *    under -icount the kernel's timer interrupts fall at the same
 *    instructions every time, so the run repeats exactly (the result hash
 *    printed at the end says so); on several CPUs the driver's calls are
 *    the same, their interleaving with the victims is not.
 *
 * scfuzz.args words: seed=N calls=N round=N (calls per round) secs=N (stop
 * starting rounds after N seconds) leak (leave one object behind after the
 * first round: the runner's self-test, which must fail), avoid-known
 * (skip the sequences of the four faults of issue 10, for work on the
 * fuzzer itself on a kernel without their fixes), trace (print every
 * call and its result).
 */
#include "scfuzz.h"
#include <lib/cpio.h>
#include <lib/string.h>

#define PARENT_BITS        24 /* the round parent: 16 MiB */
#define R_BITS             23 /* the round's memory: 8 MiB */
#define DRIVER_PRIO        90 /* victims may be given at most this; the controller stays above */
#define DRIVER_STACK_PAGES 16
#define BADGE_FAULT        1 /* the driver's fault endpoint */
#define BADGE_DONE         2 /* W_DONE: the driver's done call, and whatever victims send through it */

struct args {
	uint64_t seed, calls, per_round, secs;
	bool leak, avoid_known, trace;
};

static struct driver_arg darg;

static uint64_t parse_num(const char *s, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

/* Words of scfuzz.args in the boot module; defaults where it is missing. */
static void read_args(const struct hl_bootinfo *bi, struct args *a)
{
	struct cpio_entry e;

	*a = (struct args){1, 20000, 2000, 0, false, false, false};
	if (cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size, "scfuzz.args", &e) !=
	    CPIO_OK)
		return;
	const char *p = (const char *)e.data, *end = p + e.size;
	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\n' || *p == '\t'))
			p++;
		const char *w = p;
		while (p < end && *p != ' ' && *p != '\n' && *p != '\t')
			p++;
		size_t n = (size_t)(p - w);
		if (n > 5 && !memcmp(w, "seed=", 5))
			a->seed = parse_num(w + 5, n - 5);
		else if (n > 6 && !memcmp(w, "calls=", 6))
			a->calls = parse_num(w + 6, n - 6);
		else if (n > 6 && !memcmp(w, "round=", 6))
			a->per_round = parse_num(w + 6, n - 6);
		else if (n > 5 && !memcmp(w, "secs=", 5))
			a->secs = parse_num(w + 5, n - 5);
		else if (n == 4 && !memcmp(w, "leak", 4))
			a->leak = true;
		else if (n == 11 && !memcmp(w, "avoid-known", 11))
			a->avoid_known = true;
		else if (n == 5 && !memcmp(w, "trace", 5))
			a->trace = true;
	}
	if (!a->per_round)
		a->per_round = 2000;
}

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void driver_entry(struct driver_arg *a)
{
	driver_main(a);
}

struct ctl {
	hl_cptr_t parent, r, w, ep, ep_fault, ep_done, tcb, ipc;
	uint64_t ipc_va, stack_top;
	uint32_t ncpus;
};

/* The driver thread, its stack and IPC buffer, the round parent: made once, from the boot memory.
 */
static bool ctl_setup(struct ctl *c, const struct hl_bootinfo *bi)
{
	hl_cptr_t big = 0;

	for (uint32_t i = 0; i < bi->nmem && !big; i++)
		if (!bi->mem[i].is_device && bi->mem[i].size_bits > PARENT_BITS)
			big = bi->mem[i].slot;
	c->ncpus = bi->ncpus;
	c->parent = rt_slot(), c->r = rt_slot(), c->w = rt_slot();
	if (!big || hl_memory_retype(big, HL_OBJ_MEMORY, PARENT_BITS, 1, c->parent) != HL_OK)
		return false;
	c->ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	c->ep_fault = rt_slot(), c->ep_done = rt_slot();
	/* Badges tell the driver's faults and done call from victims' messages (they may be given
	 * W_DONE). */
	if (!c->ep ||
	    hl_cspace_mint(HL_SLOT_CSPACE, c->ep_fault, c->ep, HL_R_WRITE, BADGE_FAULT) != HL_OK ||
	    hl_cspace_mint(HL_SLOT_CSPACE, c->ep_done, c->ep, HL_R_WRITE, BADGE_DONE) != HL_OK)
		return false;
	c->tcb = rt_alloc(HL_OBJ_THREAD, 0);
	c->ipc = rt_alloc(HL_OBJ_FRAME, 12);
	uint8_t *stack = rt_map_pages(DRIVER_STACK_PAGES);
	c->ipc_va = rt_self.heap_next;
	rt_self.heap_next += 2 * 4096;
	if (!c->ep || !c->tcb || !c->ipc || !stack ||
	    rt_map_frame(HL_SLOT_ASPACE, c->ipc, c->ipc_va, HL_R_READ | HL_R_WRITE) != HL_OK)
		return false;
	c->stack_top = (uint64_t)stack + DRIVER_STACK_PAGES * 4096;
	return hl_thread_set_fault_ep(c->tcb, c->ep_fault) == HL_OK;
}

/* Build the round's cspace and start the driver in it. */
static long start_round(struct ctl *c, const struct args *a, uint32_t round, uint64_t calls)
{
	long err;

	if ((err = hl_memory_retype(c->parent, HL_OBJ_MEMORY, R_BITS, 1, c->r)) ||
	    (err = hl_memory_retype(c->parent, HL_OBJ_CSPACE, WCS_BITS, 1, c->w)) ||
	    (err = hl_cspace_copy(c->w, W_SELF, c->w, HL_R_ALL)) ||
	    (err = hl_cspace_copy(c->w, W_OWN_AS, HL_SLOT_ASPACE, HL_R_ALL)) ||
	    (err = hl_cspace_move(c->w, W_MEM, c->r)) ||
	    (err = hl_cspace_copy(c->w, W_DONE, c->ep_done, HL_R_WRITE)) ||
	    (err = hl_cspace_copy(c->w, W_DEBUG, HL_SLOT_DEBUG, HL_R_ALL)))
		return err;
	memset(&darg, 0, sizeof(darg));
	darg.seed = mix(a->seed ^ mix(round));
	darg.calls = calls;
	darg.ncpus = c->ncpus;
	darg.round = round;
	darg.done = W_DONE;
	darg.avoid_known = a->avoid_known;
	darg.trace = a->trace;
	if ((err = hl_thread_configure(c->tcb, c->w, HL_SLOT_ASPACE, c->ipc, c->ipc_va)) ||
	    (err = hl_thread_write_regs(c->tcb, (hl_word_t)driver_entry, c->stack_top - 8,
	                                (hl_word_t)&darg, 0)) ||
	    (err = hl_thread_set_priority(c->tcb, DRIVER_PRIO)) ||
	    (err = hl_thread_set_affinity(c->tcb, round % c->ncpus)))
		return err;
	return hl_thread_resume(c->tcb);
}

/*
 * Wait for the driver's done call (true) or its fault (false, reported);
 * other messages (the driver's own sends to W_DONE) are ignored. Either way
 * the driver then waits for a reply, off every CPU, until it is suspended
 * and given the next round's registers. (It does not spin: a spinning
 * driver on the controller's CPU would never run again to reach its call.)
 */
static bool wait_round(struct ctl *c, uint32_t round)
{
	for (;;) {
		hl_word_t info = 0, badge = 0;
		struct hl_msg msg = {{0}};
		long err = hl_syscall(HL_SYS_RECV, c->ep, &info, &msg, &badge);
		if (err == HL_OK && badge == BADGE_FAULT) {
			rt_printf("# scfuzz: round %u: the driver faulted: vector %lu error %#lx "
			          "address %#lx rip %#lx\n",
			          round, msg.w[0], msg.w[1], msg.w[2], msg.w[3]);
			return false;
		}
		if (err == HL_OK && badge == BADGE_DONE && HL_MSG_LABEL(info) == DONE_LABEL &&
		    darg.finished)
			return true;
	}
}

static void exit_qemu(unsigned code)
{
	hl_cptr_t port = rt_slot();

	if (hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, code);
}

static void print_ops(const struct fuzz_stats *t)
{
	rt_printf("# scfuzz: calls (ok) per operation:");
	for (int i = 0; i < 32 && op_names[i]; i++)
		rt_printf(" %s %lu (%lu)", op_names[i], t->per_op[i], t->per_op_ok[i]);
	rt_printf("\n");
}

/* The round parent after a revoke: all free, and as many live objects as before. */
static bool check_memory(struct ctl *c, uint32_t round, hl_word_t free0, hl_word_t live0)
{
	hl_word_t free1 = 0, live1 = 0;

	hl_memory_info(c->parent, NULL, NULL, &free1, &live1);
	if (free1 == free0 && live1 == live0)
		return true;
	rt_printf("# scfuzz: round %u: leak: free %lu -> %lu bytes, live objects %lu -> %lu\n",
	          round, free0, free1, live0, live1);
	return false;
}

int main(struct rt *rt)
{
	static struct ctl c;
	struct args a;
	struct fuzz_stats sum = {0};
	uint32_t rounds = 0, leaky = 0;
	bool faulted = false;

	read_args(rt->bi, &a);
	rt_printf("scfuzz: seed %lu calls %lu per round %lu secs %lu cpus %u%s%s\n", a.seed,
	          a.calls, a.per_round, a.secs, rt->bi->ncpus,
	          a.leak ? " leak (self-test: must fail)" : "",
	          a.avoid_known ? " avoid-known" : "");
	if (!ctl_setup(&c, rt->bi)) {
		rt_printf("# scfuzz: setup failed\n");
		exit_qemu(1);
		return 1;
	}
	uint64_t t0 = fz_rdtsc(), tsc_ms = rt->bi->tsc_hz / 1000;
	while (sum.calls < a.calls && !faulted) {
		if (a.secs && (fz_rdtsc() - t0) / tsc_ms >= a.secs * 1000)
			break;
		hl_word_t free0 = 0, live0 = 0;
		hl_memory_info(c.parent, NULL, NULL, &free0, &live0);
		uint64_t n = a.calls - sum.calls < a.per_round ? a.calls - sum.calls : a.per_round;
		long err = start_round(&c, &a, ++rounds, n);
		if (err) {
			rt_printf("# scfuzz: round %u: could not start (error %ld): memory not "
			          "given back?\n",
			          rounds, err);
			leaky++;
			break;
		}
		if (a.trace)
			rt_printf("# scfuzz: round %u started: %lu calls, driver on cpu %u\n",
			          rounds, n, rounds % c.ncpus);
		faulted = !wait_round(&c, rounds);
		hl_thread_suspend(c.tcb);
		if (a.leak && rounds == 1)
			rt_alloc(HL_OBJ_ENDPOINT,
			         0); /* self-test: one object more than before the round */
		hl_cspace_revoke(HL_SLOT_CSPACE, c.parent);
		leaky += !check_memory(&c, rounds, free0, live0);
		for (int i = 0; i < 32; i++)
			sum.per_op[i] += darg.st.per_op[i],
			    sum.per_op_ok[i] += darg.st.per_op_ok[i];
		sum.calls += darg.st.calls, sum.ok += darg.st.ok, sum.spawned += darg.st.spawned;
		sum.invalid += darg.st.invalid, sum.invalid_refused += darg.st.invalid_refused;
		sum.hash = mix(sum.hash ^ darg.st.hash);
		if (rounds % 50 == 0) /* long runs show their progress */
			rt_printf("# scfuzz: round %u: %lu calls in %lu ms\n", rounds, sum.calls,
			          (fz_rdtsc() - t0) / tsc_ms);
	}
	uint64_t ms = (fz_rdtsc() - t0) / tsc_ms;
	/* The same sizes once more after the last round: they must fit again. */
	hl_word_t free0 = 0, live0 = 0;
	hl_memory_info(c.parent, NULL, NULL, &free0, &live0);
	bool again = hl_memory_retype(c.parent, HL_OBJ_MEMORY, R_BITS, 1, c.r) == HL_OK &&
	             hl_memory_retype(c.parent, HL_OBJ_CSPACE, WCS_BITS, 1, c.w) == HL_OK;
	hl_cspace_revoke(HL_SLOT_CSPACE, c.parent);
	again &= check_memory(&c, rounds + 1, free0, live0);
	print_ops(&sum);
	rt_printf("# scfuzz: %lu calls (%lu ok, %lu threads started) in %u rounds, %lu ms, %lu "
	          "calls/s on %u cpus; "
	          "seed %lu, result hash %016lx\n",
	          sum.calls, sum.ok, sum.spawned, rounds, ms, ms ? sum.calls * 1000 / ms : 0,
	          c.ncpus, a.seed, sum.hash);
	bool refused = sum.invalid == sum.invalid_refused, clean = !leaky && again;
	rt_printf("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: scfuzz\n    1..3\n");
	rt_printf("    %s 1 no_leak_after_any_round\n", clean ? "ok" : "not ok");
	rt_printf("    %s 2 invalid_calls_refused # %lu of %lu\n", refused ? "ok" : "not ok",
	          sum.invalid_refused, sum.invalid);
	rt_printf("    %s 3 driver_never_faulted\n", faulted ? "not ok" : "ok");
	bool pass = clean && refused && !faulted;
	rt_printf("%s 1 scfuzz\n# scfuzz: %s\n", pass ? "ok" : "not ok",
	          pass ? "passed" : "FAILED");
	exit_qemu(pass ? 0 : 1);
	return 0;
}
