/*
 * NVMe register and command layouts. Section numbers name the NVM Express
 * Base Specification, revision 1.4. Little-endian throughout (x86-64).
 */
#ifndef NVME_REGS_H
#define NVME_REGS_H

#include <stdint.h>

/* ---- 3.1 Controller registers (BAR 0) ---- */
#define NVME_REG_CAP   0x00 /* 3.1.1, 64-bit */
#define NVME_REG_VS    0x08 /* 3.1.2 */
#define NVME_REG_INTMS 0x0c /* 3.1.3 (pin and MSI only) */
#define NVME_REG_INTMC 0x10 /* 3.1.4 */
#define NVME_REG_CC    0x14 /* 3.1.5 */
#define NVME_REG_CSTS  0x1c /* 3.1.6 */
#define NVME_REG_AQA   0x24 /* 3.1.8 */
#define NVME_REG_ASQ   0x28 /* 3.1.9, 64-bit */
#define NVME_REG_ACQ   0x30 /* 3.1.10, 64-bit */
#define NVME_REG_DBS                                                                               \
	0x1000 /* 3.1.24/3.1.25: SQ y tail at DBS + 2y*stride, CQ y head at DBS + (2y+1)*stride */

/* 3.1.1 CAP fields */
#define NVME_CAP_MQES(c)                                                                           \
	((uint32_t)((c)&0xffff) + 1)          /* entries per queue at most (0's based in CAP) */
#define NVME_CAP_CQR(c)     (((c) >> 16) & 1) /* queues must be physically contiguous */
#define NVME_CAP_TO(c)      ((uint32_t)(((c) >> 24) & 0xff)) /* ready timeout in 500 ms units */
#define NVME_CAP_DSTRD(c)   ((uint32_t)(((c) >> 32) & 0xf))  /* doorbell stride: 4 << DSTRD bytes */
#define NVME_CAP_CSS_NVM(c) (((c) >> 37) & 1)                /* NVM command set supported */
#define NVME_CAP_MPSMIN(c)  ((uint32_t)(((c) >> 48) & 0xf))  /* smallest page: 4 KiB << MPSMIN */
#define NVME_CAP_MPSMAX(c)  ((uint32_t)(((c) >> 52) & 0xf))

/* 3.1.5 CC fields */
#define NVME_CC_EN         (1u << 0)
#define NVME_CC_CSS_NVM    (0u << 4)
#define NVME_CC_MPS(shift) ((uint32_t)((shift)-12) << 7) /* host page 2^shift bytes */
#define NVME_CC_AMS_RR     (0u << 11)
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_IOSQES(n)  ((uint32_t)(n) << 16) /* SQ entry 2^n bytes */
#define NVME_CC_IOCQES(n)  ((uint32_t)(n) << 20)

/* 3.1.6 CSTS fields */
#define NVME_CSTS_RDY       (1u << 0)
#define NVME_CSTS_CFS       (1u << 1) /* controller fatal status */
#define NVME_CSTS_SHST_MASK (3u << 2)
#define NVME_CSTS_SHST_DONE (2u << 2)

/* 3.1.8 AQA: admin queue sizes, 0's based */
#define NVME_AQA(sq_entries, cq_entries)                                                           \
	((uint32_t)((sq_entries)-1) | (uint32_t)((cq_entries)-1) << 16)

/* ---- 4.2 Submission queue entry (64 bytes) ---- */
struct nvme_sqe {
	uint8_t opcode;                                    /* 0 */
	uint8_t flags;                                     /* 1: FUSE 1:0, PSDT 7:6 (0 = PRPs) */
	uint16_t cid;                                      /* 2: command identifier */
	uint32_t nsid;                                     /* 4 */
	uint32_t cdw2, cdw3;                               /* 8 */
	uint64_t mptr;                                     /* 16 */
	uint64_t prp1;                                     /* 24 */
	uint64_t prp2;                                     /* 32 */
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15; /* 40 */
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "4.2: a submission entry is 64 bytes");
#define NVME_SQES_LOG2 6

/* ---- 4.6 Completion queue entry (16 bytes) ---- */
struct nvme_cqe {
	uint32_t dw0;    /* 0: command specific */
	uint32_t dw1;    /* 4: reserved */
	uint16_t sqhd;   /* 8: submission queue head pointer */
	uint16_t sqid;   /* 10 */
	uint16_t cid;    /* 12 */
	uint16_t status; /* 14: phase tag bit 0, status field 15:1 */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "4.6: a completion entry is 16 bytes");
#define NVME_CQES_LOG2 4

/* 4.6.1 status field (status >> 1): SC 7:0, SCT 10:8, CRD 12:11, M 13, DNR 14 */
#define NVME_CQE_PHASE(st)    ((st)&1u)
#define NVME_CQE_SC(st)       (((st) >> 1) & 0xffu)
#define NVME_CQE_SCT(st)      (((st) >> 9) & 0x7u)
#define NVME_CQE_DNR(st)      (((st) >> 15) & 1u)
#define NVME_SCT_GENERIC      0
#define NVME_SC_SUCCESS       0x00
#define NVME_SC_INVALID_FIELD 0x02
#define NVME_SC_LBA_RANGE     0x80 /* 4.6.1.2.2: LBA out of range */

/* ---- 5 Admin command set opcodes ---- */
#define NVME_ADMIN_DELETE_SQ    0x00 /* 5.6 */
#define NVME_ADMIN_CREATE_SQ    0x01 /* 5.4 */
#define NVME_ADMIN_DELETE_CQ    0x04 /* 5.5 */
#define NVME_ADMIN_CREATE_CQ    0x05 /* 5.3 */
#define NVME_ADMIN_IDENTIFY     0x06 /* 5.15 */
#define NVME_ADMIN_SET_FEATURES 0x09 /* 5.21 */

/* 5.3 Create I/O completion queue: CDW10 QID 15:0, QSIZE 31:16 (0's based); CDW11 PC 0, IEN 1, IV
 * 31:16 */
#define NVME_CQ_PC  (1u << 0)
#define NVME_CQ_IEN (1u << 1)
/* 5.4 Create I/O submission queue: CDW11 PC 0, QPRIO 2:1, CQID 31:16 */
#define NVME_SQ_PC (1u << 0)

/* 5.15 Identify: CDW10 CNS 7:0 */
#define NVME_CNS_NAMESPACE    0x00
#define NVME_CNS_CONTROLLER   0x01
#define NVME_CNS_ACTIVE_NSIDS 0x02 /* list of up to 1024 active NSIDs above CDW1.NSID */

/* 5.15.2.2 Identify controller data structure (byte offsets) */
#define NVME_IDC_SN            4   /* 20 ASCII bytes */
#define NVME_IDC_MN            24  /* 40 ASCII bytes */
#define NVME_IDC_FR            64  /* 8 ASCII bytes */
#define NVME_IDC_MDTS          77  /* max transfer: 2^MDTS * minimum page, 0 = no limit */
#define NVME_IDC_SQES          512 /* 3:0 required, 7:4 maximum, log2 bytes */
#define NVME_IDC_CQES          513
#define NVME_IDC_NN            516 /* number of namespaces (32-bit) */
#define NVME_IDC_ONCS          520 /* optional NVM commands (16-bit) */
#define NVME_ONCS_WRITE_ZEROES (1u << 3)
#define NVME_IDC_VWC           525 /* bit 0: volatile write cache present */

/* 5.15.2.1 Identify namespace data structure */
#define NVME_IDN_NSZE  0  /* size in logical blocks (64-bit) */
#define NVME_IDN_NLBAF 25 /* number of LBA formats, 0's based */
#define NVME_IDN_FLBAS 26 /* 3:0: format in use */
#define NVME_IDN_LBAF                                                                              \
	128 /* 16 formats of 4 bytes: MS 15:0, LBADS 23:16 (log2 block size), RP 25:24 */

/* 5.21.1.7 Number of queues (feature 07h): CDW11 and completion DW0 NSQ 15:0, NCQ 31:16, 0's based
 */
#define NVME_FEAT_NUM_QUEUES 0x07

/* ---- 6 NVM command set opcodes ---- */
#define NVME_CMD_FLUSH        0x00 /* 6.8 */
#define NVME_CMD_WRITE        0x01 /* 6.15: CDW10-11 SLBA, CDW12 NLB 15:0 (0's based) */
#define NVME_CMD_READ         0x02 /* 6.9: same layout */
#define NVME_CMD_WRITE_ZEROES 0x08 /* 6.16: same layout, no data */

/* ---- 4.3 Physical region page entries ---- */
#define NVME_PAGE 4096u
#define NVME_PRPS_PER_PAGE                                                                         \
	(NVME_PAGE / 8) /* the last one chains to the next list page when more follow */

#endif
