/* Internet checksum (user/net/util.c): the eight-bytes-per-step sum gives the
 * checksum of the RFC 1071 reference (16-bit words, one at a time) at every
 * length, alignment, starting sum and split into even pieces. */
#include "harness.h"

static uint16_t ref_csum(uint32_t sum, const uint8_t *p, uint32_t len)
{
	uint64_t acc = sum;

	for (; len >= 2; p += 2, len -= 2)
		acc += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		acc += (uint32_t)p[0] << 8;
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

KT_CASE(csum_eight_bytes_per_step_matches_reference)
{
	static uint8_t buf[1600];
	static const uint32_t sums[] = {0, 1, 0xffff, 0x1fffe, 0xfffffffeu, 0xffffffffu};
	uint32_t x = 99;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
	for (uint32_t off = 0; off < 8; off++)
		for (uint32_t len = 0; len <= 300; len++)
			for (size_t k = 0; k < sizeof(sums) / sizeof(sums[0]); k++) {
				uint16_t got =
				    floo_csum_fold(floo_csum_add(sums[k], buf + off, len));
				if (got != ref_csum(sums[k], buf + off, len)) {
					CHECK(!"checksum differs from the reference");
					return;
				}
			}
	/* all 0xff (sums that are multiples of 0xffff) and all zero */
	memset(buf, 0xff, sizeof(buf));
	for (uint32_t len = 0; len <= 64; len++)
		CHECK(floo_csum_fold(floo_csum_add(0, buf, len)) == ref_csum(0, buf, len));
	memset(buf, 0, sizeof(buf));
	CHECK(floo_csum_fold(floo_csum_add(0, buf, 1500)) == 0xffff);
	/* a frame's worth in even pieces, chained */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	uint32_t s = floo_csum_add(0, buf, 14);
	s = floo_csum_add(s, buf + 14, 1000);
	s = floo_csum_add(s, buf + 1014, 451);
	CHECK(floo_csum_fold(s) == ref_csum(0, buf, 1465));
}
