/* Fuzz target: produce round trip. The input becomes the body of one
 * RecordBatch (magic, length and CRC fixed up so it reaches the append
 * path); it is produced with acks=1 and fetched back. Whenever the broker
 * accepts it, the fetched bytes must equal the produced ones except for
 * BaseOffset and PartitionLeaderEpoch. */
#include "fuzzdev.h"
#include "kafka/broker_int.h"
#include "storage/crc32c.h"

static uint8_t out[4u << 20];
static size_t out_len;
static int pending, closed;

static int f_send(void *ctx, void *conn, const struct kiov *iov, uint32_t n)
{
	(void)ctx;
	(void)conn;
	for (uint32_t i = 0; i < n; i++) {
		if (out_len + iov[i].len > sizeof(out))
			abort();
		memcpy(out + out_len, iov[i].base, iov[i].len);
		out_len += iov[i].len;
	}
	pending = 1;
	return 0;
}

static void f_close(void *ctx, void *conn)
{
	(void)ctx;
	(void)conn;
	closed = 1;
}

static const struct kalloc al = {NULL, fz_alloc, fz_free};

static void send_req(struct broker *b, struct kconn *c, struct kw *w)
{
	kw_patch32(w, 0, (int32_t)(w->len - 4));
	(void)broker_conn_input(b, c, w->buf, w->len);
	kw_free(w);
	broker_poll(b);
	while (pending && !closed) {
		pending = 0;
		broker_send_done(b, c);
	}
}

static void hdr(struct kw *w, int16_t key, int16_t ver, int32_t corr)
{
	kw_init(w, &al);
	kw_i32(w, 0);
	kw_i16(w, key);
	kw_i16(w, ver);
	kw_i32(w, corr);
	kw_str(w, "fz", 2);
}

/* Produce v7 acks=1 of one batch to t/0, then Fetch v11 from offset 0. */
static void roundtrip(struct broker *b, struct kconn *c, const uint8_t *batch, uint32_t len)
{
	struct kw w;

	hdr(&w, API_METADATA, 4, 1);
	kw_i32(&w, 1);
	kw_str(&w, "t", 1);
	kw_i8(&w, 1);
	send_req(b, c, &w);
	hdr(&w, API_PRODUCE, 7, 2);
	kw_str(&w, NULL, -1);
	kw_i16(&w, 1);
	kw_i32(&w, 1000);
	kw_i32(&w, 1);
	kw_str(&w, "t", 1);
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	kw_bytes(&w, batch, (int32_t)len);
	send_req(b, c, &w);
	hdr(&w, API_FETCH, 11, 3);
	kw_i32(&w, -1);
	kw_i32(&w, 0);
	kw_i32(&w, 1);
	kw_i32(&w, 1 << 24);
	kw_i8(&w, 0);
	kw_i32(&w, 0);
	kw_i32(&w, -1);
	kw_i32(&w, 1);
	kw_str(&w, "t", 1);
	kw_i32(&w, 1);
	kw_i32(&w, 0);
	kw_i32(&w, -1);
	kw_i64(&w, 0);
	kw_i64(&w, -1);
	kw_i32(&w, 1 << 24);
	kw_i32(&w, 0);
	kw_str(&w, "", 0);
	send_req(b, c, &w);
}

/* Walk the three responses; check the fetched records against batch. */
static void check(const uint8_t *batch, uint32_t len)
{
	struct kr r;
	struct kstr s;
	struct kbytes rec;
	size_t o = 0;
	int16_t perr = -100;

	for (int i = 0; i < 3; i++) {
		if (o + 4 > out_len)
			abort();
		kr_init(&r, out + o + 4, get_be32(out + o));
		o += 4 + get_be32(out + o);
		if (kr_i32(&r) != i + 1)
			abort();
		if (i == 1) {
			(void)kr_i32(&r);
			kr_str(&r, &s);
			(void)kr_i32(&r);
			(void)kr_i32(&r);
			perr = kr_i16(&r);
		}
		if (i != 2)
			continue;
		r.off += 4 + 2 + 4 + 4;
		kr_str(&r, &s);
		r.off += 4 + 4 + 2 + 8 + 8 + 8 + 4 + 4;
		kr_bytes(&r, &rec);
		if (r.bad || r.off != r.n)
			abort();
		if (perr == 0 &&
		    (rec.len != (int32_t)len || memcmp(rec.p + 16, batch + 16, len - 16) ||
		     memcmp(rec.p + 8, batch + 8, 4) || get_be64(rec.p) != 0))
			abort();
		if (perr != 0 && rec.len != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fdev dev;
	static uint8_t *blank;
	struct store_platform spl = fd_platform(&dev);
	struct broker_platform bpl = {NULL,   fz_alloc, fz_free, fz_now, fz_log,
	                              f_send, f_close,  fz_now,  NULL};
	struct broker_config cfg = {"127.0.0.1", 9092,     1,     1, 1000, 1u << 24,
	                            100,         8u << 20, false, 0, 0};
	uint32_t len = size < 61 ? 61 : (uint32_t)(size > 300000 ? 300000 : size);
	uint8_t *batch = calloc(1, len);
	struct store *st;

	if (!blank) {
		if (store_open(&spl, STORE_FORMAT_BLANK, &st))
			abort();
		store_close(st);
		blank = malloc((size_t)FD_BLOCKS * STORE_BLOCK);
		(void)fd_read(&dev, 0, blank, FD_BLOCKS);
		fd_reset(&dev);
		dev.tmpl = blank;
	}
	memcpy(batch, data, size < len ? size : len);
	batch[8] = (uint8_t)((len - 12) >> 24);
	batch[9] = (uint8_t)((len - 12) >> 16);
	batch[10] = (uint8_t)((len - 12) >> 8);
	batch[11] = (uint8_t)(len - 12);
	batch[16] = 2;
	uint32_t crc = store_crc32c(0, batch + 21, len - 21);
	for (int i = 0; i < 4; i++)
		batch[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
	out_len = 0;
	pending = closed = 0;
	if (store_open(&spl, 0, &st))
		abort();
	struct broker *b = broker_create(&bpl, &cfg, st);
	struct kconn *c = broker_conn_open(b, NULL);
	roundtrip(b, c, batch, len);
	if (closed)
		abort();
	check(batch, len);
	broker_destroy(b);
	store_close(st);
	fd_reset(&dev);
	free(batch);
	return 0;
}
