/*
 * webd: the web appliance. Driver, Floo and the services in one address
 * space (the root task of its boot module today): HTTP/1.1 on the
 * configured port serving the files under the boot module's www/ and
 * /bytes/N, TCP echo (7) and discard (9). Configuration: etc/webd.conf
 * (files.h, docs/net.md "webd"). Prints "webd: ready ..." once it has an
 * address, then a counter line every few seconds while traffic changes it.
 */
#include <drivers/netdev.h>
#include <floo/floo_http.h>
#include <floo/floo_services.h>
#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/string.h>

#include "drivers/drv_env.h"
#include "drivers/e1000.h"
#include "drivers/virtio_net.h"
#include "net/hallows/floo_hallows.h"
#include "files.h"

#define REPORT_MS    2000
#define BUSY_POLL_NS 200000ull /* keep polling this long after the last frame */

/*
 * The NIC drivers webd can run on: the first PCI function one of them
 * matches is used. Where the driver refuses interrupt mode (the 82540EM's
 * INTx line on a chipset whose routing the kernel does not know:
 * docs/drivers.md), Floo's platform layer polls instead.
 */
struct webd_nic {
	const char *name;
	bool (*matches)(uint16_t vendor, uint16_t device);
	struct netdev *(*open)(hl_cptr_t dev, uint16_t bdf, int *err);
	bool (*inject_fault)(struct netdev *nd); /* tests (test-fault-after); may be NULL */
};

static bool virtio_net_fault_idx(struct netdev *nd)
{
	return virtio_net_inject_fault(nd, VIRTIO_NET_FAULT_USED_IDX);
}

static bool e1000_fault_stray(struct netdev *nd)
{
	return e1000_inject_fault(nd, E1000_INJECT_STRAY);
}

static bool is_82540em(uint16_t vendor, uint16_t device)
{
	return e1000_matches(vendor, device) && device == 0x100e;
}

static bool is_82574l(uint16_t vendor, uint16_t device)
{
	return e1000_matches(vendor, device) && device != 0x100e;
}

static const struct webd_nic nics[] = {
    {"virtio-net", virtio_net_matches, virtio_net_open, virtio_net_fault_idx},
    {"e1000e", is_82574l, e1000_open, e1000_fault_stray},
    {"e1000", is_82540em, e1000_open, e1000_fault_stray},
};

/* What the partition is given: its NIC and its configuration text. */
struct webd_resources {
	const struct webd_nic *drv;
	hl_cptr_t nic; /* pci_device capability */
	uint16_t bdf;
	const char *conf; /* NULL: defaults */
	size_t conf_len;
};

/*
 * The files served: the boot module when there is one (webd as the root
 * task), else the archive linked into the program (webd as a manifest
 * partition, which sees no boot module; mk/serve.mk links it in).
 */
extern const uint8_t webd_archive[] __attribute__((weak));
extern const uint8_t webd_archive_end[] __attribute__((weak));
static const uint8_t *files;
static size_t files_size;

/* A partition's `config KEY=VALUE` lines as webd.conf text ("KEY VALUE" lines). */
static char part_conf[sizeof(((struct hl_partinfo *)0)->strings) + 64];

static size_t part_config(const struct hl_partinfo *pi)
{
	const char *s = pi->strings;
	size_t n = 0;

	for (uint32_t i = 0; i < pi->argc + pi->nconfig; i++) {
		size_t len = strlen(s);
		if (i >= pi->argc && n + len + 1 <= sizeof(part_conf)) {
			bool key = true; /* the first '=' ends the key */
			for (size_t k = 0; k < len; k++) {
				part_conf[n + k] = key && s[k] == '=' ? ' ' : s[k];
				key &= s[k] != '=';
			}
			n += len;
			part_conf[n++] = '\n';
		}
		s += len + 1;
	}
	return n;
}

/*
 * The NIC: the first PCI function of ours (rt_pci_function: the
 * partition's devices, or as the root task every function) a driver
 * matches. Configuration: the partition's config lines, else etc/webd.conf
 * of the files. False if there is no NIC.
 */
static bool webd_resources(const struct rt *rt, struct webd_resources *r)
{
	const struct hl_bootinfo *bi = rt->bi;
	struct hl_bootinfo_pci p;
	struct cpio_entry e;

	*r = (struct webd_resources){0};
	files = (const uint8_t *)bi->initrd_vaddr;
	files_size = bi->initrd_size;
	uintptr_t a0 = (uintptr_t)webd_archive, a1 = (uintptr_t)webd_archive_end;
	if (!files_size && a0 && a1 > a0) {
		files = webd_archive;
		files_size = a1 - a0;
	}
	if (rt->pi && rt->pi->nconfig) {
		r->conf = part_conf;
		r->conf_len = part_config(rt->pi);
	} else if (files_size && cpio_find(files, files_size, "etc/webd.conf", &e) == CPIO_OK) {
		r->conf = (const char *)e.data;
		r->conf_len = e.size;
	}
	for (uint32_t i = 0; rt_pci_function(i, &p); i++)
		for (size_t d = 0; d < sizeof(nics) / sizeof(nics[0]); d++) {
			if (!nics[d].matches(p.vendor, p.device))
				continue;
			hl_cptr_t s = rt_pci_open(i);
			if (s) {
				r->drv = &nics[d], r->nic = s, r->bdf = p.bdf;
				return true;
			}
		}
	return false;
}

static struct webd_config cfg;
static const struct webd_nic *drv;
static struct floo_hallows fh;
static struct http_server http;
static struct floo_svc svc;

static void *webd_alloc(size_t n)
{
	return rt_calloc(1, n);
}

static uint32_t requests; /* HTTP requests routed */
/* TSC spent in loop iterations that found no work (empty polls, idle waits): the
 * benchmark subtracts it from the TSC delta (docs/serve.md "Beside a Linux guest") */
static uint64_t idle_tsc;

/* GET/HEAD: /bytes/N, or a file of the boot module under cfg.root. */
static void webd_route(void *user, const struct http_request *q, struct http_response *r)
{
	char name[WEBD_NAME_MAX];
	struct cpio_entry e;

	(void)user;
	/* The partition-restart test (tests/system/serve): a real fault, on the first start only.
	 */
	if (cfg.crash_after && ++requests == cfg.crash_after && rt_self.pi &&
	    !rt_self.pi->restarts) {
		rt_printf("webd: request %u: crashing (test-crash-after)\n", requests);
		__asm__ volatile("movl $1, 0" ::: "memory");
	}
	if (http_bytes_path(q->path, q->path_len, &r->len)) {
		r->status = 200;
		r->pattern = true;
		return;
	}
	if (!webd_file_name(cfg.root, q->path, q->path_len, name, sizeof(name)) ||
	    cpio_find(files, files_size, name, &e) != CPIO_OK)
		return; /* 404 */
	r->status = 200;
	r->body = e.data;
	r->len = e.size;
	r->content_type = webd_content_type(name);
}

static void webd_http_log(const char *event, uint64_t v)
{
	if (cfg.log_level >= FLOO_LOG_DEBUG)
		rt_printf("webd: %s %lu\n", event, v);
}

static int webd_services(struct floo_stack *st)
{
	http = (struct http_server){.st = st,
	                            .route = webd_route,
	                            .name = "hallows-webd",
	                            .alloc = webd_alloc,
	                            .free = rt_free,
	                            .log = webd_http_log};
	svc = (struct floo_svc){.alloc = webd_alloc, .free = rt_free};
	int err = http_server_start(&http, cfg.http_port);
	if (!err)
		err = floo_svc_echo_start(st, &svc, cfg.echo_port);
	if (!err)
		err = floo_svc_discard_start(st, &svc, cfg.discard_port);
	return err;
}

static void webd_ready(uint32_t a)
{
	rt_printf("webd: ready on %u.%u.%u.%u: http %u, echo %u, discard %u (%s mode)\n", a >> 24,
	          (a >> 16) & 255, (a >> 8) & 255, a & 255, cfg.http_port, cfg.echo_port,
	          cfg.discard_port, fh.mode == NETDEV_IRQ ? "interrupt" : "polled");
}

static void webd_report(void)
{
	const struct http_stats *s = &http.stats;
	const struct floo_hallows_stats *f = &fh.stats;
	const struct floo_stats *fs = floo_stats(fh.st);

	rt_printf("webd: http conns %lu requests %lu ok %lu 404 %lu 400 %lu 405 %lu 431 %lu 505 "
	          "%lu; echo %lu B, discard %lu B\n",
	          s->conns, s->requests, s->ok, s->not_found, s->bad_request, s->not_allowed,
	          s->too_large, s->bad_version, svc.echo_bytes, svc.discard_bytes);
	rt_printf(
	    "webd: frames rx %lu tx %lu, bytes copied rx %lu tx %lu, tx dropped %lu, "
	    "faults %lu, wakeups %lu (timer %lu, idle sleeps %lu), idle calls %lu, yields %lu\n",
	    f->rx_frames, f->tx_frames, f->rx_copied_bytes, f->tx_copied_bytes, f->tx_dropped,
	    f->faults, f->wakeups, f->timer_wakeups, f->deep_sleeps, f->idle_calls, f->yields);
	rt_printf("webd: floo tcp connections %u, accepts %lu, resets sent %lu, free pbufs %u, out "
	          "of memory %lu; drops eth %lu arp %lu ip %lu (csum %lu) tcp %lu (csum %lu) udp "
	          "%lu no-buffer %lu\n",
	          floo_tcp_count(fh.st), fs->tcp_accepts, fs->tcp_resets_sent,
	          floo_pbuf_free_count(fh.st), s->no_memory + svc.no_memory, fs->drop_eth,
	          fs->drop_arp, fs->drop_ip, fs->drop_ip_csum, fs->drop_tcp, fs->drop_tcp_csum,
	          fs->drop_udp + fs->drop_udp_csum, fs->drop_nobuf);
	rt_printf("webd: cpu tsc %lu, idle tsc %lu (empty polls and waits)\n", drv_rdtsc(),
	          idle_tsc);
}

/*
 * Poll while there is work (and briefly after), sleep when idle, report now
 * and then. idle_tsc: iterations that found no work, with the few
 * instructions to the next iteration's start (prev_idle), and the report (a
 * diagnostic at log info, not work for a client), as brokerd counts them.
 */
static void webd_run(void)
{
	uint64_t last = floo_hallows_now_ns(&fh), next_report = last, seen = 0, t_end = 0;
	bool ready = !cfg.dhcp, prev_idle = false;

	for (;;) {
		uint64_t t0 = drv_rdtsc();
		if (prev_idle)
			idle_tsc += t0 - t_end;
		prev_idle = false;
		uint64_t now = floo_hallows_now_ns(&fh);
		/* Test: corrupt the receive ring as a broken device would, until the driver sees
		 * it. */
		if (cfg.fault_after && fh.stats.rx_frames >= cfg.fault_after && !fh.stats.faults &&
		    !fh.fault && drv->inject_fault)
			(void)drv->inject_fault(fh.nd);
		if (floo_hallows_poll(&fh)) {
			last = now;
			continue;
		}
		if (!ready && floo_dhcp_bound(fh.st)) {
			ready = true;
			webd_ready(floo_get_ipv4(fh.st));
		}
		if (now >= next_report && cfg.log_level >= FLOO_LOG_INFO) { /* log err: quiet */
			next_report = now + REPORT_MS * 1000000ull;
			if (fh.stats.rx_frames != seen) {
				seen = fh.stats.rx_frames;
				uint64_t r0 = drv_rdtsc();
				webd_report();
				idle_tsc += drv_rdtsc() - r0;
				continue;
			}
		}
		/* webd's one timer is the report of frames not yet reported; while DHCP is
		 * still binding it polls every 50 ms. Otherwise Floo's deadlines decide: an
		 * idle connection arms none, and webd sleeps until the next frame. */
		if (now - last > BUSY_POLL_NS) {
			uint64_t app = FLOO_HALLOWS_NO_TIMER;

			if (!ready)
				app = 50000000ull;
			else if (fh.stats.rx_frames != seen && cfg.log_level >= FLOO_LOG_INFO)
				app = next_report > now ? next_report - now : 0;
			floo_hallows_idle_for(&fh, app);
		}
		idle_tsc += (t_end = drv_rdtsc()) - t0;
		prev_idle = true;
	}
}

int main(struct rt *rt)
{
	struct webd_resources res;
	struct floo_config fc = {0};
	int err = 0, line;

	if (!webd_resources(rt, &res)) {
		rt_printf("webd: no network device a driver of ours handles\n");
		return 1;
	}
	if ((line = webd_config_parse(res.conf, res.conf ? res.conf_len : 0, &cfg))) {
		rt_printf("webd: etc/webd.conf:%d: not understood\n", line);
		return 1;
	}
	drv = res.drv;
	struct netdev *nd = res.drv->open(res.nic, res.bdf, &err);
	if (!nd) {
		rt_printf("webd: %s open failed: %d\n", res.drv->name, err);
		return 1;
	}
	/* 2048 packet buffers (4 MiB), 1100 connections (1,000 clients at once, issue 14), and
	 * a 1 MiB receive window (scale 5, at most 768 buffers held per connection): with
	 * Floo's default 64 KiB a stream into the discard port was held by the window, 80-92%
	 * of the sender's time, at 64 KiB per round trip (34-118 MB/s when wake-ups took
	 * 0.3-3 ms on a loaded host; docs/decisions.md "What the host spends") */
	fc.n_pbufs = 2048;
	fc.n_tcp = 1100;
	fc.tcp_rcv_buf = 1u << 20;
	fc.tcp_rcv_pbufs = 768;
	fc.tcp_sndq = 64;
	fc.tcp_msl_ms = 10000;
	err = floo_hallows_init(&fh, nd, res.nic, cfg.mode == WEBD_IRQ ? NETDEV_IRQ : NETDEV_POLLED,
	                        &fc, cfg.log_level);
	if (err || webd_services(fh.st)) {
		rt_printf("webd: start failed: %d\n", err);
		return 1;
	}
	rt_printf("webd: %s up, %lu KiB for Floo (%u KiB of packet buffers the NIC writes into), "
	          "checksum offload %s\n",
	          res.drv->name, fh.mem_size / 1024, fc.n_pbufs * floo_pbuf_size(fh.st) / 1024,
	          (nd->info.offloads & NETDEV_OFF_TX_CSUM) ? "on" : "off");
	if (cfg.dhcp) {
		floo_dhcp_start(fh.st);
	} else {
		floo_set_ipv4(fh.st, cfg.addr, cfg.mask, cfg.gw);
		webd_ready(cfg.addr);
	}
	webd_run();
	return 0;
}
