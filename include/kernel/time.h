/* Time: the TSC is the kernel's clock once calibrated (arch/x86_64/tsc.c). */
#ifndef KERNEL_TIME_H
#define KERNEL_TIME_H

#include <kernel/types.h>

extern uint64_t tsc_hz;   /* 0 until calibrated */
extern uint64_t tsc_boot; /* TSC at kernel entry */

uint64_t time_ns(void);        /* ns since kernel entry (0 before calibration) */
void time_udelay(uint64_t us); /* busy-wait; uses the TSC, or the PIT before calibration */

#endif
