/*
 * Kernel log: levelled, TSC-timestamped lines to every console sink.
 * Safe from any context after console_init(); serialized by one lock.
 */
#ifndef KERNEL_KLOG_H
#define KERNEL_KLOG_H

#include <kernel/types.h>
#include <stdarg.h>

enum klog_level { KLOG_ERR = 0, KLOG_WARN, KLOG_INFO, KLOG_DEBUG };

/* A console sink: writes raw bytes; called with the console lock held. */
struct console {
	const char *name;
	void (*write)(const char *s, size_t n);
	struct console *next;
};

void console_register(struct console *c);
/* Take c off the list: no write reaches it after this returns. */
void console_unregister(struct console *c);
/* Write raw bytes to every sink (no timestamp, no level). */
void console_write(const char *s, size_t n);

void klog(enum klog_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vklog(enum klog_level lvl, const char *fmt, va_list ap);
/* Raw formatted output without prefix (boot markers, KTAP, tables). */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern enum klog_level klog_threshold;
extern bool klog_panicking; /* set by panic() and fatal traps: writers skip the console lock */

#define pr_err(...)   klog(KLOG_ERR, __VA_ARGS__)
#define pr_warn(...)  klog(KLOG_WARN, __VA_ARGS__)
#define pr_info(...)  klog(KLOG_INFO, __VA_ARGS__)
#define pr_debug(...) klog(KLOG_DEBUG, __VA_ARGS__)

#endif
