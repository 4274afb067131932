/*
 * A function that is absent or answers all-ones, for the drivers that
 * call the kernel (virtio-net, virtio-blk, e1000) against the fake PCI
 * function of pci_fake.c: at open or start (absent, or BAR 0 all-ones
 * while config space answers) and mid-run (surprise removal). Each ends
 * with the driver's error within a bounded number of clock ticks (every
 * polling loop reads the clock), never an index taken from all-ones
 * (ASan), and the driver's "gone" state: NETDEV_ERR_NODEV from open and
 * start and the link down for a NIC, BLKDEV_E_DEVICE from every call once
 * a block device is dead. docs/drivers.md, "A device that is gone".
 */
#include <stdarg.h>
#include <string.h>

#include "ktharness.h"
#include "e1000.h"
#include "pci_fake.h"
#include "virtio_net.h"
#include <virtio_blk.h>

#define DEV 7 /* the device capability's slot: the fake has one function */

/* Most ticks a driver may take to give up on a function that reads all-ones at once (no 1 s
 * wait: 100,000 ticks of 10 us). */
#define QUICK 200

/* ---- virtio-net ---- */

/*
 * A started NIC with 4 receive buffers posted goes away: nothing arrives,
 * the link reads down, stop hands the buffers back dropped, and start
 * fails with NETDEV_ERR_NODEV, all without a long wait.
 */
static void nic_surprise_removal(struct netdev *nd)
{
	static uint8_t mem[4][2048];
	struct netdev_buf b[4], *bp[4], *out[4];

	CHECK_MSG(nd->ops->start(nd, NETDEV_POLLED) == NETDEV_OK);
	CHECK_MSG(nd->ops->link_up(nd));
	for (int i = 0; i < 4; i++) {
		b[i] = (struct netdev_buf){.data = mem[i], .paddr = (uintptr_t)mem[i], .cap = 2048};
		bp[i] = &b[i];
	}
	CHECK_MSG(nd->ops->rx_post(nd, bp, 4) == 4);
	pf_gone(true);
	pf->ticks = 0;
	CHECK_MSG(nd->ops->rx_poll(nd, out, 4) == 0);
	CHECK_MSG(!nd->ops->link_up(nd), "a gone device's link reads up");
	nd->ops->stop(nd);
	int n = nd->ops->rx_poll(nd, out, 4);
	CHECK_MSG(n == 4 && (out[0]->flags & NETDEV_BUF_DROPPED), "%d buffers back", n);
	CHECK_MSG(nd->ops->start(nd, NETDEV_POLLED) == NETDEV_ERR_NODEV);
	CHECK_MSG(pf->ticks < QUICK, "%lu ticks", pf->ticks);
}

KT_CASE(virtio_net_absent_function_fails_open)
{
	int err = 0;

	pf_new_virtio(VIRTIO_PCI_DEVICE_NET, 2);
	pf_gone(true);
	CHECK_MSG(virtio_net_open(DEV, 0x18, &err) == NULL && err == NETDEV_ERR_NODEV, "err %d",
	          err);
	CHECK_MSG(pf->ticks < QUICK, "%lu ticks", pf->ticks);
	pf_free();
}

/* Bug: virtio_pci_reset waited its whole second for a status that reads 0xff. */
KT_CASE(virtio_reset_waits_out_a_gone_device)
{
	int err = 0;

	pf_new_virtio(VIRTIO_PCI_DEVICE_NET, 2);
	pf_gone(false); /* config space answers, the registers do not */
	CHECK_MSG(virtio_net_open(DEV, 0x18, &err) == NULL && err == NETDEV_ERR_NODEV, "err %d",
	          err);
	CHECK_MSG(pf->ticks < QUICK, "%lu ticks", pf->ticks);
	pf_free();
}

KT_CASE(virtio_net_surprise_removal_mid_run)
{
	int err = 0;

	pf_new_virtio(VIRTIO_PCI_DEVICE_NET, 2);
	struct netdev *nd = virtio_net_open(DEV, 0x18, &err);
	CHECK_MSG(nd != NULL, "open: %d", err);
	if (nd)
		nic_surprise_removal(nd);
	pf_free();
}

/* ---- virtio-blk ---- */

static uint64_t env_now(void *ctx)
{
	return drv_rdtsc() / 1000;
}

static void *env_page(void *ctx, uint64_t *pa)
{
	void *va;

	return drv_dma_page(DEV, &va, pa) ? NULL : va;
}

static int env_bind(void *ctx, unsigned v, unsigned cpu)
{
	return BLKDEV_E_UNSUPPORTED;
}

static int env_wait(void *ctx, unsigned v, uint64_t us)
{
	return BLKDEV_E_TIMEOUT;
}

static void env_log(void *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pf_vlog(fmt, ap);
	va_end(ap);
}

static const struct blkdev_env env = {0, env_page, env_now, env_bind, env_wait, env_log};

KT_CASE(virtio_blk_absent_or_all_ones_fails_start)
{
	static struct virtio_blk vb;

	pf_new_virtio(VIRTIO_PCI_DEVICE_BLK, 1);
	pf_gone(true);
	CHECK_MSG(virtio_blk_start(&vb, DEV, 0x20, &env, 1, BLKDEV_POLLED) == BLKDEV_E_UNSUPPORTED);
	CHECK_MSG(pf->ticks < QUICK, "absent: %lu ticks", pf->ticks);
	pf_free();
	pf_new_virtio(VIRTIO_PCI_DEVICE_BLK, 1);
	pf_gone(false);
	int err = virtio_blk_start(&vb, DEV, 0x20, &env, 1, BLKDEV_POLLED);
	CHECK_MSG(err == BLKDEV_E_TIMEOUT, "registers all-ones: %d", err);
	CHECK_MSG(pf->ticks < QUICK, "registers all-ones: %lu ticks", pf->ticks);
	pf_free();
}

static int ndone;

static void on_done(struct blkdev_req *r)
{
	ndone++;
}

KT_CASE(virtio_blk_surprise_removal_mid_run)
{
	static struct virtio_blk vb;
	void *va;
	uint64_t page;

	pf_new_virtio(VIRTIO_PCI_DEVICE_BLK, 1);
	if (virtio_blk_start(&vb, DEV, 0x20, &env, 1, BLKDEV_POLLED) != BLKDEV_OK ||
	    drv_dma_page(DEV, &va, &page)) {
		CHECK_MSG(!"virtio-blk did not start on the fake");
		pf_free();
		return;
	}
	struct blkdev *d = &vb.dev;
	struct blkdev_req r = {
	    .op = BLKDEV_READ, .lba = 0, .nblocks = 1, .pages = &page, .done = on_done};
	ndone = 0;
	CHECK_MSG(blkdev_submit(d, 0, &r) == BLKDEV_OK);
	pf_gone(true);
	pf->ticks = 0;
	int err = blkdev_wait(d, 0, 50000); /* 50 ms */
	CHECK_MSG(err == BLKDEV_E_TIMEOUT && ndone == 1 && r.status == BLKDEV_E_ABORTED,
	          "wait %d, %d completions, status %d", err, ndone, r.status);
	CHECK_MSG(vb.dead, "the driver's gone state");
	CHECK_MSG(pf->ticks < 5000 + QUICK, "%lu ticks", pf->ticks);
	CHECK_MSG(blkdev_submit(d, 0, &r) == BLKDEV_E_DEVICE);
	CHECK_MSG(blkdev_poll(d, 0, 4) == BLKDEV_E_DEVICE);
	CHECK_MSG(blkdev_wait(d, 0, 1000000) == BLKDEV_E_DEVICE);
	pf_free();
}

/* ---- e1000 ---- */

/* Bug: an e1000 whose registers read all-ones opened with a random MAC (its EEPROM words read
 * 0xffff, RAL0 a multicast address) and started only to fail its reset after 10 ms. */
KT_CASE(e1000_all_ones_opened_with_a_random_mac)
{
	int err = 0;

	pf_new_e1000();
	pf_gone(true); /* pci_device.info still names an 82540EM: the kernel read it at boot */
	CHECK_MSG(e1000_open(DEV, 0x18, &err) == NULL && err == NETDEV_ERR_NODEV, "err %d", err);
	CHECK_MSG(pf->ticks < QUICK, "%lu ticks", pf->ticks);
	pf_free();
}

KT_CASE(e1000_surprise_removal_mid_run)
{
	int err = 0;

	pf_new_e1000();
	struct netdev *nd = e1000_open(DEV, 0x18, &err);
	CHECK_MSG(nd != NULL, "open: %d", err);
	if (nd) {
		CHECK_MSG(nd->info.mac[0] == 0x52 && nd->info.mac[5] == 0x56,
		          "MAC from the EEPROM");
		nic_surprise_removal(nd);
	}
	pf_free();
}
