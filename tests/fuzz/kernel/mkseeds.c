/*
 * Writes the seed corpora for the kernel fuzz targets from valid images
 * (run by `make fuzz-seeds-khost`; the output is committed under corpus/).
 * usage: mkseeds DIR   (writes DIR/cpio, DIR/bootinfo and DIR/elf)
 */
#include "images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t buf[1 << 14];

static void save(const char *dir, const char *sub, const char *name, const struct img *im)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(im->buf, 1, im->len, f) != im->len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void cpio_seeds(const char *dir)
{
	struct img im;

	img_init(&im, buf, sizeof(buf));
	cpio_put(&im, "init", 0100755,
	         "\x7f"
	         "ELF",
	         4);
	cpio_put_trailer(&im);
	save(dir, "cpio", "one_file", &im);

	img_init(&im, buf, sizeof(buf));
	cpio_put(&im, "etc", 040755, NULL, 0);
	cpio_put(&im, "etc/boot.conf", 0100644, "# boot\nsmp=on\n", 14);
	cpio_put(&im, "a", 0100644, "x", 1);
	cpio_put(&im, "abc", 0100644, "xyz", 3);
	cpio_put(&im, "empty", 0100644, NULL, 0);
	cpio_put_trailer(&im);
	save(dir, "cpio", "several_files", &im);
	im.len -= 124; /* drop the trailer */
	save(dir, "cpio", "no_trailer", &im);
}

static const uint64_t qemu_map[][3] = {{0, 0x9fc00, 1},          {0x9fc00, 0x400, 2},
                                       {0xf0000, 0x10000, 2},    {0x100000, 0x7fee0000, 1},
                                       {0x7ffe0000, 0x20000, 3}, {0xfffc0000, 0x40000, 2}};

static void bootinfo_seeds(const char *dir)
{
	struct img im;
	uint8_t rsdp[36] = "RSD PTR ";

	img_init(&im, buf, sizeof(buf));
	mb2_begin(&im);
	mb2_string_tag(&im, 1, "console=ttyS0 quiet ktest=all");
	mb2_string_tag(&im, 2, "GRUB 2.06");
	mb2_module_tag(&im, 0x200000, 0x280000, "initrd.cpio");
	mb2_mmap_tag(&im, qemu_map, 6);
	mb2_fb_rgb_tag(&im, 0xfd000000, 4096, 1024, 768, 32);
	mb2_tag(&im, 14, rsdp, 20);
	mb2_tag(&im, 15, rsdp, 36);
	mb2_tag(&im, 12, "\0\0\0\0\0\0\0\0", 8);
	mb2_finish(&im);
	save(dir, "bootinfo", "mb2_full", &im);

	img_init(&im, buf, sizeof(buf));
	mb2_begin(&im);
	mb2_fb_text_tag(&im, 0xb8000, 80, 25);
	mb2_mmap_tag(&im, qemu_map, 2);
	mb2_finish(&im);
	save(dir, "bootinfo", "mb2_ega", &im);

	const struct pvh_module mods[] = {{0x400000, 0x20000, "initrd.cpio"},
	                                  {0x500000, 0x100, NULL}};
	img_init(&im, buf, sizeof(buf));
	pvh_build(&im, 0, 1, "console=ttyS0", mods, 2, qemu_map, 6, 0xf5a40);
	save(dir, "bootinfo", "pvh_full", &im);
	img_init(&im, buf, sizeof(buf));
	pvh_build(&im, 0, 0, "v0", NULL, 0, NULL, 0, 0);
	save(dir, "bootinfo", "pvh_v0", &im);

	/* Raw map records for the memmap_normalize part (byte 0: capacity). */
	img_init(&im, buf, sizeof(buf));
	img_u8(&im, 64);
	for (size_t i = 0; i < 6; i++) {
		img_u64(&im, qemu_map[i][0]);
		img_u64(&im, qemu_map[i][1]);
		img_u32(&im, (uint32_t)qemu_map[i][2]);
	}
	img_u64(&im, 0x9f000); /* an overlap */
	img_u64(&im, 0x2000);
	img_u32(&im, 4);
	save(dir, "bootinfo", "raw_map", &im);
}

#define RX 5 /* ELF_PF_R | ELF_PF_X */
#define RW 6

static void elf_seeds(const char *dir)
{
	static const struct elf_seg three[] = {
	    {1, RX, 0x400000, 0x234, 0x234},
	    {1, 4, 0x401000, 0x30, 0x30},
	    {1, RW, 0x402010, 0x40, 0x3000},
	};
	static const struct elf_seg with_others[] = {
	    {6, 4, 0x400040, 0x38, 0x38},                                /* PT_PHDR */
	    {1, RX, 0x400000, 0x80, 0x80}, {4, 4, 0x400100, 0x10, 0x10}, /* PT_NOTE */
	    {1, RW, 0x600000, 0, 0},                                     /* empty PT_LOAD */
	    {0x6474e551, RW, 0, 0, 0},                                   /* PT_GNU_STACK */
	};
	/* Two segments sharing the last page below 2^64 (overlap check wrap, fixed). */
	static const struct elf_seg near_top[] = {
	    {1, RX, 0xffffffffffffe000ull, 0x10, 0x1800},
	    {1, RW, 0xfffffffffffff900ull, 0, 0x100},
	};
	struct elf_seg many[16];
	struct img im;

	img_init(&im, buf, sizeof(buf));
	elf_build(&im, 0x400010, three, 3, NULL);
	save(dir, "elf", "three_segments", &im);
	img_init(&im, buf, sizeof(buf));
	elf_build(&im, 0x400000, with_others, 5, NULL);
	save(dir, "elf", "non_load_headers", &im);
	for (size_t i = 0; i < 16; i++)
		many[i] = (struct elf_seg){1, i % 2 ? RW : RX, 0x10000 + i * 0x1000, 4, 0x800};
	img_init(&im, buf, sizeof(buf));
	elf_build(&im, 0x10000, many, 16, NULL);
	save(dir, "elf", "sixteen_segments", &im);
	img_init(&im, buf, sizeof(buf));
	elf_build(&im, 0xffffffffffffe000ull, near_top, 2, NULL);
	save(dir, "elf", "regress_elf_overlap_wraps_near_top", &im);
}

/*
 * Reproducers of the known bootinfo/memmap bugs (see tests/host/README.md):
 * libFuzzer runs every seed first, so these fail the fuzz step for certain
 * until the bugs are fixed instead of failing it by chance.
 */
static void regression_seeds(const char *dir)
{
	struct img im;

	img_init(&im, buf, sizeof(buf));
	img_u8(&im, 64);
	img_u64(&im, 0xfffffffffffff800ull); /* usable entry inside the last page */
	img_u64(&im, 0x700);
	img_u32(&im, 1);
	save(dir, "bootinfo", "regress_memmap_usable_in_last_page", &im);

	img_init(&im, buf, sizeof(buf));
	mb2_begin(&im);
	mb2_tag(&im, 1, "abc", 3); /* cmdline without NUL, at the end of memory */
	img_set32(&im, 0, (uint32_t)im.len);
	save(dir, "bootinfo", "regress_mb2_unterminated_cmdline", &im);

	img_init(&im, buf, sizeof(buf));
	mb2_begin(&im);
	img_u32(&im, 6); /* mmap tag: entry_size wraps off + entry_size */
	img_u32(&im, 16);
	img_u32(&im, 0xfffffff8u);
	img_u32(&im, 0);
	img_set32(&im, 0, (uint32_t)im.len);
	save(dir, "bootinfo", "regress_mb2_mmap_entry_size_wrap", &im);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	cpio_seeds(argv[1]);
	bootinfo_seeds(argv[1]);
	regression_seeds(argv[1]);
	elf_seeds(argv[1]);
	return 0;
}
