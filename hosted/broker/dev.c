/* Store platform on Linux: a regular file or block device accessed with
 * pread/pwrite/fdatasync, O_DIRECT when the filesystem accepts it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hosted.h"

void *host_alloc(void *ctx, size_t n)
{
	void *p = NULL;

	(void)ctx;
	if (n >= STORE_BLOCK) {
		if (posix_memalign(&p, STORE_BLOCK, n))
			return NULL;
		return p;
	}
	return malloc(n ? n : 1);
}

void host_free(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

uint64_t host_now_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wall clock, ms since the Unix epoch (time-based retention). */
uint64_t host_epoch_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wall clock mixed with the pid: only used to make the store id differ
 * between formats. */
static uint64_t host_wall_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000) ^ (uint64_t)getpid()
	                                                                           << 20;
}

void host_log(void *ctx, const char *what, const char *detail, long long v)
{
	(void)ctx;
	fprintf(stderr, "hallows-broker: %s%s%s %lld\n", what, *detail ? " " : "", detail, v);
}

/* Whole blocks at blk, retried after short transfers and EINTR. */
static int dev_io(struct host_dev *d, uint64_t blk, void *buf, uint32_t count, bool write)
{
	size_t n = (size_t)count * STORE_BLOCK, done = 0;

	if (blk + count > d->blocks)
		return -1;
	while (done < n) {
		off_t off = (off_t)((d->base + blk) * STORE_BLOCK + done);
		ssize_t r = write ? pwrite(d->fd, (char *)buf + done, n - done, off)
		                  : pread(d->fd, (char *)buf + done, n - done, off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return 0;
}

static int dev_read(void *ctx, uint64_t blk, void *buf, uint32_t count)
{
	return dev_io(ctx, blk, buf, count, false);
}

static int dev_write(void *ctx, uint64_t blk, const void *buf, uint32_t count)
{
	return dev_io(ctx, blk, (void *)buf, count, true);
}

static int dev_flush(void *ctx)
{
	struct host_dev *d = ctx;

	return fdatasync(d->fd) ? -1 : 0;
}

/* Flusher thread: one fdatasync at a time, requested by dev_flush_start
 * from the event loop, result reported through an eventfd. One per
 * device region (per event loop): each loop's store flushes on its own. */
static void *flusher_main(void *arg)
{
	struct host_dev *d = arg;
	uint64_t one = 1;

	pthread_setname_np(pthread_self(), "flusher");
	pthread_mutex_lock(&d->fl_mu);
	for (;;) {
		while (!d->fl_req && !d->fl_quit)
			pthread_cond_wait(&d->fl_cv, &d->fl_mu);
		if (d->fl_quit)
			break;
		d->fl_req = false;
		pthread_mutex_unlock(&d->fl_mu);
		atomic_store(&d->fl_result, fdatasync(d->fd) ? -1 : 0);
		if (write(d->done_fd, &one, sizeof(one)) != sizeof(one))
			perror("hallows-broker: flusher eventfd");
		pthread_mutex_lock(&d->fl_mu);
	}
	pthread_mutex_unlock(&d->fl_mu);
	return NULL;
}

static int dev_flush_start(void *ctx)
{
	struct host_dev *d = ctx;

	pthread_mutex_lock(&d->fl_mu);
	d->fl_req = true;
	pthread_cond_signal(&d->fl_cv);
	pthread_mutex_unlock(&d->fl_mu);
	return 0;
}

int host_flusher_start(struct host_dev *d)
{
	d->fl_req = d->fl_quit = false;
	atomic_init(&d->fl_result, 0);
	if (pthread_mutex_init(&d->fl_mu, NULL) || pthread_cond_init(&d->fl_cv, NULL))
		return -1;
	d->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->done_fd < 0 || pthread_create(&d->flusher, NULL, flusher_main, d))
		return -1;
	d->fl_running = true;
	return 0;
}

void host_flusher_stop(struct host_dev *d)
{
	if (!d->fl_running)
		return;
	pthread_mutex_lock(&d->fl_mu);
	d->fl_quit = true;
	pthread_cond_signal(&d->fl_cv);
	pthread_mutex_unlock(&d->fl_mu);
	pthread_join(d->flusher, NULL);
	d->fl_running = false;
	close(d->done_fd);
	d->done_fd = -1;
	pthread_mutex_destroy(&d->fl_mu);
	pthread_cond_destroy(&d->fl_cv);
}

/* True when a flush completed since the last call; *ok is its result. */
bool host_flush_result(struct host_dev *d, bool *ok)
{
	uint64_t n;

	if (read(d->done_fd, &n, sizeof(n)) != sizeof(n))
		return false;
	*ok = atomic_load(&d->fl_result) == 0;
	return true;
}

/* Open (creating a sparse file of create_size when absent) and size it. */
int host_dev_open(struct host_dev *d, const char *path, uint64_t create_size)
{
	struct stat st;
	uint64_t bytes;

	*d = (struct host_dev){.done_fd = -1};
	d->fd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	d->direct = d->fd >= 0;
	if (d->fd < 0 && errno == EINVAL)
		d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0 && errno == ENOENT) {
		d->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (d->fd < 0 || ftruncate(d->fd, (off_t)create_size)) {
			perror("hallows-broker: create data file");
			return -1;
		}
		fprintf(stderr, "hallows-broker: created %s (%llu bytes)\n", path,
		        (unsigned long long)create_size);
		close(d->fd);
		return host_dev_open(d, path, create_size);
	}
	if (d->fd < 0 || fstat(d->fd, &st)) {
		perror("hallows-broker: open data");
		return -1;
	}
	bytes = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(d->fd, BLKGETSIZE64, &bytes)) {
		perror("hallows-broker: BLKGETSIZE64");
		return -1;
	}
	d->blocks = bytes / STORE_BLOCK;
	return 0;
}

void host_dev_region(struct host_dev *r, const struct host_dev *d, uint32_t i, uint32_t n)
{
	uint64_t each = d->blocks / n;

	*r = (struct host_dev){.fd = d->fd,
	                       .direct = d->direct,
	                       .base = d->base + i * each,
	                       .blocks = each,
	                       .done_fd = -1};
}

void host_fill_store_platform(struct store_platform *pl, struct host_dev *d)
{
	*pl = (struct store_platform){
	    .ctx = d,
	    .dev_blocks = d->blocks,
	    .read = dev_read,
	    .write = dev_write,
	    .flush = dev_flush,
	    .flush_start = d->done_fd >= 0 ? dev_flush_start : NULL,
	    .alloc = host_alloc,
	    .free = host_free,
	    .now_ms = host_wall_ms,
	    .log = host_log,
	};
}
