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
 *  - the live allocations, in the accounting model (memacct.c), with the
 *    region and allocating call of each;
 *  - glibc's dynamic mmap threshold: its value, or while it is unknown (a
 *    process attached to without glibc's debug information) the bounds
 *    lo <= threshold <= hi that what the process does proves, which meet
 *    again once a free of an mmapped chunk sets it.
 * OS requests made inside an allocator call reach us before the call itself
 * (they are emitted at syscall exit, the call at its return). Their effect
 * on the region map is applied at once, in stream order, but their records
 * wait in a table keyed by call id until the call arrives, so that a call
 * and the requests it caused are delivered together.
 * Every byte figure (live, heap, mmapped, committed, returned, peaks) is
 * the accounting model's (memacct.h), fed each record as it is delivered,
 * in delivery order: the order of a JSON Lines trace, which the report
 * replays through the same model, so the summary and the report agree.
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
 *    reservation (AM_REG_ARENA); its bytes count as the accounting model
 *    says (memacct.h: accessible pages only).
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
#include "memacct.h"
#include "sites.h"
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
	uint64_t cause_call;     /* allocator call that made (or last mremapped) it, 0 = none */
	uint8_t  kind;           /* AM_REG_MMAP / ARENA / PREEXISTING / DIRECT */
};

/* Per traced process. */
struct proc {
	uint32_t pid;
	bool     heap_known;     /* heap_start is known */
	uint64_t heap_start, heap_end; /* the brk heap [start, end) */
	struct region *reg;      /* sorted by start, non-overlapping */
	size_t   n_reg, cap_reg;
	struct am_acct_proc *acct; /* its accounting: live allocations, bytes */
	struct am_thr thr;       /* glibc mmap threshold now (value or bounds) */
	struct am_thr thr_start; /* ... at attach/launch/fork/exec */
	uint64_t thr_changes;    /* threshold records */
	uint32_t *tids;          /* threads seen making a call (open addressing, 0 = empty) */
	size_t   n_tids, cap_tids;
	uint32_t order;          /* first seen first (summary order) */
	bool     glibc, musl;    /* the rules of its allocator (opts.glibc/musl, or what the
	                            tracer said after an exec: am_corr__set_allocator) */
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
	struct am_acct *acct;    /* the byte figures (memacct.h) */
	struct am_summary sum;   /* global counters, completed by finish */
	/* user stacks */
	struct am_stacktab *stacks;
	struct pstk *pstk;       /* stacks waiting for their record, by key */
	size_t   n_pstk, cap_pstk;
	struct am_leak *leaks;   /* last leak report (sum.leaks) */
	struct am_sites *sites;  /* call-site profiles (stacks on, calls traced), or NULL */
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

/* ---------- processes ---------- */

static void proc_release(struct proc *p)
{
	free(p->reg);
	free(p->tids);
	p->reg = NULL;
	p->n_reg = p->cap_reg = 0;
	p->tids = NULL;
	p->n_tids = p->cap_tids = 0;
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
	p->acct = am_acct_proc(c->acct, pid);
	if (!p->acct) {
		free(p);
		return NULL;
	}
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
static void reg_remove(struct am_corr *c, struct proc *p, uint64_t a, uint64_t b)
{
	size_t i = reg_lower(p, a);

	while (i < p->n_reg && p->reg[i].start < b) {
		struct region *r = &p->reg[i];
		bool left = r->start < a, right = r->end > b;

		if (left && right) {
			if (!reg_reserve(c, p, 1)) {
				/* keep the left part only rather than lose the map */
				p->reg[i].end = a;
				return;
			}
			r = &p->reg[i];
			memmove(&p->reg[i + 2], &p->reg[i + 1], (p->n_reg - i - 1) * sizeof(*r));
			p->reg[i + 1] = *r;
			p->reg[i + 1].start = b;
			r->end = a;
			p->n_reg++;
			return;
		} else if (left) {
			r->end = a;
			i++;
		} else if (right) {
			r->start = b;
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

/* Apply a brk to the heap's extent (placement; its bytes: memacct). */
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
	p->heap_end = ret;
}

/* Apply the effect of one OS request to the process's map (where
 * allocations are; the bytes are counted when the record is delivered:
 * deliver_os); set the provisional region kind of the record. */
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
			.cause_call = ev->call_id,
		};
		if (o->direct)
			nr.kind = AM_REG_DIRECT;
		else if (ev->args[2] == PROT_NONE)
			nr.kind = AM_REG_ARENA;
		else
			nr.kind = AM_REG_MMAP;
		o->region_kind = nr.kind;
		reg_add(c, p, &nr);
		break;
	case AM_SYS_MUNMAP:
		a = ev->args[0];
		reg_remove(c, p, a, a + am_page_up(ev->args[1]));
		break;
	case AM_SYS_MREMAP: {
		uint64_t old = ev->args[0], old_len = am_page_up(ev->args[1]);
		uint64_t new_len = am_page_up(ev->args[2]), to = (uint64_t)ev->ret;
		struct region *r = reg_find(p, old);

		nr = (struct region){
			.start = to, .end = to + new_len, .cause_call = ev->call_id,
			.kind = o->direct ? AM_REG_DIRECT : AM_REG_MMAP,
		};
		if (r) {
			nr.kind = r->kind;
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
	default: /* mprotect, madvise: the mapping stays where it was */
		break;
	}
}

/* Counts the bytes of an OS record as it is delivered (memacct.h). */
static void deliver_os(struct am_corr *c, struct proc *p, const struct am_os_rec *o)
{
	am_acct_os(c->acct, p->acct, &o->ev, !o->direct, o->region_kind);
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
		deliver_os(c, p, &o);
		if (c->sites)
			am_sites__os(c->sites, &o);
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

/* One call record being built (on_call and its steps). */
struct call_ctx {
	struct am_corr *c;
	const struct am_call_event *ev;
	struct proc *p;
	struct am_call_rec r;
	struct am_os_rec *os;      /* the OS requests it made, sorted */
	size_t n;
	struct pend *g;            /* where they waited, or NULL */
	struct am_fn_stats *st;
	bool nested, result_valid, was_mmap, moved, first_on_thread;
	struct am_threshold_rec thr;
	uint64_t own_prev, region_len;
};

/* The record's start: decoded arguments, the process's threshold as it
 * stands, the OS requests that waited for it, and its stack. */
static void call_begin(struct call_ctx *x)
{
	struct am_corr *c = x->c;
	const struct am_call_event *ev = x->ev;
	struct proc *p = x->p;

	x->r.ev = *ev;
	x->nested = ev->flags & AM_CALL_NESTED;
	x->result_valid = !(ev->flags & (AM_CALL_MISSED | AM_CALL_NORET));
	decode(&x->r, x->result_valid);
	x->r.from_obj = !x->nested && (ev->flags & AM_CALL_FROM_OBJ);
	if (x->r.from_obj)
		c->sum.own_calls++;
	/* outermost calls only: a nested call is delivered before its outer
	 * call, which may have initialised the thread's tcache */
	x->first_on_thread = !x->nested && !tid_seen(p, ev->tid);
	if (p->glibc) {
		x->r.threshold = p->thr.known ? p->thr.value : 0;
		x->r.thr_lo = p->thr.known ? 0 : p->thr.lo;
		x->r.thr_hi = p->thr.known ? 0 : p->thr.hi;
	} else if (p->musl) {
		x->r.threshold = MUSL_MMAP_THRESHOLD;
	}
	if (c->n_pend && (x->g = pend_find(c, ev->id))) {
		x->os = x->g->recs;
		x->n = x->g->n;
		os_sort(x->os, x->n);
	}
	x->r.ts_end = ev->ts_exit ? ev->ts_exit : x->n ? x->os[x->n - 1].ev.ts_exit : ev->ts_enter;
}

/* The call's stack: its own, else (--stacks=os, or not sampled) that of an
 * OS request it made, without the allocator's inner frames. */
static void call_stack(struct call_ctx *x)
{
	struct am_corr *c = x->c;
	int cut;

	if (c->opts.stack_mode == AM_STACKS_OFF)
		return;
	x->r.stack = pstk_take(c, x->ev->id << 1, &cut);
	for (size_t i = 0; !x->r.stack && i < x->n; i++)
		if (x->os[i].stack && x->os[i].inner) {
			const struct am_stack *s = x->os[i].stack;
			uint32_t k = x->os[i].inner - 1;

			x->r.stack = am_stacktab__intern(c->stacks, s->pid, s->f + k, s->n - k, s->flags);
			x->r.stack_derived = x->r.stack != NULL;
		}
	if (!x->r.stack && !x->nested && c->opts.stack_mode == AM_STACKS_ALL &&
	    (c->opts.sample_every <= 1 || x->ev->id % c->opts.sample_every == 0))
		c->sum.stacks_missing++;
}

/* The input pointer that the call frees (free, a realloc that moved or
 * freed it): its size and region from the live table, unknown frees
 * counted, glibc's threshold moved by a freed mmapped chunk. */
static void call_frees(struct call_ctx *x)
{
	struct am_corr *c = x->c;
	const struct am_call_event *ev = x->ev;
	struct am_call_rec *r = &x->r;
	bool frees_role = am_role_frees(am_fn_role(ev->fn));
	struct am_acct_live fe;
	enum am_acct_free_res how = AM_ACCT_UNKNOWN;
	const struct am_acct_live *pe;

	if (!am_acct_call_frees(am_fn_role(ev->fn), r->ptr_in, x->result_valid, r->ptr_out, r->size))
		return;
	if (!x->nested) {
		how = am_acct_free(c->acct, x->p->acct, r->ptr_in, ev->ts_enter, &fe);
	} else if ((pe = am_acct_find(x->p->acct, r->ptr_in))) {
		fe = *pe;   /* its outer call frees it */
		how = AM_ACCT_FREED;
	}
	if (how == AM_ACCT_DISPLACED) {
		r->size = fe.size;
		r->region = (enum am_region_kind)fe.region;
		if (frees_role)
			x->st->bytes += r->size;
	} else if (how == AM_ACCT_FREED) {
		if (frees_role) {
			r->size = fe.size;
			r->region = (enum am_region_kind)fe.region;
			x->st->bytes += fe.size;
		}
		x->own_prev = fe.call_id;
		x->was_mmap = fe.region == AM_REG_MMAP;
		if (!x->nested) {
			/* still mapped if the munmap was lost; else the munmap tells */
			struct region *reg = reg_find(x->p, r->ptr_in);
			if (reg)
				x->region_len = reg->end - reg->start;
		}
	} else if (!x->nested) {
		r->free_unknown = true;
		if (r->from_obj)
			c->sum.own_unknown_frees++;
		else
			c->sum.unknown_frees++;
	}
	if (!x->nested && x->p->glibc && (frees_role || !r->ptr_out))
		x->moved = glibc_free_mmapped(c, x->p, r, x->os, x->n, x->was_mmap, x->region_len, &x->thr);
}

/* Why glibc or musl served an outermost allocation from where it did. */
static void call_reason(struct call_ctx *x)
{
	struct am_call_rec *r = &x->r;
	struct proc *p = x->p;

	if (p->glibc) {
		struct am_thr *t = &p->thr;
		uint64_t nb = glibc_nb(r);

		thr_observe(p, r, x->os, x->n, x->first_on_thread);
		if (t->known) {
			r->threshold = t->value;
		} else {
			r->threshold = 0;
			r->thr_lo = t->lo;
			r->thr_hi = t->hi;
		}
		if (r->region == AM_REG_HEAP || r->region == AM_REG_ARENA) {
			if (t->known)
				r->reason = nb < t->value ? AM_WHY_UNDER_THRESHOLD : AM_WHY_FIT_TOP;
			else if (nb < t->lo)
				r->reason = AM_WHY_UNDER_THRESHOLD;
			else if (nb >= t->hi)
				r->reason = AM_WHY_FIT_TOP;
		} else if (r->region == AM_REG_MMAP && !(r->ptr_in && x->was_mmap)) {
			r->reason = AM_WHY_OVER_THRESHOLD;
		}
	} else if (p->musl && r->region != AM_REG_HEAP &&
		   !(r->ptr_in && x->was_mmap && r->region == AM_REG_MMAP)) {
		/* (a realloc that kept its own mapping, mremap or not, is not
		 * explained; mallocng never serves from the brk heap: an
		 * allocation there was not its doing) */
		if (musl_request(r) < MUSL_MMAP_THRESHOLD)
			r->reason = AM_WHY_GROUP;
		else if (r->region == AM_REG_MMAP)
			r->reason = AM_WHY_OVER_THRESHOLD;
	}
}

/* The result: where it lives, the live table, the reason, the histogram. */
static void call_result(struct call_ctx *x)
{
	struct am_corr *c = x->c;
	struct am_call_rec *r = &x->r;
	struct am_acct_live *e;
	unsigned b;

	if (!r->ptr_out) {
		if (r->allocates && x->result_valid && !(r->ptr_in && r->size == 0 && r->has_ptr_in))
			x->st->failed++;
		return;
	}
	if (x->p->musl && !x->nested)
		musl_groups(x->p, r, x->os, x->n);
	r->region = place(x->p, r->ptr_out, x->ev->id, r->ptr_in ? x->own_prev : 0);
	if (x->nested)
		return;
	e = am_acct_alloc(c->acct, x->p->acct, r->ptr_out, r->size, r->ts_end);
	if (e) {
		e->call_id = x->ev->id;
		e->stack = r->stack ? r->stack->id : 0;
		e->region = (uint8_t)r->region;
	} else {
		c->oom = true;
	}
	call_reason(x);
	b = hist_bucket(r->size);
	if (r->region == AM_REG_HEAP)
		c->sum.hist_heap[b]++;
	else if (r->region == AM_REG_MMAP)
		c->sum.hist_mmap[b]++;
	else
		c->sum.hist_other[b]++;
}

/* The OS records: their cause, what each new mapping turned out to be, and
 * their bytes (now that their region kinds are final); then the record
 * goes out. */
static void call_deliver(struct call_ctx *x)
{
	struct am_corr *c = x->c;
	struct am_call_rec *r = &x->r;

	for (size_t i = 0; i < x->n; i++) {
		struct am_os_rec *o = &x->os[i];

		o->cause_size = r->size;
		if ((o->ev.sys == AM_SYS_MMAP || o->ev.sys == AM_SYS_MREMAP) &&
		    !sys_err(o->ev.ret) && o->region_kind == AM_REG_MMAP) {
			uint64_t s = (uint64_t)o->ev.ret;
			uint64_t len = am_page_up(o->ev.sys == AM_SYS_MMAP ? o->ev.args[1] : o->ev.args[2]);
			if (!(r->ptr_out >= s && r->ptr_out < s + len))
				o->region_kind = AM_REG_ARENA;
		}
	}
	r->n_os = x->n;
	/* (the JSONL has them before the call: no figure depends on the order
	 * of a call's live change and its OS requests' bytes, they are apart) */
	for (size_t i = 0; i < x->n; i++)
		deliver_os(c, x->p, &x->os[i]);
	if (c->sites)
		am_sites__call(c->sites, r, x->os, x->n);
	if (c->opts.sink.call)
		c->opts.sink.call(c->opts.sink.ctx, r, x->os, x->n);
	if (x->moved && c->opts.sink.threshold)
		c->opts.sink.threshold(c->opts.sink.ctx, &x->thr);
	if (x->g) {
		free(x->g->recs);
		pend_del(c, x->g);
	}
}

static int on_call(struct am_corr *c, const struct am_call_event *ev)
{
	struct call_ctx x = { .c = c, .ev = ev };

	if (ev->fn >= am_fn_count())
		return -1;
	x.p = proc_get(c, ev->pid);
	if (!x.p) {
		c->oom = true;
		return 0;
	}
	call_begin(&x);
	call_stack(&x);
	x.st = &c->sum.fn[ev->fn];
	x.st->calls++;
	x.st->bytes += x.r.size;
	if (x.nested)
		x.st->nested++;
	else if (x.n || ev->n_os)
		x.st->os_calls++;
	call_frees(&x);
	call_result(&x);
	call_deliver(&x);
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
		am_acct_exec(c->acct, p->acct);
		proc_release(p);
		p->heap_known = false;
		p->heap_start = p->heap_end = 0;
		p->thr = p->thr_start = c->thr_exec;
	}
	if (c->sites)
		am_sites__task(c->sites, ev);
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
	c->acct = am_acct_new();
	if (opts->stack_mode != AM_STACKS_OFF && !opts->os_only)
		c->sites = am_sites__new(opts->stack_mode == AM_STACKS_ALL ? opts->sample_every : 1);
	if (!c->stacks || !c->acct || (opts->stack_mode != AM_STACKS_OFF && !opts->os_only && !c->sites)) {
		am_stacktab__free(c->stacks);
		am_acct_free_all(c->acct);
		am_sites__free(c->sites);
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
	am_sites__free(c->sites);
	am_stacktab__free(c->stacks);
	am_acct_free_all(c->acct);
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
		struct am_seed_rec sr = {
			.pid = pid, .start = s, .end = e, .kind = AM_REG_PREEXISTING,
			.accessible = strncmp(perms, "---", 3) != 0,
		};
		if (strcmp(path, "[heap]") == 0) {
			p->heap_known = true;
			p->heap_start = s;
			p->heap_end = e;
			sr.kind = AM_REG_HEAP;
		} else if (!*path || strncmp(path, "[anon:", 6) == 0) {
			struct region r = {
				.start = s, .end = e, .cause_call = SEED_CALL_ID, .kind = AM_REG_PREEXISTING,
			};
			reg_add(c, p, &r);
		} else {
			continue; /* file-backed, [stack], [vdso], [vvar], [vsyscall]: never hold allocations */
		}
		added++;
		/* delivered at once, like a direct OS request */
		am_acct_seed(c->acct, p->acct, sr.start, sr.end, sr.kind, sr.accessible);
		if (c->opts.sink.seed)
			c->opts.sink.seed(c->opts.sink.ctx, &sr);
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

/* The byte figures, from the accounting model. */
static void acct_summary(struct am_corr *c, struct am_summary *s)
{
	const struct am_acct_figs *f = am_acct_figs(c->acct);

	s->live_bytes = f->live;
	s->live_bytes_peak = f->live_peak;
	s->live_count = f->live_count;
	s->heap_bytes = f->heap;
	s->heap_bytes_peak = f->heap_peak;
	s->mmap_bytes = f->mmap;
	s->mmap_bytes_peak = f->mmap_peak;
	s->committed_bytes = f->committed;
	s->committed_bytes_peak = f->committed_peak;
	s->direct_mmap_bytes = f->direct;
	s->returned_munmap = f->returned_munmap;
	s->returned_madvise = f->returned_madvise;
	s->returned_brk = f->returned_brk;
}

/* Completes c->sum: byte figures, live allocations by region, threshold,
 * counters. */
static void fill_summary(struct am_corr *c, const struct am_counters *bpf,
			 uint64_t unattached_probes, uint64_t duration_ns, bool walk_live)
{
	struct am_summary *s = &c->sum;

	struct am_leak_in *li = NULL;
	size_t n_li = 0;

	acct_summary(c, s);
	if (!walk_live)
		goto counters;
	memset(s->live_by_region_count, 0, sizeof(s->live_by_region_count));
	memset(s->live_by_region_bytes, 0, sizeof(s->live_by_region_bytes));
	if (c->opts.stack_mode != AM_STACKS_OFF && c->sum.live_count) {
		li = malloc(c->sum.live_count * sizeof(*li));
		if (!li)
			c->oom = true; /* no leak groups */
	}
	for (size_t i = 0; i < c->cap_procs; i++) {
		struct proc *p = c->procs[i];
		const struct am_acct_live *e;
		size_t j = 0;

		if (!p)
			continue;
		while ((e = am_acct_next(p->acct, &j))) {
			if (e->region >= AM_REG__COUNT)
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
		} else if (k < 0) {
			c->oom = true;
		}
		free(li);
	}
	s->sites = c->sites ? am_sites__report(c->sites) : NULL;
counters:
	s->oom = c->oom || am_acct_oom(c->acct);
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
	out->sites = NULL;
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
			for (size_t i = 0; i < n; i++) {
				struct proc *p = proc_get(c, all[i].ev.pid);

				if (p)
					deliver_os(c, p, &all[i]);
				else
					c->oom = true;
				if (c->opts.sink.os)
					c->opts.sink.os(c->opts.sink.ctx, &all[i]);
			}
			free(all);
		} else {
			c->oom = true; /* they are dropped */
		}
	}

	fill_summary(c, bpf, unattached_probes, duration_ns, true);
	if (c->opts.sink.summary)
		c->opts.sink.summary(c->opts.sink.ctx, s);
	if (out)
		*out = *s;
}

const struct am_sites_report *am_corr__sites(struct am_corr *c)
{
	return c->sites ? am_sites__report(c->sites) : NULL;
}
