// SPDX-License-Identifier: GPL-2.0
/* diff_model.h - what changed between two traces (`allocmap diff A B`).
 * Each JSON Lines trace is read once with the report's reader (report.h)
 * and replayed through the report's model (report_model.h: the accounting
 * model's figures, calls per function, regions) and the call-site replay
 * (sites_replay.h); the OS requests are also counted per syscall and
 * cause, and allocations per region they were placed in. The two sides are
 * then put next to each other: every figure as A, B, B - A and B / A.
 *
 * Call sites are matched across the traces by a key that leaves out
 * everything that changes from run to run (pids, addresses):
 *  - AM_DMATCH_SITE: the site frame (the innermost frame outside the
 *    allocator) as function + source file:line;
 *  - AM_DMATCH_FUNCTION: that frame's function (+ source file), any line:
 *    survives an edit that moves lines;
 *  - AM_DMATCH_STACK: every frame of the allocation stack outside the
 *    allocator, each as function + file:line.
 * A function is the frame's symbol, else obj+0xOFF (no symbol), else its
 * address; frames without a site (no stack) are "(stack unknown)". Sites of
 * several processes with one key are added up. A key in one trace only is
 * "only in A" / "only in B" (its figures in the other: 0).
 * The matching (am_dsites_*) is plain C over two sites reports:
 * unit-tested in tests/unit/test_diff.c. */
#ifndef ALLOCMAP_DIFF_MODEL_H
#define ALLOCMAP_DIFF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "report_model.h"
#include "sites.h"

enum am_dmatch { AM_DMATCH_SITE = 0, AM_DMATCH_FUNCTION, AM_DMATCH_STACK, AM_DMATCH__COUNT };
extern const char *const am_dmatch_names[AM_DMATCH__COUNT];  /* "site", "function", "stack" */
/* The mode named name, or -1. */
int am_dmatch_by_name(const char *name);

/* One matched site (or stack). */
struct am_dsite {
	char *key;                        /* the match key (malloc'ed) */
	const struct am_frame *frame;     /* its site frame (A's when in A), NULL: unknown */
	const struct am_stack *stack;     /* AM_DMATCH_STACK: a stack with this key, else NULL */
	uint32_t skip;                    /* frames of stack inside the allocator */
	bool in[2];                       /* found in A, in B */
	struct am_site_fig f[2];          /* the figures in A and in B (0 when absent) */
};

struct am_dsites {
	enum am_dmatch match;
	struct am_dsite *rows;
	size_t n;
	size_t both, only[2];             /* keys in both, only in A, only in B */
	struct am_site_fig total[2];      /* each trace's totals */
};

/* Matches the sites (stacks, for AM_DMATCH_STACK) of a and b into out;
 * the rows point into a and b (which must outlive them). 0, or -1 when
 * memory runs out. */
int am_dsites_match(const struct am_sites_report *a, const struct am_sites_report *b,
		    enum am_dmatch match, struct am_dsites *out);
/* Sorts the rows by the absolute change of column by, largest first (ties:
 * the larger of the two values, then the key). */
void am_dsites_sort(struct am_dsites *d, enum am_site_sort by);
void am_dsites_free(struct am_dsites *d);

/* The match key of one frame (AM_DMATCH_SITE or _FUNCTION) into buf;
 * returns buf. NULL frame: "(stack unknown)". */
char *am_dframe_key(char *buf, size_t n, const struct am_frame *f, bool line);

/* OS-request causes: the allocator function (index as in rm_model's
 * function table), then these two. */
#define AM_DCAUSE_DIRECT  RM_NFN
#define AM_DCAUSE_UNKNOWN (RM_NFN + 1)
#define AM_DCAUSE_N       (RM_NFN + 2)

/* The mmap threshold of a trace, from its summary record (of its first
 * process, as the summary gives it). */
enum am_dthr { AM_DTHR_NO_SUMMARY = 0, AM_DTHR_NONE, AM_DTHR_KNOWN };
struct am_dthreshold {
	enum am_dthr state;               /* no summary record; none (neither glibc nor musl); there */
	bool start_known, end_known;      /* else only bounds: start_min..start_max */
	uint64_t start, start_min, start_max;
	uint64_t end, end_min, end_max;
	uint64_t changes;
	char source[32];                  /* "default", "env", "process", "musl", ... ("" unknown) */
};

/* One trace, read. */
struct am_dtrace {
	const char *path;
	struct rm_model *m;               /* figures, functions, regions */
	struct am_replay *rp;
	const struct am_sites_report *sites; /* NULL: why in sites_err */
	char sites_err[320];
	unsigned long lines;
	bool truncated;                   /* its last line was cut */
	bool has_summary;
	uint64_t calls_seen, calls_summary;  /* call records; calls its summary counts */
	char allocator[32];               /* the summary's "allocator" ("" absent) */
	uint64_t os_n[RM_NSYS][AM_DCAUSE_N];  /* OS requests by syscall and cause */
	uint64_t os_b[RM_NSYS][AM_DCAUSE_N];  /* bytes they obtained (rm_os_bytes) */
	uint64_t os_failed[RM_NSYS];
	uint64_t place_n[AM_REG__COUNT], place_b[AM_REG__COUNT]; /* allocations by region placed in */
	struct am_dthreshold thr;
	struct { int pid; uint64_t brk; } *brk; /* each process's last break */
	size_t n_brk, cap_brk;
	bool oom;
};

/* Reads the trace at path. NULL with a one-line message in err: cannot
 * open it, not an allocmap trace, no records, out of memory. A trace
 * without call sites (no -v or no --stacks) is read: its sites are NULL,
 * sites_err says why. */
struct am_dtrace *am_dtrace_read(const char *path, char *err, size_t errlen);
void am_dtrace_free(struct am_dtrace *t);
/* Name of cause index c ("malloc", ..., "direct", "unknown"). */
const char *am_dcause_name(int c);

#endif /* ALLOCMAP_DIFF_MODEL_H */
