/*
 * AHCI 1.3.1 and ATA/ATAPI-8 (ACS-3) layouts: only what the driver here
 * uses; each block names its section. Little-endian, as is x86.
 */
#ifndef DRIVERS_AHCI_REGS_H
#define DRIVERS_AHCI_REGS_H

#include <stdint.h>

/* AHCI §3.1 Generic Host Control (offsets in ABAR, BAR 5) */
#define AHCI_CAP        0x00
#define AHCI_GHC        0x04
#define AHCI_IS         0x08
#define AHCI_PI         0x0c
#define AHCI_VS         0x10
#define AHCI_CAP_NP(c)  (((c)&31u) + 1)          /* ports */
#define AHCI_CAP_NCS(c) ((((c) >> 8) & 31u) + 1) /* command slots per port */
#define AHCI_CAP_SSS    (1u << 27)               /* staggered spin-up */
#define AHCI_CAP_SNCQ   (1u << 30)               /* native command queuing */
#define AHCI_CAP_S64A   (1u << 31)               /* 64-bit addressing */
#define AHCI_GHC_HR     (1u << 0)                /* HBA reset */
#define AHCI_GHC_IE     (1u << 1)                /* interrupt enable */
#define AHCI_GHC_AE     (1u << 31)               /* AHCI enable */

/* AHCI §3.3 Port registers at 0x100 + port * 0x80 */
#define AHCI_PORT(n)       (0x100u + (n)*0x80u)
#define AHCI_PX_CLB        0x00
#define AHCI_PX_CLBU       0x04
#define AHCI_PX_FB         0x08
#define AHCI_PX_FBU        0x0c
#define AHCI_PX_IS         0x10
#define AHCI_PX_IE         0x14
#define AHCI_PX_CMD        0x18
#define AHCI_PX_TFD        0x20
#define AHCI_PX_SIG        0x24
#define AHCI_PX_SSTS       0x28
#define AHCI_PX_SCTL       0x2c
#define AHCI_PX_SERR       0x30
#define AHCI_PX_SACT       0x34
#define AHCI_PX_CI         0x38
#define AHCI_PX_CMD_ST     (1u << 0)
#define AHCI_PX_CMD_SUD    (1u << 1)
#define AHCI_PX_CMD_POD    (1u << 2)
#define AHCI_PX_CMD_FRE    (1u << 4)
#define AHCI_PX_CMD_FR     (1u << 14)
#define AHCI_PX_CMD_CR     (1u << 15)
#define AHCI_PX_CMD_CCS(c) (((c) >> 8) & 31u)
/* §3.3.5 PxIS bits */
#define AHCI_PX_IS_DHRS  (1u << 0)  /* D2H register FIS */
#define AHCI_PX_IS_PSS   (1u << 1)  /* PIO setup FIS */
#define AHCI_PX_IS_DSS   (1u << 2)  /* DMA setup FIS */
#define AHCI_PX_IS_SDBS  (1u << 3)  /* set device bits FIS (NCQ completions) */
#define AHCI_PX_IS_DPS   (1u << 5)  /* descriptor processed */
#define AHCI_PX_IS_IFS   (1u << 27) /* interface fatal error */
#define AHCI_PX_IS_HBDS  (1u << 28) /* host bus data error */
#define AHCI_PX_IS_HBFS  (1u << 29) /* host bus fatal error */
#define AHCI_PX_IS_TFES  (1u << 30) /* task file error */
#define AHCI_PX_IS_FATAL (AHCI_PX_IS_IFS | AHCI_PX_IS_HBDS | AHCI_PX_IS_HBFS)
#define AHCI_PX_IS_DONE  (AHCI_PX_IS_DHRS | AHCI_PX_IS_PSS | AHCI_PX_IS_DSS | AHCI_PX_IS_SDBS)
/* §3.3.8 PxTFD: the ATA status (bits 7:0) and error (15:8) registers */
#define ATA_STS_ERR  0x01
#define ATA_STS_DRQ  0x08
#define ATA_STS_DF   0x20
#define ATA_STS_BSY  0x80
#define ATA_ERR_ABRT 0x04
#define ATA_ERR_IDNF 0x10
/* §3.3.10 PxSSTS.DET, §3.3.11 PxSCTL.DET */
#define AHCI_SSTS_DET(s)    ((s)&15u)
#define AHCI_SSTS_DET_PHY   3 /* device present, phy communication established */
#define AHCI_SCTL_DET_RESET 1 /* COMRESET */
#define AHCI_SIG_ATA        0x00000101u

/* §4.2.2 Command header: 32 bytes, 32 per command list (1 KiB, 1 KiB aligned) */
struct ahci_cmd_hdr {
	uint16_t flags; /* CFL 4:0 (FIS dwords), A 5, W 6, P 7, R 8, B 9, C 10, PMP 15:12 */
	uint16_t prdtl; /* PRD entries */
	uint32_t prdbc; /* bytes transferred (written by the HBA) */
	uint64_t ctba;  /* command table, 128-byte aligned */
	uint32_t reserved[4];
};
#define AHCI_HDR_CFL_H2D 5          /* a register FIS is 20 bytes */
#define AHCI_HDR_W       (1u << 6)  /* write: host to device */
#define AHCI_HDR_C       (1u << 10) /* clear busy upon R_OK */
_Static_assert(sizeof(struct ahci_cmd_hdr) == 32, "AHCI command header (§4.2.2)");

/* §4.2.3 Command table: CFIS at 0, ATAPI command at 0x40, PRDT from 0x80 (16 bytes an entry) */
#define AHCI_TBL_PRDT 0x80
struct ahci_prd {
	uint64_t dba; /* data base address, word aligned */
	uint32_t reserved;
	uint32_t dbc; /* byte count - 1 (bit 0 set: even counts only), bit 31 interrupt */
};
_Static_assert(sizeof(struct ahci_prd) == 16, "AHCI PRD entry (§4.2.3.3)");

/* §4.2.1 Received FIS area: 256 bytes, 256 aligned; the D2H register FIS at 0x40 */
#define AHCI_RFIS_BYTES 256

/* SATA 3.x §10.5.5 Register host-to-device FIS (type 0x27) */
#define FIS_TYPE_H2D 0x27
#define FIS_H2D_C    0x80 /* the FIS carries a command */

/* ACS-3 commands */
#define ATA_CMD_READ_DMA        0xc8
#define ATA_CMD_WRITE_DMA       0xca
#define ATA_CMD_READ_DMA_EXT    0x25
#define ATA_CMD_WRITE_DMA_EXT   0x35
#define ATA_CMD_READ_FPDMA      0x60
#define ATA_CMD_WRITE_FPDMA     0x61
#define ATA_CMD_FLUSH_CACHE     0xe7
#define ATA_CMD_FLUSH_CACHE_EXT 0xea
#define ATA_CMD_IDENTIFY        0xec
#define ATA_DEV_LBA             0x40

/* ACS-3 §7.12.7 IDENTIFY DEVICE data: word indices */
#define ATA_ID_CONFIG      0   /* bit 15 clear: ATA device */
#define ATA_ID_SERIAL      10  /* 20 ASCII bytes, each word's bytes swapped */
#define ATA_ID_FIRMWARE    23  /* 8 */
#define ATA_ID_MODEL       27  /* 40 */
#define ATA_ID_CAPS        49  /* bit 9 LBA, bit 8 DMA */
#define ATA_ID_LBA28       60  /* 2 words */
#define ATA_ID_QDEPTH      75  /* bits 4:0 queue depth - 1 */
#define ATA_ID_SATA_CAPS   76  /* bit 8 NCQ */
#define ATA_ID_CMDSET1     82  /* bit 5 write cache */
#define ATA_ID_CMDSET2     83  /* bit 10 48-bit, bit 12 FLUSH CACHE, bit 13 FLUSH CACHE EXT */
#define ATA_ID_CMDSET_EN1  85  /* bit 5 write cache enabled */
#define ATA_ID_LBA48       100 /* 4 words */
#define ATA_ID_SECTOR_SIZE 106 /* bit 14 set, 15 clear: valid; bit 12 long logical sectors */
#define ATA_ID_LOGICAL_SZ  117 /* 2 words: logical sector size in words */
#define ATA_ID_INTEGRITY   255 /* bits 7:0 0xa5: bits 15:8 make the sector sum 0 */

#endif
