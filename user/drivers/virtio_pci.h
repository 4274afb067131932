/*
 * The virtio 1.x modern PCI transport (virtio 1.2 §4.1), shared by the
 * virtio device drivers (net now, blk next): finds the common, notify, ISR
 * and device structures through the vendor-specific capabilities, maps
 * them, resets, negotiates features, and sets queues up. Legacy (0.9 I/O
 * port) devices are refused.
 */
#ifndef DRIVERS_VIRTIO_PCI_H
#define DRIVERS_VIRTIO_PCI_H

#include "drv_env.h"
#include "virtq.h"

struct virtio_pci {
	hl_cptr_t dev; /* the pci_device capability */
	struct drv_bar bars[6];
	volatile uint8_t *common, *notify, *isr, *devcfg;
	uint32_t notify_mult; /* notify_off_multiplier */
	uint32_t notify_len, devcfg_len;
	uint16_t msix_entries; /* MSI-X table size (0: none) */
	uint64_t features;     /* negotiated */
};

/* Find and map the structures; VIRTQ-independent errors: 0 or HL_ERR_* (HL_ERR_ILLEGAL_OP: no
 * modern capabilities). */
long virtio_pci_open(struct virtio_pci *vp, hl_cptr_t dev) __attribute__((warn_unused_result));

/* Reset (status 0, waiting until the device reads back 0, at most ~1 s); false if it never did,
 * at once if the function is gone. */
bool virtio_pci_reset(struct virtio_pci *vp);
/* The device status reads 0xff: the function is gone (removed, or its registers not decoded). */
bool virtio_pci_gone(struct virtio_pci *vp);
void virtio_pci_set_status(struct virtio_pci *vp, uint8_t bits); /* ORs bits in */
uint8_t virtio_pci_status(struct virtio_pci *vp);

/*
 * Features (§3.1.1 steps 4-6): offer `wanted & device's`, set FEATURES_OK
 * and check it stuck. VERSION_1 is required. Returns 0 or HL_ERR_ILLEGAL_OP.
 */
long virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted)
    __attribute__((warn_unused_result));
static inline bool virtio_pci_has(const struct virtio_pci *vp, unsigned bit)
{
	return (vp->features >> bit) & 1;
}

uint16_t virtio_pci_num_queues(struct virtio_pci *vp);
/* The device's largest size for queue index (0: the queue does not exist). */
uint16_t virtio_pci_queue_max(struct virtio_pci *vp, uint16_t index);
/*
 * Give queue q->index to the device (size, ring addresses, MSI-X entry or
 * VIRTIO_MSI_NO_VECTOR) and enable it. HL_ERR_RANGE if the device refused the vector.
 */
long virtio_pci_queue_enable(struct virtio_pci *vp, struct virtq *q, uint16_t msix)
    __attribute__((warn_unused_result));
/* Tell the device that queue q has new buffers. */
void virtio_pci_notify(struct virtio_pci *vp, const struct virtq *q);

/* Device-specific configuration (read with the generation check of §4.1.4.3.1). */
void virtio_pci_config(struct virtio_pci *vp, uint32_t off, void *buf, uint32_t len);
/* One le16 field of it (0 if outside the structure). */
uint16_t virtio_pci_config16(struct virtio_pci *vp, uint32_t off);

#endif
