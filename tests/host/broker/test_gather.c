/* Produce requests decoded in the buffers they arrived in
 * (broker_conn_input_gather, docs/broker.md "Transport over Floo"): split
 * at every byte, corrupted, truncated and lying requests, and the store's
 * count of copied bytes (one copy per stored byte). */
#include "tbroker.h"

#define NB     2
#define BLEN   300u /* bytes of each batch */
#define MAXLEN 1024u

/* A v2 batch of len bytes with one record's worth of arbitrary payload (the broker checks the
 * header and the CRC, not the records) and a correct CRC. */
static void mk_batch(uint8_t *b, uint32_t len, uint8_t fill)
{
	memset(b, 0, 61);
	put_be32(b + 8, len - 12);
	b[16] = 2;
	put_be64(b + 27, 1000);
	put_be64(b + 35, 1000);
	memset(b + 43, 0xff, 14); /* no producer id, epoch or sequence */
	put_be32(b + 57, 1);
	for (uint32_t i = 61; i < len; i++)
		b[i] = (uint8_t)(fill + i * 7);
	put_be32(b + 17, store_crc32c(0, b + 21, len - 21));
}

/* A Produce v7 request (size field included) of NB partitions of topic t, one batch each;
 * returns its length. */
static uint32_t mk_request(uint8_t *out, int32_t corr, uint8_t batches[NB][BLEN])
{
	struct kw w;
	uint32_t n;

	req_begin(&w, API_PRODUCE, 7, corr);
	kw_str(&w, NULL, -1);
	kw_i16(&w, 1);
	kw_i32(&w, 30000);
	kw_i32(&w, 1);
	kw_str(&w, "gtopic", 6);
	kw_i32(&w, NB);
	for (int32_t k = 0; k < NB; k++) {
		kw_i32(&w, k);
		kw_bytes(&w, batches[k], BLEN);
	}
	kw_patch32(&w, 0, (int32_t)(w.len - 4));
	n = (uint32_t)w.len;
	CHECK(n <= MAXLEN);
	memcpy(out, w.buf, n);
	kw_free(&w);
	return n;
}

/* Pieces of req cut at the given points (ascending); returns how many. */
static uint32_t cut(struct store_iov *v, const uint8_t *req, uint32_t len, const uint32_t *at,
                    uint32_t nat)
{
	uint32_t n = 0, from = 0;

	for (uint32_t i = 0; i <= nat; i++) {
		uint32_t to = i < nat ? at[i] : len;
		v[n++] = (struct store_iov){req + from, to - from};
		from = to;
	}
	return n;
}

/* The produce response of both partitions: errors and base offsets. */
static void resp_parts(struct env *e, int32_t corr, int16_t err[NB], int64_t base[NB])
{
	struct kr r;
	struct kstr s;

	CHECK(resp_next(e, 0, corr, &r));
	CHECK(kr_i32(&r) == 1);
	kr_str(&r, &s);
	CHECK(s.len == 6 && !memcmp(s.p, "gtopic", 6)); /* a name kept past later reads */
	CHECK(kr_i32(&r) == NB);
	for (int k = 0; k < NB; k++) {
		(void)kr_i32(&r);
		err[k] = kr_i16(&r);
		base[k] = kr_i64(&r);
		(void)kr_i64(&r);
		(void)kr_i64(&r);
	}
	CHECK(kr_i32(&r) == 0 && !r.bad && r.off == r.n);
}

/* The batch stored at offset off of partition k equals want (BaseOffset set to off). */
static bool stored_is(struct env *e, uint32_t k, uint64_t off, const uint8_t *want)
{
	struct store_read rd;
	uint8_t exp[BLEN];
	bool ok;

	memcpy(exp, want, BLEN);
	put_be64(exp, off);
	if (store_read(e->st, tpart(e, "gtopic", k), off, 1, &rd) != STORE_OK)
		return false;
	ok = rd.n == 1 && rd.len[0] == BLEN && !memcmp(rd.ptr[0], exp, BLEN);
	store_read_release(e->st, &rd);
	return ok;
}

static struct env *setup(void)
{
	struct env *e = env_new();
	struct kr r;

	metadata_req(e, 0, 1, "gtopic", true); /* 4 partitions */
	pump(e);
	CHECK(resp_next(e, 0, 1, &r));
	return e;
}

/* Every single cut, every pair of cuts a prime apart and one-byte pieces throughout: the same
 * responses and stored bytes as the contiguous request, one copy per stored byte. */
static void t_every_split(void)
{
	struct env *e = setup();
	uint8_t batches[NB][BLEN], req[MAXLEN];
	struct store_iov v[MAXLEN];
	uint32_t at[MAXLEN], len, n, runs = 0;
	int16_t err[NB];
	int64_t base[NB];

	for (int k = 0; k < NB; k++)
		mk_batch(batches[k], BLEN, (uint8_t)(k * 50));
	len = mk_request(req, 2, batches);
	for (uint32_t mode = 0; mode < 3; mode++)
		for (uint32_t s = 1; s < len; s++) {
			int32_t corr = 10 + (int32_t)runs;
			uint64_t copied = store_copied_bytes(e->st);
			if (mode == 2 && s > 1)
				break;
			put_be32(req + 8, (uint32_t)corr);
			if (mode == 0) {
				at[0] = s, n = cut(v, req, len, at, 1);
			} else if (mode == 1) {
				if (s + 13 >= len)
					continue;
				at[0] = s, at[1] = s + 13, n = cut(v, req, len, at, 2);
			} else {
				for (uint32_t i = 1; i < len; i++)
					at[i - 1] = i;
				n = cut(v, req, len, at, len - 1);
			}
			CHECK(n >= 2);
			CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, len) ==
			      BROKER_GATHER_DONE);
			pump(e);
			resp_parts(e, corr, err, base);
			for (uint32_t k = 0; k < NB; k++) {
				CHECK(err[k] == KERR_NONE && base[k] == (int64_t)runs);
				CHECK(stored_is(e, k, runs, batches[k]));
			}
			CHECK(store_copied_bytes(e->st) - copied == NB * BLEN);
			CHECK(!e->c[0].closed);
			runs++;
		}
	CHECK(runs > 2 * len - 20);
	env_free(e);
}

/* A corrupted batch in a gathered request: CORRUPT_MESSAGE, nothing stored or copied for that
 * partition (the CRC is checked before the copy), the other partition stored. */
static void t_corrupt_rejected(void)
{
	struct env *e = setup();
	uint8_t batches[NB][BLEN], req[MAXLEN];
	struct store_iov v[4];
	uint32_t at[3], len;
	int16_t err[NB];
	int64_t base[NB];

	for (int k = 0; k < NB; k++)
		mk_batch(batches[k], BLEN, (uint8_t)k);
	len = mk_request(req, 2, batches);
	req[len - 5] ^= 0x10; /* the second partition's last record bytes */
	at[0] = 40, at[1] = 200, at[2] = len - 3;
	(void)cut(v, req, len, at, 3);
	uint64_t copied;
	copied = store_copied_bytes(e->st);
	CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, len) == BROKER_GATHER_DONE);
	pump(e);
	resp_parts(e, 2, err, base);
	CHECK(err[0] == KERR_NONE && base[0] == 0 && stored_is(e, 0, 0, batches[0]));
	CHECK(err[1] == KERR_CORRUPT && base[1] == -1);
	CHECK(store_part_end(tpart(e, "gtopic", 1)) == 0);
	CHECK(store_copied_bytes(e->st) - copied == BLEN);
	CHECK(!e->c[0].closed);
	env_free(e);
}

/* Not a Produce, or a size field that does not match: BROKER_GATHER_COPY, nothing done; a
 * records length beyond the frame: the connection closes as for a contiguous one; a batch
 * length beyond its records: CORRUPT_MESSAGE. */
static void t_bad_requests(void)
{
	struct env *e = setup();
	uint8_t batches[NB][BLEN], req[MAXLEN];
	struct store_iov v[3];
	uint32_t at[2] = {30, 333}, len;
	int16_t err[NB];
	int64_t base[NB];

	for (int k = 0; k < NB; k++)
		mk_batch(batches[k], BLEN, 3);
	len = mk_request(req, 2, batches);
	(void)cut(v, req, len, at, 2);
	CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, len - 1) == BROKER_GATHER_COPY);
	CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, 11) == BROKER_GATHER_COPY);
	put_be16(req + 4, API_FETCH);
	CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, len) == BROKER_GATHER_COPY);
	put_be16(req + 4, API_PRODUCE);
	pump(e);
	CHECK(e->c[0].out_len == e->c[0].out_off && store_part_end(tpart(e, "gtopic", 0)) == 0);
	/* a batch whose length field lies (longer than its records blob) */
	put_be32(req + len - BLEN + 8, BLEN);
	CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, len) == BROKER_GATHER_DONE);
	pump(e);
	resp_parts(e, 2, err, base);
	CHECK(err[0] == KERR_NONE && err[1] == KERR_CORRUPT);
	CHECK(store_part_end(tpart(e, "gtopic", 1)) == 0);
	/* the second records field claims more bytes than the frame holds: malformed */
	put_be32(req + len - BLEN - 4, BLEN + 1);
	CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, len) == BROKER_GATHER_DONE);
	CHECK(e->c[0].closed);
	CHECK(store_part_end(tpart(e, "gtopic", 0)) == 1); /* only the first request's */
	env_free(e);
}

/* A request whose header strings cross more pieces than the decoder's arena holds: nothing
 * done, BROKER_GATHER_COPY, and the contiguous path then takes it. */
static void t_arena_full_falls_back(void)
{
	struct env *e = setup();
	static uint8_t req[8192], body[BLEN];
	struct store_iov v[8192];
	struct kw w;
	uint32_t len;
	char id[2000];

	mk_batch(body, BLEN, 9);
	memset(id, 'x', sizeof(id));
	kw_init(&w, &al);
	kw_i32(&w, 0);
	kw_i16(&w, API_PRODUCE);
	kw_i16(&w, 7);
	kw_i32(&w, 5);
	kw_str(&w, id, (int32_t)sizeof(id)); /* client id: 2,000 bytes */
	kw_str(&w, NULL, -1);
	kw_i16(&w, 1);
	kw_i32(&w, 30000);
	kw_i32(&w, 1);
	kw_str(&w, "gtopic", 6);
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	kw_bytes(&w, body, BLEN);
	kw_patch32(&w, 0, (int32_t)(w.len - 4));
	len = (uint32_t)w.len;
	memcpy(req, w.buf, len);
	kw_free(&w);
	for (uint32_t i = 0; i < len; i++)
		v[i] = (struct store_iov){req + i, 1};
	CHECK(broker_conn_input_gather(e->b, e->c[0].kc, v, 0, len) == BROKER_GATHER_COPY);
	pump(e);
	CHECK(e->c[0].out_len == e->c[0].out_off && store_part_end(tpart(e, "gtopic", 0)) == 0);
	CHECK(broker_conn_input(e->b, e->c[0].kc, req, len) == len);
	pump(e);
	CHECK(store_part_end(tpart(e, "gtopic", 0)) == 1);
	env_free(e);
}

/* Payloads gathered from pieces of uneven sizes (1 byte to 1,500; the large ones take the wide
 * copy), into the tail and past it (a big write of its own): read back byte for byte, each byte
 * counted as copied once. */
static void t_store_gather_uneven_pieces(void)
{
	struct env *e = setup();
	static uint8_t src[300000];
	static struct store_iov v[4096];
	struct store_part *p = tpart(e, "gtopic", 2);
	uint32_t sizes[2] = {100003, 300000}, seed = 7;

	for (uint32_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 131 + (i >> 9));
	for (uint32_t k = 0; k < 2; k++) {
		uint32_t n = 0, at = 100, len = sizes[k];
		while (at < len) {
			seed = seed * 1103515245u + 12345u;
			uint32_t c = 1 + (seed >> 8) % 1500;
			c = c < len - at ? c : len - at;
			v[n++] = (struct store_iov){src + at, c};
			at += c;
		}
		uint64_t copied = store_copied_bytes(e->st);
		CHECK(store_append_gather(e->st, p, src, 100, v, 0, len, 1, 1000, len, 0) ==
		      STORE_OK);
		CHECK(store_copied_bytes(e->st) - copied == len);
		CHECK(store_flush(e->st) == STORE_OK);
		struct store_read rd;
		CHECK(store_read(e->st, p, k, len, &rd) == STORE_OK);
		CHECK(rd.n == 1 && rd.len[0] == len && !memcmp(rd.ptr[0], src, len));
		store_read_release(e->st, &rd);
	}
	env_free(e);
}

int main(int argc, char **argv)
{
	kt_group = "broker-unit";
	kt_add("broker_gather_every_split_matches_contiguous", t_every_split);
	kt_add("broker_gather_corrupt_batch_rejected_nothing_stored", t_corrupt_rejected);
	kt_add("broker_gather_bad_requests", t_bad_requests);
	kt_add("broker_gather_arena_full_falls_back_to_copy", t_arena_full_falls_back);
	kt_add("store_gather_uneven_pieces_read_back", t_store_gather_uneven_pieces);
	return kt_main(NULL, 0, argc, argv);
}
