/* Packet buffer pool: fixed-size buffers carved from the stack's region. */
#include "floo_internal.h"

/* Take a buffer from the pool with FLOO_PBUF_HEADROOM bytes reserved in
 * front; NULL when the pool is empty (counted as drop_nobuf by callers). */
struct floo_pbuf *floo_pbuf_alloc(struct floo_stack *st)
{
	struct floo_pbuf *pb = st->pb_free;

	if (!pb)
		return NULL;
	st->pb_free = pb->next;
	st->pb_nfree--;
	pb->next = NULL;
	pb->data = pb->base + FLOO_PBUF_HEADROOM;
	pb->len = 0;
	pb->seq = 0;
	pb->flags = 0;
	pb->owner = 0;
	pb->owner_gen = 0;
	pb->frag = NULL;
	return pb;
}

/* Bytes of pb and the buffers chained to it (receive coalescing). */
uint32_t floo_pbuf_chain_len(const struct floo_pbuf *pb)
{
	uint32_t n = 0;

	for (; pb; pb = pb->frag)
		n += pb->len;
	return n;
}

/* Return a buffer to the pool. NULL is ignored. */
void floo_pbuf_free(struct floo_stack *st, struct floo_pbuf *pb)
{
	while (pb) { /* with the buffers chained to it (a coalesced frame) */
		struct floo_pbuf *more = pb->frag;

		pb->frag = NULL;
		if (pb->flags & FLOO_PB_INPOOL) {
			/* A double free would corrupt the pool: refuse it loudly. */
			floo_log(st, FLOO_LOG_ERR, "pbuf_double_free", 0);
			return;
		}
		pb->flags = FLOO_PB_INPOOL;
		pb->next = st->pb_free;
		pb->owner = 0;
		st->pb_free = pb;
		st->pb_nfree++;
		pb = more;
	}
}

uint32_t floo_pbuf_free_count(const struct floo_stack *st)
{
	return st->pb_nfree;
}

uint32_t floo_config_pbufs(const struct floo_stack *st)
{
	return st->cfg.n_pbufs;
}

uint32_t floo_pbuf_size(const struct floo_stack *st)
{
	return st->cfg.pbuf_size;
}
