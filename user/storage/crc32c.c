/* CRC-32C, reflected polynomial 0x82F63B78, slicing-by-8 tables built on
 * first use (no static 8 KiB table in the source, no libc). */
#include "crc32c.h"

#include <lib/prof.h>

#include "cpu_feat.h"

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
#define CRC_HW_SSE42  1
#define CRC_HW_VCLMUL 2 /* and 256-bit VPCLMULQDQ with the OS saving the YMM state */

/* CRC_HW_SSE42 if CPUID reports SSE4.2, with CRC_HW_VCLMUL if PCLMULQDQ, VPCLMULQDQ, AVX2 and
 * usable AVX state too */
static int cpu_crc_features(void)
{
	uint32_t r[4], r7[4];

	st_cpuid(0, 0, r);
	uint32_t max = r[0];
	st_cpuid(1, 0, r);
	if (!((r[2] >> 20) & 1))
		return 0;
	if (max < 7 || !((r[2] >> 1) & 1) || !st_avx_usable())
		return CRC_HW_SSE42;
	st_cpuid(7, 0, r7);
	if (((r7[1] >> 5) & 1) && ((r7[2] >> 10) & 1))
		return CRC_HW_SSE42 | CRC_HW_VCLMUL; /* AVX2, VPCLMULQDQ */
	return CRC_HW_SSE42;
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

/*
 * 256-bit VPCLMULQDQ folding (Intel, "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ", reflected form) from CRC32C_FOLD_MIN bytes:
 * the same guest instructions per byte as the crc32 loop above (per 256
 * bytes, 8 x (two multiplies, two xors, one of them with memory) and three
 * of loop: 35, as crc_sse42's 32 crc32 and 3), but under QEMU's TCG (both
 * benchmark guests) half the host work: its crc32 helper loops once per bit,
 * 64 trips per 8 bytes, its carry-less multiply once per bit of the source
 * operand, here a 32-bit constant, at most 32 trips per 8 bytes
 * (docs/decisions.md, issue 14, "The CRC under TCG: 256-bit folds"). On
 * hardware a 32-byte fold and four crc32 take about the same cycles.
 *
 * Reflected representation: 64 little-endian bits a are A(x) = sum a_i
 * x^(63-i), and the 128 bits of clmul(a, b) represent x * A * B. With the
 * 32-bit residue r of x^e in the low half of b, clmul(a, b) represents
 * A * x^(e+33). A 128-bit lane (lo, hi) at bit position s is worth
 * LO x^(D+64) + HI x^D at position s + D, so it folds forward by D bits
 * with e = D + 31 for lo and e = D - 33 for hi. A YMM register is two lanes
 * folded by the same D; eight of them fold by 2048 bits a trip. At the end
 * they fold into the last, its two lanes into one, the 16 bytes left are
 * summed by the crc32 instruction from zero (the running CRC was xored into
 * the first 4 bytes), then the tail by crc_sse42.
 */
#endif

/* {x^(D+31), x^(D-33)} mod P for D = 2048, 1792, ..., 256 (k[i]: D = 2048 - 256 i), then 128.
 * tests/host/broker/test_codec.c checks them against store_crc32c_combine's powers. */
static const uint32_t fold_k[9][2] = {
    {0xdcb17aa4u, 0xb9e02b86u}, {0x71d111a8u, 0x83348832u}, {0xa87ab8a8u, 0xab7aff2au},
    {0x1b3d8f29u, 0x878a92a7u}, {0x6992cea2u, 0x0d3b6092u}, {0xc49f4f67u, 0x0715ce53u},
    {0x740eef02u, 0x9e4addf8u}, {0x3da6d0cbu, 0xba4fc28eu}, {0xf20c0dfeu, 0x493c7d27u}};

uint32_t store_crc32c_fold_k(unsigned i, unsigned half)
{
	return i < 9 && half < 2 ? fold_k[i][half] : 0;
}

#if defined(__x86_64__)
typedef long long crc_v4 __attribute__((vector_size(32)));
typedef long long crc_v2 __attribute__((vector_size(16)));

#define VCLMUL_T __attribute__((target("avx2,vpclmulqdq,pclmul,sse4.2")))

/* y's two lanes folded forward by the distance of k: lo times k's low half, hi times its high half
 * (the constant is the source operand, the one QEMU's helper loops over) */
VCLMUL_T static inline crc_v4 fold32(crc_v4 y, crc_v4 k)
{
	crc_v4 l, h;

	__asm__("vpclmulqdq $0x00, %2, %1, %0" : "=x"(l) : "x"(y), "x"(k));
	__asm__("vpclmulqdq $0x11, %2, %1, %0" : "=x"(h) : "x"(y), "x"(k));
	return l ^ h;
}

VCLMUL_T static inline crc_v4 ld256(const uint8_t *p)
{
	crc_v4 v;

	__builtin_memcpy(&v, p, 32);
	return v;
}

VCLMUL_T static inline crc_v4 kv(unsigned i)
{
	return (crc_v4){fold_k[i][0], fold_k[i][1], fold_k[i][0], fold_k[i][1]};
}

VCLMUL_T static uint32_t crc_vclmul(uint32_t crc, const uint8_t *p, size_t n)
{
	crc_v4 y0 = ld256(p), y1 = ld256(p + 32), y2 = ld256(p + 64), y3 = ld256(p + 96);
	crc_v4 y4 = ld256(p + 128), y5 = ld256(p + 160), y6 = ld256(p + 192), y7 = ld256(p + 224);
	const crc_v4 k = kv(0);

	y0 ^= (crc_v4){(long long)(uint32_t)~crc, 0, 0, 0};
	for (p += 256, n -= 256; n >= 256; p += 256, n -= 256) {
		y0 = fold32(y0, k) ^ ld256(p);
		y1 = fold32(y1, k) ^ ld256(p + 32);
		y2 = fold32(y2, k) ^ ld256(p + 64);
		y3 = fold32(y3, k) ^ ld256(p + 96);
		y4 = fold32(y4, k) ^ ld256(p + 128);
		y5 = fold32(y5, k) ^ ld256(p + 160);
		y6 = fold32(y6, k) ^ ld256(p + 192);
		y7 = fold32(y7, k) ^ ld256(p + 224);
	}
	/* y_i lies 32 (7 - i) bytes before y7 */
	y7 ^= fold32(y0, kv(1)) ^ fold32(y1, kv(2)) ^ fold32(y2, kv(3)) ^ fold32(y3, kv(4)) ^
	      fold32(y4, kv(5)) ^ fold32(y5, kv(6)) ^ fold32(y6, kv(7));
	for (; n >= 32; p += 32, n -= 32)
		y7 = fold32(y7, kv(7)) ^ ld256(p);
	/* the low lane 128 bits before the high one */
	crc_v2 lo = {y7[0], y7[1]}, x = {y7[2], y7[3]};
	crc_v2 k1 = {fold_k[8][0], fold_k[8][1]}, l, h;
	__asm__("vpclmulqdq $0x00, %2, %1, %0" : "=x"(l) : "x"(lo), "x"(k1));
	__asm__("vpclmulqdq $0x11, %2, %1, %0" : "=x"(h) : "x"(lo), "x"(k1));
	x ^= l ^ h;
	uint64_t c = __builtin_ia32_crc32di(0, (uint64_t)x[0]);
	c = __builtin_ia32_crc32di(c, (uint64_t)x[1]);
	return crc_sse42(~(uint32_t)c, p, n);
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

#if defined(__x86_64__)
/* The CPU's CRC features (CRC_HW_*), read once; shared by the hosted broker's threads */
static int crc_features(void)
{
	int hw = __atomic_load_n(&crc_hw, __ATOMIC_RELAXED);

	if (hw < 0) {
		hw = cpu_crc_features();
		__atomic_store_n(&crc_hw, hw, __ATOMIC_RELAXED);
	}
	return hw;
}
#endif

uint32_t store_crc32c(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
	int hw = crc_features();
	if (hw) {
		PROF_ENTER(PROF_CRC);
		crc = (hw & CRC_HW_VCLMUL) && n >= CRC32C_FOLD_MIN ? crc_vclmul(crc, data, n)
		                                                   : crc_sse42(crc, data, n);
		PROF_LEAVE();
		return crc;
	}
#endif
	return store_crc32c_sw(crc, data, n);
}

uint32_t store_crc32c_insn(uint32_t crc, const void *data, size_t n)
{
#if defined(__x86_64__)
	if (crc_features() & CRC_HW_SSE42)
		return crc_sse42(crc, data, n);
#endif
	return store_crc32c_sw(crc, data, n);
}

int store_crc32c_folds(void)
{
#if defined(__x86_64__)
	return (crc_features() & CRC_HW_VCLMUL) != 0;
#else
	return 0;
#endif
}
