/* A small, bounded vsnprintf: never writes past size, always terminates. */
#include <lib/fmt.h>
#include <stdbool.h>
#include <stdint.h>

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		put(o, c);
}

/* Emit an unsigned number in base with width/zero padding and an optional sign. */
static void put_num(struct out *o, uint64_t v, unsigned base, bool upper, const char *prefix,
                    int width, bool zero, bool left)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n;
	for (const char *p = prefix; *p; p++)
		len++;
	if (!left && !zero)
		put_pad(o, ' ', width - len);
	for (const char *p = prefix; *p; p++)
		put(o, *p);
	if (!left && zero)
		put_pad(o, '0', width - len);
	while (n)
		put(o, tmp[--n]);
	if (left)
		put_pad(o, ' ', width - len);
}

static void put_str(struct out *o, const char *s, int width, int prec, bool left)
{
	int len = 0;

	if (!s)
		s = "(null)";
	while ((prec < 0 || len < prec) && s[len])
		len++;
	if (!left)
		put_pad(o, ' ', width - len);
	for (int i = 0; i < len; i++)
		put(o, s[i]);
	if (left)
		put_pad(o, ' ', width - len);
}

/* Fetch an integer argument of the given length modifier (0=int 1=long 2=ll/size -1=h -2=hh). */
static uint64_t get_arg(va_list *ap, int lmod, bool is_signed, bool *neg)
{
	int64_t s;
	uint64_t u;

	*neg = false;
	if (is_signed) {
		if (lmod >= 1)
			s = va_arg(*ap, int64_t);
		else
			s = va_arg(*ap, int);
		if (lmod == -1)
			s = (short)s;
		else if (lmod == -2)
			/* %hhd means signed char.
			 * NOLINTNEXTLINE(bugprone-signed-char-misuse,cert-str34-c) */
			s = (signed char)s;
		if (s < 0) {
			*neg = true;
			return (uint64_t)0 - (uint64_t)s;
		}
		return (uint64_t)s;
	}
	if (lmod >= 1)
		u = va_arg(*ap, uint64_t);
	else
		u = va_arg(*ap, unsigned int);
	if (lmod == -1)
		u = (unsigned short)u;
	else if (lmod == -2)
		u = (unsigned char)u;
	return u;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap_in)
{
	struct out o = {buf, size, 0};
	va_list ap;

	va_copy(ap, ap_in);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		bool left = false, zero = false, alt = false, neg;
		int width = 0, prec = -1, lmod = 0;
		fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				left = true;
			else if (*fmt == '0')
				zero = true;
			else if (*fmt == '#')
				alt = true;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			fmt++;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		if (*fmt == '.') {
			prec = 0;
			fmt++;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			}
			while (*fmt >= '0' && *fmt <= '9')
				prec = prec * 10 + (*fmt++ - '0');
		}
		for (;; fmt++) {
			if (*fmt == 'l' || *fmt == 'z' || *fmt == 'j')
				lmod = lmod < 1 ? 1 : 2;
			else if (*fmt == 'h')
				lmod = lmod == 0 ? -1 : -2;
			else
				break;
		}
		uint64_t v;
		switch (*fmt) {
		case 'd':
		case 'i':
			v = get_arg(&ap, lmod, true, &neg);
			put_num(&o, v, 10, false, neg ? "-" : "", width, zero, left);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			v = get_arg(&ap, lmod, false, &neg);
			put_num(&o, v,
			        *fmt == 'u'   ? 10
			        : *fmt == 'o' ? 8
			                      : 16,
			        *fmt == 'X',
			        !alt          ? ""
			        : *fmt == 'x' ? "0x"
			        : *fmt == 'X' ? "0X"
			                      : "",
			        width, zero, left);
			break;
		case 'p':
			put(&o, '0');
			put(&o, 'x');
			put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false, "", 16,
			        true, false);
			break;
		case 's':
			put_str(&o, va_arg(ap, const char *), width, prec, left);
			break;
		case 'c':
			if (!left)
				put_pad(&o, ' ', width - 1);
			put(&o, (char)va_arg(ap, int));
			if (left)
				put_pad(&o, ' ', width - 1);
			break;
		case '%':
			put(&o, '%');
			break;
		case 0:
			fmt--;
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
		}
	}
	va_end(ap);
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
