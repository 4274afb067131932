/* TCP echo and discard on Floo's event API (floo/floo_services.h). */
#include "floo/floo_services.h"

/* Per-connection echo state: received buffers waiting for a send slot. */
struct echo_conn {
	struct floo_svc *svc;
	struct floo_pbuf *wait_head, *wait_tail;
	bool fin;
};

/* Queue waiting buffers back to the peer while send slots last; close after the peer's FIN. */
static void echo_drain(struct floo_tcp *c, struct echo_conn *e)
{
	while (e->wait_head && floo_tcp_send_slots(c) > 0) {
		struct floo_pbuf *pb = e->wait_head;

		e->wait_head = pb->next;
		if (!e->wait_head)
			e->wait_tail = NULL;
		if (floo_tcp_send(c, pb->data, pb->len, pb) < 0) {
			floo_tcp_release(floo_tcp_stack(c), pb);
			floo_tcp_abort(c);
			return;
		}
		e->svc->echo_bytes += pb->len;
	}
	if (e->fin && !e->wait_head)
		floo_tcp_close(c);
}

/* Hand back every buffer still waiting, then the state itself. */
static void echo_free(struct floo_stack *st, struct echo_conn *e)
{
	while (e->wait_head) {
		struct floo_pbuf *pb = e->wait_head;

		e->wait_head = pb->next;
		floo_tcp_release(st, pb);
	}
	e->svc->free(e);
}

/* TCP echo: each DATA buffer is queued back by reference and released once acknowledged. */
static void echo_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct echo_conn *e = user;
	struct floo_svc *svc = user;

	switch (ev->type) {
	case FLOO_TCP_ACCEPTED:
		svc->echo_conns++;
		if (!(e = svc->alloc(sizeof(*e)))) {
			svc->no_memory++;
			floo_tcp_set_user(c, NULL, NULL); /* no more events: nothing to free */
			floo_tcp_abort(c);
			return;
		}
		e->svc = svc;
		floo_tcp_set_user(c, echo_cb, e);
		break;
	case FLOO_TCP_DATA:
		ev->pb->next = NULL;
		if (e->wait_tail)
			e->wait_tail->next = ev->pb;
		else
			e->wait_head = ev->pb;
		e->wait_tail = ev->pb;
		echo_drain(c, e);
		break;
	case FLOO_TCP_SENT:
		floo_tcp_release(floo_tcp_stack(c), ev->cookie);
		echo_drain(c, e);
		break;
	case FLOO_TCP_PEER_FIN:
		e->fin = true;
		echo_drain(c, e);
		break;
	case FLOO_TCP_CLOSED:
		echo_free(floo_tcp_stack(c), e);
		break;
	default:
		break;
	}
}

/* TCP discard: release everything at once, close after the peer's FIN. */
static void discard_cb(struct floo_tcp *c, void *user, const struct floo_tcp_event *ev)
{
	struct floo_svc *svc = user;

	if (ev->type == FLOO_TCP_ACCEPTED) {
		svc->discard_conns++;
	} else if (ev->type == FLOO_TCP_DATA) {
		svc->discard_bytes += ev->pb->len;
		floo_tcp_release(floo_tcp_stack(c), ev->pb);
	} else if (ev->type == FLOO_TCP_PEER_FIN) {
		floo_tcp_close(c);
	}
}

int floo_svc_echo_start(struct floo_stack *st, struct floo_svc *svc, uint16_t port)
{
	if (!svc->alloc || !svc->free)
		return FLOO_EINVAL;
	return floo_tcp_listen(st, port, echo_cb, svc);
}

int floo_svc_discard_start(struct floo_stack *st, struct floo_svc *svc, uint16_t port)
{
	return floo_tcp_listen(st, port, discard_cb, svc);
}
