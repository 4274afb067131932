/* The key-value protocol of kvstore and kvclient (crash recovery with input replay, issue 18):
 * requests on channel kv-req, responses on kv-resp, one entry each, in request order. */
#ifndef KV_PROTO_H
#define KV_PROTO_H

#include <stdint.h>

#define KV_KEYS 256

enum kv_op { KV_PUT = 1, KV_GET = 2, KV_STATS = 3 };

struct kv_req {
	uint32_t id; /* 0, 1, 2, ... */
	uint32_t op;
	uint32_t key;
	uint32_t pad;
	uint64_t value;
};

struct kv_resp {
	uint32_t id, op;
	uint32_t found, pad;
	uint64_t value;
	uint64_t stamp; /* the clock reading of the put that wrote the value */
	/* KV_STATS: the recovery counters */
	uint32_t crashes, checkpoints;
	uint32_t replayed, suppressed;
};
_Static_assert(sizeof(struct kv_resp) <= 64, "one ring entry");

/* The seeded sequences both sides derive (xorshift64*). */
static inline uint64_t kv_rand(uint64_t *s)
{
	*s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

#endif
