/*
 * Host tests for arch/x86_64/bootinfo.c: PVH start_info and Multiboot2
 * images built in fake physical memory (an exact-size heap copy, so ASan
 * flags any read past the loader's structure).
 */
#include "images.h"
#include "ktharness.h"

#include <kernel/bootinfo.h>
#include <stdlib.h>
#include <string.h>

#define INFO_PHYS 0x10000ull /* where the images "live" */

static const uint8_t *fm_mem;
static size_t fm_size;

static const void *fake_map(uint64_t phys, size_t len)
{
	if (phys < INFO_PHYS)
		return NULL;
	uint64_t off = phys - INFO_PHYS;
	if (off > fm_size || len > fm_size - off)
		return NULL;
	return fm_mem + off;
}

static uint8_t scratch[1 << 16];
static struct boot_info bi;

/* Parse the first len bytes of the image (mapped memory ends right there). */
static int parse_n(uint32_t kind, const struct img *im, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	memcpy(copy, im->buf, len);
	fm_mem = copy;
	fm_size = len;
	int rc = bootinfo_parse(kind, INFO_PHYS, fake_map, &bi);
	free(copy);
	fm_mem = NULL;
	return rc;
}

static int parse(uint32_t kind, const struct img *im)
{
	return parse_n(kind, im, im->len);
}

static void check_entry(uint32_t i, uint64_t base, uint64_t len, uint32_t type)
{
	CHECK(i < bi.nmmap);
	CHECK_EQ(bi.mmap[i].base, base);
	CHECK_EQ(bi.mmap[i].len, len);
	CHECK_EQ(bi.mmap[i].type, type);
}

static const uint64_t qemu_map[][3] = {{0, 0x9fc00, 1},          {0x9fc00, 0x400, 2},
                                       {0xf0000, 0x10000, 2},    {0x100000, 0x7fee0000, 1},
                                       {0x7ffe0000, 0x20000, 3}, {0xfffc0000, 0x40000, 9}};

static void bootinfo_mb2_full_image(void)
{
	struct img im;
	size_t rsdp_at;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_string_tag(&im, 1, "console=ttyS0 quiet");
	mb2_string_tag(&im, 2, "GRUB 2.06");
	mb2_module_tag(&im, 0x200000, 0x280000, "initrd.cpio");
	mb2_module_tag(&im, 0x300000, 0x300000, "");
	mb2_mmap_tag(&im, qemu_map, 6);
	mb2_fb_rgb_tag(&im, 0xfd000000, 4096, 1024, 768, 32);
	uint8_t rsdp[36] = "RSD PTR ";
	rsdp_at = mb2_tag(&im, 15, rsdp, sizeof(rsdp));
	mb2_tag(&im, 12, "\0\0\0\0\0\0\0\0", 8);
	mb2_finish(&im);

	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.kind, BOOT_MB2);
	CHECK_STR(bi.cmdline, "console=ttyS0 quiet");
	CHECK_STR(bi.loader, "GRUB 2.06");
	CHECK_EQ(bi.nmods, 2);
	CHECK_EQ(bi.mods[0].start, 0x200000);
	CHECK_EQ(bi.mods[0].end, 0x280000);
	CHECK_STR(bi.mods[0].cmdline, "initrd.cpio");
	CHECK_EQ(bi.mods[1].end, 0x300000);
	CHECK_STR(bi.mods[1].cmdline, "");
	CHECK_EQ(bi.nmmap, 6);
	check_entry(0, 0, 0x9fc00, MEM_USABLE);
	check_entry(3, 0x100000, 0x7fee0000, MEM_USABLE);
	check_entry(4, 0x7ffe0000, 0x20000, MEM_ACPI_RECLAIM);
	check_entry(5, 0xfffc0000, 0x40000, MEM_RESERVED); /* unknown type 9 -> reserved */
	CHECK_EQ(bi.fb.kind, FB_RGB);
	CHECK_EQ(bi.fb.phys, 0xfd000000);
	CHECK_EQ(bi.fb.pitch, 4096);
	CHECK_EQ(bi.fb.width, 1024);
	CHECK_EQ(bi.fb.height, 768);
	CHECK_EQ(bi.fb.bpp, 32);
	CHECK(bi.fb.red_pos == 16 && bi.fb.red_size == 8 && bi.fb.green_pos == 8 &&
	      bi.fb.blue_pos == 0);
	CHECK_EQ(bi.rsdp_phys, INFO_PHYS + rsdp_at + 8);
	CHECK(bi.efi);
	CHECK_EQ(bi.info_phys, INFO_PHYS);
	CHECK_EQ(bi.info_len, im.len);
	CHECK_EQ(bi.warnings, 0);
}

static void bootinfo_mb2_fb_ega_text(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_fb_text_tag(&im, 0xb8000, 80, 25);
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.fb.kind, FB_EGA_TEXT);
	CHECK_EQ(bi.fb.phys, 0xb8000);
	CHECK(bi.fb.width == 80 && bi.fb.height == 25 && bi.fb.pitch == 160);
	CHECK(!bi.efi);
	CHECK_EQ(bi.rsdp_phys, 0);
	CHECK_EQ(bi.nmmap, 0);
	CHECK_STR(bi.cmdline, "");
}

static void bootinfo_mb2_rsdp_new_preferred(void)
{
	struct img im;
	uint8_t rsdp[36] = "RSD PTR ";
	size_t at_new;

	for (int order = 0; order < 2; order++) {
		img_init(&im, scratch, sizeof(scratch));
		mb2_begin(&im);
		if (order)
			at_new = mb2_tag(&im, 15, rsdp, 36);
		mb2_tag(&im, 14, rsdp, 20);
		if (!order)
			at_new = mb2_tag(&im, 15, rsdp, 36);
		mb2_tag(&im, 18, "\0\0\0\0\0\0\0\0", 8); /* EFI boot services not exited */
		mb2_finish(&im);
		CHECK_EQ(parse(BOOT_MB2, &im), 0);
		CHECK_EQ(bi.rsdp_phys, INFO_PHYS + at_new + 8);
		CHECK(bi.efi);
	}
	/* An RSDP tag too short to hold an RSDP is ignored. */
	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_tag(&im, 14, rsdp, 12);
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.rsdp_phys, 0);
}

static void bootinfo_mb2_total_size_bounds(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_finish(&im);
	CHECK_EQ(im.len, 16);
	CHECK_EQ(parse(BOOT_MB2, &im), 0); /* the smallest valid image */
	img_set32(&im, 0, 15);
	CHECK_EQ(parse(BOOT_MB2, &im), -1);
	img_set32(&im, 0, 0);
	CHECK_EQ(parse(BOOT_MB2, &im), -1);
	img_set32(&im, 0, 17); /* past mapped memory */
	CHECK_EQ(parse(BOOT_MB2, &im), -1);
	img_set32(&im, 0, (1u << 20) + 8); /* larger than any loader would make */
	CHECK_EQ(parse(BOOT_MB2, &im), -1);
	img_set32(&im, 0, UINT32_MAX);
	CHECK_EQ(parse(BOOT_MB2, &im), -1);
	img_set32(&im, 0, 16);
	CHECK_EQ(parse_n(BOOT_MB2, &im, 7), -1); /* header not mapped */
	CHECK_EQ(parse_n(BOOT_MB2, &im, 0), -1);
}

static void bootinfo_mb2_tag_size_below_8_stops(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_string_tag(&im, 1, "first");
	size_t bad = mb2_string_tag(&im, 2, "loader");
	mb2_string_tag(&im, 1, "second");
	mb2_finish(&im);
	img_set32(&im, bad + 4, 7);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_STR(bi.cmdline, "first");
	CHECK_STR(bi.loader, ""); /* nothing after the bad tag is trusted */
	CHECK_EQ(bi.warnings, 1);
	img_set32(&im, bad + 4, 0); /* size 0 must not loop forever */
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.warnings, 1);
}

static void bootinfo_mb2_tag_past_end_stops(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_string_tag(&im, 1, "cmd");
	size_t bad = mb2_string_tag(&im, 2, "loader");
	mb2_finish(&im);
	img_set32(&im, bad + 4, (uint32_t)(im.len - bad + 1));
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_STR(bi.cmdline, "cmd");
	CHECK_STR(bi.loader, "");
	CHECK_EQ(bi.warnings, 1);
	img_set32(&im, bad + 4, UINT32_MAX);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.warnings, 1);
}

static void bootinfo_mb2_mmap_entry_size(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	size_t t = mb2_mmap_tag(&im, qemu_map, 2);
	mb2_finish(&im);
	img_set32(&im, t + 8, 20);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmmap, 0);
	CHECK_EQ(bi.warnings, 1);
	img_set32(&im, t + 8, 0);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmmap, 0);
	CHECK_EQ(bi.warnings, 1);

	/* A larger entry_size (future versions) is walked with that stride. */
	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	img_u32(&im, 6);
	img_u32(&im, 16 + 2 * 32);
	img_u32(&im, 32);
	img_u32(&im, 0);
	for (int i = 0; i < 2; i++) {
		img_u64(&im, 0x100000ull * (i + 1));
		img_u64(&im, 0x1000);
		img_u32(&im, (uint32_t)(i + 1));
		img_u32(&im, 0);
		img_u64(&im, 0xdeadbeefdeadbeefull); /* the extra bytes are skipped */
	}
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmmap, 2);
	check_entry(0, 0x100000, 0x1000, MEM_USABLE);
	check_entry(1, 0x200000, 0x1000, MEM_RESERVED);
	/* A trailing partial entry is not read. */
	img_set32(&im, 8 + 4, 16 + 32 + 20);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmmap, 1);
}

static void bootinfo_mb2_too_many_mmap_entries_capped(void)
{
	static uint64_t map[BOOT_MAX_MMAP + 22][3];
	struct img im;

	for (int i = 0; i < BOOT_MAX_MMAP + 22; i++) {
		map[i][0] = 0x1000ull * i;
		map[i][1] = 0x1000;
		map[i][2] = 1;
	}
	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_mmap_tag(&im, map, BOOT_MAX_MMAP + 22);
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmmap, BOOT_MAX_MMAP);
	CHECK_EQ(bi.warnings, 22);
	check_entry(BOOT_MAX_MMAP - 1, 0x1000ull * (BOOT_MAX_MMAP - 1), 0x1000, MEM_USABLE);
}

static void bootinfo_mb2_too_many_modules_capped(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	for (int i = 0; i < BOOT_MAX_MODS + 2; i++)
		mb2_module_tag(&im, 0x100000u * (i + 1), 0x100000u * (i + 1) + 0x1000, "m");
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmods, BOOT_MAX_MODS);
	CHECK_EQ(bi.warnings, 2);
	CHECK_EQ(bi.mods[BOOT_MAX_MODS - 1].start, 0x100000u * BOOT_MAX_MODS);

	/* end < start is refused; a long module cmdline is truncated. */
	char longcmd[200];
	memset(longcmd, 'x', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = 0;
	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_module_tag(&im, 0x200000, 0x100000, "backwards");
	mb2_module_tag(&im, 0x200000, 0x300000, longcmd);
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmods, 1);
	CHECK_EQ(bi.warnings, 1);
	CHECK_EQ(strlen(bi.mods[0].cmdline), sizeof(bi.mods[0].cmdline) - 1);
}

static void bootinfo_mb2_unknown_tags_skipped(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_tag(&im, 4, "\x80\x02\0\0\0\0\0\0", 8);      /* basic meminfo: not used */
	mb2_tag(&im, 5, "\0\0\0\0\0\0\0\0\0\0\0\0", 12); /* boot device */
	mb2_tag(&im, 99, "abcdefghijk", 11);
	mb2_tag(&im, 0x7fffffff, NULL, 0);
	mb2_string_tag(&im, 1, "after");
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_STR(bi.cmdline, "after");
	CHECK_EQ(bi.warnings, 0);
}

static void bootinfo_mb2_long_cmdline_truncated(void)
{
	static char cmd[BOOT_CMDLINE + 100];
	struct img im;

	for (size_t i = 0; i < sizeof(cmd) - 1; i++)
		cmd[i] = (char)('a' + i % 26);
	cmd[sizeof(cmd) - 1] = 0;
	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_string_tag(&im, 1, cmd);
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(strlen(bi.cmdline), BOOT_CMDLINE - 1);
	CHECK(!strncmp(bi.cmdline, cmd, BOOT_CMDLINE - 1));
}

/* The end tag stops parsing even if bytes follow inside total_size. */
static void bootinfo_mb2_end_tag_stops(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_tag(&im, 0, NULL, 0);
	mb2_string_tag(&im, 1, "hidden");
	mb2_finish(&im);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_STR(bi.cmdline, "");
}

/*
 * Bug: the string tags (cmdline 1, loader 2, module 3) are copied with
 * strlcpy(), which runs strlen() on the source; a string that is not
 * NUL-terminated inside its tag is read past the tag, here past the end of
 * the mapped loader structure.
 */
static void bootinfo_mb2_unterminated_cmdline_stays_in_tag(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_tag(&im, 1, "abc", 3); /* no NUL, last bytes of mapped memory */
	img_set32(&im, 0, (uint32_t)im.len);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_STR(bi.cmdline, "abc");
}

/* Bug (same cause): a module tag of exactly 16 bytes has no string, but strlcpy reads at its end.
 */
static void bootinfo_mb2_module_tag_without_string_stays_in_tag(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	mb2_tag(&im, 3, "\0\0\x10\0\0\0\x20\0", 8);
	img_set32(&im, 0, (uint32_t)im.len);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmods, 1);
	CHECK_EQ(bi.mods[0].start, 0x100000);
	CHECK_STR(bi.mods[0].cmdline, "");
}

/*
 * Bug: the mmap loop tests off + entry_size <= size in 32 bits; a huge
 * entry_size wraps the sum, and a 24-byte entry is read past the tag (and
 * here past mapped memory).
 */
static void bootinfo_mb2_mmap_entry_size_overflow_stays_in_tag(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	mb2_begin(&im);
	img_u32(&im, 6);
	img_u32(&im, 16);
	img_u32(&im, 0xfffffff8u);
	img_u32(&im, 0);
	img_set32(&im, 0, (uint32_t)im.len);
	CHECK_EQ(parse(BOOT_MB2, &im), 0);
	CHECK_EQ(bi.nmmap, 0);
}

static void bootinfo_pvh_full_image(void)
{
	const struct pvh_module mods[] = {{0x400000, 0x20000, "initrd.cpio root"},
	                                  {0x500000, 0x100, NULL}};
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	pvh_build(&im, INFO_PHYS, 1, "console=ttyS0 ktest=all", mods, 2, qemu_map, 6, 0xf5a40);
	CHECK_EQ(parse(BOOT_PVH, &im), 0);
	CHECK_EQ(bi.kind, BOOT_PVH);
	CHECK_STR(bi.loader, "PVH");
	CHECK_STR(bi.cmdline, "console=ttyS0 ktest=all");
	CHECK_EQ(bi.nmods, 2);
	CHECK_EQ(bi.mods[0].start, 0x400000);
	CHECK_EQ(bi.mods[0].end, 0x420000);
	CHECK_STR(bi.mods[0].cmdline, "initrd.cpio root");
	CHECK_EQ(bi.mods[1].end, 0x500100);
	CHECK_STR(bi.mods[1].cmdline, "");
	CHECK_EQ(bi.nmmap, 6);
	check_entry(1, 0x9fc00, 0x400, MEM_RESERVED);
	check_entry(5, 0xfffc0000, 0x40000, MEM_RESERVED);
	CHECK_EQ(bi.rsdp_phys, 0xf5a40);
	CHECK_EQ(bi.info_phys, INFO_PHYS);
	CHECK_EQ(bi.info_len, 56);
	CHECK_EQ(bi.warnings, 0);
	CHECK(!bi.efi);
	CHECK_EQ(bi.fb.kind, FB_NONE);
}

static void bootinfo_pvh_bad_magic(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	pvh_build(&im, INFO_PHYS, 1, "x", NULL, 0, qemu_map, 1, 0);
	im.buf[0] ^= 1;
	CHECK_EQ(parse(BOOT_PVH, &im), -1);
	im.buf[0] ^= 1;
	CHECK_EQ(parse_n(BOOT_PVH, &im, 55), -1); /* start_info not fully mapped */
	CHECK_EQ(parse(BOOT_PVH, &im), 0);
	CHECK_EQ(parse(BOOT_MB2 + 1, &im), -1);
	CHECK_EQ(parse(0, &im), -1);
}

static void bootinfo_pvh_version0_has_no_memmap(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	pvh_build(&im, INFO_PHYS, 0, "v0", NULL, 0, qemu_map, 6, 0);
	CHECK_EQ(parse(BOOT_PVH, &im), 0);
	CHECK_STR(bi.cmdline, "v0");
	CHECK_EQ(bi.nmmap, 0);
}

static void bootinfo_pvh_limits_and_bad_pointers(void)
{
	static uint64_t map[BOOT_MAX_MMAP + 5][3];
	struct pvh_module mods[BOOT_MAX_MODS + 3];
	struct img im;

	for (int i = 0; i < BOOT_MAX_MMAP + 5; i++) {
		map[i][0] = 0x2000ull * i;
		map[i][1] = 0x1000;
		map[i][2] = 1;
	}
	for (int i = 0; i < BOOT_MAX_MODS + 3; i++)
		mods[i] = (struct pvh_module){0x1000000ull * (i + 1), 0x1000, "mod"};
	mods[0].size = UINT64_MAX; /* start + size wraps: refused */
	img_init(&im, scratch, sizeof(scratch));
	pvh_build(&im, INFO_PHYS, 1, NULL, mods, BOOT_MAX_MODS + 3, map, BOOT_MAX_MMAP + 5, 0);
	CHECK_EQ(parse(BOOT_PVH, &im), 0);
	CHECK_STR(bi.cmdline, "");
	CHECK_EQ(bi.nmods, BOOT_MAX_MODS);
	CHECK_EQ(bi.mods[0].start, 0x2000000);
	CHECK_EQ(bi.nmmap, BOOT_MAX_MMAP);
	CHECK_EQ(bi.warnings, 1 + 2 + 5);

	/* The module list and memmap pointing outside mapped memory: warnings, no crash. */
	img_init(&im, scratch, sizeof(scratch));
	pvh_build(&im, INFO_PHYS, 1, "c", mods + 1, 1, map, 1, 0);
	img_set32(&im, 16, 0x10);
	img_set32(&im, 40, 0xfff00000u);
	img_set32(&im, 48, 1000000);
	CHECK_EQ(parse(BOOT_PVH, &im), 0);
	CHECK_EQ(bi.nmods, 0);
	CHECK_EQ(bi.nmmap, 0);
	CHECK_EQ(bi.warnings, 2);
	CHECK_STR(bi.cmdline, "c");
}

/* A cmdline running to the end of mapped memory without a NUL stops there. */
static void bootinfo_pvh_cmdline_unterminated(void)
{
	struct img im;

	img_init(&im, scratch, sizeof(scratch));
	pvh_build(&im, INFO_PHYS, 1, "abcdef", NULL, 0, NULL, 0, 0);
	/* The string sits right after the 56-byte start_info; cut memory before its NUL. */
	CHECK_EQ(parse_n(BOOT_PVH, &im, 56 + 6), 0);
	CHECK_STR(bi.cmdline, "abcdef");
	CHECK_EQ(parse_n(BOOT_PVH, &im, 56 + 4), 0);
	CHECK_STR(bi.cmdline, "abcd");
}

static const struct kt_case cases[] = {
    KT(bootinfo_mb2_full_image),
    KT(bootinfo_mb2_fb_ega_text),
    KT(bootinfo_mb2_rsdp_new_preferred),
    KT(bootinfo_mb2_total_size_bounds),
    KT(bootinfo_mb2_tag_size_below_8_stops),
    KT(bootinfo_mb2_tag_past_end_stops),
    KT(bootinfo_mb2_mmap_entry_size),
    KT(bootinfo_mb2_too_many_mmap_entries_capped),
    KT(bootinfo_mb2_too_many_modules_capped),
    KT(bootinfo_mb2_unknown_tags_skipped),
    KT(bootinfo_mb2_long_cmdline_truncated),
    KT(bootinfo_mb2_end_tag_stops),
    KT(bootinfo_pvh_full_image),
    KT(bootinfo_pvh_bad_magic),
    KT(bootinfo_pvh_version0_has_no_memmap),
    KT(bootinfo_pvh_limits_and_bad_pointers),
    KT(bootinfo_pvh_cmdline_unterminated),
    KT(bootinfo_mb2_unterminated_cmdline_stays_in_tag), /* regression: strlcpy() strlen()s the tag
                                                           string past the tag end
                                                           (arch/x86_64/bootinfo.c mb2_tag) */
    KT(bootinfo_mb2_module_tag_without_string_stays_in_tag), /* regression: strlcpy() reads past a
                                                                16-byte module tag
                                                                (arch/x86_64/bootinfo.c mb2_tag) */
    KT(bootinfo_mb2_mmap_entry_size_overflow_stays_in_tag), /* regression: off + entry_size wraps in
                                                               32 bits, entry read past the tag
                                                               (arch/x86_64/bootinfo.c mb2_tag) */
};

int main(int argc, char **argv)
{
	return kt_main(cases, ARRAY_SIZE(cases), argc, argv);
}
