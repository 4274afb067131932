/* The root task: the first ring-3 program, from the boot module (kernel/root.c). */
#ifndef KERNEL_ROOT_H
#define KERNEL_ROOT_H

#include <kernel/types.h>

/* Build and start the root task; false (with a warning) if there is no usable init. */
bool root_task_start(void) __must_check;

#endif
