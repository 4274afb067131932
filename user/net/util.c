/* Internet checksum helpers (RFC 1071). */
#include "floo_internal.h"

#include <lib/prof.h>

/* Add len bytes at data to a 32-bit running sum of 16-bit big-endian words.
 * An odd trailing byte is padded with zero, as the RFC requires; callers
 * summing several pieces must keep all but the last piece even-sized. */
uint32_t floo_csum_add(uint32_t sum, const void *data, uint32_t len)
{
	const uint8_t *p = data;
	uint64_t acc = sum;

	PROF_ENTER(PROF_CSUM);
	while (len >= 2) {
		acc += (uint32_t)((p[0] << 8) | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		acc += (uint32_t)(p[0] << 8);
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
