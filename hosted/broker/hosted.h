/* Linux host for the broker: file/block-device backend and the epoll
 * transport (the stand-in for Floo). */
#ifndef HOSTED_BROKER_H
#define HOSTED_BROKER_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kafka/broker.h"
#include "storage/store.h"

/* A file or block device, or one region of it (host_dev_region): blocks
 * [base, base + blocks) of fd. */
struct host_dev {
	int fd;
	bool direct;
	uint64_t base, blocks;
	int done_fd; /* eventfd: an asynchronous flush finished */
	/* its flusher thread (host_flusher_start) */
	pthread_t flusher;
	pthread_mutex_t fl_mu;
	pthread_cond_t fl_cv;
	bool fl_req, fl_quit, fl_running;
	atomic_int fl_result;
};

/* Start d's flusher thread (fdatasync off the event loop); completions
 * are signalled on d->done_fd and collected with host_flush_result. */
int host_flusher_start(struct host_dev *d);
void host_flusher_stop(struct host_dev *d);
bool host_flush_result(struct host_dev *d, bool *ok);

int host_dev_open(struct host_dev *d, const char *path, uint64_t create_size);
/* Region i of n equal regions of d (same fd; no flusher yet). */
void host_dev_region(struct host_dev *r, const struct host_dev *d, uint32_t i, uint32_t n);
void host_fill_store_platform(struct store_platform *pl, struct host_dev *d);
void host_fill_broker_platform(struct broker_platform *pl);
void host_log(void *ctx, const char *what, const char *detail, long long v);
void *host_alloc(void *ctx, size_t n);
void host_free(void *ctx, void *p);
uint64_t host_now_ms(void *ctx);
uint64_t host_epoch_ms(void *ctx);

/* One event loop per core (docs/broker.md, "One event loop per core"):
 * shard i of n owns a listening socket (port + i), its connections, a
 * broker over its own store on region i of the device, and answers the
 * partitions broker_part_owner gives it. */
struct host_shard {
	uint32_t id;
	int lfd;
	struct host_dev dev;
	struct store *st;
	struct broker *b;
	struct hloop *loop; /* net.c */
};

/* Run n shards (one thread each) until SIGINT/SIGTERM, which the caller
 * has blocked in every thread. Returns the process exit status. */
int host_serve(struct host_shard *sh, uint32_t n);

#endif
