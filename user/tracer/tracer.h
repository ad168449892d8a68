// SPDX-License-Identifier: GPL-2.0
/* tracer.h - the tracer as a phased object: every command that traces
 * (trace, top, compare, demo) drives one am_tracer through
 *
 *   am_tracer__new      options copied, nothing started
 *   am_tracer__prepare  root/BTF checks, targets resolved, guardian, held command forked
 *   am_tracer__load     BPF object opened and loaded, tracepoints on, correlator, ring buffers
 *   (am_tracer__add_sink: the caller's renderers, now that t0 is known)
 *   am_tracer__attach   the targets' uprobes
 *   am_tracer__activate signals, -d clock, hooks->started, the held command released
 *   am_tracer__run      the event loop, until a signal, -d, the targets' exit or a hook
 *   am_tracer__finish   the command reaped, pending records flushed, the summary delivered
 *   am_tracer__free     probes detached (handed off), everything released
 *
 * What is rendered, and where, is the caller's: records go to the sinks it
 * adds. Each phase returns 0, or the exit status allocmap should return
 * after it (the error was printed as one line on stderr): 1, or 127 when
 * the command could not be executed. After a failed phase only
 * am_tracer__free may follow. */
#ifndef ALLOCMAP_TRACER_H
#define ALLOCMAP_TRACER_H

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

/* The caller's side of a run (top, compare, demo, the trace command). */
struct am_trace_hooks {
	void *ctx;
	struct am_sink sink;       /* also receives every resolved record, after the sinks added
	                              with am_tracer__add_sink (NULL callbacks skipped) */
	void (*started)(void *ctx, const struct am_trace_info *info);
	/* about every tick_ms (default 250) with the summary so far; non-zero stops the trace */
	int  (*tick)(void *ctx, const struct am_summary *now, uint64_t now_ns);
	unsigned tick_ms;
	/* after every poll of the ring buffer (at least every 100 ms); true
	 * stops the trace (an output that cannot be written) */
	bool (*stop)(void *ctx);
};

struct am_tracer_opts {
	const pid_t *pids;        /* attach to these (at most AM_MAX_PIDS) ... */
	int   n_pids;
	char **cmd;               /* ... or launch this (NULL-terminated), held until its probes are in */
	char *const *env;         /* launch environment (NULL = environ) */
	double duration;          /* seconds from activation, 0 = until exit/signal */
	int   verbosity;          /* -1 quiet, 0 default, 1 verbose, 2 libbpf debug */
	bool  follow_forks;       /* -f */
	unsigned ringbuf_mb;      /* ring buffer MiB (a power of two) */
	bool  free_noret;         /* no return probe on free-role functions (approximate) */
	uint8_t  stack_mode;      /* enum am_stack_mode */
	unsigned sample;          /* every Nth call's stack (0/1 = all) */
	int      unwind;          /* enum am_unwind_mode */
	unsigned stack_bytes;     /* user stack bytes copied per stack (0 = default) */
	bool     os_only;         /* no uprobes, memory syscalls (and their stacks) only */
	bool     wake_each;       /* every record wakes the consumer at once (a program paced
	                             by what it sees: the demo); else the BPF side wakes it
	                             once an eighth of the ring is full, or it polls every
	                             100 ms */
	const struct am_trace_hooks *hooks; /* may be NULL */
	/* embedded in a process that runs several tracers (`allocmap serve`):
	 * no signal handlers (the caller stops it through hooks->stop), no
	 * "tracing ..." line, exited targets' probes detached here rather than
	 * handed to a forked process */
	bool     embedded;
};

struct am_tracer;

/* Copies opts (pids, cmd, env and hooks must outlive the tracer). NULL
 * after printing "out of memory". */
struct am_tracer *am_tracer__new(const struct am_tracer_opts *opts);
int  am_tracer__prepare(struct am_tracer *tr);
int  am_tracer__load(struct am_tracer *tr);
/* One more sink for the resolved records (between __load and __attach;
 * at most 4). Returns 0, or -1 when full. */
int  am_tracer__add_sink(struct am_tracer *tr, const struct am_sink *sink);
int  am_tracer__attach(struct am_tracer *tr);
int  am_tracer__activate(struct am_tracer *tr);
void am_tracer__run(struct am_tracer *tr);
/* Returns allocmap's exit status: the launched command's (128 + N when a
 * signal N ended it or the trace), 0 in attach mode. */
int  am_tracer__finish(struct am_tracer *tr);
/* Detaches, then frees. The records' stacks point into the tracer (the
 * correlator's stacks, the symbolizer's strings): a sink must be done with
 * them (its files written) before this. Accepts NULL, and a tracer at any
 * phase. */
void am_tracer__free(struct am_tracer *tr);

/* Every phase from prepare to finish, for a caller with nothing to do
 * between them. Returns the first failed phase's status, else finish's. */
int  am_tracer__trace(struct am_tracer *tr);

/* CLOCK_MONOTONIC ns when the trace started (end of __load), 0 before. */
uint64_t am_tracer__t0(const struct am_tracer *tr);
/* What hooks->started was told; NULL before __activate. */
const struct am_trace_info *am_tracer__info(const struct am_tracer *tr);
/* The summary so far (as hooks->tick gets it); after __load, also from a
 * sink callback. */
void am_tracer__snapshot(struct am_tracer *tr, struct am_summary *out);

/* How full the ring buffer is now, 0..1 (its producer and consumer
 * positions, read from the kernel's pages); -1 before __load or when they
 * cannot be mapped. */
double am_tracer__ring_fill(struct am_tracer *tr);

/* The call sites so far (am_corr__sites: NULL without stacks), from a
 * hook or a sink callback. */
const struct am_sites_report *am_tracer__sites(struct am_tracer *tr);

#endif /* ALLOCMAP_TRACER_H */
