/*
 * netecho: a root task that drives the first network function it has a
 * driver for (virtio-net, e1000, e1000e: the table `drivers`, probed by PCI
 * ID in enumeration order) through the netdev interface and answers ARP and
 * ping for one IPv4 address. The boot module's etc/netecho.conf says how:
 *
 *   ip 198.18.0.2          the address to answer for
 *   mode polled|irq        netdev mode
 *   csum soft|offload      ICMP reply checksums by the CPU or the device
 *   fault-after N          test: after N echo replies, corrupt the receive
 *                          ring as a broken device would, and recover
 *                          (every buffer back, restart, repost)
 *   fault-kind idx|id      what to corrupt: the used index (default), or
 *                          the id of the second of several used entries
 *                          (e1000: descriptor done on a slot never posted,
 *                          or a length beyond the buffer)
 *   tso-peer A.B.C.D       test: connect to a listener there (tso-port,
 *   tso-port P             default 5001) and send tso-bytes (at most 4096)
 *   tso-bytes N            in one TSO frame, then answer as usual
 *   bench N                benchmark: N frames through a looped-back
 *                          device, driver instructions per packet (bench.c);
 *                          with mode irq (e1000, e1000e): N interrupts from
 *                          the device to the driver thread instead
 *
 * Each reply is made in the buffer the request arrived in and sent from it
 * (no copy); once sent, the buffer is posted for receiving again.
 */
#include <drivers/netdev.h>
#include <hallows/rt.h>
#include <lib/cpio.h>
#include <lib/string.h>

#include "drivers/drv_env.h"
#include "drivers/e1000.h"
#include "drivers/virtio_net.h"
#include "bench.h"
#include "responder.h"
#include "tso.h"

#define NBUFS        256 /* 2 KiB each, two per DMA page */
#define BUF_BYTES    2048
#define BATCH        32
#define REPORT_EVERY 1000 /* ms between counter lines, when something changed */

struct config {
	uint8_t ip[4];
	enum netdev_mode mode;
	bool csum_offload;
	uint32_t fault_after;
	bool fault_second; /* fault-kind id */
	uint32_t bench;
	struct tso_job tso;
};

static struct netdev_buf bufs[NBUFS];

/* Up to 6 decimal digits. */
static bool config_number(const char *v, uint32_t vn, uint32_t *out)
{
	*out = 0;
	for (uint32_t i = 0; i < vn; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		*out = *out * 10 + (uint32_t)(v[i] - '0');
	}
	return vn > 0 && vn <= 6;
}

/* One "key value" line of the configuration; false if not understood. */
static bool config_line(struct config *c, const char *s, uint32_t n)
{
	uint32_t k = 0;

	while (k < n && s[k] != ' ')
		k++;
	const char *v = s + k + 1;
	uint32_t vn = k < n ? n - k - 1 : 0;
	if (k == 2 && !strncmp(s, "ip", 2))
		return responder_parse_ip(v, vn, c->ip);
	if (k == 4 && !strncmp(s, "mode", 4) && vn > 0) {
		c->mode = vn == 3 && !strncmp(v, "irq", 3) ? NETDEV_IRQ : NETDEV_POLLED;
		return (vn == 3 && !strncmp(v, "irq", 3)) || (vn == 6 && !strncmp(v, "polled", 6));
	}
	if (k == 4 && !strncmp(s, "csum", 4) && vn > 0) {
		c->csum_offload = vn == 7 && !strncmp(v, "offload", 7);
		return c->csum_offload || (vn == 4 && !strncmp(v, "soft", 4));
	}
	if (k == 11 && !strncmp(s, "fault-after", 11))
		return config_number(v, vn, &c->fault_after);
	if (k == 10 && !strncmp(s, "fault-kind", 10) && vn > 0) {
		c->fault_second = vn == 2 && !strncmp(v, "id", 2);
		return (vn == 2 && !strncmp(v, "id", 2)) || (vn == 3 && !strncmp(v, "idx", 3));
	}
	if (k == 8 && !strncmp(s, "tso-peer", 8))
		return responder_parse_ip(v, vn, c->tso.peer);
	if (k == 8 && !strncmp(s, "tso-port", 8)) {
		uint32_t port;
		bool ok = config_number(v, vn, &port) && port > 0 && port < 65536;
		c->tso.port = (uint16_t)port;
		return ok;
	}
	if (k == 9 && !strncmp(s, "tso-bytes", 9))
		return config_number(v, vn, &c->tso.bytes);
	if (k == 5 && !strncmp(s, "bench", 5))
		return config_number(v, vn, &c->bench);
	return n == 0 || s[0] == '#';
}

static bool config_read(const struct hl_bootinfo *bi, struct config *c)
{
	struct cpio_entry e;
	int line = 1;

	*c = (struct config){.ip = {198, 18, 0, 2}, .mode = NETDEV_POLLED, .tso.port = 5001};
	if (cpio_find((const uint8_t *)bi->initrd_vaddr, bi->initrd_size, "etc/netecho.conf", &e) !=
	    CPIO_OK)
		return true; /* the defaults */
	const char *s = (const char *)e.data;
	for (size_t at = 0; at < e.size; line++) {
		size_t end = at;
		while (end < e.size && s[end] != '\n')
			end++;
		if (!config_line(c, s + at, (uint32_t)(end - at))) {
			rt_printf("netecho: etc/netecho.conf:%d: not understood\n", line);
			return false;
		}
		at = end + 1;
	}
	return true;
}

/* A NIC driver netecho can use: how to recognise, open and (in tests) break its device. */
struct nic_driver {
	const char *bench_name; /* for BENCH lines; NULL: the model's first word */
	bool (*matches)(uint16_t vendor, uint16_t device);
	struct netdev *(*open)(hl_cptr_t dev, uint16_t bdf, int *err);
	struct netdev *(*pair)(struct netdev *nd, unsigned i); /* NULL: one queue pair */
	bool (*inject)(struct netdev *nd, bool second);        /* fault-after */
	bool (*raise)(struct netdev *nd); /* bench in irq mode: the device interrupts now */
};

static bool virtio_inject(struct netdev *nd, bool second)
{
	return virtio_net_inject_fault(nd, second ? VIRTIO_NET_FAULT_SECOND_ID
	                                          : VIRTIO_NET_FAULT_USED_IDX);
}

static bool e1000_inject(struct netdev *nd, bool second)
{
	return e1000_inject_fault(nd, second ? E1000_INJECT_LENGTH : E1000_INJECT_STRAY);
}

static const struct nic_driver drivers[] = {
    {"virtio", virtio_net_matches, virtio_net_open, virtio_net_pair, virtio_inject, NULL},
    {NULL, e1000_matches, e1000_open, NULL, e1000_inject, e1000_raise_irq},
};

/* The first function some driver handles: its capability and driver, or 0. */
static hl_cptr_t find_nic(const struct hl_bootinfo *bi, uint16_t *bdf,
                          const struct nic_driver **drv)
{
	for (uint32_t i = 0; i < bi->npci; i++) {
		for (unsigned d = 0; d < sizeof(drivers) / sizeof(drivers[0]); d++) {
			if (!drivers[d].matches(bi->pci[i].vendor, bi->pci[i].device))
				continue;
			hl_cptr_t s = rt_slot();
			if (s && hl_pci_control_issue(HL_SLOT_PCI_CONTROL, i, s) == HL_OK) {
				*bdf = bi->pci[i].bdf;
				*drv = &drivers[d];
				return s;
			}
		}
	}
	return 0;
}

/* The BENCH name of the device: the driver's, or the model's first word ("e1000e"). */
static const char *bench_name(const struct nic_driver *drv, const struct netdev *nd)
{
	static char name[16];
	size_t n = 0;

	if (drv->bench_name)
		return drv->bench_name;
	while (n + 1 < sizeof(name) && nd->info.model[n] && nd->info.model[n] != ' ')
		name[n] = nd->info.model[n], n++;
	name[n] = 0;
	return name;
}

static bool bufs_init(hl_cptr_t dev)
{
	for (int i = 0; i < NBUFS; i += 2) {
		void *va;
		uint64_t pa;
		if (drv_dma_page(dev, &va, &pa))
			return false;
		for (int j = 0; j < 2; j++)
			bufs[i + j] = (struct netdev_buf){.data = (uint8_t *)va + j * BUF_BYTES,
			                                  .paddr = pa + (uint64_t)j * BUF_BYTES,
			                                  .cap = BUF_BYTES};
	}
	return true;
}

/* The device's queue pairs (nic_driver.pair), and what each received. */
static struct netdev *pairs[VIRTIO_NET_MAX_PAIRS];
static int npairs;
static uint64_t pair_rx[VIRTIO_NET_MAX_PAIRS];

/* Buffers a failed rx_post left with us (the device faulted meanwhile); counted back by recover().
 */
static int held;

/* Replies that found the transmit ring full (each retried until it had room, see send_all). */
static uint64_t tx_full;

/* Lend buffers for receiving again; those the driver refuses stay with us (held). */
static int relend(struct netdev *nd, struct netdev_buf **b, int n)
{
	for (int i = 0; i < n; i++)
		b[i]->flags = 0, b[i]->off = 0, b[i]->len = 0;
	int posted = n ? nd->ops->rx_post(nd, b, n) : 0;
	if (posted < n) {
		held += n - (posted > 0 ? posted : 0);
		if (posted >= 0)
			rt_printf("netecho: the receive ring took %d of %d buffers\n", posted, n);
	}
	return posted;
}

/*
 * tx all n frames (one buffer each); while the ring is full, take sent
 * buffers back (lending them for receiving) and try again, for up to about
 * a second. Returns how many were sent, or an error.
 */
static int send_all(struct netdev *nd, struct netdev_buf **out, int n)
{
	int sent = nd->ops->tx(nd, out, n);
	uint64_t end = drv_rdtsc() + drv_ms_to_tsc(1000);

	while (sent >= 0 && sent < n && drv_rdtsc() < end) {
		struct netdev_buf *done[BATCH];
		tx_full++;
		int k = nd->ops->tx_reclaim(nd, done, BATCH);
		if (k < 0)
			return k;
		if (relend(nd, done, k) == NETDEV_ERR_DEVICE)
			return NETDEV_ERR_DEVICE;
		int more = nd->ops->tx(nd, out + sent, n - sent);
		if (more < 0)
			return more;
		sent += more;
	}
	return sent;
}

/*
 * Answer what arrived; replies go out from the buffers they came in, and
 * every buffer sent or not answered is lent for receiving again. Returns
 * the buffers handled, or NETDEV_ERR_DEVICE.
 */
static int serve(struct netdev *nd, int q, struct responder *r)
{
	static bool in_frame; /* the last buffer seen said NETDEV_BUF_MORE */
	struct netdev_buf *in[BATCH], *out[BATCH], *back[2 * BATCH];
	int nin = nd->ops->rx_poll(nd, in, BATCH), nout = 0, nback = 0;

	if (nin < 0)
		return nin;
	pair_rx[q] += (uint64_t)nin;
	for (int i = 0; i < nin; i++) {
		struct netdev_buf *b = in[i];
		uint16_t len;
		struct responder_csum cs;
		/* Part of a merged frame: too big for ARP or for a ping of at most 1500 bytes. */
		bool whole = !in_frame && !(b->flags & (NETDEV_BUF_MORE | NETDEV_BUF_DROPPED));
		bool trusted = b->flags & (NETDEV_BUF_CSUM_VALID | NETDEV_BUF_CSUM_NONE);
		in_frame = b->flags & NETDEV_BUF_MORE;
		if (whole &&
		    responder_reply(r, b->data + b->off, b->len, trusted, &len, &cs) != RESP_DROP) {
			b->len = len;
			b->flags = cs.needed ? NETDEV_BUF_CSUM : 0;
			b->csum_start = cs.start, b->csum_offset = cs.offset;
			out[nout++] = b;
		} else {
			r->dropped += !whole;
			back[nback++] = b;
		}
	}
	int sent = nout ? send_all(nd, out, nout) : 0;
	for (int i = sent < 0 ? 0 : sent; i < nout; i++)
		back[nback++] =
		    out[i]; /* the ring stayed full, or the device faulted: not answered */
	int done = nd->ops->tx_reclaim(nd, out, BATCH);
	for (int i = 0; i < done; i++)
		back[nback++] = out[i];
	int posted = relend(nd, back, nback);
	if (sent == NETDEV_ERR_DEVICE || done == NETDEV_ERR_DEVICE || posted == NETDEV_ERR_DEVICE)
		return NETDEV_ERR_DEVICE;
	return nin + (done > 0 ? done : 0);
}

/* Lend the first half of the pool for receiving, split between the pairs; returns how many were
 * taken. */
static int post_pool(void)
{
	struct netdev_buf *p[NBUFS / 2];
	int per = NBUFS / 2 / npairs, total = 0;

	for (int q = 0; q < npairs; q++) {
		int n = pairs[q]->info.rx_slots < per ? pairs[q]->info.rx_slots : per;
		for (int i = 0; i < n; i++) {
			struct netdev_buf *b = &bufs[q * per + i];
			b->off = 0, b->len = 0, b->flags = 0;
			p[i] = b;
		}
		int got = pairs[q]->ops->rx_post(pairs[q], p, n);
		if (got < 0)
			return got;
		total += got;
	}
	return total;
}

/* Every buffer a pair still holds after a fault (its one NETDEV_ERR_DEVICE report skipped). */
static int drain_pair(struct netdev *nd)
{
	struct netdev_buf *b[BATCH];
	int back = 0, n, reports = 0;

	while ((n = nd->ops->rx_poll(nd, b, BATCH)) > 0 ||
	       (n == NETDEV_ERR_DEVICE && reports++ < 1))
		back += n > 0 ? n : 0;
	while ((n = nd->ops->tx_reclaim(nd, b, BATCH)) > 0 ||
	       (n == NETDEV_ERR_DEVICE && reports++ < 2))
		back += n > 0 ? n : 0;
	return back;
}

/* After NETDEV_ERR_DEVICE (the driver has stopped the device): take every buffer back, restart,
 * repost. */
static int recover(enum netdev_mode mode, int posted)
{
	int back = held; /* those serve() could not lend again */

	held = 0;
	for (int q = 0; q < npairs; q++)
		back += drain_pair(pairs[q]);
	int err = pairs[0]->ops->start(pairs[0], mode);
	int again = err ? err : post_pool();
	rt_printf("netecho: device fault %lu: %d of %d buffers back, restart %s, %d receive "
	          "buffers posted\n",
	          pairs[0]->errors, back, posted, err ? "FAILED" : "ok", again);
	return err ? err : again;
}

/* Interrupt mode: arm every pair; true if any already has work (then poll rather than wait). */
static bool arm_all(void)
{
	bool pending = false;

	for (int q = 0; q < npairs; q++)
		pending |= pairs[q]->ops->irq_arm(pairs[q]);
	return pending;
}

int main(struct rt *rt)
{
	struct config c;
	struct responder r = {0};
	uint16_t bdf = 0;
	int err = 0;

	if (!config_read(rt->bi, &c))
		return 1;
	const struct nic_driver *drv = NULL;
	hl_cptr_t dev = find_nic(rt->bi, &bdf, &drv);
	struct netdev *nd = dev ? drv->open(dev, bdf, &err) : NULL;
	if (!nd) {
		rt_printf("netecho: no usable network device (%s, error %d)\n",
		          dev ? "open failed" : "none found", err);
		return 1;
	}
	err = bufs_init(dev) ? nd->ops->start(nd, c.mode) : NETDEV_ERR_NOMEM;
	if (err == NETDEV_ERR_INVALID && c.mode == NETDEV_IRQ) {
		/* The driver said why (no MSI, no routed INTx line): serve polled instead. */
		rt_printf("netecho: interrupt mode refused (%d); running polled\n", err);
		c.mode = NETDEV_POLLED;
		err = nd->ops->start(nd, c.mode);
	}
	if (err) {
		rt_printf("netecho: start failed: %d\n", err);
		return 1;
	}
	for (npairs = 0; npairs < VIRTIO_NET_MAX_PAIRS &&
	                 (pairs[npairs] = drv->pair     ? drv->pair(nd, (unsigned)npairs)
	                                  : npairs == 0 ? nd
	                                                : NULL);)
		npairs++;
	int posted = post_pool();
	if (c.bench && c.mode == NETDEV_IRQ) {
		const char *name = bench_name(drv, nd);
		if (!drv->raise) {
			rt_printf("netecho: bench: no interrupt benchmark for %s\n", name);
			return 1;
		}
		return netbench_irq(nd, name, strcmp(name, "e1000") ? "msix" : "intx", drv->raise,
		                    c.bench)
		           ? 1
		           : 0;
	}
	if (c.bench)
		return netbench_run(nd, bench_name(drv, nd), bufs + NBUFS / 2, NBUFS / 2, c.bench)
		           ? 1
		           : 0;
	memcpy(r.mac, nd->info.mac, 6);
	memcpy(r.ip, c.ip, 4);
	r.csum_offload = c.csum_offload && (nd->info.offloads & NETDEV_OFF_TX_CSUM);
	rt_printf("netecho: answering ARP and ping for %u.%u.%u.%u, %d receive buffers posted, "
	          "checksums %s\n",
	          r.ip[0], r.ip[1], r.ip[2], r.ip[3], posted,
	          r.csum_offload ? "by the device" : "by the CPU");
	if (c.tso.bytes && tso_send(nd, &r, bufs + NBUFS / 2, NBUFS / 2, &c.tso))
		rt_printf("netecho: tso: FAILED\n");
	uint64_t next_report = drv_rdtsc() + drv_ms_to_tsc(REPORT_EVERY), reported = 0, wakeups = 0;
	for (;;) {
		if (c.fault_after && r.echo >= c.fault_after && nd->errors == 0)
			drv->inject(nd, c.fault_second); /* until seen: the device may rewrite it */
		int n = 0;
		for (int q = 0; q < npairs && n >= 0; q++) {
			int k = serve(pairs[q], q, &r);
			n = k < 0 ? k : n + k;
		}
		if (n == NETDEV_ERR_DEVICE && (n = recover(c.mode, posted)) >= 0)
			continue;
		if (n < 0) {
			rt_printf("netecho: driver error %d; stopping\n", n);
			return 1;
		}
		if (drv_rdtsc() > next_report && r.arp + r.echo + r.dropped != reported) {
			reported = r.arp + r.echo + r.dropped;
			rt_printf("netecho: arp %lu, echo %lu, dropped %lu, received per pair %lu "
			          "%lu %lu "
			          "%lu, tx ring full %lu, wakeups %lu\n",
			          r.arp, r.echo, r.dropped, pair_rx[0], pair_rx[1], pair_rx[2],
			          pair_rx[3], tx_full, wakeups);
			next_report = drv_rdtsc() + drv_ms_to_tsc(REPORT_EVERY);
		}
		if (n == 0 && c.mode == NETDEV_IRQ && !arm_all()) {
			hl_word_t info = 0, badge = 0;
			struct hl_msg m = {{0}};
			hl_syscall(HL_SYS_RECV, nd->notify, &info, &m, &badge);
			wakeups++;
		}
	}
}
