/*
 * Kernel micro-benchmarks, run as the root task of the bench boot module
 * under QEMU TCG with -icount shift=0, where the TSC counts executed
 * instructions (all CPUs' instructions, under icount). Prints
 * "BENCH <name> <value> instructions" lines that tools/bench_kernel.py
 * records. Each figure is the median over ROUNDS of ITERS iterations,
 * minus the empty loop.
 */
#include "kbench.h"

#include <lib/string.h>

#define ROUNDS 5
#define ITERS  1000

#define rdtsc bench_rdtsc

static uint64_t median(uint64_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t x = v[j];
			v[j] = v[j - 1], v[j - 1] = x;
		}
	return v[n / 2];
}

void bench_report(const char *name, uint64_t value)
{
	rt_printf("BENCH %s %lu instructions\n", name, value);
}

static uint64_t empty_loop(void)
{
	uint64_t t0 = rdtsc();
	for (int i = 0; i < ITERS; i++)
		__asm__ volatile("" ::: "memory");
	return rdtsc() - t0;
}

static void bench_null(void)
{
	uint64_t v[ROUNDS], e[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		e[r] = empty_loop();
		uint64_t t0 = rdtsc();
		for (int i = 0; i < ITERS; i++)
			hl_null();
		v[r] = rdtsc() - t0;
	}
	bench_report("syscall.hallows.null_instructions",
	             (median(v, ROUNDS) - median(e, ROUNDS)) / ITERS);
}

/* ---- threads in other address spaces ---- */

static hl_cptr_t ep, ntfn;
static volatile uint64_t *shared; /* a page mapped in every address space at SHARED_VA */

extern char __executable_start[], _end[];

/*
 * A thread running fn(0) in a new address space holding copies of this
 * program's pages at the same addresses, the shared page, and its own
 * stack and IPC buffer. Same capability space.
 */
hl_cptr_t bench_spawn(void (*fn)(void *), uint8_t prio, uint32_t cpu, hl_cptr_t shared_frame)
{
	hl_cptr_t as = rt_alloc(HL_OBJ_ASPACE, 0), tcb = rt_alloc(HL_OBJ_THREAD, 0);
	uint64_t lo = (uint64_t)__executable_start & ~4095ull,
	         hi = ((uint64_t)_end + 4095) & ~4095ull;
	uint64_t tmp = rt_self.heap_next;

	rt_self.heap_next += 2 * 4096;
	for (uint64_t va = lo; va < hi; va += 4096) {
		hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);
		if (rt_map_frame(HL_SLOT_ASPACE, f, tmp, HL_R_READ | HL_R_WRITE))
			return 0;
		memcpy((void *)tmp, (void *)va, 4096);
		hl_aspace_unmap(HL_SLOT_ASPACE, f);
		if (rt_map_frame(as, f, va, HL_R_READ | HL_R_WRITE | HL_R_EXEC))
			return 0;
	}
	hl_cptr_t stack = rt_alloc(HL_OBJ_FRAME, 12), ipc = rt_alloc(HL_OBJ_FRAME, 12),
	          sh = rt_slot();
	hl_cspace_copy(HL_SLOT_CSPACE, sh, shared_frame, HL_R_ALL);
	if (rt_map_frame(as, stack, 0x600000000ull, HL_R_READ | HL_R_WRITE) ||
	    rt_map_frame(as, ipc, 0x600002000ull, HL_R_READ | HL_R_WRITE) ||
	    rt_map_frame(as, sh, SHARED_VA, HL_R_READ | HL_R_WRITE))
		return 0;
	if (hl_thread_configure(tcb, HL_SLOT_CSPACE, as, ipc, 0x600002000ull) ||
	    hl_thread_write_regs(tcb, (hl_word_t)fn, 0x600001000ull - 8, 0, 0) ||
	    hl_thread_set_priority(tcb, prio) || hl_thread_set_affinity(tcb, cpu) ||
	    hl_thread_resume(tcb))
		return 0;
	return tcb;
}

static void echo_server(void *arg)
{
	hl_word_t info = 0, badge;
	struct hl_msg m = {{0}};

	(void)arg;
	hl_syscall(HL_SYS_RECV, ep, &info, &m, &badge);
	for (;;) {
		info = HL_MSGINFO(0, 1, 0);
		hl_syscall(HL_SYS_REPLY_RECV, ep, &info, &m, &badge);
	}
}

static uint64_t ipc_rounds(void)
{
	uint64_t v[ROUNDS], e[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		e[r] = empty_loop();
		uint64_t t0 = rdtsc();
		for (int i = 0; i < ITERS; i++) {
			hl_word_t info = HL_MSGINFO(0, 1, 0);
			struct hl_msg m = {{(hl_word_t)i}};
			hl_syscall(HL_SYS_CALL, ep, &info, &m, NULL);
		}
		v[r] = rdtsc() - t0;
	}
	return (median(v, ROUNDS) - median(e, ROUNDS)) / ITERS;
}

/* Notification wake: the waiter (higher priority) stamps when it runs again. */
static void ntfn_waiter(void *arg)
{
	hl_word_t info = 0, bits;
	struct hl_msg m = {{0}};

	(void)arg;
	for (;;) {
		hl_syscall(HL_SYS_RECV, ntfn, &info, &m, &bits);
		shared[1] = rdtsc();
	}
}

static void bench_notify(void)
{
	uint64_t v[ROUNDS];
	hl_word_t info = 0;
	struct hl_msg m = {{0}};

	for (int r = 0; r < ROUNDS; r++) {
		uint64_t sum = 0;
		for (int i = 0; i < ITERS; i++) {
			uint64_t t0 = rdtsc();
			hl_syscall(HL_SYS_SEND, ntfn, &info, &m, NULL);
			sum += shared[1] - t0;
		}
		v[r] = sum / ITERS;
	}
	bench_report("notify.hallows.wake_instructions", median(v, ROUNDS));
}

/* Two threads of equal priority yielding to each other. */
static void yielder(void *arg)
{
	(void)arg;
	for (;;)
		hl_yield();
}

static void bench_yield(void)
{
	uint64_t v[ROUNDS], e[ROUNDS];

	for (int r = 0; r < ROUNDS; r++) {
		e[r] = empty_loop();
		uint64_t t0 = rdtsc();
		for (int i = 0; i < ITERS; i++)
			hl_yield();
		v[r] = rdtsc() - t0;
	}
	/* Each iteration is two switches: to the other thread and back. */
	bench_report("sched.hallows.yield_switch_instructions",
	             (median(v, ROUNDS) - median(e, ROUNDS)) / ITERS / 2);
}

/* Create (retype, configure, set registers, resume) and destroy (delete) a thread. */
static void bench_thread_create(hl_cptr_t mem)
{
	uint64_t v[ROUNDS];
	hl_cptr_t slot = rt_slot();
	hl_cptr_t ipc = rt_alloc(HL_OBJ_FRAME, 12);

	for (int r = 0; r < ROUNDS; r++) {
		uint64_t t0 = rdtsc();
		for (int i = 0; i < ITERS / 10; i++) {
			hl_memory_retype(mem, HL_OBJ_THREAD, 0, 1, slot);
			hl_thread_configure(slot, HL_SLOT_CSPACE, HL_SLOT_ASPACE, ipc,
			                    0x700000000ull);
			hl_thread_write_regs(slot, (hl_word_t)yielder, 0x700001000ull, 0, 0);
			hl_thread_set_priority(slot, 1);
			hl_thread_resume(slot);
			hl_cspace_delete(HL_SLOT_CSPACE, slot);
		}
		v[r] = (rdtsc() - t0) / (ITERS / 10);
	}
	bench_report("thread.hallows.create_destroy_instructions", median(v, ROUNDS));
}

int main(struct rt *rt)
{
	hl_cptr_t shf = rt_alloc(HL_OBJ_FRAME, 12);

	ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	ntfn = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	if (!shf || rt_map_frame(HL_SLOT_ASPACE, shf, SHARED_VA, HL_R_READ | HL_R_WRITE)) {
		rt_printf("kbench: setup failed\n");
		return 1;
	}
	shared = (volatile uint64_t *)SHARED_VA;
	hl_thread_set_priority(HL_SLOT_THREAD, 100);
	bench_null();

	hl_cptr_t srv = bench_spawn(echo_server, 100, 0, shf);
	if (!srv) {
		rt_printf("kbench: cannot start the server\n");
		return 1;
	}
	bench_report("ipc.hallows.roundtrip_instructions", ipc_rounds());
	if (rt->bi->ncpus > 1) {
		hl_thread_set_affinity(srv, 1);
		bench_report("ipc.hallows.roundtrip_xcpu_instructions", ipc_rounds());
	}
	hl_thread_suspend(srv);

	if (bench_spawn(ntfn_waiter, 100, 0, shf)) {
		hl_thread_set_priority(HL_SLOT_THREAD, 99); /* the waiter preempts us on wake */
		bench_notify();
		hl_thread_set_priority(HL_SLOT_THREAD, 99);
	}
	hl_cptr_t y = bench_spawn(yielder, 99, 0, shf);
	if (y) {
		bench_yield();
		hl_thread_suspend(y);
	}
	hl_cptr_t mem = rt_alloc(HL_OBJ_MEMORY, 14);
	if (mem)
		bench_thread_create(mem);
	bench_ring(rt->bi->ncpus);
	bench_msi(shf, ROUNDS, ITERS / 10); /* last: it leaves this thread at priority 98 */
	rt_printf("BENCH-DONE\n");
	hl_cptr_t port = rt_slot();
	if (hl_ioport_control_issue(HL_SLOT_IOPORT_CONTROL, 0xf4, 4, port) == HL_OK)
		hl_ioport_out(port, 0xf4, 1, 0);
	return 0;
}
