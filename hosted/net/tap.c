/* TAP device (IFF_TAP | IFF_NO_PI): raw Ethernet frames on an fd. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "floo/floo_vnet.h"
#include "hosted_net.h"

/* Floo's header layout is the kernel's (virtio 1.x, 5.1.6). */
_Static_assert(sizeof(struct virtio_net_hdr) == FLOO_VNET_HDR_LEN, "virtio-net header size");

/* With a virtio-net header on every frame the kernel takes frames whose
 * TCP/UDP checksum we left partial, and hands us frames with partial or
 * already-verified checksums (TUN_F_CSUM): checksum offload both ways. */
static bool tap_offload(int fd)
{
	int sz = (int)FLOO_VNET_HDR_LEN;

	return ioctl(fd, TUNSETVNETHDRSZ, &sz) == 0 && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM) == 0;
}

/* Open /dev/net/tun and attach to name with flags; fd or -1. */
static int tap_attach(const char *name, short flags)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = flags;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ((flags & IFF_VNET_HDR) && !tap_offload(fd))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	/* Offload settings outlive an attachment: without headers we must
	 * get complete checksums, whatever the last user asked for. */
	if (!(flags & IFF_VNET_HDR))
		(void)ioctl(fd, TUNSETOFFLOAD, 0);
	return fd;
}

/* Attach to (or create) the TAP interface; non-blocking fd. The stack's
 * MAC is derived from the name so it differs from the kernel side's.
 * *offload: in, wanted; out, granted (virtio-net headers in use). */
int hosted_tap_open(const char *name, uint8_t mac[6], bool *offload)
{
	uint32_t h = 2166136261u;
	int fd = -1;

	if (*offload)
		fd = tap_attach(name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR);
	if (fd < 0) {
		*offload = false;
		fd = tap_attach(name, IFF_TAP | IFF_NO_PI);
	}
	if (fd < 0)
		return -1;
	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x46;
	mac[2] = (uint8_t)(h >> 24);
	mac[3] = (uint8_t)(h >> 16);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
	return fd;
}
