/*
 * Scancode set 1 to console bytes (kbd.h). The tables follow the IBM PC
 * keyboard's set 1 (the codes the i8042 produces from set 2 with its
 * translation on); the bytes for the special keys are those of Linux's
 * console keymap (ESC [ A for the up arrow, ESC [ 3 ~ for Delete...).
 */
#include "kbd.h"

#include <lib/string.h>

/* Unshifted and shifted characters of the main block, by make code (0: not a character). */
static const char plain[0x3a] = {0,   0x1b, '1',  '2',  '3',  '4', '5', '6',  '7', '8', '9', '0',
                                 '-', '=',  0x7f, '\t', 'q',  'w', 'e', 'r',  't', 'y', 'u', 'i',
                                 'o', 'p',  '[',  ']',  '\r', 0,   'a', 's',  'd', 'f', 'g', 'h',
                                 'j', 'k',  'l',  ';',  '\'', '`', 0,   '\\', 'z', 'x', 'c', 'v',
                                 'b', 'n',  'm',  ',',  '.',  '/', 0,   '*',  0,   ' '};
static const char shifted[0x3a] = {0,   0x1b, '!',  '@',  '#',  '$', '%', '^', '&', '*', '(', ')',
                                   '_', '+',  0x7f, '\t', 'Q',  'W', 'E', 'R', 'T', 'Y', 'U', 'I',
                                   'O', 'P',  '{',  '}',  '\r', 0,   'A', 'S', 'D', 'F', 'G', 'H',
                                   'J', 'K',  'L',  ':',  '"',  '~', 0,   '|', 'Z', 'X', 'C', 'V',
                                   'B', 'N',  'M',  '<',  '>',  '?', 0,   '*', 0,   ' '};
/* The keypad (0x47-0x53) without num lock: what its keys are as cursor keys; with num lock
 * off on a PC they move the cursor. Digits are not served (num lock is not tracked). */
static const char keypad[0x0d] = {'7', '8', '9', '-', '4', '5', '6', '+', '1', '2', '3', '0', '.'};

enum {
	SC_LCTRL = 0x1d,
	SC_LSHIFT = 0x2a,
	SC_RSHIFT = 0x36,
	SC_LALT = 0x38,
	SC_CAPS = 0x3a,
	SC_F1 = 0x3b,
	SC_KP7 = 0x47,
	SC_KP_DOT = 0x53,
	SC_F11 = 0x57,
	SC_F12 = 0x58,
};

void lx_kbd_init(struct lx_kbd *k)
{
	memset(k, 0, sizeof(*k));
}

static size_t put(uint8_t *out, const char *s)
{
	size_t n = strlen(s);

	memcpy(out, s, n);
	return n;
}

/* A key after the 0xe0 prefix: the cursor and editing block, the right ctrl and alt, keypad
 * Enter and /. */
static size_t extended(struct lx_kbd *k, uint8_t code, bool up, uint8_t *out)
{
	static const struct {
		uint8_t code;
		const char *seq;
	} keys[] = {{0x48, "\033[A"},  {0x50, "\033[B"},  {0x4d, "\033[C"},  {0x4b, "\033[D"},
	            {0x47, "\033[1~"}, {0x4f, "\033[4~"}, {0x49, "\033[5~"}, {0x51, "\033[6~"},
	            {0x52, "\033[2~"}, {0x53, "\033[3~"}, {0x1c, "\r"},      {0x35, "/"}};

	if (code == SC_LCTRL) {
		k->rctrl = !up;
		return 0;
	}
	if (code == SC_LALT) {
		k->ralt = !up;
		return 0;
	}
	if (code == SC_LSHIFT || code == SC_RSHIFT)
		return 0; /* the fake shifts some keyboards send around the cursor keys */
	if (up)
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].code == code)
			return put(out, keys[i].seq);
	k->unknown++;
	return 0;
}

size_t lx_kbd_byte(struct lx_kbd *k, uint8_t sc, uint8_t *out)
{
	static const char *const fkeys[12] = {"\033[[A",  "\033[[B",  "\033[[C",  "\033[[D",
	                                      "\033[[E",  "\033[17~", "\033[18~", "\033[19~",
	                                      "\033[20~", "\033[21~", "\033[23~", "\033[24~"};

	if (k->e1_skip) { /* Pause: e1 1d 45 e1 9d c5, no key of the console */
		k->e1_skip--;
		return 0;
	}
	if (sc == 0xe1) {
		k->e1_skip = 2;
		return 0;
	}
	if (sc == 0xe0) {
		k->e0 = true;
		return 0;
	}
	if (sc == 0x00 || sc == 0xff || sc == 0xfa || sc == 0xfe || sc == 0xee) {
		/* Errors, overrun, the keyboard's ACK, resend and echo: no key. (0xaa, the
		 * self-test's "passed", is also left shift's release: taken as that.) */
		k->e0 = false;
		return 0;
	}
	bool up = sc & 0x80, e0 = k->e0;
	uint8_t code = sc & 0x7f;
	k->e0 = false;
	if (e0)
		return extended(k, code, up, out);
	switch (code) {
	case SC_LSHIFT:
		k->lshift = !up;
		return 0;
	case SC_RSHIFT:
		k->rshift = !up;
		return 0;
	case SC_LCTRL:
		k->lctrl = !up;
		return 0;
	case SC_LALT:
		k->lalt = !up;
		return 0;
	case SC_CAPS:
		k->caps ^= !up;
		return 0;
	default:
		break;
	}
	if (up)
		return 0;
	size_t n = 0;
	if (k->lalt || k->ralt) /* Alt-x: ESC x, as Linux's console (meta sends escape) */
		out[n++] = 0x1b;
	if (code >= SC_F1 && code < SC_F1 + 10)
		return put(out + n, fkeys[code - SC_F1]) + n;
	if (code == SC_F11 || code == SC_F12)
		return put(out + n, fkeys[10 + code - SC_F11]) + n;
	if (code >= SC_KP7 && code <= SC_KP_DOT) {
		out[n++] = (uint8_t)keypad[code - SC_KP7];
		return n;
	}
	char c = code < sizeof(plain) ? plain[code] : 0;
	if (!c) {
		k->unknown++;
		return 0;
	}
	bool shift = k->lshift || k->rshift, letter = c >= 'a' && c <= 'z';
	if (shift != (letter && k->caps))
		c = shifted[code];
	if (k->lctrl || k->rctrl) {
		/* Ctrl: letters and @[\]^_ to 0x00-0x1f, ? to DEL, space to NUL (Linux's keymap).
		 */
		char u = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
		if ((u >= '@' && u <= '_') || u == ' ')
			c = u == ' ' ? 0 : (char)(u & 0x1f);
		else if (u == '2')
			c = 0;
		else if (u >= '3' && u <= '7')
			c = (char)(0x1b + (u - '3')); /* Ctrl-3..7: ESC, FS, GS, RS, US */
		else if (u == '8' || u == '?')
			c = 0x7f;
		else if (u == '/')
			c = 0x1f;
	}
	out[n++] = (uint8_t)c;
	return n;
}
