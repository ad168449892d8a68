// SPDX-License-Identifier: GPL-2.0
/* report_model.c - the streaming model of report_model.h.
 *
 * Why it looks the way it does:
 *  - A million-event trace must become a report a browser opens in seconds,
 *    so nothing here grows with the number of events: the timeline is
 *    RM_NBUCKETS buckets whose width doubles (pairs merged) whenever the
 *    trace outgrows them; the threshold view keeps the first RM_POINT_CAP
 *    points and always a size x time count grid; allocation lifetimes are a
 *    reservoir sample (Algorithm R with a fixed-seed xorshift, so a report is
 *    reproducible); unmapped regions past RM_DEAD_REGION_CAP are recycled.
 *    What does grow is what the program itself holds: live allocations and
 *    mapped regions.
 *  - Every byte figure (heap, mmapped, live, their peaks, what was returned)
 *    is the accounting model's (memacct.h): each record is replayed through
 *    it in file order, which is the order the tracer's correlator delivered
 *    them to its own copy of that model. With every call in the trace (-v),
 *    the figures equal the summary's exactly (tests/e2e/t_accounting.py).
 *    What this file keeps besides is for the pictures: region extents and
 *    lifetimes, allocation lifetimes, the buckets of the timeline.
 *  - Records arrive in time order, a call at its entry before the OS
 *    requests it made (older traces: a call after them); a call applies at
 *    its return, once its requests are in (defer_call): times applied to
 *    the timeline are clamped to be non-decreasing.
 *  - The flame graph is a frame tree, not a list of stacks: a stack costs
 *    one hash probe per frame and nothing new once its path exists, so a
 *    million OS requests with a few hundred distinct paths stay a few
 *    hundred nodes. Past RM_FLAME_CAP nodes a new path stops at its deepest
 *    existing node, which keeps the weight (the page shows it as self).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "fmt.h"
#include "report_model.h"

#define RM_SYS_NAME_(e, name, ret_addr, color, args) [RM_SYS_##e] = name,
const char *const rm_sys_names[RM_NSYS] = { AM_SYSCALL_TABLE(RM_SYS_NAME_) [RM_SYS_OTHER] = "other" };
#undef RM_SYS_NAME_
const char *const rm_kind_names[4] = { "heap", "mmap", "arena", "other" };
static const char *const synth_labels[3] = { "preexisting", "unknown", "direct" };

#define PAGE ((uint64_t)AM_PAGE_SIZE)
#define PROT_READ_ 1ull

const char *rm_fn_name(int fn)
{
	return fn >= 0 && fn < am_fn_count() ? am_fn_name(fn) : "other";
}

int rm_fn_index(const char *name, const char *role)
{
	int fn;

	if (!name)
		return -1;
	fn = am_fn_by_name(name);
	if (fn < 0 && role)
		fn = am_fn_register(name, role);
	return fn >= 0 ? fn : RM_NFN - 1;
}

int rm_sys_index(const char *name)
{
	int sys = am_sys_by_name(name);

	return sys >= 0 ? sys : RM_SYS_OTHER;
}

static uint64_t page_up(uint64_t n) { return (n + PAGE - 1) & ~(PAGE - 1); }
static uint64_t umin(uint64_t a, uint64_t b) { return a < b ? a : b; }
static uint64_t umax(uint64_t a, uint64_t b) { return a > b ? a : b; }
static void peak(uint64_t *p, uint64_t v) { if (v > *p) *p = v; }

int rm_init(struct rm_model *m)
{
	memset(m, 0, sizeof(*m));
	m->bw = 1000;
	m->gw = 1000;
	m->fcw = 1000;
	m->heap_reg = -1;
	m->synth[0] = m->synth[1] = m->synth[2] = -1;
	m->rng = 0x9e3779b97f4a7c15ull;
	m->grid = calloc((size_t)RM_GRID_COLS * RM_GRID_ROWS * RM_NSERVED, sizeof(*m->grid));
	m->points = malloc(RM_POINT_CAP * sizeof(*m->points));
	m->sample = malloc(RM_ALLOC_CAP * sizeof(*m->sample));
	m->hcap = 1024;
	m->h = calloc(m->hcap, sizeof(*m->h));
	m->acct = am_acct_new();
	m->fcol = calloc((size_t)RM_FN_COLS * RM_NFN, sizeof(*m->fcol));
	if (!m->grid || !m->points || !m->sample || !m->h || !m->acct || !m->fcol) {
		rm_free(m);
		return -1;
	}
	return 0;
}

void rm_free(struct rm_model *m)
{
	if (!m)
		return;
	free(m->grid);
	free(m->points);
	free(m->sample);
	free(m->h);
	free(m->reg);
	free(m->idx);
	free(m->freeslots);
	free(m->th);
	for (size_t i = 0; i < m->fl.nstr; i++)
		free(m->fl.str[i]);
	free(m->fl.str);
	free(m->fl.shash);
	free(m->fl.chash);
	free(m->fl.n);
	free(m->fl.ends);
	am_acct_free_all(m->acct);
	free(m->dfr);
	free(m->rss);
	free(m->fcol);
	memset(m, 0, sizeof(*m));
}

uint64_t rm_rel(const struct rm_model *m, uint64_t ts)
{
	return ts >= m->t0 ? ts - m->t0 : 0;
}

size_t rm_nbuckets(const struct rm_model *m)
{
	size_t n = (size_t)(m->t_max / m->bw) + 1;
	return n < RM_NBUCKETS ? n : RM_NBUCKETS;
}

/* Row 4*e + q holds sizes in [2^e * (1 + q/4), 2^e * (1 + (q+1)/4)): four
 * linear steps per octave, integer-only (no libm). */
int rm_size_row(uint64_t size)
{
	if (size <= 1)
		return 0;
	int e = 63 - __builtin_clzll(size);
	int q = e >= 2 ? (int)((size >> (e - 2)) & 3) : e == 1 ? (int)((size & 1) * 2) : 0;
	int r = 4 * e + q;
	return r >= RM_GRID_ROWS ? RM_GRID_ROWS - 1 : r;
}

static uint64_t xorshift(struct rm_model *m)
{
	uint64_t x = m->rng;
	x ^= x << 13; x ^= x >> 7; x ^= x << 17;
	return m->rng = x;
}

/* ---- timeline ---- */

static void bucket_merge(struct rm_bucket *d, const struct rm_bucket *a, const struct rm_bucket *b)
{
	if (!a->has) { *d = *b; return; }
	*d = *a;
	if (!b->has)
		return;
	for (int k = 0; k < 3; k++) {
		d->min[k] = umin(a->min[k], b->min[k]);
		d->max[k] = umax(a->max[k], b->max[k]);
		d->last[k] = b->last[k];
	}
}

/* Records the current heap/mmapped/live values (the accounting model's)
 * at relative time t. */
static void tick(struct rm_model *m, uint64_t t)
{
	const struct am_acct_figs *f = am_acct_figs(m->acct);

	if (t < m->t_last)
		t = m->t_last;
	m->t_last = t;
	m->heap = f->heap;
	m->mmapped = f->mmap;
	m->live = f->live;
	m->heap_peak = f->heap_peak;
	m->mmapped_peak = f->mmap_peak;
	if (f->live_peak > m->live_peak) {
		m->live_peak = f->live_peak;
		m->live_peak_t = t;
	}
	if (am_acct_oom(m->acct))
		m->oom = true;

	uint64_t v[3] = { m->heap, m->mmapped, m->live };
	peak(&m->t_max, t);
	while (t / m->bw >= RM_NBUCKETS) {
		for (size_t i = 0; i < RM_NBUCKETS / 2; i++) {
			struct rm_bucket tmp;
			bucket_merge(&tmp, &m->b[2 * i], &m->b[2 * i + 1]);
			m->b[i] = tmp;
		}
		memset(&m->b[RM_NBUCKETS / 2], 0, sizeof(m->b[0]) * (RM_NBUCKETS / 2));
		m->bw *= 2;
	}
	struct rm_bucket *b = &m->b[t / m->bw];
	for (int k = 0; k < 3; k++) {
		if (!b->has || v[k] < b->min[k]) b->min[k] = v[k];
		if (!b->has || v[k] > b->max[k]) b->max[k] = v[k];
		b->last[k] = v[k];
	}
	b->has = true;
}

/* ---- threshold view ---- */

static int served_of(const char *label)
{
	if (!label) return 3;
	if (!strcmp(label, "heap")) return 0;
	if (!strcmp(label, "mmap")) return 1;
	if (!strcmp(label, "arena")) return 2;
	return 3;
}

static void add_point(struct rm_model *m, uint64_t t, uint64_t size, int served)
{
	if (m->npoints < RM_POINT_CAP)
		m->points[m->npoints] = (struct rm_point){ t, size, (uint8_t)served };
	m->npoints++;
	while (t / m->gw >= RM_GRID_COLS) {
		size_t row = (size_t)RM_GRID_ROWS * RM_NSERVED;
		for (size_t c = 0; c < RM_GRID_COLS / 2; c++)
			for (size_t k = 0; k < row; k++)
				m->grid[c * row + k] = m->grid[2 * c * row + k] + m->grid[(2 * c + 1) * row + k];
		memset(m->grid + (RM_GRID_COLS / 2) * row, 0, sizeof(*m->grid) * row * (RM_GRID_COLS / 2));
		m->gw *= 2;
	}
	size_t c = t / m->gw;
	uint32_t *cell = &m->grid[(c * RM_GRID_ROWS + rm_size_row(size)) * RM_NSERVED + served];
	if (*cell != UINT32_MAX)
		(*cell)++;
}

/* ---- regions ---- */

static int new_region(struct rm_model *m, int kind, uint64_t start, uint64_t end, uint64_t t)
{
	int i;

	if (m->nfree) {
		i = m->freeslots[--m->nfree];
		uint32_t gen = m->reg[i].gen + 1;
		memset(&m->reg[i], 0, sizeof(m->reg[i]));
		m->reg[i].gen = gen;
	} else {
		if (m->nreg == m->capreg) {
			size_t nc = m->capreg ? m->capreg * 2 : 64;
			struct rm_region *n = realloc(m->reg, nc * sizeof(*n));
			if (!n) {
				m->oom = true;
				return -1;
			}
			m->reg = n;
			m->capreg = nc;
		}
		i = (int)m->nreg++;
		memset(&m->reg[i], 0, sizeof(m->reg[i]));
	}
	struct rm_region *g = &m->reg[i];
	g->kind = kind;
	g->start = start;
	g->end = end;
	g->t_start = t;
	g->t_end = UINT64_MAX;
	g->pid = m->cur_pid;
	g->cause_fn = -1;
	g->mapped = true;
	m->regions_total++;
	m->regions_made[kind]++;
	return i;
}

/* Index of the first idx[] entry whose region starts after addr. */
static size_t idx_upper(const struct rm_model *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nidx;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->reg[m->idx[mid]].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int idx_insert(struct rm_model *m, int ri)
{
	if (m->nidx == m->capidx) {
		size_t nc = m->capidx ? m->capidx * 2 : 64;
		int *n = realloc(m->idx, nc * sizeof(*n));
		if (!n) {
			m->oom = true;
			return -1;
		}
		m->idx = n;
		m->capidx = nc;
	}
	size_t pos = idx_upper(m, m->reg[ri].start);
	memmove(m->idx + pos + 1, m->idx + pos, (m->nidx - pos) * sizeof(*m->idx));
	m->idx[pos] = ri;
	m->nidx++;
	return 0;
}

static void idx_remove(struct rm_model *m, int ri)
{
	for (size_t i = 0; i < m->nidx; i++) {
		if (m->idx[i] == ri) {
			memmove(m->idx + i, m->idx + i + 1, (m->nidx - i - 1) * sizeof(*m->idx));
			m->nidx--;
			return;
		}
	}
}

/* Mapped non-heap region containing addr, or -1. */
static int region_at(const struct rm_model *m, uint64_t addr)
{
	size_t u = idx_upper(m, addr);
	if (u == 0)
		return -1;
	int ri = m->idx[u - 1];
	return addr < m->reg[ri].end ? ri : -1;
}

static void region_dies(struct rm_model *m, int ri, uint64_t t)
{
	struct rm_region *g = &m->reg[ri];

	idx_remove(m, ri);
	g->mapped = false;
	g->t_end = t;
	if (m->ndead_kept < RM_DEAD_REGION_CAP) {
		m->ndead_kept++;
		return;
	}
	if (m->nfree == m->capfree) {
		size_t nc = m->capfree ? m->capfree * 2 : 64;
		int *n = realloc(m->freeslots, nc * sizeof(*n));
		if (!n) {
			m->oom = true;
			return;          /* the slot just stays as a dead region */
		}
		m->freeslots = n;
		m->capfree = nc;
	}
	g->free_slot = true;
	m->freeslots[m->nfree++] = ri;
	m->regions_dropped++;
}

static void set_cause(struct rm_region *g, const struct rm_rec *r)
{
	g->os_id = r->id;
	g->tid = r->tid;
	if (r->cause_call) {
		g->cause_call = r->cause_id;
		g->cause_fn = r->cause_fn;
		g->cause_size = r->cause_size;
	}
}

static void os_munmap(struct rm_model *m, uint64_t addr, uint64_t len, uint64_t t)
{
	uint64_t end = addr + page_up(len);
	size_t i = idx_upper(m, addr);

	if (i > 0)
		i--;
	while (i < m->nidx) {
		int ri = m->idx[i];
		struct rm_region *g = &m->reg[ri];
		if (g->start >= end)
			break;
		if (g->end <= addr) {
			i++;
			continue;
		}
		if (addr <= g->start && end >= g->end) {
			region_dies(m, ri, t);      /* idx[i] now holds the next one */
			continue;
		}
		if (addr <= g->start)
			g->start = end;         /* head trimmed: order in idx unchanged */
		else if (end >= g->end)
			g->end = addr;          /* tail trimmed */
		/* (a hole in the middle keeps the extent) */
		i++;
	}
}

/* enum am_region_kind of a "region" label, AM_REG_UNKNOWN if none. */
static enum am_region_kind region_kind(const char *label)
{
	if (label)
		for (int k = 0; k < AM_REG__COUNT; k++)
			if (!strcmp(label, am_region_names[k]))
				return (enum am_region_kind)k;
	return AM_REG_UNKNOWN;
}

/* Replays an "os" record through the accounting model: the raw syscall as
 * the tracer saw it, rebuilt from the fields its decoders (fmt.c) wrote.
 * A prot the model cannot read counts as accessible, an advice it cannot
 * read as one that returns nothing. */
static void acct_os(struct rm_model *m, const struct rm_rec *r)
{
	struct am_os_event ev = { .type = AM_EV_OS, .pid = (uint32_t)r->pid, .tid = (uint32_t)r->tid };
	uint64_t v;

	if (r->sys == RM_SYS_OTHER)
		return;
	ev.sys = (uint8_t)r->sys;   /* enum rm_sys lists the syscalls in enum am_sys order */
	ev.args[0] = r->addr;
	ev.args[1] = r->len;
	ev.ret = r->failed ? -EINVAL : (int64_t)r->ret;
	switch (r->sys) {
	case RM_SYS_MMAP:
	case RM_SYS_MPROTECT:
		ev.args[2] = am_parse_prot(r->prot, &v) == 0 ? v : PROT_READ_;
		break;
	case RM_SYS_MREMAP:
		ev.args[2] = r->new_len;
		ev.args[3] = am_parse_mremap_flags(r->flags, &v) == 0 ? v : 0;
		break;
	case RM_SYS_MADVISE:
		ev.args[2] = am_parse_madv(r->advice, &v) == 0 ? v : UINT64_MAX;
		break;
	default:
		break;
	}
	/* "unknown" causes (--mode os, attaching) are never inside a call */
	am_acct_os(m->acct, am_acct_proc(m->acct, (uint32_t)r->pid), &ev, r->cause_call,
		   region_kind(r->region));
}

static void feed_os(struct rm_model *m, const struct rm_rec *r)
{
	uint64_t t = rm_rel(m, r->ts + r->dur);
	int sys = r->sys;

	m->n_os++;
	m->sys_count[sys]++;
	if (r->failed)
		m->sys_failed[sys]++;
	if (r->cause_call)
		m->sys_by_call[sys]++;
	acct_os(m, r);
	if (r->failed) {
		tick(m, t);
		return;
	}
	switch (sys) {
	case RM_SYS_BRK:
		if (r->addr == 0 || !m->heap_known) {
			if (!m->heap_known) {
				m->heap_known = true;
				m->heap_base = m->brk_cur = r->ret;
			}
			if (m->heap_reg < 0) {
				m->heap_reg = new_region(m, RM_K_HEAP, r->ret, r->ret, t);
				if (m->heap_reg >= 0)
					m->reg[m->heap_reg].mapped = true;
			}
		}
		if (r->addr != 0 && r->ret == r->addr)
			m->brk_cur = r->ret;
		if (m->heap_reg >= 0) {
			struct rm_region *g = &m->reg[m->heap_reg];
			g->start = umin(g->start, m->heap_base);
			g->end = umax(g->end, m->brk_cur);
			/* the heap's creator: the first call whose brk grew it */
			if (!g->cause_call && r->cause_call && r->addr != 0)
				set_cause(g, r);
		}
		break;
	case RM_SYS_MMAP: {
		int kind = !r->region ? -1 : !strcmp(r->region, "mmap") ? RM_K_MMAP :
			   !strcmp(r->region, "arena") ? RM_K_ARENA : -1;
		if (kind < 0)
			break;              /* the program's own mapping: not the allocator's */
		os_munmap(m, r->ret, r->len, t);   /* MAP_FIXED over an old one replaces it */
		int ri = new_region(m, kind, r->ret, r->ret + page_up(r->len), t);
		if (ri < 0)
			break;
		set_cause(&m->reg[ri], r);
		if (idx_insert(m, ri) < 0)
			m->reg[ri].mapped = false;
		break;
	}
	case RM_SYS_MUNMAP:
		os_munmap(m, r->addr, r->len, t);
		break;
	case RM_SYS_MREMAP: {
		int ri = region_at(m, r->addr);
		if (ri < 0) {
			if (r->region && (!strcmp(r->region, "mmap") || !strcmp(r->region, "arena"))) {
				ri = new_region(m, !strcmp(r->region, "arena") ? RM_K_ARENA : RM_K_MMAP,
						r->ret, r->ret + page_up(r->new_len), t);
				if (ri >= 0) {
					set_cause(&m->reg[ri], r);
					if (idx_insert(m, ri) < 0)
						m->reg[ri].mapped = false;
				}
			}
			break;
		}
		struct rm_region *g = &m->reg[ri];
		idx_remove(m, ri);
		g->start = r->ret;
		g->end = r->ret + page_up(r->new_len);
		if (idx_insert(m, ri) < 0)
			g->mapped = false;
		break;
	}
	default:
		break;                      /* mprotect, madvise: the mapping stays */
	}
	tick(m, t);
}

/* ---- live allocations ---- */

static size_t hslot(const struct rm_model *m, uint64_t ptr)
{
	uint64_t x = ptr * 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 17) & (m->hcap - 1);
}

static struct rm_live *hfind(const struct rm_model *m, uint64_t ptr)
{
	for (size_t i = hslot(m, ptr);; i = (i + 1) & (m->hcap - 1)) {
		if (m->h[i].ptr == ptr)
			return &m->h[i];
		if (!m->h[i].ptr)
			return NULL;
	}
}

static int hgrow(struct rm_model *m)
{
	size_t oc = m->hcap;
	struct rm_live *old = m->h, *n = calloc(oc * 2, sizeof(*n));

	if (!n)
		return -1;
	m->h = n;
	m->hcap = oc * 2;
	for (size_t i = 0; i < oc; i++) {
		if (!old[i].ptr)
			continue;
		size_t j = hslot(m, old[i].ptr);
		while (m->h[j].ptr)
			j = (j + 1) & (m->hcap - 1);
		m->h[j] = old[i];
	}
	free(old);
	return 0;
}

/* Backward-shift deletion: no tombstones under malloc/free churn. */
static void hdel(struct rm_model *m, struct rm_live *e)
{
	size_t i = (size_t)(e - m->h), mask = m->hcap - 1;

	for (size_t j = (i + 1) & mask; m->h[j].ptr; j = (j + 1) & mask) {
		size_t k = hslot(m, m->h[j].ptr);
		/* j may move back to i unless its home k lies cyclically in (i, j] */
		bool home_between = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (!home_between) {
			m->h[i] = m->h[j];
			i = j;
		}
	}
	m->h[i].ptr = 0;
	m->hcount--;
}

static struct rm_region *live_region(struct rm_model *m, int ri, uint32_t gen)
{
	if (ri < 0 || (size_t)ri >= m->nreg || m->reg[ri].gen != gen || m->reg[ri].free_slot)
		return NULL;
	return &m->reg[ri];
}

static void live_remove(struct rm_model *m, uint64_t ptr, uint64_t t)
{
	struct rm_live *e = hfind(m, ptr);

	if (!e)
		return;
	struct rm_region *g = live_region(m, e->region, e->rgen);
	if (g) {
		g->live_count--;
		g->live_bytes -= umin(g->live_bytes, e->size);
	}
	if (e->slot >= 0 && m->sample[e->slot].addr == ptr && m->sample[e->slot].call_id == e->call_id)
		m->sample[e->slot].t1 = t;
	hdel(m, e);
}

/* Region for a new allocation at ptr: by address, else by its label. */
static int region_for(struct rm_model *m, uint64_t ptr, uint64_t size, const char *label, uint64_t t)
{
	int ri;

	if (label && !strcmp(label, "heap")) {
		if (m->heap_reg < 0)
			m->heap_reg = new_region(m, RM_K_HEAP, ptr, ptr + size, t);
		ri = m->heap_reg;
	} else {
		ri = region_at(m, ptr);
		if (ri >= 0)
			return ri;
		int s = label && !strcmp(label, "preexisting") ? 0 : label && !strcmp(label, "direct") ? 2 : 1;
		if (m->synth[s] < 0) {
			m->synth[s] = new_region(m, RM_K_OTHER, ptr, ptr + size, t);
			if (m->synth[s] >= 0)
				m->reg[m->synth[s]].label = synth_labels[s];
		}
		ri = m->synth[s];
	}
	if (ri >= 0) {
		m->reg[ri].start = umin(m->reg[ri].start, ptr);
		m->reg[ri].end = umax(m->reg[ri].end, ptr + size);
	}
	return ri;
}

static void live_add(struct rm_model *m, const struct rm_rec *r, uint64_t t)
{
	uint64_t ptr = r->ret;

	live_remove(m, ptr, t);                 /* a free we never saw */
	if ((m->hcount + 1) * 2 > m->hcap && hgrow(m) < 0) {
		m->oom = true;
		return;
	}
	int ri = region_for(m, ptr, r->size, r->region, t);
	uint32_t gen = ri >= 0 ? m->reg[ri].gen : 0;
	if (ri >= 0) {
		struct rm_region *g = &m->reg[ri];
		g->n_allocs++;
		g->alloc_bytes += r->size;
		g->live_count++;
		g->live_bytes += r->size;
		peak(&g->peak_live, g->live_bytes);
	}
	int slot = -1;
	m->allocs_seen++;
	if (m->nsample < RM_ALLOC_CAP) {
		slot = (int)m->nsample++;
	} else {
		uint64_t j = xorshift(m) % m->allocs_seen;
		if (j < RM_ALLOC_CAP)
			slot = (int)j;
	}
	if (slot >= 0)
		m->sample[slot] = (struct rm_alloc){
			.addr = ptr, .size = r->size, .t0 = t, .t1 = UINT64_MAX,
			.call_id = r->id, .region = ri, .rgen = gen, .fn = r->fn, .tid = r->tid,
		};

	size_t i = hslot(m, ptr);
	while (m->h[i].ptr)
		i = (i + 1) & (m->hcap - 1);
	m->h[i] = (struct rm_live){
		.ptr = ptr, .size = r->size, .t0 = t, .call_id = r->id,
		.region = ri, .slot = slot, .rgen = gen, .fn = (int16_t)r->fn, .tid = r->tid,
	};
	m->hcount++;
}

/* Replays an outermost "call" record through the accounting model, as the
 * correlator applied the call: its free of the input pointer, then its
 * result. */
static void acct_call(struct rm_model *m, const struct rm_rec *r, enum am_role role)
{
	struct am_acct_proc *p = am_acct_proc(m->acct, (uint32_t)r->pid);
	uint64_t out = r->has_ret ? r->ret : 0;   /* "ret" is there iff the return was seen */
	struct am_acct_live fe;

	if (am_acct_call_frees(role, r->ptr, r->has_ret, out, r->size))
		am_acct_free(m->acct, p, r->ptr, r->ts, &fe);
	if (out && am_role_allocates(role))
		am_acct_alloc(m->acct, p, out, r->size, r->ts + r->dur);
}

static void fnstat_add(struct rm_fnstat *s, const struct rm_fnstat *a)
{
	s->calls += a->calls;
	s->bytes += a->bytes;
	s->os_calls += a->os_calls;
	s->failed += a->failed;
	s->nested += a->nested;
	s->dur_ns += a->dur_ns;
	s->timed += a->timed;
}

/* The column of the function table by time holding a call that began at t
 * (relative), the columns merged pairwise until one does. */
static struct rm_fnstat *fn_col(struct rm_model *m, uint64_t t, int fn)
{
	while (t / m->fcw >= RM_FN_COLS) {
		for (size_t c = 0; c < RM_FN_COLS / 2; c++)
			for (int f = 0; f < RM_NFN; f++) {
				struct rm_fnstat x = m->fcol[2 * c * RM_NFN + f];

				fnstat_add(&x, &m->fcol[(2 * c + 1) * RM_NFN + f]);
				m->fcol[c * RM_NFN + f] = x;
			}
		memset(&m->fcol[(size_t)RM_FN_COLS / 2 * RM_NFN], 0, sizeof(*m->fcol) * RM_FN_COLS / 2 * RM_NFN);
		m->fcw *= 2;
	}
	return &m->fcol[t / m->fcw * RM_NFN + fn];
}

static void feed_call(struct rm_model *m, const struct rm_rec *r)
{
	uint64_t t = rm_rel(m, r->ts + r->dur);
	int fn = r->fn >= 0 ? r->fn : RM_NFN - 1;
	enum am_role role = am_fn_role(fn);
	bool is_free = am_role_frees(role);
	bool is_realloc = role == AM_ROLE_REALLOC || role == AM_ROLE_REALLOCARRAY;
	struct rm_fnstat *s = &m->fn[fn];

	m->n_calls++;
	s->calls++;
	s->bytes += r->size;
	s->dur_ns += r->dur;
	if (r->has_dur)
		s->timed++;
	if (r->n_os)
		s->os_calls++;
	if (r->nested)
		s->nested++;
	if (!is_free && r->has_ret && r->ret == 0 && r->size > 0)
		s->failed++;
	{   /* the same counts in the call's time column */
		struct rm_fnstat one = { .calls = 1, .bytes = r->size, .dur_ns = r->dur, .timed = r->has_dur,
					 .os_calls = r->n_os != 0, .nested = r->nested,
					 .failed = !is_free && r->has_ret && r->ret == 0 && r->size > 0 };

		fnstat_add(fn_col(m, rm_rel(m, r->ts), fn), &one);
	}
	if (!m->th_start_set && (r->threshold || r->thr_unknown)) {
		/* unknown at the first call (attached without glibc's debug
		 * info): the line starts at the first move that makes it known */
		m->th_start_set = true;
		m->th_start = r->threshold;
	}
	if (r->nested)
		return;                         /* its outer call accounts for it */
	acct_call(m, r, role);
	if (is_free) {
		if (r->ptr)
			live_remove(m, r->ptr, t);
		tick(m, t);
		return;
	}
	if (r->missed || !r->has_ret) {
		tick(m, t);
		return;
	}
	if (is_realloc && r->ptr && (r->ret || r->size == 0))
		live_remove(m, r->ptr, t);
	if (r->ret) {
		live_add(m, r, t);
		m->n_alloc_calls++;
		add_point(m, t, r->size, served_of(r->region));
	}
	tick(m, t);
}

static void feed_threshold(struct rm_model *m, const struct rm_rec *r)
{
	if (m->nth == m->capth) {
		size_t nc = m->capth ? m->capth * 2 : 16;
		struct rm_th *n = realloc(m->th, nc * sizeof(*n));
		if (!n) {
			m->oom = true;
			return;
		}
		m->th = n;
		m->capth = nc;
	}
	if (!r->th_new)
		return; /* still unknown after it: only its bounds rose */
	m->th[m->nth++] = (struct rm_th){ rm_rel(m, r->ts), r->th_old, r->th_new, r->id, r->pid };
	if (!m->th_start_set) {
		m->th_start_set = true;
		m->th_start = r->th_old;
	}
}

/* ---- flame graph of OS-requesting stacks ---- */

#define FL_NONE  UINT32_MAX
#define FL_CHCAP 32768u            /* child table: over 3 x RM_FLAME_CAP, a power of two */

uint64_t rm_os_bytes(const struct rm_rec *r, uint64_t prev_brk)
{
	if (r->failed)
		return 0;
	switch (r->sys) {
	case RM_SYS_MMAP:
		return r->flags && strstr(r->flags, "MAP_ANONYMOUS") && !(r->prot && !strcmp(r->prot, "PROT_NONE")) ?
		       page_up(r->len) : 0;
	case RM_SYS_MREMAP:
		return page_up(r->new_len) > page_up(r->len) ? page_up(r->new_len) - page_up(r->len) : 0;
	case RM_SYS_BRK:
		return r->addr && r->ret == r->addr && prev_brk && r->ret > prev_brk ? r->ret - prev_brk : 0;
	case RM_SYS_MPROTECT:
		return r->prot && strstr(r->prot, "PROT_WRITE") && !r->cause_direct ? page_up(r->len) : 0;
	default:
		return 0;
	}
}

const char *rm_flame_str(const struct rm_model *m, uint32_t id)
{
	return id < m->fl.nstr ? m->fl.str[id] : "";
}

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;        /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

/* Id of string s; a new one only when create (FL_NONE if not found, or
 * out of memory: then m->oom). */
static uint32_t fl_intern(struct rm_model *m, const char *s, bool create)
{
	struct rm_flame *f = &m->fl;

	if (f->nstr * 2 >= f->shcap) {
		size_t nc = f->shcap ? f->shcap * 2 : 1024;
		uint32_t *nh = calloc(nc, sizeof(*nh));
		if (!nh) {
			m->oom = true;
			return FL_NONE;
		}
		for (size_t i = 0; i < f->nstr; i++) {
			size_t j = hash_bytes(f->str[i]) & (nc - 1);
			while (nh[j])
				j = (j + 1) & (nc - 1);
			nh[j] = (uint32_t)i + 1;
		}
		free(f->shash);
		f->shash = nh;
		f->shcap = nc;
	}
	size_t mask = f->shcap - 1, i = hash_bytes(s) & mask;
	for (; f->shash[i]; i = (i + 1) & mask)
		if (!strcmp(f->str[f->shash[i] - 1], s))
			return f->shash[i] - 1;
	if (!create)
		return FL_NONE;
	if (f->nstr == f->capstr) {
		size_t nc = f->capstr ? f->capstr * 2 : 256;
		char **ns = realloc(f->str, nc * sizeof(*ns));
		if (!ns) {
			m->oom = true;
			return FL_NONE;
		}
		f->str = ns;
		f->capstr = nc;
	}
	char *d = strdup(s);
	if (!d) {
		m->oom = true;
		return FL_NONE;
	}
	f->str[f->nstr] = d;
	f->shash[i] = (uint32_t)++f->nstr;
	return f->nstr - 1;
}

/* The child of parent for (name, obj), made when missing and the cap
 * allows; FL_NONE otherwise. */
static uint32_t fl_child(struct rm_model *m, uint32_t parent, uint32_t name, uint32_t obj)
{
	struct rm_flame *f = &m->fl;
	uint64_t h = (parent + 1) * 0x9e3779b97f4a7c15ull ^ (name + 1ull) * 0xc2b2ae3d27d4eb4full ^
		     (obj + 2ull) * 0x165667b19e3779f9ull;
	size_t i = (h ^ h >> 31) & (FL_CHCAP - 1);

	for (; f->chash[i]; i = (i + 1) & (FL_CHCAP - 1)) {
		const struct rm_fnode *n = &f->n[f->chash[i] - 1];
		if (n->parent == parent && n->name == name && n->obj == obj)
			return f->chash[i] - 1;
	}
	if (f->nn >= RM_FLAME_CAP)
		return FL_NONE;
	f->n[f->nn] = (struct rm_fnode){ .parent = parent, .name = name, .obj = obj, .file = FL_NONE };
	f->chash[i] = (uint32_t)++f->nn;
	return f->nn - 1;
}

/* Last break of pid, replaced by brk (when non-zero). */
static uint64_t fl_brk_swap(struct rm_flame *f, int pid, uint64_t brk)
{
	for (int i = 0; i < RM_FLAME_PIDS; i++) {
		if (f->brk[i].pid && f->brk[i].pid != pid)
			continue;
		uint64_t prev = f->brk[i].pid ? f->brk[i].brk : 0;
		f->brk[i].pid = pid;
		if (brk)
			f->brk[i].brk = brk;
		return prev;
	}
	return 0;
}

/* Adds one path step: the node for (name, obj) under *cur, weighted. */
static bool fl_step(struct rm_model *m, uint32_t *cur, const char *name, const char *obj,
		    const char *file, int line, uint8_t flags, uint64_t w)
{
	struct rm_flame *f = &m->fl;
	bool room = f->nn < RM_FLAME_CAP;
	uint32_t nm = fl_intern(m, name, room), ob = obj ? fl_intern(m, obj, room) : FL_NONE;

	if (nm == FL_NONE || (obj && ob == FL_NONE))
		return false;
	uint32_t c = fl_child(m, *cur, nm, ob);
	if (c == FL_NONE)
		return false;
	struct rm_fnode *n = &f->n[c];
	if (!n->count) {
		n->file = file ? fl_intern(m, file, true) : FL_NONE;
		n->line = line;
	} else if (n->line != line || (file ? n->file == FL_NONE || strcmp(f->str[n->file], file) : n->file != FL_NONE)) {
		n->flags |= RM_FN_LINES;
	}
	n->flags |= flags;
	n->bytes += w;
	n->count++;
	*cur = c;
	return true;
}

static void fl_end(struct rm_model *m, uint32_t node, uint64_t t, uint64_t w);
static void fold_path(struct rm_model *m, const struct rm_rec *r, uint64_t w, uint32_t *curp);

static void feed_flame(struct rm_model *m, const struct rm_rec *r)
{
	struct rm_flame *f = &m->fl;
	uint64_t prev = 0;

	if (r->sys == RM_SYS_BRK && !r->failed)
		prev = fl_brk_swap(f, r->pid, r->ret);
	if (!r->n_stack) {
		f->no_stack++;
		return;
	}
	if (!f->n) {
		f->n = malloc(RM_FLAME_CAP * sizeof(*f->n));
		f->chash = calloc(FL_CHCAP, sizeof(*f->chash));
		uint32_t all = f->n && f->chash ? fl_intern(m, "all", true) : FL_NONE;
		if (all == FL_NONE) {
			free(f->n);
			free(f->chash);
			f->n = NULL;
			f->chash = NULL;
			m->oom = true;
			return;
		}
		f->n[0] = (struct rm_fnode){ .parent = FL_NONE, .name = all, .obj = FL_NONE, .file = FL_NONE };
		f->nn = 1;
	}
	uint64_t w = rm_os_bytes(r, prev);
	uint32_t cur = 0;
	f->stacks++;
	f->n[0].bytes += w;
	f->n[0].count++;
	fold_path(m, r, w, &cur);
	fl_end(m, cur, rm_rel(m, r->ts), w);
}

/* Remembers where a folded request's path ended (the node that got its
 * weight last), its time and its weight: the tree of a time range. */
static void fl_end(struct rm_model *m, uint32_t node, uint64_t t, uint64_t w)
{
	struct rm_flame *f = &m->fl;

	if (!f->ends && !(f->ends = malloc(RM_FLAME_ENDS * sizeof(*f->ends))))
		m->oom = true;
	if (!f->ends || f->nends == RM_FLAME_ENDS) {
		f->ends_over++;
		return;
	}
	f->ends[f->nends++] = (struct rm_fend){ node, t, w };
}

/* Folds r's stack, root first, then its syscall, under *cur (the root):
 * *cur ends at the last node that took the weight. */
static void fold_path(struct rm_model *m, const struct rm_rec *r, uint64_t w, uint32_t *curp)
{
	struct rm_flame *f = &m->fl;
	uint32_t cur = *curp;
	char buf[512];

	for (size_t k = r->n_stack; k-- > 0;) {   /* root first */
		const struct rm_frame *fr = &r->stack[k];
		const char *name = fr->sym;
		if (!name) {
			if (fr->obj)
				snprintf(buf, sizeof(buf), "%s+0x%llx", fr->obj, (unsigned long long)fr->off);
			else
				snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)fr->addr);
			name = buf;
		}
		uint8_t fl = r->alloc_frames > 0 && k < (size_t)r->alloc_frames ? RM_FN_ALLOC : 0;
		if (!fl_step(m, &cur, name, fr->obj, fr->file, fr->line, fl, w)) {
			f->cut++;
			*curp = cur;
			return;
		}
	}
	if (!fl_step(m, &cur, rm_sys_names[r->sys], "kernel", NULL, 0, RM_FN_SYS, w))
		f->cut++;
	*curp = cur;
}

/* Appends one RSS point, merging pairs (the larger stays) to keep at most
 * RM_RSS_CAP of them: past it a point stands for rss_stride samples. */
static void rss_point(struct rm_model *m, uint64_t t, uint64_t bytes)
{
	struct rm_rss_pt p = { t, bytes };

	if (!m->rss && !(m->rss = malloc(RM_RSS_CAP * sizeof(*m->rss)))) {
		m->oom = true;
		return;
	}
	if (!m->rss_stride)
		m->rss_stride = 1;
	if (m->rss_npend && m->rss_pend.bytes > p.bytes)
		p = m->rss_pend;
	if (++m->rss_npend < m->rss_stride) {
		m->rss_pend = p;
		return;
	}
	m->rss_npend = 0;
	if (m->nrss == RM_RSS_CAP) {
		for (size_t i = 0; i < RM_RSS_CAP / 2; i++) {
			const struct rm_rss_pt *a = &m->rss[2 * i], *b = &m->rss[2 * i + 1];

			m->rss[i] = a->bytes > b->bytes ? *a : *b;
		}
		m->nrss = RM_RSS_CAP / 2;
		m->rss_stride *= 2;
	}
	m->rss[m->nrss++] = p;
}

/* pid's RSS is now bytes (a sample, or 0 at its exit): the total's new point. */
static void rss_set(struct rm_model *m, int pid, uint64_t bytes, uint64_t t)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < m->nrss_pid && m->rss_pid[i].pid != pid; i++)
		;
	if (i == m->nrss_pid) {
		if (!bytes)
			return;   /* an exit of a process never sampled */
		if (i == RM_RSS_PIDS) {
			m->rss_pids_dropped++;
			return;
		}
		m->nrss_pid++;
		m->rss_pid[i].pid = pid;
	}
	m->rss_pid[i].bytes = bytes;
	for (i = 0; i < m->nrss_pid; i++)
		total += m->rss_pid[i].bytes;
	if (total > m->rss_peak) {
		m->rss_peak = total;
		m->rss_peak_t = t;
	}
	rss_point(m, t, total);
}

/* A task record (exec drops the process's image), a seed record or an RSS sample. */
static void feed_other(struct rm_model *m, const struct rm_rec *r)
{
	uint64_t t = rm_rel(m, r->ts);

	if (r->type == RM_T_TASK && r->task_kind && !strcmp(r->task_kind, "exec")) {
		am_acct_exec(m->acct, am_acct_proc(m->acct, (uint32_t)r->pid));
		tick(m, t);
	} else if (r->type == RM_T_TASK && r->task_kind && !strcmp(r->task_kind, "exit") && r->tid == r->pid) {
		rss_set(m, r->pid, 0, t);
	} else if (r->type == RM_T_RSS) {
		m->rss_samples++;
		rss_set(m, r->pid, r->rss, t);
	} else if (r->type == RM_T_SEED) {
		am_acct_seed(m->acct, am_acct_proc(m->acct, (uint32_t)r->pid), r->addr, r->end,
			     region_kind(r->region), r->accessible);
		tick(m, t);
	}
	/* the leaks and sites records are stamped when the tracer ended
	 * (after draining): no activity, not the trace's end */
	if (r->type != RM_T_OTHER && r->type != RM_T_RSS)   /* a sample is no activity */
		peak(&m->t_max, t);
}

/* Records come in time order: a call (at its entry) before the OS
 * requests it made, and those map the memory it returns. Its effect waits
 * until they are all in, as the model needs; a call's record keeps only
 * what feed_call reads (its region label is one of the model's names).
 * Traces written before that order put a call after its requests: those
 * are counted as they pass (m->early), and the call applies at once. */
#define RM_DEFER_MAX 4096

/* OS requests of call id already seen (and forgotten now). */
static size_t early_take(struct rm_model *m, uint64_t id)
{
	for (size_t i = 0; i < m->nearly; i++)
		if (m->early[i].id == id) {
			size_t n = m->early[i].n;

			m->early[i] = m->early[--m->nearly];
			return n;
		}
	return 0;
}

static void early_add(struct rm_model *m, uint64_t id)
{
	for (size_t i = 0; i < m->nearly; i++)
		if (m->early[i].id == id) {
			m->early[i].n++;
			return;
		}
	if (m->nearly == RM_EARLY_MAX) /* calls that never came: forget the oldest */
		memmove(m->early, m->early + 1, --m->nearly * sizeof(m->early[0]));
	m->early[m->nearly].id = id;
	m->early[m->nearly++].n = 1;
}

static bool defer_call(struct rm_model *m, const struct rm_rec *r)
{
	struct rm_rec c = *r;

	if (early_take(m, r->id)) /* the older order: its requests are in */
		return false;

	if (m->ndfr == RM_DEFER_MAX) { /* requests lost: the oldest waits no more */
		feed_call(m, &m->dfr[0].r);
		memmove(m->dfr, m->dfr + 1, --m->ndfr * sizeof(*m->dfr));
	}
	if (m->ndfr == m->capdfr) {
		size_t nc = m->capdfr ? m->capdfr * 2 : 16;
		struct rm_deferred *d = realloc(m->dfr, nc * sizeof(*d));

		if (!d)
			return false;
		m->dfr = d;
		m->capdfr = nc;
	}
	c.stack = NULL;
	c.n_stack = 0;
	c.prot = c.flags = NULL;
	if (c.region) {
		const char *label = NULL;

		for (int k = 0; k < AM_REG__COUNT && !label; k++)
			if (!strcmp(c.region, am_region_names[k]))
				label = am_region_names[k];
		c.region = label;
	}
	m->dfr[m->ndfr++] = (struct rm_deferred){ .r = c, .left = r->n_os };
	return true;
}

/* An OS request of call id is in: the call applies once its last is. */
static void settle_call(struct rm_model *m, uint64_t id)
{
	for (size_t i = 0; i < m->ndfr; i++) {
		if (m->dfr[i].r.id != id)
			continue;
		if (--m->dfr[i].left == 0) {
			struct rm_rec c = m->dfr[i].r;

			memmove(m->dfr + i, m->dfr + i + 1, (m->ndfr - i - 1) * sizeof(*m->dfr));
			m->ndfr--;
			feed_call(m, &c);
		}
		return;
	}
	early_add(m, id);
}

void rm_drain(struct rm_model *m)
{
	for (size_t i = 0; i < m->ndfr; i++)
		feed_call(m, &m->dfr[i].r);
	m->ndfr = 0;
}

void rm_feed(struct rm_model *m, const struct rm_rec *r)
{
	if (r->type == RM_T_SUMMARY) {
		rm_drain(m);
		return;
	}
	if (!m->have_t0) {
		m->have_t0 = true;
		m->t0 = r->ts;
	}
	m->n_records++;
	m->cur_pid = r->pid;
	switch (r->type) {
	case RM_T_CALL:
		if (!r->n_os || r->nested || !defer_call(m, r))
			feed_call(m, r);
		break;
	case RM_T_OS:
		feed_flame(m, r);
		feed_os(m, r);
		if (r->cause_call && r->cause_id)
			settle_call(m, r->cause_id);
		break;
	case RM_T_THRESHOLD: feed_threshold(m, r); break;
	default: feed_other(m, r); break;
	}
}

const struct am_acct_figs *rm_figs(const struct rm_model *m)
{
	return am_acct_figs(m->acct);
}

uint64_t rm_region_committed(const struct rm_model *m, const struct rm_region *g)
{
	struct am_acct_proc *p;

	if (!g->mapped || g->kind == RM_K_HEAP || g->kind == RM_K_OTHER)
		return 0;
	p = am_acct_proc(m->acct, (uint32_t)g->pid);
	return p ? am_acct_accessible(p, g->start, g->end) : 0;
}

size_t rm_region_committed_ranges(const struct rm_model *m, const struct rm_region *g,
				  uint64_t (*out)[2], size_t max)
{
	struct am_acct_proc *p;

	if (!g->mapped || g->kind == RM_K_HEAP || g->kind == RM_K_OTHER)
		return 0;
	p = am_acct_proc(m->acct, (uint32_t)g->pid);
	return p ? am_acct_accessible_ranges(p, g->start, g->end, out, max) : 0;
}

size_t rm_live_extra(const struct rm_model *m, struct rm_alloc *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < m->hcap && n < max; i++) {
		const struct rm_live *e = &m->h[i];
		if (!e->ptr)
			continue;
		if (e->slot >= 0 && m->sample[e->slot].addr == e->ptr && m->sample[e->slot].call_id == e->call_id)
			continue;
		out[n++] = (struct rm_alloc){
			.addr = e->ptr, .size = e->size, .t0 = e->t0, .t1 = UINT64_MAX,
			.call_id = e->call_id, .region = e->region, .rgen = e->rgen, .fn = e->fn, .tid = e->tid,
		};
	}
	return n;
}

bool rm_live_at(const struct rm_model *m, uint64_t ptr, int *region, uint32_t *rgen, uint64_t *call_id)
{
	const struct rm_live *e = ptr && m->hcap ? hfind(m, ptr) : NULL;

	if (!e)
		return false;
	*region = e->region;
	*rgen = e->rgen;
	*call_id = e->call_id;
	return true;
}

int rm_alloc_region(const struct rm_model *m, const struct rm_alloc *a)
{
	if (a->region < 0 || (size_t)a->region >= m->nreg)
		return -1;
	const struct rm_region *g = &m->reg[a->region];
	return g->gen == a->rgen && !g->free_slot ? a->region : -1;
}
