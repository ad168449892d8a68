// SPDX-License-Identifier: GPL-2.0
/* report_sites.c - the call sites of the HTML report (report_sites.h).
 *
 * Feeding: every record goes to the replay (sites_replay.c), which calls
 * back with each "call" and what the aggregation did with it (AM_SITE_*).
 * An allocation or a call whose OS requests count for its stack is filed
 * under its stack's key (the aggregation's: stack id, or the pid for calls
 * without a stack): up to RS_ALLOCS_STACK allocations and RS_OS_STACK OS
 * request ids per stack, RS_ALLOCS_KEPT / RS_OS_KEPT over all. A kept
 * allocation stays in a small table while live, so its free is seen
 * (freed at that call's end; "gone" when its address was handed out again
 * or an exec dropped it, unseen).
 *
 * Writing: the aggregation's report gives the sites; the page gets the
 * union of the top RS_SITES_PER_COL by every column (so sorting by any
 * column shows the true top), the others summed up. A kept stack's key
 * finds its site (the report's stacks carry their site), the blocks live
 * at the end find their region in the report model. The flame graph gets
 * the union of the top RS_FLAME_PER_WEIGHT stacks by each weight, frames
 * root first down to the site's caller (the site is the leaf), within
 * RS_FLAME_FRAMES frames; the rest is one sum so every weight's total stays
 * the table's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report_sites.h"
#include "sites_out.h"
#include "sites_replay.h"
#include "stack.h"

#define RS_SITES_PER_COL    300
#define RS_ALLOCS_KEPT      20000
#define RS_ALLOCS_STACK     100
#define RS_ALLOCS_SITE      200
#define RS_OS_KEPT          20000
#define RS_OS_STACK         100
#define RS_OS_SITE          200
#define RS_REGIONS_SITE     64
#define RS_FLAME_PER_WEIGHT 1500
#define RS_FLAME_FRAMES     150000
#define RS_LIVE_CAP         65536   /* kept-live slots: > 3 x RS_ALLOCS_KEPT, never rehashed */
#define RS_TOMB             UINT32_MAX
#define RS_TCOLS            256     /* allocations by time: columns (adaptive width) */
#define RS_TCELLS           (1u << 20) /* (stack, column) cells kept; beyond: no range */

/* One allocation stack's key, as sites.c keys its entries. */
static uint64_t stack_key(const struct am_stack *st, uint32_t pid)
{
	return st ? st->id : (1ULL << 63) | pid;
}

static inline uint64_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

struct rs_stk {               /* what was kept of one stack */
	uint64_t key;             /* 0: empty slot */
	uint64_t os_total;        /* OS requests of its counted calls */
	uint32_t allocs_kept, os_kept;
};

struct rs_alloc {
	uint64_t key, id, ptr, size, t0;
	int64_t  t1;              /* relative ns; -1 live, -2 gone unseen */
	uint32_t pid, tid;
	int32_t  region;          /* report model region, -1 */
	uint32_t rgen;
	int32_t  site;            /* set when writing */
};

struct rs_os {
	uint64_t key, id;
	int32_t  site;
};

struct am_rsites {
	struct am_replay *rp;
	const struct rm_model *m;     /* the model fed the current record */
	bool     failed;              /* memory ran out while feeding */
	struct rs_stk *stk;           /* hash by key */
	size_t   n_stk, cap_stk;
	struct rs_alloc *al;          /* RS_ALLOCS_KEPT */
	size_t   n_al;
	struct rs_os *os;             /* RS_OS_KEPT */
	size_t   n_os;
	uint32_t *live;               /* (pid, ptr) -> al index + 1; RS_TOMB removed */
	/* allocations by the column (tw ns wide, doubled as the trace grows)
	 * their call began in, per stack key: hash of cells (key, column) */
	struct rs_tcell { uint64_t key, col, calls, bytes; } *tc;
	size_t   n_tc, cap_tc;
	uint64_t tw;
	bool     t_over;              /* more cells than RS_TCELLS: no range */
};

/* ---------- feeding ---------- */

static struct rs_stk *stk_entry(struct am_rsites *s, uint64_t key)
{
	size_t j;

	if ((s->n_stk + 1) * 2 > s->cap_stk) {
		size_t nc = s->cap_stk ? s->cap_stk * 2 : 256;
		struct rs_stk *n = calloc(nc, sizeof(*n));

		if (!n)
			return NULL;
		for (size_t i = 0; i < s->cap_stk; i++) {
			if (!s->stk[i].key)
				continue;
			for (j = mix64(s->stk[i].key) & (nc - 1); n[j].key; j = (j + 1) & (nc - 1))
				;
			n[j] = s->stk[i];
		}
		free(s->stk);
		s->stk = n;
		s->cap_stk = nc;
	}
	for (j = mix64(key) & (s->cap_stk - 1); s->stk[j].key; j = (j + 1) & (s->cap_stk - 1))
		if (s->stk[j].key == key)
			return &s->stk[j];
	s->stk[j].key = key;
	s->n_stk++;
	return &s->stk[j];
}

static size_t live_home(uint32_t pid, uint64_t ptr)
{
	return mix64(ptr ^ (uint64_t)pid << 40) & (RS_LIVE_CAP - 1);
}

/* The live-table slot of the kept allocation at (pid, ptr), or NULL. */
static uint32_t *live_find(struct am_rsites *s, uint32_t pid, uint64_t ptr)
{
	for (size_t j = live_home(pid, ptr); s->live[j]; j = (j + 1) & (RS_LIVE_CAP - 1)) {
		const struct rs_alloc *a;

		if (s->live[j] == RS_TOMB)
			continue;
		a = &s->al[s->live[j] - 1];
		if (a->ptr == ptr && a->pid == pid)
			return &s->live[j];
	}
	return NULL;
}

/* The kept allocation at (pid, ptr), if any, is gone at t1. */
static void live_gone(struct am_rsites *s, uint32_t pid, uint64_t ptr, int64_t t1)
{
	uint32_t *v = ptr ? live_find(s, pid, ptr) : NULL;

	if (!v)
		return;
	s->al[*v - 1].t1 = t1;
	*v = RS_TOMB;
}

/* Keeps allocation c of the stack with key (room was checked). */
static void keep_alloc(struct am_rsites *s, const struct am_call_rec *c, uint64_t key, uint64_t t)
{
	struct rs_alloc *a = &s->al[s->n_al];
	uint64_t call_id = 0;
	size_t j;

	*a = (struct rs_alloc){ .key = key, .id = c->ev.id, .ptr = c->ptr_out, .size = c->size, .t0 = t,
				.t1 = -1, .pid = c->ev.pid, .tid = c->ev.tid, .region = -1 };
	/* the report model placed it (it was fed the record first) */
	if (!rm_live_at(s->m, c->ptr_out, &a->region, &a->rgen, &call_id) || call_id != c->ev.id)
		a->region = -1;
	s->n_al++;
	for (j = live_home(a->pid, a->ptr); s->live[j] && s->live[j] != RS_TOMB; j = (j + 1) & (RS_LIVE_CAP - 1))
		;
	s->live[j] = (uint32_t)s->n_al;
}

/* Re-files the cells into a table of nc slots, each column c as c / div. */
static bool tc_rehash(struct am_rsites *s, size_t nc, uint64_t div)
{
	struct rs_tcell *n = calloc(nc, sizeof(*n));
	size_t cnt = 0;

	if (!n)
		return false;
	for (size_t i = 0; i < s->cap_tc; i++) {
		struct rs_tcell c = s->tc[i];
		size_t j;

		if (!c.key)
			continue;
		c.col /= div;
		for (j = mix64(c.key ^ mix64(c.col)) & (nc - 1); n[j].key; j = (j + 1) & (nc - 1))
			if (n[j].key == c.key && n[j].col == c.col)
				break;
		if (!n[j].key)
			cnt++;
		n[j].key = c.key;
		n[j].col = c.col;
		n[j].calls += c.calls;
		n[j].bytes += c.bytes;
	}
	free(s->tc);
	s->tc = n;
	s->cap_tc = nc;
	s->n_tc = cnt;
	return true;
}

/* Counts an allocation of size bytes whose call began at t (relative). */
static void tc_add(struct am_rsites *s, uint64_t key, uint64_t t, uint64_t size)
{
	size_t j;

	if (s->t_over)
		return;
	while (t / s->tw >= RS_TCOLS) {
		if (s->cap_tc && !tc_rehash(s, s->cap_tc, 2))
			goto oom;
		s->tw *= 2;
	}
	if ((s->n_tc + 1) * 2 > s->cap_tc) {
		if (s->n_tc >= RS_TCELLS) {
			s->t_over = true;
			return;
		}
		if (!tc_rehash(s, s->cap_tc ? s->cap_tc * 2 : 1024, 1))
			goto oom;
	}
	for (j = mix64(key ^ mix64(t / s->tw)) & (s->cap_tc - 1); s->tc[j].key; j = (j + 1) & (s->cap_tc - 1))
		if (s->tc[j].key == key && s->tc[j].col == t / s->tw)
			break;
	if (!s->tc[j].key) {
		s->tc[j].key = key;
		s->tc[j].col = t / s->tw;
		s->n_tc++;
	}
	s->tc[j].calls++;
	s->tc[j].bytes += size;
	return;
oom:
	s->t_over = true;
}

static void on_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n_os,
		    unsigned done)
{
	struct am_rsites *s = ctx;
	uint64_t key = stack_key(c->stack, c->ev.pid);
	uint64_t t = rm_rel(s->m, c->ev.ts_exit ? c->ev.ts_exit : c->ev.ts_enter);
	struct rs_stk *e;

	if (done & AM_SITE_FREED)
		live_gone(s, c->ev.pid, c->ptr_in, (int64_t)t);
	if (done & AM_SITE_ALLOC)   /* a kept block at this address was never seen freed */
		live_gone(s, c->ev.pid, c->ptr_out, -2);
	if (!(done & (AM_SITE_ALLOC | AM_SITE_OS)))
		return;
	e = stk_entry(s, key);
	if (!e) {
		s->failed = true;
		return;
	}
	e->os_total += n_os;
	for (size_t i = 0; i < n_os && e->os_kept < RS_OS_STACK && s->n_os < RS_OS_KEPT; i++) {
		s->os[s->n_os++] = (struct rs_os){ .key = key, .id = os[i].ev.id };
		e->os_kept++;
	}
	if (done & AM_SITE_ALLOC)
		tc_add(s, key, rm_rel(s->m, c->ev.ts_enter), c->size);
	if ((done & AM_SITE_ALLOC) && e->allocs_kept < RS_ALLOCS_STACK && s->n_al < RS_ALLOCS_KEPT) {
		keep_alloc(s, c, key, t);
		e->allocs_kept++;
	}
}

void am_rsites__record(struct am_rsites *s, json_object *rec, const struct rm_model *m)
{
	json_object *type = NULL, *kind = NULL, *pid = NULL;

	if (!s || s->failed)
		return;
	s->m = m;
	if (am_replay__record(s->rp, rec) < 0) {
		s->failed = true;
		return;
	}
	/* an exec drops the old image's blocks: neither freed nor leaked */
	if (json_object_object_get_ex(rec, "type", &type) && json_object_is_type(type, json_type_string) &&
	    !strcmp(json_object_get_string(type), "task") && json_object_object_get_ex(rec, "kind", &kind) &&
	    json_object_is_type(kind, json_type_string) && !strcmp(json_object_get_string(kind), "exec") &&
	    json_object_object_get_ex(rec, "pid", &pid)) {
		uint32_t p = (uint32_t)json_object_get_int64(pid);

		for (size_t j = 0; j < RS_LIVE_CAP; j++)
			if (s->live[j] && s->live[j] != RS_TOMB && s->al[s->live[j] - 1].pid == p) {
				s->al[s->live[j] - 1].t1 = -2;
				s->live[j] = RS_TOMB;
			}
	}
}

struct am_rsites *am_rsites__new(void)
{
	struct am_rsites *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->rp = am_replay__new();
	s->al = malloc(RS_ALLOCS_KEPT * sizeof(*s->al));
	s->os = malloc(RS_OS_KEPT * sizeof(*s->os));
	s->live = calloc(RS_LIVE_CAP, sizeof(*s->live));
	s->tw = 1000;
	if (!s->rp || !s->al || !s->os || !s->live) {
		am_rsites__free(s);
		return NULL;
	}
	am_replay__observe(s->rp, on_call, s);
	return s;
}

void am_rsites__free(struct am_rsites *s)
{
	if (!s)
		return;
	am_replay__free(s->rp);
	free(s->stk);
	free(s->al);
	free(s->os);
	free(s->live);
	free(s->tc);
	free(s);
}

/* ---------- string and frame tables ---------- */

struct tab {
	char   **str;             /* copies, by id */
	size_t   nstr, capstr;
	uint32_t *sh;             /* string id + 1 by hash */
	size_t   shcap;
	uint32_t *fr;             /* frames: 4 per id (name, obj, file: string id + 1, 0 absent; line) */
	size_t   nfr, capfr;
	uint32_t *fh;             /* frame id + 1 by hash */
	size_t   fhcap;
	bool     oom;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* Grows an id + 1 hash of cap slots to hold n + 1 ids. */
static bool hash_room(uint32_t **h, size_t *cap, size_t n, uint64_t (*hash_of)(const struct tab *, uint32_t),
		      const struct tab *t)
{
	size_t nc;
	uint32_t *nh;

	if ((n + 1) * 2 <= *cap)
		return true;
	nc = *cap ? *cap * 2 : 1024;
	nh = calloc(nc, sizeof(*nh));
	if (!nh)
		return false;
	for (size_t i = 0; i < *cap; i++) {
		size_t j;

		if (!(*h)[i])
			continue;
		for (j = hash_of(t, (*h)[i] - 1) & (nc - 1); nh[j]; j = (j + 1) & (nc - 1))
			;
		nh[j] = (*h)[i];
	}
	free(*h);
	*h = nh;
	*cap = nc;
	return true;
}

static uint64_t str_hash_id(const struct tab *t, uint32_t id)
{
	return str_hash(t->str[id]);
}

/* String id + 1 of s (0 for NULL, and when memory runs out). */
static uint32_t tab_str(struct tab *t, const char *s)
{
	size_t j;

	if (!s || t->oom)
		return 0;
	if (!hash_room(&t->sh, &t->shcap, t->nstr, str_hash_id, t))
		goto oom;
	for (j = str_hash(s) & (t->shcap - 1); t->sh[j]; j = (j + 1) & (t->shcap - 1))
		if (!strcmp(t->str[t->sh[j] - 1], s))
			return t->sh[j];
	if (t->nstr == t->capstr) {
		size_t nc = t->capstr ? t->capstr * 2 : 256;
		char **ns = realloc(t->str, nc * sizeof(*ns));

		if (!ns)
			goto oom;
		t->str = ns;
		t->capstr = nc;
	}
	t->str[t->nstr] = strdup(s);
	if (!t->str[t->nstr])
		goto oom;
	t->sh[j] = (uint32_t)++t->nstr;
	return t->sh[j];
oom:
	t->oom = true;
	return 0;
}

static uint64_t frame_hash(const uint32_t *f)
{
	return mix64(((uint64_t)f[0] << 40) ^ ((uint64_t)f[1] << 20) ^ f[2] ^ ((uint64_t)f[3] << 52));
}

static uint64_t frame_hash_id(const struct tab *t, uint32_t id)
{
	return frame_hash(&t->fr[id * 4]);
}

/* Frame id of f (its name, object, file, line);
 * -1 when memory runs out. */
static int64_t tab_frame(struct tab *t, const struct am_frame *f)
{
	char name[512];
	uint32_t k[4];
	size_t j;

	/* the symbol as it is (the page shows text as text), else "obj+0xOFF" / "0xADDR" */
	k[0] = tab_str(t, f->sym ? f->sym : am_frame_name(name, sizeof(name), f));
	k[1] = tab_str(t, f->obj);
	k[2] = tab_str(t, f->file);
	k[3] = f->file ? f->line : 0;
	if (t->oom || !hash_room(&t->fh, &t->fhcap, t->nfr, frame_hash_id, t))
		goto oom;
	for (j = frame_hash(k) & (t->fhcap - 1); t->fh[j]; j = (j + 1) & (t->fhcap - 1))
		if (!memcmp(&t->fr[(t->fh[j] - 1) * 4], k, sizeof(k)))
			return t->fh[j] - 1;
	if (t->nfr == t->capfr) {
		size_t nc = t->capfr ? t->capfr * 2 : 256;
		uint32_t *nf = realloc(t->fr, nc * 4 * sizeof(*nf));

		if (!nf)
			goto oom;
		t->fr = nf;
		t->capfr = nc;
	}
	memcpy(&t->fr[t->nfr * 4], k, sizeof(k));
	t->fh[j] = (uint32_t)++t->nfr;
	return t->fh[j] - 1;
oom:
	t->oom = true;
	return -1;
}

static void tab_free(struct tab *t)
{
	for (size_t i = 0; i < t->nstr; i++)
		free(t->str[i]);
	free(t->str);
	free(t->sh);
	free(t->fr);
	free(t->fh);
}

/* ---------- writing ---------- */

/* What the page gets, worked out before anything is written. */
struct plan {
	const struct am_sites_report *r;
	const struct rm_model *m;
	int32_t  *out;            /* [site] index in the page, -1 not kept */
	uint32_t *kept;           /* page index -> site */
	size_t    n_kept;
	struct skey { uint64_t key; uint32_t site; uint32_t stack; } *keys; /* the stacks' keys, sorted */
	int64_t  *site_frame;     /* [page index] frame id, -1 none */
	uint64_t *os_count;       /* [page index] OS requests its calls caused */
	int64_t  *stack_frames;   /* [stack] first frame's index in sframes, -1 not drawn */
	uint32_t *sframes;        /* frame ids of the drawn stacks, root first */
	size_t    n_sframes;
	struct am_site_fig rest_sites, rest_stacks; /* not kept / not drawn */
	size_t    n_rest_stacks;
	struct lreg { uint32_t site; int region; uint64_t count, bytes; } *lr; /* live at end */
	size_t    n_lr, cap_lr;
	struct tab t;
	uint64_t  sample;         /* the trace's --sample rate */
	bool      oom;
};

static int key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The site of a stack key, -1 unknown. */
static int64_t site_of(const struct plan *p, uint64_t key)
{
	const struct skey *hit = bsearch(&key, p->keys, p->r->n_stacks, sizeof(*p->keys), key_cmp);

	return hit ? (int64_t)hit->site : -1;
}

static void fig_sum(struct am_site_fig *to, const struct am_site_fig *f)
{
	to->calls += f->calls;
	to->bytes += f->bytes;
	to->peak_count += f->peak_count;
	to->peak_bytes += f->peak_bytes;
	to->leak_count += f->leak_count;
	to->leak_bytes += f->leak_bytes;
	to->temp_count += f->temp_count;
	to->temp_bytes += f->temp_bytes;
	to->os_bytes += f->os_bytes;
}

/* Sites kept: the top RS_SITES_PER_COL by each column, in the report's order. */
static bool plan_sites(struct plan *p)
{
	const struct am_sites_report *r = p->r;
	size_t n = r->n_sites;

	p->out = malloc((n ? n : 1) * sizeof(*p->out));
	p->kept = malloc((n ? n : 1) * sizeof(*p->kept));
	p->keys = malloc((r->n_stacks ? r->n_stacks : 1) * sizeof(*p->keys));
	if (!p->out || !p->kept || !p->keys)
		return false;
	for (size_t i = 0; i < n; i++)
		p->out[i] = -1;
	for (int col = 0; col < AM_SORT__COUNT && n; col++) {
		size_t *ix = am_sites_order(r, (enum am_site_sort)col);

		if (!ix)
			return false;
		for (size_t i = 0; i < n && i < RS_SITES_PER_COL; i++)
			p->out[ix[i]] = 0;
		free(ix);
	}
	for (size_t i = 0; i < n; i++) {
		if (p->out[i] < 0) {
			fig_sum(&p->rest_sites, &r->sites[i].f);
			continue;
		}
		p->out[i] = (int32_t)p->n_kept;
		p->kept[p->n_kept++] = (uint32_t)i;
	}
	for (size_t i = 0; i < r->n_stacks; i++) {
		p->keys[i].key = stack_key(r->stacks[i].stack, r->stacks[i].pid);
		p->keys[i].site = r->stacks[i].site;
		p->keys[i].stack = (uint32_t)i;
	}
	if (r->n_stacks > 1)
		qsort(p->keys, r->n_stacks, sizeof(*p->keys), key_cmp);
	return true;
}

static uint64_t stack_weight(const struct am_site_fig *f, int w)
{
	return w == 0 ? f->bytes : w == 1 ? f->peak_bytes : w == 2 ? f->leak_bytes : f->temp_bytes;
}

/* Stack indexes by one weight, largest first (ctx: the report, the weight). */
static int weight_cmp(const void *a, const void *b, void *ctx)
{
	const struct am_sites_report *r = ((const void **)ctx)[0];
	int w = *(const int *)((const void **)ctx)[1];
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	uint64_t x = stack_weight(&r->stacks[i].f, w), y = stack_weight(&r->stacks[j].f, w);

	if (x != y)
		return x > y ? -1 : 1;
	return i < j ? -1 : i > j;
}

/* Frames of stack st drawn in the flame graph: root first, down to the
 * site's caller (the site frame st->f[skip] is the leaf: the site). */
static bool plan_one_stack(struct plan *p, const struct am_site_stack *st, size_t i)
{
	uint32_t n = st->stack ? st->stack->n : 0, first = st->skip + 1;

	p->stack_frames[i] = (int64_t)p->n_sframes;
	for (uint32_t k = n; k-- > first;) {
		int64_t id = tab_frame(&p->t, &st->stack->f[k]);

		if (id < 0)
			return false;
		p->sframes[p->n_sframes++] = (uint32_t)id;
	}
	return true;
}

/* Stacks drawn: the top RS_FLAME_PER_WEIGHT by each weight, of kept sites,
 * while their frames fit RS_FLAME_FRAMES. */
static bool plan_stacks(struct plan *p)
{
	const struct am_sites_report *r = p->r;
	size_t n = r->n_stacks, *ix = malloc((n ? n : 1) * sizeof(*ix));
	bool *pick = calloc(n ? n : 1, sizeof(*pick));
	bool ok = ix && pick;

	p->stack_frames = malloc((n ? n : 1) * sizeof(*p->stack_frames));
	p->sframes = malloc(RS_FLAME_FRAMES * sizeof(*p->sframes));
	if (!ok || !p->stack_frames || !p->sframes)
		goto out;
	for (int w = 0; w < 4; w++) {
		const void *ctx[2] = { r, &w };

		for (size_t i = 0; i < n; i++)
			ix[i] = i;
		qsort_r(ix, n, sizeof(*ix), weight_cmp, ctx);
		for (size_t i = 0; i < n && i < RS_FLAME_PER_WEIGHT; i++)
			if (stack_weight(&r->stacks[ix[i]].f, w))
				pick[ix[i]] = true;
	}
	for (size_t i = 0; i < n && ok; i++) {
		const struct am_site_stack *st = &r->stacks[i];
		uint32_t nf = st->stack && st->stack->n > st->skip ? st->stack->n - st->skip - 1 : 0;

		p->stack_frames[i] = -1;
		if (!stack_weight(&st->f, 0) && !stack_weight(&st->f, 1) && !stack_weight(&st->f, 2) &&
		    !stack_weight(&st->f, 3))
			continue;   /* weighs nothing in any view */
		if (!pick[i] || p->out[st->site] < 0 || p->n_sframes + nf > RS_FLAME_FRAMES) {
			fig_sum(&p->rest_stacks, &st->f);
			p->n_rest_stacks++;
			continue;
		}
		ok = plan_one_stack(p, st, i);
	}
out:
	free(ix);
	free(pick);
	return ok;
}

struct live_ctx {
	struct plan *p;
	uint32_t *slot;           /* (site, region) -> lr index + 1 hash */
	size_t cap;
};

static uint64_t lreg_key(const struct lreg *l)
{
	return mix64((uint64_t)l->site << 32 | (uint32_t)l->region);
}

/* Room for one more (site, region) pair: lr and its hash grown. */
static bool lreg_room(struct live_ctx *lc)
{
	struct plan *p = lc->p;

	if (p->n_lr == p->cap_lr) {
		size_t nc = p->cap_lr ? p->cap_lr * 2 : 256;
		struct lreg *n = realloc(p->lr, nc * sizeof(*n));

		if (!n)
			return false;
		p->lr = n;
		p->cap_lr = nc;
	}
	if ((p->n_lr + 1) * 2 > lc->cap) {
		size_t nc = lc->cap ? lc->cap * 2 : 512, j;
		uint32_t *n = calloc(nc, sizeof(*n));

		if (!n)
			return false;
		for (size_t i = 0; i < p->n_lr; i++) {
			for (j = lreg_key(&p->lr[i]) & (nc - 1); n[j]; j = (j + 1) & (nc - 1))
				;
			n[j] = (uint32_t)i + 1;
		}
		free(lc->slot);
		lc->slot = n;
		lc->cap = nc;
	}
	return true;
}

static void on_live(void *ctx, uint32_t pid, uint64_t ptr, uint64_t size, const struct am_stack *stack)
{
	struct live_ctx *lc = ctx;
	struct plan *p = lc->p;
	int64_t site = site_of(p, stack_key(stack, pid));
	struct lreg want = { .region = -1, .count = 1, .bytes = size };
	uint32_t rgen = 0;
	uint64_t call_id;
	size_t j;

	if (site < 0 || p->out[site] < 0 || p->oom)
		return;
	want.site = (uint32_t)site;
	if (rm_live_at(p->m, ptr, &want.region, &rgen, &call_id))
		want.region = rm_alloc_region(p->m, &(struct rm_alloc){ .region = want.region, .rgen = rgen });
	for (j = lc->cap ? lreg_key(&want) & (lc->cap - 1) : 0; lc->cap && lc->slot[j]; j = (j + 1) & (lc->cap - 1)) {
		struct lreg *l = &p->lr[lc->slot[j] - 1];

		if (l->site == want.site && l->region == want.region) {
			l->count++;
			l->bytes += size;
			return;
		}
	}
	if (!lreg_room(lc)) {
		p->oom = true;
		return;
	}
	for (j = lreg_key(&want) & (lc->cap - 1); lc->slot[j]; j = (j + 1) & (lc->cap - 1))
		;
	p->lr[p->n_lr] = want;
	lc->slot[j] = (uint32_t)++p->n_lr;
}

static int lreg_cmp(const void *a, const void *b)
{
	const struct lreg *x = a, *y = b;

	if (x->site != y->site)
		return x->site < y->site ? -1 : 1;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->region < y->region ? -1 : x->region > y->region;
}

/* Where the kept sites' blocks live at the end: (site, region) sums. */
static bool plan_live(struct plan *p, const struct am_rsites *s)
{
	struct live_ctx lc = { .p = p };

	am_replay__each_live(s->rp, on_live, &lc);
	free(lc.slot);
	if (p->n_lr > 1)
		qsort(p->lr, p->n_lr, sizeof(*p->lr), lreg_cmp);
	return !p->oom;
}

static int alloc_cmp(const void *a, const void *b)
{
	const struct rs_alloc *x = a, *y = b;

	if (x->site != y->site)
		return x->site < y->site ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int os_cmp(const void *a, const void *b)
{
	const struct rs_os *x = a, *y = b;

	if (x->site != y->site)
		return x->site < y->site ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The kept allocations and OS requests, grouped by site (-1: not kept). */
static void plan_lists(struct plan *p, struct am_rsites *s)
{
	for (size_t i = 0; i < s->n_al; i++) {
		int64_t site = site_of(p, s->al[i].key);

		s->al[i].site = site >= 0 ? p->out[site] : -1;
	}
	for (size_t i = 0; i < s->n_os; i++) {
		int64_t site = site_of(p, s->os[i].key);

		s->os[i].site = site >= 0 ? p->out[site] : -1;
	}
	if (s->n_al > 1)
		qsort(s->al, s->n_al, sizeof(*s->al), alloc_cmp);
	if (s->n_os > 1)
		qsort(s->os, s->n_os, sizeof(*s->os), os_cmp);
}

static void plan_free(struct plan *p)
{
	free(p->out);
	free(p->kept);
	free(p->keys);
	free(p->site_frame);
	free(p->os_count);
	free(p->stack_frames);
	free(p->sframes);
	free(p->lr);
	tab_free(&p->t);
}

/* The figures of a site, the sum of the rest, the total. */
static void put_fig(struct jsonw *w, const struct am_site_fig *f)
{
	am_site_fig_json(w, f);
}

/* Cursors into the grouped lists while the sites are written in order. */
struct cursors {
	size_t al, os, lr;
};

/* Site k of the page: figures, where its allocations were placed, the
 * first of its allocations and OS requests, where its blocks live. */
static void write_site(struct jsonw *w, const struct plan *p, const struct am_rsites *s, size_t k,
		       struct cursors *c)
{
	const struct am_site *site = &p->r->sites[p->kept[k]];
	size_t n;

	jsonw_obj_open(w);
	jsonw_ku64(w, "pid", site->pid);
	jsonw_ks64(w, "frame", p->site_frame[k]);
	jsonw_ku64(w, "stacks", site->n_stacks);
	put_fig(w, &site->f);
	jsonw_kobj_open(w, "placed");
	for (unsigned g = 0; g < AM_REG__COUNT; g++) {
		if (!site->f.region_count[g])
			continue;
		jsonw_karr_open(w, am_region_names[g] ? am_region_names[g] : "unknown");
		jsonw_u64(w, site->f.region_count[g]);
		jsonw_u64(w, site->f.region_bytes[g]);
		jsonw_arr_close(w);
	}
	jsonw_obj_close(w);
	/* allocations: id, address, size, t0, t1 (-1 live at the end, -2 gone
	 * unseen), region (-1), tid */
	while (c->al < s->n_al && s->al[c->al].site < (int32_t)k)
		c->al++;
	jsonw_karr_open(w, "allocs");
	for (n = 0; c->al < s->n_al && s->al[c->al].site == (int32_t)k; c->al++, n++) {
		const struct rs_alloc *a = &s->al[c->al];

		if (n >= RS_ALLOCS_SITE)
			continue;
		jsonw_u64(w, a->id);
		jsonw_u64(w, a->ptr);
		jsonw_u64(w, a->size);
		jsonw_u64(w, a->t0);
		jsonw_s64(w, a->t1);
		jsonw_s64(w, a->region < 0 ? -1 : rm_alloc_region(p->m, &(struct rm_alloc){ .region = a->region,
									       .rgen = a->rgen }));
		jsonw_u64(w, a->tid);
	}
	jsonw_arr_close(w);
	while (c->os < s->n_os && s->os[c->os].site < (int32_t)k)
		c->os++;
	jsonw_karr_open(w, "os");
	for (n = 0; c->os < s->n_os && s->os[c->os].site == (int32_t)k; c->os++, n++)
		if (n < RS_OS_SITE)
			jsonw_u64(w, s->os[c->os].id);
	jsonw_arr_close(w);
	jsonw_ku64(w, "os_count", p->os_count[k]);
	/* live at the end: region, count, bytes */
	jsonw_karr_open(w, "live_regions");
	for (n = 0; c->lr < p->n_lr && p->lr[c->lr].site <= p->kept[k]; c->lr++) {
		const struct lreg *l = &p->lr[c->lr];

		if (l->site != p->kept[k] || n++ >= RS_REGIONS_SITE)
			continue;
		jsonw_s64(w, l->region);
		jsonw_u64(w, l->count);
		jsonw_u64(w, l->bytes);
	}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

/* Per kept site: its frame's id and the OS requests of its stacks. */
static bool plan_site_extras(struct plan *p, const struct am_rsites *s)
{
	size_t n = p->n_kept ? p->n_kept : 1;

	p->site_frame = malloc(n * sizeof(*p->site_frame));
	p->os_count = calloc(n, sizeof(*p->os_count));
	if (!p->site_frame || !p->os_count)
		return false;
	for (size_t k = 0; k < p->n_kept; k++) {
		const struct am_frame *f = p->r->sites[p->kept[k]].frame;

		p->site_frame[k] = f ? tab_frame(&p->t, f) : -1;
	}
	for (size_t i = 0; i < s->cap_stk; i++) {
		int64_t site = s->stk[i].key ? site_of(p, s->stk[i].key) : -1;

		if (site >= 0 && p->out[site] >= 0)
			p->os_count[p->out[site]] += s->stk[i].os_total;
	}
	return !p->t.oom;
}

/* The drawn stacks, flat: site (page index), bytes, peak bytes, leaked
 * bytes, temporary bytes, calls, truncated (0/1), frame count, then the
 * frame ids root first. */
static void write_stacks(struct jsonw *w, const struct plan *p)
{
	const struct am_sites_report *r = p->r;

	jsonw_karr_open(w, "stacks");
	for (size_t i = 0; i < r->n_stacks; i++) {
		const struct am_site_stack *st = &r->stacks[i];
		size_t from = (size_t)p->stack_frames[i], to = p->n_sframes;

		if (p->stack_frames[i] < 0)
			continue;
		for (size_t j = i + 1; j < r->n_stacks; j++)
			if (p->stack_frames[j] >= 0) {
				to = (size_t)p->stack_frames[j];
				break;
			}
		jsonw_s64(w, p->out[st->site]);
		jsonw_u64(w, st->f.bytes);
		jsonw_u64(w, st->f.peak_bytes);
		jsonw_u64(w, st->f.leak_bytes);
		jsonw_u64(w, st->f.temp_bytes);
		jsonw_u64(w, st->f.calls);
		jsonw_u64(w, st->stack && (st->stack->flags & AM_STK_TRUNCATED) ? 1 : 0);
		jsonw_u64(w, to - from);
		for (size_t k = from; k < to; k++)
			jsonw_u64(w, p->sframes[k]);
	}
	jsonw_arr_close(w);
}

/* Allocations by time: "w" ns columns; cells of page site (-1 not in the
 * page), drawn stack (its index in "stacks", -1 not drawn), column, calls,
 * bytes, the calls that began in the column. "over": too many cells, none. */
static void write_by_time(struct jsonw *w, const struct plan *p, const struct am_rsites *s)
{
	const struct am_sites_report *r = p->r;
	int64_t *drawn = malloc((r->n_stacks ? r->n_stacks : 1) * sizeof(*drawn)), nd = 0;

	jsonw_kobj_open(w, "by_time");
	jsonw_ku64(w, "w", s->tw);
	jsonw_kbool(w, "over", s->t_over || !drawn);
	jsonw_karr_open(w, "cells");
	for (size_t i = 0; drawn && i < r->n_stacks; i++)
		drawn[i] = p->stack_frames[i] >= 0 ? nd++ : -1;
	for (size_t i = 0; drawn && !s->t_over && i < s->cap_tc; i++) {
		const struct rs_tcell *c = &s->tc[i];
		const struct skey *hit = c->key ? bsearch(&c->key, p->keys, r->n_stacks, sizeof(*p->keys), key_cmp) : NULL;

		if (!c->key)
			continue;
		jsonw_s64(w, hit ? p->out[hit->site] : -1);
		jsonw_s64(w, hit ? drawn[hit->stack] : -1);
		jsonw_u64(w, c->col);
		jsonw_u64(w, c->calls);
		jsonw_u64(w, c->bytes);
	}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
	free(drawn);
}

/* The tables: strings, then frames (4 numbers each: name, obj, file as
 * string ids, -1 absent; line). */
static void write_tables(struct jsonw *w, const struct tab *t)
{
	jsonw_karr_open(w, "strings");
	for (size_t i = 0; i < t->nstr; i++)
		jsonw_str(w, t->str[i]);
	jsonw_arr_close(w);
	jsonw_karr_open(w, "frames");
	for (size_t i = 0; i < t->nfr; i++) {
		for (int k = 0; k < 3; k++)
			jsonw_s64(w, (int64_t)t->fr[i * 4 + k] - 1);
		jsonw_u64(w, t->fr[i * 4 + 3]);
	}
	jsonw_arr_close(w);
}

/* The head of the object: totals, what was cut, the caps. */
static void write_head(struct jsonw *w, const struct plan *p, const struct am_rsites *s)
{
	const struct am_sites_report *r = p->r;

	jsonw_ku64(w, "n_sites", r->n_sites);
	jsonw_ku64(w, "n_stacks", r->n_stacks);
	jsonw_ku64(w, "sample", p->sample);     /* the trace's --sample rate (its sites record's) */
	jsonw_kbool(w, "incomplete", r->incomplete);
	jsonw_kobj_open(w, "total");
	put_fig(w, &r->total);
	jsonw_obj_close(w);
	jsonw_kobj_open(w, "rest");            /* the sites not in the page */
	put_fig(w, &p->rest_sites);
	jsonw_obj_close(w);
	jsonw_kobj_open(w, "flame_rest");      /* the stacks not in the flame graph */
	jsonw_ku64(w, "stacks", p->n_rest_stacks);
	put_fig(w, &p->rest_stacks);
	jsonw_obj_close(w);
	jsonw_karr_open(w, "procs");           /* each process's live peak: pid, relative time, bytes */
	for (size_t i = 0; i < r->n_procs; i++) {
		jsonw_u64(w, r->procs[i].pid);
		jsonw_u64(w, r->procs[i].peak_ts ? rm_rel(p->m, r->procs[i].peak_ts) : 0);
		jsonw_u64(w, r->procs[i].peak_bytes);
	}
	jsonw_arr_close(w);
	jsonw_kobj_open(w, "caps");
	jsonw_ku64(w, "sites_per_column", RS_SITES_PER_COL);
	jsonw_ku64(w, "allocs_per_site", RS_ALLOCS_SITE);
	jsonw_ku64(w, "allocs_per_stack", RS_ALLOCS_STACK);
	jsonw_ku64(w, "allocs_kept", RS_ALLOCS_KEPT);
	jsonw_ku64(w, "os_per_site", RS_OS_SITE);
	jsonw_ku64(w, "os_per_stack", RS_OS_STACK);
	jsonw_ku64(w, "os_kept", RS_OS_KEPT);
	jsonw_ku64(w, "regions_per_site", RS_REGIONS_SITE);
	jsonw_ku64(w, "flame_stacks_per_weight", RS_FLAME_PER_WEIGHT);
	jsonw_ku64(w, "flame_frames", RS_FLAME_FRAMES);
	jsonw_obj_close(w);
	jsonw_ku64(w, "allocs_total_kept", s->n_al);
	jsonw_ku64(w, "os_total_kept", s->n_os);
}

void am_rsites__write(struct am_rsites *s, struct jsonw *w, const struct rm_model *m)
{
	struct am_pprof_meta meta;
	struct plan p = { .m = m };
	struct cursors c = { 0 };
	char why[256] = "out of memory";

	jsonw_kobj_open(w, "sites");
	if (s && !s->failed)
		p.r = am_replay__finish(s->rp, &meta, why, sizeof(why));
	if (!p.r || !plan_sites(&p) || !plan_site_extras(&p, s) || !plan_stacks(&p) || !plan_live(&p, s)) {
		jsonw_kstr(w, "error", p.r ? "out of memory" : why);
		jsonw_obj_close(w);
		plan_free(&p);
		return;
	}
	plan_lists(&p, s);
	p.sample = meta.period;
	write_head(w, &p, s);
	write_tables(w, &p.t);
	jsonw_karr_open(w, "list");
	for (size_t k = 0; k < p.n_kept; k++)
		write_site(w, &p, s, k, &c);
	jsonw_arr_close(w);
	write_stacks(w, &p);
	write_by_time(w, &p, s);
	jsonw_obj_close(w);
	plan_free(&p);
}
