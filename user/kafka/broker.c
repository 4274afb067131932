/* Broker core: connections, request framing and dispatch, the in-order
 * response queue per connection, and the per-turn commit point. */
#include <lib/string.h>

#include "broker_int.h"

struct api_ent {
	int16_t key, min, max;
	int16_t flex; /* first flexible version (KIP-482), 0x7fff = none */
	int (*fn)(struct broker *, struct kconn *, struct kreq *);
};

#define NOFLEX 0x7fff

/* Versions: up to what current Kafka clients prefer, flexible versions
 * included (docs/broker.md, "Protocol versions"). Produce advertises min 0
 * so librdkafka 2.0.2 compresses (it checks Produce v0 support), but v0-2
 * requests are answered UNSUPPORTED_VERSION: only RecordBatch v2 is
 * stored. The flexible column is the first flexible version of each
 * API's schema; requests from it on use request header v2 and get
 * response header v1 (ApiVersions excepted, handled on its own). */
static const struct api_ent api_table[] = {
    {API_PRODUCE, 0, 9, 9, api_produce},
    {API_FETCH, 4, 12, 12, api_fetch},
    {API_LIST_OFFSETS, 1, 7, 6, api_list_offsets},
    {API_METADATA, 0, 12, 9, api_metadata},
    {API_OFFSET_COMMIT, 2, 8, 8, api_offset_commit},
    {API_OFFSET_FETCH, 1, 7, 6, api_offset_fetch},
    {API_FIND_COORD, 0, 4, 3, api_find_coord},
    {API_JOIN, 0, 9, 6, api_join},
    {API_HEARTBEAT, 0, 4, 4, api_heartbeat},
    {API_LEAVE, 0, 5, 4, api_leave},
    {API_SYNC, 0, 5, 4, api_sync},
    {API_VERSIONS, 0, 3, 3, api_versions},
    /* Admin APIs, flexible versions included (librdkafka 2.0.2's maxima:
     * DescribeGroups 4, CreateTopics 4, DeleteTopics 1, DeleteRecords 1,
     * DescribeConfigs 1, AlterConfigs 0, CreatePartitions 0, DeleteGroups
     * 1, OffsetDelete 0, ListGroups 4). DeleteTopics stops at 5 and
     * CreateTopics at 7: later versions address topics by id. */
    {API_DESCRIBE_GROUPS, 0, 5, 5, api_describe_groups},
    {API_LIST_GROUPS, 0, 4, 3, api_list_groups},
    {API_CREATE_TOPICS, 0, 7, 5, api_create_topics},
    {API_DELETE_TOPICS, 0, 5, 4, api_delete_topics},
    {API_DELETE_RECORDS, 0, 2, 2, api_delete_records},
    {API_DESCRIBE_CONFIGS, 0, 4, 4, api_describe_configs},
    {API_ALTER_CONFIGS, 0, 2, 2, api_alter_configs},
    {API_CREATE_PARTITIONS, 0, 3, 2, api_create_partitions},
    {API_DELETE_GROUPS, 0, 2, 2, api_delete_groups},
    {API_INCR_ALTER_CONFIGS, 0, 1, 1, api_incr_alter_configs},
    {API_OFFSET_DELETE, 0, 0, NOFLEX, api_offset_delete},
    {API_DESCRIBE_CLUSTER, 0, 0, 0, api_describe_cluster},
    /* idempotent producer; v2+ are flexible (librdkafka 2.0.2 max 4). A
     * v3+ request naming its old id and epoch (KIP-360) gets a fresh id:
     * its sequences restart at 0 either way. */
    {API_INIT_PID, 0, 4, 2, api_init_producer_id},
    /* transactions (txn.c); v3 is the first flexible version of each,
     * later versions batch transactions (broker to broker) or add
     * KIP-890 errors (librdkafka 2.0.2: AddPartitionsToTxn 0,
     * AddOffsetsToTxn 0, EndTxn 1, TxnOffsetCommit 3) */
    {API_ADD_PARTS_TXN, 0, 3, 3, api_add_parts_txn},
    {API_ADD_OFFS_TXN, 0, 3, 3, api_add_offs_txn},
    {API_END_TXN, 0, 3, 3, api_end_txn},
    {API_TXN_OFFSET_COMMIT, 0, 3, 3, api_txn_offset_commit},
};

#define API_COUNT (sizeof(api_table) / sizeof(api_table[0]))

/* Number of advertised APIs and entry i of the table (for ApiVersions). */
/* True when version ver of API key is flexible. */
bool api_flexible(int16_t key, int16_t ver)
{
	for (uint32_t i = 0; i < API_COUNT; i++)
		if (api_table[i].key == key)
			return ver >= api_table[i].flex;
	return false;
}

uint32_t api_table_get(uint32_t i, int16_t *key, int16_t *min, int16_t *max)
{
	if (i >= API_COUNT)
		return 0;
	*key = api_table[i].key;
	*min = api_table[i].min;
	*max = api_table[i].max;
	return API_COUNT;
}

void *broker_alloc(struct broker *b, size_t n)
{
	void *p = b->pl.alloc(b->pl.ctx, n);
	if (p)
		memset(p, 0, n);
	return p;
}

void broker_free(struct broker *b, void *p)
{
	if (p)
		b->pl.free(b->pl.ctx, p);
}

void *broker_grow(struct broker *b, void *old, uint32_t n, uint32_t *cap, size_t elem,
                  uint32_t first, uint32_t max)
{
	uint32_t nc = *cap ? *cap * 2 : first;
	void *p;

	if (nc > max || !(p = broker_alloc(b, (size_t)nc * elem)))
		return NULL;
	if (n)
		memcpy(p, old, (size_t)n * elem);
	broker_free(b, old);
	*cap = nc;
	return p;
}

uint64_t broker_random(struct broker *b)
{
	uint64_t z = (b->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void broker_log(struct broker *b, const char *what, const char *d, long long v)
{
	if (b->pl.log)
		b->pl.log(b->pl.ctx, what, d, v);
}

struct broker *broker_create(const struct broker_platform *pl, const struct broker_config *cfg,
                             struct store *st)
{
	struct broker *b = pl->alloc(pl->ctx, sizeof(*b));
	size_t hl = strlen(cfg->adv_host);

	if (!b || hl >= sizeof(b->adv_host)) {
		if (b)
			pl->free(pl->ctx, b);
		return NULL;
	}
	memset(b, 0, sizeof(*b));
	b->pl = *pl;
	b->al = (struct kalloc){pl->ctx, pl->alloc, pl->free};
	b->cfg = *cfg;
	memcpy(b->adv_host, cfg->adv_host, hl + 1);
	b->cfg.adv_host = b->adv_host;
	if (b->cfg.shards < 1)
		b->cfg.shards = 1;
	if (b->cfg.shard >= b->cfg.shards) {
		pl->free(pl->ctx, b);
		return NULL;
	}
	b->st = st;
	b->last_flush_ms = pl->now_ms(pl->ctx);
	b->rng = b->last_flush_ms ^ (uint64_t)(uintptr_t)b ^
	         (pl->wall_ms ? pl->wall_ms(pl->ctx) << 20 : 0);
	if (meta_offsets_load(b) || prod_rebuild(b)) {
		broker_log(b, "broker: cannot replay the metadata log or the producer state", "",
		           0);
		group_destroy_all(b);
		prod_free(b);
		txn_free(b);
		broker_free(b, b->tconf);
		broker_free(b, b->replay_new);
		pl->free(pl->ctx, b);
		return NULL;
	}
	txn_recover(b); /* transactions a crash left half-ended */
	return b;
}

uint32_t broker_part_owner(uint32_t shards, uint32_t topic, uint32_t part)
{
	return shards > 1 ? (topic + part) % shards : 0;
}

bool broker_conn_idle(const struct kconn *c)
{
	return !c->head && !c->sending && !c->nq;
}

void broker_destroy(struct broker *b)
{
	while (b->conns)
		broker_conn_closed(b, b->conns);
	group_destroy_all(b);
	prod_free(b);
	txn_free(b);
	api_fetch_sessions_free(b);
	compact_free(b);
	broker_free(b, b->tconf);
	b->pl.free(b->pl.ctx, b);
}

struct kconn *broker_conn_open(struct broker *b, void *handle)
{
	struct kconn *c = broker_alloc(b, sizeof(*c));

	if (!c)
		return NULL;
	c->b = b;
	c->handle = handle;
	c->next = b->conns;
	if (b->conns)
		b->conns->prev = c;
	b->conns = c;
	return c;
}

void broker_conn_closed(struct broker *b, struct kconn *c)
{
	while (c->head) {
		struct kresp *r = c->head;
		c->head = r->next;
		broker_resp_free(b, r);
	}
	while (c->held) {
		struct kresp *r = c->held;
		c->held = r->next;
		broker_resp_free(b, r);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		b->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	broker_free(b, c);
}

/* New response at the tail of c's queue, parked until made ready. */
struct kresp *broker_resp_new(struct broker *b, struct kconn *c, int32_t corr)
{
	struct kresp *r = broker_alloc(b, sizeof(*r));

	if (!r)
		return NULL;
	r->conn = c;
	r->state = R_PARKED;
	r->corr = corr;
	kw_init(&r->w, &b->al);
	kw_i32(&r->w, 0);
	kw_i32(&r->w, corr);
	if (c->req_flex) { /* response header v1: its (empty) tag buffer */
		r->w.flex = true;
		kw_tags(&r->w);
	}
	if (c->tail)
		c->tail->next = r;
	else
		c->head = r;
	c->tail = r;
	c->nq++;
	return r;
}

void broker_resp_finish(struct kresp *r)
{
	kw_patch32(&r->w, 0, (int32_t)(kw_total(&r->w) - 4));
}

void broker_resp_ready(struct broker *b, struct kresp *r)
{
	r->state = R_READY;
	broker_conn_kick(b, r->conn);
}

/* Release a response and everything it references; unlinks it from the
 * parked-fetch list and clears the group slot that points at it. */
void broker_resp_free(struct broker *b, struct kresp *r)
{
	for (struct kresp **pp = &b->parked; *pp; pp = &(*pp)->park_next)
		if (*pp == r) {
			*pp = r->park_next;
			break;
		}
	if (r->owner) { /* a member's parked join or sync: its session may now run */
		*r->owner = NULL;
		group_touch(b);
	}
	if (r->state == R_WAIT_FLUSH && b->wait_flush)
		b->wait_flush--;
	if (r->state == R_WAIT_WRITE && b->wait_write)
		b->wait_write--;
	/* Store read buffers go back to the store's allocator, which need not
	 * be the broker's (on Hallows it is the disk's DMA arena). */
	for (uint32_t i = 0; i < r->nbufs; i++) {
		struct store_read rd = {.buf = r->bufs[i]};
		store_read_release(b->st, &rd);
	}
	kw_free(&r->w);
	broker_free(b, r->req_copy);
	broker_free(b, r->fents);
	broker_free(b, r->iov);
	broker_free(b, r);
}

/* Build the iovec for r: own bytes interleaved with referenced ones. */
static bool resp_iov(struct broker *b, struct kresp *r, uint32_t *n)
{
	struct kw *w = &r->w;
	uint32_t at = 0, k = 0;

	r->iov = broker_alloc(b, (2 * w->next + 1) * sizeof(struct kiov));
	if (!r->iov)
		return false;
	for (uint32_t i = 0; i < w->next; i++) {
		if (w->ext[i].at > at)
			r->iov[k++] = (struct kiov){w->buf + at, w->ext[i].at - at};
		at = w->ext[i].at;
		if (w->ext[i].len)
			r->iov[k++] = (struct kiov){w->ext[i].p, w->ext[i].len};
	}
	if (w->len > at)
		r->iov[k++] = (struct kiov){w->buf + at, w->len - at};
	*n = k;
	return true;
}

/* Start sending the head response if it is ready and nothing is in flight. */
void broker_conn_kick(struct broker *b, struct kconn *c)
{
	struct kresp *r = c->head;
	uint32_t n;

	if (c->sending || c->closing || !r || r->state != R_READY)
		return;
	if (r->w.oom || !resp_iov(b, r, &n)) {
		broker_log(b, "broker: out of memory building response", "", r->corr);
		c->closing = true;
		b->pl.close(b->pl.ctx, c->handle);
		return;
	}
	c->sending = true;
	if (b->pl.send(b->pl.ctx, c->handle, r->iov, n)) {
		c->closing = true;
		b->pl.close(b->pl.ctx, c->handle);
	}
}

void broker_send_done(struct broker *b, struct kconn *c)
{
	struct kresp *r = c->head;

	c->sending = false;
	if (!r)
		return;
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	c->nq--;
	broker_resp_free(b, r);
	broker_conn_kick(b, c);
}

/* The head response is handed over whole but its memory stays referenced
 * (a transport that retransmits from it until acknowledged): it leaves the
 * queue, the next one may start, and broker_send_release() frees it. */
void *broker_send_hold(struct broker *b, struct kconn *c)
{
	struct kresp *r = c->head;

	c->sending = false;
	if (!r)
		return NULL;
	c->head = r->next;
	if (!c->head)
		c->tail = NULL;
	c->nq--;
	r->next = c->held;
	c->held = r;
	broker_conn_kick(b, c);
	return r;
}

void broker_send_release(struct broker *b, struct kconn *c, void *token)
{
	for (struct kresp **pp = &c->held; *pp; pp = &(*pp)->next)
		if (*pp == token) {
			*pp = (*pp)->next;
			broker_resp_free(b, token);
			return;
		}
}

/* Answer an unknown API or unsupported version: correlation id followed by
 * error UNSUPPORTED_VERSION (the shape of an ApiVersions v0 error). */
static int reply_unsupported(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kresp *r = broker_resp_new(b, c, q->corr);

	if (!r)
		return -1;
	kw_i16(&r->w, KERR_UNSUPPORTED_VERSION);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	broker_log(b, "broker: unsupported api/version", "key", q->key * 1000 + q->ver);
	return 0;
}

/* Parse the request header and run the handler for one frame. */
static int handle_req(struct broker *b, struct kconn *c, struct kreq *qp)
{
	struct kreq q = *qp;
	struct kstr client;

	q.key = kr_i16(&q.r);
	q.ver = kr_i16(&q.r);
	q.corr = kr_i32(&q.r);
	if (!kr_str(&q.r, &client)) {
		qp->r.arena_full = q.r.arena_full;
		return -1;
	}
	q.client = client;
	if (q.key == API_VERSIONS)
		return api_versions(b, c, &q);
	for (uint32_t i = 0; i < API_COUNT; i++) {
		int rc;
		if (api_table[i].key != q.key)
			continue;
		if (q.ver < api_table[i].min || q.ver > api_table[i].max ||
		    (q.key == API_PRODUCE && q.ver < 3))
			break;
		if (q.ver >= api_table[i].flex) { /* request header v2 */
			kr_skip_tags(&q.r);
			if (q.r.bad)
				return -1;
			q.r.flex = true;
		}
		c->req_flex = q.r.flex;
		rc = api_table[i].fn(b, c, &q);
		c->req_flex = false;
		qp->r.arena_full = q.r.arena_full;
		return rc;
	}
	return reply_unsupported(b, c, &q);
}

static int handle_frame(struct broker *b, struct kconn *c, uint8_t *p, uint32_t n)
{
	struct kreq q = {.raw = p, .raw_len = n};

	kr_init(&q.r, p, n);
	return handle_req(b, c, &q);
}

size_t broker_conn_input(struct broker *b, struct kconn *c, uint8_t *data, size_t len)
{
	size_t off = 0;

	while (!c->closing && len - off >= 4 && c->nq < KCONN_MAX_QUEUE) {
		uint32_t n = get_be32(data + off);
		if (n < 8 || n > b->cfg.max_request) {
			broker_log(b, "broker: bad request size, closing", "", (long long)n);
			goto close;
		}
		if (len - off - 4 < n)
			break;
		if (handle_frame(b, c, data + off + 4, n)) {
			broker_log(b, "broker: malformed request, closing", "api",
			           (long long)(int16_t)(data[off + 4] << 8 | data[off + 5]));
			goto close;
		}
		off += 4 + (size_t)n;
	}
	return off;
close:
	c->closing = true;
	b->pl.close(b->pl.ctx, c->handle);
	return len;
}

#define GATHER_ARENA 1024u /* header fields crossing receive buffers, copied aside */

int broker_conn_input_gather(struct broker *b, struct kconn *c, const struct store_iov *v,
                             size_t skip, uint32_t len)
{
	uint8_t hd[6], arena[GATHER_ARENA];
	struct kreq q = {0};
	uint32_t n;

	if (c->closing)
		return BROKER_GATHER_DONE;
	if (c->nq >= KCONN_MAX_QUEUE)
		return BROKER_GATHER_LATER;
	if (len < 4 + 8)
		return BROKER_GATHER_COPY;
	store_iov_copy(hd, v, skip, sizeof(hd));
	n = get_be32(hd);
	/* anything but a well-sized Produce goes the usual way, which also reports bad sizes */
	if (n != len - 4 || n > b->cfg.max_request || get_be16(hd + 4) != API_PRODUCE)
		return BROKER_GATHER_COPY;
	kr_init_gather(&q.r, v, skip + 4, n, arena, sizeof(arena));
	if (!handle_req(b, c, &q))
		return BROKER_GATHER_DONE;
	/* a request decoded before anything changes: with the arena full, nothing was done */
	if (q.r.arena_full)
		return BROKER_GATHER_COPY;
	broker_log(b, "broker: malformed request, closing", "api", API_PRODUCE);
	c->closing = true;
	b->pl.close(b->pl.ctx, c->handle);
	return BROKER_GATHER_DONE;
}

/* Make responses that waited for durability ready once a flush covers them. */
static void release_flushed(struct broker *b)
{
	uint64_t gen = store_flush_gen(b->st);

	for (struct kconn *c = b->conns; c; c = c->next)
		for (struct kresp *r = c->head; r; r = r->next)
			if (r->state == R_WAIT_FLUSH && r->flush_gen <= gen) {
				r->state = R_READY;
				b->wait_flush--;
				b->kick = true;
			}
}

/* After a successful write-out, acks=1 responses may go. */
static void release_written(struct broker *b)
{
	for (struct kconn *c = b->conns; c && b->wait_write; c = c->next)
		for (struct kresp *r = c->head; r; r = r->next)
			if (r->state == R_WAIT_WRITE) {
				r->state = R_READY;
				b->wait_write--;
				b->kick = true;
			}
}

/* A failed flush cannot confirm anything: drop every connection that
 * waits for one (those clients see no acknowledgement and retry). */
static void fail_waiters(struct broker *b)
{
	broker_log(b, "broker: device flush failed, dropping waiting connections", "",
	           b->wait_flush);
	for (struct kconn *c = b->conns; c; c = c->next)
		for (struct kresp *r = c->head; r; r = r->next)
			if (r->state == R_WAIT_FLUSH && !c->closing) {
				c->closing = true;
				b->pl.close(b->pl.ctx, c->handle);
			}
}

/* Flush policy (docs/broker.md): flush when an acks=-1 produce or a
 * commit waits, when the oldest unflushed data is flush_ms old, or past
 * flush_bytes. With an asynchronous platform flush at most one runs; its
 * completion arrives through broker_flush_done. */
static void commit(struct broker *b, uint64_t now)
{
	uint64_t dirty;

	if (store_write_pending(b->st)) {
		/* the data stays in the store and is written again; produces that
		 * wait for a flush covering it fail (their clients retry) */
		broker_log(b, "broker: device write failed", "", 0);
		if (b->wait_flush)
			fail_waiters(b);
	} else {
		release_written(b);
	}
	/* A completed write makes its data readable (the high watermark moves then, not at the
	 * append): parked fetches look again (bug: fetch_parked_before_the_write_completed). */
	uint64_t done = store_writes_done(b->st);
	if (done != b->writes_seen) {
		b->writes_seen = done;
		b->data_arrived = true;
	}
	if (store_flush_busy(b->st))
		return;
	dirty = store_unflushed_bytes(b->st);
	if (!b->wait_flush && !(dirty && (now - b->last_flush_ms >= b->cfg.flush_ms ||
	                                  dirty >= b->cfg.flush_bytes))) {
		if (!dirty)
			b->last_flush_ms = now;
		return;
	}
	b->last_flush_ms = now;
	if (store_flush_start(b->st)) {
		fail_waiters(b);
		return;
	}
	if (!store_flush_busy(b->st))
		release_flushed(b);
}

void broker_flush_done(struct broker *b, bool ok)
{
	store_flush_done(b->st, ok);
	if (!ok)
		fail_waiters(b);
	release_flushed(b);
	for (struct kconn *c = b->conns; c; c = c->next)
		broker_conn_kick(b, c);
}

void broker_poll(struct broker *b)
{
	uint64_t now = b->pl.now_ms(b->pl.ctx);

	group_poll(b, now);
	if (b->ntxns || b->nptx || (b->cfg.shards > 1 && !b->txn_synced))
		txn_poll(b, now);
	retention_poll(b, now);
	commit(b, now);
	if (b->parked)
		api_fetch_poll(b, false, now);
	else
		b->data_arrived = false; /* nothing parked to look again */
	if (b->kick) {
		b->kick = false;
		for (struct kconn *c = b->conns; c; c = c->next)
			broker_conn_kick(b, c);
	}
}

bool broker_writes_awaited(const struct broker *b)
{
	return b->parked || b->wait_flush || store_flush_busy(b->st) || compact_busy(b);
}

uint32_t broker_next_timeout_ms(const struct broker *b)
{
	uint64_t now = b->pl.now_ms(b->pl.ctx);
	uint32_t t = 100;

	if ((b->wait_flush && !store_flush_busy(b->st)) || compact_busy(b))
		return 0;
	for (const struct kresp *r = b->parked; r; r = r->park_next) {
		uint64_t d = r->deadline > now ? r->deadline - now : 0;
		if (d < t)
			t = (uint32_t)d;
	}
	if (store_unflushed_bytes(b->st) && b->cfg.flush_ms < t)
		t = b->cfg.flush_ms;
	now = group_next_timeout(b, now);
	return now < t ? (uint32_t)now : t;
}
