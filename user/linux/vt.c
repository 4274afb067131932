/*
 * The screen's tty, /dev/tty1 (docs/linux.md, "The screen tty"): a ring-3
 * driver for the PS/2 keyboard behind the i8042 controller and for the VGA
 * text screen, between them and tty.c's second tty.
 *
 * Keyboard: I/O ports 0x60 (data) and 0x64 (status and commands) and IRQ 1,
 * bound to the notification of the server's thread (as COM1's IRQ 4). The
 * driver turns the controller's translation on, so the keyboard's bytes
 * arrive in scancode set 1 whatever set the keyboard speaks, and kbd.c
 * makes console bytes of them; bytes the controller marks as the mouse's
 * are dropped.
 *
 * These come from the root task's controls when the server is the root task
 * of its boot module, or from the root task as a manifest partition with
 * `screen` (their slots in the partition info page, docs/manifest.md).
 *
 * Screen: the one the kernel drew its log on, handed to the root task as
 * device memory (kernel/root.c, described in the boot info's `screen`; a
 * partition's boot info describes what the root task gave it alike);
 * the kernel stops drawing once it is mapped here (docs/decisions.md).
 * screen.c keeps the cells; after each write the rows that changed go out:
 * under BIOS to the VGA text page at 0xb8000 (the hardware cursor follows
 * through the CRT controller's ports 0x3d4-0x3d5), under UEFI drawn on the
 * firmware's framebuffer with the kernel's 8x16 font (the 80x25 cells
 * centred, the cursor an underline).
 */
#include "kbd.h"
#include "lx.h"
#include "screen.h"
#include "tty.h"

#include <hallows/rt.h>
#include <lib/string.h>

#define KBD_DATA     0x60
#define KBD_STATUS   0x64
#define ST_OUT_FULL  0x01 /* a byte waits in the data port */
#define ST_IN_FULL   0x02 /* the controller has not taken the last byte written */
#define ST_AUX       0x20 /* the waiting byte is the mouse's */
#define CMD_READ_CFG 0x20
#define CMD_WRITE_CF 0x60
#define CMD_KBD_OFF  0xad
#define CMD_KBD_ON   0xae
#define CFG_KBD_IRQ  0x01
#define CFG_KBD_CLK  0x10 /* set: the keyboard's clock is off */
#define CFG_XLATE    0x40
#define CRTC_INDEX   0x3d4
#define KBD_IRQ      1
#define O_RDWR       2
#define BIG          (2ull << 20) /* a large page */
#define MAX_SMALL    32           /* 4 KiB frames of the screen at most (the text page: 1) */

extern const uint8_t font8x16[128][16]; /* the kernel's font (tools/mkfont.py) */

static struct {
	struct lx_kbd kbd;
	struct lx_screen scr;
	volatile uint16_t *vga; /* the text page, mapped uncached */
	volatile uint8_t *fb;   /* or the framebuffer: the top left pixel of the cells */
	struct hl_bootinfo_screen geo;
	uint32_t colour[16]; /* the VGA palette as the framebuffer's pixel values */
	hl_cptr_t data, status, crtc, irq;
	bool have_kbd;
	uint32_t drawn_x, drawn_y; /* where the hardware cursor is */
	bool drawn_on;
} vt;

static struct lx_ofd vt_ofd = {.refs = 1, .kind = LX_FD_CONSOLE, .flags = O_RDWR};

struct lx_ofd *lx_vt_ofd(void)
{
	return &vt_ofd;
}

/* One cell on the framebuffer: the glyph in its colours, underlined when the cursor is there. */
static void draw_cell(uint32_t x, uint32_t y, uint16_t cell, bool cursor)
{
	const uint8_t *g = font8x16[cell & 0x7f];
	uint32_t fg = vt.colour[cell >> 8 & 15], bg = vt.colour[cell >> 12 & 7],
	         bpp = vt.geo.bpp / 8;

	for (uint32_t r = 0; r < 16; r++) {
		volatile uint8_t *px = vt.fb + (uint64_t)(y * 16 + r) * vt.geo.pitch + x * 8 * bpp;
		uint8_t bits = cursor && r >= 14 ? 0xff : g[r];
		for (uint32_t c = 0; c < 8; c++, px += bpp) {
			uint32_t v = bits & (0x80 >> c) ? fg : bg;
			for (uint32_t b = 0; b < bpp; b++)
				px[b] = (uint8_t)(v >> (8 * b));
		}
	}
}

static void flush_fb(struct lx_screen *s)
{
	bool cursor_moved = s->x != vt.drawn_x || s->y != vt.drawn_y || s->cursor_on != vt.drawn_on;

	for (uint32_t y = s->dirty_lo; y < s->dirty_hi && y < LX_SCR_ROWS; y++)
		for (uint32_t x = 0; x < LX_SCR_COLS; x++)
			draw_cell(x, y, s->cell[y][x], s->cursor_on && x == s->x && y == s->y);
	if (cursor_moved && vt.drawn_y < LX_SCR_ROWS && vt.drawn_x < LX_SCR_COLS)
		draw_cell(vt.drawn_x, vt.drawn_y, s->cell[vt.drawn_y][vt.drawn_x], false);
	if (cursor_moved && s->cursor_on)
		draw_cell(s->x, s->y, s->cell[s->y][s->x], true);
	s->dirty_lo = s->dirty_hi = 0;
	vt.drawn_x = s->x, vt.drawn_y = s->y, vt.drawn_on = s->cursor_on;
}

/* Copy the changed rows to the screen and move the cursor. */
static void flush(void)
{
	struct lx_screen *s = &vt.scr;

	if (vt.fb) {
		flush_fb(s);
		return;
	}
	if (!vt.vga)
		return;
	for (uint32_t y = s->dirty_lo; y < s->dirty_hi && y < LX_SCR_ROWS; y++)
		for (uint32_t x = 0; x < LX_SCR_COLS; x++)
			vt.vga[y * LX_SCR_COLS + x] = s->cell[y][x];
	s->dirty_lo = s->dirty_hi = 0;
	if (!vt.crtc || (s->x == vt.drawn_x && s->y == vt.drawn_y && s->cursor_on == vt.drawn_on))
		return;
	/* Registers 0x0e/0x0f: the cursor's cell; 0x0a bit 5 hides it. */
	uint32_t pos = s->y * LX_SCR_COLS + s->x;
	hl_ioport_out(vt.crtc, CRTC_INDEX, 1, 0x0e);
	hl_ioport_out(vt.crtc, CRTC_INDEX + 1, 1, pos >> 8);
	hl_ioport_out(vt.crtc, CRTC_INDEX, 1, 0x0f);
	hl_ioport_out(vt.crtc, CRTC_INDEX + 1, 1, pos & 0xff);
	if (s->cursor_on != vt.drawn_on) {
		hl_ioport_out(vt.crtc, CRTC_INDEX, 1, 0x0a);
		hl_ioport_out(vt.crtc, CRTC_INDEX + 1, 1, s->cursor_on ? 0x0e : 0x20);
	}
	vt.drawn_x = s->x, vt.drawn_y = s->y, vt.drawn_on = s->cursor_on;
}

void lx_vt_draw(const char *s, size_t n)
{
	uint8_t reply[sizeof(vt.scr.reply)];

	lx_screen_write(&vt.scr, (const uint8_t *)s, n);
	flush();
	/* A cursor position report is what the terminal answers: input of the tty. */
	uint32_t k = vt.scr.reply_len;
	if (k) {
		memcpy(reply, vt.scr.reply, k);
		vt.scr.reply_len = 0;
		lx_tty_input(LX_TTY_SCREEN, reply, k);
	}
}

static hl_word_t status(void)
{
	hl_word_t v = 0;

	return hl_ioport_in(vt.status, KBD_STATUS, 1, &v) == HL_OK ? v : 0;
}

/* Wait (a bounded while) until the controller takes a byte; false when it never does. */
static bool wait_in_empty(void)
{
	for (int i = 0; i < 100000; i++)
		if (!(status() & ST_IN_FULL))
			return true;
	return false;
}

static bool read_data(hl_word_t *v)
{
	for (int i = 0; i < 100000; i++)
		if (status() & ST_OUT_FULL)
			return hl_ioport_in(vt.data, KBD_DATA, 1, v) == HL_OK;
	return false;
}

static bool command(uint8_t cmd)
{
	return wait_in_empty() && hl_ioport_out(vt.status, KBD_STATUS, 1, cmd) == HL_OK;
}

/* The controller: keyboard off, its queue drained, translation and IRQ 1 on, keyboard on. */
static bool kbd_setup(void)
{
	hl_word_t cfg = 0, junk = 0;

	if (!command(CMD_KBD_OFF))
		return false;
	for (int i = 0; i < 64 && (status() & ST_OUT_FULL); i++)
		hl_ioport_in(vt.data, KBD_DATA, 1, &junk);
	if (!command(CMD_READ_CFG) || !read_data(&cfg))
		return false;
	cfg = (cfg | CFG_KBD_IRQ | CFG_XLATE) & ~(hl_word_t)CFG_KBD_CLK;
	return command(CMD_WRITE_CF) && wait_in_empty() &&
	       hl_ioport_out(vt.data, KBD_DATA, 1, cfg) == HL_OK && command(CMD_KBD_ON);
}

/* A frame of 2 MiB at va: the tables above it, not a last-level one. */
static long map_big(hl_cptr_t frame, uint64_t va)
{
	long err = hl_aspace_map(HL_SLOT_ASPACE, frame, va, HL_R_READ | HL_R_WRITE);

	for (int level = 3; err == HL_ERR_NO_TABLE && level >= 2; level--) {
		hl_cptr_t pt = rt_alloc(HL_OBJ_PAGE_TABLE, 12);
		long e = pt ? hl_aspace_map_table(HL_SLOT_ASPACE, pt, va, (hl_word_t)level)
		            : HL_ERR_NO_MEMORY;
		if (e && e != HL_ERR_ALREADY_MAPPED)
			return e;
		err = hl_aspace_map(HL_SLOT_ASPACE, frame, va, HL_R_READ | HL_R_WRITE);
	}
	return err;
}

/* Map the device memory block m (part of the screen) at va: large pages where it has them.
 * *small counts the 4 KiB frames made, each in a slot of rt_slot's few (the server's
 * allocator owns the rest of the cspace). */
static long map_block(const struct hl_bootinfo_mem *m, uint64_t va, uint32_t *small)
{
	uint32_t bits = m->size_bits >= 21 ? 21 : 12;

	for (uint64_t off = 0; off < 1ull << m->size_bits; off += 1ull << bits) {
		if (bits == 12 && ++*small > MAX_SMALL)
			return HL_ERR_NO_MEMORY; /* a framebuffer outside video memory: not mapped
			                          */
		hl_cptr_t frame = rt_slot();
		long err = frame ? hl_memory_retype(m->slot, HL_OBJ_FRAME, bits, 1, frame)
		                 : HL_ERR_NO_MEMORY;
		if (!err)
			err = bits == 21 ? map_big(frame, va + off)
			                 : rt_map_frame(HL_SLOT_ASPACE, frame, va + off,
			                                HL_R_READ | HL_R_WRITE);
		if (err)
			return err;
	}
	return HL_OK;
}

/* The framebuffer's pixel value of an RGB colour (8 bits each). */
static uint32_t pixel(uint32_t rgb)
{
	const struct hl_bootinfo_screen *g = &vt.geo;
	uint32_t r = rgb >> 16 & 0xff, gr = rgb >> 8 & 0xff, b = rgb & 0xff;

	return (r >> (8 - g->red_size)) << g->red_pos |
	       (gr >> (8 - g->green_size)) << g->green_pos |
	       (b >> (8 - g->blue_size)) << g->blue_pos;
}

/* The screen from the boot info, mapped into the server (the kernel stops drawing). */
static long screen_map(void)
{
	/* VGA's 16 colours (CGA palette), in VGA attribute order. */
	static const uint32_t palette[16] = {
	    0x000000, 0x0000aa, 0x00aa00, 0x00aaaa, 0xaa0000, 0xaa00aa, 0xaa5500, 0xaaaaaa,
	    0x555555, 0x5555ff, 0x55ff55, 0x55ffff, 0xff5555, 0xff55ff, 0xffff55, 0xffffff};
	const struct hl_bootinfo *bi = rt_self.bi;
	const struct hl_bootinfo_screen *g = &bi->screen;
	uint64_t len = (uint64_t)g->pitch * (g->kind == HL_SCREEN_TEXT ? LX_SCR_ROWS : g->height);
	uint64_t start = ~0ull, mapped = 0;
	uint32_t small = 0;

	vt.geo = *g;
	if (g->kind == HL_SCREEN_TEXT ? g->width < LX_SCR_COLS || g->height < LX_SCR_ROWS
	    : g->kind == HL_SCREEN_RGB
	        ? (g->bpp != 32 && g->bpp != 24) || g->width < 8 * LX_SCR_COLS ||
	              g->height < 16 * LX_SCR_ROWS || g->red_size > 8 || g->green_size > 8 ||
	              g->blue_size > 8
	        : true)
		return HL_ERR_INVALID_CAP; /* no screen, or one too small (a partition: no screen)
		                            */
	/* One virtual range for the blocks that cover it (the kernel lists them in address order,
	 * the first perhaps from below it), large-page aligned. */
	for (uint32_t i = 0; i < bi->nmem; i++) {
		const struct hl_bootinfo_mem *m = &bi->mem[i];
		if (m->is_device && m->paddr <= g->paddr &&
		    g->paddr < m->paddr + (1ull << m->size_bits) && m->paddr < start)
			start = m->paddr;
	}
	uint64_t base = (rt_self.heap_next + BIG - 1) & ~(BIG - 1);
	if (rt_self.pi) { /* a manifest partition: the frames the root task made (partinfo.h) */
		const struct hl_screen_end *se = &rt_self.pi->screen;
		start =
		    se->nframes && se->nframes <= HL_PARTINFO_MAX_SCREEN_FRAMES ? se->paddr : ~0ull;
		for (uint32_t i = 0; start != ~0ull && i < se->nframes; i++) {
			hl_cptr_t frame = se->first_frame + i;
			long err = se->frame_bits[i] == 21
			               ? map_big(frame, base + mapped)
			               : rt_map_frame(HL_SLOT_ASPACE, frame, base + mapped,
			                              HL_R_READ | HL_R_WRITE);
			if (err)
				return err;
			mapped += 1ull << se->frame_bits[i];
		}
	}
	for (uint32_t i = 0; !rt_self.pi && start != ~0ull && i < bi->nmem; i++) {
		const struct hl_bootinfo_mem *m = &bi->mem[i];
		if (!m->is_device || m->paddr < start || m->paddr >= g->paddr + len)
			continue;
		if (m->paddr != start + mapped)
			return HL_ERR_INVALID_ARG; /* not in order, or a gap */
		long err = map_block(m, base + mapped, &small);
		if (err)
			return err;
		mapped += 1ull << m->size_bits;
	}
	if (start == ~0ull || start + mapped < g->paddr + len)
		return HL_ERR_INVALID_CAP;
	rt_self.heap_next = base + mapped + 4096; /* and a guard page */
	uint8_t *at = (uint8_t *)(base + (g->paddr - start));
	if (g->kind == HL_SCREEN_TEXT) {
		vt.vga = (volatile uint16_t *)at;
		return HL_OK;
	}
	for (int i = 0; i < 16; i++)
		vt.colour[i] = pixel(palette[i]);
	/* Black all over, then the cells in the middle. */
	for (uint32_t y = 0; y < g->height; y++)
		memset(at + (uint64_t)y * g->pitch, 0, (size_t)g->width * (g->bpp / 8));
	vt.fb = at + (uint64_t)(g->height - 16 * LX_SCR_ROWS) / 2 * g->pitch +
	        (uint64_t)(g->width - 8 * LX_SCR_COLS) / 2 * (g->bpp / 8);
	return HL_OK;
}

/* The screen mapped (HL_OK), an error, or 1: not tried yet. */
static long screen_state = 1;

void lx_vt_prepare(void)
{
	if (rt_self.pi && rt_self.pi->screen.kbd_data && screen_state == 1)
		screen_state = screen_map();
}

long lx_vt_attach(hl_cptr_t ntfn)
{
	static long state = 1; /* 1: not tried; else the outcome */
	hl_cptr_t ctl = HL_SLOT_IOPORT_CONTROL;

	if (state != 1)
		return state;
	long err = HL_OK;
	if (rt_self.pi) { /* a manifest partition with `screen`: the root task's (partinfo.h) */
		const struct hl_screen_end *se = &rt_self.pi->screen;
		vt.data = se->kbd_data, vt.status = se->kbd_status;
		vt.irq = se->kbd_irq, vt.crtc = se->crtc;
		if (!vt.data || !vt.status || !vt.irq)
			return state = HL_ERR_INVALID_CAP; /* no `screen` in the manifest */
	} else { /* the root task of its boot module: from the controls */
		vt.data = rt_slot(), vt.status = rt_slot(), vt.crtc = rt_slot(), vt.irq = rt_slot();
		err = !vt.data || !vt.status || !vt.crtc || !vt.irq ? HL_ERR_NO_MEMORY : HL_OK;
		if (!err)
			err = hl_ioport_control_issue(ctl, KBD_DATA, 1, vt.data);
		if (!err)
			err = hl_ioport_control_issue(ctl, KBD_STATUS, 1, vt.status);
		if (!err)
			err = hl_irq_control_get(HL_SLOT_IRQ_CONTROL, KBD_IRQ, vt.irq);
	}
	if (!err)
		err = hl_irq_handler_set_notification(vt.irq, ntfn);
	if (!err && !kbd_setup())
		err = HL_ERR_TIMED_OUT; /* the controller does not answer */
	if (!err && screen_state == 1)
		screen_state = screen_map();
	if (!err)
		err = screen_state;
	if (err)
		return state = err;
	if (vt.fb || (!rt_self.pi && hl_ioport_control_issue(ctl, CRTC_INDEX, 2, vt.crtc) != HL_OK))
		vt.crtc = 0; /* no hardware cursor (a framebuffer draws its own) */
	lx_kbd_init(&vt.kbd);
	lx_screen_init(&vt.scr);
	vt.drawn_x = vt.drawn_y = ~0u;
	flush();
	vt.have_kbd = true;
	lx_vt_irq();
	return state = HL_OK;
}

/* Take what the controller has: keyboard bytes through the decoder to the tty. */
static void drain(void)
{
	uint8_t buf[64 * LX_KBD_OUT];
	size_t n = 0;
	hl_word_t st, v = 0;

	for (int i = 0; i < 64 && ((st = status()) & ST_OUT_FULL); i++) {
		if (hl_ioport_in(vt.data, KBD_DATA, 1, &v) != HL_OK)
			break;
		if (!(st & ST_AUX))
			n += lx_kbd_byte(&vt.kbd, (uint8_t)v, buf + n);
	}
	if (n)
		lx_tty_input(LX_TTY_SCREEN, buf, n);
}

void lx_vt_irq(void)
{
	if (!vt.have_kbd)
		return;
	drain();
	hl_irq_handler_ack(vt.irq);
	drain(); /* a byte that came while the line was masked raised no new edge */
}
