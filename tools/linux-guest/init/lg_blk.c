/*
 * Block-device path length in the Linux guest: instructions per random
 * 4 KiB O_DIRECT read at queue depth 1 (pread loop) and 32 (Linux AIO,
 * io_submit/io_getevents through raw system calls: musl has no wrapper and
 * the guest has no liburing), beside nvme/ahci/virtio_blk.hallows.*
 * (tests/system/blk/bench.py, docs/benchmarks.md).
 *
 * The driver modules are not in the kernel image: /init loads every file
 * under /modules (sorted by name; the initramfs rule numbers them in
 * dependency order) with finit_module(2), waits for /sys/block/<dev>,
 * and makes the device node itself (no devtmpfs mount).
 *
 * Counting: the TSC delta over the reads (one tick per guest instruction
 * under -icount shift=0) less the virtual time the CPU spent idle (halted
 * while QEMU does the I/O), taken from the kernel's own idle accounting in
 * /proc/timer_list (idle_sleeptime + iowait_sleeptime, in kernel ns) and
 * converted to TSC ticks with the TSC/CLOCK_MONOTONIC ratio measured over
 * the same interval. The Hallows figure likewise leaves out the polls that
 * found nothing. The idle loop's own entry and exit code falls inside the
 * idle accounting and so is not counted for Linux (in Linux's favour).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "lg_bench.h"

#define LG_BLK_IO 4096u
#define LG_BLK_QD 32

/* Linux AIO ABI (include/uapi/linux/aio_abi.h, x86-64 little endian). */
struct lg_iocb {
	uint64_t aio_data;
	uint32_t aio_key;
	int32_t aio_rw_flags;
	uint16_t aio_lio_opcode;
	int16_t aio_reqprio;
	uint32_t aio_fildes;
	uint64_t aio_buf;
	uint64_t aio_nbytes;
	int64_t aio_offset;
	uint64_t aio_reserved2;
	uint32_t aio_flags;
	uint32_t aio_resfd;
};

struct lg_io_event {
	uint64_t data;
	uint64_t obj;
	int64_t res;
	int64_t res2;
};

#define LG_IOCB_CMD_PREAD 0

_Static_assert(sizeof(struct lg_iocb) == 64, "iocb ABI");
_Static_assert(sizeof(struct lg_io_event) == 32, "io_event ABI");

static int lg_modules_loaded;

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Mount /proc and /sys, finit_module every /modules/<file> in name order; 0 or -1. */
int lg_blk_prepare(const char *name)
{
	char *names[64];
	int n = 0, rc = 0;
	DIR *d;
	struct dirent *e;

	if (lg_modules_loaded)
		return 0;
	/* /proc (timer_list) and /sys (block devices); EBUSY: already there. */
	if (mount("proc", "/proc", "proc", 0, NULL) != 0 && errno != EBUSY)
		return lg_fail(name, "mount /proc");
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) != 0 && errno != EBUSY)
		return lg_fail(name, "mount /sys");
	d = opendir("/modules");
	if (!d)
		return lg_fail(name, "opendir /modules");
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == 64 || !(names[n] = strdup(e->d_name))) {
			if (n == 64)
				errno = E2BIG;
			rc = lg_fail(name, "module list");
			break;
		}
		n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(names[0]), cmp_names);
	for (int i = 0; i < n; i++) {
		if (rc != 0) {
			free(names[i]);
			continue;
		}
		char path[300];
		int fd;

		snprintf(path, sizeof(path), "/modules/%s", names[i]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
			printf("BENCH-ERROR %s finit_module %s: %s\n", name, names[i],
			       strerror(errno));
			rc = -1;
		}
		if (fd >= 0)
			close(fd);
		free(names[i]);
	}
	fflush(stdout);
	lg_modules_loaded = rc == 0;
	return rc;
}

/* Wait for /sys/block/<dev>, mknod /dev/<dev>, open it O_DIRECT. */
static int open_disk(const char *name, const char *dev)
{
	char path[128], buf[32];
	unsigned int maj, min;
	int fd = -1;

	snprintf(path, sizeof(path), "/sys/block/%s/dev", dev);
	for (int tries = 0; tries < 200 && fd < 0; tries++) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			nanosleep(&ts, NULL);
	}
	if (fd < 0)
		return lg_fail(name, path);
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return lg_fail(name, "read dev");
	buf[len] = '\0';
	if (sscanf(buf, "%u:%u", &maj, &min) != 2) {
		errno = EINVAL;
		return lg_fail(name, "parse dev");
	}
	snprintf(path, sizeof(path), "/dev/%s", dev);
	if (mknod(path, S_IFBLK | 0600, makedev(maj, min)) != 0 && errno != EEXIST)
		return lg_fail(name, "mknod");
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		return lg_fail(name, "open O_DIRECT");
	return fd;
}

/* idle_sleeptime + iowait_sleeptime of every CPU, kernel ns; 0 on error. */
static int idle_ns(uint64_t *out)
{
	static char text[65536];
	FILE *f = fopen("/proc/timer_list", "r");
	size_t len;
	uint64_t sum = 0;
	int seen = 0;

	if (!f)
		return -1;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	/* "  .%-15s: %Lu nsecs" (kernel/time/timer_list.c): "idle_sleeptime :". */
	for (char *p = text; (p = strstr(p, "_sleeptime")) != NULL; p++) {
		char *start = p, *v = p + 10;

		while (start > text && start[-1] != '.' && start[-1] != '\n')
			start--;
		if (strncmp(start, "idle_sleeptime", 14) != 0 &&
		    strncmp(start, "iowait_sleeptime", 16) != 0)
			continue;
		while (*v == ' ')
			v++;
		if (*v != ':')
			continue;
		sum += strtoull(v + 1, NULL, 10);
		seen++;
	}
	if (seen == 0)
		return -1;
	*out = sum;
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Local timer interrupts (the "LOC:" line of /proc/interrupts), all CPUs. */
static uint64_t timer_irqs(void)
{
	static char text[16384];
	FILE *f = fopen("/proc/interrupts", "r");
	size_t len;
	uint64_t sum = 0;
	char *p;

	if (!f)
		return 0;
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	p = strstr(text, "LOC:");
	if (!p)
		return 0;
	p += 4;
	for (;;) {
		char *end;
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p)
			break;
		sum += v;
		p = end;
	}
	return sum;
}

int lg_blk_take_mark(struct lg_blk_mark *m)
{
	if (idle_ns(&m->idle) != 0)
		return -1;
	m->timers = timer_irqs();
	m->mono = mono_ns();
	m->tsc = lg_rdtsc();
	return 0;
}

/* Random block number in [0, nblocks): a fixed LCG, same sequence every run. */
static uint64_t next_block(uint64_t *state, uint64_t nblocks)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return nblocks ? (*state >> 33) % nblocks : 0;
}

double lg_blk_busy(const struct lg_blk_mark *a, const struct lg_blk_mark *b)
{
	uint64_t tsc = b->tsc - a->tsc, mono = b->mono - a->mono, idle = b->idle - a->idle;
	double idle_ticks = mono ? (double)idle * (double)tsc / (double)mono : 0.0;

	return mono == 0 || idle_ticks > (double)tsc ? -1.0 : (double)tsc - idle_ticks;
}

static int report(const char *name, const struct lg_blk_mark *a, const struct lg_blk_mark *b,
                  long iters, int qd)
{
	uint64_t tsc = b->tsc - a->tsc, mono = b->mono - a->mono, idle = b->idle - a->idle;
	double ticks_per_ns = mono ? (double)tsc / (double)mono : 0.0;
	double idle_ticks = (double)idle * ticks_per_ns;
	char extra[300];

	if (mono == 0 || idle_ticks > (double)tsc) {
		errno = ERANGE;
		return lg_fail(name, "idle accounting exceeds the interval");
	}
	snprintf(extra, sizeof(extra),
	         "qd=%d io_bytes=%u tsc_per_io=%.1f idle_ns_per_io=%.1f tsc_per_ns=%.4f "
	         "timer_irqs_per_io=%.3f idle_ns_total=%llu",
	         qd, LG_BLK_IO, (double)tsc / (double)iters, (double)idle / (double)iters,
	         ticks_per_ns, (double)(b->timers - a->timers) / (double)iters,
	         (unsigned long long)idle);
	lg_report(name, ((double)tsc - idle_ticks) / (double)iters, iters, extra);
	return 0;
}

static int disk_blocks(const char *name, int fd, uint64_t *nblocks)
{
	off_t size = lseek(fd, 0, SEEK_END);

	if (size < (off_t)LG_BLK_IO)
		return lg_fail(name, "disk size");
	*nblocks = (uint64_t)size / LG_BLK_IO;
	return 0;
}

static int blk_qd1(const char *name, const char *dev, long iters)
{
	struct lg_blk_mark a = {0}, b;
	uint64_t nblocks = 0, rng = 1;
	void *buf;
	int fd;

	if (lg_blk_prepare(name) != 0 || (fd = open_disk(name, dev)) < 0)
		return -1;
	if (disk_blocks(name, fd, &nblocks) != 0 ||
	    posix_memalign(&buf, LG_BLK_IO, LG_BLK_IO) != 0) {
		close(fd);
		return lg_fail(name, "setup");
	}
	/* 64 warm-up reads, then the measured ones. */
	for (long i = 0; i < 64 + iters; i++) {
		off_t off = (off_t)(next_block(&rng, nblocks) * LG_BLK_IO);

		if (pread(fd, buf, LG_BLK_IO, off) != (ssize_t)LG_BLK_IO) {
			free(buf);
			close(fd);
			return lg_fail(name, "pread");
		}
		if (i == 63 && lg_blk_take_mark(&a) != 0) {
			free(buf);
			close(fd);
			return lg_fail(name, "/proc/timer_list");
		}
	}
	int rc = lg_blk_take_mark(&b) == 0 ? report(name, &a, &b, iters, 1)
	                                   : lg_fail(name, "/proc/timer_list");
	free(buf);
	close(fd);
	return rc;
}

/* Submit one read on slot i; 0 or -1. */
static int aio_one(unsigned long ctx, struct lg_iocb *cb, int fd, void *buf, uint64_t *rng,
                   uint64_t nblocks, uint64_t slot)
{
	struct lg_iocb *list[1] = {cb};

	memset(cb, 0, sizeof(*cb));
	cb->aio_data = slot;
	cb->aio_lio_opcode = LG_IOCB_CMD_PREAD;
	cb->aio_fildes = (uint32_t)fd;
	cb->aio_buf = (uint64_t)(uintptr_t)buf;
	cb->aio_nbytes = LG_BLK_IO;
	cb->aio_offset = (int64_t)(next_block(rng, nblocks) * LG_BLK_IO);
	return syscall(SYS_io_submit, ctx, 1L, list) == 1 ? 0 : -1;
}

/* Keep LG_BLK_QD reads in flight until total completions; 0 or -1. */
static int aio_run(const char *name, unsigned long ctx, int fd, char *bufs, uint64_t *rng,
                   uint64_t nblocks, long total, int qd)
{
	static struct lg_iocb cbs[LG_BLK_QD];
	struct lg_io_event ev[LG_BLK_QD];
	long submitted = 0, done = 0;

	for (; submitted < qd && submitted < total; submitted++)
		if (aio_one(ctx, &cbs[submitted], fd, bufs + submitted * LG_BLK_IO, rng, nblocks,
		            (uint64_t)submitted) != 0)
			return lg_fail(name, "io_submit");
	while (done < total) {
		long n = syscall(SYS_io_getevents, ctx, 1L, (long)LG_BLK_QD, ev, NULL);
		if (n <= 0)
			return lg_fail(name, "io_getevents");
		for (long i = 0; i < n; i++) {
			uint64_t slot = ev[i].data;
			if (slot >= LG_BLK_QD || ev[i].res != (int64_t)LG_BLK_IO) {
				errno = ev[i].res < 0 ? (int)-ev[i].res : EIO;
				return lg_fail(name, "aio read result");
			}
			done++;
			if (submitted < total) {
				if (aio_one(ctx, &cbs[slot], fd, bufs + slot * LG_BLK_IO, rng,
				            nblocks, slot) != 0)
					return lg_fail(name, "io_submit");
				submitted++;
			}
		}
	}
	return 0;
}

static int blk_aio(const char *name, const char *dev, long iters, int qd)
{
	struct lg_blk_mark a, b;
	uint64_t nblocks = 0, rng = 1;
	unsigned long ctx = 0;
	void *bufs;
	int fd, rc = -1;

	if (lg_blk_prepare(name) != 0 || (fd = open_disk(name, dev)) < 0)
		return -1;
	if (disk_blocks(name, fd, &nblocks) != 0 ||
	    posix_memalign(&bufs, LG_BLK_IO, (size_t)LG_BLK_QD * LG_BLK_IO) != 0) {
		close(fd);
		return lg_fail(name, "setup");
	}
	if (syscall(SYS_io_setup, (long)LG_BLK_QD, &ctx) != 0) {
		rc = lg_fail(name, "io_setup");
	} else if (aio_run(name, ctx, fd, bufs, &rng, nblocks, 64, qd) == 0) {
		if (lg_blk_take_mark(&a) != 0)
			rc = lg_fail(name, "/proc/timer_list");
		else if (aio_run(name, ctx, fd, bufs, &rng, nblocks, iters, qd) == 0)
			rc = lg_blk_take_mark(&b) == 0 ? report(name, &a, &b, iters, qd)
			                               : lg_fail(name, "/proc/timer_list");
	}
	if (ctx)
		syscall(SYS_io_destroy, ctx);
	free(bufs);
	close(fd);
	return rc;
}

int lg_bench_nvme_qd1(long iters)
{
	return blk_qd1("nvme.linux.read_4k_qd1_instructions", "nvme0n1", iters);
}

int lg_bench_nvme_qd32(long iters)
{
	return blk_aio("nvme.linux.read_4k_qd32_instructions", "nvme0n1", iters, LG_BLK_QD);
}

int lg_bench_vblk_qd1(long iters)
{
	return blk_qd1("virtio_blk.linux.read_4k_qd1_instructions", "vda", iters);
}

int lg_bench_vblk_qd32(long iters)
{
	return blk_aio("virtio_blk.linux.read_4k_qd32_instructions", "vda", iters, LG_BLK_QD);
}

int lg_bench_ahci_qd1(long iters)
{
	return blk_qd1("ahci.linux.read_4k_qd1_instructions", "sda", iters);
}

int lg_bench_ahci_qd32(long iters)
{
	return blk_aio("ahci.linux.read_4k_qd32_instructions", "sda", iters, LG_BLK_QD);
}
