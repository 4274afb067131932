/* Fuzz target: the compaction core over compressed batches, with the
 * hosted broker's codecs (hosted/broker/codec.c). The input is a series
 * of chunks: a 2-byte length, a mode byte, then that many bytes made a
 * RecordBatch v2 (length, magic and CRC fixed up) whose codec is
 * 1 + (mode & 3). Mode bit 7: the bytes after the header are records
 * that the target compresses itself (reaching the record parser through
 * each codec); otherwise they are taken as the compressed stream
 * (reaching the decompressors). All are mapped, then each is filtered.
 * Invariants: a filtered batch has a valid CRC, its base offset and
 * LastOffsetDelta, the same codec (or none when emptied); a rewritten
 * compressed batch decompresses to no more records than before; filtering
 * the result again changes nothing. */
#include "broker/codec.h"
#include "fzcompact.h"

#define MAXB 8u
#define ZCAP (1u << 20)

static uint8_t out[STORE_MAX_PAYLOAD], out2[STORE_MAX_PAYLOAD], plain[ZCAP];
static uint8_t zb1[ZCAP], zb2[ZCAP];
static struct cmap_ent ents[4096];
static struct ccodec cc = {host_decompress, host_compress, NULL, zb1, zb2, ZCAP, 0, 0, 0};
static struct cmap map = {.cc = &cc, .e = ents, .cap = 4096};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t bufs[MAXB][65536 + 1024];
	uint32_t lens[MAXB], n = 0;
	size_t at = 0;

	while (n < MAXB && at + 3 <= size) {
		uint32_t len = (uint32_t)data[at] << 8 | data[at + 1];
		uint8_t mode = data[at + 2], *b = bufs[n];
		int codec = 1 + (mode & 3);
		at += 3;
		if (len > size - at)
			len = (uint32_t)(size - at);
		memset(b, 0, 61);
		memcpy(b, data + at, len < 61 ? len : 61);
		if (len > 61 && (mode & 0x80)) {
			long z = host_compress(NULL, codec, data + at + 61, len - 61, b + 61,
			                       sizeof(bufs[0]) - 61);
			if (z < 0)
				abort(); /* the bound is ample */
			at += len;
			len = 61 + (uint32_t)z;
		} else {
			if (len > 61)
				memcpy(b + 61, data + at + 61, len - 61);
			at += len;
			if (len < 61)
				len = 61;
		}
		b[22] = (uint8_t)((b[22] & ~0x27) | codec); /* compressed data, never control */
		fz_seal_batch(b, len);
		lens[n++] = len;
	}
	fz_map_all(&map, bufs, lens, n);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *h = bufs[i];
		uint32_t ol = fz_filter(&map, h, lens[i], out, out2, sizeof(out));
		if (!ol)
			continue;
		if ((out[22] & 7) && (out[22] & 7) != (h[22] & 7))
			abort();
		if ((out[22] & 7) && (ol != lens[i] || memcmp(out + 23, h + 23, ol - 23))) {
			/* rewritten: its records decompress, no more than before */
			long m = host_decompress(NULL, out[22] & 7, out + 61, ol - 61, plain, ZCAP);
			if (m < 0 || get_be32(out + 57) > get_be32(h + 57))
				abort();
		}
	}
	return 0;
}
