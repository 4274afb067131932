/* One event loop per core, the core's side (docs/broker.md, "One event
 * loop per core"): two brokers as shards 0 and 1 of 2, each on its own
 * store, given the same topic-changing request as the host replicates
 * it; Metadata names one node per shard and each partition's leader;
 * only the leading shard takes a partition's Produce, Fetch and
 * ListOffsets (the other answers NOT_LEADER_OR_FOLLOWER); transactions
 * over partitions of both shards with the messages between the brokers
 * carried by the test (commit, abort, fencing, crashes between the
 * shards' steps); broker_conn_idle follows the response queue. */
#include "tbroker.h"

static bool answer(struct env *e, int32_t corr, struct kr *r)
{
	for (int i = 0; i < 4; i++)
		pump(e);
	return resp_next(e, 0, corr, r);
}

/* Metadata v4 for topic "sp" (auto-created): checks the brokers array and
 * returns each partition's leader in lead[]; returns the partition count. */
static int32_t meta_leaders(struct env *e, int32_t corr, int32_t *lead)
{
	struct kr r;
	struct kstr s;
	int32_t nb, np;

	metadata_req(e, 0, corr, "sp", true);
	if (!answer(e, corr, &r))
		return -1;
	CHECK(kr_i32(&r) == 0);        /* throttle */
	CHECK((nb = kr_i32(&r)) == 2); /* one node per shard */
	for (int32_t i = 0; i < nb && i < 2; i++) {
		CHECK(kr_i32(&r) == 1 + i);
		kr_str(&r, &s);
		CHECK(s.len == 9 && !memcmp(s.p, "127.0.0.1", 9));
		CHECK(kr_i32(&r) == 9092 + i);
		kr_str(&r, &s); /* rack */
	}
	kr_str(&r, &s);         /* cluster id */
	CHECK(kr_i32(&r) == 1); /* controller: shard 0 */
	CHECK(kr_i32(&r) == 1); /* topics */
	CHECK(kr_i16(&r) == 0);
	kr_str(&r, &s);
	(void)kr_i8(&r);
	np = kr_i32(&r);
	for (int32_t k = 0; k < np && k < 8; k++) {
		CHECK(kr_i16(&r) == 0 && kr_i32(&r) == k);
		lead[k] = kr_i32(&r);
		CHECK(kr_i32(&r) == 1 && kr_i32(&r) == lead[k]); /* replicas */
		CHECK(kr_i32(&r) == 1 && kr_i32(&r) == lead[k]); /* isr */
	}
	CHECK(!r.bad && r.off == r.n);
	return np;
}

static int16_t produce_one(struct env *e, int32_t corr, int32_t part)
{
	struct kr r;
	int16_t err = -100;
	int64_t base;

	produce_req(e, 0, corr, 1, "sp", part, 0);
	if (answer(e, corr, &r))
		produce_resp(&r, &err, &base);
	return err;
}

/* A Fetch v4 (fetch) or ListOffsets v1 of partition part of "sp" from
 * offset 0 / the latest; returns the partition's error. Both requests
 * and responses share the layout [topic [partition ...]] after a
 * fetch-only prefix (replica id, wait, min bytes, max bytes, isolation;
 * the response's throttle time). */
static int16_t part_req(struct env *e, int32_t corr, int32_t part, bool fetch)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	req_begin(&w, fetch ? API_FETCH : API_LIST_OFFSETS, fetch ? 4 : 1, corr);
	kw_i32(&w, -1);
	if (fetch) {
		kw_i32(&w, 0);
		kw_i32(&w, 1);
		kw_i32(&w, 1 << 20);
		kw_i8(&w, 0);
	}
	kw_i32(&w, 1);
	kw_str(&w, "sp", 2);
	kw_i32(&w, 1);
	kw_i32(&w, part);
	kw_i64(&w, fetch ? 0 : -1);
	if (fetch)
		kw_i32(&w, 1 << 20);
	req_send(e, 0, &w);
	if (!answer(e, corr, &r))
		return -100;
	if (fetch)
		CHECK(kr_i32(&r) == 0);
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == part);
	return kr_i16(&r);
}

static void t_partitions_led_by_one_shard(void)
{
	struct env *e[2];
	int32_t lead[2][8] = {{0}}, np[2];
	int led[2] = {0, 0};

	env_shards = 2;
	for (uint32_t i = 0; i < 2; i++) {
		env_shard = i;
		e[i] = env_new();
		np[i] = meta_leaders(e[i], 1, lead[i]); /* the host replicates it */
	}
	env_shards = env_shard = 0;
	CHECK(np[0] == 4 && np[1] == 4);
	int tid = store_topic_find(e[0]->st, "sp", 2);
	CHECK(tid >= 0 && tid == store_topic_find(e[1]->st, "sp", 2)); /* same id */
	for (int32_t k = 0; k < 4; k++) {
		uint32_t owner = broker_part_owner(2, (uint32_t)tid, (uint32_t)k);
		CHECK(owner < 2);
		if (owner >= 2)
			break;
		CHECK(lead[0][k] == lead[1][k] && lead[0][k] == 1 + (int32_t)owner);
		led[owner]++;
		for (uint32_t i = 0; i < 2; i++) {
			int16_t want = i == owner ? KERR_NONE : KERR_NOT_LEADER;
			CHECK(produce_one(e[i], 10 + k, k) == want);
			CHECK(part_req(e[i], 20 + k, k, false) == want);
			CHECK(part_req(e[i], 30 + k, k, true) == want);
		}
		/* the record is on the leader's store only */
		CHECK(store_part_end(tpart(e[owner], "sp", (uint32_t)k)) == 1);
		CHECK(store_part_end(tpart(e[1 - owner], "sp", (uint32_t)k)) == 0);
	}
	CHECK(led[0] == 2 && led[1] == 2); /* (topic + partition) mod 2 */
	for (int i = 0; i < 2; i++)
		env_free(e[i]);
}

static void t_owner_function(void)
{
	CHECK(broker_part_owner(1, 7, 5) == 0);
	CHECK(broker_part_owner(0, 7, 5) == 0);
	CHECK(broker_part_owner(2, 1, 0) == 1 && broker_part_owner(2, 1, 1) == 0);
	CHECK(broker_part_owner(4, 3, 6) == 1);
	for (uint32_t p = 0; p < 64; p++)
		CHECK(broker_part_owner(3, 10, p) < 3);
}

/* ---- transactions across shards: messages carried between the brokers ---- */

struct smsg {
	struct smsg *next;
	uint32_t from, to;
	size_t len;
	uint8_t p[];
};

static struct smsg *mq, **mq_tail = &mq;
static struct env *sh_env[2];

/* The brokers' shard_send: queued until carry() (ctx: env_ids entry). */
static bool s_send(void *ctx, uint32_t to, const void *msg, size_t len)
{
	struct smsg *m = malloc(sizeof(*m) + len);

	m->next = NULL;
	m->from = *(const uint32_t *)ctx;
	m->to = to;
	m->len = len;
	memcpy(m->p, msg, len);
	*mq_tail = m;
	mq_tail = &m->next;
	return true;
}

static uint32_t queued(void)
{
	uint32_t n = 0;

	for (struct smsg *m = mq; m; m = m->next)
		n++;
	return n;
}

/* Deliver the queued messages (and those they cause), or lose them (a
 * crash). */
static void carry(bool drop)
{
	while (mq) {
		struct smsg *m = mq;
		if (!(mq = m->next))
			mq_tail = &mq;
		if (!drop && m->to < 2 && sh_env[m->to])
			broker_shard_message(sh_env[m->to]->b, m->from, m->p, m->len);
		free(m);
	}
}

/* Loop turns of both shards, messages carried or not. */
static void turns(bool deliver)
{
	for (int i = 0; i < 6; i++) {
		pump(sh_env[0]);
		pump(sh_env[1]);
		if (deliver)
			carry(false);
	}
}

static int32_t tx_tid, led[2][2]; /* two partitions of "sp" led by each shard */

static void shards_open(uint32_t i)
{
	env_shard_send = s_send;
	env_shards = 2;
	env_shard = i;
}

static void shards_done(void)
{
	env_shard_send = NULL;
	env_shards = env_shard = 0;
}

/* Shards 0 and 1 of 2 with topic "sp" (4 partitions) on both. */
static void two_shards(void)
{
	struct kr r;
	int n[2] = {0, 0};

	for (uint32_t i = 0; i < 2; i++) {
		shards_open(i);
		sh_env[i] = env_new();
		metadata_req(sh_env[i], 0, 1, "sp", true);
		CHECK(answer(sh_env[i], 1, &r));
	}
	shards_done();
	tx_tid = store_topic_find(sh_env[0]->st, "sp", 2);
	for (uint32_t k = 0; k < 4; k++) {
		uint32_t o = broker_part_owner(2, (uint32_t)tx_tid, k);
		if (n[o] < 2)
			led[o][n[o]++] = (int32_t)k;
	}
	CHECK(n[0] == 2 && n[1] == 2);
}

static void two_free(void)
{
	carry(true);
	for (int i = 0; i < 2; i++) {
		env_free(sh_env[i]);
		sh_env[i] = NULL;
	}
}

/* AddPartitionsToTxn v2 of "tx" for n partitions of "sp" on shard 0. */
static void add_req(int32_t corr, int64_t pid, int16_t epoch, const int32_t *parts, int32_t n)
{
	struct kw w;

	req_begin(&w, API_ADD_PARTS_TXN, 2, corr);
	kw_str(&w, "tx", 2);
	kw_i64(&w, pid);
	kw_i16(&w, epoch);
	kw_i32(&w, 1);
	kw_str(&w, "sp", 2);
	kw_i32(&w, n);
	for (int32_t i = 0; i < n; i++)
		kw_i32(&w, parts[i]);
	req_send(sh_env[0], 0, &w);
}

/* Its answer: the first partition error (0: all added). */
static int16_t add_resp(struct kr *r, int32_t n)
{
	struct kstr s;
	int16_t err = 0;

	CHECK(kr_i32(r) == 0 && kr_i32(r) == 1);
	kr_str(r, &s);
	CHECK(kr_i32(r) == n);
	for (int32_t i = 0; i < n; i++) {
		(void)kr_i32(r);
		int16_t e = kr_i16(r);
		err = err ? err : e;
	}
	CHECK(!r->bad && r->off == r->n);
	return err;
}

static int16_t add_all(int32_t corr, int64_t pid, int16_t epoch, const int32_t *parts, int32_t n)
{
	struct kr r;

	add_req(corr, pid, epoch, parts, n);
	turns(true);
	return resp_next(sh_env[0], 0, corr, &r) ? add_resp(&r, n) : -100;
}

static void end_req(int32_t corr, int64_t pid, int16_t epoch, bool commit)
{
	struct kw w;

	req_begin(&w, API_END_TXN, 2, corr);
	kw_str(&w, "tx", 2);
	kw_i64(&w, pid);
	kw_i16(&w, epoch);
	kw_i8(&w, commit);
	req_send(sh_env[0], 0, &w);
}

/* EndTxn's error once answered (-100: no answer). */
static int16_t end_answer(int32_t corr)
{
	struct kr r;

	if (!resp_next(sh_env[0], 0, corr, &r))
		return -100;
	CHECK(kr_i32(&r) == 0);
	int16_t err = kr_i16(&r);
	CHECK(!r.bad && r.off == r.n);
	return err;
}

/* Leader of partition part of "sp". */
static struct env *leader(int32_t part)
{
	return sh_env[broker_part_owner(2, (uint32_t)tx_tid, (uint32_t)part)];
}

/* A commit and an abort over partitions of both shards: the partitions
 * led by shard 1 take the producer's batches only once shard 0 told it
 * (the AddPartitionsToTxn answer waits for shard 1's acknowledgement),
 * EndTxn is answered only once shard 1 wrote its markers, and shard 1's
 * fetches show the LSO and the aborted transaction. */
static void t_txn_across_shards(void)
{
	int32_t parts[3];
	int64_t pid = -1, base = -1;
	int16_t epoch = -1;
	struct kr r;
	struct fres f;

	two_shards();
	parts[0] = led[0][0];
	parts[1] = led[1][0];
	parts[2] = led[1][1];
	CHECK(tb_init_pid(sh_env[0], 2, 1, "tx", 60000, &pid, &epoch) == KERR_NONE && pid >= 0);
	/* shard 1 knows nothing of the producer yet */
	CHECK(produce_txn(sh_env[1], 3, "sp", parts[1], pid, epoch, 0, &base) ==
	      KERR_INVALID_PID_MAPPING);
	add_req(4, pid, epoch, parts, 2);
	for (int i = 0; i < 4; i++)
		pump(sh_env[0]);
	CHECK(!resp_next(sh_env[0], 0, 4, &r)); /* waits for shard 1 */
	CHECK(queued() == 1);
	turns(true);
	CHECK(resp_next(sh_env[0], 0, 4, &r) && add_resp(&r, 2) == KERR_NONE);
	CHECK(produce_txn(sh_env[0], 5, "sp", parts[0], pid, epoch, 0, &base) == KERR_NONE);
	CHECK(produce_txn(sh_env[1], 6, "sp", parts[1], pid, epoch, 0, &base) == KERR_NONE);
	/* a partition of shard 1 not added to the transaction */
	CHECK(produce_txn(sh_env[1], 7, "sp", parts[2], pid, epoch, 0, &base) ==
	      KERR_INVALID_TXN_STATE);
	f = fetch_iso(sh_env[1], 8, "sp", parts[1], 0, 1);
	CHECK(f.hwm == 1 && f.lso == 0);
	end_req(9, pid, epoch, true);
	for (int i = 0; i < 4; i++)
		pump(sh_env[0]);
	CHECK(end_answer(9) == -100); /* shard 1's marker is not written yet */
	CHECK(store_part_end(tpart(sh_env[1], "sp", (uint32_t)parts[1])) == 1);
	CHECK(store_part_end(tpart(sh_env[0], "sp", (uint32_t)parts[0])) == 2);
	turns(true);
	CHECK(end_answer(9) == KERR_NONE);
	f = fetch_iso(sh_env[1], 10, "sp", parts[1], 0, 1);
	CHECK(f.hwm == 2 && f.lso == 2 && f.nctrl == 1 && f.nbatches == 2 && f.naborted == 0);
	/* the transaction is over on shard 1 too */
	CHECK(produce_txn(sh_env[1], 11, "sp", parts[1], pid, epoch, 1, &base) ==
	      KERR_INVALID_TXN_STATE);
	/* an aborted one: shard 1's read_committed fetch lists it */
	CHECK(add_all(12, pid, epoch, parts + 1, 2) == KERR_NONE);
	CHECK(produce_txn(sh_env[1], 13, "sp", parts[1], pid, epoch, 1, &base) == KERR_NONE);
	CHECK(produce_txn(sh_env[1], 14, "sp", parts[2], pid, epoch, 0, &base) == KERR_NONE);
	end_req(15, pid, epoch, false);
	turns(true);
	CHECK(end_answer(15) == KERR_NONE);
	f = fetch_iso(sh_env[1], 16, "sp", parts[1], 0, 1);
	CHECK(f.hwm == 4 && f.lso == 4 && f.nctrl == 2 && f.naborted == 1 && f.ab_pid[0] == pid &&
	      f.ab_first[0] == 2);
	f = fetch_iso(sh_env[1], 17, "sp", parts[2], 0, 1);
	CHECK(f.hwm == 2 && f.lso == 2 && f.nctrl == 1 && f.naborted == 1);
	two_free();
}

/* Two shards, a transaction of "tx" begun over a partition of each
 * (parts[0] led by shard 0, parts[1] by shard 1) with a batch produced
 * on shard 1's. */
static void begin_two(int32_t *parts, int64_t *pid, int16_t *epoch)
{
	int64_t base = -1;

	two_shards();
	parts[0] = led[0][0];
	parts[1] = led[1][0];
	CHECK(tb_init_pid(sh_env[0], 2, 1, "tx", 60000, pid, epoch) == KERR_NONE);
	CHECK(add_all(3, *pid, *epoch, parts, 2) == KERR_NONE);
	CHECK(produce_txn(sh_env[1], 4, "sp", parts[1], *pid, *epoch, 0, &base) == KERR_NONE);
}

/* A second InitProducerId with the first producer's transaction open on
 * both shards aborts it under a bumped epoch (CONCURRENT_TRANSACTIONS
 * until shard 1 wrote its abort marker), and shard 1 then fences the
 * first producer. */
static void t_txn_fencing_across_shards(void)
{
	int32_t parts[2];
	int64_t pid = -1, pid2 = -1, base = -1;
	int16_t epoch = -1, epoch2 = -1;
	struct fres f;

	begin_two(parts, &pid, &epoch);
	CHECK(tb_init_pid(sh_env[0], 5, 1, "tx", 60000, &pid2, &epoch2) == KERR_CONCURRENT_TXNS);
	turns(true);
	CHECK(tb_init_pid(sh_env[0], 6, 1, "tx", 60000, &pid2, &epoch2) == KERR_NONE);
	CHECK(pid2 == pid && epoch2 == epoch + 2);
	f = fetch_iso(sh_env[1], 7, "sp", parts[1], 0, 1);
	CHECK(f.hwm == 2 && f.lso == 2 && f.naborted == 1 && f.nctrl == 1);
	CHECK(produce_txn(sh_env[1], 8, "sp", parts[1], pid, epoch, 1, &base) ==
	      KERR_INVALID_EPOCH);
	two_free();
}

/* A TM_END lost on the way (or its acknowledgement): after 10 s shard 0
 * gives up waiting and sends it again; the commit then completes with
 * one marker on shard 1 and the parked EndTxn is answered. */
static void t_txn_lost_message_sent_again(void)
{
	int32_t parts[2];
	int64_t pid = -1;
	int16_t epoch = -1;
	struct fres f;

	begin_two(parts, &pid, &epoch);
	end_req(5, pid, epoch, true);
	pump(sh_env[0]);
	CHECK(queued() == 1);
	carry(true);
	turns(true);
	CHECK(end_answer(5) == -100);
	t_clock += 10001;
	turns(false); /* gives up: the retry waits 100 ms */
	CHECK(queued() == 0 && end_answer(5) == -100);
	t_clock += 101;
	turns(true);
	CHECK(end_answer(5) == KERR_NONE);
	f = fetch_iso(sh_env[1], 6, "sp", parts[1], 0, 1);
	CHECK(f.hwm == 2 && f.lso == 2 && f.nctrl == 1);
	two_free();
}

/* ---- crashes: both shards restarted from what a kill -9 leaves ---- */

static uint8_t *img[2];

static void snap(void)
{
	for (int i = 0; i < 2; i++) {
		struct memdev *d = sh_env[i]->d;
		img[i] = malloc(d->blocks * STORE_BLOCK);
		memcpy(img[i], d->cur, d->blocks * STORE_BLOCK);
	}
}

/* The process dies (the messages in flight are lost) and restarts on
 * the snapshots. */
static void restart_from_snap(void)
{
	carry(true);
	for (uint32_t i = 0; i < 2; i++) {
		struct env *e = sh_env[i];
		broker_destroy(e->b);
		store_close(e->st);
		memcpy(e->d->cur, img[i], e->d->blocks * STORE_BLOCK);
		memcpy(e->d->dur, img[i], e->d->blocks * STORE_BLOCK);
		md_drop_log(e->d);
		free(img[i]);
		img[i] = NULL;
		shards_open(i);
		env_open(e);
	}
	shards_done();
}

static void clean_restart(void)
{
	carry(false);
	for (uint32_t i = 0; i < 2; i++) {
		shards_open(i);
		env_restart(sh_env[i]);
	}
	shards_done();
}

/* A commit over a partition of each shard cut after the PREPARE record
 * (shard 1 never got TM_END) or after shard 1's marker (its
 * acknowledgement lost): after the restart shard 0 finishes it, each
 * partition has its data committed with exactly one marker, also after
 * a clean restart. */
static void crash_case(bool marker_written)
{
	int32_t parts[2];
	int64_t pid = -1, base = -1;
	int16_t epoch = -1;
	struct fres f[2];

	begin_two(parts, &pid, &epoch);
	CHECK(produce_txn(sh_env[0], 5, "sp", parts[0], pid, epoch, 0, &base) == KERR_NONE);
	end_req(6, pid, epoch, true);
	pump(sh_env[0]); /* PREPARE durable, shard 0's marker written, TM_END queued */
	CHECK(queued() == 1);
	if (marker_written) {
		struct smsg *m = mq;
		mq = NULL;
		mq_tail = &mq;
		broker_shard_message(sh_env[1]->b, m->from, m->p, m->len);
		free(m);
		CHECK(queued() == 1); /* the acknowledgement, lost with the crash */
		CHECK(store_part_end(tpart(sh_env[1], "sp", (uint32_t)parts[1])) == 2);
	}
	snap();
	restart_from_snap();
	turns(true);
	for (int i = 0; i < 2; i++) {
		f[i] = fetch_iso(leader(parts[i]), 10 + i, "sp", parts[i], 0, 1);
		CHECK(f[i].hwm == 2 && f[i].lso == 2 && f[i].nctrl == 1 && f[i].naborted == 0);
	}
	/* a retried EndTxn of the recovered commit succeeds */
	end_req(12, pid, epoch, true);
	turns(true);
	CHECK(end_answer(12) == KERR_NONE);
	clean_restart();
	turns(true);
	for (int i = 0; i < 2; i++) {
		f[i] = fetch_iso(leader(parts[i]), 13 + i, "sp", parts[i], 0, 1);
		CHECK(f[i].hwm == 2 && f[i].lso == 2 && f[i].nctrl == 1);
	}
	two_free();
}

static void t_crash_after_prepare(void)
{
	crash_case(false);
}

static void t_crash_after_remote_marker(void)
{
	crash_case(true);
}

/* A crash with a transaction open: after the restart shard 0 tells shard
 * 1 of it again before any request, so the producer goes on producing
 * there and commits. */
static void t_crash_open_txn_leaders_told_again(void)
{
	int32_t parts[2];
	int64_t pid = -1, base = -1;
	int16_t epoch = -1;
	struct fres f;

	begin_two(parts, &pid, &epoch);
	turns(true); /* flushed */
	snap();
	restart_from_snap();
	pump(sh_env[0]); /* shard 0's first turn (before the loops, hosted) */
	CHECK(queued() == 1);
	carry(false);
	CHECK(produce_txn(sh_env[1], 5, "sp", parts[1], pid, epoch, 1, &base) == KERR_NONE);
	end_req(6, pid, epoch, true);
	turns(true);
	CHECK(end_answer(6) == KERR_NONE);
	f = fetch_iso(sh_env[1], 7, "sp", parts[1], 0, 1);
	CHECK(f.hwm == 3 && f.lso == 3 && f.nctrl == 1 && f.nbatches == 3);
	two_free();
}

static void t_conn_idle(void)
{
	struct env *e = env_new();
	struct kr r;

	CHECK(broker_conn_idle(e->c[0].kc));
	produce_req(e, 0, 1, -1, "idle", 0, 0); /* acks=-1: waits for a flush */
	CHECK(!broker_conn_idle(e->c[0].kc));
	for (int i = 0; i < 3; i++)
		pump(e);
	CHECK(resp_next(e, 0, 1, &r));
	CHECK(broker_conn_idle(e->c[0].kc));
	env_free(e);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("shard_partitions_led_by_one_shard_metadata_leaders", t_partitions_led_by_one_shard);
	kt_add("shard_owner_is_topic_plus_partition_mod_shards", t_owner_function);
	kt_add("shard_txn_commit_abort_markers_written_by_the_other_shard", t_txn_across_shards);
	kt_add("shard_txn_fencing_aborts_on_the_other_shard", t_txn_fencing_across_shards);
	kt_add("shard_txn_lost_message_sent_again_after_timeout", t_txn_lost_message_sent_again);
	kt_add("shard_txn_crash_after_prepare_other_shard_marks_on_restart", t_crash_after_prepare);
	kt_add("shard_txn_crash_after_other_shard_marker_no_second_marker",
	       t_crash_after_remote_marker);
	kt_add("shard_txn_crash_open_txn_other_shard_told_again",
	       t_crash_open_txn_leaders_told_again);
	kt_add("shard_conn_idle_follows_response_queue", t_conn_idle);
	return kt_main(NULL, 0, argc, argv);
}
