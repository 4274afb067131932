/* DHCP client tests against a scripted server. */
#include "harness.h"

#define SRV IP(10, 0, 0, 254)

static const uint8_t bmac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static const uint8_t *bcast_mac(void)
{
	return bmac;
}

/* Take the client's next message: returns its DHCP type, fills xid. */
static int client_msg(struct node *n, uint32_t *xid, uint32_t *req_ip)
{
	uint8_t f[2048];
	uint32_t len = take(n, f);
	const uint8_t *d = f + 42, *o;

	*req_ip = 0;
	if (!len || f[23] != 17 || get_be16(f + 36) != 67)
		return -1;
	*xid = get_be32(d + 4);
	for (o = d + 240; o < f + len && *o != 255;) {
		if (*o == 0) {
			o++;
			continue;
		}
		if (o[0] == 50)
			*req_ip = get_be32(o + 2);
		if (o[0] == 53) {
			int t = o[2];

			for (o += 2 + o[1]; o < f + len && *o != 255; o += 2 + o[1])
				if (o[0] == 50)
					*req_ip = get_be32(o + 2);
			return t;
		}
		o += 2 + o[1];
	}
	return -1;
}

/* Send a BOOTREPLY of type t offering yiaddr. */
static void server_reply(struct node *n, uint32_t xid, uint8_t t, uint32_t yiaddr, uint32_t lease)
{
	uint8_t m[300] = {0}, f[2048], *o = m + 240;

	m[0] = 2;
	m[1] = 1;
	m[2] = 6;
	put_be32(m + 4, xid);
	put_be32(m + 16, yiaddr);
	memcpy(m + 28, n->mac, 6);
	put_be32(m + 236, 0x63825363);
	*o++ = 53, *o++ = 1, *o++ = t;
	*o++ = 54, *o++ = 4, put_be32(o, SRV), o += 4;
	*o++ = 1, *o++ = 4, put_be32(o, 0xffffff00u), o += 4;
	*o++ = 3, *o++ = 4, put_be32(o, SRV), o += 4;
	*o++ = 51, *o++ = 4, put_be32(o, lease), o += 4;
	*o++ = 255;
	inject(n, f, build_udp(f, bcast_mac(), SRV, 0xffffffffu, 67, 68, m, 300));
}

KT_CASE(dhcp_discover_offer_request_ack_and_renew)
{
	struct node *n = node_new(NULL, 0, 1);
	uint32_t xid = 0, req = 0;

	floo_dhcp_start(n->st);
	floo_tx_flush(n->st);
	CHECK(client_msg(n, &xid, &req) == 1);              /* DISCOVER */
	server_reply(n, xid + 1, 2, IP(10, 0, 0, 50), 100); /* wrong xid */
	CHECK(n->txq.n == 0);
	server_reply(n, xid, 2, IP(10, 0, 0, 50), 100); /* OFFER */
	CHECK(client_msg(n, &xid, &req) == 3 && req == IP(10, 0, 0, 50));
	CHECK(!floo_dhcp_bound(n->st));
	server_reply(n, xid, 5, IP(10, 0, 0, 50), 100); /* ACK */
	CHECK(floo_dhcp_bound(n->st) && floo_get_ipv4(n->st) == IP(10, 0, 0, 50));
	CHECK(n->st->gw == SRV && n->st->mask == 0xffffff00u);
	drain(n);
	arp_learn(n->st, SRV, (uint8_t[]){2, 0, 0, 0, 0, 0x54}, true);
	run_step(n, NULL, 51000, 5000); /* T1 = 50 s: unicast renewal */
	CHECK(client_msg(n, &xid, &req) == 3);
	server_reply(n, xid, 5, IP(10, 0, 0, 50), 100);
	CHECK(floo_dhcp_bound(n->st));
	server_reply(n, xid, 6, 0, 0); /* NAK: start over */
	CHECK(floo_get_ipv4(n->st) == 0 && !floo_dhcp_bound(n->st));
	CHECK_NO_LEAK(n);
	node_free(n);
}

KT_CASE(dhcp_malformed_options_ignored)
{
	struct node *n = node_new(NULL, 0, 1);
	uint8_t m[300] = {0}, f[2048];
	uint32_t xid = 0, req = 0;

	floo_dhcp_start(n->st);
	floo_tx_flush(n->st);
	CHECK(client_msg(n, &xid, &req) == 1);
	m[0] = 2;
	put_be32(m + 4, xid);
	memcpy(m + 28, n->mac, 6);
	put_be32(m + 236, 0x63825363);
	m[240] = 53;
	m[241] = 200; /* runs past the end */
	inject(n, f, build_udp(f, bmac, SRV, 0xffffffffu, 67, 68, m, 300));
	CHECK(n->txq.n == 0 && !floo_dhcp_bound(n->st));
	inject(n, f, build_udp(f, bmac, SRV, 0xffffffffu, 67, 68, m, 100)); /* short */
	CHECK(n->txq.n == 0);
	CHECK_NO_LEAK(n);
	node_free(n);
}
