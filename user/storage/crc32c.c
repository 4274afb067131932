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
#define CRC_HW_SSE42 1
#define CRC_HW_CLMUL 2

/* CRC_HW_SSE42 if CPUID reports SSE4.2, with CRC_HW_CLMUL if PCLMULQDQ too; 0 for neither */
static int cpu_crc_features(void)
{
	uint32_t a = 1, b, c = 0, d;

	__asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
	if (!((c >> 20) & 1))
		return 0;
	return CRC_HW_SSE42 | ((c >> 1) & 1 ? CRC_HW_CLMUL : 0);
}

/* Eight little-endian bytes at any alignment (one load on x86). */
static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	__builtin_memcpy(&v, p, 8);
	return v;
}

/*
 * 64 bytes per loop trip: eight crc32 instructions on memory and one loop
 * test, about 0.17 instructions per byte where one crc32 per trip took 0.5
 * (four instructions per 8 bytes). Under -icount that was a third of the
 * broker's produce path: each batch is summed twice (its Kafka CRC, then the
 * store's frame CRC), docs/benchmarks.md "Where brokerd's instructions go".
 */
__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t crc, const uint8_t *p,
                                                            size_t n)
{
	uint64_t c = ~crc;

	for (; n >= 64; p += 64, n -= 64) {
		c = __builtin_ia32_crc32di(c, ld64(p));
		c = __builtin_ia32_crc32di(c, ld64(p + 8));
		c = __builtin_ia32_crc32di(c, ld64(p + 16));
		c = __builtin_ia32_crc32di(c, ld64(p + 24));
		c = __builtin_ia32_crc32di(c, ld64(p + 32));
		c = __builtin_ia32_crc32di(c, ld64(p + 40));
		c = __builtin_ia32_crc32di(c, ld64(p + 48));
		c = __builtin_ia32_crc32di(c, ld64(p + 56));
	}
	for (; n >= 8; p += 8, n -= 8)
		c = __builtin_ia32_crc32di(c, ld64(p));
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

/* x^(e 2^k0) mod P (reflected): the product of x^(2^(k + k0)) over the set bits k of e */
static uint32_t crc_xpow(uint64_t e, unsigned k0)
{
	uint32_t r = 1u << 31; /* x^0 */

	for (unsigned k = k0; e; e >>= 1, k++)
		if (e & 1)
			r = gf2_mulmod(x2k[k % 31], r);
	return r;
}

uint32_t store_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t n_b)
{
	/* x^(8 n_b) */
	return gf2_mulmod(crc_xpow(n_b, 3), crc_a) ^ crc_b;
}

/*
 * PCLMULQDQ folding (Intel, "Fast CRC Computation for Generic Polynomials
 * Using PCLMULQDQ", reflected form) for buffers of CRC32C_FOLD_MIN bytes and
 * up: the batch check of every produced byte. Under TCG (both benchmark
 * guests) the crc32 instruction is emulated one bit at a time, 64 loop trips
 * per 8 bytes, and was most of the produce phases' host time while the
 * guest looked idle (docs/benchmarks.md, "What the host spends"); QEMU's
 * carry-less multiply loops over the set bits of its source operand only,
 * so with the 32-bit fold constants as that operand a 16-byte fold costs two
 * loops of at most 32 trips: half the emulated work per byte.
 *
 * Reflected representation: 64 little-endian bits a are A(x) = sum a_i
 * x^(63-i), and the 128 bits of clmul(a, b) represent x * A * B. With the
 * 32-bit residue r of x^e in the low half of b (B = R x^32), clmul(a, b)
 * represents A * x^(e+33). A 128-bit lane (lo, hi) at bit position s is
 * worth LO x^(D+64) + HI x^D at position s + D, so it folds forward by D
 * bits with e = D + 31 for lo and e = D - 33 for hi (degree at most 127).
 * Four lanes fold by 512 bits; at the end they fold into the last lane, the
 * 16 bytes left are summed by the crc32 instruction from zero (the running
 * CRC was xored into the first 4 bytes), then the tail.
 */
#if defined(__x86_64__)
typedef long long crc_v2 __attribute__((vector_size(16)));

/*
 * {x^(D+31), x^(D-33)} mod P (reflected) for D = 512 (four lanes a trip),
 * then 384, 256 and 128 (the lanes' last merge, then each 16 bytes left).
 * Constants rather than built on first use: the hosted broker's threads
 * share them without a lock. Computed with crc_xpow; a wrong one fails
 * codec_crc32c_fold_matches_tables.
 */
static const crc_v2 fold_k[4] = {{0x740eef02, 0x9e4addf8},
                                 {0x1c291d04, 0xddc0152b},
                                 {0x3da6d0cb, 0xba4fc28e},
                                 {0xf20c0dfe, 0x493c7d27}};

/* x (lo, hi) folded forward by the distance of k: lo times k's low half, hi times its high half.
 * The constant is the source operand, the one QEMU's helper loops over. */
__attribute__((target("sse2,pclmul"))) static inline crc_v2 fold16(crc_v2 x, crc_v2 k)
{
	crc_v2 lo, hi;

	__asm__("pclmulqdq $0x00, %2, %0" : "=x"(lo) : "0"(x), "x"(k));
	__asm__("pclmulqdq $0x11, %2, %0" : "=x"(hi) : "0"(x), "x"(k));
	return lo ^ hi;
}

/* Sixteen little-endian bytes at any alignment (one movdqu). */
static inline crc_v2 ld128(const uint8_t *p)
{
	return (crc_v2){(long long)ld64(p), (long long)ld64(p + 8)};
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc_fold(uint32_t crc, const uint8_t *p,
                                                                  size_t n)
{
	crc_v2 x0 = ld128(p), x1 = ld128(p + 16), x2 = ld128(p + 32), x3 = ld128(p + 48);

	x0 ^= (crc_v2){(long long)(uint32_t)~crc, 0};
	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		x0 = fold16(x0, fold_k[0]) ^ ld128(p);
		x1 = fold16(x1, fold_k[0]) ^ ld128(p + 16);
		x2 = fold16(x2, fold_k[0]) ^ ld128(p + 32);
		x3 = fold16(x3, fold_k[0]) ^ ld128(p + 48);
	}
	x3 ^= fold16(x0, fold_k[1]) ^ fold16(x1, fold_k[2]) ^ fold16(x2, fold_k[3]);
	for (; n >= 16; p += 16, n -= 16)
		x3 = fold16(x3, fold_k[3]) ^ ld128(p);
	uint64_t c = __builtin_ia32_crc32di(0, (uint64_t)x3[0]);
	c = __builtin_ia32_crc32di(c, (uint64_t)x3[1]);
	return crc_sse42(~(uint32_t)c, p, n);
}
#endif

uint32_t store_crc32c(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
	if (crc_hw < 0)
		crc_hw = cpu_crc_features();
	if (crc_hw) {
		PROF_ENTER(PROF_CRC);
		crc = (crc_hw & CRC_HW_CLMUL) && n >= CRC32C_FOLD_MIN ? crc_fold(crc, data, n)
		                                                      : crc_sse42(crc, data, n);
		PROF_LEAVE();
		return crc;
	}
#endif
	return store_crc32c_sw(crc, data, n);
}
