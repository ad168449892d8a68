// SPDX-License-Identifier: GPL-2.0
/* srv.c - the targets of `allocmap serve` (srv.h, srv_int.h): one tracer
 * (tracer.h) per target, each in its own thread, so that a flood in one
 * cannot starve another, a target's memory is bounded by its own tracer's,
 * and its exit frees everything it had. A target's thread keeps, under the
 * target's mutex, the latest summary (from the tick hook), the bounded
 * JSONL history (a JSON renderer writing into hist.c's ring) and answers
 * pprof requests between two polls of its ring buffer. Everyone else reads
 * copies. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include "log.h"
#include "output.h"
#include "pprof.h"
#include "proc.h"
#include "srv_int.h"
#include "tracer.h"

enum tstate { T_ATTACHING, T_RUNNING, T_FAILED, T_DONE };

struct am_srv_target {
	struct am_srv *srv;
	struct am_srv_target *next;   /* the daemon's list (srv->mu) */
	atomic_int refs;
	atomic_bool stop;             /* removed, or the daemon stops */
	pthread_t th;
	bool th_started;
	struct am_srv_add add;
	unsigned ringbuf_mb;
	/* under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum tstate state;
	char why[512];                /* attach error, or why tracing ended */
	struct am_srv_target_info info;
	struct am_summary sum;        /* pointers into the tracer NULLed */
	double ring_fill;             /* at the last tick, 0..1 (-1 unknown) */
	bool have_sum;
	uint64_t t0_ns;               /* the trace's origin (monotonic) */
	struct am_hist hist;
	bool cut;                     /* its owner may see no more (an exec changed its ids) */
	uint64_t done_mono_ns;        /* when its thread ended */
	/* a pprof request, serviced in the target's thread */
	int pp_want;                  /* 0 none, 1 heap, 2 allocs */
	bool pp_ready;
	int pp_rc;
	uint8_t *pp_buf;
	size_t pp_len;
	char pp_err[128];
	/* the profiles at the end of the trace ([0] heap, [1] allocs), served
	 * while an ended target lingers */
	uint8_t *pp_final[2];
	size_t pp_final_len[2];
	/* the target thread's own */
	struct am_tracer *tr;
	struct am_out *out;
	FILE *histf;
};

struct am_srv {
	pthread_mutex_t mu;
	struct am_srv_target *list;
	struct am_srv_conf conf;
	uint32_t next_id;
	unsigned n_targets;
	int wake_fd;                  /* eventfd: the main loop has something to look at */
	atomic_uint_fast64_t events, dropped;
	atomic_uint clients;
	atomic_int threads;           /* target threads not yet detached */
	/* events/s */
	uint64_t rate_ns, rate_events;
	double rate;
	/* what the targets no longer listed had counted (the totals are counters:
	 * they never go down) */
	uint64_t events_gone, dropped_gone;
};

static uint64_t mono_ns(void)
{
	return am_now_ns();
}

static void wake(struct am_srv *s)
{
	uint64_t one = 1;

	if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof(one)) < 0)
		return; /* the counter is full: the main loop is awake anyway */
}

/* ---- the target's thread ---- */

/* fopencookie write: the JSON renderer's bytes into the ring */
static ssize_t hist_cookie_write(void *ctx, const char *d, size_t n)
{
	struct am_srv_target *t = ctx;

	pthread_mutex_lock(&t->mu);
	if (!t->cut)
		am_hist_write(&t->hist, d, n);
	pthread_mutex_unlock(&t->mu);
	wake(t->srv);
	return (ssize_t)n;
}

/* The snapshot others read: no pointer into the tracer survives. */
static void keep_summary(struct am_srv_target *t, const struct am_summary *now)
{
	pthread_mutex_lock(&t->mu);
	t->sum = *now;
	t->sum.thr_procs = NULL;
	t->sum.n_thr_procs = 0;
	t->sum.leaks = NULL;
	t->sum.n_leaks = 0;
	t->sum.sites = NULL;
	t->have_sum = true;
	pthread_mutex_unlock(&t->mu);
}

/* A pprof request, if one waits: built here, where the sites live. */
static void serve_pprof(struct am_srv_target *t)
{
	const struct am_sites_report *r;
	struct am_pprof_meta m = { 0 };
	uint8_t *buf = NULL;
	size_t len = 0;
	int want, rc = -1;
	const char *why = "";

	pthread_mutex_lock(&t->mu);
	want = t->pp_ready ? 0 : t->pp_want;
	pthread_mutex_unlock(&t->mu);
	if (!want)
		return;
	r = am_tracer__sites(t->tr);
	if (!r) {
		why = t->add.mode == AM_SRV_OS ? "no call sites in mode os (add the target with mode all)" :
						 "no call sites";
	} else {
		m.period = r->sample_every;
		m.duration_ns = mono_ns() - t->t0_ns;
		m.time_ns = t->info.started_unix_ns;
		m.default_type = want == 1 ? "inuse_space" : "alloc_space";
		rc = am_pprof_gzip(r, &m, &buf, &len);
		if (rc)
			why = "out of memory";
	}
	pthread_mutex_lock(&t->mu);
	t->pp_rc = rc;
	t->pp_buf = buf;
	t->pp_len = len;
	snprintf(t->pp_err, sizeof(t->pp_err), "%s", why);
	t->pp_ready = true;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

/* The profiles as the trace ended, kept for /debug/pprof while the target
 * lingers (its tracer, where the sites live, is freed next). */
static void keep_final_profiles(struct am_srv_target *t)
{
	const struct am_sites_report *r = am_tracer__sites(t->tr);

	for (int i = 0; r && i < 2; i++) {
		struct am_pprof_meta m = {
			.period = r->sample_every, .duration_ns = mono_ns() - t->t0_ns,
			.time_ns = t->info.started_unix_ns,
			.default_type = i == 0 ? "inuse_space" : "alloc_space",
		};
		uint8_t *buf = NULL;
		size_t len = 0;

		if (am_pprof_gzip(r, &m, &buf, &len))
			continue; /* out of memory: "no longer traced", as before */
		pthread_mutex_lock(&t->mu);
		t->pp_final[i] = buf;
		t->pp_final_len[i] = len;
		pthread_mutex_unlock(&t->mu);
	}
}

static int hook_tick(void *ctx, const struct am_summary *now, uint64_t now_ns)
{
	struct am_srv_target *t = ctx;

	(void)now_ns;
	keep_summary(t, now);
	pthread_mutex_lock(&t->mu);
	t->ring_fill = am_tracer__ring_fill(t->tr);
	pthread_mutex_unlock(&t->mu);
	am_out__flush(t->out);
	return 0;
}

static bool hook_stop(void *ctx)
{
	struct am_srv_target *t = ctx;

	serve_pprof(t);
	return atomic_load(&t->stop);
}

/* An exec in the traced process: a non-root owner keeps seeing it only
 * while it is still theirs (a setuid program is not). Checked as the
 * record arrives, before anything after it reaches the history. */
/* The target's comm, from procfs (the target's own name: raw bytes, a
 * renderer escapes them). */
static void read_comm(pid_t pid, char *out, size_t len)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = 0;
	fclose(f);
}

static void hook_task(void *ctx, const struct am_task_event *e)
{
	struct am_srv_target *t = ctx;
	char comm[sizeof(t->info.comm)] = "";

	if (e->kind != AM_TASK_EXEC)
		return;
	/* the target's own process took a new name (metrics, lists follow),
	 * as the kernel had it at the exec (the process may be gone by now) */
	if ((pid_t)e->pid == t->add.pid) {
		memcpy(comm, e->comm, sizeof(comm) - 1);
		pthread_mutex_lock(&t->mu);
		if (comm[0])
			memcpy(t->info.comm, comm, sizeof(comm));
		pthread_mutex_unlock(&t->mu);
	}
	if (!t->add.owner_check)
		return;
	if (am_srv_same_owner((pid_t)e->pid, t->add.uid, t->add.gid))
		return;
	pthread_mutex_lock(&t->mu);
	t->cut = true;
	snprintf(t->why, sizeof(t->why), "pid %u exec'd a program that is not its owner's "
		 "(setuid, or not dumpable): tracing stopped", e->pid);
	pthread_mutex_unlock(&t->mu);
	atomic_store(&t->stop, true);
}

static void set_state(struct am_srv_target *t, enum tstate st, const char *why)
{
	pthread_mutex_lock(&t->mu);
	t->state = st;
	if (why && !t->why[0])
		snprintf(t->why, sizeof(t->why), "%s", why);
	if (st == T_DONE || st == T_FAILED) {
		t->info.alive = false;
		t->done_mono_ns = mono_ns();
		t->pp_ready = true; /* nothing will build it now */
		t->pp_rc = -1;
		if (!t->pp_err[0])
			snprintf(t->pp_err, sizeof(t->pp_err), "the target is no longer traced");
		pthread_cond_broadcast(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	wake(t->srv);
}

/* The last line of what the attach printed (the tracer's errors). */
static void last_line(const char *log, char *out, size_t len)
{
	const char *end = log + strlen(log), *p;

	while (end > log && end[-1] == '\n')
		end--;
	p = end;
	while (p > log && p[-1] != '\n')
		p--;
	if (!strncmp(p, "allocmap: ", 10))
		p += 10;
	snprintf(out, len, "%.*s", (int)(end - p), p);
}

/* The JSON renderer into the history, plugged in between load and attach. */
static int open_history(struct am_srv_target *t)
{
	cookie_io_functions_t io = { .write = hist_cookie_write };
	struct am_out_opts oo = { .json = true, .verbosity = 1, .multi_pid = true, .ordered = true };
	struct am_sink s;

	t->histf = fopencookie(t, "w", io);
	if (!t->histf)
		return -1;
	setvbuf(t->histf, NULL, _IONBF, 0);
	oo.f = t->histf;
	oo.t0_ns = am_tracer__t0(t->tr);
	t->out = am_out__new(&oo);
	if (!t->out)
		return -1;
	am_out__sink(t->out, &s);
	return am_tracer__add_sink(t->tr, &s);
}

/* prepare, load, attach, activate, with this thread's messages kept: the
 * add request's answer is the last of them. 0 or -1 (t->why). */
static int start_tracer(struct am_srv_target *t, const struct am_tracer_opts *to)
{
	char *log = NULL;
	size_t loglen = 0;
	int rc;

	am_log_fp = open_memstream(&log, &loglen);
	t->tr = am_tracer__new(to);
	rc = !t->tr;
	if (!rc)
		rc = am_tracer__prepare(t->tr);
	if (!rc)
		rc = am_tracer__load(t->tr);
	if (!rc && open_history(t)) {
		am_err("out of memory");
		rc = 1;
	}
	if (!rc)
		rc = am_tracer__attach(t->tr);
	if (!rc)
		rc = am_tracer__activate(t->tr);
	/* the pid was checked through the pidfd: still that process? */
	if (!rc && t->add.pidfd >= 0 && syscall(SYS_pidfd_send_signal, t->add.pidfd, 0, NULL, 0)) {
		am_err("pid %d exited during the attach", t->add.pid);
		rc = 1;
	}
	if (am_log_fp) {
		fclose(am_log_fp);
		am_log_fp = NULL;
	}
	if (rc) {
		char why[512];

		last_line(log ? log : "", why, sizeof(why));
		set_state(t, T_FAILED, why[0] ? why : "cannot trace it");
	}
	free(log);
	return rc ? -1 : 0;
}

static void *target_main(void *arg)
{
	struct am_srv_target *t = arg;
	struct am_trace_hooks hooks = {
		.ctx = t, .tick = hook_tick, .tick_ms = 250, .stop = hook_stop,
		.sink = { .ctx = t, .task = hook_task },
	};
	struct am_tracer_opts to = {
		.pids = &t->add.pid, .n_pids = 1, .verbosity = -1, .ringbuf_mb = t->ringbuf_mb,
		.os_only = t->add.mode == AM_SRV_OS,
		.stack_mode = t->add.mode == AM_SRV_OS ? AM_STACKS_OS : AM_STACKS_ALL,
		/* followed children are checked as their parent was only when
		 * root added it: a non-root owner's target is its process alone */
		.follow_forks = !t->add.owner_check,
		.hooks = &hooks, .embedded = true,
	};
	struct am_summary last;
	bool ran = false;

	if (start_tracer(t, &to) == 0) {
		pthread_mutex_lock(&t->mu);
		t->t0_ns = am_tracer__t0(t->tr);
		pthread_mutex_unlock(&t->mu);
		set_state(t, T_RUNNING, NULL);
		am_tracer__run(t->tr);
		am_tracer__finish(t->tr); /* the summary record goes to the history */
		am_tracer__snapshot(t->tr, &last);
		keep_summary(t, &last);
		keep_final_profiles(t);
		ran = true;
	}
	am_out__free(t->out);
	t->out = NULL;
	if (t->histf)
		fclose(t->histf);
	t->histf = NULL;
	if (ran)
		set_state(t, T_DONE, atomic_load(&t->stop) ? "removed" : "the process exited");
	am_tracer__free(t->tr); /* probes detached */
	t->tr = NULL;
	/* give the freed tracer's memory back (glibc keeps a thread's arena
	 * otherwise: a daemon's RSS would stay at its busiest) */
	malloc_trim(0);
	atomic_fetch_sub(&t->srv->threads, 1);
	wake(t->srv);
	am_srv_put(t);
	return NULL;
}

/* ---- the daemon's list ---- */

struct am_srv *am_srv_new(const struct am_srv_conf *conf, int wake_fd)
{
	struct am_srv *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	s->conf = *conf;
	s->wake_fd = wake_fd;
	s->next_id = 1;
	return s;
}

void am_srv_set_conf(struct am_srv *s, const struct am_srv_conf *conf)
{
	pthread_mutex_lock(&s->mu);
	s->conf = *conf;
	pthread_mutex_unlock(&s->mu);
}

static void target_free(struct am_srv_target *t)
{
	if (t->add.pidfd >= 0)
		close(t->add.pidfd);
	am_hist_free(&t->hist);
	free(t->pp_buf);
	free(t->pp_final[0]);
	free(t->pp_final[1]);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void am_srv_put(struct am_srv_target *t)
{
	if (t && atomic_fetch_sub(&t->refs, 1) == 1)
		target_free(t);
}

static void get(struct am_srv_target *t)
{
	atomic_fetch_add(&t->refs, 1);
}

static void fill_info(struct am_srv_target *t, uint32_t id)
{
	struct timespec now;

	t->info.id = id;
	t->info.pid = t->add.pid;
	t->info.uid = t->add.uid;
	t->info.mode = t->add.mode;
	t->info.alive = true;
	clock_gettime(CLOCK_REALTIME, &now);
	t->info.started_unix_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	read_comm(t->add.pid, t->info.comm, sizeof(t->info.comm));
}

struct am_srv_target *am_srv_add(struct am_srv *s, const struct am_srv_add *a, char *err, size_t errlen)
{
	struct am_srv_target *t;
	int e;

	pthread_mutex_lock(&s->mu);
	if (s->n_targets >= s->conf.max_targets) {
		pthread_mutex_unlock(&s->mu);
		snprintf(err, errlen, "too many targets (max_targets %u)", s->conf.max_targets);
		atomic_fetch_add(&s->dropped, 1);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || am_hist_init(&t->hist, s->conf.history_bytes)) {
		pthread_mutex_unlock(&s->mu);
		free(t);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->srv = s;
	t->add = *a;
	t->ringbuf_mb = a->mode == AM_SRV_OS ? s->conf.ringbuf_os_mb : s->conf.ringbuf_mb;
	atomic_init(&t->refs, 3); /* the list, the thread, the caller */
	fill_info(t, s->next_id++);
	t->next = s->list;
	s->list = t;
	s->n_targets++;
	pthread_mutex_unlock(&s->mu);
	atomic_fetch_add(&s->threads, 1);
	e = pthread_create(&t->th, NULL, target_main, t);
	if (e) {
		atomic_fetch_sub(&s->threads, 1);
		snprintf(err, errlen, "cannot start a thread: %s", strerror(e));
		t->add.pidfd = -1; /* the caller still owns it */
		set_state(t, T_FAILED, "cannot start a thread");
		am_srv_put(t); /* the thread's */
		am_srv_remove(s, t);
		am_srv_put(t);
		return NULL;
	}
	t->th_started = true;
	pthread_detach(t->th);
	return t;
}

int am_srv_target_ready(struct am_srv_target *t, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&t->mu);
	rc = t->state == T_ATTACHING ? 0 : t->state == T_FAILED ? -1 : 1;
	if (rc < 0)
		snprintf(err, errlen, "%s", t->why);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

void am_srv_remove(struct am_srv *s, struct am_srv_target *t)
{
	struct am_srv_target **pp;
	bool found = false;

	atomic_store(&t->stop, true);
	pthread_mutex_lock(&s->mu);
	for (pp = &s->list; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			s->n_targets--;
			found = true;
			pthread_mutex_lock(&t->mu);
			s->events_gone += t->sum.events;
			s->dropped_gone += t->hist.dropped;
			pthread_mutex_unlock(&t->mu);
			break;
		}
	pthread_mutex_unlock(&s->mu);
	if (found)
		am_srv_put(t);
}

bool am_srv_visible(const struct am_srv_viewer *v, const struct am_srv_target_info *t)
{
	return v->all || v->uid == t->uid;
}

static bool visible(const struct am_srv_viewer *v, struct am_srv_target *t)
{
	bool ok;

	pthread_mutex_lock(&t->mu);
	ok = am_srv_visible(v, &t->info);
	pthread_mutex_unlock(&t->mu);
	return ok;
}

void am_srv_each(struct am_srv *s, const struct am_srv_viewer *v,
		 void (*fn)(void *ctx, struct am_srv_target *t), void *ctx)
{
	struct am_srv_target **arr;
	size_t n = 0, cap;

	pthread_mutex_lock(&s->mu);
	cap = s->n_targets;
	arr = calloc(cap ? cap : 1, sizeof(*arr));
	for (struct am_srv_target *t = s->list; arr && t; t = t->next)
		if (n < cap && visible(v, t)) {
			get(t);
			arr[n++] = t;
		}
	pthread_mutex_unlock(&s->mu);
	/* oldest first */
	for (size_t i = n; i-- > 0;) {
		fn(ctx, arr[i]);
		am_srv_put(arr[i]);
	}
	free(arr);
}

/* pid > 0: the live target of pid first, else the latest exited one. */
static struct am_srv_target *find(struct am_srv *s, const struct am_srv_viewer *v, pid_t pid,
				  uint32_t id)
{
	struct am_srv_target *got = NULL;

	pthread_mutex_lock(&s->mu);
	for (struct am_srv_target *t = s->list; t; t = t->next) {
		bool alive;

		if ((pid && t->info.pid != pid) || (id && t->info.id != id) || !visible(v, t))
			continue;
		pthread_mutex_lock(&t->mu);
		alive = t->info.alive;
		pthread_mutex_unlock(&t->mu);
		if (!got || alive)
			got = t;
		if (alive)
			break;
	}
	if (got)
		get(got);
	pthread_mutex_unlock(&s->mu);
	return got;
}

struct am_srv_target *am_srv_find(struct am_srv *s, const struct am_srv_viewer *v, pid_t pid)
{
	return pid > 0 ? find(s, v, pid, 0) : NULL;
}

struct am_srv_target *am_srv_find_id(struct am_srv *s, const struct am_srv_viewer *v, uint32_t id)
{
	return id ? find(s, v, 0, id) : NULL;
}

void am_srv_target_info(struct am_srv_target *t, struct am_srv_target_info *out)
{
	pthread_mutex_lock(&t->mu);
	*out = t->info;
	out->history_dropped = t->hist.dropped;
	if (t->have_sum && t->sum.allocator)
		snprintf(out->allocator, sizeof(out->allocator), "%s", t->sum.allocator);
	pthread_mutex_unlock(&t->mu);
}

void am_srv_target_summary(struct am_srv_target *t, struct am_summary *out)
{
	pthread_mutex_lock(&t->mu);
	if (t->have_sum)
		*out = t->sum;
	else
		memset(out, 0, sizeof(*out));
	pthread_mutex_unlock(&t->mu);
}

int am_srv_target_summary_json(struct am_srv_target *t, char **buf, size_t *len)
{
	struct am_out_opts oo = { .json = true };
	struct am_summary sum;
	struct am_out *o;
	char *mem = NULL, *line;
	size_t n = 0;
	FILE *f;

	am_srv_target_summary(t, &sum);
	pthread_mutex_lock(&t->mu);
	oo.t0_ns = t->t0_ns;
	pthread_mutex_unlock(&t->mu);
	f = open_memstream(&mem, &n);
	if (!f)
		return -1;
	oo.f = f;
	o = am_out__new(&oo);
	if (o) {
		sum.stack_mode = AM_STACKS_OFF; /* no leaks record: the sites stay in the thread */
		am_out__summary(o, &sum);
		am_out__free(o);
	}
	fclose(f);
	if (!o || !mem) {
		free(mem);
		return -1;
	}
	/* the summary record is the last line */
	while (n && mem[n - 1] == '\n')
		mem[--n] = 0;
	line = strrchr(mem, '\n');
	line = line ? line + 1 : mem;
	memmove(mem, line, strlen(line) + 1);
	*buf = mem;
	*len = strlen(mem);
	return 0;
}

int am_srv_target_pprof(struct am_srv_target *t, bool heap, uint8_t **out, size_t *len,
			char *err, size_t errlen)
{
	struct timespec until;
	unsigned ms = t->srv->conf.pprof_timeout_ms;
	int rc = -1, w = 0;

	*out = NULL;
	*len = 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->mu);
	/* one request at a time per target */
	while (t->pp_want && !t->pp_ready && w != ETIMEDOUT && t->state <= T_RUNNING)
		w = pthread_cond_timedwait(&t->cv, &t->mu, &until);
	if (t->state > T_RUNNING && t->pp_final[!heap]) {
		/* ended: the profile as the trace ended */
		*out = malloc(t->pp_final_len[!heap]);
		if (*out) {
			memcpy(*out, t->pp_final[!heap], t->pp_final_len[!heap]);
			*len = t->pp_final_len[!heap];
			rc = 0;
		} else {
			snprintf(err, errlen, "out of memory");
		}
	} else if (t->state > T_RUNNING) {
		snprintf(err, errlen, "%s", "the target is no longer traced");
	} else if (w != ETIMEDOUT) {
		t->pp_want = heap ? 1 : 2;
		t->pp_ready = false;
		while (!t->pp_ready && w != ETIMEDOUT)
			w = pthread_cond_timedwait(&t->cv, &t->mu, &until);
		if (t->pp_ready) {
			rc = t->pp_rc;
			*out = t->pp_buf;
			*len = t->pp_len;
			t->pp_buf = NULL;
			if (rc)
				snprintf(err, errlen, "%s", t->pp_err);
		} else {
			snprintf(err, errlen, "timed out");
		}
		t->pp_want = 0;
		if (t->state <= T_RUNNING)
			t->pp_ready = false;
		pthread_cond_broadcast(&t->cv);
	} else {
		snprintf(err, errlen, "timed out");
	}
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int am_srv_target_history(struct am_srv_target *t, char **buf, size_t *len)
{
	int rc;

	pthread_mutex_lock(&t->mu);
	rc = am_hist_copy(&t->hist, 0, buf, len);
	pthread_mutex_unlock(&t->mu);
	return rc;
}

int am_srv_target_read(struct am_srv_target *t, uint64_t *cursor, char **buf, size_t *len,
		       uint64_t *gap, bool *over)
{
	int rc;

	pthread_mutex_lock(&t->mu);
	*gap = *cursor < t->hist.start ? t->hist.start - *cursor : 0;
	rc = am_hist_copy(&t->hist, *cursor, buf, len);
	if (!rc)
		*cursor = t->hist.end;
	*over = t->state >= T_FAILED;
	pthread_mutex_unlock(&t->mu);
	return rc;
}

const char *am_srv_target_state(struct am_srv_target *t)
{
	static const char *const names[] = { "attaching", "tracing", "failed", "ended" };
	enum tstate st;

	pthread_mutex_lock(&t->mu);
	st = t->state;
	pthread_mutex_unlock(&t->mu);
	return names[st];
}

void am_srv_target_end_reason(struct am_srv_target *t, char *out, size_t len)
{
	pthread_mutex_lock(&t->mu);
	snprintf(out, len, "%s", t->state >= T_FAILED ? t->why : "");
	pthread_mutex_unlock(&t->mu);
}

/* Drops exited targets older than the linger time. */
void am_srv_housekeep(struct am_srv *s)
{
	uint64_t now = mono_ns();
	struct am_srv_target *drop[64];
	struct am_srv_stats st;
	size_t n = 0;

	am_srv_stats(s, &st); /* the events/s window moves on whether or not anyone asks */

	pthread_mutex_lock(&s->mu);
	for (struct am_srv_target *t = s->list; t && n < 64; t = t->next) {
		bool old;

		pthread_mutex_lock(&t->mu);
		/* done after now was read (it just ended): not old */
		old = t->state >= T_FAILED && t->done_mono_ns && t->done_mono_ns < now &&
		      now - t->done_mono_ns > (uint64_t)s->conf.linger_s * 1000000000ULL;
		pthread_mutex_unlock(&t->mu);
		if (old) {
			get(t);
			drop[n++] = t;
		}
	}
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		am_srv_remove(s, drop[i]);
		am_srv_put(drop[i]);
	}
}

/* Every target stopped; returns once every thread has detached its probes. */
void am_srv_stop_all(struct am_srv *s)
{
	pthread_mutex_lock(&s->mu);
	for (struct am_srv_target *t = s->list; t; t = t->next)
		atomic_store(&t->stop, true);
	pthread_mutex_unlock(&s->mu);
	while (atomic_load(&s->threads) > 0)
		usleep(10000);
}

void am_srv_free(struct am_srv *s)
{
	struct am_srv_target *t, *next;

	if (!s)
		return;
	for (t = s->list; t; t = next) {
		next = t->next;
		am_srv_put(t);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void am_srv_set_clients(struct am_srv *s, unsigned n)
{
	atomic_store(&s->clients, n);
}

void am_srv_count_drop(struct am_srv *s, uint64_t n)
{
	atomic_fetch_add(&s->dropped, n);
}

static uint64_t self_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long size = 0, res = 0;

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

void am_srv_stats(struct am_srv *s, struct am_srv_stats *out)
{
	uint64_t events, dropped, now = mono_ns();
	unsigned live = 0;
	double fill = 0;

	pthread_mutex_lock(&s->mu);
	events = s->events_gone;
	dropped = s->dropped_gone;
	for (struct am_srv_target *t = s->list; t; t = t->next) {
		pthread_mutex_lock(&t->mu);
		events += t->sum.events;
		dropped += t->hist.dropped;
		live += t->info.alive;
		if (t->info.alive && t->ring_fill > fill)
			fill = t->ring_fill;
		pthread_mutex_unlock(&t->mu);
	}
	if (!s->rate_ns || now - s->rate_ns >= 2000000000ULL) {
		if (s->rate_ns && events >= s->rate_events)
			s->rate = (double)(events - s->rate_events) / ((double)(now - s->rate_ns) / 1e9);
		s->rate_ns = now;
		s->rate_events = events;
	}
	*out = (struct am_srv_stats){
		.events = events, .events_per_s = s->rate, .ringbuf_fill = fill,
		.rss_bytes = self_rss(), .targets = live,
		.dropped = dropped + atomic_load(&s->dropped), .clients = atomic_load(&s->clients),
	};
	pthread_mutex_unlock(&s->mu);
}
