/*
 * The virtio-net packet header (virtio 1.x, 5.1.6 "Device Operation",
 * struct virtio_net_hdr without num_buffers): the offload contract between
 * Floo and a virtio-net device, and equally a Linux TAP opened with
 * IFF_VNET_HDR. Ten bytes in front of every frame, fields little-endian.
 *
 *   0  flags        NEEDS_CSUM: checksum from csum_start, stored at
 *                   csum_start + csum_offset; DATA_VALID: already checked
 *   1  gso_type     NONE, TCPV4 (cut into gso_size segments), ...; ECN bit
 *   2  hdr_len      Ethernet + IP + TCP header bytes copied onto each segment
 *   4  gso_size     payload bytes per segment
 *   6  csum_start   from the start of the frame
 *   8  csum_offset  from csum_start
 *
 * Transmit: floo_vnet_tx() turns a floo_txframe's offload fields into the
 * header. Receive: floo_vnet_rx() checks the header of a received frame and
 * marks the buffer FLOO_PB_CSUM_OK when the checksum needs no check. Floo
 * never asks for receive segmentation offload (no GUEST_TSO4, no TUN_F_TSO4),
 * so a received frame with a gso_type is refused.
 */
#ifndef FLOO_VNET_H
#define FLOO_VNET_H

#include "floo.h"

#define FLOO_VNET_HDR_LEN 10u

#define FLOO_VNET_F_NEEDS_CSUM 0x1u
#define FLOO_VNET_F_DATA_VALID 0x2u

#define FLOO_VNET_GSO_NONE  0u
#define FLOO_VNET_GSO_TCPV4 1u
#define FLOO_VNET_GSO_UDP   3u
#define FLOO_VNET_GSO_TCPV6 4u
#define FLOO_VNET_GSO_ECN   0x80u

struct floo_vnet_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
};

void floo_vnet_encode(const struct floo_vnet_hdr *h, uint8_t out[FLOO_VNET_HDR_LEN]);
void floo_vnet_decode(const uint8_t in[FLOO_VNET_HDR_LEN], struct floo_vnet_hdr *h);
/* Header for a frame the stack hands to tx_burst. */
void floo_vnet_tx(const struct floo_txframe *f, struct floo_vnet_hdr *h);
/* Check the header that came with the frame in pb (pb->len frame bytes).
 * Returns 0, pb->flags gaining FLOO_PB_CSUM_OK when the device says the
 * checksum is valid or was never computed (a frame made on this host);
 * or FLOO_EINVAL, with pb freed and counted in drop_vnet. */
int floo_vnet_rx(struct floo_stack *st, const uint8_t hdr[FLOO_VNET_HDR_LEN], struct floo_pbuf *pb);

#endif
