/*
 * libFuzzer target: a split virtqueue driven by a device that writes
 * anything into the used ring. The input is a script of operations:
 *   0 a   add a chain: a & 3 + 1 segments, bit 2: the last one device-writable
 *   1     publish
 *   2 i:4 l:4 s:2   device writes used entry {i, l} at its used index, moves the index by s
 *   3     virtq_get
 *   4     drain (as after a reset), then start over with virtq_init
 * Checked after every step: a returned cookie was posted and not returned
 * since, its length is within the chain's writable bytes, the descriptor
 * count adds up, and a broken queue stays broken.
 */
#include <stdlib.h>
#include <string.h>

#include "virtq.h"

#define QSIZE 8

struct posted {
	bool out;
	uint32_t wlen;
	uint16_t ndesc;
};

static uint32_t take(const uint8_t **p, const uint8_t *end, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n && *p < end; i++)
		v |= (uint32_t) * (*p)++ << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t mem[3 * 4096] __attribute__((aligned(4096)));
	static struct virtq q;
	struct posted post[64];
	unsigned nposted = 0, ndesc_out = 0;
	const uint8_t *p = data, *end = data + size;
	uint16_t dev_used = 0;

	memset(mem, 0, sizeof(mem));
	if (virtq_init(&q, 0, QSIZE, mem, 0x1000, mem + 4096, 0x2000, mem + 8192, 0x3000))
		abort();
	while (p < end && nposted < 64) {
		uint8_t op = *p++ % 5;
		if (op == 0) {
			uint8_t a = (uint8_t)take(&p, end, 1);
			struct virtq_seg s[4];
			unsigned n = (a & 3) + 1;
			for (unsigned i = 0; i < n; i++)
				s[i] = (struct virtq_seg){0x10000 * (i + 1), 100 * (i + 1),
				                          (a & 4) && i == n - 1};
			int r = virtq_add(&q, s, n, &post[nposted]);
			if (r == VIRTQ_OK) {
				post[nposted++] =
				    (struct posted){true, (a & 4) ? 100 * n : 0, (uint16_t)n};
				ndesc_out += n;
			} else if (r != VIRTQ_ERR_FULL && r != VIRTQ_ERR_BROKEN) {
				abort();
			}
		} else if (op == 1) {
			virtq_publish(&q);
		} else if (op == 2) {
			uint32_t id = take(&p, end, 4), len = take(&p, end, 4);
			uint16_t step = (uint16_t)take(&p, end, 2);
			q.used->ring[dev_used % QSIZE] = (struct virtq_used_elem){id, len};
			dev_used = (uint16_t)(dev_used + step);
			q.used->idx = dev_used;
		} else if (op == 3) {
			void *c = NULL;
			uint32_t len = 0;
			bool was_broken = q.fault != VIRTQ_FAULT_NONE;
			int r = virtq_get(&q, &c, &len);
			if (was_broken && r != VIRTQ_ERR_BROKEN)
				abort();
			if (r == 1) {
				struct posted *e = c;
				if (e < post || e >= post + nposted || !e->out || len > e->wlen)
					abort();
				e->out = false;
				ndesc_out -= e->ndesc;
			}
		} else {
			void *c[QSIZE];
			unsigned n = virtq_drain(&q, c, QSIZE);
			for (unsigned i = 0; i < n; i++) {
				struct posted *e = c[i];
				if (e < post || e >= post + nposted || !e->out)
					abort();
				e->out = false;
				ndesc_out -= e->ndesc;
			}
			if (ndesc_out != 0 || q.nfree != QSIZE)
				abort();
			memset(mem, 0, sizeof(mem));
			if (virtq_init(&q, 0, QSIZE, mem, 0x1000, mem + 4096, 0x2000, mem + 8192,
			               0x3000))
				abort();
			dev_used = 0;
		}
		if (q.nfree + ndesc_out != QSIZE)
			abort();
	}
	return 0;
}
