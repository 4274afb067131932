/* Gringotts log store: topic partitions as append-only chains of large
 * pre-allocated segments on a raw block device. On-disk format:
 * docs/log-format.md. Single-threaded: the caller serialises all calls. */
#ifndef STORE_H
#define STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_BLOCK       4096u
#define STORE_MAX_PAYLOAD (1u << 20) /* largest batch accepted */
#define STORE_MAX_TOPICS  511u
#define STORE_MAX_PARTS   1024u /* partitions per topic */
#define STORE_NAME_MAX    249u
#define STORE_READ_MAX    256u /* batches returned per read */

/* Platform interface: everything the store needs from its host. Block
 * numbers and counts are in STORE_BLOCK units; buffers passed to read and
 * write come from alloc (STORE_BLOCK aligned). Return 0 or negative. */
struct store_platform {
	void *ctx;
	uint64_t dev_blocks;
	int (*read)(void *ctx, uint64_t blk, void *buf, uint32_t count);
	int (*write)(void *ctx, uint64_t blk, const void *buf, uint32_t count);
	int (*flush)(void *ctx);
	/* Optional asynchronous flush: start one and return; the host calls
	 * store_flush_done() when it has completed. NULL: flushes are
	 * synchronous (flush above). */
	int (*flush_start)(void *ctx);
	/* Optional asynchronous writes (both or neither): write_start submits
	 * the write of count blocks from buf and returns 0; the host calls
	 * done(arg, ok) once it has completed, from inside wait or from its
	 * own polling (never from inside write_start's caller's stack frames
	 * other than those two), and buf stays untouched by the store until
	 * then. wait blocks until at least one submitted write has completed
	 * (0) or fails (negative). Several writes may be in flight and may
	 * complete in any order. NULL: writes are synchronous (write above). */
	int (*write_start)(void *ctx, uint64_t blk, const void *buf, uint32_t count,
	                   void (*done)(void *arg, bool ok), void *arg);
	int (*wait)(void *ctx);
	void *(*alloc)(void *ctx, size_t size); /* STORE_BLOCK aligned */
	void (*free)(void *ctx, void *p);
	uint64_t (*now_ms)(void *ctx);
	void (*log)(void *ctx, const char *what, const char *detail, long long v);
};

enum store_err {
	STORE_OK = 0,
	STORE_EIO = -1,
	STORE_ENOMEM = -2,
	STORE_ENOSPC = -3,
	STORE_EINVAL = -4,
	STORE_ECORRUPT = -5,
	STORE_ERANGE = -6,
	STORE_EFULL = -7,
};

/* store_open flags */
#define STORE_FORMAT_BLANK 1u /* format when both superblocks are all zero */
#define STORE_FORMAT_FORCE 2u /* format whatever is there */

struct store;
struct store_part;

/* One read: whole batches referenced inside buf (freed by release). */
struct store_read {
	void *buf;
	uint32_t n;
	uint64_t next_offset; /* offset after the last batch returned */
	const uint8_t *ptr[STORE_READ_MAX];
	uint32_t len[STORE_READ_MAX];
};

struct store_stats {
	uint32_t segments, segments_used, seg_blocks;
	uint64_t recovered_batches, truncated_bytes;
	/* Device size (blocks) the superblock recorded when the store was
	 * opened (dev_blocks when it was formatted then): a host that splits
	 * one device into regions checks its layout with it. */
	uint64_t opened_blocks;
};

int store_open(const struct store_platform *plat, uint32_t flags, struct store **out)
    __attribute__((warn_unused_result));
void store_close(struct store *s);
void store_get_stats(const struct store *s, struct store_stats *st);

/* Topics: ids are 0..count-1 and stable across restarts; a deleted
 * topic's id is free (0 partitions, empty name) until a new topic reuses
 * it (store_topic_next_id says which id the next creation gets). */
uint32_t store_topic_count(const struct store *s);
const char *store_topic_name(const struct store *s, uint32_t id, uint32_t *len);
uint32_t store_topic_parts(const struct store *s, uint32_t id);
int store_topic_find(const struct store *s, const char *name, uint32_t len);
int store_topic_create(struct store *s, const char *name, uint32_t len, uint32_t parts)
    __attribute__((warn_unused_result));
int store_topic_next_id(const struct store *s);
/* Delete a topic and return its segments to the free pool; crash-safe
 * (an interrupted deletion is completed by the next store_open). */
int store_topic_delete(struct store *s, uint32_t id) __attribute__((warn_unused_result));
/* Grow a topic to count partitions (invalidates its store_part pointers). */
int store_topic_add_parts(struct store *s, uint32_t id, uint32_t count)
    __attribute__((warn_unused_result));
struct store_part *store_part_get(struct store *s, uint32_t topic, uint32_t part);
/* Move the log start to off (start <= off <= hwm): offsets below it are
 * no longer readable and whole segments below it are reclaimed. Not
 * persisted by the store beyond segment boundaries: the caller records
 * it and re-applies it after open. */
int store_part_set_start(struct store *s, struct store_part *p, uint64_t off)
    __attribute__((warn_unused_result));
/* Retention helpers: bytes of frames p holds; its oldest segment (never
 * the active one: false when p has only that) with the frame bytes and
 * the newest batch timestamp in it; and dropping that segment (the log
 * start moves to the next segment's base). */
uint64_t store_part_bytes(const struct store *s, const struct store_part *p);
bool store_part_oldest(const struct store *s, const struct store_part *p, uint64_t *bytes,
                       int64_t *max_ts);
int store_part_drop_oldest(struct store *s, struct store_part *p)
    __attribute__((warn_unused_result));
/* A pinned partition never loses segments to reuse when the device is
 * full (the broker's metadata log); its owner trims it itself. */
void store_part_pin(struct store_part *p);
uint32_t store_part_nsegs(const struct store_part *p);
/* Base offset of p's first segment: where recovery puts the log start. */
uint64_t store_part_first_base(const struct store *s, const struct store_part *p);

/* Compaction (docs/log-format.md, "Compacted segments"). Segment i of p
 * (0 = oldest) covers offsets [base, end) with bytes of frames; offsets
 * inside a compacted segment may have gaps. */
struct store_seg_info {
	uint64_t base, end, bytes, seq;
	int64_t max_ts;   /* newest batch timestamp, -1 when it has none */
	int64_t first_ts; /* its first batch's timestamp, -1 when none */
	uint32_t frames;
	bool compacted, active;
};
int store_part_seg_info(const struct store *s, const struct store_part *p, uint32_t i,
                        struct store_seg_info *out);
/* Replace closed segments [first, first+n) of p by one compacted segment
 * written to a free slot (STORE_ENOSPC when there is none): add its
 * frames in offset order (base >= the previous frame's end, inside the
 * replaced range; STORE_ENOSPC when a segment is full), then commit (the
 * crash-safe switch) or abort. Other calls may come in between: add and
 * commit return STORE_ERANGE (and commit frees the rewrite) when the
 * partition lost or changed those segments meanwhile. */
struct store_rewrite;
/* Close p's active segment now when it holds frames (segment.ms): the
 * next append starts a new one. */
int store_part_roll(struct store *s, struct store_part *p) __attribute__((warn_unused_result));
int store_rewrite_begin(struct store *s, struct store_part *p, uint32_t first, uint32_t n,
                        struct store_rewrite **out) __attribute__((warn_unused_result));
int store_rewrite_add(struct store *s, struct store_rewrite *rw, const void *payload, uint32_t len,
                      uint64_t base, uint32_t count, int64_t max_ts)
    __attribute__((warn_unused_result));
int store_rewrite_commit(struct store *s, struct store_rewrite *rw)
    __attribute__((warn_unused_result));
void store_rewrite_abort(struct store *s, struct store_rewrite *rw);

/* Offsets: [start, hwm) readable; end is the next offset to assign
 * (end >= hwm: appended but not yet handed to the device). */
uint64_t store_part_start(const struct store_part *p);
uint64_t store_part_end(const struct store_part *p);
uint64_t store_part_hwm(const struct store_part *p);

/* Append one opaque payload holding count offsets starting at
 * store_part_end(p). The payload is copied into the tail buffer. */
int store_append(struct store *s, struct store_part *p, const void *payload, uint32_t len,
                 uint32_t count, int64_t max_ts) __attribute__((warn_unused_result));
/* The same when the caller knows sum = store_crc32c(0, payload + sum_from,
 * len - sum_from) (a Kafka batch's own CRC, checked or just computed): the
 * frame's chained CRC combines it instead of reading those bytes again
 * (store_crc32c_combine, for parts of CRC32C_COMBINE_MIN bytes or more).
 * A wrong sum makes a frame that recovery and reads reject as corrupt. */
int store_append_sum(struct store *s, struct store_part *p, const void *payload, uint32_t len,
                     uint32_t count, int64_t max_ts, uint32_t sum_from, uint32_t sum)
    __attribute__((warn_unused_result));
/* One piece of a payload gathered from several buffers (chained receive
 * buffers: the payload is copied once, from them into the tail). */
struct store_iov {
	const void *base;
	size_t len;
};
/* store_append_sum of the payload head[0, head_len) followed by len -
 * head_len bytes read from v[0] (from skip on), v[1], ... (as many pieces as
 * those bytes take; head_len <= len). */
int store_append_gather(struct store *s, struct store_part *p, const void *head, uint32_t head_len,
                        const struct store_iov *v, size_t skip, uint32_t len, uint32_t count,
                        int64_t max_ts, uint32_t sum_from, uint32_t sum)
    __attribute__((warn_unused_result));
/* Copy n bytes of the gathered pieces v (from skip in v[0]) to dst. */
void store_iov_copy(uint8_t *dst, const struct store_iov *v, size_t skip, size_t n);
/* store_crc32c continued over n bytes of the gathered pieces. */
uint32_t store_iov_crc32c(uint32_t crc, const struct store_iov *v, size_t skip, size_t n);
/* Payload bytes the store copied into its buffers (appends; one copy per
 * appended byte). */
uint64_t store_copied_bytes(const struct store *s);
/* Whole payloads from the one containing offset, up to max_bytes (at least
 * one). STORE_ERANGE when offset is outside [start, hwm]. */
int store_read(struct store *s, struct store_part *p, uint64_t offset, uint32_t max_bytes,
               struct store_read *out) __attribute__((warn_unused_result));
/* Like store_read, but when !min_one nothing is returned unless the first
 * payload fits in max_bytes. */
int store_read_fit(struct store *s, struct store_part *p, uint64_t offset, uint32_t max_bytes,
                   bool min_one, struct store_read *out) __attribute__((warn_unused_result));
void store_read_release(struct store *s, struct store_read *r);
/* Base offset of the first payload whose max_ts >= ts, or -1. */
int64_t store_offset_for_time(const struct store_part *p, int64_t ts);
/* Base offset of the readable payload with the largest max_ts (the first
 * of equals) and that max_ts in *ts, or -1 when p holds none. */
int64_t store_offset_max_time(const struct store_part *p, int64_t *ts);

/* Hand appended data to the device (no barrier), then make everything
 * handed over durable. Flushes are numbered as they are requested;
 * flush_gen is the highest number known complete, so data appended before
 * the call to store_flush_next() is durable once store_flush_gen() reaches
 * its value. store_flush is synchronous (it first waits for every write in
 * flight); store_flush_start uses the platform's asynchronous flush when
 * there is one (one at a time; with asynchronous writes it is submitted
 * once every write holding data appended before the request has
 * completed, so store_flush_busy() may be true before the device sees it)
 * and falls back to store_flush otherwise.
 *
 * With asynchronous writes, store_write_pending starts a write for each
 * partition holding appended data (one per partition in flight; a
 * partition whose write is in flight keeps appending into a copy of its
 * tail), collects the writes that completed (their data becomes
 * readable: the high watermark moves), submits a requested flush once it
 * may, and resubmits failed writes; it returns STORE_EIO when a write
 * failed since the last call (the data stays in memory and is written
 * again: nothing appended is dropped). store_poll does the collecting and
 * the flush submission alone and returns how many writes completed. */
int store_write_pending(struct store *s) __attribute__((warn_unused_result));
unsigned store_poll(struct store *s);
/* Asynchronous writes in flight or a flush requested or in flight. */
bool store_io_busy(const struct store *s);
/* Writes that failed so far (each resubmission that fails counts). */
uint64_t store_write_errors(const struct store *s);
/* Writes completed so far (asynchronous or not): each made data readable
 * (the high watermark moves at completion). */
uint64_t store_writes_done(const struct store *s);
int store_flush(struct store *s) __attribute__((warn_unused_result));
int store_flush_start(struct store *s) __attribute__((warn_unused_result));
void store_flush_done(struct store *s, bool ok);
bool store_flush_busy(const struct store *s);
uint64_t store_flush_next(const struct store *s);
uint64_t store_flush_gen(const struct store *s);
uint64_t store_unflushed_bytes(const struct store *s);

#endif
