/*
 * crc: the CRC-32C throughput benchmark in the Linux guest, the loop of
 * user/apps/crcbench/crcbench_core.c over user/storage/crc32c.c (the code the
 * hosted broker checks every produced batch with), beside the Hallows root
 * task user/apps/crcbench/crcbench.c in the same QEMU configuration (make
 * bench-serve-linux; protocol in user/apps/crcbench/crcbench.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "apps/crcbench/crcbench.h"
#include "lg_bench.h"
#include "storage/crc32c.h"

static void report(const char *kind, unsigned mib, uint64_t tsc, uint32_t crc)
{
	printf("CRCBENCH kind=%s mib=%u tsc=%llu crc=%08x\n", kind, mib, (unsigned long long)tsc,
	       (unsigned)crc);
	fflush(stdout);
}

int lg_bench_crc(long iters)
{
	(void)iters;
	uint8_t *src = aligned_alloc(4096, CRCB_BYTES);
	uint8_t *dst = aligned_alloc(4096, CRCB_BYTES);

	if (!src || !dst)
		return lg_fail("crc", "aligned_alloc");
	printf("CRCBENCH fold=%d\n", store_crc32c_folds());
	int r = crcb_run(src, dst, report);
	if (r)
		printf("CRCBENCH-ERROR store_crc32c, store_crc32c_insn and store_crc32c_sw "
		       "disagree\n");
	else
		printf("CRCBENCH-DONE\n");
	fflush(stdout);
	free(src);
	free(dst);
	return r;
}
