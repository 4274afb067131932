/* Private broker state shared by the API handlers. */
#ifndef BROKER_INT_H
#define BROKER_INT_H
#include <stdbool.h>

#include "broker.h"
#include "kcodec.h"

enum {
	API_PRODUCE = 0,
	API_FETCH = 1,
	API_LIST_OFFSETS = 2,
	API_METADATA = 3,
	API_OFFSET_COMMIT = 8,
	API_OFFSET_FETCH = 9,
	API_FIND_COORD = 10,
	API_JOIN = 11,
	API_HEARTBEAT = 12,
	API_LEAVE = 13,
	API_SYNC = 14,
	API_VERSIONS = 18,
	API_DESCRIBE_GROUPS = 15,
	API_LIST_GROUPS = 16,
	API_CREATE_TOPICS = 19,
	API_DELETE_TOPICS = 20,
	API_DELETE_RECORDS = 21,
	API_DESCRIBE_CONFIGS = 32,
	API_ALTER_CONFIGS = 33,
	API_CREATE_PARTITIONS = 37,
	API_DELETE_GROUPS = 42,
	API_INCR_ALTER_CONFIGS = 44,
	API_OFFSET_DELETE = 47,
	API_INIT_PID = 22,
	API_DESCRIBE_CLUSTER = 60,
	API_ADD_PARTS_TXN = 24,
	API_ADD_OFFS_TXN = 25,
	API_END_TXN = 26,
	API_TXN_OFFSET_COMMIT = 28,
};

enum {
	KERR_NONE = 0,
	KERR_UNKNOWN = -1,
	KERR_OFFSET_RANGE = 1,
	KERR_CORRUPT = 2,
	KERR_UNKNOWN_TP = 3,
	KERR_NOT_LEADER = 6, /* NOT_LEADER_OR_FOLLOWER: another shard leads it */
	KERR_TOO_LARGE = 10,
	KERR_META_TOO_LARGE = 12,
	KERR_COORD_NA = 15,
	KERR_NOT_COORD = 16,
	KERR_INVALID_TOPIC = 17,
	KERR_INVALID_ACKS = 21,
	KERR_ILLEGAL_GEN = 22,
	KERR_INCONSISTENT_PROTO = 23,
	KERR_UNKNOWN_MEMBER = 25,
	KERR_INVALID_SESSION = 26,
	KERR_REBALANCING = 27,
	KERR_UNSUPPORTED_VERSION = 35,
	KERR_INVALID_REQUEST = 42,
	KERR_STORAGE = 56,
	KERR_GROUP_ID = 24,
	KERR_TOPIC_EXISTS = 36,
	KERR_INVALID_PARTITIONS = 37,
	KERR_INVALID_REPLICATION = 38,
	KERR_INVALID_ASSIGNMENT = 39,
	KERR_INVALID_CONFIG = 40,
	KERR_NON_EMPTY_GROUP = 68,
	KERR_GROUP_NOT_FOUND = 69,
	KERR_GROUP_SUBSCRIBED = 86,
	KERR_OUT_OF_ORDER = 45,
	KERR_INVALID_EPOCH = 47,
	KERR_INVALID_TXN_STATE = 48,
	KERR_INVALID_PID_MAPPING = 49,
	KERR_INVALID_TXN_TIMEOUT = 50,
	KERR_CONCURRENT_TXNS = 51,
	KERR_NOT_ATTEMPTED = 55,
	KERR_PRODUCER_FENCED = 90,
	KERR_UNKNOWN_PRODUCER = 59,
	KERR_INVALID_RECORD = 87,
	KERR_UNKNOWN_TOPIC_ID = 100,
	KERR_FENCED_INSTANCE = 82,
	KERR_FETCH_SESSION_NOT_FOUND = 70,
	KERR_INVALID_FETCH_EPOCH = 71,
};

/* Per-topic configs (topic_config.c): Kafka's defaults unless the TC_
 * bit is in set. Only these nine are accepted (others: INVALID_CONFIG). */
enum {
	TC_RETENTION_MS = 1,
	TC_RETENTION_BYTES = 2,
	TC_CLEANUP = 4,
	TC_MAX_MSG = 8,
	TC_TS_TYPE = 16,
	TC_DIRTY_RATIO = 32,
	TC_DELETE_RET = 64,
	TC_MIN_LAG = 128,
	TC_SEGMENT_MS = 256
};
enum { CLEANUP_DELETE = 1, CLEANUP_COMPACT = 2 };

struct tconf {
	int64_t retention_ms, retention_bytes;
	int32_t max_msg;
	uint8_t cleanup;     /* CLEANUP_ bits */
	uint16_t set;        /* TC_ bits set explicitly for the topic */
	uint8_t append_time; /* message.timestamp.type=LogAppendTime */
	/* compaction: min.cleanable.dirty.ratio in millionths,
	 * delete.retention.ms, min.compaction.lag.ms, segment.ms */
	uint32_t dirty_ppm;
	int64_t delete_retention_ms, min_lag_ms, segment_ms;
};

/* R_WAIT_WRITE: acks=1, released once the data is handed to the device
 * (survives a crash of the broker process); R_WAIT_FLUSH: acks=-1 and
 * commits, released once a flush covering the data completed. */
enum resp_state { R_READY, R_WAIT_WRITE, R_WAIT_FLUSH, R_PARKED };

#define KRESP_MAX_BUFS 64u

struct kresp {
	struct kresp *next;
	struct kconn *conn;
	struct kw w; /* starts with size + correlation id */
	enum resp_state state;
	uint64_t flush_gen;
	uint32_t nbufs;
	void *bufs[KRESP_MAX_BUFS]; /* store read buffers freed after send */
	struct kresp **owner;       /* cleared when the response dies */
	/* parked fetch */
	uint8_t *req_copy;
	uint32_t req_len;
	int16_t ver;
	int32_t corr;
	uint64_t deadline;
	struct kresp *park_next;
	struct kiov *iov;
	struct fent *fents; /* parked fetch: its partitions (api_fetch.c) */
	uint32_t nfents;
	int32_t sess_id; /* fetch session answered (0: none) */
	int32_t fmax;    /* the fetch's response max_bytes */
	bool sess_incr;  /* incremental answer: changed partitions only */
	bool committed;  /* read_committed fetch: data below the LSO only */
};

struct kconn {
	struct broker *b;
	void *handle;
	struct kresp *head, *tail;
	bool sending, closing;
	bool req_flex; /* the request being handled is a flexible version */
	uint32_t nq;   /* responses queued (bounded: see KCONN_MAX_QUEUE) */
	/* Sent responses whose memory the transport still references
	 * (broker_send_hold), linked through next; bounded by the transport. */
	struct kresp *held;
	struct kconn *next, *prev;
};

/* Past this many queued responses a connection's input is left unread
 * until the client drains responses (Kafka mutes the channel likewise). */
#define KCONN_MAX_QUEUE 1024u

struct kreq {
	int16_t key, ver;
	int32_t corr;
	struct kstr client; /* client id from the header */
	struct kr r;        /* body */
	uint8_t *raw;       /* whole frame after the size field */
	uint32_t raw_len;
};

struct kgroup;
struct fsess;

/* One partition of a fetch: from the request or from a fetch session
 * (KIP-227). tid < 0: the negated error of an unknown or invalid topic,
 * whose name is kept (name points into the request copy). */
struct fent {
	int32_t tid, idx;
	int64_t off;
	int32_t pmax;
	const char *name;
	int32_t nlen;
	int32_t slot; /* index in its session, -1 when none */
};

/* Fetch sessions kept at most (Kafka's max.incremental.fetch.session.
 * cache.slots default) and partitions per session. */
#define FSESS_MAX       1000u
#define FSESS_MAX_PARTS 4096u

struct broker {
	struct broker_platform pl;
	struct kalloc al;
	struct broker_config cfg;
	char adv_host[256];
	struct store *st;
	struct kconn *conns;
	struct kresp *parked; /* long-poll fetches */
	struct kgroup *groups;
	uint64_t last_flush_ms;
	uint32_t wait_flush;             /* responses waiting for the next flush */
	uint32_t wait_write;             /* responses waiting for the next write-out */
	struct store_part *offsets_part; /* committed-offsets log */
	bool data_arrived;               /* new data since the parked fetches looked */
	uint64_t writes_seen;            /* store_writes_done when commit last looked */
	struct tconf *tconf;             /* STORE_MAX_TOPICS entries, by topic id */
	uint64_t *replay_new;            /* while replaying: last "topic created" record */
	struct pstate *pstates;          /* idempotent producers (producer.c) */
	uint32_t pcap, pcount;
	int64_t next_pid, pid_end; /* ids below pid_end are logged as used */
	uint64_t last_retention;   /* last retention check (now_ms) */
	uint32_t meta_segs_left;   /* metadata log segments after compaction */
	uint64_t rng;              /* member-id UUIDs (broker_random) */
	struct fsess *fsess;       /* FSESS_MAX fetch sessions (api_fetch.c) */
	uint32_t fsess_used;
	int32_t fsess_next_id;
	struct txn **txns; /* transaction coordinator state (txn.c) */
	uint32_t ntxns, ctxns;
	struct ptx *ptx; /* open and aborted transactions per partition */
	uint32_t nptx, cptx;
	uint64_t txn_prune_ms;
	struct tlead *tlead; /* shard > 0: transactions of its partitions (txn.c) */
	uint32_t ntlead, ctlead;
	bool txn_synced;       /* shard 0: leaders told of the open transactions */
	struct compactor *cmp; /* log compaction (compact.c) */
	/* responses a write or a flush made ready: broker_poll kicks the connections */
	bool kick;
	/* group_poll has nothing due before this (now_ms); 0: look at the next poll. Whatever
	 * may bring a group's timed event earlier sets it to 0 (group_touch) */
	uint64_t group_due;
};

/* The compaction key map (compact_core.c): open addressing over
 * 128-bit key hashes, cap a power of two; and the idempotent producers
 * seen with the base offset of their last batch. */
#define CMAP_PIDS 1024u
struct cmap_ent {
	uint64_t h1, h2; /* h1 == 0: empty */
	int64_t off;
};
/* The codecs the compaction core uses for compressed batches: the
 * platform's (broker.h), two buffers of cap bytes (a batch decompressed,
 * its survivors) and what became of compressed batches. */
struct ccodec {
	long (*decompress)(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out,
	                   size_t cap);
	long (*compress)(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out,
	                 size_t cap);
	void *ctx;
	uint8_t *buf, *zbuf;
	uint32_t cap;
	/* kept whole: not decodable (or its records malformed), larger
	 * than cap decompressed or recompressed; rewritten with survivors */
	uint64_t corrupt, too_large, rewritten;
};
struct cmap {
	struct ccodec *cc; /* NULL: compressed batches are kept whole */
	struct cmap_ent *e;
	uint32_t cap, n, npid;
	bool overflow; /* a key did not fit: the map is full */
	int64_t pid[CMAP_PIDS], pid_last[CMAP_PIDS];
};
struct compactor;
/* Whether this shard leads partition p of topic t (always with one). */
static inline bool broker_leads(const struct broker *b, uint32_t t, uint32_t p)
{
	return b->cfg.shards <= 1 || broker_part_owner(b->cfg.shards, t, p) == b->cfg.shard;
}

/* broker.c */
void *broker_alloc(struct broker *b, size_t n);
void broker_free(struct broker *b, void *p);
/* A grown copy of the array old holding n of *cap elements of elem bytes
 * (capacity doubled, first when 0; NULL beyond max or without memory,
 * old then untouched); old is freed and *cap updated. */
void *broker_grow(struct broker *b, void *old, uint32_t n, uint32_t *cap, size_t elem,
                  uint32_t first, uint32_t max);
void broker_log(struct broker *b, const char *what, const char *d, long long v);
struct kresp *broker_resp_new(struct broker *b, struct kconn *c, int32_t corr);
void broker_resp_finish(struct kresp *r);
void broker_resp_free(struct broker *b, struct kresp *r);
void broker_resp_ready(struct broker *b, struct kresp *r);
void broker_conn_kick(struct broker *b, struct kconn *c);
/* 64 pseudo-random bits (splitmix64 seeded from the clocks): unique ids,
 * not secrets. */
uint64_t broker_random(struct broker *b);

bool api_flexible(int16_t key, int16_t ver);
uint32_t api_table_get(uint32_t i, int16_t *key, int16_t *min, int16_t *max);

/* api_meta.c */
int api_versions(struct broker *b, struct kconn *c, struct kreq *q);
int api_metadata(struct broker *b, struct kconn *c, struct kreq *q);
int api_describe_cluster(struct broker *b, struct kconn *c, struct kreq *q);
int topic_lookup(struct broker *b, const struct kstr *name, bool create);
/* The topics array of a decoded request, answered topic by topic: reads
 * each topic's name (its id or negated error: tid) and partitions array
 * from rd and writes the answer's name and partitions array around one
 * call of part per requested partition, which reads that partition's
 * fields and writes its answer. min_topic/min_part: the entries' least
 * encoded sizes. Returns the sum of part's results. */
typedef int32_t (*api_part_fn)(struct broker *b, struct kr *rd, struct kresp *r, int tid,
                               void *ctx);
int32_t api_each_topic_part(struct broker *b, struct kr *rd, struct kresp *r, int32_t min_topic,
                            int32_t min_part, api_part_fn part, void *ctx);
bool topic_name_valid(const struct kstr *name);
bool topic_is_internal(const char *name, uint32_t len);
bool api_version_ok(int16_t key, int16_t ver);

/* api_data.c */
int api_produce(struct broker *b, struct kconn *c, struct kreq *q);
bool api_rec_varint(const uint8_t *p, uint32_t n, uint32_t *at, int64_t *v);
int api_list_offsets(struct broker *b, struct kconn *c, struct kreq *q);
int api_batch_check(const uint8_t *p, uint32_t len, uint32_t *count, int64_t *max_ts);

/* api_fetch.c */
int api_fetch(struct broker *b, struct kconn *c, struct kreq *q);
void api_fetch_poll(struct broker *b, bool force_all, uint64_t now);
void api_fetch_sessions_free(struct broker *b);
void api_fetch_drop_topic(struct broker *b, uint32_t tid);

/* Admin requests may list at most this many topics, resources or groups
 * (clients send a handful); more is treated as malformed, which bounds the
 * work of the per-entry duplicate and lookup scans. */
#define ADMIN_MAX_ENTRIES 1000

static inline int32_t kr_admin_array(struct kr *r, uint32_t min_elem)
{
	int32_t n = kr_array(r, min_elem, false);

	if (n > (int32_t)ADMIN_MAX_ENTRIES)
		r->bad = true;
	return r->bad ? 0 : n;
}

/* topic_config.c */
void topic_conf_default(struct tconf *c);
int16_t topic_conf_set(struct tconf *c, const struct kstr *name, const struct kstr *val,
                       const char **msg);
void topic_conf_encode(struct kw *w, const struct tconf *c);
void topic_conf_decode(struct kr *r, struct tconf *c);
void topic_conf_list(struct broker *b, struct kw *w, const struct tconf *c);
int api_describe_configs(struct broker *b, struct kconn *c, struct kreq *q);
int api_alter_configs(struct broker *b, struct kconn *c, struct kreq *q);
int api_incr_alter_configs(struct broker *b, struct kconn *c, struct kreq *q);

/* topic_admin.c */
int api_create_topics(struct broker *b, struct kconn *c, struct kreq *q);
int api_delete_topics(struct broker *b, struct kconn *c, struct kreq *q);
int api_create_partitions(struct broker *b, struct kconn *c, struct kreq *q);
int api_delete_records(struct broker *b, struct kconn *c, struct kreq *q);
int topic_create(struct broker *b, const struct kstr *name, uint32_t parts,
                 const struct tconf *conf);

/* meta_log.c: the broker's own records in __hallows_offsets (commits,
 * topic creations and configs, log starts, deleted offsets and groups) */
#define META_TOPIC_NEW  0x48544e31 /* "HTN1" topic id, tconf */
#define META_TOPIC_CONF 0x48544331 /* "HTC1" topic id, tconf */
#define META_LOG_START  0x48445231 /* "HDR1" topic id, part, start */
#define META_OFFS_DEL   0x484f5831 /* "HOX1" group, [topic id, part] */
#define META_GROUP_DEL  0x48475831 /* "HGX1" group */
#define META_PID_BLOCK  0x48504931 /* "HPI1" end of a producer id block */
#define META_TXN        0x48545831 /* "HTX1" a transaction's state (txn.c) */
/* Offset commit records (group_offsets.c): "HOC2" group, [topic id,
 * partition, offset, metadata]; "HOC1" (no metadata) still replayed. */
#define OFFLOG_MAGIC_V1 0x484f4331
#define OFFLOG_MAGIC    0x484f4332
bool meta_append(struct broker *b, struct kw *w);
int meta_sync(struct broker *b);
void broker_resp_wait_flush(struct broker *b, struct kresp *r);
bool meta_stale(const struct broker *b, int32_t topic, uint64_t rec_off);
void meta_compact(struct broker *b);
bool group_offlog_snapshot(struct broker *b);

/* retention.c */
void retention_poll(struct broker *b, uint64_t now);

/* compact_core.c, compact.c: log compaction */
/* A record varint (zig-zag) of v at p (up to 10 bytes); returns its size. */
uint32_t compact_put_varint(uint8_t *p, int64_t v);
void compact_map_reset(struct cmap *m);
bool compact_map_full(const struct cmap *m);
/* The transaction state of a stored batch (txn_batch_state), for the
 * compaction core: ended (committed, or not transactional, or a
 * marker), aborted, still open. */
enum { CTX_ENDED = 0, CTX_ABORTED = 1, CTX_OPEN = 2 };
int compact_map_batch(struct cmap *m, const uint8_t *h, uint32_t len, int txs);
int compact_filter_batch(const struct cmap *m, const uint8_t *h, uint32_t len, int txs, int64_t now,
                         int64_t delete_retention_ms, uint8_t *out, uint32_t out_cap,
                         uint32_t *out_len);
void compact_poll(struct broker *b, uint64_t now);
bool compact_busy(const struct broker *b);
void compact_free(struct broker *b);

/* producer.c */
struct pstate;
int api_init_producer_id(struct broker *b, struct kconn *c, struct kreq *q);
bool prod_batch_is_idempotent(const uint8_t *h);
int16_t prod_check(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h, int64_t *dup);
void prod_update(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h, int64_t base);
void prod_drop_topic(struct broker *b, uint32_t t);
void prod_free(struct broker *b);
int prod_rebuild(struct broker *b);
void prod_apply_block(struct broker *b, int64_t end);
int64_t prod_pid_alloc(struct broker *b);

/* txn.c */
struct txn;
struct ptx;
bool txn_init_pid(struct broker *b, struct kresp *r, int16_t ver, const struct kstr *id,
                  int32_t timeout, int64_t pid, int16_t epoch);
int api_add_parts_txn(struct broker *b, struct kconn *c, struct kreq *q);
int api_add_offs_txn(struct broker *b, struct kconn *c, struct kreq *q);
int api_end_txn(struct broker *b, struct kconn *c, struct kreq *q);
int api_txn_offset_commit(struct broker *b, struct kconn *c, struct kreq *q);
int16_t txn_produce_check(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h);
void txn_part_batch(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h, uint32_t len,
                    int64_t base);
int64_t txn_lso(const struct broker *b, uint32_t t, uint32_t p, int64_t hwm);
void txn_write_aborted(const struct broker *b, struct kw *w, uint32_t t, uint32_t p, int64_t from,
                       int64_t to);
void txn_meta_apply(struct broker *b, struct kr *r);
bool txn_snapshot(struct broker *b);
void txn_poll(struct broker *b, uint64_t now);
void txn_recover(struct broker *b);
void txn_drop_topic(struct broker *b, uint32_t t);
void txn_free(struct broker *b);
int txn_batch_state(const struct broker *b, uint32_t t, uint32_t p, const uint8_t *h);

/* group.c, group_api.c, group_admin.c */
int api_list_groups(struct broker *b, struct kconn *c, struct kreq *q);
int api_describe_groups(struct broker *b, struct kconn *c, struct kreq *q);
int api_delete_groups(struct broker *b, struct kconn *c, struct kreq *q);
int api_offset_delete(struct broker *b, struct kconn *c, struct kreq *q);
void group_drop_topic(struct broker *b, uint32_t topic);
void group_meta_apply(struct broker *b, int32_t magic, struct kr *r, uint64_t rec_off);
int api_find_coord(struct broker *b, struct kconn *c, struct kreq *q);
int api_join(struct broker *b, struct kconn *c, struct kreq *q);
int api_sync(struct broker *b, struct kconn *c, struct kreq *q);
int api_heartbeat(struct broker *b, struct kconn *c, struct kreq *q);
int api_leave(struct broker *b, struct kconn *c, struct kreq *q);
int api_offset_commit(struct broker *b, struct kconn *c, struct kreq *q);
int api_offset_fetch(struct broker *b, struct kconn *c, struct kreq *q);
void group_poll(struct broker *b, uint64_t now);
void group_touch(struct broker *b);
int meta_offsets_load(struct broker *b);
void group_offlog_apply(struct broker *b, const uint8_t *p, uint32_t len, uint64_t rec_off);

/* Internal topic holding the committed-offsets log; clients never see it. */
#define OFFSETS_TOPIC "__hallows_offsets"
void group_destroy_all(struct broker *b);
uint32_t group_next_timeout(const struct broker *b, uint64_t now);

#endif
