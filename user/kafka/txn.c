/* Transactions: the transaction coordinator (InitProducerId with a
 * transactional id, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
 * TxnOffsetCommit) and the partition side (open transactions, the last
 * stable offset, aborted-transaction lists for read_committed fetches).
 *
 * Coordinator state is logged in the metadata log (one META_TXN record
 * restating a transaction whenever it changes; replay keeps the last).
 * Ending a transaction is two-phase: the PREPARE record (with the
 * partitions and the pending offsets) is made durable first, then the
 * control batches (markers) are written to every partition holding the
 * transaction's data, the offsets are committed, and a COMPLETE record
 * closes it. A restart that finds a PREPARE record finishes the job, so
 * a crash in the middle of a commit ends committed (or aborted), never
 * half. Partition state (which producers have an open transaction and
 * where it starts, which transactions were aborted) is rebuilt from the
 * stored batches at start. Rules: docs/broker.md, "Transactions".
 *
 * With several shards (one event loop per core) shard 0 is the
 * coordinator and the other shards lead most partitions: the coordinator
 * tells a partition's leader of the partitions added to a transaction
 * (TM_ADD) and, to end it, asks the leader to write the markers and make
 * them durable (TM_END); each leader acknowledges (TM_ACK). Messages go
 * through the host's shard_send, never through shared memory;
 * docs/broker.md, "Transactions across loops". */
#include <lib/string.h>

#include "storage/crc32c.h"
#include "broker_int.h"

#define TXN_MAX         4096u  /* transactional ids kept */
#define TXN_ID_MAX      1024   /* bytes of a transactional id */
#define TXN_MAX_PARTS   4096u  /* partitions in one transaction */
#define TXN_MAX_GROUPS  16u    /* consumer groups in one transaction */
#define TXN_MAX_OFFS    65536u /* pending offsets in one transaction */
#define TXN_MAX_TIMEOUT 900000 /* Kafka's transaction.max.timeout.ms */
#define PTX_MAX         (1u << 20)
#define CTRL_BATCH      78u  /* control batch: header + one 17-byte record */
#define TXN_META_MAX    4096 /* commit metadata bytes (as OffsetCommit) */

enum { TX_EMPTY, TX_ONGOING, TX_PREP_COMMIT, TX_PREP_ABORT, TX_DONE_COMMIT, TX_DONE_ABORT };

struct txn_tp {
	int32_t t, p;
};

struct txn_off {
	uint32_t g; /* index in groups */
	int32_t t, p;
	int64_t off;
	char *meta;
	uint32_t mlen;
};

struct txn {
	char *id;
	uint32_t idlen;
	int64_t pid;
	int16_t epoch;
	uint8_t state;
	int32_t timeout_ms;
	uint64_t start_ms;
	struct txn_tp *parts;
	uint32_t nparts, cparts;
	char *groups[TXN_MAX_GROUPS];
	uint32_t glen[TXN_MAX_GROUPS], ngroups;
	struct txn_off *offs;
	uint32_t noffs, coffs;
	/* Across shards (not logged): leaders' acknowledgements awaited
	 * (wseq tells stale ones apart; wend: of a TM_END), a failure among
	 * them, whether the other shards' markers of the ending transaction
	 * are durable, when to try a failed end again, and the answer parked
	 * until then (AddPartitionsToTxn or EndTxn). */
	uint32_t wait, wseq;
	bool wend, wfail, remote_done;
	uint64_t retry_ms, wait_ms; /* wait_ms: when the messages went */
	struct kresp *resp;
};

/* Shard > 0: what the coordinator told this leader of a producer id: its
 * current epoch and the partitions of its ongoing transaction here. */
struct tlead {
	int64_t pid;
	int16_t epoch;
	struct txn_tp *parts;
	uint32_t nparts, cparts;
};

enum { TM_ADD = 1, TM_END = 2, TM_ACK = 3 };
#define TLEAD_MAX   65536u
#define TXN_WAIT_MS 10000 /* acknowledgements awaited before giving up */

/* Partition side: an open transaction of pid in (t, p) starting at first,
 * or (aborted) an aborted one spanning [first, last] (last: its marker). */
struct ptx {
	int32_t t, p;
	int64_t pid;
	int64_t first, last;
	bool aborted;
};

static void fault(struct broker *b, const char *point)
{
	if (b->pl.fault)
		b->pl.fault(b->pl.ctx, point);
}

/* ---- partition state ---- */

static struct ptx *ptx_open(struct broker *b, int32_t t, int32_t p, int64_t pid)
{
	for (uint32_t i = 0; i < b->nptx; i++) {
		struct ptx *x = &b->ptx[i];
		if (!x->aborted && x->pid == pid && x->t == t && x->p == p)
			return x;
	}
	return NULL;
}

static bool ptx_add(struct broker *b, const struct ptx *x)
{
	if (b->nptx == b->cptx) {
		struct ptx *n = broker_grow(b, b->ptx, b->nptx, &b->cptx, sizeof(*n), 64, PTX_MAX);
		if (!n) {
			broker_log(b, "txn: partition transaction table full", "", b->nptx);
			return false;
		}
		b->ptx = n;
	}
	b->ptx[b->nptx++] = *x;
	return true;
}

static void ptx_del(struct broker *b, struct ptx *x)
{
	*x = b->ptx[--b->nptx];
}

/* A stored batch (header h at offset base) of partition (t, p): a
 * transactional data batch opens pid's transaction there; a control
 * batch closes it (an abort marker records the aborted range). */
void txn_part_batch(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h, uint32_t len,
                    int64_t base)
{
	int64_t pid = (int64_t)get_be64(h + 43);
	struct ptx *x;

	if (!(h[22] & 0x10) || pid < 0)
		return;
	x = ptx_open(b, (int32_t)t, (int32_t)p, pid);
	if (!(h[22] & 0x20)) {
		if (!x)
			ptx_add(b, &(struct ptx){(int32_t)t, (int32_t)p, pid, base, -1, false});
		return;
	}
	if (!x)
		return; /* a marker for nothing open (a repeated marker) */
	/* control record key: version int16, type int16 (0 abort, 1 commit)
	 * after the record's length, attributes, timestamp and offset deltas
	 * and key length (a marker this broker cannot read is taken for a
	 * commit) */
	uint32_t at = 61;
	int64_t v = 0, klen = -1;
	bool ok = api_rec_varint(h, len, &at, &v) && ++at <= len &&
	          api_rec_varint(h, len, &at, &v) && api_rec_varint(h, len, &at, &v) &&
	          api_rec_varint(h, len, &at, &klen) && klen >= 4 && klen <= len - at;
	if (ok && get_be16(h + at + 2) == 0) {
		x->aborted = true;
		x->last = base;
		return;
	}
	ptx_del(b, x);
}

/* The transaction state of stored batch h of (t, p) for the compactor:
 * data of an open or an aborted transaction, else ended. */
int txn_batch_state(const struct broker *b, uint32_t t, uint32_t p, const uint8_t *h)
{
	int64_t pid = (int64_t)get_be64(h + 43), base = (int64_t)get_be64(h);

	if ((h[22] & 0x30) != 0x10 || pid < 0)
		return CTX_ENDED;
	for (uint32_t i = 0; i < b->nptx; i++) {
		const struct ptx *x = &b->ptx[i];
		if (x->pid != pid || x->t != (int32_t)t || x->p != (int32_t)p || base < x->first)
			continue;
		if (!x->aborted)
			return CTX_OPEN;
		if (base <= x->last)
			return CTX_ABORTED;
	}
	return CTX_ENDED;
}

/* Last stable offset of (t, p): the first offset of its oldest open
 * transaction, else the high watermark. */
int64_t txn_lso(const struct broker *b, uint32_t t, uint32_t p, int64_t hwm)
{
	int64_t lso = hwm;

	for (uint32_t i = 0; i < b->nptx; i++) {
		const struct ptx *x = &b->ptx[i];
		if (!x->aborted && x->t == (int32_t)t && x->p == (int32_t)p && x->first < lso)
			lso = x->first;
	}
	return lso;
}

/* Aborted transactions of (t, p) that overlap [from, to): the Fetch
 * response's AbortedTransactions array (producer id, first offset). */
void txn_write_aborted(const struct broker *b, struct kw *w, uint32_t t, uint32_t p, int64_t from,
                       int64_t to)
{
	int32_t n = 0;

	for (uint32_t i = 0; i < b->nptx; i++) {
		const struct ptx *x = &b->ptx[i];
		n += x->aborted && x->t == (int32_t)t && x->p == (int32_t)p && x->last >= from &&
		     x->first < to;
	}
	kw_array(w, n);
	for (uint32_t i = 0; i < b->nptx && n; i++) {
		const struct ptx *x = &b->ptx[i];
		if (x->aborted && x->t == (int32_t)t && x->p == (int32_t)p && x->last >= from &&
		    x->first < to) {
			kw_i64(w, x->pid);
			kw_i64(w, x->first);
			kw_tags(w);
		}
	}
}

/* ---- coordinator state ---- */

static struct txn *txn_find(struct broker *b, const struct kstr *id)
{
	for (uint32_t i = 0; i < b->ntxns; i++)
		if (b->txns[i]->idlen == (uint32_t)id->len &&
		    !memcmp(b->txns[i]->id, id->p, (size_t)id->len))
			return b->txns[i];
	return NULL;
}

static struct txn *txn_by_pid(struct broker *b, int64_t pid)
{
	for (uint32_t i = 0; i < b->ntxns; i++)
		if (b->txns[i]->pid == pid)
			return b->txns[i];
	return NULL;
}

static void txn_clear_offs(struct broker *b, struct txn *x)
{
	for (uint32_t i = 0; i < x->noffs; i++)
		broker_free(b, x->offs[i].meta);
	x->noffs = 0;
}

/* Forget the partitions, groups and pending offsets (a new transaction). */
static void txn_reset(struct broker *b, struct txn *x)
{
	txn_clear_offs(b, x);
	for (uint32_t i = 0; i < x->ngroups; i++)
		broker_free(b, x->groups[i]);
	x->ngroups = 0;
	x->nparts = 0;
}

static void txn_destroy(struct broker *b, struct txn *x)
{
	if (x->resp)
		x->resp->owner = NULL;
	txn_reset(b, x);
	broker_free(b, x->offs);
	broker_free(b, x->parts);
	broker_free(b, x->id);
	broker_free(b, x);
}

static struct txn *txn_new(struct broker *b, const struct kstr *id)
{
	struct txn *x;

	if (b->ntxns >= TXN_MAX)
		return NULL;
	if (b->ntxns == b->ctxns) {
		struct txn **n = broker_grow(b, b->txns, b->ntxns, &b->ctxns, sizeof(struct txn *),
		                             16, UINT32_MAX);
		if (!n)
			return NULL;
		b->txns = n;
	}
	if (!(x = broker_alloc(b, sizeof(*x))) || !(x->id = broker_alloc(b, (size_t)id->len))) {
		broker_free(b, x);
		return NULL;
	}
	memcpy(x->id, id->p, (size_t)id->len);
	x->idlen = (uint32_t)id->len;
	x->pid = -1;
	b->txns[b->ntxns++] = x;
	return x;
}

static bool tp_has(const struct txn_tp *v, uint32_t n, int32_t t, int32_t p)
{
	for (uint32_t i = 0; i < n; i++)
		if (v[i].t == t && v[i].p == p)
			return true;
	return false;
}

/* (t, p) added to the set *v of *n (capacity *cap) unless there. */
static bool tp_add(struct broker *b, struct txn_tp **v, uint32_t *n, uint32_t *cap, int32_t t,
                   int32_t p)
{
	if (tp_has(*v, *n, t, p))
		return true;
	if (*n == *cap) {
		struct txn_tp *g = broker_grow(b, *v, *n, cap, sizeof(*g), 8, TXN_MAX_PARTS);
		if (!g)
			return false;
		*v = g;
	}
	(*v)[(*n)++] = (struct txn_tp){t, p};
	return true;
}

static bool txn_has_part(const struct txn *x, int32_t t, int32_t p)
{
	return tp_has(x->parts, x->nparts, t, p);
}

static bool txn_add_part(struct broker *b, struct txn *x, int32_t t, int32_t p)
{
	return tp_add(b, &x->parts, &x->nparts, &x->cparts, t, p);
}

static int32_t txn_group(const struct txn *x, const struct kstr *g)
{
	for (uint32_t i = 0; i < x->ngroups; i++)
		if (x->glen[i] == (uint32_t)g->len && !memcmp(x->groups[i], g->p, (size_t)g->len))
			return (int32_t)i;
	return -1;
}

static bool txn_add_group(struct broker *b, struct txn *x, const struct kstr *g)
{
	char *s;

	if (txn_group(x, g) >= 0)
		return true;
	if (x->ngroups >= TXN_MAX_GROUPS || !(s = broker_alloc(b, (size_t)g->len + 1)))
		return false;
	memcpy(s, g->p, (size_t)g->len);
	x->groups[x->ngroups] = s;
	x->glen[x->ngroups++] = (uint32_t)g->len;
	return true;
}

/* Pending offset of group gi for (t, p): set or replaced. */
static bool txn_add_off(struct broker *b, struct txn *x, uint32_t gi, int32_t t, int32_t p,
                        int64_t off, const struct kstr *meta)
{
	struct txn_off *o = NULL;
	uint32_t ml = meta->len > 0 ? (uint32_t)meta->len : 0;
	char *m = NULL;

	for (uint32_t i = 0; i < x->noffs && !o; i++)
		if (x->offs[i].g == gi && x->offs[i].t == t && x->offs[i].p == p)
			o = &x->offs[i];
	if (!o && x->noffs == x->coffs) {
		struct txn_off *n =
		    broker_grow(b, x->offs, x->noffs, &x->coffs, sizeof(*n), 16, TXN_MAX_OFFS);
		if (!n)
			return false;
		x->offs = n;
	}
	if (ml && !(m = broker_alloc(b, ml)))
		return false;
	if (ml)
		memcpy(m, meta->p, ml);
	if (!o) {
		o = &x->offs[x->noffs++];
		*o = (struct txn_off){gi, t, p, -1, NULL, 0};
	}
	broker_free(b, o->meta);
	o->off = off;
	o->meta = m;
	o->mlen = ml;
	return true;
}

/* META_TXN record: id STRING, pid int64, epoch int16, timeout int32,
 * state int8, [topic id int32, partition int32], [group STRING],
 * [group index int32, topic id int32, partition int32, offset int64,
 * metadata STRING]. */
static void txn_encode(struct kw *w, const struct txn *x)
{
	kw_i32(w, META_TXN);
	kw_str(w, x->id, (int32_t)x->idlen);
	kw_i64(w, x->pid);
	kw_i16(w, x->epoch);
	kw_i32(w, x->timeout_ms);
	kw_i8(w, (int8_t)x->state);
	kw_i32(w, (int32_t)x->nparts);
	for (uint32_t i = 0; i < x->nparts; i++) {
		kw_i32(w, x->parts[i].t);
		kw_i32(w, x->parts[i].p);
	}
	kw_i32(w, (int32_t)x->ngroups);
	for (uint32_t i = 0; i < x->ngroups; i++)
		kw_str(w, x->groups[i], (int32_t)x->glen[i]);
	kw_i32(w, (int32_t)x->noffs);
	for (uint32_t i = 0; i < x->noffs; i++) {
		kw_i32(w, (int32_t)x->offs[i].g);
		kw_i32(w, x->offs[i].t);
		kw_i32(w, x->offs[i].p);
		kw_i64(w, x->offs[i].off);
		kw_str(w, x->offs[i].meta, (int32_t)x->offs[i].mlen);
	}
}

static bool txn_log(struct broker *b, const struct txn *x)
{
	struct kw w;

	kw_init(&w, &b->al);
	txn_encode(&w, x);
	return meta_append(b, &w);
}

/* Replay of a META_TXN record (r after the magic): it restates the
 * transaction; a malformed one is skipped whole. */
void txn_meta_apply(struct broker *b, struct kr *r)
{
	struct kr scan = *r;
	struct kstr id, s;
	struct txn *x;

	kr_str(&scan, &id);
	(void)kr_i64(&scan);
	(void)kr_i16(&scan);
	(void)kr_i32(&scan);
	int8_t st = kr_i8(&scan);
	int32_t np = kr_array(&scan, 8, false);
	for (int32_t i = 0; i < np && !scan.bad; i++)
		(void)kr_i64(&scan);
	int32_t ng = kr_array(&scan, 2, false);
	for (int32_t i = 0; i < ng && !scan.bad; i++)
		kr_str(&scan, &s);
	int32_t no = kr_array(&scan, 22, false);
	for (int32_t i = 0; i < no && !scan.bad; i++) {
		(void)kr_i32(&scan);
		(void)kr_i64(&scan);
		(void)kr_i64(&scan);
		kr_str(&scan, &s);
	}
	if (scan.bad || id.len <= 0 || id.len > TXN_ID_MAX || st < TX_EMPTY || st > TX_DONE_ABORT ||
	    (uint32_t)np > TXN_MAX_PARTS || (uint32_t)ng > TXN_MAX_GROUPS ||
	    (uint32_t)no > TXN_MAX_OFFS) {
		broker_log(b, "txn: skipping a malformed transaction record", "", 0);
		return;
	}
	if (!(x = txn_find(b, &id)) && !(x = txn_new(b, &id))) {
		broker_log(b, "txn: no room replaying a transaction", "", 0);
		return;
	}
	kr_str(r, &id);
	x->pid = kr_i64(r);
	x->epoch = kr_i16(r);
	x->timeout_ms = kr_i32(r);
	x->state = (uint8_t)kr_i8(r);
	x->start_ms = b->pl.now_ms(b->pl.ctx); /* the timeout restarts */
	txn_reset(b, x);
	np = kr_array(r, 8, false);
	for (int32_t i = 0; i < np; i++) {
		int32_t t = kr_i32(r), p = kr_i32(r);
		if (!txn_add_part(b, x, t, p))
			broker_log(b, "txn: no memory replaying a partition", "", t);
	}
	ng = kr_array(r, 2, false);
	for (int32_t i = 0; i < ng; i++) {
		kr_str(r, &s);
		if (s.len <= 0 || !txn_add_group(b, x, &s))
			broker_log(b, "txn: cannot replay a group", "", i);
	}
	no = kr_array(r, 22, false);
	for (int32_t i = 0; i < no; i++) {
		int32_t g = kr_i32(r), t = kr_i32(r), p = kr_i32(r);
		int64_t off = kr_i64(r);
		kr_str(r, &s);
		if (g < 0 || (uint32_t)g >= x->ngroups ||
		    !txn_add_off(b, x, (uint32_t)g, t, p, off, &s))
			broker_log(b, "txn: cannot replay a pending offset", "", off);
	}
}

/* Restate every transaction (metadata log snapshot). */
bool txn_snapshot(struct broker *b)
{
	for (uint32_t i = 0; i < b->ntxns; i++)
		if (!txn_log(b, b->txns[i]))
			return false;
	return true;
}

/* Control batch (transaction marker) of pid/epoch into m: attributes
 * transactional | control, base sequence -1, one record whose key is
 * version 0, type (0 abort, 1 commit) and whose value is version 0,
 * coordinator epoch 0 (Kafka's EndTransactionMarker). */
static void marker_build(uint8_t *m, int64_t pid, int16_t epoch, bool commit, int64_t ts)
{
	static const uint8_t rec_head[] = {0x20, 0, 0, 0, 0x08};
	uint32_t crc;

	memset(m, 0, CTRL_BATCH);
	m[11] = CTRL_BATCH - 12;
	m[16] = 2;
	m[22] = 0x30;
	put_be64(m + 27, (uint64_t)ts);
	put_be64(m + 35, (uint64_t)ts);
	put_be64(m + 43, (uint64_t)pid);
	m[51] = (uint8_t)((uint16_t)epoch >> 8);
	m[52] = (uint8_t)epoch;
	memset(m + 53, 0xff, 4);
	m[60] = 1;
	memcpy(m + 61, rec_head, sizeof(rec_head));
	m[61 + 8] = commit ? 1 : 0; /* key: version 0, type */
	m[61 + 9] = 0x0c;           /* value length 6: version 0, coordinator epoch 0 */
	crc = store_crc32c(0, m + 21, CTRL_BATCH - 21);
	for (int i = 0; i < 4; i++)
		m[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
}

static int64_t marker_ts(struct broker *b)
{
	return (int64_t)(b->pl.wall_ms ? b->pl.wall_ms(b->pl.ctx) : b->pl.now_ms(b->pl.ctx));
}

/* Write pid's marker to (t, p), which this shard leads, when pid has data
 * open there (a partition already closed, e.g. before a crash, gets
 * none). The first marker written (*written) passes the fault point
 * "txn-marker". */
static bool marker_put(struct broker *b, int64_t pid, int16_t epoch, bool commit, int32_t t,
                       int32_t p, int64_t ts, uint32_t *written)
{
	uint8_t m[CTRL_BATCH];
	struct store_part *sp;

	if (!broker_leads(b, (uint32_t)t, (uint32_t)p) || !ptx_open(b, t, p, pid) ||
	    !(sp = store_part_get(b->st, (uint32_t)t, (uint32_t)p)))
		return true;
	int64_t at = (int64_t)store_part_end(sp);
	marker_build(m, pid, epoch, commit, ts);
	put_be64(m, (uint64_t)at);
	if (store_append(b->st, sp, m, CTRL_BATCH, 1, ts) != STORE_OK) {
		broker_log(b, "txn: could not write a marker", "", t);
		return false;
	}
	txn_part_batch(b, (uint32_t)t, (uint32_t)p, m, CTRL_BATCH, at);
	b->data_arrived = true;
	if (++*written == 1 && b->pl.fault) {
		bool ok = !store_write_pending(b->st);
		fault(b, "txn-marker");
		return ok;
	}
	return true;
}

/* Write x's markers to the partitions of x this shard leads. */
static bool txn_markers(struct broker *b, struct txn *x, bool commit)
{
	int64_t ts = marker_ts(b);
	bool ok = true;
	uint32_t written = 0;

	for (uint32_t i = 0; i < x->nparts; i++)
		ok &= marker_put(b, x->pid, x->epoch, commit, x->parts[i].t, x->parts[i].p, ts,
		                 &written);
	return ok;
}

/* ---- transactions across shards: messages ---- */

/* Send the message in w (freed) to shard `to`. */
static bool shard_msg(struct broker *b, uint32_t to, struct kw *w)
{
	bool ok =
	    !w->oom && b->pl.shard_send && b->pl.shard_send(b->pl.ctx, to, w->buf, (size_t)w->len);

	kw_free(w);
	return ok;
}

/* Header of every message: kind, producer id, epoch, sequence, flag (a
 * commit for TM_END, success for TM_ACK). */
static void msg_head(struct broker *b, struct kw *w, int8_t kind, int64_t pid, int16_t epoch,
                     uint32_t seq, bool flag)
{
	kw_init(w, &b->al);
	kw_i8(w, kind);
	kw_i64(w, pid);
	kw_i16(w, epoch);
	kw_i32(w, (int32_t)seq);
	kw_i8(w, flag);
}

#define MSG_HEAD 16u /* bytes of msg_head */

/* Shard 0: send x's partitions led by each other shard to that shard
 * (kind TM_ADD: the partitions of the ongoing transaction; TM_END: write
 * the markers). With track, the acknowledgements are counted in x->wait
 * (a message that cannot be sent sets x->wfail). */
static void txn_tell_leaders(struct broker *b, struct txn *x, int8_t kind, bool commit, bool track)
{
	for (uint32_t k = 1; k < b->cfg.shards; k++) {
		struct kw w;
		int32_t n = 0;
		msg_head(b, &w, kind, x->pid, x->epoch, x->wseq, commit);
		kw_i32(&w, 0);
		for (uint32_t i = 0; i < x->nparts; i++)
			if (broker_part_owner(b->cfg.shards, (uint32_t)x->parts[i].t,
			                      (uint32_t)x->parts[i].p) == k) {
				kw_i32(&w, x->parts[i].t);
				kw_i32(&w, x->parts[i].p);
				n++;
			}
		if (!n) {
			kw_free(&w);
			continue;
		}
		kw_patch32(&w, MSG_HEAD, n);
		x->wait_ms = b->pl.now_ms(b->pl.ctx);
		if (shard_msg(b, k, &w))
			x->wait += track;
		else if (track)
			x->wfail = true;
		else
			broker_log(b, "txn: cannot tell a shard of a transaction, shard", "", k);
	}
}

/* Shard > 0: the entry of producer id pid (created; NULL when full). */
static struct tlead *tlead_get(struct broker *b, int64_t pid)
{
	for (uint32_t i = 0; i < b->ntlead; i++)
		if (b->tlead[i].pid == pid)
			return &b->tlead[i];
	if (b->ntlead == b->ctlead) {
		struct tlead *n =
		    broker_grow(b, b->tlead, b->ntlead, &b->ctlead, sizeof(*n), 16, TLEAD_MAX);
		if (!n) {
			/* full: reuse a producer with nothing open here */
			for (uint32_t i = 0; i < b->ntlead; i++)
				if (!b->tlead[i].nparts) {
					b->tlead[i].pid = pid;
					b->tlead[i].epoch = -1;
					return &b->tlead[i];
				}
			return NULL;
		}
		b->tlead = n;
	}
	b->tlead[b->ntlead] = (struct tlead){pid, -1, NULL, 0, 0};
	return &b->tlead[b->ntlead++];
}

/* Shard > 0, TM_ADD: the partitions (r: n of them) are in pid's ongoing
 * transaction under epoch (a newer epoch starts a new set). */
static bool lead_add(struct broker *b, struct kr *r, int64_t pid, int16_t epoch, int32_t n)
{
	struct tlead *l = tlead_get(b, pid);
	bool ok = l != NULL;

	if (l && epoch > l->epoch) {
		l->epoch = epoch;
		l->nparts = 0;
	}
	for (int32_t i = 0; i < n && l && epoch == l->epoch; i++) {
		int32_t t = kr_i32(r), p = kr_i32(r);
		ok &= !r->bad && tp_add(b, &l->parts, &l->nparts, &l->cparts, t, p);
	}
	return ok;
}

/* Shard > 0, TM_END: write pid's markers to the partitions (r: n of
 * them) and make them durable before the acknowledgement. */
static bool lead_end(struct broker *b, struct kr *r, int64_t pid, int16_t epoch, bool commit,
                     int32_t n)
{
	struct tlead *l = tlead_get(b, pid);
	int64_t ts = marker_ts(b);
	uint32_t written = 0;
	bool ok = true;

	if (l && epoch >= l->epoch) {
		l->epoch = epoch; /* fences older epochs here too */
		l->nparts = 0;
	}
	for (int32_t i = 0; i < n && !r->bad; i++) {
		int32_t t = kr_i32(r), p = kr_i32(r);
		if (!r->bad)
			ok &= marker_put(b, pid, epoch, commit, t, p, ts, &written);
	}
	return ok && !r->bad && (!written || !meta_sync(b));
}

/* The committed transaction's offsets: one commit record (the offsets
 * log's own format) per group, logged and applied. */
static bool txn_commit_offsets(struct broker *b, struct txn *x)
{
	bool ok = true;

	for (uint32_t g = 0; g < x->ngroups; g++) {
		struct kw w;
		int32_t n = 0;
		kw_init(&w, &b->al);
		kw_i32(&w, OFFLOG_MAGIC);
		kw_str(&w, x->groups[g], (int32_t)x->glen[g]);
		kw_i32(&w, 0);
		for (uint32_t i = 0; i < x->noffs; i++)
			if (x->offs[i].g == g) {
				kw_i32(&w, x->offs[i].t);
				kw_i32(&w, x->offs[i].p);
				kw_i64(&w, x->offs[i].off);
				kw_str(&w, x->offs[i].meta, (int32_t)x->offs[i].mlen);
				n++;
			}
		if (!n || w.oom) {
			ok &= !w.oom;
			kw_free(&w);
			continue;
		}
		kw_patch32(&w, 6 + x->glen[g], n);
		group_offlog_apply(b, w.buf, w.len, 0);
		ok &= meta_append(b, &w);
	}
	return ok;
}

/* Second phase of ending x (state PREP_*): markers (this shard's, then,
 * with several shards, the other leaders' made durable), offsets,
 * COMPLETE record. Returns 1 when done, 0 while other shards are at it,
 * -1 when something could not be written (the PREPARE state stays and
 * txn_poll tries again). */
static int txn_finish(struct broker *b, struct txn *x)
{
	bool commit = x->state == TX_PREP_COMMIT;

	if (x->wait)
		return 0;
	if (!txn_markers(b, x, commit))
		return -1;
	if (b->cfg.shards > 1 && !x->remote_done) {
		x->wseq++;
		x->wend = true;
		x->wfail = false;
		txn_tell_leaders(b, x, TM_END, commit, true);
		if (x->wait)
			return 0;
		if (x->wfail)
			return -1;
	}
	if (commit && !txn_commit_offsets(b, x))
		return -1;
	x->remote_done = false;
	x->state = commit ? TX_DONE_COMMIT : TX_DONE_ABORT;
	txn_reset(b, x);
	if (!txn_log(b, x))
		return -1;
	broker_log(b, commit ? "txn: committed, producer id" : "txn: aborted, producer id", "",
	           x->pid);
	return 1;
}

static void reply_plain(struct broker *b, struct kresp *r, int16_t err, bool logged);

/* Take x's parked answer. */
static struct kresp *txn_unpark(struct txn *x)
{
	struct kresp *r = x->resp;

	if (r)
		r->owner = NULL;
	x->resp = NULL;
	return r;
}

/* txn_finish; once x has ended, its parked EndTxn is answered. */
static void txn_settle(struct broker *b, struct txn *x)
{
	int rc = txn_finish(b, x);
	struct kresp *r;

	if (rc < 0)
		x->retry_ms = b->pl.now_ms(b->pl.ctx) + 100;
	if (rc == 1 && (r = txn_unpark(x)))
		reply_plain(b, r, KERR_NONE, true);
}

/* End x: PREPARE record made durable, then txn_finish (with several
 * shards it may go on after this returns: state still PREP_*). */
static int16_t txn_end(struct broker *b, struct txn *x, bool commit)
{
	x->state = commit ? TX_PREP_COMMIT : TX_PREP_ABORT;
	if (!txn_log(b, x) || meta_sync(b)) {
		x->state = TX_ONGOING;
		return KERR_STORAGE;
	}
	fault(b, "txn-prepared");
	return txn_finish(b, x) >= 0 ? KERR_NONE : KERR_STORAGE;
}

static void txn_wait_done(struct broker *b, struct txn *x);

/* Shard 0: a leader acknowledged message seq of producer id pid. */
static void txn_acked(struct broker *b, int64_t pid, uint32_t seq, bool ok)
{
	struct txn *x = txn_by_pid(b, pid);

	if (!x || !x->wait || seq != x->wseq)
		return; /* stale (a resend, or a restatement at start) */
	x->wfail |= !ok;
	if (--x->wait)
		return;
	txn_wait_done(b, x);
}

/* Every leader answered (or the wait timed out: x->wfail). */
static void txn_wait_done(struct broker *b, struct txn *x)
{
	struct kresp *r;

	if (x->wend) {
		x->remote_done = !x->wfail;
		if (x->wfail)
			x->retry_ms = b->pl.now_ms(b->pl.ctx) + 100;
		else
			txn_settle(b, x);
		return;
	}
	if (!(r = txn_unpark(x)))
		return;
	if (x->wfail) { /* not answered: the client retries, telling them again */
		r->conn->closing = true;
		b->pl.close(b->pl.ctx, r->conn->handle);
		return;
	}
	broker_resp_wait_flush(b, r); /* the partitions' record */
}

void broker_shard_message(struct broker *b, uint32_t from, const uint8_t *msg, size_t len)
{
	struct kr r;
	struct kw w;
	bool ok;

	kr_init(&r, msg, (uint32_t)len);
	int8_t kind = kr_i8(&r);
	int64_t pid = kr_i64(&r);
	int16_t epoch = kr_i16(&r);
	uint32_t seq = (uint32_t)kr_i32(&r);
	bool flag = kr_i8(&r) != 0;
	if (r.bad || kind < TM_ADD || kind > TM_ACK) {
		broker_log(b, "txn: malformed message from shard", "", from);
		return;
	}
	if (kind == TM_ACK) {
		txn_acked(b, pid, seq, flag);
		return;
	}
	int32_t n = kr_array(&r, 8, false);
	ok = kind == TM_ADD ? lead_add(b, &r, pid, epoch, n) : lead_end(b, &r, pid, epoch, flag, n);
	msg_head(b, &w, TM_ACK, pid, epoch, seq, ok);
	if (!shard_msg(b, from, &w))
		broker_log(b, "txn: cannot acknowledge to shard", "", from);
}

/* Bump x's epoch (a new producer id when the epoch is exhausted). */
static bool txn_bump(struct broker *b, struct txn *x)
{
	if (x->pid >= 0 && x->epoch < 32766) {
		x->epoch++;
		return true;
	}
	int64_t pid = prod_pid_alloc(b);
	if (pid < 0)
		return false;
	x->pid = pid;
	x->epoch = 0;
	return true;
}

/* Timers: abort transactions open longer than their timeout (fencing
 * the producer by an epoch bump, as Kafka does), retry unfinished ends,
 * drop aborted ranges that retention removed. */
void txn_poll(struct broker *b, uint64_t now)
{
	if (b->cfg.shards > 1 && !b->txn_synced) {
		/* first turn: the leaders learn the open transactions again */
		b->txn_synced = true;
		for (uint32_t i = 0; i < b->ntxns; i++)
			if (b->txns[i]->state == TX_ONGOING)
				txn_tell_leaders(b, b->txns[i], TM_ADD, false, false);
	}
	for (uint32_t i = 0; i < b->ntxns; i++) {
		struct txn *x = b->txns[i];
		if (x->wait && now - x->wait_ms >= TXN_WAIT_MS) {
			/* an acknowledgement lost: given up (late ones are stale) */
			broker_log(b, "txn: a shard did not answer, producer id", "", x->pid);
			x->wait = 0;
			x->wseq++;
			x->wfail = true;
			txn_wait_done(b, x);
		}
		if (x->wait || now < x->retry_ms)
			continue;
		if (x->state == TX_PREP_COMMIT || x->state == TX_PREP_ABORT) {
			txn_settle(b, x);
		} else if (x->state == TX_ONGOING && now - x->start_ms >= (uint64_t)x->timeout_ms) {
			broker_log(b, "txn: transaction timed out, aborting; producer id", "",
			           x->pid);
			if (txn_bump(b, x))
				txn_end(b, x, false);
		}
	}
	if (now - b->txn_prune_ms < 1000)
		return;
	b->txn_prune_ms = now;
	for (uint32_t i = 0; i < b->nptx;) {
		struct ptx *x = &b->ptx[i];
		struct store_part *sp = store_part_get(b->st, (uint32_t)x->t, (uint32_t)x->p);
		if (!sp || (x->aborted && x->last < (int64_t)store_part_start(sp)))
			ptx_del(b, x);
		else
			i++;
	}
}

/* Recovery at start: finish the transactions a crash left prepared
 * (with several shards at the first txn_poll, once the shards run). */
void txn_recover(struct broker *b)
{
	for (uint32_t i = 0; i < b->ntxns && b->cfg.shards <= 1; i++) {
		struct txn *x = b->txns[i];
		if (x->state == TX_PREP_COMMIT || x->state == TX_PREP_ABORT) {
			broker_log(b, "txn: completing a prepared transaction, producer id", "",
			           x->pid);
			txn_finish(b, x);
		}
	}
}

void txn_drop_topic(struct broker *b, uint32_t t)
{
	for (uint32_t i = 0; i < b->nptx;)
		if (b->ptx[i].t == (int32_t)t)
			ptx_del(b, &b->ptx[i]);
		else
			i++;
	for (uint32_t i = 0; i < b->ntxns; i++) {
		struct txn *x = b->txns[i];
		for (uint32_t k = 0; k < x->nparts;)
			if (x->parts[k].t == (int32_t)t)
				x->parts[k] = x->parts[--x->nparts];
			else
				k++;
	}
	for (uint32_t i = 0; i < b->ntlead; i++) {
		struct tlead *l = &b->tlead[i];
		for (uint32_t k = 0; k < l->nparts;)
			if (l->parts[k].t == (int32_t)t)
				l->parts[k] = l->parts[--l->nparts];
			else
				k++;
	}
}

void txn_free(struct broker *b)
{
	for (uint32_t i = 0; i < b->ntxns; i++)
		txn_destroy(b, b->txns[i]);
	broker_free(b, b->txns);
	broker_free(b, b->ptx);
	for (uint32_t i = 0; i < b->ntlead; i++)
		broker_free(b, b->tlead[i].parts);
	broker_free(b, b->tlead);
	b->tlead = NULL;
	b->ntlead = b->ctlead = 0;
	b->txns = NULL;
	b->ptx = NULL;
	b->ntxns = b->ctxns = b->nptx = b->cptx = 0;
}

/* Produce of a transactional batch (header h) to (t, p): its producer
 * must hold the current epoch of an ongoing transaction that added the
 * partition. */
int16_t txn_produce_check(struct broker *b, uint32_t t, uint32_t p, const uint8_t *h)
{
	int64_t pid = (int64_t)get_be64(h + 43);
	int16_t epoch = (int16_t)get_be16(h + 51);
	struct txn *x;

	if (h[22] & 0x20)
		return KERR_INVALID_RECORD; /* control batches are the broker's */
	if (!(h[22] & 0x10))
		return KERR_NONE;
	if (b->cfg.shards > 1 && b->cfg.shard) { /* what the coordinator told */
		const struct tlead *l = NULL;
		for (uint32_t i = 0; i < b->ntlead && !l; i++)
			if (b->tlead[i].pid == pid)
				l = &b->tlead[i];
		if (pid < 0 || !l)
			return KERR_INVALID_PID_MAPPING;
		if (epoch != l->epoch)
			return KERR_INVALID_EPOCH;
		return tp_has(l->parts, l->nparts, (int32_t)t, (int32_t)p) ? KERR_NONE
		                                                           : KERR_INVALID_TXN_STATE;
	}
	if (pid < 0 || !(x = txn_by_pid(b, pid)))
		return KERR_INVALID_PID_MAPPING;
	if (epoch != x->epoch)
		return KERR_INVALID_EPOCH;
	if (x->state != TX_ONGOING || !txn_has_part(x, (int32_t)t, (int32_t)p))
		return KERR_INVALID_TXN_STATE;
	return KERR_NONE;
}

/* ---- requests ---- */

/* Kafka's checks of (pid, epoch) against x; fenced is the code for an
 * older epoch (PRODUCER_FENCED from the versions that know it). */
static int16_t txn_check(const struct txn *x, int64_t pid, int16_t epoch, int16_t fenced)
{
	if (!x || x->pid != pid)
		return KERR_INVALID_PID_MAPPING;
	if (epoch != x->epoch)
		return fenced;
	if (x->state == TX_PREP_COMMIT || x->state == TX_PREP_ABORT || x->wait)
		return KERR_CONCURRENT_TXNS;
	return KERR_NONE;
}

static int16_t fenced_code(int16_t ver)
{
	return ver >= 2 ? KERR_PRODUCER_FENCED : KERR_INVALID_EPOCH;
}

/* x becomes (or stays) ongoing. */
static void txn_begin(struct broker *b, struct txn *x)
{
	if (x->state != TX_ONGOING) {
		txn_reset(b, x);
		x->state = TX_ONGOING;
		x->start_ms = b->pl.now_ms(b->pl.ctx);
	}
}

/* InitProducerId for a transactional id (api_init_producer_id decoded
 * the request): a new id, or the next epoch of the known one, which
 * fences the previous producer and aborts its open transaction. Writes
 * error, producer id and epoch; true when r must wait for a flush. */
bool txn_init_pid(struct broker *b, struct kresp *r, int16_t ver, const struct kstr *id,
                  int32_t timeout, int64_t pid, int16_t epoch)
{
	struct txn *x = NULL;
	int16_t err = KERR_NONE;

	if (id->len <= 0 || id->len > TXN_ID_MAX)
		err = KERR_INVALID_REQUEST;
	else if (timeout <= 0 || timeout > TXN_MAX_TIMEOUT)
		err = KERR_INVALID_TXN_TIMEOUT;
	else if (!(x = txn_find(b, id)) && !(x = txn_new(b, id)))
		err = KERR_COORD_NA;
	else if (pid >= 0 && (pid != x->pid || (epoch != x->epoch && epoch + 1 != x->epoch)))
		err = ver >= 3 ? KERR_PRODUCER_FENCED : KERR_INVALID_EPOCH; /* KIP-360 */
	else if (x->wait)
		err = KERR_CONCURRENT_TXNS; /* the leaders are being told */
	else if (x->state == TX_PREP_COMMIT || x->state == TX_PREP_ABORT) {
		txn_settle(b, x);
		err = x->state == TX_PREP_COMMIT || x->state == TX_PREP_ABORT ? KERR_CONCURRENT_TXNS
		                                                              : KERR_NONE;
	}
	if (!err && x->state == TX_ONGOING) {
		/* the previous producer vanished or is being replaced: its
		 * transaction is aborted under the new epoch (fenced); with
		 * several shards the client retries until the abort is done */
		if (!txn_bump(b, x) || txn_end(b, x, false))
			err = KERR_STORAGE;
		else if (x->state == TX_PREP_ABORT)
			err = KERR_CONCURRENT_TXNS;
	}
	if (!err) {
		if (!txn_bump(b, x))
			err = KERR_STORAGE;
		x->timeout_ms = timeout;
		if (x->state == TX_ONGOING || x->state == TX_PREP_ABORT ||
		    x->state == TX_PREP_COMMIT)
			err = KERR_CONCURRENT_TXNS;
		else
			x->state = TX_EMPTY;
		if (!err && !txn_log(b, x))
			err = KERR_STORAGE;
	}
	kw_i16(&r->w, err);
	kw_i64(&r->w, err ? -1 : x->pid);
	kw_i16(&r->w, err ? -1 : x->epoch);
	return !err;
}

struct apt_ctx {
	struct txn *x;
	int16_t err;
	bool unknown; /* some partition of the request is unknown */
};

/* One AddPartitionsToTxn partition; returns 1 when it was added. */
static int32_t apt_part(struct broker *b, struct kr *rd, struct kresp *r, int tid, void *ctx)
{
	const struct apt_ctx *ac = ctx;
	int32_t idx = kr_i32(rd);
	int16_t perr = ac->err;
	bool known = tid >= 0 && store_part_get(b->st, (uint32_t)tid, (uint32_t)idx);

	if (!perr && !known)
		perr = tid < 0 ? (int16_t)-tid : KERR_UNKNOWN_TP;
	else if (!perr && ac->unknown)
		perr = KERR_NOT_ATTEMPTED;
	else if (!perr && !txn_add_part(b, ac->x, tid, idx))
		perr = KERR_COORD_NA;
	kw_i32(&r->w, idx);
	kw_i16(&r->w, perr);
	kw_tags(&r->w);
	return perr ? 0 : 1;
}

/* AddPartitionsToTxn v0-v3. */
int api_add_parts_txn(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kstr id, name;
	struct kresp *r;
	struct txn *x;
	int16_t err;
	bool added = false;

	kr_str(&scan, &id);
	int64_t pid = kr_i64(&scan);
	int16_t epoch = kr_i16(&scan);
	int32_t nt = kr_admin_array(&scan, scan.flex ? 3 : 6);
	uint32_t total = 0;
	for (int32_t t = 0; t < nt && !scan.bad; t++) {
		kr_str(&scan, &name);
		int32_t np = kr_array(&scan, 4, false);
		for (int32_t k = 0; k < np && !scan.bad; k++)
			(void)kr_i32(&scan);
		total += np > 0 ? (uint32_t)np : 0;
		kr_tags(&scan);
	}
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	x = id.len > 0 ? txn_find(b, &id) : NULL;
	err = txn_check(x, pid, epoch, fenced_code(q->ver));
	if (!err && x->nparts + total > TXN_MAX_PARTS)
		err = KERR_INVALID_REQUEST;
	/* first pass: any unknown partition fails the request (the others
	 * get OPERATION_NOT_ATTEMPTED), as Kafka */
	struct kr body = q->r;
	bool unknown = false;
	kr_str(&body, &id);
	(void)kr_i64(&body);
	(void)kr_i16(&body);
	nt = kr_array(&body, body.flex ? 3 : 6, false);
	for (int32_t t = 0; t < nt; t++) {
		kr_str(&body, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(&body, 4, false);
		for (int32_t k = 0; k < np; k++) {
			int32_t idx = kr_i32(&body);
			unknown |= tid < 0 || !store_part_get(b->st, (uint32_t)tid, (uint32_t)idx);
		}
		kr_tags(&body);
	}
	if (!err && !unknown)
		txn_begin(b, x);
	kw_i32(&r->w, 0);
	kr_str(&q->r, &id);
	(void)kr_i64(&q->r);
	(void)kr_i16(&q->r);
	struct apt_ctx ac = {x, err, unknown};
	added = api_each_topic_part(b, &q->r, r, q->r.flex ? 3 : 6, 4, apt_part, &ac) > 0;
	kw_tags(&r->w);
	broker_resp_finish(r);
	if (added && !txn_log(b, x)) {
		/* not logged: no answer (the client retries on a new connection,
		 * and the retry logs the partitions again) */
		c->closing = true;
		b->pl.close(b->pl.ctx, c->handle);
		return 0;
	}
	if (added && x && b->cfg.shards > 1) {
		/* the other leaders learn the transaction's partitions before
		 * the client may produce there (answered on their TM_ACKs) */
		x->wseq++;
		x->wend = x->wfail = false;
		txn_tell_leaders(b, x, TM_ADD, false, true);
		if (x->wait) {
			x->resp = r;
			r->owner = &x->resp;
			return 0;
		}
		if (x->wfail) {
			c->closing = true;
			b->pl.close(b->pl.ctx, c->handle);
			return 0;
		}
	}
	if (added)
		broker_resp_wait_flush(b, r);
	else
		broker_resp_ready(b, r);
	return 0;
}

/* Reply throttle, error (AddOffsetsToTxn and EndTxn). */
static void reply_plain(struct broker *b, struct kresp *r, int16_t err, bool logged)
{
	kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	kw_tags(&r->w);
	broker_resp_finish(r);
	if (logged)
		broker_resp_wait_flush(b, r);
	else
		broker_resp_ready(b, r);
}

/* AddOffsetsToTxn v0-v3: the group's offsets join the transaction. */
int api_add_offs_txn(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr id, group;
	struct kresp *r;
	struct txn *x;
	int16_t err;

	kr_str(&q->r, &id);
	int64_t pid = kr_i64(&q->r);
	int16_t epoch = kr_i16(&q->r);
	kr_str(&q->r, &group);
	kr_tags(&q->r);
	if (q->r.bad || q->r.off != q->r.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	x = id.len > 0 ? txn_find(b, &id) : NULL;
	err = txn_check(x, pid, epoch, fenced_code(q->ver));
	if (!err && (group.len <= 0 || group.len > 255))
		err = KERR_GROUP_ID;
	if (!err) {
		txn_begin(b, x);
		if (!txn_add_group(b, x, &group))
			err = KERR_COORD_NA;
		else if (!txn_log(b, x))
			err = KERR_STORAGE;
	}
	reply_plain(b, r, err, !err);
	return 0;
}

/* EndTxn v0-v3: commit or abort. A retry of the end just done succeeds. */
int api_end_txn(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kstr id;
	struct kresp *r;
	struct txn *x;
	int16_t err;

	kr_str(&q->r, &id);
	int64_t pid = kr_i64(&q->r);
	int16_t epoch = kr_i16(&q->r);
	int8_t commit = kr_i8(&q->r);
	kr_tags(&q->r);
	if (q->r.bad || q->r.off != q->r.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	x = id.len > 0 ? txn_find(b, &id) : NULL;
	err = txn_check(x, pid, epoch, fenced_code(q->ver));
	if (!err && x->state == (commit ? TX_DONE_COMMIT : TX_DONE_ABORT)) {
		reply_plain(b, r, KERR_NONE, false); /* a retry */
		return 0;
	}
	if (!err && x->state != TX_ONGOING)
		err = KERR_INVALID_TXN_STATE;
	if (!err)
		err = txn_end(b, x, commit != 0);
	if (!err && (x->state == TX_PREP_COMMIT || x->state == TX_PREP_ABORT)) {
		/* other shards are writing markers: answered when they are
		 * durable (txn_settle) */
		x->resp = r;
		r->owner = &x->resp;
		return 0;
	}
	reply_plain(b, r, err, !err);
	return 0;
}

struct toc_ctx {
	struct txn *x;
	int16_t err;
	int32_t gi;
	int16_t ver;
};

/* One TxnOffsetCommit partition: held by the transaction. */
static int32_t toc_part(struct broker *b, struct kr *rd, struct kresp *r, int tid, void *ctx)
{
	const struct toc_ctx *oc = ctx;
	struct kstr meta;
	int32_t idx = kr_i32(rd);
	int64_t off = kr_i64(rd);
	int16_t perr = oc->err;

	if (oc->ver >= 2)
		(void)kr_i32(rd);
	kr_str(rd, &meta);
	kr_tags(rd);
	if (!perr && (tid < 0 || !store_part_get(b->st, (uint32_t)tid, (uint32_t)idx)))
		perr = KERR_UNKNOWN_TP;
	else if (!perr && meta.len > (int32_t)TXN_META_MAX)
		perr = KERR_META_TOO_LARGE;
	else if (!perr && !txn_add_off(b, oc->x, (uint32_t)oc->gi, tid, idx, off, &meta))
		perr = KERR_COORD_NA;
	kw_i32(&r->w, idx);
	kw_i16(&r->w, perr);
	kw_tags(&r->w);
	return 0;
}

/* TxnOffsetCommit v0-v3: offsets held by the transaction until it
 * commits (an abort drops them). */
int api_txn_offset_commit(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kstr id, group, s;
	struct kresp *r;
	struct txn *x;
	int16_t err;
	int32_t gi = -1;

	kr_str(&scan, &id);
	kr_str(&scan, &group);
	(void)kr_i64(&scan);
	(void)kr_i16(&scan);
	if (q->ver >= 3) {
		(void)kr_i32(&scan);
		kr_str(&scan, &s);
		kr_str(&scan, &s);
	}
	int32_t nt = kr_admin_array(&scan, scan.flex ? 3 : 6);
	for (int32_t t = 0; t < nt && !scan.bad; t++) {
		kr_str(&scan, &s);
		int32_t np = kr_array(&scan, q->ver >= 2 ? 18 : 14, false);
		for (int32_t k = 0; k < np && !scan.bad; k++) {
			(void)kr_i32(&scan);
			(void)kr_i64(&scan);
			if (q->ver >= 2)
				(void)kr_i32(&scan);
			kr_str(&scan, &s);
			kr_tags(&scan);
		}
		kr_tags(&scan);
	}
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kr_str(&q->r, &id);
	kr_str(&q->r, &group);
	int64_t pid = kr_i64(&q->r);
	int16_t epoch = kr_i16(&q->r);
	if (q->ver >= 3) {
		(void)kr_i32(&q->r);
		kr_str(&q->r, &s);
		kr_str(&q->r, &s);
	}
	x = id.len > 0 ? txn_find(b, &id) : NULL;
	err = txn_check(x, pid, epoch, KERR_INVALID_EPOCH);
	if (!err && (group.len <= 0 || (gi = txn_group(x, &group)) < 0 || x->state != TX_ONGOING))
		err = KERR_INVALID_TXN_STATE; /* AddOffsetsToTxn first */
	kw_i32(&r->w, 0);
	struct toc_ctx oc = {x, err, gi, q->ver};
	api_each_topic_part(b, &q->r, r, q->r.flex ? 3 : 6, 14, toc_part, &oc);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}
