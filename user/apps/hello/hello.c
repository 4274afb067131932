/*
 * A minimal program the root task starts from etc/manifest: it runs in
 * its own address space and capability space with its own memory, and
 * reports what it can and cannot reach, the argv and config the manifest
 * handed it, and, if it has the consumer end of channel hog-to-hello, the
 * sequence numbers it receives there (checked in order, none lost).
 */
#include <hallows/rt.h>

static void receive_numbers(void)
{
	struct hl_ring r;
	uint64_t next = 0, bad = 0;
	int err = rt_channel("hog-to-hello", &r);

	if (err)
		return;
	while (next < 10000) {
		long k = hl_ring_peek(&r, 16);
		if (k == 0)
			k = hl_ring_wait(&r);
		if (k < 0) {
			rt_printf("hello: ring error %ld after %lu messages\n", k, next);
			return;
		}
		for (long i = 0; i < k; i++) {
			uint64_t v = *(volatile uint64_t *)hl_ring_entry(&r, (uint32_t)i);
			bad += v != next + (uint64_t)i;
		}
		hl_ring_release(&r, (uint32_t)k);
		next += (uint64_t)k;
	}
	rt_printf("hello: received %lu messages on channel hog-to-hello, %s (slept %lu times)\n",
	          next, bad ? "SOME OUT OF ORDER" : "all in order", r.sleeps);
}

/* The PCI functions the manifest gave this partition, each read through its capability. */
static void report_devices(void)
{
	struct hl_bootinfo_pci f;

	for (uint32_t i = 0; rt_self.pi && rt_pci_function(i, &f); i++) {
		hl_word_t id = 0;
		long err = hl_pci_device_config_read(rt_pci_open(i), 0, 4, &id);
		rt_printf(
		    "hello: device %02x:%02x.%x %04x:%04x, config space reads %04lx:%04lx (%s)\n",
		    f.bdf >> 8, (f.bdf >> 3) & 31, f.bdf & 7, f.vendor, f.device,
		    (unsigned long)(id & 0xffff), (unsigned long)(id >> 16), err ? "FAILED" : "ok");
	}
}

int main(struct rt *rt)
{
	const struct hl_bootinfo *bi = rt->bi;
	long foreign = hl_memory_info(HL_SLOT_FIRST_FREE_FIXED + 40, NULL, NULL, NULL, NULL);
	hl_cptr_t ep = rt_alloc(HL_OBJ_ENDPOINT, 0);
	uint64_t *page = rt_map_pages(1);

	if (page)
		page[0] = 42;
	rt_printf("hello: running in ring 3 with %u memory capability, %lu KiB; own endpoint %s, "
	          "own page %s, "
	          "root's capabilities %s\n",
	          bi->nmem, bi->nmem ? (1ul << bi->mem[0].size_bits) >> 10 : 0,
	          ep ? "made" : "FAILED", page && page[0] == 42 ? "mapped" : "FAILED",
	          foreign == HL_ERR_INVALID_CAP ? "unreachable" : "REACHABLE");
	if (rt_arg(0))
		rt_printf("hello: argv[0] %s, argv[1] %s, config greeting=%s\n", rt_arg(0),
		          rt_arg(1) ? rt_arg(1) : "(none)",
		          rt_config("greeting") ? rt_config("greeting") : "(none)");
	report_devices();
	receive_numbers();
	return 0;
}
