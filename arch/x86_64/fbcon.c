/*
 * Screen consoles: VGA text mode (BIOS boots) and the firmware framebuffer
 * with the built-in 8x16 font (UEFI boots). Output only; scrolls by
 * copying rows. Both are registered as console sinks.
 */
#include <arch/console.h>
#include <kernel/bootinfo.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/vm.h>
#include <lib/string.h>

extern const uint8_t font8x16[128][16];

static struct boot_fb fb;           /* [I] */
static uint8_t *fbmem;              /* [I] direct-mapped framebuffer (or text buffer) */
static uint32_t cols, rows, cx, cy; /* [L console lock] */

static void text_put(uint32_t x, uint32_t y, char c)
{
	volatile uint16_t *cell = (volatile uint16_t *)fbmem + y * cols + x;
	*cell = (uint16_t)(0x0700 | (uint8_t)c);
}

static void pixel_row(uint8_t *dst, uint8_t bits)
{
	uint32_t on = ((1u << fb.red_size) - 1) << fb.red_pos |
	              ((1u << fb.green_size) - 1) << fb.green_pos |
	              ((1u << fb.blue_size) - 1) << fb.blue_pos;
	uint32_t bpp = fb.bpp / 8;

	for (int x = 0; x < 8; x++) {
		uint32_t v = bits & (0x80 >> x) ? on : 0;
		memcpy(dst + x * bpp, &v, bpp);
	}
}

static void glyph_put(uint32_t x, uint32_t y, char c)
{
	const uint8_t *g = font8x16[(uint8_t)c & 0x7f];

	for (int r = 0; r < 16; r++)
		pixel_row(fbmem + (uint64_t)(y * 16 + r) * fb.pitch + x * 8 * (fb.bpp / 8), g[r]);
}

static void put_at(uint32_t x, uint32_t y, char c)
{
	if (fb.kind == FB_EGA_TEXT)
		text_put(x, y, c);
	else
		glyph_put(x, y, c);
}

static void scroll(void)
{
	uint32_t line = fb.kind == FB_EGA_TEXT ? cols * 2 : fb.pitch * 16;

	memmove(fbmem, fbmem + line, (uint64_t)line * (rows - 1));
	if (fb.kind == FB_EGA_TEXT)
		for (uint32_t x = 0; x < cols; x++)
			text_put(x, rows - 1, ' ');
	else
		memset(fbmem + (uint64_t)line * (rows - 1), 0, line);
	cy = rows - 1;
}

static void fbcon_write(const char *s, size_t n)
{
	if (!fbmem)
		return;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\r') {
			cx = 0;
			continue;
		}
		if (c == '\n' || cx >= cols) {
			cx = 0;
			if (++cy >= rows)
				scroll();
			if (c == '\n')
				continue;
		}
		put_at(cx++, cy, c);
	}
}

static struct console screen_console = {.name = "screen", .write = fbcon_write};

/* Choose the screen from the boot info; PVH/BIOS without one gets VGA text at 0xb8000. */
void fbcon_init(const struct boot_fb *bfb)
{
	fb = *bfb;
	if (fb.kind == FB_NONE && !boot_info.efi) {
		fb.kind = FB_EGA_TEXT;
		fb.phys = 0xb8000, fb.width = 80, fb.height = 25;
	}
	if (fb.kind == FB_EGA_TEXT) {
		cols = fb.width, rows = fb.height;
	} else if (fb.kind == FB_RGB && (fb.bpp == 32 || fb.bpp == 24) && fb.phys < (4ul << 30)) {
		cols = fb.width / 8, rows = fb.height / 16;
	} else {
		pr_info("console: no usable screen (kind %d, %u bpp); serial only", fb.kind,
		        fb.bpp);
		return;
	}
	if (!cols || !rows || fb.phys + (uint64_t)fb.pitch * fb.height > (4ul << 30)) {
		pr_warn("console: screen at %#lx not reachable; serial only", fb.phys);
		return;
	}
	/* Through the boot tables' map of the first 4 GiB until vm_init()
	 * calls fbcon_remap(). */
	fbmem = phys_to_virt(fb.phys);
	for (uint32_t y = 0; y < rows; y++)
		for (uint32_t x = 0; x < cols; x++)
			put_at(x, y, ' ');
	console_register(&screen_console);
	pr_info("console: %s %ux%u", fb.kind == FB_EGA_TEXT ? "VGA text" : "framebuffer",
	        fb.kind == FB_EGA_TEXT ? cols : fb.width,
	        fb.kind == FB_EGA_TEXT ? rows : fb.height);
}

uint64_t fbcon_screen(struct boot_fb *out)
{
	if (!fbmem)
		return 0;
	*out = fb;
	if (fb.kind == FB_EGA_TEXT)
		out->pitch = cols * 2;
	return fb.kind == FB_EGA_TEXT ? (uint64_t)cols * rows * 2 : (uint64_t)fb.pitch * fb.height;
}

/*
 * The screen is ring 3's once a partition maps it (docs/decisions.md, "the
 * screen tty"): two writers would interleave their text and fight over the
 * cursor, so the kernel stops drawing and keeps its log on the serial
 * console. Once: the screen is not taken back.
 */
void fbcon_claimed(uint64_t pa, uint64_t len)
{
	uint64_t end = fb.kind == FB_EGA_TEXT ? fb.phys + (uint64_t)cols * rows * 2
	                                      : fb.phys + (uint64_t)fb.pitch * fb.height;

	if (!fbmem || pa >= end || pa + len <= fb.phys)
		return;
	pr_info("console: the screen is ring 3's from now on; the log stays on serial");
	console_unregister(&screen_console);
	fbmem = NULL;
}

/* Move to an uncached MMIO mapping in the final kernel tables (called by vm_init before it
 * switches). */
void fbcon_remap(void)
{
	if (!fbmem)
		return;
	uint64_t len =
	    fb.kind == FB_EGA_TEXT ? (uint64_t)cols * rows * 2 : (uint64_t)fb.pitch * fb.height;
	uint8_t *m = vm_map_mmio(fb.phys, len);
	if (m)
		fbmem = m;
	else
		fbmem = NULL, cols = 0; /* cannot map: stop drawing rather than fault */
}
