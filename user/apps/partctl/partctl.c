/*
 * partctl: asks the root task to stop or restart partitions, one request
 * per pair of arguments ("partctl restart web stop broker"), and prints
 * each result. Only a partition the manifest gives `control` may
 * (docs/manifest.md, "On request"); elsewhere every request fails with
 * HL_ERR_INVALID_CAP. Used by the test root-task-restarts-a-crashed-partition.
 */
#include <hallows/rt.h>
#include <lib/string.h>

int main(struct rt *rt)
{
	(void)rt;
	for (uint32_t i = 1; rt_arg(i) && rt_arg(i + 1); i += 2) {
		const char *verb = rt_arg(i), *name = rt_arg(i + 1);
		enum hl_partition_op op = !strcmp(verb, "stop")      ? HL_PARTITION_STOP
		                          : !strcmp(verb, "restart") ? HL_PARTITION_RESTART
		                                                     : (enum hl_partition_op)0;
		long err = rt_partition_control(op, name);
		rt_printf("partctl: %s %s: %s (%ld)\n", verb, name, err ? "refused" : "done", err);
	}
	return 0;
}
