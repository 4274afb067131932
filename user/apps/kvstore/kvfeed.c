/*
 * kvfeed: the client side of a deterministic replay (make replay): sends
 * the recording linked into it (rec_data .. rec_end, mk/snapshot.mk) to
 * kvstore --replay over channel kv-req.
 */
#include <hallows/replay.h>
#include <lib/string.h>

extern const uint8_t rec_data[], rec_end[];

static void send_entry(struct hl_ring *r, const void *p, uint32_t n)
{
	while (hl_ring_reserve(r, 1) != 1)
		hl_ring_wait(r);
	uint8_t *e = hl_ring_entry(r, 0);
	memset(e, 0, r->entry_size);
	memcpy(e, p, n);
	hl_ring_publish(r, 1);
}

int main(struct rt *rt)
{
	struct hl_ring req, resp;
	uint64_t len = (uint64_t)(rec_end - rec_data), head[2] = {RP_REC_MAGIC, len};
	(void)rt;

	if (rt_channel("kv-req", &req) != HL_RING_OK ||
	    rt_channel("kv-resp", &resp) != HL_RING_OK) {
		rt_printf("kvfeed: FAILED: no channels\n");
		return 1;
	}
	rt_printf("kvfeed: sending a recording of %llu bytes\n", (unsigned long long)len);
	send_entry(&req, head, sizeof(head));
	for (uint64_t off = 0; off < len; off += req.entry_size)
		send_entry(&req, rec_data + off,
		           (uint32_t)(len - off < req.entry_size ? len - off : req.entry_size));
	/* The replayed worker answers on kv-resp from where the recorded run was; nothing reads it.
	 */
	rt_printf("kvfeed: recording sent\n");
	return 0;
}
