/*
 * e1000/e1000e descriptor rings (user/drivers/e1000_ring.c) against a fake
 * device that does what the 8254x manual says a device does with them
 * (fills posted receive buffers in order and sets DD|EOP; sends transmit
 * descriptors up to the tail, applying the last context's checksum, and
 * sets DD where RS is set), and against one that breaks the rules.
 */
#include <stdlib.h>
#include <string.h>

#include "ktharness.h"
#include "e1000_ring.h"

#define NB      24
#define BUFSZ   2048
#define PA_BASE 0x40000000ull
#define RSIZE   16

struct fake {
	struct e1000_rx_desc rxd[RSIZE];
	struct e1000_tx_desc txd[RSIZE];
	uint16_t rdh, tdh;
	uint8_t css, cso; /* the context the device holds */
	uint8_t out[RSIZE][BUFSZ];
	uint16_t out_len[RSIZE];
	int nout;
};

static uint8_t pool[NB][BUFSZ];
static struct netdev_buf bufs[NB];
static struct fake dev;
static struct e1000_rx_ring rx;
static struct e1000_tx_ring tx;

static void setup(void)
{
	memset(&dev, 0, sizeof(dev));
	for (int i = 0; i < NB; i++)
		bufs[i] = (struct netdev_buf){
		    .data = pool[i], .paddr = PA_BASE + (uint64_t)i * BUFSZ, .cap = BUFSZ};
	CHECK_MSG(e1000_rx_init(&rx, dev.rxd, RSIZE, BUFSZ));
	CHECK_MSG(e1000_tx_init(&tx, dev.txd, RSIZE));
}

static uint8_t *dma(uint64_t pa)
{
	uint64_t i = (pa - PA_BASE) / BUFSZ;

	return i < NB ? pool[i] + (pa - PA_BASE) % BUFSZ : NULL;
}

/* The device receives a frame of len bytes (pattern seed) into the next posted buffer. */
static bool dev_receive(uint16_t len, uint8_t seed, uint8_t status, uint8_t errors)
{
	if (dev.rdh == rx.tail)
		return false; /* no buffer: RDH == RDT */
	struct e1000_rx_desc *d = &dev.rxd[dev.rdh];
	uint8_t *p = dma(d->addr);
	for (uint16_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i);
	d->length = len, d->errors = errors;
	d->status = (uint8_t)(E1000_RXD_DD | E1000_RXD_EOP | status);
	dev.rdh = (uint16_t)((dev.rdh + 1) % RSIZE);
	return true;
}

/* The device sends every descriptor up to the tail (TDT). */
static void dev_transmit(void)
{
	static uint8_t frame[4096];
	uint32_t flen = 0;
	bool sum = false;

	while (dev.tdh != tx.tail) {
		struct e1000_tx_desc *d = &dev.txd[dev.tdh];
		if (!(d->lower & E1000_TXD_DTYP_D)) { /* context */
			dev.css = (uint8_t)(d->addr >> 32), dev.cso = (uint8_t)(d->addr >> 40);
		} else {
			uint32_t len = d->lower & 0xfffff;
			memcpy(frame + flen, dma(d->addr), len);
			flen += len;
			sum |= (d->upper & E1000_TXD_POPTS_TXSM) != 0;
			if (d->lower & E1000_TXD_CMD_EOP) {
				if (sum) {
					uint32_t s = 0;
					for (uint32_t i = dev.css; i < flen; i++)
						s += (uint32_t)frame[i]
						     << ((i - dev.css) & 1 ? 0 : 8);
					while (s >> 16)
						s = (s & 0xffff) + (s >> 16);
					frame[dev.cso] = (uint8_t)(~s >> 8),
					frame[dev.cso + 1] = (uint8_t)~s;
				}
				memcpy(dev.out[dev.nout], frame, flen);
				dev.out_len[dev.nout++] = (uint16_t)flen;
				flen = 0, sum = false;
			}
		}
		if (d->lower & E1000_TXD_CMD_RS)
			d->upper |= E1000_TXD_STA_DD;
		dev.tdh = (uint16_t)((dev.tdh + 1) % RSIZE);
	}
}

static void post(int first, int n)
{
	for (int i = first; i < first + n; i++)
		CHECK_MSG(e1000_rx_add(&rx, &bufs[i]), "buffer %d", i);
}

KT_CASE(e1000_rx_in_order_and_wraps)
{
	struct netdev_buf *b;

	setup();
	post(0, RSIZE - 1);
	CHECK_MSG(!e1000_rx_add(&rx, &bufs[RSIZE - 1]), "a ring of 16 holds 15");
	CHECK_MSG(e1000_rx_get(&rx, &b) == 0 && !e1000_rx_pending(&rx));
	for (int f = 0; f < 5 * RSIZE; f++) { /* the ring wraps five times */
		CHECK_MSG(dev_receive((uint16_t)(60 + f), (uint8_t)f, 0, 0));
		CHECK_MSG(e1000_rx_pending(&rx));
		CHECK_MSG(e1000_rx_get(&rx, &b) == 1);
		CHECK_MSG(b == &bufs[f % (RSIZE - 1)], "frame %d in buffer %ld", f,
		          (long)(b - bufs));
		CHECK_MSG(b->off == 0 && b->len == 60 + f && b->flags == 0);
		CHECK_MSG(b->data[0] == (uint8_t)f && b->data[59] == (uint8_t)(f + 59));
		CHECK_MSG(e1000_rx_add(&rx, b));
	}
	CHECK_MSG(rx.inflight == RSIZE - 1 && rx.fault == E1000_FAULT_NONE);
}

KT_CASE(e1000_rx_small_buffer_refused)
{
	setup();
	bufs[0].cap = BUFSZ - 1;
	CHECK_MSG(!e1000_rx_add(&rx, &bufs[0]) && rx.inflight == 0);
}

KT_CASE(e1000_rx_checksum_status)
{
	struct netdev_buf *b;

	setup();
	post(0, 4);
	dev_receive(60, 0, E1000_RXD_TCPCS | E1000_RXD_IPCS, 0);
	dev_receive(60, 0, E1000_RXD_TCPCS | E1000_RXD_IPCS, E1000_RXE_TCPE);
	dev_receive(60, 0, E1000_RXD_IXSM | E1000_RXD_TCPCS, 0);
	dev_receive(60, 0, E1000_RXD_IPCS, 0); /* not TCP or UDP: nothing said about L4 */
	CHECK_MSG(e1000_rx_get(&rx, &b) == 1 && b->flags == NETDEV_BUF_CSUM_VALID);
	CHECK_MSG(e1000_rx_get(&rx, &b) == 1 && b->flags == 0, "bad L4 sum: left to the stack");
	CHECK_MSG(e1000_rx_get(&rx, &b) == 1 && b->flags == 0, "IXSM: ignore");
	CHECK_MSG(e1000_rx_get(&rx, &b) == 1 && b->flags == 0);
}

KT_CASE(e1000_rx_damaged_frame_reposted)
{
	struct netdev_buf *b;

	setup();
	post(0, 2);
	dev_receive(60, 1, 0, E1000_RXE_CE);
	dev_receive(70, 2, 0, 0);
	CHECK_MSG(e1000_rx_get(&rx, &b) == 1 && b == &bufs[1] && b->len == 70);
	CHECK_MSG(rx.bad_frames == 1 && rx.inflight == 1 &&
	              rx.buf[(rx.tail + RSIZE - 1) % RSIZE] == &bufs[0],
	          "the damaged frame's buffer is posted again");
	dev_receive(80, 3, 0, 0);
	CHECK_MSG(e1000_rx_get(&rx, &b) == 1 && b == &bufs[0] && b->len == 80);
}

/* Every posted buffer comes back from drain, dropped, and the ring is empty. */
static void drained(int posted)
{
	struct netdev_buf *out[NB];
	int n = e1000_rx_drain(&rx, out, NB);

	CHECK_MSG(n == posted, "%d of %d back", n, posted);
	for (int i = 0; i < n; i++)
		CHECK_MSG(out[i]->flags == NETDEV_BUF_DROPPED && out[i]->len == 0);
	CHECK_MSG(rx.inflight == 0 && e1000_rx_drain(&rx, out, NB) == 0);
}

KT_CASE(e1000_rx_fault_stray_done)
{
	struct netdev_buf *b;

	setup();
	post(0, 4);
	dev.rxd[rx.tail].status = E1000_RXD_DD | E1000_RXD_EOP; /* a slot never posted */
	CHECK_MSG(e1000_rx_pending(&rx), "pending: the poll must see it");
	CHECK_MSG(e1000_rx_get(&rx, &b) == -1 && rx.fault == E1000_FAULT_RX_STRAY);
	drained(4);
	setup(); /* on an empty ring too */
	dev.rxd[0].status = E1000_RXD_DD;
	CHECK_MSG(e1000_rx_get(&rx, &b) == -1 && rx.fault == E1000_FAULT_RX_STRAY);
}

KT_CASE(e1000_rx_fault_lengths)
{
	struct netdev_buf *b;

	setup();
	post(0, 3);
	dev_receive(60, 0, 0, 0);
	dev.rxd[0].length = BUFSZ + 1;
	CHECK_MSG(e1000_rx_get(&rx, &b) == -1 && rx.fault == E1000_FAULT_RX_LENGTH);
	drained(3);
	setup();
	post(0, 3);
	dev_receive(60, 0, 0, 0);
	dev.rxd[0].length = 0;
	CHECK_MSG(e1000_rx_get(&rx, &b) == -1 && rx.fault == E1000_FAULT_RX_LENGTH);
	drained(3);
	setup();
	post(0, 3);
	dev_receive(60, 0, 0, 0);
	dev.rxd[0].status = E1000_RXD_DD; /* no EOP */
	CHECK_MSG(e1000_rx_get(&rx, &b) == -1 && rx.fault == E1000_FAULT_RX_NO_EOP);
	drained(3);
}

KT_CASE(e1000_rx_good_frames_before_a_fault_kept)
{
	struct netdev_buf *b;

	setup();
	post(0, 4);
	dev_receive(60, 0, 0, 0);
	dev_receive(60, 0, 0, 0);
	dev.rxd[1].length = 9000;
	CHECK_MSG(e1000_rx_get(&rx, &b) == 1 && b == &bufs[0]);
	CHECK_MSG(e1000_rx_get(&rx, &b) == -1);
	drained(3);
}

static struct netdev_buf *frame(int i, uint16_t len, uint8_t seed)
{
	for (uint16_t j = 0; j < len; j++)
		pool[i][j] = (uint8_t)(seed + j);
	bufs[i].off = 0, bufs[i].len = len, bufs[i].flags = 0;
	return &bufs[i];
}

KT_CASE(e1000_tx_frames_and_reclaim)
{
	struct netdev_buf *f[3], *out;

	setup();
	f[0] = frame(0, 60, 1);
	CHECK_MSG(e1000_tx_frame(f, 1, true) == 1 && e1000_tx_add(&tx, f, 1, true));
	f[0] = frame(1, 14, 10), f[1] = frame(2, 100, 30), f[2] = frame(3, 1400, 50);
	f[0]->flags = f[1]->flags = NETDEV_BUF_MORE;
	f[1]->off = 4, f[1]->len = 96; /* a segment not at its buffer's start */
	CHECK_MSG(e1000_tx_frame(f, 3, true) == 3 && e1000_tx_add(&tx, f, 3, true));
	CHECK_MSG(!e1000_tx_pending(&tx) && e1000_tx_get(&tx, &out) == 0, "nothing sent yet");
	dev_transmit();
	CHECK_MSG(dev.nout == 2 && dev.out_len[0] == 60 && dev.out_len[1] == 14 + 96 + 1400);
	CHECK_MSG(!memcmp(dev.out[0], pool[0], 60));
	CHECK_MSG(!memcmp(dev.out[1] + 14, pool[2] + 4, 96) &&
	          !memcmp(dev.out[1] + 110, pool[3], 1400));
	CHECK_MSG(e1000_tx_pending(&tx));
	for (int i = 0; i < 4; i++)
		CHECK_MSG(e1000_tx_get(&tx, &out) == 1 && out == &bufs[i],
		          "buffer %d back in order", i);
	CHECK_MSG(e1000_tx_get(&tx, &out) == 0 && tx.inflight == 0);
}

KT_CASE(e1000_tx_ring_full)
{
	struct netdev_buf *f[1], *out;
	int sent = 0;

	setup();
	for (int i = 0; i < RSIZE; i++) {
		f[0] = frame(i, 60, 0);
		sent += e1000_tx_add(&tx, f, 1, true);
	}
	CHECK_MSG(sent == RSIZE - 1 && tx.inflight == RSIZE - 1, "15 descriptors in a ring of 16");
	dev_transmit();
	int back = 0;
	while (e1000_tx_get(&tx, &out) == 1)
		back++;
	CHECK_MSG(back == RSIZE - 1);
}

/* A TCP/IPv4 frame of len bytes with its checksum field seeded 0. */
static struct netdev_buf *tcp_frame(int i, uint16_t len)
{
	struct netdev_buf *b = frame(i, len, 7);

	b->data[12] = 0x08, b->data[13] = 0x00, b->data[14] = 0x45, b->data[23] = 6;
	b->data[14 + 20 + 16] = 0, b->data[14 + 20 + 17] = 0;
	b->flags = NETDEV_BUF_CSUM, b->csum_start = 34, b->csum_offset = 16;
	return b;
}

static bool sum_ok(const uint8_t *p, uint32_t from, uint32_t to)
{
	uint32_t s = 0;

	for (uint32_t i = from; i < to; i++)
		s += (uint32_t)p[i] << ((i - from) & 1 ? 0 : 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff;
}

KT_CASE(e1000_tx_checksum_context)
{
	struct netdev_buf *f[1], *out;

	setup();
	f[0] = tcp_frame(0, 200);
	CHECK_MSG(e1000_tx_need(&tx, f, 1, true) == 2, "a context descriptor first");
	CHECK_MSG(e1000_tx_add(&tx, f, 1, true));
	f[0] = tcp_frame(1, 300);
	CHECK_MSG(e1000_tx_need(&tx, f, 1, true) == 1, "the same context: not again");
	CHECK_MSG(e1000_tx_add(&tx, f, 1, true));
	f[0] = frame(2, 100, 3);
	f[0]->flags = NETDEV_BUF_CSUM, f[0]->csum_start = 20, f[0]->csum_offset = 4;
	f[0]->data[24] = f[0]->data[25] = 0; /* the seed: 0 here, so the sum verifies to 0xffff */
	CHECK_MSG(e1000_tx_need(&tx, f, 1, true) == 2 && e1000_tx_add(&tx, f, 1, true));
	f[0] = tcp_frame(3, 100);                     /* summed by the CPU: no context, no TXSM */
	f[0]->data[50] = 0x12, f[0]->data[51] = 0x34; /* a seed */
	CHECK_MSG(e1000_tx_need(&tx, f, 1, false) == 1 && e1000_tx_add(&tx, f, 1, false));
	CHECK_MSG(dev.txd[5].upper == 0, "no TXSM");
	CHECK_MSG(tx.inflight == 6);
	dev_transmit();
	CHECK_MSG(dev.nout == 4);
	CHECK_MSG(sum_ok(dev.out[0], 34, 200) && sum_ok(dev.out[1], 34, 300) &&
	          sum_ok(dev.out[2], 20, 100));
	CHECK_MSG(dev.out[3][50] != 0x12 || dev.out[3][51] != 0x34, "the CPU's sum went out");
	dev.out[3][50] = 0x12, dev.out[3][51] = 0x34; /* check it against the seed: */
	uint32_t sum = 0;
	for (int i = 34; i < 100; i++)
		sum += (uint32_t)dev.out[3][i] << ((i - 34) & 1 ? 0 : 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	CHECK_MSG(pool[3][50] == (uint8_t)(~sum >> 8) && pool[3][51] == (uint8_t)~sum,
	          "sent frame carries ~sum(seeded)");
	int back = 0;
	while (e1000_tx_get(&tx, &out) == 1)
		back++;
	CHECK_MSG(back == 4 && tx.inflight == 0, "context descriptors are not buffers");
	CHECK_MSG(pool[3][50] == 0x12 && pool[3][51] == 0x34,
	          "the seed is back once the buffer is");
}

KT_CASE(e1000_tx_frame_checks)
{
	struct netdev_buf *f[E1000_MAX_SEGS + 1];

	setup();
	for (int i = 0; i <= E1000_MAX_SEGS; i++) {
		f[i] = frame(i, 100, 0);
		f[i]->flags = NETDEV_BUF_MORE;
	}
	CHECK_MSG(e1000_tx_frame(f, E1000_MAX_SEGS + 1, true) == NETDEV_ERR_INVALID, "9 segments");
	f[E1000_MAX_SEGS - 1]->flags = 0;
	CHECK_MSG(e1000_tx_frame(f, E1000_MAX_SEGS + 1, true) == E1000_MAX_SEGS);
	CHECK_MSG(e1000_tx_frame(f, 3, true) == NETDEV_ERR_INVALID, "no end within n");
	f[0] = frame(0, 1515, 0);
	CHECK_MSG(e1000_tx_frame(f, 1, true) == NETDEV_ERR_INVALID, "over 1514 bytes");
	f[0] = frame(0, 0, 0);
	CHECK_MSG(e1000_tx_frame(f, 1, true) == NETDEV_ERR_INVALID, "empty");
	f[0] = frame(0, 100, 0);
	f[0]->off = BUFSZ - 50;
	CHECK_MSG(e1000_tx_frame(f, 1, true) == NETDEV_ERR_INVALID, "past its buffer");
	f[0] = tcp_frame(0, 100);
	CHECK_MSG(e1000_tx_frame(f, 1, false) == NETDEV_ERR_INVALID, "checksum without offload");
	CHECK_MSG(e1000_tx_frame(f, 1, true) == 1);
	f[0]->csum_offset = 70;
	CHECK_MSG(e1000_tx_frame(f, 1, true) == NETDEV_ERR_INVALID, "field past the frame");
	f[0] = tcp_frame(0, 1000);
	f[0]->csum_start = 250, f[0]->csum_offset = 6;
	CHECK_MSG(e1000_tx_frame(f, 1, true) == NETDEV_ERR_INVALID, "field past byte 255");
	f[0]->flags = NETDEV_BUF_TSO4 | NETDEV_BUF_CSUM, f[0]->csum_start = 34,
	f[0]->csum_offset = 16;
	CHECK_MSG(e1000_tx_frame(f, 1, true) == NETDEV_ERR_INVALID, "no TSO");
}

KT_CASE(e1000_tx_fault_stray_done)
{
	struct netdev_buf *f[1], *out[NB];

	setup();
	for (int i = 0; i < 3; i++) {
		f[0] = frame(i, 60, 0);
		CHECK_MSG(e1000_tx_add(&tx, f, 1, true));
	}
	dev.txd[tx.tail].upper = E1000_TXD_STA_DD;
	CHECK_MSG(e1000_tx_pending(&tx));
	CHECK_MSG(e1000_tx_get(&tx, &out[0]) == -1 && tx.fault == E1000_FAULT_TX_STRAY);
	int n = e1000_tx_drain(&tx, out, NB);
	CHECK_MSG(n == 3 && tx.inflight == 0);
	for (int i = 0; i < n; i++)
		CHECK_MSG(out[i] == &bufs[i] && (out[i]->flags & NETDEV_BUF_DROPPED));
	CHECK_MSG(e1000_tx_get(&tx, &out[0]) == 0, "the stray DD cleared by the drain");
}

KT_CASE(e1000_soft_csum_across_segments)
{
	struct netdev_buf *f[3];
	uint8_t whole[400];

	setup();
	f[0] = tcp_frame(0, 41); /* odd split inside the TCP header */
	f[1] = frame(1, 77, 90);
	f[2] = frame(2, 200, 20);
	f[0]->flags |= NETDEV_BUF_MORE, f[1]->flags = NETDEV_BUF_MORE;
	pool[1][9] = pool[1][10] = 0; /* the field (50-51) in the second buffer, seed 0 */
	e1000_soft_csum(f, 3);
	memcpy(whole, pool[0], 41), memcpy(whole + 41, pool[1], 77),
	    memcpy(whole + 118, pool[2], 200);
	CHECK_MSG(sum_ok(whole, 34, 318));
	f[0] = tcp_frame(0, 51); /* the field split between two buffers */
	f[1] = frame(1, 100, 5);
	f[0]->flags |= NETDEV_BUF_MORE;
	pool[1][0] = 0; /* the field's second byte */
	e1000_soft_csum(f, 2);
	memcpy(whole, pool[0], 51), memcpy(whole + 51, pool[1], 100);
	CHECK_MSG(sum_ok(whole, 34, 151));
}

KT_CASE(e1000_csum_l4_hw_recognises_tcp_udp)
{
	struct netdev_buf *f[1];

	setup();
	f[0] = tcp_frame(0, 100);
	CHECK_MSG(e1000_csum_l4_hw(f, 1), "TCP/IPv4");
	f[0]->data[23] = 17, f[0]->csum_offset = 6;
	CHECK_MSG(e1000_csum_l4_hw(f, 1), "UDP/IPv4");
	f[0]->data[23] = 1, f[0]->csum_offset = 2;
	CHECK_MSG(!e1000_csum_l4_hw(f, 1), "ICMP: summed by the driver");
	f[0]->data[23] = 6, f[0]->csum_offset = 6;
	CHECK_MSG(!e1000_csum_l4_hw(f, 1), "TCP with another field");
	f[0]->csum_offset = 16, f[0]->data[14] = 0x46; /* IP options: L4 at 38 */
	CHECK_MSG(!e1000_csum_l4_hw(f, 1));
	f[0]->csum_start = 38;
	CHECK_MSG(e1000_csum_l4_hw(f, 1));
	f[0] = frame(0, 100, 0);
	f[0]->data[12] = 0x86, f[0]->data[13] = 0xdd, f[0]->data[20] = 17;
	f[0]->flags = NETDEV_BUF_CSUM, f[0]->csum_start = 54, f[0]->csum_offset = 6;
	CHECK_MSG(e1000_csum_l4_hw(f, 1), "UDP/IPv6");
	f[0]->data[13] = 0xde;
	CHECK_MSG(!e1000_csum_l4_hw(f, 1), "not IP");
}
