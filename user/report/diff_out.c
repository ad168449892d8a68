// SPDX-License-Identifier: GPL-2.0
/* diff_out.c - `allocmap diff` as text and as its JSON document
 * (diff_out.h). Every figure is shown as A, B, B - A and B / A; sizes in
 * the text to three significant digits, exact bytes in the JSON. Names
 * from the traces (functions, files, paths) are hostile input: the text
 * shows them through am_printable, the JSON through jsonw. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "diff_out.h"
#include "fmt.h"
#include "sites_out.h"
#include "stack.h"

#define LABEL_W 36

/* ---------- the figures both outputs list ---------- */

/* The byte figures, with the summary's key names. */
static const struct {
	const char *key, *label;
	size_t off;
} byte_figs[] = {
#define F_(k, field, l) { k, l, offsetof(struct am_acct_figs, field) }
	F_("live_peak", live_peak, "live, peak"),
	F_("live", live, "live, at the end"),
	F_("heap_peak", heap_peak, "brk heap, peak"),
	F_("heap", heap, "brk heap, at the end"),
	F_("mmap_peak", mmap_peak, "mmapped, peak"),
	F_("mmap", mmap, "mmapped, at the end"),
	F_("committed_peak", committed_peak, "committed (heap + mmapped), peak"),
	F_("committed", committed, "committed, at the end"),
	F_("direct_mmap", direct, "program's own mappings, at the end"),
	F_("returned_munmap", returned_munmap, "returned to the OS: munmap"),
	F_("returned_madvise", returned_madvise, "returned to the OS: madvise"),
	F_("returned_brk", returned_brk, "returned to the OS: brk shrink"),
#undef F_
};
#define N_BYTE_FIGS (sizeof(byte_figs) / sizeof(byte_figs[0]))

static uint64_t byte_fig(const struct am_dtrace *t, size_t i)
{
	return *(const uint64_t *)((const char *)rm_figs(t->m) + byte_figs[i].off);
}

/* The region groups: a kind of region the allocator maps (rm kind, -1 for
 * none) and the "region" label its allocations carry. */
static const struct {
	const char *name;
	int rm_kind;
	int reg;
} region_groups[] = {
	{ "heap", RM_K_HEAP, AM_REG_HEAP },
	{ "mmap", RM_K_MMAP, AM_REG_MMAP },
	{ "arena", RM_K_ARENA, AM_REG_ARENA },
	{ "preexisting", -1, AM_REG_PREEXISTING },
	{ "direct", -1, AM_REG_DIRECT },
	{ "unknown", -1, AM_REG_UNKNOWN },
};
#define N_REGION_GROUPS (sizeof(region_groups) / sizeof(region_groups[0]))

struct region_fig {
	uint64_t made, mapped_end, bytes_end, committed_end, allocs, alloc_bytes;
};

static struct region_fig region_fig(const struct am_dtrace *t, size_t gi)
{
	const struct rm_model *m = t->m;
	int kind = region_groups[gi].rm_kind;
	struct region_fig r = { .allocs = t->place_n[region_groups[gi].reg],
				.alloc_bytes = t->place_b[region_groups[gi].reg] };

	if (kind < 0)
		return r;
	r.made = m->regions_made[kind];
	for (size_t i = 0; i < m->nreg; i++) {
		const struct rm_region *g = &m->reg[i];

		if (g->free_slot || !g->mapped || g->kind != kind)
			continue;
		r.mapped_end++;
		r.bytes_end += kind == RM_K_HEAP ? 0 : g->end - g->start;
		r.committed_end += rm_region_committed(m, g);
	}
	if (kind == RM_K_HEAP && r.mapped_end)   /* the brk heap is all committed */
		r.bytes_end = r.committed_end = rm_figs(m)->heap;
	return r;
}

static uint64_t os_sys_total(const struct am_dtrace *t, int sys, bool bytes)
{
	uint64_t n = 0;

	for (int c = 0; c < AM_DCAUSE_N; c++)
		n += bytes ? t->os_b[sys][c] : t->os_n[sys][c];
	return n;
}

static uint64_t fn_calls_total(const struct am_dtrace *t)
{
	uint64_t n = 0;

	for (int i = 0; i < RM_NFN; i++)
		n += t->m->fn[i].calls;
	return n;
}

/* ---------- text ---------- */

static const char *delta_str(char *buf, size_t n, uint64_t a, uint64_t b, bool bytes)
{
	char s[32];
	uint64_t d = a > b ? a - b : b - a;

	if (!d)
		snprintf(buf, n, bytes ? "0 B" : "0");
	else if (bytes)
		snprintf(buf, n, "%c%s", b > a ? '+' : '-', am_fmt_size3(s, sizeof(s), d));
	else
		snprintf(buf, n, "%c%" PRIu64, b > a ? '+' : '-', d);
	return buf;
}

static const char *ratio_str(char *buf, size_t n, uint64_t a, uint64_t b)
{
	if (!a)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.2fx", (double)b / (double)a);
	return buf;
}

/* A value of a row whose largest is max: sizes share the row's unit
 * (am_fmt_size_in); the difference keeps its own three digits. */
static const char *val_str(char *buf, size_t n, uint64_t v, uint64_t max, bool bytes)
{
	if (bytes)
		return am_fmt_size_in(buf, n, v, max);
	snprintf(buf, n, "%" PRIu64, v);
	return buf;
}

/* One row: label, A, B, B - A, B / A. */
static void trow(FILE *f, const char *indent, const char *label, uint64_t a, uint64_t b, bool bytes)
{
	char pb[256], l[300], va[32], vb[32], vd[32], vr[32];

	snprintf(l, sizeof(l), "%s%s", indent, am_printable(pb, sizeof(pb), label));
	fprintf(f, "  %-*s %12s %12s %12s %8s\n", LABEL_W, l, val_str(va, sizeof(va), a, a > b ? a : b, bytes),
		val_str(vb, sizeof(vb), b, a > b ? a : b, bytes), delta_str(vd, sizeof(vd), a, b, bytes),
		ratio_str(vr, sizeof(vr), a, b));
}

/* A row whose values may be unknown. */
static void trow_opt(FILE *f, const char *label, bool ha, uint64_t a, bool hb, uint64_t b, bool bytes)
{
	char va[32], vb[32];

	if (ha && hb) {
		trow(f, "", label, a, b, bytes);
		return;
	}
	fprintf(f, "  %-*s %12s %12s %12s %8s\n", LABEL_W, label, ha ? val_str(va, sizeof(va), a, a, bytes) : "unknown",
		hb ? val_str(vb, sizeof(vb), b, b, bytes) : "unknown", "-", "-");
}

static void text_notes(FILE *f, const struct am_dtrace *t, char side)
{
	if (t->truncated)
		fprintf(f, "note: %c: its last line was cut (the tracer stopped mid-record): read up to it\n", side);
	if (!t->has_summary)
		fprintf(f, "note: %c: no summary record (the trace did not end normally): the threshold is unknown\n",
			side);
	else if (t->calls_seen < t->calls_summary)
		fprintf(f, "note: %c holds %" PRIu64 " of the %" PRIu64 " allocator calls its summary counts "
			"(traced without -v): live bytes and allocations are partial\n", side, t->calls_seen,
			t->calls_summary);
	if (t->m->oom || t->oom)
		fprintf(f, "note: %c: memory ran out while reading it: its figures are incomplete\n", side);
}

static void text_side(FILE *f, const char *head, const struct am_dtrace *t)
{
	char pb[1024], ab[128];

	fprintf(f, "%s%s", head, am_printable(pb, sizeof(pb), t->path));
	if (t->allocator[0])
		fprintf(f, " (%s)", am_printable(ab, sizeof(ab), t->allocator));
}

static void text_head(FILE *f, const struct am_diff *d)
{
	text_side(f, "allocmap diff: A = ", d->t[0]);
	text_side(f, ", B = ", d->t[1]);
	fputc('\n', f);
	text_notes(f, d->t[0], 'A');
	text_notes(f, d->t[1], 'B');
	fprintf(f, "  %-*s %12s %12s %12s %8s\n", LABEL_W, "", "A", "B", "B - A", "B / A");
}

static void text_calls_os(FILE *f, const struct am_dtrace *a, const struct am_dtrace *b)
{
	char l[128];
	uint64_t ta = 0, tb = 0;

	fprintf(f, "allocator calls\n");
	trow(f, "", "calls", fn_calls_total(a), fn_calls_total(b), false);
	for (int i = 0; i < RM_NFN; i++)
		if (a->m->fn[i].calls || b->m->fn[i].calls)
			trow(f, "  ", rm_fn_name(i), a->m->fn[i].calls, b->m->fn[i].calls, false);
	trow(f, "", "allocations", a->m->n_alloc_calls, b->m->n_alloc_calls, false);
	fprintf(f, "OS requests, by syscall and cause\n");
	for (int s = 0; s < RM_NSYS; s++) {
		uint64_t na = os_sys_total(a, s, false), nb = os_sys_total(b, s, false);

		if (!na && !nb)
			continue;
		trow(f, "", rm_sys_names[s], na, nb, false);
		for (int c = 0; c < AM_DCAUSE_N; c++) {
			if (!a->os_n[s][c] && !b->os_n[s][c])
				continue;
			snprintf(l, sizeof(l), "%s%s", c < RM_NFN ? "by " : "", am_dcause_name(c));
			trow(f, "  ", l, a->os_n[s][c], b->os_n[s][c], false);
		}
		ta += os_sys_total(a, s, true);
		tb += os_sys_total(b, s, true);
	}
	trow(f, "", "total", a->m->n_os, b->m->n_os, false);
	trow(f, "", "bytes obtained from the OS", ta, tb, true);
}

static void text_regions(FILE *f, const struct am_dtrace *a, const struct am_dtrace *b)
{
	char l[128];

	fprintf(f, "regions (made during the trace, mapped at the end; allocations placed in them)\n");
	for (size_t g = 0; g < N_REGION_GROUPS; g++) {
		struct region_fig x = region_fig(a, g), y = region_fig(b, g);
		const char *n = region_groups[g].name;

		if (!memcmp(&x, &(struct region_fig){ 0 }, sizeof(x)) && !memcmp(&y, &(struct region_fig){ 0 }, sizeof(y)))
			continue;
		if (region_groups[g].rm_kind >= 0) {
			snprintf(l, sizeof(l), "%s: regions made", n);
			trow(f, "", l, x.made, y.made, false);
			snprintf(l, sizeof(l), "%s: mapped at the end", n);
			trow(f, "", l, x.mapped_end, y.mapped_end, false);
			snprintf(l, sizeof(l), "%s: committed at the end", n);
			trow(f, "", l, x.committed_end, y.committed_end, true);
		}
		snprintf(l, sizeof(l), "%s: allocations", n);
		trow(f, "", l, x.allocs, y.allocs, false);
		snprintf(l, sizeof(l), "%s: bytes allocated", n);
		trow(f, "", l, x.alloc_bytes, y.alloc_bytes, true);
	}
}

static const char *thr_why(const struct am_dtrace *t)
{
	return t->thr.state == AM_DTHR_NO_SUMMARY ? "no summary record" :
	       t->thr.state == AM_DTHR_NONE ? "the allocator has none" : NULL;
}

static void text_threshold(FILE *f, const struct am_dtrace *a, const struct am_dtrace *b)
{
	const struct am_dthreshold *x = &a->thr, *y = &b->thr;
	bool kx = x->state == AM_DTHR_KNOWN, ky = y->state == AM_DTHR_KNOWN;

	fprintf(f, "mmap threshold (first process)");
	if (thr_why(a) || thr_why(b)) {
		fprintf(f, " -");
		if (thr_why(a))
			fprintf(f, " A: %s%s", thr_why(a), thr_why(b) ? ";" : "");
		if (thr_why(b))
			fprintf(f, " B: %s", thr_why(b));
	}
	fputc('\n', f);
	trow_opt(f, "start", kx && x->start_known, x->start, ky && y->start_known, y->start, true);
	trow_opt(f, "moves", kx, x->changes, ky, y->changes, false);
	trow_opt(f, "end", kx && x->end_known, x->end, ky && y->end_known, y->end, true);
}

/* "site_peak (sites.c:46)": function and the file's base name. */
static const char *frame_label(char *buf, size_t n, const struct am_frame *fr)
{
	char name[512], pb[256];
	const char *file;

	if (!fr) {
		snprintf(buf, n, "(stack unknown)");
		return buf;
	}
	am_frame_name(name, sizeof(name), fr);
	if (!fr->file) {
		snprintf(buf, n, "%s", name);
		return buf;
	}
	file = strrchr(fr->file, '/');
	file = file ? file + 1 : fr->file;
	snprintf(buf, n, "%s (%s:%u)", name, am_printable(pb, sizeof(pb), file), (unsigned)fr->line);
	return buf;
}

/* A row's label: its site, or for stacks the first frames outward. */
static const char *row_label(char *buf, size_t n, const struct am_dsite *r)
{
	size_t k = strlen(frame_label(buf, n, r->frame));
	char fb[768];

	if (r->stack) {
		for (uint32_t i = r->skip + 1; i < r->stack->n && k + 8 < n; i++) {
			if (i >= r->skip + 4) {
				k += (size_t)snprintf(buf + k, n - k, " < ...");
				break;
			}
			k += (size_t)snprintf(buf + k, n - k, " < %s", frame_label(fb, sizeof(fb), &r->stack->f[i]));
		}
	}
	if (!r->in[0] || !r->in[1])
		snprintf(buf + k, n > k ? n - k : 0, " [only in %c]", r->in[0] ? 'A' : 'B');
	return buf;
}

static const char *const sort_label[AM_SORT__COUNT] = {
	[AM_SORT_ALLOC] = "bytes allocated", [AM_SORT_PEAK] = "bytes live at the peak",
	[AM_SORT_LEAK] = "bytes leaked", [AM_SORT_TEMP] = "temporary allocations",
	[AM_SORT_OS] = "bytes from the OS", [AM_SORT_CALLS] = "calls",
};
static const char *const match_label[AM_DMATCH__COUNT] = {
	"function and source line of the call site", "function of the call site (any line)",
	"whole stack outside the allocator",
};

static void text_sites(FILE *f, const struct am_diff *d)
{
	const struct am_dsites *s = &d->sites;
	bool bytes = d->sort != AM_SORT_TEMP && d->sort != AM_SORT_CALLS;
	char label[2048], va[32], vb[32], vd[32], vr[32];

	if (!d->have_sites) {
		fprintf(f, "call sites: not compared\n");
		for (int i = 0; i < 2; i++)
			if (!d->t[i]->sites)
				fprintf(f, "  %c: %s\n", 'A' + i, d->t[i]->sites_err);
		return;
	}
	fprintf(f, "call sites, matched by %s (--match %s): %zu in both, %zu only in A, %zu only in B;\n"
		"sorted by the change in %s (--sort %s), top %u:\n", match_label[d->match], am_dmatch_names[d->match],
		s->both, s->only[0], s->only[1], sort_label[d->sort], am_site_sort_names[d->sort], d->top);
	if (!d->top)
		return;
	fprintf(f, "  %12s %12s %12s %8s %9s %9s  %s\n", "A", "B", "B - A", "B / A", "calls A", "calls B",
		d->match == AM_DMATCH_STACK ? "stack" : "site");
	for (size_t i = 0; i < s->n && i < d->top; i++) {
		const struct am_dsite *r = &s->rows[i];
		uint64_t a = am_site_value(&r->f[0], d->sort), b = am_site_value(&r->f[1], d->sort);

		fprintf(f, "  %12s %12s %12s %8s %9" PRIu64 " %9" PRIu64 "  %s\n", val_str(va, sizeof(va), a, a > b ? a : b, bytes),
			val_str(vb, sizeof(vb), b, a > b ? a : b, bytes), delta_str(vd, sizeof(vd), a, b, bytes),
			ratio_str(vr, sizeof(vr), a, b), r->f[0].calls, r->f[1].calls,
			row_label(label, sizeof(label), r));
	}
	if (s->n > d->top)
		fprintf(f, "  ... %zu more (all of them with --json)\n", s->n - d->top);
	{
		uint64_t a = am_site_value(&s->total[0], d->sort), b = am_site_value(&s->total[1], d->sort);

		fprintf(f, "  %12s %12s %12s %8s %9" PRIu64 " %9" PRIu64 "  total\n", val_str(va, sizeof(va), a, a > b ? a : b, bytes),
			val_str(vb, sizeof(vb), b, a > b ? a : b, bytes), delta_str(vd, sizeof(vd), a, b, bytes),
			ratio_str(vr, sizeof(vr), a, b), s->total[0].calls, s->total[1].calls);
	}
}

void am_diff_text(FILE *f, const struct am_diff *d)
{
	const struct am_dtrace *a = d->t[0], *b = d->t[1];

	text_head(f, d);
	fprintf(f, "memory (the accounting model's figures)\n");
	for (size_t i = 0; i < N_BYTE_FIGS; i++)
		trow(f, "", byte_figs[i].label, byte_fig(a, i), byte_fig(b, i), true);
	text_calls_os(f, a, b);
	text_regions(f, a, b);
	text_threshold(f, a, b);
	text_sites(f, d);
}

/* ---------- JSON ---------- */

/* {"a":A,"b":B,"delta":B-A,"ratio":B/A}: ratio null when A is 0. */
static void jv(struct jsonw *w, const char *key, uint64_t a, uint64_t b)
{
	jsonw_kobj_open(w, key);
	jsonw_ku64(w, "a", a);
	jsonw_ku64(w, "b", b);
	jsonw_ks64(w, "delta", b >= a ? (int64_t)(b - a) : -(int64_t)(a - b));
	if (a)
		jsonw_kf64(w, "ratio", (double)b / (double)a, -1);
	else
		jsonw_knull(w, "ratio");
	jsonw_obj_close(w);
}

/* The same with unknown values as null (delta and ratio too). */
static void jv_opt(struct jsonw *w, const char *key, bool ha, uint64_t a, bool hb, uint64_t b)
{
	if (ha && hb) {
		jv(w, key, a, b);
		return;
	}
	jsonw_kobj_open(w, key);
	if (ha)
		jsonw_ku64(w, "a", a);
	else
		jsonw_knull(w, "a");
	if (hb)
		jsonw_ku64(w, "b", b);
	else
		jsonw_knull(w, "b");
	jsonw_knull(w, "delta");
	jsonw_knull(w, "ratio");
	jsonw_obj_close(w);
}

static void json_thr(struct jsonw *w, const struct am_dthreshold *t)
{
	static const char *const state[] = { "no_summary", "none", "known" };

	jsonw_kobj_open(w, "threshold");
	jsonw_kstr(w, "state", state[t->state]);
	if (t->state == AM_DTHR_KNOWN) {
		if (t->start_known) {
			jsonw_ku64(w, "start", t->start);
		} else {
			jsonw_ku64(w, "start_min", t->start_min);
			jsonw_ku64(w, "start_max", t->start_max);
		}
		if (t->end_known) {
			jsonw_ku64(w, "end", t->end);
		} else {
			jsonw_ku64(w, "end_min", t->end_min);
			jsonw_ku64(w, "end_max", t->end_max);
		}
		jsonw_ku64(w, "changes", t->changes);
		jsonw_kstr(w, "source", t->source[0] ? t->source : NULL);
	}
	jsonw_obj_close(w);
}

static void json_side(struct jsonw *w, const char *key, const struct am_dtrace *t)
{
	jsonw_kobj_open(w, key);
	jsonw_kstr(w, "path", t->path);
	jsonw_kstr(w, "allocator", t->allocator[0] ? t->allocator : NULL);
	jsonw_ku64(w, "lines", t->lines);
	jsonw_ku64(w, "duration_ns", t->m->t_max);
	jsonw_kbool(w, "truncated", t->truncated);
	jsonw_kbool(w, "summary", t->has_summary);
	jsonw_ku64(w, "calls", t->calls_seen);
	if (t->has_summary)
		jsonw_ku64(w, "calls_summary", t->calls_summary);
	else
		jsonw_knull(w, "calls_summary");
	jsonw_kbool(w, "out_of_memory", t->m->oom || t->oom);
	json_thr(w, &t->thr);
	jsonw_kstr(w, "sites_unavailable", t->sites ? NULL : t->sites_err);
	jsonw_obj_close(w);
}

static void json_calls_os(struct jsonw *w, const struct am_dtrace *a, const struct am_dtrace *b)
{
	jsonw_kobj_open(w, "counts");
	jv(w, "calls", fn_calls_total(a), fn_calls_total(b));
	jv(w, "allocations", a->m->n_alloc_calls, b->m->n_alloc_calls);
	jv(w, "os", a->m->n_os, b->m->n_os);
	jsonw_obj_close(w);
	jsonw_karr_open(w, "functions");
	for (int i = 0; i < RM_NFN; i++) {
		if (!a->m->fn[i].calls && !b->m->fn[i].calls)
			continue;
		jsonw_obj_open(w);
		jsonw_kstr(w, "fn", rm_fn_name(i));
		jv(w, "calls", a->m->fn[i].calls, b->m->fn[i].calls);
		jv(w, "bytes", a->m->fn[i].bytes, b->m->fn[i].bytes);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_karr_open(w, "syscalls");
	for (int s = 0; s < RM_NSYS; s++) {
		if (!os_sys_total(a, s, false) && !os_sys_total(b, s, false))
			continue;
		jsonw_obj_open(w);
		jsonw_kstr(w, "syscall", rm_sys_names[s]);
		jv(w, "count", os_sys_total(a, s, false), os_sys_total(b, s, false));
		jv(w, "failed", a->os_failed[s], b->os_failed[s]);
		jv(w, "os_bytes", os_sys_total(a, s, true), os_sys_total(b, s, true));
		jsonw_karr_open(w, "causes");
		for (int c = 0; c < AM_DCAUSE_N; c++) {
			if (!a->os_n[s][c] && !b->os_n[s][c])
				continue;
			jsonw_obj_open(w);
			jsonw_kstr(w, "cause", am_dcause_name(c));
			jv(w, "count", a->os_n[s][c], b->os_n[s][c]);
			jv(w, "os_bytes", a->os_b[s][c], b->os_b[s][c]);
			jsonw_obj_close(w);
		}
		jsonw_arr_close(w);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
}

static void json_regions(struct jsonw *w, const struct am_dtrace *a, const struct am_dtrace *b)
{
	jsonw_karr_open(w, "regions");
	for (size_t g = 0; g < N_REGION_GROUPS; g++) {
		struct region_fig x = region_fig(a, g), y = region_fig(b, g);

		if (!memcmp(&x, &(struct region_fig){ 0 }, sizeof(x)) && !memcmp(&y, &(struct region_fig){ 0 }, sizeof(y)))
			continue;
		jsonw_obj_open(w);
		jsonw_kstr(w, "region", region_groups[g].name);
		if (region_groups[g].rm_kind >= 0) {
			jv(w, "made", x.made, y.made);
			jv(w, "mapped_end", x.mapped_end, y.mapped_end);
			jv(w, "bytes_end", x.bytes_end, y.bytes_end);
			jv(w, "committed_end", x.committed_end, y.committed_end);
		}
		jv(w, "allocs", x.allocs, y.allocs);
		jv(w, "alloc_bytes", x.alloc_bytes, y.alloc_bytes);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
}

static void json_frame(struct jsonw *w, const struct am_frame *f)
{
	jsonw_obj_open(w);
	jsonw_khex(w, "addr", f->addr);
	if (f->sym)
		jsonw_kstr(w, "sym", f->sym);
	if (f->sym || f->obj)
		jsonw_ku64(w, "off", f->off);
	if (f->obj)
		jsonw_kstr(w, "obj", f->obj);
	if (f->file) {
		jsonw_kstr(w, "file", f->file);
		jsonw_ku64(w, "line", f->line);
	}
	jsonw_obj_close(w);
}

static void json_figs(struct jsonw *w, const struct am_site_fig *a, const struct am_site_fig *b)
{
	jv(w, "calls", a->calls, b->calls);
	jv(w, "bytes", a->bytes, b->bytes);
	jv(w, "peak_count", a->peak_count, b->peak_count);
	jv(w, "peak_bytes", a->peak_bytes, b->peak_bytes);
	jv(w, "leak_count", a->leak_count, b->leak_count);
	jv(w, "leak_bytes", a->leak_bytes, b->leak_bytes);
	jv(w, "temp_count", a->temp_count, b->temp_count);
	jv(w, "temp_bytes", a->temp_bytes, b->temp_bytes);
	jv(w, "os_bytes", a->os_bytes, b->os_bytes);
}

static void json_site_row(struct jsonw *w, const struct am_dsite *r, unsigned max_frames)
{
	jsonw_obj_open(w);
	jsonw_kstr(w, "key", r->key);
	jsonw_kstr(w, "in", r->in[0] && r->in[1] ? "both" : r->in[0] ? "a" : "b");
	if (r->frame) {
		jsonw_key(w, "frame");
		json_frame(w, r->frame);
	}
	if (r->stack) {
		uint32_t n = r->stack->n - r->skip;

		jsonw_karr_open(w, "stack");
		for (uint32_t k = 0; k < n && k < max_frames; k++)
			json_frame(w, &r->stack->f[r->skip + k]);
		jsonw_arr_close(w);
		if (n > max_frames)
			jsonw_ku64(w, "stack_frames_omitted", n - max_frames);
	}
	json_figs(w, &r->f[0], &r->f[1]);
	jsonw_obj_close(w);
}

static void json_sites(struct jsonw *w, const struct am_diff *d, size_t max_sites, unsigned max_frames)
{
	const struct am_dsites *s = &d->sites;

	jsonw_key(w, "sites");
	if (!d->have_sites) {
		jsonw_null(w);
		return;
	}
	jsonw_obj_open(w);
	jsonw_kstr(w, "match", am_dmatch_names[d->match]);
	jsonw_kstr(w, "sort", am_site_sort_names[d->sort]);
	jsonw_ku64(w, "both", s->both);
	jsonw_ku64(w, "only_a", s->only[0]);
	jsonw_ku64(w, "only_b", s->only[1]);
	jsonw_kobj_open(w, "total");
	json_figs(w, &s->total[0], &s->total[1]);
	jsonw_obj_close(w);
	jsonw_karr_open(w, "rows");
	for (size_t i = 0; i < s->n && i < max_sites; i++) {
		jsonw_nl(w);
		json_site_row(w, &s->rows[i], max_frames);
	}
	jsonw_arr_close(w);
	jsonw_ku64(w, "rows_omitted", s->n > max_sites ? s->n - max_sites : 0);
	jsonw_obj_close(w);
}

void am_diff_json(struct jsonw *w, const struct am_diff *d, size_t max_sites, unsigned max_frames)
{
	const struct am_dtrace *a = d->t[0], *b = d->t[1];

	jsonw_obj_open(w);
	jsonw_kstr(w, "type", "diff");
	json_side(w, "a", a);
	json_side(w, "b", b);
	jsonw_kobj_open(w, "bytes");
	for (size_t i = 0; i < N_BYTE_FIGS; i++)
		jv(w, byte_figs[i].key, byte_fig(a, i), byte_fig(b, i));
	jsonw_obj_close(w);
	json_calls_os(w, a, b);
	json_regions(w, a, b);
	jsonw_kobj_open(w, "threshold");
	jv_opt(w, "start", a->thr.state == AM_DTHR_KNOWN && a->thr.start_known, a->thr.start,
	       b->thr.state == AM_DTHR_KNOWN && b->thr.start_known, b->thr.start);
	jv_opt(w, "moves", a->thr.state == AM_DTHR_KNOWN, a->thr.changes, b->thr.state == AM_DTHR_KNOWN, b->thr.changes);
	jv_opt(w, "end", a->thr.state == AM_DTHR_KNOWN && a->thr.end_known, a->thr.end,
	       b->thr.state == AM_DTHR_KNOWN && b->thr.end_known, b->thr.end);
	jsonw_obj_close(w);
	json_sites(w, d, max_sites, max_frames);
	jsonw_obj_close(w);
	jsonw_eol(w);
}
