/*
 * Timed waits for ring 3 (docs/abi.md, "Timed wait"): nanoseconds to TSC
 * deadlines for HL_SYS_WAIT, a bounded notification wait and a sleep.
 */
#include <hallows/rt.h>
#include <hallows/syscall.h>

/* The notification rt_sleep_ns waits on: nobody signals it. Made on first use. */
static hl_cptr_t sleep_ntfn;

uint64_t rt_tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

uint64_t rt_ns_to_tsc(uint64_t ns)
{
	uint64_t hz = rt_self.bi && rt_self.bi->tsc_hz ? rt_self.bi->tsc_hz : 1000000000ull;
	uint64_t per_ms = hz / 1000 ? hz / 1000 : 1;

	/* Split so that no product overflows for any ns. */
	uint64_t whole = ns / 1000000, part = ns % 1000000 * per_ms / 1000000;
	return whole > ~0ull / per_ms ? ~0ull : whole * per_ms + part;
}

uint64_t rt_deadline_ns(uint64_t ns)
{
	uint64_t now = rt_tsc(), d = rt_ns_to_tsc(ns);

	return d >= HL_WAIT_FOREVER - now ? HL_WAIT_FOREVER - 1 : now + d;
}

long rt_wait_ns(hl_cptr_t ntfn, uint64_t ns, hl_word_t *word)
{
	return hl_wait(ntfn, ns == RT_FOREVER ? HL_WAIT_FOREVER : rt_deadline_ns(ns), word);
}

long rt_sleep_ns(uint64_t ns)
{
	uint64_t deadline = rt_deadline_ns(ns);

	for (int tries = 0; tries < 2; tries++) {
		hl_cptr_t n = __atomic_load_n(&sleep_ntfn, __ATOMIC_ACQUIRE);
		if (!n) {
			n = rt_alloc(HL_OBJ_NOTIFICATION, 0);
			if (!n)
				return HL_ERR_NO_MEMORY;
			__atomic_store_n(&sleep_ntfn, n, __ATOMIC_RELEASE);
		}
		long err = hl_wait(n, deadline, NULL);
		if (err == HL_ERR_TIMED_OUT)
			return HL_OK;
		if (err != HL_ERR_INVALID_CAP && err != HL_ERR_WRONG_TYPE)
			return err; /* HL_OK cannot come: nobody holds a capability to signal it */
		/* its slot was emptied (its memory revoked): make another */
		__atomic_compare_exchange_n(&sleep_ntfn, &n, 0, false, __ATOMIC_ACQ_REL,
		                            __ATOMIC_ACQUIRE);
	}
	return HL_ERR_INVALID_CAP;
}
