/* Host stand-in for the Linux personality's platform (tests/host/linux/lx_host.c). */
#ifndef LX_HOST_H
#define LX_HOST_H

#include "linux/lx.h"

/* Free every page (between cases and fuzz inputs). */
void lx_host_reset(void);
uint32_t lx_host_pages(void);

#endif
