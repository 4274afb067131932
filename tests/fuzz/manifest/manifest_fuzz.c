/*
 * libFuzzer target for lib/manifest.c: the input is an etc/manifest,
 * handed over as an exact-size heap copy (a read outside it is an ASan
 * report), parsed with a 64 KiB arena and the limits of a 2-CPU, 256 MiB
 * root task. The result must keep the parser's promises: every error has a
 * line inside the text; a valid partition has a program, CPUs that exist,
 * a power-of-two memory within the limit, a priority within it; a valid
 * channel joins two different valid partitions and its ring fits; the
 * valid partitions' memory adds up to no more than the limit; the arena is
 * never overrun. A 1 KiB arena must fail cleanly or give the same errors.
 */
#include <lib/manifest.h>
#include <stdlib.h>
#include <string.h>

static uint8_t arena_mem[65536];

static void check(const struct manifest *m, const char *text, size_t len,
                  const struct manifest_limits *lim)
{
	uint32_t lines = 1, nerr = 0;
	uint64_t total = 0;

	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	for (const struct manifest_error *e = m->errors; e; e = e->next, nerr++)
		if (e->line < 1 || e->line > lines || !e->msg[0] ||
		    strnlen(e->msg, MANIFEST_MSG_MAX) == MANIFEST_MSG_MAX)
			abort();
	if (nerr != m->nerrors)
		abort();
	for (const struct manifest_partition *p = m->partitions; p; p = p->next) {
		if (!p->is_valid)
			continue;
		if (!p->nprograms || !p->cpus || (p->cpus >> lim->ncpus) ||
		    p->priority > lim->max_priority || p->mem_kib < MANIFEST_MIN_MEM_KIB ||
		    (p->mem_kib & (p->mem_kib - 1)) || p->budget_us > p->period_us)
			abort();
		for (const struct manifest_program *g = p->programs; g; g = g->next)
			if (!g->argc || g->argc > MANIFEST_ARGS_MAX ||
			    strlen(g->argv[0]) >= MANIFEST_PATH_MAX)
				abort();
		total += p->mem_kib;
	}
	if (total > lim->mem_kib)
		abort();
	for (const struct manifest_channel *c = m->channels; c; c = c->next)
		if (c->is_valid &&
		    (!c->from || !c->to || c->from == c->to || !c->from->is_valid ||
		     !c->to->is_valid || manifest_ring_bytes(c) > MANIFEST_RING_MAX_BYTES))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct manifest_limits lim = {256 * 1024, 2, 200};
	char *copy = malloc(size ? size : 1);
	struct manifest m, small;

	memcpy(copy, data, size);
	struct manifest_arena a = {arena_mem, sizeof(arena_mem), 0};
	enum manifest_status st = manifest_parse(copy, size, &lim, &a, &m);
	if (a.used > a.size || (st == MANIFEST_OK) != (m.nerrors == 0 && !m.arena_full))
		abort();
	if (st != MANIFEST_ARENA_FULL) {
		check(&m, copy, size, &lim);
		uint32_t nerr = m.nerrors;
		struct manifest_arena b = {arena_mem, 1024, 0};
		enum manifest_status st2 = manifest_parse(copy, size, &lim, &b, &small);
		if (b.used > b.size ||
		    (st2 != MANIFEST_ARENA_FULL && (st2 != st || small.nerrors != nerr)))
			abort();
	}
	free(copy);
	return 0;
}
