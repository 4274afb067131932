/* Topic configs: validation of retention.ms, retention.bytes,
 * cleanup.policy, max.message.bytes, message.timestamp.type and the
 * compaction configs (min.cleanable.dirty.ratio, delete.retention.ms,
 * min.compaction.lag.ms, segment.ms), DescribeConfigs v0-1 (topic and
 * broker resources), AlterConfigs v0-1 and IncrementalAlterConfigs v0 for
 * topics. Changes are logged (META_TOPIC_CONF) and answered once durable. */
#include <lib/string.h>

#include "broker_int.h"

#define RES_TOPIC            2
#define RES_BROKER           4
#define SRC_DYNAMIC_TOPIC    1
#define SRC_STATIC_BROKER    4
#define SRC_DEFAULT          5
#define DEFAULT_RETENTION_MS 604800000ll /* 7 days, Kafka's default */
#define DEFAULT_DELETE_RET   86400000ll  /* delete.retention.ms: 1 day */
#define DEFAULT_DIRTY_PPM    500000u     /* min.cleanable.dirty.ratio 0.5 */
#define OP_SET               0
#define OP_DELETE            1
#define OP_APPEND            2
#define OP_SUBTRACT          3

void topic_conf_default(struct tconf *c)
{
	c->retention_ms = DEFAULT_RETENTION_MS;
	c->retention_bytes = -1;
	c->max_msg = (int32_t)STORE_MAX_PAYLOAD;
	c->cleanup = CLEANUP_DELETE;
	c->set = 0;
	c->append_time = 0;
	c->dirty_ppm = DEFAULT_DIRTY_PPM;
	c->delete_retention_ms = DEFAULT_DELETE_RET;
	c->min_lag_ms = 0;
	c->segment_ms = DEFAULT_RETENTION_MS; /* segment.ms: 7 days */
}

/* A ratio 0..1 as a decimal ("0.5", "1", ".25", "1.0") in millionths. */
static bool parse_ratio(const struct kstr *s, uint32_t *ppm)
{
	uint64_t ip = 0, frac = 0, scale = 1000000;
	int32_t i = 0;
	bool digits = false;

	for (; i < s->len && s->p[i] >= '0' && s->p[i] <= '9' && i < 3; i++, digits = true)
		ip = ip * 10 + (uint64_t)(s->p[i] - '0');
	if (i < s->len && s->p[i] == '.')
		for (i++; i < s->len && s->p[i] >= '0' && s->p[i] <= '9'; i++, digits = true)
			if (scale > 1) {
				scale /= 10;
				frac += (uint64_t)(s->p[i] - '0') * scale;
			}
	if (!digits || i != s->len || ip > 1 || (ip == 1 && frac))
		return false;
	*ppm = (uint32_t)(ip * 1000000 + frac);
	return true;
}

static bool kstr_is(const struct kstr *s, const char *lit)
{
	size_t n = strlen(lit);

	return s->len == (int32_t)n && !memcmp(s->p, lit, n);
}

/* Decimal integer with an optional '-'; false on anything else. */
static bool parse_i64(const struct kstr *s, int64_t *out)
{
	uint64_t v = 0;
	int32_t i = 0;
	bool neg = s->len > 0 && s->p[0] == '-';

	if (neg)
		i = 1;
	if (s->len <= i || s->len - i > 19)
		return false;
	for (; i < s->len; i++) {
		if (s->p[i] < '0' || s->p[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s->p[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return true;
}

/* cleanup.policy: a comma-separated, non-empty list of delete/compact. */
static bool parse_cleanup(const struct kstr *s, uint8_t *out)
{
	int32_t i = 0;

	*out = 0;
	while (i <= s->len && s->len > 0) {
		int32_t j = i;
		while (j < s->len && s->p[j] != ',')
			j++;
		struct kstr item = {s->p + i, j - i};
		while (item.len && item.p[0] == ' ') {
			item.p++;
			item.len--;
		}
		while (item.len && item.p[item.len - 1] == ' ')
			item.len--;
		if (kstr_is(&item, "delete"))
			*out |= CLEANUP_DELETE;
		else if (kstr_is(&item, "compact"))
			*out |= CLEANUP_COMPACT;
		else
			return false;
		i = j + 1;
	}
	return *out != 0;
}

/* Validate one name=value and apply it to c; returns a Kafka error code
 * (INVALID_CONFIG with *msg for unknown names and bad values). */
int16_t topic_conf_set(struct tconf *c, const struct kstr *name, const struct kstr *val,
                       const char **msg)
{
	int64_t v = 0;
	uint8_t pol;

	if (val->len < 0) {
		*msg = "null value for a topic config";
		return KERR_INVALID_CONFIG;
	}
	if (kstr_is(name, "cleanup.policy")) {
		if (!parse_cleanup(val, &pol)) {
			*msg = "cleanup.policy must list delete and/or compact";
			return KERR_INVALID_CONFIG;
		}
		c->cleanup = pol;
		c->set |= TC_CLEANUP;
		return KERR_NONE;
	}
	if (kstr_is(name, "message.timestamp.type")) {
		if (!kstr_is(val, "CreateTime") && !kstr_is(val, "LogAppendTime")) {
			*msg = "message.timestamp.type is CreateTime or LogAppendTime";
			return KERR_INVALID_CONFIG;
		}
		c->append_time = kstr_is(val, "LogAppendTime");
		c->set |= TC_TS_TYPE;
		return KERR_NONE;
	}
	if (kstr_is(name, "min.cleanable.dirty.ratio")) {
		if (!parse_ratio(val, &c->dirty_ppm)) {
			*msg = "min.cleanable.dirty.ratio must be a number from 0 to 1";
			return KERR_INVALID_CONFIG;
		}
		c->set |= TC_DIRTY_RATIO;
		return KERR_NONE;
	}
	if (kstr_is(name, "delete.retention.ms") || kstr_is(name, "min.compaction.lag.ms") ||
	    kstr_is(name, "segment.ms")) {
		bool seg = kstr_is(name, "segment.ms");
		if (!parse_i64(val, &v) || v < seg) {
			*msg = seg ? "segment.ms must be an integer >= 1"
			           : "value must be an integer >= 0";
			return KERR_INVALID_CONFIG;
		}
		if (seg) {
			c->segment_ms = v;
			c->set |= TC_SEGMENT_MS;
		} else if (kstr_is(name, "delete.retention.ms")) {
			c->delete_retention_ms = v;
			c->set |= TC_DELETE_RET;
		} else {
			c->min_lag_ms = v;
			c->set |= TC_MIN_LAG;
		}
		return KERR_NONE;
	}
	if (!kstr_is(name, "retention.ms") && !kstr_is(name, "retention.bytes") &&
	    !kstr_is(name, "max.message.bytes")) {
		*msg = "unknown topic config";
		return KERR_INVALID_CONFIG;
	}
	if (!parse_i64(val, &v) || v < -1) {
		*msg = "value must be an integer >= -1";
		return KERR_INVALID_CONFIG;
	}
	if (kstr_is(name, "retention.ms")) {
		c->retention_ms = v;
		c->set |= TC_RETENTION_MS;
	} else if (kstr_is(name, "retention.bytes")) {
		c->retention_bytes = v;
		c->set |= TC_RETENTION_BYTES;
	} else {
		if (v < 0 || v > (int64_t)STORE_MAX_PAYLOAD) {
			*msg = "max.message.bytes must be 0..1048576 (the store's limit)";
			return KERR_INVALID_CONFIG;
		}
		c->max_msg = (int32_t)v;
		c->set |= TC_MAX_MSG;
	}
	return KERR_NONE;
}

/* Back to the default (IncrementalAlterConfigs DELETE). */
static int16_t tconf_unset(struct tconf *c, const struct kstr *name, const char **msg)
{
	struct tconf d;

	topic_conf_default(&d);
	if (kstr_is(name, "min.cleanable.dirty.ratio")) {
		c->dirty_ppm = d.dirty_ppm;
		c->set &= (uint16_t)~TC_DIRTY_RATIO;
	} else if (kstr_is(name, "delete.retention.ms")) {
		c->delete_retention_ms = d.delete_retention_ms;
		c->set &= (uint16_t)~TC_DELETE_RET;
	} else if (kstr_is(name, "min.compaction.lag.ms")) {
		c->min_lag_ms = d.min_lag_ms;
		c->set &= (uint16_t)~TC_MIN_LAG;
	} else if (kstr_is(name, "segment.ms")) {
		c->segment_ms = d.segment_ms;
		c->set &= (uint16_t)~TC_SEGMENT_MS;
	} else if (kstr_is(name, "cleanup.policy")) {
		c->cleanup = d.cleanup;
		c->set &= (uint16_t)~TC_CLEANUP;
	} else if (kstr_is(name, "retention.ms")) {
		c->retention_ms = d.retention_ms;
		c->set &= (uint16_t)~TC_RETENTION_MS;
	} else if (kstr_is(name, "retention.bytes")) {
		c->retention_bytes = d.retention_bytes;
		c->set &= (uint16_t)~TC_RETENTION_BYTES;
	} else if (kstr_is(name, "max.message.bytes")) {
		c->max_msg = d.max_msg;
		c->set &= (uint16_t)~TC_MAX_MSG;
	} else if (kstr_is(name, "message.timestamp.type")) {
		c->append_time = 0;
		c->set &= (uint16_t)~TC_TS_TYPE;
	} else {
		*msg = "unknown topic config";
		return KERR_INVALID_CONFIG;
	}
	return KERR_NONE;
}

void topic_conf_encode(struct kw *w, const struct tconf *c)
{
	kw_i64(w, c->retention_ms);
	kw_i64(w, c->retention_bytes);
	kw_i32(w, c->max_msg);
	kw_i8(w, (int8_t)c->cleanup);
	kw_i8(w, (int8_t)c->set);
	kw_i8(w, (int8_t)c->append_time);
	/* appended by issue 17 (older records end above) */
	kw_i8(w, (int8_t)(c->set >> 8));
	kw_i32(w, (int32_t)c->dirty_ppm);
	kw_i64(w, c->delete_retention_ms);
	kw_i64(w, c->min_lag_ms);
	kw_i64(w, c->segment_ms);
}

void topic_conf_decode(struct kr *r, struct tconf *c)
{
	c->retention_ms = kr_i64(r);
	c->retention_bytes = kr_i64(r);
	c->max_msg = kr_i32(r);
	c->cleanup = (uint8_t)kr_i8(r);
	c->set = (uint8_t)kr_i8(r);
	c->append_time = r->off < r->n ? (uint8_t)kr_i8(r) : 0;
	if (r->off < r->n) {
		c->set |= (uint16_t)((uint8_t)kr_i8(r) << 8);
		c->dirty_ppm = (uint32_t)kr_i32(r);
		c->delete_retention_ms = kr_i64(r);
		c->min_lag_ms = kr_i64(r);
		c->segment_ms = kr_i64(r);
	}
}

/* Decimal text of v into buf (at least 21 bytes); returns its length. */
static int32_t fmt_i64(char *buf, int64_t v)
{
	char tmp[21];
	int32_t n = 0, k = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[k++] = '-';
	while (n)
		buf[k++] = tmp[--n];
	return k;
}

/* A ratio in millionths as Kafka prints a double ("0.5", "1.0"). */
static int32_t fmt_ratio(char *buf, uint32_t ppm)
{
	int32_t n = 0;
	uint32_t frac = ppm % 1000000;

	buf[n++] = (char)('0' + ppm / 1000000);
	buf[n++] = '.';
	if (!frac)
		buf[n++] = '0';
	for (uint32_t d = 100000; frac; d /= 10) {
		buf[n++] = (char)('0' + frac / d);
		frac %= d;
	}
	return n;
}

/* Is key wanted by a DescribeConfigs resource (keys == NULL: all)? */
static bool key_wanted(struct kr keys, int32_t nkeys, const char *key)
{
	struct kstr s;

	if (nkeys < 0)
		return true;
	for (int32_t i = 0; i < nkeys; i++) {
		kr_str(&keys, &s);
		if (kstr_is(&s, key))
			return true;
	}
	return false;
}

/* Kafka ConfigType codes (DescribeConfigs v3+). */
enum { CT_BOOLEAN = 1, CT_STRING = 2, CT_INT = 3, CT_LONG = 5, CT_DOUBLE = 6, CT_LIST = 7 };

/* One config entry of a DescribeConfigs response (ver >= 0) or of a
 * CreateTopics v5+ response (ver < 0: name, value, read-only, source,
 * sensitive). */
static void desc_entry(struct kw *w, int16_t ver, const char *name, const char *val, int32_t vlen,
                       bool ro, int8_t src, bool syn, int8_t type)
{
	kw_str(w, name, (int32_t)strlen(name));
	kw_str(w, val, vlen);
	kw_i8(w, ro);
	if (ver == 0)
		kw_i8(w, src == SRC_DEFAULT);
	else
		kw_i8(w, src);
	kw_i8(w, 0); /* sensitive */
	if (ver >= 1) {
		kw_array(w, syn ? 1 : 0);
		if (syn) {
			kw_str(w, name, (int32_t)strlen(name));
			kw_str(w, val, vlen);
			kw_i8(w, src);
			kw_tags(w);
		}
	}
	if (ver >= 3) {
		kw_i8(w, type);
		kw_str(w, NULL, -1); /* documentation */
	}
	kw_tags(w);
}

/* The nine topic configs of c, filtered by the requested keys. */
static uint32_t desc_topic(struct kw *w, int16_t ver, const struct tconf *c, struct kr keys,
                           int32_t nkeys, bool syn)
{
	static const char *const pol[] = {"", "delete", "compact", "compact,delete"};
	char buf[24];
	uint32_t n = 0;

#define TC_ENTRY(key, bit, type, text, len)                                                        \
	if (key_wanted(keys, nkeys, key)) {                                                        \
		desc_entry(w, ver, key, text, len, false,                                          \
		           c->set &(bit) ? SRC_DYNAMIC_TOPIC : SRC_DEFAULT, syn, type);            \
		n++;                                                                               \
	}
	TC_ENTRY("cleanup.policy", TC_CLEANUP, CT_LIST, pol[c->cleanup & 3],
	         (int32_t)strlen(pol[c->cleanup & 3]))
	TC_ENTRY("max.message.bytes", TC_MAX_MSG, CT_INT, buf, fmt_i64(buf, c->max_msg))
	TC_ENTRY("message.timestamp.type", TC_TS_TYPE, CT_STRING,
	         c->append_time ? "LogAppendTime" : "CreateTime", c->append_time ? 13 : 10)
	TC_ENTRY("retention.bytes", TC_RETENTION_BYTES, CT_LONG, buf,
	         fmt_i64(buf, c->retention_bytes))
	TC_ENTRY("retention.ms", TC_RETENTION_MS, CT_LONG, buf, fmt_i64(buf, c->retention_ms))
	TC_ENTRY("min.cleanable.dirty.ratio", TC_DIRTY_RATIO, CT_DOUBLE, buf,
	         fmt_ratio(buf, c->dirty_ppm))
	TC_ENTRY("delete.retention.ms", TC_DELETE_RET, CT_LONG, buf,
	         fmt_i64(buf, c->delete_retention_ms))
	TC_ENTRY("min.compaction.lag.ms", TC_MIN_LAG, CT_LONG, buf, fmt_i64(buf, c->min_lag_ms))
	TC_ENTRY("segment.ms", TC_SEGMENT_MS, CT_LONG, buf, fmt_i64(buf, c->segment_ms))
#undef TC_ENTRY
	return n;
}

/* The broker's static configs (read-only). */
static uint32_t desc_broker(struct broker *b, struct kw *w, int16_t ver, struct kr keys,
                            int32_t nkeys, bool syn)
{
	char buf[300];
	uint32_t n = 0;
	int32_t len;

#define BC_ENTRY(key, type, text, l)                                                               \
	if (key_wanted(keys, nkeys, key)) {                                                        \
		desc_entry(w, ver, key, text, l, true, SRC_STATIC_BROKER, syn, type);              \
		n++;                                                                               \
	}
	BC_ENTRY("broker.id", CT_INT, buf, fmt_i64(buf, b->cfg.node_id))
	BC_ENTRY("num.partitions", CT_INT, buf, fmt_i64(buf, b->cfg.default_parts))
	BC_ENTRY("auto.create.topics.enable", CT_BOOLEAN, b->cfg.no_auto_create ? "false" : "true",
	         b->cfg.no_auto_create ? 5 : 4)
	BC_ENTRY("message.max.bytes", CT_INT, buf, fmt_i64(buf, STORE_MAX_PAYLOAD))
	BC_ENTRY("offset.metadata.max.bytes", CT_INT, buf, fmt_i64(buf, 4096))
	BC_ENTRY("default.replication.factor", CT_INT, "1", 1)
	len = (int32_t)strlen(b->adv_host);
	memcpy(buf, "PLAINTEXT://", 12);
	memcpy(buf + 12, b->adv_host, (size_t)len);
	buf[12 + len] = ':';
	len = 13 + len + fmt_i64(buf + 13 + len, b->cfg.adv_port);
	BC_ENTRY("advertised.listeners", CT_STRING, buf, len)
#undef BC_ENTRY
	return n;
}

/* Is name this broker's id (or empty, the cluster default)? */
static bool is_this_broker(const struct broker *b, const struct kstr *name)
{
	char buf[24];
	int32_t n = fmt_i64(buf, b->cfg.node_id);

	return name->len == 0 || (name->len == n && !memcmp(name->p, buf, (size_t)n));
}

/* One resource of a DescribeConfigs request and its response entry. */
static void describe_one(struct broker *b, struct kresp *r, struct kr *q, int16_t ver,
                         bool syn_default)
{
	int8_t type = kr_i8(q);
	struct kstr name, s;
	int32_t nkeys, tid = -1;
	struct kr keys;
	int16_t err = KERR_NONE;
	const char *msg = NULL;

	kr_str(q, &name);
	nkeys = kr_array(q, 1, true);
	keys = *q;
	for (int32_t i = 0; i < nkeys; i++)
		kr_str(q, &s);
	kr_tags(q);
	if (type == RES_TOPIC) {
		tid = topic_lookup(b, &name, false);
		if (tid < 0) {
			err = (int16_t)-tid;
			msg = "unknown topic";
		}
	} else if (type != RES_BROKER || !is_this_broker(b, &name)) {
		err = KERR_INVALID_REQUEST;
		msg = type == RES_BROKER ? "not this broker's id" : "resource type not supported";
	}
	kw_i16(&r->w, err);
	kw_str(&r->w, msg, msg ? (int32_t)strlen(msg) : -1);
	kw_i8(&r->w, type);
	kw_str(&r->w, name.p, name.len);
	if (err) {
		kw_array(&r->w, 0);
		kw_tags(&r->w);
		return;
	}
	/* entries go to a scratch writer first: the array count leads */
	struct kw tmp;
	kw_init(&tmp, &b->al);
	tmp.flex = r->w.flex;
	uint32_t n = type == RES_TOPIC
	                 ? desc_topic(&tmp, ver, &b->tconf[tid], keys, nkeys, syn_default)
	                 : desc_broker(b, &tmp, ver, keys, nkeys, syn_default);
	kw_array(&r->w, (int32_t)n);
	kw_raw(&r->w, tmp.buf, tmp.len);
	r->w.oom |= tmp.oom;
	kw_free(&tmp);
	kw_tags(&r->w);
}

/* CreateTopics v5+: the new topic's configs (name, value, read-only,
 * source, sensitive). */
void topic_conf_list(struct broker *b, struct kw *w, const struct tconf *c)
{
	struct kw tmp;
	struct kr none = {0};

	kw_init(&tmp, &b->al);
	tmp.flex = w->flex;
	uint32_t n = desc_topic(&tmp, -1, c, none, -1, false);
	kw_array(w, (int32_t)n);
	kw_raw(w, tmp.buf, tmp.len);
	w->oom |= tmp.oom;
	kw_free(&tmp);
}

/* Decode-only walk of DescribeConfigs; false when malformed. */
static bool describe_decode(struct kr r, int16_t ver)
{
	struct kstr s;
	int32_t n = kr_admin_array(&r, r.flex ? 3 : 7);

	for (int32_t i = 0; i < n && !r.bad; i++) {
		(void)kr_i8(&r);
		kr_str(&r, &s);
		int32_t k = kr_array(&r, 1, true);
		for (int32_t j = 0; j < k && !r.bad; j++)
			kr_str(&r, &s);
		kr_tags(&r);
	}
	if (ver >= 1)
		(void)kr_i8(&r);
	if (ver >= 3)
		(void)kr_i8(&r); /* include documentation: none is kept */
	kr_tags(&r);
	return !r.bad && r.off == r.n;
}

int api_describe_configs(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r;
	struct kresp *r;
	bool syn = false;
	int32_t n;

	if (!describe_decode(q->r, q->ver))
		return -1;
	n = kr_array(&scan, 3, false);
	for (int32_t i = 0; i < n; i++) {
		struct kstr s;
		(void)kr_i8(&scan);
		kr_str(&scan, &s);
		int32_t k = kr_array(&scan, 1, true);
		for (int32_t j = 0; j < k; j++)
			kr_str(&scan, &s);
		kr_tags(&scan);
	}
	if (q->ver >= 1)
		syn = kr_i8(&scan) != 0;
	if (!(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kw_i32(&r->w, 0);
	n = kr_array(&q->r, 3, false);
	kw_array(&r->w, n);
	for (int32_t i = 0; i < n; i++)
		describe_one(b, r, &q->r, q->ver, syn);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	return 0;
}

/* Decode-only walk of (Incremental)AlterConfigs; false when malformed.
 * *only is the validate_only flag. */
static bool alter_decode(struct kr r, bool incr, bool *only)
{
	struct kstr s;
	int32_t n = kr_admin_array(&r, r.flex ? 3 : 7);

	for (int32_t i = 0; i < n && !r.bad; i++) {
		(void)kr_i8(&r);
		kr_str(&r, &s);
		int32_t k = kr_array(&r, r.flex ? 2 : incr ? 5 : 4, false);
		for (int32_t j = 0; j < k && !r.bad; j++) {
			kr_str(&r, &s);
			if (incr)
				(void)kr_i8(&r);
			kr_str(&r, &s);
			kr_tags(&r);
		}
		kr_tags(&r);
	}
	*only = kr_i8(&r) != 0;
	kr_tags(&r);
	return !r.bad && r.off == r.n;
}

/* Apply one incremental operation to c. */
static int16_t incr_op(struct tconf *c, int8_t op, const struct kstr *name, const struct kstr *val,
                       const char **msg)
{
	uint8_t pol;

	if (op == OP_SET)
		return topic_conf_set(c, name, val, msg);
	if (op == OP_DELETE)
		return tconf_unset(c, name, msg);
	if ((op != OP_APPEND && op != OP_SUBTRACT) || !kstr_is(name, "cleanup.policy")) {
		*msg = op == OP_APPEND || op == OP_SUBTRACT
		           ? "APPEND/SUBTRACT apply only to list configs (cleanup.policy)"
		           : "unknown config operation";
		return KERR_INVALID_CONFIG;
	}
	if (val->len < 0 || !parse_cleanup(val, &pol)) {
		*msg = "cleanup.policy must list delete and/or compact";
		return KERR_INVALID_CONFIG;
	}
	pol = op == OP_APPEND ? (uint8_t)(c->cleanup | pol) : (uint8_t)(c->cleanup & ~pol);
	if (!pol) {
		*msg = "cleanup.policy cannot become empty";
		return KERR_INVALID_CONFIG;
	}
	c->cleanup = pol;
	c->set |= TC_CLEANUP;
	return KERR_NONE;
}

/* Validate one resource's changes into *out (nothing is applied here). */
static int16_t alter_one(struct broker *b, struct kr *q, bool incr, int8_t type,
                         const struct kstr *name, int *tid, struct tconf *out, const char **msg)
{
	int32_t k = kr_array(q, q->flex ? 2 : incr ? 5 : 4, false);
	int16_t err = KERR_NONE;

	*tid = -1;
	topic_conf_default(
	    out); /* the entries are still parsed (and checked) when the resource is refused */
	if (type != RES_TOPIC) {
		err = KERR_INVALID_REQUEST;
		*msg = type == RES_BROKER ? "broker configs are static (command line)"
		                          : "resource type not supported";
	} else if ((*tid = topic_lookup(b, name, false)) < 0) {
		err = (int16_t) - *tid;
		*msg = "unknown topic";
	} else if (incr) {
		*out = b->tconf[*tid];
	} else {
		topic_conf_default(out); /* AlterConfigs replaces every override */
	}
	for (int32_t j = 0; j < k; j++) {
		struct kstr key, val;
		int8_t op = OP_SET;
		kr_str(q, &key);
		if (incr)
			op = kr_i8(q);
		kr_str(q, &val);
		kr_tags(q);
		if (!err)
			err = incr ? incr_op(out, op, &key, &val, msg)
			           : topic_conf_set(out, &key, &val, msg);
	}
	kr_tags(q);
	return err;
}

/* AlterConfigs v0-1 and IncrementalAlterConfigs v0: every resource is
 * validated as a whole; valid topic resources are applied (unless
 * validate_only), logged and answered once the log record is durable. */
static int alter(struct broker *b, struct kconn *c, struct kreq *q, bool incr)
{
	struct kresp *r;
	bool only, logged = false;
	int32_t n;

	if (!alter_decode(q->r, incr, &only))
		return -1;
	if (!(r = broker_resp_new(b, c, q->corr)))
		return -1;
	kw_i32(&r->w, 0);
	n = kr_array(&q->r, 3, false);
	kw_array(&r->w, n);
	for (int32_t i = 0; i < n; i++) {
		int8_t type = kr_i8(&q->r);
		struct kstr name;
		struct tconf nc;
		const char *msg = NULL;
		int tid;
		kr_str(&q->r, &name);
		int16_t err = alter_one(b, &q->r, incr, type, &name, &tid, &nc, &msg);
		if (!err && !only) {
			struct kw w;
			kw_init(&w, &b->al);
			kw_i32(&w, META_TOPIC_CONF);
			kw_i32(&w, tid);
			topic_conf_encode(&w, &nc);
			if (meta_append(b, &w)) {
				b->tconf[tid] = nc;
				logged = true;
			} else {
				err = KERR_STORAGE;
				msg = "could not log the change";
			}
		}
		kw_i16(&r->w, err);
		kw_str(&r->w, msg, msg ? (int32_t)strlen(msg) : -1);
		kw_i8(&r->w, type);
		kw_str(&r->w, name.p, name.len);
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	if (logged)
		broker_resp_wait_flush(b, r);
	else
		broker_resp_ready(b, r);
	return 0;
}

int api_alter_configs(struct broker *b, struct kconn *c, struct kreq *q)
{
	return alter(b, c, q, false);
}

int api_incr_alter_configs(struct broker *b, struct kconn *c, struct kreq *q)
{
	return alter(b, c, q, true);
}
