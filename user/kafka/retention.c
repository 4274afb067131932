/* Time- and size-based retention of topics whose cleanup.policy includes
 * delete: whole segments are dropped from the old end of each partition,
 * never the active one, with Kafka's rules (a segment goes when its newest
 * batch timestamp is more than retention.ms old, or while the partition
 * stays at least retention.bytes without it). Checked once a second.
 * Nothing is logged: after a crash a dropped segment that was not yet
 * reused comes back and is dropped again at the next check. */
#include "broker_int.h"

#define RETENTION_CHECK_MS 1000

/* Apply the retention of conf c to partition p; returns segments dropped. */
static uint32_t retain_part(struct broker *b, struct store_part *p, const struct tconf *c,
                            int64_t wall)
{
	uint64_t bytes;
	int64_t max_ts;
	uint32_t dropped = 0;

	while (store_part_oldest(b->st, p, &bytes, &max_ts)) {
		bool by_time = c->retention_ms >= 0 && wall >= 0 && wall - max_ts > c->retention_ms;
		bool by_size = c->retention_bytes >= 0 &&
		               store_part_bytes(b->st, p) - bytes >= (uint64_t)c->retention_bytes;
		if (!by_time && !by_size)
			break;
		if (store_part_drop_oldest(b->st, p))
			break;
		dropped++;
	}
	return dropped;
}

void retention_poll(struct broker *b, uint64_t now)
{
	compact_poll(b, now); /* compaction (compact.c) runs in slices here */
	if (now - b->last_retention < RETENTION_CHECK_MS)
		return;
	b->last_retention = now;

	int64_t wall = b->pl.wall_ms ? (int64_t)b->pl.wall_ms(b->pl.ctx) : -1;
	uint32_t n = store_topic_count(b->st);
	for (uint32_t t = 0; t < n; t++) {
		const struct tconf *c = &b->tconf[t];
		uint32_t len, dropped = 0;
		const char *name = store_topic_name(b->st, t, &len);
		if (!(c->cleanup & CLEANUP_DELETE) || topic_is_internal(name, len))
			continue;
		for (uint32_t k = 0; k < store_topic_parts(b->st, t); k++)
			dropped += retain_part(b, store_part_get(b->st, t, k), c, wall);
		if (dropped)
			broker_log(b, "broker: retention dropped segments of topic", "", t);
	}
	meta_compact(b);
}
