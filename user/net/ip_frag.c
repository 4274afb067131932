/*
 * IPv4 fragment reassembly with bounded memory: cfg.n_frag slots of 64 KiB
 * each, a bitmap of 8-byte units per slot, 30 s lifetime, oldest slot
 * evicted when all are busy. Exact duplicates are ignored; any other
 * overlap discards the whole datagram (overlaps are only ever an attack or
 * a broken sender; accepting them invites ambiguity, cf. RFC 5722).
 */
#include "floo_internal.h"

#define FRAG_UNITS   (FLOO_FRAG_BYTES / 8)
#define FRAG_LIFE_NS (30ull * 1000000000ull)

struct ip_frag_slot {
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	uint8_t used;
	uint8_t have_first;
	uint32_t total; /* payload bytes, known once the last fragment came */
	uint64_t deadline_ns;
	uint8_t hdr[60];
	uint32_t hlen;
	uint64_t bitmap[FRAG_UNITS / 64];
	uint8_t data[FLOO_FRAG_BYTES];
};

size_t ip_frag_mem_size(const struct floo_config *cfg)
{
	size_t s = (size_t)cfg->n_frag * sizeof(struct ip_frag_slot) + FLOO_FRAG_BYTES + 64;

	return (s + 63) & ~(size_t)63;
}

void ip_frag_init(struct floo_stack *st, void *mem)
{
	st->frag = mem;
	st->frag_out = (uint8_t *)mem + (size_t)st->cfg.n_frag * sizeof(struct ip_frag_slot);
	for (uint32_t i = 0; i < st->cfg.n_frag; i++)
		st->frag[i].used = 0;
}

static bool bit_get(const struct ip_frag_slot *s, uint32_t u)
{
	return (s->bitmap[u / 64] >> (u % 64)) & 1;
}

/* Find the slot for this datagram or claim one (evicting the oldest). */
static struct ip_frag_slot *frag_slot(struct floo_stack *st, const uint8_t *ip)
{
	struct ip_frag_slot *s, *old = NULL;
	uint32_t src = get_be32(ip + 12), dst = get_be32(ip + 16);
	uint16_t id = get_be16(ip + 4);

	for (uint32_t i = 0; i < st->cfg.n_frag; i++) {
		s = &st->frag[i];
		if (s->used && s->src == src && s->dst == dst && s->id == id && s->proto == ip[9])
			return s;
		if (!old || !s->used || (old->used && s->deadline_ns < old->deadline_ns))
			old = s;
	}
	s = old;
	/* n_frag >= 1 (config_fill). NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
	if (s->used)
		st->stats.drop_frag++;
	memset(s->bitmap, 0, sizeof(s->bitmap));
	s->used = 1;
	s->have_first = 0;
	s->total = 0;
	s->src = src;
	s->dst = dst;
	s->id = id;
	s->proto = ip[9];
	s->deadline_ns = st->now_ns + FRAG_LIFE_NS;
	return s;
}

/* Place [off, off+len) into the slot. Returns -1 to discard the datagram,
 * 0 if the piece was an exact duplicate, 1 if stored. */
static int frag_place(struct ip_frag_slot *s, const uint8_t *p, uint32_t off, uint32_t len)
{
	uint32_t u0 = off / 8, u1 = (off + len + 7) / 8, set = 0;

	for (uint32_t u = u0; u < u1; u++)
		set += bit_get(s, u);
	if (set == u1 - u0)
		return memcmp(s->data + off, p, len) == 0 ? 0 : -1;
	if (set)
		return -1;
	memcpy(s->data + off, p, len);
	for (uint32_t u = u0; u < u1; u++)
		s->bitmap[u / 64] |= 1ull << (u % 64);
	return 1;
}

/* True once every unit up to the known total is present. */
static bool frag_complete(const struct ip_frag_slot *s)
{
	uint32_t units = (s->total + 7) / 8;

	if (!s->total || !s->have_first)
		return false;
	for (uint32_t u = 0; u < units; u++)
		if (!bit_get(s, u))
			return false;
	return true;
}

/* Copy the finished datagram with a fresh header to st->frag_out. */
static uint32_t frag_finish(struct floo_stack *st, struct ip_frag_slot *s)
{
	uint8_t *o = st->frag_out;

	memcpy(o, s->hdr, s->hlen);
	put_be16(o + 2, (uint16_t)(s->hlen + s->total));
	put_be16(o + 6, 0);
	put_be16(o + 10, 0);
	put_be16(o + 10, floo_csum_fold(floo_csum_add(0, o, s->hlen)));
	memcpy(o + s->hlen, s->data, s->total);
	s->used = 0;
	return s->hlen + s->total;
}

/* Accept one fragment (header already validated). */
uint32_t ip_frag_input(struct floo_stack *st, const uint8_t *ip, uint32_t hlen, uint32_t total)
{
	uint16_t fw = get_be16(ip + 6);
	uint32_t off = (uint32_t)(fw & 0x1fff) * 8, len = total - hlen;
	bool more = fw & 0x2000;
	struct ip_frag_slot *s;
	int r;

	if ((more && (len == 0 || len % 8)) || off + len + hlen > 65535) {
		floo_drop(st, &st->stats.drop_frag, "frag_malformed", NULL);
		return 0;
	}
	s = frag_slot(st, ip);
	if (!more) {
		if ((s->total && s->total != off + len) || (s->total == 0 && off + len == 0))
			goto discard;
		s->total = off + len;
	}
	if (s->total && off + len > s->total)
		goto discard;
	r = frag_place(s, ip + hlen, off, len);
	if (r < 0)
		goto discard;
	if (off == 0) {
		memcpy(s->hdr, ip, hlen);
		s->hlen = hlen;
		s->have_first = 1;
	}
	return frag_complete(s) ? frag_finish(st, s) : 0;
discard:
	s->used = 0;
	floo_drop(st, &st->stats.drop_frag, "frag_overlap", NULL);
	return 0;
}

uint64_t ip_frag_next_ns(const struct floo_stack *st)
{
	uint64_t m = 0;

	for (uint32_t i = 0; i < st->cfg.n_frag; i++)
		if (st->frag[i].used && (!m || st->frag[i].deadline_ns < m))
			m = st->frag[i].deadline_ns;
	return m;
}

/* Expire old reassemblies; tell the sender if we had the first fragment
 * (RFC 1122 3.3.2: time exceeded, code 1). */
void ip_frag_timer(struct floo_stack *st)
{
	for (uint32_t i = 0; i < st->cfg.n_frag; i++) {
		struct ip_frag_slot *s = &st->frag[i];

		if (!s->used || st->now_ns < s->deadline_ns)
			continue;
		s->used = 0;
		st->stats.frag_timeouts++;
		if (s->have_first) {
			uint8_t tmp[68];
			uint32_t n = s->hlen + 8;

			memcpy(tmp, s->hdr, s->hlen);
			memcpy(tmp + s->hlen, s->data, 8);
			icmp_send_error(st, 11, 1, tmp, n);
		}
	}
}
