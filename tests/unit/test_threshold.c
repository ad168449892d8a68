// SPDX-License-Identifier: GPL-2.0
/* test_threshold.c - unit tests of glibc's mmap threshold as allocmap knows
 * it: reading mp_ through glibc's DWARF (user/probe/glibc_params.c) from this very
 * process, the environment rules, and the correlator's per-process threshold
 * state (user/core/correlate.c): unknown -> narrowed -> known, fork inheritance,
 * exec reset, one threshold per pid. Events are shaped like the BPF side's
 * (OS events first, then their call at its return). */
#include <malloc.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "correlate.h"
#include "glibc_params.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024)
#define HEAP0 0x555555559000ULL
#define RW    (PROT_READ | PROT_WRITE)
#define ANON  (MAP_PRIVATE | MAP_ANONYMOUS)
#define LIBC  "/usr/lib/x86_64-linux-gnu/libc.so.6"

/* ---------- recording sink ---------- */

#define MAX_REC 64
static struct {
	struct am_call_rec call[MAX_REC];
	size_t n_call;
	struct am_threshold_rec thr[MAX_REC];
	size_t n_thr;
} R;

static void s_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	(void)ctx, (void)os, (void)n;
	if (R.n_call < MAX_REC)
		R.call[R.n_call++] = *c;
}

static void s_thr(void *ctx, const struct am_threshold_rec *t)
{
	(void)ctx;
	if (R.n_thr < MAX_REC)
		R.thr[R.n_thr++] = *t;
}

static struct am_corr *C;
static uint64_t next_call = 1, next_os = 1, now = 1000;

static void setup(bool attach)
{
	struct am_corr_opts o = {
		.sink = { .call = s_call, .threshold = s_thr },
		.glibc = true, .threshold_attach = attach,
	};

	am_corr__free(C);
	memset(&R, 0, sizeof(R));
	C = am_corr__new(&o);
	next_call = next_os = 1;
}

static void os(uint32_t pid, uint64_t cid, int fn, int sys, int64_t ret,
	       uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct am_os_event e = {
		.type = AM_EV_OS, .sys = (uint8_t)sys, .cause_fn = (uint8_t)(cid ? fn : 0),
		.pid = pid, .tid = pid, .id = next_os++, .call_id = cid,
		.ts_enter = now++, .ts_exit = now++,
		.args = { a0, a1, a2, a3, sys == AM_SYS_MMAP ? (uint64_t)-1 : 0, 0 },
		.ret = ret,
	};
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "os event accepted");
}

static void call(uint32_t pid, uint64_t cid, int fn, uint32_t n_os, uint64_t a0, uint64_t ret)
{
	struct am_call_event e = {
		.type = AM_EV_CALL, .fn = (uint8_t)fn, .n_os = n_os,
		.pid = pid, .tid = pid, .id = cid, .ts_enter = now++, .ts_exit = now++,
		.args = { a0 }, .ret = ret, .out = ret,
	};
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "call event accepted");
}

/* realloc(NULL, size) whose nested malloc made the brk; returns ret. */
static void realloc_null(uint32_t pid, uint64_t size, uint64_t ret, uint64_t brk_to)
{
	uint64_t id = next_call++, nid = next_call++;
	struct am_call_event n = {
		.type = AM_EV_CALL, .fn = AM_FN_MALLOC, .flags = AM_CALL_NESTED, .depth = 1,
		.pid = pid, .tid = pid, .id = nid, .ts_enter = now++, .ts_exit = now++,
		.args = { size }, .ret = ret, .out = ret,
	};
	struct am_call_event e = {
		.type = AM_EV_CALL, .fn = AM_FN_REALLOC, .n_os = 1,
		.pid = pid, .tid = pid, .id = id, .ts_enter = now++, .ts_exit = now++,
		.args = { 0, size }, .ret = ret, .out = ret,
	};

	os(pid, id, AM_FN_REALLOC, AM_SYS_BRK, (int64_t)brk_to, brk_to, 0, 0, 0);
	CHECK_EQ(am_corr__event(C, &n, sizeof(n)), 0, "nested malloc accepted");
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "realloc accepted");
}

static void task(uint32_t pid, int kind, uint32_t child)
{
	struct am_task_event e = { .type = AM_EV_TASK, .kind = (uint8_t)kind, .pid = pid,
				   .tid = pid, .child = child, .ts = now++ };

	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "task event accepted");
}

static const struct am_call_rec *last(void)
{
	return &R.call[R.n_call - 1];
}

/* malloc(size) served from the heap; grow: it made brk move first. */
static void heap_malloc(uint32_t pid, uint64_t size, uint64_t ret, uint64_t brk_to)
{
	uint64_t id = next_call++;

	if (brk_to)
		os(pid, id, AM_FN_MALLOC, AM_SYS_BRK, (int64_t)brk_to, brk_to, 0, 0, 0);
	call(pid, id, AM_FN_MALLOC, brk_to ? 1 : 0, size, ret);
}

/* malloc(size) served by its own mmap of len at a, then (free_it) its free. */
static void mmap_malloc(uint32_t pid, uint64_t size, uint64_t a, uint64_t len, bool free_it)
{
	uint64_t id = next_call++;

	os(pid, id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)a, 0, len, RW, ANON);
	call(pid, id, AM_FN_MALLOC, 1, size, a + 0x10);
	if (!free_it)
		return;
	id = next_call++;
	os(pid, id, AM_FN_FREE, AM_SYS_MUNMAP, 0, a, len, 0, 0);
	call(pid, id, AM_FN_FREE, 1, a + 0x10, 0);
}

static void seed_heap(uint32_t pid)
{
	char maps[128];
	FILE *f;

	snprintf(maps, sizeof(maps), "%llx-%llx rw-p 00000000 00:00 0 [heap]\n",
		 (unsigned long long)HEAP0, (unsigned long long)(HEAP0 + 0x21000));
	f = fmemopen(maps, strlen(maps), "r");
	CHECK(f && am_corr__seed_maps(C, pid, f) == 1, "heap seeded");
	if (f)
		fclose(f);
}

/* ---------- correlator ---------- */

/* Attached without debug info: unknown, narrowed by what the process does,
 * known again after a free of an mmapped chunk. */
static void test_unknown_narrowed_known(void)
{
	const uint32_t P = 200;
	struct am_thr unk = { .lo = AM_GLIBC_THR_START, .hi = AM_GLIBC_THR_MAX,
			      .source = AM_THR_SRC_UNKNOWN };
	struct am_summary s;

	setup(true);
	CHECK_EQ(am_corr__set_threshold(C, P, &unk), 0, "set unknown");
	seed_heap(P);

	/* a thread's first call may grow the heap for its tcache: no lower bound */
	heap_malloc(P, 200000, HEAP0 + 0x10, HEAP0 + 0x52000);
	CHECK_EQ(last()->threshold, 0, "no value while unknown");
	CHECK_EQ(last()->reason, AM_WHY_NONE, "no reason between the bounds");
	CHECK_EQ(last()->thr_lo, 128 * KiB, "lo still glibc's start");
	CHECK_EQ(last()->thr_hi, 32 * MiB, "hi still glibc's max");

	/* same thread again, grows the heap: threshold > nb */
	heap_malloc(P, 200000, HEAP0 + 0x31000, HEAP0 + 0x83000);
	CHECK_EQ(last()->thr_lo, 200016 + 1, "heap growth: threshold > nb (200016)");
	CHECK_EQ(last()->reason, AM_WHY_UNDER_THRESHOLD, "under: proved by the growth");

	/* small: under the lower bound without any syscall */
	heap_malloc(P, 1000, HEAP0 + 0x62000, 0);
	CHECK_EQ(last()->reason, AM_WHY_UNDER_THRESHOLD, "nb < lo: under");

	/* 1 MiB served by its own mmap: threshold <= nb */
	mmap_malloc(P, 1 * MiB, 0x7f0000000000ULL, MiB + 4096, false);
	CHECK_EQ(last()->reason, AM_WHY_OVER_THRESHOLD, "own mmap: over");
	CHECK_EQ(last()->thr_hi, MiB + 16, "own mmap: threshold <= nb");
	CHECK_EQ(last()->threshold, 0, "still unknown");

	/* its free: threshold = max(threshold, 1 MiB + 4 KiB) = 1 MiB + 4 KiB */
	{
		uint64_t id = next_call++;

		os(P, id, AM_FN_FREE, AM_SYS_MUNMAP, 0, 0x7f0000000000ULL, MiB + 4096, 0, 0);
		call(P, id, AM_FN_FREE, 1, 0x7f0000000010ULL, 0);
	}
	CHECK_EQ(R.n_thr, 1, "threshold record");
	CHECK_EQ(R.thr[0].old_value, 0, "old unknown");
	CHECK_EQ(R.thr[0].old_lo, 200017, "old lo");
	CHECK_EQ(R.thr[0].old_hi, MiB + 16, "old hi");
	CHECK_EQ(R.thr[0].new_value, MiB + 4096, "known again");

	heap_malloc(P, 600000, HEAP0 + 0x63000, 0);
	CHECK_EQ(last()->threshold, MiB + 4096, "value in later calls");
	CHECK_EQ(last()->reason, AM_WHY_UNDER_THRESHOLD, "under the known value");

	s = (struct am_summary){ 0 };
	am_corr__finish(C, NULL, 0, 0, &s);
	CHECK(!s.thr_start.known && s.thr_start.source == AM_THR_SRC_UNKNOWN, "start unknown");
	CHECK_EQ(s.threshold_start, 0, "no start value");
	CHECK(s.thr_end.known, "end known");
	CHECK_EQ(s.threshold_end, MiB + 4096, "end value");
	CHECK_EQ(s.threshold_changes, 1, "one change");
}

/* The first outer call on a thread proves nothing even when a nested call
 * came first (realloc(NULL, n) -> malloc: the tcache may be set up inside). */
static void test_first_call_nested(void)
{
	const uint32_t P = 202;
	struct am_thr unk = { .lo = AM_GLIBC_THR_START, .hi = AM_GLIBC_THR_MAX,
			      .source = AM_THR_SRC_UNKNOWN };

	setup(true);
	am_corr__set_threshold(C, P, &unk);
	seed_heap(P);
	realloc_null(P, 200000, HEAP0 + 0x10, HEAP0 + 0x52000);
	CHECK_EQ(last()->ev.fn, AM_FN_REALLOC, "outer realloc delivered last");
	CHECK_EQ(last()->thr_lo, 128 * KiB, "first outer call on the thread: no lower bound");
	realloc_null(P, 200000, HEAP0 + 0x31000, HEAP0 + 0x83000);
	CHECK_EQ(last()->thr_lo, 200017, "second: threshold > nb");
}

/* A free of a chunk not larger than the lower bound cannot move it; a larger
 * one whose allocation was not seen only raises the bounds. */
static void test_unknown_free_bounds(void)
{
	const uint32_t P = 201;
	struct am_thr unk = { .lo = AM_GLIBC_THR_START, .hi = AM_GLIBC_THR_MAX,
			      .source = AM_THR_SRC_UNKNOWN };
	uint64_t id;

	setup(true);
	am_corr__set_threshold(C, P, &unk);
	id = next_call++;
	os(P, id, AM_FN_FREE, AM_SYS_MUNMAP, 0, 0x7f0000000000ULL, 128 * KiB, 0, 0);
	call(P, id, AM_FN_FREE, 1, 0x7f0000000010ULL, 0);
	CHECK_EQ(R.n_thr, 0, "S <= lo: no move");
	id = next_call++;
	os(P, id, AM_FN_FREE, AM_SYS_MUNMAP, 0, 0x7f0000100000ULL, 256 * KiB, 0, 0);
	call(P, id, AM_FN_FREE, 1, 0x7f0000100010ULL, 0);
	CHECK_EQ(R.n_thr, 1, "S > lo: maybe moved");
	CHECK_EQ(R.thr[0].new_value, 0, "still unknown");
	CHECK_EQ(R.thr[0].new_lo, 256 * KiB, "at least S now");
	CHECK_EQ(R.thr[0].new_hi, 32 * MiB, "hi unchanged");

	/* a failed syscall inside the call proves nothing */
	id = next_call++;
	os(P, id, AM_FN_MALLOC, AM_SYS_BRK, (int64_t)HEAP0, HEAP0 + 0x100000, 0, 0, 0);
	os(P, id, AM_FN_MALLOC, AM_SYS_MMAP, 0x7f0000200000LL, 0, MiB, RW, ANON);
	call(P, id, AM_FN_MALLOC, 2, 300000, 0x7f0000200010ULL);
	CHECK_EQ(last()->thr_hi, 32 * MiB, "brk failed: mmap fallback proves nothing");
}

/* -f: each process its own threshold; a child inherits the parent's at fork,
 * exec starts over. */
static void test_per_pid(void)
{
	const uint32_t A = 300, B = 301;
	struct am_summary s;

	setup(false);
	mmap_malloc(A, 200000, 0x7f0000000000ULL, 200704, true);
	CHECK_EQ(R.n_thr, 1, "A moved");
	CHECK_EQ(R.thr[0].new_value, 200704, "A at 196 KiB");
	seed_heap(A);
	task(A, AM_TASK_FORK, B);
	mmap_malloc(B, 400000, 0x7f1000000000ULL, 401408, false);
	CHECK_EQ(last()->threshold, 200704, "child inherited 196 KiB");
	{
		uint64_t id = next_call++;

		os(B, id, AM_FN_FREE, AM_SYS_MUNMAP, 0, 0x7f1000000000ULL, 401408, 0, 0);
		call(B, id, AM_FN_FREE, 1, 0x7f1000000010ULL, 0);
	}
	CHECK_EQ(R.thr[1].pid, B, "child's move");
	CHECK_EQ(R.thr[1].new_value, 401408, "child at 392 KiB");
	heap_malloc(A, 300000, HEAP0 + 0x10, 0);
	CHECK_EQ(last()->threshold, 200704, "parent unaffected by the child");
	CHECK_EQ(last()->reason, AM_WHY_FIT_TOP, "parent: over its own threshold");

	s = (struct am_summary){ 0 };
	am_corr__snapshot(C, NULL, 0, 0, &s);
	CHECK_EQ(s.n_thr_procs, 2, "two processes");
	if (s.n_thr_procs == 2) {
		CHECK_EQ(s.thr_procs[0].pid, A, "first seen first");
		CHECK_EQ(s.thr_procs[0].end.value, 200704, "A's");
		CHECK_EQ(s.thr_procs[1].start.value, 200704, "B started at A's value");
		CHECK_EQ(s.thr_procs[1].start.source, AM_THR_SRC_FORK, "B's from fork");
		CHECK_EQ(s.thr_procs[1].end.value, 401408, "B's end");
	}
	CHECK_EQ(s.threshold_end, 200704, "scalar fields: the first process");

	task(B, AM_TASK_EXEC, 0);
	mmap_malloc(B, 200000, 0x7f1000000000ULL, 200704, false);
	CHECK_EQ(last()->threshold, 128 * KiB, "after exec: glibc's start value");
	{
		struct am_thr pin = { .known = true, .pinned = true, .value = 64 * KiB,
				      .source = AM_THR_SRC_ENV };

		task(B, AM_TASK_EXEC, 0);
		am_corr__set_threshold(C, B, &pin);
	}
	mmap_malloc(B, 100000, 0x7f2000000000ULL, 102400, true);
	CHECK_EQ(last()->threshold, 64 * KiB, "after exec: pinned by the new env");
	CHECK_EQ(R.n_thr, 2, "pinned: the free did not move it");
}

/* Launch mode: 128 KiB known from the start (unchanged behaviour). */
static void test_launch_known(void)
{
	setup(false);
	mmap_malloc(400, 131072, 0x7f0000000000ULL, 135168, false);
	CHECK_EQ(last()->threshold, 128 * KiB, "launch: 128 KiB");
	CHECK_EQ(last()->thr_lo, 0, "no bounds when known");
}

/* ---------- glibc_params ---------- */

static void test_env(void)
{
	char *e1[] = { "PATH=/bin", NULL };
	char *e2[] = { "MALLOC_MMAP_THRESHOLD_=65536", NULL };
	char *e3[] = { "MALLOC_TOP_PAD_=0", NULL };
	char *e4[] = { "MALLOC_MMAP_THRESHOLD_=65536", "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=0x40000", NULL };
	char *e5[] = { "MALLOC_MMAP_THRESHOLD_=67108864", NULL };
	char *e6[] = { "GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.trim_threshold=1", NULL };
	uint64_t v = 0;

	CHECK(!am_glibc_env_pinned(e1, &v), "no variable: dynamic");
	CHECK(am_glibc_env_pinned(e2, &v) && v == 65536, "alias pins");
	CHECK(am_glibc_env_pinned(e3, &v) && v == 128 * KiB, "top_pad pins at 128 KiB");
	CHECK(am_glibc_env_pinned(e4, &v) && v == 0x40000, "tunable wins");
	CHECK(!am_glibc_env_pinned(e5, &v), "over 32 MiB: ignored as glibc does");
	CHECK(am_glibc_env_pinned(e6, &v) && v == 128 * KiB, "trim_threshold tunable pins");
	CHECK(!am_glibc_env_pinned(NULL, &v), "no environment");
}

/* Reads the mp_ of a forked copy of this process after it moved its
 * threshold to 196 KiB (not our own: loading the DWARF frees big buffers,
 * which moves the reader's threshold). */
static void test_read_child(void)
{
	struct am_glibc_params gp;
	char err[512], c = 0;
	int ready[2], hold[2];
	pid_t kid;

	if (access(LIBC, R_OK)) {
		printf("threshold: SKIP read_child (no %s)\n", LIBC);
		return;
	}
	if (pipe(ready) || pipe(hold)) {
		CHECK(0, "pipes");
		return;
	}
	kid = fork();
	if (kid == 0) {
		/* use up the heap's top chunk first (mallinfo2's keepcost), so that
		 * 196 KiB - 100 (nb 200624) gets its own mmap: 200704 = 196 KiB */
		struct mallinfo2 mi = mallinfo2();
		void *volatile top = mi.keepcost > 4096 ? malloc(mi.keepcost - 4096) : NULL;
		char *volatile p = malloc(196 * 1024 - 100); /* volatile: not elided */

		(void)top;
		if (p)
			p[0] = 1;

		free(p);
		close(hold[1]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(hold[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	CHECK(read(ready[0], &c, 1) == 1, "child ready");
	unsetenv("ALLOCMAP_DEBUG_DIR");
	if (am_glibc_params_read(kid, LIBC, &gp, err, sizeof(err)) < 0) {
		printf("threshold: SKIP read_child (%s; libc6-dbg missing?)\n", err);
	} else {
#ifdef __SANITIZE_ADDRESS__
		CHECK_EQ(gp.mmap_threshold, 128 * KiB, "ASan's malloc: glibc's threshold untouched");
#else
		CHECK_EQ(gp.mmap_threshold, 200704, "child's mp_.mmap_threshold after free(196 KiB)");
		CHECK_EQ(gp.trim_threshold, 2 * 200704, "trim threshold doubled");
#endif
		CHECK(!gp.no_dyn_threshold, "dynamic");
		CHECK(strstr(gp.debug_file, "/.build-id/") != NULL, "found by build-id");

		setenv("ALLOCMAP_DEBUG_DIR", "/nonexistent", 1);
		CHECK(am_glibc_params_read(kid, LIBC, &gp, err, sizeof(err)) < 0, "no debug dir: fails");
		CHECK(strstr(err, "libc6-dbg") != NULL, "says what to install");
		{
			char why[1024];
			struct am_thr t = am_glibc_attach_threshold(kid, LIBC, why, sizeof(why));

			CHECK(!t.known && t.lo == 128 * KiB && t.hi == 32 * MiB, "attach without DWARF: unknown");
		}
		unsetenv("ALLOCMAP_DEBUG_DIR");
	}
	close(hold[1]);
	close(ready[0]);
	waitpid(kid, NULL, 0);
}

int main(void)
{
	test_read_child();
	test_unknown_narrowed_known();
	test_unknown_free_bounds();
	test_first_call_nested();
	test_per_pid();
	test_launch_known();
	test_env();
	am_corr__free(C);
	return check_report("threshold");
}
