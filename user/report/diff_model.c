// SPDX-License-Identifier: GPL-2.0
/* diff_model.c - reads the two traces of `allocmap diff` and matches their
 * call sites (diff_model.h). No parser of its own: the records come from
 * the report's reader, their figures from the report's model and the
 * call-site replay. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diff_model.h"
#include "report.h"
#include "sites_replay.h"

const char *const am_dmatch_names[AM_DMATCH__COUNT] = { "site", "function", "stack" };

int am_dmatch_by_name(const char *name)
{
	for (int i = 0; name && i < AM_DMATCH__COUNT; i++)
		if (!strcmp(name, am_dmatch_names[i]))
			return i;
	return -1;
}

const char *am_dcause_name(int c)
{
	if (c == AM_DCAUSE_DIRECT)
		return "direct";
	if (c == AM_DCAUSE_UNKNOWN)
		return "unknown";
	return rm_fn_name(c);
}

/* ---------- keys ---------- */

char *am_dframe_key(char *buf, size_t n, const struct am_frame *f, bool line)
{
	size_t k;

	if (!f) {
		snprintf(buf, n, "(stack unknown)");
		return buf;
	}
	if (f->sym)
		k = (size_t)snprintf(buf, n, "%s", f->sym);
	else if (f->obj)
		k = (size_t)snprintf(buf, n, "%s+0x%llx", f->obj, (unsigned long long)f->off);
	else
		k = (size_t)snprintf(buf, n, "0x%llx", (unsigned long long)f->addr);
	if (f->file && k < n) {
		if (line)
			snprintf(buf + k, n - k, " %s:%u", f->file, (unsigned)f->line);
		else
			snprintf(buf + k, n - k, " %s", f->file);
	}
	return buf;
}

/* The key of a whole stack: its frames outside the allocator, innermost
 * first, separated by ";". malloc'ed, NULL when memory runs out. */
static char *stack_key(const struct am_stack *st, uint32_t skip)
{
	char fb[2048], *s = NULL;
	size_t len = 0;
	FILE *f;

	if (!st || skip >= st->n)
		return strdup("(stack unknown)");
	f = open_memstream(&s, &len);
	if (!f)
		return NULL;
	for (uint32_t k = skip; k < st->n; k++)
		fprintf(f, "%s%s", k > skip ? ";" : "", am_dframe_key(fb, sizeof(fb), &st->f[k], true));
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---------- matching ---------- */

struct ent {
	char *key;
	int side;
	const struct am_site_fig *f;
	const struct am_frame *frame;
	const struct am_stack *stack;
	uint32_t skip;
};

static int ent_cmp(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;
	int c = strcmp(a->key, b->key);

	return c ? c : a->side - b->side;
}

static void fig_add(struct am_site_fig *d, const struct am_site_fig *s)
{
	d->calls += s->calls;
	d->bytes += s->bytes;
	d->peak_count += s->peak_count;
	d->peak_bytes += s->peak_bytes;
	d->leak_count += s->leak_count;
	d->leak_bytes += s->leak_bytes;
	d->temp_count += s->temp_count;
	d->temp_bytes += s->temp_bytes;
	d->os_bytes += s->os_bytes;
	for (int r = 0; r < AM_REG__COUNT; r++) {
		d->region_count[r] += s->region_count[r];
		d->region_bytes[r] += s->region_bytes[r];
	}
}

/* The entries of one side: its sites, or its stacks. -1: out of memory. */
static int side_ents(const struct am_sites_report *r, int side, enum am_dmatch match,
		     struct ent *e, size_t *n)
{
	char kb[2048];

	if (match == AM_DMATCH_STACK) {
		for (size_t i = 0; i < r->n_stacks; i++) {
			const struct am_site_stack *s = &r->stacks[i];

			e[*n] = (struct ent){ .key = stack_key(s->stack, s->skip), .side = side, .f = &s->f,
					      .stack = s->stack, .skip = s->skip };
			if (s->stack && s->skip < s->stack->n)
				e[*n].frame = &s->stack->f[s->skip];
			if (!e[(*n)++].key)
				return -1;
		}
		return 0;
	}
	for (size_t i = 0; i < r->n_sites; i++) {
		const struct am_site *s = &r->sites[i];

		e[*n] = (struct ent){ .key = strdup(am_dframe_key(kb, sizeof(kb), s->frame, match == AM_DMATCH_SITE)),
				      .side = side, .f = &s->f, .frame = s->frame };
		if (!e[(*n)++].key)
			return -1;
	}
	return 0;
}

/* Merges the sorted entries into rows (each key's entries added up). */
static int merge(struct ent *e, size_t n, struct am_dsites *out)
{
	out->rows = calloc(n ? n : 1, sizeof(*out->rows));
	if (!out->rows)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct am_dsite *d;

		if (out->n && !strcmp(e[i].key, out->rows[out->n - 1].key)) {
			d = &out->rows[out->n - 1];
			free(e[i].key);
		} else {
			d = &out->rows[out->n++];
			d->key = e[i].key;
			d->frame = e[i].frame;
			d->stack = e[i].stack;
			d->skip = e[i].skip;
		}
		e[i].key = NULL;
		d->in[e[i].side] = true;
		fig_add(&d->f[e[i].side], e[i].f);
	}
	for (size_t i = 0; i < out->n; i++) {
		if (out->rows[i].in[0] && out->rows[i].in[1])
			out->both++;
		else
			out->only[out->rows[i].in[0] ? 0 : 1]++;
	}
	return 0;
}

int am_dsites_match(const struct am_sites_report *a, const struct am_sites_report *b,
		    enum am_dmatch match, struct am_dsites *out)
{
	const struct am_sites_report *r[2] = { a, b };
	size_t cap = 0, n = 0;
	struct ent *e;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	out->match = match;
	for (int s = 0; s < 2; s++) {
		cap += match == AM_DMATCH_STACK ? r[s]->n_stacks : r[s]->n_sites;
		out->total[s] = r[s]->total;
	}
	e = calloc(cap ? cap : 1, sizeof(*e));
	if (!e)
		return -1;
	for (int s = 0; s < 2; s++)
		if (side_ents(r[s], s, match, e, &n) < 0)
			goto out;
	qsort(e, n, sizeof(*e), ent_cmp);
	ret = merge(e, n, out);
out:
	for (size_t i = 0; i < n; i++)
		free(e[i].key);
	free(e);
	if (ret < 0)
		am_dsites_free(out);
	return ret;
}

static int row_cmp(const void *x, const void *y, void *ctx)
{
	const struct am_dsite *a = x, *b = y;
	enum am_site_sort sort_by = *(const enum am_site_sort *)ctx;
	uint64_t a0 = am_site_value(&a->f[0], sort_by), a1 = am_site_value(&a->f[1], sort_by);
	uint64_t b0 = am_site_value(&b->f[0], sort_by), b1 = am_site_value(&b->f[1], sort_by);
	uint64_t da = a0 > a1 ? a0 - a1 : a1 - a0, db = b0 > b1 ? b0 - b1 : b1 - b0;
	uint64_t ma = a0 > a1 ? a0 : a1, mb = b0 > b1 ? b0 : b1;

	if (da != db)
		return da > db ? -1 : 1;
	if (ma != mb)
		return ma > mb ? -1 : 1;
	return strcmp(a->key, b->key);
}

void am_dsites_sort(struct am_dsites *d, enum am_site_sort by)
{
	if (d->n)
		qsort_r(d->rows, d->n, sizeof(*d->rows), row_cmp, &by);
}

void am_dsites_free(struct am_dsites *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->rows[i].key);
	free(d->rows);
	d->rows = NULL;
	d->n = 0;
}

/* ---------- reading a trace ---------- */

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;

	return o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* A non-negative integer member; *has: present as one. */
static uint64_t jnum(json_object *o, const char *k, bool *has)
{
	json_object *v = jget(o, k);
	bool ok = v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 0;

	if (has)
		*has = ok;
	return ok ? (uint64_t)json_object_get_int64(v) : 0;
}

static void jcopy(char *dst, size_t n, json_object *o, const char *k)
{
	json_object *v = jget(o, k);

	snprintf(dst, n, "%s", v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "");
}

/* The summary record: the allocator, the calls it counts, the threshold. */
static void on_summary(struct am_dtrace *t, json_object *o)
{
	json_object *fns = jget(o, "functions"), *th = jget(o, "threshold");
	struct am_dthreshold *d = &t->thr;

	t->has_summary = true;
	jcopy(t->allocator, sizeof(t->allocator), o, "allocator");
	t->calls_summary = 0;
	if (fns && json_object_is_type(fns, json_type_object)) {
		json_object_object_foreach(fns, name, st) {
			(void)name;
			t->calls_summary += jnum(st, "calls", NULL);
		}
	}
	memset(d, 0, sizeof(*d));
	if (!th || !json_object_is_type(th, json_type_object)) {
		d->state = AM_DTHR_NONE;
		return;
	}
	d->state = AM_DTHR_KNOWN;
	d->start = jnum(th, "start", &d->start_known);
	d->start_min = jnum(th, "start_min", NULL);
	d->start_max = jnum(th, "start_max", NULL);
	d->end = jnum(th, "end", &d->end_known);
	d->end_min = jnum(th, "end_min", NULL);
	d->end_max = jnum(th, "end_max", NULL);
	d->changes = jnum(th, "changes", NULL);
	jcopy(d->source, sizeof(d->source), th, "source");
}

/* pid's last break, replaced by brk when non-zero (0: none seen). */
static uint64_t brk_swap(struct am_dtrace *t, int pid, uint64_t brk)
{
	uint64_t prev;
	size_t i;

	for (i = 0; i < t->n_brk && t->brk[i].pid != pid; i++)
		;
	if (i == t->n_brk) {
		if (t->n_brk == t->cap_brk) {
			size_t nc = t->cap_brk ? t->cap_brk * 2 : 8;
			void *nb = realloc(t->brk, nc * sizeof(*t->brk));

			if (!nb) {
				t->oom = true;
				return 0;
			}
			t->brk = nb;
			t->cap_brk = nc;
		}
		t->brk[t->n_brk].pid = pid;
		t->brk[t->n_brk++].brk = 0;
	}
	prev = t->brk[i].brk;
	if (brk)
		t->brk[i].brk = brk;
	return prev;
}

static void on_os(struct am_dtrace *t, const struct rm_rec *r)
{
	int c = r->cause_call ? (r->cause_fn >= 0 ? r->cause_fn : RM_NFN - 1) :
		r->cause_direct ? AM_DCAUSE_DIRECT : AM_DCAUSE_UNKNOWN;
	uint64_t prev = 0;

	if (r->sys == RM_SYS_BRK && !r->failed)
		prev = brk_swap(t, r->pid, r->ret);
	t->os_n[r->sys][c]++;
	t->os_b[r->sys][c] += rm_os_bytes(r, prev);
	if (r->failed)
		t->os_failed[r->sys]++;
}

/* An allocation (the report's and the accounting's rule: an outermost
 * call that returned a block) counted in the region it was placed in. */
static void on_call(struct am_dtrace *t, const struct rm_rec *r)
{
	int reg = AM_REG_UNKNOWN;

	t->calls_seen++;
	if (r->fn < 0 || r->nested || r->missed || !r->has_ret || !r->ret ||
	    !am_role_allocates(am_fn_role(r->fn)))
		return;
	for (int k = 0; r->region && k < AM_REG__COUNT; k++)
		if (am_region_names[k] && !strcmp(r->region, am_region_names[k]))
			reg = k;
	t->place_n[reg]++;
	t->place_b[reg] += r->size;
}

static int on_rec(void *ctx, json_object *o, const struct rm_rec *r)
{
	struct am_dtrace *t = ctx;

	rm_feed(t->m, r);
	if (am_replay__record(t->rp, o) < 0)
		return -1;
	if (r->type == RM_T_CALL)
		on_call(t, r);
	else if (r->type == RM_T_OS)
		on_os(t, r);
	else if (r->type == RM_T_SUMMARY)
		on_summary(t, o);
	return t->oom ? -1 : 0;
}

struct am_dtrace *am_dtrace_read(const char *path, char *err, size_t errlen)
{
	struct am_dtrace *t = calloc(1, sizeof(*t));
	struct am_report_read info;
	struct am_pprof_meta meta;

	if (!t)
		goto oom;
	t->path = path;
	t->m = malloc(sizeof(*t->m));
	if (!t->m || rm_init(t->m) < 0) {
		free(t->m);
		t->m = NULL;
		goto oom;
	}
	t->rp = am_replay__new();
	if (!t->rp)
		goto oom;
	if (am_report_each(path, on_rec, t, &info, err, errlen) < 0) {
		am_dtrace_free(t);
		return NULL;
	}
	t->lines = info.lines;
	t->truncated = info.truncated;
	t->sites = am_replay__finish(t->rp, &meta, t->sites_err, sizeof(t->sites_err));
	return t;
oom:
	am_dtrace_free(t);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

void am_dtrace_free(struct am_dtrace *t)
{
	if (!t)
		return;
	if (t->m) {
		rm_free(t->m);
		free(t->m);
	}
	am_replay__free(t->rp);
	free(t->brk);
	free(t);
}
