// SPDX-License-Identifier: GPL-2.0
/* test_report.c - unit tests of the report model (report_model.c): heap,
 * mmapped and live accounting from synthetic records, regions and what
 * created them, adaptive timeline buckets, the live hash under churn, the
 * reservoir sample's bound and the threshold grid's size rows, and the
 * flame-graph frame tree (weights, merging, allocator marks, the cap). No
 * root. */
#include <stdio.h>
#include <stdlib.h>
#include "check.h"
#include "report_model.h"

static struct rm_rec os_rec(uint64_t ts, int sys, uint64_t addr, uint64_t len, uint64_t ret,
			    const char *region, uint64_t cause_call)
{
	struct rm_rec r = { .type = RM_T_OS, .ts = ts, .sys = sys, .addr = addr, .len = len, .ret = ret,
			    .region = region, .cause_call = cause_call != 0, .cause_id = cause_call,
			    .cause_fn = 0, .cause_size = 100, .fn = -1, .pid = 1, .tid = 1, .id = ts };
	return r;
}

static struct rm_rec call_rec(uint64_t ts, int fn, uint64_t size, uint64_t ptr, uint64_t ret,
			      const char *region, uint64_t id)
{
	struct rm_rec r = { .type = RM_T_CALL, .ts = ts, .fn = fn, .size = size, .has_size = true,
			    .ptr = ptr, .ret = ret, .has_ret = fn != 4, .region = region, .id = id,
			    .threshold = 131072, .pid = 1, .tid = 1, .cause_fn = -1 };
	return r;
}

/* Node of the flame tree under parent named name (obj NULL: any), -1 if none. */
static int fnode(const struct rm_model *m, int parent, const char *name, const char *obj)
{
	for (size_t i = 0; i < m->fl.nn; i++) {
		const struct rm_fnode *n = &m->fl.n[i];
		if ((int)n->parent == parent && !strcmp(rm_flame_str(m, n->name), name) &&
		    (!obj || !strcmp(rm_flame_str(m, n->obj), obj)))
			return (int)i;
	}
	return -1;
}

/* Node at the end of a root-first path of names, -1 if any is missing. */
static int fpath(const struct rm_model *m, const char *const *names, size_t n)
{
	int cur = 0;
	for (size_t i = 0; i < n && cur >= 0; i++)
		cur = fnode(m, cur, names[i], NULL);
	return cur;
}

#define F(sym_, obj_, line_) { .addr = 0x1000, .off = 4, .sym = sym_, .obj = obj_, .file = obj_ "/x.c", .line = line_ }

static void test_flame(void)
{
	struct rm_model *m = malloc(sizeof(*m));
	struct rm_rec r;
	/* innermost first, as in the JSON */
	const struct rm_frame brk0[] = { F("brk", "libc", 1), F("main", "prog", 90) };
	const struct rm_frame brk1[] = { F("__sbrk", "libc", 2), F("malloc", "libc", 3), F("init_heap", "prog", 30),
					 F("main", "prog", 98) };
	const struct rm_frame mm1[] = { F("__mmap", "libc", 4), F("malloc", "libc", 5), F("parse_config", "prog", 39),
					F("run_steps", "prog", 60), F("main", "prog", 99) };
	const struct rm_frame mm2[] = { F("__mmap", "libc", 4), F("calloc", "libc", 6), F("load_table", "prog", 47),
					F("run_steps", "prog", 61), F("main", "prog", 99) };
	const struct rm_frame un[] = { F("__munmap", "libc", 7), { .addr = 0x55aa, .off = 0x1234, .obj = "prog" },
				       { .addr = 0x7777 } };

	CHECK(m && rm_init(m) == 0, "flame: init");
	r = os_rec(100, RM_SYS_BRK, 0, 0, 0x1000000, NULL, 0); r.cause_direct = true;
	r.stack = brk0; r.n_stack = 2; r.alloc_frames = -1; rm_feed(m, &r);
	r = os_rec(200, RM_SYS_BRK, 0x1021000, 0, 0x1021000, NULL, 1);
	r.stack = brk1; r.n_stack = 4; r.alloc_frames = 2; rm_feed(m, &r);
	r = os_rec(300, RM_SYS_MMAP, 0, 200000, 0x7f0000000000, "mmap", 2);
	r.prot = "PROT_READ|PROT_WRITE"; r.flags = "MAP_PRIVATE|MAP_ANONYMOUS";
	r.stack = mm1; r.n_stack = 5; r.alloc_frames = 2; rm_feed(m, &r);
	r = os_rec(400, RM_SYS_MMAP, 0, 300000, 0x7f1000000000, "mmap", 3);
	r.prot = "PROT_READ|PROT_WRITE"; r.flags = "MAP_PRIVATE|MAP_ANONYMOUS";
	r.stack = mm2; r.n_stack = 5; r.alloc_frames = 2; rm_feed(m, &r);
	r = os_rec(500, RM_SYS_MUNMAP, 0x7f0000000000, 200704, 0, NULL, 4);
	r.stack = un; r.n_stack = 3; r.alloc_frames = 1; rm_feed(m, &r);
	r = os_rec(600, RM_SYS_MMAP, 0, 8192, 0x7f2000000000, "direct", 0); r.cause_direct = true;
	r.prot = "PROT_READ"; r.flags = "MAP_PRIVATE"; rm_feed(m, &r);   /* no stack */

	const struct rm_flame *fl = &m->fl;
	CHECK_EQ(fl->stacks, 5, "flame: stacks folded");
	CHECK_EQ(fl->no_stack, 1, "flame: request without a stack");
	CHECK_EQ(fl->n[0].bytes, 0x21000 + 200704 + 303104, "flame: root weighs every byte");
	CHECK_EQ(fl->n[0].count, 5, "flame: root counts every request");
	CHECK_STR(rm_flame_str(m, fl->n[0].name), "all", "flame: root name");
	int mainn = fnode(m, 0, "main", "prog");
	CHECK(mainn > 0, "flame: main under the root");
	CHECK_EQ(fl->n[mainn].bytes, 0x21000 + 200704 + 303104, "flame: main's bytes");
	CHECK_EQ(fl->n[mainn].count, 4, "flame: main merged over 4 requests");
	CHECK(fl->n[mainn].flags & RM_FN_LINES, "flame: main seen at several lines");
	const char *const p1[] = { "main", "run_steps", "parse_config", "malloc", "__mmap", "mmap" };
	int leaf = fpath(m, p1, 6);
	CHECK(leaf > 0, "flame: parse_config's path down to the mmap");
	if (leaf > 0) {
		CHECK_EQ(fl->n[leaf].bytes, 200704, "flame: parse_config's mmap bytes (page-rounded)");
		CHECK_EQ(fl->n[leaf].flags, RM_FN_SYS, "flame: the syscall pseudo-frame");
		CHECK_STR(rm_flame_str(m, fl->n[leaf].obj), "kernel", "flame: syscall frame's obj");
	}
	int pc = fpath(m, p1, 3), ma = fpath(m, p1, 4), rs = fpath(m, p1, 2);
	CHECK(pc > 0 && !(fl->n[pc].flags & RM_FN_ALLOC), "flame: the caller is not allocator internals");
	CHECK(ma > 0 && (fl->n[ma].flags & RM_FN_ALLOC), "flame: malloc's frame is allocator internals");
	CHECK(pc > 0 && fl->n[pc].line == 39 && !(fl->n[pc].flags & RM_FN_LINES), "flame: parse_config's line");
	CHECK(pc > 0 && !strcmp(rm_flame_str(m, fl->n[pc].file), "prog/x.c"), "flame: file kept");
	CHECK(rs > 0 && fl->n[rs].bytes == 200704 + 303104 && fl->n[rs].count == 2, "flame: run_steps = both children");
	CHECK(rs > 0 && (fl->n[rs].flags & RM_FN_LINES), "flame: run_steps at two lines");
	const char *const p2[] = { "main", "init_heap", "malloc", "__sbrk", "brk" };
	leaf = fpath(m, p2, 5);
	CHECK(leaf > 0 && fl->n[leaf].bytes == 0x21000, "flame: brk growth over the previous break");
	const char *const p3[] = { "0x7777", "prog+0x1234", "__munmap", "munmap" };
	leaf = fpath(m, p3, 4);
	CHECK(leaf > 0 && fl->n[leaf].bytes == 0 && fl->n[leaf].count == 1, "flame: unsymbolized frames, munmap weighs 0");
	CHECK(fnode(m, 0, "main", "libc") < 0, "flame: frames are keyed by object too");

	/* the weights on their own */
	struct rm_rec w = { .type = RM_T_OS, .sys = RM_SYS_MMAP, .len = 5000, .prot = "PROT_NONE",
			    .flags = "MAP_PRIVATE|MAP_ANONYMOUS" };
	CHECK_EQ(rm_os_bytes(&w, 0), 0, "weight: PROT_NONE reservation");
	w.prot = "PROT_READ|PROT_WRITE";
	CHECK_EQ(rm_os_bytes(&w, 0), 8192, "weight: anonymous mmap, page-rounded");
	w.failed = true;
	CHECK_EQ(rm_os_bytes(&w, 0), 0, "weight: failed mmap");
	w.failed = false;
	w.flags = "MAP_PRIVATE";
	CHECK_EQ(rm_os_bytes(&w, 0), 0, "weight: file mapping");
	w = (struct rm_rec){ .type = RM_T_OS, .sys = RM_SYS_MREMAP, .len = 8192, .new_len = 20000 };
	CHECK_EQ(rm_os_bytes(&w, 0), 20480 - 8192, "weight: mremap growth");
	w.new_len = 4096;
	CHECK_EQ(rm_os_bytes(&w, 0), 0, "weight: mremap shrink");
	w = (struct rm_rec){ .type = RM_T_OS, .sys = RM_SYS_MPROTECT, .len = 135168, .prot = "PROT_READ|PROT_WRITE",
			     .cause_call = true };
	CHECK_EQ(rm_os_bytes(&w, 0), 135168, "weight: arena mprotect");
	w.cause_call = false;
	w.cause_direct = true;
	CHECK_EQ(rm_os_bytes(&w, 0), 0, "weight: the program's own mprotect");
	w = (struct rm_rec){ .type = RM_T_OS, .sys = RM_SYS_BRK, .addr = 0x2000, .ret = 0x2000 };
	CHECK_EQ(rm_os_bytes(&w, 0), 0, "weight: brk without a known break");
	CHECK_EQ(rm_os_bytes(&w, 0x1000), 0x1000, "weight: brk growth");
	CHECK_EQ(rm_os_bytes(&w, 0x3000), 0, "weight: brk shrink");

	/* the cap: many distinct paths stop growing the tree, weights stay */
	char names[64];
	struct rm_frame deep[2] = { F("leaf", "prog", 1), F("main", "prog", 1) };
	uint64_t root_before = fl->n[0].bytes;
	for (int i = 0; i < RM_FLAME_CAP + 500; i++) {
		snprintf(names, sizeof(names), "f%d", i);
		deep[0].sym = names;
		r = os_rec(1000 + (uint64_t)i, RM_SYS_MMAP, 0, 4096, 0x7e0000000000 + (uint64_t)i * 4096, "mmap", 0);
		r.prot = "PROT_READ|PROT_WRITE"; r.flags = "MAP_PRIVATE|MAP_ANONYMOUS";
		r.stack = deep; r.n_stack = 2; r.alloc_frames = -1; rm_feed(m, &r);
	}
	CHECK_EQ(fl->nn, RM_FLAME_CAP, "flame: node cap");
	CHECK(fl->cut >= 500, "flame: cut paths counted");
	CHECK_EQ(fl->n[0].bytes, root_before + (uint64_t)(RM_FLAME_CAP + 500) * 4096, "flame: cut paths keep their weight");
	CHECK(!m->oom, "flame: no oom");
	rm_free(m);
	free(m);
}

/* Time order: a call (at its entry) comes before the mmap it made; it
 * applies once that is in, in the region the mmap made, never in a
 * synthetic one. A call whose requests never come applies at the end. */
/* RSS samples: the processes' sum at each sample, an exit drops a share,
 * past RM_RSS_CAP points pairs merge to the larger (the peak survives). */
static void test_rss(void)
{
	struct rm_model *m = calloc(1, sizeof(*m));
	struct rm_rec r;

	CHECK(m && rm_init(m) == 0, "rss: init");
	if (!m)
		return;
	memset(&r, 0, sizeof(r));
	r.type = RM_T_RSS; r.pid = 10; r.tid = 10; r.ts = 1000; r.rss = 4096; rm_feed(m, &r);
	r.pid = 11; r.tid = 11; r.ts = 2000; r.rss = 8192; rm_feed(m, &r);
	r.pid = 10; r.tid = 10; r.ts = 3000; r.rss = 12288; rm_feed(m, &r);
	CHECK_EQ(m->nrss, 3, "rss: a point per sample");
	CHECK_EQ(m->rss[1].bytes, 4096 + 8192, "rss: the sum of the processes' last samples");
	CHECK_EQ(m->rss[2].bytes, 12288 + 8192, "rss: a process's new sample replaces its share");
	CHECK_EQ(m->rss[2].t, 2000, "rss: relative time");
	r.type = RM_T_TASK; r.task_kind = "exit"; r.pid = 11; r.tid = 11; r.ts = 4000; rm_feed(m, &r);
	CHECK_EQ(m->nrss, 4, "rss: an exit is a point");
	CHECK_EQ(m->rss[3].bytes, 12288, "rss: the exited process's share is gone");
	CHECK_EQ(m->t_max, 3000, "rss: samples are no activity (the exit is)");
	r.type = RM_T_RSS; r.pid = 10; r.tid = 10;
	for (uint64_t i = 0; i < 3 * RM_RSS_CAP; i++) {
		r.ts = 5000 + i;
		r.rss = i == 777 ? 1 << 30 : 4096 * (i % 7 + 1);
		rm_feed(m, &r);
	}
	CHECK(m->nrss <= RM_RSS_CAP && m->rss_stride > 1, "rss: points capped, stride grown");
	CHECK_EQ(m->rss_samples, 3 * RM_RSS_CAP + 3, "rss: every sample counted");
	CHECK_EQ(m->rss_peak, 1 << 30, "rss: peak");
	CHECK_EQ(m->rss_peak_t, 5000 + 777 - 1000, "rss: peak time");
	uint64_t top = 0;
	for (size_t i = 0; i < m->nrss; i++)
		top = m->rss[i].bytes > top ? m->rss[i].bytes : top;
	CHECK_EQ(top, 1 << 30, "rss: the peak survives the merging");
	rm_free(m);
	free(m);
}

static void test_time_order(void)
{
	struct rm_model *m = malloc(sizeof(*m));
	struct rm_rec r;

	CHECK(m && rm_init(m) == 0, "order: init");
	r = call_rec(100, 0, 200000, 0, 0x7f0000000010, "mmap", 7);
	r.n_os = 1;
	rm_feed(m, &r);
	CHECK_EQ(m->live, 0, "order: the call waits for its mmap");
	r = os_rec(105, RM_SYS_MMAP, 0, 200704, 0x7f0000000000, "mmap", 7);
	r.prot = "PROT_READ|PROT_WRITE";
	rm_feed(m, &r);
	CHECK_EQ(m->live, 200000, "order: applied once its mmap is in");
	CHECK_EQ(m->nreg, 1, "order: one region, the mmap's");
	CHECK(m->synth[0] < 0 && m->synth[1] < 0 && m->synth[2] < 0, "order: no synthetic region");
	r = call_rec(200, 0, 300000, 0, 0x7f0000100010, "mmap", 8);
	r.n_os = 1;
	rm_feed(m, &r);
	memset(&r, 0, sizeof(r));
	r.type = RM_T_SUMMARY;
	rm_feed(m, &r);
	CHECK_EQ(m->live, 500000, "order: the summary applies a call whose request never came");
	rm_free(m);
	free(m);
}

int main(void)
{
	struct rm_model *m = malloc(sizeof(*m));
	struct rm_rec r;

	CHECK(m && rm_init(m) == 0, "init");
	/* heap: brk(NULL) then brk(+132 KiB) caused by malloc #1 */
	r = os_rec(1000, RM_SYS_BRK, 0, 0, 0x10000000, NULL, 0); rm_feed(m, &r);
	r = os_rec(2000, RM_SYS_BRK, 0x10021000, 0, 0x10021000, NULL, 1); rm_feed(m, &r);
	r = call_rec(1500, 0, 100, 0, 0x100002a0, "heap", 1); r.n_os = 2; rm_feed(m, &r);
	CHECK_EQ(m->heap, 0x21000, "heap size");
	CHECK_EQ(m->live, 100, "live after malloc");
	CHECK_EQ(m->reg[m->heap_reg].cause_call, 1, "heap created by call 1");
	/* an mmapped chunk, then its free unmaps it */
	r = os_rec(3000, RM_SYS_MMAP, 0, 200704, 0x7f0000000000, "mmap", 2); r.prot = "PROT_READ|PROT_WRITE"; rm_feed(m, &r);
	r = call_rec(2900, 0, 200000, 0, 0x7f0000000010, "mmap", 2); rm_feed(m, &r);
	CHECK_EQ(m->mmapped, 200704, "mmapped after mmap");
	CHECK_EQ(m->live, 200100, "live with the chunk");
	CHECK_EQ(m->nidx, 1, "one mapped region");
	int ri = m->idx[0];
	CHECK_EQ(m->reg[ri].live_count, 1, "chunk holds the allocation");
	r = os_rec(4000, RM_SYS_MUNMAP, 0x7f0000000000, 200704, 0, NULL, 3); rm_feed(m, &r);
	r = call_rec(3900, 4, 200000, 0x7f0000000010, 0, "mmap", 3); rm_feed(m, &r);
	CHECK_EQ(m->mmapped, 0, "mmapped after munmap");
	CHECK_EQ(m->live, 100, "live after free");
	CHECK(!m->reg[ri].mapped && m->reg[ri].t_end == 3000, "region unmapped at its munmap's time");
	/* arena: PROT_NONE reservation, trimmed, then 132 KiB made accessible */
	r = os_rec(5000, RM_SYS_MMAP, 0, 128 << 20, 0x7e0000000000, "arena", 4); r.prot = "PROT_NONE"; rm_feed(m, &r);
	CHECK_EQ(m->mmapped, 0, "a reservation is not mmapped bytes");
	r = os_rec(5100, RM_SYS_MUNMAP, 0x7e0000000000 + (64 << 20), 64 << 20, 0, NULL, 4); rm_feed(m, &r);
	r = os_rec(5200, RM_SYS_MPROTECT, 0x7e0000000000, 135168, 0, NULL, 4); r.prot = "PROT_READ|PROT_WRITE"; rm_feed(m, &r);
	CHECK_EQ(m->mmapped, 135168, "arena's accessible part");
	/* committing from the same start again (mimalloc: 64 KiB, then more)
	 * counts the union, never the sum of the lengths */
	r = os_rec(5300, RM_SYS_MPROTECT, 0x7e0000000000, 65536, 0, NULL, 4); r.prot = "PROT_READ|PROT_WRITE"; rm_feed(m, &r);
	CHECK_EQ(m->mmapped, 135168, "re-protect inside the accessible part: unchanged");
	r = os_rec(5400, RM_SYS_MPROTECT, 0x7e0000000000, 139264, 0, NULL, 4); r.prot = "PROT_READ|PROT_WRITE"; rm_feed(m, &r);
	CHECK_EQ(m->mmapped, 139264, "overlapping re-protect: one page more");
	CHECK_EQ(rm_region_committed(m, &m->reg[m->idx[0]]), 139264, "the arena region's committed bytes");
	CHECK_EQ(rm_figs(m)->mmap, 139264, "the figures are the model's");
	r = os_rec(5500, RM_SYS_MPROTECT, 0x7e0000000000 + 135168, 4096, 0, NULL, 4); r.prot = "PROT_NONE"; rm_feed(m, &r);
	CHECK_EQ(m->mmapped, 135168, "PROT_NONE takes the page back");
	CHECK_EQ(m->mmapped_peak, 200704, "mmapped peak: the chunk, earlier");
	CHECK_EQ(m->reg[m->idx[0]].end - m->reg[m->idx[0]].start, 64 << 20, "arena trimmed to 64 MiB");
	/* realloc of an mmapped chunk: mremap moves the region */
	r = os_rec(6000, RM_SYS_MMAP, 0, 200704, 0x7d0000000000, "mmap", 5); r.prot = "PROT_READ|PROT_WRITE"; rm_feed(m, &r);
	r = call_rec(5900, 0, 200000, 0, 0x7d0000000010, "mmap", 5); rm_feed(m, &r);
	r = os_rec(7000, RM_SYS_MREMAP, 0x7d0000000000, 204800, 0x7c0000000000, NULL, 6); r.new_len = 401408; rm_feed(m, &r);
	r = call_rec(6900, 2, 400000, 0x7d0000000010, 0x7c0000000010, "mmap", 6); rm_feed(m, &r);
	CHECK_EQ(m->live, 400100, "realloc replaces the old size");
	CHECK_EQ(m->mmapped, 135168 + 401408, "mremap resizes the chunk");
	/* churn: many malloc/free pairs over a long time */
	uint64_t t = 10000;
	for (uint64_t i = 0; i < 200000; i++, t += 50000) {
		r = call_rec(t, 0, 16 + i % 1000, 0, 0x10001000 + (i % 7) * 64, "heap", 100 + 2 * i); rm_feed(m, &r);
		r = call_rec(t + 100, 4, 16 + i % 1000, 0x10001000 + (i % 7) * 64, 0, "heap", 101 + 2 * i); rm_feed(m, &r);
	}
	CHECK_EQ(m->live, 400100, "churn leaves live bytes alone");
	CHECK_EQ(m->hcount, 2, "two allocations live after churn");
	CHECK(m->nsample == RM_ALLOC_CAP, "sample capped");
	CHECK(rm_nbuckets(m) <= RM_NBUCKETS && m->bw > 1000, "buckets widened");
	CHECK(m->t_max / m->bw < RM_NBUCKETS, "buckets cover the trace");
	CHECK_EQ(m->npoints, 200000 + 4, "points offered");
	uint64_t cells = 0;
	for (size_t i = 0; i < (size_t)RM_GRID_COLS * RM_GRID_ROWS * RM_NSERVED; i++)
		cells += m->grid[i];
	CHECK_EQ(cells, 200000 + 4, "grid counts every point");
	CHECK_EQ(m->heap_peak, 0x21000, "heap peak");
	/* size rows: 4 per octave */
	CHECK_EQ(rm_size_row(1024), 40, "row of 1 KiB");
	CHECK_EQ(rm_size_row(1280), 41, "row of 1.25 KiB");
	CHECK_EQ(rm_size_row(2047), 43, "row just under 2 KiB");
	CHECK_EQ(rm_fn_index("pvalloc", NULL), AM_FN_PVALLOC, "fn index");
	CHECK_EQ(rm_fn_index("operator delete", NULL), AM_FN_DELETE, "C++ fn index");
	CHECK_EQ(rm_fn_index("no_such_fn", NULL), RM_NFN - 1, "unknown fn is other");
	CHECK(rm_fn_index("my_pool_free", "free") >= AM_FN__COUNT, "--alloc fn registered from its role");
	CHECK(am_role_frees(am_fn_role(rm_fn_index("my_pool_free", NULL))), "registered fn keeps its role");
	CHECK_EQ(rm_sys_index("madvise"), RM_SYS_MADVISE, "sys index");
	rm_free(m);
	free(m);
	test_flame();
	test_time_order();
	test_rss();
	return check_report("report_unit");
}
