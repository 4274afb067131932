/* Flexible protocol versions (KIP-482): request header v2 with tags,
 * response header v1, compact strings/arrays/bytes and tag buffers,
 * compared byte for byte with the layouts of the public specification
 * (kafka.apache.org/protocol, the message JSON schemas); the newer
 * versions' semantics: ListOffsets by timestamp at record precision and
 * max timestamp (-3), member ids "<client.id>-<uuid>", static membership
 * (KIP-345), batched FindCoordinator and LeaveGroup. */
#include "tbroker.h"
#include "storage/crc32c.h"

/* Request header v2: key, version, correlation id, client id (a plain
 * nullable STRING even here), then the header's tag buffer. The writer is
 * flexible from then on. */
static void freq_begin(struct kw *w, int16_t key, int16_t ver, int32_t corr)
{
	req_begin(w, key, ver, corr);
	kw_uvarint(w, 0);
	w->flex = true;
}

/* Next response with header v1 (correlation id + tag buffer). */
static bool fresp_next(struct env *e, int i, int32_t corr, struct kr *r)
{
	for (int k = 0; k < 4; k++)
		pump(e);
	if (!resp_next(e, i, corr, r))
		return false;
	kr_skip_tags(r);
	r->flex = true;
	return !r->bad;
}

/* Bytes from a hex string ("0a ff 00", spaces ignored); returns count. */
static uint32_t hex(const char *s, uint8_t *out)
{
	uint32_t n = 0;
	int half = -1;

	for (; *s; s++) {
		int v = *s >= '0' && *s <= '9'   ? *s - '0'
		        : *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
		                                 : -1;
		if (v < 0)
			continue;
		if (half < 0)
			half = v;
		else {
			out[n++] = (uint8_t)(half << 4 | v);
			half = -1;
		}
	}
	return n;
}

/* The rest of r equals the bytes spelled in hex. */
static bool rest_is(const struct kr *r, const char *spec)
{
	static uint8_t want[4096];
	uint32_t n = hex(spec, want);

	if (r->n - r->off != n || memcmp(r->p + r->off, want, n)) {
		fprintf(stderr, "  got:");
		for (uint32_t i = r->off; i < r->n; i++)
			fprintf(stderr, " %02x", r->p[i]);
		fprintf(stderr, "\n");
		return false;
	}
	return true;
}

#define BROKER_HEX "00000001 0a 3132372e302e302e31 00002384" /* node 1, 127.0.0.1:9092 */

/* Compact forms: null string/array/bytes, multi-byte lengths, lengths
 * beyond int32 or the frame. */
static void t_compact_codec(void)
{
	struct kr r;
	struct kw w;
	struct kstr st;
	struct kbytes by;

	kr_init(&r, (const uint8_t[]){0x00, 0x00, 0x00, 0x03, 'h', 'i'}, 6);
	r.flex = true;
	CHECK(kr_str(&r, &st) && st.len == -1 && !st.p);
	CHECK(kr_array(&r, 1, true) == -1 && !r.bad);
	CHECK(kr_bytes(&r, &by) && by.len == -1);
	CHECK(kr_str(&r, &st) && st.len == 2 && !memcmp(st.p, "hi", 2) && r.off == r.n);
	kr_init(&r, (const uint8_t[]){0x00}, 1);
	r.flex = true;
	CHECK(kr_array(&r, 1, false) == 0 && r.bad); /* null where not nullable */
	kr_init(&r, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);
	r.flex = true;
	(void)kr_bytes(&r, &by);
	CHECK(r.bad); /* length 2^32 - 2 */
	kr_init(&r, (const uint8_t[]){0xad, 0x02, 'x'}, 3);
	r.flex = true;
	CHECK(kr_array(&r, 1, false) == 0 && r.bad); /* 300 entries in 1 byte */
	kw_init(&w, &al);
	w.flex = true;
	kw_str(&w, NULL, -1);
	kw_array(&w, -1);
	kw_array(&w, 300);
	kw_bytes(&w, "ab", 2);
	kw_tags(&w);
	static const uint8_t want[8] = {0x00, 0x00, 0xad, 0x02, 0x03, 'a', 'b', 0x00};
	CHECK(w.len == 8 && !memcmp(w.buf, want, 8));
	kw_free(&w);
}

/* Metadata v12 (flexible; topic ids; nullable topic names in the
 * request): auto-creation of "t1" (4 partitions) and the whole answer. */
static void t_metadata_v12_layout(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;
	static const uint8_t zero[16];

	freq_begin(&w, API_METADATA, 12, 1);
	kw_array(&w, 1);
	kw_uuid(&w, zero);
	kw_str(&w, "t1", 2);
	kw_tags(&w);
	kw_i8(&w, 1); /* allow auto topic creation */
	kw_i8(&w, 0); /* include topic authorized operations */
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 1, &r));
	char part[4][200];
	for (int k = 0; k < 4; k++)
		snprintf(part[k], sizeof(part[k]),
		         "0000 0000000%d 00000001 00000000 02 00000001 02 00000001 01 00", k);
	char want[2048];
	snprintf(want, sizeof(want),
	         "00000000"                         /* throttle_time_ms */
	         "02 " BROKER_HEX " 00 00"          /* brokers: 1, rack null, tags */
	         "08 68616c6c6f7773"                /* cluster_id "hallows" */
	         "00000001"                         /* controller_id */
	         "02 0000 03 7431"                  /* topics: 1; error 0; name "t1" */
	         "00000000000000000000000000000000" /* topic_id */
	         "00 05 %s %s %s %s"                /* is_internal; 4 partitions */
	         "80000000 00"                      /* topic_authorized_operations; tags */
	         "00",                              /* response tags */
	         part[0], part[1], part[2], part[3]);
	CHECK(rest_is(&r, want));
	/* v9: no topic id; v10+ lookup by id alone is UNKNOWN_TOPIC_ID */
	freq_begin(&w, API_METADATA, 9, 2);
	kw_array(&w, 1);
	kw_str(&w, "t1", 2);
	kw_tags(&w);
	kw_i8(&w, 0);
	kw_i8(&w, 0);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 2, &r));
	snprintf(want, sizeof(want),
	         "00000000 02 " BROKER_HEX " 00 00 08 68616c6c6f7773 00000001"
	         "02 0000 03 7431 00 05 %s %s %s %s 80000000 00"
	         "80000000 00", /* cluster_authorized_operations (v8-v10) */
	         part[0], part[1], part[2], part[3]);
	CHECK(rest_is(&r, want));
	uint8_t id[16] = {1};
	freq_begin(&w, API_METADATA, 12, 3);
	kw_array(&w, 1);
	kw_uuid(&w, id);
	kw_str(&w, NULL, -1);
	kw_tags(&w);
	kw_i8(&w, 0);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 3, &r));
	CHECK(rest_is(&r, "00000000 02 " BROKER_HEX " 00 00 08 68616c6c6f7773 00000001"
	                  "02 0064 00 00000000000000000000000000000000 00 01 80000000 00 00"));
	env_free(e);
}

/* A batch of n uncompressed records (key null, value "x") with
 * timestamps first + step * i, CRC computed. Returns its length. */
static uint32_t make_batch(uint8_t *b, int n, int64_t first, int step)
{
	uint32_t at = 61;

	memset(b, 0, 61);
	for (int i = 0; i < n; i++) {
		uint8_t rec[16];
		uint32_t k = 0;
		rec[k++] = 0;                         /* attributes */
		rec[k++] = (uint8_t)(2 * (step * i)); /* timestamp delta (zig-zag, < 64) */
		rec[k++] = (uint8_t)(2 * i);          /* offset delta */
		rec[k++] = 0x01;                      /* key length -1 */
		rec[k++] = 0x02;                      /* value length 1 */
		rec[k++] = 'x';
		rec[k++] = 0; /* headers */
		b[at++] = (uint8_t)(2 * k);
		memcpy(b + at, rec, k);
		at += k;
	}
	put_be64(b + 0, 0);
	for (int i = 0; i < 4; i++)
		b[8 + i] = (uint8_t)((at - 12) >> (24 - 8 * i));
	b[16] = 2;
	b[26] = (uint8_t)(n - 1); /* last offset delta */
	put_be64(b + 27, (uint64_t)first);
	put_be64(b + 35, (uint64_t)(first + (int64_t)step * (n - 1)));
	memset(b + 43, 0xff, 14); /* producer id, epoch, base sequence: none */
	b[60] = (uint8_t)n;
	uint32_t crc = store_crc32c(0, b + 21, at - 21);
	for (int i = 0; i < 4; i++)
		b[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
	return at;
}

static void produce_v9(struct env *e, int32_t corr, const uint8_t *b, uint32_t n)
{
	struct kw w;

	freq_begin(&w, API_PRODUCE, 9, corr);
	kw_str(&w, NULL, -1);
	kw_i16(&w, 1);
	kw_i32(&w, 30000);
	kw_array(&w, 1);
	kw_str(&w, "t1", 2);
	kw_array(&w, 1);
	kw_i32(&w, 0);
	kw_bytes(&w, b, (int32_t)n);
	kw_tags(&w);
	kw_tags(&w);
	kw_tags(&w);
	req_send(e, 0, &w);
}

/* Produce v9 and Fetch v12: the whole responses, records included. */
static void t_produce_v9_fetch_v12_layout(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;
	uint8_t b[256];
	uint32_t n = make_batch(b, 3, 1000, 10);

	metadata_req(e, 0, 1, "t1", true);
	pump(e);
	CHECK(resp_next(e, 0, 1, &r));
	produce_v9(e, 2, b, n);
	CHECK(fresp_next(e, 0, 2, &r));
	CHECK(rest_is(&r, "02 03 7431 02 00000000 0000 0000000000000000" /* base offset 0 */
	                  "ffffffffffffffff 0000000000000000" /* append time, log start */
	                  "01 00 00"                          /* record errors, message */
	                  "00 00000000 00"));                 /* throttle */
	freq_begin(&w, API_FETCH, 12, 3);
	kw_i32(&w, -1);
	kw_i32(&w, 0);
	kw_i32(&w, 1);
	kw_i32(&w, 1 << 20);
	kw_i8(&w, 0);
	kw_i32(&w, 0);
	kw_i32(&w, -1);
	kw_array(&w, 1);
	kw_str(&w, "t1", 2);
	kw_array(&w, 1);
	kw_i32(&w, 0);
	kw_i32(&w, -1); /* current leader epoch */
	kw_i64(&w, 0);
	kw_i32(&w, -1); /* last fetched epoch */
	kw_i64(&w, -1);
	kw_i32(&w, 1 << 20);
	kw_tags(&w);
	kw_tags(&w);
	kw_array(&w, 0);   /* forgotten topics */
	kw_str(&w, "", 0); /* rack */
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 3, &r));
	char want[1024];
	int k = snprintf(want, sizeof(want),
	                 "00000000 0000 00000000"      /* throttle, error, session id */
	                 "02 03 7431 02 00000000 0000" /* topic t1, partition 0 */
	                 "0000000000000003 0000000000000003 0000000000000000" /* hwm lso start */
	                 "01 ffffffff %02x", /* aborted: empty; replica; records */
	                 n + 1);
	for (uint32_t i = 0; i < n; i++)
		k += snprintf(want + k, sizeof(want) - (size_t)k, "%02x", i < 8 ? 0 : b[i]);
	snprintf(want + k, sizeof(want) - (size_t)k, " 00 00 00");
	CHECK(rest_is(&r, want));
	env_free(e);
}

/* ListOffsets v7 entry for "t1"/0 at ts: offset and timestamp. */
static void list_v7(struct env *e, int32_t corr, int64_t ts, int64_t *off, int64_t *rts)
{
	struct kw w;
	struct kr r;
	struct kstr s;

	freq_begin(&w, API_LIST_OFFSETS, 7, corr);
	kw_i32(&w, -1);
	kw_i8(&w, 0);
	kw_array(&w, 1);
	kw_str(&w, "t1", 2);
	kw_array(&w, 1);
	kw_i32(&w, 0);
	kw_i32(&w, -1);
	kw_i64(&w, ts);
	kw_tags(&w);
	kw_tags(&w);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, corr, &r));
	CHECK(kr_i32(&r) == 0 && kr_array(&r, 1, false) == 1);
	kr_str(&r, &s);
	CHECK(s.len == 2 && kr_array(&r, 1, false) == 1 && kr_i32(&r) == 0);
	CHECK(kr_i16(&r) == 0);
	*rts = kr_i64(&r);
	*off = kr_i64(&r);
	CHECK(kr_i32(&r) == (*off >= 0 ? 0 : -1)); /* leader epoch */
	kr_tags(&r);
	kr_tags(&r);
	kr_tags(&r);
	CHECK(!r.bad && r.off == r.n);
}

/* ListOffsets by timestamp finds the record, not the batch; -3 is the
 * record with the largest timestamp; no record late enough: -1. */
static void t_list_offsets_record_precision(void)
{
	struct env *e = env_new();
	struct kr r;
	uint8_t b[256];
	uint32_t n = make_batch(b, 3, 1000, 10);
	int64_t off, ts;

	metadata_req(e, 0, 1, "t1", true);
	pump(e);
	CHECK(resp_next(e, 0, 1, &r));
	produce_v9(e, 2, b, n); /* offsets 0..2, timestamps 1000 1010 1020 */
	CHECK(fresp_next(e, 0, 2, &r));
	n = make_batch(b, 2, 2000, 5);
	produce_v9(e, 3, b, n); /* offsets 3..4, timestamps 2000 2005 */
	CHECK(fresp_next(e, 0, 3, &r));
	list_v7(e, 10, 1005, &off, &ts);
	CHECK(off == 1 && ts == 1010);
	list_v7(e, 11, 1020, &off, &ts);
	CHECK(off == 2 && ts == 1020);
	list_v7(e, 12, 1021, &off, &ts);
	CHECK(off == 3 && ts == 2000);
	list_v7(e, 13, 2001, &off, &ts);
	CHECK(off == 4 && ts == 2005);
	list_v7(e, 14, 2006, &off, &ts);
	CHECK(off == -1 && ts == -1);
	list_v7(e, 15, -3, &off, &ts);
	CHECK(off == 4 && ts == 2005);
	list_v7(e, 16, -2, &off, &ts);
	CHECK(off == 0);
	list_v7(e, 17, -1, &off, &ts);
	CHECK(off == 5);
	env_free(e);
}

/* FindCoordinator v4 (batched keys) and v3, whole answers. */
static void t_find_coordinator_layout(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;

	freq_begin(&w, API_FIND_COORD, 4, 1);
	kw_i8(&w, 0);
	kw_array(&w, 2);
	kw_str(&w, "g1", 2);
	kw_str(&w, "g2", 2);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 1, &r));
	CHECK(rest_is(&r, "00000000 03"
	                  "03 6731 " BROKER_HEX " 0000 00 00"
	                  "03 6732 " BROKER_HEX " 0000 00 00 00"));
	freq_begin(&w, API_FIND_COORD, 3, 2);
	kw_str(&w, "g1", 2);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 2, &r));
	CHECK(rest_is(&r, "00000000 0000 00 " BROKER_HEX " 00"));
	env_free(e);
}

/* A request header v2 carrying a (unknown) tagged field is accepted. */
static void t_header_tags_skipped(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;

	req_begin(&w, API_HEARTBEAT, 4, 1);
	kw_uvarint(&w, 1); /* one tag: number 5, 2 bytes */
	kw_uvarint(&w, 5);
	kw_uvarint(&w, 2);
	kw_i16(&w, 0x1234);
	w.flex = true;
	kw_str(&w, "nogroup", 7);
	kw_i32(&w, 1);
	kw_str(&w, "m", 1);
	kw_str(&w, NULL, -1);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 1, &r));
	CHECK(rest_is(&r, "00000000 0019 00")); /* UNKNOWN_MEMBER_ID */
	CHECK(!e->c[0].closed);
	/* a compact string running past the frame closes the connection */
	freq_begin(&w, API_HEARTBEAT, 4, 2);
	kw_uvarint(&w, 100);
	kw_raw(&w, "abc", 3);
	req_send(e, 0, &w);
	CHECK(e->c[0].closed);
	env_free(e);
}

struct joined {
	int16_t err;
	int32_t gen;
	char leader[128], member[128];
	int32_t nmembers;
};

static void join_v9(struct env *e, int i, int32_t corr, const char *member, const char *inst)
{
	struct kw w;

	freq_begin(&w, API_JOIN, 9, corr);
	kw_str(&w, "g", 1);
	kw_i32(&w, 10000);
	kw_i32(&w, 10000);
	kw_str(&w, member, (int32_t)strlen(member));
	kw_str(&w, inst, inst ? (int32_t)strlen(inst) : -1);
	kw_str(&w, "consumer", 8);
	kw_array(&w, 1);
	kw_str(&w, "range", 5);
	kw_bytes(&w, "M", 1);
	kw_tags(&w);
	kw_str(&w, NULL, -1); /* reason */
	kw_tags(&w);
	req_send(e, i, &w);
}

static void copy_str(char *d, const struct kstr *s)
{
	int32_t n = s->len > 0 ? s->len : 0;

	memcpy(d, s->p, (size_t)n);
	d[n] = 0;
}

static bool join_resp(struct env *e, int i, int32_t corr, struct joined *j)
{
	struct kr r;
	struct kstr s;
	struct kbytes m;

	memset(j, 0, sizeof(*j));
	j->err = -100;
	if (!fresp_next(e, i, corr, &r))
		return false;
	CHECK(kr_i32(&r) == 0);
	j->err = kr_i16(&r);
	j->gen = kr_i32(&r);
	kr_str(&r, &s);
	CHECK(j->err || (s.len == 8 && !memcmp(s.p, "consumer", 8)));
	kr_str(&r, &s);
	CHECK(j->err || (s.len == 5 && !memcmp(s.p, "range", 5)));
	kr_str(&r, &s);
	copy_str(j->leader, &s);
	CHECK(kr_i8(&r) == 0); /* skip assignment */
	kr_str(&r, &s);
	copy_str(j->member, &s);
	j->nmembers = kr_array(&r, 1, false);
	for (int32_t k = 0; k < j->nmembers; k++) {
		kr_str(&r, &s);
		kr_str(&r, &s);
		CHECK(s.len == 6 && !memcmp(s.p, "inst-", 5)); /* instance ids shown */
		kr_bytes(&r, &m);
		CHECK(m.len == 1 && m.p[0] == 'M');
		kr_tags(&r);
	}
	kr_tags(&r);
	CHECK(!r.bad && r.off == r.n);
	return true;
}

/* "<client.id>-<uuid>": "test-" and a version-4 UUID in text form. */
static bool member_id_ok(const char *id)
{
	if (strlen(id) != 5 + 36 || memcmp(id, "test-", 5))
		return false;
	for (int i = 0; i < 36; i++) {
		char ch = id[5 + i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (ch != '-')
				return false;
		} else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return id[5 + 14] == '4';
}

static void sync_v5(struct env *e, int i, int32_t corr, int32_t gen, const char *member,
                    const char *inst, const struct joined *a, const struct joined *b)
{
	struct kw w;

	freq_begin(&w, API_SYNC, 5, corr);
	kw_str(&w, "g", 1);
	kw_i32(&w, gen);
	kw_str(&w, member, (int32_t)strlen(member));
	kw_str(&w, inst, (int32_t)strlen(inst));
	kw_str(&w, "consumer", 8);
	kw_str(&w, "range", 5);
	kw_array(&w, a ? 2 : 0);
	if (a) {
		kw_str(&w, a->member, (int32_t)strlen(a->member));
		kw_bytes(&w, "AA", 2);
		kw_tags(&w);
		kw_str(&w, b->member, (int32_t)strlen(b->member));
		kw_bytes(&w, "BB", 2);
		kw_tags(&w);
	}
	kw_tags(&w);
	req_send(e, i, &w);
}

static int16_t heartbeat_v4(struct env *e, int32_t corr, int32_t gen, const char *member,
                            const char *inst)
{
	struct kw w;
	struct kr r;

	freq_begin(&w, API_HEARTBEAT, 4, corr);
	kw_str(&w, "g", 1);
	kw_i32(&w, gen);
	kw_str(&w, member, (int32_t)strlen(member));
	kw_str(&w, inst, (int32_t)strlen(inst));
	kw_tags(&w);
	req_send(e, 2, &w);
	if (!fresp_next(e, 2, corr, &r))
		return -100;
	CHECK(kr_i32(&r) == 0);
	int16_t err = kr_i16(&r);
	kr_tags(&r);
	CHECK(!r.bad && r.off == r.n);
	return err;
}

/* JoinGroup v9, SyncGroup v5, Heartbeat v4, LeaveGroup v5: member ids of
 * Kafka's form; a static member that restarts (no member id, same
 * group.instance.id and subscription) gets a new id without a rebalance
 * and keeps its assignment, its old id is fenced; leaving by instance id. */
static void t_static_membership(void)
{
	struct env *e = env_new();
	struct joined a = {0}, b = {0}, b2 = {0};
	struct kr r;
	struct kbytes asg;
	struct kstr s;
	struct kw w;

	join_v9(e, 0, 1, "", "inst-a");
	join_v9(e, 1, 1, "", "inst-b");
	pump(e);
	t_clock += 400; /* group.initial.rebalance.delay */
	CHECK(join_resp(e, 0, 1, &a) && join_resp(e, 1, 1, &b));
	CHECK(a.err == 0 && b.err == 0 && a.gen == 1 && b.gen == 1);
	CHECK(member_id_ok(a.member) && member_id_ok(b.member) && strcmp(a.member, b.member));
	CHECK(!strcmp(a.leader, a.member) && a.nmembers == 2 && b.nmembers == 0);
	sync_v5(e, 0, 2, 1, a.member, "inst-a", &a, &b);
	sync_v5(e, 1, 2, 1, b.member, "inst-b", NULL, NULL);
	CHECK(fresp_next(e, 0, 2, &r));
	CHECK(rest_is(&r, "00000000 0000 09 636f6e73756d6572 06 72616e6765 03 4141 00"));
	CHECK(fresp_next(e, 1, 2, &r));
	CHECK(rest_is(&r, "00000000 0000 09 636f6e73756d6572 06 72616e6765 03 4242 00"));
	CHECK(heartbeat_v4(e, 3, 1, b.member, "inst-b") == 0);
	/* b restarts: same instance id, no member id */
	join_v9(e, 1, 4, "", "inst-b");
	CHECK(join_resp(e, 1, 4, &b2));
	CHECK(b2.err == 0 && b2.gen == 1 && member_id_ok(b2.member) && strcmp(b2.member, b.member));
	CHECK(!strcmp(b2.leader, a.member) && b2.nmembers == 0);
	CHECK(heartbeat_v4(e, 5, 1, b.member, "inst-b") == KERR_FENCED_INSTANCE);
	CHECK(heartbeat_v4(e, 6, 1, a.member, "inst-a") == 0); /* no rebalance */
	sync_v5(e, 1, 7, 1, b2.member, "inst-b", NULL, NULL);
	CHECK(fresp_next(e, 1, 7, &r));
	CHECK(kr_i32(&r) == 0 && kr_i16(&r) == 0);
	kr_str(&r, &s);
	kr_str(&r, &s);
	kr_bytes(&r, &asg);
	CHECK(asg.len == 2 && !memcmp(asg.p, "BB", 2)); /* kept */
	/* LeaveGroup v5: b by instance id, an unknown one, a fenced pair */
	freq_begin(&w, API_LEAVE, 5, 8);
	kw_str(&w, "g", 1);
	kw_array(&w, 3);
	kw_str(&w, "x", 1);
	kw_str(&w, "inst-a", 6);
	kw_str(&w, NULL, -1);
	kw_tags(&w);
	kw_str(&w, "", 0);
	kw_str(&w, "inst-b", 6);
	kw_str(&w, "bye", 3);
	kw_tags(&w);
	kw_str(&w, "", 0);
	kw_str(&w, "inst-z", 6);
	kw_str(&w, NULL, -1);
	kw_tags(&w);
	kw_tags(&w);
	req_send(e, 2, &w);
	CHECK(fresp_next(e, 2, 8, &r));
	CHECK(rest_is(&r, "00000000 0000 04"
	                  "02 78 07 696e73742d61 0052 00" /* FENCED_INSTANCE_ID */
	                  "01 07 696e73742d62 0000 00"
	                  "01 07 696e73742d7a 0019 00 00"));
	CHECK(heartbeat_v4(e, 9, 1, a.member, "inst-a") == KERR_REBALANCING);
	env_free(e);
}

/* OffsetCommit v8 and OffsetFetch v7: metadata kept, whole answers. */
static void t_offsets_v8_v7_layout(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;

	metadata_req(e, 0, 1, "t1", true);
	pump(e);
	CHECK(resp_next(e, 0, 1, &r));
	freq_begin(&w, API_OFFSET_COMMIT, 8, 2);
	kw_str(&w, "g", 1);
	kw_i32(&w, -1);
	kw_str(&w, "", 0);
	kw_str(&w, NULL, -1);
	kw_array(&w, 1);
	kw_str(&w, "t1", 2);
	kw_array(&w, 1);
	kw_i32(&w, 2);
	kw_i64(&w, 42);
	kw_i32(&w, -1);
	kw_str(&w, "md", 2);
	kw_tags(&w);
	kw_tags(&w);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 2, &r));
	CHECK(rest_is(&r, "00000000 02 03 7431 02 00000002 0000 00 00 00"));
	freq_begin(&w, API_OFFSET_FETCH, 7, 3);
	kw_str(&w, "g", 1);
	kw_array(&w, -1); /* all topics */
	kw_i8(&w, 1);     /* require stable */
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 3, &r));
	CHECK(rest_is(&r, "00000000 02 03 7431 02 00000002 000000000000002a ffffffff"
	                  "03 6d64 0000 00 00 0000 00"));
	env_free(e);
}

/* Fetch v12 with session fields: partitions (idx, offset) of "t1" and
 * forgotten partitions of "t1". */
static void fetch_sess(struct env *e, int32_t corr, int32_t sid, int32_t epoch, int np,
                       const int32_t *parts, const int64_t *offs, int nforget,
                       const int32_t *forget)
{
	struct kw w;

	freq_begin(&w, API_FETCH, 12, corr);
	kw_i32(&w, -1);
	kw_i32(&w, 0); /* max wait 0: answer at once */
	kw_i32(&w, 1);
	kw_i32(&w, 1 << 20);
	kw_i8(&w, 0);
	kw_i32(&w, sid);
	kw_i32(&w, epoch);
	kw_array(&w, np ? 1 : 0);
	if (np) {
		kw_str(&w, "t1", 2);
		kw_array(&w, np);
		for (int i = 0; i < np; i++) {
			kw_i32(&w, parts[i]);
			kw_i32(&w, -1);
			kw_i64(&w, offs[i]);
			kw_i32(&w, -1);
			kw_i64(&w, -1);
			kw_i32(&w, 1 << 20);
			kw_tags(&w);
		}
		kw_tags(&w);
	}
	kw_array(&w, nforget ? 1 : 0);
	if (nforget) {
		kw_str(&w, "t1", 2);
		kw_array(&w, nforget);
		for (int i = 0; i < nforget; i++)
			kw_i32(&w, forget[i]);
		kw_tags(&w);
	}
	kw_str(&w, "", 0);
	kw_tags(&w);
	req_send(e, 0, &w);
}

struct fanswer {
	int16_t err;
	int32_t sid;
	int n;          /* partitions answered */
	int32_t idx[8]; /* their indexes */
	int64_t hwm[8];
	int32_t reclen[8];
};

static bool fetch_answer(struct env *e, int32_t corr, struct fanswer *f)
{
	struct kr r;
	struct kstr s;
	struct kbytes rec;

	memset(f, 0, sizeof(*f));
	if (!fresp_next(e, 0, corr, &r))
		return false;
	CHECK(kr_i32(&r) == 0);
	f->err = kr_i16(&r);
	f->sid = kr_i32(&r);
	int32_t nt = kr_array(&r, 1, false);
	for (int32_t t = 0; t < nt; t++) {
		kr_str(&r, &s);
		CHECK(s.len == 2 && !memcmp(s.p, "t1", 2));
		int32_t np = kr_array(&r, 1, false);
		for (int32_t k = 0; k < np && f->n < 8; k++, f->n++) {
			f->idx[f->n] = kr_i32(&r);
			CHECK(kr_i16(&r) == 0);
			f->hwm[f->n] = kr_i64(&r);
			(void)kr_i64(&r);
			(void)kr_i64(&r);
			CHECK(kr_array(&r, 1, true) == 0 && kr_i32(&r) == -1);
			kr_bytes(&r, &rec);
			f->reclen[f->n] = rec.len;
			kr_tags(&r);
		}
		kr_tags(&r);
	}
	kr_tags(&r);
	CHECK(!r.bad && r.off == r.n);
	return true;
}

/* KIP-227: a full fetch opens a session; incremental fetches name only
 * changed partitions and are answered with only those whose data, high
 * watermark or log start changed; wrong epochs and unknown ids get 71
 * and 70; forgotten partitions leave; epoch -1 closes the session. */
static void t_fetch_sessions(void)
{
	struct env *e = env_new();
	struct kr r;
	struct fanswer f;
	uint8_t b[256];
	uint32_t n = make_batch(b, 3, 1000, 10);
	const int32_t p01[2] = {0, 1}, p1[1] = {1};
	const int64_t o00[2] = {0, 0}, o3[1] = {3};

	metadata_req(e, 0, 1, "t1", true);
	pump(e);
	CHECK(resp_next(e, 0, 1, &r));
	produce_v9(e, 2, b, n); /* partition 0: offsets 0..2 */
	CHECK(fresp_next(e, 0, 2, &r));
	fetch_sess(e, 3, 0, 0, 2, p01, o00, 0, NULL);
	CHECK(fetch_answer(e, 3, &f));
	CHECK(f.err == 0 && f.sid > 0 && f.n == 2 && f.idx[0] == 0 && f.idx[1] == 1);
	CHECK(f.hwm[0] == 3 && f.reclen[0] == (int32_t)n && f.hwm[1] == 0 && f.reclen[1] == 0);
	int32_t sid = f.sid;
	/* the client consumed partition 0 up to 3: nothing changed */
	fetch_sess(e, 4, sid, 1, 1, p01, o3, 0, NULL);
	CHECK(fetch_answer(e, 4, &f));
	CHECK(f.err == 0 && f.sid == sid && f.n == 0);
	/* new data in partition 1 only: an empty incremental fetch sees it */
	{
		struct kw w;
		freq_begin(&w, API_PRODUCE, 9, 5);
		kw_str(&w, NULL, -1);
		kw_i16(&w, 1);
		kw_i32(&w, 30000);
		kw_array(&w, 1);
		kw_str(&w, "t1", 2);
		kw_array(&w, 1);
		kw_i32(&w, 1);
		kw_bytes(&w, b, (int32_t)n);
		kw_tags(&w);
		kw_tags(&w);
		kw_tags(&w);
		req_send(e, 0, &w);
		CHECK(fresp_next(e, 0, 5, &r));
	}
	fetch_sess(e, 6, sid, 2, 0, NULL, NULL, 0, NULL);
	CHECK(fetch_answer(e, 6, &f));
	CHECK(f.n == 1 && f.idx[0] == 1 && f.hwm[0] == 3 && f.reclen[0] == (int32_t)n);
	fetch_sess(e, 7, sid, 2, 0, NULL, NULL, 0, NULL); /* epoch reused */
	CHECK(fetch_answer(e, 7, &f));
	CHECK(f.err == KERR_INVALID_FETCH_EPOCH && f.n == 0);
	fetch_sess(e, 8, sid + 1, 1, 0, NULL, NULL, 0, NULL);
	CHECK(fetch_answer(e, 8, &f));
	CHECK(f.err == KERR_FETCH_SESSION_NOT_FOUND);
	/* partition 1 forgotten: no longer answered although it has data */
	fetch_sess(e, 9, sid, 3, 0, NULL, NULL, 1, p1);
	CHECK(fetch_answer(e, 9, &f));
	CHECK(f.err == 0 && f.n == 0);
	fetch_sess(e, 10, sid, 4, 0, NULL, NULL, 0, NULL);
	CHECK(fetch_answer(e, 10, &f));
	CHECK(f.err == 0 && f.n == 0);
	/* close it: a sessionless full answer, then the id is unknown */
	fetch_sess(e, 11, sid, -1, 1, p1, o00, 0, NULL);
	CHECK(fetch_answer(e, 11, &f));
	CHECK(f.err == 0 && f.sid == 0 && f.n == 1 && f.reclen[0] == (int32_t)n);
	fetch_sess(e, 12, sid, 5, 0, NULL, NULL, 0, NULL);
	CHECK(fetch_answer(e, 12, &f));
	CHECK(f.err == KERR_FETCH_SESSION_NOT_FOUND);
	/* a deleted topic leaves the sessions (its id may be reused) */
	fetch_sess(e, 13, 0, 0, 2, p01, o00, 0, NULL);
	CHECK(fetch_answer(e, 13, &f));
	CHECK(f.n == 2 && f.sid > 0);
	sid = f.sid;
	{
		struct kw w;
		freq_begin(&w, API_DELETE_TOPICS, 5, 14);
		kw_array(&w, 1);
		kw_str(&w, "t1", 2);
		kw_i32(&w, 1000);
		kw_tags(&w);
		req_send(e, 0, &w);
		CHECK(fresp_next(e, 0, 14, &r));
	}
	fetch_sess(e, 15, sid, 1, 0, NULL, NULL, 0, NULL);
	CHECK(fetch_answer(e, 15, &f));
	CHECK(f.err == 0 && f.sid == sid && f.n == 0);
	env_free(e);
}

/* InitProducerId v4 (flexible, KIP-360 fields): the whole answer. */
static void t_init_producer_id_v4_layout(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;

	freq_begin(&w, API_INIT_PID, 4, 1);
	kw_str(&w, NULL, -1);
	kw_i32(&w, 60000);
	kw_i64(&w, -1);
	kw_i16(&w, -1);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 1, &r));
	CHECK(rest_is(&r, "00000000 0000 0000000000000000 0000 00"));
	freq_begin(&w, API_INIT_PID, 4, 2); /* a restarted producer: a new id */
	kw_str(&w, NULL, -1);
	kw_i32(&w, 60000);
	kw_i64(&w, 0);
	kw_i16(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 2, &r));
	CHECK(rest_is(&r, "00000000 0000 0000000000000001 0000 00"));
	env_free(e);
}

/* DescribeCluster v0, ListGroups v4 (state filter), DescribeGroups v5
 * (static member's instance id), DeleteGroups v2: whole answers. */
static void t_admin_flex_layout(void)
{
	struct env *e = env_new();
	struct joined a = {0};
	struct kw w;
	struct kr r;

	freq_begin(&w, API_DESCRIBE_CLUSTER, 0, 1);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 1, &r));
	CHECK(rest_is(&r, "00000000 0000 00 08 68616c6c6f7773 00000001"
	                  "02 " BROKER_HEX " 00 00 80000000 00"));
	join_v9(e, 1, 2, "", "inst-a");
	pump(e);
	t_clock += 400;
	CHECK(join_resp(e, 1, 2, &a) && a.err == 0);
	freq_begin(&w, API_LIST_GROUPS, 4, 3);
	kw_array(&w, 1);
	kw_str(&w, "CompletingRebalance", 19);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 3, &r));
	CHECK(rest_is(&r, "00000000 0000 02 02 67 09 636f6e73756d6572"
	                  "14 436f6d706c6574696e67526562616c616e6365 00 00"));
	freq_begin(&w, API_LIST_GROUPS, 4, 4);
	kw_array(&w, 1);
	kw_str(&w, "Empty", 5);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 4, &r));
	CHECK(rest_is(&r, "00000000 0000 01 00"));
	freq_begin(&w, API_DESCRIBE_GROUPS, 5, 5);
	kw_array(&w, 1);
	kw_str(&w, "g", 1);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 5, &r));
	/* the member id is random: it is spliced into the expected bytes */
	char want[512];
	uint8_t idb[64];
	memcpy(idb, a.member, 41);
	char hexid[90];
	for (int i = 0; i < 41; i++)
		snprintf(hexid + 2 * i, 3, "%02x", idb[i]);
	snprintf(
	    want, sizeof(want),
	    "00000000 02 0000 02 67 14 436f6d706c6574696e67526562616c616e6365"
	    "09 636f6e73756d6572 06 72616e6765 02 2a %s 07 696e73742d61 05 74657374 01 01 01 00"
	    "80000000 00 00",
	    hexid);
	CHECK(rest_is(&r, want));
	freq_begin(&w, API_DELETE_GROUPS, 2, 6);
	kw_array(&w, 2);
	kw_str(&w, "g", 1);
	kw_str(&w, "none", 4);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 6, &r));
	CHECK(rest_is(&r, "00000000 03 02 67 0044 00 05 6e6f6e65 0045 00 00"));
	env_free(e);
}

/* Append text to out (bounded). */
static void app(char *out, size_t cap, const char *text)
{
	size_t k = strlen(out);

	snprintf(out + k, cap - k, "%s", text);
}

/* Append the compact-string hex of str to out. */
static void cstr_hex(char *out, size_t cap, const char *str)
{
	size_t k = strlen(out);

	k += (size_t)snprintf(out + k, cap - k, " %02x ", (unsigned)strlen(str) + 1);
	for (const char *p = str; *p; p++)
		k += (size_t)snprintf(out + k, cap - k, "%02x", (unsigned char)*p);
}

/* One CreateTopics v5+ config entry: name, value, read-only false,
 * source, not sensitive, tags. */
static void cfg_hex(char *out, size_t cap, const char *name, const char *val, int src)
{
	size_t k;

	cstr_hex(out, cap, name);
	cstr_hex(out, cap, val);
	k = strlen(out);
	snprintf(out + k, cap - k, " 00 %02x 00 00", src);
}

/* CreateTopics v7 (configs and counts in the answer), DescribeConfigs v4,
 * IncrementalAlterConfigs v1, AlterConfigs v2, CreatePartitions v3,
 * DeleteRecords v2 and DeleteTopics v5: whole answers. */
static void t_topic_admin_flex_layout(void)
{
	struct env *e = env_new();
	struct kw w;
	struct kr r;
	char want[2048] = "", maxmsg[24];

	freq_begin(&w, API_CREATE_TOPICS, 7, 1);
	kw_array(&w, 2);
	kw_str(&w, "ct", 2);
	kw_i32(&w, 2);
	kw_i16(&w, 1);
	kw_array(&w, 0);
	kw_array(&w, 1);
	kw_str(&w, "retention.ms", 12);
	kw_str(&w, "1000", 4);
	kw_tags(&w);
	kw_tags(&w);
	kw_str(&w, "bad!", 4);
	kw_i32(&w, 1);
	kw_i16(&w, 1);
	kw_array(&w, 0);
	kw_array(&w, 0);
	kw_tags(&w);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 1, &r));
	snprintf(maxmsg, sizeof(maxmsg), "%u", (unsigned)STORE_MAX_PAYLOAD);
	app(want, sizeof(want),
	    "00000000 03 03 6374 00000000000000000000000000000000 0000 00 00000002 0001 0a");
	cfg_hex(want, sizeof(want), "cleanup.policy", "delete", 5);
	cfg_hex(want, sizeof(want), "max.message.bytes", maxmsg, 5);
	cfg_hex(want, sizeof(want), "message.timestamp.type", "CreateTime", 5);
	cfg_hex(want, sizeof(want), "retention.bytes", "-1", 5);
	cfg_hex(want, sizeof(want), "retention.ms", "1000", 1);
	cfg_hex(want, sizeof(want), "min.cleanable.dirty.ratio", "0.5", 5);
	cfg_hex(want, sizeof(want), "delete.retention.ms", "86400000", 5);
	cfg_hex(want, sizeof(want), "min.compaction.lag.ms", "0", 5);
	cfg_hex(want, sizeof(want), "segment.ms", "604800000", 5);
	app(want, sizeof(want), " 00 05 62616421 00000000000000000000000000000000 0011");
	cstr_hex(want, sizeof(want), "topic names are 1-249 of [a-zA-Z0-9._-], not . or ..");
	app(want, sizeof(want), " ffffffff ffff 00 00 00");
	CHECK(rest_is(&r, want));
	/* DescribeConfigs v4: one key, synonyms and documentation asked */
	freq_begin(&w, API_DESCRIBE_CONFIGS, 4, 2);
	kw_array(&w, 1);
	kw_i8(&w, 2);
	kw_str(&w, "ct", 2);
	kw_array(&w, 1);
	kw_str(&w, "retention.ms", 12);
	kw_tags(&w);
	kw_i8(&w, 1);
	kw_i8(&w, 1);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 2, &r));
	CHECK(rest_is(
	    &r, "00000000 02 0000 00 02 03 6374 02"
	        "0d 726574656e74696f6e2e6d73 05 31303030 00 01 00" /* name value ro src sens */
	        "02 0d 726574656e74696f6e2e6d73 05 31303030 01 00" /* one synonym */
	        "05 00 00"                                         /* LONG, no doc, tags */
	        "00 00"));
	/* IncrementalAlterConfigs v1 (DELETE), then AlterConfigs v2 */
	freq_begin(&w, API_INCR_ALTER_CONFIGS, 1, 3);
	kw_array(&w, 1);
	kw_i8(&w, 2);
	kw_str(&w, "ct", 2);
	kw_array(&w, 1);
	kw_str(&w, "retention.ms", 12);
	kw_i8(&w, 1);
	kw_str(&w, NULL, -1);
	kw_tags(&w);
	kw_tags(&w);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 3, &r));
	CHECK(rest_is(&r, "00000000 02 0000 00 02 03 6374 00 00"));
	CHECK(e->b->tconf[store_topic_find(e->st, "ct", 2)].retention_ms != 1000);
	freq_begin(&w, API_ALTER_CONFIGS, 2, 4);
	kw_array(&w, 1);
	kw_i8(&w, 2);
	kw_str(&w, "ct", 2);
	kw_array(&w, 1);
	kw_str(&w, "retention.ms", 12);
	kw_str(&w, "x", 1);
	kw_tags(&w);
	kw_tags(&w);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 4, &r));
	CHECK(kr_i32(&r) == 0 && kr_array(&r, 1, false) == 1 && kr_i16(&r) == KERR_INVALID_CONFIG);
	/* CreatePartitions v3 to 3 partitions */
	freq_begin(&w, API_CREATE_PARTITIONS, 3, 5);
	kw_array(&w, 1);
	kw_str(&w, "ct", 2);
	kw_i32(&w, 3);
	kw_array(&w, -1);
	kw_tags(&w);
	kw_i32(&w, 1000);
	kw_i8(&w, 0);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 5, &r));
	CHECK(rest_is(&r, "00000000 02 03 6374 0000 00 00 00"));
	CHECK(store_topic_parts(e->st, (uint32_t)store_topic_find(e->st, "ct", 2)) == 3);
	/* DeleteRecords v2 on an empty partition: low watermark 0 */
	freq_begin(&w, API_DELETE_RECORDS, 2, 6);
	kw_array(&w, 1);
	kw_str(&w, "ct", 2);
	kw_array(&w, 1);
	kw_i32(&w, 2);
	kw_i64(&w, -1);
	kw_tags(&w);
	kw_tags(&w);
	kw_i32(&w, 1000);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 6, &r));
	CHECK(rest_is(&r, "00000000 02 03 6374 02 00000002 0000000000000000 0000 00 00 00"));
	/* DeleteTopics v5 */
	freq_begin(&w, API_DELETE_TOPICS, 5, 7);
	kw_array(&w, 2);
	kw_str(&w, "ct", 2);
	kw_str(&w, "nope", 4);
	kw_i32(&w, 1000);
	kw_tags(&w);
	req_send(e, 0, &w);
	CHECK(fresp_next(e, 0, 7, &r));
	CHECK(rest_is(&r, "00000000 03 03 6374 0000 00 00 05 6e6f7065 0003 00 00 00"));
	CHECK(store_topic_find(e->st, "ct", 2) < 0);
	env_free(e);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("flex_compact_strings_arrays_bytes_codec", t_compact_codec);
	kt_add("flex_metadata_v12_v9_byte_layout", t_metadata_v12_layout);
	kt_add("flex_produce_v9_fetch_v12_byte_layout", t_produce_v9_fetch_v12_layout);
	kt_add("list_offsets_v7_by_timestamp_at_record_precision", t_list_offsets_record_precision);
	kt_add("flex_find_coordinator_v4_v3_byte_layout", t_find_coordinator_layout);
	kt_add("flex_request_header_tags_skipped_bad_compact_closes", t_header_tags_skipped);
	kt_add("group_v9_member_ids_and_static_membership", t_static_membership);
	kt_add("flex_offset_commit_v8_fetch_v7_byte_layout", t_offsets_v8_v7_layout);
	kt_add("flex_init_producer_id_v4_byte_layout", t_init_producer_id_v4_layout);
	kt_add("flex_describe_cluster_list_describe_delete_groups_layout", t_admin_flex_layout);
	kt_add("flex_topic_admin_create_configs_partitions_records_delete_layout",
	       t_topic_admin_flex_layout);
	kt_add("fetch_sessions_kip227_incremental_epochs_forget_close", t_fetch_sessions);
	return kt_main(NULL, 0, argc, argv);
}
