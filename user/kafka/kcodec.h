/* Kafka wire primitives: a bounds-checked reader over request bytes and a
 * growable response writer that can reference external buffers (stored
 * record batches) instead of copying them. */
#ifndef KCODEC_H
#define KCODEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <lib/bytes.h> /* get_be32() and friends for the wire */

struct store_iov;

/* Reader: any read past the end sets bad and yields zeroes. A gathering
 * reader (kr_init_gather) reads the same from pieces (receive buffers):
 * fields that cross pieces are copied into its arena (full: bad and
 * arena_full), and BYTES are not read but located (kbytes.v, .skip). */
struct kr {
	const uint8_t *p;
	uint32_t n, off;
	bool bad;
	bool flex;                 /* flexible version: compact strings, arrays, bytes */
	bool arena_full;           /* gathering: a field crossing pieces did not fit */
	const struct store_iov *v; /* gathering: the piece holding offset off */
	size_t v_off;              /* off's position in *v */
	uint8_t *arena;            /* gathering: copies of fields crossing pieces */
	uint32_t arena_used, arena_cap;
	uint8_t tmp[8]; /* an integer crossing pieces */
};

struct kstr {
	const char *p;
	int32_t len; /* -1 = null */
};

struct kbytes {
	uint8_t *p; /* writable: produce rewrites BaseOffset in place */
	int32_t len;
	/* gathering reader: p is NULL and the len bytes start skip bytes into v[0] */
	const struct store_iov *v;
	size_t skip;
};

void kr_init(struct kr *r, const uint8_t *p, uint32_t n);
/* A reader of n bytes from the pieces v (from skip in v[0]), with an arena
 * of cap bytes for fields that cross pieces. */
void kr_init_gather(struct kr *r, const struct store_iov *v, size_t skip, uint32_t n,
                    uint8_t *arena, uint32_t cap);
int8_t kr_i8(struct kr *r);
int16_t kr_i16(struct kr *r);
int32_t kr_i32(struct kr *r);
int64_t kr_i64(struct kr *r);
uint32_t kr_uvarint(struct kr *r);
/* In a flexible reader (flex set) kr_str, kr_bytes and kr_array read
 * the compact forms (unsigned varint length + 1, 0 = null). */
bool kr_str(struct kr *r, struct kstr *s);     /* STRING or NULLABLE_STRING */
bool kr_cstr(struct kr *r, struct kstr *s);    /* COMPACT_(NULLABLE_)STRING */
bool kr_bytes(struct kr *r, struct kbytes *b); /* (NULLABLE_)BYTES */
void kr_skip_tags(struct kr *r);
/* Tag buffer of a structure: skipped in a flexible reader, else nothing. */
void kr_tags(struct kr *r);
/* 16-byte UUID (topic ids); read and discarded by the broker. */
void kr_uuid(struct kr *r, uint8_t out[16]);
/* Array count; -1 (null) allowed only if nullable. Counts that cannot fit
 * in the remaining bytes (min_elem each) mark the reader bad. */
int32_t kr_array(struct kr *r, uint32_t min_elem, bool nullable);

/* Writer allocator hooks (the broker's platform allocator). */
struct kalloc {
	void *ctx;
	void *(*alloc)(void *ctx, size_t n);
	void (*free)(void *ctx, void *p);
};

#define KW_MAX_EXT 1024u

struct kext {
	uint32_t at; /* position in buf before which the bytes go */
	uint32_t len;
	const uint8_t *p;
};

struct kw {
	const struct kalloc *al;
	uint8_t *buf;
	uint32_t len, cap;
	bool oom;
	struct kext *ext;
	uint32_t next;
	uint64_t ext_bytes;
	bool flex; /* flexible version: compact strings, arrays, bytes */
};

void kw_init(struct kw *w, const struct kalloc *al);
void kw_free(struct kw *w);
void kw_i8(struct kw *w, int8_t v);
void kw_i16(struct kw *w, int16_t v);
void kw_i32(struct kw *w, int32_t v);
void kw_i64(struct kw *w, int64_t v);
void kw_uvarint(struct kw *w, uint32_t v);
void kw_raw(struct kw *w, const void *p, uint32_t n);
/* kw_str, kw_bytes and kw_array write the compact forms when w->flex. */
void kw_str(struct kw *w, const char *p, int32_t len); /* len -1 = null */
void kw_bytes(struct kw *w, const void *p, int32_t len);
void kw_array(struct kw *w, int32_t n); /* count, -1 = null */
/* Length prefix of n bytes that follow (BYTES/RECORDS): int32 or compact. */
void kw_len(struct kw *w, int32_t n);
/* Empty tag buffer when w->flex (librdkafka 2.0.2 misparses non-empty
 * ones, see the protocol notes), else nothing. */
void kw_tags(struct kw *w);
void kw_uuid(struct kw *w, const uint8_t id[16]);
/* Reference n external bytes at the current position (not copied). */
bool kw_ext(struct kw *w, const void *p, uint32_t n);
void kw_patch32(struct kw *w, uint32_t at, int32_t v);
uint64_t kw_total(const struct kw *w);

#endif
