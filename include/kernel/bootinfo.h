/*
 * The one boot-information structure both entry paths (PVH, Multiboot2)
 * are normalized into. Everything is copied out of the loader's memory, so
 * the loader's structures may be reclaimed once the PMM is up (the module
 * contents themselves stay reserved).
 */
#ifndef KERNEL_BOOTINFO_H
#define KERNEL_BOOTINFO_H

#include <kernel/types.h>

#define BOOT_PVH 1
#define BOOT_MB2 2

#define BOOT_MAX_MMAP 128
#define BOOT_MAX_MODS 8
#define BOOT_CMDLINE  512

enum mem_type {
	MEM_USABLE = 1,
	MEM_RESERVED = 2,
	MEM_ACPI_RECLAIM = 3,
	MEM_ACPI_NVS = 4,
	MEM_BAD = 5,
};

struct boot_mmap_entry {
	uint64_t base, len;
	uint32_t type; /* enum mem_type */
};

struct boot_module {
	uint64_t start, end; /* physical [start, end) */
	char cmdline[64];
};

enum fb_kind { FB_NONE = 0, FB_RGB = 1, FB_EGA_TEXT = 2 };

struct boot_fb {
	enum fb_kind kind;
	uint64_t phys;
	uint32_t width, height, pitch; /* pixels (characters for text), bytes per line */
	uint8_t bpp;
	uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
};

struct boot_info {
	uint32_t kind; /* BOOT_PVH or BOOT_MB2 */
	char cmdline[BOOT_CMDLINE];
	char loader[48];
	uint32_t nmmap;
	struct boot_mmap_entry mmap[BOOT_MAX_MMAP];
	uint32_t nmods;
	struct boot_module mods[BOOT_MAX_MODS];
	struct boot_fb fb;
	uint64_t rsdp_phys;           /* 0 = not given by the loader */
	bool efi;                     /* booted through UEFI firmware */
	uint64_t info_phys, info_len; /* the loader's own structure, to reserve */
	uint32_t warnings;            /* entries dropped or malformed */
};

/* Returns a pointer to len readable bytes at physical phys, or NULL. */
typedef const void *(*boot_map_fn)(uint64_t phys, size_t len);

/* Fill *bi from the loader structure at info_phys. Returns 0, or -1 if unusable. */
int bootinfo_parse(uint32_t kind, uint64_t info_phys, boot_map_fn map,
                   struct boot_info *bi) __must_check;

/* The value of "key=" on the command line copied to buf, or false if absent. */
bool bootinfo_cmdline_get(const struct boot_info *bi, const char *key, char *buf, size_t n);
/* True when the bare word (or key=...) appears on the command line. */
bool bootinfo_cmdline_has(const struct boot_info *bi, const char *word);

extern struct boot_info boot_info;

#endif
