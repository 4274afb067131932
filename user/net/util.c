/* Internet checksum helpers (RFC 1071). */
#include "floo_internal.h"

#include <lib/prof.h>

/* acc + v with the carry out added back: one's-complement addition in 64 bits. */
static inline uint64_t add_carry(uint64_t acc, uint64_t v)
{
	acc += v;
	return acc + (acc < v);
}

/*
 * Add len bytes at data to a 32-bit running sum of 16-bit big-endian words.
 * An odd trailing byte is padded with zero, as the RFC requires; callers
 * summing several pieces must keep all but the last piece even-sized.
 *
 * Eight bytes per step (RFC 1071 2(B), deferred carries): a big-endian
 * 64-bit word is four 16-bit words times powers of 2^16, each 1 modulo
 * 2^16 - 1, and 2^64 - 1 and 2^32 - 1 are multiples of 2^16 - 1, so the sum
 * with end-around carries folds to the same checksum. About 5 instructions
 * per 8 bytes where two bytes at a time took 5 per 2: the IPv4 header check
 * of every received frame was 100 of them (docs/benchmarks.md).
 */
uint32_t floo_csum_add(uint32_t sum, const void *data, uint32_t len)
{
	const uint8_t *p = data;
	uint64_t acc = sum;

	PROF_ENTER(PROF_CSUM);
	for (; len >= 8; p += 8, len -= 8)
		acc = add_carry(acc, get_be64(p));
	if (len >= 4) {
		acc = add_carry(acc, get_be32(p));
		p += 4, len -= 4;
	}
	if (len >= 2) {
		acc = add_carry(acc, get_be16(p));
		p += 2, len -= 2;
	}
	if (len)
		acc = add_carry(acc, (uint32_t)p[0] << 8);
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	PROF_LEAVE();
	return (uint32_t)acc;
}

/* Fold a running sum into the 16-bit one's complement checksum. */
uint16_t floo_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Sum of the TCP/UDP pseudo header (addresses in host order). */
uint32_t floo_csum_pseudo(uint32_t src, uint32_t dst, uint8_t proto, uint32_t len)
{
	uint64_t s = (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;

	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

/* Add a piece that starts at byte offset pos of the summed data: pieces
 * starting at odd offsets contribute byte-swapped. */
uint32_t floo_csum_add_at(uint32_t sum, const void *data, uint32_t len, uint32_t pos)
{
	uint32_t s = floo_csum_add(0, data, len);

	while (s >> 16)
		s = (s & 0xffffu) + (s >> 16);
	if (pos & 1)
		s = ((s & 0xff) << 8) | (s >> 8);
	s += sum;
	if (s < sum)
		s++;
	return s;
}
