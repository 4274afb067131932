/*
 * hallows-broker-floo: the broker on Floo (not the Linux TCP stack) over a
 * TAP device, with the log store on a file: the appliance's network path
 * (user/kafka/floo/broker_floo.c) tested on Linux.
 *
 *   hallows-broker-floo --tap IFNAME --addr A.B.C.D/LEN --data PATH
 *       [--port N] [--advertise HOST:PORT] [--size BYTES] [--partitions N]
 *       [--flush-ms N] [--group-delay-ms N] [--max-input BYTES] [--no-offload]
 *       [--appliance] [-v]
 *
 * Prints "listening on A.B.C.D:PORT" when up; on SIGTERM the transport
 * and Floo counters, then exits 0. --appliance runs the Hallows
 * appliance's own loop (user/kafka/floo/broker_appl.c) with the store on
 * the block-driver interface over the file (fileblk.c) instead of this
 * program's loop and file backend; it also prints the store's counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/floo/broker_appl.h"
#include "kafka/floo/broker_floo.h"
#include "hosted_net.h"
#include "hosted.h"
#include "fileblk.h"

#define DEFAULT_SIZE (1ull << 30)

struct fopts {
	const char *tap, *data, *advertise;
	uint32_t addr, mask, parts, flush_ms, group_ms, max_input;
	uint16_t port;
	uint64_t size;
	bool no_offload, appliance;
	int verbose;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int parse_cidr(const char *s, uint32_t *addr, uint32_t *mask)
{
	char buf[32];
	char *slash;
	struct in_addr a;
	long len = 24;

	snprintf(buf, sizeof(buf), "%s", s);
	if ((slash = strchr(buf, '/'))) {
		*slash = 0;
		len = strtol(slash + 1, NULL, 10);
	}
	if (inet_pton(AF_INET, buf, &a) != 1 || len < 1 || len > 32)
		return -1;
	*addr = ntohl(a.s_addr);
	*mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
	return 0;
}

static int parse_opts(int argc, char **argv, struct fopts *o)
{
	*o = (struct fopts){
	    .parts = 4, .flush_ms = 1000, .group_ms = 500, .size = DEFAULT_SIZE, .port = 9092};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-offload")) {
			o->no_offload = true;
			continue;
		}
		if (!strcmp(a, "--appliance")) {
			o->appliance = true;
			continue;
		}
		if (!strcmp(a, "-v")) {
			o->verbose++;
			continue;
		}
		if (!v)
			return -1;
		i++;
		if (!strcmp(a, "--tap"))
			o->tap = v;
		else if (!strcmp(a, "--addr")) {
			if (parse_cidr(v, &o->addr, &o->mask))
				return -1;
		} else if (!strcmp(a, "--data"))
			o->data = v;
		else if (!strcmp(a, "--advertise"))
			o->advertise = v;
		else if (!strcmp(a, "--port"))
			o->port = (uint16_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--size"))
			o->size = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--partitions"))
			o->parts = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--flush-ms"))
			o->flush_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--group-delay-ms"))
			o->group_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(a, "--max-input"))
			o->max_input = (uint32_t)strtoul(v, NULL, 10);
		else
			return -1;
	}
	if (!o->max_input)
		o->max_input = 80u << 20;
	if (!o->tap || !o->addr || !o->data || !o->port || o->parts < 1 ||
	    o->parts > STORE_MAX_PARTS || o->max_input < 65536)
		return -1;
	return 0;
}

/* Sleep until a frame arrives, the flusher finishes or the next timer. */
static void idle_wait(struct hosted_net *h, struct host_dev *d, uint64_t timeout_ns)
{
	struct pollfd p[2] = {{.fd = h->fd, .events = POLLIN},
	                      {.fd = d->done_fd, .events = POLLIN}};

	(void)poll(p, d->done_fd >= 0 ? 2 : 1, (int)((timeout_ns + 999999) / 1000000));
}

/* Poll without sleeping while traffic flows and for 200 us after it
 * stops; then sleep until the next frame, flush completion or timer. */
static void serve(struct floo_stack *st, struct hosted_net *h, struct host_dev *d, struct broker *b,
                  struct bfloo *t)
{
	uint64_t last = hosted_now_ns();
	bool ok;

	while (!stop_flag) {
		unsigned n = floo_poll(st);
		if (host_flush_result(d, &ok))
			broker_flush_done(b, ok), n++;
		bfloo_service(t);
		if (n) {
			last = hosted_now_ns();
			continue;
		}
		if (hosted_now_ns() - last > 200000) {
			uint64_t bt = (uint64_t)broker_next_timeout_ms(b) * 1000000u;
			idle_wait(h, d, floo_next_timer_ns(st, bt < 10000000u ? bt : 10000000u));
		}
	}
}

static void print_stats(struct floo_stack *st, const struct bfloo_stats *s)
{
	const struct floo_stats *fs = floo_stats(st);

	fprintf(
	    stderr,
	    "hallows-broker-floo: conns accepted %llu refused %llu closed %llu aborted %llu; "
	    "rx %llu bytes (copied %llu, gathered %llu, held pbufs %llu); tx %llu bytes by "
	    "reference in "
	    "%llu refs (slot waits %llu, sent before the previous ACK %llu); tcp retrans %llu\n",
	    (unsigned long long)s->accepted, (unsigned long long)s->refused,
	    (unsigned long long)s->closed, (unsigned long long)s->aborted,
	    (unsigned long long)s->rx_bytes, (unsigned long long)s->rx_copied,
	    (unsigned long long)s->rx_gathered, (unsigned long long)s->rx_held,
	    (unsigned long long)s->tx_bytes, (unsigned long long)s->tx_refs,
	    (unsigned long long)s->tx_slot_waits, (unsigned long long)s->tx_early,
	    (unsigned long long)fs->tcp_retransmits);
	fprintf(stderr, "hallows-broker-floo: free pbufs %u of %u\n", floo_pbuf_free_count(st),
	        floo_config_pbufs(st));
}

static int tap_up(struct fopts *o, struct hosted_net *h, struct floo_platform *plat, uint8_t mac[6])
{
	h->log_level = o->verbose >= 2 ? FLOO_LOG_DEBUG : o->verbose ? FLOO_LOG_INFO : FLOO_LOG_ERR;
	h->vnet = !o->no_offload;
	if ((h->fd = hosted_tap_open(o->tap, mac, &h->vnet)) < 0) {
		fprintf(stderr, "hallows-broker-floo: tap %s: %s\n", o->tap, strerror(errno));
		return -1;
	}
	hosted_platform(h, plat);
	return 0;
}

/* The appliance's counters: transport, store, Floo's pool. */
static void print_stats_appl(const struct bappl_stats *s)
{
	fprintf(stderr,
	        "hallows-broker-floo: tx %llu bytes by reference; store read %llu bytes by DMA, "
	        "%llu copied by the CPU; %llu requests, at most %u in flight\n",
	        (unsigned long long)s->net.tx_bytes, (unsigned long long)s->disk.read_bytes,
	        (unsigned long long)s->disk.bounce_read_bytes, (unsigned long long)s->disk.requests,
	        s->disk.max_inflight);
	fprintf(stderr, "hallows-broker-floo: free pbufs %u of %u\n", s->free_pbufs, s->pbufs);
}

static struct floo_stack *stack_up(struct fopts *o, struct hosted_net *h,
                                   struct floo_platform *plat, void **mem)
{
	struct floo_config cfg;
	uint8_t mac[6];
	size_t sz;

	if (tap_up(o, h, plat, mac))
		return NULL;
	floo_config_default(&cfg);
	cfg.n_tcp = 1024;
	cfg.tcp_rcv_buf = 262144;
	cfg.tcp_rcv_pbufs = 256;
	cfg.tcp_sndq = 256; /* a fetch response is one reference per batch */
	sz = floo_mem_size(&cfg);
	if (!(*mem = aligned_alloc(64, (sz + 63) & ~(size_t)63)))
		return NULL;
	struct floo_stack *st = floo_stack_init(*mem, sz, &cfg, plat, mac);
	if (st)
		floo_set_ipv4(st, o->addr, o->mask, 0);
	return st;
}

/* ---- --appliance: the Hallows appliance loop over a file-backed blkdev ---- */

#define ARENA_BYTES (64u << 20)

static struct hosted_net *appl_net;

static uint64_t appl_pa(void *ctx, const void *va)
{
	(void)ctx;
	return (uint64_t)(uintptr_t)va;
}

static void appl_idle(void *ctx, uint64_t timeout_ns)
{
	(void)ctx;
	hosted_wait(appl_net, timeout_ns);
}

static bool appl_should_stop(void *ctx)
{
	(void)ctx;
	return stop_flag != 0;
}

static int run_appliance(struct fopts *o)
{
	struct hosted_net h = {0};
	struct floo_platform plat;
	struct fileblk disk;
	struct bappl_stats s;
	uint8_t mac[6];
	uint8_t *arena = aligned_alloc(4096, ARENA_BYTES);
	int rc;

	if (!arena || tap_up(o, &h, &plat, mac) || fileblk_open(&disk, o->data, o->size)) {
		perror("hallows-broker-floo: appliance setup");
		return 1;
	}
	appl_net = &h;
	struct store_blk_env senv = {.arena = arena,
	                             .arena_size = ARENA_BYTES,
	                             .pa = appl_pa,
	                             .now_ms = host_now_ms,
	                             .log = host_log};
	struct bappl_env env = {.alloc = host_alloc,
	                        .free = host_free,
	                        .now_ms = host_now_ms,
	                        .wall_ms = host_epoch_ms,
	                        .log = host_log,
	                        .idle = appl_idle,
	                        .should_stop = appl_should_stop};
	struct bappl_config cfg = {.addr = o->addr,
	                           .mask = o->mask,
	                           .port = o->port,
	                           .partitions = o->parts,
	                           .flush_ms = o->flush_ms,
	                           .group_initial_ms = o->group_ms,
	                           .max_conns = 1000};
	struct in_addr ia = {.s_addr = htonl(o->addr)};
	printf("hallows-broker-floo: listening on %s:%u (appliance loop, store on blkdev)\n",
	       inet_ntoa(ia), o->port);
	fflush(stdout);
	rc = bappl_run(&cfg, &env, &plat, mac, &disk.dev, 0, &senv, &s);
	print_stats_appl(&s);
	close(disk.fd);
	free(arena);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct fopts o;
	struct hosted_net h = {0};
	struct floo_platform plat;
	struct host_dev dev;
	struct store_platform spl;
	struct broker_platform bpl;
	struct store *store;
	struct floo_stack *st;
	struct broker *b;
	struct bfloo *t;
	char ahost[64];
	int aport, rc;
	void *mem = NULL;

	if (parse_opts(argc, argv, &o)) {
		fprintf(stderr,
		        "usage: hallows-broker-floo --tap IFNAME --addr A.B.C.D/LEN --data PATH "
		        "[--port N] [--advertise HOST:PORT] [--size BYTES] [--partitions N] "
		        "[--flush-ms N] [--group-delay-ms N] [--max-input BYTES] [--no-offload] "
		        "[--appliance] [-v]\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (o.appliance)
		return run_appliance(&o);
	if (!(st = stack_up(&o, &h, &plat, &mem)))
		return 1;
	if (host_dev_open(&dev, o.data, o.size) || host_flusher_start(&dev))
		return 1;
	host_fill_store_platform(&spl, &dev);
	if ((rc = store_open(&spl, STORE_FORMAT_BLANK, &store))) {
		fprintf(stderr, "hallows-broker-floo: cannot open store (%d)\n", rc);
		return 1;
	}
	struct in_addr ia = {.s_addr = htonl(o.addr)};
	snprintf(ahost, sizeof(ahost), "%s", inet_ntoa(ia));
	aport = o.port;
	if (o.advertise) {
		const char *c = strrchr(o.advertise, ':');
		if (!c || (size_t)(c - o.advertise) >= sizeof(ahost))
			return 2;
		snprintf(ahost, sizeof(ahost), "%.*s", (int)(c - o.advertise), o.advertise);
		aport = atoi(c + 1);
	}
	struct broker_config cfg = {
	    .adv_host = ahost,
	    .adv_port = aport,
	    .node_id = 1,
	    .default_parts = o.parts,
	    .flush_ms = o.flush_ms,
	    .flush_bytes = 16u << 20,
	    .group_initial_ms = o.group_ms,
	    /* a request must fit the transport's input buffer with its size */
	    .max_request = o.max_input - 4 < (64u << 20) ? o.max_input - 4 : 64u << 20,
	};
	host_fill_broker_platform(&bpl); /* epoll send/close replaced below */
	bfloo_fill_platform(&bpl);
	if (!(b = broker_create(&bpl, &cfg, store)))
		return 1;
	struct bfloo_config tcfg = {.port = o.port,
	                            .max_conns = 1000,
	                            .max_input = o.max_input,
	                            .gather_bytes = 192u << 10,
	                            .gather_pbufs = 192};
	if (!(t = bfloo_create(st, b, &bpl, &tcfg))) {
		fprintf(stderr, "hallows-broker-floo: cannot listen on port %u\n", o.port);
		return 1;
	}
	printf("hallows-broker-floo: listening on %s:%u advertised %s:%d (checksum offload %s)\n",
	       inet_ntoa(ia), o.port, ahost, aport, h.vnet ? "on" : "off");
	fflush(stdout);
	serve(st, &h, &dev, b, t);
	struct bfloo_stats ts = *bfloo_stats(t);
	bfloo_destroy(t);
	for (int i = 0; i < 10; i++) /* let the resets go out */
		floo_poll(st);
	print_stats(st, &ts);
	host_flusher_stop(&dev);
	broker_destroy(b);
	store_close(store);
	free(mem);
	return 0;
}
