/*
 * execve's two halves: the ELF file's PT_LOAD segments become regions of
 * the process (demand-paged from the file's bytes), and the initial stack
 * is laid out as Linux's does it (System V x86-64 ABI, section 3.4.1):
 *
 *   sp -> argc
 *         argv[0..argc-1], NULL
 *         envp[0..], NULL
 *         auxv pairs (type, value) ..., AT_NULL
 *         padding, then the strings and AT_RANDOM's 16 bytes
 *
 * The file is untrusted (it comes from the boot module): every offset and
 * size is checked before use; static ET_EXEC and static-pie ET_DYN only.
 */
#include "lx.h"

#include <lib/string.h>

#define PT_LOAD   1
#define PT_INTERP 3
#define PT_PHDR   6
#define MAX_ARGS  256

enum {
	AT_NULL = 0,
	AT_PHDR = 3,
	AT_PHENT = 4,
	AT_PHNUM = 5,
	AT_PAGESZ = 6,
	AT_BASE = 7,
	AT_FLAGS = 8,
	AT_ENTRY = 9,
	AT_UID = 11,
	AT_EUID = 12,
	AT_GID = 13,
	AT_EGID = 14,
	AT_HWCAP = 16,
	AT_CLKTCK = 17,
	AT_SECURE = 23,
	AT_RANDOM = 25,
	AT_EXECFN = 31
};

static uint64_t rd(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int check_header(const uint8_t *b, uint64_t len, uint64_t *bias)
{
	if (len < 64 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' || b[4] != 2 ||
	    b[5] != 1 || rd(b + 18, 2) != 62 || rd(b + 54, 2) != 56)
		return -LX_ENOEXEC;
	uint64_t type = rd(b + 16, 2), phoff = rd(b + 32, 8), phnum = rd(b + 56, 2);
	if (type != 2 && type != 3)
		return -LX_ENOEXEC; /* ET_EXEC or ET_DYN (static-pie) */
	if (phnum == 0 || phnum > 64 || phoff > len || phnum * 56 > len - phoff)
		return -LX_ENOEXEC;
	*bias = type == 3 ? LX_PIE_BASE : 0;
	return 0;
}

/* A PT_LOAD segment's page range [*start, *end), or -ENOEXEC if it does not fit the file or
 * the address space. */
static int segment_range(const uint8_t *ph, uint64_t len, uint64_t bias, uint64_t *start,
                         uint64_t *end)
{
	uint64_t off = rd(ph + 8, 8), va = rd(ph + 16, 8) + bias;
	uint64_t filesz = rd(ph + 32, 8), memsz = rd(ph + 40, 8);

	if (filesz > memsz || off > len || filesz > len - off || va < LX_PAGE || va >= LX_TOP ||
	    memsz > LX_TOP - va || (va & (LX_PAGE - 1)) != (off & (LX_PAGE - 1)))
		return -LX_ENOEXEC;
	*start = va & ~(LX_PAGE - 1);
	*end = (va + memsz + LX_PAGE - 1) & ~(LX_PAGE - 1);
	return 0;
}

/* One PT_LOAD segment into a region (plus a zero-filled tail past its file bytes). */
static int load_segment(struct lx_proc *p, const uint8_t *file, uint64_t len, const uint8_t *ph,
                        uint64_t bias)
{
	uint64_t flags = rd(ph + 4, 4), off = rd(ph + 8, 8), va = rd(ph + 16, 8) + bias;
	uint64_t filesz = rd(ph + 32, 8), memsz = rd(ph + 40, 8), start, end;
	uint32_t prot = (flags & 4 ? LX_PROT_READ : 0) | (flags & 2 ? LX_PROT_WRITE : 0) |
	                (flags & 1 ? LX_PROT_EXEC : 0);

	if (!memsz)
		return 0;
	if (segment_range(ph, len, bias, &start, &end))
		return -LX_ENOEXEC;
	uint64_t lead = va - start;
	int err = lx_map(p, start, end, prot, file + off - lead, filesz + lead);
	if (err)
		return err;
	if (va + memsz > p->brk_start)
		p->brk_start = p->brk = end;
	return 0;
}

/*
 * Everything lx_elf_load checks of the file, checked before execve's point
 * of no return: a bad file is ENOEXEC to a process that lives on, not a
 * SIGKILL after its image went (bug exec_of_bad_segments_killed_the_caller):
 * no PT_INTERP, every PT_LOAD inside the file and the address space, no two
 * overlapping, the entry point in an executable one.
 */
int lx_elf_probe(const uint8_t *file, uint64_t len)
{
	uint64_t bias;
	int err = check_header(file, len, &bias);

	if (err)
		return err;
	uint64_t phoff = rd(file + 32, 8), phnum = rd(file + 56, 2),
	         entry = rd(file + 24, 8) + bias;
	bool entry_ok = false;
	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = file + phoff + i * 56;
		uint64_t s, e;
		if (rd(ph, 4) == PT_INTERP)
			return -LX_ENOEXEC;
		if (rd(ph, 4) != PT_LOAD || !rd(ph + 40, 8))
			continue;
		if (segment_range(ph, len, bias, &s, &e))
			return -LX_ENOEXEC;
		for (uint64_t j = 0; j < i; j++) {
			const uint8_t *q = file + phoff + j * 56;
			uint64_t s2, e2;
			if (rd(q, 4) == PT_LOAD && rd(q + 40, 8) &&
			    !segment_range(q, len, bias, &s2, &e2) && s < e2 && s2 < e)
				return -LX_ENOEXEC; /* overlaps an earlier segment */
		}
		if ((rd(ph + 4, 4) & 1) && entry >= s && entry < e)
			entry_ok = true; /* as lx_elf_load finds it: in an executable region */
	}
	return entry_ok ? 0 : -LX_ENOEXEC;
}

int lx_elf_load(struct lx_proc *p, const uint8_t *file, uint64_t len, struct lx_elf_info *info)
{
	uint64_t bias;
	int err = check_header(file, len, &bias);

	if (err)
		return err;
	uint64_t phoff = rd(file + 32, 8), phnum = rd(file + 56, 2),
	         entry = rd(file + 24, 8) + bias;
	uint64_t phdr = 0;
	for (uint64_t i = 0; i < phnum; i++) {
		const uint8_t *ph = file + phoff + i * 56;
		uint64_t type = rd(ph, 4);
		if (type == PT_INTERP)
			return -LX_ENOEXEC; /* dynamically linked: no loader here */
		if (type == PT_PHDR)
			phdr = rd(ph + 16, 8) + bias;
		if (type == PT_LOAD && (err = load_segment(p, file, len, ph, bias)))
			return err;
		/* Without PT_PHDR: the headers are visible where the first segment maps offset 0.
		 */
		if (type == PT_LOAD && !phdr && rd(ph + 8, 8) <= phoff &&
		    phoff + phnum * 56 <= rd(ph + 8, 8) + rd(ph + 32, 8))
			phdr = rd(ph + 16, 8) + bias + (phoff - rd(ph + 8, 8));
	}
	struct lx_region *r = lx_region_at(p, entry);
	if (!r || !(r->prot & LX_PROT_EXEC))
		return -LX_ENOEXEC;
	*info = (struct lx_elf_info){entry, phdr, phnum, bias};
	return 0;
}

/* Push n bytes below *sp (a server-side cursor into the stack's top page range). */
static int push(struct lx_proc *p, uint64_t *sp, const void *src, uint64_t n)
{
	*sp -= n;
	return lx_copy_out(p, *sp, src, n);
}

int lx_build_stack(struct lx_proc *p, const struct lx_elf_info *info, const char *const *argv,
                   const char *const *envp, uint64_t *sp_out)
{
	uint64_t sp = LX_STACK_TOP, argp[MAX_ARGS], envpv[MAX_ARGS], rnd[2];
	uint32_t argc = 0, envc = 0;
	int err = lx_map(p, LX_STACK_TOP - LX_STACK_SIZE, LX_STACK_TOP,
	                 LX_PROT_READ | LX_PROT_WRITE, NULL, 0);

	for (; !err && argv[argc]; argc++) {
		err = argc + 1 >= MAX_ARGS ? -7 /* E2BIG */
		                           : push(p, &sp, argv[argc], strlen(argv[argc]) + 1);
		argp[argc] = sp;
	}
	for (; !err && envp[envc]; envc++) {
		err = envc + 1 >= MAX_ARGS ? -7 : push(p, &sp, envp[envc], strlen(envp[envc]) + 1);
		envpv[envc] = sp;
	}
	if (!err && !argc)
		err = -LX_EINVAL;
	lx_plat_random(rnd, sizeof(rnd));
	if (!err)
		err = push(p, &sp, rnd, sizeof(rnd));
	uint64_t at_random = sp;
	if (err)
		return err;
	uint64_t aux[][2] = {
	    {AT_PHDR, info->phdr},
	    {AT_PHENT, 56},
	    {AT_PHNUM, info->phnum},
	    {AT_PAGESZ, LX_PAGE},
	    {AT_BASE, 0},
	    {AT_FLAGS, 0},
	    {AT_ENTRY, info->entry},
	    {AT_UID, 0},
	    {AT_EUID, 0},
	    {AT_GID, 0},
	    {AT_EGID, 0},
	    {AT_HWCAP, 0},
	    {AT_CLKTCK, 100},
	    {AT_SECURE, 0},
	    {AT_RANDOM, at_random},
	    {AT_EXECFN, argp[0]},
	    {AT_NULL, 0},
	};
	uint64_t words = 1 + argc + 1 + envc + 1 + 2 * (sizeof(aux) / sizeof(aux[0]));
	sp = (sp - words * 8) & ~15ull; /* rsp is 16-byte aligned at the entry point */
	uint64_t w = sp, argc64 = argc, zero = 0;
	err = lx_copy_out(p, w, &argc64, 8);
	w += 8;
	for (uint32_t i = 0; !err && i < argc; i++, w += 8)
		err = lx_copy_out(p, w, &argp[i], 8);
	err = err ? err : lx_copy_out(p, w, &zero, 8);
	w += 8;
	for (uint32_t i = 0; !err && i < envc; i++, w += 8)
		err = lx_copy_out(p, w, &envpv[i], 8);
	err = err ? err : lx_copy_out(p, w, &zero, 8);
	w += 8;
	err = err ? err : lx_copy_out(p, w, aux, sizeof(aux));
	*sp_out = sp;
	return err;
}
