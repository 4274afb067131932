/*
 * The network of the Linux personality: a NIC driver and Floo linked into
 * the server (a library OS: one address space, as webd), brought up at
 * boot from etc/net.conf of the file tree (webd.conf's keys: `address
 * A.B.C.D/N` or `address dhcp`, `gateway`, `mode irq|polled`, `log`).
 * socket.c serves the Linux socket calls on it (docs/linux.md "Sockets").
 *
 * The server waits on its endpoint only, so the NIC's interrupt signals
 * the notification bound to the server's thread (timer.c's: the driver's
 * netdev.notify is set to it before the device starts): the wait ends
 * with a label-0 message, and main.c calls lx_net_poll. Floo's own timers
 * (retransmission, delayed ACKs, TIME_WAIT, DHCP) go through the timer
 * thread: lx_net_deadline is one more deadline of lx_timer_arm. Polled mode
 * (a driver that refuses interrupts) polls every LX_NET_TICK_NS instead.
 */
#include "lx.h"

#include <drivers/netdev.h>
#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/string.h>

#include "apps/webd/files.h"
#include "drivers/e1000.h"
#include "drivers/virtio_net.h"
#include "net/hallows/floo_hallows.h"

#define LX_NET_TICK_NS  10000000ull /* polled mode: how often Floo is polled */
#define LX_NET_MIN_NS   200000ull   /* a timer due sooner is armed this far out (no spinning) */
#define LX_NET_MAX_POLL 64          /* rounds of one lx_net_poll while frames keep coming */

static struct {
	struct floo_hallows fh;
	bool up, dhcp, ready;
	uint64_t polls;
} net;

struct lx_nic {
	const char *name;
	bool (*matches)(uint16_t vendor, uint16_t device);
	struct netdev *(*open)(hl_cptr_t dev, uint16_t bdf, int *err);
};

static const struct lx_nic nics[] = {
    {"virtio-net", virtio_net_matches, virtio_net_open},
    {"e1000", e1000_matches, e1000_open},
};

static void print_addr(const char *what, uint32_t a)
{
	rt_printf("linux: net: %s %u.%u.%u.%u\n", what, a >> 24, (a >> 16) & 255, (a >> 8) & 255,
	          a & 255);
}

/* The first PCI function of ours a driver matches: opened, or NULL. */
static struct netdev *find_nic(hl_cptr_t *dev, const char **name)
{
	struct hl_bootinfo_pci p;

	for (uint32_t i = 0; rt_pci_function(i, &p); i++)
		for (size_t d = 0; d < sizeof(nics) / sizeof(nics[0]); d++) {
			if (!nics[d].matches(p.vendor, p.device))
				continue;
			hl_cptr_t s = rt_pci_open(i);
			int err = 0;
			struct netdev *nd = s ? nics[d].open(s, p.bdf, &err) : NULL;
			if (nd) {
				*dev = s, *name = nics[d].name;
				return nd;
			}
			rt_printf("linux: net: %s at %02x:%02x.%x does not open (%d)\n",
			          nics[d].name, p.bdf >> 8, (p.bdf >> 3) & 31, p.bdf & 7, err);
		}
	return NULL;
}

bool lx_net_init(const uint8_t *cpio, size_t len, uint64_t ntfn)
{
	struct cpio_entry e;
	struct webd_config cfg;
	struct floo_config fc = {0};
	hl_cptr_t dev = 0;
	const char *name = NULL;
	int line;

	if (cpio_find(cpio, len, "etc/net.conf", &e) != CPIO_OK)
		return false; /* no network wanted: sockets exist, connect says ENETUNREACH */
	if ((line = webd_config_parse((const char *)e.data, e.size, &cfg))) {
		rt_printf("linux: net: etc/net.conf:%d: not understood: no network\n", line);
		return false;
	}
	struct netdev *nd = find_nic(&dev, &name);
	if (!nd) {
		rt_printf("linux: net: no network device a driver of ours handles: no network\n");
		return false;
	}
	/* Interrupts signal the server's bound notification (see the top of this file). */
	nd->notify = ntfn;
	fc.n_pbufs = 512;
	fc.n_tcp = 128;
	fc.tcp_sndq = 64;
	fc.tcp_msl_ms = 2000; /* TIME_WAIT 4 s: tests reconnect to the same ports */
	int err = floo_hallows_init(&net.fh, nd, dev,
	                            cfg.mode == WEBD_IRQ && ntfn ? NETDEV_IRQ : NETDEV_POLLED, &fc,
	                            cfg.log_level);
	if (err) {
		rt_printf("linux: net: %s: Floo does not start (%d): no network\n", name, err);
		return false;
	}
	net.up = true;
	net.dhcp = cfg.dhcp;
	if (cfg.dhcp) {
		floo_dhcp_start(net.fh.st);
	} else {
		floo_set_ipv4(net.fh.st, cfg.addr, cfg.mask, cfg.gw);
		floo_arp_announce(net.fh.st);
		net.ready = true;
	}
	rt_printf("linux: net: %s up (%s mode), %lu KiB for Floo, %s\n", name,
	          net.fh.mode == NETDEV_IRQ ? "interrupt" : "polled", net.fh.mem_size / 1024,
	          cfg.dhcp ? "address by DHCP" : "static address");
	if (net.ready)
		print_addr("address", cfg.addr);
	return true;
}

struct floo_stack *lx_net_stack(void)
{
	return net.up ? net.fh.st : NULL;
}

uint32_t lx_net_addr(void)
{
	return net.up ? floo_get_ipv4(net.fh.st) : 0;
}

void lx_net_poll(void)
{
	if (!net.up)
		return;
	for (uint32_t i = 0; i < LX_NET_MAX_POLL; i++) {
		net.polls++;
		if (floo_hallows_poll(&net.fh))
			continue;
		/* Interrupt mode: ask for the next one; true means frames came meanwhile. */
		if (net.fh.mode != NETDEV_IRQ || !net.fh.nd->ops->irq_arm(net.fh.nd))
			break;
	}
	if (!net.ready && floo_dhcp_bound(net.fh.st)) {
		net.ready = true;
		print_addr("address by DHCP", floo_get_ipv4(net.fh.st));
	}
	lx_sock_events();
	lx_timer_arm(); /* Floo's next timer (lx_net_deadline) */
}

uint64_t lx_net_deadline(void)
{
	if (!net.up)
		return 0;
	uint64_t now = lx_plat_nanotime();
	if (net.fh.mode != NETDEV_IRQ)
		return now + LX_NET_TICK_NS;
	/* Nothing timed in Floo without a connection (DHCP's retries: while it binds). */
	if (!floo_tcp_count(net.fh.st) && net.ready && !lx_sock_timed())
		return 0;
	uint64_t ns = floo_next_timer_ns(net.fh.st, 1000000000ull);
	return now + (ns < LX_NET_MIN_NS ? LX_NET_MIN_NS : ns);
}

void lx_net_report(void)
{
	if (!net.up)
		return;
	const struct floo_stats *s = floo_stats(net.fh.st);
	rt_printf(
	    "linux: net: frames rx %lu tx %lu; dropped: eth %lu arp %lu ip %lu (checksum %lu) "
	    "udp %lu (checksum %lu) tcp %lu (checksum %lu) no buffer %lu; resets sent %lu\n",
	    s->rx_frames, s->tx_frames, s->drop_eth, s->drop_arp, s->drop_ip, s->drop_ip_csum,
	    s->drop_udp, s->drop_udp_csum, s->drop_tcp, s->drop_tcp_csum, s->drop_nobuf,
	    s->tcp_resets_sent);
}

bool lx_net_ready(void)
{
	return net.up && net.ready;
}
