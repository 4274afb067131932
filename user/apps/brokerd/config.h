/*
 * brokerd's configuration: the manifest's `config KEY=VALUE` lines of its
 * partition (or, as a root task, the lines of etc/brokerd.conf). Pure (no
 * system calls): host-tested (tests/host/brokerd). Keys and defaults are
 * listed in docs/serve.md "brokerd".
 */
#ifndef BROKERD_CONFIG_H
#define BROKERD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROKERD_HOST_MAX 64

struct brokerd_config {
	bool dhcp;
	uint32_t addr, mask, gw;         /* host byte order */
	uint16_t port;                   /* Kafka listener */
	char adv_host[BROKERD_HOST_MAX]; /* empty: the own address */
	uint16_t adv_port;               /* 0: port */
	uint32_t partitions;             /* per auto-created topic */
	uint32_t flush_ms;               /* most age of unflushed data */
	uint32_t arena_mib;              /* the store's DMA arena, 2 MiB chunks */
	bool polled;                     /* never sleep on the NIC's interrupt */
	bool format;                     /* format the disk whatever is on it */
	bool copy_fetch;                 /* zero-copy=off: the NIC gets copies of stored bytes */
	int log_level;                   /* FLOO_LOG_* numbering: 0 err, 1 info, 2 debug */
};

void brokerd_config_default(struct brokerd_config *c);
/* Apply one key=value; false (c unchanged for that key) if the key is
 * unknown or the value is out of range or malformed. */
bool brokerd_config_set(struct brokerd_config *c, const char *key, size_t klen, const char *val,
                        size_t vlen);
/* Lines "key=value" (blank lines and '#' comments skipped) of s[0..n).
 * Returns 0 or the number of the first line not understood. */
int brokerd_config_parse(const char *s, size_t n, struct brokerd_config *c);

#endif
