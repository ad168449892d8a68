// SPDX-License-Identifier: GPL-2.0
/* trace_cmd.c - the `allocmap trace` command: drives the tracer (tracer.h)
 * phase by phase and owns what it writes: the text or JSON stream (-o FILE,
 * else stderr for a launched command, stdout with -p), the full JSONL
 * capture that --html and --perfetto are built from once the trace is over,
 * the --folded / --folded-alloc files and the --pprof profile (written from
 * the summary as it is delivered). The
 * outputs are opened once the tracer is loaded (t0 is known) and before any
 * probe is attached. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "folded.h"
#include "log.h"
#include "output.h"
#include "pprof.h"
#include "proc.h"
#include "report.h"
#include "safeio.h"
#include "session.h"
#include "trace_cmd.h"
#include "tracer.h"

/* One run's outputs. */
struct trace_cmd {
	const struct am_trace_opts *o;
	struct am_out *out;       /* the text or JSON stream */
	FILE *outf;               /* its file: -o, stderr or stdout */
	bool out_reported;        /* a failed write to it was said */
	struct am_out *capture;   /* full JSONL for --html/--perfetto */
	FILE *capf;
	char cap_path[64];        /* /proc/self/fd/N of the unlinked capture */
	char cap_dir[256];        /* the directory it is in ($TMPDIR, /tmp) */
	struct am_folded *folded; /* --folded / --folded-alloc */
	uint64_t t0;              /* the trace's start (monotonic ns) */
	bool pprof_failed;        /* --pprof could not be written (said) */
};

static int oom(void)
{
	am_err("out of memory");
	return 1;
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
static int write_folded(struct trace_cmd *c)
{
	const char *path[2] = { c->o->folded, c->o->folded_alloc };
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
		if (am_folded__write(c->folded, k, f) < 0) {
			am_err("cannot write %s: %s", path[k], strerror(errno));
			ret = -1;
		}
		if (fclose(f)) {
			if (!ret)
				am_err("cannot write %s: %s", path[k], strerror(errno));
			ret = -1;
		} else if (!ret) {
			am_info("wrote %s", path[k]);
		}
	}
	return ret;
}

/* sink->summary for --pprof: the profile of the summary's call sites,
 * written while the summary (and the sites it points to) exists. */
static void pprof_summary(void *ctx, const struct am_summary *sum)
{
	struct trace_cmd *c = ctx;
	struct timespec now;
	struct am_pprof_meta m = { .duration_ns = sum->duration_ns };
	char why[PATH_MAX + 128];

	if (!clock_gettime(CLOCK_REALTIME, &now))
		m.time_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec - (am_now_ns() - c->t0);
	if (!sum->sites) {
		am_err("cannot write %s: %s", c->o->pprof, sum->os_only ?
		       "no allocator calls were traced (no malloc to probe): no call sites" : "out of memory");
		c->pprof_failed = true;
		return;
	}
	m.period = sum->sites->sample_every;
	if (am_pprof_write(c->o->pprof, sum->sites, &m, why, sizeof(why)) < 0) {
		am_err("cannot write %s: %s", c->o->pprof, why);
		c->pprof_failed = true;
	}
}

/* "standard error", "standard output", or the -o file's name. */
static const char *stream_name(const struct trace_cmd *c)
{
	return c->o->output ? c->o->output : c->outf == stderr ? "standard error" : "standard output";
}

/* Plugs one output into the tracer (four at most here: it takes four). */
static int add_sink(struct am_tracer *tr, const struct am_sink *s)
{
	if (!am_tracer__add_sink(tr, s))
		return 0;
	am_err("internal error: the tracer refused an output");
	return 1;
}

/* The text or JSON stream: on -o FILE, else on stderr when a command is
 * launched (as strace: apart from the command's own output), stdout with
 * -p. 0 or 1 (printed). */
static int open_stream(struct trace_cmd *c, struct am_tracer *tr)
{
	const struct am_trace_opts *o = c->o;
	struct am_out_opts oo = {
		.t0_ns = am_tracer__t0(tr), .json = o->json,
		.verbosity = o->verbosity > 1 ? 1 : o->verbosity,
		.multi_pid = o->n_pids > 1 || o->follow_forks,
		.sites_top = o->sites_top, .sites_sort = o->sites_sort,
		.ordered = true, .startup_each = o->startup_each, .cmd = o->cmd, .rss = true,
	};
	struct am_sink s;

	c->outf = o->cmd ? stderr : stdout;
	if (o->output) {
		char why[PATH_MAX + 128];

		c->outf = am_fopen_output(o->output, why, sizeof(why));
		if (!c->outf) {
			am_err("cannot open %s: %s", o->output, why);
			return 1;
		}
	}
	oo.f = c->outf;
	c->out = am_out__new(&oo);
	if (!c->out)
		return oom();
	am_out__sink(c->out, &s);
	return add_sink(tr, &s);
}

/* --html/--perfetto: the report is built from the full event stream, as
 * JSONL, in a file with no name. 0 or 1 (printed). */
static int open_capture(struct trace_cmd *c, struct am_tracer *tr)
{
	int fd = capture_file(c->cap_dir, sizeof(c->cap_dir));
	struct am_out_opts oo = {
		.json = true, .verbosity = 1, .t0_ns = am_tracer__t0(tr),
		.multi_pid = c->o->n_pids > 1 || c->o->follow_forks, .ordered = true,
		.cmd = c->o->cmd, .rss = true,
	};
	struct am_sink s;

	if (fd < 0 || !(c->capf = fdopen(fd, "w+"))) {
		am_err("cannot create a temporary file in %s: %s", c->cap_dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* read back through the descriptor: the file has no name */
	snprintf(c->cap_path, sizeof(c->cap_path), "/proc/self/fd/%d", fd);
	oo.f = c->capf;
	c->capture = am_out__new(&oo);
	if (!c->capture)
		return oom();
	am_out__sink(c->capture, &s);
	return add_sink(tr, &s);
}

/* Every output, plugged into the tracer in the order they get records. */
static int open_outputs(struct trace_cmd *c, struct am_tracer *tr)
{
	struct am_sink s;
	int rc;

	c->t0 = am_tracer__t0(tr);
	if ((rc = open_stream(c, tr)))
		return rc;
	if ((c->o->html || c->o->perfetto) && (rc = open_capture(c, tr)))
		return rc;
	if (c->o->folded || c->o->folded_alloc) {
		c->folded = am_folded__new();
		if (!c->folded)
			return oom();
		am_folded__sink(c->folded, &s);
		if ((rc = add_sink(tr, &s)))
			return rc;
	}
	if (c->o->pprof)
		return add_sink(tr, &(struct am_sink){ .ctx = c, .summary = pprof_summary });
	return 0;
}

/* hooks->stop: an output that cannot be written ends the trace (said at the end) */
static bool outputs_failed(void *ctx)
{
	const struct trace_cmd *c = ctx;

	return (c->out && am_out__error(c->out)) || (c->capture && am_out__error(c->capture));
}

/* The reports from the capture: never from part of the events. */
static int write_reports(struct trace_cmd *c, int ret)
{
	const struct am_trace_opts *o = c->o;
	char errbuf[512];

	am_out__flush(c->capture);
	if (am_out__error(c->capture)) {
		am_err("cannot write the capture for %s in %s: %s (set TMPDIR to a roomier directory)",
		       o->html ? o->html : o->perfetto, c->cap_dir, strerror(am_out__error(c->capture)));
		return ret ? ret : 1;
	}
	if (o->html && am_report_html_named(c->cap_path, "this trace", o->html, errbuf, sizeof(errbuf)) < 0) {
		am_err("cannot write %s: %s", o->html, errbuf);
		ret = ret ? ret : 1;
	} else if (o->html) {
		am_info("wrote %s", o->html);
	}
	if (o->perfetto && am_report_perfetto(c->cap_path, o->perfetto, errbuf, sizeof(errbuf)) < 0) {
		am_err("cannot write %s: %s", o->perfetto, errbuf);
		ret = ret ? ret : 1;
	} else if (o->perfetto) {
		am_info("wrote %s", o->perfetto);
	}
	return ret;
}

/* After the tracer's finish (the summary is out): the files made from the
 * whole trace. ret: the status so far; returns it, or 1 if it was 0 and a
 * write failed. */
static int write_outputs(struct trace_cmd *c, int ret)
{
	const char *name = stream_name(c);

	am_out__flush(c->out);
	if (c->pprof_failed)
		ret = ret ? ret : 1;
	if (c->folded && write_folded(c) < 0)
		ret = ret ? ret : 1;
	if (am_out__error(c->out)) {
		am_err("cannot write %s: %s", name, strerror(am_out__error(c->out)));
		c->out_reported = true;
		ret = ret ? ret : 1;
	}
	if (c->capture)
		ret = write_reports(c, ret);
	return ret;
}

/* Last, after the tracer is gone: the stream's last bytes, which may fail
 * on a full disk (read the renderer's error before it goes). */
static int close_outputs(struct trace_cmd *c, int ret)
{
	const char *name = c->outf ? stream_name(c) : "";
	bool std = c->outf == stdout || c->outf == stderr;
	bool out_failed;

	if (c->out)
		am_out__flush(c->out);
	out_failed = c->out && am_out__error(c->out);
	if (out_failed && !c->out_reported) {
		am_err("cannot write %s: %s", name, strerror(am_out__error(c->out)));
		ret = ret ? ret : 1;
	}
	am_out__free(c->out);
	am_out__free(c->capture);
	am_folded__free(c->folded);
	if (c->capf)
		fclose(c->capf);
	if (c->outf) {
		errno = 0;
		if ((std ? fflush(c->outf) : fclose(c->outf)) && !out_failed) {
			am_err("cannot write %s: %s", name, strerror(errno ? errno : EIO));
			ret = ret ? ret : 1;
		} else if (!std && !out_failed && c->out) {
			am_info("wrote %s", c->o->output);
		}
	}
	return ret;
}

void am_trace_tracer_opts(const struct am_trace_opts *o, struct am_tracer_opts *out)
{
	*out = (struct am_tracer_opts){
		.pids = o->pids, .n_pids = o->n_pids, .cmd = o->cmd, .duration = o->duration,
		.verbosity = o->verbosity, .follow_forks = o->follow_forks, .ringbuf_mb = o->ringbuf_mb,
		.free_noret = o->free_noret, .stack_mode = o->stack_mode, .sample = o->sample,
		.unwind = o->unwind, .stack_bytes = o->stack_bytes, .os_only = o->os_only,
	};
}

int am_trace_cmd(const struct am_trace_opts *o)
{
	struct trace_cmd c = { .o = o };
	struct am_trace_hooks hooks = { .ctx = &c, .stop = outputs_failed,
					.sink = { .task = am_session_task } };
	struct am_tracer_opts to;
	struct am_tracer *tr;
	int ret;

	if ((ret = am_session_check(o->pids, o->n_pids, o->cmd)))
		return ret;
	am_trace_tracer_opts(o, &to);
	to.hooks = &hooks;
	tr = am_tracer__new(&to);
	if (!tr)
		return 1;
	ret = am_tracer__prepare(tr);
	if (!ret)
		ret = am_tracer__load(tr);
	if (!ret)
		ret = open_outputs(&c, tr);
	if (!ret)
		ret = am_tracer__attach(tr);
	if (!ret && am_session_active())
		ret = am_session_recheck(); /* the pids checked are still those processes */
	if (!ret)
		ret = am_tracer__activate(tr);
	if (!ret) {
		am_tracer__run(tr);
		ret = write_outputs(&c, am_tracer__finish(tr));
	}
	/* the records' stacks live in the tracer: every output is written by now */
	am_tracer__free(tr);
	return close_outputs(&c, ret);
}
