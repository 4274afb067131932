/*
 * libFuzzer target: the e1000/e1000e rings (user/drivers/e1000_ring.c)
 * under a script of driver calls and of descriptor write-backs a device
 * may make with any status, error, length and at any slot. Each step is
 * 4 bytes: op, then three arguments.
 *   op % 8 = 0  post a receive buffer
 *            1  device writes receive slot a % 16: status b, errors c, length (b << 8 | c) % 4096
 *            2  rx_get
 *            3  queue a frame of a % 3 + 1 buffers (b & 1: checksum request, offsets c and b)
 *            4  device writes transmit slot a % 16: status b
 *            5  tx_get
 *            6  drain both rings (what the driver does after a fault) and start afresh
 *            7  rx_pending / tx_pending
 * Checked: a buffer returned was lent and not yet returned, its length
 * fits the buffer and the device's buffer size, the ring counts stay
 * within the ring, a fault stops the ring until it is drained, and a
 * drain returns every buffer still lent.
 */
#include <stdlib.h>
#include <string.h>

#include "e1000_ring.h"

#define RSIZE 16
#define NB    40
#define BUFSZ 2048

static uint8_t pool[NB][BUFSZ];
static struct netdev_buf bufs[NB];
static bool lent[NB]; /* to the rx or tx ring */
static struct e1000_rx_desc rxd[RSIZE];
static struct e1000_tx_desc txd[RSIZE];
static struct e1000_rx_ring rx;
static struct e1000_tx_ring tx;

static int free_buf(void)
{
	for (int i = 0; i < NB; i++)
		if (!lent[i])
			return i;
	return -1;
}

static void back(struct netdev_buf *b)
{
	long i = b - bufs;

	if (i < 0 || i >= NB || !lent[i])
		abort(); /* not ours, or returned twice */
	lent[i] = false;
}

static void drain_all(void)
{
	struct netdev_buf *out[NB];
	int n = e1000_rx_drain(&rx, out, NB);

	for (int i = 0; i < n; i++)
		if (!(out[i]->flags & NETDEV_BUF_DROPPED))
			abort();
		else
			back(out[i]);
	n = e1000_tx_drain(&tx, out, NB);
	for (int i = 0; i < n; i++)
		back(out[i]);
	for (int i = 0; i < NB; i++)
		if (lent[i])
			abort(); /* a buffer the drain did not return */
	memset(rxd, 0, sizeof(rxd));
	memset(txd, 0, sizeof(txd));
	e1000_rx_init(&rx, rxd, RSIZE, BUFSZ);
	e1000_tx_init(&tx, txd, RSIZE);
}

static void queue_frame(uint8_t a, uint8_t b, uint8_t c)
{
	struct netdev_buf *f[3];
	int k = a % 3 + 1, idx[3];

	for (int i = 0; i < k; i++) {
		if ((idx[i] = free_buf()) < 0)
			return;
		lent[idx[i]] = true;
		f[i] = &bufs[idx[i]];
		*f[i] = (struct netdev_buf){.data = pool[idx[i]],
		                            .paddr = 0x1000000ull + (uint64_t)idx[i] * BUFSZ,
		                            .cap = BUFSZ,
		                            .len = (uint16_t)(100 + c),
		                            .flags = i < k - 1 ? NETDEV_BUF_MORE : 0};
	}
	if (b & 1)
		f[0]->flags |= NETDEV_BUF_CSUM, f[0]->csum_start = c, f[0]->csum_offset = b >> 4;
	if (e1000_tx_frame(f, k, true) != k || !e1000_tx_add(&tx, f, k, (b & 2) == 0))
		for (int i = 0; i < k; i++)
			lent[idx[i]] = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netdev_buf *out;

	memset(lent, 0, sizeof(lent));
	drain_all();
	for (size_t at = 0; at + 4 <= size; at += 4) {
		uint8_t op = data[at] % 8, a = data[at + 1], b = data[at + 2], c = data[at + 3];
		int i, got;
		switch (op) {
		case 0:
			if ((i = free_buf()) < 0)
				break;
			bufs[i] = (struct netdev_buf){.data = pool[i],
			                              .paddr = 0x1000000ull + (uint64_t)i * BUFSZ,
			                              .cap = BUFSZ};
			if (e1000_rx_add(&rx, &bufs[i]))
				lent[i] = true;
			break;
		case 1:
			rxd[a % RSIZE].status = b, rxd[a % RSIZE].errors = c;
			rxd[a % RSIZE].length = (uint16_t)((b << 8 | c) % 4096);
			break;
		case 2:
			got = rx.fault ? 0 : e1000_rx_get(&rx, &out);
			if (got == 1) {
				if (out->len == 0 || out->len > BUFSZ || out->off != 0)
					abort();
				back(out);
			}
			break;
		case 3:
			if (!tx.fault)
				queue_frame(a, b, c);
			break;
		case 4:
			txd[a % RSIZE].upper = b;
			break;
		case 5:
			got = tx.fault ? 0 : e1000_tx_get(&tx, &out);
			if (got == 1)
				back(out);
			break;
		case 6:
			drain_all();
			break;
		default:
			(void)e1000_rx_pending(&rx), (void)e1000_tx_pending(&tx);
			break;
		}
		if (rx.inflight > RSIZE - 1 || tx.inflight > RSIZE - 1 || rx.next >= RSIZE ||
		    rx.tail >= RSIZE || tx.next >= RSIZE || tx.tail >= RSIZE)
			abort();
	}
	drain_all();
	return 0;
}
