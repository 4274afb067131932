/*
 * A program that exhausts its own memory on purpose: memory accounting
 * must give it a clean HL_ERR_NO_MEMORY and leave every other program
 * (and the kernel) unaffected. Then, if the manifest gave it the producer
 * end of channel hog-to-hello, it sends HOG_MESSAGES sequence numbers
 * through it in batches (the ring needs no memory of its own).
 */
#include <hallows/rt.h>

#define HOG_MESSAGES 10000

static void send_numbers(void)
{
	struct hl_ring r;
	uint64_t next = 0;
	int err = rt_channel("hog-to-hello", &r);

	if (err) {
		rt_printf("hog: no channel hog-to-hello (error %d)\n", err);
		return;
	}
	while (next < HOG_MESSAGES) {
		long k = hl_ring_reserve(&r, 8);
		if (k == 0)
			k = hl_ring_wait(&r);
		if (k < 0) {
			rt_printf("hog: ring error %ld after %lu messages\n", k, next);
			return;
		}
		for (long i = 0; i < k && next + (uint64_t)i < HOG_MESSAGES; i++)
			*(uint64_t *)hl_ring_entry(&r, (uint32_t)i) = next + (uint64_t)i;
		uint32_t n = (uint32_t)(HOG_MESSAGES - next < (uint64_t)k ? HOG_MESSAGES - next
		                                                          : (uint64_t)k);
		hl_ring_publish(&r, n);
		next += n;
	}
	rt_printf("hog: sent %lu messages on channel hog-to-hello (slept %lu times, signalled %lu "
	          "times)\n",
	          next, r.sleeps, r.signals);
}

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
	rt_printf("hog: made %u frames from %lu KiB, then error %ld (%s)\n", made,
	          (1ul << m->size_bits) >> 10, err,
	          err == HL_ERR_NO_MEMORY ? "out of memory, cleanly" : "UNEXPECTED");
	send_numbers();
	return 0;
}
