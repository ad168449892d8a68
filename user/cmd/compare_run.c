// SPDX-License-Identifier: GPL-2.0
/* compare_run.c - runs a command once under the tracer for `allocmap
 * compare` / `allocmap demo` and keeps what they render: the summary, a
 * timeline of live bytes against bytes held from the OS, and a mark per OS
 * request. Every figure of the table (peaks included) is the summary's
 * (the accounting model, memacct.h); the timeline comes from a second,
 * private correlator fed with the raw events carried by the resolved
 * records (the tracer's own correlator is not reachable from a hook), and
 * is sampled, not kept per event. Also the untraced
 * run (wall time and peak RSS without probe traps) and environment
 * building for LD_PRELOAD. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "compare_run.h"
#include "correlate.h"
#include "log.h"
#include "trace.h"
#include "proc.h"

extern char **environ;

/* Sampling: after an OS request at most every 20 µs of trace time (OS bytes
 * only change there), otherwise every 500 µs. */
#define SNAP_OS_NS   20000ull
#define SNAP_ANY_NS 500000ull

struct run_ctx {
	struct am_cmp_run *r;
	struct am_corr *shadow;
	const struct am_sink *extra;
	const struct am_trace_hooks *hooks;  /* the caller's, for tick */
	uint64_t t0;
	uint64_t last_snap;
	bool dirty;         /* an OS request since the last sample */
	bool oom;
};

static uint64_t rel(const struct run_ctx *x, uint64_t ts)
{
	return ts > x->t0 ? ts - x->t0 : 0;
}

static void add_point(struct run_ctx *x, uint64_t t, uint64_t live, uint64_t os)
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
	r->pts[r->n_pts++] = (struct am_cmp_point){ .t_ns = t, .live = live, .os = os };
}

static void add_mark(struct run_ctx *x, const struct am_os_rec *o)
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
		.t_ns = rel(x, o->ev.ts_exit), .sys = o->ev.sys, .in_call = !o->direct,
	};
}

/* Takes a sample when the throttle allows it (or always when force). */
static void sample(struct run_ctx *x, uint64_t t, bool force)
{
	struct am_summary s;

	if (!force && !(x->dirty && t - x->last_snap >= SNAP_OS_NS) &&
	    t - x->last_snap < SNAP_ANY_NS && x->r->n_pts)
		return;
	am_corr__snapshot(x->shadow, NULL, 0, 0, &s);
	add_point(x, t, s.live_bytes, s.committed_bytes);
	x->last_snap = t;
	x->dirty = false;
}

static void feed_os(struct run_ctx *x, const struct am_os_rec *o)
{
	am_corr__event(x->shadow, &o->ev, sizeof(o->ev));
	add_mark(x, o);
	if (o->ev.sys == AM_SYS_BRK && o->ev.args[0]) {
		x->r->brk_set++;
		x->r->brk_set_in_calls += !o->direct;
	}
	x->dirty = true;
}

static void on_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	struct run_ctx *x = ctx;
	uint64_t t = rel(x, c->ts_end);

	for (size_t i = 0; i < n; i++)
		feed_os(x, &os[i]);
	am_corr__event(x->shadow, &c->ev, sizeof(c->ev));
	sample(x, t < x->last_snap ? x->last_snap : t, false);
	if (x->extra && x->extra->call)
		x->extra->call(x->extra->ctx, c, os, n);
}

static void on_os(void *ctx, const struct am_os_rec *o)
{
	struct run_ctx *x = ctx;
	uint64_t t = rel(x, o->ev.ts_exit);

	feed_os(x, o);
	sample(x, t < x->last_snap ? x->last_snap : t, false);
	if (x->extra && x->extra->os)
		x->extra->os(x->extra->ctx, o);
}

static void on_threshold(void *ctx, const struct am_threshold_rec *t)
{
	struct run_ctx *x = ctx;

	if (x->extra && x->extra->threshold)
		x->extra->threshold(x->extra->ctx, t);
}

static void on_task(void *ctx, const struct am_task_event *t)
{
	struct run_ctx *x = ctx;

	if (t->kind == AM_TASK_EXIT) {
		uint64_t ts = rel(x, t->ts);

		sample(x, ts < x->last_snap ? x->last_snap : ts, true);
	}
	am_corr__event(x->shadow, t, sizeof(*t));
	if (x->extra && x->extra->task)
		x->extra->task(x->extra->ctx, t);
}

static void on_summary(void *ctx, const struct am_summary *s)
{
	struct run_ctx *x = ctx;

	x->r->sum = *s;
	x->r->traced = true;
	if (x->extra && x->extra->summary)
		x->extra->summary(x->extra->ctx, s);
}

static void on_started(void *ctx, const struct am_trace_info *info)
{
	struct run_ctx *x = ctx;

	x->t0 = info->t0_ns;
	snprintf(x->r->bound, sizeof(x->r->bound), "%s", info->allocator ? info->allocator : "?");
}

static int on_tick(void *ctx, const struct am_summary *now, uint64_t now_ns)
{
	struct run_ctx *x = ctx;

	return x->hooks->tick(x->hooks->ctx, now, now_ns);
}

int am_cmp_run_trace(struct am_cmp_run *r, char **cmd, char *const *env,
		     const struct am_trace_hooks *extra, int verbosity)
{
	struct am_corr_opts co = { 0 };
	struct run_ctx x = { .r = r, .extra = extra ? &extra->sink : NULL, .hooks = extra };
	struct am_trace_hooks hooks = {
		.ctx = &x,
		.sink = { .ctx = &x, .call = on_call, .os = on_os, .threshold = on_threshold,
			  .task = on_task, .summary = on_summary },
		.started = on_started,
		.tick = extra && extra->tick ? on_tick : NULL,
		.tick_ms = extra ? extra->tick_ms : 0,
	};
	struct am_trace_opts o = {
		.cmd = cmd, .verbosity = verbosity, .ringbuf_mb = 32, .no_output = true,
		.hooks = &hooks, .env = env,
	};
	int saved;

	x.shadow = am_corr__new(&co);
	if (!x.shadow) {
		am_err("out of memory");
		return -1;
	}
	x.t0 = am_now_ns();
	/* the command's stdout would mix with the table (or JSON) on ours */
	fflush(stdout);
	saved = r->keep_stdout ? -1 : dup(STDOUT_FILENO);
	if (saved >= 0)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	r->status = am_trace_run(&o);
	if (saved >= 0) {
		dup2(saved, STDOUT_FILENO);
		close(saved);
	}
	am_corr__free(x.shadow);
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
	r->pts = NULL;
	r->marks = NULL;
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
