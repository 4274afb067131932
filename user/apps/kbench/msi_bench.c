/*
 * MSI delivery (docs/benchmarks.md): QEMU's edu device raises its interrupt
 * when we write its raise register; the message reaches the kernel's
 * vector, the IRQ capability signals a notification, and the waiter (a
 * thread of higher priority, blocked on it on this CPU) runs. Instructions
 * from the register write to the waiter's first timestamp, under -icount:
 * the whole path from a device interrupt to a ring-3 driver thread.
 * Skipped without `-device edu`.
 */
#include "kbench.h"

#define EDU_VA 0x5f0000000ull /* clear of SHARED_VA and the ring benchmark's pages */
enum { E_IRQ_RAISE = 0x60, E_IRQ_ACK = 0x64 };

static hl_cptr_t msi_ntfn;
static volatile uint64_t *stamp; /* shared[2] in the waiter's space */

static void msi_waiter(void *arg)
{
	hl_word_t info = 0, bits;
	struct hl_msg m = {{0}};

	(void)arg;
	for (;;) {
		hl_syscall(HL_SYS_RECV, msi_ntfn, &info, &m, &bits);
		((volatile uint64_t *)SHARED_VA)[2] = bench_rdtsc();
	}
}

/* edu's registers mapped, its MSI aimed at CPU 0 and bound to msi_ntfn; NULL without edu. */
static volatile uint32_t *edu_msi(void)
{
	struct hl_bootinfo_pci f;

	for (uint32_t i = 0; rt_pci_function(i, &f); i++) {
		if (f.vendor != 0x1234 || f.device != 0x11e8)
			continue;
		hl_cptr_t dev = rt_pci_open(i), bar = rt_slot(), frame = rt_slot(), irq = rt_slot();
		hl_word_t cmd = 0;
		long e1 = dev ? hl_pci_device_map_bar(dev, 0, bar) : -1;
		long e2 = e1 ? 0 : hl_memory_retype(bar, HL_OBJ_FRAME, 12, 1, frame);
		long e3 = e1 || e2
		              ? 0
		              : rt_map_frame(HL_SLOT_ASPACE, frame, EDU_VA, HL_R_READ | HL_R_WRITE);
		long e4 = e1 || e2 || e3 ? 0 : hl_pci_device_msi(dev, 0, 0, irq);
		long e5 = e1 || e2 || e3 || e4 ? 0 : hl_irq_handler_set_notification(irq, msi_ntfn);
		if (e1 || e2 || e3 || e4 || e5) {
			rt_printf("kbench: edu: map_bar %ld retype %ld map %ld msi %ld bind %ld\n",
			          e1, e2, e3, e4, e5);
			return NULL;
		}
		hl_pci_device_config_read(dev, 4, 2, &cmd);
		hl_pci_device_config_write(dev, 4, 2, cmd | 0x4); /* a message is a DMA write */
		return (volatile uint32_t *)EDU_VA;
	}
	return NULL;
}

void bench_msi(hl_cptr_t shared_frame, uint32_t rounds, uint32_t iters)
{
	volatile uint32_t *edu;
	uint64_t v[16] = {0};

	if (rounds == 0 || iters == 0)
		return;
	msi_ntfn = rt_alloc(HL_OBJ_NOTIFICATION, 0);
	stamp = (volatile uint64_t *)SHARED_VA;
	if (!msi_ntfn || !(edu = edu_msi())) {
		rt_printf("kbench: no edu device (-device edu): MSI delivery skipped\n");
		return;
	}
	/* Called at priority 99 (after the notification benchmark); no thread may be made above
	 * its maker. */
	hl_cptr_t w = bench_spawn(msi_waiter, 99, 0, shared_frame);
	if (!w) {
		rt_printf("kbench: cannot start the MSI waiter\n");
		return;
	}
	hl_thread_set_priority(HL_SLOT_THREAD, 98); /* the waiter preempts us when it wakes */
	if (rounds > 16)
		rounds = 16;
	for (uint32_t r = 0; r < rounds; r++) {
		uint64_t sum = 0;
		for (uint32_t i = 0; i < iters; i++) {
			stamp[2] = 0;
			uint64_t t0 = bench_rdtsc();
			edu[E_IRQ_RAISE / 4] = 1;
			while (!stamp[2])
				hl_yield(); /* the interrupt is taken at once; this is only a safety
				               net */
			sum += stamp[2] - t0;
			edu[E_IRQ_ACK / 4] = 1;
		}
		v[r] = sum / iters;
	}
	hl_thread_suspend(w);
	hl_thread_set_priority(HL_SLOT_THREAD, 98);
	for (uint32_t i = 1; i < rounds; i++) /* median */
		for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t x = v[j];
			v[j] = v[j - 1], v[j - 1] = x;
		}
	bench_report("irq.hallows.msi_to_thread_instructions", v[rounds / 2]);
}
