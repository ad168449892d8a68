// SPDX-License-Identifier: GPL-2.0
/* test_correlate.c - unit tests of the correlator (user/core/correlate.c) from
 * synthetic event sequences shaped like what the BPF side emits for glibc
 * 2.36 (see FACTS.md): OS events first, carrying the causing call's id,
 * then the call at its return. A recording sink captures every delivered
 * record and the tests assert exact values. Ends with a throughput check. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include "check.h"
#include "correlate.h"

#define PID 100
#define KiB 1024ULL
#define MiB (1024ULL * 1024)

/* ---------- recording sink ---------- */

#define MAX_REC 64
struct rec_sink {
	struct am_call_rec call[MAX_REC];     /* delivered calls */
	struct am_os_rec call_os[MAX_REC][8]; /* their OS records */
	size_t n_call;
	struct am_os_rec os[MAX_REC];         /* direct / orphaned OS records */
	size_t n_os;
	struct am_threshold_rec thr[MAX_REC];
	size_t n_thr;
	struct am_task_event task[MAX_REC];
	size_t n_task;
	size_t n_summary;
	bool   count_only;                    /* speed test: count, do not store */
	size_t n_any;
};

static struct rec_sink R;

static void s_call(void *ctx, const struct am_call_rec *c, const struct am_os_rec *os, size_t n)
{
	struct rec_sink *s = ctx;

	s->n_any++;
	if (s->count_only || s->n_call >= MAX_REC)
		return;
	s->call[s->n_call] = *c;
	for (size_t i = 0; i < n && i < 8; i++)
		s->call_os[s->n_call][i] = os[i];
	s->n_call++;
}

static void s_os(void *ctx, const struct am_os_rec *o)
{
	struct rec_sink *s = ctx;

	if (s->n_os < MAX_REC)
		s->os[s->n_os++] = *o;
}

static void s_thr(void *ctx, const struct am_threshold_rec *t)
{
	struct rec_sink *s = ctx;

	if (s->n_thr < MAX_REC)
		s->thr[s->n_thr++] = *t;
}

static void s_task(void *ctx, const struct am_task_event *t)
{
	struct rec_sink *s = ctx;

	if (s->n_task < MAX_REC)
		s->task[s->n_task++] = *t;
}

static void s_summary(void *ctx, const struct am_summary *sum)
{
	(void)sum;
	((struct rec_sink *)ctx)->n_summary++;
}

/* ---------- event builders ---------- */

static struct am_corr *C;
static uint64_t next_call = 1, next_os = 1, now = 1000;

/* A fresh correlator and sink; glibc threshold tracking on. */
static void setup_opts(bool glibc, bool pinned, uint64_t start)
{
	struct am_corr_opts o = {
		.sink = { .ctx = &R, .call = s_call, .os = s_os, .threshold = s_thr,
			  .task = s_task, .summary = s_summary },
		.glibc = glibc, .threshold_pinned = pinned, .threshold_start = start,
	};

	am_corr__free(C);
	memset(&R, 0, sizeof(R));
	C = am_corr__new(&o);
	next_call = next_os = 1;
}

static void setup(void)
{
	setup_opts(true, false, 0);
}

/* Reserve the id of the next call, so its OS events can carry it. */
static uint64_t call_id(void)
{
	return next_call++;
}

/* An OS event on thread tid caused by call cid (0 = direct). */
static void os_t(uint32_t tid, uint64_t cid, int fn, int sys, int64_t ret,
		 uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct am_os_event e = {
		.type = AM_EV_OS, .sys = (uint8_t)sys, .cause_fn = (uint8_t)(cid ? fn : 0),
		.pid = PID, .tid = tid, .id = next_os++, .call_id = cid,
		.ts_enter = now++, .ts_exit = now++,
		.args = { a0, a1, a2, a3, sys == AM_SYS_MMAP ? (uint64_t)-1 : 0, 0 },
		.ret = ret,
	};
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "os event accepted");
}

static void os(uint64_t cid, int fn, int sys, int64_t ret,
	       uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	os_t(PID, cid, fn, sys, ret, a0, a1, a2, a3);
}

/* A call event with id cid (from call_id()). */
static void call_t(uint32_t tid, uint64_t cid, int fn, uint8_t flags, uint32_t n_os,
		   uint64_t a0, uint64_t a1, uint64_t a2, uint64_t ret, uint64_t out)
{
	struct am_call_event e = {
		.type = AM_EV_CALL, .fn = (uint8_t)fn, .flags = flags,
		.depth = flags & AM_CALL_NESTED ? 1 : 0, .n_os = n_os,
		.pid = PID, .tid = tid, .id = cid, .ts_enter = now++, .ts_exit = now++,
		.args = { a0, a1, a2 }, .ret = ret, .out = out,
	};
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "call event accepted");
}

static void call(uint64_t cid, int fn, uint8_t flags, uint32_t n_os,
		 uint64_t a0, uint64_t a1, uint64_t a2, uint64_t ret)
{
	call_t(PID, cid, fn, flags, n_os, a0, a1, a2, ret, ret);
}

/* Shorthands for the common calls with no OS request. */
static uint64_t do_malloc(uint64_t size, uint64_t ret)
{
	uint64_t id = call_id();
	call(id, AM_FN_MALLOC, 0, 0, size, 0, 0, ret);
	return id;
}

static uint64_t do_free(uint64_t ptr)
{
	uint64_t id = call_id();
	call(id, AM_FN_FREE, 0, 0, ptr, 0, 0, 0);
	return id;
}

static const struct am_call_rec *last_call(void)
{
	return R.n_call ? &R.call[R.n_call - 1] : NULL;
}

static const struct am_os_rec *last_call_os(size_t i)
{
	return &R.call_os[R.n_call - 1][i];
}

static struct am_summary finish(void)
{
	struct am_summary s;

	am_corr__finish(C, NULL, 0, 0, &s);
	return s;
}

#define HEAP0   0x555555559000ULL
#define RW      (PROT_READ | PROT_WRITE)
#define ANON    (MAP_PRIVATE | MAP_ANONYMOUS)

/* brk(0) then brk(+size) inside call cid: glibc's first sbrk. */
static void heap_init(uint64_t cid, int fn, uint64_t size)
{
	os(cid, fn, AM_SYS_BRK, (int64_t)HEAP0, 0, 0, 0, 0);
	os(cid, fn, AM_SYS_BRK, (int64_t)(HEAP0 + size), HEAP0 + size, 0, 0, 0);
}

/* ---------- tests ---------- */

/* First small malloc: brk(NULL), brk(+132 KiB), served from the heap. */
static void test_small_malloc_brk(void)
{
	uint64_t id;
	const struct am_call_rec *r;
	struct am_summary s;

	setup();
	id = call_id();
	heap_init(id, AM_FN_MALLOC, 0x21000);
	CHECK_EQ(R.n_call, 0, "OS events held until their call");
	call(id, AM_FN_MALLOC, 0, 2, 100, 0, 0, HEAP0 + 0x2a0);
	CHECK_EQ(R.n_call, 1, "malloc delivered");
	r = last_call();
	CHECK_EQ(r->n_os, 2, "malloc caused 2 OS requests");
	CHECK_EQ(r->size, 100, "size");
	CHECK_EQ(r->ptr_out, HEAP0 + 0x2a0, "ptr_out");
	CHECK_EQ(r->region, AM_REG_HEAP, "region heap");
	CHECK_EQ(r->reason, AM_WHY_UNDER_THRESHOLD, "reason under_threshold");
	CHECK_EQ(r->threshold, 131072, "threshold at start");
	{
		/* a live view's snapshot: current figures, no live-table walk */
		struct am_summary snap;
		struct am_counters b = { .lost_os = 7 };

		am_corr__snapshot(C, &b, 3, 1000, &snap);
		CHECK_EQ(snap.live_count, 1, "snapshot: live count");
		CHECK_EQ(snap.live_bytes, 100, "snapshot: live bytes");
		CHECK_EQ(snap.heap_bytes, 0x21000, "snapshot: heap bytes");
		CHECK_EQ(snap.bpf.lost_os, 7, "snapshot: bpf counters");
		CHECK_EQ(snap.unattached_probes, 3, "snapshot: unattached");
		CHECK(snap.leaks == NULL && snap.n_leaks == 0, "snapshot: no leak groups");
	}
	CHECK(r->allocates && !r->has_ptr_in, "malloc flags");
	CHECK_EQ(last_call_os(0)->ev.sys, AM_SYS_BRK, "os[0] brk");
	CHECK_EQ(last_call_os(0)->ev.id, 1, "os sorted by id");
	CHECK_EQ(last_call_os(1)->ev.args[0], HEAP0 + 0x21000, "os[1] brk growth");
	CHECK_EQ(last_call_os(1)->cause_fn, AM_FN_MALLOC, "cause fn");
	CHECK_EQ(last_call_os(1)->cause_size, 100, "cause size");
	CHECK(!last_call_os(1)->direct, "not direct");

	/* 200000 B fits in the 132 KiB top? no, but say the heap grew enough:
	 * over the threshold yet carved from the heap -> fit_top_chunk */
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_BRK, (int64_t)(HEAP0 + 0x61000), HEAP0 + 0x61000, 0, 0, 0);
	call(id, AM_FN_MALLOC, 0, 1, 200000, 0, 0, HEAP0 + 0x20000);
	CHECK_EQ(last_call()->region, AM_REG_HEAP, "big malloc on heap");
	CHECK_EQ(last_call()->reason, AM_WHY_FIT_TOP, "reason fit_top_chunk");

	/* a heap allocation exactly at the chunk-size boundary: nb = 131072 */
	do_malloc(131064, HEAP0 + 0x50000);
	CHECK_EQ(last_call()->reason, AM_WHY_FIT_TOP, "nb == threshold is fit_top");
	do_malloc(131048, HEAP0 + 0x58000);
	CHECK_EQ(last_call()->reason, AM_WHY_UNDER_THRESHOLD, "nb < threshold is under");

	/* brk shrink (trim) */
	id = call_id();
	os(id, AM_FN_FREE, AM_SYS_BRK, (int64_t)(HEAP0 + 0x40000), HEAP0 + 0x40000, 0, 0, 0);
	call(id, AM_FN_FREE, 0, 1, HEAP0 + 0x20000, 0, 0, 0);
	CHECK_EQ(last_call()->size, 200000, "free size from live table");

	s = finish();
	CHECK_EQ(s.heap_bytes, 0x40000, "heap_bytes after trim");
	CHECK_EQ(s.heap_bytes_peak, 0x61000, "heap_bytes_peak");
	CHECK_EQ(s.sys_count[AM_SYS_BRK], 4, "brk count");
	CHECK_EQ(s.sys_by_cause[AM_SYS_BRK][AM_FN_MALLOC], 3, "brk by malloc");
	CHECK_EQ(s.sys_by_cause[AM_SYS_BRK][AM_FN_FREE], 1, "brk by free");
	CHECK_EQ(s.fn[AM_FN_MALLOC].calls, 4, "malloc calls");
	CHECK_EQ(s.fn[AM_FN_MALLOC].os_calls, 2, "malloc os_calls");
	CHECK_EQ(s.fn[AM_FN_MALLOC].bytes, 100 + 200000 + 131064 + 131048, "malloc bytes");
	CHECK_EQ(s.fn[AM_FN_FREE].os_calls, 1, "free os_calls");
	CHECK_EQ(s.live_count, 3, "live count");
	CHECK_EQ(s.live_bytes, 100 + 131064 + 131048, "live bytes");
	CHECK_EQ(s.live_bytes_peak, 100 + 200000 + 131064 + 131048, "live peak");
	CHECK_EQ(s.live_by_region_count[AM_REG_HEAP], 3, "live in heap");
	CHECK_EQ(s.events, 9, "events");
	CHECK_EQ(R.n_summary, 1, "summary delivered");
}

/* malloc(128 KiB) that does not fit the top chunk: mmap(135168); its free
 * munmaps and moves the threshold to 135168. */
static void test_mmap_chunk_threshold(void)
{
	uint64_t id, fid, A = 0x7ffff7d00000ULL;
	struct am_summary s;

	setup();
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 135168, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 131072, 0, 0, A + 0x10);
	CHECK_EQ(last_call()->region, AM_REG_MMAP, "own mmap chunk");
	CHECK_EQ(last_call()->reason, AM_WHY_OVER_THRESHOLD, "over_threshold");
	CHECK_EQ(last_call_os(0)->region_kind, AM_REG_MMAP, "os region kind mmap");

	fid = call_id();
	os(fid, AM_FN_FREE, AM_SYS_MUNMAP, 0, A, 135168, 0, 0);
	call(fid, AM_FN_FREE, 0, 1, A + 0x10, 0, 0, 0);
	CHECK_EQ(last_call()->size, 131072, "free size");
	CHECK_EQ(last_call()->threshold, 131072, "free made under old threshold");
	CHECK_EQ(R.n_thr, 1, "threshold moved");
	CHECK_EQ(R.thr[0].old_value, 131072, "old threshold");
	CHECK_EQ(R.thr[0].new_value, 135168, "new threshold");
	CHECK_EQ(R.thr[0].call_id, fid, "moved by the free");
	CHECK_EQ(R.thr[0].freed_chunk, 135168, "freed chunk");

	/* same size again: S == threshold, does not move */
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 135168, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 131072, 0, 0, A + 0x10);
	CHECK_EQ(last_call()->threshold, 135168, "rec carries new threshold");
	fid = call_id();
	os(fid, AM_FN_FREE, AM_SYS_MUNMAP, 0, A, 135168, 0, 0);
	call(fid, AM_FN_FREE, 0, 1, A + 0x10, 0, 0, 0);
	CHECK_EQ(R.n_thr, 1, "S == threshold: no move");

	/* 40 MiB chunk: over 32 MiB, no move */
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 40 * MiB + 4096, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 40 * MiB, 0, 0, A + 0x10);
	fid = call_id();
	os(fid, AM_FN_FREE, AM_SYS_MUNMAP, 0, A, 40 * MiB + 4096, 0, 0);
	call(fid, AM_FN_FREE, 0, 1, A + 0x10, 0, 0, 0);
	CHECK_EQ(R.n_thr, 1, "S > 32 MiB: no move");

	s = finish();
	CHECK_EQ(s.mmap_bytes, 0, "mmap bytes after frees");
	CHECK_EQ(s.mmap_bytes_peak, 40 * MiB + 4096, "mmap peak");
	CHECK_EQ(s.threshold_start, 131072, "threshold start");
	CHECK_EQ(s.threshold_end, 135168, "threshold end");
	CHECK_EQ(s.threshold_changes, 1, "threshold changes");
	CHECK(s.threshold_known && !s.threshold_pinned, "threshold known, not pinned");
	CHECK_EQ(s.live_count, 0, "nothing live");
	CHECK_EQ(s.hist_mmap[17], 2, "hist mmap 128K bucket");
	CHECK_EQ(s.hist_mmap[25], 1, "hist mmap 32M bucket");
	CHECK_EQ(s.returned_munmap, 2 * 135168 + 40 * MiB + 4096, "munmapped chunks returned");
}

/* FACTS.md: malloc(1 MiB) -> mmap(1052672); free -> munmap -> threshold
 * 1052672; malloc(256 KiB) then comes from the heap (brk growth). */
static void test_one_mib_sequence(void)
{
	uint64_t id, A = 0x7ffff7a00000ULL;
	struct am_summary s;

	setup();
	id = do_malloc(16, 0); /* nothing: keep ids realistic */
	(void)id;
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 1052672, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 1 * MiB, 0, 0, A + 0x10);
	CHECK_EQ(last_call()->reason, AM_WHY_OVER_THRESHOLD, "1 MiB over threshold");
	id = call_id();
	os(id, AM_FN_FREE, AM_SYS_MUNMAP, 0, A, 1052672, 0, 0);
	{
		/* free is traced without a return probe: no ts_exit; it ended
		 * when its munmap did (the last ts handed out) */
		uint64_t munmap_end = now - 1;
		struct am_call_event e = {
			.type = AM_EV_CALL, .fn = AM_FN_FREE, .flags = AM_CALL_NORET, .n_os = 1,
			.pid = PID, .tid = PID, .id = id, .ts_enter = now - 3, .ts_exit = 0,
			.args = { A + 0x10 },
		};
		CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "noret free accepted");
		CHECK_EQ(last_call()->ts_end, munmap_end, "noret free ends with its munmap");
		CHECK_EQ(R.n_thr, 1, "threshold moved");
		CHECK_EQ(R.thr[0].ts_ns, munmap_end, "threshold moved when the munmap ended");
	}
	CHECK_EQ(R.thr[0].new_value, 1052672, "threshold = 1052672");

	id = call_id();
	heap_init(id, AM_FN_MALLOC, 0x62000);
	call(id, AM_FN_MALLOC, 0, 2, 256 * KiB, 0, 0, HEAP0 + 0x10);
	CHECK_EQ(last_call()->region, AM_REG_HEAP, "256 KiB on heap");
	CHECK_EQ(last_call()->reason, AM_WHY_UNDER_THRESHOLD, "256 KiB under threshold");
	CHECK_EQ(last_call()->threshold, 1052672, "threshold in rec");

	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 4 * MiB + 4096, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 4 * MiB, 0, 0, A + 0x10);
	CHECK_EQ(last_call()->reason, AM_WHY_OVER_THRESHOLD, "4 MiB mmap again");

	s = finish();
	CHECK_EQ(s.fn[AM_FN_MALLOC].failed, 1, "malloc returning NULL failed");
	CHECK_EQ(s.threshold_end, 1052672, "threshold end");
}

/* realloc of an mmapped chunk -> mremap(MAYMOVE): the region moves, the
 * live table follows. */
static void test_realloc_mremap(void)
{
	uint64_t id, A = 0x7ffff7000000ULL, B = 0x7ffff6000000ULL;
	struct am_summary s;

	setup();
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 204800, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 200000, 0, 0, A + 0x10);
	id = call_id();
	os(id, AM_FN_REALLOC, AM_SYS_MREMAP, (int64_t)B, A, 204800, 401408, MREMAP_MAYMOVE);
	call(id, AM_FN_REALLOC, 0, 1, A + 0x10, 400000, 0, B + 0x10);
	CHECK_EQ(last_call()->ptr_in, A + 0x10, "realloc ptr_in");
	CHECK_EQ(last_call()->ptr_out, B + 0x10, "realloc ptr_out");
	CHECK_EQ(last_call()->region, AM_REG_MMAP, "moved chunk is its own mmap");
	CHECK_EQ(last_call()->reason, AM_WHY_NONE, "mremap: threshold not consulted");
	CHECK(!last_call()->free_unknown, "old pointer known");
	CHECK_EQ(last_call_os(0)->region_kind, AM_REG_MMAP, "mremap result kind");

	s = finish();
	CHECK_EQ(s.live_count, 1, "one live");
	CHECK_EQ(s.live_bytes, 400000, "live bytes = new size");
	CHECK_EQ(s.live_by_region_bytes[AM_REG_MMAP], 400000, "live in mmap");
	CHECK_EQ(s.mmap_bytes, 401408, "mmap bytes follow mremap");

	/* the old address is gone from the map and the live table */
	setup();
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 204800, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 200000, 0, 0, A + 0x10);
	id = call_id();
	os(id, AM_FN_REALLOC, AM_SYS_MREMAP, (int64_t)B, A, 204800, 401408, MREMAP_MAYMOVE);
	call(id, AM_FN_REALLOC, 0, 1, A + 0x10, 400000, 0, B + 0x10);
	do_free(A + 0x10);
	CHECK(last_call()->free_unknown, "old pointer no longer live");
	do_free(B + 0x10);
	CHECK(!last_call()->free_unknown, "new pointer live");
	CHECK_EQ(last_call()->size, 400000, "free size = realloc size");
	/* no munmap seen, the chunk's region (401408) still there: threshold moves */
	CHECK_EQ(R.n_thr, 1, "free of mmapped chunk without munmap event");
	CHECK_EQ(R.thr[0].new_value, 401408, "region length used");
	s = finish();
	CHECK_EQ(s.unknown_frees, 1, "unknown frees");
}

/* glibc realloc calls malloc and free inside: the nested calls are
 * delivered and counted but leave the live table to the outer realloc. */
static void test_nested_realloc(void)
{
	uint64_t id, in1, in2, P1 = HEAP0 + 0x2a0, P2 = HEAP0 + 0x310;
	struct am_summary s;

	setup();
	id = call_id();
	heap_init(id, AM_FN_MALLOC, 0x21000);
	call(id, AM_FN_MALLOC, 0, 2, 100, 0, 0, P1);

	id = call_id();
	in1 = call_id();
	in2 = call_id();
	call(in1, AM_FN_MALLOC, AM_CALL_NESTED, 0, 1000, 0, 0, P2);
	call(in2, AM_FN_FREE, AM_CALL_NESTED, 0, P1, 0, 0, 0);
	CHECK_EQ(last_call()->size, 100, "nested free sees size");
	CHECK(!last_call()->free_unknown, "nested free not unknown");
	call(id, AM_FN_REALLOC, 0, 0, P1, 1000, 0, P2);
	CHECK_EQ(R.n_call, 4, "nested calls delivered");
	CHECK(!last_call()->free_unknown, "outer realloc frees a known pointer");
	CHECK_EQ(last_call()->region, AM_REG_HEAP, "realloc result on heap");

	s = finish();
	CHECK_EQ(s.live_count, 1, "one live allocation");
	CHECK_EQ(s.live_bytes, 1000, "live bytes not double counted");
	CHECK_EQ(s.live_bytes_peak, 1000, "peak not double counted");
	CHECK_EQ(s.fn[AM_FN_MALLOC].nested, 1, "malloc nested");
	CHECK_EQ(s.fn[AM_FN_FREE].nested, 1, "free nested");
	CHECK_EQ(s.fn[AM_FN_MALLOC].calls, 2, "malloc calls incl. nested");
	CHECK_EQ(s.unknown_frees, 0, "no unknown frees");
	CHECK_EQ(s.hist_heap[6] + s.hist_heap[9], 2, "histogram outermost only");
}

/* Partial munmap splits a region; MAP_FIXED replaces what it covers. */
static void test_split_and_fixed(void)
{
	uint64_t D = 0x7f0000000000ULL, id;
	struct am_summary s;

	setup();
	os(0, 0, AM_SYS_MMAP, (int64_t)D, 0, 4 * 4096, RW, ANON);
	CHECK_EQ(R.n_os, 1, "direct mmap delivered at once");
	CHECK(R.os[0].direct, "direct flag");
	CHECK_EQ(R.os[0].region_kind, AM_REG_DIRECT, "direct region kind");
	os(0, 0, AM_SYS_MUNMAP, 0, D + 4096, 4096, 0, 0);
	do_malloc(8, D + 16);
	CHECK_EQ(last_call()->region, AM_REG_DIRECT, "left piece direct");
	do_malloc(8, D + 4096 + 16);
	CHECK_EQ(last_call()->region, AM_REG_UNKNOWN, "hole unknown");
	do_malloc(8, D + 2 * 4096 + 16);
	CHECK_EQ(last_call()->region, AM_REG_DIRECT, "right piece direct");
	do_malloc(8, D + 3 * 4096 + 16);
	CHECK_EQ(last_call()->region, AM_REG_DIRECT, "right piece end direct");
	do_malloc(8, D + 4 * 4096);
	CHECK_EQ(last_call()->region, AM_REG_UNKNOWN, "past the end unknown");
	s = finish();
	CHECK_EQ(s.direct_mmap_bytes, 3 * 4096, "direct bytes after split");
	CHECK_EQ(s.hist_other[3], 5, "other histogram");

	setup();
	os(0, 0, AM_SYS_MMAP, (int64_t)D, 0, 4 * 4096, RW, ANON);
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)(D + 4096), D + 4096, 4096, RW, ANON | MAP_FIXED);
	call(id, AM_FN_MALLOC, 0, 1, 100, 0, 0, D + 4096 + 16);
	CHECK_EQ(last_call()->region, AM_REG_MMAP, "MAP_FIXED region is the call's own");
	do_malloc(8, D + 16);
	CHECK_EQ(last_call()->region, AM_REG_DIRECT, "left of fixed still direct");
	do_malloc(8, D + 2 * 4096);
	CHECK_EQ(last_call()->region, AM_REG_DIRECT, "right of fixed still direct");
	/* munmap across two regions */
	os(0, 0, AM_SYS_MUNMAP, 0, D, 2 * 4096 + 100, 0, 0);
	s = finish();
	CHECK_EQ(s.direct_mmap_bytes, 4096, "direct bytes: one page left");
	CHECK_EQ(s.mmap_bytes, 0, "fixed chunk unmapped");
	CHECK_EQ(s.mmap_bytes_peak, 4096, "mmap peak one page");
	CHECK_EQ(s.sys_by_cause[AM_SYS_MMAP][AM_FN_MAX], 1, "direct mmap by cause");
	CHECK_EQ(s.sys_by_cause[AM_SYS_MMAP][AM_FN_MALLOC], 1, "malloc mmap by cause");
}

/* A thread's first malloc: mmap(128 MiB, PROT_NONE, MAP_NORESERVE), munmap
 * of the unaligned parts, mprotect of the first bytes. */
static void test_thread_arena(void)
{
	uint64_t R0 = 0x7ffde2000000ULL, A = 0x7ffde4000000ULL, id;
	uint32_t T = 101;
	struct am_summary s;

	setup();
	id = call_id();
	os_t(T, id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)R0, 0, 128 * MiB, PROT_NONE, ANON | MAP_NORESERVE);
	os_t(T, id, AM_FN_MALLOC, AM_SYS_MUNMAP, 0, R0, A - R0, 0, 0);
	os_t(T, id, AM_FN_MALLOC, AM_SYS_MUNMAP, 0, A + 64 * MiB, R0 + 128 * MiB - (A + 64 * MiB), 0, 0);
	os_t(T, id, AM_FN_MALLOC, AM_SYS_MPROTECT, 0, A, 0x21000, RW, 0);
	call_t(T, id, AM_FN_MALLOC, 0, 4, 100, 0, 0, A + 0x8a0, A + 0x8a0);
	CHECK_EQ(last_call()->n_os, 4, "4 OS requests");
	CHECK_EQ(last_call()->region, AM_REG_ARENA, "allocation in thread arena");
	CHECK_EQ(last_call()->reason, AM_WHY_UNDER_THRESHOLD, "arena: under threshold");
	CHECK_EQ(last_call_os(0)->region_kind, AM_REG_ARENA, "reservation is an arena");
	CHECK_EQ(last_call_os(3)->ev.sys, AM_SYS_MPROTECT, "mprotect last");

	/* the arena grows by mprotect, shrinks by madvise (no byte change) */
	id = call_id();
	os_t(T, id, AM_FN_MALLOC, AM_SYS_MPROTECT, 0, A + 0x21000, 0x10000, RW, 0);
	call_t(T, id, AM_FN_MALLOC, 0, 1, 0x9000, 0, 0, A + 0x20000, A + 0x20000);
	CHECK_EQ(last_call()->region, AM_REG_ARENA, "grown arena");
	/* protecting pages already accessible again (mimalloc does) adds nothing */
	id = call_id();
	os_t(T, id, AM_FN_MALLOC, AM_SYS_MPROTECT, 0, A, 0x10000, RW, 0);
	call_t(T, id, AM_FN_MALLOC, 0, 1, 0x100, 0, 0, A + 0x30000, A + 0x30000);
	id = call_id();
	os_t(T, id, AM_FN_FREE, AM_SYS_MADVISE, 0, A + 0x21000, 0x10000, MADV_DONTNEED, 0);
	call_t(T, id, AM_FN_FREE, 0, 1, A + 0x20000, 0, 0, 0, 0);
	CHECK_EQ(R.n_thr, 0, "arena free does not move threshold");
	s = finish();
	CHECK_EQ(s.mmap_bytes, 0x31000, "mmap bytes = mprotected part (the union)");
	CHECK_EQ(s.mmap_bytes_peak, 0x31000, "reservation not counted in peak");
	CHECK_EQ(s.committed_bytes, 0x31000, "committed = heap (none) + mmap");
	CHECK_EQ(s.committed_bytes_peak, 0x31000, "committed peak");
	CHECK(!s.oom, "no out-of-memory");
	CHECK_EQ(s.sys_count[AM_SYS_MPROTECT], 3, "mprotect count");
	CHECK_EQ(s.sys_count[AM_SYS_MADVISE], 1, "madvise count");
	CHECK_EQ(s.live_by_region_count[AM_REG_ARENA], 2, "live in arena (the first and the 256-byte malloc)");
	CHECK_EQ(s.hist_other[6], 1, "arena allocation in hist_other");
	/* trimming the PROT_NONE reservation gives back address space, not memory */
	CHECK_EQ(s.returned_munmap, 0, "reservation trim is not memory returned");
	CHECK_EQ(s.returned_madvise, 0x10000, "madvise(DONTNEED) returned");
}

/* An mmap made by one call that serves another call (jemalloc-style). */
static void test_shared_mapping(void)
{
	uint64_t id, A = 0x7f1000000000ULL;

	setup_opts(false, false, 0);
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 2 * MiB, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 16, 0, 0, A + 0x1000);
	CHECK_EQ(last_call()->region, AM_REG_MMAP, "first call in its mmap");
	CHECK_EQ(last_call()->reason, AM_WHY_NONE, "no reason without glibc");
	CHECK_EQ(last_call()->threshold, 0, "no threshold without glibc");
	do_malloc(16, A + 0x1010);
	CHECK_EQ(last_call()->region, AM_REG_ARENA, "second call: shared mapping");
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)(A + 4 * MiB), 0, 2 * MiB, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 16, 0, 0, A + 0x1020);
	CHECK_EQ(last_call_os(0)->region_kind, AM_REG_ARENA, "mapping not holding the result");
	finish();
}

/* Unknown frees, free(NULL), missed calls, orphans, failures. */
static void test_odd_cases(void)
{
	uint64_t id;
	struct am_summary s;

	setup();
	do_free(0xdead0);
	CHECK(last_call()->free_unknown, "unknown free flagged");
	do_free(0);
	CHECK(!last_call()->free_unknown, "free(NULL) not unknown");

	/* missed call: its return was never seen, its OS requests still come with it */
	id = call_id();
	heap_init(id, AM_FN_MALLOC, 0x21000);
	call(id, AM_FN_MALLOC, AM_CALL_MISSED, 2, 100, 0, 0, 0);
	CHECK_EQ(last_call()->n_os, 2, "missed call delivered with its OS");
	CHECK_EQ(last_call()->ptr_out, 0, "missed: no result");

	/* OS requests of a call that never arrives */
	os(999, AM_FN_MALLOC, AM_SYS_MMAP, 0x7f2000000000LL, 0, 135168, RW, ANON);
	os(0, 0, AM_SYS_MMAP, -ENOMEM, 0, 1ULL << 46, RW, ANON);
	os(0, 0, AM_SYS_BRK, (int64_t)(HEAP0 + 0x21000), HEAP0 + 0x800000000ULL, 0, 0, 0);
	CHECK_EQ(R.n_os, 2, "only direct OS delivered so far");

	/* calloc, reallocarray, posix_memalign decoding; failures */
	id = call_id();
	call(id, AM_FN_CALLOC, 0, 0, 10, 20, 0, HEAP0 + 0x100);
	CHECK_EQ(last_call()->size, 200, "calloc size");
	CHECK_EQ(last_call()->nmemb, 10, "calloc nmemb");
	id = call_id();
	call(id, AM_FN_REALLOCARRAY, 0, 0, HEAP0 + 0x100, 30, 20, HEAP0 + 0x100);
	CHECK_EQ(last_call()->size, 600, "reallocarray size");
	CHECK_EQ(last_call()->nmemb, 30, "reallocarray nmemb");
	CHECK(!last_call()->free_unknown, "in-place reallocarray");
	id = call_id();
	call_t(PID, id, AM_FN_POSIX_MEMALIGN, 0, 0, 0x7ffc0000, 64, 100, 0, HEAP0 + 0x400);
	CHECK_EQ(last_call()->ptr_out, HEAP0 + 0x400, "posix_memalign out");
	CHECK_EQ(last_call()->align, 64, "posix_memalign align");
	id = call_id();
	call_t(PID, id, AM_FN_POSIX_MEMALIGN, 0, 0, 0x7ffc0000, 64, 1ULL << 60, ENOMEM, 0x1234);
	CHECK_EQ(last_call()->ptr_out, 0, "failed posix_memalign: no out");
	id = call_id();
	call(id, AM_FN_ALIGNED_ALLOC, 0, 0, 4096, 8192, 0, HEAP0 + 0x1000);
	CHECK_EQ(last_call()->align, 4096, "aligned_alloc align");
	CHECK_EQ(last_call()->size, 8192, "aligned_alloc size");
	/* realloc(NULL, n) = malloc; realloc(p, 0) frees and returns NULL */
	id = call_id();
	call(id, AM_FN_REALLOC, 0, 0, 0, 50, 0, HEAP0 + 0x3000);
	CHECK(!last_call()->free_unknown, "realloc(NULL) not unknown");
	id = call_id();
	call(id, AM_FN_REALLOC, 0, 0, HEAP0 + 0x3000, 0, 0, 0);
	CHECK(!last_call()->free_unknown, "realloc(p, 0) frees p");
	/* failed realloc keeps p */
	id = call_id();
	call(id, AM_FN_REALLOC, 0, 0, HEAP0 + 0x1000, 1ULL << 50, 0, 0);
	/* entry-only free (no return probe) still frees */
	id = call_id();
	call(id, AM_FN_FREE, AM_CALL_NORET, 0, HEAP0 + 0x1000, 0, 0, 0);
	CHECK(!last_call()->free_unknown, "failed realloc kept p; NORET free freed it");

	s = finish();
	CHECK_EQ(R.n_os, 3, "orphan delivered at finish");
	CHECK_EQ(R.os[2].call_id, 999, "orphan call id");
	CHECK_EQ(s.orphan_os, 1, "orphan_os");
	CHECK_EQ(s.unknown_frees, 1, "one unknown free");
	CHECK_EQ(s.sys_failed[AM_SYS_MMAP], 1, "failed mmap");
	CHECK_EQ(s.sys_failed[AM_SYS_BRK], 1, "failed brk");
	CHECK_EQ(s.heap_bytes, 0x21000, "failed brk: heap unchanged");
	CHECK_EQ(s.fn[AM_FN_POSIX_MEMALIGN].failed, 1, "posix_memalign failed");
	CHECK_EQ(s.fn[AM_FN_REALLOC].failed, 1, "realloc failed (not realloc(p,0))");
	CHECK_EQ(s.fn[AM_FN_MALLOC].failed, 0, "missed malloc not failed");
	CHECK_EQ(s.live_count, 2, "live: reallocarray + posix_memalign");
	CHECK_EQ(s.live_bytes, 700, "live bytes");
}

/* Seed the map from /proc/PID/maps text. */
static void test_seed_maps(void)
{
	static const char maps[] =
		"555555554000-555555556000 r--p 00000000 08:01 1234   /usr/bin/prog\n"
		"555555559000-55555557a000 rw-p 00000000 00:00 0      [heap]\n"
		"7ffff7d80000-7ffff7da5000 rw-p 00000000 00:00 0 \n"
		"7ffff7da5000-7ffff7dcb000 r--p 00000000 08:01 5678   /usr/lib/x86_64-linux-gnu/libc.so.6\n"
		"7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0      [vvar]\n"
		"7ffff7fc5000-7ffff7fc7000 r-xp 00000000 00:00 0      [vdso]\n"
		"7ffff7ff0000-7ffff7ff1000 rw-p 00000000 00:00 0      [anon:glibc]\n"
		"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0      [stack]\n";
	FILE *f;
	struct am_summary s;

	setup();
	f = fmemopen((void *)maps, sizeof(maps) - 1, "r");
	CHECK_EQ(am_corr__seed_maps(C, PID, f), 3, "heap + 2 anonymous regions");
	fclose(f);
	do_malloc(100, 0x555555560000ULL);
	CHECK_EQ(last_call()->region, AM_REG_HEAP, "seeded heap");
	do_malloc(100, 0x7ffff7d90000ULL);
	CHECK_EQ(last_call()->region, AM_REG_PREEXISTING, "seeded anonymous");
	do_malloc(100, 0x7ffff7ff0010ULL);
	CHECK_EQ(last_call()->region, AM_REG_PREEXISTING, "named anonymous");
	do_malloc(100, 0x7ffff7da6000ULL);
	CHECK_EQ(last_call()->region, AM_REG_UNKNOWN, "file mapping ignored");
	do_malloc(100, 0x7ffffffe0000ULL);
	CHECK_EQ(last_call()->region, AM_REG_UNKNOWN, "stack ignored");
	/* brk growth continues the seeded heap */
	os(call_id(), AM_FN_MALLOC, AM_SYS_BRK, 0x55555559b000LL, 0x55555559b000ULL, 0, 0, 0);
	do_malloc(100, 0x55555557b000ULL);
	CHECK_EQ(last_call()->region, AM_REG_HEAP, "grown heap");
	s = finish();
	CHECK_EQ(s.heap_bytes, 0x55555559b000ULL - 0x555555559000ULL, "heap bytes = heap size");
	CHECK_EQ(s.live_by_region_count[AM_REG_PREEXISTING], 2, "live preexisting");
	CHECK_EQ(s.live_by_region_count[AM_REG_UNKNOWN], 2, "live unknown");

	static const char bad[] = "555555554000-555555556000 r--p\n";
	f = fmemopen((void *)bad, sizeof(bad) - 1, "r");
	CHECK_EQ(am_corr__seed_maps(C, PID, f), -1, "malformed maps");
	fclose(f);
	static const char bad2[] = "hello world\n";
	f = fmemopen((void *)bad2, sizeof(bad2) - 1, "r");
	CHECK_EQ(am_corr__seed_maps(C, PID, f), -1, "garbage maps");
	fclose(f);
}

/* Malformed records are rejected and counted. */
static void test_malformed(void)
{
	struct am_call_event ce = { .type = AM_EV_CALL, .fn = AM_FN__COUNT, .pid = PID, .id = 1 };
	struct am_os_event oe = { .type = AM_EV_OS, .sys = AM_SYS__COUNT, .pid = PID, .id = 1 };
	struct am_task_event te = { .type = AM_EV_TASK, .kind = 9, .pid = PID };
	uint8_t junk[64] = { 77 };
	struct am_summary s;

	setup();
	CHECK_EQ(am_corr__event(C, &ce, sizeof(ce) - 1), -1, "short call");
	CHECK_EQ(am_corr__event(C, &ce, sizeof(ce)), -1, "bad fn");
	CHECK_EQ(am_corr__event(C, &oe, sizeof(oe)), -1, "bad sys");
	CHECK_EQ(am_corr__event(C, &te, sizeof(te)), -1, "bad task kind");
	CHECK_EQ(am_corr__event(C, junk, sizeof(junk)), -1, "unknown type");
	CHECK_EQ(am_corr__event(C, junk, 0), -1, "empty");
	s = finish();
	CHECK_EQ(s.malformed, 6, "malformed counted");
	CHECK_EQ(s.events, 0, "no events consumed");
}

/* Request-size histogram: bucket i = [2^i, 2^(i+1)), 0 -> bucket 0. */
static void test_histogram(void)
{
	static const uint64_t sizes[] = { 0, 1, 2, 3, 4, 1023, 1024, 1ULL << 45 };
	struct am_summary s;
	uint64_t total = 0;

	setup();
	os(0, 0, AM_SYS_BRK, (int64_t)HEAP0, 0, 0, 0, 0);
	os(0, 0, AM_SYS_BRK, (int64_t)(HEAP0 + 0x100000), HEAP0 + 0x100000, 0, 0, 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		do_malloc(sizes[i], HEAP0 + 0x10 + i * 0x100);
	s = finish();
	CHECK_EQ(s.hist_heap[0], 2, "bucket 0: sizes 0 and 1");
	CHECK_EQ(s.hist_heap[1], 2, "bucket 1: 2, 3");
	CHECK_EQ(s.hist_heap[2], 1, "bucket 2: 4");
	CHECK_EQ(s.hist_heap[9], 1, "bucket 9: 1023");
	CHECK_EQ(s.hist_heap[10], 1, "bucket 10: 1024");
	CHECK_EQ(s.hist_heap[AM_HIST_BUCKETS - 1], 1, "huge size clamps to last bucket");
	for (int i = 0; i < AM_HIST_BUCKETS; i++)
		total += s.hist_heap[i] + s.hist_mmap[i] + s.hist_other[i];
	CHECK_EQ(total, 8, "histogram total");
}

/* Pinned threshold never moves; a custom start is honoured. */
static void test_pinned(void)
{
	uint64_t id, A = 0x7ffff7a00000ULL;
	struct am_summary s;

	setup_opts(true, true, 65536);
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)A, 0, 1052672, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 1 * MiB, 0, 0, A + 0x10);
	CHECK_EQ(last_call()->threshold, 65536, "custom start");
	id = call_id();
	os(id, AM_FN_FREE, AM_SYS_MUNMAP, 0, A, 1052672, 0, 0);
	call(id, AM_FN_FREE, 0, 1, A + 0x10, 0, 0, 0);
	s = finish();
	CHECK_EQ(R.n_thr, 0, "pinned: no move");
	CHECK(s.threshold_pinned, "pinned reported");
	CHECK_EQ(s.threshold_end, 65536, "pinned end");
	CHECK_EQ(s.threshold_changes, 0, "no changes");
}

/* musl's mallocng (opts.musl), the sequence Debian's musl 1.2.3 makes for
 * tests/progs/musl_calls.c linked statically (strace): the first malloc
 * sets up the meta area with brk and a guard page, and maps a group; a
 * request at/over 131052 B gets its own mapping of n + 20 bytes; one whose
 * page_up(n + 20) is under a slot of its class gets a single-slot group;
 * others share groups (arena). The threshold never moves. */
static void test_musl(void)
{
	struct am_corr_opts o = {
		.sink = { .ctx = &R, .call = s_call, .os = s_os, .threshold = s_thr,
			  .task = s_task, .summary = s_summary },
		.musl = true, .allocator = "musl",
	};
	uint64_t id, G = 0x7ffff7ff5000ULL, B = 0x7ffff7fab000ULL, M = 0x7ffff7ff0000ULL,
		 A = 0x7ffff7fe9000ULL;
	const struct am_call_rec *r;
	struct am_summary s;

	am_corr__free(C);
	memset(&R, 0, sizeof(R));
	C = am_corr__new(&o);
	next_call = next_os = 1;

	/* malloc(100): brk(NULL), brk(+8 KiB), guard page at the old break,
	 * then a one-page group (of a larger class, holding 112-byte slots) */
	id = call_id();
	heap_init(id, AM_FN_MALLOC, 8192);
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)HEAP0, HEAP0, 4096, PROT_NONE, ANON | MAP_FIXED);
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)G, 0, 4096, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 4, 100, 0, 0, G + 0x40);
	r = last_call();
	CHECK_EQ(r->region, AM_REG_ARENA, "musl small: a shared group");
	CHECK_EQ(r->reason, AM_WHY_GROUP, "musl small: size_class_group");
	CHECK_EQ(r->threshold, 131052, "musl: fixed threshold on the call");
	CHECK_EQ(last_call_os(2)->region_kind, AM_REG_HEAP, "musl guard page: part of the heap");
	CHECK_EQ(last_call_os(3)->region_kind, AM_REG_ARENA, "musl group mapping: arena");

	/* malloc(300000): its own mapping of 300020 bytes */
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)B, 0, 300020, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 300000, 0, 0, B + 0x30);
	r = last_call();
	CHECK_EQ(r->region, AM_REG_MMAP, "musl large: own mapping");
	CHECK_EQ(r->reason, AM_WHY_OVER_THRESHOLD, "musl large: over_threshold");
	CHECK_EQ(last_call_os(0)->region_kind, AM_REG_MMAP, "musl large: mmap record");

	/* malloc(20000): page_up(20020) = 20480 < one 21824-byte slot: single-slot group */
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)M, 0, 20480, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 20000, 0, 0, M + 0x50);
	r = last_call();
	CHECK_EQ(r->region, AM_REG_MMAP, "musl single-slot group: own mapping");
	CHECK_EQ(r->reason, AM_WHY_GROUP, "musl single-slot group: size_class_group");

	/* malloc(1100): a 4096-byte mapping is page_up(1120) too, but 1100 B
	 * slots (1152 B) come several to a group: shared */
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)(M - 0x1000), 0, 4096, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 1100, 0, 0, M - 0x1000 + 0x10);
	CHECK_EQ(last_call()->region, AM_REG_ARENA, "musl 1100 B: a multi-slot group");

	/* aligned_alloc(4096, 5000): mallocng is asked for 9080 B: a 3-slot group */
	id = call_id();
	os(id, AM_FN_ALIGNED_ALLOC, AM_SYS_MMAP, (int64_t)A, 0, 28672, RW, ANON);
	call(id, AM_FN_ALIGNED_ALLOC, 0, 1, 4096, 5000, 0, A + 0x1000);
	CHECK_EQ(last_call()->region, AM_REG_ARENA, "musl aligned_alloc: group");
	/* a second slot of that group, no syscall: arena */
	id = do_malloc(5000, A + 0x3000);
	CHECK_EQ(last_call()->region, AM_REG_ARENA, "musl: later slot of the group");
	CHECK_EQ(last_call()->reason, AM_WHY_GROUP, "musl: later slot reason");

	/* an allocation in the brk heap is not mallocng's doing: no reason */
	do_malloc(64, HEAP0 + 0x1010);
	CHECK_EQ(last_call()->region, AM_REG_HEAP, "musl: heap allocation");
	CHECK_EQ(last_call()->reason, AM_WHY_NONE, "musl: no mallocng reason in the heap");

	/* free of the single-slot group unmaps it */
	id = call_id();
	os(id, AM_FN_FREE, AM_SYS_MUNMAP, 0, M, 20480, 0, 0);
	call(id, AM_FN_FREE, 0, 1, M + 0x50, 0, 0, 0);
	CHECK_EQ(last_call()->region, AM_REG_MMAP, "musl free: region of the freed allocation");
	/* free of the large one: no threshold move (glibc's rule does not run) */
	id = call_id();
	os(id, AM_FN_FREE, AM_SYS_MUNMAP, 0, B, 303104, 0, 0);
	call(id, AM_FN_FREE, 0, 1, B + 0x30, 0, 0, 0);
	s = finish();
	CHECK_EQ(R.n_thr, 0, "musl: the threshold never moves");
	CHECK(s.threshold_known && s.threshold_fixed && !s.threshold_pinned, "musl: fixed threshold");
	CHECK_EQ(s.threshold_start, 131052, "musl threshold start");
	CHECK_EQ(s.threshold_end, 131052, "musl threshold end");
	CHECK_STR(s.allocator, "musl", "summary names the allocator");
	CHECK_EQ(s.heap_bytes, 8192, "musl heap: the meta area");
	CHECK_EQ(R.n_os, 0, "musl: every OS record belongs to a call");
}

/* A glibc trace whose process exec'd a musl image: the tracer says so
 * (am_corr__set_allocator) and musl's rules apply to it from then on;
 * glibc's threshold does not move when it frees a large mapping. */
static void test_exec_into_musl(void)
{
	uint64_t id, B = 0x7ffff7fab000ULL, M = 0x7ffff7ff0000ULL;

	setup();
	CHECK_EQ(am_corr__set_allocator(C, PID, false, true), 0, "set_allocator");
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)M, 0, 20480, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 20000, 0, 0, M + 0x50);
	CHECK(last_call()->reason == AM_WHY_GROUP && last_call()->threshold == 131052,
	      "exec'd musl: its reason and threshold");
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)B, 0, 300020, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 300000, 0, 0, B + 0x30);
	id = call_id();
	os(id, AM_FN_FREE, AM_SYS_MUNMAP, 0, B, 303104, 0, 0);
	call(id, AM_FN_FREE, 0, 1, B + 0x30, 0, 0, 0);
	CHECK_EQ(R.n_thr, 0, "exec'd musl: glibc's threshold does not move");
	/* and back to glibc */
	CHECK_EQ(am_corr__set_allocator(C, PID, true, false), 0, "set_allocator glibc");
	id = call_id();
	os(id, AM_FN_MALLOC, AM_SYS_MMAP, (int64_t)B, 0, 303104, RW, ANON);
	call(id, AM_FN_MALLOC, 0, 1, 300000, 0, 0, B + 0x10);
	CHECK_EQ(last_call()->reason, AM_WHY_OVER_THRESHOLD, "glibc again: over threshold");
	CHECK_EQ(last_call()->threshold, 131072, "glibc again: its threshold");
}

/* Task events are forwarded; exec starts a new image. Several pids. */
static void test_tasks(void)
{
	struct am_task_event t = { .type = AM_EV_TASK, .kind = AM_TASK_EXEC, .pid = PID, .tid = PID };
	struct am_call_event ce = { .type = AM_EV_CALL, .fn = AM_FN_MALLOC, .pid = 200, .tid = 200,
				    .id = 0, .args = { 300 }, .ret = HEAP0 + 0x10, .out = HEAP0 + 0x10 };
	struct am_summary s;

	setup();
	do_malloc(100, HEAP0 + 0x10);
	ce.id = call_id();
	CHECK_EQ(am_corr__event(C, &ce, sizeof(ce)), 0, "other pid malloc");
	CHECK_EQ(am_corr__event(C, &t, sizeof(t)), 0, "exec accepted");
	CHECK_EQ(R.n_task, 1, "task forwarded");
	CHECK_EQ(R.task[0].kind, AM_TASK_EXEC, "exec kind");
	do_free(HEAP0 + 0x10);
	CHECK(last_call()->free_unknown, "after exec the old allocation is gone");
	t.kind = AM_TASK_EXIT;
	t.pid = 200;
	CHECK_EQ(am_corr__event(C, &t, sizeof(t)), 0, "exit accepted");
	s = finish();
	CHECK_EQ(s.live_count, 1, "pid 200's allocation kept after exit");
	CHECK_EQ(s.live_bytes, 300, "pid 200's bytes");
	CHECK_EQ(s.unknown_frees, 1, "unknown free after exec");
}

/* A million events through the hot path: malloc/free pairs with many live. */

/* Events are emitted at returns: thread 2's malloc gets the chunk thread 1's
 * free released and returns first. The late free (it began before that
 * malloc ended) freed the displaced incarnation, not the new allocation. */
static void test_free_race(void)
{
	struct am_summary s;
	uint64_t a, f, b;
	struct am_call_event fe, me;

	setup();
	a = do_malloc(100, 0x1000);           /* the first incarnation, thread PID */
	f = call_id();
	b = call_id();
	/* free(0x1000) on thread 7 enters, malloc(200) on thread 8 returns it */
	fe = (struct am_call_event){ .type = AM_EV_CALL, .fn = AM_FN_FREE, .pid = PID, .tid = 7,
				     .id = f, .ts_enter = now++, .args = { 0x1000 } };
	me = (struct am_call_event){ .type = AM_EV_CALL, .fn = AM_FN_MALLOC, .pid = PID, .tid = 8,
				     .id = b, .ts_enter = now++, .ts_exit = now++, .args = { 200 },
				     .ret = 0x1000, .out = 0x1000 };
	fe.ts_exit = now++;
	CHECK_EQ(am_corr__event(C, &me, sizeof(me)), 0, "malloc accepted");
	CHECK_EQ(am_corr__event(C, &fe, sizeof(fe)), 0, "late free accepted");
	CHECK(!last_call()->free_unknown, "the late free is of a known pointer");
	CHECK_EQ(last_call()->size, 100, "it freed the displaced 100-byte incarnation");
	do_free(0x1000);                      /* the program frees the new one */
	CHECK(!last_call()->free_unknown, "the new incarnation is still live until freed");
	CHECK_EQ(last_call()->size, 200, "and it is 200 bytes");
	s = finish();
	CHECK_EQ(s.unknown_frees, 0, "no unknown frees");
	CHECK_EQ(s.live_count, 0, "nothing live");
	(void)a;
}

/* Calls made from the allocator's own object (glibc's thread-exit cache
 * flush): counted apart, and their unknown frees are not the program's. */
static void test_own_frees(void)
{
	struct am_summary s;
	uint64_t id;

	setup();
	do_malloc(64, 0x2000);
	do_free(0x2000);                      /* the program's free: into the cache */
	id = call_id();
	call(id, AM_FN_FREE, AM_CALL_FROM_OBJ, 0, 0x2000, 0, 0, 0); /* the cache flush */
	CHECK(last_call()->from_obj, "flagged as the allocator's own");
	CHECK(last_call()->free_unknown, "its pointer is not live");
	s = finish();
	CHECK_EQ(s.unknown_frees, 0, "not a program unknown free");
	CHECK_EQ(s.own_unknown_frees, 1, "an allocator-internal one");
	CHECK_EQ(s.own_calls, 1, "one allocator-internal call");
}

/* C++ operators have the roles of the table: new allocates, sized delete
 * frees (its size argument is the caller's claim), aligned new has (size,
 * align); --alloc functions take a role. */
static void test_roles(void)
{
	struct am_summary s;
	uint64_t id;
	char err[128];
	int pool;

	setup();
	id = call_id();
	call(id, AM_FN_NEW, 0, 0, 48, 0, 0, 0x3000);
	CHECK_EQ(last_call()->size, 48, "operator new size");
	CHECK(last_call()->allocates, "operator new allocates");
	id = call_id();
	call(id, AM_FN_NEW_AL, 0, 0, 256, 64, 0, 0x3100);
	CHECK_EQ(last_call()->size, 256, "aligned new size");
	CHECK_EQ(last_call()->align, 64, "aligned new align");
	id = call_id();
	call(id, AM_FN_DELETE_SZ, 0, 0, 0x3000, 48, 0, 0);
	CHECK(!last_call()->free_unknown, "sized delete frees a known pointer");
	CHECK_EQ(last_call()->size, 48, "sized delete size from the live table");
	pool = am_fn_add("my_pool_alloc=malloc", err, sizeof(err));
	CHECK(pool >= AM_FN__COUNT, "--alloc function added");
	CHECK_EQ(am_fn_add("my_pool_alloc=malloc", err, sizeof(err)), -1, "added twice");
	CHECK_EQ(am_fn_add("x=nosuchrole", err, sizeof(err)), -1, "unknown role refused");
	CHECK_EQ(am_fn_add("=malloc", err, sizeof(err)), -1, "empty symbol refused");
	CHECK_EQ(am_fn_add("y@=free", err, sizeof(err)), -1, "empty library refused");
	id = call_id();
	call(id, pool, 0, 0, 1000, 0, 0, 0x4000);
	CHECK_EQ(last_call()->size, 1000, "--alloc malloc-role size");
	s = finish();
	CHECK_EQ(s.fn[AM_FN_NEW].calls, 1, "operator new counted apart from malloc");
	CHECK_EQ(s.fn[pool].calls, 1, "--alloc function counted");
	CHECK_EQ(s.live_count, 2, "aligned new and the pool allocation live");
}

/* -p: an OS request of a thread not yet known clean has an unknown cause,
 * counted apart; --mode os infers the cause from the stack. */
static void test_unknown_causes(void)
{
	struct am_summary s;
	struct am_os_event e = {
		.type = AM_EV_OS, .sys = AM_SYS_MMAP, .pid = PID, .tid = PID, .id = next_os++,
		.ts_enter = now++, .ts_exit = now++, .pad0 = AM_OS_ATTACHING,
		.args = { 0, 65536, RW, ANON, (uint64_t)-1, 0 }, .ret = 0x7f0000000000,
	};

	setup();
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "attaching os event accepted");
	CHECK_EQ(R.n_os, 1, "delivered at once");
	CHECK(R.os[0].cause_unknown, "cause unknown");
	CHECK_EQ(R.os[0].unknown_why, AM_UNK_ATTACHING, "because the probes were attaching");
	s = finish();
	CHECK_EQ(s.sys_unknown[AM_SYS_MMAP], 1, "counted as unknown");
	CHECK_EQ(s.sys_by_cause[AM_SYS_MMAP][AM_FN_MAX], 0, "not as direct");
}

/* --mode os: the outermost allocator-family frame of an OS request's stack
 * is its inferred cause; a whole stack without one is direct. */
static void test_infer_from_stack(void)
{
	struct am_corr_opts o = {
		.sink = { .ctx = &R, .call = s_call, .os = s_os, .threshold = s_thr,
			  .task = s_task, .summary = s_summary },
		.os_only = true, .stack_mode = AM_STACKS_OS,
	};
	struct am_frame fr[4] = {
		{ .addr = 1, .sym = "sysmalloc" }, { .addr = 2, .sym = "__libc_malloc" },
		/* as the unwinder names it: demangled, the ELF symbol kept */
		{ .addr = 3, .sym = "operator new(unsigned long)", .mangled = "_Znwm" },
		{ .addr = 4, .sym = "main" },
	};
	struct am_frame direct[2] = { { .addr = 5, .sym = "mmap64" }, { .addr = 6, .sym = "main" } };
	struct am_os_event e = {
		.type = AM_EV_OS, .sys = AM_SYS_BRK, .pid = PID, .tid = PID,
		.args = { 0 }, .ret = (int64_t)HEAP0,
	};
	struct am_summary s;

	am_corr__free(C);
	memset(&R, 0, sizeof(R));
	C = am_corr__new(&o);
	e.id = 1;
	CHECK_EQ(am_corr__stack(C, AM_STACK_OS, 1, PID, fr, 4, 0, -1), 0, "stack accepted");
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "brk accepted");
	e.id = 2;
	e.sys = AM_SYS_MMAP;
	e.args[1] = 65536;
	e.args[4] = (uint64_t)-1;
	e.ret = 0x7f0000000000;
	CHECK_EQ(am_corr__stack(C, AM_STACK_OS, 2, PID, direct, 2, 0, -1), 0, "stack accepted");
	CHECK_EQ(am_corr__event(C, &e, sizeof(e)), 0, "mmap accepted");
	CHECK_EQ(R.n_os, 2, "both delivered");
	CHECK(!R.os[0].cause_unknown && R.os[0].inferred, "brk: cause inferred");
	CHECK_EQ(R.os[0].cause_fn, AM_FN_NEW, "the outermost allocator frame: operator new");
	CHECK(R.os[1].direct && R.os[1].inferred, "mmap from main: direct, inferred");
	s = finish();
	CHECK_EQ(s.sys_by_cause[AM_SYS_BRK][AM_FN_NEW], 1, "by cause: operator new");
	CHECK_EQ(s.sys_by_cause[AM_SYS_MMAP][AM_FN_MAX], 1, "by cause: direct");
}

static void test_speed(void)
{
	enum { N = 1000000, LIVE = 4096 };
	struct am_call_event e = { .type = AM_EV_CALL, .pid = PID, .tid = PID };
	struct timespec t0, t1;
	struct am_summary s;
	uint64_t seed = 42;
	double secs;

	setup();
	R.count_only = true;
	os(0, 0, AM_SYS_BRK, (int64_t)HEAP0, 0, 0, 0, 0);
	os(0, 0, AM_SYS_BRK, (int64_t)(HEAP0 + 0x10000000), HEAP0 + 0x10000000, 0, 0, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < N / 2; i++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		e.fn = AM_FN_MALLOC;
		e.id = next_call++;
		e.args[0] = 16 + (seed >> 20) % 1024;
		e.ret = e.out = HEAP0 + 0x10 + (i % (LIVE * 4)) * 0x440 + (i / (LIVE * 4) % 4) * 0x8;
		am_corr__event(C, &e, sizeof(e));
		e.fn = AM_FN_FREE;
		e.id = next_call++;
		e.args[0] = i >= LIVE ? HEAP0 + 0x10 + ((i - LIVE) % (LIVE * 4)) * 0x440 +
			((i - LIVE) / (LIVE * 4) % 4) * 0x8 : 0;
		e.ret = e.out = 0;
		am_corr__event(C, &e, sizeof(e));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	s = finish();
	printf("correlate: %d events in %.3f s: %.1f M events/s\n", N, secs, N / secs / 1e6);
	CHECK_EQ(R.n_any, N, "all calls delivered");
	CHECK_EQ(s.live_count, LIVE, "LIVE allocations left");
	CHECK_EQ(s.unknown_frees, 0, "no unknown frees in the loop");
	CHECK(N / secs > 1e6, "faster than 1 M events/s");
}

/* Many live allocations freed in random order: exercises table growth and
 * deletion inside long probe clusters. */
static void test_hash_stress(void)
{
	enum { N = 300000 };
	struct am_call_event e = { .type = AM_EV_CALL, .pid = PID, .tid = PID };
	uint64_t *ptrs = malloc(N * sizeof(*ptrs)), seed = 7;
	struct am_summary s;

	setup();
	R.count_only = true;
	for (size_t i = 0; i < N; i++) /* 16-byte aligned, spread like real heaps */
		ptrs[i] = HEAP0 + 0x10 + i * 0x30 + (i % 7 == 0 ? 0x7f0000000000ULL : 0);
	e.fn = AM_FN_MALLOC;
	for (size_t i = 0; i < N; i++) {
		e.id = next_call++;
		e.args[0] = i;
		e.ret = e.out = ptrs[i];
		am_corr__event(C, &e, sizeof(e));
	}
	for (size_t i = N - 1; i > 0; i--) { /* shuffle */
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		size_t j = (seed >> 33) % (i + 1);
		uint64_t t = ptrs[i];
		ptrs[i] = ptrs[j];
		ptrs[j] = t;
	}
	e.fn = AM_FN_FREE;
	e.ret = e.out = 0;
	for (size_t i = 0; i <= N; i++) { /* every pointer once, then ptrs[0] again */
		e.id = next_call++;
		e.args[0] = ptrs[i % N];
		am_corr__event(C, &e, sizeof(e));
	}
	s = finish();
	CHECK_EQ(s.live_count, 0, "all freed");
	CHECK_EQ(s.live_bytes, 0, "no live bytes");
	CHECK_EQ(s.live_bytes_peak, (uint64_t)N * (N - 1) / 2, "peak = all sizes");
	CHECK_EQ(s.unknown_frees, 1, "every pointer found once, the double free unknown");
	free(ptrs);
}

int main(void)
{
	test_small_malloc_brk();
	test_mmap_chunk_threshold();
	test_one_mib_sequence();
	test_realloc_mremap();
	test_nested_realloc();
	test_split_and_fixed();
	test_thread_arena();
	test_shared_mapping();
	test_odd_cases();
	test_seed_maps();
	test_malformed();
	test_histogram();
	test_pinned();
	test_musl();
	test_exec_into_musl();
	test_tasks();
	test_free_race();
	test_own_frees();
	test_roles();
	test_unknown_causes();
	test_infer_from_stack();
	test_hash_stress();
	test_speed();
	am_corr__free(C);
	return check_report("correlate");
}
