// SPDX-License-Identifier: GPL-2.0
/* sites.h - call-site profiles: the program's allocations aggregated by
 * allocation stack and by call site (the innermost frame of that stack
 * outside the allocator), with per site the calls, the bytes allocated, the
 * bytes live at its process's live peak, live at the end (leaked), the
 * temporary allocations, the bytes obtained from the OS by its calls and
 * the regions its allocations were placed in.
 *
 * An am_sites is fed resolved records (model.h), the same ones the
 * correlator hands its sink: live by the correlator, and on replay by
 * `allocmap report`, which rebuilds them from a JSON Lines trace. It keeps
 * its own table of live blocks, so both give the same figures.
 *
 * Rules (README "Call sites"):
 *  - an allocation is an outermost allocating call that returned a block
 *    (nested calls, failures and calls whose return was missed are not);
 *    realloc releases its old block and makes a new one;
 *  - temporary: a block freed (free-role function: free, operator delete,
 *    free_sized) by the thread that allocated it, in that thread's next
 *    outermost allocator call after the one that made it (no allocation
 *    and no free of that thread in between); a block released by realloc
 *    is not temporary;
 *  - peak: the site's blocks live at the first instant its process's live
 *    bytes (the blocks of every site of that process) reached their
 *    maximum;
 *  - OS bytes: what the OS requests an outermost call caused obtained
 *    (am_os_obtained), counted for the site of that call;
 *  - an exec drops the blocks of the old image: neither freed nor leaked.
 * Plain C, no libbpf: unit-tested (tests/unit/test_sites.c). */
#ifndef ALLOCMAP_SITES_H
#define ALLOCMAP_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"

/* The columns a sites table can be sorted by (--sort). */
enum am_site_sort {
	AM_SORT_ALLOC = 0,   /* "alloc": bytes allocated */
	AM_SORT_PEAK,        /* "peak": bytes live at the process's peak */
	AM_SORT_LEAK,        /* "leak": bytes live at the end */
	AM_SORT_TEMP,        /* "temp": temporary allocations */
	AM_SORT_OS,          /* "os": bytes obtained from the OS */
	AM_SORT_CALLS,       /* "calls": allocations */
	AM_SORT__COUNT,
};
extern const char *const am_site_sort_names[AM_SORT__COUNT];
/* The column named name, or -1. */
int am_site_sort_by_name(const char *name);

/* The figures of one stack, one site, or all of them. */
struct am_site_fig {
	uint64_t calls, bytes;             /* allocations, bytes requested */
	uint64_t peak_count, peak_bytes;   /* live at the process's live peak */
	uint64_t leak_count, leak_bytes;   /* live at the end */
	uint64_t temp_count, temp_bytes;   /* temporary allocations */
	uint64_t os_bytes;                 /* obtained from the OS by its calls */
	uint64_t region_count[AM_REG__COUNT]; /* where its allocations were placed */
	uint64_t region_bytes[AM_REG__COUNT];
};

/* One allocation stack of one process. */
struct am_site_stack {
	const struct am_stack *stack;      /* NULL: its process's calls without a stack */
	uint32_t pid;
	uint32_t site;                     /* index in am_sites_report.sites */
	uint32_t skip;                     /* leading frames inside the allocator (the site
	                                      frame is stack->f[skip]; == n: none outside) */
	struct am_site_fig f;
};

/* One call site: the innermost frame outside the allocator, in one process. */
struct am_site {
	uint32_t pid;
	const struct am_frame *frame;      /* NULL: unknown (no stack, or no frame outside) */
	uint32_t n_stacks;                 /* allocation stacks through it */
	struct am_site_fig f;
};

/* One traced process's live peak. */
struct am_sites_proc {
	uint32_t pid;
	uint64_t peak_bytes, peak_count;   /* its live blocks at the peak */
	uint64_t peak_ts;                  /* when it was reached (monotonic ns), 0 never */
};

struct am_sites_report {
	const struct am_site_stack *stacks; /* largest bytes allocated first */
	size_t n_stacks;
	const struct am_site *sites;       /* largest bytes allocated first */
	size_t n_sites;
	const struct am_sites_proc *procs; /* first seen first */
	size_t n_procs;
	struct am_site_fig total;          /* every stack's figures added up */
	uint32_t sample_every;             /* --sample N: only every Nth call had a stack (1: all) */
	bool incomplete;                   /* memory ran out: some records were not counted */
};

struct am_sites;

/* sample_every: the --sample rate, reported (0 or 1: every call). Returns
 * NULL on allocation failure. */
struct am_sites *am_sites__new(uint32_t sample_every);
/* Accepts NULL. */
void am_sites__free(struct am_sites *s);

/* What am_sites__call did with a call (flags). */
#define AM_SITE_ALLOC 1u   /* it made a block: an allocation of its stack's site */
#define AM_SITE_OS    2u   /* its OS requests are its stack's (it allocated or obtained bytes) */
#define AM_SITE_FREED 4u   /* it released a block live in the table */

/* Feed one allocator call and the OS requests it caused (a sink's call).
 * Returns AM_SITE_* flags (0: nested, or neither allocated nor released). */
unsigned am_sites__call(struct am_sites *s, const struct am_call_rec *c,
			const struct am_os_rec *os, size_t n_os);
/* Feed an OS request delivered alone (direct, orphaned): brk tracking. */
void am_sites__os(struct am_sites *s, const struct am_os_rec *o);
/* Feed a task event (an exec drops the process's blocks). */
void am_sites__task(struct am_sites *s, const struct am_task_event *t);

/* Calls fn with every block live now: its process, pointer, size and
 * allocation stack (NULL: unknown). */
void am_sites__each_live(const struct am_sites *s,
			 void (*fn)(void *ctx, uint32_t pid, uint64_t ptr, uint64_t size,
				    const struct am_stack *stack),
			 void *ctx);

/* The figures now. The report and its arrays belong to s and stay valid
 * until the next call of am_sites__report or am_sites__free; stacks point
 * into the caller's stack table, which must outlive them. NULL only when
 * memory runs out. */
const struct am_sites_report *am_sites__report(struct am_sites *s);

/* Leading frames of st inside the allocator: frame 0 (the traced
 * function, or the causing call's own frame) and the allocator-table
 * functions right above it (operator new over malloc). */
uint32_t am_site_skip(const struct am_stack *st);

/* The value of column by in f. */
uint64_t am_site_value(const struct am_site_fig *f, enum am_site_sort by);

/* Indexes of the n sites of r sorted by column by, largest first (ties:
 * bytes allocated, then calls, then their order in r). malloc'ed; NULL on
 * allocation failure or when n is 0. */
size_t *am_sites_order(const struct am_sites_report *r, enum am_site_sort by);

/* Bytes an OS request obtained from the kernel: anonymous mmap (not
 * PROT_NONE), mremap growth, brk growth (prev_brk: the break before, 0
 * unknown), and mprotect to writable of an allocator reservation (arena
 * growth; with cause unknown too). 0 otherwise. */
uint64_t am_os_obtained(const struct am_os_rec *r, uint64_t prev_brk);

#endif /* ALLOCMAP_SITES_H */
