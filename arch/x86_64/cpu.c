/* CPU feature discovery and the protections switched on from it. */
#include <arch/cpu.h>
#include <kernel/klog.h>

struct cpu_features cpu_feat;

void cpu_features_init(void)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	cpu_feat.max_leaf = r[0];
	cpuid(1, 0, r);
	cpu_feat.x2apic = r[2] & (1u << 21);
	cpu_feat.tsc_deadline = r[2] & (1u << 24);
	cpu_feat.pcid = r[2] & (1u << 17);
	cpu_feat.xsave = r[2] & (1u << 26);
	cpu_feat.pge = r[3] & (1u << 13);
	cpu_feat.pat = r[3] & (1u << 16);
	if (cpu_feat.max_leaf >= 7) {
		cpuid(7, 0, r);
		cpu_feat.smep = r[1] & (1u << 7);
		cpu_feat.smap = r[1] & (1u << 20);
		cpu_feat.umip = r[2] & (1u << 2);
	}
	cpuid(0x80000000, 0, r);
	uint32_t max_ext = r[0];
	if (max_ext >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		cpu_feat.nx = r[3] & (1u << 20);
		cpu_feat.pdpe1gb = r[3] & (1u << 26);
	}
	if (max_ext >= 0x80000007) {
		cpuid(0x80000007, 0, r);
		cpu_feat.invariant_tsc = r[3] & (1u << 8);
	}
}

/* Per CPU: WP, NXE, PGE, SSE state, the PAT with its write-combining entry, and
 * SMEP/SMAP/UMIP/PCID when present. */
void cpu_enable_protections(void)
{
	uint64_t cr4 = read_cr4() | CR4_OSFXSR | CR4_OSXMMEXCPT;

	if (cpu_feat.pge)
		cr4 |= CR4_PGE;
	if (cpu_feat.smep)
		cr4 |= CR4_SMEP;
	if (cpu_feat.smap)
		cr4 |= CR4_SMAP;
	if (cpu_feat.umip)
		cr4 |= CR4_UMIP;
	if (cpu_feat.pcid)
		cr4 |= CR4_PCIDE; /* CR3 holds the kernel tables with PCID 0 here, as required */
	write_cr4(cr4);
	write_cr0(read_cr0() | CR0_WP);
	if (cpu_feat.nx)
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	if (cpu_feat.pat) {
		/* No mapping uses PAT entry 4 yet (the kernel never sets the PAT bit), so the
		 * change needs no cache or TLB flush. */
		wrmsr(MSR_PAT, PAT_HALLOWS);
	}
	if (cpu_feat.xsave) {
		/* XSAVE for x87, SSE and AVX (and AVX-512 when present): what threads may use. */
		uint32_t r[4];
		cpuid(0xd, 0, r);
		uint64_t xcr0 = r[0] & 0xe7; /* x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM */
		write_cr4(read_cr4() | (1ul << 18));
		__asm__ volatile("xsetbv" ::"c"(0), "a"((uint32_t)xcr0),
		                 "d"((uint32_t)(xcr0 >> 32)));
	}
}

void cpu_features_log(void)
{
	pr_info(
	    "cpu: nx=%d smep=%d smap=%d umip=%d x2apic=%d tsc-deadline=%d invariant-tsc=%d pcid=%d",
	    cpu_feat.nx, cpu_feat.smep, cpu_feat.smap, cpu_feat.umip, cpu_feat.x2apic,
	    cpu_feat.tsc_deadline, cpu_feat.invariant_tsc, cpu_feat.pcid);
}
