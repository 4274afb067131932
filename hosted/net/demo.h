/* floo-demo services shared between its files. */
#ifndef FLOO_DEMO_H
#define FLOO_DEMO_H

#include "floo/floo.h"

/* Register the HTTP/1.1 server on port. */
int demo_http_start(struct floo_stack *st, uint16_t port);
/* Byte i of /bytes/N. */
static inline uint8_t demo_pattern_byte(uint64_t i)
{
	return (uint8_t)(i % 251);
}

#endif
