// SPDX-License-Identifier: GPL-2.0
/* compare_html.c - the self-contained page of `allocmap compare --html`, in
 * the report's look: user/report/assets/compare.{html,js} and the report's
 * report.css, embedded at build time (generated header
 * .output/compare_assets.h), with one JSON data block written by jsonw in
 * its html mode (no string from the command line can end or open the
 * <script> element): the --json document, the table as the text prints it,
 * and each traced run's timeline (points: time, allocator calls made so
 * far, bytes live, bytes from the OS; a mark per OS request). compare.js
 * draws it and only ever inserts text. Also the page head/tail and escaping
 * the demo's page uses. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "compare_run.h"
#include "compare_assets.h"
#include "jsonw.h"
#include "safeio.h"

/* Points and marks per run on the page: past these, every k-th (the last
 * point, the summary's, always kept). */
#define PAGE_POINTS 20000
#define PAGE_MARKS  20000

void am_html_esc(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f);
		}
	}
}

void am_html_begin(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>", f);
	am_html_esc(f, title);
	fputs("</title>\n<style>\n"
	      "body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}\n"
	      "h1{font-size:20px}h2{font-size:16px;margin:18px 0 4px}\n"
	      "code,td.n{font-family:ui-monospace,monospace}\n"
	      "table{border-collapse:collapse;margin:10px 0}\n"
	      "td,th{border:1px solid #ccc;padding:2px 8px}td.n{text-align:right}\n"
	      "tr.sec th{background:#eef;text-align:left}\n"
	      ".legend span{display:inline-block;margin-right:14px}\n"
	      ".sw{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}\n"
	      "#readout{font-family:ui-monospace,monospace;white-space:pre;min-height:5em;"
	      "background:#f7f7f7;padding:4px}\n"
	      ".heap{background:#d4f4dc}.mmap{background:#ffe0c0}.arena{background:#e0e8ff}\n"
	      "</style></head><body>\n", f);
}

void am_html_end(FILE *f)
{
	fputs("</body></html>\n", f);
}

/* The table as the text prints it: titles, rows (a section has no cells),
 * the exact bytes of a size row, the note. */
static void json_table(struct jsonw *w, const struct am_cmp_table *t)
{
	jsonw_kobj_open(w, "table");
	jsonw_karr_open(w, "head");
	for (int c = 0; c < t->n_cols; c++)
		jsonw_str(w, t->head[c]);
	jsonw_arr_close(w);
	jsonw_karr_open(w, "rows");
	for (int r = 0; r < t->n_rows; r++) {
		jsonw_nl(w);
		jsonw_obj_open(w);
		jsonw_kstr(w, "label", t->label[r]);
		if (t->section[r]) {
			jsonw_kbool(w, "section", true);
			jsonw_obj_close(w);
			continue;
		}
		jsonw_karr_open(w, "cells");
		for (int c = 0; c < t->n_cols; c++)
			jsonw_str(w, t->cell[r][c]);
		jsonw_arr_close(w);
		if (t->is_bytes[r]) {
			jsonw_karr_open(w, "bytes");
			for (int c = 0; c < t->n_cols; c++)
				jsonw_u64(w, t->exact[r][c]);
			jsonw_arr_close(w);
		}
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_kstr(w, "note", t->note);
	jsonw_obj_close(w);
}

/* One run's timeline: flat arrays, points [t_ns, calls, live, os]... and
 * marks [t_ns, calls, syscall, in_call]...; every step-th of each when
 * there are more than the page holds (the last point always). */
static void json_timeline(struct jsonw *w, const struct am_cmp_run *r)
{
	size_t ps = r->n_pts > PAGE_POINTS ? (r->n_pts + PAGE_POINTS - 1) / PAGE_POINTS : 1;
	size_t ms = r->n_marks > PAGE_MARKS ? (r->n_marks + PAGE_MARKS - 1) / PAGE_MARKS : 1;

	jsonw_nl(w);
	jsonw_obj_open(w);
	jsonw_kstr(w, "name", r->name);
	jsonw_ku64(w, "points_every", ps);
	jsonw_ku64(w, "points_total", r->n_pts);
	jsonw_ku64(w, "marks_every", ms);
	jsonw_ku64(w, "marks_total", r->n_marks);
	jsonw_karr_open(w, "points");
	for (size_t i = 0; i < r->n_pts; i++) {
		const struct am_cmp_point *p = &r->pts[i];

		if (i % ps && i + 1 != r->n_pts)
			continue;
		jsonw_u64(w, p->t_ns);
		jsonw_u64(w, p->calls);
		jsonw_u64(w, p->live);
		jsonw_u64(w, p->os);
	}
	jsonw_arr_close(w);
	jsonw_karr_open(w, "marks");
	for (size_t i = 0; i < r->n_marks; i += ms) {
		const struct am_cmp_mark *m = &r->marks[i];

		jsonw_u64(w, m->t_ns);
		jsonw_u64(w, m->calls);
		jsonw_u64(w, m->sys);
		jsonw_u64(w, m->in_call);
	}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

/* The page's data block. */
static void json_page(struct jsonw *w, const struct am_cmp_page *pg)
{
	jsonw_obj_open(w);
	jsonw_key(w, "compare");
	am_cmp_json(w, pg->cmd, pg->runs, pg->n, pg->plain);
	jsonw_nl(w);
	jsonw_kobj_open(w, "settings");
	jsonw_ku64(w, "runs", pg->n_plain);
	jsonw_kbool(w, "untraced", pg->plain);
	jsonw_obj_close(w);
	jsonw_karr_open(w, "syscalls");
	for (int s = 0; s < AM_SYS__COUNT; s++)
		jsonw_str(w, am_sys_names[s]);
	jsonw_arr_close(w);
	jsonw_nl(w);
	json_table(w, pg->table);
	jsonw_karr_open(w, "timelines");
	for (int i = 0; i < pg->n; i++)
		if (pg->runs[i].traced)
			json_timeline(w, &pg->runs[i]);
	jsonw_arr_close(w);
	jsonw_obj_close(w);
	jsonw_eol(w);
}

/* The script, with any "</" as "<\/" so it cannot end its element. */
static void put_script(FILE *f, const char *s)
{
	for (const char *p; (p = strstr(s, "</")); s = p + 2) {
		fwrite(s, 1, (size_t)(p - s), f);
		fputs("<\\/", f);
	}
	fputs(s, f);
}

int am_cmp_html(const char *path, const struct am_cmp_page *pg, char *err, size_t errsz)
{
	static const char *const marks[3] = { "/*@CSS@*/", "/*@DATA@*/", "/*@JS@*/" };
	const char *p = am_asset_compare_html;
	struct jsonw *w;
	FILE *f = am_fopen_output(path, err, errsz);   /* as root: no symlink, no FIFO */
	int e = 0;

	if (!f)
		return -1;
	w = jsonw_new(f);
	if (!w) {
		fclose(f);
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	jsonw_set_html(w, true);
	for (int i = 0; i < 3; i++) {
		const char *q = strstr(p, marks[i]);

		if (!q) {
			e = EINVAL;   /* not reached: the template is ours */
			break;
		}
		fwrite(p, 1, (size_t)(q - p), f);
		if (i == 0) {
			fputs(am_asset_report_css, f);
		} else if (i == 1) {
			json_page(w, pg);
			if (jsonw_flush(w) < 0)
				e = w->errnum;
		} else {
			put_script(f, am_asset_compare_js);
		}
		p = q + strlen(marks[i]);
	}
	fputs(p, f);
	free(w);
	errno = 0;
	if (ferror(f) && !e)
		e = errno ? errno : EIO;
	if (fclose(f) && !e)
		e = errno ? errno : EIO;
	if (e) {
		snprintf(err, errsz, "%s", strerror(e));
		return -1;
	}
	return 0;
}
