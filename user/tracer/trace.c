// SPDX-License-Identifier: GPL-2.0
/* trace.c - the `allocmap trace` runtime: checks privileges and BTF, resolves
 * where each allocator function lives in every target, loads the BPF object,
 * attaches the syscall tracepoints and the per-pid uprobes (at the placement
 * chosen by placement.c), launches a held command if asked, and pumps the
 * ring buffer into the correlator until a signal, -d, or the targets' exit.
 * It is the only module besides main.c that talks to libbpf. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "correlate.h" /* before the skeleton: it uses struct am_counters */
#include "allocmap.skel.h"
#include "folded.h"
#include "pprof.h"
#include "glibc_params.h"
#include "log.h"
#include "output.h"
#include "placement.h"
#include "report.h"
#include "resolve.h"
#include "safeio.h"
#include "warnagg.h"
#include "trace.h"
#include "unwind.h"
#include "proc.h"
#include "guard.h"

extern char **environ;

#define MAX_TRACKED 1024 /* processes followed in one run (-p and -f children) */

/* ---- a sink that forwards every record to several sinks ---- */

#define TEE_MAX 5

struct tee {
	struct am_sink s[TEE_MAX];
	int n;
};

static void tee_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].call)
			t->s[i].call(t->s[i].ctx, c, os, n);
}

static void tee_os(void *ctx, const struct am_os_rec *o)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].os)
			t->s[i].os(t->s[i].ctx, o);
}

static void tee_threshold(void *ctx, const struct am_threshold_rec *r)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].threshold)
			t->s[i].threshold(t->s[i].ctx, r);
}

static void tee_task(void *ctx, const struct am_task_event *e)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].task)
			t->s[i].task(t->s[i].ctx, e);
}

static void tee_summary(void *ctx, const struct am_summary *sum)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].summary)
			t->s[i].summary(t->s[i].ctx, sum);
}

static struct am_sink tee_sink(struct tee *t)
{
	return (struct am_sink){
		.ctx = t, .call = tee_call, .os = tee_os, .threshold = tee_threshold,
		.task = tee_task, .summary = tee_summary,
	};
}

/* The reaper: a thread that detaches the probes of processes that exited
 * (see reaper_main). */
struct reaper {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bpf_link **q;      /* links waiting to be destroyed */
	size_t n, cap;
	bool stop, running;
	pthread_t th;
};

/* One traced process and its uprobe links. */
struct target {
	pid_t pid;
	bool alive;                                  /* not seen exiting yet */
	bool launched;                               /* the command we started */
	int execs;                                   /* exec events seen */
	struct am_resolution *res;                   /* where the probes went */
	bool held;                                   /* stopped from BPF until its probes are in */
	struct bpf_link *links[AM_FN_MAX][2];        /* [fn][0 entry, 1 return] */
};

struct tracer {
	const struct am_trace_opts *opts;
	struct allocmap_bpf *skel;
	struct ring_buffer *rb;
	struct am_corr *corr;
	struct am_out *out;
	FILE *outf;
	struct am_out *capture;   /* full JSONL for --html/--perfetto */
	FILE *capf;
	char cap_path[64];        /* /proc/self/fd/N of the unlinked capture */
	char cap_dir[256];        /* the directory it is in ($TMPDIR, /tmp) */
	struct tee tee;
	struct target targets[MAX_TRACKED];
	int n_targets;
	struct am_unw *unw;       /* --stacks: unwinder and symbolizer */
	struct am_folded *folded; /* --folded / --folded-alloc */
	struct am_summary sum;    /* the summary at the end */
	struct am_frame frames[AM_UNW_MAX_FRAMES];
	uint64_t unattached;   /* probes that could not be attached */
	bool probed[AM_FN_MAX];   /* functions probed in some process */
	struct reaper reaper;     /* detaches the probes of exited processes */
	struct am_guard *guard;   /* continues held targets if we die */
	bool fatal;            /* stop the event loop: error already printed */
	struct am_warnagg *warns; /* failed attaches, one line per errno (warnagg.h) */
	bool running;          /* past the initial attach: in the event loop */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int libbpf_verbosity;

/* libbpf's chatter only with -vv */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	(void)level;
	if (libbpf_verbosity < 2)
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* The BPF cookie of a probe (bpf/allocmap.h): the function, its role, and
 * where the arguments are when the placement reads them from copies. */
static __u64 probe_cookie(int fn, const struct am_placement *pl, bool noret)
{
	int n = am_fn_nargs(fn);
	__u64 c = 0;
	bool moved = false;

	for (int i = 0; i < n && i < 3; i++) {
		c |= (__u64)(pl->argreg[i] & 0xf) << (4 * i);
		moved |= pl->argreg[i] != i;
	}
	c = moved ? c | AM_COOKIE_ARGMAP : 0;
	return c | AM_COOKIE_MAKE(fn, am_fn_role(fn)) | (noret ? AM_COOKIE_NORET : 0) |
	       (am_fn_info(fn)->user ? AM_COOKIE_USER : 0);
}

/* Functions traced without a return probe (--free-noret: free's role). */
static bool fn_noret(const struct tracer *tr, int fn)
{
	return tr->opts->free_noret && am_role_frees(am_fn_role(fn));
}

struct detach_job {
	struct bpf_link **links;
	size_t n, start, step;
};

static void *detach_worker(void *arg)
{
	struct detach_job *j = arg;

	for (size_t i = j->start; i < j->n; i += j->step)
		bpf_link__destroy(j->links[i]);
	return NULL;
}

/* Destroys links[0..n). Each uprobe costs the kernel an RCU grace period
 * (~80 ms here) when its perf event is closed; done one after the other,
 * 18 probes took 1.5 s. Closed from several threads the waits overlap. */
static void detach_links(struct bpf_link **links, size_t n)
{
	enum { WORKERS = 8 };
	struct detach_job jobs[WORKERS];
	pthread_t th[WORKERS];
	bool started[WORKERS] = { false };

	for (int w = 0; w < WORKERS; w++) {
		jobs[w] = (struct detach_job){ .links = links, .n = n, .start = (size_t)w, .step = WORKERS };
		started[w] = n > 1 && pthread_create(&th[w], NULL, detach_worker, &jobs[w]) == 0;
		if (!started[w])
			detach_worker(&jobs[w]);
	}
	for (int w = 0; w < WORKERS; w++)
		if (started[w])
			pthread_join(th[w], NULL);
}

/* Moves the links of t[0..count) into out[]; returns how many. */
static size_t take_links(struct target *t, size_t count, struct bpf_link **out)
{
	size_t n = 0;

	for (size_t i = 0; i < count; i++)
		for (int fn = 0; fn < AM_FN_MAX; fn++)
			for (int r = 0; r < 2; r++)
				if (t[i].links[fn][r]) {
					out[n++] = t[i].links[fn][r];
					t[i].links[fn][r] = NULL;
				}
	return n;
}

/* Detaches the probes of one target (its image changed allocator). */
static void detach_target(struct target *t)
{
	struct bpf_link *links[AM_FN_MAX * 2];

	detach_links(links, take_links(t, 1, links));
}

static bool fd_in(int fd, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

/* Hands the last references to the links' uprobes to a detached process,
 * which closes them while allocmap exits: each close waits for an RCU grace
 * period in the kernel (~55 ms a probe, ~1 s for a glibc target), which the
 * user would otherwise wait for after the command is over. Only when every
 * target has exited: no probe can fire any more, and none is left in a live
 * process. Returns 0 when handed over (the caller still destroys its own
 * copies: cheap, the child holds the uprobes), -1 to detach here. */
static int handoff_links(struct bpf_link **links, size_t n)
{
	int *fds = calloc(n ? n : 1, sizeof(*fds));
	pid_t pid;

	if (!fds)
		return -1;
	for (size_t i = 0; i < n; i++)
		fds[i] = bpf_link__fd(links[i]);
	pid = fork();
	if (pid < 0) {
		free(fds);
		return -1;
	}
	if (pid == 0) {
		DIR *d;
		struct dirent *de;

		if (fork() != 0)
			_exit(0); /* the grandchild is init's: nobody waits for it */
		setsid();
		/* keep nothing but the links: not the output pipes (a reader
		 * waits for their end), not the guardian's pipe */
		d = opendir("/proc/self/fd");
		while (d && (de = readdir(d))) {
			char *end;
			long fd = strtol(de->d_name, &end, 10);

			if (!*end && fd != dirfd(d) && !fd_in((int)fd, fds, n))
				close((int)fd);
		}
		if (d)
			closedir(d);
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
		_exit(0);
	}
	free(fds);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 0;
}

static struct bpf_link **reaper_stop(struct reaper *r, size_t *n);

/* Detaches every uprobe: the live targets' and those the reaper had not
 * begun. */
static void detach_all(struct tracer *tr)
{
	struct bpf_link **links, **late;
	bool alive = false;
	size_t n, n_late = 0;

	late = reaper_stop(&tr->reaper, &n_late);
	links = calloc((size_t)tr->n_targets * AM_FN_MAX * 2 + n_late + 1, sizeof(*links));
	if (!links) {
		for (int i = 0; i < tr->n_targets; i++)
			detach_target(&tr->targets[i]);
		detach_links(late, n_late);
		free(late);
		return;
	}
	n = take_links(tr->targets, (size_t)tr->n_targets, links);
	if (n_late)
		memcpy(links + n, late, n_late * sizeof(*late));
	n += n_late;
	free(late);
	for (int i = 0; i < tr->n_targets; i++)
		alive |= tr->targets[i].alive && am_proc_alive(tr->targets[i].pid);
	if (!alive && n > 1 && handoff_links(links, n) == 0) {
		for (size_t i = 0; i < n; i++)
			bpf_link__destroy(links[i]);
	} else {
		detach_links(links, n);
	}
	free(links);
}

/* The function resolved at the same place as fn before it (glibc: memalign
 * and aligned_alloc are one function), or -1: two probes there would report
 * every call twice. */
static int alias_of(const struct am_resolution *res, int fn)
{
	const struct am_fn_probe *p = &res->fn[fn];

	for (int k = 0; k < fn && p->found; k++)
		if (res->fn[k].found && res->fn[k].func_off == p->func_off &&
		    !strcmp(res->fn[k].path, p->path))
			return k;
	return -1;
}

/* Attaches one probe (r: the return probe) of fn. 0 or -1 (counted, printed). */
static int attach_one(struct tracer *tr, struct target *t, int fn, int r)
{
	const struct am_fn_probe *p = &t->res->fn[fn];
	uint64_t off = p->func_off + p->place.offset;
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = r,
		    .bpf_cookie = probe_cookie(fn, &p->place, fn_noret(tr, fn)));
	struct bpf_link *l;

	l = bpf_program__attach_uprobe_opts(r ? tr->skel->progs.alloc_exit : tr->skel->progs.alloc_enter,
					    t->pid, p->path, off, &uo);
	if (!l) {
		int err = errno;

		tr->unattached++;
		if (tr->opts->verbosity > 0)
			am_warn("cannot attach %s probe to %s in pid %d (%s+0x%llx): %s",
				r ? "return" : "entry", am_fn_name(fn), t->pid, p->obj,
				(unsigned long long)off, strerror(err));
		am_warnagg__add(tr->warns, "probe not attached", "probes not attached", t->pid, err);
		return -1;
	}
	t->links[fn][r] = l;
	return 0;
}

/* Attaches the probes of every resolved function to pid: every return
 * probe first, then the entry probes, so that no entry is ever seen without
 * its return (a return without an entry is harmless: bpf counts it). A
 * function that no loaded object defines is absent, not a failed attach.
 * Returns the number of attached functions; failures are counted in
 * tr->unattached and named on stderr. */
static int attach_target(struct tracer *tr, struct target *t)
{
	const struct am_resolution *res = t->res;
	bool failed[AM_FN_MAX] = { false };
	int attached = 0;

	if (res->no_alloc)
		return 0;
	for (int r = 1; r >= 0; r--)
		for (int fn = 0; fn < am_fn_count(); fn++) {
			if (!res->fn[fn].found || alias_of(res, fn) >= 0 || failed[fn])
				continue;
			if (r && fn_noret(tr, fn))
				continue;
			if (attach_one(tr, t, fn, r))
				failed[fn] = true;
		}
	for (int fn = 0; fn < am_fn_count(); fn++) {
		const struct am_fn_probe *p = &res->fn[fn];
		int alias = alias_of(res, fn);

		if (!p->found) {
			if (tr->opts->verbosity > 0)
				am_info("probe %-14s absent: %s", am_fn_name(fn),
					p->place.why[0] ? p->place.why : "no loaded object defines it");
			continue;
		}
		if (alias >= 0) {
			if (tr->opts->verbosity > 0)
				am_info("probe %-14s is the same function as %s: its calls are reported as %s",
					am_fn_name(fn), am_fn_name(alias), am_fn_name(alias));
			attached++;
			continue;
		}
		if (failed[fn]) {
			if (t->links[fn][0] || t->links[fn][1]) {
				/* half a pair is worse than none */
				bpf_link__destroy(t->links[fn][0]);
				bpf_link__destroy(t->links[fn][1]);
				t->links[fn][0] = t->links[fn][1] = NULL;
			}
			continue;
		}
		attached++;
		tr->probed[fn] = true;
		if (tr->opts->verbosity > 0)
			am_info("probe %-14s %s+0x%llx: +%llu %s%s (%s)", am_fn_name(fn), p->obj,
				(unsigned long long)p->func_off, (unsigned long long)p->place.offset,
				p->place.insn, p->place.emulated ? ", emulated" : ", single-stepped",
				p->place.why);
	}
	/* once tracing, processes that exited before their probes were in
	 * (short-lived -f children) are counted in one line at the end */
	am_warnagg__flush(tr->warns, stderr, tr->running);
	return attached;
}

/* The target pid, preferring one still alive (a pid can be reused after
 * a followed process exited). */
static struct target *find_target(struct tracer *tr, pid_t pid)
{
	struct target *dead = NULL;

	for (int i = 0; i < tr->n_targets; i++)
		if (tr->targets[i].pid == pid) {
			if (tr->targets[i].alive)
				return &tr->targets[i];
			dead = &tr->targets[i];
		}
	return dead;
}

/* ---- the reaper: detaches the probes of processes that exited, in the
 * background (each uprobe costs an RCU grace period to close), so a long
 * -f run neither keeps them all to the end nor stalls its event loop ---- */


static void *reaper_main(void *arg)
{
	struct reaper *r = arg;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		struct bpf_link **batch;
		size_t n;

		while (!r->n && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->n)
			break;
		batch = r->q;
		n = r->n;
		r->q = NULL;
		r->n = r->cap = 0;
		pthread_mutex_unlock(&r->mu);
		detach_links(batch, n);
		free(batch);
		pthread_mutex_lock(&r->mu);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Queues the links of an exited target; destroys them here if the queue
 * cannot grow or no thread runs. */
static void reaper_add(struct reaper *r, struct target *t)
{
	struct bpf_link *links[AM_FN_MAX * 2];
	size_t n = take_links(t, 1, links);

	if (!n)
		return;
	pthread_mutex_lock(&r->mu);
	if (!r->running)
		r->running = pthread_create(&r->th, NULL, reaper_main, r) == 0;
	if (r->running && r->n + n > r->cap) {
		size_t cap = (r->n + n) * 2;
		struct bpf_link **q = realloc(r->q, cap * sizeof(*q));

		if (q) {
			r->q = q;
			r->cap = cap;
		}
	}
	if (r->running && r->n + n <= r->cap) {
		memcpy(r->q + r->n, links, n * sizeof(*links));
		r->n += n;
		pthread_cond_signal(&r->cv);
		n = 0;
	}
	pthread_mutex_unlock(&r->mu);
	if (n)
		detach_links(links, n);
}

/* Stops the reaper; the links it had not begun are returned (*n) for the
 * final detach. Waits for a batch in progress. */
static struct bpf_link **reaper_stop(struct reaper *r, size_t *n)
{
	struct bpf_link **q;

	pthread_mutex_lock(&r->mu);
	q = r->q;
	*n = r->n;
	r->q = NULL;
	r->n = r->cap = 0;
	r->stop = true;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->running)
		pthread_join(r->th, NULL);
	r->running = false;
	return q;
}

/* Sets pid's entry in the BPF targets map. */
static void set_target(struct tracer *tr, pid_t pid, uint64_t since, uint32_t flags)
{
	struct am_bpf_target v = { .since = since, .flags = flags };
	__u32 key = (__u32)pid;

	bpf_map__update_elem(tr->skel->maps.targets, &key, sizeof(key), &v, sizeof(v), BPF_ANY);
}

/* Adds pid to the processes followed. v: its BPF targets entry, or NULL when
 * the BPF side made it (a -f child). */
static struct target *add_target(struct tracer *tr, pid_t pid, const struct am_bpf_target *v)
{
	struct target *t;

	t = NULL;
	if (tr->n_targets < MAX_TRACKED) {
		t = &tr->targets[tr->n_targets++];
	} else {
		/* reuse the slot of a process that exited and was reaped */
		for (int i = 0; i < tr->n_targets && !t; i++)
			if (!tr->targets[i].alive && !tr->targets[i].res)
				t = &tr->targets[i];
		if (!t)
			return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->pid = pid;
	t->alive = true;
	t->res = calloc(1, sizeof(*t->res));
	if (!t->res)
		return NULL;
	am_guard__add(tr->guard, pid);
	if (v)
		set_target(tr, pid, v->since, v->flags);
	return t;
}

/* Continues a process the BPF side stopped until its probes were in. */
static void release_held(struct tracer *tr, pid_t pid)
{
	__u32 key = (__u32)pid;

	if (kill(pid, SIGCONT) && errno != ESRCH)
		am_warn("cannot continue pid %d: %s", pid, strerror(errno));
	bpf_map__delete_elem(tr->skel->maps.held, &key, sizeof(key), 0);
}

/* Do two resolutions put every probe at the same place of the same file? */
static bool same_probes(const struct am_resolution *a, const struct am_resolution *b)
{
	if (a->no_alloc != b->no_alloc)
		return false;
	for (int fn = 0; fn < am_fn_count(); fn++) {
		const struct am_fn_probe *x = &a->fn[fn], *y = &b->fn[fn];
		struct stat sx, sy;

		if (x->found != y->found)
			return false;
		if (!x->found)
			continue;
		if (x->func_off + x->place.offset != y->func_off + y->place.offset)
			return false;
		if (stat(x->path, &sx) || stat(y->path, &sy) || sx.st_dev != sy.st_dev ||
		    sx.st_ino != sy.st_ino)
			return false;
	}
	return true;
}

/* The rules of the allocator process pid binds (glibc's threshold, musl's
 * groups), when it is not the first target's: another -p target, an exec. */
static void corr_allocator(struct tracer *tr, pid_t pid, const struct am_resolution *r)
{
	if (!tr->opts->os_only)
		am_corr__set_allocator(tr->corr, (uint32_t)pid, r->kind == AM_ALLOC_GLIBC && !r->no_alloc,
				       r->kind == AM_ALLOC_MUSL && !r->musl_not_ng && !r->no_alloc);
}

/* A traced process forked (with -f): trace the child with the parent's
 * probes (same image), or exec'd: resolve its new image and re-attach. */
static void handle_task(struct tracer *tr, const struct am_task_event *e)
{
	struct target *t;

	switch (e->kind) {
	case AM_TASK_FORK: {
		struct target *parent = find_target(tr, (pid_t)e->pid);

		t = find_target(tr, (pid_t)e->child);
		if (t && t->alive)
			return;
		t = add_target(tr, (pid_t)e->child, NULL);
		if (!t) {
			am_warn("too many processes to follow: pid %u not traced", e->child);
			return;
		}
		if (parent && parent->res)
			*t->res = *parent->res;
		attach_target(tr, t);
		/* it is held at its return from fork (AM_TASK_HELD, next) */
		break;
	}
	case AM_TASK_HELD:
		t = find_target(tr, (pid_t)e->pid);
		if (!t) { /* its fork record was lost: resolve it afresh */
			char err[256];

			t = add_target(tr, (pid_t)e->pid, NULL);
			if (t && am_resolve_pid(t->pid, t->res, err, sizeof(err)) == 0)
				attach_target(tr, t);
		}
		release_held(tr, (pid_t)e->pid);
		break;
	case AM_TASK_EXEC: {
		struct am_resolution *nr;
		char exe[64], err[256];
		char **env;
		int rc;

		t = find_target(tr, (pid_t)e->pid);
		if (!t) {
			if (e->code)
				release_held(tr, (pid_t)e->pid);
			return;
		}
		if (t->launched && t->execs++ == 0)
			return; /* our own launch: probes were attached before the exec */
		/* resolve at once: the process is held (e->code) until then */
		nr = calloc(1, sizeof(*nr));
		if (!nr) {
			if (e->code)
				release_held(tr, (pid_t)e->pid);
			return;
		}
		snprintf(exe, sizeof(exe), "/proc/%u/exe", e->pid);
		env = am_read_environ((pid_t)e->pid);
		rc = am_resolve_exec(exe, env ? env : environ, nr, err, sizeof(err));
		free(env);
		if (rc >= 0)
			corr_allocator(tr, (pid_t)e->pid, nr);
		if (rc < 0) {
			if (am_proc_alive((pid_t)e->pid))
				am_warn("pid %u exec'd an image allocmap cannot trace: %s", e->pid, err);
		} else if (!same_probes(t->res, nr)) {
			/* another allocator: move the probes (a uprobe follows its
			 * task across exec, so the same library needs nothing) */
			detach_target(t);
			*t->res = *nr;
			attach_target(tr, t);
			if (nr->no_alloc && tr->opts->verbosity >= 0)
				am_info("pid %u exec'd an image with no allocator to probe (%s): its memory "
					"syscalls only", e->pid, nr->no_alloc_why);
		}
		free(nr);
		if (e->code)
			release_held(tr, (pid_t)e->pid);
		break;
	}
	case AM_TASK_EXIT:
		t = find_target(tr, (pid_t)e->pid);
		if (t && t->alive) {
			/* its probes go now, and its resolution (0.5 MB): a long
			 * -f run keeps only what its live processes need */
			t->alive = false;
			reaper_add(&tr->reaper, t);
			free(t->res);
			t->res = NULL;
		}
		break;
	}
}

/* Processes the BPF side stopped whose event never came (the ring was
 * full): after 200 ms in the held map, handle them as if it had (a known
 * target re-resolves its image, an unknown one is added), and continue
 * them. A process must never stay stopped because an event was lost. */
static void sweep_held(struct tracer *tr)
{
	int fd = bpf_map__fd(tr->skel->maps.held);
	__u32 key, next, *prev = NULL, pids[64];
	uint64_t now = am_now_ns();
	size_t n = 0;
	__u64 ts;

	while (n < 64 && !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(fd, &key, &ts) && ts + 200000000ULL < now)
			pids[n++] = key;
	}
	for (size_t i = 0; i < n; i++) {
		struct am_task_event e = { .type = AM_EV_TASK, .pid = pids[i], .tid = pids[i] };
		struct target *t = find_target(tr, (pid_t)pids[i]);

		e.kind = t && t->alive ? AM_TASK_EXEC : AM_TASK_HELD;
		e.code = 1;
		if (t && t->launched && t->execs == 0)
			t->execs = 1; /* not its launch exec: that one is never held */
		handle_task(tr, &e);
		release_held(tr, (pid_t)pids[i]); /* whatever happened above */
	}
}

/* Stacks are unwound and symbolized as they arrive, while the process most
 * likely still lives; the module layout is refreshed from /proc/PID/maps on
 * exec and whenever the process maps a file executable (ld.so, dlopen). */
static void stack_event(struct tracer *tr, const void *data, size_t len)
{
	const struct am_stack_event *e = data;
	uint32_t flags;
	int cut;
	size_t n;

	if (len < sizeof(*e))
		return;
	n = am_unw__stack(tr->unw, data, len, tr->frames, AM_UNW_MAX_FRAMES, &flags, &cut);
	am_corr__stack(tr->corr, e->kind, e->id, e->pid, tr->frames, n, flags, cut);
}

/* Frees are traced without a return probe: the BPF side reports one when
 * its thread's stack has moved on. The last free of each thread is still
 * pending when the trace stops; report those from the threads map. */
static void flush_noret(struct tracer *tr)
{
	int fd = bpf_map__fd(tr->skel->maps.threads);
	__u32 key, next, *prev = NULL;
	struct am_bpf_thread st;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &st))
			continue;
		for (__u32 i = 0; i < st.depth && i < AM_MAX_DEPTH; i++) {
			const struct am_bpf_frame *f = &st.f[i];
			struct am_call_event e = {
				.type = AM_EV_CALL, .fn = f->fn, .depth = (__u8)i,
				.flags = AM_CALL_NORET | (i ? AM_CALL_NESTED : 0) |
					 (f->from_obj ? AM_CALL_FROM_OBJ : 0),
				.n_os = i ? 0 : f->n_os, .pid = st.tgid, .tid = key, .id = f->id,
				.ts_enter = f->ts, .args = { f->args[0], f->args[1], f->args[2] },
			};

			if (f->noret)
				am_corr__event(tr->corr, &e, sizeof(e));
		}
	}
}

/* glibc's mmap threshold of an attached process as it is now, read from
 * its mp_ (glibc_params.c); unknown, and narrowed later, when it cannot be. */
static void attach_threshold(struct tracer *tr, const struct target *t)
{
	char why[PATH_MAX + 256];
	struct am_thr th = am_glibc_attach_threshold(t->pid, t->res->alloc_obj, why, sizeof(why));

	am_corr__set_threshold(tr->corr, (uint32_t)t->pid, &th);
	if (tr->opts->verbosity > 0 || (!th.known && tr->opts->verbosity == 0))
		am_info("%s", why);
}

/* After an exec: glibc's start value, or what the new environment pins;
 * the launched command's own exec keeps what its launch environment said. */
static void exec_threshold(struct tracer *tr, const struct am_task_event *e)
{
	const struct target *t = find_target(tr, (pid_t)e->pid);
	struct am_thr th;

	if (t && t->launched && t->execs <= 1)
		return;
	th = am_glibc_exec_threshold((pid_t)e->pid);
	am_corr__set_threshold(tr->corr, e->pid, &th);
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct tracer *tr = ctx;
	const struct am_task_event *te = data;
	const uint8_t type = len ? *(const uint8_t *)data : 0;

	if (type == AM_EV_STACK) {
		if (tr->unw)
			stack_event(tr, data, len);
		return 0;
	}
	if (len >= sizeof(*te) && te->type == AM_EV_TASK) {
		handle_task(tr, te);
		if (te->kind == AM_TASK_HELD)
			return 0; /* for the tracer only */
		if (tr->unw && te->kind == AM_TASK_EXEC)
			am_unw__exec(tr->unw, te->pid, te->ts);
		/* every record of a process comes before its exit: a -f run
		 * over thousands of children must not keep each one's Dwfl */
		if (tr->unw && te->kind == AM_TASK_EXIT)
			am_unw__exit(tr->unw, te->pid);
	}
	if (tr->unw && type == AM_EV_OS && len >= sizeof(struct am_os_event)) {
		struct am_os_event oe;

		memcpy(&oe, data, sizeof(oe));
		if (oe.sys == AM_SYS_MMAP && (oe.args[2] & 4 /* PROT_EXEC */) && (int32_t)oe.args[4] >= 0 &&
		    !(oe.ret < 0 && oe.ret >= -4095))
			am_unw__refresh(tr->unw, oe.pid);
	}
	am_corr__event(tr->corr, data, len);
	if (len >= sizeof(*te) && te->type == AM_EV_TASK && te->kind == AM_TASK_EXEC)
		exec_threshold(tr, te);
	return 0;
}

/* --stacks: the thread that reads /proc/PID/maps the moment the BPF side
 * says a traced process's module layout changed (exec, a file mapped
 * executable). The main consumer cannot be trusted to do it in time: the
 * first symbolization of a large object takes tens of milliseconds, long
 * enough for a short command to exit, taking its maps with it. */
struct maps_watch {
	struct ring_buffer *rb;
	struct am_unw *unw;
	pthread_t thread;
	volatile int stop;
	bool running;
};

static int on_maps_event(void *ctx, void *data, size_t len)
{
	struct maps_watch *w = ctx;
	uint32_t pid;

	if (len >= sizeof(pid)) {
		memcpy(&pid, data, sizeof(pid));
		am_unw__snapshot(w->unw, pid);
	}
	return 0;
}

static void *maps_thread(void *arg)
{
	struct maps_watch *w = arg;
	struct sched_param sp = { .sched_priority = 1 };

	/* run the moment it is woken, ahead of the target and of the busy
	 * consumer: a short command may exit a few hundred microseconds after
	 * mapping its last library (best effort: ignored if refused) */
	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);

	while (!w->stop)
		ring_buffer__poll(w->rb, 50);
	return NULL;
}

/* An unlinked temporary file for the --html/--perfetto capture, in $TMPDIR
 * (else /tmp; the directory is written into dir): O_TMPFILE, else mkstemp
 * and unlink at once, so that nothing is left behind whatever kills
 * allocmap. The fd (close-on-exec), or -1 with errno. */
static int capture_file(char *dir, size_t dirlen)
{
	const char *t = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd, e;

	snprintf(dir, dirlen, "%s", t && *t ? t : "/tmp");
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	/* a file system without O_TMPFILE */
	if (snprintf(path, sizeof(path), "%s/allocmap-XXXXXX", dir) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (unlink(path) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Writes the --folded / --folded-alloc files. 0 or -1 (printed). */
static int write_folded(struct tracer *tr)
{
	const char *path[2] = { tr->opts->folded, tr->opts->folded_alloc };
	int ret = 0;

	for (int k = 0; k < 2; k++) {
		char why[PATH_MAX + 128];
		FILE *f;

		if (!path[k])
			continue;
		f = am_fopen_output(path[k], why, sizeof(why));
		if (!f) {
			am_err("cannot write %s: %s", path[k], why);
			ret = -1;
			continue;
		}
		if (am_folded__write(tr->folded, k, f) < 0) {
			am_err("cannot write %s: %s", path[k], strerror(errno));
			ret = -1;
		}
		if (f && fclose(f) && !ret) {
			am_err("cannot write %s: %s", path[k], strerror(errno));
			ret = -1;
		}
	}
	return ret;
}

/* Writes the --pprof file from the call sites of the summary (t0: the
 * trace's start, monotonic). 0 or -1 (printed). */
static int write_pprof(struct tracer *tr, uint64_t t0)
{
	struct timespec now;
	struct am_pprof_meta m = {
		.duration_ns = tr->sum.duration_ns,
	};
	char why[PATH_MAX + 128];

	if (!clock_gettime(CLOCK_REALTIME, &now))
		m.time_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec - (am_now_ns() - t0);
	if (!tr->sum.sites) {
		am_err("cannot write %s: %s", tr->opts->pprof, tr->sum.os_only ?
		       "no allocator calls were traced (no malloc to probe): no call sites" : "out of memory");
		return -1;
	}
	m.period = tr->sum.sites->sample_every;
	if (am_pprof_write(tr->opts->pprof, tr->sum.sites, &m, why, sizeof(why)) < 0) {
		am_err("cannot write %s: %s", tr->opts->pprof, why);
		return -1;
	}
	return 0;
}

/* Forks CMD held before exec until release_child(); *go_fd and *err_fd are
 * the parent's ends of the release pipe and of the exec-error pipe. */
static pid_t spawn_held(char **cmd, char *const *env, int *go_fd, int *err_fd)
{
	int go[2], er[2];
	pid_t pid;

	if (pipe2(go, O_CLOEXEC) || pipe2(er, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char c;
		int e;

		close(go[1]);
		close(er[0]);
		if (read(go[0], &c, 1) != 1)
			_exit(127); /* the tracer gave up before attaching */
		if (env)
			execvpe(cmd[0], cmd, env);
		else
			execvp(cmd[0], cmd);
		e = errno;
		if (write(er[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(er[1]);
	*go_fd = go[1];
	*err_fd = er[0];
	return pid;
}

/* Lets the held child exec. Returns 0, or the child's exec errno. */
static int release_child(int go_fd, int err_fd)
{
	int e = 0;
	ssize_t n;

	if (write(go_fd, "g", 1) != 1)
		e = errno;
	close(go_fd);
	n = read(err_fd, &e, sizeof(e));
	close(err_fd);
	return n == sizeof(e) ? e : 0;
}


static bool any_alive(struct tracer *tr, pid_t child, int *child_status, bool *child_done,
		      struct rusage *ru)
{
	bool alive = false;

	if (child > 0 && !*child_done) {
		pid_t w = wait4(child, child_status, WNOHANG, ru);

		if (w == child) {
			*child_done = true;
			struct target *t = find_target(tr, child);
			if (t)
				t->alive = false;
		}
	}
	for (int i = 0; i < tr->n_targets; i++) {
		struct target *t = &tr->targets[i];

		if (!t->alive)
			continue;
		if (t->pid != child && !am_proc_alive(t->pid))
			t->alive = false;
		else
			alive = true;
	}
	return alive;
}

int am_trace_run(const struct am_trace_opts *opts)
{
	struct tracer tr = { .opts = opts };
	struct am_resolution *first = NULL;
	struct am_out_opts oo = {};
	struct am_corr_opts co = {};
	struct am_sink sink = {};
	struct am_counters cnt = {};
	int go_fd = -1, err_fd = -1, child_status = 0, ret = 1, err;
	bool child_done = false;
	uint64_t released = 0, child_end = 0, last_tick = 0;
	struct rusage ru = {};
	struct maps_watch mw = {};
	pid_t child = -1;
	uint64_t t0, deadline = 0;
	char errbuf[512];
	bool out_failed = false, out_reported = false; /* -o / stdout: a write failed, said */
	struct sigaction sa = {};

	pthread_mutex_init(&tr.reaper.mu, NULL);
	pthread_cond_init(&tr.reaper.cv, NULL);
	libbpf_verbosity = opts->verbosity;
	libbpf_set_print(libbpf_print);

	if (geteuid() != 0) {
		am_err("must run as root (needs CAP_BPF and CAP_PERFMON to load eBPF programs)");
		return 1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		am_err("kernel has no BTF (/sys/kernel/btf/vmlinux missing): needs CONFIG_DEBUG_INFO_BTF=y");
		return 1;
	}

	/* Resolve every target before loading anything: bad input fails fast. */
	first = calloc(1, sizeof(*first));
	if (!first)
		goto oom;
	if (opts->cmd) {
		if (am_resolve_exec(opts->cmd[0], opts->env ? opts->env : environ, first, errbuf,
				    sizeof(errbuf)) < 0) {
			am_err("cannot trace '%s': %s", opts->cmd[0], errbuf);
			goto cleanup;
		}
	} else {
		for (int i = 0; i < opts->n_pids; i++) {
			struct am_resolution *r = i ? calloc(1, sizeof(*r)) : first;

			if (!r)
				goto oom;
			if (opts->pids[i] == getpid()) {
				/* its own probes would fire on its own event loop */
				am_err("cannot attach to pid %d: that is allocmap itself", opts->pids[i]);
				if (i)
					free(r);
				goto cleanup;
			}
			err = am_resolve_pid(opts->pids[i], r, errbuf, sizeof(errbuf));
			if (i)
				free(r);
			if (err < 0) {
				am_err("cannot attach to pid %d: %s", opts->pids[i], errbuf);
				goto cleanup;
			}
		}
	}

	tr.warns = am_warnagg__new();
	if (!tr.warns)
		goto oom;
	/* The guardian first, so it holds no descriptor of the child's or BPF's. */
	if (!opts->os_only) {
		tr.guard = am_guard__new();
		if (!tr.guard) {
			am_err("cannot start the guardian process: %s", strerror(errno));
			goto cleanup;
		}
	}
	/* Fork the held child now, while this process is small: its peak RSS
	 * (wait4) would otherwise include our ring buffer and maps. */
	if (opts->cmd) {
		child = spawn_held(opts->cmd, opts->env, &go_fd, &err_fd);
		if (child < 0) {
			am_err("cannot start '%s': %s", opts->cmd[0], strerror(errno));
			goto cleanup;
		}
	}

	tr.skel = allocmap_bpf__open();
	if (!tr.skel) {
		am_err("cannot open the BPF object: %s", strerror(errno));
		goto cleanup;
	}
	tr.skel->rodata->follow_forks = opts->follow_forks;
	tr.skel->rodata->hold = !opts->os_only;
	tr.skel->rodata->stack_mode = opts->stack_mode;
	tr.skel->rodata->sample_every = opts->sample > 1 ? opts->sample : 1;
	tr.skel->rodata->stack_bytes = opts->unwind == AM_UNWIND_FP ? 0 :
		opts->stack_bytes ? opts->stack_bytes : 8192;
	if (opts->stack_mode != AM_STACKS_OFF) {
		tr.unw = am_unw__new((enum am_unwind_mode)opts->unwind);
		if (!tr.unw)
			goto oom;
	}
	if (opts->folded || opts->folded_alloc) {
		tr.folded = am_folded__new();
		if (!tr.folded)
			goto oom;
	}
	tr.skel->rodata->wakeup_bytes = ((uint64_t)opts->ringbuf_mb << 20) / 8;
	bpf_map__set_max_entries(tr.skel->maps.rb, opts->ringbuf_mb << 20);
	err = allocmap_bpf__load(tr.skel);
	if (err) {
		am_err("cannot load the BPF programs: %s (run with -vv for the verifier log)",
		       strerror(-err));
		goto cleanup;
	}

	/* syscall and task tracepoints (tp_btf: no tracefs needed) */
	{
		struct bpf_program *tps[] = {
			tr.skel->progs.sys_enter, tr.skel->progs.sys_exit,
			tr.skel->progs.sched_fork, tr.skel->progs.sched_exec,
			tr.skel->progs.sched_exit,
		};
		struct bpf_link **lk[] = {
			&tr.skel->links.sys_enter, &tr.skel->links.sys_exit,
			&tr.skel->links.sched_fork, &tr.skel->links.sched_exec,
			&tr.skel->links.sched_exit,
		};

		for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
			*lk[i] = bpf_program__attach(tps[i]);
			if (!*lk[i]) {
				am_err("cannot attach tracepoint %s: %s", bpf_program__name(tps[i]),
				       strerror(errno));
				goto cleanup;
			}
		}
	}

	if (!opts->no_output) {
		tr.outf = stdout;
		if (opts->output) {
			char why[PATH_MAX + 128];

			tr.outf = am_fopen_output(opts->output, why, sizeof(why));
			if (!tr.outf) {
				am_err("cannot open %s: %s", opts->output, why);
				tr.outf = NULL;
				goto cleanup;
			}
		}
		oo.f = tr.outf;
		oo.t0_ns = t0 = am_now_ns();
		oo.json = opts->json;
		oo.verbosity = opts->verbosity > 1 ? 1 : opts->verbosity;
		oo.multi_pid = opts->n_pids > 1 || opts->follow_forks;
		oo.sites_top = opts->sites_top;
		oo.sites_sort = opts->sites_sort;
		tr.out = am_out__new(&oo);
		if (!tr.out)
			goto oom;
		am_out__sink(tr.out, &tr.tee.s[tr.tee.n++]);
	} else {
		t0 = am_now_ns();
	}
	if (opts->html || opts->perfetto) {
		/* the report is built from the full event stream, as JSONL */
		int fd = capture_file(tr.cap_dir, sizeof(tr.cap_dir));

		if (fd < 0 || !(tr.capf = fdopen(fd, "w+"))) {
			am_err("cannot create a temporary file in %s: %s", tr.cap_dir, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto cleanup;
		}
		/* read back through the descriptor: the file has no name */
		snprintf(tr.cap_path, sizeof(tr.cap_path), "/proc/self/fd/%d", fd);
		oo = (struct am_out_opts){ .f = tr.capf, .json = true, .verbosity = 1, .t0_ns = t0,
					   .multi_pid = opts->n_pids > 1 || opts->follow_forks };
		tr.capture = am_out__new(&oo);
		if (!tr.capture)
			goto oom;
		am_out__sink(tr.capture, &tr.tee.s[tr.tee.n++]);
	}
	if (opts->hooks)
		tr.tee.s[tr.tee.n++] = opts->hooks->sink;
	if (tr.folded)
		am_folded__sink(tr.folded, &tr.tee.s[tr.tee.n++]);
	sink = tee_sink(&tr.tee);
	co.sink = sink;
	co.glibc = first->kind == AM_ALLOC_GLIBC && !opts->os_only && !first->no_alloc;
	co.musl = first->kind == AM_ALLOC_MUSL && !first->musl_not_ng && !opts->os_only && !first->no_alloc;
	co.allocator = opts->os_only || first->no_alloc ? NULL : am_alloc_kind_name(first->kind);
	co.stack_mode = opts->stack_mode;
	co.sample_every = opts->sample > 1 ? opts->sample : 1;
	co.os_only = opts->os_only || first->no_alloc;
	co.no_alloc = !opts->os_only && first->no_alloc;
	co.attached = opts->cmd == NULL;
	/* glibc's threshold (glibc_params.c): launched, 128 KiB unless the
	 * environment pins it; attached, read from each process below */
	co.threshold_pinned = co.glibc && opts->cmd &&
		am_glibc_env_pinned(opts->env ? opts->env : environ, &co.threshold_start);
	co.threshold_attach = !opts->cmd;
	tr.corr = am_corr__new(&co);
	if (!tr.corr)
		goto oom;

	tr.rb = ring_buffer__new(bpf_map__fd(tr.skel->maps.rb), on_event, &tr, NULL);
	if (!tr.rb) {
		am_err("cannot open the ring buffer: %s", strerror(errno));
		goto cleanup;
	}
	if (tr.unw) {
		mw.unw = tr.unw;
		mw.rb = ring_buffer__new(bpf_map__fd(tr.skel->maps.rb_maps), on_maps_event, &mw, NULL);
		if (!mw.rb || pthread_create(&mw.thread, NULL, maps_thread, &mw)) {
			am_err("cannot start the module-layout watcher: %s", strerror(errno));
			goto cleanup;
		}
		mw.running = true;
	}

	/* Signals before the child exists would be inherited by it: set after. */
	if (opts->cmd) {
		struct target *t;

		/* held before exec: everything it runs is seen from the start */
		t = add_target(&tr, child, &(struct am_bpf_target){ .flags = AM_TGT_SKIP_EXEC });
		if (!t)
			goto oom;
		t->launched = true;
		*t->res = *first;
		if (!opts->os_only && !first->no_alloc &&
		    (attach_target(&tr, t) == 0 || !t->links[AM_FN_MALLOC][0])) {
			am_err("cannot trace '%s': no allocator probe could be attached", opts->cmd[0]);
			goto cleanup;
		}
	} else {
		for (int i = 0; i < opts->n_pids; i++) {
			struct target *t;
			char maps[64];
			FILE *mf;

			if (find_target(&tr, opts->pids[i]))
				continue;
			/* until every probe is in, no thread is known to be
			 * outside an untraced call (bpf: since) */
			t = add_target(&tr, opts->pids[i], &(struct am_bpf_target){ .since = ~0ULL });
			if (!t)
				goto oom;
			if (am_resolve_pid(t->pid, t->res, errbuf, sizeof(errbuf)) < 0) {
				am_err("cannot attach to pid %d: %s", t->pid, errbuf);
				goto cleanup;
			}
			corr_allocator(&tr, t->pid, t->res);
			if (!opts->os_only && !t->res->no_alloc &&
			    (attach_target(&tr, t) == 0 || !t->links[AM_FN_MALLOC][0])) {
				am_err("cannot attach to pid %d: no allocator probe could be attached", t->pid);
				goto cleanup;
			}
			/* threads started from now on run only traced calls */
			set_target(&tr, t->pid, am_now_ns(), 0);
			if (tr.unw)
				am_unw__refresh(tr.unw, (uint32_t)t->pid);
			snprintf(maps, sizeof(maps), "/proc/%d/maps", t->pid);
			mf = fopen(maps, "re");
			if (mf) {
				am_corr__seed_maps(tr.corr, (uint32_t)t->pid, mf);
				fclose(mf);
			}
			if (!am_proc_alive(t->pid)) {
				am_err("cannot attach to pid %d: it exited during attach", t->pid);
				goto cleanup;
			}
			if (co.glibc && t->res->kind == AM_ALLOC_GLIBC)
				attach_threshold(&tr, t);
		}
	}

	tr.running = true;
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opts->os_only)
		am_info("OS-only mode: memory syscalls only, no allocator probes (causes inferred from stacks)");
	else if (first->no_alloc)
		am_info("%s: tracing memory syscalls only (their causes are unknown)", first->no_alloc_why);
	if (opts->cmd)
		am_info("tracing '%s' (pid %d, %s allocator %s); Ctrl-C to stop", opts->cmd[0], child,
			am_alloc_kind_name(first->kind), first->alloc_obj);
	else
		am_info("tracing %d process%s (%s allocator %s); Ctrl-C to stop", tr.n_targets,
			tr.n_targets > 1 ? "es" : "", am_alloc_kind_name(first->kind), first->alloc_obj);

	/* -d counts from now, when every probe is in */
	if (opts->duration > 0)
		deadline = am_now_ns() + (uint64_t)(opts->duration * 1e9);
	if (opts->hooks && opts->hooks->started) {
		pid_t pids[AM_MAX_PIDS];
		struct am_trace_info info = {
			.child = child, .n_pids = 0, .pids = pids,
			.allocator = am_alloc_kind_name(first->kind), .alloc_obj = first->alloc_obj,
			.t0_ns = t0,
		};

		for (int i = 0; i < tr.n_targets && i < AM_MAX_PIDS; i++)
			pids[info.n_pids++] = tr.targets[i].pid;
		opts->hooks->started(opts->hooks->ctx, &info);
	}
	if (opts->cmd) {
		int e;

		released = am_now_ns();
		e = release_child(go_fd, err_fd);

		go_fd = err_fd = -1;
		if (e) {
			am_err("cannot run '%s': %s", opts->cmd[0], strerror(e));
			waitpid(child, NULL, 0);
			child_done = true;
			ret = 127;
			goto cleanup;
		}
	}

	while (!stop_signal) {
		err = ring_buffer__poll(tr.rb, 100);
		if (err < 0 && err != -EINTR) {
			am_err("reading the ring buffer: %s", strerror(-err));
			break;
		}
		ring_buffer__consume(tr.rb);
		if (!opts->os_only)
			sweep_held(&tr);
		if (deadline && am_now_ns() >= deadline)
			break;
		/* an output that cannot be written (full disk): stop, say so below */
		if ((tr.out && am_out__error(tr.out)) || (tr.capture && am_out__error(tr.capture)))
			break;
		if (!any_alive(&tr, child, &child_status, &child_done, &ru))
			break;
		if (opts->hooks && opts->hooks->tick) {
			uint64_t now = am_now_ns();
			unsigned ms = opts->hooks->tick_ms ? opts->hooks->tick_ms : 250;

			if (now - last_tick >= (uint64_t)ms * 1000000) {
				struct am_summary snap;

				last_tick = now;
				cnt = tr.skel->bss->am_cnt;
				am_corr__snapshot(tr.corr, &cnt, tr.unattached, now - t0, &snap);
				if (opts->hooks->tick(opts->hooks->ctx, &snap, now))
					break;
			}
		}
	}
	/* drain what the targets left in the ring */
	while (ring_buffer__consume(tr.rb) > 0)
		;

	if (child > 0) {
		struct target *ct = find_target(&tr, child);

		if (!child_done && ct && !ct->alive) {
			/* the BPF exit event came before the child was reapable */
			if (wait4(child, &child_status, 0, &ru) == child)
				child_done = true;
		} else if (!child_done && stop_signal) {
			/* Ctrl-C reaches the child too; give it a moment to report */
			for (int i = 0; i < 20 && !child_done; i++) {
				if (wait4(child, &child_status, WNOHANG, &ru) == child)
					child_done = true;
				else
					usleep(10000);
			}
		}
		child_end = am_now_ns();
		if (child_done)
			ret = WIFEXITED(child_status) ? WEXITSTATUS(child_status)
						      : 128 + WTERMSIG(child_status);
		else /* -d expired or a signal: it keeps running, untraced */
			ret = stop_signal ? 128 + stop_signal : 0;
		if (child_done)
			am_corr__set_target(tr.corr, child_end - released, (uint64_t)ru.ru_maxrss, ret,
					    WIFSIGNALED(child_status) ? WTERMSIG(child_status) : 0);
	} else {
		ret = 0;
	}

	flush_noret(&tr);
	am_warnagg__flush(tr.warns, stderr, false);
	for (int fn = AM_FN__COUNT; fn < am_fn_count(); fn++)
		if (!tr.probed[fn] && !opts->os_only)
			am_warn("--alloc %s: no traced image defined it: never probed", am_fn_info(fn)->sym);

	/* counters from the BPF side: everything lost is printed */
	cnt = tr.skel->bss->am_cnt;
	am_corr__finish(tr.corr, &cnt, tr.unattached, am_now_ns() - t0, &tr.sum);
	if (tr.out)
		am_out__flush(tr.out);
	if (opts->pprof && write_pprof(&tr, t0) < 0)
		ret = ret ? ret : 1;
	if (tr.folded && write_folded(&tr) < 0)
		ret = ret ? ret : 1;
	if (tr.out && am_out__error(tr.out)) {
		am_err("cannot write %s: %s", opts->output ? opts->output : "standard output",
		       strerror(am_out__error(tr.out)));
		out_reported = true;
		ret = ret ? ret : 1;
	}
	if (tr.capture)
		am_out__flush(tr.capture);
	if (tr.capture && am_out__error(tr.capture)) {
		/* never a report from part of the events */
		am_err("cannot write the capture for %s in %s: %s (set TMPDIR to a roomier directory)",
		       opts->html ? opts->html : opts->perfetto, tr.cap_dir, strerror(am_out__error(tr.capture)));
		ret = ret ? ret : 1;
	} else if (tr.capture) {
		if (opts->html && am_report_html_named(tr.cap_path, "this trace", opts->html, errbuf, sizeof(errbuf)) < 0) {
			am_err("cannot write %s: %s", opts->html, errbuf);
			ret = ret ? ret : 1;
		}
		if (opts->perfetto &&
		    am_report_perfetto(tr.cap_path, opts->perfetto, errbuf, sizeof(errbuf)) < 0) {
			am_err("cannot write %s: %s", opts->perfetto, errbuf);
			ret = ret ? ret : 1;
		}
	}
	goto cleanup;

oom:
	am_err("out of memory");
	ret = 1;
cleanup:
	if (mw.running) {
		mw.stop = 1;
		pthread_join(mw.thread, NULL);
	}
	ring_buffer__free(mw.rb);
	if (go_fd >= 0)
		close(go_fd); /* a held child that was never released exits 127 */
	if (err_fd >= 0)
		close(err_fd);
	if (child > 0 && !child_done && ret == 1)
		waitpid(child, NULL, 0);
	ring_buffer__free(tr.rb);
	detach_all(&tr);
	for (int i = 0; i < tr.n_targets; i++)
		free(tr.targets[i].res);
	allocmap_bpf__destroy(tr.skel);
	am_corr__free(tr.corr);
	/* the last buffered bytes may fail here on a full disk: read the
	 * renderer's error before it goes */
	if (tr.out)
		am_out__flush(tr.out);
	out_failed = tr.out && am_out__error(tr.out);
	if (out_failed && !out_reported) {
		am_err("cannot write %s: %s", opts->output ? opts->output : "standard output",
		       strerror(am_out__error(tr.out)));
		ret = ret ? ret : 1;
	}
	am_warnagg__flush(tr.warns, stderr, false); /* an error path left some */
	am_warnagg__free(tr.warns);
	am_out__free(tr.out);
	am_out__free(tr.capture);
	am_folded__free(tr.folded);
	am_unw__free(tr.unw); /* last: the stacks above point at its strings */
	am_guard__free(tr.guard); /* after the detach: nothing can stop a target any more */
	pthread_cond_destroy(&tr.reaper.cv);
	pthread_mutex_destroy(&tr.reaper.mu);
	if (tr.capf)
		fclose(tr.capf);
	if (tr.outf) {
		errno = 0;
		if ((tr.outf != stdout ? fclose(tr.outf) : fflush(tr.outf)) && !out_failed) {
			am_err("cannot write %s: %s", opts->output ? opts->output : "standard output",
			       strerror(errno ? errno : EIO));
			ret = ret ? ret : 1;
		}
	}
	free(first);
	return ret;
}
