// SPDX-License-Identifier: GPL-2.0
/* sites.c - call-site profiles (sites.h): allocations aggregated by
 * allocation stack and by call site.
 *
 * State: the stacks seen (one entry per interned stack, plus one per
 * process for its calls without a stack), the processes (live bytes, live
 * peak, last break), the threads (how many allocations each made: the
 * temporaries rule) and the live blocks (pid, pointer -> size, stack entry,
 * thread and that thread's allocation number). Lookups are open-addressing
 * hashes; the live blocks use backward-shift deletion, so malloc/free churn
 * leaves no tombstones.
 *
 * The peak snapshot is lazy, O(1) per record: a process counts its new
 * peaks (peak_no). A stack entry keeps its current live figures and, in
 * pk_*, its figures at its process's peak number sync. Before an entry
 * changes, if a peak came since it was last synced, its current figures
 * are what they were at that peak: they are copied to pk_*. At the end an
 * entry synced to the latest peak has its peak figures in pk_*, any other
 * one has not changed since that peak: its current figures are them. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "sites.h"

const char *const am_site_sort_names[AM_SORT__COUNT] = {
	[AM_SORT_ALLOC] = "alloc", [AM_SORT_PEAK] = "peak", [AM_SORT_LEAK] = "leak",
	[AM_SORT_TEMP] = "temp", [AM_SORT_OS] = "os", [AM_SORT_CALLS] = "calls",
};

int am_site_sort_by_name(const char *name)
{
	for (int i = 0; name && i < AM_SORT__COUNT; i++)
		if (!strcmp(name, am_site_sort_names[i]))
			return i;
	return -1;
}

/* One stack entry. */
struct sstk {
	const struct am_stack *stack;  /* NULL: the process's calls without a stack */
	uint32_t pid;
	uint32_t proc;                 /* index in procs */
	struct am_site_fig f;          /* calls, bytes, temp, os, regions */
	uint64_t cur_count, cur_bytes; /* live now */
	uint64_t pk_count, pk_bytes;   /* live at its process's peak number sync */
	uint64_t sync;
};

struct sproc {
	uint32_t pid;
	uint64_t live_bytes, live_count;
	uint64_t peak_bytes, peak_count, peak_ts;
	uint64_t peak_no;              /* new peaks so far */
	uint64_t brk;                  /* last break, 0 unknown */
};

/* One live block; ptr 0 marks an empty slot. */
struct blk {
	uint64_t ptr;
	uint64_t size;
	uint64_t seq;                  /* its thread's calls up to the one that made it */
	uint64_t ts;                   /* when the call that returned it ended */
	uint32_t pid, tid;
	uint32_t stk;                  /* index in stks */
};

/* uint64 key -> index map (open addressing, never deleted). */
struct umap {
	uint64_t *k;
	uint32_t *v;                   /* index + 1, 0 = empty */
	size_t cap, n;
};

struct am_sites {
	struct sstk *stks;
	size_t n_stks, cap_stks;
	struct sproc *procs;
	size_t n_procs, cap_procs;
	uint64_t *thr_seq;             /* [thread index] allocations made */
	size_t n_thr, cap_thr;
	struct umap stk_ix, proc_ix, thr_ix;
	struct blk *blk;               /* cap_blk slots */
	size_t n_blk, cap_blk;
	bool oom;
	uint32_t sample_every;
	/* the last report */
	struct am_sites_report rep;
	struct am_site_stack *r_stacks;
	struct am_site *r_sites;
	struct am_sites_proc *r_procs;
};

static inline uint64_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return k;
}

/* ---------- index maps ---------- */

static bool umap_grow(struct umap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 64;
	uint64_t *nk = calloc(ncap, sizeof(*nk));
	uint32_t *nv = calloc(ncap, sizeof(*nv));

	if (!nk || !nv) {
		free(nk);
		free(nv);
		return false;
	}
	for (size_t i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->v[i])
			continue;
		for (j = hash64(m->k[i]) & (ncap - 1); nv[j]; j = (j + 1) & (ncap - 1))
			;
		nk[j] = m->k[i];
		nv[j] = m->v[i];
	}
	free(m->k);
	free(m->v);
	m->k = nk;
	m->v = nv;
	m->cap = ncap;
	return true;
}

/* The slot of key: *v is 0 when the key is new (the caller fills it). NULL
 * when growing failed. */
static uint32_t *umap_slot(struct umap *m, uint64_t key)
{
	size_t j;

	if ((m->n + 1) * 2 > m->cap && !umap_grow(m))
		return NULL;
	for (j = hash64(key) & (m->cap - 1); m->v[j]; j = (j + 1) & (m->cap - 1))
		if (m->k[j] == key)
			return &m->v[j];
	m->k[j] = key;
	m->n++;
	return &m->v[j];
}

static void umap_free(struct umap *m)
{
	free(m->k);
	free(m->v);
}

/* Room for one more element in an array of cap elements of size sz. */
static bool reserve(void **arr, size_t *cap, size_t n, size_t sz)
{
	size_t ncap;
	void *na;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 64;
	na = realloc(*arr, ncap * sz);
	if (!na)
		return false;
	*arr = na;
	*cap = ncap;
	return true;
}

/* ---------- entries ---------- */

static struct sproc *proc_of(struct am_sites *s, uint32_t pid)
{
	uint32_t *v = umap_slot(&s->proc_ix, pid);

	if (!v)
		return NULL;
	if (!*v) {
		if (!reserve((void **)&s->procs, &s->cap_procs, s->n_procs, sizeof(*s->procs))) {
			s->proc_ix.n--; /* the key stays, with no value: an empty slot again */
			return NULL;
		}
		s->procs[s->n_procs] = (struct sproc){ .pid = pid };
		*v = (uint32_t)++s->n_procs;
	}
	return &s->procs[*v - 1];
}

/* Index of the stack entry of st (NULL: pid's calls without a stack), or -1. */
static long stk_of(struct am_sites *s, uint32_t pid, const struct am_stack *st)
{
	uint64_t key = st ? st->id : (1ULL << 63) | pid;
	uint32_t *v = umap_slot(&s->stk_ix, key);
	struct sproc *p;

	if (!v)
		return -1;
	if (!*v) {
		p = proc_of(s, pid);
		if (!p || !reserve((void **)&s->stks, &s->cap_stks, s->n_stks, sizeof(*s->stks))) {
			s->stk_ix.n--;
			return -1;
		}
		s->stks[s->n_stks] = (struct sstk){ .stack = st, .pid = pid,
						    .proc = (uint32_t)(p - s->procs) };
		*v = (uint32_t)++s->n_stks;
	}
	return (long)*v - 1;
}

/* The allocation counter of thread (pid, tid), or NULL. */
static uint64_t *thr_of(struct am_sites *s, uint32_t pid, uint32_t tid)
{
	uint32_t *v = umap_slot(&s->thr_ix, (uint64_t)pid << 32 | tid);

	if (!v)
		return NULL;
	if (!*v) {
		if (!reserve((void **)&s->thr_seq, &s->cap_thr, s->n_thr, sizeof(*s->thr_seq))) {
			s->thr_ix.n--;
			return NULL;
		}
		s->thr_seq[s->n_thr] = 0;
		*v = (uint32_t)++s->n_thr;
	}
	return &s->thr_seq[*v - 1];
}

/* Entry e is about to change: keep its figures at the latest peak. */
static void stk_sync(struct am_sites *s, struct sstk *e)
{
	const struct sproc *p = &s->procs[e->proc];

	if (e->sync != p->peak_no) {
		e->pk_count = e->cur_count;
		e->pk_bytes = e->cur_bytes;
		e->sync = p->peak_no;
	}
}

/* ---------- live blocks ---------- */

static inline size_t blk_home(const struct am_sites *s, uint32_t pid, uint64_t ptr)
{
	return hash64(ptr ^ (uint64_t)pid << 40) & (s->cap_blk - 1);
}

static bool blk_grow(struct am_sites *s)
{
	size_t ncap = s->cap_blk ? s->cap_blk * 2 : 1024, oc = s->cap_blk;
	struct blk *nb = calloc(ncap, sizeof(*nb)), *ob = s->blk;

	if (!nb)
		return false;
	s->blk = nb;
	s->cap_blk = ncap;
	for (size_t i = 0; i < oc; i++) {
		size_t j;

		if (!ob[i].ptr)
			continue;
		for (j = blk_home(s, ob[i].pid, ob[i].ptr); nb[j].ptr; j = (j + 1) & (ncap - 1))
			;
		nb[j] = ob[i];
	}
	free(ob);
	return true;
}

static struct blk *blk_find(struct am_sites *s, uint32_t pid, uint64_t ptr)
{
	if (!s->cap_blk)
		return NULL;
	for (size_t j = blk_home(s, pid, ptr); s->blk[j].ptr; j = (j + 1) & (s->cap_blk - 1))
		if (s->blk[j].ptr == ptr && s->blk[j].pid == pid)
			return &s->blk[j];
	return NULL;
}

/* Remove the block in slot b, shifting the rest of its cluster back. */
static void blk_del(struct am_sites *s, struct blk *b)
{
	size_t mask = s->cap_blk - 1, i = (size_t)(b - s->blk), j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!s->blk[j].ptr)
			break;
		home = blk_home(s, s->blk[j].pid, s->blk[j].ptr);
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			s->blk[i] = s->blk[j];
			i = j;
		}
	}
	s->blk[i].ptr = 0;
	s->n_blk--;
}

/* Block b is gone (freed, released, displaced or dropped): take it out of
 * its entry's and its process's live figures, then out of the table. */
static void blk_gone(struct am_sites *s, struct blk *b)
{
	struct sstk *e = &s->stks[b->stk];
	struct sproc *p = &s->procs[e->proc];

	stk_sync(s, e);
	e->cur_count--;
	e->cur_bytes -= b->size;
	p->live_count--;
	p->live_bytes -= b->size;
	blk_del(s, b);
}

/* ---------- feeding ---------- */

uint64_t am_os_obtained(const struct am_os_rec *r, uint64_t prev_brk)
{
	const struct am_os_event *e = &r->ev;
	uint64_t ret = (uint64_t)e->ret;

	if (e->ret < 0 && e->ret >= -4095)
		return 0;
	switch (e->sys) {
	case AM_SYS_MMAP:
		return (e->args[3] & MAP_ANONYMOUS) && e->args[2] != PROT_NONE ? am_page_up(e->args[1]) : 0;
	case AM_SYS_MREMAP:
		return am_page_up(e->args[2]) > am_page_up(e->args[1]) ? am_page_up(e->args[2]) - am_page_up(e->args[1]) : 0;
	case AM_SYS_BRK:
		return e->args[0] && ret == e->args[0] && prev_brk && ret > prev_brk ? ret - prev_brk : 0;
	case AM_SYS_MPROTECT:
		return (e->args[2] & PROT_WRITE) && (!r->direct || r->cause_unknown) ? am_page_up(e->args[1]) : 0;
	default:
		return 0;
	}
}

/* Bytes o obtained; follows its process's break. */
static uint64_t os_rec(struct am_sites *s, const struct am_os_rec *o)
{
	struct sproc *p;
	uint64_t prev;

	if (o->ev.sys != AM_SYS_BRK)
		return am_os_obtained(o, 0);
	p = proc_of(s, o->ev.pid);
	if (!p) {
		s->oom = true;
		return 0;
	}
	prev = p->brk;
	if (!(o->ev.ret < 0 && o->ev.ret >= -4095) && o->ev.ret)
		p->brk = (uint64_t)o->ev.ret;
	return am_os_obtained(o, prev);
}

void am_sites__os(struct am_sites *s, const struct am_os_rec *o)
{
	os_rec(s, o);
}

/* Does call c release its input pointer? (correlate.c's rule) */
static bool releases(const struct am_call_rec *c, bool result_valid)
{
	enum am_role role = am_fn_role(c->ev.fn);

	if (!c->has_ptr_in || !c->ptr_in)
		return false;
	if (am_role_frees(role))
		return true;
	return result_valid && (c->ptr_out != 0 || c->size == 0);
}

/* A new block ptr of c in entry k; seq: its thread's calls so far. False
 * when memory ran out (the block is not counted). */
static bool blk_new(struct am_sites *s, const struct am_call_rec *c, long k, uint64_t seq)
{
	struct sstk *e = &s->stks[k];
	struct sproc *p = &s->procs[e->proc];
	unsigned r = c->region < AM_REG__COUNT ? c->region : AM_REG_UNKNOWN;
	struct blk *b;
	size_t j;

	if (((s->n_blk + 1) * 4 > s->cap_blk * 3 && !blk_grow(s))) {
		s->oom = true;
		return false;
	}
	b = blk_find(s, c->ev.pid, c->ptr_out);
	if (b) /* never seen freed: that incarnation is gone */
		blk_gone(s, b);
	for (j = blk_home(s, c->ev.pid, c->ptr_out); s->blk[j].ptr; j = (j + 1) & (s->cap_blk - 1))
		;
	s->blk[j] = (struct blk){ .ptr = c->ptr_out, .size = c->size, .seq = seq, .ts = c->ts_end,
				  .pid = c->ev.pid, .tid = c->ev.tid, .stk = (uint32_t)k };
	s->n_blk++;
	e = &s->stks[k];
	stk_sync(s, e);
	e->f.calls++;
	e->f.bytes += c->size;
	e->f.region_count[r]++;
	e->f.region_bytes[r] += c->size;
	e->cur_count++;
	e->cur_bytes += c->size;
	p->live_count++;
	p->live_bytes += c->size;
	if (p->live_bytes > p->peak_bytes) {
		p->peak_bytes = p->live_bytes;
		p->peak_count = p->live_count;
		p->peak_ts = c->ts_end;
		p->peak_no++;
	}
	return true;
}

unsigned am_sites__call(struct am_sites *s, const struct am_call_rec *c,
			const struct am_os_rec *os, size_t n_os)
{
	const struct am_call_event *ev = &c->ev;
	bool result_valid = !(ev->flags & (AM_CALL_MISSED | AM_CALL_NORET));
	uint64_t obtained = 0, *seq;
	unsigned done = 0;
	long k = -1;

	for (size_t i = 0; i < n_os; i++)
		obtained += os_rec(s, &os[i]);
	if (ev->flags & AM_CALL_NESTED)
		return 0;
	seq = thr_of(s, ev->pid, ev->tid);
	if (!seq) {
		s->oom = true;
		return 0;
	}
	if (releases(c, result_valid)) {
		struct blk *b = blk_find(s, ev->pid, c->ptr_in);

		/* a free that began before the call that returned this pointer
		 * ended freed the incarnation that call displaced (correlate.c) */
		if (b && b->ts <= ev->ts_enter) {
			struct sstk *e = &s->stks[b->stk];

			/* temporary: this free is its thread's next call after the
			 * one that made the block */
			if (am_role_frees(am_fn_role(ev->fn)) && b->tid == ev->tid && *seq == b->seq) {
				e->f.temp_count++;
				e->f.temp_bytes += b->size;
			}
			blk_gone(s, b);
			done |= AM_SITE_FREED;
		}
	}
	if ((c->allocates && c->ptr_out && result_valid) || obtained) {
		k = stk_of(s, ev->pid, c->stack);
		if (k < 0) {
			s->oom = true;
			return done;
		}
		s->stks[k].f.os_bytes += obtained;
		done |= AM_SITE_OS;
	}
	++*seq;
	if (c->allocates && c->ptr_out && result_valid && blk_new(s, c, k, *seq))
		done |= AM_SITE_ALLOC;
	return done;
}

void am_sites__each_live(const struct am_sites *s,
			 void (*fn)(void *ctx, uint32_t pid, uint64_t ptr, uint64_t size,
				    const struct am_stack *stack),
			 void *ctx)
{
	for (size_t j = 0; j < s->cap_blk; j++) {
		const struct blk *b = &s->blk[j];

		if (b->ptr)
			fn(ctx, b->pid, b->ptr, b->size, s->stks[b->stk].stack);
	}
}

void am_sites__task(struct am_sites *s, const struct am_task_event *t)
{
	if (t->kind != AM_TASK_EXEC || !s->n_blk)
		return;
	/* rare: rebuild the table without the old image's blocks */
	for (bool again = true; again;) {
		again = false;
		for (size_t j = 0; j < s->cap_blk; j++)
			if (s->blk[j].ptr && s->blk[j].pid == t->pid) {
				blk_gone(s, &s->blk[j]);
				again = true; /* the shift may have moved one behind j */
			}
	}
	struct sproc *p = proc_of(s, t->pid);
	if (p)
		p->brk = 0;
}

/* ---------- lifecycle ---------- */

struct am_sites *am_sites__new(uint32_t sample_every)
{
	struct am_sites *s = calloc(1, sizeof(struct am_sites));

	if (s)
		s->sample_every = sample_every > 1 ? sample_every : 1;
	return s;
}

void am_sites__free(struct am_sites *s)
{
	if (!s)
		return;
	free(s->stks);
	free(s->procs);
	free(s->thr_seq);
	free(s->blk);
	umap_free(&s->stk_ix);
	umap_free(&s->proc_ix);
	umap_free(&s->thr_ix);
	free(s->r_stacks);
	free(s->r_sites);
	free(s->r_procs);
	free(s);
}

/* ---------- report ---------- */

/* Allocator functions as a frame names them ("__libc_malloc" is malloc). */
static bool frame_is_alloc_fn(const struct am_frame *f)
{
	const char *sym = f->sym;

	if (!sym)
		return false;
	if (!strncmp(sym, "__libc_", 7))
		sym += 7;
	for (int fn = 0; fn < am_fn_count(); fn++)
		if (!strcmp(sym, am_fn_info(fn)->sym))
			return true;
	return false;
}

uint32_t am_site_skip(const struct am_stack *st)
{
	uint32_t i = 1;

	if (!st || !st->n)
		return 0;
	while (i < st->n && frame_is_alloc_fn(&st->f[i]))
		i++;
	return i;
}

uint64_t am_site_value(const struct am_site_fig *f, enum am_site_sort by)
{
	switch (by) {
	case AM_SORT_PEAK:  return f->peak_bytes;
	case AM_SORT_LEAK:  return f->leak_bytes;
	case AM_SORT_TEMP:  return f->temp_count;
	case AM_SORT_OS:    return f->os_bytes;
	case AM_SORT_CALLS: return f->calls;
	default:            return f->bytes;
	}
}

static void fig_add(struct am_site_fig *to, const struct am_site_fig *f)
{
	to->calls += f->calls;
	to->bytes += f->bytes;
	to->peak_count += f->peak_count;
	to->peak_bytes += f->peak_bytes;
	to->leak_count += f->leak_count;
	to->leak_bytes += f->leak_bytes;
	to->temp_count += f->temp_count;
	to->temp_bytes += f->temp_bytes;
	to->os_bytes += f->os_bytes;
	for (unsigned r = 0; r < AM_REG__COUNT; r++) {
		to->region_count[r] += f->region_count[r];
		to->region_bytes[r] += f->region_bytes[r];
	}
}

/* Largest bytes first, then calls; ties keep a fixed order. */
static int fig_cmp(const struct am_site_fig *x, const struct am_site_fig *y)
{
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->calls != y->calls)
		return x->calls > y->calls ? -1 : 1;
	if (x->os_bytes != y->os_bytes)
		return x->os_bytes > y->os_bytes ? -1 : 1;
	return 0;
}

/* The site frame of a stack entry: its address, or 0 with none. */
static const struct am_frame *site_frame(const struct am_site_stack *st)
{
	return st->stack && st->skip < st->stack->n ? &st->stack->f[st->skip] : NULL;
}

static int stack_cmp(const void *a, const void *b)
{
	const struct am_site_stack *x = a, *y = b;
	uint32_t ix = x->stack ? x->stack->id : UINT32_MAX, iy = y->stack ? y->stack->id : UINT32_MAX;
	int c = fig_cmp(&x->f, &y->f);

	if (c)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return ix < iy ? -1 : ix > iy;
}

/* Grouping order: pid, then frame address (no frame last). */
static int group_cmp(const void *a, const void *b)
{
	const struct am_site_stack *const *x = a, *const *y = b;
	const struct am_frame *fx = site_frame(*x), *fy = site_frame(*y);

	if ((*x)->pid != (*y)->pid)
		return (*x)->pid < (*y)->pid ? -1 : 1;
	if (!fx != !fy)
		return !fx - !fy;
	if (fx && fx->addr != fy->addr)
		return fx->addr < fy->addr ? -1 : 1;
	return *x < *y ? -1 : *x > *y; /* the stacks' order */
}

static int site_cmp(const void *a, const void *b)
{
	const struct am_site *x = a, *y = b;
	int c = fig_cmp(&x->f, &y->f);

	if (c)
		return c;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (!x->frame || !y->frame)
		return !x->frame - !y->frame;
	return x->frame->addr < y->frame->addr ? -1 : x->frame->addr > y->frame->addr;
}

/* A site and its index before sorting. */
struct site_ix {
	struct am_site s;
	uint32_t old;
};

static int site_ix_cmp(const void *a, const void *b)
{
	const struct site_ix *x = a, *y = b;
	int c = site_cmp(&x->s, &y->s);

	return c ? c : x->old < y->old ? -1 : x->old > y->old;
}

/* Groups the sorted stacks into sites (the innermost frame outside the
 * allocator of each), sorts them, and points each stack at its site. */
static bool group_sites(struct am_sites *s, size_t n)
{
	struct am_site_stack **by = malloc((n ? n : 1) * sizeof(*by));
	struct site_ix *g = calloc(n ? n : 1, sizeof(*g));
	uint32_t *rank = malloc((n ? n : 1) * sizeof(*rank));
	size_t k = 0;
	bool ok = by && g && rank;

	if (ok)
		s->r_sites = calloc(n ? n : 1, sizeof(*s->r_sites));
	if (!ok || !s->r_sites)
		goto out;
	for (size_t i = 0; i < n; i++)
		by[i] = &s->r_stacks[i];
	qsort(by, n, sizeof(*by), group_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct am_frame *f = site_frame(by[i]);
		struct am_site *cur = k ? &g[k - 1].s : NULL;

		if (!cur || cur->pid != by[i]->pid || !f != !cur->frame || (f && f->addr != cur->frame->addr)) {
			g[k].old = (uint32_t)k;
			cur = &g[k++].s;
			*cur = (struct am_site){ .pid = by[i]->pid, .frame = f };
		}
		cur->n_stacks++;
		fig_add(&cur->f, &by[i]->f);
		by[i]->site = (uint32_t)(k - 1);
	}
	if (k > 1)
		qsort(g, k, sizeof(*g), site_ix_cmp);
	for (size_t i = 0; i < k; i++) {
		s->r_sites[i] = g[i].s;
		rank[g[i].old] = (uint32_t)i;
	}
	for (size_t i = 0; i < n; i++)
		s->r_stacks[i].site = rank[s->r_stacks[i].site];
	s->rep.sites = s->r_sites;
	s->rep.n_sites = k;
	ok = true;
out:
	free(by);
	free(g);
	free(rank);
	return ok && s->r_sites;
}

const struct am_sites_report *am_sites__report(struct am_sites *s)
{
	size_t n = s->n_stks;

	free(s->r_stacks);
	free(s->r_sites);
	free(s->r_procs);
	s->r_sites = NULL;
	memset(&s->rep, 0, sizeof(s->rep));
	s->r_stacks = calloc(n ? n : 1, sizeof(*s->r_stacks));
	s->r_procs = calloc(s->n_procs ? s->n_procs : 1, sizeof(*s->r_procs));
	if (!s->r_stacks || !s->r_procs)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct sstk *e = &s->stks[i];
		const struct sproc *p = &s->procs[e->proc];
		struct am_site_stack *o = &s->r_stacks[i];

		*o = (struct am_site_stack){ .stack = e->stack, .pid = e->pid, .f = e->f,
					     .skip = am_site_skip(e->stack) };
		o->f.peak_count = e->sync == p->peak_no ? e->pk_count : e->cur_count;
		o->f.peak_bytes = e->sync == p->peak_no ? e->pk_bytes : e->cur_bytes;
		o->f.leak_count = e->cur_count;
		o->f.leak_bytes = e->cur_bytes;
	}
	if (n > 1)
		qsort(s->r_stacks, n, sizeof(*s->r_stacks), stack_cmp);
	for (size_t i = 0; i < n; i++)
		fig_add(&s->rep.total, &s->r_stacks[i].f);
	for (size_t i = 0; i < s->n_procs; i++)
		s->r_procs[i] = (struct am_sites_proc){ .pid = s->procs[i].pid,
			.peak_bytes = s->procs[i].peak_bytes, .peak_count = s->procs[i].peak_count,
			.peak_ts = s->procs[i].peak_ts };
	s->rep.stacks = s->r_stacks;
	s->rep.n_stacks = n;
	s->rep.procs = s->r_procs;
	s->rep.n_procs = s->n_procs;
	s->rep.incomplete = s->oom;
	s->rep.sample_every = s->sample_every;
	if (!group_sites(s, n))
		return NULL;
	return &s->rep;
}

static int ord_cmp(const void *a, const void *b, void *ctx)
{
	const struct am_sites_report *r = ((const void **)ctx)[0];
	enum am_site_sort by = *(const enum am_site_sort *)((const void **)ctx)[1];
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	uint64_t vx = am_site_value(&r->sites[x].f, by), vy = am_site_value(&r->sites[y].f, by);

	if (vx != vy)
		return vx > vy ? -1 : 1;
	return x < y ? -1 : x > y; /* r's order: bytes, then calls */
}

size_t *am_sites_order(const struct am_sites_report *r, enum am_site_sort by)
{
	const void *ctx[2] = { r, &by };
	size_t *ix;

	if (!r->n_sites || !(ix = malloc(r->n_sites * sizeof(*ix))))
		return NULL;
	for (size_t i = 0; i < r->n_sites; i++)
		ix[i] = i;
	qsort_r(ix, r->n_sites, sizeof(*ix), ord_cmp, ctx);
	return ix;
}
