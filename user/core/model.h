// SPDX-License-Identifier: GPL-2.0
/* model.h - the event model shared by the correlator (correlate.c) and the
 * renderers (output.c, json.c): resolved allocator calls, OS requests with
 * their causes, regions, the run summary, and the sink interface through
 * which the correlator hands finished records to a renderer.
 * No libbpf here: everything below is plain C, unit-tested without root. */
#ifndef ALLOCMAP_MODEL_H
#define ALLOCMAP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../bpf/allocmap.h"
#include "arch_user.h"

/* The allocator functions traced: the built-in rows of AM_FN_TABLE
 * (bpf/allocmap.h), then those named with --alloc (am_fn_add). */
struct am_fn_info {
	const char *sym;         /* ELF symbol ("malloc", "_Znwm", "PyObject_Malloc") */
	const char *name;        /* as printed and in JSON ("malloc", "operator new") */
	enum am_role role;
	const char *lib;         /* --alloc SYM@LIB: only in this object, else NULL */
	bool user;               /* named with --alloc */
};
extern struct am_fn_info am_fns_[AM_FN_MAX];     /* the table: read through the functions below */
extern int am_n_fns_;
static inline int am_fn_count(void)              /* built-in + --alloc functions */
{
	return am_n_fns_;
}
static inline const struct am_fn_info *am_fn_info(int fn) /* NULL when out of range */
{
	return fn >= 0 && fn < am_n_fns_ ? &am_fns_[fn] : NULL;
}
static inline const char *am_fn_name(int fn)     /* "?" when out of range */
{
	return fn >= 0 && fn < am_n_fns_ ? am_fns_[fn].name : "?";
}
static inline enum am_role am_fn_role(int fn)    /* AM_ROLE__COUNT when out of range */
{
	return fn >= 0 && fn < am_n_fns_ ? am_fns_[fn].role : AM_ROLE__COUNT;
}
int am_fn_by_name(const char *name);             /* id, or -1 */
/* Adds a user-named function (--alloc SYM[@LIB]=ROLE). Returns its id, or
 * -1 with a message in err (unknown role, too many functions, ...). */
int am_fn_add(const char *spec, char *err, size_t errlen);
/* Registers a function a trace names with its role (the report reading a
 * trace with --alloc functions). Returns its id, or -1. */
int am_fn_register(const char *name, const char *role);
int am_role_nargs(enum am_role role);            /* integer arguments read */
const char *am_role_name(enum am_role role);     /* "malloc", "free", ... */
int am_role_by_name(const char *name);           /* enum am_role, or -1 */
const char *am_role_shape(enum am_role role);    /* "(size) -> ptr", ... ("?" out of range) */
/* A built-in C++ operator (a mangled symbol): probed only in programs with
 * a C++ runtime. */
static inline bool am_fn_is_cxx(int fn)
{
	return fn >= 0 && fn < am_n_fns_ && !am_fns_[fn].user && am_fns_[fn].sym[0] == '_' &&
	       am_fns_[fn].sym[1] == 'Z';
}
static inline bool am_role_frees(enum am_role role) /* free / operator delete */
{
	return role == AM_ROLE_FREE || role == AM_ROLE_FREE_SIZED;
}
static inline bool am_role_allocates(enum am_role role) /* returns an allocation */
{
	return role < AM_ROLE__COUNT && !am_role_frees(role);
}
/* The memory syscalls: the rows of AM_SYSCALL_TABLE (bpf/allocmap.h). */
struct am_sys_info {
	const char *name;        /* as printed and in JSON ("brk", "mmap", ...) */
	bool ret_addr;           /* returns an address (else an int) */
	const char *color;       /* "#rrggbb" in the HTML pages */
	const char *args;        /* what am_os_event.args[] hold, "addr, len" */
};
extern const struct am_sys_info am_sys_info_[AM_SYS__COUNT];
extern const char *const am_sys_names[AM_SYS__COUNT]; /* "brk", ... */
static inline const char *am_sys_name(unsigned sys) /* "?" when out of range */
{
	return sys < AM_SYS__COUNT ? am_sys_names[sys] : "?";
}
static inline bool am_sys_returns_addr(unsigned sys)
{
	return sys < AM_SYS__COUNT && am_sys_info_[sys].ret_addr;
}
int am_sys_by_name(const char *name);            /* enum am_sys, or -1 */

/* What backs an allocation, or what a region is. */
enum am_region_kind {
	AM_REG_UNKNOWN = 0,  /* "unknown": no known region holds it */
	AM_REG_HEAP,         /* "heap": the brk heap */
	AM_REG_MMAP,         /* "mmap": its own mmap chunk (made by the call that returned it) */
	AM_REG_ARENA,        /* "arena": an allocator mapping shared by many allocations
	                        (glibc thread arena, jemalloc/tcmalloc/mimalloc mappings) */
	AM_REG_PREEXISTING,  /* "preexisting": a region that was there at attach */
	AM_REG_DIRECT,       /* "direct": a mapping the program made itself (not via the allocator) */
	AM_REG__COUNT,
};
extern const char *const am_region_names[AM_REG__COUNT]; /* "unknown", "heap", ... */

/* Why a glibc or musl allocation went where it went (call records). */
enum am_reason {
	AM_WHY_NONE = 0,       /* not explained (not glibc, not an allocating call, ...) */
	AM_WHY_UNDER_THRESHOLD,/* "under_threshold": below mmap threshold, served from the heap */
	AM_WHY_FIT_TOP,        /* "fit_top_chunk": at/over the threshold but the heap's top chunk held it */
	AM_WHY_OVER_THRESHOLD, /* "over_threshold": at/over the threshold, top chunk too small -> mmap
	                          (musl: at/over its fixed threshold -> its own mmap) */
	AM_WHY_GROUP,          /* "size_class_group": musl, under its fixed threshold: a slot of a
	                          group of the request's size class (a mapping shared by many, one
	                          mapped for this request alone, or memory ld.so donated) */
	AM_WHY__COUNT,
};
extern const char *const am_reason_names[AM_WHY__COUNT]; /* "", "under_threshold", ... */

/* glibc's mmap threshold bounds (64-bit): its start value
 * (DEFAULT_MMAP_THRESHOLD_MIN) and the most the dynamic rule raises it to
 * (DEFAULT_MMAP_THRESHOLD_MAX; mallopt refuses more too). */
#define AM_GLIBC_THR_START (128ULL * 1024)
#define AM_GLIBC_THR_MAX   (32ULL * 1024 * 1024)

/* Where what is known of a process's threshold came from. */
enum am_thr_source {
	AM_THR_SRC_DEFAULT = 0,  /* "default": glibc's start value (launched, or after exec) */
	AM_THR_SRC_ENV,          /* "env": pinned by the environment */
	AM_THR_SRC_PROCESS,      /* "process": read from the process's mp_ at attach (DWARF) */
	AM_THR_SRC_UNKNOWN,      /* "unknown": not readable at attach; narrowed from what it does */
	AM_THR_SRC_FORK,         /* "fork": its parent's at fork time */
	AM_THR_SRC__COUNT,
};
extern const char *const am_thr_source_names[AM_THR_SRC__COUNT];

/* What is known of glibc's mmap threshold of one process: its value, or
 * bounds lo <= threshold <= hi (narrowed by what the process is seen to do;
 * known again once they meet). */
struct am_thr {
	bool     known;          /* value is the threshold */
	bool     pinned;         /* no_dyn_threshold: frees do not move it */
	uint64_t value;          /* when known */
	uint64_t lo, hi;         /* when !known */
	uint8_t  source;         /* enum am_thr_source */
};

/* One frame of a resolved user stack. Strings are owned by the symbolizer
 * (unwind.c) and live until the end of the run; NULL when unknown. */
struct am_frame {
	uint64_t addr;           /* pc (for outer frames: the return address) */
	uint64_t off;            /* addr - start of sym; without sym: addr relative to obj (ELF vaddr) */
	const char *sym;         /* function name (C++, Rust: demangled) */
	const char *mangled;     /* the ELF symbol when sym is its demangled form, else NULL */
	const char *obj;         /* object (file name without directory) */
	const char *file;        /* source file (debug info only) */
	uint32_t line;           /* source line, 0 = unknown */
	const char *build_id;    /* obj's GNU build id in hex, NULL unknown */
};

/* am_stack.flags */
#define AM_STK_TRUNCATED 0x01  /* unwinding stopped before the outermost frame */
#define AM_STK_NOCOPY    0x02  /* no copy of the stack: frame-pointer chain only */

/* An interned user stack (stack.c): identical stacks of one process share
 * one id. Frames innermost first. */
struct am_stack {
	uint32_t id;             /* unique in a run, from 1 */
	uint32_t pid;
	uint32_t n;              /* frames */
	uint32_t flags;          /* AM_STK_* */
	const struct am_frame *f;
};

/* Allocations live at the end of the trace with one allocation stack. */
struct am_leak {
	const struct am_stack *stack; /* NULL: allocations whose stack is unknown */
	uint32_t pid;
	uint64_t count, bytes;
	uint64_t region_count[AM_REG__COUNT]; /* which regions hold them */
	uint64_t region_bytes[AM_REG__COUNT];
};

/* One OS request as the correlator resolved it. */
struct am_os_rec {
	struct am_os_event ev;   /* raw event (id, sys, args, ret, times, pid/tid) */
	bool     direct;         /* no allocator call in progress on that thread */
	uint64_t call_id;        /* = ev.call_id; 0 when direct */
	uint8_t  cause_fn;       /* enum am_fn when !direct */
	uint64_t cause_size;     /* requested size of the causing call (0 if unknown yet) */
	enum am_region_kind region_kind; /* for mmap/mremap results: what the new region is */
	const struct am_stack *stack;    /* user stack at the syscall (--stacks), or NULL */
	uint32_t inner;          /* leading frames of stack inside the causing allocator
	                            call, up to and including its own frame (0 = unknown) */
	bool     cause_unknown;  /* the cause cannot be known: why in unknown_why */
	uint8_t  unknown_why;    /* enum am_unknown_why, when cause_unknown */
	bool     inferred;       /* --mode os: cause_fn (or direct) inferred from the stack:
	                            its outermost allocator-family frame */
};

/* Why an OS request's cause is unknown. */
enum am_unknown_why {
	AM_UNK_NONE = 0,
	AM_UNK_OS_MODE,          /* "os_mode": --mode os, and its stack does not tell */
	AM_UNK_NO_ALLOC,         /* "no_allocator": no malloc found to probe (Go, stripped static) */
	AM_UNK_ATTACHING,        /* "attaching": -p, its thread may be in a call that began before
	                            the probes were in */
};

/* One allocator call as the correlator resolved it. */
struct am_call_rec {
	struct am_call_event ev; /* raw event */
	uint64_t size;           /* bytes requested (calloc: nmemb*size) */
	uint64_t nmemb;          /* calloc/reallocarray, else 0 */
	uint64_t align;          /* aligned functions, else 0 */
	uint64_t ptr_in;         /* realloc/reallocarray/free input pointer, else 0 */
	uint64_t ptr_out;        /* resulting allocation (0 for free or failure) */
	bool     has_ptr_in;     /* function takes an input pointer */
	bool     allocates;      /* function returns an allocation */
	enum am_region_kind region; /* where ptr_out lives (AM_REG_UNKNOWN if none) */
	enum am_reason reason;   /* glibc/musl threshold explanation, AM_WHY_NONE if n/a or
	                            not decidable (threshold unknown) */
	uint64_t threshold;      /* glibc mmap threshold when the call was made, musl's fixed one
	                            (0 if n/a or unknown) */
	uint64_t thr_lo, thr_hi; /* glibc, threshold unknown: its bounds then (0, 0 otherwise) */
	bool     free_unknown;   /* free/realloc of a pointer not seen allocated */
	bool     from_obj;       /* called from the object that defines the function (glibc's
	                            own frees at thread exit): allocator-internal activity */
	size_t   n_os;           /* OS requests it caused (the array passed alongside) */
	uint64_t ts_end;         /* when it ended: ev.ts_exit; for a call traced without a
	                            return probe (free) or missed, the end of its last OS
	                            request, else its entry */
	const struct am_stack *stack; /* user stack at the call (frame 0: the allocator
	                            function, 1: its caller), or NULL */
	bool     stack_derived;  /* stack taken from an OS request it made (--stacks=os) */
};

/* A mapping that was there when the trace began (-p: /proc/PID/maps),
 * delivered when the correlator is seeded with it. */
struct am_seed_rec {
	uint32_t pid;
	uint64_t start, end;
	uint8_t  kind;           /* AM_REG_HEAP (the brk heap) or AM_REG_PREEXISTING */
	bool     accessible;     /* its protection is not PROT_NONE */
};

/* A traced process's resident set size, sampled (rss.h). */
struct am_rss_rec {
	uint64_t ts_ns;
	uint32_t pid;
	uint64_t bytes;          /* resident: /proc/PID/statm's second field, in bytes */
};

/* glibc's dynamic mmap threshold moved. */
struct am_threshold_rec {
	uint64_t ts_ns;
	uint32_t pid, tid;
	uint64_t old_value, new_value; /* 0 when unknown: see the bounds */
	uint64_t old_lo, old_hi; /* old_value unknown: its bounds (0, 0 otherwise) */
	uint64_t new_lo, new_hi; /* new_value unknown: its bounds (0, 0 otherwise) */
	uint64_t call_id;        /* the free() that moved it */
	uint64_t freed_chunk;    /* size of the freed mmapped chunk */
};

/* glibc's threshold of one traced process over the trace. */
struct am_thr_proc {
	uint32_t pid;
	struct am_thr start;     /* at attach, launch, fork or its last exec */
	struct am_thr end;       /* now */
	uint64_t changes;        /* threshold records it produced */
};

#define AM_HIST_BUCKETS 40   /* power-of-two request-size buckets: [2^i, 2^(i+1)) */

struct am_fn_stats {
	uint64_t calls;
	uint64_t bytes;          /* bytes requested */
	uint64_t nested;         /* calls made inside another allocator call */
	uint64_t os_calls;       /* outermost calls that made >= 1 OS request */
	uint64_t failed;         /* returned NULL / error */
};

struct am_sites_report;

struct am_summary {
	uint64_t duration_ns;
	struct am_fn_stats fn[AM_FN_MAX];
	uint64_t sys_count[AM_SYS__COUNT];          /* OS requests per syscall */
	uint64_t sys_by_cause[AM_SYS__COUNT][AM_FN_MAX + 1]; /* [sys][fn], [sys][AM_FN_MAX] = direct */
	uint64_t sys_unknown[AM_SYS__COUNT];        /* OS requests whose cause is unknown */
	uint64_t sys_failed[AM_SYS__COUNT];
	/* bytes the program asked for (live in user allocations) vs bytes from the OS */
	/* (every byte figure is the accounting model's: memacct.h) */
	uint64_t live_bytes, live_bytes_peak;
	uint64_t live_count;
	uint64_t heap_bytes, heap_bytes_peak;       /* brk heap size (seen growth since attach) */
	uint64_t mmap_bytes, mmap_bytes_peak;       /* allocator-made mappings (chunks + arenas): their
	                                               accessible pages (not PROT_NONE) */
	uint64_t committed_bytes, committed_bytes_peak; /* heap + mmap: held from the OS; the peak
	                                               of that sum */
	uint64_t direct_mmap_bytes;                 /* mappings the program made itself, at end */
	/* request-size histogram of allocating calls */
	uint64_t hist_heap[AM_HIST_BUCKETS];        /* served from the brk heap */
	uint64_t hist_mmap[AM_HIST_BUCKETS];        /* served by their own mmap */
	uint64_t hist_other[AM_HIST_BUCKETS];       /* arena, preexisting, unknown */
	/* glibc threshold of the first traced process (thr_procs: every one); musl's fixed one */
	bool     threshold_known;                   /* glibc or musl is the allocator (there is a threshold) */
	bool     threshold_fixed;                   /* musl: a constant of the allocator, never moves
	                                               (thr_start, thr_end, thr_procs unused) */
	const char *allocator;                      /* "glibc", "musl", ... (NULL unknown) */
	bool     threshold_pinned;                  /* no_dyn_threshold: env, tunable, or read from mp_ */
	uint64_t threshold_start, threshold_end;    /* 0 when unknown (see thr_start, thr_end) */
	uint64_t threshold_changes;
	struct am_thr thr_start, thr_end;           /* what is known: value or bounds, source */
	const struct am_thr_proc *thr_procs;        /* per process, first seen first (owned by
	                                               the correlator; valid until it is freed) */
	size_t   n_thr_procs;
	/* live allocations at end, by region */
	uint64_t live_by_region_count[AM_REG__COUNT];
	uint64_t live_by_region_bytes[AM_REG__COUNT];
	/* things that were lost or odd: printed every time */
	struct am_counters bpf;                     /* from the BPF .bss */
	uint64_t unknown_frees;                     /* frees of pointers not seen allocated */
	uint64_t own_unknown_frees;                 /* of those, made by the allocator's own object
	                                               (glibc flushing its thread cache at thread exit):
	                                               not counted in unknown_frees */
	uint64_t own_calls;                         /* outermost calls made from the object that defines
	                                               the function (AM_CALL_FROM_OBJ) */
	bool     attached;                          /* -p: the process ran before the trace */
	uint64_t unattached_probes;                 /* probes that failed to attach (set by the tracer) */
	uint64_t orphan_os;                         /* OS events whose call never arrived */
	uint64_t events;                            /* events consumed */
	/* the launched command (0 when attached with -p or still running) */
	uint64_t target_wall_ns;                    /* from release to exit */
	uint64_t target_maxrss_kb;                  /* peak RSS (wait4) */
	int      target_exit;                       /* exit status as allocmap returns it, -1 unknown */
	int      target_signal;                     /* the signal that killed it (exit 128 + it), 0 */
	/* bytes given back to the OS */
	uint64_t returned_munmap;                   /* munmap'ed by allocator calls */
	uint64_t returned_madvise;                  /* madvise(DONTNEED/FREE/REMOVE) by allocator calls */
	uint64_t returned_brk;                      /* brk shrinks */
	uint64_t malformed;                         /* records rejected by am_corr__event (too short, unknown type/fn/sys) */
	bool     oom;                               /* the correlator ran out of memory: some records or
	                                               state were dropped, the figures are incomplete */
	/* user stacks (--stacks, --mode os) */
	uint8_t  stack_mode;                        /* enum am_stack_mode */
	bool     os_only;                           /* --mode os: no allocator probes */
	uint64_t stacks;                            /* stack records received */
	uint64_t stacks_truncated;                  /* unwinding stopped before the outermost frame */
	uint64_t stacks_unwind_failed;              /* no frame beyond the first could be recovered */
	uint64_t stacks_missing;                    /* records that should have had a stack and had none */
	/* leak report: live allocations grouped by allocation stack, largest
	 * first (owned by the correlator; valid until it is freed) */
	const struct am_leak *leaks;
	size_t   n_leaks;
	/* call-site profiles (sites.h; stacks on, calls traced), or NULL
	 * (owned by the correlator; valid until it is freed) */
	const struct am_sites_report *sites;
};

/* Where the correlator sends finished records. Any callback may be NULL.
 * Records are delivered in the order calls complete; OS requests caused by a
 * call are delivered together with it (os[] sorted by id). The tracer adds
 * origin and progress. */
struct am_sink {
	void *ctx;
	void (*call)(void *ctx, const struct am_call_rec *c,
		     const struct am_os_rec *os, size_t n_os);
	void (*os)(void *ctx, const struct am_os_rec *o);   /* direct (or orphaned) OS request */
	void (*threshold)(void *ctx, const struct am_threshold_rec *t);
	void (*task)(void *ctx, const struct am_task_event *t);
	void (*summary)(void *ctx, const struct am_summary *s);
	void (*seed)(void *ctx, const struct am_seed_rec *s); /* a mapping there before the trace */
	void (*rss)(void *ctx, const struct am_rss_rec *r);   /* a process's RSS, sampled */
	/* The run's time origin (t = 0 of every time shown), once, before any
	 * record: the launched command's exec (kind "exec", pid: the command),
	 * or the moment the first -p process was taken (kind "attach", pid 0). */
	void (*origin)(void *ctx, uint64_t t0_ns, const char *kind, uint32_t pid);
	/* Every record with ts_ns < upto_ns has been delivered (for a renderer
	 * that writes in time order); later ones may still come, and rarely an
	 * earlier one (a call in progress for longer than the tracer waits). */
	void (*progress)(void *ctx, uint64_t upto_ns);
};

/* Lengths as the kernel counts them: rounded up to whole pages. */
static inline uint64_t am_page_up(uint64_t x)
{
	return (x + AM_PAGE_SIZE - 1) & ~(uint64_t)(AM_PAGE_SIZE - 1);
}

#endif /* ALLOCMAP_MODEL_H */
