/*
 * Intel 8254x / 82574 register and descriptor layouts used by the e1000
 * driver. Sources: "PCI/PCI-X Family of Gigabit Ethernet Controllers
 * Software Developer's Manual" (8254x, rev. 4.0: §13 registers, §3.2.3
 * receive descriptors, §3.3 transmit descriptors) and the "82574 GbE
 * Controller Datasheet" (§10 registers, §7.1.4 legacy receive
 * descriptors, §7.2 transmit descriptors, §10.2.4.9 IVAR). Offsets are
 * bytes into BAR 0.
 */
#ifndef DRIVERS_E1000_REGS_H
#define DRIVERS_E1000_REGS_H

#include <stdint.h>

#define E1000_VENDOR_INTEL 0x8086u
#define E1000_DEV_82540EM  0x100eu /* QEMU -device e1000 */
#define E1000_DEV_82574L   0x10d3u /* QEMU -device e1000e */

/* Registers (8254x §13.4, 82574 §10.2). */
#define E1000_CTRL    0x0000u
#define E1000_STATUS  0x0008u
#define E1000_EERD    0x0014u
#define E1000_ICR     0x00c0u
#define E1000_ITR     0x00c4u
#define E1000_ICS     0x00c8u /* Interrupt Cause Set: a 1 raises that cause */
#define E1000_IMS     0x00d0u
#define E1000_IMC     0x00d8u
#define E1000_IVAR    0x00e4u /* 82574 only */
#define E1000_RCTL    0x0100u
#define E1000_TCTL    0x0400u
#define E1000_TIPG    0x0410u
#define E1000_RDBAL   0x2800u
#define E1000_RDBAH   0x2804u
#define E1000_RDLEN   0x2808u
#define E1000_RDH     0x2810u
#define E1000_RDT     0x2818u
#define E1000_RDTR    0x2820u
#define E1000_TDBAL   0x3800u
#define E1000_TDBAH   0x3804u
#define E1000_TDLEN   0x3808u
#define E1000_TDH     0x3810u
#define E1000_TDT     0x3818u
#define E1000_TIDV    0x3820u
#define E1000_RXCSUM  0x5000u
#define E1000_MTA     0x5200u /* 128 registers */
#define E1000_RAL0    0x5400u
#define E1000_RAH0    0x5404u
#define E1000_BAR0_SZ 0x20000u /* 128 KiB of registers on both */

#define E1000_CTRL_ASDE    (1u << 5)
#define E1000_CTRL_SLU     (1u << 6)
#define E1000_CTRL_ILOS    (1u << 7)
#define E1000_CTRL_RST     (1u << 26)
#define E1000_CTRL_VME     (1u << 30)
#define E1000_CTRL_PHY_RST (1u << 31)
#define E1000_CTRL_LRST    (1u << 3)

#define E1000_STATUS_LU (1u << 1)

/* EERD: start in bit 0; done and the address field differ between the 8254x and the 82574. */
#define E1000_EERD_START 1u

/* Interrupt causes (ICR/IMS/IMC bits). RXQ0, TXQ0 and OTHER are the 82574's MSI-X causes. */
#define E1000_INT_TXDW  (1u << 0)
#define E1000_INT_LSC   (1u << 2)
#define E1000_INT_RXT0  (1u << 7)
#define E1000_INT_RXQ0  (1u << 20)
#define E1000_INT_TXQ0  (1u << 22)
#define E1000_INT_OTHER (1u << 24)

/* 82574 IVAR: a 4-bit entry per cause, vector in bits 0-2, valid in bit 3. */
#define E1000_IVAR_ENTRY(vec)  (0x8u | ((vec)&7u))
#define E1000_IVAR_RXQ0_SHIFT  0
#define E1000_IVAR_TXQ0_SHIFT  8
#define E1000_IVAR_OTHER_SHIFT 16

#define E1000_RCTL_EN    (1u << 1)
#define E1000_RCTL_BAM   (1u << 15)
#define E1000_RCTL_SECRC (1u << 26)
#define E1000_RCTL_BSIZE 2048u /* BSIZE 00, BSEX 0 */

#define E1000_TCTL_EN     (1u << 1)
#define E1000_TCTL_PSP    (1u << 3)
#define E1000_TCTL_CT     (0x0fu << 4)
#define E1000_TCTL_COLD   (0x3fu << 12)
#define E1000_TIPG_COPPER (10u | 8u << 10 | 6u << 20)

#define E1000_RXCSUM_IPOFLD (1u << 8)
#define E1000_RXCSUM_TUOFLD (1u << 9)

#define E1000_RAH_AV (1u << 31)

/* Legacy receive descriptor (8254x §3.2.3, 82574 §7.1.4.1): 16 bytes. */
struct e1000_rx_desc {
	uint64_t addr;
	uint16_t length;
	uint16_t csum;
	uint8_t status;
	uint8_t errors;
	uint16_t special;
};

#define E1000_RXD_DD    0x01u
#define E1000_RXD_EOP   0x02u
#define E1000_RXD_IXSM  0x04u /* ignore the checksum indications */
#define E1000_RXD_TCPCS 0x20u /* TCP/UDP checksum computed */
#define E1000_RXD_IPCS  0x40u /* IPv4 header checksum computed */
/* errors */
#define E1000_RXE_CE   0x01u
#define E1000_RXE_SE   0x02u
#define E1000_RXE_SEQ  0x04u
#define E1000_RXE_CXE  0x10u
#define E1000_RXE_TCPE 0x20u
#define E1000_RXE_IPE  0x40u
#define E1000_RXE_RXE  0x80u
#define E1000_RXE_FRAME                                                                            \
	(E1000_RXE_CE | E1000_RXE_SE | E1000_RXE_SEQ | E1000_RXE_CXE | E1000_RXE_RXE)

/*
 * Transmit descriptors (8254x §3.3.3-3.3.7): 16 bytes, the same slot holds
 * a TCP/IP context descriptor or an extended data descriptor.
 */
struct e1000_tx_desc {
	uint64_t addr;  /* data: buffer; context: ipcss ipcso ipcse(16) tucss tucso tucse(16) */
	uint32_t lower; /* data: length(20) dtyp(4) dcmd(8); context: paylen(20) dtyp(4) tucmd(8) */
	uint32_t upper; /* data: sta(4) rsv(4) popts(8) special(16); context: sta hdrlen mss */
};

#define E1000_TXD_DTYP_D     (1u << 20) /* extended data descriptor (context: 0) */
#define E1000_TXD_CMD_EOP    (1u << 24)
#define E1000_TXD_CMD_IFCS   (1u << 25)
#define E1000_TXD_CMD_RS     (1u << 27)
#define E1000_TXD_CMD_DEXT   (1u << 29)
#define E1000_TXD_STA_DD     0x1u
#define E1000_TXD_POPTS_TXSM (0x2u << 8) /* insert the TCP/UDP checksum from the context */

/* Context descriptor fields (in addr). */
#define E1000_TXC_TUCSS(x) ((uint64_t)(x) << 32)
#define E1000_TXC_TUCSO(x) ((uint64_t)(x) << 40)

#endif
