// SPDX-License-Identifier: GPL-2.0
/* compare_run.c - runs a command once under the tracer for `allocmap
 * compare` / `allocmap demo` and keeps what they render: the summary, a
 * timeline of live bytes against bytes held from the OS, and a mark per OS
 * request. Every figure of the table (peaks included) is the summary's
 * (the accounting model, memacct.h); the timeline samples the tracer's own
 * correlator from a sink of its records (throttled: a point per record would
 * be too many). Also the untraced run (wall time and peak RSS without probe
 * traps) and environment building for LD_PRELOAD. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "compare_run.h"
#include "log.h"
#include "tracer.h"
#include "proc.h"

extern char **environ;

/* Sampling: a point at every OS request (bytes from the OS only change
 * there), otherwise after 16 calls or 500 µs of trace time, whichever comes
 * first (the live line by calls made stays fine-grained when the probe
 * traps make each call slow). */
#define SNAP_ANY_NS 500000ull
#define SNAP_CALLS  16

struct run_ctx {
	struct am_cmp_run *r;
	struct am_tracer *tr;
	uint64_t last_snap;
	unsigned calls_since;  /* call records since the last point */
	bool oom;
};

/* ns since the trace started */
static uint64_t rel(const struct run_ctx *x, uint64_t ts)
{
	uint64_t t0 = am_tracer__t0(x->tr);

	return ts > t0 ? ts - t0 : 0;
}

uint64_t am_cmp_outer_calls(const struct am_summary *s)
{
	uint64_t n = 0;

	for (int f = 0; f < am_fn_count(); f++)
		n += s->fn[f].calls - s->fn[f].nested;
	return n;
}

static void add_point(struct run_ctx *x, uint64_t t, const struct am_summary *s)
{
	struct am_cmp_run *r = x->r;

	if (r->n_pts == r->cap_pts) {
		size_t cap = r->cap_pts ? r->cap_pts * 2 : 1024;
		struct am_cmp_point *p = realloc(r->pts, cap * sizeof(*p));

		if (!p) {
			x->oom = true;
			return;
		}
		r->pts = p;
		r->cap_pts = cap;
	}
	r->pts[r->n_pts++] = (struct am_cmp_point){
		.t_ns = t, .calls = am_cmp_outer_calls(s), .live = s->live_bytes, .os = s->committed_bytes,
	};
}

static void add_mark(struct run_ctx *x, const struct am_os_rec *o, uint64_t calls)
{
	struct am_cmp_run *r = x->r;

	if (r->n_marks == r->cap_marks) {
		size_t cap = r->cap_marks ? r->cap_marks * 2 : 256;
		struct am_cmp_mark *m = realloc(r->marks, cap * sizeof(*m));

		if (!m) {
			x->oom = true;
			return;
		}
		r->marks = m;
		r->cap_marks = cap;
	}
	r->marks[r->n_marks++] = (struct am_cmp_mark){
		.t_ns = rel(x, o->ev.ts_exit), .calls = calls, .sys = o->ev.sys, .in_call = !o->direct,
	};
}

/* A point from the tracer's summary now, when the throttle allows it (or
 * always when force); t is never before the last point. */
static void sample(struct run_ctx *x, uint64_t t, bool force)
{
	struct am_summary s;

	if (t < x->last_snap)
		t = x->last_snap;
	if (!force && t - x->last_snap < SNAP_ANY_NS && x->calls_since < SNAP_CALLS && x->r->n_pts)
		return;
	am_tracer__snapshot(x->tr, &s);
	add_point(x, t, &s);
	x->last_snap = t;
	x->calls_since = 0;
}

/* n OS requests (made by one call, or one direct request) that just
 * reached the correlator: a mark each, placed at the calls counted so far
 * (the call that made them included), and a point. */
static void note_os(struct run_ctx *x, const struct am_os_rec *os, size_t n, uint64_t t)
{
	struct am_summary s;

	am_tracer__snapshot(x->tr, &s);
	for (size_t i = 0; i < n; i++) {
		add_mark(x, &os[i], am_cmp_outer_calls(&s));
		if (os[i].ev.sys == AM_SYS_BRK && os[i].ev.args[0]) {
			x->r->brk_set++;
			x->r->brk_set_in_calls += !os[i].direct;
		}
	}
	if (t < x->last_snap)
		t = x->last_snap;
	add_point(x, t, &s);
	x->last_snap = t;
	x->calls_since = 0;
}

static void on_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	struct run_ctx *x = ctx;

	x->calls_since++;
	if (n)
		note_os(x, os, n, rel(x, c->ts_end));
	else
		sample(x, rel(x, c->ts_end), false);
}

static void on_os(void *ctx, const struct am_os_rec *o)
{
	struct run_ctx *x = ctx;

	note_os(x, o, 1, rel(x, o->ev.ts_exit));
}

static void on_task(void *ctx, const struct am_task_event *t)
{
	struct run_ctx *x = ctx;

	if (t->kind == AM_TASK_EXIT)
		sample(x, rel(x, t->ts), true);
}

static void on_summary(void *ctx, const struct am_summary *s)
{
	struct run_ctx *x = ctx;

	x->r->sum = *s;
	x->r->traced = true;
}

/* Drives the tracer with our sink first, the caller's hooks after it. */
static int run_tracer(struct run_ctx *x, const struct am_tracer_opts *o)
{
	struct am_sink sink = { .ctx = x, .call = on_call, .os = on_os, .task = on_task,
				.summary = on_summary };
	const struct am_trace_info *info;
	int rc;

	x->tr = am_tracer__new(o);
	if (!x->tr)
		return 1;
	rc = am_tracer__prepare(x->tr);
	if (!rc)
		rc = am_tracer__load(x->tr);
	if (!rc && am_tracer__add_sink(x->tr, &sink)) {
		am_err("internal error: the tracer refused the timeline's sink");
		rc = 1;
	}
	if (!rc)
		rc = am_tracer__attach(x->tr);
	if (!rc)
		rc = am_tracer__activate(x->tr);
	if (!rc) {
		am_tracer__run(x->tr);
		rc = am_tracer__finish(x->tr);
	}
	info = am_tracer__info(x->tr);
	if (info)
		snprintf(x->r->bound, sizeof(x->r->bound), "%s", info->allocator ? info->allocator : "?");
	am_tracer__free(x->tr);
	x->tr = NULL;
	return rc;
}

int am_cmp_run_trace(struct am_cmp_run *r, char **cmd, char *const *env,
		     const struct am_trace_hooks *extra, int verbosity)
{
	struct run_ctx x = { .r = r };
	struct am_tracer_opts o = {
		.cmd = cmd, .env = env, .verbosity = verbosity, .ringbuf_mb = 32, .hooks = extra,
		.wake_each = r->wake_each,
	};
	uint64_t t_end;
	int saved;

	/* the command's stdout would mix with the table (or JSON) on ours */
	fflush(stdout);
	saved = r->keep_stdout ? -1 : dup(STDOUT_FILENO);
	if (saved >= 0)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	r->status = run_tracer(&x, &o);
	if (saved >= 0) {
		dup2(saved, STDOUT_FILENO);
		close(saved);
	}
	if (r->traced) {
		/* the last point is the summary's: each line ends at the table's figures */
		t_end = x.last_snap;
		for (size_t i = 0; i < r->n_marks; i++)
			t_end = r->marks[i].t_ns > t_end ? r->marks[i].t_ns : t_end;
		add_point(&x, t_end, &r->sum);
	}
	if (x.oom)
		am_warn("%s: out of memory while sampling: the timeline is incomplete", r->name);
	if (!r->traced)
		return -1;
	r->os_peak = r->sum.committed_bytes_peak;
	r->os_exit = r->sum.committed_bytes;
	r->live_exit = r->sum.live_bytes;
	return 0;
}

int am_cmp_run_plain(struct am_cmp_run *r, char **cmd, char *const *env)
{
	struct rusage ru = { 0 };
	int status, ep[2], e = 0;
	uint64_t t0, t1;
	ssize_t n;
	pid_t pid;

	/* fork, not posix_spawn: a vfork-style child shares our mm until exec and
	 * inherits its whole peak RSS; a forked child only counts the pages its
	 * own page tables map (the caller runs this while it is still small) */
	if (pipe2(ep, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	t0 = am_now_ns();
	pid = fork();
	if (pid < 0) {
		e = errno;
		close(ep[0]);
		close(ep[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(ep[0]);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execvpe(cmd[0], cmd, env ? env : environ);
		e = errno;
		if (write(ep[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(ep[1]);
	n = read(ep[0], &e, sizeof(e));
	close(ep[0]);
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	t1 = am_now_ns();
	if (n == (ssize_t)sizeof(e)) {
		errno = e;
		return -1;
	}
	r->plain_wall_ns = t1 - t0;
	r->plain_maxrss_kb = (uint64_t)ru.ru_maxrss;
	r->plain_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

void am_cmp_run_free(struct am_cmp_run *r)
{
	if (!r)
		return;
	free(r->pts);
	free(r->marks);
	free(r->plain_walls);
	free(r->plain_rss_kbs);
	free(r->plain_exits);
	r->pts = NULL;
	r->marks = NULL;
	r->plain_walls = r->plain_rss_kbs = NULL;
	r->plain_exits = NULL;
	r->n_plain = 0;
	r->n_pts = r->cap_pts = r->n_marks = r->cap_marks = 0;
}

/* length of the name part of "K=V" (the whole string when there is no '=') */
static size_t key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

static bool same_key(const char *a, const char *b)
{
	size_t n = key_len(a);

	return n == key_len(b) && !strncmp(a, b, n);
}

char **am_cmp_env(const char *preload, const char *const *extra)
{
	size_t n = 0, k = 0, ne = 0;
	char **env;

	while (environ && environ[n])
		n++;
	while (extra && extra[ne])
		ne++;
	env = calloc(n + ne + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool drop = same_key(environ[i], "LD_PRELOAD");

		for (size_t j = 0; j < ne && !drop; j++)
			drop = same_key(environ[i], extra[j]);
		if (!drop && !(env[k++] = strdup(environ[i])))
			goto oom;
	}
	for (size_t j = 0; j < ne; j++)
		if (!(env[k++] = strdup(extra[j])))
			goto oom;
	if (preload && *preload) {
		size_t len = strlen("LD_PRELOAD=") + strlen(preload) + 1;

		if (!(env[k] = malloc(len)))
			goto oom;
		snprintf(env[k++], len, "LD_PRELOAD=%s", preload);
	}
	env[k] = NULL;
	return env;
oom:
	am_cmp_env_free(env);
	return NULL;
}

void am_cmp_env_free(char **env)
{
	if (!env)
		return;
	for (size_t i = 0; env[i]; i++)
		free(env[i]);
	free(env);
}

bool am_cmp_cmd_exists(const char *cmd0)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!cmd0 || !*cmd0)
		return false;
	if (strchr(cmd0, '/'))
		return access(cmd0, X_OK) == 0;
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		int len = (int)(end - path);

		snprintf(buf, sizeof(buf), "%.*s/%s", len ? len : 1, len ? path : ".", cmd0);
		if (access(buf, X_OK) == 0)
			return true;
		path = *end ? end + 1 : end;
	}
	return false;
}
