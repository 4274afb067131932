/* netecho's benchmark mode: driver path length per packet (see docs/drivers.md, Benchmark). */
#ifndef NETECHO_BENCH_H
#define NETECHO_BENCH_H

#include <drivers/netdev.h>

/*
 * With the device looped back (QEMU -netdev socket to itself): send and
 * receive iters frames one at a time, then batches of 32, and print BENCH
 * lines with the instructions (TSC ticks under -icount shift=0) spent in
 * the driver per packet. tx[0..ntx) are free buffers (ntx >= 32).
 * Returns 0, or -1 if a frame did not come back.
 */
/* dev names the device in the BENCH lines ("virtio", "e1000", "e1000e"). */
int netbench_run(struct netdev *nd, const char *dev, struct netdev_buf *tx, int ntx,
                 uint32_t iters);

/*
 * Interrupt mode (nd started with NETDEV_IRQ): iters interrupts raised by
 * raise() (the device's own cause-set register), each timed from the raise
 * to the moment a waiting driver thread runs, and the re-arm after it;
 * BENCH lines netdrv.hallows.<dev>_<kind>_to_thread_instructions and
 * _rearm_instructions. 0, or -1 if an interrupt never came.
 */
int netbench_irq(struct netdev *nd, const char *dev, const char *kind,
                 bool (*raise)(struct netdev *nd), uint32_t iters);

#endif
