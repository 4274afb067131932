/* Idempotent producer: InitProducerId v0-4 hands out producer ids (in
 * blocks logged to the metadata log, so ids are never reused across
 * restarts), and Produce checks each idempotent batch's sequence against
 * the per-(partition, producer) state: the last PROD_BATCHES batches,
 * as Kafka keeps, so a retried batch is acknowledged with its original
 * offset instead of being stored again. The state is rebuilt at start
 * from the stored batch headers. Rules: docs/broker.md, Idempotence. */
#include <lib/string.h>

#include "broker_int.h"

#define PROD_BATCHES 5u
#define PID_BLOCK    1000
#define PROD_MAX     (1u << 20) /* producer states kept (all partitions) */

struct pbatch {
	int32_t first, last;
	int64_t base;
};

struct pstate {
	int64_t pid; /* 0 with used false: free slot */
	uint32_t topic, part;
	int16_t epoch;
	bool used;
	uint8_t n, head; /* ring of the last n batches; head = next slot */
	struct pbatch b[PROD_BATCHES];
};

static uint32_t ps_hash(uint32_t t, uint32_t p, int64_t pid)
{
	uint64_t h = (uint64_t)pid * 0x9e3779b97f4a7c15ull ^ (uint64_t)t << 32 ^ p;

	h ^= h >> 29;
	return (uint32_t)(h * 0xbf58476d1ce4e5b9ull >> 32);
}

/* The state slot of (t, p, pid): its entry, or the free slot where it
 * would go (NULL when the table is absent). */
static struct pstate *ps_slot(const struct broker *b, uint32_t t, uint32_t p, int64_t pid)
{
	uint32_t mask = b->pcap - 1;

	if (!b->pcap)
		return NULL;
	for (uint32_t i = ps_hash(t, p, pid) & mask;; i = (i + 1) & mask) {
		struct pstate *s = &b->pstates[i];
		if (!s->used || (s->pid == pid && s->topic == t && s->part == p))
			return s;
	}
}

/* Rehash into a table of cap slots, leaving out topic drop (-1: none). */
static bool ps_rehash(struct broker *b, uint32_t cap, int64_t drop)
{
	struct pstate *old = b->pstates;
	uint32_t ocap = b->pcap;
	struct pstate *n = broker_alloc(b, cap * sizeof(*n));

	if (!n)
		return false;
	b->pstates = n;
	b->pcap = cap;
	b->pcount = 0;
	for (uint32_t i = 0; i < ocap; i++)
		if (old[i].used && (int64_t)old[i].topic != drop) {
			*ps_slot(b, old[i].topic, old[i].part, old[i].pid) = old[i];
			b->pcount++;
		}
	broker_free(b, old);
	return true;
}

/* Entry for (t, p, pid), created when missing; NULL when out of room. */
static struct pstate *ps_get(struct broker *b, uint32_t t, uint32_t p, int64_t pid)
{
	struct pstate *s;

	if ((b->pcount + 1) * 2 > b->pcap &&
	    (b->pcount >= PROD_MAX || !ps_rehash(b, b->pcap ? b->pcap * 2 : 256, -1)))
		return NULL;
	s = ps_slot(b, t, p, pid);
	if (!s->used) {
		*s = (struct pstate){.pid = pid, .topic = t, .part = p, .used = true};
		b->pcount++;
	}
	return s;
}

/* Sequence after last, wrapping at INT32_MAX as Kafka's does. */
static int32_t seq_next(int32_t last)
{
	return last == INT32_MAX ? 0 : last + 1;
}

static int32_t seq_add(int32_t seq, int32_t n)
{
	return (int32_t)(((int64_t)seq + n) % ((int64_t)INT32_MAX + 1));
}

bool prod_batch_is_idempotent(const uint8_t *h)
{
	return (int64_t)get_be64(h + 43) >= 0;
}

/* Kafka's sequence rules (ProducerStateManager) for batch header h of
 * partition (t, p). Returns an error code; a batch equal to one of the
 * last PROD_BATCHES is a retry: *dup gets its original base offset. */
int16_t prod_check(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h, int64_t *dup)
{
	int64_t pid = (int64_t)get_be64(h + 43);
	int16_t epoch = (int16_t)get_be16(h + 51);
	int32_t seq = (int32_t)get_be32(h + 53);
	int32_t last = seq_add(seq, (int32_t)get_be32(h + 23));
	const struct pstate *s = ps_slot(b, t, p, pid);

	*dup = -1;
	if (pid < 0)
		return KERR_NONE;
	if (epoch < 0 || seq < 0)
		return KERR_INVALID_RECORD;
	if (!s || !s->used)
		return seq == 0 ? KERR_NONE : KERR_UNKNOWN_PRODUCER;
	if (epoch < s->epoch)
		return KERR_INVALID_EPOCH; /* fenced by a newer epoch */
	if (epoch > s->epoch)
		return seq == 0 ? KERR_NONE : KERR_OUT_OF_ORDER;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->b[i].first == seq && s->b[i].last == last) {
			*dup = s->b[i].base;
			return KERR_NONE;
		}
	if (s->n && seq != seq_next(s->b[(s->head + PROD_BATCHES - 1) % PROD_BATCHES].last))
		return KERR_OUT_OF_ORDER;
	return KERR_NONE;
}

/* Record an appended idempotent batch (header h, stored at base). */
void prod_update(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h, int64_t base)
{
	int64_t pid = (int64_t)get_be64(h + 43);
	int16_t epoch = (int16_t)get_be16(h + 51);
	int32_t seq = (int32_t)get_be32(h + 53);
	struct pstate *s;

	if (pid < 0)
		return;
	if (!(s = ps_get(b, t, p, pid))) {
		broker_log(b, "broker: producer state table full", "", b->pcount);
		return;
	}
	if (epoch != s->epoch || !s->n) {
		s->epoch = epoch;
		s->n = s->head = 0;
	}
	s->b[s->head] = (struct pbatch){seq, seq_add(seq, (int32_t)get_be32(h + 23)), base};
	s->head = (uint8_t)((s->head + 1) % PROD_BATCHES);
	if (s->n < PROD_BATCHES)
		s->n++;
}

/* A topic id is gone or reused: forget its producers. */
void prod_drop_topic(struct broker *b, uint32_t t)
{
	if (b->pcap && !ps_rehash(b, b->pcap, t))
		broker_log(b, "broker: no memory to drop producer state", "", t);
	txn_drop_topic(b, t);
}

void prod_free(struct broker *b)
{
	broker_free(b, b->pstates);
	b->pstates = NULL;
	b->pcap = b->pcount = 0;
}

/* Rebuild the producer state from the stored batches of every client
 * partition (one sequential read of the live data, like recovery). */
int prod_rebuild(struct broker *b)
{
	for (uint32_t t = 0; t < store_topic_count(b->st); t++) {
		uint32_t len;
		const char *name = store_topic_name(b->st, t, &len);
		if (topic_is_internal(name, len))
			continue;
		for (uint32_t k = 0; k < store_topic_parts(b->st, t); k++) {
			struct store_part *p = store_part_get(b->st, t, k);
			uint64_t off = store_part_start(p);
			while (off < store_part_hwm(p)) {
				struct store_read rd;
				if (store_read(b->st, p, off, 1u << 20, &rd) || !rd.n)
					return -1;
				for (uint32_t i = 0; i < rd.n; i++) {
					const uint8_t *h = rd.ptr[i];
					if (rd.len[i] < 61)
						continue;
					/* control batches (markers) carry no sequence */
					if (prod_batch_is_idempotent(h) && !(h[22] & 0x20))
						prod_update(b, t, k, h, (int64_t)get_be64(h));
					txn_part_batch(b, t, k, h, rd.len[i], (int64_t)get_be64(h));
				}
				off = rd.next_offset;
				store_read_release(b->st, &rd);
			}
		}
	}
	return 0;
}

/* Replay of a META_PID_BLOCK record: ids below its end were handed out. */
void prod_apply_block(struct broker *b, int64_t end)
{
	if (end > b->pid_end)
		b->next_pid = b->pid_end = end;
}

/* The next producer id; a new block is logged (and flushed) first. */
int64_t prod_pid_alloc(struct broker *b)
{
	struct kw w;

	if (b->next_pid >= b->pid_end) {
		kw_init(&w, &b->al);
		kw_i32(&w, META_PID_BLOCK);
		kw_i64(&w, b->next_pid + PID_BLOCK);
		if (!meta_append(b, &w) || meta_sync(b))
			return -1;
		b->pid_end = b->next_pid + PID_BLOCK;
	}
	return b->next_pid++;
}

/* InitProducerId v0-4: a fresh producer id with epoch 0 for an idempotent
 * producer; a transactional id goes to the coordinator (txn.c). */
int api_init_producer_id(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr txn;
	struct kresp *r;
	int64_t pid = -1, old_pid = -1;
	int16_t err = KERR_NONE, old_epoch = -1;
	int32_t timeout;

	kr_str(&q->r, &txn);
	timeout = kr_i32(&q->r);
	if (q->ver >= 3) { /* KIP-360: the caller's id and epoch, to bump */
		old_pid = kr_i64(&q->r);
		old_epoch = kr_i16(&q->r);
	}
	kr_tags(&q->r);
	if (q->r.bad || q->r.off != q->r.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (txn.len >= 0) {
		kw_i32(&r->w, 0);
		bool logged = txn_init_pid(b, r, q->ver, &txn, timeout, old_pid, old_epoch);
		kw_tags(&r->w);
		broker_resp_finish(r);
		if (logged)
			broker_resp_wait_flush(b, r);
		else
			broker_resp_ready(b, r);
		return 0;
	}
	if ((pid = prod_pid_alloc(b)) < 0)
		err = KERR_STORAGE;
	kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	kw_i64(&r->w, err ? -1 : pid);
	kw_i16(&r->w, err ? -1 : 0);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}
