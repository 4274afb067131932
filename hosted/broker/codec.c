/* Record-batch codecs of the hosted broker (codec.h). Every function
 * bounds its output by cap and reports a malformed input as
 * BROKER_CODEC_CORRUPT, an output past cap as BROKER_CODEC_TOO_LARGE. */
#include <lz4frame.h>
#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "codec.h"
#include "kafka/broker.h"
#include "lib/bytes.h"

static long gz_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (n > UINT32_MAX || cap > UINT32_MAX || inflateInit2(&z, 15 + 32) != Z_OK)
		return BROKER_CODEC_CORRUPT;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	r = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (r == Z_STREAM_END)
		return (long)z.total_out;
	/* output full with the stream not ended: too large */
	return r == Z_BUF_ERROR && z.avail_out == 0 ? BROKER_CODEC_TOO_LARGE : BROKER_CODEC_CORRUPT;
}

static long gz_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream z;
	int r;

	memset(&z, 0, sizeof(z));
	if (n > UINT32_MAX || cap > UINT32_MAX ||
	    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	        Z_OK)
		return BROKER_CODEC_CORRUPT;
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	r = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	return r == Z_STREAM_END ? (long)z.total_out : BROKER_CODEC_TOO_LARGE;
}

static long snappy_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t len;

	if (snappy_uncompressed_length((const char *)in, n, &len) != SNAPPY_OK)
		return BROKER_CODEC_CORRUPT;
	if (len > cap)
		return BROKER_CODEC_TOO_LARGE;
	if (snappy_uncompress((const char *)in, n, (char *)out, &len) != SNAPPY_OK)
		return BROKER_CODEC_CORRUPT;
	return (long)len;
}

/* xerial snappy-java framing: "\x82SNAPPY\0", version and compatible
 * version (be32 each), then blocks of be32 length + raw snappy. */
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};

static long snappy_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t at = 16, o = 0;

	if (n < 16 || memcmp(in, xerial_magic, 8))
		return snappy_raw(in, n, out, cap);
	while (at < n) {
		uint32_t bl;
		long r;
		if (n - at < 4)
			return BROKER_CODEC_CORRUPT;
		bl = get_be32(in + at);
		at += 4;
		if (bl > n - at)
			return BROKER_CODEC_CORRUPT;
		r = snappy_raw(in + at, bl, out + o, cap - o);
		if (r < 0)
			return r;
		o += (size_t)r;
		at += bl;
	}
	return (long)o;
}

static long snappy_compress_raw(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t len = cap;

	if (snappy_max_compressed_length(n) > cap)
		return BROKER_CODEC_TOO_LARGE;
	if (snappy_compress((const char *)in, n, (char *)out, &len) != SNAPPY_OK)
		return BROKER_CODEC_TOO_LARGE;
	return (long)len;
}

static long lz4_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	LZ4F_dctx *d;
	size_t at = 0, o = 0, r = 1;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
		return BROKER_CODEC_CORRUPT;
	while (at < n && r != 0) {
		size_t isz = n - at, osz = cap - o;
		r = LZ4F_decompress(d, out + o, &osz, in + at, &isz, NULL);
		if (LZ4F_isError(r))
			break;
		at += isz;
		o += osz;
		if (o == cap && r != 0) {
			LZ4F_freeDecompressionContext(d);
			return BROKER_CODEC_TOO_LARGE;
		}
		if (!isz && !osz)
			break; /* no progress */
	}
	LZ4F_freeDecompressionContext(d);
	/* r == 0: the frame ended; trailing bytes after it are not accepted */
	return r == 0 && at == n ? (long)o : BROKER_CODEC_CORRUPT;
}

static long lz4_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t r;

	if (LZ4F_compressFrameBound(n, NULL) > cap)
		return BROKER_CODEC_TOO_LARGE;
	r = LZ4F_compressFrame(out, cap, in, n, NULL);
	return LZ4F_isError(r) ? BROKER_CODEC_TOO_LARGE : (long)r;
}

static long zstd_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = {in, n, 0};
	ZSTD_outBuffer ob = {out, cap, 0};
	size_t r = 1;

	if (!d)
		return BROKER_CODEC_CORRUPT;
	while (ib.pos < ib.size) {
		r = ZSTD_decompressStream(d, &ob, &ib);
		if (ZSTD_isError(r))
			break;
		if (ob.pos == ob.size && r != 0) {
			ZSTD_freeDCtx(d);
			return BROKER_CODEC_TOO_LARGE;
		}
	}
	ZSTD_freeDCtx(d);
	return !ZSTD_isError(r) && r == 0 && ib.pos == ib.size ? (long)ob.pos
	                                                       : BROKER_CODEC_CORRUPT;
}

static long zstd_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t r;

	if (ZSTD_compressBound(n) > cap)
		return BROKER_CODEC_TOO_LARGE;
	r = ZSTD_compress(out, cap, in, n, 3);
	return ZSTD_isError(r) ? BROKER_CODEC_TOO_LARGE : (long)r;
}

long host_decompress(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	(void)ctx;
	switch (codec) {
	case HCODEC_GZIP:
		return gz_decompress(in, n, out, cap);
	case HCODEC_SNAPPY:
		return snappy_decompress(in, n, out, cap);
	case HCODEC_LZ4:
		return lz4_decompress(in, n, out, cap);
	case HCODEC_ZSTD:
		return zstd_decompress(in, n, out, cap);
	default:
		return BROKER_CODEC_CORRUPT;
	}
}

/* Snappy is written raw, as librdkafka writes it (Kafka's Java side
 * reads raw snappy too). */
long host_compress(void *ctx, int codec, const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	(void)ctx;
	switch (codec) {
	case HCODEC_GZIP:
		return gz_compress(in, n, out, cap);
	case HCODEC_SNAPPY:
		return snappy_compress_raw(in, n, out, cap);
	case HCODEC_LZ4:
		return lz4_compress(in, n, out, cap);
	case HCODEC_ZSTD:
		return zstd_compress(in, n, out, cap);
	default:
		return BROKER_CODEC_CORRUPT;
	}
}
