/* Fuzz target: the compaction core over stored batch bytes. The input is
 * a series of chunks (a 2-byte length, then that many bytes), each made
 * a RecordBatch v2 (length, magic and CRC fixed up so the record parser
 * is reached). All are mapped, then each is filtered. Invariants: a
 * filtered batch parses again with a valid CRC, keeps its base offset
 * and LastOffsetDelta, never has more records, and filtering it again
 * before any horizon changes nothing more. Each batch's transaction
 * state (ended, aborted, open) is taken from a byte of its producer id. */
#include "fzcompact.h"

#define MAXB 16u

static uint8_t out[STORE_MAX_PAYLOAD], out2[STORE_MAX_PAYLOAD];
static struct cmap_ent ents[4096];
static struct cmap map = {.e = ents, .cap = 4096};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bufs[MAXB][65536 + 1024];
	uint32_t lens[MAXB], n = 0;
	size_t at = 0;

	while (n < MAXB && at + 2 <= size) {
		uint32_t len = (uint32_t)data[at] << 8 | data[at + 1];
		at += 2;
		if (len > size - at)
			len = (uint32_t)(size - at);
		uint8_t *b = bufs[n];
		memset(b, 0, 61);
		memcpy(b, data + at, len < 61 ? len : 61);
		if (len > 61)
			memcpy(b + 61, data + at + 61, len - 61);
		at += len;
		if (len < 61)
			len = 61;
		fz_seal_batch(b, len);
		lens[n++] = len;
	}
	fz_map_all(&map, bufs, lens, n);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *h = bufs[i];
		uint32_t ol = fz_filter(&map, h, lens[i], out, out2, sizeof(out));
		if (ol && !(h[22] & 0x37) && get_be32(out + 57) > get_be32(h + 57))
			abort();
	}
	return 0;
}
