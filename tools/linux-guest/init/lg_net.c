/*
 * NIC path length in the Linux guest (virtio-net, e1000, e1000e): a raw
 * AF_PACKET socket on eth0 sends 60-byte frames (EtherType 0x88b5, as
 * user/apps/netecho's bench) to a QEMU -netdev socket looped back to
 * itself; beside netdrv.hallows.<dev>_{tx_batch1,rx}_instructions.
 *
 * Three figures per device, each the TSC across a phase less the idle time
 * (kernel accounting, as lg_blk.c), per packet:
 *   tx_rx  frames to our own MAC, each sent and received back before the
 *          next: sendto (socket, qdisc, start_xmit, lazy reclaim),
 *          interrupt, NAPI poll, packet-socket delivery, wake-up, recv()
 *   tx     frames to another station's MAC (02:00:00:00:00:01), one
 *          sendto each: the device model drops them on the way back
 *          (receive filter), so this is sending alone, completions and
 *          their interrupts included
 *   rx     tx_rx less tx: receiving one frame, from the interrupt to
 *          recv() returning it (derived: Linux gives no clean window
 *          around receiving alone)
 * A full system path, application to application; the Hallows figures
 * count driver calls only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lg_bench.h"

#define LG_NET_FRAME     60
#define LG_NET_ETHERTYPE 0x88b5

/* eth0 up, a raw socket bound to it; its MAC in mac. The socket, or -1 after lg_fail. */
static int lg_net_open(const char *name, struct sockaddr_ll *sll, unsigned char mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_PACKET, SOCK_RAW, htons(LG_NET_ETHERTYPE));

	if (fd < 0)
		return lg_fail(name, "socket");
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	for (int tries = 0; tries < 200 && ioctl(fd, SIOCGIFINDEX, &ifr) != 0; tries++)
		usleep(50000);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) != 0) {
		close(fd);
		return lg_fail(name, "no eth0");
	}
	int ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) != 0 ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
		close(fd);
		return lg_fail(name, "eth0 up");
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	memset(sll, 0, sizeof(*sll));
	sll->sll_family = AF_PACKET;
	sll->sll_protocol = htons(LG_NET_ETHERTYPE);
	sll->sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)sll, sizeof(*sll)) != 0) {
		close(fd);
		return lg_fail(name, "bind");
	}
	/* The e1000 models hold received frames back after the link comes up; wait for it. */
	for (int tries = 0; tries < 100; tries++) {
		if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_RUNNING))
			break;
		usleep(50000);
	}
	return fd;
}

static long lg_net_full; /* sendto refused with ENOBUFS (a full queue) and tried again */

/* Send frame i to dst and, if back, wait for it to return. 0 or -1. */
static int lg_net_one(int fd, struct sockaddr_ll *sll, unsigned char *frame, long i, int back)
{
	unsigned char in[2048];
	ssize_t n;

	frame[14] = (unsigned char)i;
	frame[15] = (unsigned char)(i >> 8);
	do
		n = sendto(fd, frame, LG_NET_FRAME, 0, (struct sockaddr *)sll, sizeof(*sll));
	while (n < 0 && errno == ENOBUFS && ++lg_net_full); /* the queue full: try again */
	if (n != LG_NET_FRAME)
		return -1;
	if (!back)
		return 0;
	do
		n = recv(fd, in, sizeof(in), 0);
	while (n >= 16 && (in[14] != frame[14] || in[15] != frame[15]));
	return n >= 16 ? 0 : -1;
}

/* One phase of iters frames after 64 warm-up ones: busy instructions per frame, or < 0. */
static double lg_net_phase(const char *name, int fd, struct sockaddr_ll *sll, unsigned char *frame,
                           long iters, int back)
{
	struct lg_blk_mark a, b;

	for (long i = 0; i < 64 + iters; i++) {
		if (i == 64 && lg_blk_take_mark(&a) != 0)
			return lg_fail(name, "/proc/timer_list");
		if (lg_net_one(fd, sll, frame, i, back) != 0)
			return lg_fail(name, back ? "sendto/recv" : "sendto");
	}
	if (lg_blk_take_mark(&b) != 0)
		return lg_fail(name, "/proc/timer_list");
	double busy = lg_blk_busy(&a, &b);
	return busy < 0 ? lg_fail(name, "idle accounting") : busy / (double)iters;
}

/* dev names the figures: netdrv.linux.<dev>_{tx_rx,tx,rx}_instructions. */
static int lg_bench_net(const char *dev, long iters)
{
	char name[80], tx_name[80], rx_name[80], extra[200];
	unsigned char frame[LG_NET_FRAME], mac[6];
	static const unsigned char other[6] = {0x02, 0, 0, 0, 0, 0x01};
	struct sockaddr_ll sll;

	snprintf(name, sizeof(name), "netdrv.linux.%s_tx_rx_instructions", dev);
	snprintf(tx_name, sizeof(tx_name), "netdrv.linux.%s_tx_instructions", dev);
	snprintf(rx_name, sizeof(rx_name), "netdrv.linux.%s_rx_instructions", dev);
	if (lg_blk_prepare(name) != 0)
		return -1;
	int fd = lg_net_open(name, &sll, mac);
	if (fd < 0)
		return -1;
	memset(frame, 0, sizeof(frame));
	memcpy(frame, mac, 6); /* to ourselves: the loop brings it back */
	memcpy(frame + 6, mac, 6);
	frame[12] = LG_NET_ETHERTYPE >> 8;
	frame[13] = LG_NET_ETHERTYPE & 0xff;
	double both = lg_net_phase(name, fd, &sll, frame, iters, 1);
	memcpy(frame, other, 6); /* to another station: dropped by the device on the way back */
	double tx = both < 0 ? -1 : lg_net_phase(tx_name, fd, &sll, frame, iters, 0);
	close(fd);
	if (both < 0 || tx < 0)
		return -1;
	snprintf(extra, sizeof(extra), "frame=%d", LG_NET_FRAME);
	lg_report(name, both, iters, extra);
	snprintf(extra, sizeof(extra), "frame=%d dst=02:00:00:00:00:01 looped_back=no enobufs=%ld",
	         LG_NET_FRAME, lg_net_full);
	lg_report(tx_name, tx, iters, extra);
	snprintf(extra, sizeof(extra), "frame=%d derived=tx_rx-tx", LG_NET_FRAME);
	lg_report(rx_name, both - tx, iters, extra);
	return 0;
}

int lg_bench_vnet(long iters)
{
	return lg_bench_net("virtio", iters);
}

int lg_bench_e1000(long iters)
{
	return lg_bench_net("e1000", iters);
}

int lg_bench_e1000e(long iters)
{
	return lg_bench_net("e1000e", iters);
}
