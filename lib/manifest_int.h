/*
 * Internals of the system manifest parser, shared by lib/manifest.c (lines,
 * words, errors, sections, the checks across sections) and
 * lib/manifest_keys.c (the keys of partition and channel sections). Not for
 * use outside lib/.
 */
#ifndef LIB_MANIFEST_INT_H
#define LIB_MANIFEST_INT_H

#include <lib/manifest.h>

#define MAX_WORDS (MANIFEST_ARGS_MAX + 2)

struct word {
	const char *s;
	size_t n;
};

enum section { SEC_NONE, SEC_PARTITION, SEC_CHANNEL, SEC_WINDOW, SEC_SKIP };

/* Keys that may appear once in a section: the line that set each (0 = not yet). */
enum once_key {
	K_MEMORY,
	K_CPUS,
	K_PRIORITY,
	K_BUDGET,
	K_RESTART,
	K_CONTROL,
	K_CONSOLE,
	K_SCREEN,
	K_FROM,
	K_TO,
	K_ENTRIES,
	K_ENTRY_SIZE,
	K_FRAME,
	K_SPARE,
	K_SNAPSHOT,
	K_REFUSE,
	K_COUNT
};

struct parser {
	struct manifest *m;
	struct manifest_arena *a;
	const struct manifest_limits *lim;
	uint32_t line;
	const char *line_end; /* end of the current line (config values run to it) */
	enum section sec;
	struct manifest_partition *part, **part_tail;
	struct manifest_channel *chan, **chan_tail;
	struct manifest_window *win, **win_tail;
	struct manifest_slot **slot_tail;
	struct manifest_error **err_tail;
	uint32_t seen[K_COUNT];
	struct manifest_program **prog_tail;
	struct manifest_device **dev_tail;
	struct manifest_config **conf_tail;
};

/* Bump allocation from the caller's arena (zeroed); NULL and arena_full when it runs out. */
void *manifest_alloc(struct parser *p, size_t n);
/* A NUL-terminated copy of w in the arena (NULL when it runs out). */
const char *manifest_strdup(struct parser *p, struct word w);
/* w as it may be printed: at most 40 bytes, "..." when longer; buf holds 44 bytes. */
const char *manifest_shown(struct word w, char *buf);
/* Record an error at the current line; the section being read is invalid from now on. */
void manifest_error(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool manifest_is_word(struct word w, const char *s);
/* Decimal digits only, at least one, no overflow of 64 bits. */
bool manifest_dec(struct word w, uint64_t *out);
/* Exactly `digits` hexadecimal digits. */
bool manifest_hex(const char *s, size_t n, size_t digits, uint32_t *out);
bool manifest_is_pow2(uint64_t v);
/* A partition or channel name; false (and an error naming `what`) otherwise. */
bool manifest_check_name(struct parser *p, const char *what, struct word w);
/* A key that may appear once per section: false (and an error) when it did already. */
bool manifest_once(struct parser *p, enum once_key k, struct word key);
/* A decimal number in [lo, hi]; false (and an error naming the key) otherwise. */
bool manifest_number(struct parser *p, struct word key, struct word w, uint64_t lo, uint64_t hi,
                     uint64_t *out);
/* n == want words; false (and "expected 'usage'") otherwise. */
bool manifest_nwords(struct parser *p, size_t n, size_t want, const char *usage);

/* lib/manifest_keys.c: the first line of a section, and the keys inside one. */
void manifest_start_partition(struct parser *p, const struct word *w, size_t n);
void manifest_start_channel(struct parser *p, const struct word *w, size_t n);
void manifest_partition_key(struct parser *p, const struct word *w, size_t n);
void manifest_channel_key(struct parser *p, const struct word *w, size_t n);
/* Pass 2: snapshot declarations against the partition's channels, devices and programs. */
void manifest_check_snapshots(struct parser *p);
/* A time: a number and "us" or "ms", at most MANIFEST_PERIOD_MAX_US, in microseconds. */
bool manifest_duration(struct word w, uint64_t *us);

/* lib/manifest_windows.c: "window cpu N" sections, and their checks across sections. */
void manifest_start_window(struct parser *p, const struct word *w, size_t n);
void manifest_window_key(struct parser *p, const struct word *w, size_t n);
/* Pass 2: slots and spares resolved, sorted, inside the frame, not overlapping, on CPUs their
 * partitions run on; every partition on a CPU with windows has a slot there. */
void manifest_check_windows(struct parser *p);
/* Report at a line without marking anything (the caller marks what is invalid). */
void manifest_error_at(struct parser *p, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct manifest_partition *manifest_find_partition(struct manifest *m, const char *name);

#endif
