/*
 * floo-demo: Floo as an ordinary Linux program on a TAP device. Answers
 * ping and serves UDP echo (7), TCP echo (7), TCP discard (9) and HTTP/1.1
 * (80). The echo service sends the received buffers back by reference:
 * no byte is copied on the TCP path.
 *
 *   floo-demo --tap IFNAME (--addr A.B.C.D/LEN [--gw A.B.C.D] | --dhcp)
 *             [--impair LOSS,DUP,REORDER] [--cc bbr|cubic] [--pacing on|off]
 *             [--msl MS] [--no-offload] [-v]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "floo/floo_services.h"
#include "hosted_net.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* UDP echo: reply with the same payload. */
static void udp_echo(struct floo_stack *st, void *arg, uint32_t src, uint16_t sport, uint16_t dport,
                     const uint8_t *d, uint32_t n)
{
	(void)arg;
	(void)floo_udp_send(st, dport, src, sport, d, n);
}

struct demo_args {
	const char *tap;
	uint32_t addr, mask, gw;
	bool dhcp, no_offload;
	int verbose;
	uint32_t msl_ms;
	uint32_t cc;     /* FLOO_CC_*, 0: the stack's default */
	uint32_t pacing; /* FLOO_PACING_*, 0: the stack's default */
	struct hosted_impair imp;
};

static int parse_cidr(const char *s, uint32_t *addr, uint32_t *mask)
{
	char buf[32];
	char *slash;
	struct in_addr a;
	long len = 24;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		len = strtol(slash + 1, NULL, 10);
	}
	if (inet_pton(AF_INET, buf, &a) != 1 || len < 1 || len > 32)
		return -1;
	*addr = ntohl(a.s_addr);
	*mask = len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
	return 0;
}

static int parse_args(int argc, char **argv, struct demo_args *a)
{
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		struct in_addr g;

		if (!strcmp(o, "--dhcp")) {
			a->dhcp = true;
		} else if (!strcmp(o, "--no-offload")) {
			a->no_offload = true;
		} else if (!strcmp(o, "-v")) {
			a->verbose++;
		} else if (!v) {
			return -1;
		} else if (!strcmp(o, "--tap")) {
			a->tap = argv[++i];
		} else if (!strcmp(o, "--addr")) {
			if (parse_cidr(argv[++i], &a->addr, &a->mask))
				return -1;
		} else if (!strcmp(o, "--gw")) {
			if (inet_pton(AF_INET, argv[++i], &g) != 1)
				return -1;
			a->gw = ntohl(g.s_addr);
		} else if (!strcmp(o, "--cc")) {
			if (strcmp(v, "bbr") && strcmp(v, "cubic"))
				return -1;
			a->cc = !strcmp(v, "bbr") ? FLOO_CC_BBR : FLOO_CC_CUBIC;
			i++;
		} else if (!strcmp(o, "--pacing")) {
			if (strcmp(v, "on") && strcmp(v, "off"))
				return -1;
			a->pacing = !strcmp(v, "on") ? FLOO_PACING_ON : FLOO_PACING_OFF;
			i++;
		} else if (!strcmp(o, "--msl")) {
			a->msl_ms = (uint32_t)strtoul(argv[++i], NULL, 10);
		} else if (!strcmp(o, "--impair")) {
			if (sscanf(argv[++i], "%u,%u,%u", &a->imp.loss_pct, &a->imp.dup_pct,
			           &a->imp.reorder_pct) != 3)
				return -1;
		} else {
			return -1;
		}
	}
	return a->tap && (a->dhcp || a->addr) ? 0 : -1;
}

static void print_stats(struct floo_stack *st, struct hosted_net *h)
{
	const struct floo_stats *s = floo_stats(st);

	fprintf(stderr,
	        "floo-demo: loss probes %llu (%llu repairing) rack losses %llu d-sacks %llu (%llu "
	        "of no retransmission) undos %llu vnet refused %llu\n",
	        (unsigned long long)s->tcp_loss_probes, (unsigned long long)s->tcp_repair_probes,
	        (unsigned long long)s->tcp_rack_lost, (unsigned long long)s->tcp_dsacks,
	        (unsigned long long)s->tcp_dsacks_ignored, (unsigned long long)s->tcp_undos,
	        (unsigned long long)s->drop_vnet);
	fprintf(stderr,
	        "floo-demo: recoveries %llu (%llu ms, %llu ended by an RTO), mean cwnd at new "
	        "ACKs %llu bytes\n",
	        (unsigned long long)s->tcp_recoveries, (unsigned long long)s->tcp_recovery_ms,
	        (unsigned long long)s->tcp_rto_in_recovery,
	        (unsigned long long)(s->tcp_cwnd_acks ? s->tcp_cwnd_sum / s->tcp_cwnd_acks : 0));
	fprintf(stderr,
	        "floo-demo: rx %llu tx %llu drops eth %llu arp %llu ip %llu "
	        "tcp %llu tcp_csum %llu nobuf %llu; retrans %llu fast %llu "
	        "timeouts %llu; impair drop %llu dup %llu reorder %llu; "
	        "conns %u; free pbufs %u of %u\n",
	        (unsigned long long)s->rx_frames, (unsigned long long)s->tx_frames,
	        (unsigned long long)s->drop_eth, (unsigned long long)s->drop_arp,
	        (unsigned long long)s->drop_ip, (unsigned long long)s->drop_tcp,
	        (unsigned long long)s->drop_tcp_csum, (unsigned long long)s->drop_nobuf,
	        (unsigned long long)s->tcp_retransmits, (unsigned long long)s->tcp_fast_retrans,
	        (unsigned long long)s->tcp_timeouts, (unsigned long long)h->imp_dropped,
	        (unsigned long long)h->imp_duped, (unsigned long long)h->imp_reordered,
	        floo_tcp_count(st), floo_pbuf_free_count(st), floo_config_pbufs(st));
}

static void *svc_alloc(size_t n)
{
	return calloc(1, n);
}

static struct floo_svc svc = {.alloc = svc_alloc, .free = free};

/* Register the services; returns 0 or -1. */
static int start_services(struct floo_stack *st)
{
	if (floo_udp_bind(st, 7, udp_echo, NULL) || floo_svc_echo_start(st, &svc, 7) ||
	    floo_svc_discard_start(st, &svc, 9) || demo_http_start(st, 80))
		return -1;
	return 0;
}

/* Poll without sleeping while traffic flows and for 200 us after the last
 * frame (a request/response peer usually answers within that); then sleep
 * on the fd until a frame or the next timer. */
static void run(struct floo_stack *st, struct hosted_net *h)
{
	uint64_t last = hosted_now_ns();

	while (!stop) {
		if (floo_poll(st)) {
			last = hosted_now_ns();
			continue;
		}
		if (hosted_now_ns() - last > 200000)
			hosted_wait(h, floo_next_timer_ns(st, 10000000));
	}
}

int main(int argc, char **argv)
{
	struct demo_args a = {0};
	struct hosted_net h = {0};
	struct floo_platform plat;
	struct floo_config cfg = {0};
	struct floo_stack *st;
	uint8_t mac[6];
	size_t sz;
	void *mem;

	if (parse_args(argc, argv, &a)) {
		fprintf(stderr,
		        "usage: floo-demo --tap IFNAME (--addr A.B.C.D/LEN "
		        "[--gw A.B.C.D] | --dhcp) [--impair LOSS,DUP,REORDER] "
		        "[--cc bbr|cubic] [--pacing on|off] [--msl MS] [--no-offload] [-v]\n");
		return 2;
	}
	h.log_level = a.verbose >= 2 ? FLOO_LOG_DEBUG : a.verbose ? FLOO_LOG_INFO : FLOO_LOG_ERR;
	h.imp = a.imp;
	h.vnet = !a.no_offload;
	h.fd = hosted_tap_open(a.tap, mac, &h.vnet);
	if (h.fd < 0) {
		fprintf(stderr, "floo-demo: tap %s: %s\n", a.tap, strerror(errno));
		return 1;
	}
	hosted_platform(&h, &plat);
	floo_config_default(&cfg);
	if (a.msl_ms)
		cfg.tcp_msl_ms = a.msl_ms;
	if (a.cc)
		cfg.tcp_cc = a.cc;
	if (a.pacing)
		cfg.tcp_pacing = a.pacing;
	/* A 1 MiB window (window scaling): a lossy path with SACK keeps a
	 * lot out of order while holes are repaired, and the echo holds
	 * what it received until its copy is acknowledged, so its sending
	 * (the lossier direction) closes the window it offers. With 256 KiB
	 * the Linux client, its window full, had nothing new to send after
	 * a lost retransmission and waited for its RTO: 19-20 client RTOs
	 * per five 4 MB echoes against 4 with 1 MiB (docs/net.md). Linux
	 * autotunes its own receive buffer up to 6 MB. */
	cfg.tcp_rcv_buf = 1048576;
	cfg.tcp_rcv_pbufs = 1024;
	/* The echo sends one reference per received buffer: 1024 of them
	 * cover the window (16 would cap the flight at 23 KB per RTT). The
	 * references cost 123 MB of stack memory for the 4096 slots. */
	cfg.tcp_sndq = 1024;
	sz = floo_mem_size(&cfg);
	mem = aligned_alloc(64, (sz + 63) & ~(size_t)63);
	st = mem ? floo_stack_init(mem, sz, &cfg, &plat, mac) : NULL;
	if (!st || start_services(st)) {
		fprintf(stderr, "floo-demo: init failed\n");
		return 1;
	}
	if (a.dhcp)
		floo_dhcp_start(st);
	else
		floo_set_ipv4(st, a.addr, a.mask, a.gw);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	fprintf(stderr, "floo-demo: up on %s (%zu KiB of stack memory, checksum offload %s)\n",
	        a.tap, sz / 1024, h.vnet ? "on" : "off");
	run(st, &h);
	print_stats(st, &h);
	free(mem);
	return 0;
}
