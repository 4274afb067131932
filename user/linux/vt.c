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
 * Screen: the VGA text page at 0xb8000, which the kernel hands to the root
 * task as one page of device memory (kernel/root.c) and stops drawing its
 * own log on once it is mapped here (docs/decisions.md). screen.c keeps
 * the cells; the rows that changed are copied to the page after each
 * write, and the hardware cursor follows through the CRT controller's
 * ports 0x3d4-0x3d5.
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
#define SCREEN_PA    0xb8000ull
#define O_RDWR       2

static struct {
	struct lx_kbd kbd;
	struct lx_screen scr;
	volatile uint16_t *vga; /* the text page, mapped uncached */
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

/* Copy the changed rows to the screen and move the hardware cursor. */
static void flush(void)
{
	struct lx_screen *s = &vt.scr;

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

/* The screen's page from the boot info, mapped into the server (the kernel stops drawing). */
static long screen_map(void)
{
	const struct hl_bootinfo *bi = rt_self.bi;
	hl_cptr_t mem = 0;

	for (uint32_t i = 0; i < bi->nmem; i++)
		if (bi->mem[i].is_device && bi->mem[i].paddr == SCREEN_PA && bi->mem[i].size_bits == 12)
			mem = bi->mem[i].slot;
	if (!mem)
		return HL_ERR_INVALID_CAP; /* a framebuffer (UEFI), a partition, or no screen */
	hl_cptr_t frame = rt_slot();
	uint64_t va = rt_self.heap_next;
	long err = frame ? hl_memory_retype(mem, HL_OBJ_FRAME, 12, 1, frame) : HL_ERR_NO_MEMORY;
	if (!err)
		err = rt_map_frame(HL_SLOT_ASPACE, frame, va, HL_R_READ | HL_R_WRITE);
	if (err)
		return err;
	rt_self.heap_next += 2 * 4096; /* and a guard page */
	vt.vga = (volatile uint16_t *)va;
	return HL_OK;
}

long lx_vt_attach(hl_cptr_t ntfn)
{
	static long state = 1; /* 1: not tried; else the outcome */
	hl_cptr_t ctl = HL_SLOT_IOPORT_CONTROL;

	if (state != 1)
		return state;
	if (rt_self.pi)
		return state = HL_ERR_INVALID_CAP; /* a manifest partition: not handed over yet */
	vt.data = rt_slot(), vt.status = rt_slot(), vt.crtc = rt_slot(), vt.irq = rt_slot();
	long err = !vt.data || !vt.status || !vt.crtc || !vt.irq ? HL_ERR_NO_MEMORY : HL_OK;
	if (!err)
		err = hl_ioport_control_issue(ctl, KBD_DATA, 1, vt.data);
	if (!err)
		err = hl_ioport_control_issue(ctl, KBD_STATUS, 1, vt.status);
	if (!err)
		err = hl_irq_control_get(HL_SLOT_IRQ_CONTROL, KBD_IRQ, vt.irq);
	if (!err)
		err = hl_irq_handler_set_notification(vt.irq, ntfn);
	if (!err && !kbd_setup())
		err = HL_ERR_TIMED_OUT; /* the controller does not answer */
	if (!err)
		err = screen_map();
	if (err)
		return state = err;
	if (hl_ioport_control_issue(ctl, CRTC_INDEX, 2, vt.crtc) != HL_OK)
		vt.crtc = 0; /* no cursor, the rest works */
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
