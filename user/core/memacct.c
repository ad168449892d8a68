// SPDX-License-Identifier: GPL-2.0
/* memacct.c - the accounting model of memacct.h (the rules are there).
 *
 * Per process:
 *  - the range map: a sorted array of non-overlapping page ranges, each
 *    with a kind and an accessible bit. Neighbours with the same kind and
 *    bit are merged, so a mapping re-protected piece by piece stays a few
 *    entries. Binary search to find, memmove to insert or remove: a process
 *    has hundreds of mappings, not millions, and only memory syscalls touch
 *    it;
 *  - the brk heap as one range [heap_start, heap_end);
 *  - the live allocations: an open-addressing hash (linear probing,
 *    backward-shift deletion, so no tombstones pile up under malloc/free
 *    churn) from pointer to struct am_acct_live.
 * Each process keeps its share of the byte counters, so that exec can take
 * it off the totals. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "memacct.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* One page range of a process's map. */
struct seg {
	uint64_t start, end;     /* [start, end), page aligned */
	uint8_t  kind;           /* enum am_region_kind */
	bool     acc;            /* accessible: protection is not PROT_NONE */
};

struct am_acct_proc {
	uint32_t pid;
	bool     heap_known;
	uint64_t heap_start, heap_end;
	struct seg *seg;         /* sorted by start, non-overlapping */
	size_t   n_seg, cap_seg;
	struct am_acct_live *live; /* cap_live slots, ptr 0 = empty */
	size_t   cap_live, n_live;
	unsigned shift;          /* 64 - log2(cap_live) for the multiplicative hash */
	/* this process's share of the totals */
	uint64_t live_bytes, heap_bytes, mmap_bytes, direct_bytes;
};

struct am_acct {
	struct am_acct_figs f;
	struct am_acct_proc **procs; /* open addressing on pid, cap_procs slots */
	size_t   n_procs, cap_procs;
	struct am_acct_proc *last;   /* most operations come from one process */
	bool     oom;
};

static inline uint64_t hash64(uint64_t k)
{
	return k * 0x9E3779B97F4A7C15ULL;
}

static inline bool sys_err(int64_t ret)
{
	return ret < 0 && ret >= -4095;
}

static inline uint64_t umin(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t umax(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The peaks, after each whole operation. */
static void settle(struct am_acct *a)
{
	struct am_acct_figs *f = &a->f;

	f->committed = f->heap + f->mmap;
	f->live_peak = umax(f->live_peak, f->live);
	f->heap_peak = umax(f->heap_peak, f->heap);
	f->mmap_peak = umax(f->mmap_peak, f->mmap);
	f->committed_peak = umax(f->committed_peak, f->committed);
}

/* ---------- processes ---------- */

struct am_acct *am_acct_new(void)
{
	return calloc(1, sizeof(struct am_acct));
}

static void proc_clear(struct am_acct_proc *p)
{
	free(p->seg);
	free(p->live);
	p->seg = NULL;
	p->live = NULL;
	p->n_seg = p->cap_seg = p->cap_live = p->n_live = 0;
	p->shift = 0;
}

void am_acct_free_all(struct am_acct *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->cap_procs; i++) {
		if (!a->procs[i])
			continue;
		proc_clear(a->procs[i]);
		free(a->procs[i]);
	}
	free(a->procs);
	free(a);
}

const struct am_acct_figs *am_acct_figs(const struct am_acct *a)
{
	return &a->f;
}

bool am_acct_oom(const struct am_acct *a)
{
	return a->oom;
}

uint32_t am_acct_pid(const struct am_acct_proc *p)
{
	return p->pid;
}

static bool procs_grow(struct am_acct *a)
{
	size_t ncap = a->cap_procs ? a->cap_procs * 2 : 16;
	struct am_acct_proc **np = calloc(ncap, sizeof(*np));

	if (!np)
		return false;
	for (size_t k = 0; k < a->cap_procs; k++) {
		if (!a->procs[k])
			continue;
		size_t j = hash64(a->procs[k]->pid) >> 40 & (ncap - 1);
		while (np[j])
			j = (j + 1) & (ncap - 1);
		np[j] = a->procs[k];
	}
	free(a->procs);
	a->procs = np;
	a->cap_procs = ncap;
	return true;
}

struct am_acct_proc *am_acct_proc(struct am_acct *a, uint32_t pid)
{
	size_t mask, i;
	struct am_acct_proc *p;

	if (a->last && a->last->pid == pid)
		return a->last;
	if ((a->n_procs + 1) * 2 > a->cap_procs && !procs_grow(a)) {
		a->oom = true;
		return NULL;
	}
	mask = a->cap_procs - 1;
	for (i = hash64(pid) >> 40 & mask; a->procs[i]; i = (i + 1) & mask)
		if (a->procs[i]->pid == pid)
			return a->last = a->procs[i];
	p = calloc(1, sizeof(*p));
	if (!p) {
		a->oom = true;
		return NULL;
	}
	p->pid = pid;
	a->procs[i] = p;
	a->n_procs++;
	return a->last = p;
}

/* ---------- byte counters ---------- */

/* Adds (sign +1) or removes (-1) n accessible bytes of a range of kind. */
static void count(struct am_acct *a, struct am_acct_proc *p, uint8_t kind, uint64_t n, int sign)
{
	uint64_t *mine, *total;

	if (kind == AM_REG_MMAP || kind == AM_REG_ARENA) {
		mine = &p->mmap_bytes;
		total = &a->f.mmap;
	} else if (kind == AM_REG_DIRECT) {
		mine = &p->direct_bytes;
		total = &a->f.direct;
	} else {
		return;
	}
	if (sign > 0) {
		*mine += n;
		*total += n;
	} else {
		*mine -= n;
		*total -= n;
	}
}

static void set_heap(struct am_acct *a, struct am_acct_proc *p, uint64_t size)
{
	a->f.heap = a->f.heap - p->heap_bytes + size;
	p->heap_bytes = size;
}

/* ---------- the range map ---------- */

/* Index of the first range with end > addr (n_seg if none). */
static size_t seg_lower(const struct am_acct_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n_seg;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->seg[mid].end > addr)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static bool seg_reserve(struct am_acct *a, struct am_acct_proc *p, size_t extra)
{
	size_t ncap;
	struct seg *ns;

	if (p->n_seg + extra <= p->cap_seg)
		return true;
	ncap = p->cap_seg ? p->cap_seg * 2 : 32;
	while (ncap < p->n_seg + extra)
		ncap *= 2;
	ns = realloc(p->seg, ncap * sizeof(*ns));
	if (!ns) {
		a->oom = true;
		return false;
	}
	p->seg = ns;
	p->cap_seg = ncap;
	return true;
}

static bool seg_same(const struct seg *x, const struct seg *y)
{
	return x->end == y->start && x->kind == y->kind && x->acc == y->acc;
}

/* Merges equal neighbours among the ranges touching [lo, hi]. */
static void seg_merge(struct am_acct_proc *p, uint64_t lo, uint64_t hi)
{
	size_t i = seg_lower(p, lo);

	if (i > 0)
		i--;
	while (i + 1 < p->n_seg && p->seg[i].start <= hi) {
		if (seg_same(&p->seg[i], &p->seg[i + 1])) {
			p->seg[i].end = p->seg[i + 1].end;
			memmove(&p->seg[i + 1], &p->seg[i + 2], (p->n_seg - i - 2) * sizeof(*p->seg));
			p->n_seg--;
		} else {
			i++;
		}
	}
}

/* Takes [lo, hi) out of the map; returns the accessible bytes it held. */
static uint64_t seg_cut(struct am_acct *a, struct am_acct_proc *p, uint64_t lo, uint64_t hi)
{
	uint64_t removed = 0;
	size_t i = seg_lower(p, lo);

	while (i < p->n_seg && p->seg[i].start < hi) {
		struct seg *s = &p->seg[i];
		uint64_t ov = umin(s->end, hi) - umax(s->start, lo);

		if (s->acc) {
			removed += ov;
			count(a, p, s->kind, ov, -1);
		}
		if (s->start < lo && s->end > hi) {
			if (!seg_reserve(a, p, 1)) {
				/* keep the left part only rather than lose the map */
				s = &p->seg[i];
				if (s->acc)
					count(a, p, s->kind, s->end - hi, -1);
				s->end = lo;
				return removed;
			}
			s = &p->seg[i];
			memmove(&p->seg[i + 2], &p->seg[i + 1], (p->n_seg - i - 1) * sizeof(*s));
			p->seg[i + 1] = *s;
			p->seg[i + 1].start = hi;
			s->end = lo;
			p->n_seg++;
			return removed;
		} else if (s->start < lo) {
			s->end = lo;
			i++;
		} else if (s->end > hi) {
			s->start = hi;
			return removed;
		} else {
			memmove(s, s + 1, (p->n_seg - i - 1) * sizeof(*s));
			p->n_seg--;
		}
	}
	return removed;
}

/* Puts [lo, hi) in the map, which must hold nothing there (seg_cut). */
static void seg_put(struct am_acct *a, struct am_acct_proc *p, uint64_t lo, uint64_t hi,
		    uint8_t kind, bool acc)
{
	size_t i;

	if (hi <= lo || !seg_reserve(a, p, 1))
		return;
	i = seg_lower(p, lo);
	memmove(&p->seg[i + 1], &p->seg[i], (p->n_seg - i) * sizeof(*p->seg));
	p->seg[i] = (struct seg){ .start = lo, .end = hi, .kind = kind, .acc = acc };
	p->n_seg++;
	if (acc)
		count(a, p, kind, hi - lo, +1);
	seg_merge(p, lo, hi);
}

/* mprotect: the pages of [lo, hi) in the map become accessible or not. */
static void seg_protect(struct am_acct *a, struct am_acct_proc *p, uint64_t lo, uint64_t hi, bool acc)
{
	size_t i = seg_lower(p, lo);

	while (i < p->n_seg && p->seg[i].start < hi) {
		struct seg s = p->seg[i], part[3];
		size_t n = 0;
		uint64_t m0 = umax(s.start, lo), m1 = umin(s.end, hi);

		if (s.acc == acc) {
			i++;
			continue;
		}
		if (s.start < m0)
			part[n++] = (struct seg){ s.start, m0, s.kind, s.acc };
		part[n++] = (struct seg){ m0, m1, s.kind, acc };
		if (m1 < s.end)
			part[n++] = (struct seg){ m1, s.end, s.kind, s.acc };
		if (!seg_reserve(a, p, n - 1)) {
			i++;
			continue;
		}
		count(a, p, s.kind, m1 - m0, acc ? +1 : -1);
		memmove(&p->seg[i + n], &p->seg[i + 1], (p->n_seg - i - 1) * sizeof(s));
		memcpy(&p->seg[i], part, n * sizeof(s));
		p->n_seg += n - 1;
		i += n;
	}
	seg_merge(p, lo, hi);
}

uint64_t am_acct_accessible(const struct am_acct_proc *p, uint64_t start, uint64_t end)
{
	uint64_t n = 0;

	if (end <= start)
		return 0;
	for (size_t i = seg_lower(p, start); i < p->n_seg && p->seg[i].start < end; i++)
		if (p->seg[i].acc)
			n += umin(p->seg[i].end, end) - umax(p->seg[i].start, start);
	return n;
}

size_t am_acct_accessible_ranges(const struct am_acct_proc *p, uint64_t start, uint64_t end,
				 uint64_t (*out)[2], size_t max)
{
	size_t n = 0;
	uint64_t from = 0, to = 0;   /* the range being merged, to == 0: none */

	for (size_t i = end > start ? seg_lower(p, start) : p->n_seg; i < p->n_seg && p->seg[i].start < end; i++) {
		uint64_t s = umax(p->seg[i].start, start), e = umin(p->seg[i].end, end);

		if (!p->seg[i].acc)
			continue;
		if (to && s == to) {
			to = e;
			continue;
		}
		if (to && n < max)
			out[n][0] = from, out[n][1] = to;
		n += to != 0;
		from = s, to = e;
	}
	if (to && n < max)
		out[n][0] = from, out[n][1] = to;
	return n + (to != 0);
}

/* mremap: the pages of the old range move to the new one, keeping their
 * protection; growth takes the protection of the old range's last page
 * (the kernel extends that mapping). Pages of the old range not in the map
 * were mapped all the same (the call succeeded): accessible. */
static void os_mremap(struct am_acct *a, struct am_acct_proc *p, const struct am_os_event *ev,
		      bool by_alloc, enum am_region_kind kind)
{
	uint64_t old = ev->args[0], old_len = am_page_up(ev->args[1]);
	uint64_t new_len = am_page_up(ev->args[2]), to = (uint64_t)ev->ret;
	size_t i = seg_lower(p, old), n = 0;
	struct seg *piece = NULL;
	bool last_acc = true;

	if (old + old_len < old || to + new_len < to)
		return; /* no such ranges: a malformed record */

	/* the old range's pieces, as offsets from old */
	for (size_t j = i; j < p->n_seg && p->seg[j].start < old + old_len; j++)
		n++;
	if (n && !(piece = malloc(n * sizeof(*piece)))) {
		a->oom = true;
		n = 0;
	}
	for (size_t k = 0; k < n; k++) {
		const struct seg *s = &p->seg[i + k];

		piece[k] = (struct seg){ umax(s->start, old) - old, umin(s->end, old + old_len) - old,
					 s->kind, s->acc };
		if (piece[k].end == old_len)
			last_acc = s->acc;
	}
	if (kind == AM_REG_UNKNOWN) {
		kind = n ? (enum am_region_kind)piece[0].kind : by_alloc ? AM_REG_MMAP : AM_REG_DIRECT;
		if (kind == AM_REG_PREEXISTING && by_alloc)
			kind = AM_REG_MMAP; /* a chunk mmapped before attach, realloc'd now */
	}
	if (old_len && !(ev->args[3] & MREMAP_DONTUNMAP))
		seg_cut(a, p, old, old + old_len);
	seg_cut(a, p, to, to + new_len);
	/* the new range, left to right: known pieces, the gaps between them, growth */
	uint64_t off = 0;
	for (size_t k = 0; k < n && off < new_len; k++) {
		uint64_t s = umin(piece[k].start, new_len), e = umin(piece[k].end, new_len);

		if (off < s)
			seg_put(a, p, to + off, to + s, kind, true);
		seg_put(a, p, to + s, to + e, kind, piece[k].acc);
		off = e;
	}
	if (off < umin(old_len, new_len))
		seg_put(a, p, to + off, to + umin(old_len, new_len), kind, true);
	if (new_len > old_len)
		seg_put(a, p, to + umax(off, old_len), to + new_len, kind, last_acc);
	free(piece);
}

static void os_brk(struct am_acct *a, struct am_acct_proc *p, uint64_t ret)
{
	if (!p->heap_known) {
		/* brk(0) tells where the heap starts; a first brk(addr) seen
		 * mid-run only tells where it ends now */
		p->heap_known = true;
		p->heap_start = p->heap_end = ret;
		return;
	}
	if (ret < p->heap_start)
		p->heap_start = ret;
	if (ret < p->heap_end)
		a->f.returned_brk += p->heap_end - ret;
	p->heap_end = ret;
	set_heap(a, p, p->heap_end - p->heap_start);
}

void am_acct_os(struct am_acct *a, struct am_acct_proc *p, const struct am_os_event *ev,
		bool by_alloc, enum am_region_kind kind)
{
	uint64_t addr = ev->args[0], len = am_page_up(ev->args[1]), removed;

	if (!p)
		return;
	if (ev->sys == AM_SYS_BRK) {
		os_brk(a, p, (uint64_t)ev->ret);
		settle(a);
		return;
	}
	if (sys_err(ev->ret))
		return;
	if (ev->sys == AM_SYS_MMAP)
		addr = (uint64_t)ev->ret;
	if (addr + len < addr)
		return; /* a range past the end of the address space: a malformed record */
	switch (ev->sys) {
	case AM_SYS_MMAP:
		if (kind == AM_REG_HEAP)
			break;  /* inside the brk heap (mallocng's guard page): not a mapping of its own */
		seg_cut(a, p, addr, addr + len);  /* MAP_FIXED replaces what was there */
		seg_put(a, p, addr, addr + len, kind, ev->args[2] != PROT_NONE);
		break;
	case AM_SYS_MUNMAP:
		removed = seg_cut(a, p, addr, addr + len);
		if (by_alloc)
			a->f.returned_munmap += removed;
		break;
	case AM_SYS_MREMAP:
		os_mremap(a, p, ev, by_alloc, kind);
		break;
	case AM_SYS_MPROTECT:
		seg_protect(a, p, addr, addr + len, ev->args[2] != PROT_NONE);
		break;
	case AM_SYS_MADVISE:
		if (by_alloc && (ev->args[2] == MADV_DONTNEED || ev->args[2] == 8 /* MADV_FREE */ ||
				 ev->args[2] == 9 /* MADV_REMOVE */))
			a->f.returned_madvise += len;
		break;
	default:
		break;
	}
	settle(a);
}

void am_acct_seed(struct am_acct *a, struct am_acct_proc *p, uint64_t start, uint64_t end,
		  enum am_region_kind kind, bool accessible)
{
	if (!p || end < start)
		return;
	if (kind == AM_REG_HEAP) {
		p->heap_known = true;
		p->heap_start = start;
		p->heap_end = end;
		set_heap(a, p, end - start);
	} else {
		seg_cut(a, p, start, end);
		seg_put(a, p, start, end, kind, accessible);
	}
	settle(a);
}

void am_acct_exec(struct am_acct *a, struct am_acct_proc *p)
{
	if (!p)
		return;
	a->f.live -= p->live_bytes;
	a->f.live_count -= p->n_live;
	a->f.mmap -= p->mmap_bytes;
	a->f.direct -= p->direct_bytes;
	set_heap(a, p, 0);
	proc_clear(p);
	p->live_bytes = p->mmap_bytes = p->direct_bytes = 0;
	p->heap_known = false;
	p->heap_start = p->heap_end = 0;
	settle(a);
}

/* ---------- live allocations ---------- */

static bool live_grow(struct am_acct_proc *p)
{
	size_t ncap = p->cap_live ? p->cap_live * 2 : 1024;
	struct am_acct_live *ne = calloc(ncap, sizeof(*ne));
	unsigned nshift = 64 - (unsigned)__builtin_ctzll(ncap);
	size_t mask = ncap - 1;

	if (!ne)
		return false;
	for (size_t i = 0; i < p->cap_live; i++) {
		if (!p->live[i].ptr)
			continue;
		size_t j = hash64(p->live[i].ptr) >> nshift;
		while (ne[j].ptr)
			j = (j + 1) & mask;
		ne[j] = p->live[i];
	}
	free(p->live);
	p->live = ne;
	p->cap_live = ncap;
	p->shift = nshift;
	return true;
}

struct am_acct_live *am_acct_find(struct am_acct_proc *p, uint64_t ptr)
{
	size_t mask, i;

	if (!p || !p->cap_live || !ptr)
		return NULL;
	mask = p->cap_live - 1;
	for (i = hash64(ptr) >> p->shift; p->live[i].ptr; i = (i + 1) & mask)
		if (p->live[i].ptr == ptr)
			return &p->live[i];
	return NULL;
}

/* Removes the entry in slot e, shifting later members of its cluster back
 * so that probe chains stay intact (no tombstones). */
static void live_del(struct am_acct_proc *p, struct am_acct_live *e)
{
	size_t mask = p->cap_live - 1;
	size_t i = (size_t)(e - p->live), j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!p->live[j].ptr)
			break;
		size_t home = hash64(p->live[j].ptr) >> p->shift;
		/* move j into the hole at i unless its home lies in (i, j] */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			p->live[i] = p->live[j];
			i = j;
		}
	}
	p->live[i].ptr = 0;
	p->n_live--;
}

bool am_acct_call_frees(enum am_role role, uint64_t ptr_in, bool result_valid,
			uint64_t ptr_out, uint64_t size)
{
	if (!ptr_in)
		return false;
	if (am_role_frees(role))
		return true;
	if (role != AM_ROLE_REALLOC && role != AM_ROLE_REALLOCARRAY)
		return false;
	return result_valid && (ptr_out != 0 || size == 0);
}

enum am_acct_free_res am_acct_free(struct am_acct *a, struct am_acct_proc *p, uint64_t ptr,
				   uint64_t ts_enter, struct am_acct_live *out)
{
	struct am_acct_live *e = am_acct_find(p, ptr);

	if (!e)
		return AM_ACCT_UNKNOWN;
	/* Events are emitted at returns: another thread's malloc can get the
	 * chunk a free released and return before the free does. A free that
	 * began before the call that returned this pointer ended cannot be
	 * freeing what that call returned: it freed the incarnation that
	 * call displaced. */
	if (e->ts > ts_enter) {
		if (!e->has_prev)
			return AM_ACCT_UNKNOWN;
		*out = *e;
		out->size = e->prev_size;
		out->region = e->prev_region;
		e->has_prev = false;
		return AM_ACCT_DISPLACED;
	}
	*out = *e;
	p->live_bytes -= e->size;
	a->f.live -= e->size;
	a->f.live_count--;
	live_del(p, e);
	settle(a);
	return AM_ACCT_FREED;
}

struct am_acct_live *am_acct_alloc(struct am_acct *a, struct am_acct_proc *p, uint64_t ptr,
				   uint64_t size, uint64_t ts_end)
{
	struct am_acct_live *e;
	size_t mask, i;

	if (!p || !ptr)
		return NULL;
	if ((p->n_live + 1) * 4 > p->cap_live * 3 && !live_grow(p)) {
		a->oom = true;
		return NULL;
	}
	mask = p->cap_live - 1;
	for (i = hash64(ptr) >> p->shift; p->live[i].ptr && p->live[i].ptr != ptr; i = (i + 1) & mask)
		;
	e = &p->live[i];
	if (e->ptr) {
		/* never seen freed (yet: see am_acct_free) */
		p->live_bytes -= e->size;
		a->f.live -= e->size;
		a->f.live_count--;
		e->prev_size = e->size;
		e->prev_region = e->region;
		e->has_prev = true;
	} else {
		*e = (struct am_acct_live){ .ptr = ptr };
		p->n_live++;
	}
	e->size = size;
	e->ts = ts_end;
	e->call_id = 0;
	e->stack = 0;
	e->region = AM_REG_UNKNOWN;
	p->live_bytes += size;
	a->f.live += size;
	a->f.live_count++;
	settle(a);
	return e;
}

const struct am_acct_live *am_acct_next(const struct am_acct_proc *p, size_t *i)
{
	for (; *i < p->cap_live; (*i)++)
		if (p->live[*i].ptr)
			return &p->live[(*i)++];
	return NULL;
}
