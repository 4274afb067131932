/*
 * Ring message cost (issue 12): instructions per message through a Hallows
 * Ring between two address spaces, batched and unbatched, with the
 * consumer on the producer's CPU and on the other CPU. Under TCG with
 * -icount shift=0 the TSC counts the instructions of all CPUs, so each
 * figure is everything both sides and the kernel executed (index stores,
 * fences, sleeps and notification wakeups included; a CPU waiting in hlt
 * executes none) divided by the messages.
 *
 * The ring (32 entries of 64 bytes) and a control block share one frame,
 * mapped at RING_VA here and at SHARED_VA in the consumer's space. Both
 * run at priority 99, so on one CPU the producer fills the ring, sleeps,
 * and the consumer drains it: the wakeups are amortized over the ring in
 * both modes, and "unbatched" differs only in taking and publishing one
 * entry per call.
 */
#include <hallows/rt.h>

#include "kbench.h"

#define RING_VA      0x510000000ull
#define RING_ENTRIES 32
#define RING_ENTRY   64
#define RING_MSGS    20000
#define CTL_OFF      3072 /* the control block, after the ring's 256 + 32 * 64 bytes */

struct ring_ctl {
	volatile uint32_t batch;  /* entries per peek (1 or RING_ENTRIES) */
	volatile uint64_t target; /* signal ntfn_done when this many were consumed */
	volatile uint64_t bad;
};

static hl_cptr_t ntfn_prod, ntfn_cons, ntfn_done; /* what each end waits on; the end of a round */

/* The consumer, in its own address space: checks every sequence number, forever. */
static void ring_consumer(void *arg)
{
	struct hl_ring r;
	struct hl_ring_ops ops = rt_ring_ops(ntfn_cons, ntfn_prod);
	struct ring_ctl *ctl = (struct ring_ctl *)(SHARED_VA + CTL_OFF);
	uint64_t next = 0;

	(void)arg;
	if (hl_ring_attach(&r, (void *)SHARED_VA, CTL_OFF, RING_ENTRIES, RING_ENTRY, false, &ops,
	                   false))
		for (;;)
			hl_yield();
	for (;;) {
		long k = hl_ring_peek(&r, ctl->batch);
		if (k == 0) {
			hl_ring_wait(&r);
			continue;
		}
		for (long i = 0; i < k; i++)
			ctl->bad +=
			    *(const uint64_t *)hl_ring_entry(&r, (uint32_t)i) != next + (uint64_t)i;
		hl_ring_release(&r, (uint32_t)k);
		next += (uint64_t)k;
		if (next == ctl->target) {
			hl_word_t info = 0;
			struct hl_msg m = {{0}};
			hl_syscall(HL_SYS_SEND, ntfn_done, &info, &m, NULL);
		}
	}
}

/* Send RING_MSGS messages `batch` at a time; instructions per message, or 0 if any was wrong. */
static uint64_t ring_round(struct hl_ring *r, struct ring_ctl *ctl, uint32_t batch, uint64_t *sent)
{
	uint64_t target = *sent + RING_MSGS, bad0 = ctl->bad;
	hl_word_t info = 0, bits;
	struct hl_msg m = {{0}};

	ctl->batch = batch, ctl->target = target;
	uint64_t t0 = bench_rdtsc();
	while (*sent < target) {
		long k = hl_ring_reserve(r, batch);
		if (k == 0) {
			hl_ring_wait(r);
			continue;
		}
		if (k < 0)
			return 0;
		for (long i = 0; i < k; i++)
			*(uint64_t *)hl_ring_entry(r, (uint32_t)i) = *sent + (uint64_t)i;
		hl_ring_publish(r, (uint32_t)k);
		*sent += (uint64_t)k;
	}
	/* Wait (not spin: a spinning CPU would count) until the consumer has the last one. */
	hl_syscall(HL_SYS_RECV, ntfn_done, &info, &m, &bits);
	uint64_t cost = (bench_rdtsc() - t0) / RING_MSGS;
	return ctl->bad == bad0 ? cost : 0;
}

/* A fresh ring and a consumer on `cpu`; the batched and unbatched figures for that placement. */
static void ring_pair(uint32_t cpu, const char *unbatched, const char *batched, uint64_t va)
{
	hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12);
	struct hl_ring r;
	struct ring_ctl *ctl = (struct ring_ctl *)(va + CTL_OFF);
	uint64_t sent = 0;

	ntfn_prod =
	    rt_alloc(HL_OBJ_NOTIFICATION, 0); /* set before the consumer's pages are copied */
	ntfn_cons = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	ntfn_done = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	struct hl_ring_ops ops = rt_ring_ops(ntfn_prod, ntfn_cons);
	if (!f || !ntfn_prod || !ntfn_cons || !ntfn_done ||
	    rt_map_frame(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE) ||
	    hl_ring_attach(&r, (void *)va, CTL_OFF, RING_ENTRIES, RING_ENTRY, true, &ops, true)) {
		rt_printf("kbench: ring setup failed\n");
		return;
	}
	ctl->batch = 1, ctl->target = ~0ull;
	hl_cptr_t c = bench_spawn(ring_consumer, 99, cpu, f);
	if (!c) {
		rt_printf("kbench: cannot start the ring consumer\n");
		return;
	}
	bench_report(unbatched, ring_round(&r, ctl, 1, &sent));
	bench_report(batched, ring_round(&r, ctl, RING_ENTRIES, &sent));
	rt_printf(
	    "kbench: ring to cpu %u: %lu messages, producer slept %lu times, signalled %lu times\n",
	    cpu, sent, r.sleeps, r.signals);
	hl_thread_suspend(c);
}

/* Each placement gets its own ring and a consumer spawned on its CPU. */
void bench_ring(uint32_t ncpus)
{
	hl_thread_set_priority(HL_SLOT_THREAD, 99);
	ring_pair(0, "ring.hallows.msg_unbatched_same_cpu_instructions",
	          "ring.hallows.msg_batched_same_cpu_instructions", RING_VA);
	if (ncpus > 1)
		ring_pair(1, "ring.hallows.msg_unbatched_xcpu_instructions",
		          "ring.hallows.msg_batched_xcpu_instructions", RING_VA + 0x10000);
}
