/*
 * virtio-net packet headers (floo_vnet.h): the one place that maps Floo's
 * transmit offload requests to the header and checks the header of a
 * received frame. Used by the Linux TAP platform today and by the
 * virtio-net driver inside Hallows.
 */
#include "floo_internal.h"
#include "floo/floo_vnet.h"

void floo_vnet_encode(const struct floo_vnet_hdr *h, uint8_t out[FLOO_VNET_HDR_LEN])
{
	out[0] = h->flags;
	out[1] = h->gso_type;
	put_le16(out + 2, h->hdr_len);
	put_le16(out + 4, h->gso_size);
	put_le16(out + 6, h->csum_start);
	put_le16(out + 8, h->csum_offset);
}

void floo_vnet_decode(const uint8_t in[FLOO_VNET_HDR_LEN], struct floo_vnet_hdr *h)
{
	h->flags = in[0];
	h->gso_type = in[1];
	h->hdr_len = get_le16(in + 2);
	h->gso_size = get_le16(in + 4);
	h->csum_start = get_le16(in + 6);
	h->csum_offset = get_le16(in + 8);
}

/* A TSO frame always asks for the checksum too (the stack offers TSO only
 * with FLOO_CAP_TX_CSUM_L4): each segment's sum is the device's work. */
void floo_vnet_tx(const struct floo_txframe *f, struct floo_vnet_hdr *h)
{
	memset(h, 0, sizeof(*h));
	if (f->csum_partial) {
		h->flags = FLOO_VNET_F_NEEDS_CSUM;
		h->csum_start = f->csum_start;
		h->csum_offset = f->csum_offset;
	}
	if (f->tso_mss) {
		h->gso_type = FLOO_VNET_GSO_TCPV4;
		h->gso_size = f->tso_mss;
		h->hdr_len = (uint16_t)f->iov[0].len;
	}
}

int floo_vnet_rx(struct floo_stack *st, const uint8_t hdr[FLOO_VNET_HDR_LEN], struct floo_pbuf *pb)
{
	struct floo_vnet_hdr h;

	floo_vnet_decode(hdr, &h);
	if (h.gso_type != FLOO_VNET_GSO_NONE) {
		floo_drop(st, &st->stats.drop_vnet, "vnet_rx_gso", pb);
		return FLOO_EINVAL;
	}
	if (h.flags & FLOO_VNET_F_NEEDS_CSUM) {
		/* The sum field must lie inside the frame, past the Ethernet
		 * and a minimal IPv4 header. */
		if (h.csum_start < ETH_HLEN + 20 ||
		    (uint32_t)h.csum_start + h.csum_offset + 2 > pb->len) {
			floo_drop(st, &st->stats.drop_vnet, "vnet_rx_csum_start", pb);
			return FLOO_EINVAL;
		}
		pb->flags |= FLOO_PB_CSUM_OK;
	} else if (h.flags & FLOO_VNET_F_DATA_VALID) {
		pb->flags |= FLOO_PB_CSUM_OK;
	}
	return 0;
}
