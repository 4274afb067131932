/* Linux-hosted Floo platform: a TAP device, the monotonic clock, and an
 * optional fault injector (loss, duplication, reordering) for tests on
 * machines without netem. */
#ifndef HOSTED_NET_H
#define HOSTED_NET_H

#include "floo/floo.h"

struct hosted_impair {
	uint32_t loss_pct, dup_pct, reorder_pct; /* each direction */
};

struct hosted_net {
	int fd;
	bool vnet;     /* frames carry a virtio-net header: checksum offload */
	int log_level; /* FLOO_LOG_* threshold */
	struct hosted_impair imp;
	uint64_t rng;
	uint8_t rx_vh[10]; /* virtio-net header of the frame just read */
	/* one frame held back per direction to reorder */
	uint8_t held_tx[2048];
	uint32_t held_tx_len;
	bool held_tx_csum;
	uint16_t held_cs_start, held_cs_off;
	struct floo_pbuf *held_rx;
	uint64_t imp_dropped, imp_duped, imp_reordered;
};

/* Open (attach to) TAP interface name; returns fd or -1 (errno set). */
int hosted_tap_open(const char *name, uint8_t mac_out[6], bool *offload);
/* Fill plat with the hosted operations over h. */
void hosted_platform(struct hosted_net *h, struct floo_platform *plat);
/* Sleep until the TAP is readable or timeout_ns passes. */
void hosted_wait(struct hosted_net *h, uint64_t timeout_ns);
uint64_t hosted_now_ns(void);

#endif
