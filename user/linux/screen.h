/*
 * A text screen as a Linux console draws it (user/linux/screen.c): 80 x 25
 * cells of VGA text (character and attribute), a cursor, the control
 * characters (BS, HT, LF, VT, FF, CR, BEL; CAN and SUB cancel a sequence)
 * and the escape sequences busybox's line editing and the usual programs
 * send: CSI A B C D E F G H f d J K P @ X L M m n s u l h r, ESC 7, ESC 8,
 * ESC c, ESC M, ESC D. The cursor wraps after the last column as a VT100's
 * (the wrap waits for the next character); a line feed on the last row
 * scrolls.
 *
 * A pure module: bytes in, cells out; the caller (vt.c) copies the rows
 * that changed to the VGA text buffer and moves the hardware cursor. A
 * cursor position report (CSI 6 n) leaves its answer in reply[] for the
 * caller to feed to the tty's input. Host tests: tests/host/linux/vt_test.c.
 */
#ifndef USER_LINUX_SCREEN_H
#define USER_LINUX_SCREEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_SCR_COLS   80
#define LX_SCR_ROWS   25
#define LX_SCR_PARAMS 8
#define LX_SCR_ATTR   0x07 /* light grey on black */

struct lx_screen {
	uint16_t cell[LX_SCR_ROWS][LX_SCR_COLS]; /* VGA text: attribute << 8 | character */
	uint32_t x, y;                           /* the cursor */
	bool wrap;                               /* at the last column: the next character wraps */
	bool cursor_on;                          /* CSI ? 25 h / l */
	uint8_t attr;                            /* for new characters (SGR) */
	bool bold, reverse;
	uint32_t top, bottom; /* the scrolling region (CSI r), rows top..bottom inclusive */
	uint32_t saved_x, saved_y;
	uint8_t saved_attr;
	/* The escape parser: 0 text, 1 after ESC, 2 in CSI, 3 after ESC and an intermediate. */
	uint8_t state;
	bool priv; /* CSI ? ... */
	uint32_t param[LX_SCR_PARAMS], nparam;
	uint8_t utf8_left;           /* continuation bytes of a UTF-8 character still to drop */
	uint32_t dirty_lo, dirty_hi; /* rows [lo, hi) changed since the caller last looked */
	uint8_t reply[32];           /* answers to the program (cursor position reports) */
	uint32_t reply_len;
};

void lx_screen_init(struct lx_screen *s);
/* Draw n bytes (any length; a sequence may be split between calls). */
void lx_screen_write(struct lx_screen *s, const uint8_t *buf, size_t n);

#endif
