/*
 * The screen console's terminal (screen.h). Sequences and their meaning as
 * in console_codes(4) (Linux's console) and ECMA-48; parameters are capped
 * at 9999 and at LX_SCR_PARAMS of them, and what is not understood is
 * dropped whole, never drawn half.
 */
#include "screen.h"

#include <lib/string.h>

#define BLANK(s) ((uint16_t)((s)->attr << 8 | ' '))

static void touch(struct lx_screen *s, uint32_t lo, uint32_t hi)
{
	if (s->dirty_lo >= s->dirty_hi)
		s->dirty_lo = lo, s->dirty_hi = hi;
	if (lo < s->dirty_lo)
		s->dirty_lo = lo;
	if (hi > s->dirty_hi)
		s->dirty_hi = hi;
}

static void clear_cells(struct lx_screen *s, uint32_t y, uint32_t x0, uint32_t x1)
{
	for (uint32_t x = x0; x < x1; x++)
		s->cell[y][x] = BLANK(s);
	touch(s, y, y + 1);
}

void lx_screen_init(struct lx_screen *s)
{
	memset(s, 0, sizeof(*s));
	s->attr = s->saved_attr = LX_SCR_ATTR;
	s->cursor_on = true;
	s->bottom = LX_SCR_ROWS - 1;
	for (uint32_t y = 0; y < LX_SCR_ROWS; y++)
		clear_cells(s, y, 0, LX_SCR_COLS);
}

/* Rows top..bottom move up by n (new blank rows at the bottom), or down with n < 0. */
static void scroll(struct lx_screen *s, uint32_t top, uint32_t bottom, int n)
{
	uint32_t rows = bottom - top + 1, k = (uint32_t)(n < 0 ? -n : n);

	if (k > rows)
		k = rows;
	if (n > 0)
		memmove(s->cell[top], s->cell[top + k], (size_t)(rows - k) * sizeof(s->cell[0]));
	else
		memmove(s->cell[top + k], s->cell[top], (size_t)(rows - k) * sizeof(s->cell[0]));
	for (uint32_t i = 0; i < k; i++)
		clear_cells(s, n > 0 ? bottom - i : top + i, 0, LX_SCR_COLS);
	touch(s, top, bottom + 1);
}

static void line_feed(struct lx_screen *s)
{
	if (s->y == s->bottom)
		scroll(s, s->top, s->bottom, 1);
	else if (s->y < LX_SCR_ROWS - 1)
		s->y++;
}

static void reverse_feed(struct lx_screen *s)
{
	if (s->y == s->top)
		scroll(s, s->top, s->bottom, -1);
	else if (s->y > 0)
		s->y--;
}

static void put_char(struct lx_screen *s, uint8_t c)
{
	if (s->wrap) {
		s->x = 0, s->wrap = false;
		line_feed(s);
	}
	uint8_t a = s->attr;
	if (s->reverse)
		a = (uint8_t)((a & 0x88) | (a & 0x07) << 4 | (a & 0x70) >> 4);
	s->cell[s->y][s->x] = (uint16_t)(a << 8 | c);
	touch(s, s->y, s->y + 1);
	if (s->x == LX_SCR_COLS - 1)
		s->wrap = true;
	else
		s->x++;
}

static uint32_t clampu(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The i-th parameter, def when absent or 0 (where 0 means the default, as for moves). */
static uint32_t arg(const struct lx_screen *s, uint32_t i, uint32_t def)
{
	return i < s->nparam && s->param[i] ? s->param[i] : def;
}

static void sgr(struct lx_screen *s)
{
	/* ANSI colour order (black red green yellow blue magenta cyan white) to VGA's. */
	static const uint8_t vga[8] = {0, 4, 2, 6, 1, 5, 3, 7};

	if (!s->nparam)
		s->nparam = 1, s->param[0] = 0;
	for (uint32_t i = 0; i < s->nparam; i++) {
		uint32_t p = s->param[i];
		if (p == 0)
			s->attr = LX_SCR_ATTR, s->bold = s->reverse = false;
		else if (p == 1)
			s->bold = true, s->attr |= 0x08;
		else if (p == 22)
			s->bold = false, s->attr &= (uint8_t)~0x08;
		else if (p == 7)
			s->reverse = true;
		else if (p == 27)
			s->reverse = false;
		else if (p >= 30 && p <= 37)
			s->attr = (uint8_t)((s->attr & 0xf8) | vga[p - 30]);
		else if (p == 39)
			s->attr = (uint8_t)((s->attr & 0xf8) | (LX_SCR_ATTR & 7));
		else if (p >= 40 && p <= 47)
			s->attr = (uint8_t)((s->attr & 0x8f) | vga[p - 40] << 4);
		else if (p == 49)
			s->attr &= 0x8f;
	}
}

static void reply(struct lx_screen *s, uint32_t row, uint32_t col)
{
	char buf[24];
	uint32_t n = 0, v[2] = {row, col};

	buf[n++] = 0x1b, buf[n++] = '[';
	for (int i = 0; i < 2; i++) {
		char d[4];
		int k = 0;
		for (uint32_t x = v[i]; k == 0 || x; x /= 10)
			d[k++] = (char)('0' + x % 10);
		while (k)
			buf[n++] = d[--k];
		buf[n++] = i ? 'R' : ';';
	}
	if (s->reply_len + n <= sizeof(s->reply)) {
		memcpy(s->reply + s->reply_len, buf, n);
		s->reply_len += n;
	}
}

static void erase_display(struct lx_screen *s, uint32_t how)
{
	uint32_t y0 = how == 0 ? s->y + 1 : 0, y1 = how == 1 ? s->y : LX_SCR_ROWS;

	if (how == 0)
		clear_cells(s, s->y, s->x, LX_SCR_COLS);
	else if (how == 1)
		clear_cells(s, s->y, 0, s->x + 1);
	else if (how != 2 && how != 3)
		return;
	for (uint32_t y = y0; y < y1; y++)
		clear_cells(s, y, 0, LX_SCR_COLS);
}

static void erase_line(struct lx_screen *s, uint32_t how)
{
	if (how == 0)
		clear_cells(s, s->y, s->x, LX_SCR_COLS);
	else if (how == 1)
		clear_cells(s, s->y, 0, s->x + 1);
	else if (how == 2)
		clear_cells(s, s->y, 0, LX_SCR_COLS);
}

/* Delete (n > 0) or insert (n < 0) characters at the cursor, within its line. */
static void shift_chars(struct lx_screen *s, uint32_t n, bool del)
{
	uint16_t *row = s->cell[s->y];
	uint32_t room = LX_SCR_COLS - s->x;

	n = clampu(n, 1, room);
	if (del) {
		memmove(row + s->x, row + s->x + n, (room - n) * sizeof(row[0]));
		clear_cells(s, s->y, LX_SCR_COLS - n, LX_SCR_COLS);
	} else {
		memmove(row + s->x + n, row + s->x, (room - n) * sizeof(row[0]));
		clear_cells(s, s->y, s->x, s->x + n);
	}
}

static void csi(struct lx_screen *s, uint8_t final)
{
	uint32_t n = arg(s, 0, 1), last = LX_SCR_COLS - 1;

	if (s->priv) { /* CSI ? 25 h / l: the cursor shown or hidden; other modes ignored */
		for (uint32_t i = 0; i < s->nparam; i++)
			if (s->param[i] == 25 && (final == 'h' || final == 'l'))
				s->cursor_on = final == 'h';
		return;
	}
	if (final != 'm')
		s->wrap = false;
	switch (final) {
	case 'A':
		/* Up to the region's top row from inside it, to row 0 from above it. */
		s->y = s->y >= s->top ? (s->y - s->top >= n ? s->y - n : s->top)
		                      : (s->y >= n ? s->y - n : 0);
		break;
	case 'B':
	case 'e':
		s->y = s->y <= s->bottom ? clampu(s->y + n, 0, s->bottom)
		                         : clampu(s->y + n, 0, LX_SCR_ROWS - 1);
		break;
	case 'C':
	case 'a':
		s->x = clampu(s->x + n, 0, last);
		break;
	case 'D':
		s->x = s->x >= n ? s->x - n : 0;
		break;
	case 'E':
		s->x = 0, s->y = clampu(s->y + n, 0, LX_SCR_ROWS - 1);
		break;
	case 'F':
		s->x = 0, s->y = s->y >= n ? s->y - n : 0;
		break;
	case 'G':
	case '`':
		s->x = clampu(n, 1, LX_SCR_COLS) - 1;
		break;
	case 'd':
		s->y = clampu(n, 1, LX_SCR_ROWS) - 1;
		break;
	case 'H':
	case 'f':
		s->y = clampu(arg(s, 0, 1), 1, LX_SCR_ROWS) - 1;
		s->x = clampu(arg(s, 1, 1), 1, LX_SCR_COLS) - 1;
		break;
	case 'J':
		erase_display(s, s->nparam ? s->param[0] : 0);
		break;
	case 'K':
		erase_line(s, s->nparam ? s->param[0] : 0);
		break;
	case 'P':
		shift_chars(s, n, true);
		break;
	case '@':
		shift_chars(s, n, false);
		break;
	case 'X':
		clear_cells(s, s->y, s->x, clampu(s->x + n, 0, LX_SCR_COLS));
		break;
	case 'L':
	case 'M':
		if (s->y >= s->top && s->y <= s->bottom)
			scroll(s, s->y, s->bottom,
			       final == 'M' ? (int)clampu(n, 1, 25) : -(int)clampu(n, 1, 25));
		break;
	case 'S':
		scroll(s, s->top, s->bottom, (int)clampu(n, 1, 25));
		break;
	case 'T':
		scroll(s, s->top, s->bottom, -(int)clampu(n, 1, 25));
		break;
	case 'm':
		sgr(s);
		break;
	case 'n':
		if (arg(s, 0, 0) == 6)
			reply(s, s->y + 1, s->x + 1);
		else if (arg(s, 0, 0) == 5 && s->reply_len + 4 <= sizeof(s->reply))
			memcpy(s->reply + s->reply_len, "\033[0n", 4), s->reply_len += 4;
		break;
	case 'r': {
		uint32_t t = clampu(arg(s, 0, 1), 1, LX_SCR_ROWS) - 1,
		         b = clampu(arg(s, 1, LX_SCR_ROWS), 1, LX_SCR_ROWS) - 1;
		if (t < b)
			s->top = t, s->bottom = b, s->x = 0, s->y = 0;
		break;
	}
	case 's':
		s->saved_x = s->x, s->saved_y = s->y, s->saved_attr = s->attr;
		break;
	case 'u':
		s->x = s->saved_x, s->y = s->saved_y, s->attr = s->saved_attr;
		break;
	default: /* not served: dropped */
		break;
	}
}

static void control(struct lx_screen *s, uint8_t c)
{
	switch (c) {
	case '\b':
		if (s->wrap)
			s->wrap = false;
		else if (s->x)
			s->x--;
		break;
	case '\t':
		s->wrap = false;
		s->x = clampu((s->x / 8 + 1) * 8, 0, LX_SCR_COLS - 1);
		break;
	case '\n':
	case '\v':
	case '\f':
		s->wrap = false;
		line_feed(s);
		break;
	case '\r':
		s->x = 0, s->wrap = false;
		break;
	case 0x18: /* CAN, SUB: end a sequence */
	case 0x1a:
		s->state = 0;
		break;
	case 0x1b:
		s->state = 1, s->priv = false, s->nparam = 0;
		break;
	default: /* BEL, SO, SI, and the rest: nothing to draw */
		break;
	}
}

static void escape(struct lx_screen *s, uint8_t c)
{
	s->state = 0;
	switch (c) {
	case '[':
		s->state = 2, s->priv = false, s->nparam = 0;
		memset(s->param, 0, sizeof(s->param));
		break;
	case '7':
		s->saved_x = s->x, s->saved_y = s->y, s->saved_attr = s->attr;
		break;
	case '8':
		s->x = s->saved_x, s->y = s->saved_y, s->attr = s->saved_attr, s->wrap = false;
		break;
	case 'c':
		lx_screen_init(s);
		break;
	case 'D':
		line_feed(s);
		break;
	case 'E':
		s->x = 0;
		line_feed(s);
		break;
	case 'M':
		reverse_feed(s);
		break;
	case '(': /* character set choices: their one argument is dropped */
	case ')':
	case '#':
	case '%':
		s->state = 3;
		break;
	default:
		break;
	}
}

static void in_csi(struct lx_screen *s, uint8_t c)
{
	if (c >= '0' && c <= '9') {
		if (!s->nparam)
			s->nparam = 1;
		uint32_t *p = &s->param[s->nparam - 1];
		*p = *p * 10 + (uint32_t)(c - '0');
		if (*p > 9999)
			*p = 9999;
	} else if (c == ';') {
		if (!s->nparam)
			s->nparam = 1;
		if (s->nparam < LX_SCR_PARAMS)
			s->nparam++;
		else
			s->state = 4; /* too many: the sequence is dropped at its final byte */
	} else if (c == '?' || c == '>' || c == '=') {
		s->priv = true;
	} else if (c >= 0x40 && c <= 0x7e) {
		s->state = 0;
		csi(s, c);
	} else if (c >= 0x20 && c <= 0x2f) {
		s->state = 4; /* intermediates: not served */
	} else {
		s->state = 0; /* a byte no sequence has: the sequence is cut short */
	}
}

void lx_screen_write(struct lx_screen *s, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = buf[i];
		if (c < 0x20 || c == 0x7f) {
			if (c != 0x7f)
				control(s, c); /* also inside a sequence, as a VT100 */
			continue;
		}
		switch (s->state) {
		case 1:
			escape(s, c);
			continue;
		case 2:
			in_csi(s, c);
			continue;
		case 3:
			s->state = 0;
			continue;
		case 4:
			if (c >= 0x40 && c <= 0x7e)
				s->state = 0;
			continue;
		default:
			break;
		}
		if (c >= 0x80) { /* UTF-8: one cell for the character, shown as '?' */
			if (s->utf8_left && (c & 0xc0) == 0x80) {
				s->utf8_left--;
				continue;
			}
			s->utf8_left = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
			put_char(s, '?');
			continue;
		}
		s->utf8_left = 0;
		put_char(s, c);
	}
}
