// SPDX-License-Identifier: GPL-2.0
/* report.c - the back ends of `allocmap report` (its command line is
 * cmd/report_cmd.c) and of trace --html/--perfetto: reads a
 * JSON Lines trace (docs/reference.md schema) line by line with json-c, feeds the
 * bounded model of report_model.c, and writes either
 *  - one self-contained HTML file: the page, stylesheet and scripts are
 *    user/report/assets/report.{html,css,js} and sites.js embedded at build
 *    time (generated header .output/report_assets.h), and the model's
 *    aggregates go in as a JSON data block (with the flame-graph frame tree
 *    of OS-request stacks, the call sites of report_sites.c and the leaks
 *    record, its groups capped); or
 *  - Chrome Trace Event JSON for ui.perfetto.dev: counter tracks for heap,
 *    mmapped and live bytes, an "X" slice per allocator call that made OS
 *    requests with those requests nested on the same thread track, instant
 *    events for direct OS requests.
 * Both are single passes over the input with memory bounded by the model's
 * caps (plus what the traced program itself held live). All their JSON goes
 * through jsonw (the data block in its html mode: no string in it can end
 * or open the <script> element); records of the trace are written again
 * value by value (put_json), never copied raw. */
#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
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
#include "report.h"
#include "report_model.h"
#include "report_assets.h"
#include "report_sites.h"
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
	/* delivery order (reader_next): records held until their turn */
	struct held  *held;        /* a min-heap on seq */
	size_t       nheld, capheld;
	uint64_t     next_seq;     /* the "seq" due next */
	json_object  *noseq;       /* a record without "seq" waiting for the heap to empty */
	unsigned     noseq_cut;
	uint64_t     noseq_groups;
	bool         draining;     /* the end, or a record without "seq": the heap goes out */
	bool         at_end;
};

/* A record read ahead of its turn (reader_next). */
struct held {
	uint64_t     seq;
	json_object *obj;
	unsigned     stacks_cut;
	uint64_t     groups_total;
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
 * ended with a newline. (One function of about 100 lines on purpose: a
 * byte-at-a-time state machine, the hot loop of a report, whose states
 * (string, escape, last key, open cuts) are its locals.) */
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
	for (size_t i = 0; i < rd->nheld; i++)
		json_object_put(rd->held[i].obj);
	free(rd->held);
	if (rd->noseq)
		json_object_put(rd->noseq);
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
		  !strcmp(type, "summary") ? RM_T_SUMMARY : !strcmp(type, "seed") ? RM_T_SEED :
		  !strcmp(type, "rss") ? RM_T_RSS : RM_T_OTHER;
	r->ts = jnum(o, "ts_ns", NULL);
	r->dur = jnum(o, "dur_ns", &r->has_dur);
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
		r->advice = jstr(o, "advice");
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
	case RM_T_TASK:
		r->task_kind = jstr(o, "kind");
		break;
	case RM_T_RSS:
		r->rss = jnum(o, "rss", NULL);
		break;
	case RM_T_SEED:
		r->addr = jnum(o, "start", NULL);
		r->end = jnum(o, "end", NULL);
		r->accessible = jbool(o, "accessible");
		break;
	default:
		break;
	}
}

/* The next line's record in file order: 1, 0 at the end, -1 with a
 * message on a malformed line. */
static int read_record(struct reader *rd, char *err, size_t errlen)
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
				 "(make one with: allocmap trace --json -o FILE -- CMD)", rd->path, rd->lineno);
			return -1;
		}
		fill_rec(rd->obj, &rd->rec, rd->frames);
		return 1;
	}
}

/* Delivery order. The tracer writes records in time order, each with "seq",
 * the order in which its correlator handed them out and its accounting
 * model (memacct.h) took them in. The report replays them through the same
 * model, so it takes them in seq order: a record that comes before its turn
 * is held (a call that ran long is written at its entry, ahead of records
 * handed out before it). Held records are bounded: past REORDER_CAP the
 * smallest goes out (a gap in seq: a record the tracer could not write).
 * A record without "seq" (the trace header; the sites, leaks and summary
 * records at the end; a trace from an older allocmap) lets the held ones
 * out first. */
#define REORDER_CAP 65536

static void held_swap(struct held *a, struct held *b)
{
	struct held t = *a;
	*a = *b;
	*b = t;
}

static int held_push(struct reader *rd, uint64_t seq)
{
	size_t i;

	if (rd->nheld == rd->capheld) {
		size_t nc = rd->capheld ? rd->capheld * 2 : 64;
		struct held *h = realloc(rd->held, nc * sizeof(*h));

		if (!h)
			return -1;
		rd->held = h;
		rd->capheld = nc;
	}
	i = rd->nheld++;
	rd->held[i] = (struct held){ seq, rd->obj, rd->stacks_cut, rd->groups_total };
	rd->obj = NULL;
	for (; i && rd->held[(i - 1) / 2].seq > rd->held[i].seq; i = (i - 1) / 2)
		held_swap(&rd->held[i], &rd->held[(i - 1) / 2]);
	return 0;
}

/* Makes the smallest held record the current one. */
static void held_pop(struct reader *rd)
{
	struct held top = rd->held[0];
	size_t i = 0;

	rd->held[0] = rd->held[--rd->nheld];
	for (;;) {
		size_t l = 2 * i + 1, m = i;

		if (l < rd->nheld && rd->held[l].seq < rd->held[m].seq)
			m = l;
		if (l + 1 < rd->nheld && rd->held[l + 1].seq < rd->held[m].seq)
			m = l + 1;
		if (m == i)
			break;
		held_swap(&rd->held[i], &rd->held[m]);
		i = m;
	}
	rd->obj = top.obj;
	rd->stacks_cut = top.stacks_cut;
	rd->groups_total = top.groups_total;
	rd->next_seq = top.seq + 1;
	fill_rec(rd->obj, &rd->rec, rd->frames);
}

/* Next record, in delivery order: 1, 0 at the end, -1 with a message. */
static int reader_next(struct reader *rd, char *err, size_t errlen)
{
	for (;;) {
		bool has;
		uint64_t seq;
		int r;

		if (rd->nheld && (rd->draining || rd->held[0].seq <= rd->next_seq || rd->nheld > REORDER_CAP)) {
			if (rd->obj)
				json_object_put(rd->obj);
			held_pop(rd);
			return 1;
		}
		if (rd->draining) {
			rd->draining = false;
			if (rd->noseq) {   /* its turn now */
				if (rd->obj)
					json_object_put(rd->obj);
				rd->obj = rd->noseq;
				rd->stacks_cut = rd->noseq_cut;
				rd->groups_total = rd->noseq_groups;
				rd->noseq = NULL;
				fill_rec(rd->obj, &rd->rec, rd->frames);
				return 1;
			}
		}
		if (rd->at_end)
			return 0;
		r = read_record(rd, err, errlen);
		if (r <= 0) {
			if (r < 0)
				return r;
			rd->at_end = true;
			rd->draining = true;
			continue;
		}
		seq = jnum(rd->obj, "seq", &has);
		if (!has) {
			if (!rd->nheld)
				return 1;
			rd->noseq = rd->obj;
			rd->noseq_cut = rd->stacks_cut;
			rd->noseq_groups = rd->groups_total;
			rd->obj = NULL;
			rd->draining = true;
			continue;
		}
		if (!rd->next_seq)
			rd->next_seq = 1;
		if (seq <= rd->next_seq && !rd->nheld) {
			rd->next_seq = seq + 1;
			return 1;
		}
		if (held_push(rd, seq) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
}

/* ---- output helpers ---- */

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

/* Writes o again as JSON through w, whatever the input held: strings
 * escaped by the writer (well-formed UTF-8, control characters escaped; in
 * html mode inert in a <script> element), integers as integers, finite
 * doubles, NaN and infinities as null. The trace is never copied raw into
 * an output. */
static void put_json(struct jsonw *w, json_object *o)
{
	switch (json_object_get_type(o)) {
	case json_type_boolean:
		jsonw_bool(w, json_object_get_boolean(o));
		break;
	case json_type_int: {
		int64_t v = json_object_get_int64(o);
		if (v == INT64_MAX)
			jsonw_u64(w, json_object_get_uint64(o));
		else
			jsonw_s64(w, v);
		break;
	}
	case json_type_double:
		jsonw_f64(w, json_object_get_double(o), -1);
		break;
	case json_type_string:
		jsonw_strn(w, json_object_get_string(o), (size_t)json_object_get_string_len(o));
		break;
	case json_type_array: {
		size_t n = json_object_array_length(o);
		jsonw_arr_open(w);
		for (size_t i = 0; i < n; i++)
			put_json(w, json_object_array_get_idx(o, i));
		jsonw_arr_close(w);
		break;
	}
	case json_type_object: {
		jsonw_obj_open(w);
		json_object_object_foreach(o, k, v) {
			jsonw_key(w, k);
			put_json(w, v);
		}
		jsonw_obj_close(w);
		break;
	}
	default:
		jsonw_null(w);
		break;
	}
}

/* One JSON value built in memory by its own html-safe writer, spliced into
 * the data block later (jsonw_raw). */
struct memjson {
	char         *buf;
	size_t        len;
	FILE         *f;
	struct jsonw *w;
};

static int memjson_open(struct memjson *j)
{
	memset(j, 0, sizeof(*j));
	j->f = open_memstream(&j->buf, &j->len);
	j->w = j->f ? jsonw_new(j->f) : NULL;
	if (!j->w)
		return -1;
	jsonw_set_html(j->w, true);
	return 0;
}

/* Ends the writing: the value is j->buf[0..j->len). 0, or -1 (out of memory). */
static int memjson_end(struct memjson *j)
{
	int r = 0;

	if (j->w) {
		r = jsonw_flush(j->w);
		free(j->w);
		j->w = NULL;
	}
	if (j->f) {
		r |= fclose(j->f) ? -1 : 0;
		j->f = NULL;
	}
	return r || !j->buf ? -1 : 0;
}

static void memjson_free(struct memjson *j)
{
	memjson_end(j);
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

/* put_json into a malloc'ed string, or NULL. */
static char *json_text(json_object *o)
{
	struct memjson j;

	if (memjson_open(&j) < 0) {
		memjson_free(&j);
		return NULL;
	}
	put_json(j.w, o);
	if (memjson_end(&j) < 0) {
		memjson_free(&j);
		return NULL;
	}
	return j.buf;
}

/* A growing JSON array of records in memory, the first cap of them. */
struct rawlist {
	struct memjson j;
	size_t  n, kept, cap;
};

static int rawlist_open(struct rawlist *l, size_t cap)
{
	memset(l, 0, sizeof(*l));
	l->cap = cap;
	if (memjson_open(&l->j) < 0)
		return -1;
	jsonw_arr_open(l->j.w);
	return 0;
}

/* Adds record o (written again by put_json, never the raw line). */
static void rawlist_add(struct rawlist *l, json_object *o)
{
	l->n++;
	if (l->kept >= l->cap)
		return;
	put_json(l->j.w, o);
	l->kept++;
}

/* Closes the array: it is l->j.buf[0..l->j.len). 0, or -1 (out of memory). */
static int rawlist_end(struct rawlist *l)
{
	if (!l->j.w)
		return -1;
	jsonw_arr_close(l->j.w);
	return memjson_end(&l->j);
}

static void rawlist_close(struct rawlist *l)
{
	memjson_free(&l->j);
	memset(l, 0, sizeof(*l));
}

/* ---- HTML ---- */

struct html_ctx {
	struct rm_model *m;
	struct am_rsites *sites;   /* the call sites (report_sites.h), NULL: out of memory */
	struct rawlist os, calls, tasks;
	char  *summary;            /* the summary record written again, or NULL */
	char  *leaks;              /* the leaks record, its groups cut to LEAKS_KEEP, or NULL */
	char  *cmd;                /* the "trace" record's command line (an array), or NULL */
	int    pids[PIDS_KEEP];
	size_t npids;
	uint64_t lines;
	uint64_t events;           /* call, os and task records: the summary's "events" */
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
 * were, the first LEAKS_KEEP groups (they come largest first) as they are.
 * A malloc'ed string, or NULL. */
static char *leaks_json(json_object *o, uint64_t groups_total)
{
	json_object *g = jget(o, "groups");
	size_t ng = g && json_object_is_type(g, json_type_array) ? json_object_array_length(g) : 0;
	uint64_t total = groups_total > ng ? groups_total : ng;   /* read_line kept LEAKS_KEEP */
	struct memjson j;

	if (memjson_open(&j) < 0) {
		memjson_free(&j);
		return NULL;
	}
	jsonw_obj_open(j.w);
	jsonw_ku64(j.w, "count", jnum(o, "count", NULL));
	jsonw_ku64(j.w, "bytes", jnum(o, "bytes", NULL));
	jsonw_ku64(j.w, "groups_total", total);
	jsonw_karr_open(j.w, "groups");
	for (size_t i = 0; i < ng && i < LEAKS_KEEP; i++)
		put_json(j.w, json_object_array_get_idx(g, i));
	jsonw_arr_close(j.w);
	jsonw_obj_close(j.w);
	if (memjson_end(&j) < 0) {
		memjson_free(&j);
		return NULL;
	}
	return j.buf;
}

/* A string that must not be null in the page (absent: ""). */
static void put_jstr(struct jsonw *w, const char *s)
{
	jsonw_str(w, s ? s : "");
}

/* A string id of the flame graph, -1 when absent. */
static void put_sid(struct jsonw *w, uint32_t id)
{
	jsonw_s64(w, id == UINT32_MAX ? -1 : (int64_t)id);
}

/* The flame graph: string table, then 8 numbers per node in creation order
 * (a parent always before its children): parent (-1 for the root), name,
 * obj, file (string ids, -1 absent), line, flags (RM_FN_*), bytes, count. */
static void write_flame(struct jsonw *w, const struct rm_model *m)
{
	const struct rm_flame *fl = &m->fl;

	jsonw_kobj_open(w, "flame");
	jsonw_ku64(w, "stacks", fl->stacks);
	jsonw_ku64(w, "no_stack", fl->no_stack);
	jsonw_ku64(w, "cut", fl->cut);
	jsonw_ks64(w, "cap", RM_FLAME_CAP);
	jsonw_karr_open(w, "strings");
	for (size_t i = 0; i < fl->nstr; i++)
		put_jstr(w, fl->str[i]);
	jsonw_arr_close(w);
	jsonw_karr_open(w, "nodes");
	for (size_t i = 0; i < fl->nn; i++) {
		const struct rm_fnode *n = &fl->n[i];
		put_sid(w, n->parent);
		put_sid(w, n->name);
		put_sid(w, n->obj);
		put_sid(w, n->file);
		jsonw_s64(w, n->line);
		jsonw_u64(w, n->flags);
		jsonw_u64(w, n->bytes);
		jsonw_u64(w, n->count);
	}
	jsonw_arr_close(w);
	/* [node, t, bytes] of each folded request (the first RM_FLAME_ENDS) */
	jsonw_karr_open(w, "ends");
	for (size_t i = 0; i < fl->nends; i++) {
		jsonw_u64(w, fl->ends[i].node);
		jsonw_u64(w, fl->ends[i].t);
		jsonw_u64(w, fl->ends[i].bytes);
	}
	jsonw_arr_close(w);
	jsonw_ku64(w, "ends_over", fl->ends_over);
	jsonw_obj_close(w);
}

/* The byte figures of the replayed records, as an object with the keys of
 * the summary's "bytes" (memacct.h): they equal the summary's when the
 * trace holds every record (-v). */
static void put_figs(struct jsonw *w, const struct rm_model *m)
{
	const struct am_acct_figs *x = rm_figs(m);

	jsonw_obj_open(w);
	jsonw_ku64(w, "live", x->live);
	jsonw_ku64(w, "live_peak", x->live_peak);
	jsonw_ku64(w, "heap", x->heap);
	jsonw_ku64(w, "heap_peak", x->heap_peak);
	jsonw_ku64(w, "mmap", x->mmap);
	jsonw_ku64(w, "mmap_peak", x->mmap_peak);
	jsonw_ku64(w, "committed", x->committed);
	jsonw_ku64(w, "committed_peak", x->committed_peak);
	jsonw_ku64(w, "direct_mmap", x->direct);
	jsonw_ku64(w, "returned_munmap", x->returned_munmap);
	jsonw_ku64(w, "returned_madvise", x->returned_madvise);
	jsonw_ku64(w, "returned_brk", x->returned_brk);
	jsonw_obj_close(w);
}

/* A value written earlier in memory (the summary, the leaks), or null. */
static void put_spliced(struct jsonw *w, const char *key, const char *json)
{
	jsonw_key(w, key);
	if (json)
		jsonw_raw(w, json, strlen(json));
	else
		jsonw_null(w);
}

/* The data block's "counts": the model's totals and what the lists kept. */
static void data_counts(struct jsonw *w, const struct html_ctx *c)
{
	const struct rm_model *m = c->m;

	jsonw_kobj_open(w, "counts");
	jsonw_ku64(w, "records", m->n_records);
	jsonw_ku64(w, "events", c->events);
	jsonw_ku64(w, "calls", m->n_calls);
	jsonw_ku64(w, "os", m->n_os);
	jsonw_ku64(w, "alloc_calls", m->n_alloc_calls);
	jsonw_ku64(w, "points", m->npoints);
	jsonw_ku64(w, "allocs", m->allocs_seen);
	jsonw_ku64(w, "live_now", m->hcount);
	jsonw_ku64(w, "regions", m->regions_total);
	jsonw_ku64(w, "regions_dropped", m->regions_dropped);
	jsonw_ku64(w, "os_kept", c->os.kept);
	jsonw_ku64(w, "calls_with_os", c->calls.n);
	jsonw_ku64(w, "calls_kept", c->calls.kept);
	jsonw_kbool(w, "truncated", c->truncated);
	jsonw_kbool(w, "oom", m->oom);
	jsonw_ku64(w, "heap_peak", m->heap_peak);
	jsonw_ku64(w, "mmapped_peak", m->mmapped_peak);
	jsonw_ku64(w, "live_peak", m->live_peak);
	jsonw_ku64(w, "live_peak_t", m->live_peak_t);
	jsonw_ku64(w, "heap", m->heap);
	jsonw_ku64(w, "mmapped", m->mmapped);
	jsonw_ku64(w, "live", m->live);
	jsonw_obj_close(w);
}

/* The data block's first part: where it comes from, totals, what was cut. */
static void data_head(struct jsonw *w, const struct html_ctx *c, const char *in_path)
{
	const struct rm_model *m = c->m;
	time_t now = time(NULL);
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
	jsonw_key(w, "source");
	put_jstr(w, in_path);
	jsonw_kstr(w, "generated", when);
	jsonw_ku64(w, "t0", m->t0);
	jsonw_ku64(w, "duration", m->t_max);
	jsonw_karr_open(w, "pids");
	for (size_t i = 0; i < c->npids; i++)
		jsonw_s64(w, c->pids[i]);
	jsonw_arr_close(w);
	/* the tables the page names things by (model.h): function ids of
	 * "allocs", syscall lanes and colours */
	jsonw_karr_open(w, "fn_names");
	for (int i = 0; i < am_fn_count(); i++)
		jsonw_str(w, am_fn_name(i));
	jsonw_arr_close(w);
	jsonw_karr_open(w, "fn_roles");   /* how each decodes its arguments (the text's notation) */
	for (int i = 0; i < am_fn_count(); i++)
		jsonw_str(w, am_role_name(am_fn_role(i)));
	jsonw_arr_close(w);
	jsonw_karr_open(w, "syscalls");
	for (int i = 0; i < AM_SYS__COUNT; i++) {
		jsonw_obj_open(w);
		jsonw_kstr(w, "name", am_sys_names[i]);
		jsonw_kstr(w, "color", am_sys_info_[i].color);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	put_spliced(w, "summary", c->summary);
	put_spliced(w, "cmd", c->cmd);
	data_counts(w, c);
	jsonw_key(w, "figures");
	put_figs(w, c->m);
	jsonw_ku64(w, "stacks_listed", c->stacks_kept);
	jsonw_ku64(w, "stacks_dropped", c->stacks_dropped);
	jsonw_ku64(w, "stacks_cut", c->stacks_cut);
	jsonw_ks64(w, "frames_cap", MAX_FRAMES);
	jsonw_ku64(w, "frames_max", c->frames_max);
	jsonw_kobj_open(w, "caps");
	jsonw_ks64(w, "os", OS_KEEP);
	jsonw_ks64(w, "points", RM_POINT_CAP);
	jsonw_ks64(w, "allocs", RM_ALLOC_CAP);
	jsonw_ks64(w, "live", RM_LIVE_CAP);
	jsonw_ks64(w, "regions", RM_DEAD_REGION_CAP);
	jsonw_obj_close(w);
}

/* The timeline: 9 numbers per bucket (heap, mmapped, live: min, max,
 * last); empty buckets carry the previous value; a bucket's range includes
 * the value it started with. */
static void data_timeline(struct jsonw *w, const struct rm_model *m)
{
	size_t nb = rm_nbuckets(m);
	uint64_t last[3] = { 0, 0, 0 };

	jsonw_ku64(w, "bucket_ns", m->bw);
	jsonw_karr_open(w, "buckets");
	for (size_t i = 0; i < nb; i++) {
		const struct rm_bucket *b = &m->b[i];
		for (int k = 0; k < 3; k++) {
			uint64_t lo = last[k], hi = last[k], la = last[k];
			if (b->has) {
				lo = b->min[k] < lo ? b->min[k] : lo;
				hi = b->max[k] > hi ? b->max[k] : hi;
				la = b->last[k];
			}
			jsonw_u64(w, lo);
			jsonw_u64(w, hi);
			jsonw_u64(w, la);
			last[k] = la;
		}
	}
	jsonw_arr_close(w);
	/* RSS: [t, bytes] flat, every process's sum; none: unknown (a trace
	 * without "rss" records, from an allocmap before them) */
	jsonw_karr_open(w, "rss");
	for (size_t i = 0; i < m->nrss; i++) {
		jsonw_u64(w, m->rss[i].t);
		jsonw_u64(w, m->rss[i].bytes);
	}
	jsonw_arr_close(w);
	jsonw_ku64(w, "rss_samples", m->rss_samples);
	jsonw_ku64(w, "rss_stride", m->rss_stride ? m->rss_stride : 1);
	jsonw_ku64(w, "rss_peak", m->rss_peak);
	jsonw_ku64(w, "rss_peak_t", m->rss_peak_t);
	jsonw_ku64(w, "rss_pids_dropped", m->rss_pids_dropped);
}

/* The threshold view: the grid's non-empty cells (column, row, served,
 * count), the sampled points (time, size, served) and the threshold's
 * moves ([time, old, new, call id, pid]). */
static void data_threshold(struct jsonw *w, const struct rm_model *m)
{
	uint64_t np = m->npoints < RM_POINT_CAP ? m->npoints : RM_POINT_CAP;

	jsonw_ku64(w, "grid_ns", m->gw);
	jsonw_karr_open(w, "grid");
	for (size_t col = 0; col < RM_GRID_COLS; col++)
		for (size_t row = 0; row < RM_GRID_ROWS; row++)
			for (size_t s = 0; s < RM_NSERVED; s++) {
				uint32_t v = m->grid[(col * RM_GRID_ROWS + row) * RM_NSERVED + s];
				if (!v)
					continue;
				jsonw_u64(w, col);
				jsonw_u64(w, row);
				jsonw_u64(w, s);
				jsonw_u64(w, v);
			}
	jsonw_arr_close(w);
	jsonw_karr_open(w, "points");
	for (uint64_t i = 0; i < np; i++) {
		jsonw_u64(w, m->points[i].t);
		jsonw_u64(w, m->points[i].size);
		jsonw_u64(w, m->points[i].served);
	}
	jsonw_arr_close(w);
	jsonw_kobj_open(w, "threshold");
	jsonw_ku64(w, "start", m->th_start);
	jsonw_karr_open(w, "moves");
	for (size_t i = 0; i < m->nth; i++) {
		jsonw_arr_open(w);
		jsonw_u64(w, m->th[i].t);
		jsonw_u64(w, m->th[i].old);
		jsonw_u64(w, m->th[i].new_);
		jsonw_u64(w, m->th[i].call_id);
		jsonw_s64(w, m->th[i].pid);
		jsonw_arr_close(w);
	}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

/* One region of the address map (i: its index in the model). */
/* A mapped allocator region's committed (accessible) parts at the end,
 * [from, to) pairs flat in "acc", the first RM_ACC_CAP of "acc_n"; the rest
 * of it is reserved (PROT_NONE), as glibc's thread arenas and jemalloc's
 * and mimalloc's reservations are until the allocator commits a piece. */
static void put_committed_ranges(struct jsonw *w, const struct rm_model *m, const struct rm_region *g)
{
	uint64_t r[RM_ACC_CAP][2];
	size_t n = rm_region_committed_ranges(m, g, r, RM_ACC_CAP);

	jsonw_key(w, "acc");
	jsonw_arr_open(w);
	for (size_t i = 0; i < n && i < RM_ACC_CAP; i++) {
		jsonw_u64(w, r[i][0]);
		jsonw_u64(w, r[i][1]);
	}
	jsonw_arr_close(w);
	jsonw_ku64(w, "acc_n", n);
}

static void data_region(struct jsonw *w, const struct rm_model *m, const struct rm_region *g, size_t i)
{
	jsonw_obj_open(w);
	jsonw_ku64(w, "i", i);
	jsonw_kstr(w, "kind", rm_kind_names[g->kind]);
	jsonw_key(w, "label");
	put_jstr(w, g->label ? g->label : rm_kind_names[g->kind]);
	jsonw_ku64(w, "start", g->start);
	jsonw_ku64(w, "end", g->end);
	jsonw_ku64(w, "t0", g->t_start);
	if (g->t_end == UINT64_MAX)
		jsonw_knull(w, "t1");
	else
		jsonw_ku64(w, "t1", g->t_end);
	jsonw_ku64(w, "os", g->os_id);
	jsonw_ku64(w, "call", g->cause_call);
	jsonw_key(w, "fn");
	if (g->cause_fn >= 0)
		put_jstr(w, rm_fn_name(g->cause_fn));   /* --alloc names come from the trace */
	else
		jsonw_null(w);
	jsonw_ku64(w, "size", g->cause_size);
	jsonw_ks64(w, "tid", g->tid);
	jsonw_ku64(w, "committed", rm_region_committed(m, g));
	put_committed_ranges(w, m, g);
	jsonw_ku64(w, "n", g->n_allocs);
	jsonw_ku64(w, "bytes", g->alloc_bytes);
	jsonw_ku64(w, "live_n", g->live_count);
	jsonw_ku64(w, "live_b", g->live_bytes);
	jsonw_ku64(w, "peak", g->peak_live);
	jsonw_obj_close(w);
}

/* Allocation lifetimes, 8 numbers each: addr, size, t0, t1 (-1 live),
 * call, region, fn, tid; the reservoir sample, then allocations still live
 * that it lacks ("live_shown" of them). */
static void data_allocs(struct jsonw *w, const struct rm_model *m)
{
	struct rm_alloc *extra = malloc(RM_LIVE_CAP * sizeof(*extra));
	size_t nextra = extra ? rm_live_extra(m, extra, RM_LIVE_CAP) : 0;

	jsonw_karr_open(w, "allocs");
	for (size_t pass = 0; pass < 2; pass++) {
		const struct rm_alloc *arr = pass ? extra : m->sample;
		size_t n = pass ? nextra : m->nsample;
		for (size_t i = 0; i < n; i++) {
			const struct rm_alloc *a = &arr[i];
			jsonw_u64(w, a->addr);
			jsonw_u64(w, a->size);
			jsonw_u64(w, a->t0);
			if (a->t1 == UINT64_MAX)
				jsonw_s64(w, -1);
			else
				jsonw_u64(w, a->t1);
			jsonw_u64(w, a->call_id);
			jsonw_s64(w, rm_alloc_region(m, a));
			jsonw_s64(w, a->fn);
			jsonw_s64(w, a->tid);
		}
	}
	jsonw_arr_close(w);
	free(extra);
	jsonw_ku64(w, "live_shown", nextra);
}

/* Per allocator function and per syscall. */
static void data_fns(struct jsonw *w, const struct rm_model *m)
{
	jsonw_karr_open(w, "fns");
	for (int i = 0; i < RM_NFN; i++) {
		const struct rm_fnstat *s = &m->fn[i];
		if (!s->calls)
			continue;
		jsonw_obj_open(w);
		jsonw_key(w, "fn");
		put_jstr(w, rm_fn_name(i));   /* --alloc names come from the trace */
		jsonw_ku64(w, "calls", s->calls);
		jsonw_ku64(w, "bytes", s->bytes);
		jsonw_ku64(w, "os_calls", s->os_calls);
		jsonw_ku64(w, "failed", s->failed);
		jsonw_ku64(w, "nested", s->nested);
		jsonw_ku64(w, "dur_ns", s->dur_ns);
		jsonw_ku64(w, "timed", s->timed);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	/* by time (a range selects columns): names[i] is index i's function;
	 * each cell: column, function index, calls, bytes, os_calls, failed,
	 * nested, dur_ns, timed */
	jsonw_kobj_open(w, "fn_cols");
	jsonw_ku64(w, "w", m->fcw);
	jsonw_karr_open(w, "names");
	for (int i = 0; i < RM_NFN; i++)
		put_jstr(w, rm_fn_name(i));
	jsonw_arr_close(w);
	jsonw_karr_open(w, "cells");
	for (size_t c = 0; c < RM_FN_COLS; c++)
		for (int i = 0; i < RM_NFN; i++) {
			const struct rm_fnstat *s = &m->fcol[c * RM_NFN + i];
			uint64_t v[9] = { c, (uint64_t)i, s->calls, s->bytes, s->os_calls, s->failed, s->nested,
					  s->dur_ns, s->timed };

			if (!s->calls)
				continue;
			for (int k = 0; k < 9; k++)
				jsonw_u64(w, v[k]);
		}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

static void data_sys(struct jsonw *w, const struct rm_model *m)
{
	jsonw_karr_open(w, "sys");
	for (int i = 0; i < RM_NSYS; i++) {
		if (!m->sys_count[i])
			continue;
		jsonw_obj_open(w);
		jsonw_kstr(w, "sys", rm_sys_names[i]);
		jsonw_ku64(w, "count", m->sys_count[i]);
		jsonw_ku64(w, "failed", m->sys_failed[i]);
		jsonw_ku64(w, "by_call", m->sys_by_call[i]);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
}

/* The page's data block (report.js reads it): one JSON object, html-safe. */
static void write_data(struct jsonw *w, const struct html_ctx *c, const char *in_path)
{
	const struct rm_model *m = c->m;

	jsonw_obj_open(w);
	data_head(w, c, in_path);
	data_timeline(w, m);
	data_threshold(w, m);
	jsonw_karr_open(w, "regions");
	for (size_t i = 0; i < m->nreg; i++)
		if (!m->reg[i].free_slot)
			data_region(w, m, &m->reg[i], i);
	jsonw_arr_close(w);
	data_allocs(w, m);
	data_fns(w, m);
	write_flame(w, m);
	am_rsites__write(c->sites, w, m);
	put_spliced(w, "leaks", c->leaks);
	data_sys(w, m);
	jsonw_key(w, "os");
	jsonw_raw(w, c->os.j.buf, c->os.j.len);
	jsonw_key(w, "calls");
	jsonw_raw(w, c->calls.j.buf, c->calls.j.len);
	jsonw_key(w, "tasks");
	jsonw_raw(w, c->tasks.j.buf, c->tasks.j.len);
	jsonw_obj_close(w);
}

/* Writes the template with its three placeholders filled, the data block
 * through w (a writer on out, html-safe). 0, or -1 when the template lacks
 * a placeholder. */
static int write_page(FILE *out, struct jsonw *w, const struct html_ctx *c, const char *source)
{
	static const char *const marks[3] = { "/*@CSS@*/", "/*@DATA@*/", "/*@JS@*/" };
	const char *p = am_asset_report_html;

	for (int i = 0; i < 3; i++) {
		const char *q = strstr(p, marks[i]);
		if (!q)
			return -1;
		fwrite(p, 1, (size_t)(q - p), out);
		if (i == 0) {
			fputs(am_asset_report_css, out);
		} else if (i == 1) {
			write_data(w, c, source);
			jsonw_flush(w);
		} else {
			/* sites.js first: report.js's init() calls the panel it defines */
			put_script_safe(out, am_asset_sites_js, strlen(am_asset_sites_js));
			put_script_safe(out, am_asset_report_js, strlen(am_asset_report_js));
		}
		p = q + strlen(marks[i]);
	}
	fputs(p, out);
	return 0;
}

/* Flushes w (may be NULL) and closes f: 0, or the errno of the first write
 * that failed. */
static int close_output(struct jsonw *w, FILE *f)
{
	int e = 0;

	errno = 0;
	if (w && jsonw_flush(w) < 0)
		e = w->errnum;
	if (ferror(f) && !e)
		e = errno ? errno : EIO;
	errno = 0;
	if (fclose(f) && !e)
		e = errno ? errno : EIO;
	return e;
}

/* Reads the whole trace into c (the model, the lists, the summary and
 * leaks records). 0, or -1 with a message in err. */
static int html_read(struct html_ctx *c, struct reader *rd, const char *in_path, char *err, size_t errlen)
{
	int r;

	while ((r = reader_next(rd, err, errlen)) > 0) {
		const struct rm_rec *rec = &rd->rec;
		c->lines++;
		note_pid(c->pids, &c->npids, rec->pid);
		rm_feed(c->m, rec);
		am_rsites__record(c->sites, rd->obj, c->m);   /* before list_record cuts its stack */
		if (rec->type == RM_T_OS || rec->type == RM_T_CALL || rec->type == RM_T_TASK)
			c->events++;
		if (rec->type == RM_T_OS)
			list_record(c, &c->os, rd);
		else if (rec->type == RM_T_CALL && rec->n_os)
			list_record(c, &c->calls, rd);
		else if (rec->type == RM_T_TASK)
			rawlist_add(&c->tasks, rd->obj);
		else if (rec->type == RM_T_SUMMARY) {
			free(c->summary);
			c->summary = json_text(rd->obj);
		} else if (!strcmp(jstr(rd->obj, "type"), "leaks")) {
			free(c->leaks);
			c->leaks = leaks_json(rd->obj, rd->groups_total);
		} else if (!strcmp(jstr(rd->obj, "type"), "trace") && !c->cmd) {
			json_object *cmd = jget(rd->obj, "cmd");

			if (cmd && json_object_is_type(cmd, json_type_array))
				c->cmd = json_text(cmd);
		}
	}
	if (r < 0)
		return -1;
	rm_drain(c->m);
	c->truncated = rd->truncated;
	c->stacks_cut = rd->all_stacks_cut;
	c->frames_max = rd->max_frames_seen;
	if (!c->lines) {
		snprintf(err, errlen, "%s: no trace records (empty file?)", in_path);
		return -1;
	}
	if (rawlist_end(&c->os) < 0 || rawlist_end(&c->calls) < 0 || rawlist_end(&c->tasks) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
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
	struct jsonw *w = NULL;
	FILE *out = NULL;
	int ret = -1, e;

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
	c.sites = am_rsites__new();   /* NULL: the page says the sites are missing */
	if (html_read(&c, &rd, in_path, err, errlen) < 0)
		goto cleanup;
	out = am_fopen_output(out_path, why, sizeof(why));
	if (!out) {
		snprintf(err, errlen, "cannot create %s: %s", out_path, why);
		goto cleanup;
	}
	w = jsonw_new(out);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	jsonw_set_html(w, true);
	if (write_page(out, w, &c, source ? source : in_path) < 0) {
		snprintf(err, errlen, "internal error: report template lacks a placeholder");
		goto cleanup;
	}
	e = close_output(w, out);
	out = NULL;
	if (e) {
		snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(e));
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (out)
		fclose(out);
	free(w);
	rawlist_close(&c.os);
	rawlist_close(&c.calls);
	rawlist_close(&c.tasks);
	free(c.summary);
	free(c.cmd);
	free(c.leaks);
	am_rsites__free(c.sites);
	if (c.m) {
		rm_free(c.m);
		free(c.m);
	}
	reader_close(&rd);
	return ret;
}

/* ---- Perfetto ---- */

#define PF_OPEN_MAX 64
#define PF_TIDS_KEEP 1024   /* threads given a name; later ones show as Perfetto's default */

struct pf_ctx {
	FILE    *f;
	struct jsonw *w;           /* on f */
	uint64_t heap, mmapped;    /* last values written */
	uint64_t live, live_t;     /* last live value written, and when */
	bool     live_pending;     /* model's live differs from what was written */
	uint64_t pend_t, pend_v;   /* the pending value and its time */
	uint64_t live_samples;
	uint64_t last_ts;          /* latest end of an event so far */
	uint64_t os_call, os_end;  /* the call whose OS requests came last, their end */
	uint64_t t0;               /* the trace's origin (its "trace" record), 0 for older
	                              traces: times are then CLOCK_MONOTONIC */
	/* calls without a duration (free without a return probe, missed) whose
	 * OS requests follow them: a B event, closed (E) after the last one */
	struct pf_open { uint64_t id, end; size_t left; int pid, tid; } open[PF_OPEN_MAX];
	size_t   nopen;
	int      cpid;             /* pid the counters go on */
	int      pids[PIDS_KEEP];
	size_t   npids;
	int      tids[PF_TIDS_KEEP]; /* threads named so far */
	size_t   ntids;
	int      cmd_pid;          /* the launched command's pid (the "trace" record's), 0: none */
	char     cmd_name[64];     /* its program's file name (argv[0]), "" unknown */
};

/* A duration in the trace's microseconds: ns / 1000, exactly. */
static void pf_ts(struct jsonw *w, const char *key, uint64_t ns)
{
	jsonw_key(w, key);
	jsonw_ufrac(w, ns, 3);
}

/* A time: since the trace's origin (t = 0 as in the text and the page). */
static void pf_at(struct pf_ctx *p, uint64_t ns)
{
	pf_ts(p->w, "ts", ns >= p->t0 ? ns - p->t0 : 0);
}

/* Opens an event (one per line): its name, category (NULL: none) and phase. */
static void pf_event(struct pf_ctx *p, const char *name, const char *cat, const char *ph)
{
	jsonw_nl(p->w);
	jsonw_obj_open(p->w);
	jsonw_kstr(p->w, "name", name);
	if (cat)
		jsonw_kstr(p->w, "cat", cat);
	jsonw_kstr(p->w, "ph", ph);
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
	pf_event(p, name, NULL, "C");
	pf_at(p, ts);
	jsonw_ks64(p->w, "pid", p->cpid);
	jsonw_kobj_open(p->w, "args");
	jsonw_ku64(p->w, "bytes", v);
	jsonw_obj_close(p->w);
	jsonw_obj_close(p->w);
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
	jsonw_ks64(p->w, "pid", rec->pid);
	jsonw_ks64(p->w, "tid", rec->tid);
	jsonw_key(p->w, "args");
	put_json(p->w, o);
	jsonw_obj_close(p->w);
}

static const char *short_sys(const struct rm_rec *r)
{
	return rm_sys_names[r->sys];
}

/* A name ("process_name", "thread_name") for a pid's or a tid's track. */
static void pf_name(struct pf_ctx *p, const char *what, int pid, int tid, const char *name)
{
	pf_event(p, what, NULL, "M");
	jsonw_ks64(p->w, "pid", pid);
	if (tid)
		jsonw_ks64(p->w, "tid", tid);
	jsonw_kobj_open(p->w, "args");
	jsonw_kstr(p->w, "name", name);
	jsonw_obj_close(p->w);
	jsonw_obj_close(p->w);
}

/* A thread seen for the first time: "PROG tid N" (main thread: "PROG"),
 * "tid N" when the program is unknown (attached, or a forked child). */
static void pf_new_tid(struct pf_ctx *p, const struct rm_rec *rec)
{
	size_t nt = p->ntids;
	char nm[96];

	if (rec->tid <= 0 || rec->pid <= 0)
		return;
	note_pid(p->tids, &p->ntids, rec->tid);   /* a set of ints, up to its size */
	if (p->ntids == nt)
		return;
	if (rec->pid == p->cmd_pid && p->cmd_name[0])
		snprintf(nm, sizeof(nm), rec->tid == rec->pid ? "%s" : "%s tid %d", p->cmd_name, rec->tid);
	else
		snprintf(nm, sizeof(nm), rec->tid == rec->pid ? "main thread %d" : "tid %d", rec->tid);
	pf_name(p, "thread_name", rec->pid, rec->tid, nm);
}

/* A process seen for the first time: its track's name (the launched
 * program's, "pid N" otherwise); the first one also gets the counter
 * tracks, each starting at 0. */
static void pf_new_pid(struct pf_ctx *p, const struct rm_rec *rec)
{
	size_t np = p->npids;
	char nm[96];

	pf_new_tid(p, rec);
	note_pid(p->pids, &p->npids, rec->pid);
	if (p->npids == np)
		return;
	if (rec->pid == p->cmd_pid && p->cmd_name[0])
		snprintf(nm, sizeof(nm), "%s (pid %d)", p->cmd_name, rec->pid);
	else
		snprintf(nm, sizeof(nm), "pid %d", rec->pid);
	pf_name(p, "process_name", rec->pid, 0, nm);
	if (!p->cpid) {
		p->cpid = rec->pid;
		pf_counter(p, "brk heap", rec->ts, 0);
		pf_counter(p, "mmapped", rec->ts, 0);
		pf_counter(p, "live", rec->ts, 0);
		p->live_t = rec->ts;
	}
}

/* A call: an "X" slice when it made OS requests. Returns the duration its
 * slice has (its effect on live bytes is at its return). */
static uint64_t pf_call(struct pf_ctx *p, const struct rm_rec *rec, json_object *o)
{
	uint64_t dur = rec->dur;
	char nm[256];

	/* free has no return probe (no dur_ns): its slice ends with its last
	 * OS request */
	if (!dur && rec->id == p->os_call && p->os_end > rec->ts)
		dur = p->os_end - rec->ts;
	if (!rec->n_os)
		return dur;
	snprintf(nm, sizeof(nm), "%s(%llu)", rm_fn_name(rec->fn >= 0 ? rec->fn : RM_NFN - 1),
		 (unsigned long long)rec->size);
	if (!dur && rec->id != p->os_call && p->nopen < PF_OPEN_MAX) {
		/* its requests come next: it ends with the last of them */
		pf_event(p, nm, "alloc", "B");
		pf_at(p, rec->ts);
		pf_args(p, rec, o);
		p->open[p->nopen++] = (struct pf_open){ .id = rec->id, .end = rec->ts, .left = rec->n_os,
							.pid = rec->pid, .tid = rec->tid };
		return 0;
	}
	pf_event(p, nm, "alloc", "X");
	pf_at(p, rec->ts);
	pf_ts(p->w, "dur", dur);
	pf_args(p, rec, o);
	return dur;
}

/* Closes the B event of open call k at its end. */
static void pf_close(struct pf_ctx *p, size_t k)
{
	struct pf_open c = p->open[k];

	p->open[k] = p->open[--p->nopen];
	pf_event(p, "", "alloc", "E");
	pf_at(p, c.end);
	jsonw_ks64(p->w, "pid", c.pid);
	jsonw_ks64(p->w, "tid", c.tid);
	jsonw_obj_close(p->w);
}

/* An OS request made in an open call (B event): the call ends with its last. */
static void pf_settle(struct pf_ctx *p, const struct rm_rec *rec)
{
	for (size_t k = 0; k < p->nopen; k++) {
		if (p->open[k].id != rec->cause_id)
			continue;
		if (rec->ts + rec->dur > p->open[k].end)
			p->open[k].end = rec->ts + rec->dur;
		if (--p->open[k].left == 0)
			pf_close(p, k);
		return;
	}
}

/* An OS request: an "X" slice nested in its call's (a call comes just
 * before its OS requests in the stream; in older traces, just after), or
 * an instant event when direct. */
static void pf_os(struct pf_ctx *p, const struct rm_rec *rec, json_object *o)
{
	char nm[64];

	if (rec->cause_call) {
		if (rec->cause_id != p->os_call) {
			p->os_call = rec->cause_id;
			p->os_end = 0;
		}
		if (rec->ts + rec->dur > p->os_end)
			p->os_end = rec->ts + rec->dur;
		pf_event(p, short_sys(rec), "os", "X");
		pf_at(p, rec->ts);
		pf_ts(p->w, "dur", rec->dur);
	} else {
		snprintf(nm, sizeof(nm), "%s (direct)", short_sys(rec));
		pf_event(p, nm, "os", "i");
		jsonw_kstr(p->w, "s", "t");
		pf_at(p, rec->ts);
	}
	pf_args(p, rec, o);
	if (rec->cause_call && p->nopen)
		pf_settle(p, rec);
}

/* A threshold move: a process-wide instant event (0: unknown, attached
 * without glibc's debug info: no number), and the threshold's counter. */
static void pf_threshold(struct pf_ctx *p, const struct rm_rec *rec, json_object *o)
{
	char a[32], b[32], nm[96];

	snprintf(nm, sizeof(nm), "mmap threshold %s -> %s", thr_num(a, sizeof(a), rec->th_old),
		 thr_num(b, sizeof(b), rec->th_new));
	pf_event(p, nm, "threshold", "i");
	jsonw_kstr(p->w, "s", "p");
	pf_at(p, rec->ts);
	pf_args(p, rec, o);
	if (rec->th_new)
		pf_counter(p, "mmap threshold", rec->ts, rec->th_new);
}

/* The "trace" record's command line: its pid and program (argv[0]'s file
 * name) name that process's tracks. */
static void pf_cmd_name(struct pf_ctx *p, json_object *trace)
{
	json_object *cmd = jget(trace, "cmd");
	json_object *a0 = cmd && json_object_is_type(cmd, json_type_array) && json_object_array_length(cmd) ?
			  json_object_array_get_idx(cmd, 0) : NULL;
	const char *s = a0 && json_object_is_type(a0, json_type_string) ? json_object_get_string(a0) : NULL;
	const char *base;

	if (!s || !*s)
		return;
	base = strrchr(s, '/');
	base = base && base[1] ? base + 1 : s;
	snprintf(p->cmd_name, sizeof(p->cmd_name), "%s", base);
	p->cmd_pid = (int)jnum(trace, "pid", NULL);
}

/* One trace record: its events, then the counters it moved. */
static void pf_record(struct pf_ctx *p, struct rm_model *m, const struct reader *rd)
{
	const struct rm_rec *rec = &rd->rec;
	uint64_t ts = rec->ts;

	if (rec->type == RM_T_SUMMARY)
		return;
	pf_new_pid(p, rec);
	rm_feed(m, rec);
	if (rec->type == RM_T_CALL) {
		ts += pf_call(p, rec, rd->obj);
	} else if (rec->type == RM_T_OS) {
		ts += rec->dur;
		pf_os(p, rec, rd->obj);
	} else if (rec->type == RM_T_THRESHOLD) {
		pf_threshold(p, rec, rd->obj);
	}
	if (ts > p->last_ts)
		p->last_ts = ts;
	if (p->cpid)
		pf_counters(p, m, ts < p->last_ts ? p->last_ts : ts);
}

int am_report_perfetto(const char *in_path, const char *out_path, char *err, size_t errlen)
{
	char why[PATH_MAX + 128];
	struct reader rd;
	struct rm_model *m = NULL;
	struct pf_ctx p;
	int ret = -1, r, e;

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
	p.w = jsonw_new(p.f);
	if (!p.w) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	jsonw_obj_open(p.w);
	jsonw_kstr(p.w, "displayTimeUnit", "ns");
	/* the first record: a trace's origin (t = 0) when it is one */
	r = reader_next(&rd, err, errlen);
	if (r > 0) {
		const char *ty = jstr(rd.obj, "type");

		if (ty && !strcmp(ty, "trace")) {
			p.t0 = rd.rec.ts;
			pf_cmd_name(&p, rd.obj);
		}
	}
	jsonw_kobj_open(p.w, "otherData");
	jsonw_kstr(p.w, "tool", "allocmap");
	/* ts are µs since this CLOCK_MONOTONIC time (0: they are absolute) */
	jsonw_ku64(p.w, "t0_ns", p.t0);
	jsonw_obj_close(p.w);
	jsonw_karr_open(p.w, "traceEvents");
	for (; r > 0; r = reader_next(&rd, err, errlen))
		pf_record(&p, m, &rd);
	if (r < 0)
		goto cleanup;
	if (!m->n_records) {
		snprintf(err, errlen, "%s: no trace records (empty file?)", in_path);
		goto cleanup;
	}
	while (p.nopen) /* calls whose requests never came */
		pf_close(&p, p.nopen - 1);
	if (p.live_pending)
		pf_counter(&p, "live", p.pend_t, p.pend_v);
	jsonw_eol(p.w);
	jsonw_arr_close(p.w);
	jsonw_obj_close(p.w);
	jsonw_eol(p.w);
	e = close_output(p.w, p.f);
	p.f = NULL;
	if (e) {
		snprintf(err, errlen, "cannot write %s: %s", out_path, strerror(e));
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (p.f) {
		struct stat st;

		/* remove a partial file, never a device (/dev/null) or a FIFO */
		if (!fstat(fileno(p.f), &st) && S_ISREG(st.st_mode))
			unlink(out_path);
		fclose(p.f);
	}
	free(p.w);
	if (m) {
		rm_free(m);
		free(m);
	}
	reader_close(&rd);
	return ret;
}

/* ---- figures ---- */

/* `allocmap report --figures` (see report.h). */
int am_report_figures(const char *in_path, char *err, size_t errlen)
{
	struct reader rd;
	struct rm_model *m;
	struct jsonw *w = NULL;
	int ret = -1, r;

	if (reader_open(&rd, in_path, err, errlen) < 0)
		return -1;
	m = malloc(sizeof(*m));
	if (!m || rm_init(m) < 0) {
		free(m);
		reader_close(&rd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	while ((r = reader_next(&rd, err, errlen)) > 0)
		rm_feed(m, &rd.rec);
	if (r < 0)
		goto cleanup;
	if (!m->n_records) {
		snprintf(err, errlen, "%s: no trace records (empty file?)", in_path);
		goto cleanup;
	}
	w = jsonw_new(stdout);
	if (!w) {
		snprintf(err, errlen, "out of memory");
		goto cleanup;
	}
	jsonw_obj_open(w);
	jsonw_key(w, "bytes");
	put_figs(w, m);
	jsonw_ku64(w, "records", m->n_records);
	jsonw_kbool(w, "truncated", rd.truncated);
	jsonw_kbool(w, "out_of_memory", m->oom);
	jsonw_obj_close(w);
	jsonw_eol(w);
	if (jsonw_flush(w) < 0 || fflush(stdout) != 0 || ferror(stdout)) {
		snprintf(err, errlen, "cannot write the figures: %s", strerror(errno));
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(w);
	rm_free(m);
	free(m);
	reader_close(&rd);
	return ret;
}

/* ---- records, for other readers ---- */

int am_report_each(const char *in_path, am_report_rec_fn fn, void *ctx, struct am_report_read *info,
		   char *err, size_t errlen)
{
	struct reader rd;
	int r;

	if (reader_open(&rd, in_path, err, errlen) < 0)
		return -1;
	while ((r = reader_next(&rd, err, errlen)) > 0)
		if (fn(ctx, rd.obj, &rd.rec) < 0) {
			snprintf(err, errlen, "out of memory");
			r = -1;
			break;
		}
	if (r == 0 && !rd.lineno) {
		snprintf(err, errlen, "%s: no trace records (empty file?)", in_path);
		r = -1;
	}
	if (info)
		*info = (struct am_report_read){ .lines = rd.lineno, .truncated = rd.truncated,
						 .stacks_cut = rd.all_stacks_cut };
	reader_close(&rd);
	return r < 0 ? -1 : 0;
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
