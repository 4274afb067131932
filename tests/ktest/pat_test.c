/*
 * ktest suite "pat": write-combining device mappings (HL_MAP_WC,
 * docs/devices.md). Every CPU runs with the PAT whose entry 4 is WC; a
 * user mapping built with the flags aspace.map uses for a WC device frame
 * has, in the entry the MMU reads, the PAT bit and neither PCD nor PWT, so
 * the CPU's own PAT gives it the WC type; the uncached flags give UC and
 * RAM stays write-back. The WC mapping reaches the device.
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/ktest.h>
#include <kernel/layout.h>
#include <kernel/pci.h>
#include <kernel/percpu.h>
#include <kernel/pmm.h>
#include <kernel/smp.h>
#include <lib/string.h>
#include <uapi/hallows/abi.h>

#define TEST_VA 0x40000000ull
#define POOL    8

static paddr_t pool[POOL];
static int pooled;
static uint64_t pat_seen[MAX_CPUS];

static paddr_t pool_page(void)
{
	if (pooled == POOL)
		return 0;
	paddr_t pa = pmm_alloc();
	if (pa) {
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
		pool[pooled++] = pa;
	}
	return pa;
}

static void *table_ptr(paddr_t pa, void *ctx)
{
	(void)ctx;
	return phys_to_virt(pa);
}

static void read_pat(void *arg)
{
	(void)arg;
	pat_seen[this_cpu()->index] = rdmsr(MSR_PAT);
}

/* The memory type the CPU gives a 4 KiB leaf entry: its PAT entry's type field. */
static uint32_t memory_type(uint64_t pte)
{
	uint32_t i =
	    (pte & PTE_PAT_4K ? 4u : 0u) | (pte & PTE_PCD ? 2u : 0u) | (pte & PTE_PWT ? 1u : 0u);

	return (uint32_t)(rdmsr(MSR_PAT) >> (8 * i)) & 7;
}

KTEST(pat, every_cpu_has_the_write_combining_entry)
{
	if (!cpu_feat.pat) {
		KSKIP(t, "CPU without PAT");
		return;
	}
	memset(pat_seen, 0, sizeof(pat_seen));
	uint32_t ran = smp_call_all(read_pat, NULL);
	KEXPECT(t, ran == ncpus_online, "%u of %u CPUs answered", ran, ncpus_online);
	for (uint32_t c = 0; c < ncpus_online; c++)
		KEXPECT(t, pat_seen[c] == PAT_HALLOWS, "CPU %u: PAT %#lx", c,
		        (unsigned long)pat_seen[c]);
	KEXPECT(t, ((PAT_HALLOWS >> (8 * PAT_ENTRY_WC)) & 7) == PAT_TYPE_WC, "entry 4 is not WC");
}

/* The last page of the display's video memory, or 0. */
static paddr_t vram_last_page(void)
{
	const struct pci_dev *d = pci_find_class(0x03, 0x00, 0);

	if (!d || d->bar[0].io || d->bar[0].size < 0x10000 || !d->bar[0].base)
		return 0;
	return d->bar[0].base + d->bar[0].size - PAGE_SIZE;
}

KTEST(pat, wc_device_mapping_has_the_wc_type_and_reaches_the_device)
{
	paddr_t dev = vram_last_page();

	if (!cpu_feat.pat || !dev) {
		KSKIP(t, "no PAT or no display controller with video memory");
		return;
	}
	paddr_t as_pa = pmm_alloc_pages(2, 1);
	if (!KCHECK(t, as_pa != 0))
		return;
	memset(phys_to_virt(as_pa), 0, 2 * PAGE_SIZE);
	struct aspace *as = phys_to_virt(as_pa);
	aspace_init(as);
	uint64_t wc = aspace_pte_flags(HL_R_READ | HL_R_WRITE, true, true);
	uint64_t uc = aspace_pte_flags(HL_R_READ | HL_R_WRITE, true, false);
	uint64_t ram = aspace_pte_flags(HL_R_READ | HL_R_WRITE, false, true);
	KEXPECT(t, aspace_map_boot(as, TEST_VA, dev, wc, pool_page) == 0, "map failed");
	KEXPECT(t, aspace_map_boot(as, TEST_VA + PAGE_SIZE, dev, uc, pool_page) == 0, "map failed");
	paddr_t page = pool_page();
	KEXPECT(t, page && aspace_map_boot(as, TEST_VA + 2 * PAGE_SIZE, page, ram, pool_page) == 0,
	        "map failed");

	/* The entries as the MMU reads them, not as pt_lookup reports them. */
	static const struct pt_env walk = {table_ptr, NULL, NULL, NULL, NULL};
	int err;
	uint64_t *pt = pt_table(&walk, as->root, TEST_VA, 0, &err);
	if (KCHECK(t, pt != NULL)) {
		uint64_t e = pt[pt_index(TEST_VA, 0)];
		KEXPECT(t, (e & (PTE_PAT_4K | PTE_PCD | PTE_PWT)) == PTE_PAT_4K, "WC entry %#lx",
		        (unsigned long)e);
		KEXPECT(t, memory_type(e) == PAT_TYPE_WC, "WC entry's type %u", memory_type(e));
		e = pt[pt_index(TEST_VA + PAGE_SIZE, 0)];
		KEXPECT(t, memory_type(e) == 0, "uncached entry's type %u (want UC)",
		        memory_type(e));
		e = pt[pt_index(TEST_VA + 2 * PAGE_SIZE, 0)];
		KEXPECT(t, memory_type(e) == 6, "RAM entry's type %u (want WB: no WC for RAM)",
		        memory_type(e));
	}

	/* Through the WC mapping: written, fenced, read back through the uncached one. */
	struct cpu *c = this_cpu();
	struct aspace *saved = c->loaded_aspace;
	arch_aspace_load(c, as);
	stac();
	volatile uint32_t *w = (volatile uint32_t *)(TEST_VA + PAGE_SIZE - 4);
	volatile uint32_t *u = (volatile uint32_t *)(TEST_VA + 2 * PAGE_SIZE - 4);
	uint32_t old = *u;
	*w = 0xc0ffee11;
	__asm__ volatile("sfence" ::: "memory");
	uint32_t back = *u;
	*u = old;
	clac();
	arch_aspace_load(c, saved);
	KEXPECT(t, back == 0xc0ffee11, "read back %#x", back);

	aspace_destroy(as, NULL);
	pmm_free_pages(as_pa, 2);
	while (pooled) {
		aspace_forget_boot_table(pool[--pooled]);
		pmm_free_pages(pool[pooled], 1);
	}
}
