/* Private layout and state of the log store (see docs/log-format.md). */
#ifndef STORE_INT_H
#define STORE_INT_H
#include "store.h"

#include <lib/bytes.h> /* on-disk fields are little-endian: get_le32() and friends */

#define SB_BLOCKS       32u /* one superblock copy: 128 KiB */
#define SB_BYTES        (SB_BLOCKS * STORE_BLOCK)
#define SEG_BASE_BLK    (2u * SB_BLOCKS)      /* first segment block */
#define SB_MAGIC        0x31304c5757534c48ull /* "HLSWWL01" little-endian */
#define SEG_MAGIC       0x3130474553574c48ull /* "HLWSEG01" */
#define FRAME_MAGIC     0x46574c48u           /* "HLWF" */
#define FRAME_HDR       40u
#define SB_TOPIC_OFF    256u
#define SB_TOPIC_SIZE   256u
#define SEG_HDR_CRC_LEN 64u
#define SEG_HDR_CRC2    124u /* compacted segment: CRC of bytes 0..123 here */
#define SEG_F_COMPACTED 1u   /* header flags (byte 20) */
#define TAIL_CAP        (256u * 1024u)

/* One in-memory index entry per stored frame. */
struct store_idx {
	uint64_t base;
	int64_t max_ts;
	uint32_t seg;
	uint32_t pos;   /* byte position of the frame header in the segment */
	uint32_t count; /* offsets the frame covers */
};

struct store_seg {
	bool used;
	uint32_t topic, part;
	uint64_t seq, base;
	uint32_t end_pos; /* bytes of valid frames incl. header block */
	uint32_t seed;    /* CRC chain seed = header CRC */
	/* Order in the partition: key (= seq, or for a compacted segment the
	 * key of the first segment it replaced); a compacted segment replaces
	 * every older segment of its partition with a key in [key, key_last]
	 * and declares its end offset and end position (docs/log-format.md). */
	uint64_t key, key_last, end_off;
	bool compacted;
};

struct store_part {
	uint32_t topic, part;
	uint32_t *segs, nsegs, segs_cap; /* slots in offset order */
	uint64_t start_off, end_off, hwm;
	uint32_t last_crc;
	uint8_t *tail;      /* TAIL_CAP bytes mirroring [tail_base, +used) */
	uint32_t tail_base; /* block-aligned byte position in active segment */
	uint32_t tail_used;
	/* bytes [tail_used, tail_clean) of the tail buffer are zero: a write-out pads its last
	 * block only past them (0: nothing known; a new or moved tail) */
	uint32_t tail_clean;
	bool dirty;
	bool pinned;
	/* Asynchronous writes (store_write.c): wslot is 1 + the index in
	 * store.w of this partition's write in flight (0: none);
	 * last_append is the store's append counter at its newest append,
	 * wdone_ctr the counter when its newest completed write was issued
	 * (every append with a counter up to it is on the device). */
	uint8_t wslot;
	uint64_t last_append, wdone_ctr; /* never reclaimed when the device is full */
	struct store_idx *idx;
	uint32_t nidx, idx_cap;
};

/* A topic table slot: live (len > 0), being deleted (deleting: its
 * segments are still to be wiped; invisible to callers), or free (len 0,
 * nparts 0; reused by the next creation). */
struct store_topic {
	char name[STORE_NAME_MAX + 1];
	uint32_t len, nparts;
	bool deleting;
	struct store_part *parts;
};

/* One asynchronous write in flight (store_write.c). */
#define ST_WRITES 8u
enum { ST_W_FREE, ST_W_BUSY, ST_W_OK, ST_W_FAIL };
struct st_write {
	uint8_t state;
	uint32_t topic, part;
	uint8_t *buf; /* TAIL_CAP bytes, the partition's former tail buffer */
	uint64_t blk;
	uint32_t count;
	uint64_t hwm;    /* the partition's high watermark once it completed */
	uint64_t issued; /* append counter when it was submitted */
	bool reported;   /* its failure was counted */
	bool scratch;    /* buf is st_write_big's, freed (not kept as a tail) */
};

struct store {
	struct store_platform pl;
	struct st_write w[ST_WRITES];
	uint32_t w_busy;           /* slots not free */
	uint8_t *spare[ST_WRITES]; /* tail buffers kept for reuse */
	uint32_t nspare;
	uint64_t append_ctr;    /* appends so far */
	uint64_t flush_pending; /* number of a requested flush not yet submitted, or 0 */
	uint64_t flush_need;    /* append counter when it was requested */
	uint64_t write_errors;
	uint64_t writes_done; /* completed writes: their data became readable */
	uint64_t copied;      /* payload bytes copied into the store's buffers */
	bool write_failed;    /* a write failed since store_write_pending last ran */
	/* partitions with dirty set, so store_write_pending visits those alone (kept
	 * by st_set_dirty; a pass that visits every partition corrects it) */
	uint32_t ndirty;
	uint64_t gen, store_id, next_seq, flush_gen, unflushed;
	uint64_t flush_started, flush_inflight; /* inflight: its number or 0 */
	uint32_t seg_blocks, nsegs;
	struct store_seg *segs;
	struct store_topic *topics;
	uint32_t ntopics;
	uint8_t *sb; /* SB_BYTES scratch, also the block scratch */
	struct store_stats st;
	bool ready;
};

static inline uint64_t seg_blk(const struct store *s, uint32_t slot)
{
	return SEG_BASE_BLK + (uint64_t)slot * s->seg_blocks;
}

/* Mark p dirty (appended data not handed to the device) or clean, counted in ndirty. */
static inline void st_set_dirty(struct store *s, struct store_part *p, bool dirty)
{
	if (p->dirty != dirty)
		s->ndirty = dirty ? s->ndirty + 1 : (s->ndirty ? s->ndirty - 1 : 0);
	p->dirty = dirty;
}

void *st_alloc(struct store *s, size_t n);
void st_free(struct store *s, void *p);
void st_log(struct store *s, const char *what, const char *d, long long v);
int st_part_push_seg(struct store *s, struct store_part *p, uint32_t slot);
int st_idx_push(struct store *s, struct store_part *p, uint64_t base, int64_t ts, uint32_t seg,
                uint32_t pos, uint32_t count);
void *st_grow(struct store *s, void *old, uint32_t n, uint32_t *cap, size_t elem);
void st_encode_seg_hdr(const struct store *s, const struct store_seg *g, uint8_t *b);
int st_write_out(struct store *s, struct store_part *p);
int st_write_out_sync(struct store *s, struct store_part *p);
int st_write_sync_all(struct store *s);
void st_part_quiesce(struct store *s, struct store_part *p);
int st_part_wait(struct store *s, struct store_part *p);
int st_tail_own(struct store *s, struct store_part *p);
/* A frame's payload: head_len bytes at head, then len - head_len bytes gathered from v (from
 * skip in v[0]) (store_append_gather). */
struct st_gather {
	const uint8_t *head;
	uint32_t head_len;
	const struct store_iov *v;
	size_t skip;
	uint32_t len;
};
/* The frame header and g's payload copied to dst (counted in copied). */
void st_copy_frame(struct store *s, uint8_t *dst, const uint8_t *hdr, const struct st_gather *g);
int st_write_big(struct store *s, struct store_part *p, const uint8_t *hdr,
                 const struct st_gather *g, uint32_t count);
int st_flush_try(struct store *s);
int store_recover(struct store *s);
void st_encode_frame_hdr(uint8_t *h, uint32_t len, uint64_t base, int64_t ts, uint32_t count,
                         uint64_t seq);
int st_write_seg_hdr(struct store *s, uint32_t slot);
int st_sb_write(struct store *s);
struct store_part *st_part_any(struct store *s, uint32_t topic, uint32_t part);
void st_part_free(struct store *s, struct store_part *p);
int st_finish_deletes(struct store *s);

#endif
