/*
 * The root task. It holds every initial capability (see the boot info)
 * and, in later issues, reads etc/boot.conf from the boot module and
 * builds the partitions it lists. Today it reports what it was given.
 */
#include <hallows/rt.h>

int main(struct rt *rt)
{
	const struct hl_bootinfo *bi = rt->bi;
	uint64_t ram = 0;

	for (uint32_t i = 0; i < bi->nmem; i++)
		if (!bi->mem[i].is_device)
			ram += 1ull << bi->mem[i].size_bits;
	rt_printf("init: root task running in ring 3: %u cpus, %u memory capabilities (%lu MiB), boot module %lu bytes\n",
		  bi->ncpus, bi->nmem, ram >> 20, bi->initrd_size);
	return 0;
}
