/* Fuzz target: arbitrary bytes as the input stream of one connection to
 * a fresh broker (plus the same bytes on a second connection after a
 * valid setup). Nothing may crash, leak or read out of bounds. */
#include "kafka/broker.h"
/* after broker.h: its connection helpers */
#include "fuzzdev.h"

static void turn(struct broker *b, struct fz_conn *c, int n)
{
	broker_poll(b);
	for (int i = 0; i < n; i++)
		while (c[i].pending && !c[i].closed) {
			c[i].pending = 0;
			broker_send_done(b, c[i].kc);
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fdev dev;
	struct store_platform spl = fd_platform(&dev);
	struct broker_platform bpl = {NULL,   fz_alloc, fz_free, fz_now, fz_log,
	                              f_send, f_close,  fz_now,  NULL};
	struct broker_config cfg = {"127.0.0.1", 9092,     1,     2, 1000, 1u << 24,
	                            100,         1u << 20, false, 0, 0};
	struct fz_conn c[2] = {0};
	struct store *st;
	struct broker *b;
	uint8_t *buf = malloc(size ? size : 1);

	static uint8_t *blank;
	fz_clock = 1000;
	if (!blank) { /* format once; every run starts from this image */
		if (store_open(&spl, STORE_FORMAT_BLANK, &st))
			abort();
		store_close(st);
		blank = malloc((size_t)FD_BLOCKS * STORE_BLOCK);
		(void)fd_read(&dev, 0, blank, FD_BLOCKS);
		fd_reset(&dev);
		dev.tmpl = blank;
	}
	if (store_open(&spl, 0, &st))
		abort();
	b = broker_create(&bpl, &cfg, st);
	for (int i = 0; i < 2; i++)
		c[i].kc = broker_conn_open(b, &c[i]);
	/* feed in two chunks to exercise partial frames */
	memcpy(buf, data, size);
	size_t half = size / 2, used = broker_conn_input(b, c[0].kc, buf, half);
	memmove(buf, buf + used, size - used);
	if (!c[0].closed)
		(void)broker_conn_input(b, c[0].kc, buf, size - used);
	for (int k = 0; k < 4; k++) {
		fz_clock += 400;
		turn(b, c, 2);
	}
	broker_destroy(b);
	store_close(st);
	fd_reset(&dev);
	free(buf);
	return 0;
}
