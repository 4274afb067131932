/* The log compactor (cleanup.policy=compact), Kafka's log cleaner for the
 * store: a partition becomes cleanable when the dirty part of its closed
 * segments (those not yet compacted and older than min.compaction.lag.ms)
 * reaches min.cleanable.dirty.ratio of them. A pass maps the latest
 * offset of every key in the dirty part, then rewrites the closed
 * segments from the log start to the end of that part, in groups that
 * fit one segment, keeping the latest record per key (tombstones until
 * delete.retention.ms past their first compaction). Offsets are kept;
 * the active segment is never touched. Work runs in slices from the
 * broker's periodic poll, at most SLICE_BYTES of input per call.
 * docs/broker.md, "Compaction". */
#include <lib/string.h>

#include "broker_int.h"

#define CHECK_MS    200u          /* how often idle partitions are looked at */
#define SLICE_BYTES (512u * 1024) /* input read per call */
#define MAP_SLOTS   (1u << 17)    /* key map: 98304 keys per pass, 3 MiB */
#define OUT_CAP     STORE_MAX_PAYLOAD
/* a compressed batch is decompressed up to this size (8 times the
 * largest batch); a larger one is kept whole (docs/broker.md) */
#define CODEC_CAP (8u * STORE_MAX_PAYLOAD)

enum { C_IDLE, C_MAP, C_WRITE };

struct compactor {
	int phase;
	uint32_t topic, part, next_topic, next_part;
	uint64_t cursor;   /* next offset to read */
	uint64_t dirty_lo; /* the dirty section mapped: [dirty_lo, map_end) */
	uint64_t map_end;  /* end of the last whole segment mapped */
	uint64_t dirty_end;
	uint64_t anchor_seq; /* the last dirty segment: the same partition? */
	uint64_t group_end;  /* end offset of the segments being rewritten */
	uint64_t last_check;
	/* a partition whose pass stopped on a stored batch it cannot parse
	 * is not tried again until its dirty section grows */
	uint32_t bad_topic, bad_part;
	uint64_t bad_end;
	bool bad;
	int64_t now; /* wall clock of the pass (tombstone horizons) */
	struct store_rewrite *rw;
	struct cmap map;
	struct ccodec cc; /* the platform's codecs: compressed batches */
	uint8_t *out;
	uint64_t bytes_in, bytes_out, passes; /* statistics */
	uint64_t pass_start, pass_bytes;      /* this pass: start (now_ms), bytes rewritten */
};

static int64_t wall(struct broker *b)
{
	return (int64_t)(b->pl.wall_ms ? b->pl.wall_ms(b->pl.ctx) : b->pl.now_ms(b->pl.ctx));
}

static struct store_part *cur_part(struct broker *b, struct compactor *c)
{
	if (c->topic >= store_topic_count(b->st) || c->part >= store_topic_parts(b->st, c->topic))
		return NULL;
	return store_part_get(b->st, c->topic, c->part);
}

static void pass_end(struct broker *b, struct compactor *c, const char *why)
{
	store_rewrite_abort(b->st, c->rw);
	c->rw = NULL;
	c->phase = C_IDLE;
	if (why)
		broker_log(b, why, "", (long long)c->topic);
}

/* Is the partition still the one the pass started on (a topic deleted
 * and another created under its id between slices is not)? */
static bool anchor_ok(struct broker *b, const struct compactor *c, struct store_part *p)
{
	struct store_seg_info si;

	for (uint32_t i = 0; i < store_part_nsegs(p); i++)
		if (!store_part_seg_info(b->st, p, i, &si) && si.seq == c->anchor_seq)
			return true;
	return false;
}

/* Index of p's segment starting at base, or -1. */
static int seg_at(struct broker *b, struct store_part *p, uint64_t base, struct store_seg_info *si)
{
	for (uint32_t i = 0; i < store_part_nsegs(p); i++)
		if (!store_part_seg_info(b->st, p, i, si) && si->base == base)
			return (int)i;
	return -1;
}

/* Is partition p of topic conf tc due for a pass? Sets the dirty range.
 * Rolls an active segment older than segment.ms on the way. */
static bool cleanable(struct broker *b, struct compactor *c, struct store_part *p,
                      const struct tconf *tc, int64_t now)
{
	uint64_t clean = 0, dirty = 0;
	struct store_seg_info si;
	uint32_t n = store_part_nsegs(p);
	bool in_dirty = false;

	if (!n)
		return false;
	if (!store_part_seg_info(b->st, p, n - 1, &si) && si.frames && si.first_ts >= 0 &&
	    now - si.first_ts >= tc->segment_ms && store_part_roll(b->st, p))
		broker_log(b, "compact: segment.ms roll failed, topic", "", c->topic);
	n = store_part_nsegs(p);
	c->dirty_lo = c->dirty_end = 0;
	for (uint32_t i = 0; i + 1 < n; i++) {
		if (store_part_seg_info(b->st, p, i, &si))
			return false;
		if (si.compacted && !in_dirty) {
			clean += si.bytes;
			continue;
		}
		if (tc->min_lag_ms > 0 && si.max_ts > now - tc->min_lag_ms)
			break; /* min.compaction.lag.ms: too young, and all after it */
		if (!in_dirty)
			c->dirty_lo = si.base;
		in_dirty = true;
		dirty += si.bytes;
		c->dirty_end = si.end;
		c->anchor_seq = si.seq;
	}
	if (!in_dirty || !dirty)
		return false;
	return dirty * 1000000 >= (uint64_t)tc->dirty_ppm * (clean + dirty);
}

/* Round-robin over the partitions of compacted topics for one due. */
static bool pick(struct broker *b, struct compactor *c, int64_t now)
{
	uint32_t nt = store_topic_count(b->st);

	for (uint32_t tries = 0; tries <= nt; tries++) {
		uint32_t t = c->next_topic < nt ? c->next_topic : 0;
		uint32_t np = store_topic_parts(b->st, t);
		uint32_t len;
		const char *name = store_topic_name(b->st, t, &len);
		if (!(b->tconf[t].cleanup & CLEANUP_COMPACT) || topic_is_internal(name, len) ||
		    c->next_part >= np) {
			c->next_topic = t + 1;
			c->next_part = 0;
			continue;
		}
		for (uint32_t k = c->next_part; k < np; k++) {
			c->topic = t;
			c->part = k;
			if (cleanable(b, c, store_part_get(b->st, t, k), &b->tconf[t], now) &&
			    !(c->bad && c->bad_topic == t && c->bad_part == k &&
			      c->bad_end == c->dirty_end)) {
				c->next_topic = t;
				c->next_part = k + 1;
				return true;
			}
		}
		c->next_topic = t + 1;
		c->next_part = 0;
	}
	return false;
}

/* One slice of the key map of [dirty_lo, dirty_end). A full map ends the
 * section at the last whole segment mapped (Kafka does the same). */
static void slice_map(struct broker *b, struct compactor *c, struct store_part *p)
{
	uint32_t budget = SLICE_BYTES;
	struct store_seg_info si;

	while (budget && c->cursor < c->dirty_end) {
		struct store_read rd;
		uint64_t from = c->cursor < store_part_start(p) ? store_part_start(p) : c->cursor;
		int err = store_read(b->st, p, from, budget, &rd);
		if (err || !rd.n) {
			store_read_release(b->st, &rd);
			pass_end(b, c, "compact: read failed mapping topic");
			return;
		}
		for (uint32_t i = 0; i < rd.n && c->cursor < c->dirty_end; i++) {
			const uint8_t *h = rd.ptr[i];
			if (compact_map_batch(&c->map, h, rd.len[i],
			                      txn_batch_state(b, c->topic, c->part, h))) {
				store_read_release(b->st, &rd);
				c->bad = true;
				c->bad_topic = c->topic;
				c->bad_part = c->part;
				c->bad_end = c->dirty_end;
				pass_end(b, c, "compact: malformed stored batch, topic left as is");
				return;
			}
			c->cursor = get_be64(h) + get_be32(h + 23) + 1;
			c->bytes_in += rd.len[i];
			budget = rd.len[i] >= budget ? 0 : budget - rd.len[i];
		}
		if (rd.next_offset > c->cursor)
			c->cursor = rd.next_offset;
		store_read_release(b->st, &rd);
		/* a segment boundary reached: that much is whole */
		int at = -1;
		for (uint32_t i = 0; i < store_part_nsegs(p); i++)
			if (!store_part_seg_info(b->st, p, i, &si) && !si.active &&
			    si.end <= c->cursor)
				at = (int)i;
		if (at >= 0 && !store_part_seg_info(b->st, p, (uint32_t)at, &si) &&
		    si.end > c->map_end)
			c->map_end = si.end;
		if (compact_map_full(&c->map))
			break;
	}
	if (c->cursor >= c->dirty_end || compact_map_full(&c->map)) {
		if (c->map_end <= c->dirty_lo) {
			pass_end(b, c, "compact: key map too small for one segment, topic");
			return;
		}
		c->phase = C_WRITE;
		c->group_end = 0;
	}
}

/* Start rewriting the next group: consecutive closed segments from
 * cursor whose frames fit one segment together, ending by map_end. */
static int group_begin(struct broker *b, struct compactor *c, struct store_part *p)
{
	struct store_seg_info si;
	struct store_stats st;
	uint64_t cap, sum = 0;
	int first = seg_at(b, p, c->cursor, &si);
	uint32_t n = 0;

	store_get_stats(b->st, &st);
	cap = (uint64_t)(st.seg_blocks - 1) * STORE_BLOCK;
	if (first < 0)
		return -1;
	while ((uint32_t)first + n + 1 < store_part_nsegs(p) &&
	       !store_part_seg_info(b->st, p, (uint32_t)first + n, &si) && si.end <= c->map_end &&
	       (n == 0 || sum + si.bytes <= cap)) {
		sum += si.bytes;
		c->group_end = si.end;
		n++;
	}
	if (!n)
		return -1;
	return store_rewrite_begin(b->st, p, (uint32_t)first, n, &c->rw);
}

/* One slice of the rewrite. */
static void slice_write(struct broker *b, struct compactor *c, struct store_part *p,
                        const struct tconf *tc)
{
	uint32_t budget = SLICE_BYTES;
	int err;

	if (!c->rw) {
		if (c->cursor >= c->map_end) {
			c->passes++;
			/* two lines the benchmark reads (run_bench.py) */
			broker_log(b, "compact: pass done, bytes rewritten", "",
			           (long long)c->pass_bytes);
			broker_log(b, "compact: pass done, ms", "",
			           (long long)(b->pl.now_ms(b->pl.ctx) - c->pass_start));
			if (c->cc.corrupt)
				broker_log(
				    b, "compact: compressed batches kept whole (corrupt), total",
				    "", (long long)c->cc.corrupt);
			if (c->cc.too_large)
				broker_log(
				    b, "compact: compressed batches kept whole (too large), total",
				    "", (long long)c->cc.too_large);
			pass_end(b, c, NULL);
			return;
		}
		if ((err = group_begin(b, c, p))) {
			pass_end(b, c,
			         err == STORE_ENOSPC ? "compact: no free segment to compact topic"
			                             : "compact: cannot start a rewrite of topic");
			return;
		}
	}
	while (budget && c->cursor < c->group_end) {
		struct store_read rd;
		/* below the log start (DeleteRecords) nothing is kept */
		uint64_t from = c->cursor < store_part_start(p) ? store_part_start(p) : c->cursor;
		if (store_read(b->st, p, from, budget, &rd) || !rd.n) {
			store_read_release(b->st, &rd);
			pass_end(b, c, "compact: read failed rewriting topic");
			return;
		}
		for (uint32_t i = 0; i < rd.n && c->cursor < c->group_end; i++) {
			const uint8_t *h = rd.ptr[i];
			uint32_t olen;
			uint64_t base = get_be64(h);
			uint32_t cnt = get_be32(h + 23) + 1;
			err = compact_filter_batch(&c->map, h, rd.len[i],
			                           txn_batch_state(b, c->topic, c->part, h), c->now,
			                           tc->delete_retention_ms, c->out, OUT_CAP, &olen);
			if (!err && olen)
				err = store_rewrite_add(b->st, c->rw, c->out, olen, base, cnt,
				                        (int64_t)get_be64(c->out + 35));
			if (err) {
				store_read_release(b->st, &rd);
				pass_end(b, c,
				         "compact: rewrite stopped (partition left as is), topic");
				return;
			}
			c->cursor = base + cnt;
			c->bytes_in += rd.len[i];
			c->pass_bytes += rd.len[i];
			c->bytes_out += olen;
			budget = rd.len[i] >= budget ? 0 : budget - rd.len[i];
		}
		if (rd.next_offset > c->cursor && rd.next_offset <= c->group_end)
			c->cursor = rd.next_offset;
		store_read_release(b->st, &rd);
	}
	if (c->cursor >= c->group_end) {
		c->cursor = c->group_end;
		err = store_rewrite_commit(b->st, c->rw);
		c->rw = NULL;
		if (err)
			pass_end(b, c, "compact: switch failed (old segments kept), topic");
	}
}

void compact_poll(struct broker *b, uint64_t now)
{
	struct compactor *c = b->cmp;
	struct store_part *p;

	if (!c) {
		c = b->cmp = broker_alloc(b, sizeof(*c));
		if (!c)
			return;
		memset(c, 0, sizeof(*c));
	}
	if (c->phase == C_IDLE) {
		if (now - c->last_check < CHECK_MS)
			return;
		c->last_check = now;
		c->now = wall(b);
		if (!pick(b, c, c->now))
			return;
		if (!c->map.e) {
			c->map.e = broker_alloc(b, MAP_SLOTS * sizeof(*c->map.e));
			c->out = broker_alloc(b, OUT_CAP);
			c->map.cap = MAP_SLOTS;
			if (!c->map.e || !c->out) {
				compact_free(b);
				return;
			}
		}
		if (b->pl.decompress && b->pl.compress && !c->cc.buf) {
			c->cc.decompress = b->pl.decompress;
			c->cc.compress = b->pl.compress;
			c->cc.ctx = b->pl.ctx;
			c->cc.cap = CODEC_CAP;
			c->cc.buf = broker_alloc(b, CODEC_CAP);
			c->cc.zbuf = broker_alloc(b, CODEC_CAP);
			if (c->cc.buf && c->cc.zbuf) {
				c->map.cc = &c->cc;
			} else { /* compressed batches are then kept whole */
				broker_free(b, c->cc.buf);
				broker_free(b, c->cc.zbuf);
				c->cc.buf = c->cc.zbuf = NULL;
				broker_log(b, "compact: no memory for the codec buffers, bytes", "",
				           2LL * CODEC_CAP);
			}
		}
		compact_map_reset(&c->map);
		c->pass_start = now;
		c->pass_bytes = 0;
		c->phase = C_MAP;
		c->cursor = c->dirty_lo;
		c->map_end = c->dirty_lo;
	}
	p = cur_part(b, c);
	if (!p) {
		pass_end(b, c, "compact: topic went away during a pass");
		return;
	}
	if ((c->phase == C_MAP || (!c->rw && c->cursor < c->map_end)) && !anchor_ok(b, c, p)) {
		pass_end(b, c, "compact: partition changed under a pass, topic");
		return;
	}
	if (c->phase == C_MAP) {
		slice_map(b, c, p);
		if (c->phase == C_WRITE)
			c->cursor = store_part_first_base(b->st, p);
		return;
	}
	slice_write(b, c, p, &b->tconf[c->topic]);
}

bool compact_busy(const struct broker *b)
{
	return b->cmp && b->cmp->phase != C_IDLE;
}

void compact_free(struct broker *b)
{
	struct compactor *c = b->cmp;

	if (!c)
		return;
	store_rewrite_abort(b->st, c->rw);
	broker_free(b, c->map.e);
	broker_free(b, c->out);
	broker_free(b, c->cc.buf);
	broker_free(b, c->cc.zbuf);
	broker_free(b, c);
	b->cmp = NULL;
}
