/*
 * kvclient: drives kvstore (user/apps/kvstore) with a seeded stream of puts
 * and gets (argument: the seed, printed), up to 8 in flight, and checks
 * every response: in order, exactly once (no duplicate, no gap), each get
 * answering the value and clock stamp of the last acknowledged put of its
 * key. It ends with a get of every key and a status request, whose
 * recovery counters it prints. Run by make test-snapshot.
 */
#include "apps/kvstore/kv.h"
#include <hallows/rt.h>
#include <lib/string.h>

#define WINDOW 8

struct model {
	uint32_t used;
	uint64_t value, stamp;
};

static struct model model[KV_KEYS];
static struct kv_req *reqs;
static unsigned failures, dups, gaps;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond) && failures++ < 10) {                                                  \
			rt_printf("kvclient: FAILED: " __VA_ARGS__);                               \
			rt_printf("\n");                                                           \
		}                                                                                  \
	} while (0)

static void check(const struct kv_resp *r, uint32_t expect, uint32_t total)
{
	if (r->id != expect) {
		if (r->id < expect)
			dups++;
		else
			gaps++;
		CHECK(0, "response %u where %u was next (%s)", r->id, expect,
		      r->id < expect ? "duplicate" : "gap");
		return;
	}
	const struct kv_req *q = &reqs[expect];
	struct model *m = &model[q->key % KV_KEYS];
	CHECK(r->op == q->op, "response %u: op %u, request op %u", r->id, r->op, q->op);
	if (q->op == KV_PUT) {
		CHECK(r->found && r->value == q->value, "put %u: acknowledged %llu, sent %llu",
		      r->id, (unsigned long long)r->value, (unsigned long long)q->value);
		CHECK(!m->used || r->stamp > m->stamp, "put %u: stamp %llu not after %llu", r->id,
		      (unsigned long long)r->stamp, (unsigned long long)m->stamp);
		m->used = 1, m->value = q->value, m->stamp = r->stamp;
	} else if (q->op == KV_GET) {
		CHECK(r->found == m->used && r->value == m->value && r->stamp == m->stamp,
		      "get %u of key %u: %u %llu@%llu, acknowledged %u %llu@%llu", r->id, q->key,
		      r->found, (unsigned long long)r->value, (unsigned long long)r->stamp, m->used,
		      (unsigned long long)m->value, (unsigned long long)m->stamp);
	} else {
		CHECK(r->value == total - 1, "status: %llu requests applied before it, %u sent",
		      (unsigned long long)r->value, total - 1);
		rt_printf("kvclient: server recovered from %u crashes, %u checkpoints, %u inputs "
		          "replayed, %u responses suppressed\n",
		          r->crashes, r->checkpoints, r->replayed, r->suppressed);
	}
}

int main(struct rt *rt)
{
	struct hl_ring req, resp;
	(void)rt;
	uint64_t seed = rt_number(rt_arg(1), 1), s = seed | 1;
	uint32_t random = (uint32_t)rt_number(rt_config("requests"), 1000);
	uint32_t total = random + KV_KEYS + 1;

	if (rt_channel("kv-req", &req) != HL_RING_OK ||
	    rt_channel("kv-resp", &resp) != HL_RING_OK ||
	    !(reqs = rt_calloc(total, sizeof(*reqs)))) {
		rt_printf("kvclient: FAILED: no channels or memory\n");
		return 1;
	}
	for (uint32_t i = 0; i < total; i++) {
		struct kv_req *q = &reqs[i];
		q->id = i;
		if (i < random) {
			uint64_t x = kv_rand(&s);
			q->op = x % 10 < 6 ? KV_PUT : KV_GET;
			q->key = (uint32_t)(x >> 8) % 64; /* 64 hot keys: gets find earlier puts */
			q->value = kv_rand(&s);
		} else if (i < total - 1) {
			q->op = KV_GET, q->key = i - random; /* every key, at the end */
		} else {
			q->op = KV_STATS;
		}
	}
	rt_printf("kvclient: seed %llu, %u requests\n", (unsigned long long)seed, total);
	uint32_t sent = 0, got = 0;
	while (got < total) {
		while (sent < total && sent - got < WINDOW && hl_ring_reserve(&req, 1) == 1) {
			memcpy(hl_ring_entry(&req, 0), &reqs[sent++], sizeof(struct kv_req));
			hl_ring_publish(&req, 1);
		}
		long k = hl_ring_peek(&resp, WINDOW);
		if (k < 0) {
			rt_printf("kvclient: FAILED: response ring corrupt\n");
			return 1;
		}
		for (long i = 0; i < k; i++) {
			struct kv_resp r;
			memcpy(&r, hl_ring_entry(&resp, (uint32_t)i), sizeof(r));
			check(&r, got, total);
			if (r.id == got)
				got++;
		}
		hl_ring_release(&resp, (uint32_t)k);
		if (!k && got < total)
			hl_ring_wait(&resp);
		if (failures > 10)
			break;
	}
	rt_printf("kvclient: %u responses for %u requests, %u duplicates, %u gaps, %u failures\n",
	          got, total, dups, gaps, failures);
	if (!failures)
		rt_printf("kvclient: every acknowledged update present, no duplicate, no gap\n");
	return 0;
}
