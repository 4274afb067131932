/* CRC-32C (Castagnoli), used for log frames and by the Kafka batch check. */
#ifndef STORE_CRC32C_H
#define STORE_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over n bytes. Start with crc = 0; chaining calls gives
 * the same result as one call over the concatenation. */
uint32_t store_crc32c(uint32_t crc, const void *data, size_t n);

#endif
