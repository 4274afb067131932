/*
 * Kernel address space: see include/kernel/layout.h for the map.
 * Runs on the BSP before other CPUs start; later changes (MMIO, stacks)
 * only add entries under the shared top-level slots, so every CPU sees them.
 */
#include <arch/console.h>
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/panic.h>
#include <kernel/pmm.h>
#include <kernel/spinlock.h>
#include <kernel/vm.h>
#include <lib/string.h>

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[], __kernel_start[], boot_stack_guard[];

paddr_t kernel_pml4;
static struct spinlock vm_lock = SPINLOCK_INIT("vm");
static vaddr_t mmio_next = MMIO_BASE;     /* [L vm_lock] */
static vaddr_t kstack_next = KSTACK_BASE; /* [L vm_lock] */

static void *hhdm_p2v(paddr_t pa, void *ctx)
{
	(void)ctx;
	return phys_to_virt(pa);
}

static paddr_t table_alloc(int level, void *ctx)
{
	(void)level, (void)ctx;
	paddr_t pa = pmm_alloc();
	if (pa)
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
	return pa;
}

static void table_free(paddr_t pa, void *ctx)
{
	(void)ctx;
	pmm_free_pages(pa, 1);
}

static const struct pt_env kenv = {hhdm_p2v, table_alloc, table_free, NULL,
                                   NULL}; /* the kernel trusts its own tables */

static void kmap(vaddr_t va, paddr_t pa, size_t size, uint64_t flags)
{
	int err = pt_map(&kenv, kernel_pml4, va, pa, size, flags);

	if (err)
		panic("vm: cannot map %#lx -> %#lx (%d)", va, pa, err);
}

/* Direct-map [base, base+len) at HHDM_BASE with 2 MiB pages where aligned. */
static void map_direct(paddr_t base, uint64_t len)
{
	paddr_t p = ALIGN_DOWN(base, PAGE_SIZE), end = ALIGN_UP(base + len, PAGE_SIZE);
	uint64_t fl = PTE_W | PTE_NX | PTE_G;

	while (p < end) {
		paddr_t dummy;
		if (pt_lookup(&kenv, kernel_pml4, HHDM_BASE + p, &dummy, NULL, NULL)) {
			p += PAGE_SIZE; /* already mapped by a neighbouring entry */
			continue;
		}
		if (!(p & (HUGE_SIZE - 1)) && p + HUGE_SIZE <= end &&
		    pt_map(&kenv, kernel_pml4, HHDM_BASE + p, p, HUGE_SIZE, fl) == PT_OK) {
			p += HUGE_SIZE;
			continue;
		}
		kmap(HHDM_BASE + p, p, PAGE_SIZE, fl);
		p += PAGE_SIZE;
	}
}

static void map_image(char *start, char *end, uint64_t flags)
{
	for (vaddr_t va = (vaddr_t)start; va < (vaddr_t)end; va += PAGE_SIZE)
		if (va != (vaddr_t)boot_stack_guard)
			kmap(va, va - KERNEL_VBASE, PAGE_SIZE, flags | PTE_G);
}

void vm_init(void)
{
	kernel_pml4 = table_alloc(3, NULL);
	if (!kernel_pml4)
		panic("vm: no memory for the kernel page tables");
	map_direct(0, 0x100000); /* the BIOS areas, listed in the map or not */
	for (uint32_t i = 0; i < pmm_nmap; i++)
		map_direct(pmm_map[i].base, pmm_map[i].len);
	map_image(__kernel_start, __text_end, 0);            /* boot code + text: RX */
	map_image(__rodata_start, __rodata_end, PTE_NX);     /* R */
	map_image(__data_start, __data_end, PTE_W | PTE_NX); /* RW */
	/* Pre-create the top-level slots of the shared windows so that later
	 * additions are visible through every copy of the top level. */
	for (unsigned i = 256; i < 512; i++) {
		uint64_t *top = phys_to_virt(kernel_pml4);
		if (!(top[i] & PTE_P)) {
			paddr_t t = table_alloc(2, NULL);
			if (!t)
				panic("vm: out of memory");
			top[i] = t | PTE_P | PTE_W;
		}
	}
	pr_info("vm: kernel W^X, HHDM at %#lx, boot stack guard at %p", (uint64_t)HHDM_BASE,
	        boot_stack_guard);
	fbcon_remap();
	write_cr3(kernel_pml4);
}

void *vm_map_mmio(paddr_t pa, size_t len)
{
	paddr_t base = ALIGN_DOWN(pa, PAGE_SIZE);
	size_t n = ALIGN_UP(pa + len, PAGE_SIZE) - base;

	spin_lock(&vm_lock);
	vaddr_t va = mmio_next;
	if (va + n + HUGE_SIZE > MMIO_BASE + MMIO_SIZE) {
		spin_unlock(&vm_lock);
		return NULL;
	}
	bool huge = !(base & (HUGE_SIZE - 1)) && !(n & (HUGE_SIZE - 1));
	size_t step = huge ? HUGE_SIZE : PAGE_SIZE;
	if (huge)
		va = ALIGN_UP(va, HUGE_SIZE);
	mmio_next = va + n + step; /* a hole between windows catches overruns */
	for (size_t off = 0; off < n; off += step)
		kmap(va + off, base + off, step, PTE_W | PTE_NX | PTE_PCD | PTE_PWT | PTE_G);
	spin_unlock(&vm_lock);
	return (void *)(va + (pa - base));
}

vaddr_t vm_alloc_kstack(size_t size)
{
	size = ALIGN_UP(size, PAGE_SIZE);
	spin_lock(&vm_lock);
	vaddr_t base = kstack_next + PAGE_SIZE; /* guard page left unmapped */
	kstack_next = base + size;
	for (size_t off = 0; off < size; off += PAGE_SIZE) {
		paddr_t pa = pmm_alloc();
		if (!pa) {
			spin_unlock(&vm_lock);
			return 0;
		}
		kmap(base + off, pa, PAGE_SIZE, PTE_W | PTE_NX | PTE_G);
	}
	spin_unlock(&vm_lock);
	return base + size;
}

const struct pt_env *vm_kernel_env(void)
{
	return &kenv;
}

uint64_t vm_kernel_flags(vaddr_t va)
{
	uint64_t fl;

	return pt_lookup(&kenv, kernel_pml4, va, NULL, &fl, NULL) ? fl : 0;
}
