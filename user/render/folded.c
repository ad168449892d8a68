// SPDX-License-Identifier: GPL-2.0
/* folded.c - folded-stack writer behind folded.h.
 *
 * Weights are kept per interned stack id (two arrays indexed by id), so
 * accumulating costs O(1) per record whatever the stack's depth; the
 * strings are only built once, at write time. Frames are named by
 * am_frame_name (symbol, else obj+offset, else the address) and written
 * root first, as flamegraph.pl and speedscope expect. */
#include <stdlib.h>
#include <string.h>
#include "folded.h"
#include "sites.h"
#include "stack.h"

#define BRK_PIDS 256

struct am_folded {
	uint64_t *w[2];                  /* [which][stack id] */
	const struct am_stack **stk;     /* [stack id] */
	size_t cap;
	struct { uint32_t pid; uint64_t brk; } brk[BRK_PIDS]; /* last break per pid */
};

struct line {
	char *s;
	uint64_t w;
};

struct am_folded *am_folded__new(void)
{
	return calloc(1, sizeof(struct am_folded));
}

void am_folded__free(struct am_folded *f)
{
	if (!f)
		return;
	free(f->w[0]);
	free(f->w[1]);
	free(f->stk);
	free(f);
}

static bool grow(struct am_folded *f, size_t id)
{
	size_t nc = f->cap ? f->cap : 256;

	while (nc <= id)
		nc *= 2;
	for (int k = 0; k < 2; k++) {
		uint64_t *nw = realloc(f->w[k], nc * sizeof(*nw));

		if (!nw)
			return false;
		memset(nw + f->cap, 0, (nc - f->cap) * sizeof(*nw));
		f->w[k] = nw;
	}
	const struct am_stack **ns = realloc(f->stk, nc * sizeof(*ns));
	if (!ns)
		return false;
	memset(ns + f->cap, 0, (nc - f->cap) * sizeof(*ns));
	f->stk = ns;
	f->cap = nc;
	return true;
}

void am_folded__add(struct am_folded *f, int which, const struct am_stack *s, uint64_t w)
{
	if (!s || !w || which < 0 || which > 1)
		return;
	if (s->id >= f->cap && !grow(f, s->id))
		return;
	f->stk[s->id] = s;
	f->w[which][s->id] += w;
}

uint64_t am_folded_os_bytes(const struct am_os_rec *r, uint64_t prev_brk)
{
	return am_os_obtained(r, prev_brk);
}

/* Last break of pid, replaced by brk (when non-zero). */
static uint64_t brk_swap(struct am_folded *f, uint32_t pid, uint64_t brk)
{
	unsigned h = (pid * 2654435761u) % BRK_PIDS;

	for (unsigned i = 0; i < BRK_PIDS; i++) {
		unsigned k = (h + i) % BRK_PIDS;
		uint64_t prev;

		if (f->brk[k].pid && f->brk[k].pid != pid)
			continue;
		prev = f->brk[k].pid ? f->brk[k].brk : 0;
		f->brk[k].pid = pid;
		if (brk)
			f->brk[k].brk = brk;
		return prev;
	}
	return 0;
}

static void on_os_rec(struct am_folded *f, const struct am_os_rec *r)
{
	uint64_t prev = 0;

	if (r->ev.sys == AM_SYS_BRK && !(r->ev.ret < 0 && r->ev.ret >= -4095))
		prev = brk_swap(f, r->ev.pid, (uint64_t)r->ev.ret);
	am_folded__add(f, 0, r->stack, am_folded_os_bytes(r, prev));
}

static void sink_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	struct am_folded *f = ctx;

	for (size_t i = 0; i < n; i++)
		on_os_rec(f, &os[i]);
	if (c->allocates && c->ptr_out && !(c->ev.flags & AM_CALL_NESTED))
		am_folded__add(f, 1, c->stack, c->size);
}

static void sink_os(void *ctx, const struct am_os_rec *r)
{
	on_os_rec(ctx, r);
}

void am_folded__sink(struct am_folded *f, struct am_sink *sink)
{
	*sink = (struct am_sink){ .ctx = f, .call = sink_call, .os = sink_os };
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(((const struct line *)a)->s, ((const struct line *)b)->s);
}

/* "root;...;leaf" of s, malloc'ed. */
static char *fold(const struct am_stack *s)
{
	size_t cap = 256, len = 0;
	char *out = malloc(cap), name[512];

	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = s->n; i-- > 0;) {
		size_t k;

		am_frame_name(name, sizeof(name), &s->f[i]);
		k = strlen(name);
		if (len + k + 2 > cap) {
			char *no;

			while (len + k + 2 > cap)
				cap *= 2;
			no = realloc(out, cap);
			if (!no) {
				free(out);
				return NULL;
			}
			out = no;
		}
		if (len)
			out[len++] = ';';
		memcpy(out + len, name, k + 1);
		len += k;
	}
	return out;
}

long am_folded__write(struct am_folded *f, int which, FILE *out)
{
	struct line *ls;
	size_t n = 0, k = 0;
	long written = 0;

	if (which < 0 || which > 1)
		return -1;
	for (size_t id = 0; id < f->cap; id++)
		n += f->w[which][id] && f->stk[id];
	if (!n)
		return 0;
	ls = calloc(n, sizeof(*ls));
	if (!ls)
		return -1;
	for (size_t id = 0; id < f->cap; id++) {
		if (!f->w[which][id] || !f->stk[id])
			continue;
		ls[k].s = fold(f->stk[id]);
		ls[k].w = f->w[which][id];
		if (!ls[k].s) {
			written = -1;
			break;
		}
		k++;
	}
	if (written == 0) {
		qsort(ls, k, sizeof(*ls), line_cmp);
		for (size_t i = 0; i < k; i++) {
			uint64_t w = ls[i].w;

			while (i + 1 < k && !strcmp(ls[i].s, ls[i + 1].s))
				w += ls[++i].w;
			fprintf(out, "%s %llu\n", ls[i].s, (unsigned long long)w);
			written++;
		}
	}
	for (size_t i = 0; i < k; i++)
		free(ls[i].s);
	free(ls);
	return ferror(out) ? -1 : written;
}
