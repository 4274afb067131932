/* Fetch v4-v12 with long-poll and fetch sessions (KIP-227). A fetch that
 * finds no new data parks its (already queued) response slot until data
 * arrives or max_wait passes. Record bytes are referenced from the
 * store's read buffers, not copied. */
#include <lib/prof.h>
#include <lib/string.h>

#include "broker_int.h"

#define FETCH_MAX_WAIT_MS 30000

/* A partition of a fetch session and what its last answer told the
 * client (an incremental answer leaves out partitions where nothing
 * changed). */
struct fsess_part {
	int32_t tid, idx;
	int64_t off;
	int32_t pmax;
	int64_t hwm, start; /* as last sent; -2: never sent */
	int64_t lso;
};

struct fsess {
	int32_t id;    /* 0: free slot */
	int32_t epoch; /* the epoch the next incremental fetch must carry */
	uint32_t n, cap;
	struct fsess_part *p;
	uint64_t used_ms;
};

struct fetch_hdr {
	int32_t max_wait, min_bytes, max_bytes;
	int32_t sess_id, epoch;
	int8_t isolation; /* 1: read_committed */
};

/* Decode the fixed part of the request up to the topics array. */
static void fetch_head(struct kr *r, int16_t ver, struct fetch_hdr *h)
{
	(void)kr_i32(r);
	h->max_wait = kr_i32(r);
	h->min_bytes = kr_i32(r);
	h->max_bytes = kr_i32(r);
	h->isolation = kr_i8(r);
	h->sess_id = 0;
	h->epoch = -1;
	if (ver >= 7) {
		h->sess_id = kr_i32(r);
		h->epoch = kr_i32(r);
	}
}

/* Decode the topics of a fetch into ents (NULL: only count and check).
 * Returns the number of partitions, -1 when malformed. */
static int32_t fetch_decode(struct broker *b, struct kr *q, int16_t ver, struct fent *ents)
{
	int32_t nt = kr_array(q, q->flex ? 3 : 6, false), n = 0;
	struct kstr name;

	for (int32_t t = 0; t < nt && !q->bad; t++) {
		kr_str(q, &name);
		int tid = ents ? topic_lookup(b, &name, false) : 0;
		int32_t np = kr_array(
		    q, 16 + (ver >= 5 ? 8 : 0) + (ver >= 9 ? 4 : 0) + (ver >= 12 ? 5 : 0), false);
		for (int32_t k = 0; k < np && !q->bad; k++) {
			int32_t idx = kr_i32(q);
			if (ver >= 9)
				(void)kr_i32(q); /* current leader epoch */
			int64_t off = kr_i64(q);
			if (ver >= 12)
				(void)kr_i32(q); /* last fetched epoch */
			if (ver >= 5)
				(void)kr_i64(q); /* log start offset (followers) */
			int32_t pmax = kr_i32(q);
			kr_tags(q);
			if (ents)
				ents[n] = (struct fent){tid, idx, off, pmax, name.p, name.len, -1};
			n++;
		}
		kr_tags(q);
	}
	return q->bad ? -1 : n;
}

/* ForgottenTopicsData (v7+): with s, its partitions leave the session. */
static void fetch_forget(struct broker *b, struct kr *q, struct fsess *s)
{
	int32_t nt = kr_array(q, q->flex ? 3 : 6, false);
	struct kstr name;

	for (int32_t t = 0; t < nt && !q->bad; t++) {
		kr_str(q, &name);
		int tid = s ? topic_lookup(b, &name, false) : -1;
		int32_t np = kr_array(q, 4, false);
		for (int32_t k = 0; k < np && !q->bad; k++) {
			int32_t idx = kr_i32(q);
			for (uint32_t i = 0; s && tid >= 0 && i < s->n; i++)
				if (s->p[i].tid == tid && s->p[i].idx == idx) {
					s->p[i] = s->p[--s->n];
					break;
				}
		}
		kr_tags(q);
	}
}

static struct fsess *sess_find(struct broker *b, int32_t id)
{
	for (uint32_t i = 0; b->fsess && id && i < FSESS_MAX; i++)
		if (b->fsess[i].id == id)
			return &b->fsess[i];
	return NULL;
}

static void sess_close(struct broker *b, struct fsess *s)
{
	broker_free(b, s->p);
	memset(s, 0, sizeof(*s));
	b->fsess_used--;
}

/* A new session; when all slots are taken the least recently used one is
 * evicted (its client gets FETCH_SESSION_ID_NOT_FOUND and starts over).
 * NULL without memory: the fetch is then answered without a session. */
static struct fsess *sess_new(struct broker *b, uint64_t now)
{
	struct fsess *s = NULL;

	if (!b->fsess && !(b->fsess = broker_alloc(b, FSESS_MAX * sizeof(*b->fsess))))
		return NULL;
	for (uint32_t i = 0; i < FSESS_MAX && !s; i++)
		if (!b->fsess[i].id)
			s = &b->fsess[i];
	if (!s) {
		s = &b->fsess[0];
		for (uint32_t i = 1; i < FSESS_MAX; i++)
			if (b->fsess[i].used_ms < s->used_ms)
				s = &b->fsess[i];
		broker_log(b, "broker: fetch session cache full, evicting", "", s->id);
		sess_close(b, s);
	}
	if (b->fsess_next_id <= 0)
		b->fsess_next_id = (int32_t)(broker_random(b) & 0x3fffffff) + 1;
	do {
		s->id = b->fsess_next_id++;
		if (b->fsess_next_id <= 0)
			b->fsess_next_id = 1;
	} while (sess_find(b, s->id) != s);
	s->used_ms = now;
	b->fsess_used++;
	return s;
}

/* Add or update e's partition in s; returns its slot or -1 when full. */
static int32_t sess_put(struct broker *b, struct fsess *s, const struct fent *e)
{
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (s->p[i].tid == e->tid && s->p[i].idx == e->idx)
			break;
	if (i == s->n) {
		if (s->n == FSESS_MAX_PARTS)
			return -1;
		if (s->n == s->cap) {
			uint32_t nc = s->cap ? 2 * s->cap : 16;
			struct fsess_part *np = broker_alloc(b, nc * sizeof(*np));
			if (!np)
				return -1;
			if (s->n)
				memcpy(np, s->p, s->n * sizeof(*np));
			broker_free(b, s->p);
			s->p = np;
			s->cap = nc;
		}
		/* after the topic's last partition, so topics stay together */
		uint32_t at = s->n;
		for (uint32_t k = s->n; k-- > 0;)
			if (s->p[k].tid == e->tid) {
				at = k + 1;
				break;
			}
		if (at < s->n)
			memmove(&s->p[at + 1], &s->p[at], (s->n - at) * sizeof(*s->p));
		s->p[at] = (struct fsess_part){e->tid, e->idx, 0, 0, -2, -2, -2};
		s->n++;
		i = at;
	}
	s->p[i].off = e->off;
	s->p[i].pmax = e->pmax;
	return (int32_t)i;
}

/* Session partition for e (its slot, checked, else searched). */
static struct fsess_part *sess_part(struct fsess *s, const struct fent *e)
{
	if (!s || e->tid < 0)
		return NULL;
	if (e->slot >= 0 && (uint32_t)e->slot < s->n && s->p[e->slot].tid == e->tid &&
	    s->p[e->slot].idx == e->idx)
		return &s->p[e->slot];
	for (uint32_t i = 0; i < s->n; i++)
		if (s->p[i].tid == e->tid && s->p[i].idx == e->idx)
			return &s->p[i];
	return NULL;
}

/* A deleted (or recreated) topic leaves every fetch session: its id may
 * name another topic later. */
void api_fetch_drop_topic(struct broker *b, uint32_t tid)
{
	for (uint32_t i = 0; b->fsess && i < FSESS_MAX; i++) {
		struct fsess *s = &b->fsess[i];
		uint32_t k = 0;
		for (uint32_t j = 0; j < s->n; j++)
			if (s->p[j].tid != (int32_t)tid)
				s->p[k++] = s->p[j];
		s->n = k;
	}
}

void api_fetch_sessions_free(struct broker *b)
{
	for (uint32_t i = 0; b->fsess && i < FSESS_MAX; i++)
		broker_free(b, b->fsess[i].p);
	broker_free(b, b->fsess);
	b->fsess = NULL;
	b->fsess_used = 0;
}

/* Read whole batches of p from off into rd (rd->n stays 0 when nothing is
 * due or there is no room in the response). KIP-74 (Kafka's
 * ReplicaManager): the limit is the smaller of the partition's max_bytes
 * and what is left of the response's max_bytes, and only while no earlier
 * partition of this response carried data (!any) may the first batch
 * exceed it, so that a consumer always makes progress. Returns a Kafka
 * error code for device failures. */
static int16_t fetch_read(struct broker *b, struct kresp *r, struct store_part *p, uint64_t off,
                          uint64_t end, int32_t budget, int32_t part_max, bool any,
                          struct store_read *rd)
{
	int32_t lim = part_max < budget ? part_max : budget;
	int err;

	rd->n = 0;
	rd->buf = NULL;
	if (off >= end || (lim <= 0 && any) || r->nbufs >= KRESP_MAX_BUFS ||
	    r->w.next + STORE_READ_MAX > KW_MAX_EXT)
		return KERR_NONE;
	PROF_ENTER(PROF_STORE);
	err = store_read_fit(b->st, p, off, lim > 0 ? (uint32_t)lim : 0, !any, rd);
	PROF_LEAVE();
	if (err == STORE_OK) {
		/* read_committed: only batches below the last stable offset
		 * (which is always a batch's base offset) */
		while (rd->n && get_be64(rd->ptr[rd->n - 1]) >= end)
			rd->n--;
		if (!rd->n && rd->buf) {
			store_read_release(b->st, rd);
			rd->buf = NULL;
		}
		return KERR_NONE;
	}
	broker_log(b, "broker: fetch read failed", "", err);
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

/* State of e's partition: error, high watermark, last stable offset and
 * log start. */
static int16_t fent_state(struct broker *b, const struct fent *e, struct store_part **pp,
                          int64_t *hwm, int64_t *lso, int64_t *start)
{
	struct store_part *p =
	    e->tid >= 0 ? store_part_get(b->st, (uint32_t)e->tid, (uint32_t)e->idx) : NULL;

	*pp = p;
	*hwm = *lso = *start = -1;
	if (!p)
		return (int16_t)(e->tid < 0 ? -e->tid : KERR_UNKNOWN_TP);
	if (!broker_leads(b, (uint32_t)e->tid, (uint32_t)e->idx)) {
		*pp = NULL;
		return KERR_NOT_LEADER;
	}
	*hwm = (int64_t)store_part_hwm(p);
	*lso = txn_lso(b, (uint32_t)e->tid, (uint32_t)e->idx, *hwm);
	*start = (int64_t)store_part_start(p);
	return e->off < *start || e->off > *hwm ? KERR_OFFSET_RANGE : KERR_NONE;
}

/* True when e has data or an error to report (the fetch is ready); a
 * read_committed fetch (committed) sees data below the LSO only. */
static bool fent_ready(struct broker *b, const struct fent *e, bool committed)
{
	struct store_part *p;
	int64_t hwm, lso, start;

	if (fent_state(b, e, &p, &hwm, &lso, &start))
		return true;
	return committed ? e->off < lso : e->off != hwm;
}

/* Whether an incremental answer carries e: an error, data due, or a high
 * watermark or log start the client has not seen yet. */
static bool fent_changed(struct broker *b, const struct fent *e, const struct fsess_part *sp,
                         bool committed)
{
	struct store_part *p;
	int64_t hwm, lso, start;

	if (fent_state(b, e, &p, &hwm, &lso, &start) || e->off < (committed ? lso : hwm) || !sp)
		return true;
	return sp->hwm != hwm || sp->lso != lso || sp->start != start;
}

/* One partition entry of the response. */
static void fetch_part(struct broker *b, struct kresp *r, const struct fent *e,
                       struct fsess_part *sp, int32_t *budget, bool *any)
{
	struct store_part *p;
	int64_t hwm, lso, start, upto;
	int16_t err = fent_state(b, e, &p, &hwm, &lso, &start);
	struct store_read rd = {0};

	if (!err)
		err = fetch_read(b, r, p, (uint64_t)e->off, (uint64_t)(r->committed ? lso : hwm),
		                 *budget, e->pmax, *any, &rd);
	kw_i32(&r->w, e->idx);
	kw_i16(&r->w, err);
	kw_i64(&r->w, hwm);
	kw_i64(&r->w, lso);
	if (r->ver >= 5)
		kw_i64(&r->w, start);
	/* aborted transactions overlapping the data sent (read_committed;
	 * read_uncommitted consumers get none, as from Kafka) */
	upto = rd.n ? (int64_t)get_be64(rd.ptr[rd.n - 1]) +
	                  (int64_t)get_be32(rd.ptr[rd.n - 1] + 23) + 1
	            : e->off;
	if (!err && r->committed && rd.n)
		txn_write_aborted(b, &r->w, (uint32_t)e->tid, (uint32_t)e->idx, e->off, upto);
	else
		kw_array(&r->w, 0);
	if (r->ver >= 11)
		kw_i32(&r->w, -1);
	if (err)
		kw_len(&r->w, 0); /* empty record set, as Kafka sends */
	else
		fetch_attach(r, &rd, budget, any);
	kw_tags(&r->w);
	if (sp) {
		sp->hwm = hwm;
		sp->lso = lso;
		sp->start = start;
	}
}

/* Entries a and c name the same topic. */
static bool same_topic(const struct fent *a, const struct fent *c)
{
	if (a->tid >= 0 || c->tid >= 0)
		return a->tid == c->tid;
	return a->nlen == c->nlen && (a->nlen <= 0 || !memcmp(a->name, c->name, (size_t)a->nlen));
}

/* Next entry from i on that the answer carries (slot -2: left out of an
 * incremental answer), or n. */
static uint32_t next_in(const struct fent *e, uint32_t n, uint32_t i)
{
	while (i < n && e[i].slot == -2)
		i++;
	return i;
}

/* Fill the queued slot r with the full response body and release it.
 * Entries come grouped by topic (the request's order, or the session's,
 * which keeps each topic's partitions together): each run of one topic
 * is one topic entry, so the answer is built in linear time. */
static void fetch_respond(struct broker *b, struct kresp *r)
{
	struct fsess *s = sess_find(b, r->sess_id);
	int32_t budget = r->fmax > 0 ? r->fmax : 0, nt = 0;
	bool any = false;
	uint32_t n = r->nfents, i, j;
	struct fent *e = r->fents;

	kw_i32(&r->w, 0);
	if (r->ver >= 7) {
		kw_i16(&r->w, 0);
		kw_i32(&r->w, s ? r->sess_id : 0);
	}
	for (i = 0; i < n; i++)
		if (r->sess_incr && !fent_changed(b, &e[i], sess_part(s, &e[i]), r->committed))
			e[i].slot = -2;
	for (i = next_in(e, n, 0); i < n; i = j, nt++)
		for (j = next_in(e, n, i + 1); j < n && same_topic(&e[i], &e[j]);)
			j = next_in(e, n, j + 1);
	kw_array(&r->w, nt);
	for (i = next_in(e, n, 0); i < n; i = j) {
		uint32_t np = 1, len;
		for (j = next_in(e, n, i + 1); j < n && same_topic(&e[i], &e[j]); np++)
			j = next_in(e, n, j + 1);
		if (e[i].tid >= 0) {
			const char *name = store_topic_name(b->st, (uint32_t)e[i].tid, &len);
			kw_str(&r->w, name, (int32_t)len);
		} else {
			kw_str(&r->w, e[i].name, e[i].nlen);
		}
		kw_array(&r->w, (int32_t)np);
		for (uint32_t k = i; k < j; k = next_in(e, n, k + 1))
			fetch_part(b, r, &e[k], sess_part(s, &e[k]), &budget, &any);
		kw_tags(&r->w);
	}
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
}

/* Answer a fetch with a top-level error (fetch session errors). */
static int fetch_error(struct broker *b, struct kresp *r, int16_t err)
{
	kw_i32(&r->w, 0);
	kw_i16(&r->w, err);
	kw_i32(&r->w, 0);
	kw_array(&r->w, 0);
	kw_tags(&r->w);
	broker_resp_finish(r);
	broker_resp_ready(b, r);
	broker_log(b, "broker: fetch session error", "", err);
	return 0;
}

/* The partitions an incremental fetch answers for: the whole session,
 * plus the request's entries for unknown topics (errors, not kept). */
static struct fent *sess_entries(struct broker *b, struct fsess *s, struct fent *req, uint32_t nreq,
                                 uint32_t *n)
{
	uint32_t bad = 0, k = 0;
	struct fent *e;

	for (uint32_t i = 0; i < nreq; i++)
		bad += req[i].tid < 0;
	if (!(e = broker_alloc(b, (s->n + bad + 1) * sizeof(*e))))
		return NULL;
	for (uint32_t i = 0; i < s->n; i++)
		e[k++] = (struct fent){s->p[i].tid, s->p[i].idx, s->p[i].off, s->p[i].pmax,
		                       NULL,        0,           (int32_t)i};
	for (uint32_t i = 0; i < nreq; i++)
		if (req[i].tid < 0)
			e[k++] = req[i];
	*n = k;
	return e;
}

/* KIP-227 session handling of a v7+ fetch: (0, -1) no session; (id, -1)
 * closes id; (any, 0) a full fetch opening a new session (closing id);
 * (id, epoch > 0) an incremental fetch, whose partitions update the
 * session and whose answer covers all of it. Returns a Kafka error. */
static int16_t fetch_session(struct broker *b, struct kresp *r, const struct fetch_hdr *h,
                             struct kr *rest)
{
	uint64_t now = b->pl.now_ms(b->pl.ctx);
	struct fsess *s = h->sess_id ? sess_find(b, h->sess_id) : NULL;

	if (h->epoch == -1 || h->epoch == 0) {
		if (s)
			sess_close(b, s);
		if (h->epoch == -1 || !(s = sess_new(b, now)))
			return KERR_NONE;
		for (uint32_t i = 0; i < r->nfents; i++)
			if (r->fents[i].tid >= 0 &&
			    (r->fents[i].slot = sess_put(b, s, &r->fents[i])) < 0) {
				sess_close(b, s); /* too many partitions: answered without */
				for (uint32_t k = 0; k < r->nfents; k++)
					r->fents[k].slot = -1;
				return KERR_NONE;
			}
		s->epoch = 1;
		r->sess_id = s->id;
		return KERR_NONE;
	}
	if (!s)
		return h->sess_id ? KERR_FETCH_SESSION_NOT_FOUND : KERR_INVALID_FETCH_EPOCH;
	if (h->epoch != s->epoch)
		return KERR_INVALID_FETCH_EPOCH;
	for (uint32_t i = 0; i < r->nfents; i++)
		if (r->fents[i].tid >= 0 && sess_put(b, s, &r->fents[i]) < 0)
			return KERR_INVALID_REQUEST; /* more than FSESS_MAX_PARTS */
	fetch_forget(b, rest, s);
	uint32_t n;
	struct fent *e = sess_entries(b, s, r->fents, r->nfents, &n);
	if (!e)
		return KERR_UNKNOWN;
	broker_free(b, r->fents);
	r->fents = e;
	r->nfents = n;
	s->epoch = s->epoch == 0x7fffffff ? 1 : s->epoch + 1;
	s->used_ms = now;
	r->sess_id = s->id;
	r->sess_incr = true;
	return KERR_NONE;
}

/* Fetch: answer now when data (or an error) is there or max_wait is 0,
 * otherwise park until api_fetch_poll completes it. */
int api_fetch(struct broker *b, struct kconn *c, struct kreq *q)
{
	struct kr scan = q->r, body;
	struct fetch_hdr h;
	struct kresp *r;
	int32_t n;
	int16_t err;
	bool ready = false;

	fetch_head(&scan, q->ver, &h);
	body = scan;
	if ((n = fetch_decode(b, &scan, q->ver, NULL)) < 0)
		return -1;
	if (q->ver >= 7)
		fetch_forget(b, &scan, NULL);
	if (scan.bad || !(r = broker_resp_new(b, c, q->corr)))
		return -1;
	r->ver = q->ver;
	r->fmax = h.max_bytes;
	r->committed = h.isolation == 1;
	if (!(r->fents = broker_alloc(b, ((uint32_t)n + 1) * sizeof(*r->fents))))
		return -1;
	r->nfents = (uint32_t)fetch_decode(b, &body, q->ver, r->fents);
	if (q->ver >= 7 && (err = fetch_session(b, r, &h, &body)))
		return fetch_error(b, r, err);
	for (uint32_t i = 0; i < r->nfents && !ready; i++)
		ready = fent_ready(b, &r->fents[i], r->committed);
	if (ready || h.max_wait <= 0) {
		fetch_respond(b, r);
		return 0;
	}
	/* parked: names of unknown topics point into the request; keep it */
	if (!(r->req_copy = broker_alloc(b, q->raw_len)))
		return -1;
	memcpy(r->req_copy, q->raw, q->raw_len);
	r->req_len = q->raw_len;
	for (uint32_t i = 0; i < r->nfents; i++)
		if (r->fents[i].name)
			r->fents[i].name =
			    (const char *)r->req_copy + (r->fents[i].name - (const char *)q->raw);
	r->deadline = b->pl.now_ms(b->pl.ctx) +
	              (uint32_t)(h.max_wait < FETCH_MAX_WAIT_MS ? h.max_wait : FETCH_MAX_WAIT_MS);
	r->park_next = b->parked;
	b->parked = r;
	return 0;
}

/* Complete parked fetches whose data arrived or whose wait ran out. */
void api_fetch_poll(struct broker *b, bool force_all, uint64_t now)
{
	struct kresp **pp = &b->parked;
	bool data = b->data_arrived;

	b->data_arrived = false;
	while (*pp) {
		struct kresp *r = *pp;
		bool ready = force_all || now >= r->deadline;
		for (uint32_t i = 0; data && !ready && i < r->nfents; i++)
			ready = fent_ready(b, &r->fents[i], r->committed);
		if (!ready) {
			pp = &r->park_next;
			continue;
		}
		*pp = r->park_next;
		r->park_next = NULL;
		fetch_respond(b, r);
	}
}
