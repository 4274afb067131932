/* CRC-32C (Castagnoli), used for log frames and by the Kafka batch check. */
#ifndef STORE_CRC32C_H
#define STORE_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continue a CRC-32C over n bytes. Start with crc = 0; chaining calls gives
 * the same result as one call over the concatenation. */
uint32_t store_crc32c(uint32_t crc, const void *data, size_t n);
/* The same in portable C (slicing-by-8), whatever the CPU: store_crc32c uses
 * the SSE4.2 crc32 instruction when CPUID reports it (tests compare both). */
uint32_t store_crc32c_sw(uint32_t crc, const void *data, size_t n);

#endif
