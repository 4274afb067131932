/*
 * libFuzzer target: received virtio-net headers (virtio_net_rx_fill), the
 * bytes a device writes at the start of each receive buffer. Input:
 *   bytes 0-1  the used length (le16) the virtqueue accepted (<= the buffer)
 *   byte 2     bit 0: MRG_RXBUF negotiated; bits 1-7: buffers still due of a merged frame
 *   rest       the buffer's first bytes (the header and frame), zero-padded to 2048
 * Checked: a buffer taken is described inside itself (off + len <= used
 * length), a checksum field of a single-buffer frame lies inside the frame,
 * and the count of buffers still due never exceeds the ring.
 */
#include <stdlib.h>
#include <string.h>

#include "virtio_net.h"

#define CAP  2048
#define RING 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[CAP];

	if (size < 3)
		return 0;
	uint32_t len = (uint32_t)(data[0] | data[1] << 8) % (CAP + 1);
	uint16_t more = data[2] >> 1;
	bool mrg = data[2] & 1;
	memset(buf, 0, sizeof(buf));
	memcpy(buf, data + 3, size - 3 < CAP ? size - 3 : CAP);
	struct netdev_buf b = {.data = buf, .cap = CAP};
	uint16_t before = more;
	if (!virtio_net_rx_fill(&b, len, mrg, RING, &more))
		return 0;
	if ((uint32_t)b.off + b.len > len || more > RING)
		abort();
	if (before && (b.off != 0 || more != before - 1))
		abort(); /* a continuation buffer */
	if (!before && (b.flags & NETDEV_BUF_CSUM_NONE) && !(b.flags & NETDEV_BUF_MORE) &&
	    (uint32_t)b.csum_start + b.csum_offset + 2 > b.len)
		abort();
	if (!mrg && !before && more != 0)
		abort(); /* num_buffers is not read without MRG_RXBUF */
	return 0;
}
