/* Transaction tests: byte layouts of every advertised version of
 * InitProducerId (transactional), AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit and FindCoordinator key type 1; commit and
 * abort with markers, LSO and aborted lists in read_committed fetches;
 * fencing; the timeout abort of a vanished producer; offsets committed
 * with the transaction; recovery of a commit cut by a crash at each of
 * its fault points. */
#include "tbroker.h"

/* ---- raw requests with hand-written bytes ---- */

/* Send key/ver with body bytes; header v2 (tag buffer) when flex. */
static void raw_req(struct env *e, int16_t key, int16_t ver, int32_t corr, bool flex,
                    const uint8_t *body, uint32_t n)
{
	struct kw w;

	req_begin(&w, key, ver, corr);
	if (flex)
		kw_i8(&w, 0);
	kw_raw(&w, body, n);
	req_send(e, 0, &w);
}

/* The response body after correlation id (and header tags when flex)
 * equals exp. */
static bool raw_resp_is(struct env *e, int32_t corr, bool flex, const uint8_t *exp, uint32_t n)
{
	struct kr r;

	if (!tb_answer(e, corr, &r))
		return false;
	if (flex && kr_i8(&r) != 0)
		return false;
	if (r.n - r.off != n || memcmp(r.p + r.off, exp, n)) {
		fprintf(stderr, "  response (%u bytes):", r.n - r.off);
		for (uint32_t i = r.off; i < r.n; i++)
			fprintf(stderr, " %02x", r.p[i]);
		fprintf(stderr, "\n");
		return false;
	}
	return true;
}

/* ---- typed helpers (non-flexible v1/v2 where not said) ---- */

static int16_t add_offs(struct env *e, int32_t corr, const char *id, int64_t pid, int16_t epoch,
                        const char *group)
{
	struct kw w;

	req_begin(&w, API_ADD_OFFS_TXN, 2, corr);
	kw_str(&w, id, (int32_t)strlen(id));
	kw_i64(&w, pid);
	kw_i16(&w, epoch);
	kw_str(&w, group, (int32_t)strlen(group));
	req_send(e, 0, &w);
	return plain_err(e, corr);
}

static int16_t txn_commit_off(struct env *e, int32_t corr, const char *id, const char *group,
                              int64_t pid, int16_t epoch, int32_t part, int64_t off)
{
	struct kw w;

	req_begin(&w, API_TXN_OFFSET_COMMIT, 2, corr);
	kw_str(&w, id, (int32_t)strlen(id));
	kw_str(&w, group, (int32_t)strlen(group));
	kw_i64(&w, pid);
	kw_i16(&w, epoch);
	kw_i32(&w, 1);
	kw_str(&w, "src", 3);
	kw_i32(&w, 1);
	kw_i32(&w, part);
	kw_i64(&w, off);
	kw_i32(&w, -1);
	kw_str(&w, "m", 1);
	req_send(e, 0, &w);
	return tb_part_err(e, corr, part);
}

/* Committed offset of group for src/part (OffsetFetch v1), -1 if none. */
static int64_t committed(struct env *e, int32_t corr, const char *group, int32_t part)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	req_begin(&w, API_OFFSET_FETCH, 1, corr);
	kw_str(&w, group, (int32_t)strlen(group));
	kw_i32(&w, 1);
	kw_str(&w, "src", 3);
	kw_i32(&w, 1);
	kw_i32(&w, part);
	req_send(e, 0, &w);
	if (!tb_answer(e, corr, &r))
		return -100;
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == part);
	return kr_i64(&r);
}

/* ListOffsets v2 latest (-1) of t/0 with isolation iso. */
static int64_t list_latest(struct env *e, int32_t corr, int8_t iso)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	req_begin(&w, API_LIST_OFFSETS, 2, corr);
	kw_i32(&w, -1);
	kw_i8(&w, iso);
	kw_i32(&w, 1);
	kw_str(&w, "t", 1);
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	kw_i64(&w, -1);
	req_send(e, 0, &w);
	if (!tb_answer(e, corr, &r))
		return -100;
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == 0 && kr_i16(&r) == 0);
	(void)kr_i64(&r);
	return kr_i64(&r);
}

static void topics(struct env *e)
{
	struct kr r;

	metadata_req(e, 0, 900, "t", true);
	CHECK(tb_answer(e, 900, &r));
	metadata_req(e, 0, 901, "src", true);
	CHECK(tb_answer(e, 901, &r));
}

/* ---- layouts ---- */

static void t_layouts(void)
{
	struct env *e = env_new();
	int32_t corr = 10;

	topics(e);
	/* FindCoordinator v1 key type 1 (transaction): this node */
	{
		static const uint8_t req[] = {0, 2, 'i', 'd', 1};
		static const uint8_t exp[] = {0,   0,   0,   0,   0,   0,   0xff, 0xff, 0,
		                              0,   0,   1,   0,   9,   '1', '2',  '7',  '.',
		                              '0', '.', '0', '.', '1', 0,   0,    0x23, 0x84};
		raw_req(e, API_FIND_COORD, 1, ++corr, false, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, false, exp, sizeof(exp)));
	}
	/* InitProducerId v0-v1 with a transactional id: id "a", timeout 60 s
	 * -> throttle, error 0, producer id 0, epoch 0 (first use) */
	{
		static const uint8_t req[] = {0, 1, 'a', 0, 0, 0xea, 0x60};
		static const uint8_t exp[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
		raw_req(e, API_INIT_PID, 0, ++corr, false, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, false, exp, sizeof(exp)));
	}
	/* v2 (flexible): compact string, tags; same id -> epoch 1 */
	{
		static const uint8_t req[] = {2, 'a', 0, 0, 0xea, 0x60, 0};
		static const uint8_t exp[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
		raw_req(e, API_INIT_PID, 2, ++corr, true, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, true, exp, sizeof(exp)));
	}
	/* v3/v4: KIP-360 id and epoch; the current ones (0, 1) bump to 2 */
	for (int16_t v = 3; v <= 4; v++) {
		uint8_t req[] = {
		    2, 'a', 0, 0, 0xea, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(v - 2), 0};
		uint8_t exp[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (uint8_t)(v - 1), 0};
		raw_req(e, API_INIT_PID, v, ++corr, true, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, true, exp, sizeof(exp)));
	}
	/* v3 naming a stale epoch: PRODUCER_FENCED (90) */
	{
		static const uint8_t req[] = {2, 'a', 0, 0, 0xea, 0x60, 0, 0, 0,
		                              0, 0,   0, 0, 0,    0,    0, 0};
		static const uint8_t exp[] = {0,    0,    0,    0,    0,    90,   0xff, 0xff, 0xff,
		                              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
		raw_req(e, API_INIT_PID, 3, ++corr, true, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, true, exp, sizeof(exp)));
	}
	/* producer id 0 epoch 3 from here on; AddPartitionsToTxn v0-v2
	 * (same layout): "a", pid 0, epoch 3, [t: [0]] -> [t: [0, err 0]] */
	for (int16_t v = 0; v <= 2; v++) {
		static const uint8_t req[] = {0, 1, 'a', 0, 0, 0,   0, 0, 0, 0, 0, 0, 3, 0,
		                              0, 0, 1,   0, 1, 't', 0, 0, 0, 1, 0, 0, 0, 0};
		static const uint8_t exp[] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 't',
		                              0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
		raw_req(e, API_ADD_PARTS_TXN, v, ++corr, false, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, false, exp, sizeof(exp)));
	}
	/* v3 flexible; an unknown partition fails the request: t/9 gets 3,
	 * t/1 OPERATION_NOT_ATTEMPTED (55) */
	{
		static const uint8_t req[] = {2, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2,
		                              2, 't', 3, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0};
		static const uint8_t exp[] = {0, 0,  0, 0, 2, 2, 't', 3, 0, 0, 0, 1,
		                              0, 55, 0, 0, 0, 0, 9,   0, 3, 0, 0, 0};
		raw_req(e, API_ADD_PARTS_TXN, 3, ++corr, true, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, true, exp, sizeof(exp)));
	}
	/* AddOffsetsToTxn v0-v2: "a", pid 0, epoch 3, group "g" */
	for (int16_t v = 0; v <= 2; v++) {
		static const uint8_t req[] = {0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 'g'};
		static const uint8_t exp[] = {0, 0, 0, 0, 0, 0};
		raw_req(e, API_ADD_OFFS_TXN, v, ++corr, false, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, false, exp, sizeof(exp)));
	}
	{
		static const uint8_t req[] = {2, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 2, 'g', 0};
		static const uint8_t exp[] = {0, 0, 0, 0, 0, 0, 0};
		raw_req(e, API_ADD_OFFS_TXN, 3, ++corr, true, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, true, exp, sizeof(exp)));
	}
	/* TxnOffsetCommit v0/v1: "a", "g", pid 0, epoch 3, [src: [0, 5, "m"]] */
	for (int16_t v = 0; v <= 1; v++) {
		static const uint8_t req[] = {
		    0,   1,   'a', 0, 1, 'g', 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 3,
		    's', 'r', 'c', 0, 0, 0,   1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 'm'};
		static const uint8_t exp[] = {0,   0, 0, 0, 0, 0, 0, 1, 0, 3, 's', 'r',
		                              'c', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
		raw_req(e, API_TXN_OFFSET_COMMIT, v, ++corr, false, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, false, exp, sizeof(exp)));
	}
	/* v2: committed leader epoch after the offset */
	{
		static const uint8_t req[] = {
		    0, 1, 'a', 0, 1, 'g', 0,   0,   0,   0,    0,    0,    0,    0, 0, 3,
		    0, 0, 0,   1, 0, 3,   's', 'r', 'c', 0,    0,    0,    1,    0, 0, 0,
		    0, 0, 0,   0, 0, 0,   0,   0,   6,   0xff, 0xff, 0xff, 0xff, 0, 1, 'm'};
		static const uint8_t exp[] = {0,   0, 0, 0, 0, 0, 0, 1, 0, 3, 's', 'r',
		                              'c', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
		raw_req(e, API_TXN_OFFSET_COMMIT, 2, ++corr, false, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, false, exp, sizeof(exp)));
	}
	/* v3 flexible: generation -1, member "", instance null */
	{
		static const uint8_t req[] = {
		    2,    'a',  2, 'g', 0, 0, 0,    0,    0,    0,    0, 0,   0, 3, 0xff, 0xff,
		    0xff, 0xff, 1, 0,   2, 4, 's',  'r',  'c',  2,    0, 0,   0, 0, 0,    0,
		    0,    0,    0, 0,   0, 7, 0xff, 0xff, 0xff, 0xff, 2, 'm', 0, 0, 0};
		static const uint8_t exp[] = {0, 0, 0, 0, 2, 4, 's', 'r', 'c', 2,
		                              0, 0, 0, 0, 0, 0, 0,   0,   0};
		raw_req(e, API_TXN_OFFSET_COMMIT, 3, ++corr, true, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, true, exp, sizeof(exp)));
	}
	/* EndTxn v0-v2 abort with a wrong epoch: fenced (47 before v2, 90
	 * from v2); then v3 commit with the right one succeeds */
	for (int16_t v = 0; v <= 2; v++) {
		static const uint8_t req[] = {0, 1, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0};
		uint8_t exp[] = {0, 0, 0, 0, 0, (uint8_t)(v >= 2 ? 90 : 47)};
		raw_req(e, API_END_TXN, v, ++corr, false, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, false, exp, sizeof(exp)));
	}
	{
		static const uint8_t req[] = {2, 'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 0};
		static const uint8_t exp[] = {0, 0, 0, 0, 0, 0, 0};
		raw_req(e, API_END_TXN, 3, ++corr, true, req, sizeof(req));
		CHECK(raw_resp_is(e, corr, true, exp, sizeof(exp)));
	}
	/* the committed offset is now the group's (7: the last one sent) */
	CHECK(committed(e, ++corr, "g", 0) == 7);
	env_free(e);
}

/* Bad input: malformed requests close the connection; bad values get
 * Kafka's codes and change nothing. */
static void t_bad_input(void)
{
	struct env *e = env_new();
	int64_t pid = -1, base = -1;
	int16_t epoch = -1;
	uint8_t b[81];

	topics(e);
	CHECK(tb_init_pid(e, 1, 1, "", 60000, &pid, &epoch) == KERR_INVALID_REQUEST);
	CHECK(tb_init_pid(e, 2, 1, "x", 0, &pid, &epoch) == KERR_INVALID_TXN_TIMEOUT);
	CHECK(tb_init_pid(e, 3, 1, "x", 900001, &pid, &epoch) == KERR_INVALID_TXN_TIMEOUT);
	CHECK(tb_init_pid(e, 4, 1, "x", 60000, &pid, &epoch) == 0 && epoch == 0);
	/* unknown transactional id, wrong producer id */
	CHECK(add_part(e, 5, "nope", pid, epoch, "t", 0) == KERR_INVALID_PID_MAPPING);
	CHECK(add_part(e, 6, "x", pid + 7, epoch, "t", 0) == KERR_INVALID_PID_MAPPING);
	CHECK(end_txn(e, 7, "x", pid, epoch, true) == KERR_INVALID_TXN_STATE); /* nothing open */
	/* transactional data to a partition not in the transaction */
	CHECK(produce_txn(e, 8, "t", 0, pid, epoch, 0, &base) == KERR_INVALID_TXN_STATE);
	/* a control batch from a client; a transactional one without an id */
	memcpy(b, example_batch, 81);
	b[22] |= 0x30;
	uint32_t crc = store_crc32c(0, b + 21, 81 - 21);
	for (int i = 0; i < 4; i++)
		b[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
	CHECK(tb_produce(e, 9, "t", 0, b, 81, &base) == KERR_INVALID_RECORD);
	tb_batch(b, -1, -1, -1, true);
	CHECK(tb_produce(e, 10, "t", 0, b, 81, &base) == KERR_INVALID_RECORD);
	CHECK(store_part_end(tpart(e, "t", 0)) == 0);
	/* TxnOffsetCommit for a group not added */
	CHECK(add_part(e, 11, "x", pid, epoch, "t", 0) == 0);
	CHECK(txn_commit_off(e, 12, "x", "g", pid, epoch, 0, 3) == KERR_INVALID_TXN_STATE);
	/* truncated AddPartitionsToTxn: the connection closes */
	{
		static const uint8_t req[] = {0, 1, 'x', 0, 0, 0, 0};
		raw_req(e, API_ADD_PARTS_TXN, 0, 13, false, req, sizeof(req));
		pump(e);
		CHECK(e->c[0].closed);
	}
	env_free(e);
}

/* Commit and abort: markers, LSO, aborted lists, what each isolation
 * level sees. */
static void t_commit_abort_fetch(void)
{
	struct env *e = env_new();
	int64_t pid = -1, base = -1;
	int16_t epoch = -1;
	struct fres f;

	topics(e);
	CHECK(tb_init_pid(e, 1, 1, "tx", 60000, &pid, &epoch) == 0);
	/* an aborted transaction: offsets 0 (data), 1 (abort marker) */
	CHECK(add_part(e, 2, "tx", pid, epoch, "t", 0) == 0);
	CHECK(produce_txn(e, 3, "t", 0, pid, epoch, 0, &base) == 0 && base == 0);
	pump(e);
	f = fetch_iso(e, 4, "t", 0, 0, 1);
	CHECK(f.err == 0 && f.hwm == 1 && f.lso == 0 && f.nbatches == 0);
	f = fetch_iso(e, 5, "t", 0, 0, 0);
	CHECK(f.err == 0 && f.hwm == 1 && f.lso == 0 && f.nbatches == 1);
	CHECK(list_latest(e, 50, 1) == 0 && list_latest(e, 51, 0) == 1);
	CHECK(end_txn(e, 6, "tx", pid, epoch, false) == 0);
	CHECK(end_txn(e, 7, "tx", pid, epoch, false) == 0); /* a retry */
	CHECK(end_txn(e, 8, "tx", pid, epoch, true) == KERR_INVALID_TXN_STATE);
	f = fetch_iso(e, 9, "t", 0, 0, 1);
	CHECK(f.hwm == 2 && f.lso == 2 && f.nbatches == 2 && f.nctrl == 1);
	CHECK(f.naborted == 1 && f.ab_pid[0] == pid && f.ab_first[0] == 0);
	/* a committed one: offsets 2 (data), 3 (commit marker) */
	CHECK(add_part(e, 10, "tx", pid, epoch, "t", 0) == 0);
	CHECK(produce_txn(e, 11, "t", 0, pid, epoch, 1, &base) == 0 && base == 2);
	pump(e);
	f = fetch_iso(e, 12, "t", 0, 2, 1);
	CHECK(f.lso == 2 && f.nbatches == 0);
	fault_calls = 0;
	CHECK(end_txn(e, 13, "tx", pid, epoch, true) == 0);
	CHECK(fault_calls == 2); /* prepared, first marker */
	f = fetch_iso(e, 14, "t", 0, 2, 1);
	CHECK(f.hwm == 4 && f.lso == 4 && f.nbatches == 2 && f.nctrl == 1 && f.naborted == 0);
	/* the aborted range is still reported to a fetch from 0 */
	f = fetch_iso(e, 15, "t", 0, 0, 1);
	CHECK(f.nbatches == 4 && f.naborted == 1);
	/* a restart rebuilds the partition state from the stored batches */
	env_restart(e);
	f = fetch_iso(e, 16, "t", 0, 0, 1);
	CHECK(f.hwm == 4 && f.lso == 4 && f.naborted == 1 && f.ab_first[0] == 0);
	/* and the coordinator state from the metadata log */
	CHECK(add_part(e, 17, "tx", pid, epoch, "t", 1) == 0);
	CHECK(produce_txn(e, 18, "t", 1, pid, epoch, 0, &base) == 0);
	pump(e);
	f = fetch_iso(e, 19, "t", 1, 0, 1);
	CHECK(f.hwm == 1 && f.lso == 0);
	env_restart(e); /* open: LSO stays at its first offset */
	f = fetch_iso(e, 20, "t", 1, 0, 1);
	CHECK(f.hwm == 1 && f.lso == 0 && f.nbatches == 0);
	CHECK(end_txn(e, 21, "tx", pid, epoch, true) == 0);
	f = fetch_iso(e, 22, "t", 1, 0, 1);
	CHECK(f.lso == 2 && f.nbatches == 2);
	env_free(e);
}

/* A second producer with the same transactional id fences the first and
 * aborts its open transaction; the first one's writes and end fail. */
static void t_fencing(void)
{
	struct env *e = env_new();
	int64_t pid = -1, pid2 = -1, base = -1;
	int16_t epoch = -1, epoch2 = -1;
	struct fres f;

	topics(e);
	CHECK(tb_init_pid(e, 1, 1, "tx", 60000, &pid, &epoch) == 0);
	CHECK(add_part(e, 2, "tx", pid, epoch, "t", 0) == 0);
	CHECK(produce_txn(e, 3, "t", 0, pid, epoch, 0, &base) == 0);
	CHECK(tb_init_pid(e, 4, 1, "tx", 60000, &pid2, &epoch2) == 0 && pid2 == pid &&
	      epoch2 > epoch);
	CHECK(produce_txn(e, 5, "t", 0, pid, epoch, 1, &base) == KERR_INVALID_EPOCH);
	CHECK(add_part(e, 6, "tx", pid, epoch, "t", 1) == KERR_PRODUCER_FENCED);
	CHECK(end_txn(e, 7, "tx", pid, epoch, true) == KERR_PRODUCER_FENCED);
	f = fetch_iso(e, 8, "t", 0, 0, 1);
	CHECK(f.lso == 2 && f.naborted == 1 && f.ab_pid[0] == pid);
	/* the new producer works */
	CHECK(add_part(e, 9, "tx", pid2, epoch2, "t", 0) == 0);
	CHECK(produce_txn(e, 10, "t", 0, pid2, epoch2, 0, &base) == 0 && base == 2);
	CHECK(end_txn(e, 11, "tx", pid2, epoch2, true) == 0);
	f = fetch_iso(e, 12, "t", 0, 2, 1);
	CHECK(f.lso == 4 && f.nbatches == 2);
	env_free(e);
}

/* A producer that vanished: its transaction aborts after its timeout. */
static void t_timeout_abort(void)
{
	struct env *e = env_new();
	int64_t pid = -1, base = -1;
	int16_t epoch = -1;
	struct fres f;

	topics(e);
	CHECK(tb_init_pid(e, 1, 1, "tx", 5000, &pid, &epoch) == 0);
	CHECK(add_part(e, 2, "tx", pid, epoch, "t", 0) == 0);
	CHECK(produce_txn(e, 3, "t", 0, pid, epoch, 0, &base) == 0);
	t_clock += 4000;
	pump(e);
	f = fetch_iso(e, 4, "t", 0, 0, 1);
	CHECK(f.lso == 0);
	t_clock += 1500;
	pump(e);
	f = fetch_iso(e, 5, "t", 0, 0, 1);
	CHECK(f.lso == 2 && f.hwm == 2 && f.naborted == 1);
	/* the vanished producer is fenced */
	CHECK(end_txn(e, 6, "tx", pid, epoch, true) == KERR_PRODUCER_FENCED);
	env_free(e);
}

/* Offsets sent with a transaction become the group's on commit only. */
static void t_offsets(void)
{
	struct env *e = env_new();
	int64_t pid = -1;
	int16_t epoch = -1;

	topics(e);
	CHECK(tb_init_pid(e, 1, 1, "tx", 60000, &pid, &epoch) == 0);
	CHECK(add_offs(e, 2, "tx", pid, epoch, "grp") == 0);
	CHECK(txn_commit_off(e, 3, "tx", "grp", pid, epoch, 1, 40) == 0);
	CHECK(committed(e, 4, "grp", 1) == -1);
	CHECK(end_txn(e, 5, "tx", pid, epoch, false) == 0);
	CHECK(committed(e, 6, "grp", 1) == -1);
	CHECK(add_offs(e, 7, "tx", pid, epoch, "grp") == 0);
	CHECK(txn_commit_off(e, 8, "tx", "grp", pid, epoch, 1, 41) == 0);
	CHECK(end_txn(e, 9, "tx", pid, epoch, true) == 0);
	CHECK(committed(e, 10, "grp", 1) == 41);
	env_restart(e);
	CHECK(committed(e, 11, "grp", 1) == 41);
	env_free(e);
}

/* ---- crash in the middle of a commit ---- */

static const char *crash_at;
static uint8_t *crash_img;
static struct memdev *crash_dev;

/* At the chosen fault point, keep what a kill -9 there would leave on
 * the device: everything written so far (flushed or not). */
static void snap_fault(void *ctx, const char *point)
{
	(void)ctx;
	if (crash_at && !strcmp(point, crash_at) && !crash_img) {
		crash_img = malloc(crash_dev->blocks * STORE_BLOCK);
		memcpy(crash_img, crash_dev->cur, crash_dev->blocks * STORE_BLOCK);
	}
}

/* Restart e from the crash image. */
static void env_from_crash(struct env *e)
{
	broker_destroy(e->b);
	store_close(e->st);
	memcpy(e->d->cur, crash_img, e->d->blocks * STORE_BLOCK);
	memcpy(e->d->dur, crash_img, e->d->blocks * STORE_BLOCK);
	md_drop_log(e->d);
	free(crash_img);
	crash_img = NULL;
	env_open(e);
}

/* A commit over two partitions (and offsets) cut at point: after the
 * restart both partitions show the data committed, with one marker
 * each, and the offsets are committed. Cut before the PREPARE record
 * (point NULL: the crash image is taken after the data only), the
 * transaction stays open and its timeout aborts it. */
static void crash_case(const char *point)
{
	struct env *e = env_new();
	int64_t pid = -1, base = -1;
	int16_t epoch = -1;
	struct fres f0, f1;

	crash_dev = e->d;
	e->b->pl.fault = snap_fault;
	topics(e);
	CHECK(tb_init_pid(e, 1, 1, "tx", 10000, &pid, &epoch) == 0);
	CHECK(add_part(e, 2, "tx", pid, epoch, "t", 0) == 0);
	CHECK(add_part(e, 3, "tx", pid, epoch, "t", 1) == 0);
	CHECK(add_offs(e, 4, "tx", pid, epoch, "grp") == 0);
	CHECK(txn_commit_off(e, 5, "tx", "grp", pid, epoch, 0, 9) == 0);
	CHECK(produce_txn(e, 6, "t", 0, pid, epoch, 0, &base) == 0);
	CHECK(produce_txn(e, 7, "t", 1, pid, epoch, 0, &base) == 0);
	pump(e);
	crash_at = point;
	if (!point) {
		crash_img = malloc(e->d->blocks * STORE_BLOCK);
		memcpy(crash_img, e->d->cur, e->d->blocks * STORE_BLOCK);
	}
	CHECK(end_txn(e, 8, "tx", pid, epoch, true) == 0);
	CHECK(crash_img != NULL);
	crash_at = NULL;
	env_from_crash(e);
	pump(e); /* the recovered markers go out with the first loop turn */
	if (!point) {
		f0 = fetch_iso(e, 9, "t", 0, 0, 1);
		CHECK(f0.hwm == 1 && f0.lso == 0);
		t_clock += 11000;
		pump(e);
	}
	f0 = fetch_iso(e, 10, "t", 0, 0, 1);
	f1 = fetch_iso(e, 11, "t", 1, 0, 1);
	CHECK(f0.hwm == 2 && f0.lso == 2 && f0.nctrl == 1 && f0.nbatches == 2);
	CHECK(f1.hwm == 2 && f1.lso == 2 && f1.nctrl == 1 && f1.nbatches == 2);
	CHECK(f0.naborted == (point ? 0 : 1) && f1.naborted == (point ? 0 : 1));
	CHECK(committed(e, 12, "grp", 0) == (point ? 9 : -1));
	/* and it stays so across a clean restart (no marker written twice) */
	env_restart(e);
	f0 = fetch_iso(e, 13, "t", 0, 0, 1);
	if (f0.nctrl != 1)
		fprintf(stderr, "  after restart: hwm %lld lso %lld batches %d ctrl %d\n",
		        (long long)f0.hwm, (long long)f0.lso, f0.nbatches, f0.nctrl);
	CHECK(f0.hwm == 2 && f0.lso == 2 && f0.nctrl == 1);
	env_free(e);
}

static void t_crash_prepared(void)
{
	crash_case("txn-prepared");
}

static void t_crash_marker(void)
{
	crash_case("txn-marker");
}

static void t_crash_before_prepare(void)
{
	crash_case(NULL);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("txn_layouts_every_advertised_version", t_layouts);
	kt_add("txn_bad_input_kafka_errors_nothing_stored", t_bad_input);
	kt_add("txn_commit_abort_markers_lso_aborted_list", t_commit_abort_fetch);
	kt_add("txn_fencing_same_transactional_id", t_fencing);
	kt_add("txn_vanished_producer_times_out_and_aborts", t_timeout_abort);
	kt_add("txn_offsets_committed_with_the_transaction", t_offsets);
	kt_add("txn_crash_after_prepare_recovers_committed", t_crash_prepared);
	kt_add("txn_crash_after_first_marker_recovers_committed", t_crash_marker);
	kt_add("txn_crash_before_prepare_times_out_aborted", t_crash_before_prepare);
	return kt_main(NULL, 0, argc, argv);
}
