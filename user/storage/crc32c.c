/* CRC-32C, reflected polynomial 0x82F63B78, slicing-by-8 tables built on
 * first use (no static 8 KiB table in the source, no libc). */
#include "crc32c.h"

#include <lib/prof.h>

static uint32_t crc_tab[8][256];
static int crc_ready;

/* Build the eight lookup tables; idempotent, cheap (2048 entries). */
static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] =
			    (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
	crc_ready = 1;
}

uint32_t store_crc32c_sw(uint32_t crc, const void *data, size_t n)
{
	const uint8_t *p = data;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	/* Eight bytes per step; bytes are combined explicitly so the result
	 * does not depend on host endianness or alignment. */
	while (n >= 8) {
		uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		                     (uint32_t)p[3] << 24);
		crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		      crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^
		      crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^ crc_tab[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n--)
		crc = (crc >> 8) ^ crc_tab[0][(crc ^ *p++) & 0xff];
	return ~crc;
}

#if defined(__x86_64__)
/*
 * SSE4.2's crc32 instruction computes CRC-32C: 8 bytes per instruction where
 * the tables take about 30, on the produce path of every broker (each batch
 * is checked, docs/serve.md "Beside a Linux guest"). Chosen once by CPUID.
 */
static int crc_hw = -1;

static int cpu_has_sse42(void)
{
	uint32_t a = 1, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	return (c >> 20) & 1;
}

/* Eight little-endian bytes at any alignment (one load on x86). */
static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

/* Eight crc32 instructions on memory: 64 bytes from p into c (written out: -O2 keeps a loop) */
#define CRC_8(c, p) ((c) = __builtin_ia32_crc32di((c), ld64(p)))
#define CRC_64(c, p)                                                                               \
	do {                                                                                       \
		CRC_8(c, p);                                                                       \
		CRC_8(c, (p) + 8);                                                                 \
		CRC_8(c, (p) + 16);                                                                \
		CRC_8(c, (p) + 24);                                                                \
		CRC_8(c, (p) + 32);                                                                \
		CRC_8(c, (p) + 40);                                                                \
		CRC_8(c, (p) + 48);                                                                \
		CRC_8(c, (p) + 56);                                                                \
	} while (0)

/*
 * 256 bytes per loop trip, then 64: 32 crc32 instructions on memory and one
 * loop test, about 0.14 instructions per byte (0.17 with 64-byte trips, 0.5
 * with one crc32 per trip). Every produced byte is summed once (the batch's
 * Kafka CRC; the store's frame CRC is combined from it), docs/benchmarks.md
 * "Where brokerd's instructions go". One dependency chain: on hardware the
 * crc32 latency (3 cycles per 8 bytes) bounds it, under -icount the
 * instruction count does. Not PCLMULQDQ folding: it takes twice the
 * instructions per byte (docs/decisions.md, "The CRC: the crc32 instruction").
 */
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p,
                                                            size_t n)
{
	uint64_t c = ~crc;

	for (; n >= 256; p += 256, n -= 256) {
		CRC_64(c, p);
		CRC_64(c, p + 64);
		CRC_64(c, p + 128);
		CRC_64(c, p + 192);
	}
	for (; n >= 64; p += 64, n -= 64)
		CRC_64(c, p);
	for (; n >= 8; p += 8, n -= 8)
		CRC_8(c, p);
	uint32_t c32 = (uint32_t)c;
	if (n >= 4) {
		uint32_t v;
		__builtin_memcpy(&v, p, 4);
		c32 = __builtin_ia32_crc32si(c32, v);
		p += 4, n -= 4;
	}
	while (n--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return ~c32;
}
#endif

/*
 * Combining (the CRC's linearity): running the register from state v over B
 * gives the register from 0 over B, xor v times x^(8|B|) mod P. In the
 * reflected representation the top bit is x^0; a product mod P is one
 * shift-and-xor step per bit of a.
 */
static uint32_t gf2_mulmod(uint32_t a, uint32_t b)
{
	uint32_t prod = 0;

	for (uint32_t m = 1u << 31; m && a; m >>= 1) {
		if (a & m) {
			prod ^= b;
			a ^= m;
		}
		b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1;
	}
	return prod;
}

/*
 * x^(2^k) mod P for k = 0..30, each the square of the one before (x^1 first;
 * tests/host/broker/test_codec.c squares them again). x^(2^31) is x again:
 * the sequence repeats with period 31, so k indexes it modulo 31. A
 * constant table: the hosted broker's threads share it without a lock.
 */
static const uint32_t x2k[31] = {
    0x40000000u, 0x20000000u, 0x08000000u, 0x00800000u, 0x00008000u, 0x82f63b78u, 0x6ea2d55cu,
    0x18b8ea18u, 0x510ac59au, 0xb82be955u, 0xb8fdb1e7u, 0x88e56f72u, 0x74c360a4u, 0xe4172b16u,
    0x0d65762au, 0x35d73a62u, 0x28461564u, 0xbf455269u, 0xe2ea32dcu, 0xfe7740e6u, 0xf946610bu,
    0x3c204f8fu, 0x538586e3u, 0x59726915u, 0x734d5309u, 0xbc1ac763u, 0x7d0722ccu, 0xd289cabeu,
    0xe94ca9bcu, 0x05b74f3fu, 0xa51e1f42u};

uint32_t store_crc32c_x2k(unsigned k)
{
	return x2k[k % 31];
}

uint32_t store_crc32c_mulmod(uint32_t a, uint32_t b)
{
	return gf2_mulmod(a, b);
}

uint32_t store_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t n_b)
{
	uint32_t shift = 1u << 31; /* x^0 */

	/* x^(8 n_b) = product of x^(2^k) over the set bits k of 8 n_b */
	for (unsigned k = 3; n_b; n_b >>= 1, k++)
		if (n_b & 1)
			shift = gf2_mulmod(x2k[k % 31], shift);
	return gf2_mulmod(shift, crc_a) ^ crc_b;
}

uint32_t store_crc32c(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
	int hw = __atomic_load_n(&crc_hw, __ATOMIC_RELAXED); /* shared by the hosted loops */
	if (hw < 0) {
		hw = cpu_has_sse42();
		__atomic_store_n(&crc_hw, hw, __ATOMIC_RELAXED);
	}
	if (hw) {
		PROF_ENTER(PROF_CRC);
		crc = crc_sse42(crc, data, n);
		PROF_LEAVE();
		return crc;
	}
#endif
	return store_crc32c_sw(crc, data, n);
}
