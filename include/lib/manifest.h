/*
 * The system manifest (docs/manifest.md): partitions, the devices they own,
 * the channels between them and the configuration handed to each.
 * lib/manifest.c parses and validates it; freestanding, host-tested and
 * fuzzed. Untrusted input.
 *
 * Everything the parser makes (strings, lists, error messages) lives in a
 * caller-provided arena; nothing else is allocated and the input is only
 * read. A partition with an error anywhere in its section, or at an end of
 * a channel that has one, is marked invalid (is_valid = false) and must not
 * be started; every error is listed once, with its line, in order.
 */
#ifndef LIB_MANIFEST_H
#define LIB_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MANIFEST_NAME_MAX       32  /* partition and channel names, with the NUL */
#define MANIFEST_PATH_MAX       64  /* program paths in the boot module, with the NUL */
#define MANIFEST_ARGS_MAX       16  /* argv entries of one program, the path included */
#define MANIFEST_ARG_MAX        128 /* one argument, with the NUL */
#define MANIFEST_KEY_MAX        32  /* config keys, with the NUL */
#define MANIFEST_VALUE_MAX      256 /* config values, with the NUL */
#define MANIFEST_MSG_MAX        160 /* one error message, with the NUL */
#define MANIFEST_CPUS_MAX       64  /* CPU numbers are below this (a 64-bit mask) */
#define MANIFEST_MIN_MEM_KIB    64
#define MANIFEST_PRIORITY_LIM   256 /* priorities are below this */
#define MANIFEST_PERIOD_MIN_US  5   /* the kernel's budget limits (thread set_budget) */
#define MANIFEST_PERIOD_MAX_US  10000000
#define MANIFEST_RING_MAX_BYTES (1u << 20) /* a channel's ring, header included */
#define MANIFEST_DEV_COUNT_MAX  32
#define MANIFEST_WINDOWS_MAX    32       /* slots in one CPU's frame (the kernel's table) */
#define MANIFEST_SLOT_MIN_US    5        /* shortest slot (the kernel's HL_WINDOW_MIN_NS) */
#define MANIFEST_FRAME_MAX_US   10000000 /* longest frame: 10 s */
#define MANIFEST_WINDOW_PARTS   255      /* partitions 1..255 in file order may own slots */
#define MANIFEST_SNAP_MIN_KIB   256      /* the kernel's smallest snapshot object (2^18 bytes) */
#define MANIFEST_SNAP_EXCLUDES                                                                     \
	4                        /* declared exclusions (the kernel takes 8; the runtime uses 3)   \
	                          */
#define MANIFEST_SNAP_PROGRAMS 4 /* address spaces one snapshot covers */

enum manifest_restart { MANIFEST_RESTART_STOP = 0, MANIFEST_RESTART_RESTART = 1 };

enum manifest_dev_kind {
	MANIFEST_DEV_ID = 1,    /* vendor:device */
	MANIFEST_DEV_CLASS = 2, /* class[:subclass[:prog-if]] */
	MANIFEST_DEV_BDF = 3,   /* bus:device.function */
};

struct manifest_device {
	struct manifest_device *next;
	uint32_t line;
	enum manifest_dev_kind kind;
	uint16_t vendor, device; /* MANIFEST_DEV_ID */
	uint8_t class_code, subclass, prog_if,
	    class_bytes;      /* MANIFEST_DEV_CLASS: 1..3 bytes match */
	uint8_t bus, dev, fn; /* MANIFEST_DEV_BDF */
	uint32_t count;       /* how many matching functions (always 1 for a BDF) */
};

struct manifest_program {
	struct manifest_program *next;
	uint32_t line;
	uint32_t argc; /* >= 1; argv[0] is the path in the boot module */
	const char *argv[MANIFEST_ARGS_MAX];
};

struct manifest_config {
	struct manifest_config *next;
	uint32_t line;
	const char *key, *value;
};

enum manifest_snap_kind { MANIFEST_SNAP_CHANNEL = 1, MANIFEST_SNAP_RANGE = 2 };

/* "snapshot exclude channel NAME" / "snapshot exclude range ADDR SIZE" */
struct manifest_snap_exclude {
	struct manifest_snap_exclude *next;
	uint32_t line;
	enum manifest_snap_kind kind;
	const char *channel_name;         /* MANIFEST_SNAP_CHANNEL, as written */
	struct manifest_channel *channel; /* resolved (a channel of this partition) */
	uint64_t vaddr, size;             /* MANIFEST_SNAP_RANGE: page aligned */
};

struct manifest_partition {
	struct manifest_partition *next;
	uint32_t line; /* of its "partition" line */
	const char *name;
	bool is_valid;
	struct manifest_program *programs;
	uint32_t nprograms;
	uint64_t mem_kib; /* a power of two, >= MANIFEST_MIN_MEM_KIB */
	uint64_t cpus;    /* bit n: may run on CPU n; never 0 */
	uint32_t priority;
	uint32_t budget_us, period_us; /* both 0: no budget */
	enum manifest_restart restart;
	bool control; /* may stop and restart partitions (the root task's control endpoint) */
	bool console; /* owns COM1's receive side: its I/O ports and IRQ 4 */
	bool screen;  /* owns the keyboard (i8042, IRQ 1) and the screen the kernel drew on */
	struct manifest_device *devices;
	struct manifest_config *config;
	uint32_t nconfig;
	/* Snapshots (docs/snapshots.md): "snapshot SIZE" makes the root task give the partition a
	 * snapshot object of snap_kib covering its programs' address spaces, with the declared
	 * exclusions; "snapshot refuse" forbids snapshots of its address spaces. */
	uint64_t snap_kib; /* 0: none */
	uint32_t snap_line, refuse_line;
	bool snap_refuse;
	struct manifest_snap_exclude *snap_excludes;
	uint32_t nsnap_excludes;
};

struct manifest_channel {
	struct manifest_channel *next;
	uint32_t line;
	const char *name;
	bool is_valid;
	struct manifest_partition *from, *to; /* producer and consumer (NULL when not resolved) */
	const char *from_name, *to_name;      /* as written (NULL when missing) */
	uint32_t from_line, to_line;
	uint32_t entries;    /* a power of two */
	uint32_t entry_size; /* bytes, a power of two */
};

/* "slot PARTITION at OFFSET for LENGTH" in a window section. */
struct manifest_slot {
	struct manifest_slot *next;
	uint32_t line;
	const char *part_name;           /* as written */
	struct manifest_partition *part; /* resolved (NULL when not) */
	uint64_t offset_us, length_us;
};

/*
 * "window cpu N": CPU N's major frame and its slots (ARINC 653 windows). A
 * partition with threads on a CPU that has a window section runs there only
 * in its slots (or as the spare); the root task installs the table with
 * sched_control.set_windows.
 */
struct manifest_window {
	struct manifest_window *next;
	uint32_t line;
	uint32_t cpu;
	bool is_valid;
	uint64_t frame_us;           /* 0 until "frame" is read */
	uint32_t frame_line;         /* of the "frame" line, 0 = none */
	struct manifest_slot *slots; /* sorted by offset once parsed */
	uint32_t nslots;
	const char *spare_name; /* NULL: idle */
	uint32_t spare_line;
	struct manifest_partition *spare; /* resolved spare partition, NULL for idle */
};

struct manifest_error {
	struct manifest_error *next;
	uint32_t line;
	char msg[MANIFEST_MSG_MAX];
};

/* What the root task can give; 0 in a field means "do not check". */
struct manifest_limits {
	uint64_t mem_kib;      /* all partitions' memory together */
	uint32_t ncpus;        /* CPUs that exist */
	uint32_t max_priority; /* the highest priority a partition may have (the root task's own) */
};

struct manifest_arena {
	uint8_t *base;
	size_t size, used;
};

struct manifest {
	struct manifest_partition *partitions; /* in file order */
	struct manifest_channel *channels;
	struct manifest_window *windows; /* in file order, one per CPU at most */
	struct manifest_error *errors;   /* in line order */
	uint32_t npartitions, nchannels, nwindows, nerrors;
	bool arena_full; /* the arena ran out: the manifest is unusable, start nothing */
};

enum manifest_status { MANIFEST_OK = 0, MANIFEST_HAS_ERRORS = 1, MANIFEST_ARENA_FULL = 2 };

/*
 * Parse and validate text[0, len) into *m, with everything allocated from
 * *arena. Returns MANIFEST_OK (no errors), MANIFEST_HAS_ERRORS (m->errors
 * lists them; partitions with is_valid may still be started) or
 * MANIFEST_ARENA_FULL (start nothing). Reads nothing outside the text.
 */
enum manifest_status manifest_parse(const char *text, size_t len,
                                    const struct manifest_limits *limits,
                                    struct manifest_arena *arena, struct manifest *m)
    __attribute__((warn_unused_result));

/* The value of a partition's config key, or NULL. */
const char *manifest_config_get(const struct manifest_partition *p, const char *key);

/* A partition's id for the kernel's windows: its place in file order, from 1. */
uint32_t manifest_partition_id(const struct manifest *m, const struct manifest_partition *p);

/* Bytes of shared memory a channel's ring takes (header and entries, rounded up to pages). */
uint32_t manifest_ring_bytes(const struct manifest_channel *c);

#endif
