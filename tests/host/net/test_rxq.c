/* floo_rxq (tcp_api.c), the received-buffer queue of Floo's blocking sockets and of the Linux
 * personality's: bytes come out in order across buffers, a peek takes nothing, a consume
 * gives back exactly the buffers read through, a put that fails stops the copy. */
#include "harness.h"

#include <lib/string.h>

struct sink {
	uint8_t buf[64];
	uint32_t calls, fail_at; /* fail_at: the call that fails (0: none) */
};

static int put(void *ctx, uint32_t at, const uint8_t *src, uint32_t len)
{
	struct sink *k = ctx;

	if (++k->calls == k->fail_at)
		return -1;
	memcpy(k->buf + at, src, len);
	return 0;
}

/* A buffer of the stack's pool holding text (not owned by a connection). */
static struct floo_pbuf *pb_text(struct floo_stack *st, const char *text)
{
	struct floo_pbuf *pb = floo_pbuf_alloc(st);

	pb->len = (uint32_t)strlen(text);
	memcpy(pb->data, text, pb->len);
	pb->owner = 0;
	return pb;
}

KT_CASE(rxq_copy_consume_release_across_buffers)
{
	struct node *n = node_new(NULL, IP_A, 1);
	struct floo_stack *st = n->st;
	struct floo_rxq q = {0};
	struct sink k = {0};
	uint32_t free0 = floo_pbuf_free_count(st);

	floo_rxq_push(&q, pb_text(st, "abc"));
	floo_rxq_push(&q, pb_text(st, "defg"));
	floo_rxq_push(&q, pb_text(st, "hi"));
	CHECK(q.bytes == 9 && floo_pbuf_free_count(st) == free0 - 3);
	CHECK(floo_rxq_copy(&q, 5, put, &k) == 5 && !memcmp(k.buf, "abcde", 5) && k.calls == 2);
	CHECK(q.bytes == 9); /* a copy takes nothing */
	floo_rxq_consume(st, &q, 5);
	CHECK(q.bytes == 4 && q.off == 2 && floo_pbuf_free_count(st) == free0 - 2);
	memset(&k, 0, sizeof(k));
	CHECK(floo_rxq_copy(&q, 100, put, &k) == 4 && !memcmp(k.buf, "fghi", 4));
	memset(&k, 0, sizeof(k));
	k.fail_at = 2; /* the second run fails: only the first counts */
	CHECK(floo_rxq_copy(&q, 4, put, &k) == 2 && !memcmp(k.buf, "fg", 2));
	floo_rxq_consume(st, &q, 2);
	CHECK(q.bytes == 2 && q.head && q.head == q.tail && floo_pbuf_free_count(st) == free0 - 1);
	floo_rxq_consume(st, &q, 99); /* more than there is: all of it */
	CHECK(!q.bytes && !q.head && !q.tail && !q.off && floo_pbuf_free_count(st) == free0);
	floo_rxq_push(&q, pb_text(st, "xy"));
	floo_rxq_push(&q, pb_text(st, "z"));
	floo_rxq_consume(st, &q, 1);
	floo_rxq_release(st, &q);
	CHECK(!q.bytes && !q.head && !q.tail && !q.off && floo_pbuf_free_count(st) == free0);
	node_free(n);
}
