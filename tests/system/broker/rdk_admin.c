/* System test program: librdkafka's Admin API (Debian's librdkafka 2.0.2)
 * against the hosted broker. Each scenario checks every result itself and
 * prints "PASS <scenario>" or "FAIL <line>: <what>" (exit 1).
 *   rdk_admin HOST:PORT topics   create/describe/alter/partitions/
 *                                delete-records/delete/recreate,
 *                                LogAppendTime
 *   rdk_admin HOST:PORT groups   commit metadata, list/describe groups,
 *                                delete offsets, delete groups
 *   rdk_admin HOST:PORT idempotent N TOPIC   N records with
 *                                enable.idempotence into a new TOPIC (4
 *                                partitions), all delivered, each
 *                                consumed exactly once */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

static const char *addr;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		printf("FAIL %d: ", __LINE__);                                                     \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
		exit(1);                                                                           \
	} while (0)
#define EXPECT(cond, ...)                                                                          \
	do {                                                                                       \
		if (!(cond))                                                                       \
			FAIL(__VA_ARGS__);                                                         \
	} while (0)

static rd_kafka_t *client(rd_kafka_type_t type, const char *group)
{
	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;

	if (rd_kafka_conf_set(conf, "bootstrap.servers", addr, err, sizeof(err)) ||
	    (group && rd_kafka_conf_set(conf, "group.id", group, err, sizeof(err))) ||
	    (group && rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err))) ||
	    (group && rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", err, sizeof(err))))
		FAIL("conf: %s", err);
	if (!(rk = rd_kafka_new(type, conf, err, sizeof(err))))
		FAIL("rd_kafka_new: %s", err);
	return rk;
}

/* Wait for the admin result event of type t on q (30 s at most). */
static rd_kafka_event_t *wait_ev(rd_kafka_queue_t *q, rd_kafka_event_type_t t)
{
	for (;;) {
		rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
		if (!ev)
			FAIL("no admin result (type %d) within 30 s", (int)t);
		if (rd_kafka_event_type(ev) == t) {
			EXPECT(!rd_kafka_event_error(ev), "request failed: %s",
			       rd_kafka_event_error_string(ev));
			return ev;
		}
		rd_kafka_event_destroy(ev);
	}
}

static rd_kafka_AdminOptions_t *opts(rd_kafka_t *rk, int validate_only)
{
	char err[256];
	rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY);

	rd_kafka_AdminOptions_set_request_timeout(o, 20000, err, sizeof(err));
	if (validate_only)
		rd_kafka_AdminOptions_set_validate_only(o, 1, err, sizeof(err));
	return o;
}

/* Partition count of topic in the cluster's metadata, -1 if absent. */
static int topic_parts(rd_kafka_t *rk, const char *topic)
{
	const struct rd_kafka_metadata *md;
	int n = -1;

	EXPECT(!rd_kafka_metadata(rk, 1, NULL, &md, 10000), "metadata");
	for (int i = 0; i < md->topic_cnt; i++)
		if (!strcmp(md->topics[i].topic, topic))
			n = md->topics[i].partition_cnt;
	rd_kafka_metadata_destroy(md);
	return n;
}

struct ntopic {
	const char *name;
	int parts, rf;
	const char *k1, *v1, *k2, *v2;
	rd_kafka_resp_err_t want;
};

/* CreateTopics with the given topics; checks each topic's error. */
static void create(rd_kafka_t *rk, rd_kafka_queue_t *q, const struct ntopic *t, int n,
                   int validate_only)
{
	rd_kafka_NewTopic_t *nt[8];
	char err[256];
	size_t cnt;

	for (int i = 0; i < n; i++) {
		nt[i] = rd_kafka_NewTopic_new(t[i].name, t[i].parts, t[i].rf, err, sizeof(err));
		EXPECT(nt[i], "NewTopic %s: %s", t[i].name, err);
		if (t[i].k1)
			rd_kafka_NewTopic_set_config(nt[i], t[i].k1, t[i].v1);
		if (t[i].k2)
			rd_kafka_NewTopic_set_config(nt[i], t[i].k2, t[i].v2);
	}
	rd_kafka_AdminOptions_t *o = opts(rk, validate_only);
	rd_kafka_CreateTopics(rk, nt, (size_t)n, o, q);
	rd_kafka_event_t *ev = wait_ev(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
	const rd_kafka_topic_result_t **res =
	    rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
	EXPECT(cnt == (size_t)n, "%zu results for %d topics", cnt, n);
	for (size_t i = 0; i < cnt; i++)
		for (int k = 0; k < n; k++)
			if (!strcmp(rd_kafka_topic_result_name(res[i]), t[k].name))
				EXPECT(rd_kafka_topic_result_error(res[i]) == t[k].want,
				       "create %s: %s, want %s", t[k].name,
				       rd_kafka_err2name(rd_kafka_topic_result_error(res[i])),
				       rd_kafka_err2name(t[k].want));
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_NewTopic_destroy_array(nt, (size_t)n);
}

/* Value of config key of a resource ("" source check when src >= 0). */
static void check_config(rd_kafka_t *rk, rd_kafka_queue_t *q, rd_kafka_ResourceType_t type,
                         const char *name, const char *key, const char *want, int src)
{
	rd_kafka_ConfigResource_t *cr = rd_kafka_ConfigResource_new(type, name);
	rd_kafka_AdminOptions_t *o = opts(rk, 0);
	size_t cnt, ncfg;
	int found = 0;

	rd_kafka_DescribeConfigs(rk, &cr, 1, o, q);
	rd_kafka_event_t *ev = wait_ev(q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT);
	const rd_kafka_ConfigResource_t **res = rd_kafka_DescribeConfigs_result_resources(
	    rd_kafka_event_DescribeConfigs_result(ev), &cnt);
	EXPECT(cnt == 1 && !rd_kafka_ConfigResource_error(res[0]), "describe %s: %s", name,
	       rd_kafka_ConfigResource_error_string(res[0]));
	const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(res[0], &ncfg);
	for (size_t i = 0; i < ncfg; i++) {
		if (strcmp(rd_kafka_ConfigEntry_name(ce[i]), key))
			continue;
		found = 1;
		EXPECT(!strcmp(rd_kafka_ConfigEntry_value(ce[i]), want), "%s %s = %s, want %s",
		       name, key, rd_kafka_ConfigEntry_value(ce[i]), want);
		EXPECT(src < 0 || (int)rd_kafka_ConfigEntry_source(ce[i]) == src,
		       "%s %s source %d, want %d", name, key,
		       (int)rd_kafka_ConfigEntry_source(ce[i]), src);
	}
	EXPECT(found, "%s: no config %s", name, key);
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_ConfigResource_destroy(cr);
}

static void produce(rd_kafka_t *p, const char *topic, int part, int n)
{
	for (int i = 0; i < n; i++)
		EXPECT(!rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
		                          RD_KAFKA_V_VALUE("value", 5), RD_KAFKA_V_END),
		       "produce");
	EXPECT(!rd_kafka_flush(p, 20000), "flush");
}

/* message.timestamp.type=LogAppendTime: a record produced with an old
 * CreateTime comes back with the broker's time, typed LogAppendTime. */
static void scenario_append_time(rd_kafka_t *rk, rd_kafka_queue_t *q)
{
	static const struct ntopic lat[1] = {
	    {"adm-lat", 1, 1, "message.timestamp.type", "LogAppendTime", NULL, NULL, 0},
	};
	rd_kafka_timestamp_type_t tt = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
	int64_t ts = -1, now = (int64_t)time(NULL) * 1000;

	create(rk, q, lat, 1, 0);
	EXPECT(!rd_kafka_producev(rk, RD_KAFKA_V_TOPIC("adm-lat"), RD_KAFKA_V_PARTITION(0),
	                          RD_KAFKA_V_VALUE("x", 1), RD_KAFKA_V_TIMESTAMP(1000),
	                          RD_KAFKA_V_END),
	       "produce");
	EXPECT(!rd_kafka_flush(rk, 20000), "flush");
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, "lat-check");
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, "adm-lat", 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	EXPECT(!rd_kafka_assign(c, l), "assign");
	rd_kafka_topic_partition_list_destroy(l);
	for (int i = 0; i < 100 && ts < 0; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m && !m->err)
			ts = rd_kafka_message_timestamp(m, &tt);
		if (m)
			rd_kafka_message_destroy(m);
	}
	EXPECT(tt == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME && ts >= now - 60000 && ts <= now + 60000,
	       "timestamp %lld type %d", (long long)ts, (int)tt);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

static void scenario_topics(void)
{
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	static const struct ntopic first[5] = {
	    {"adm-a", 3, 1, "retention.ms", "1000", "cleanup.policy", "compact", 0},
	    {"adm bad!", 1, 1, NULL, NULL, NULL, NULL, RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION},
	    {"adm-rf", 1, 3, NULL, NULL, NULL, NULL, RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR},
	    {"adm-cfg", 1, 1, "retention.ms", "abc", NULL, NULL, RD_KAFKA_RESP_ERR_INVALID_CONFIG},
	    {"adm-unk", 1, 1, "no.such.config", "1", NULL, NULL, RD_KAFKA_RESP_ERR_INVALID_CONFIG},
	};
	static const struct ntopic again[1] = {
	    {"adm-a", 1, 1, NULL, NULL, NULL, NULL, RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS},
	};
	static const struct ntopic vonly[1] = {
	    {"adm-vo", 2, -1, NULL, NULL, NULL, NULL, 0},
	};
	static const struct ntopic recreate[1] = {
	    {"adm-a", 1, 1, NULL, NULL, NULL, NULL, 0},
	};
	char err[256];
	size_t cnt;
	int64_t lo, hi;

	create(rk, q, first, 5, 0);
	create(rk, q, again, 1, 0);
	create(rk, q, vonly, 1, 1);
	EXPECT(topic_parts(rk, "adm-a") == 3, "adm-a partitions");
	EXPECT(topic_parts(rk, "adm-vo") == -1, "validate_only created adm-vo");
	EXPECT(topic_parts(rk, "adm-rf") == -1, "adm-rf exists");
	check_config(rk, q, RD_KAFKA_RESOURCE_TOPIC, "adm-a", "retention.ms", "1000",
	             RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
	check_config(rk, q, RD_KAFKA_RESOURCE_TOPIC, "adm-a", "cleanup.policy", "compact",
	             RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
	check_config(rk, q, RD_KAFKA_RESOURCE_BROKER, "1", "num.partitions", "4",
	             RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG);

	/* AlterConfigs replaces the overrides */
	rd_kafka_ConfigResource_t *cr =
	    rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, "adm-a");
	rd_kafka_ConfigResource_set_config(cr, "retention.bytes", "100000");
	rd_kafka_AdminOptions_t *o = opts(rk, 0);
	rd_kafka_AlterConfigs(rk, &cr, 1, o, q);
	rd_kafka_event_t *ev = wait_ev(q, RD_KAFKA_EVENT_ALTERCONFIGS_RESULT);
	const rd_kafka_ConfigResource_t **ares =
	    rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &cnt);
	EXPECT(cnt == 1 && !rd_kafka_ConfigResource_error(ares[0]), "alter: %s",
	       rd_kafka_ConfigResource_error_string(ares[0]));
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_ConfigResource_destroy(cr);
	check_config(rk, q, RD_KAFKA_RESOURCE_TOPIC, "adm-a", "retention.bytes", "100000",
	             RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG);
	check_config(rk, q, RD_KAFKA_RESOURCE_TOPIC, "adm-a", "retention.ms", "604800000",
	             RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);

	/* CreatePartitions 3 -> 5 */
	rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new("adm-a", 5, err, sizeof(err));
	o = opts(rk, 0);
	rd_kafka_CreatePartitions(rk, &np, 1, o, q);
	ev = wait_ev(q, RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT);
	const rd_kafka_topic_result_t **tres = rd_kafka_CreatePartitions_result_topics(
	    rd_kafka_event_CreatePartitions_result(ev), &cnt);
	EXPECT(cnt == 1 && !rd_kafka_topic_result_error(tres[0]), "create partitions: %s",
	       rd_kafka_topic_result_error_string(tres[0]));
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_NewPartitions_destroy(np);
	EXPECT(topic_parts(rk, "adm-a") == 5, "adm-a has %d partitions", topic_parts(rk, "adm-a"));

	/* DeleteRecords below offset 4 of partition 4 (a new one) */
	produce(rk, "adm-a", 4, 10);
	rd_kafka_topic_partition_list_t *before = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(before, "adm-a", 4)->offset = 4;
	rd_kafka_DeleteRecords_t *dr = rd_kafka_DeleteRecords_new(before);
	o = opts(rk, 0);
	rd_kafka_DeleteRecords(rk, &dr, 1, o, q);
	ev = wait_ev(q, RD_KAFKA_EVENT_DELETERECORDS_RESULT);
	const rd_kafka_topic_partition_list_t *low =
	    rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
	EXPECT(low->cnt == 1 && !low->elems[0].err && low->elems[0].offset == 4,
	       "delete records: %s low %lld", rd_kafka_err2name(low->elems[0].err),
	       (long long)low->elems[0].offset);
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_DeleteRecords_destroy(dr);
	rd_kafka_topic_partition_list_destroy(before);
	EXPECT(!rd_kafka_query_watermark_offsets(rk, "adm-a", 4, &lo, &hi, 10000) && lo == 4 &&
	           hi == 10,
	       "watermarks %lld..%lld", (long long)lo, (long long)hi);

	/* DeleteTopics, then the same name again starts empty */
	rd_kafka_DeleteTopic_t *dt[2] = {rd_kafka_DeleteTopic_new("adm-a"),
	                                 rd_kafka_DeleteTopic_new("adm-none")};
	o = opts(rk, 0);
	rd_kafka_DeleteTopics(rk, dt, 2, o, q);
	ev = wait_ev(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT);
	tres = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
	EXPECT(cnt == 2, "delete topics: %zu results", cnt);
	for (size_t i = 0; i < cnt; i++)
		EXPECT(rd_kafka_topic_result_error(tres[i]) ==
		           (strcmp(rd_kafka_topic_result_name(tres[i]), "adm-a")
		                ? RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
		                : 0),
		       "delete %s: %s", rd_kafka_topic_result_name(tres[i]),
		       rd_kafka_err2name(rd_kafka_topic_result_error(tres[i])));
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_DeleteTopic_destroy_array(dt, 2);
	EXPECT(topic_parts(rk, "adm-a") == -1, "adm-a still listed");
	create(rk, q, recreate, 1, 0);
	EXPECT(!rd_kafka_query_watermark_offsets(rk, "adm-a", 0, &lo, &hi, 10000) && lo == 0 &&
	           hi == 0,
	       "recreated adm-a: %lld..%lld", (long long)lo, (long long)hi);
	check_config(rk, q, RD_KAFKA_RESOURCE_TOPIC, "adm-a", "cleanup.policy", "delete",
	             RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG);
	scenario_append_time(rk, q);
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

/* Committed offset of (topic, 0) for group, and its metadata. */
static int64_t committed(const char *group, const char *topic, char *meta, size_t mlen)
{
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, group);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	int64_t off;

	rd_kafka_topic_partition_list_add(l, topic, 0);
	EXPECT(!rd_kafka_committed(c, l, 10000), "committed");
	off = l->elems[0].offset;
	if (meta) {
		size_t n =
		    l->elems[0].metadata_size < mlen - 1 ? l->elems[0].metadata_size : mlen - 1;
		memcpy(meta, l->elems[0].metadata ? l->elems[0].metadata : "", n);
		meta[n] = 0;
	}
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(c);
	return off;
}

/* State and member count of group; error code of its description. */
static rd_kafka_consumer_group_state_t describe_group(rd_kafka_t *rk, rd_kafka_queue_t *q,
                                                      const char *group, size_t *members)
{
	rd_kafka_AdminOptions_t *o = opts(rk, 0);
	size_t cnt;

	rd_kafka_DescribeConsumerGroups(rk, &group, 1, o, q);
	rd_kafka_event_t *ev = wait_ev(q, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT);
	const rd_kafka_ConsumerGroupDescription_t **d =
	    rd_kafka_DescribeConsumerGroups_result_groups(
	        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
	EXPECT(cnt == 1 && !rd_kafka_ConsumerGroupDescription_error(d[0]), "describe group");
	rd_kafka_consumer_group_state_t st = rd_kafka_ConsumerGroupDescription_state(d[0]);
	*members = rd_kafka_ConsumerGroupDescription_member_count(d[0]);
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	return st;
}

static rd_kafka_resp_err_t delete_group(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group)
{
	rd_kafka_DeleteGroup_t *dg = rd_kafka_DeleteGroup_new(group);
	rd_kafka_AdminOptions_t *o = opts(rk, 0);
	rd_kafka_resp_err_t err;
	size_t cnt;

	rd_kafka_DeleteGroups(rk, &dg, 1, o, q);
	rd_kafka_event_t *ev = wait_ev(q, RD_KAFKA_EVENT_DELETEGROUPS_RESULT);
	const rd_kafka_group_result_t **g =
	    rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(ev), &cnt);
	EXPECT(cnt == 1, "delete groups: %zu results", cnt);
	err = rd_kafka_group_result_error(g[0])
	          ? rd_kafka_error_code(rd_kafka_group_result_error(g[0]))
	          : 0;
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_DeleteGroup_destroy(dg);
	return err;
}

/* DeleteConsumerGroupOffsets of (topic, 0); returns the partition error. */
static rd_kafka_resp_err_t delete_offsets(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group,
                                          const char *topic)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_AdminOptions_t *o = opts(rk, 0);
	rd_kafka_resp_err_t err;
	size_t cnt;

	rd_kafka_topic_partition_list_add(l, topic, 0);
	rd_kafka_DeleteConsumerGroupOffsets_t *d =
	    rd_kafka_DeleteConsumerGroupOffsets_new(group, l);
	rd_kafka_DeleteConsumerGroupOffsets(rk, &d, 1, o, q);
	rd_kafka_event_t *ev = wait_ev(q, RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT);
	const rd_kafka_group_result_t **g = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
	    rd_kafka_event_DeleteConsumerGroupOffsets_result(ev), &cnt);
	EXPECT(cnt == 1 && !rd_kafka_group_result_error(g[0]), "delete offsets");
	const rd_kafka_topic_partition_list_t *pl = rd_kafka_group_result_partitions(g[0]);
	EXPECT(pl && pl->cnt == 1, "delete offsets: partitions");
	err = pl->elems[0].err;
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	rd_kafka_DeleteConsumerGroupOffsets_destroy(d);
	rd_kafka_topic_partition_list_destroy(l);
	return err;
}

/* Is group in ListConsumerGroups? */
static int listed(rd_kafka_t *rk, rd_kafka_queue_t *q, const char *group)
{
	rd_kafka_AdminOptions_t *o = opts(rk, 0);
	size_t cnt;
	int found = 0;

	rd_kafka_ListConsumerGroups(rk, o, q);
	rd_kafka_event_t *ev = wait_ev(q, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT);
	const rd_kafka_ConsumerGroupListing_t **g = rd_kafka_ListConsumerGroups_result_valid(
	    rd_kafka_event_ListConsumerGroups_result(ev), &cnt);
	for (size_t i = 0; i < cnt; i++)
		found |= !strcmp(rd_kafka_ConsumerGroupListing_group_id(g[i]), group);
	rd_kafka_event_destroy(ev);
	rd_kafka_AdminOptions_destroy(o);
	return found;
}

static void scenario_groups(void)
{
	rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	static const struct ntopic topic[1] = {
	    {"adm-g-t", 1, 1, NULL, NULL, NULL, NULL, 0},
	};
	char meta[64];
	size_t members;
	int got = 0;

	create(rk, q, topic, 1, 0);
	produce(rk, "adm-g-t", 0, 5);
	/* a live member: consume, then commit offset 3 with metadata */
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, "adm-g");
	rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(sub, "adm-g-t", RD_KAFKA_PARTITION_UA);
	EXPECT(!rd_kafka_subscribe(c, sub), "subscribe");
	rd_kafka_topic_partition_list_destroy(sub);
	for (int i = 0; i < 300 && got < 5; i++) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m && !m->err)
			got++;
		if (m)
			rd_kafka_message_destroy(m);
	}
	EXPECT(got == 5, "consumed %d of 5", got);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_add(l, "adm-g-t", 0);
	tp->offset = 3;
	tp->metadata = strdup("hallows-meta");
	tp->metadata_size = 12;
	EXPECT(!rd_kafka_commit(c, l, 0), "commit");
	rd_kafka_topic_partition_list_destroy(l);
	EXPECT(committed("adm-g", "adm-g-t", meta, sizeof(meta)) == 3 &&
	           !strcmp(meta, "hallows-meta"),
	       "committed metadata '%s'", meta);
	EXPECT(listed(rk, q, "adm-g"), "adm-g not listed");
	EXPECT(describe_group(rk, q, "adm-g", &members) == RD_KAFKA_CONSUMER_GROUP_STATE_STABLE &&
	           members == 1,
	       "live group not Stable with 1 member");
	EXPECT(delete_group(rk, q, "adm-g") == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP,
	       "deleting a live group");
	EXPECT(delete_offsets(rk, q, "adm-g", "adm-g-t") ==
	           RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC,
	       "deleting offsets of a subscribed topic");
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	EXPECT(describe_group(rk, q, "adm-g", &members) == RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY &&
	           members == 0,
	       "closed group not Empty");
	EXPECT(delete_offsets(rk, q, "adm-g", "adm-g-t") == 0, "delete offsets");
	EXPECT(committed("adm-g", "adm-g-t", NULL, 0) == RD_KAFKA_OFFSET_INVALID,
	       "offset still committed");
	EXPECT(delete_group(rk, q, "adm-g") == 0, "delete group");
	EXPECT(!listed(rk, q, "adm-g"), "deleted group still listed");
	EXPECT(delete_group(rk, q, "adm-g") == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND,
	       "deleting a deleted group");
	rd_kafka_queue_destroy(q);
	rd_kafka_destroy(rk);
}

static int delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err)
		failed++;
	else
		delivered++;
}

/* Consume every partition of topic from the beginning; counts how often
 * each value "i-<n>" (n < total) was seen. */
static void consume_all(const char *topic, int parts, int total, int *seen)
{
	/* assign() needs a group id; nothing joins or commits */
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, "idem-check");
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
	int got = 0, idle = 0;

	for (int p = 0; p < parts; p++)
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	EXPECT(!rd_kafka_assign(c, l), "assign");
	rd_kafka_topic_partition_list_destroy(l);
	while (got < total && idle < 50) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (!m) {
			idle++;
			continue;
		}
		idle = 0;
		if (!m->err && m->len > 2 && m->len < 20) {
			char v[24];
			memcpy(v, m->payload, m->len);
			v[m->len] = 0;
			int n = atoi(v + 2);
			if (n >= 0 && n < total)
				seen[n]++;
			got++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

static void scenario_idempotent(int total, const char *topic)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int *seen = calloc((size_t)total, sizeof(int));

	if (rd_kafka_conf_set(conf, "bootstrap.servers", addr, err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
	    rd_kafka_conf_set(conf, "linger.ms", "2", err, sizeof(err)))
		FAIL("conf: %s", err);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	EXPECT(p, "producer: %s", err);
	for (int i = 0; i < total; i++) {
		char v[24];
		int n = snprintf(v, sizeof(v), "i-%d", i);
		while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(v, (size_t)n),
		                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		                         RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(p, 10);
		rd_kafka_poll(p, 0);
		if (i % 1000 == 999) { /* paced, with progress for crash tests */
			rd_kafka_poll(p, 10);
			printf("progress %d %d\n", i + 1, delivered);
			fflush(stdout);
		}
	}
	EXPECT(!rd_kafka_flush(p, 60000), "flush");
	EXPECT(!rd_kafka_fatal_error(p, err, sizeof(err)), "fatal: %s", err);
	EXPECT(delivered == total && !failed, "delivered %d failed %d", delivered, failed);
	rd_kafka_destroy(p);
	consume_all(topic, 4, total, seen);
	for (int i = 0; i < total; i++)
		EXPECT(seen[i] == 1, "record i-%d seen %d times", i, seen[i]);
	free(seen);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: rdk_admin HOST:PORT topics|groups|idempotent N TOPIC\n");
		return 2;
	}
	addr = argv[1];
	if (!strcmp(argv[2], "topics"))
		scenario_topics();
	else if (!strcmp(argv[2], "groups"))
		scenario_groups();
	else if (!strcmp(argv[2], "idempotent") && argc == 5)
		scenario_idempotent(atoi(argv[3]), argv[4]);
	else
		return 2;
	printf("PASS %s\n", argv[2]);
	return 0;
}
