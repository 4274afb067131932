/*
 * libFuzzer target for the Linux personality's parsers of outside bytes:
 * the input is taken as an ELF file (lx_elf_load, then the initial stack)
 * and as a cpio archive (lx_fs_init, then lookups of the names in it).
 */
#include "../../host/linux/lx_host.h"

#include <string.h>

static struct lx_proc proc;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lx_elf_info info;
	const char *argv[] = {"fuzz", NULL}, *envp[] = {NULL};
	uint64_t sp;

	lx_host_reset();
	memset(&proc, 0, sizeof(proc));
	if (lx_elf_load(&proc, data, size, &info) == 0) {
		(void)lx_build_stack(&proc, &info, argv, envp, &sp);
		/* Touch every page of every region: demand paging reads the file's bytes. */
		for (uint32_t i = 0; i < proc.nreg && i < 8; i++) {
			uint8_t b;
			for (uint64_t va = proc.reg[i].start;
			     va < proc.reg[i].end && va < proc.reg[i].start + 64 * LX_PAGE;
			     va += LX_PAGE)
				(void)lx_copy_in(&proc, &b, va, 1);
		}
	}
	if (lx_fs_init(data, size) == 0) {
		const struct lx_file *root = lx_fs_lookup("/"), *f;
		const char *name;
		for (uint32_t i = 0; root && (f = lx_fs_child(root, i, &name)) && i < 64; i++)
			(void)lx_fs_lookup(f->path);
		(void)lx_fs_lookup("/a/../b/./c//d/..");
	}
	lx_host_reset();
	return 0;
}
