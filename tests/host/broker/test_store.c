/* Log store unit tests: round trips, recovery after crashes with torn
 * writes, bit flips, superblock damage, segment reuse. */
#include "tharness.h"
#include "storage/crc32c.h"

#define MB (1024u * 1024u)

/* Deterministic payload for (part, offset, len) so reads can be checked. */
static void fill(uint8_t *p, uint32_t len, uint32_t part, uint64_t off)
{
	uint32_t x = (uint32_t)off * 2654435761u ^ part * 40503u ^ len;

	for (uint32_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
}

static struct store *open_ok(struct memdev *d, uint32_t flags)
{
	struct store_platform pl = md_platform(d);
	struct store *s = NULL;
	int err = store_open(&pl, flags, &s);

	CHECK(err == STORE_OK);
	return err == STORE_OK ? s : NULL;
}

/* Append n payloads of varying length (1 offset each except every 3rd,
 * which takes 5), returning the end offset. */
static uint64_t append_n(struct store *s, struct store_part *p, uint32_t part, uint32_t n,
                         uint32_t maxlen)
{
	static uint8_t buf[1u << 20];

	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = store_part_end(p);
		uint32_t len = 1 + (uint32_t)(off * 7919 % maxlen);
		uint32_t cnt = off % 3 == 0 ? 5 : 1;
		fill(buf, len, part, off);
		CHECK(store_append(s, p, buf, len, cnt, (int64_t)off * 10) == STORE_OK);
	}
	return store_part_end(p);
}

/* Read everything in [start, hwm) and verify every payload. Returns the
 * number of payloads seen. */
static uint32_t verify_all(struct store *s, struct store_part *p, uint32_t part)
{
	static uint8_t want[1u << 20];
	uint64_t off = store_part_start(p);
	uint32_t seen = 0;

	while (off < store_part_hwm(p)) {
		struct store_read rd;
		int err = store_read(s, p, off, 300000, &rd);
		CHECK(err == STORE_OK && rd.n > 0);
		if (err || !rd.n)
			return seen;
		for (uint32_t i = 0; i < rd.n; i++) {
			fill(want, rd.len[i], part, off);
			CHECK(memcmp(want, rd.ptr[i], rd.len[i]) == 0);
			off += off % 3 == 0 ? 5 : 1;
			seen++;
		}
		CHECK(off == rd.next_offset);
		store_read_release(s, &rd);
	}
	return seen;
}

static void t_format_refuses_garbage(void)
{
	struct memdev *d = md_new(64 * MB);
	struct store_platform pl = md_platform(d);
	struct store *s;

	memset(d->cur + 100, 0x5a, 10);
	CHECK(store_open(&pl, STORE_FORMAT_BLANK, &s) == STORE_ECORRUPT);
	memset(d->cur, 0, 4096);
	s = open_ok(d, STORE_FORMAT_BLANK);
	CHECK(s && store_topic_count(s) == 0);
	store_close(s);
	md_free(d);
}

static void t_roundtrip_and_reopen(void)
{
	struct memdev *d = md_new(64 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	int t = store_topic_create(s, "alpha", 5, 3);
	uint64_t end[3];

	CHECK(t == 0);
	CHECK(store_topic_create(s, "alpha", 5, 3) == STORE_EINVAL);
	for (uint32_t k = 0; k < 3; k++)
		end[k] = append_n(s, store_part_get(s, 0, k), k, 400, 3000);
	CHECK(store_write_pending(s) == STORE_OK);
	for (uint32_t k = 0; k < 3; k++)
		CHECK(verify_all(s, store_part_get(s, 0, k), k) == 400);
	store_close(s);
	s = open_ok(d, 0);
	CHECK(store_topic_count(s) == 1 && store_topic_parts(s, 0) == 3);
	for (uint32_t k = 0; k < 3; k++) {
		struct store_part *p = store_part_get(s, 0, k);
		CHECK(store_part_end(p) == end[k] && store_part_hwm(p) == end[k]);
		CHECK(verify_all(s, p, k) == 400);
		CHECK(append_n(s, p, k, 10, 100) > end[k]);
	}
	CHECK(store_write_pending(s) == STORE_OK);
	CHECK(verify_all(s, store_part_get(s, 0, 1), 1) == 410);
	store_close(s);
	md_free(d);
}

/* Everything flushed survives any crash; the unflushed rest recovers to a
 * valid prefix whatever subset of writes made it and however torn. */
static void t_crash_torn_writes(void)
{
	for (uint32_t keep = 0; keep < 6; keep++)
		for (uint32_t tear = 0; tear < 9000; tear += 2900) {
			struct memdev *d = md_new(12 * MB);
			struct store *s = open_ok(d, STORE_FORMAT_BLANK);
			CHECK(store_topic_create(s, "t", 1, 1) == 0);
			struct store_part *p = store_part_get(s, 0, 0);
			uint64_t durable = append_n(s, p, 0, 50, 2500);
			CHECK(store_write_pending(s) == 0 && store_flush(s) == 0);
			for (int round = 0; round < 6; round++) {
				append_n(s, p, 0, 7, 6000);
				CHECK(store_write_pending(s) == 0);
			}
			md_crash(d, keep, tear);
			/* the in-memory store is now stale: drop it unflushed */
			d->fail_writes_after = 0;
			store_close(s);
			d->fail_writes_after = -1;
			s = open_ok(d, 0);
			p = store_part_get(s, 0, 0);
			CHECK(store_part_end(p) >= durable);
			CHECK(verify_all(s, p, 0) >= 50);
			store_close(s);
			md_free(d);
		}
}

/* Byte position of the frame holding offset `off` (first match). */
static uint8_t *find_payload(struct memdev *d, struct store *s, struct store_part *p, uint64_t off)
{
	struct store_read rd;
	uint8_t *hit = NULL;

	if (store_read(s, p, off, 1, &rd) || !rd.n)
		return NULL;
	hit = memmem(d->cur, d->blocks * STORE_BLOCK, rd.ptr[0], rd.len[0]);
	store_read_release(s, &rd);
	return hit;
}

/* A flipped bit cuts the log at the damaged frame; nothing after it (and
 * nothing junk) is served, and new appends continue from there. */
static void t_bit_flip_truncates(void)
{
	struct memdev *d = md_new(32 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);

	CHECK(store_topic_create(s, "t", 1, 1) == 0);
	struct store_part *p = store_part_get(s, 0, 0);
	append_n(s, p, 0, 30, 900);
	CHECK(store_write_pending(s) == 0 && store_flush(s) == 0);
	/* offset 20 lies in the 5-offset payload based at 18 */
	uint8_t *pl = find_payload(d, s, p, 20);
	CHECK(pl != NULL);
	store_close(s);
	if (pl)
		pl[3] ^= 0x10;
	s = open_ok(d, 0);
	p = store_part_get(s, 0, 0);
	CHECK(store_part_end(p) == 18);
	CHECK(verify_all(s, p, 0) > 0);
	CHECK(append_n(s, p, 0, 5, 50) > 18);
	CHECK(store_write_pending(s) == 0 && store_flush(s) == 0);
	store_close(s);
	s = open_ok(d, 0);
	p = store_part_get(s, 0, 0);
	CHECK(store_part_end(p) > 18);
	verify_all(s, p, 0);
	store_close(s);
	md_free(d);
}

/* After a cut, stale frames that follow the new tail must not chain back
 * in, even when a new frame ends exactly where an old one began. */
static void t_stale_frames_not_resurrected(void)
{
	struct memdev *d = md_new(32 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	uint8_t a[100];

	CHECK(store_topic_create(s, "t", 1, 1) == 0);
	struct store_part *p = store_part_get(s, 0, 0);
	for (int i = 0; i < 3; i++) {
		memset(a, 'a' + i, sizeof(a));
		CHECK(store_append(s, p, a, 100, 1, 0) == 0);
	}
	CHECK(store_write_pending(s) == 0 && store_flush(s) == 0);
	uint8_t *b1 = find_payload(d, s, p, 1);
	store_close(s);
	CHECK(b1 != NULL);
	if (b1)
		b1[50] ^= 1; /* damage the middle frame */
	s = open_ok(d, 0);
	p = store_part_get(s, 0, 0);
	CHECK(store_part_end(p) == 1);
	memset(a, 'z', sizeof(a));
	CHECK(store_append(s, p, a, 100, 1, 0) == 0); /* same size as old #1 */
	store_close(s);
	s = open_ok(d, 0);
	p = store_part_get(s, 0, 0);
	CHECK(store_part_end(p) == 2);
	store_close(s);
	md_free(d);
}

static void t_superblock_copy_damage(void)
{
	struct memdev *d = md_new(32 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);

	CHECK(store_topic_create(s, "one", 3, 2) == 0);
	CHECK(store_topic_create(s, "two", 3, 4) == 1);
	store_close(s);
	for (int copy = 0; copy < 2; copy++) {
		uint8_t save = d->cur[copy * 32 * 4096 + 300];
		d->cur[copy * 32 * 4096 + 300] ^= 0xff;
		s = open_ok(d, 0);
		CHECK(s && store_topic_count(s) == 2 && store_topic_parts(s, 1) == 4);
		store_close(s);
		d->cur[copy * 32 * 4096 + 300] = save;
	}
	d->cur[300] ^= 1;
	d->cur[32 * 4096 + 300] ^= 1;
	struct store_platform pl = md_platform(d);
	CHECK(store_open(&pl, STORE_FORMAT_BLANK, &s) == STORE_ECORRUPT);
	md_free(d);
}

/* A torn superblock write during topic creation leaves a usable store. */
static void t_superblock_torn_write(void)
{
	for (uint32_t keep = 0; keep < 2; keep++) {
		struct memdev *d = md_new(32 * MB);
		struct store *s = open_ok(d, STORE_FORMAT_BLANK);
		CHECK(store_topic_create(s, "one", 3, 2) == 0);
		store_close(s);
		s = open_ok(d, 0);
		/* Model a crash inside the write: cut the first copy write. */
		d->fail_writes_after = (int)d->writes + 1 + (int)keep;
		int r2 = store_topic_create(s, "two", 3, 2);
		(void)r2;
		md_crash(d, 0, 5000);
		d->fail_writes_after = 0;
		store_close(s);
		d->fail_writes_after = -1;
		s = open_ok(d, 0);
		CHECK(s && store_topic_count(s) >= 1);
		store_close(s);
		md_free(d);
	}
}

/* When the device fills, the oldest non-active segments are reused and
 * the log start moves; data that remains still reads back. */
static void t_segment_reuse(void)
{
	struct memdev *d = md_new(12 * MB); /* 2 MiB segments, few of them */
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	struct store_stats st;

	CHECK(store_topic_create(s, "t", 1, 2) == 0);
	store_get_stats(s, &st);
	CHECK(st.segments >= 4 && st.seg_blocks == 512);
	for (int i = 0; i < 30; i++) {
		append_n(s, store_part_get(s, 0, i & 1), (uint32_t)(i & 1), 20, 60000);
		CHECK(store_write_pending(s) == 0);
	}
	struct store_part *p = store_part_get(s, 0, 0);
	CHECK(store_part_start(p) > 0);
	struct store_read rd;
	CHECK(store_read(s, p, 0, 100, &rd) == STORE_ERANGE);
	uint64_t start = store_part_start(p), end = store_part_end(p);
	uint32_t n = verify_all(s, p, 0);
	CHECK(n > 0);
	store_close(s);
	s = open_ok(d, 0);
	p = store_part_get(s, 0, 0);
	CHECK(store_part_start(p) == start && store_part_end(p) == end);
	CHECK(verify_all(s, p, 0) == n);
	store_close(s);
	md_free(d);
}

static void t_big_payload_and_time(void)
{
	struct memdev *d = md_new(32 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	static uint8_t big[STORE_MAX_PAYLOAD + 1];

	CHECK(store_topic_create(s, "t", 1, 1) == 0);
	struct store_part *p = store_part_get(s, 0, 0);
	append_n(s, p, 0, 3, 100);
	fill(big, STORE_MAX_PAYLOAD, 0, store_part_end(p));
	CHECK(store_append(s, p, big, STORE_MAX_PAYLOAD, 1, 1000) == 0);
	CHECK(store_append(s, p, big, STORE_MAX_PAYLOAD + 1, 1, 0) == STORE_EINVAL);
	CHECK(store_append(s, p, big, 0, 1, 0) == STORE_EINVAL);
	append_n(s, p, 0, 3, 100);
	CHECK(store_write_pending(s) == 0);
	CHECK(verify_all(s, p, 0) == 7);
	CHECK(store_offset_for_time(p, 1000) == 11);
	CHECK(store_offset_for_time(p, 0) == 0);
	CHECK(store_offset_for_time(p, 1u << 30) == -1);
	store_close(s);
	s = open_ok(d, 0);
	CHECK(verify_all(s, store_part_get(s, 0, 0), 0) == 7);
	store_close(s);
	md_free(d);
}

/* store_append_sum combines the caller's CRC of the payload's tail into the
 * frame CRC: the same frames as store_append when the sum is right (both
 * recover and read back), a frame recovery rejects when it is wrong (the
 * combine path is taken from CRC32C_COMBINE_MIN bytes on, so a sum that
 * were ignored would leave part 2 whole). */
static void t_append_sum_combines_batch_crc(void)
{
	static const uint32_t lens[] = {40000, 100, 70000, CRC32C_COMBINE_MIN + 21, 3000};
	static uint8_t buf[70000];
	struct memdev *d = md_new(32 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);

	CHECK(store_topic_create(s, "t", 1, 3) == 0);
	for (uint32_t k = 0; k < 3; k++) {
		struct store_part *p = store_part_get(s, 0, k);
		for (uint32_t i = 0; i < 5; i++) {
			uint64_t off = store_part_end(p);
			uint32_t len = lens[i], cnt = off % 3 == 0 ? 5 : 1;
			fill(buf, len, k, off);
			uint32_t sum = store_crc32c(0, buf + 21, len - 21);
			if (k == 0)
				CHECK(store_append(s, p, buf, len, cnt, (int64_t)off) == STORE_OK);
			else
				CHECK(store_append_sum(s, p, buf, len, cnt, (int64_t)off, 21,
				                       k == 1 ? sum : sum ^ 1) == STORE_OK);
		}
	}
	CHECK(store_write_pending(s) == STORE_OK);
	store_close(s);
	s = open_ok(d, 0);
	CHECK(verify_all(s, store_part_get(s, 0, 0), 0) == 5);
	CHECK(verify_all(s, store_part_get(s, 0, 1), 1) == 5);
	CHECK(store_part_end(store_part_get(s, 0, 1)) == store_part_end(store_part_get(s, 0, 0)));
	CHECK(store_part_end(store_part_get(s, 0, 2)) == 0); /* the first frame (combined) is bad */
	store_close(s);
	md_free(d);
}

/* hwm only moves when data is handed to the device. */
static void t_hwm_follows_writes(void)
{
	struct memdev *d = md_new(32 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	uint8_t x[10] = {0};

	CHECK(store_topic_create(s, "t", 1, 1) == 0);
	struct store_part *p = store_part_get(s, 0, 0);
	CHECK(store_append(s, p, x, 10, 4, 0) == 0);
	CHECK(store_part_end(p) == 4 && store_part_hwm(p) == 0);
	CHECK(store_write_pending(s) == 0);
	CHECK(store_part_hwm(p) == 4);
	uint64_t g = store_flush_gen(s);
	CHECK(store_unflushed_bytes(s) > 0);
	CHECK(store_flush(s) == 0 && store_flush_gen(s) == g + 1);
	CHECK(store_unflushed_bytes(s) == 0);
	CHECK(store_topic_create(s, "bad/name", 8, 1) >= 0); /* store does not police names */
	CHECK(store_topic_create(s, "x", 1, 0) == STORE_EINVAL);
	store_close(s);
	md_free(d);
}

/* Reusing another partition's oldest segment, then crashing with every
 * write except segment header writes kept, must not cut the previous
 * owner's durable log (regression: a stale header chained in front). */
static void t_reuse_crash_keeps_old_owner(void)
{
	struct memdev *d = md_new(12 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	struct store_stats st;

	CHECK(store_topic_create(s, "t", 1, 2) == 0);
	store_get_stats(s, &st);
	struct store_part *p0 = store_part_get(s, 0, 0), *p1 = store_part_get(s, 0, 1);
	for (int i = 0; i < 12; i++) {
		append_n(s, p0, 0, 10, 60000);
		CHECK(store_write_pending(s) == 0);
	}
	CHECK(store_flush(s) == 0);
	uint64_t end0 = store_part_end(p0);
	for (int i = 0; i < 60 && store_part_start(p0) == 0; i++) {
		append_n(s, p1, 1, 10, 60000);
		CHECK(store_write_pending(s) == 0);
	}
	CHECK(store_part_start(p0) > 0); /* p1 took p0's oldest segment */
	md_crash_skip(d, 64, st.seg_blocks);
	d->fail_writes_after = 0;
	store_close(s);
	d->fail_writes_after = -1;
	s = open_ok(d, 0);
	p0 = store_part_get(s, 0, 0);
	CHECK(store_part_end(p0) == end0);
	CHECK(verify_all(s, p0, 0) > 0);
	verify_all(s, store_part_get(s, 0, 1), 1);
	store_close(s);
	md_free(d);
}

/* Random stressor: random appends over three partitions on a small
 * device (so segments roll and get reused), random write-outs and
 * flushes, then a crash keeping a random subset of the unflushed writes
 * with one torn. Every flushed offset must survive and every payload
 * read back must be intact. 24 seeded rounds, deterministic. */
static void t_random_crash_stress(void)
{
	for (uint32_t round = 0; round < 24; round++) {
		uint32_t seed = 0x9e3779b9u * (round + 1);
		struct memdev *d = md_new(12 * MB);
		struct store *s = open_ok(d, STORE_FORMAT_BLANK);
		uint64_t durable[3] = {0, 0, 0};
		CHECK(store_topic_create(s, "t", 1, 3) == 0);
		for (int op = 0; op < 120; op++) {
			seed = seed * 1103515245u + 12345u;
			uint32_t k = (seed >> 16) % 3, what = (seed >> 20) % 10;
			append_n(s, store_part_get(s, 0, k), k, 1 + (seed >> 8) % 4,
			         (seed >> 24) % 2 ? 900 : 90000);
			if (what < 4)
				CHECK(store_write_pending(s) == 0);
			if (what == 0) {
				CHECK(store_flush(s) == 0);
				for (uint32_t j = 0; j < 3; j++)
					durable[j] = store_part_hwm(store_part_get(s, 0, j));
			}
		}
		md_crash_random(d, &seed);
		d->fail_writes_after = 0;
		store_close(s);
		d->fail_writes_after = -1;
		s = open_ok(d, 0);
		for (uint32_t j = 0; s && j < 3; j++) {
			struct store_part *p = store_part_get(s, 0, j);
			CHECK(store_part_end(p) >= durable[j]);
			verify_all(s, p, j);
		}
		store_close(s);
		md_free(d);
	}
}

/* Store with topics "a" (3 partitions, several segments each) and "b"
 * (1 partition), all flushed. Returns b's end offset. */
static uint64_t two_topics(struct memdev *d)
{
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	uint64_t end;

	CHECK(store_topic_create(s, "a", 1, 3) == 0);
	CHECK(store_topic_create(s, "b", 1, 1) == 1);
	for (uint32_t k = 0; k < 3; k++)
		append_n(s, store_part_get(s, 0, k), k, 60, 100000);
	end = append_n(s, store_part_get(s, 1, 0), 7, 40, 50000);
	CHECK(store_write_pending(s) == STORE_OK && store_flush(s) == STORE_OK);
	store_close(s);
	return end;
}

/* Deleting a topic gives its segments back (also after a reopen); the
 * other topic is untouched; a topic created in the freed slot, even
 * with the same name, starts empty and never shows the old data. */
static void t_topic_delete_reclaims(void)
{
	struct memdev *d = md_new(64 * MB);
	uint64_t bend = two_topics(d);
	struct store_stats st0, st1;
	struct store *s = open_ok(d, 0);

	store_get_stats(s, &st0);
	CHECK(st0.segments_used > 4);
	CHECK(store_topic_delete(s, 0) == STORE_OK);
	CHECK(store_topic_find(s, "a", 1) < 0 && store_topic_parts(s, 0) == 0);
	CHECK(!store_part_get(s, 0, 0));
	CHECK(store_topic_delete(s, 0) == STORE_EINVAL);
	store_get_stats(s, &st1);
	CHECK(st1.segments_used == 1);
	store_close(s);
	s = open_ok(d, 0);
	store_get_stats(s, &st1);
	CHECK(st1.segments_used == 1 && store_topic_find(s, "a", 1) < 0);
	CHECK(store_part_end(store_part_get(s, 1, 0)) == bend);
	CHECK(verify_all(s, store_part_get(s, 1, 0), 7) == 40);
	CHECK(store_topic_next_id(s) == 0);
	CHECK(store_topic_create(s, "a", 1, 2) == 0);
	CHECK(store_part_end(store_part_get(s, 0, 0)) == 0);
	append_n(s, store_part_get(s, 0, 1), 1, 3, 1000);
	store_close(s);
	s = open_ok(d, 0);
	CHECK(store_topic_parts(s, 0) == 2);
	CHECK(store_part_end(store_part_get(s, 0, 0)) == 0);
	CHECK(store_part_start(store_part_get(s, 0, 1)) == 0);
	CHECK(verify_all(s, store_part_get(s, 0, 1), 1) == 3);
	store_close(s);
	md_free(d);
}

/* A crash at every point of a deletion (the device failing from the k-th
 * write on, then keeping all or none of the unflushed writes) leaves a
 * store that opens with the topic either whole or gone, never half, and
 * the other topic intact. */
static void t_topic_delete_crash_at_every_step(void)
{
	struct memdev *base = md_new(32 * MB);
	uint64_t bend = two_topics(base), aend[3];
	uint32_t whole = 0, gone = 0;
	struct store *s = open_ok(base, 0);

	for (uint32_t k = 0; k < 3; k++)
		aend[k] = store_part_end(store_part_get(s, 0, k));
	store_close(s);
	/* a deletion of "a" is 2 superblock writes, one header wipe per
	 * segment (fewer than 12 here) and 2 more superblock writes */
	for (int k = 0; k < 16; k++) {
		for (uint32_t keep = 0; keep < 2; keep++) {
			struct memdev *d = md_new(32 * MB);
			memcpy(d->cur, base->dur, 32 * MB);
			memcpy(d->dur, base->dur, 32 * MB);
			s = open_ok(d, 0);
			d->fail_writes_after = (int)d->writes + k;
			int err = store_topic_delete(s, 0);
			d->fail_writes_after = -1;
			md_crash(d, keep ? d->nlog : 0, 0);
			/* the in-memory store is now stale: drop it unflushed */
			d->fail_writes_after = 0;
			store_close(s);
			d->fail_writes_after = -1;
			s = open_ok(d, 0);
			if (!s) {
				md_free(d);
				continue;
			}
			int id = store_topic_find(s, "a", 1);
			if (id >= 0) {
				whole++;
				CHECK(err != STORE_OK);
				for (uint32_t p = 0; p < 3; p++) {
					struct store_part *sp = store_part_get(s, (uint32_t)id, p);
					CHECK(store_part_end(sp) == aend[p]);
					CHECK(verify_all(s, sp, p) == 60);
				}
			} else {
				gone++;
				struct store_stats st;
				store_get_stats(s, &st);
				CHECK(st.segments_used == 1);
			}
			CHECK(store_part_end(store_part_get(s, 1, 0)) == bend);
			CHECK(verify_all(s, store_part_get(s, 1, 0), 7) == 40);
			store_close(s);
			md_free(d);
		}
	}
	CHECK(whole > 0 && gone > 0);
	md_free(base);
}

/* Partitions can be added (persisted, old data kept, never shrunk). */
static void t_topic_add_parts(void)
{
	struct memdev *d = md_new(64 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);

	CHECK(store_topic_create(s, "a", 1, 2) == 0);
	append_n(s, store_part_get(s, 0, 1), 1, 10, 1000);
	CHECK(store_topic_add_parts(s, 0, 2) == STORE_EINVAL);
	CHECK(store_topic_add_parts(s, 0, STORE_MAX_PARTS + 1) == STORE_EINVAL);
	CHECK(store_topic_add_parts(s, 0, 5) == STORE_OK);
	CHECK(store_topic_parts(s, 0) == 5);
	append_n(s, store_part_get(s, 0, 4), 4, 4, 1000);
	store_close(s);
	s = open_ok(d, 0);
	CHECK(store_topic_parts(s, 0) == 5);
	CHECK(verify_all(s, store_part_get(s, 0, 1), 1) == 10);
	CHECK(verify_all(s, store_part_get(s, 0, 4), 4) == 4);
	store_close(s);
	md_free(d);
}

/* Moving the log start hides the offsets below it and reclaims whole
 * segments below it, never the active one. */
static void t_part_set_start(void)
{
	struct memdev *d = md_new(64 * MB);
	struct store *s = open_ok(d, STORE_FORMAT_BLANK);
	struct store_stats st0, st1;
	struct store_read rd;

	CHECK(store_topic_create(s, "a", 1, 1) == 0);
	struct store_part *p = store_part_get(s, 0, 0);
	uint64_t end = append_n(s, p, 0, 120, 100000);
	CHECK(store_write_pending(s) == STORE_OK);
	store_get_stats(s, &st0);
	CHECK(store_part_set_start(s, p, end + 1) == STORE_ERANGE);
	CHECK(store_part_set_start(s, p, end - 3) == STORE_OK);
	CHECK(store_part_start(p) == end - 3);
	store_get_stats(s, &st1);
	CHECK(st1.segments_used == 1 && st0.segments_used > 2);
	CHECK(store_read(s, p, end - 4, 1000, &rd) == STORE_ERANGE);
	CHECK(store_part_set_start(s, p, 0) == STORE_ERANGE);
	CHECK(store_part_set_start(s, p, end) == STORE_OK);
	CHECK(store_read(s, p, end, 1000, &rd) == STORE_OK && rd.n == 0);
	store_close(s);
	md_free(d);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("store_format_refuses_garbage", t_format_refuses_garbage);
	kt_add("store_roundtrip_and_reopen", t_roundtrip_and_reopen);
	kt_add("store_crash_torn_writes_keep_flushed", t_crash_torn_writes);
	kt_add("store_bit_flip_truncates_at_frame", t_bit_flip_truncates);
	kt_add("store_stale_frames_not_resurrected", t_stale_frames_not_resurrected);
	kt_add("store_superblock_copy_damage", t_superblock_copy_damage);
	kt_add("store_superblock_torn_write", t_superblock_torn_write);
	kt_add("store_segment_reuse", t_segment_reuse);
	kt_add("store_reuse_crash_keeps_old_owner", t_reuse_crash_keeps_old_owner);
	kt_add("store_random_crash_stress", t_random_crash_stress);
	kt_add("store_big_payload_and_time_lookup", t_big_payload_and_time);
	kt_add("store_append_sum_combines_batch_crc", t_append_sum_combines_batch_crc);
	kt_add("store_hwm_follows_writes", t_hwm_follows_writes);
	kt_add("store_topic_delete_reclaims_segments", t_topic_delete_reclaims);
	kt_add("store_topic_delete_crash_at_every_step", t_topic_delete_crash_at_every_step);
	kt_add("store_topic_add_partitions", t_topic_add_parts);
	kt_add("store_part_set_start_reclaims_prefix", t_part_set_start);
	return kt_main(NULL, 0, argc, argv);
}
