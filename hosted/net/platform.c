/* floo_platform over a TAP fd, with the optional fault injector. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "floo/floo_vnet.h"
#include "hosted_net.h"

uint64_t hosted_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: fast, good enough for fault injection and ports. */
static uint64_t rng_next(struct hosted_net *h)
{
	h->rng ^= h->rng >> 12;
	h->rng ^= h->rng << 25;
	h->rng ^= h->rng >> 27;
	return h->rng * 2685821657736338717ull;
}

static bool chance(struct hosted_net *h, uint32_t pct)
{
	return pct && (rng_next(h) >> 33) % 100 < pct;
}

/* Apply the injector to a received frame; returns frames to deliver
 * (0..2) in out[] (ownership passes). */
static unsigned impair_rx(struct hosted_net *h, struct floo_stack *st, struct floo_pbuf *pb,
                          struct floo_pbuf **out)
{
	unsigned n = 0;

	if (chance(h, h->imp.loss_pct)) {
		h->imp_dropped++;
		floo_pbuf_free(st, pb);
		return 0;
	}
	if (!h->held_rx && chance(h, h->imp.reorder_pct)) {
		h->imp_reordered++;
		h->held_rx = pb;
		return 0;
	}
	out[n++] = pb;
	if (chance(h, h->imp.dup_pct)) {
		struct floo_pbuf *d = floo_pbuf_alloc(st);

		if (d) {
			h->imp_duped++;
			memcpy(d->data, pb->data, pb->len);
			d->len = pb->len;
			out[n++] = d;
		}
	}
	if (h->held_rx) {
		out[n++] = h->held_rx;
		h->held_rx = NULL;
	}
	return n;
}

/* Read one frame into pb; with virtio-net headers, floo_vnet_rx() decides
 * whether its checksum still needs checking (a frame made on this host and
 * never on a wire need not). Returns bytes read, 0 for nothing usable. */
static ssize_t tap_read(struct hosted_net *h, struct floo_stack *st, struct floo_pbuf *pb)
{
	uint8_t *vh = h->rx_vh;
	struct iovec iov[2] = {{vh, FLOO_VNET_HDR_LEN},
	                       {pb->data, floo_pbuf_size(st) - FLOO_PBUF_HEADROOM}};
	ssize_t r;

	if (!h->vnet) {
		r = read(h->fd, pb->data, iov[1].iov_len);
		pb->len = r > 0 ? (uint32_t)r : 0;
		return r;
	}
	r = readv(h->fd, iov, 2);
	if (r < (ssize_t)FLOO_VNET_HDR_LEN)
		return r < 0 ? r : 0;
	pb->len = (uint32_t)(r - (ssize_t)FLOO_VNET_HDR_LEN);
	return r;
}

static unsigned tap_rx(void *ctx, struct floo_stack *st, struct floo_pbuf **out, unsigned max)
{
	struct hosted_net *h = ctx;
	unsigned n = 0;

	while (n + 4 <= max) {
		struct floo_pbuf *pb = floo_pbuf_alloc(st), *tmp[3];
		ssize_t r;
		unsigned k;

		if (!pb)
			break;
		r = tap_read(h, st, pb);
		if (r <= 0) {
			floo_pbuf_free(st, pb);
			break;
		}
		if (h->vnet && floo_vnet_rx(st, h->rx_vh, pb) < 0)
			continue; /* refused and counted; pb is gone */
		k = impair_rx(h, st, pb, tmp);
		for (unsigned i = 0; i < k; i++)
			out[n++] = tmp[i];
	}
	/* Reorder within a batch only: a frame held across batches would turn
	 * into tail loss, which is not what the test means to inject. */
	if (h->held_rx) {
		out[n++] = h->held_rx;
		h->held_rx = NULL;
	}
	return n;
}

static void tx_one(struct hosted_net *h, const struct floo_txframe *f)
{
	struct iovec iov[FLOO_TX_MAX_IOV + 1];
	struct floo_vnet_hdr vh;
	uint8_t raw[FLOO_VNET_HDR_LEN];
	unsigned k = 0;
	ssize_t r;

	if (h->vnet) {
		floo_vnet_tx(f, &vh);
		floo_vnet_encode(&vh, raw);
		iov[k].iov_base = raw;
		iov[k++].iov_len = sizeof(raw);
	}
	for (unsigned i = 0; i < f->niov; i++, k++) {
		iov[k].iov_base = (void *)f->iov[i].base;
		iov[k].iov_len = f->iov[i].len;
	}
	r = writev(h->fd, iov, (int)k);
	(void)r; /* a full TAP queue drops, like a wire */
}

/* Copy a frame into the reorder slot. */
static void hold_tx(struct hosted_net *h, const struct floo_txframe *f)
{
	uint32_t o = 0;

	for (unsigned i = 0; i < f->niov && o + f->iov[i].len <= sizeof(h->held_tx); i++) {
		memcpy(h->held_tx + o, f->iov[i].base, f->iov[i].len);
		o += f->iov[i].len;
	}
	h->held_tx_len = o;
	h->held_tx_csum = f->csum_partial;
	h->held_cs_start = f->csum_start;
	h->held_cs_off = f->csum_offset;
}

/* Send the frame held back for reordering. */
static void release_held(struct hosted_net *h)
{
	struct floo_txframe f = {.niov = 1,
	                         .csum_partial = h->held_tx_csum,
	                         .csum_start = h->held_cs_start,
	                         .csum_offset = h->held_cs_off};

	if (!h->held_tx_len)
		return;
	f.iov[0].base = h->held_tx;
	f.iov[0].len = h->held_tx_len;
	tx_one(h, &f);
	h->held_tx_len = 0;
}

static unsigned tap_tx(void *ctx, const struct floo_txframe *f, unsigned n)
{
	struct hosted_net *h = ctx;

	for (unsigned i = 0; i < n; i++) {
		/* The injector acts on MTU-sized frames only (use --no-offload
		 * to impair every segment): a held frame must fit held_tx. */
		if (f[i].tso_mss) {
			tx_one(h, &f[i]);
			continue;
		}
		if (chance(h, h->imp.loss_pct)) {
			h->imp_dropped++;
			continue;
		}
		if (!h->held_tx_len && chance(h, h->imp.reorder_pct)) {
			h->imp_reordered++;
			hold_tx(h, &f[i]);
			continue;
		}
		tx_one(h, &f[i]);
		if (chance(h, h->imp.dup_pct)) {
			h->imp_duped++;
			tx_one(h, &f[i]);
		}
		release_held(h);
	}
	release_held(h);
	return n;
}

static uint64_t tap_now(void *ctx)
{
	(void)ctx;
	return hosted_now_ns();
}

static uint32_t tap_random(void *ctx)
{
	return (uint32_t)(rng_next(ctx) >> 32);
}

static void tap_log(void *ctx, int level, const char *ev, uint64_t v)
{
	struct hosted_net *h = ctx;

	if (level <= h->log_level)
		fprintf(stderr, "floo: %s %llu\n", ev, (unsigned long long)v);
}

void hosted_platform(struct hosted_net *h, struct floo_platform *p)
{
	memset(p, 0, sizeof(*p));
	if (!h->rng)
		h->rng = hosted_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	p->ctx = h;
	p->caps = h->vnet ? FLOO_CAP_TX_CSUM_L4 | FLOO_CAP_TX_TSO : 0;
	p->rx_burst = tap_rx;
	p->tx_burst = tap_tx;
	p->now_ns = tap_now;
	p->random32 = tap_random;
	p->log = tap_log;
}

void hosted_wait(struct hosted_net *h, uint64_t timeout_ns)
{
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
	struct timespec ts = {.tv_sec = (time_t)(timeout_ns / 1000000000u),
	                      .tv_nsec = (long)(timeout_ns % 1000000000u)};

	/* ppoll: Floo's timers are not rounded to milliseconds (a RACK
	 * reordering timer is a fraction of an RTT). */
	(void)ppoll(&pfd, 1, &ts, NULL);
}
