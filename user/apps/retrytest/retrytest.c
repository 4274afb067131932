/*
 * retrytest: the runtime's retry API (hallows/retry.h) in a partition
 * (the root task is never snapshotted). Four requests run under a guard:
 * one that returns (its writes stay), one that writes and then faults
 * (everything it wrote, its heap allocations included, is rolled back),
 * one that writes more pages than the snapshot can copy (stopped by the
 * snapshot's out-of-memory fault, rolled back), and one that returns
 * after the rollbacks. Run by make test-snapshot (mk/snapshot.mk). With
 * --refused (a partition with `snapshot refuse`) it checks that its own
 * snapshot is refused.
 */
#include <hallows/retry.h>
#include <lib/string.h>

#define WORDS (8 * 512) /* 8 pages */
#define BIG   128       /* pages: more than the 2^19-byte snapshot can copy (about 90) */

static volatile uint64_t data[WORDS] __attribute__((aligned(4096)));
static volatile uint8_t *big;
static unsigned failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			rt_printf("retrytest: FAILED: " __VA_ARGS__);                              \
			rt_printf("\n");                                                           \
		}                                                                                  \
	} while (0)

static void fill(void *arg)
{
	for (uint64_t i = 0; i < WORDS; i++)
		data[i] = (uint64_t)arg + i;
}

static void fill_then_crash(void *arg)
{
	fill(arg);
	for (int i = 0; i < 50; i++) /* heap state changes too */
		((volatile uint8_t *)rt_malloc(200))[0] = 1;
	volatile uint64_t *volatile null_ish = (volatile uint64_t *)8;
	*null_ish = 1; /* a null-pointer write */
}

static void write_too_much(void *arg)
{
	fill(arg);
	for (unsigned i = 0; i < BIG; i++)
		big[i * 4096ull] = 0xee;
}

static bool data_is(uint64_t v)
{
	for (uint64_t i = 0; i < WORDS; i++)
		if (data[i] != v + i)
			return false;
	return true;
}

int main(struct rt *rt)
{
	struct rt_guard g;
	long r, err;

	(void)rt;
	if (rt_arg(1) && !strcmp(rt_arg(1), "--refused")) {
		/* `snapshot refuse` in the manifest: the kernel refuses to cover this address space
		 */
		err = rt_guard_init(&g, 19);
		rt_printf("retrytest: %s (error %ld)\n",
		          err == HL_ERR_ILLEGAL_OP ? "snapshots refused as the manifest declares"
		                                   : "FAILED: a snapshot of a refusing partition",
		          err);
		return 0;
	}
	err = rt_guard_init(&g, 19);
	if (err) {
		rt_printf("retrytest: FAILED: rt_guard_init: error %ld\n", err);
		return 1;
	}
	big = rt_map_pages(BIG);
	CHECK(big != NULL, "no pages");
	void *before = rt_malloc(200);
	rt_free(before);

	r = rt_guard_run(&g, fill, (void *)1000);
	CHECK(r == RT_GUARD_OK && data_is(1000), "run 1 returned %ld", r);
	rt_printf("retrytest: run 1 returned: %d words written and kept\n", WORDS);

	r = rt_guard_run(&g, fill_then_crash, (void *)5000);
	CHECK(r == RT_GUARD_FAULTED && g.fault[HL_FAULT_VECTOR] == 14 &&
	          g.fault[HL_FAULT_ADDR] == 8,
	      "run 2 returned %ld, vector %lu addr %#lx", r, g.fault[0], g.fault[2]);
	CHECK(data_is(1000), "run 2's writes were not rolled back");
	void *after = rt_malloc(200);
	CHECK(after == before, "the heap was not rolled back (%p, before %p)", after, before);
	rt_free(after);
	rt_printf(
	    "retrytest: run 2 faulted (vector %lu at %#lx) and was rolled back: data and heap "
	    "as before\n",
	    g.fault[HL_FAULT_VECTOR], g.fault[HL_FAULT_ADDR]);

	for (unsigned i = 0; i < BIG; i++)
		big[i * 4096ull] = 0x11;
	r = rt_guard_run(&g, write_too_much, (void *)7000);
	CHECK(r == RT_GUARD_FAULTED && g.fault[HL_FAULT_VECTOR] == HL_FAULT_SNAPSHOT &&
	          g.fault[HL_FAULT_ERROR] == HL_ERR_NO_MEMORY,
	      "run 3 returned %ld, vector %#lx error %lu", r, g.fault[0], g.fault[1]);
	bool big_back = true;
	for (unsigned i = 0; i < BIG; i++)
		big_back &= big[i * 4096ull] == 0x11;
	CHECK(data_is(1000) && big_back, "run 3's writes were not rolled back");
	rt_printf("retrytest: run 3 ran out of snapshot memory (vector %#lx) and was rolled back\n",
	          g.fault[HL_FAULT_VECTOR]);

	r = rt_guard_run(&g, fill, (void *)9000);
	CHECK(r == RT_GUARD_OK && data_is(9000), "run 4 returned %ld", r);
	rt_printf("retrytest: run 4 returned after the rollbacks\n");
	rt_printf("retrytest: done, %u failures\n", failures);
	return 0;
}
