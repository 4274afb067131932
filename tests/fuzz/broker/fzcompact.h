/* What the two compaction fuzz targets share: mapping the batches, then
 * filtering one with the invariants every output keeps (a valid CRC, its
 * base offset and LastOffsetDelta, and a second pass at the same time
 * changing nothing). Each batch's transaction state (ended, aborted,
 * open) is taken from a byte of its producer id. */
#ifndef FZCOMPACT_H
#define FZCOMPACT_H
#include <stdlib.h>
#include <string.h>

#include "kafka/broker_int.h"
#include "storage/crc32c.h"

/* A record batch of len bytes at b made well-formed where a compactor reads first: its length
 * field, magic 2 and the CRC32C over attributes onward (the rest stays the fuzzer's). */
static void fz_seal_batch(uint8_t *b, uint32_t len)
{
	put_be32(b + 8, len - 12);
	b[16] = 2;
	put_be32(b + 17, store_crc32c(0, b + 21, len - 21));
}

static void fz_map_all(struct cmap *m, uint8_t (*bufs)[65536 + 1024], const uint32_t *lens,
                       uint32_t n)
{
	compact_map_reset(m);
	for (uint32_t i = 0; i < n; i++)
		if (!compact_map_batch(m, bufs[i], lens[i], bufs[i][50] % 3) && compact_map_full(m))
			break;
}

/* Filter h into out (out2: the second pass); returns the output length,
 * 0 when the batch goes or is refused. */
static uint32_t fz_filter(const struct cmap *m, const uint8_t *h, uint32_t len, uint8_t *out,
                          uint8_t *out2, uint32_t cap)
{
	uint32_t ol = 0, ol2 = 0;

	if (compact_filter_batch(m, h, len, h[50] % 3, 1000, 500, out, cap, &ol) || !ol)
		return 0;
	if (ol < 61 || get_be32(out + 8) + 12 != ol ||
	    get_be32(out + 17) != store_crc32c(0, out + 21, ol - 21) ||
	    get_be64(out) != get_be64(h) || get_be32(out + 23) != get_be32(h + 23))
		abort();
	if (compact_filter_batch(m, out, ol, h[50] % 3, 1000, 500, out2, cap, &ol2) || ol2 != ol ||
	    memcmp(out, out2, ol))
		abort();
	return ol;
}

#endif
