/*
 * Intel VT-d DMA remapping (Intel VT-d specification 3.x, chapters 3, 9
 * and 10): every PCI function a partition is given gets a translation
 * domain of its own, holding only the frames its holder mapped for DMA
 * (pci_device.dma_map, identity: I/O address = physical address). With
 * translation on, a DMA anywhere else is blocked, recorded by the unit,
 * and logged here with the device and the address; functions never handed
 * out have no context entry at all, so all their DMA is blocked.
 *
 * One remapping unit is used: the one covering segment 0 (QEMU's
 * intel-iommu, or a laptop's INCLUDE_PCI_ALL unit). Its registers are
 * polled with interrupts off (register-based invalidation, no queued
 * invalidation); faults arrive as an interrupt on VEC_IOMMU_FAULT.
 * Second-level tables are built 4-level by paging.c's walker; with a
 * 39-bit unit the context entry points at the PDPT under index 0 (I/O
 * addresses below 512 GiB). Reserved memory regions (RMRR) are not
 * honoured: devices that need them (USB, graphics) are not for partitions.
 *
 * Interrupt remapping (chapter 5), where the unit offers it (QEMU:
 * intel-iommu,intremap=on; works under TCG without a split irqchip): one
 * table of 256 entries, one entry per interrupt vector (index = vector -
 * VEC_IRQ_BASE), each naming its vector and CPU and accepting the message
 * only from the source id it was programmed for (the PCI function the
 * vector was given to, or the IOAPIC). MSI and MSI-X are programmed in
 * remappable format (arch_msi_message), IOAPIC entries too
 * (ioapic.c, ioapic_write_rte); compatibility-format interrupts stay
 * blocked (GCMD.CFI clear). With remapping on, invalidations go through
 * the invalidation queue (the interrupt entry cache has no register
 * interface, and a unit with queued invalidation on refuses the register
 * ones).
 */
#include <arch/arch.h>
#include <arch/cpu.h>
#include <arch/iommu.h>
#include <arch/paging.h>
#include <arch/platform.h>
#include <arch/trap.h>
#include <kernel/bootinfo.h>
#include <kernel/klog.h>
#include <kernel/layout.h>
#include <kernel/pci.h>
#include <kernel/percpu.h>
#include <kernel/pmm.h>
#include <kernel/time.h>
#include <kernel/vm.h>
#include <lib/string.h>

/* Register offsets (section 10.4). */
enum {
	R_CAP = 0x08,
	R_ECAP = 0x10,
	R_GCMD = 0x18,
	R_GSTS = 0x1c,
	R_RTADDR = 0x20,
	R_CCMD = 0x28,
	R_FSTS = 0x34,
	R_FECTL = 0x38,
	R_FEDATA = 0x3c,
	R_FEADDR = 0x40,
	R_FEUADDR = 0x44,
	R_IQH = 0x80,
	R_IQT = 0x88,
	R_IQA = 0x90,
	R_IRTA = 0xb8,
};
#define GCMD_TE      (1u << 31)
#define GCMD_SRTP    (1u << 30)
#define GCMD_QIE     (1u << 26)
#define GCMD_IRE     (1u << 25)
#define GCMD_SIRTP   (1u << 24)
#define ECAP_QI      (1ull << 1)
#define ECAP_IR      (1ull << 3)
#define FSTS_IQE     (1u << 4)
#define IRT_ENTRIES  256         /* one page; IRTA size field 7: 2^(7+1) entries */
#define IQ_ENTRIES   256         /* one page of 16-byte descriptors */
#define GSTS_KEEP    0x96ffffffu /* one-shot bits cleared when a command is written back (10.4.4) */
#define CCMD_ICC     (1ull << 63)
#define CCMD_GLOBAL  (1ull << 61)
#define IOTLB_IVT    (1ull << 63)
#define IOTLB_GLOBAL (1ull << 60)
#define IOTLB_DOMAIN (2ull << 60)
#define IOTLB_DRAIN  (3ull << 48) /* drain reads and writes */
#define SL_R         1ull
#define SL_W         2ull
#define MAX_TABLES   512 /* second-level tables per domain: DMA spread over up to ~1 GiB */

static volatile uint8_t *regs;                /* [I] */
static bool on;                               /* [I] translation enabled */
static bool coherent;                         /* [I] the unit snoops table writes (ECAP.C) */
static bool three_level;                      /* [I] 39-bit unit */
static uint32_t iotlb_reg, fault_reg, nfault; /* [I] */
static uint64_t *root_table;                  /* [BKL] 256 root entries of 16 bytes */
static paddr_t
    dom_root[PCI_MAX_DEVS]; /* [BKL] 4-level second-level table per domain (function index + 1) */
static uint32_t dom_tables[PCI_MAX_DEVS]; /* [BKL] */
static uint64_t faults;                   /* [BKL] */
static bool qi_on, ir_on;                 /* [I] queued invalidation, interrupt remapping */
static uint64_t *iq;                      /* [BKL] invalidation queue */
static uint32_t iq_tail;                  /* [BKL] next descriptor */
static volatile uint32_t *iq_done;        /* [BKL] the wait descriptors' status word */
static uint64_t *irt;                     /* [BKL] interrupt remapping table, 16 bytes an entry */

static uint32_t rd32(uint32_t off)
{
	return *(volatile uint32_t *)(regs + off);
}
static uint64_t rd64(uint32_t off)
{
	return *(volatile uint64_t *)(regs + off);
}
static void wr32(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(regs + off) = v;
}
static void wr64(uint32_t off, uint64_t v)
{
	*(volatile uint64_t *)(regs + off) = v;
}

/* Make a table write visible to a unit that does not snoop the CPU caches. */
static void flush_line(const volatile void *p)
{
	if (!coherent)
		clflush(p);
}

/* Wait (bounded) until (reg & mask) == want; false on a unit that never answers. */
static bool wait32(uint32_t off, uint32_t mask, uint32_t want)
{
	for (uint64_t end = rdtsc() + tsc_hz; rdtsc() < end;)
		if ((rd32(off) & mask) == want)
			return true;
	return false;
}

static bool wait64_clear(uint32_t off, uint64_t bit)
{
	for (uint64_t end = rdtsc() + tsc_hz; rdtsc() < end;)
		if (!(rd64(off) & bit))
			return true;
	return false;
}

static bool gcmd(uint32_t bit, bool set)
{
	uint32_t sts = rd32(R_GSTS) & GSTS_KEEP;

	wr32(R_GCMD, set ? sts | bit : sts & ~bit);
	return wait32(R_GSTS, bit, set ? bit : 0);
}

/*
 * Queue one invalidation descriptor and a wait descriptor behind it
 * (section 6.5.2), then poll the wait's status write; false if the unit
 * never completes it or reports a queue error.
 */
static bool qi_run(uint64_t lo, uint64_t hi)
{
	uint64_t *d = &iq[iq_tail * 2];

	*iq_done = 0;
	d[0] = lo, d[1] = hi;
	iq_tail = (iq_tail + 1) % IQ_ENTRIES;
	d = &iq[iq_tail * 2];
	d[0] = 5 | 1u << 5 | 1ull << 32; /* wait, status write of 1 */
	d[1] = virt_to_phys((const void *)iq_done);
	iq_tail = (iq_tail + 1) % IQ_ENTRIES;
	wr64(R_IQT, (uint64_t)iq_tail << 4);
	for (uint64_t end = rdtsc() + tsc_hz; rdtsc() < end;) {
		if (*iq_done == 1)
			return true;
		if (rd32(R_FSTS) & FSTS_IQE)
			break;
	}
	pr_err("iommu: invalidation descriptor %#lx did not complete (fault status %#x)",
	       (unsigned long)lo, rd32(R_FSTS));
	return false;
}

static void invalidate_context(void)
{
	if (qi_on) {
		(void)qi_run(1 | 1u << 4, 0); /* context cache, global */
		return;
	}
	wr64(R_CCMD, CCMD_ICC | CCMD_GLOBAL);
	if (!wait64_clear(R_CCMD, CCMD_ICC))
		pr_err("iommu: context-cache invalidation did not complete");
}

static void invalidate_iotlb(uint16_t did)
{
	if (qi_on) { /* IOTLB, drain reads and writes, domain-selective or global */
		(void)qi_run(2 | 3u << 6 | (did ? 2u << 4 | (uint64_t)did << 16 : 1u << 4), 0);
		return;
	}
	wr64(iotlb_reg + 8,
	     IOTLB_IVT | IOTLB_DRAIN | (did ? IOTLB_DOMAIN | (uint64_t)did << 32 : IOTLB_GLOBAL));
	if (!wait64_clear(iotlb_reg + 8, IOTLB_IVT))
		pr_err("iommu: IOTLB invalidation did not complete");
}

/* The interrupt entry cache: one entry, or all of them (index < 0). */
static void invalidate_iec(int32_t index)
{
	(void)qi_run(index < 0 ? 4 : 4 | 1u << 4 | (uint64_t)index << 32, 0);
}

/* Log and clear every recorded fault (section 7.2.1); runs in the fault interrupt. */
static void fault_irq(struct trap_frame *tf)
{
	(void)tf;
	uint32_t fsts = rd32(R_FSTS), i = (fsts >> 8) & 0xff;

	for (uint32_t n = 0; n < nfault && (fsts & 2); n++, i = (i + 1) % nfault) {
		uint32_t rec = fault_reg + i * 16;
		uint64_t hi = rd64(rec + 8), lo = rd64(rec);
		if (!(hi >> 63))
			break;
		uint16_t sid = (uint16_t)hi;
		uint32_t reason = (uint32_t)(hi >> 32) & 0xff;
		if (reason >= 0x20 && reason < 0x30) /* interrupt remapping: FI holds the index */
			pr_warn("iommu: interrupt fault: device %02x:%02x.%x, remapping entry %lu, "
			        "reason %#x; blocked",
			        sid >> 8, (sid >> 3) & 31, sid & 7, (unsigned long)(lo >> 48),
			        reason);
		else
			pr_warn(
			    "iommu: DMA fault: device %02x:%02x.%x %s %#lx, reason %#x; blocked",
			    sid >> 8, (sid >> 3) & 31, sid & 7,
			    (hi >> 62) & 1 ? "read of" : "write to",
			    (unsigned long)(lo & ~0xfffull), reason);
		faults++;
		wr32(rec + 12, 1u << 31); /* clear F */
	}
	wr32(R_FSTS, 0x7d); /* clear overflow and the error bits */
}

static paddr_t table_alloc(int level, void *ctx)
{
	uint32_t *count = ctx;

	(void)level;
	if (*count >= MAX_TABLES)
		return 0;
	paddr_t pa = pmm_alloc();
	if (pa) {
		memset(phys_to_virt(pa), 0, PAGE_SIZE);
		for (uint32_t off = 0; off < PAGE_SIZE; off += 64)
			flush_line((uint8_t *)phys_to_virt(pa) + off);
		(*count)++;
	}
	return pa;
}

static void *hhdm(paddr_t pa, void *ctx)
{
	(void)ctx;
	return phys_to_virt(pa);
}

/* A zeroed page from the frame allocator (flushed for a unit that does not snoop), or NULL. */
static void *zeroed_page(void)
{
	paddr_t pa = pmm_alloc();

	if (!pa)
		return NULL;
	uint8_t *p = phys_to_virt(pa);
	memset(p, 0, PAGE_SIZE);
	for (uint32_t off = 0; off < PAGE_SIZE; off += 64)
		flush_line(p + off);
	return p;
}

/*
 * Queued invalidation, then the remapping table (all entries not
 * present), then remapping itself; compatibility-format interrupts stay
 * blocked. Runs once, at boot, before any interrupt line or message is
 * programmed.
 */
static bool ir_enable(void)
{
	uint32_t *status = zeroed_page();

	iq = zeroed_page(), irt = zeroed_page();
	if (!status || !iq || !irt)
		return false;
	iq_done = status;
	wr64(R_IQT, 0);
	wr64(R_IQA, virt_to_phys(iq)); /* 128-bit descriptors, one page */
	if (!gcmd(GCMD_QIE, true))
		return false;
	qi_on = true;
	wr64(R_IRTA, virt_to_phys(irt) | 7); /* xAPIC destinations, 2^(7+1) entries */
	if (!gcmd(GCMD_SIRTP, true))
		return false;
	invalidate_iec(-1);
	if (!gcmd(GCMD_IRE, true))
		return false;
	ir_on = true;
	pr_info("iommu: interrupt remapping on: %u entries, messages checked against their "
	        "device, compatibility-format interrupts blocked",
	        IRT_ENTRIES);
	return true;
}

bool iommu_init(void)
{
	const struct acpi_drhd *u = NULL;

	for (uint32_t i = 0; i < acpi.ndrhd && !u; i++)
		if (acpi.drhd[i].segment == 0)
			u = &acpi.drhd[i];
	if (!u)
		return false;
	regs = vm_map_mmio(u->base, PAGE_SIZE);
	uint64_t cap = rd64(R_CAP), ecap = rd64(R_ECAP);
	uint32_t sagaw = (cap >> 8) & 0x1f;
	if (!(sagaw & 6)) {
		pr_warn(
		    "iommu: VT-d unit at %#lx offers no 39- or 48-bit tables (SAGAW %#x); not used",
		    u->base, sagaw);
		return false;
	}
	three_level = !(sagaw & 4);
	coherent = ecap & 1;
	iotlb_reg = (uint32_t)((ecap >> 8) & 0x3ff) * 16;
	fault_reg = (uint32_t)((cap >> 24) & 0x3ff) * 16;
	nfault = (uint32_t)((cap >> 40) & 0xff) + 1;
	if ((rd32(R_GSTS) & GCMD_TE) && !gcmd(GCMD_TE, false))
		return false;
	paddr_t rt = pmm_alloc();
	if (!rt)
		return false;
	root_table = phys_to_virt(rt);
	memset(root_table, 0, PAGE_SIZE);
	for (uint32_t off = 0; off < PAGE_SIZE; off += 64)
		flush_line((uint8_t *)root_table + off);
	wr64(R_RTADDR, rt);
	if (!gcmd(GCMD_SRTP, true)) {
		pr_err("iommu: the unit did not take the root table");
		return false;
	}
	invalidate_context();
	invalidate_iotlb(0);
	irq_register(VEC_IOMMU_FAULT, fault_irq);
	wr32(R_FEDATA, VEC_IOMMU_FAULT);
	wr32(R_FEADDR, 0xfee00000u | cpus[0].apic_id << 12);
	wr32(R_FEUADDR, 0);
	wr32(R_FECTL, 0); /* unmasked */
	if (!gcmd(GCMD_TE, true)) {
		pr_err("iommu: translation did not turn on");
		return false;
	}
	on = true;
	pr_info("iommu: VT-d at %#lx: DMA remapping on, %u-bit tables, %u fault records%s", u->base,
	        three_level ? 39 : 48, nfault, coherent ? "" : ", tables flushed");
	if (!(ecap & ECAP_IR) || !(ecap & ECAP_QI))
		pr_warn("iommu: the unit offers no interrupt remapping: a device that may DMA can "
		        "also send any interrupt (QEMU: intel-iommu,intremap=on)");
	else if (bootinfo_cmdline_has(&boot_info, "nointremap"))
		pr_warn("iommu: interrupt remapping not used (nointremap on the command line)");
	else if (!ir_enable())
		pr_err("iommu: interrupt remapping did not turn on; interrupts are not confined");
	return true;
}

bool iommu_enabled(void)
{
	return on;
}

uint64_t iommu_fault_count(void)
{
	return faults;
}

int iommu_attach(uint32_t idx, uint8_t bus, uint8_t devfn)
{
	if (!on || idx >= PCI_MAX_DEVS)
		return on ? -1 : 0;
	if (dom_root[idx])
		return 0;
	uint64_t *re = &root_table[bus * 2];
	if (!(re[0] & 1)) {
		paddr_t ct = pmm_alloc();
		if (!ct)
			return -1;
		memset(phys_to_virt(ct), 0, PAGE_SIZE);
		for (uint32_t off = 0; off < PAGE_SIZE; off += 64)
			flush_line((uint8_t *)phys_to_virt(ct) + off);
		re[0] = ct | 1;
		flush_line(re);
	}
	/* The domain's tables: a 4-level root and, for a 39-bit unit, the PDPT the context entry
	 * names. */
	paddr_t root = table_alloc(3, &dom_tables[idx]);
	if (!root)
		return -1;
	paddr_t asr = root;
	if (three_level) {
		asr = table_alloc(2, &dom_tables[idx]);
		if (!asr)
			return -1;
		((uint64_t *)phys_to_virt(root))[0] = asr | SL_R | SL_W;
	}
	dom_root[idx] = root;
	uint64_t *ce = (uint64_t *)phys_to_virt(re[0] & ~0xfffull) + devfn * 2;
	ce[1] = (three_level ? 1u : 2u) | (uint64_t)(idx + 1) << 8; /* address width, domain id */
	ce[0] =
	    asr | 1; /* translation type 0: untranslated requests through the second-level tables */
	flush_line(ce);
	invalidate_context();
	return 0;
}

int iommu_map(uint32_t idx, uint64_t iova, paddr_t pa, uint64_t size, bool write)
{
	if (!on)
		return 0;
	if (idx >= PCI_MAX_DEVS || !dom_root[idx] || (three_level && iova + size > (1ull << 39)))
		return -1;
	struct pt_env env = {hhdm, table_alloc, NULL, &dom_tables[idx], NULL};
	for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
		if (pt_map(&env, dom_root[idx], iova + off, pa + off, PAGE_SIZE,
		           write ? SL_W : 0) != PT_OK) {
			iommu_unmap(idx, iova, off);
			return -1;
		}
		if (!coherent) {
			uint64_t *t;
			int err;
			if ((t = pt_table(&env, dom_root[idx], iova + off, 0, &err)))
				flush_line(&t[pt_index(iova + off, 0)]);
		}
	}
	invalidate_iotlb((uint16_t)(idx + 1)); /* also covers a unit in caching mode */
	return 0;
}

void iommu_unmap(uint32_t idx, uint64_t iova, uint64_t size)
{
	if (!on || idx >= PCI_MAX_DEVS || !dom_root[idx])
		return;
	struct pt_env env = {hhdm, table_alloc, NULL, &dom_tables[idx], NULL};
	for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
		uint64_t *t;
		int err;
		if ((t = pt_table(&env, dom_root[idx], iova + off, 0, &err))) {
			t[pt_index(iova + off, 0)] = 0;
			flush_line(&t[pt_index(iova + off, 0)]);
		}
	}
	invalidate_iotlb((uint16_t)(idx + 1));
}

bool iommu_ir_enabled(void)
{
	return ir_on;
}

int iommu_irte_set(uint32_t index, uint8_t vector, uint32_t apic_id, bool level, int32_t sid)
{
	if (!ir_on || index >= IRT_ENTRIES || apic_id > 0xff)
		return -1;
	uint64_t *e = &irt[index * 2];
	/* Present, physical destination, fixed delivery, the trigger mode, vector, xAPIC id. */
	uint64_t lo = 1 | (level ? 1u << 4 : 0) | (uint64_t)vector << 16 | (uint64_t)apic_id << 40;
	/* SVT 1 with SQ 0: all 16 bits of the requester id must match; SVT 0: no check. */
	uint64_t hi = sid >= 0 ? (uint64_t)(uint16_t)sid | 1ull << 18 : 0;
	if (e[0] & 1) { /* never half-old, half-new: not present while it changes */
		e[0] = 0;
		flush_line(e);
		invalidate_iec((int32_t)index);
	}
	e[1] = hi;
	e[0] = lo;
	flush_line(e);
	invalidate_iec((int32_t)index);
	return 0;
}

void iommu_irte_clear(uint32_t index)
{
	if (!ir_on || index >= IRT_ENTRIES)
		return;
	irt[index * 2] = 0, irt[index * 2 + 1] = 0;
	flush_line(&irt[index * 2]);
	invalidate_iec((int32_t)index);
}

int32_t iommu_ioapic_sid(uint8_t ioapic_id)
{
	for (uint32_t i = 0; i < acpi.nioapic_sids; i++)
		if (acpi.ioapic_sid[i].id == ioapic_id)
			return acpi.ioapic_sid[i].sid;
	return -1;
}

/*
 * An MSI or MSI-X message for vector on CPU c, from the function at
 * source id sid. With remapping on: remappable format naming the vector's
 * entry, which accepts it only from sid; otherwise the plain message.
 */
void arch_msi_message(uint16_t sid, const struct cpu *c, uint32_t vector, uint32_t *addr,
                      uint32_t *data)
{
	uint32_t index = vector - VEC_IRQ_BASE;

	if (ir_on && iommu_irte_set(index, (uint8_t)vector, c->apic_id, false, sid) == 0) {
		*addr = 0xfee00000u | (index & 0x7fff) << 5 | 1u << 4 | ((index >> 15) & 1) << 2;
		*data = 0;
		return;
	}
	*addr = 0xfee00000u | c->apic_id << 12;
	*data = vector;
}

void arch_msi_free(uint32_t vector)
{
	iommu_irte_clear(vector - VEC_IRQ_BASE);
}
