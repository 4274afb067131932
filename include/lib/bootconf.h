/*
 * etc/boot.conf, the root task's list of programs to start (one line each):
 *
 *     # comment
 *     program NAME [priority P] [cpu C] [memory KIB]
 *
 * Words are separated by spaces or tabs. P < 256 (default 50), C any
 * uint32 (default 0; the root task checks it against the CPU count),
 * KIB >= 64 (default 1024). Numbers are decimal and must fit in 32 bits;
 * a word that does not fit its buffer (a NAME of 64 bytes or more) makes
 * the line an error rather than being cut short.
 * lib/bootconf.c; freestanding, host-tested and fuzzed. Untrusted input.
 */
#ifndef LIB_BOOTCONF_H
#define LIB_BOOTCONF_H

#include <stdint.h>

#define BOOTCONF_NAME_MAX	  64 /* buffer size, with the NUL */
#define BOOTCONF_DEFAULT_PRIORITY 50
#define BOOTCONF_DEFAULT_CPU	  0
#define BOOTCONF_DEFAULT_MEM_KIB  1024
#define BOOTCONF_PRIORITY_LIMIT	  256 /* priorities are below this */
#define BOOTCONF_MIN_MEM_KIB	  64

struct bootconf_prog {
	char name[BOOTCONF_NAME_MAX]; /* NUL-terminated, never empty when parsed */
	uint32_t priority, cpu, mem_kib;
};

/*
 * Parse the line [s, end) (without its newline; a '\n' inside ends it).
 * Reads nothing outside [s, end). Returns 1 for a program line (*p filled),
 * 0 for a blank or comment line, -1 for anything else (*p undefined).
 */
int bootconf_parse_line(const char *s, const char *end, struct bootconf_prog *p);

#endif
