/* Linux host for the broker: file/block-device backend and the epoll
 * transport (the stand-in for Floo). */
#ifndef HOSTED_BROKER_H
#define HOSTED_BROKER_H
#include <stdbool.h>
#include <stdint.h>

#include "kafka/broker.h"
#include "storage/store.h"

struct host_dev {
	int fd;
	bool direct;
	uint64_t blocks;
	int done_fd; /* eventfd: an asynchronous flush finished */
};

/* Start the flusher thread (fdatasync off the event loop); completions
 * are signalled on d->done_fd and collected with host_flush_result. */
int host_flusher_start(struct host_dev *d);
void host_flusher_stop(void);
bool host_flush_result(struct host_dev *d, bool *ok);

int host_dev_open(struct host_dev *d, const char *path, uint64_t create_size);
void host_fill_store_platform(struct store_platform *pl, struct host_dev *d);
void host_fill_broker_platform(struct broker_platform *pl);
void host_log(void *ctx, const char *what, const char *detail, long long v);
void *host_alloc(void *ctx, size_t n);
void host_free(void *ctx, void *p);
uint64_t host_now_ms(void *ctx);
uint64_t host_epoch_ms(void *ctx);

/* Listen and serve until SIGINT/SIGTERM. Returns process exit status. */
int host_serve(int lfd, struct broker *b, struct host_dev *d);

#endif
