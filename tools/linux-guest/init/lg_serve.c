/*
 * The Linux side of `make bench-serve-linux` (tests/system/serve/bench_linux.py):
 * the same broker (build/linux-guest/hallows-broker, the hosted/ build linked
 * statically) on the NVMe disk as a raw block device (O_DIRECT), and busybox
 * httpd for the web comparison, served on eth0 (virtio-net on a TAP in the
 * bench's namespace) at 198.18.0.2/24.
 *
 *   serve    load /modules/<*> (nvme, virtio_net and their dependencies),
 *            mknod /dev/nvme0n1, eth0 198.18.0.2/24 up, start
 *              /broker --listen 198.18.0.2:9092 --data /dev/nvme0n1 ...
 *              /bin/busybox httpd -f -p 80 -h /www
 *              a TCP discard service on port 9 (a child of this init: reads
 *              each connection to its end, one at a time, as webd's)
 *            wait until all accept connections, print SERVE-READY, then
 *            answer lines on the console (the serial port):
 *              mark   ->  MARK tsc=<n> mono_ns=<n> idle_ns=<n> timers=<n>
 *              stop   ->  stop them, SERVE-STOPPED, return
 *
 * The host counts the guest instructions of a load phase as the TSC delta
 * between two marks less the idle time (as lg_blk.c: the kernel's NO_HZ
 * accounting, converted with the TSC/CLOCK_MONOTONIC ratio of the interval;
 * under -icount shift=0 one TSC tick is one guest instruction while the
 * CPU runs). Reading a console line costs the guest a few thousand
 * instructions per mark, counted in the phase it closes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lg_bench.h"

#define SERVE_ADDR "198.18.0.2"
#define SERVE_MASK "255.255.255.0"

static const char *const serve_name = "serve";

/* Wait up to 20 s for a path to exist. */
static int wait_path(const char *path)
{
	struct stat st;

	for (int i = 0; i < 400; i++) {
		if (stat(path, &st) == 0)
			return 0;
		usleep(50000);
	}
	errno = ENOENT;
	return -1;
}

static int make_disk_node(void)
{
	char buf[32];
	unsigned maj, min;
	int fd = open("/sys/block/nvme0n1/dev", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "%u:%u", &maj, &min) != 2) {
		errno = EINVAL;
		return -1;
	}
	if (mknod("/dev/nvme0n1", S_IFBLK | 0600, makedev(maj, min)) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int set_addr(int fd, const char *ifname, unsigned long req, const char *addr)
{
	struct ifreq ifr;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
		return -1;
	return ioctl(fd, req, &ifr);
}

static int link_up(int fd, const char *ifname)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) != 0)
		return -1;
	ifr.ifr_flags |= IFF_UP;
	return ioctl(fd, SIOCSIFFLAGS, &ifr);
}

static int net_up(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	if (link_up(fd, "lo") == 0 && set_addr(fd, "eth0", SIOCSIFADDR, SERVE_ADDR) == 0 &&
	    set_addr(fd, "eth0", SIOCSIFNETMASK, SERVE_MASK) == 0 && link_up(fd, "eth0") == 0)
		rc = 0;
	close(fd);
	return rc;
}

static pid_t spawn(char *const argv[])
{
	pid_t p = fork();

	if (p == 0) {
		execv(argv[0], argv);
		printf("BENCH-ERROR serve exec %s: %s\n", argv[0], strerror(errno));
		fflush(stdout);
		_exit(127);
	}
	return p;
}

/*
 * The discard service (RFC 863) of the raw-stream figure: a forked child
 * that reads every connection to its end into a scratch buffer. Returns the
 * child's pid, or -1.
 */
static pid_t spawn_discard(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t p;

	if (ls < 0)
		return -1;
	inet_pton(AF_INET, SERVE_ADDR, &sin.sin_addr);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(ls, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(ls, 4) != 0) {
		close(ls);
		return -1;
	}
	p = fork();
	if (p == 0) {
		static char buf[1 << 16];
		for (;;) {
			int c = accept(ls, NULL, NULL);
			if (c < 0)
				continue;
			while (read(c, buf, sizeof(buf)) > 0)
				;
			close(c);
		}
	}
	close(ls);
	return p;
}

/* Wait up to 30 s until a TCP connect to SERVE_ADDR:port succeeds. */
static int wait_port(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

	inet_pton(AF_INET, SERVE_ADDR, &sin.sin_addr);
	for (int i = 0; i < 300; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int rc = fd >= 0 ? connect(fd, (struct sockaddr *)&sin, sizeof(sin)) : -1;

		if (fd >= 0)
			close(fd);
		if (rc == 0)
			return 0;
		usleep(100000);
	}
	return -1;
}

int lg_bench_serve(long iters)
{
	static char endpoint[] = SERVE_ADDR ":9092";
	/* one event loop, as brokerd on Hallows */
	char *broker[] = {"/broker", "--listen",   endpoint,       "--advertise",
	                  endpoint,  "--data",     "/dev/nvme0n1", "--partitions",
	                  "4",       "--flush-ms", "1000",         "--threads",
	                  "1",       NULL};
	char *httpd[] = {"/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www", NULL};
	char line[64];
	pid_t pb, ph, pd;

	(void)iters;
	if (lg_blk_prepare(serve_name) != 0)
		return -1;
	if (wait_path("/sys/block/nvme0n1/dev") != 0 || make_disk_node() != 0)
		return lg_fail(serve_name, "nvme0n1");
	if (wait_path("/sys/class/net/eth0") != 0 || net_up() != 0)
		return lg_fail(serve_name, "eth0 " SERVE_ADDR);
	signal(SIGPIPE, SIG_IGN);
	fflush(stdout);
	pb = spawn(broker);
	ph = spawn(httpd);
	pd = spawn_discard(9);
	if (pb < 0 || ph < 0 || pd < 0 || wait_port(9092) != 0 || wait_port(80) != 0) {
		if (pb > 0)
			kill(pb, SIGKILL);
		if (ph > 0)
			kill(ph, SIGKILL);
		if (pd > 0)
			kill(pd, SIGKILL);
		return lg_fail(serve_name, "broker, httpd or discard did not start");
	}
	printf("SERVE-READY\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "mark", 4) == 0) {
			struct lg_blk_mark m;

			if (lg_blk_take_mark(&m) != 0) {
				printf("BENCH-ERROR serve mark: /proc/timer_list\n");
			} else {
				printf("MARK tsc=%llu mono_ns=%llu idle_ns=%llu timers=%llu\n",
				       (unsigned long long)m.tsc, (unsigned long long)m.mono,
				       (unsigned long long)m.idle, (unsigned long long)m.timers);
			}
			fflush(stdout);
		} else if (strncmp(line, "stop", 4) == 0) {
			break;
		}
	}
	kill(pb, SIGTERM);
	kill(ph, SIGTERM);
	kill(pd, SIGKILL);
	waitpid(pb, NULL, 0);
	waitpid(ph, NULL, 0);
	waitpid(pd, NULL, 0);
	printf("SERVE-STOPPED\n");
	fflush(stdout);
	return 0;
}
