/* Admin API protocol tests: CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, DeleteRecords,
 * ListGroups, DescribeGroups, DeleteGroups, OffsetDelete and the
 * --no-auto-create option. Request and response layouts follow the Kafka
 * message schemas for each advertised version; every error code each API
 * can return here is exercised, and state is checked across restarts. */
#include "tbroker.h"
#include "storage/crc32c.h"

/* Deliver everything and take the response with corr on connection 0. */
static bool answer(struct env *e, int32_t corr, struct kr *r)
{
	for (int i = 0; i < 4; i++)
		pump(e);
	return resp_next(e, 0, corr, r);
}

static void put_s(struct kw *w, const char *s)
{
	kw_str(w, s, s ? (int32_t)strlen(s) : -1);
}

static bool str_is(const struct kstr *s, const char *lit)
{
	return s->len == (int32_t)strlen(lit) &&
	       (s->len == 0 || !memcmp(s->p, lit, (size_t)s->len));
}

/* One CreateTopics topic with up to two configs and no assignments. */
static void ct_topic(struct kw *w, const char *name, int32_t parts, int16_t rf, const char *k1,
                     const char *v1, const char *k2, const char *v2)
{
	put_s(w, name);
	kw_i32(w, parts);
	kw_i16(w, rf);
	kw_i32(w, 0);
	kw_i32(w, (k1 ? 1 : 0) + (k2 ? 1 : 0));
	if (k1) {
		put_s(w, k1);
		put_s(w, v1);
	}
	if (k2) {
		put_s(w, k2);
		put_s(w, v2);
	}
}

/* CreateTopics v1+ response: the error of each topic in order. */
static void ct_errors(struct kr *r, int16_t ver, int32_t n, int16_t *errs)
{
	struct kstr s;

	if (ver >= 2)
		CHECK(kr_i32(r) == 0);
	CHECK(kr_i32(r) == n);
	for (int32_t i = 0; i < n; i++) {
		kr_str(r, &s);
		errs[i] = kr_i16(r);
		kr_str(r, &s);
		CHECK(errs[i] ? s.len > 0 : s.len == -1);
	}
	CHECK(!r->bad && r->off == r->n);
}

/* One topic, one partition-less create (v4) answered with its error. */
static int16_t create_one(struct env *e, int32_t corr, const char *name, int32_t parts,
                          const char *k, const char *v)
{
	struct kw w;
	struct kr r;
	int16_t err = -100;

	req_begin(&w, API_CREATE_TOPICS, 4, corr);
	kw_i32(&w, 1);
	ct_topic(&w, name, parts, 1, k, v, NULL, NULL);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	if (answer(e, corr, &r))
		ct_errors(&r, 4, 1, &err);
	return err;
}

static void t_create_topics(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;
	int16_t errs[16];
	char longname[251];
	static const int16_t want[14] = {
	    0,
	    KERR_INVALID_TOPIC,
	    KERR_INVALID_TOPIC,
	    KERR_INVALID_REPLICATION,
	    KERR_INVALID_PARTITIONS,
	    KERR_INVALID_CONFIG,
	    KERR_INVALID_CONFIG,
	    0,
	    0,
	    KERR_INVALID_ASSIGNMENT,
	    KERR_INVALID_REQUEST,
	    KERR_INVALID_REQUEST,
	    KERR_INVALID_REPLICATION,
	    KERR_INVALID_CONFIG,
	};

	memset(longname, 'x', 250);
	longname[250] = 0;
	req_begin(&w, API_CREATE_TOPICS, 4, 1);
	kw_i32(&w, 14);
	ct_topic(&w, "ct", 3, 1, "retention.ms", "1000", "cleanup.policy", "compact");
	ct_topic(&w, "bad name!", 1, 1, NULL, NULL, NULL, NULL);
	ct_topic(&w, longname, 1, 1, NULL, NULL, NULL, NULL);
	ct_topic(&w, "rf3", 1, 3, NULL, NULL, NULL, NULL);
	ct_topic(&w, "p0", 0, 1, NULL, NULL, NULL, NULL);
	ct_topic(&w, "cfgbad", 1, 1, "retention.ms", "abc", NULL, NULL);
	ct_topic(&w, "cfgunk", 1, 1, "segment.bytes", "1", NULL, NULL);
	ct_topic(&w, "dflt", -1, -1, NULL, NULL, NULL, NULL);
	put_s(&w, "asg"); /* explicit assignment: partitions 0 and 1 on node 1 */
	kw_i32(&w, -1);
	kw_i16(&w, -1);
	kw_i32(&w, 2);
	for (int32_t k = 0; k < 2; k++) {
		kw_i32(&w, k);
		kw_i32(&w, 1);
		kw_i32(&w, 1);
	}
	kw_i32(&w, 0);
	put_s(&w, "asgbad");
	kw_i32(&w, -1);
	kw_i16(&w, -1);
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	kw_i32(&w, 1);
	kw_i32(&w, 2);
	kw_i32(&w, 0);
	ct_topic(&w, "dup", 1, 1, NULL, NULL, NULL, NULL);
	ct_topic(&w, "dup", 1, 1, NULL, NULL, NULL, NULL);
	ct_topic(&w, "rf0", 1, 0, NULL, NULL, NULL, NULL);
	ct_topic(&w, "mmb", 1, 1, "max.message.bytes", "2000000", NULL, NULL);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 1, &r));
	ct_errors(&r, 4, 14, errs);
	for (int i = 0; i < 14; i++)
		CHECK(errs[i] == want[i]);
	CHECK(store_topic_parts(e->st, (uint32_t)store_topic_find(e->st, "ct", 2)) == 3);
	CHECK(store_topic_parts(e->st, (uint32_t)store_topic_find(e->st, "dflt", 4)) == 4);
	CHECK(store_topic_parts(e->st, (uint32_t)store_topic_find(e->st, "asg", 3)) == 2);
	CHECK(store_topic_find(e->st, "rf3", 3) < 0 && store_topic_find(e->st, "dup", 3) < 0);
	CHECK(store_topic_find(e->st, "cfgbad", 6) < 0);
	/* v0: [name, error] only; TOPIC_ALREADY_EXISTS, exact bytes */
	req_begin(&w, API_CREATE_TOPICS, 0, 2);
	kw_i32(&w, 1);
	ct_topic(&w, "ct", 1, 1, NULL, NULL, NULL, NULL);
	kw_i32(&w, 1000);
	req_send(e, 0, &w);
	CHECK(answer(e, 2, &r));
	static const uint8_t v0[] = {0, 0, 0, 1, 0, 2, 'c', 't', 0, KERR_TOPIC_EXISTS};
	CHECK(r.n - r.off == sizeof(v0) && !memcmp(r.p + r.off, v0, sizeof(v0)));
	/* validate_only: checked, answered, not created */
	req_begin(&w, API_CREATE_TOPICS, 1, 3);
	kw_i32(&w, 2);
	ct_topic(&w, "vo", 2, 1, "retention.bytes", "100", NULL, NULL);
	ct_topic(&w, "vo2", 2, 1, "retention.bytes", "x", NULL, NULL);
	kw_i32(&w, 1000);
	kw_i8(&w, 1);
	req_send(e, 0, &w);
	CHECK(answer(e, 3, &r));
	ct_errors(&r, 1, 2, errs);
	CHECK(errs[0] == 0 && errs[1] == KERR_INVALID_CONFIG);
	CHECK(store_topic_find(e->st, "vo", 2) < 0);
	/* the created topics and their configs survive a restart */
	env_restart(e);
	int id = store_topic_find(e->st, "ct", 2);
	CHECK(id >= 0 && store_topic_parts(e->st, (uint32_t)id) == 3);
	if (id >= 0) {
		CHECK(e->b->tconf[id].retention_ms == 1000);
		CHECK(e->b->tconf[id].cleanup == CLEANUP_COMPACT);
		CHECK(e->b->tconf[id].set == (TC_RETENTION_MS | TC_CLEANUP));
	}
	env_free(e);
}

/* OffsetFetch v5 of one partition of topic for group; returns the offset
 * (-100 when the partition entry carries an error). */
static int64_t committed(struct env *e, int32_t corr, const char *group, const char *topic,
                         int32_t part)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	req_begin(&w, API_OFFSET_FETCH, 5, corr);
	put_s(&w, group);
	kw_i32(&w, 1);
	put_s(&w, topic);
	kw_i32(&w, 1);
	kw_i32(&w, part);
	req_send(e, 0, &w);
	if (!answer(e, corr, &r))
		return -200;
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == part);
	int64_t off = kr_i64(&r);
	(void)kr_i32(&r);
	kr_str(&r, &s);
	return kr_i16(&r) ? -100 : off;
}

/* Standalone OffsetCommit v7 of (topic, part) = off for group. */
static int16_t commit(struct env *e, int32_t corr, const char *group, const char *topic,
                      int32_t part, int64_t off)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	req_begin(&w, API_OFFSET_COMMIT, 7, corr);
	put_s(&w, group);
	kw_i32(&w, -1);
	put_s(&w, "");
	put_s(&w, NULL);
	kw_i32(&w, 1);
	put_s(&w, topic);
	kw_i32(&w, 1);
	kw_i32(&w, part);
	kw_i64(&w, off);
	kw_i32(&w, -1);
	put_s(&w, "m");
	req_send(e, 0, &w);
	if (!answer(e, corr, &r))
		return -200;
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == part);
	return kr_i16(&r);
}

/* DeleteTopics v1 of names; fills errs. */
static void delete_topics(struct env *e, int32_t corr, int32_t n, const char *const *names,
                          int16_t *errs)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	req_begin(&w, API_DELETE_TOPICS, 1, corr);
	kw_i32(&w, n);
	for (int32_t i = 0; i < n; i++)
		put_s(&w, names[i]);
	kw_i32(&w, 1000);
	req_send(e, 0, &w);
	CHECK(answer(e, corr, &r));
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == n);
	for (int32_t i = 0; i < n; i++) {
		kr_str(&r, &s);
		CHECK(str_is(&s, names[i]));
		errs[i] = kr_i16(&r);
	}
	CHECK(!r.bad && r.off == r.n);
}

/* Metadata v4 (no creation) error of one topic. */
static int16_t topic_error(struct env *e, int32_t corr, const char *name)
{
	struct kr r;
	struct kstr s;

	metadata_req(e, 0, corr, name, false);
	if (!answer(e, corr, &r))
		return -200;
	(void)kr_i32(&r);
	CHECK(kr_i32(&r) == 1);
	(void)kr_i32(&r);
	kr_str(&r, &s);
	(void)kr_i32(&r);
	kr_str(&r, &s);
	kr_str(&r, &s);
	(void)kr_i32(&r);
	CHECK(kr_i32(&r) == 1);
	return kr_i16(&r);
}

/* DeleteTopics frees the segments; a topic created again under the same
 * name (and id) starts empty and without the old committed offsets, also
 * across restarts on either side of the recreation. */
static void t_delete_topics(void)
{
	struct env *e = env_new();
	struct kr r;
	int16_t errs[3], err;
	int64_t hwm;
	struct store_stats st0, st1;
	static const char *const names[3] = {"dt", "nope", "bad name!"};

	metadata_req(e, 0, 1, "dt", true);
	produce_req(e, 0, 2, 1, "dt", 0, 0);
	produce_req(e, 0, 3, 1, "dt", 1, 0);
	CHECK(answer(e, 1, &r) && resp_next(e, 0, 2, &r) && resp_next(e, 0, 3, &r));
	CHECK(commit(e, 4, "grp", "dt", 0, 1) == 0);
	store_get_stats(e->st, &st0);
	delete_topics(e, 5, 3, names, errs);
	CHECK(errs[0] == 0 && errs[1] == KERR_UNKNOWN_TP && errs[2] == KERR_INVALID_TOPIC);
	store_get_stats(e->st, &st1);
	CHECK(st1.segments_used + 2 == st0.segments_used);
	CHECK(topic_error(e, 6, "dt") == KERR_UNKNOWN_TP);
	CHECK(committed(e, 7, "grp", "dt", 0) == -100);
	env_restart(e);
	CHECK(topic_error(e, 8, "dt") == KERR_UNKNOWN_TP);
	CHECK(create_one(e, 9, "dt", 2, NULL, NULL) == 0);
	fetch_req(e, 0, 10, "dt", 0, 0);
	CHECK(answer(e, 10, &r));
	struct kbytes rec = fetch_resp(&r, &err, &hwm);
	CHECK(err == 0 && hwm == 0 && rec.len == 0);
	CHECK(committed(e, 11, "grp", "dt", 0) == -1);
	env_restart(e);
	CHECK(store_part_end(tpart(e, "dt", 0)) == 0);
	CHECK(committed(e, 12, "grp", "dt", 0) == -1);
	delete_topics(e, 13, 1, names, errs);
	CHECK(errs[0] == 0);
	env_free(e);
}

/* CreatePartitions v1 entry. na < 0: null assignments; else na
 * assignments, each [node]. */
static void cp_entry(struct kw *w, const char *name, int32_t count, int32_t na, int32_t node)
{
	put_s(w, name);
	kw_i32(w, count);
	kw_i32(w, na);
	for (int32_t i = 0; i < na; i++) {
		kw_i32(w, 1);
		kw_i32(w, node);
	}
}

static void cp_errors(struct kr *r, int32_t n, int16_t *errs)
{
	struct kstr s;

	CHECK(kr_i32(r) == 0 && kr_i32(r) == n);
	for (int32_t i = 0; i < n; i++) {
		kr_str(r, &s);
		errs[i] = kr_i16(r);
		kr_str(r, &s);
		CHECK(errs[i] ? s.len > 0 : s.len == -1);
	}
	CHECK(!r->bad && r->off == r->n);
}

static void t_create_partitions(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;
	int16_t errs[4];
	int16_t err;
	int64_t base;

	CHECK(create_one(e, 1, "cp", 2, NULL, NULL) == 0);
	req_begin(&w, API_CREATE_PARTITIONS, 1, 2);
	kw_i32(&w, 4);
	cp_entry(&w, "cp", 5, -1, 0);
	cp_entry(&w, "nope", 3, -1, 0);
	cp_entry(&w, "x1", 3, -1, 0);
	cp_entry(&w, "x1", 3, -1, 0);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 2, &r));
	cp_errors(&r, 4, errs);
	CHECK(errs[0] == 0 && errs[1] == KERR_UNKNOWN_TP);
	CHECK(errs[2] == KERR_INVALID_REQUEST && errs[3] == KERR_INVALID_REQUEST);
	req_begin(&w, API_CREATE_PARTITIONS, 0, 3);
	kw_i32(&w, 2);
	cp_entry(&w, "cp", 4, -1, 0);
	cp_entry(&w, "cp", 7, 2, 1);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w); /* "cp" twice: both refused */
	CHECK(answer(e, 3, &r));
	cp_errors(&r, 2, errs);
	CHECK(errs[0] == KERR_INVALID_REQUEST && errs[1] == KERR_INVALID_REQUEST);
	req_begin(&w, API_CREATE_PARTITIONS, 0, 4);
	kw_i32(&w, 1);
	cp_entry(&w, "cp", 4, -1, 0);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 4, &r));
	cp_errors(&r, 1, errs);
	CHECK(errs[0] == KERR_INVALID_PARTITIONS);
	req_begin(&w, API_CREATE_PARTITIONS, 0, 5);
	kw_i32(&w, 1);
	cp_entry(&w, "cp", 7, 2, 2);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 5, &r));
	cp_errors(&r, 1, errs);
	CHECK(errs[0] == KERR_INVALID_ASSIGNMENT);
	req_begin(&w, API_CREATE_PARTITIONS, 0, 6);
	kw_i32(&w, 1);
	cp_entry(&w, "cp", 7, 2, 1);
	kw_i32(&w, 1000);
	kw_i8(&w, 1); /* validate only */
	req_send(e, 0, &w);
	CHECK(answer(e, 6, &r));
	cp_errors(&r, 1, errs);
	CHECK(errs[0] == 0 &&
	      store_topic_parts(e->st, 0 + (uint32_t)store_topic_find(e->st, "cp", 2)) == 5);
	req_begin(&w, API_CREATE_PARTITIONS, 0, 7);
	kw_i32(&w, 1);
	cp_entry(&w, "cp", 7, 2, 1);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 7, &r));
	cp_errors(&r, 1, errs);
	CHECK(errs[0] == 0);
	env_restart(e);
	CHECK(store_topic_parts(e->st, (uint32_t)store_topic_find(e->st, "cp", 2)) == 7);
	produce_req(e, 0, 8, 1, "cp", 6, 0);
	CHECK(answer(e, 8, &r));
	produce_resp(&r, &err, &base);
	CHECK(err == 0 && base == 0);
	env_free(e);
}

/* DescribeConfigs v1 of one resource; returns the reader positioned at
 * the config count (after error, message, type, name). */
static int16_t describe(struct env *e, int32_t corr, int16_t ver, int8_t type, const char *name,
                        const char *key, struct kr *r)
{
	struct kw w;
	struct kstr s;

	req_begin(&w, API_DESCRIBE_CONFIGS, ver, corr);
	kw_i32(&w, 1);
	kw_i8(&w, type);
	put_s(&w, name);
	if (key) {
		kw_i32(&w, 1);
		put_s(&w, key);
	} else {
		kw_i32(&w, -1);
	}
	if (ver >= 1)
		kw_i8(&w, 0);
	req_send(e, 0, &w);
	if (!answer(e, corr, r))
		return -200;
	CHECK(kr_i32(r) == 0 && kr_i32(r) == 1);
	int16_t err = kr_i16(r);
	kr_str(r, &s);
	CHECK(err ? s.len > 0 : s.len == -1);
	CHECK(kr_i8(r) == type);
	kr_str(r, &s);
	CHECK(str_is(&s, name));
	return err;
}

/* Value and source of key in a v1 topic description (all keys). */
static bool topic_config(struct env *e, int32_t corr, const char *topic, const char *key,
                         const char *val, int8_t src)
{
	struct kr r;
	struct kstr k, v;
	bool found = false;

	if (describe(e, corr, 1, 2, topic, NULL, &r))
		return false;
	int32_t n = kr_i32(&r);
	CHECK(n == 9); /* the five, and the four compaction configs (issue 17) */
	for (int32_t i = 0; i < n; i++) {
		kr_str(&r, &k);
		kr_str(&r, &v);
		CHECK(kr_i8(&r) == 0); /* read-only */
		int8_t s = kr_i8(&r);
		CHECK(kr_i8(&r) == 0 && kr_i32(&r) == 0); /* sensitive, synonyms */
		if (str_is(&k, key))
			found = str_is(&v, val) && s == src;
	}
	CHECK(!r.bad && r.off == r.n);
	return found;
}

/* (Incremental)AlterConfigs of one topic resource with one or two
 * entries; op < 0: AlterConfigs v0 (no operation byte). */
static int16_t alter(struct env *e, int32_t corr, int8_t type, const char *name, int8_t op1,
                     const char *k1, const char *v1, int8_t op2, const char *k2, const char *v2)
{
	struct kw w;
	struct kr r;
	struct kstr s;
	bool incr = op1 >= 0;

	req_begin(&w, incr ? API_INCR_ALTER_CONFIGS : API_ALTER_CONFIGS, 0, corr);
	kw_i32(&w, 1);
	kw_i8(&w, type);
	put_s(&w, name);
	kw_i32(&w, k2 ? 2 : 1);
	put_s(&w, k1);
	if (incr)
		kw_i8(&w, op1);
	put_s(&w, v1);
	if (k2) {
		put_s(&w, k2);
		if (incr)
			kw_i8(&w, op2);
		put_s(&w, v2);
	}
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	if (!answer(e, corr, &r))
		return -200;
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 1);
	int16_t err = kr_i16(&r);
	kr_str(&r, &s);
	CHECK(err ? s.len > 0 : s.len == -1);
	CHECK(kr_i8(&r) == type);
	kr_str(&r, &s);
	CHECK(str_is(&s, name) && !r.bad && r.off == r.n);
	return err;
}

static void t_configs(void)
{
	struct env *e = env_new();
	struct kr r;
	struct kstr k, v;
	int16_t err;
	int64_t base;

	CHECK(create_one(e, 1, "cf", 1, "retention.ms", "1000") == 0);
	CHECK(topic_config(e, 2, "cf", "retention.ms", "1000", 1));
	CHECK(topic_config(e, 3, "cf", "cleanup.policy", "delete", 5));
	CHECK(topic_config(e, 4, "cf", "retention.bytes", "-1", 5));
	CHECK(topic_config(e, 5, "cf", "max.message.bytes", "1048576", 5));
	/* v0 with one key: name, value, read_only, is_default, sensitive */
	CHECK(describe(e, 6, 0, 2, "cf", "retention.ms", &r) == 0);
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &k);
	kr_str(&r, &v);
	CHECK(str_is(&k, "retention.ms") && str_is(&v, "1000"));
	CHECK(kr_i8(&r) == 0 && kr_i8(&r) == 0 && kr_i8(&r) == 0);
	CHECK(!r.bad && r.off == r.n);
	CHECK(describe(e, 7, 1, 2, "nope", NULL, &r) == KERR_UNKNOWN_TP);
	CHECK(describe(e, 8, 1, 4, "7", NULL, &r) == KERR_INVALID_REQUEST);
	CHECK(describe(e, 9, 1, 3, "x", NULL, &r) == KERR_INVALID_REQUEST);
	CHECK(describe(e, 10, 1, 4, "1", "num.partitions", &r) == 0);
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &k);
	kr_str(&r, &v);
	CHECK(str_is(&k, "num.partitions") && str_is(&v, "4"));
	CHECK(kr_i8(&r) == 1 && kr_i8(&r) == 4); /* read-only, static */
	/* AlterConfigs replaces every override */
	CHECK(alter(e, 11, 2, "cf", -1, "retention.bytes", "100", 0, NULL, NULL) == 0);
	CHECK(topic_config(e, 12, "cf", "retention.bytes", "100", 1));
	CHECK(topic_config(e, 13, "cf", "retention.ms", "604800000", 5));
	CHECK(alter(e, 14, 2, "cf", -1, "retention.ms", "-5", 0, NULL, NULL) ==
	      KERR_INVALID_CONFIG);
	CHECK(alter(e, 15, 2, "cf", -1, "retention.ms", NULL, 0, NULL, NULL) ==
	      KERR_INVALID_CONFIG);
	CHECK(topic_config(e, 16, "cf", "retention.bytes", "100", 1));
	CHECK(alter(e, 17, 4, "1", -1, "num.partitions", "3", 0, NULL, NULL) ==
	      KERR_INVALID_REQUEST);
	CHECK(alter(e, 18, 2, "nope", -1, "retention.ms", "1", 0, NULL, NULL) == KERR_UNKNOWN_TP);
	/* incremental: APPEND to a list, DELETE back to the default */
	CHECK(alter(e, 19, 2, "cf", 2, "cleanup.policy", "compact", 1, "retention.bytes", NULL) ==
	      0);
	CHECK(topic_config(e, 20, "cf", "cleanup.policy", "compact,delete", 1));
	CHECK(topic_config(e, 21, "cf", "retention.bytes", "-1", 5));
	CHECK(alter(e, 22, 2, "cf", 2, "retention.ms", "5", -1, NULL, NULL) == KERR_INVALID_CONFIG);
	CHECK(alter(e, 23, 2, "cf", 3, "cleanup.policy", "compact,delete", -1, NULL, NULL) ==
	      KERR_INVALID_CONFIG);
	CHECK(alter(e, 24, 2, "cf", 7, "retention.ms", "5", -1, NULL, NULL) == KERR_INVALID_CONFIG);
	CHECK(alter(e, 25, 2, "cf", 0, "max.message.bytes", "50", -1, NULL, NULL) == 0);
	produce_req(e, 0, 26, 1, "cf", 0, 0);
	CHECK(answer(e, 26, &r));
	produce_resp(&r, &err, &base);
	CHECK(err == KERR_TOO_LARGE && store_part_end(tpart(e, "cf", 0)) == 0);
	env_restart(e);
	CHECK(topic_config(e, 27, "cf", "cleanup.policy", "compact,delete", 1));
	CHECK(topic_config(e, 28, "cf", "max.message.bytes", "50", 1));
	CHECK(topic_config(e, 29, "cf", "retention.ms", "604800000", 5));
	env_free(e);
}

/* DeleteRecords v1 of (part, offset) pairs of one topic. */
static void delete_records(struct env *e, int32_t corr, const char *topic, int32_t n,
                           const int32_t *parts, const int64_t *offs, int64_t *low, int16_t *errs)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	req_begin(&w, API_DELETE_RECORDS, 1, corr);
	kw_i32(&w, 1);
	put_s(&w, topic);
	kw_i32(&w, n);
	for (int32_t i = 0; i < n; i++) {
		kw_i32(&w, parts[i]);
		kw_i64(&w, offs[i]);
	}
	kw_i32(&w, 1000);
	req_send(e, 0, &w);
	CHECK(answer(e, corr, &r));
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == n);
	for (int32_t i = 0; i < n; i++) {
		CHECK(kr_i32(&r) == parts[i]);
		low[i] = kr_i64(&r);
		errs[i] = kr_i16(&r);
	}
	CHECK(!r.bad && r.off == r.n);
}

static void t_delete_records(void)
{
	struct env *e = env_new();
	struct kr r;
	int64_t low[3], hwm;
	int16_t errs[3], err;
	const int32_t parts[3] = {0, 1, 9};
	const int64_t offs[3] = {2, -1, 0};

	metadata_req(e, 0, 1, "dr", true);
	for (int32_t c = 2; c < 5; c++)
		produce_req(e, 0, c, 1, "dr", 0, 0);
	CHECK(answer(e, 1, &r));
	for (int32_t c = 2; c < 5; c++)
		CHECK(resp_next(e, 0, c, &r));
	uint32_t flushes = e->d->flushes;
	delete_records(e, 5, "dr", 3, parts, offs, low, errs);
	CHECK(e->d->flushes > flushes); /* answered once durable */
	CHECK(errs[0] == 0 && low[0] == 2);
	CHECK(errs[1] == 0 && low[1] == 0);
	CHECK(errs[2] == KERR_UNKNOWN_TP && low[2] == -1);
	const int64_t past[1] = {9};
	delete_records(e, 6, "dr", 1, parts, past, low, errs);
	CHECK(errs[0] == KERR_OFFSET_RANGE && low[0] == -1);
	delete_records(e, 7, "nope", 1, parts, offs, low, errs);
	CHECK(errs[0] == KERR_UNKNOWN_TP);
	fetch_req(e, 0, 8, "dr", 1, 0);
	CHECK(answer(e, 8, &r));
	fetch_resp(&r, &err, &hwm);
	CHECK(err == KERR_OFFSET_RANGE && hwm == 3);
	env_restart(e);
	CHECK(store_part_start(tpart(e, "dr", 0)) == 2);
	fetch_req(e, 0, 9, "dr", 2, 0);
	CHECK(answer(e, 9, &r));
	struct kbytes rec = fetch_resp(&r, &err, &hwm);
	CHECK(err == 0 && rec.len == 81);
	env_free(e);
}

/* A one-member consumer group "grp", Stable with assignment "ASSIGN-A". */
static void stable_group(struct env *e, int32_t corr, char *mid)
{
	struct kw w;
	struct kr r;
	struct kstr lead, me, proto;

	req_begin(&w, API_JOIN, 5, corr);
	put_s(&w, "grp");
	kw_i32(&w, 10000);
	kw_i32(&w, 20000);
	put_s(&w, "");
	put_s(&w, NULL);
	put_s(&w, "consumer");
	kw_i32(&w, 1);
	put_s(&w, "range");
	/* consumer subscription v0: topics ["t"], no user data */
	static const uint8_t sub[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0xff, 0xff, 0xff, 0xff};
	kw_bytes(&w, sub, sizeof(sub));
	req_send(e, 0, &w);
	pump(e);
	t_clock += 400;
	CHECK(answer(e, corr, &r));
	CHECK(kr_i32(&r) == 0 && kr_i16(&r) == 0 && kr_i32(&r) == 1);
	kr_str(&r, &proto);
	kr_str(&r, &lead);
	kr_str(&r, &me);
	memcpy(mid, me.p, (size_t)me.len);
	mid[me.len] = 0;
	req_begin(&w, API_SYNC, 3, corr + 1);
	put_s(&w, "grp");
	kw_i32(&w, 1);
	put_s(&w, mid);
	put_s(&w, NULL);
	kw_i32(&w, 1);
	put_s(&w, mid);
	kw_bytes(&w, "ASSIGN-A", 8);
	req_send(e, 0, &w);
	CHECK(answer(e, corr + 1, &r));
}

static void t_group_admin(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;
	struct kstr s, t;
	struct kbytes by;
	char mid[100];

	metadata_req(e, 0, 1, "t", true);
	CHECK(answer(e, 1, &r));
	stable_group(e, 2, mid);
	CHECK(commit(e, 4, "solo", "t", 0, 5) == 0);
	CHECK(commit(e, 5, "keep", "t", 0, 6) == 0);
	CHECK(commit(e, 6, "keep", "t", 1, 7) == 0);
	/* ListGroups v2: throttle, error, [id, protocol type] */
	req_begin(&w, API_LIST_GROUPS, 2, 7);
	req_send(e, 0, &w);
	CHECK(answer(e, 7, &r));
	CHECK(kr_i32(&r) == 0 && kr_i16(&r) == 0 && kr_i32(&r) == 3);
	int seen = 0;
	for (int i = 0; i < 3; i++) {
		kr_str(&r, &s);
		kr_str(&r, &t);
		seen += str_is(&s, "grp") && str_is(&t, "consumer");
		seen += str_is(&s, "solo") && t.len == 0;
	}
	CHECK(seen == 2 && !r.bad && r.off == r.n);
	/* DescribeGroups v4 */
	req_begin(&w, API_DESCRIBE_GROUPS, 4, 8);
	kw_i32(&w, 4);
	put_s(&w, "grp");
	put_s(&w, "solo");
	put_s(&w, "zz");
	put_s(&w, "");
	kw_i8(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 8, &r));
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 4);
	CHECK(kr_i16(&r) == 0);
	kr_str(&r, &s);
	CHECK(str_is(&s, "grp"));
	kr_str(&r, &s);
	CHECK(str_is(&s, "Stable"));
	kr_str(&r, &s);
	CHECK(str_is(&s, "consumer"));
	kr_str(&r, &s);
	CHECK(str_is(&s, "range"));
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(str_is(&s, mid));
	kr_str(&r, &s);
	CHECK(s.len == -1); /* group instance id */
	kr_str(&r, &s);
	CHECK(str_is(&s, "test")); /* client id of the join */
	kr_str(&r, &s);
	kr_bytes(&r, &by);
	CHECK(by.len == 13 && by.p[8] == 't');
	kr_bytes(&r, &by);
	CHECK(by.len == 8 && !memcmp(by.p, "ASSIGN-A", 8));
	CHECK(kr_i32(&r) == INT32_MIN);
	const char *const st[2] = {"Empty", "Dead"};
	for (int i = 0; i < 2; i++) {
		CHECK(kr_i16(&r) == 0);
		kr_str(&r, &s);
		kr_str(&r, &s);
		CHECK(str_is(&s, st[i]));
		kr_str(&r, &s);
		kr_str(&r, &s);
		CHECK(kr_i32(&r) == 0 && kr_i32(&r) == INT32_MIN);
	}
	CHECK(kr_i16(&r) == KERR_GROUP_ID);
	/* OffsetDelete v0 */
	req_begin(&w, API_OFFSET_DELETE, 0, 9);
	put_s(&w, "grp");
	kw_i32(&w, 1);
	put_s(&w, "t");
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 9, &r));
	CHECK(kr_i16(&r) == 0 && kr_i32(&r) == 0 && kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == 0 && kr_i16(&r) == KERR_GROUP_SUBSCRIBED);
	req_begin(&w, API_OFFSET_DELETE, 0, 10);
	put_s(&w, "keep");
	kw_i32(&w, 2);
	put_s(&w, "t");
	kw_i32(&w, 2);
	kw_i32(&w, 0);
	kw_i32(&w, 9);
	put_s(&w, "nope");
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 10, &r));
	CHECK(kr_i16(&r) == 0 && kr_i32(&r) == 0 && kr_i32(&r) == 2);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 2 && kr_i32(&r) == 0 && kr_i16(&r) == 0);
	CHECK(kr_i32(&r) == 9 && kr_i16(&r) == KERR_UNKNOWN_TP);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == 0 && kr_i16(&r) == KERR_UNKNOWN_TP);
	req_begin(&w, API_OFFSET_DELETE, 0, 11);
	put_s(&w, "nope");
	kw_i32(&w, 0);
	req_send(e, 0, &w);
	CHECK(answer(e, 11, &r));
	CHECK(kr_i16(&r) == KERR_GROUP_NOT_FOUND && kr_i32(&r) == 0 && kr_i32(&r) == 0);
	CHECK(committed(e, 12, "keep", "t", 0) == -1);
	CHECK(committed(e, 13, "keep", "t", 1) == 7);
	/* DeleteGroups v1 */
	req_begin(&w, API_DELETE_GROUPS, 1, 14);
	kw_i32(&w, 4);
	put_s(&w, "grp");
	put_s(&w, "solo");
	put_s(&w, "zz");
	put_s(&w, "");
	req_send(e, 0, &w);
	CHECK(answer(e, 14, &r));
	CHECK(kr_i32(&r) == 0 && kr_i32(&r) == 4);
	const int16_t gerr[4] = {KERR_NON_EMPTY_GROUP, 0, KERR_GROUP_NOT_FOUND, KERR_GROUP_ID};
	for (int i = 0; i < 4; i++) {
		kr_str(&r, &s);
		CHECK(kr_i16(&r) == gerr[i]);
	}
	CHECK(!r.bad && r.off == r.n);
	CHECK(committed(e, 15, "solo", "t", 0) == -1);
	env_restart(e);
	CHECK(committed(e, 16, "solo", "t", 0) == -1);
	CHECK(committed(e, 17, "keep", "t", 0) == -1);
	CHECK(committed(e, 18, "keep", "t", 1) == 7);
	env_free(e);
}

/* --no-auto-create: Metadata answers UNKNOWN_TOPIC_OR_PARTITION and
 * creates nothing; CreateTopics still works; the broker config says so. */
static void t_no_auto_create(void)
{
	struct env *e;
	struct kr r;
	struct kstr k, v;

	env_no_auto = true;
	e = env_new();
	metadata_req(e, 0, 1, "x", true);
	CHECK(answer(e, 1, &r));
	CHECK(topic_error(e, 2, "x") == KERR_UNKNOWN_TP);
	CHECK(store_topic_find(e->st, "x", 1) < 0);
	CHECK(create_one(e, 3, "x", 2, NULL, NULL) == 0);
	CHECK(topic_error(e, 4, "x") == 0);
	CHECK(describe(e, 5, 1, 4, "", "auto.create.topics.enable", &r) == 0);
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &k);
	kr_str(&r, &v);
	CHECK(str_is(&v, "false"));
	env_free(e);
	env_no_auto = false;
}

static uint32_t put_varint(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^
	             (v < 0 ? ~0ull : 0); /* zigzag, without shifting a negative value */
	uint32_t n = 0;

	while (z >= 0x80) {
		p[n++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (uint8_t)z;
	return n;
}

/* A one-record batch with a vlen-byte value and timestamp ts, CRC set. */
static uint32_t big_batch(uint8_t *b, uint32_t vlen, int64_t ts)
{
	uint8_t rec[16];
	uint32_t h = 0, n, body;

	rec[h++] = 0; /* attributes */
	h += put_varint(rec + h, 0);
	h += put_varint(rec + h, 0);
	h += put_varint(rec + h, -1); /* null key */
	h += put_varint(rec + h, vlen);
	body = h + vlen + 1;
	memset(b, 0, 61);
	n = 61 + put_varint(b + 61, body);
	memcpy(b + n, rec, h);
	memset(b + n + h, 'v', vlen);
	b[n + h + vlen] = 0; /* no headers */
	n += body;
	for (int i = 0; i < 4; i++)
		b[8 + i] = (uint8_t)((n - 12) >> (24 - 8 * i));
	b[16] = 2;
	put_be64(b + 27, (uint64_t)ts);
	put_be64(b + 35, (uint64_t)ts);
	memset(b + 43, 0xff, 14);
	b[60] = 1;
	uint32_t crc = store_crc32c(0, b + 21, n - 21);
	for (int i = 0; i < 4; i++)
		b[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
	return n;
}

/* Produce count 300 KB batches with timestamp ts to partition 0 of topic. */
static void produce_big(struct env *e, int32_t *corr, const char *topic, int count, int64_t ts)
{
	static uint8_t b[310000];
	struct kw w;
	struct kr r;
	int16_t err;
	int64_t base;

	for (int i = 0; i < count; i++) {
		uint32_t n = big_batch(b, 300000, ts);
		req_begin(&w, API_PRODUCE, 7, ++*corr);
		kw_str(&w, NULL, -1);
		kw_i16(&w, 1);
		kw_i32(&w, 30000);
		kw_i32(&w, 1);
		put_s(&w, topic);
		kw_i32(&w, 1);
		kw_i32(&w, 0);
		kw_bytes(&w, b, (int32_t)n);
		req_send(e, 0, &w);
		CHECK(answer(e, *corr, &r));
		produce_resp(&r, &err, &base);
		CHECK(err == 0);
	}
}

/* Size-based retention: whole old segments go while the partition keeps
 * at least retention.bytes; the active segment stays; compact-only
 * topics and the defaults keep everything. 2 MiB segments hold six
 * 300 KB batches. */
static void t_retention_bytes(void)
{
	struct env *e = env_new();
	int32_t corr = 10;
	struct kr r;
	int16_t err;
	int64_t hwm;
	uint64_t bytes;
	int64_t ts;

	CHECK(create_one(e, 1, "rs", 1, "retention.bytes", "1000000") == 0);
	CHECK(create_one(e, 2, "rc", 1, "retention.bytes", "1000000") == 0);
	CHECK(alter(e, 3, 2, "rc", 0, "cleanup.policy", "compact", -1, NULL, NULL) == 0);
	produce_big(e, &corr, "rs", 15, 1);
	produce_big(e, &corr, "rc", 15, 1);
	t_clock += 1100;
	pump(e);
	struct store_part *p = tpart(e, "rs", 0);
	CHECK(store_part_start(p) == 6 && store_part_end(p) == 15);
	CHECK(store_part_bytes(e->st, p) >= 1000000);
	CHECK(store_part_oldest(e->st, p, &bytes, &ts) &&
	      store_part_bytes(e->st, p) - bytes < 1000000);
	CHECK(store_part_start(tpart(e, "rc", 0)) == 0);
	fetch_req(e, 0, ++corr, "rs", 0, 0);
	CHECK(answer(e, corr, &r));
	fetch_resp(&r, &err, &hwm);
	CHECK(err == KERR_OFFSET_RANGE && hwm == 15);
	/* -1: unlimited */
	CHECK(alter(e, ++corr, 2, "rs", 0, "retention.bytes", "-1", -1, NULL, NULL) == 0);
	produce_big(e, &corr, "rs", 6, 1);
	t_clock += 1100;
	pump(e);
	CHECK(store_part_start(p) == 6);
	env_free(e);
}

/* Time-based retention: a segment goes once its newest batch timestamp
 * is more than retention.ms behind the wall clock; never the active one. */
static void t_retention_ms(void)
{
	struct env *e = env_new();
	int32_t corr = 10;

	CHECK(create_one(e, 1, "rt", 1, "retention.ms", "5000") == 0);
	produce_big(e, &corr, "rt", 6, 1000);
	produce_big(e, &corr, "rt", 6, (int64_t)t_clock);
	produce_big(e, &corr, "rt", 1, (int64_t)t_clock);
	struct store_part *p = tpart(e, "rt", 0);
	t_clock += 1100;
	pump(e);
	CHECK(store_part_start(p) == 6);
	t_clock += 10000;
	pump(e);
	CHECK(store_part_start(p) == 12 && store_part_end(p) == 13);
	t_clock += 100000;
	pump(e);
	CHECK(store_part_start(p) == 12); /* the active segment stays */
	env_free(e);
}

/* Standalone commit of partitions 0..n-1 of topic for group: offset
 * base + k, metadata of mlen bytes of letter. */
static void commit_many(struct env *e, int32_t corr, const char *group, const char *topic,
                        int32_t n, int64_t base, char letter, int32_t mlen)
{
	static char meta[4096];
	struct kw w;
	struct kr r;

	memset(meta, letter, sizeof(meta));
	req_begin(&w, API_OFFSET_COMMIT, 7, corr);
	put_s(&w, group);
	kw_i32(&w, -1);
	put_s(&w, "");
	put_s(&w, NULL);
	kw_i32(&w, 1);
	put_s(&w, topic);
	kw_i32(&w, n);
	for (int32_t k = 0; k < n; k++) {
		kw_i32(&w, k);
		kw_i64(&w, base + k);
		kw_i32(&w, -1);
		kw_str(&w, meta, mlen);
	}
	req_send(e, 0, &w);
	CHECK(answer(e, corr, &r));
}

/* The metadata log is pinned and compacted: once it spans three segments
 * a snapshot restates the state and the segments before it are dropped;
 * after a restart everything logged before the snapshot (topic configs,
 * a DeleteRecords log start, the producer id block, committed offsets
 * with their metadata) is still in force. */
static void t_meta_log_compaction(void)
{
	struct env *e = env_new();
	struct kr r;
	int64_t pid, low[1];
	int16_t err, errs[1];
	const int32_t parts[1] = {0};
	const int64_t offs[1] = {2};

	CHECK(create_one(e, 1, "cfg", 1, "retention.ms", "1234567") == 0);
	CHECK(create_one(e, 2, "big", 128, NULL, NULL) == 0);
	CHECK(create_one(e, 8, "fill", 1, NULL, NULL) == 0);
	for (int32_t c = 3; c < 6; c++) {
		produce_req(e, 0, c, 1, "big", 0, 0);
		CHECK(answer(e, c, &r));
	}
	delete_records(e, 6, "big", 1, parts, offs, low, errs);
	CHECK(errs[0] == 0 && low[0] == 2);
	struct kw w;
	req_begin(&w, API_INIT_PID, 1, 7);
	kw_str(&w, NULL, -1);
	kw_i32(&w, 1000);
	req_send(e, 0, &w);
	CHECK(answer(e, 7, &r));
	struct store_part *lp = e->b->offsets_part;
	for (int32_t round = 0; round < 12; round++)
		commit_many(e, 10 + round, "g1", "big", 128, round * 1000, (char)('a' + round),
		            4000);
	/* then enough of another group that g1's records are all in
	 * segments the compaction drops: only the snapshot keeps them */
	for (int32_t round = 0; round < 8; round++)
		commit_many(e, 100 + round, "g2", "big", 128, round, 'z', 4000);
	CHECK(store_part_nsegs(lp) >= 3);
	t_clock += 1100;
	pump(e);
	CHECK(store_part_nsegs(lp) <= 2 && store_part_start(lp) > 0);
	/* fill every free segment, so the dropped ones are really reused
	 * (a dropped segment not yet reused would come back at recovery) */
	int32_t corr = 300;
	struct store_stats st;
	for (int i = 0; i < 40; i++) {
		store_get_stats(e->st, &st);
		if (st.segments_used == st.segments)
			break;
		produce_big(e, &corr, "fill", 1, 1);
	}
	produce_big(e, &corr, "fill", 6, 1);
	env_restart(e);
	int id = store_topic_find(e->st, "cfg", 3);
	CHECK(id >= 0 && e->b->tconf[id].retention_ms == 1234567);
	CHECK(store_part_start(tpart(e, "big", 0)) == 2);
	for (int32_t k = 0; k < 128; k += 37) {
		CHECK(committed(e, 30 + k, "g1", "big", k) == 11000 + k);
		CHECK(committed(e, 31 + k, "g2", "big", k) == 7 + k);
	}
	int16_t epoch;
	(void)epoch;
	req_begin(&w, API_INIT_PID, 1, 200);
	kw_str(&w, NULL, -1);
	kw_i32(&w, 1000);
	req_send(e, 0, &w);
	CHECK(answer(e, 200, &r));
	CHECK(kr_i32(&r) == 0 && kr_i16(&r) == 0);
	pid = kr_i64(&r);
	CHECK(pid >= 1000);
	(void)err;
	env_free(e);
}

/* message.timestamp.type=LogAppendTime: the stored batch carries the
 * LogAppendTime attribute and the broker's time as MaxTimestamp with a
 * valid CRC, and the produce response reports that time. */
static void t_log_append_time(void)
{
	struct env *e = env_new();
	struct kr r;
	struct kstr s;
	int16_t err;
	int64_t hwm;

	CHECK(create_one(e, 1, "bad", 1, "message.timestamp.type", "Foo") == KERR_INVALID_CONFIG);
	CHECK(create_one(e, 2, "lat", 1, "message.timestamp.type", "LogAppendTime") == 0);
	CHECK(topic_config(e, 3, "lat", "message.timestamp.type", "LogAppendTime", 1));
	CHECK(create_one(e, 9, "t", 1, NULL, NULL) == 0); /* CreateTime */
	produce_req(e, 0, 4, 1, "lat", 0, 0);
	produce_req(e, 0, 5, 1, "t", 0, 0);
	CHECK(answer(e, 4, &r));
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == 0 && kr_i16(&r) == 0);
	CHECK(kr_i64(&r) == 0 && kr_i64(&r) == (int64_t)t_clock);
	CHECK(resp_next(e, 0, 5, &r));
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(kr_i32(&r) == 1 && kr_i32(&r) == 0 && kr_i16(&r) == 0);
	CHECK(kr_i64(&r) == 0 && kr_i64(&r) == -1);
	fetch_req(e, 0, 6, "lat", 0, 0);
	CHECK(answer(e, 6, &r));
	struct kbytes rec = fetch_resp(&r, &err, &hwm);
	CHECK(err == 0 && rec.len == 81);
	if (rec.len == 81) {
		CHECK((rec.p[22] & 0x08) && get_be64(rec.p + 35) == t_clock);
		CHECK(get_be64(rec.p + 27) == get_be64(example_batch + 27));
		CHECK(get_be32(rec.p + 17) == store_crc32c(0, rec.p + 21, 60));
	}
	CHECK(alter(e, 7, 2, "lat", 1, "message.timestamp.type", NULL, -1, NULL, NULL) == 0);
	CHECK(topic_config(e, 8, "lat", "message.timestamp.type", "CreateTime", 5));
	env_free(e);
}

/* A device failure while the topic table is written: the creation
 * answers KAFKA_STORAGE_ERROR and leaves no topic; its already durable
 * "topic created" record (with configs) does not leak into the next topic
 * created under that id, before or after a restart. */
static void t_create_topic_io_failure(void)
{
	struct env *e = env_new();

	CHECK(create_one(e, 1, "probe", 1, NULL, NULL) == 0);
	uint32_t before = e->d->writes;
	CHECK(create_one(e, 4, "probe2", 1, NULL, NULL) == 0);
	uint32_t per_create = e->d->writes - before; /* record + 2 superblocks */
	CHECK(per_create == 3);
	/* fail the first superblock write: the record is durable, the table not */
	e->d->fail_writes_after = (int)(e->d->writes + per_create - 2);
	CHECK(create_one(e, 2, "half", 1, "retention.ms", "999") == KERR_STORAGE);
	e->d->fail_writes_after = -1;
	CHECK(store_topic_find(e->st, "half", 4) < 0);
	int next = store_topic_next_id(e->st);
	env_restart(e);
	CHECK(store_topic_find(e->st, "half", 4) < 0 && store_topic_next_id(e->st) == next);
	CHECK(create_one(e, 3, "whole", 1, NULL, NULL) == 0);
	int id = store_topic_find(e->st, "whole", 5);
	CHECK(id == next && e->b->tconf[id].retention_ms == 604800000 && !e->b->tconf[id].set);
	env_restart(e);
	CHECK(e->b->tconf[id].retention_ms == 604800000 && !e->b->tconf[id].set);
	env_free(e);
}

/* Malformed admin requests (and ones listing more than
 * ADMIN_MAX_ENTRIES entries) close the connection; the broker keeps
 * serving the others and nothing is created. */
static void t_malformed_admin(void)
{
	struct env *e = env_new();
	static const int16_t keys[] = {
	    API_CREATE_TOPICS,    API_DELETE_TOPICS, API_CREATE_PARTITIONS,
	    API_DESCRIBE_CONFIGS, API_ALTER_CONFIGS, API_INCR_ALTER_CONFIGS,
	    API_DELETE_RECORDS,   API_LIST_GROUPS,   API_DESCRIBE_GROUPS,
	    API_DELETE_GROUPS,    API_OFFSET_DELETE};
	struct kw w;
	struct kr r;

	for (uint32_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct env *f = env_new();
		req_begin(&w, keys[i], 0, 1);
		kw_i32(&w, 1000000); /* an array count no body can hold */
		put_s(&w, "zz");
		kw_patch32(&w, 0, (int32_t)(w.len - 4));
		broker_conn_input(f->b, f->c[0].kc, w.buf, w.len);
		kw_free(&w);
		CHECK(f->c[0].closed);
		CHECK(store_topic_find(f->st, "zz", 2) < 0);
		env_free(f);
	}
	CHECK(create_one(e, 1, "ok", 1, NULL, NULL) == 0);
	/* at most ADMIN_MAX_ENTRIES entries: 1000 validate, 1001 close */
	for (int32_t n = 1000; n <= 1001; n++) {
		req_begin(&w, API_CREATE_TOPICS, 1, 2);
		kw_i32(&w, n);
		for (int32_t i = 0; i < n; i++) {
			char name[16];
			snprintf(name, sizeof(name), "m%d", i);
			ct_topic(&w, name, 1, 1, NULL, NULL, NULL, NULL);
		}
		kw_i32(&w, 1000);
		kw_i8(&w, 1);
		kw_patch32(&w, 0, (int32_t)(w.len - 4));
		broker_conn_input(e->b, e->c[1].kc, w.buf, w.len);
		kw_free(&w);
		CHECK(e->c[1].closed == (n > 1000));
	}
	CHECK(resp_next(e, 1, 2, &r));
	CHECK(kr_i32(&r) == 1000); /* v1: no throttle field */
	env_free(e);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("admin_create_topics_every_error_and_v0_layout", t_create_topics);
	kt_add("admin_delete_topics_reclaims_and_recreated_topic_is_empty", t_delete_topics);
	kt_add("admin_create_partitions", t_create_partitions);
	kt_add("admin_describe_alter_incremental_configs_persist", t_configs);
	kt_add("admin_delete_records_moves_log_start_durably", t_delete_records);
	kt_add("admin_list_describe_delete_groups_offset_delete", t_group_admin);
	kt_add("admin_no_auto_create_option", t_no_auto_create);
	kt_add("admin_log_append_time_topic_option", t_log_append_time);
	kt_add("admin_create_topic_io_failure_leaves_no_topic", t_create_topic_io_failure);
	kt_add("retention_bytes_drops_whole_old_segments", t_retention_bytes);
	kt_add("retention_ms_drops_expired_segments", t_retention_ms);
	kt_add("meta_log_compacts_and_restart_keeps_state", t_meta_log_compaction);
	kt_add("admin_malformed_requests_close_connection", t_malformed_admin);
	return kt_main(NULL, 0, argc, argv);
}
