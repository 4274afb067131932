/*
 * Split virtqueues (user/drivers/virtq.c) against a fake device that reads
 * the available ring and descriptor table and writes the used ring the way
 * virtio 1.2 §2.7 says a device does, and, for the validation cases, the
 * way a broken or hostile device might.
 */
#include <stdlib.h>
#include <string.h>

#include "ktharness.h"
#include "virtq.h"

struct fake {
	struct virtq q;
	uint8_t *mem;       /* desc | avail | used, each on a page of its own */
	uint16_t dev_avail; /* next avail entry the device takes */
	uint16_t dev_used;  /* the device's used index */
};

static struct fake *fake_new(uint16_t size)
{
	struct fake *f = calloc(1, sizeof(*f));
	f->mem = aligned_alloc(4096, 3 * 4096);
	memset(f->mem, 0xa5, 3 * 4096); /* virtq_init must set what it relies on */
	int err = virtq_init(&f->q, 0, size, f->mem, 0x10000, f->mem + 4096, 0x11000, f->mem + 8192,
	                     0x12000);
	CHECK_MSG(err == VIRTQ_OK, "init %d", err);
	return f;
}

static void fake_free(struct fake *f)
{
	free(f->mem);
	free(f);
}

/* The device takes the next available chain: its head, or -1 if none; segments into segs. */
static int dev_take(struct fake *f, struct virtq_seg *segs, unsigned *n)
{
	if (f->q.avail->idx == f->dev_avail)
		return -1;
	uint16_t head = f->q.avail->ring[f->dev_avail++ & (f->q.size - 1)], d = head;
	*n = 0;
	for (unsigned i = 0; i < f->q.size; i++) {
		segs[(*n)++] = (struct virtq_seg){f->q.desc[d].addr, f->q.desc[d].len,
		                                  f->q.desc[d].flags & VIRTQ_DESC_F_WRITE};
		if (!(f->q.desc[d].flags & VIRTQ_DESC_F_NEXT))
			break;
		d = f->q.desc[d].next;
	}
	return head;
}

/* The device returns chain id with len bytes written. */
static void dev_put(struct fake *f, uint32_t id, uint32_t len)
{
	f->q.used->ring[f->dev_used & (f->q.size - 1)] = (struct virtq_used_elem){id, len};
	f->q.used->idx = ++f->dev_used;
}

static int add1(struct fake *f, uint32_t len, bool w, void *cookie)
{
	struct virtq_seg s = {0x1000 + len, len, w};
	return virtq_add(&f->q, &s, 1, cookie);
}

KT_CASE(virtq_init_rejects_bad_sizes)
{
	struct virtq q;
	uint8_t *m = aligned_alloc(4096, 3 * 4096);

	CHECK_MSG(virtq_init(&q, 0, 0, m, 0, m + 4096, 0, m + 8192, 0) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_init(&q, 0, 3, m, 0, m + 4096, 0, m + 8192, 0) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_init(&q, 0, 512, m, 0, m + 4096, 0, m + 8192, 0) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_init(&q, 0, 256, m, 0, m + 4096, 0, m + 8192, 0) == VIRTQ_OK);
	CHECK_MSG(virtq_desc_bytes(256) == 4096 && virtq_used_bytes(256) <= 4096 &&
	          virtq_avail_bytes(256) <= 4096);
	free(m);
}

KT_CASE(virtq_chain_is_laid_out_as_the_device_reads_it)
{
	struct fake *f = fake_new(16);
	struct virtq_seg in[3] = {{0xa000, 12, false}, {0xb000, 100, false}, {0xc000, 2048, true}},
	                 got[16];
	unsigned n = 0;
	int cookie;

	CHECK_MSG(virtq_add(&f->q, in, 3, &cookie) == VIRTQ_OK);
	CHECK_MSG(dev_take(f, got, &n) == -1, "visible before publish");
	CHECK_MSG(virtq_publish(&f->q), "a device that did not set NO_NOTIFY is notified");
	int head = dev_take(f, got, &n);
	CHECK_MSG(head == 0 && n == 3, "head %d, %u segments", head, n);
	for (unsigned i = 0; i < 3 && i < n; i++)
		CHECK_MSG(got[i].paddr == in[i].paddr && got[i].len == in[i].len &&
		              got[i].device_writes == in[i].device_writes,
		          "segment %u", i);
	CHECK_MSG(f->q.nfree == 13);
	f->q.used->flags = VIRTQ_USED_F_NO_NOTIFY;
	CHECK_MSG(add1(f, 64, true, &cookie) == VIRTQ_OK);
	CHECK_MSG(!virtq_publish(&f->q), "the device asked not to be notified");
	fake_free(f);
}

KT_CASE(virtq_add_rejects_bad_chains)
{
	struct fake *f = fake_new(8);
	struct virtq_seg wr_then_rd[2] = {{0x1000, 10, true}, {0x2000, 10, false}};
	struct virtq_seg zero = {0x1000, 0, false}, nine[9];

	CHECK_MSG(virtq_add(&f->q, wr_then_rd, 2, NULL) == VIRTQ_ERR_INVALID,
	          "readable after writable (§2.7.4.2)");
	CHECK_MSG(virtq_add(&f->q, &zero, 1, NULL) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_add(&f->q, &zero, 0, NULL) == VIRTQ_ERR_INVALID);
	for (int i = 0; i < 9; i++)
		nine[i] = (struct virtq_seg){0x1000, 4, false};
	CHECK_MSG(virtq_add(&f->q, nine, 9, NULL) == VIRTQ_ERR_FULL);
	CHECK_MSG(f->q.nfree == 8 && f->q.inflight == 0, "a refused chain takes nothing");
	fake_free(f);
}

KT_CASE(virtq_full_then_room_after_completion)
{
	struct fake *f = fake_new(4);
	int c[5];
	struct virtq_seg s[16];
	unsigned n;

	for (int i = 0; i < 4; i++)
		CHECK_MSG(add1(f, 100, true, &c[i]) == VIRTQ_OK);
	CHECK_MSG(add1(f, 100, true, &c[4]) == VIRTQ_ERR_FULL);
	virtq_publish(&f->q);
	int h = dev_take(f, s, &n);
	dev_put(f, (uint32_t)h, 60);
	void *ck;
	uint32_t len;
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == 1 && ck == &c[0] && len == 60);
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == 0, "nothing more used");
	CHECK_MSG(add1(f, 100, true, &c[4]) == VIRTQ_OK);
	fake_free(f);
}

KT_CASE(virtq_out_of_order_completion_returns_each_cookie)
{
	struct fake *f = fake_new(16);
	int c[6], heads[6];
	struct virtq_seg s[16];
	unsigned n;

	for (int i = 0; i < 6; i++) {
		struct virtq_seg two[2] = {{0x1000, 8, false}, {0x2000, 100 + i, true}};
		CHECK_MSG(virtq_add(&f->q, two, i % 2 ? 2 : 1, &c[i]) == VIRTQ_OK, "chain %d", i);
		if (i == 3)
			virtq_publish(&f->q); /* two batches */
	}
	virtq_publish(&f->q);
	for (int i = 0; i < 6; i++)
		heads[i] = dev_take(f, s, &n);
	CHECK_MSG(f->q.nfree == 16 - 9, "9 descriptors in use: nfree %u", f->q.nfree);
	for (int i = 5; i >= 0; i--)
		dev_put(f, (uint32_t)heads[i], i % 2 ? 100 + (uint32_t)i : 0);
	for (int i = 5; i >= 0; i--) {
		void *ck;
		uint32_t len;
		CHECK_MSG(virtq_get(&f->q, &ck, &len) == 1 && ck == &c[i], "chain %d", i);
		CHECK_MSG(len == (i % 2 ? 100u + (uint32_t)i : 0));
	}
	CHECK_MSG(f->q.nfree == 16 && f->q.inflight == 0 && !f->q.fault);
	fake_free(f);
}

/* 70000 chains through a queue of 8: both 16-bit indices wrap past 65535 and the ring positions
 * wrap every 8. */
KT_CASE(virtq_indices_wrap_around_16_bits)
{
	struct fake *f = fake_new(8);
	struct virtq_seg s[16];
	unsigned n;
	int c[3], bad = 0;

	for (uint32_t i = 0; i < 70000 && !bad; i++) {
		for (int k = 0; k < 3; k++)
			bad += add1(f, 1500, true, &c[k]) != VIRTQ_OK;
		virtq_publish(&f->q);
		for (int k = 0; k < 3; k++)
			dev_put(f, (uint32_t)dev_take(f, s, &n), 60 + (uint32_t)k);
		for (int k = 0; k < 3; k++) {
			void *ck;
			uint32_t len;
			bad += virtq_get(&f->q, &ck, &len) != 1 || ck != &c[k] ||
			       len != 60u + (uint32_t)k;
		}
	}
	CHECK_MSG(bad == 0, "%d mismatches", bad);
	CHECK_MSG(f->q.avail->idx == (uint16_t)(3 * 70000) &&
	              f->q.used->idx == (uint16_t)(3 * 70000),
	          "avail %u used %u", f->q.avail->idx, f->q.used->idx);
	CHECK_MSG(f->q.nfree == 8 && !f->q.fault);
	fake_free(f);
}

/* One chain in flight, then the device writes entry {id, len}: the result and the fault. */
static int bad_used(uint16_t size, uint32_t id, uint32_t len, enum virtq_fault *fault)
{
	struct fake *f = fake_new(size);
	struct virtq_seg s[16];
	unsigned n;
	int c;
	void *ck = NULL;
	uint32_t got = 0;

	if (add1(f, 100, true, &c) != VIRTQ_OK)
		return 99;
	virtq_publish(&f->q);
	dev_take(f, s, &n);
	dev_put(f, id, len);
	int r = virtq_get(&f->q, &ck, &got);
	*fault = f->q.fault;
	if (r < 0) { /* broken stays broken */
		CHECK_MSG(virtq_get(&f->q, &ck, &got) == VIRTQ_ERR_BROKEN);
		CHECK_MSG(add1(f, 100, true, &c) == VIRTQ_ERR_BROKEN);
	}
	fake_free(f);
	return r;
}

KT_CASE(virtq_used_id_outside_the_table_is_a_fault)
{
	enum virtq_fault fault;

	CHECK_MSG(bad_used(8, 8, 10, &fault) == VIRTQ_ERR_BROKEN && fault == VIRTQ_FAULT_BAD_ID);
	CHECK_MSG(bad_used(8, 0xffffffffu, 10, &fault) == VIRTQ_ERR_BROKEN &&
	          fault == VIRTQ_FAULT_BAD_ID);
	CHECK_MSG(bad_used(8, 0x10000, 10, &fault) == VIRTQ_ERR_BROKEN &&
	              fault == VIRTQ_FAULT_BAD_ID,
	          "an id that is 0 in 16 bits");
}

KT_CASE(virtq_used_id_not_in_flight_is_a_fault)
{
	enum virtq_fault fault;

	CHECK_MSG(bad_used(8, 5, 10, &fault) == VIRTQ_ERR_BROKEN && fault == VIRTQ_FAULT_NOT_HEAD,
	          "never posted");
	CHECK_MSG(bad_used(8, 0, 10, &fault) == 1 && fault == VIRTQ_FAULT_NONE,
	          "the real head is fine");
}

KT_CASE(virtq_used_id_returned_twice_is_a_fault)
{
	struct fake *f = fake_new(8);
	struct virtq_seg s[16];
	unsigned n;
	int c[2];
	void *ck;
	uint32_t len;

	add1(f, 100, true, &c[0]), add1(f, 100, true, &c[1]);
	virtq_publish(&f->q);
	int h = dev_take(f, s, &n);
	dev_take(f, s, &n);
	dev_put(f, (uint32_t)h, 10);
	dev_put(f, (uint32_t)h, 10);
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == 1 && ck == &c[0]);
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == VIRTQ_ERR_BROKEN &&
	          f->q.fault == VIRTQ_FAULT_NOT_HEAD);
	fake_free(f);
}

KT_CASE(virtq_used_id_inside_a_chain_is_a_fault)
{
	struct fake *f = fake_new(8);
	struct virtq_seg three[3] = {{0x1000, 12, false}, {0x2000, 50, true}, {0x3000, 50, true}},
	                 s[16];
	unsigned n;
	void *ck;
	uint32_t len;

	CHECK_MSG(virtq_add(&f->q, three, 3, NULL) == VIRTQ_OK);
	virtq_publish(&f->q);
	dev_take(f, s, &n);
	dev_put(f, 1, 10); /* descriptor 1 is the chain's second */
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == VIRTQ_ERR_BROKEN &&
	          f->q.fault == VIRTQ_FAULT_NOT_HEAD);
	fake_free(f);
}

KT_CASE(virtq_used_len_beyond_the_buffer_is_a_fault)
{
	enum virtq_fault fault;

	CHECK_MSG(bad_used(8, 0, 100, &fault) == 1 && fault == VIRTQ_FAULT_NONE,
	          "exactly the buffer");
	CHECK_MSG(bad_used(8, 0, 101, &fault) == VIRTQ_ERR_BROKEN && fault == VIRTQ_FAULT_BAD_LEN);
	CHECK_MSG(bad_used(8, 0, 0xffffffffu, &fault) == VIRTQ_ERR_BROKEN &&
	          fault == VIRTQ_FAULT_BAD_LEN);
	/* A transmit chain has no device-writable bytes: any length is a lie. */
	struct fake *f = fake_new(8);
	struct virtq_seg s[16];
	unsigned n;
	void *ck;
	uint32_t len;
	add1(f, 1500, false, NULL);
	virtq_publish(&f->q);
	dev_put(f, (uint32_t)dev_take(f, s, &n), 1);
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == VIRTQ_ERR_BROKEN &&
	          f->q.fault == VIRTQ_FAULT_BAD_LEN);
	fake_free(f);
}

KT_CASE(virtq_used_index_jump_is_a_fault)
{
	struct fake *f = fake_new(8);
	struct virtq_seg s[16];
	unsigned n;
	void *ck = NULL;
	uint32_t len;

	add1(f, 100, true, NULL), add1(f, 100, true, NULL);
	virtq_publish(&f->q);
	dev_take(f, s, &n);
	f->q.used->idx = 9; /* more than the ring, and more than the 2 in flight */
	CHECK_MSG(virtq_used_pending(&f->q) == 0);
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == VIRTQ_ERR_BROKEN &&
	          f->q.fault == VIRTQ_FAULT_IDX_JUMP);
	fake_free(f);

	f = fake_new(8);
	add1(f, 100, true, NULL);
	virtq_publish(&f->q);
	f->q.used->idx = 2; /* within the ring, but only one chain is in flight */
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == VIRTQ_ERR_BROKEN &&
	          f->q.fault == VIRTQ_FAULT_IDX_JUMP);
	fake_free(f);

	f = fake_new(8);
	add1(f, 100, true, NULL);
	virtq_publish(&f->q);
	f->q.used->idx = 0xffff; /* backwards */
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == VIRTQ_ERR_BROKEN &&
	          f->q.fault == VIRTQ_FAULT_IDX_JUMP);
	fake_free(f);
}

KT_CASE(virtq_drain_returns_every_chain_in_flight)
{
	struct fake *f = fake_new(8);
	int c[4];
	void *out[8];
	struct virtq_seg two[2] = {{0x1000, 8, false}, {0x2000, 8, true}};

	for (int i = 0; i < 4; i++)
		CHECK_MSG(virtq_add(&f->q, two, i == 2 ? 2 : 1, &c[i]) == VIRTQ_OK);
	virtq_publish(&f->q);
	unsigned n = virtq_drain(&f->q, out, 8);
	CHECK_MSG(n == 4 && f->q.inflight == 0 && f->q.nfree == 8, "n %u", n);
	int seen = 0;
	for (unsigned i = 0; i < n; i++)
		for (int k = 0; k < 4; k++)
			seen |= (out[i] == &c[k]) << k;
	CHECK_MSG(seen == 15);
	fake_free(f);
}

KT_CASE(virtq_interrupt_suppression)
{
	struct fake *f = fake_new(8);
	struct virtq_seg s[16];
	unsigned n;

	virtq_irq_off(&f->q);
	CHECK_MSG(f->q.avail->flags == VIRTQ_AVAIL_F_NO_INTERRUPT);
	CHECK_MSG(!virtq_irq_on(&f->q) && f->q.avail->flags == 0, "nothing pending");
	add1(f, 100, true, NULL);
	virtq_publish(&f->q);
	dev_put(f, (uint32_t)dev_take(f, s, &n), 5);
	CHECK_MSG(virtq_irq_on(&f->q), "a completion already there: do not sleep");
	CHECK_MSG(virtq_used_pending(&f->q) == 1);
	fake_free(f);
}

/* Indirect descriptors (§2.7.5.3, used by virtio-blk): one ring entry per chain, the table the
 * caller's. */
KT_CASE(virtq_indirect_chain_takes_one_descriptor)
{
	struct fake *f = fake_new(4);
	static struct virtq_desc table[8];
	struct virtq_seg segs[3] = {{0x5000, 16, false}, {0x6000, 4096, true}, {0x7000, 1, true}};
	uint32_t wlen = 0;
	void *c = 0;
	uint32_t len = 0;

	CHECK_MSG(virtq_indirect_fill(table, 8, segs, 3, &wlen) == VIRTQ_OK && wlen == 4097);
	CHECK_MSG(table[0].addr == 0x5000 && table[0].flags == VIRTQ_DESC_F_NEXT &&
	          table[0].next == 1);
	CHECK_MSG(table[1].flags == (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE) && table[1].next == 2);
	CHECK_MSG(table[2].flags == VIRTQ_DESC_F_WRITE && table[2].len == 1);
	for (int i = 0; i < 4; i++)
		CHECK_MSG(virtq_add_indirect(&f->q, 0x9000, 3, wlen, (void *)(uintptr_t)(i + 1)) ==
		          VIRTQ_OK);
	CHECK_MSG(virtq_add_indirect(&f->q, 0x9000, 3, wlen, 0) == VIRTQ_ERR_FULL,
	          "4 chains in a ring of 4");
	virtq_publish(&f->q);
	uint16_t head = f->q.avail->ring[0];
	CHECK_MSG(f->q.desc[head].flags == VIRTQ_DESC_F_INDIRECT && f->q.desc[head].len == 48 &&
	          f->q.desc[head].addr == 0x9000);
	dev_put(f, head, 4097);
	CHECK_MSG(virtq_get(&f->q, &c, &len) == 1 && c == (void *)1 && len == 4097);
	CHECK_MSG(virtq_add_indirect(&f->q, 0x9000, 3, wlen, 0) == VIRTQ_OK,
	          "the freed entry is reused");
	dev_put(f, f->q.avail->ring[1], 4098); /* more than the table's writable bytes */
	CHECK_MSG(virtq_get(&f->q, &c, &len) == VIRTQ_ERR_BROKEN &&
	          f->q.fault == VIRTQ_FAULT_BAD_LEN);
	fake_free(f);
}

KT_CASE(virtq_indirect_table_refuses_bad_chains)
{
	static struct virtq_desc table[4];
	struct virtq_seg rw[2] = {{0x1000, 8, true},
	                          {0x2000, 8, false}}; /* writable before readable */
	struct virtq_seg z[1] = {{0x1000, 0, false}};
	struct virtq_seg many[5] = {{1, 1, 0}, {2, 1, 0}, {3, 1, 0}, {4, 1, 0}, {5, 1, 0}};
	uint32_t w;
	struct fake *f = fake_new(4);

	CHECK_MSG(virtq_indirect_fill(table, 4, rw, 2, &w) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_indirect_fill(table, 4, z, 1, &w) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_indirect_fill(table, 4, many, 5, &w) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_indirect_fill(table, 4, many, 0, &w) == VIRTQ_ERR_INVALID);
	CHECK_MSG(virtq_add_indirect(&f->q, 0x9000, 0, 0, 0) == VIRTQ_ERR_INVALID);
	fake_free(f);
}

/* The receive path's one-buffer add (virtio-net rx_post): a single device-writable descriptor
 * as virtq_add lays it out, its length the limit on what the device may say it wrote; a zero
 * length, a full ring and a broken queue are refused without taking anything. */
KT_CASE(virtq_add_writable_is_one_writable_descriptor)
{
	struct fake *f = fake_new(4);
	struct virtq_seg got[16];
	unsigned n = 0;
	int c[5];
	void *ck;
	uint32_t len;

	CHECK_MSG(virtq_add_writable(&f->q, 0x7000, 0, &c[0]) == VIRTQ_ERR_INVALID);
	for (int i = 0; i < 4; i++)
		CHECK_MSG(virtq_add_writable(&f->q, 0x8000 + 0x1000 * (uint64_t)i, 4096, &c[i]) ==
		          VIRTQ_OK);
	CHECK_MSG(virtq_add_writable(&f->q, 0xf000, 4096, &c[4]) == VIRTQ_ERR_FULL);
	CHECK_MSG(f->q.nfree == 0 && f->q.inflight == 4);
	CHECK_MSG(virtq_publish(&f->q));
	for (int i = 0; i < 4; i++) {
		int head = dev_take(f, got, &n);
		CHECK_MSG(head >= 0 && n == 1 && got[0].paddr == 0x8000 + 0x1000 * (uint64_t)i &&
		              got[0].len == 4096 && got[0].device_writes,
		          "buffer %d: head %d, %u segments", i, head, n);
		CHECK_MSG(!(f->q.desc[head].flags & VIRTQ_DESC_F_NEXT));
		dev_put(f, (uint32_t)head, i < 3 ? 4096 - (uint32_t)i : 4097);
	}
	for (int i = 0; i < 3; i++)
		CHECK_MSG(virtq_get(&f->q, &ck, &len) == 1 && ck == &c[i] &&
		          len == 4096u - (uint32_t)i);
	CHECK_MSG(virtq_get(&f->q, &ck, &len) == VIRTQ_ERR_BROKEN &&
	              f->q.fault == VIRTQ_FAULT_BAD_LEN,
	          "a length past the buffer");
	CHECK_MSG(virtq_add_writable(&f->q, 0x8000, 4096, &c[0]) == VIRTQ_ERR_BROKEN);
	fake_free(f);
}
