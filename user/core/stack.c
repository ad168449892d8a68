// SPDX-License-Identifier: GPL-2.0
/* stack.c - interned user stacks and the leak grouping (stack.h).
 *
 * The intern table is an open-addressing hash of stack pointers keyed by a
 * hash of (pid, flags, frame addresses); stacks themselves sit in an array
 * indexed by id - 1, each allocated once and never moved, so pointers handed
 * out stay valid until the table is freed. A run has thousands of distinct
 * stacks, not millions: nothing is ever evicted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fmt.h"
#include "stack.h"

struct stk {
	struct am_stack s;       /* s.f points at frames */
	uint64_t hash;
	struct am_frame frames[];
};

struct am_stacktab {
	struct stk **by_id;      /* [id - 1] */
	size_t n, cap_id;
	uint32_t *slot;          /* hash slots: id, 0 = empty */
	size_t cap;              /* power of two */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static uint64_t stack_hash(uint32_t pid, const struct am_frame *f, size_t n, uint32_t flags)
{
	uint64_t h = mix((uint64_t)pid << 32 | flags, n);

	for (size_t i = 0; i < n; i++)
		h = mix(h, f[i].addr);
	return h ? h : 1;
}

/* Symbolized alike (interned strings compare by pointer): a stack first
 * seen before its objects were known is not reused once they are. */
static bool same_names(const struct am_frame *a, const struct am_frame *b)
{
	return a->sym == b->sym && a->obj == b->obj;
}

static bool same(const struct stk *s, uint32_t pid, const struct am_frame *f, size_t n,
		 uint32_t flags)
{
	if (s->s.pid != pid || s->s.n != n || s->s.flags != flags)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s->frames[i].addr != f[i].addr || !same_names(&s->frames[i], &f[i]))
			return false;
	return true;
}

struct am_stacktab *am_stacktab__new(void)
{
	return calloc(1, sizeof(struct am_stacktab));
}

void am_stacktab__free(struct am_stacktab *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		free(t->by_id[i]);
	free(t->by_id);
	free(t->slot);
	free(t);
}

static bool rehash(struct am_stacktab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256;
	uint32_t *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return false;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = t->by_id[i]->hash & (ncap - 1);

		while (ns[j])
			j = (j + 1) & (ncap - 1);
		ns[j] = (uint32_t)(i + 1);
	}
	free(t->slot);
	t->slot = ns;
	t->cap = ncap;
	return true;
}

const struct am_stack *am_stacktab__intern(struct am_stacktab *t, uint32_t pid,
					   const struct am_frame *f, size_t n, uint32_t flags)
{
	uint64_t h;
	size_t j;
	struct stk *s;

	if (!n || n > UINT32_MAX)
		return NULL;
	if ((t->n + 1) * 2 > t->cap && !rehash(t))
		return NULL;
	h = stack_hash(pid, f, n, flags);
	for (j = h & (t->cap - 1); t->slot[j]; j = (j + 1) & (t->cap - 1)) {
		s = t->by_id[t->slot[j] - 1];
		if (s->hash == h && same(s, pid, f, n, flags))
			return &s->s;
	}
	if (t->n == t->cap_id) {
		size_t nc = t->cap_id ? t->cap_id * 2 : 256;
		struct stk **nb = realloc(t->by_id, nc * sizeof(*nb));

		if (!nb)
			return NULL;
		t->by_id = nb;
		t->cap_id = nc;
	}
	s = malloc(sizeof(*s) + n * sizeof(s->frames[0]));
	if (!s)
		return NULL;
	memcpy(s->frames, f, n * sizeof(*f));
	s->hash = h;
	s->s = (struct am_stack){
		.id = (uint32_t)(t->n + 1), .pid = pid, .n = (uint32_t)n, .flags = flags,
		.f = s->frames,
	};
	t->by_id[t->n++] = s;
	t->slot[j] = s->s.id;
	return &s->s;
}

const struct am_stack *am_stacktab__get(const struct am_stacktab *t, uint32_t id)
{
	return id && id <= t->n ? &t->by_id[id - 1]->s : NULL;
}

size_t am_stacktab__count(const struct am_stacktab *t)
{
	return t->n;
}

/* ---------- leaks ---------- */

static int leak_in_cmp(const void *a, const void *b)
{
	const struct am_leak_in *x = a, *y = b;
	uint32_t sx = x->stack ? x->stack->id : 0, sy = y->stack ? y->stack->id : 0;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return sx < sy ? -1 : sx > sy;
}

static int leak_cmp(const void *a, const void *b)
{
	const struct am_leak *x = a, *y = b;
	uint32_t sx = x->stack ? x->stack->id : UINT32_MAX, sy = y->stack ? y->stack->id : UINT32_MAX;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (sx != sy)
		return sx < sy ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

long am_leaks_group(const struct am_leak_in *in, size_t n, struct am_leak **out)
{
	struct am_leak_in *s;
	struct am_leak *g;
	size_t k = 0;

	*out = NULL;
	if (!n)
		return 0;
	s = malloc(n * sizeof(*s));
	g = calloc(n, sizeof(*g));
	if (!s || !g) {
		free(s);
		free(g);
		return -1;
	}
	memcpy(s, in, n * sizeof(*s));
	qsort(s, n, sizeof(*s), leak_in_cmp);
	for (size_t i = 0; i < n; i++) {
		struct am_leak *cur = k ? &g[k - 1] : NULL;
		unsigned r = s[i].region < AM_REG__COUNT ? s[i].region : AM_REG_UNKNOWN;

		if (!cur || cur->pid != s[i].pid || cur->stack != s[i].stack) {
			cur = &g[k++];
			cur->pid = s[i].pid;
			cur->stack = s[i].stack;
		}
		cur->count++;
		cur->bytes += s[i].size;
		cur->region_count[r]++;
		cur->region_bytes[r] += s[i].size;
	}
	free(s);
	qsort(g, k, sizeof(*g), leak_cmp);
	*out = g;
	return (long)k;
}

char *am_frame_name(char *buf, size_t size, const struct am_frame *f)
{
	char pb[512];

	/* printable: a newline in a name would forge a folded line */
	if (f->sym)
		snprintf(buf, size, "%s", am_printable(pb, sizeof(pb), f->sym));
	else if (f->obj)
		snprintf(buf, size, "%s+0x%llx", am_printable(pb, sizeof(pb), f->obj), (unsigned long long)f->off);
	else
		snprintf(buf, size, "0x%llx", (unsigned long long)f->addr);
	for (char *p = buf; *p; p++)
		if (*p == ';')
			*p = ':';
	return buf;
}
