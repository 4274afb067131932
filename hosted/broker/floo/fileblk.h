/* A block driver over a file (fileblk.c), for the appliance loop on Linux. */
#ifndef FILEBLK_H
#define FILEBLK_H

#include "blkdev.h"

#define FILEBLK_QD 16u

struct fileblk {
	struct blkdev dev; /* first: the ops get the fileblk back from it */
	int fd;
	struct blkdev_req *q[FILEBLK_QD]; /* carried out, waiting to complete */
	unsigned nq;
};

/* Open (create at create_size when new or empty); 0 or -1 (errno). */
int fileblk_open(struct fileblk *f, const char *path, uint64_t create_size);

#endif
