/*
 * The partition info page: what the root task hands each program it starts
 * from the system manifest (docs/manifest.md, docs/abi.md). One read-only
 * page at HL_PARTINFO_VADDR: the partition's name, the program's argv, the
 * partition's config (key=value), its channel ends and its PCI devices.
 * Fixed-width types only; offsets are from the start of the page.
 *
 *   0     magic, name, counts                         64 bytes
 *   64    ch[HL_PARTINFO_MAX_CHANNELS]                 16 x 64 bytes
 *   1088  ndevices, restarts                          8 bytes
 *   1096  dev[HL_PARTINFO_MAX_DEVICES]                 8 x 16 bytes
 *   1224  strings: argv[0] NUL argv[1] NUL ... then "key=value" NUL per config entry
 *   4032  screen                                        64 bytes
 *   4096
 */
#ifndef HALLOWS_PARTINFO_H
#define HALLOWS_PARTINFO_H

#include <stddef.h>
#include <stdint.h>

#define HL_PARTINFO_MAGIC             0x6f666e6974726150ull /* "Partinfo" */
#define HL_PARTINFO_VADDR             0x10001000ull         /* the page after the boot info */
#define HL_PARTINFO_MAX_CHANNELS      16
#define HL_PARTINFO_MAX_DEVICES       8
#define HL_PARTINFO_MAX_SCREEN_FRAMES 32 /* frames of the screen given, at most */

/*
 * Slot 7 of a partition's programs holds the root task's control endpoint
 * when the manifest gives the partition `control` (docs/manifest.md, "On
 * request"). A call with label HL_LABEL_PARTITION_CONTROL, word 0 an
 * hl_partition_op and words 1-4 the target partition's name (NUL-padded),
 * stops or restarts that partition; the reply's word 0 is HL_OK or HL_ERR_*.
 */
#define HL_PARTITION_SLOT_CONTROL 7
/*
 * Slot 8 holds a snapshot object when the manifest gives the partition
 * `snapshot SIZE` (docs/manifest.md, "Snapshots"): made by the root task in
 * the partition's memory, covering every program's address space, with the
 * declared channel rings and ranges excluded. The program adds its threads
 * (and more exclusions) and takes it (hallows/replay.h, hallows/retry.h).
 */
#define HL_PARTITION_SLOT_SNAPSHOT 8
/*
 * With `console` in the manifest, slot 4 holds IRQ 4's handler (COM1's
 * interrupt, not yet bound to a notification) and slot 5 an I/O-port
 * capability for COM1's registers 0x3f8-0x3ff (docs/manifest.md, "The
 * serial console"). The kernel keeps writing its log through the same UART.
 */
#define HL_PARTITION_SLOT_CONSOLE_IRQ  4
#define HL_PARTITION_SLOT_CONSOLE_PORT 5
#define HL_LABEL_PARTITION_CONTROL     0xc071
enum hl_partition_op { HL_PARTITION_STOP = 1, HL_PARTITION_RESTART = 2 };
#define HL_CHANNEL_VADDR                                                                           \
	0x40000000ull /* channel i's ring at HL_CHANNEL_VADDR + i * HL_CHANNEL_STRIDE */
#define HL_CHANNEL_STRIDE 0x200000ull /* 1 MiB of ring at most, then unmapped space */

/* One end of a manifest channel, as its partition sees it. */
struct hl_channel_end {
	char name[32];        /* 0: the channel's name, NUL-terminated */
	uint32_t is_producer; /* 32: 1 = this end fills the ring, 0 = it reads it */
	uint32_t entries;     /* 36: a power of two */
	uint32_t entry_size;  /* 40: bytes, a power of two */
	uint32_t ring_bytes;  /* 44: mapped bytes (header and entries, whole pages) */
	uint64_t ring_vaddr;  /* 48: where the ring is mapped, read-write */
	uint32_t own_ntfn;    /* 56: slot of the notification this end waits on (wait right only) */
	uint32_t peer_ntfn;   /* 60: slot of the peer's notification (signal right only) */
};
_Static_assert(sizeof(struct hl_channel_end) == 64, "partinfo ABI");

/* One PCI function the partition owns (its `device` lines in the manifest). */
struct hl_device_end {
	uint32_t slot;          /* 0: the pci_device capability (docs/devices.md) */
	uint16_t vendor;        /* 4 */
	uint16_t device;        /* 6 */
	uint8_t class_code;     /* 8 */
	uint8_t subclass;       /* 9 */
	uint8_t prog_if;        /* 10 */
	uint8_t revision;       /* 11 */
	uint16_t bdf;           /* 12: bus << 8 | device << 3 | function */
	uint16_t manifest_line; /* 14: the `device` line it matched */
};
_Static_assert(sizeof(struct hl_device_end) == 16, "partinfo ABI");

/*
 * With `screen` in the manifest (docs/manifest.md, "The screen"), the first program's
 * keyboard and screen; all 0 without (and for the other programs). The screen's geometry
 * is the boot info's `screen`.
 */
struct hl_screen_end {
	uint32_t kbd_data;    /* 0: slot of an I/O-port capability for 0x60 */
	uint32_t kbd_status;  /* 4: 0x64 (status and commands) */
	uint32_t kbd_irq;     /* 8: IRQ 1's handler, not yet bound to a notification */
	uint32_t crtc;        /* 12: the CRT controller's 0x3d4-0x3d5 (the text cursor) */
	uint32_t first_frame; /* 16: slots first_frame.. hold the screen's device frames, */
	uint32_t nframes;     /* 20: in address order, each right after the one before */
	uint64_t paddr;       /* 24: the physical address of the first frame */
	uint8_t frame_bits[HL_PARTINFO_MAX_SCREEN_FRAMES]; /* 32: each frame's size (12 or 21) */
};
_Static_assert(sizeof(struct hl_screen_end) == 64, "partinfo ABI");

struct hl_partinfo {
	uint64_t magic;         /* 0: HL_PARTINFO_MAGIC */
	char name[32];          /* 8: the partition's name */
	uint32_t program_index; /* 40: this program's place among the partition's (from 0) */
	uint32_t nprograms;     /* 44 */
	uint32_t argc;          /* 48: >= 1, argv[0] is the program's path */
	uint32_t nconfig;       /* 52 */
	uint32_t nchannels;     /* 56 */
	uint32_t strings_bytes; /* 60: bytes used in strings[] */
	struct hl_channel_end ch[HL_PARTINFO_MAX_CHANNELS]; /* 64 */
	uint32_t ndevices;                                  /* 1088 */
	uint32_t restarts; /* 1092: times the root task restarted the partition (0: first start) */
	struct hl_device_end dev[HL_PARTINFO_MAX_DEVICES]; /* 1096 */
	char strings[4096 - 1224 - 64];                    /* 1224 */
	struct hl_screen_end screen;                       /* 4032 */
};
_Static_assert(offsetof(struct hl_partinfo, ch) == 64, "partinfo ABI");
_Static_assert(offsetof(struct hl_partinfo, dev) == 1096, "partinfo ABI");
_Static_assert(offsetof(struct hl_partinfo, strings) == 1224, "partinfo ABI");
_Static_assert(offsetof(struct hl_partinfo, screen) == 4032, "partinfo ABI");
_Static_assert(sizeof(struct hl_partinfo) == 4096, "partinfo ABI");

#endif
