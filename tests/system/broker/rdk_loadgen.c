/* rdk_loadgen: librdkafka load generator for make bench.
 *   rdk_loadgen produce BROKER TOPIC N SIZE ACKS [idempotent|inflight5|transactional]
 *       throughput; idempotent: enable.idempotence=true (needs ACKS -1,
 *       and librdkafka then keeps at most 5 requests in flight);
 *       inflight5: plain, but max.in.flight=5 like an idempotent one;
 *       transactional: a transactional.id, transactions of TXN_RECORDS
 *       records each, every one committed
 *   rdk_loadgen consume BROKER TOPIC N             throughput from offset 0 (records
 *       taken from librdkafka's queue in batches)
 *   rdk_loadgen latency BROKER TOPIC N SIZE ACKS   one record in flight at
 *       a time (linger.ms=0); delivery-report latency percentiles
 * Prints one line of key=value results. */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TXN_RECORDS   10000
#define CONSUME_BATCH 4096
#define PRODUCE_BATCH 1024

static long done_ok, done_err;
static double last_dr;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *o)
{
	(void)rk;
	(void)o;
	if (m->err)
		done_err++;
	else
		done_ok++;
	last_dr = now_s();
}

static void txn_ok(rd_kafka_error_t *e, const char *what)
{
	if (e) {
		fprintf(stderr, "%s: %s\n", what, rd_kafka_error_string(e));
		exit(1);
	}
}

static rd_kafka_t *producer(const char *broker, const char *acks, const char *linger,
                            const char *mode)
{
	bool txn = !strcmp(mode, "transactional");
	const char *idem = !strcmp(mode, "idempotent") || txn ? "true" : "false";
	const char *inflight = mode[0] ? "5" : "1000000";
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	if (rd_kafka_conf_set(c, "bootstrap.servers", broker, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "acks", acks, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "linger.ms", linger, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "queue.buffering.max.messages", "500000", err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "enable.idempotence", idem, err, sizeof(err)) ||
	    rd_kafka_conf_set(c, "max.in.flight", inflight, err, sizeof(err))) {
		fprintf(stderr, "conf: %s\n", err);
		exit(2);
	}
	if (txn) {
		char id[64];
		snprintf(id, sizeof(id), "loadgen-%ld", (long)getpid());
		if (rd_kafka_conf_set(c, "transactional.id", id, err, sizeof(err))) {
			fprintf(stderr, "conf: %s\n", err);
			exit(2);
		}
	}
	rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "new: %s\n", err);
		exit(2);
	}
	if (txn)
		txn_ok(rd_kafka_init_transactions(rk, 30000), "init");
	return rk;
}

static void send_one(rd_kafka_t *rk, const char *topic, char *buf, long size)
{
	while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, (size_t)size),
	                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(rk, 1);
}

/* n copies of buf, PRODUCE_BATCH per librdkafka call (one queue lock and
 * wake-up per batch instead of per record); the records are identical, so
 * those a full queue refused are simply offered again. */
static void send_many(rd_kafka_t *rk, const char *topic, char *buf, long size, long n)
{
	static rd_kafka_message_t ms[PRODUCE_BATCH];
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

	while (n > 0) {
		int k = n < PRODUCE_BATCH ? (int)n : PRODUCE_BATCH;
		for (int j = 0; j < k; j++)
			ms[j] = (rd_kafka_message_t){.payload = buf, .len = (size_t)size};
		int sent =
		    rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, ms, k);
		n -= sent > 0 ? sent : 0;
		rd_kafka_poll(rk, sent < k ? 1 : 0);
	}
	rd_kafka_topic_destroy(rkt);
}

/* Warm up (topic creation, connections) with one delivered record. */
static void warm(rd_kafka_t *rk, const char *topic, char *buf, long size, bool txn)
{
	if (txn)
		txn_ok(rd_kafka_begin_transaction(rk), "begin");
	send_one(rk, topic, buf, size);
	if (txn)
		txn_ok(rd_kafka_commit_transaction(rk, 30000), "commit");
	rd_kafka_flush(rk, 30000);
	done_ok = done_err = 0;
}

static int produce(char **a)
{
	long n = atol(a[4]), size = atol(a[5]);
	char *buf = malloc((size_t)size);
	for (long i = 0; i < size; i++)
		buf[i] = (char)(i * 131 + 7);
	bool txn = a[7] && !strcmp(a[7], "transactional");
	rd_kafka_t *rk = producer(a[2], a[6], "5", a[7] ? a[7] : "");
	warm(rk, a[3], buf, size, txn);
	double t0 = now_s();
	if (!txn) {
		send_many(rk, a[3], buf, size, n);
		n = 0;
	}
	for (long i = 0; i < n; i++) {
		if (txn && i % TXN_RECORDS == 0)
			txn_ok(rd_kafka_begin_transaction(rk), "begin");
		send_one(rk, a[3], buf, size);
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
		if (txn && (i % TXN_RECORDS == TXN_RECORDS - 1 || i == n - 1))
			txn_ok(rd_kafka_commit_transaction(rk, 120000), "commit");
	}
	rd_kafka_flush(rk, 120000);
	double dt = (txn ? now_s() : last_dr) - t0;
	printf("records=%ld errors=%ld seconds=%.3f rps=%.0f mbps=%.2f\n", done_ok, done_err, dt,
	       done_ok / dt, done_ok * (double)size / dt / 1e6);
	rd_kafka_destroy(rk);
	free(buf);
	return done_err ? 1 : 0;
}

static int cmp_d(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static int latency(char **a)
{
	long n = atol(a[4]), size = atol(a[5]);
	char *buf = calloc(1, (size_t)size);
	double *lat = calloc((size_t)n, sizeof(double));
	if (!buf || !lat || n < 1) {
		fprintf(stderr, "latency: bad count or out of memory\n");
		free(buf);
		free(lat);
		return 1;
	}
	rd_kafka_t *rk = producer(a[2], a[6], "0", "");
	warm(rk, a[3], buf, size, false);
	for (long i = 0; i < n; i++) {
		long before = done_ok + done_err;
		double t0 = now_s();
		send_one(rk, a[3], buf, size);
		while (done_ok + done_err == before)
			rd_kafka_poll(rk, 1);
		lat[i] = (last_dr - t0) * 1e6;
	}
	qsort(lat, (size_t)n, sizeof(double), cmp_d);
	printf("records=%ld errors=%ld p50_us=%.0f p99_us=%.0f\n", done_ok, done_err, lat[n / 2],
	       lat[n * 99 / 100]);
	rd_kafka_destroy(rk);
	free(lat);
	free(buf);
	return done_err ? 1 : 0;
}

static int consume(char **a)
{
	long n = atol(a[4]), got = 0;
	double bytes = 0;
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", a[2], err, sizeof(err));
	rd_kafka_conf_set(c, "group.id", "loadgen", err, sizeof(err));
	rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, a[3], NULL);
	if (!rk || rd_kafka_metadata(rk, 0, t, &md, 10000) || md->topics[0].err)
		return 2;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
	for (int p = 0; p < md->topics[0].partition_cnt; p++)
		rd_kafka_topic_partition_list_add(l, a[3], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	double t0 = now_s(), deadline = t0 + 120;
	rd_kafka_assign(rk, l);
	/* messages in batches from the consumer queue: one queue operation per
	 * batch instead of per record keeps the client from setting the pace */
	rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
	static rd_kafka_message_t *ms[CONSUME_BATCH];
	while (got < n && now_s() < deadline) {
		/* at most the records still wanted: a call returns when its batch is full (or after
		 * 100 ms), so asking for more than are left would add 100 ms to every phase (bug
		 * consume_waited_for_a_batch_past_its_end) */
		size_t want = n - got < CONSUME_BATCH ? (size_t)(n - got) : CONSUME_BATCH;
		ssize_t k = rd_kafka_consume_batch_queue(q, 100, ms, want);
		for (ssize_t i = 0; i < k; i++) {
			if (!ms[i]->err && got < n) { /* the first n, as one at a time */
				got++;
				bytes += (double)ms[i]->len;
			}
			rd_kafka_message_destroy(ms[i]);
		}
	}
	double dt = now_s() - t0;
	rd_kafka_queue_destroy(q);
	printf("records=%ld seconds=%.3f rps=%.0f mbps=%.2f\n", got, dt, got / dt,
	       bytes / dt / 1e6);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return got == n ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 7 && !strcmp(argv[1], "produce"))
		return produce(argv);
	if (argc >= 7 && !strcmp(argv[1], "latency"))
		return latency(argv);
	if (argc >= 5 && !strcmp(argv[1], "consume"))
		return consume(argv);
	fprintf(stderr, "usage: see the comment at the top of rdk_loadgen.c\n");
	return 2;
}
