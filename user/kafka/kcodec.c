/* Kafka primitive types: big-endian ints, int16/int32-prefixed strings and
 * bytes, and for flexible versions (KIP-482) the compact forms (unsigned
 * varint length + 1) and tag buffers. */
#include <lib/string.h>

#include "kcodec.h"
#include "storage/store.h"

void kr_init(struct kr *r, const uint8_t *p, uint32_t n)
{
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->n = n;
}

void kr_init_gather(struct kr *r, const struct store_iov *v, size_t skip, uint32_t n,
                    uint8_t *arena, uint32_t cap)
{
	memset(r, 0, sizeof(*r));
	r->n = n;
	r->v = v;
	r->v_off = skip;
	r->arena = arena;
	r->arena_cap = cap;
	while (n && r->v_off >= r->v->len) /* an empty or used-up first piece */
		r->v_off -= r->v->len, r->v++;
}

/* Step a gathering reader over n bytes (present), to the piece holding the next. */
static void kr_gather_step(struct kr *r, uint32_t n)
{
	size_t k = r->v_off + n;

	r->off += n;
	while (r->off < r->n && k >= r->v->len)
		k -= r->v->len, r->v++;
	r->v_off = k;
}

/* The next n bytes of a gathering reader: in place when in one piece, else copied (into tmp
 * when !keep and they fit, the arena otherwise). */
static const uint8_t *kr_gather(struct kr *r, uint32_t n, bool keep)
{
	const uint8_t *p = (const uint8_t *)r->v->base + r->v_off;
	uint8_t *d;

	if (n > r->v->len - r->v_off) {
		if (!keep && n <= sizeof(r->tmp)) {
			d = r->tmp;
		} else if (n <= r->arena_cap - r->arena_used) {
			d = r->arena + r->arena_used;
			r->arena_used += n;
		} else {
			r->bad = r->arena_full = true;
			return NULL;
		}
		store_iov_copy(d, r->v, r->v_off, n);
		p = d;
	}
	kr_gather_step(r, n);
	return p;
}

/* Pointer to the next n bytes, or NULL (and bad) when they are missing; keep: the caller
 * keeps the pointer past the next read (a gathering reader copies such bytes to its arena). */
static const uint8_t *kr_take_keep(struct kr *r, uint32_t n, bool keep)
{
	const uint8_t *p;

	if (r->bad || n > r->n - r->off) {
		r->bad = true;
		return NULL;
	}
	if (r->v)
		return n ? kr_gather(r, n, keep) : (const uint8_t *)"";
	p = r->p + r->off;
	r->off += n;
	return p;
}

static const uint8_t *kr_take(struct kr *r, uint32_t n)
{
	return kr_take_keep(r, n, true);
}

/* Step over n bytes without reading them. */
static bool kr_skip(struct kr *r, uint32_t n)
{
	if (r->bad || n > r->n - r->off) {
		r->bad = true;
		return false;
	}
	if (r->v)
		kr_gather_step(r, n);
	else
		r->off += n;
	return true;
}

static uint64_t kr_be(struct kr *r, uint32_t n)
{
	const uint8_t *p = kr_take_keep(r, n, false);
	uint64_t v = 0;

	for (uint32_t i = 0; p && i < n; i++)
		v = v << 8 | p[i];
	return v;
}

int8_t kr_i8(struct kr *r)
{
	return (int8_t)kr_be(r, 1);
}

int16_t kr_i16(struct kr *r)
{
	return (int16_t)kr_be(r, 2);
}

int32_t kr_i32(struct kr *r)
{
	return (int32_t)kr_be(r, 4);
}

int64_t kr_i64(struct kr *r)
{
	return (int64_t)kr_be(r, 8);
}

uint32_t kr_uvarint(struct kr *r)
{
	uint32_t v = 0;

	for (int shift = 0; shift < 35; shift += 7) {
		const uint8_t *p = kr_take(r, 1);
		if (!p)
			return 0;
		v |= (uint32_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

/* Compact length: unsigned varint N + 1 (0 = null, -1 here). */
static int32_t kr_clen(struct kr *r)
{
	uint32_t u = kr_uvarint(r);

	if (u > 0x7fffffffu) {
		r->bad = true;
		return 0;
	}
	return (int32_t)u - 1;
}

bool kr_str(struct kr *r, struct kstr *s)
{
	if (r->flex)
		return kr_cstr(r, s);
	int16_t n = kr_i16(r);

	s->len = n;
	s->p = NULL;
	if (n < -1)
		r->bad = true;
	if (n > 0 && !(s->p = (const char *)kr_take(r, (uint32_t)n)))
		s->len = 0;
	return !r->bad;
}

bool kr_cstr(struct kr *r, struct kstr *s)
{
	uint32_t n = kr_uvarint(r);

	s->len = (int32_t)n - 1;
	s->p = NULL;
	if (n >
	    0x7fff) /* bug compact_string_too_long_kept_its_length: a NULL string of len bytes */
		r->bad = true, s->len = 0;
	else if (n > 1 && !(s->p = (const char *)kr_take(r, n - 1)))
		s->len = 0;
	return !r->bad;
}

bool kr_bytes(struct kr *r, struct kbytes *b)
{
	int32_t n;

	if (r->flex)
		n = kr_clen(r);
	else
		n = kr_i32(r);

	b->len = n;
	b->p = NULL;
	b->v = r->v;
	b->skip = r->v_off;
	if (n < -1)
		r->bad = true;
	if (n > 0 && r->v) { /* located, not read */
		if (r->bad || (uint32_t)n > r->n - r->off)
			r->bad = true, b->len = 0;
		else
			kr_gather_step(r, (uint32_t)n);
	} else if (n > 0 && !(b->p = (uint8_t *)(uintptr_t)kr_take(r, (uint32_t)n))) {
		b->len = 0;
	}
	return !r->bad;
}

void kr_skip_tags(struct kr *r)
{
	uint32_t n = kr_uvarint(r);

	for (uint32_t i = 0; i < n && !r->bad; i++) {
		(void)kr_uvarint(r);
		(void)kr_skip(r, kr_uvarint(r));
	}
}

void kr_tags(struct kr *r)
{
	if (r->flex)
		kr_skip_tags(r);
}

void kr_uuid(struct kr *r, uint8_t out[16])
{
	const uint8_t *p = kr_take(r, 16);

	if (p)
		memcpy(out, p, 16);
	else
		memset(out, 0, 16);
}

int32_t kr_array(struct kr *r, uint32_t min_elem, bool nullable)
{
	int32_t n;

	if (r->flex)
		n = kr_clen(r);
	else
		n = kr_i32(r);

	if (r->bad)
		return 0;
	if (n == -1 && nullable)
		return -1;
	if (n < 0 || (uint64_t)n * min_elem > r->n - r->off) {
		r->bad = true;
		return 0;
	}
	return n;
}

void kw_init(struct kw *w, const struct kalloc *al)
{
	memset(w, 0, sizeof(*w));
	w->al = al;
}

void kw_free(struct kw *w)
{
	if (w->buf)
		w->al->free(w->al->ctx, w->buf);
	if (w->ext)
		w->al->free(w->al->ctx, w->ext);
	w->buf = NULL;
	w->ext = NULL;
}

/* Make room for n more bytes; on failure the writer is poisoned (oom). */
static uint8_t *kw_room(struct kw *w, uint32_t n)
{
	if (w->oom)
		return NULL;
	if (w->len + n > w->cap) {
		uint32_t nc = w->cap ? w->cap : 256;
		uint8_t *nb;
		while (nc < w->len + n)
			nc *= 2;
		nb = w->al->alloc(w->al->ctx, nc);
		if (!nb) {
			w->oom = true;
			return NULL;
		}
		if (w->buf) {
			memcpy(nb, w->buf, w->len);
			w->al->free(w->al->ctx, w->buf);
		}
		w->buf = nb;
		w->cap = nc;
	}
	w->len += n;
	return w->buf + w->len - n;
}

static void kw_be(struct kw *w, uint64_t v, uint32_t n)
{
	uint8_t *p = kw_room(w, n);

	for (uint32_t i = 0; p && i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

void kw_i8(struct kw *w, int8_t v)
{
	kw_be(w, (uint8_t)v, 1);
}

void kw_i16(struct kw *w, int16_t v)
{
	kw_be(w, (uint16_t)v, 2);
}

void kw_i32(struct kw *w, int32_t v)
{
	kw_be(w, (uint32_t)v, 4);
}

void kw_i64(struct kw *w, int64_t v)
{
	kw_be(w, (uint64_t)v, 8);
}

void kw_uvarint(struct kw *w, uint32_t v)
{
	while (v >= 0x80) {
		kw_i8(w, (int8_t)(v | 0x80));
		v >>= 7;
	}
	kw_i8(w, (int8_t)v);
}

void kw_raw(struct kw *w, const void *p, uint32_t n)
{
	uint8_t *d = kw_room(w, n);

	if (d && n)
		memcpy(d, p, n);
}

void kw_str(struct kw *w, const char *p, int32_t len)
{
	if (w->flex)
		kw_uvarint(w, (uint32_t)(len + 1));
	else
		kw_i16(w, (int16_t)len);
	if (len > 0)
		kw_raw(w, p, (uint32_t)len);
}

void kw_len(struct kw *w, int32_t n)
{
	if (w->flex)
		kw_uvarint(w, (uint32_t)n + 1);
	else
		kw_i32(w, n);
}

void kw_bytes(struct kw *w, const void *p, int32_t len)
{
	kw_len(w, len);
	if (len > 0)
		kw_raw(w, p, (uint32_t)len);
}

void kw_array(struct kw *w, int32_t n)
{
	kw_len(w, n);
}

void kw_tags(struct kw *w)
{
	if (w->flex)
		kw_i8(w, 0);
}

void kw_uuid(struct kw *w, const uint8_t id[16])
{
	kw_raw(w, id, 16);
}

bool kw_ext(struct kw *w, const void *p, uint32_t n)
{
	if (w->oom || w->next >= KW_MAX_EXT)
		return false;
	if (!w->ext) {
		w->ext = w->al->alloc(w->al->ctx, KW_MAX_EXT * sizeof(*w->ext));
		if (!w->ext) {
			w->oom = true;
			return false;
		}
	}
	w->ext[w->next++] = (struct kext){w->len, n, p};
	w->ext_bytes += n;
	return true;
}

void kw_patch32(struct kw *w, uint32_t at, int32_t v)
{
	if (w->oom || at + 4 > w->len)
		return;
	for (int i = 0; i < 4; i++)
		w->buf[at + i] = (uint8_t)((uint32_t)v >> (24 - 8 * i));
}

uint64_t kw_total(const struct kw *w)
{
	return w->len + w->ext_bytes;
}
