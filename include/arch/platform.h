/* Platform discovery results shared by arch code (arch/x86_64/platform.c). */
#ifndef ARCH_PLATFORM_H
#define ARCH_PLATFORM_H

#include <arch/acpi.h>

extern struct acpi_info acpi; /* zeroed when there is no usable ACPI */
extern bool acpi_ok;

void platform_acpi_init(void);

#endif
