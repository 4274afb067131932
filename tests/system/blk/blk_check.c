/*
 * blk-check IMAGE BLOCK_SIZE SEED [ZERO_FIRST ZERO_COUNT]: checks from the
 * host that every block of a disk image blktest wrote holds the pattern of
 * SEED (user/apps/blktest/blk_pattern.h), except ZERO_COUNT blocks from
 * ZERO_FIRST that must be all zero. Prints one summary line; exit 0 when
 * every block is right, 1 otherwise, 2 on a usage or I/O error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk_pattern.h"

static int parse(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end || end == s ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t bs, seed, zfirst = 0, zcount = 0;

	if ((argc != 4 && argc != 6) || parse(argv[2], &bs) || parse(argv[3], &seed) ||
	    (argc == 6 && (parse(argv[4], &zfirst) || parse(argv[5], &zcount))) || bs < 8 ||
	    bs > 65536 || bs % 8) {
		fprintf(stderr, "usage: blk-check IMAGE BLOCK_SIZE SEED [ZERO_FIRST ZERO_COUNT]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "rb");
	if (!f) {
		fprintf(stderr, "blk-check: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	uint64_t *buf = malloc(bs), lba = 0, bad = 0, first_bad = 0;
	while (buf && fread(buf, 1, bs, f) == bs) {
		bool zero = lba >= zfirst && lba - zfirst < zcount, ok = true;
		for (uint64_t i = 0; i < bs / 8; i++)
			ok &= buf[i] == (zero ? 0 : blk_pattern(seed, lba, i));
		if (!ok && !bad++)
			first_bad = lba;
		lba++;
	}
	bool short_tail = buf && !feof(f);
	fclose(f);
	free(buf);
	if (!buf || short_tail || lba == 0) {
		fprintf(stderr, "blk-check: %s: read error or empty image\n", argv[1]);
		return 2;
	}
	printf("blk-check: %" PRIu64 " blocks, %" PRIu64 " wrong (first %" PRIu64 "), seed %" PRIu64
	       "\n",
	       lba, bad, first_bad, seed);
	return bad ? 1 : 0;
}
