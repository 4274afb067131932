/* rdk_client: librdkafka test program for the broker system tests.
 *   rdk_client produce BROKER TOPIC N SIZE ACKS CODEC TAG [ACKED_FILE]
 *       N records "TAG-i-" + compressible padding to SIZE bytes, key "kI";
 *       N = 0 means produce until delivery fails (crash test). Appends the
 *       index of every acknowledged record to ACKED_FILE. Prints
 *       "delivered D failed F".
 *   rdk_client consume BROKER TOPIC TIMEOUT_S
 *       all partitions from the beginning until every partition reports
 *       EOF; prints one "TAG-i" line per record.
 *   rdk_client group BROKER TOPIC GROUP SECONDS STOPFILE
 *       subscribe as a group member; prints "ASSIGN n", "REVOKE" and one
 *       "MSG TAG-i" per record until SECONDS pass or STOPFILE exists. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long delivered, failed;
static FILE *acked;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err) {
		failed++;
		return;
	}
	delivered++;
	if (acked) {
		fprintf(acked, "%ld\n", (long)(intptr_t)m->_private);
		fflush(acked);
	}
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];

	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "conf %s=%s: %s\n", k, v, err);
		exit(2);
	}
}

static rd_kafka_t *make(rd_kafka_type_t type, rd_kafka_conf_t *c)
{
	char err[256];
	rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));

	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", err);
		exit(2);
	}
	return rk;
}

static int produce(char **a, int n)
{
	if (n < 9)
		return 2;
	long count = atol(a[4]), size = atol(a[5]);
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	char *buf = malloc((size_t)size + 64);
	set(c, "bootstrap.servers", a[2]);
	set(c, "acks", a[6]);
	set(c, "compression.codec", a[7]);
	set(c, "linger.ms", "5");
	set(c, "message.timeout.ms", count ? "20000" : "3000");
	rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
	if (n > 9)
		acked = fopen(a[9], "a");
	rd_kafka_t *rk = make(RD_KAFKA_PRODUCER, c);
	for (long i = 0; !count || i < count; i++) {
		int len = snprintf(buf, 64, "%s-%ld-", a[8], i);
		for (long k = len; k < size; k++)
			buf[k] = (char)('a' + (k % 7));
		char key[32];
		int kl = snprintf(key, sizeof(key), "k%ld", i);
		while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(a[3]),
		                         RD_KAFKA_V_KEY(key, (size_t)kl),
		                         RD_KAFKA_V_VALUE(buf, (size_t)(size > len ? size : len)),
		                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                         RD_KAFKA_V_OPAQUE((void *)(intptr_t)i),
		                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 10);
		rd_kafka_poll(rk, 0);
		if (!count && failed)
			break;
		if (!count && i % 50 == 49)
			rd_kafka_poll(rk, 5); /* pace the endless mode a little */
	}
	rd_kafka_flush(rk, 30000);
	printf("delivered %ld failed %ld\n", delivered, failed);
	rd_kafka_destroy(rk);
	if (acked)
		fclose(acked);
	free(buf);
	return count && failed ? 1 : 0;
}

/* Print the "TAG-i" prefix of a record value. */
static void print_value(const char *pfx, const rd_kafka_message_t *m)
{
	const char *v = m->payload;
	size_t len = m->len, dashes = 0, k;

	for (k = 0; k < len && dashes < 2; k++)
		dashes += v[k] == '-';
	printf("%s%.*s\n", pfx, (int)(dashes == 2 ? k - 1 : len), v);
}

static int consume(char **a, int n)
{
	if (n < 5)
		return 2;
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	const struct rd_kafka_metadata *md;
	set(c, "bootstrap.servers", a[2]);
	set(c, "enable.partition.eof", "true");
	set(c, "group.id", "rdk-client-standalone");
	set(c, "enable.auto.commit", "false");
	rd_kafka_t *rk = make(RD_KAFKA_CONSUMER, c);
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, a[3], NULL);
	if (rd_kafka_metadata(rk, 0, t, &md, 10000) || md->topic_cnt != 1 || md->topics[0].err) {
		fprintf(stderr, "metadata failed\n");
		return 1;
	}
	int parts = md->topics[0].partition_cnt, eofs = 0;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
	for (int p = 0; p < parts; p++)
		rd_kafka_topic_partition_list_add(l, a[3], p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(rk, l);
	double end = now_s() + atof(a[4]);
	while (eofs < parts && now_s() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
		if (!m)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
			eofs++;
		else if (m->err)
			fprintf(stderr, "consume error: %s\n", rd_kafka_message_errstr(m));
		else
			print_value("", m);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return eofs == parts ? 0 : 1;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	(void)opaque;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		printf("ASSIGN %d\n", parts->cnt);
		rd_kafka_assign(rk, parts);
	} else {
		printf("REVOKE\n");
		rd_kafka_assign(rk, NULL);
	}
	fflush(stdout);
}

static int group(char **a, int n)
{
	if (n < 7)
		return 2;
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	set(c, "bootstrap.servers", a[2]);
	set(c, "group.id", a[4]);
	set(c, "auto.offset.reset", "earliest");
	set(c, "session.timeout.ms", "6000");
	set(c, "heartbeat.interval.ms", "500");
	set(c, "auto.commit.interval.ms", "500");
	rd_kafka_conf_set_rebalance_cb(c, rebalance_cb);
	rd_kafka_t *rk = make(RD_KAFKA_CONSUMER, c);
	rd_kafka_poll_set_consumer(rk);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, a[3], RD_KAFKA_PARTITION_UA);
	rd_kafka_subscribe(rk, l);
	double end = now_s() + atof(a[5]);
	while (now_s() < end && access(a[6], F_OK) != 0) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err)
			print_value("MSG ", m);
		rd_kafka_message_destroy(m);
		fflush(stdout);
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	printf("CLOSED\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "produce"))
		return produce(argv, argc);
	if (argc > 1 && !strcmp(argv[1], "consume"))
		return consume(argv, argc);
	if (argc > 1 && !strcmp(argv[1], "group"))
		return group(argv, argc);
	fprintf(stderr, "usage: see the comment at the top of rdk_client.c\n");
	return 2;
}
