/*
 * Host tests for lib/manifest.c, the system manifest parser (docs/manifest.md).
 * Every input is an exact-size heap copy without a NUL after it, so ASan
 * reports any read past the text. Errors are compared as one string,
 * "LINE: message" per error, so each message is checked word for word.
 * Run from the top of the tree: the doc example and the `make run`
 * manifest are read from docs/manifest.md and user/init/manifest.
 */
#include "ktharness.h"

#include <lib/manifest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct manifest_limits no_limits = {0, 0, 0};
static const struct manifest_limits qemu2 = {256 * 1024, 2, 200}; /* 256 MiB, 2 CPUs, root at 200 */

static struct manifest m;
static struct manifest_arena arena;
static char errbuf[8192];

/* Parse a copy of text[0, len) with a 64 KiB arena; errbuf gets "LINE: msg\n" per error. */
static enum manifest_status parse_n(const char *text, size_t len, const struct manifest_limits *lim)
{
	static uint8_t *mem;
	char *copy = malloc(len ? len : 1);

	if (!mem)
		mem = malloc(65536);
	memcpy(copy, text, len);
	arena = (struct manifest_arena){mem, 65536, 0};
	enum manifest_status st = manifest_parse(copy, len, lim, &arena, &m);
	size_t off = 0;
	errbuf[0] = 0;
	for (const struct manifest_error *e = m.errors; e && off < sizeof(errbuf); e = e->next)
		off += (size_t)snprintf(errbuf + off, sizeof(errbuf) - off, "%u: %s\n", e->line,
		                        e->msg);
	free(copy); /* the manifest points into the arena only: reading it after this is still fine
	             */
	return st;
}

static enum manifest_status parse(const char *text, const struct manifest_limits *lim)
{
	return parse_n(text, strlen(text), lim);
}

/* text gives exactly the errors `want` ("" for none), and the status that goes with them. */
static void expect_errors(const char *file, int line, const char *text,
                          const struct manifest_limits *lim, const char *want)
{
	enum manifest_status st = parse(text, lim);

	if (strcmp(errbuf, want))
		kt_fail(file, line, "input:\n%s\ngot errors:\n%s\nwant:\n%s", text, errbuf, want);
	if (st != (*want ? MANIFEST_HAS_ERRORS : MANIFEST_OK))
		kt_fail(file, line, "status %d", st);
}
#define EXPECT_ERRORS(text, want)          expect_errors(__FILE__, __LINE__, text, &no_limits, want)
#define EXPECT_ERRORS_LIM(text, lim, want) expect_errors(__FILE__, __LINE__, text, lim, want)

static const struct manifest_partition *part(unsigned i)
{
	const struct manifest_partition *p = m.partitions;

	while (p && i--)
		p = p->next;
	return p;
}

static const struct manifest_channel *chan(unsigned i)
{
	const struct manifest_channel *c = m.channels;

	while (c && i--)
		c = c->next;
	return c;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	static char buf[65536];

	if (!f)
		return NULL;
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

/* The "```manifest" block of docs/manifest.md. */
static void doc_example_parses_exactly(void)
{
	size_t len;
	char *doc = read_file("docs/manifest.md", &len);
	CHECK(doc);
	if (!doc)
		return;
	doc[len < 65535 ? len : 65535] = 0;
	char *start = strstr(doc, "```manifest\n"),
	     *end = start ? strstr(start + 12, "\n```") : NULL;
	CHECK(start && end);
	if (!start || !end)
		return;
	start += 12;
	CHECK_EQ(parse_n(start, (size_t)(end - start) + 1, &qemu2), MANIFEST_OK);
	CHECK_STR(errbuf, "");
	CHECK_EQ(m.npartitions, 3);
	CHECK_EQ(m.nchannels, 3);

	const struct manifest_partition *net = part(0), *broker = part(1), *store = part(2);
	CHECK_STR(net->name, "net");
	CHECK(net->is_valid);
	CHECK_EQ(net->line, 2);
	CHECK_EQ(net->nprograms, 1);
	CHECK_EQ(net->programs->argc, 3);
	CHECK_STR(net->programs->argv[0], "netd");
	CHECK_STR(net->programs->argv[1], "--queues");
	CHECK_STR(net->programs->argv[2], "2");
	CHECK_EQ(net->mem_kib, 16 * 1024);
	CHECK_EQ(net->cpus, 2);
	CHECK_EQ(net->priority, 80);
	CHECK_EQ(net->budget_us, 500);
	CHECK_EQ(net->period_us, 1000);
	CHECK_EQ(net->restart, MANIFEST_RESTART_RESTART);
	const struct manifest_device *d = net->devices;
	CHECK(d && d->kind == MANIFEST_DEV_ID && d->vendor == 0x8086 && d->device == 0x100e &&
	      d->count == 1);
	d = d ? d->next : NULL;
	CHECK(d && d->kind == MANIFEST_DEV_BDF && d->bus == 0 && d->dev == 4 && d->fn == 0 &&
	      !d->next);
	CHECK_EQ(net->nconfig, 2);
	CHECK_STR(manifest_config_get(net, "ip"), "10.0.2.15/24");
	CHECK_STR(manifest_config_get(net, "gateway"), "10.0.2.2");
	CHECK(!manifest_config_get(net, "gw"));

	CHECK_STR(broker->name, "broker");
	CHECK(broker->is_valid);
	CHECK_EQ(broker->nprograms, 2);
	CHECK_STR(broker->programs->argv[0], "broker");
	CHECK_STR(broker->programs->argv[2], "9092");
	CHECK_EQ(broker->programs->next->argc, 1);
	CHECK_STR(broker->programs->next->argv[0], "metrics");
	CHECK_EQ(broker->mem_kib, 64 * 1024);
	CHECK_EQ(broker->cpus, 3);
	CHECK_EQ(broker->priority, 60);
	CHECK_EQ(broker->budget_us, 0);
	CHECK_EQ(broker->restart, MANIFEST_RESTART_STOP);
	CHECK(!broker->devices);
	CHECK_STR(manifest_config_get(broker, "motd"), "welcome to  the broker");

	CHECK_STR(store->name, "store");
	CHECK_EQ(store->mem_kib, 32 * 1024);
	CHECK_EQ(store->cpus, 1);
	CHECK_EQ(store->priority, 50);
	d = store->devices;
	CHECK(d && d->kind == MANIFEST_DEV_CLASS && d->class_bytes == 3 && d->class_code == 1 &&
	      d->subclass == 8 && d->prog_if == 2 && d->count == 2);

	CHECK_STR(chan(0)->name, "net-rx");
	CHECK(chan(0)->is_valid && chan(0)->from == net && chan(0)->to == broker);
	CHECK_EQ(chan(0)->entries, 256);
	CHECK_EQ(chan(0)->entry_size, 128);
	CHECK_EQ(manifest_ring_bytes(chan(0)), 36864); /* 256 + 32768, rounded up to pages */
	CHECK(chan(1)->from == broker && chan(1)->to == net && chan(1)->entries == 64 &&
	      chan(1)->entry_size == 64);
	CHECK(chan(2)->from == broker && chan(2)->to == store && chan(2)->entries == 1024);
}

/* user/init/manifest, the one `make run` boots: exactly one partition is refused. */
static void run_manifest_refuses_only_broken(void)
{
	size_t len;
	char *text = read_file("user/init/manifest", &len);

	CHECK(text);
	if (!text)
		return;
	CHECK_EQ(parse_n(text, len, &qemu2), MANIFEST_HAS_ERRORS);
	CHECK_EQ(m.nerrors, 1);
	CHECK(strstr(errbuf, ": memory 100K: must be a power of two of at least 64K\n"));
	unsigned valid = 0;
	for (const struct manifest_partition *p = m.partitions; p; p = p->next)
		valid += p->is_valid;
	CHECK_EQ(valid, m.npartitions - 1);
	CHECK_EQ(m.nchannels, 1);
	CHECK(m.channels && m.channels->is_valid);
}

/* user/init/serve.manifest, the one `make run` boots (mk/serve.mk): both appliances valid
 * in QEMU's 2 GiB and 4 CPUs, with the devices and the configuration brokerd and webd read. */
static void serve_manifest_is_valid(void)
{
	static const struct manifest_limits qemu_run = {2 * 1024 * 1024, 4, 200};
	size_t len;
	char *text = read_file("user/init/serve.manifest", &len);

	CHECK(text);
	if (!text)
		return;
	CHECK_EQ(parse_n(text, len, &qemu_run), MANIFEST_OK);
	const struct manifest_partition *web = part(0), *broker = part(1);
	CHECK(web && broker && web->is_valid && broker->is_valid);
	if (!web || !broker)
		return;
	CHECK_STR(web->programs->argv[0], "webd");
	CHECK_STR(broker->programs->argv[0], "brokerd");
	CHECK(web->devices && web->devices->kind == MANIFEST_DEV_BDF && web->devices->dev == 4 &&
	      !web->devices->next);
	CHECK(broker->devices && broker->devices->next && !broker->devices->next->next);
	CHECK_STR(manifest_config_get(broker, "advertise"), "127.0.0.1:9092");
	CHECK_STR(manifest_config_get(web, "http-port"), "80");
	CHECK_EQ(broker->restart, MANIFEST_RESTART_RESTART);
}

static const struct manifest_window *win(unsigned i)
{
	const struct manifest_window *w = m.windows;

	while (w && i--)
		w = w->next;
	return w;
}

/* Time windows: the parsed frame, slots sorted by offset, the spare, partition ids. */
static void windows_parse(void)
{
	CHECK_EQ(parse("partition a\n program a\n cpus 0-1\npartition b\n program b\n cpus 1\n"
	               "partition bg\n program c\n cpus 1\n"
	               "window cpu 1\n frame 10ms\n slot b at 5ms for 2ms\n"
	               " slot a at 0us for 5ms\n spare bg\n"
	               "window cpu 0\n frame 1ms\n slot a at 100us for 900us\n",
	               &qemu2),
	         MANIFEST_OK);
	CHECK_STR(errbuf, "");
	const struct manifest_window *w = win(0);
	CHECK(w && w->is_valid && w->cpu == 1 && w->frame_us == 10000 && w->nslots == 2);
	if (!w)
		return;
	CHECK(w->slots && w->slots->part == part(0) && w->slots->offset_us == 0 &&
	      w->slots->length_us == 5000);
	CHECK(w->slots && w->slots->next && w->slots->next->part == part(1) &&
	      w->slots->next->offset_us == 5000 && w->slots->next->length_us == 2000);
	CHECK(w->spare == part(2));
	CHECK_EQ(manifest_partition_id(&m, part(2)), 3);
	w = win(1);
	CHECK(w && w->cpu == 0 && w->frame_us == 1000 && !w->spare && w->nslots == 1);
	CHECK_EQ(m.nwindows, 2);
	/* spare idle, back-to-back slots, a slot ending at the frame's end. */
	EXPECT_ERRORS("partition a\n program a\nwindow cpu 0\n frame 10us\n slot a at 0us for "
	              "5us\n slot a at 5us for 5us\n spare idle\n",
	              "");
	CHECK(!win(0)->spare && win(0)->nslots == 2);
}

/* Every window error, with its line; a partition on a CPU whose windows are broken does not
 * start, nor one without time there. */
static void window_errors(void)
{
	static const char *ab = "partition a\n program a\npartition b\n program b\n";
	char text[1024];
#define W(body) (snprintf(text, sizeof(text), "%s%s", ab, body), text)
	EXPECT_ERRORS(W("window cpu 0\n frame 10ms\n slot a at 0us for 6ms\n slot b at 5ms for "
	                "2ms\n"),
	              "8: slot b at 5000us overlaps slot a at line 7, which runs until 6000us\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	EXPECT_ERRORS(W("window cpu 0\n frame 10ms\n slot a at 0us for 5ms\n slot b at 9ms for "
	                "2ms\n"),
	              "8: slot b at 9000us for 2000us ends at 11000us, past the frame of 10000us\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	CHECK(!part(0)->is_valid && !part(1)->is_valid && !win(0)->is_valid);
	EXPECT_ERRORS(W("window cpu 0\n slot a at 0us for 5ms\n slot b at 5ms for 5ms\n"),
	              "5: window cpu 0: 'frame TIME' missing\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	EXPECT_ERRORS(W("window cpu 0\n frame 1ms\n slot a at 0us for 500us\n"),
	              "3: partition b runs on cpu 0, which has windows (line 5), but has no slot "
	              "there\n");
	CHECK(part(0)->is_valid && !part(1)->is_valid);
	EXPECT_ERRORS(W("window cpu 0\n frame 1ms\n slot a at 0us for 500us\n spare b\n"), "");
	EXPECT_ERRORS(W("window cpu 0\n frame 1ms\n slot a at 0us for 500us\n slot c at 500us "
	                "for 1us\n slot c at 600us for 5us\n spare ghost\n spare b\n"),
	              "8: slot for 1us: at least 5us\n"
	              "11: spare given twice (first at line 10)\n"
	              "9: window cpu 0: no partition 'c'\n"
	              "10: window cpu 0: no partition 'ghost'\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	EXPECT_ERRORS("partition a\n program a\n cpus 1\nwindow cpu 0\n frame 1ms\n slot a at "
	              "0us for 5us\n",
	              "6: window cpu 0: partition a does not run on cpu 0\n");
	CHECK(part(0)->is_valid); /* it runs on cpu 1 only: the broken cpu 0 is not its */
	EXPECT_ERRORS_LIM(W("window cpu 2\n frame 1ms\n"), &qemu2, "5: cpu 2: out of range 0..1\n");
	EXPECT_ERRORS(W("window cpu 64\n"), "5: cpu 64: out of range 0..63\n");
	EXPECT_ERRORS(W("window cpu 0\n frame 1ms\n frame 2ms\n slot a at 0us for 1ms\n spare "
	                "b\n"),
	              "7: frame given twice (first at line 6)\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	EXPECT_ERRORS(W("window cpu 0\n frame 4us\n"),
	              "6: frame 4us: a number and us or ms, 5us..10s\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	EXPECT_ERRORS(W("window cpu 0\n frame 11000ms\n"),
	              "6: frame 11000ms: a number and us or ms, 5us..10s\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	EXPECT_ERRORS(W("window cpu 0\n frame 1ms\n slot a for 5us at 0us\n slot a at 1 for "
	                "5us\n slot A at 0us for 5us\n slot a at 0us\n spare\n hold on\n"),
	              "7: expected 'slot PARTITION at TIME for TIME (units us or ms)'\n"
	              "8: slot at 1 for 5us: times are a number and us or ms\n"
	              "9: partition name 'A': use 1 to 31 lower-case letters, digits, '-' or '_', "
	              "starting with a letter\n"
	              "10: expected 'slot PARTITION at TIME for TIME (units us or ms)'\n"
	              "11: expected 'spare PARTITION|idle'\n"
	              "12: unknown key 'hold' in window cpu 0\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
	EXPECT_ERRORS(W("window cpu 0\n frame 1ms\n slot a at 0us for 1ms\nwindow cpu 0\n frame "
	                "1ms\n slot b at 0us for 1ms\n"),
	              "8: window cpu 0 already defined at line 5\n"
	              "3: partition b runs on cpu 0, which has windows (line 5), but has no slot "
	              "there\n"
	              "1: partition a not started: the windows of cpu 0 (line 8) have an error\n");
	/* Too many slots. */
	size_t off = (size_t)snprintf(text, sizeof(text), "%swindow cpu 0\n frame 10ms\n", ab);
	for (int i = 0; i <= MANIFEST_WINDOWS_MAX; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, " slot a at %dus for 5us\n",
		                        i * 5);
	EXPECT_ERRORS(text,
	              "39: more than 32 slots in one frame\n"
	              "1: partition a not started: the windows of cpu 0 (line 5) have an error\n"
	              "3: partition b not started: the windows of cpu 0 (line 5) have an error\n");
#undef W
}

static void defaults(void)
{
	CHECK_EQ(parse("partition a\n program a\n", &no_limits), MANIFEST_OK);
	const struct manifest_partition *p = part(0);
	CHECK(p && p->is_valid);
	if (!p)
		return; /* CHECK goes on after a failure */
	CHECK_EQ(p->mem_kib, 1024);
	CHECK_EQ(p->cpus, 1);
	CHECK_EQ(p->priority, 50);
	CHECK_EQ(p->budget_us | p->period_us, 0);
	CHECK_EQ(p->restart, MANIFEST_RESTART_STOP);
	CHECK(!p->control);
	CHECK(!p->devices && !p->config);
	CHECK_EQ(
	    parse("partition a\n program a\npartition b\n program b\nchannel c\n from a\n to b\n",
	          &no_limits),
	    MANIFEST_OK);
	CHECK_EQ(chan(0)->entries, 64);
	CHECK_EQ(chan(0)->entry_size, 64);
	CHECK_EQ(manifest_ring_bytes(chan(0)), 8192);
}

static void every_construct(void)
{
	CHECK_EQ(
	    parse(
	        "# c\n\n  \t\npartition a1-b_c\n\tprogram dir/p x y\r\n  # indented comment\n"
	        "  memory 2G\n  cpus 0,2-4,63\n  priority 255\n  budget 5us period 5us\n  on-crash "
	        "stop\n"
	        "  device pci ABCD:ef01 count 32\n  device class 02 count 3\n  device class 02:00\n"
	        "  device at ff:1f.7\n  config k.e-y_1=  v = w  \n  config empty=\n  program q\n"
	        "window 1\n  anything at all\n",
	        &no_limits),
	    MANIFEST_HAS_ERRORS);
	CHECK_STR(errbuf, "19: expected 'window cpu N'\n");
	const struct manifest_partition *p = part(0);
	CHECK(p && p->is_valid);
	if (!p)
		return; /* CHECK goes on after a failure */
	CHECK_STR(p->name, "a1-b_c");
	CHECK_EQ(p->nprograms, 2);
	CHECK_EQ(p->programs->argc, 3);
	CHECK_STR(p->programs->argv[2], "y");
	CHECK_STR(p->programs->next->argv[0], "q");
	CHECK_EQ(p->mem_kib, 2ull << 20);
	CHECK_EQ(p->cpus, 0x800000000000001dull);
	CHECK_EQ(p->priority, 255);
	CHECK_EQ(p->budget_us, 5);
	CHECK_EQ(p->period_us, 5);
	const struct manifest_device *d = p->devices;
	CHECK(d->kind == MANIFEST_DEV_ID && d->vendor == 0xabcd && d->device == 0xef01 &&
	      d->count == 32);
	d = d->next;
	CHECK(d->kind == MANIFEST_DEV_CLASS && d->class_bytes == 1 && d->class_code == 2 &&
	      d->count == 3);
	d = d->next;
	CHECK(d->kind == MANIFEST_DEV_CLASS && d->class_bytes == 2 && d->subclass == 0 &&
	      d->count == 1);
	d = d->next;
	CHECK(d->kind == MANIFEST_DEV_BDF && d->bus == 0xff && d->dev == 0x1f && d->fn == 7 &&
	      !d->next);
	CHECK_STR(manifest_config_get(p, "k.e-y_1"), "  v = w");
	CHECK_STR(manifest_config_get(p, "empty"), "");
	CHECK_EQ(parse("partition a\n program a\n budget 2ms period 10000ms\n", &no_limits),
	         MANIFEST_OK);
	CHECK_EQ(part(0)->budget_us, 2000);
	CHECK_EQ(part(0)->period_us, 10000000);
	CHECK_EQ(parse("partition a\n program a\n on-crash restart\n memory 64K\n cpus 1-1\n",
	               &no_limits),
	         MANIFEST_OK);
	CHECK_EQ(part(0)->restart, MANIFEST_RESTART_RESTART);
	CHECK_EQ(part(0)->mem_kib, 64);
	CHECK_EQ(part(0)->cpus, 2);
	CHECK_EQ(parse("partition a\n program a\n control\n", &no_limits), MANIFEST_OK);
	CHECK(part(0)->control);
	CHECK(!part(0)->console);
	CHECK_EQ(parse("partition a\n program a\n console\n", &no_limits), MANIFEST_OK);
	CHECK(part(0)->console);
	CHECK(!part(0)->screen);
	CHECK_EQ(parse("partition a\n program a\n screen\n console\n", &no_limits), MANIFEST_OK);
	CHECK(part(0)->screen && part(0)->console);
	/* No newline at the end; the last line still counts. */
	CHECK_EQ(parse("partition a\n program a\n memory 4M", &no_limits), MANIFEST_OK);
	CHECK_EQ(part(0)->mem_kib, 4096);
}

static void section_errors(void)
{
	EXPECT_ERRORS("  program a\n", "1: indented line outside any section\n");
	EXPECT_ERRORS(
	    "partitions a\n",
	    "1: 'partitions': expected a section: partition NAME, channel NAME or window cpu N\n");
	EXPECT_ERRORS("partition\n", "1: expected 'partition NAME'\n");
	EXPECT_ERRORS("partition a b\n", "1: expected 'partition NAME'\n");
	EXPECT_ERRORS("channel\n", "1: expected 'channel NAME'\n");
	EXPECT_ERRORS("partition A\n program a\n",
	              "1: partition name 'A': use 1 to 31 lower-case letters, digits, '-' or '_', "
	              "starting with a letter\n");
	EXPECT_ERRORS("partition 1a\n",
	              "1: partition name '1a': use 1 to 31 lower-case letters, digits, '-' or '_', "
	              "starting with a letter\n");
	EXPECT_ERRORS("channel a.b\n",
	              "1: channel name 'a.b': use 1 to 31 lower-case letters, digits, '-' or '_', "
	              "starting with a letter\n");
	EXPECT_ERRORS("partition abcdefghijabcdefghijabcdefghijab\n program a\n",
	              "1: partition name 'abcdefghijabcdefghijabcdefghijab': use 1 to 31 "
	              "lower-case letters, digits, "
	              "'-' or '_', starting with a letter\n");
	EXPECT_ERRORS("partition abcdefghijabcdefghijabcdefghija\n program a\n", "");
	EXPECT_ERRORS("partition a\n program a\npartition a\n program b\n",
	              "3: partition 'a' already defined at line 1\n");
	CHECK(part(0)->is_valid && !part(1)->is_valid);
	EXPECT_ERRORS("partition a\n program a\npartition b\n program b\nchannel c\n from a\n to "
	              "b\nchannel c\n from a\n to b\n",
	              "8: channel 'c' already defined at line 5\n"
	              "1: partition a not started: its channel c has an error\n"
	              "3: partition b not started: its channel c has an error\n"
	              "5: channel c not set up: partition a is not started\n");
	EXPECT_ERRORS("window\n", "1: expected 'window cpu N'\n");
	/* A bad window line: its body is skipped (as a bad partition line's is). */
	EXPECT_ERRORS("partition a\n program a\nwindow major 10ms\n priority 3\n",
	              "3: expected 'window cpu N'\n");
	CHECK(part(0)->is_valid && part(0)->priority == 50);
	EXPECT_ERRORS("partition a\n", "1: partition a has no program\n");
	EXPECT_ERRORS("partition a\n program a\n\x01\n",
	              "3: byte 0x01: only printable ASCII outside comments\n");
	EXPECT_ERRORS("partition a\n program a\n config x=\xc3\xa9\n",
	              "3: byte 0xc3: only printable ASCII outside comments\n");
	CHECK(!part(0)->is_valid);
	EXPECT_ERRORS("# caf\xc3\xa9 \x01\npartition a\n program a\n  # \x7f\n", "");
	EXPECT_ERRORS("partition a\n program a b c d e f g h i j k l m n o\n", "");
	CHECK_EQ(part(0)->programs->argc, 15);
	EXPECT_ERRORS("partition a\n program a b c d e f g h i j k l m n o p\n", "");
	CHECK_EQ(part(0)->programs->argc, 16);
	CHECK_STR(part(0)->programs->argv[15], "p");
	EXPECT_ERRORS("partition a\n program a b c d e f g h i j k l m n o p q\n",
	              "2: expected 'program PATH [ARG ...]' with at most 15 arguments\n1: "
	              "partition a has no program\n");
	EXPECT_ERRORS(
	    "partition a\n program a b c d e f g h i j k l m n o p q r\n",
	    "2: too many words on one line (at most 18)\n1: partition a has no program\n");
}

static void partition_key_errors(void)
{
	const char *h = "partition a\n program a\n";
	char buf[512];
#define K(line, want)                                                                              \
	do {                                                                                       \
		snprintf(buf, sizeof(buf), "%s%s\n", h, line);                                     \
		EXPECT_ERRORS(buf, want);                                                          \
		CHECK(!part(0)->is_valid);                                                         \
	} while (0)
	K(" colour blue", "3: unknown key 'colour' in partition a\n");
	K(" from a", "3: unknown key 'from' in partition a\n");
	K(" program", "3: expected 'program PATH [ARG ...]' with at most 15 arguments\n");
	K(" program abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd",
	  "3: program path 'abcdefghijabcdefghijabcdefghijabcdefghij...': longer than 63 bytes\n");
	K(" memory", "3: expected 'memory SIZE (e.g. 512K, 4M, 1G)'\n");
	K(" memory 64",
	  "3: memory '64': expected a number and a unit K, M or G (at most 2^40 of a unit)\n");
	K(" memory 64k",
	  "3: memory '64k': expected a number and a unit K, M or G (at most 2^40 of a unit)\n");
	K(" memory K",
	  "3: memory 'K': expected a number and a unit K, M or G (at most 2^40 of a unit)\n");
	K(" memory -4M",
	  "3: memory '-4M': expected a number and a unit K, M or G (at most 2^40 of a unit)\n");
	K(" memory 2199023255553G", "3: memory '2199023255553G': expected a number and a unit K, M "
	                            "or G (at most 2^40 of a unit)\n");
	K(" memory 100K", "3: memory 100K: must be a power of two of at least 64K\n");
	K(" memory 32K", "3: memory 32K: must be a power of two of at least 64K\n");
	K(" memory 0M", "3: memory 0M: must be a power of two of at least 64K\n");
	K(" memory 1M\n memory 2M", "4: memory given twice (first at line 3)\n");
	K(" cpus", "3: expected 'cpus LIST (e.g. 0 or 0,2-3)'\n");
	K(" cpus 0,",
	  "3: cpus '0,': expected numbers or ranges a-b (a <= b) separated by commas\n");
	K(" cpus 3-1",
	  "3: cpus '3-1': expected numbers or ranges a-b (a <= b) separated by commas\n");
	K(" cpus x", "3: cpus 'x': expected numbers or ranges a-b (a <= b) separated by commas\n");
	K(" cpus 1--2",
	  "3: cpus '1--2': expected numbers or ranges a-b (a <= b) separated by commas\n");
	K(" cpus 64", "3: cpu 64 does not exist (64 CPUs)\n");
	K(" cpus 0\n cpus 1", "4: cpus given twice (first at line 3)\n");
	K(" priority", "3: expected 'priority N'\n");
	K(" priority high", "3: priority 'high': not a decimal number\n");
	K(" priority 256", "3: priority 256: out of range 0..255\n");
	K(" priority 99999999999999999999999",
	  "3: priority '99999999999999999999999': not a decimal number\n");
	K(" priority 1\n priority 1", "4: priority given twice (first at line 3)\n");
	K(" budget 1ms", "3: expected 'budget TIME period TIME (units us or ms)'\n");
	K(" budget 1ms every 2ms", "3: expected 'budget TIME period TIME (units us or ms)'\n");
	K(" budget 1s period 2s", "3: budget 1s period 2s: times are a number and us or ms\n");
	K(" budget 1ms period 20000ms",
	  "3: budget 1ms period 20000ms: need 0 < budget <= period, period 5us..10s\n");
	K(" budget 1ms period 99999999ms",
	  "3: budget 1ms period 99999999ms: times are a number and us or ms\n");
	K(" budget us period 2ms", "3: budget us period 2ms: times are a number and us or ms\n");
	K(" budget 0us period 2ms",
	  "3: budget 0us period 2ms: need 0 < budget <= period, period 5us..10s\n");
	K(" budget 3ms period 2ms",
	  "3: budget 3ms period 2ms: need 0 < budget <= period, period 5us..10s\n");
	K(" budget 1us period 4us",
	  "3: budget 1us period 4us: need 0 < budget <= period, period 5us..10s\n");
	K(" budget 1us period 5us\n budget 1us period 5us",
	  "4: budget given twice (first at line 3)\n");
	K(" on-crash", "3: expected 'on-crash restart|stop'\n");
	K(" on-crash reboot", "3: on-crash 'reboot': expected restart or stop\n");
	K(" on-crash stop\n on-crash stop", "4: on-crash given twice (first at line 3)\n");
	K(" control yes", "3: expected 'control'\n");
	K(" control\n control", "4: control given twice (first at line 3)\n");
	K(" console com1", "3: expected 'console'\n");
	K(" console\n console", "4: console given twice (first at line 3)\n");
	K(" screen vga", "3: expected 'screen'\n");
	K(" screen\n screen", "4: screen given twice (first at line 3)\n");
	K(" config", "3: expected 'config KEY=VALUE'\n");
	K(" config key", "3: expected 'config KEY=VALUE'\n");
	K(" config =v", "3: config key '': use 1 to 31 of a-z 0-9 - _ . starting with a letter\n");
	K(" config Key=v",
	  "3: config key 'Key': use 1 to 31 of a-z 0-9 - _ . starting with a letter\n");
	K(" config a=1\n config a=2", "4: config a given twice (first at line 3)\n");
}

static void device_errors(void)
{
	const char *h = "partition a\n program a\n";
	char buf[512];

	K(" device",
	  "3: expected 'device pci VVVV:DDDD|class CC[:SS[:PP]]|at BB:DD.F [count N]'\n");
	K(" device pci",
	  "3: expected 'device pci VVVV:DDDD|class CC[:SS[:PP]]|at BB:DD.F [count N]'\n");
	K(" device usb 1234:5678", "3: device 'usb': expected pci, class or at\n");
	K(" device pci 8086-100e",
	  "3: device pci '8086-100e': expected VVVV:DDDD (hexadecimal vendor and device)\n");
	K(" device pci 8086:100",
	  "3: device pci '8086:100': expected VVVV:DDDD (hexadecimal vendor and device)\n");
	K(" device pci 808g:100e",
	  "3: device pci '808g:100e': expected VVVV:DDDD (hexadecimal vendor and device)\n");
	K(" device class 1",
	  "3: device class '1': expected CC[:SS[:PP]] (hexadecimal class, subclass, prog-if)\n");
	K(" device class 01:08:", "3: device class '01:08:': expected CC[:SS[:PP]] (hexadecimal "
	                          "class, subclass, prog-if)\n");
	K(" device class 01.08", "3: device class '01.08': expected CC[:SS[:PP]] (hexadecimal "
	                         "class, subclass, prog-if)\n");
	K(" device at 00:20.0", "3: device at '00:20.0': expected BB:DD.F (hexadecimal bus, device "
	                        "< 20, function < 8)\n");
	K(" device at 00:03.8", "3: device at '00:03.8': expected BB:DD.F (hexadecimal bus, device "
	                        "< 20, function < 8)\n");
	K(" device at 0:03.0",
	  "3: device at '0:03.0': expected BB:DD.F (hexadecimal bus, device < 20, function < 8)\n");
	K(" device at 00:03.0 count 2",
	  "3: device: only 'pci' and 'class' lines take 'count N' after the match\n");
	K(" device pci 8086:100e number 2",
	  "3: device: only 'pci' and 'class' lines take 'count N' after the match\n");
	K(" device pci 8086:100e count 0", "3: count 0: out of range 1..32\n");
	K(" device pci 8086:100e count 33", "3: count 33: out of range 1..32\n");
	K(" device pci 8086:100e count x", "3: count 'x': not a decimal number\n");
	K(" device pci 8086:100e count",
	  "3: expected 'device pci VVVV:DDDD|class CC[:SS[:PP]]|at BB:DD.F [count N]'\n");
	K(" device pci 8086:100e\n device pci 8086:100e",
	  "4: device listed twice (first at line 3)\n");
	K(" device class 02\n device class 02", "4: device listed twice (first at line 3)\n");
	K(" device at 00:03.0\n device at 00:03.0", "4: device listed twice (first at line 3)\n");
	/* A BDF belongs to one partition; ids and classes may be asked for by several. */
	EXPECT_ERRORS("partition a\n program a\n device at 00:03.0\n device pci 8086:100e\n"
	              "partition b\n program b\n device at 00:03.0\n device pci 8086:100e\n",
	              "7: device at 00:03.0 already belongs to partition a (line 3)\n");
	CHECK(part(0)->is_valid && !part(1)->is_valid);
	EXPECT_ERRORS("partition a\n program a\n device at 00:03.0\npartition b\n program b\n "
	              "device at 00:03.1\n",
	              "");
}

static void channel_errors(void)
{
	const char *h =
	    "partition a\n program a\npartition b\n program b\nchannel c\n from a\n to b\n";
	char buf[512];
#define C(line, want)                                                                              \
	do {                                                                                       \
		snprintf(buf, sizeof(buf), "%s%s\n", h, line);                                     \
		EXPECT_ERRORS(buf, want);                                                          \
		CHECK(!chan(0)->is_valid && !part(0)->is_valid && !part(1)->is_valid);             \
	} while (0)
	EXPECT_ERRORS(h, "");
	C(" program x", "8: unknown key 'program' in channel c\n"
	                "1: partition a not started: its channel c has an error\n"
	                "3: partition b not started: its channel c has an error\n");
	C(" from b", "8: from given twice (first at line 6)\n"
	             "1: partition a not started: its channel c has an error\n"
	             "3: partition b not started: its channel c has an error\n");
	C(" to", "8: expected 'to PARTITION'\n"
	         "1: partition a not started: its channel c has an error\n"
	         "3: partition b not started: its channel c has an error\n");
	C(" entries 100", "8: entries 100: must be a power of two\n"
	                  "1: partition a not started: its channel c has an error\n"
	                  "3: partition b not started: its channel c has an error\n");
	C(" entries 1", "8: entries 1: out of range 2..65536\n"
	                "1: partition a not started: its channel c has an error\n"
	                "3: partition b not started: its channel c has an error\n");
	C(" entries 131072", "8: entries 131072: out of range 2..65536\n"
	                     "1: partition a not started: its channel c has an error\n"
	                     "3: partition b not started: its channel c has an error\n");
	C(" entry-size 4", "8: entry-size 4: out of range 8..4096\n"
	                   "1: partition a not started: its channel c has an error\n"
	                   "3: partition b not started: its channel c has an error\n");
	C(" entry-size 24", "8: entry-size 24: must be a power of two\n"
	                    "1: partition a not started: its channel c has an error\n"
	                    "3: partition b not started: its channel c has an error\n");
	C(" entries 2\n entries 4", "9: entries given twice (first at line 8)\n"
	                            "1: partition a not started: its channel c has an error\n"
	                            "3: partition b not started: its channel c has an error\n");
	C(" entries 65536\n entry-size 16",
	  "5: channel c: 65536 entries of 16 bytes need more than 1048576 bytes of ring\n"
	  "1: partition a not started: its channel c has an error\n"
	  "3: partition b not started: its channel c has an error\n");
	EXPECT_ERRORS("partition a\n program a\npartition b\n program b\nchannel c\n from a\n to "
	              "b\n entries 4096\n entry-size 128\n",
	              "");
	EXPECT_ERRORS("partition a\n program a\nchannel c\n from a\n",
	              "3: channel c: 'to PARTITION' missing\n"
	              "1: partition a not started: its channel c has an error\n");
	EXPECT_ERRORS("partition a\n program a\nchannel c\n to a\n",
	              "3: channel c: 'from PARTITION' missing\n"
	              "1: partition a not started: its channel c has an error\n");
	EXPECT_ERRORS("partition a\n program a\nchannel c\n from a\n to nobody\n",
	              "5: channel c: no partition 'nobody'\n1: partition a not started: its "
	              "channel c has an error\n");
	EXPECT_ERRORS("partition a\n program a\nchannel c\n from a\n to a\n",
	              "3: channel c: both ends are partition a\n1: partition a not started: its "
	              "channel c has an error\n");
	EXPECT_ERRORS("channel c\n from X\n",
	              "2: partition name 'X': use 1 to 31 lower-case letters, digits, '-' or '_', "
	              "starting with a letter\n1: channel c: 'to PARTITION' missing\n");
}

/* A broken partition takes its channels down, and through them the partitions at their other ends.
 */
static void invalid_partition_spreads_through_channels(void)
{
	EXPECT_ERRORS(
	    "partition a\n program a\n memory 3M\npartition b\n program b\npartition c\n program "
	    "c\n"
	    "partition d\n program d\nchannel ab\n from a\n to b\nchannel bc\n from b\n to c\n",
	    "3: memory 3M: must be a power of two of at least 64K\n"
	    "10: channel ab not set up: partition a is not started\n"
	    "4: partition b not started: its channel ab has an error\n"
	    "13: channel bc not set up: partition b is not started\n"
	    "6: partition c not started: its channel bc has an error\n");
	CHECK(!part(0)->is_valid && !part(1)->is_valid && !part(2)->is_valid && part(3)->is_valid);
	CHECK(!chan(0)->is_valid && !chan(1)->is_valid);
}

/* Snapshot declarations (docs/manifest.md, "Snapshots"): parsed values. */
static void snapshots_parse(void)
{
	EXPECT_ERRORS("partition kv\n program kv\n memory 8M\n snapshot 1M\n"
	              " snapshot exclude channel req\n snapshot exclude range 0x7f0000000000 64K\n"
	              " snapshot exclude channel resp\n"
	              "partition c\n program c\n snapshot refuse\n"
	              "channel req\n from c\n to kv\nchannel resp\n from kv\n to c\n",
	              "");
	const struct manifest_partition *kv = part(0), *c = part(1);
	CHECK(kv->snap_kib == 1024 && kv->snap_line == 4 && !kv->snap_refuse);
	CHECK(kv->nsnap_excludes == 3);
	const struct manifest_snap_exclude *x = kv->snap_excludes;
	CHECK(x && x->kind == MANIFEST_SNAP_CHANNEL && x->channel == chan(0) && x->line == 5);
	x = x ? x->next : NULL;
	CHECK(x && x->kind == MANIFEST_SNAP_RANGE && x->vaddr == 0x7f0000000000ull &&
	      x->size == 65536);
	x = x ? x->next : NULL;
	CHECK(x && x->kind == MANIFEST_SNAP_CHANNEL && x->channel == chan(1) && !x->next);
	CHECK(c->snap_refuse && c->refuse_line == 10 && !c->snap_kib && !c->snap_excludes);
	/* the snapshot counts in the memory total */
	const struct manifest_limits lim = {4096, 2, 100};
	EXPECT_ERRORS_LIM("partition a\n program a\n memory 2M\n snapshot 1M\npartition b\n"
	                  " program b\n memory 2M\n",
	                  &lim,
	                  "5: partition b: its 2048K with the partitions before it exceed the "
	                  "4096K the root task has\n");
}

static void snapshot_errors(void)
{
	const char *h = "partition a\n program a\n memory 4M\n";
	char buf[512];
#define S(lines, want)                                                                             \
	do {                                                                                       \
		snprintf(buf, sizeof(buf), "%s%s\n", h, lines);                                    \
		EXPECT_ERRORS(buf, want);                                                          \
		CHECK(!part(0)->is_valid);                                                         \
	} while (0)
	S(" snapshot", "4: expected 'snapshot SIZE', 'snapshot refuse', 'snapshot exclude channel "
	               "NAME' or 'snapshot exclude range ADDR SIZE'\n");
	S(" snapshot 1X",
	  "4: snapshot '1X': expected a number and a unit K, M or G (at most 2^40 of "
	  "a unit)\n");
	S(" snapshot 3M", "4: snapshot 3M: must be a power of two of at least 256K\n");
	S(" snapshot 128K", "4: snapshot 128K: must be a power of two of at least 256K\n");
	S(" snapshot 1M\n snapshot 1M", "5: snapshot given twice (first at line 4)\n");
	S(" snapshot refuse\n snapshot refuse", "5: refuse given twice (first at line 4)\n");
	S(" snapshot 4M", "4: partition a: snapshot 4096K is more than half its memory (4096K)\n");
	S(" snapshot refuse\n snapshot 1M",
	  "4: partition a: 'snapshot refuse' with snapshot declarations (line 5): choose one\n");
	S(" snapshot exclude range 0x1000 64K",
	  "4: partition a: snapshot exclusions without 'snapshot SIZE'\n");
	S(" snapshot 1M\n snapshot exclude channel nope",
	  "5: partition a: no channel nope of its own\n");
	S(" snapshot 1M\n snapshot exclude channel Bad",
	  "5: channel name 'Bad': use 1 to 31 lower-case letters, digits, '-' or '_', starting "
	  "with a letter\n");
	S(" snapshot 1M\n snapshot exclude range 1000 64K",
	  "5: snapshot range address '1000': expected 0x and 1 to 12 hex digits\n");
	S(" snapshot 1M\n snapshot exclude range 0x10g0 64K",
	  "5: snapshot range address '0x10g0': expected 0x and 1 to 12 hex digits\n");
	S(" snapshot 1M\n snapshot exclude range 0x1800 64K",
	  "5: snapshot range 0x1800 64K: must be whole 4K pages below 2^47\n");
	S(" snapshot 1M\n snapshot exclude range 0x1000 6K",
	  "5: snapshot range 0x1000 6K: must be whole 4K pages below 2^47\n");
	S(" snapshot 1M\n snapshot exclude range 0x7ffffffff000 8K",
	  "5: snapshot range 0x7ffffffff000 8K: must be whole 4K pages below 2^47\n");
	S(" snapshot 1M\n snapshot exclude range 0x1000 4K\n snapshot exclude range 0x2000 4K\n"
	  " snapshot exclude range 0x3000 4K\n snapshot exclude range 0x4000 4K\n"
	  " snapshot exclude range 0x5000 4K",
	  "9: more than 4 snapshot exclusions\n");
	S(" snapshot 1M\n device pci 8086:100e",
	  "5: partition a: snapshot refused: its devices write memory by DMA, which a snapshot "
	  "does not see\n");
	S(" snapshot 1M\n program b\n program c\n program d\n program e",
	  "4: partition a: a snapshot covers at most 4 programs, it has 5\n");
#undef S
	/* a shared ring must be declared, and only a channel of its own may be */
	EXPECT_ERRORS("partition a\n program a\n memory 4M\n snapshot 1M\npartition b\n program b\n"
	              "channel ab\n from a\n to b\n",
	              "4: partition a: channel ab (line 7) is shared with partition b: declare "
	              "'snapshot exclude channel ab'\n"
	              "7: channel ab not set up: partition a is not started\n"
	              "5: partition b not started: its channel ab has an error\n");
	EXPECT_ERRORS(
	    "partition a\n program a\n memory 4M\n snapshot 1M\n snapshot exclude channel bc\n"
	    "partition b\n program b\npartition c\n program c\nchannel bc\n from b\n to c\n",
	    "5: partition a: no channel bc of its own\n");
	EXPECT_ERRORS(
	    "partition a\n program a\n memory 4M\n snapshot 1M\n snapshot exclude channel ab\n"
	    " snapshot exclude channel ab\npartition b\n program b\nchannel ab\n from a\n to b\n",
	    "6: channel ab excluded twice (first at line 5)\n"
	    "9: channel ab not set up: partition a is not started\n"
	    "7: partition b not started: its channel ab has an error\n");
}

static void limits_checked(void)
{
	const struct manifest_limits lim = {4096, 2, 100};

	EXPECT_ERRORS_LIM("partition a\n program a\n memory 8M\n", &lim,
	                  "3: memory 8M: more than the 4096K the root task has\n");
	EXPECT_ERRORS_LIM("partition a\n program a\n cpus 2\n", &lim,
	                  "3: cpu 2 does not exist (2 CPUs)\n");
	EXPECT_ERRORS_LIM("partition a\n program a\n cpus 0-5\n", &lim,
	                  "3: cpu 5 does not exist (2 CPUs)\n");
	EXPECT_ERRORS_LIM("partition a\n program a\n cpus 0-1\n priority 100\n", &lim, "");
	EXPECT_ERRORS_LIM("partition a\n program a\n priority 101\n", &lim,
	                  "3: priority 101: above the root task's own (100)\n");
	EXPECT_ERRORS_LIM(
	    "partition a\n program a\n memory 2M\npartition b\n program b\n memory 2M\n"
	    "partition c\n program c\n memory 64K\n",
	    &lim,
	    "7: partition c: its 64K with the partitions before it exceed the 4096K the root task "
	    "has\n");
	CHECK(part(0)->is_valid && part(1)->is_valid && !part(2)->is_valid);
	/* An invalid partition takes no memory from the total. */
	EXPECT_ERRORS_LIM(
	    "partition a\n program a\n memory 4M\n cpus 9\npartition b\n program b\n memory 4M\n",
	    &lim, "4: cpu 9 does not exist (2 CPUs)\n");
	CHECK(!part(0)->is_valid && part(1)->is_valid);
}

/* Every arena size up to what the example needs: ARENA_FULL or a complete parse, nothing else. */
static void arena_exhaustion_is_all_or_nothing(void)
{
	const char *text = "partition a\n program a x y\n config k=v\n device pci "
	                   "8086:100e\npartition b\n program b\n"
	                   "channel c\n from a\n to b\n bogus\n";
	size_t len = strlen(text), need = 0;
	char *copy = malloc(len);
	uint8_t *mem = calloc(1, 8192);

	memcpy(copy, text, len);
	for (size_t size = 0; size < 8192; size++) {
		struct manifest_arena a = {mem, size, 0};
		enum manifest_status st = manifest_parse(copy, len, &no_limits, &a, &m);
		CHECK(a.used <= size);
		if (st == MANIFEST_ARENA_FULL) {
			CHECK(m.arena_full);
			continue;
		}
		CHECK_EQ(st, MANIFEST_HAS_ERRORS);
		CHECK_EQ(m.nerrors, 3);
		need = size;
		break;
	}
	CHECK(need > 0);
	free(copy);
	free(mem);
}

/*
 * Bug fixed (found by manifest_fuzz, seed regress_arena_full_null_name): the
 * arena ran out at a partition's name, the parse went on, and resolving an
 * earlier channel's ends compared against the NULL name. Now the parse
 * stops at the first failed allocation.
 */
static void arena_full_at_a_name_after_a_channel(void)
{
	const char *text = "channel c\n from a\n to b\npartition a\n program a\npartition "
	                   "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\n";
	size_t len = strlen(text);
	char *copy = malloc(len);
	uint8_t *mem = calloc(1, 4096);

	memcpy(copy, text, len);
	for (size_t size = 0; size < 4096; size++) {
		struct manifest_arena a = {mem, size, 0};
		if (manifest_parse(copy, len, &no_limits, &a, &m) != MANIFEST_ARENA_FULL)
			break;
	}
	free(copy);
	free(mem);
}

/* Random bytes from the manifest's own alphabet: no crash, errors always carry a line inside the
 * text. */
static void random_text_never_escapes(void)
{
	static const char *pieces[] = {"partition ",  "channel ",
	                               "window cpu ", " program ",
	                               " frame ",     " slot ",
	                               " spare ",     " for ",
	                               " memory ",    " cpus ",
	                               " priority ",  " budget ",
	                               " period ",    " on-crash ",
	                               " device ",    " config ",
	                               " from ",      " to ",
	                               " entries ",   " entry-size ",
	                               "pci ",        "class ",
	                               "at ",         "a",
	                               "b",           "1",
	                               "64K",         "0-1",
	                               ",",           "=",
	                               ":",           ".",
	                               "\n",          "\t",
	                               "#",           "\r",
	                               "ms",          "us",
	                               "8086:100e",   "00:03.0",
	                               "count 2",     " snapshot ",
	                               "exclude ",    "refuse",
	                               "channel a",   "range 0x1000 4K"};
	char text[600];

	for (int iter = 0; iter < 3000 && !kt_failed(); iter++) {
		size_t len = 0;
		while (len < 500) {
			const char *p = pieces[kt_below(sizeof(pieces) / sizeof(pieces[0]))];
			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		uint32_t lines = 1;
		for (size_t i = 0; i < len; i++)
			lines += text[i] == '\n';
		enum manifest_status st = parse_n(text, len, &qemu2);
		CHECK(st != MANIFEST_ARENA_FULL);
		for (const struct manifest_error *e = m.errors; e; e = e->next)
			CHECK(e->line >= 1 && e->line <= lines && strlen(e->msg) > 0);
		for (const struct manifest_partition *p = m.partitions; p; p = p->next)
			CHECK(!p->is_valid || (p->nprograms > 0 && p->cpus && p->priority <= 200));
	}
}

int main(int argc, char **argv)
{
	static const struct kt_case cases[] = {
	    KT(doc_example_parses_exactly),
	    KT(run_manifest_refuses_only_broken),
	    KT(serve_manifest_is_valid),
	    KT(defaults),
	    KT(windows_parse),
	    KT(window_errors),
	    KT(every_construct),
	    KT(section_errors),
	    KT(partition_key_errors),
	    KT(device_errors),
	    KT(channel_errors),
	    KT(invalid_partition_spreads_through_channels),
	    KT(snapshots_parse),
	    KT(snapshot_errors),
	    KT(limits_checked),
	    KT(arena_exhaustion_is_all_or_nothing),
	    KT(arena_full_at_a_name_after_a_channel),
	    KT(random_text_never_escapes),
	};
	return kt_main(cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
