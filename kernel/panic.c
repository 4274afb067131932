/* panic(), kassert() failures and symbolized backtraces. */
#include <arch/cpu.h>
#include <kernel/klog.h>
#include <kernel/ksyms.h>
#include <kernel/layout.h>
#include <kernel/panic.h>
#include <kernel/percpu.h>
#include <kernel/power.h>
#include <kernel/smp.h>
#include <kernel/vm.h>
#include <lib/fmt.h>

static bool readable(uint64_t va)
{
	return va >= KERNEL_VBASE || (va >= HHDM_BASE && vm_kernel_flags(va)) ||
	       (va >= KSTACK_BASE && vm_kernel_flags(va));
}

static void print_frame(int n, uint64_t rip)
{
	uint64_t off;
	const char *name = ksyms_lookup(rip, &off);

	if (name)
		kprintf("  #%d %016lx %s+%#lx\n", n, rip, name, off);
	else
		kprintf("  #%d %016lx ?\n", n, rip);
}

/* Walk the frame-pointer chain; every step is checked so a bad chain cannot fault. */
void backtrace_from(uint64_t rip, uint64_t rbp)
{
	kprintf("backtrace:\n");
	print_frame(0, rip);
	for (int n = 1; n < 32; n++) {
		if (!rbp || rbp & 7 || !readable(rbp) || !readable(rbp + 8))
			break;
		uint64_t *fp = (uint64_t *)rbp;
		if (!fp[1])
			break;
		print_frame(n, fp[1]);
		if (fp[0] <= rbp)
			break;
		rbp = fp[0];
	}
}

__noreturn void panic(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	irq_disable();
	klog_panicking = true;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("\n*** PANIC on cpu %u: %s\n", ncpus_online ? cpu_index() : 0, buf);
	backtrace_from((uint64_t)__builtin_return_address(0), (uint64_t)__builtin_frame_address(0));
	smp_halt_others();
	power_test_exit(3);
	for (;;)
		cpu_halt();
}

__noreturn void kassert_fail(const char *expr, const char *file, int line, const char *func)
{
	panic("assertion '%s' failed at %s:%d in %s()", expr, file, line, func);
}
