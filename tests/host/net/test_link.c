/* Unit tests: checksums, sequence arithmetic, Ethernet, ARP, IPv4,
 * fragments, ICMP and UDP, driving one stack with raw frames. */
#include "harness.h"

static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

KT_CASE(csum_rfc1071_example)
{
	const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};

	/* RFC 1071 section 3: the sum is ddf2, the checksum its complement. */
	CHECK(floo_csum_fold(floo_csum_add(0, d, 8)) == (uint16_t)~0xddf2);
}

KT_CASE(csum_pieces_at_odd_offsets)
{
	uint8_t d[101];
	uint32_t whole, parts;

	for (int i = 0; i < 101; i++)
		d[i] = (uint8_t)(i * 37 + 11);
	whole = floo_csum_fold(floo_csum_add(0, d, 101));
	parts = floo_csum_add_at(0, d, 7, 0);
	parts = floo_csum_add_at(parts, d + 7, 50, 7);
	parts = floo_csum_add_at(parts, d + 57, 44, 57);
	CHECK(whole == floo_csum_fold(parts));
}

/* A platform whose region is DMA pages lends pbufs to its NIC (user/net/hallows): each starts a
 * multiple of its size from the region's start, so none of up to a page crosses a page, whatever
 * the sizes in front of the pool, and one larger than a page crosses no boundary of the region's
 * 2 MiB chunks; the region stays big enough. */
KT_CASE(pbufs_never_cross_a_page)
{
	for (uint32_t size = FLOO_PBUF_SIZE; size <= FLOO_PBUF_SIZE_MAX; size *= 2)
		for (uint32_t n = 1; n <= 129; n += 32) {
			struct floo_config c = {
			    .n_pbufs = n, .n_tcp = 3, .n_frag = 1, .pbuf_size = size};
			struct floo_platform p = {.rx_burst = NULL};
			struct node *ref = node_new(&c, IP_A, 1); /* a working platform to copy */
			size_t sz = floo_mem_size(&c);
			uint8_t *mem = aligned_alloc(4096, (sz + 4095) & ~(size_t)4095);

			p = ref->st->plat;
			struct floo_stack *st = floo_stack_init(mem, sz, &c, &p, ref->mac);
			CHECK(st != NULL && floo_pbuf_size(st) == size);
			for (uint32_t i = 0; st && i < n; i++) {
				struct floo_pbuf *pb = floo_pbuf_alloc(st);
				size_t off = (size_t)(pb->base - mem);
				CHECK(off % size == 0);
				CHECK(size > 4096 || off / 4096 == (off + size - 1) / 4096);
				CHECK(off / (2u << 20) == (off + size - 1) / (2u << 20));
				CHECK(off + size <= sz);
				CHECK(pb->data == pb->base + FLOO_PBUF_HEADROOM);
			}
			free(mem);
			node_free(ref);
		}
}

/* floo_config.pbuf_size: 0 is the default (FLOO_PBUF_SIZE); anything but a power of two from
 * FLOO_PBUF_SIZE to FLOO_PBUF_SIZE_MAX is refused, and a larger size needs more memory. */
KT_CASE(pbuf_size_outside_the_powers_of_two_refused)
{
	static const uint32_t bad[] = {1024, 3000, 6144, FLOO_PBUF_SIZE_MAX + 4096,
	                               FLOO_PBUF_SIZE_MAX * 2};
	struct node *ref = node_new(NULL, IP_A, 1);
	struct floo_config c = {.n_pbufs = 8, .n_tcp = 3, .n_frag = 1};
	size_t sz2k = floo_mem_size(&c);

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		c.pbuf_size = bad[i];
		size_t sz = floo_mem_size(&c);
		uint8_t *mem = aligned_alloc(4096, (sz + 4095) & ~(size_t)4095);
		CHECK(floo_stack_init(mem, sz, &c, &ref->st->plat, ref->mac) == NULL);
		free(mem);
	}
	c.pbuf_size = 0;
	uint8_t *mem = aligned_alloc(4096, (sz2k + 4095) & ~(size_t)4095);
	struct floo_stack *st = floo_stack_init(mem, sz2k, &c, &ref->st->plat, ref->mac);
	CHECK(st && floo_pbuf_size(st) == FLOO_PBUF_SIZE);
	free(mem);
	c.pbuf_size = 4096;
	CHECK(floo_mem_size(&c) >= sz2k + 8 * 2048);
	node_free(ref);
}

KT_CASE(seq_compare_wraparound)
{
	CHECK(seq_lt(0xfffffff0u, 0x10u));
	CHECK(seq_gt(0x10u, 0xfffffff0u));
	CHECK(seq_leq(5, 5) && seq_geq(5, 5));
	CHECK(!seq_lt(0x10u, 0xfffffff0u));
	CHECK(seq_lt(0x7fffffffu, 0x80000000u));
}

KT_CASE(eth_short_and_foreign_frames_dropped)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[64] = {0};

	inject(n, f, 10);
	memcpy(f, (uint8_t[]){0x02, 9, 9, 9, 9, 9}, 6);
	put_be16(f + 12, 0x0800);
	inject(n, f, 60);
	memcpy(f, n->mac, 6);
	put_be16(f + 12, 0x86dd); /* IPv6: not ours */
	inject(n, f, 60);
	CHECK(floo_stats(n->st)->drop_eth == 3);
	CHECK(n->txq.n == 0);
	CHECK_NO_LEAK(n);
	node_free(n);
}

/* An ARP request frame from 10.0.0.9 for tpa. */
static uint32_t arp_frame(uint8_t *f, uint16_t op, uint32_t spa, uint32_t tpa)
{
	uint8_t *a = f + 14;

	memcpy(f, bcast, 6);
	memcpy(f + 6, (uint8_t[]){0x02, 0, 0, 0, 0, 9}, 6);
	put_be16(f + 12, 0x0806);
	put_be16(a, 1);
	put_be16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, (uint8_t[]){0x02, 0, 0, 0, 0, 9}, 6);
	put_be32(a + 14, spa);
	memset(a + 18, 0, 6);
	put_be32(a + 24, tpa);
	return 60;
}

KT_CASE(arp_request_answered_and_sender_learned)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[2048];
	uint32_t len;

	inject(n, f, arp_frame(f, 1, IP(10, 0, 0, 9), IP_A));
	len = take(n, f);
	CHECK(len == 60);
	CHECK(get_be16(f + 12) == 0x0806 && get_be16(f + 20) == 2);
	CHECK(!memcmp(f + 22, n->mac, 6) && get_be32(f + 28) == IP_A);
	CHECK(get_be32(f + 38) == IP(10, 0, 0, 9));
	CHECK(arp_lookup(n->st, IP(10, 0, 0, 9)) != NULL);
	/* A request for someone else does not create an entry. */
	inject(n, f, arp_frame(f, 1, IP(10, 0, 0, 7), IP(10, 0, 0, 8)));
	CHECK(take(n, f) == 0);
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(arp_malformed_dropped)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[2048];

	arp_frame(f, 1, IP(10, 0, 0, 9), IP_A);
	f[14 + 4] = 8; /* hardware length */
	inject(n, f, 60);
	arp_frame(f, 7, IP(10, 0, 0, 9), IP_A); /* unknown op */
	inject(n, f, 60);
	inject(n, f, 30); /* truncated */
	CHECK(floo_stats(n->st)->drop_arp == 3);
	CHECK(n->txq.n == 0);
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(arp_gratuitous_on_config_and_cache_expiry)
{
	struct node *n = node_new(NULL, 0, 1);
	uint8_t f[2048];

	floo_set_ipv4(n->st, IP_A, 0xffffff00u, 0);
	floo_tx_flush(n->st);
	CHECK(take(n, f) == 60);
	CHECK(get_be32(f + 28) == IP_A && get_be32(f + 38) == IP_A);
	inject(n, f, arp_frame(f, 2, IP(10, 0, 0, 9), IP_A));
	CHECK(arp_lookup(n->st, IP(10, 0, 0, 9)) != NULL);
	drain(n);
	run_ms(n, NULL, 61000); /* stale: unicast probe, still usable */
	CHECK(take(n, f) == 60 && f[0] == 0x02);
	run_ms(n, NULL, 4000); /* unanswered: gone */
	drain(n);
	CHECK(arp_lookup(n->st, IP(10, 0, 0, 9)) == NULL);
	CHECK_NO_LEAK(n);
	node_free(n);
}

/* Ping n with payload; returns the reply length (0 if none). */
static uint32_t ping(struct node *n, uint8_t *f, uint32_t dst, uint32_t plen)
{
	uint8_t m[1500];

	m[0] = 8;
	m[1] = 0;
	put_be16(m + 2, 0);
	put_be32(m + 4, 0x12340001);
	for (uint32_t i = 0; i < plen; i++)
		m[8 + i] = (uint8_t)i;
	put_be16(m + 2, floo_csum_fold(floo_csum_add(0, m, 8 + plen)));
	inject(n, f, build_ip(f, n->mac, IP(10, 0, 0, 9), dst, 1, m, 8 + plen));
	return take(n, f);
}

KT_CASE(icmp_echo_reply)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[2048];
	uint32_t len;

	arp_learn(n->st, IP(10, 0, 0, 9), (uint8_t[]){2, 0, 0, 0, 0, 9}, true);
	len = ping(n, f, IP_A, 100);
	CHECK(len == 14 + 20 + 8 + 100);
	CHECK(f[34] == 0 && get_be32(f + 38) == 0x12340001);
	CHECK(floo_csum_fold(floo_csum_add(0, f + 34, 108)) == 0);
	CHECK(floo_csum_fold(floo_csum_add(0, f + 14, 20)) == 0);
	CHECK(f[34 + 8 + 99] == 99);
	/* Broadcast pings are not answered. */
	CHECK(ping(n, f, IP(10, 0, 0, 255), 10) == 0);
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(ip_malformed_headers_dropped)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[2048], p[8] = {8, 0, 0xf7, 0xff, 0, 0, 0, 0};
	uint32_t len = build_ip(f, n->mac, IP(10, 0, 0, 9), IP_A, 1, p, 8);

	arp_learn(n->st, IP(10, 0, 0, 9), (uint8_t[]){2, 0, 0, 0, 0, 9}, true);
	f[24] ^= 1; /* checksum */
	inject(n, f, len);
	f[24] ^= 1;
	f[14] = 0x65; /* version 6 */
	inject(n, f, len);
	f[14] = 0x44; /* IHL 4 */
	inject(n, f, len);
	f[14] = 0x45;
	put_be16(f + 16, 200); /* total length beyond the frame */
	inject(n, f, len);
	put_be16(f + 16, 28);
	put_be32(f + 26, IP(224, 0, 0, 1)); /* multicast source */
	put_be16(f + 24, 0);
	put_be16(f + 24, floo_csum_fold(floo_csum_add(0, f + 14, 20)));
	inject(n, f, len);
	CHECK(floo_stats(n->st)->drop_ip == 5);
	CHECK(floo_stats(n->st)->drop_ip_csum == 1);
	CHECK(n->txq.n == 0);
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(ip_options_accepted_and_padding_trimmed)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[2048], m[16] = {8, 0, 0, 0, 0, 0, 0, 1, 'a', 'b', 'c', 'd'};
	uint8_t *h = f + 14;

	arp_learn(n->st, IP(10, 0, 0, 9), (uint8_t[]){2, 0, 0, 0, 0, 9}, true);
	put_be16(m + 2, floo_csum_fold(floo_csum_add(0, m, 12)));
	build_ip(f, n->mac, IP(10, 0, 0, 9), IP_A, 1, m, 12);
	/* Re-make it with 4 bytes of options (NOPs) and link padding. */
	memmove(h + 24, h + 20, 12);
	memset(h + 20, 1, 4);
	h[0] = 0x46;
	put_be16(h + 2, 36);
	put_be16(h + 10, 0);
	put_be16(h + 10, floo_csum_fold(floo_csum_add(0, h, 24)));
	memset(f + 50, 0xee, 10);
	inject(n, f, 60);
	CHECK(take(n, f) == 14 + 20 + 12);
	CHECK(!memcmp(f + 42, "abcd", 4));
	CHECK_NO_LEAK(n);
	node_free(n);
}

/* Send fragment [off, off+len) of a UDP datagram with id. */
static void frag(struct node *n, const uint8_t *dgram, uint32_t off, uint32_t len, bool more,
                 uint16_t id)
{
	uint8_t f[2048];
	uint8_t *h = f + 14;

	build_ip(f, n->mac, IP(10, 0, 0, 9), IP_A, 17, dgram + off, len);
	put_be16(h + 4, id);
	put_be16(h + 6, (uint16_t)((more ? 0x2000 : 0) | (off / 8)));
	put_be16(h + 10, 0);
	put_be16(h + 10, floo_csum_fold(floo_csum_add(0, h, 20)));
	inject(n, f, 34 + len);
}

static uint32_t udp_got;
static uint8_t udp_buf[4096];

static void udp_sink(struct floo_stack *st, void *arg, uint32_t src, uint16_t sport, uint16_t dport,
                     const uint8_t *d, uint32_t n)
{
	(void)st, (void)arg, (void)src, (void)sport, (void)dport;
	udp_got = n;
	memcpy(udp_buf, d, n < sizeof(udp_buf) ? n : sizeof(udp_buf));
}

/* A 3000-byte UDP datagram (header included) for reassembly tests. */
static void make_dgram(uint8_t *d)
{
	uint32_t s;

	for (int i = 8; i < 3000; i++)
		d[i] = (uint8_t)(i * 7);
	put_be16(d, 5000);
	put_be16(d + 2, 4000);
	put_be16(d + 4, 3000);
	put_be16(d + 6, 0);
	s = floo_csum_pseudo(IP(10, 0, 0, 9), IP_A, 17, 3000);
	put_be16(d + 6, floo_csum_fold(floo_csum_add(s, d, 3000)));
}

KT_CASE(ip_frag_reassembly_out_of_order_and_duplicates)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t d[3000];

	make_dgram(d);
	floo_udp_bind(n->st, 4000, udp_sink, NULL);
	udp_got = 0;
	frag(n, d, 2000, 1000, false, 7);
	frag(n, d, 0, 1000, true, 7);
	frag(n, d, 0, 1000, true, 7); /* exact duplicate: ignored */
	CHECK(udp_got == 0);
	frag(n, d, 1000, 1000, true, 7);
	CHECK(udp_got == 2992 && !memcmp(udp_buf, d + 8, 2992));
	CHECK(floo_stats(n->st)->frag_reassembled == 1);
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(ip_frag_overlap_discards_datagram)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t d[3000];

	make_dgram(d);
	floo_udp_bind(n->st, 4000, udp_sink, NULL);
	udp_got = 0;
	frag(n, d, 0, 1000, true, 9);
	frag(n, d, 992, 1008, true, 9); /* overlaps the first by 8 bytes */
	frag(n, d, 2000, 1000, false, 9);
	frag(n, d, 1000, 1000, true, 9);
	CHECK(udp_got == 0);
	CHECK(floo_stats(n->st)->drop_frag >= 1);
	frag(n, d, 1004, 100, true, 10); /* length not a multiple of 8 */
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(ip_frag_timeout_sends_time_exceeded_and_bounds_memory)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t d[3000], f[2048];

	make_dgram(d);
	arp_learn(n->st, IP(10, 0, 0, 9), (uint8_t[]){2, 0, 0, 0, 0, 9}, true);
	for (uint16_t id = 100; id < 140; id++) /* 40 datagrams, 2 slots */
		frag(n, d, 0, 1000, true, id);
	CHECK(floo_stats(n->st)->drop_frag >= 38);
	drain(n);
	run_ms(n, NULL, 31000);
	CHECK(floo_stats(n->st)->frag_timeouts == 2);
	CHECK(take(n, f) > 0 && f[34] == 11 && f[35] == 1);
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(udp_delivery_checksum_and_port_unreachable)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[2048];
	uint32_t len;

	arp_learn(n->st, IP(10, 0, 0, 9), (uint8_t[]){2, 0, 0, 0, 0, 9}, true);
	CHECK(floo_udp_bind(n->st, 4000, udp_sink, NULL) == 0);
	CHECK(floo_udp_bind(n->st, 4000, udp_sink, NULL) == FLOO_EADDRINUSE);
	udp_got = 0;
	len = build_udp(f, n->mac, IP(10, 0, 0, 9), IP_A, 1, 4000, (const uint8_t *)"hey", 3);
	inject(n, f, len);
	CHECK(udp_got == 3 && !memcmp(udp_buf, "hey", 3));
	f[len - 1] ^= 0xff; /* corrupt payload */
	udp_got = 0;
	inject(n, f, len);
	CHECK(udp_got == 0 && floo_stats(n->st)->drop_udp_csum == 1);
	len = build_udp(f, n->mac, IP(10, 0, 0, 9), IP_A, 1, 4000, (const uint8_t *)"hey", 3);
	put_be16(f + 34 + 4, 50); /* UDP length beyond IP payload */
	inject(n, f, len);
	CHECK(udp_got == 0 && floo_stats(n->st)->drop_udp >= 1);
	len = build_udp(f, n->mac, IP(10, 0, 0, 9), IP_A, 1, 4001, (const uint8_t *)"x", 1);
	inject(n, f, len);
	len = take(n, f);
	CHECK(len > 0 && f[34] == 3 && f[35] == 3);
	CHECK(get_be16(f + 34 + 8 + 20 + 2) == 4001); /* quoted header */
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(ip_unknown_protocol_unreachable_but_never_for_icmp_errors)
{
	struct node *n = node_new(NULL, IP_A, 1);
	uint8_t f[2048], p[16] = {0}, e[36] = {3, 3};
	uint32_t len;

	arp_learn(n->st, IP(10, 0, 0, 9), (uint8_t[]){2, 0, 0, 0, 0, 9}, true);
	inject(n, f, build_ip(f, n->mac, IP(10, 0, 0, 9), IP_A, 99, p, 16));
	len = take(n, f);
	CHECK(len > 0 && f[34] == 3 && f[35] == 2);
	/* An incoming ICMP error never triggers one. */
	put_be16(e + 2, floo_csum_fold(floo_csum_add(0, e, 36)));
	inject(n, f, build_ip(f, n->mac, IP(10, 0, 0, 9), IP_A, 1, e, 36));
	CHECK(take(n, f) == 0);
	CHECK_NO_LEAK(n);
	node_free(n);
}

/* Reproducer: the ARP request of an unresolved first send was the frame
 * given back instead of the unused one, so resolution never started. */
KT_CASE(bug_first_send_unresolved_arp_request_lost)
{
	struct node *a = node_new(NULL, IP_A, 1), *b = node_new(NULL, IP_B, 2);

	node_link(a, b);
	floo_udp_bind(b->st, 53, udp_sink, NULL);
	udp_got = 0;
	/* First send needs ARP; it is dropped and reported. */
	CHECK(floo_udp_send(a->st, 1234, IP_B, 53, "q", 1) == FLOO_EAGAIN);
	run_ms(a, b, 5);
	CHECK(floo_udp_send(a->st, 1234, IP_B, 53, "query", 5) == 0);
	run_ms(a, b, 5);
	CHECK(udp_got == 5 && !memcmp(udp_buf, "query", 5));
	CHECK_NO_LEAK(a);
	CHECK_NO_LEAK(b);
	node_free(a);
	node_free(b);
}
