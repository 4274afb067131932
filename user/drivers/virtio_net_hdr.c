/*
 * virtio-net frames and headers checked without touching the device:
 * received headers (virtio 1.2 §5.1.6.4) before anything in them is used,
 * frames to transmit before any descriptor is written.
 */
#include "virtio_net.h"
#include "virtio_regs.h"

#define VNET_HDR ((uint16_t)sizeof(struct virtio_net_hdr))

bool virtio_net_rx_fill(struct netdev_buf *b, uint32_t len, bool mrg_rxbuf, uint16_t ring_size,
                        uint16_t *more)
{
	b->flags = 0, b->csum_start = 0, b->csum_offset = 0;
	if (*more) { /* a continuation buffer of a merged frame: no header */
		b->off = 0, b->len = (uint16_t)len;
		if (--*more)
			b->flags |= NETDEV_BUF_MORE;
		return true;
	}
	if (len < VNET_HDR)
		return false;
	/* Read each field once: the device could still be writing the buffer. */
	const volatile struct virtio_net_hdr *h = (const volatile struct virtio_net_hdr *)b->data;
	uint16_t nbuf = mrg_rxbuf ? h->num_buffers : 1, cstart = h->csum_start,
	         coff = h->csum_offset;
	uint8_t hf = h->flags;
	if (nbuf == 0 || nbuf > ring_size)
		return false;
	b->off = VNET_HDR, b->len = (uint16_t)(len - VNET_HDR);
	if (hf & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (nbuf == 1 && (uint32_t)cstart + coff + 2 > b->len)
			return false; /* the caller would write the sum there: it must be inside the
			                 frame */
		b->flags |= NETDEV_BUF_CSUM_NONE;
		b->csum_start = cstart, b->csum_offset = coff;
	}
	if (hf & VIRTIO_NET_HDR_F_DATA_VALID)
		b->flags |= NETDEV_BUF_CSUM_VALID;
	*more = (uint16_t)(nbuf - 1);
	if (*more)
		b->flags |= NETDEV_BUF_MORE;
	return true;
}

int virtio_net_tx_frame(struct netdev_buf *const *bufs, int n, int max_segs, uint32_t offloads)
{
	uint32_t bytes = 0;
	int k = 0;

	do {
		if (k == n || k == max_segs || bufs[k]->len == 0 ||
		    (uint32_t)bufs[k]->off + bufs[k]->len > bufs[k]->cap)
			return NETDEV_ERR_INVALID;
		bytes += bufs[k]->len;
	} while (bufs[k++]->flags & NETDEV_BUF_MORE);
	const struct netdev_buf *b = bufs[0];
	bool tso = b->flags & NETDEV_BUF_TSO4;
	if (bytes > (tso ? VIRTIO_NET_TSO_MAX : VIRTIO_NET_FRAME_MAX))
		return NETDEV_ERR_INVALID;
	if ((b->flags & NETDEV_BUF_CSUM) && (!(offloads & NETDEV_OFF_TX_CSUM) ||
	                                     (uint32_t)b->csum_start + b->csum_offset + 2 > bytes))
		return NETDEV_ERR_INVALID;
	/* TSO (§5.1.6.2): the device segments at gso_size and sums each segment, so it needs the
	 * checksum request. */
	if (tso && (!(offloads & NETDEV_OFF_TSO4) || !(b->flags & NETDEV_BUF_CSUM) ||
	            b->gso_size == 0 || (uint32_t)b->csum_start + 20 > bytes))
		return NETDEV_ERR_INVALID;
	return k;
}

void virtio_net_tx_hdr(struct virtio_net_hdr *h, const struct netdev_buf *first)
{
	*h = (struct virtio_net_hdr){0}; /* stores, not rep stosb (counted per byte) */
	if (first->flags & NETDEV_BUF_CSUM) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = first->csum_start, h->csum_offset = first->csum_offset;
	}
	if (first->flags & NETDEV_BUF_TSO4) {
		uint32_t tcp = (uint32_t)first->off +
		               first->csum_start; /* the TCP header, if in this buffer */
		uint16_t thl = tcp + 13 <= (uint32_t)first->off + first->len
		                   ? (first->data[tcp + 12] >> 4) * 4
		                   : 20;
		h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		h->gso_size = first->gso_size;
		h->hdr_len =
		    (uint16_t)(first->csum_start + (thl >= 20 ? thl : 20)); /* a hint (§5.1.6.2) */
	}
}
