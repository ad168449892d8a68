// SPDX-License-Identifier: GPL-2.0
/* test_memacct.c - unit tests of the accounting model (user/core/memacct.c):
 * overlapping re-protects counted once, partial munmaps, mremap that grows,
 * moves and shrinks (protections travel with the pages), brk growth and
 * shrink, madvise as bytes returned, MAP_FIXED replacement, the peak of the
 * sum heap + mmap, live allocations with a displaced incarnation, exec, and
 * failed syscalls. Every expected number is exact. No root. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "check.h"
#include "memacct.h"

#define KiB 1024ULL
#define MiB (1024ULL * 1024)
#define PG  4096ULL
#define RW  (PROT_READ | PROT_WRITE)

static struct am_acct *A;
static struct am_acct_proc *P;

static void setup(void)
{
	am_acct_free_all(A);
	A = am_acct_new();
	P = am_acct_proc(A, 100);
}

static const struct am_acct_figs *F(void)
{
	return am_acct_figs(A);
}

/* One syscall of process P: by_alloc (inside an allocator call), kind of
 * the new mapping for mmap/mremap. */
static void sys(int s, int64_t ret, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3,
		bool by_alloc, enum am_region_kind kind)
{
	struct am_os_event ev = {
		.type = AM_EV_OS, .sys = (uint8_t)s, .pid = 100, .tid = 100,
		.args = { a0, a1, a2, a3 }, .ret = ret,
	};

	am_acct_os(A, P, &ev, by_alloc, kind);
}

static void mmap_(uint64_t at, uint64_t len, uint64_t prot, bool by_alloc, enum am_region_kind kind)
{
	sys(AM_SYS_MMAP, (int64_t)at, 0, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, by_alloc, kind);
}

static void munmap_(uint64_t at, uint64_t len, bool by_alloc)
{
	sys(AM_SYS_MUNMAP, 0, at, len, 0, 0, by_alloc, AM_REG_UNKNOWN);
}

static void mprotect_(uint64_t at, uint64_t len, uint64_t prot)
{
	sys(AM_SYS_MPROTECT, 0, at, len, prot, 0, true, AM_REG_UNKNOWN);
}

static void mremap_(uint64_t old, uint64_t old_len, uint64_t new_len, uint64_t flags, uint64_t to,
		    enum am_region_kind kind)
{
	sys(AM_SYS_MREMAP, (int64_t)to, old, old_len, new_len, flags, true, kind);
}

/* mimalloc commits 64 KiB of a PROT_NONE segment, then 1 MiB from the
 * same address: 1 MiB, not 1088 KiB. */
static void test_overlapping_mprotect(void)
{
	uint64_t S = 0x20000000000ULL;

	setup();
	mmap_(S, 32 * MiB, PROT_NONE, true, AM_REG_ARENA);
	CHECK_EQ(F()->mmap, 0, "a PROT_NONE reservation holds no bytes");
	mprotect_(S, 64 * KiB, RW);
	CHECK_EQ(F()->mmap, 64 * KiB, "64 KiB committed");
	mprotect_(S, 1 * MiB, RW);
	CHECK_EQ(F()->mmap, 1 * MiB, "re-protect from the same start: the union, 1 MiB");
	mprotect_(S, 1 * MiB, RW);
	CHECK_EQ(F()->mmap, 1 * MiB, "the same range again: still 1 MiB");
	mprotect_(S + 1 * MiB, 1 * MiB, RW);
	CHECK_EQ(F()->mmap, 2 * MiB, "the next MiB");
	mprotect_(S + 512 * KiB, 1 * MiB, PROT_NONE);
	CHECK_EQ(F()->mmap, 1 * MiB, "a decommit in the middle");
	CHECK_EQ(am_acct_accessible(P, S, S + 32 * MiB), 1 * MiB, "accessible bytes of the segment");
	CHECK_EQ(am_acct_accessible(P, S + 256 * KiB, S + 768 * KiB), 256 * KiB, "accessible bytes of a window");
	{   /* the same as ranges: [S, S + 512K) and [S + 1.5M, S + 2M), split pieces merged */
		uint64_t r[3][2] = { { 0 } };

		mprotect_(S + 1792 * KiB, 256 * KiB, RW);   /* splits a segment: still one range */
		CHECK_EQ(am_acct_accessible_ranges(P, S, S + 32 * MiB, r, 3), 2, "two accessible ranges");
		CHECK_EQ(r[0][0], S, "first from");
		CHECK_EQ(r[0][1], S + 512 * KiB, "first to");
		CHECK_EQ(r[1][0], S + 1536 * KiB, "second from");
		CHECK_EQ(r[1][1], S + 2 * MiB, "second to");
		CHECK_EQ(am_acct_accessible_ranges(P, S + 256 * KiB, S + 1600 * KiB, r, 1), 2, "a window: both counted");
		CHECK_EQ(r[0][0], S + 256 * KiB, "clipped to the window");
		CHECK_EQ(r[1][1], S + 2 * MiB, "past max: not written");
		CHECK_EQ(am_acct_accessible_ranges(P, S + 1 * MiB, S, r, 3), 0, "an empty window");
	}
	mprotect_(S, 1, PROT_READ);   /* a length under a page is a page */
	CHECK_EQ(F()->mmap, 1 * MiB, "read-only pages stay accessible");
	mprotect_(S + 30 * MiB, 8 * MiB, RW); /* past the mapping: only its pages change */
	CHECK_EQ(F()->mmap, 3 * MiB, "mprotect past the end counts the mapped part");
	CHECK_EQ(F()->mmap_peak, 3 * MiB, "peak");
	CHECK_EQ(F()->committed, 3 * MiB, "committed = heap + mmap");
	/* mprotect of memory not in the map (a file, the stack) changes nothing */
	mprotect_(0x7f0000000000ULL, 4 * PG, RW);
	CHECK_EQ(F()->mmap + F()->direct, 3 * MiB, "unmapped range ignored");
	/* munmap of the whole segment: what was accessible is returned */
	munmap_(S, 32 * MiB, true);
	CHECK_EQ(F()->mmap, 0, "segment unmapped");
	CHECK_EQ(F()->returned_munmap, 3 * MiB, "returned: its accessible bytes only");
}

/* munmap of part of a mapping, of a hole, across mappings; by the program. */
static void test_partial_munmap(void)
{
	uint64_t M = 0x7f1000000000ULL, D = 0x7f2000000000ULL;

	setup();
	mmap_(M, 4 * PG, RW, true, AM_REG_MMAP);
	mmap_(M + 4 * PG, 2 * PG, PROT_NONE, true, AM_REG_ARENA);
	CHECK_EQ(F()->mmap, 4 * PG, "4 accessible pages");
	munmap_(M + PG, PG, true);
	CHECK_EQ(F()->mmap, 3 * PG, "middle page gone");
	CHECK_EQ(F()->returned_munmap, PG, "one page returned");
	munmap_(M + PG, PG, true);
	CHECK_EQ(F()->returned_munmap, PG, "the hole again: nothing more");
	munmap_(M, 6 * PG - 100, true); /* rounded up: the whole 6 pages */
	CHECK_EQ(F()->mmap, 0, "everything unmapped");
	CHECK_EQ(F()->returned_munmap, 4 * PG, "3 more accessible pages, not the PROT_NONE ones");
	CHECK_EQ(F()->mmap_peak, 4 * PG, "peak");
	/* the program's own mapping: direct bytes, its munmap is not returned memory */
	mmap_(D, 3 * PG, RW, false, AM_REG_DIRECT);
	CHECK_EQ(F()->direct, 3 * PG, "direct bytes");
	CHECK_EQ(F()->mmap, 0, "not the allocator's");
	munmap_(D, PG, false);
	CHECK_EQ(F()->direct, 2 * PG, "direct bytes after a partial munmap");
	CHECK_EQ(F()->returned_munmap, 4 * PG, "a direct munmap returns nothing");
	/* MAP_FIXED by the allocator over the program's mapping replaces it */
	mmap_(D + PG, PG, RW, true, AM_REG_MMAP);
	CHECK_EQ(F()->direct, PG, "replaced page is no longer direct");
	CHECK_EQ(F()->mmap, PG, "it is the allocator's");
	CHECK_EQ(F()->returned_munmap, 4 * PG, "a replacement returns nothing");
	/* a failed munmap or mmap changes nothing */
	sys(AM_SYS_MUNMAP, -EINVAL, D, 2 * PG, 0, 0, true, AM_REG_UNKNOWN);
	sys(AM_SYS_MMAP, -ENOMEM, 0, 64 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS, true, AM_REG_MMAP);
	CHECK_EQ(F()->mmap + F()->direct, 2 * PG, "failed syscalls ignored");
	CHECK_EQ(F()->returned_munmap, 4 * PG, "failed munmap returns nothing");
	/* a range past the end of the address space (a malformed record) is ignored */
	mmap_(UINT64_MAX - PG + 1, 2 * PG, RW, true, AM_REG_MMAP);
	munmap_(UINT64_MAX - PG + 1, 2 * PG, true);
	CHECK_EQ(F()->mmap + F()->direct, 2 * PG, "wrapping ranges ignored");
	CHECK_EQ(am_acct_accessible(P, D + 2 * PG, D), 0, "an empty window holds nothing");
	/* mallocng's guard page inside the brk heap is no mapping of its own */
	mmap_(D + 8 * PG, PG, PROT_NONE, true, AM_REG_HEAP);
	CHECK_EQ(am_acct_accessible(P, D + 8 * PG, D + 9 * PG), 0, "heap guard page not in the map");
}

/* mremap: grow in place, move, shrink; protections travel with the pages. */
static void test_mremap(void)
{
	uint64_t M = 0x7f3000000000ULL, N = 0x7f4000000000ULL, R = 0x7f5000000000ULL;

	setup();
	mmap_(M, 2 * PG, RW, true, AM_REG_MMAP);
	mremap_(M, 2 * PG, 20000, 0, M, AM_REG_MMAP);
	CHECK_EQ(F()->mmap, 5 * PG, "grown in place, page-rounded");
	mremap_(M, 5 * PG, 10 * PG, MREMAP_MAYMOVE, N, AM_REG_MMAP);
	CHECK_EQ(F()->mmap, 10 * PG, "moved and grown");
	CHECK_EQ(am_acct_accessible(P, M, M + 5 * PG), 0, "old place empty");
	CHECK_EQ(am_acct_accessible(P, N, N + 10 * PG), 10 * PG, "new place full");
	mremap_(N, 10 * PG, PG, 0, N, AM_REG_MMAP);
	CHECK_EQ(F()->mmap, PG, "shrunk");
	CHECK_EQ(F()->mmap_peak, 10 * PG, "peak: the grown mapping, no double count while moving");
	CHECK_EQ(F()->returned_munmap, 0, "mremap returns nothing");

	/* a reservation with its first page committed, moved and grown: the
	 * growth is PROT_NONE like the old range's last page */
	setup();
	mmap_(R, 4 * PG, PROT_NONE, true, AM_REG_ARENA);
	mprotect_(R, PG, RW);
	mremap_(R, 4 * PG, 8 * PG, MREMAP_MAYMOVE, N, AM_REG_UNKNOWN);
	CHECK_EQ(F()->mmap, PG, "one accessible page moved, growth inaccessible");
	CHECK_EQ(am_acct_accessible(P, N, N + PG), PG, "it is the first page");
	/* the last page accessible: growth accessible */
	mprotect_(N + 7 * PG, PG, RW);
	mremap_(N, 8 * PG, 10 * PG, 0, N, AM_REG_UNKNOWN);
	CHECK_EQ(F()->mmap, 4 * PG, "1 + 1 + 2 grown pages");
	/* MREMAP_DONTUNMAP: the old range stays mapped */
	mmap_(M, 2 * PG, RW, true, AM_REG_MMAP);
	mremap_(M, 2 * PG, 2 * PG, MREMAP_MAYMOVE | 4 /* MREMAP_DONTUNMAP */, R, AM_REG_UNKNOWN);
	CHECK_EQ(F()->mmap, 8 * PG, "old and new both counted");
	/* a mapping from before the trace, realloc'd by the allocator: its own now */
	am_acct_seed(A, P, 0x7f6000000000ULL, 0x7f6000000000ULL + 4 * PG, AM_REG_PREEXISTING, true);
	CHECK_EQ(F()->mmap, 8 * PG, "preexisting mappings count nowhere");
	mremap_(0x7f6000000000ULL, 4 * PG, 6 * PG, MREMAP_MAYMOVE, 0x7f7000000000ULL, AM_REG_UNKNOWN);
	CHECK_EQ(F()->mmap, 14 * PG, "mremap by the allocator made it an mmapped chunk");
	/* mremap of a range not in the map: all of it, as the record's kind */
	mremap_(0x7f8000000000ULL, PG, 3 * PG, MREMAP_MAYMOVE, 0x7f9000000000ULL, AM_REG_DIRECT);
	CHECK_EQ(F()->direct, 3 * PG, "unknown range: accessible, of the given kind");
}

/* brk: the heap is end - start; a lower break is bytes returned. */
static void test_brk(void)
{
	uint64_t H = 0x555555559000ULL;

	setup();
	sys(AM_SYS_BRK, (int64_t)H, 0, 0, 0, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->heap, 0, "brk(0): the heap starts, empty");
	sys(AM_SYS_BRK, (int64_t)(H + 0x21000), H + 0x21000, 0, 0, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->heap, 0x21000, "grown");
	sys(AM_SYS_BRK, (int64_t)(H + 0x40000), H + 0x40000, 0, 0, 0, true, AM_REG_UNKNOWN);
	sys(AM_SYS_BRK, (int64_t)(H + 0x40000), H + 0x1000000, 0, 0, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->heap, 0x40000, "a refused brk returns the old break: nothing moves");
	sys(AM_SYS_BRK, (int64_t)(H + 0x10000), H + 0x10000, 0, 0, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->heap, 0x10000, "shrunk");
	CHECK_EQ(F()->heap_peak, 0x40000, "heap peak");
	CHECK_EQ(F()->returned_brk, 0x30000, "shrink returned");
	/* committed: the peak of heap + mmap, not the sum of the peaks */
	mmap_(0x7f0000000000ULL, 0x20000, RW, true, AM_REG_MMAP);
	CHECK_EQ(F()->committed, 0x30000, "committed now");
	CHECK_EQ(F()->committed_peak, 0x40000, "peak of the sum: the heap's, earlier");
	CHECK(F()->committed_peak < F()->heap_peak + F()->mmap_peak, "not a sum of peaks");
	/* a seeded heap (-p): its size counts from the start */
	setup();
	am_acct_seed(A, P, H, H + 0x21000, AM_REG_HEAP, true);
	CHECK_EQ(F()->heap, 0x21000, "seeded heap");
	sys(AM_SYS_BRK, (int64_t)(H + 0x42000), H + 0x42000, 0, 0, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->heap, 0x42000, "seeded heap grown");
}

/* madvise: the mapping stays; DONTNEED/FREE/REMOVE inside a call are bytes
 * returned, each time. */
static void test_madvise(void)
{
	uint64_t M = 0x7f1000000000ULL;

	setup();
	mmap_(M, 16 * PG, RW, true, AM_REG_ARENA);
	sys(AM_SYS_MADVISE, 0, M, 4 * PG, MADV_DONTNEED, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->returned_madvise, 4 * PG, "DONTNEED returned");
	CHECK_EQ(F()->mmap, 16 * PG, "the mapping stays");
	sys(AM_SYS_MADVISE, 0, M, 100, 8 /* MADV_FREE */, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->returned_madvise, 5 * PG, "FREE, page-rounded");
	sys(AM_SYS_MADVISE, 0, M, 4 * PG, MADV_WILLNEED, 0, true, AM_REG_UNKNOWN);
	sys(AM_SYS_MADVISE, 0, M, 4 * PG, MADV_DONTNEED, 0, false, AM_REG_UNKNOWN);
	sys(AM_SYS_MADVISE, -EINVAL, M, 4 * PG, MADV_DONTNEED, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->returned_madvise, 5 * PG, "WILLNEED, direct and failed ones return nothing");
}

/* Live allocations: free, a pointer reused before its free's event came
 * (displaced), unknown frees, the realloc rule. */
static void test_live(void)
{
	struct am_acct_live fe, *e;

	setup();
	e = am_acct_alloc(A, P, 0x1000, 100, 10);
	CHECK(e && e->ptr == 0x1000 && e->size == 100 && !e->has_prev, "allocated");
	e->call_id = 1;
	e->region = AM_REG_HEAP;
	CHECK_EQ(F()->live, 100, "live");
	/* another thread's malloc got the chunk and returned before the free's event */
	e = am_acct_alloc(A, P, 0x1000, 200, 20);
	CHECK(e && e->has_prev && e->prev_size == 100 && e->prev_region == AM_REG_HEAP, "displaced");
	CHECK_EQ(F()->live, 200, "the old incarnation is off");
	CHECK_EQ(F()->live_count, 1, "one live allocation");
	CHECK_EQ(am_acct_free(A, P, 0x1000, 15, &fe), AM_ACCT_DISPLACED, "a free begun before: the old one");
	CHECK_EQ(fe.size, 100, "its size");
	CHECK_EQ(F()->live, 200, "live unchanged");
	CHECK_EQ(am_acct_free(A, P, 0x1000, 16, &fe), AM_ACCT_UNKNOWN, "no second old incarnation");
	CHECK_EQ(am_acct_free(A, P, 0x1000, 30, &fe), AM_ACCT_FREED, "the free of the new one");
	CHECK_EQ(fe.size, 200, "freed size");
	CHECK_EQ(F()->live, 0, "nothing live");
	CHECK_EQ(F()->live_count, 0, "no live allocation");
	CHECK_EQ(F()->live_peak, 200, "peak");
	CHECK_EQ(am_acct_free(A, P, 0x2000, 40, &fe), AM_ACCT_UNKNOWN, "unknown pointer");
	CHECK(am_acct_find(P, 0x1000) == NULL, "gone");
	/* which calls free their input */
	CHECK(am_acct_call_frees(AM_ROLE_FREE, 0x10, false, 0, 0), "free frees");
	CHECK(!am_acct_call_frees(AM_ROLE_FREE, 0, false, 0, 0), "free(NULL) does not");
	CHECK(am_acct_call_frees(AM_ROLE_REALLOC, 0x10, true, 0x20, 50), "realloc that returned");
	CHECK(am_acct_call_frees(AM_ROLE_REALLOC, 0x10, true, 0, 0), "realloc(p, 0)");
	CHECK(!am_acct_call_frees(AM_ROLE_REALLOC, 0x10, true, 0, 50), "failed realloc keeps p");
	CHECK(!am_acct_call_frees(AM_ROLE_REALLOC, 0x10, false, 0, 50), "missed realloc: unknown, kept");
	CHECK(!am_acct_call_frees(AM_ROLE_MALLOC, 0x10, true, 0x10, 50), "malloc frees nothing");
	/* many allocations: the table grows and the walk sees them all */
	uint64_t sum = 0, n = 0;
	for (uint64_t i = 1; i <= 5000; i++)
		am_acct_alloc(A, P, i * 16, i, 100 + i);
	for (uint64_t i = 1; i <= 5000; i += 2)
		am_acct_free(A, P, i * 16, 100000, &fe);
	size_t it = 0;
	const struct am_acct_live *w;
	while ((w = am_acct_next(P, &it))) {
		sum += w->size;
		n++;
	}
	CHECK_EQ(n, 2500, "walk: even ones left");
	CHECK_EQ(sum, 2500ULL * 2501, "walk: their sizes (2 + 4 + ... + 5000)");
	CHECK_EQ(F()->live, sum, "live = the walk's sum");
	CHECK_EQ(F()->live_peak, 5000ULL * 5001 / 2, "peak: all of them");
}

/* exec drops the process's image; other processes and the peaks stay. */
static void test_exec(void)
{
	struct am_acct_proc *q;

	setup();
	q = am_acct_proc(A, 200);
	CHECK(q && q != P && am_acct_pid(q) == 200, "second process");
	sys(AM_SYS_BRK, 0x1000000, 0, 0, 0, 0, true, AM_REG_UNKNOWN);
	sys(AM_SYS_BRK, 0x1021000, 0x1021000, 0, 0, 0, true, AM_REG_UNKNOWN);
	mmap_(0x7f0000000000ULL, 8 * PG, RW, true, AM_REG_MMAP);
	mmap_(0x7f1000000000ULL, 2 * PG, RW, false, AM_REG_DIRECT);
	am_acct_alloc(A, P, 0x1000010, 1000, 1);
	am_acct_alloc(A, q, 0x2000010, 300, 2);
	CHECK_EQ(F()->live, 1300, "both processes' bytes");
	am_acct_exec(A, P);
	CHECK_EQ(F()->live, 300, "pid 200's bytes");
	CHECK_EQ(F()->live_count, 1, "pid 200's allocation");
	CHECK_EQ(F()->heap, 0, "heap gone");
	CHECK_EQ(F()->mmap, 0, "mappings gone");
	CHECK_EQ(F()->direct, 0, "direct mappings gone");
	CHECK_EQ(F()->committed_peak, 0x21000 + 8 * PG, "peaks stay");
	CHECK_EQ(F()->live_peak, 1300, "live peak stays");
	CHECK(am_acct_find(P, 0x1000010) == NULL, "allocation gone");
	/* the new image starts afresh: its first brk sets the heap's start */
	sys(AM_SYS_BRK, 0x3000000, 0, 0, 0, 0, true, AM_REG_UNKNOWN);
	sys(AM_SYS_BRK, 0x3001000, 0x3001000, 0, 0, 0, true, AM_REG_UNKNOWN);
	CHECK_EQ(F()->heap, 0x1000, "new heap");
	CHECK(!am_acct_oom(A), "no allocation failed");
}

int main(void)
{
	test_overlapping_mprotect();
	test_partial_munmap();
	test_mremap();
	test_brk();
	test_madvise();
	test_live();
	test_exec();
	am_acct_free_all(A);
	am_acct_free_all(NULL);
	return check_report("memacct");
}
