/* System test program: librdkafka transactions (Debian's librdkafka
 * 2.0.2) against the hosted broker. Prints "PASS <mode>" or
 * "FAIL <line>: <what>" (exit 1).
 *   rdk_txn HOST:PORT commit TOPIC TXNID N TAG [TIMEOUT_MS]
 *       one transaction of N records "TAG-i" (keys spread them over the
 *       partitions), committed. Exit 3 when the commit fails (crash tests
 *       accept that: what counts is what consumers see).
 *   rdk_txn HOST:PORT abort TOPIC TXNID N TAG      the same, aborted
 *   rdk_txn HOST:PORT hang TOPIC TXNID N TAG TIMEOUT_MS
 *       N records in a transaction, delivered, then the process exits
 *       without ending it (a vanished client)
 *   rdk_txn HOST:PORT fence TOPIC TXNID TAG
 *       producer A sends 10 records in a transaction; producer B with the
 *       same transactional.id initialises (fencing A) and commits 10
 *       records; A's commit must fail as fenced
 *   rdk_txn HOST:PORT consume TOPIC TIMEOUT_S [uncommitted]
 *       read_committed (default) consumer of every partition from the
 *       beginning until each reports EOF; prints one value per line
 *   rdk_txn HOST:PORT cpt SRC DST GROUP TXNID
 *       consume-transform-produce: a group consumer of SRC; each record
 *       goes to DST in one transaction with the consumed offsets
 *       (send_offsets_to_transaction); the group's committed offsets
 *       then follow the last record consumed of each partition */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

static const char *addr;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		printf("FAIL %d: ", __LINE__);                                                     \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		fflush(stdout);                                                                    \
		exit(1);                                                                           \
	} while (0)
#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FAIL(__VA_ARGS__);                                                         \
	} while (0)

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];

	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
		FAIL("conf %s=%s: %s", k, v, err);
}

static rd_kafka_t *make(rd_kafka_type_t type, rd_kafka_conf_t *c)
{
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));

	if (!rk)
		FAIL("rd_kafka_new: %s", err);
	return rk;
}

static rd_kafka_t *txn_producer(const char *txnid, const char *timeout_ms)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();

	set(c, "bootstrap.servers", addr);
	set(c, "transactional.id", txnid);
	set(c, "linger.ms", "5");
	if (timeout_ms)
		set(c, "transaction.timeout.ms", timeout_ms);
	return make(RD_KAFKA_PRODUCER, c);
}

/* Check an rd_kafka_error_t result (NULL = success). */
#define OK(call)                                                                                   \
	do {                                                                                       \
		rd_kafka_error_t *e_ = (call);                                                     \
		if (e_)                                                                            \
			FAIL("%s: %s", #call, rd_kafka_error_string(e_));                          \
	} while (0)

static void send_n(rd_kafka_t *p, const char *topic, int n, const char *tag)
{
	char val[64], key[32];

	for (int i = 0; i < n; i++) {
		snprintf(val, sizeof(val), "%s-%d", tag, i);
		snprintf(key, sizeof(key), "k%d", i);
		rd_kafka_resp_err_t err;
		while ((err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic),
		                                RD_KAFKA_V_VALUE(val, strlen(val)),
		                                RD_KAFKA_V_KEY(key, strlen(key)),
		                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                                RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(p, 10);
		EXPECT(!err, "produce: %s", rd_kafka_err2str(err));
		rd_kafka_poll(p, 0);
	}
}

static int mode_txn(const char *topic, const char *txnid, int n, const char *tag, bool commit,
                    const char *timeout)
{
	rd_kafka_t *p = txn_producer(txnid, timeout);

	OK(rd_kafka_init_transactions(p, 30000));
	OK(rd_kafka_begin_transaction(p));
	send_n(p, topic, n, tag);
	if (commit) {
		rd_kafka_error_t *e = rd_kafka_commit_transaction(p, 60000);
		if (e) {
			printf("commit failed: %s\n", rd_kafka_error_string(e));
			fflush(stdout);
			_exit(3);
		}
	} else {
		/* delivered first, so the aborted records are in the log */
		EXPECT(rd_kafka_flush(p, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR, "flush");
		OK(rd_kafka_abort_transaction(p, 30000));
	}
	rd_kafka_destroy(p);
	printf("PASS %s\n", commit ? "commit" : "abort");
	return 0;
}

static int mode_hang(const char *topic, const char *txnid, int n, const char *tag,
                     const char *timeout)
{
	rd_kafka_t *p = txn_producer(txnid, timeout);

	OK(rd_kafka_init_transactions(p, 30000));
	OK(rd_kafka_begin_transaction(p));
	send_n(p, topic, n, tag);
	EXPECT(rd_kafka_flush(p, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR, "flush");
	printf("PASS hang (exiting with the transaction open)\n");
	fflush(stdout);
	_exit(0);
}

static int mode_fence(const char *topic, const char *txnid, const char *tag)
{
	char ta[64], tb[64];
	rd_kafka_t *a = txn_producer(txnid, NULL), *b;
	rd_kafka_error_t *e;

	snprintf(ta, sizeof(ta), "%s-a", tag);
	snprintf(tb, sizeof(tb), "%s-b", tag);
	OK(rd_kafka_init_transactions(a, 30000));
	OK(rd_kafka_begin_transaction(a));
	send_n(a, topic, 10, ta);
	EXPECT(rd_kafka_flush(a, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR, "flush a");
	b = txn_producer(txnid, NULL);
	OK(rd_kafka_init_transactions(b, 30000));
	OK(rd_kafka_begin_transaction(b));
	send_n(b, topic, 10, tb);
	OK(rd_kafka_commit_transaction(b, 30000));
	/* A tries to go on: fenced */
	send_n(a, topic, 1, ta);
	e = rd_kafka_commit_transaction(a, 30000);
	EXPECT(e, "the fenced producer's commit succeeded");
	printf("fenced commit: %s (fatal %d)\n", rd_kafka_error_string(e),
	       rd_kafka_error_is_fatal(e));
	EXPECT(rd_kafka_error_is_fatal(e) || rd_kafka_error_txn_requires_abort(e),
	       "fenced commit error neither fatal nor abortable: %s", rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	rd_kafka_destroy(b);
	rd_kafka_destroy(a);
	printf("PASS fence\n");
	return 0;
}

/* Partition count of topic (from the cluster metadata). */
static int partitions(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	int n = -1;

	EXPECT(rd_kafka_metadata(rk, 0, t, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR, "metadata");
	if (md->topic_cnt == 1 && !md->topics[0].err)
		n = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	EXPECT(n > 0, "topic %s not found", topic);
	return n;
}

static int mode_consume(const char *topic, int timeout_s, bool committed)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l;
	int n, eof = 0;
	time_t end = time(NULL) + timeout_s;

	set(c, "bootstrap.servers", addr);
	set(c, "group.id", "rdk-txn-reader");
	set(c, "enable.partition.eof", "true");
	set(c, "isolation.level", committed ? "read_committed" : "read_uncommitted");
	rk = make(RD_KAFKA_CONSUMER, c);
	n = partitions(rk, topic);
	l = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
	EXPECT(!rd_kafka_assign(rk, l), "assign");
	rd_kafka_topic_partition_list_destroy(l);
	while (eof < n) {
		EXPECT(time(NULL) < end, "only %d of %d partitions reached their end", eof, n);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 500);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eof++;
		else if (m->err)
			FAIL("consume: %s", rd_kafka_message_errstr(m));
		else
			printf("%.*s\n", (int)m->len, (const char *)m->payload);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	printf("PASS consume\n");
	return 0;
}

static int mode_cpt(const char *src, const char *dst, const char *group, const char *txnid)
{
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_t *cons, *p;
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1), *offs;
	int got = 0, idle = 0;
	int64_t next[64];
	time_t end = time(NULL) + 60;

	set(c, "bootstrap.servers", addr);
	set(c, "group.id", group);
	set(c, "enable.auto.commit", "false");
	set(c, "auto.offset.reset", "earliest");
	cons = make(RD_KAFKA_CONSUMER, c);
	rd_kafka_poll_set_consumer(cons);
	for (int i = 0; i < 64; i++)
		next[i] = -1;
	rd_kafka_topic_partition_list_add(sub, src, RD_KAFKA_PARTITION_UA);
	EXPECT(!rd_kafka_subscribe(cons, sub), "subscribe");
	rd_kafka_topic_partition_list_destroy(sub);
	p = txn_producer(txnid, NULL);
	OK(rd_kafka_init_transactions(p, 30000));
	/* one transaction per poll batch until the source is drained */
	while (idle < 6) {
		EXPECT(time(NULL) < end, "timed out after %d records", got);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 500);
		if (!m) {
			idle += got > 0;
			continue;
		}
		if (m->err) {
			rd_kafka_message_destroy(m);
			continue;
		}
		idle = 0;
		OK(rd_kafka_begin_transaction(p));
		EXPECT(!rd_kafka_producev(p, RD_KAFKA_V_TOPIC(dst),
		                          RD_KAFKA_V_VALUE(m->payload, m->len),
		                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
		       "produce");
		offs = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(offs, src, m->partition)->offset = m->offset + 1;
		rd_kafka_consumer_group_metadata_t *cgm = rd_kafka_consumer_group_metadata(cons);
		OK(rd_kafka_send_offsets_to_transaction(p, offs, cgm, 30000));
		rd_kafka_consumer_group_metadata_destroy(cgm);
		rd_kafka_topic_partition_list_destroy(offs);
		OK(rd_kafka_commit_transaction(p, 30000));
		got++;
		if (m->partition >= 0 && m->partition < 64)
			next[m->partition] = m->offset + 1;
		rd_kafka_message_destroy(m);
	}
	/* the group's committed offsets follow the last record consumed */
	int n = partitions(cons, src);
	EXPECT(n <= 64, "too many partitions");
	offs = rd_kafka_topic_partition_list_new(n);
	for (int i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(offs, src, i);
	EXPECT(!rd_kafka_committed(cons, offs, 10000), "committed");
	for (int i = 0; i < n; i++)
		EXPECT(offs->elems[i].offset == next[i] ||
		           (next[i] < 0 && offs->elems[i].offset < 0),
		       "partition %d committed %lld, last consumed + 1 = %lld", i,
		       (long long)offs->elems[i].offset, (long long)next[i]);
	rd_kafka_topic_partition_list_destroy(offs);
	rd_kafka_destroy(p);
	rd_kafka_consumer_close(cons);
	rd_kafka_destroy(cons);
	printf("PASS cpt %d\n", got);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: see the comment at the top of rdk_txn.c\n");
		return 2;
	}
	addr = argv[1];
	const char *m = argv[2];
	if ((!strcmp(m, "commit") || !strcmp(m, "abort")) && argc >= 7)
		return mode_txn(argv[3], argv[4], atoi(argv[5]), argv[6], !strcmp(m, "commit"),
		                argc > 7 ? argv[7] : NULL);
	if (!strcmp(m, "hang") && argc == 8)
		return mode_hang(argv[3], argv[4], atoi(argv[5]), argv[6], argv[7]);
	if (!strcmp(m, "fence") && argc == 6)
		return mode_fence(argv[3], argv[4], argv[5]);
	if (!strcmp(m, "consume") && argc >= 5)
		return mode_consume(argv[3], atoi(argv[4]), argc < 6);
	if (!strcmp(m, "cpt") && argc == 7)
		return mode_cpt(argv[3], argv[4], argv[5], argv[6]);
	fprintf(stderr, "rdk_txn: bad arguments\n");
	return 2;
}
