/* ktest suite "memory": frames, kernel page tables, W^X, kmalloc. */
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/kmalloc.h>
#include <kernel/ktest.h>
#include <kernel/layout.h>
#include <kernel/pmm.h>
#include <kernel/vm.h>
#include <lib/string.h>

extern char __text_start[], __rodata_start[], __data_start[], boot_stack_guard[];

KTEST(memory, pmm_alloc_free_roundtrip)
{
	uint64_t before = pmm_free_count();
	paddr_t a = pmm_alloc(), b = pmm_alloc();

	if (!KCHECK(t, a && b && a != b))
		return;
	KEXPECT(t, pmm_free_count() == before - 2);
	KEXPECT(t, (a & (PAGE_SIZE - 1)) == 0);
	memset(phys_to_virt(a), 0xa5, PAGE_SIZE); /* the direct map reaches it */
	pmm_free_pages(a, 1);
	pmm_free_pages(b, 1);
	KEXPECT(t, pmm_free_count() == before);
}

KTEST(memory, pmm_contiguous_aligned)
{
	paddr_t p = pmm_alloc_pages(512, 512);

	if (!KCHECK(t, p != 0, "no 2 MiB block"))
		return;
	KEXPECT(t, (p & (HUGE_SIZE - 1)) == 0);
	pmm_free_pages(p, 512);
}

KTEST(memory, pmm_never_hands_out_kernel_or_modules)
{
	paddr_t kstart = virt_to_phys(__text_start), kend = virt_to_phys(__data_start);
	paddr_t got[256];
	int n = 0;

	for (; n < 256; n++) {
		got[n] = pmm_alloc();
		if (!got[n])
			break;
		KEXPECT(t, got[n] >= 0x100000, "low memory handed out: %#lx", got[n]);
		KEXPECT(t, got[n] < kstart || got[n] >= kend, "kernel frame handed out: %#lx",
		        got[n]);
		for (uint32_t m = 0; m < boot_info.nmods; m++)
			KEXPECT(t, got[n] + PAGE_SIZE <= boot_info.mods[m].start ||
			               got[n] >= boot_info.mods[m].end);
	}
	while (n--)
		pmm_free_pages(got[n], 1);
}

KTEST(memory, kernel_wx)
{
	uint64_t text = vm_kernel_flags((vaddr_t)__text_start);
	uint64_t ro = vm_kernel_flags((vaddr_t)__rodata_start);
	uint64_t data = vm_kernel_flags((vaddr_t)__data_start);

	KEXPECT(t, (text & PTE_P) && !(text & PTE_W) && !(text & PTE_NX), "text %#lx", text);
	KEXPECT(t, (ro & PTE_P) && !(ro & PTE_W) && (ro & PTE_NX), "rodata %#lx", ro);
	KEXPECT(t, (data & PTE_P) && (data & PTE_W) && (data & PTE_NX), "data %#lx", data);
}

KTEST(memory, boot_stack_guard_unmapped)
{
	KEXPECT(t, vm_kernel_flags((vaddr_t)boot_stack_guard) == 0);
	KEXPECT(t, vm_kernel_flags((vaddr_t)boot_stack_guard + PAGE_SIZE) & PTE_P);
}

KTEST(memory, kstack_has_guard)
{
	vaddr_t top = vm_alloc_kstack(2 * PAGE_SIZE);

	if (!KCHECK(t, top != 0))
		return;
	KEXPECT(t, vm_kernel_flags(top - PAGE_SIZE) & PTE_W);
	KEXPECT(t, vm_kernel_flags(top - 2 * PAGE_SIZE) & PTE_W);
	KEXPECT(t, vm_kernel_flags(top - 3 * PAGE_SIZE) == 0, "no guard page");
}

KTEST(memory, page_table_map_protect_unmap)
{
	const struct pt_env *e = vm_kernel_env();
	vaddr_t va = MMIO_BASE + MMIO_SIZE - 16 * HUGE_SIZE; /* unused corner of the MMIO window */
	paddr_t pa = pmm_alloc(), got;
	uint64_t fl;
	size_t sz;

	if (!KCHECK(t, pa))
		return;
	KEXPECT(t, pt_map(e, kernel_pml4, va, pa, PAGE_SIZE, PTE_W | PTE_NX) == PT_OK);
	KEXPECT(t, pt_map(e, kernel_pml4, va, pa, PAGE_SIZE, PTE_W) == PT_EEXIST);
	KEXPECT(t, pt_map(e, kernel_pml4, va + 1, pa, PAGE_SIZE, 0) == PT_EINVAL);
	*(volatile uint64_t *)va = 0x1234;
	KEXPECT(t, *(uint64_t *)phys_to_virt(pa) == 0x1234, "alias does not see the write");
	KEXPECT(t, pt_protect(e, kernel_pml4, va, PTE_NX) == PT_OK);
	KEXPECT(t, pt_lookup(e, kernel_pml4, va + 8, &got, &fl, &sz) && got == pa + 8 &&
	               !(fl & PTE_W));
	KEXPECT(t,
	        pt_unmap(e, kernel_pml4, va, &sz, &got) == PT_OK && got == pa && sz == PAGE_SIZE);
	invlpg(va);
	KEXPECT(t, !pt_lookup(e, kernel_pml4, va, NULL, NULL, NULL));
	KEXPECT(t, pt_unmap(e, kernel_pml4, va, NULL, NULL) == PT_ENOENT);
	pmm_free_pages(pa, 1);
}

KTEST(memory, page_table_huge_page)
{
	const struct pt_env *e = vm_kernel_env();
	vaddr_t va = MMIO_BASE + MMIO_SIZE - 8 * HUGE_SIZE;
	paddr_t pa = pmm_alloc_pages(512, 512), got;
	size_t sz;

	if (!KCHECK(t, pa))
		return;
	KEXPECT(t, pt_map(e, kernel_pml4, va, pa, HUGE_SIZE, PTE_W | PTE_NX) == PT_OK);
	KEXPECT(t, pt_lookup(e, kernel_pml4, va + 0x12345, &got, NULL, &sz) &&
	               got == pa + 0x12345 && sz == HUGE_SIZE);
	KEXPECT(t, pt_map(e, kernel_pml4, va + PAGE_SIZE, pa, PAGE_SIZE, 0) == PT_EEXIST);
	KEXPECT(t,
	        pt_unmap(e, kernel_pml4, va, &sz, &got) == PT_OK && sz == HUGE_SIZE && got == pa);
	invlpg(va);
	pmm_free_pages(pa, 512);
}

static bool kmalloc_cycle(struct ktest_ctx *t)
{
	static const size_t sizes[] = {1, 16, 17, 100, 2048, 2049, 10000};
	void *p[ARRAY_SIZE(sizes)];
	uint64_t live = kmalloc_live();

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		p[i] = kmalloc(sizes[i]);
		if (!KCHECK(t, p[i] != NULL))
			return false;
		KEXPECT(t, ((uintptr_t)p[i] & 15) == 0);
		for (size_t k = 0; k < sizes[i]; k++)
			if (((uint8_t *)p[i])[k]) {
				ktest_fail(t, __FILE__, __LINE__, "zeroed memory", "size %zu",
				           sizes[i]);
				break;
			}
		memset(p[i], 0xee, sizes[i]);
	}
	KEXPECT(t, kmalloc_live() == live + ARRAY_SIZE(sizes));
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		kfree(p[i]);
	KEXPECT(t, kmalloc_live() == live);
	return true;
}

KTEST(memory, kmalloc_sizes_and_leaks)
{
	if (!kmalloc_cycle(t)) /* the first cycle may create slabs */
		return;
	uint64_t frames = pmm_free_count();
	kmalloc_cycle(t); /* the second must reuse them and return every big object */
	KEXPECT(t, pmm_free_count() == frames, "frames %lu -> %lu", frames, pmm_free_count());
}
