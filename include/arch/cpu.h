/* One-to-three-line wrappers around privileged x86-64 instructions. */
#ifndef ARCH_CPU_H
#define ARCH_CPU_H

#include <kernel/types.h>

#define MSR_EFER           0xc0000080
#define MSR_STAR           0xc0000081
#define MSR_LSTAR          0xc0000082
#define MSR_FMASK          0xc0000084
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_APIC_BASE      0x1b
#define MSR_TSC_DEADLINE   0x6e0
#define MSR_PAT            0x277
/*
 * The PAT every CPU is given: the reset value (WB, WT, UC-, UC, twice)
 * with entry 4 (PAT bit set, PCD and PWT clear) made write-combining, so
 * PTEs without the PAT bit keep their meaning.
 */
#define PAT_HALLOWS  0x0007040100070406ull
#define PAT_ENTRY_WC 4
#define PAT_TYPE_WC  1

#define CR0_WP         (1ul << 16)
#define CR4_PAE        (1ul << 5)
#define CR4_PGE        (1ul << 7)
#define CR4_OSFXSR     (1ul << 9)
#define CR4_OSXMMEXCPT (1ul << 10)
#define CR4_UMIP       (1ul << 11)
#define CR4_PCIDE      (1ul << 17)
#define CR4_SMEP       (1ul << 20)
#define CR4_SMAP       (1ul << 21)
#define EFER_NXE       (1ul << 11)

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	                 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	                 : "a"(leaf), "c"(sub));
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
static inline uint64_t read_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}
static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}
static inline uint64_t read_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}
static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" ::"r"(v) : "memory");
}
#define CR3_NOFLUSH (1ull << 63) /* with CR4.PCIDE: keep the new PCID's translations */
static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory");
}
static inline void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory");
}
static inline void invlpg(vaddr_t va)
{
	__asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}
/* Copy n 8-byte words (whole pages: one instruction a word, where memcpy's rep movsb takes eight).
 */
static inline void copy_words(void *dst, const void *src, size_t n)
{
	__asm__ volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}
static inline void clflush(const volatile void *p)
{
	__asm__ volatile("clflush (%0)" ::"r"(p) : "memory");
}
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}
static inline void irq_enable(void)
{
	__asm__ volatile("sti" ::: "memory");
}
static inline void irq_disable(void)
{
	__asm__ volatile("cli" ::: "memory");
}
static inline void cpu_halt(void)
{
	__asm__ volatile("hlt" ::: "memory");
}
static inline uint64_t read_rflags(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; pop %0" : "=r"(f));
	return f;
}

/*
 * The per-CPU area (kernel/percpu.h) through the GS base: its self pointer
 * at gs:0, read afresh each time (volatile), and its index at gs:8, which
 * may be merged with other reads (the kernel never changes CPU under a
 * running path). kernel/percpu.c asserts both offsets.
 */
static inline void *gs_self(void)
{
	void *p;
	__asm__ volatile("mov %%gs:0, %0" : "=r"(p));
	return p;
}
static inline uint32_t gs_cpu_index(void)
{
	uint32_t i;
	__asm__("movl %%gs:8, %0" : "=r"(i));
	return i;
}

/* CPUID feature bits the kernel cares about, filled by cpu_features_init(). */
struct cpu_features {
	bool nx, pge, smep, smap, umip, x2apic, tsc_deadline, invariant_tsc, pcid, xsave, pdpe1gb,
	    pat;
	uint32_t max_leaf;
};
extern struct cpu_features cpu_feat;
void cpu_features_init(void);
/* Log the features found and the protections turned on. */
void cpu_features_log(void);
void cpu_enable_protections(void);

/* Open and close user memory to the kernel under SMAP; stac/clac are #UD without it. */
static inline void stac(void)
{
	if (cpu_feat.smap)
		__asm__ volatile("stac" ::: "memory");
}
static inline void clac(void)
{
	if (cpu_feat.smap)
		__asm__ volatile("clac" ::: "memory");
}

#endif
