/*
 * The AHCI driver (user/drivers/ahci.c, ahci_parse.c): a freestanding
 * library a partition links in; it drives one AHCI HBA (QEMU's ich9-ahci,
 * the q35 SATA controller) through its mapped ABAR (BAR 5) and exposes
 * each port with an ATA disk as a struct blkdev with one queue: NCQ
 * (READ/WRITE FPDMA QUEUED, several tags in flight) where HBA and disk
 * have it, READ/WRITE DMA EXT one at a time otherwise. What it needs from
 * its partition comes through struct blkdev_env (blkdev.h).
 */
#ifndef AHCI_H
#define AHCI_H

#include "ahci_regs.h" /* user/drivers/ */
#include "blkdev.h"

#define AHCI_MAX_DISKS 6  /* ports with a disk that get a struct blkdev */
#define AHCI_SLOTS     32 /* command slots (and NCQ tags) per port at most */
#define AHCI_PRDT_MAX  ((BLKDEV_PAGE - AHCI_TBL_PRDT) / 16) /* PRD entries in a one-page table */

/* What IDENTIFY DEVICE says, checked (ahci_parse_identify). */
struct ahci_identify {
	uint64_t sectors;     /* logical sectors */
	uint32_t sector_size; /* bytes: 512 .. 4096, a power of two */
	uint8_t qdepth;       /* NCQ queue depth 1..32 (1 without NCQ) */
	bool ncq, lba48, flush_ext, flush, wcache;
	char model[41], serial[21], firmware[9];
};

/*
 * Check 256 words of IDENTIFY DEVICE data and extract what the driver
 * uses: an ATA device (not ATAPI) with LBA, a capacity that is not 0 and
 * fits the addressing mode, a logical sector size in 512..4096 and a
 * power of two, the checksum right where the integrity word is present,
 * strings made printable. 0, or what is wrong.
 */
const char *ahci_parse_identify(const uint16_t w[256], struct ahci_identify *id);

/*
 * Which of the slots in flight completed, from PxCI and PxSACT as read
 * (AHCI §5.3): a non-queued command is done when its PxCI bit is clear, a
 * queued one when both are. A bit set for a slot not in flight is a
 * device error. 0 with *done set, or what is wrong.
 */
const char *ahci_completed(uint32_t issued_ncq, uint32_t issued_nonq, uint32_t ci, uint32_t sact,
                           uint32_t *done);

/* The 20-byte register H2D FIS of a read, write (NCQ with tag, or DMA (EXT)) or flush. */
void ahci_fis_build(uint8_t fis[20], uint8_t op, bool ncq, bool lba48, bool flush_ext, uint64_t lba,
                    uint32_t nblocks, unsigned tag);

/*
 * The PRD table of a buffer of len bytes at offset in pages[0] onwards:
 * one entry per page piece, at most max; returns the entry count, or 0
 * for a length that is odd or needs more entries.
 */
unsigned ahci_prdt_build(volatile struct ahci_prd *prdt, unsigned max, const uint64_t *pages,
                         uint32_t offset, uint32_t len);

enum ahci_cmd_state { AHCI_FREE = 0, AHCI_PENDING, AHCI_ISSUED };

struct ahci_cmd {
	struct blkdev_req *req;
	volatile uint8_t *tbl; /* command table: one DMA page */
	uint64_t tbl_pa;
	uint8_t state;   /* enum ahci_cmd_state */
	bool ncq;        /* issued (or to be) as an NCQ command */
	uint8_t retries; /* issued again after an error report that named no failure */
};
#define AHCI_MAX_RETRIES 3

struct ahci_hba;

/* Lock legend as in nvme.h: [I] set at start; [q] the disk's one user thread; [R] a reset too. */
struct ahci_port {
	struct blkdev dev;      /* [I] */
	struct ahci_hba *hba;   /* [I] */
	unsigned no;            /* [I] port number */
	volatile uint8_t *regs; /* [I] */
	volatile struct ahci_cmd_hdr
	    *clist;              /* [I] command list at 0 of its page, received FIS at 1 KiB */
	uint64_t clist_pa;       /* [I] */
	struct ahci_identify id; /* [I] */
	bool ncq;                /* [I] NCQ in use */
	unsigned nslots;         /* [I] */
	struct ahci_cmd cmd[AHCI_SLOTS];  /* [q][R] */
	uint32_t issued_ncq, issued_nonq; /* [q][R] slots given to the HBA */
	uint32_t busy;                    /* [q][R] slots not AHCI_FREE */
	uint8_t fifo[AHCI_SLOTS];         /* [q][R] pending slots in submission order */
	unsigned nfifo;                   /* [q][R] */
	unsigned inflight;                /* [q][R] pending + issued */
	unsigned errors, resets;          /* [q][R] */
};

struct ahci_hba {
	const struct blkdev_env *env;          /* [I] */
	volatile uint8_t *regs;                /* [I] ABAR */
	uint32_t cap, pi, vs;                  /* [I] */
	uint8_t mode;                          /* [I] enum blkdev_mode */
	struct ahci_port port[AHCI_MAX_DISKS]; /* [I] */
	unsigned nports;                       /* [I] ports with a disk */
	bool gone;     /* [q] its registers read all-ones: every call fails (ahci.c, hba_gone) */
	void *scratch; /* [I] one page for IDENTIFY data */
	uint64_t scratch_pa; /* [I] */
};

/*
 * Reset the HBA at regs (ABAR, regs_len bytes mapped), enable AHCI, find
 * every implemented port with an ATA disk, reset (COMRESET) and start it,
 * IDENTIFY the disk, and print each; interrupts (MSI, vector 0) or
 * polling. 0 (with hba->nports disks, possibly none) or a negative
 * enum blkdev_err.
 */
int ahci_start(struct ahci_hba *hba, volatile void *regs, size_t regs_len,
               const struct blkdev_env *env, enum blkdev_mode mode)
    __attribute__((warn_unused_result));
/* Stop every port's DMA; requests in flight fail with BLKDEV_E_ABORTED. */
int ahci_stop(struct ahci_hba *hba);
/* Port reset (COMRESET) after a fault or timeout: fail what is in flight, start it again. */
int ahci_port_recover(struct ahci_port *p, const char *why);

extern const struct blkdev_ops ahci_blkdev_ops;

#ifdef AHCI_MMIO_HOOKS
/* Host tests only: every register access goes here (W1C and W1S registers need a model). */
uint32_t ahci_mmio_rd(volatile uint8_t *base, uint32_t off);
void ahci_mmio_wr(volatile uint8_t *base, uint32_t off, uint32_t v);
#endif

#endif
