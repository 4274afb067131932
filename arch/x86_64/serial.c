/* 16550 UART on COM1: the console that is always there. */
#include <arch/console.h>
#include <arch/cpu.h>
#include <kernel/klog.h>

#define COM1     0x3f8
#define LSR_THRE 0x20

static void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (int spin = 0; spin < 100000 && !(inb(COM1 + 5) & LSR_THRE); spin++)
			cpu_relax();
		outb(COM1, (uint8_t)s[i]);
	}
}

static struct console serial_console = {.name = "serial", .write = serial_write};

/* Program COM1 for 115200 8N1, FIFOs on, and register it as a console. */
void serial_init(void)
{
	outb(COM1 + 1, 0x00); /* no interrupts */
	outb(COM1 + 3, 0x80); /* DLAB */
	outb(COM1 + 0, 0x01); /* divisor 1: 115200 */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03); /* 8N1 */
	outb(COM1 + 2, 0xc7); /* FIFO on, cleared, 14-byte threshold */
	outb(COM1 + 4, 0x03); /* DTR, RTS */
	console_register(&serial_console);
}
