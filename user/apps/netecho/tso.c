/*
 * The TSO check: a minimal TCP client (RFC 793's three-way handshake, then
 * one data segment) whose data segment is a single frame of up to 4 KiB
 * that the device must cut into MSS-sized segments (virtio 1.2 §5.1.6.2).
 * Linux accepting and acknowledging every byte is the proof. Not a TCP
 * stack: no retransmission, no window, one connection.
 */
#include "tso.h"
#include "drivers/drv_env.h"
#include <lib/bytes.h>
#include <lib/string.h>

#define ETH_HLEN   14
#define LOCAL_PORT 40000
#define ISN        0x10000000u
#define MSS        1448
#define WAIT_MS    10000
#define TCP_SYN    0x02
#define TCP_PSH    0x08
#define TCP_ACK    0x10

struct tso_ctx {
	struct netdev *nd;
	struct responder *r;
	struct netdev_buf *pool;
	int npool;
	const struct tso_job *job;
	uint8_t peer_mac[6];
	uint32_t peer_seq;
};

/* The TCP pseudo-header sum (RFC 793) for len bytes of segment, folded, not complemented. */
static uint16_t pseudo_sum(const uint8_t src[4], const uint8_t dst[4], uint32_t len)
{
	uint32_t s = get_be16(src) + get_be16(src + 2) + get_be16(dst) + get_be16(dst + 2) + 6 +
	             (len >> 16) + (len & 0xffff);

	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Ethernet + IPv4 (DF, TTL 64) + TCP header (20 bytes) for a segment of payload bytes; 54 bytes at
 * f. */
static void tcp_headers(struct tso_ctx *x, uint8_t *f, uint8_t flags, uint32_t seq, uint32_t ack,
                        uint32_t payload)
{
	uint8_t *ip = f + ETH_HLEN, *th = ip + 20;

	memcpy(f, x->peer_mac, 6), memcpy(f + 6, x->r->mac, 6), put_be16(f + 12, 0x0800);
	memset(ip, 0, 40);
	ip[0] = 0x45, put_be16(ip + 2, (uint16_t)(40 + payload)), put_be16(ip + 4, 1),
	put_be16(ip + 6, 0x4000);
	ip[8] = 64, ip[9] = 6, memcpy(ip + 12, x->r->ip, 4), memcpy(ip + 16, x->job->peer, 4);
	put_be16(ip + 10, responder_cksum(ip, 20));
	put_be16(th, LOCAL_PORT), put_be16(th + 2, x->job->port), put_be32(th + 4, seq),
	    put_be32(th + 8, ack);
	th[12] = 5 << 4, th[13] = flags, put_be16(th + 14, 65535);
}

/* Send pool[0..k) as one frame and wait until the driver gives all of it back. */
static int send_frame(struct tso_ctx *x, int k)
{
	struct netdev_buf *v[4], *back[16];
	uint64_t end = drv_rdtsc() + drv_ms_to_tsc(WAIT_MS);

	for (int i = 0; i < k; i++)
		v[i] = &x->pool[i];
	if (x->nd->ops->tx(x->nd, v, k) != k)
		return -1;
	for (int got = 0; got < k;) {
		int n = x->nd->ops->tx_reclaim(x->nd, back, 16);
		if (n < 0 || drv_rdtsc() > end)
			return -1;
		got += n;
	}
	return 0;
}

/*
 * Receive until want(x, frame, len) says yes (the buffer is lent again at
 * once); ARP and ping are answered meanwhile, in their own buffers.
 */
static int wait_for(struct tso_ctx *x, bool (*want)(struct tso_ctx *, const uint8_t *, uint16_t))
{
	uint64_t end = drv_rdtsc() + drv_ms_to_tsc(WAIT_MS);
	bool found = false;

	while (!found && drv_rdtsc() < end) {
		struct netdev_buf *in[8], *back[16];
		int n = x->nd->ops->rx_poll(x->nd, in, 8), nb = 0;
		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			uint8_t *f = in[i]->data + in[i]->off;
			uint16_t len, flags = in[i]->flags;
			struct responder_csum cs;
			if (!found && !(flags & (NETDEV_BUF_MORE | NETDEV_BUF_DROPPED)) &&
			    want(x, f, in[i]->len))
				found = true;
			else if (!(flags & (NETDEV_BUF_MORE | NETDEV_BUF_DROPPED)) &&
			         responder_reply(x->r, f, in[i]->len, false, &len, &cs) !=
			             RESP_DROP) {
				in[i]->len = len, in[i]->flags = 0; /* answered from this buffer */
				if (x->nd->ops->tx(x->nd, &in[i], 1) == 1)
					continue;
			}
			back[nb++] = in[i];
		}
		int k = x->nd->ops->tx_reclaim(x->nd, back + nb, 8);
		nb += k > 0 ? k : 0;
		for (int i = 0; i < nb; i++)
			back[i]->off = 0, back[i]->len = 0, back[i]->flags = 0;
		if (nb && x->nd->ops->rx_post(x->nd, back, nb) != nb)
			return -1;
	}
	return found ? 0 : -1;
}

static bool is_arp_reply(struct tso_ctx *x, const uint8_t *f, uint16_t len)
{
	if (len < 42 || get_be16(f + 12) != 0x0806 || get_be16(f + 20) != 2 ||
	    memcmp(f + 28, x->job->peer, 4))
		return false;
	memcpy(x->peer_mac, f + 22, 6);
	return true;
}

/* A TCP segment from the peer's port to ours with flags (all set) acknowledging ack; its seq in x.
 */
static bool is_tcp(struct tso_ctx *x, const uint8_t *f, uint16_t len, uint8_t flags, uint32_t ack)
{
	const uint8_t *ip = f + ETH_HLEN;
	if (len < 54 || get_be16(f + 12) != 0x0800 || ip[9] != 6 ||
	    memcmp(ip + 12, x->job->peer, 4))
		return false;
	const uint8_t *th = ip + (ip[0] & 15) * 4;
	if ((uint32_t)(th - f) + 20 > len || get_be16(th) != x->job->port ||
	    get_be16(th + 2) != LOCAL_PORT || (th[13] & flags) != flags || get_be32(th + 8) != ack)
		return false;
	x->peer_seq = get_be32(th + 4);
	return true;
}

static bool is_syn_ack(struct tso_ctx *x, const uint8_t *f, uint16_t len)
{
	return is_tcp(x, f, len, TCP_SYN | TCP_ACK, ISN + 1);
}

static bool is_data_ack(struct tso_ctx *x, const uint8_t *f, uint16_t len)
{
	return is_tcp(x, f, len, TCP_ACK, ISN + 1 + x->job->bytes);
}

/* ARP request for the peer, then SYN; leaves the peer's MAC and ISN in x. */
static int handshake(struct tso_ctx *x)
{
	uint8_t *f = x->pool[0].data;

	memset(f, 0xff, 6), memcpy(f + 6, x->r->mac, 6), put_be16(f + 12, 0x0806);
	put_be16(f + 14, 1), put_be16(f + 16, 0x0800), f[18] = 6, f[19] = 4, put_be16(f + 20, 1);
	memcpy(f + 22, x->r->mac, 6), memcpy(f + 28, x->r->ip, 4), memset(f + 32, 0, 6);
	memcpy(f + 38, x->job->peer, 4);
	x->pool[0].off = 0, x->pool[0].len = 42, x->pool[0].flags = 0;
	if (send_frame(x, 1) || wait_for(x, is_arp_reply)) {
		rt_printf("netecho: tso: no ARP reply from the peer\n");
		return -1;
	}
	tcp_headers(x, f, TCP_SYN, ISN, 0, 0);
	uint8_t *th =
	    f + ETH_HLEN + 20; /* checksum by the CPU: RFC 1071 over the pseudo-header and header */
	uint32_t s =
	    (uint32_t)pseudo_sum(x->r->ip, x->job->peer, 20) + (uint16_t)~responder_cksum(th, 20);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	put_be16(th + 16, (uint16_t)~s);
	x->pool[0].len = 54, x->pool[0].flags = 0;
	if (send_frame(x, 1) || wait_for(x, is_syn_ack)) {
		rt_printf("netecho: tso: no SYN-ACK from %u.%u.%u.%u:%u\n", x->job->peer[0],
		          x->job->peer[1], x->job->peer[2], x->job->peer[3], x->job->port);
		return -1;
	}
	return 0;
}

int tso_send(struct netdev *nd, struct responder *r, struct netdev_buf *pool, int npool,
             const struct tso_job *job)
{
	struct tso_ctx x = {.nd = nd, .r = r, .pool = pool, .npool = npool, .job = job};
	uint32_t n = job->bytes, half = n / 2;

	if (!(nd->info.offloads & NETDEV_OFF_TSO4) || npool < 4 || n < 2 || n > 2 * pool[1].cap) {
		rt_printf("netecho: tso: %s\n",
		          nd->info.offloads & NETDEV_OFF_TSO4 ? "bad job" : "device has no TSO4");
		return -1;
	}
	if (handshake(&x))
		return -1;
	/* One frame: headers, then the payload in two buffers; the device cuts it at MSS. */
	tcp_headers(&x, pool[0].data, TCP_ACK | TCP_PSH, ISN + 1, x.peer_seq + 1, n);
	put_be16(pool[0].data + ETH_HLEN + 20 + 16, pseudo_sum(r->ip, job->peer, 20 + n));
	pool[0].off = 0, pool[0].len = 54,
	pool[0].flags = NETDEV_BUF_TSO4 | NETDEV_BUF_CSUM | NETDEV_BUF_MORE;
	pool[0].csum_start = ETH_HLEN + 20, pool[0].csum_offset = 16, pool[0].gso_size = MSS;
	for (uint32_t i = 0; i < n; i++) /* the pattern the Linux side checks */
		pool[i < half ? 1 : 2].data[i < half ? i : i - half] = (uint8_t)(i * 7 + 3);
	pool[1].off = 0, pool[1].len = (uint16_t)half, pool[1].flags = NETDEV_BUF_MORE;
	pool[2].off = 0, pool[2].len = (uint16_t)(n - half), pool[2].flags = 0;
	if (send_frame(&x, 3) || wait_for(&x, is_data_ack)) {
		rt_printf("netecho: tso: the %u bytes were not acknowledged\n", n);
		return -1;
	}
	rt_printf("netecho: tso: %u bytes sent as one %u-byte frame (gso_size %u, 3 buffers), all "
	          "acknowledged "
	          "by %u.%u.%u.%u:%u\n",
	          n, n + 54, MSS, job->peer[0], job->peer[1], job->peer[2], job->peer[3],
	          job->port);
	return 0;
}
