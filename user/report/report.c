// SPDX-License-Identifier: GPL-2.0
/* report.c - `allocmap report` and the --html/--perfetto back ends: reads a
 * JSON Lines trace (README schema) line by line with json-c, feeds the
 * bounded model of report_model.c, and writes either
 *  - one self-contained HTML file: the page, stylesheet and script are
 *    user/assets/report.{html,css,js} embedded at build time (generated
 *    header .output/report_assets.h), and the model's aggregates go in as a
 *    JSON data block (with the flame-graph frame tree of OS-request stacks
 *    and the leaks record, its groups capped); or
 *  - Chrome Trace Event JSON for ui.perfetto.dev: counter tracks for heap,
 *    mmapped and live bytes, an "X" slice per allocator call that made OS
 *    requests with those requests nested on the same thread track, instant
 *    events for direct OS requests.
 * Both are single passes over the input with memory bounded by the model's
 * caps (plus what the traced program itself held live). */
#include <argp.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "jsonw.h"
#include "log.h"
#include "report.h"
#include "report_model.h"
#include "report_assets.h"
#include "safeio.h"
#include "sites_replay.h"

#define OS_KEEP    20000   /* OS request records carried into the HTML in full */
#define CALLS_KEEP 20000   /* calls that made OS requests, carried in full */
#define TASKS_KEEP 1000
#define LEAKS_KEEP 200     /* leak groups carried into the HTML (largest first) */
#define MAX_FRAMES 256     /* frames of a stack read (innermost first) */
/* Records listed in full keep their stack for the tooltips, cut to
 * TIP_FRAMES frames, for the first STACKS_KEEP of them; later ones lose it
 * (the flame graph has every stack, aggregated): 20 000 OS requests with
 * 30-frame stacks would otherwise be tens of MB of page. */
#define TIP_FRAMES  12
#define STACKS_KEEP 2000
#define PIDS_KEEP  64
/* Perfetto: every live-bytes change is a sample until LIVE_EXACT samples,
 * then at most one per LIVE_EMIT_NS: a million-call trace stays a file the
 * UI opens (about a thousand samples a second of trace). */
#define LIVE_EXACT   20000
#define LIVE_EMIT_NS 1000000

/* ---- reading ---- */

struct reader {
	const char  *path;
	FILE        *f;
	json_tokener *tok;
	char        *line;
	size_t       cap;
	ssize_t      len;          /* current line, without its newline */
	unsigned long lineno;
	json_object *obj;          /* current record (owned) */
	struct rm_rec rec;
	struct rm_frame frames[MAX_FRAMES]; /* rec.stack, pointing into obj */
	long long    size, next_progress;
	bool         progress;     /* stderr is a terminal */
	bool         truncated;    /* the last line had no newline and did not parse */
	/* what read_line cut from the current record (see there) */
	unsigned     stacks_cut;   /* "stack" arrays longer than MAX_FRAMES */
	uint64_t     groups_total; /* elements of its "groups" array, LEAKS_KEEP kept */
	/* over the whole input */
	uint64_t     all_stacks_cut;
	uint64_t     max_frames_seen;
};

static int reader_open(struct reader *rd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	memset(rd, 0, sizeof(*rd));
	rd->path = path;
	rd->f = fopen(path, "r");
	if (!rd->f) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	rd->tok = json_tokener_new();
	if (!rd->tok) {
		fclose(rd->f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (fstat(fileno(rd->f), &st) == 0)
		rd->size = st.st_size;
	rd->progress = isatty(2) && rd->size > (8 << 20);
	rd->next_progress = 4 << 20;
	return 0;
}

/* One record may cost memory in proportion to what is kept of it, not to
 * what it holds: a crafted (or huge) trace line with a 2-million-frame
 * stack would take gigabytes once json-c made an object of every frame.
 * read_line() streams the line and cuts, before parsing, every "stack"
 * array to MAX_FRAMES elements and every "groups" array (the leaks record)
 * to LEAKS_KEEP, counting what it dropped; what is left must fit in
 * LINE_KEEP bytes. */
#define LINE_KEEP (16u << 20)
#define CUT_NEST  64               /* capped arrays open at once, at most */

struct cut {
	int      depth;                /* nesting depth inside the array */
	unsigned limit;
	uint64_t commas;               /* separators seen at that depth */
	bool     any;                  /* the array has an element */
	bool     stack;                /* a "stack" (else "groups") */
};

static int line_put(struct reader *rd, size_t *n, int c)
{
	if (*n + 2 > rd->cap) {
		size_t nc = rd->cap ? rd->cap * 2 : 4096;
		char *nl = realloc(rd->line, nc);
		if (!nl)
			return -1;
		rd->line = nl;
		rd->cap = nc;
	}
	rd->line[(*n)++] = (char)c;
	return 0;
}

/* Reads one line into rd->line (without its newline) with the cuts above.
 * Returns its kept length, -1 at the end of the file (or a read error),
 * -2 when the kept part is over LINE_KEEP, -3 out of memory; *had_nl: it
 * ended with a newline. */
static ssize_t read_line(struct reader *rd, bool *had_nl)
{
	struct cut cuts[CUT_NEST];
	int ncut = 0, depth = 0, c;
	bool in_str = false, esc = false, key_next = false;
	char last[8];                  /* the last string, when short: a key? */
	size_t lastn = 0, n = 0;
	bool last_long = false;
	int skip = -1;                 /* index in cuts[] being skipped, -1 */
	bool any = false;

	*had_nl = false;
	rd->stacks_cut = 0;
	rd->groups_total = 0;
	while ((c = getc_unlocked(rd->f)) != EOF) {
		any = true;
		if (c == '\n') {
			*had_nl = true;
			break;
		}
		bool emit = skip < 0;
		if (!in_str && ncut && cuts[ncut - 1].depth == depth && c != ']' && c != ',' &&
		    c != ' ' && c != '\t' && c != '\r')
			cuts[ncut - 1].any = true;      /* an element starts (or goes on) */
		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
			if (in_str && c != '"' && lastn < sizeof(last))
				last[lastn++] = (char)c;
			else if (in_str)
				last_long = true;
		} else if (c == '"') {
			in_str = true;
			lastn = 0;
			last_long = false;
			key_next = false;
		} else if (c == ':') {
			/* the sites record's "sites" and "stacks" are capped like "groups" */
			key_next = !last_long && ((lastn == 5 && !memcmp(last, "stack", 5)) ||
						  (lastn == 6 && !memcmp(last, "groups", 6)) ||
						  (lastn == 6 && !memcmp(last, "stacks", 6)) ||
						  (lastn == 5 && !memcmp(last, "sites", 5)));
		} else if (c == '[' || c == '{') {
			depth++;
			if (c == '[' && key_next && ncut < CUT_NEST) {
				bool st = lastn == 5 && !memcmp(last, "stack", 5);
				cuts[ncut++] = (struct cut){ .depth = depth, .limit = st ? MAX_FRAMES : LEAKS_KEEP,
							     .stack = st };
			}
			key_next = false;
		} else if (c == ']' || c == '}') {
			if (ncut && cuts[ncut - 1].depth == depth) {
				struct cut *k = &cuts[--ncut];
				uint64_t total = k->commas + k->any;
				bool counted = skip < 0 || skip == ncut;   /* not inside a dropped part */
				if (k->stack && counted) {
					if (total > MAX_FRAMES)
						rd->stacks_cut++;
					if (total > rd->max_frames_seen)
						rd->max_frames_seen = total;
				} else if (!k->stack && counted) {
					rd->groups_total = total;
				}
				if (skip == ncut) {
					skip = -1;
					emit = true;
				}
			}
			depth--;
			key_next = false;
		} else if (c == ',') {
			if (ncut && cuts[ncut - 1].depth == depth) {
				struct cut *k = &cuts[ncut - 1];
				if (++k->commas == k->limit && skip < 0) {
					skip = ncut - 1;
					emit = false;
				}
			}
			key_next = false;
		} else if (c != ' ' && c != '\t' && c != '\r') {
			key_next = false;
		}
		if (emit) {
			if (n >= LINE_KEEP) {
				/* skip the rest of the line: the error names it */
				while ((c = getc_unlocked(rd->f)) != EOF && c != '\n')
					;
				return -2;
			}
			if (line_put(rd, &n, c) < 0)
				return -3;
		}
	}
	if (!any)
		return -1;
	if (line_put(rd, &n, '\0') < 0)
		return -3;
	rd->all_stacks_cut += rd->stacks_cut;
	return (ssize_t)(n - 1);
}

static void reader_close(struct reader *rd)
{
	if (rd->progress)
		fprintf(stderr, "\r%60s\r", "");
	if (rd->obj)
		json_object_put(rd->obj);
	if (rd->tok)
		json_tokener_free(rd->tok);
	if (rd->f)
		fclose(rd->f);
	free(rd->line);
}

static json_object *jget(json_object *o, const char *k)
{
	json_object *v = NULL;
	return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v = jget(o, k);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* An integer or a "0x..." string; sets *has when present. */
static uint64_t jnum(json_object *o, const char *k, bool *has)
{
	json_object *v = jget(o, k);
	if (has)
		*has = v != NULL;
	if (!v)
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoull(json_object_get_string(v), NULL, 0);
	if (json_object_is_type(v, json_type_int))
		return (uint64_t)json_object_get_int64(v);
	return 0;
}

static bool jbool(json_object *o, const char *k)
{
	json_object *v = jget(o, k);
	return v && json_object_get_boolean(v);
}

/* The "stack" array of o into frames[] (at most MAX_FRAMES, innermost first). */
static size_t fill_stack(json_object *o, struct rm_frame *frames)
{
	json_object *st = jget(o, "stack");
	size_t n = 0;

	if (!st || !json_object_is_type(st, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(st) && n < MAX_FRAMES; i++) {
		json_object *fr = json_object_array_get_idx(st, i);
		if (!fr || !json_object_is_type(fr, json_type_object))
			continue;
		frames[n++] = (struct rm_frame){
			.addr = jnum(fr, "addr", NULL), .off = jnum(fr, "off", NULL),
			.sym = jstr(fr, "sym"), .obj = jstr(fr, "obj"), .file = jstr(fr, "file"),
			.line = (int)jnum(fr, "line", NULL),
		};
	}
	return n;
}

static void fill_rec(json_object *o, struct rm_rec *r, struct rm_frame *frames)
{
	const char *type = jstr(o, "type");

	memset(r, 0, sizeof(*r));
	r->fn = -1;
	r->cause_fn = -1;
	r->type = !type ? RM_T_OTHER : !strcmp(type, "call") ? RM_T_CALL : !strcmp(type, "os") ? RM_T_OS :
		  !strcmp(type, "threshold") ? RM_T_THRESHOLD : !strcmp(type, "task") ? RM_T_TASK :
		  !strcmp(type, "summary") ? RM_T_SUMMARY : RM_T_OTHER;
	r->ts = jnum(o, "ts_ns", NULL);
	r->dur = jnum(o, "dur_ns", NULL);
	r->pid = (int)jnum(o, "pid", NULL);
	r->tid = (int)jnum(o, "tid", NULL);
	r->region = jstr(o, "region");
	switch (r->type) {
	case RM_T_CALL: {
		json_object *os = jget(o, "os");
		r->id = jnum(o, "id", NULL);
		r->fn = rm_fn_index(jstr(o, "fn"), jstr(o, "role"));
		r->size = jnum(o, "size", &r->has_size);
		r->ptr = jnum(o, "ptr", NULL);
		r->ret = jnum(o, "ret", &r->has_ret);
		r->n_os = os && json_object_is_type(os, json_type_array) ? json_object_array_length(os) : 0;
		r->nested = jbool(o, "nested");
		r->missed = jbool(o, "missed");
		r->threshold = jnum(o, "threshold", NULL);
		jnum(o, "threshold_max", &r->thr_unknown);
		break;
	}
	case RM_T_OS: {
		json_object *c = jget(o, "cause");
		const char *kind = c ? jstr(c, "kind") : NULL;
		r->id = jnum(o, "id", NULL);
		r->sys = rm_sys_index(jstr(o, "syscall"));
		r->addr = jnum(o, "addr", NULL);
		r->len = jnum(o, "len", NULL);
		r->new_len = jnum(o, "new_len", NULL);
		r->ret = jnum(o, "ret", &r->has_ret);
		r->prot = jstr(o, "prot");
		r->flags = jstr(o, "flags");
		r->failed = jget(o, "error") != NULL;
		r->cause_direct = kind && !strcmp(kind, "direct");
		r->n_stack = fill_stack(o, frames);
		r->stack = frames;
		bool has_af;
		r->alloc_frames = (int)jnum(o, "alloc_frames", &has_af);
		if (!has_af)
			r->alloc_frames = -1;
		if (kind && !strcmp(kind, "call")) {
			r->cause_call = true;
			r->cause_id = jnum(c, "call_id", NULL);
			r->cause_fn = rm_fn_index(jstr(c, "fn"), NULL);
			r->cause_size = jnum(c, "size", NULL);
		}
		break;
	}
	case RM_T_THRESHOLD:
		r->th_old = jnum(o, "old", NULL);
		r->th_new = jnum(o, "new", NULL);
		r->id = jnum(o, "call_id", NULL);
		break;
	default:
		break;
	}
}

/* Next record: 1, 0 at the end, -1 with a message on a malformed line. */
static int reader_next(struct reader *rd, char *err, size_t errlen)
{
	for (;;) {
		if (rd->obj) {
			json_object_put(rd->obj);
			rd->obj = NULL;
		}
		bool had_nl;

		rd->len = read_line(rd, &had_nl);
		if (rd->len == -1) {
			if (ferror(rd->f)) {
				snprintf(err, errlen, "cannot read %s: %s", rd->path, strerror(errno));
				return -1;
			}
			return 0;
		}
		rd->lineno++;
		if (rd->len == -2) {
			snprintf(err, errlen, "%s:%lu: record longer than %u MiB (stacks cut to %d frames): "
				 "not an allocmap trace", rd->path, rd->lineno, LINE_KEEP >> 20, MAX_FRAMES);
			return -1;
		}
		if (rd->len < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		while (rd->len > 0 && rd->line[rd->len - 1] == '\r')
			rd->line[--rd->len] = '\0';
		if (rd->len == 0)
			continue;
		if (rd->progress && ftell(rd->f) >= rd->next_progress) {
			fprintf(stderr, "\rallocmap: report: %3lld%% (%lu lines)",
				ftell(rd->f) * 100 / (rd->size ? rd->size : 1), rd->lineno);
			rd->next_progress += 4 << 20;
		}
		json_tokener_reset(rd->tok);
		rd->obj = json_tokener_parse_ex(rd->tok, rd->line, (int)rd->len);
		if (!rd->obj || json_tokener_get_error(rd->tok) != json_tokener_success ||
		    rd->tok->char_offset != (int)rd->len || !json_object_is_type(rd->obj, json_type_object) ||
		    !jstr(rd->obj, "type")) {
			if (!had_nl && rd->lineno > 1) {
				rd->truncated = true;   /* a tracer killed mid-line: keep what we have */
				return 0;
			}
			snprintf(err, errlen, "%s:%lu: not an allocmap JSON Lines record "
				 "(make one with: allocmap trace --json -v -o FILE -- CMD)", rd->path, rd->lineno);
			return -1;
		}
		fill_rec(rd->obj, &rd->rec, rd->frames);
		return 1;
	}
}

/* ---- output helpers ---- */

/* Copies s to f with every '<' as "<\/"-free \u003c: the data block is
 * JSON whose strings were written by put_json (so a '<' can only be in a
 * string, where \u003c means the same), and no byte sequence in it can end,
 * comment out or open a script element ("</script", "<!--", "<script"). */
static void put_script_data(FILE *f, const char *s, size_t n)
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '<')
			continue;
		fwrite(s + from, 1, i - from, f);
		fputs("\\u003c", f);
		from = i + 1;
	}
	fwrite(s + from, 1, n - from, f);
}

/* The page's script: "</" as "<\/" (it holds no "<!--"). */
static void put_script_safe(FILE *f, const char *s, size_t n)
{
	size_t i = 0, from = 0;

	for (; i + 1 < n; i++) {
		if (s[i] == '<' && s[i + 1] == '/') {
			fwrite(s + from, 1, i + 1 - from, f);
			fputc('\\', f);
			from = i + 1;
		}
	}
	fwrite(s + from, 1, n - from, f);
}

static void put_jstr(FILE *f, const char *s)
{
	jsonw_fstr(f, s ? s : "", s ? strlen(s) : 0, true);
}

/* Writes o again as JSON, whatever the input held: strings through
 * jsonw_fstr (well-formed UTF-8, control characters escaped; html: inert in
 * a <script> element), integers as integers, finite doubles, NaN and
 * infinities as null. The trace is never copied raw into an output. */
static void put_json(FILE *f, json_object *o, bool html)
{
	switch (json_object_get_type(o)) {
	case json_type_boolean:
		fputs(json_object_get_boolean(o) ? "true" : "false", f);
		break;
	case json_type_int: {
		int64_t v = json_object_get_int64(o);
		if (v == INT64_MAX)
			fprintf(f, "%llu", (unsigned long long)json_object_get_uint64(o));
		else
			fprintf(f, "%lld", (long long)v);
		break;
	}
	case json_type_double: {
		double d = json_object_get_double(o);
		if (isfinite(d))
			fprintf(f, "%.17g", d);
		else
			fputs("null", f);
		break;
	}
	case json_type_string:
		jsonw_fstr(f, json_object_get_string(o), (size_t)json_object_get_string_len(o), html);
		break;
	case json_type_array: {
		size_t n = json_object_array_length(o);
		fputc('[', f);
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputc(',', f);
			put_json(f, json_object_array_get_idx(o, i), html);
		}
		fputc(']', f);
		break;
	}
	case json_type_object: {
		bool first = true;
		fputc('{', f);
		json_object_object_foreach(o, k, v) {
			if (!first)
				fputc(',', f);
			first = false;
			jsonw_fstr(f, k, strlen(k), html);
			fputc(':', f);
			put_json(f, v, html);
		}
		fputc('}', f);
		break;
	}
	default:
		fputs("null", f);
		break;
	}
}

/* put_json into a malloc'ed string, or NULL. */
static char *json_text(json_object *o, bool html)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	put_json(f, o, html);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A growing JSON array of raw records in memory. */
struct rawlist {
	char   *buf;
	size_t  len;
	FILE   *f;
	size_t  n, kept, cap;
};

static int rawlist_open(struct rawlist *l, size_t cap)
{
	memset(l, 0, sizeof(*l));
	l->cap = cap;
	l->f = open_memstream(&l->buf, &l->len);
	return l->f ? 0 : -1;
}

/* Adds record o (written again by put_json, never the raw line). */
static void rawlist_add(struct rawlist *l, json_object *o)
{
	l->n++;
	if (l->kept >= l->cap)
		return;
	if (l->kept)
		fputc(',', l->f);
	put_json(l->f, o, true);
	l->kept++;
}

static void rawlist_close(struct rawlist *l)
{
	if (l->f)
		fclose(l->f);
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

/* ---- HTML ---- */

struct html_ctx {
	struct rm_model *m;
	struct rawlist os, calls, tasks;
	char  *summary;            /* raw summary line, or NULL */
	char  *leaks;              /* the leaks record, its groups cut to LEAKS_KEEP, or NULL */
	int    pids[PIDS_KEEP];
	size_t npids;
	uint64_t lines;
	uint64_t stacks_kept, stacks_dropped; /* listed records with/without their stack */
	uint64_t stacks_cut, frames_max;      /* stacks over MAX_FRAMES frames, longest seen */
	bool   truncated;          /* the input's last line was cut short */
};

/* Adds the current record to l, its stack cut or dropped (see STACKS_KEEP). */
static void list_record(struct html_ctx *c, struct rawlist *l, struct reader *rd)
{
	json_object *st = jget(rd->obj, "stack");

	if (!st || l->kept >= l->cap) {
		rawlist_add(l, rd->obj);
		return;
	}
	if (c->stacks_kept < STACKS_KEEP && json_object_is_type(st, json_type_array)) {
		size_t n = json_object_array_length(st);
		if (n > TIP_FRAMES)
			json_object_array_del_idx(st, TIP_FRAMES, n - TIP_FRAMES);
		c->stacks_kept++;
	} else {
		json_object_object_del(rd->obj, "stack");
		c->stacks_dropped++;
	}
	rawlist_add(l, rd->obj);
}

static void note_pid(int pids[], size_t *n, int pid)
{
	if (pid <= 0)
		return;
	for (size_t i = 0; i < *n; i++)
		if (pids[i] == pid)
			return;
	if (*n < PIDS_KEEP)
		pids[(*n)++] = pid;
}

/* The leaks record as the page wants it: totals, how many groups there
 * were, the first LEAKS_KEEP groups (they come largest first) as they are. */
static char *leaks_json(json_object *o, uint64_t groups_total)
{
	json_object *g = jget(o, "groups");
	size_t ng = g && json_object_is_type(g, json_type_array) ? json_object_array_length(g) : 0;
	uint64_t total = groups_total > ng ? groups_total : ng;   /* read_line kept LEAKS_KEEP */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	fprintf(f, "{\"count\":%llu,\"bytes\":%llu,\"groups_total\":%llu,\"groups\":[",
		(unsigned long long)jnum(o, "count", NULL), (unsigned long long)jnum(o, "bytes", NULL),
		(unsigned long long)total);
	for (size_t i = 0; i < ng && i < LEAKS_KEEP; i++) {
		if (i)
			fputc(',', f);
		put_json(f, json_object_array_get_idx(g, i), true);
	}
	fputs("]}", f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The flame graph: string table, then 8 numbers per node in creation order
 * (a parent always before its children): parent (-1 for the root), name,
 * obj, file (string ids, -1 absent), line, flags (RM_FN_*), bytes, count. */
static void write_flame(FILE *f, const struct rm_model *m)
{
	const struct rm_flame *fl = &m->fl;

	fprintf(f, ",\"flame\":{\"stacks\":%llu,\"no_stack\":%llu,\"cut\":%llu,\"cap\":%d,\"strings\":[",
		(unsigned long long)fl->stacks, (unsigned long long)fl->no_stack, (unsigned long long)fl->cut,
		RM_FLAME_CAP);
	for (size_t i = 0; i < fl->nstr; i++) {
		if (i)
			fputc(',', f);
		put_jstr(f, fl->str[i]);
	}
	fprintf(f, "],\"nodes\":[");
	for (size_t i = 0; i < fl->nn; i++) {
		const struct rm_fnode *n = &fl->n[i];
		fprintf(f, "%s%lld,%lld,%lld,%lld,%d,%u,%llu,%llu", i ? "," : "",
			n->parent == UINT32_MAX ? -1LL : (long long)n->parent,
			n->name == UINT32_MAX ? -1LL : (long long)n->name,
			n->obj == UINT32_MAX ? -1LL : (long long)n->obj,
			n->file == UINT32_MAX ? -1LL : (long long)n->file, n->line, n->flags,
			(unsigned long long)n->bytes, (unsigned long long)n->count);
	}
	fprintf(f, "]}");
}

static void write_data(FILE *f, struct html_ctx *c, const char *in_path)
{
	struct rm_model *m = c->m;
	size_t nb = rm_nbuckets(m);
	uint64_t last[3] = { 0, 0, 0 };
	time_t now = time(NULL);
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
	fprintf(f, "{\"source\":");
	put_jstr(f, in_path);
	fprintf(f, ",\"generated\":");
	put_jstr(f, when);
	fprintf(f, ",\"t0\":%llu,\"duration\":%llu,\"pids\":[",
		(unsigned long long)m->t0, (unsigned long long)m->t_max);
	for (size_t i = 0; i < c->npids; i++)
		fprintf(f, "%s%d", i ? "," : "", c->pids[i]);
	fprintf(f, "],\"summary\":%s", c->summary ? c->summary : "null");
	fprintf(f, ",\"counts\":{\"records\":%llu,\"calls\":%llu,\"os\":%llu,\"alloc_calls\":%llu,"
		"\"points\":%llu,\"allocs\":%llu,\"live_now\":%zu,\"regions\":%llu,\"regions_dropped\":%llu,"
		"\"os_kept\":%zu,\"calls_with_os\":%zu,\"calls_kept\":%zu,\"truncated\":%s,\"oom\":%s,"
		"\"heap_peak\":%llu,\"mmapped_peak\":%llu,\"live_peak\":%llu,\"live_peak_t\":%llu,"
		"\"heap\":%llu,\"mmapped\":%llu,\"live\":%llu}",
		(unsigned long long)m->n_records, (unsigned long long)m->n_calls,
		(unsigned long long)m->n_os, (unsigned long long)m->n_alloc_calls,
		(unsigned long long)m->npoints, (unsigned long long)m->allocs_seen, m->hcount,
		(unsigned long long)m->regions_total, (unsigned long long)m->regions_dropped,
		c->os.kept, c->calls.n, c->calls.kept, c->truncated ? "true" : "false", m->oom ? "true" : "false",
		(unsigned long long)m->heap_peak, (unsigned long long)m->mmapped_peak,
		(unsigned long long)m->live_peak, (unsigned long long)m->live_peak_t,
		(unsigned long long)m->heap, (unsigned long long)m->mmapped, (unsigned long long)m->live);
	fprintf(f, ",\"stacks_listed\":%llu,\"stacks_dropped\":%llu", (unsigned long long)c->stacks_kept,
		(unsigned long long)c->stacks_dropped);
	fprintf(f, ",\"stacks_cut\":%llu,\"frames_cap\":%d,\"frames_max\":%llu",
		(unsigned long long)c->stacks_cut, MAX_FRAMES, (unsigned long long)c->frames_max);
	fprintf(f, ",\"caps\":{\"os\":%d,\"points\":%d,\"allocs\":%d,\"live\":%d,\"regions\":%d}",
		OS_KEEP, RM_POINT_CAP, RM_ALLOC_CAP, RM_LIVE_CAP, RM_DEAD_REGION_CAP);

	/* timeline: 9 numbers per bucket (heap, mmapped, live: min, max, last),
	 * empty buckets carry the previous value; a bucket's range includes the
	 * value it started with */
	fprintf(f, ",\"bucket_ns\":%llu,\"buckets\":[", (unsigned long long)m->bw);
	for (size_t i = 0; i < nb; i++) {
		const struct rm_bucket *b = &m->b[i];
		for (int k = 0; k < 3; k++) {
			uint64_t lo = last[k], hi = last[k], la = last[k];
			if (b->has) {
				lo = b->min[k] < lo ? b->min[k] : lo;
				hi = b->max[k] > hi ? b->max[k] : hi;
				la = b->last[k];
			}
			fprintf(f, "%s%llu,%llu,%llu", i || k ? "," : "", (unsigned long long)lo,
				(unsigned long long)hi, (unsigned long long)la);
			last[k] = la;
		}
	}
	/* threshold view */
	fprintf(f, "],\"grid_ns\":%llu,\"grid\":[", (unsigned long long)m->gw);
	bool first = true;
	for (size_t col = 0; col < RM_GRID_COLS; col++)
		for (size_t row = 0; row < RM_GRID_ROWS; row++)
			for (size_t s = 0; s < RM_NSERVED; s++) {
				uint32_t v = m->grid[(col * RM_GRID_ROWS + row) * RM_NSERVED + s];
				if (!v)
					continue;
				fprintf(f, "%s%zu,%zu,%zu,%u", first ? "" : ",", col, row, s, v);
				first = false;
			}
	fprintf(f, "],\"points\":[");
	uint64_t np = m->npoints < RM_POINT_CAP ? m->npoints : RM_POINT_CAP;
	for (uint64_t i = 0; i < np; i++)
		fprintf(f, "%s%llu,%llu,%u", i ? "," : "", (unsigned long long)m->points[i].t,
			(unsigned long long)m->points[i].size, m->points[i].served);
	fprintf(f, "],\"threshold\":{\"start\":%llu,\"moves\":[", (unsigned long long)m->th_start);
	for (size_t i = 0; i < m->nth; i++)
		fprintf(f, "%s[%llu,%llu,%llu,%llu,%d]", i ? "," : "", (unsigned long long)m->th[i].t,
			(unsigned long long)m->th[i].old, (unsigned long long)m->th[i].new_,
			(unsigned long long)m->th[i].call_id, m->th[i].pid);
	fprintf(f, "]}");

	/* regions */
	fprintf(f, ",\"regions\":[");
	first = true;
	for (size_t i = 0; i < m->nreg; i++) {
		const struct rm_region *g = &m->reg[i];
		if (g->free_slot)
			continue;
		fprintf(f, "%s{\"i\":%zu,\"kind\":\"%s\",\"label\":", first ? "" : ",", i, rm_kind_names[g->kind]);
		put_jstr(f, g->label ? g->label : rm_kind_names[g->kind]);
		fprintf(f, ",\"start\":%llu,\"end\":%llu,\"t0\":%llu,\"t1\":",
			(unsigned long long)g->start, (unsigned long long)g->end, (unsigned long long)g->t_start);
		if (g->t_end == UINT64_MAX)
			fprintf(f, "null");
		else
			fprintf(f, "%llu", (unsigned long long)g->t_end);
		fprintf(f, ",\"os\":%llu,\"call\":%llu,\"fn\":", (unsigned long long)g->os_id,
			(unsigned long long)g->cause_call);
		if (g->cause_fn >= 0)
			put_jstr(f, rm_fn_name(g->cause_fn));
		else
			fprintf(f, "null");
		fprintf(f, ",\"size\":%llu,\"tid\":%d,\"committed\":%llu,\"n\":%llu,\"bytes\":%llu,"
			"\"live_n\":%llu,\"live_b\":%llu,\"peak\":%llu}",
			(unsigned long long)g->cause_size, g->tid, (unsigned long long)g->committed,
			(unsigned long long)g->n_allocs, (unsigned long long)g->alloc_bytes,
			(unsigned long long)g->live_count, (unsigned long long)g->live_bytes,
			(unsigned long long)g->peak_live);
		first = false;
	}
	/* allocation lifetimes: addr, size, t0, t1 (-1 live), call, region, fn, tid */
	fprintf(f, "],\"allocs\":[");
	first = true;
	struct rm_alloc *extra = malloc(RM_LIVE_CAP * sizeof(*extra));
	size_t nextra = extra ? rm_live_extra(m, extra, RM_LIVE_CAP) : 0;
	for (size_t pass = 0; pass < 2; pass++) {
		const struct rm_alloc *arr = pass ? extra : m->sample;
		size_t n = pass ? nextra : m->nsample;
		for (size_t i = 0; i < n; i++) {
			const struct rm_alloc *a = &arr[i];
			fprintf(f, "%s%llu,%llu,%llu,", first ? "" : ",", (unsigned long long)a->addr,
				(unsigned long long)a->size, (unsigned long long)a->t0);
			if (a->t1 == UINT64_MAX)
				fprintf(f, "-1");
			else
				fprintf(f, "%llu", (unsigned long long)a->t1);
			fprintf(f, ",%llu,%d,%d,%d", (unsigned long long)a->call_id, rm_alloc_region(m, a),
				a->fn, a->tid);
			first = false;
		}
	}
	free(extra);
	fprintf(f, "],\"live_shown\":%zu", nextra);

	/* per function / per syscall */
	fprintf(f, ",\"fns\":[");
	first = true;
	for (int i = 0; i < RM_NFN; i++) {
		const struct rm_fnstat *s = &m->fn[i];
		if (!s->calls)
			continue;
		fprintf(f, "%s{\"fn\":", first ? "" : ",");
		put_jstr(f, rm_fn_name(i));   /* --alloc names come from the trace */
		fprintf(f, ",\"calls\":%llu,\"bytes\":%llu,\"os_calls\":%llu,\"failed\":%llu,"
			"\"nested\":%llu,\"dur_ns\":%llu}",
			(unsigned long long)s->calls, (unsigned long long)s->bytes, (unsigned long long)s->os_calls,
			(unsigned long long)s->failed, (unsigned long long)s->nested, (unsigned long long)s->dur_ns);
		first = false;
	}
	fputc(']', f);
	write_flame(f, m);
	fprintf(f, ",\"leaks\":%s", c->leaks ? c->leaks : "null");
	fprintf(f, ",\"sys\":[");
	first = true;
	for (int i = 0; i < RM_NSYS; i++) {
		if (!m->sys_count[i])
			continue;
		fprintf(f, "%s{\"sys\":\"%s\",\"count\":%llu,\"failed\":%llu,\"by_call\":%llu}", first ? "" : ",",
			rm_sys_names[i], (unsigned long long)m->sys_count[i], (unsigned long long)m->sys_failed[i],
			(unsigned long long)m->sys_by_call[i]);
		first = false;
	}
	fflush(c->os.f);
	fflush(c->calls.f);
	fflush(c->tasks.f);
	fprintf(f, "],\"os\":[");
	fwrite(c->os.buf, 1, c->os.len, f);
	fprintf(f, "],\"calls\":[");
	fwrite(c->calls.buf, 1, c->calls.len, f);
	fprintf(f, "],\"tasks\":[");
	fwrite(c->tasks.buf, 1, c->tasks.len, f);
	fprintf(f, "]}");
}

/* Writes the template with its three placeholders filled. */
static int write_page(FILE *out, const char *data, size_t ndata)
{
	static const char *const marks[3] = { "/*@CSS@*/", "/*@DATA@*/", "/*@JS@*/" };
	const char *p = am_asset_report_html;

	for (int i = 0; i < 3; i++) {
		const char *q = strstr(p, marks[i]);
		if (!q)
			return -1;
		fwrite(p, 1, (size_t)(q - p), out);
		if (i == 0)
			fputs(am_asset_report_css, out);
		else if (i == 1)
			put_script_data(out, data, ndata);
		else
			put_script_safe(out, am_asset_report_js, strlen(am_asset_report_js));
		p = q + strlen(marks[i]);
	}
	fputs(p, out);
	return 0;
}

int am_report_html(const char *in_path, const char *out_path, char *err, size_t errlen)
{
	return am_report_html_named(in_path, NULL, out_path, err, errlen);
}

int am_report_html_named(const char *in_path, const char *source, const char *out_path, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	struct reader rd;
	struct html_ctx c;
	char *data = NULL;
	size_t ndata = 0;
	FILE *df = NULL, *out = NULL;
	int ret = -1, r;

	memset(&c, 0, sizeof(c));
	if (reader_open(&rd, in_path, err, errlen) < 0)
		return -1;
	c.m = malloc(sizeof(*c.m));
	if (!c.m || rm_init(c.m) < 0 || rawlist_open(&c.os, OS_KEEP) < 0 ||
	    rawlist_open(&c.calls, CALLS_KEEP) < 0 || rawlist_open(&c.tasks, TASKS_KEEP) < 0) {
		if (c.m && !c.m->grid)
			free(c.m), c.m = NULL;
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	while ((r = reader_next(&rd, err, errlen)) > 0) {
		const struct rm_rec *rec = &rd.rec;
		c.lines++;
		note_pid(c.pids, &c.npids, rec->pid);
		rm_feed(c.m, rec);
		if (rec->type == RM_T_OS)
			list_record(&c, &c.os, &rd);
		else if (rec->type == RM_T_CALL && rec->n_os)
			list_record(&c, &c.calls, &rd);
		else if (rec->type == RM_T_TASK)
			rawlist_add(&c.tasks, rd.obj);
		else if (rec->type == RM_T_SUMMARY) {
			free(c.summary);
			c.summary = json_text(rd.obj, true);
		} else if (!strcmp(jstr(rd.obj, "type"), "leaks")) {
			free(c.leaks);
			c.leaks = leaks_json(rd.obj, rd.groups_total);
		}
	}
	if (r < 0)
		goto cleanup;
	c.truncated = rd.truncated;
	c.stacks_cut = rd.all_stacks_cut;
	c.frames_max = rd.max_frames_seen;
	if (!c.lines) {
		snprintf(err, errlen, "%s: no trace records (empty file?)", in_path);
		goto cleanup;
	}
	df = open_memstream(&data, &ndata);
	if (!df) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	write_data(df, &c, source ? source : in_path);
	if (fclose(df) != 0) {
		df = NULL;
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	df = NULL;
	out = am_fopen_output(out_path, why, sizeof(why));
	if (!out) {
		snprintf(err, errlen, "cannot create %s: %s", out_path, why);
		goto cleanup;
	}
	if (write_page(out, data, ndata) < 0) {
		snprintf(err, errlen, "internal error: report template lacks a placeholder");
		goto cleanup;
	}
	if (ferror(out) | fclose(out)) {
		out = NULL;
		snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
		goto cleanup;
	}
	out = NULL;
	ret = 0;
cleanup:
	if (out)
		fclose(out);
	free(data);
	rawlist_close(&c.os);
	rawlist_close(&c.calls);
	rawlist_close(&c.tasks);
	free(c.summary);
	free(c.leaks);
	if (c.m) {
		rm_free(c.m);
		free(c.m);
	}
	reader_close(&rd);
	return ret;
}

/* ---- Perfetto ---- */

struct pf_ctx {
	FILE    *f;
	bool     any;              /* an event was written: next needs a comma */
	uint64_t heap, mmapped;    /* last values written */
	uint64_t live, live_t;     /* last live value written, and when */
	bool     live_pending;     /* model's live differs from what was written */
	uint64_t pend_t, pend_v;   /* the pending value and its time */
	uint64_t live_samples;
	int      cpid;             /* pid the counters go on */
	int      pids[PIDS_KEEP];
	size_t   npids;
};

static void pf_ts(FILE *f, uint64_t ns)
{
	fprintf(f, "%llu.%03llu", (unsigned long long)(ns / 1000), (unsigned long long)(ns % 1000));
}

static void pf_sep(struct pf_ctx *p)
{
	fputs(p->any ? ",\n" : "\n", p->f);
	p->any = true;
}

/* A threshold in an event name: its value, or "unknown" for 0. */
static const char *thr_num(char *buf, size_t n, uint64_t v)
{
	if (v)
		snprintf(buf, n, "%llu", (unsigned long long)v);
	else
		snprintf(buf, n, "unknown");
	return buf;
}

static void pf_counter(struct pf_ctx *p, const char *name, uint64_t ts, uint64_t v)
{
	if (name[0] == 'l')
		p->live_samples++;
	pf_sep(p);
	fprintf(p->f, "{\"name\":\"%s\",\"ph\":\"C\",\"ts\":", name);
	pf_ts(p->f, ts);
	fprintf(p->f, ",\"pid\":%d,\"args\":{\"bytes\":%llu}}", p->cpid, (unsigned long long)v);
}

/* Counters after a record: heap and mmapped change rarely and are written
 * at once; live bytes change on every call and are written at most once per
 * LIVE_EMIT_NS once LIVE_EXACT samples are out, the value held back being written before the next one so
 * that every step is at its right height. */
static void pf_counters(struct pf_ctx *p, const struct rm_model *m, uint64_t ts)
{
	if (m->heap != p->heap) {
		pf_counter(p, "brk heap", ts, m->heap);
		p->heap = m->heap;
	}
	if (m->mmapped != p->mmapped) {
		pf_counter(p, "mmapped", ts, m->mmapped);
		p->mmapped = m->mmapped;
	}
	if (m->live == p->live && !p->live_pending)
		return;
	if (p->live_samples < LIVE_EXACT || ts >= p->live_t + LIVE_EMIT_NS) {
		if (p->live_pending && p->pend_t > p->live_t && p->pend_t < ts)
			pf_counter(p, "live", p->pend_t, p->pend_v);
		pf_counter(p, "live", ts, m->live);
		p->live = m->live;
		p->live_t = ts;
		p->live_pending = false;
	} else {
		p->live_pending = true;
		p->pend_t = ts;
		p->pend_v = m->live;
	}
}

/* The end of an event: its thread and, as args, the record itself (written
 * again as valid JSON, never copied raw). */
static void pf_args(struct pf_ctx *p, const struct rm_rec *rec, json_object *o)
{
	fprintf(p->f, ",\"pid\":%d,\"tid\":%d,\"args\":", rec->pid, rec->tid);
	put_json(p->f, o, false);
	fputc('}', p->f);
}

static const char *short_sys(const struct rm_rec *r)
{
	return rm_sys_names[r->sys];
}

int am_report_perfetto(const char *in_path, const char *out_path, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	struct reader rd;
	struct rm_model *m = NULL;
	struct pf_ctx p;
	static char obuf[1 << 16];
	uint64_t last_ts = 0;
	char a[32], b[32];
	int ret = -1, r;

	memset(&p, 0, sizeof(p));
	if (reader_open(&rd, in_path, err, errlen) < 0)
		return -1;
	m = malloc(sizeof(*m));
	if (!m || rm_init(m) < 0) {
		free(m);
		m = NULL;
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	p.f = am_fopen_output(out_path, why, sizeof(why));
	if (!p.f) {
		snprintf(err, errlen, "cannot create %s: %s", out_path, why);
		goto cleanup;
	}
	setvbuf(p.f, obuf, _IOFBF, sizeof(obuf));
	fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"tool\":\"allocmap\"},\"traceEvents\":[", p.f);
	uint64_t os_call = 0, os_end = 0; /* OS requests of the call about to come */

	while ((r = reader_next(&rd, err, errlen)) > 0) {
		const struct rm_rec *rec = &rd.rec;
		size_t np = p.npids;
		if (rec->type == RM_T_SUMMARY)
			continue;
		note_pid(p.pids, &p.npids, rec->pid);
		if (p.npids != np) {
			pf_sep(&p);
			fprintf(p.f, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"pid %d (allocmap)\"}}",
				rec->pid, rec->pid);
			if (!p.cpid) {          /* every counter track starts at 0 */
				p.cpid = rec->pid;
				pf_counter(&p, "brk heap", rec->ts, 0);
				pf_counter(&p, "mmapped", rec->ts, 0);
				pf_counter(&p, "live", rec->ts, 0);
				p.live_t = rec->ts;
			}
		}
		rm_feed(m, rec);
		uint64_t ts = rec->ts;
		if (rec->type == RM_T_OS && rec->cause_call) {
			/* a call's OS requests come just before it in the stream */
			if (rec->cause_id != os_call) {
				os_call = rec->cause_id;
				os_end = 0;
			}
			if (rec->ts + rec->dur > os_end)
				os_end = rec->ts + rec->dur;
		}
		if (rec->type == RM_T_CALL) {
			uint64_t dur = rec->dur;

			/* free has no return probe (no dur_ns): its slice ends with
			 * its last OS request */
			if (!dur && rec->id == os_call && os_end > rec->ts)
				dur = os_end - rec->ts;
			ts += dur;              /* its effect on live bytes is at its return */
			if (rec->n_os) {
				pf_sep(&p);
				char nm[256];
				int k = snprintf(nm, sizeof(nm), "%s(%llu)", rm_fn_name(rec->fn >= 0 ? rec->fn : RM_NFN - 1),
						 (unsigned long long)rec->size);
				fputs("{\"name\":", p.f);
				jsonw_fstr(p.f, nm, k < (int)sizeof(nm) ? (size_t)k : sizeof(nm) - 1, false);
				fputs(",\"cat\":\"alloc\",\"ph\":\"X\",\"ts\":", p.f);
				pf_ts(p.f, rec->ts);
				fprintf(p.f, ",\"dur\":");
				pf_ts(p.f, dur);
				pf_args(&p, rec, rd.obj);
			}
		} else if (rec->type == RM_T_OS) {
			ts += rec->dur;
			pf_sep(&p);
			if (rec->cause_call) {
				fprintf(p.f, "{\"name\":\"%s\",\"cat\":\"os\",\"ph\":\"X\",\"ts\":", short_sys(rec));
				pf_ts(p.f, rec->ts);
				fprintf(p.f, ",\"dur\":");
				pf_ts(p.f, rec->dur);
			} else {
				fprintf(p.f, "{\"name\":\"%s (direct)\",\"cat\":\"os\",\"ph\":\"i\",\"s\":\"t\",\"ts\":",
					short_sys(rec));
				pf_ts(p.f, rec->ts);
			}
			pf_args(&p, rec, rd.obj);
		} else if (rec->type == RM_T_THRESHOLD) {
			pf_sep(&p);
			/* 0: unknown (attached without glibc's debug info): no number */
			fprintf(p.f, "{\"name\":\"mmap threshold %s -> %s\",\"cat\":\"threshold\",\"ph\":\"i\",\"s\":\"p\",\"ts\":",
				thr_num(a, sizeof(a), rec->th_old), thr_num(b, sizeof(b), rec->th_new));
			pf_ts(p.f, rec->ts);
			pf_args(&p, rec, rd.obj);
			if (rec->th_new)
				pf_counter(&p, "mmap threshold", rec->ts, rec->th_new);
		}
		if (ts > last_ts)
			last_ts = ts;
		if (p.cpid)
			pf_counters(&p, m, ts < last_ts ? last_ts : ts);
	}
	if (r < 0)
		goto cleanup;
	if (!m->n_records) {
		snprintf(err, errlen, "%s: no trace records (empty file?)", in_path);
		goto cleanup;
	}
	if (p.live_pending)
		pf_counter(&p, "live", p.pend_t, p.pend_v);
	fputs("\n]}\n", p.f);
	if (ferror(p.f) | fclose(p.f)) {
		p.f = NULL;
		snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(errno));
		goto cleanup;
	}
	p.f = NULL;
	ret = 0;
cleanup:
	if (p.f) {
		struct stat st;

		/* remove a partial file, never a device (/dev/null) or a FIFO */
		if (!fstat(fileno(p.f), &st) && S_ISREG(st.st_mode))
			unlink(out_path);
		fclose(p.f);
	}
	if (m) {
		rm_free(m);
		free(m);
	}
	reader_close(&rd);
	return ret;
}

/* ---- pprof ---- */

int am_report_pprof(const char *in_path, const char *out_path, char *err, size_t errlen)
{
	struct am_replay *rp = am_replay__new();
	const struct am_sites_report *sites;
	struct am_pprof_meta m;
	struct reader rd;
	char why[PATH_MAX + 128];
	int r, ret = -1;

	if (!rp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (reader_open(&rd, in_path, err, errlen) < 0) {
		am_replay__free(rp);
		return -1;
	}
	while ((r = reader_next(&rd, err, errlen)) > 0)
		if (am_replay__record(rp, rd.obj) < 0) {
			snprintf(err, errlen, "out of memory");
			r = -1;
			break;
		}
	if (r == 0 && !rd.lineno) {
		snprintf(err, errlen, "%s: no trace records (empty file?)", in_path);
	} else if (r == 0 && (sites = am_replay__finish(rp, &m, why, sizeof(why)))) {
		if (am_pprof_write(out_path, sites, &m, why, sizeof(why)) < 0)
			snprintf(err, errlen, "cannot write %s: %s", out_path, why);
		else
			ret = 0;
	} else if (r == 0) {
		snprintf(err, errlen, "%s: %s", in_path, why);
	}
	reader_close(&rd);
	am_replay__free(rp);
	return ret;
}

/* ---- allocmap report ---- */

struct report_opts {
	const char *in, *html, *perfetto, *pprof;
};

static const struct argp_option report_options[] = {
	{ "output", 'o', "FILE", 0, "Write the self-contained HTML report to FILE", 0 },
	{ "perfetto", 'P', "FILE", 0, "Write a Chrome/Perfetto trace (JSON) to FILE", 0 },
	{ "pprof", 'G', "FILE", 0, "Write the call sites as a gzipped pprof profile to FILE (the trace "
	  "written with --json -v --stacks)", 0 },
	{ 0 },
};

static error_t report_parse(int key, char *arg, struct argp_state *state)
{
	struct report_opts *o = state->input;

	switch (key) {
	case 'o': o->html = arg; break;
	case 'P': o->perfetto = arg; break;
	case 'G': o->pprof = arg; break;
	case ARGP_KEY_ARG:
		if (o->in)
			argp_error(state, "one EVENTS.jsonl at a time (got '%s' too)", arg);
		o->in = arg;
		break;
	case ARGP_KEY_END:
		if (!o->in)
			argp_error(state, "missing EVENTS.jsonl (a trace from: allocmap trace --json -v -o FILE -- CMD)");
		if (!o->html && !o->perfetto && !o->pprof)
			argp_error(state, "nothing to write: give -o FILE.html, --perfetto FILE.json "
				   "and/or --pprof FILE.pb.gz");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const char report_doc[] =
"Turn a JSON Lines trace into a self-contained HTML report (timeline, address map, "
"threshold view, tables) and/or a Chrome trace for ui.perfetto.dev.\n"
"\v"
"The input is what `allocmap trace --json -v` writes (-v keeps every allocator call; without it "
"only calls that made OS requests are in the trace and the live-bytes line is partial). "
"`allocmap trace --html FILE` / `--perfetto FILE` produce the same files directly.\n\n"
"EXAMPLES:\n"
"  allocmap trace --json -v -o t.jsonl -- ./prog\n"
"  allocmap report t.jsonl -o report.html           open report.html in a browser\n"
"  allocmap report t.jsonl --perfetto t.json        open t.json in ui.perfetto.dev\n"
"  allocmap report t.jsonl -o r.html --perfetto t.json\n"
"  allocmap trace --json -v --stacks -o t.jsonl -- ./prog\n"
"  allocmap report t.jsonl --pprof prof.pb.gz        go tool pprof -top prof.pb.gz";

int am_report_main(int argc, char **argv)
{
	struct argp argp = { report_options, report_parse, "EVENTS.jsonl", report_doc, NULL, NULL, NULL };
	struct report_opts o = { 0 };
	char err[512];

	if (argp_parse(&argp, argc, argv, 0, NULL, &o) != 0)
		return 2;
	if (o.html && am_report_html(o.in, o.html, err, sizeof(err)) < 0) {
		am_err("%s", err);
		return 1;
	}
	if (o.perfetto && am_report_perfetto(o.in, o.perfetto, err, sizeof(err)) < 0) {
		am_err("%s", err);
		return 1;
	}
	if (o.pprof && am_report_pprof(o.in, o.pprof, err, sizeof(err)) < 0) {
		am_err("%s", err);
		return 1;
	}
	return 0;
}
