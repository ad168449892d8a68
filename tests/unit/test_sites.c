// SPDX-License-Identifier: GPL-2.0
/* test_sites.c - unit tests of the call-site profiles (sites.c): the
 * aggregation by stack and by call site, the temporaries rule, the lazy
 * snapshot at each process's live peak, realloc, exec, OS bytes, the sort
 * orders; the pprof encoder (pprof.c), checked by decoding its output; the
 * three-digit size format (sites_out.c). Synthetic records, no root. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "check.h"
#include "fmt.h"
#include "pprof.h"
#include "sites.h"
#include "sites_out.h"
#include "stack.h"

static const struct am_frame F_MALLOC = { .addr = 0x7f0000001000, .sym = "malloc", .obj = "libc.so.6" };
static const struct am_frame F_LIBC_MALLOC = { .addr = 0x7f0000001100, .sym = "__libc_malloc", .obj = "libc.so.6" };
static const struct am_frame F_A = { .addr = 0x555500001010, .off = 0x10, .sym = "site_a", .obj = "prog",
				     .file = "/src/prog.c", .line = 10, .build_id = "0123abcd" };
static const struct am_frame F_B = { .addr = 0x555500002020, .off = 0x20, .sym = "site_b", .obj = "prog",
				     .file = "/src/prog.c", .line = 20 };
static const struct am_frame F_C = { .addr = 0x555500003030, .off = 0x30, .sym = "site_c", .obj = "prog" };
static const struct am_frame F_MAIN = { .addr = 0x555500004040, .off = 0x40, .sym = "main", .obj = "prog",
					.file = "/src/prog.c", .line = 40 };
static const struct am_frame F_OTHER = { .addr = 0x555500005050, .off = 0x50, .sym = "other", .obj = "prog" };

static uint64_t next_id = 1, now = 1000;

static struct am_call_rec call(int fn, uint32_t pid, uint32_t tid, uint64_t size, uint64_t ptr_in,
			       uint64_t ptr_out, const struct am_stack *st)
{
	struct am_call_rec c = { 0 };

	c.ev.fn = (uint8_t)fn;
	c.ev.pid = pid;
	c.ev.tid = tid;
	c.ev.id = next_id++;
	c.ev.ts_enter = now;
	c.ev.ts_exit = now + 10;
	now += 100;
	c.ts_end = c.ev.ts_exit;
	c.size = size;
	c.ptr_in = ptr_in;
	c.has_ptr_in = am_role_frees(am_fn_role(fn)) || am_fn_role(fn) == AM_ROLE_REALLOC;
	c.allocates = am_role_allocates(am_fn_role(fn));
	c.ptr_out = ptr_out;
	c.region = AM_REG_HEAP;
	c.stack = st;
	return c;
}

static void do_malloc(struct am_sites *s, uint32_t tid, uint64_t size, uint64_t ptr, const struct am_stack *st)
{
	struct am_call_rec c = call(AM_FN_MALLOC, 100, tid, size, 0, ptr, st);

	am_sites__call(s, &c, NULL, 0);
}

static void do_free(struct am_sites *s, uint32_t tid, uint64_t ptr)
{
	struct am_call_rec c = call(AM_FN_FREE, 100, tid, 0, ptr, 0, NULL);

	am_sites__call(s, &c, NULL, 0);
}

/* The stack entry of r whose stack is st (NULL: the one without). */
static const struct am_site_stack *stack_in(const struct am_sites_report *r, const struct am_stack *st)
{
	for (size_t i = 0; i < r->n_stacks; i++)
		if (r->stacks[i].stack == st)
			return &r->stacks[i];
	return NULL;
}

static void test_figures(void)
{
	struct am_stacktab *t = am_stacktab__new();
	struct am_frame fa[] = { F_MALLOC, F_A, F_MAIN }, fb[] = { F_MALLOC, F_B, F_MAIN },
			fc[] = { F_MALLOC, F_C, F_MAIN }, fb2[] = { F_MALLOC, F_B, F_OTHER, F_MAIN };
	const struct am_stack *a = am_stacktab__intern(t, 100, fa, 3, 0), *b = am_stacktab__intern(t, 100, fb, 3, 0),
			      *c = am_stacktab__intern(t, 100, fc, 3, 0), *b2 = am_stacktab__intern(t, 100, fb2, 4, 0);
	struct am_sites *s = am_sites__new(0);
	const struct am_sites_report *r;
	const struct am_site_stack *e;

	do_malloc(s, 1, 50, 0x1000, c);          /* leaked */
	do_malloc(s, 1, 1000, 0x2000, b);
	do_malloc(s, 1, 1000, 0x3000, b2);        /* live 2050: the peak */
	do_free(s, 1, 0x2000);                    /* not its next call: not temporary */
	for (int i = 0; i < 3; i++) {             /* temporaries: 3 x 100 */
		do_malloc(s, 1, 100, 0x4000, a);
		do_free(s, 1, 0x4000);
	}
	do_malloc(s, 1, 200, 0x5000, a);          /* freed by another thread: not temporary */
	do_free(s, 2, 0x5000);
	do_malloc(s, 1, 300, 0x6000, a);          /* another thread's call in between: temporary */
	do_malloc(s, 2, 1, 0x7000, NULL);
	do_free(s, 1, 0x6000);
	do_free(s, 2, 0x9999);                    /* unknown pointer: nothing */
	r = am_sites__report(s);
	CHECK(r != NULL, "report");
	CHECK_EQ(r->n_stacks, 5, "stacks: a, b, b2, c, none");
	CHECK_EQ(r->total.calls, 9, "allocations");
	CHECK_EQ(r->total.bytes, 50 + 2000 + 300 + 200 + 300 + 1, "bytes");
	CHECK_EQ(r->total.peak_bytes, 2050, "the peak is the process's");
	CHECK_EQ(r->procs[0].peak_bytes, 2050, "process peak");
	CHECK_EQ(r->procs[0].peak_count, 3, "process peak count");
	e = stack_in(r, a);
	CHECK(e && e->f.calls == 5 && e->f.bytes == 800, "a: 5 calls, 800 bytes");
	CHECK(e && e->f.temp_count == 4 && e->f.temp_bytes == 600, "a: 4 temporaries (3 x 100 + 300)");
	CHECK(e && e->f.peak_bytes == 0 && e->f.leak_bytes == 0, "a: nothing at the peak or at the end");
	CHECK(e && e->f.region_count[AM_REG_HEAP] == 5 && e->skip == 1, "a: regions, skip");
	e = stack_in(r, b);
	CHECK(e && e->f.peak_bytes == 1000 && e->f.peak_count == 1 && e->f.leak_bytes == 0 && e->f.temp_count == 0,
	      "b: at the peak, freed later, not temporary");
	e = stack_in(r, b2);
	CHECK(e && e->f.peak_bytes == 1000 && e->f.leak_count == 1 && e->f.leak_bytes == 1000, "b2: leaked");
	e = stack_in(r, c);
	CHECK(e && e->f.peak_bytes == 50 && e->f.leak_bytes == 50, "c: leaked, at the peak");
	e = stack_in(r, NULL);
	CHECK(e && e->f.calls == 1 && e->f.leak_bytes == 1 && e->pid == 100, "calls without a stack: one entry");
	/* sites: b and b2 share the frame of site_b */
	CHECK_EQ(r->n_sites, 4, "sites: a, b, c, none");
	CHECK(r->sites[0].frame && r->sites[0].frame->addr == F_B.addr && r->sites[0].n_stacks == 2 &&
	      r->sites[0].f.bytes == 2000 && r->sites[0].f.peak_bytes == 2000, "largest site first: site_b, 2 stacks");
	CHECK(r->sites[1].frame && r->sites[1].frame->addr == F_A.addr, "then site_a");
	CHECK(r->sites[3].frame == NULL, "the stackless site has no frame");
	CHECK(r->stacks[stack_in(r, b2) - r->stacks].site == 0, "b2 points at its site");
	size_t *ix = am_sites_order(r, AM_SORT_LEAK);
	CHECK(ix && r->sites[ix[0]].f.leak_bytes == 1000 && r->sites[ix[1]].f.leak_bytes == 50, "sorted by leak");
	free(ix);
	ix = am_sites_order(r, AM_SORT_TEMP);
	CHECK(ix && r->sites[ix[0]].frame == r->sites[1].frame, "sorted by temporaries: site_a");
	free(ix);

	/* a later, higher peak: the lazy snapshot moves with it */
	do_malloc(s, 1, 5000, 0x8000, a);
	r = am_sites__report(s);
	CHECK_EQ(r->total.peak_bytes, 1050 + 1 + 5000, "new peak");
	CHECK(stack_in(r, b)->f.peak_bytes == 0 && stack_in(r, b2)->f.peak_bytes == 1000 &&
	      stack_in(r, a)->f.peak_bytes == 5000, "at the new peak");
	am_sites__free(s);
	am_stacktab__free(t);
}

static void test_realloc_exec_os(void)
{
	struct am_stacktab *t = am_stacktab__new();
	struct am_frame fa[] = { F_MALLOC, F_LIBC_MALLOC, F_A, F_MAIN }, fb[] = { F_MALLOC, F_B, F_MAIN };
	const struct am_stack *a = am_stacktab__intern(t, 100, fa, 4, 0), *b = am_stacktab__intern(t, 100, fb, 3, 0);
	struct am_sites *s = am_sites__new(7);
	const struct am_sites_report *r;
	struct am_call_rec c;
	struct am_os_rec os[2] = { 0 };
	struct am_task_event ex = { .type = AM_EV_TASK, .kind = AM_TASK_EXEC, .pid = 100, .tid = 100 };

	CHECK_EQ(am_site_skip(a), 2, "malloc over __libc_malloc: both inside the allocator");
	CHECK_EQ(am_site_skip(b), 1, "frame 0 only");
	/* a direct brk sets the break; the call's brk grows it by 0x21000, its mmap obtains 3 pages */
	os[0].ev = (struct am_os_event){ .sys = AM_SYS_BRK, .pid = 100, .args = { 0x600000 }, .ret = 0x600000 };
	os[0].direct = true;
	am_sites__os(s, &os[0]);
	os[0].ev = (struct am_os_event){ .sys = AM_SYS_BRK, .pid = 100, .args = { 0x621000 }, .ret = 0x621000 };
	os[0].direct = false;
	os[1].ev = (struct am_os_event){ .sys = AM_SYS_MMAP, .pid = 100,
					 .args = { 0, 3 * 4096 - 100, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS },
					 .ret = 0x7f0000100000 };
	c = call(AM_FN_MALLOC, 100, 1, 64, 0, 0x600010, a);
	am_sites__call(s, &c, os, 2);
	/* realloc moves it: the old block is released (not temporary) */
	c = call(AM_FN_REALLOC, 100, 1, 128, 0x600010, 0x600100, b);
	am_sites__call(s, &c, NULL, 0);
	/* a nested call counts nowhere */
	c = call(AM_FN_MALLOC, 100, 1, 999, 0, 0x700000, b);
	c.ev.flags = AM_CALL_NESTED;
	am_sites__call(s, &c, NULL, 0);
	/* a free that began before the block's call ended freed an older incarnation */
	c = call(AM_FN_FREE, 100, 3, 0, 0x600100, 0, NULL);
	c.ev.ts_enter = 1;
	am_sites__call(s, &c, NULL, 0);
	r = am_sites__report(s);
	CHECK_EQ(r->sample_every, 7, "sample rate reported");
	CHECK(stack_in(r, a)->f.os_bytes == 0x21000 + 3 * 4096, "OS bytes: brk growth + mmap pages");
	CHECK(stack_in(r, a)->f.temp_count == 0 && stack_in(r, a)->f.leak_bytes == 0, "realloc'd: gone, not temporary");
	CHECK(stack_in(r, b)->f.calls == 1 && stack_in(r, b)->f.leak_bytes == 128, "realloc: new block, nested ignored");
	CHECK_EQ(r->procs[0].peak_bytes, 128, "realloc releases before it allocates: peak 128, not 192");
	/* the same pointer returned again, never seen freed: the first is gone */
	c = call(AM_FN_MALLOC, 100, 1, 10, 0, 0x600100, a);
	am_sites__call(s, &c, NULL, 0);
	r = am_sites__report(s);
	CHECK(stack_in(r, b)->f.leak_bytes == 0 && stack_in(r, a)->f.leak_bytes == 10, "displaced");
	am_sites__task(s, &ex);
	r = am_sites__report(s);
	CHECK_EQ(r->total.leak_bytes, 0, "exec drops the blocks");
	CHECK_EQ(r->total.peak_bytes, 128, "the peak stays");
	am_sites__free(s);
	am_sites__free(NULL);
	am_stacktab__free(t);
}

struct live_sum {
	size_t n;
	uint64_t bytes, ptr;
	const struct am_stack *st;
};

static void sum_live(void *ctx, uint32_t pid, uint64_t ptr, uint64_t size, const struct am_stack *st)
{
	struct live_sum *l = ctx;

	(void)pid;
	l->n++;
	l->bytes += size;
	l->ptr = ptr;
	l->st = st;
}

/* What am_sites__call says it did with each call (the report's call-site
 * lists rely on it), and the walk over the live blocks. */
static void test_call_flags(void)
{
	struct am_stacktab *t = am_stacktab__new();
	struct am_frame fa[] = { F_MALLOC, F_A, F_MAIN };
	const struct am_stack *a = am_stacktab__intern(t, 100, fa, 3, 0);
	struct am_sites *s = am_sites__new(1);
	struct am_os_rec os = { 0 };
	struct live_sum l = { 0 };
	struct am_call_rec c;

	c = call(AM_FN_MALLOC, 100, 1, 64, 0, 0x1000, a);
	CHECK_EQ(am_sites__call(s, &c, NULL, 0), AM_SITE_ALLOC | AM_SITE_OS, "an allocation");
	c = call(AM_FN_REALLOC, 100, 1, 128, 0x1000, 0x2000, a);
	CHECK_EQ(am_sites__call(s, &c, NULL, 0), AM_SITE_FREED | AM_SITE_ALLOC | AM_SITE_OS, "realloc: freed and allocated");
	c = call(AM_FN_FREE, 100, 1, 0, 0x1000, 0, NULL);
	CHECK_EQ(am_sites__call(s, &c, NULL, 0), 0, "a free of a pointer not live: nothing");
	c = call(AM_FN_MALLOC, 100, 1, 5, 0, 0x3000, a);
	c.ev.flags = AM_CALL_NESTED;
	CHECK_EQ(am_sites__call(s, &c, NULL, 0), 0, "nested: nothing");
	/* a failed malloc that mapped memory: its OS bytes count, no block */
	os.ev = (struct am_os_event){ .sys = AM_SYS_MMAP, .pid = 100, .args = { 0, 4096, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS }, .ret = 0x7f0000000000 };
	c = call(AM_FN_MALLOC, 100, 1, 1 << 30, 0, 0, a);
	CHECK_EQ(am_sites__call(s, &c, &os, 1), AM_SITE_OS, "OS bytes without a block");
	c = call(AM_FN_MALLOC, 100, 1, 7, 0, 0x4000, NULL);
	CHECK_EQ(am_sites__call(s, &c, NULL, 0), AM_SITE_ALLOC | AM_SITE_OS, "an allocation without a stack");
	am_sites__each_live(s, sum_live, &l);
	CHECK(l.n == 2 && l.bytes == 128 + 7, "live blocks walked: the realloc'd one and the stackless one");
	c = call(AM_FN_FREE, 100, 1, 0, 0x4000, 0, NULL);
	CHECK_EQ(am_sites__call(s, &c, NULL, 0), AM_SITE_FREED, "a free of a live block");
	memset(&l, 0, sizeof(l));
	am_sites__each_live(s, sum_live, &l);
	CHECK(l.n == 1 && l.ptr == 0x2000 && l.st == a && l.bytes == 128, "one block left, with its stack");
	am_sites__free(s);
	am_stacktab__free(t);
}

/* ---- a minimal profile.proto reader ---- */

struct rd {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t varint(struct rd *r)
{
	uint64_t v = 0;

	for (int sh = 0; sh < 64; sh += 7) {
		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << sh;
		if (!(b & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

/* Next field: its number, wire type, and for length-delimited ones the
 * sub-reader; 0 at the end. */
static unsigned field(struct rd *r, unsigned *wt, uint64_t *val, struct rd *sub)
{
	uint64_t k;

	if (r->p >= r->end || r->bad)
		return 0;
	k = varint(r);
	*wt = k & 7;
	if (*wt == 0) {
		*val = varint(r);
	} else if (*wt == 2) {
		uint64_t n = varint(r);

		if (n > (uint64_t)(r->end - r->p)) {
			r->bad = true;
			return 0;
		}
		*sub = (struct rd){ r->p, r->p + n, false };
		r->p += n;
	} else {
		r->bad = true;
		return 0;
	}
	return (unsigned)(k >> 3);
}

static void test_pprof(void)
{
	struct am_stacktab *t = am_stacktab__new();
	struct am_frame fa[] = { F_MALLOC, F_A, F_MAIN }, fb[] = { F_MALLOC, F_B, F_MAIN };
	const struct am_stack *a = am_stacktab__intern(t, 100, fa, 3, 0), *b = am_stacktab__intern(t, 100, fb, 3, 0);
	struct am_sites *s = am_sites__new(1);
	struct am_pprof_meta m = { .period = 1, .time_ns = 123, .duration_ns = 456 };
	uint8_t *buf;
	size_t len;
	struct rd r, sub, sub2;
	unsigned wt, f, n_samples = 0, n_types = 0, n_loc = 0, n_fn = 0, n_map = 0;
	uint64_t v, sums[5] = { 0 }, period = 0, dur = 0, leaf_fn_name[2] = { 0 };
	const char *strs[64];
	unsigned n_str = 0;
	uint64_t loc_fn[16] = { 0 }, fn_name[16] = { 0 }, first_loc[2] = { 0 }, map_bid = 0;

	do_malloc(s, 1, 100, 0x1000, a);
	do_malloc(s, 1, 30, 0x2000, b);
	do_malloc(s, 1, 30, 0x3000, b);
	do_free(s, 1, 0x3000);
	CHECK(am_pprof_encode(am_sites__report(s), &m, &buf, &len) == 0, "encoded");
	r = (struct rd){ buf, buf + len, false };
	while ((f = field(&r, &wt, &v, &sub))) {
		switch (f) {
		case 1: n_types++; break;
		case 2: {
			unsigned k = 0;
			while ((f = field(&sub, &wt, &v, &sub2))) {
				if (f == 2)
					for (k = 0; sub2.p < sub2.end && k < 5; k++)
						sums[k] += varint(&sub2);
				if (f == 1 && n_samples < 2)
					first_loc[n_samples] = varint(&sub2);
			}
			n_samples++;
			break;
		}
		case 3:
			while ((f = field(&sub, &wt, &v, &sub2)))
				if (f == 6)
					map_bid = v;
			n_map++;
			break;
		case 4: {
			uint64_t id = 0, fid = 0;
			while ((f = field(&sub, &wt, &v, &sub2))) {
				if (f == 1)
					id = v;
				if (f == 4)
					while ((f = field(&sub2, &wt, &v, &sub)))
						if (f == 1)
							fid = v;
			}
			if (id < 16)
				loc_fn[id] = fid;
			n_loc++;
			break;
		}
		case 5: {
			uint64_t id = 0, name = 0;
			while ((f = field(&sub, &wt, &v, &sub2))) {
				if (f == 1)
					id = v;
				if (f == 2)
					name = v;
			}
			if (id < 16)
				fn_name[id] = name;
			n_fn++;
			break;
		}
		case 6:
			if (n_str < 64) {
				char *c = calloc(1, (size_t)(sub.end - sub.p) + 1);
				memcpy(c, sub.p, (size_t)(sub.end - sub.p));
				strs[n_str++] = c;
			}
			break;
		case 10: dur = v; break;
		case 12: period = v; break;
		}
	}
	CHECK(!r.bad, "well-formed");
	CHECK_EQ(n_types, 5, "five sample types");
	CHECK_EQ(n_samples, 2, "one sample per stack");
	CHECK_EQ(sums[0], 3, "alloc_objects");
	CHECK_EQ(sums[1], 160, "alloc_space");
	CHECK_EQ(sums[2], 2, "inuse_objects");
	CHECK_EQ(sums[3], 130, "inuse_space");
	CHECK_EQ(n_loc, 3, "locations: site_a, site_b, main (the allocator's frames left out)");
	CHECK_EQ(n_fn, 3, "functions");
	CHECK_EQ(n_map, 1, "one mapping: prog");
	CHECK_EQ(period, 1, "period");
	CHECK_EQ(dur, 456, "duration");
	CHECK(n_str > 0 && strs[0][0] == '\0', "string table starts with \"\"");
	CHECK(map_bid && map_bid < n_str && !strcmp(strs[map_bid], "0123abcd"), "the mapping's build id");
	for (int i = 0; i < 2; i++)
		leaf_fn_name[i] = first_loc[i] < 16 ? fn_name[loc_fn[first_loc[i]]] : 0;
	CHECK(leaf_fn_name[0] < n_str && !strcmp(strs[leaf_fn_name[0]], "site_a"), "largest first, leaf site_a");
	CHECK(leaf_fn_name[1] < n_str && !strcmp(strs[leaf_fn_name[1]], "site_b"), "then site_b");
	for (unsigned i = 0; i < n_str; i++)
		free((void *)strs[i]);
	free(buf);
	am_sites__free(s);
	am_stacktab__free(t);
}

static void test_fmt(void)
{
	char b[32];

	CHECK_STR(am_fmt_size3(b, sizeof(b), 0), "0 B", "0");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1023), "1023 B", "bytes");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 7000), "6.84 KiB", "three digits");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 21000), "20.5 KiB", "three digits");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 500000), "488 KiB", "three digits");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 1048064), "1.00 MiB", "rounds up to the next unit");
	CHECK_STR(am_fmt_size3(b, sizeof(b), 3ULL << 30), "3.00 GiB", "GiB");
	CHECK_EQ(am_site_sort_by_name("temp"), AM_SORT_TEMP, "sort names");
	CHECK_EQ(am_site_sort_by_name("nope"), -1, "unknown sort");
}

int main(void)
{
	test_figures();
	test_realloc_exec_os();
	test_call_flags();
	test_pprof();
	test_fmt();
	return check_report("test_sites");
}
