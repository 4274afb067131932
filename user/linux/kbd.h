/*
 * The PS/2 keyboard's scancodes to the bytes a Linux console sends
 * (user/linux/kbd.c): scancode set 1, which the i8042 delivers when its
 * translation is on (vt.c turns it on), with US keys, shift, caps lock,
 * ctrl (Ctrl-C is 0x03, which the line discipline turns into SIGINT), alt
 * (an ESC prefix, as Linux's console) and the cursor and editing keys as
 * the escape sequences of Linux's console (ESC [ A ...).
 *
 * A pure module: scancode bytes in, bytes out. Host tests:
 * tests/host/linux/vt_test.c.
 */
#ifndef USER_LINUX_KBD_H
#define USER_LINUX_KBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LX_KBD_OUT 8 /* the most bytes one scancode byte produces */

struct lx_kbd {
	bool e0;         /* the last byte was the 0xe0 prefix */
	uint8_t e1_skip; /* bytes of a 0xe1 sequence (Pause) still to drop */
	bool lshift, rshift, lctrl, rctrl, lalt, ralt, caps;
	uint32_t unknown; /* scancodes that mean no key here (dropped, counted) */
};

void lx_kbd_init(struct lx_kbd *k);

/* One byte from the controller's data port: the bytes it produces in out (room for
 * LX_KBD_OUT), how many. Releases, modifiers, prefixes and unknown codes produce none. */
size_t lx_kbd_byte(struct lx_kbd *k, uint8_t sc, uint8_t *out);

#endif
