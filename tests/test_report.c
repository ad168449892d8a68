/* test_report.c - unit tests of the report model (report_model.c): heap,
 * mmapped and live accounting from synthetic records, regions and what
 * created them, adaptive timeline buckets, the live hash under churn, the
 * reservoir sample's bound and the threshold grid's size rows. No root. */
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
	CHECK_EQ(rm_fn_index("pvalloc"), 9, "fn index");
	CHECK_EQ(rm_sys_index("madvise"), RM_SYS_MADVISE, "sys index");
	rm_free(m);
	free(m);
	return check_report("report_unit");
}
