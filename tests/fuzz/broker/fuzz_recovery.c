/* Fuzz target: store recovery on a damaged image. A valid image with two
 * topics and several segments' worth of frames is built once; each input
 * is a list of (block-offset, bytes) patches applied over it. Opening,
 * reading everything, appending and reopening must never crash, and every
 * read must stay inside what recovery accepted. */
#include "fuzzdev.h"

static uint8_t *template_img;

/* Build the reference image once. */
static void build_template(void)
{
	struct fdev d = {0};
	struct store_platform pl = fd_platform(&d);
	struct store *s;
	uint8_t buf[3000];

	if (store_open(&pl, STORE_FORMAT_BLANK, &s) || store_topic_create(s, "a", 1, 2) != 0 ||
	    store_topic_create(s, "b", 1, 1) != 1)
		abort();
	for (uint32_t i = 0; i < 600; i++) {
		uint32_t len = 1 + i * 37 % sizeof(buf);
		memset(buf, (int)i, len);
		uint32_t t = i % 3 ? 0 : 1, k = t == 0 ? i % 2 : 0;
		if (store_append(s, store_part_get(s, t, k), buf, len, 1 + i % 4, i))
			abort();
	}
	store_close(s);
	template_img = malloc((size_t)FD_BLOCKS * STORE_BLOCK);
	(void)fd_read(&d, 0, template_img, FD_BLOCKS);
	fd_reset(&d);
}

/* Read every partition end to end; a read may fail but never misbehave. */
static void read_all(struct store *s)
{
	for (uint32_t t = 0; t < store_topic_count(s); t++)
		for (uint32_t k = 0; k < store_topic_parts(s, t); k++) {
			struct store_part *p = store_part_get(s, t, k);
			uint64_t off = store_part_start(p);
			for (int guard = 0; off < store_part_hwm(p) && guard < 5000; guard++) {
				struct store_read rd;
				if (store_read(s, p, off, 65536, &rd) || !rd.n)
					break;
				if (rd.next_offset <= off)
					abort();
				off = rd.next_offset;
				store_read_release(s, &rd);
			}
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fdev d;
	struct store_platform pl;
	struct store *s;

	if (!template_img)
		build_template();
	d.tmpl = template_img;
	pl = fd_platform(&d);
	/* patches: u16 block, u16 offset-in-block, u8 len, len bytes */
	for (size_t i = 0; i + 5 <= size;) {
		uint32_t blk = (uint32_t)(data[i] | data[i + 1] << 8) % FD_BLOCKS;
		uint32_t off = (uint32_t)(data[i + 2] | data[i + 3] << 8) % STORE_BLOCK;
		uint32_t len = data[i + 4];
		i += 5;
		if (len > size - i)
			len = (uint32_t)(size - i);
		if (len > STORE_BLOCK - off)
			len = STORE_BLOCK - off;
		memcpy(fd_block(&d, blk) + off, data + i, len);
		i += len;
	}
	if (store_open(&pl, 0, &s) == STORE_OK) {
		uint8_t x[100] = {1};
		read_all(s);
		struct store_part *p = store_part_get(s, 0, 0);
		if (p && store_append(s, p, x, sizeof(x), 1, 0) == STORE_OK &&
		    store_write_pending(s) == STORE_OK)
			read_all(s);
		store_close(s);
		if (store_open(&pl, 0, &s) == STORE_OK) {
			read_all(s);
			store_close(s);
		}
	}
	fd_reset(&d);
	return 0;
}
