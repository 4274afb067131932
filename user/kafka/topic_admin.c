/* Topic administration: CreateTopics v0-7, DeleteTopics v0-5,
 * CreatePartitions v0-3 and DeleteRecords v0-2 (flexible from v5, v4, v2
 * and v2), plus the topic creation
 * that Metadata's auto-creation shares. Every request is decoded whole
 * before anything changes; each topic then succeeds or fails alone. */
#include <lib/string.h>

#include "broker_int.h"

/* Create a topic with its configs. The "topic created" record (id and
 * configs) is made durable before the topic table names the topic, so
 * a restart never sees the topic without its configs, and the record
 * also marks every older record about this id as stale (a deleted
 * topic's offsets and configs). Returns the id or a negated error. */
int topic_create(struct broker *b, const struct kstr *name, uint32_t parts,
                 const struct tconf *conf)
{
	int id = store_topic_next_id(b->st);
	struct kw w;

	if (id < 0) {
		broker_log(b, "broker: topic table full", "", STORE_MAX_TOPICS);
		return -KERR_INVALID_REQUEST;
	}
	kw_init(&w, &b->al);
	kw_i32(&w, META_TOPIC_NEW);
	kw_i32(&w, id);
	topic_conf_encode(&w, conf);
	if (!meta_append(b, &w) || meta_sync(b))
		return -KERR_STORAGE;
	if (store_topic_create(b->st, name->p, (uint32_t)name->len, parts) != id) {
		broker_log(b, "broker: topic creation failed", "", id);
		return -KERR_STORAGE;
	}
	b->tconf[id] = *conf;
	group_drop_topic(b, (uint32_t)id);
	prod_drop_topic(b, (uint32_t)id);
	api_fetch_drop_topic(b, (uint32_t)id);
	broker_log(b, "broker: created topic, partitions", "", parts);
	return id;
}

static const uint8_t no_uuid[16];

/* CreateTopics topic entry, decoded. */
struct ct_topic {
	struct kstr name;
	int32_t parts;
	int16_t rf;
	int32_t nassign;
	struct kr assign, configs;
	int32_t nconfigs;
};

static void ct_read(struct kr *r, struct ct_topic *t)
{
	struct kstr s;

	kr_str(r, &t->name);
	t->parts = kr_i32(r);
	t->rf = kr_i16(r);
	t->nassign = kr_array(r, r->flex ? 6 : 8, false);
	t->assign = *r;
	for (int32_t i = 0; i < t->nassign && !r->bad; i++) {
		(void)kr_i32(r);
		int32_t nb = kr_array(r, 4, false);
		for (int32_t k = 0; k < nb; k++)
			(void)kr_i32(r);
		kr_tags(r);
	}
	t->nconfigs = kr_array(r, r->flex ? 3 : 4, false);
	t->configs = *r;
	for (int32_t i = 0; i < t->nconfigs && !r->bad; i++) {
		kr_str(r, &s);
		kr_str(r, &s);
		kr_tags(r);
	}
	kr_tags(r);
}

/* Explicit assignments: partitions 0..n-1 in order, each on this node
 * only (one node: replication factor 1). */
static int16_t ct_assign(struct broker *b, struct ct_topic *t, const char **msg)
{
	struct kr r = t->assign;

	if (t->parts != -1 || t->rf != -1) {
		*msg = "with assignments, num_partitions and replication_factor must be -1";
		return KERR_INVALID_REQUEST;
	}
	for (int32_t i = 0; i < t->nassign; i++) {
		int32_t idx = kr_i32(&r), nb = kr_array(&r, 4, false);
		int32_t node = nb == 1 ? kr_i32(&r) : -1;
		for (int32_t k = 1; k < nb; k++)
			(void)kr_i32(&r);
		kr_tags(&r);
		if (idx != i || nb != 1 || node != b->cfg.node_id) {
			*msg = "each partition must be assigned to this broker only";
			return KERR_INVALID_ASSIGNMENT;
		}
	}
	t->parts = t->nassign;
	return KERR_NONE;
}

/* All checks for one new topic, in Kafka's order; fills *conf. */
static int16_t ct_check(struct broker *b, struct ct_topic *t, bool dup, struct tconf *conf,
                        const char **msg)
{
	struct kr r = t->configs;
	int16_t err;

	if (dup) {
		*msg = "topic listed more than once";
		return KERR_INVALID_REQUEST;
	}
	if (!topic_name_valid(&t->name) || topic_is_internal(t->name.p, (uint32_t)t->name.len)) {
		*msg = "topic names are 1-249 of [a-zA-Z0-9._-], not . or ..";
		return KERR_INVALID_TOPIC;
	}
	if (store_topic_find(b->st, t->name.p, (uint32_t)t->name.len) >= 0) {
		*msg = "topic already exists";
		return KERR_TOPIC_EXISTS;
	}
	if (t->nassign > 0 && (err = ct_assign(b, t, msg)))
		return err;
	if (t->parts == -1)
		t->parts = (int32_t)b->cfg.default_parts;
	if (t->parts <= 0 || t->parts > (int32_t)STORE_MAX_PARTS) {
		*msg = "partition count must be 1..1024 (or -1: the default)";
		return KERR_INVALID_PARTITIONS;
	}
	if (t->rf != 1 && t->rf != -1 && t->nassign == 0) {
		*msg = "replication factor must be 1 (or -1): this is a single broker";
		return KERR_INVALID_REPLICATION;
	}
	topic_conf_default(conf);
	for (int32_t i = 0; i < t->nconfigs; i++) {
		struct kstr k, v;
		kr_str(&r, &k);
		kr_str(&r, &v);
		kr_tags(&r);
		if ((err = topic_conf_set(conf, &k, &v, msg)))
			return err;
	}
	return KERR_NONE;
}

int api_create_topics(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr all, scan = q->r;
	struct kresp *r;
	struct ct_topic t;
	int32_t n = kr_admin_array(&scan, scan.flex ? 10 : 16);
	bool only = false;

	all = scan;
	for (int32_t i = 0; i < n && !scan.bad; i++)
		ct_read(&scan, &t);
	(void)kr_i32(&scan);
	if (q->ver >= 1)
		only = kr_i8(&scan) != 0;
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (q->ver >= 2)
		kw_i32(&r->w, 0);
	kw_array(&r->w, n);
	scan = all;
	for (int32_t i = 0; i < n; i++) {
		struct tconf conf;
		const char *msg = NULL;
		bool dup = false;
		struct kr probe = all;
		ct_read(&scan, &t);
		for (int32_t j = 0; j < n && !dup; j++) {
			struct ct_topic o;
			ct_read(&probe, &o);
			dup = j != i && o.name.len == t.name.len && t.name.len > 0 &&
			      !memcmp(o.name.p, t.name.p, (size_t)t.name.len);
		}
		int16_t err = ct_check(b, &t, dup, &conf, &msg);
		if (!err && !only) {
			int id = topic_create(b, &t.name, (uint32_t)t.parts, &conf);
			if (id < 0) {
				err = (int16_t)-id;
				msg = "could not create the topic";
			}
		}
		kw_str(&r->w, t.name.p, t.name.len);
		if (q->ver >= 7)
			kw_uuid(&r->w, no_uuid); /* topic ids: none (docs/broker.md) */
		kw_i16(&r->w, err);
		if (q->ver >= 1)
			kw_str(&r->w, msg, msg ? (int32_t)strlen(msg) : -1);
		if (q->ver >= 5) {
			kw_i32(&r->w, err ? -1 : t.parts);
			kw_i16(&r->w, (int16_t)(err ? -1 : 1));
			if (err)
				kw_array(&r->w, -1);
			else
				topic_conf_list(b, &r->w, &conf);
		}
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

int api_delete_topics(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kstr name;
	struct kresp *r;
	int32_t n = kr_admin_array(&scan, scan.flex ? 1 : 2);

	for (int32_t i = 0; i < n && !scan.bad; i++)
		kr_str(&scan, &name);
	(void)kr_i32(&scan);
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	if (q->ver >= 1)
		kw_i32(&r->w, 0);
	n = kr_array(&q->r, 1, false);
	kw_array(&r->w, n);
	for (int32_t i = 0; i < n; i++) {
		kr_str(&q->r, &name);
		int tid = topic_lookup(b, &name, false);
		int16_t err = tid < 0 ? (int16_t)-tid : KERR_NONE;
		if (!err && store_topic_delete(b->st, (uint32_t)tid)) {
			broker_log(b, "broker: topic deletion failed", "", tid);
			err = KERR_STORAGE;
		}
		if (!err) {
			group_drop_topic(b, (uint32_t)tid);
			prod_drop_topic(b, (uint32_t)tid);
			api_fetch_drop_topic(b, (uint32_t)tid);
			topic_conf_default(&b->tconf[tid]);
			b->data_arrived = true; /* parked fetches see it gone */
		}
		kw_str(&r->w, name.p, name.len);
		kw_i16(&r->w, err);
		if (q->ver >= 5)
			kw_str(&r->w, NULL, -1);
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* Checks for one CreatePartitions entry (assignments at *a, na of them). */
static int16_t cp_check(struct broker *b, const struct kstr *name, int32_t count, int32_t na,
                        struct kr a, bool dup, int *tid, const char **msg)
{
	uint32_t cur;

	if (dup) {
		*msg = "topic listed more than once";
		return KERR_INVALID_REQUEST;
	}
	if ((*tid = topic_lookup(b, name, false)) < 0) {
		*msg = "unknown topic";
		return (int16_t) - *tid;
	}
	cur = store_topic_parts(b->st, (uint32_t)*tid);
	if (count <= (int32_t)cur || count > (int32_t)STORE_MAX_PARTS) {
		*msg = count <= (int32_t)cur ? "the count must exceed the current partition count"
		                             : "at most 1024 partitions";
		return KERR_INVALID_PARTITIONS;
	}
	if (na >= 0 && na != count - (int32_t)cur) {
		*msg = "one assignment per new partition";
		return KERR_INVALID_ASSIGNMENT;
	}
	for (int32_t i = 0; i < na; i++) {
		int32_t nb = kr_array(&a, 4, false);
		int32_t node = nb == 1 ? kr_i32(&a) : -1;
		for (int32_t k = 1; k < nb; k++)
			(void)kr_i32(&a);
		kr_tags(&a);
		if (nb != 1 || node != b->cfg.node_id) {
			*msg = "each partition must be assigned to this broker only";
			return KERR_INVALID_ASSIGNMENT;
		}
	}
	return KERR_NONE;
}

/* Read one CreatePartitions entry; a is left at its assignments. */
static void cp_read(struct kr *r, struct kstr *name, int32_t *count, int32_t *na, struct kr *a)
{
	kr_str(r, name);
	*count = kr_i32(r);
	*na = kr_array(r, r->flex ? 1 : 4, true);
	*a = *r;
	for (int32_t i = 0; i < *na && !r->bad; i++) {
		int32_t nb = kr_array(r, 4, false);
		for (int32_t k = 0; k < nb; k++)
			(void)kr_i32(r);
		kr_tags(r);
	}
	kr_tags(r);
}

int api_create_partitions(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr all, scan = q->r, a;
	struct kstr name;
	struct kresp *r;
	int32_t n = kr_admin_array(&scan, scan.flex ? 7 : 10), count, na;
	bool only;

	all = scan;
	for (int32_t i = 0; i < n && !scan.bad; i++)
		cp_read(&scan, &name, &count, &na, &a);
	(void)kr_i32(&scan);
	only = kr_i8(&scan) != 0;
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kw_i32(&r->w, 0);
	kw_array(&r->w, n);
	scan = all;
	for (int32_t i = 0; i < n; i++) {
		const char *msg = NULL;
		bool dup = false;
		struct kr probe = all, pa;
		struct kstr o;
		int32_t oc, ona;
		int tid;
		cp_read(&scan, &name, &count, &na, &a);
		for (int32_t j = 0; j < n && !dup; j++) {
			cp_read(&probe, &o, &oc, &ona, &pa);
			dup = j != i && o.len == name.len && name.len > 0 &&
			      !memcmp(o.p, name.p, (size_t)name.len);
		}
		int16_t err = cp_check(b, &name, count, na, a, dup, &tid, &msg);
		if (!err && !only && store_topic_add_parts(b->st, (uint32_t)tid, (uint32_t)count)) {
			err = KERR_STORAGE;
			msg = "could not write the topic table";
		}
		kw_str(&r->w, name.p, name.len);
		kw_i16(&r->w, err);
		kw_str(&r->w, msg, msg ? (int32_t)strlen(msg) : -1);
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* One DeleteRecords partition: move the log start, log it; returns 1
 * when a record was logged. */
static int32_t dr_part(struct broker *b, struct kr *rd, struct kresp *r, int tid, void *ctx)
{
	int32_t idx = kr_i32(rd);
	int64_t off = kr_i64(rd);
	(void)ctx;
	kr_tags(rd);
	struct store_part *p =
	    tid >= 0 ? store_part_get(b->st, (uint32_t)tid, (uint32_t)idx) : NULL;
	int16_t err = KERR_NONE;
	int64_t low = -1;
	bool logged = false;

	if (!p)
		err = tid < 0 ? (int16_t)-tid : KERR_UNKNOWN_TP;
	else if (!broker_leads(b, (uint32_t)tid, (uint32_t)idx))
		err = KERR_NOT_LEADER;
	else if (off == -1)
		off = (int64_t)store_part_hwm(p);
	if (!err && (off < 0 || off > (int64_t)store_part_hwm(p)))
		err = KERR_OFFSET_RANGE;
	if (!err && off > (int64_t)store_part_start(p)) {
		struct kw w;
		kw_init(&w, &b->al);
		kw_i32(&w, META_LOG_START);
		kw_i32(&w, tid);
		kw_i32(&w, idx);
		kw_i64(&w, off);
		if (!meta_append(b, &w) || store_part_set_start(b->st, p, (uint64_t)off))
			err = KERR_STORAGE;
		else
			logged = true;
	}
	if (p && !err)
		low = (int64_t)store_part_start(p);
	kw_i32(&r->w, idx);
	kw_i64(&r->w, low);
	kw_i16(&r->w, err);
	kw_tags(&r->w);
	return logged ? 1 : 0;
}

int api_delete_records(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kstr name;
	struct kresp *r;
	int32_t n = kr_admin_array(&scan, scan.flex ? 3 : 6);
	bool logged = false;

	for (int32_t i = 0; i < n && !scan.bad; i++) {
		kr_str(&scan, &name);
		int32_t np = kr_array(&scan, 12, false);
		for (int32_t k = 0; k < np; k++) {
			(void)kr_i32(&scan);
			(void)kr_i64(&scan);
			kr_tags(&scan);
		}
		kr_tags(&scan);
	}
	(void)kr_i32(&scan);
	kr_tags(&scan);
	if (scan.bad || scan.off != scan.n || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kw_i32(&r->w, 0);
	logged = api_each_topic_part(b, &q->r, r, 3, 12, dr_part, NULL) > 0;
	kw_tags(&r->w);
	broker_resp_finish(r);
	if (logged)
		broker_resp_wait_flush(b, r);
	else
		broker_resp_ready(b, r);
	return 0;
}
