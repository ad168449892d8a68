// SPDX-License-Identifier: GPL-2.0
/* demo.c - `allocmap demo threshold`: a guided tour of glibc's brk-versus-mmap
 * choice, traced live. The sweep program (workloads/threshold_sweep.c) makes
 * a fixed series of malloc/free steps and waits after each one on a pipe;
 * the demo matches the traced calls to the steps, prints each step with
 * where glibc served it, the OS requests it caused and one line explaining
 * why, then lets the program go on. The sweep runs three times: glibc's
 * defaults (dynamic threshold), the threshold pinned at 128 KiB through
 * MALLOC_MMAP_THRESHOLD_, and pinned at 1 MiB through GLIBC_TUNABLES.
 * --json prints one JSON object per traced call instead; --html writes a
 * threshold view (request sizes against the moving threshold) per run. */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "compare_run.h"
#include "demo.h"
#include "fmt.h"
#include "jsonw.h"
#include "log.h"
#include "opts.h"
#include "safeio.h"
#include "tracer.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

enum { V_DEFAULT, V_ENV, V_TUNABLE, V__N };

static const struct variant {
	const char *name;     /* --only value, JSON "variant" */
	const char *env;      /* added to the environment, NULL = none */
	const char *title;
	const char *column;   /* closing table header */
} variants[V__N] = {
	{ "default", NULL, "glibc's defaults: dynamic mmap threshold, 128 KiB at start", "default" },
	{ "env", "MALLOC_MMAP_THRESHOLD_=131072",
	  "threshold pinned at 128 KiB by MALLOC_MMAP_THRESHOLD_=131072 (no dynamic rise)",
	  "pinned 128K (env)" },
	{ "tunable", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576",
	  "threshold pinned at 1 MiB by GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576",
	  "pinned 1M (tunable)" },
};

struct xcall {
	uint8_t  fn;          /* AM_FN_MALLOC or AM_FN_FREE */
	uint64_t size;        /* requested, or the freed allocation's size */
};

/* The sweep, call for call as workloads/threshold_sweep.c makes it. */
#define MAX_CALLS 6
static const struct step {
	const char *what;
	struct xcall calls[MAX_CALLS];
	int n;
	const char *why[V__N];
} steps[] = {
	{ "small requests", { { AM_FN_MALLOC, 100 }, { AM_FN_MALLOC, 1000 } }, 2,
	  { "small requests come from the brk heap; the first one creates it: brk(NULL), brk(+132 KiB)",
	    "small requests come from the brk heap; the first one creates it: brk(NULL), brk(+132 KiB)",
	    "small requests come from the brk heap; the first one creates it: brk(NULL), brk(+132 KiB)" } },
	{ "129 KiB", { { AM_FN_MALLOC, 129 * KiB } }, 1,
	  { "over the 128 KiB threshold, but the heap's top chunk still holds it: carved from the heap",
	    "over the pinned 128 KiB threshold, but the top chunk holds it: the threshold is not even asked",
	    "under the pinned 1 MiB threshold, and the top chunk holds it: heap, no syscall" } },
	{ "129 KiB again", { { AM_FN_MALLOC, 129 * KiB } }, 1,
	  { "same size, but the top chunk is too small now: at/over the threshold, so mmap (+4 KiB header, page-rounded)",
	    "the top chunk is too small and 129 KiB is over the pinned threshold: mmap",
	    "the top chunk is too small, but 129 KiB is under 1 MiB: the heap grows with brk instead" } },
	{ "1 MiB", { { AM_FN_MALLOC, 1 * MiB } }, 1,
	  { "over the threshold and the top chunk cannot hold it: its own mmap of 1028 KiB",
	    "over the pinned threshold: its own mmap of 1028 KiB",
	    "1 MiB + header reaches the pinned 1 MiB threshold: its own mmap of 1028 KiB" } },
	{ "free the 1 MiB", { { AM_FN_FREE, 1 * MiB } }, 1,
	  { "an mmapped chunk goes back with munmap, and the threshold rises to its size, 1028 KiB (trim threshold 2x)",
	    "munmap; the threshold is pinned, so freeing the chunk does not move it",
	    "munmap; the threshold is pinned, so freeing the chunk does not move it" } },
	{ "256 KiB", { { AM_FN_MALLOC, 256 * KiB } }, 1,
	  { "now under the raised threshold: served from the heap, which grows with one brk",
	    "over the pinned 128 KiB and the top chunk is too small: mmap (the default run used brk here)",
	    "under the pinned 1 MiB: the heap grows with brk" } },
	{ "512 KiB", { { AM_FN_MALLOC, 512 * KiB } }, 1,
	  { "under the raised threshold as well: one more brk",
	    "over the pinned threshold: mmap again",
	    "under the pinned 1 MiB: one more brk" } },
	{ "4 MiB", { { AM_FN_MALLOC, 4 * MiB } }, 1,
	  { "over the new 1028 KiB threshold: mmap again",
	    "over the threshold: mmap",
	    "over the pinned 1 MiB: mmap" } },
	{ "free the 4 MiB", { { AM_FN_FREE, 4 * MiB } }, 1,
	  { "munmap, and the threshold rises again, to 4100 KiB (it only ever rises, up to 32 MiB)",
	    "munmap; the threshold stays pinned",
	    "munmap; the threshold stays pinned" } },
	{ "free the rest",
	  { { AM_FN_FREE, 512 * KiB }, { AM_FN_FREE, 256 * KiB }, { AM_FN_FREE, 129 * KiB },
	    { AM_FN_FREE, 129 * KiB }, { AM_FN_FREE, 1000 }, { AM_FN_FREE, 100 } }, 6,
	  { "heap chunks return to glibc's free lists; the trim threshold (now 8200 KiB) keeps brk where it is",
	    "the mmapped chunks are munmapped; heap chunks stay with glibc (below the 128 KiB trim threshold)",
	    "freed heap chunks at the top pass the 128 KiB trim threshold: the heap shrinks with brk" } },
};
#define N_STEPS ((int)(sizeof(steps) / sizeof(steps[0])))
#define MAX_OBS 64

/* One traced call as the demo saw it. */
struct obs {
	int      step;          /* 0-based step, or -1: not part of the sweep */
	uint8_t  fn;
	uint64_t size;
	enum am_region_kind region;
	enum am_reason reason;
	uint64_t threshold;
	char     os[160];       /* "brk(NULL) brk(+132 KiB)" or "" */
	uint64_t thr_new;       /* threshold after this call, when it moved */
};

struct demo {
	const struct variant *v;
	int vi;
	FILE *out;
	bool json;
	struct jsonw *jw;       /* on out, with json */
	unsigned pause_ms;
	int go_fd;              /* write end of the program's pace pipe */
	int next_step, next_call;
	int printed;            /* steps printed so far */
	int done_upto;          /* steps whose calls are all seen */
	uint64_t brk_end;       /* last brk result, for "+132 KiB" */
	struct obs obs[MAX_OBS];
	int n_obs;
	bool pinned;
	uint64_t thr_start;
};

/* what the closing table and the page need of each variant */
static struct obs all_obs[V__N][MAX_OBS];
static int all_n[V__N];
static bool ran[V__N];

static const char *region_short(enum am_region_kind r)
{
	return r == AM_REG_UNKNOWN ? "?" : am_region_names[r];
}

static void os_text(struct demo *d, char *buf, size_t sz, const struct am_os_rec *os, size_t n)
{
	char b[AM_FMT_BUF];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && len < sz; i++) {
		const struct am_os_event *e = &os[i].ev;
		const char *sep = len ? " " : "";

		switch (e->sys) {
		case AM_SYS_BRK:
			if (!e->args[0]) {
				len += snprintf(buf + len, sz - len, "%sbrk(NULL)", sep);
			} else {
				uint64_t end = (uint64_t)e->ret;

				if (d->brk_end && end >= d->brk_end)
					len += snprintf(buf + len, sz - len, "%sbrk(+%s)", sep,
							am_fmt_size(b, sizeof(b), end - d->brk_end));
				else if (d->brk_end)
					len += snprintf(buf + len, sz - len, "%sbrk(-%s)", sep,
							am_fmt_size(b, sizeof(b), d->brk_end - end));
				else
					len += snprintf(buf + len, sz - len, "%sbrk", sep);
			}
			if (e->ret > 0)
				d->brk_end = (uint64_t)e->ret;
			break;
		case AM_SYS_MMAP:
		case AM_SYS_MUNMAP:
			len += snprintf(buf + len, sz - len, "%s%s(%s)", sep, am_sys_names[e->sys],
					am_fmt_size(b, sizeof(b), e->args[1]));
			break;
		default:
			len += snprintf(buf + len, sz - len, "%s%s", sep,
					e->sys < AM_SYS__COUNT ? am_sys_names[e->sys] : "?");
		}
	}
}

static void call_label(char *buf, size_t sz, uint8_t fn, uint64_t size)
{
	char b[AM_FMT_BUF];

	snprintf(buf, sz, "%s(%s)", am_fn_name(fn),
		 am_fmt_size(b, sizeof(b), size));
}

/* One traced call as a JSON line (--json), written out at once. */
static void json_obs(struct demo *d, const struct obs *o)
{
	struct jsonw *w = d->jw;

	jsonw_obj_open(w);
	jsonw_kstr(w, "variant", d->v->name);
	jsonw_ks64(w, "step", o->step + 1);
	jsonw_kstr(w, "fn", am_fn_name(o->fn));
	jsonw_ku64(w, "size", o->size);
	jsonw_kstr(w, "served_from", region_short(o->region));
	jsonw_kstr(w, "reason", am_reason_names[o->reason]);
	jsonw_ku64(w, "threshold", o->threshold);
	jsonw_kstr(w, "os", o->os);
	if (o->thr_new)
		jsonw_ku64(w, "threshold_after", o->thr_new);
	jsonw_obj_close(w);
	jsonw_eol(w);
	jsonw_flush(w);
}

/* Prints step s (0-based) with every call seen for it. */
static void print_step(struct demo *d, int s)
{
	char lab[64], b[AM_FMT_BUF];
	bool first = true;

	for (int i = 0; i < d->n_obs; i++) {
		const struct obs *o = &d->obs[i];

		if (o->step != s)
			continue;
		if (d->json) {
			json_obs(d, o);
			continue;
		}
		call_label(lab, sizeof(lab), o->fn, o->size);
		fprintf(d->out, "%3s %-20s %-6s %-15s %-26s %s\n", first ? "" : "", lab,
			region_short(o->region),
			o->reason ? am_reason_names[o->reason] : "",
			o->os[0] ? o->os : "-",
			first ? steps[s].why[d->vi] : "");
		if (o->thr_new) {
			char b2[AM_FMT_BUF];

			fprintf(d->out, "%3s %-20s threshold %s -> %s\n", "", "",
				am_fmt_size(b, sizeof(b), o->threshold),
				am_fmt_size(b2, sizeof(b2), o->thr_new));
		}
		first = false;
	}
	if (first && !d->json)
		fprintf(d->out, "%3s %-20s (not seen: lost events?)\n", "", steps[s].what);
	fflush(d->out);
}

static void print_step_header(struct demo *d, int s)
{
	if (!d->json)
		fprintf(d->out, "%2d. %s\n", s + 1, steps[s].what);
}

/* Calls outside the sweep (libc internals) are printed where they fall. */
static void print_other(struct demo *d, const struct obs *o)
{
	char lab[64];

	if (d->json) {
		json_obs(d, o);
		return;
	}
	call_label(lab, sizeof(lab), o->fn, o->size);
	fprintf(d->out, "    %-20s %-6s %-15s %-26s (not part of the sweep)\n", lab,
		region_short(o->region), am_reason_names[o->reason], o->os[0] ? o->os : "-");
}

static void on_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	struct demo *d = ctx;
	struct obs *o;
	bool match = false;

	if (c->ev.flags & AM_CALL_NESTED || d->n_obs == MAX_OBS)
		return;
	o = &d->obs[d->n_obs++];
	memset(o, 0, sizeof(*o));
	o->fn = c->ev.fn;
	o->size = c->size;
	o->region = c->region;
	o->reason = c->reason;
	o->threshold = c->threshold;
	os_text(d, o->os, sizeof(o->os), os, n);
	if (d->next_step < N_STEPS) {
		const struct xcall *x = &steps[d->next_step].calls[d->next_call];

		match = x->fn == c->ev.fn && x->size == c->size;
	}
	if (!match) {
		o->step = -1;
		print_other(d, o);
		return;
	}
	o->step = d->next_step;
	if (++d->next_call == steps[d->next_step].n) {
		d->next_call = 0;
		d->next_step++;
		d->done_upto = d->next_step;
	}
}

static void on_threshold(void *ctx, const struct am_threshold_rec *t)
{
	struct demo *d = ctx;

	/* it follows the free that moved it */
	for (int i = d->n_obs - 1; i >= 0; i--)
		if (d->obs[i].fn == AM_FN_FREE) {
			d->obs[i].thr_new = t->new_value;
			break;
		}
}

static void on_summary(void *ctx, const struct am_summary *s)
{
	struct demo *d = ctx;

	d->pinned = s->threshold_pinned;
	d->thr_start = s->threshold_start;
}

/* Prints the steps completed since the last look and lets the program go on. */
static void flush_steps(struct demo *d, bool release)
{
	while (d->printed < d->done_upto) {
		print_step_header(d, d->printed);
		print_step(d, d->printed);
		d->printed++;
		if (release && d->go_fd >= 0) {
			if (d->pause_ms) {
				struct timespec ts = { d->pause_ms / 1000, (long)(d->pause_ms % 1000) * 1000000L };

				nanosleep(&ts, NULL);
			}
			if (write(d->go_fd, "g", 1) != 1) {
				close(d->go_fd);
				d->go_fd = -1;
			}
		}
	}
}

/* After every read of the ring buffer (the tracer wakes at each record,
 * wake_each): a step is shown, and the program let go, as soon as its
 * calls and the threshold move that follows a free are in, not at the
 * next tick. */
static bool on_read(void *ctx)
{
	flush_steps(ctx, true);
	return false;
}

/* The sweep program: --program, else next to this allocmap binary. */
static int find_program(const char *given, char *out, size_t sz)
{
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (given) {
		snprintf(out, sz, "%s", given);
		return access(out, X_OK);
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	if (strlen(self) + 40 > sz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* allocmap in the repository root, or .output/allocmap (make SAN=1) */
	snprintf(out, sz, "%.*s/workloads/threshold_sweep", (int)(sz - 40), self);
	if (access(out, X_OK) == 0)
		return 0;
	snprintf(out, sz, "%.*s/.output/workloads/threshold_sweep", (int)(sz - 40), self);
	return access(out, X_OK);
}

struct demo_opts {
	const char *html;
	const char *program;
	const char *only;
	bool json;
	long pause_ms;          /* -1: default (pause on a terminal) */
	bool have_topic;
};

static const char demo_doc[] =
"Guided tours, traced live. The one tour so far:\n"
"\n"
"  threshold   glibc's brk-versus-mmap choice. A small program makes a fixed\n"
"              series of requests (100 B, 1000 B, 129 KiB twice, 1 MiB and its\n"
"              free, 256 KiB, 512 KiB, 4 MiB, frees); each step is traced and\n"
"              printed with where glibc served it (served from: heap or mmap),\n"
"              glibc's reason, the OS requests it made, the threshold at that\n"
"              moment and one line of explanation. Then the same sweep with the\n"
"              threshold pinned by MALLOC_MMAP_THRESHOLD_=131072 and by\n"
"              GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576, and a table\n"
"              of the three side by side.\n"
"\v"
"EXAMPLES:\n"
"  allocmap demo threshold                   the whole tour\n"
"  allocmap demo threshold --only default    just glibc's defaults\n"
"  allocmap demo threshold --html thr.html   also a page: request sizes vs threshold\n"
"  allocmap demo threshold --json --pause 0  one JSON object per traced call\n"
"\n"
"Needs root (CAP_BPF, CAP_PERFMON) and the sweep program built by make\n"
"(.output/workloads/threshold_sweep next to allocmap, or --program PATH).";

enum { OPT_HTML = 1000, OPT_JSON, OPT_PAUSE, OPT_PROGRAM, OPT_ONLY };

static const struct argp_option demo_options[] = {
	{ "html", OPT_HTML, "FILE", 0, "Also write the threshold view to FILE (self-contained HTML)", 0 },
	{ "json", OPT_JSON, NULL, 0, "One JSON object per traced call instead of the text", 0 },
	{ "pause", OPT_PAUSE, "MS", 0, "Pause after each step (default 500 on a terminal, else 0)", 0 },
	{ "only", OPT_ONLY, "RUN", 0, "Only one run: default, env or tunable", 0 },
	{ "program", OPT_PROGRAM, "PATH", 0, "The sweep program (default: built next to allocmap)", 0 },
	{ 0 },
};

static const struct am_uint_opt pause_opt = {
	.name = "--pause", .unit = "milliseconds", .lo = 0, .hi = 60000,
};

static error_t demo_parse(int key, char *arg, struct argp_state *state)
{
	struct demo_opts *o = state->input;
	uint64_t n;
	error_t err;

	switch (key) {
	case OPT_HTML:
		o->html = arg;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case OPT_PAUSE:
		if ((err = am_opts_uint(state, &pause_opt, arg, &n)))
			return err;
		o->pause_ms = (long)n;
		break;
	case OPT_ONLY: {
		bool ok = false;

		for (int i = 0; i < V__N; i++)
			ok |= !strcmp(arg, variants[i].name);
		if (!ok)
			return am_opts_error(state, "invalid --only '%s' (default, env or tunable)", arg);
		o->only = arg;
		break;
	}
	case OPT_PROGRAM:
		o->program = arg;
		break;
	case ARGP_KEY_ARG:
		if (o->have_topic || strcmp(arg, "threshold"))
			return am_opts_error(state, "unknown demo '%s' (the demo is: threshold)", arg);
		o->have_topic = true;
		break;
	case ARGP_KEY_END:
		if (!o->have_topic)
			return am_opts_error(state, "which demo? (allocmap demo threshold)");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp demo_argp = {
	.options = demo_options,
	.parser = demo_parse,
	.args_doc = "threshold",
	.doc = demo_doc,
	.children = am_help_children,
};

/* One traced run of the sweep under variant vi. Returns 0, or -1. */
static int run_variant(int vi, const char *prog, const struct demo_opts *o, FILE *out,
		       struct am_cmp_run *r)
{
	struct demo d = { .v = &variants[vi], .vi = vi, .out = out, .json = o->json,
			  .go_fd = -1 };
	struct am_trace_hooks hooks = {
		.ctx = &d,
		.sink = { .ctx = &d, .call = on_call, .threshold = on_threshold,
			  .summary = on_summary },
		.stop = on_read,
	};
	const char *extra[2] = { variants[vi].env, NULL };
	char fdarg[16], *cmd[4];
	char **env;
	int p[2], rc;

	d.pause_ms = o->pause_ms < 0 ? (isatty(fileno(out)) ? 500 : 0) : (unsigned)o->pause_ms;
	/* the read end stays open across exec for the program; ours is CLOEXEC */
	if (pipe(p)) {
		am_err("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	d.go_fd = p[1];
	snprintf(fdarg, sizeof(fdarg), "%d", p[0]);
	cmd[0] = (char *)prog;
	cmd[1] = (char *)"-c";
	cmd[2] = fdarg;
	cmd[3] = NULL;
	env = am_cmp_env(NULL, variants[vi].env ? extra : NULL);
	if (!env) {
		am_err("out of memory");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	snprintf(r->name, sizeof(r->name), "%s", variants[vi].name);
	r->keep_stdout = true; /* the sweep prints nothing; our steps go to stdout live */
	r->wake_each = true;   /* paced by what we see: every record at once */
	if (!o->json) {
		fprintf(out, "\n== %s\n", variants[vi].title);
		fprintf(out, "%-3s %-20s %-6s %-15s %-26s %s\n", "", "call", "from", "glibc's reason",
			"OS requests", "why");
	}
	fflush(out);
	if (o->json && !(d.jw = jsonw_new(out))) {
		am_err("out of memory");
		close(p[0]);
		close(p[1]);
		am_cmp_env_free(env);
		return -1;
	}
	rc = am_cmp_run_trace(r, cmd, env, &hooks, -1);
	close(p[0]);
	if (d.go_fd >= 0)
		close(d.go_fd);
	d.go_fd = -1;
	am_cmp_env_free(env);
	flush_steps(&d, false);
	free(d.jw);
	if (rc < 0)
		return -1;
	if (!o->json && d.printed < N_STEPS)
		fprintf(out, "(only %d of %d steps were seen)\n", d.printed, N_STEPS);
	memcpy(all_obs[vi], d.obs, sizeof(d.obs));
	all_n[vi] = d.n_obs;
	ran[vi] = true;
	return r->status == 0 ? 0 : -1;
}

/* served-from of step s's first call in variant vi ("" if not seen) */
static const char *served(int vi, int s, int call)
{
	int k = 0;

	for (int i = 0; i < all_n[vi]; i++)
		if (all_obs[vi][i].step == s && k++ == call)
			return region_short(all_obs[vi][i].region);
	return "";
}

static void closing_table(FILE *out)
{
	char lab[64];

	fprintf(out, "\n== served from, side by side\n%-22s", "");
	for (int v = 0; v < V__N; v++)
		if (ran[v])
			fprintf(out, " %-20s", variants[v].column);
	fputc('\n', out);
	for (int s = 0; s < N_STEPS; s++) {
		for (int c = 0; c < steps[s].n; c++) {
			call_label(lab, sizeof(lab), steps[s].calls[c].fn, steps[s].calls[c].size);
			fprintf(out, "%2d %-19s", s + 1, lab);
			for (int v = 0; v < V__N; v++)
				if (ran[v])
					fprintf(out, " %-20s", served(v, s, c));
			fputc('\n', out);
		}
	}
}

/* ---------- HTML: the threshold view ---------- */

#define HX0 70
#define HDX 44
#define HH  300
#define LOG_LO 6   /* 64 B */
#define LOG_HI 23  /* 8 MiB */

static double hy(uint64_t v)
{
	double l = 0;

	while (v > 1 && l < LOG_HI + 1) {
		v >>= 1;
		l++;
	}
	if (l < LOG_LO)
		l = LOG_LO;
	return 20 + (LOG_HI - l) * (HH - 40) / (LOG_HI - LOG_LO);
}

/* log2 with a fraction, for placing exact sizes */
static double hyf(uint64_t v)
{
	double l = 0, x = (double)v;

	if (!v)
		return hy(0);
	while (x >= 2) {
		x /= 2;
		l++;
	}
	l += x - 1;  /* linear between powers of two: close enough for a picture */
	if (l < LOG_LO)
		l = LOG_LO;
	if (l > LOG_HI)
		l = LOG_HI;
	return 20 + (LOG_HI - l) * (HH - 40) / (LOG_HI - LOG_LO);
}

static void html_variant(FILE *f, int vi)
{
	char b[AM_FMT_BUF], lab[64];
	int n = all_n[vi], w = HX0 + HDX * (n + 1);

	fprintf(f, "<h2>");
	am_html_esc(f, variants[vi].title);
	fprintf(f, "</h2>\n<svg width=\"%d\" height=\"%d\">\n", w, HH + 30);
	for (int l = LOG_LO; l <= LOG_HI; l += 2) {
		double y = hy(1ull << l);

		fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>"
			"<text x=\"%d\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%s</text>\n",
			HX0, w, y, y, HX0 - 6, y + 3, am_fmt_size(b, sizeof(b), 1ull << l));
	}
	/* the threshold as a step line */
	fputs("<polyline fill=\"none\" stroke=\"#c0392b\" stroke-width=\"2\" "
	      "stroke-dasharray=\"6,3\" points=\"", f);
	for (int i = 0; i < n; i++) {
		const struct obs *o = &all_obs[vi][i];
		int x0 = HX0 + HDX * i + HDX / 2, x1 = x0 + HDX;

		fprintf(f, "%d,%.1f %d,%.1f ", x0, hyf(o->threshold), x1,
			hyf(o->thr_new ? o->thr_new : o->threshold));
	}
	fputs("\"/>\n", f);
	for (int i = 0; i < n; i++) {
		const struct obs *o = &all_obs[vi][i];
		int x = HX0 + HDX * (i + 1);
		const char *col = o->region == AM_REG_HEAP ? "#2a9d3f" :
				  o->region == AM_REG_MMAP ? "#e07b00" : "#888";
		bool fr = o->fn == AM_FN_FREE;

		call_label(lab, sizeof(lab), o->fn, o->size);
		fprintf(f, "<circle cx=\"%d\" cy=\"%.1f\" r=\"7\" fill=\"%s\" stroke=\"%s\" "
			"stroke-width=\"2\"><title>", x, hyf(o->size), fr ? "#fff" : col, col);
		fprintf(f, "step %d: %s from %s", o->step + 1, lab, region_short(o->region));
		if (o->reason)
			fprintf(f, " (%s)", am_reason_names[o->reason]);
		if (o->os[0])
			fprintf(f, "; %s", o->os);
		fprintf(f, "</title></circle>\n<text x=\"%d\" y=\"%d\" font-size=\"10\" "
			"text-anchor=\"middle\">%d</text>\n", x, HH + 5, o->step + 1);
	}
	fputs("</svg>\n<table><tr><th>step</th><th>call</th><th>served from</th>"
	      "<th>glibc's reason</th><th>OS requests</th><th>threshold</th><th>why</th></tr>\n", f);
	for (int i = 0; i < n; i++) {
		const struct obs *o = &all_obs[vi][i];
		bool first = o->step >= 0 && (i == 0 || all_obs[vi][i - 1].step != o->step);

		call_label(lab, sizeof(lab), o->fn, o->size);
		fprintf(f, "<tr><td>%d</td><td>%s</td><td class=\"%s\">%s</td><td>%s</td><td>",
			o->step + 1, lab, region_short(o->region), region_short(o->region),
			am_reason_names[o->reason]);
		am_html_esc(f, o->os);
		fprintf(f, "</td><td>%s", am_fmt_size(b, sizeof(b), o->threshold));
		if (o->thr_new)
			fprintf(f, " &rarr; %s", am_fmt_size(b, sizeof(b), o->thr_new));
		fputs("</td><td>", f);
		if (first)
			am_html_esc(f, steps[o->step].why[vi]);
		fputs("</td></tr>\n", f);
	}
	fputs("</table>\n", f);
}

static int write_html(const char *path, char *err, size_t errsz)
{
	FILE *f = am_fopen_output(path, err, errsz);

	if (!f)
		return -1;
	am_html_begin(f, "allocmap demo threshold");
	fputs("<h1>glibc's mmap threshold, traced</h1>\n<p>Each circle is one call of the sweep "
	      "(x: the order of calls, y: the size requested or freed, log scale); filled: an "
	      "allocation, hollow: a free; <span class=\"heap\">green: served from the brk heap"
	      "</span>, <span class=\"mmap\">orange: its own mmap</span>. The dashed red line is "
	      "glibc's mmap threshold as it moves. glibc only asks the threshold when the heap's "
	      "top chunk cannot hold a request.</p>\n", f);
	for (int v = 0; v < V__N; v++)
		if (ran[v])
			html_variant(f, v);
	am_html_end(f);
	if (fclose(f)) {
		snprintf(err, errsz, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

int am_demo_main(int argc, char **argv)
{
	struct demo_opts o = { .pause_ms = -1 };
	struct am_cmp_run *r;
	char prog[PATH_MAX] = "", err[256];
	int ret = 0;

	if ((ret = am_opts_parse(&demo_argp, argc, argv, &o)))
		return ret;
	if (find_program(o.program, prog, sizeof(prog))) {
		am_err("demo: cannot run the sweep program %s: %s (build it with make, or give --program PATH)",
		       prog, strerror(errno));
		return o.program ? AM_EX_USAGE : 1; /* a bad --program, or not built */
	}
	if (geteuid() != 0) {
		am_err("must run as root (needs CAP_BPF and CAP_PERFMON to load eBPF programs)");
		return 1;
	}
	r = calloc(V__N, sizeof(*r));
	if (!r) {
		am_err("out of memory");
		return 1;
	}
	if (!o.json)
		printf("allocmap demo threshold: where glibc 2.36 serves each request, traced live.\n"
		       "glibc takes a request from the brk heap's top chunk when it fits; only when it\n"
		       "does not, a request at/over the mmap threshold gets its own mmap. Freeing an\n"
		       "mmapped chunk raises the threshold to its size (unless the threshold is pinned).\n");
	for (int v = 0; v < V__N; v++) {
		if (o.only && strcmp(o.only, variants[v].name))
			continue;
		if (run_variant(v, prog, &o, stdout, &r[v]) < 0) {
			ret = 1;
			if (!r[v].traced)
				break;
		}
	}
	if (!o.json && ret == 0)
		closing_table(stdout);
	fflush(stdout);
	if (o.html && write_html(o.html, err, sizeof(err)) < 0) {
		am_err("cannot write %s: %s", o.html, err);
		ret = 1;
	}
	for (int v = 0; v < V__N; v++)
		am_cmp_run_free(&r[v]);
	free(r);
	return ret;
}
