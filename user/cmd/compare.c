// SPDX-License-Identifier: GPL-2.0
/* compare.c - `allocmap compare`: runs one command once per allocator (glibc
 * as is, jemalloc / tcmalloc / mimalloc through LD_PRELOAD, musl by running
 * the command's musl build: DIR/musl/NAME, as make builds the shipped
 * workloads with musl-gcc), traces each run
 * and prints a side-by-side table: allocator calls, OS requests per syscall,
 * the share of calls that reached the OS, bytes held from the OS against
 * bytes live (overhead) at peak and at exit, bytes given back, wall time,
 * peak RSS and lost events. --json prints the same as one JSON object,
 * --html writes a page in the HTML report's look with every allocator's
 * bytes against the allocator calls made so far (compare_html.c). */
#include <argp.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "compare.h"
#include "compare_run.h"
#include "spread.h"
#include "fmt.h"
#include "jsonw.h"
#include "log.h"
#include "opts.h"
#include "resolve.h"

/* The allocators `compare` knows by name (Debian 12 package sonames). */
static const struct known_alloc {
	const char *name;
	const char *soname;   /* NULL: the C library's own malloc */
	bool musl_build;      /* runs the command's musl build instead (find_musl_build) */
} known[] = {
	{ "glibc", NULL, false },
	{ "jemalloc", "libjemalloc.so.2", false },
	{ "tcmalloc", "libtcmalloc_minimal.so.4", false },
	{ "mimalloc", "libmimalloc.so.2", false },
	{ "musl", NULL, true },
};
#define N_KNOWN (sizeof(known) / sizeof(known[0]))

struct cmp_opts {
	const char *allocators;  /* --allocators, NULL = every known one */
	const char *html;
	bool json;
	bool no_plain;           /* skip the untraced runs */
	unsigned runs;           /* --runs: untraced runs per allocator */
	int verbosity;
	char **cmd;
};

static const char compare_doc[] =
"Run one command under several allocators, trace each run, and compare them.\n"
"\n"
"The command runs once per allocator: glibc's malloc as is, the others through "
"LD_PRELOAD (Debian 12: libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0). An "
"allocator that is not installed is reported and skipped. musl's malloc cannot be "
"preloaded into a glibc program: its column runs the command's musl build, DIR/musl/NAME "
"next to the command (make builds the shipped workloads so with musl-gcc), or the "
"command itself when it is linked with musl; without one the column is left out "
"(reported when musl was asked for by name). Each run is traced like "
"`allocmap trace`, and run --runs times more untraced (first, taking turns between "
"allocators) for wall time and peak RSS without probe traps: the table shows their "
"median and range (min-max). Two allocators whose wall-time ranges overlap are "
"reported as too noisy to rank. "
"The command's stdout goes to stderr: allocmap's stdout carries only the table.\n"
"\n"
"OS requests are counted for the whole process after exec (ld.so's mappings "
"included, as strace would count them); the figure in parentheses is the part "
"made inside allocator calls. 'brk that moved the break' leaves out brk(NULL) "
"queries. 'from OS' is the brk heap plus the allocator's "
"own mappings; overhead = from OS / bytes live in allocations, shown only when "
"at least 1 MiB is live (below that the allocator's fixed start-up memory decides "
"the ratio).\n"
"\v"
"EXAMPLES:\n"
"  allocmap compare -- .output/workloads/small_objects\n"
"                          every installed allocator, side by side\n"
"  allocmap compare --allocators glibc,jemalloc -- ./myprog arg\n"
"  allocmap compare --allocators glibc,mine=/opt/lib/libmymalloc.so -- ./myprog\n"
"                          NAME=PATH preloads any malloc replacement\n"
"  allocmap compare --html cmp.html -- .output/workloads/grow_shrink\n"
"                          also a page: every allocator's memory against the\n"
"                          allocator calls made so far (or wall time), the table\n"
"  allocmap compare --json -- .output/workloads/prodcons > cmp.json\n"
"\n"
"Shipped workloads (make builds them in .output/workloads/, and with musl-gcc\n"
"in .output/workloads/musl/ for the musl column): small_objects, prodcons,\n"
"grow_shrink, bigbuf; each takes an optional size argument.\n"
"Needs root (CAP_BPF, CAP_PERFMON) and a kernel with BTF.";

enum { OPT_HTML = 1000, OPT_JSON, OPT_NO_PLAIN, OPT_RUNS };

#define CMP_RUNS_DEFAULT 5
#define CMP_RUNS_MAX 1000
static const struct am_uint_opt runs_opt = { "--runs", "untraced runs per allocator", 1,
					     CMP_RUNS_MAX, false, 0 };

/* An overhead ratio (from OS / live) is shown only from this many live bytes:
 * below it the allocator's fixed start-up memory (an arena, a first chunk of
 * mappings) is the ratio, which then says nothing about how it manages the
 * program's memory ("overhead at exit 1716x" over 4 KiB live). */
#define CMP_OVERHEAD_FLOOR (UINT64_C(1) << 20)

static const struct argp_option compare_options[] = {
	{ "allocators", 'a', "LIST", 0, "Comma-separated: glibc, jemalloc, tcmalloc, mimalloc, musl, "
	  "or NAME=PATH (default: every one installed; musl when the command has a musl build)", 0 },
	{ "html", OPT_HTML, "FILE", 0, "Also write a self-contained HTML page to FILE", 0 },
	{ "json", OPT_JSON, NULL, 0, "Print the table as one JSON object", 0 },
	{ "no-untraced", OPT_NO_PLAIN, NULL, 0, "Skip the untraced runs (no untraced wall time/RSS)", 0 },
	{ "runs", OPT_RUNS, "N", 0, "Untraced runs per allocator, 1..1000 (default 5): median and range", 0 },
	{ "verbose", 'v', NULL, 0, "Tracer messages (probe placement) on stderr", 0 },
	{ 0 },
};

static error_t compare_parse(int key, char *arg, struct argp_state *state)
{
	struct cmp_opts *o = state->input;
	uint64_t v;
	error_t err;

	switch (key) {
	case 'a':
		o->allocators = arg;
		break;
	case OPT_HTML:
		o->html = arg;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_NO_PLAIN:
		o->no_plain = true;
		break;
	case OPT_RUNS:
		if ((err = am_opts_uint(state, &runs_opt, arg, &v)))
			return err;
		o->runs = (unsigned)v;
		break;
	case 'v':
		o->verbosity++;
		break;
	case ARGP_KEY_ARG:
		am_opts_command(state, &o->cmd);
		break;
	case ARGP_KEY_END:
		if (!o->cmd)
			return am_opts_error(state, "no command: give -- CMD [ARGS...]");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp compare_argp = {
	.options = compare_options,
	.parser = compare_parse,
	.args_doc = "-- CMD [ARGS...]",
	.doc = compare_doc,
	.children = am_help_children,
};

/* musl's column runs the command's musl build: DIR/musl/NAME next to
 * cmd0 (make builds the shipped workloads there with musl-gcc), or cmd0
 * itself when it is linked with musl. True with its path in out. */
static bool find_musl_build(const char *cmd0, char *out, size_t len)
{
	const char *slash = strrchr(cmd0, '/');
	struct am_resolution *r;
	char err[256];
	bool musl;

	if (slash && snprintf(out, len, "%.*s/musl/%s", (int)(slash - cmd0), cmd0, slash + 1) < (int)len &&
	    !access(out, X_OK))
		return true;
	r = calloc(1, sizeof(*r));
	musl = r && !am_resolve_exec(cmd0, NULL, r, err, sizeof(err)) && r->kind == AM_ALLOC_MUSL;
	free(r);
	if (musl)
		snprintf(out, len, "%s", cmd0);
	return musl;
}

/* Fills runs[] from --allocators (or every known allocator: musl only when
 * cmd0 has a musl build). Returns the count, or -1 after printing the error
 * (a usage error: the list is bad). */
static int plan_runs(const char *list, const char *cmd0, struct am_cmp_run *runs)
{
	char buf[1024], *save = NULL, *tok;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", list ? list : "glibc,jemalloc,tcmalloc,mimalloc,musl");
	if (list && strlen(list) >= sizeof(buf)) {
		am_err("compare: --allocators list too long");
		return -1;
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		struct am_cmp_run *r = &runs[n];
		char *eq = strchr(tok, '=');
		size_t k;

		if (!*tok)
			continue;
		if (n == AM_CMP_MAX_RUNS) {
			am_err("compare: at most %d allocators", AM_CMP_MAX_RUNS);
			return -1;
		}
		memset(r, 0, sizeof(*r));
		if (eq) {
			*eq = '\0';
			if (!*tok || !eq[1] || strlen(tok) >= sizeof(r->name)) {
				am_err("compare: invalid allocator '%s=%s' (expected NAME=PATH)", tok, eq + 1);
				return -1;
			}
			snprintf(r->name, sizeof(r->name), "%s", tok);
			snprintf(r->lib, sizeof(r->lib), "%s", eq + 1);
			if (access(r->lib, R_OK))
				r->skip_why = "not found";
		} else {
			for (k = 0; k < N_KNOWN && strcmp(known[k].name, tok); k++)
				;
			if (k == N_KNOWN) {
				am_err("compare: unknown allocator '%s' (known: glibc, jemalloc, tcmalloc, mimalloc, "
				       "musl, or NAME=PATH)", tok);
				return -1;
			}
			snprintf(r->name, sizeof(r->name), "%s", tok);
			if (known[k].soname && am_find_system_lib(known[k].soname, r->lib, sizeof(r->lib)))
				r->skip_why = "not installed";
			if (known[k].musl_build && !find_musl_build(cmd0, r->exe, sizeof(r->exe))) {
				if (!list)
					continue; /* by default only for commands that have one */
				r->exe[0] = '\0';
				r->skip_why = "no musl build of the command (DIR/musl/NAME)";
			}
		}
		for (int j = 0; j < n; j++)
			if (!strcmp(runs[j].name, r->name)) {
				am_err("compare: allocator '%s' given twice", r->name);
				return -1;
			}
		n++;
	}
	if (!n) {
		am_err("compare: --allocators: empty list");
		return -1;
	}
	return n;
}

static bool known_musl(const char *name)
{
	for (size_t k = 0; k < N_KNOWN; k++)
		if (!strcmp(known[k].name, name))
			return known[k].musl_build;
	return false;
}

static bool is_known(const char *name)
{
	for (size_t k = 0; k < N_KNOWN; k++)
		if (!strcmp(known[k].name, name))
			return true;
	return false;
}

static uint64_t outer_calls(const struct am_summary *s)
{
	return am_cmp_outer_calls(s);
}

static uint64_t os_calls(const struct am_summary *s)
{
	uint64_t n = 0;

	for (int f = 0; f < am_fn_count(); f++)
		n += s->fn[f].os_calls;
	return n;
}

static uint64_t in_calls(const struct am_summary *s, int sys)
{
	uint64_t n = 0;

	for (int f = 0; f < am_fn_count(); f++)
		n += s->sys_by_cause[sys][f];
	return n;
}

static uint64_t lost(const struct am_summary *s)
{
	return s->bpf.lost_call + s->bpf.lost_os + s->bpf.lost_task;
}

static void ratio(char *b, size_t sz, uint64_t num, uint64_t den)
{
	if (!den)
		snprintf(b, sz, "- (0 live)");
	else if (den < CMP_OVERHEAD_FLOOR)
		snprintf(b, sz, "- (live < 1 MiB)");
	else
		snprintf(b, sz, "%.2fx", (double)num / (double)den);
}

/* ---------- the table ---------- */

static int row(struct am_cmp_table *t, const char *label, bool section)
{
	int r = t->n_rows;
	size_t n = strlen(label);

	if (r == AM_CMP_MAX_ROWS)
		return AM_CMP_MAX_ROWS - 1; /* overwrite the last row rather than overflow */
	t->n_rows++;
	if (n >= sizeof(t->label[r]))
		n = sizeof(t->label[r]) - 1;
	memcpy(t->label[r], label, n);
	t->label[r][n] = '\0';
	t->section[r] = section;
	return r;
}

#define CELL(t, r, c, ...) snprintf((t)->cell[r][c], sizeof((t)->cell[r][c]), __VA_ARGS__)

/* The table's sections: each fills its rows for the n columns, column c
 * being runs[idx[c]]. */

/* "allocator calls": calls the program made, then per function called. */
static void table_calls(struct am_cmp_table *t, const struct am_cmp_run *runs, const int *idx, int n)
{
	char b[AM_FMT_BUF];
	int r;

	row(t, "allocator calls", true);
	r = row(t, "calls (made by the program)", false);
	for (int c = 0; c < n; c++)
		CELL(t, r, c, "%" PRIu64, outer_calls(&runs[idx[c]].sum));
	for (int f = 0; f < am_fn_count(); f++) {
		bool any = false;

		for (int c = 0; c < n; c++)
			any |= runs[idx[c]].sum.fn[f].calls > 0;
		if (!any)
			continue;
		snprintf(b, sizeof(b), "  %s", am_fn_name(f));
		r = row(t, b, false);
		for (int c = 0; c < n; c++)
			CELL(t, r, c, "%" PRIu64, runs[idx[c]].sum.fn[f].calls);
	}
}

/* "OS requests": per syscall all and inside calls (brk also those that
 * moved the break), the total, the share of calls that reached the OS. */
static void table_os(struct am_cmp_table *t, const struct am_cmp_run *runs, const int *idx, int n)
{
	int r;

	row(t, "OS requests: all (inside allocator calls)", true);
	for (int s = 0; s < AM_SYS__COUNT; s++) {
		r = row(t, am_sys_names[s], false);
		for (int c = 0; c < n; c++) {
			const struct am_summary *m = &runs[idx[c]].sum;

			CELL(t, r, c, "%" PRIu64 " (%" PRIu64 ")", m->sys_count[s], in_calls(m, s));
		}
		if (s != AM_SYS_BRK)
			continue;
		r = row(t, "  brk that moved the break", false);
		for (int c = 0; c < n; c++)
			CELL(t, r, c, "%" PRIu64 " (%" PRIu64 ")", runs[idx[c]].brk_set,
			     runs[idx[c]].brk_set_in_calls);
	}
	r = row(t, "total", false);
	for (int c = 0; c < n; c++) {
		const struct am_summary *m = &runs[idx[c]].sum;
		uint64_t all = 0, in = 0;

		for (int s = 0; s < AM_SYS__COUNT; s++) {
			all += m->sys_count[s];
			in += in_calls(m, s);
		}
		CELL(t, r, c, "%" PRIu64 " (%" PRIu64 ")", all, in);
	}
	r = row(t, "calls that reached the OS", false);
	for (int c = 0; c < n; c++) {
		const struct am_summary *m = &runs[idx[c]].sum;
		uint64_t k = outer_calls(m);

		if (k)
			CELL(t, r, c, "%.3f%% (%" PRIu64 ")", 100.0 * (double)os_calls(m) / (double)k,
			     os_calls(m));
		else
			CELL(t, r, c, "-");
	}
}

/* A row of sizes, one per column, in one unit (that of the largest) so the
 * row reads across: "1.60 MiB | 10.5 MiB", not "1.6 MiB | 10752 KiB". */
static void size_row(struct am_cmp_table *t, const char *label, const uint64_t *v, int n)
{
	char b[AM_FMT_BUF];
	uint64_t max = 0;
	int r = row(t, label, false);

	for (int c = 0; c < n; c++)
		max = v[c] > max ? v[c] : max;
	t->is_bytes[r] = true;
	for (int c = 0; c < n; c++) {
		CELL(t, r, c, "%s", am_fmt_size_in(b, sizeof(b), v[c], max));
		t->exact[r][c] = v[c];
	}
}

/* "memory": live against held from the OS, at peak and at exit, the
 * overheads, and what was given back. */
static void table_memory(struct am_cmp_table *t, const struct am_cmp_run *runs, const int *idx, int n)
{
	uint64_t v[AM_CMP_MAX_RUNS];
	int r;

#define SIZES(label, expr) do { \
		for (int c = 0; c < n; c++) { \
			const struct am_cmp_run *x = &runs[idx[c]]; \
			v[c] = (expr); \
		} \
		size_row(t, label, v, n); \
	} while (0)
	row(t, "memory (from OS: brk heap + allocator mappings)", true);
	SIZES("live, peak", x->sum.live_bytes_peak);
	SIZES("from OS, peak", x->os_peak);
	r = row(t, "overhead at peak (from OS / live)", false);
	for (int c = 0; c < n; c++)
		ratio(t->cell[r][c], sizeof(t->cell[r][c]), runs[idx[c]].os_peak,
		      runs[idx[c]].sum.live_bytes_peak);
	SIZES("live, at exit", x->live_exit);
	SIZES("from OS, at exit", x->os_exit);
	r = row(t, "overhead at exit", false);
	for (int c = 0; c < n; c++)
		ratio(t->cell[r][c], sizeof(t->cell[r][c]), runs[idx[c]].os_exit, runs[idx[c]].live_exit);
	SIZES("returned to OS: munmap", x->sum.returned_munmap);
	SIZES("returned to OS: madvise", x->sum.returned_madvise);
	SIZES("returned to OS: brk shrink", x->sum.returned_brk);
}

/* Untraced wall time and peak RSS: median of the runs, then their range. */
static void table_untraced(struct am_cmp_table *t, const struct am_cmp_run *runs, const int *idx,
			   int n)
{
	char b[AM_FMT_BUF], b2[AM_FMT_BUF], label[64];
	uint64_t max = 0;
	size_t most = 0;
	int r;

	for (int c = 0; c < n; c++)
		most = runs[idx[c]].n_plain > most ? runs[idx[c]].n_plain : most;
	snprintf(label, sizeof(label), "wall time, untraced (median of %zu)", most);
	r = row(t, label, false);
	for (int c = 0; c < n; c++)
		if (!runs[idx[c]].n_plain)
			CELL(t, r, c, "-");
		else
			CELL(t, r, c, "%.3f s", runs[idx[c]].plain_wall.median / 1e9);
	r = row(t, "  range (min-max)", false);
	for (int c = 0; c < n; c++)
		if (runs[idx[c]].n_plain)
			CELL(t, r, c, "%.3f-%.3f s", runs[idx[c]].plain_wall.min / 1e9,
			     runs[idx[c]].plain_wall.max / 1e9);
	for (int c = 0; c < n; c++)
		max = runs[idx[c]].plain_rss.max * 1024 > max ? runs[idx[c]].plain_rss.max * 1024 : max;
	snprintf(label, sizeof(label), "peak RSS, untraced (median of %zu)", most);
	r = row(t, label, false);
	for (int c = 0; c < n; c++)
		if (!runs[idx[c]].n_plain)
			CELL(t, r, c, "-");
		else
			CELL(t, r, c, "%s", am_fmt_size_in(b, sizeof(b), runs[idx[c]].plain_rss.median * 1024, max));
	t->is_bytes[r] = true;
	for (int c = 0; c < n; c++)
		t->exact[r][c] = runs[idx[c]].plain_rss.median * 1024;
	r = row(t, "  range (min-max)", false);
	for (int c = 0; c < n; c++) {
		char *unit;

		if (!runs[idx[c]].n_plain)
			continue;
		/* "2.76-2.87 MiB": the row's unit once */
		am_fmt_size_in(b, sizeof(b), runs[idx[c]].plain_rss.min * 1024, max);
		unit = strchr(b, ' ');
		if (unit)
			*unit = '\0';
		CELL(t, r, c, "%.12s-%.20s", b, am_fmt_size_in(b2, sizeof(b2), runs[idx[c]].plain_rss.max * 1024, max));
	}
}

/* Pair number k (0, 1, ...) of allocators, among the n columns, whose
 * untraced wall-time ranges overlap (am_spread_overlap: too noisy to say
 * which is faster): their columns in *a, *b. Returns false past the last. */
static bool noisy_pair(const struct am_cmp_run *runs, const int *idx, int n, int k, int *a, int *b)
{
	for (int i = 0; i < n; i++)
		for (int j = i + 1; j < n; j++)
			if (am_spread_overlap(&runs[idx[i]].plain_wall, &runs[idx[j]].plain_wall) &&
			    k-- == 0) {
				*a = i;
				*b = j;
				return true;
			}
	return false;
}

/* The note under the table: which allocators cannot be ranked by untraced
 * wall time. One run each gives no range: never ranked. */
static void noise_note(struct am_cmp_table *t, const struct am_cmp_run *runs, const int *idx, int n)
{
	size_t len, sz = sizeof(t->note);
	int a, b, k;

	t->note[0] = '\0';
	for (int c = 0; c < n; c++)
		if (runs[idx[c]].n_plain == 1) {
			snprintf(t->note, sz, "one untraced run each: no range, so no ranking by "
				 "wall time (--runs N)");
			return;
		}
	len = (size_t)snprintf(t->note, sz, "too noisy to rank by untraced wall time "
			       "(their min-max ranges overlap):");
	for (k = 0; noisy_pair(runs, idx, n, k, &a, &b) && len < sz; k++)
		len += (size_t)snprintf(t->note + len, sz - len, "%s %s and %s", k ? "," : "",
					runs[idx[a]].name, runs[idx[b]].name);
	if (!k)
		t->note[0] = '\0';
}

/* "run": exit status, wall time and peak RSS (traced; untraced when plain),
 * lost events and missed returns. */
static void table_run(struct am_cmp_table *t, const struct am_cmp_run *runs, const int *idx, int n,
		      bool plain)
{
	uint64_t v[AM_CMP_MAX_RUNS];
	int r;

	row(t, "run", true);
	r = row(t, "exit status", false);
	for (int c = 0; c < n; c++)
		CELL(t, r, c, "%d", runs[idx[c]].status);
	r = row(t, "wall time, traced", false);
	for (int c = 0; c < n; c++)
		CELL(t, r, c, "%.3f s", runs[idx[c]].sum.target_wall_ns / 1e9);
	for (int c = 0; c < n; c++)
		v[c] = runs[idx[c]].sum.target_maxrss_kb * 1024;
	size_row(t, "peak RSS, traced", v, n);
	if (plain)
		table_untraced(t, runs, idx, n);
	r = row(t, "lost events", false);
	for (int c = 0; c < n; c++)
		CELL(t, r, c, "%" PRIu64, lost(&runs[idx[c]].sum));
	r = row(t, "missed returns", false);
	for (int c = 0; c < n; c++)
		CELL(t, r, c, "%" PRIu64, (uint64_t)runs[idx[c]].sum.bpf.missed_ret);
}

static void build_table(struct am_cmp_table *t, const struct am_cmp_run *runs, const int *idx,
			int n, bool plain)
{
	memset(t, 0, sizeof(*t));
	t->n_cols = n;
	for (int c = 0; c < n; c++)
		snprintf(t->head[c], sizeof(t->head[c]), "%s", runs[idx[c]].name);
	table_calls(t, runs, idx, n);
	table_os(t, runs, idx, n);
	table_memory(t, runs, idx, n);
	table_run(t, runs, idx, n, plain);
	if (plain)
		noise_note(t, runs, idx, n);
}

static void print_table(FILE *f, const struct am_cmp_table *t)
{
	int lw = 0, cw[AM_CMP_MAX_RUNS];

	for (int r = 0; r < t->n_rows; r++)
		if (!t->section[r] && (int)strlen(t->label[r]) > lw)
			lw = (int)strlen(t->label[r]);
	for (int c = 0; c < t->n_cols; c++) {
		cw[c] = (int)strlen(t->head[c]);
		for (int r = 0; r < t->n_rows; r++)
			if ((int)strlen(t->cell[r][c]) > cw[c])
				cw[c] = (int)strlen(t->cell[r][c]);
	}
	fprintf(f, "%-*s", lw, "");
	for (int c = 0; c < t->n_cols; c++)
		fprintf(f, "  %*s", cw[c], t->head[c]);
	fputc('\n', f);
	for (int r = 0; r < t->n_rows; r++) {
		if (t->section[r]) {
			fprintf(f, "%s\n", t->label[r]);
			continue;
		}
		fprintf(f, "  %-*s", lw - 2 > 0 ? lw - 2 : 0, t->label[r]);
		for (int c = 0; c < t->n_cols; c++)
			fprintf(f, "  %*s", cw[c], t->cell[r][c]);
		fputc('\n', f);
	}
}

/* ---------- JSON ---------- */

/* num / den with 4 decimals, null when den is 0. */
static void json_ratio(struct jsonw *w, const char *key, uint64_t num, uint64_t den)
{
	if (den)
		jsonw_kf64(w, key, (double)num / (double)den, 4);
	else
		jsonw_knull(w, key);
}

/* An overhead: num / den, null when den is under CMP_OVERHEAD_FLOOR. */
static void json_overhead(struct jsonw *w, const char *key, uint64_t num, uint64_t den)
{
	if (den >= CMP_OVERHEAD_FLOOR)
		jsonw_kf64(w, key, (double)num / (double)den, 4);
	else
		jsonw_knull(w, key);
}

/* The untraced runs: medians and ranges, then each run in the order made. */
static void json_untraced(struct jsonw *w, const struct am_cmp_run *r)
{
	jsonw_kobj_open(w, "untraced");
	jsonw_ku64(w, "wall_ns", r->plain_wall.median);
	jsonw_ku64(w, "wall_ns_min", r->plain_wall.min);
	jsonw_ku64(w, "wall_ns_max", r->plain_wall.max);
	jsonw_ku64(w, "max_rss_kb", r->plain_rss.median);
	jsonw_ku64(w, "max_rss_kb_min", r->plain_rss.min);
	jsonw_ku64(w, "max_rss_kb_max", r->plain_rss.max);
	jsonw_ks64(w, "exit", r->plain_status);
	jsonw_karr_open(w, "runs");
	for (size_t i = 0; i < r->n_plain; i++) {
		jsonw_obj_open(w);
		jsonw_ku64(w, "wall_ns", r->plain_walls[i]);
		jsonw_ku64(w, "max_rss_kb", r->plain_rss_kbs[i]);
		jsonw_ks64(w, "exit", r->plain_exits[i]);
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

/* One traced run: calls, OS requests, bytes, times, losses. */
static void json_run(struct jsonw *w, const struct am_cmp_run *r, bool plain)
{
	const struct am_summary *s = &r->sum;

	jsonw_kstr(w, "bound", r->bound);
	jsonw_ks64(w, "exit", r->status);
	jsonw_ku64(w, "calls", outer_calls(s));
	jsonw_kobj_open(w, "functions");
	for (int fn = 0; fn < am_fn_count(); fn++)
		if (s->fn[fn].calls)
			jsonw_ku64(w, am_fn_name(fn), s->fn[fn].calls);
	jsonw_obj_close(w);
	jsonw_kobj_open(w, "os_requests");
	for (int sy = 0; sy < AM_SYS__COUNT; sy++) {
		jsonw_kobj_open(w, am_sys_names[sy]);
		jsonw_ku64(w, "all", s->sys_count[sy]);
		jsonw_ku64(w, "in_calls", in_calls(s, sy));
		jsonw_obj_close(w);
	}
	jsonw_obj_close(w);
	jsonw_kobj_open(w, "brk_set");
	jsonw_ku64(w, "all", r->brk_set);
	jsonw_ku64(w, "in_calls", r->brk_set_in_calls);
	jsonw_obj_close(w);
	jsonw_ku64(w, "calls_reaching_os", os_calls(s));
	json_ratio(w, "os_share", os_calls(s), outer_calls(s));
	jsonw_kobj_open(w, "bytes");
	jsonw_ku64(w, "live_peak", s->live_bytes_peak);
	jsonw_ku64(w, "os_peak", r->os_peak);
	json_overhead(w, "overhead_peak", r->os_peak, s->live_bytes_peak);
	jsonw_ku64(w, "live_exit", r->live_exit);
	jsonw_ku64(w, "os_exit", r->os_exit);
	json_overhead(w, "overhead_exit", r->os_exit, r->live_exit);
	jsonw_ku64(w, "overhead_floor", CMP_OVERHEAD_FLOOR);
	jsonw_ku64(w, "heap_peak", s->heap_bytes_peak);
	jsonw_ku64(w, "mmap_peak", s->mmap_bytes_peak);
	jsonw_obj_close(w);
	jsonw_kobj_open(w, "returned");
	jsonw_ku64(w, "munmap", s->returned_munmap);
	jsonw_ku64(w, "madvise", s->returned_madvise);
	jsonw_ku64(w, "brk", s->returned_brk);
	jsonw_obj_close(w);
	jsonw_kobj_open(w, "traced");
	jsonw_ku64(w, "wall_ns", s->target_wall_ns);
	jsonw_ku64(w, "max_rss_kb", s->target_maxrss_kb);
	jsonw_obj_close(w);
	if (plain && r->n_plain)
		json_untraced(w, r);
	jsonw_kobj_open(w, "lost");
	jsonw_ku64(w, "events", lost(s));
	jsonw_ku64(w, "call", s->bpf.lost_call);
	jsonw_ku64(w, "os", s->bpf.lost_os);
	jsonw_ku64(w, "task", s->bpf.lost_task);
	jsonw_ku64(w, "missed_returns", s->bpf.missed_ret);
	jsonw_obj_close(w);
}

/* The untraced runs per allocator, and the pairs of allocators too noisy to
 * rank by their wall time (noisy_pair, over the allocators measured). */
static void json_noise(struct jsonw *w, const struct am_cmp_run *runs, int n)
{
	int idx[AM_CMP_MAX_RUNS], m = 0, a, b;
	size_t most = 0;

	for (int i = 0; i < n; i++)
		if (runs[i].n_plain) {
			idx[m++] = i;
			most = runs[i].n_plain > most ? runs[i].n_plain : most;
		}
	jsonw_ku64(w, "untraced_runs", most);
	jsonw_karr_open(w, "too_noisy_to_rank");
	for (int k = 0; noisy_pair(runs, idx, m, k, &a, &b); k++) {
		jsonw_arr_open(w);
		jsonw_str(w, runs[idx[a]].name);
		jsonw_str(w, runs[idx[b]].name);
		jsonw_arr_close(w);
	}
	jsonw_arr_close(w);
}

void am_cmp_json(struct jsonw *w, char **cmd, const struct am_cmp_run *runs, int n, bool plain)
{
	jsonw_obj_open(w);
	jsonw_karr_open(w, "command");
	for (int i = 0; cmd[i]; i++)
		jsonw_str(w, cmd[i]);
	jsonw_arr_close(w);
	if (plain)
		json_noise(w, runs, n);
	jsonw_karr_open(w, "allocators");
	for (int i = 0; i < n; i++) {
		const struct am_cmp_run *r = &runs[i];

		jsonw_obj_open(w);
		jsonw_kstr(w, "name", r->name);
		if (r->lib[0])
			jsonw_kstr(w, "preload", r->lib);
		else
			jsonw_knull(w, "preload");
		if (r->exe[0])
			jsonw_kstr(w, "run", r->exe);
		if (r->traced)
			json_run(w, r, plain);
		else
			jsonw_kstr(w, "skipped", r->skip_why ? r->skip_why : "trace failed");
		jsonw_obj_close(w);
	}
	jsonw_arr_close(w);
	jsonw_obj_close(w);
}

/* The comparison as one JSON object (docs/guide.md: compare --json). */
static void print_json(FILE *f, char **cmd, const struct am_cmp_run *runs, int n, bool plain)
{
	static struct jsonw jw;  /* once per process; its 64 KiB buffer stays off the stack */
	struct jsonw *w = &jw;

	jsonw_init(w, f);
	am_cmp_json(w, cmd, runs, n, plain);
	jsonw_eol(w);
	jsonw_flush(w);
}

/* ---------- main ---------- */

/* One untraced run of r, kept as run number r->n_plain. Returns 0, or -1
 * when out of memory (a run that could not start is warned about and not
 * kept). */
static int run_untraced_once(const struct cmp_opts *o, struct am_cmp_run *r)
{
	char *cmd0 = o->cmd[0];
	char **env = am_cmp_env(r->lib, NULL);

	if (!env) {
		am_err("out of memory");
		return -1;
	}
	o->cmd[0] = r->exe[0] ? r->exe : cmd0;
	if (am_cmp_run_plain(r, o->cmd, env) < 0) {
		am_warn("%s: untraced run failed: %s", r->name, strerror(errno));
	} else {
		r->plain_walls[r->n_plain] = r->plain_wall_ns;
		r->plain_rss_kbs[r->n_plain] = r->plain_maxrss_kb;
		r->plain_exits[r->n_plain++] = r->plain_status;
	}
	o->cmd[0] = cmd0;
	am_cmp_env_free(env);
	return 0;
}

/* The untraced runs, first, while this process is small: a child's peak RSS
 * (wait4) includes the image it was forked from, until its exec. --runs
 * rounds, each running every allocator once, so a burst of load on the
 * machine hits them all rather than one. Then each run's medians and
 * ranges. Returns 0, or -1 after printing the error. */
static int run_untraced(const struct cmp_opts *o, struct am_cmp_run *runs, int n)
{
	for (int i = 0; i < n; i++) {
		struct am_cmp_run *r = &runs[i];

		if (r->skip_why)
			continue;
		r->plain_walls = calloc(o->runs, sizeof(*r->plain_walls));
		r->plain_rss_kbs = calloc(o->runs, sizeof(*r->plain_rss_kbs));
		r->plain_exits = calloc(o->runs, sizeof(*r->plain_exits));
		if (!r->plain_walls || !r->plain_rss_kbs || !r->plain_exits) {
			am_err("out of memory");
			return -1;
		}
	}
	for (unsigned k = 0; k < o->runs; k++)
		for (int i = 0; i < n; i++)
			if (!runs[i].skip_why && run_untraced_once(o, &runs[i]) < 0)
				return -1;
	for (int i = 0; i < n; i++) {
		struct am_cmp_run *r = &runs[i];

		r->plain_wall = am_spread_of(r->plain_walls, r->n_plain);
		r->plain_rss = am_spread_of(r->plain_rss_kbs, r->n_plain);
		r->plain_wall_ns = r->plain_wall.median;
		r->plain_maxrss_kb = r->plain_rss.median;
		r->plain_status = 0;
		for (size_t k = 0; k < r->n_plain && !r->plain_status; k++)
			r->plain_status = r->plain_exits[k];
	}
	return 0;
}

/* One traced run per allocator; idx[] gets the runs that worked, *n_ok
 * their count. Returns the exit status so far (0, 1, or 128 + the signal
 * that interrupted a run, which ends the series), or -1 when out of memory. */
static int run_traced(const struct cmp_opts *o, struct am_cmp_run *runs, int n, int *idx, int *n_ok)
{
	char *cmd0 = o->cmd[0];
	int ret = 0, rc;

	for (int i = 0; i < n; i++) {
		struct am_cmp_run *r = &runs[i];
		char **env;

		if (r->skip_why) {
			am_warn("%s: %s (%s): skipped", r->name, r->skip_why,
				r->lib[0] ? r->lib : known_musl(r->name) ? cmd0 : "glibc");
			continue;
		}
		env = am_cmp_env(r->lib, NULL);
		if (!env) {
			am_err("out of memory");
			return -1;
		}
		am_info("compare: %s%s%s%s%s", r->name, r->lib[0] ? " via LD_PRELOAD=" : "", r->lib,
			r->exe[0] ? ", running " : "", r->exe);
		o->cmd[0] = r->exe[0] ? r->exe : cmd0;
		rc = am_cmp_run_trace(r, o->cmd, env, NULL, o->verbosity ? 1 : 0);
		o->cmd[0] = cmd0;
		am_cmp_env_free(env);
		if (rc < 0) {
			r->skip_why = "trace failed";
			ret = 1;
			/* the command itself is bad: the next allocator would fail the same way */
			if (r->status == 127 || r->status == 126)
				break;
			continue;
		}
		if (r->status == 128 + 2 || r->status == 128 + 15) {
			am_err("interrupted");
			ret = r->status;
			break;
		}
		if (is_known(r->name) && strcmp(r->bound, r->name))
			am_warn("%s: the tracer found %s bound instead", r->name, r->bound);
		idx[(*n_ok)++] = i;
	}
	return ret;
}

/* The table (or JSON) on stdout, the page to --html. Returns 0 or 1. */
static int print_result(const struct cmp_opts *o, const char *cmdline, const struct am_cmp_run *runs,
			int n, const int *idx, int n_ok, struct am_cmp_table *tab)
{
	char err[256];

	build_table(tab, runs, idx, n_ok, !o->no_plain);
	if (o->json) {
		print_json(stdout, o->cmd, runs, n, !o->no_plain);
	} else {
		char pb[4096];

		/* the command line is the user's, but a terminal takes no escape from it */
		printf("allocmap compare: %s\n", am_printable(pb, sizeof(pb), cmdline));
		print_table(stdout, tab);
		if (tab->note[0])
			printf("%s\n", tab->note);
		printf("(all = every request of the process after exec, as strace counts them; in\n"
		       " parentheses those made inside allocator calls. Traced wall time includes\n"
		       " the probe traps; peak RSS of a traced run includes the held tracer image.)\n");
	}
	fflush(stdout);
	if (o->html && am_cmp_html(o->html, &(struct am_cmp_page){ .cmd = o->cmd, .cmdline = cmdline,
				   .runs = runs, .n = n, .table = tab, .plain = !o->no_plain,
				   .n_plain = o->no_plain ? 0 : o->runs }, err, sizeof(err)) < 0) {
		am_err("cannot write %s: %s", o->html, err);
		return 1;
	}
	return 0;
}

int am_compare_main(int argc, char **argv)
{
	struct cmp_opts o = { .runs = CMP_RUNS_DEFAULT };
	struct am_cmp_run *runs = NULL;
	struct am_cmp_table *tab = NULL;
	int n, idx[AM_CMP_MAX_RUNS], n_ok = 0, ret;
	char cmdline[2048] = "";

	if ((ret = am_opts_parse(&compare_argp, argc, argv, &o)))
		return ret;
	if (!am_cmp_cmd_exists(o.cmd[0])) {
		am_err("compare: cannot run '%s': no such executable file", o.cmd[0]);
		return AM_EX_USAGE;
	}
	runs = calloc(AM_CMP_MAX_RUNS, sizeof(*runs));
	tab = calloc(1, sizeof(*tab));
	if (!runs || !tab) {
		am_err("out of memory");
		ret = 1;
		goto out;
	}
	n = plan_runs(o.allocators, o.cmd[0], runs);
	if (n < 0) {
		ret = AM_EX_USAGE;
		goto out;
	}
	if (geteuid() != 0) {
		am_err("must run as root (needs CAP_BPF and CAP_PERFMON to load eBPF programs)");
		ret = 1;
		goto out;
	}
	for (int i = 0; o.cmd[i]; i++) {
		size_t l = strlen(cmdline);

		snprintf(cmdline + l, sizeof(cmdline) - l, "%s%s", i ? " " : "", o.cmd[i]);
	}
	if (!o.no_plain && run_untraced(&o, runs, n) < 0) {
		ret = 1;
		goto out;
	}
	ret = run_traced(&o, runs, n, idx, &n_ok);
	if (ret < 0) {
		ret = 1;
		goto out;
	}
	if (!n_ok) {
		am_err("no allocator could be traced");
		ret = ret ? ret : 1;
		goto out;
	}
	if (print_result(&o, cmdline, runs, n, idx, n_ok, tab))
		ret = 1;
out:
	if (runs)
		for (int i = 0; i < AM_CMP_MAX_RUNS; i++)
			am_cmp_run_free(&runs[i]);
	free(runs);
	free(tab);
	return ret;
}
