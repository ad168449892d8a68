// SPDX-License-Identifier: GPL-2.0
/* top_view.c - what `allocmap top` shows and how: a ring of the latest OS
 * requests (with the allocator call that caused each one, threshold moves and
 * exits in between), a history of samples taken once per refresh interval
 * (sparklines, deltas, per-function rates), and the ncurses frame drawn from
 * them. Layout, top to bottom: header; memory (heap, mmapped, live: now,
 * peak, delta per second, trend); threshold and bytes returned to the OS;
 * loss counters; functions and syscalls side by side; the OS request list,
 * newest first, filling what is left (or, after 's', the call sites sorted
 * by one column: the tracer's own aggregation, sites.h, copied once per
 * interval); the key/status line. */
#include <curses.h>
#include <inttypes.h>
#include <langinfo.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include "fmt.h"
#include "sites.h"
#include "stack.h"
#include "top_view.h"

#define TV_HIST      1024 /* samples kept for the trend sparklines */
#define TV_EVENTS    512  /* latest OS requests kept (more than any screen shows) */
#define TV_BRK_PIDS  64   /* processes whose last program break we remember */
#define TV_MAX_PIDS  64
#define TV_SITES     64   /* call-site rows kept (more than any screen shows) */

enum { M_HEAP, M_MMAP, M_LIVE, M__COUNT };   /* the three trended byte counts */

enum tv_kind { TV_OS, TV_THRESHOLD, TV_EXIT };

/* One line of the OS request list, formatted when the record arrives
 * (brk growth needs the previous break, known only at that moment). */
struct tv_event {
	enum tv_kind kind;
	uint64_t ts_ns;          /* CLOCK_MONOTONIC */
	uint32_t pid;
	uint8_t  sys;            /* enum am_sys (TV_OS) */
	bool     direct;         /* no allocator call caused it */
	bool     failed;         /* syscall error or brk refused */
	char     len[40];        /* "196 KiB", "+132 KiB", "196 KiB -> 392 KiB" */
	char     result[32];     /* "0x7f...", "0", "ENOMEM" */
	char     cause[48];      /* "malloc(200000)", "direct" */
	char     detail[64];     /* region, prot, advice... */
};

/* One row of the call-site pane, copied from the sites report. */
struct tv_site {
	char     label[320];     /* "site_peak (sites.c:46)", "(stack unknown)" */
	uint32_t pid;
	struct am_site_fig f;
};

/* colour pairs (when the terminal has colours) */
enum { CP_TITLE = 1, CP_RED, CP_GREEN, CP_YELLOW, CP_CYAN, CP_DIM /* A_DIM, no pair */ };

struct top_view {
	unsigned interval_ms;
	/* target */
	pid_t    pids[TV_MAX_PIDS];
	int      n_pids;
	pid_t    child;
	char     name[64];
	char     allocator[32];
	char     alloc_obj[256];
	uint64_t t0_ns;
	/* samples */
	struct am_summary cur, prev;     /* latest and previous sample */
	uint64_t cur_ns, prev_ns;
	unsigned n_samples;
	uint64_t hist[M__COUNT][TV_HIST];/* ring, index n_samples % TV_HIST is the next */
	bool     final;                  /* cur is the final summary */
	/* OS request list */
	struct tv_event ev[TV_EVENTS];   /* ring, index n_ev % TV_EVENTS is the next */
	uint64_t n_ev;                   /* events ever pushed */
	uint64_t n_os;                   /* of which OS requests (the rest: threshold moves, exits) */
	bool     hide_direct;
	struct { uint32_t pid; uint64_t brk; } brk[TV_BRK_PIDS];
	struct { uint32_t pid; int status; } exits[TV_MAX_PIDS];
	int      n_exits;
	/* call sites */
	bool     show_sites;
	enum am_site_sort sort;
	struct tv_site sites[TV_SITES];  /* the top ones by sort */
	size_t   n_rows;
	size_t   n_sites, n_stacks;
	struct am_site_fig total;
	bool     sites_multi_pid, sites_incomplete;
	bool     have_sites;             /* a report was copied */
	char     sites_why[160];         /* why there is none */
	/* drawing */
	bool     screen_init;            /* colours and charset chosen */
	bool     colors;
	bool     utf8;
};

/* ---------- formatting ---------- */

/* The one size format (fmt.h): "0 B", "1000 B", "195 KiB", "1.20 MiB". */
static const char *hsize(char *b, size_t sz, uint64_t v)
{
	return am_fmt_size3(b, sz, v);
}

/* The largest of v[0..n): a column's, whose unit its sizes share (am_fmt_size_in). */
static uint64_t col_max(const uint64_t *v, int n)
{
	uint64_t m = 0;

	for (int i = 0; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/* Signed byte delta: "+9.80 KiB", "-196 KiB", "0 B". */
static const char *hdelta(char *b, size_t sz, double d)
{
	char t[32];

	if (d > -0.5 && d < 0.5) {
		snprintf(b, sz, "0 B");
		return b;
	}
	hsize(t, sizeof(t), (uint64_t)(d < 0 ? -d + 0.5 : d + 0.5));
	snprintf(b, sz, "%c%s", d < 0 ? '-' : '+', t);
	return b;
}

/* A rate: "0", "10.0", "1234", "12.3k", "4.5M". */
static const char *hrate(char *b, size_t sz, double r)
{
	if (r < 0.05)
		snprintf(b, sz, "0");
	else if (r < 1000)
		snprintf(b, sz, "%.1f", r);
	else if (r < 100000)
		snprintf(b, sz, "%.0f", r);
	else if (r < 1e8)
		snprintf(b, sz, "%.1fk", r / 1e3);
	else
		snprintf(b, sz, "%.1fM", r / 1e6);
	return b;
}

/* "malloc(200000)"; size 0 (unknown, or a free of a pointer never seen) as "fn(?)". */
static void fmt_cause(char *b, size_t sz, unsigned fn, uint64_t size)
{
	const char *name = am_fn_name(fn);

	if (size)
		snprintf(b, sz, "%s(%" PRIu64 ")", name, size);
	else
		snprintf(b, sz, "%s(?)", name);
}

/* ---------- collecting records ---------- */

static struct tv_event *push_event(struct top_view *v)
{
	struct tv_event *e = &v->ev[v->n_ev % TV_EVENTS];

	v->n_ev++;
	memset(e, 0, sizeof(*e));
	return e;
}

/* Previous break of pid (false: unknown), then remember brk as the new one. */
static bool brk_swap(struct top_view *v, uint32_t pid, uint64_t brk, uint64_t *prev)
{
	for (int i = 0; i < TV_BRK_PIDS; i++) {
		if (v->brk[i].pid == pid) {
			*prev = v->brk[i].brk;
			v->brk[i].brk = brk;
			return true;
		}
		if (!v->brk[i].pid) {
			v->brk[i].pid = pid;
			v->brk[i].brk = brk;
			return false;
		}
	}
	return false;
}

static void add_os(struct top_view *v, const struct am_os_rec *r, unsigned fn, uint64_t size)
{
	const struct am_os_event *o = &r->ev;
	struct tv_event *e = push_event(v);
	char a[AM_FMT_BUF], b[AM_FMT_BUF];
	bool err = o->sys != AM_SYS_BRK && o->ret < 0 && o->ret > -4096;

	v->n_os++;

	e->kind = TV_OS;
	e->ts_ns = o->ts_enter;
	e->pid = o->pid;
	e->sys = o->sys;
	e->direct = r->direct;
	if (r->cause_unknown)
		snprintf(e->cause, sizeof(e->cause), "unknown");
	else if (r->direct)
		snprintf(e->cause, sizeof(e->cause), r->inferred ? "direct (stack)" : "direct");
	else if (r->inferred)
		snprintf(e->cause, sizeof(e->cause), "%s (stack)", am_fn_name(fn));
	else
		fmt_cause(e->cause, sizeof(e->cause), fn, size);

	if (err) {
		e->failed = true;
		snprintf(e->result, sizeof(e->result), "%s", am_fmt_errno(a, sizeof(a), (int)-o->ret));
	} else if (o->sys == AM_SYS_BRK || o->sys == AM_SYS_MMAP || o->sys == AM_SYS_MREMAP) {
		snprintf(e->result, sizeof(e->result), "0x%" PRIx64, (uint64_t)o->ret);
	} else {
		snprintf(e->result, sizeof(e->result), "%" PRId64, (int64_t)o->ret);
	}

	switch (o->sys) {
	case AM_SYS_BRK: {
		uint64_t prev = 0, now = (uint64_t)o->ret;
		bool known = brk_swap(v, o->pid, now, &prev);

		if (!o->args[0])
			snprintf(e->len, sizeof(e->len), "-");
		else if (now != o->args[0]) {
			e->failed = true;
			snprintf(e->len, sizeof(e->len), "refused");
		} else if (known && now != prev)
			snprintf(e->len, sizeof(e->len), "%c%s", now > prev ? '+' : '-',
				 am_fmt_size(a, sizeof(a), now > prev ? now - prev : prev - now));
		else
			snprintf(e->len, sizeof(e->len), "?");
		snprintf(e->detail, sizeof(e->detail), "%s", o->args[0] ? "" : "query the break");
		break;
	}
	case AM_SYS_MMAP:
		snprintf(e->len, sizeof(e->len), "%s", am_fmt_size(a, sizeof(a), o->args[1]));
		if ((int32_t)o->args[4] >= 0)
			snprintf(e->detail, sizeof(e->detail), "file fd %d", (int32_t)o->args[4]);
		else if (!err && r->region_kind == AM_REG_ARENA)
			snprintf(e->detail, sizeof(e->detail), "arena, %s",
				 am_fmt_prot(b, sizeof(b), o->args[2]));
		else if (!err && !r->direct)
			snprintf(e->detail, sizeof(e->detail), "own chunk");
		else if (o->args[2] != 3) /* not PROT_READ|PROT_WRITE: worth saying */
			snprintf(e->detail, sizeof(e->detail), "%s", am_fmt_prot(b, sizeof(b), o->args[2]));
		break;
	case AM_SYS_MREMAP: {
		char c[AM_FMT_BUF];

		snprintf(e->len, sizeof(e->len), "%s -> %s", am_fmt_size(a, sizeof(a), o->args[1]),
			 am_fmt_size(c, sizeof(c), o->args[2]));
		snprintf(e->detail, sizeof(e->detail), "%s", am_fmt_mremap_flags(b, sizeof(b), o->args[3]));
		break;
	}
	case AM_SYS_MUNMAP:
		snprintf(e->len, sizeof(e->len), "%s", am_fmt_size(a, sizeof(a), o->args[1]));
		break;
	case AM_SYS_MPROTECT:
		snprintf(e->len, sizeof(e->len), "%s", am_fmt_size(a, sizeof(a), o->args[1]));
		snprintf(e->detail, sizeof(e->detail), "%s", am_fmt_prot(b, sizeof(b), o->args[2]));
		break;
	case AM_SYS_MADVISE:
		snprintf(e->len, sizeof(e->len), "%s", am_fmt_size(a, sizeof(a), o->args[1]));
		snprintf(e->detail, sizeof(e->detail), "%s", am_fmt_madv(b, sizeof(b), o->args[2]));
		break;
	default:
		break;
	}
}

static void on_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	struct top_view *v = ctx;

	for (size_t i = 0; i < n; i++) {
		unsigned fn = os[i].direct ? c->ev.fn : os[i].cause_fn;
		uint64_t size = os[i].cause_size ? os[i].cause_size : c->size;

		add_os(v, &os[i], fn, size);
	}
}

static void on_os(void *ctx, const struct am_os_rec *o)
{
	add_os(ctx, o, o->cause_fn, o->cause_size);
}

static void on_threshold(void *ctx, const struct am_threshold_rec *t)
{
	struct top_view *v = ctx;
	struct tv_event *e = push_event(v);
	char a[AM_FMT_BUF], b[AM_FMT_BUF];

	e->kind = TV_THRESHOLD;
	e->ts_ns = t->ts_ns;
	e->pid = t->pid;
	if (t->old_value && t->new_value)
		snprintf(e->len, sizeof(e->len), "%s -> %s", am_fmt_size(a, sizeof(a), t->old_value),
			 am_fmt_size(b, sizeof(b), t->new_value));
	else if (t->new_value) /* it was unknown: now it is */
		snprintf(e->len, sizeof(e->len), "? -> %s", am_fmt_size(b, sizeof(b), t->new_value));
	else
		snprintf(e->len, sizeof(e->len), "? -> >= %s", am_fmt_size(b, sizeof(b), t->new_lo));
	snprintf(e->cause, sizeof(e->cause), "free(%s chunk)", am_fmt_size(a, sizeof(a), t->freed_chunk));
	snprintf(e->detail, sizeof(e->detail), "mmap threshold moved");
}

static void on_task(void *ctx, const struct am_task_event *t)
{
	struct top_view *v = ctx;
	struct tv_event *e;

	if (t->kind != AM_TASK_EXIT)
		return;
	if (v->n_exits < TV_MAX_PIDS) {
		v->exits[v->n_exits].pid = t->pid;
		v->exits[v->n_exits].status = t->code;
		v->n_exits++;
	}
	e = push_event(v);
	e->kind = TV_EXIT;
	e->ts_ns = t->ts;
	e->pid = t->pid;
	if (WIFSIGNALED(t->code))
		snprintf(e->result, sizeof(e->result), "signal %d", WTERMSIG(t->code));
	else
		snprintf(e->result, sizeof(e->result), "status %d", WEXITSTATUS(t->code));
	snprintf(e->detail, sizeof(e->detail), "process exited");
}

static void on_summary(void *ctx, const struct am_summary *s)
{
	struct top_view *v = ctx;

	/* the final summary replaces the last sample, without moving the history */
	v->cur = *s;
	v->final = true;
	if (s->sites)
		top_view__sites(v, s->sites, NULL);
}

struct am_sink top_view__sink(struct top_view *v)
{
	return (struct am_sink){
		.ctx = v, .call = on_call, .os = on_os, .threshold = on_threshold,
		.task = on_task, .summary = on_summary,
	};
}

/* ---------- lifecycle and samples ---------- */

struct top_view *top_view__new(unsigned interval_ms)
{
	struct top_view *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	v->interval_ms = interval_ms ? interval_ms : 1000;
	v->child = -1;
	return v;
}

void top_view__free(struct top_view *v)
{
	free(v);
}

void top_view__set_target(struct top_view *v, const struct top_view_target *t)
{
	v->n_pids = 0;
	for (int i = 0; i < t->n_pids && i < TV_MAX_PIDS; i++)
		v->pids[v->n_pids++] = t->pids[i];
	v->child = t->child;
	snprintf(v->name, sizeof(v->name), "%s", t->name ? t->name : "?");
	snprintf(v->allocator, sizeof(v->allocator), "%s", t->allocator ? t->allocator : "?");
	snprintf(v->alloc_obj, sizeof(v->alloc_obj), "%s", t->alloc_obj ? t->alloc_obj : "");
	v->t0_ns = t->t0_ns;
}

void top_view__sample(struct top_view *v, const struct am_summary *s, uint64_t now_ns)
{
	unsigned k = v->n_samples % TV_HIST;

	v->prev = v->cur;
	v->prev_ns = v->cur_ns;
	v->cur = *s;
	v->cur_ns = now_ns;
	v->hist[M_HEAP][k] = s->heap_bytes;
	v->hist[M_MMAP][k] = s->mmap_bytes;
	v->hist[M_LIVE][k] = s->live_bytes;
	v->n_samples++;
}

bool top_view__have_final(const struct top_view *v)
{
	return v->final;
}

int top_view__exit_status(const struct top_view *v, pid_t pid)
{
	for (int i = 0; i < v->n_exits; i++)
		if ((pid_t)v->exits[i].pid == pid)
			return v->exits[i].status;
	return -1;
}

void top_view__toggle_direct(struct top_view *v)
{
	v->hide_direct = !v->hide_direct;
}

void top_view__toggle_sites(struct top_view *v)
{
	v->show_sites = !v->show_sites;
}

bool top_view__sites_shown(const struct top_view *v)
{
	return v->show_sites;
}

void top_view__next_sort(struct top_view *v)
{
	v->sort = (enum am_site_sort)((v->sort + 1) % AM_SORT__COUNT);
}

/* "site_peak (sites.c:46)", "prog+0x1234", "(stack unknown)": printable. */
static void site_label(char *buf, size_t n, const struct am_site *s)
{
	char name[160], pb[96];
	const char *file;

	if (!s->frame) {
		snprintf(buf, n, "(stack unknown)");
		return;
	}
	am_frame_name(name, sizeof(name), s->frame);
	if (!s->frame->file) {
		snprintf(buf, n, "%s", name);
		return;
	}
	file = strrchr(s->frame->file, '/');
	snprintf(buf, n, "%s (%s:%" PRIu32 ")", name, am_printable(pb, sizeof(pb), file ? file + 1 : s->frame->file),
		 s->frame->line);
}

void top_view__sites(struct top_view *v, const struct am_sites_report *r, const char *why)
{
	size_t *ix;

	if (!r) {
		v->have_sites = false;
		snprintf(v->sites_why, sizeof(v->sites_why), "%s", why ? why : "no call sites");
		return;
	}
	v->have_sites = true;
	v->n_sites = r->n_sites;
	v->n_stacks = r->n_stacks;
	v->total = r->total;
	v->sites_incomplete = r->incomplete;
	v->sites_multi_pid = r->n_procs > 1;
	v->n_rows = 0;
	ix = am_sites_order(r, v->sort);
	for (size_t i = 0; ix && i < r->n_sites && i < TV_SITES; i++) {
		const struct am_site *st = &r->sites[ix[i]];
		struct tv_site *row = &v->sites[v->n_rows++];

		site_label(row->label, sizeof(row->label), st);
		row->pid = st->pid;
		row->f = st->f;
	}
	free(ix);
}

/* ---------- drawing ---------- */

/* Prints at (y, x) with attr, clipped at the right edge. Returns the column after. */
static int put(int y, int x, attr_t attr, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int put(int y, int x, attr_t attr, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (y < 0 || y >= LINES || x >= COLS)
		return x;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return x;
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	attron(attr);
	mvaddnstr(y, x, buf, COLS - x);
	attroff(attr);
	return x + n > COLS ? COLS : x + n;
}

static attr_t color(const struct top_view *v, int pair)
{
	if (pair == CP_DIM)      /* secondary text: dim, in the terminal's own colour */
		return A_DIM;
	if (!v->colors)
		return pair == CP_RED ? A_BOLD : A_NORMAL;
	return COLOR_PAIR(pair) | (pair == CP_RED ? A_BOLD : 0);
}

/* Fills a whole line with attr (for the title and status bars). */
static void bar(int y, attr_t attr)
{
	attron(attr);
	mvhline(y, 0, ' ', COLS);
	attroff(attr);
}

/* "not moved", "moved once", "moved 3 times" (not "moved 0x": reads as hex) */
static const char *times_moved(char *buf, size_t sz, uint64_t n)
{
	if (!n)
		snprintf(buf, sz, "not moved");
	else if (n == 1)
		snprintf(buf, sz, "moved once");
	else
		snprintf(buf, sz, "moved %" PRIu64 " times", n);
	return buf;
}

/* The time the sparkline of `width` columns covers: the samples taken so far
 * (one per interval) up to its width, "2 s" two seconds after start, not the
 * width the line could hold. */
static const char *trend_span(char *buf, size_t sz, const struct top_view *v, int width)
{
	unsigned n = v->n_samples < TV_HIST ? v->n_samples : TV_HIST;
	unsigned have = n < (unsigned)width ? n : (unsigned)width;
	double secs = (double)have * v->interval_ms / 1000.0;

	snprintf(buf, sz, secs < 10 ? "%.1f s" : "%.0f s", secs);
	return buf;
}

/* The last `width` samples of series m as a sparkline scaled to their own
 * min..max (a flat series is a flat low line); older than the history: blank. */
static void sparkline(struct top_view *v, int y, int x, int width, int m, uint64_t *lo, uint64_t *hi)
{
	static const char *const blocks[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	static const char ascii[] = "_.-:=+*#";
	unsigned n = v->n_samples < TV_HIST ? v->n_samples : TV_HIST;
	unsigned have = n < (unsigned)width ? n : (unsigned)width;
	uint64_t mn = UINT64_MAX, mx = 0;

	*lo = *hi = 0;
	if (width <= 0 || !have)
		return;
	for (unsigned i = 0; i < have; i++) {
		uint64_t s = v->hist[m][(v->n_samples - have + i) % TV_HIST];
		mn = s < mn ? s : mn;
		mx = s > mx ? s : mx;
	}
	*lo = mn;
	*hi = mx;
	attron(color(v, CP_CYAN));
	move(y, x + width - (int)have);
	for (unsigned i = 0; i < have; i++) {
		uint64_t s = v->hist[m][(v->n_samples - have + i) % TV_HIST];
		int lvl = mx > mn ? (int)((double)(s - mn) * 7.0 / (double)(mx - mn) + 0.5) : 0;

		if (v->utf8)
			addstr(blocks[lvl]);
		else
			addch((chtype)ascii[lvl]);
	}
	attroff(color(v, CP_CYAN));
}

static void draw_header(struct top_view *v, uint64_t now_ns)
{
	char who[160], up[32];
	double secs = now_ns > v->t0_ns ? (double)(now_ns - v->t0_ns) / 1e9 : 0;
	int x;

	if (v->n_pids == 1)
		snprintf(who, sizeof(who), "pid %d (%s)", (int)v->pids[0], v->name);
	else {
		int n = snprintf(who, sizeof(who), "%d processes (%s): pids", v->n_pids, v->name);

		for (int i = 0; i < v->n_pids && n < (int)sizeof(who) - 12; i++)
			n += snprintf(who + n, sizeof(who) - n, " %d", (int)v->pids[i]);
	}
	if (secs < 3600)
		snprintf(up, sizeof(up), "%02d:%02d", (int)secs / 60, (int)secs % 60);
	else
		snprintf(up, sizeof(up), "%d:%02d:%02d", (int)secs / 3600, (int)secs / 60 % 60,
			 (int)secs % 60);
	bar(0, A_REVERSE);
	x = put(0, 0, A_REVERSE | A_BOLD, " allocmap top ");
	{
		/* the clock on the right wins over the end of the allocator's path */
		char right[64], left[512];
		int w = snprintf(right, sizeof(right), "   up %s   every %.1f s ", up,
				 v->interval_ms / 1000.0);
		int room = COLS - w - x;

		snprintf(left, sizeof(left), "  %s   %s %s", who, v->allocator, v->alloc_obj);
		if (room > 0)
			put(0, x, A_REVERSE, "%.*s", room, left);
		if (COLS - w > x)
			put(0, COLS - w, A_REVERSE, "%s", right);
	}
}

static int draw_memory(struct top_view *v, int y)
{
	static const char *const label[M__COUNT] = { "brk heap", "mmapped", "live" };
	const struct am_summary *s = &v->cur;
	double dt = v->cur_ns > v->prev_ns && v->n_samples > 1 ? (double)(v->cur_ns - v->prev_ns) / 1e9 : 0;
	uint64_t now[M__COUNT] = { s->heap_bytes, s->mmap_bytes, s->live_bytes };
	uint64_t peak[M__COUNT] = { s->heap_bytes_peak, s->mmap_bytes_peak, s->live_bytes_peak };
	uint64_t before[M__COUNT] = { v->prev.heap_bytes, v->prev.mmap_bytes, v->prev.live_bytes };
	int spark_x = 52, spark_w = COLS - spark_x - 22;
	bool range = true;       /* the "min .. max" after the sparkline */
	char a[64], b[64], c[64];

	if (spark_w < 16) {      /* narrow: the sparkline is worth more than the range */
		spark_w = COLS - spark_x - 1;
		range = false;
	}
	if (spark_w > 120)
		spark_w = 120;
	put(y, 0, A_BOLD, " MEMORY");
	put(y, 15, A_BOLD, "%10s", "now");
	put(y, 26, A_BOLD, "%11s", "peak");
	put(y, 38, A_BOLD, "%11s", "delta/s");
	if (spark_w >= 8)
		put(y, spark_x, A_BOLD, "trend, last %s", trend_span(c, sizeof(c), v, spark_w));
	y++;
	for (int m = 0; m < M__COUNT; m++) {
		double d = dt > 0 ? ((double)now[m] - (double)before[m]) / dt : 0;
		attr_t da = d > 0.5 ? color(v, CP_YELLOW) : d < -0.5 ? color(v, CP_GREEN) : A_NORMAL;
		uint64_t lo, hi;

		put(y, 1, A_NORMAL, "%-13s", label[m]);
		put(y, 15, A_BOLD, "%10s", am_fmt_size_in(a, sizeof(a), now[m], col_max(now, M__COUNT)));
		put(y, 26, A_NORMAL, "%11s", am_fmt_size_in(b, sizeof(b), peak[m], col_max(peak, M__COUNT)));
		if (dt > 0)
			put(y, 38, da, "%11s", hdelta(c, sizeof(c), d));
		else
			put(y, 38, color(v, CP_DIM), "%11s", "-");
		if (spark_w >= 8) {
			sparkline(v, y, spark_x, spark_w, m, &lo, &hi);
			if (v->n_samples && range)
				put(y, spark_x + spark_w + 1, color(v, CP_DIM), "%s .. %s",
				    hsize(a, sizeof(a), lo), hsize(b, sizeof(b), hi));
		}
		if (m == M_LIVE)
			put(y + 1, 15, color(v, CP_DIM), "%10" PRIu64 " allocations live", s->live_count);
		y++;
	}
	return y + 1;
}

static int draw_threshold(struct top_view *v, int y)
{
	const struct am_summary *s = &v->cur;
	char a[64], b[64], c[64];
	int x;

	x = put(y, 1, A_NORMAL, "%-13s", "mmap threshold");
	x = 15;
	if (!s->threshold_known) {
		x = put(y, x, A_BOLD, "%10s", "n/a");
		put(y, x, color(v, CP_DIM), "  (%s allocator: no mmap threshold)", v->allocator);
	} else if (!s->thr_end.known && !s->threshold_fixed) {
		/* attached without glibc's debug info: never an invented value */
		x = put(y, x, color(v, CP_YELLOW) | A_BOLD, "%10s", "unknown");
		put(y, x, color(v, CP_DIM), "  (glibc: between %s and %s so far; install libc6-dbg to read it)",
		    hsize(a, sizeof(a), s->thr_end.lo), hsize(b, sizeof(b), s->thr_end.hi));
	} else {
		const char *from = s->thr_start.source == AM_THR_SRC_PROCESS ? "read from the process" :
				   s->thr_start.source == AM_THR_SRC_ENV ? "by MALLOC_MMAP_THRESHOLD_ / tunable" :
				   NULL;

		x = put(y, x, color(v, CP_YELLOW) | A_BOLD, "%10s", hsize(a, sizeof(a), s->threshold_end));
		if (s->threshold_fixed)
			put(y, x, color(v, CP_DIM), "  (%s: fixed, larger requests get their own mmap)", v->allocator);
		else if (s->threshold_pinned)
			put(y, x, color(v, CP_DIM), "  (glibc, pinned%s%s)", from ? ", " : "", from ? from : "");
		else if (!s->thr_start.known)
			put(y, x, color(v, CP_DIM), "  (glibc dynamic: unknown at attach, %s)",
			    times_moved(c, sizeof(c), s->threshold_changes));
		else
			put(y, x, color(v, CP_DIM), "  (glibc dynamic: started at %s%s%s, %s)",
			    hsize(b, sizeof(b), s->threshold_start), from ? ", " : "", from ? from : "",
			    times_moved(c, sizeof(c), s->threshold_changes));
	}
	y++;
	put(y, 1, A_NORMAL, "%-13s", "returned");
	put(y, 15, A_NORMAL, "%10s   to the OS by munmap, %s by madvise, %s by brk shrink",
	    hsize(a, sizeof(a), s->returned_munmap), hsize(b, sizeof(b), s->returned_madvise),
	    hsize(c, sizeof(c), s->returned_brk));
	return y + 2;
}

/* One counter "name N", red when a non-zero N means something was lost. */
static int counter(struct top_view *v, int y, int x, const char *name, uint64_t n, bool bad)
{
	x = put(y, x, A_NORMAL, "%s ", name);
	x = put(y, x, n && bad ? color(v, CP_RED) | A_REVERSE : n ? A_BOLD : A_NORMAL,
		"%" PRIu64, n);
	return x + 2;
}

static int draw_counters(struct top_view *v, int y)
{
	const struct am_summary *s = &v->cur;
	const struct am_counters *b = &s->bpf;
	int x;

	put(y, 0, A_BOLD, " COUNTERS");
	x = 15;
	x = counter(v, y, x, "events", s->events, false);
	x = counter(v, y, x, "lost", b->lost_call + b->lost_os + b->lost_task, true);
	x = counter(v, y, x, "missed", b->missed_ret, true);
	x = counter(v, y, x, "unattached", s->unattached_probes, true);
	x = counter(v, y, x, "depth overflow", b->depth_overflow, true);
	x = counter(v, y, x, "threads full", b->thread_full, true);
	x = counter(v, y, x, "orphans", b->orphan_ret + s->orphan_os, false);
	counter(v, y, x, "unknown frees", s->unknown_frees, false);
	return y + 2;
}

/* Functions (left) and syscalls (right, when the screen is wide enough).
 * Returns the next free line. */
static int draw_tables(struct top_view *v, int y)
{
	const struct am_summary *s = &v->cur, *p = &v->prev;
	double dt = v->cur_ns > v->prev_ns && v->n_samples > 1 ? (double)(v->cur_ns - v->prev_ns) / 1e9 : 0;
	int sx = 81, rows_f = 0, rows_s = 0;
	bool side = COLS >= sx + 36;
	char a[64], b[64], c[64];

	put(y, 0, A_BOLD, " %-14s %9s %11s %11s %11s %8s %7s", "FUNCTION", "calls/s", "bytes/s",
	    "calls", "bytes", "os_calls", "failed");
	for (int f = 0; f < am_fn_count(); f++) {
		const struct am_fn_stats *st = &s->fn[f];
		int yy = y + 1 + rows_f;

		if (!st->calls)
			continue;
		put(yy, 1, A_NORMAL, "%-14s", am_fn_name(f));
		if (dt > 0) {
			double cr = (double)(st->calls - p->fn[f].calls) / dt;
			double br = (double)(st->bytes - p->fn[f].bytes) / dt;

			snprintf(c, sizeof(c), "%s/s", hsize(b, sizeof(b), (uint64_t)(br + 0.5)));
			put(yy, 16, cr > 0 ? A_BOLD : A_NORMAL, "%9s %11s", hrate(a, sizeof(a), cr), c);
		} else {
			put(yy, 16, color(v, CP_DIM), "%9s %11s", "-", "-");
		}
		put(yy, 38, A_NORMAL, "%11" PRIu64 " %11s %8" PRIu64, st->calls,
		    hsize(a, sizeof(a), st->bytes), st->os_calls);
		put(yy, 71, st->failed ? color(v, CP_RED) : A_NORMAL, "%7" PRIu64, st->failed);
		rows_f++;
	}
	if (!rows_f) {
		put(y + 1, 1, color(v, CP_DIM), "(no allocator calls yet)");
		rows_f = 1;
	}
	if (side) {
		put(y, sx, A_BOLD, "%-9s %7s  %s", "SYSCALL", "count", "by cause");
		for (int k = 0; k < AM_SYS__COUNT; k++) {
			int yy = y + 1 + rows_s, x;

			if (!s->sys_count[k])
				continue;
			put(yy, sx, A_NORMAL, "%-9s", am_sys_names[k]);
			x = put(yy, sx + 10, s->sys_failed[k] ? color(v, CP_RED) : A_NORMAL,
				"%7" PRIu64, s->sys_count[k]);
			x += 2;
			for (int f = 0; f <= AM_FN_MAX; f++) {
				uint64_t n = s->sys_by_cause[k][f];

				if (!n)
					continue;
				x = put(yy, x, f == AM_FN_MAX ? color(v, CP_DIM) : A_NORMAL, "%s %" PRIu64 " ",
					f == AM_FN_MAX ? "direct" : am_fn_name(f), n);
			}
			if (s->sys_unknown[k])
				x = put(yy, x, color(v, CP_DIM), "unknown %" PRIu64 " ", s->sys_unknown[k]);
			rows_s++;
		}
		if (!rows_s) {
			put(y + 1, sx, color(v, CP_DIM), "(no memory syscalls yet)");
			rows_s = 1;
		}
	}
	return y + 2 + (rows_f > rows_s ? rows_f : rows_s);
}

static void draw_events(struct top_view *v, int y, int last)
{
	uint64_t shown = 0, total = v->n_ev, avail = total < TV_EVENTS ? total : TV_EVENTS;
	bool wide = COLS >= 100;     /* room for the RESULT column */
	int x, cx = wide ? 67 : 51;  /* CAUSE column */

	if (y > last)
		return;
	x = put(y, 0, A_BOLD, " LATEST OS REQUESTS");
	put(y, x, color(v, CP_DIM), "  newest first, %" PRIu64 " OS requests seen%s", v->n_os,
	    v->hide_direct ? ", direct ones hidden (d: show)" : "");
	y++;
	if (y > last)
		return;
	if (wide)
		put(y, 0, A_UNDERLINE, " %9s %7s  %-10s %18s  %-14s  %-22s  %-*s", "TIME", "PID", "SYSCALL",
		    "LEN", "RESULT", "CAUSE", COLS - 92, "DETAIL");
	else
		put(y, 0, A_UNDERLINE, " %9s %7s  %-10s %18s  %-22s  %-*s", "TIME", "PID", "SYSCALL",
		    "LEN", "CAUSE", COLS > 76 ? COLS - 76 : 0, "DETAIL");
	y++;
	for (uint64_t i = 0; i < avail && y <= last; i++) {
		const struct tv_event *e = &v->ev[(total - 1 - i) % TV_EVENTS];
		double t = e->ts_ns > v->t0_ns ? (double)(e->ts_ns - v->t0_ns) / 1e9 : 0;
		attr_t ca = e->direct ? color(v, CP_DIM) : A_BOLD;
		const char *sys = e->kind == TV_THRESHOLD ? "threshold" : e->kind == TV_EXIT ? "exit"
				  : e->sys < AM_SYS__COUNT ? am_sys_names[e->sys] : "?";

		if (e->kind == TV_OS && e->direct && v->hide_direct)
			continue;
		put(y, 0, A_NORMAL, " %9.3f %7u  ", t, e->pid);
		put(y, 20, e->kind != TV_OS ? color(v, CP_YELLOW) | A_BOLD : A_NORMAL, "%-10s", sys);
		put(y, 31, A_NORMAL, "%18s  ", e->len);
		if (wide)
			put(y, 51, e->failed ? color(v, CP_RED) : A_NORMAL, "%-14s  ", e->result);
		put(y, cx, e->kind == TV_OS ? ca : color(v, CP_YELLOW), "%-22s  ", e->cause);
		put(y, cx + 24, color(v, CP_DIM), "%s", e->detail);
		y++;
		shown++;
	}
	if (!shown)
		put(y, 1, color(v, CP_DIM), "(none yet)");
}

/* One call-site row's figures, in the columns of draw_sites. */
static void site_figs(int y, attr_t attr, const struct am_site_fig *f)
{
	char a[32], p[32], l[32], o[32];

	put(y, 0, attr, " %9" PRIu64 " %10s %10s %10s %9" PRIu64 " %10s  ", f->calls, hsize(a, sizeof(a), f->bytes),
	    hsize(p, sizeof(p), f->peak_bytes), hsize(l, sizeof(l), f->leak_bytes), f->temp_count,
	    hsize(o, sizeof(o), f->os_bytes));
}

/* The call-site pane: the top sites by one column, filling lines y..last. */
static void draw_sites(struct top_view *v, int y, int last)
{
	static const char *const title[AM_SORT__COUNT] = {
		[AM_SORT_ALLOC] = "bytes allocated", [AM_SORT_PEAK] = "bytes live at the peak",
		[AM_SORT_LEAK] = "bytes live now", [AM_SORT_TEMP] = "temporary allocations",
		[AM_SORT_OS] = "bytes from the OS", [AM_SORT_CALLS] = "calls",
	};
	/* header cells: x and width, in the order of enum am_site_sort */
	static const struct { int x, w; const char *name; } col[AM_SORT__COUNT] = {
		[AM_SORT_CALLS] = { 1, 9, "CALLS" }, [AM_SORT_ALLOC] = { 11, 10, "ALLOCATED" },
		[AM_SORT_PEAK] = { 22, 10, "PEAK LIVE" }, [AM_SORT_LEAK] = { 33, 10, "LIVE NOW" },
		[AM_SORT_TEMP] = { 44, 9, "TEMPORARY" }, [AM_SORT_OS] = { 54, 10, "FROM OS" },
	};
	char a[32];
	int x;

	if (y > last)
		return;
	x = put(y, 0, A_BOLD, " CALL SITES");
	if (!v->have_sites) {
		put(y + 1, 1, color(v, CP_DIM), "%s", v->sites_why[0] ? v->sites_why : "waiting for the first sample...");
		return;
	}
	put(y, x, color(v, CP_DIM), "  %zu sites (%zu stacks), %" PRIu64 " allocations of %s%s; by %s (o: next column)",
	    v->n_sites, v->n_stacks, v->total.calls, hsize(a, sizeof(a), v->total.bytes),
	    v->sites_incomplete ? ", INCOMPLETE (out of memory)" : "", title[v->sort]);
	if (++y > last)
		return;
	put(y, 0, A_UNDERLINE, "%*s", COLS, "");
	for (int c = 0; c < AM_SORT__COUNT; c++)
		put(y, col[c].x, A_UNDERLINE | (c == (int)v->sort ? A_REVERSE | A_BOLD : 0), "%*s", col[c].w, col[c].name);
	put(y, 66, A_UNDERLINE, "SITE");
	y++;
	for (size_t i = 0; i < v->n_rows && y <= last - 1; i++, y++) {
		site_figs(y, A_NORMAL, &v->sites[i].f);
		x = put(y, 66, i == 0 ? A_BOLD : A_NORMAL, "%s", v->sites[i].label);
		if (v->sites_multi_pid)
			put(y, x, color(v, CP_DIM), "  pid %" PRIu32, v->sites[i].pid);
	}
	if (!v->n_rows && y <= last)
		put(y++, 1, color(v, CP_DIM), "(no allocation yet)");
	if (v->n_sites > v->n_rows && y <= last - 1)
		put(y++, 66, color(v, CP_DIM), "... %zu more sites", v->n_sites - v->n_rows);
	if (v->n_rows && y <= last) {
		site_figs(y, A_BOLD, &v->total);
		put(y, 66, A_BOLD, "total");
	}
}

void top_view__draw(struct top_view *v, uint64_t now_ns, const char *status, bool alert)
{
	int y;

	if (!v->screen_init) {
		const char *cs = nl_langinfo(CODESET);

		v->screen_init = true;
		v->utf8 = cs && !strcmp(cs, "UTF-8");
		if (has_colors() && start_color() == OK) {
			use_default_colors();
			init_pair(CP_TITLE, COLOR_BLACK, COLOR_CYAN);
			init_pair(CP_RED, COLOR_RED, -1);
			init_pair(CP_GREEN, COLOR_GREEN, -1);
			init_pair(CP_YELLOW, COLOR_YELLOW, -1);
			init_pair(CP_CYAN, COLOR_CYAN, -1);
			v->colors = true;
		}
	}
	erase();
	if (COLS < 60 || LINES < 16) {
		put(LINES / 2, 0, A_BOLD, " terminal too small (%dx%d, need 60x16); q quits", COLS, LINES);
		refresh();
		return;
	}
	draw_header(v, v->final ? v->cur_ns : now_ns);
	y = 2;
	if (!v->n_samples) {
		put(y, 1, color(v, CP_DIM), "waiting for the first sample...");
	} else {
		y = draw_memory(v, y);
		y = draw_threshold(v, y);
		y = draw_counters(v, y);
		y = draw_tables(v, y);
		if (v->show_sites)
			draw_sites(v, y, LINES - 2);
		else
			draw_events(v, y, LINES - 2);
	}
	bar(LINES - 1, A_REVERSE);
	if (status)
		put(LINES - 1, 0, alert ? (color(v, CP_YELLOW) | A_REVERSE | A_BOLD) : A_REVERSE, " %s", status);
	else if (v->show_sites)
		put(LINES - 1, 0, A_REVERSE, " q quit   s OS requests   o sort by %s   Ctrl-C detach too",
		    am_site_sort_names[(v->sort + 1) % AM_SORT__COUNT]);
	else
		put(LINES - 1, 0, A_REVERSE, " q quit   d %s direct OS requests   s call sites   Ctrl-C detach too",
		    v->hide_direct ? "show" : "hide");
	refresh();
}

void top_view__summary_line(const struct top_view *v, char *buf, size_t sz)
{
	const struct am_summary *s = &v->cur;
	const struct am_counters *b = &s->bpf;
	char h[32], m[32], l[32], lp[32], who[96];
	uint64_t os = 0;

	for (int k = 0; k < AM_SYS__COUNT; k++)
		os += s->sys_count[k];
	if (v->n_pids == 1)
		snprintf(who, sizeof(who), "pid %d (%s)", (int)v->pids[0], v->name);
	else
		snprintf(who, sizeof(who), "%d processes (%s)", v->n_pids, v->name);
	snprintf(buf, sz, "%s %.1f s: heap %s, mmap %s, live %s (peak %s), %" PRIu64
		 " OS requests, %" PRIu64 " lost",
		 who, s->duration_ns / 1e9, hsize(h, sizeof(h), s->heap_bytes),
		 hsize(m, sizeof(m), s->mmap_bytes), hsize(l, sizeof(l), s->live_bytes),
		 hsize(lp, sizeof(lp), s->live_bytes_peak), os,
		 (uint64_t)(b->lost_call + b->lost_os + b->lost_task));
}
