/*
 * A minimal program the root task starts from etc/boot.conf: it runs in
 * its own address space and capability space with its own memory, and
 * reports what it can and cannot reach.
 */
#include <hallows/rt.h>

int main(struct rt *rt)
{
	const struct hl_bootinfo *bi = rt->bi;
	long foreign = hl_memory_info(HL_SLOT_FIRST_FREE_FIXED + 40, NULL, NULL, NULL, NULL);
	hl_cptr_t ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	uint64_t *page = rt_map_pages(1);

	if (page)
		page[0] = 42;
	rt_printf("hello: running in ring 3 with %u memory capability, %lu KiB; own endpoint %s, own page %s, "
		  "root's capabilities %s\n",
		  bi->nmem, bi->nmem ? (1ul << bi->mem[0].size_bits) >> 10 : 0, ep ? "made" : "FAILED",
		  page && page[0] == 42 ? "mapped" : "FAILED", foreign == HL_ERR_INVALID_CAP ? "unreachable" : "REACHABLE");
	return 0;
}
