/* Idempotent producer tests: InitProducerId layout and id allocation
 * across restarts; sequence checking, retries stored once (also after a
 * restart), gaps, unknown producers, fencing by epoch. */
#include "tbroker.h"

/* Produce v7 acks=-1 of copies batches (one blob) to "t" partition 0;
 * returns the error, *base the base offset. */
static int16_t produce_idem(struct env *e, int32_t corr, int64_t pid, int16_t epoch, int32_t seq,
                            int copies, int64_t *base)
{
	uint8_t b[81 * 2];

	for (int i = 0; i < copies; i++)
		tb_batch(b + 81 * i, pid, epoch, seq + i, false);
	return tb_produce(e, corr, "t", 0, b, 81u * (uint32_t)copies, base);
}

static void t_init_producer_id(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;
	int64_t pid;
	int16_t epoch;

	/* v0 response, exact bytes: throttle 0, error 0, id 0, epoch 0 */
	req_begin(&w, API_INIT_PID, 0, 1);
	kw_str(&w, NULL, -1);
	kw_i32(&w, 60000);
	req_send(e, 0, &w);
	CHECK(tb_answer(e, 1, &r));
	static const uint8_t v0[16] = {0};
	CHECK(r.n - r.off == 16 && !memcmp(r.p + r.off, v0, 16));
	CHECK(tb_init_pid(e, 2, 1, NULL, 60000, &pid, &epoch) == 0 && pid == 1 && epoch == 0);
	/* a transactional id gets an id of the same sequence (txn.c; its
	 * own tests are in test_txn.c) */
	CHECK(tb_init_pid(e, 3, 1, "txn-1", 60000, &pid, &epoch) == 0 && pid == 2 && epoch == 0);
	/* ids are never handed out twice, also across a restart */
	env_restart(e);
	CHECK(tb_init_pid(e, 4, 1, NULL, 60000, &pid, &epoch) == 0 && pid >= 3);
	env_free(e);
}

/* A retried batch is acknowledged with its first offset and stored once;
 * gaps, unknown producers and stale epochs are refused and store nothing. */
static void t_idempotent_sequences(void)
{
	struct env *e = env_new();
	struct kr r;
	int64_t pid, base;
	int16_t epoch;

	metadata_req(e, 0, 1, "t", true);
	CHECK(tb_answer(e, 1, &r));
	CHECK(tb_init_pid(e, 2, 1, NULL, 60000, &pid, &epoch) == 0);
	CHECK(produce_idem(e, 3, pid, 0, 0, 1, &base) == 0 && base == 0);
	CHECK(produce_idem(e, 4, pid, 0, 0, 1, &base) == 0 && base == 0);
	CHECK(store_part_end(tpart(e, "t", 0)) == 1);
	CHECK(produce_idem(e, 5, pid, 0, 1, 1, &base) == 0 && base == 1);
	CHECK(produce_idem(e, 6, pid, 0, 0, 1, &base) == 0 && base == 0);
	CHECK(produce_idem(e, 7, pid, 0, 3, 1, &base) == KERR_OUT_OF_ORDER);
	CHECK(store_part_end(tpart(e, "t", 0)) == 2);
	CHECK(produce_idem(e, 8, 999, 0, 5, 1, &base) == KERR_UNKNOWN_PRODUCER);
	CHECK(produce_idem(e, 9, pid, 0, 2, 2, &base) == KERR_INVALID_RECORD);
	CHECK(store_part_end(tpart(e, "t", 0)) == 2);
	/* a new epoch starts at sequence 0 and fences the old one */
	CHECK(produce_idem(e, 10, pid, 1, 4, 1, &base) == KERR_OUT_OF_ORDER);
	CHECK(produce_idem(e, 11, pid, 1, 0, 1, &base) == 0 && base == 2);
	CHECK(produce_idem(e, 12, pid, 0, 2, 1, &base) == KERR_INVALID_EPOCH);
	CHECK(produce_idem(e, 13, pid, 1, 1, 1, &base) == 0 && base == 3);
	/* the state is rebuilt from the log: a retry after a restart is
	 * still recognised, and the sequence continues */
	env_restart(e);
	CHECK(produce_idem(e, 14, pid, 1, 1, 1, &base) == 0 && base == 3);
	CHECK(store_part_end(tpart(e, "t", 0)) == 4);
	CHECK(produce_idem(e, 15, pid, 0, 5, 1, &base) == KERR_INVALID_EPOCH);
	CHECK(produce_idem(e, 16, pid, 1, 2, 1, &base) == 0 && base == 4);
	/* plain batches are not affected */
	produce_req(e, 0, 17, 1, "t", 0, 0);
	CHECK(tb_answer(e, 17, &r));
	CHECK(store_part_end(tpart(e, "t", 0)) == 6);
	env_free(e);
}

/* Only the last five batches are remembered (Kafka's window, matching
 * max.in.flight 5): an older retry is out of order, not a duplicate. */
static void t_idempotent_window(void)
{
	struct env *e = env_new();
	struct kr r;
	int64_t pid = -1, base;
	int16_t epoch;

	metadata_req(e, 0, 1, "t", true);
	CHECK(tb_answer(e, 1, &r));
	CHECK(tb_init_pid(e, 2, 1, NULL, 60000, &pid, &epoch) == 0);
	for (int32_t s = 0; s < 7; s++)
		CHECK(produce_idem(e, 3 + s, pid, 0, s, 1, &base) == 0 && base == s);
	CHECK(produce_idem(e, 10, pid, 0, 2, 1, &base) == 0 && base == 2);
	CHECK(produce_idem(e, 11, pid, 0, 1, 1, &base) == KERR_OUT_OF_ORDER);
	CHECK(store_part_end(tpart(e, "t", 0)) == 7);
	env_free(e);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("idem_init_producer_id_layout_and_unique_ids", t_init_producer_id);
	kt_add("idem_retry_stored_once_gaps_fencing_restart", t_idempotent_sequences);
	kt_add("idem_last_five_batches_window", t_idempotent_window);
	return kt_main(NULL, 0, argc, argv);
}
