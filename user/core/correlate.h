// SPDX-License-Identifier: GPL-2.0
/* correlate.h - the correlator: turns the raw BPF event stream into resolved
 * records. It keeps, per traced process, the region map (seeded from
 * /proc/PID/maps, kept in step with brk/mmap/munmap/mremap), the live
 * allocations (pointer -> size, region), the cause of every OS request, and
 * glibc's moving mmap threshold (known, or bounds narrowed from what the
 * process does); it hands finished records to an am_sink.
 * No libbpf include: unit-tested from synthetic events without root. */
#ifndef ALLOCMAP_CORRELATE_H
#define ALLOCMAP_CORRELATE_H

#include <stdio.h>
#include "model.h"

struct am_corr;

struct am_corr_opts {
	struct am_sink sink;          /* where finished records go */
	bool     glibc;               /* allocator is glibc: track/explain the mmap threshold */
	bool     musl;                /* allocator is musl's mallocng: fixed threshold, size-class groups */
	const char *allocator;        /* its name for the summary ("glibc", "musl", ...), NULL unknown */
	bool     threshold_pinned;    /* MALLOC_MMAP_THRESHOLD_ or the tunable is set */
	uint64_t threshold_start;     /* 0 = glibc default, 128 KiB */
	bool     threshold_attach;    /* processes ran before the trace (-p): a threshold not
	                                 given by am_corr__set_threshold is unknown */
	uint8_t  stack_mode;          /* enum am_stack_mode: stacks expected (counted when missing) */
	uint32_t sample_every;        /* AM_STACKS_ALL: only call ids divisible by this have stacks */
	bool     os_only;             /* no allocator probes (--mode os, or no_alloc): causes are
	                                 unknown unless a stack shows them */
	bool     no_alloc;            /* the target has no malloc to probe (Go, stripped static) */
	bool     attached;            /* -p: allocations made before the trace are not known */
};

/* Returns NULL on allocation failure. */
struct am_corr *am_corr__new(const struct am_corr_opts *opts);
/* Accepts NULL. */
void am_corr__free(struct am_corr *c);

/* The allocator process pid binds from now on, when it differs from the
 * first target's (opts.glibc/musl): after an exec into another image, or a
 * second -p target. Its rules (glibc's threshold, musl's groups) follow the
 * process; a forked child inherits them. Returns 0, or -1 on OOM. */
int am_corr__set_allocator(struct am_corr *c, uint32_t pid, bool glibc, bool musl);

/* Seed the region map of process pid from text in /proc/PID/maps format.
 * Returns the number of regions added, or -1 on a malformed stream. */
int am_corr__seed_maps(struct am_corr *c, uint32_t pid, FILE *maps);

/* What is known of pid's glibc threshold now (read from the process at
 * attach, or its environment after an exec): replaces the correlator's
 * start assumption for it. Returns 0, or -1 on allocation failure. */
int am_corr__set_threshold(struct am_corr *c, uint32_t pid, const struct am_thr *t);

/* Feed one ring-buffer record (struct am_call_event / am_os_event /
 * am_task_event, told apart by its first byte). Returns 0, or -1 if the
 * record is malformed (too short, unknown type), which is counted. */
int am_corr__event(struct am_corr *c, const void *data, size_t len);

/* The resolved user stack of record (kind, id) of pid (enum am_stack_kind):
 * frames f[0..n), innermost first, whose strings outlive the correlator.
 * Stacks arrive before their record and are attached to it when it comes.
 * cut (AM_STACK_OS): index of the frame of the causing allocator call, -1
 * unknown; with --stacks=os the call's own stack is f[cut..n). Returns 0,
 * or -1 on allocation failure. */
int am_corr__stack(struct am_corr *c, uint8_t kind, uint64_t id, uint32_t pid,
		   const struct am_frame *f, size_t n, uint32_t flags, int cut);

/* End of trace: flush OS requests still waiting for their call, compute the
 * summary (bpf counters and unattached count are copied in), deliver it to
 * sink.summary, and also copy it to *out when out != NULL. */
void am_corr__finish(struct am_corr *c, const struct am_counters *bpf,
		     uint64_t unattached_probes, uint64_t duration_ns,
		     struct am_summary *out);

/* Facts about the launched command that only the tracer knows (wall time,
 * peak RSS from wait4, its exit status; sig: the signal that killed it, 0);
 * copied into the summary by finish/snapshot. */
void am_corr__set_target(struct am_corr *c, uint64_t wall_ns, uint64_t maxrss_kb, int exit_code, int sig);

/* The summary so far, without flushing anything (for live views, called
 * several times a second): O(1). The live allocations by region and the
 * leak groups need a walk of every live allocation and are left as they
 * were (zero, or the last finish); everything else is current. */
void am_corr__snapshot(struct am_corr *c, const struct am_counters *bpf,
		       uint64_t unattached_probes, uint64_t duration_ns,
		       struct am_summary *out);

/* The call sites so far (sites.h; `allocmap top`'s pane), or NULL when
 * they are not counted (no stacks, or no calls traced) or memory ran out.
 * O(stacks log stacks). Valid until the next call, and it replaces the
 * sites of an earlier summary (same storage). */
const struct am_sites_report *am_corr__sites(struct am_corr *c);

#endif /* ALLOCMAP_CORRELATE_H */
