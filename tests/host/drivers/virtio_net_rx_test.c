/* virtio-net receive headers (user/drivers/virtio_net_rx.c): what a device may write there, and
 * what it may not. */
#include <string.h>

#include "dtest.h"
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

DT(virtio_net_rx_plain_frame)
{
	struct netdev_buf b = buf(0, 1, 0, 0);
	uint16_t more = 0;

	DCHECK(virtio_net_rx_fill(&b, 12 + 60, true, 256, &more));
	DCHECK(b.off == 12 && b.len == 60 && b.flags == 0 && more == 0);
	b = buf(0, 0, 0, 0); /* num_buffers is not read without MRG_RXBUF */
	DCHECK(virtio_net_rx_fill(&b, 12 + 60, false, 256, &more) && more == 0);
}

DT(virtio_net_rx_checksum_flags)
{
	struct netdev_buf b = buf(VIRTIO_NET_HDR_F_DATA_VALID, 1, 0, 0);
	uint16_t more = 0;

	DCHECK(virtio_net_rx_fill(&b, 100, true, 256, &more) && b.flags == NETDEV_BUF_CSUM_VALID);
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 34, 16);
	DCHECK(virtio_net_rx_fill(&b, 12 + 60, true, 256, &more) &&
	       b.flags == NETDEV_BUF_CSUM_NONE);
	DCHECK(b.csum_start == 34 && b.csum_offset == 16);
}

DT(virtio_net_rx_merged_frame_marks_more)
{
	struct netdev_buf b = buf(0, 3, 0, 0), c;
	uint16_t more = 0;

	DCHECK(virtio_net_rx_fill(&b, 2048, true, 256, &more) && more == 2 &&
	       (b.flags & NETDEV_BUF_MORE));
	c = buf(0xff, 0, 0, 0); /* a continuation buffer: its first bytes are frame, not header */
	DCHECK(virtio_net_rx_fill(&c, 2048, true, 256, &more) && c.off == 0 && c.len == 2048 &&
	       c.flags == NETDEV_BUF_MORE);
	c = buf(0xff, 0, 0, 0);
	DCHECK(virtio_net_rx_fill(&c, 5, true, 256, &more) && c.len == 5 && c.flags == 0 &&
	           more == 0,
	       "the last one");
}

DT(virtio_net_rx_nonsense_from_the_device_is_refused)
{
	struct netdev_buf b;
	uint16_t more = 0;

	b = buf(0, 1, 0, 0);
	DCHECK(!virtio_net_rx_fill(&b, 11, true, 256, &more), "shorter than the header");
	b = buf(0, 0, 0, 0);
	DCHECK(!virtio_net_rx_fill(&b, 100, true, 256, &more), "num_buffers 0");
	b = buf(0, 257, 0, 0);
	DCHECK(!virtio_net_rx_fill(&b, 100, true, 256, &more), "num_buffers above the ring");
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 50, 9);
	DCHECK(!virtio_net_rx_fill(&b, 12 + 60, true, 256, &more), "checksum field past the frame");
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 0xffff, 0xffff);
	DCHECK(!virtio_net_rx_fill(&b, 12 + 60, true, 256, &more), "offsets that overflow 16 bits");
	b = buf(VIRTIO_NET_HDR_F_NEEDS_CSUM, 1, 56, 2);
	DCHECK(virtio_net_rx_fill(&b, 12 + 60, true, 256, &more),
	       "the last two bytes of the frame are fine");
	DCHECK(more == 0);
}
