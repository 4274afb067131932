/* floo-demo services shared between its files. */
#ifndef FLOO_DEMO_H
#define FLOO_DEMO_H

#include "floo/floo.h"

/* Register the HTTP/1.1 server on port. */
int demo_http_start(struct floo_stack *st, uint16_t port);

#endif
