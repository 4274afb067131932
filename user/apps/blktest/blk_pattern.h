/*
 * The data blktest writes: each 8-byte word is a function of a seed, the
 * block number and the word's index in the block, so the host can
 * recompute any block of the disk image (tests/system/blk/blk_check.c).
 */
#ifndef BLK_PATTERN_H
#define BLK_PATTERN_H

#include <stdint.h>

static inline uint64_t blk_pattern(uint64_t seed, uint64_t lba, uint64_t word)
{
	uint64_t x = seed ^ (lba * 0x9e3779b97f4a7c15ull) ^ (word * 0xd1b54a32d192ed03ull + 1);

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

#endif
