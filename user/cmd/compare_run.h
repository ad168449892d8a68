// SPDX-License-Identifier: GPL-2.0
/* compare_run.h - one traced run of a command under one allocator, as
 * `allocmap compare` and `allocmap demo` need it: the final summary, a
 * sampled timeline (bytes live in allocations vs bytes obtained from the OS,
 * by time and by allocator calls made so far), every OS request as a mark on
 * that timeline, and an optional untraced run of the same command for honest
 * wall time and peak RSS. Also compare's page and the small HTML helpers the
 * demo's page uses (compare_html.c). */
#ifndef ALLOCMAP_COMPARE_RUN_H
#define ALLOCMAP_COMPARE_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "model.h"
#include "spread.h"

/* One timeline sample: the correlator's view at t_ns (ns since trace start). */
struct am_cmp_point {
	uint64_t t_ns;
	uint64_t calls;    /* allocator calls the program made so far (outermost: the
	                      table's "calls"): the progress axis */
	uint64_t live;     /* bytes live in user allocations */
	uint64_t os;       /* bytes the allocator holds from the OS: brk heap + its mappings */
};

/* One OS request on the timeline. */
struct am_cmp_mark {
	uint64_t t_ns;     /* its exit, ns since trace start */
	uint64_t calls;    /* allocator calls made so far, the one that made it included */
	uint8_t  sys;      /* enum am_sys */
	bool     in_call;  /* made inside an allocator call (else direct: ld.so, constructors) */
};

struct am_cmp_run {
	char     name[32];          /* "glibc", "jemalloc", ... */
	char     lib[256];          /* LD_PRELOAD object, "" for the default (glibc) */
	char     exe[256];          /* run this instead of the command's cmd[0] ("" = the command):
	                               musl's column runs the command's musl build */
	const char *skip_why;       /* set when the allocator was not run (not installed) */
	bool     keep_stdout;       /* set by the caller: leave the command's stdout alone */
	bool     wake_each;         /* set by the caller: every record wakes the tracer (tracer.h) */
	bool     traced;            /* the trace ran and produced a summary */
	int      status;            /* the trace's exit status (the command's, 1 or 127 on failure) */
	char     bound[64];         /* allocator the tracer found bound ("glibc", ...) */
	struct am_summary sum;      /* final summary */
	uint64_t os_peak;           /* peak of heap + mmap bytes (sum.committed_bytes_peak) */
	uint64_t os_exit, live_exit;/* at the end (sum.committed_bytes, sum.live_bytes) */
	uint64_t brk_set;           /* brk calls that asked to move the break (not brk(NULL) queries) */
	uint64_t brk_set_in_calls;  /* of which inside allocator calls */
	/* untraced run (wall_ns == 0: not measured): am_cmp_run_plain sets these
	 * for one run; compare --runs N keeps each run in the arrays below and
	 * sets them to the medians (the status to the first non-zero one) */
	uint64_t plain_wall_ns;
	uint64_t plain_maxrss_kb;
	int      plain_status;
	uint64_t *plain_walls, *plain_rss_kbs; /* per untraced run, n_plain of them */
	int      *plain_exits;
	size_t   n_plain;
	struct am_spread plain_wall, plain_rss; /* of those runs */
	/* timeline */
	struct am_cmp_point *pts;
	size_t   n_pts, cap_pts;
	struct am_cmp_mark *marks;
	size_t   n_marks, cap_marks;
};

struct am_trace_hooks;

/* Traces cmd once with env (NULL-terminated "K=V" vector; NULL = environ),
 * filling r. extra, when not NULL, are the tracer's hooks (tracer.h): its
 * sink receives every record after the timeline's own sink, its tick the
 * ticks. verbosity as in am_tracer_opts. Unless r->keep_stdout, the
 * command's stdout is sent to stderr for the duration, so allocmap's stdout
 * carries only its result. Returns 0 when the trace ran (whatever the
 * command's exit status), -1 when it could not (the reason was printed as
 * one line). */
int am_cmp_run_trace(struct am_cmp_run *r, char **cmd, char *const *env,
		     const struct am_trace_hooks *extra, int verbosity);

/* Runs cmd untraced with env and records its wall time and peak RSS
 * (wait4) in r. Returns 0, or -1 if it could not be started. */
int am_cmp_run_plain(struct am_cmp_run *r, char **cmd, char *const *env);

/* Allocator calls the program made (outermost calls: not those an
 * allocator function made inside another one): the table's "calls". */
uint64_t am_cmp_outer_calls(const struct am_summary *s);

/* Frees the timeline and the untraced runs' arrays. Accepts NULL. */
void am_cmp_run_free(struct am_cmp_run *r);

/* environ with LD_PRELOAD replaced by preload (removed when NULL/"") and the
 * extra "K=V" strings (may be NULL) added, replacing same-named variables.
 * Returns a vector to free with am_cmp_env_free, or NULL on allocation
 * failure. */
char **am_cmp_env(const char *preload, const char *const *extra);
void am_cmp_env_free(char **env);

/* true when cmd[0] can be executed (a path, or found in PATH) */
bool am_cmp_cmd_exists(const char *cmd0);

/* The side-by-side table as text cells, built once (compare.c) and printed
 * as text or HTML. */
#define AM_CMP_MAX_RUNS 8
#define AM_CMP_MAX_ROWS 64
struct am_cmp_table {
	int  n_rows, n_cols;                         /* n_cols = runs */
	char head[AM_CMP_MAX_RUNS][32];              /* column titles */
	char label[AM_CMP_MAX_ROWS][64];             /* row titles ("" = blank) */
	bool section[AM_CMP_MAX_ROWS];               /* a heading row: no cells */
	char cell[AM_CMP_MAX_ROWS][AM_CMP_MAX_RUNS][40];
	bool is_bytes[AM_CMP_MAX_ROWS];              /* a row of sizes: exact[] holds them */
	uint64_t exact[AM_CMP_MAX_ROWS][AM_CMP_MAX_RUNS]; /* exact bytes (the HTML's tooltips) */
	char note[1024];                             /* printed under the table ("" = none) */
};

struct jsonw;

/* The comparison as one JSON object, the --json document (compare.c):
 * cmd, then per run (n, skipped ones included) its figures; plain: with
 * the untraced runs and the pairs too noisy to rank. */
void am_cmp_json(struct jsonw *w, char **cmd, const struct am_cmp_run *runs, int n, bool plain);

/* ---- HTML pieces (compare_html.c) ---- */

/* What the page of compare --html shows. */
struct am_cmp_page {
	char **cmd;                    /* the command, argv-style */
	const char *cmdline;           /* the same joined by spaces (for the title) */
	const struct am_cmp_run *runs; /* every run planned, skipped ones included */
	int n;
	const struct am_cmp_table *table; /* the text's table, cell for cell */
	bool plain;                    /* the untraced runs were made */
	unsigned n_plain;              /* --runs */
};

/* Writes the comparison page: the report's stylesheet and components, the
 * --json document, the table as the text shows it, and per traced run its
 * timeline (points and OS requests, by time and by allocator calls made).
 * Every string from the command line is data, only ever inserted as text.
 * Returns 0, or -1 with a reason in err. */
int am_cmp_html(const char *path, const struct am_cmp_page *pg, char *err, size_t errsz);

/* The demo's page: its head (inline style) up to and including <body>, and
 * the tail. */
void am_html_begin(FILE *f, const char *title);
void am_html_end(FILE *f);
/* Writes s with &, <, >, " escaped. */
void am_html_esc(FILE *f, const char *s);

#endif /* ALLOCMAP_COMPARE_RUN_H */
