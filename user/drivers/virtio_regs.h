/*
 * virtio 1.x register and memory layouts (OASIS virtio 1.2). Only what the
 * drivers here use; each block names its section of the specification.
 * Everything is little-endian, as is x86.
 */
#ifndef DRIVERS_VIRTIO_REGS_H
#define DRIVERS_VIRTIO_REGS_H

#include <stdint.h>

/* §4.1.2 PCI Device Discovery: modern devices are 0x1040 + device type. */
#define VIRTIO_PCI_VENDOR     0x1af4
#define VIRTIO_PCI_DEVICE_NET 0x1041
#define VIRTIO_PCI_DEVICE_NET_TRANS                                                                \
	0x1000 /* transitional: valid only with the modern capabilities */
#define VIRTIO_PCI_DEVICE_BLK       0x1042
#define VIRTIO_PCI_DEVICE_BLK_TRANS 0x1001 /* transitional: likewise */

/* §4.1.4 Virtio Structure PCI Capabilities (vendor-specific capability 0x09). */
#define VIRTIO_PCI_CAP_ID         0x09
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5
/* byte offsets within the capability */
#define VIRTIO_PCI_CAP_OFF_LEN         2
#define VIRTIO_PCI_CAP_OFF_TYPE        3
#define VIRTIO_PCI_CAP_OFF_BAR         4
#define VIRTIO_PCI_CAP_OFF_OFFSET      8
#define VIRTIO_PCI_CAP_OFF_LENGTH      12
#define VIRTIO_PCI_CAP_OFF_NOTIFY_MULT 16 /* notify capability only */

/* §4.1.4.3 Common configuration structure layout (byte offsets). */
#define VIRTIO_COMMON_DFSELECT  0x00 /* le32 device_feature_select */
#define VIRTIO_COMMON_DF        0x04 /* le32 device_feature */
#define VIRTIO_COMMON_GFSELECT  0x08 /* le32 driver_feature_select */
#define VIRTIO_COMMON_GF        0x0c /* le32 driver_feature */
#define VIRTIO_COMMON_MSIX      0x10 /* le16 msix_config */
#define VIRTIO_COMMON_NUMQ      0x12 /* le16 num_queues */
#define VIRTIO_COMMON_STATUS    0x14 /* u8 device_status */
#define VIRTIO_COMMON_CFGGEN    0x15 /* u8 config_generation */
#define VIRTIO_COMMON_Q_SELECT  0x16 /* le16 */
#define VIRTIO_COMMON_Q_SIZE    0x18 /* le16 */
#define VIRTIO_COMMON_Q_MSIX    0x1a /* le16 */
#define VIRTIO_COMMON_Q_ENABLE  0x1c /* le16 */
#define VIRTIO_COMMON_Q_NOFF    0x1e /* le16 queue_notify_off */
#define VIRTIO_COMMON_Q_DESCLO  0x20 /* le64 queue_desc */
#define VIRTIO_COMMON_Q_AVAILLO 0x28 /* le64 queue_driver */
#define VIRTIO_COMMON_Q_USEDLO  0x30 /* le64 queue_device */
#define VIRTIO_COMMON_SIZE      0x38
#define VIRTIO_MSI_NO_VECTOR    0xffff

/* §2.1 Device Status Field */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* §6 Reserved Feature Bits */
#define VIRTIO_F_INDIRECT_DESC   28
#define VIRTIO_F_EVENT_IDX       29
#define VIRTIO_F_VERSION_1       32
#define VIRTIO_F_ACCESS_PLATFORM 33

/* §2.7.5 The Virtqueue Descriptor Table */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};
#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4 /* §2.7.5.3: addr/len name a table of descriptors */

/* §2.7.6 The Virtqueue Available Ring */
struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* queue size entries (then used_event, unused here) */
};
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* §2.7.8 The Virtqueue Used Ring */
struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};
struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];
};
#define VIRTQ_USED_F_NO_NOTIFY 1

_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc layout (§2.7.5)");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem layout (§2.7.8)");

/* §5.1.3 Network device feature bits */
#define VIRTIO_NET_F_CSUM       0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU        3
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16
#define VIRTIO_NET_F_CTRL_VQ    17
#define VIRTIO_NET_F_MQ         22

/* §5.1.4 Network device configuration layout (byte offsets) */
#define VIRTIO_NET_CFG_MAC      0  /* u8[6] */
#define VIRTIO_NET_CFG_STATUS   6  /* le16 */
#define VIRTIO_NET_CFG_MAXPAIRS 8  /* le16 */
#define VIRTIO_NET_CFG_MTU      10 /* le16 */
#define VIRTIO_NET_S_LINK_UP    1

/* §5.1.6 Device Operation: the header before every frame (12 bytes with VERSION_1). */
struct virtio_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr layout (§5.1.6)");
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE     0
#define VIRTIO_NET_HDR_GSO_TCPV4    1

/* §5.2.3 Block device feature bits */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* §5.2.4 Block device configuration layout (byte offsets) */
#define VIRTIO_BLK_CFG_CAPACITY  0  /* le64, in 512-byte sectors */
#define VIRTIO_BLK_CFG_SIZE_MAX  8  /* le32 */
#define VIRTIO_BLK_CFG_SEG_MAX   12 /* le32 */
#define VIRTIO_BLK_CFG_BLK_SIZE  20 /* le32 */
#define VIRTIO_BLK_CFG_WRITEBACK 32 /* u8 */
#define VIRTIO_BLK_CFG_NUMQ      34 /* le16 */
#define VIRTIO_BLK_CFG_MAX_WZ    48 /* le32 max_write_zeroes_sectors */
#define VIRTIO_BLK_CFG_MAX_WZSEG 52 /* le32 */
#define VIRTIO_BLK_CFG_SIZE      60

/* §5.2.6 Device Operation: the request header, the write-zeroes range and the status byte */
struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector; /* always 512-byte units */
};
struct virtio_blk_wz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "virtio_blk_req header (§5.2.6)");
_Static_assert(sizeof(struct virtio_blk_wz) == 16, "virtio_blk_discard_write_zeroes (§5.2.6)");
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK           0
#define VIRTIO_BLK_S_IOERR        1
#define VIRTIO_BLK_S_UNSUPP       2

#endif
