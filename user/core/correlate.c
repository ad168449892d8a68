// SPDX-License-Identifier: GPL-2.0
/* correlate.c - the correlator behind correlate.h: turns the raw ring-buffer
 * stream (allocator calls, memory syscalls, task events) into resolved
 * records and hands them to an am_sink.
 *
 * State is kept per traced process (struct proc):
 *  - the brk heap as one range [heap_start, heap_end), kept apart from the
 *    region map because it only ever moves at its end;
 *  - the region map: a sorted array of non-overlapping anonymous mappings
 *    (binary search, O(log n) lookup; inserts and removals memmove, which is
 *    fine because a process has hundreds of mappings, not millions);
 *  - the live allocations: an open-addressing hash (linear probing,
 *    backward-shift deletion, so no tombstones pile up under malloc/free
 *    churn) from pointer to size, region and allocating call;
 *  - glibc's dynamic mmap threshold: its value, or while it is unknown (a
 *    process attached to without glibc's debug information) the bounds
 *    lo <= threshold <= hi that what the process does proves, which meet
 *    again once a free of an mmapped chunk sets it.
 * OS requests made inside an allocator call reach us before the call itself
 * (they are emitted at syscall exit, the call at its return). Their effect
 * on the region map is applied at once, in stream order, but their records
 * wait in a table keyed by call id until the call arrives, so that a call
 * and the requests it caused are delivered together.
 *
 * Behaviour choices (also in the report to the tracer's author):
 *  - seed_maps keeps "[heap]" as the heap and anonymous mappings (no path,
 *    or "[anon:...]" names) as preexisting regions; file-backed mappings and
 *    [stack]/[vdso]/[vvar]/[vsyscall] are skipped: allocations never live
 *    there. The seeded heap counts in heap_bytes (heap_bytes is the heap's
 *    size, which for a launched program is its growth since attach).
 *  - Lengths are rounded up to 4 KiB pages as the kernel does.
 *  - brk returns the (unchanged) old break on failure: a brk(addr) whose
 *    result differs from addr counts in sys_failed[brk].
 *  - Any PROT_NONE mapping made inside an allocator call is an arena
 *    reservation (AM_REG_ARENA): not counted in mmap_bytes until mprotect
 *    makes part of it accessible. Arenas are assumed to become accessible
 *    from their start upward, as glibc grows them (h->mprotect_size).
 *  - madvise changes no byte count: the mapping stays (RSS is not modelled).
 *  - fork: the child starts with an empty state (its inherited mappings and
 *    allocations are not copied; its frees of inherited pointers count as
 *    unknown), but its threshold is its parent's at fork time. exec drops
 *    the process's regions, heap, live allocations and threshold (glibc's
 *    start value again, unless the tracer says what the new environment
 *    pins). exit keeps everything (allocations live at exit are leaks).
 *  - Missed (AM_CALL_MISSED) and entry-only (AM_CALL_NORET) calls have no
 *    valid result: they never add to the live table; a missed/entry-only
 *    free still removes its pointer, as free's effect needs no result.
 *  - The glibc threshold only moves on free() (and realloc(p, 0), which is
 *    free in glibc 2.36): realloc of an mmapped chunk goes through
 *    mremap_chunk/munmap_chunk, which leave the threshold alone.
 *  - An unknown threshold is narrowed only by sound observations of
 *    malloc/calloc (see thr_observe): served by its own mmap => threshold
 *    <= nb; made the heap grow (brk, or mprotect of an arena) and served
 *    from it => threshold > nb, except on a thread's first call seen (it
 *    may have grown the heap for the thread's tcache, not for the request).
 *    A call that made a syscall fail proves nothing (glibc falls back).
 *    Reasons need no invented value: under_threshold when nb < lo,
 *    fit_top_chunk when nb >= hi, none in between. mallopt() is not seen.
 *  - musl (mallocng, opts.musl): requests of MUSL_MMAP_THRESHOLD bytes or
 *    more get their own mmap (over_threshold); smaller ones a slot in a
 *    group of their size class (size_class_group). A group is a mapping
 *    shared by many allocations (arena), or nested in a slot of a larger
 *    class's group; a request that would waste a multi-slot group gets a
 *    single-slot group mapped for it alone (mmap): told apart by its length,
 *    page_up(n + 20), exactly what mallocng maps then (musl_own_map).
 *    The threshold never moves. brk only grows the meta areas (no
 *    allocation lives there), under a PROT_NONE guard page mapped MAP_FIXED
 *    at the old break: that mmap is part of the heap, not a region.
 *    Memory ld.so donated to malloc (the ends of the program's and libc's
 *    data pages) is in no tracked region: unknown.
 *  - Reasons: allocations in a thread arena are explained like the main
 *    heap's (same top-chunk rule); realloc that keeps an mmapped chunk
 *    mmapped (mremap) gets no reason, glibc did not consult the threshold.
 *  - fn stats count every call including nested ones; `nested` says how
 *    many of them were made inside another allocator call. Histograms,
 *    live table and reasons use outermost calls only.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "correlate.h"
#include "stack.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

#define PAGE_SIZE_      ((uint64_t)AM_PAGE_SIZE)
#define GLIBC_THRESHOLD_DEFAULT AM_GLIBC_THR_START   /* DEFAULT_MMAP_THRESHOLD_MIN */
#define GLIBC_THRESHOLD_MAX     AM_GLIBC_THR_MAX     /* DEFAULT_MMAP_THRESHOLD_MAX, 64-bit */
#define SEED_CALL_ID    0  /* regions with no causing call */

/* musl mallocng (src/malloc/mallocng/meta.h, malloc.c) */
#define MUSL_MMAP_THRESHOLD 131052ULL /* requests this large get their own mmap */
#define MUSL_UNIT 16                  /* slot granularity; group header size */
#define MUSL_IB   4                   /* in-band header bytes per slot */

/* mallocng's size classes, in units of 16 bytes */
static const uint16_t musl_size_classes[48] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 18, 20, 25, 31,
	36, 42, 50, 63, 72, 84, 102, 127, 146, 170, 204, 255, 292, 340, 409, 511,
	584, 682, 818, 1023, 1169, 1364, 1637, 2047, 2340, 2730, 3276, 4095, 4680, 5460, 6552, 8191,
};

/* Slot size of the size class of an n-byte request (mallocng size_to_class). */
static uint64_t musl_class_size(uint64_t n)
{
	uint64_t u = (n + MUSL_IB - 1) >> 4;
	int i;

	if (u < 10)
		return MUSL_UNIT * musl_size_classes[u];
	u++;
	if (u > musl_size_classes[47])
		return MUSL_UNIT * (uint64_t)musl_size_classes[47];
	i = (28 - __builtin_clz((uint32_t)u)) * 4 + 8;
	if (u > musl_size_classes[i + 1])
		i += 2;
	if (u > musl_size_classes[i])
		i++;
	return MUSL_UNIT * musl_size_classes[i];
}

/* Is an mmap of len bytes, made by an n-byte request and holding its
 * result, mapped for that allocation alone? mallocng maps exactly
 * page_up(n + IB + UNIT) then: at/over its threshold, or for a single-slot
 * group, which it makes when that is smaller than one slot of the class
 * (or, at low usage, when it is 4 pages or more). A multi-slot group of the
 * class is larger than that; a group of a larger class holding a nested
 * group of small slots may have that length only when the request's class
 * is one whose groups nest (slot + header under a page: not single-slot). */
static bool musl_own_map(uint64_t n, uint64_t len)
{
	uint64_t req = am_page_up(n + MUSL_IB + MUSL_UNIT);

	if (len != req)
		return false;
	return n >= MUSL_MMAP_THRESHOLD || req >= 4 * PAGE_SIZE_ || req < musl_class_size(n) + MUSL_UNIT;
}

/* The size mallocng's internal malloc is asked for (aligned_alloc and
 * those built on it over-allocate by align - UNIT). */
static uint64_t musl_request(const struct am_call_rec *r)
{
	uint64_t n = r->size;

	if (r->align > MUSL_UNIT && n <= UINT64_MAX - r->align)
		n += r->align - MUSL_UNIT;
	return n;
}

/* One anonymous mapping of a traced process. */
struct region {
	uint64_t start, end;     /* [start, end), page aligned */
	uint64_t acc_end;        /* accessible up to here (= end except arena reservations) */
	uint64_t cause_call;     /* allocator call that made (or last mremapped) it, 0 = none */
	uint8_t  kind;           /* AM_REG_MMAP / ARENA / PREEXISTING / DIRECT */
};

/* One live allocation. key 0 marks an empty slot (malloc never returns 0). */
struct live_ent {
	uint64_t key;            /* the pointer */
	uint64_t size;           /* bytes requested */
	uint64_t call_id;        /* call that returned it */
	uint32_t stack;          /* interned allocation stack id, 0 = none */
	uint8_t  region;         /* enum am_region_kind where it lives */
	uint8_t  prev_region;    /* the incarnation it displaced (has_prev) */
	bool     has_prev;       /* it displaced one never seen freed: see on_call */
	uint64_t ts;             /* when the call that returned it ended */
	uint64_t prev_size;
};

struct live_tab {
	struct live_ent *e;      /* cap slots */
	size_t cap;              /* power of two, 0 before first insert */
	size_t n;                /* occupied slots */
	unsigned shift;          /* 64 - log2(cap) for the multiplicative hash */
};

/* Per traced process. */
struct proc {
	uint32_t pid;
	bool     heap_known;     /* heap_start is known */
	uint64_t heap_start, heap_end; /* the brk heap [start, end) */
	struct region *reg;      /* sorted by start, non-overlapping */
	size_t   n_reg, cap_reg;
	struct live_tab live;
	struct am_thr thr;       /* glibc mmap threshold now (value or bounds) */
	struct am_thr thr_start; /* ... at attach/launch/fork/exec */
	uint64_t thr_changes;    /* threshold records */
	uint32_t *tids;          /* threads seen making a call (open addressing, 0 = empty) */
	size_t   n_tids, cap_tids;
	uint32_t order;          /* first seen first (summary order) */
	bool     glibc, musl;    /* the rules of its allocator (opts.glibc/musl, or what the
	                            tracer said after an exec: am_corr__set_allocator) */
	/* this process's share of the global byte counters (undone at exec) */
	uint64_t live_bytes;
	uint64_t heap_bytes;
	uint64_t mmap_bytes;
	uint64_t direct_bytes;
};

/* OS records waiting for their call. call_id 0 marks an empty slot. */
struct pend {
	uint64_t call_id;
	struct am_os_rec *recs;  /* n records, cap allocated */
	uint32_t n, cap;
};

struct am_corr {
	struct am_corr_opts opts;
	struct am_thr thr_init;  /* threshold of a process first seen (launch: start or pinned;
	                            -p: unknown unless am_corr__set_threshold says) */
	struct am_thr thr_exec;  /* ... of a process that just exec'd */
	struct am_thr_proc *thr_procs; /* last summary's per-process list */
	/* processes: open addressing on pid, never deleted */
	struct proc **procs;     /* cap_procs slots, NULL = empty */
	size_t   n_procs, cap_procs;
	struct proc *last;       /* one-entry cache: most events come from one pid */
	/* pending OS records by call id */
	struct pend *pend;       /* cap_pend slots */
	size_t   n_pend, cap_pend;
	bool     oom;            /* an allocation failed: some state was dropped */
	struct am_summary sum;   /* global counters, completed by finish */
	/* user stacks */
	struct am_stacktab *stacks;
	struct pstk *pstk;       /* stacks waiting for their record, by key */
	size_t   n_pstk, cap_pstk;
	struct am_leak *leaks;   /* last leak report (sum.leaks) */
};

/* A stack waiting for its record. key = id << 1 | (kind == AM_STACK_OS); 0 = empty. */
struct pstk {
	uint64_t key;
	const struct am_stack *s;
	int cut;
};

/* ---------- small helpers ---------- */

static inline bool sys_err(int64_t ret)
{
	return ret < 0 && ret >= -4095;
}

static inline uint64_t hash64(uint64_t k)
{
	return k * 0x9E3779B97F4A7C15ULL;
}

/* Power-of-two bucket of a request size: [2^i, 2^(i+1)), 0 -> bucket 0. */
static inline unsigned hist_bucket(uint64_t size)
{
	unsigned b;

	if (size == 0)
		return 0;
	b = 63 - (unsigned)__builtin_clzll(size);
	return b < AM_HIST_BUCKETS ? b : AM_HIST_BUCKETS - 1;
}

/* glibc's request2size on x86-64: SIZE_SZ 8, alignment 16, MINSIZE 32. */
static inline uint64_t req2size(uint64_t req)
{
	if (req > UINT64_MAX - 64)
		return UINT64_MAX & ~15ULL;
	if (req + 8 + 15 < 32)
		return 32;
	return (req + 8 + 15) & ~15ULL;
}

static inline void peak(uint64_t *peak_v, uint64_t v)
{
	if (v > *peak_v)
		*peak_v = v;
}

/* ---------- live table ---------- */

static bool live_grow(struct live_tab *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 1024;
	struct live_ent *ne = calloc(ncap, sizeof(*ne));
	unsigned nshift = 64 - (unsigned)__builtin_ctzll(ncap);
	size_t mask = ncap - 1;

	if (!ne)
		return false;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->e[i].key)
			continue;
		size_t j = hash64(t->e[i].key) >> nshift;
		while (ne[j].key)
			j = (j + 1) & mask;
		ne[j] = t->e[i];
	}
	free(t->e);
	t->e = ne;
	t->cap = ncap;
	t->shift = nshift;
	return true;
}

/* Slot holding key, or NULL. */
static inline struct live_ent *live_find(const struct live_tab *t, uint64_t key)
{
	size_t mask = t->cap - 1, i;

	if (!t->cap)
		return NULL;
	for (i = hash64(key) >> t->shift; t->e[i].key; i = (i + 1) & mask)
		if (t->e[i].key == key)
			return &t->e[i];
	return NULL;
}

/* Slot for key: the existing one, or a fresh one with key set and the rest
 * zeroed (t->n counted). NULL only when growing failed. */
static inline struct live_ent *live_slot(struct live_tab *t, uint64_t key)
{
	size_t mask, i;

	if ((t->n + 1) * 4 > t->cap * 3 && !live_grow(t))
		return NULL;
	mask = t->cap - 1;
	for (i = hash64(key) >> t->shift; t->e[i].key; i = (i + 1) & mask)
		if (t->e[i].key == key)
			return &t->e[i];
	t->e[i] = (struct live_ent){ .key = key };
	t->n++;
	return &t->e[i];
}

/* Remove the entry in slot e (from live_find), keeping probe chains intact
 * by shifting later members of the cluster back (no tombstones). */
static inline void live_del(struct live_tab *t, struct live_ent *e)
{
	size_t mask = t->cap - 1;
	size_t i = (size_t)(e - t->e), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!t->e[j].key)
			break;
		size_t home = hash64(t->e[j].key) >> t->shift;
		/* move j into the hole at i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			t->e[i] = t->e[j];
			i = j;
		}
	}
	t->e[i].key = 0;
	t->n--;
}

/* ---------- processes ---------- */

static void proc_release(struct proc *p)
{
	free(p->reg);
	free(p->live.e);
	free(p->tids);
	p->reg = NULL;
	p->n_reg = p->cap_reg = 0;
	p->tids = NULL;
	p->n_tids = p->cap_tids = 0;
	memset(&p->live, 0, sizeof(p->live));
}

/* Has thread tid of p made a call before? Records it; false when first seen
 * (or when memory runs out: no observation is then made, which is safe). */
static bool tid_seen(struct proc *p, uint32_t tid)
{
	size_t mask, i;

	if (!tid)
		return false;
	if ((p->n_tids + 1) * 2 > p->cap_tids) {
		size_t ncap = p->cap_tids ? p->cap_tids * 2 : 16;
		uint32_t *nt = calloc(ncap, sizeof(*nt));

		if (!nt)
			return false;
		for (size_t k = 0; k < p->cap_tids; k++) {
			if (!p->tids[k])
				continue;
			size_t j = hash64(p->tids[k]) >> 40 & (ncap - 1);
			while (nt[j])
				j = (j + 1) & (ncap - 1);
			nt[j] = p->tids[k];
		}
		free(p->tids);
		p->tids = nt;
		p->cap_tids = ncap;
	}
	mask = p->cap_tids - 1;
	for (i = hash64(tid) >> 40 & mask; p->tids[i]; i = (i + 1) & mask)
		if (p->tids[i] == tid)
			return true;
	p->tids[i] = tid;
	p->n_tids++;
	return false;
}

static struct proc *proc_get_slow(struct am_corr *c, uint32_t pid)
{
	size_t mask, i;
	struct proc *p;

	if ((c->n_procs + 1) * 2 > c->cap_procs) {
		size_t ncap = c->cap_procs ? c->cap_procs * 2 : 16;
		struct proc **np = calloc(ncap, sizeof(*np));

		if (!np)
			return NULL;
		for (size_t k = 0; k < c->cap_procs; k++) {
			if (!c->procs[k])
				continue;
			size_t j = hash64(c->procs[k]->pid) >> 40 & (ncap - 1);
			while (np[j])
				j = (j + 1) & (ncap - 1);
			np[j] = c->procs[k];
		}
		free(c->procs);
		c->procs = np;
		c->cap_procs = ncap;
	}
	mask = c->cap_procs - 1;
	for (i = hash64(pid) >> 40 & mask; c->procs[i]; i = (i + 1) & mask)
		if (c->procs[i]->pid == pid)
			return c->last = c->procs[i];
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->thr = p->thr_start = c->thr_init;
	p->glibc = c->opts.glibc;
	p->musl = c->opts.musl;
	p->order = (uint32_t)c->n_procs;
	c->procs[i] = p;
	c->n_procs++;
	return c->last = p;
}

/* The state of pid, created on first sight; NULL on allocation failure. */
static inline struct proc *proc_get(struct am_corr *c, uint32_t pid)
{
	if (c->last && c->last->pid == pid)
		return c->last;
	return proc_get_slow(c, pid);
}

/* ---------- byte accounting ---------- */

static void acct_heap(struct am_corr *c, struct proc *p, uint64_t new_size)
{
	c->sum.heap_bytes = c->sum.heap_bytes - p->heap_bytes + new_size;
	p->heap_bytes = new_size;
	peak(&c->sum.heap_bytes_peak, c->sum.heap_bytes);
}

/* Bytes a region piece contributes to mmap_bytes or direct_mmap_bytes. */
static inline uint64_t reg_bytes(const struct region *r)
{
	uint64_t e = r->acc_end < r->end ? r->acc_end : r->end;

	return e > r->start ? e - r->start : 0;
}

/* Add (sign +1) or remove (sign -1) a region's bytes from the counters. */
static void acct_reg(struct am_corr *c, struct proc *p, const struct region *r, int sign)
{
	uint64_t b = reg_bytes(r);

	if (!b)
		return;
	if (r->kind == AM_REG_MMAP || r->kind == AM_REG_ARENA) {
		if (sign > 0) {
			p->mmap_bytes += b;
			c->sum.mmap_bytes += b;
			peak(&c->sum.mmap_bytes_peak, c->sum.mmap_bytes);
		} else {
			p->mmap_bytes -= b;
			c->sum.mmap_bytes -= b;
		}
	} else if (r->kind == AM_REG_DIRECT) {
		if (sign > 0) {
			p->direct_bytes += b;
			c->sum.direct_mmap_bytes += b;
		} else {
			p->direct_bytes -= b;
			c->sum.direct_mmap_bytes -= b;
		}
	}
}

/* ---------- region map ---------- */

/* Index of the first region with end > addr (n_reg if none). */
static size_t reg_lower(const struct proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n_reg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->reg[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Region containing addr, or NULL. O(log n). */
static struct region *reg_find(struct proc *p, uint64_t addr)
{
	size_t i = reg_lower(p, addr);

	if (i < p->n_reg && p->reg[i].start <= addr)
		return &p->reg[i];
	return NULL;
}

static bool reg_reserve(struct am_corr *c, struct proc *p, size_t extra)
{
	if (p->n_reg + extra <= p->cap_reg)
		return true;
	size_t ncap = p->cap_reg ? p->cap_reg * 2 : 64;
	while (ncap < p->n_reg + extra)
		ncap *= 2;
	struct region *nr = realloc(p->reg, ncap * sizeof(*nr));
	if (!nr) {
		c->oom = true;
		return false;
	}
	p->reg = nr;
	p->cap_reg = ncap;
	return true;
}

/* Unmap [a, b): trim, split or drop every region overlapping it. */
/* Bytes of [a, b) that were accessible memory: an arena's PROT_NONE
 * reservation beyond acc_end is address space, never memory. */
static uint64_t acc_bytes_in(const struct proc *p, uint64_t a, uint64_t b)
{
	uint64_t n = 0;

	for (size_t i = reg_lower(p, a); i < p->n_reg && p->reg[i].start < b; i++) {
		const struct region *r = &p->reg[i];
		uint64_t lo = r->start > a ? r->start : a;
		uint64_t hi = r->acc_end < b ? r->acc_end : b;

		if (hi > lo)
			n += hi - lo;
	}
	return n;
}

static void reg_remove(struct am_corr *c, struct proc *p, uint64_t a, uint64_t b)
{
	size_t i = reg_lower(p, a);

	while (i < p->n_reg && p->reg[i].start < b) {
		struct region *r = &p->reg[i];
		bool left = r->start < a, right = r->end > b;

		acct_reg(c, p, r, -1);
		if (left && right) {
			if (!reg_reserve(c, p, 1)) {
				/* keep the left part only rather than lose the map */
				r = &p->reg[i];
				r->end = a;
				acct_reg(c, p, r, +1);
				return;
			}
			r = &p->reg[i];
			memmove(&p->reg[i + 2], &p->reg[i + 1], (p->n_reg - i - 1) * sizeof(*r));
			p->reg[i + 1] = *r;
			p->reg[i + 1].start = b;
			r->end = a;
			p->n_reg++;
			acct_reg(c, p, &p->reg[i], +1);
			acct_reg(c, p, &p->reg[i + 1], +1);
			return;
		} else if (left) {
			r->end = a;
			acct_reg(c, p, r, +1);
			i++;
		} else if (right) {
			r->start = b;
			acct_reg(c, p, r, +1);
			return;
		} else {
			memmove(r, r + 1, (p->n_reg - i - 1) * sizeof(*r));
			p->n_reg--;
		}
	}
}

/* Map a new region, replacing whatever overlapped it (MAP_FIXED, or a
 * mapping we missed the unmap of). */
static void reg_add(struct am_corr *c, struct proc *p, const struct region *nr)
{
	size_t i;

	if (nr->end <= nr->start)
		return;
	reg_remove(c, p, nr->start, nr->end);
	if (!reg_reserve(c, p, 1))
		return;
	i = reg_lower(p, nr->start);
	memmove(&p->reg[i + 1], &p->reg[i], (p->n_reg - i) * sizeof(*nr));
	p->reg[i] = *nr;
	p->n_reg++;
	acct_reg(c, p, &p->reg[i], +1);
}

/* mprotect(a, b, prot): only arena reservations care. Making part of one
 * accessible is how glibc grows a thread arena: those bytes are obtained. */
static void reg_protect(struct am_corr *c, struct proc *p, uint64_t a, uint64_t b, uint64_t prot)
{
	for (size_t i = reg_lower(p, a); i < p->n_reg && p->reg[i].start < b; i++) {
		struct region *r = &p->reg[i];
		uint64_t e = b < r->end ? b : r->end;

		if (r->kind != AM_REG_ARENA)
			continue;
		acct_reg(c, p, r, -1);
		if (prot != PROT_NONE) {
			if (e > r->acc_end)
				r->acc_end = e;
		} else if (e >= r->acc_end || e == r->end) {
			/* taking back the accessible tail */
			uint64_t s = a > r->start ? a : r->start;
			if (s < r->acc_end)
				r->acc_end = s;
		}
		acct_reg(c, p, r, +1);
	}
}

/* ---------- stacks waiting for their record ---------- */

static bool pstk_put(struct am_corr *c, uint64_t key, const struct am_stack *st, int cut)
{
	size_t mask, i;

	if ((c->n_pstk + 1) * 2 > c->cap_pstk) {
		size_t ncap = c->cap_pstk ? c->cap_pstk * 2 : 64;
		struct pstk *np = calloc(ncap, sizeof(*np));

		if (!np)
			return false;
		for (size_t k = 0; k < c->cap_pstk; k++) {
			if (!c->pstk[k].key)
				continue;
			size_t j = hash64(c->pstk[k].key) >> 32 & (ncap - 1);
			while (np[j].key)
				j = (j + 1) & (ncap - 1);
			np[j] = c->pstk[k];
		}
		free(c->pstk);
		c->pstk = np;
		c->cap_pstk = ncap;
	}
	mask = c->cap_pstk - 1;
	for (i = hash64(key) >> 32 & mask; c->pstk[i].key; i = (i + 1) & mask)
		if (c->pstk[i].key == key)
			break;
	if (!c->pstk[i].key)
		c->n_pstk++;
	c->pstk[i] = (struct pstk){ .key = key, .s = st, .cut = cut };
	return true;
}

/* Take the stack waiting under key (NULL if none). */
static const struct am_stack *pstk_take(struct am_corr *c, uint64_t key, int *cut)
{
	size_t mask, i, j;
	const struct am_stack *st;

	*cut = -1;
	if (!c->n_pstk)
		return NULL;
	mask = c->cap_pstk - 1;
	for (i = hash64(key) >> 32 & mask; c->pstk[i].key; i = (i + 1) & mask)
		if (c->pstk[i].key == key)
			break;
	if (!c->pstk[i].key)
		return NULL;
	st = c->pstk[i].s;
	*cut = c->pstk[i].cut;
	for (j = i;;) { /* backward-shift deletion */
		j = (j + 1) & mask;
		if (!c->pstk[j].key)
			break;
		size_t home = hash64(c->pstk[j].key) >> 32 & mask;
		if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
			c->pstk[i] = c->pstk[j];
			i = j;
		}
	}
	c->pstk[i].key = 0;
	c->n_pstk--;
	return st;
}

/* ---------- OS requests ---------- */

/* Apply a successful brk. */
static void os_brk(struct am_corr *c, struct proc *p, const struct am_os_event *ev)
{
	uint64_t addr = ev->args[0], ret = (uint64_t)ev->ret;

	if (addr != 0 && ret != addr)
		c->sum.sys_failed[AM_SYS_BRK]++;
	if (!p->heap_known) {
		/* brk(0) tells where the heap starts; a first brk(addr) seen
		 * mid-run only tells where it ends now. */
		p->heap_known = true;
		p->heap_start = p->heap_end = ret;
		return;
	}
	if (ret < p->heap_start)
		p->heap_start = ret;
	if (ret < p->heap_end)
		c->sum.returned_brk += p->heap_end - ret;
	p->heap_end = ret;
	acct_heap(c, p, p->heap_end - p->heap_start);
}

/* Apply the effect of one OS request to the process's map; set the
 * provisional region kind of the record. */
static void os_apply(struct am_corr *c, struct proc *p, struct am_os_rec *o)
{
	const struct am_os_event *ev = &o->ev;
	struct region nr;
	uint64_t a, len;

	if (ev->sys == AM_SYS_BRK) {
		os_brk(c, p, ev);
		return;
	}
	if (sys_err(ev->ret))
		return;
	switch (ev->sys) {
	case AM_SYS_MMAP:
		len = am_page_up(ev->args[1]);
		if (p->musl && ev->args[2] == PROT_NONE && (ev->args[3] & MAP_FIXED) && p->heap_known &&
		    (uint64_t)ev->ret >= p->heap_start && (uint64_t)ev->ret + len <= p->heap_end) {
			/* mallocng's guard page under its meta areas, in the brk heap */
			o->region_kind = AM_REG_HEAP;
			break;
		}
		nr = (struct region){
			.start = (uint64_t)ev->ret, .end = (uint64_t)ev->ret + len,
			.acc_end = (uint64_t)ev->ret + len, .cause_call = ev->call_id,
		};
		if (o->direct)
			nr.kind = AM_REG_DIRECT;
		else if (ev->args[2] == PROT_NONE) {
			nr.kind = AM_REG_ARENA;
			nr.acc_end = nr.start;
		} else
			nr.kind = AM_REG_MMAP;
		o->region_kind = nr.kind;
		reg_add(c, p, &nr);
		break;
	case AM_SYS_MUNMAP:
		a = ev->args[0];
		if (!o->direct)
			c->sum.returned_munmap += acc_bytes_in(p, a, a + am_page_up(ev->args[1]));
		reg_remove(c, p, a, a + am_page_up(ev->args[1]));
		break;
	case AM_SYS_MREMAP: {
		uint64_t old = ev->args[0], old_len = am_page_up(ev->args[1]);
		uint64_t new_len = am_page_up(ev->args[2]), to = (uint64_t)ev->ret;
		struct region *r = reg_find(p, old);

		nr = (struct region){
			.start = to, .end = to + new_len, .acc_end = to + new_len,
			.cause_call = ev->call_id,
			.kind = o->direct ? AM_REG_DIRECT : AM_REG_MMAP,
		};
		if (r) {
			nr.kind = r->kind;
			if (r->kind == AM_REG_ARENA)
				nr.acc_end = to + reg_bytes(r);
			if (o->direct)
				nr.cause_call = r->cause_call;
			else if (r->kind == AM_REG_PREEXISTING)
				nr.kind = AM_REG_MMAP; /* a chunk mmapped before attach, realloc'd now */
		}
		if (old_len && !(ev->args[3] & MREMAP_DONTUNMAP))
			reg_remove(c, p, old, old + old_len);
		o->region_kind = nr.kind;
		reg_add(c, p, &nr);
		break;
	}
	case AM_SYS_MPROTECT:
		a = ev->args[0];
		reg_protect(c, p, a, a + am_page_up(ev->args[1]), ev->args[2]);
		break;
	default: /* madvise: the mapping stays, its pages may go back */
		if (!o->direct && (ev->args[2] == 4 /* MADV_DONTNEED */ ||
				   ev->args[2] == 8 /* MADV_FREE */ ||
				   ev->args[2] == 9 /* MADV_REMOVE */))
			c->sum.returned_madvise += am_page_up(ev->args[1]);
		break;
	}
}

/* ---------- pending table ---------- */

static struct pend *pend_find(struct am_corr *c, uint64_t id)
{
	size_t mask = c->cap_pend - 1;

	if (!c->cap_pend)
		return NULL;
	for (size_t i = hash64(id) >> 32 & mask; c->pend[i].call_id; i = (i + 1) & mask)
		if (c->pend[i].call_id == id)
			return &c->pend[i];
	return NULL;
}

static bool pend_grow(struct am_corr *c)
{
	size_t ncap = c->cap_pend ? c->cap_pend * 2 : 64, mask = ncap - 1;
	struct pend *np = calloc(ncap, sizeof(*np));

	if (!np)
		return false;
	for (size_t k = 0; k < c->cap_pend; k++) {
		if (!c->pend[k].call_id)
			continue;
		size_t j = hash64(c->pend[k].call_id) >> 32 & mask;
		while (np[j].call_id)
			j = (j + 1) & mask;
		np[j] = c->pend[k];
	}
	free(c->pend);
	c->pend = np;
	c->cap_pend = ncap;
	return true;
}

/* Hold OS record o until call o->call_id arrives. False on OOM. */
static bool pend_add(struct am_corr *c, const struct am_os_rec *o)
{
	struct pend *g = pend_find(c, o->call_id);

	if (!g) {
		if ((c->n_pend + 1) * 2 > c->cap_pend && !pend_grow(c))
			return false;
		size_t mask = c->cap_pend - 1, i = hash64(o->call_id) >> 32 & mask;
		while (c->pend[i].call_id)
			i = (i + 1) & mask;
		g = &c->pend[i];
		*g = (struct pend){ .call_id = o->call_id };
		c->n_pend++;
	}
	if (g->n == g->cap) {
		uint32_t ncap = g->cap ? g->cap * 2 : 4;
		struct am_os_rec *nr = realloc(g->recs, ncap * sizeof(*nr));
		if (!nr)
			return false;
		g->recs = nr;
		g->cap = ncap;
	}
	g->recs[g->n++] = *o;
	return true;
}

/* Remove group g (its recs array must have been taken or freed). */
static void pend_del(struct am_corr *c, struct pend *g)
{
	size_t mask = c->cap_pend - 1, i = (size_t)(g - c->pend), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!c->pend[j].call_id)
			break;
		size_t home = hash64(c->pend[j].call_id) >> 32 & mask;
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			c->pend[i] = c->pend[j];
			i = j;
		}
	}
	c->pend[i] = (struct pend){ 0 };
	c->n_pend--;
}

static int os_rec_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct am_os_rec *)a)->ev.id, y = ((const struct am_os_rec *)b)->ev.id;

	return x < y ? -1 : x > y;
}

/* Sort by id; OS records of one call nearly always arrive in order. */
static void os_sort(struct am_os_rec *r, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (r[i].ev.id < r[i - 1].ev.id) {
			qsort(r, n, sizeof(*r), os_rec_cmp);
			return;
		}
}

/* The table function a stack frame is in ("__libc_malloc" is malloc), or -1.
 * The table names ELF symbols: C++ operators by their mangled names. */
static int frame_fn(const struct am_frame *f)
{
	const char *sym = f->mangled ? f->mangled : f->sym;

	if (!sym)
		return -1;
	if (!strncmp(sym, "__libc_", 7))
		sym += 7;
	for (int fn = 0; fn < am_fn_count(); fn++)
		if (!strcmp(sym, am_fn_info(fn)->sym))
			return fn;
	return -1;
}

/* --mode os: no allocator call is traced, but the stack of an OS request
 * shows which allocator function it was made in: its outermost frame of the
 * table (operator new over malloc, an --alloc function over both). A whole
 * stack without one was made by the program itself. A truncated stack
 * without one tells nothing. */
static void infer_cause(struct am_os_rec *o)
{
	const struct am_stack *s = o->stack;
	int found = -1;
	uint32_t at = 0;

	for (uint32_t i = 0; i < s->n; i++) {
		int fn = frame_fn(&s->f[i]);

		if (fn >= 0) {
			found = fn;
			at = i;
		}
	}
	if (found >= 0) {
		o->cause_unknown = false;
		o->unknown_why = AM_UNK_NONE;
		o->direct = false;
		o->cause_fn = (uint8_t)found;
		o->inferred = true;
		o->inner = at + 1;
	} else if (!(s->flags & (AM_STK_TRUNCATED | AM_STK_NOCOPY)) && s->n > 1) {
		o->cause_unknown = false;
		o->unknown_why = AM_UNK_NONE;
		o->direct = true;
		o->inferred = true;
	}
}

static int on_os(struct am_corr *c, const struct am_os_event *ev)
{
	struct am_os_rec o;
	struct proc *p;

	if (ev->sys >= AM_SYS__COUNT || (ev->call_id && ev->cause_fn >= am_fn_count()))
		return -1;
	p = proc_get(c, ev->pid);
	if (!p) {
		c->oom = true;
		return 0;
	}
	memset(&o, 0, sizeof(o));
	o.ev = *ev;
	o.direct = ev->call_id == 0;
	o.call_id = ev->call_id;
	o.cause_fn = o.direct ? 0 : ev->cause_fn;
	if (c->opts.os_only) {
		o.cause_unknown = true;
		o.unknown_why = c->opts.no_alloc ? AM_UNK_NO_ALLOC : AM_UNK_OS_MODE;
	} else if (o.direct && (ev->pad0 & AM_OS_ATTACHING)) {
		o.cause_unknown = true;
		o.unknown_why = AM_UNK_ATTACHING;
	}
	if (c->opts.stack_mode != AM_STACKS_OFF) {
		int cut;

		o.stack = pstk_take(c, ev->id << 1 | 1, &cut);
		if (!o.stack)
			c->sum.stacks_missing++;
		else if (cut >= 0 && !o.direct && (uint32_t)cut < o.stack->n)
			o.inner = (uint32_t)cut + 1;
		if (o.stack && c->opts.os_only)
			infer_cause(&o);
	}
	c->sum.sys_count[ev->sys]++;
	if (o.cause_unknown)
		c->sum.sys_unknown[ev->sys]++;
	else
		c->sum.sys_by_cause[ev->sys][o.direct ? AM_FN_MAX : o.cause_fn]++;
	if (sys_err(ev->ret))
		c->sum.sys_failed[ev->sys]++;
	os_apply(c, p, &o);
	if (o.direct || !o.call_id) { /* no call record will come for it */
		if (c->opts.sink.os)
			c->opts.sink.os(c->opts.sink.ctx, &o);
	} else if (!pend_add(c, &o)) {
		c->oom = true;
	}
	return 0;
}

/* ---------- allocator calls ---------- */

/* Fill the rec fields decoded from the raw arguments. */
static void decode(struct am_call_rec *r, bool result_valid)
{
	const struct am_call_event *ev = &r->ev;
	uint64_t prod;

	switch (am_fn_role(ev->fn)) {
	case AM_ROLE_MALLOC:
		r->size = ev->args[0];
		break;
	case AM_ROLE_CALLOC:
		r->nmemb = ev->args[0];
		r->size = __builtin_mul_overflow(ev->args[0], ev->args[1], &prod) ? UINT64_MAX : prod;
		break;
	case AM_ROLE_REALLOC:
		r->ptr_in = ev->args[0];
		r->size = ev->args[1];
		r->has_ptr_in = true;
		break;
	case AM_ROLE_REALLOCARRAY:
		r->ptr_in = ev->args[0];
		r->nmemb = ev->args[1];
		r->size = __builtin_mul_overflow(ev->args[1], ev->args[2], &prod) ? UINT64_MAX : prod;
		r->has_ptr_in = true;
		break;
	case AM_ROLE_FREE:
	case AM_ROLE_FREE_SIZED: /* the size argument is the caller's claim: the live table knows */
		r->ptr_in = ev->args[0];
		r->has_ptr_in = true;
		break;
	case AM_ROLE_POSIX_MEMALIGN:
		r->align = ev->args[1];
		r->size = ev->args[2];
		break;
	case AM_ROLE_MEMALIGN:
		r->align = ev->args[0];
		r->size = ev->args[1];
		break;
	case AM_ROLE_NEW_ALIGNED:
		r->size = ev->args[0];
		r->align = ev->args[1];
		break;
	case AM_ROLE_VALLOC:
	case AM_ROLE_PVALLOC:
		r->align = PAGE_SIZE_;
		r->size = ev->args[0];
		break;
	default:
		break;
	}
	r->allocates = am_role_allocates(am_fn_role(ev->fn));
	if (r->allocates && result_valid)
		r->ptr_out = am_fn_role(ev->fn) == AM_ROLE_POSIX_MEMALIGN ?
			(ev->ret == 0 ? ev->out : 0) : ev->ret;
}

/* The chunk size glibc's _int_malloc compares with the threshold. */
static uint64_t glibc_nb(const struct am_call_rec *r)
{
	uint64_t size = r->size;

	if (am_fn_role(r->ev.fn) == AM_ROLE_PVALLOC)
		size = am_page_up(size);
	if (r->align > 16) /* _int_memalign over-allocates to find an aligned spot */
		return req2size(req2size(size) + r->align + 32);
	return req2size(size);
}

/* What holds ptr for call r: own is the call id whose mmap counts as
 * "its own" (the call itself, or for realloc the call that made ptr_in). */
static enum am_region_kind place(struct proc *p, uint64_t ptr, uint64_t id, uint64_t own_prev)
{
	struct region *g;

	if (p->heap_known && ptr >= p->heap_start && ptr < p->heap_end)
		return AM_REG_HEAP;
	g = reg_find(p, ptr);
	if (!g)
		return AM_REG_UNKNOWN;
	if (g->kind == AM_REG_MMAP)
		return g->cause_call == id || (own_prev && g->cause_call == own_prev) ?
			AM_REG_MMAP : AM_REG_ARENA;
	return (enum am_region_kind)g->kind;
}

/* musl: the mappings call r made that hold its result are groups shared
 * by many allocations (arena), unless mapped for it alone (musl_own_map). */
static void musl_groups(struct proc *p, const struct am_call_rec *r, struct am_os_rec *os, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct am_os_event *e = &os[i].ev;
		uint64_t s = (uint64_t)e->ret, len = am_page_up(e->args[1]);
		struct region *g;

		if (e->sys != AM_SYS_MMAP || sys_err(e->ret) || os[i].region_kind != AM_REG_MMAP ||
		    r->ptr_out < s || r->ptr_out >= s + len || musl_own_map(musl_request(r), len))
			continue;
		os[i].region_kind = AM_REG_ARENA;
		g = reg_find(p, s);
		if (g && g->start == s)
			g->kind = AM_REG_ARENA;
	}
}

/* Bounds that met, or crossed (an unseen mallopt, a model error: start
 * over from what glibc allows), are made a value again. */
static void thr_settle(struct am_thr *t)
{
	if (t->known)
		return;
	if (t->lo > t->hi) {
		t->lo = 0;
		t->hi = GLIBC_THRESHOLD_MAX;
	} else if (t->lo == t->hi) {
		t->known = true;
		t->value = t->lo;
		t->lo = t->hi = 0;
	}
}

/* glibc's dynamic threshold: a free of an mmapped chunk of size S in
 * (threshold, 32 MiB] raises the threshold to S (unless pinned). Unknown,
 * it becomes max(threshold, S): the bounds rise to at least S, and when the
 * upper one was <= S (the chunk's own mmap had already proved threshold <=
 * its request), the threshold is S: known again. */
static bool glibc_free_mmapped(struct am_corr *c, struct proc *p, const struct am_call_rec *r,
			       const struct am_os_rec *os, size_t n, bool was_mmap,
			       uint64_t region_len, struct am_threshold_rec *out)
{
	uint64_t s = 0;
	struct am_thr *t = &p->thr;
	struct am_threshold_rec rec;

	for (size_t i = 0; i < n; i++) {
		const struct am_os_event *e = &os[i].ev;
		if (e->sys == AM_SYS_MUNMAP && !sys_err(e->ret) &&
		    r->ptr_in >= e->args[0] && r->ptr_in < e->args[0] + e->args[1]) {
			s = am_page_up(e->args[1]);
			break;
		}
	}
	if (!s && was_mmap)
		s = region_len;
	if (!s || t->pinned || s > GLIBC_THRESHOLD_MAX)
		return false;
	if (t->known ? s <= t->value : s <= t->lo)
		return false; /* cannot have moved it */
	rec = (struct am_threshold_rec){
		.ts_ns = r->ts_end,
		.pid = r->ev.pid, .tid = r->ev.tid,
		.old_value = t->known ? t->value : 0,
		.old_lo = t->known ? 0 : t->lo, .old_hi = t->known ? 0 : t->hi,
		.call_id = r->ev.id, .freed_chunk = s,
	};
	if (t->known) {
		t->value = s;
	} else {
		t->lo = s;
		if (t->hi < s)
			t->hi = s;
		thr_settle(t);
	}
	rec.new_value = t->known ? t->value : 0;
	rec.new_lo = t->known ? 0 : t->lo;
	rec.new_hi = t->known ? 0 : t->hi;
	p->thr_changes++;
	c->sum.threshold_changes++;
	*out = rec; /* delivered after the call that moved it */
	return true;
}

/* What a malloc/calloc of an unknown threshold proves about it (r: an
 * outermost call with a valid result, os: the requests it made). glibc's
 * _int_malloc only reaches sysmalloc when no bin and not the top chunk can
 * serve nb; sysmalloc mmaps the chunk on its own iff nb >= threshold (and
 * n_mmaps < n_mmaps_max), else grows the heap. Fallbacks that mmap whatever
 * the threshold (brk failed, no arena, new_heap failed) show a failed
 * syscall: such calls prove nothing. */
static void thr_observe(struct proc *p, const struct am_call_rec *r,
			const struct am_os_rec *os, size_t n, bool first_on_thread)
{
	struct am_thr *t = &p->thr;
	bool grew = false;
	uint64_t nb;

	if (t->known || !r->ptr_out)
		return;
	if (r->ev.fn != AM_FN_MALLOC && r->ev.fn != AM_FN_CALLOC &&
	    !(r->ev.fn == AM_FN_REALLOC && !r->ptr_in))
		return;
	for (size_t i = 0; i < n; i++) {
		const struct am_os_event *e = &os[i].ev;

		if (sys_err(e->ret))
			return;
		if (e->sys == AM_SYS_BRK && e->args[0]) {
			if ((uint64_t)e->ret != e->args[0])
				return; /* brk failed: glibc may mmap instead */
			grew = true;
		}
		if (e->sys == AM_SYS_MPROTECT && r->region == AM_REG_ARENA)
			grew = true;
	}
	nb = glibc_nb(r);
	if (r->region == AM_REG_MMAP) {
		if (nb < t->hi)
			t->hi = nb;
	} else if (grew && !first_on_thread &&
		   (r->region == AM_REG_HEAP || r->region == AM_REG_ARENA)) {
		if (nb + 1 > t->lo)
			t->lo = nb + 1;
	}
	thr_settle(t);
}

static int on_call(struct am_corr *c, const struct am_call_event *ev)
{
	struct am_call_rec r;
	struct am_os_rec *os = NULL;
	struct pend *g = NULL;
	struct proc *p;
	struct am_fn_stats *st;
	bool nested, result_valid, frees = false, was_mmap = false, moved = false, first_on_thread;
	struct am_threshold_rec thr;
	uint64_t own_prev = 0, region_len = 0;
	size_t n = 0;

	if (ev->fn >= am_fn_count())
		return -1;
	p = proc_get(c, ev->pid);
	if (!p) {
		c->oom = true;
		return 0;
	}
	memset(&r, 0, sizeof(r));
	r.ev = *ev;
	nested = ev->flags & AM_CALL_NESTED;
	result_valid = !(ev->flags & (AM_CALL_MISSED | AM_CALL_NORET));
	decode(&r, result_valid);
	r.from_obj = !nested && (ev->flags & AM_CALL_FROM_OBJ);
	if (r.from_obj)
		c->sum.own_calls++;
	/* outermost calls only: a nested call is delivered before its outer
	 * call, which may have initialised the thread's tcache */
	first_on_thread = !nested && !tid_seen(p, ev->tid);
	if (p->glibc) {
		r.threshold = p->thr.known ? p->thr.value : 0;
		r.thr_lo = p->thr.known ? 0 : p->thr.lo;
		r.thr_hi = p->thr.known ? 0 : p->thr.hi;
	} else if (p->musl) {
		r.threshold = MUSL_MMAP_THRESHOLD;
	}

	if (c->n_pend && (g = pend_find(c, ev->id))) {
		os = g->recs;
		n = g->n;
		os_sort(os, n);
	}
	r.ts_end = ev->ts_exit ? ev->ts_exit : n ? os[n - 1].ev.ts_exit : ev->ts_enter;
	if (c->opts.stack_mode != AM_STACKS_OFF) {
		int cut;

		r.stack = pstk_take(c, ev->id << 1, &cut);
		/* --stacks=os (or this call not sampled): the stack of an OS request
		 * it made, without the allocator's inner frames */
		for (size_t i = 0; !r.stack && i < n; i++)
			if (os[i].stack && os[i].inner) {
				const struct am_stack *s = os[i].stack;
				uint32_t k = os[i].inner - 1;

				r.stack = am_stacktab__intern(c->stacks, s->pid, s->f + k, s->n - k, s->flags);
				r.stack_derived = r.stack != NULL;
			}
		if (!r.stack && !nested && c->opts.stack_mode == AM_STACKS_ALL &&
		    (c->opts.sample_every <= 1 || ev->id % c->opts.sample_every == 0))
			c->sum.stacks_missing++;
	}

	st = &c->sum.fn[ev->fn];
	st->calls++;
	st->bytes += r.size;
	if (nested)
		st->nested++;
	else if (n || ev->n_os)
		st->os_calls++;

	/* the input pointer: free, realloc that moved/freed it */
	if (r.has_ptr_in && r.ptr_in) {
		if (am_role_frees(am_fn_role(ev->fn)))
			frees = true;
		else if (result_valid)
			frees = r.ptr_out != 0 || r.size == 0;
	}
	if (frees) {
		struct live_ent *e = live_find(&p->live, r.ptr_in);

		/* Events are emitted at returns: another thread's malloc can get
		 * the chunk a free released and return before the free does. A
		 * free that began before the call that returned this pointer
		 * ended cannot be freeing what that call returned: it freed the
		 * incarnation that call displaced. */
		if (e && !nested && e->ts > ev->ts_enter) {
			if (e->has_prev) {
				r.size = e->prev_size;
				r.region = (enum am_region_kind)e->prev_region;
				if (am_role_frees(am_fn_role(ev->fn)))
					st->bytes += r.size;
				e->has_prev = false;
			} else {
				r.free_unknown = true;
				if (r.from_obj)
					c->sum.own_unknown_frees++;
				else
					c->sum.unknown_frees++;
			}
			e = NULL;
		} else if (e) {
			if (am_role_frees(am_fn_role(ev->fn))) {
				r.size = e->size;
				r.region = (enum am_region_kind)e->region;
				st->bytes += e->size;
			}
			own_prev = e->call_id;
			was_mmap = e->region == AM_REG_MMAP;
			if (!nested) {
				/* still mapped if the munmap was lost; else the munmap tells */
				struct region *reg = reg_find(p, r.ptr_in);
				if (reg)
					region_len = reg->end - reg->start;
				p->live_bytes -= e->size;
				c->sum.live_bytes -= e->size;
				c->sum.live_count--;
				live_del(&p->live, e);
			}
		} else if (!nested) {
			r.free_unknown = true;
			if (r.from_obj)
				c->sum.own_unknown_frees++;
			else
				c->sum.unknown_frees++;
		}
		if (!nested && p->glibc && (am_role_frees(am_fn_role(ev->fn)) || !r.ptr_out))
			moved = glibc_free_mmapped(c, p, &r, os, n, was_mmap, region_len, &thr);
	}

	/* the result */
	if (r.ptr_out && p->musl && !nested)
		musl_groups(p, &r, os, n);
	if (r.ptr_out) {
		r.region = place(p, r.ptr_out, ev->id, r.ptr_in ? own_prev : 0);
		if (!nested) {
			struct live_ent *e = live_slot(&p->live, r.ptr_out);
			if (e) {
				e->has_prev = e->call_id != 0;
				if (e->call_id) { /* never saw it freed (yet: see above) */
					p->live_bytes -= e->size;
					c->sum.live_bytes -= e->size;
					c->sum.live_count--;
					e->prev_size = e->size;
					e->prev_region = e->region;
				}
				e->ts = r.ts_end;
				e->size = r.size;
				e->call_id = ev->id;
				e->stack = r.stack ? r.stack->id : 0;
				e->region = (uint8_t)r.region;
				p->live_bytes += r.size;
				c->sum.live_bytes += r.size;
				c->sum.live_count++;
				peak(&c->sum.live_bytes_peak, c->sum.live_bytes);
			} else {
				c->oom = true;
			}
			if (p->glibc) {
				struct am_thr *t = &p->thr;
				uint64_t nb = glibc_nb(&r);

				thr_observe(p, &r, os, n, first_on_thread);
				if (t->known) {
					r.threshold = t->value;
				} else {
					r.threshold = 0;
					r.thr_lo = t->lo;
					r.thr_hi = t->hi;
				}
				if (r.region == AM_REG_HEAP || r.region == AM_REG_ARENA) {
					if (t->known)
						r.reason = nb < t->value ? AM_WHY_UNDER_THRESHOLD : AM_WHY_FIT_TOP;
					else if (nb < t->lo)
						r.reason = AM_WHY_UNDER_THRESHOLD;
					else if (nb >= t->hi)
						r.reason = AM_WHY_FIT_TOP;
				} else if (r.region == AM_REG_MMAP && !(r.ptr_in && was_mmap)) {
					r.reason = AM_WHY_OVER_THRESHOLD;
				}
			} else if (p->musl && r.region != AM_REG_HEAP &&
				   !(r.ptr_in && was_mmap && r.region == AM_REG_MMAP)) {
				/* (a realloc that kept its own mapping, mremap or not, is not
				 * explained; mallocng never serves from the brk heap: an
				 * allocation there was not its doing) */
				if (musl_request(&r) < MUSL_MMAP_THRESHOLD)
					r.reason = AM_WHY_GROUP;
				else if (r.region == AM_REG_MMAP)
					r.reason = AM_WHY_OVER_THRESHOLD;
			}
			unsigned b = hist_bucket(r.size);
			if (r.region == AM_REG_HEAP)
				c->sum.hist_heap[b]++;
			else if (r.region == AM_REG_MMAP)
				c->sum.hist_mmap[b]++;
			else
				c->sum.hist_other[b]++;
		}
	} else if (r.allocates && result_valid && !(r.ptr_in && r.size == 0 && r.has_ptr_in)) {
		st->failed++;
	}

	/* the OS records: cause and what each new mapping turned out to be */
	for (size_t i = 0; i < n; i++) {
		struct am_os_rec *o = &os[i];
		o->cause_size = r.size;
		if ((o->ev.sys == AM_SYS_MMAP || o->ev.sys == AM_SYS_MREMAP) &&
		    !sys_err(o->ev.ret) && o->region_kind == AM_REG_MMAP) {
			uint64_t s = (uint64_t)o->ev.ret;
			uint64_t len = am_page_up(o->ev.sys == AM_SYS_MMAP ? o->ev.args[1] : o->ev.args[2]);
			if (!(r.ptr_out >= s && r.ptr_out < s + len))
				o->region_kind = AM_REG_ARENA;
		}
	}
	r.n_os = n;
	if (c->opts.sink.call)
		c->opts.sink.call(c->opts.sink.ctx, &r, os, n);
	if (moved && c->opts.sink.threshold)
		c->opts.sink.threshold(c->opts.sink.ctx, &thr);
	if (g) {
		free(g->recs);
		pend_del(c, g);
	}
	return 0;
}

/* ---------- task events ---------- */

static int on_task(struct am_corr *c, const struct am_task_event *ev)
{
	struct proc *p;

	if (ev->kind < AM_TASK_FORK || ev->kind > AM_TASK_EXIT)
		return -1;
	if (ev->kind == AM_TASK_FORK && ev->child != ev->pid && (p = proc_get(c, ev->pid))) {
		/* the child runs on a copy of its parent's mp_ */
		struct am_thr t = p->thr;
		struct proc *q = proc_get(c, ev->child);

		if (q) {
			t.source = AM_THR_SRC_FORK;
			q->thr = q->thr_start = t;
			q->glibc = p->glibc;
			q->musl = p->musl;
		} else {
			c->oom = true;
		}
	}
	if (ev->kind == AM_TASK_EXEC && (p = proc_get(c, ev->pid))) {
		/* a new image: its old mappings and allocations are gone */
		c->sum.live_bytes -= p->live_bytes;
		c->sum.live_count -= p->live.n;
		c->sum.mmap_bytes -= p->mmap_bytes;
		c->sum.direct_mmap_bytes -= p->direct_bytes;
		acct_heap(c, p, 0);
		proc_release(p);
		p->live_bytes = p->mmap_bytes = p->direct_bytes = 0;
		p->heap_known = false;
		p->heap_start = p->heap_end = 0;
		p->thr = p->thr_start = c->thr_exec;
	}
	if (c->opts.sink.task)
		c->opts.sink.task(c->opts.sink.ctx, ev);
	return 0;
}

/* ---------- public API ---------- */

struct am_corr *am_corr__new(const struct am_corr_opts *opts)
{
	struct am_corr *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *opts;
	c->stacks = am_stacktab__new();
	if (!c->stacks) {
		free(c);
		return NULL;
	}
	c->sum.stack_mode = opts->stack_mode;
	c->sum.os_only = opts->os_only;
	c->sum.attached = opts->attached;
	c->thr_exec = (struct am_thr){
		.known = true, .pinned = opts->threshold_pinned,
		.value = opts->threshold_start ? opts->threshold_start : GLIBC_THRESHOLD_DEFAULT,
		.source = opts->threshold_pinned ? AM_THR_SRC_ENV : AM_THR_SRC_DEFAULT,
	};
	c->thr_init = c->thr_exec;
	if (opts->threshold_attach)
		c->thr_init = (struct am_thr){ .lo = GLIBC_THRESHOLD_DEFAULT, .hi = GLIBC_THRESHOLD_MAX,
					       .source = AM_THR_SRC_UNKNOWN };
	c->sum.target_exit = -1;
	return c;
}

void am_corr__free(struct am_corr *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap_procs; i++) {
		if (!c->procs[i])
			continue;
		proc_release(c->procs[i]);
		free(c->procs[i]);
	}
	for (size_t i = 0; i < c->cap_pend; i++)
		free(c->pend[i].recs);
	free(c->procs);
	free(c->pend);
	free(c->pstk);
	free(c->leaks);
	free(c->thr_procs);
	am_stacktab__free(c->stacks);
	free(c);
}

int am_corr__set_threshold(struct am_corr *c, uint32_t pid, const struct am_thr *t)
{
	struct proc *p = proc_get(c, pid);

	if (!p)
		return -1;
	p->thr = p->thr_start = *t;
	thr_settle(&p->thr);
	thr_settle(&p->thr_start);
	return 0;
}

int am_corr__set_allocator(struct am_corr *c, uint32_t pid, bool glibc, bool musl)
{
	struct proc *p = proc_get(c, pid);

	if (!p)
		return -1;
	p->glibc = glibc;
	p->musl = musl && !glibc;
	return 0;
}

int am_corr__stack(struct am_corr *c, uint8_t kind, uint64_t id, uint32_t pid,
		   const struct am_frame *f, size_t n, uint32_t flags, int cut)
{
	const struct am_stack *s;

	if (kind != AM_STACK_CALL && kind != AM_STACK_OS)
		return -1;
	c->sum.stacks++;
	if (flags & AM_STK_TRUNCATED)
		c->sum.stacks_truncated++;
	if (n <= 1)
		c->sum.stacks_unwind_failed++;
	s = am_stacktab__intern(c->stacks, pid, f, n, flags);
	if (!s || !pstk_put(c, id << 1 | (kind == AM_STACK_OS), s, cut)) {
		c->oom = true;
		return -1;
	}
	return 0;
}

/* Seeding: one line is `start-end perms offset dev inode [path]`. */
int am_corr__seed_maps(struct am_corr *c, uint32_t pid, FILE *maps)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int added = 0;
	struct proc *p = proc_get(c, pid);

	if (!p)
		return -1;
	while ((len = getline(&line, &cap, maps)) >= 0) {
		unsigned long long s, e, off, inode;
		unsigned maj, mnr;
		char perms[8];
		int pos = -1;
		const char *path;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
			line[--len] = 0;
		if (len == 0)
			continue;
		if (sscanf(line, "%llx-%llx %7s %llx %x:%x %llu%n",
			   &s, &e, perms, &off, &maj, &mnr, &inode, &pos) != 7 ||
		    pos < 0 || e < s || strlen(perms) != 4) {
			free(line);
			return -1;
		}
		path = line + pos;
		while (*path == ' ' || *path == '\t')
			path++;
		if (strcmp(path, "[heap]") == 0) {
			p->heap_known = true;
			p->heap_start = s;
			p->heap_end = e;
			acct_heap(c, p, e - s);
			added++;
		} else if (!*path || strncmp(path, "[anon:", 6) == 0) {
			struct region r = {
				.start = s, .end = e, .acc_end = e,
				.cause_call = SEED_CALL_ID, .kind = AM_REG_PREEXISTING,
			};
			reg_add(c, p, &r);
			added++;
		}
		/* file-backed, [stack], [vdso], [vvar], [vsyscall]: never hold allocations */
	}
	free(line);
	return added;
}

int am_corr__event(struct am_corr *c, const void *data, size_t len)
{
	const uint8_t *b = data;
	int err = -1;

	if (!data || len < 1)
		goto bad;
	switch (b[0]) {
	case AM_EV_CALL:
		if (len >= sizeof(struct am_call_event)) {
			struct am_call_event ev;
			memcpy(&ev, data, sizeof(ev)); /* ring buffer records are only 8-aligned */
			err = on_call(c, &ev);
		}
		break;
	case AM_EV_OS:
		if (len >= sizeof(struct am_os_event)) {
			struct am_os_event ev;
			memcpy(&ev, data, sizeof(ev));
			err = on_os(c, &ev);
		}
		break;
	case AM_EV_TASK:
		if (len >= sizeof(struct am_task_event)) {
			struct am_task_event ev;
			memcpy(&ev, data, sizeof(ev));
			err = on_task(c, &ev);
		}
		break;
	}
	if (err)
		goto bad;
	c->sum.events++;
	return 0;
bad:
	c->sum.malformed++;
	return -1;
}

/* The threshold part of the summary: the first process's in the scalar
 * fields, every process's in thr_procs (first seen first). */
static void thr_summary(struct am_corr *c, struct am_summary *s)
{
	const struct proc *root = NULL;
	struct am_thr_proc *tp;
	size_t k = 0;

	s->threshold_known = c->opts.glibc || c->opts.musl;
	s->threshold_fixed = !c->opts.glibc && c->opts.musl;
	s->thr_procs = NULL;
	s->n_thr_procs = 0;
	if (!c->opts.glibc) {
		/* musl: one constant, the same in every process */
		s->threshold_pinned = false;
		s->threshold_start = s->threshold_end = c->opts.musl ? MUSL_MMAP_THRESHOLD : 0;
		s->threshold_changes = 0;
		memset(&s->thr_start, 0, sizeof(s->thr_start));
		if (c->opts.musl)
			s->thr_start = (struct am_thr){ .known = true, .pinned = true, .value = MUSL_MMAP_THRESHOLD };
		s->thr_end = s->thr_start;
		return;
	}
	tp = realloc(c->thr_procs, (c->n_procs ? c->n_procs : 1) * sizeof(*tp));
	if (tp)
		c->thr_procs = tp;
	for (size_t i = 0; i < c->cap_procs; i++) {
		const struct proc *p = c->procs[i];

		if (!p)
			continue;
		if (!root || p->order < root->order)
			root = p;
		if (tp && p->order < c->n_procs) /* orders are 0..n_procs-1: first seen first */
			tp[p->order] = (struct am_thr_proc){ .pid = p->pid, .start = p->thr_start,
							     .end = p->thr, .changes = p->thr_changes };
	}
	k = c->n_procs;
	if (tp) {
		s->thr_procs = tp;
		s->n_thr_procs = k;
	}
	s->thr_start = root ? root->thr_start : c->thr_init;
	s->thr_end = root ? root->thr : c->thr_init;
	s->threshold_pinned = s->thr_end.pinned;
	s->threshold_start = s->thr_start.known ? s->thr_start.value : 0;
	s->threshold_end = s->thr_end.known ? s->thr_end.value : 0;
	s->threshold_changes = root ? root->thr_changes : 0;
}

/* Completes c->sum: live allocations by region, threshold, counters. */
static void fill_summary(struct am_corr *c, const struct am_counters *bpf,
			 uint64_t unattached_probes, uint64_t duration_ns, bool walk_live)
{
	struct am_summary *s = &c->sum;

	struct am_leak_in *li = NULL;
	size_t n_li = 0;

	if (!walk_live)
		goto counters;
	memset(s->live_by_region_count, 0, sizeof(s->live_by_region_count));
	memset(s->live_by_region_bytes, 0, sizeof(s->live_by_region_bytes));
	if (c->opts.stack_mode != AM_STACKS_OFF && c->sum.live_count)
		li = malloc(c->sum.live_count * sizeof(*li));
	for (size_t i = 0; i < c->cap_procs; i++) {
		struct proc *p = c->procs[i];
		if (!p)
			continue;
		for (size_t j = 0; j < p->live.cap; j++) {
			const struct live_ent *e = &p->live.e[j];
			if (!e->key || e->region >= AM_REG__COUNT)
				continue;
			s->live_by_region_count[e->region]++;
			s->live_by_region_bytes[e->region] += e->size;
			if (li && n_li < c->sum.live_count)
				li[n_li++] = (struct am_leak_in){
					.pid = p->pid, .stack = am_stacktab__get(c->stacks, e->stack),
					.size = e->size, .region = e->region,
				};
		}
	}
	free(c->leaks);
	c->leaks = NULL;
	s->leaks = NULL;
	s->n_leaks = 0;
	if (li) {
		long k = am_leaks_group(li, n_li, &c->leaks);

		if (k > 0) {
			s->leaks = c->leaks;
			s->n_leaks = (size_t)k;
		}
		free(li);
	}
counters:
	s->allocator = c->opts.allocator;
	thr_summary(c, s);
	if (bpf)
		s->bpf = *bpf;
	s->unattached_probes = unattached_probes;
	s->duration_ns = duration_ns;
}

void am_corr__set_target(struct am_corr *c, uint64_t wall_ns, uint64_t maxrss_kb, int exit_code, int sig)
{
	c->sum.target_wall_ns = wall_ns;
	c->sum.target_maxrss_kb = maxrss_kb;
	c->sum.target_exit = exit_code;
	c->sum.target_signal = sig;
}

void am_corr__snapshot(struct am_corr *c, const struct am_counters *bpf,
		       uint64_t unattached_probes, uint64_t duration_ns,
		       struct am_summary *out)
{
	fill_summary(c, bpf, unattached_probes, duration_ns, false);
	*out = c->sum;
	out->leaks = NULL; /* only finish() groups leaks */
	out->n_leaks = 0;
}

void am_corr__finish(struct am_corr *c, const struct am_counters *bpf,
		     uint64_t unattached_probes, uint64_t duration_ns,
		     struct am_summary *out)
{
	struct am_summary *s = &c->sum;
	size_t n = 0, k = 0;

	/* OS requests whose call never came: delivered alone, in id order */
	for (size_t i = 0; i < c->cap_pend; i++)
		n += c->pend[i].call_id ? c->pend[i].n : 0;
	if (n) {
		struct am_os_rec *all = malloc(n * sizeof(*all));
		for (size_t i = 0; i < c->cap_pend; i++) {
			struct pend *g = &c->pend[i];
			if (!g->call_id)
				continue;
			if (all)
				memcpy(all + k, g->recs, g->n * sizeof(*all));
			k += g->n;
			free(g->recs);
			*g = (struct pend){ 0 };
		}
		c->n_pend = 0;
		s->orphan_os += n;
		if (all) {
			qsort(all, n, sizeof(*all), os_rec_cmp);
			for (size_t i = 0; i < n && c->opts.sink.os; i++)
				c->opts.sink.os(c->opts.sink.ctx, &all[i]);
			free(all);
		}
	}

	fill_summary(c, bpf, unattached_probes, duration_ns, true);
	if (c->opts.sink.summary)
		c->opts.sink.summary(c->opts.sink.ctx, s);
	if (out)
		*out = *s;
}
