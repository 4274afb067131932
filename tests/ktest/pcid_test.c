/*
 * ktest suite "pcid": address-space switches with and without PCID.
 *
 * The cases build small address spaces by hand (no capabilities), load
 * them on this CPU with arch_aspace_load() and read a user page through them.
 * Without PCID every switch flushes and the cases check the same
 * outcomes; with PCID they check that a switch keeps what it may keep and
 * never serves a translation that a shootdown or a PCID's new owner made
 * stale.
 */
#include <arch/cpu.h>
#include <arch/paging.h>
#include <kernel/aspace.h>
#include <kernel/klog.h>
#include <kernel/ktest.h>
#include <kernel/layout.h>
#include <kernel/pmm.h>
#include <kernel/runq.h>
#include <kernel/vm.h>
#include <lib/string.h>

#define TEST_VA 0x40000000ull
#define POOL    16

/* Page tables and frames of one case, freed together at its end. */
static paddr_t pool[POOL];
static int pooled;

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

static struct aspace *new_aspace(void)
{
	paddr_t pa = pmm_alloc_pages(2, 1);

	if (!pa)
		return NULL;
	memset(phys_to_virt(pa), 0, 2 * PAGE_SIZE);
	struct aspace *as = phys_to_virt(pa);
	aspace_init(as);
	return as;
}

static void free_aspace(struct aspace *as)
{
	if (!as)
		return;
	aspace_destroy(as, NULL);
	pmm_free_pages(virt_to_phys(as), 2);
}

static void free_pool(void)
{
	while (pooled) {
		aspace_forget_boot_table(
		    pool[--pooled]); /* tables and frames alike: none is hooked any more */
		pmm_free_pages(pool[pooled], 1);
	}
}

/* A frame holding value in every word, or 0. */
static paddr_t frame_of(uint64_t value)
{
	paddr_t pa = pool_page();

	if (pa)
		for (size_t i = 0; i < PAGE_SIZE / 8; i++)
			((uint64_t *)phys_to_virt(pa))[i] = value;
	return pa;
}

static bool map(struct aspace *as, paddr_t pa)
{
	return aspace_map_boot(as, TEST_VA, pa, PTE_P | PTE_W | PTE_NX, pool_page) == 0;
}

static void *table_ptr(paddr_t pa, void *ctx)
{
	(void)ctx;
	return phys_to_virt(pa);
}

/* Point TEST_VA in as at pa instead, without any TLB flush (tables stay: no free). */
static bool remap(struct aspace *as, paddr_t pa)
{
	static const struct pt_env walk = {table_ptr, NULL, NULL, NULL, NULL};

	return pt_unmap(&walk, as->root, TEST_VA, NULL, NULL) == PT_OK && map(as, pa);
}

/* Put back what the CPU had loaded; free a case's address spaces, tables and frames. */
static void end_case(struct cpu *c, struct aspace *saved, struct aspace *a, struct aspace *b)
{
	arch_aspace_load(c, saved);
	free_aspace(a);
	free_aspace(b);
	free_pool();
}

/* Load as on this CPU and read the test page through it. */
static uint64_t read_through(struct aspace *as)
{
	arch_aspace_load(this_cpu(), as);
	stac();
	uint64_t v = *(volatile uint64_t *)TEST_VA;
	clac();
	return v;
}

KTEST(pcid, enabled_when_the_cpu_has_it)
{
	bool on = read_cr4() & CR4_PCIDE;

	KEXPECT(t, on == cpu_feat.pcid, "CR4.PCIDE %d, PCID %d", on, cpu_feat.pcid);
	struct aspace *a = new_aspace(), *b = new_aspace();
	if (KCHECK(t, a && b)) {
		uint32_t pa = a->cr3 & 0xfff, pb = b->cr3 & 0xfff;
		if (cpu_feat.pcid)
			KEXPECT(t, pa && pb && pa != pb, "PCIDs %u and %u", pa, pb);
		else
			KEXPECT(t, pa == 0 && pb == 0);
		KEXPECT(t, (a->cr3 & PTE_ADDR) == a->root);
	}
	free_aspace(a);
	free_aspace(b);
}

/* The bug PCID invites: a shootdown while as is loaded nowhere must still reach the CPUs that keep
 * its PCID. */
KTEST(pcid, unmap_is_seen_after_switching_away_and_back)
{
	struct cpu *c = this_cpu();
	struct aspace *saved = c->loaded_aspace, *a = new_aspace(), *b = new_aspace();
	paddr_t f1 = frame_of(0x1111), f2 = frame_of(0x2222), g = frame_of(0x3333);

	if (KCHECK(t, a && b && f1 && f2 && g && map(a, f1) && map(b, g))) {
		KEXPECT(t, read_through(a) == 0x1111);
		KEXPECT(t, read_through(b) == 0x3333);
		KEXPECT(t, remap(a, f2)); /* as aspace.unmap and map do, then: */
		aspace_flush_all(a);
		/* Whether this CPU would have kept the old entry is its choice; that the kernel
		 * stops relying on it is not. */
		if (cpu_feat.pcid)
			KEXPECT(t, c->pcid_owner[a->cr3 & 0xfff] != a->id,
			        "the shootdown left a's PCID trusted here");
		KEXPECT(t, read_through(a) == 0x2222,
		        "a stale translation of the old frame was used");
		KEXPECT(t, read_through(b) == 0x3333);
	}
	end_case(c, saved, a, b);
}

/* Address spaces whose ids differ by a multiple of 255 share a PCID: the owner table must tell them
 * apart. */
KTEST(pcid, address_spaces_sharing_a_pcid_never_share_translations)
{
	struct cpu *c = this_cpu();
	struct aspace *saved = c->loaded_aspace, *a = new_aspace(), *b = new_aspace();
	paddr_t f1 = frame_of(0xaaaa), f2 = frame_of(0xbbbb);

	if (KCHECK(t, a && b && f1 && f2)) {
		if (cpu_feat.pcid) /* re-initialize b until it gets a's PCID (nothing is mapped in
		                      it yet) */
			while ((b->cr3 & 0xfff) != (a->cr3 & 0xfff))
				aspace_init(b);
		KEXPECT(t, (b->cr3 & 0xfff) == (a->cr3 & 0xfff) && a->id != b->id);
		uint32_t p = a->cr3 & 0xfff;
		if (KCHECK(t, map(a, f1) && map(b, f2)))
			for (int round = 0; round < 3; round++) {
				KEXPECT(t, read_through(a) == 0xaaaa, "round %d", round);
				KEXPECT(t, !p || c->pcid_owner[p] == a->id);
				KEXPECT(t, read_through(b) == 0xbbbb, "round %d", round);
				KEXPECT(t, !p || c->pcid_owner[p] == b->id);
			}
	}
	end_case(c, saved, a, b);
}

/*
 * With PCID, switching back to an address space this CPU still holds
 * translations for does not flush them. Checked through the owner table;
 * whether the CPU really kept an entry is its choice (it may evict at any
 * time), so that is only reported, for emulators that model it.
 */
KTEST(pcid, switching_back_keeps_translations)
{
	struct cpu *c = this_cpu();
	struct aspace *saved = c->loaded_aspace, *a = new_aspace(), *b = new_aspace();
	paddr_t f1 = frame_of(0x1111), f2 = frame_of(0x2222), g = frame_of(0x3333);

	if (!cpu_feat.pcid) {
		KSKIP(t, "the CPU has no PCID");
	} else if (KCHECK(t, a && b && f1 && f2 && g && map(a, f1) && map(b, g))) {
		uint32_t pa = a->cr3 & 0xfff;
		KEXPECT(t, read_through(a) == 0x1111);
		KEXPECT(t, c->pcid_owner[pa] == a->id && (read_cr3() & 0xfff) == pa);
		KEXPECT(t, read_through(b) == 0x3333);
		KEXPECT(t, c->pcid_owner[pa] == a->id, "loading b made this CPU forget a");
		/* Change a's entry without the flush the kernel would do: what comes back is what
		 * the TLB kept. */
		KEXPECT(t, remap(a, f2));
		uint64_t v = read_through(a);
		KEXPECT(t, v == 0x1111 || v == 0x2222);
		kprintf("    # pcid: translations kept across a switch: %s\n",
		        v == 0x1111 ? "yes" : "no");
		aspace_flush_all(a); /* a is loaded here: flushes now */
		KEXPECT(t, read_through(a) == 0x2222);
	}
	end_case(c, saved, a, b);
}
