/*
 * kvstore: a small key-value store served over two manifest channels
 * (kv-req in, kv-resp out) under crash recovery with input replay
 * (hallows/replay.h). Argument: the seed of its crash schedule (printed):
 * `crashes` injected faults at seeded inputs and points (0: after reading
 * the request, 1: after applying it, 2: after answering it). Every put
 * stores the clock reading it was made at, so a replay that read the clock
 * again instead of the log would answer later gets differently.
 * Run by make test-snapshot with kvclient (tests/user/manifest-kvreplay).
 */
#include "apps/kvstore/kv.h"
#include <hallows/replay.h>
#include <lib/string.h>

struct entry {
	uint32_t used;
	uint64_t value, stamp;
};

static struct entry *table; /* heap: covered by the snapshot like the rest */
static uint64_t applied;    /* requests applied (since the checkpoint: restored with it) */

static __attribute__((noinline)) void crash(uint32_t phase, uint32_t id)
{
	*(volatile uint64_t *)(uint64_t)(8 + 8 * phase) = id; /* a page fault at 0x8, 0x10, 0x18 */
}

static void serve(void *arg)
{
	(void)arg;
	table = rt_calloc(KV_KEYS, sizeof(*table));
	for (;;) {
		struct kv_req q = {0};
		struct kv_resp r = {0};
		rp_recv(&q, sizeof(q));
		if (rp_crash_point(0))
			crash(0, q.id);
		r.id = q.id, r.op = q.op;
		struct entry *e = &table[q.key % KV_KEYS];
		if (q.op == KV_PUT) {
			e->used = 1, e->value = q.value, e->stamp = rp_clock();
			r.found = 1, r.value = e->value, r.stamp = e->stamp;
		} else if (q.op == KV_GET) {
			r.found = e->used, r.value = e->value, r.stamp = e->stamp;
		} else if (q.op == KV_STATS) {
			const struct rp_state *s = rp_stats();
			r.crashes = (uint32_t)s->crashes, r.checkpoints = (uint32_t)s->checkpoints;
			r.replayed = (uint32_t)s->replayed, r.suppressed = (uint32_t)s->suppressed;
			r.value = applied;
		}
		applied++;
		if (rp_crash_point(1))
			crash(1, q.id);
		rp_send(&r, sizeof(r));
		if (rp_crash_point(2))
			crash(2, q.id);
	}
}

int main(struct rt *rt)
{
	static struct rp_service svc;
	(void)rt;
	uint64_t seed = rt_number(rt_arg(1), 1);
	uint64_t requests = rt_number(rt_config("requests"), 1000);
	uint32_t crashes = (uint32_t)rt_number(rt_config("crashes"), 6);
	uint32_t interval = (uint32_t)rt_number(rt_config("checkpoint-every"), 32);
	long err = rp_init(&svc, 20, "kv-req", "kv-resp", interval);

	if (err) {
		rt_printf("kvstore: FAILED: rp_init: %ld\n", err);
		return 1;
	}
	/* crashes distinct (input, point) pairs in increasing order, spread over the run */
	uint64_t s = seed | 1, at = 0;
	uint32_t n = 0;
	rt_printf("kvstore: seed %llu, %u crashes among %llu requests, checkpoint every %u\n",
	          (unsigned long long)seed, crashes, (unsigned long long)requests, interval);
	for (uint32_t i = 0; i < crashes && i < RP_MAX_INJECT; i++) {
		uint64_t span = requests / (crashes + 1);
		at += 1 + kv_rand(&s) % (span ? span : 1);
		uint32_t phase = (uint32_t)(kv_rand(&s) % 3);
		if (at < requests && rp_inject(&svc, at, phase) == HL_OK) {
			rt_printf("kvstore: crash %u planned at request %llu, point %u\n", ++n,
			          (unsigned long long)at, phase);
		}
	}
	uint32_t record = (uint32_t)rt_number(rt_config("record-crash"), 0);
	if (record)
		rp_record(&svc, record);
	if (rt_arg(2) && !strcmp(rt_arg(2), "--replay")) {
		/* Deterministic replay for debugging: everything above was as in the recorded run.
		 */
		rt_printf("kvstore: replaying a recording\n");
		err = rp_debug_replay_ring(&svc);
		rt_printf("kvstore: replay %s (%ld)\n",
		          err ? "FAILED: did not reach the recorded crash"
		              : "reached the recorded crash",
		          err);
		return (int)err;
	}
	rt_printf("kvstore: serving\n");
	err = rp_run(&svc, serve, NULL);
	rt_printf("kvstore: FAILED: recovery stopped: %ld\n", err);
	return 1;
}
