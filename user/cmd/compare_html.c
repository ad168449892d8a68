// SPDX-License-Identifier: GPL-2.0
/* compare_html.c - the self-contained page of `allocmap compare --html`:
 * one timeline per allocator on a shared time axis (bytes live in
 * allocations vs bytes held from the OS, and a strip with a tick per OS
 * request, one row per syscall), a cursor that reads every timeline at the
 * same instant, and the side-by-side table. Inline SVG drawn here, a few
 * lines of inline JS for the cursor; no network. Also the page head/tail
 * and escaping shared with the demo's page. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "compare_run.h"
#include "fmt.h"
#include "jsonw.h"
#include "safeio.h"

#define W       960          /* svg width */
#define PX0     80           /* plot left */
#define PW      860          /* plot width: one column per pixel */
#define PH      150          /* plot height */
#define STRIP_Y (PH + 18)    /* syscall strip top */
#define ROW_H   6
#define SVG_H   (STRIP_Y + AM_SYS__COUNT * ROW_H + 22)


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

void am_cmp_html_table(FILE *f, const struct am_cmp_table *t)
{
	fputs("<table><tr><th></th>", f);
	for (int c = 0; c < t->n_cols; c++) {
		fputs("<th>", f);
		am_html_esc(f, t->head[c]);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	for (int r = 0; r < t->n_rows; r++) {
		if (t->section[r]) {
			fprintf(f, "<tr class=\"sec\"><th colspan=\"%d\">", t->n_cols + 1);
			am_html_esc(f, t->label[r]);
			fputs("</th></tr>\n", f);
			continue;
		}
		fputs("<tr><td>", f);
		am_html_esc(f, t->label[r]);
		fputs("</td>", f);
		for (int c = 0; c < t->n_cols; c++) {
			if (t->is_bytes[r] && t->cell[r][c][0] && strcmp(t->cell[r][c], "-"))
				fprintf(f, "<td class=\"n\" title=\"%" PRIu64 " bytes\">", t->exact[r][c]);
			else
				fputs("<td class=\"n\">", f);
			am_html_esc(f, t->cell[r][c]);
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
	if (t->note[0]) {
		fputs("<p class=\"note\">", f);
		am_html_esc(f, t->note);
		fputs("</p>\n", f);
	}
}

/* A "nice" tick step (1, 2, 5 x 10^k) giving about n ticks over span. */
static uint64_t nice_step(uint64_t span, int n)
{
	uint64_t raw = span / (uint64_t)n, p = 1;

	if (!raw)
		return 1;
	while (p * 10 <= raw)
		p *= 10;
	if (raw >= 5 * p)
		return 5 * p;
	if (raw >= 2 * p)
		return 2 * p;
	return p;
}

static void fmt_t(char *buf, size_t sz, uint64_t ns)
{
	if (ns >= 1000000000ull)
		snprintf(buf, sz, "%.2f s", ns / 1e9);
	else
		snprintf(buf, sz, "%.1f ms", ns / 1e6);
}

/* Column maxima of one run's samples, carried forward over empty columns. */
static void columns(const struct am_cmp_run *r, uint64_t tmax, uint64_t *live, uint64_t *os)
{
	uint64_t cl = 0, co = 0;
	bool seen[PW] = { false };

	memset(live, 0, PW * sizeof(*live));
	memset(os, 0, PW * sizeof(*os));
	for (size_t i = 0; i < r->n_pts; i++) {
		const struct am_cmp_point *p = &r->pts[i];
		size_t x = tmax ? (size_t)((double)p->t_ns / (double)tmax * (PW - 1)) : 0;

		if (x >= PW)
			x = PW - 1;
		if (!seen[x] || p->live > live[x])
			live[x] = p->live;
		if (!seen[x] || p->os > os[x])
			os[x] = p->os;
		seen[x] = true;
	}
	/* the last sample of the run ends its line: nothing is drawn after it */
	for (size_t x = 0; x < PW; x++) {
		if (seen[x]) {
			cl = live[x];
			co = os[x];
		} else {
			live[x] = cl;
			os[x] = co;
		}
	}
}

static int y_of(uint64_t v, uint64_t ymax)
{
	return PH - (int)((double)v / (double)ymax * (PH - 4));
}

static void polyline(FILE *f, const uint64_t *v, size_t ncol, uint64_t ymax, const char *color)
{
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
	for (size_t x = 0; x < ncol; x++)
		fprintf(f, "%zu,%d ", PX0 + x, y_of(v[x], ymax));
	fputs("\"/>\n", f);
}

static void timeline(FILE *f, const struct am_cmp_run *r, int idx, uint64_t tmax, uint64_t ymax,
		     uint64_t *live, uint64_t *os)
{
	char b[AM_FMT_BUF];
	uint64_t step, last_t = 0;
	size_t ncol;
	static unsigned char hit[AM_SYS__COUNT][PW];

	columns(r, tmax, live, os);
	for (size_t i = 0; i < r->n_pts; i++)
		if (r->pts[i].t_ns > last_t)
			last_t = r->pts[i].t_ns;
	ncol = tmax ? (size_t)((double)last_t / (double)tmax * (PW - 1)) + 1 : 1;
	if (ncol > PW)
		ncol = PW;

	fprintf(f, "<h2>");
	am_html_esc(f, r->name);
	fprintf(f, "</h2>\n<svg class=\"tl\" data-run=\"%d\" width=\"%d\" height=\"%d\" "
		"viewBox=\"0 0 %d %d\">\n", idx, W, SVG_H, W, SVG_H);
	fprintf(f, "<rect x=\"%d\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" "
		"stroke=\"#ccc\"/>\n", PX0, PW, PH);
	/* y axis: 0, half, max */
	for (int k = 0; k <= 2; k++) {
		uint64_t v = ymax / 2 * (uint64_t)k;
		int y = y_of(v, ymax);

		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%s</text>\n",
			PX0 - 4, y + 3, am_fmt_size(b, sizeof(b), v));
		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#eee\"/>\n",
			PX0, PX0 + PW, y, y);
	}
	/* x axis ticks (shared scale) */
	step = nice_step(tmax, 8);
	for (uint64_t t = 0; t <= tmax; t += step) {
		int x = PX0 + (int)((double)t / (double)tmax * (PW - 1));

		fmt_t(b, sizeof(b), t);
		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
			"<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%s</text>\n",
			x, x, 0, STRIP_Y + AM_SYS__COUNT * ROW_H, x, SVG_H - 6, b);
	}
	polyline(f, os, ncol, ymax, "#e07b00");
	polyline(f, live, ncol, ymax, "#1f5fbf");
	/* syscall strip: one row per syscall, a tick per column that saw one */
	memset(hit, 0, sizeof(hit));
	for (size_t i = 0; i < r->n_marks; i++) {
		const struct am_cmp_mark *m = &r->marks[i];
		size_t x = (size_t)((double)m->t_ns / (double)tmax * (PW - 1));

		if (x < PW && m->sys < AM_SYS__COUNT)
			hit[m->sys][x] |= m->in_call ? 1 : 2;
	}
	for (int s = 0; s < AM_SYS__COUNT; s++) {
		int y = STRIP_Y + s * ROW_H;

		fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"7\" text-anchor=\"end\">%s</text>\n",
			PX0 - 4, y + 5, am_sys_names[s]);
		for (int x = 0; x < PW; x++)
			if (hit[s][x])
				fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"1\" height=\"%d\" "
					"fill=\"%s\"%s/>", PX0 + x, y, ROW_H - 1, am_sys_info_[s].color,
					hit[s][x] & 1 ? "" : " opacity=\"0.35\"");
		fputc('\n', f);
	}
	fprintf(f, "<line class=\"cur\" x1=\"-10\" x2=\"-10\" y1=\"0\" y2=\"%d\" stroke=\"#000\" "
		"stroke-dasharray=\"3,2\"/>\n</svg>\n", STRIP_Y + AM_SYS__COUNT * ROW_H);
}

/* The cursor's data, a JSON array (html-safe: inert in the <script>
 * element): per run its name and, per pixel column, the bytes live and
 * the bytes held from the OS. 0, or -1 when out of memory. */
static int cursor_data(FILE *f, const struct am_cmp_run *runs, int n, const uint64_t *live,
		       const uint64_t *os)
{
	struct jsonw *w = jsonw_new(f);

	if (!w)
		return -1;
	jsonw_set_html(w, true);
	jsonw_arr_open(w);
	for (int i = 0; i < n; i++) {
		const uint64_t *l = live + (size_t)i * PW, *o = os + (size_t)i * PW;

		jsonw_nl(w);
		jsonw_obj_open(w);
		jsonw_kstr(w, "name", runs[i].name);
		jsonw_karr_open(w, "live");
		for (int x = 0; x < PW; x++)
			jsonw_u64(w, l[x]);
		jsonw_arr_close(w);
		jsonw_karr_open(w, "os");
		for (int x = 0; x < PW; x++)
			jsonw_u64(w, o[x]);
		jsonw_arr_close(w);
		jsonw_obj_close(w);
	}
	jsonw_eol(w);
	jsonw_arr_close(w);
	jsonw_flush(w);   /* a failed write shows in ferror(f), checked at the end */
	free(w);
	return 0;
}

int am_cmp_html(const char *path, const char *cmdline, const struct am_cmp_run *runs,
		int n, const struct am_cmp_table *t, char *err, size_t errsz)
{
	uint64_t tmax = 1, ymax = 1;
	uint64_t *live = NULL, *os = NULL;
	FILE *f;
	char b[AM_FMT_BUF];

	f = am_fopen_output(path, err, errsz);
	if (!f)
		return -1;
	live = calloc((size_t)n * PW, sizeof(*live));
	os = calloc((size_t)n * PW, sizeof(*os));
	if (!live || !os) {
		snprintf(err, errsz, "out of memory");
		free(live);
		free(os);
		fclose(f);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const struct am_cmp_run *r = &runs[i];

		for (size_t k = 0; k < r->n_pts; k++) {
			if (r->pts[k].t_ns > tmax)
				tmax = r->pts[k].t_ns;
			if (r->pts[k].os > ymax)
				ymax = r->pts[k].os;
			if (r->pts[k].live > ymax)
				ymax = r->pts[k].live;
		}
		for (size_t k = 0; k < r->n_marks; k++)
			if (r->marks[k].t_ns > tmax)
				tmax = r->marks[k].t_ns;
	}
	ymax += ymax / 20;

	am_html_begin(f, "allocmap compare");
	fputs("<h1>allocmap compare</h1>\n<p>Command: <code>", f);
	am_html_esc(f, cmdline);
	fputs("</code>, traced once per allocator. Time is since each trace started "
	      "(traced time: probe traps slow every allocator call, so compare shapes, not "
	      "durations).</p>\n<p class=\"legend\">"
	      "<span><i class=\"sw\" style=\"background:#1f5fbf\"></i>bytes live in allocations</span>"
	      "<span><i class=\"sw\" style=\"background:#e07b00\"></i>bytes held from the OS "
	      "(brk heap + allocator mappings)</span>", f);
	for (int s = 0; s < AM_SYS__COUNT; s++)
		fprintf(f, "<span><i class=\"sw\" style=\"background:%s\"></i>%s</span>",
			am_sys_info_[s].color, am_sys_names[s]);
	fputs("<span>(faint ticks: OS requests made outside allocator calls)</span></p>\n"
	      "<div id=\"readout\">move the mouse over a timeline</div>\n", f);
	for (int i = 0; i < n; i++)
		if (runs[i].traced)
			timeline(f, &runs[i], i, tmax, ymax, live + (size_t)i * PW, os + (size_t)i * PW);
	fputs("<h2>Side by side</h2>\n", f);
	am_cmp_html_table(f, t);

	/* cursor data: per run, per pixel column, [live, os] */
	fprintf(f, "<script>\nconst TMAX=%llu, PX0=%d, PW=%d;\nconst RUNS=",
		(unsigned long long)tmax, PX0, PW);
	if (cursor_data(f, runs, n, live, os) < 0) {
		snprintf(err, errsz, "out of memory");
		free(live);
		free(os);
		fclose(f);
		return -1;
	}
	fputs(";\n"
	      "function sz(v){const u=['B','KiB','MiB','GiB'];let i=0;"
	      "while(v>=1024&&i<3){v/=1024;i++;}return (i?v.toFixed(1):v)+' '+u[i];}\n"
	      "const svgs=document.querySelectorAll('svg.tl');\n"
	      "svgs.forEach(s=>s.addEventListener('mousemove',e=>{\n"
	      " const r=s.getBoundingClientRect();\n"
	      " let x=Math.round((e.clientX-r.left)*s.viewBox.baseVal.width/r.width)-PX0;\n"
	      " if(x<0||x>=PW)return;\n"
	      " svgs.forEach(o=>{const c=o.querySelector('.cur');c.setAttribute('x1',x+PX0);"
	      "c.setAttribute('x2',x+PX0);});\n"
	      " let t='t = '+(x/(PW-1)*TMAX/1e6).toFixed(2)+' ms\\n';\n"
	      " svgs.forEach(o=>{const R=RUNS[+o.dataset.run];"
	      "t+=R.name.padEnd(10)+' live '+sz(R.live[x]).padStart(10)+'   from OS '+"
	      "sz(R.os[x]).padStart(10)+'\\n';});\n"
	      " document.getElementById('readout').textContent=t;}));\n"
	      "</script>\n", f);
	fprintf(f, "<p>Peak of the y axis: %s.</p>\n", am_fmt_size(b, sizeof(b), ymax));
	am_html_end(f);
	free(live);
	free(os);
	errno = 0;
	if (ferror(f) | fclose(f)) {
		snprintf(err, errsz, "%s", errno ? strerror(errno) : "write error");
		return -1;
	}
	return 0;
}
