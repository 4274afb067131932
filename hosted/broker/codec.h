/* The hosted broker's record-batch codecs for the compactor
 * (broker_platform.decompress / compress): gzip (zlib), snappy (raw; the
 * xerial framing Java clients write is read too), lz4 (the LZ4 frame
 * format of v2 batches) and zstd. docs/broker.md, "Compressed batches". */
#ifndef HOSTED_CODEC_H
#define HOSTED_CODEC_H
#include <stddef.h>
#include <stdint.h>

enum { HCODEC_GZIP = 1, HCODEC_SNAPPY = 2, HCODEC_LZ4 = 3, HCODEC_ZSTD = 4 };

long host_decompress(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out, size_t cap);
long host_compress(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

#endif
