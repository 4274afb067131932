/* ApiVersions and Metadata, plus topic lookup with auto-creation. */
#include <lib/string.h>

#include "broker_int.h"

/* Kafka topic-name rule: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool topic_name_valid(const struct kstr *name)
{
	if (name->len <= 0 || name->len > (int32_t)STORE_NAME_MAX)
		return false;
	if ((name->len == 1 && name->p[0] == '.') ||
	    (name->len == 2 && name->p[0] == '.' && name->p[1] == '.'))
		return false;
	for (int32_t i = 0; i < name->len; i++) {
		char ch = name->p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* The broker's own topics are not visible to or usable by clients. */
bool topic_is_internal(const char *name, uint32_t len)
{
	return len == sizeof(OFFSETS_TOPIC) - 1 && !memcmp(name, OFFSETS_TOPIC, len);
}

int32_t api_each_topic_part(struct broker *b, struct kr *rd, struct kresp *r, int32_t min_topic,
                            int32_t min_part, api_part_fn part, void *ctx)
{
	struct kstr name;
	int32_t nt = kr_array(rd, min_topic, false), sum = 0;

	kw_array(&r->w, nt);
	for (int32_t t = 0; t < nt; t++) {
		kr_str(rd, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(rd, min_part, false);
		kw_str(&r->w, name.p, name.len);
		kw_array(&r->w, np);
		for (int32_t k = 0; k < np; k++)
			sum += part(b, rd, r, tid, ctx);
		kr_tags(rd);
		kw_tags(&r->w);
	}
	return sum;
}

/* Topic id, or a negated Kafka error code (never 0 on failure). With
 * create (and auto-creation enabled) a missing topic is created. */
int topic_lookup(struct broker *b, const struct kstr *name, bool create)
{
	struct tconf conf;
	int id;

	if (!topic_name_valid(name) || topic_is_internal(name->p, (uint32_t)name->len))
		return -KERR_INVALID_TOPIC;
	id = store_topic_find(b->st, name->p, (uint32_t)name->len);
	if (id >= 0 || !create)
		return id >= 0 ? id : -KERR_UNKNOWN_TP;
	if (b->cfg.no_auto_create)
		return -KERR_UNKNOWN_TP;
	topic_conf_default(&conf);
	id = topic_create(b, name, b->cfg.default_parts, &conf);
	return id >= 0 ? id : -KERR_UNKNOWN_TP;
}

/* ApiVersions v0-v3. A version above 3 gets the v0-shaped error 35 with
 * our range for key 18, which makes clients retry lower (KIP-511). */
int api_versions(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kresp *r;
	int16_t key, min, max;
	uint32_t n = api_table_get(0, &key, &min, &max);
	int16_t err = KERR_NONE;
	struct kstr sw;

	if (q->ver == 3) {
		kr_skip_tags(&q->r); /* request header v2 */
		kr_cstr(&q->r, &sw);
		kr_cstr(&q->r, &sw);
		kr_skip_tags(&q->r);
		if (q->r.bad)
			err = KERR_INVALID_REQUEST;
	}
	if (!(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (q->ver > 3 || q->ver < 0) {
		kw_i16(&r->w, KERR_UNSUPPORTED_VERSION);
		kw_i32(&r->w, 1);
		kw_i16(&r->w, API_VERSIONS);
		kw_i16(&r->w, 0);
		kw_i16(&r->w, 3);
		goto done;
	}
	kw_i16(&r->w, err);
	if (q->ver >= 3)
		kw_uvarint(&r->w, n + 1);
	else
		kw_i32(&r->w, (int32_t)n);
	for (uint32_t i = 0; i < n; i++) {
		api_table_get(i, &key, &min, &max);
		kw_i16(&r->w, key);
		kw_i16(&r->w, min);
		kw_i16(&r->w, max);
		if (q->ver >= 3)
			kw_uvarint(&r->w, 0);
	}
	if (q->ver >= 1)
		kw_i32(&r->w, 0);
	if (q->ver >= 3)
		kw_uvarint(&r->w, 0);
done:
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

static const uint8_t zero_uuid[16];

/* One topic entry of a Metadata response (v0-v12). Topic ids (v10+) are
 * the zero UUID: the store names topics, it has no ids (docs/broker.md). */
static void meta_topic(struct broker *b, struct kresp *r, int16_t ver, int id,
                       const struct kstr *name)
{
	uint32_t parts = id >= 0 ? store_topic_parts(b->st, (uint32_t)id) : 0;

	kw_i16(&r->w, (int16_t)(id >= 0 ? 0 : -id));
	kw_str(&r->w, name->p, name->len);
	if (ver >= 10)
		kw_uuid(&r->w, zero_uuid);
	if (ver >= 1)
		kw_i8(&r->w, 0);
	kw_array(&r->w, (int32_t)parts);
	for (uint32_t k = 0; k < parts; k++) {
		/* the shard leading the partition (one node per shard) */
		int32_t node =
		    b->cfg.node_id + (int32_t)broker_part_owner(b->cfg.shards, (uint32_t)id, k);
		kw_i16(&r->w, 0);
		kw_i32(&r->w, (int32_t)k);
		kw_i32(&r->w, node);
		if (ver >= 7)
			kw_i32(&r->w, 0); /* leader epoch: one leader, never changes */
		kw_array(&r->w, 1);
		kw_i32(&r->w, node);
		kw_array(&r->w, 1);
		kw_i32(&r->w, node);
		if (ver >= 5)
			kw_array(&r->w, 0); /* offline replicas */
		kw_tags(&r->w);
	}
	if (ver >= 8)
		kw_i32(&r->w, INT32_MIN); /* authorized operations not asked */
	kw_tags(&r->w);
}

/* The brokers array of Metadata (v0-v12) and DescribeCluster (flex, with
 * a rack): one node per shard, node_id + s at adv_port + s. */
static void meta_brokers(struct broker *b, struct kw *w, bool rack)
{
	kw_array(w, (int32_t)b->cfg.shards);
	for (uint32_t s = 0; s < b->cfg.shards; s++) {
		kw_i32(w, b->cfg.node_id + (int32_t)s);
		kw_str(w, b->adv_host, (int32_t)strlen(b->adv_host));
		kw_i32(w, b->cfg.adv_port + (int32_t)s);
		if (rack)
			kw_str(w, NULL, -1);
		kw_tags(w);
	}
}

/* Brokers, cluster id and controller (shard 0's node). */
static void meta_header(struct broker *b, struct kresp *r, int16_t ver)
{
	if (ver >= 3)
		kw_i32(&r->w, 0);
	meta_brokers(b, &r->w, ver >= 1);
	if (ver >= 2)
		kw_str(&r->w, "hallows", 7);
	if (ver >= 1)
		kw_i32(&r->w, b->cfg.node_id);
}

/* One requested topic: v10+ carry a topic id before the (then nullable)
 * name. A lookup by id alone cannot succeed (no ids, see meta_topic). */
static void meta_req_topic(struct kr *r, int16_t ver, struct kstr *name, bool *by_id)
{
	uint8_t id[16];

	*by_id = false;
	if (ver >= 10) {
		kr_uuid(r, id);
		for (int i = 0; i < 16; i++)
			*by_id |= id[i] != 0;
	}
	kr_str(r, name);
	kr_tags(r);
	if (name->len >= 0)
		*by_id = false;
}

/* Every visible topic (request without a topic list). */
static void meta_all(struct broker *b, struct kresp *r, int16_t ver)
{
	uint32_t t = store_topic_count(b->st), shown = 0;
	struct kstr name;

	for (int pass = 0; pass < 2; pass++) {
		if (pass)
			kw_array(&r->w, (int32_t)shown);
		for (uint32_t i = 0; i < t; i++) {
			uint32_t len;
			name.p = store_topic_name(b->st, i, &len);
			name.len = (int32_t)len;
			if (!store_topic_parts(b->st, i) || topic_is_internal(name.p, len))
				continue; /* free slot, or ours */
			if (pass)
				meta_topic(b, r, ver, (int)i, &name);
			else
				shown++;
		}
	}
}

/* Metadata v0-v12; auto-creates requested topics when allowed (always for
 * v0-v3, the request flag from v4). */
int api_metadata(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan;
	int32_t n = kr_array(&q->r, q->ver >= 10 ? 18 : 2, q->ver >= 1);
	struct kstr name;
	bool create = true, by_id;
	struct kresp *r;

	scan = q->r;
	for (int32_t i = 0; i < n && !q->r.bad; i++)
		meta_req_topic(&q->r, q->ver, &name, &by_id);
	if (q->ver >= 4)
		create = kr_i8(&q->r) != 0;
	if (q->ver >= 8 && q->ver <= 10)
		(void)kr_i8(&q->r); /* include cluster authorized operations */
	if (q->ver >= 8)
		(void)kr_i8(&q->r); /* include topic authorized operations */
	kr_tags(&q->r);
	if (q->r.bad)
		return -1;
	if (!(r = broker_resp_new(b, c, q->corr)))
		return -1;
	meta_header(b, r, q->ver);
	if (n < 0 || (n == 0 && q->ver == 0)) {
		meta_all(b, r, q->ver);
	} else {
		kw_array(&r->w, n);
		for (int32_t i = 0; i < n; i++) {
			meta_req_topic(&scan, q->ver, &name, &by_id);
			if (by_id || name.len < 0)
				meta_topic(b, r, q->ver,
				           by_id ? -KERR_UNKNOWN_TOPIC_ID : -KERR_INVALID_TOPIC,
				           &name);
			else
				meta_topic(b, r, q->ver, topic_lookup(b, &name, create), &name);
		}
	}
	if (q->ver >= 8 && q->ver <= 10)
		kw_i32(&r->w, INT32_MIN); /* cluster authorized operations */
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* DescribeCluster v0 (flexible only): one node per shard, shard 0's the
 * controller; authorized operations are never computed. */
int api_describe_cluster(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kresp *r;

	(void)kr_i8(&q->r); /* include cluster authorized operations */
	kr_tags(&q->r);
	if (q->r.bad || q->r.off != q->r.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kw_i32(&r->w, 0);
	kw_i16(&r->w, KERR_NONE);
	kw_str(&r->w, NULL, -1);
	kw_str(&r->w, "hallows", 7);
	kw_i32(&r->w, b->cfg.node_id);
	meta_brokers(b, &r->w, true);
	kw_i32(&r->w, INT32_MIN);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}
