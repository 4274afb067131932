/*
 * virtio-net path length in the Linux guest: a raw AF_PACKET socket on
 * eth0 sends 60-byte frames (EtherType 0x88b5, as user/apps/netecho's
 * bench) to a QEMU -netdev socket looped back to itself, so each frame
 * comes back; beside netdrv.hallows.virtio_{tx_batch1,rx}_instructions.
 *
 * Per packet sent and received back: the TSC across the whole
 * send-then-receive round less the idle time (kernel accounting, as
 * lg_blk.c): sendto (socket, qdisc, start_xmit, lazy reclaim), interrupt,
 * NAPI poll, packet-socket delivery, wake-up and recv(). A full system
 * path, application to application; the Hallows figures count driver
 * calls only (compared with their tx + rx sum).
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

int lg_bench_vnet(long iters)
{
	static const char *name = "netdrv.linux.virtio_tx_rx_instructions";
	struct sockaddr_ll sll;
	struct ifreq ifr;
	unsigned char frame[LG_NET_FRAME], in[2048];
	struct lg_blk_mark a, b;
	uint64_t tx = 0;
	int fd, ifindex;
	char extra[200];

	if (lg_blk_prepare(name) != 0)
		return -1;
	fd = socket(AF_PACKET, SOCK_RAW, htons(LG_NET_ETHERTYPE));
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
	ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)) != 0 ||
	    ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
		close(fd);
		return lg_fail(name, "eth0 up");
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(LG_NET_ETHERTYPE);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
		close(fd);
		return lg_fail(name, "bind");
	}
	memset(frame, 0, sizeof(frame));
	memcpy(frame, ifr.ifr_hwaddr.sa_data, 6); /* to ourselves: the loop brings it back */
	memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
	frame[12] = LG_NET_ETHERTYPE >> 8;
	frame[13] = LG_NET_ETHERTYPE & 0xff;
	for (long i = 0; i < 64 + iters; i++) {
		uint64_t t0, t1;
		ssize_t n;

		if (i == 64 && lg_blk_take_mark(&a) != 0) {
			close(fd);
			return lg_fail(name, "/proc/timer_list");
		}
		frame[14] = (unsigned char)i;
		t0 = lg_rdtsc();
		n = sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&sll, sizeof(sll));
		t1 = lg_rdtsc();
		if (n != (ssize_t)sizeof(frame)) {
			close(fd);
			return lg_fail(name, "sendto");
		}
		if (i >= 64)
			tx += t1 - t0;
		do
			n = recv(fd, in, sizeof(in), 0);
		while (n >= 15 && in[14] != (unsigned char)i);
		if (n < 15) {
			close(fd);
			return lg_fail(name, "recv");
		}
	}
	if (lg_blk_take_mark(&b) != 0) {
		close(fd);
		return lg_fail(name, "/proc/timer_list");
	}
	close(fd);
	double busy = lg_blk_busy(&a, &b);
	if (busy < 0)
		return lg_fail(name, "idle accounting");
	/* The sendto window sometimes holds the frame's own return (interrupt,
	 * NAPI, delivery) and sometimes not, depending on host timing: only the
	 * sum is stable, so that is the figure; the sendto share is informative. */
	snprintf(extra, sizeof(extra), "frame=%d sendto_tsc_per_packet=%.1f", LG_NET_FRAME,
	         (double)tx / (double)iters);
	lg_report(name, busy / (double)iters, iters, extra);
	return 0;
}
