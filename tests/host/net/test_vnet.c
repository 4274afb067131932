/* virtio-net headers (floo_vnet.h): the byte layout, the header the stack's
 * offload requests become, and what a received header lets through. The
 * fake NIC of every offload test goes through the same functions. */
#include "harness.h"

KT_CASE(vnet_header_layout_is_little_endian_at_spec_offsets)
{
	struct floo_vnet_hdr h = {.flags = 1,
	                          .gso_type = 1,
	                          .hdr_len = 0x0102,
	                          .gso_size = 0x0304,
	                          .csum_start = 0x0506,
	                          .csum_offset = 0x0708},
	                     back;
	const uint8_t want[FLOO_VNET_HDR_LEN] = {1, 1, 2, 1, 4, 3, 6, 5, 8, 7};
	uint8_t raw[FLOO_VNET_HDR_LEN];

	floo_vnet_encode(&h, raw);
	CHECK(!memcmp(raw, want, sizeof(raw)));
	floo_vnet_decode(raw, &back);
	CHECK(!memcmp(&h, &back, sizeof(h)));
}

KT_CASE(vnet_tx_header_for_plain_checksum_and_tso_frames)
{
	struct floo_txframe f = {.niov = 2};
	struct floo_vnet_hdr h;

	f.iov[0].len = 66;
	f.iov[1].len = 4000;
	floo_vnet_tx(&f, &h);
	CHECK(!h.flags && h.gso_type == FLOO_VNET_GSO_NONE && !h.gso_size && !h.hdr_len &&
	      !h.csum_start && !h.csum_offset);
	f.csum_partial = true;
	f.csum_start = 34;
	f.csum_offset = 16;
	floo_vnet_tx(&f, &h);
	CHECK(h.flags == FLOO_VNET_F_NEEDS_CSUM && h.csum_start == 34 && h.csum_offset == 16 &&
	      h.gso_type == FLOO_VNET_GSO_NONE);
	f.tso_mss = 1448;
	floo_vnet_tx(&f, &h);
	CHECK(h.flags == FLOO_VNET_F_NEEDS_CSUM && h.gso_type == FLOO_VNET_GSO_TCPV4 &&
	      h.gso_size == 1448 && h.hdr_len == 66);
}

/* A listener on 80 and a SYN from PEER whose checksum is as given. */
static struct node *syn_target(struct app *a)
{
	struct node *n = node_new(NULL, IP_A, 1);

	app_init(a, 64);
	arp_learn(n->st, PEER, peer_mac, true);
	floo_tcp_listen(n->st, 80, app_cb, a);
	return n;
}

static uint32_t syn(uint8_t *f, const struct node *n, uint16_t sport, bool bad)
{
	uint32_t len =
	    build_tcp(f, n->mac, PEER, IP_A, sport, 80, 1000, 0, TH_SYN, 65535, NULL, 0, NULL, 0);

	if (bad)
		f[34 + 16] ^= 0x5a;
	return len;
}

/* Did the stack answer with a SYN-ACK since the last call? */
static bool answered(struct node *n)
{
	uint8_t f[2048];
	bool synack = false;
	uint32_t len;

	while ((len = take(n, f)))
		if (len >= 54 && f[23] == 6 && f[34 + 13] == (TH_SYN | TH_ACK))
			synack = true;
	return synack;
}

KT_CASE(vnet_rx_data_valid_skips_the_checksum_and_no_header_does_not)
{
	struct app a;
	struct node *n = syn_target(&a);
	struct floo_vnet_hdr dv = {.flags = FLOO_VNET_F_DATA_VALID}, none = {0};
	uint8_t f[2048];
	uint32_t len;

	len = syn(f, n, 40001, true);
	inject(n, f, len); /* no header: software check, dropped */
	CHECK(!answered(n) && floo_stats(n->st)->drop_tcp_csum == 1);
	len = syn(f, n, 40002, true);
	inject_vnet(n, &none, f, len); /* a header without flags: the same */
	CHECK(!answered(n) && floo_stats(n->st)->drop_tcp_csum == 2);
	len = syn(f, n, 40003, true);
	inject_vnet(n, &dv, f, len); /* the device checked it: trusted */
	CHECK(answered(n) && floo_stats(n->st)->drop_tcp_csum == 2);
	CHECK(floo_stats(n->st)->drop_vnet == 0);
	app_fini(&a);
	node_free(n);
}

/* Linux sends host-made frames with only the pseudo-header sum in the
 * checksum field and NEEDS_CSUM: the data never crossed a wire. */
KT_CASE(vnet_rx_needs_csum_partial_sum_accepted)
{
	struct app a;
	struct node *n = syn_target(&a);
	struct floo_vnet_hdr nc = {
	    .flags = FLOO_VNET_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 16};
	uint8_t f[2048];
	uint32_t len = syn(f, n, 40001, false);

	put_be16(f + 34 + 16, (uint16_t)~floo_csum_fold(floo_csum_pseudo(PEER, IP_A, 6, 20)));
	inject_vnet(n, &nc, f, len);
	CHECK(answered(n));
	CHECK(floo_stats(n->st)->drop_tcp_csum == 0 && floo_stats(n->st)->drop_vnet == 0);
	app_fini(&a);
	node_free(n);
}

KT_CASE(vnet_rx_refuses_gso_frames_and_checksum_fields_outside_the_frame)
{
	struct app a;
	struct node *n = syn_target(&a);
	struct floo_vnet_hdr gso = {.flags = FLOO_VNET_F_NEEDS_CSUM,
	                            .gso_type = FLOO_VNET_GSO_TCPV4,
	                            .gso_size = 1448,
	                            .hdr_len = 54,
	                            .csum_start = 34,
	                            .csum_offset = 16};
	struct floo_vnet_hdr past = {
	    .flags = FLOO_VNET_F_NEEDS_CSUM, .csum_start = 34, .csum_offset = 20};
	struct floo_vnet_hdr early = {
	    .flags = FLOO_VNET_F_NEEDS_CSUM, .csum_start = 20, .csum_offset = 16};
	struct floo_vnet_hdr wrap = {
	    .flags = FLOO_VNET_F_NEEDS_CSUM, .csum_start = 0xffff, .csum_offset = 0xffff};
	uint8_t f[2048];
	uint32_t len;

	len = syn(f, n, 40001, false);
	inject_vnet(n, &gso, f, len); /* never negotiated */
	CHECK(!answered(n) && floo_stats(n->st)->drop_vnet == 1);
	len = syn(f, n, 40002, false);
	inject_vnet(n, &past, f, len); /* sum field at 70..71 of 54 bytes */
	CHECK(!answered(n) && floo_stats(n->st)->drop_vnet == 2);
	len = syn(f, n, 40003, false);
	inject_vnet(n, &early, f, len); /* inside the IP header */
	CHECK(!answered(n) && floo_stats(n->st)->drop_vnet == 3);
	len = syn(f, n, 40004, false);
	inject_vnet(n, &wrap, f, len);
	CHECK(!answered(n) && floo_stats(n->st)->drop_vnet == 4);
	len = syn(f, n, 40005, false);
	past.csum_offset = 16; /* the same header, now in bounds */
	inject_vnet(n, &past, f, len);
	CHECK(answered(n) && floo_stats(n->st)->drop_vnet == 4);
	CHECK_NO_LEAK(n);
	app_fini(&a);
	node_free(n);
}
