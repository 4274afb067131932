/* Fetch v4-v12 with long-poll: a fetch that finds no new data parks its
 * (already queued) response slot until data arrives or max_wait passes.
 * Record bytes are referenced from the store's read buffers, not copied. */
#include <string.h>

#include "broker_int.h"

#define FETCH_MAX_WAIT_MS 30000

struct fetch_hdr {
	int32_t max_wait, min_bytes, max_bytes;
};

/* Decode the fixed part of the request up to the topics array. */
static void fetch_head(struct kr *r, int16_t ver, struct fetch_hdr *h)
{
	(void)kr_i32(r);
	h->max_wait = kr_i32(r);
	h->min_bytes = kr_i32(r);
	h->max_bytes = kr_i32(r);
	(void)kr_i8(r);
	if (ver >= 7) {
		(void)kr_i32(r);
		(void)kr_i32(r);
	}
}

/* Read whole batches of p from off into rd (rd->n stays 0 when nothing is
 * due or there is no room in the response). KIP-74 (Kafka's
 * ReplicaManager): the limit is the smaller of the partition's max_bytes
 * and what is left of the response's max_bytes, and only while no earlier
 * partition of this response carried data (!any) may the first batch
 * exceed it, so that a consumer always makes progress. Returns a Kafka
 * error code for device failures. */
static int16_t fetch_read(struct broker *b, struct kresp *r, struct store_part *p, uint64_t off,
                          int32_t budget, int32_t part_max, bool any, struct store_read *rd)
{
	int32_t lim = part_max < budget ? part_max : budget;
	int err;

	rd->n = 0;
	rd->buf = NULL;
	if (off >= store_part_hwm(p) || (lim <= 0 && any) || r->nbufs >= KRESP_MAX_BUFS ||
	    r->w.next + STORE_READ_MAX > KW_MAX_EXT)
		return KERR_NONE;
	err = store_read_fit(b->st, p, off, lim > 0 ? (uint32_t)lim : 0, !any, rd);
	if (err == STORE_OK)
		return KERR_NONE;
	b_log(b, "broker: fetch read failed", "", err);
	return err == STORE_ERANGE ? KERR_OFFSET_RANGE : KERR_STORAGE;
}

/* Reference the batches of rd from the response; it owns the buffer now. */
static void fetch_attach(struct kresp *r, struct store_read *rd, int32_t *budget, bool *any)
{
	uint32_t total = 0;

	for (uint32_t i = 0; i < rd->n; i++)
		total += rd->len[i];
	kw_len(&r->w, (int32_t)total);
	for (uint32_t i = 0; i < rd->n; i++)
		kw_ext(&r->w, rd->ptr[i], rd->len[i]);
	if (rd->buf)
		r->bufs[r->nbufs++] = rd->buf;
	*budget -= (int32_t)total;
	*any |= rd->n > 0;
}

/* One partition entry; returns true when it has data or an error. */
static bool fetch_part(struct broker *b, struct kresp *r, int16_t ver, int tid, int32_t idx,
                       int64_t off, int32_t part_max, int32_t *budget, bool *any)
{
	struct store_part *p =
	    tid >= 0 ? store_part_get(b->st, (uint32_t)tid, (uint32_t)idx) : NULL;
	int16_t err = KERR_NONE;
	int64_t hwm = -1, start = -1;
	struct store_read rd = {0};

	if (!p)
		err = (int16_t)(tid < 0 ? -tid : KERR_UNKNOWN_TP);
	else {
		hwm = (int64_t)store_part_hwm(p);
		start = (int64_t)store_part_start(p);
		if (off < start || off > hwm)
			err = KERR_OFFSET_RANGE;
	}
	if (!r)
		return err || off != hwm;
	if (!err)
		err = fetch_read(b, r, p, (uint64_t)off, *budget, part_max, *any, &rd);
	kw_i32(&r->w, idx);
	kw_i16(&r->w, err);
	kw_i64(&r->w, hwm);
	kw_i64(&r->w, hwm); /* last stable offset: no transactions */
	if (ver >= 5)
		kw_i64(&r->w, start);
	kw_array(&r->w, 0); /* aborted transactions */
	if (ver >= 11)
		kw_i32(&r->w, -1);
	if (err)
		kw_len(&r->w, 0); /* empty record set, as Kafka sends */
	else
		fetch_attach(r, &rd, budget, any);
	kw_tags(&r->w);
	return err || off != hwm;
}

/* Walk the topics; with r == NULL only report whether anything is ready.
 * Returns -1 when malformed, else 1 (ready) or 0. */
static int fetch_topics(struct broker *b, struct kr *q, int16_t ver, struct kresp *r,
                        int32_t budget)
{
	int32_t nt = kr_array(q, q->flex ? 3 : 6, false);
	struct kstr name;
	bool ready = false, any = false;

	if (r)
		kw_array(&r->w, nt);
	for (int32_t t = 0; t < nt && !q->bad; t++) {
		kr_str(q, &name);
		int tid = topic_lookup(b, &name, false);
		int32_t np = kr_array(
		    q, 16 + (ver >= 5 ? 8 : 0) + (ver >= 9 ? 4 : 0) + (ver >= 12 ? 5 : 0), false);
		if (r) {
			kw_str(&r->w, name.p, name.len);
			kw_array(&r->w, np);
		}
		for (int32_t k = 0; k < np && !q->bad; k++) {
			int32_t idx = kr_i32(q);
			if (ver >= 9)
				(void)kr_i32(q);
			int64_t off = kr_i64(q);
			if (ver >= 12)
				(void)kr_i32(q); /* last fetched epoch */
			if (ver >= 5)
				(void)kr_i64(q);
			int32_t pmax = kr_i32(q);
			kr_tags(q);
			if (q->bad)
				break;
			ready |= fetch_part(b, r, ver, tid, idx, off, pmax, &budget, &any);
		}
		kr_tags(q);
		if (r)
			kw_tags(&r->w);
	}
	return q->bad ? -1 : ready;
}

/* Skip the request header of a saved frame; leaves the reader at the body. */
static void reread(struct kr *q, const uint8_t *raw, uint32_t n, int16_t ver)
{
	struct kstr s;

	kr_init(q, raw, n);
	(void)kr_i16(q);
	(void)kr_i16(q);
	(void)kr_i32(q);
	kr_str(q, &s);
	if (api_flexible(API_FETCH, ver)) {
		kr_skip_tags(q);
		q->flex = true;
	}
}

/* Fill the queued slot r with the full response body and release it. */
static void fetch_respond(struct broker *b, struct kresp *r, struct kr q, int16_t ver)
{
	struct fetch_hdr h;

	fetch_head(&q, ver, &h);
	kw_i32(&r->w, 0);
	if (ver >= 7) {
		kw_i16(&r->w, 0);
		kw_i32(&r->w, 0);
	}
	(void)fetch_topics(b, &q, ver, r, h.max_bytes > 0 ? h.max_bytes : 0);
	kw_tags(&r->w);
	resp_finish(r);
	resp_ready(b, r);
}

/* Fetch: answer now when data (or an error) is there or max_wait is 0,
 * otherwise park a copy of the request until fetch_poll completes it. */
int api_fetch(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr body = q->r, scan = q->r;
	struct fetch_hdr h;
	struct kresp *r;
	int ready;

	fetch_head(&scan, q->ver, &h);
	ready = fetch_topics(b, &scan, q->ver, NULL, 0);
	if (ready < 0)
		return -1;
	if (!(r = resp_new(b, c, q->corr)))
		return -1;
	if (ready || h.max_wait <= 0) {
		fetch_respond(b, r, body, q->ver);
		return 0;
	}
	r->req_copy = b_alloc(b, q->raw_len);
	if (!r->req_copy)
		return -1;
	memcpy(r->req_copy, q->raw, q->raw_len);
	r->req_len = q->raw_len;
	r->ver = q->ver;
	r->deadline = b->pl.now_ms(b->pl.ctx) +
	              (uint32_t)(h.max_wait < FETCH_MAX_WAIT_MS ? h.max_wait : FETCH_MAX_WAIT_MS);
	r->park_next = b->parked;
	b->parked = r;
	return 0;
}

/* Complete parked fetches whose data arrived or whose wait ran out. */
void fetch_poll(struct broker *b, bool force_all)
{
	uint64_t now = b->pl.now_ms(b->pl.ctx);
	struct kresp **pp = &b->parked;
	bool data = b->data_arrived;

	b->data_arrived = false;
	while (*pp) {
		struct kresp *r = *pp;
		struct kr q, body;
		struct fetch_hdr h;
		reread(&q, r->req_copy, r->req_len, r->ver);
		body = q;
		fetch_head(&q, r->ver, &h);
		if (!force_all && now < r->deadline &&
		    (!data || fetch_topics(b, &q, r->ver, NULL, 0) == 0)) {
			pp = &r->park_next;
			continue;
		}
		*pp = r->park_next;
		r->park_next = NULL;
		fetch_respond(b, r, body, r->ver);
	}
}
