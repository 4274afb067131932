/* Kernel log and console multiplexing. */
#include <arch/cpu.h>
#include <kernel/klog.h>
#include <kernel/spinlock.h>
#include <kernel/time.h>
#include <lib/fmt.h>

enum klog_level klog_threshold = KLOG_INFO;
bool klog_panicking; /* set by panic(): skip the lock, which may be held */

static struct console *consoles;
static struct spinlock console_lock = SPINLOCK_INIT("console");

void console_register(struct console *c)
{
	c->next = consoles;
	consoles = c;
}

/* Take c off the list (the screen handed to ring 3): no write reaches it after this returns. */
void console_unregister(struct console *c)
{
	spin_lock(&console_lock);
	for (struct console **pp = &consoles; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	spin_unlock(&console_lock);
}

static void write_all(const char *s, size_t n)
{
	for (struct console *c = consoles; c; c = c->next)
		c->write(s, n);
}

void console_write(const char *s, size_t n)
{
	if (klog_panicking) {
		write_all(s, n);
		return;
	}
	spin_lock(&console_lock);
	write_all(s, n);
	spin_unlock(&console_lock);
}

/* Format "[   s.uuuuuu] L " from the TSC (raw ticks before calibration). */
static int stamp(char *buf, size_t n, enum klog_level lvl)
{
	static const char lv[] = "EWID";
	uint64_t t = rdtsc() - tsc_boot;

	if (tsc_hz) {
		uint64_t us = t / (tsc_hz / 1000000);
		return snprintf(buf, n, "[%5lu.%06lu] %c ", us / 1000000, us % 1000000, lv[lvl]);
	}
	return snprintf(buf, n, "[tsc %9lu] %c ", t, lv[lvl]);
}

void vklog(enum klog_level lvl, const char *fmt, va_list ap)
{
	char buf[512];

	if (lvl > klog_threshold)
		return;
	int n = stamp(buf, sizeof(buf), lvl);
	n += vsnprintf(buf + n, sizeof(buf) - n - 2, fmt, ap);
	if (n > (int)sizeof(buf) - 3)
		n = sizeof(buf) - 3;
	buf[n++] = '\r';
	buf[n++] = '\n';
	console_write(buf, n);
}

void klog(enum klog_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vklog(lvl, fmt, ap);
	va_end(ap);
}

void kprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	/* Serial terminals want CRLF. */
	char out[1024];
	int m = 0;
	for (int i = 0; i < n; i++) {
		if (buf[i] == '\n')
			out[m++] = '\r';
		out[m++] = buf[i];
	}
	console_write(out, m);
}
