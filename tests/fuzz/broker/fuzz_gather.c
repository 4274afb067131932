/* Fuzz target: the input's first byte seeds how each whole request of the
 * rest is cut into pieces (1 to 64 bytes); every request goes to one
 * broker contiguous (broker_conn_input) and to a second one in pieces
 * (broker_conn_input_gather, falling back to the contiguous call when it
 * says so). Nothing may crash or read out of bounds, and both brokers must
 * answer as many bytes, close alike and store the same offsets. */
#include <lib/bytes.h>

#include "kafka/broker.h"
/* after broker.h: its connection helpers */
#include "fuzzdev.h"

static void turn(struct broker *b, struct fz_conn *c)
{
	broker_poll(b);
	while (c->pending && !c->closed) {
		c->pending = 0;
		broker_send_done(b, c->kc);
	}
}

struct side {
	struct fdev dev;
	struct store *st;
	struct broker *b;
	struct fz_conn c;
};

static void side_open(struct side *s, const uint8_t *blank)
{
	struct store_platform spl = fd_platform(&s->dev);
	struct broker_platform bpl = {NULL,   fz_alloc, fz_free, fz_now, fz_log,
	                              f_send, f_close,  fz_now,  NULL};
	struct broker_config cfg = {"127.0.0.1", 9092,     1,     2, 1000, 1u << 24,
	                            100,         1u << 20, false, 0, 0};

	s->dev.tmpl = blank;
	if (store_open(&spl, 0, &s->st))
		abort();
	s->b = broker_create(&bpl, &cfg, s->st);
	memset(&s->c, 0, sizeof(s->c));
	s->c.kc = broker_conn_open(s->b, &s->c);
}

static void side_close(struct side *s)
{
	broker_destroy(s->b);
	store_close(s->st);
	fd_reset(&s->dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct side a, b;
	static uint8_t *blank;
	static struct store_iov v[1u << 16];

	if (!blank) { /* format once; every run starts from this image */
		struct store_platform spl = fd_platform(&a.dev);
		if (store_open(&spl, STORE_FORMAT_BLANK, &a.st))
			abort();
		store_close(a.st);
		blank = malloc((size_t)FD_BLOCKS * STORE_BLOCK);
		(void)fd_read(&a.dev, 0, blank, FD_BLOCKS);
		fd_reset(&a.dev);
	}
	if (size < 1 || size > (1u << 16))
		return 0;
	uint32_t seed = data[0] * 2654435761u + 1, off = 1;
	fz_clock = 1000;
	side_open(&a, blank);
	side_open(&b, blank);
	while (off + 4 <= size && !a.c.closed && !b.c.closed) {
		uint32_t len = 4 + get_be32(data + off);
		if (len < 4 || len > size - off)
			break;
		/* a private copy each: the contiguous path may rewrite its bytes */
		uint8_t *ca = malloc(len), *cb = malloc(len);
		memcpy(ca, data + off, len);
		memcpy(cb, data + off, len);
		uint32_t n = 0;
		for (uint32_t at = 0; at < len; n++) {
			seed = seed * 1103515245u + 12345u;
			uint32_t k = 1 + (seed >> 16) % 64;
			k = k < len - at ? k : len - at;
			v[n] = (struct store_iov){cb + at, k};
			at += k;
		}
		size_t used = broker_conn_input(a.b, a.c.kc, ca, len);
		int rc = broker_conn_input_gather(b.b, b.c.kc, v, 0, len);
		if (rc == BROKER_GATHER_COPY)
			(void)broker_conn_input(b.b, b.c.kc, cb, len);
		else if (rc == BROKER_GATHER_LATER && used) /* the contiguous one took it */
			abort();
		free(ca);
		free(cb);
		if (rc == BROKER_GATHER_LATER || !used)
			break; /* both queues full: the rest is not offered */
		off += len;
		fz_clock += 10;
		turn(a.b, &a.c);
		turn(b.b, &b.c);
	}
	for (int k = 0; k < 3; k++) {
		fz_clock += 400;
		turn(a.b, &a.c);
		turn(b.b, &b.c);
	}
	/* (not the bytes: fetch session ids differ between two brokers) */
	if (a.c.sent != b.c.sent || a.c.closed != b.c.closed)
		abort();
	for (uint32_t t = 0; t < 8; t++)
		for (uint32_t k = 0; k < 4; k++) {
			struct store_part *pa = store_part_get(a.st, t, k),
			                  *pb = store_part_get(b.st, t, k);
			if (!pa != !pb || (pa && store_part_end(pa) != store_part_end(pb)))
				abort();
		}
	side_close(&a);
	side_close(&b);
	return 0;
}
