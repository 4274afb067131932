/*
 * virtio-net headers and frames (user/drivers/virtio_net_hdr.c): what a
 * device may write into a receive header and what it may not; which
 * frames a caller may hand to tx.
 */
#include <string.h>

#include "ktharness.h"
#include "virtio_net.h"
#include "virtio_regs.h"

static uint8_t mem[2048];

static struct netdev_buf buf(uint8_t flags, uint16_t nbuf, uint16_t cstart, uint16_t coff)
{
	struct virtio_net_hdr h = {
	    .flags = flags, .num_buffers = nbuf, .csum_start = cstart, .csum_offset = coff};

	memset(mem, 0, sizeof(mem));
	memcpy(mem, &h, sizeof(h));
	return (struct netdev_buf){.data = mem, .cap = sizeof(mem), .flags = 0xffff};
}

KT_CASE(virtio_net_rx_plain_frame)
{
	struct netdev_buf b = buf(0, 1, 0, 0);
	uint16_t more = 0;

	CHECK_MSG(virtio_net_rx_fill(&b, 12 + 60, true, 256, &more));
	CHECK_MSG(b.off == 12 && b.len == 60 && b.flags == 0 && more == 0);
	b = buf(0, 0, 0, 0); /* num_buffers is not read without MRG_RXBUF */
	CHECK_MSG(virtio_net_rx_fill(&b, 12 + 60, false, 256, &more) && more == 0);
}

KT_CASE(virtio_net_rx_checksum_flags)
{
	struct netdev_buf b = buf(VIRTIO_NET_HDR_F_DATA_VALID, 1, 0, 0);
	uint16_t more = 0;

	CHECK_MSG(virtio_net_rx_fill(&b, 100, true, 256, &more) &&
	          b.flags == NETDEV_BUF_CSUM_VALID);
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 34, 16);
	CHECK_MSG(virtio_net_rx_fill(&b, 12 + 60, true, 256, &more) &&
	          b.flags == NETDEV_BUF_CSUM_NONE);
	CHECK_MSG(b.csum_start == 34 && b.csum_offset == 16);
}

KT_CASE(virtio_net_rx_merged_frame_marks_more)
{
	struct netdev_buf b = buf(0, 3, 0, 0), c;
	uint16_t more = 0;

	CHECK_MSG(virtio_net_rx_fill(&b, 2048, true, 256, &more) && more == 2 &&
	          (b.flags & NETDEV_BUF_MORE));
	c = buf(0xff, 0, 0, 0); /* a continuation buffer: its first bytes are frame, not header */
	CHECK_MSG(virtio_net_rx_fill(&c, 2048, true, 256, &more) && c.off == 0 && c.len == 2048 &&
	          c.flags == NETDEV_BUF_MORE);
	c = buf(0xff, 0, 0, 0);
	CHECK_MSG(virtio_net_rx_fill(&c, 5, true, 256, &more) && c.len == 5 && c.flags == 0 &&
	              more == 0,
	          "the last one");
}

KT_CASE(virtio_net_rx_nonsense_from_the_device_is_refused)
{
	struct netdev_buf b;
	uint16_t more = 0;

	b = buf(0, 1, 0, 0);
	CHECK_MSG(!virtio_net_rx_fill(&b, 11, true, 256, &more), "shorter than the header");
	b = buf(0, 0, 0, 0);
	CHECK_MSG(!virtio_net_rx_fill(&b, 100, true, 256, &more), "num_buffers 0");
	b = buf(0, 257, 0, 0);
	CHECK_MSG(!virtio_net_rx_fill(&b, 100, true, 256, &more), "num_buffers above the ring");
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 50, 9);
	CHECK_MSG(!virtio_net_rx_fill(&b, 12 + 60, true, 256, &more),
	          "checksum field past the frame");
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 0xffff, 0xffff);
	CHECK_MSG(!virtio_net_rx_fill(&b, 12 + 60, true, 256, &more),
	          "offsets that overflow 16 bits");
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 56, 2);
	CHECK_MSG(virtio_net_rx_fill(&b, 12 + 60, true, 256, &more),
	          "the last two bytes of the frame are fine");
	CHECK_MSG(more == 0);
}

static uint8_t txmem[4][2048];

static struct netdev_buf txb(int i, uint16_t off, uint16_t len, uint16_t flags)
{
	return (struct netdev_buf){
	    .data = txmem[i], .cap = 2048, .off = off, .len = len, .flags = flags};
}

KT_CASE(virtio_net_tx_frame_counts_buffers)
{
	struct netdev_buf a = txb(0, 0, 14, NETDEV_BUF_MORE), b = txb(1, 0, 20, NETDEV_BUF_MORE),
	                  c = txb(2, 100, 1000, 0), d = txb(3, 0, 60, 0);
	struct netdev_buf *v[4] = {&a, &b, &c, &d};

	CHECK_MSG(virtio_net_tx_frame(v, 4, 8, 0) == 3, "three buffers, then the next frame");
	CHECK_MSG(virtio_net_tx_frame(v + 3, 1, 8, 0) == 1);
	CHECK_MSG(virtio_net_tx_frame(v, 2, 8, 0) == NETDEV_ERR_INVALID,
	          "MORE on the last buffer given");
	CHECK_MSG(virtio_net_tx_frame(v, 4, 2, 0) == NETDEV_ERR_INVALID,
	          "more buffers than the driver takes");
}

KT_CASE(virtio_net_tx_frame_refuses_caller_mistakes)
{
	struct netdev_buf b = txb(0, 0, 0, 0), *v[1] = {&b};

	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == NETDEV_ERR_INVALID, "empty");
	b = txb(0, 2000, 60, 0);
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == NETDEV_ERR_INVALID,
	          "off + len past cap");
	b = txb(0, 0, 1515, 0);
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == NETDEV_ERR_INVALID,
	          "longer than 1514");
	b = txb(0, 0, 1514, 0);
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == 1, "1514 is the largest");
	b = txb(0, 0, 1000, NETDEV_BUF_TSO4 | NETDEV_BUF_CSUM), b.csum_start = 34,
	b.csum_offset = 16, b.gso_size = 1448;
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == NETDEV_ERR_INVALID,
	          "TSO not negotiated");
	b = txb(0, 0, 98, NETDEV_BUF_CSUM), b.csum_start = 34, b.csum_offset = 2;
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == 1);
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, 0) == NETDEV_ERR_INVALID,
	          "offload asked of a device without CSUM");
	b.csum_offset = 63;
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == NETDEV_ERR_INVALID,
	          "checksum field past the frame");
	b.csum_offset = 62;
	CHECK_MSG(virtio_net_tx_frame(v, 1, 8, NETDEV_OFF_TX_CSUM) == 1, "the last two bytes");
}

/* A TCPv4 frame of `payload` bytes over three buffers: headers (54 bytes), then the payload in two.
 */
static void tso_frame(struct netdev_buf b[3], struct netdev_buf *v[3], uint32_t payload)
{
	b[0] = txb(0, 0, 54, NETDEV_BUF_TSO4 | NETDEV_BUF_CSUM | NETDEV_BUF_MORE);
	b[0].csum_start = 34, b[0].csum_offset = 16, b[0].gso_size = 1448;
	txmem[0][34 + 12] = 8 << 4; /* TCP data offset: 32 bytes (timestamps) */
	b[1] = txb(1, 0, (uint16_t)(payload / 2), NETDEV_BUF_MORE);
	b[2] = txb(2, 0, (uint16_t)(payload - payload / 2), 0);
	for (int i = 0; i < 3; i++)
		v[i] = &b[i];
}

KT_CASE(virtio_net_tx_frame_tso4)
{
	struct netdev_buf b[3], *v[3];
	uint32_t off = NETDEV_OFF_TX_CSUM | NETDEV_OFF_TSO4;

	tso_frame(b, v, 4000);
	CHECK_MSG(virtio_net_tx_frame(v, 3, 8, off) == 3, "4054 bytes with TSO");
	CHECK_MSG(virtio_net_tx_frame(v, 3, 8, NETDEV_OFF_TX_CSUM) == NETDEV_ERR_INVALID,
	          "no TSO offered");
	b[0].flags &= (uint16_t)~NETDEV_BUF_TSO4;
	CHECK_MSG(virtio_net_tx_frame(v, 3, 8, off) == NETDEV_ERR_INVALID,
	          "4054 bytes without TSO");
	tso_frame(b, v, 4000), b[0].flags &= (uint16_t)~NETDEV_BUF_CSUM;
	CHECK_MSG(virtio_net_tx_frame(v, 3, 8, off) == NETDEV_ERR_INVALID,
	          "TSO without a checksum request");
	tso_frame(b, v, 4000), b[0].gso_size = 0;
	CHECK_MSG(virtio_net_tx_frame(v, 3, 8, off) == NETDEV_ERR_INVALID, "TSO without an MSS");
	tso_frame(b, v, 2 * 2048), b[1].len = 2048, b[2].len = 2048;
	CHECK_MSG(virtio_net_tx_frame(v, 3, 8, off) == 3, "buffers filled to cap");
}

KT_CASE(virtio_net_tx_hdr_from_the_first_buffer)
{
	struct netdev_buf b[3], *v[3];
	struct virtio_net_hdr h;

	tso_frame(b, v, 4000);
	virtio_net_tx_hdr(&h, &b[0]);
	CHECK_MSG(h.flags == VIRTIO_NET_HDR_F_NEEDS_CSUM && h.csum_start == 34 &&
	          h.csum_offset == 16);
	CHECK_MSG(h.gso_type == VIRTIO_NET_HDR_GSO_TCPV4 && h.gso_size == 1448 &&
	              h.hdr_len == 34 + 32,
	          "gso_type %u gso_size %u hdr_len %u", h.gso_type, h.gso_size, h.hdr_len);
	b[0] = txb(0, 0, 60, 0);
	memset(&h, 0xee, sizeof(h));
	virtio_net_tx_hdr(&h, &b[0]);
	CHECK_MSG(h.flags == 0 && h.gso_type == 0 && h.csum_start == 0 && h.num_buffers == 0 &&
	          h.hdr_len == 0);
}
