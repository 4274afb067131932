/*
 * A fake AHCI HBA for the host tests of user/drivers/ahci.c: every
 * register access of the driver comes here (AHCI_MMIO_HOOKS), with the
 * write-1-to-clear and write-1-to-set registers modelled; the HBA runs
 * its commands (IDENTIFY, FPDMA QUEUED, DMA EXT, FLUSH CACHE EXT) against
 * a RAM disk whenever the driver reads PxIS or the clock. Physical
 * addresses are host addresses. Port 0 has the disk, port 1 none.
 */
#ifndef BLK_AHCI_FAKE_H
#define BLK_AHCI_FAKE_H

#include "ahci.h"

#define AF_SECTORS 2048 /* 1 MiB of 512-byte sectors */

struct ahci_fake {
	/* what the HBA is */
	uint8_t abar[4096] __attribute__((aligned(4096)));
	uint8_t disk[AF_SECTORS * 512];
	uint16_t identify[256];
	bool ncq; /* the disk offers NCQ */
	/* knobs */
	bool hold;            /* take no command (requests stay in flight) */
	bool hr_stuck;        /* GHC.HR never clears */
	bool never_ready;     /* BSY after every COMRESET */
	uint32_t stray_ci;    /* bits set in PxCI at the next step */
	uint32_t fatal;       /* PxIS bits raised at the next step */
	unsigned tfes_no_err; /* so many commands complete with TFES but no ERR */
	bool gone;            /* surprise removal: reads all-ones, writes lost, nothing runs */
	/* what happened */
	unsigned comresets, ncq_cmds, nonq_cmds, flushes, identifies;
	unsigned long reads;  /* register reads by the driver */
	uint32_t max_ci_bits; /* most PxCI bits set at once for non-queued commands */
	uint64_t now;
	/* port 0 state the driver cannot write directly */
	uint32_t fetched; /* slots already taken */
};

extern struct ahci_fake af;
extern const struct blkdev_env af_env;

/* A fresh HBA with a disk (NCQ or not); the identify words can be changed before ahci_start. */
void af_reset(bool ncq);
/* Run the HBA once: take the commands issued, finish them. */
void af_step(void);
/* Free the driver's DMA pages. */
void af_free_pages(void);

#endif
