// SPDX-License-Identifier: GPL-2.0
/* report_model.h - the streaming model behind the HTML report and the
 * Perfetto export: fed the JSON Lines trace one record at a time, it keeps
 * the brk heap size, the bytes in allocator mappings and the live bytes
 * (every byte figure is the accounting model's, memacct.h, which the
 * records are replayed through in file order: the same code and the same
 * order as the tracer's summary), the
 * allocator regions with their lifetimes, the live allocations, and
 * screen-sized aggregates (adaptive time buckets, a size x time grid,
 * capped samples), so that memory stays bounded however long the trace.
 * With stacks on, it also folds every OS request's stack into a capped
 * frame tree (the report's flame graph). Plain C, no json-c: the record is
 * handed over as a struct rm_rec. */
#ifndef ALLOCMAP_REPORT_MODEL_H
#define ALLOCMAP_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "memacct.h"
#include "model.h"

#define RM_NBUCKETS   2048      /* timeline buckets (adaptive width) */
#define RM_GRID_COLS  256       /* threshold view: time columns */
#define RM_GRID_ROWS  192       /* threshold view: 4 rows per octave, 2^0..2^48 */
#define RM_NSERVED    4         /* heap, mmap, arena, other */
#define RM_POINT_CAP  20000     /* exact threshold-view points kept */
#define RM_ALLOC_CAP  20000     /* sampled allocation lifetimes kept */
#define RM_LIVE_CAP   20000     /* extra live-at-end allocations kept */
#define RM_DEAD_REGION_CAP 2000 /* unmapped regions kept for the address map */
#define RM_NFN        (AM_FN_MAX + 1) /* the function table (model.h), then "other" */
#define RM_FLAME_CAP  10000     /* flame graph: frame-tree nodes kept */
#define RM_FLAME_PIDS 64        /* flame graph: last break tracked per pid */
#define RM_FLAME_ENDS 20000     /* flame graph: requests remembered with their time (a range) */
#define RM_ACC_CAP    64        /* address map: committed ranges drawn per region */
#define RM_FN_COLS    256       /* function table by time: columns (adaptive width) */
#define RM_RSS_CAP    4096      /* RSS points kept (beyond: pairs merged, the larger kept) */
#define RM_RSS_PIDS   64        /* processes whose last RSS is summed */

enum rm_type { RM_T_OTHER, RM_T_CALL, RM_T_OS, RM_T_THRESHOLD, RM_T_TASK, RM_T_SUMMARY, RM_T_SEED, RM_T_RSS };
/* the memory syscalls of AM_SYSCALL_TABLE (bpf/allocmap.h), then "other" */
#define RM_SYS_ENUM_(e, name, ret_addr, color, args) RM_SYS_##e = AM_SYS_##e,
enum rm_sys { AM_SYSCALL_TABLE(RM_SYS_ENUM_) RM_SYS_OTHER = AM_SYS__COUNT, RM_NSYS };
#undef RM_SYS_ENUM_
enum rm_kind { RM_K_HEAP, RM_K_MMAP, RM_K_ARENA, RM_K_OTHER };  /* region kinds */

/* One stack frame of a record (README: frame format); absent keys 0/NULL. */
struct rm_frame {
	uint64_t    addr, off;
	const char *sym, *obj, *file;
	int         line;
};

/* One input record, the fields the model needs (absent fields are 0/NULL). */
struct rm_rec {
	int      type;         /* enum rm_type */
	uint64_t ts;           /* ts_ns */
	uint64_t dur;          /* dur_ns */
	int      pid, tid;
	uint64_t id;           /* call or os id */
	/* call */
	int      fn;           /* index in rm_fn_names, -1 unknown */
	uint64_t size;
	bool     has_size;
	uint64_t ptr, ret;     /* ptr: realloc/free input; ret: result */
	bool     has_ret;
	bool     has_dur;     /* "dur_ns" was there (a free has none: no return probe) */
	size_t   n_os;         /* length of "os" */
	const char *region;    /* call/os "region" label, or NULL */
	bool     nested, missed;
	uint64_t threshold;    /* call: threshold field (0 absent) */
	bool     thr_unknown;  /* call: glibc threshold unknown (threshold_min/max instead) */
	/* os */
	int      sys;          /* enum rm_sys */
	uint64_t addr, len, new_len;
	const char *prot;      /* or NULL */
	const char *flags;     /* mmap/mremap flags, or NULL */
	const char *advice;    /* madvise, or NULL */
	bool     failed;       /* "error" present */
	bool     cause_call;   /* cause.kind == "call" */
	bool     cause_direct; /* cause.kind == "direct" */
	uint64_t cause_id;     /* cause.call_id */
	int      cause_fn;     /* cause.fn index, -1 */
	uint64_t cause_size;
	/* threshold */
	uint64_t th_old, th_new;
	/* rss: the resident bytes sampled */
	uint64_t rss;
	/* task: its kind ("fork", "exec", "exit"), or NULL */
	const char *task_kind;
	/* seed: a mapping there before the trace, [addr, end) ("region": heap or
	 * preexisting) */
	uint64_t end;
	bool     accessible;
	/* call/os "stack", innermost first (strings owned by the caller) */
	const struct rm_frame *stack;
	size_t   n_stack;
	int      alloc_frames; /* os: leading frames inside the allocator call, -1 unknown */
};

const char *rm_fn_name(int fn);        /* "other" past the table */
extern const char *const rm_sys_names[RM_NSYS];
extern const char *const rm_kind_names[4];
/* Index of a function named in a trace; role: its "role" field (--alloc
 * functions), which registers a name this process does not know. -1 for
 * NULL, RM_NFN - 1 ("other") if unknown. */
int rm_fn_index(const char *name, const char *role);
int rm_sys_index(const char *name);    /* RM_SYS_OTHER if unknown */

struct rm_bucket {
	bool     has;
	uint64_t min[3], max[3], last[3];  /* heap, mmap, live */
};

struct rm_region {
	uint64_t start, end;       /* current (or last) extent */
	uint64_t t_start, t_end;   /* relative ns; t_end UINT64_MAX while mapped */
	int      pid;              /* of the process it belongs to */
	uint64_t os_id;            /* creating OS request, 0 if none (synthetic) */
	uint64_t cause_call;       /* the allocator call behind it, 0 if direct/unknown */
	int      cause_fn;         /* -1 unknown */
	uint64_t cause_size;
	int      tid;
	int      kind;             /* enum rm_kind */
	const char *label;         /* synthetic regions: "preexisting", "unknown", "direct" */
	uint64_t n_allocs, alloc_bytes, live_count, live_bytes, peak_live;
	bool     mapped;           /* still in the live index */
	bool     free_slot;        /* dead beyond the cap: slot reusable */
	uint32_t gen;              /* bumped when the slot is reused */
};

/* One allocation lifetime: sampled or live at the end. */
struct rm_alloc {
	uint64_t addr, size;
	uint64_t t0, t1;           /* relative ns; t1 UINT64_MAX while live */
	uint64_t call_id;
	int      region;           /* index in regions, -1 */
	uint32_t rgen;             /* the region's gen when recorded */
	int      fn;
	int      tid;
};

struct rm_live {               /* live allocation hash entry */
	uint64_t ptr;              /* 0 = empty slot */
	uint64_t size, t0, call_id;
	int32_t  region, slot;     /* region index; slot in the sample, -1 */
	uint32_t rgen;
	int16_t  fn;
	int32_t  tid;
};

/* Flame graph of OS-requesting stacks: a tree rooted at node 0 ("all"),
 * root first down to the innermost frame, then a pseudo-frame naming the
 * syscall. Frames are merged by function (symbol + object): file/line are
 * those first seen, RM_FN_LINES says others were seen too. */
enum { RM_FN_ALLOC = 1,       /* inside the allocator call that caused the request */
       RM_FN_LINES = 2,       /* seen at more than one file:line */
       RM_FN_SYS = 4 };       /* the syscall pseudo-frame ("mmap") */

struct rm_fnode {
	uint32_t parent;           /* node index (the root: UINT32_MAX) */
	uint32_t name, obj, file;  /* string ids, UINT32_MAX absent */
	int      line;
	uint8_t  flags;            /* RM_FN_* */
	uint64_t bytes;            /* bytes obtained from the OS through here */
	uint64_t count;            /* OS requests through here */
};

struct rm_flame {
	struct rm_fnode *n;
	size_t   nn;               /* nodes; at most RM_FLAME_CAP */
	char   **str;              /* interned strings */
	size_t   nstr, capstr;
	uint32_t *shash;           /* string id + 1 by hash, 0 empty */
	size_t   shcap;
	uint32_t *chash;           /* child lookup (parent, name, obj): node + 1 */
	uint64_t stacks;           /* OS requests folded in */
	uint64_t no_stack;         /* OS requests without a stack */
	uint64_t cut;              /* requests whose path hit the node cap (weight kept by the deepest node) */
	struct { int pid; uint64_t brk; } brk[RM_FLAME_PIDS];
	/* each folded request's time, weight and the node its path ended at
	 * (the first RM_FLAME_ENDS: a time range re-weighs the tree from them) */
	struct rm_fend { uint32_t node; uint64_t t, bytes; } *ends;
	size_t   nends;
	uint64_t ends_over;        /* folded requests past the cap */
};

#define RM_EARLY_MAX 256          /* calls whose OS requests came first, remembered */

struct rm_fnstat {
	uint64_t calls, bytes, os_calls, failed, nested, dur_ns;
	uint64_t timed;            /* calls with a duration: dur_ns is theirs */
};

struct rm_model {
	bool     have_t0;
	uint64_t t0;               /* first record's ts_ns */
	uint64_t t_max;            /* largest relative time seen */
	uint64_t n_records, n_calls, n_os, n_alloc_calls;
	/* running values: the accounting model's (acct), copied after each record */
	struct am_acct *acct;
	bool     heap_known;
	uint64_t heap_base, brk_cur;   /* the heap region's extent (address map) */
	uint64_t heap, mmapped, live;
	uint64_t heap_peak, mmapped_peak, live_peak, live_peak_t;
	/* timeline */
	uint64_t bw;               /* bucket width, ns */
	struct rm_bucket b[RM_NBUCKETS];
	/* threshold view */
	uint64_t gw;               /* grid column width, ns */
	uint32_t *grid;            /* [RM_GRID_COLS][RM_GRID_ROWS][RM_NSERVED] */
	uint64_t npoints;          /* points offered */
	struct rm_point { uint64_t t, size; uint8_t served; } *points;  /* first RM_POINT_CAP */
	uint64_t th_start;         /* threshold on the first glibc call, 0 unknown */
	bool     th_start_set;     /* th_start was decided (by a call or a move) */
	/* regions */
	struct rm_region *reg;
	size_t   nreg, capreg;
	int      heap_reg;         /* index, -1 */
	int      synth[3];         /* synthetic regions by label, -1 */
	int     *idx;              /* mapped non-heap regions sorted by start */
	size_t   nidx, capidx;
	size_t   ndead_kept;
	int     *freeslots;        /* reusable region slots (stack) */
	size_t   nfree, capfree;
	uint64_t regions_total, regions_dropped;
	uint64_t regions_made[4];  /* regions made, by enum rm_kind (dropped ones too) */
	/* live allocations */
	struct rm_live *h;
	size_t   hcap, hcount;
	struct rm_alloc *sample;
	size_t   nsample;
	uint64_t allocs_seen;      /* allocations offered to the sample */
	uint64_t rng;
	/* per function / syscall */
	/* RSS over time (rss records): the sum of every process's last sample,
	 * a point per sample (per rss_stride samples, their largest, once
	 * RM_RSS_CAP points were reached); a process's exit drops its share */
	struct rm_rss_pt { uint64_t t, bytes; } *rss;
	size_t   nrss;
	uint32_t rss_stride, rss_npend;
	struct rm_rss_pt rss_pend;
	struct { int pid; uint64_t bytes; } rss_pid[RM_RSS_PIDS];
	size_t   nrss_pid;
	uint64_t rss_samples, rss_peak, rss_peak_t, rss_pids_dropped;
	struct rm_fnstat fn[RM_NFN];
	/* the same by time, for a time range: [RM_FN_COLS][RM_NFN], a call in
	 * the column its entry falls in (fcw wide, doubled as the trace grows) */
	struct rm_fnstat *fcol;
	uint64_t fcw;
	uint64_t sys_count[RM_NSYS], sys_failed[RM_NSYS], sys_by_call[RM_NSYS];
	struct rm_th { uint64_t t, old, new_, call_id; int pid; } *th;  /* threshold moves (each process's only ever rise: few) */
	size_t   nth, capth;
	uint64_t t_last;           /* latest time applied: keeps the timeline monotonic */
	int      cur_pid;          /* pid of the record being applied */
	struct rm_flame fl;        /* OS-request stacks */
	bool     oom;              /* an allocation failed: results are partial */
	/* calls waiting for the OS requests they made (rm_feed), and OS
	 * requests seen before their call (traces in the older order) */
	struct rm_deferred { struct rm_rec r; size_t left; } *dfr;
	size_t   ndfr, capdfr;
	struct { uint64_t id; size_t n; } early[RM_EARLY_MAX];
	size_t   nearly;
};

/* Returns 0 or -1 (out of memory). */
int  rm_init(struct rm_model *m);
void rm_free(struct rm_model *m);
/* Applies one record. Never fails: on memory exhaustion m->oom is set and
 * the detail that needed memory is dropped. */
void rm_feed(struct rm_model *m, const struct rm_rec *r);
/* Applies what still waits (calls whose OS requests never came): at the
 * end of the input. rm_feed does it at the summary. */
void rm_drain(struct rm_model *m);
/* Relative time of an absolute ts_ns (0 before t0). */
uint64_t rm_rel(const struct rm_model *m, uint64_t ts);
/* Number of valid buckets (covering 0..t_max). */
size_t rm_nbuckets(const struct rm_model *m);
/* Fills out[] with the live allocations that are not in the sample, at most
 * max; returns how many. Order is the hash order. */
size_t rm_live_extra(const struct rm_model *m, struct rm_alloc *out, size_t max);
/* The live allocation at ptr: its region index (-1 none) and that
 * region's gen, and its call id. False when nothing is live there. */
bool rm_live_at(const struct rm_model *m, uint64_t ptr, int *region, uint32_t *rgen, uint64_t *call_id);
/* Region index of an allocation record, -1 if that region slot was reused. */
int rm_alloc_region(const struct rm_model *m, const struct rm_alloc *a);
/* Size row of the threshold grid for a size. */
int rm_size_row(uint64_t size);
/* The byte figures (the same as the tracer's summary for the same records). */
const struct am_acct_figs *rm_figs(const struct rm_model *m);
/* Accessible bytes of a mapped region now (0 once unmapped, and for the
 * heap and the synthetic regions): what it counts in "mmapped". */
uint64_t rm_region_committed(const struct rm_model *m, const struct rm_region *g);
/* Its accessible (committed) parts now, as am_acct_accessible_ranges: at
 * most max into out; returns how many there are (0 where committed is 0). */
size_t rm_region_committed_ranges(const struct rm_model *m, const struct rm_region *g,
				  uint64_t (*out)[2], size_t max);
/* Bytes an OS request obtained from the OS, as --folded weighs it:
 * anonymous accessible mmap length, mremap growth, brk growth over prev_brk
 * (the pid's last break, 0 unknown), writable mprotect of an allocator
 * mapping (not direct); page-rounded, 0 for failures and the rest. */
uint64_t rm_os_bytes(const struct rm_rec *r, uint64_t prev_brk);
/* Frame name of a flame-graph node's string id ("" for UINT32_MAX). */
const char *rm_flame_str(const struct rm_model *m, uint32_t id);

#endif /* ALLOCMAP_REPORT_MODEL_H */
