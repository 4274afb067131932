/* libFuzzer: brokerd's configuration text (user/apps/brokerd/config.c).
 * Any bytes: no crash, and a parse that succeeds leaves the values in
 * their ranges. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "apps/brokerd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct brokerd_config c;

	brokerd_config_default(&c);
	if (brokerd_config_parse((const char *)data, size, &c) == 0) {
		if (c.port == 0 || c.partitions < 1 || c.partitions > 1024 || c.arena_mib % 2 ||
		    c.arena_mib < 8 || memchr(c.adv_host, 0, sizeof(c.adv_host)) == NULL)
			__builtin_trap();
	}
	return 0;
}
