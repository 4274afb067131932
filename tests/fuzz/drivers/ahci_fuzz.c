/*
 * libFuzzer target: what an AHCI disk and HBA write. The first 512 bytes
 * are IDENTIFY DEVICE data (ahci_parse_identify): either refused, or
 * everything extracted is in range. The rest are register snapshots
 * (slots in flight, PxCI, PxSACT) for ahci_completed: a completion is only
 * ever reported for a slot in flight, and any bit outside them is caught.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ahci.h"

static void check_string(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n == cap)
		abort(); /* not terminated */
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t w[256] = {0};
	struct ahci_identify id;

	memcpy(w, data, size < 512 ? size : 512);
	if (!ahci_parse_identify(w, &id)) {
		if (id.sectors == 0 || id.sectors >> 48 || (!id.lba48 && id.sectors >> 28))
			abort();
		if (id.sector_size < 512 || id.sector_size > 4096 ||
		    (id.sector_size & (id.sector_size - 1)))
			abort();
		if (id.qdepth < 1 || id.qdepth > 32 || (id.ncq && !id.lba48) ||
		    (id.flush_ext && !id.lba48))
			abort();
		check_string(id.model, sizeof(id.model));
		check_string(id.serial, sizeof(id.serial));
		check_string(id.firmware, sizeof(id.firmware));
	}
	for (size_t pos = 512; pos + 16 <= size; pos += 16) {
		uint32_t v[4], done = 0;
		memcpy(v, data + pos, 16);
		uint32_t ncq = v[0], nonq = v[1] & ~v[0];
		const char *bad = ahci_completed(ncq, nonq, v[2], v[3], &done);
		if (done & ~(ncq | nonq))
			abort(); /* a completion for a slot not in flight */
		if (bad && done)
			abort();
		if (!bad && ((v[2] & ~(ncq | nonq)) || (v[3] & ~ncq)))
			abort(); /* a bit outside what is in flight went unnoticed */
	}
	return 0;
}
