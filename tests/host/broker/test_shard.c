/* One event loop per core, the core's side (docs/broker.md, "One event
 * loop per core"): two brokers as shards 0 and 1 of 2, each on its own
 * store, given the same topic-changing request as the host replicates
 * it; Metadata names one node per shard and each partition's leader;
 * only the leading shard takes a partition's Produce, Fetch and
 * ListOffsets (the other answers NOT_LEADER_OR_FOLLOWER); transactions
 * are refused; broker_conn_idle follows the response queue. */
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

static void t_txn_refused_with_shards(void)
{
	struct kw w;
	struct kr r;

	env_shards = 2;
	env_shard = 0;
	struct env *e = env_new();
	env_shards = 0;
	req_begin(&w, API_INIT_PID, 1, 5);
	kw_str(&w, "tx", 2);
	kw_i32(&w, 60000);
	req_send(e, 0, &w);
	CHECK(answer(e, 5, &r));
	CHECK(kr_i32(&r) == 0 && kr_i16(&r) == KERR_UNSUPPORTED_VERSION);
	/* without a transactional id: an idempotent producer id as usual */
	req_begin(&w, API_INIT_PID, 1, 6);
	kw_str(&w, NULL, -1);
	kw_i32(&w, 60000);
	req_send(e, 0, &w);
	CHECK(answer(e, 6, &r));
	CHECK(kr_i32(&r) == 0 && kr_i16(&r) == KERR_NONE && kr_i64(&r) >= 0);
	env_free(e);
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
	kt_add("shard_transactions_refused_with_several_shards", t_txn_refused_with_shards);
	kt_add("shard_conn_idle_follows_response_queue", t_conn_idle);
	return kt_main(NULL, 0, argc, argv);
}
