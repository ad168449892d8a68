// SPDX-License-Identifier: GPL-2.0
/* http_routes.c - the endpoints of `allocmap serve`'s HTTP side (http.h).
 * Each reads the daemon through srv.h with the viewer's identity, so a
 * target the viewer may not see is exactly a target that does not exist
 * (404); the daemon's own figures go only to viewers who see everything.
 * Every byte from a target is escaped for where it goes: HTML, JSON
 * (jsonw), Prometheus labels (prom.c). */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "fmt.h"
#include "http_int.h"
#include "jsonw.h"
#include "prom.h"
#include "report.h"
#include "live_assets.h"

/* The pages' policies: nothing from elsewhere, no inline script on the
 * live page; the report (one self-contained file: inline style, script
 * and data, the data JSON written html-safe) only inside the live page. */
#define CSP_PAGE "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " \
	"img-src 'self' data:; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define CSP_REPORT "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " \
	"img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
#define HTML "text/html; charset=utf-8"

/* Everything the viewer may see, copied (a snapshot per target). */
struct snap {
	struct am_srv_target_info info;
	struct am_summary sum;
};
struct snaps {
	struct snap *v;
	size_t n, cap;
	bool oom;
};

static void snap_one(void *ctx, struct am_srv_target *t)
{
	struct snaps *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 16;
		struct snap *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			s->oom = true;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	am_srv_target_info(t, &s->v[s->n].info);
	am_srv_target_summary(t, &s->v[s->n].sum);
	s->n++;
}

static int snap_cmp(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;

	return x->info.pid < y->info.pid ? -1 : x->info.pid > y->info.pid;
}

/* 0, or -1 with 500 in r (out of memory: a partial list is never served). */
static int snaps_take(struct am_http *h, const struct am_srv_viewer *v, struct snaps *s,
		      struct am_http_resp *r)
{
	memset(s, 0, sizeof(*s));
	am_srv_each(h->srv, v, snap_one, s);
	if (s->oom) {
		am_http_text(r, 500, "out of memory\n");
		return -1;
	}
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), snap_cmp);
	return 0;
}

static const char *mode_name(enum am_srv_mode m)
{
	return m == AM_SRV_OS ? "os" : "all";
}

/* A memory stream for a response body. */
struct mbuf {
	FILE *f;
	char *p;
	size_t n;
};

static int mbuf_open(struct mbuf *b, struct am_http_resp *r)
{
	b->p = NULL;
	b->n = 0;
	b->f = open_memstream(&b->p, &b->n);
	if (!b->f)
		am_http_text(r, 500, "out of memory\n");
	return b->f ? 0 : -1;
}

/* Closes b into r (status 200, type ctype). */
static void mbuf_done(struct mbuf *b, struct am_http_resp *r, const char *ctype)
{
	bool bad = ferror(b->f);

	if (fclose(b->f) || bad) {
		free(b->p);
		am_http_text(r, 500, "out of memory\n");
		return;
	}
	r->status = 200;
	r->ctype = ctype;
	r->body = b->p;
	r->len = b->n;
}

/* The pid query argument: 1..INT_MAX in decimal. 0, or -1 (400 in r). */
static int query_pid(struct MHD_Connection *c, struct am_http_resp *r, pid_t *pid)
{
	const char *s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "pid");
	size_t n = s ? strlen(s) : 0;
	long long v = 0;

	if (!n || n > 10 || strspn(s, "0123456789") != n || (v = atoll(s)) < 1 || v > INT_MAX) {
		am_http_text(r, 400, "bad request: expected ?pid=N (a process id, in decimal)\n");
		return -1;
	}
	*pid = (pid_t)v;
	return 0;
}

/* The target pid names, for v (a new reference), or NULL with 400/404 in r. */
static struct am_srv_target *find_target(struct am_http *h, struct MHD_Connection *c,
					 const struct am_srv_viewer *v, struct am_http_resp *r)
{
	struct am_srv_target *t;
	pid_t pid;

	if (query_pid(c, r, &pid) < 0)
		return NULL;
	t = am_srv_find(h->srv, v, pid);
	if (!t)
		am_http_text(r, 404, "no traced process %d\n", (int)pid);
	return t;
}

static void route_metrics(struct am_http *h, const struct am_srv_viewer *v, struct am_http_resp *r)
{
	struct snaps s;
	struct am_prom_target *pt = NULL;
	struct am_srv_stats st;
	struct am_prom_daemon d;
	struct mbuf b;

	if (snaps_take(h, v, &s, r) < 0)
		goto out;
	pt = calloc(s.n ? s.n : 1, sizeof(*pt));
	if (!pt || mbuf_open(&b, r) < 0) {
		if (!r->body)
			am_http_text(r, 500, "out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < s.n; i++) {
		const struct am_srv_target_info *in = &s.v[i].info;

		pt[i] = (struct am_prom_target){
			.pid = (uint32_t)in->pid, .comm = in->comm, .comm_len = sizeof(in->comm),
			.allocator = in->allocator, .mode = mode_name(in->mode), .alive = in->alive,
			.started_unix_ns = in->started_unix_ns, .history_dropped = in->history_dropped,
			.s = &s.v[i].sum,
		};
	}
	if (v->all) {
		am_srv_stats(h->srv, &st);
		d = (struct am_prom_daemon){ st.events, st.events_per_s, st.ringbuf_fill, st.rss_bytes,
					     st.targets, st.dropped, st.clients };
	}
	am_prom_write(b.f, pt, s.n, v->all ? &d : NULL);
	mbuf_done(&b, r, AM_PROM_CONTENT_TYPE);
out:
	free(pt);
	free(s.v);
}

/* One target's identity, as JSON members. */
static void json_info(struct jsonw *w, const struct am_srv_target_info *in)
{
	jsonw_ku64(w, "id", in->id);
	jsonw_ku64(w, "pid", (uint64_t)in->pid);
	jsonw_key(w, "comm");
	jsonw_strn(w, in->comm, strnlen(in->comm, sizeof(in->comm)));
	jsonw_key(w, "allocator");
	if (in->allocator[0])
		jsonw_strn(w, in->allocator, strnlen(in->allocator, sizeof(in->allocator)));
	else
		jsonw_null(w);
	jsonw_kstr(w, "mode", mode_name(in->mode));
	jsonw_kbool(w, "alive", in->alive);
	jsonw_ku64(w, "started_unix_ns", in->started_unix_ns);
	jsonw_ku64(w, "history_dropped", in->history_dropped);
}

static void route_targets(struct am_http *h, const struct am_srv_viewer *v, struct am_http_resp *r)
{
	struct snaps s;
	struct jsonw *w;
	struct mbuf b;
	char u[64];

	if (snaps_take(h, v, &s, r) < 0 || mbuf_open(&b, r) < 0)
		goto out;
	w = jsonw_new(b.f);
	if (!w) {
		fclose(b.f);
		free(b.p);
		am_http_text(r, 500, "out of memory\n");
		goto out;
	}
	jsonw_arr_open(w);
	for (size_t i = 0; i < s.n; i++) {
		jsonw_nl(w);
		jsonw_obj_open(w);
		json_info(w, &s.v[i].info);
		snprintf(u, sizeof(u), "/debug/pprof/heap?pid=%d", (int)s.v[i].info.pid);
		jsonw_kstr(w, "heap", u);
		snprintf(u, sizeof(u), "/debug/pprof/allocs?pid=%d", (int)s.v[i].info.pid);
		jsonw_kstr(w, "allocs", u);
		snprintf(u, sizeof(u), "/live?pid=%d", (int)s.v[i].info.pid);
		jsonw_kstr(w, "live", u);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_eol(w);
	jsonw_flush(w);
	free(w);
	mbuf_done(&b, r, "application/json");
out:
	free(s.v);
}

/* The Host header when it is a plain host[:port] (letters, digits, '.',
 * '-', ':', brackets), else the listen address. */
static void self_address(struct am_http *h, struct MHD_Connection *c, char *buf, size_t n)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);

	if (host && *host && strlen(host) < n &&
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") == strlen(host))
		snprintf(buf, n, "%s", host);
	else if (strchr(h->o.addr, ':'))
		snprintf(buf, n, "[%s]:%u", h->o.addr, h->port);
	else
		snprintf(buf, n, "%s:%u", h->o.addr, h->port);
}

/* Prometheus HTTP service discovery (http_sd_configs): one group per
 * target, with __param_pid so that a pprof scrape asks for it. */
static void route_sd(struct am_http *h, struct MHD_Connection *c, const struct am_srv_viewer *v,
		     struct am_http_resp *r)
{
	struct snaps s;
	struct jsonw *w;
	struct mbuf b;
	char self[300], u[32];

	self_address(h, c, self, sizeof(self));
	if (snaps_take(h, v, &s, r) < 0)
		goto out;
	if (mbuf_open(&b, r) < 0 || !(w = jsonw_new(b.f))) {
		if (!r->body) {
			fclose(b.f);
			free(b.p);
			am_http_text(r, 500, "out of memory\n");
		}
		goto out;
	}
	jsonw_arr_open(w);
	for (size_t i = 0; i < s.n; i++) {
		const struct am_srv_target_info *in = &s.v[i].info;

		jsonw_nl(w);
		jsonw_obj_open(w);
		jsonw_key(w, "targets");
		jsonw_arr_open(w);
		jsonw_str(w, self);
		jsonw_arr_close(w);
		jsonw_key(w, "labels");
		jsonw_obj_open(w);
		snprintf(u, sizeof(u), "%d", (int)in->pid);
		jsonw_kstr(w, "__param_pid", u);
		jsonw_kstr(w, "pid", u);
		jsonw_key(w, "comm");
		jsonw_strn(w, in->comm, strnlen(in->comm, sizeof(in->comm)));
		jsonw_key(w, "service_name");   /* Pyroscope's required label */
		jsonw_strn(w, in->comm, strnlen(in->comm, sizeof(in->comm)));
		jsonw_kstr(w, "allocator", in->allocator[0] ? in->allocator : "unknown");
		jsonw_kstr(w, "mode", mode_name(in->mode));
		jsonw_obj_close(w);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_eol(w);
	jsonw_flush(w);
	free(w);
	mbuf_done(&b, r, "application/json");
out:
	free(s.v);
}

/* s (at most n bytes) as HTML text: & < > " ' as entities, bytes that are
 * not UTF-8 and control characters as U+FFFD. */
static void html_esc(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strnlen(s, n);

	for (size_t i = 0; i < len;) {
		size_t k = am_utf8_len(p + i, p + len);

		switch (p[i]) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if (!k || p[i] < 0x20 || p[i] == 0x7f)
				fputs("\xef\xbf\xbd", f);
			else
				fwrite(p + i, 1, k, f);
		}
		i += k ? k : 1;
	}
}

static void route_index(struct am_http *h, const struct am_srv_viewer *v, struct am_http_resp *r)
{
	struct snaps s;
	struct mbuf b;

	if (snaps_take(h, v, &s, r) < 0 || mbuf_open(&b, r) < 0)
		goto out;
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>allocmap serve</title>"
	      "<link rel=\"stylesheet\" href=\"/live.css\"></head><body><h1>allocmap serve</h1>\n"
	      "<p><a href=\"/metrics\">/metrics</a> · <a href=\"/targets.json\">/targets.json</a> · "
	      "<a href=\"/sd.json\">/sd.json</a></p>\n", b.f);
	fprintf(b.f, "<p>%zu traced process%s you may see.</p>\n<table id=\"targets\"><thead><tr><th>pid</th>"
		"<th>comm</th><th>allocator</th><th>mode</th><th>state</th><th>profiles</th><th>live page</th>"
		"</tr></thead><tbody>\n", s.n, s.n == 1 ? "" : "es");
	for (size_t i = 0; i < s.n; i++) {
		const struct am_srv_target_info *in = &s.v[i].info;
		int pid = (int)in->pid;

		fprintf(b.f, "<tr><td>%d</td><td>", pid);
		html_esc(b.f, in->comm, sizeof(in->comm));
		fputs("</td><td>", b.f);
		html_esc(b.f, in->allocator[0] ? in->allocator : "unknown", sizeof(in->allocator));
		fprintf(b.f, "</td><td>%s</td><td>%s</td><td><a href=\"/debug/pprof/heap?pid=%d\">heap</a> "
			"<a href=\"/debug/pprof/allocs?pid=%d\">allocs</a></td><td><a href=\"/live?pid=%d\">live"
			"</a></td></tr>\n", mode_name(in->mode), in->alive ? "running" : "exited", pid, pid, pid);
	}
	fputs("</tbody></table></body></html>\n", b.f);
	mbuf_done(&b, r, HTML);
	r->csp = CSP_PAGE;
out:
	free(s.v);
}

static void route_pprof(struct am_http *h, struct MHD_Connection *c, const struct am_srv_viewer *v,
			bool heap, struct am_http_resp *r)
{
	struct am_srv_target *t = find_target(h, c, v, r);
	struct am_srv_target_info in;
	uint8_t *out = NULL;
	size_t len = 0;
	char err[256];

	if (!t)
		return;
	am_srv_target_info(t, &in);
	if (in.mode == AM_SRV_OS) {
		am_http_text(r, 409, "pid %d is traced in os mode: no allocator call is traced, so there is "
			     "no %s profile (add the target in mode all)\n", (int)in.pid, heap ? "heap" : "allocs");
	} else if (am_srv_target_pprof(t, heap, &out, &len, err, sizeof(err)) < 0) {
		am_http_text(r, 503, "no profile for pid %d: %s\n", (int)in.pid, err);
	} else {
		r->status = 200;
		r->ctype = "application/octet-stream";
		r->body = (char *)out;
		r->len = len;
		r->disposition = heap ? "attachment; filename=\"heap.pb.gz\""
				      : "attachment; filename=\"allocs.pb.gz\"";
	}
	am_srv_put(t);
}

static void route_live(struct am_http *h, struct MHD_Connection *c, const struct am_srv_viewer *v,
		       struct am_http_resp *r)
{
	struct am_srv_target *t = find_target(h, c, v, r);

	if (!t)
		return;
	am_srv_put(t);
	r->body = strdup(am_asset_live_html);
	if (!r->body) {
		am_http_text(r, 500, "out of memory\n");
		return;
	}
	r->status = 200;
	r->ctype = HTML;
	r->len = strlen(r->body);
	r->csp = CSP_PAGE;
}

/* Records in a JSONL history: its lines. */
static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t k = 0;

	for (const char *q = p; (q = memchr(q, '\n', n - (size_t)(q - p))); q++)
		k++;
	return k;
}

static void route_live_json(struct am_http *h, struct MHD_Connection *c, const struct am_srv_viewer *v,
			    struct am_http_resp *r)
{
	struct am_srv_target *t = find_target(h, c, v, r);
	struct am_srv_target_info in;
	struct am_summary *s = NULL;
	struct jsonw *w = NULL;
	char *hist = NULL;
	size_t hlen = 0;
	uint64_t os = 0;
	struct mbuf b;

	if (!t)
		return;
	s = malloc(sizeof(*s));
	if (!s || am_srv_target_history(t, &hist, &hlen) < 0 || mbuf_open(&b, r) < 0) {
		if (!r->body)
			am_http_text(r, 500, "out of memory\n");
		goto out;
	}
	w = jsonw_new(b.f);
	if (!w) {
		fclose(b.f);
		free(b.p);
		am_http_text(r, 500, "out of memory\n");
		goto out;
	}
	am_srv_target_info(t, &in);
	am_srv_target_summary(t, s);
	for (unsigned i = 0; i < AM_SYS__COUNT; i++)
		os += s->sys_count[i];
	jsonw_obj_open(w);
	json_info(w, &in);
	jsonw_ku64(w, "records", count_lines(hist, hlen));
	jsonw_ku64(w, "events", s->events);
	jsonw_ku64(w, "os_requests", os);
	jsonw_key(w, "live_bytes");
	if (s->os_only)
		jsonw_null(w);   /* unknown: no allocator call traced */
	else
		jsonw_u64(w, s->live_bytes);
	jsonw_ku64(w, "heap_bytes", s->heap_bytes);
	jsonw_ku64(w, "mmapped_bytes", s->mmap_bytes);
	jsonw_ku64(w, "committed_bytes", s->committed_bytes);
	jsonw_obj_close(w);
	jsonw_eol(w);
	jsonw_flush(w);
	mbuf_done(&b, r, "application/json");
out:
	free(w);
	free(hist);
	free(s);
	am_srv_put(t);
}

/* A memfd holding n bytes of p (or empty), or -1. */
static int memfd_with(const char *name, const char *p, size_t n)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	while (fd >= 0 && n) {
		ssize_t k = write(fd, p, n);

		if (k <= 0) {
			close(fd);
			return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return fd;
}

/* The HTML report of the target's history, made by report.c through two
 * memfds (it reads and writes paths). */
static void route_report(struct am_http *h, struct MHD_Connection *c, const struct am_srv_viewer *v,
			 struct am_http_resp *r)
{
	struct am_srv_target *t = find_target(h, c, v, r);
	struct am_srv_target_info in;
	char *hist = NULL, in_path[64], out_path[64], src[64], err[512];
	size_t hlen = 0;
	int in_fd = -1, out_fd = -1;
	off_t sz;

	if (!t)
		return;
	if (am_srv_target_history(t, &hist, &hlen) < 0 ||
	    (in_fd = memfd_with("allocmap-history", hist, hlen)) < 0 ||
	    (out_fd = memfd_with("allocmap-report", NULL, 0)) < 0) {
		am_http_text(r, 500, "out of memory\n");
		goto out;
	}
	snprintf(in_path, sizeof(in_path), "/proc/self/fd/%d", in_fd);
	snprintf(out_path, sizeof(out_path), "/proc/self/fd/%d", out_fd);
	am_srv_target_info(t, &in);
	snprintf(src, sizeof(src), "allocmap serve, pid %d (live)", (int)in.pid);
	if (am_report_html_named(in_path, src, out_path, err, sizeof(err)) < 0) {
		am_http_text(r, 503, "no report yet: %s\n", err);
		goto out;
	}
	sz = lseek(out_fd, 0, SEEK_END);
	r->body = sz > 0 ? malloc((size_t)sz) : NULL;
	if (!r->body || pread(out_fd, r->body, (size_t)sz, 0) != sz) {
		free(r->body);
		r->body = NULL;
		am_http_text(r, 500, "cannot read the report back\n");
		goto out;
	}
	r->status = 200;
	r->ctype = HTML;
	r->len = (size_t)sz;
	r->csp = CSP_REPORT;
out:
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0)
		close(out_fd);
	free(hist);
	am_srv_put(t);
}

static void asset(struct am_http_resp *r, const char *body, const char *ctype)
{
	r->body = strdup(body);
	if (!r->body) {
		am_http_text(r, 500, "out of memory\n");
		return;
	}
	r->status = 200;
	r->ctype = ctype;
	r->len = strlen(body);
}

void am_http_route(struct am_http *h, struct MHD_Connection *c, const char *path,
		   const struct am_srv_viewer *v, struct am_http_resp *r)
{
	if (!strcmp(path, "/") || !strcmp(path, "/debug/pprof/") || !strcmp(path, "/debug/pprof"))
		route_index(h, v, r);
	else if (!strcmp(path, "/metrics"))
		route_metrics(h, v, r);
	else if (!strcmp(path, "/targets.json"))
		route_targets(h, v, r);
	else if (!strcmp(path, "/sd.json"))
		route_sd(h, c, v, r);
	else if (!strcmp(path, "/debug/pprof/heap"))
		route_pprof(h, c, v, true, r);
	else if (!strcmp(path, "/debug/pprof/allocs"))
		route_pprof(h, c, v, false, r);
	else if (!strcmp(path, "/live"))
		route_live(h, c, v, r);
	else if (!strcmp(path, "/live.json"))
		route_live_json(h, c, v, r);
	else if (!strcmp(path, "/report"))
		route_report(h, c, v, r);
	else if (!strcmp(path, "/live.js"))
		asset(r, am_asset_live_js, "text/javascript; charset=utf-8");
	else if (!strcmp(path, "/live.css"))
		asset(r, am_asset_live_css, "text/css; charset=utf-8");
	else
		am_http_text(r, 404, "not found\n");
}
