/* newc cpio reader: "070701" headers of 13 8-digit hex fields, 4-byte padding. */
#include <lib/cpio.h>

#define HDR_LEN 110

static int hex8(const uint8_t *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 8; i++) {
		uint8_t c = p[i];
		uint32_t d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

static size_t pad4(size_t x)
{
	return (x + 3) & ~(size_t)3;
}

static int bytes_eq(const uint8_t *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != (uint8_t)b[i])
			return 0;
	return 1;
}

int cpio_next(const uint8_t *buf, size_t len, size_t *off, struct cpio_entry *e)
{
	size_t o = *off;
	uint32_t f[13];

	if (o > len || len - o < HDR_LEN)
		return CPIO_TRUNCATED;
	if (!bytes_eq(buf + o, "070701", 6) && !bytes_eq(buf + o, "070702", 6))
		return CPIO_BAD_MAGIC;
	for (int i = 0; i < 13; i++)
		if (hex8(buf + o + 6 + 8 * i, &f[i]))
			return CPIO_BAD_FIELD;
	uint32_t mode = f[1], filesize = f[6], namesize = f[11];
	if (namesize == 0 || namesize > 4096)
		return CPIO_BAD_FIELD;
	size_t name_at = o + HDR_LEN;
	if (len - name_at < namesize)
		return CPIO_TRUNCATED;
	if (buf[name_at + namesize - 1] != 0)
		return CPIO_BAD_FIELD;
	size_t data_at = pad4(name_at + namesize);
	if (data_at > len || len - data_at < filesize)
		return CPIO_TRUNCATED;
	e->name = (const char *)buf + name_at;
	e->name_len = namesize - 1;
	e->data = buf + data_at;
	e->size = filesize;
	e->mode = mode;
	if (e->name_len == 10 && bytes_eq(buf + name_at, "TRAILER!!!", 10))
		return CPIO_END;
	*off = pad4(data_at + filesize);
	return CPIO_OK;
}

int cpio_validate(const uint8_t *buf, size_t len, uint32_t *nentries)
{
	size_t off = 0;
	struct cpio_entry e;

	*nentries = 0;
	for (;;) {
		int st = cpio_next(buf, len, &off, &e);
		if (st != CPIO_OK)
			return st == CPIO_END ? CPIO_OK : st;
		(*nentries)++;
	}
}

int cpio_find(const uint8_t *buf, size_t len, const char *name, struct cpio_entry *e)
{
	size_t off = 0, n = 0;

	while (name[n])
		n++;
	for (;;) {
		int st = cpio_next(buf, len, &off, e);
		if (st != CPIO_OK)
			return st;
		if (e->name_len == n && bytes_eq((const uint8_t *)e->name, name, n))
			return CPIO_OK;
	}
}

const char *cpio_strerror(int st)
{
	switch (st) {
	case CPIO_OK:
		return "ok";
	case CPIO_END:
		return "end of archive";
	case CPIO_BAD_MAGIC:
		return "bad magic (not a newc cpio archive)";
	case CPIO_TRUNCATED:
		return "truncated";
	default:
		return "malformed header field";
	}
}
