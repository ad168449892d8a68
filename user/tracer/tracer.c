// SPDX-License-Identifier: GPL-2.0
/* tracer.c - the tracer (tracer.h), phase by phase: checks privileges and
 * BTF, resolves where each allocator function lives in every target, loads
 * the BPF object, attaches the syscall tracepoints and the per-pid uprobes
 * (at the placement chosen by placement.c), launches a held command if
 * asked, and pumps the ring buffer into the correlator, whose records go to
 * the caller's sinks, until a signal, -d, or the targets' exit. It is the
 * only module that talks to libbpf. */
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
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "correlate.h" /* before the skeleton: it uses struct am_counters */
#include "allocmap.skel.h"
#include "glibc_params.h"
#include "log.h"
#include "placement.h"
#include "resolve.h"
#include "warnagg.h"
#include "tracer.h"
#include "unwind.h"
#include "proc.h"
#include "guard.h"
#include "umulti.h"
#include "fmt.h"
#include "rss.h"

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

static void tee_seed(void *ctx, const struct am_seed_rec *r)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].seed)
			t->s[i].seed(t->s[i].ctx, r);
}

static void tee_rss(void *ctx, const struct am_rss_rec *r)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].rss)
			t->s[i].rss(t->s[i].ctx, r);
}

/* Does a sink want RSS samples? */
static bool tee_wants_rss(const struct tee *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->s[i].rss)
			return true;
	return false;
}

static void tee_origin(void *ctx, uint64_t t0, const char *kind, uint32_t pid)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].origin)
			t->s[i].origin(t->s[i].ctx, t0, kind, pid);
}

static void tee_progress(void *ctx, uint64_t upto)
{
	struct tee *t = ctx;

	for (int i = 0; i < t->n; i++)
		if (t->s[i].progress)
			t->s[i].progress(t->s[i].ctx, upto);
}

/* Does a sink want the time-order watermark? */
static bool tee_wants_progress(const struct tee *t)
{
	for (int i = 0; i < t->n; i++)
		if (t->s[i].progress)
			return true;
	return false;
}

static struct am_sink tee_sink(struct tee *t)
{
	return (struct am_sink){
		.ctx = t, .call = tee_call, .os = tee_os, .threshold = tee_threshold,
		.task = tee_task, .summary = tee_summary, .seed = tee_seed, .origin = tee_origin,
		.progress = tee_progress, .rss = tee_rss,
	};
}

/* One uprobe link: a probe's libbpf (perf event) link, or the fd of a
 * uprobe_multi link (umulti.h) holding one or many probes. Empty: l NULL
 * and fd -1. */
struct plink {
	struct bpf_link *l;
	int fd;
};

#define PLINK_NONE ((struct plink){ .l = NULL, .fd = -1 })
#define MAX_GROUPS 16 /* uprobe_multi links of one target: one per object and direction */

static bool plink_set(const struct plink *p)
{
	return p->l || p->fd >= 0;
}

static int plink_fd(const struct plink *p)
{
	return p->l ? bpf_link__fd(p->l) : p->fd;
}

static void plink_destroy(struct plink *p)
{
	if (p->l)
		bpf_link__destroy(p->l);
	else if (p->fd >= 0)
		close(p->fd);
	*p = PLINK_NONE;
}

/* The reaper: a thread that detaches the probes of processes that exited
 * (see reaper_main). */
struct reaper {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct plink *q;          /* links waiting to be destroyed */
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
	struct plink links[AM_FN_MAX][2];            /* one probe each: [fn][0 entry, 1 return] */
	struct plink group[MAX_GROUPS];              /* uprobe_multi: every probe of an object */
	int n_group;
	bool grouped[AM_FN_MAX];                     /* fn's probes are in group[] */
};

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

/* How far the tracer got: each phase follows the one before. */
enum phase { PH_NEW, PH_PREPARED, PH_LOADED, PH_ATTACHED, PH_ACTIVE, PH_RAN, PH_FINISHED };

/* The tracer (tracer.h): its BPF object, its targets, the command it launched. */
struct am_tracer {
	struct am_tracer_opts opts;
	enum phase phase;
	struct am_resolution *first; /* the first target's: allocator, rules, messages */
	struct allocmap_bpf *skel;
	struct ring_buffer *rb;
	struct am_corr *corr;
	bool glibc;               /* the first target binds glibc: read attached processes' threshold */
	bool multi;               /* uprobes in uprobe_multi links (umulti.h), else one perf link each */
	struct tee tee;           /* the caller's sinks */
	struct target targets[MAX_TRACKED];
	int n_targets;
	struct am_unw *unw;       /* --stacks: unwinder and symbolizer */
	struct maps_watch mw;     /* --stacks: module layouts read as they change */
	struct am_frame frames[AM_UNW_MAX_FRAMES];
	uint64_t unattached;   /* probes that could not be attached */
	bool probed[AM_FN_MAX];   /* functions probed in some process */
	struct reaper reaper;     /* detaches the probes of exited processes */
	struct am_guard *guard;   /* continues held targets if we die */
	struct am_warnagg *warns; /* failed attaches, one line per errno (warnagg.h) */
	struct am_rss *rss;       /* RSS sampler (rss.h), NULL when no sink wants samples */
	bool running;          /* past the initial attach: in the event loop */
	/* the launched command */
	pid_t child;              /* -1 in attach mode */
	int go_fd, err_fd;        /* its release and exec-error pipes, -1 once released */
	bool released;            /* let go to exec (else it exits 127 when go_fd closes) */
	bool child_done;          /* reaped: child_status and ru are its */
	int child_status;
	struct rusage ru;
	uint64_t released_ns;
	uint64_t exec_ns, exit_ns;/* its exec and exit as their task events say (0: not seen) */
	/* time: t = 0 of what is shown, and how far records are known complete */
	uint64_t origin;          /* 0 until set (set_origin) */
	uint64_t watermark;       /* last progress told to the sinks */
	/* the run */
	uint64_t t0, deadline, last_tick;
	struct am_trace_info info;
	pid_t info_pids[AM_MAX_PIDS];
	/* the ring's positions, mapped read-only (am_tracer__ring_fill) */
	const volatile unsigned long *rb_cons, *rb_prod;
	size_t rb_size;
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
static bool fn_noret(const struct am_tracer *tr, int fn)
{
	return tr->opts.free_noret && am_role_frees(am_fn_role(fn));
}

struct detach_job {
	struct plink *links;
	size_t n, start, step;
};

static void *detach_worker(void *arg)
{
	struct detach_job *j = arg;

	for (size_t i = j->start; i < j->n; i += j->step)
		plink_destroy(&j->links[i]);
	return NULL;
}

/* Destroys links[0..n). Each uprobe costs the kernel an RCU grace period
 * (~80 ms here) when its perf event is closed; done one after the other,
 * 18 probes took 1.5 s. Closed from several threads the waits overlap. */
static void detach_links(struct plink *links, size_t n)
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

#define LINKS_PER_TARGET (AM_FN_MAX * 2 + MAX_GROUPS)

/* Moves the links of t[0..count) into out[] (room for LINKS_PER_TARGET
 * each); returns how many. */
static size_t take_links(struct target *t, size_t count, struct plink *out)
{
	size_t n = 0;

	for (size_t i = 0; i < count; i++) {
		for (int fn = 0; fn < AM_FN_MAX; fn++) {
			for (int r = 0; r < 2; r++)
				if (plink_set(&t[i].links[fn][r])) {
					out[n++] = t[i].links[fn][r];
					t[i].links[fn][r] = PLINK_NONE;
				}
			t[i].grouped[fn] = false;
		}
		for (int g = 0; g < t[i].n_group; g++)
			if (plink_set(&t[i].group[g]))
				out[n++] = t[i].group[g];
		t[i].n_group = 0;
	}
	return n;
}

/* Detaches the probes of one target (its image changed allocator). */
static void detach_target(struct target *t)
{
	struct plink links[LINKS_PER_TARGET];

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
static int handoff_links(struct plink *links, size_t n)
{
	int *fds = calloc(n ? n : 1, sizeof(*fds));
	pid_t pid;

	if (!fds)
		return -1;
	for (size_t i = 0; i < n; i++)
		fds[i] = plink_fd(&links[i]);
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

static struct plink *reaper_stop(struct reaper *r, size_t *n);

/* Detaches every uprobe: the live targets' and those the reaper had not
 * begun. */
static void detach_all(struct am_tracer *tr)
{
	struct plink *links, *late;
	bool alive = false;
	size_t n, n_late = 0;

	late = reaper_stop(&tr->reaper, &n_late);
	links = calloc((size_t)tr->n_targets * LINKS_PER_TARGET + n_late + 1, sizeof(*links));
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
	if (!alive && n > 1 && !tr->opts.embedded && handoff_links(links, n) == 0) {
		for (size_t i = 0; i < n; i++)
			plink_destroy(&links[i]);
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

/* The program of the entry (r 0) or return (r 1) probes. */
static struct bpf_program *probe_prog(const struct am_tracer *tr, int r)
{
	return r ? tr->skel->progs.alloc_exit : tr->skel->progs.alloc_enter;
}

/* Attaches one probe (r: the return probe) of fn. 0 or -1 (counted, printed). */
static int attach_one(struct am_tracer *tr, struct target *t, int fn, int r)
{
	const struct am_fn_probe *p = &t->res->fn[fn];
	uint64_t off = p->func_off + p->place.offset;
	uint64_t cookie = probe_cookie(fn, &p->place, fn_noret(tr, fn));
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = r, .bpf_cookie = cookie);
	struct plink l = PLINK_NONE;
	int err = 0;

	if (tr->multi) {
		/* the programs take no other kind of link: a link of one */
		l.fd = am_umulti_attach(bpf_program__fd(probe_prog(tr, r)), p->path, t->pid, &off,
					&cookie, 1, r);
		err = l.fd < 0 ? -l.fd : 0;
	} else {
		l.l = bpf_program__attach_uprobe_opts(probe_prog(tr, r), t->pid, p->path, off, &uo);
		err = l.l ? 0 : errno;
	}
	if (err) {
		l = PLINK_NONE;

		tr->unattached++;
		if (tr->opts.verbosity > 0)
			am_warn("cannot attach %s probe to %s in pid %d (%s+0x%llx): %s",
				r ? "return" : "entry", am_fn_name(fn), t->pid, p->obj,
				(unsigned long long)off, strerror(err));
		am_warnagg__add(tr->warns, "probe not attached", "probes not attached", t->pid, err);
		return -1;
	}
	t->links[fn][r] = l;
	return 0;
}

/* uprobe_multi: the probes of the functions fns[0..n) (one object, path),
 * every return probe in one link, then every entry probe in another. 0, or
 * -1 with neither link left (the caller attaches them one by one, which
 * names the function that fails). */
static int attach_group(struct am_tracer *tr, struct target *t, const char *path,
			const int *fns, size_t n)
{
	uint64_t off[AM_FN_MAX], ck[AM_FN_MAX];
	struct plink got[2] = { PLINK_NONE, PLINK_NONE };

	if (t->n_group + 2 > MAX_GROUPS)
		return -1;
	for (int r = 1; r >= 0; r--) {
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			const struct am_fn_probe *p = &t->res->fn[fns[i]];

			if (r && fn_noret(tr, fns[i]))
				continue;
			off[k] = p->func_off + p->place.offset;
			ck[k++] = probe_cookie(fns[i], &p->place, fn_noret(tr, fns[i]));
		}
		if (!k)
			continue;
		got[r].fd = am_umulti_attach(bpf_program__fd(probe_prog(tr, r)), path, t->pid, off, ck,
					     k, r);
		if (got[r].fd < 0) {
			got[r] = PLINK_NONE;
			plink_destroy(&got[1]);
			return -1;
		}
	}
	for (int r = 1; r >= 0; r--)
		if (plink_set(&got[r]))
			t->group[t->n_group++] = got[r];
	for (size_t i = 0; i < n; i++)
		t->grouped[fns[i]] = true;
	return 0;
}

/* uprobe_multi: one group per object defining probed functions. Those of
 * an object whose group could not be made stay ungrouped. */
static void attach_groups(struct am_tracer *tr, struct target *t)
{
	const struct am_resolution *res = t->res;
	bool done[AM_FN_MAX] = { false };

	for (int fn = 0; fn < am_fn_count(); fn++) {
		int fns[AM_FN_MAX];
		size_t n = 0;

		if (done[fn] || !res->fn[fn].found || alias_of(res, fn) >= 0)
			continue;
		for (int k = fn; k < am_fn_count(); k++)
			if (!done[k] && res->fn[k].found && alias_of(res, k) < 0 &&
			    !strcmp(res->fn[k].path, res->fn[fn].path)) {
				done[k] = true;
				fns[n++] = k;
			}
		attach_group(tr, t, res->fn[fn].path, fns, n);
	}
}

/* Attaches the probes of every resolved function to pid: every return
 * probe first, then the entry probes, so that no entry is ever seen without
 * its return (a return without an entry is harmless: bpf counts it). A
 * function that no loaded object defines is absent, not a failed attach.
 * Returns the number of attached functions; failures are counted in
 * tr->unattached and named on stderr. */
static int attach_target(struct am_tracer *tr, struct target *t)
{
	const struct am_resolution *res = t->res;
	bool failed[AM_FN_MAX] = { false };
	int attached = 0;

	if (res->no_alloc)
		return 0;
	if (tr->multi)
		attach_groups(tr, t);
	for (int r = 1; r >= 0; r--)
		for (int fn = 0; fn < am_fn_count(); fn++) {
			if (!res->fn[fn].found || alias_of(res, fn) >= 0 || failed[fn] || t->grouped[fn])
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
			if (tr->opts.verbosity > 0)
				am_info("probe %-14s absent: %s", am_fn_name(fn),
					p->place.why[0] ? p->place.why : "no loaded object defines it");
			continue;
		}
		if (alias >= 0) {
			if (tr->opts.verbosity > 0)
				am_info("probe %-14s is the same function as %s: its calls are reported as %s",
					am_fn_name(fn), am_fn_name(alias), am_fn_name(alias));
			attached++;
			continue;
		}
		if (failed[fn]) {
			/* half a pair is worse than none */
			plink_destroy(&t->links[fn][0]);
			plink_destroy(&t->links[fn][1]);
			continue;
		}
		attached++;
		tr->probed[fn] = true;
		if (tr->opts.verbosity > 0)
			am_info("probe %-14s %s+0x%llx: +%llu %s%s (%s)", am_fn_name(fn), p->obj,
				(unsigned long long)p->func_off, (unsigned long long)p->place.offset,
				p->place.insn, p->place.emulated ? ", emulated" : ", single-stepped",
				p->place.why);
	}
	/* once tracing, processes that exited before their probes were in
	 * (short-lived -f children) are counted in one line at the end */
	am_warnagg__flush(tr->warns, am_log_stream(), tr->running);
	return attached;
}

/* Is malloc's entry probe in (alone, or in its object's group)? */
static bool malloc_probed(const struct target *t)
{
	return t->grouped[AM_FN_MALLOC] || plink_set(&t->links[AM_FN_MALLOC][0]);
}

/* The target pid, preferring one still alive (a pid can be reused after
 * a followed process exited). */
static struct target *find_target(struct am_tracer *tr, pid_t pid)
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
		struct plink *batch;
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
	struct plink links[LINKS_PER_TARGET];
	size_t n = take_links(t, 1, links);

	if (!n)
		return;
	pthread_mutex_lock(&r->mu);
	if (!r->running)
		r->running = pthread_create(&r->th, NULL, reaper_main, r) == 0;
	if (r->running && r->n + n > r->cap) {
		size_t cap = (r->n + n) * 2;
		struct plink *q = realloc(r->q, cap * sizeof(*q));

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
static struct plink *reaper_stop(struct reaper *r, size_t *n)
{
	struct plink *q;

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
static void set_target(struct am_tracer *tr, pid_t pid, uint64_t since, uint32_t flags)
{
	struct am_bpf_target v = { .since = since, .flags = flags };
	__u32 key = (__u32)pid;

	bpf_map__update_elem(tr->skel->maps.targets, &key, sizeof(key), &v, sizeof(v), BPF_ANY);
}

/* Adds pid to the processes followed. v: its BPF targets entry, or NULL when
 * the BPF side made it (a -f child). */
static struct target *add_target(struct am_tracer *tr, pid_t pid, const struct am_bpf_target *v)
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
	for (int fn = 0; fn < AM_FN_MAX; fn++)
		t->links[fn][0] = t->links[fn][1] = PLINK_NONE;
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
static void release_held(struct am_tracer *tr, pid_t pid)
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
static void corr_allocator(struct am_tracer *tr, pid_t pid, const struct am_resolution *r)
{
	if (!tr->opts.os_only)
		am_corr__set_allocator(tr->corr, (uint32_t)pid, r->kind == AM_ALLOC_GLIBC && !r->no_alloc,
				       r->kind == AM_ALLOC_MUSL && !r->musl_not_ng && !r->no_alloc);
}

/* A traced process forked (with -f): trace the child with the parent's
 * probes (same image). It is held at its return from fork (AM_TASK_HELD,
 * next) until they are in. */
static void handle_fork(struct am_tracer *tr, const struct am_task_event *e)
{
	struct target *parent = find_target(tr, (pid_t)e->pid);
	struct target *t = find_target(tr, (pid_t)e->child);

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
}

/* The new image of a traced process that exec'd: resolved at once (the
 * process is held until then, e->code), its probes moved if its allocator
 * is not where the old image's was. */
static void handle_exec(struct am_tracer *tr, struct target *t, const struct am_task_event *e)
{
	struct am_resolution *nr;
	char exe[64], err[256];
	char **env;
	int rc;

	nr = calloc(1, sizeof(*nr));
	if (!nr)
		return;
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
		if (nr->no_alloc && tr->opts.verbosity >= 0)
			am_info("pid %u exec'd an image with no allocator to probe (%s): its memory "
				"syscalls only", e->pid, nr->no_alloc_why);
	}
	free(nr);
}

/* Is a target other than t still running? */
static bool others_alive(const struct am_tracer *tr, const struct target *t)
{
	for (int i = 0; i < tr->n_targets; i++)
		if (&tr->targets[i] != t && tr->targets[i].alive)
			return true;
	return false;
}

/* What a task event means for the probes: a fork or exec to follow, a
 * held process to continue, an exit whose probes can go. */
static void handle_task(struct am_tracer *tr, const struct am_task_event *e)
{
	struct target *t;

	switch (e->kind) {
	case AM_TASK_FORK:
		handle_fork(tr, e);
		break;
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
	case AM_TASK_EXEC:
		t = find_target(tr, (pid_t)e->pid);
		if (t && t->launched && t->execs++ == 0) {
			tr->exec_ns = e->ts; /* the command's wall time starts here */
			return; /* our own launch: probes were attached before the exec */
		}
		if (t)
			handle_exec(tr, t, e);
		if (e->code)
			release_held(tr, (pid_t)e->pid);
		break;
	case AM_TASK_EXIT:
		t = find_target(tr, (pid_t)e->pid);
		if (t && t->launched)
			tr->exit_ns = e->ts;
		if (t && t->alive) {
			/* its probes go now, and its resolution (0.5 MB): a long
			 * -f run keeps only what its live processes need. The
			 * last target's stay for am_tracer__free, which hands
			 * them to a process of their own (handoff_links): the
			 * kernel's serialized unregistration (~50 ms a probe)
			 * is then off the path back to the shell. */
			t->alive = false;
			if (tr->rss)
				am_rss__forget(tr->rss, t->pid);
			if (others_alive(tr, t))
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
static void sweep_held(struct am_tracer *tr)
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
static void stack_event(struct am_tracer *tr, const void *data, size_t len)
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
static void flush_noret(struct am_tracer *tr)
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
static void attach_threshold(struct am_tracer *tr, const struct target *t)
{
	char why[PATH_MAX + 256];
	struct am_thr th = am_glibc_attach_threshold(t->pid, t->res->alloc_obj, why, sizeof(why));

	am_corr__set_threshold(tr->corr, (uint32_t)t->pid, &th);
	if (tr->opts.verbosity > 0 || (!th.known && tr->opts.verbosity == 0))
		am_info("%s", why);
}

/* After an exec: glibc's start value, or what the new environment pins;
 * the launched command's own exec keeps what its launch environment said. */
static void exec_threshold(struct am_tracer *tr, const struct am_task_event *e)
{
	const struct target *t = find_target(tr, (pid_t)e->pid);
	struct am_thr th;

	if (t && t->launched && t->execs <= 1)
		return;
	th = am_glibc_exec_threshold((pid_t)e->pid);
	am_corr__set_threshold(tr->corr, e->pid, &th);
}

/* t = 0 of the run, told to every sink before its first record. */
static void set_origin(struct am_tracer *tr, uint64_t ts, const char *kind, uint32_t pid)
{
	tr->origin = ts ? ts : 1;
	tee_origin(&tr->tee, tr->origin, kind, pid);
}

/* Records are time-ordered by the renderers that want it (output.c); the
 * tracer tells them how far the stream is complete. A call's record comes
 * at its return, a syscall's at its exit, and the BPF side leaves the call
 * (or syscall) in its threads map until the record is in the ring: the
 * oldest one still in progress in a traced thread bounds what can still
 * come, once the ring is read after the scan; and now, less ORDER_MARGIN_NS
 * for a record behind another still being written. A call in progress for longer than
 * ORDER_HOLD_NS (a thread blocked in malloc, a --free-noret free whose end
 * is seen at the thread's next call) is not waited for: its record comes
 * late, and the renderer counts it. */
#define ORDER_MARGIN_NS 2000000ULL
#define ORDER_HOLD_NS   500000000ULL

static uint64_t oldest_in_progress(struct am_tracer *tr, uint64_t now)
{
	int fd = bpf_map__fd(tr->skel->maps.threads);
	__u32 key, next, *prev = NULL;
	struct am_bpf_thread st;
	uint64_t w = now;

	for (int i = 0; i < 2 * AM_MAX_THREADS && !bpf_map_get_next_key(fd, prev, &next); i++) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &st))
			continue;
		if (st.depth && st.f[0].ts < w && st.f[0].ts + ORDER_HOLD_NS > now)
			w = st.f[0].ts;
		if (st.sys && st.sys_ts < w && st.sys_ts + ORDER_HOLD_NS > now)
			w = st.sys_ts;
	}
	return w;
}

static void advance(struct am_tracer *tr)
{
	uint64_t now, w;

	if (!tr->origin || !tee_wants_progress(&tr->tee))
		return;
	now = am_now_ns();
	w = oldest_in_progress(tr, now);
	if (w > now - ORDER_MARGIN_NS)
		w = now - ORDER_MARGIN_NS;
	ring_buffer__consume(tr->rb); /* what ended before the scan */
	if (w > tr->watermark) {
		tr->watermark = w;
		tee_progress(&tr->tee, w);
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct am_tracer *tr = ctx;
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
	}
	if (!tr->origin) {
		/* launched: its exec (handle_task above), or the moment it was
		 * let go if that event never came (exec failed) */
		set_origin(tr, tr->exec_ns ? tr->exec_ns : tr->released_ns, "exec", (uint32_t)tr->child);
	}
	if (len >= sizeof(*te) && te->type == AM_EV_TASK) {
		if (tr->unw && te->kind == AM_TASK_EXEC)
			am_unw__exec(tr->unw, te->pid, te->ts);
		if (tr->unw && te->kind == AM_TASK_FORK)
			am_unw__fork(tr->unw, te->pid, te->child);
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

/* the module-layout watcher's (struct maps_watch) */
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

/* Are any targets left? The launched command is reaped here when it is
 * over; the others are gone when /proc says so. */
static bool any_alive(struct am_tracer *tr)
{
	pid_t child = tr->child;
	bool alive = false;

	if (child > 0 && !tr->child_done &&
	    wait4(child, &tr->child_status, WNOHANG, &tr->ru) == child) {
		struct target *t = find_target(tr, child);

		tr->child_done = true;
		if (t)
			t->alive = false;
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

/* ---- the phases ---- */

static int oom(void)
{
	am_err("out of memory");
	return 1;
}

/* Phases come in order; anything else is a bug of the caller. */
static int bad_phase(const struct am_tracer *tr, enum phase want, const char *what)
{
	if (tr->phase == want)
		return 0;
	am_err("internal error: %s called at phase %d, not %d", what, (int)tr->phase, (int)want);
	return 1;
}

struct am_tracer *am_tracer__new(const struct am_tracer_opts *opts)
{
	struct am_tracer *tr = calloc(1, sizeof(*tr));

	if (!tr) {
		oom();
		return NULL;
	}
	tr->opts = *opts;
	tr->child = -1;
	tr->go_fd = tr->err_fd = -1;
	pthread_mutex_init(&tr->reaper.mu, NULL);
	pthread_cond_init(&tr->reaper.cv, NULL);
	libbpf_verbosity = opts->verbosity;
	libbpf_set_print(libbpf_print);
	return tr;
}

/* Root and BTF: without them nothing below can work. 0 or 1 (printed). */
static int check_system(void)
{
	if (geteuid() != 0) {
		am_err("must run as root (needs CAP_BPF and CAP_PERFMON to load eBPF programs)");
		return 1;
	}
	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		am_err("kernel has no BTF (/sys/kernel/btf/vmlinux missing): needs CONFIG_DEBUG_INFO_BTF=y");
		return 1;
	}
	return 0;
}

/* Resolves every target before anything is loaded (bad input fails fast);
 * the first one's resolution is kept. 0 or 1 (printed). */
static int resolve_targets(struct am_tracer *tr)
{
	const struct am_tracer_opts *o = &tr->opts;
	char errbuf[512];

	tr->first = calloc(1, sizeof(*tr->first));
	if (!tr->first)
		return oom();
	if (o->cmd) {
		if (am_resolve_exec(o->cmd[0], o->env ? o->env : environ, tr->first, errbuf,
				    sizeof(errbuf)) < 0) {
			am_err("cannot trace '%s': %s", o->cmd[0], errbuf);
			return 1;
		}
		return 0;
	}
	for (int i = 0; i < o->n_pids; i++) {
		struct am_resolution *r = i ? calloc(1, sizeof(*r)) : tr->first;
		int err;

		if (!r)
			return oom();
		if (o->pids[i] == getpid()) {
			/* its own probes would fire on its own event loop */
			am_err("cannot attach to pid %d: that is allocmap itself", o->pids[i]);
			if (i)
				free(r);
			return 1;
		}
		err = am_resolve_pid(o->pids[i], r, errbuf, sizeof(errbuf));
		if (i)
			free(r);
		if (err < 0) {
			am_err("cannot attach to pid %d: %s", o->pids[i], errbuf);
			return 1;
		}
	}
	return 0;
}

int am_tracer__prepare(struct am_tracer *tr)
{
	const struct am_tracer_opts *o = &tr->opts;
	int rc;

	if (bad_phase(tr, PH_NEW, "prepare"))
		return 1;
	if ((rc = check_system()) || (rc = resolve_targets(tr)))
		return rc;
	tr->warns = am_warnagg__new();
	if (!tr->warns)
		return oom();
	/* The guardian first, so it holds no descriptor of the child's or BPF's. */
	if (!o->os_only) {
		tr->guard = am_guard__new();
		if (!tr->guard) {
			am_err("cannot start the guardian process: %s", strerror(errno));
			return 1;
		}
	}
	/* Fork the held child now, while this process is small: its peak RSS
	 * (wait4) would otherwise include our ring buffer and maps. */
	if (o->cmd) {
		tr->child = spawn_held(o->cmd, o->env, &tr->go_fd, &tr->err_fd);
		if (tr->child < 0) {
			am_err("cannot start '%s': %s", o->cmd[0], strerror(errno));
			return 1;
		}
	}
	tr->phase = PH_PREPARED;
	return 0;
}

/* Opens the BPF object and sets what its programs read as constants. */
static int open_skeleton(struct am_tracer *tr)
{
	const struct am_tracer_opts *o = &tr->opts;

	tr->skel = allocmap_bpf__open();
	if (!tr->skel) {
		am_err("cannot open the BPF object: %s", strerror(errno));
		return 1;
	}
	tr->skel->rodata->follow_forks = o->follow_forks;
	tr->skel->rodata->hold = !o->os_only;
	tr->skel->rodata->stack_mode = o->stack_mode;
	tr->skel->rodata->sample_every = o->sample > 1 ? o->sample : 1;
	tr->skel->rodata->stack_bytes = o->unwind == AM_UNWIND_FP ? 0 :
		o->stack_bytes ? o->stack_bytes : 8192;
	if (o->stack_mode != AM_STACKS_OFF) {
		tr->unw = am_unw__new((enum am_unwind_mode)o->unwind);
		if (!tr->unw)
			return oom();
	}
	tr->skel->rodata->wakeup_bytes = o->wake_each ? 0 : ((uint64_t)o->ringbuf_mb << 20) / 8;
	/* chosen before the load: a program takes one kind of uprobe link */
	tr->multi = !o->os_only && !getenv("ALLOCMAP_NO_UPROBE_MULTI") && am_umulti_supported();
	if (tr->multi) {
		bpf_program__set_expected_attach_type(tr->skel->progs.alloc_enter,
						      (enum bpf_attach_type)AM_BPF_TRACE_UPROBE_MULTI);
		bpf_program__set_expected_attach_type(tr->skel->progs.alloc_exit,
						      (enum bpf_attach_type)AM_BPF_TRACE_UPROBE_MULTI);
	}
	bpf_map__set_max_entries(tr->skel->maps.rb, o->ringbuf_mb << 20);
	return 0;
}

/* syscall and task tracepoints (tp_btf: no tracefs needed) */
static int attach_tracepoints(struct am_tracer *tr)
{
	struct bpf_program *tps[] = {
		tr->skel->progs.sys_enter, tr->skel->progs.sys_exit,
		tr->skel->progs.sched_fork, tr->skel->progs.sched_exec,
		tr->skel->progs.sched_exit,
	};
	struct bpf_link **lk[] = {
		&tr->skel->links.sys_enter, &tr->skel->links.sys_exit,
		&tr->skel->links.sched_fork, &tr->skel->links.sched_exec,
		&tr->skel->links.sched_exit,
	};

	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		*lk[i] = bpf_program__attach(tps[i]);
		if (!*lk[i]) {
			am_err("cannot attach tracepoint %s: %s", bpf_program__name(tps[i]),
			       strerror(errno));
			return 1;
		}
	}
	return 0;
}

/* The correlator, with the first target's allocator rules; its records go
 * to the tee of the caller's sinks. */
static int new_correlator(struct am_tracer *tr)
{
	const struct am_tracer_opts *o = &tr->opts;
	const struct am_resolution *f = tr->first;
	char *const *env = o->env ? o->env : environ;
	struct am_corr_opts co = { .sink = tee_sink(&tr->tee) };

	co.glibc = f->kind == AM_ALLOC_GLIBC && !o->os_only && !f->no_alloc;
	co.musl = f->kind == AM_ALLOC_MUSL && !f->musl_not_ng && !o->os_only && !f->no_alloc;
	co.allocator = o->os_only || f->no_alloc ? NULL : am_alloc_kind_name(f->kind);
	co.stack_mode = o->stack_mode;
	co.sample_every = o->sample > 1 ? o->sample : 1;
	co.os_only = o->os_only || f->no_alloc;
	co.no_alloc = !o->os_only && f->no_alloc;
	co.attached = o->cmd == NULL;
	/* glibc's threshold (glibc_params.c): launched, 128 KiB unless the
	 * environment pins it; attached, read from each process (attach_pid) */
	co.threshold_pinned = co.glibc && o->cmd && am_glibc_env_pinned(env, &co.threshold_start);
	co.threshold_attach = !o->cmd;
	tr->glibc = co.glibc;
	tr->corr = am_corr__new(&co);
	return tr->corr ? 0 : oom();
}

/* The ring buffer's consumer, and with --stacks the module-layout watcher. */
static int open_readers(struct am_tracer *tr)
{
	struct maps_watch *mw = &tr->mw;

	tr->rb = ring_buffer__new(bpf_map__fd(tr->skel->maps.rb), on_event, tr, NULL);
	if (!tr->rb) {
		am_err("cannot open the ring buffer: %s", strerror(errno));
		return 1;
	}
	if (!tr->unw)
		return 0;
	mw->unw = tr->unw;
	mw->rb = ring_buffer__new(bpf_map__fd(tr->skel->maps.rb_maps), on_maps_event, mw, NULL);
	if (!mw->rb || pthread_create(&mw->thread, NULL, maps_thread, mw)) {
		am_err("cannot start the module-layout watcher: %s", strerror(errno));
		return 1;
	}
	mw->running = true;
	return 0;
}

int am_tracer__load(struct am_tracer *tr)
{
	int rc, err;

	if (bad_phase(tr, PH_PREPARED, "load"))
		return 1;
	if ((rc = open_skeleton(tr)))
		return rc;
	err = allocmap_bpf__load(tr->skel);
	if (err) {
		am_err("cannot load the BPF programs: %s (run with -vv for the verifier log)",
		       strerror(-err));
		return 1;
	}
	if (tr->unw)
		am_unw__set_tops(tr->unw, bpf_map__fd(tr->skel->maps.stack_tops));
	if ((rc = attach_tracepoints(tr)))
		return rc;
	tr->t0 = am_now_ns();
	if ((rc = new_correlator(tr)) || (rc = open_readers(tr)))
		return rc;
	tr->phase = PH_LOADED;
	return 0;
}

int am_tracer__add_sink(struct am_tracer *tr, const struct am_sink *sink)
{
	if (tr->phase != PH_LOADED || tr->tee.n >= TEE_MAX - 1)
		return -1;
	tr->tee.s[tr->tee.n++] = *sink;
	return 0;
}

/* The launched command, held before exec: everything it runs is seen from
 * the start. 0 or 1 (printed). */
static int attach_launched(struct am_tracer *tr)
{
	const struct am_tracer_opts *o = &tr->opts;
	struct target *t = add_target(tr, tr->child, &(struct am_bpf_target){ .flags = AM_TGT_SKIP_EXEC });

	if (!t)
		return oom();
	t->launched = true;
	*t->res = *tr->first;
	if (!o->os_only && !tr->first->no_alloc &&
	    (attach_target(tr, t) == 0 || !malloc_probed(t))) {
		am_err("cannot trace '%s': no allocator probe could be attached", o->cmd[0]);
		return 1;
	}
	return 0;
}

/* A running process: its probes, its module layout and memory map as they
 * are now, glibc's threshold read from it. 0 or 1 (printed). */
static int attach_pid(struct am_tracer *tr, pid_t pid)
{
	struct target *t;
	char maps[64], errbuf[512];
	FILE *mf;

	if (find_target(tr, pid))
		return 0;
	/* until every probe is in, no thread is known to be
	 * outside an untraced call (bpf: since) */
	t = add_target(tr, pid, &(struct am_bpf_target){ .since = ~0ULL });
	if (!t)
		return oom();
	if (am_resolve_pid(t->pid, t->res, errbuf, sizeof(errbuf)) < 0) {
		am_err("cannot attach to pid %d: %s", t->pid, errbuf);
		return 1;
	}
	corr_allocator(tr, t->pid, t->res);
	if (!tr->opts.os_only && !t->res->no_alloc &&
	    (attach_target(tr, t) == 0 || !malloc_probed(t))) {
		am_err("cannot attach to pid %d: no allocator probe could be attached", t->pid);
		return 1;
	}
	/* threads started from now on run only traced calls */
	set_target(tr, t->pid, am_now_ns(), 0);
	if (tr->unw)
		am_unw__refresh(tr->unw, (uint32_t)t->pid);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", t->pid);
	mf = fopen(maps, "re");
	if (mf) {
		am_corr__seed_maps(tr->corr, (uint32_t)t->pid, mf);
		fclose(mf);
	}
	if (!am_proc_alive(t->pid)) {
		am_err("cannot attach to pid %d: it exited during attach", t->pid);
		return 1;
	}
	if (tr->glibc && t->res->kind == AM_ALLOC_GLIBC)
		attach_threshold(tr, t);
	return 0;
}

int am_tracer__attach(struct am_tracer *tr)
{
	const struct am_trace_hooks *h = tr->opts.hooks;
	int rc = 0;

	if (bad_phase(tr, PH_LOADED, "attach"))
		return 1;
	if (h)
		tr->tee.s[tr->tee.n++] = h->sink;
	if (!tr->opts.cmd) /* launched: its exec (on_event) */
		set_origin(tr, am_now_ns(), "attach", 0);
	if (tr->opts.cmd)
		rc = attach_launched(tr);
	for (int i = 0; !tr->opts.cmd && !rc && i < tr->opts.n_pids; i++)
		rc = attach_pid(tr, tr->opts.pids[i]);
	if (rc)
		return rc;
	tr->phase = PH_ATTACHED;
	return 0;
}

/* Signals stop the event loop. Set only now: before the child existed they
 * would have been inherited by it. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* One line on stderr: what is traced, how to stop. */
static void announce(const struct am_tracer *tr)
{
	const struct am_tracer_opts *o = &tr->opts;
	const struct am_resolution *f = tr->first;
	/* names from the target's side, on the stream a launched command's
	 * trace shares: printable, never raw escapes */
	char cmd[PATH_MAX], obj[PATH_MAX];
	const char *c = am_printable(cmd, sizeof(cmd), o->cmd ? o->cmd[0] : "");
	const char *a = am_printable(obj, sizeof(obj), f->alloc_obj);

	if (o->os_only)
		am_info("OS-only mode: memory syscalls only, no allocator probes (causes inferred from stacks)");
	else if (f->no_alloc)
		am_info("%s: tracing memory syscalls only (their causes are unknown)", f->no_alloc_why);
	if (o->cmd)
		am_info("tracing '%s' (pid %d, %s allocator %s); Ctrl-C to stop", c ? c : "", tr->child,
			am_alloc_kind_name(f->kind), a ? a : "?");
	else
		am_info("tracing %d process%s (%s allocator %s); Ctrl-C to stop", tr->n_targets,
			tr->n_targets > 1 ? "es" : "", am_alloc_kind_name(f->kind), a ? a : "?");
}

int am_tracer__activate(struct am_tracer *tr)
{
	const struct am_trace_hooks *h = tr->opts.hooks;
	struct am_trace_info *info = &tr->info;
	int e;

	if (bad_phase(tr, PH_ATTACHED, "activate"))
		return 1;
	tr->running = true;
	if (!tr->opts.embedded) {
		catch_signals();
		announce(tr);
	}
	if (tee_wants_rss(&tr->tee) && !(tr->rss = am_rss__new()))
		return oom();
	/* -d counts from now, when every probe is in */
	if (tr->opts.duration > 0)
		tr->deadline = am_now_ns() + (uint64_t)(tr->opts.duration * 1e9);
	*info = (struct am_trace_info){
		.child = tr->child, .n_pids = 0, .pids = tr->info_pids,
		.allocator = am_alloc_kind_name(tr->first->kind), .alloc_obj = tr->first->alloc_obj,
		.t0_ns = tr->t0,
	};
	for (int i = 0; i < tr->n_targets && i < AM_MAX_PIDS; i++)
		tr->info_pids[info->n_pids++] = tr->targets[i].pid;
	tr->phase = PH_ACTIVE;
	if (h && h->started)
		h->started(h->ctx, info);
	if (!tr->opts.cmd)
		return 0;
	tr->released_ns = am_now_ns();
	tr->released = true;
	e = release_child(tr->go_fd, tr->err_fd);
	tr->go_fd = tr->err_fd = -1;
	if (e) {
		am_err("cannot run '%s': %s", tr->opts.cmd[0], strerror(e));
		waitpid(tr->child, NULL, 0);
		tr->child_done = true;
		return 127;
	}
	return 0;
}

static void snapshot_at(struct am_tracer *tr, uint64_t now, struct am_summary *out)
{
	struct am_counters cnt = tr->skel->bss->am_cnt;

	am_corr__snapshot(tr->corr, &cnt, tr->unattached, now - tr->t0, out);
}

/* hooks->tick, about every tick_ms. true: the hook stops the trace. */
static bool tick(struct am_tracer *tr)
{
	const struct am_trace_hooks *h = tr->opts.hooks;
	uint64_t now = am_now_ns();
	unsigned ms;
	struct am_summary snap;

	if (!h || !h->tick)
		return false;
	ms = h->tick_ms ? h->tick_ms : 250;
	if (now - tr->last_tick < (uint64_t)ms * 1000000)
		return false;
	tr->last_tick = now;
	snapshot_at(tr, now, &snap);
	return h->tick(h->ctx, &snap, now) != 0;
}

/* Every AM_RSS_PERIOD_MS: each live target's RSS to the sinks (from t = 0:
 * a held command has not run yet). */
static void sample_rss(struct am_tracer *tr)
{
	uint64_t now = am_now_ns();

	if (!tr->rss || !tr->origin || !am_rss__due(tr->rss, now))
		return;
	for (int i = 0; i < tr->n_targets; i++) {
		struct am_rss_rec r = { .ts_ns = now, .pid = (uint32_t)tr->targets[i].pid };

		/* 0 resident pages: it exited, its exit event is on its way */
		if (tr->targets[i].alive && am_rss__read(tr->rss, tr->targets[i].pid, &r.bytes) && r.bytes)
			tee_rss(&tr->tee, &r);
	}
}

/* One turn of the event loop. false: the trace is over. */
static bool loop_once(struct am_tracer *tr)
{
	const struct am_trace_hooks *h = tr->opts.hooks;
	int err = ring_buffer__poll(tr->rb, tr->rss ? AM_RSS_PERIOD_MS : 100);

	if (err < 0 && err != -EINTR) {
		am_err("reading the ring buffer: %s", strerror(-err));
		return false;
	}
	ring_buffer__consume(tr->rb);
	sample_rss(tr);
	advance(tr);
	if (!tr->opts.os_only)
		sweep_held(tr);
	if (tr->deadline && am_now_ns() >= tr->deadline)
		return false;
	/* an output that cannot be written (full disk): stop, the caller says so */
	if (h && h->stop && h->stop(h->ctx))
		return false;
	if (!any_alive(tr))
		return false;
	return !tick(tr);
}

void am_tracer__run(struct am_tracer *tr)
{
	if (bad_phase(tr, PH_ACTIVE, "run"))
		return;
	while (!stop_signal && loop_once(tr))
		;
	tr->phase = PH_RAN;
}

/* The launched command's end: reaped if it is over (Ctrl-C reaches it too:
 * it gets a moment to report), its figures into the summary. Returns
 * allocmap's exit status. */
static int reap_child(struct am_tracer *tr)
{
	struct target *ct = find_target(tr, tr->child);
	int ret, st;

	if (!tr->child_done && ct && !ct->alive) {
		/* the BPF exit event came before the child was reapable */
		if (wait4(tr->child, &tr->child_status, 0, &tr->ru) == tr->child)
			tr->child_done = true;
	} else if (!tr->child_done && stop_signal) {
		for (int i = 0; i < 20 && !tr->child_done; i++) {
			if (wait4(tr->child, &tr->child_status, WNOHANG, &tr->ru) == tr->child)
				tr->child_done = true;
			else
				usleep(10000);
		}
	}
	if (!tr->child_done) /* -d expired or a signal: it keeps running, untraced */
		return stop_signal ? 128 + stop_signal : 0;
	st = tr->child_status;
	ret = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	/* from its exec to its exit, as the kernel saw them: not until this
	 * loop noticed (0, unknown, when an event was lost) */
	am_corr__set_target(tr->corr, tr->exec_ns && tr->exit_ns >= tr->exec_ns ?
			    tr->exit_ns - tr->exec_ns : 0, (uint64_t)tr->ru.ru_maxrss, ret,
			    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return ret;
}

int am_tracer__finish(struct am_tracer *tr)
{
	struct am_counters cnt;
	int ret = 0;

	if (bad_phase(tr, PH_RAN, "finish"))
		return 1;
	/* drain what the targets left in the ring */
	while (ring_buffer__consume(tr->rb) > 0)
		;
	if (tr->child > 0)
		ret = reap_child(tr);
	flush_noret(tr);
	am_warnagg__flush(tr->warns, am_log_stream(), false);
	for (int fn = AM_FN__COUNT; fn < am_fn_count(); fn++)
		if (!tr->probed[fn] && !tr->opts.os_only)
			am_warn("--alloc %s: no traced image defined it: never probed", am_fn_info(fn)->sym);
	/* counters from the BPF side: everything lost is printed */
	cnt = tr->skel->bss->am_cnt;
	if (tr->unw && tr->opts.verbosity > 0) {
		struct am_unw_stats us;

		am_unw__stats(tr->unw, &us);
		am_info("stacks: %llu unwound, %llu whole-stack copies, %llu DWARF unwinds remembered, "
			"%llu stack tops learned, %llu dropped", (unsigned long long)us.stacks,
			(unsigned long long)us.whole, (unsigned long long)us.memo_hits,
			(unsigned long long)us.tops_learned, (unsigned long long)us.tops_dropped);
	}
	if (!tr->origin)
		set_origin(tr, tr->released_ns ? tr->released_ns : tr->t0, tr->opts.cmd ? "exec" : "attach",
			   (uint32_t)(tr->child > 0 ? tr->child : 0));
	/* the trace's duration: from t = 0 to now */
	am_corr__finish(tr->corr, &cnt, tr->unattached, am_now_ns() - tr->origin, NULL);
	tr->phase = PH_FINISHED;
	return ret;
}

void am_tracer__free(struct am_tracer *tr)
{
	if (!tr)
		return;
	if (tr->mw.running) {
		tr->mw.stop = 1;
		pthread_join(tr->mw.thread, NULL);
	}
	ring_buffer__free(tr->mw.rb);
	if (tr->go_fd >= 0)
		close(tr->go_fd); /* a held child that was never released exits 127 */
	if (tr->err_fd >= 0)
		close(tr->err_fd);
	if (tr->child > 0 && !tr->child_done && !tr->released)
		waitpid(tr->child, NULL, 0);
	ring_buffer__free(tr->rb);
	if (tr->rb_cons) {
		munmap((void *)tr->rb_cons, (size_t)sysconf(_SC_PAGESIZE));
		munmap((void *)tr->rb_prod, (size_t)sysconf(_SC_PAGESIZE));
	}
	detach_all(tr);
	for (int i = 0; i < tr->n_targets; i++)
		free(tr->targets[i].res);
	allocmap_bpf__destroy(tr->skel);
	am_corr__free(tr->corr);
	am_warnagg__flush(tr->warns, am_log_stream(), false); /* an error path left some */
	am_warnagg__free(tr->warns);
	am_rss__free(tr->rss);
	am_unw__free(tr->unw); /* last: the stacks above point at its strings */
	am_guard__free(tr->guard); /* after the detach: nothing can stop a target any more */
	pthread_cond_destroy(&tr->reaper.cv);
	pthread_mutex_destroy(&tr->reaper.mu);
	free(tr->first);
	free(tr);
}

int am_tracer__trace(struct am_tracer *tr)
{
	int rc;

	if ((rc = am_tracer__prepare(tr)) || (rc = am_tracer__load(tr)) ||
	    (rc = am_tracer__attach(tr)) || (rc = am_tracer__activate(tr)))
		return rc;
	am_tracer__run(tr);
	return am_tracer__finish(tr);
}

uint64_t am_tracer__t0(const struct am_tracer *tr)
{
	return tr->t0;
}

const struct am_trace_info *am_tracer__info(const struct am_tracer *tr)
{
	return tr->phase >= PH_ACTIVE ? &tr->info : NULL;
}

void am_tracer__snapshot(struct am_tracer *tr, struct am_summary *out)
{
	if (!tr->corr) {
		memset(out, 0, sizeof(*out));
		return;
	}
	snapshot_at(tr, am_now_ns(), out);
}

double am_tracer__ring_fill(struct am_tracer *tr)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long used;

	if (!tr->skel)
		return -1;
	if (!tr->rb_cons) {
		int fd = bpf_map__fd(tr->skel->maps.rb);
		void *c = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
		void *p = c == MAP_FAILED ? MAP_FAILED :
			  mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, page);

		if (p == MAP_FAILED) {
			if (c != MAP_FAILED)
				munmap(c, (size_t)page);
			return -1;
		}
		tr->rb_cons = c;
		tr->rb_prod = p;
		tr->rb_size = bpf_map__max_entries(tr->skel->maps.rb);
	}
	used = *tr->rb_prod - *tr->rb_cons;
	return tr->rb_size ? (double)used / (double)tr->rb_size : -1;
}

const struct am_sites_report *am_tracer__sites(struct am_tracer *tr)
{
	return tr->corr ? am_corr__sites(tr->corr) : NULL;
}
