/*
 * net-impair: an impairing Ethernet forwarder between two TAP devices, for
 * hosts whose kernel has no sch_netem. Each TAP may live in its own network
 * namespace; the forwarder holds the user side of both and passes every
 * frame across, dropping, duplicating, delaying and reordering as told,
 * with a seeded PRNG per direction so a run's decisions are reproducible.
 *
 *   net-impair --a [NS:]TAP --b [NS:]TAP [--seed N] [--loss PCT]
 *              [--reorder PCT] [--dup PCT] [--delay-us US]
 *
 * Semantics, per frame and direction (netem's meanings):
 *   loss     dropped with probability PCT
 *   delay    held US microseconds (a FIFO delay line)
 *   reorder  sent at once, skipping the delay line, so it overtakes the
 *            frames being delayed (needs a delay to have any effect)
 *   dup      sent a second time right after the first copy
 * SIGINT/SIGTERM print the counters per direction and exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SLOTS     4096 /* frames in each delay line */
#define FRAME_MAX 2048

struct slot {
	uint64_t due_ns;
	uint32_t len;
	uint8_t b[FRAME_MAX];
};

/* One direction: frames read from in_fd go to out_fd. */
struct dir {
	int in_fd, out_fd;
	uint64_t rng;
	struct slot *line; /* FIFO delay line (the delay is constant) */
	unsigned head, n;
	uint64_t in, out, lost, duped, reordered, overflow;
};

struct opts {
	uint32_t loss_ppm, reorder_ppm, dup_ppm;
	uint64_t delay_ns;
	uint64_t seed;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* splitmix64: seeds cleanly from any value, including small ones. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int chance(struct dir *d, uint32_t ppm)
{
	return ppm && rng_next(&d->rng) % 1000000u < ppm;
}

/* "12.5" -> 125000 parts per million; -1 when not a percentage. */
static long parse_pct(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 100)
		return -1;
	return (long)(v * 10000.0 + 0.5);
}

/* Enter namespace ns (a name under /var/run/netns) unless NULL. */
static int enter_netns(const char *ns)
{
	char path[256];
	int fd, r;

	if (!ns)
		return 0;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r;
}

/* Attach to the existing TAP "[NS:]NAME": plain frames, no virtio-net
 * header and no offloads, so the kernel hands over MTU-sized frames with
 * complete checksums. Returns a non-blocking fd or -1. */
static int tap_open(const char *spec)
{
	char buf[128], *name = buf, *ns = NULL, *colon;
	struct ifreq ifr;
	int fd;

	snprintf(buf, sizeof(buf), "%s", spec);
	colon = strchr(buf, ':');
	if (colon) {
		*colon = 0;
		ns = buf;
		name = colon + 1;
	}
	if (enter_netns(ns) < 0) {
		fprintf(stderr, "net-impair: namespace %s: %s\n", ns, strerror(errno));
		return -1;
	}
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (strlen(name) >= IFNAMSIZ) {
		fprintf(stderr, "net-impair: TAP name too long: %s\n", name);
		close(fd);
		return -1;
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "net-impair: TAP %s: %s\n", spec, strerror(errno));
		close(fd);
		return -1;
	}
	(void)ioctl(fd, TUNSETOFFLOAD, 0);
	return fd;
}

static void send_frame(struct dir *d, const uint8_t *b, uint32_t len)
{
	if (write(d->out_fd, b, len) == (ssize_t)len)
		d->out++;
}

/* Queue a frame on the delay line; a full line drops (like a queue). */
static void delay_frame(struct dir *d, const uint8_t *b, uint32_t len, uint64_t due)
{
	struct slot *s;

	if (d->n == SLOTS) {
		d->overflow++;
		return;
	}
	s = &d->line[(d->head + d->n) % SLOTS];
	s->due_ns = due;
	s->len = len;
	memcpy(s->b, b, len);
	d->n++;
}

/* Read every frame waiting on d->in_fd and apply the impairments. */
static void pump_in(struct dir *d, const struct opts *o)
{
	uint8_t b[FRAME_MAX];
	ssize_t r;

	while ((r = read(d->in_fd, b, sizeof(b))) > 0) {
		uint32_t len = (uint32_t)r;
		unsigned copies = 1;

		d->in++;
		if (chance(d, o->loss_ppm)) {
			d->lost++;
			continue;
		}
		if (chance(d, o->dup_ppm)) {
			d->duped++;
			copies = 2;
		}
		if (o->delay_ns && chance(d, o->reorder_ppm)) {
			d->reordered++;
			while (copies--)
				send_frame(d, b, len);
			continue;
		}
		while (copies--) {
			if (o->delay_ns)
				delay_frame(d, b, len, now_ns() + o->delay_ns);
			else
				send_frame(d, b, len);
		}
	}
}

/* Send the frames whose delay is over; returns ns until the next one is
 * due, or -1 when the line is empty. */
static int64_t pump_out(struct dir *d)
{
	uint64_t t = now_ns();

	while (d->n) {
		struct slot *s = &d->line[d->head];

		if (s->due_ns > t)
			return (int64_t)(s->due_ns - t);
		send_frame(d, s->b, s->len);
		d->head = (d->head + 1) % SLOTS;
		d->n--;
	}
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: net-impair --a [NS:]TAP --b [NS:]TAP [--seed N] "
	                "[--loss PCT] [--reorder PCT] [--dup PCT] [--delay-us US]\n");
	exit(2);
}

static void parse_args(int argc, char **argv, const char **a, const char **b, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		long pct = v ? parse_pct(v) : -1;

		if (!v)
			usage();
		i++;
		if (!strcmp(k, "--a"))
			*a = v;
		else if (!strcmp(k, "--b"))
			*b = v;
		else if (!strcmp(k, "--seed"))
			o->seed = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--delay-us"))
			o->delay_ns = strtoull(v, NULL, 0) * 1000ull;
		else if (pct < 0)
			usage();
		else if (!strcmp(k, "--loss"))
			o->loss_ppm = (uint32_t)pct;
		else if (!strcmp(k, "--reorder"))
			o->reorder_ppm = (uint32_t)pct;
		else if (!strcmp(k, "--dup"))
			o->dup_ppm = (uint32_t)pct;
		else
			usage();
	}
	if (!*a || !*b)
		usage();
}

int main(int argc, char **argv)
{
	const char *a = NULL, *b = NULL;
	struct opts o = {.seed = 1};
	struct dir d[2];
	int fa, fb;

	parse_args(argc, argv, &a, &b, &o);
	fa = tap_open(a);
	fb = fa < 0 ? -1 : tap_open(b);
	if (fa < 0 || fb < 0)
		return 1;
	memset(d, 0, sizeof(d));
	d[0].in_fd = d[1].out_fd = fa;
	d[0].out_fd = d[1].in_fd = fb;
	for (int i = 0; i < 2; i++) {
		d[i].rng = o.seed * 2 + (uint64_t)i;
		d[i].line = calloc(SLOTS, sizeof(struct slot));
		if (!d[i].line) {
			free(d[0].line); /* d[1].line is NULL here when i is 1 */
			return 1;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (!stop) {
		struct pollfd p[2] = {{.fd = fa, .events = POLLIN}, {.fd = fb, .events = POLLIN}};
		int64_t w0 = pump_out(&d[0]), w1 = pump_out(&d[1]), w = 100000000;
		struct timespec ts;

		if (w0 >= 0 && w0 < w)
			w = w0;
		if (w1 >= 0 && w1 < w)
			w = w1;
		ts.tv_sec = w / 1000000000;
		ts.tv_nsec = w % 1000000000;
		if (ppoll(p, 2, &ts, NULL) < 0 && errno != EINTR)
			break;
		pump_in(&d[0], &o);
		pump_in(&d[1], &o);
	}
	for (int i = 0; i < 2; i++)
		fprintf(stderr,
		        "net-impair %s->%s: in %llu out %llu lost %llu duplicated %llu "
		        "reordered %llu overflow %llu\n",
		        i ? b : a, i ? a : b, (unsigned long long)d[i].in,
		        (unsigned long long)d[i].out, (unsigned long long)d[i].lost,
		        (unsigned long long)d[i].duped, (unsigned long long)d[i].reordered,
		        (unsigned long long)d[i].overflow);
	free(d[0].line);
	free(d[1].line);
	return 0;
}
