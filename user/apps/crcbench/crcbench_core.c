/* The CRC-32C throughput benchmark's loop, shared by the Hallows program and
 * the Linux guest's /init (crcbench.h). */
#include "crcbench.h"

#include "storage/crc32c.h"

const char *const crcb_names[CRCB_N] = {"hw", "insn", "sw", "copy", "movsq"};
/* MiB per kind = rounds * CRCB_PASSES: about a second each under TCG (insn ~150 MB/s,
 * sw ~550 MB/s, copy and rep movsq ~1.3 GB/s on the 2-core host of docs/benchmarks.md) */
const unsigned crcb_rounds[CRCB_N] = {48, 40, 128, 256, 256};

static inline uint64_t crcb_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)::"memory");
	return ((uint64_t)hi << 32) | lo;
}

/* Eight bytes per step; the empty asm keeps the compiler from turning the
 * loop into a call to memcpy (each side's memcpy differs). */
static void crcb_copy(uint64_t *dst, const uint64_t *src, size_t words)
{
	for (size_t i = 0; i < words; i++) {
		dst[i] = src[i];
		__asm__ volatile("" ::: "memory");
	}
}

static uint32_t crcb_pass(enum crcb_kind k, uint8_t *src, uint8_t *dst, uint32_t crc)
{
	switch (k) {
	case CRCB_HW:
		return store_crc32c(crc, src, CRCB_BYTES);
	case CRCB_INSN:
		return store_crc32c_insn(crc, src, CRCB_BYTES);
	case CRCB_SW:
		return store_crc32c_sw(crc, src, CRCB_BYTES);
	case CRCB_MOVSQ: {
		void *d = dst;
		const void *s = src;
		size_t q = CRCB_BYTES / 8;

		__asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(q) : : "memory");
		return crc ^ dst[crc % CRCB_BYTES];
	}
	default:
		crcb_copy((uint64_t *)(void *)dst, (const uint64_t *)(void *)src, CRCB_BYTES / 8);
		return crc ^ dst[crc % CRCB_BYTES];
	}
}

int crcb_run(uint8_t *src, uint8_t *dst, crcb_report_fn report)
{
	static const size_t lens[] = {0, 1, 7, 8, 63, 255, 256, 511, 512, 543, 4099, 65535};
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < CRCB_BYTES; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		src[i] = (uint8_t)x;
	}
	uint32_t want = store_crc32c_sw(0, src, CRCB_BYTES);
	if (store_crc32c(0, src, CRCB_BYTES) != want ||
	    store_crc32c_insn(0, src, CRCB_BYTES) != want)
		return -1;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		want = store_crc32c_sw(7, src + 3, lens[i]);
		if (store_crc32c(7, src + 3, lens[i]) != want ||
		    store_crc32c_insn(7, src + 3, lens[i]) != want)
			return -1;
	}
	for (int k = 0; k < CRCB_N; k++) {
		uint32_t crc = 0;

		report(crcb_names[k], 0, crcb_rdtsc(), crc);
		for (unsigned r = 1; r <= crcb_rounds[k]; r++) {
			for (int p = 0; p < CRCB_PASSES; p++)
				crc = crcb_pass((enum crcb_kind)k, src, dst, crc);
			report(crcb_names[k], r * CRCB_PASSES * (CRCB_BYTES >> 20), crcb_rdtsc(),
			       crc);
		}
	}
	return 0;
}
