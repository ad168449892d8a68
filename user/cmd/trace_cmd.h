// SPDX-License-Identifier: GPL-2.0
/* trace_cmd.h - the `allocmap trace` command: its options (parsed by
 * main.c) and the entry point that drives the tracer (tracer.h) and writes
 * what it sees: the text or JSON stream, the --html/--perfetto reports, the
 * folded stacks. */
#ifndef ALLOCMAP_TRACE_CMD_H
#define ALLOCMAP_TRACE_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "model.h"
#include "tracer.h" /* AM_MAX_PIDS */

struct am_trace_opts {
	pid_t pids[AM_MAX_PIDS];  /* -p */
	int   n_pids;
	char **cmd;               /* -- CMD ARGS (NULL-terminated), or NULL */
	double duration;          /* -d seconds, 0 = until exit/signal */
	const char *output;       /* -o FILE, NULL = stdout */
	bool  json;               /* --json */
	int   verbosity;          /* -1 quiet, 0 default, 1 verbose, 2 libbpf debug (the text only) */
	bool  startup_each;       /* --startup: the loader's startup requests one by one */
	bool  follow_forks;       /* -f */
	unsigned ringbuf_mb;      /* --ringbuf-mb */
	const char *html;         /* --html FILE: self-contained report (report.c) */
	const char *perfetto;     /* --perfetto FILE: Chrome trace JSON (report.c) */
	bool  free_noret;         /* --free-noret: no return probe on free-role functions (approximate) */
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
	const char *socket;       /* --socket PATH: through the allocmap daemon (remote.c) */
};

/* Runs the trace. Returns the process exit status for allocmap: the launched
 * command's status in launch mode, 0 on success, 1 after an error (already
 * printed as one line on stderr). */
int am_trace_cmd(const struct am_trace_opts *opts);

/* The tracer's part of opts (hooks NULL), for commands that parse the same
 * options (top). */
void am_trace_tracer_opts(const struct am_trace_opts *opts, struct am_tracer_opts *out);

#endif /* ALLOCMAP_TRACE_CMD_H */
