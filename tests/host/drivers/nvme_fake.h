/*
 * A fake NVMe controller for host tests and fuzzing (nvme_fake.c): a
 * register file in memory and a model that runs whenever the driver reads
 * the clock (every polling loop does). It takes admin and I/O commands
 * from the rings, moves data through PRPs to a memory disk, and misbehaves
 * on request. Physical addresses are the host addresses.
 */
#ifndef NVME_FAKE_H
#define NVME_FAKE_H

#include "nvme.h"

#define DISK_BLOCKS 2048
#define MAX_PAGES   4096

enum inject { I_NONE, I_UNKNOWN_CID, I_HEAD_BEYOND, I_SILENT, I_LBA_RANGE, I_WRONG_SQID };

struct fq {
	uint64_t base;
	uint16_t size, head, tail;
	uint8_t phase;
	uint16_t cqid;
};

struct nvme_fake {
	uint8_t regs[0x2000] __attribute__((aligned(4096)));
	struct fq sq[4], cq[4];
	uint8_t disk[DISK_BLOCKS * 512];
	unsigned grant; /* I/O queue pairs granted */
	bool never_ready, fatal, garbage_identify, nvme_1_0;
	bool gone; /* surprise removal: the model stops; the test fills regs with all-ones */
	const uint8_t
	    *identify[3]; /* when set: the Identify data returned for CNS 01h, 02h, 00h (fuzzing) */
	enum inject inject;
	uint64_t clock;
	void *pages[MAX_PAGES];
	unsigned npages;
	unsigned admin_cmds, io_cmds;
	unsigned stride; /* doorbell stride in bytes: 4 << CAP.DSTRD */
};
extern struct nvme_fake *nf;
extern const struct blkdev_env nf_env;

uint32_t nf_r32(unsigned off);
void nf_w32(unsigned off, uint32_t v);
/* A fresh fake (in nf) granting `grant` I/O queue pairs, and a zeroed controller structure for the
 * driver. */
struct nvme_ctrl *nf_new(unsigned grant);
/* Free the fake, every DMA page it handed out, and c. */
void nf_free(struct nvme_ctrl *c);

#endif
