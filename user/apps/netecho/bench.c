/*
 * Driver path length per packet. Under TCG with -icount shift=0 the guest
 * TSC advances one tick per instruction, so a TSC delta around a driver
 * call is the instructions it executed (docs/benchmarks.md). Only calls
 * that moved a packet are counted; the spinning in between is not.
 *
 *   sent:      tx(1 frame)  + tx_reclaim(that frame), and per frame of a
 *              tx(32 frames) + the tx_reclaim calls that took them back
 *   received:  rx_poll(1)   + rx_post(the buffer again); how many frames
 *              wait at each poll depends on host timing, so receiving is
 *              measured one frame per call only (deterministic)
 *
 * In interrupt mode (netbench_irq) the path from the device's interrupt to
 * the driver thread instead: a waiter thread of higher priority blocks on
 * the netdev's notification; the main thread has the device raise an
 * interrupt through its own cause-set register and stamps the TSC; the
 * waiter stamps it when it runs. Then the waiter re-arms (irq_arm: the
 * cause cleared, an INTx line acknowledged), counted apart.
 */
#include "bench.h"
#include "drivers/drv_env.h"
#include <hallows/rt.h>
#include <lib/string.h>

#define WARMUP     64
#define FRAME      60
#define BATCH      32
#define SPIN_LIMIT 100000000ull /* instructions to wait for a frame before giving up */
/*
 * The first frame may wait longer: QEMU's e1000 model holds received
 * frames back for 1 s of virtual time after RCTL is written (1e9
 * instructions under -icount shift=0).
 */
#define FIRST_SPIN_LIMIT 3000000000ull

static uint64_t spin_limit = FIRST_SPIN_LIMIT;
#define ETHERTYPE_HI 0x88 /* 0x88b5: IEEE local experimental */
#define ETHERTYPE_LO 0xb5

struct tally {
	uint64_t tx, rx, frames;
};

static void frame_fill(struct netdev_buf *b, const uint8_t mac[6], uint32_t seq)
{
	memset(b->data, 0xff, 6);
	memcpy(b->data + 6, mac, 6);
	b->data[12] = ETHERTYPE_HI, b->data[13] = ETHERTYPE_LO;
	memset(b->data + 14, 0, FRAME - 14);
	memcpy(b->data + 14, &seq, 4);
	b->off = 0, b->len = FRAME, b->flags = 0;
}

/* Receive one frame (counting only the call that got it) and lend the buffer again; the frame's
 * seq, or -1. */
static int64_t rx_one(struct netdev *nd, struct tally *t, uint64_t ovh)
{
	struct netdev_buf *in[1];
	uint64_t end = drv_rdtsc() + spin_limit;

	for (;;) {
		uint64_t t0 = drv_rdtsc();
		int n = nd->ops->rx_poll(nd, in, 1);
		uint64_t t1 = drv_rdtsc();
		if (n < 0 || t1 > end)
			return -1;
		if (n == 1) {
			uint32_t seq;
			bool ours =
			    in[0]->len == FRAME && in[0]->data[in[0]->off + 12] == ETHERTYPE_HI;
			memcpy(&seq, in[0]->data + in[0]->off + 14, 4);
			in[0]->off = 0, in[0]->len = 0, in[0]->flags = 0;
			uint64_t t2 = drv_rdtsc();
			int p = nd->ops->rx_post(nd, in, 1);
			uint64_t t3 = drv_rdtsc();
			t->rx += (t1 - t0 - ovh) + (t3 - t2 - ovh);
			if (p != 1)
				return -1;
			spin_limit = SPIN_LIMIT;                   /* frames flow */
			return ours ? seq : (int64_t)0xffffffffff; /* someone else's frame: not
			                                              ours, keep going */
		}
	}
}

/* Reclaim exactly n sent buffers (counting only calls that returned some). */
static bool reclaim(struct netdev *nd, int n, struct tally *t, uint64_t ovh)
{
	struct netdev_buf *out[2 * BATCH];
	uint64_t end = drv_rdtsc() + SPIN_LIMIT;

	while (n > 0) {
		uint64_t t0 = drv_rdtsc();
		int got = nd->ops->tx_reclaim(nd, out, 2 * BATCH);
		uint64_t t1 = drv_rdtsc();
		if (got < 0 || t1 > end)
			return false;
		if (got > 0)
			t->tx += t1 - t0 - ovh;
		n -= got;
	}
	return true;
}

/* Send k frames in one tx call, receive them back, reclaim them. */
static bool round_trip(struct netdev *nd, struct netdev_buf *tx, int k, uint32_t seq,
                       struct tally *t, uint64_t ovh)
{
	struct netdev_buf *b[BATCH];

	for (int i = 0; i < k; i++) {
		frame_fill(&tx[i], nd->info.mac, seq + (uint32_t)i);
		b[i] = &tx[i];
	}
	uint64_t t0 = drv_rdtsc();
	int sent = nd->ops->tx(nd, b, k);
	uint64_t t1 = drv_rdtsc();
	if (sent != k)
		return false;
	t->tx += t1 - t0 - ovh;
	for (int got = 0; got < k;) {
		int64_t s = rx_one(nd, t, ovh);
		if (s < 0)
			return false;
		if (s == seq + (uint32_t)got)
			got++;
		else if (s != (int64_t)0xffffffffff)
			return false; /* lost or reordered on the loop */
	}
	t->frames += (uint64_t)k;
	return reclaim(nd, k, t, ovh);
}

/* Sent per packet for a tx call of `batch` frames; received per packet (always polled one at a
 * time). */
static void report(const char *dev, const struct tally *t, int batch, bool rx)
{
	rt_printf("BENCH netdrv.hallows.%s_tx_batch%d_instructions %lu instructions "
	          "packets=%lu frame=%d\n",
	          dev, batch, t->tx / t->frames, t->frames, FRAME);
	if (rx)
		rt_printf("BENCH netdrv.hallows.%s_rx_instructions %lu instructions "
		          "packets=%lu frame=%d rx_batch=1\n",
		          dev, t->rx / t->frames, t->frames, FRAME);
}

int netbench_run(struct netdev *nd, const char *dev, struct netdev_buf *tx, int ntx, uint32_t iters)
{
	uint64_t a = drv_rdtsc(), b = drv_rdtsc(), ovh = b - a; /* the measuring itself */
	struct tally one = {0}, many = {0}, warm = {0};
	uint32_t seq = 1;

	if (ntx < BATCH || iters == 0)
		return -1;
	for (int i = 0; i < WARMUP; i++, seq++)
		if (!round_trip(nd, tx, 1, seq, &warm, ovh))
			goto lost;
	for (uint32_t i = 0; i < iters; i++, seq++)
		if (!round_trip(nd, tx, 1, seq, &one, ovh))
			goto lost;
	for (uint32_t i = 0; i < (iters + BATCH - 1) / BATCH; i++, seq += BATCH)
		if (!round_trip(nd, tx, BATCH, seq, &many, ovh))
			goto lost;
	report(dev, &one, 1, true);
	report(dev, &many, BATCH, false);
	rt_printf("BENCH-DONE\n");
	return 0;
lost:
	rt_printf("netecho: bench: frame %u did not come back (is the device looped back?)\n", seq);
	return -1;
}

static struct netdev *irq_nd;
static volatile uint64_t irq_woke, irq_rearm;

static void irq_waiter(void *arg)
{
	(void)arg;
	for (;;) {
		uint64_t t0 = drv_rdtsc();
		irq_nd->ops->irq_arm(irq_nd);
		uint64_t t1 = drv_rdtsc();
		irq_rearm += t1 - t0;
		hl_word_t info = 0, badge = 0;
		struct hl_msg m = {{0}};
		hl_syscall(HL_SYS_RECV, irq_nd->notify, &info, &m, &badge);
		irq_woke = drv_rdtsc();
	}
}

int netbench_irq(struct netdev *nd, const char *dev, const char *kind,
                 bool (*raise)(struct netdev *nd), uint32_t iters)
{
	/* The root task runs at 200: the waiter too, and we drop to 199. */
	static struct rt_thread w;
	uint64_t sum = 0, a = drv_rdtsc(), b = drv_rdtsc(), ovh = b - a;

	irq_nd = nd;
	if (iters == 0 || rt_thread_start(&w, irq_waiter, NULL, 200) != HL_OK ||
	    hl_thread_set_priority(HL_SLOT_THREAD, 199) != HL_OK) {
		rt_printf("netecho: bench: cannot start the interrupt waiter\n");
		return -1;
	}
	for (uint32_t i = 0; i < WARMUP + iters; i++) {
		/* QEMU's e1000 and e1000e models hold any interrupt back for at least 128 us after
		 * the last (the 82540's 7,813 interrupts/s ceiling, whatever ITR says): leave 300
		 * us between raises so each is delivered at once and only the path is counted. */
		for (uint64_t gap = drv_rdtsc() + drv_ms_to_tsc(1) * 3 / 10; drv_rdtsc() < gap;)
			;
		uint64_t end = drv_rdtsc() + SPIN_LIMIT;
		irq_woke = 0;
		if (i == WARMUP)
			irq_rearm = 0;
		uint64_t t0 = drv_rdtsc();
		if (!raise(nd))
			return -1;
		while (!irq_woke && drv_rdtsc() < end)
			hl_yield(); /* the interrupt is taken at once; a safety net */
		if (!irq_woke) {
			rt_printf("netecho: bench: no interrupt from the device\n");
			return -1;
		}
		if (i >= WARMUP)
			sum += irq_woke - t0 - ovh;
	}
	hl_thread_suspend(w.tcb);
	rt_printf("BENCH netdrv.hallows.%s_%s_to_thread_instructions %lu instructions "
	          "interrupts=%u from=cause-set-register-write to=driver-thread-running\n",
	          dev, kind, sum / iters, iters);
	rt_printf("BENCH netdrv.hallows.%s_%s_rearm_instructions %lu instructions "
	          "interrupts=%u counted=irq_arm\n",
	          dev, kind, irq_rearm / iters, iters);
	rt_printf("BENCH-DONE\n");
	return 0;
}
