/*
 * crcbench: the CRC-32C throughput benchmark as the Hallows root task
 * (crcbench.h; make bench-serve-linux boots it beside the Linux guest's
 * lg_crc.c in the same QEMU configuration).
 */
#include <hallows/rt.h>

#include "crcbench.h"
#include "storage/crc32c.h"

static void report(const char *kind, unsigned mib, uint64_t tsc, uint32_t crc)
{
	rt_printf("CRCBENCH kind=%s mib=%u tsc=%lu crc=%08x\n", kind, mib, (unsigned long)tsc, crc);
}

int main(struct rt *rt)
{
	(void)rt;
	uint8_t *src = rt_map_pages(CRCB_BYTES / 4096);
	uint8_t *dst = rt_map_pages(CRCB_BYTES / 4096);

	if (!src || !dst) {
		rt_printf("CRCBENCH-ERROR out of memory\n");
		rt_exit(1);
	}
	rt_printf("CRCBENCH fold=%d\n", store_crc32c_folds());
	if (crcb_run(src, dst, report)) {
		rt_printf("CRCBENCH-ERROR store_crc32c, store_crc32c_insn and store_crc32c_sw "
		          "disagree\n");
		rt_exit(1);
	}
	rt_printf("CRCBENCH-DONE\n");
	rt_exit(0);
}
