/*
 * A program that exhausts its own memory on purpose: memory accounting
 * must give it a clean HL_ERR_NO_MEMORY and leave every other program
 * (and the kernel) unaffected.
 */
#include <hallows/rt.h>

int main(struct rt *rt)
{
	const struct hl_bootinfo_mem *m = &rt->bi->mem[0];
	unsigned made = 0;
	long err = HL_OK;

	while (err == HL_OK) {
		hl_cptr_t s = rt_slot();
		err = s ? hl_memory_retype(m->slot, HL_OBJ_FRAME, 12, 1, s) : HL_ERR_INVALID_CAP;
		made += err == HL_OK;
	}
	rt_printf("hog: made %u frames from %lu KiB, then error %ld (%s)\n", made, (1ul << m->size_bits) >> 10, err,
		  err == HL_ERR_NO_MEMORY ? "out of memory, cleanly" : "UNEXPECTED");
	return 0;
}
