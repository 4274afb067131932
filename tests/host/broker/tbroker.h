/* Broker test environment shared by the broker tests: a fake transport,
 * a RAM device, and request/response helpers. */
#ifndef TBROKER_H
#define TBROKER_H
#include "tharness.h"
#include "kafka/broker_int.h"
#include "storage/crc32c.h"

static __attribute__((unused)) const uint8_t example_batch[81] = {
    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x45, 0,    0,
    0,    0,    2,    0x96, 0xb7, 0xad, 0xf3, 0,    0,    0,    0,    0,    0,    0,
    0,    0x01, 0xa2, 0x01, 0x4f, 0xae, 0x8a, 0,    0,    0x01, 0xa2, 0x01, 0x4f, 0xae,
    0x8a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0,    0,    0,    1,    0x26, 0,    0,    0,    0x04, 'k',  '1',  0x0a, 'h',
    'e',  'l',  'l',  'o',  0x02, 0x04, 'h',  '1',  0x04, 'v',  '1',
};

struct fconn {
	struct kconn *kc;
	uint8_t out[1 << 20];
	size_t out_len, out_off;
	bool pending, closed;
};

static __attribute__((unused)) const struct kalloc al = {NULL, t_alloc, t_free};

static __attribute__((unused)) int f_send(void *ctx, void *conn, const struct kiov *iov, uint32_t n)
{
	struct fconn *c = conn;

	(void)ctx;
	for (uint32_t i = 0; i < n; i++) {
		memcpy(c->out + c->out_len, iov[i].base, iov[i].len);
		c->out_len += iov[i].len;
	}
	c->pending = true;
	return 0;
}

static __attribute__((unused)) void f_close(void *ctx, void *conn)
{
	(void)ctx;
	((struct fconn *)conn)->closed = true;
}

/* Fault points passed (txn.c calls them during a commit), for tests that
 * check the commit went through its phases. */
static __attribute__((unused)) int fault_calls;

static __attribute__((unused)) void t_fault(void *ctx, const char *point)
{
	(void)ctx;
	(void)point;
	fault_calls++;
}

struct env {
	struct memdev *d;
	struct store *st;
	struct broker *b;
	struct fconn c[3];
};

/* Asynchronous flush for the tests: starting one only records it; the
 * test completes it with flush_complete(). */
static __attribute__((unused)) int async_started;

static __attribute__((unused)) int t_flush_start(void *ctx)
{
	(void)ctx;
	async_started++;
	return 0;
}

static __attribute__((unused)) bool env_async;
/* The next env_new's device writes asynchronously (store_platform.write_start): a write waits
 * in aw_q until the test completes it (aw_complete) or the store waits for one. */
static __attribute__((unused)) bool env_async_writes;
struct aw_req {
	struct memdev *d;
	uint64_t blk;
	const void *buf;
	uint32_t count;
	void (*done)(void *arg, bool ok);
	void *arg;
};
static __attribute__((unused)) struct aw_req aw_q[64];
static __attribute__((unused)) unsigned aw_n;

static __attribute__((unused)) int aw_start(void *ctx, uint64_t blk, const void *buf,
                                            uint32_t count, void (*done)(void *arg, bool ok),
                                            void *arg)
{
	if (aw_n == sizeof(aw_q) / sizeof(aw_q[0]))
		return -1;
	aw_q[aw_n++] = (struct aw_req){ctx, blk, buf, count, done, arg};
	return 0;
}

/* Complete the oldest queued write (the device did it); false if none. */
static __attribute__((unused)) bool aw_complete_one(void)
{
	if (!aw_n)
		return false;
	struct aw_req r = aw_q[0];
	memmove(aw_q, aw_q + 1, --aw_n * sizeof(aw_q[0]));
	r.done(r.arg, md_write(r.d, r.blk, r.buf, r.count) == 0);
	return true;
}

static __attribute__((unused)) void aw_complete(void)
{
	while (aw_complete_one())
		;
}

static __attribute__((unused)) int aw_wait(void *ctx)
{
	(void)ctx;
	return aw_complete_one() ? 0 : -1;
}
static __attribute__((unused)) bool env_no_auto;       /* --no-auto-create */
static __attribute__((unused)) uint64_t env_dev_bytes; /* 0: 16 MiB */
/* The next env_new is shard env_shard of env_shards (0: alone). */
static __attribute__((unused)) uint32_t env_shards, env_shard;
/* Its shard_send (ctx: the shard's number in env_ids) for tests that
 * carry messages between shards (test_shard.c); NULL by default. */
static __attribute__((unused)) bool (*env_shard_send)(void *ctx, uint32_t to, const void *msg,
                                                      size_t len);
static __attribute__((unused)) uint32_t env_ids[8] = {0, 1, 2, 3, 4, 5, 6, 7};
/* The broker's batch codecs (broker_platform.decompress, compress): NULL
 * by default; test_compact.c sets the hosted ones. */
static __attribute__((unused)) long (*env_decompress)(void *ctx, int codec, const uint8_t *in,
                                                      size_t n, uint8_t *out, size_t cap);
static __attribute__((unused)) long (*env_compress)(void *ctx, int codec, const uint8_t *in,
                                                    size_t n, uint8_t *out, size_t cap);

/* Open the store on e's device (flags: STORE_FORMAT_BLANK or 0) and
 * start a broker with three connections; the broker is shard env_shard
 * of env_shards. */
static __attribute__((unused)) void env_start(struct env *e, struct store_platform spl,
                                              uint32_t flags)
{
	struct broker_platform bpl = {.ctx = &env_ids[env_shard & 7],
	                              .alloc = t_alloc,
	                              .free = t_free,
	                              .now_ms = t_now,
	                              .log = t_log,
	                              .send = f_send,
	                              .close = f_close,
	                              .wall_ms = t_now,
	                              .fault = t_fault,
	                              .shard_send = env_shard_send,
	                              .decompress = env_decompress,
	                              .compress = env_compress};
	struct broker_config cfg = {"127.0.0.1", 9092,       1,        4,
	                            1000,        1u << 24,   300,      1u << 20,
	                            env_no_auto, env_shards, env_shard};

	if (store_open(&spl, flags, &e->st))
		abort();
	e->b = broker_create(&bpl, &cfg, e->st);
	for (int i = 0; i < 3; i++) {
		memset(&e->c[i], 0, sizeof(e->c[i]));
		e->c[i].kc = broker_conn_open(e->b, &e->c[i]);
	}
}

static __attribute__((unused)) struct env *env_new(void)
{
	struct env *e = calloc(1, sizeof(*e));
	struct store_platform spl;

	e->d = md_new(env_dev_bytes ? env_dev_bytes : 16u << 20);
	spl = md_platform(e->d);
	if (env_async)
		spl.flush_start = t_flush_start;
	if (env_async_writes)
		spl.write_start = aw_start, spl.wait = aw_wait;
	t_clock = 1000000;
	env_start(e, spl, STORE_FORMAT_BLANK);
	return e;
}

/* env_new with the asynchronous-write platform (writes complete when the fake device says so). */
static __attribute__((unused)) struct env *env_new_async_writes(void)
{
	env_async_writes = true;
	struct env *e = env_new();
	env_async_writes = false;
	return e;
}

/* Open the store on e's device and start a broker with three connections (after a crash or a
 * stop, too). */
static __attribute__((unused)) void env_open(struct env *e)
{
	env_start(e, md_platform(e->d), 0);
}

/* Stop the broker and store cleanly and start both again on the device. */
static __attribute__((unused)) void env_restart(struct env *e)
{
	broker_destroy(e->b);
	store_close(e->st);
	env_open(e);
}

static __attribute__((unused)) void env_free(struct env *e)
{
	broker_destroy(e->b);
	store_close(e->st);
	md_free(e->d);
	free(e);
}

/* Partition k of the topic called name (NULL if absent). */
static __attribute__((unused)) struct store_part *tpart(struct env *e, const char *name, uint32_t k)
{
	int id = store_topic_find(e->st, name, (uint32_t)strlen(name));

	return id < 0 ? NULL : store_part_get(e->st, (uint32_t)id, k);
}

/* One event-loop turn: commit point, then complete every finished send. */
static __attribute__((unused)) void pump(struct env *e)
{
	broker_poll(e->b);
	for (int k = 0; k < 4; k++)
		for (int i = 0; i < 3; i++)
			if (e->c[i].pending) {
				e->c[i].pending = false;
				broker_send_done(e->b, e->c[i].kc);
			}
}

static __attribute__((unused)) void req_begin(struct kw *w, int16_t key, int16_t ver, int32_t corr)
{
	kw_init(w, &al);
	kw_i32(w, 0);
	kw_i16(w, key);
	kw_i16(w, ver);
	kw_i32(w, corr);
	kw_str(w, "test", 4);
}

/* Finish and deliver a request on connection i. */
static __attribute__((unused)) void req_send(struct env *e, int i, struct kw *w)
{
	kw_patch32(w, 0, (int32_t)(w->len - 4));
	size_t used = broker_conn_input(e->b, e->c[i].kc, w->buf, w->len);
	CHECK(used == w->len);
	kw_free(w);
}

/* Next response on connection i; checks the correlation id. */
static __attribute__((unused)) bool resp_next(struct env *e, int i, int32_t corr, struct kr *r)
{
	struct fconn *c = &e->c[i];

	if (c->out_len - c->out_off < 8)
		return false;
	uint32_t n = get_be32(c->out + c->out_off);
	kr_init(r, c->out + c->out_off + 4, n);
	c->out_off += 4 + n;
	CHECK(kr_i32(r) == corr);
	return true;
}

static __attribute__((unused)) void metadata_req(struct env *e, int i, int32_t corr,
                                                 const char *topic, bool create)
{
	struct kw w;

	req_begin(&w, API_METADATA, 4, corr);
	kw_i32(&w, 1);
	kw_str(&w, topic, (int32_t)strlen(topic));
	kw_i8(&w, create);
	req_send(e, i, &w);
}

/* Produce one copy of the example batch (optionally damaged). */
static __attribute__((unused)) void produce_req(struct env *e, int i, int32_t corr, int16_t acks,
                                                const char *topic, int32_t part, int flip)
{
	struct kw w;
	uint8_t b[81];

	memcpy(b, example_batch, 81);
	if (flip)
		b[flip] ^= 1;
	req_begin(&w, API_PRODUCE, 7, corr);
	kw_str(&w, NULL, -1);
	kw_i16(&w, acks);
	kw_i32(&w, 30000);
	kw_i32(&w, 1);
	kw_str(&w, topic, (int32_t)strlen(topic));
	kw_i32(&w, 1);
	kw_i32(&w, part);
	kw_bytes(&w, b, 81);
	req_send(e, i, &w);
}

/* Produce response fields for the single partition. */
static __attribute__((unused)) void produce_resp(struct kr *r, int16_t *err, int64_t *base)
{
	struct kstr s;

	CHECK(kr_i32(r) == 1);
	kr_str(r, &s);
	CHECK(kr_i32(r) == 1);
	(void)kr_i32(r); /* partition index */
	*err = kr_i16(r);
	*base = kr_i64(r);
	(void)kr_i64(r);
	(void)kr_i64(r);
	CHECK(kr_i32(r) == 0 && !r->bad && r->off == r->n);
}

static __attribute__((unused)) void fetch_req(struct env *e, int i, int32_t corr, const char *topic,
                                              int64_t off, int32_t wait)
{
	struct kw w;

	req_begin(&w, API_FETCH, 11, corr);
	kw_i32(&w, -1);
	kw_i32(&w, wait);
	kw_i32(&w, 1);
	kw_i32(&w, 52428800);
	kw_i8(&w, 1);
	kw_i32(&w, 0);
	kw_i32(&w, -1);
	kw_i32(&w, 1);
	kw_str(&w, topic, (int32_t)strlen(topic));
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	kw_i32(&w, -1);
	kw_i64(&w, off);
	kw_i64(&w, -1);
	kw_i32(&w, 1048576);
	kw_i32(&w, 0);
	kw_str(&w, "", 0);
	req_send(e, i, &w);
}

/* Aborted transactions the last fetch_resp listed (a read_committed
 * fetch); only tests that set fetch_aborted_ok accept any. */
static __attribute__((unused)) int32_t fetch_aborted;
static __attribute__((unused)) bool fetch_aborted_ok;

/* Parse a one-partition fetch response; returns the records blob. */
static __attribute__((unused)) struct kbytes fetch_resp(struct kr *r, int16_t *err, int64_t *hwm)
{
	struct kstr s;
	struct kbytes rec = {.p = NULL, .len = -1};

	CHECK(kr_i32(r) == 0 && kr_i16(r) == 0 && kr_i32(r) == 0);
	CHECK(kr_i32(r) == 1);
	kr_str(r, &s);
	CHECK(kr_i32(r) == 1 && kr_i32(r) == 0);
	*err = kr_i16(r);
	*hwm = kr_i64(r);
	CHECK(kr_i64(r) == *hwm);
	(void)kr_i64(r);
	fetch_aborted = kr_i32(r);
	CHECK(fetch_aborted == 0 || fetch_aborted_ok);
	for (int32_t i = 0; i < fetch_aborted && !r->bad; i++) {
		(void)kr_i64(r);
		(void)kr_i64(r);
	}
	CHECK(kr_i32(r) == -1);
	kr_bytes(r, &rec);
	CHECK(!r->bad && r->off == r->n);
	return rec;
}

/* Pump the broker a few times and take connection 0's response corr. */
static __attribute__((unused)) bool tb_answer(struct env *e, int32_t corr, struct kr *r)
{
	for (int i = 0; i < 4; i++)
		pump(e);
	return resp_next(e, 0, corr, r);
}

/* The example batch as producer pid/epoch with base sequence seq,
 * transactional when txn (CRC recomputed, as a client would). */
static __attribute__((unused)) void tb_batch(uint8_t *b, int64_t pid, int16_t epoch, int32_t seq,
                                             bool txn)
{
	memcpy(b, example_batch, 81);
	put_be64(b + 43, (uint64_t)pid);
	put_be16(b + 51, (uint16_t)epoch);
	put_be32(b + 53, (uint32_t)seq);
	if (txn)
		b[22] |= 0x10;
	put_be32(b + 17, store_crc32c(0, b + 21, 81 - 21));
}

/* Produce v7 acks=-1 of the n bytes of batches b to topic/part; returns
 * the error, *base the base offset. */
static __attribute__((unused)) int16_t tb_produce(struct env *e, int32_t corr, const char *topic,
                                                  int32_t part, const uint8_t *b, uint32_t n,
                                                  int64_t *base)
{
	struct kw w;
	struct kr r;
	int16_t err = -100;

	req_begin(&w, API_PRODUCE, 7, corr);
	kw_str(&w, NULL, -1);
	kw_i16(&w, -1);
	kw_i32(&w, 30000);
	kw_i32(&w, 1);
	kw_str(&w, topic, (int32_t)strlen(topic));
	kw_i32(&w, 1);
	kw_i32(&w, part);
	kw_bytes(&w, b, (int32_t)n);
	req_send(e, 0, &w);
	if (tb_answer(e, corr, &r))
		produce_resp(&r, &err, base);
	return err;
}

/* InitProducerId v0/v1 for transactional id txn (NULL: none); returns
 * the error, *pid and *epoch (-1 and -1 when no response came). */
static __attribute__((unused)) int16_t tb_init_pid(struct env *e, int32_t corr, int16_t ver,
                                                   const char *txn, int32_t timeout_ms,
                                                   int64_t *pid, int16_t *epoch)
{
	struct kw w;
	struct kr r;

	*pid = -1;
	*epoch = -1;
	req_begin(&w, API_INIT_PID, ver, corr);
	kw_str(&w, txn, txn ? (int32_t)strlen(txn) : -1);
	kw_i32(&w, timeout_ms);
	req_send(e, 0, &w);
	if (!tb_answer(e, corr, &r))
		return -100;
	CHECK(kr_i32(&r) == 0);
	int16_t err = kr_i16(&r);
	*pid = kr_i64(&r);
	*epoch = kr_i16(&r);
	CHECK(!r.bad && r.off == r.n);
	return err;
}

/* A transactional batch (the example batch) of pid/epoch/seq. */
static __attribute__((unused)) int16_t produce_txn(struct env *e, int32_t corr, const char *topic,
                                                   int32_t part, int64_t pid, int16_t epoch,
                                                   int32_t seq, int64_t *base)
{
	uint8_t b[81];

	tb_batch(b, pid, epoch, seq, true);
	return tb_produce(e, corr, topic, part, b, 81, base);
}

struct fres {
	int16_t err;
	int64_t hwm, lso;
	int32_t naborted;
	int64_t ab_pid[4], ab_first[4];
	int32_t nbatches, nctrl;
	int64_t last_base;
};

/* Fetch v11 of topic/part from off with isolation iso; parses it. */
static __attribute__((unused)) struct fres fetch_iso(struct env *e, int32_t corr, const char *topic,
                                                     int32_t part, int64_t off, int8_t iso)
{
	struct kw w;
	struct kr r;
	struct kstr s;
	struct kbytes rec;
	struct fres f = {.err = -100};

	req_begin(&w, API_FETCH, 11, corr);
	kw_i32(&w, -1);
	kw_i32(&w, 0);
	kw_i32(&w, 1);
	kw_i32(&w, 52428800);
	kw_i8(&w, iso);
	kw_i32(&w, 0);
	kw_i32(&w, -1);
	kw_i32(&w, 1);
	kw_str(&w, topic, (int32_t)strlen(topic));
	kw_i32(&w, 1);
	kw_i32(&w, part);
	kw_i32(&w, -1);
	kw_i64(&w, off);
	kw_i64(&w, -1);
	kw_i32(&w, 1048576);
	kw_i32(&w, 0);
	kw_str(&w, "", 0);
	req_send(e, 0, &w);
	if (!tb_answer(e, corr, &r))
		return f;
	CHECK(kr_i32(&r) == 0 && kr_i16(&r) == 0 && kr_i32(&r) == 0);
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == part);
	f.err = kr_i16(&r);
	f.hwm = kr_i64(&r);
	f.lso = kr_i64(&r);
	(void)kr_i64(&r);
	f.naborted = kr_i32(&r);
	for (int32_t i = 0; i < f.naborted && i < 4; i++) {
		f.ab_pid[i] = kr_i64(&r);
		f.ab_first[i] = kr_i64(&r);
	}
	CHECK(kr_i32(&r) == -1);
	kr_bytes(&r, &rec);
	CHECK(!r.bad && r.off == r.n);
	for (int32_t at = 0; rec.len > 0 && at + 61 <= rec.len;) {
		const uint8_t *h = rec.p + at;
		f.nbatches++;
		f.nctrl += (h[22] & 0x20) != 0;
		f.last_base = (int64_t)get_be64(h);
		at += (int32_t)get_be32(h + 8) + 12;
	}
	return f;
}

/* The answer corr of a request for one partition of one topic
 * (throttle, [topic [partition, error]]): the partition's error. */
static __attribute__((unused)) int16_t tb_part_err(struct env *e, int32_t corr, int32_t part)
{
	struct kr r;
	struct kstr s;

	if (!tb_answer(e, corr, &r))
		return -100;
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == part);
	int16_t err = kr_i16(&r);
	CHECK(!r.bad && r.off == r.n);
	return err;
}

/* AddPartitionsToTxn v2 (one partition), EndTxn v2 and their errors. */
static __attribute__((unused)) int16_t add_part(struct env *e, int32_t corr, const char *id,
                                                int64_t pid, int16_t epoch, const char *topic,
                                                int32_t part)
{
	struct kw w;

	req_begin(&w, API_ADD_PARTS_TXN, 2, corr);
	kw_str(&w, id, (int32_t)strlen(id));
	kw_i64(&w, pid);
	kw_i16(&w, epoch);
	kw_i32(&w, 1);
	kw_str(&w, topic, (int32_t)strlen(topic));
	kw_i32(&w, 1);
	kw_i32(&w, part);
	req_send(e, 0, &w);
	return tb_part_err(e, corr, part);
}

static __attribute__((unused)) int16_t plain_err(struct env *e, int32_t corr)
{
	struct kr r;

	if (!tb_answer(e, corr, &r))
		return -100;
	CHECK(kr_i32(&r) == 0);
	int16_t err = kr_i16(&r);
	CHECK(!r.bad && r.off == r.n);
	return err;
}

static __attribute__((unused)) int16_t end_txn(struct env *e, int32_t corr, const char *id,
                                               int64_t pid, int16_t epoch, bool commit)
{
	struct kw w;

	req_begin(&w, API_END_TXN, 2, corr);
	kw_str(&w, id, (int32_t)strlen(id));
	kw_i64(&w, pid);
	kw_i16(&w, epoch);
	kw_i8(&w, commit);
	req_send(e, 0, &w);
	return plain_err(e, corr);
}

#endif
