/* The recording application used by the TCP tests. */
#include "harness.h"

void app_init(struct app *a, uint32_t cap)
{
	memset(a, 0, sizeof(*a));
	a->rx = malloc(cap ? cap : 1);
	a->rx_cap = cap;
}

void app_fini(struct app *a)
{
	free(a->rx);
}

void app_release_all(struct app *a)
{
	for (int i = 0; i < a->nheld; i++)
		floo_tcp_release(floo_tcp_stack(a->c), a->held[i]);
	a->nheld = 0;
}

static void app_data(struct app *a, struct floo_tcp *c, struct floo_pbuf *pb)
{
	uint32_t n = pb->len;

	if (a->rx_len + n <= a->rx_cap)
		memcpy(a->rx + a->rx_len, pb->data, n);
	a->rx_len += n;
	if (a->abort_on_data) {
		floo_tcp_release(floo_tcp_stack(c), pb);
		floo_tcp_abort(c);
		return;
	}
	if (a->echo) {
		if (a->nheld || floo_tcp_send(c, pb->data, pb->len, pb) < 0)
			a->held[a->nheld++] = pb; /* wait for a send slot */
		return;
	}
	if (a->hold && a->nheld < 512)
		a->held[a->nheld++] = pb;
	else
		floo_tcp_release(floo_tcp_stack(c), pb);
}

void app_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct app *a = user;

	switch (ev->type) {
	case FLOO_TCP_ACCEPTED:
		a->accepted++;
		a->c = c;
		break;
	case FLOO_TCP_CONNECTED:
		a->connected++;
		a->c = c;
		break;
	case FLOO_TCP_DATA:
		app_data(a, c, ev->pb);
		break;
	case FLOO_TCP_SENT:
		a->sent++;
		if (a->echo && ev->cookie)
			floo_tcp_release(floo_tcp_stack(c), ev->cookie);
		while (a->echo && a->nheld &&
		       floo_tcp_send(c, a->held[0]->data, a->held[0]->len, a->held[0]) == 0) {
			a->nheld--;
			/* an array of pointers. NOLINTNEXTLINE(bugprone-sizeof-expression) */
			memmove(a->held, a->held + 1, a->nheld * sizeof(a->held[0]));
		}
		break;
	case FLOO_TCP_PEER_FIN:
		a->peer_fin++;
		if (a->close_on_fin)
			floo_tcp_close(c);
		break;
	case FLOO_TCP_CLOSED:
		if (a->echo)
			app_release_all(a);
		a->closed++;
		a->close_err = ev->err;
		break;
	}
}

bool frame_tcp(const uint8_t *f, uint32_t len, uint32_t *seq, uint32_t *plen, uint8_t *flags)
{
	const uint8_t *ip = f + 14, *t;
	uint32_t ihl, tot, thl;

	if (len < 54 || get_be16(f + 12) != 0x0800 || ip[9] != 6)
		return false;
	ihl = (uint32_t)(ip[0] & 15) * 4;
	tot = get_be16(ip + 2);
	t = ip + ihl;
	thl = (uint32_t)(t[12] >> 4) * 4;
	*seq = get_be32(t + 4);
	*plen = tot - ihl - thl;
	*flags = t[13];
	return true;
}
