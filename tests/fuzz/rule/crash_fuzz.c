/*
 * The fuzz rule's own check (mk/fuzz.mk, group fuzz-rule): a target that
 * aborts on an input starting with "crash". Its committed seed does, so a
 * run of the rule on it must report "not ok"; one that said "ok" would
 * hide every crash the real targets find.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 5 && !memcmp(data, "crash", 5))
		abort();
	return 0;
}
