// SPDX-License-Identifier: GPL-2.0
/* trace.h - the `allocmap trace` job: options parsed by main.c and the entry
 * point that loads the BPF object, attaches to the targets, runs the event
 * loop and prints the trace. */
#ifndef ALLOCMAP_TRACE_H
#define ALLOCMAP_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "model.h"

#define AM_MAX_PIDS 64

/* What the tracer tells a hook once every probe is attached. */
struct am_trace_info {
	pid_t child;               /* launched command's pid, or -1 */
	int   n_pids;              /* processes traced at start */
	const pid_t *pids;
	const char *allocator;     /* "glibc", "jemalloc", ... */
	const char *alloc_obj;     /* the object that provides malloc */
	uint64_t t0_ns;            /* CLOCK_MONOTONIC start of the trace */
};

/* Lets another job (top, compare, demo) ride on the trace loop. */
struct am_trace_hooks {
	void *ctx;
	struct am_sink sink;       /* also receives every resolved record (NULL callbacks skipped) */
	void (*started)(void *ctx, const struct am_trace_info *info);
	/* about every tick_ms (default 250) with the summary so far; non-zero stops the trace */
	int  (*tick)(void *ctx, const struct am_summary *now, uint64_t now_ns);
	unsigned tick_ms;
};

struct am_trace_opts {
	pid_t pids[AM_MAX_PIDS];  /* -p */
	int   n_pids;
	char **cmd;               /* -- CMD ARGS (NULL-terminated), or NULL */
	double duration;          /* -d seconds, 0 = until exit/signal */
	const char *output;       /* -o FILE, NULL = stdout */
	bool  json;               /* --json */
	int   verbosity;          /* -1 quiet, 0 default, 1 verbose, 2 libbpf debug */
	bool  follow_forks;       /* -f */
	unsigned ringbuf_mb;      /* --ringbuf-mb */
	const char *html;         /* --html FILE: self-contained report (report.c) */
	const char *perfetto;     /* --perfetto FILE: Chrome trace JSON (report.c) */
	bool  no_output;          /* no text/JSON stream at all (a hook renders) */
	bool  free_noret;         /* --free-noret: no return probe on free-role functions (approximate) */
	const struct am_trace_hooks *hooks;
	char *const *env;         /* launch environment (NULL = environ) */
	/* user stacks, leaks, flame graphs */
	uint8_t  stack_mode;      /* enum am_stack_mode: --stacks[=all|os] */
	unsigned sample;          /* --sample N: every Nth call's stack (0/1 = all) */
	int      unwind;          /* enum am_unwind_mode: --unwind */
	unsigned stack_bytes;     /* --stack-size: user stack bytes copied per stack (0 = default) */
	bool     os_only;         /* --mode os: no uprobes, memory syscalls (and their stacks) only */
	const char *folded;       /* --folded FILE: folded stacks weighted by bytes from the OS */
	const char *folded_alloc; /* --folded-alloc FILE: weighted by bytes allocated */
	/* call sites (sites.h) */
	unsigned sites_top;       /* --top N: rows of the summary's call-site table */
	int      sites_sort;      /* --sort COL: enum am_site_sort */
	const char *pprof;        /* --pprof FILE: gzipped profile.proto of the call sites */
};

/* Runs the trace. Returns the process exit status for allocmap: the launched
 * command's status in launch mode, 0 on success, 1 after an error (already
 * printed as one line on stderr). */
int am_trace_run(const struct am_trace_opts *opts);

#endif /* ALLOCMAP_TRACE_H */
