/*
 * dmacrash: the program of the partition-restart test (mk/user.mk,
 * root-task-restarts-a-crashed-partition; docs/manifest.md, "On crash").
 *
 * Each start it crashes (a write to address 0) until the root task has
 * restarted its partition `until` times (config until=N, default 1); then
 * it says so and ends. If the partition owns QEMU's edu device, the first
 * start aims a DMA from the device into one of its own pages and crashes
 * before the device performs it (edu does it 100 ms later). The root task
 * must quiesce the device before it takes the memory back: every later
 * start finds the DMA's target address in edu's registers, checks that it
 * owns that page again (the partition is rebuilt in the same memory) and
 * that it stays zero well past the moment the DMA was due, leaving bus
 * mastering off as the root task left it (turned back on at once, the old
 * DMA lands in the new page: edu offers no function reset to cancel it).
 */
#include <hallows/rt.h>
#include <lib/string.h>

#define EDU_VENDOR  0x1234
#define EDU_DEVICE  0x11e8
#define EDU_VA      0x500000000ull
#define PAGE_VA     0x500100000ull /* two pages: the DMA's source, then its target */
#define EDU_DMA_BUF 0x40000
/* Not the whole buffer: QEMU 7.2's edu refuses a transfer that ends at its last byte. */
#define EDU_WORDS 512

enum { E_DMA_SRC = 0x80, E_DMA_DST = 0x88, E_DMA_COUNT = 0x90, E_DMA_CMD = 0x98 };

static volatile uint32_t *edu;

static uint64_t now_ms(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32 | lo) / (rt_self.bi->tsc_hz / 1000);
}

/* edu's registers and a capability to it, or false when the partition has no edu. */
static bool open_edu(hl_cptr_t *dev)
{
	struct hl_bootinfo_pci f;

	for (uint32_t i = 0; rt_pci_function(i, &f); i++) {
		if (f.vendor != EDU_VENDOR || f.device != EDU_DEVICE)
			continue;
		hl_cptr_t d = rt_pci_open(i), bar = rt_slot(), frame = rt_slot();
		if (!d || hl_pci_device_map_bar(d, 0, bar) ||
		    hl_memory_retype(bar, HL_OBJ_FRAME, 12, 1, frame) ||
		    rt_map_frame(HL_SLOT_ASPACE, frame, EDU_VA, HL_R_READ | HL_R_WRITE))
			return false;
		edu = (volatile uint32_t *)EDU_VA;
		*dev = d;
		return true;
	}
	return false;
}

/* Page i at PAGE_VA, mapped for us and for the device's DMA; its physical address in *pa. */
static volatile uint32_t *dma_page(hl_cptr_t dev, int i, hl_word_t *pa)
{
	hl_cptr_t f = rt_alloc(HL_OBJ_FRAME, 12), copy = rt_slot();
	uint64_t va = PAGE_VA + (uint64_t)i * 4096;

	if (!f || !copy || rt_map_frame(HL_SLOT_ASPACE, f, va, HL_R_READ | HL_R_WRITE) ||
	    hl_frame_paddr(f, pa) ||
	    hl_cspace_copy(HL_SLOT_CSPACE, copy, f, HL_R_READ | HL_R_WRITE) ||
	    hl_pci_device_dma_map(dev, copy))
		return NULL;
	return (volatile uint32_t *)va;
}

static void start_dma(uint64_t src, uint64_t dst, uint32_t cmd)
{
	edu[E_DMA_SRC / 4] = (uint32_t)src, edu[E_DMA_SRC / 4 + 1] = (uint32_t)(src >> 32);
	edu[E_DMA_DST / 4] = (uint32_t)dst, edu[E_DMA_DST / 4 + 1] = (uint32_t)(dst >> 32);
	edu[E_DMA_COUNT / 4] = EDU_WORDS * 4;
	edu[E_DMA_CMD / 4] = cmd | 1;
}

static bool dma_done(uint64_t ms)
{
	for (uint64_t end = now_ms() + ms; now_ms() < end;)
		if (!(edu[E_DMA_CMD / 4] & 1))
			return true;
	return false;
}

/* First start: fill edu's buffer, aim it at our target page, and leave before it lands. */
static void aim_dma(volatile uint32_t *src, hl_word_t src_pa, hl_word_t dst_pa)
{
	for (int i = 0; i < EDU_WORDS; i++)
		src[i] = 0xd1a00000u + (uint32_t)i;
	start_dma(src_pa, EDU_DMA_BUF, 0); /* RAM -> edu */
	if (!dma_done(1000)) {
		rt_printf("dmacrash: edu did not take the pattern\n");
		return;
	}
	start_dma(EDU_DMA_BUF, dst_pa, 2); /* edu -> RAM, 100 ms from now */
	rt_printf("dmacrash: DMA into page %#lx started; crashing before it lands\n",
	          (unsigned long)dst_pa);
}

/* Later starts: the first start's target must be ours again and stay zero. */
static void check_target(volatile uint32_t *dst, hl_word_t dst_pa)
{
	uint64_t aimed = edu[E_DMA_DST / 4]; /* edu answers 32-bit reads of the low half only */
	uint64_t t0 = now_ms();
	int changed = 0;

	while (now_ms() - t0 < 400)
		hl_yield();
	for (int i = 0; i < EDU_WORDS; i++)
		changed += dst[i] != 0;
	if (aimed != dst_pa)
		rt_printf("dmacrash: restart %u: the DMA aimed at %#lx, our page is now %#lx: not "
		          "checked\n",
		          rt_self.pi->restarts, (unsigned long)aimed, (unsigned long)dst_pa);
	else
		rt_printf("dmacrash: restart %u: page %#lx (the DMA's target) %s 400 ms later\n",
		          rt_self.pi->restarts, (unsigned long)dst_pa,
		          changed ? "CHANGED" : "untouched");
}

int main(struct rt *rt)
{
	const char *u = rt_config("until");
	uint32_t until = u && *u >= '0' && *u <= '9' ? (uint32_t)(*u - '0') : 1;
	uint32_t restarts = rt->pi ? rt->pi->restarts : 0;
	hl_cptr_t dev = 0;

	rt_printf("dmacrash: start %u (restarts %u of %u)\n", restarts + 1, restarts, until);
	if (open_edu(&dev)) {
		hl_word_t src_pa = 0, dst_pa = 0, cmd = 0;
		volatile uint32_t *src = dma_page(dev, 0, &src_pa),
		                  *dst = dma_page(dev, 1, &dst_pa);
		if (!src || !dst) {
			rt_printf("dmacrash: no DMA pages\n");
			return 1;
		}
		if (restarts == 0) {
			hl_pci_device_config_read(dev, 4, 2, &cmd);
			hl_pci_device_config_write(dev, 4, 2, cmd | 0x4); /* bus mastering on */
			aim_dma(src, src_pa, dst_pa);
		} else {
			/* Bus mastering stays off (as the root task left it): edu has no function
			 * reset, so a driver could not cancel the old DMA anyway. */
			check_target(dst, dst_pa);
		}
	}
	if (restarts >= until) {
		rt_printf("dmacrash: done after %u restarts\n", restarts);
		return 0;
	}
	__asm__ volatile("movl $1, 0" ::: "memory"); /* the crash: a write to address 0 */
	return 1;
}
