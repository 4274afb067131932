/*
 * PVH start_info and Multiboot2 info -> struct boot_info.
 * Pure parsing through a map callback, so host tests can feed it images.
 */
#include <lib/bytes.h>
#include <kernel/bootinfo.h>
#include <lib/string.h>

#define PVH_MAGIC        0x336ec578
#define MB2_TAG_END      0
#define MB2_TAG_CMDLINE  1
#define MB2_TAG_LOADER   2
#define MB2_TAG_MODULE   3
#define MB2_TAG_MMAP     6
#define MB2_TAG_FB       8
#define MB2_TAG_EFI64    12
#define MB2_TAG_RSDP_OLD 14
#define MB2_TAG_RSDP_NEW 15
#define MB2_TAG_EFI_BS   18
#define MB2_MAX_SIZE     (1u << 20)

/* Copy a NUL-terminated string of at most max bytes from physical memory. */
static void copy_pstr(boot_map_fn map, uint64_t phys, char *dst, size_t n)
{
	dst[0] = 0;
	if (!phys)
		return;
	for (size_t i = 0; i + 1 < n; i++) {
		const char *c = map(phys + i, 1);
		if (!c || !*c) {
			dst[i] = 0;
			return;
		}
		dst[i] = *c;
		dst[i + 1] = 0;
	}
}

/* Copy a string that must end within max bytes of src. */
static void copy_bounded(char *dst, size_t n, const uint8_t *src, size_t max)
{
	size_t len = strnlen((const char *)src, max);

	if (len > n - 1)
		len = n - 1;
	memcpy(dst, src, len);
	dst[len] = 0;
}

static void add_mmap(struct boot_info *bi, uint64_t base, uint64_t len, uint32_t type)
{
	if (bi->nmmap >= BOOT_MAX_MMAP) {
		bi->warnings++;
		return;
	}
	if (type < MEM_USABLE || type > MEM_BAD)
		type = MEM_RESERVED;
	bi->mmap[bi->nmmap++] = (struct boot_mmap_entry){base, len, type};
}

static void add_module(struct boot_info *bi, uint64_t start, uint64_t end, const char *cmd)
{
	if (bi->nmods >= BOOT_MAX_MODS || end < start) {
		bi->warnings++;
		return;
	}
	struct boot_module *m = &bi->mods[bi->nmods++];
	m->start = start;
	m->end = end;
	strlcpy(m->cmdline, cmd, sizeof(m->cmdline));
}

static int parse_pvh(uint64_t info, boot_map_fn map, struct boot_info *bi)
{
	const uint8_t *si = map(info, 56);

	if (!si || get_le32(si) != PVH_MAGIC)
		return -1;
	uint32_t version = get_le32(si + 4), nmods = get_le32(si + 12);
	uint64_t modlist = get_le64(si + 16), cmdline = get_le64(si + 24);
	bi->rsdp_phys = get_le64(si + 32);
	bi->info_phys = info;
	bi->info_len = 56;
	strlcpy(bi->loader, "PVH", sizeof(bi->loader));
	copy_pstr(map, cmdline, bi->cmdline, sizeof(bi->cmdline));
	for (uint32_t i = 0; i < nmods && i < 64; i++) {
		const uint8_t *m = map(modlist + 32ull * i, 32);
		if (!m) {
			bi->warnings++;
			break;
		}
		char cmd[64];
		copy_pstr(map, get_le64(m + 16), cmd, sizeof(cmd));
		add_module(bi, get_le64(m), get_le64(m) + get_le64(m + 8), cmd);
	}
	if (version >= 1) {
		uint64_t mm = get_le64(si + 40);
		uint32_t n = get_le32(si + 48);
		for (uint32_t i = 0; i < n && i < 4 * BOOT_MAX_MMAP; i++) {
			const uint8_t *e = map(mm + 24ull * i, 24);
			if (!e) {
				bi->warnings++;
				break;
			}
			add_mmap(bi, get_le64(e), get_le64(e + 8), get_le32(e + 16));
		}
	}
	return 0;
}

static void mb2_fb(const uint8_t *t, uint32_t size, struct boot_info *bi)
{
	if (size < 31)
		return;
	struct boot_fb *fb = &bi->fb;
	fb->phys = get_le64(t + 8);
	fb->pitch = get_le32(t + 16);
	fb->width = get_le32(t + 20);
	fb->height = get_le32(t + 24);
	fb->bpp = t[28];
	if (t[29] == 2) {
		fb->kind = FB_EGA_TEXT;
	} else if (t[29] == 1 && size >= 38) {
		fb->kind = FB_RGB;
		fb->red_pos = t[32];
		fb->red_size = t[33];
		fb->green_pos = t[34];
		fb->green_size = t[35];
		fb->blue_pos = t[36];
		fb->blue_size = t[37];
	}
}

static void mb2_tag(const uint8_t *t, uint32_t type, uint32_t size, uint64_t phys,
                    struct boot_info *bi)
{
	switch (type) {
	case MB2_TAG_CMDLINE:
		copy_bounded(bi->cmdline, sizeof(bi->cmdline), t + 8, size - 8);
		break;
	case MB2_TAG_LOADER:
		copy_bounded(bi->loader, sizeof(bi->loader), t + 8, size - 8);
		break;
	case MB2_TAG_MODULE:
		if (size >= 16) {
			char cmd[64];
			copy_bounded(cmd, sizeof(cmd), t + 16, size - 16);
			add_module(bi, get_le32(t + 8), get_le32(t + 12), cmd);
		}
		break;
	case MB2_TAG_MMAP: {
		uint32_t esz = size >= 16 ? get_le32(t + 8) : 0;
		if (esz < 24) {
			bi->warnings++;
			break;
		}
		for (uint32_t off = 16; esz <= size - off; off += esz)
			add_mmap(bi, get_le64(t + off), get_le64(t + off + 8),
			         get_le32(t + off + 16));
		break;
	}
	case MB2_TAG_FB:
		mb2_fb(t, size, bi);
		break;
	case MB2_TAG_RSDP_OLD:
	case MB2_TAG_RSDP_NEW:
		/* The tag holds a copy of the RSDP; prefer the newer one. */
		if (size >= 8 + 20 && (type == MB2_TAG_RSDP_NEW || !bi->rsdp_phys))
			bi->rsdp_phys = phys + 8;
		break;
	case MB2_TAG_EFI64:
	case MB2_TAG_EFI_BS:
		bi->efi = true;
		break;
	}
}

static int parse_mb2(uint64_t info, boot_map_fn map, struct boot_info *bi)
{
	const uint8_t *hdr = map(info, 8);

	if (!hdr)
		return -1;
	uint32_t total = get_le32(hdr);
	if (total < 16 || total > MB2_MAX_SIZE)
		return -1;
	const uint8_t *mbi = map(info, total);
	if (!mbi)
		return -1;
	bi->info_phys = info;
	bi->info_len = total;
	for (uint32_t off = 8; off + 8 <= total;) {
		uint32_t type = get_le32(mbi + off), size = get_le32(mbi + off + 4);
		if (type == MB2_TAG_END)
			break;
		if (size < 8 || size > total - off) {
			bi->warnings++;
			break;
		}
		mb2_tag(mbi + off, type, size, info + off, bi);
		off += ALIGN_UP(size, 8u);
	}
	return 0;
}

int bootinfo_parse(uint32_t kind, uint64_t info_phys, boot_map_fn map, struct boot_info *bi)
{
	memset(bi, 0, sizeof(*bi));
	bi->kind = kind;
	if (kind == BOOT_PVH)
		return parse_pvh(info_phys, map, bi);
	if (kind == BOOT_MB2)
		return parse_mb2(info_phys, map, bi);
	return -1;
}

/* Find word at a word boundary in the command line; returns its start or NULL. */
static const char *cmdline_find(const char *s, const char *word, bool want_value)
{
	size_t n = strlen(word);

	for (const char *p = s; *p; p++) {
		if ((p == s || p[-1] == ' ') && !strncmp(p, word, n) &&
		    (p[n] == '=' || (!want_value && (p[n] == 0 || p[n] == ' '))))
			return p;
	}
	return NULL;
}

bool bootinfo_cmdline_has(const struct boot_info *bi, const char *word)
{
	return cmdline_find(bi->cmdline, word, false) != NULL;
}

bool bootinfo_cmdline_get(const struct boot_info *bi, const char *key, char *buf, size_t n)
{
	const char *p = cmdline_find(bi->cmdline, key, true);

	if (!p || p[strlen(key)] != '=' || n == 0)
		return false;
	p += strlen(key) + 1;
	size_t i = 0;
	while (p[i] && p[i] != ' ' && i + 1 < n) {
		buf[i] = p[i];
		i++;
	}
	buf[i] = 0;
	return true;
}
