// SPDX-License-Identifier: GPL-2.0
/* sites_out.c - renders call-site profiles (sites_out.h): the summary's
 * top-N table and the JSON "sites" record. The JSON names are the public
 * interface in README.md; the table is for people. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "fmt.h"
#include "output.h"
#include "sites_out.h"
#include "stack.h"

static const char *region_name(unsigned r)
{
	return r < AM_REG__COUNT && am_region_names[r] ? am_region_names[r] : "unknown";
}

/* "site_peak (sites.c:47)", "prog+0x1234", "(no stack)". */
static const char *site_label(char *buf, size_t n, const struct am_site *s)
{
	char name[512], pb[256];
	const char *file;

	if (!s->frame) {
		snprintf(buf, n, "(stack unknown)");
		return buf;
	}
	am_frame_name(name, sizeof(name), s->frame);
	if (!s->frame->file) {
		snprintf(buf, n, "%s", name);
		return buf;
	}
	file = strrchr(s->frame->file, '/');
	file = file ? file + 1 : s->frame->file;
	snprintf(buf, n, "%s (%s:%" PRIu32 ")", name, am_printable(pb, sizeof(pb), file), s->frame->line);
	return buf;
}

/* The size columns' largest values (allocated, peak live, leaked, from OS):
 * each column is written in its largest value's unit (am_fmt_size_in). */
struct col_max {
	uint64_t bytes, peak, leak, os;
};

static void col_max_add(struct col_max *m, const struct am_site_fig *g)
{
	m->bytes = g->bytes > m->bytes ? g->bytes : m->bytes;
	m->peak = g->peak_bytes > m->peak ? g->peak_bytes : m->peak;
	m->leak = g->leak_bytes > m->leak ? g->leak_bytes : m->leak;
	m->os = g->os_bytes > m->os ? g->os_bytes : m->os;
}

static void text_row(FILE *f, const char *head, const struct am_site_fig *g, const char *label,
		     const struct col_max *m)
{
	char a[32], p[32], l[32], o[32];

	fprintf(f, "%s%9" PRIu64 " %10s %10s %10s %9" PRIu64 " %10s  %s", head, g->calls,
		am_fmt_size_in(a, sizeof(a), g->bytes, m->bytes),
		am_fmt_size_in(p, sizeof(p), g->peak_bytes, m->peak),
		am_fmt_size_in(l, sizeof(l), g->leak_bytes, m->leak), g->temp_count,
		am_fmt_size_in(o, sizeof(o), g->os_bytes, m->os), label);
}

void am_sites_text(FILE *f, const struct am_sites_report *r, unsigned top,
		   enum am_site_sort by, bool multi_pid)
{
	static const char *const col[AM_SORT__COUNT] = {
		[AM_SORT_ALLOC] = "bytes allocated", [AM_SORT_PEAK] = "bytes live at the peak",
		[AM_SORT_LEAK] = "bytes leaked", [AM_SORT_TEMP] = "temporary allocations",
		[AM_SORT_OS] = "bytes from the OS", [AM_SORT_CALLS] = "calls",
	};
	char x[32], label[1024];
	struct col_max m = { 0 };
	size_t *ix;

	if (!r->n_sites) {
		fprintf(f, "call sites: none (no allocation traced)\n");
		return;
	}
	fprintf(f, "call sites: %zu (%zu stack%s), %" PRIu64 " allocation%s of %s%s; top %u by %s (--sort %s):\n",
		r->n_sites, r->n_stacks, r->n_stacks == 1 ? "" : "s", r->total.calls,
		r->total.calls == 1 ? "" : "s", am_fmt_size3(x, sizeof(x), r->total.bytes),
		r->incomplete ? " (INCOMPLETE: out of memory)" : "", top, col[by], am_site_sort_names[by]);
	if (!top)
		return;
	ix = am_sites_order(r, by);
	if (!ix)
		return;
	col_max_add(&m, &r->total);
	for (size_t i = 0; i < r->n_sites && i < top; i++)
		col_max_add(&m, &r->sites[ix[i]].f);
	fprintf(f, "  %9s %10s %10s %10s %9s %10s  %s\n", "calls", "allocated", "peak live", "leaked",
		"temporary", "from OS", "site [where its allocations went]");
	for (size_t i = 0; i < r->n_sites && i < top; i++) {
		const struct am_site *s = &r->sites[ix[i]];
		size_t k = strlen(site_label(label, sizeof(label), s));
		bool any = false;

		for (unsigned g = 0; g < AM_REG__COUNT && k < sizeof(label) - 64; g++) {
			if (!s->f.region_count[g])
				continue;
			k += (size_t)snprintf(label + k, sizeof(label) - k, "%s%s %" PRIu64, any ? ", " : " [",
					      region_name(g), s->f.region_count[g]);
			any = true;
		}
		if (any && k < sizeof(label) - 2)
			k += (size_t)snprintf(label + k, sizeof(label) - k, "]");
		if (multi_pid && k < sizeof(label) - 24)
			snprintf(label + k, sizeof(label) - k, " pid %" PRIu32, s->pid);
		text_row(f, "  ", &s->f, label, &m);
		fputc('\n', f);
	}
	free(ix);
	if (r->n_sites > top)
		fprintf(f, "  ... %zu more sites (all of them in the JSON \"sites\" record)\n", r->n_sites - top);
	text_row(f, "  ", &r->total, "total", &m);
	fputc('\n', f);
}

/* ---- JSON ---- */

void am_site_fig_json(struct jsonw *w, const struct am_site_fig *g)
{
	jsonw_ku64(w, "calls", g->calls);
	jsonw_ku64(w, "bytes", g->bytes);
	jsonw_ku64(w, "peak_count", g->peak_count);
	jsonw_ku64(w, "peak_bytes", g->peak_bytes);
	jsonw_ku64(w, "leak_count", g->leak_count);
	jsonw_ku64(w, "leak_bytes", g->leak_bytes);
	jsonw_ku64(w, "temp_count", g->temp_count);
	jsonw_ku64(w, "temp_bytes", g->temp_bytes);
	jsonw_ku64(w, "os_bytes", g->os_bytes);
}

static void json_fig(struct jsonw *w, const struct am_site_fig *g)
{
	am_site_fig_json(w, g);
	jsonw_kobj_open(w, "regions");
	for (unsigned r = 0; r < AM_REG__COUNT; r++) {
		if (!g->region_count[r])
			continue;
		jsonw_kobj_open(w, region_name(r));
		jsonw_ku64(w, "count", g->region_count[r]);
		jsonw_ku64(w, "bytes", g->region_bytes[r]);
		jsonw_obj_close(w);
	}
	jsonw_obj_close(w);
}

/* A (pid, object, build id) of a frame of the stacks. */
struct mapent {
	uint32_t pid;
	const char *obj, *build_id;
};

static int mapent_cmp(const void *a, const void *b)
{
	const struct mapent *x = a, *y = b;
	int c;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	c = strcmp(x->obj, y->obj);
	return c ? c : strcmp(x->build_id, y->build_id);
}

/* "mappings":[{"pid":N,"obj":S,"build_id":S}, ...]: the objects of the
 * stacks' frames whose build id is known (what report --pprof gives its
 * mappings: the frames of the call records do not carry it). */
static void json_mappings(struct jsonw *w, const struct am_sites_report *r)
{
	struct mapent *m = NULL;
	size_t n = 0, cap = 0;

	jsonw_karr_open(w, "mappings");
	for (size_t i = 0; i < r->n_stacks; i++) {
		const struct am_stack *st = r->stacks[i].stack;

		for (uint32_t k = 0; st && k < st->n; k++) {
			const struct am_frame *f = &st->f[k];

			if (!f->obj || !f->build_id)
				continue;
			if (n && m[n - 1].pid == st->pid && m[n - 1].obj == f->obj && m[n - 1].build_id == f->build_id)
				continue; /* the common run: consecutive frames of one object */
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct mapent *nm = realloc(m, nc * sizeof(*nm));

				if (!nm)
					goto out;
				m = nm;
				cap = nc;
			}
			m[n++] = (struct mapent){ st->pid, f->obj, f->build_id };
		}
	}
	if (n)
		qsort(m, n, sizeof(*m), mapent_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !mapent_cmp(&m[i - 1], &m[i]))
			continue;
		jsonw_obj_open(w);
		jsonw_ku64(w, "pid", m[i].pid);
		jsonw_kstr(w, "obj", m[i].obj);
		jsonw_kstr(w, "build_id", m[i].build_id);
		jsonw_obj_close(w);
	}
out:
	jsonw_arr_close(w);
	free(m);
}

void am_sites_json(struct jsonw *w, const struct am_sites_report *r, uint64_t ts)
{
	jsonw_obj_open(w);
	jsonw_kstr(w, "type", "sites");
	jsonw_ku64(w, "ts_ns", ts);
	jsonw_ku64(w, "pid", 0);
	jsonw_ku64(w, "tid", 0);
	if (r->incomplete)
		jsonw_kbool(w, "incomplete", true);
	jsonw_ku64(w, "sample", r->sample_every);
	jsonw_kobj_open(w, "total");
	json_fig(w, &r->total);
	jsonw_obj_close(w);
	jsonw_karr_open(w, "procs");
	for (size_t i = 0; i < r->n_procs; i++) {
		jsonw_obj_open(w);
		jsonw_ku64(w, "pid", r->procs[i].pid);
		jsonw_ku64(w, "peak_count", r->procs[i].peak_count);
		jsonw_ku64(w, "peak_bytes", r->procs[i].peak_bytes);
		jsonw_ku64(w, "peak_ts_ns", r->procs[i].peak_ts);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	json_mappings(w, r);
	jsonw_karr_open(w, "sites");
	for (size_t i = 0; i < r->n_sites; i++) {
		const struct am_site *s = &r->sites[i];

		jsonw_obj_open(w);
		jsonw_ku64(w, "pid", s->pid);
		if (s->frame) {
			jsonw_key(w, "frame");
			am_json_frame(w, s->frame);
		}
		jsonw_ku64(w, "stacks", s->n_stacks);
		json_fig(w, &s->f);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_karr_open(w, "stacks");
	for (size_t i = 0; i < r->n_stacks; i++) {
		const struct am_site_stack *s = &r->stacks[i];

		jsonw_obj_open(w);
		jsonw_ku64(w, "pid", s->pid);
		jsonw_ku64(w, "site", s->site);
		json_fig(w, &s->f);
		if (s->stack) {
			jsonw_ku64(w, "alloc_frames", s->skip);
			jsonw_karr_open(w, "stack");
			for (uint32_t k = 0; k < s->stack->n; k++)
				am_json_frame(w, &s->stack->f[k]);
			jsonw_arr_close(w);
			if (s->stack->flags & AM_STK_TRUNCATED)
				jsonw_kbool(w, "stack_truncated", true);
		}
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
	jsonw_eol(w);
}
