/* CRC-32C (Castagnoli), used for log frames and by the Kafka batch check. */
#ifndef STORE_CRC32C_H
#define STORE_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over n bytes. Start with crc = 0; chaining calls gives
 * the same result as one call over the concatenation. */
uint32_t store_crc32c(uint32_t crc, const void *data, size_t n);
/* The same in portable C (slicing-by-8), whatever the CPU: store_crc32c uses
 * the SSE4.2 crc32 instruction when CPUID reports it (tests compare both). */
uint32_t store_crc32c_sw(uint32_t crc, const void *data, size_t n);
/* The CRC of A followed by B from crc_a = store_crc32c(0, A) (or any chained
 * value) and crc_b = store_crc32c(0, B) of n_b bytes, without reading B:
 * store_crc32c(crc_a, B) == store_crc32c_combine(crc_a, crc_b, n_b). About
 * 250 instructions per set bit of n_b: cheaper than summing B again from
 * about 16 KiB up (CRC32C_COMBINE_MIN). */
uint32_t store_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t n_b);
#define CRC32C_COMBINE_MIN 16384u
/* From this many bytes store_crc32c folds with 256-bit VPCLMULQDQ when the CPU has it (the same
 * instructions per byte as the crc32 loop, half the host work under QEMU's TCG). */
#define CRC32C_FOLD_MIN 512u
/* Whether store_crc32c folds (CPUID: VPCLMULQDQ, AVX2, XCR0 with the AVX state). */
int store_crc32c_folds(void);
/* store_crc32c without the fold: the crc32 instruction at every length (the tables without
 * SSE4.2); for the tests and the benchmark (user/apps/crcbench). */
uint32_t store_crc32c_insn(uint32_t crc, const void *data, size_t n);
/* For the tests: the fold's constants {x^(D+31), x^(D-33)} mod P, half 0 and 1, for
 * D = 2048 - 256 i (i = 0..7) and D = 128 (i = 8); 0 past them. */
uint32_t store_crc32c_fold_k(unsigned i, unsigned half);
/* For the tests: x^(2^k) mod P from the combine's table, and a product mod P
 * (reflected, the top bit is x^0). */
uint32_t store_crc32c_x2k(unsigned k);
uint32_t store_crc32c_mulmod(uint32_t a, uint32_t b);

#endif
