/* Reboot, power-off and the test-exit device (arch/x86_64/power.c). */
#ifndef KERNEL_POWER_H
#define KERNEL_POWER_H

#include <kernel/types.h>

__noreturn void power_reboot(void);
__noreturn void power_off(void);
/*
 * In test mode (command line "test-exit"), leave QEMU through the
 * isa-debug-exit device at port 0xf4: QEMU exits with (code << 1) | 1.
 * Codes: 0 all passed, 1 a test failed, 3 panic or fatal trap.
 * Returns (doing nothing) outside test mode.
 */
void power_test_exit(int code);

#endif
